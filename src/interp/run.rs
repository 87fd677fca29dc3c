//! The run loop: find or build the block at RIP, execute its ops, handle
//! what they flag (events, self-modifying code, mode changes, halts).

use super::cache::CodeCache;
use super::cpu::{Cpu, attn};
use super::debug;
use super::decode::{build_block, fetch_mode};
use super::events::{Delivery, EventKind, vec};
use super::exec::thread::{self, Why};
use super::exec::{Ctx, Op};
use super::platform::Platform;
use super::rip_cache::RipEntry;
use crate::apic;
use crate::machine::memory::CodeEvent;
use crate::state::{Activity, SegReg, rflags};

/// Why [`Interp::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget is used up.
    Budget,
    /// The vCPU is halted (HLT, wait-for-SIPI) with nothing to deliver.
    Halted,
    /// Triple fault: the vCPU is in the shutdown state.
    Shutdown,
    /// The platform or an APIC/timer change needs the machine's attention.
    Exit,
}

/// A vCPU with its decoded-block cache.
pub struct Interp {
    pub cpu: Cpu,
    pub cache: CodeCache,
}

impl Interp {
    pub fn new(cpu: Cpu) -> Self {
        Interp {
            cpu,
            cache: CodeCache::new(),
        }
    }

    /// Drops every decoded block (RESET/INIT, or a state import).
    pub fn flush_code(&mut self) {
        self.cache.flush();
    }

    /// Runs at most `budget` instructions.
    pub fn run(&mut self, plat: &mut dyn Platform, budget: u64) -> RunExit {
        let Interp { cpu, cache } = self;
        let end = cpu.icount.saturating_add(budget);
        let ctx = Ctx::enter(cpu, plat);
        // The code cache may have been flushed since the last slice.
        ctx.cpu.see_code_epoch(cache.epoch);
        // Other vCPUs and devices ran since this vCPU's last slice.
        if ctx.plat().mem().code_seq() != cache.code_cursor {
            sync_code(ctx, cache);
        }
        loop {
            if ctx.cpu.attention != 0
                && let Some(exit) = attention(ctx, cache)
            {
                return exit;
            }
            match ctx.cpu.s.activity {
                Activity::Active => {}
                Activity::Shutdown => return RunExit::Shutdown,
                Activity::Halted | Activity::WaitForSipi => {
                    if !check_events(ctx) {
                        return RunExit::Halted;
                    }
                    continue;
                }
            }
            if ctx.cpu.icount >= end {
                return RunExit::Budget;
            }
            execute_blocks(ctx, cache, end);
        }
    }
}

/// Handles attention bits; returns an exit if the loop must return.
fn attention(ctx: &mut Ctx, cache: &mut CodeCache) -> Option<RunExit> {
    let a = ctx.cpu.attention;
    ctx.cpu.attention = 0;
    if a & attn::SMC != 0 || ctx.plat().mem().code_seq() != cache.code_cursor {
        sync_code(ctx, cache);
    }
    if a & attn::MODE != 0 {
        ctx.cpu.refresh_mode();
    }
    if a & attn::DEBUG != 0 {
        // A trap-class #DB comes before interrupts (SDM Table 7-2).
        let bits = debug::single_step_after_block(ctx);
        if bits != 0 {
            debug::raise_db(ctx, bits);
            deliver_fault(ctx);
        }
    }
    if a & attn::EVENT != 0 {
        check_events(ctx);
    }
    if a & attn::HALT != 0 {
        let activity = ctx.cpu.s.activity;
        if activity == Activity::Shutdown {
            return Some(RunExit::Shutdown);
        }
        if activity == Activity::Halted && !check_events(ctx) {
            return Some(RunExit::Halted);
        }
    }
    if a & attn::EXIT != 0 || ctx.plat().wants_exit() {
        return Some(RunExit::Exit);
    }
    None
}

/// Catches up with the VM's code-event log: drops blocks decoded from
/// pages written since (by any vCPU or device), and TLB write grants for
/// pages that became code pages (another vCPU may have decoded them).
fn sync_code(ctx: &mut Ctx, cache: &mut CodeCache) {
    let (cpu, plat) = ctx.parts();
    let cursor = cache.code_cursor;
    cache.code_cursor = plat.mem().code_events_since(cursor, |ev| match ev {
        CodeEvent::Written(page) => {
            let n = cache.invalidate_page(page);
            cpu.stats.code_invalidations += n as u64;
        }
        CodeEvent::Marked(page) => cpu.tlb.protect_code_page(page),
        CodeEvent::Lost => {
            cache.flush();
            cpu.tlb.flush_all();
        }
    });
    cpu.see_code_epoch(cache.epoch);
}

/// Does the 8259's INTR reach the CPU (LINT0 in ExtINT mode, or the local
/// APIC disabled so LINT0 is the INTR pin)?
fn pic_routed(s: &crate::state::VcpuState) -> bool {
    s.is_bsp && apic::extint_accepted(s.msrs.apic_base, &s.apic)
}

