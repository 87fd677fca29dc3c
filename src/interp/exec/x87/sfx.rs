//! The rest of the exact x87 numeric core: FRNDINT, FSCALE, FXTRACT,
//! FPREM/FPREM1, packed BCD, the built-in constants, comparisons, and
//! conversions to integers and to binary32/binary64.

use std::cmp::Ordering;

use super::sf::{
    BIAS, Cls, EXT, Env, Fmt, INDEFINITE, Out, Trap, Unp, exc::*, nan1, nan2, pack, round,
    round_unp, shr_round,
};
use crate::state::fpu::F80;

#[inline]
pub fn inf(sign: bool) -> F80 {
    F80 {
        significand: 1 << 63,
        sign_exp: (u16::from(sign) << 15) | 0x7FFF,
    }
}

#[inline]
pub fn zero(sign: bool) -> F80 {
    F80 {
        significand: 0,
        sign_exp: u16::from(sign) << 15,
    }
}

/// Packs sign × m (an integer) exactly (|m| < 2^64).
fn int_value(sign: bool, m: u64) -> F80 {
    if m == 0 {
        return zero(sign);
    }
    let lz = m.leading_zeros();
    F80 {
        significand: m << lz,
        sign_exp: (u16::from(sign) << 15) | (BIAS + 63 - lz as i32) as u16,
    }
}

/// FRNDINT: rounds to an integral value by RC.
pub fn rndint(env: &mut Env, a: &Unp) -> Option<F80> {
    match a.cls {
        Cls::Bad => return env.invalid(),
        Cls::QNaN | Cls::SNaN => return nan1(env, a),
        Cls::Zero | Cls::Inf => return Some(pack(a)),
        Cls::Finite => {}
    }
    if a.den && env.trap(DE) {
        return None;
    }
    if a.exp >= BIAS + 63 {
        return Some(pack(a));
    }
    let sh = (BIAS + 63 - a.exp) as u32;
    let (q, inexact, up) = shr_round(u128::from(a.sig), sh, env.rc(), a.sign);
    if inexact {
        env.flags |= PE;
        env.c1 = up;
    }
    Some(int_value(a.sign, q as u64))
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
pub fn scale(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    use Cls::*;
    if a.cls == Bad || b.cls == Bad {
        return env.invalid();
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b);
    }
    if b.cls == Inf {
        let bad = (a.cls == Zero && !b.sign) || (a.cls == Inf && b.sign);
        if bad {
            return env.invalid();
        }
    }
    if (a.den || b.den) && env.trap(DE) {
        return None;
    }
    match (a.cls, b.cls) {
        (Zero | Inf, _) => return Some(pack(a)),
        (_, Inf) => return Some(if b.sign { zero(a.sign) } else { inf(a.sign) }),
        _ => {}
    }
    // trunc(ST(1)), clamped far beyond any representable scale.
    let n: i32 = if b.cls == Zero || b.exp < BIAS {
        0
    } else if b.exp >= BIAS + 20 {
        if b.sign { -0x10_0000 } else { 0x10_0000 }
    } else {
        let m = (b.sig >> (BIAS + 63 - b.exp)) as i32;
        if b.sign { -m } else { m }
    };
    let out = round(env, a.sign, a.exp + n, u128::from(a.sig) << 64, &EXT, 64);
    Some(out.f80())
}

/// FXTRACT: (exponent, significand); Err when an unmasked exception
/// suppresses the result.
pub fn xtract(env: &mut Env, a: &Unp) -> Result<(F80, F80), Trap> {
    match a.cls {
        Cls::Bad => {
            if env.trap(IE) {
                return Err(Trap);
            }
            Ok((INDEFINITE, INDEFINITE))
        }
        Cls::QNaN | Cls::SNaN => {
            let n = nan1(env, a).ok_or(Trap)?;
            Ok((n, n))
        }
        Cls::Zero => {
            if env.trap(ZE) {
                return Err(Trap);
            }
            Ok((inf(true), pack(a)))
        }
        Cls::Inf => Ok((inf(false), pack(a))),
        Cls::Finite => {
            if a.den && env.trap(DE) {
                return Err(Trap);
            }
            let e = i64::from(a.exp - BIAS);
            let ev = int_value(e < 0, e.unsigned_abs());
            let s = F80 {
                significand: a.sig,
                sign_exp: (u16::from(a.sign) << 15) | BIAS as u16,
            };
            Ok((ev, s))
        }
    }
}

/// Result of FPREM/FPREM1.
pub struct Rem {
    pub value: F80,
    /// Low bits of the quotient (C0 = Q2, C3 = Q1, C1 = Q0).
    pub q: u64,
    /// Partial remainder: C2 = 1, call again.
    pub partial: bool,
}

