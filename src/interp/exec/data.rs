//! Data movement: MOV (all forms, incl. segment registers), MOVZX/MOVSX/
//! MOVSXD, LEA, XCHG, CMOVcc, SETcc, BSWAP, CBW/CWDE/CDQE, CWD/CDQ/CQO,
//! LAHF/SAHF, XLAT, CMPXCHG, CMPXCHG8B/16B, XADD, MOVBE, and the
//! no-operation hints (NOP, PAUSE, ENDBR, prefetches, fences).

use crate::interp::exec::{handler, pure};
use iced_x86::{ConditionCode, Instruction, Mnemonic, OpKind, Register};

use super::{Ctx, Exec, Handler, Op, Stop, W8, W16, W32, W64, Width, operand_bits};
use crate::interp::cpu::attn;
use crate::interp::decode::{Decoded, addr_form, imm, is_imm, sreg};
use crate::interp::exec::alu;
use crate::state::{SegReg, rflags, shadow};
use crate::{by_width, by_width_fast_af, by_width_fast_afs, by_width_pure};

/// Condition-code number 0–15 of a Jcc/SETcc/CMOVcc instruction.
pub fn cc_of(insn: &Instruction) -> Option<u8> {
    let cc = insn.condition_code();
    (cc != ConditionCode::None).then(|| cc as u8 - 1)
}

pub(super) fn mov_rr<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r1);
    ctx.set_reg::<W>(op.r0, v);
    Ok(())
}
// The hottest memory handlers come in two parts: the fast path (flat
// segment, TLB hit) inline, and the full path in a separate function the
// fast path tail-calls, so the fast path needs no stack frame.

#[inline(always)]
pub(super) fn mov_rm<W: Width, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    match ctx.load_fast::<W, AF>(op) {
        Some(v) => {
            ctx.set_reg::<W>(op.r0, v);
            true
        }
        None => false,
    }
}
pub(super) fn mov_rm_full<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.load::<W>(op)?;
    ctx.set_reg::<W>(op.r0, v);
    Ok(())
}
#[inline(always)]
pub(super) fn mov_mr<W: Width, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    let v = ctx.reg::<W>(op.r1);
    ctx.store_fast::<W, AF>(op, v)
}
pub(super) fn mov_mr_full<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r1);
    ctx.store::<W>(op, v)
}
fn mov_ri<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.set_reg::<W>(op.r0, op.imm);
    Ok(())
}
#[inline(always)]
pub(super) fn mov_mi<W: Width, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    ctx.store_fast::<W, AF>(op, op.imm)
}
pub(super) fn mov_mi_full<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.store::<W>(op, op.imm)
}

/// Reads register `n` at `SBITS` (8, 16 or 32) bits.
#[inline(always)]
fn reg_bits<const SBITS: u32>(ctx: &Ctx, n: u8) -> u64 {
    match SBITS {
        8 => ctx.reg::<W8>(n),
        16 => ctx.reg::<W16>(n),
        _ => ctx.reg::<W32>(n),
    }
}

/// Zero- or sign-extends a `SBITS`-bit source for MOVZX/MOVSX/MOVSXD.
#[inline(always)]
fn extend<const SBITS: u32, const SIGNED: bool>(v: u64) -> u64 {
    if SIGNED {
        crate::interp::flags::sext(v, SBITS)
    } else {
        v
    }
}

/// MOVZX/MOVSX/MOVSXD: source width `SBITS`, destination W.
pub(super) fn ext_r<W: Width, const SBITS: u32, const SIGNED: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    let v = extend::<SBITS, SIGNED>(reg_bits::<SBITS>(ctx, op.r1));
    ctx.set_reg::<W>(op.r0, v & W::MASK);
    Ok(())
}
#[inline(always)]
fn ext_m<W: Width, const SBITS: u32, const SIGNED: bool, const AF: u8>(
    ctx: &mut Ctx,
    op: &Op,
) -> bool {
    let fast = match SBITS {
        8 => ctx.load_fast::<W8, AF>(op),
        16 => ctx.load_fast::<W16, AF>(op),
        _ => ctx.load_fast::<W32, AF>(op),
    };
    let Some(v) = fast else {
        return false;
    };
    ctx.set_reg::<W>(op.r0, extend::<SBITS, SIGNED>(v) & W::MASK);
    true
}
fn ext_m_full<W: Width, const SBITS: u32, const SIGNED: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = match SBITS {
        8 => ctx.load::<W8>(op)?,
        16 => ctx.load::<W16>(op)?,
        _ => ctx.load::<W32>(op)?,
    };
    ctx.set_reg::<W>(op.r0, extend::<SBITS, SIGNED>(v) & W::MASK);
    Ok(())
}

