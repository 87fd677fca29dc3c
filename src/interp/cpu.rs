//! The vCPU as the interpreter holds it.
//!
//! While the interpreter runs, the general registers, RIP and the
//! arithmetic flags live in fast fields here (`regs`, `rip`, `lf`); every
//! other piece of state stays in the shared [`VcpuState`] (`s`). Derived
//! caches — execution mode, CPL, per-segment fast-path data, the TLB — are
//! rebuilt from `s` whenever what they derive from changes. [`Cpu::import`]
//! and [`Cpu::export`] move state in and out in the shared format.

use std::rc::Rc;

use super::debug::DebugState;
use super::flags::LazyFlags;
use super::mem::Tlb;
use crate::machine::clock;
use crate::state::segment::ar;
use crate::state::{SegReg, VcpuState, cr0, cr4, efer, rflags};
use crate::vm::VmCpuModel;

/// Register number of the always-zero slot used by address computation
/// (an absent base or index register reads it).
pub const ZERO_REG: u8 = 16;

/// Execution modes (SDM Vol. 3A 2.2 "Modes of Operation").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Real,
    V86,
    Protected,
    /// IA-32e mode, compatibility submode (CS.L = 0).
    Compat,
    /// IA-32e mode, 64-bit submode (CS.L = 1).
    Long,
}

/// Per-segment data for the fast path of memory accesses.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
pub struct SegCache {
    /// Base added to effective addresses (0 for CS/DS/ES/SS in 64-bit mode).
    pub base: u64,
    /// Linear-address mask: all ones in 64-bit mode, else 32 bits.
    pub mask: u64,
    /// Accesses of any size at any offset need no limit or rights check
    /// for reading (64-bit mode, or a 4 GiB expand-up readable segment).
    pub flat_read: bool,
    /// Same for writing (and the segment is writable data).
    pub flat_write: bool,
    /// SS in 64-bit mode: a non-canonical address is #SS(0), not the
    /// #GP(0) the translation would raise (SDM Vol. 3A 7.15, interrupt 12).
    pub stack_canonical: bool,
}

/// An exception raised by an instruction, waiting to be delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    pub error_code: Option<u32>,
    /// CR2 for #PF.
    pub cr2: u64,
    /// DR6 bits for #DB.
    pub dr6: u64,
}

/// Attention bits: reasons to leave the block loop after an instruction.
pub mod attn {
    /// Events may be deliverable (interrupt line, NMI, shadow ended...).
    pub const EVENT: u32 = 1 << 0;
    /// Decoded code may have been overwritten.
    pub const SMC: u32 = 1 << 1;
    /// Mode, paging or segment state changed: refresh derived caches.
    pub const MODE: u32 = 1 << 2;
    /// The platform asked the run loop to return.
    pub const EXIT: u32 = 1 << 3;
    /// HLT executed.
    pub const HALT: u32 = 1 << 4;
    /// Debug work: an enabled data or I/O breakpoint matched (a REP run
    /// stops after the current iteration), or a SYSCALL/SYSRET asks for
    /// its single-step check (`debug::tf_at_end`).
    pub const DEBUG: u32 = 1 << 5;
    /// An instruction-boundary condition may have come into effect (TF,
    /// RF, DR7 breakpoints; the interrupt shadow raises EVENT): the block
    /// loop, which checks them only when it starts, must return so they
    /// are checked. Needs no other handling.
    pub const STEP: u32 = 1 << 6;
}

/// Interpreter statistics for `--stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub blocks_built: u64,
    /// Instructions decoded into blocks: against the instructions retired,
    /// how often execution needed the decoder (block entries themselves
    /// are not counted: that would cost a memory increment per block).
    pub insns_decoded: u64,
    /// Adjacent ops given one pair handler at block build (`exec::pair`).
    pub pairs_built: u64,
    pub code_invalidations: u64,
    pub tlb_fills: u64,
    pub tlb_flushes: u64,
    pub exceptions: u64,
    pub interrupts: u64,
    pub io_exits: u64,
    pub mmio_exits: u64,
    /// Accesses to the xAPIC page (emulated in the CPU, not a device).
    pub apic_mmio: u64,
}

