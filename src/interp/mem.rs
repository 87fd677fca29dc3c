//! Memory accesses: segmentation, the TLB with host pointers, and the slow
//! path (page walks, page-crossing accesses, MMIO, the local APIC page,
//! writes to pages holding decoded code).
//!
//! Fast path of a data access: one segment-cache test, one TLB tag compare
//! (the tag holds the linear page and the user/supervisor key), one
//! unaligned host load or store. TLB entries are only created for RAM (or
//! ROM, read/execute) pages whose access is fully permitted for the key, so
//! everything unusual lands in the slow path by construction. While data
//! breakpoints are enabled, entries grant execute access only, so the slow
//! path sees (and checks) every data access.

use std::ptr::NonNull;

use super::cpu::{Mode, attn};
use super::events::vec;
use super::exec::Op;
use super::exec::{Ctx, Exec, Stop, Width};
use super::paging::{self, Access, Requester};
use crate::apic::{self, regs::ApicEnv};
use crate::model::Feature;
use crate::state::segment::ar;
use crate::state::{SegReg, cr4};

pub const TLB_SIZE: usize = 1024;
const TLB_MASK: usize = TLB_SIZE - 1;
const INVALID: u64 = u64::MAX;
const PAGE: u64 = 4096;

/// Address forms of a memory operand for the access fast path (see
/// [`Ctx::host_fast`]): segmented (any mode: base, limit and rights from
/// the segment cache) ...
pub const AF_SEG: u8 = 0;
/// ... flat 64-bit `base + index << scale + disp` ...
pub const AF_FLAT: u8 = 1;
/// ... flat 64-bit `base + disp` (no index register) ...
pub const AF_FLAT_BD: u8 = 2;
/// ... and flat 64-bit `base + index * 2^(AF - AF_FLAT_S1) + disp` with
/// the scale fixed at decode (`AF_FLAT_S1` to `AF_FLAT_S1 + 3`), for the
/// hottest handlers (MOV, MOVZX/MOVSX); the others use `AF_FLAT`.
pub const AF_FLAT_S1: u8 = 3;

/// What the access fast path reads: 32 bytes, so an entry is found with a
/// shift and never straddles a cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
pub struct TlbEntry {
    /// `linear page | key` when reads are permitted, else INVALID.
    pub read: u64,
    pub write: u64,
    pub exec: u64,
    /// host address = linear address + addend.
    pub addend: usize,
}

/// The rest of an entry, kept apart from the fast-path fields.
#[derive(Clone, Copy, Debug)]
pub struct TlbInfo {
    /// Guest-physical page.
    pub pa_page: u64,
    pub global: bool,
}

const EMPTY: TlbEntry = TlbEntry {
    read: INVALID,
    write: INVALID,
    exec: INVALID,
    addend: 0,
};
const NO_INFO: TlbInfo = TlbInfo {
    pa_page: INVALID,
    global: false,
};

/// Entries of the victim TLB: translations evicted from the direct-mapped
/// table by a conflicting page, kept so that two hot pages sharing an
/// index (a stack and a data page 4 MiB apart) do not walk the page
/// tables on every access (QEMU's TCG does the same).
const VICTIMS: usize = 8;

/// The bits of a tag below the page number: bit 0 is the user key (CPL 3),
/// bit 1 CR0.WP, bits 2..=10 a flush epoch. WP is part of the key because
/// fills bake it into the write permission; a WP change then needs no
/// flush (the SDM does not make it one, SDM Vol. 3A 4.10.4.1), so guests
/// toggling WP in a loop do not re-walk. The epoch makes a full flush a
/// counter bump instead of clearing 48 KiB. Bit 11 stays clear so no tag
/// can equal INVALID.
const KEY_USER: u64 = 1;
const KEY_WP: u64 = 2;
const EPOCH_SHIFT: u32 = 2;
const EPOCH_BITS: u64 = 0x7FC;
const EPOCHS: u64 = 1 << 9;

pub struct Tlb {
    pub e: Box<[TlbEntry; TLB_SIZE]>,
    pub info: Box<[TlbInfo; TLB_SIZE]>,
    /// Bumped whenever translations may have changed (flushes, INVLPG),
    /// and by the CPU when the fetch mode or the code-cache epoch changes:
    /// the stamp of the RIP → block cache.
    pub generation: u64,
    victim: [(TlbEntry, TlbInfo); VICTIMS],
    victim_next: usize,
    /// The tag bits below the page number: epoch, WP, user.
    key: u64,
    /// Current flush epoch (0..EPOCHS).
    epoch: u64,
    /// Which entries of `e` hold global translations: what a non-global
    /// flush must carry over to the new epoch.
    globals: [u64; TLB_SIZE / 64],
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    pub fn new() -> Self {
        Tlb {
            e: Box::new([EMPTY; TLB_SIZE]),
            info: Box::new([NO_INFO; TLB_SIZE]),
            generation: 0,
            victim: [(EMPTY, NO_INFO); VICTIMS],
            victim_next: 0,
            key: 0,
            epoch: 0,
            globals: [0; TLB_SIZE / 64],
        }
    }

