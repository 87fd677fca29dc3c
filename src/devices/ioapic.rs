//! 82093AA I/O APIC at 0xFEC00000 (Intel 82093AA datasheet, section 3
//! "Register Description"), version 0x20 with the EOI register that later
//! I/O APICs (ICH) added.
//!
//! Memory-mapped registers: IOREGSEL (+0x00, 8 bits), IOWIN (+0x10,
//! 32-bit accesses only) and EOI (+0x40, 32-bit writes). Indirect
//! registers: 0x00 ID (bits 27:24 writable), 0x01 version (0x00170020:
//! 24 entries, version 0x20, read-only), 0x02 arbitration ID (read-only,
//! follows the ID), 0x10–0x3F the 24 redirection entries (Table 3.2.4).
//!
//! Pins are given as asserted / deasserted: the polarity bit is stored but
//! does not invert the input (QEMU and KVM do the same; the platform's
//! devices never drive active-low lines). Delivery is instantaneous, so the
//! delivery-status bit always reads 0. SMI, NMI, INIT and ExtINT entries
//! are always edge-triggered (datasheet "Delivery Mode" notes). An entry
//! with the reserved delivery mode 0b011 delivers nothing.

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::irq::{ApicMessage, DeliveryMode, Destination};
use crate::machine::layout;

/// Number of redirection entries / input pins.
pub const PINS: usize = 24;
/// Version register: max redirection entry 23, version 0x20.
pub const VERSION: u32 = 0x0017_0020;

/// Redirection-entry bits (datasheet 3.2.4).
pub mod redir {
    /// Interrupt vector.
    pub const VECTOR: u64 = 0xFF;
    /// Destination mode: 1 = logical.
    pub const DEST_LOGICAL: u64 = 1 << 11;
    /// Delivery status (read-only).
    pub const DELIVERY_STATUS: u64 = 1 << 12;
    /// Input pin polarity: 1 = active low.
    pub const POLARITY_LOW: u64 = 1 << 13;
    /// Remote IRR (read-only): a level interrupt was accepted, EOI pending.
    pub const REMOTE_IRR: u64 = 1 << 14;
    /// Trigger mode: 1 = level.
    pub const LEVEL: u64 = 1 << 15;
    /// Interrupt mask.
    pub const MASKED: u64 = 1 << 16;
    /// Bits software can write: everything except delivery status, remote
    /// IRR and the reserved bits 55:17.
    pub const WRITABLE: u64 = 0xFF00_0000_0001_AFFF;
}

// MMIO offsets.
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const EOI: u64 = 0x40;

/// The I/O APIC. Messages it sends are appended to the `out` vectors of
/// its methods (the router collects them).
#[derive(Clone, Debug)]
pub struct IoApic {
    id: u32,
    ioregsel: u8,
    entries: [u64; PINS],
    /// Input levels, one bit per pin.
    lines: u32,
}

impl Default for IoApic {
    fn default() -> Self {
        Self::new()
    }
}

impl IoApic {
    /// MMIO base and size.
    pub const MMIO: (u64, u64) = (layout::IOAPIC_BASE, 0x1000);

    /// State after reset: ID 0, every entry masked (datasheet: "the mask
    /// bit is set after reset"), all other bits 0.
    pub fn new() -> Self {
        IoApic {
            id: 0,
            ioregsel: 0,
            entries: [redir::MASKED; PINS],
            lines: 0,
        }
    }

    /// Redirection entry `pin` (0 for pins that do not exist).
    pub fn entry(&self, pin: usize) -> u64 {
        self.entries.get(pin).copied().unwrap_or(0)
    }

    fn is_level(entry: u64) -> bool {
        // Only fixed and lowest-priority deliveries can be level-triggered.
        entry & redir::LEVEL != 0 && (entry >> 8) & 7 <= 1
    }

    fn message(entry: u64) -> Option<ApicMessage> {
        let mode = DeliveryMode::from_bits((entry >> 8) as u32)?;
        let dest_field = (entry >> 56) as u32;
        Some(ApicMessage {
            vector: (entry & redir::VECTOR) as u8,
            mode,
            dest: if entry & redir::DEST_LOGICAL != 0 {
                Destination::Logical(dest_field)
            } else {
                Destination::Physical(dest_field)
            },
            level_triggered: Self::is_level(entry),
            assert: true,
            source: None,
            x2apic: false,
        })
    }

    /// Sends the interrupt of `pin` if its state calls for it: a level
    /// entry with the line asserted, unmasked and no remote IRR.
    fn service_level(&mut self, pin: usize, out: &mut Vec<ApicMessage>) {
        let Some(&entry) = self.entries.get(pin) else {
            return;
        };
        let asserted = self.lines & (1 << pin) != 0;
        if !Self::is_level(entry) || !asserted || entry & (redir::MASKED | redir::REMOTE_IRR) != 0 {
            return;
        }
        if let Some(msg) = Self::message(entry) {
            self.entries[pin] |= redir::REMOTE_IRR;
            out.push(msg);
        }
    }

