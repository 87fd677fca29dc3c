//! IEEE 754 arithmetic under MXCSR (SDM Vol. 1 4.8, 4.9, 10.2.3, 11.5).
//!
//! Results are computed with the host's f32/f64 operations, which round
//! to nearest-even; the other rounding modes are obtained by knowing the
//! sign of the rounding error and stepping one ulp (`next_up`/`next_down`).
//! The error sign comes from error-free transformations: TwoSum for
//! addition and exact integer comparison of the significands for
//! multiplication, division and square root. Exception flags: invalid
//! (SNaN operands, and the QNaN cases of signalling compares and
//! MIN/MAX/COMIS), denormal operand, divide-by-zero, overflow, underflow
//! (tininess after rounding) and precision are all detected. DAZ treats
//! denormal inputs as zero (no DE); FTZ flushes tiny results to zero when
//! underflow is masked, setting UE and PE.
//!
//! Fast path: in round-to-nearest with PE already set and masked (the
//! steady state of ordinary code), a normal result needs no error
//! analysis at all.
//!
//! Known approximations: when an unmasked exception occurs the flags of
//! every element are accumulated and the destination is left unchanged,
//! rather than the SDM's finer pre-/post-computation split; overflow in a
//! directed rounding mode is flagged when the nearest-rounded result would
//! overflow or the directed result is infinite (the band between MAX and
//! MAX + ½ulp under RZ/RD/RU is not distinguished).

