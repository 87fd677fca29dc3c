//! Interpreter fixes found by `nestor difftest` (docs/difftest.md): each
//! test pins the processor's behaviour the lockstep comparison with KVM
//! showed at CPL 3.

mod common;

use common::*;
use iced_x86::code_asm::*;

/// Not mapped by the harness (it identity-maps the first 4 GiB).
const UNMAPPED: u64 = 0x8_0000_0000;

/// Runs `body` followed by an exit; the handler for every vector is
/// `handler` (which must exit itself). Returns the exit value.
fn run_with_handler(
    body: impl Fn(&mut CodeAssembler),
    handler: impl Fn(&mut CodeAssembler),
) -> (Harness, Option<u32>) {
    let prefix = asm(64, |a| {
        body(a);
        a.hlt().unwrap();
    });
    let code = asm(64, |a| {
        body(a);
        a.hlt().unwrap();
        handler(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code).with_idt64(CODE + prefix.len() as u64);
    let (_, e) = h.run(10_000);
    (h, e)
}

fn out_eax(a: &mut CodeAssembler) {
    a.out(0xF4, eax).unwrap();
}

/// SDM Vol. 1, 3.4.1.1: a 32-bit destination is zero-extended, also when
/// a shift, rotate or double shift by zero leaves its low half alone.
#[test]
fn sdm_vol1_3_4_1_1_shift_by_zero_still_zero_extends() {
    let (h, e) = run_with_handler(
        |a| {
            a.mov(rax, 0x1234_5678_9ABC_DEF0u64).unwrap();
            a.mov(rbx, 0x1234_5678_9ABC_DEF0u64).unwrap();
            a.mov(rdx, 0x1234_5678_9ABC_DEF0u64).unwrap();
            a.mov(rsi, 0x1234_5678_9ABC_DEF0u64).unwrap();
            a.xor(ecx, ecx).unwrap();
            a.shl(eax, cl).unwrap();
            a.ror(ebx, cl).unwrap();
            a.shld(edx, esi, cl).unwrap();
            a.shl(rsi, cl).unwrap(); // 64-bit: unchanged
            a.mov(eax, 0u32).unwrap();
            a.mov(rdi, rax).unwrap();
            a.out(0xF4, eax).unwrap();
        },
        |a| a.hlt().unwrap(),
    );
    assert_eq!(e, Some(0));
    assert_eq!(h.reg(3), 0x9ABC_DEF0, "ror ebx, 0");
    assert_eq!(h.reg(2), 0x9ABC_DEF0, "shld edx, esi, 0");
    assert_eq!(h.reg(6), 0x1234_5678_9ABC_DEF0, "shl rsi, 0");
}

/// SDM Vol. 3A, 4.7: read-modify-write instructions access their
/// destination with write intent, so a not-present page reports W = 1.
#[test]
fn sdm_vol3a_4_7_rmw_page_fault_reports_a_write() {
    for rmw in [true, false] {
        let (_, e) = run_with_handler(
            |a| {
                a.mov(rbx, UNMAPPED).unwrap();
                if rmw {
                    a.add(qword_ptr(rbx), 1).unwrap();
                } else {
                    a.cmp(qword_ptr(rbx), 1).unwrap();
                }
            },
            |a| {
                a.pop(rax).unwrap(); // error code
                out_eax(a);
            },
        );
        // P = 0, W = 1 for ADD, 0 for CMP (a read), U/S = 0 (CPL 0).
        assert_eq!(e, Some(if rmw { 2 } else { 0 }), "rmw={rmw}");
    }
    for op in 0..4 {
        let (_, e) = run_with_handler(
            |a| {
                a.mov(rbx, UNMAPPED).unwrap();
                match op {
                    0 => a.bts(qword_ptr(rbx), 3).unwrap(),
                    1 => a.xchg(qword_ptr(rbx), rcx).unwrap(),
                    2 => a.shl(dword_ptr(rbx), 1).unwrap(),
                    _ => a.not(byte_ptr(rbx)).unwrap(),
                }
            },
            |a| {
                a.pop(rax).unwrap();
                out_eax(a);
            },
        );
        assert_eq!(e, Some(2), "form {op}");
    }
}

/// CMPS reads ES:RDI first: with both operands unmapped, CR2 is RDI's.
#[test]
fn cmps_faults_on_rdi_first() {
    let (_, e) = run_with_handler(
        |a| {
            a.mov(rsi, UNMAPPED).unwrap();
            a.mov(rdi, UNMAPPED + 0x1000).unwrap();
            a.cmpsb().unwrap();
        },
        |a| {
            a.mov(rax, cr2).unwrap();
            a.shr(rax, 12).unwrap();
            out_eax(a);
        },
    );
    assert_eq!(e, Some(((UNMAPPED + 0x1000) >> 12) as u32));
}

/// CMPXCHG16B checks the address (segment, canonical form) before the
/// alignment: a non-canonical, misaligned RSP-based operand is #SS(0),
/// not #GP(0) (SDM Vol. 2A CMPXCHG16B, 64-bit mode exceptions).
#[test]
fn cmpxchg16b_non_canonical_stack_operand_is_ss_before_alignment() {
    let body = |a: &mut CodeAssembler| {
        a.mov(rax, 0x4000_0000_0000_0001u64).unwrap();
        a.cmpxchg16b(xmmword_ptr(rsp + rax)).unwrap();
    };
    let prefix = asm(64, |a| {
        body(a);
        a.hlt().unwrap();
    });
    let other = asm(64, |a| {
        body(a);
        a.hlt().unwrap();
        a.mov(eax, 1u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let code = asm(64, |a| {
        body(a);
        a.hlt().unwrap();
        a.mov(eax, 1u32).unwrap();
        a.out(0xF4, eax).unwrap();
        a.mov(eax, 12u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Long64, &code).with_idt64(CODE + prefix.len() as u64);
    // Vector 12 (#SS) gets its own handler, which exits with 12.
    let h_ss = CODE + other.len() as u64;
    let lo = (h_ss & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((h_ss >> 16) & 0xFFFF) << 48;
    h.plat.mem.write_u64(IDT + 16 * 12, lo).unwrap();
    let (_, e) = h.run(10_000);
    assert_eq!(e, Some(12));
}
