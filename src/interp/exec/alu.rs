//! Two-operand arithmetic and logic (ADD, OR, ADC, SBB, AND, SUB, XOR, CMP,
//! TEST) and the one-operand INC, DEC, NEG, NOT (SDM Vol. 2A/2B).

use crate::interp::exec::{
    Handler, W8, W16, W32, W64, fused, fused_loop, fused_mem, fused_switch, handler,
};
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Op, Width, operand_bits};
use crate::by_width;
use crate::interp::decode::{Decoded, addr_form, imm, is_imm};
use crate::interp::flags::LazyFlags;
use crate::interp::mem::{AF_FLAT_BD, load_le, store_le};

pub const ADD: u8 = 0;
pub const OR: u8 = 1;
pub const ADC: u8 = 2;
pub const SBB: u8 = 3;
pub const AND: u8 = 4;
pub const SUB: u8 = 5;
pub const XOR: u8 = 6;
pub const CMP: u8 = 7;
pub const TEST: u8 = 8;

/// Computes `a OP b` at width `W` and the resulting flags.
#[inline(always)]
pub fn compute<W: Width, const OP: u8>(lf: &LazyFlags, a: u64, b: u64) -> (u64, LazyFlags) {
    // Every arm defines all the flags (see `LazyFlags` on copies).
    let mut f = LazyFlags::default();
    let m = W::MASK;
    let r = match OP {
        ADD => {
            let r = a.wrapping_add(b) & m;
            f.set_add(a, b, r, W::BITS);
            r
        }
        ADC => {
            let c = u64::from(lf.cf());
            let r = a.wrapping_add(b).wrapping_add(c) & m;
            f.set_add_carry(a, b, r, W::BITS);
            r
        }
        SUB | CMP => {
            let r = a.wrapping_sub(b) & m;
            f.set_sub(a, b, r, W::BITS);
            r
        }
        SBB => {
            let c = u64::from(lf.cf());
            let r = a.wrapping_sub(b).wrapping_sub(c) & m;
            f.set_sub_borrow(a, b, r, W::BITS);
            r
        }
        OR => {
            let r = a | b;
            f.set_logic(r, W::BITS);
            r
        }
        XOR => {
            let r = a ^ b;
            f.set_logic(r, W::BITS);
            r
        }
        _ => {
            // AND, TEST
            let r = a & b;
            f.set_logic(r, W::BITS);
            r
        }
    };
    (r, f)
}

const fn writes(op: u8) -> bool {
    op != CMP && op != TEST
}

pub(super) fn alu_rr<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let b = ctx.reg::<W>(op.r1);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
    Ok(())
}

#[inline(always)]
fn alu_rm<W: Width, const OP: u8, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    let Some(b) = ctx.load_fast::<W, AF>(op) else {
        return false;
    };
    alu_reg_with::<W, OP>(ctx, op, b);
    true
}
fn alu_rm_full<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = ctx.load::<W>(op)?;
    alu_reg_with::<W, OP>(ctx, op, b);
    Ok(())
}
/// `r0 = r0 OP b` with flags.
#[inline(always)]
fn alu_reg_with<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op, b: u64) {
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
}

/// `m = m OP b` with flags, through the fast path when the operand is in a
/// writable (or, for CMP/TEST, readable) TLB entry.
#[inline(always)]
fn alu_mem_fast<W: Width, const OP: u8, const AF: u8>(ctx: &mut Ctx, op: &Op, b: u64) -> bool {
    let Some(p) = ctx.host_fast::<W, AF>(op, writes(OP)) else {
        return false;
    };
    let a = load_le(p, W::BYTES);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    if writes(OP) {
        store_le(p, W::BYTES, r);
    }
    ctx.cpu.lf = f;
    true
}
/// `m = m OP b` through the full memory path.
#[inline(always)]
fn alu_mem_full<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op, b: u64) -> Exec {
    let a = if writes(OP) {
        ctx.load_rmw::<W>(op)?
    } else {
        ctx.load::<W>(op)?
    };
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    if writes(OP) {
        ctx.store::<W>(op, r)?;
    }
    ctx.cpu.lf = f;
    Ok(())
}

#[inline(always)]
fn alu_mr<W: Width, const OP: u8, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    let b = ctx.reg::<W>(op.r1);
    alu_mem_fast::<W, OP, AF>(ctx, op, b)
}
fn alu_mr_full<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = ctx.reg::<W>(op.r1);
    alu_mem_full::<W, OP>(ctx, op, b)
}

