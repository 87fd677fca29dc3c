//! x87 system behaviour: #NM by CR0.EM/TS/MP (SDM Vol. 3A Table 2-2),
//! pending exceptions and #MF (CR0.NE), instruction/data pointers and FOP,
//! environment layouts (16/32-bit, real/protected), FSAVE reinitialising,
//! faults leaving the FPU unchanged, a model without an FPU, and the x87
//! parts of kvm-unit-tests (realmode.c test_fninit, emulator64.c
//! test_mmx_movq_mf's unmasked 0/0).

mod common;

use common::*;
use iced_x86::code_asm::*;
use iced_x86::{BlockEncoderOptions, Code, Instruction, MemoryOperand, Register};
use nestor::interp::RunExit;
use nestor::model::Feature;
use nestor::state::cr0;

/// Per-vector handlers: `mov rbx, <return RIP>; mov eax, vector; out 0xF4, eax`.
const HANDLERS: u64 = 0x18_0000;
/// Exit value of a program that completes.
const DONE: u32 = 0x100;

fn done(a: &mut CodeAssembler) {
    a.mov(eax, DONE).unwrap();
    a.out(0xF4, eax).unwrap();
}

/// A 64-bit harness whose IDT sends vector v to a handler reporting v and
/// leaving the faulting RIP in RBX.
fn harness64(model: &str, code: &[u8]) -> Harness {
    let mut h = Harness::new(model, Mode::Long64, code).with_idt64(HANDLERS);
    // The FNINIT state (RESET leaves FCW = 0040H: everything unmasked, and
    // FTW = 5555H: eight zeros).
    let f = &mut h.interp.cpu.s.fpu;
    (f.fcw, f.fsw, f.ftw) = (0x037F, 0, 0xFFFF);
    for v in 0..256u64 {
        let mut a = CodeAssembler::new(64).unwrap();
        let err_code = matches!(v, 8 | 10..=14 | 17 | 21);
        a.mov(rbx, qword_ptr(rsp + if err_code { 8 } else { 0 }))
            .unwrap();
        a.mov(eax, v as u32).unwrap();
        a.out(0xF4, eax).unwrap();
        a.hlt().unwrap();
        let bytes = a.assemble(HANDLERS + 32 * v).unwrap();
        h.plat.mem.write(HANDLERS + 32 * v, &bytes).unwrap();
        let hd = HANDLERS + 32 * v;
        let lo = (hd & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((hd >> 16) & 0xFFFF) << 48;
        h.plat.mem.write_u64(IDT + 16 * v, lo).unwrap();
        h.plat.mem.write_u64(IDT + 16 * v + 8, hd >> 32).unwrap();
    }
    h
}

/// Runs and returns (exit value, RBX).
fn run(h: &mut Harness) -> (u32, u64) {
    let (r, e) = h.run(100_000);
    assert!(e.is_some(), "no exit: {r:?}");
    (e.unwrap(), h.reg(3))
}

/// Assembles `body` followed by the DONE exit, returning the code and the
/// address of the instruction marked by `mark` (a label set in `body`).
fn program(body: impl FnOnce(&mut CodeAssembler, &mut CodeLabel)) -> (Vec<u8>, u64) {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut mark = a.create_label();
    body(&mut a, &mut mark);
    done(&mut a);
    let r = a
        .assemble_options(CODE, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
        .unwrap();
    let addr = r.label_ip(&mark).unwrap_or(0);
    (r.inner.code_buffer, addr)
}

#[test]
fn em_ts_mp_table() {
    // (EM, TS, MP) → (x87 raises #NM, WAIT raises #NM)
    for bits in 0..8u64 {
        let (em, ts, mp) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
        let cr0v = cr0::PE
            | cr0::ET
            | cr0::NE
            | cr0::PG
            | if em { cr0::EM } else { 0 }
            | if ts { cr0::TS } else { 0 }
            | if mp { cr0::MP } else { 0 };
        let x87_nm = em || ts;
        let wait_nm = ts && mp;
        for (insn, nm) in [
            ("fnop", x87_nm),
            ("fninit", x87_nm),
            ("fnstsw", x87_nm),
            ("wait", wait_nm),
        ] {
            let (code, at) = program(|a, mark| {
                a.set_label(mark).unwrap();
                match insn {
                    "fnop" => a.fnop().unwrap(),
                    "fninit" => a.fninit().unwrap(),
                    "fnstsw" => a.fnstsw(ax).unwrap(),
                    _ => a.wait().unwrap(),
                }
            });
            let mut h = harness64("max", &code);
            h.interp.cpu.s.cr.cr0 = cr0v;
            let (e, rip) = run(&mut h);
            if nm {
                assert_eq!((e, rip), (7, at), "{insn} EM={em} TS={ts} MP={mp}");
            } else {
                assert_eq!(e, DONE, "{insn} EM={em} TS={ts} MP={mp}");
            }
        }
    }
}

/// fldcw with #Z unmasked, then 1/0: flagged, not raised.
fn unmasked_div0(a: &mut CodeAssembler) {
    a.mov(word_ptr(rsp - 8), 0x037Bi32).unwrap();
    a.fldcw(word_ptr(rsp - 8)).unwrap();
    a.fld1().unwrap();
    a.fldz().unwrap();
    a.fdivp(st1, st0).unwrap();
}

#[test]
fn mf_is_raised_by_the_next_waiting_instruction() {
    for next in ["fwait", "fld1", "fadd", "fnstsw+fnclex+fwait", "frstor"] {
        let (code, at) = program(|a, mark| {
            unmasked_div0(a);
            a.mov(rdx, DATA).unwrap();
            if next == "fnstsw+fnclex+fwait" {
                a.fnstsw(ax).unwrap();
                a.movzx(ecx, ax).unwrap();
                a.fnclex().unwrap();
                a.set_label(mark).unwrap();
                a.wait().unwrap();
                return;
            }
            a.set_label(mark).unwrap();
            match next {
                "fwait" => a.wait().unwrap(),
                "fld1" => a.fld1().unwrap(),
                "fadd" => a.fadd(qword_ptr(rdx)).unwrap(),
                _ => a.frstor(ptr(rdx)).unwrap(),
            }
        });
        let mut h = harness64("max", &code);
        let (e, rip) = run(&mut h);
        if next == "fnstsw+fnclex+fwait" {
            assert_eq!(e, DONE);
            assert_eq!(h.reg(1) & 0x80BF, 0x8084, "ES, B, ZE in the saved FSW");
        } else {
            assert_eq!((e, rip), (16, at), "#MF at {next}");
            let f = &h.interp.cpu.s.fpu;
            assert_eq!(f.fsw & 0x8084, 0x8084, "ES, B and ZE pending");
            assert_eq!(f.fop, 0x6F9, "FOP of the FDIVRP that raised it (DE F9)");
        }
    }
}

#[test]
fn ne0_ignores_pending_exceptions() {
    let (code, _) = program(|a, _| {
        unmasked_div0(a);
        a.wait().unwrap();
        a.fld1().unwrap();
        a.fnstsw(ax).unwrap();
        a.movzx(ecx, ax).unwrap();
    });
    let mut h = harness64("max", &code);
    h.interp.cpu.s.cr.cr0 &= !cr0::NE;
    let (e, _) = run(&mut h);
    assert_eq!(e, DONE, "CR0.NE=0: IGNNE# model, no #MF");
    assert_eq!(h.reg(1) & 0x80, 0x80, "ES stays set");
}

#[test]
fn non_waiting_control_instructions_do_not_raise_mf() {
    let (code, _) = program(|a, _| {
        unmasked_div0(a);
        a.mov(rdx, DATA).unwrap();
        a.fnstsw(ax).unwrap();
        a.fnstcw(word_ptr(rdx)).unwrap();
        a.fnstenv(ptr(rdx + 16)).unwrap();
        a.fnsave(ptr(rdx + 64)).unwrap();
        a.wait().unwrap();
    });
    let mut h = harness64("max", &code);
    let (e, _) = run(&mut h);
    assert_eq!(e, DONE);
    let f = &h.interp.cpu.s.fpu;
    assert_eq!(
        (f.fcw, f.fsw, f.ftw),
        (0x037F, 0, 0xFFFF),
        "FNSAVE reinitialised"
    );
}

#[test]
fn instruction_and_data_pointers() {
    let (code, at) = program(|a, mark| {
        a.mov(rdx, DATA).unwrap();
        a.mov(qword_ptr(rdx + 8), 0x4000_0000i32).unwrap();
        a.set_label(mark).unwrap();
        a.fld(qword_ptr(rdx + 8)).unwrap();
        a.fnstcw(word_ptr(rdx + 0x40)).unwrap();
        a.fnstenv(ptr(rdx + 0x80)).unwrap();
    });
    for model in ["max", "max,-zero-fcs-fds,-fdp-excptn-only"] {
        let mut h = harness64(model, &code);
        let zero_sel = h.interp.cpu.model().has(Feature::ZeroFcsFds);
        let fdp_exc = h.interp.cpu.model().has(Feature::FdpExcptnOnly);
        assert_eq!(run(&mut h).0, DONE);
        let mut env = [0u8; 28];
        h.plat.mem.read(DATA + 0x80, &mut env).unwrap();
        let d = |o: usize| u32::from_le_bytes(env[o..o + 4].try_into().unwrap());
        assert_eq!(d(12), at as u32, "FIP");
        assert_eq!(d(16) >> 16, 0x542, "FOP: DD /0, ModR/M 42");
        assert_eq!(d(16) & 0xFFFF, if zero_sel { 0 } else { 0x08 }, "FCS");
        if !fdp_exc {
            assert_eq!(d(20), (DATA + 8) as u32, "FDP");
            assert_eq!(d(24) & 0xFFFF, if zero_sel { 0 } else { 0x18 }, "FDS");
        }
        assert_eq!(d(0), 0xFFFF_037F, "FCW with reserved bits set");
        assert_eq!(d(8) & 0xFFFF, 0x3FFF, "one valid register at R7");
    }
}

/// FNSTENV/FLDENV with a 16-bit operand size (14-byte protected layout).
#[test]
fn env_14_byte_protected_layout() {
    let (code, at) = program(|a, mark| {
        a.mov(rdx, DATA).unwrap();
        a.set_label(mark).unwrap();
        a.fldpi().unwrap();
        let m = MemoryOperand::with_base_displ(Register::RDX, 0x40);
        a.add_instruction(Instruction::with1(Code::Fnstenv_m14byte, m).unwrap())
            .unwrap();
        a.fninit().unwrap();
        a.add_instruction(Instruction::with1(Code::Fldenv_m14byte, m).unwrap())
            .unwrap();
    });
    let mut h = harness64("max,-zero-fcs-fds", &code);
    assert_eq!(run(&mut h).0, DONE);
    let mut env = [0u8; 14];
    h.plat.mem.read(DATA + 0x40, &mut env).unwrap();
    let w = |o: usize| u16::from_le_bytes([env[o], env[o + 1]]);
    assert_eq!(w(0), 0x037F);
    assert_eq!(w(2), 0x3800, "TOP = 7");
    assert_eq!(w(4), 0x3FFF);
    assert_eq!(w(6), at as u16, "FIP offset");
    assert_eq!(w(8), 0x08, "FCS");
    let f = &h.interp.cpu.s.fpu;
    assert_eq!((f.fcw, f.fsw, f.ftw), (0x037F, 0x3800, 0x3FFF), "restored");
    assert_eq!(f.fip, at & 0xFFFF);
}

/// A fault on the memory operand leaves the FPU as it was.
#[test]
fn faulting_store_changes_nothing() {
    let (code, at) = program(|a, mark| {
        a.fld1().unwrap();
        a.fldpi().unwrap();
        a.mov(rdx, 0x8000_0000_0000_0000u64).unwrap();
        a.set_label(mark).unwrap();
        a.fstp(tword_ptr(rdx)).unwrap();
    });
    let mut h = harness64("max", &code);
    assert_eq!(run(&mut h), (13, at), "#GP on a non-canonical address");
    let f = &h.interp.cpu.s.fpu;
    assert_eq!(f.top(), 6, "no pop");
    assert_eq!(f.ftw, 0x0FFF);
    assert_eq!(f.fop, 0x1EB, "FOP still that of FLDPI (D9 EB)");
}

#[test]
fn model_without_fpu() {
    for em in [false, true] {
        let (code, at) = program(|a, mark| {
            a.wait().unwrap();
            a.set_label(mark).unwrap();
            a.fld1().unwrap();
        });
        let mut h = harness64("max,-fpu", &code);
        if em {
            h.interp.cpu.s.cr.cr0 |= cr0::EM;
        }
        let want = if em { 7 } else { 6 };
        assert_eq!(run(&mut h), (want, at), "EM={em}");
    }
}

/// kvm-unit-tests realmode.c test_fninit: "fninit; fnstsw (%eax); fnstcw
/// (%ebx)" in (big) real mode.
#[test]
fn kut_realmode_fninit() {
    let code = asm(16, |a| {
        a.mov(eax, 0x2000u32).unwrap();
        a.mov(ebx, 0x2010u32).unwrap();
        a.mov(word_ptr(eax), 0xFFFFu32 as i32).unwrap();
        a.fld1().unwrap();
        a.fninit().unwrap();
        a.fnstsw(word_ptr(eax)).unwrap();
        a.fnstcw(word_ptr(ebx)).unwrap();
        // 16-bit real-mode environment: FIP is linear, FOP packed with it.
        a.fld1().unwrap();
        a.fnstenv(ptr(0x2020)).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Real, &code);
    let (r, e) = h.run(10_000);
    assert_eq!(e, Some(0), "{r:?}");
    let mut b = [0u8; 0x30];
    let dsb = h.interp.cpu.s.seg(nestor::state::SegReg::Ds).base;
    h.plat.mem.read(dsb + 0x2000, &mut b).unwrap();
    let w = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let (fsw, fcw) = (w(0), w(0x10));
    assert!(
        fsw == 0 && (fcw & 0x103F) == 0x003F,
        "fsw {fsw:#x} fcw {fcw:#x}"
    );
    assert_eq!(w(0x20), 0x037F);
    assert_eq!(w(0x22), 0x3800);
    assert_eq!(w(0x24), 0x3FFF);
    let csel = h.interp.cpu.s.seg(nestor::state::SegReg::Cs).selector;
    let fip = (u32::from(csel) << 4) + h.interp.cpu.s.fpu.fip as u32;
    assert_eq!(u32::from(w(0x26)), fip & 0xFFFF, "FIP 15:0");
    assert_eq!(
        w(0x28),
        ((fip >> 4) & 0xF000) as u16 | 0x1E8,
        "FIP 19:16 and FOP D9 E8"
    );
}

/// The x87_sse ROM's check and emulator64.c's: with exceptions unmasked,
/// 0/0 and 1/0 raise #MF at the next waiting instruction.
#[test]
fn kut_unmasked_exceptions_raise_mf() {
    let (code, at) = program(|a, mark| {
        a.mov(word_ptr(rsp - 8), 0i32).unwrap();
        a.fninit().unwrap();
        a.fldcw(word_ptr(rsp - 8)).unwrap();
        a.fldz().unwrap();
        a.fldz().unwrap();
        a.fdivp(st1, st0).unwrap();
        a.set_label(mark).unwrap();
        a.wait().unwrap();
    });
    let mut h = harness64("max", &code);
    assert_eq!(run(&mut h), (16, at));
    assert_eq!(h.interp.cpu.s.fpu.fsw & 0x81, 0x81, "IE and ES");
    assert!(matches!(
        h.interp.cpu.s.activity,
        nestor::state::Activity::Active
    ));
    let _ = RunExit::Exit;
}
