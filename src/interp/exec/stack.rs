//! Stack instructions: PUSH/POP (registers, memory, immediates, segment
//! registers), PUSHF/POPF, PUSHA/POPA, ENTER/LEAVE (SDM Vol. 2B).

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Handler, Op, Stop, W16, W32, W64, Width, operand_bits};
use crate::interp::cpu::{Mode, attn};
use crate::interp::decode::{Decoded, imm, sreg};
use crate::state::{SegReg, rflags, shadow};

impl Ctx {
    /// Pushes `v` (`size` bytes) on SS:rSP.
    #[inline(always)]
    pub fn push(&mut self, size: usize, v: u64) -> Exec {
        let mask = self.cpu.sp_mask;
        let sp = self.cpu.regs[4].wrapping_sub(size as u64) & mask;
        let la = self.linear(SegReg::Ss as u8, sp, size, true)?;
        self.write_la(la, size, v)?;
        self.cpu.regs[4] = (self.cpu.regs[4] & !mask) | sp;
        Ok(())
    }

    /// Reads the value `off` bytes above the top of the stack without
    /// popping it.
    #[inline(always)]
    pub fn peek(&mut self, size: usize, off: u64) -> Result<u64, Stop> {
        let mask = self.cpu.sp_mask;
        let sp = self.cpu.regs[4].wrapping_add(off) & mask;
        let la = self.linear(SegReg::Ss as u8, sp, size, false)?;
        self.read_la(la, size)
    }

    /// Adds `n` to rSP at the stack width.
    #[inline(always)]
    pub fn adjust_sp(&mut self, n: u64) {
        let mask = self.cpu.sp_mask;
        let sp = self.cpu.regs[4].wrapping_add(n) & mask;
        self.cpu.regs[4] = (self.cpu.regs[4] & !mask) | sp;
    }

    /// Pops `size` bytes.
    #[inline(always)]
    pub fn pop(&mut self, size: usize) -> Result<u64, Stop> {
        let v = self.peek(size, 0)?;
        self.adjust_sp(size as u64);
        Ok(v)
    }
}

fn push_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.reg::<W>(op.r0);
    ctx.push(W::BYTES, v)
}
fn push_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.load::<W>(op)?;
    ctx.push(W::BYTES, v)
}
fn push_i<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    ctx.push(W::BYTES, op.imm & W::MASK)
}
fn pop_r<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.pop(W::BYTES)?;
    ctx.set_reg::<W>(op.r0, v);
    Ok(())
}
/// POP m: rSP is incremented before the destination address is computed.
fn pop_m<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.peek(W::BYTES, 0)?;
    let old = ctx.cpu.regs[4];
    ctx.adjust_sp(W::BYTES as u64);
    if let Err(e) = ctx.store::<W>(op, v) {
        ctx.cpu.regs[4] = old;
        return Err(e);
    }
    Ok(())
}

fn push_sreg<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = u64::from(ctx.cpu.s.seg(SegReg::ALL[op.r0 as usize % 6]).selector);
    if W::BITS == 16 {
        return ctx.push(2, sel);
    }
    // A 32/64-bit push of a segment register may write only 16 bits
    // (modern processors do); write the low word, move rSP by the full size.
    let mask = ctx.cpu.sp_mask;
    let sp = ctx.cpu.regs[4].wrapping_sub(W::BYTES as u64) & mask;
    let la = ctx.linear(SegReg::Ss as u8, sp, W::BYTES, true)?;
    ctx.probe_write(la, W::BYTES)?;
    ctx.write_la(la, 2, sel)?;
    ctx.cpu.regs[4] = (ctx.cpu.regs[4] & !mask) | sp;
    Ok(())
}
fn pop_sreg<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let sel = ctx.peek(W::BYTES, 0)? as u16;
    super::data::load_sreg(ctx, op.r0, sel)
        .or_else(|e| if e == Stop::Exit { Ok(()) } else { Err(e) })?;
    ctx.adjust_sp(W::BYTES as u64);
    if op.r0 == SegReg::Ss as u8 {
        ctx.cpu.s.events.interrupt_shadow |= shadow::MOV_SS;
        ctx.cpu.attention |= attn::EVENT;
        return Err(Stop::Exit);
    }
    Ok(())
}

