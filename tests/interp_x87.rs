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

/// Memory-operand cases: ST(0) from a subset of specials and random
/// values, the operand from `mems` (little-endian bytes).
fn mem_cases(seed: u64, mems: &[Vec<u8>], n_random: usize) -> Vec<Case> {
    let cws = control_words();
    let mut r = Rng(seed);
    let vals = specials();
    let mut v = Vec::new();
    for (i, m) in mems.iter().enumerate() {
        for (j, a) in vals.iter().enumerate().filter(|(j, _)| (i + j) % 3 == 0) {
            let cw = cws[(i * 3 + j * 5) % cws.len()];
            v.push(Case::new(cw, &[*a]).with_mem(m));
        }
        for _ in 0..n_random {
            let cw = cws[r.below(cws.len() as u64) as usize];
            v.push(Case::new(cw, &[random(&mut r)]).with_mem(m));
        }
    }
    v
}

fn m32s() -> Vec<Vec<u8>> {
    f32s(&mut Rng(7))
        .iter()
        .map(|x| x.to_le_bytes().to_vec())
        .collect()
}
fn m64s() -> Vec<Vec<u8>> {
    f64s(&mut Rng(8))
        .iter()
        .map(|x| x.to_le_bytes().to_vec())
        .collect()
}
fn mints(bytes: u32) -> Vec<Vec<u8>> {
    ints(&mut Rng(9 + u64::from(bytes)), bytes)
        .iter()
        .map(|x| x.to_le_bytes()[..bytes as usize].to_vec())
        .collect()
}

macro_rules! arith_mem_tests {
    ($($name:ident: $f:ident($m:ident, $vals:expr);)*) => {$(
        #[test]
        fn $name() {
            let mut cases = mem_cases(0x777 ^ stringify!($name).len() as u64, &$vals, 20);
            cases.extend(stack_faults(&[0]));
            check(stringify!($name), &|a| a.$f($m(rdx)).unwrap(), &cases, 0);
        }
    )*};
}

arith_mem_tests! {
    fadd_m32: fadd(dword_ptr, m32s());
    fsub_m32: fsub(dword_ptr, m32s());
    fsubr_m32: fsubr(dword_ptr, m32s());
    fmul_m32: fmul(dword_ptr, m32s());
    fdiv_m32: fdiv(dword_ptr, m32s());
    fdivr_m32: fdivr(dword_ptr, m32s());
    fadd_m64: fadd(qword_ptr, m64s());
    fsub_m64: fsub(qword_ptr, m64s());
    fmul_m64: fmul(qword_ptr, m64s());
    fdivr_m64: fdivr(qword_ptr, m64s());
    fiadd_m16: fiadd(word_ptr, mints(2));
    fisub_m32: fisub(dword_ptr, mints(4));
    fisubr_m16: fisubr(word_ptr, mints(2));
    fimul_m32: fimul(dword_ptr, mints(4));
    fidiv_m16: fidiv(word_ptr, mints(2));
    fidivr_m32: fidivr(dword_ptr, mints(4));
    fcom_m32: fcom(dword_ptr, m32s());
    fcomp_m64: fcomp(qword_ptr, m64s());
    ficom_m16: ficom(word_ptr, mints(2));
    ficomp_m32: ficomp(dword_ptr, mints(4));
}

macro_rules! reg_tests {
    ($($name:ident: |$a:ident| $e:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut cases = pairs(0x4321 ^ stringify!($name).len() as u64, 1000);
            cases.extend(stack_faults(&[0, 1, 2]));
            // Flags as inputs too (FCMOVcc): vary them per case.
            for (k, c) in cases.iter_mut().enumerate() {
                c.flags = [0u64, 1, 0x40, 0x41, 4, 0x45, 0x8D5][k % 7];
            }
            check(stringify!($name), &|$a: &mut CodeAssembler| $e.unwrap(), &cases, 0);
        }
    )*};
}

reg_tests! {
    fcom_st1: |a| a.fcom_2(st0, st1);
    fcomp_st1: |a| a.fcomp_2(st0, st1);
    fcompp: |a| a.fcompp();
    fucom_st1: |a| a.fucom(st0, st1);
    fucomp_st1: |a| a.fucomp(st0, st1);
    fucompp: |a| a.fucompp();
    fcomi_st1: |a| a.fcomi(st0, st1);
    fcomip_st1: |a| a.fcomip(st0, st1);
    fucomi_st1: |a| a.fucomi(st0, st1);
    fucomip_st1: |a| a.fucomip(st0, st1);
    fscale: |a| a.fscale();
    fprem: |a| a.fprem();
    fprem1: |a| a.fprem1();
    fxch_st1: |a| a.fxch(st0, st1);
    fst_st1: |a| a.fst(st1);
    fstp_st1: |a| a.fstp(st1);
    fld_st1: |a| a.fld(st1);
    fcmovb: |a| a.fcmovb(st0, st1);
    fcmove: |a| a.fcmove(st0, st1);
    fcmovbe: |a| a.fcmovbe(st0, st1);
    fcmovu: |a| a.fcmovu(st0, st1);
    fcmovnb: |a| a.fcmovnb(st0, st1);
    fcmovne: |a| a.fcmovne(st0, st1);
    fcmovnbe: |a| a.fcmovnbe(st0, st1);
    fcmovnu: |a| a.fcmovnu(st0, st1);
    ffree_st1: |a| a.ffree(st1);
    ffreep_st1: |a| a.ffreep(st1);
}

macro_rules! single_tests {
    ($($name:ident: |$a:ident| $e:expr, $ign:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut cases = singles(0x999 ^ stringify!($name).len() as u64, 1500);
            cases.extend(stack_faults(&[0, 1, 7, 8]));
            check(stringify!($name), &|$a: &mut CodeAssembler| $e.unwrap(), &cases, $ign);
        }
    )*};
}

single_tests! {
    ftst: |a| a.ftst(), 0;
    fxam: |a| a.fxam(), 0;
    fchs: |a| a.fchs(), 0;
    fabs: |a| a.fabs(), 0;
    fsqrt: |a| a.fsqrt(), 0;
    frndint: |a| a.frndint(), 0;
    fxtract: |a| a.fxtract(), 0;
    fincstp: |a| a.fincstp(), 0;
    fdecstp: |a| a.fdecstp(), 0;
    fnop: |a| a.fnop(), 0;
    fld1: |a| a.fld1(), 0;
    fldz: |a| a.fldz(), 0;
    fldpi: |a| a.fldpi(), 0;
    fldl2e: |a| a.fldl2e(), 0;
    fldl2t: |a| a.fldl2t(), 0;
    fldlg2: |a| a.fldlg2(), 0;
    fldln2: |a| a.fldln2(), 0;
}
