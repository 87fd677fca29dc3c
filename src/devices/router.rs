//! The interrupt router: the 8259A pair and the I/O APIC, and the level of
//! every GSI.
//!
//! Wiring (as on a PC with the usual MADT interrupt-source override):
//! GSI n < 16 drives PIC input n (GSI 2 is the PIC cascade and does not
//! reach the PIC) and I/O APIC pin n, except GSI 0 (the PIT), which drives
//! I/O APIC pin 2 (`layout::irq::PIT_IOAPIC_PIN`). Pin 2 sees GSI 0 OR
//! GSI 2. GSIs 16–23 reach the I/O APIC only. Nothing drives pin 0 (the
//! PIC's output is not wired to the I/O APIC as ExtINT).
//!
//! The machine registers the router for the PIC ports (0x20–0x21,
//! 0xA0–0xA1), the ELCR (0x4D0–0x4D1) and the I/O APIC page, applies the
//! GSI changes of every device call ([`InterruptRouter::apply`]), delivers
//! the messages it collects ([`InterruptRouter::take_messages`]) to the
//! local APICs, asks the PIC for INTR/INTA, and forwards EOIs of
//! level-triggered vectors ([`InterruptRouter::eoi`]).

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::irq::{ApicMessage, IrqSink, NUM_GSIS};
use crate::machine::layout::{self, irq};

use super::ioapic::IoApic;
use super::pic::PicPair;

/// PIC pair + I/O APIC + GSI levels + message outbox.
#[derive(Clone, Debug, Default)]
pub struct InterruptRouter {
    pic: PicPair,
    ioapic: IoApic,
    levels: [bool; NUM_GSIS],
    outbox: Vec<ApicMessage>,
}

impl InterruptRouter {
    /// I/O port ranges (first, count) the router decodes.
    pub const PORTS: [(u16, u32); 3] = PicPair::PORTS;
    /// The I/O APIC MMIO range (base, size).
    pub const MMIO: (u64, u64) = IoApic::MMIO;

    /// Power-up state: PICs uninitialized, I/O APIC entries masked, all
    /// lines low.
    pub fn new() -> Self {
        Self::default()
    }

    fn ioapic_pin(gsi: usize) -> usize {
        if gsi == irq::PIT as usize {
            irq::PIT_IOAPIC_PIN as usize
        } else {
            gsi
        }
    }

    fn pin_level(&self, pin: usize) -> bool {
        let pit_pin = irq::PIT_IOAPIC_PIN as usize;
        let own = if pin == 0 {
            false
        } else {
            self.levels.get(pin).copied().unwrap_or(false)
        };
        own || (pin == pit_pin && self.levels[irq::PIT as usize])
    }

    /// Drives GSI `gsi` to `level`. GSIs beyond the I/O APIC's 24 pins are
    /// ignored.
    pub fn set_gsi(&mut self, gsi: u32, level: bool) {
        let Some(slot) = self.levels.get_mut(gsi as usize) else {
            return;
        };
        *slot = level;
        if gsi < 16 {
            self.pic.set_irq(gsi, level);
        }
        let pin = Self::ioapic_pin(gsi as usize);
        let pin_level = self.pin_level(pin);
        self.ioapic.set_irq(pin, pin_level, &mut self.outbox);
    }

    /// Applies (and drains) the GSI changes a device call made, in order.
    pub fn apply(&mut self, sink: &mut IrqSink) {
        for (gsi, level) in sink.drain() {
            self.set_gsi(gsi, level);
        }
    }

    /// The current level of `gsi`.
    pub fn gsi_level(&self, gsi: u32) -> bool {
        self.levels.get(gsi as usize).copied().unwrap_or(false)
    }

    /// Takes the interrupt messages produced since the last call.
    pub fn take_messages(&mut self) -> Vec<ApicMessage> {
        std::mem::take(&mut self.outbox)
    }

    /// Whether messages are waiting.
    pub fn has_messages(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The PIC's INTR output.
    pub fn pic_has_interrupt(&self) -> bool {
        self.pic.has_interrupt()
    }

    /// The PIC's INTA cycle: the vector to deliver.
    pub fn pic_acknowledge(&mut self) -> u8 {
        self.pic.acknowledge()
    }

    /// A local APIC retired level-triggered `vector`: the I/O APIC clears
    /// remote IRR and may re-send (collected in the outbox).
    pub fn eoi(&mut self, vector: u8) {
        self.ioapic.eoi(vector, &mut self.outbox);
    }

    /// The PIC pair (inspection).
    pub fn pic(&self) -> &PicPair {
        &self.pic
    }

    /// The I/O APIC (inspection).
    pub fn ioapic(&self) -> &IoApic {
        &self.ioapic
    }
}

impl Device for InterruptRouter {
    fn name(&self) -> &'static str {
        "irq-router"
    }

    fn io_read(&mut self, port: u16, size: u8, ctx: &mut DeviceCtx) -> u32 {
        self.pic.io_read(port, size, ctx)
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        self.pic.io_write(port, size, value, ctx);
    }

