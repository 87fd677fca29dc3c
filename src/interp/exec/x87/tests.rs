//! Table-driven checks of the numeric core with results known exactly
//! (they run on any host; the x86-64 integration tests compare everything
//! with the host FPU as well).

use super::sf::{self, ADD, DBL, DIV, Env, MUL, SUB, exc::*, unpack};
use super::sfx;
use crate::state::fpu::F80;

fn v(sig: u64, se: u16) -> F80 {
    F80 {
        significand: sig,
        sign_exp: se,
    }
}

const ONE: F80 = F80 {
    significand: 1 << 63,
    sign_exp: 0x3FFF,
};
const THREE: F80 = F80 {
    significand: 0xC000_0000_0000_0000,
    sign_exp: 0x4000,
};

/// FCW with all exceptions masked, precision `pc` (0, 2, 3) and RC `rc`.
fn cw(pc: u16, rc: u16) -> u16 {
    0x007F | pc << 8 | rc << 10
}

#[test]
fn one_third_under_every_precision_and_rounding() {
    // (pc, rc, significand, C1)
    let table = [
        (3, 0, 0xAAAA_AAAA_AAAA_AAAB, true),
        (3, 1, 0xAAAA_AAAA_AAAA_AAAA, false),
        (3, 2, 0xAAAA_AAAA_AAAA_AAAB, true),
        (3, 3, 0xAAAA_AAAA_AAAA_AAAA, false),
        (2, 0, 0xAAAA_AAAA_AAAA_A800, false),
        (2, 2, 0xAAAA_AAAA_AAAA_B000, true),
        (0, 0, 0xAAAA_AB00_0000_0000, true),
        (0, 3, 0xAAAA_AA00_0000_0000, false),
    ];
    for (pc, rc, sig, c1) in table {
        let mut env = Env::new(cw(pc, rc));
        let r = sf::arith(&mut env, DIV, &unpack(ONE), &unpack(THREE)).unwrap();
        assert_eq!(r, v(sig, 0x3FFD), "pc={pc} rc={rc}");
        assert_eq!((env.flags, env.c1), (PE, c1), "pc={pc} rc={rc}");
    }
}

#[test]
fn sqrt_two_and_exact_squares() {
    let mut env = Env::new(cw(3, 0));
    let two = v(1 << 63, 0x4000);
    assert_eq!(
        sf::sqrt(&mut env, &unpack(two)),
        Some(v(0xB504_F333_F9DE_6484, 0x3FFF))
    );
    assert_eq!(env.flags, PE);
    let mut env = Env::new(cw(3, 2));
    assert_eq!(
        sf::sqrt(&mut env, &unpack(two)),
        Some(v(0xB504_F333_F9DE_6485, 0x3FFF))
    );
    let mut env = Env::new(cw(3, 0));
    let nine = v(0x9000_0000_0000_0000, 0x4002);
    assert_eq!(sf::sqrt(&mut env, &unpack(nine)), Some(THREE));
    assert_eq!(env.flags, 0);
}

#[test]
fn exceptions_and_special_results() {
    let zero = v(0, 0);
    let max = v(!0, 0x7FFE);
    let min_normal = v(1 << 63, 1);
    // (op, a, b, cw, result, flags)
    let table = [
        (DIV, zero, zero, cw(3, 0), Some(sf::INDEFINITE), IE),
        (DIV, ONE, zero, cw(3, 0), Some(v(1 << 63, 0x7FFF)), ZE),
        (DIV, ONE, zero, cw(3, 0) & !ZE, None, ZE),
        (MUL, max, THREE, cw(3, 0), Some(v(1 << 63, 0x7FFF)), OE | PE),
        (MUL, max, THREE, cw(3, 3), Some(max), OE | PE),
        // Unmasked #O: the exponent wraps by 24576.
        (
            MUL,
            max,
            v(1 << 63, 0x4000),
            cw(3, 0) & !OE,
            Some(v(!0, 0x7FFF - 0x6000)),
            OE,
        ),
        // Exact denormal result: no UE when masked.
        (
            DIV,
            min_normal,
            v(1 << 63, 0x4000),
            cw(3, 0),
            Some(v(1 << 62, 0)),
            0,
        ),
        // Inexact denormal result: UE and PE.
        (
            DIV,
            min_normal,
            THREE,
            cw(3, 0),
            Some(v(0x2AAA_AAAA_AAAA_AAAB, 0)),
            UE | PE,
        ),
        (SUB, THREE, THREE, cw(3, 1), Some(v(0, 0x8000)), 0),
        (ADD, v(1, 0), zero, cw(3, 0), Some(v(1, 0)), DE),
    ];
    for (k, (op, a, b, c, want, flags)) in table.into_iter().enumerate() {
        let mut env = Env::new(c);
        let r = sf::arith(&mut env, op, &unpack(a), &unpack(b));
        assert_eq!((r, env.flags), (want, flags), "row {k}");
    }
}