pub struct Cpu {
    /// The platform while the vCPU runs (see `exec::Ctx::enter`).
    pub plat: crate::interp::exec::PlatformSlot,
    /// RAX..R15, then the zero slot ([`ZERO_REG`]); padded to 32 so that
    /// indexing with `& 31` needs no bounds check.
    pub regs: [u64; 32],
    pub rip: u64,
    pub lf: LazyFlags,
    /// RFLAGS without the six status flags (those are in `lf`).
    pub rflags: u64,
    /// Indexed by `SegReg`; 8 entries so that `seg & 7` needs no bounds check.
    pub segs: [SegCache; 8],
    /// 0xFFFF_FFFF outside 64-bit mode: linear addresses wrap at 4 GiB.
    pub la_mask: u64,
    /// Stack-pointer width: RSP in 64-bit mode, else ESP or SP by SS.B.
    pub sp_mask: u64,
    /// Shift for canonical checks: 16 (48-bit addresses) or 7 (LA57).
    pub canon_shift: u32,
    pub mode: Mode,
    /// 16, 32 or 64: default operand/address size of the code segment.
    pub code_bits: u8,
    pub cpl: u8,
    /// Decoded-block key for the current mode (see `decode::compute_fetch_mode`).
    pub fetch_mode: u64,
    pub tlb: Tlb,
    pub attention: u32,
    pub fault: Fault,
    /// Set while delivering a fault-class exception: the pushed RFLAGS
    /// image gets RF = 1.
    pub push_rf: bool,
    /// Breakpoint configuration and the debug conditions of the current
    /// instruction (see [`super::debug`]).
    pub dbg: DebugState,
    /// PAE page-directory-pointer-table entries (loaded with CR3 in PAE mode).
    pub pdptes: [u64; 4],
    /// Retired instructions on this vCPU.
    pub icount: u64,
    /// The instruction count at which a REP string instruction yields (the
    /// end of the run budget, or one iteration under single step). Kept
    /// absolute: the ops before the string in its block have retired by
    /// the time it runs, and the budget left is `rep_end - icount`.
    pub rep_end: u64,
    /// The RIP → block cache (see [`super::rip_cache`]).
    pub rip_cache: super::rip_cache::RipCache,
    /// The threaded chain enters a further block directly only if the
    /// count after it stays within this (the run budget, or fewer to bound
    /// the chain; 0 = never, as in one-at-a-time execution).
    pub link_end: u64,
    /// The code cache's epoch as last seen by this vCPU (see
    /// [`Cpu::see_code_epoch`]).
    pub code_epoch: u64,
    /// Virtual time at `icount == slice_icount` (set by the scheduler).
    pub slice_ns: u64,
    pub slice_icount: u64,
    /// Virtual time spent in this slice beyond one tick per instruction
    /// (PAUSE).
    pub slice_extra_ns: u64,
    /// The scheduler's next timer deadline: nothing may move time past it.
    pub slice_deadline: u64,
    pub stats: Stats,
    /// The local APIC timer's configuration (or the TSC) changed: the
    /// machine must re-derive the timer deadline.
    pub timer_dirty: bool,
    /// State of the deterministic RDRAND/RDSEED generator.
    pub rng_state: u64,
    /// Everything not held in the fast fields above.
    pub s: VcpuState,
    pub vm: Rc<VmCpuModel>,
    /// vCPU index (= initial APIC ID).
    pub id: u32,
}

impl Cpu {
    /// A vCPU of `vm` with state `s` (e.g. from `VmCpuModel::reset_vcpu`).
    pub fn new(vm: Rc<VmCpuModel>, id: u32, s: VcpuState) -> Self {
        let mut cpu = Cpu {
            regs: [0; 32],
            rip: 0,
            lf: LazyFlags::default(),
            rflags: 2,
            segs: [SegCache::default(); 8],
            la_mask: 0xFFFF_FFFF,
            sp_mask: 0xFFFF,
            canon_shift: 16,
            mode: Mode::Real,
            code_bits: 16,
            cpl: 0,
            fetch_mode: 0,
            tlb: Tlb::new(),
            attention: 0,
            fault: Fault::default(),
            push_rf: false,
            dbg: DebugState::default(),
            pdptes: [0; 4],
            plat: Default::default(),
            icount: 0,
            rep_end: 0,
            rip_cache: Default::default(),
            link_end: 0,
            code_epoch: 0,
            slice_ns: 0,
            slice_icount: 0,
            slice_extra_ns: 0,
            slice_deadline: u64::MAX,
            stats: Stats::default(),
            timer_dirty: true,
            rng_state: 0x9E37_79B9_7F4A_7C15 ^ u64::from(id).wrapping_mul(0x1234_5678_9ABC_DEF1),
            s,
            vm,
            id,
        };
        let s = cpu.s.clone();
        cpu.import(s);
        cpu
    }

