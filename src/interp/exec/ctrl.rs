//! Control transfers: JMP, Jcc, JrCXZ, LOOP/LOOPE/LOOPNE, CALL, RET (near
//! and far), IRET, INT n / INT3 / INTO / INT1 (SDM Vol. 2A/2B). The
//! protected-mode far-transfer rules are in `far.rs`.

use crate::interp::exec::{fast_jump, handler, pure, pure_loop};
use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::far;
use super::{Ctx, Exec, Handler, Op, Stop, W16, W32, W64, Width, operand_bits};
use crate::by_width;
use crate::interp::cpu::Mode;
use crate::interp::decode::Decoded;
use crate::interp::events::{EventKind, vec};
use crate::state::{SegReg, rflags};

impl Ctx {
    /// Sets RIP to a near-branch target after the CS limit (legacy modes)
    /// or canonical (64-bit mode) check: #GP(0) on failure (SDM Vol. 2A
    /// "JMP").
    #[inline(always)]
    pub fn jump_near(&mut self, target: u64) -> Exec {
        self.check_near(target)?;
        self.cpu.rip = target;
        Err(Stop::Jump)
    }

    #[inline(always)]
    fn check_near(&mut self, target: u64) -> Exec {
        if !near_target_ok(&self.cpu, target) {
            return Err(self.cpu.gp(0));
        }
        Ok(())
    }
}

/// Whether a near branch to `target` passes the CS-limit (legacy modes) or
/// canonical (64-bit mode) check. For a relative branch the decoder asks
/// once: blocks are keyed by mode and CS limit, so the answer holds for
/// every execution, and the handlers chosen for a good target skip it.
fn near_target_ok(cpu: &crate::interp::cpu::Cpu, target: u64) -> bool {
    if cpu.mode == Mode::Long {
        cpu.canonical(target)
    } else {
        target <= u64::from(cpu.s.seg(SegReg::Cs).limit)
    }
}

/// If `insn` is a Jcc whose target was checked at decode time (the
/// `jcc_ok` form), its condition code: it can be fused with a CMP/TEST
/// before it.
pub fn fusable_jcc(insn: &Instruction, ctx: &Ctx) -> Option<u8> {
    let cc = super::data::cc_of(insn)?;
    let near = matches!(
        insn.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    );
    let jcc = !matches!(
        insn.mnemonic(),
        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
    );
    (near && jcc && near_target_ok(&ctx.cpu, insn.near_branch_target())).then_some(cc)
}

/// If `insn` is a near JMP rel whose target was checked at decode time
/// (the `jmp_rel_ok` form), its target: the block builder may go on
/// decoding there instead of ending the block ([`JMP_FOLLOWED`]).
pub fn followable_jmp(insn: &Instruction, ctx: &Ctx) -> Option<u64> {
    let near = matches!(
        insn.op0_kind(),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
    );
    let target = insn.near_branch_target();
    (insn.mnemonic() == Mnemonic::Jmp && near && near_target_ok(&ctx.cpu, target)).then_some(target)
}

/// A JMP rel whose target instructions follow it in the same block: it
/// only retires (its op's `next_rip` is the target). One-at-a-time
/// execution uses the op's `alt`, the real `jmp_rel_ok`.
pub const JMP_FOLLOWED: Handler = pure(jmp_followed);
fn jmp_followed(_ctx: &mut Ctx, _op: &Op) -> Exec {
    Ok(())
}

fn jmp_rel(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.jump_near(op.imm)
}
/// JMP rel to a target checked at decode time.
fn jmp_rel_ok(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.cpu.rip = op.imm;
    Err(Stop::Jump)
}

fn jcc(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.lf.cond(op.imm2 as u8) {
        return ctx.jump_near(op.imm);
    }
    Ok(())
}
/// Jcc with the condition resolved at decode time (no condition-code
/// dispatch) and a target checked at decode time.
fn jcc_ok<const CC: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.lf.cond(CC) {
        ctx.cpu.rip = op.imm;
        return Err(Stop::Jump);
    }
    Ok(())
}
const JCC_OK: [Handler; 16] = [
    pure(jcc_ok::<0>),
    pure(jcc_ok::<1>),
    pure(jcc_ok::<2>),
    pure(jcc_ok::<3>),
    pure(jcc_ok::<4>),
    pure(jcc_ok::<5>),
    pure(jcc_ok::<6>),
    pure(jcc_ok::<7>),
    pure(jcc_ok::<8>),
    pure(jcc_ok::<9>),
    pure(jcc_ok::<10>),
    pure(jcc_ok::<11>),
    pure(jcc_ok::<12>),
    pure(jcc_ok::<13>),
    pure(jcc_ok::<14>),
    pure(jcc_ok::<15>),
];

