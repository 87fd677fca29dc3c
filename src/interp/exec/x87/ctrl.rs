//! x87 control instructions: FINIT/FNINIT, FCLEX/FNCLEX, FSTSW/FNSTSW,
//! FSTCW/FNSTCW, FLDCW, FSTENV/FNSTENV, FLDENV, FSAVE/FNSAVE, FRSTOR,
//! WAIT/FWAIT, and the 287 no-ops FNENI/FNDISI/FNSETPM. None of them
//! updates FIP/FDP/FOP.
//!
//! Environment images (SDM Vol. 1 Figures 8-9 to 8-12): 14 bytes with a
//! 16-bit operand size, 28 bytes with 32 bits (and in 64-bit mode); the
//! real-mode layout (real and virtual-8086 mode) stores 20/32-bit linear
//! instruction and operand pointers (selector × 16 + offset) and FOP, the
//! protected-mode layout offsets, selectors and FOP. Reserved upper halves
//! of 32-bit fields are written as 1s, as hardware does. Loaded tags only
//! distinguish empty from non-empty: the others are recomputed from the
//! register contents.

use crate::interp::exec::handler;
use iced_x86::{Instruction, MemorySize, Mnemonic};

use super::sf::{self, exc};
use super::{Stack, begin, begin_nowait, check_pending, sw, update_es};
use crate::interp::cpu::Mode;
use crate::interp::events::vec;
use crate::interp::exec::{Ctx, Exec, Handler, Op, Stop, W16};
use crate::state::cr0;
use crate::state::fpu::{F80, FpuState, tag};

/// #UD (x87 forms whose CPUID feature is absent).
pub fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

#[inline(always)]
fn enter<const WAIT: bool>(ctx: &mut Ctx) -> Exec {
    if WAIT { begin(ctx) } else { begin_nowait(ctx) }
}

/// The FNINIT state: FCW 037FH, FSW 0, all tags empty, pointers 0.
fn init(f: &mut FpuState) {
    f.fcw = 0x037F;
    f.fsw = 0;
    f.ftw = 0xFFFF;
    f.fop = 0;
    f.fip = 0;
    f.fcs = 0;
    f.fdp = 0;
    f.fds = 0;
}

fn finit<const WAIT: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    init(&mut ctx.cpu.s.fpu);
    Ok(())
}

fn fclex<const WAIT: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    ctx.cpu.s.fpu.fsw &= !(exc::ALL | exc::SF | sw::ES | sw::B);
    Ok(())
}

fn fstsw_ax<const WAIT: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    let v = ctx.cpu.s.fpu.fsw;
    ctx.set_reg::<W16>(0, u64::from(v));
    Ok(())
}

fn fstsw_m<const WAIT: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    let v = ctx.cpu.s.fpu.fsw;
    ctx.store::<W16>(op, u64::from(v))
}

fn fstcw<const WAIT: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    let v = ctx.cpu.s.fpu.fcw;
    ctx.store::<W16>(op, u64::from(v))
}

/// FCW as loaded: bits 15:13 and 7 read as 0, bit 6 as 1.
#[inline]
fn fcw_of(v: u16) -> u16 {
    (v & 0x1F3F) | 0x0040
}

fn fldcw(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let v = ctx.load::<W16>(op)? as u16;
    let f = &mut ctx.cpu.s.fpu;
    f.fcw = fcw_of(v);
    update_es(f);
    Ok(())
}

/// The full tag word with non-empty tags computed from the contents.
pub fn tag_word(f: &FpuState) -> u16 {
    (0..8).fold(0, |acc, p| {
        let t = if f.tag_phys(p) == tag::EMPTY {
            tag::EMPTY
        } else {
            sf::tag_of(f.regs[p])
        };
        acc | t << (2 * p)
    })
}

/// Environment formats: (32-bit operand size, real-mode layout).
#[inline]
fn layout(ctx: &Ctx, op: &Op) -> (bool, bool) {
    (
        op.osize == 4,
        matches!(ctx.cpu.mode, Mode::Real | Mode::V86),
    )
}

