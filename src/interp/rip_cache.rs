//! The RIP → block cache: the first lookup at every block transition.
//!
//! A direct-mapped table keyed by RIP. A hit skips the instruction-fetch
//! translation and the physical-key lookup of the decoded-block cache; it
//! is valid while the fetch mode is the same and neither the TLB (the
//! fetch translation may differ) nor the code cache (blocks dropped, the
//! op arena moved) changed since the entry was made. The cache lives in
//! the [`Cpu`](super::cpu::Cpu) so that threaded handlers can follow a
//! taken branch or a block end straight into the next block
//! ([`super::exec::thread`]) without returning to the run loop.

use super::exec::Op;

/// Number of entries (a power of two).
pub const RIP_CACHE: usize = 4096;

/// One entry.
#[derive(Clone, Copy)]
pub struct RipEntry {
    pub rip: u64,
    pub mode: u64,
    /// [`RipCache::stamp`] when the entry was made.
    pub stamp: u64,
    /// The block's first op in the arena and its number of ops (its
    /// sentinel follows them), so that a hit needs no block lookup and no
    /// bounds check. Only used while the stamp matches: the code-cache
    /// epoch changes whenever the arena is cleared or moved.
    pub ops: *const Op,
    pub len: u32,
}

const EMPTY: RipEntry = RipEntry {
    rip: 0,
    mode: 0,
    stamp: u64::MAX,
    ops: std::ptr::null(),
    len: 0,
};

pub struct RipCache {
    entries: Box<[RipEntry; RIP_CACHE]>,
    /// Mirror of the code cache's epoch (`CodeCache::epoch`), refreshed by
    /// the run loop whenever the code cache may have changed.
    pub code_epoch: u64,
}

impl Default for RipCache {
    fn default() -> Self {
        RipCache {
            entries: Box::new([EMPTY; RIP_CACHE]),
            code_epoch: 0,
        }
    }
}

impl RipCache {
    /// The validity stamp for TLB generation `tlb_generation`: both
    /// counters only grow, so their sum changes when either does.
    #[inline(always)]
    pub fn stamp(&self, tlb_generation: u64) -> u64 {
        tlb_generation.wrapping_add(self.code_epoch)
    }

    #[inline(always)]
    pub fn slot(rip: u64) -> usize {
        ((rip ^ (rip >> 12)) as usize) & (RIP_CACHE - 1)
    }

    /// The block at `rip` for fetch mode `mode`, if the entry is valid
    /// under `stamp`: (first op, number of ops).
    #[inline(always)]
    pub fn probe(&self, rip: u64, mode: u64, stamp: u64) -> Option<(*const Op, u32)> {
        let e = &self.entries[Self::slot(rip)];
        (e.rip == rip && e.mode == mode && e.stamp == stamp).then_some((e.ops, e.len))
    }

    pub fn set(&mut self, e: RipEntry) {
        self.entries[Self::slot(e.rip)] = e;
    }
}
