use super::*;
use crate::devices::testutil::TestEnv;

const MEM: u64 = layout::PCI_MMIO_BASE;
const IO: u16 = layout::PCI_IO_BASE;

fn addr(devfn: u32, reg: u32) -> u32 {
    (1 << 31) | (devfn << 8) | reg
}

/// kvm-unit-tests' pci_config_read{b,w,l}: address out, data in at 0xCFC.
fn cfg_read(b: &mut PciBus, env: &mut TestEnv, devfn: u32, reg: u32, size: u8) -> u32 {
    b.io_write(0xCF8, 4, addr(devfn, reg), &mut env.ctx());
    b.io_read(0xCFC, size, &mut env.ctx())
}

fn cfg_write(b: &mut PciBus, env: &mut TestEnv, devfn: u32, reg: u32, size: u8, v: u32) {
    b.io_write(0xCF8, 4, addr(devfn, reg), &mut env.ctx());
    b.io_write(0xCFC, size, v, &mut env.ctx());
}

#[test]
fn bus_scan_finds_both_functions() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    let found: Vec<(u32, u32, u32)> = (0..256)
        .filter_map(|devfn| {
            let vendor = cfg_read(&mut b, &mut env, devfn, 0, 2);
            let device = cfg_read(&mut b, &mut env, devfn, 2, 2);
            (vendor != 0xFFFF).then_some((devfn, vendor, device))
        })
        .collect();
    assert_eq!(found, vec![(0, 0x8086, 0x1237), (8, 0x1B36, 0x0005)]);
}

// PCI 3.0 Figure 6-1 (Type 00h header) as the two functions fill it.
#[test]
fn header_fields_table() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    // (devfn, reg, size, value)
    let table: &[(u32, u32, u8, u32)] = &[
        (0, 0x00, 4, 0x1237_8086),
        (0, 0x08, 4, 0x0600_0002),
        (0, 0x0E, 1, 0x00),
        (8, 0x00, 4, 0x0005_1B36),
        (8, 0x04, 2, 0x0003),
        (8, 0x08, 4, 0x00FF_0000),
        (8, 0x0A, 2, 0x00FF), // word read at 0xCFC with address low bits set (QEMU: subclass 0xFF)
        (8, 0x0E, 1, 0x00),   // header type via address bits 1:0
        (8, 0x10, 4, 0xE000_0000),
        (8, 0x14, 4, 0x0000_C001),
        (8, 0x18, 4, 0),
        (8, 0x2C, 4, 0x1100_1AF4),
        (8, 0x30, 4, 0),
        (8, 0x34, 1, 0), // no capabilities
        (8, 0x3C, 1, 11),
        (8, 0x3D, 1, 1),
    ];
    for &(devfn, reg, size, want) in table {
        assert_eq!(
            cfg_read(&mut b, &mut env, devfn, reg, size),
            want,
            "{devfn:#x}:{reg:#x}"
        );
    }
    // Data port offset k ORs into the register: byte at 0xCFE = reg + 2.
    b.io_write(0xCF8, 4, addr(8, 0x00), &mut env.ctx());
    assert_eq!(b.io_read(0xCFE, 2, &mut env.ctx()), 0x0005);
    assert_eq!(b.io_read(0xCF8, 4, &mut env.ctx()), addr(8, 0));
}

#[test]
fn absent_functions_and_disabled_mechanism_read_ones() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    // (CONFIG_ADDRESS)
    for a in [
        0x0000_0800,
        (1 << 31) | (1 << 16),
        (1 << 31) | (1 << 8),
        (1 << 31) | (31 << 11),
    ] {
        b.io_write(0xCF8, 4, a, &mut env.ctx());
        assert_eq!(b.io_read(0xCFC, 4, &mut env.ctx()), 0xFFFF_FFFF, "{a:#x}");
        b.io_write(0xCFC, 4, 0, &mut env.ctx());
    }
    // Byte writes to 0xCF8 do not change CONFIG_ADDRESS.
    b.io_write(0xCF8, 4, addr(8, 0), &mut env.ctx());
    b.io_write(0xCF8, 1, 0, &mut env.ctx());
    assert_eq!(b.io_read(0xCFC, 2, &mut env.ctx()), 0x1B36);
}

