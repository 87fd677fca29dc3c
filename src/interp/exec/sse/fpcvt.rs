//! Conversions under MXCSR: float ↔ integer (rounding per RC or
//! truncating, integer indefinite on invalid), binary64 ↔ binary32,
//! binary32 ↔ binary16 (F16C), and rounding to integral values (ROUND*).

use super::exact::Ex;
use super::fp::{Float, Fx, RD, RN, RU, mx};

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
    if r.to_f64() as i128 == i128::from(i) {
        return r;
    }
    e.round(r, Ex::Int(i))
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
    e.finish(r, || Ex::Val(x))
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
