//! IEEE 754 arithmetic under MXCSR (SDM Vol. 1 4.8, 4.9, 10.2.3, 11.5).
//!
//! Results are computed with the host's f32/f64 operations, which round
//! to nearest-even; the other rounding modes are obtained by stepping one
//! ulp (`next_up`/`next_down`) according to the sign of the rounding
//! error, which [`super::exact`] computes exactly by integer arithmetic on
//! the significands. The same exact comparisons decide overflow in the
//! directed modes and underflow (tininess after rounding with an unbounded
//! exponent, SDM 11.5.2.5). Flags: invalid (SNaN operands, the QNaN cases
//! of signalling compares, MIN/MAX and COMIS), denormal operand,
//! divide-by-zero, overflow, underflow and precision. As on hardware, an
//! element with a NaN operand, an invalid operation or a division by zero
//! does not also report a denormal operand. DAZ treats denormal inputs as
//! zero (no DE); FTZ flushes tiny results to zero when underflow is
//! masked, setting UE and PE. NaN results follow SDM Table 4-7 (the first
//! source's NaN, quieted; the default NaN for invalid operations). All of
//! this is checked bit for bit against the host CPU by the differential
//! tests in `tests/interp_sse.rs`.
//!
//! Fast path: in round-to-nearest with PE already set and masked (the
//! steady state of ordinary code), a normal result other than ±MIN needs
//! no error analysis at all.
//!
//! Known approximation: when an unmasked exception occurs, the flags of
//! every element are accumulated and the destination is left unchanged;
//! the SDM's finer split (pre-computation exceptions suppressing the
//! post-computation ones) is not modelled.

use std::cmp::Ordering;
use std::ops::{Add, Div, Mul, Neg, Sub};

use super::exact::{Ex, Num};
pub use super::fpcvt::*;
use super::{Ctx, Exec, Lane};
use crate::interp::events::vec;
use crate::state::cr4;

/// MXCSR bits.
pub mod mx {
    pub const IE: u32 = 1 << 0;
    pub const DE: u32 = 1 << 1;
    pub const ZE: u32 = 1 << 2;
    pub const OE: u32 = 1 << 3;
    pub const UE: u32 = 1 << 4;
    pub const PE: u32 = 1 << 5;
    pub const DAZ: u32 = 1 << 6;
    pub const UM: u32 = 1 << 11;
    pub const PM: u32 = 1 << 12;
    pub const RC_SHIFT: u32 = 13;
    pub const FTZ: u32 = 1 << 15;
}

/// Rounding-control values.
pub const RN: u32 = 0;
pub const RD: u32 = 1;
pub const RU: u32 = 2;
pub const RZ: u32 = 3;

/// The MXCSR a kernel runs under and the exception flags it raised.
#[derive(Clone, Copy, Debug)]
pub struct Fx {
    pub mxcsr: u32,
    pub flags: u32,
}

impl Fx {
    #[inline(always)]
    pub const fn new(mxcsr: u32) -> Self {
        Fx { mxcsr, flags: 0 }
    }

    #[inline(always)]
    pub fn rc(&self) -> u32 {
        (self.mxcsr >> mx::RC_SHIFT) & 3
    }

    /// Round to nearest with PE already set and masked: normal results
    /// need no error analysis.
    #[inline(always)]
    pub fn fast(&self) -> bool {
        self.mxcsr & 0x7020 == 0x1020
    }

    /// Adds the flags to MXCSR; an unmasked one raises #XM (CR4.OSXMMEXCPT
    /// = 1) or #UD and the caller leaves the destination alone.
    #[inline(always)]
    pub fn commit(&self, ctx: &mut Ctx) -> Exec {
        if self.flags == 0 {
            return Ok(());
        }
        commit_flags(ctx, self.flags)
    }

    /// A denormal operand: zero under DAZ, else the DE flag.
    #[inline(always)]
    pub fn daz<F: Float>(&mut self, x: F) -> F {
        if x.is_subnormal() {
            if self.mxcsr & mx::DAZ != 0 {
                return F::zero_of(x);
            }
            self.flags |= mx::DE;
        }
        x
    }

    /// DAZ on the operands of a multi-operand operation: DE is signalled
    /// only when no operand is a NaN (as hardware does).
    #[inline(always)]
    pub fn daz_n<F: Float, const N: usize>(&mut self, x: [F; N]) -> [F; N] {
        if x.iter().any(|v| v.is_nan()) {
            return x.map(|v| self.daz_quiet(v));
        }
        x.map(|v| self.daz(v))
    }