// kvm-unit-tests lib/pci.c pci_bar_size(): save, write ~0, read, restore.
#[test]
fn bar_sizing_table() {
    // (BAR, mask read after writing all ones, decoded size)
    let table: &[(u32, u32, u64)] = &[
        (0, 0xFFFF_F000, 0x1000),
        (1, 0xFFFF_FF01, 0x100),
        (2, 0, 0),
        (5, 0, 0),
    ];
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    for &(bar, mask, size) in table {
        let reg = 0x10 + 4 * bar;
        let orig = cfg_read(&mut b, &mut env, 8, reg, 4);
        cfg_write(&mut b, &mut env, 8, reg, 4, !0);
        let got = cfg_read(&mut b, &mut env, 8, reg, 4);
        cfg_write(&mut b, &mut env, 8, reg, 4, orig);
        assert_eq!(got, mask, "BAR{bar}");
        let flags = if got & 1 != 0 { 3 } else { 0xF };
        let decoded = if got == 0 {
            0
        } else {
            u64::from(!(got & !flags)) + 1
        };
        assert_eq!(decoded, size, "BAR{bar}");
        assert_eq!(cfg_read(&mut b, &mut env, 8, reg, 4), orig, "restored");
    }
}

#[test]
fn bar_regions_for_the_machine() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    let want = vec![
        BarRegion {
            device: 1,
            bar: 0,
            kind: BarKind::Memory,
            base: MEM,
            size: 0x1000,
            enabled: true,
        },
        BarRegion {
            device: 1,
            bar: 1,
            kind: BarKind::Io,
            base: u64::from(IO),
            size: 0x100,
            enabled: true,
        },
    ];
    assert_eq!(b.bar_regions(), want);
    cfg_write(&mut b, &mut env, 8, 0x04, 2, 0);
    assert!(b.bar_regions().iter().all(|r| !r.enabled));
    assert_eq!(b.mmio_read(0, 1, &mut env.ctx()), 0xFF, "decoding off");
    assert_eq!(b.io_read(IO, 1, &mut env.ctx()), 0xFF);
}

#[test]
fn read_only_and_writable_fields() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    // (devfn, reg, size, write, read back)
    let table: &[(u32, u32, u8, u32, u32)] = &[
        (8, 0x00, 4, 0, 0x0005_1B36), // IDs read-only
        (8, 0x04, 2, 0xFFFF, 0x0547), // command writable bits
        (8, 0x06, 2, 0xFFFF, 0),      // status
        (8, 0x3C, 1, 0x05, 0x05),     // interrupt line
        (8, 0x3D, 1, 0x04, 0x01),     // interrupt pin read-only
        (8, 0x0C, 2, 0xFFFF, 0xFFFF), // cache line, latency
        (0, 0x59, 1, 0x30, 0x30),     // i440FX PAM0
        (0, 0x00, 2, 0, 0x8086),
    ];
    for &(devfn, reg, size, w, r) in table {
        cfg_write(&mut b, &mut env, devfn, reg, size, w);
        assert_eq!(
            cfg_read(&mut b, &mut env, devfn, reg, size),
            r,
            "{devfn:#x}:{reg:#x}"
        );
    }
}

/// kvm-unit-tests lib/pci-testdev.c pci_testdev_one() over one BAR.
fn run_testdev(b: &mut PciBus, env: &mut TestEnv, io: bool) -> Vec<String> {
    let mut rd = |b: &mut PciBus, off: u64, size: u8| -> u32 {
        if io {
            b.io_read(IO + off as u16, size, &mut env.ctx())
        } else {
            b.mmio_read(off, size, &mut env.ctx()) as u32
        }
    };
    let mut names = Vec::new();
    for n in 0.. {
        if io {
            b.io_write(IO, 1, n, &mut TestEnv::new().ctx());
        } else {
            b.mmio_write(0, 1, u64::from(n), &mut TestEnv::new().ctx());
        }
        if rd(b, 12, 4) != 0 {
            break;
        }
        let width = rd(b, 1, 1);
        if ![1, 2, 4].contains(&width) {
            break;
        }
        let sig = rd(b, 8, 4);
        let off = rd(b, 4, 4);
        for _ in 0..16 {
            if io {
                b.io_write(IO + off as u16, width as u8, sig, &mut TestEnv::new().ctx());
            } else {
                b.mmio_write(
                    u64::from(off),
                    width as u8,
                    u64::from(sig),
                    &mut TestEnv::new().ctx(),
                );
            }
        }
        assert_eq!(rd(b, 12, 4), 16, "test {n} counted every write");
        let name: Vec<u8> = (16..)
            .map(|i| rd(b, i, 1) as u8)
            .take_while(|&c| c != 0)
            .collect();
        names.push(String::from_utf8_lossy(&name).into_owned());
    }
    names
}