    /// The tag bits below the page number (epoch and user key).
    #[inline(always)]
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Whether lookups use the user (CPL 3) key.
    #[inline(always)]
    pub fn user(&self) -> bool {
        self.key & KEY_USER != 0
    }

    /// Selects the user or supervisor key after a CPL change.
    #[inline(always)]
    pub fn set_cpl(&mut self, cpl: u8) {
        self.key = (self.key & !KEY_USER) | u64::from(cpl == 3);
    }

    /// Selects the key for CR0.WP (see [`KEY_WP`]).
    #[inline(always)]
    pub fn set_wp(&mut self, wp: bool) {
        self.key = (self.key & !KEY_WP) | if wp { KEY_WP } else { 0 };
    }

    /// Moves to a new epoch: every entry tagged with an older one stops
    /// matching. Returns false when the epochs wrapped and the caller's
    /// entries were cleared for real.
    fn next_epoch(&mut self) -> bool {
        self.epoch = (self.epoch + 1) % EPOCHS;
        self.key = self.epoch << EPOCH_SHIFT | (self.key & !EPOCH_BITS);
        self.victim.fill((EMPTY, NO_INFO));
        if self.epoch == 0 {
            self.e.fill(EMPTY);
            self.globals = [0; TLB_SIZE / 64];
            return false;
        }
        true
    }

    #[inline(always)]
    fn index(la: u64) -> usize {
        (la >> 12) as usize & TLB_MASK
    }

    pub fn flush_all(&mut self) {
        self.generation += 1;
        if self.next_epoch() {
            self.globals = [0; TLB_SIZE / 64];
        }
    }

    /// Flushes everything but global translations (MOV to CR3): a new
    /// epoch, with the global entries re-tagged into it. (Global entries
    /// that sat in the victim TLB are dropped, which is always allowed.)
    pub fn flush_nonglobal(&mut self) {
        self.generation += 1;
        let old = self.epoch << EPOCH_SHIFT;
        if !self.next_epoch() {
            return;
        }
        let new = self.epoch << EPOCH_SHIFT;
        let retag = |t: &mut u64| {
            if *t != INVALID && *t & EPOCH_BITS == old {
                *t = (*t & !EPOCH_BITS) | new;
            }
        };
        for w in 0..self.globals.len() {
            let mut bits = self.globals[w];
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let e = &mut self.e[i];
                retag(&mut e.read);
                retag(&mut e.write);
                retag(&mut e.exec);
            }
        }
    }

    /// INVLPG: drops any translation of the page containing `la`.
    pub fn flush_page(&mut self, la: u64) {
        self.generation += 1;
        let page = la & !0xFFF;
        let i = Self::index(la);
        for e in std::iter::once(&mut self.e[i]).chain(self.victim.iter_mut().map(|v| &mut v.0)) {
            if e.read & !0xFFF == page || e.write & !0xFFF == page || e.exec & !0xFFF == page {
                *e = EMPTY;
            }
        }
    }

    /// A physical page now holds decoded code: stop fast-path writes to it.
    pub fn protect_code_page(&mut self, pa_page: u64) {
        let main = self.e.iter_mut().zip(self.info.iter());
        let victims = self.victim.iter_mut().map(|(e, i)| (e, &*i));
        for (e, info) in main.chain(victims) {
            if info.pa_page == pa_page {
                e.write = INVALID;
            }
        }
    }

    /// Installs `entry` for `la`, moving the entry it displaces (if it
    /// translates another page) to the victim TLB.
    fn install(&mut self, la: u64, entry: TlbEntry, info: TlbInfo) {
        let i = Self::index(la);
        let old = self.e[i];
        let live = old.read != INVALID || old.write != INVALID || old.exec != INVALID;
        // An entry for the same page under another key (the other CPL or
        // WP) is kept as a victim: guests alternate between them.
        let tag = (la & !0xFFF) | self.key;
        let same = [old.read, old.write, old.exec].contains(&tag);
        if live && !same {
            self.victim[self.victim_next] = (old, self.info[i]);
            self.victim_next = (self.victim_next + 1) % VICTIMS;
        }
        let bit = 1u64 << (i % 64);
        if info.global {
            self.globals[i / 64] |= bit;
        } else {
            self.globals[i / 64] &= !bit;
        }
        self.e[i] = entry;
        self.info[i] = info;
    }

    /// On a miss: if the victim TLB holds the translation for this access,
    /// swap it into the table. Returns whether the fast path now hits.
    #[cold]
    fn refill_from_victim(&mut self, la: u64, acc: Access) -> bool {
        let tag = (la & !0xFFF) | self.key;
        let i = Self::index(la);
        let found = self.victim.iter().position(|(e, _)| {
            tag == match acc {
                Access::Read => e.read,
                Access::Write => e.write,
                Access::Exec => e.exec,
            }
        });
        match found {
            Some(v) => {
                let (e, info) = self.victim[v];
                self.victim[v] = (self.e[i], self.info[i]);
                self.e[i] = e;
                self.info[i] = info;
                let bit = 1u64 << (i % 64);
                if info.global {
                    self.globals[i / 64] |= bit;
                } else {
                    self.globals[i / 64] &= !bit;
                }
                true
            }
            None => false,
        }
    }

    /// Host pointer for an access that hits the fast path.
    #[inline(always)]
    fn hit(&self, la: u64, size: usize, acc: Access) -> Option<*mut u8> {
        let e = &self.e[Self::index(la)];
        let tag = match acc {
            Access::Read => e.read,
            Access::Write => e.write,
            Access::Exec => e.exec,
        };
        // Compared with the page of the access's last byte: an access that
        // crosses into the next page cannot match (that page would sit at
        // the next index), so no separate offset check is needed.
        let last = la.wrapping_add(size as u64 - 1);
        if tag == (last & !0xFFF) | self.key {
            Some((la as usize).wrapping_add(e.addend) as *mut u8)
        } else {
            None
        }
    }
}