/// Delivers a pending NMI or interrupt if the CPU can take it now. Returns
/// whether something was delivered (or the CPU woke up).
fn check_events(ctx: &mut Ctx) -> bool {
    let ev = ctx.cpu.s.events;
    if ev.interrupt_shadow != 0 {
        return false;
    }
    if ctx.cpu.s.activity == Activity::WaitForSipi {
        if let Some(v) = ctx.cpu.s.events.sipi_vector.take() {
            // Startup: CS = vector << 8, IP = 0 (SDM 9.4.4.1).
            let mut cs = *ctx.cpu.s.seg(SegReg::Cs);
            cs.selector = u16::from(v) << 8;
            cs.base = u64::from(v) << 12;
            *ctx.cpu.s.seg_mut(SegReg::Cs) = cs;
            ctx.cpu.rip = 0;
            ctx.cpu.s.activity = Activity::Active;
            ctx.cpu.refresh_mode();
            return true;
        }
        return false;
    }
    if ev.nmi_pending && !ev.nmi_blocked {
        ctx.cpu.s.events.nmi_pending = false;
        wake(ctx);
        let rip = ctx.cpu.rip;
        deliver_event(ctx, vec::NMI, EventKind::Nmi, rip);
        return true;
    }
    if ctx.cpu.rflags & rflags::IF == 0 {
        return false;
    }
    let apic_on = ctx.cpu.s.msrs.apic_base & apic::base::EN != 0;
    if apic_on && apic::deliver::highest_deliverable(&ctx.cpu.s.apic).is_some() {
        let v = apic::deliver::acknowledge(&mut ctx.cpu.s.apic);
        wake(ctx);
        let rip = ctx.cpu.rip;
        deliver_event(ctx, v, EventKind::External, rip);
        ctx.cpu.stats.interrupts += 1;
        return true;
    }
    if pic_routed(&ctx.cpu.s) && ctx.plat().pic_intr() {
        let now = ctx.cpu.now();
        if let Some(v) = ctx.plat().pic_ack(now) {
            wake(ctx);
            let rip = ctx.cpu.rip;
            deliver_event(ctx, v, EventKind::External, rip);
            ctx.cpu.stats.interrupts += 1;
            return true;
        }
    }
    false
}

fn wake(ctx: &mut Ctx) {
    if ctx.cpu.s.activity == Activity::Halted {
        ctx.cpu.s.activity = Activity::Active;
    }
}

/// Delivers an external event; a fault during delivery is handled like
/// any fault (double fault / shutdown rules).
fn deliver_event(ctx: &mut Ctx, v: u8, kind: EventKind, rip: u64) {
    if ctx.deliver(v, None, kind, rip).is_err() {
        let _ = ctx.deliver_fault();
    }
}

/// Delivers the pending exception. The delivery costs one unit of the
/// instruction clock: time passes while a processor delivers exceptions,
/// and without this a guest whose handler faults at once (or whose fault
/// re-faults in delivery) would spin without ever reaching the budget, a
/// timer deadline or `--timeout`.
fn deliver_fault(ctx: &mut Ctx) {
    ctx.cpu.icount += 1;
    if ctx.deliver_fault() == Delivery::Shutdown {
        ctx.cpu.attention |= attn::HALT;
    }
}

/// The block to run at RIP: from the RIP cache, or by translating the
/// fetch address and looking up (or building) the block by physical key.
#[inline(always)]
fn find_block(ctx: &mut Ctx, cache: &mut CodeCache) -> Option<(*const Op, u64)> {
    let cpu = &mut ctx.cpu;
    if let Some(hit) = cpu.rip_cache.probe(cpu.rip, cpu.tlb.generation) {
        return Some(hit);
    }
    find_block_slow(ctx, cache)
}

#[inline(never)]
fn find_block_slow(ctx: &mut Ctx, cache: &mut CodeCache) -> Option<(*const Op, u64)> {
    let rip = ctx.cpu.rip;
    let cs_base = ctx.cpu.segs[SegReg::Cs as usize].base;
    let la = cs_base.wrapping_add(rip);
    let (pa, host) = match ctx.fetch_translate(la) {
        Ok(x) => x,
        Err(_) => {
            deliver_fault(ctx);
            return None;
        }
    };
    let fm = fetch_mode(ctx);
    let id = match cache.lookup(pa, rip, fm) {
        Some(id) => id,
        None => {
            let built = build_block(ctx, cache, pa, host, rip, fm);
            // Building may have flushed the cache or moved the arena.
            ctx.cpu.see_code_epoch(cache.epoch);
            match built {
                Ok(id) => id,
                Err(_) => {
                    deliver_fault(ctx);
                    return None;
                }
            }
        }
    };
    // Building may have changed the TLB generation too: stamp the entry
    // with the state after.
    let b = cache.blocks.get(id as usize)?;
    let len = u64::from(b.insns);
    let ops = cache.ops.get(b.first as usize..)?.as_ptr();
    let cpu = &mut ctx.cpu;
    cpu.rip_cache.set(RipEntry {
        rip,
        stamp: cpu.tlb.generation,
        ops,
        len,
    });
    Some((ops, len))
}