    /// Loads the shared state into the interpreter.
    pub fn import(&mut self, s: VcpuState) {
        self.regs[..16].copy_from_slice(&s.gpr);
        self.regs[ZERO_REG as usize] = 0;
        self.rip = s.rip;
        self.lf.load_status(s.rflags);
        self.rflags = (s.rflags & !rflags::STATUS) | rflags::FIXED1;
        self.s = s;
        self.refresh_mode();
        self.tlb.flush_all();
        // PDPTEs are processor state loaded with CR3; re-load them from the
        // tables (a restored state's tables are as they were).
        self.pdptes = [0; 4];
        self.attention |= attn::MODE | attn::EVENT;
        self.timer_dirty = true;
    }

    /// The shared state with the fast fields written back.
    pub fn export(&mut self) -> &VcpuState {
        self.s.gpr.copy_from_slice(&self.regs[..16]);
        self.s.rip = self.rip;
        self.s.rflags = self.get_rflags();
        &self.s
    }

    #[inline]
    pub fn get_rflags(&self) -> u64 {
        self.rflags | self.lf.status()
    }

    /// Writes all of RFLAGS (status flags go to the lazy form).
    pub fn set_rflags(&mut self, v: u64) {
        let old = self.rflags;
        self.lf.load_status(v);
        self.rflags = (v & !rflags::STATUS) | rflags::FIXED1;
        if (old ^ self.rflags) & (rflags::VM | rflags::AC) != 0 {
            self.refresh_mode();
        }
        if (old ^ self.rflags) & (rflags::IF | rflags::TF) != 0 {
            self.attention |= attn::EVENT;
        }
        if self.rflags & rflags::RF != 0 {
            self.attention |= attn::STEP;
        }
    }

    /// Virtual time now, in nanoseconds.
    #[inline]
    pub fn now(&self) -> u64 {
        self.slice_ns + (self.icount - self.slice_icount) * clock::NS_PER_INSN + self.slice_extra_ns
    }

    /// Starts a scheduling slice at virtual time `now`.
    pub fn begin_slice(&mut self, now: u64, deadline: Option<u64>) {
        self.slice_ns = now;
        self.slice_icount = self.icount;
        self.slice_extra_ns = 0;
        self.slice_deadline = deadline.unwrap_or(u64::MAX);
    }

    /// PAUSE: a spin-wait hint. It takes [`clock::PAUSE_NS`] of virtual
    /// time (about what it costs on recent hardware), so that spin loops
    /// bounded by the TSC end after a realistic number of iterations; it
    /// never moves time past the next timer deadline. With several vCPUs
    /// it also ends the slice: the spinner is waiting for another vCPU,
    /// which on one host thread can only make progress if it runs.
    pub fn pause(&mut self) {
        self.charge_ns(clock::PAUSE_NS);
        if self.vm.cpus() > 1 {
            self.attention |= attn::EXIT;
        }
    }

    /// Notes the code cache's epoch, which changes whenever blocks are
    /// dropped or the op arena moves: RIP-cache entries made before are
    /// void. (The RIP cache checks one stamp, the TLB generation, so a new
    /// epoch bumps it.)
    #[inline]
    pub fn see_code_epoch(&mut self, epoch: u64) {
        if epoch != self.code_epoch {
            self.code_epoch = epoch;
            self.tlb.generation += 1;
        }
    }

    /// Adds `ns` of virtual time for an operation slower than one
    /// instruction (PAUSE, port I/O, device MMIO), without passing the next
    /// timer deadline; reaching it ends the slice so the timer fires.
    #[inline]
    pub fn charge_ns(&mut self, ns: u64) {
        let room = self.slice_deadline.saturating_sub(self.now());
        self.slice_extra_ns += room.min(ns);
        if room <= ns {
            self.attention |= attn::EXIT;
        }
    }

    /// The VM's TSC clock now (before this vCPU's TSC offset).
    #[inline]
    pub fn clock_tsc(&self) -> u64 {
        clock::tsc_at(self.now())
    }

    #[inline]
    pub fn model(&self) -> &crate::model::CpuModel {
        self.vm.model()
    }

