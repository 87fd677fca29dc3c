//! PCI configuration mechanism #1 on bus 0 (PCI Local Bus Specification
//! 3.0, 3.2.2.3.2), with two functions:
//!
//! | BDF | Device | IDs | Class |
//! |---|---|---|---|
//! | 00:00.0 | i440FX host bridge | 8086:1237 rev 02 | 06/00/00 |
//! | 00:01.0 | QEMU pci-testdev | 1b36:0005 rev 00 | ff/00/00 |
//!
//! Ports: 0xCF8 is the 32-bit CONFIG_ADDRESS register (only 4-byte writes
//! change it; 0xCF9 belongs to the reset-control register in
//! [`super::misc`]); 0xCFC–0xCFF is CONFIG_DATA for 1-, 2- and 4-byte
//! accesses. As in QEMU, the register offset is CONFIG_ADDRESS[7:0] OR'ed
//! with the data-port offset, so a byte read at 0xCFC after selecting
//! register 0x0E returns the header type (kvm-unit-tests relies on this).
//! Absent functions read all ones; writes to read-only bits are dropped.
//!
//! The firmware role is played here: the testdev's BARs come pre-assigned
//! (BAR0: 4 KiB memory at `layout::PCI_MMIO_BASE`, BAR1: 256 I/O ports at
//! `layout::PCI_IO_BASE`) with I/O and memory decoding enabled. BAR sizing
//! (write all ones, read the mask) works as the specification describes.
//! The machine registers the BARs where [`PciBus::bar_regions`] says;
//! relocating a BAR afterwards changes the register but not the decoding.
//! The testdev has interrupt pin A and line 11 (`layout::irq::PCI_INTX`),
//! though it never interrupts (QEMU's model has no pin at all).
//!
//! pci-testdev (hw/misc/pci-testdev.c): six tests, three per BAR
//! ("mmio-"/"portio-" × "no-eventfd", "wildcard-eventfd",
//! "datamatch-eventfd"). Writing n to byte 0 of a BAR selects test n of
//! that BAR's kind (n ≥ 3 selects none) and zeroes its counter; the BAR
//! then shows the test's header (test, width = 1, offset, data, count,
//! name). Each write whose first byte lands on `offset` counts, if the
//! test matches data, only when that byte equals `data` (0xFA; the
//! wildcard test shows 0xCE). Accesses are handled byte by byte, as
//! QEMU's 1-byte implementation size makes them.

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::layout::{self, irq, port};

/// Configuration space offsets.
pub mod cfg {
    /// Vendor ID (16).
    pub const VENDOR_ID: usize = 0x00;
    /// Device ID (16).
    pub const DEVICE_ID: usize = 0x02;
    /// Command (16).
    pub const COMMAND: usize = 0x04;
    /// Status (16).
    pub const STATUS: usize = 0x06;
    /// Revision ID (8).
    pub const REVISION: usize = 0x08;
    /// Programming interface, subclass, class (8 each).
    pub const CLASS_PROG: usize = 0x09;
    /// Cache line size (8).
    pub const CACHE_LINE: usize = 0x0C;
    /// Latency timer (8).
    pub const LATENCY: usize = 0x0D;
    /// Header type (8).
    pub const HEADER_TYPE: usize = 0x0E;
    /// First base address register.
    pub const BAR0: usize = 0x10;
    /// Subsystem vendor ID (16).
    pub const SUBSYS_VENDOR: usize = 0x2C;
    /// Subsystem ID (16).
    pub const SUBSYS_ID: usize = 0x2E;
    /// Interrupt line (8).
    pub const INTERRUPT_LINE: usize = 0x3C;
    /// Interrupt pin (8).
    pub const INTERRUPT_PIN: usize = 0x3D;
}

/// Command register: I/O space decoding.
pub const CMD_IO: u16 = 1 << 0;
/// Command register: memory space decoding.
pub const CMD_MEM: u16 = 1 << 1;

/// Size of pci-testdev's memory BAR.
pub const TESTDEV_MEM_SIZE: u64 = 0x1000;
/// Size of pci-testdev's I/O BAR.
pub const TESTDEV_IO_SIZE: u64 = 0x100;

/// Address space of a BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory space.
    Memory,
    /// I/O space.
    Io,
}