/// A physical location after translation.
#[derive(Clone, Copy, Debug)]
enum Phys {
    /// RAM: host pointer to the byte, and its guest-physical address.
    Ram(NonNull<u8>, u64),
    /// ROM: readable, writes ignored.
    Rom(u64),
    /// This vCPU's xAPIC register page.
    Apic(u32),
    /// Anything else: device MMIO or nothing.
    Mmio(u64),
}

#[inline(always)]
pub(crate) fn load_le(p: *const u8, n: usize) -> u64 {
    // SAFETY: callers pass a pointer into a RAM page with at least `n`
    // bytes left in the page (checked by `Tlb::hit` or by `phys_ptr`).
    unsafe {
        match n {
            1 => u64::from(*p),
            2 => u64::from(u16::from_le(std::ptr::read_unaligned(p as *const u16))),
            4 => u64::from(u32::from_le(std::ptr::read_unaligned(p as *const u32))),
            _ => u64::from_le(std::ptr::read_unaligned(p as *const u64)),
        }
    }
}

#[inline(always)]
pub(crate) fn store_le(p: *mut u8, n: usize, v: u64) {
    // SAFETY: as for `load_le`.
    unsafe {
        match n {
            1 => *p = v as u8,
            2 => std::ptr::write_unaligned(p as *mut u16, (v as u16).to_le()),
            4 => std::ptr::write_unaligned(p as *mut u32, (v as u32).to_le()),
            _ => std::ptr::write_unaligned(p as *mut u64, v.to_le()),
        }
    }
}

impl Ctx {
    // ---- segmentation -------------------------------------------------

    /// Linear address of `seg:ea` for an access of `size` bytes, with the
    /// segment's limit and rights checked (SDM Vol. 3A 3.4.5, 5.3).
    #[inline(always)]
    pub fn linear(&mut self, seg: u8, ea: u64, size: usize, write: bool) -> Result<u64, Stop> {
        let c = &self.cpu.segs[seg as usize & 7];
        let fast = if write { c.flat_write } else { c.flat_read };
        if fast {
            let la = c.base.wrapping_add(ea) & c.mask;
            if c.stack_canonical {
                let sh = self.cpu.canon_shift;
                if ((la << sh) as i64 >> sh) as u64 != la {
                    return Err(self.cpu.raise(vec::SS, Some(0)));
                }
            }
            return Ok(la);
        }
        self.linear_slow(seg, ea, size, write)
    }

