//! Interpreter basics on hand-assembled programs: arithmetic and flags,
//! stack, calls, loops, string instructions, exceptions through the IDT.

mod common;

use common::*;
use iced_x86::code_asm::*;
use nestor::interp::RunExit;

fn exit(a: &mut CodeAssembler) {
    a.mov(eax, 0u32).unwrap();
    a.out(0xF4, eax).unwrap();
}

#[test]
fn arithmetic_and_flags_64() {
    let code = asm(64, |a| {
        a.mov(rax, 0x7FFF_FFFF_FFFF_FFFFu64).unwrap();
        a.add(rax, 1i32).unwrap(); // OF=1, SF=1
        a.pushfq().unwrap();
        a.pop(rbx).unwrap();
        a.mov(ecx, 10u32).unwrap();
        a.xor(edx, edx).unwrap();
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        a.add(rdx, rcx).unwrap();
        a.dec(ecx).unwrap();
        a.jnz(top).unwrap();
        a.imul_3(rsi, rdx, 3i32).unwrap();
        a.mov(rax, 1000u64).unwrap();
        a.xor(edx, edx).unwrap();
        a.mov(ecx, 7u32).unwrap();
        a.div(rcx).unwrap();
        a.mov(r8, rax).unwrap();
        a.mov(r9, rdx).unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let (r, e) = h.run(10_000);
    assert_eq!(e, Some(0), "{r:?}");
    let flags = h.reg(3);
    assert_ne!(flags & (1 << 11), 0, "OF");
    assert_ne!(flags & (1 << 7), 0, "SF");
    assert_eq!(h.reg(6), 165, "sum 1..10 × 3");
    assert_eq!(h.reg(8), 142);
    assert_eq!(h.reg(9), 6);
}

#[test]
fn call_ret_push_pop_and_memory() {
    let code = asm(64, |a| {
        let mut func = a.create_label();
        let mut done = a.create_label();
        a.mov(rdi, DATA).unwrap();
        a.mov(qword_ptr(rdi), 0x1122_3344i32).unwrap();
        a.mov(eax, 5u32).unwrap();
        a.call(func).unwrap();
        a.jmp(done).unwrap();
        a.set_label(&mut func).unwrap();
        a.push(rbx).unwrap();
        a.mov(rbx, qword_ptr(rdi)).unwrap();
        a.add(rax, rbx).unwrap();
        a.add(qword_ptr(rdi), 1i32).unwrap();
        a.pop(rbx).unwrap();
        a.ret().unwrap();
        a.set_label(&mut done).unwrap();
        a.mov(rcx, qword_ptr(rdi)).unwrap();
        a.mov(r10, rax).unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    h.interp.cpu.regs[3] = 77;
    let (_, e) = h.run(10_000);
    assert_eq!(e, Some(0));
    assert_eq!(h.reg(10), 0x1122_3349);
    assert_eq!(h.reg(1), 0x1122_3345);
    assert_eq!(h.reg(3), 77);
    assert_eq!(h.reg(4), STACK);
}

#[test]
fn rep_movsb_and_scasb() {
    let code = asm(64, |a| {
        a.mov(rsi, DATA).unwrap();
        a.mov(rdi, DATA + 0x100).unwrap();
        a.mov(ecx, 64u32).unwrap();
        a.cld().unwrap();
        a.rep().movsb().unwrap();
        a.mov(rdi, DATA + 0x100).unwrap();
        a.mov(ecx, 64u32).unwrap();
        a.mov(al, 0x2Au32).unwrap();
        a.repne().scasb().unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let data: Vec<u8> = (0..64u8).collect();
    h.plat.mem.write(DATA, &data).unwrap();
    let (_, e) = h.run(100_000);
    assert_eq!(e, Some(0));
    let mut out = [0u8; 64];
    h.plat.mem.read(DATA + 0x100, &mut out).unwrap();
    assert_eq!(&out[..], &data[..]);
    // REPNE SCASB stops after the match at index 0x2A.
    assert_eq!(h.reg(7), DATA + 0x100 + 0x2B);
    assert_eq!(h.reg(1), 64 - 0x2B);
}

/// Overlapping REP MOVS and REP STOS of every width (SDM Vol. 2B MOVS: one
/// element per iteration, each read before it is written), so the bulk
/// paths reproduce the element-by-element result.
#[test]
fn rep_movs_overlapping_and_rep_stos_widths() {
    let code = asm(64, |a| {
        // MOVSW with the destination one byte above the source: each
        // element read is the pair the previous element wrote.
        a.mov(rsi, DATA).unwrap();
        a.mov(rdi, DATA + 1).unwrap();
        a.mov(ecx, 8u32).unwrap();
        a.cld().unwrap();
        a.rep().movsw().unwrap();
        // MOVSB with the destination 3 bytes above: a repeating pattern.
        a.mov(rsi, DATA + 0x40).unwrap();
        a.mov(rdi, DATA + 0x43).unwrap();
        a.mov(ecx, 13u32).unwrap();
        a.rep().movsb().unwrap();
        // STOSD over an odd number of elements (not a multiple of 8 bytes).
        a.mov(rdi, DATA + 0x81).unwrap();
        a.mov(eax, 0xA1B2_C3D4u32).unwrap();
        a.mov(ecx, 5u32).unwrap();
        a.rep().stosd().unwrap();
        // STOSW and STOSB.
        a.mov(rdi, DATA + 0xC0).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.rep().stosw().unwrap();
        a.mov(rdi, DATA + 0xD0).unwrap();
        a.mov(ecx, 7u32).unwrap();
        a.rep().stosb().unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let data: Vec<u8> = (0..0x100u32).map(|i| i as u8).collect();
    h.plat.mem.write(DATA, &data).unwrap();
    let (_, e) = h.run(100_000);
    assert_eq!(e, Some(0));
    // Reference: the architectural element loop on a copy.
    let mut want = data.clone();
    let movs = |m: &mut Vec<u8>, src: usize, dst: usize, n: usize, w: usize| {
        for k in 0..n {
            let el: Vec<u8> = m[src + k * w..src + (k + 1) * w].to_vec();
            m[dst + k * w..dst + (k + 1) * w].copy_from_slice(&el);
        }
    };
    movs(&mut want, 0, 1, 8, 2);
    movs(&mut want, 0x40, 0x43, 13, 1);
    for k in 0..5 {
        want[0x81 + 4 * k..0x85 + 4 * k].copy_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    }
    for k in 0..3 {
        want[0xC0 + 2 * k..0xC2 + 2 * k].copy_from_slice(&0xC3D4u16.to_le_bytes());
    }
    for b in &mut want[0xD0..0xD7] {
        *b = 0xD4;
    }
    let mut out = vec![0u8; 0x100];
    h.plat.mem.read(DATA, &mut out).unwrap();
    assert_eq!(out, want);
}

/// A run budget that ends inside a REP string stops at exactly that many
/// instructions, also when other ops ran before the string in its block.
#[test]
fn budget_ends_exactly_inside_rep_string() {
    let code = asm(64, |a| {
        a.mov(rdi, DATA).unwrap();
        a.mov(ecx, 1000u32).unwrap();
        a.xor(eax, eax).unwrap();
        a.cld().unwrap();
        a.rep().stosb().unwrap();
        exit(a);
    });
    for budget in [5, 6, 10, 500] {
        let mut h = Harness::new("max", Mode::Long64, &code);
        let (r, _) = h.run(budget);
        assert_eq!(r, RunExit::Budget);
        assert_eq!(h.interp.cpu.icount, budget, "budget {budget}");
        // Four ops before the string, then one iteration per instruction.
        assert_eq!(h.reg(1), 1000 - (budget - 4), "budget {budget}");
    }
}

#[test]
fn divide_error_goes_through_the_idt() {
    let code = asm(64, |a| {
        let mut handler = a.create_label();
        a.xor(ecx, ecx).unwrap();
        a.mov(eax, 1u32).unwrap();
        a.div(ecx).unwrap();
        a.hlt().unwrap();
        a.set_label(&mut handler).unwrap();
        a.mov(rbx, qword_ptr(rsp)).unwrap(); // faulting RIP
        exit(a);
    });
    // The handler is at a known offset: find it by assembling the prefix.
    let prefix = asm(64, |a| {
        a.xor(ecx, ecx).unwrap();
        a.mov(eax, 1u32).unwrap();
        a.div(ecx).unwrap();
        a.hlt().unwrap();
    });
    let handler = CODE + prefix.len() as u64;
    let mut h = Harness::new("max", Mode::Long64, &code).with_idt64(handler);
    let (r, e) = h.run(10_000);
    assert_eq!(e, Some(0), "{r:?}");
    // #DE is a fault: RIP points at the DIV (after xor ecx,ecx = 2 bytes and
    // mov eax,1 = 5 bytes).
    assert_eq!(h.reg(3), CODE + 7);
}

#[test]
fn triple_fault_without_idt_shuts_down() {
    let code = asm(64, |a| {
        a.ud2().unwrap();
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    h.interp.cpu.s.idtr.limit = 0;
    let (r, _) = h.run(1000);
    assert_eq!(r, RunExit::Shutdown);
}

#[test]
fn real_mode_arithmetic_and_stack() {
    let code = asm(16, |a| {
        a.mov(ax, 0x1234u32).unwrap();
        a.push(ax).unwrap();
        a.pop(bx).unwrap();
        a.add(bx, 0x1111u32).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Real, &code);
    let (r, e) = h.run(1000);
    assert_eq!(e, Some(0), "{r:?}");
    assert_eq!(h.reg(3) & 0xFFFF, 0x2345);
}

#[test]
fn self_modifying_code_is_seen() {
    // Overwrite the immediate of a later `mov ebx, imm32` and execute it.
    let code = asm(64, |a| {
        let mut target = a.create_label();
        a.lea(rdi, ptr(target)).unwrap();
        a.mov(dword_ptr(rdi + 1), 0xCAFEu32).unwrap();
        a.set_label(&mut target).unwrap();
        a.mov(ebx, 0x1111u32).unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let (_, e) = h.run(1000);
    assert_eq!(e, Some(0));
    assert_eq!(h.reg(3), 0xCAFE);
}

#[test]
fn same_program_same_instruction_count() {
    let prog = asm(64, |a| {
        a.mov(ecx, 1000u32).unwrap();
        let mut l = a.create_label();
        a.set_label(&mut l).unwrap();
        a.loop_(l).unwrap();
        exit(a);
    });
    let counts: Vec<u64> = (0..2)
        .map(|_| {
            let mut h = Harness::new("max", Mode::Long64, &prog);
            h.run(100_000);
            h.interp.cpu.icount
        })
        .collect();
    assert_eq!(counts[0], counts[1]);
    assert_eq!(counts[0], 1 + 1000 + 2);
}

#[test]
fn cpuid_vendor_bytes_copy() {
    let code = asm(64, |a| {
        a.xor(eax, eax).unwrap();
        a.mov(ecx, eax).unwrap();
        a.cpuid().unwrap();
        a.mov(rdi, DATA).unwrap();
        a.mov(dword_ptr(rdi), ebx).unwrap();
        a.mov(dword_ptr(rdi + 4), edx).unwrap();
        a.mov(dword_ptr(rdi + 8), ecx).unwrap();
        // memcpy-style byte loop with r8b
        a.mov(rsi, DATA).unwrap();
        a.mov(rax, DATA + 0x40).unwrap();
        a.xor(ecx, ecx).unwrap();
        let mut l = a.create_label();
        a.set_label(&mut l).unwrap();
        a.movzx(r8d, byte_ptr(rsi + rcx)).unwrap();
        a.mov(byte_ptr(rax + rcx), r8b).unwrap();
        a.add(rcx, 1i32).unwrap();
        a.cmp(rcx, 12i32).unwrap();
        a.jne(l).unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let (_, e) = h.run(10_000);
    assert_eq!(e, Some(0));
    let mut v = [0u8; 12];
    h.plat.mem.read(DATA, &mut v).unwrap();
    assert_eq!(&v, b"GenuineIntel");
    h.plat.mem.read(DATA + 0x40, &mut v).unwrap();
    assert_eq!(&v, b"GenuineIntel");
}

/// 8-bit registers with REX (SPL..DIL, R8B..R15B) and without (AH..BH).
#[test]
fn byte_registers_with_and_without_rex() {
    let code = asm(64, |a| {
        a.mov(rax, DATA + 0x40).unwrap();
        a.mov(ecx, 3u32).unwrap();
        a.mov(r8d, 0x55u32).unwrap();
        a.mov(byte_ptr(rax + rcx), r8b).unwrap();
        a.mov(sil, 0x66u32).unwrap();
        a.mov(byte_ptr(rax), sil).unwrap();
        a.mov(edx, 0x1234u32).unwrap();
        a.mov(byte_ptr(rax + 1), dh).unwrap();
        a.mov(r15b, dl).unwrap();
        exit(a);
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    let (_, e) = h.run(10_000);
    assert_eq!(e, Some(0));
    let mut w = [0u8; 4];
    h.plat.mem.read(DATA + 0x40, &mut w).unwrap();
    assert_eq!(w, [0x66, 0x12, 0, 0x55]);
    assert_eq!(h.reg(15) & 0xFF, 0x34);
    assert_eq!(h.reg(6) & 0xFF, 0x66);
}

/// BCD adjustments (SDM Vol. 2A examples for DAA/DAS; AAA/AAS/AAM/AAD).
#[test]
fn bcd_adjust_instructions_real_mode() {
    let code = asm(16, |a| {
        a.mov(al, 0x79u32).unwrap();
        a.add(al, 0x35u32).unwrap();
        a.daa().unwrap();
        a.mov(bl, al).unwrap();
        a.setc(bh).unwrap();
        a.mov(al, 0x35u32).unwrap();
        a.sub(al, 0x47u32).unwrap();
        a.das().unwrap();
        a.mov(cl, al).unwrap();
        a.setc(ch).unwrap();
        a.mov(ax, 0x0009u32).unwrap();
        a.add(al, 0x08u32).unwrap();
        a.aaa().unwrap();
        a.mov(dx, ax).unwrap();
        a.mov(ax, 0x0102u32).unwrap();
        a.sub(al, 0x05u32).unwrap();
        a.aas().unwrap();
        a.mov(si, ax).unwrap();
        a.mov(al, 63u32).unwrap();
        a.aam(10u32).unwrap();
        a.mov(di, ax).unwrap();
        a.mov(ax, 0x0603u32).unwrap();
        a.aad(10u32).unwrap();
        a.mov(bp, ax).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Real, &code);
    let (r, e) = h.run(1000);
    assert_eq!(e, Some(0), "{r:?}");
    assert_eq!(h.reg(3) & 0xFFFF, 0x0114, "DAA: AL=0x14, CF=1");
    assert_eq!(h.reg(1) & 0xFFFF, 0x0188, "DAS: AL=0x88, CF=1");
    assert_eq!(h.reg(2) & 0xFFFF, 0x0107, "AAA");
    assert_eq!(h.reg(6) & 0xFFFF, 0x0007, "AAS");
    assert_eq!(h.reg(7) & 0xFFFF, 0x0603, "AAM");
    assert_eq!(h.reg(5) & 0xFFFF, 0x003F, "AAD");
}
