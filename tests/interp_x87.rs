//! x87 instructions through the interpreter, checked against the host FPU
//! (x86-64 hosts): every case runs `frstor; <insn>; fnsave` on both and the
//! complete FPU state, flags and memory operand must match. See
//! `x87_oracle` for the harness.
#![cfg(target_arch = "x86_64")]

mod common;
mod x87_oracle;

use iced_x86::code_asm::*;
use x87_oracle::*;

/// Cases with ST(0) = a, ST(1) = b: all pairs of special values (control
/// words cycling), then random pairs.
fn pairs(seed: u64, n_random: usize) -> Vec<Case> {
    let vals = specials();
    let cws = control_words();
    let mut r = Rng(seed);
    let mut v = Vec::new();
    for (i, a) in vals.iter().enumerate() {
        for (j, b) in vals.iter().enumerate() {
            let cw = cws[(i * 7 + j * 3) % cws.len()];
            v.push(Case::new(cw, &[*a, *b]));
        }
    }
    for _ in 0..n_random {
        let cw = cws[r.below(cws.len() as u64) as usize];
        v.push(Case::new(cw, &[random(&mut r), random(&mut r)]));
    }
    v
}

/// Cases with ST(0) = a only (and sometimes a full stack).
fn singles(seed: u64, n_random: usize) -> Vec<Case> {
    let cws = control_words();
    let mut r = Rng(seed);
    let mut v = Vec::new();
    for (i, a) in specials().iter().enumerate() {
        for k in 0..4 {
            v.push(Case::new(cws[(i * 5 + k * 7) % cws.len()], &[*a]));
        }
    }
    for _ in 0..n_random {
        let cw = cws[r.below(cws.len() as u64) as usize];
        v.push(Case::new(cw, &[random(&mut r)]));
    }
    v
}

/// Empty-stack and full-stack variants (stack faults).
fn stack_faults(n_regs: &[usize]) -> Vec<Case> {
    let mut v = Vec::new();
    for &n in n_regs {
        for cw in [0x037F, 0x037E, 0x0340] {
            let regs: Vec<V> = (0..n).map(|i| (1 << 63, BIAS + i as u16)).collect();
            v.push(Case::new(cw, &regs));
        }
    }
    v
}

macro_rules! arith_reg_tests {
    ($($name:ident: $f:ident($a:expr, $b:expr);)*) => {$(
        #[test]
        fn $name() {
            let mut cases = pairs(0x1234 ^ stringify!($name).len() as u64, 1500);
            cases.extend(stack_faults(&[0, 1, 2]));
            check(stringify!($name), &|a| a.$f($a, $b).unwrap(), &cases, 0);
        }
    )*};
}

arith_reg_tests! {
    fadd_st0_st1: fadd_2(st0, st1);
    fadd_st1_st0: fadd_2(st1, st0);
    faddp_st1: faddp(st1, st0);
    fsub_st0_st1: fsub_2(st0, st1);
    fsub_st1_st0: fsub_2(st1, st0);
    fsubp_st1: fsubp(st1, st0);
    fsubr_st0_st1: fsubr_2(st0, st1);
    fsubr_st1_st0: fsubr_2(st1, st0);
    fsubrp_st1: fsubrp(st1, st0);
    fmul_st0_st1: fmul_2(st0, st1);
    fmulp_st1: fmulp(st1, st0);
    fdiv_st0_st1: fdiv_2(st0, st1);
    fdiv_st1_st0: fdiv_2(st1, st0);
    fdivp_st1: fdivp(st1, st0);
    fdivr_st0_st1: fdivr_2(st0, st1);
    fdivr_st1_st0: fdivr_2(st1, st0);
    fdivrp_st1: fdivrp(st1, st0);
}