    #[cold]
    fn linear_slow(&mut self, seg: u8, ea: u64, size: usize, write: bool) -> Result<u64, Stop> {
        let sr = SegReg::ALL[seg as usize % 6];
        let s = *self.cpu.s.seg(sr);
        let stack = sr == SegReg::Ss;
        let fault = |ctx: &mut Self| {
            if stack {
                ctx.cpu.raise(vec::SS, Some(0))
            } else {
                ctx.cpu.gp(0)
            }
        };
        if matches!(self.cpu.mode, Mode::Real | Mode::V86) {
            // Real/virtual-8086: base = selector × 16 (or a cached big
            // base), limit checked (SDM 20.1.1); attributes ignored.
            let end = ea.wrapping_add(size as u64 - 1);
            if ea > u64::from(s.limit) || end > u64::from(s.limit) || end < ea {
                return Err(fault(self));
            }
            return Ok(s.base.wrapping_add(ea) & 0xFFFF_FFFF);
        }
        if self.cpu.mode == Mode::Long {
            return Ok(self.cpu.segs[seg as usize & 7].base.wrapping_add(ea));
        }
        // Protected mode: null/unusable segment, rights, limit.
        if s.unusable() || !s.present() || s.attr & ar::S == 0 {
            return Err(fault(self));
        }
        let code = s.attr & ar::CODE != 0;
        if write && (code || s.attr & ar::RW == 0) {
            return Err(fault(self));
        }
        if !write && code && s.attr & ar::RW == 0 {
            return Err(fault(self));
        }
        let end = ea.wrapping_add(size as u64 - 1);
        let expand_down = !code && s.attr & ar::DC != 0;
        if expand_down {
            let upper: u64 = if s.is_big() { 0xFFFF_FFFF } else { 0xFFFF };
            if ea <= u64::from(s.limit) || end > upper || end < ea {
                return Err(fault(self));
            }
        } else if end > u64::from(s.limit) || end < ea {
            return Err(fault(self));
        }
        Ok(s.base.wrapping_add(ea) & 0xFFFF_FFFF)
    }

    #[inline(always)]
    pub fn read_seg<W: Width>(&mut self, seg: u8, ea: u64) -> Result<u64, Stop> {
        let la = self.linear(seg, ea, W::BYTES, false)?;
        self.read_la(la, W::BYTES)
    }

    #[inline(always)]
    pub fn write_seg<W: Width>(&mut self, seg: u8, ea: u64, v: u64) -> Exec {
        let la = self.linear(seg, ea, W::BYTES, true)?;
        self.write_la(la, W::BYTES, v)
    }

    /// Host pointer for `la` if the TLB grants `write` (or read) access to
    /// its page on the fast path, for bulk operations within one page.
    #[inline]
    pub fn fast_ptr(&self, la: u64, write: bool) -> Option<*mut u8> {
        self.cpu
            .tlb
            .hit(la, 1, if write { Access::Write } else { Access::Read })
    }

    // ---- linear accesses -------------------------------------------------

    /// Reads `size` (1, 2, 4, 8) bytes at linear address `la` with the
    /// current privilege.
    #[inline(always)]
    pub fn read_la(&mut self, la: u64, size: usize) -> Result<u64, Stop> {
        if let Some(p) = self.cpu.tlb.hit(la, size, Access::Read) {
            return Ok(load_le(p, size));
        }
        self.read_slow(la, size, self.requester())
    }

    /// The whole fast path of an access to the op's memory operand: a
    /// segment needing no check and a TLB hit give the host pointer.
    /// `None` sends the caller to the full path ([`Ctx::load`],
    /// [`Ctx::store`]), which handles (or faults) everything else.
    /// Handlers call that from a separate, non-inlined function so that
    /// the fast path needs no stack frame.
    ///
    /// `AF`, the address form ([`AF_SEG`], [`AF_FLAT`], [`AF_FLAT_BD`]):
    /// the flat forms were decoded as 64-bit code with a 64-bit address
    /// and a segment other than FS/GS ([`crate::interp::decode::addr_form`]),
    /// so the linear address is the effective address (SDM Vol. 3A 5.2:
    /// no base, limit or rights in 64-bit mode); `AF_FLAT_BD` has no index
    /// register. Blocks are keyed by the
    /// fetch mode, so the op only ever runs in 64-bit mode. Canonical
    /// checks are not needed on a TLB hit: the TLB is only filled for
    /// canonical addresses and compares every address bit.
    #[inline(always)]
    pub fn host_fast<W: Width, const AF: u8>(&self, op: &Op, write: bool) -> Option<*mut u8> {
        let la = match AF {
            AF_FLAT_BD => self.gpr(op.base).wrapping_add(op.disp),
            AF_FLAT_S1..=6 => self
                .gpr(op.base)
                .wrapping_add(self.gpr(op.index) << (AF - AF_FLAT_S1))
                .wrapping_add(op.disp),
            AF_FLAT => self
                .gpr(op.base)
                .wrapping_add(self.gpr(op.index) << (op.scale & 3))
                .wrapping_add(op.disp),
            _ => self.linear_fast(op, write)?,
        };
        let acc = if write { Access::Write } else { Access::Read };
        self.cpu.tlb.hit(la, W::BYTES, acc)
    }

