//! The x87 FPU (SDM Vol. 1 Chapter 8; Vol. 2 instruction pages).
//!
//! - [`sf`] and [`sfx`]: the numeric core (exact 80-bit arithmetic with
//!   precision and rounding control, exception flags);
//! - [`trans`]: transcendental functions (binary64 inside);
//! - [`arith`]: arithmetic, comparisons and the one-operand instructions;
//! - [`ldst`]: loads, stores, constants, FXCH, FCMOVcc, FFREE, TOP moves;
//! - [`ctrl`]: control and environment instructions, WAIT;
//! - this file: the register stack, exception bookkeeping, availability
//!   (#NM) and pending-exception (#MF) checks, and the family decoder.
//!
//! Availability (SDM Vol. 3A 2.5, Table 2-2): every x87 instruction raises
//! #NM when CR0.EM or CR0.TS is set; WAIT/FWAIT only when CR0.TS and CR0.MP
//! are both set. A CPU model without the `fpu` feature raises #NM for x87
//! instructions when CR0.EM = 1 (software emulation) and #UD otherwise.
//!
//! Pending exceptions: an unmasked exception sets FSW.ES (and B). The next
//! *waiting* x87 instruction (all but FNINIT, FNCLEX, FNSTSW, FNSTCW,
//! FNSTENV, FNSAVE and the 287 no-ops FNENI/FNDISI/FNSETPM) and WAIT raise
//! #MF before executing when CR0.NE = 1. With CR0.NE = 0 (the legacy
//! FERR#/IGNNE# path, which signals IRQ 13 through external logic) nestor
//! models a system that asserts IGNNE#: the instruction executes and no
//! interrupt is raised; ES stays set until cleared by software.
//!
//! FIP/FCS/FOP (and FDP/FDS for memory operands) are updated by every
//! non-control instruction that completes (SDM Vol. 1 8.1.8); with the
//! `zero-fcs-fds` feature FCS/FDS read as 0, and with `fdp-excptn-only`
//! FDP/FDS are only updated by instructions that flag an unmasked
//! exception. Multi-byte memory operands (m80, environments, FSAVE images)
//! are checked and translated as one linear range; the 16-bit offset wrap
//! inside such a range is not modelled.

pub mod arith;
pub mod ctrl;
pub mod ldst;
pub mod sf;
pub mod sfx;
pub mod trans;

#[cfg(test)]
mod tests;

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, Register};

use super::{Ctx, Exec, Op, Stop};
use crate::interp::decode::Decoded;
use crate::interp::events::vec;
use crate::model::Feature;
use crate::state::cr0;
use crate::state::fpu::{F80, FpuState, tag};
use sf::Env;