pub(super) fn alu_ri<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, op.imm & W::MASK);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
    Ok(())
}

#[inline(always)]
fn alu_mi<W: Width, const OP: u8, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    alu_mem_fast::<W, OP, AF>(ctx, op, op.imm & W::MASK)
}
fn alu_mi_full<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    alu_mem_full::<W, OP>(ctx, op, op.imm & W::MASK)
}

/// ALU r, r / r, imm whose flags the next instruction overwrites before
/// anything can read them: the result only (the block builder picks this
/// form; see [`dead_flags_form`]).
pub(super) fn alu_rr_nf<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let b = ctx.reg::<W>(op.r1);
    let (r, _) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}
pub(super) fn alu_ri_nf<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let (r, _) = compute::<W, OP>(&ctx.cpu.lf, a, op.imm & W::MASK);
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}

/// The register ADD/OR/AND/SUB/XOR/CMP/TEST forms (r, r and r, imm): they
/// cannot fault, read no flag and write all six status flags (SDM Vol. 1
/// Appendix A, EFLAGS cross-reference).
fn reg_flags_writer(insn: &Instruction) -> Option<(u8, bool, u32)> {
    flags_writer(insn, OpKind::Register)
}

/// ADD/OR/AND/SUB/XOR/CMP/TEST whose first operand is of kind `first`
/// and whose second is a register or an immediate: (operation, immediate
/// form?, operand bits).
fn flags_writer(insn: &Instruction, first: OpKind) -> Option<(u8, bool, u32)> {
    let code = match insn.mnemonic() {
        Mnemonic::Add => ADD,
        Mnemonic::Or => OR,
        Mnemonic::And => AND,
        Mnemonic::Sub => SUB,
        Mnemonic::Xor => XOR,
        Mnemonic::Cmp => CMP,
        Mnemonic::Test => TEST,
        _ => return None,
    };
    if insn.op0_kind() != first {
        return None;
    }
    let imm = match insn.op1_kind() {
        OpKind::Register => false,
        k if is_imm(k) => true,
        _ => return None,
    };
    Some((code, imm, operand_bits(insn, 0)))
}

/// Whether `insn` overwrites every status flag without reading any and
/// cannot fault: the flags of the instruction before it are dead.
pub fn overwrites_flags(insn: &Instruction) -> bool {
    reg_flags_writer(insn).is_some()
}

/// For a register ADD/OR/AND/SUB/XOR whose flags are dead (the next
/// instruction of the block overwrites them all and nothing can run in
/// between: see [`overwrites_flags`]), the handler that skips the flags.
/// One-at-a-time execution keeps using the op's full `alt` handler.
pub fn dead_flags_form(insn: &Instruction) -> Option<Handler> {
    let (code, imm, bits) = reg_flags_writer(insn)?;
    Some(match (code, imm) {
        (CMP | TEST, _) => return None,
        (ADD, false) => crate::by_width_pure!(bits, alu_rr_nf, ADD),
        (OR, false) => crate::by_width_pure!(bits, alu_rr_nf, OR),
        (AND, false) => crate::by_width_pure!(bits, alu_rr_nf, AND),
        (SUB, false) => crate::by_width_pure!(bits, alu_rr_nf, SUB),
        (XOR, false) => crate::by_width_pure!(bits, alu_rr_nf, XOR),
        (ADD, true) => crate::by_width_pure!(bits, alu_ri_nf, ADD),
        (OR, true) => crate::by_width_pure!(bits, alu_ri_nf, OR),
        (AND, true) => crate::by_width_pure!(bits, alu_ri_nf, AND),
        (SUB, true) => crate::by_width_pure!(bits, alu_ri_nf, SUB),
        (_, true) => crate::by_width_pure!(bits, alu_ri_nf, XOR),
        (_, false) => return None,
    })
}

/// CMP or TEST of a register with a register or an immediate, fused with
/// the Jcc (condition `CC`) that follows it: sets the flags like the pair
/// and returns whether the branch is taken. The condition is evaluated
/// from the operands directly (SDM Vol. 1 Appendix B, condition codes).
#[inline(always)]
fn cmp_jcc<W: Width, const OP: u8, const IMM: bool, const CC: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    let a = ctx.reg::<W>(op.r0);
    let b = if IMM {
        op.imm & W::MASK
    } else {
        ctx.reg::<W>(op.r1)
    };
    flags_and_cond::<W, OP, CC>(ctx, a, b)
}