    /// The fast path of a read of the op's memory operand (see
    /// [`Self::host_fast`]).
    #[inline(always)]
    pub fn load_fast<W: Width, const AF: u8>(&self, op: &Op) -> Option<u64> {
        let p = self.host_fast::<W, AF>(op, false)?;
        Some(load_le(p, W::BYTES))
    }

    /// The fast path of a write of the op's memory operand; `false` sends
    /// the caller to [`Ctx::store`].
    #[inline(always)]
    pub fn store_fast<W: Width, const AF: u8>(&mut self, op: &Op, v: u64) -> bool {
        match self.host_fast::<W, AF>(op, true) {
            Some(p) => {
                store_le(p, W::BYTES, v);
                true
            }
            None => false,
        }
    }

    #[inline(always)]
    fn linear_fast(&self, op: &Op, write: bool) -> Option<u64> {
        let ea = self.ea(op);
        let c = &self.cpu.segs[op.seg as usize & 7];
        if !(if write { c.flat_write } else { c.flat_read }) {
            return None;
        }
        // No canonical check: see `host_fast`.
        Some(c.base.wrapping_add(ea) & c.mask)
    }

    /// Writes `size` bytes at linear address `la`.
    #[inline(always)]
    pub fn write_la(&mut self, la: u64, size: usize, v: u64) -> Exec {
        if let Some(p) = self.cpu.tlb.hit(la, size, Access::Write) {
            store_le(p, size, v);
            return Ok(());
        }
        self.write_slow(la, size, v, self.requester())
    }

    /// Checks that `size` bytes at `la` are writable, without writing
    /// (for instructions that must fault before changing anything).
    pub fn probe_write(&mut self, la: u64, size: usize) -> Exec {
        if self.cpu.tlb.hit(la, size, Access::Write).is_some() {
            return Ok(());
        }
        let req = self.requester();
        self.translate(la, Access::Write, req)?;
        if (la & 0xFFF) + size as u64 > PAGE {
            self.translate((la | 0xFFF) + 1, Access::Write, req)?;
        }
        Ok(())
    }

    /// An implicit supervisor-mode read (descriptor tables, IDT, TSS).
    pub fn read_sys(&mut self, la: u64, size: usize) -> Result<u64, Stop> {
        self.read_slow(
            la,
            size,
            Requester {
                user: false,
                implicit: true,
            },
        )
    }

    /// An implicit supervisor-mode write (descriptor accessed/busy bits, TSS).
    pub fn write_sys(&mut self, la: u64, size: usize, v: u64) -> Exec {
        self.write_slow(
            la,
            size,
            v,
            Requester {
                user: false,
                implicit: true,
            },
        )
    }

    #[inline(always)]
    fn requester(&self) -> Requester {
        Requester {
            user: self.cpu.cpl == 3,
            implicit: false,
        }
    }

    // ---- slow path -----------------------------------------------------

    /// Translates `la`, filling the TLB when the page allows it, and
    /// returns where the byte lives.
    fn translate(&mut self, la: u64, acc: Access, req: Requester) -> Result<Phys, Stop> {
        let la = la & self.cpu.la_mask;
        if self.cpu.mode == Mode::Long && !self.cpu.canonical(la) {
            return Err(self.cpu.gp(0));
        }
        let (cpu, plat) = self.parts();
        let t = match paging::walk(cpu, plat.mem(), la, acc, req) {
            Ok(t) => t,
            Err(pf) => {
                self.cpu.fault = super::cpu::Fault {
                    vector: vec::PF,
                    error_code: Some(pf.error_code),
                    cr2: la,
                    dr6: 0,
                };
                return Err(Stop::Fault);
            }
        };
        let pa = t.pa;
        let page = pa & !0xFFF;
        // This vCPU's APIC page (xAPIC mode) takes precedence over RAM.
        let base = self.cpu.s.msrs.apic_base;
        if base & apic::base::EN != 0
            && base & apic::base::EXTD == 0
            && page == base & apic::base::ADDR_MASK & self.cpu.model().phys_addr_mask()
        {
            return Ok(Phys::Apic((pa & 0xFFF) as u32));
        }
        let mem = self.plat().mem();
        if let Some(host) = mem.ram_page(pa) {
            let code = mem.is_code_page(pa);
            if !req.implicit {
                self.fill_tlb(la, page, host.as_ptr(), &t, code);
            }
            // SAFETY: `host` points at a whole RAM page; offset < 4096.
            let p = unsafe { host.add((pa & 0xFFF) as usize) };
            return Ok(Phys::Ram(p, pa));
        }
        if let Some(rom) = mem.rom_page(pa).map(|r| r.as_ptr() as *mut u8) {
            if !req.implicit {
                self.fill_tlb_rom(la, page, rom, &t);
            }
            return Ok(Phys::Rom(pa));
        }
        Ok(Phys::Mmio(pa))
    }

