//! Guest physical memory: RAM (below the PCI hole and above 4 GiB) in one
//! anonymous host mapping, plus an optional read-only firmware ROM.
//!
//! Every vCPU and device of a VM shares one `GuestMemory` on one host thread,
//! so writes go through `&self` (the bytes live in a raw mapping, never in a
//! Rust reference that could alias). The interpreter's TLB caches host
//! pointers into RAM obtained from [`GuestMemory::ram_page`]; they stay valid
//! for the life of the `GuestMemory` because RAM is never remapped.
//!
//! Pages that hold decoded guest code are marked in a shared bitmap; a
//! write through this API (device DMA, the loader, the interpreter's slow
//! path) to such a page is logged so the decoded-instruction cache can drop
//! what it decoded from there. The log is shared by every vCPU of the VM
//! (each reads it from its own cursor, see [`CodeEvent`]): a vCPU's decoded
//! blocks are dropped when any vCPU or device writes their page, and a
//! vCPU's TLB stops granting direct writes to a page another vCPU has just
//! started decoding.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use memmap2::MmapMut;

use super::layout::{HIGH_RAM_BASE, LOW_RAM_LIMIT};

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_SHIFT: u32 = 12;

/// An access to guest-physical memory that is neither RAM nor ROM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped(pub u64);

/// Why guest memory could not be created.
#[derive(Debug)]
pub struct MemoryError(pub String);

impl std::fmt::Display for MemoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MemoryError {}

pub struct GuestMemory {
    /// Keeps the mapping alive; accessed only through `base`.
    _ram: MmapMut,
    base: NonNull<u8>,
    low: u64,
    high: u64,
    rom: Option<Rom>,
    /// One bit per RAM page: the page holds decoded instructions.
    code_pages: Box<[Cell<u64>]>,
    /// The code-page event log every vCPU reads from its own cursor.
    code_log: RefCell<CodeLog>,
    /// Number of events ever logged (a copy of `code_log.seq`, cheap to poll).
    code_seq: Cell<u64>,
}

/// Events logged for the vCPUs' decoded-code caches and TLBs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeEvent {
    /// A code page (guest-physical page address) was written: blocks decoded
    /// from it are stale.
    Written(u64),
    /// A page became a code page: TLB entries may no longer grant direct
    /// writes to it (the writes must reach [`GuestMemory::note_write`]).
    Marked(u64),
    /// The reader fell more than the log's capacity behind: drop every
    /// decoded block and every TLB write grant.
    Lost,
}

/// Capacity of the code-event ring; a reader further behind sees `Lost`.
const CODE_LOG_LEN: usize = 256;

struct CodeLog {
    ring: [CodeEvent; CODE_LOG_LEN],
}

// SAFETY: `base` points into `_ram`, an owned anonymous mapping that moves
// with the struct and is unmapped only when it drops; nothing else holds
// the pointer's ownership. The `Cell`/`RefCell` fields are `Send`. So moving
// a `GuestMemory` to another thread is sound. It stays `!Sync`: the KVM
// backend shares it only behind the board's mutex (the guest's own accesses
// through KVM's mapping of the same pages are the hardware's, as for any
// DMA-capable memory).
unsafe impl Send for GuestMemory {}

struct Rom {
    gpa: u64,
    /// Page-aligned (an anonymous mapping) so that a hypervisor can map it
    /// into the guest as a read-only memory slot.
    bytes: MmapMut,
    /// The image length (the mapping is rounded up to whole pages).
    len: usize,
}

impl GuestMemory {
    /// Allocates `ram_bytes` of zeroed RAM (rounded up to whole pages).
    pub fn new(ram_bytes: u64) -> Result<Self, MemoryError> {
        if ram_bytes < 1 << 20 {
            return Err(MemoryError(format!(
                "guest RAM of {ram_bytes} bytes is too small (at least 1 MiB)"
            )));
        }
        let total = ram_bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let len = usize::try_from(total)
            .map_err(|_| MemoryError(format!("guest RAM of {total} bytes is too large")))?;
        let mut ram = MmapMut::map_anon(len)
            .map_err(|e| MemoryError(format!("cannot allocate {total} bytes of guest RAM: {e}")))?;
        let base = NonNull::new(ram.as_mut_ptr())
            .ok_or_else(|| MemoryError("guest RAM mapping returned null".into()))?;
        let low = total.min(LOW_RAM_LIMIT);
        let pages = total / PAGE_SIZE;
        let words = pages.div_ceil(64) as usize;
        Ok(GuestMemory {
            _ram: ram,
            base,
            low,
            high: total - low,
            rom: None,
            code_pages: (0..words).map(|_| Cell::new(0)).collect(),
            code_log: RefCell::new(CodeLog {
                ring: [CodeEvent::Lost; CODE_LOG_LEN],
            }),
            code_seq: Cell::new(0),
        })
    }