/// [`cmp_jcc`] for CMP/TEST with a flat `[base + disp]` memory operand
/// (first) and a register or an immediate: `None` (nothing done) when the
/// operand is not in the TLB.
#[inline(always)]
fn cmp_m_jcc<W: Width, const OP: u8, const IMM: bool, const CC: u8>(
    ctx: &mut Ctx,
    op: &Op,
) -> Option<bool> {
    let a = ctx.load_fast::<W, AF_FLAT_BD>(op)?;
    let b = if IMM {
        op.imm & W::MASK
    } else {
        ctx.reg::<W>(op.r1)
    };
    Some(flags_and_cond::<W, OP, CC>(ctx, a, b))
}

/// Sets the flags of CMP/TEST (`OP`) of `a` with `b` and evaluates
/// condition `CC` on them.
#[inline(always)]
fn flags_and_cond<W: Width, const OP: u8, const CC: u8>(ctx: &mut Ctx, a: u64, b: u64) -> bool {
    let top = 1u64 << (W::BITS - 1);
    let taken = if OP == CMP {
        let r = a.wrapping_sub(b) & W::MASK;
        ctx.cpu.lf.set_sub(a, b, r, W::BITS);
        let (sa, sb) = (
            crate::interp::flags::sext(a, W::BITS) as i64,
            crate::interp::flags::sext(b, W::BITS) as i64,
        );
        match CC >> 1 {
            0 => (a ^ b) & (a ^ r) & top != 0,
            1 => a < b,
            2 => a == b,
            3 => a <= b,
            4 => r & top != 0,
            5 => (r as u8).count_ones().is_multiple_of(2),
            6 => sa < sb,
            _ => sa <= sb,
        }
    } else {
        let r = a & b;
        ctx.cpu.lf.set_logic(r, W::BITS);
        match CC >> 1 {
            0 | 1 => false,
            2 | 3 => r == 0,
            4 | 6 => r & top != 0,
            5 => (r as u8).count_ones().is_multiple_of(2),
            _ => r == 0 || r & top != 0,
        }
    };
    taken ^ (CC & 1 != 0)
}

/// If `insn` is a CMP/TEST that [`fused_cmp_jcc`] can fuse with a
/// following Jcc: (operation, immediate form?, operand bits).
pub fn fusable_flags_op(insn: &Instruction) -> Option<(u8, bool, u32)> {
    reg_flags_writer(insn).filter(|&(code, ..)| code == CMP || code == TEST)
}

/// If `insn` is a CMP/TEST of a flat `[base + disp]` memory operand with
/// a register or an immediate that [`fused_cmp_m_jcc`] can fuse with a
/// following Jcc: (operation, immediate form?, operand bits).
pub fn fusable_mem_flags_op(insn: &Instruction, op: &Op, ctx: &Ctx) -> Option<(u8, bool, u32)> {
    flags_writer(insn, OpKind::Memory)
        .filter(|&(code, ..)| (code == CMP || code == TEST) && addr_form(op, ctx) == AF_FLAT_BD)
}

/// The fused CMP/TEST [mem] + Jcc handler (see [`cmp_m_jcc`]); when the
/// operand is not in the TLB, the CMP/TEST's own full handler runs and
/// the Jcc after it as usual.
pub fn fused_cmp_m_jcc(code: u8, imm: bool, bits: u32, cc: u8) -> Handler {
    macro_rules! by_cc {
        ($w:ty, $op:expr, $imm:expr, $full:ident) => {
            match cc & 15 {
                0 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 0>, $full::<$w, $op>),
                1 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 1>, $full::<$w, $op>),
                2 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 2>, $full::<$w, $op>),
                3 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 3>, $full::<$w, $op>),
                4 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 4>, $full::<$w, $op>),
                5 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 5>, $full::<$w, $op>),
                6 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 6>, $full::<$w, $op>),
                7 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 7>, $full::<$w, $op>),
                8 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 8>, $full::<$w, $op>),
                9 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 9>, $full::<$w, $op>),
                10 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 10>, $full::<$w, $op>),
                11 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 11>, $full::<$w, $op>),
                12 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 12>, $full::<$w, $op>),
                13 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 13>, $full::<$w, $op>),
                14 => fused_mem(cmp_m_jcc::<$w, $op, $imm, 14>, $full::<$w, $op>),
                _ => fused_mem(cmp_m_jcc::<$w, $op, $imm, 15>, $full::<$w, $op>),
            }
        };
    }
    macro_rules! by_op {
        ($w:ty) => {
            match (code == CMP, imm) {
                (true, true) => by_cc!($w, CMP, true, alu_mi_full),
                (true, false) => by_cc!($w, CMP, false, alu_mr_full),
                (false, true) => by_cc!($w, TEST, true, alu_mi_full),
                (false, false) => by_cc!($w, TEST, false, alu_mr_full),
            }
        };
    }
    match bits {
        8 => by_op!(W8),
        16 => by_op!(W16),
        32 => by_op!(W32),
        _ => by_op!(W64),
    }
}