    fn fill_tlb(
        &mut self,
        la: u64,
        pa_page: u64,
        host: *mut u8,
        t: &paging::Translation,
        code: bool,
    ) {
        let cpu = &mut self.cpu;
        let key = cpu.tlb.key();
        let user_mode = cpu.tlb.user();
        let s = &cpu.s;
        let wp = s.cr.cr0 & crate::state::cr0::WP != 0;
        let smap = s.cr.cr4 & cr4::SMAP != 0;
        let smep = s.cr.cr4 & cr4::SMEP != 0;
        let long = s.efer & crate::state::efer::LMA != 0;
        // Protection keys make rights depend on PKRU/PKRS: let the slow
        // path decide for keyed pages.
        let pk = long
            && ((t.user && s.cr.cr4 & cr4::PKE != 0) || (!t.user && s.cr.cr4 & cr4::PKS != 0))
            && t.pkey != 0;
        let (read, write, exec) = if user_mode {
            (t.user, t.user && t.writable, t.user && !t.nx)
        } else if t.user {
            (!smap, !smap && (t.writable || !wp), !smep && !t.nx)
        } else {
            (true, t.writable || !wp, !t.nx)
        };
        // While data breakpoints are enabled every data access takes the
        // slow path, which checks them.
        let no_data = pk || cpu.dbg.data != 0;
        let read = read && !no_data;
        let write = write && !no_data && t.dirty && !code;
        let page_tag = (la & !0xFFF) | key;
        let entry = TlbEntry {
            read: if read { page_tag } else { INVALID },
            write: if write { page_tag } else { INVALID },
            exec: if exec { page_tag } else { INVALID },
            addend: (host as usize).wrapping_sub((la & !0xFFF) as usize),
        };
        let info = TlbInfo {
            pa_page,
            global: t.global,
        };
        cpu.tlb.install(la, entry, info);
        cpu.stats.tlb_fills += 1;
    }

    fn fill_tlb_rom(&mut self, la: u64, pa_page: u64, host: *mut u8, t: &paging::Translation) {
        let key = self.cpu.tlb.key();
        let user_ok = !self.cpu.tlb.user() || t.user;
        let tag = (la & !0xFFF) | key;
        let read = user_ok && self.cpu.dbg.data == 0;
        let entry = TlbEntry {
            read: if read { tag } else { INVALID },
            write: INVALID,
            exec: if user_ok && !t.nx { tag } else { INVALID },
            addend: (host as usize).wrapping_sub((la & !0xFFF) as usize),
        };
        let info = TlbInfo {
            pa_page,
            global: t.global,
        };
        self.cpu.tlb.install(la, entry, info);
    }

    #[cold]
    fn read_slow(&mut self, la: u64, size: usize, req: Requester) -> Result<u64, Stop> {
        let la = la & self.cpu.la_mask;
        if self.cpu.dbg.data != 0 {
            self.data_breakpoints(la, size, false);
        }
        if (la & 0xFFF) as usize + size > PAGE as usize {
            // Page-crossing: byte by byte, all translations first.
            let first = PAGE as usize - (la & 0xFFF) as usize;
            let lo = self.translate(la, Access::Read, req)?;
            let hi = self.translate(la.wrapping_add(first as u64), Access::Read, req)?;
            let mut v = 0u64;
            for i in 0..size {
                let b = if i < first {
                    self.phys_read(lo, i, 1)?
                } else {
                    self.phys_read(hi, i - first, 1)?
                };
                v |= b << (8 * i);
            }
            return Ok(v);
        }
        if !req.implicit
            && self.cpu.tlb.refill_from_victim(la, Access::Read)
            && let Some(p) = self.cpu.tlb.hit(la, size, Access::Read)
        {
            return Ok(load_le(p, size));
        }
        let p = self.translate(la, Access::Read, req)?;
        self.phys_read(p, 0, size)
    }

