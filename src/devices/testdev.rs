//! QEMU's pc-testdev (hw/misc/pc-testdev.c), used by kvm-unit-tests.
//!
//! | Ports / range | Behaviour |
//! |---|---|
//! | 0xE0–0xE3 | 32-bit scratch register: an access of n bytes at 0xE0 + k reads or writes bytes k.. of it (string I/O is the CPU repeating such accesses) |
//! | 0xE4–0xE7 | "flush page": QEMU briefly unmaps the guest page whose address is written, so that KVM drops its mappings. An interpreter has no such host-side mappings, so the write is accepted and ignored; reads return all ones |
//! | 0xE8–0xEB | byte-wide view of the same scratch register |
//! | 0x2000 + n, n < 24 | a byte write of V drives GSI n to level V != 0 (a wider write drives n, n+1, … with its successive bytes); reads return all ones |
//! | MMIO 0xFF000000, 64 KiB | "IORAM": behaves like RAM for 1/2/4/8-byte accesses, initially zero; bytes of an access beyond the window read 0 and are dropped |
//!
//! QEMU only accepts GSIs below 16 here (ISA IRQs); this model drives all
//! 24 I/O APIC inputs.

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::irq::NUM_GSIS;
use crate::machine::layout::{self, port};

const SCRATCH_BYTE_VIEW: u16 = 0xE8;

/// The pc-testdev. Register it on [`TestDev::PORTS`] and [`TestDev::MMIO`].
#[derive(Clone)]
pub struct TestDev {
    scratch: u32,
    ioram: Box<[u8]>,
}

impl Default for TestDev {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TestDev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDev")
            .field("scratch", &self.scratch)
            .finish()
    }
}

impl TestDev {
    /// (first port, count) ranges decoded.
    pub const PORTS: [(u16, u32); 2] = [
        (port::TESTDEV_SCRATCH, 12),
        (port::TESTDEV_IRQ_BASE, NUM_GSIS as u32),
    ];
    /// The IORAM window (base, size).
    pub const MMIO: (u64, u64) = (layout::TESTDEV_IOMEM_BASE, layout::TESTDEV_IOMEM_SIZE);

    /// Scratch register 0, IORAM zeroed.
    pub fn new() -> Self {
        TestDev {
            scratch: 0,
            ioram: vec![0; layout::TESTDEV_IOMEM_SIZE as usize].into_boxed_slice(),
        }
    }

    fn scratch_offset(p: u16) -> Option<u32> {
        match p {
            0xE0..=0xE3 => Some(u32::from(p - port::TESTDEV_SCRATCH)),
            0xE8..=0xEB => Some(u32::from(p - SCRATCH_BYTE_VIEW)),
            _ => None,
        }
    }

    fn scratch_byte(&self, k: u32) -> u8 {
        (self.scratch >> (8 * (k & 3))) as u8
    }

    fn set_scratch_byte(&mut self, k: u32, b: u8) {
        let shift = 8 * (k & 3);
        self.scratch = (self.scratch & !(0xFF << shift)) | (u32::from(b) << shift);
    }
}

