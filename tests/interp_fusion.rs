//! CMP/TEST + Jcc fusion and deferred flags (src/interp/exec/thread.rs,
//! `fused`; src/interp/flags.rs): a fused pair must leave exactly the
//! state the two instructions leave one at a time — branch outcome and all
//! six status flags (SDM Vol. 1 Appendix B, EFLAGS condition codes) — for
//! every condition, operand size and form, and one-at-a-time execution
//! (budget ending inside the pair) must agree with the fused run.

mod common;

use common::*;
use iced_x86::code_asm::*;

/// Status flags of RFLAGS: CF, PF, AF, ZF, SF, OF.
const STATUS: u64 = 0x8D5;

/// Emits `j<cc> target` for condition code `cc` (0 = O … 15 = G).
fn jcc(a: &mut CodeAssembler, cc: u8, target: CodeLabel) {
    match cc {
        0 => a.jo(target),
        1 => a.jno(target),
        2 => a.jb(target),
        3 => a.jae(target),
        4 => a.je(target),
        5 => a.jne(target),
        6 => a.jbe(target),
        7 => a.ja(target),
        8 => a.js(target),
        9 => a.jns(target),
        10 => a.jp(target),
        11 => a.jnp(target),
        12 => a.jl(target),
        13 => a.jge(target),
        14 => a.jle(target),
        _ => a.jg(target),
    }
    .unwrap();
}

#[derive(Clone, Copy, Debug)]
struct Case {
    test: bool,
    bits: u32,
    imm: bool,
    cc: u8,
    a: u64,
    b: u64,
}

/// CMP/TEST (`case`), then Jcc — adjacent (fused) or with a NOP between
/// (never fused). RCX = 1 when the branch is not taken; RDX = RFLAGS.
fn program(case: Case, adjacent: bool) -> Vec<u8> {
    asm(64, |a| {
        a.mov(rax, case.a).unwrap();
        a.mov(rbx, case.b).unwrap();
        a.xor(ecx, ecx).unwrap();
        let b32 = case.b as i32;
        match (case.test, case.bits, case.imm) {
            (false, 8, false) => a.cmp(al, bl),
            (false, 16, false) => a.cmp(ax, bx),
            (false, 32, false) => a.cmp(eax, ebx),
            (false, _, false) => a.cmp(rax, rbx),
            (false, 8, true) => a.cmp(al, b32),
            (false, 16, true) => a.cmp(ax, b32),
            (false, 32, true) => a.cmp(eax, b32),
            (false, _, true) => a.cmp(rax, b32),
            (true, 8, false) => a.test(al, bl),
            (true, 16, false) => a.test(ax, bx),
            (true, 32, false) => a.test(eax, ebx),
            (true, _, false) => a.test(rax, rbx),
            (true, 8, true) => a.test(al, b32),
            (true, 16, true) => a.test(ax, b32),
            (true, 32, true) => a.test(eax, b32),
            (true, _, true) => a.test(rax, b32),
        }
        .unwrap();
        if !adjacent {
            a.nop().unwrap();
        }
        let mut taken = a.create_label();
        jcc(a, case.cc, taken);
        a.mov(ecx, 1u32).unwrap();
        a.set_label(&mut taken).unwrap();
        a.pushfq().unwrap();
        a.pop(rdx).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    })
}

/// (not taken?, status flags, instructions retired) after running
/// `code`, `step` instructions per `run` call.
fn outcome(code: &[u8], step: u64) -> (u64, u64, u64) {
    let mut h = Harness::new("max", Mode::Long64, code);
    let mut left = 100u64;
    while h.plat.exit.is_none() && left > 0 {
        h.run(step);
        left -= 1;
    }
    assert_eq!(h.plat.exit, Some(0), "program did not finish");
    (h.reg(1), h.reg(2) & STATUS, h.interp.cpu.icount)
}

fn operands(bits: u32, imm: bool) -> Vec<u64> {
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut v = vec![
        0u64,
        1,
        0x7F,
        0x80,
        0xFF,
        0x7FFF_FFFF,
        0x8000_0000,
        u64::MAX,
    ];
    v.push(mask >> 1);
    v.push((mask >> 1) + 1);
    v.into_iter()
        .map(|x| {
            if imm {
                // Immediates are imm8/imm16/imm32, sign-extended to 64.
                let s = (x as u32 as i32) as i64 as u64;
                if bits == 64 { s } else { s & mask }
            } else {
                x & mask
            }
        })
        .collect()
}

#[test]
fn fused_pairs_match_unfused_for_every_condition_size_and_form() {
    let mut checked = 0;
    for test in [false, true] {
        for bits in [8u32, 16, 32, 64] {
            for imm in [false, true] {
                let vals = operands(bits, imm);
                for cc in 0u8..16 {
                    for &a in &vals {
                        for &b in &vals {
                            let case = Case {
                                test,
                                bits,
                                imm,
                                cc,
                                a,
                                b,
                            };
                            let fused = outcome(&program(case, true), 1000);
                            let apart = outcome(&program(case, false), 1000);
                            assert_eq!(
                                (fused.0, fused.1, fused.2 + 1),
                                apart,
                                "{case:x?}: (not taken, flags, insns) differ"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 2 * 16 * 100);
}

/// One instruction per run call: the pair is split by the budget, so the
/// CMP runs alone (its unfused handler) and the Jcc after it.
#[test]
fn budget_split_inside_a_fused_pair_matches_the_fused_run() {
    for cc in 0u8..16 {
        for (a, b) in [(1u64, 2u64), (2, 1), (5, 5), (0x80, 0x7F), (u64::MAX, 0)] {
            let case = Case {
                test: false,
                bits: 32,
                imm: false,
                cc,
                a,
                b,
            };
            let code = program(case, true);
            assert_eq!(outcome(&code, 1), outcome(&code, 1000), "{case:x?}");
        }
    }
}
