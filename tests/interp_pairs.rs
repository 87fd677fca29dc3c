//! Paired ops (src/interp/exec/pair.rs, `thread::pair`): adjacent
//! register moves, sign extensions, LEAs, register ADD/SUB and flat
//! loads/stores run by one handler must leave exactly the state of
//! one-at-a-time execution — for every combination of kinds, with the
//! flags of each op live or dead, when either op's fast path declines (its
//! page not yet in the TLB), and when the second op faults.

mod common;

use common::*;
use iced_x86::code_asm::*;

/// One instruction of each pairing kind (`pair.rs`); the ADD/SUB ones
/// pair with their flags live or dead as their neighbour decides.
const KINDS: [&str; 14] = [
    "mov r32, r32",
    "mov r64, r64",
    "movsxd r64, r32",
    "lea r32, [base+disp]",
    "mov r32, [base+disp]",
    "mov r32, [base+index*4+disp]",
    "mov [base+index*4+disp], r32",
    "mov [base+disp], r8",
    "mov [base+disp], imm8",
    "add r32, r32",
    "add r64, imm8",
    "sub r64, imm32",
    "add r32, imm8",
    "sub r32, imm32",
];

/// Does kind `kind` overwrite every status flag (so the flags of the
/// instruction before it are dead)?
fn overwrites_flags(kind: usize) -> bool {
    kind >= 9
}

/// Does kind `kind` pair with its flags live (`dead` false) or dead?
/// (SUB pairs only in its flag-less form.)
fn pairs(kind: usize, dead: bool) -> bool {
    kind != 11 || dead
}

/// Emits an instruction of kind `kind` addressing memory through `base`
/// (RCX = 3 is the index). Each kind reads what an earlier one may have
/// written (R12, R13), so the order inside a pair shows.
fn emit(a: &mut CodeAssembler, kind: usize, base: AsmRegister64) {
    match kind {
        0 => a.mov(r12d, r13d),
        1 => a.mov(r13, r12),
        2 => a.movsxd(r12, r13d),
        3 => a.lea(r13d, base + 0x7FF0),
        4 => a.mov(r12d, dword_ptr(base + 16)),
        5 => a.mov(r13d, dword_ptr(base + rcx * 4 + 32)),
        6 => a.mov(dword_ptr(base + rcx * 4 + 64), r12d),
        7 => a.mov(byte_ptr(base + 24), r12b),
        8 => a.mov(byte_ptr(base + 25), 0x5A),
        9 => a.add(r12d, r13d),
        10 => a.add(r13, 0x44),
        11 => a.sub(r12, 0x1234),
        12 => a.add(r13d, -3),
        _ => a.sub(r12d, 0x7654_3210),
    }
    .unwrap();
}

/// Kind `first` then kind `second`, twice: the first through RBX (page
/// DATA), the second through RSI (the next page). With `warm`, DATA's page
/// is read first, so the first pass has the first op's page in the TLB and
/// not the second's. After the pair comes an OR (the second's flags are
/// dead) or, with `reads_flags`, an ADC (they are live); the flags end in
/// R14.
fn program(first: usize, second: usize, warm: bool, reads_flags: bool) -> Vec<u8> {
    asm(64, |a| {
        let mut again = a.create_label();
        a.mov(rbx, DATA).unwrap();
        a.mov(rsi, DATA + 0x1000).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.mov(r13, 0xFFFF_FFFF_8765_4321u64).unwrap();
        a.mov(r12, 0x0123_4567_89AB_CDEFu64).unwrap();
        a.mov(edi, 2u32).unwrap();
        if warm {
            a.mov(eax, dword_ptr(rbx)).unwrap();
            // Keeps the load from pairing with the first op.
            a.xor(eax, eax).unwrap();
        }
        a.set_label(&mut again).unwrap();
        emit(a, first, rbx);
        emit(a, second, rsi);
        if reads_flags {
            a.adc(r12, 0x111).unwrap();
        } else {
            // Overwrites the flags and is of no pairing kind.
            a.or(r12, 0x111).unwrap();
        }
        a.pushfq().unwrap();
        a.pop(r14).unwrap();
        a.dec(edi).unwrap();
        a.jne(again).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    })
}

