//! The debug facilities: DR7 breakpoints (instruction, data, I/O), single
//! step (RFLAGS.TF), general detect (DR7.GD), and how they meet RFLAGS.RF
//! and the MOV SS shadow (SDM Vol. 3B Chapter 18 "Debug, Branch Profile,
//! TSC, and Intel Resource Director Technology Features", 18.2–18.3; AMD
//! APM Vol. 2 Chapter 13).
//!
//! Cost: nothing here runs while no breakpoint is enabled and TF, RF and
//! the interrupt shadow are clear. Otherwise the run loop executes one
//! instruction at a time ([`super::run`]'s `execute_one`) and calls
//! [`before_instruction`] and [`after_instruction`] around it. Data
//! breakpoints are checked on the slow path of data accesses: while one is
//! enabled the TLB grants no read or write access (it is flushed when the
//! first one is armed and filled with execute rights only), so every data
//! access reaches `read_slow`/`write_slow`, which call
//! [`Ctx::data_breakpoints`]. The fast path is untouched.
//!
//! The #DB rules implemented (SDM 18.3.1, Table 7-2 priorities):
//! - instruction breakpoints are faults, checked before the instruction
//!   unless RFLAGS.RF = 1; RF is cleared once the check is done. On Intel
//!   they are inhibited on the instruction after MOV SS / POP SS; on AMD
//!   they are not (kvm-unit-tests `emulator.c` `test_mov_pop_ss_code_db`);
//! - data and I/O breakpoints and single step are traps, reported together
//!   in one #DB after the instruction; the trap of a MOV SS / POP SS is held
//!   until the next instruction completes (`events.pending_dbg`, SDM Vol. 3A
//!   7.8.3) and then reported with that instruction's own traps;
//! - delivering a #DB (hardware, or ICEBP) consumes every pending debug
//!   condition and clears DR7.GD; other event deliveries (INT n, INT3,
//!   INTO, exceptions) do not, so a held trap is reported at the handler's
//!   first instruction, as on hardware (CVE-2018-8897);
//! - single step traps after an instruction that began with TF = 1 (so
//!   not after the POPF or IRET that sets it), except that an instruction
//!   that delivers a software interrupt or exception does not trap (INT n
//!   and INTO clear TF, SDM 18.3.1.4), and SYSCALL and SYSRET trap when TF
//!   is 1 at their end (kvm-unit-tests `syscall.c`: SYSCALL with TF in
//!   IA32_FMASK does not trap, SYSRET that sets TF does);
//! - DR6.B0–B3 are rewritten on every #DB with the breakpoints whose
//!   condition matched, enabled or not (18.2.3); BD, BS and BT are only
//!   ever set.

use super::exec::{Ctx, Exec, Stop};
use super::{cpu::Fault, events::vec};
use crate::model::Vendor;
use crate::state::{SegReg, VcpuState, cr4, dr6, dr7, rflags, shadow};

/// Breakpoint kinds (DR7.R/Wn), with [`NONE`] for R/W = 10 while CR4.DE = 0.
const EXEC: u8 = 0;
const WRITE: u8 = 1;
const IO: u8 = 2;
const READ_WRITE: u8 = 3;
const NONE: u8 = 4;

/// [`DebugState::delivered`] bits.
pub const DELIVERED_EVENT: u8 = 1;
pub const DELIVERED_DB: u8 = 2;

/// One of DR0–DR3 as DR7 configures it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Breakpoint {
    /// DRn with the low bits cleared per LEN (the hardware ignores them).
    pub addr: u64,
    /// 1, 2, 4 or 8 bytes.
    pub len: u64,
    pub kind: u8,
}

impl Breakpoint {
    /// Does an access of `size` bytes at `a` touch this breakpoint's range?
    #[inline]
    fn overlaps(&self, a: u64, size: u64) -> bool {
        a.wrapping_sub(self.addr) < self.len || self.addr.wrapping_sub(a) < size
    }
}