    #[cold]
    fn write_slow(&mut self, la: u64, size: usize, v: u64, req: Requester) -> Exec {
        let la = la & self.cpu.la_mask;
        if self.cpu.dbg.data != 0 {
            self.data_breakpoints(la, size, true);
        }
        if (la & 0xFFF) as usize + size > PAGE as usize {
            let first = PAGE as usize - (la & 0xFFF) as usize;
            let lo = self.translate(la, Access::Write, req)?;
            let hi = self.translate(la.wrapping_add(first as u64), Access::Write, req)?;
            for i in 0..size {
                let b = (v >> (8 * i)) & 0xFF;
                if i < first {
                    self.phys_write(lo, i, 1, b)?;
                } else {
                    self.phys_write(hi, i - first, 1, b)?;
                }
            }
            return Ok(());
        }
        if !req.implicit
            && self.cpu.tlb.refill_from_victim(la, Access::Write)
            && let Some(p) = self.cpu.tlb.hit(la, size, Access::Write)
        {
            store_le(p, size, v);
            return Ok(());
        }
        let p = self.translate(la, Access::Write, req)?;
        self.phys_write(p, 0, size, v)
    }

    fn phys_read(&mut self, p: Phys, off: usize, size: usize) -> Result<u64, Stop> {
        Ok(match p {
            // SAFETY: `r` points into a RAM page with `off + size` bytes left
            // (page-crossing accesses are split by the callers).
            Phys::Ram(r, _) => load_le(unsafe { r.as_ptr().add(off) }, size),
            Phys::Rom(pa) => {
                let mut b = [0u8; 8];
                let _ = self.plat().mem().read(pa + off as u64, &mut b[..size]);
                u64::from_le_bytes(b)
            }
            Phys::Apic(reg) => {
                self.cpu.stats.apic_mmio += 1;
                let env = self.apic_env();
                let v = self.cpu.s.apic.read_xapic((reg + off as u32) & !0xF, &env);
                u64::from(v >> (8 * ((reg + off as u32) & 3)))
            }
            Phys::Mmio(pa) => {
                self.cpu.stats.mmio_exits += 1;
                let now = self.cpu.now();
                let v = self.plat().mmio_read(now, pa + off as u64, size as u8);
                self.cpu.charge_ns(crate::machine::clock::MMIO_NS);
                self.cpu.attention |= attn::EVENT;
                v
            }
        })
    }

    fn phys_write(&mut self, p: Phys, off: usize, size: usize, v: u64) -> Exec {
        match p {
            Phys::Ram(r, pa) => {
                // SAFETY: as in `phys_read`.
                let ptr = unsafe { r.as_ptr().add(off) };
                store_le(ptr, size, v);
                // Writes reach the slow path when the page holds decoded code.
                let pa = pa + off as u64;
                let mem = self.plat().mem();
                if mem.is_code_page(pa) {
                    mem.note_write(pa, size as u64);
                    self.cpu.attention |= attn::SMC;
                }
            }
            Phys::Rom(_) => {}
            Phys::Apic(reg) => {
                self.cpu.stats.apic_mmio += 1;
                let offset = reg + off as u32;
                if offset & 0xF == 0 && size >= 4 {
                    self.apic_write(offset, v as u32);
                }
            }
            Phys::Mmio(pa) => {
                self.cpu.stats.mmio_exits += 1;
                let now = self.cpu.now();
                self.plat().mmio_write(now, pa + off as u64, size as u8, v);
                self.cpu.charge_ns(crate::machine::clock::MMIO_NS);
                self.cpu.attention |= attn::EXIT;
            }
        }
        Ok(())
    }

    pub fn apic_env(&self) -> ApicEnv {
        ApicEnv {
            now: self.cpu.now(),
            tsc_deadline: self.cpu.model().has(Feature::TscDeadline),
        }
    }

    /// A write to an xAPIC register from MMIO.
    fn apic_write(&mut self, offset: u32, v: u32) {
        let env = self.apic_env();
        let action = self.cpu.s.apic.write_xapic(offset, v, &env);
        self.apic_effect(action);
    }

    /// Applies the consequence of a local-APIC register write.
    pub fn apic_effect(&mut self, action: apic::ApicAction) {
        use apic::ApicAction;
        match action {
            ApicAction::None => {}
            ApicAction::Reevaluate => self.cpu.attention |= attn::EVENT,
            ApicAction::TimerChanged => {
                self.cpu.timer_dirty = true;
                self.cpu.attention |= attn::EXIT;
            }
            ApicAction::Eoi { level: false, .. } => self.cpu.attention |= attn::EVENT,
            a @ (ApicAction::Eoi { .. } | ApicAction::SendIpi { .. } | ApicAction::SelfIpi(_)) => {
                let (now, id) = (self.cpu.now(), self.cpu.id);
                self.plat().apic_action(now, id, a);
                self.cpu.attention |= attn::EVENT | attn::EXIT;
            }
        }
    }

    // ---- instruction fetch ----------------------------------------------