    fn mmio_read(&mut self, offset: u64, size: u8, _ctx: &mut DeviceCtx) -> u64 {
        self.ioapic.mmio_read(offset, size)
    }

    fn mmio_write(&mut self, offset: u64, size: u8, value: u64, _ctx: &mut DeviceCtx) {
        self.ioapic
            .mmio_write(offset, size, value, &mut self.outbox);
    }
}

const _: () = assert!(InterruptRouter::MMIO.0 == layout::IOAPIC_BASE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;
    use crate::machine::irq::{DeliveryMode, Destination};

    fn program(r: &mut InterruptRouter, env: &mut TestEnv, pin: u32, lo: u32) {
        let mut ctx = env.ctx();
        r.mmio_write(0, 4, u64::from(0x10 + 2 * pin), &mut ctx);
        r.mmio_write(0x10, 4, u64::from(lo), &mut ctx);
    }

    fn vectors(r: &mut InterruptRouter) -> Vec<u8> {
        r.take_messages().iter().map(|m| m.vector).collect()
    }

    // The MADT override: ISA IRQ0 (GSI 0) arrives on I/O APIC pin 2.
    #[test]
    fn gsi_to_pin_table() {
        // (gsi, I/O APIC pin expected to fire)
        let table: &[(u32, u32)] = &[
            (0, 2),
            (1, 1),
            (2, 2),
            (4, 4),
            (8, 8),
            (11, 11),
            (14, 14),
            (23, 23),
        ];
        for &(gsi, pin) in table {
            let mut env = TestEnv::new();
            let mut r = InterruptRouter::new();
            for p in 0..24 {
                program(&mut r, &mut env, p, 0x40 + p);
            }
            let mut sink = IrqSink::default();
            sink.pulse(gsi);
            r.apply(&mut sink);
            assert_eq!(vectors(&mut r), vec![0x40 + pin as u8], "gsi {gsi}");
        }
    }

    #[test]
    fn pin0_is_not_wired_and_large_gsis_ignored() {
        let mut env = TestEnv::new();
        let mut r = InterruptRouter::new();
        program(&mut r, &mut env, 0, 0x30);
        r.set_gsi(0, true);
        r.set_gsi(24, true);
        r.set_gsi(u32::MAX, true);
        assert!(vectors(&mut r).is_empty());
    }

    #[test]
    fn isa_irqs_reach_the_pic() {
        let mut env = TestEnv::new();
        let mut r = InterruptRouter::new();
        for (p, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
            r.io_write(p, 1, v, &mut env.ctx());
        }
        for (p, v) in [(0xA0, 0x11), (0xA1, 0x70), (0xA1, 0x02), (0xA1, 0x01)] {
            r.io_write(p, 1, v, &mut env.ctx());
        }
        r.set_gsi(0, true);
        assert!(r.pic_has_interrupt());
        assert_eq!(r.pic_acknowledge(), 0x08);
        r.set_gsi(8, true);
        r.io_write(0x20, 1, 0x20, &mut env.ctx());
        assert_eq!(r.pic_acknowledge(), 0x70);
        // GSI 2 is the cascade: devices cannot raise it on the PIC.
        r.io_write(0xA0, 1, 0x20, &mut env.ctx());
        r.io_write(0x20, 1, 0x20, &mut env.ctx());
        r.set_gsi(2, true);
        assert!(!r.pic_has_interrupt());
        assert!(r.take_messages().is_empty(), "I/O APIC entries masked");
    }

    // kvm-unit-tests ioapic "retriggered level interrupts without masking"
    // through the router: EOI re-sends while the GSI is asserted.
    #[test]
    fn level_eoi_through_router() {
        let mut env = TestEnv::new();
        let mut r = InterruptRouter::new();
        program(&mut r, &mut env, 14, 0x9A | 1 << 15);
        r.set_gsi(14, true);
        let msgs = r.take_messages();
        assert_eq!(
            msgs,
            vec![ApicMessage {
                vector: 0x9A,
                mode: DeliveryMode::Fixed,
                dest: Destination::Physical(0),
                level_triggered: true,
                assert: true,
                source: None,
                x2apic: false,
            }]
        );
        r.eoi(0x9A);
        assert_eq!(vectors(&mut r), vec![0x9A]);
        r.set_gsi(14, false);
        r.eoi(0x9A);
        assert!(!r.has_messages());
        assert!(!r.gsi_level(14));
    }

    #[test]
    fn pit_and_gsi2_share_pin2() {
        let mut env = TestEnv::new();
        let mut r = InterruptRouter::new();
        program(&mut r, &mut env, 2, 0x50 | 1 << 15);
        r.set_gsi(0, true);
        r.set_gsi(2, true);
        r.set_gsi(0, false);
        assert_eq!(vectors(&mut r), vec![0x50]);
        r.eoi(0x50);
        assert_eq!(vectors(&mut r), vec![0x50], "GSI 2 still holds pin 2");
        r.set_gsi(2, false);
        r.eoi(0x50);
        assert!(vectors(&mut r).is_empty());
    }
}
