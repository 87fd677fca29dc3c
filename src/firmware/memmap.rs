//! The physical memory map a PC BIOS reports (INT 15h E820), which the
//! multiboot loader passes on as the MBI memory map.
//!
//! It follows what SeaBIOS reports under QEMU: conventional memory up to the
//! extended BIOS data area at 0x9FC00, the EBDA reserved, the VGA window and
//! option ROMs (0xA0000–0xDFFFF) not listed at all, the system BIOS area
//! 0xE0000–0xFFFFF reserved (nestor's ACPI tables live there, see
//! [`super::acpi`]), then RAM from 1 MiB to the PCI hole and RAM above
//! 4 GiB.

use crate::machine::layout::{BIOS_AREA, BIOS_AREA_END, HIGH_RAM_BASE};
use crate::machine::memory::GuestMemory;

/// Start of the extended BIOS data area: conventional memory ends here.
pub const EBDA_BASE: u64 = 0x9_FC00;
/// End of the EBDA (start of the VGA window).
pub const EBDA_END: u64 = 0xA_0000;
/// Start of "upper" memory in the multiboot sense (1 MiB).
pub const UPPER_MEM_BASE: u64 = 0x10_0000;

/// Address range types (ACPI 6.x section 15.1, table "Address Range
/// Types": the E820 numbering that Multiboot 0.6.96 section 3.3 reuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MemKind {
    /// AddressRangeMemory: usable RAM.
    Ram = 1,
    /// AddressRangeReserved: in use or reserved by the system.
    Reserved = 2,
}

/// One range of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub len: u64,
    /// What the range is.
    pub kind: MemKind,
}

impl MemRegion {
    /// First byte after the range.
    pub fn end(&self) -> u64 {
        self.base + self.len
    }
}

/// The memory map of a machine with `mem`'s RAM, sorted by address.
pub fn memory_map(mem: &GuestMemory) -> Vec<MemRegion> {
    let region = |base: u64, end: u64, kind| MemRegion {
        base,
        len: end - base,
        kind,
    };
    let mut map = vec![
        region(0, EBDA_BASE, MemKind::Ram),
        region(EBDA_BASE, EBDA_END, MemKind::Reserved),
        region(BIOS_AREA, BIOS_AREA_END, MemKind::Reserved),
    ];
    // GuestMemory always has at least 1 MiB below the PCI hole.
    if mem.low_ram() > UPPER_MEM_BASE {
        map.push(region(UPPER_MEM_BASE, mem.low_ram(), MemKind::Ram));
    }
    if mem.high_ram() > 0 {
        map.push(region(
            HIGH_RAM_BASE,
            HIGH_RAM_BASE + mem.high_ram(),
            MemKind::Ram,
        ));
    }
    map
}

/// RAM the boot loader may hand out for its own data (boot information,
/// modules): the usable RAM of the map below 4 GiB, minus page 0 (the real
/// mode IVT, and where kvm-unit-tests copies its AP trampoline).
pub fn loader_ram_below_4g(mem: &GuestMemory) -> Vec<(u64, u64)> {
    memory_map(mem)
        .iter()
        .filter(|r| r.kind == MemKind::Ram && r.end() <= HIGH_RAM_BASE)
        .map(|r| (r.base.max(0x1000), r.end()))
        .filter(|(a, b)| a < b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_map_for_small_and_large_machines() {
        let m = GuestMemory::new(64 << 20).expect("mem");
        let map = memory_map(&m);
        assert_eq!(map.len(), 4);
        assert_eq!((map[0].base, map[0].len), (0, 0x9_FC00));
        assert_eq!(map[1].kind, MemKind::Reserved);
        assert_eq!((map[2].base, map[2].end()), (0xE_0000, 0x10_0000));
        assert_eq!((map[3].base, map[3].end()), (0x10_0000, 64 << 20));
        let m = GuestMemory::new(1 << 20).expect("mem");
        assert_eq!(memory_map(&m).len(), 3);
        assert_eq!(loader_ram_below_4g(&m), vec![(0x1000, 0x9_FC00)]);
    }
}