/// Where a BAR decodes, for the machine's bus registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarRegion {
    /// Device number on bus 0.
    pub device: u8,
    /// BAR index (0–5).
    pub bar: u8,
    /// Memory or I/O.
    pub kind: BarKind,
    /// Base address (memory) or port (I/O) currently in the BAR.
    pub base: u64,
    /// Size in bytes (or ports).
    pub size: u64,
    /// The function's command register enables decoding of this kind.
    pub enabled: bool,
}

/// One function's configuration space with its write mask.
#[derive(Clone)]
struct Function {
    config: [u8; 256],
    wmask: [u8; 256],
    /// (kind, size) of each implemented BAR.
    bars: [Option<(BarKind, u64)>; 6],
}

impl Function {
    fn new(vendor: u16, device: u16, revision: u8, class: [u8; 3]) -> Self {
        let mut f = Function {
            config: [0; 256],
            wmask: [0; 256],
            bars: [None; 6],
        };
        f.put16(cfg::VENDOR_ID, vendor);
        f.put16(cfg::DEVICE_ID, device);
        f.config[cfg::REVISION] = revision;
        f.config[cfg::CLASS_PROG..cfg::CLASS_PROG + 3].copy_from_slice(&class);
        f.put16(cfg::SUBSYS_VENDOR, 0x1AF4);
        f.put16(cfg::SUBSYS_ID, 0x1100);
        // Command: I/O, memory, bus master, parity, SERR, INTx disable.
        f.wmask[cfg::COMMAND..cfg::COMMAND + 2].copy_from_slice(&0x0547u16.to_le_bytes());
        f.wmask[cfg::CACHE_LINE] = 0xFF;
        f.wmask[cfg::LATENCY] = 0xFF;
        f
    }

    fn put16(&mut self, at: usize, v: u16) {
        self.config[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn get16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.config[at], self.config[at + 1]])
    }

    fn get32(&self, at: usize) -> u32 {
        u32::from_le_bytes([
            self.config[at],
            self.config[at + 1],
            self.config[at + 2],
            self.config[at + 3],
        ])
    }

    /// Implements BAR `i` of `kind` and power-of-two `size` at `base`.
    fn add_bar(&mut self, i: usize, kind: BarKind, size: u64, base: u64) {
        let at = cfg::BAR0 + 4 * i;
        let type_bits = if kind == BarKind::Io { 1 } else { 0 };
        let mask = !(size as u32 - 1) & if kind == BarKind::Io { !3 } else { !0xF };
        self.config[at..at + 4].copy_from_slice(&((base as u32 & mask) | type_bits).to_le_bytes());
        self.wmask[at..at + 4].copy_from_slice(&mask.to_le_bytes());
        self.bars[i] = Some((kind, size));
    }

    fn read(&self, reg: usize) -> u8 {
        self.config.get(reg).copied().unwrap_or(0xFF)
    }

    fn write(&mut self, reg: usize, v: u8) {
        if let (Some(c), Some(&m)) = (self.config.get_mut(reg), self.wmask.get(reg)) {
            *c = (*c & !m) | (v & m);
        }
    }
}

/// One pci-testdev test (QEMU's IOTest).
#[derive(Clone, Debug)]
struct IoTest {
    /// The header bytes the BAR shows: test, width, pad, offset, data,
    /// count, NUL-terminated name.
    hdr: Vec<u8>,
    match_data: bool,
}

const HDR_OFFSET: usize = 4;
const HDR_DATA: usize = 8;
const HDR_COUNT: usize = 12;
const HDR_NAME: usize = 16;

impl IoTest {
    fn new(i: usize) -> Self {
        let kinds = ["mmio", "portio"];
        let names = ["no-eventfd", "wildcard-eventfd", "datamatch-eventfd"];
        let is_mem = i < 3;
        let match_data = i % 3 != 1;
        let base = if is_mem { 2048 } else { 128 };
        let mut hdr = vec![0u8; HDR_NAME];
        hdr[0] = i as u8;
        hdr[1] = 1;
        hdr[HDR_OFFSET..HDR_OFFSET + 4].copy_from_slice(&(base + i as u32).to_le_bytes());
        hdr[HDR_DATA] = if match_data { 0xFA } else { 0xCE };
        hdr.extend_from_slice(format!("{}-{}", kinds[i / 3], names[i % 3]).as_bytes());
        hdr.push(0);
        IoTest { hdr, match_data }
    }

