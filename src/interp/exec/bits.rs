//! Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT/POPCNT, BMI1
//! (ANDN, BEXTR, BLSI, BLSMSK, BLSR), BMI2 (BZHI, PDEP, PEXT), ADX
//! (ADCX, ADOX) and CRC32 (SDM Vol. 2A/2B).

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Handler, Op, W8, W16, W32, W64, Width, operand_bits};
use crate::by_width;
use crate::interp::decode::{Decoded, gpr};
use crate::model::Feature;
use crate::state::rflags;

const BT: u8 = 0;
const BTS: u8 = 1;
const BTR: u8 = 2;
const BTC: u8 = 3;

#[inline(always)]
fn bt_apply<const OP: u8>(v: u64, bit: u32) -> u64 {
    match OP {
        BTS => v | (1 << bit),
        BTR => v & !(1 << bit),
        BTC => v ^ (1 << bit),
        _ => v,
    }
}

/// Sets CF (other flags keep their values; the SDM leaves OF, SF, AF, PF
/// undefined and ZF unaffected).
#[inline(always)]
fn set_cf(ctx: &mut Ctx, cf: bool) {
    let f = (ctx.cpu.get_rflags() & !rflags::CF) | u64::from(cf);
    ctx.cpu.lf.load_status(f);
}

/// BTx r, r / r, imm (r1 = offset register when `IMM` is false).
fn bt_r<W: Width, const OP: u8, const IMM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let off = if IMM { op.imm } else { ctx.reg::<W>(op.r1) };
    let bit = (off as u32) & (W::BITS - 1);
    let v = ctx.reg::<W>(op.r0);
    set_cf(ctx, (v >> bit) & 1 != 0);
    if OP != BT {
        ctx.set_reg::<W>(op.r0, bt_apply::<OP>(v, bit));
    }
    Ok(())
}

/// BTx m, r / m, imm: a register offset selects any bit relative to the
/// operand address (signed), an immediate only within the operand.
fn bt_m<W: Width, const OP: u8, const IMM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let mut ea = ctx.ea(op);
    let bit;
    if IMM {
        bit = (op.imm as u32) & (W::BITS - 1);
    } else {
        let off = crate::interp::flags::sext(ctx.reg::<W>(op.r1), W::BITS) as i64;
        let shift = W::BITS.trailing_zeros();
        ea = ea.wrapping_add(((off >> shift) * W::BYTES as i64) as u64)
            & super::ASIZE_MASK[op.asize as usize & 3];
        bit = (off as u32) & (W::BITS - 1);
    }
    let v = if OP == BT {
        ctx.read_seg::<W>(op.seg, ea)?
    } else {
        ctx.read_seg_rmw::<W>(op.seg, ea)?
    };
    if OP != BT {
        ctx.write_seg::<W>(op.seg, ea, bt_apply::<OP>(v, bit))?;
    }
    set_cf(ctx, (v >> bit) & 1 != 0);
    Ok(())
}

/// BSF (FWD) / BSR: ZF = source zero (destination unchanged then).
fn bsf_bsr<W: Width, const FWD: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    let mut f = ctx.cpu.get_rflags() & !rflags::ZF;
    if v == 0 {
        f |= rflags::ZF;
    } else {
        let r = if FWD {
            v.trailing_zeros()
        } else {
            63 - v.leading_zeros()
        };
        ctx.set_reg::<W>(op.r0, u64::from(r));
    }
    ctx.cpu.lf.load_status(f);
    Ok(())
}

/// TZCNT (0), LZCNT (1), POPCNT (2).
fn count<W: Width, const KIND: u8, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    let (r, cf) = match KIND {
        0 => (if v == 0 { W::BITS } else { v.trailing_zeros() }, v == 0),
        1 => (
            if v == 0 {
                W::BITS
            } else {
                v.leading_zeros() - (64 - W::BITS)
            },
            v == 0,
        ),
        _ => (v.count_ones(), false),
    };
    ctx.set_reg::<W>(op.r0, u64::from(r));
    // TZCNT/LZCNT: CF = source zero, ZF = result zero; POPCNT: ZF = source
    // zero, others cleared.
    let mut f = ctx.cpu.get_rflags() & !rflags::STATUS;
    if KIND == 2 {
        if v == 0 {
            f |= rflags::ZF;
        }
    } else {
        if cf {
            f |= rflags::CF;
        }
        if r == 0 {
            f |= rflags::ZF;
        }
    }
    ctx.cpu.lf.load_status(f);
    Ok(())
}

/// BMI1/BMI2 three-operand integer ops (r0 = dst, r1 = first source
/// register, second source r/m or r2), selected by op.imm2.
const ANDN: u16 = 0;
const BEXTR: u16 = 1;
const BZHI: u16 = 2;
const PDEP: u16 = 3;
const PEXT: u16 = 4;
const BLSI: u16 = 5;
const BLSMSK: u16 = 6;
const BLSR: u16 = 7;

