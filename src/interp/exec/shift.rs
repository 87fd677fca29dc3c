//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR (by 1, CL or
//! imm8), SHLD/SHRD, and the BMI2 flagless SARX/SHLX/SHRX/RORX (SDM Vol. 2B).

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Handler, Op, Width, operand_bits};
use crate::by_width;
use crate::interp::decode::{Decoded, gpr};
use crate::interp::flags::LazyFlags;
use crate::model::Feature;

const ROL: u8 = 0;
const ROR: u8 = 1;
const RCL: u8 = 2;
const RCR: u8 = 3;
const SHL: u8 = 4;
const SHR: u8 = 5;
const SAR: u8 = 7;

/// Count source: immediate (op.imm) or CL.
const BY_IMM: u8 = 0;
const BY_CL: u8 = 1;

/// Shifts `a` by `count` (already masked to 5 or 6 bits); None when the
/// count is 0 (flags and destination unchanged).
#[inline(always)]
fn shift<W: Width, const OP: u8>(lf: &LazyFlags, a: u64, count: u32) -> Option<(u64, LazyFlags)> {
    if count == 0 {
        return None;
    }
    let bits = W::BITS;
    let m = W::MASK;
    let msb = |v: u64| (v >> (bits - 1)) & 1 != 0;
    // Field by field, not a struct copy (see `LazyFlags`): rotates keep
    // the result-derived flags, shifts replace everything.
    let mut f = LazyFlags {
        res: lf.res,
        aux: lf.aux_bits(),
        src: 0,
    };
    let r = match OP {
        SHL => {
            let r = if count >= bits { 0 } else { (a << count) & m };
            let cf = count <= bits && (a >> (bits - count)) & 1 != 0;
            // OF is defined for 1-bit shifts: MSB(result) XOR CF.
            f.set_result_cf_of(r, bits, cf, msb(r) ^ cf);
            r
        }
        SHR => {
            let r = if count >= bits { 0 } else { a >> count };
            let cf = count <= bits && (a >> (count - 1)) & 1 != 0;
            f.set_result_cf_of(r, bits, cf, msb(a));
            r
        }
        SAR => {
            let sa = crate::interp::flags::sext(a, bits) as i64;
            let c = count.min(bits - 1);
            let r = ((sa >> c) as u64) & m;
            let cf = ((sa >> (count.min(bits) - 1)) & 1) != 0;
            f.set_result_cf_of(r, bits, cf, false);
            r
        }
        ROL => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a << c) | (a >> (bits - c))) & m
            };
            let cf = r & 1 != 0;
            let of = msb(r) ^ cf;
            f.aux = (u64::from(cf) << 63)
                | (u64::from(cf ^ of) << 62)
                | (f.aux_bits() & (0xFF << 8 | 0x90));
            r
        }
        ROR => {
            let c = count % bits;
            let r = if c == 0 {
                a
            } else {
                ((a >> c) | (a << (bits - c))) & m
            };
            let cf = msb(r);
            let of = msb(r) ^ ((r >> (bits - 2)) & 1 != 0);
            f.aux = (u64::from(cf) << 63)
                | (u64::from(cf ^ of) << 62)
                | (f.aux_bits() & (0xFF << 8 | 0x90));
            r
        }
        RCL | RCR => {
            // Rotate through CF: a (bits+1)-bit rotation.
            let n = bits + 1;
            let c = count % n;
            let cin = u64::from(lf.cf());
            let wide = (u128::from(cin) << bits) | u128::from(a);
            let full = (1u128 << n) - 1;
            let rot = if c == 0 {
                wide
            } else if OP == RCL {
                ((wide << c) | (wide >> (n - c))) & full
            } else {
                ((wide >> c) | (wide << (n - c))) & full
            };
            let r = (rot as u64) & m;
            let cf = (rot >> bits) & 1 != 0;
            let of = if OP == RCL {
                msb(r) ^ cf
            } else {
                msb(r) ^ ((r >> (bits - 2)) & 1 != 0)
            };
            f.aux = (u64::from(cf) << 63)
                | (u64::from(cf ^ of) << 62)
                | (f.aux_bits() & (0xFF << 8 | 0x90));
            r
        }
        _ => return None,
    };
    Some((r, f))
}

#[inline(always)]
fn count<W: Width, const SRC: u8>(ctx: &Ctx, op: &Op) -> u32 {
    let raw = if SRC == BY_CL {
        ctx.cpu.regs[1]
    } else {
        op.imm
    };
    (raw as u32) & if W::BITS == 64 { 0x3F } else { 0x1F }
}

fn shift_r<W: Width, const OP: u8, const SRC: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let c = count::<W, SRC>(ctx, op);
    let a = ctx.reg::<W>(op.r0);
    if let Some((r, f)) = shift::<W, OP>(&ctx.cpu.lf, a, c) {
        ctx.cpu.lf = f;
        ctx.set_reg::<W>(op.r0, r);
    } else if W::BITS == 32 {
        // A zero count still writes the 32-bit destination, which clears
        // bits 63:32 (SDM Vol. 1, 3.4.1.1: 32-bit operands give a 32-bit
        // result zero-extended to 64 bits; found by `nestor difftest`).
        ctx.set_reg::<W>(op.r0, a);
    }
    Ok(())
}

