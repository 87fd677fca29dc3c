//! String instructions: MOVS, STOS, LODS, CMPS, SCAS, INS, OUTS, with
//! REP/REPE/REPNE in every address size (SDM Vol. 2B "REP/REPE/REPZ/
//! REPNE/REPNZ"). A repeated instruction runs up to the vCPU's remaining
//! budget of iterations, then leaves RIP on itself so that interrupts and
//! timers are taken between iterations exactly as on hardware; each
//! iteration counts as one retired instruction for virtual time.

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic};

use super::{ASIZE_MASK, Ctx, Exec, Op, Stop, W8, W16, W32, W64, Width};
use crate::interp::decode::Decoded;
use crate::interp::exec::alu;
use crate::state::{SegReg, rflags};

const MOVS: u8 = 0;
const STOS: u8 = 1;
const LODS: u8 = 2;
const CMPS: u8 = 3;
const SCAS: u8 = 4;
const INS: u8 = 5;
const OUTS: u8 = 6;

const ES: u8 = SegReg::Es as u8;

#[inline(always)]
fn step<W: Width>(ctx: &Ctx) -> u64 {
    if ctx.cpu.rflags & rflags::DF != 0 {
        (W::BYTES as u64).wrapping_neg()
    } else {
        W::BYTES as u64
    }
}

/// Adds `delta` to an address-size register: 16-bit updates keep the
/// upper bits, 32-bit ones zero-extend like any 32-bit register write.
#[inline(always)]
fn bump(ctx: &mut Ctx, reg: usize, delta: u64, mask: u64) {
    let r = &mut ctx.cpu.regs[reg];
    *r = super::addr_reg_update(*r, r.wrapping_add(delta), mask);
}

/// One iteration. Returns whether a REPE/REPNE condition ends the loop.
#[inline(always)]
fn once<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Result<bool, Stop> {
    let mask = ASIZE_MASK[op.asize as usize & 3];
    let d = step::<W>(ctx);
    let si = ctx.cpu.regs[6] & mask;
    let di = ctx.cpu.regs[7] & mask;
    match OP {
        MOVS => {
            let v = ctx.read_seg::<W>(op.seg, si)?;
            ctx.write_seg::<W>(ES, di, v)?;
            bump(ctx, 6, d, mask);
            bump(ctx, 7, d, mask);
        }
        STOS => {
            let v = ctx.reg::<W>(0);
            ctx.write_seg::<W>(ES, di, v)?;
            bump(ctx, 7, d, mask);
        }
        LODS => {
            let v = ctx.read_seg::<W>(op.seg, si)?;
            ctx.set_reg::<W>(0, v);
            bump(ctx, 6, d, mask);
        }
        CMPS => {
            // ES:RDI is read first: when both operands fault, the
            // processor reports the RDI one (a #PF with CR2 = RDI even
            // when RSI is non-canonical; found by `nestor difftest`).
            let b = ctx.read_seg::<W>(ES, di)?;
            let a = ctx.read_seg::<W>(op.seg, si)?;
            let (_, f) = alu::compute::<W, { alu::CMP }>(&ctx.cpu.lf, a, b);
            ctx.cpu.lf = f;
            bump(ctx, 6, d, mask);
            bump(ctx, 7, d, mask);
            return Ok(rep_stops(op, ctx));
        }
        SCAS => {
            let a = ctx.reg::<W>(0);
            let b = ctx.read_seg::<W>(ES, di)?;
            let (_, f) = alu::compute::<W, { alu::CMP }>(&ctx.cpu.lf, a, b);
            ctx.cpu.lf = f;
            bump(ctx, 7, d, mask);
            return Ok(rep_stops(op, ctx));
        }
        INS => {
            let port = ctx.cpu.regs[2] as u16;
            ctx.io_allowed(port, W::BYTES)?;
            // The destination must be writable before the port is read.
            let la = ctx.linear(ES, di, W::BYTES, true)?;
            ctx.probe_write(la, W::BYTES)?;
            let v = ctx.port_in(port, W::BYTES);
            ctx.write_la(la, W::BYTES, v)?;
            bump(ctx, 7, d, mask);
        }
        _ => {
            let port = ctx.cpu.regs[2] as u16;
            ctx.io_allowed(port, W::BYTES)?;
            let v = ctx.read_seg::<W>(op.seg, si)?;
            ctx.port_out(port, W::BYTES, v);
            bump(ctx, 6, d, mask);
        }
    }
    Ok(false)
}

