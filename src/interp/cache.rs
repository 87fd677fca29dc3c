//! The decoded-block cache.
//!
//! A block is a run of decoded instructions starting at one (physical
//! address, RIP, fetch mode) and ending at a control transfer, a page end
//! or a size limit. Blocks are found through a direct-mapped table indexed
//! by a hash of that key (one probe, no hashing per instruction), and are
//! invalidated per physical page when the page is written (self-modifying
//! code, DMA). Keys are physical, so address-space switches (CR3, PCID,
//! VPID, ASID) never require a flush.

use super::exec::{Op, REG_SLOTS};

/// Maximum instructions in one block.
pub const MAX_BLOCK_OPS: usize = 48;
const TABLE_BITS: u32 = 14;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
/// When the op arena grows past this, everything is flushed.
const ARENA_LIMIT: usize = 1 << 20;

/// Identifies how instructions are decoded: code size and mode, plus the CS
/// limit when it is not 4 GiB (fetch limit checks are done at decode time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchMode(pub u64);

#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub pa: u64,
    pub rip: u64,
    pub mode: FetchMode,
    /// First op in the arena and number of ops (the block's sentinel op,
    /// which ends its threaded chain, follows them and is not counted).
    pub first: u32,
    pub len: u16,
    /// Guest instructions in the block: `len` plus those folded into the
    /// op before them (see `Op::before`).
    pub insns: u16,
    /// Physical pages the block's bytes come from (the second may equal the
    /// first).
    pub pages: [u64; 2],
    pub live: bool,
}

pub struct CodeCache {
    pub ops: Vec<Op>,
    pub blocks: Vec<Block>,
    /// Block index + 1, 0 = empty.
    table: Box<[u32]>,
    /// Physical page → blocks with bytes on it (sorted by page).
    by_page: hashbrown::HashMap<u64, Vec<u32>, foldhash::fast::FixedState>,
    /// How far this cache has read the VM's code-event log
    /// ([`crate::machine::memory::CodeEvent`]).
    pub code_cursor: u64,
    /// Bumped whenever a block is dropped or the op arena moves (grows
    /// into a new allocation, or is cleared): RIP-cache entries made before
    /// may name dead blocks or hold stale pointers into the arena.
    pub epoch: u64,
}

impl Default for CodeCache {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn slot(pa: u64, rip: u64, mode: FetchMode) -> usize {
    let h = pa.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ rip.rotate_left(17) ^ mode.0.wrapping_mul(31);
    (h ^ (h >> 29)) as usize & (TABLE_SIZE - 1)
}

impl CodeCache {
    pub fn new() -> Self {
        CodeCache {
            ops: Vec::with_capacity(1 << 14),
            blocks: Vec::new(),
            table: vec![0u32; TABLE_SIZE].into_boxed_slice(),
            by_page: hashbrown::HashMap::with_hasher(foldhash::fast::FixedState::default()),
            code_cursor: 0,
            epoch: 0,
        }
    }

    /// The live block for this key, if cached.
    #[inline(always)]
    pub fn lookup(&self, pa: u64, rip: u64, mode: FetchMode) -> Option<u32> {
        let i = self.table[slot(pa, rip, mode)];
        if i == 0 {
            return None;
        }
        let b = &self.blocks[(i - 1) as usize];
        (b.live && b.pa == pa && b.rip == rip && b.mode == mode).then_some(i - 1)
    }

    /// Should the cache be flushed before building more?
    pub fn full(&self) -> bool {
        self.ops.len() > ARENA_LIMIT
    }

    /// Appends an op to the arena (bumping the epoch if the arena moves).
    /// Register fields are brought into the register file's range here:
    /// handlers index it without bounds checks (`Ctx::gpr`), and every
    /// register number the decoder produces (GPRs with AH–BH as 16–19,
    /// the zero slot, vector, segment, control and debug registers) is
    /// already below [`REG_SLOTS`], so this changes nothing else.
    pub fn push_op(&mut self, mut op: Op) {
        let m = (REG_SLOTS - 1) as u8;
        debug_assert!(
            [op.r0, op.r1, op.r2, op.base, op.index]
                .iter()
                .all(|&r| r <= m)
        );
        op.r0 &= m;
        op.r1 &= m;
        op.r2 &= m;
        op.base &= m;
        op.index &= m;
        let before = self.ops.as_ptr();
        self.ops.push(op);
        if self.ops.as_ptr() != before {
            self.epoch += 1;
        }
    }

    /// Registers a block whose ops were appended at `first..` of the arena.
    pub fn insert(&mut self, block: Block) -> u32 {
        let id = self.blocks.len() as u32;
        let s = slot(block.pa, block.rip, block.mode);
        for &p in &block.pages {
            let v = self.by_page.entry(p).or_default();
            if v.last() != Some(&id) {
                v.push(id);
            }
        }
        self.blocks.push(block);
        self.table[s] = id + 1;
        id
    }

    /// Drops every block with bytes on physical page `page`. Returns how
    /// many were dropped.
    pub fn invalidate_page(&mut self, page: u64) -> usize {
        let Some(ids) = self.by_page.remove(&page) else {
            return 0;
        };
        let mut n = 0;
        self.epoch += 1;
        for id in ids {
            let b = &mut self.blocks[id as usize];
            if b.live {
                b.live = false;
                n += 1;
                let s = slot(b.pa, b.rip, b.mode);
                if self.table[s] == id + 1 {
                    self.table[s] = 0;
                }
            }
        }
        n
    }

    /// Drops everything (arena full, or RESET/INIT).
    pub fn flush(&mut self) {
        self.epoch += 1;
        self.ops.clear();
        self.blocks.clear();
        self.table.fill(0);
        self.by_page.clear();
    }

    /// Is any block built from physical page `page`?
    pub fn has_page(&self, page: u64) -> bool {
        self.by_page.contains_key(&page)
    }
}