/// Debug-register configuration decoded from DR0–DR3, DR7 and CR4.DE, and
/// the debug conditions recognised during the current instruction.
#[derive(Clone, Copy, Debug, Default)]
pub struct DebugState {
    /// Some breakpoint is enabled: instructions run one at a time through
    /// the checking path.
    pub active: bool,
    /// Enabled breakpoints by kind (bit n = DRn).
    pub exec: u8,
    /// Enabled data breakpoints: while nonzero the TLB grants no data access.
    pub data: u8,
    pub io: u8,
    pub bp: [Breakpoint; 4],
    /// B0–B3 of the breakpoints matched by data or I/O accesses since the
    /// last report, enabled or not.
    pub hits: u8,
    /// An enabled breakpoint is among `hits`.
    pub hit_enabled: bool,
    /// Events delivered during the current instruction ([`DELIVERED_EVENT`],
    /// [`DELIVERED_DB`]).
    pub delivered: u8,
    /// The current instruction (SYSCALL, SYSRET) single-steps on TF at its
    /// end rather than at its start ([`tf_at_end`]).
    pub tf_end: bool,
}

impl DebugState {
    /// Re-derives the breakpoint configuration from `s`.
    pub fn refresh(&mut self, s: &VcpuState) {
        let d7 = s.dr.dr7;
        let de = s.cr.cr4 & cr4::DE != 0;
        let (mut exec, mut data, mut io) = (0u8, 0u8, 0u8);
        for n in 0..4 {
            let len = dr7::len(d7, n);
            let kind = match dr7::rw(d7, n) {
                0 => EXEC,
                1 => WRITE,
                2 if de => IO,
                2 => NONE,
                _ => READ_WRITE,
            };
            // An I/O breakpoint's port is DRn[15:0].
            let addr = if kind == IO {
                s.dr.dr[n] & 0xFFFF
            } else {
                s.dr.dr[n]
            };
            self.bp[n] = Breakpoint {
                addr: addr & !(len - 1),
                len,
                kind,
            };
            if dr7::enabled(d7, n) {
                match kind {
                    EXEC => exec |= 1 << n,
                    WRITE | READ_WRITE => data |= 1 << n,
                    IO => io |= 1 << n,
                    _ => {}
                }
            }
        }
        self.exec = exec;
        self.data = data;
        self.io = io;
        self.active = exec | data | io != 0;
    }

    /// Forgets the data/I/O matches recorded so far.
    #[inline]
    pub fn clear_hits(&mut self) {
        self.hits = 0;
        self.hit_enabled = false;
    }

    /// Takes the recorded matches as DR6 bits if an enabled breakpoint is
    /// among them.
    fn take_hits(&mut self) -> u64 {
        let bits = if self.hit_enabled {
            u64::from(self.hits)
        } else {
            0
        };
        self.clear_hits();
        bits
    }
}

/// Checks at an instruction boundary, before the instruction: a data/I/O
/// breakpoint matched by an event delivered since the last instruction
/// (trap), then the instruction breakpoints at CS:RIP (fault). Returns the
/// DR6 bits of the #DB to deliver now, RIP unchanged.
pub fn before_instruction(ctx: &mut Ctx, shadow_bits: u8) -> Option<u64> {
    let leftover = ctx.cpu.dbg.take_hits();
    if leftover != 0 {
        return Some(leftover);
    }
    let d = &ctx.cpu.dbg;
    if d.exec == 0 || ctx.cpu.rflags & rflags::RF != 0 {
        return None;
    }
    // Intel inhibits instruction breakpoints on the instruction after
    // MOV SS / POP SS; AMD does not.
    if shadow_bits & shadow::MOV_SS != 0 && ctx.cpu.model().vendor == Vendor::Intel {
        return None;
    }
    let la = ctx.cpu.segs[SegReg::Cs as usize]
        .base
        .wrapping_add(ctx.cpu.rip)
        & ctx.cpu.la_mask;
    let mut hits = 0u64;
    let mut fire = false;
    for (n, bp) in d.bp.iter().enumerate() {
        if bp.kind == EXEC && bp.overlaps(la, 1) {
            hits |= 1 << n;
            fire |= d.exec & (1 << n) != 0;
        }
    }
    fire.then_some(hits)
}

