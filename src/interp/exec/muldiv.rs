//! Multiplication and division: MUL, IMUL (one, two and three operands),
//! DIV, IDIV, and BMI2 MULX (SDM Vol. 2A/2B).

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Handler, Op, Width, operand_bits};
use crate::by_width;
use crate::interp::decode::{Decoded, addr_form, gpr, imm, is_imm};
use crate::interp::events::vec;
use crate::interp::flags::sext;
use crate::model::Feature;

#[inline(always)]
fn src<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Result<u64, super::Stop> {
    if MEM {
        ctx.load::<W>(op)
    } else {
        Ok(ctx.reg::<W>(op.r0))
    }
}

/// Writes the double-width product/quotient halves: AX for 8-bit, else
/// rDX:rAX.
#[inline(always)]
fn set_pair<W: Width>(ctx: &mut Ctx, lo: u64, hi: u64) {
    if W::BITS == 8 {
        ctx.set_reg::<super::W16>(0, (hi << 8) | lo);
    } else {
        ctx.set_reg::<W>(0, lo);
        ctx.set_reg::<W>(2, hi);
    }
}

/// MUL r/m: unsigned rDX:rAX = rAX × src. CF = OF = (upper half ≠ 0).
fn mul<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = src::<W, MEM>(ctx, op)?;
    let a = ctx.reg::<W>(0);
    let p = u128::from(a) * u128::from(b);
    let lo = (p as u64) & W::MASK;
    let hi = ((p >> W::BITS) as u64) & W::MASK;
    set_pair::<W>(ctx, lo, hi);
    ctx.cpu.lf.set_result_cf_of(lo, W::BITS, hi != 0, hi != 0);
    Ok(())
}

/// IMUL r/m (one operand): signed rDX:rAX = rAX × src.
fn imul1<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = sext(src::<W, MEM>(ctx, op)?, W::BITS) as i64 as i128;
    let a = sext(ctx.reg::<W>(0), W::BITS) as i64 as i128;
    let p = a * b;
    let lo = (p as u64) & W::MASK;
    let hi = ((p >> W::BITS) as u64) & W::MASK;
    let overflow = sext(lo, W::BITS) as i64 as i128 != p;
    set_pair::<W>(ctx, lo, hi);
    ctx.cpu.lf.set_result_cf_of(lo, W::BITS, overflow, overflow);
    Ok(())
}

/// IMUL r, r/m (two operands, imm = None) or r, r/m, imm (three operands).
fn imul2<W: Width, const MEM: bool, const IMM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    imul2_with::<W, IMM>(ctx, op, b);
    Ok(())
}

/// The fast path of IMUL r, r/m (and r, r/m, imm) with a memory operand
/// (see `thread::fast`).
#[inline(always)]
fn imul2_m<W: Width, const IMM: bool, const AF: u8>(ctx: &mut Ctx, op: &Op) -> bool {
    match ctx.load_fast::<W, AF>(op) {
        Some(b) => {
            imul2_with::<W, IMM>(ctx, op, b);
            true
        }
        None => false,
    }
}

/// IMUL of `b` with the destination register (or the immediate): the
/// low half to the destination, CF = OF = the product did not fit.
#[inline(always)]
fn imul2_with<W: Width, const IMM: bool>(ctx: &mut Ctx, op: &Op, b: u64) {
    let a = if IMM {
        op.imm & W::MASK
    } else {
        ctx.reg::<W>(op.r0)
    };
    let p = sext(a, W::BITS) as i64 as i128 * sext(b, W::BITS) as i64 as i128;
    let lo = (p as u64) & W::MASK;
    let overflow = sext(lo, W::BITS) as i64 as i128 != p;
    ctx.set_reg::<W>(op.r0, lo);
    ctx.cpu.lf.set_result_cf_of(lo, W::BITS, overflow, overflow);
}

/// DIV r/m: unsigned rDX:rAX / src. #DE on zero divisor or overflow.
fn div<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let d = u128::from(src::<W, MEM>(ctx, op)?);
    let n: u128 = if W::BITS == 8 {
        u128::from(ctx.reg::<super::W16>(0))
    } else {
        (u128::from(ctx.reg::<W>(2)) << W::BITS) | u128::from(ctx.reg::<W>(0))
    };
    if d == 0 {
        return Err(ctx.cpu.raise(vec::DE, None));
    }
    let q = n / d;
    if q > u128::from(W::MASK) {
        return Err(ctx.cpu.raise(vec::DE, None));
    }
    let r = n % d;
    if W::BITS == 8 {
        ctx.set_reg::<super::W16>(0, ((r as u64) << 8) | q as u64);
    } else {
        ctx.set_reg::<W>(0, q as u64);
        ctx.set_reg::<W>(2, r as u64);
    }
    Ok(())
}