    fn offset(&self) -> u64 {
        u64::from(u32::from_le_bytes([
            self.hdr[HDR_OFFSET],
            self.hdr[HDR_OFFSET + 1],
            self.hdr[HDR_OFFSET + 2],
            self.hdr[HDR_OFFSET + 3],
        ]))
    }

    fn count(&mut self) -> &mut [u8] {
        &mut self.hdr[HDR_COUNT..HDR_COUNT + 4]
    }
}

/// pci-testdev's BAR behaviour.
#[derive(Clone, Debug)]
struct PciTestDev {
    tests: Vec<IoTest>,
    current: Option<usize>,
}

impl PciTestDev {
    fn new() -> Self {
        PciTestDev {
            tests: (0..6).map(IoTest::new).collect(),
            current: None,
        }
    }

    /// A byte write at `addr` of the memory (`io` false) or I/O BAR.
    fn write_byte(&mut self, addr: u64, v: u8, io: bool) {
        if addr == 0 {
            self.current = None;
            if v < 3 {
                let t = usize::from(v) + if io { 3 } else { 0 };
                if let Some(test) = self.tests.get_mut(t) {
                    test.count().fill(0);
                    self.current = Some(t);
                }
            }
            return;
        }
        let Some(test) = self.current.and_then(|t| self.tests.get_mut(t)) else {
            return;
        };
        if addr != test.offset() || (test.match_data && v != test.hdr[HDR_DATA]) {
            return;
        }
        let c = test.count();
        let n = u32::from_le_bytes([c[0], c[1], c[2], c[3]]).wrapping_add(1);
        c.copy_from_slice(&n.to_le_bytes());
    }

    fn read_byte(&self, addr: u64) -> u8 {
        let Some(test) = self.current.and_then(|t| self.tests.get(t)) else {
            return 0;
        };
        usize::try_from(addr)
            .ok()
            .filter(|&a| a + 1 < test.hdr.len())
            .and_then(|a| test.hdr.get(a).copied())
            .unwrap_or(0)
    }
}

/// Bus 0 with the host bridge and pci-testdev. Register it on
/// [`PciBus::PORTS`] plus its [`PciBus::bar_regions`].
#[derive(Clone)]
pub struct PciBus {
    address: u32,
    functions: [Function; 2],
    testdev: PciTestDev,
}

impl Default for PciBus {
    fn default() -> Self {
        Self::new()
    }
}

/// Device number of pci-testdev.
pub const TESTDEV_SLOT: u8 = 1;

impl PciBus {
    /// Configuration ports (first, count); the BARs come on top.
    pub const PORTS: [(u16, u32); 2] = [(port::PCI_CONFIG_ADDRESS, 1), (port::PCI_CONFIG_DATA, 4)];

    /// The bus as firmware leaves it: BARs assigned, decoding enabled.
    pub fn new() -> Self {
        let mut host = Function::new(0x8086, 0x1237, 0x02, [0x00, 0x00, 0x06]);
        host.put16(cfg::COMMAND, 0x0006);
        // i440FX chipset registers (PAM, SMRAM, ...): plain storage.
        host.wmask[0x40..].fill(0xFF);
        // QEMU gives pci-testdev class word 0x00FF (PCI_CLASS_OTHERS as a
        // 16-bit value): subclass 0xFF, base class 0x00.
        let mut dev = Function::new(0x1B36, 0x0005, 0x00, [0x00, 0xFF, 0x00]);
        dev.add_bar(0, BarKind::Memory, TESTDEV_MEM_SIZE, layout::PCI_MMIO_BASE);
        dev.add_bar(
            1,
            BarKind::Io,
            TESTDEV_IO_SIZE,
            u64::from(layout::PCI_IO_BASE),
        );
        dev.put16(cfg::COMMAND, CMD_IO | CMD_MEM);
        dev.config[cfg::INTERRUPT_LINE] = irq::PCI_INTX as u8;
        dev.config[cfg::INTERRUPT_PIN] = 1;
        dev.wmask[cfg::INTERRUPT_LINE] = 0xFF;
        PciBus {
            address: 0,
            functions: [host, dev],
            testdev: PciTestDev::new(),
        }
    }

