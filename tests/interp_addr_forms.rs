//! The memory fast paths come in three address forms
//! (src/interp/mem.rs `AF_*`, chosen by `decode::addr_form`): flat
//! `base + disp`, flat `base + index << scale + disp`, and segmented (an
//! FS or GS override in 64-bit mode, or any legacy mode). The same
//! operations through each form, on the same location, must give the same
//! results — and the ones computed here from the operation definitions
//! (SDM Vol. 2: MOV, MOVZX, MOVSX, ADD, IMUL, LEA).

mod common;

use common::*;
use iced_x86::code_asm::*;

/// The memory operand under test: `[rbx + 16]` in some form.
#[derive(Clone, Copy, Debug)]
enum Form {
    BaseDisp,
    /// Base + index with each scale (RCX = 4).
    BaseIndex1,
    BaseIndex2,
    BaseIndex4,
    BaseIndex8,
    /// Index and displacement only.
    IndexDisp,
    FsSegment,
}

fn mem(form: Form) -> AsmMemoryOperand {
    match form {
        Form::BaseDisp => rbx + 16,
        // rcx = 4: each is rbx + 16.
        Form::BaseIndex1 => rbx + rcx + 12,
        Form::BaseIndex2 => rbx + rcx * 2 + 8,
        Form::BaseIndex4 => rbx + rcx * 4,
        Form::BaseIndex8 => rbx + rcx * 8 - 16,
        Form::IndexDisp => rcx * 4 + (DATA as i32),
        Form::FsSegment => {
            let m: AsmMemoryOperand = rbx + 16;
            m.fs()
        }
    }
}

