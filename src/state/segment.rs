//! Segment registers with their hidden (descriptor-cache) parts.

use serde::{Deserialize, Serialize};

/// Segment register numbers, in the encoding order of the Sreg field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum SegReg {
    Es = 0,
    Cs = 1,
    Ss = 2,
    Ds = 3,
    Fs = 4,
    Gs = 5,
}

impl SegReg {
    pub const ALL: [SegReg; 6] = [
        SegReg::Es,
        SegReg::Cs,
        SegReg::Ss,
        SegReg::Ds,
        SegReg::Fs,
        SegReg::Gs,
    ];
}

/// Access-rights bits in the VMX guest-segment format (SDM Vol. 3C, Table
/// 25-2 "Format of Access Rights"), which is the descriptor's bytes 5–6 with
/// the limit nibble squeezed out, plus bit 16 "segment unusable".
pub mod ar {
    pub const TYPE_MASK: u32 = 0xF;
    /// Type bit 0: accessed.
    pub const ACCESSED: u32 = 1 << 0;
    /// Type bit 1: readable (code) / writable (data).
    pub const RW: u32 = 1 << 1;
    /// Type bit 2: conforming (code) / expand-down (data).
    pub const DC: u32 = 1 << 2;
    /// Type bit 3: code.
    pub const CODE: u32 = 1 << 3;
    /// Descriptor type: 1 = code/data, 0 = system.
    pub const S: u32 = 1 << 4;
    pub const DPL_SHIFT: u32 = 5;
    pub const DPL_MASK: u32 = 3 << DPL_SHIFT;
    pub const P: u32 = 1 << 7;
    pub const AVL: u32 = 1 << 12;
    /// 64-bit code segment.
    pub const L: u32 = 1 << 13;
    /// Default operation size (D/B).
    pub const DB: u32 = 1 << 14;
    /// Granularity.
    pub const G: u32 = 1 << 15;
    pub const UNUSABLE: u32 = 1 << 16;

    /// System-descriptor types.
    pub const TYPE_LDT: u32 = 2;
    pub const TYPE_TSS16_BUSY: u32 = 3;
    pub const TYPE_TSS32_AVAIL: u32 = 9;
    pub const TYPE_TSS_BUSY: u32 = 11;
}

/// A segment register: the visible selector and the hidden base, limit and
/// attributes loaded from the descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Segment {
    pub selector: u16,
    pub base: u64,
    /// Byte-granular limit (already scaled by G).
    pub limit: u32,
    /// Access rights in the [`ar`] format.
    pub attr: u32,
}

impl Segment {
    pub const fn new(selector: u16, base: u64, limit: u32, attr: u32) -> Self {
        Segment {
            selector,
            base,
            limit,
            attr,
        }
    }
    #[inline]
    pub fn dpl(&self) -> u8 {
        ((self.attr & ar::DPL_MASK) >> ar::DPL_SHIFT) as u8
    }
    #[inline]
    pub fn present(&self) -> bool {
        self.attr & ar::P != 0
    }
    #[inline]
    pub fn unusable(&self) -> bool {
        self.attr & ar::UNUSABLE != 0
    }
    #[inline]
    pub fn seg_type(&self) -> u32 {
        self.attr & ar::TYPE_MASK
    }
    #[inline]
    pub fn is_long(&self) -> bool {
        self.attr & ar::L != 0
    }
    #[inline]
    pub fn is_big(&self) -> bool {
        self.attr & ar::DB != 0
    }
    /// Real-mode style load: base = selector × 16, attributes untouched.
    pub fn load_real(&mut self, selector: u16) {
        self.selector = selector;
        self.base = u64::from(selector) << 4;
    }
}

/// GDTR or IDTR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DescriptorTable {
    pub base: u64,
    pub limit: u16,
}
