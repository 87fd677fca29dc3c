//! Transcendental x87 operations: F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN,
//! FSIN, FCOS, FSINCOS.
//!
//! The core function is evaluated in binary64 with the host's libm, on
//! operands scaled into binary64 range (exponents are handled exactly), and
//! products with ST(1) are done in exact 80-bit arithmetic, so denormal,
//! huge and tiny operands behave. Accuracy: about 2^-52 relative (an f64
//! ulp or two) where hardware gives about 2^-63; FSIN/FCOS/FPTAN lose
//! relative accuracy near multiples of π (the argument is rounded to 53
//! bits before reduction) and reduce large arguments with an exact π where
//! hardware uses a 66-bit approximation. PE is always raised for a finite
//! nonzero result (as hardware does, even for exact ones such as
//! log2(8)), UE for a denormal result, and C1 is left clear. Special
//! operands (zeros, infinities, NaNs, domain errors) follow the SDM tables;
//! F2XM1 returns |x| > 1 unchanged (with PE), as Intel processors do.

use super::sf::{self, BIAS, Cls, EXT, Env, INDEFINITE, Unp, exc::*, from_f64, nan1, nan2, pack};
use super::sfx::{CONSTS, L2E, LN2, ONE, PI, PI3_4, const_round, constant, inf, zero};
use crate::state::fpu::F80;

/// PE, and UE for a denormal result.
#[inline]
fn inexact(env: &mut Env, r: F80) -> F80 {
    env.flags |= PE;
    env.c1 = false;
    if r.sign_exp & 0x7FFF == 0 && r.significand != 0 {
        env.flags |= UE;
    }
    r
}

/// Rounds a binary64 result into 80 bits.
fn finish(env: &mut Env, x: f64) -> F80 {
    let u = from_f64(x.to_bits());
    let r = match u.cls {
        Cls::Finite => sf::round_unp(env, &u, &EXT, 64).f80(),
        _ => pack(&u),
    };
    inexact(env, r)
}

/// x × y in 80-bit precision (finite nonzero operands), flags merged.
fn mul_ext(env: &mut Env, x: &Unp, y: &Unp) -> F80 {
    let mut e = Env::new(env.cw | 0x0300);
    let r = sf::arith(&mut e, sf::MUL, x, y).unwrap_or(INDEFINITE);
    env.flags |= e.flags & (OE | UE);
    inexact(env, r)
}

/// A constant as an operand (rounded to nearest).
fn const_unp(k: u8) -> Unp {
    sf::unpack(constant(k, 0))
}

/// The significand as f64 in [1, 2] with the operand's sign.
#[inline]
fn mant(a: &Unp) -> f64 {
    let m = a.sig as f64 / (1u64 << 63) as f64;
    if a.sign { -m } else { m }
}

/// ±π × k/4 for the exact special results of FPATAN (k = 1, 2, 3, 4).
fn pi_frac(env: &Env, k: u8, sign: bool) -> F80 {
    let rc = env.rc();
    match k {
        3 => const_round(PI3_4.0, PI3_4.1, sign, rc),
        _ => {
            let (s, e) = CONSTS[PI as usize];
            let mut v = const_round(s, e, sign, rc);
            v.sign_exp -= match k {
                1 => 2,
                2 => 1,
                _ => 0,
            };
            v
        }
    }
}

fn check_den(env: &mut Env, a: &Unp) -> Option<()> {
    if a.den && env.trap(DE) {
        None
    } else {
        Some(())
    }
}

/// F2XM1: 2^x − 1.
pub fn f2xm1(env: &mut Env, a: &Unp) -> Option<F80> {
    match a.cls {
        Cls::Bad => return env.invalid(),
        Cls::QNaN | Cls::SNaN => return nan1(env, a),
        Cls::Zero => return Some(pack(a)),
        Cls::Inf => {
            return Some(if a.sign {
                F80 {
                    significand: 1 << 63,
                    sign_exp: 0x8000 | BIAS as u16,
                }
            } else {
                inf(false)
            });
        }
        Cls::Finite => {}
    }
    check_den(env, a)?;
    if a.exp >= BIAS && !(a.exp == BIAS && a.sig == 1 << 63) {
        env.flags |= PE;
        return Some(pack(a));
    }
    if a.exp < BIAS - 60 {
        return Some(mul_ext(env, a, &const_unp(LN2)));
    }
    let x = mant(a) * 2f64.powi(a.exp - BIAS);
    Some(finish(env, (x * std::f64::consts::LN_2).exp_m1()))
}

