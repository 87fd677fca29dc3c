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
    /// The first operand is `[rsi]` (RSI = DATA, holding `a`) instead of
    /// a register; with `warm`, it is read first so that its page is in
    /// the TLB (else the fused handler's fast path declines).
    mem: bool,
    warm: bool,
}

/// CMP/TEST (`case`), then Jcc — adjacent (fused) or with a NOP between
/// (never fused). RCX = 1 when the branch is not taken; RDX = RFLAGS.
fn program(case: Case, adjacent: bool) -> Vec<u8> {
    asm(64, |a| {
        a.mov(rax, case.a).unwrap();
        a.mov(rbx, case.b).unwrap();
        a.mov(rsi, DATA).unwrap();
        if case.warm {
            a.mov(r8, qword_ptr(rsi)).unwrap();
        }
        a.xor(ecx, ecx).unwrap();
        let b32 = case.b as i32;
        let m = || -> AsmMemoryOperand { rsi + 0 };
        let r = if case.mem {
            match (case.test, case.bits, case.imm) {
                (false, 8, false) => a.cmp(byte_ptr(m()), bl),
                (false, 16, false) => a.cmp(word_ptr(m()), bx),
                (false, 32, false) => a.cmp(dword_ptr(m()), ebx),
                (false, _, false) => a.cmp(qword_ptr(m()), rbx),
                (false, 8, true) => a.cmp(byte_ptr(m()), b32),
                (false, 16, true) => a.cmp(word_ptr(m()), b32),
                (false, 32, true) => a.cmp(dword_ptr(m()), b32),
                (false, _, true) => a.cmp(qword_ptr(m()), b32),
                (true, 8, false) => a.test(byte_ptr(m()), bl),
                (true, 16, false) => a.test(word_ptr(m()), bx),
                (true, 32, false) => a.test(dword_ptr(m()), ebx),
                (true, _, false) => a.test(qword_ptr(m()), rbx),
                (true, 8, true) => a.test(byte_ptr(m()), b32),
                (true, 16, true) => a.test(word_ptr(m()), b32),
                (true, 32, true) => a.test(dword_ptr(m()), b32),
                (true, _, true) => a.test(qword_ptr(m()), b32),
            }
        } else {
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
        };
        r.unwrap();
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
    outcome_with(code, step, 0)
}

/// [`outcome`] with the qword at DATA set to `data` first.
fn outcome_with(code: &[u8], step: u64, data: u64) -> (u64, u64, u64) {
    let mut h = Harness::new("max", Mode::Long64, code);
    h.plat.mem.write_u64(DATA, data).expect("data");
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
                                mem: false,
                                warm: false,
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
                mem: false,
                warm: false,
            };
            let code = program(case, true);
            assert_eq!(outcome(&code, 1), outcome(&code, 1000), "{case:x?}");
        }
    }
}