/// The environment image as (offset, size, value) fields.
fn env_image(f: &FpuState, big: bool, real: bool) -> [(u8, u8, u32); 7] {
    let (cw, st, tw) = (u32::from(f.fcw), u32::from(f.fsw), u32::from(tag_word(f)));
    let fop = u32::from(f.fop & 0x7FF);
    let ip = (u32::from(f.fcs) << 4).wrapping_add(f.fip as u32);
    let dp = (u32::from(f.fds) << 4).wrapping_add(f.fdp as u32);
    const HI: u32 = 0xFFFF_0000;
    match (big, real) {
        (true, false) => [
            (0, 4, HI | cw),
            (4, 4, HI | st),
            (8, 4, HI | tw),
            (12, 4, f.fip as u32),
            (16, 4, u32::from(f.fcs) | fop << 16),
            (20, 4, f.fdp as u32),
            (24, 4, HI | u32::from(f.fds)),
        ],
        (true, true) => [
            (0, 4, HI | cw),
            (4, 4, HI | st),
            (8, 4, HI | tw),
            (12, 4, HI | (ip & 0xFFFF)),
            (16, 4, (ip & 0xFFFF_0000) >> 4 | fop),
            (20, 4, HI | (dp & 0xFFFF)),
            (24, 4, (dp & 0xFFFF_0000) >> 4),
        ],
        (false, false) => [
            (0, 2, cw),
            (2, 2, st),
            (4, 2, tw),
            (6, 2, f.fip as u32 & 0xFFFF),
            (8, 2, u32::from(f.fcs)),
            (10, 2, f.fdp as u32 & 0xFFFF),
            (12, 2, u32::from(f.fds)),
        ],
        (false, true) => [
            (0, 2, cw),
            (2, 2, st),
            (4, 2, tw),
            (6, 2, ip & 0xFFFF),
            (8, 2, (ip & 0xF_0000) >> 4 | fop),
            (10, 2, dp & 0xFFFF),
            (12, 2, (dp & 0xF_0000) >> 4),
        ],
    }
}

fn env_size(big: bool) -> usize {
    if big { 28 } else { 14 }
}

fn store_env(ctx: &mut Ctx, la: u64, big: bool, real: bool) -> Exec {
    let img = env_image(&ctx.cpu.s.fpu, big, real);
    let mask = ctx.cpu.la_mask;
    for (off, size, v) in img {
        ctx.write_la(
            la.wrapping_add(u64::from(off)) & mask,
            usize::from(size),
            u64::from(v),
        )?;
    }
    Ok(())
}

/// Reads an environment image; returns (fcw, fsw, ftw, fip, fcs, fop, fdp, fds).
fn read_env(ctx: &mut Ctx, la: u64, big: bool, real: bool) -> Result<[u64; 8], Stop> {
    let mask = ctx.cpu.la_mask;
    let n = if big { 4 } else { 2 };
    let mut w = [0u64; 7];
    for (k, v) in w.iter_mut().enumerate() {
        *v = ctx.read_la(la.wrapping_add((k * n) as u64) & mask, n)?;
    }
    let lo = |v: u64| v & 0xFFFF;
    Ok(match (big, real) {
        (true, false) => [
            lo(w[0]),
            lo(w[1]),
            lo(w[2]),
            w[3],
            lo(w[4]),
            (w[4] >> 16) & 0x7FF,
            w[5],
            lo(w[6]),
        ],
        (true, true) => [
            lo(w[0]),
            lo(w[1]),
            lo(w[2]),
            lo(w[3]) | (w[4] & 0x0FFF_F000) << 4,
            0,
            w[4] & 0x7FF,
            lo(w[5]) | (w[6] & 0x0FFF_F000) << 4,
            0,
        ],
        (false, false) => [w[0], w[1], w[2], w[3], w[4], 0, w[5], w[6]],
        (false, true) => [
            w[0],
            w[1],
            w[2],
            w[3] | (w[4] & 0xF000) << 4,
            0,
            w[4] & 0x7FF,
            w[5] | (w[6] & 0xF000) << 4,
            0,
        ],
    })
}

fn apply_env(f: &mut FpuState, e: &[u64; 8]) {
    f.fcw = fcw_of(e[0] as u16);
    f.fsw = e[1] as u16;
    f.fip = e[3];
    f.fcs = e[4] as u16;
    f.fop = e[5] as u16;
    f.fdp = e[6];
    f.fds = e[7] as u16;
    // Only empty / non-empty is taken from the image.
    let tw = e[2] as u16;
    f.ftw = (0..8).fold(0, |acc, p| {
        let t = if (tw >> (2 * p)) & 3 == tag::EMPTY {
            tag::EMPTY
        } else {
            sf::tag_of(f.regs[p])
        };
        acc | t << (2 * p)
    });
    update_es(f);
}