/// FPREM (`ieee` false: quotient truncated) and FPREM1 (`ieee`: quotient
/// rounded to nearest), exactly. Partial remainders reduce the exponent
/// difference by 32 + (difference mod 32) bits.
pub fn prem(env: &mut Env, a: &Unp, b: &Unp, ieee: bool) -> Option<Rem> {
    use Cls::*;
    let whole = |value| Rem {
        value,
        q: 0,
        partial: false,
    };
    if a.cls == Bad || b.cls == Bad {
        return env.invalid().map(whole);
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b).map(whole);
    }
    if a.cls == Inf || b.cls == Zero {
        return env.invalid().map(whole);
    }
    if (a.den || b.den) && env.trap(DE) {
        return None;
    }
    if a.cls == Zero || b.cls == Inf {
        return Some(whole(pack(a)));
    }
    let d = a.exp - b.exp;
    if d < -1 || (d == -1 && !ieee) {
        return Some(whole(round_unp(env, a, &EXT, 64).f80()));
    }
    let (num, den, scale, partial) = if d >= 64 {
        let n = 32 + (d & 31);
        (u128::from(a.sig) << n, u128::from(b.sig), a.exp - n, true)
    } else if d >= 0 {
        (u128::from(a.sig) << d, u128::from(b.sig), b.exp, false)
    } else {
        (u128::from(a.sig), u128::from(b.sig) << 1, a.exp, false)
    };
    let mut q = num / den;
    let mut r = num % den;
    let mut sign = a.sign;
    if ieee && !partial {
        let twice = r << 1;
        if twice.cmp(&den).then(if q & 1 != 0 {
            Ordering::Greater
        } else {
            Ordering::Less
        }) == Ordering::Greater
        {
            q += 1;
            r = den - r;
            sign = !sign;
        }
    }
    let value = if r == 0 {
        zero(a.sign)
    } else {
        round(env, sign, scale + 64, r, &EXT, 64).f80()
    };
    Some(Rem {
        value,
        q: q as u64,
        partial,
    })
}

/// FBLD: an 18-digit packed BCD integer (10 bytes, sign in bit 79).
pub fn from_bcd(b: &[u8; 10]) -> F80 {
    let mut m: u64 = 0;
    for i in (0..9).rev() {
        m = m * 100 + u64::from(b[i] >> 4) * 10 + u64::from(b[i] & 15);
    }
    int_value(b[9] & 0x80 != 0, m)
}

/// FBSTP: rounds by RC to an 18-digit packed BCD integer; Err when an
/// unmasked #IA suppresses the store (masked: the BCD indefinite).
pub fn to_bcd(env: &mut Env, a: &Unp) -> Result<[u8; 10], Trap> {
    const INDEF: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];
    let invalid = |env: &mut Env| if env.trap(IE) { Err(Trap) } else { Ok(INDEF) };
    let m = match a.cls {
        Cls::Zero => 0,
        Cls::Finite => {
            if a.exp >= BIAS + 63 {
                return invalid(env);
            }
            let sh = (BIAS + 63 - a.exp) as u32;
            let (q, inexact, up) = shr_round(u128::from(a.sig), sh, env.rc(), a.sign);
            if q > 999_999_999_999_999_999 {
                return invalid(env);
            }
            if inexact {
                env.flags |= PE;
                env.c1 = up;
            }
            q as u64
        }
        _ => return invalid(env),
    };
    let mut out = [0u8; 10];
    let mut v = m;
    for byte in out.iter_mut().take(9) {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *byte = hi << 4 | lo;
    }
    out[9] = if a.sign { 0x80 } else { 0 };
    Ok(out)
}

/// 128-bit significands and exponents of the built-in constants, in the
/// order of FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2 (FLD1 and FLDZ are exact).
pub(super) const CONSTS: [(u128, u16); 5] = [
    (0xD49A_784B_CD1B_8AFE_492B_F6FF_4DAF_DB4C, 0x4000),
    (0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88, 0x3FFF),
    (0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1, 0x4000),
    (0x9A20_9A84_FBCF_F798_8F89_59AC_0B7C_9178, 0x3FFD),
    (0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF, 0x3FFE),
];
pub const L2T: u8 = 0;
pub const L2E: u8 = 1;
pub const PI: u8 = 2;
pub const LG2: u8 = 3;
pub const LN2: u8 = 4;
pub const ONE: u8 = 5;
pub const ZERO: u8 = 6;
/// 3π/4 (FPATAN special results).
pub(super) const PI3_4: (u128, u16) = (0x96CB_E3F9_990E_91A7_9394_C9E8_A0A5_159C, 0x4000);

pub(super) fn const_round(sig: u128, exp: u16, sign: bool, rc: u8) -> F80 {
    let (q, _, _) = shr_round(sig, 64, rc, sign);
    let (s, e) = if q >> 64 != 0 {
        (1u64 << 63, exp + 1)
    } else {
        (q as u64, exp)
    };
    F80 {
        significand: s,
        sign_exp: (u16::from(sign) << 15) | e,
    }
}