    /// Total RAM in bytes.
    pub fn ram_size(&self) -> u64 {
        self.low + self.high
    }

    /// RAM below 4 GiB (mapped at guest-physical 0).
    pub fn low_ram(&self) -> u64 {
        self.low
    }

    /// RAM above 4 GiB (mapped at guest-physical 4 GiB).
    pub fn high_ram(&self) -> u64 {
        self.high
    }

    /// The RAM regions as (guest-physical address, host address, length),
    /// for backends that map memory into a hypervisor.
    pub fn ram_regions(&self) -> Vec<(u64, *mut u8, u64)> {
        let mut v = vec![(0, self.base.as_ptr(), self.low)];
        if self.high > 0 {
            // SAFETY: `low` is within the mapping of `low + high` bytes.
            let hp = unsafe { self.base.as_ptr().add(self.low as usize) };
            v.push((HIGH_RAM_BASE, hp, self.high));
        }
        v
    }

    /// Maps a read-only firmware image at `gpa` (guest writes are ignored).
    pub fn set_rom(&mut self, gpa: u64, bytes: Vec<u8>) -> Result<(), MemoryError> {
        let len = bytes.len();
        let mapped = (len as u64).div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        let mut map = MmapMut::map_anon(mapped as usize)
            .map_err(|e| MemoryError(format!("cannot allocate {mapped} bytes of ROM: {e}")))?;
        map[..len].copy_from_slice(&bytes);
        self.rom = Some(Rom {
            gpa,
            bytes: map,
            len,
        });
        Ok(())
    }

    /// The ROM as (guest-physical address, host address, length rounded up
    /// to pages), for backends that map memory into a hypervisor. The
    /// guest must only read it.
    pub fn rom_region(&mut self) -> Option<(u64, *mut u8, u64)> {
        let rom = self.rom.as_mut()?;
        Some((rom.gpa, rom.bytes.as_mut_ptr(), rom.bytes.len() as u64))
    }

    /// Offset into the RAM mapping of guest-physical `gpa`, if it is RAM and
    /// `len` bytes from it stay inside the same RAM region.
    #[inline]
    fn ram_offset(&self, gpa: u64, len: u64) -> Option<u64> {
        if gpa < self.low {
            (gpa.checked_add(len)? <= self.low).then_some(gpa)
        } else if gpa >= HIGH_RAM_BASE {
            let off = gpa - HIGH_RAM_BASE;
            (off.checked_add(len)? <= self.high).then_some(self.low + off)
        } else {
            None
        }
    }

    /// Is guest-physical `gpa` RAM?
    #[inline]
    pub fn is_ram(&self, gpa: u64) -> bool {
        self.ram_offset(gpa, 1).is_some()
    }

    /// Host pointer to the RAM page containing `gpa`, or None if not RAM.
    /// The pointer is valid for [`PAGE_SIZE`] bytes for the life of `self`.
    #[inline]
    pub fn ram_page(&self, gpa: u64) -> Option<NonNull<u8>> {
        let page = gpa & !(PAGE_SIZE - 1);
        let off = self.ram_offset(page, PAGE_SIZE)?;
        // SAFETY: `off + PAGE_SIZE` is within the mapping (checked above).
        Some(unsafe { self.base.add(off as usize) })
    }

    /// The ROM page containing `gpa` (for instruction fetch and reads).
    pub fn rom_page(&self, gpa: u64) -> Option<&[u8]> {
        let rom = self.rom.as_ref()?;
        let page = gpa & !(PAGE_SIZE - 1);
        let off = page.checked_sub(rom.gpa)? as usize;
        rom.bytes[..rom.len].get(off..off + PAGE_SIZE as usize)
    }

    fn rom_byte(&self, gpa: u64) -> Option<u8> {
        let rom = self.rom.as_ref()?;
        let off = gpa.checked_sub(rom.gpa)?;
        rom.bytes[..rom.len]
            .get(usize::try_from(off).ok()?)
            .copied()
    }

