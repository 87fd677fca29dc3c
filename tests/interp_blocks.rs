//! Decoded blocks and how the interpreter counts them
//! (src/interp/decode.rs `build_block`, src/interp/exec/thread.rs):
//! unconditional jumps followed inside a block, and the retired-instruction
//! count, which is added per block on entry and corrected by every op that
//! leaves early or reads it. Whatever the instruction budget (the budget
//! ending inside a block runs it one instruction at a time), a program
//! must leave the same registers, read the same time stamps (RDTSC is
//! derived from the count) and retire the same number of instructions.

mod common;

use common::*;
use iced_x86::code_asm::*;

/// Runs `code` (with `with_idt64` pointing every vector at `handler`, if
/// any) to its exit, `step` instructions per `run` call: (RBX, R9, R10,
/// instructions retired).
fn outcome(code: &[u8], handler: Option<u64>, step: u64) -> (u64, u64, u64, u64) {
    let mut h = Harness::new("max", Mode::Long64, code);
    if let Some(at) = handler {
        h = h.with_idt64(at);
    }
    let mut calls = 0u64;
    while h.plat.exit.is_none() && calls < 10_000 {
        h.run(step);
        calls += 1;
    }
    assert_eq!(h.plat.exit, Some(0), "program did not finish (step {step})");
    (h.reg(3), h.reg(9), h.reg(10), h.interp.cpu.icount)
}

/// Every budget from one instruction per call up to whole blocks.
const STEPS: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 11, 13, 100_000];