    /// Every implemented BAR, as currently programmed.
    pub fn bar_regions(&self) -> Vec<BarRegion> {
        let mut out = Vec::new();
        for (dev, f) in self.functions.iter().enumerate() {
            let cmd = f.get16(cfg::COMMAND);
            for (i, bar) in f.bars.iter().enumerate() {
                if let Some((kind, size)) = *bar {
                    let raw = f.get32(cfg::BAR0 + 4 * i);
                    let (base, enabled) = match kind {
                        BarKind::Io => (u64::from(raw & !3), cmd & CMD_IO != 0),
                        BarKind::Memory => (u64::from(raw & !0xF), cmd & CMD_MEM != 0),
                    };
                    out.push(BarRegion {
                        device: dev as u8,
                        bar: i as u8,
                        kind,
                        base,
                        size,
                        enabled,
                    });
                }
            }
        }
        out
    }

    /// The function CONFIG_ADDRESS selects, if it exists, and the register.
    fn selected(&self, data_offset: u16) -> Option<(usize, usize)> {
        let a = self.address;
        let (enable, bus, device, function) =
            (a >> 31, (a >> 16) & 0xFF, (a >> 11) & 0x1F, (a >> 8) & 7);
        if enable == 0 || bus != 0 || function != 0 || device as usize >= self.functions.len() {
            return None;
        }
        Some((
            device as usize,
            ((a as usize) & 0xFF) | usize::from(data_offset & 3),
        ))
    }

    /// Reads `size` bytes of configuration data through port 0xCFC + `k`.
    fn config_read(&self, k: u16, size: u8) -> u32 {
        match self.selected(k) {
            Some((dev, reg)) => {
                super::from_le(size, |i| self.functions[dev].read(reg + i as usize)) as u32
            }
            None => crate::machine::device::ones(size) as u32,
        }
    }

    fn config_write(&mut self, k: u16, size: u8, value: u32) {
        if let Some((dev, reg)) = self.selected(k) {
            for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
                self.functions[dev].write(reg + i, b);
            }
        }
    }

    fn testdev_enabled(&self, flag: u16) -> bool {
        self.functions[usize::from(TESTDEV_SLOT)].get16(cfg::COMMAND) & flag != 0
    }
}

impl Device for PciBus {
    fn name(&self) -> &'static str {
        "pci"
    }

    fn io_read(&mut self, p: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        let io_base = layout::PCI_IO_BASE;
        match p {
            port::PCI_CONFIG_ADDRESS => {
                (u64::from(self.address) & crate::machine::device::ones(size)) as u32
            }
            0xCFC..=0xCFF => self.config_read(p - port::PCI_CONFIG_DATA, size),
            _ if u64::from(p.wrapping_sub(io_base)) < TESTDEV_IO_SIZE
                && self.testdev_enabled(CMD_IO) =>
            {
                let off = u64::from(p - io_base);
                super::from_le(size, |i| self.testdev.read_byte(off + u64::from(i))) as u32
            }
            _ => crate::machine::device::ones(size) as u32,
        }
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, _ctx: &mut DeviceCtx) {
        let io_base = layout::PCI_IO_BASE;
        match p {
            port::PCI_CONFIG_ADDRESS if size == 4 => self.address = value,
            0xCFC..=0xCFF => self.config_write(p - port::PCI_CONFIG_DATA, size, value),
            _ if u64::from(p.wrapping_sub(io_base)) < TESTDEV_IO_SIZE
                && self.testdev_enabled(CMD_IO) =>
            {
                let off = u64::from(p - io_base);
                for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
                    self.testdev.write_byte(off + i as u64, b, true);
                }
            }
            _ => {}
        }
    }

    /// `offset` is relative to BAR0 (the only memory BAR).
    fn mmio_read(&mut self, offset: u64, size: u8, _ctx: &mut DeviceCtx) -> u64 {
        if offset >= TESTDEV_MEM_SIZE || !self.testdev_enabled(CMD_MEM) {
            return crate::machine::device::ones(size);
        }
        super::from_le(size, |i| self.testdev.read_byte(offset + u64::from(i)))
    }

    fn mmio_write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DeviceCtx) {
        if offset >= TESTDEV_MEM_SIZE || !self.testdev_enabled(CMD_MEM) {
            return;
        }
        for (i, b) in super::le_bytes(value, size).enumerate() {
            self.testdev.write_byte(offset + i as u64, b, false);
        }
    }
}

#[cfg(test)]
mod tests;