/// [`JCC_OK`] for a Jcc back to the start of its own block (see
/// [`pure_loop`]); the block builder picks it.
pub const JCC_LOOP: [Handler; 16] = [
    pure_loop(jcc_ok::<0>),
    pure_loop(jcc_ok::<1>),
    pure_loop(jcc_ok::<2>),
    pure_loop(jcc_ok::<3>),
    pure_loop(jcc_ok::<4>),
    pure_loop(jcc_ok::<5>),
    pure_loop(jcc_ok::<6>),
    pure_loop(jcc_ok::<7>),
    pure_loop(jcc_ok::<8>),
    pure_loop(jcc_ok::<9>),
    pure_loop(jcc_ok::<10>),
    pure_loop(jcc_ok::<11>),
    pure_loop(jcc_ok::<12>),
    pure_loop(jcc_ok::<13>),
    pure_loop(jcc_ok::<14>),
    pure_loop(jcc_ok::<15>),
];

fn jmp_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let t = ctx.reg::<W>(op.r0);
    ctx.jump_near(t)
}
/// Is `insn` (decoded into `op`) a switch-table jump, `jmp [table + index
/// * 8]` in 64-bit code (the `jmp_m_fast::<W64, 6>` form), which the block
/// builder may fuse with the bounds check before it
/// (`alu::fused_cmp_jcc_switch`)?
pub fn is_switch_jump(insn: &Instruction, op: &Op, ctx: &Ctx) -> bool {
    insn.mnemonic() == Mnemonic::Jmp
        && insn.op0_kind() == OpKind::Memory
        && !is_far(insn)
        && operand_bits(insn, 0) == 64
        && crate::interp::decode::addr_form(op, ctx) == crate::interp::mem::AF_FLAT_S1 + 3
}

/// JMP r/m fast path: the target read from RAM through the TLB, and a
/// target that passes the near-branch check.
#[inline(always)]
pub(super) fn jmp_m_fast<W: Width, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    // The flat forms only run in 64-bit mode: the target check is the
    // canonical one.
    let flat = AF != crate::interp::mem::AF_SEG;
    match ctx.load_fast::<W, AF>(op) {
        Some(t) if (flat && ctx.cpu.canonical(t)) || (!flat && near_target_ok(&ctx.cpu, t)) => {
            ctx.cpu.rip = t;
            true
        }
        _ => false,
    }
}
pub(super) fn jmp_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let t = ctx.load::<W>(op)?;
    ctx.jump_near(t)
}

/// JCXZ/JECXZ/JRCXZ: counter width from the address size.
fn jrcxz(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.regs[1] & super::ASIZE_MASK[op.asize as usize & 3] == 0 {
        return ctx.jump_near(op.imm);
    }
    Ok(())
}

/// LOOP (imm2 = 0), LOOPE (1), LOOPNE (2).
fn loop_(ctx: &mut Ctx, op: &Op) -> Exec {
    let mask = super::ASIZE_MASK[op.asize as usize & 3];
    let c = ctx.cpu.regs[1].wrapping_sub(1) & mask;
    let taken = c != 0
        && match op.imm2 {
            1 => ctx.cpu.lf.zf(),
            2 => !ctx.cpu.lf.zf(),
            _ => true,
        };
    if taken {
        // Check the target before committing the counter.
        let t = op.imm;
        let saved = ctx.cpu.regs[1];
        ctx.cpu.regs[1] = super::addr_reg_update(saved, c, mask);
        let r = ctx.jump_near(t);
        if r == Err(Stop::Fault) {
            ctx.cpu.regs[1] = saved;
        }
        return r;
    }
    ctx.cpu.regs[1] = super::addr_reg_update(ctx.cpu.regs[1], c, mask);
    Ok(())
}

fn call_rel<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ret = ctx.next_rip(op) & W::MASK;
    call_to::<W>(ctx, op.imm, ret)
}
fn call_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let t = ctx.reg::<W>(op.r0);
    let ret = ctx.next_rip(op) & W::MASK;
    call_to::<W>(ctx, t, ret)
}
fn call_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let t = ctx.load::<W>(op)?;
    let ret = ctx.next_rip(op) & W::MASK;
    call_to::<W>(ctx, t, ret)
}
#[inline(always)]
/// Near CALL: the target is checked before the push (SDM Vol. 2A "CALL"
/// operation: #GP(0) for a bad target comes before any stack fault).
fn call_to<W: Width>(ctx: &mut Ctx, target: u64, ret: u64) -> Exec {
    ctx.check_near(target)?;
    ctx.push(W::BYTES, ret)?;
    ctx.cpu.rip = target;
    Err(Stop::Jump)
}
/// CALL rel to a target checked at decode time.
fn call_rel_ok<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.push(W::BYTES, op.next_rip & W::MASK)?;
    ctx.cpu.rip = op.imm;
    Err(Stop::Jump)
}