/// Registers R12, R13, the dwords the stores may write, instructions
/// retired, and pairs built, after running `code` `step` instructions per
/// call.
fn outcome(code: &[u8], step: u64) -> ([u64; 8], u64) {
    let mut h = Harness::new("max", Mode::Long64, code);
    for (i, page) in [DATA, DATA + 0x1000].into_iter().enumerate() {
        for off in (0..0x100).step_by(4) {
            let v = 0x1000_0000 * (i as u32 + 1) + off as u32 * 0x0101;
            h.plat.mem.write_u32(page + off, v).expect("data");
        }
    }
    let mut calls = 0;
    while h.plat.exit.is_none() && calls < 1000 {
        h.run(step);
        calls += 1;
    }
    assert_eq!(h.plat.exit, Some(0), "program did not finish (step {step})");
    let rd = |a: u64| u64::from(h.plat.mem.read_u32(a).expect("read"));
    (
        [
            h.reg(12),
            h.reg(13),
            rd(DATA + 76),
            rd(DATA + 0x1000 + 76),
            rd(DATA + 24),
            rd(DATA + 0x1000 + 24),
            h.reg(14) & 0x8D5,
            h.interp.cpu.icount,
        ],
        h.interp.cpu.stats.pairs_built,
    )
}

#[test]
fn every_pair_of_kinds_leaves_the_state_of_one_at_a_time_execution() {
    for (first, first_name) in KINDS.iter().enumerate() {
        for (second, second_name) in KINDS.iter().enumerate() {
            for (warm, reads_flags) in [(false, false), (true, false), (true, true)] {
                let code = program(first, second, warm, reads_flags);
                let (chained, built) = outcome(&code, 100_000);
                let expect = pairs(first, overwrites_flags(second)) && pairs(second, !reads_flags);
                assert_eq!(
                    built >= 1,
                    expect,
                    "{first_name} + {second_name} (reads flags {reads_flags}): paired?"
                );
                for step in [1, 2, 3, 5] {
                    let (stepped, _) = outcome(&code, step);
                    assert_eq!(
                        stepped, chained,
                        "{first_name} + {second_name} (warm {warm}, reads flags {reads_flags}), step {step}"
                    );
                }
            }
        }
    }
}

/// The second op of a pair faults (#GP: a non-canonical address, which
/// its fast path declines): the fault is raised by its own handler with
/// the count exact, the handler (which makes the address canonical) runs,
/// and the load is retried.
#[test]
fn a_fault_in_the_second_op_of_a_pair_is_exact() {
    let handler_at = CODE + 0x800;
    let mut code = asm(64, |a| {
        a.mov(rbx, 0x8000_0000_0000_0000u64 | DATA).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.mov(r13, 0xFFFF_FFFF_8765_4321u64).unwrap();
        a.movsxd(r12, r13d).unwrap();
        a.mov(r13d, dword_ptr(rbx + rcx * 4 + 32)).unwrap();
        a.rdtsc().unwrap();
        a.mov(r9, rax).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    code.resize(0x800, 0xCC);
    code.extend(asm(64, |a| {
        a.add(r10, 1).unwrap();
        a.mov(rbx, DATA).unwrap();
        a.add(rsp, 8).unwrap(); // the error code
        a.iretq().unwrap();
    }));
    let run = |step: u64| {
        let mut h = Harness::new("max", Mode::Long64, &code).with_idt64(handler_at);
        h.plat.mem.write_u32(DATA + 44, 0x5555_AAAA).expect("data");
        let mut calls = 0;
        while h.plat.exit.is_none() && calls < 1000 {
            h.run(step);
            calls += 1;
        }
        assert_eq!(h.plat.exit, Some(0), "step {step}");
        (
            h.reg(12),
            h.reg(13),
            h.reg(10),
            h.reg(9),
            h.interp.cpu.icount,
            h.interp.cpu.stats.pairs_built,
        )
    };
    let whole = run(100_000);
    assert!(whole.5 >= 1, "not paired");
    assert_eq!(whole.0, 0xFFFF_FFFF_8765_4321, "MOVSXD");
    assert_eq!(whole.1, 0x5555_AAAA, "load after the fault");
    assert_eq!(whole.2, 1, "one #GP");
    // mov, mov, mov, movsxd, load (#GP: counts 1), handler 4, load,
    // rdtsc, mov, mov, out.
    assert_eq!(whole.4, 5 + 4 + 5, "instructions retired");
    for step in [1, 2, 3, 4, 5, 7] {
        let s = run(step);
        assert_eq!(
            (s.0, s.1, s.2, s.3, s.4),
            (whole.0, whole.1, whole.2, whole.3, whole.4),
            "step {step}"
        );
    }
}