#[inline(always)]
fn rep_stops(op: &Op, ctx: &Ctx) -> bool {
    match op.rep {
        1 => !ctx.cpu.lf.zf(),
        2 => ctx.cpu.lf.zf(),
        _ => false,
    }
}

/// REP MOVS/STOS fast path: whole runs of elements inside one page of the
/// source and destination, copied through host pointers (forward only, an
/// element at a time, so overlapping copies behave exactly as on hardware).
/// Returns the number of iterations done; the caller continues with the
/// general path (page ends, slow pages, faults, DF=1).
#[inline(always)]
fn bulk<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op, mask: u64, budget: u64) -> u64 {
    let n = W::BYTES as u64;
    let mut done = 0u64;
    loop {
        let count = ctx.cpu.regs[1] & mask;
        if count == 0 || done >= budget || ctx.cpu.attention != 0 {
            return done;
        }
        let di = ctx.cpu.regs[7] & mask;
        let Ok(dla) = ctx.linear(ES, di, W::BYTES, true) else {
            return done;
        };
        let Some(dst) = ctx.fast_ptr(dla, true) else {
            return done;
        };
        let mut room = (4096 - (dla & 0xFFF)) / n;
        // Stay clear of address-size wrap-around (16/32-bit addressing).
        room = room.min((mask - di) / n + 1);
        let mut src = std::ptr::null_mut();
        if OP == MOVS {
            let si = ctx.cpu.regs[6] & mask;
            let Ok(sla) = ctx.linear(op.seg, si, W::BYTES, false) else {
                return done;
            };
            let Some(s) = ctx.fast_ptr(sla, false) else {
                return done;
            };
            src = s;
            room = room
                .min((4096 - (sla & 0xFFF)) / n)
                .min((mask - si) / n + 1);
        }
        let k = room.min(count).min(budget - done);
        if k == 0 {
            return done;
        }
        let bytes = (k * n) as usize;
        // SAFETY: `dst` (and `src`) point into RAM pages the TLB granted
        // for this access, with at least `bytes` bytes left in the page.
        unsafe {
            if OP == MOVS {
                let (d, s) = (dst as usize, src as usize);
                if d <= s || d >= s + bytes {
                    // A forward element-by-element copy reads each source
                    // byte before any write reaches it: a memmove.
                    std::ptr::copy(src, dst, bytes);
                } else {
                    // The destination overlaps the source ahead of it: copy
                    // element by element (each read whole before its write),
                    // repeating the pattern as the hardware does.
                    let mut e = [0u8; 8];
                    for i in (0..bytes).step_by(W::BYTES) {
                        std::ptr::copy_nonoverlapping(src.add(i), e.as_mut_ptr(), W::BYTES);
                        std::ptr::copy_nonoverlapping(e.as_ptr(), dst.add(i), W::BYTES);
                    }
                }
            } else if W::BYTES == 1 {
                std::ptr::write_bytes(dst, ctx.cpu.regs[0] as u8, bytes);
            } else {
                let v = ctx.cpu.regs[0].to_le_bytes();
                let mut pattern = [0u8; 8];
                for (i, b) in pattern.iter_mut().enumerate() {
                    *b = v[i % W::BYTES];
                }
                let word = u64::from_ne_bytes(pattern);
                let mut i = 0;
                while i + 8 <= bytes {
                    std::ptr::write_unaligned(dst.add(i) as *mut u64, word);
                    i += 8;
                }
                while i < bytes {
                    *dst.add(i) = pattern[i % 8];
                    i += 1;
                }
            }
        }
        bump(ctx, 7, k * n, mask);
        if OP == MOVS {
            bump(ctx, 6, k * n, mask);
        }
        bump(ctx, 1, k.wrapping_neg(), mask);
        done += k;
    }
}