/// RET / RET imm16 (imm in op.imm).
fn ret_near<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let t = ctx.peek(W::BYTES, 0)?;
    let sp = ctx.cpu.regs[4];
    ctx.adjust_sp(W::BYTES as u64 + op.imm);
    let r = ctx.jump_near(t);
    if r == Err(Stop::Fault) {
        ctx.cpu.regs[4] = sp;
    }
    r
}

fn jmp_far_ptr(ctx: &mut Ctx, op: &Op) -> Exec {
    far::far_jump(ctx, op.imm2, op.imm, u32::from(op.osize) * 8)
}
fn jmp_far_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ea = ctx.ea(op);
    let off = ctx.read_seg::<W>(op.seg, ea)?;
    let sel = ctx.read_seg::<W16>(
        op.seg,
        ea.wrapping_add(W::BYTES as u64) & super::ASIZE_MASK[op.asize as usize & 3],
    )? as u16;
    far::far_jump(ctx, sel, off, W::BITS)
}
fn call_far_ptr(ctx: &mut Ctx, op: &Op) -> Exec {
    let ret = ctx.next_rip(op);
    far::far_call(ctx, op.imm2, op.imm, u32::from(op.osize) * 8, ret)
}
fn call_far_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ea = ctx.ea(op);
    let off = ctx.read_seg::<W>(op.seg, ea)?;
    let sel = ctx.read_seg::<W16>(
        op.seg,
        ea.wrapping_add(W::BYTES as u64) & super::ASIZE_MASK[op.asize as usize & 3],
    )? as u16;
    let ret = ctx.next_rip(op);
    far::far_call(ctx, sel, off, W::BITS, ret)
}
fn ret_far<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    far::far_return(ctx, W::BITS, op.imm)
}
fn iret<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    far::iret(ctx, W::BITS)
}

/// BOUND r, m (legacy modes): #BR unless lower ≤ index ≤ upper (signed).
fn bound<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ea = ctx.ea(op);
    let lo = ctx.read_seg::<W>(op.seg, ea)?;
    let hi = ctx.read_seg::<W>(
        op.seg,
        ea.wrapping_add(W::BYTES as u64) & super::ASIZE_MASK[op.asize as usize & 3],
    )?;
    let s = |v: u64| crate::interp::flags::sext(v, W::BITS) as i64;
    let i = s(ctx.reg::<W>(op.r0));
    if i < s(lo) || i > s(hi) {
        return Err(ctx.cpu.raise(vec::BR, None));
    }
    Ok(())
}

/// INT n.
fn int_n(ctx: &mut Ctx, op: &Op) -> Exec {
    let ret = ctx.next_rip(op);
    ctx.deliver(op.imm as u8, None, EventKind::SoftwareInt, ret)?;
    ctx.cpu.stats.interrupts += 1;
    Err(Stop::Jump)
}
fn int3(ctx: &mut Ctx, op: &Op) -> Exec {
    let ret = ctx.next_rip(op);
    ctx.deliver(vec::BP, None, EventKind::SoftwareException, ret)?;
    ctx.cpu.stats.exceptions += 1;
    Err(Stop::Jump)
}
fn into(ctx: &mut Ctx, op: &Op) -> Exec {
    if !ctx.cpu.lf.of() {
        return Ok(());
    }
    let ret = ctx.next_rip(op);
    ctx.deliver(vec::OF, None, EventKind::SoftwareException, ret)?;
    ctx.cpu.stats.exceptions += 1;
    Err(Stop::Jump)
}
fn int1(ctx: &mut Ctx, op: &Op) -> Exec {
    let ret = ctx.next_rip(op);
    ctx.deliver(vec::DB, None, EventKind::PrivSoftwareException, ret)?;
    ctx.cpu.stats.exceptions += 1;
    Err(Stop::Jump)
}