/// LEA; `BD`: no index register; `WIDE`: the address size is at least
/// the operand size, so truncating the sum to the operand size is all the
/// address-size wrap does (SDM Vol. 2A LEA, Table 3-54).
pub(super) fn lea<W: Width, const BD: bool, const WIDE: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let sum = if BD {
        ctx.gpr(op.base).wrapping_add(op.disp)
    } else {
        ctx.gpr(op.base)
            .wrapping_add(ctx.gpr(op.index) << (op.scale & 3))
            .wrapping_add(op.disp)
    };
    let ea = if WIDE {
        sum
    } else {
        sum & super::ASIZE_MASK[op.asize as usize & 3]
    };
    ctx.set_reg::<W>(op.r0, ea & W::MASK);
    Ok(())
}

fn xchg_rr<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let b = ctx.reg::<W>(op.r1);
    ctx.set_reg::<W>(op.r0, b);
    ctx.set_reg::<W>(op.r1, a);
    Ok(())
}
/// XCHG r/m, r (memory form; op.r1 is the register).
fn xchg_mr<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let m = ctx.load_rmw::<W>(op)?;
    let r = ctx.reg::<W>(op.r1);
    ctx.store::<W>(op, r)?;
    ctx.set_reg::<W>(op.r1, m);
    Ok(())
}

fn cmov_rr<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r1);
    if ctx.cpu.lf.cond(op.imm as u8) {
        ctx.set_reg::<W>(op.r0, v);
    } else if W::BITS == 32 {
        // A 32-bit CMOV zero-extends even when the condition is false.
        let cur = ctx.reg::<W>(op.r0);
        ctx.set_reg::<W>(op.r0, cur);
    }
    Ok(())
}
fn cmov_rm<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    // The source is read (and may fault) whatever the condition.
    let v = ctx.load::<W>(op)?;
    if ctx.cpu.lf.cond(op.imm as u8) {
        ctx.set_reg::<W>(op.r0, v);
    } else if W::BITS == 32 {
        let cur = ctx.reg::<W>(op.r0);
        ctx.set_reg::<W>(op.r0, cur);
    }
    Ok(())
}

fn setcc_r(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = u64::from(ctx.cpu.lf.cond(op.imm as u8));
    ctx.set_reg::<W8>(op.r0, v);
    Ok(())
}
fn setcc_m(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = u64::from(ctx.cpu.lf.cond(op.imm as u8));
    ctx.store::<W8>(op, v)
}

fn bswap<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r0);
    let r = match W::BITS {
        64 => v.swap_bytes(),
        32 => u64::from((v as u32).swap_bytes()),
        // BSWAP with a 16-bit operand is undefined; hardware gives 0.
        _ => 0,
    };
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}

/// CBW/CWDE/CDQE: sign-extend the lower half of rAX into rAX.
fn cbw<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let half = W::BITS / 2;
    let v = crate::interp::flags::sext(ctx.cpu.regs[0], half) & W::MASK;
    ctx.set_reg::<W>(0, v);
    Ok(())
}
/// CWD/CDQ/CQO: rDX = sign of rAX.
fn cwd<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let a = ctx.reg::<W>(0);
    let neg = (a >> (W::BITS - 1)) & 1 != 0;
    ctx.set_reg::<W>(2, if neg { W::MASK } else { 0 });
    Ok(())
}