fn shift_m<W: Width, const OP: u8, const SRC: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let c = count::<W, SRC>(ctx, op);
    let a = ctx.load_rmw::<W>(op)?;
    if let Some((r, f)) = shift::<W, OP>(&ctx.cpu.lf, a, c) {
        ctx.store::<W>(op, r)?;
        ctx.cpu.lf = f;
    }
    Ok(())
}

/// SHLD (LEFT) / SHRD: dst = r0 or memory, src = r1, count imm or CL.
#[inline(always)]
fn double<W: Width, const LEFT: bool>(
    lf: &LazyFlags,
    d: u64,
    s: u64,
    count: u32,
) -> Option<(u64, LazyFlags)> {
    let bits = W::BITS;
    if count == 0 {
        return None;
    }
    if count > bits {
        // Undefined result for 16-bit counts > 16; produce something stable.
        return Some((d, *lf));
    }
    let m = W::MASK;
    let (r, cf) = if LEFT {
        let wide = (u128::from(d) << bits) | u128::from(s);
        let r = ((wide << count) >> bits) as u64 & m;
        (r, (d >> (bits - count)) & 1 != 0)
    } else {
        let wide = (u128::from(s) << bits) | u128::from(d);
        let r = (wide >> count) as u64 & m;
        (r, (d >> (count - 1)) & 1 != 0)
    };
    let of = ((r ^ d) >> (bits - 1)) & 1 != 0;
    let mut f = LazyFlags::default();
    f.set_result_cf_of(r, bits, cf, of);
    Some((r, f))
}

fn shd_r<W: Width, const LEFT: bool, const SRC: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let c = count::<W, SRC>(ctx, op);
    let (d, s) = (ctx.reg::<W>(op.r0), ctx.reg::<W>(op.r1));
    if let Some((r, f)) = double::<W, LEFT>(&ctx.cpu.lf, d, s, c) {
        ctx.cpu.lf = f;
        ctx.set_reg::<W>(op.r0, r);
    } else if W::BITS == 32 {
        // As for the shifts: a zero count still zero-extends (SDM Vol. 1,
        // 3.4.1.1).
        ctx.set_reg::<W>(op.r0, d);
    }
    Ok(())
}
fn shd_m<W: Width, const LEFT: bool, const SRC: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    let c = count::<W, SRC>(ctx, op);
    let d = ctx.load_rmw::<W>(op)?;
    let s = ctx.reg::<W>(op.r1);
    if let Some((r, f)) = double::<W, LEFT>(&ctx.cpu.lf, d, s, c) {
        ctx.store::<W>(op, r)?;
        ctx.cpu.lf = f;
    }
    Ok(())
}

/// BMI2 SARX/SHLX/SHRX (op.imm2 = 0/1/2): r0 = src (r/m) shifted by r2.
fn bmi_shift<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    let c = (ctx.reg::<W>(op.r2) as u32) & (W::BITS - 1);
    let r = match op.imm2 {
        0 => (crate::interp::flags::sext(a, W::BITS) as i64 >> c) as u64 & W::MASK,
        1 => (a << c) & W::MASK,
        _ => a >> c,
    };
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}
fn rorx<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let a = if MEM {
        ctx.load::<W>(op)?
    } else {
        ctx.reg::<W>(op.r1)
    };
    let c = (op.imm as u32) & (W::BITS - 1);
    let r = if c == 0 {
        a
    } else {
        ((a >> c) | (a << (W::BITS - c))) & W::MASK
    };
    ctx.set_reg::<W>(op.r0, r);
    Ok(())
}

fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