fn pushf<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.mode == Mode::V86 && ctx.cpu.rflags & rflags::IOPL != rflags::IOPL {
        return Err(ctx.cpu.gp(0));
    }
    // VM and RF are pushed as 0.
    let f = ctx.cpu.get_rflags() & !(rflags::VM | rflags::RF);
    ctx.push(W::BYTES, f & W::MASK)
}

/// POPF: which flags change depends on mode, CPL and IOPL (SDM Vol. 2B
/// "POPF/POPFD/POPFQ").
fn popf<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let iopl = ((ctx.cpu.rflags & rflags::IOPL) >> 12) as u8;
    if ctx.cpu.mode == Mode::V86 && iopl < 3 {
        return Err(ctx.cpu.gp(0));
    }
    let v = ctx.pop(W::BYTES)?;
    let old = ctx.cpu.get_rflags();
    let mut writable = rflags::STATUS
        | rflags::TF
        | rflags::DF
        | rflags::NT
        | rflags::AC
        | rflags::ID
        | rflags::IF
        | rflags::IOPL;
    let cpl = ctx.cpu.cpl;
    match ctx.cpu.mode {
        Mode::Real => {}
        Mode::V86 => writable &= !rflags::IOPL,
        _ => {
            if cpl > 0 {
                writable &= !rflags::IOPL;
            }
            if cpl > iopl {
                writable &= !rflags::IF;
            }
        }
    }
    if W::BITS == 16 {
        writable &= 0xFFFF;
    }
    let new = (old & !writable & !rflags::RF) | (v & writable) | rflags::FIXED1;
    ctx.cpu.set_rflags(new);
    Err(Stop::Exit)
}

/// PUSHA/PUSHAD (not in 64-bit mode).
fn pusha<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let sp0 = ctx.cpu.regs[4];
    let n = W::BYTES as u64;
    // Check the whole area first so that a fault leaves rSP unchanged.
    let mask = ctx.cpu.sp_mask;
    let low = sp0.wrapping_sub(8 * n) & mask;
    let la = ctx.linear(SegReg::Ss as u8, low, 8 * W::BYTES, true)?;
    ctx.probe_write(la, 8 * W::BYTES)?;
    for r in [0usize, 1, 2, 3, 4, 5, 6, 7] {
        let v = if r == 4 { sp0 } else { ctx.cpu.regs[r] };
        ctx.push(W::BYTES, v & W::MASK)?;
    }
    Ok(())
}
fn popa<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let n = W::BYTES as u64;
    let mut vals = [0u64; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = ctx.peek(W::BYTES, n * i as u64)?;
    }
    // Order on the stack: DI, SI, BP, (SP skipped), BX, DX, CX, AX.
    for (i, r) in [7u8, 6, 5, 4, 3, 2, 1, 0].into_iter().enumerate() {
        if r != 4 {
            ctx.set_reg::<W>(r, vals[i]);
        }
    }
    ctx.adjust_sp(8 * n);
    Ok(())
}