/// Runs blocks one after another, chaining from each block's end (or taken
/// branch) straight to the next, until an op needs the loop's attention,
/// the budget ending at instruction count `end` is used, or an
/// instruction-boundary condition (TF, RF, interrupt shadow, DR7) needs
/// the one-at-a-time path.
///
/// Those conditions are checked once, here: whatever brings one into
/// effect also sets an attention bit (`attn::STEP`, `attn::EVENT`), which
/// stops the chain and returns to the outer loop.
fn execute_blocks(ctx: &mut Ctx, cache: &mut CodeCache, end: u64) {
    // Bounds REP string iterations by the instruction budget.
    ctx.cpu.rep_end = end;
    if ctx.cpu.s.events.interrupt_shadow != 0
        || ctx.cpu.rflags & (rflags::TF | rflags::RF) != 0
        || ctx.cpu.dbg.active
    {
        execute_one(ctx, cache);
        return;
    }
    loop {
        let Some((ops, len)) = find_block(ctx, cache) else {
            return;
        };
        // SAFETY: a block's ops and its sentinel are in the arena at `ops`,
        // which has not moved since the RIP-cache entry was made (its stamp
        // includes the code-cache epoch), and the arena is not touched
        // while the chain runs.
        let first = unsafe { &*ops };
        let remaining = end.saturating_sub(ctx.cpu.icount);
        if remaining < len {
            // The budget ends inside this block (`len` instructions): one
            // instruction at a time.
            if remaining != 0 && run_one_op(ctx, first) == Why::Fault {
                deliver_fault(ctx);
            }
            return;
        }
        // RIP stays at the block's start while its ops run (each op knows
        // its own RIP); it is written back when the chain stops. The chain
        // may go on into further blocks (see `thread::link`).
        ctx.cpu.link_end = end.min(ctx.cpu.icount + thread::LINK_INSNS);
        // SAFETY: as above; the block ends with its sentinel.
        match unsafe { Op::run_chain_at(ctx, ops) } {
            Why::Continue => {}
            Why::Stop => return,
            Why::Fault => {
                deliver_fault(ctx);
                return;
            }
        }
        if ctx.cpu.icount >= end {
            return;
        }
    }
}

/// Runs the single op `op` (RIP is set from how it ended); a fault is
/// left pending for the caller to deliver.
fn run_one_op(ctx: &mut Ctx, op: &Op) -> Why {
    thread::run_single(ctx, op)
}

/// Executes one instruction with what happens around it at instruction
/// boundaries: the STI / MOV SS interrupt shadow, RFLAGS.RF and TF, and
/// the DR7 breakpoints (see [`super::debug`]). Used whenever any of them
/// is in effect.
#[cold]
fn execute_one(ctx: &mut Ctx, cache: &mut CodeCache) {
    let shadow = ctx.cpu.s.events.interrupt_shadow;
    let tf = ctx.cpu.rflags & rflags::TF != 0;
    if ctx.cpu.dbg.active
        && let Some(bits) = debug::before_instruction(ctx, shadow)
    {
        debug::raise_db(ctx, bits);
        deliver_fault(ctx);
        return;
    }
    ctx.cpu.dbg.delivered = 0;
    // RF is cleared once the instruction-breakpoint check is done.
    ctx.cpu.rflags &= !rflags::RF;
    if tf {
        // Single step traps after every iteration of a REP string.
        ctx.cpu.rep_end = ctx.cpu.icount + 1;
    }
    // SAFETY: as in `execute_blocks` (every block has at least one op).
    let found = find_block(ctx, cache).map(|(ops, _)| unsafe { &*ops });
    let faulted = match found {
        // The fetch faulted (delivered).
        None => true,
        Some(op) => match run_one_op(ctx, op) {
            Why::Fault => {
                // The faulting instruction's own breakpoint matches are
                // void; those of the delivery stand.
                ctx.cpu.dbg.clear_hits();
                deliver_fault(ctx);
                true
            }
            _ => false,
        },
    };
    if shadow != 0 && ctx.cpu.s.events.interrupt_shadow == shadow {
        ctx.cpu.s.events.interrupt_shadow = 0;
        ctx.cpu.attention |= attn::EVENT;
    }
    let bits = debug::after_instruction(ctx, tf, faulted);
    if bits != 0 {
        // Trap-class #DB with RIP of the next instruction (SDM 18.3.1.4);
        // a pending debug exception ends HLT.
        if ctx.cpu.s.activity == Activity::Halted {
            ctx.cpu.s.activity = Activity::Active;
        }
        debug::raise_db(ctx, bits);
        deliver_fault(ctx);
        // What the #DB delivery itself touched is not reported again.
        ctx.cpu.dbg.clear_hits();
    }
}