#[test]
fn conversions() {
    // Integers: round half to even, directed modes, truncation.
    let half = |x: f64| unpack(v((x.abs() * 2f64.powi(62)) as u64, 0x3FFF + 1));
    let table = [
        (2.5f64, 0u16, false, 2i64),
        (3.5, 0, false, 4),
        (2.5, 2, false, 3),
        (3.5, 3, false, 3),
        (3.5, 0, true, 3),
    ];
    for (x, rc, trunc, want) in table {
        let mut env = Env::new(cw(3, rc));
        let got = sfx::to_int(&mut env, &half(x), 32, trunc).unwrap();
        assert_eq!(got, want, "{x} rc={rc} trunc={trunc}");
        assert_eq!(env.flags, PE);
    }
    // Out of range: the integer indefinite.
    let mut env = Env::new(cw(3, 0));
    let big = unpack(v(1 << 63, 0x3FFF + 40));
    assert_eq!(
        sfx::to_int(&mut env, &big, 32, false),
        Ok(i64::from(i32::MIN))
    );
    assert_eq!(env.flags, IE);
    // 1/3 to binary64 and back.
    let mut env = Env::new(cw(3, 0));
    let third = v(0xAAAA_AAAA_AAAA_AAAB, 0x3FFD);
    let d = sfx::to_fmt(&mut env, &unpack(third), &DBL).unwrap().f64();
    assert_eq!(d, (1.0f64 / 3.0).to_bits());
    assert_eq!(
        sf::pack(&sf::from_f64(0.1f64.to_bits())).significand,
        0xCCCC_CCCC_CCCC_D000
    );
    // Packed BCD round trip.
    let bcd = [0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80];
    let x = sfx::from_bcd(&bcd);
    let mut env = Env::new(cw(3, 0));
    assert_eq!(sfx::to_bcd(&mut env, &unpack(x)), Ok(bcd));
}

#[test]
fn remainders_and_constants() {
    let mut env = Env::new(cw(3, 0));
    let seven = unpack(v(0xE000_0000_0000_0000, 0x4001));
    let two = unpack(v(1 << 63, 0x4000));
    let r = sfx::prem(&mut env, &seven, &two, false).unwrap();
    assert_eq!((r.value, r.q, r.partial), (ONE, 3, false));
    let r = sfx::prem(&mut env, &seven, &two, true).unwrap();
    assert_eq!((r.value, r.q), (v(1 << 63, 0xBFFF), 4), "7 − 4×2 = −1");
    // FLDPI rounds by RC.
    assert_eq!(sfx::constant(sfx::PI, 0).significand, 0xC90F_DAA2_2168_C235);
    assert_eq!(sfx::constant(sfx::PI, 1).significand, 0xC90F_DAA2_2168_C234);
    assert_eq!(env.flags, 0);
}

#[test]
fn abridged_tags_expand_by_contents() {
    let mut f = crate::state::fpu::FpuState::reset();
    f.regs[0] = ONE;
    f.regs[1] = v(0, 0);
    f.regs[2] = v(1, 0);
    f.regs[3] = v(1 << 63, 0x7FFF);
    let full = super::tags_from_abridged(&f, 0b1000_1111);
    // R7 (a zero) and R3..R0: special, special, zero, valid; R6..R4 empty.
    assert_eq!(full, 0b01_11_11_11_10_10_01_00);
    f.ftw = full;
    assert_eq!(f.abridged_tag(), 0b1000_1111);
}