fn fstenv<const WAIT: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    let (big, real) = layout(ctx, op);
    let la = ctx.fpu_linear(op, env_size(big), true)?;
    store_env(ctx, la, big, real)?;
    let f = &mut ctx.cpu.s.fpu;
    f.fcw |= exc::ALL;
    update_es(f);
    Ok(())
}

fn fldenv(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let (big, real) = layout(ctx, op);
    let la = ctx.fpu_linear(op, env_size(big), false)?;
    let e = read_env(ctx, la, big, real)?;
    apply_env(&mut ctx.cpu.s.fpu, &e);
    Ok(())
}

fn fsave<const WAIT: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    enter::<WAIT>(ctx)?;
    let (big, real) = layout(ctx, op);
    let n = env_size(big);
    let la = ctx.fpu_linear(op, n + 80, true)?;
    store_env(ctx, la, big, real)?;
    let mask = ctx.cpu.la_mask;
    for i in 0..8u8 {
        let v = ctx.cpu.s.fpu.st(i);
        ctx.write_f80(la.wrapping_add((n + 10 * usize::from(i)) as u64) & mask, v)?;
    }
    init(&mut ctx.cpu.s.fpu);
    Ok(())
}

fn frstor(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let (big, real) = layout(ctx, op);
    let n = env_size(big);
    let la = ctx.fpu_linear(op, n + 80, false)?;
    let e = read_env(ctx, la, big, real)?;
    let mut regs = [F80::default(); 8];
    let mask = ctx.cpu.la_mask;
    for (i, r) in regs.iter_mut().enumerate() {
        *r = ctx.read_f80(la.wrapping_add((n + 10 * i) as u64) & mask)?;
    }
    let f = &mut ctx.cpu.s.fpu;
    let top = usize::from((e[1] >> 11) as u16 & 7);
    for (i, r) in regs.iter().enumerate() {
        f.regs[(top + i) & 7] = *r;
    }
    apply_env(f, &e);
    Ok(())
}

/// WAIT/FWAIT: #NM when CR0.TS and CR0.MP are set, then pending #MF.
pub fn fwait(ctx: &mut Ctx, _op: &Op) -> Exec {
    let c = ctx.cpu.s.cr.cr0;
    if c & (cr0::TS | cr0::MP) == cr0::TS | cr0::MP {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    check_pending(ctx)
}

/// FNENI, FNDISI, FNSETPM: ignored since the 387 (still #NM-checked).
fn nop287(ctx: &mut Ctx, _op: &Op) -> Exec {
    begin_nowait(ctx)
}

pub fn decode(insn: &Instruction, op: &mut Op, _ctx: &Ctx) -> Option<Handler> {
    use Mnemonic::*;
    let h: Handler = match insn.mnemonic() {
        Fninit => handler(finit::<false>),
        Finit => handler(finit::<true>),
        Fnclex => handler(fclex::<false>),
        Fclex => handler(fclex::<true>),
        Fnstsw if insn.op_count() > 0 && insn.op0_kind() != iced_x86::OpKind::Memory => {
            handler(fstsw_ax::<false>)
        }
        Fstsw if insn.op_count() > 0 && insn.op0_kind() != iced_x86::OpKind::Memory => {
            handler(fstsw_ax::<true>)
        }
        Fnstsw => handler(fstsw_m::<false>),
        Fstsw => handler(fstsw_m::<true>),
        Fnstcw => handler(fstcw::<false>),
        Fstcw => handler(fstcw::<true>),
        Fldcw => handler(fldcw),
        Fnstenv => handler(fstenv::<false>),
        Fstenv => handler(fstenv::<true>),
        Fldenv => handler(fldenv),
        Fnsave => handler(fsave::<false>),
        Fsave => handler(fsave::<true>),
        Frstor => handler(frstor),
        Fneni | Fndisi | Fnsetpm => handler(nop287),
        Feni | Fdisi | Fsetpm => handler(fnop_wait),
        _ => return None,
    };
    let ms = insn.memory_size();
    op.osize = if matches!(
        ms,
        MemorySize::FpuEnv14 | MemorySize::FpuState94 | MemorySize::Int16
    ) {
        2
    } else {
        4
    };
    Some(h)
}

/// FENI/FDISI/FSETPM as assembled with their WAIT prefix.
fn fnop_wait(ctx: &mut Ctx, _op: &Op) -> Exec {
    begin(ctx)
}