fn is_far(insn: &Instruction) -> bool {
    use iced_x86::MemorySize;
    matches!(
        insn.memory_size(),
        MemorySize::SegPtr16 | MemorySize::SegPtr32 | MemorySize::SegPtr64
    )
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let k0 = insn.op0_kind();
    let m = insn.mnemonic();
    let bits = operand_bits(insn, 0);
    let h: Handler = match m {
        Mnemonic::Jmp => match k0 {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                op.imm = insn.near_branch_target();
                if near_target_ok(&ctx.cpu, op.imm) {
                    pure(jmp_rel_ok)
                } else {
                    handler(jmp_rel)
                }
            }
            OpKind::Register => by_width!(bits, jmp_r),
            OpKind::Memory => {
                if is_far(insn) {
                    let w = insn.memory_size().size() as u32 * 8 - 16;
                    by_width!(w, jmp_far_m)
                } else {
                    use crate::interp::mem::{AF_FLAT_BD, AF_SEG};
                    match (bits, crate::interp::decode::addr_form(op, ctx)) {
                        (16, _) => fast_jump(jmp_m_fast::<W16, AF_SEG>, jmp_m::<W16>),
                        (32, _) => fast_jump(jmp_m_fast::<W32, AF_SEG>, jmp_m::<W32>),
                        (_, AF_FLAT_BD) => fast_jump(jmp_m_fast::<W64, AF_FLAT_BD>, jmp_m::<W64>),
                        // Switch tables: `jmp [table + index * 8]`.
                        (_, 6) => fast_jump(jmp_m_fast::<W64, 6>, jmp_m::<W64>),
                        (_, 3..=5) => fast_jump(
                            jmp_m_fast::<W64, { crate::interp::mem::AF_FLAT }>,
                            jmp_m::<W64>,
                        ),
                        (_, _) => fast_jump(jmp_m_fast::<W64, AF_SEG>, jmp_m::<W64>),
                    }
                }
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                op.imm = u64::from(insn.far_branch32());
                op.imm2 = insn.far_branch_selector();
                op.osize = if k0 == OpKind::FarBranch16 { 2 } else { 4 };
                handler(jmp_far_ptr)
            }
            _ => return None,
        },
        Mnemonic::Call => {
            // Near call operand size: 64 in 64-bit mode (66h ignored on
            // Intel), else the operand size.
            let w = insn.stack_pointer_increment().unsigned_abs() * 8;
            match k0 {
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                    op.imm = insn.near_branch_target();
                    if near_target_ok(&ctx.cpu, op.imm) {
                        by_width!(w, call_rel_ok)
                    } else {
                        by_width!(w, call_rel)
                    }
                }
                OpKind::Register => by_width!(w, call_r),
                OpKind::Memory => {
                    if is_far(insn) {
                        let fw = insn.memory_size().size() as u32 * 8 - 16;
                        by_width!(fw, call_far_m)
                    } else {
                        by_width!(w, call_m)
                    }
                }
                OpKind::FarBranch16 | OpKind::FarBranch32 => {
                    op.imm = u64::from(insn.far_branch32());
                    op.imm2 = insn.far_branch_selector();
                    op.osize = if k0 == OpKind::FarBranch16 { 2 } else { 4 };
                    handler(call_far_ptr)
                }
                _ => return None,
            }
        }
        Mnemonic::Ret => {
            op.imm = if k0 == OpKind::Immediate16 {
                u64::from(insn.immediate16())
            } else {
                0
            };
            let w = match insn.code() {
                Code::Retnw | Code::Retnw_imm16 => 16,
                Code::Retnd | Code::Retnd_imm16 => 32,
                _ => 64,
            };
            by_width!(w, ret_near)
        }
        Mnemonic::Retf => {
            op.imm = if k0 == OpKind::Immediate16 {
                u64::from(insn.immediate16())
            } else {
                0
            };
            let w = match insn.code() {
                Code::Retfw | Code::Retfw_imm16 => 16,
                Code::Retfd | Code::Retfd_imm16 => 32,
                _ => 64,
            };
            by_width!(w, ret_far)
        }
        Mnemonic::Iret => handler(iret::<W16>),
        Mnemonic::Iretd => handler(iret::<W32>),
        Mnemonic::Iretq => handler(iret::<W64>),
        Mnemonic::Int => {
            op.imm = u64::from(insn.immediate8());
            handler(int_n)
        }
        Mnemonic::Int3 => handler(int3),
        Mnemonic::Into => handler(into),
        Mnemonic::Int1 => handler(int1),
        Mnemonic::Bound => {
            return Decoded::next(if operand_bits(insn, 0) == 16 {
                handler(bound::<W16>)
            } else {
                handler(bound::<W32>)
            });
        }
        Mnemonic::Jrcxz | Mnemonic::Jecxz | Mnemonic::Jcxz => {
            op.imm = insn.near_branch_target();
            return Decoded::next(handler(jrcxz));
        }
        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne => {
            op.imm = insn.near_branch_target();
            op.imm2 = match m {
                Mnemonic::Loope => 1,
                Mnemonic::Loopne => 2,
                _ => 0,
            };
            return Decoded::next(handler(loop_));
        }
        _ => {
            if let Some(cc) = super::data::cc_of(insn)
                && matches!(
                    k0,
                    OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
                )
            {
                op.imm = insn.near_branch_target();
                op.imm2 = u16::from(cc);
                if near_target_ok(&ctx.cpu, op.imm) {
                    return Decoded::next(JCC_OK[usize::from(cc & 15)]);
                }
                return Decoded::next(handler(jcc));
            }
            return None;
        }
    };
    let _ = (rflags::IF, W32::BITS);
    Decoded::end(h)
}
