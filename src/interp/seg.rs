//! Segment-register loads and descriptor checks (SDM Vol. 3A Chapter 3
//! "Protected-Mode Memory Management" and 6 "Protection"; the MOV/POP to
//! segment register pages of Vol. 2).

use super::cpu::{Mode, attn};
use super::events::vec;
use super::exec::{Ctx, Exec, Stop};
use crate::state::segment::ar;
use crate::state::{SegReg, Segment};

/// A raw 8-byte descriptor (16 for system descriptors in IA-32e mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub lo: u64,
    pub hi: u64,
}

impl Descriptor {
    /// Access rights in the VMX format: type/S/DPL/P from byte 5,
    /// AVL/L/D/G from the high nibble of byte 6.
    pub fn attr(&self) -> u32 {
        (((self.lo >> 40) & 0xFF) | ((self.lo >> 40) & 0xF000)) as u32
    }
    pub fn base(&self) -> u64 {
        ((self.lo >> 16) & 0xFF_FFFF) | ((self.lo >> 32) & 0xFF00_0000)
    }
    /// Base of a 16-byte system descriptor in IA-32e mode.
    pub fn base64(&self) -> u64 {
        self.base() | (self.hi & 0xFFFF_FFFF) << 32
    }
    /// Byte-granular limit.
    pub fn limit(&self) -> u32 {
        let raw = ((self.lo & 0xFFFF) | ((self.lo >> 32) & 0xF_0000)) as u32;
        if self.attr() & ar::G != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }
    pub fn dpl(&self) -> u8 {
        ((self.attr() >> 5) & 3) as u8
    }
    pub fn present(&self) -> bool {
        self.attr() & ar::P != 0
    }
    pub fn is_system(&self) -> bool {
        self.attr() & ar::S == 0
    }
    pub fn is_code(&self) -> bool {
        !self.is_system() && self.attr() & ar::CODE != 0
    }
    pub fn seg_type(&self) -> u32 {
        self.attr() & 0xF
    }
    /// The segment-register image of this descriptor.
    pub fn to_segment(&self, selector: u16) -> Segment {
        Segment::new(selector, self.base(), self.limit(), self.attr())
    }
}

/// Error-code form of a selector for #GP/#NP/#SS/#TS (SDM 7.13).
#[inline]
pub fn sel_ec(sel: u16) -> u32 {
    u32::from(sel & 0xFFFC)
}

/// An unusable (null) segment as loaded by a null selector.
pub fn null_segment(sel: u16) -> Segment {
    Segment::new(sel, 0, 0, ar::UNUSABLE)
}

impl Ctx {
    /// Linear address of the descriptor for `sel` in the GDT or LDT, or
    /// #GP(sel) if outside the table limit (`ext` sets the EXT bit).
    pub fn descriptor_addr(&mut self, sel: u16, size: u64, ext: u32) -> Result<u64, Stop> {
        let (base, limit) = if sel & 4 != 0 {
            let l = self.cpu.s.ldtr;
            if l.unusable() || !l.present() {
                return Err(self.cpu.gp(sel_ec(sel) | ext));
            }
            (l.base, u64::from(l.limit))
        } else {
            (self.cpu.s.gdtr.base, u64::from(self.cpu.s.gdtr.limit))
        };
        let off = u64::from(sel & 0xFFF8);
        if off + size - 1 > limit {
            return Err(self.cpu.gp(sel_ec(sel) | ext));
        }
        Ok(base.wrapping_add(off))
    }

    /// Reads the 8-byte descriptor of `sel`.
    pub fn read_descriptor(&mut self, sel: u16, ext: u32) -> Result<Descriptor, Stop> {
        let a = self.descriptor_addr(sel, 8, ext)?;
        let lo = self.read_sys(a, 8)?;
        Ok(Descriptor { lo, hi: 0 })
    }

    /// Reads a 16-byte system descriptor (IA-32e mode LDT/TSS/gates).
    pub fn read_descriptor16(&mut self, sel: u16, ext: u32) -> Result<Descriptor, Stop> {
        let a = self.descriptor_addr(sel, 16, ext)?;
        let lo = self.read_sys(a, 8)?;
        let hi = self.read_sys(a.wrapping_add(8), 8)?;
        Ok(Descriptor { lo, hi })
    }

    /// Sets the accessed bit of the descriptor of `sel` if clear.
    pub fn set_accessed(&mut self, sel: u16, d: &Descriptor) -> Exec {
        if d.lo & (1 << 40) == 0 {
            let a = self.descriptor_addr(sel, 8, 0)?;
            self.write_sys(a.wrapping_add(5), 1, ((d.lo >> 40) & 0xFF) | 1)?;
        }
        Ok(())
    }