use std::cmp::Ordering;
use std::ops::{Add, Div, Mul, Neg, Sub};

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
    fn fast(&self) -> bool {
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
    /// operands and `err` the sign of (exact − r). Applies the rounding
    /// mode, then the overflow, underflow, FTZ and precision rules.
    pub fn round<F: Float>(&mut self, r: F, err: Ordering) -> F {
        let mut r = r;
        let rn_overflow = r.is_infinite();
        let err = if rn_overflow {
            if r.is_sign_negative() {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        } else {
            err
        };
        let inexact = err != Ordering::Equal;
        if inexact {
            r = match self.rc() {
                RD if err == Ordering::Less => r.next_down(),
                RU if err == Ordering::Greater => r.next_up(),
                RZ if err == Ordering::Less && !r.is_sign_negative() && r != F::ZERO => {
                    r.next_down()
                }
                RZ if err == Ordering::Greater && r.is_sign_negative() && r != F::ZERO => {
                    r.next_up()
                }
                _ => r,
            };
            self.flags |= mx::PE;
        }
        if rn_overflow || r.is_infinite() {
            self.flags |= mx::OE | mx::PE;
            return r;
        }
        let tiny = (r.is_subnormal() || r == F::ZERO) && (inexact || r != F::ZERO);
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

    /// Post-processing of a result computed from finite operands, where
    /// `err()` gives the sign of the rounding error (only called when it
    /// matters).
    #[inline(always)]
    fn finish<F: Float>(&mut self, r: F, err: impl FnOnce() -> Ordering) -> F {
        if self.fast() && r.is_normal() {
            return r;
        }
        self.round(r, err())
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
}

macro_rules! float_impl {
    ($t:ty, $u:ty, $qbit:expr, $indef:expr, $limit:expr) => {
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
        }
    };
}
float_impl!(f32, u32, 1 << 22, 0xFFC0_0000, 8_388_608.0);
float_impl!(
    f64,
    u64,
    1 << 51,
    0xFFF8_0000_0000_0000,
    4_503_599_627_370_496.0
);

// ---- exact error signs --------------------------------------------------------

/// |x| = m · 2^e for a finite f64.
fn decomp(x: f64) -> (u128, i32) {
    let b = x.to_bits();
    let e = ((b >> 52) & 0x7FF) as i32;
    let f = u128::from(b & ((1 << 52) - 1));
    if e == 0 {
        (f, -1074)
    } else {
        (f | 1 << 52, e - 1075)
    }
}

/// Compares x·2^ex with y·2^ey (x, y < 2^107).
fn cmp_scaled(x: u128, ex: i32, y: u128, ey: i32) -> Ordering {
    if x == 0 || y == 0 {
        return x.cmp(&y);
    }
    let lx = 128 - x.leading_zeros() as i32;
    let ly = 128 - y.leading_zeros() as i32;
    let (tx, ty) = (ex + lx, ey + ly);
    if tx != ty {
        return tx.cmp(&ty);
    }
    if ex > ey {
        (x << (ex - ey)).cmp(&y)
    } else {
        x.cmp(&(y << (ey - ex)))
    }
}

fn signed(o: Ordering, negative: bool) -> Ordering {
    if negative { o.reverse() } else { o }
}

/// Sign of (a·b − r), exactly.
pub fn err_mul(a: f64, b: f64, r: f64) -> Ordering {
    let (ma, ea) = decomp(a);
    let (mb, eb) = decomp(b);
    let (mr, er) = decomp(r);
    let neg = a.is_sign_negative() != b.is_sign_negative();
    signed(cmp_scaled(ma * mb, ea + eb, mr, er), neg)
}

/// Sign of (a/b − q), exactly.
pub fn err_div(a: f64, b: f64, q: f64) -> Ordering {
    let (ma, ea) = decomp(a);
    let (mb, eb) = decomp(b);
    let (mq, eq) = decomp(q);
    let neg = a.is_sign_negative() != b.is_sign_negative();
    signed(cmp_scaled(ma, ea, mq * mb, eq + eb), neg)
}

/// Sign of (√a − s), exactly.
pub fn err_sqrt(a: f64, s: f64) -> Ordering {
    let (ma, ea) = decomp(a);
    let (ms, es) = decomp(s);
    cmp_scaled(ma, ea, ms * ms, 2 * es)
}

/// Sign of the error of r = a + b (TwoSum; finite, non-overflowing r).
fn err_add<F: Float>(a: F, b: F, r: F) -> Ordering {
    let bb = r - a;
    let aa = r - bb;
    let e = (a - aa) + (b - bb);
    e.partial_cmp(&F::ZERO).unwrap_or(Ordering::Equal)
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
    let a = e.daz(a);
    let b = e.daz(b);
    match OP {
        MIN | MAX => {
            // (SDM MINPS/MAXPS) a NaN or equal operands return the second
            // source; any NaN is invalid.
            if a.is_nan() || b.is_nan() {
                e.flags |= mx::IE;
                return b;
            }
            let take_a = if OP == MIN { a < b } else { a > b };
            return if take_a { a } else { b };
        }
        _ => {}
    }
    if a.is_nan() || b.is_nan() {
        return e.nan2(a, b);
    }
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
        e.flags |= mx::ZE;
        return r;
    }
    if a.is_infinite() || b.is_infinite() {
        return r;
    }
    if (OP == ADD || OP == SUB) && r == F::ZERO {
        // Exact cancellation: +0, or −0 when rounding down (or both
        // operands are −0, which the host already gives).
        let b2 = if OP == SUB { -b } else { b };
        if a == F::ZERO && b2 == F::ZERO {
            return r;
        }
        if e.rc() == RD {
            return -F::ZERO;
        }
        return F::ZERO;
    }
    e.finish(r, || match OP {
        ADD => err_add(a, b, r),
        SUB => err_add(a, -b, r),
        MUL => err_mul(a.to_f64(), b.to_f64(), r.to_f64()),
        _ => err_div(a.to_f64(), b.to_f64(), r.to_f64()),
    })
}

#[inline(always)]
pub fn sqrt<F: Float>(e: &mut Fx, a: F) -> F {
    let a = e.daz(a);
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
    e.finish(r, || err_sqrt(a.to_f64(), r.to_f64()))
}

/// CMPPS predicate `p` (0–31; SDM Vol. 2A Table 3-1).
#[inline(always)]
pub fn cmp<F: Float>(e: &mut Fx, a: F, b: F, p: u8) -> bool {
    let a = e.daz(a);
    let b = e.daz(b);
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
    let a = e.daz(a);
    let b = e.daz(b);
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

/// Rounds to an integral value in mode `rc` (ROUNDPS; `inexact`: signal
/// PE when the value changes).
#[inline(always)]
pub fn round_int<F: Float>(e: &mut Fx, x: F, rc: u32, signal_pe: bool) -> F {
    let x = e.daz_quiet(x);
    if x.is_nan() {
        return e.nan2(x, x);
    }
    if !x.is_finite() || x.abs().to_f64() >= F::INT_LIMIT {
        return x;
    }
    let v = x.to_f64();
    let r = match rc {
        RN => v.round_ties_even(),
        RD => v.floor(),
        RU => v.ceil(),
        _ => v.trunc(),
    };
    if r != v && signal_pe {
        e.flags |= mx::PE;
    }
    // Keep the sign of a zero result (−0.4 rounds to −0).
    let r = F::from_f64(r);
    if r == F::ZERO { F::zero_of(x) } else { r }
}

/// Float → signed integer of `bits` (32 or 64) in mode `rc`; NaN and
/// out-of-range values give the integer indefinite with IE.
#[inline(always)]
pub fn to_int<F: Float>(e: &mut Fx, x: F, rc: u32, bits: u32) -> i64 {
    let x = e.daz_quiet(x);
    let indefinite = i64::MIN >> (64 - bits);
    if x.is_nan() || x.is_infinite() {
        e.flags |= mx::IE;
        return indefinite;
    }
    let v = x.to_f64();
    let r = match rc {
        RN => v.round_ties_even(),
        RD => v.floor(),
        RU => v.ceil(),
        _ => v.trunc(),
    };
    let lim = 2f64.powi(bits as i32 - 1);
    if r < -lim || r >= lim {
        e.flags |= mx::IE;
        return indefinite;
    }
    if r != v {
        e.flags |= mx::PE;
    }
    r as i64
}

/// Signed integer → float in the current rounding mode.
#[inline(always)]
pub fn from_int<F: Float>(e: &mut Fx, i: i64) -> F {
    // i64 → f64 → F could round twice; go through i128 error checks on
    // the nearest value of the target type instead.
    let r = if std::mem::size_of::<F>() == 4 {
        F::from_f64((i as f32) as f64)
    } else {
        F::from_f64(i as f64)
    };
    let back = r.to_f64() as i128;
    let err = i128::from(i).cmp(&back);
    if err == Ordering::Equal {
        return r;
    }
    e.round(r, err)
}

/// f64 → f32 (CVTSD2SS, CVTPD2PS).
#[inline(always)]
pub fn f64_to_f32(e: &mut Fx, x: f64) -> f32 {
    let x = e.daz(x);
    if x.is_nan() {
        if Float::is_snan(x) {
            e.flags |= mx::IE;
        }
        let b = x.to_bits();
        return f32::from_bits(
            ((b >> 32) as u32 & 0x8000_0000) | 0x7FC0_0000 | ((b >> 29) as u32 & 0x003F_FFFF),
        );
    }
    if x.is_infinite() || x == 0.0 {
        return x as f32;
    }
    let r = x as f32;
    e.finish(r, || {
        if r.is_infinite() {
            Ordering::Equal
        } else {
            x.partial_cmp(&(r as f64)).unwrap_or(Ordering::Equal)
        }
    })
}

/// f32 → f64 (CVTSS2SD, CVTPS2PD): exact.
#[inline(always)]
pub fn f32_to_f64(e: &mut Fx, x: f32) -> f64 {
    let x = e.daz(x);
    if x.is_nan() {
        if Float::is_snan(x) {
            e.flags |= mx::IE;
        }
        let b = u64::from(x.to_bits());
        return f64::from_bits(
            ((b & 0x8000_0000) << 32) | 0x7FF8_0000_0000_0000 | ((b & 0x003F_FFFF) << 29),
        );
    }
    x as f64
}

/// IEEE half → f32 (VCVTPH2PS: exact; SNaN → IE, quieted; denormal
/// halves are converted exactly and DAZ does not apply).
pub fn f16_to_f32(e: &mut Fx, h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1F);
    let frac = u32::from(h & 0x3FF);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Normalise the half denormal.
            let v = f as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (0x1F, 0) => sign | 0x7F80_0000,
        (0x1F, f) => {
            if f & 0x200 == 0 {
                e.flags |= mx::IE;
            }
            sign | 0x7FC0_0000 | (f << 13)
        }
        (x, f) => sign | ((x + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Unbiased exponent of a normal positive f64.
fn f64_exp(a: f64) -> i32 {
    ((a.to_bits() >> 52) & 0x7FF) as i32 - 1023
}

/// f32 → IEEE half in mode `rc` (VCVTPS2PH).
pub fn f32_to_f16(e: &mut Fx, x: f32, rc: u32) -> u16 {
    let x = e.daz(x);
    let sign = ((x.to_bits() >> 16) & 0x8000) as u16;
    if x.is_nan() {
        if Float::is_snan(x) {
            e.flags |= mx::IE;
        }
        return sign | 0x7E00 | ((x.to_bits() >> 13) & 0x1FF) as u16;
    }
    if x.is_infinite() {
        return sign | 0x7C00;
    }
    if x == 0.0 {
        return sign;
    }
    // Scale into half's integer significand grid: the quantum is 2^-24
    // below 2^-14 (denormals), else 2^(e-10).
    let a = f64::from(x.abs());
    let exp = f64_exp(a);
    let q = if exp < -14 { -24 } else { exp - 10 };
    let scaled = a * 2f64.powi(-q);
    let neg = sign != 0;
    let r = match rc {
        RN => scaled.round_ties_even(),
        RD => {
            if neg {
                scaled.ceil()
            } else {
                scaled.floor()
            }
        }
        RU => {
            if neg {
                scaled.floor()
            } else {
                scaled.ceil()
            }
        }
        _ => scaled.trunc(),
    };
    let inexact = r != scaled;
    let v = r * 2f64.powi(q);
    if inexact {
        e.flags |= mx::PE;
    }
    if v > 65504.0 {
        e.flags |= mx::OE | mx::PE;
        let to_inf = match rc {
            RN => true,
            RD => neg,
            RU => !neg,
            _ => false,
        };
        return sign | if to_inf { 0x7C00 } else { 0x7BFF };
    }
    if v < 2f64.powi(-14) && inexact {
        e.flags |= mx::UE;
    }
    // Encode v (exactly representable now).
    let bits = if v < 2f64.powi(-14) {
        (v * 2f64.powi(24)) as u16
    } else {
        let ex = f64_exp(v);
        let m = (v * 2f64.powi(10 - ex)) as u16 & 0x3FF;
        (((ex + 15) as u16) << 10) | m
    };
    sign | bits
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

    #[test]
    fn half_conversions() {
        let mut e = Fx::new(0x1F80);
        for h in [0x3C00u16, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x3555] {
            let f = f16_to_f32(&mut e, h);
            assert_eq!(f32_to_f16(&mut e, f, RN), h, "{h:#x} {f}");
        }
        assert_eq!(f32_to_f16(&mut e, 65520.0, RN), 0x7C00);
        assert_eq!(f32_to_f16(&mut e, 1.0 / 3.0, RN), 0x3555);
    }
}