macro_rules! pick_shift {
    ($f:ident, $bits:expr, $op:expr, $src:expr) => {
        pick_shift!(by_width, $f, $bits, $op, $src)
    };
    (pure $f:ident, $bits:expr, $op:expr, $src:expr) => {
        pick_shift!(by_width_pure, $f, $bits, $op, $src)
    };
    ($by:ident, $f:ident, $bits:expr, $op:expr, $src:expr) => {
        match ($op, $src) {
            (ROL, BY_IMM) => $crate::$by!($bits, $f, ROL, BY_IMM),
            (ROL, _) => $crate::$by!($bits, $f, ROL, BY_CL),
            (ROR, BY_IMM) => $crate::$by!($bits, $f, ROR, BY_IMM),
            (ROR, _) => $crate::$by!($bits, $f, ROR, BY_CL),
            (RCL, BY_IMM) => $crate::$by!($bits, $f, RCL, BY_IMM),
            (RCL, _) => $crate::$by!($bits, $f, RCL, BY_CL),
            (RCR, BY_IMM) => $crate::$by!($bits, $f, RCR, BY_IMM),
            (RCR, _) => $crate::$by!($bits, $f, RCR, BY_CL),
            (SHL, BY_IMM) => $crate::$by!($bits, $f, SHL, BY_IMM),
            (SHL, _) => $crate::$by!($bits, $f, SHL, BY_CL),
            (SHR, BY_IMM) => $crate::$by!($bits, $f, SHR, BY_IMM),
            (SHR, _) => $crate::$by!($bits, $f, SHR, BY_CL),
            (_, BY_IMM) => $crate::$by!($bits, $f, SAR, BY_IMM),
            (_, _) => $crate::$by!($bits, $f, SAR, BY_CL),
        }
    };
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let m = insn.mnemonic();
    let bits = operand_bits(insn, 0);
    let kind = match m {
        Mnemonic::Rol => ROL,
        Mnemonic::Ror => ROR,
        Mnemonic::Rcl => RCL,
        Mnemonic::Rcr => RCR,
        Mnemonic::Shl | Mnemonic::Sal => SHL,
        Mnemonic::Shr => SHR,
        Mnemonic::Sar => SAR,
        Mnemonic::Shld | Mnemonic::Shrd => {
            let left = m == Mnemonic::Shld;
            let src = if insn.op2_kind() == OpKind::Register {
                BY_CL
            } else {
                BY_IMM
            };
            op.imm = u64::from(insn.immediate8());
            let mem = insn.op0_kind() == OpKind::Memory;
            let h: Handler = match (left, src, mem) {
                (true, BY_IMM, false) => by_width!(bits, shd_r, true, BY_IMM),
                (true, _, false) => by_width!(bits, shd_r, true, BY_CL),
                (false, BY_IMM, false) => by_width!(bits, shd_r, false, BY_IMM),
                (false, _, false) => by_width!(bits, shd_r, false, BY_CL),
                (true, BY_IMM, true) => by_width!(bits, shd_m, true, BY_IMM),
                (true, _, true) => by_width!(bits, shd_m, true, BY_CL),
                (false, BY_IMM, true) => by_width!(bits, shd_m, false, BY_IMM),
                (false, _, true) => by_width!(bits, shd_m, false, BY_CL),
            };
            return Decoded::next(h);
        }
        Mnemonic::Sarx | Mnemonic::Shlx | Mnemonic::Shrx | Mnemonic::Rorx => {
            if !ctx.cpu.model().has(Feature::Bmi2) {
                return Decoded::end(handler(ud));
            }
            let mem = insn.op1_kind() == OpKind::Memory;
            if m == Mnemonic::Rorx {
                op.imm = u64::from(insn.immediate8());
                return Decoded::next(if mem {
                    by_width!(bits, rorx, true)
                } else {
                    by_width!(bits, rorx, false)
                });
            }
            op.r2 = gpr(insn.op2_register())?;
            op.imm2 = match m {
                Mnemonic::Sarx => 0,
                Mnemonic::Shlx => 1,
                _ => 2,
            };
            return Decoded::next(if mem {
                by_width!(bits, bmi_shift, true)
            } else {
                by_width!(bits, bmi_shift, false)
            });
        }
        _ => return None,
    };
    let src = match insn.op1_kind() {
        OpKind::Register => BY_CL,
        OpKind::Immediate8 => {
            op.imm = u64::from(insn.immediate8());
            BY_IMM
        }
        _ => {
            // D0/D1 forms: count 1.
            op.imm = 1;
            BY_IMM
        }
    };
    let h = if insn.op0_kind() == OpKind::Memory {
        pick_shift!(shift_m, bits, kind, src)
    } else {
        pick_shift!(pure shift_r, bits, kind, src)
    };
    Decoded::next(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::exec::{W8, W32};

    #[test]
    fn shl_shr_sar_flags() {
        let lf = LazyFlags::default();
        let (r, f) = shift::<W8, SHL>(&lf, 0x81, 1).expect("shift");
        assert_eq!(r, 0x02);
        assert!(f.cf() && f.of());
        let (r, f) = shift::<W8, SHR>(&lf, 0x81, 1).expect("shift");
        assert_eq!(r, 0x40);
        assert!(f.cf() && f.of());
        let (r, f) = shift::<W8, SAR>(&lf, 0x81, 1).expect("shift");
        assert_eq!(r, 0xC0);
        assert!(f.cf() && !f.of());
        let (r, _) = shift::<W32, SAR>(&lf, 0x8000_0000, 31).expect("shift");
        assert_eq!(r, 0xFFFF_FFFF);
        assert!(shift::<W32, SHL>(&lf, 5, 0).is_none());
    }

    #[test]
    fn rotates_through_carry() {
        let mut lf = LazyFlags::default();
        lf.load_status(1); // CF = 1
        let (r, f) = shift::<W8, RCL>(&lf, 0x80, 1).expect("rcl");
        assert_eq!(r, 0x01);
        assert!(f.cf());
        let (r, f) = shift::<W8, RCR>(&lf, 0x01, 1).expect("rcr");
        assert_eq!(r, 0x80);
        assert!(f.cf());
        let (r, _) = shift::<W8, ROL>(&lf, 0x81, 4).expect("rol");
        assert_eq!(r, 0x18);
    }
}
