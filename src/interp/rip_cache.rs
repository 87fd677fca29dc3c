//! The RIP → block cache: the first lookup at every block transition.
//!
//! A direct-mapped table keyed by RIP. A hit skips the instruction-fetch
//! translation and the physical-key lookup of the decoded-block cache. An
//! entry is valid while the TLB generation (`Tlb::generation`) is the one
//! it was made under: that counter moves whenever the fetch translation
//! may differ (flushes, INVLPG), the fetch mode changes
//! (`Cpu::refresh_mode`) or the code cache drops blocks or moves its op
//! arena (`Cpu::see_code_epoch`), so one compare covers all three. The
//! cache lives in the [`Cpu`](super::cpu::Cpu) so that threaded handlers
//! can follow a taken branch or a block end straight into the next block
//! ([`super::exec::thread`]) without returning to the run loop.

use super::exec::Op;

/// Number of entries (a power of two).
pub const RIP_CACHE: usize = 4096;

/// One entry.
#[derive(Clone, Copy)]
pub struct RipEntry {
    pub rip: u64,
    /// The TLB generation when the entry was made.
    pub stamp: u64,
    /// The block's first op in the arena (its other ops and its sentinel
    /// follow) and its number of guest instructions (what entering it
    /// adds to the count; see `Block::insns`), so that a hit needs no
    /// block lookup and no bounds check. Only used while the stamp
    /// matches.
    pub ops: *const Op,
    pub len: u64,
}

const EMPTY: RipEntry = RipEntry {
    rip: 0,
    stamp: u64::MAX,
    ops: std::ptr::null(),
    len: 0,
};

pub struct RipCache {
    entries: Box<[RipEntry; RIP_CACHE]>,
}

impl Default for RipCache {
    fn default() -> Self {
        RipCache {
            entries: Box::new([EMPTY; RIP_CACHE]),
        }
    }
}

impl RipCache {
    #[inline(always)]
    pub fn slot(rip: u64) -> usize {
        ((rip ^ (rip >> 12)) as usize) & (RIP_CACHE - 1)
    }

    /// The block at `rip`, if its entry is valid under TLB generation
    /// `stamp`: (first op, number of instructions).
    #[inline(always)]
    pub fn probe(&self, rip: u64, stamp: u64) -> Option<(*const Op, u64)> {
        let e = &self.entries[Self::slot(rip)];
        (e.rip == rip && e.stamp == stamp).then_some((e.ops, e.len))
    }

    pub fn set(&mut self, e: RipEntry) {
        self.entries[Self::slot(e.rip)] = e;
    }
}