#[test]
fn pci_testdev_protocol() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    assert_eq!(
        run_testdev(&mut b, &mut env, false),
        [
            "mmio-no-eventfd",
            "mmio-wildcard-eventfd",
            "mmio-datamatch-eventfd"
        ]
    );
    assert_eq!(
        run_testdev(&mut b, &mut env, true),
        [
            "portio-no-eventfd",
            "portio-wildcard-eventfd",
            "portio-datamatch-eventfd"
        ]
    );
}

// hw/misc/pci-testdev.c: header values and data matching.
#[test]
fn pci_testdev_header_and_matching() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    assert_eq!(b.mmio_read(0, 4, &mut env.ctx()), 0, "no test selected");
    // (BAR io?, test, offset, data, match)
    let table: &[(bool, u8, u32, u32, bool)] = &[
        (false, 0, 2048, 0xFA, true),
        (false, 1, 2049, 0xCE, false),
        (false, 2, 2050, 0xFA, true),
        (true, 0, 131, 0xFA, true),
        (true, 1, 132, 0xCE, false),
        (true, 2, 133, 0xFA, true),
    ];
    for &(io, t, off, data, matching) in table {
        let mut w = |b: &mut PciBus, o: u64, size: u8, v: u32| {
            if io {
                b.io_write(IO + o as u16, size, v, &mut env.ctx());
            } else {
                b.mmio_write(o, size, u64::from(v), &mut env.ctx());
            }
        };
        w(&mut b, 0, 1, u32::from(t));
        w(&mut b, u64::from(off), 1, 0x11); // wrong data
        w(&mut b, u64::from(off) + 1, 1, data); // wrong offset
        w(&mut b, u64::from(off), 4, data); // first byte matches
        let (hdr_off, hdr_data, count) = if io {
            let mut e = TestEnv::new();
            (
                b.io_read(IO + 4, 4, &mut e.ctx()),
                b.io_read(IO + 8, 4, &mut e.ctx()),
                b.io_read(IO + 12, 4, &mut e.ctx()),
            )
        } else {
            let mut e = TestEnv::new();
            (
                b.mmio_read(4, 4, &mut e.ctx()) as u32,
                b.mmio_read(8, 4, &mut e.ctx()) as u32,
                b.mmio_read(12, 4, &mut e.ctx()) as u32,
            )
        };
        assert_eq!((hdr_off, hdr_data), (off, data), "test {t} io {io}");
        assert_eq!(count, if matching { 1 } else { 2 }, "test {t} io {io}");
    }
}

#[test]
fn arbitrary_traffic_never_panics() {
    let mut b = PciBus::new();
    let mut env = TestEnv::new();
    let mut x: u64 = 3;
    for _ in 0..30_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let size = [1u8, 2, 4][(x >> 10) as usize % 3];
        let v = (x >> 20) as u32;
        match x % 6 {
            0 => b.io_write(0xCF8, 4, v | 0x8000_0000, &mut env.ctx()),
            1 => b.io_write(0xCFC + (x >> 40) as u16 % 4, size, v, &mut env.ctx()),
            2 => {
                let _ = b.io_read(0xCFC + (x >> 40) as u16 % 4, size, &mut env.ctx());
            }
            3 => b.io_write(IO + (x >> 40) as u16 % 256, size, v, &mut env.ctx()),
            4 => b.mmio_write((x >> 40) % 0x1100, size, u64::from(v), &mut env.ctx()),
            _ => {
                let _ = b.mmio_read((x >> 40) % 0x1100, size, &mut env.ctx());
            }
        }
    }
}