/// log2 of a finite positive operand, without cancellation near 1.
fn log2_of(a: &Unp) -> f64 {
    let e = a.exp - BIAS;
    if e == 0 || e == -1 {
        // x − 1 is exact in 80 bits.
        let d = i128::from(a.sig) - (1i128 << (63 - e));
        let t = d as f64 * 2f64.powi(e - 63);
        return t.ln_1p() / std::f64::consts::LN_2;
    }
    f64::from(e) + (a.sig as f64 / (1u64 << 63) as f64).log2()
}

/// FYL2X: ST(1) × log2(ST(0)); a = ST(0), b = ST(1).
pub fn yl2x(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    use Cls::*;
    if a.cls == Bad || b.cls == Bad {
        return env.invalid();
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b);
    }
    let one = a.cls == Finite && a.exp == BIAS && a.sig == 1 << 63;
    let bad = (a.sign && a.cls != Zero)
        || (a.cls == Zero && b.cls == Zero)
        || (a.cls == Inf && b.cls == Zero)
        || (one && b.cls == Inf);
    if bad {
        return env.invalid();
    }
    if a.cls == Zero {
        // #Z takes precedence over a denormal ST(1).
        if b.cls == Finite && env.trap(ZE) {
            return None;
        }
        return Some(inf(!b.sign));
    }
    check_den(env, a)?;
    check_den(env, b)?;
    if a.cls == Inf {
        return Some(inf(b.sign));
    }
    // log2(x) < 0 for x < 1.
    let neg_log = a.exp < BIAS;
    match b.cls {
        Zero => return Some(zero(b.sign ^ neg_log)),
        Inf => return Some(inf(b.sign ^ neg_log)),
        _ => {}
    }
    if one {
        return Some(zero(b.sign));
    }
    let l = from_f64(log2_of(a).to_bits());
    Some(mul_ext(env, b, &l))
}

/// FYL2XP1: ST(1) × log2(ST(0) + 1); a = ST(0), b = ST(1). Outside the
/// documented domain (|x| < 1 − √2/2) Intel processors still compute the
/// function for x > −1 and return x itself for x ≤ −1; nestor does the
/// same.
pub fn yl2xp1(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    use Cls::*;
    if a.cls == Bad || b.cls == Bad {
        return env.invalid();
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b);
    }
    if (a.cls == Zero && b.cls == Inf) || (a.cls == Inf && (a.sign || b.cls == Zero)) {
        return env.invalid();
    }
    check_den(env, a)?;
    check_den(env, b)?;
    match (a.cls, b.cls) {
        (Zero, _) | (_, Zero) => return Some(zero(a.sign ^ b.sign)),
        (_, Inf) | (Inf, _) => return Some(inf(a.sign ^ b.sign)),
        _ => {}
    }
    if a.sign && a.exp >= BIAS {
        env.flags |= PE;
        return Some(pack(a));
    }
    if a.exp < BIAS - 60 {
        // log2(1 + x) = x · log2(e) to well beyond 64 bits. Multiply
        // log2(e) first by the operand nearer 1 so that the intermediate
        // product neither underflows nor overflows.
        let (near, far) = if (a.exp - BIAS).abs() <= (b.exp - BIAS).abs() {
            (a, b)
        } else {
            (b, a)
        };
        let t = sf::unpack(mul_ext(env, near, &const_unp(L2E)));
        return Some(mul_ext(env, far, &t));
    }
    let l = if a.exp >= BIAS + 60 {
        log2_of(a)
    } else {
        let x = mant(a) * 2f64.powi(a.exp - BIAS);
        x.ln_1p() / std::f64::consts::LN_2
    };
    Some(mul_ext(env, b, &from_f64(l.to_bits())))
}

/// |x| < 2^63: the operand range of FPTAN/FSIN/FCOS/FSINCOS.
#[inline]
pub fn in_trig_range(a: &Unp) -> bool {
    a.cls != Cls::Finite || a.exp < BIAS + 63
}