fn string<W: Width, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    if op.rep == 0 {
        once::<W, OP>(ctx, op)?;
        return if OP >= INS { Err(Stop::Exit) } else { Ok(()) };
    }
    let mask = ASIZE_MASK[op.asize as usize & 3];
    let budget = ctx.cpu.rep_end.saturating_sub(ctx.cpu.icount).max(1);
    let mut done = 0u64;
    let bulk_ok = (OP == MOVS || OP == STOS) && ctx.cpu.rflags & rflags::DF == 0;
    while ctx.cpu.regs[1] & mask != 0 {
        if bulk_ok {
            // Again after every single step: the step filled the TLB for a
            // page the bulk path could not reach yet.
            done += bulk::<W, OP>(ctx, op, mask, budget - done);
            if ctx.cpu.regs[1] & mask == 0 {
                break;
            }
        }
        if done > 0 && (done == budget || ctx.cpu.attention != 0) {
            // Resume later at this same instruction (RIP unchanged), with
            // RF = 1: an event taken between iterations pushes RF = 1, and
            // an instruction breakpoint on the instruction does not fire
            // again when it resumes (SDM Vol. 3B 18.3.1.1).
            ctx.cpu.rflags |= rflags::RF;
            ctx.cpu.attention |= crate::interp::cpu::attn::STEP;
            ctx.cpu.icount += done.saturating_sub(1);
            ctx.cpu.rip = op.rip;
            return Err(Stop::Jump);
        }
        let stop = match once::<W, OP>(ctx, op) {
            Ok(s) => s,
            Err(e) => {
                // The completed iterations retired; the faulting one did not.
                ctx.cpu.icount += done;
                return Err(e);
            }
        };
        bump(ctx, 1, u64::MAX, mask);
        done += 1;
        if stop {
            break;
        }
    }
    ctx.cpu.icount += done.saturating_sub(1);
    if OP >= INS {
        return Err(Stop::Exit);
    }
    Ok(())
}

pub fn decode(insn: &Instruction, op: &mut Op, _ctx: &Ctx) -> Option<Decoded> {
    use Mnemonic::*;
    let (kind, bytes) = match insn.mnemonic() {
        Movsb => (MOVS, 1),
        Movsw => (MOVS, 2),
        Movsd if insn.op_count() == 2 && insn.op0_kind() != iced_x86::OpKind::Register => (MOVS, 4),
        Movsq => (MOVS, 8),
        Stosb => (STOS, 1),
        Stosw => (STOS, 2),
        Stosd => (STOS, 4),
        Stosq => (STOS, 8),
        Lodsb => (LODS, 1),
        Lodsw => (LODS, 2),
        Lodsd => (LODS, 4),
        Lodsq => (LODS, 8),
        Cmpsb => (CMPS, 1),
        Cmpsw => (CMPS, 2),
        Cmpsd if insn.op0_kind() != iced_x86::OpKind::Register => (CMPS, 4),
        Cmpsq => (CMPS, 8),
        Scasb => (SCAS, 1),
        Scasw => (SCAS, 2),
        Scasd => (SCAS, 4),
        Scasq => (SCAS, 8),
        Insb => (INS, 1),
        Insw => (INS, 2),
        Insd => (INS, 4),
        Outsb => (OUTS, 1),
        Outsw => (OUTS, 2),
        Outsd => (OUTS, 4),
        _ => return None,
    };
    // MOVS/STOS/LODS treat REPNE like REP.
    if matches!(kind, MOVS | STOS | LODS | INS | OUTS) && op.rep == 2 {
        op.rep = 1;
    }
    macro_rules! w {
        ($k:expr) => {
            match bytes {
                1 => handler(string::<W8, $k>),
                2 => handler(string::<W16, $k>),
                4 => handler(string::<W32, $k>),
                _ => handler(string::<W64, $k>),
            }
        };
    }
    let h = match kind {
        MOVS => w!(MOVS),
        STOS => w!(STOS),
        LODS => w!(LODS),
        CMPS => w!(CMPS),
        SCAS => w!(SCAS),
        INS => w!(INS),
        _ => w!(OUTS),
    };
    if kind >= INS || op.rep != 0 {
        return Decoded::end(h);
    }
    Decoded::next(h)
}