    /// Writes a segment register and refreshes the derived caches.
    pub fn commit_segment(&mut self, sr: SegReg, seg: Segment) {
        *self.cpu.s.seg_mut(sr) = seg;
        if sr == SegReg::Cs || sr == SegReg::Ss {
            self.cpu.refresh_mode();
            self.cpu.attention |= attn::MODE;
        } else {
            let c = self.cpu.seg_cache_for(sr);
            self.cpu.segs[sr as usize] = c;
        }
    }

    /// MOV/POP to a data or stack segment register (not CS), in any mode.
    pub fn load_data_segment(&mut self, sr: SegReg, sel: u16) -> Exec {
        let seg = self.check_data_segment(sr, sel)?;
        self.commit_segment(sr, seg);
        Ok(())
    }

    /// The checks of MOV Sreg (SDM Vol. 2B "MOV—Move", protected-mode
    /// pseudocode) without committing: the new segment register image.
    pub fn check_data_segment(&mut self, sr: SegReg, sel: u16) -> Result<Segment, Stop> {
        match self.cpu.mode {
            Mode::Real => {
                let mut s = *self.cpu.s.seg(sr);
                s.selector = sel;
                s.base = u64::from(sel) << 4;
                // Real-mode loads keep the cached limit and rights, but the
                // segment becomes usable (SDM 20.1.1).
                s.attr = (s.attr & !ar::UNUSABLE) | ar::P;
                return Ok(s);
            }
            Mode::V86 => {
                // Virtual-8086: 64 KiB read/write data at DPL 3 (SDM 20.2.1).
                let attr = ar::P | ar::S | ar::RW | ar::ACCESSED | (3 << ar::DPL_SHIFT);
                return Ok(Segment::new(sel, u64::from(sel) << 4, 0xFFFF, attr));
            }
            _ => {}
        }
        let cpl = self.cpu.cpl;
        let rpl = (sel & 3) as u8;
        if sel & 0xFFFC == 0 {
            if sr == SegReg::Ss {
                // A null SS is allowed only in 64-bit mode at CPL < 3 with
                // RPL = CPL (SDM Vol. 2B "MOV", "POP").
                if !(self.cpu.mode == Mode::Long && cpl < 3 && rpl == cpl) {
                    return Err(self.cpu.gp(0));
                }
                let mut s = null_segment(sel);
                s.attr |= u32::from(cpl) << ar::DPL_SHIFT;
                return Ok(s);
            }
            return Ok(null_segment(sel));
        }
        let d = self.read_descriptor(sel, 0)?;
        if sr == SegReg::Ss {
            // RPL = CPL, writable data, DPL = CPL; not present → #SS(sel).
            if rpl != cpl
                || d.is_system()
                || d.is_code()
                || d.attr() & ar::RW == 0
                || d.dpl() != cpl
            {
                return Err(self.cpu.gp(sel_ec(sel)));
            }
            if !d.present() {
                return Err(self.cpu.raise(vec::SS, Some(sel_ec(sel))));
            }
        } else {
            // Data or readable code; for data and non-conforming code the
            // DPL must be >= both CPL and RPL; not present → #NP(sel).
            let readable_code = d.is_code() && d.attr() & ar::RW != 0;
            if d.is_system() || (d.is_code() && !readable_code) {
                return Err(self.cpu.gp(sel_ec(sel)));
            }
            let conforming = d.is_code() && d.attr() & ar::DC != 0;
            if !conforming && (d.dpl() < cpl || d.dpl() < rpl) {
                return Err(self.cpu.gp(sel_ec(sel)));
            }
            if !d.present() {
                return Err(self.cpu.raise(vec::NP, Some(sel_ec(sel))));
            }
        }
        self.set_accessed(sel, &d)?;
        let mut seg = d.to_segment(sel);
        seg.attr |= ar::ACCESSED;
        Ok(seg)
    }

    /// After a privilege change to `cpl`, data segments whose DPL is below
    /// the new CPL get a null selector (RET/IRET to an outer level, SDM
    /// Vol. 2A "IRET": "SegmentSelector ← 0"). Only the selector changes and
    /// the segment becomes unusable; the hidden base stays (an FS/GS base
    /// set through the MSRs survives the return, as on hardware).
    pub fn invalidate_segments_for_cpl(&mut self, cpl: u8) {
        for sr in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let mut s = *self.cpu.s.seg(sr);
            let conforming_code = s.attr & ar::CODE != 0 && s.attr & ar::DC != 0;
            if !s.unusable() && s.dpl() < cpl && !conforming_code {
                s.selector = 0;
                s.attr = (s.attr | ar::UNUSABLE) & !ar::P;
                self.commit_segment(sr, s);
            }
        }
    }
}