/// Shared special cases of FSIN/FCOS/FSINCOS/FPTAN on ST(0): Err(result)
/// for a non-finite operand (None: suppressed).
fn trig_special(env: &mut Env, a: &Unp) -> Result<(), Option<F80>> {
    match a.cls {
        Cls::Bad | Cls::Inf => Err(env.invalid()),
        Cls::QNaN | Cls::SNaN => Err(nan1(env, a)),
        _ => {
            if a.den && env.trap(DE) {
                return Err(None);
            }
            Ok(())
        }
    }
}

/// The operand as f64 (|x| < 2^63).
#[inline]
fn small_f64(a: &Unp) -> f64 {
    mant(a) * 2f64.powi(a.exp - BIAS)
}

/// FSIN (`SIN`), FCOS (`COS`) and FSINCOS (both): (sin, cos); None when
/// suppressed. Flags only account for the results asked for.
pub fn sincos<const SIN: bool, const COS: bool>(env: &mut Env, a: &Unp) -> Option<(F80, F80)> {
    match trig_special(env, a) {
        Err(Some(n)) => return Some((n, n)),
        Err(None) => return None,
        Ok(()) => {}
    }
    let one = constant(ONE, 0);
    if a.cls == Cls::Zero {
        return Some((pack(a), one));
    }
    if a.exp < BIAS - 32 {
        // sin x = x and cos x = 1 to well beyond 64 bits.
        env.flags |= PE;
        let s = if SIN {
            let s = sf::round_unp(env, a, &EXT, 64).f80();
            inexact(env, s)
        } else {
            one
        };
        return Some((s, one));
    }
    let (s, c) = small_f64(a).sin_cos();
    let s = if SIN { finish(env, s) } else { one };
    let c = if COS { finish(env, c) } else { one };
    Some((s, c))
}

/// FPTAN: tan(ST(0)) (the caller pushes 1.0).
pub fn tan(env: &mut Env, a: &Unp) -> Option<F80> {
    if let Err(r) = trig_special(env, a) {
        return r;
    }
    if a.cls == Cls::Zero {
        return Some(pack(a));
    }
    if a.exp < BIAS - 32 {
        let t = sf::round_unp(env, a, &EXT, 64).f80();
        return Some(inexact(env, t));
    }
    Some(finish(env, small_f64(a).tan()))
}

/// FPATAN: atan2(ST(1), ST(0)); a = ST(0), b = ST(1).
pub fn patan(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    use Cls::*;
    if a.cls == Bad || b.cls == Bad {
        return env.invalid();
    }
    if a.is_nan() || b.is_nan() {
        return nan2(env, a, b);
    }
    check_den(env, a)?;
    check_den(env, b)?;
    // Exact special results: ±0, ±π/4, ±π/2, ±3π/4, ±π.
    match (a.cls, b.cls) {
        (Zero, Zero) | (Finite, Zero) | (Inf, Zero) | (Inf, Finite) => {
            return Some(if a.sign {
                env.flags |= PE;
                pi_frac(env, 4, b.sign)
            } else {
                zero(b.sign)
            });
        }
        (Zero, _) | (Finite, Inf) => {
            env.flags |= PE;
            return Some(pi_frac(env, 2, b.sign));
        }
        (Inf, Inf) => {
            env.flags |= PE;
            return Some(pi_frac(env, if a.sign { 3 } else { 1 }, b.sign));
        }
        _ => {}
    }
    let d = b.exp - a.exp;
    if d < -80 {
        // |y/x| < 2^-79: atan(y/x) = y/x, or ±π − y/x for x < 0.
        if a.sign {
            env.flags |= PE;
            return Some(pi_frac(env, 4, b.sign));
        }
        let mut e = Env::new(env.cw | 0x0300);
        let q = sf::arith(&mut e, sf::DIV, b, a).unwrap_or(INDEFINITE);
        env.flags |= e.flags & UE;
        return Some(inexact(env, q));
    }
    if d > 80 {
        env.flags |= PE;
        return Some(pi_frac(env, 2, b.sign));
    }
    let (x, y) = (mant(a), mant(b) * 2f64.powi(d));
    Some(finish(env, y.atan2(x)))
}