    /// Drives input `pin` to `level`. An edge entry sends on a rising edge
    /// while unmasked (edges on masked pins are lost); a level entry sends
    /// while the line is asserted, unmasked and remote IRR is clear.
    pub fn set_irq(&mut self, pin: usize, level: bool, out: &mut Vec<ApicMessage>) {
        let Some(&entry) = self.entries.get(pin) else {
            return;
        };
        let bit = 1u32 << pin;
        let was = self.lines & bit != 0;
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
        if Self::is_level(entry) {
            self.service_level(pin, out);
        } else if level && !was && entry & redir::MASKED == 0 {
            out.extend(Self::message(entry));
        }
    }

    /// An EOI for `vector` (from a local APIC's EOI of a level-triggered
    /// vector, or the EOI register): clears remote IRR of every level entry
    /// with that vector and re-sends those whose line is still asserted.
    pub fn eoi(&mut self, vector: u8, out: &mut Vec<ApicMessage>) {
        for pin in 0..PINS {
            let e = self.entries[pin];
            if Self::is_level(e)
                && e & redir::VECTOR == u64::from(vector)
                && e & redir::REMOTE_IRR != 0
            {
                self.entries[pin] &= !redir::REMOTE_IRR;
                self.service_level(pin, out);
            }
        }
    }

    /// Reads the indirect register `index`.
    pub fn read_register(&self, index: u8) -> u32 {
        match index {
            0x00 | 0x02 => self.id << 24,
            0x01 => VERSION,
            0x10..=0x3F => {
                let e = self.entry(usize::from(index - 0x10) / 2);
                if index & 1 != 0 {
                    (e >> 32) as u32
                } else {
                    e as u32
                }
            }
            _ => 0,
        }
    }

    /// Writes the indirect register `index`.
    pub fn write_register(&mut self, index: u8, value: u32, out: &mut Vec<ApicMessage>) {
        match index {
            0x00 => self.id = (value >> 24) & 0xF,
            0x10..=0x3F => {
                let pin = usize::from(index - 0x10) / 2;
                let Some(old) = self.entries.get(pin).copied() else {
                    return;
                };
                let mut new = if index & 1 != 0 {
                    (old & 0xFFFF_FFFF) | (u64::from(value) << 32)
                } else {
                    (old & !0xFFFF_FFFF) | u64::from(value)
                };
                new = (new & redir::WRITABLE) | (old & redir::REMOTE_IRR);
                // Remote IRR has no meaning for edge entries; switching an
                // entry to edge clears it (what Linux relies on when it has
                // no EOI register).
                if !Self::is_level(new) {
                    new &= !redir::REMOTE_IRR;
                }
                self.entries[pin] = new;
                // Unmasking (or reconfiguring) a level entry whose line is
                // asserted delivers it.
                self.service_level(pin, out);
            }
            _ => {} // version, arbitration: read-only
        }
    }

    /// MMIO read at `offset` within the I/O APIC page.
    pub fn mmio_read(&self, offset: u64, size: u8) -> u64 {
        match offset {
            IOREGSEL => u64::from(self.ioregsel),
            IOWIN if size == 4 => u64::from(self.read_register(self.ioregsel)),
            _ => 0,
        }
    }

    /// MMIO write at `offset` within the I/O APIC page.
    pub fn mmio_write(&mut self, offset: u64, size: u8, value: u64, out: &mut Vec<ApicMessage>) {
        match offset {
            IOREGSEL => self.ioregsel = value as u8,
            IOWIN if size == 4 => self.write_register(self.ioregsel, value as u32, out),
            EOI if size == 4 => self.eoi(value as u8, out),
            _ => {}
        }
    }
}