    /// Recomputes mode, CPL, code size, linear-address mask and the segment
    /// fast-path caches from the shared state.
    pub fn refresh_mode(&mut self) {
        let s = &self.s;
        let cs = s.seg(SegReg::Cs);
        self.mode = if s.cr.cr0 & cr0::PE == 0 {
            Mode::Real
        } else if s.efer & efer::LMA != 0 {
            if cs.is_long() {
                Mode::Long
            } else {
                Mode::Compat
            }
        } else if self.rflags & rflags::VM != 0 {
            Mode::V86
        } else {
            Mode::Protected
        };
        // CPL: 0 in real mode, 3 in virtual-8086 mode, otherwise SS.DPL
        // (equal to CS.DPL except for conforming code; VMX defines CPL as
        // SS.DPL too, SDM Vol. 3C 25.4.1).
        self.cpl = match self.mode {
            Mode::Real => 0,
            Mode::V86 => 3,
            _ => s.seg(SegReg::Ss).dpl(),
        };
        self.code_bits = match self.mode {
            Mode::Long => 64,
            Mode::Real | Mode::V86 => 16,
            _ => {
                if cs.is_big() {
                    32
                } else {
                    16
                }
            }
        };
        self.la_mask = if self.mode == Mode::Long {
            !0
        } else {
            0xFFFF_FFFF
        };
        self.canon_shift = if s.cr.cr4 & cr4::LA57 != 0 { 7 } else { 16 };
        self.sp_mask = if self.mode == Mode::Long {
            !0
        } else if self.s.seg(SegReg::Ss).is_big() {
            0xFFFF_FFFF
        } else {
            0xFFFF
        };
        for r in SegReg::ALL {
            self.segs[r as usize] = self.seg_cache_for(r);
        }
        self.tlb.set_cpl(self.cpl);
        self.tlb.set_wp(self.s.cr.cr0 & crate::state::cr0::WP != 0);
        let fetch_mode = super::decode::compute_fetch_mode(self);
        if fetch_mode != self.fetch_mode {
            // RIP-cache entries are for one fetch mode.
            self.fetch_mode = fetch_mode;
            self.tlb.generation += 1;
        }
        let data_armed = self.dbg.data != 0;
        self.dbg.refresh(&self.s);
        if self.dbg.active {
            self.attention |= attn::STEP;
        }
        if self.dbg.data != 0 && !data_armed {
            // From now on the TLB grants no data access (see `fill_tlb`):
            // drop what it granted so far.
            self.tlb.flush_all();
        }
    }

    /// The fast-path cache entry for segment register `r` in the current mode.
    pub fn seg_cache_for(&self, r: SegReg) -> SegCache {
        let seg = self.s.seg(r);
        if self.mode == Mode::Long {
            let base = if matches!(r, SegReg::Fs | SegReg::Gs) {
                seg.base
            } else {
                0
            };
            return SegCache {
                base,
                mask: u64::MAX,
                flat_read: true,
                flat_write: true,
                stack_canonical: r == SegReg::Ss,
            };
        }
        let base = seg.base & 0xFFFF_FFFF;
        if matches!(self.mode, Mode::Real | Mode::V86) {
            // Real mode: attributes are whatever was cached; the limit is
            // still checked (unreal mode keeps big limits).
            let flat = seg.limit == 0xFFFF_FFFF;
            return SegCache {
                base,
                mask: 0xFFFF_FFFF,
                flat_read: flat,
                flat_write: flat,
                stack_canonical: false,
            };
        }
        let usable = seg.present() && !seg.unusable() && seg.attr & ar::S != 0;
        let code = seg.attr & ar::CODE != 0;
        let readable = !code || seg.attr & ar::RW != 0;
        let writable = !code && seg.attr & ar::RW != 0;
        let expand_down = !code && seg.attr & ar::DC != 0;
        let big = seg.limit == 0xFFFF_FFFF && !expand_down;
        SegCache {
            base,
            mask: 0xFFFF_FFFF,
            flat_read: usable && readable && big,
            flat_write: usable && writable && big,
            stack_canonical: false,
        }
    }

    /// Paging enabled (CR0.PG).
    #[inline]
    pub fn paging(&self) -> bool {
        self.s.cr.cr0 & cr0::PG != 0
    }

    /// CR4 bit test.
    #[inline]
    pub fn cr4(&self, bit: u64) -> bool {
        self.s.cr.cr4 & bit != 0
    }

    /// Raises an exception: records it and returns the stop code handlers
    /// propagate with `?`.
    #[cold]
    pub fn raise(&mut self, vector: u8, error_code: Option<u32>) -> super::exec::Stop {
        self.fault = Fault {
            vector,
            error_code,
            cr2: 0,
            dr6: 0,
        };
        super::exec::Stop::Fault
    }

    /// #GP(error_code).
    #[cold]
    pub fn gp(&mut self, error_code: u32) -> super::exec::Stop {
        self.raise(super::events::vec::GP, Some(error_code))
    }

    /// #UD.
    #[cold]
    pub fn ud(&mut self) -> super::exec::Stop {
        self.raise(super::events::vec::UD, None)
    }

    /// Is `la` canonical for the current paging mode (48 or 57 bits)?
    #[inline(always)]
    pub fn canonical(&self, la: u64) -> bool {
        let sh = self.canon_shift;
        ((la << sh) as i64 >> sh) as u64 == la
    }

    /// Is CR4.OSFXSR set (SSE instructions allowed)?
    #[inline]
    pub fn osfxsr(&self) -> bool {
        self.cr4(cr4::OSFXSR)
    }
}