    /// Translates the instruction-fetch address `la` and returns the
    /// physical address and a host pointer to the rest of its page
    /// (None for MMIO fetches, which are executed from a copy).
    pub fn fetch_translate(&mut self, la: u64) -> Result<(u64, Option<*const u8>), Stop> {
        let la = la & self.cpu.la_mask;
        let i = Tlb::index(la);
        let tlb = &mut self.cpu.tlb;
        if tlb.e[i].exec == (la & !0xFFF) | tlb.key() || tlb.refill_from_victim(la, Access::Exec) {
            let host = (la as usize).wrapping_add(tlb.e[i].addend) as *const u8;
            return Ok((tlb.info[i].pa_page | (la & 0xFFF), Some(host)));
        }
        let req = self.requester();
        match self.translate(la, Access::Exec, req)? {
            Phys::Ram(p, pa) => Ok((pa, Some(p.as_ptr() as *const u8))),
            Phys::Rom(pa) => {
                let host = self
                    .plat()
                    .mem()
                    .rom_page(pa)
                    .map(|pg| pg[(pa & 0xFFF) as usize..].as_ptr());
                Ok((pa, host))
            }
            Phys::Apic(_) | Phys::Mmio(_) => Ok((u64::MAX, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tlb: &Tlb, la: u64, global: bool) -> (TlbEntry, TlbInfo) {
        let tag = (la & !0xFFF) | tlb.key();
        let e = TlbEntry {
            read: tag,
            write: tag,
            exec: tag,
            addend: 0,
        };
        let info = TlbInfo {
            pa_page: la & !0xFFF,
            global,
        };
        (e, info)
    }

    impl Tlb {
        fn put(&mut self, la: u64, (e, info): (TlbEntry, TlbInfo)) {
            self.install(la, e, info);
        }
    }

    fn hits(tlb: &Tlb, la: u64) -> bool {
        tlb.hit(la, 8, Access::Read).is_some()
    }

    #[test]
    fn flush_all_drops_everything_including_globals() {
        let mut t = Tlb::new();
        t.put(0x1000, entry(&t, 0x1000, false));
        t.put(0x2000, entry(&t, 0x2000, true));
        assert!(hits(&t, 0x1000) && hits(&t, 0x2000));
        t.flush_all();
        assert!(!hits(&t, 0x1000) && !hits(&t, 0x2000));
    }

    #[test]
    fn mov_cr3_flush_keeps_global_entries() {
        // SDM Vol. 3A 4.10.4.1: MOV to CR3 leaves global translations.
        let mut t = Tlb::new();
        t.put(0x1000, entry(&t, 0x1000, false));
        t.put(0x2000, entry(&t, 0x2000, true));
        for _ in 0..3 * EPOCHS {
            t.flush_nonglobal();
            assert!(!hits(&t, 0x1000));
            t.put(0x1000, entry(&t, 0x1000, false));
        }
        t.flush_nonglobal();
        assert!(!hits(&t, 0x1000));
        // Epoch wrap-arounds may drop globals (allowed); between them they stay.
        t.put(0x2000, entry(&t, 0x2000, true));
        t.flush_nonglobal();
        assert!(hits(&t, 0x2000));
    }

    #[test]
    fn epoch_wrap_never_revives_stale_entries() {
        let mut t = Tlb::new();
        t.put(0x5000, entry(&t, 0x5000, false));
        for _ in 0..EPOCHS {
            t.flush_all();
            assert!(!hits(&t, 0x5000));
        }
    }

    #[test]
    fn cpl_and_wp_select_separate_entries() {
        let mut t = Tlb::new();
        t.set_wp(true);
        t.put(0x3000, entry(&t, 0x3000, false));
        t.set_wp(false);
        assert!(!hits(&t, 0x3000), "WP=1 entry used with WP=0");
        t.put(0x3000, entry(&t, 0x3000, false));
        t.set_cpl(3);
        assert!(!hits(&t, 0x3000), "supervisor entry used at CPL 3");
        // The WP=1 entry went to the victim TLB and comes back.
        t.set_cpl(0);
        t.set_wp(true);
        assert!(!hits(&t, 0x3000));
        assert!(t.refill_from_victim(0x3000, Access::Read));
        assert!(hits(&t, 0x3000));
    }

    #[test]
    fn invlpg_drops_the_page_under_every_key() {
        let mut t = Tlb::new();
        t.put(0x4000, entry(&t, 0x4000, true));
        t.set_cpl(3);
        t.put(0x4000, entry(&t, 0x4000, false));
        t.flush_page(0x4000);
        assert!(!hits(&t, 0x4000) && !t.refill_from_victim(0x4000, Access::Read));
        t.set_cpl(0);
        assert!(!hits(&t, 0x4000) && !t.refill_from_victim(0x4000, Access::Read));
    }
}