/// IDIV r/m: signed division, quotient truncated toward zero.
fn idiv<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let d = sext(src::<W, MEM>(ctx, op)?, W::BITS) as i64 as i128;
    let n: i128 = if W::BITS == 8 {
        sext(ctx.reg::<super::W16>(0), 16) as i64 as i128
    } else {
        let hi = ctx.reg::<W>(2);
        let lo = ctx.reg::<W>(0);
        let raw = (u128::from(hi) << W::BITS) | u128::from(lo);
        // Sign-extend the 2×W-bit dividend.
        let sh = 128 - 2 * W::BITS;
        ((raw << sh) as i128) >> sh
    };
    if d == 0 {
        return Err(ctx.cpu.raise(vec::DE, None));
    }
    let q = n / d;
    let r = n % d;
    let max = (1i128 << (W::BITS - 1)) - 1;
    let min = -(1i128 << (W::BITS - 1));
    if q > max || q < min {
        return Err(ctx.cpu.raise(vec::DE, None));
    }
    let (q, r) = ((q as u64) & W::MASK, (r as u64) & W::MASK);
    if W::BITS == 8 {
        ctx.set_reg::<super::W16>(0, (r << 8) | q);
    } else {
        ctx.set_reg::<W>(0, q);
        ctx.set_reg::<W>(2, r);
    }
    Ok(())
}

/// MULX r0 (high), r1 (low), r/m: unsigned rDX × src, no flags.
fn mulx<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r2)
    };
    let p = u128::from(ctx.reg::<W>(2)) * u128::from(b);
    // The low half is written first, so if both are the same register the
    // high half wins (SDM "MULX").
    ctx.set_reg::<W>(op.r1, (p as u64) & W::MASK);
    ctx.set_reg::<W>(op.r0, ((p >> W::BITS) as u64) & W::MASK);
    Ok(())
}

fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let bits = operand_bits(insn, 0);
    let h: Handler = match insn.mnemonic() {
        Mnemonic::Mul | Mnemonic::Div | Mnemonic::Idiv => {
            let mem = insn.op0_kind() == OpKind::Memory;
            match (insn.mnemonic(), mem) {
                (Mnemonic::Mul, false) => by_width!(bits, mul, false),
                (Mnemonic::Mul, true) => by_width!(bits, mul, true),
                (Mnemonic::Div, false) => by_width!(bits, div, false),
                (Mnemonic::Div, true) => by_width!(bits, div, true),
                (_, false) => by_width!(bits, idiv, false),
                (_, true) => by_width!(bits, idiv, true),
            }
        }
        Mnemonic::Imul => match insn.op_count() {
            1 => {
                if insn.op0_kind() == OpKind::Memory {
                    by_width!(bits, imul1, true)
                } else {
                    by_width!(bits, imul1, false)
                }
            }
            2 => {
                if insn.op1_kind() == OpKind::Memory {
                    let af = addr_form(op, ctx);
                    crate::by_width_fast_af!(af, bits, imul2_m[false], imul2[true, false])
                } else {
                    crate::by_width_pure!(bits, imul2, false, false)
                }
            }
            _ => {
                if !is_imm(insn.op2_kind()) {
                    return None;
                }
                op.imm = imm(insn, 2);
                if insn.op1_kind() == OpKind::Memory {
                    let af = addr_form(op, ctx);
                    crate::by_width_fast_af!(af, bits, imul2_m[true], imul2[true, true])
                } else {
                    crate::by_width_pure!(bits, imul2, false, true)
                }
            }
        },
        Mnemonic::Mulx => {
            if !ctx.cpu.model().has(Feature::Bmi2) {
                return Decoded::end(handler(ud));
            }
            if insn.op2_kind() == OpKind::Register {
                op.r2 = gpr(insn.op2_register())?;
                by_width!(bits, mulx, false)
            } else {
                by_width!(bits, mulx, true)
            }
        }
        _ => return None,
    };
    Decoded::next(h)
}