fn lahf(ctx: &mut Ctx, _op: &Op) -> Exec {
    let f = ctx.cpu.get_rflags() & 0xD7 | 2;
    ctx.set_reg::<W8>(16, f);
    Ok(())
}
fn sahf(ctx: &mut Ctx, _op: &Op) -> Exec {
    let ah = ctx.reg::<W8>(16);
    let f = (ctx.cpu.get_rflags() & !0xD5) | (ah & 0xD5);
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn xlat(ctx: &mut Ctx, op: &Op) -> Exec {
    let al = ctx.cpu.regs[0] & 0xFF;
    let ea = (ctx.cpu.regs[3].wrapping_add(al)) & super::ASIZE_MASK[op.asize as usize & 3];
    let v = ctx.read_seg::<W8>(op.seg, ea)?;
    ctx.set_reg::<W8>(0, v);
    Ok(())
}

fn cmpxchg_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let acc = ctx.reg::<W>(0);
    let dst = ctx.reg::<W>(op.r0);
    let (_, f) = alu::compute::<W, { alu::CMP }>(&ctx.cpu.lf, acc, dst);
    ctx.cpu.lf = f;
    if acc == dst {
        let src = ctx.reg::<W>(op.r1);
        ctx.set_reg::<W>(op.r0, src);
    } else {
        ctx.set_reg::<W>(0, dst);
    }
    Ok(())
}
fn cmpxchg_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let acc = ctx.reg::<W>(0);
    let dst = ctx.load_rmw::<W>(op)?;
    let (_, f) = alu::compute::<W, { alu::CMP }>(&ctx.cpu.lf, acc, dst);
    if acc == dst {
        let src = ctx.reg::<W>(op.r1);
        ctx.store::<W>(op, src)?;
    } else {
        // The destination is written back with its own value (SDM: the
        // processor always writes, so a read-only page faults).
        ctx.store::<W>(op, dst)?;
        ctx.set_reg::<W>(0, dst);
    }
    ctx.cpu.lf = f;
    Ok(())
}

fn xadd_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let d = ctx.reg::<W>(op.r0);
    let s = ctx.reg::<W>(op.r1);
    let (r, f) = alu::compute::<W, { alu::ADD }>(&ctx.cpu.lf, d, s);
    ctx.cpu.lf = f;
    ctx.set_reg::<W>(op.r1, d);
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}
fn xadd_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let d = ctx.load_rmw::<W>(op)?;
    let s = ctx.reg::<W>(op.r1);
    let (r, f) = alu::compute::<W, { alu::ADD }>(&ctx.cpu.lf, d, s);
    ctx.store::<W>(op, r)?;
    ctx.cpu.lf = f;
    ctx.set_reg::<W>(op.r1, d);
    Ok(())
}

/// CMPXCHG8B (W = W32 halves) / CMPXCHG16B (W = W64 halves).
fn cmpxchg_double<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ea = ctx.ea(op);
    let bytes = W::BYTES as u64;
    // The segment/canonical check comes first: a non-canonical SS-based
    // operand is #SS(0) even when misaligned (found by `nestor difftest`).
    let la = ctx.linear(op.seg, ea, 2 * W::BYTES, true)?;
    if W::BITS == 64 && ea & 15 != 0 {
        // CMPXCHG16B requires a 16-byte aligned operand (SDM Vol. 2A
        // CMPXCHG8B/CMPXCHG16B, "#GP(0) If memory operand for CMPXCHG16B is
        // not aligned on a 16-byte boundary").
        return Err(ctx.cpu.gp(0));
    }
    ctx.probe_write(la, 2 * W::BYTES)?;
    let lo = ctx.read_la(la, W::BYTES)?;
    let hi = ctx.read_la(la.wrapping_add(bytes), W::BYTES)?;
    let (ax, dx) = (ctx.reg::<W>(0), ctx.reg::<W>(2));
    let equal = lo == ax && hi == dx;
    if equal {
        let (bx, cx) = (ctx.reg::<W>(3), ctx.reg::<W>(1));
        ctx.write_la(la, W::BYTES, bx)?;
        ctx.write_la(la.wrapping_add(bytes), W::BYTES, cx)?;
    } else {
        ctx.write_la(la, W::BYTES, lo)?;
        ctx.write_la(la.wrapping_add(bytes), W::BYTES, hi)?;
        ctx.set_reg::<W>(0, lo);
        ctx.set_reg::<W>(2, hi);
    }
    let f = (ctx.cpu.get_rflags() & !rflags::ZF) | if equal { rflags::ZF } else { 0 };
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn movbe_rm<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.load::<W>(op)?;
    let r = v.swap_bytes() >> (64 - W::BITS);
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}
fn movbe_mr<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r1);
    ctx.store::<W>(op, v.swap_bytes() >> (64 - W::BITS))
}