/// The fused bounds check and switch jump (`thread::fused_switch`) for a
/// register CMP with condition `cc`, if there is one: `cmp idx, N` with
/// JA or JAE (unsigned: the index is out of range), 32 or 64 bits.
pub fn fused_cmp_jcc_switch(code: u8, imm: bool, bits: u32, cc: u8) -> Option<Handler> {
    use super::ctrl::{jmp_m, jmp_m_fast};
    const S8: u8 = crate::interp::mem::AF_FLAT_S1 + 3;
    macro_rules! sw {
        ($w:ty, $imm:expr, $cc:expr) => {
            fused_switch(
                cmp_jcc::<$w, CMP, $imm, $cc>,
                jmp_m_fast::<W64, S8>,
                jmp_m::<W64>,
            )
        };
    }
    if code != CMP {
        return None;
    }
    Some(match (bits, imm, cc & 15) {
        (32, true, 7) => sw!(W32, true, 7),
        (32, true, 3) => sw!(W32, true, 3),
        (32, false, 7) => sw!(W32, false, 7),
        (32, false, 3) => sw!(W32, false, 3),
        (64, true, 7) => sw!(W64, true, 7),
        (64, true, 3) => sw!(W64, true, 3),
        (64, false, 7) => sw!(W64, false, 7),
        (64, false, 3) => sw!(W64, false, 3),
        _ => return None,
    })
}

/// The fused CMP/TEST + Jcc handler (see [`cmp_jcc`]).
pub fn fused_cmp_jcc(code: u8, imm: bool, bits: u32, cc: u8, self_loop: bool) -> Handler {
    macro_rules! by_cc {
        ($wrap:ident, $w:ty, $op:expr, $imm:expr) => {
            match cc & 15 {
                0 => $wrap(cmp_jcc::<$w, $op, $imm, 0>),
                1 => $wrap(cmp_jcc::<$w, $op, $imm, 1>),
                2 => $wrap(cmp_jcc::<$w, $op, $imm, 2>),
                3 => $wrap(cmp_jcc::<$w, $op, $imm, 3>),
                4 => $wrap(cmp_jcc::<$w, $op, $imm, 4>),
                5 => $wrap(cmp_jcc::<$w, $op, $imm, 5>),
                6 => $wrap(cmp_jcc::<$w, $op, $imm, 6>),
                7 => $wrap(cmp_jcc::<$w, $op, $imm, 7>),
                8 => $wrap(cmp_jcc::<$w, $op, $imm, 8>),
                9 => $wrap(cmp_jcc::<$w, $op, $imm, 9>),
                10 => $wrap(cmp_jcc::<$w, $op, $imm, 10>),
                11 => $wrap(cmp_jcc::<$w, $op, $imm, 11>),
                12 => $wrap(cmp_jcc::<$w, $op, $imm, 12>),
                13 => $wrap(cmp_jcc::<$w, $op, $imm, 13>),
                14 => $wrap(cmp_jcc::<$w, $op, $imm, 14>),
                _ => $wrap(cmp_jcc::<$w, $op, $imm, 15>),
            }
        };
    }
    macro_rules! by_op {
        ($wrap:ident, $w:ty) => {
            match (code == CMP, imm) {
                (true, true) => by_cc!($wrap, $w, CMP, true),
                (true, false) => by_cc!($wrap, $w, CMP, false),
                (false, true) => by_cc!($wrap, $w, TEST, true),
                (false, false) => by_cc!($wrap, $w, TEST, false),
            }
        };
    }
    macro_rules! by_bits {
        ($wrap:ident) => {
            match bits {
                8 => by_op!($wrap, W8),
                16 => by_op!($wrap, W16),
                32 => by_op!($wrap, W32),
                _ => by_op!($wrap, W64),
            }
        };
    }
    if self_loop {
        by_bits!(fused_loop)
    } else {
        by_bits!(fused)
    }
}