/// FSW bits besides the exception flags ([`sf::exc`]).
pub mod sw {
    pub const ES: u16 = 1 << 7;
    pub const C0: u16 = 1 << 8;
    pub const C1: u16 = 1 << 9;
    pub const C2: u16 = 1 << 10;
    pub const TOP: u16 = 7 << 11;
    pub const C3: u16 = 1 << 14;
    pub const B: u16 = 1 << 15;
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// `Op::r2` bits set at decode time.
pub mod opf {
    /// The instruction has a memory operand (FDP/FDS are updated).
    pub const MEM: u8 = 1;
    /// FCS/FDS are stored as zero (`zero-fcs-fds`).
    pub const ZERO_SEL: u8 = 2;
    /// FDP/FDS are updated only on unmasked exceptions (`fdp-excptn-only`).
    pub const FDP_EXC: u8 = 4;
}

/// Register-stack access on the FPU state.
pub trait Stack {
    fn phys(&self, i: u8) -> usize;
    fn st(&self, i: u8) -> F80;
    fn tag_phys(&self, p: usize) -> u16;
    fn is_empty(&self, i: u8) -> bool;
    /// Writes ST(i) and sets its tag from the value.
    fn set_st(&mut self, i: u8, v: F80);
    fn set_tag_phys(&mut self, p: usize, t: u16);
    fn set_top(&mut self, top: usize);
    /// TOP − 1, then ST(0) = v.
    fn push(&mut self, v: F80);
    /// Marks ST(0) empty, TOP + 1.
    fn pop(&mut self);
}

impl Stack for FpuState {
    #[inline(always)]
    fn phys(&self, i: u8) -> usize {
        (self.top() + usize::from(i)) & 7
    }
    #[inline(always)]
    fn st(&self, i: u8) -> F80 {
        self.regs[self.phys(i)]
    }
    #[inline(always)]
    fn tag_phys(&self, p: usize) -> u16 {
        (self.ftw >> (2 * p)) & 3
    }
    #[inline(always)]
    fn is_empty(&self, i: u8) -> bool {
        self.tag_phys(self.phys(i)) == tag::EMPTY
    }
    #[inline(always)]
    fn set_st(&mut self, i: u8, v: F80) {
        let p = self.phys(i);
        self.regs[p] = v;
        self.set_tag_phys(p, sf::tag_of(v));
    }
    #[inline(always)]
    fn set_tag_phys(&mut self, p: usize, t: u16) {
        self.ftw = (self.ftw & !(3 << (2 * p))) | (t << (2 * p));
    }
    #[inline(always)]
    fn set_top(&mut self, top: usize) {
        self.fsw = (self.fsw & !sw::TOP) | ((top as u16 & 7) << 11);
    }
    #[inline(always)]
    fn push(&mut self, v: F80) {
        let t = self.top().wrapping_sub(1) & 7;
        self.set_top(t);
        self.set_st(0, v);
    }
    #[inline(always)]
    fn pop(&mut self) {
        let p = self.phys(0);
        self.set_tag_phys(p, tag::EMPTY);
        self.set_top(p + 1);
    }
}

/// Recomputes ES and B from the flags and masks.
#[inline]
pub fn update_es(f: &mut FpuState) {
    if f.fsw & !f.fcw & sf::exc::ALL != 0 {
        f.fsw |= sw::ES | sw::B;
    } else {
        f.fsw &= !(sw::ES | sw::B);
    }
}

/// The full tag word for an abridged one (FXRSTOR/XRSTOR: bit i set =
/// physical register i not empty), tags computed from the contents.
pub fn tags_from_abridged(f: &FpuState, abridged: u8) -> u16 {
    (0..8).fold(0, |acc, p| {
        let t = if abridged & (1 << p) == 0 {
            tag::EMPTY
        } else {
            sf::tag_of(f.regs[p])
        };
        acc | t << (2 * p)
    })
}

/// Merges an operation's flags and C1 into FSW.
#[inline]
pub fn commit(f: &mut FpuState, env: &Env) {
    f.fsw = (f.fsw & !sw::C1) | env.flags | if env.c1 { sw::C1 } else { 0 };
    if env.flags & !env.cw & sf::exc::ALL != 0 {
        f.fsw |= sw::ES | sw::B;
    }
}

/// Stack underflow (#IS, C1 = 0): true when masked (the caller delivers
/// the real indefinite).
#[inline]
pub fn underflow(env: &mut Env) -> bool {
    env.flags |= sf::exc::IE | sf::exc::SF;
    env.c1 = false;
    !env.unmasked(sf::exc::IE)
}

/// Stack overflow (#IS, C1 = 1): true when masked.
#[inline]
pub fn overflow(env: &mut Env) -> bool {
    env.flags |= sf::exc::IE | sf::exc::SF;
    env.c1 = true;
    !env.unmasked(sf::exc::IE)
}

/// The #NM and #MF checks of a waiting x87 instruction.
#[inline(always)]
pub fn begin(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.s.cr.cr0 & (cr0::EM | cr0::TS) != 0 || ctx.cpu.s.fpu.fsw & sw::ES != 0 {
        return begin_slow(ctx, true);
    }
    Ok(())
}

/// The #NM check of a non-waiting control instruction.
#[inline(always)]
pub fn begin_nowait(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.s.cr.cr0 & (cr0::EM | cr0::TS) != 0 {
        return begin_slow(ctx, false);
    }
    Ok(())
}

#[cold]
fn begin_slow(ctx: &mut Ctx, wait: bool) -> Exec {
    if ctx.cpu.s.cr.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    if wait {
        check_pending(ctx)?;
    }
    Ok(())
}

/// #MF if an unmasked x87 exception is pending and CR0.NE = 1 (the check
/// WAIT, waiting x87 instructions and MMX instructions make).
#[inline]
pub fn check_pending(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.s.fpu.fsw & sw::ES != 0 && ctx.cpu.s.cr.cr0 & cr0::NE != 0 {
        return Err(ctx.cpu.raise(vec::MF, None));
    }
    Ok(())
}

/// Records FIP/FCS/FOP (and FDP/FDS) for a completed non-control
/// instruction.
#[inline(always)]
pub fn done(ctx: &mut Ctx, op: &Op) {
    let zero_sel = op.r2 & opf::ZERO_SEL != 0;
    let cs = if zero_sel {
        0
    } else {
        ctx.cpu.s.seg[1].selector
    };
    let f = &mut ctx.cpu.s.fpu;
    f.fop = op.imm2;
    f.fip = op.rip;
    f.fcs = cs;
    if op.r2 & opf::MEM != 0 {
        if op.r2 & opf::FDP_EXC != 0 && f.fsw & !f.fcw & sf::exc::ALL == 0 {
            return;
        }
        let ea = ctx.ea(op);
        let ds = if zero_sel {
            0
        } else {
            ctx.cpu.s.seg[op.seg as usize % 6].selector
        };
        let f = &mut ctx.cpu.s.fpu;
        f.fdp = ea;
        f.fds = ds;
    }
}

// ---- memory operands wider than 8 bytes -------------------------------

impl Ctx {
    /// Linear address of the op's `size`-byte memory operand, checked.
    pub fn fpu_linear(&mut self, op: &Op, size: usize, write: bool) -> Result<u64, Stop> {
        let ea = self.ea(op);
        let la = self.linear(op.seg, ea, size, write)?;
        if write {
            self.probe_write(la, size)?;
        }
        Ok(la)
    }