/// LDS/LES/LFS/LGS/LSS r, m16:16/32/64: load the segment (op.imm2 =
/// segment register) first, then the offset register.
fn load_far<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let ea = ctx.ea(op);
    let off = ctx.read_seg::<W>(op.seg, ea)?;
    let sel_ea = ea.wrapping_add(W::BYTES as u64) & super::ASIZE_MASK[op.asize as usize & 3];
    let sel = ctx.read_seg::<W16>(op.seg, sel_ea)? as u16;
    let r = load_sreg(ctx, op.imm2 as u8, sel);
    if let Err(Stop::Fault) = r {
        return r;
    }
    ctx.set_reg::<W>(op.r0, off);
    r
}

/// ARPL r/m16, r16 (legacy protected mode): raise the RPL of the
/// destination selector to the source's, ZF = adjusted.
fn arpl<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if matches!(
        ctx.cpu.mode,
        crate::interp::cpu::Mode::Real | crate::interp::cpu::Mode::V86
    ) {
        return Err(ctx.cpu.ud());
    }
    let d = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r0)
    };
    let s = ctx.reg::<W16>(op.r1);
    let adjust = d & 3 < s & 3;
    if adjust {
        let v = (d & !3) | (s & 3);
        if MEM {
            ctx.store::<W16>(op, v)?;
        } else {
            ctx.set_reg::<W16>(op.r0, v);
        }
    }
    let f = (ctx.cpu.get_rflags() & !rflags::ZF) | if adjust { rflags::ZF } else { 0 };
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn nop(_ctx: &mut Ctx, _op: &Op) -> Exec {
    Ok(())
}

fn pause(ctx: &mut Ctx, _op: &Op) -> Exec {
    ctx.cpu.pause();
    Ok(())
}

/// MOV Sreg, r/m16 (not CS). Loading SS blocks interrupts and debug traps
/// for one instruction (SDM Vol. 3A 7.8.3).
fn mov_sreg_r(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = ctx.reg::<W16>(op.r1) as u16;
    load_sreg(ctx, op.r0, sel)
}
fn mov_sreg_m(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = ctx.load::<W16>(op)? as u16;
    load_sreg(ctx, op.r0, sel)
}
pub fn load_sreg(ctx: &mut Ctx, sr: u8, sel: u16) -> Exec {
    let sr = SegReg::ALL[sr as usize % 6];
    ctx.load_data_segment(sr, sel)?;
    if sr == SegReg::Ss {
        ctx.cpu.s.events.interrupt_shadow |= shadow::MOV_SS;
        ctx.cpu.attention |= attn::EVENT;
        return Err(Stop::Exit);
    }
    Ok(())
}
/// MOV r/m, Sreg: 16-bit store, or zero-extended into a 32/64-bit register.
fn mov_r_sreg<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = u64::from(ctx.cpu.s.seg(SegReg::ALL[op.r1 as usize % 6]).selector);
    if W::BITS == 16 {
        ctx.set_reg::<W16>(op.r0, sel);
    } else {
        ctx.set_reg::<W>(op.r0, sel);
    }
    Ok(())
}
fn mov_m_sreg(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = u64::from(ctx.cpu.s.seg(SegReg::ALL[op.r1 as usize % 6]).selector);
    ctx.store::<W16>(op, sel)
}

fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let (k0, k1) = (insn.op0_kind(), insn.op1_kind());
    let bits = operand_bits(insn, 0);
    let model = ctx.cpu.model();
    use crate::model::Feature;
    let h: Handler = match insn.mnemonic() {
        Mnemonic::Mov => {
            // Segment registers.
            if let Some(s) = sreg(insn.op0_register()) {
                if s == SegReg::Cs as u8 {
                    return Decoded::end(handler(ud));
                }
                op.r0 = s;
                return Decoded::end(if k1 == OpKind::Memory {
                    handler(mov_sreg_m)
                } else {
                    handler(mov_sreg_r)
                });
            }
            if k1 == OpKind::Register
                && let Some(s) = sreg(insn.op1_register())
            {
                op.r1 = s;
                return Decoded::next(match k0 {
                    OpKind::Memory => handler(mov_m_sreg),
                    _ => by_width!(bits, mov_r_sreg),
                });
            }
            if insn.op0_register().is_cr()
                || insn.op1_register().is_cr()
                || insn.op0_register().is_dr()
                || insn.op1_register().is_dr()
            {
                return None; // MOV CRn/DRn: system.rs
            }
            match (k0, k1) {
                (OpKind::Register, OpKind::Register) => by_width_pure!(bits, mov_rr),
                (OpKind::Register, OpKind::Memory) => {
                    by_width_fast_afs!(addr_form(op, ctx), bits, mov_rm[], mov_rm_full[])
                }
                (OpKind::Memory, OpKind::Register) => {
                    by_width_fast_afs!(addr_form(op, ctx), bits, mov_mr[], mov_mr_full[])
                }
                (OpKind::Register, k) if is_imm(k) => {
                    op.imm = imm(insn, 1);
                    by_width_pure!(bits, mov_ri)
                }
                (OpKind::Memory, k) if is_imm(k) => {
                    op.imm = imm(insn, 1);
                    by_width_fast_af!(addr_form(op, ctx), bits, mov_mi[], mov_mi_full[])
                }
                _ => return None,
            }
        }
        Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd => {
            let signed = insn.mnemonic() != Mnemonic::Movzx;
            let reg = k1 == OpKind::Register;
            let af = addr_form(op, ctx);
            macro_rules! ext {
                ($($sb:literal),*) => {
                    match (operand_bits(insn, 1), reg, signed) {
                        $(
                            ($sb, true, false) => by_width_pure!(bits, ext_r, $sb, false),
                            ($sb, true, true) => by_width_pure!(bits, ext_r, $sb, true),
                            ($sb, false, false) => by_width_fast_afs!(af, bits, ext_m[$sb, false], ext_m_full[$sb, false]),
                            ($sb, false, true) => by_width_fast_afs!(af, bits, ext_m[$sb, true], ext_m_full[$sb, true]),
                        )*
                        _ => return None,
                    }
                };
            }
            ext!(8, 16, 32)
        }
        Mnemonic::Lea => {
            let bd = op.index == crate::interp::cpu::ZERO_REG;
            let asize_bits = 16u32 << op.asize.min(2);
            match (bd, asize_bits >= bits) {
                (true, true) => by_width_pure!(bits, lea, true, true),
                (true, false) => by_width_pure!(bits, lea, true, false),
                (false, true) => by_width_pure!(bits, lea, false, true),
                (false, false) => by_width_pure!(bits, lea, false, false),
            }
        }
        Mnemonic::Lds | Mnemonic::Les | Mnemonic::Lfs | Mnemonic::Lgs | Mnemonic::Lss => {
            op.imm2 = match insn.mnemonic() {
                Mnemonic::Les => SegReg::Es,
                Mnemonic::Lss => SegReg::Ss,
                Mnemonic::Lds => SegReg::Ds,
                Mnemonic::Lfs => SegReg::Fs,
                _ => SegReg::Gs,
            } as u16;
            let w = operand_bits(insn, 0);
            return Decoded::end(match w {
                16 => handler(load_far::<W16>),
                32 => handler(load_far::<W32>),
                _ => handler(load_far::<W64>),
            });
        }
        Mnemonic::Arpl => {
            if insn.op0_kind() == OpKind::Memory {
                handler(arpl::<true>)
            } else {
                handler(arpl::<false>)
            }
        }
        Mnemonic::Xchg => match (k0, k1) {
            (OpKind::Register, OpKind::Register) => by_width_pure!(bits, xchg_rr),
            (OpKind::Memory, OpKind::Register) => by_width!(bits, xchg_mr),
            (OpKind::Register, OpKind::Memory) => {
                // Normalise to memory-first.
                op.r1 = op.r0;
                by_width!(bits, xchg_mr)
            }
            _ => return None,
        },
        Mnemonic::Cmovo
        | Mnemonic::Cmovno
        | Mnemonic::Cmovb
        | Mnemonic::Cmovae
        | Mnemonic::Cmove
        | Mnemonic::Cmovne
        | Mnemonic::Cmovbe
        | Mnemonic::Cmova
        | Mnemonic::Cmovs
        | Mnemonic::Cmovns
        | Mnemonic::Cmovp
        | Mnemonic::Cmovnp
        | Mnemonic::Cmovl
        | Mnemonic::Cmovge
        | Mnemonic::Cmovle
        | Mnemonic::Cmovg => {
            op.imm = u64::from(cc_of(insn)?);
            if k1 == OpKind::Register {
                by_width_pure!(bits, cmov_rr)
            } else {
                by_width!(bits, cmov_rm)
            }
        }
        Mnemonic::Seto
        | Mnemonic::Setno
        | Mnemonic::Setb
        | Mnemonic::Setae
        | Mnemonic::Sete
        | Mnemonic::Setne
        | Mnemonic::Setbe
        | Mnemonic::Seta
        | Mnemonic::Sets
        | Mnemonic::Setns
        | Mnemonic::Setp
        | Mnemonic::Setnp
        | Mnemonic::Setl
        | Mnemonic::Setge
        | Mnemonic::Setle
        | Mnemonic::Setg => {
            op.imm = u64::from(cc_of(insn)?);
            if k0 == OpKind::Register {
                handler(setcc_r)
            } else {
                handler(setcc_m)
            }
        }
        Mnemonic::Bswap => by_width_pure!(bits, bswap),
        Mnemonic::Cbw => pure(cbw::<W16>),
        Mnemonic::Cwde => pure(cbw::<W32>),
        Mnemonic::Cdqe => pure(cbw::<W64>),
        Mnemonic::Cwd => pure(cwd::<W16>),
        Mnemonic::Cdq => pure(cwd::<W32>),
        Mnemonic::Cqo => pure(cwd::<W64>),
        Mnemonic::Lahf | Mnemonic::Sahf => {
            if ctx.cpu.code_bits == 64 && !model.has(Feature::LahfLm) {
                handler(ud)
            } else if insn.mnemonic() == Mnemonic::Lahf {
                handler(lahf)
            } else {
                handler(sahf)
            }
        }
        Mnemonic::Xlatb => handler(xlat),
        Mnemonic::Cmpxchg => {
            if k0 == OpKind::Register {
                by_width!(bits, cmpxchg_r)
            } else {
                by_width!(bits, cmpxchg_m)
            }
        }
        Mnemonic::Xadd => {
            if k0 == OpKind::Register {
                by_width!(bits, xadd_r)
            } else {
                by_width!(bits, xadd_m)
            }
        }
        Mnemonic::Cmpxchg8b => handler(cmpxchg_double::<W32>),
        Mnemonic::Cmpxchg16b => {
            if model.has(Feature::Cx16) {
                handler(cmpxchg_double::<W64>)
            } else {
                handler(ud)
            }
        }
        Mnemonic::Movbe => {
            if !model.has(Feature::Movbe) {
                handler(ud)
            } else if k0 == OpKind::Register {
                by_width!(bits, movbe_rm)
            } else {
                op.r1 = crate::interp::decode::gpr(insn.op1_register()).unwrap_or(0);
                by_width!(bits, movbe_mr)
            }
        }
        Mnemonic::Pause => handler(pause),
        // 0F 18–0F 1F outside the prefetch encodings are "reserved NOP"
        // (SDM Vol. 2B NOP; Vol. 3 Table of opcode map hints): they execute as NOP.
        Mnemonic::Nop
        | Mnemonic::Reservednop
        | Mnemonic::Endbr32
        | Mnemonic::Endbr64
        | Mnemonic::Prefetchnta
        | Mnemonic::Prefetcht0
        | Mnemonic::Prefetcht1
        | Mnemonic::Prefetcht2
        | Mnemonic::Prefetchw
        | Mnemonic::Lfence
        | Mnemonic::Mfence
        | Mnemonic::Sfence => return Decoded::retire(pure(nop)),
        _ => return None,
    };
    let _ = Register::None;
    let _: fn(&mut Ctx, &Op) -> Exec = mov_rr::<W64>;
    Decoded::next(h)
}