/// After an instruction (`tf`: RFLAGS.TF at its start; `faulted`: it
/// raised an exception, already delivered): the DR6 bits of the trap-class
/// #DB to deliver now, or 0. Conditions of a MOV SS / POP SS are held.
pub fn after_instruction(ctx: &mut Ctx, tf: bool, faulted: bool) -> u64 {
    let d = &mut ctx.cpu.dbg;
    if d.delivered & DELIVERED_DB != 0 {
        // A #DB was delivered (ICEBP, or a #DB fault): it reported all.
        d.clear_hits();
        return 0;
    }
    let mut bits = d.take_hits();
    let tf = if std::mem::take(&mut d.tf_end) {
        ctx.cpu.rflags & rflags::TF != 0
    } else {
        tf
    };
    if tf && !faulted && d.delivered == 0 {
        bits |= dr6::BS;
    }
    let ev = &mut ctx.cpu.s.events;
    if ev.interrupt_shadow & shadow::MOV_SS != 0 {
        ev.pending_dbg |= bits;
        return 0;
    }
    bits | std::mem::take(&mut ev.pending_dbg)
}

/// SYSCALL / SYSRET completed: their single-step trap depends on TF after
/// them. On the one-instruction path [`after_instruction`] sees the flag;
/// after a block (TF was 0 at the start, so only a SYSRET that sets TF
/// matters) the run loop's attention handler calls
/// [`single_step_after_block`].
pub fn tf_at_end(ctx: &mut Ctx) {
    ctx.cpu.dbg.tf_end = true;
    ctx.cpu.attention |= super::cpu::attn::DEBUG;
}

/// The DR6 bits of the single-step trap owed by an instruction that ran in
/// a block and asked for [`tf_at_end`], or 0.
pub fn single_step_after_block(ctx: &mut Ctx) -> u64 {
    if std::mem::take(&mut ctx.cpu.dbg.tf_end) && ctx.cpu.rflags & rflags::TF != 0 {
        dr6::BS
    } else {
        0
    }
}

/// Records `bits` as the #DB to deliver (trap or fault with the current
/// RIP as return address).
pub fn raise_db(ctx: &mut Ctx, bits: u64) {
    ctx.cpu.fault = Fault {
        vector: vec::DB,
        error_code: None,
        cr2: 0,
        dr6: bits,
    };
}

/// MOV to or from a debug register with DR7.GD = 1: #DB fault with DR6.BD
/// (SDM 18.2.4, 18.3.1.2).
pub fn general_detect(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.s.dr.dr7 & dr7::GD != 0 {
        raise_db(ctx, dr6::BD);
        return Err(Stop::Fault);
    }
    Ok(())
}

impl Ctx {
    /// A data access of `size` bytes at linear `la` while data breakpoints
    /// are enabled: records every matching data breakpoint (SDM 18.2.5:
    /// any byte of the access in the breakpoint's range). An enabled match
    /// ends a REP run after the current iteration.
    #[cold]
    pub fn data_breakpoints(&mut self, la: u64, size: usize, write: bool) {
        let d = &mut self.cpu.dbg;
        for (n, bp) in d.bp.iter().enumerate() {
            let kind_ok = bp.kind == READ_WRITE || (write && bp.kind == WRITE);
            if kind_ok && bp.overlaps(la, size as u64) {
                d.hits |= 1 << n;
                if d.data & (1 << n) != 0 {
                    d.hit_enabled = true;
                    self.cpu.attention |= super::cpu::attn::DEBUG;
                }
            }
        }
    }

    /// An IN/OUT/INS/OUTS access to `port..port + size` while I/O
    /// breakpoints are enabled (CR4.DE = 1, R/W = 10).
    #[cold]
    pub fn io_breakpoints(&mut self, port: u16, size: usize) {
        let d = &mut self.cpu.dbg;
        for (n, bp) in d.bp.iter().enumerate() {
            if bp.kind == IO && bp.overlaps(u64::from(port), size as u64) {
                d.hits |= 1 << n;
                if d.io & (1 << n) != 0 {
                    d.hit_enabled = true;
                    self.cpu.attention |= super::cpu::attn::DEBUG;
                }
            }
        }
    }
}