    /// DAZ without the DE flag (conversions to integer, rounding).
    #[inline(always)]
    pub fn daz_quiet<F: Float>(&self, x: F) -> F {
        if x.is_subnormal() && self.mxcsr & mx::DAZ != 0 {
            F::zero_of(x)
        } else {
            x
        }
    }

    /// Result of an operation with a NaN operand: the first NaN, quieted;
    /// IE for a signalling NaN.
    #[inline(always)]
    pub fn nan2<F: Float>(&mut self, a: F, b: F) -> F {
        if a.is_snan() || b.is_snan() {
            self.flags |= mx::IE;
        }
        if a.is_nan() { a.quiet() } else { b.quiet() }
    }

    /// The default NaN for an invalid operation.
    #[inline(always)]
    pub fn invalid<F: Float>(&mut self) -> F {
        self.flags |= mx::IE;
        F::INDEFINITE
    }

    /// Final rounding: `r` is the round-to-nearest result of finite
    /// operands whose exact result is `ex`. Applies the rounding mode,
    /// then the overflow, underflow (tininess after rounding with an
    /// unbounded exponent), FTZ and precision rules.
    pub fn round<F: Float>(&mut self, r: F, ex: Ex) -> F {
        let rc = self.rc();
        let mut r = r;
        // Sign of (exact − r): an infinite nearest result means overflow,
        // the exact value lies below it in magnitude.
        let mut err = if r.is_infinite() {
            if r.is_sign_negative() {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        } else {
            ex.vs(Num::of(r.to_f64()))
        };
        let inexact = err != Ordering::Equal;
        if inexact {
            let toward_zero = (err == Ordering::Less) != r.is_sign_negative();
            let step_up = match rc {
                RD => (err == Ordering::Less).then_some(false),
                RU => (err == Ordering::Greater).then_some(true),
                RZ if toward_zero && r != F::ZERO => Some(r.is_sign_negative()),
                _ => None,
            };
            if let Some(up) = step_up {
                r = if up { r.next_up() } else { r.next_down() };
                err = if up {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            self.flags |= mx::PE;
        }
        // Overflow: the result rounded with an unbounded exponent exceeds
        // MAX. An infinite result says so; MAX itself (rounded towards
        // zero) does when the exact value reaches 2^(emax+1).
        if r.is_infinite()
            || (inexact
                && r.abs() == F::MAX
                && (ex.vs(F::overflow_bound(false)) != Ordering::Less
                    || ex.vs(F::overflow_bound(true)) != Ordering::Greater))
        {
            self.flags |= mx::OE | mx::PE;
            return r;
        }
        let _ = err;
        let tiny = if r == F::ZERO {
            inexact
        } else if r.is_subnormal() {
            true
        } else if r.abs() == F::MIN_POSITIVE {
            // Would the exact value round below MIN_POSITIVE at full
            // precision? Thresholds: MIN − h/2 (nearest), MIN − h (up),
            // MIN (down or towards zero), h the spacing below MIN.
            let neg = r.is_sign_negative();
            let away = match rc {
                RU => !neg,
                RD => neg,
                _ => false,
            };
            let (thr, strict) = if rc == RN {
                (F::below_min(1), false)
            } else if away {
                (F::below_min(0), true)
            } else {
                (Num::of(F::MIN_POSITIVE.to_f64()), false)
            };
            let thr = Num { neg, ..thr };
            let o = ex.vs(thr);
            let o = if neg { o.reverse() } else { o };
            // Not tiny when |exact| ≥ threshold (> for the strict case).
            !(o == Ordering::Greater || (!strict && o == Ordering::Equal))
        } else {
            false
        };
        if tiny {
            if self.mxcsr & mx::UM != 0 {
                if self.mxcsr & mx::FTZ != 0 {
                    self.flags |= mx::UE | mx::PE;
                    return F::zero_of(r);
                }
                if inexact {
                    self.flags |= mx::UE;
                }
            } else {
                self.flags |= mx::UE;
            }
        }
        r
    }

    /// Post-processing of a result computed from finite operands (the
    /// exact result `ex` is only examined when it matters). Normal results
    /// away from MIN and MAX get their error sign from cheap error-free
    /// transformations when possible; the rest go through [`Fx::round`].
    #[inline(always)]
    pub fn finish<F: Float>(&mut self, r: F, ex: impl FnOnce() -> Ex) -> F {
        let a = r.abs();
        if r.is_normal() && a != F::MIN_POSITIVE && a != F::MAX {
            if self.fast() {
                return r;
            }
            let ex = ex();
            return match ex.quick(r.to_f64(), F::SINGLE) {
                Some(err) => self.step(r, err),
                None => self.round(r, ex),
            };
        }
        self.round(r, ex())
    }

    /// Directed rounding of a normal result away from MIN and MAX (no
    /// overflow or underflow possible): one ulp step per the error sign.
    fn step<F: Float>(&mut self, r: F, err: Ordering) -> F {
        if err == Ordering::Equal {
            return r;
        }
        self.flags |= mx::PE;
        let neg = r.is_sign_negative();
        match (self.rc(), err) {
            (RD, Ordering::Less) => r.next_down(),
            (RU, Ordering::Greater) => r.next_up(),
            (RZ, Ordering::Less) if !neg => r.next_down(),
            (RZ, Ordering::Greater) if neg => r.next_up(),
            _ => r,
        }
    }
}

#[inline(never)]
fn commit_flags(ctx: &mut Ctx, flags: u32) -> Exec {
    let m = &mut ctx.cpu.s.fpu.mxcsr;
    *m |= flags;
    let unmasked = flags & !(*m >> 7) & 0x3F;
    if unmasked != 0 {
        return Err(if ctx.cpu.cr4(cr4::OSXMMEXCPT) {
            ctx.cpu.raise(vec::XM, None)
        } else {
            ctx.cpu.ud()
        });
    }
    Ok(())
}

/// f32 and f64 as the SIMD unit sees them.
pub trait Float:
    Lane
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const INDEFINITE: Self;
    const MAX: Self;
    /// Largest integer-valued magnitude 2^(p-1) above which every value is
    /// an integer.
    const INT_LIMIT: f64;
    fn raw(self) -> u64;
    fn from_raw(b: u64) -> Self;
    fn is_nan(self) -> bool;
    fn is_snan(self) -> bool;
    fn quiet(self) -> Self;
    fn is_infinite(self) -> bool;
    fn is_finite(self) -> bool;
    fn is_subnormal(self) -> bool;
    fn is_normal(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn next_up(self) -> Self;
    fn next_down(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn to_f64(self) -> f64;
    /// Round-to-nearest conversion from f64.
    fn from_f64(x: f64) -> Self;
    /// ±0 with the sign of `x`.
    fn zero_of(x: Self) -> Self;
    /// x·y + z rounded to nearest.
    fn fused(x: Self, y: Self, z: Self) -> Self;
    /// Binary32.
    const SINGLE: bool;
    const MIN_POSITIVE: Self;
    /// ±2^(emax+1).
    fn overflow_bound(neg: bool) -> Num;
    /// MIN_POSITIVE − h/2 (k = 1) or − h (k = 0), h the spacing of the
    /// binade below MIN_POSITIVE.
    fn below_min(k: u32) -> Num;
}

macro_rules! float_impl {
    ($t:ty, $u:ty, $qbit:expr, $indef:expr, $limit:expr, $fused:ident) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const INDEFINITE: Self = <$t>::from_bits($indef);
            const MAX: Self = <$t>::MAX;
            const INT_LIMIT: f64 = $limit;
            #[inline(always)]
            fn raw(self) -> u64 {
                self.to_bits() as u64
            }
            #[inline(always)]
            fn from_raw(b: u64) -> Self {
                <$t>::from_bits(b as $u)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                self.is_nan()
            }
            #[inline(always)]
            fn is_snan(self) -> bool {
                self.is_nan() && self.to_bits() & $qbit == 0
            }
            #[inline(always)]
            fn quiet(self) -> Self {
                <$t>::from_bits(self.to_bits() | $qbit)
            }
            #[inline(always)]
            fn is_infinite(self) -> bool {
                self.is_infinite()
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                self.is_finite()
            }
            #[inline(always)]
            fn is_subnormal(self) -> bool {
                self.is_subnormal()
            }
            #[inline(always)]
            fn is_normal(self) -> bool {
                self.is_normal()
            }
            #[inline(always)]
            fn is_sign_negative(self) -> bool {
                self.is_sign_negative()
            }
            #[inline(always)]
            fn next_up(self) -> Self {
                self.next_up()
            }
            #[inline(always)]
            fn next_down(self) -> Self {
                self.next_down()
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                self.sqrt()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                self.abs()
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn zero_of(x: Self) -> Self {
                if x.is_sign_negative() { -0.0 } else { 0.0 }
            }
            #[inline(always)]
            fn fused(x: Self, y: Self, z: Self) -> Self {
                $fused(x, y, z)
            }
            const MIN_POSITIVE: Self = <$t>::MIN_POSITIVE;
            const SINGLE: bool = std::mem::size_of::<$t>() == 4;
            fn overflow_bound(neg: bool) -> Num {
                Num::pow2(<$t>::MAX_EXP, neg)
            }
            fn below_min(k: u32) -> Num {
                let p = <$t>::MANTISSA_DIGITS + k;
                Num {
                    neg: false,
                    m: (1u128 << p) - 1,
                    e: <$t>::MIN_EXP - 1 - p as i32,
                }
            }
        }
    };
}
float_impl!(f32, u32, 1 << 22, 0xFFC0_0000, 8_388_608.0, fused32);
float_impl!(
    f64,
    u64,
    1 << 51,
    0xFFF8_0000_0000_0000,
    4_503_599_627_370_496.0,
    fused64
);

/// TwoSum: s = a + b rounded, and the exact error t (a + b = s + t).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let aa = s - bb;
    (s, (a - aa) + (b - bb))
}

/// Correctly rounded binary32 fused multiply-add: the product is exact in
/// binary64 and p + z = s + t exactly; t breaks ties of s.
fn fused32(x: f32, y: f32, z: f32) -> f32 {
    let p = f64::from(x) * f64::from(y);
    let (s, t) = two_sum(p, f64::from(z));
    let r = s as f32;
    if r.is_infinite() {
        return r;
    }
    let d = s - f64::from(r);
    if d != 0.0 && t != 0.0 {
        let nb = if d > 0.0 { r.next_up() } else { r.next_down() };
        let mid = (f64::from(r) + f64::from(nb)) / 2.0;
        if s == mid && (d > 0.0) == (t > 0.0) {
            return nb;
        }
    }
    r
}

fn fused64(x: f64, y: f64, z: f64) -> f64 {
    x.mul_add(y, z)
}

// ---- operations ---------------------------------------------------------------

pub const ADD: u8 = 0;
pub const SUB: u8 = 1;
pub const MUL: u8 = 2;
pub const DIV: u8 = 3;
pub const MIN: u8 = 4;
pub const MAX: u8 = 5;

/// a OP b for OP in ADD, SUB, MUL, DIV, MIN, MAX.
#[inline(always)]
pub fn arith<F: Float, const OP: u8>(e: &mut Fx, a: F, b: F) -> F {
    if OP == MIN || OP == MAX {
        let [a, b] = e.daz_n([a, b]);
        return minmax::<F, OP>(e, a, b);
    }
    if a.is_nan() || b.is_nan() {
        return e.nan2(a, b);
    }
    // Invalid and divide-by-zero take precedence over the denormal flag.
    let (a0, b0) = (a, b);
    let (a, b) = (e.daz_quiet(a), e.daz_quiet(b));
    let r = match OP {
        ADD => a + b,
        SUB => a - b,
        MUL => a * b,
        _ => a / b,
    };
    if r.is_nan() {
        return e.invalid();
    }
    if OP == DIV && b == F::ZERO {
        // Finite ÷ 0 (∞ ÷ 0 is an exact ∞).
        if a.is_finite() {
            e.flags |= mx::ZE;
        }
        return r;
    }
    if a0.is_subnormal() || b0.is_subnormal() {
        let _ = e.daz_n([a0, b0]);
    }
    finish_arith::<F, OP>(e, a, b, r)
}

#[inline(always)]
fn minmax<F: Float, const OP: u8>(e: &mut Fx, a: F, b: F) -> F {
    match OP {
        MIN | MAX => {
            // (SDM MINPS/MAXPS) a NaN or equal operands return the second
            // source; any NaN is invalid.
            if a.is_nan() || b.is_nan() {
                e.flags |= mx::IE;
                return b;
            }
            let take_a = if OP == MIN { a < b } else { a > b };
            if take_a { a } else { b }
        }
        _ => b,
    }
}

#[inline(always)]
fn finish_arith<F: Float, const OP: u8>(e: &mut Fx, a: F, b: F, r: F) -> F {
    // Exact zero products and quotients.
    if (OP == MUL && (a == F::ZERO || b == F::ZERO)) || (OP == DIV && a == F::ZERO) {
        return r;
    }
    if a.is_infinite() || b.is_infinite() {
        return r;
    }
    if (OP == ADD || OP == SUB) && r == F::ZERO {
        // Exact cancellation: +0, or −0 when rounding down (or both
        // operands are −0, which the host already gives).
        let b2 = if OP == SUB { -b } else { b };
        if a == F::ZERO && b2 == F::ZERO && a.is_sign_negative() == b2.is_sign_negative() {
            return a;
        }
        if e.rc() == RD {
            return -F::ZERO;
        }
        return F::ZERO;
    }
    e.finish(r, || {
        let (x, y) = (a.to_f64(), b.to_f64());
        match OP {
            ADD => Ex::Sum(x, y),
            SUB => Ex::Sum(x, -y),
            MUL => Ex::Prod(x, y),
            _ => Ex::Quot(x, y),
        }
    })
}

#[inline(always)]
pub fn sqrt<F: Float>(e: &mut Fx, a: F) -> F {
    // A negative denormal is invalid before it is denormal.
    let a = if a.is_sign_negative() && a.is_subnormal() {
        e.daz_quiet(a)
    } else {
        e.daz(a)
    };
    if a.is_nan() {
        return e.nan2(a, a);
    }
    if a == F::ZERO || a.is_infinite() && !a.is_sign_negative() {
        return a;
    }
    if a.is_sign_negative() {
        return e.invalid();
    }
    let r = a.sqrt();
    e.finish(r, || Ex::Root(a.to_f64()))
}

/// Fused multiply-add `±(x·y) ± z` with one rounding (VFMADD*, VFMSUB*,
/// VFNMADD*, VFNMSUB*). A NaN result is the first NaN of x, y, z (the
/// multiplicands, then the addend, whatever the operand order); 0·∞ with a
/// QNaN addend is not invalid; invalid operations do not also report
/// denormal operands.
#[inline(always)]
pub fn fma<F: Float>(e: &mut Fx, x: F, y: F, z: F, negmul: bool, negz: bool) -> F {
    if x.is_nan() || y.is_nan() || z.is_nan() {
        if x.is_snan() || y.is_snan() || z.is_snan() {
            e.flags |= mx::IE;
        }
        let n = [x, y, z]
            .into_iter()
            .find(|v| v.is_nan())
            .unwrap_or(F::INDEFINITE);
        return n.quiet();
    }
    let raw = [x, y, z];
    let (x, y, z) = (e.daz_quiet(x), e.daz_quiet(y), e.daz_quiet(z));
    let xs = if negmul { -x } else { x };
    let zs = if negz { -z } else { z };
    let zero_inf = (x == F::ZERO && y.is_infinite()) || (y == F::ZERO && x.is_infinite());
    let prod_inf = x.is_infinite() || y.is_infinite();
    let pneg = xs.is_sign_negative() != y.is_sign_negative();
    if zero_inf || (prod_inf && zs.is_infinite() && pneg != zs.is_sign_negative()) {
        return e.invalid();
    }
    let _ = e.daz_n(raw);
    if prod_inf || zs.is_infinite() {
        if !prod_inf {
            return zs;
        }
        let inf = F::from_f64(f64::INFINITY);
        return if pneg { -inf } else { inf };
    }
    let r = F::fused(xs, y, zs);
    let ex = Ex::Fma(xs.to_f64(), y.to_f64(), zs.to_f64());
    if r == F::ZERO && ex.vs(Num::of(0.0)) == Ordering::Equal {
        // Exact zero: the sign of a sum of zeros, or +0 (−0 rounding down).
        let pzero = x == F::ZERO || y == F::ZERO;
        if pzero && zs == F::ZERO {
            let both_neg = pneg && zs.is_sign_negative();
            let any_neg = pneg || zs.is_sign_negative();
            return if both_neg || (any_neg && e.rc() == RD) {
                -F::ZERO
            } else {
                F::ZERO
            };
        }
        return if e.rc() == RD { -F::ZERO } else { F::ZERO };
    }
    e.finish(r, || ex)
}

/// CMPPS predicate `p` (0–31; SDM Vol. 2A Table 3-1).
#[inline(always)]
pub fn cmp<F: Float>(e: &mut Fx, a: F, b: F, p: u8) -> bool {
    let [a, b] = e.daz_n([a, b]);
    let unord = a.is_nan() || b.is_nan();
    let signalling = matches!(p & 15, 1 | 2 | 5 | 6 | 9 | 10 | 13 | 14) ^ (p & 16 != 0);
    if unord && (signalling || a.is_snan() || b.is_snan()) {
        e.flags |= mx::IE;
    }
    let (lt, eq, gt) = if unord {
        (false, false, false)
    } else {
        (a < b, a == b, a > b)
    };
    match p & 15 {
        0 => eq,
        1 => lt,
        2 => lt || eq,
        3 => unord,
        4 => !eq,
        5 => !lt,
        6 => !(lt || eq),
        7 => !unord,
        8 => eq || unord,
        9 => lt || unord,
        10 => !gt,
        11 => false,
        12 => !eq && !unord,
        13 => gt || eq,
        14 => gt,
        _ => true,
    }
}

/// COMIS/UCOMIS: RFLAGS ZF|PF|CF image (SDM Vol. 2A COMISS).
#[inline(always)]
pub fn comi<F: Float>(e: &mut Fx, a: F, b: F, signalling: bool) -> u64 {
    use crate::state::rflags;
    let [a, b] = e.daz_n([a, b]);
    if a.is_nan() || b.is_nan() {
        if signalling || a.is_snan() || b.is_snan() {
            e.flags |= mx::IE;
        }
        return rflags::ZF | rflags::PF | rflags::CF;
    }
    if a < b {
        rflags::CF
    } else if a == b {
        rflags::ZF
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_rounding_of_one_third() {
        for (rc, lo) in [(RN, false), (RD, true), (RU, false), (RZ, true)] {
            let mut e = Fx::new(0x1F80 | rc << 13);
            let r: f32 = arith::<f32, DIV>(&mut e, 1.0, 3.0);
            let nearest = 1.0f32 / 3.0;
            // 1/3 rounds down to nearest in binary32.
            assert_eq!(r == nearest, !lo || nearest < 1.0 / 3.0, "rc {rc}");
            assert_ne!(e.flags & mx::PE, 0);
        }
        let mut e = Fx::new(0x1F80 | RU << 13);
        let r: f64 = arith::<f64, DIV>(&mut e, 1.0, 3.0);
        assert!(r > 1.0 / 3.0);
    }

    #[test]
    fn exactness_flags() {
        let mut e = Fx::new(0x1F80);
        assert_eq!(arith::<f64, MUL>(&mut e, 1.5, 2.0), 3.0);
        assert_eq!(e.flags, 0);
        arith::<f64, ADD>(&mut e, 1.0, 1e-30);
        assert_eq!(e.flags, mx::PE);
        let mut e = Fx::new(0x1F80);
        arith::<f32, DIV>(&mut e, 1.0, 0.0);
        assert_eq!(e.flags, mx::ZE);
        let mut e = Fx::new(0x1F80);
        assert!(arith::<f32, SUB>(&mut e, f32::INFINITY, f32::INFINITY).is_nan());
        assert_eq!(e.flags, mx::IE);
        let mut e = Fx::new(0x1F80);
        assert!(arith::<f32, MUL>(&mut e, f32::MAX, 2.0).is_infinite());
        assert_eq!(e.flags, mx::OE | mx::PE);
        let mut e = Fx::new(0x1F80 | RZ << 13);
        assert_eq!(arith::<f32, MUL>(&mut e, f32::MAX, 2.0), f32::MAX);
        let mut e = Fx::new(0x1F80);
        let r = arith::<f64, MUL>(&mut e, 1e-300, 1e-300);
        assert_eq!(r, 0.0);
        assert_eq!(e.flags, mx::UE | mx::PE);
        let mut e = Fx::new(0x1F80 | RU << 13);
        let r = arith::<f64, MUL>(&mut e, 1e-300, 1e-300);
        assert_eq!(r, f64::from_bits(1));
    }

    #[test]
    fn ftz_and_daz() {
        let tiny = f32::MIN_POSITIVE / 4.0;
        let mut e = Fx::new(0x1F80 | mx::FTZ);
        assert_eq!(arith::<f32, MUL>(&mut e, f32::MIN_POSITIVE, 0.25), 0.0);
        assert_eq!(e.flags, mx::UE | mx::PE);
        let mut e = Fx::new(0x1F80 | mx::DAZ);
        assert_eq!(arith::<f32, ADD>(&mut e, tiny, 0.0), 0.0);
        assert_eq!(e.flags, 0);
        let mut e = Fx::new(0x1F80);
        assert_eq!(arith::<f32, ADD>(&mut e, tiny, 0.0), tiny);
        assert_eq!(e.flags, mx::DE);
    }
}