fn pdep(src: u64, mut mask: u64) -> u64 {
    let mut r = 0;
    let mut k = 0;
    while mask != 0 {
        let b = mask & mask.wrapping_neg();
        if (src >> k) & 1 != 0 {
            r |= b;
        }
        k += 1;
        mask &= mask - 1;
    }
    r
}

fn pext(src: u64, mut mask: u64) -> u64 {
    let mut r = 0;
    let mut k = 0;
    while mask != 0 {
        let b = mask & mask.wrapping_neg();
        if src & b != 0 {
            r |= 1 << k;
        }
        k += 1;
        mask &= mask - 1;
    }
    r
}

fn bmi<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let rm = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r2)
    };
    let v = ctx.reg::<W>(op.r1);
    let bits = W::BITS;
    let m = W::MASK;
    let mut cf = false;
    let r = match op.imm2 {
        ANDN => !v & rm & m,
        BEXTR => {
            // dst = bits of rm from start (v[7:0]) for len (v[15:8]).
            let (start, len) = (v & 0xFF, (v >> 8) & 0xFF);
            if start >= u64::from(bits) {
                0
            } else {
                let x = rm >> start;
                if len >= 64 {
                    x
                } else {
                    x & ((1u64 << len) - 1)
                }
            }
        }
        BZHI => {
            let n = v & 0xFF;
            cf = n > u64::from(bits - 1);
            if n >= u64::from(bits) {
                rm
            } else {
                rm & ((1u64 << n) - 1)
            }
        }
        PDEP => pdep(v, rm) & m,
        PEXT => pext(v, rm) & m,
        BLSI => {
            cf = rm != 0;
            rm & rm.wrapping_neg() & m
        }
        BLSMSK => {
            cf = rm == 0;
            (rm ^ rm.wrapping_sub(1)) & m
        }
        _ => {
            cf = rm == 0;
            rm & rm.wrapping_sub(1) & m
        }
    };
    ctx.set_reg::<W>(op.r0, r);
    if op.imm2 != PDEP && op.imm2 != PEXT {
        // SF/ZF from the result, CF as computed, OF = 0.
        ctx.cpu.lf.set_result_cf_of(r, bits, cf, false);
    }
    Ok(())
}

/// ADCX (CF) / ADOX (OF): add with carry through one flag only.
fn adx<W: Width, const OF: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let b = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    let a = ctx.reg::<W>(op.r0);
    let flag = if OF { rflags::OF } else { rflags::CF };
    let old = ctx.cpu.get_rflags();
    let c = u64::from(old & flag != 0);
    let s = u128::from(a) + u128::from(b) + u128::from(c);
    let carry = (s >> W::BITS) != 0;
    ctx.set_reg::<W>(op.r0, (s as u64) & W::MASK);
    ctx.cpu
        .lf
        .load_status((old & !flag) | if carry { flag } else { 0 });
    Ok(())
}

/// CRC32 r32/r64, r/m8/16/32/64 (CRC-32C, reflected, polynomial 0x11EDC6F41).
fn crc32<S: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = if MEM {
        ctx.load::<S>(op)?
    } else {
        ctx.reg::<S>(op.r1)
    };
    let mut crc = ctx.cpu.regs[op.r0 as usize & 15] as u32;
    for i in 0..S::BYTES {
        crc ^= ((v >> (8 * i)) & 0xFF) as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    ctx.cpu.regs[op.r0 as usize & 15] = u64::from(crc);
    Ok(())
}

fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