/// A loop whose body jumps forward and back inside one page (the block
/// builder follows both jumps) and reads the time stamp mid-block.
fn jump_loop() -> Vec<u8> {
    asm(64, |a| {
        let mut top = a.create_label();
        let mut fwd = a.create_label();
        let mut back = a.create_label();
        let mut done = a.create_label();
        a.mov(ecx, 50u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(rbx, 1).unwrap();
        a.jmp(fwd).unwrap();
        a.set_label(&mut back).unwrap();
        a.add(rbx, 3).unwrap();
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.dec(ecx).unwrap();
        a.jne(top).unwrap();
        a.jmp(done).unwrap();
        a.set_label(&mut fwd).unwrap();
        a.add(rbx, 2).unwrap();
        a.jmp(back).unwrap();
        a.set_label(&mut done).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    })
}

#[test]
fn followed_jumps_retire_and_time_the_same_at_every_budget() {
    let code = jump_loop();
    let whole = outcome(&code, None, 100_000);
    // mov; 50 × (add, jmp, add, jmp, add, rdtsc, add, dec, jne); jmp;
    // mov; out.
    assert_eq!(whole.3, 1 + 50 * 9 + 3, "instructions retired");
    assert_eq!(whole.0, 50 * 6, "RBX");
    assert_ne!(whole.1, 0, "RDTSC sum");
    for step in STEPS {
        assert_eq!(outcome(&code, None, step), whole, "step {step}");
    }
}

/// #UD in the middle of a block reached through a followed jump: the
/// handler skips the UD2 and counts in R10. The count at the fault must
/// be exact (the delivered exception adds one to the instruction clock).
#[test]
fn fault_inside_a_block_leaves_the_exact_count_at_every_budget() {
    let handler_at = CODE + 0x800;
    let code = asm(64, |a| {
        let mut top = a.create_label();
        let mut fwd = a.create_label();
        let mut done = a.create_label();
        a.mov(ecx, 20u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.add(rbx, 1).unwrap();
        a.jmp(fwd).unwrap();
        a.set_label(&mut fwd).unwrap();
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.ud2().unwrap();
        a.add(rbx, 2).unwrap();
        a.dec(ecx).unwrap();
        a.jne(top).unwrap();
        a.jmp(done).unwrap();
        a.set_label(&mut done).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    // The handler at CODE + 0x800.
    let mut code = code;
    assert!(code.len() < 0x800);
    code.resize(0x800, 0xCC);
    // Handler: r10 += 1; skip the 2-byte UD2; return.
    code.extend(asm(64, |a| {
        a.add(r10, 1).unwrap();
        a.add(qword_ptr(rsp), 2).unwrap();
        a.iretq().unwrap();
    }));
    let whole = outcome(&code, Some(handler_at), 100_000);
    assert_eq!(whole.2, 20, "faults taken");
    assert_eq!(whole.0, 20 * 3, "RBX");
    // mov; 20 × (add, jmp, rdtsc, add, [#UD: 1], handler 3, add, dec,
    // jne); jmp; mov; out.
    assert_eq!(whole.3, 1 + 20 * 11 + 3, "instruction clock");
    for step in STEPS {
        assert_eq!(outcome(&code, Some(handler_at), step), whole, "step {step}");
    }
}

/// Code patched at a followed jump's target (same page) runs patched the
/// next time round: the block that followed the jump is dropped with the
/// page's other blocks.
#[test]
fn patching_a_followed_jumps_target_takes_effect() {
    let code = asm(64, |a| {
        let mut top = a.create_label();
        let mut target = a.create_label();
        let mut imm = a.create_label();
        let mut done = a.create_label();
        a.mov(ecx, 2u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.jmp(target).unwrap();
        a.set_label(&mut done).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
        a.set_label(&mut target).unwrap();
        // mov edx, imm32 (BA imm32): the immediate is at label `imm`.
        a.db(&[0xBA]).unwrap();
        a.set_label(&mut imm).unwrap();
        a.db(&[1, 0, 0, 0]).unwrap();
        a.add(rbx, rdx).unwrap();
        a.lea(rsi, ptr(imm)).unwrap();
        a.mov(dword_ptr(rsi), 7u32).unwrap();
        a.dec(ecx).unwrap();
        a.jne(top).unwrap();
        a.jmp(done).unwrap();
    });
    for step in STEPS {
        let sum = outcome(&code, None, step).0;
        assert_eq!(sum, 1 + 7, "step {step}");
    }
}

/// Devices see the exact instruction count: a port write's `now` is the
/// number of instructions retired before it (one nanosecond each, from
/// zero in the test harness) plus the I/O time charged by the writes
/// before it, wherever the write sits in its block —
/// first op, after a followed jump, after a fault — and at every budget.
#[test]
fn port_writes_see_the_exact_count_at_every_budget() {
    let handler_at = CODE + 0x800;
    let mut code = asm(64, |a| {
        let mut fwd = a.create_label();
        a.out(0x80, al).unwrap(); // 0 before it
        a.nop().unwrap();
        a.out(0x80, al).unwrap(); // 2
        a.jmp(fwd).unwrap();
        a.int3().unwrap();
        a.set_label(&mut fwd).unwrap();
        a.nop().unwrap();
        a.out(0x80, al).unwrap(); // 5 (out, nop, out, jmp, nop)
        a.ud2().unwrap(); // #UD: delivery counts 1, the handler 3
        a.out(0x80, al).unwrap(); // 10
        a.add(rbx, 1).unwrap();
        a.add(rbx, 1).unwrap();
        a.out(0x80, al).unwrap(); // 13
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap(); // 15
    });
    assert!(code.len() < 0x800);
    code.resize(0x800, 0xCC);
    code.extend(asm(64, |a| {
        a.add(r10, 1).unwrap();
        a.add(qword_ptr(rsp), 2).unwrap();
        a.iretq().unwrap();
    }));
    for step in STEPS {
        let mut h = Harness::new("max", Mode::Long64, &code).with_idt64(handler_at);
        let mut calls = 0;
        while h.plat.exit.is_none() && calls < 1000 {
            h.run(step);
            calls += 1;
        }
        assert_eq!(h.plat.exit, Some(0), "step {step}");
        // Each port write also charges a fixed I/O time after it.
        let now = &h.plat.io_now;
        let io_ns = now[1] - now[0] - 2;
        let exact: Vec<u64> = now
            .iter()
            .enumerate()
            .map(|(i, t)| t - io_ns * i as u64)
            .collect();
        assert_eq!(exact, [0, 2, 5, 10, 13, 15], "step {step}");
        assert_eq!(h.interp.cpu.icount, 16, "step {step}");
    }
}

/// Loops whose branch goes back to their own block's start re-enter the
/// block directly (`thread::pure_loop`, `thread::fused_loop`): a plain
/// Jcc and a CMP+Jcc pair, with a time-stamp read inside each loop.
#[test]
fn self_loops_retire_and_time_the_same_at_every_budget() {
    let code = asm(64, |a| {
        let mut first = a.create_label();
        let mut second = a.create_label();
        a.mov(ecx, 30u32).unwrap();
        a.xor(esi, esi).unwrap();
        // Block `first`: ends in DEC + JNE back to itself.
        a.set_label(&mut first).unwrap();
        a.add(rbx, 1).unwrap();
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.dec(ecx).unwrap();
        a.jne(first).unwrap();
        // Block `second`: ends in CMP + JB (fused) back to itself.
        a.mov(ecx, 25u32).unwrap();
        a.set_label(&mut second).unwrap();
        a.add(rbx, 2).unwrap();
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.inc(esi).unwrap();
        a.cmp(esi, ecx).unwrap();
        a.jb(second).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let whole = outcome(&code, None, 100_000);
    assert_eq!(whole.0, 30 + 2 * 25, "RBX");
    // mov, xor; 30 × 5; mov; 25 × 6; mov, out.
    assert_eq!(whole.3, 2 + 30 * 5 + 1 + 25 * 6 + 2, "instructions retired");
    for step in STEPS {
        assert_eq!(outcome(&code, None, step), whole, "step {step}");
    }
}

/// Instructions that only retire (NOPs, followed jumps) get no op inside
/// a block: they are counted with the op before them (`Op::before`). A
/// loop whose block starts with a NOP (kept: a block's first op), holds
/// NOPs and a followed jump before its time-stamp read and its loop
/// branch (which re-enters the block, counting through `before`), and a
/// CMP split from its Jcc by a NOP (not fused).
#[test]
fn folded_nops_and_jumps_retire_and_time_the_same_at_every_budget() {
    let code = asm(64, |a| {
        let mut top = a.create_label();
        let mut fwd = a.create_label();
        let mut back = a.create_label();
        let mut second = a.create_label();
        a.mov(ecx, 20u32).unwrap();
        a.set_label(&mut top).unwrap();
        a.nop().unwrap();
        a.add(rbx, 1).unwrap();
        a.nop().unwrap();
        a.db(&[0x0F, 0x1F, 0x44, 0x00, 0x00]).unwrap(); // NOP dword [rax+rax]
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.jmp(fwd).unwrap();
        a.set_label(&mut back).unwrap();
        a.dec(ecx).unwrap();
        a.nop().unwrap();
        a.jne(top).unwrap();
        a.jmp(second).unwrap();
        a.set_label(&mut fwd).unwrap();
        a.nop().unwrap();
        a.add(rbx, 2).unwrap();
        a.jmp(back).unwrap();
        a.set_label(&mut second).unwrap();
        a.add(rbx, 4).unwrap();
        a.inc(esi).unwrap();
        a.rdtsc().unwrap();
        a.add(r9, rax).unwrap();
        a.cmp(esi, 15).unwrap();
        a.nop().unwrap();
        a.jb(second).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let whole = outcome(&code, None, 100_000);
    assert_eq!(whole.0, 20 * 3 + 15 * 4, "RBX");
    // mov; 20 × (nop, add, nop, nop, rdtsc, add, jmp, nop, add, jmp, dec,
    // nop, jne); jmp; 15 × (add, inc, rdtsc, add, cmp, nop, jb); mov, out.
    assert_eq!(
        whole.3,
        1 + 20 * 13 + 1 + 15 * 7 + 2,
        "instructions retired"
    );
    for step in STEPS {
        assert_eq!(outcome(&code, None, step), whole, "step {step}");
    }
}

/// An ALU op whose flags the next op overwrites runs without computing
/// them (`alu::dead_flags_form`); the registers and the flags after the
/// pair, and after a pair whose second op reads the flags instead (ADC),
/// must be those of one-at-a-time execution, for every operation, form
/// and size.
#[test]
fn dead_flag_ops_leave_the_state_of_one_at_a_time_execution() {
    type Emit = fn(&mut CodeAssembler);
    let firsts: [(&str, Emit); 10] = [
        ("add r,r", |a| a.add(eax, ebx).unwrap()),
        ("or r,r", |a| a.or(rax, rbx).unwrap()),
        ("and r,r", |a| a.and(ax, bx).unwrap()),
        ("sub r,r", |a| a.sub(al, bl).unwrap()),
        ("xor r,r", |a| a.xor(eax, ebx).unwrap()),
        ("add r,i", |a| a.add(rax, -7).unwrap()),
        ("or r,i", |a| a.or(eax, 0x40).unwrap()),
        ("and r,i", |a| a.and(ax, 0x7F0F).unwrap()),
        ("sub r,i", |a| a.sub(al, 0x81).unwrap()),
        ("xor r,i", |a| a.xor(rax, 0x1234).unwrap()),
    ];
    let seconds: [(&str, Emit); 5] = [
        ("cmp", |a| a.cmp(ecx, edx).unwrap()),
        ("test", |a| a.test(rcx, 1).unwrap()),
        ("sub", |a| a.sub(ecx, edx).unwrap()),
        // ADC reads CF: the first op's flags are live.
        ("adc", |a| a.adc(ecx, edx).unwrap()),
        ("nop", |a| a.nop().unwrap()),
    ];
    for (x, y) in [
        (0x8000_0001u64, 0x7FFF_FFFFu64),
        (0, 0),
        (u64::MAX, 1),
        (0x80, 0x80),
    ] {
        for (fname, first) in firsts {
            for (sname, second) in seconds {
                let code = asm(64, |a| {
                    a.mov(rax, x).unwrap();
                    a.mov(rbx, y).unwrap();
                    a.mov(rcx, y).unwrap();
                    a.mov(rdx, x).unwrap();
                    first(a);
                    second(a);
                    a.pushfq().unwrap();
                    a.pop(r9).unwrap();
                    a.and(r9, 0x8D5).unwrap();
                    a.mov(rbx, rax).unwrap();
                    a.mov(r10, rcx).unwrap();
                    a.mov(eax, 0u32).unwrap();
                    a.out(0xF4, eax).unwrap();
                });
                let whole = outcome(&code, None, 100_000);
                let single = outcome(&code, None, 1);
                assert_eq!(whole, single, "{fname}; {sname} with {x:#x}, {y:#x}");
            }
        }
    }
}