impl Device for TestDev {
    fn name(&self) -> &'static str {
        "pc-testdev"
    }

    fn io_read(&mut self, p: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        match Self::scratch_offset(p) {
            // Bytes beyond the register (0xE2 + 4 bytes) read 0, as QEMU's
            // mask arithmetic gives.
            Some(k) => super::from_le(size, |i| {
                if k + i < 4 {
                    self.scratch_byte(k + i)
                } else {
                    0
                }
            }) as u32,
            None => crate::machine::device::ones(size) as u32,
        }
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        if let Some(k) = Self::scratch_offset(p) {
            for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
                if k + (i as u32) < 4 {
                    self.set_scratch_byte(k + i as u32, b);
                }
            }
            return;
        }
        if p.wrapping_sub(port::TESTDEV_IRQ_BASE) < NUM_GSIS as u16 {
            let first = u32::from(p - port::TESTDEV_IRQ_BASE);
            for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
                let gsi = first + i as u32;
                if gsi < NUM_GSIS as u32 {
                    ctx.irq.set(gsi, b != 0);
                }
            }
        }
        // 0xE4–0xE7: flush page, nothing to do.
    }

    fn mmio_read(&mut self, offset: u64, size: u8, _ctx: &mut DeviceCtx) -> u64 {
        super::from_le(size, |i| {
            offset
                .checked_add(u64::from(i))
                .and_then(|a| usize::try_from(a).ok())
                .and_then(|a| self.ioram.get(a).copied())
                .unwrap_or(0)
        })
    }

    fn mmio_write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DeviceCtx) {
        for (i, b) in super::le_bytes(value, size).enumerate() {
            if let Some(slot) = offset
                .checked_add(i as u64)
                .and_then(|a| usize::try_from(a).ok())
                .and_then(|a| self.ioram.get_mut(a))
            {
                *slot = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    // QEMU test_ioport_read/write: (port, size, write, then read port, size, expect).
    #[test]
    fn scratch_register_table() {
        let table: &[(u16, u8, u32, u16, u8, u32)] = &[
            (0xE0, 4, 0x1234_5678, 0xE0, 4, 0x1234_5678),
            (0xE0, 1, 0xAB, 0xE0, 4, 0x1234_56AB),
            (0xE0, 2, 0x9999, 0xE0, 2, 0x9999),
            (0xE2, 2, 0xCAFE, 0xE0, 4, 0xCAFE_9999),
            (0xE3, 1, 0x11, 0xE3, 1, 0x11),
            (0xE2, 4, 0xFFFF_0102, 0xE0, 4, 0x0102_9999), // bytes past 0xE3 dropped
            (0xE8, 1, 0x77, 0xE0, 1, 0x77),               // byte view aliases
            (0xE9, 2, 0x5544, 0xE8, 4, 0x0155_4477),
        ];
        let mut d = TestDev::new();
        let mut env = TestEnv::new();
        for &(wp, ws, wv, rp, rs, want) in table {
            d.io_write(wp, ws, wv, &mut env.ctx());
            assert_eq!(
                d.io_read(rp, rs, &mut env.ctx()),
                want,
                "write {wp:#x}/{ws}"
            );
        }
        assert_eq!(
            d.io_read(0xE3, 4, &mut env.ctx()),
            0x01,
            "bytes past the register read 0"
        );
    }

    // kvm-unit-tests emulator: "outw 0x9999; rep insb" reads the low byte.
    #[test]
    fn string_input_repeats_byte_reads() {
        let mut d = TestDev::new();
        let mut env = TestEnv::new();
        d.io_write(0xE0, 2, 0x9999, &mut env.ctx());
        for _ in 0..1024 {
            assert_eq!(d.io_read(0xE0, 1, &mut env.ctx()), 0x99);
        }
    }

    #[test]
    fn flush_page_is_accepted() {
        let mut d = TestDev::new();
        let mut env = TestEnv::new();
        d.io_write(0xE4, 4, 0x12_3000, &mut env.ctx());
        assert!(env.irqs().is_empty());
        assert_eq!(env.exit(), None);
        assert_eq!(d.io_read(0xE4, 4, &mut env.ctx()), 0xFFFF_FFFF);
    }

    // kvm-unit-tests set_irq_line(): outb(val, 0x2000 + line).
    #[test]
    fn irq_lines() {
        let mut d = TestDev::new();
        let mut env = TestEnv::new();
        // (port, size, value, GSI changes)
        type Row = (u16, u8, u32, &'static [(u32, bool)]);
        let table: &[Row] = &[
            (0x200E, 1, 1, &[(14, true)]),
            (0x200E, 1, 0, &[(14, false)]),
            (0x2000, 1, 0x80, &[(0, true)]),
            (0x2017, 1, 2, &[(23, true)]),
            (0x2016, 4, 0x0000_0100, &[(22, false), (23, true)]),
            (0x2018, 1, 1, &[]),
        ];
        for &(p, size, v, want) in table {
            d.io_write(p, size, v, &mut env.ctx());
            assert_eq!(env.irqs(), want.to_vec(), "port {p:#x}");
        }
    }

    #[test]
    fn ioram_behaves_like_ram() {
        let mut d = TestDev::new();
        let mut env = TestEnv::new();
        assert_eq!(d.mmio_read(0x100, 8, &mut env.ctx()), 0);
        d.mmio_write(0x100, 8, 0x1122_3344_5566_7788, &mut env.ctx());
        // (offset, size, value)
        let table: &[(u64, u8, u64)] = &[
            (0x100, 8, 0x1122_3344_5566_7788),
            (0x100, 4, 0x5566_7788),
            (0x104, 4, 0x1122_3344),
            (0x101, 2, 0x6677),
            (0x107, 1, 0x11),
        ];
        for &(off, size, want) in table {
            assert_eq!(
                d.mmio_read(off, size, &mut env.ctx()),
                want,
                "{off:#x}/{size}"
            );
        }
        d.mmio_write(0xFFFE, 4, 0xAABB_CCDD, &mut env.ctx());
        assert_eq!(d.mmio_read(0xFFFE, 4, &mut env.ctx()), 0xCCDD);
        d.mmio_write(u64::MAX, 8, u64::MAX, &mut env.ctx());
        assert_eq!(d.mmio_read(u64::MAX - 3, 8, &mut env.ctx()), 0);
    }
}
