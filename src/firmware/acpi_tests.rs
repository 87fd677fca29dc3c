//! Parses the tables back from guest memory the way an OSPM (and
//! kvm-unit-tests' lib/acpi.c) would.

use super::*;

fn mem() -> GuestMemory {
    GuestMemory::new(16 << 20).expect("mem")
}

fn bytes(m: &GuestMemory, addr: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0; len];
    m.read(addr, &mut b).expect("read");
    b
}

fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
}

/// Reads a table with a standard header, checking its checksum.
fn table(m: &GuestMemory, addr: u64, sig: &[u8; 4]) -> Vec<u8> {
    let len = m.read_u32(addr + 4).expect("len") as usize;
    let t = bytes(m, addr, len);
    assert_eq!(&t[..4], sig, "signature at {addr:#x}");
    assert_eq!(sum(&t), 0, "{} checksum", String::from_utf8_lossy(sig));
    assert_eq!(&t[10..16], b"NESTOR");
    t
}

fn u16_at(t: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([t[off], t[off + 1]])
}
fn u32_at(t: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(t[off..off + 4].try_into().expect("4 bytes"))
}
fn u64_at(t: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(t[off..off + 8].try_into().expect("8 bytes"))
}

/// lib/acpi.c's get_rsdp(): "RSD PTR " on a 16-byte boundary in
/// 0xE0000–0xFFFFF.
fn find_rsdp(m: &GuestMemory) -> Option<u64> {
    (BIOS_AREA..BIOS_AREA_END)
        .step_by(16)
        .find(|&a| bytes(m, a, 8) == b"RSD PTR ")
}

/// Finds a table through the XSDT (as lib/acpi.c does for revision >= 2)
/// and checks the RSDT lists the same address.
fn find_table(m: &GuestMemory, sig: &[u8; 4]) -> Option<u64> {
    let rsdp = bytes(m, find_rsdp(m)?, 36);
    let xsdt = table(m, u64_at(&rsdp, 24), b"XSDT");
    let rsdt = table(m, u64::from(u32_at(&rsdp, 16)), b"RSDT");
    let x: Vec<u64> = (36..xsdt.len())
        .step_by(8)
        .map(|o| u64_at(&xsdt, o))
        .collect();
    let r: Vec<u64> = (36..rsdt.len())
        .step_by(4)
        .map(|o| u64::from(u32_at(&rsdt, o)))
        .collect();
    assert_eq!(x, r, "RSDT and XSDT list the same tables");
    x.into_iter().find(|&a| &bytes(m, a, 4)[..] == sig)
}

#[test]
fn rsdp_is_found_with_both_checksums() {
    let m = mem();
    let t = build_acpi_tables(&m, 1).expect("tables");
    assert_eq!(find_rsdp(&m), Some(t.rsdp));
    assert_eq!(t.rsdp % 16, 0);
    let rsdp = bytes(&m, t.rsdp, 36);
    assert_eq!(sum(&rsdp[..20]), 0, "ACPI 1.0 checksum");
    assert_eq!(sum(&rsdp), 0, "extended checksum");
    assert_eq!(rsdp[15], 2, "revision");
    assert_eq!(u32_at(&rsdp, 20), 36);
    assert_eq!(u64_at(&rsdp, 24), t.xsdt);
    assert_eq!(u64::from(u32_at(&rsdp, 16)), t.rsdt);
    assert!(t.end <= BIOS_AREA_END);
}

#[test]
fn fadt_describes_the_pm_block_and_points_to_facs_and_dsdt() {
    let m = mem();
    let t = build_acpi_tables(&m, 2).expect("tables");
    let fadt_addr = find_table(&m, b"FACP").expect("FADT");
    assert_eq!(fadt_addr, t.fadt);
    let f = table(&m, fadt_addr, b"FACP");
    assert_eq!(f.len(), 276);
    assert!(f[8] >= 3, "revision");
    assert_eq!(u16_at(&f, 46), 9, "SCI_INT");
    assert_eq!(u32_at(&f, 56), 0x600, "PM1a_EVT_BLK");
    assert_eq!(u32_at(&f, 64), 0x604, "PM1a_CNT_BLK");
    assert_eq!(u32_at(&f, 76), 0x608, "PM_TMR_BLK");
    assert_eq!(
        (f[88], f[89], f[91]),
        (4, 2, 4),
        "PM1_EVT/CNT_LEN, PM_TMR_LEN"
    );
    assert_eq!(
        u32_at(&f, 112) & (1 << 8),
        0,
        "24-bit PM timer: no TMR_VAL_EXT"
    );
    assert_eq!(u32_at(&f, 48), 0, "no SMI_CMD: ACPI always enabled");
    // X_ fields: X_FIRMWARE_CTRL stays 0 because FIRMWARE_CTRL is set.
    assert_eq!(u64_at(&f, 132), 0);
    assert_eq!(u64_at(&f, 140), u64::from(u32_at(&f, 40)), "X_DSDT = DSDT");
    assert_eq!((f[148], f[149], u64_at(&f, 152)), (1, 32, 0x600));
    assert_eq!((f[172], f[173], u64_at(&f, 176)), (1, 16, 0x604));
    assert_eq!((f[208], f[209], u64_at(&f, 212)), (1, 32, 0x608));
    // RESET_REG = I/O 0xCF9, RESET_REG_SUP set.
    assert_ne!(u32_at(&f, 112) & (1 << 10), 0);
    assert_eq!((f[116], u64_at(&f, 120), f[128]), (1, 0xCF9, 6));

    // FACS via FIRMWARE_CTRL, as lib/acpi.c finds it.
    let facs = u64::from(u32_at(&f, 36));
    assert_eq!(facs, t.facs);
    assert_eq!(facs % 64, 0);
    let fc = bytes(&m, facs, 64);
    assert_eq!(&fc[..4], b"FACS");
    assert_eq!(u32_at(&fc, 4), 64);
    // s3.flat writes the waking vector: the FACS must be in writable RAM.
    m.write_u32(facs + 12, 0x1000).expect("write waking vector");
    assert_eq!(m.read_u32(facs + 12), Ok(0x1000));

    let d = table(&m, u64::from(u32_at(&f, 40)), b"DSDT");
    let aml = &d[36..];
    assert_eq!(&aml[..6], b"\x08\\_S5_", "Name(\\_S5_, ...)");
    assert_eq!(&aml[6..], &[0x12, 8, 4, 0x0A, 5, 0x0A, 5, 0, 0]);
}