    /// Reads an 80-bit value at linear `la`.
    pub fn read_f80(&mut self, la: u64) -> Result<F80, Stop> {
        let lo = self.read_la(la, 8)?;
        let hi = self.read_la(la.wrapping_add(8) & self.cpu.la_mask, 2)?;
        Ok(F80 {
            significand: lo,
            sign_exp: hi as u16,
        })
    }

    /// Writes an 80-bit value at linear `la` (probed beforehand).
    pub fn write_f80(&mut self, la: u64, v: F80) -> Exec {
        self.write_la(la, 8, v.significand)?;
        self.write_la(
            la.wrapping_add(8) & self.cpu.la_mask,
            2,
            u64::from(v.sign_exp),
        )
    }
}

// ---- decoding --------------------------------------------------------------

/// The ModR/M byte of a memory-operand instruction with `reg` in bits 5:3,
/// reconstructed from the decoded addressing form (for FOP).
fn modrm_mem(insn: &Instruction, reg: u8, asize: u8, code64: bool) -> u8 {
    let base = insn.memory_base();
    let index = insn.memory_index();
    let md = |ds: u32| match ds {
        0 => 0u8,
        1 => 1,
        _ => 2,
    };
    let ds = insn.memory_displ_size();
    let (m, rm) = if base == Register::RIP || base == Register::EIP {
        (0, 5)
    } else if asize == 0 {
        use Register::*;
        let rm = match (base, index) {
            (BX, SI) => 0,
            (BX, DI) => 1,
            (BP, SI) => 2,
            (BP, DI) => 3,
            (SI, None) => 4,
            (DI, None) => 5,
            (BP, None) => 6,
            (BX, None) => 7,
            _ => 6,
        };
        if base == None && index == None {
            (0, 6)
        } else {
            (md(ds), rm)
        }
    } else if index != Register::None {
        (if base == Register::None { 0 } else { md(ds) }, 4)
    } else if base == Register::None {
        (0, if code64 { 4 } else { 5 })
    } else if base.number() & 7 == 4 {
        (md(ds), 4)
    } else {
        (md(ds), (base.number() & 7) as u8)
    };
    m << 6 | (reg & 7) << 3 | rm
}

/// FOP of an instruction: low 3 bits of the escape opcode (D8–DF) and the
/// ModR/M byte. `reg_form` gives the ModR/M of register forms directly.
pub fn set_fop(insn: &Instruction, op: &mut Op, esc: u8, modrm: u8, ctx: &Ctx) {
    let has_mem = insn.op_count() > 0 && insn.op0_kind() == iced_x86::OpKind::Memory;
    let m = if has_mem {
        modrm_mem(insn, modrm >> 3, op.asize, ctx.cpu.code_bits == 64)
    } else {
        modrm
    };
    op.imm2 = (u16::from(esc & 7) << 8) | u16::from(m);
    let model = ctx.cpu.model();
    let mut r2 = 0;
    if has_mem {
        r2 |= opf::MEM;
    }
    if model.has(Feature::ZeroFcsFds) {
        r2 |= opf::ZERO_SEL;
    }
    if model.has(Feature::FdpExcptnOnly) {
        r2 |= opf::FDP_EXC;
    }
    op.r2 = r2;
}

/// ST(i) number of operand `k` (0 when not an x87 register).
pub fn sti(insn: &Instruction, k: u32) -> u8 {
    let r = insn.op_register(k);
    if (Register::ST0..=Register::ST7).contains(&r) {
        (r as u32 - Register::ST0 as u32) as u8
    } else {
        0
    }
}

/// x87 instruction without an FPU: #NM when CR0.EM = 1, else #UD.
fn no_fpu(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.s.cr.cr0 & cr0::EM != 0 {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    Err(ctx.cpu.ud())
}

/// The x87 family decoder.
pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let m = insn.mnemonic();
    if m == Mnemonic::Wait {
        return Decoded::next(handler(ctrl::fwait));
    }
    let h = arith::decode(insn, op, ctx)
        .or_else(|| ldst::decode(insn, op, ctx))
        .or_else(|| ctrl::decode(insn, op, ctx))?;
    if !ctx.cpu.model().has(Feature::Fpu) {
        return Decoded::next(handler(no_fpu));
    }
    Decoded::next(h)
}