/// A built-in constant rounded by RC (no flags: SDM "FLD1/FLDL2T/...").
pub fn constant(which: u8, rc: u8) -> F80 {
    match which {
        ONE => F80 {
            significand: 1 << 63,
            sign_exp: BIAS as u16,
        },
        ZERO => zero(false),
        k => {
            let (s, e) = CONSTS[k as usize];
            const_round(s, e, false, rc)
        }
    }
}

// ---- comparisons and conversions to integers and binary32/64 ----------

/// Ordering of two non-NaN operands (zeros compare equal).
pub fn cmp_values(a: &Unp, b: &Unp) -> Ordering {
    use Cls::*;
    if a.cls == Zero && b.cls == Zero {
        return Ordering::Equal;
    }
    if a.sign != b.sign {
        return if a.sign {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let key = |u: &Unp| match u.cls {
        Zero => (0, 0, 0),
        Inf => (2, 0, 0),
        _ => (1, u.exp, u.sig),
    };
    let m = key(a).cmp(&key(b));
    if a.sign { m.reverse() } else { m }
}

/// Compares `a` with `b`: Some(ordering) or None for unordered, and
/// whether an unmasked exception was raised (the condition codes are set
/// anyway; the instruction does not pop). `quiet` (FUCOM*) raises #IA
/// only for SNaNs; FCOM* for any NaN.
pub fn compare(env: &mut Env, a: &Unp, b: &Unp, quiet: bool) -> (Option<Ordering>, bool) {
    if a.cls == Cls::Bad || b.cls == Cls::Bad {
        return (None, env.trap(IE));
    }
    if a.is_nan() || b.is_nan() {
        let sn = a.cls == Cls::SNaN || b.cls == Cls::SNaN;
        return (None, (sn || !quiet) && env.trap(IE));
    }
    let trapped = (a.den || b.den) && env.trap(DE);
    (Some(cmp_values(a, b)), trapped)
}

/// Converts to a signed integer of `bits` bits, rounding by RC (or toward
/// zero when `trunc`). Err(Trap) when an unmasked #IA suppresses the store;
/// a masked one yields the integer indefinite.
pub fn to_int(env: &mut Env, a: &Unp, bits: u32, trunc: bool) -> Result<i64, Trap> {
    let indefinite = i64::MIN >> (64 - bits);
    let invalid = |env: &mut Env| {
        if env.trap(IE) {
            Err(Trap)
        } else {
            Ok(indefinite)
        }
    };
    match a.cls {
        Cls::Zero => return Ok(0),
        Cls::Finite => {}
        _ => return invalid(env),
    }
    let rc = if trunc { 3 } else { env.rc() };
    // value = sig × 2^(exp − BIAS − 63)
    let sh = BIAS + 63 - a.exp;
    if sh <= 0 {
        // |value| ≥ 2^63: only −2^63 exactly fits (in 64 bits).
        if bits == 64 && sh == 0 && a.sign && a.sig == 1 << 63 {
            return Ok(i64::MIN);
        }
        return invalid(env);
    }
    let (q, inexact, up) = shr_round(u128::from(a.sig), sh as u32, rc, a.sign);
    let limit = 1u128 << (bits - 1);
    if q > limit || (q == limit && !a.sign) {
        return invalid(env);
    }
    if inexact {
        env.flags |= PE;
        env.c1 = up;
    }
    let m = q as u64 as i64;
    Ok(if a.sign { m.wrapping_neg() } else { m })
}

/// Converts to binary32/binary64 (`fmt` = [`SGL`](super::sf::SGL)/[`DBL`](super::sf::DBL)) as FST does;
/// Err(Trap) when an unmasked exception suppresses the store.
pub fn to_fmt(env: &mut Env, a: &Unp, fmt: &Fmt) -> Result<Out, Trap> {
    let nan = |sign: bool, sig: u64| Out {
        sign,
        exp: fmt.emax,
        sig: sig & (!0u64 << (64 - fmt.p)),
    };
    let r = match a.cls {
        Cls::Bad => {
            if env.trap(IE) {
                return Err(Trap);
            }
            nan(true, 0xC000_0000_0000_0000)
        }
        Cls::SNaN | Cls::QNaN => {
            if a.cls == Cls::SNaN && env.trap(IE) {
                return Err(Trap);
            }
            nan(a.sign, a.sig | 1 << 62)
        }
        Cls::Inf => Out {
            sign: a.sign,
            exp: fmt.emax,
            sig: 1 << 63,
        },
        Cls::Zero => Out {
            sign: a.sign,
            exp: fmt.emin - 1,
            sig: 0,
        },
        Cls::Finite => {
            let r = round_unp(env, a, fmt, fmt.p);
            if env.flags & (OE | UE) & !env.cw != 0 {
                // Unmasked #O/#U on a memory destination: nothing is
                // stored and only the OE/UE flag is reported.
                env.flags &= !PE;
                env.c1 = false;
                return Err(Trap);
            }
            r
        }
    };
    Ok(r)
}