/// Unary operations.
const INC: u8 = 0;
const DEC: u8 = 1;
const NEG: u8 = 2;
const NOT: u8 = 3;

/// The result of a unary operation and its new flags (`None`: NOT, which
/// leaves the flags alone).
#[inline(always)]
fn unary<W: Width, const OP: u8>(lf: &LazyFlags, a: u64) -> (u64, Option<LazyFlags>) {
    let mut f = LazyFlags::default();
    let r = match OP {
        INC => {
            let r = a.wrapping_add(1) & W::MASK;
            f.set_inc_dec(lf.cf(), a, r, W::BITS, false);
            r
        }
        DEC => {
            let r = a.wrapping_sub(1) & W::MASK;
            f.set_inc_dec(lf.cf(), a, r, W::BITS, true);
            r
        }
        NEG => {
            let r = 0u64.wrapping_sub(a) & W::MASK;
            f.set_sub(0, a, r, W::BITS);
            r
        }
        _ => return (!a & W::MASK, None),
    };
    (r, Some(f))
}

fn unary_r<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = unary::<W, OP>(&ctx.cpu.lf, a);
    if let Some(f) = f {
        ctx.cpu.lf = f;
    }
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}

fn unary_m<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.load_rmw::<W>(op)?;
    let (r, f) = unary::<W, OP>(&ctx.cpu.lf, a);
    ctx.store::<W>(op, r)?;
    if let Some(f) = f {
        ctx.cpu.lf = f;
    }
    Ok(())
}

// ---- BCD adjustments (legacy modes only; SDM Vol. 2A "DAA", "DAS",
// "AAA", "AAS", "AAM", "AAD") -------------------------------------------

fn status(ctx: &Ctx) -> u64 {
    ctx.cpu.get_rflags()
}

/// Sets CF/AF explicitly and SF/ZF/PF from the 8-bit result (OF undefined:
/// cleared).
fn set_bcd_flags(ctx: &mut Ctx, al: u64, cf: bool, af: bool) {
    use crate::state::rflags;
    let mut f = LazyFlags::default();
    f.set_logic(al & 0xFF, 8);
    let mut v = (status(ctx) & !rflags::STATUS) | f.status();
    if cf {
        v |= rflags::CF;
    }
    if af {
        v |= rflags::AF;
    }
    ctx.cpu.lf.load_status(v);
}

fn daa_das<const SUB: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let old_al = ctx.cpu.regs[0] & 0xFF;
    let old_cf = ctx.cpu.lf.cf();
    let mut al = old_al;
    let (mut cf, mut af) = (false, false);
    if al & 0xF > 9 || ctx.cpu.lf.af() {
        al = if SUB {
            al.wrapping_sub(6)
        } else {
            al.wrapping_add(6)
        } & 0xFF;
        cf = old_cf || if SUB { old_al < 6 } else { old_al + 6 > 0xFF };
        af = true;
    }
    if old_al > 0x99 || old_cf {
        al = if SUB {
            al.wrapping_sub(0x60)
        } else {
            al.wrapping_add(0x60)
        } & 0xFF;
        cf = true;
    }
    ctx.set_reg::<super::W8>(0, al);
    set_bcd_flags(ctx, al, cf, af);
    Ok(())
}

fn aaa_aas<const SUB: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let ax = ctx.cpu.regs[0] & 0xFFFF;
    let adjust = ax & 0xF > 9 || ctx.cpu.lf.af();
    let ax = if adjust {
        if SUB {
            let al = (ax & 0xFF).wrapping_sub(6) & 0xFF;
            let ah = ((ax >> 8).wrapping_sub(1)) & 0xFF;
            (ah << 8) | al
        } else {
            ax.wrapping_add(0x106) & 0xFFFF
        }
    } else {
        ax
    };
    let ax = ax & 0xFF0F;
    ctx.set_reg::<super::W16>(0, ax);
    set_bcd_flags(ctx, ax & 0xFF, adjust, adjust);
    Ok(())
}

/// AAM imm8: AH = AL / imm, AL = AL % imm (#DE on 0).
fn aam(ctx: &mut Ctx, op: &Op) -> Exec {
    let base = op.imm & 0xFF;
    if base == 0 {
        return Err(ctx.cpu.raise(crate::interp::events::vec::DE, None));
    }
    let al = ctx.cpu.regs[0] & 0xFF;
    let (q, r) = (al / base, al % base);
    ctx.set_reg::<super::W16>(0, (q << 8) | r);
    set_bcd_flags(ctx, r, false, false);
    Ok(())
}

