//! Loader tests on hand-built images (a tiny byte-level ELF writer) and, when
//! /work/kut-src/x86 exists, on the real kvm-unit-tests images.

use super::multiboot::{BOOTLOADER_MAGIC, HEADER_MAGIC, find_header, header_flags, mbi};
use super::*;
use crate::machine::memory::GuestMemory;

const MB: u64 = 1 << 20;

/// One segment for the ELF writer.
struct Seg {
    paddr: u64,
    vaddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

fn seg(paddr: u64, data: &[u8], memsz: u64) -> Seg {
    Seg {
        paddr,
        vaddr: paddr,
        data: data.to_vec(),
        memsz,
    }
}

/// A multiboot header with `flags` and a correct checksum.
fn mb_header(flags: u32) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [
        HEADER_MAGIC,
        flags,
        0u32.wrapping_sub(HEADER_MAGIC.wrapping_add(flags)),
    ] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

/// Writes an executable: ELF header, program headers, then `extra` (the
/// multiboot header, 4-byte aligned), then each segment's data 16-aligned.
fn build_elf(elf64: bool, entry: u64, segs: &[Seg], extra: &[u8]) -> Vec<u8> {
    let (ehsize, phsize) = if elf64 { (64, 56) } else { (52, 32) };
    let mut f = vec![0u8; ehsize + phsize * segs.len()];
    f.extend_from_slice(extra);
    let mut offsets = Vec::new();
    for s in segs {
        f.resize(f.len().next_multiple_of(16), 0);
        offsets.push(f.len() as u64);
        f.extend_from_slice(&s.data);
    }
    let put = |f: &mut Vec<u8>, off: usize, b: &[u8]| f[off..off + b.len()].copy_from_slice(b);
    put(
        &mut f,
        0,
        &[0x7F, b'E', b'L', b'F', if elf64 { 2 } else { 1 }, 1, 1],
    );
    put(&mut f, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut f, 18, &(if elf64 { 62u16 } else { 3 }).to_le_bytes());
    put(&mut f, 20, &1u32.to_le_bytes());
    let n = segs.len() as u16;
    if elf64 {
        put(&mut f, 24, &entry.to_le_bytes());
        put(&mut f, 32, &(ehsize as u64).to_le_bytes());
        put(&mut f, 52, &(ehsize as u16).to_le_bytes());
        put(&mut f, 54, &(phsize as u16).to_le_bytes());
        put(&mut f, 56, &n.to_le_bytes());
    } else {
        put(&mut f, 24, &(entry as u32).to_le_bytes());
        put(&mut f, 28, &(ehsize as u32).to_le_bytes());
        put(&mut f, 40, &(ehsize as u16).to_le_bytes());
        put(&mut f, 42, &(phsize as u16).to_le_bytes());
        put(&mut f, 44, &n.to_le_bytes());
    }
    for (i, s) in segs.iter().enumerate() {
        let p = ehsize + i * phsize;
        put(&mut f, p, &1u32.to_le_bytes()); // PT_LOAD
        let filesz = s.data.len() as u64;
        if elf64 {
            put(&mut f, p + 4, &7u32.to_le_bytes());
            for (j, v) in [offsets[i], s.vaddr, s.paddr, filesz, s.memsz, 0x1000]
                .iter()
                .enumerate()
            {
                put(&mut f, p + 8 + 8 * j, &v.to_le_bytes());
            }
        } else {
            for (j, v) in [offsets[i], s.vaddr, s.paddr, filesz, s.memsz, 7, 0x1000]
                .iter()
                .enumerate()
            {
                put(&mut f, p + 4 + 4 * j, &(*v as u32).to_le_bytes());
            }
        }
    }
    f
}

/// A small kernel at 4 MiB like kvm-unit-tests': text, then data + BSS.
fn sample_kernel(elf64: bool) -> Vec<u8> {
    let segs = [
        seg(0x40_0000, &[0x90; 0x300], 0x300),
        seg(0x40_1000, &[0xAB; 0x100], 0x5000),
    ];
    build_elf(elf64, 0x40_0010, &segs, &mb_header(0))
}

fn mem() -> GuestMemory {
    GuestMemory::new(64 * MB).expect("mem")
}

fn cstr(m: &GuestMemory, addr: u64) -> String {
    let mut s = Vec::new();
    for a in addr.. {
        match m.read_u8(a).expect("string in RAM") {
            0 => break,
            c => s.push(c),
        }
    }
    String::from_utf8(s).expect("utf-8")
}

fn err_of(r: Result<BootInfo, LoadError>) -> String {
    r.expect_err("load must fail").to_string()
}

#[test]
fn elf32_and_elf64_segments_are_loaded_and_bss_zeroed() {
    for elf64 in [false, true] {
        let m = mem();
        // Garbage where the BSS goes: the loader must clear it.
        m.write(0x40_1000, &[0xEE; 0x5000]).expect("prefill");
        let b = load_kernel(&m, &sample_kernel(elf64), "k", None).expect("load");
        assert_eq!(b.entry, 0x40_0010);
        assert_eq!(b.image_end, 0x40_6000);
        assert_eq!(m.read_u8(0x40_02FF), Ok(0x90));
        assert_eq!(m.read_u8(0x40_10FF), Ok(0xAB));
        let mut bss = vec![1u8; 0x4F00];
        m.read(0x40_1100, &mut bss).expect("read");
        assert!(bss.iter().all(|&b| b == 0), "BSS zeroed (elf64 = {elf64})");
    }
}

#[test]
fn elf_entry_is_translated_from_virtual_to_physical() {
    let mut s = seg(0x20_0000, &[0xC3; 16], 16);
    s.vaddr = 0xC020_0000;
    let img = build_elf(false, 0xC020_0004, &[s], &mb_header(0));
    let b = load_kernel(&mem(), &img, "k", None).expect("load");
    assert_eq!(b.entry, 0x20_0004);
}

#[test]
fn header_search_rules() {
    // Found at any 4-byte aligned offset in the first 8 KiB.
    let mut img = vec![0u8; 0x3000];
    img[0x1FF4..0x2000].copy_from_slice(&mb_header(0));
    assert_eq!(find_header(&img).expect("found").offset, 0x1FF4);
    // Not at an unaligned offset, nor past 8192 bytes (even partly).
    let mut img = vec![0u8; 0x3000];
    img[0x102..0x10E].copy_from_slice(&mb_header(0));
    img[0x1FF8..0x2004].copy_from_slice(&mb_header(0));
    let e = find_header(&img).expect_err("none");
    assert!(e.to_string().contains("no multiboot header"), "{e}");
    // Too short a file is not a panic.
    assert!(find_header(&[]).is_err());
    assert!(find_header(&HEADER_MAGIC.to_le_bytes()).is_err());
}

#[test]
fn bad_magic_checksum_and_flags_are_refused() {
    let segs = [seg(0x40_0000, &[1; 16], 16)];
    let no_header = build_elf(false, 0x40_0000, &segs, &[]);
    assert!(err_of(load_kernel(&mem(), &no_header, "", None)).contains("no multiboot header"));

    let mut bad_sum = mb_header(0);
    bad_sum[8] ^= 1;
    let img = build_elf(false, 0x40_0000, &segs, &bad_sum);
    let e = err_of(load_kernel(&mem(), &img, "", None));
    assert!(e.contains("bad checksum"), "{e}");

    // Bit 3 is a requirement nestor does not know: refused.
    let img = build_elf(false, 0x40_0000, &segs, &mb_header(1 << 3));
    let e = err_of(load_kernel(&mem(), &img, "", None));
    assert!(e.contains("unsupported") && e.contains("0x8"), "{e}");
    // Page alignment, memory info and (ignored) video mode are accepted, as
    // are unknown optional bits.
    let flags = header_flags::PAGE_ALIGN | header_flags::MEMORY_INFO | header_flags::VIDEO_MODE;
    let img = build_elf(false, 0x40_0000, &segs, &mb_header(flags | 1 << 20));
    load_kernel(&mem(), &img, "", None).expect("accepted");

    // A multiboot header without address fields on a non-ELF file.
    let mut raw = mb_header(0);
    raw.resize(64, 0);
    assert!(err_of(load_kernel(&mem(), &raw, "", None)).contains("not an ELF file"));
}

#[test]
fn corrupt_elf_headers_are_clear_errors() {
    let good = sample_kernel(false);
    let check = |img: &[u8], want: &str| {
        let e = err_of(load_kernel(&mem(), img, "", None));
        assert!(e.contains(want), "wanted {want:?} in {e:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    };
    // Program header table cut off (the multiboot header, which follows
    // it, is cut off too: parse the ELF alone).
    let e = elf::parse(&good[..52 + 40]).expect_err("truncated");
    assert!(e.to_string().contains("program header table"), "{e}");
    // e_phnum larger than the file holds.
    let mut img = good.clone();
    img[44] = 200;
    check(&img, "program header table");
    // Segment data past the end of the file.
    check(&good[..good.len() - 1], "past the end of the file");
    // filesz > memsz.
    let mut img = good.clone();
    // Second program header's p_memsz: 0x5000 -> 0x10, below p_filesz.
    img[52 + 32 + 20] = 0x10;
    img[52 + 32 + 21] = 0;
    check(&img, "larger than memory size");
    // Class, data encoding, machine, type.
    let mut img = good.clone();
    img[4] = 3;
    check(&img, "class 3");
    let mut img = good.clone();
    img[5] = 2;
    check(&img, "little-endian");
    let mut img = good.clone();
    img[18] = 40;
    check(&img, "machine 40");
    let mut img = good.clone();
    img[16] = 3;
    check(&img, "not an executable");
    let mut img = good.clone();
    img[42] = 8;
    check(&img, "entry size 8");
}

#[test]
fn truncation_and_corruption_never_panic() {
    for elf64 in [false, true] {
        let good = sample_kernel(elf64);
        let m = mem();
        for len in 0..good.len() {
            let _ = load_kernel(&m, &good[..len], "x", Some(b"E=1"));
        }
        // Deterministic byte flips in the headers.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut img = good.clone();
            let at = (x as usize) % 200.min(img.len());
            img[at] = (x >> 8) as u8;
            let _ = load_kernel(&m, &img, "x", Some(b"E=1"));
        }
    }
}

#[test]
fn segments_outside_ram_or_in_the_bios_area_are_refused() {
    let m = mem();
    let hole = build_elf(
        false,
        0x40_0000,
        &[seg(0xC000_0000, &[1], 1)],
        &mb_header(0),
    );
    assert!(err_of(load_kernel(&m, &hole, "", None)).contains("outside guest RAM"));
    // Straddling the end of RAM (BSS reaching past 64 MiB).
    let end = build_elf(
        false,
        0x40_0000,
        &[seg(63 * MB, &[1], 2 * MB)],
        &mb_header(0),
    );
    assert!(err_of(load_kernel(&m, &end, "", None)).contains("outside guest RAM"));
    let bios = build_elf(false, 0xF_0000, &[seg(0xF_0000, &[1], 16)], &mb_header(0));
    assert!(err_of(load_kernel(&m, &bios, "", None)).contains("BIOS area"));
    let ebda = build_elf(
        false,
        0x9_0000,
        &[seg(0x9_0000, &[1], 0x10000)],
        &mb_header(0),
    );
    assert!(err_of(load_kernel(&m, &ebda, "", None)).contains("BIOS area"));
    // ELF64 entry above 4 GiB cannot be reached from 32-bit mode.
    let far = build_elf(true, 1 << 33, &[seg(0x40_0000, &[1], 1)], &mb_header(0));
    assert!(err_of(load_kernel(&m, &far, "", None)).contains("entry point"));
}

#[test]
fn mbi_fields_mmap_cmdline_and_module() {
    let m = mem();
    let env = b"NR_CPUS=2\nMEMSIZE=64\n";
    let b = load_kernel(&m, &sample_kernel(false), "/x/apic.flat -v 1", Some(env)).expect("load");
    let mbi = b.mbi_addr;
    assert_eq!(mbi, 0x9000, "QEMU's MBI address when free");
    let rd = |off: u64| m.read_u32(mbi + off).expect("mbi");
    assert_eq!(rd(mbi::FLAGS), 1 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9);
    assert_eq!(rd(mbi::MEM_LOWER), 639);
    assert_eq!(rd(mbi::MEM_UPPER), 63 * 1024);
    assert_eq!(cstr(&m, rd(mbi::CMDLINE).into()), "/x/apic.flat -v 1");
    assert_eq!(cstr(&m, rd(mbi::BOOT_LOADER_NAME).into()), "nestor");
    // One module: the initrd bytes, page aligned just above the image.
    assert_eq!(rd(mbi::MODS_COUNT), 1);
    let md = u64::from(rd(mbi::MODS_ADDR));
    let (start, end) = (m.read_u32(md).expect("r"), m.read_u32(md + 4).expect("r"));
    assert_eq!(u64::from(start), b.image_end.next_multiple_of(4096));
    assert_eq!(end - start, env.len() as u32);
    let mut got = vec![0; env.len()];
    m.read(start.into(), &mut got).expect("read");
    assert_eq!(&got, env);
    assert_eq!(cstr(&m, m.read_u32(md + 8).expect("r").into()), "initrd");
    // The memory map.
    let (len, addr) = (rd(mbi::MMAP_LENGTH), u64::from(rd(mbi::MMAP_ADDR)));
    let mut map = Vec::new();
    let mut e = addr;
    while e < addr + u64::from(len) {
        let size = m.read_u32(e).expect("size");
        map.push((
            m.read_u64(e + 4).expect("base"),
            m.read_u64(e + 12).expect("len"),
            m.read_u32(e + 20).expect("type"),
        ));
        e += u64::from(size) + 4;
    }
    assert_eq!(
        map,
        vec![
            (0, 0x9_FC00, 1),
            (0x9_FC00, 0x400, 2),
            (0xE_0000, 0x2_0000, 2),
            (MB, 63 * MB, 1)
        ]
    );
    // Nothing overlaps: page 0, the image, the module, the info block.
    let info_end = u64::from(rd(mbi::CMDLINE)) + 64;
    assert!(mbi >= 0x1000 && info_end <= 0x9_FC00);
    assert!(u64::from(start) >= b.image_end);
}

#[test]
fn no_module_means_no_mods_flag() {
    let m = mem();
    let b = load_kernel(&m, &sample_kernel(true), "k", None).expect("load");
    assert_eq!(m.read_u32(b.mbi_addr + mbi::FLAGS).expect("r") & 1 << 3, 0);
    assert_eq!(m.read_u32(b.mbi_addr + mbi::MODS_COUNT), Ok(0));
    assert!(err_of(load_kernel(&m, &sample_kernel(true), "a\0b", None)).contains("NUL"));
}

#[test]
fn info_block_avoids_an_image_in_low_memory() {
    // Like realmode.flat: linked at 0x8000, covering 0x9000.
    let segs = [
        seg(0x8000, &[0x90; 0x286C], 0x286C),
        seg(0xB000, &[1; 0x277C], 0x2A30),
    ];
    let img = build_elf(false, 0x8018, &segs, &mb_header(0));
    let m = mem();
    let b = load_kernel(&m, &img, "realmode.flat", Some(b"X=1\n")).expect("load");
    assert_eq!(b.image_end, 0xDA30);
    let md = u64::from(m.read_u32(b.mbi_addr + mbi::MODS_ADDR).expect("r"));
    let start = u64::from(m.read_u32(md).expect("r"));
    assert_eq!(start, 0xE000, "module right above the image");
    assert_eq!(b.mbi_addr, 0xF000, "info block above the module");
    assert_eq!(m.read_u8(0x8000), Ok(0x90), "image intact");
    assert_eq!(
        cstr(&m, m.read_u32(b.mbi_addr + 16).expect("r").into()),
        "realmode.flat"
    );
}

#[test]
fn full_conventional_memory_pushes_module_and_info_above_1m() {
    // The image fills conventional memory from page 1 to 0x9F800: no free
    // page is left below the EBDA for the module or the info block.
    let img = build_elf(
        false,
        0x1000,
        &[seg(0x1000, &[0x90; 16], 0x9_E800)],
        &mb_header(0),
    );
    let m = mem();
    let module = [0x42u8; 8192];
    let b = load_kernel(&m, &img, "k", Some(&module)).expect("load");
    let md = u64::from(m.read_u32(b.mbi_addr + mbi::MODS_ADDR).expect("r"));
    assert_eq!(m.read_u32(md), Ok(0x10_0000), "module at 1 MiB");
    assert_eq!(b.mbi_addr, 0x10_2000, "info block after the module");
    // The ACPI tables, built afterwards in the BIOS area, clobber nothing.
    crate::firmware::acpi::build_acpi_tables(&m, 2).expect("acpi");
    assert_eq!(
        cstr(&m, m.read_u32(b.mbi_addr + mbi::CMDLINE).expect("r").into()),
        "k"
    );
    assert_eq!(m.read_u8(0x10_1FFF), Ok(0x42));
    assert_eq!(m.read_u8(0x1000), Ok(0x90));
}

#[test]
fn address_fields_load_a_flat_binary() {
    // A raw binary whose header at file offset 8 says: loaded at 1 MiB,
    // 0x40 bytes of file, BSS to 1 MiB + 0x2000, entry 1 MiB + 0x30.
    let base = 0x10_0000u32;
    let flags = header_flags::ADDRESS;
    let mut img = vec![0xCCu8; 8];
    img.extend_from_slice(&mb_header(flags));
    for v in [base + 8, base, base + 0x40, base + 0x2000, base + 0x30] {
        img.extend_from_slice(&v.to_le_bytes());
    }
    img.resize(0x60, 0x77); // bytes past load_end_addr are not loaded
    let m = mem();
    m.write(u64::from(base) + 0x40, &[0xEE; 0x100])
        .expect("prefill");
    let b = load_kernel(&m, &img, "", None).expect("load");
    assert_eq!(b.entry, 0x10_0030);
    assert_eq!(b.image_end, 0x10_2000);
    assert_eq!(m.read_u8(0x10_0000), Ok(0xCC));
    assert_eq!(m.read_u32(0x10_0008), Ok(HEADER_MAGIC));
    assert_eq!(m.read_u8(0x10_003F), Ok(0x77));
    assert_eq!(m.read_u8(0x10_0040), Ok(0), "BSS zeroed");

    // Inconsistent fields.
    let bad = |fields: [u32; 5], want: &str| {
        let mut img = mb_header(flags);
        for v in fields {
            img.extend_from_slice(&v.to_le_bytes());
        }
        let e = err_of(load_kernel(&mem(), &img, "", None));
        assert!(e.contains(want), "wanted {want:?} in {e:?}");
    };
    bad([base, base + 4, 0, 0, base], "above header_addr");
    bad(
        [base + 4, base, 0, 0, base],
        "more than the header's file offset",
    );
    bad(
        [base, base, base + 0x1000, 0, base],
        "past the end of the file",
    );
    bad([base, base, base + 0x10, base + 8, base], "bss_end_addr");
    // Address fields cut off by the end of the file.
    let e = err_of(load_kernel(&mem(), &mb_header(flags), "", None));
    assert!(e.contains("address fields"), "{e}");
}

#[test]
fn entry_state_is_the_multiboot_machine_state() {
    use crate::model::presets::preset;
    use crate::state::reset::ResetParams;
    use crate::state::{SegReg, VcpuState};
    let m = mem();
    let b = load_kernel(&m, &sample_kernel(false), "k", None).expect("load");
    for name in ["qemu64", "EPYC"] {
        let model = preset(name).expect("preset");
        let params = ResetParams {
            apic_id: 0,
            is_bsp: true,
            clock_tsc: 0,
        };
        let (mut s, _) = VcpuState::reset(&model, params);
        multiboot_entry_state(&mut s, &b);
        assert_eq!(s.gpr[0], u64::from(BOOTLOADER_MAGIC));
        assert_eq!(s.gpr[3], b.mbi_addr);
        assert_eq!(s.rip, b.entry);
        assert_eq!(s.rflags, 2);
        assert_eq!(s.cr.cr0, 0x11, "PE | ET, paging off");
        let cs = s.seg(SegReg::Cs);
        assert_eq!(
            (cs.selector, cs.base, cs.limit, cs.attr),
            (0x10, 0, !0, 0xC09B)
        );
        for sr in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs, SegReg::Ss] {
            let d = s.seg(sr);
            assert_eq!((d.selector, d.base, d.limit, d.attr), (0x18, 0, !0, 0xC093));
        }
        assert_eq!(s.cpl(), 0);
        assert_ne!(
            s.msrs.apic_base & crate::apic::base::EN,
            0,
            "{name}: APIC on"
        );
        // The GDT the selectors refer to is in guest memory.
        let gdt = |sel: u64| m.read_u64(s.gdtr.base + sel).expect("gdt");
        assert_eq!(
            (gdt(0x10), gdt(0x18)),
            (0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF)
        );
        assert_eq!(s.gdtr.limit, 31);
    }
}

#[test]
fn firmware_image_is_mapped_at_4g_and_below_1m() {
    let mut m = mem();
    let mut img = vec![0u8; 256 << 10];
    let n = img.len();
    img[n - 16] = 0xEA; // far jmp at the reset vector
    img[n - (128 << 10)] = 0x5A;
    let map = load_firmware(&mut m, &img).expect("load");
    assert_eq!(map.rom_base, 0xFFFC_0000);
    assert_eq!(m.read_u8(0xFFFF_FFF0), Ok(0xEA));
    assert_eq!(m.read_u8(0xF_FFF0), Ok(0xEA), "alias below 1 MiB");
    assert_eq!(m.read_u8(0xE_0000), Ok(0x5A));
    // Smaller than 128 KiB: the whole image ends at 1 MiB.
    let mut m = mem();
    let map = load_firmware(&mut m, &[0x11; 64 << 10]).expect("load");
    assert_eq!(map.low_copy_base, 0xF_0000);
    assert_eq!(m.read_u8(0xE_FFFF), Ok(0));
    assert_eq!(m.read_u8(0xF_0000), Ok(0x11));
    // Size rules.
    for (len, want) in [(0, "empty"), (5000, "4 KiB"), ((16 << 20) + 4096, "16 MiB")] {
        let e = load_firmware(&mut mem(), &vec![0; len]).expect_err("bad size");
        assert!(e.to_string().contains(want), "{e}");
    }
}

/// The real kvm-unit-tests images, when the tree is present (not in CI).
#[test]
fn kvm_unit_tests_images_load() {
    let dir = std::path::Path::new("/work/kut-src/x86");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: {} not present", dir.display());
        return;
    };
    let mut flats: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flat"))
        .collect();
    flats.sort();
    assert!(!flats.is_empty(), "no .flat images in {}", dir.display());
    let m = GuestMemory::new(128 * MB).expect("mem");
    let env = b"NR_CPUS=1\nMEMSIZE=128\nTEST_DEVICE=0\n";
    for path in &flats {
        let Ok(img) = std::fs::read(path) else {
            continue;
        };
        let name = path.display().to_string();
        let elf = elf::parse(&img).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(elf.class, ElfClass::Elf32, "{name}");
        assert_eq!(find_header(&img).map(|h| h.flags), Ok(0), "{name}");
        let cmdline = format!("{name} arg1");
        let b =
            load_kernel(&m, &img, &cmdline, Some(env)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(b.entry, elf.entry, "{name}");
        let rd = |off: u64| m.read_u32(b.mbi_addr + off).expect("mbi");
        assert_eq!(cstr(&m, rd(mbi::CMDLINE).into()), cmdline);
        assert_eq!(rd(mbi::MODS_COUNT), 1);
        let md = u64::from(rd(mbi::MODS_ADDR));
        let start = u64::from(m.read_u32(md).expect("r"));
        assert!(start >= b.image_end, "{name}: module above the image");
        let mut got = vec![0; env.len()];
        m.read(start, &mut got).expect("read");
        assert_eq!(&got, env, "{name}");
        // The info block is outside page 0 and the image.
        let lo = elf.segments.iter().map(|s| s.paddr).min().unwrap_or(0);
        assert!(b.mbi_addr >= 0x1000, "{name}");
        assert!(
            b.mbi_addr + 0x200 <= lo || b.mbi_addr >= b.image_end,
            "{name}"
        );
        // Segment contents landed where the program headers say.
        for s in &elf.segments {
            let mut got = vec![0; s.filesz.min(256) as usize];
            m.read(s.paddr, &mut got).expect("read");
            assert_eq!(got, s.data(&img)[..got.len()], "{name}");
        }
    }
    eprintln!("loaded {} kvm-unit-tests images", flats.len());
}