/// (EAX before the exit, EDX, ESI, EDI, R8D, R9, status flags, the dword at the operand).
fn run(form: Form) -> [u64; 8] {
    let code = asm(64, |a| {
        let m = mem(form);
        a.mov(rbx, DATA).unwrap();
        a.mov(ecx, 4u32).unwrap();
        a.mov(dword_ptr(m), 0x1234_5678u32).unwrap();
        a.mov(eax, dword_ptr(m)).unwrap();
        a.add(dword_ptr(m), eax).unwrap();
        a.movzx(edx, byte_ptr(m)).unwrap();
        a.movsx(esi, word_ptr(m)).unwrap();
        a.imul_3(edi, dword_ptr(m), 3).unwrap();
        a.mov(r8d, 5u32).unwrap();
        a.imul_2(r8d, dword_ptr(m)).unwrap();
        a.pushfq().unwrap();
        a.pop(r10).unwrap();
        a.lea(r9, m).unwrap();
        a.add(eax, dword_ptr(m)).unwrap();
        a.mov(r13d, eax).unwrap();
        // JMP through a table entry addressed in this form.
        let mut target = a.create_label();
        a.lea(rax, ptr(target)).unwrap();
        a.mov(qword_ptr(m + 0x40), rax).unwrap();
        a.xor(r14d, r14d).unwrap();
        a.jmp(qword_ptr(m + 0x40)).unwrap();
        a.mov(r14d, 0xBAD_u32).unwrap();
        a.set_label(&mut target).unwrap();
        a.add(r14d, 1).unwrap();
        a.mov(r11d, dword_ptr(m)).unwrap();
        a.mov(dword_ptr(rbx + 0x100), r11d).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    h.run(1000);
    assert_eq!(h.plat.exit, Some(0), "{form:?}: program did not finish");
    let stored = h.plat.mem.read_u32(DATA + 0x100).expect("read");
    assert_eq!(h.reg(14), 1, "{form:?}: JMP through memory");
    [
        h.reg(13),
        h.reg(2),
        h.reg(6),
        h.reg(7),
        h.reg(8),
        h.reg(9),
        h.reg(10) & 0x8D5,
        u64::from(stored),
    ]
}

#[test]
fn every_address_form_gives_the_architectural_results() {
    let m = 0x1234_5678u32.wrapping_add(0x1234_5678); // after ADD [m], eax
    let imul3 = (i64::from(m as i32) * 3) as u32;
    let imul2 = (i64::from(m as i32) * 5) as u32;
    // IMUL r32, r/m32: CF = OF = 1 when the product does not fit.
    let overflow = i64::from(m as i32) * 5 != i64::from(imul2 as i32);
    let expected = [
        u64::from(0x1234_5678u32.wrapping_add(m)),
        u64::from(m & 0xFF),
        u64::from(m as u16 as i16 as i32 as u32),
        u64::from(imul3),
        u64::from(imul2),
        DATA + 16,
        if overflow { 0x801 } else { 0 },
        u64::from(m),
    ];
    for form in [
        Form::BaseDisp,
        Form::BaseIndex1,
        Form::BaseIndex2,
        Form::BaseIndex4,
        Form::BaseIndex8,
        Form::IndexDisp,
        Form::FsSegment,
    ] {
        let got = run(form);
        // The flags after IMUL: only CF and OF are defined (SDM Vol. 2A
        // IMUL); compare those.
        let mut got_cmp = got;
        got_cmp[6] &= 0x801;
        assert_eq!(got_cmp, expected, "{form:?}");
    }
}

/// LEA truncates the sum to the address size, then to the operand size
/// (SDM Vol. 2A LEA, Table 3-54): each operand size × address size, with
/// and without an index, on sums that wrap. (The handler skips the
/// address-size mask when the address size is at least the operand size.)
#[test]
fn lea_wraps_to_the_address_size_then_the_operand_size() {
    type Case = (&'static str, Mode, fn(&mut CodeAssembler), u64);
    let cases: [Case; 8] = [
        (
            "lea rax, [rbx+rcx*2+8] a64",
            Mode::Long64,
            |a| {
                a.mov(rbx, 0xFFFF_FFFF_FFFF_FFF0u64).unwrap();
                a.lea(rax, rbx + rcx * 2 + 8).unwrap();
            },
            0,
        ),
        (
            "lea eax, [rbx+0x10] a64",
            Mode::Long64,
            |a| {
                a.mov(rbx, 0x1_2345_6780u64).unwrap();
                a.lea(eax, rbx + 0x10).unwrap();
            },
            0x2345_6790,
        ),
        (
            "lea rax, [ebx+ecx*2+8] a32",
            Mode::Long64,
            |a| {
                a.mov(rbx, 0x7_FFFF_FFF0u64).unwrap();
                a.lea(rax, ebx + ecx * 2 + 8).unwrap();
            },
            0,
        ),
        (
            "lea rax, [ebx+0x20] a32",
            Mode::Long64,
            |a| {
                a.mov(rbx, 0x7_FFFF_FFF0u64).unwrap();
                a.lea(rax, ebx + 0x20).unwrap();
            },
            0x10,
        ),
        (
            "lea ax, [rbx+rcx*2+8] a64",
            Mode::Long64,
            |a| {
                a.mov(rax, 0x1111_2222_3333_4444u64).unwrap();
                a.mov(rbx, 0xFFF0u64).unwrap();
                a.lea(ax, rbx + rcx * 2 + 8).unwrap();
            },
            0x1111_2222_3333_0000,
        ),
        (
            "lea eax, [ebx+ecx*2+8] a32",
            Mode::Prot32,
            |a| {
                a.mov(ebx, 0xFFFF_FFF0u32).unwrap();
                a.lea(eax, ebx + ecx * 2 + 8).unwrap();
            },
            0,
        ),
        (
            "lea eax, [bx+si+4] a16",
            Mode::Prot32,
            |a| {
                a.mov(ebx, 0x1_FFFFu32).unwrap();
                a.mov(esi, 2u32).unwrap();
                a.lea(eax, bx + si + 4).unwrap();
            },
            5,
        ),
        (
            "lea eax, [bx+0x10] a16",
            Mode::Prot32,
            |a| {
                a.mov(ebx, 0xFFF8u32).unwrap();
                a.lea(eax, bx + 0x10).unwrap();
            },
            8,
        ),
    ];
    for (name, mode, body, expected) in cases {
        let bits = if matches!(mode, Mode::Long64) { 64 } else { 32 };
        let code = asm(bits, |a| {
            a.mov(ecx, 4u32).unwrap();
            body(a);
            if bits == 64 {
                a.mov(rdi, rax).unwrap();
            } else {
                a.mov(edi, eax).unwrap();
            }
            a.mov(eax, 0u32).unwrap();
            a.out(0xF4, eax).unwrap();
        });
        let mut h = Harness::new("max", mode, &code);
        h.run(100);
        assert_eq!(h.plat.exit, Some(0), "{name}: program did not finish");
        assert_eq!(h.reg(7), expected, "{name}");
    }
}
