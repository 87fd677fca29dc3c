//! Two-operand arithmetic and logic (ADD, OR, ADC, SBB, AND, SUB, XOR, CMP,
//! TEST) and the one-operand INC, DEC, NEG, NOT (SDM Vol. 2A/2B).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Op, Width, operand_bits};
use crate::by_width;
use crate::interp::decode::{Decoded, imm, is_imm};
use crate::interp::flags::LazyFlags;

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
    let mut f = *lf;
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
            f.set_add(a, b, r, W::BITS);
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
            f.set_sub(a, b, r, W::BITS);
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

fn alu_rr<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let b = ctx.reg::<W>(op.r1);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
    Ok(())
}

fn alu_rm<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = ctx.load::<W>(op)?;
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
    Ok(())
}

fn alu_mr<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.load::<W>(op)?;
    let b = ctx.reg::<W>(op.r1);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, b);
    if writes(OP) {
        ctx.store::<W>(op, r)?;
    }
    ctx.cpu.lf = f;
    Ok(())
}

fn alu_ri<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, op.imm & W::MASK);
    ctx.cpu.lf = f;
    if writes(OP) {
        ctx.set_reg::<W>(op.r0, r);
    }
    Ok(())
}

fn alu_mi<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.load::<W>(op)?;
    let (r, f) = compute::<W, OP>(&ctx.cpu.lf, a, op.imm & W::MASK);
    if writes(OP) {
        ctx.store::<W>(op, r)?;
    }
    ctx.cpu.lf = f;
    Ok(())
}

/// Unary operations.
const INC: u8 = 0;
const DEC: u8 = 1;
const NEG: u8 = 2;
const NOT: u8 = 3;

#[inline(always)]
fn unary<W: Width, const OP: u8>(lf: &LazyFlags, a: u64) -> (u64, LazyFlags) {
    let mut f = *lf;
    let r = match OP {
        INC => {
            let r = a.wrapping_add(1) & W::MASK;
            f.set_inc_dec(a, r, W::BITS, false);
            r
        }
        DEC => {
            let r = a.wrapping_sub(1) & W::MASK;
            f.set_inc_dec(a, r, W::BITS, true);
            r
        }
        NEG => {
            let r = 0u64.wrapping_sub(a) & W::MASK;
            f.set_sub(0, a, r, W::BITS);
            r
        }
        _ => !a & W::MASK,
    };
    (r, f)
}

fn unary_r<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.reg::<W>(op.r0);
    let (r, f) = unary::<W, OP>(&ctx.cpu.lf, a);
    ctx.cpu.lf = f;
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}

fn unary_m<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = ctx.load::<W>(op)?;
    let (r, f) = unary::<W, OP>(&ctx.cpu.lf, a);
    ctx.store::<W>(op, r)?;
    ctx.cpu.lf = f;
    Ok(())
}

macro_rules! pick2 {
    ($f:ident, $bits:expr, $op:expr, [$($c:ident),*]) => {
        match $op {
            $( $c => by_width!($bits, $f, $c), )*
            _ => return None,
        }
    };
}

pub fn decode(insn: &Instruction, op: &mut Op, _ctx: &Ctx) -> Option<Decoded> {
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
        Mnemonic::Inc | Mnemonic::Dec | Mnemonic::Neg | Mnemonic::Not => {
            let u = match insn.mnemonic() {
                Mnemonic::Inc => INC,
                Mnemonic::Dec => DEC,
                Mnemonic::Neg => NEG,
                _ => NOT,
            };
            let bits = operand_bits(insn, 0);
            let h = match insn.op0_kind() {
                OpKind::Register => pick2!(unary_r, bits, u, [INC, DEC, NEG, NOT]),
                OpKind::Memory => pick2!(unary_m, bits, u, [INC, DEC, NEG, NOT]),
                _ => return None,
            };
            return Decoded::next(h);
        }
        _ => return None,
    };
    let (k0, k1) = (insn.op0_kind(), insn.op1_kind());
    let bits = operand_bits(insn, 0);
    let all = [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST];
    let _ = all;
    let h = match (k0, k1) {
        (OpKind::Register, OpKind::Register) => {
            pick2!(
                alu_rr,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Register, OpKind::Memory) => {
            pick2!(
                alu_rm,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Memory, OpKind::Register) => {
            pick2!(
                alu_mr,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Register, k) if is_imm(k) => {
            op.imm = imm(insn, 1);
            pick2!(
                alu_ri,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        (OpKind::Memory, k) if is_imm(k) => {
            op.imm = imm(insn, 1);
            pick2!(
                alu_mi,
                bits,
                code,
                [ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST]
            )
        }
        _ => return None,
    };
    Decoded::next(h)
}
