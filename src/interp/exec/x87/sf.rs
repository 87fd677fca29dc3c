//! Extended-precision soft float: exact, correctly rounded x87 arithmetic.
//!
//! Values are unpacked into [`Unp`] (class, sign, biased exponent and a
//! normalized 64-bit significand), computed exactly in 128-bit integers and
//! rounded once by [`round`] to the destination format under the FCW's
//! rounding control and, for the instructions it applies to, precision
//! control (24/53/64 bits with the full 15-bit exponent range; SDM Vol. 1
//! 8.1.5.2). Exception flags follow SDM Vol. 1 4.9 and 8.5:
//!
//! - tininess is detected after rounding (to the precision, with unbounded
//!   exponent); with #U masked, UE is raised only for an inexact tiny result;
//! - an unmasked #O/#U on a register destination delivers the result with
//!   its exponent wrapped by 24576 (0x6000), a masked one ∞/max or a
//!   denormal;
//! - C1 reports "rounded up" (magnitude increased) for inexact results;
//! - NaN propagation and the real indefinite follow SDM Table 4-7 (x87
//!   column); unnormals, pseudo-NaNs and pseudo-infinities are invalid
//!   operands; pseudo-denormals are accepted as denormals.
//!
//! Everything here is pure computation over [`Env`] (control word in,
//! flags out); the FPU register file is handled by the instruction files.

use std::cmp::Ordering;

use crate::state::fpu::F80;

pub const BIAS: i32 = 0x3FFF;
/// Exponent wrap applied to results of unmasked overflow/underflow.
pub const WRAP: i32 = 0x6000;

/// Exception bits, at their FSW (flags) and FCW (masks) positions.
pub mod exc {
    pub const IE: u16 = 1 << 0;
    pub const DE: u16 = 1 << 1;
    pub const ZE: u16 = 1 << 2;
    pub const OE: u16 = 1 << 3;
    pub const UE: u16 = 1 << 4;
    pub const PE: u16 = 1 << 5;
    pub const SF: u16 = 1 << 6;
    pub const ALL: u16 = 0x3F;
}
use exc::*;

/// The real indefinite (default QNaN).
pub const INDEFINITE: F80 = F80 {
    significand: 0xC000_0000_0000_0000,
    sign_exp: 0xFFFF,
};

/// An unmasked exception suppressed the result (the destination and the
/// stack stay unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap;

/// Rounding environment of one operation: the control word in, the
/// exception flags and the "rounded up" condition (C1) out.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    pub cw: u16,
    pub flags: u16,
    pub c1: bool,
}