/// (type, body) of each MADT interrupt controller structure.
fn madt_entries(t: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    let mut off = 44;
    while off < t.len() {
        let (ty, len) = (t[off], usize::from(t[off + 1]));
        assert!(len >= 2 && off + len <= t.len(), "entry at {off} fits");
        v.push((ty, t[off..off + len].to_vec()));
        off += len;
    }
    assert_eq!(off, t.len(), "entries end exactly at the table length");
    v
}

#[test]
fn madt_lists_every_cpu_the_ioapic_and_the_overrides() {
    let m = mem();
    for cpus in [1, 4, MAX_CPUS] {
        build_acpi_tables(&m, cpus).expect("tables");
        let t = table(&m, find_table(&m, b"APIC").expect("MADT"), b"APIC");
        assert_eq!(u32_at(&t, 36), 0xFEE0_0000, "local APIC address");
        assert_eq!(u32_at(&t, 40) & 1, 1, "PCAT_COMPAT");
        let e = madt_entries(&t);
        let lapics: Vec<_> = e.iter().filter(|(ty, _)| *ty == 0).collect();
        assert_eq!(lapics.len(), cpus as usize);
        for (i, (_, b)) in lapics.iter().enumerate() {
            assert_eq!(b.len(), 8);
            assert_eq!((b[2], b[3]), (i as u8, i as u8), "UID = APIC ID = index");
            assert_eq!(u32_at(b, 4) & 1, 1, "enabled");
        }
        let ioapics: Vec<_> = e.iter().filter(|(ty, _)| *ty == 1).collect();
        assert_eq!(ioapics.len(), 1);
        let io = &ioapics[0].1;
        assert_eq!(
            (io[2], u32_at(io, 4), u32_at(io, 8)),
            (IOAPIC_ID, 0xFEC0_0000, 0)
        );
        let isos: Vec<_> = e
            .iter()
            .filter(|(ty, _)| *ty == 2)
            .map(|(_, b)| (b[2], b[3], u32_at(b, 4), u16_at(b, 8)))
            .collect();
        assert_eq!(isos, vec![(0, 0, 2, 0), (0, 9, 9, 0x000D)]);
        assert!(
            e.iter()
                .any(|(ty, b)| *ty == 4 && b[2] == 0xFF && b[5] == 1)
        );
    }
}

#[test]
fn hpet_table_points_at_the_hpet() {
    let m = mem();
    build_acpi_tables(&m, 1).expect("tables");
    let h = table(&m, find_table(&m, b"HPET").expect("HPET"), b"HPET");
    assert_eq!(h.len(), 56);
    assert_eq!(u32_at(&h, 36), HPET_BLOCK_ID);
    assert_eq!((h[40], u64_at(&h, 44)), (0, 0xFED0_0000));
}

#[test]
fn cpu_count_is_checked() {
    let m = mem();
    assert!(build_acpi_tables(&m, 0).is_err());
    let e = build_acpi_tables(&m, 256).expect_err("256 CPUs");
    assert!(e.to_string().contains("256 CPUs"), "{e}");
}

#[test]
fn tables_lie_in_the_reserved_bios_area() {
    use super::super::memmap::{MemKind, memory_map};
    let m = mem();
    let t = build_acpi_tables(&m, MAX_CPUS).expect("tables");
    let map = memory_map(&m);
    assert!(
        map.iter()
            .any(|r| r.kind == MemKind::Reserved && r.base <= t.rsdp && t.end <= r.end())
    );
}