/// AAD imm8: AL = AL + AH × imm, AH = 0.
fn aad(ctx: &mut Ctx, op: &Op) -> Exec {
    let ax = ctx.cpu.regs[0] & 0xFFFF;
    let al = ((ax & 0xFF) + (ax >> 8) * (op.imm & 0xFF)) & 0xFF;
    ctx.set_reg::<super::W16>(0, al);
    set_bcd_flags(ctx, al, false, false);
    Ok(())
}

/// SALC (undocumented, legacy modes): AL = CF ? 0xFF : 0.
fn salc(ctx: &mut Ctx, _op: &Op) -> Exec {
    let v = if ctx.cpu.lf.cf() { 0xFF } else { 0 };
    ctx.set_reg::<super::W8>(0, v);
    Ok(())
}

macro_rules! pick2 {
    ($f:ident, $bits:expr, $op:expr, [$($c:ident),*]) => {
        match $op {
            $( $c => by_width!($bits, $f, $c), )*
            _ => return None,
        }
    };
    (flat $f:ident, $full:ident, $af:expr, $bits:expr, $op:expr, [$($c:ident),*]) => {
        match $op {
            $( $c => $crate::by_width_fast_af!($af, $bits, $f[$c], $full[$c]), )*
            _ => return None,
        }
    };
    (pure $f:ident, $bits:expr, $op:expr, [$($c:ident),*]) => {
        match $op {
            $( $c => $crate::by_width_pure!($bits, $f, $c), )*
            _ => return None,
        }
    };
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let code = match insn.mnemonic() {
        Mnemonic::Add => ADD,
        Mnemonic::Or => OR,
        Mnemonic::Adc => ADC,
        Mnemonic::Sbb => SBB,
        Mnemonic::And => AND,
        Mnemonic::Sub => SUB,
        Mnemonic::Xor => XOR,
        Mnemonic::Cmp => CMP,
        Mnemonic::Test => TEST,
        Mnemonic::Daa => return Decoded::next(handler(daa_das::<false>)),
        Mnemonic::Das => return Decoded::next(handler(daa_das::<true>)),
        Mnemonic::Aaa => return Decoded::next(handler(aaa_aas::<false>)),
        Mnemonic::Aas => return Decoded::next(handler(aaa_aas::<true>)),
        Mnemonic::Aam => {
            op.imm = u64::from(insn.immediate8());
            return Decoded::next(handler(aam));
        }
        Mnemonic::Aad => {
            op.imm = u64::from(insn.immediate8());
            return Decoded::next(handler(aad));
        }
        Mnemonic::Salc => return Decoded::next(handler(salc)),
        Mnemonic::Inc | Mnemonic::Dec | Mnemonic::Neg | Mnemonic::Not => {
            let u = match insn.mnemonic() {
                Mnemonic::Inc => INC,
                Mnemonic::Dec => DEC,
                Mnemonic::Neg => NEG,
                _ => NOT,
            };
            let bits = operand_bits(insn, 0);
            let h = match insn.op0_kind() {
                OpKind::Register => pick2!(pure unary_r, bits, u, [INC, DEC, NEG, NOT]),
                OpKind::Memory => pick2!(unary_m, bits, u, [INC, DEC, NEG, NOT]),
                _ => return None,
            };
            return Decoded::next(h);
        }
        _ => return None,
    };
    let (k0, k1) = (insn.op0_kind(), insn.op1_kind());
    let bits = operand_bits(insn, 0);
    let af = addr_form(op, ctx);
    let h = match (k0, k1) {
        (OpKind::Register, OpKind::Register) => {
            pick2!(
                pure alu_rr,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Register, OpKind::Memory) => {
            pick2!(
                flat alu_rm,
                alu_rm_full,
                af,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Memory, OpKind::Register) => {
            pick2!(
                flat alu_mr,
                alu_mr_full,
                af,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Register, k) if is_imm(k) => {
            op.imm = imm(insn, 1);
            pick2!(
                pure alu_ri,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Memory, k) if is_imm(k) => {
            op.imm = imm(insn, 1);
            pick2!(
                flat alu_mi,
                alu_mi_full,
                af,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        _ => return None,
    };
    Decoded::next(h)
}