impl Env {
    #[inline]
    pub fn new(cw: u16) -> Self {
        Env {
            cw,
            flags: 0,
            c1: false,
        }
    }
    /// Rounding control: 0 nearest, 1 down, 2 up, 3 toward zero.
    #[inline]
    pub fn rc(&self) -> u8 {
        ((self.cw >> 10) & 3) as u8
    }
    /// Precision control in significand bits (the reserved 01 acts as 64).
    #[inline]
    pub fn pc(&self) -> u32 {
        match (self.cw >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        }
    }
    #[inline]
    pub fn unmasked(&self, e: u16) -> bool {
        self.cw & e == 0
    }
    /// Raises `e`; true when it is unmasked (no result may be delivered).
    #[inline]
    pub fn trap(&mut self, e: u16) -> bool {
        self.flags |= e;
        self.cw & e == 0
    }
    /// Masked invalid operation: the real indefinite, else nothing.
    #[inline]
    pub fn invalid(&mut self) -> Option<F80> {
        if self.trap(IE) {
            None
        } else {
            Some(INDEFINITE)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cls {
    Zero,
    /// Normal or denormal (then `den` is set); `sig` is normalized.
    Finite,
    Inf,
    QNaN,
    SNaN,
    /// Unnormal, pseudo-NaN, pseudo-infinity.
    Bad,
}

/// An unpacked operand: value = sig × 2^(exp − BIAS − 63) for finite ones
/// (`exp` may be below 1 for normalized denormals). NaNs keep their 80-bit
/// significand in `sig`.
#[derive(Clone, Copy, Debug)]
pub struct Unp {
    pub cls: Cls,
    pub sign: bool,
    pub den: bool,
    pub exp: i32,
    pub sig: u64,
}

impl Unp {
    #[inline]
    pub fn zero(sign: bool) -> Self {
        Unp {
            cls: Cls::Zero,
            sign,
            den: false,
            exp: 0,
            sig: 0,
        }
    }
    #[inline]
    pub fn is_nan(&self) -> bool {
        matches!(self.cls, Cls::QNaN | Cls::SNaN)
    }
}

/// Unpacks an 80-bit value.
#[inline]
pub fn unpack(v: F80) -> Unp {
    let sign = v.sign_exp & 0x8000 != 0;
    let e = i32::from(v.sign_exp & 0x7FFF);
    let s = v.significand;
    let (cls, den, exp, sig) = if e == 0 {
        if s == 0 {
            (Cls::Zero, false, 0, 0)
        } else {
            let lz = s.leading_zeros();
            (Cls::Finite, true, 1 - lz as i32, s << lz)
        }
    } else if s >> 63 == 0 {
        (Cls::Bad, false, e, s)
    } else if e == 0x7FFF {
        let c = if s << 1 == 0 {
            Cls::Inf
        } else if s & (1 << 62) != 0 {
            Cls::QNaN
        } else {
            Cls::SNaN
        };
        (c, false, e, s)
    } else {
        (Cls::Finite, false, e, s)
    };
    Unp {
        cls,
        sign,
        den,
        exp,
        sig,
    }
}

/// Unpacks an IEEE binary32/binary64 bit pattern (`FBITS` fraction bits,
/// `EBITS` exponent bits): exact.
#[inline]
fn unpack_ieee<const FBITS: u32, const EBITS: u32>(bits: u64) -> Unp {
    let emask = (1u64 << EBITS) - 1;
    let ebias = (1i32 << (EBITS - 1)) - 1;
    let sign = bits >> (FBITS + EBITS) & 1 != 0;
    let e = (bits >> FBITS) & emask;
    let frac = bits & ((1u64 << FBITS) - 1);
    let sh = 63 - FBITS;
    let mut u = Unp::zero(sign);
    if e == 0 {
        if frac != 0 {
            let s0 = frac << sh;
            let lz = s0.leading_zeros();
            u.cls = Cls::Finite;
            u.den = true;
            u.exp = BIAS + 1 - ebias - lz as i32;
            u.sig = s0 << lz;
        }
    } else if e == emask {
        u.exp = 0x7FFF;
        u.sig = (1 << 63) | (frac << sh);
        u.cls = if frac == 0 {
            Cls::Inf
        } else if frac >> (FBITS - 1) != 0 {
            Cls::QNaN
        } else {
            Cls::SNaN
        };
    } else {
        u.cls = Cls::Finite;
        u.exp = e as i32 - ebias + BIAS;
        u.sig = (1 << 63) | (frac << sh);
    }
    u
}

#[inline]
pub fn from_f32(bits: u32) -> Unp {
    unpack_ieee::<23, 8>(u64::from(bits))
}

#[inline]
pub fn from_f64(bits: u64) -> Unp {
    unpack_ieee::<52, 11>(bits)
}

/// An integer, exactly.
#[inline]
pub fn from_i64(v: i64) -> Unp {
    if v == 0 {
        return Unp::zero(false);
    }
    let m = v.unsigned_abs();
    let lz = m.leading_zeros();
    Unp {
        cls: Cls::Finite,
        sign: v < 0,
        den: false,
        exp: BIAS + 63 - lz as i32,
        sig: m << lz,
    }
}

/// An exactly representable finite or special value packed back to 80 bits
/// (finite values must be in the normal range or be a denormal's exact
/// unpacking).
pub fn pack(u: &Unp) -> F80 {
    let s = u16::from(u.sign) << 15;
    match u.cls {
        Cls::Zero => F80 {
            significand: 0,
            sign_exp: s,
        },
        Cls::Finite if u.exp < 1 => F80 {
            significand: u.sig >> (1 - u.exp).min(63),
            sign_exp: s,
        },
        _ => F80 {
            significand: u.sig,
            sign_exp: s | (u.exp as u16 & 0x7FFF),
        },
    }
}

/// A destination format: normal exponents (80-bit biased) in
/// `emin..emax`, `p` significand bits.
#[derive(Clone, Copy, Debug)]
pub struct Fmt {
    pub emin: i32,
    pub emax: i32,
    pub p: u32,
}

pub const EXT: Fmt = Fmt {
    emin: 1,
    emax: 0x7FFF,
    p: 64,
};
pub const DBL: Fmt = Fmt {
    emin: BIAS - 1022,
    emax: BIAS + 1024,
    p: 53,
};
pub const SGL: Fmt = Fmt {
    emin: BIAS - 126,
    emax: BIAS + 128,
    p: 24,
};

/// A rounded result in 80-bit field form: `exp` is the biased exponent
/// (`fmt.emin − 1` for zeros and denormals, whose `sig` is aligned to the
/// `fmt.emin` scale; `fmt.emax` for infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out {
    pub sign: bool,
    pub exp: i32,
    pub sig: u64,
}

impl Out {
    /// The 80-bit encoding (for [`EXT`] results).
    #[inline]
    pub fn f80(&self) -> F80 {
        F80 {
            significand: self.sig,
            sign_exp: (u16::from(self.sign) << 15) | (self.exp as u16 & 0x7FFF),
        }
    }
    /// The binary64 encoding (for [`DBL`] results).
    #[inline]
    pub fn f64(&self) -> u64 {
        let e = (self.exp - (BIAS - 1023)) as u64 & 0x7FF;
        u64::from(self.sign) << 63 | e << 52 | (self.sig >> 11) & ((1 << 52) - 1)
    }
    /// The binary32 encoding (for [`SGL`] results).
    #[inline]
    pub fn f32(&self) -> u32 {
        let e = (self.exp - (BIAS - 127)) as u32 & 0xFF;
        u32::from(self.sign) << 31 | e << 23 | (self.sig >> 40) as u32 & 0x7F_FFFF
    }
}

/// `v >> n` rounded by `rc` for a value of sign `neg`: (quotient, inexact,
/// incremented).
#[inline]
pub fn shr_round(v: u128, n: u32, rc: u8, neg: bool) -> (u128, bool, bool) {
    if n == 0 || v == 0 {
        return (v, false, false);
    }
    let (q, half) = if n > 128 {
        (0, Ordering::Less)
    } else if n == 128 {
        (0, v.cmp(&(1 << 127)))
    } else {
        let rem = v & ((1u128 << n) - 1);
        if rem == 0 {
            return (v >> n, false, false);
        }
        (v >> n, rem.cmp(&(1u128 << (n - 1))))
    };
    let up = match rc {
        0 => half == Ordering::Greater || (half == Ordering::Equal && q & 1 != 0),
        1 => neg,
        2 => !neg,
        _ => false,
    };
    (q + u128::from(up), true, up)
}

/// `v >> n` with the shifted-out bits ORed into bit 0.
#[inline]
fn shr_jam(v: u128, n: u32) -> u128 {
    if n == 0 {
        v
    } else if n >= 128 {
        u128::from(v != 0)
    } else {
        (v >> n) | u128::from(v << (128 - n) != 0)
    }
}

/// Rounds sign × v × 2^(exp − BIAS − 127) (v ≠ 0) to `fmt` with `p`
/// significand bits, raising OE/UE/PE and setting C1 in `env`.
pub fn round(env: &mut Env, sign: bool, exp: i32, v: u128, fmt: &Fmt, p: u32) -> Out {
    debug_assert!(v != 0);
    let lz = v.leading_zeros();
    let v = v << lz;
    let exp = exp - lz as i32;
    let rc = env.rc();
    let d = 128 - p;
    let (mut q, inexact, up) = shr_round(v, d, rc, sign);
    let mut e = exp;
    if q >> p != 0 {
        q >>= 1;
        e += 1;
    }
    let sig = (q as u64) << (64 - p);
    if e >= fmt.emax {
        env.flags |= OE;
        if env.unmasked(OE) {
            if e - WRAP >= fmt.emax {
                // Out of range even when wrapped (FSCALE): ∞.
                env.flags |= PE;
                env.c1 = true;
                return Out {
                    sign,
                    exp: fmt.emax,
                    sig: 1 << 63,
                };
            }
            if inexact {
                env.flags |= PE;
                env.c1 = up;
            }
            return Out {
                sign,
                exp: e - WRAP,
                sig,
            };
        }
        env.flags |= PE;
        let inf = match rc {
            0 => true,
            1 => sign,
            2 => !sign,
            _ => false,
        };
        env.c1 = inf;
        return if inf {
            Out {
                sign,
                exp: fmt.emax,
                sig: 1 << 63,
            }
        } else {
            Out {
                sign,
                exp: fmt.emax - 1,
                sig: !0u64 << (64 - p),
            }
        };
    }
    if e < fmt.emin {
        if env.unmasked(UE) {
            env.flags |= UE;
            if e + WRAP < fmt.emin {
                // Out of range even when wrapped (FSCALE): zero.
                env.flags |= PE;
                return Out {
                    sign,
                    exp: fmt.emin - 1,
                    sig: 0,
                };
            }
            if inexact {
                env.flags |= PE;
                env.c1 = up;
            }
            return Out {
                sign,
                exp: e + WRAP,
                sig,
            };
        }
        // Denormalize: the significand keeps its `p`-bit grid, shifted
        // right to exponent emin (precision control applies to denormal
        // results too).
        let shift = (fmt.emin - exp) as u32;
        let (q2, inexact2, up2) = shr_round(v, d.saturating_add(shift), rc, sign);
        let sig2 = (q2 as u64) << (64 - p);
        if inexact2 {
            env.flags |= UE | PE;
            env.c1 = up2;
        }
        let exp = if sig2 >> 63 != 0 {
            fmt.emin
        } else {
            fmt.emin - 1
        };
        return Out {
            sign,
            exp,
            sig: sig2,
        };
    }
    if inexact {
        env.flags |= PE;
        env.c1 = up;
    }
    Out { sign, exp: e, sig }
}

/// Rounds a finite nonzero operand to `fmt`/`p` (value unchanged if it fits).
#[inline]
pub fn round_unp(env: &mut Env, u: &Unp, fmt: &Fmt, p: u32) -> Out {
    round(env, u.sign, u.exp, u128::from(u.sig) << 64, fmt, p)
}

/// Quiets a NaN operand into its 80-bit form.
#[inline]
pub fn quiet(u: &Unp) -> F80 {
    F80 {
        significand: u.sig | 1 << 62,
        sign_exp: (u16::from(u.sign) << 15) | 0x7FFF,
    }
}

/// NaN result of a two-operand operation where at least one is a NaN
/// (SDM Table 4-7, x87 FPU column).
pub fn nan2(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    if (a.cls == Cls::SNaN || b.cls == Cls::SNaN) && env.trap(IE) {
        return None;
    }
    let pick = match (a.is_nan(), b.is_nan()) {
        (true, true) if a.cls != b.cls => {
            if a.cls == Cls::QNaN {
                a
            } else {
                b
            }
        }
        (true, true) => match a.sig.cmp(&b.sig) {
            Ordering::Greater => a,
            Ordering::Less => b,
            Ordering::Equal => {
                if a.sign {
                    b
                } else {
                    a
                }
            }
        },
        (true, false) => a,
        _ => b,
    };
    Some(quiet(pick))
}

/// NaN result of a one-operand operation on NaN `a`.
#[inline]
pub fn nan1(env: &mut Env, a: &Unp) -> Option<F80> {
    if a.cls == Cls::SNaN && env.trap(IE) {
        return None;
    }
    Some(quiet(a))
}

#[inline]
fn inf(sign: bool) -> F80 {
    F80 {
        significand: 1 << 63,
        sign_exp: (u16::from(sign) << 15) | 0x7FFF,
    }
}

#[inline]
fn zero(sign: bool) -> F80 {
    F80 {
        significand: 0,
        sign_exp: u16::from(sign) << 15,
    }
}

/// Operation codes of [`arith`].
pub const ADD: u8 = 0;
pub const SUB: u8 = 1;
pub const MUL: u8 = 2;
pub const DIV: u8 = 3;

/// `a OP b` rounded to the FCW's precision; None when an unmasked
/// exception (#IA, #Z, #D) suppresses the result.
pub fn arith(env: &mut Env, op: u8, a: &Unp, b: &Unp) -> Option<F80> {
    use Cls::*;
    if a.cls == Bad || b.cls == Bad {
        return env.invalid();
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b);
    }
    let p = env.pc();
    match op {
        ADD | SUB => {
            let bs = b.sign ^ (op == SUB);
            if a.cls == Inf && b.cls == Inf && a.sign != bs {
                return env.invalid();
            }
            if (a.den || b.den) && env.trap(DE) {
                return None;
            }
            if a.cls == Inf {
                return Some(inf(a.sign));
            }
            if b.cls == Inf {
                return Some(inf(bs));
            }
            Some(add(env, a, b, bs, p))
        }
        MUL => {
            let sign = a.sign ^ b.sign;
            if (a.cls == Inf && b.cls == Zero) || (a.cls == Zero && b.cls == Inf) {
                return env.invalid();
            }
            if (a.den || b.den) && env.trap(DE) {
                return None;
            }
            if a.cls == Inf || b.cls == Inf {
                return Some(inf(sign));
            }
            if a.cls == Zero || b.cls == Zero {
                return Some(zero(sign));
            }
            let m = u128::from(a.sig) * u128::from(b.sig);
            Some(round(env, sign, a.exp + b.exp - BIAS + 1, m, &EXT, p).f80())
        }
        _ => {
            let sign = a.sign ^ b.sign;
            if (a.cls == Inf && b.cls == Inf) || (a.cls == Zero && b.cls == Zero) {
                return env.invalid();
            }
            if b.cls == Zero && a.cls == Finite {
                if env.trap(ZE) {
                    return None;
                }
                return Some(inf(sign));
            }
            if (a.den || b.den) && env.trap(DE) {
                return None;
            }
            if a.cls == Inf {
                return Some(inf(sign));
            }
            if a.cls == Zero || b.cls == Inf {
                return Some(zero(sign));
            }
            Some(div(env, sign, a, b, p))
        }
    }
}

/// a + (±b) for non-NaN, non-infinite operands with effective sign `bs`.
fn add(env: &mut Env, a: &Unp, b: &Unp, bs: bool, p: u32) -> F80 {
    if a.cls == Cls::Zero && b.cls == Cls::Zero {
        let s = if a.sign == bs { a.sign } else { env.rc() == 1 };
        return zero(s);
    }
    if b.cls == Cls::Zero {
        return round_unp(env, a, &EXT, p).f80();
    }
    if a.cls == Cls::Zero {
        let mut b2 = *b;
        b2.sign = bs;
        return round_unp(env, &b2, &EXT, p).f80();
    }
    let (x, xs, y, ys) = if (a.exp, a.sig) >= (b.exp, b.sig) {
        (a, a.sign, b, bs)
    } else {
        (b, bs, a, a.sign)
    };
    let xv = u128::from(x.sig) << 63;
    let yv = shr_jam(u128::from(y.sig) << 63, (x.exp - y.exp) as u32);
    let r = if xs == ys { xv + yv } else { xv - yv };
    if r == 0 {
        return zero(env.rc() == 1);
    }
    round(env, xs, x.exp + 1, r, &EXT, p).f80()
}

/// a / b for finite nonzero operands.
fn div(env: &mut Env, sign: bool, a: &Unp, b: &Unp, p: u32) -> F80 {
    let bs = u128::from(b.sig);
    let n = u128::from(a.sig) << 64;
    let (q1, r1) = (n / bs, n % bs);
    let n2 = r1 << 64;
    let (q2, r2) = (n2 / bs, n2 % bs);
    let sticky = u128::from(r2 != 0);
    let (v, e) = if q1 >> 64 != 0 {
        (
            (q1 << 63) | (q2 >> 1) | (q2 & 1) | sticky,
            a.exp - b.exp + BIAS,
        )
    } else {
        ((q1 << 64) | q2 | sticky, a.exp - b.exp + BIAS - 1)
    };
    round(env, sign, e, v, &EXT, p).f80()
}

/// Square root rounded to the FCW's precision.
pub fn sqrt(env: &mut Env, a: &Unp) -> Option<F80> {
    match a.cls {
        Cls::Bad => return env.invalid(),
        Cls::QNaN | Cls::SNaN => return nan1(env, a),
        Cls::Zero => return Some(zero(a.sign)),
        _ if a.sign => return env.invalid(),
        Cls::Inf => return Some(inf(false)),
        _ => {}
    }
    if a.den && env.trap(DE) {
        return None;
    }
    let mut e = a.exp - BIAS - 63;
    let mut m = u128::from(a.sig);
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // Digit-by-digit square root of m × 2^66 (33 pairs of m, 33 of zeros).
    let (mut rem, mut root) = (0u128, 0u128);
    for pair in (0..66).rev() {
        let bits = if pair >= 33 {
            (m >> (2 * (pair - 33))) & 3
        } else {
            0
        };
        rem = (rem << 2) | bits;
        let t = (root << 2) | 1;
        root <<= 1;
        if rem >= t {
            rem -= t;
            root |= 1;
        }
    }
    let v = (root << 1) | u128::from(rem != 0);
    let p = env.pc();
    Some(round(env, false, e / 2 - 34 + BIAS + 127, v, &EXT, p).f80())
}

/// The tag (valid 0 / zero 1 / special 2) of a non-empty register value.
#[inline]
pub fn tag_of(v: F80) -> u16 {
    let e = v.sign_exp & 0x7FFF;
    if e == 0 {
        if v.significand == 0 { 1 } else { 2 }
    } else if e == 0x7FFF || v.significand >> 63 == 0 {
        2
    } else {
        0
    }
}