    /// Reads guest-physical memory (RAM or ROM). Fails on the first byte
    /// that is neither.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        if let Some(off) = self.ram_offset(gpa, buf.len() as u64) {
            // SAFETY: the range is inside the RAM mapping; `buf` is a
            // distinct Rust buffer, so the regions cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.base.as_ptr().add(off as usize),
                    buf.as_mut_ptr(),
                    buf.len(),
                );
            }
            return Ok(());
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let a = gpa.wrapping_add(i as u64);
            *b = match self.ram_offset(a, 1) {
                // SAFETY: one byte inside the RAM mapping.
                Some(off) => unsafe { *self.base.as_ptr().add(off as usize) },
                None => self.rom_byte(a).ok_or(Unmapped(a))?,
            };
        }
        Ok(())
    }

    /// Writes guest-physical memory. RAM is written; ROM ignores writes;
    /// anything else fails (at the first such byte).
    pub fn write(&self, gpa: u64, data: &[u8]) -> Result<(), Unmapped> {
        if let Some(off) = self.ram_offset(gpa, data.len() as u64) {
            self.note_write(gpa, data.len() as u64);
            // SAFETY: the range is inside the RAM mapping; `data` is a Rust
            // slice that cannot alias the raw guest mapping.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    data.as_ptr(),
                    self.base.as_ptr().add(off as usize),
                    data.len(),
                );
            }
            return Ok(());
        }
        for (i, &b) in data.iter().enumerate() {
            let a = gpa.wrapping_add(i as u64);
            match self.ram_offset(a, 1) {
                Some(off) => {
                    self.note_write(a, 1);
                    // SAFETY: one byte inside the RAM mapping.
                    unsafe { *self.base.as_ptr().add(off as usize) = b };
                }
                None if self.rom_byte(a).is_some() => {}
                None => return Err(Unmapped(a)),
            }
        }
        Ok(())
    }

    pub fn read_u8(&self, gpa: u64) -> Result<u8, Unmapped> {
        let mut b = [0u8; 1];
        self.read(gpa, &mut b)?;
        Ok(b[0])
    }
    pub fn read_u16(&self, gpa: u64) -> Result<u16, Unmapped> {
        let mut b = [0u8; 2];
        self.read(gpa, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    /// Page-table walks read entries with these two: RAM is read directly,
    /// anything else goes through [`Self::read`].
    #[inline]
    pub fn read_u32(&self, gpa: u64) -> Result<u32, Unmapped> {
        if let Some(off) = self.ram_offset(gpa, 4) {
            // SAFETY: the 4 bytes are inside the RAM mapping.
            let v = unsafe {
                std::ptr::read_unaligned(self.base.as_ptr().add(off as usize) as *const u32)
            };
            return Ok(u32::from_le(v));
        }
        let mut b = [0u8; 4];
        self.read(gpa, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    #[inline]
    pub fn read_u64(&self, gpa: u64) -> Result<u64, Unmapped> {
        if let Some(off) = self.ram_offset(gpa, 8) {
            // SAFETY: the 8 bytes are inside the RAM mapping.
            let v = unsafe {
                std::ptr::read_unaligned(self.base.as_ptr().add(off as usize) as *const u64)
            };
            return Ok(u64::from_le(v));
        }
        let mut b = [0u8; 8];
        self.read(gpa, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    pub fn write_u8(&self, gpa: u64, v: u8) -> Result<(), Unmapped> {
        self.write(gpa, &[v])
    }
    pub fn write_u16(&self, gpa: u64, v: u16) -> Result<(), Unmapped> {
        self.write(gpa, &v.to_le_bytes())
    }
    pub fn write_u32(&self, gpa: u64, v: u32) -> Result<(), Unmapped> {
        self.write(gpa, &v.to_le_bytes())
    }
    pub fn write_u64(&self, gpa: u64, v: u64) -> Result<(), Unmapped> {
        self.write(gpa, &v.to_le_bytes())
    }

    /// RAM page frame index (counting RAM pages contiguously, low then high).
    #[inline]
    fn ram_pfn(&self, gpa: u64) -> Option<u64> {
        self.ram_offset(gpa, 1).map(|off| off >> PAGE_SHIFT)
    }

    /// Marks the RAM page containing `gpa` as holding decoded code; logs
    /// [`CodeEvent::Marked`] when the page was not a code page yet.
    pub fn mark_code_page(&self, gpa: u64) {
        if let Some(pfn) = self.ram_pfn(gpa) {
            let w = &self.code_pages[(pfn / 64) as usize];
            let bit = 1 << (pfn % 64);
            if w.get() & bit == 0 {
                w.set(w.get() | bit);
                self.log_code_event(CodeEvent::Marked(gpa & !(PAGE_SIZE - 1)));
            }
        }
    }

    /// Does the RAM page containing `gpa` hold decoded code?
    #[inline]
    pub fn is_code_page(&self, gpa: u64) -> bool {
        match self.ram_pfn(gpa) {
            Some(pfn) => self.code_pages[(pfn / 64) as usize].get() & 1 << (pfn % 64) != 0,
            None => false,
        }
    }

    /// Records a write of `len` bytes at `gpa`: code pages it touches are
    /// unmarked and logged ([`CodeEvent::Written`]).
    #[inline]
    pub fn note_write(&self, gpa: u64, len: u64) {
        let first = gpa >> PAGE_SHIFT;
        let last = (gpa + len.max(1) - 1) >> PAGE_SHIFT;
        for page in first..=last {
            let a = page << PAGE_SHIFT;
            if self.is_code_page(a) {
                if let Some(pfn) = self.ram_pfn(a) {
                    let w = &self.code_pages[(pfn / 64) as usize];
                    w.set(w.get() & !(1 << (pfn % 64)));
                }
                self.log_code_event(CodeEvent::Written(a));
            }
        }
    }

    fn log_code_event(&self, ev: CodeEvent) {
        let seq = self.code_seq.get();
        self.code_log.borrow_mut().ring[seq as usize % CODE_LOG_LEN] = ev;
        self.code_seq.set(seq + 1);
    }

    /// Forgets every code-page mark: for fresh decoded-instruction caches
    /// (a handoff from another backend, which wrote guest memory without
    /// this API seeing it). Events already logged stay; a fresh cache
    /// reading them finds nothing to drop.
    pub fn forget_code_pages(&mut self) {
        for w in self.code_pages.iter() {
            w.set(0);
        }
    }

    /// The number of code events logged so far: a reader whose cursor
    /// equals it has nothing to catch up on.
    #[inline]
    pub fn code_seq(&self) -> u64 {
        self.code_seq.get()
    }

    /// Hands `f` the events logged since `cursor` (one [`CodeEvent::Lost`]
    /// if they no longer fit the log) and returns the new cursor.
    pub fn code_events_since(&self, cursor: u64, mut f: impl FnMut(CodeEvent)) -> u64 {
        let seq = self.code_seq.get();
        if seq - cursor.min(seq) > CODE_LOG_LEN as u64 {
            f(CodeEvent::Lost);
            return seq;
        }
        let log = self.code_log.borrow();
        for i in cursor..seq {
            f(log.ring[i as usize % CODE_LOG_LEN]);
        }
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_read_write_and_holes() {
        let m = GuestMemory::new(2 << 20).expect("mem");
        m.write_u32(0x1000, 0xDEAD_BEEF).expect("write");
        assert_eq!(m.read_u32(0x1000), Ok(0xDEAD_BEEF));
        assert_eq!(m.read_u8(0x20_0000), Err(Unmapped(0x20_0000)));
        // A read straddling the end of RAM fails at the first unmapped byte.
        let mut b = [0u8; 4];
        assert_eq!(m.read(0x1F_FFFE, &mut b), Err(Unmapped(0x20_0000)));
        assert!(GuestMemory::new(4096).is_err());
    }

    #[test]
    fn rom_is_read_only() {
        let mut m = GuestMemory::new(1 << 20).expect("mem");
        m.set_rom(0xFFFF_0000, vec![0xAB; 0x1_0000]).expect("rom");
        assert_eq!(m.read_u8(0xFFFF_FFF0), Ok(0xAB));
        assert!(m.write_u8(0xFFFF_FFF0, 0).is_ok());
        assert_eq!(m.read_u8(0xFFFF_FFF0), Ok(0xAB));
    }

    #[test]
    fn code_page_events_are_logged_once() {
        let m = GuestMemory::new(4 << 20).expect("mem");
        m.mark_code_page(0x3000);
        m.mark_code_page(0x3FFF);
        m.write_u8(0x3010, 1).expect("write");
        m.write_u8(0x3011, 1).expect("write");
        let mut v = Vec::new();
        let cursor = m.code_events_since(0, |e| v.push(e));
        assert_eq!(
            v,
            vec![CodeEvent::Marked(0x3000), CodeEvent::Written(0x3000)]
        );
        assert!(!m.is_code_page(0x3000));
        assert_eq!(cursor, m.code_seq());
        // A second reader further behind than the log holds sees `Lost`.
        for i in 0..CODE_LOG_LEN as u64 {
            m.mark_code_page(0x10000 + i * PAGE_SIZE);
        }
        let mut late = Vec::new();
        m.code_events_since(0, |e| late.push(e));
        assert_eq!(late, vec![CodeEvent::Lost]);
        let mut v = Vec::new();
        m.code_events_since(cursor, |e| v.push(e));
        assert_eq!(v.len(), CODE_LOG_LEN);
    }
}
