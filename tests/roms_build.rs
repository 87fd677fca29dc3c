//! The bundled guest images (`roms/`, built by build.rs) are embedded,
//! well-formed multiboot ELF32 kernels with unique names.

use std::collections::HashSet;

use nestor::roms;

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

#[test]
fn every_image_is_embedded_with_unique_name() {
    let all = roms::all();
    assert!(!all.is_empty());
    let mut names = HashSet::new();
    for rom in all {
        assert!(names.insert(rom.name), "duplicate image name {}", rom.name);
        assert!(!rom.image.is_empty(), "{}: empty image", rom.name);
        assert!(!rom.description.is_empty(), "{}: no description", rom.name);
        assert!(rom.smp >= 1, "{}: smp", rom.name);
        assert!(!rom.cpu.is_empty(), "{}: cpu model", rom.name);
        assert!(
            rom.expect_status == roms::SHUTDOWN || rom.expect_status & 1 == 1,
            "{}: expect_status {} is neither (code << 1) | 1 nor SHUTDOWN",
            rom.name,
            rom.expect_status
        );
        assert!(std::ptr::eq(roms::find(rom.name).unwrap(), rom));
    }
    assert!(roms::find("no-such-image").is_none());
    for required in [
        "demo",
        "modes",
        "paging",
        "exceptions",
        "triple_fault",
        "smc",
        "string",
        "x87_sse",
        "xsave",
        "bench_int",
        "bench_paging",
        "bench_irq",
        "serial",
        "fw_cfg",
        "apic_timer",
        "ipi",
        "ioapic",
        "pic",
        "pci",
        "acpi",
    ] {
        assert!(roms::find(required).is_some(), "{required} missing");
    }
    assert_eq!(
        roms::find("triple_fault").unwrap().expect_status,
        roms::SHUTDOWN
    );
    assert!(roms::find("ipi").unwrap().smp >= 2);
}

#[test]
fn every_image_is_elf32_i386_executable() {
    for rom in roms::all() {
        let b = rom.image;
        assert!(b.len() > 52, "{}: too short", rom.name);
        assert_eq!(&b[0..4], b"\x7fELF", "{}: ELF magic", rom.name);
        assert_eq!(b[4], 1, "{}: ELFCLASS32", rom.name);
        assert_eq!(b[5], 1, "{}: little endian", rom.name);
        assert_eq!(u16_at(b, 16), 2, "{}: ET_EXEC", rom.name);
        assert_eq!(u16_at(b, 18), 3, "{}: EM_386", rom.name);
        let entry = u32_at(b, 24);
        let phoff = u32_at(b, 28) as usize;
        let phentsize = u16_at(b, 42) as usize;
        let phnum = u16_at(b, 44) as usize;
        assert!(phnum > 0, "{}: no program headers", rom.name);
        let mut entry_loaded = false;
        for i in 0..phnum {
            let ph = phoff + i * phentsize;
            if u32_at(b, ph) != 1 {
                continue; // not PT_LOAD
            }
            let (off, paddr) = (u32_at(b, ph + 4) as usize, u32_at(b, ph + 12));
            let (filesz, memsz) = (u32_at(b, ph + 16) as usize, u32_at(b, ph + 20));
            assert!(
                off + filesz <= b.len(),
                "{}: segment {i} beyond the file",
                rom.name
            );
            assert!(
                filesz as u32 <= memsz,
                "{}: segment {i} filesz > memsz",
                rom.name
            );
            assert!(paddr >= 0x10_0000, "{}: segment {i} below 1 MiB", rom.name);
            if entry >= paddr && entry < paddr + filesz as u32 {
                entry_loaded = true;
            }
        }
        assert!(
            entry_loaded,
            "{}: entry {entry:#x} not in a loaded segment",
            rom.name
        );
    }
}

#[test]
fn every_image_has_a_multiboot_header_in_first_8k() {
    for rom in roms::all() {
        let b = rom.image;
        let end = b.len().min(8192);
        let found = (0..end.saturating_sub(12)).step_by(4).find(|&off| {
            let magic = u32_at(b, off);
            let flags = u32_at(b, off + 4);
            let sum = u32_at(b, off + 8);
            magic == 0x1BAD_B002 && magic.wrapping_add(flags).wrapping_add(sum) == 0
        });
        let off = found.unwrap_or_else(|| panic!("{}: no multiboot header", rom.name));
        // Flags 0: no address fields, the loader uses the program headers.
        assert_eq!(
            u32_at(b, off + 4) & 0x0001_0000,
            0,
            "{}: a.out kludge set",
            rom.name
        );
    }
}