/// CMP/TEST of a flat `[base + disp]` memory operand with a register or
/// an immediate, fused with the Jcc after it (`alu::fused_cmp_m_jcc`,
/// `thread::fused_mem`): the same branch, flags and count as the pair
/// apart, with the operand's page in the TLB (fast path) or not (the
/// CMP/TEST's full handler, then the Jcc's own op), and at every budget.
#[test]
fn fused_memory_pairs_match_unfused_for_every_condition_size_and_form() {
    let mut checked = 0;
    for test in [false, true] {
        for bits in [8u32, 16, 32, 64] {
            for imm in [false, true] {
                for cc in 0u8..16 {
                    for (a, b) in [(1u64, 2u64), (2, 1), (5, 5), (0x80, 0x7F), (u64::MAX, 0)] {
                        for warm in [false, true] {
                            let case = Case {
                                test,
                                bits,
                                imm,
                                cc,
                                a,
                                b,
                                mem: true,
                                warm,
                            };
                            let fused = outcome_with(&program(case, true), 1000, a);
                            let apart = outcome_with(&program(case, false), 1000, a);
                            assert_eq!(
                                (fused.0, fused.1, fused.2 + 1),
                                apart,
                                "{case:x?}: (not taken, flags, insns) differ"
                            );
                            let stepped = outcome_with(&program(case, true), 1, a);
                            assert_eq!(stepped, fused, "{case:x?}: one at a time");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 2 * 16 * 5 * 2);
}

/// A bounds check fused with the switch-table jump after it
/// (`alu::fused_cmp_jcc_switch`, `thread::fused_switch`): `cmp idx, N;
/// ja/jae default; jmp [table + idx * 8]`, for indexes in and out of
/// range, 32- and 64-bit compares with a register or an immediate, the
/// table's page cold (first pass) and warm, and at every budget — the
/// same path, registers and count as with a NOP between the Jcc and the
/// jump (never fused).
#[test]
fn fused_switch_dispatch_matches_unfused() {
    let program = |bits: u32, imm: bool, jae: bool, apart: bool| {
        asm(64, |a| {
            let mut top = a.create_label();
            let mut default = a.create_label();
            let mut next = a.create_label();
            let mut cases = [a.create_label(), a.create_label(), a.create_label()];
            a.mov(esi, 0u32).unwrap(); // the index: 0, 1, ... 5
            a.mov(r8d, 2u32).unwrap(); // the bounds for register compares
            a.mov(r9d, 3u32).unwrap();
            a.xor(r10d, r10d).unwrap(); // a trace of the cases taken
            // The table at DATA, then a TLB flush: the first jump through
            // it misses the TLB.
            a.mov(rbx, DATA).unwrap();
            for (i, l) in cases.iter().enumerate() {
                a.lea(rax, ptr(*l)).unwrap();
                a.mov(qword_ptr(rbx + 8 * i as i32), rax).unwrap();
            }
            a.mov(rax, cr3).unwrap();
            a.mov(cr3, rax).unwrap();
            a.set_label(&mut top).unwrap();
            a.mov(eax, esi).unwrap();
            // In range: 0..=2; JA compares with 2, JAE with 3.
            match (bits, imm, jae) {
                (32, true, false) => a.cmp(eax, 2),
                (32, true, true) => a.cmp(eax, 3),
                (32, false, _) => a.cmp(eax, if jae { r9d } else { r8d }),
                (_, true, false) => a.cmp(rax, 2),
                (_, true, true) => a.cmp(rax, 3),
                (_, false, _) => a.cmp(rax, if jae { r9 } else { r8 }),
            }
            .unwrap();
            if jae {
                a.jae(default).unwrap();
            } else {
                a.ja(default).unwrap();
            }
            if apart {
                a.nop().unwrap();
            }
            a.jmp(qword_ptr(rbx + rax * 8)).unwrap();
            for (i, l) in cases.iter_mut().enumerate() {
                a.set_label(l).unwrap();
                a.imul_3(r10, r10, 3).unwrap();
                a.add(r10, i as i32 + 1).unwrap();
                a.jmp(next).unwrap();
            }
            a.set_label(&mut default).unwrap();
            a.imul_3(r10, r10, 3).unwrap();
            a.add(r10, 7).unwrap();
            a.set_label(&mut next).unwrap();
            a.rdtsc().unwrap();
            a.add(r11, rax).unwrap();
            a.inc(esi).unwrap();
            a.cmp(esi, 6).unwrap();
            a.jb(top).unwrap();
            a.mov(eax, 0u32).unwrap();
            a.out(0xF4, eax).unwrap();
        })
    };
    let run = |code: &[u8], step: u64| {
        let mut h = Harness::new("max", Mode::Long64, code);
        let mut calls = 0;
        while h.plat.exit.is_none() && calls < 1000 {
            h.run(step);
            calls += 1;
        }
        assert_eq!(h.plat.exit, Some(0), "program did not finish (step {step})");
        (h.reg(10), h.reg(11), h.interp.cpu.icount)
    };
    for bits in [32u32, 64] {
        for imm in [false, true] {
            for jae in [false, true] {
                let fused = run(&program(bits, imm, jae, false), 100_000);
                let apart = run(&program(bits, imm, jae, true), 100_000);
                let what = format!("bits {bits}, imm {imm}, jae {jae}");
                // Cases 0, 1, 2, then three defaults.
                assert_eq!(
                    fused.0,
                    ((((3 + 2) * 3 + 3) * 3 + 7) * 3 + 7) * 3 + 7,
                    "{what}: cases"
                );
                // The NOP runs in the three in-range passes.
                assert_eq!(
                    (fused.0, fused.2 + 3),
                    (apart.0, apart.2),
                    "{what}: fused vs apart"
                );
                for step in [1, 2, 3, 4, 5, 7] {
                    assert_eq!(
                        run(&program(bits, imm, jae, false), step),
                        fused,
                        "{what}: step {step}"
                    );
                }
            }
        }
    }
}