macro_rules! pick_bt {
    ($f:ident, $bits:expr, $op:expr, $imm:expr) => {
        match ($op, $imm) {
            (BT, false) => by_width!($bits, $f, BT, false),
            (BT, true) => by_width!($bits, $f, BT, true),
            (BTS, false) => by_width!($bits, $f, BTS, false),
            (BTS, true) => by_width!($bits, $f, BTS, true),
            (BTR, false) => by_width!($bits, $f, BTR, false),
            (BTR, true) => by_width!($bits, $f, BTR, true),
            (_, false) => by_width!($bits, $f, BTC, false),
            (_, true) => by_width!($bits, $f, BTC, true),
        }
    };
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let bits = operand_bits(insn, 0);
    let model = ctx.cpu.model();
    let m = insn.mnemonic();
    let mem1 = insn.op1_kind() == OpKind::Memory;
    let h: Handler = match m {
        Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc => {
            let k = match m {
                Mnemonic::Bt => BT,
                Mnemonic::Bts => BTS,
                Mnemonic::Btr => BTR,
                _ => BTC,
            };
            let is_imm = insn.op1_kind() == OpKind::Immediate8;
            if is_imm {
                op.imm = u64::from(insn.immediate8());
            }
            if insn.op0_kind() == OpKind::Memory {
                pick_bt!(bt_m, bits, k, is_imm)
            } else {
                pick_bt!(bt_r, bits, k, is_imm)
            }
        }
        Mnemonic::Bsf => {
            if mem1 {
                by_width!(bits, bsf_bsr, true, true)
            } else {
                by_width!(bits, bsf_bsr, true, false)
            }
        }
        Mnemonic::Bsr => {
            if mem1 {
                by_width!(bits, bsf_bsr, false, true)
            } else {
                by_width!(bits, bsf_bsr, false, false)
            }
        }
        Mnemonic::Tzcnt | Mnemonic::Lzcnt | Mnemonic::Popcnt => {
            let (k, feat) = match m {
                Mnemonic::Tzcnt => (0u8, Feature::Bmi1),
                Mnemonic::Lzcnt => (1, Feature::Abm),
                _ => (2, Feature::Popcnt),
            };
            if !model.has(feat) {
                // Without BMI1/ABM, TZCNT/LZCNT execute as BSF/BSR (the F3
                // prefix is ignored); POPCNT is #UD.
                return match k {
                    0 => Decoded::next(if mem1 {
                        by_width!(bits, bsf_bsr, true, true)
                    } else {
                        by_width!(bits, bsf_bsr, true, false)
                    }),
                    1 => Decoded::next(if mem1 {
                        by_width!(bits, bsf_bsr, false, true)
                    } else {
                        by_width!(bits, bsf_bsr, false, false)
                    }),
                    _ => Decoded::end(handler(ud)),
                };
            }
            match (k, mem1) {
                (0, false) => by_width!(bits, count, 0, false),
                (0, true) => by_width!(bits, count, 0, true),
                (1, false) => by_width!(bits, count, 1, false),
                (1, true) => by_width!(bits, count, 1, true),
                (_, false) => by_width!(bits, count, 2, false),
                (_, true) => by_width!(bits, count, 2, true),
            }
        }
        Mnemonic::Andn
        | Mnemonic::Bextr
        | Mnemonic::Bzhi
        | Mnemonic::Pdep
        | Mnemonic::Pext
        | Mnemonic::Blsi
        | Mnemonic::Blsmsk
        | Mnemonic::Blsr => {
            let (k, feat) = match m {
                Mnemonic::Andn => (ANDN, Feature::Bmi1),
                Mnemonic::Bextr => (BEXTR, Feature::Bmi1),
                Mnemonic::Bzhi => (BZHI, Feature::Bmi2),
                Mnemonic::Pdep => (PDEP, Feature::Bmi2),
                Mnemonic::Pext => (PEXT, Feature::Bmi2),
                Mnemonic::Blsi => (BLSI, Feature::Bmi1),
                Mnemonic::Blsmsk => (BLSMSK, Feature::Bmi1),
                _ => (BLSR, Feature::Bmi1),
            };
            if !model.has(feat) {
                return Decoded::end(handler(ud));
            }
            op.imm2 = k;
            // Normalise operands: r1 = the VEX.vvvv/first register source,
            // r/m (or r2) = the other one.
            let (rm_idx, reg_idx) = match k {
                ANDN | PDEP | PEXT => (2, 1),
                BEXTR | BZHI => (1, 2),
                _ => (1, 0), // BLS*: dst = vvvv (op0), src = r/m (op1)
            };
            let mem = insn.op_kind(rm_idx) == OpKind::Memory;
            if !mem {
                op.r2 = gpr(insn.op_register(rm_idx))?;
            }
            if matches!(k, BLSI | BLSMSK | BLSR) {
                op.r0 = gpr(insn.op0_register())?;
            } else {
                op.r1 = gpr(insn.op_register(reg_idx))?;
            }
            if mem {
                by_width!(bits, bmi, true)
            } else {
                by_width!(bits, bmi, false)
            }
        }
        Mnemonic::Adcx | Mnemonic::Adox => {
            if !model.has(Feature::Adx) {
                return Decoded::end(handler(ud));
            }
            match (m == Mnemonic::Adox, mem1) {
                (false, false) => by_width!(bits, adx, false, false),
                (false, true) => by_width!(bits, adx, false, true),
                (true, false) => by_width!(bits, adx, true, false),
                (true, true) => by_width!(bits, adx, true, true),
            }
        }
        Mnemonic::Crc32 => {
            if !model.has(Feature::Sse4_2) {
                return Decoded::end(handler(ud));
            }
            let sbits = operand_bits(insn, 1);
            match (sbits, mem1) {
                (8, false) => handler(crc32::<W8, false>),
                (8, true) => handler(crc32::<W8, true>),
                (16, false) => handler(crc32::<W16, false>),
                (16, true) => handler(crc32::<W16, true>),
                (32, false) => handler(crc32::<W32, false>),
                (32, true) => handler(crc32::<W32, true>),
                (_, false) => handler(crc32::<W64, false>),
                (_, true) => handler(crc32::<W64, true>),
            }
        }
        _ => return None,
    };
    Decoded::next(h)
}