/// Standalone use (tests): messages are dropped. The machine uses the
/// I/O APIC through [`super::router::InterruptRouter`].
impl Device for IoApic {
    fn name(&self) -> &'static str {
        "ioapic"
    }

    fn mmio_read(&mut self, offset: u64, size: u8, _ctx: &mut DeviceCtx) -> u64 {
        IoApic::mmio_read(self, offset, size)
    }

    fn mmio_write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DeviceCtx) {
        IoApic::mmio_write(self, offset, size, value, &mut Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    struct Bench {
        io: IoApic,
        env: TestEnv,
        out: Vec<ApicMessage>,
    }

    impl Bench {
        fn new() -> Self {
            Bench {
                io: IoApic::new(),
                env: TestEnv::new(),
                out: Vec::new(),
            }
        }
        fn read(&mut self, reg: u8) -> u32 {
            let mut ctx = self.env.ctx();
            Device::mmio_write(&mut self.io, 0, 4, u64::from(reg), &mut ctx);
            Device::mmio_read(&mut self.io, 0x10, 4, &mut ctx) as u32
        }
        fn write(&mut self, reg: u8, v: u32) {
            self.io.mmio_write(0, 4, u64::from(reg), &mut self.out);
            self.io.mmio_write(0x10, 4, u64::from(v), &mut self.out);
        }
        fn redir(&mut self, pin: u8, vector: u8, level: bool) {
            let lo = u32::from(vector) | if level { 1 << 15 } else { 0 };
            self.write(0x10 + 2 * pin + 1, 0);
            self.write(0x10 + 2 * pin, lo);
        }
        fn set_mask(&mut self, pin: u8, masked: bool) {
            let lo = self.read(0x10 + 2 * pin);
            let lo = if masked {
                lo | 1 << 16
            } else {
                lo & !(1 << 16)
            };
            self.write(0x10 + 2 * pin, lo);
        }
        fn line(&mut self, pin: usize, level: bool) {
            self.io.set_irq(pin, level, &mut self.out);
        }
        fn vectors(&mut self) -> Vec<u8> {
            self.out.drain(..).map(|m| m.vector).collect()
        }
        fn remote_irr(&mut self, pin: u8) -> bool {
            self.read(0x10 + 2 * pin) & (1 << 14) != 0
        }
    }

    // kvm-unit-tests ioapic: "version register read only", "id register
    // only bits [24:27] writable", "arbitration register set by id" / "read
    // only".
    #[test]
    fn id_version_arbitration_registers() {
        let mut b = Bench::new();
        let v = b.read(1);
        assert_eq!(v, 0x0017_0020);
        b.write(1, !v);
        assert_eq!(b.read(1), v);
        let id = b.read(0);
        b.write(0, !id);
        assert_eq!(b.read(0) ^ id, 0x0F00_0000);
        b.write(0, 0x0F00_0000);
        assert_eq!(b.read(2), 0x0F00_0000);
        b.write(2, 0);
        assert_eq!(b.read(2), 0x0F00_0000);
        // IOREGSEL reads back; unknown registers read 0.
        b.io.mmio_write(0, 4, 0x7F, &mut b.out);
        assert_eq!(b.io.mmio_read(0, 4), 0x7F);
        assert_eq!(b.io.mmio_read(0x10, 4), 0);
    }

    // Datasheet 3.2.4: which bits of a redirection entry are writable.
    #[test]
    fn redirection_entry_bits_table() {
        let mut b = Bench::new();
        // (half, value written, value read back)
        let table: &[(u8, u32, u32)] = &[
            (0, 0xFFFF_FFFF, 0x0001_AFFF), // status, remote IRR, 31:17 RO
            (1, 0xFFFF_FFFF, 0xFF00_0000), // 55:32 reserved
            (0, 0x0000_8000 | 0x31, 0x8031),
        ];
        for &(half, w, r) in table {
            b.write(0x10 + half, w);
            assert_eq!(b.read(0x10 + half), r, "write {w:#x}");
        }
        assert_eq!(b.io.entry(0), 0xFF00_0000_0000_8031);
        assert_eq!(b.read(0x10 + 2 * 24), 0, "no 25th entry");
    }

    #[test]
    fn message_fields_from_entry() {
        let mut b = Bench::new();
        b.write(0x10 + 2 * 5 + 1, 0x0D00_0000);
        b.write(0x10 + 2 * 5, 0x0000_8976 | (1 << 11) | (1 << 8));
        b.line(5, true);
        assert_eq!(
            b.out.pop(),
            Some(ApicMessage {
                vector: 0x76,
                mode: DeliveryMode::LowestPriority,
                dest: Destination::Logical(0x0D),
                level_triggered: true,
                assert: true,
                source: None,
                x2apic: false,
            })
        );
    }

    // kvm-unit-tests: edge triggered intr, simultaneous edges, edge mask.
    #[test]
    fn edge_semantics() {
        let mut b = Bench::new();
        b.redir(14, 0x76, false);
        b.line(14, true);
        b.line(14, false);
        assert_eq!(b.vectors(), vec![0x76]);
        b.line(14, true);
        b.line(14, true);
        assert_eq!(b.vectors(), vec![0x76], "no edge while held high");
        b.line(14, false);
        assert!(!b.remote_irr(14), "edge entries never set remote IRR");
        // Masked edges are lost, even after unmasking.
        b.set_mask(14, true);
        b.line(14, true);
        b.line(14, false);
        b.set_mask(14, false);
        assert!(b.vectors().is_empty());
        b.line(14, true);
        assert_eq!(b.vectors(), vec![0x76]);
    }

    // kvm-unit-tests: level triggered intr, coalesce, sequential, retrigger
    // without masking.
    #[test]
    fn level_semantics_with_remote_irr() {
        let mut b = Bench::new();
        b.redir(14, 0x98, true);
        b.line(14, true);
        assert_eq!(b.vectors(), vec![0x98]);
        assert!(b.remote_irr(14));
        // Coalesce: toggling while remote IRR is set sends nothing.
        b.line(14, false);
        b.line(14, true);
        b.line(14, false);
        assert!(b.vectors().is_empty());
        b.io.eoi(0x98, &mut b.out);
        assert!(!b.remote_irr(14));
        assert!(b.vectors().is_empty(), "line low at EOI");
        // Sequential: two separate assertions give two interrupts.
        b.line(14, true);
        b.line(14, false);
        b.io.eoi(0x98, &mut b.out);
        b.line(14, true);
        assert_eq!(b.vectors(), vec![0x98, 0x98]);
        // Retrigger: EOI with the line still high re-sends.
        b.io.eoi(0x98, &mut b.out);
        assert_eq!(b.vectors(), vec![0x98]);
        // EOI of another vector does nothing; the EOI register works too.
        b.io.eoi(0x99, &mut b.out);
        assert!(b.remote_irr(14));
        b.line(14, false);
        b.io.mmio_write(0x40, 4, 0x98, &mut b.out);
        assert!(!b.remote_irr(14));
        assert!(b.vectors().is_empty());
    }

    // kvm-unit-tests: masked level interrupt delivered on unmask; retrigger
    // with mask.
    #[test]
    fn level_masking_while_pending() {
        let mut b = Bench::new();
        b.redir(14, 0x82, true);
        b.set_mask(14, true);
        b.line(14, true);
        assert!(b.vectors().is_empty());
        b.set_mask(14, false);
        assert_eq!(b.vectors(), vec![0x82]);
        // Handler masks then EOIs; unmasking re-delivers (line still high).
        b.set_mask(14, true);
        b.io.eoi(0x82, &mut b.out);
        assert!(b.vectors().is_empty());
        b.set_mask(14, false);
        assert_eq!(b.vectors(), vec![0x82]);
        // Rewriting the entry while remote IRR is set does not re-send.
        b.write(0x10 + 2 * 14 + 1, 0x0100_0000);
        assert!(b.vectors().is_empty());
        assert!(b.remote_irr(14), "remote IRR survives a destination change");
    }

    #[test]
    fn switching_to_edge_clears_remote_irr() {
        let mut b = Bench::new();
        b.redir(3, 0x40, true);
        b.line(3, true);
        assert!(b.remote_irr(3));
        b.redir(3, 0x40, false);
        assert!(!b.remote_irr(3));
        b.redir(3, 0x40, true);
        assert_eq!(b.vectors(), vec![0x40, 0x40], "level again, line high");
    }

    // Datasheet "Delivery Mode": NMI/INIT/ExtINT are edge; 0b011 reserved.
    #[test]
    fn delivery_modes_table() {
        // (mode bits, expected mode or None, level flag of the message)
        let table: &[(u32, Option<DeliveryMode>, bool)] = &[
            (0, Some(DeliveryMode::Fixed), true),
            (1, Some(DeliveryMode::LowestPriority), true),
            (2, Some(DeliveryMode::Smi), false),
            (3, None, false),
            (4, Some(DeliveryMode::Nmi), false),
            (5, Some(DeliveryMode::Init), false),
            (7, Some(DeliveryMode::ExtInt), false),
        ];
        for &(bits, mode, level) in table {
            let mut b = Bench::new();
            b.write(0x10, 0x8000 | (bits << 8) | 0x30);
            b.line(0, true);
            let got = b.out.pop();
            assert_eq!(got.map(|m| m.mode), mode, "mode {bits}");
            assert_eq!(got.is_some_and(|m| m.level_triggered), level);
            assert_eq!(b.remote_irr(0), mode.is_some() && level);
        }
    }

    #[test]
    fn out_of_range_and_odd_accesses_are_harmless() {
        let mut b = Bench::new();
        b.line(24, true);
        b.line(1000, true);
        b.io.eoi(0, &mut b.out);
        for off in [0u64, 4, 0x10, 0x14, 0x40, 0x44, 0xFFF, u64::MAX] {
            for size in [1, 2, 4, 8] {
                let _ = b.io.mmio_read(off, size);
                b.io.mmio_write(off, size, u64::MAX, &mut b.out);
            }
        }
        for reg in 0..=255u8 {
            b.write(reg, 0xFFFF_FFFF);
            let _ = b.read(reg);
        }
    }
}