/// ENTER imm16, imm8 (SDM Vol. 2A "ENTER").
fn enter<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let size = op.imm & 0xFFFF;
    let level = u64::from(op.imm2 % 32);
    let n = W::BYTES as u64;
    let saved_sp = ctx.cpu.regs[4];
    let saved_bp = ctx.cpu.regs[5];
    let r = (|| -> Exec {
        let bp = ctx.cpu.regs[5];
        ctx.push(W::BYTES, bp)?;
        let frame = ctx.cpu.regs[4] & ctx.cpu.sp_mask;
        if level > 0 {
            let bp_mask = ctx.cpu.sp_mask;
            let mut b = bp;
            for _ in 1..level {
                b = b.wrapping_sub(n) & bp_mask;
                let la = ctx.linear(SegReg::Ss as u8, b, W::BYTES, false)?;
                let v = ctx.read_la(la, W::BYTES)?;
                ctx.push(W::BYTES, v)?;
            }
            ctx.push(W::BYTES, frame)?;
        }
        ctx.set_reg::<W>(5, frame);
        ctx.adjust_sp(size.wrapping_neg());
        // The final rSP must be writable (the SDM checks it at the end).
        let la = ctx.linear(SegReg::Ss as u8, ctx.cpu.regs[4] & ctx.cpu.sp_mask, 1, true)?;
        ctx.probe_write(la, 1)
    })();
    if r.is_err() {
        ctx.cpu.regs[4] = saved_sp;
        ctx.cpu.regs[5] = saved_bp;
    }
    r
}

fn leave<W: Width>(ctx: &mut Ctx, _op: &Op) -> Exec {
    let mask = ctx.cpu.sp_mask;
    let bp = ctx.cpu.regs[5] & mask;
    let la = ctx.linear(SegReg::Ss as u8, bp, W::BYTES, false)?;
    let v = ctx.read_la(la, W::BYTES)?;
    ctx.cpu.regs[4] = (ctx.cpu.regs[4] & !mask) | (bp.wrapping_add(W::BYTES as u64) & mask);
    ctx.set_reg::<W>(5, v);
    Ok(())
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let k0 = insn.op0_kind();
    // Stack operand size: what iced reports for the stack pointer increment.
    let size = insn.stack_pointer_increment().unsigned_abs() * 8;
    let h: Handler = match insn.mnemonic() {
        Mnemonic::Push => match k0 {
            OpKind::Register => {
                if let Some(s) = sreg(insn.op0_register()) {
                    op.r0 = s;
                    crate::by_width!(size, push_sreg)
                } else {
                    crate::by_width!(size, push_r)
                }
            }
            OpKind::Memory => crate::by_width!(size, push_m),
            _ => {
                op.imm = imm(insn, 0);
                crate::by_width!(size, push_i)
            }
        },
        Mnemonic::Pop => match k0 {
            OpKind::Register => {
                if let Some(s) = sreg(insn.op0_register()) {
                    op.r0 = s;
                    return Decoded::end(crate::by_width!(size, pop_sreg));
                }
                crate::by_width!(size, pop_r)
            }
            _ => crate::by_width!(size, pop_m),
        },
        Mnemonic::Pushf | Mnemonic::Pushfd | Mnemonic::Pushfq => crate::by_width!(size, pushf),
        Mnemonic::Popf | Mnemonic::Popfd | Mnemonic::Popfq => {
            return Decoded::end(crate::by_width!(size, popf));
        }
        Mnemonic::Pusha => handler(pusha::<W16>),
        Mnemonic::Pushad => handler(pusha::<W32>),
        Mnemonic::Popa => handler(popa::<W16>),
        Mnemonic::Popad => handler(popa::<W32>),
        Mnemonic::Enter => {
            op.imm = u64::from(insn.immediate16());
            op.imm2 = u16::from(insn.immediate8_2nd());
            let w = match ctx.cpu.code_bits {
                64 => {
                    if insn.code() == iced_x86::Code::Enterw_imm16_imm8 {
                        16
                    } else {
                        64
                    }
                }
                _ => {
                    if insn.code() == iced_x86::Code::Enterd_imm16_imm8 {
                        32
                    } else {
                        16
                    }
                }
            };
            crate::by_width!(w, enter)
        }
        Mnemonic::Leave => {
            let w = match insn.code() {
                iced_x86::Code::Leavew => 16,
                iced_x86::Code::Leaved => 32,
                _ => 64,
            };
            crate::by_width!(w, leave)
        }
        _ => return None,
    };
    let _ = (W64::BITS, operand_bits);
    Decoded::next(h)
}
