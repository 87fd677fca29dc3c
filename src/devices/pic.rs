//! The 8259A programmable interrupt controller pair of the PC (master at
//! 0x20/0x21, slave at 0xA0/0xA1 cascaded on master IR2) with the PIIX
//! edge/level control registers (ELCR) at 0x4D0/0x4D1.
//!
//! Implements the Intel 8259A datasheet: ICW1–ICW4 initialization, OCW1
//! (mask), OCW2 (non-specific/specific EOI, rotation, set priority), OCW3
//! (IRR/ISR read select, poll, special mask mode), auto-EOI with optional
//! rotation, special fully nested mode, edge and level triggering (ICW1
//! LTIM for the whole chip, or per line through the ELCR), and spurious
//! IRQ 7 / IRQ 15 at INTA when the request went away.
//!
//! Deviations (as QEMU): in edge mode a request stays latched in IRR when
//! the line drops before INTA (so devices may pulse their line), instead
//! of turning into a spurious IR7; the 8080/8085 call mode (ICW4 µPM = 0)
//! and buffered mode are ignored (8086 vectors always).

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::layout::port;

/// Where an initialization sequence stands (datasheet Figure 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InitStep {
    Ready,
    Icw2,
    Icw3,
    Icw4,
}

/// One 8259A.
#[derive(Clone, Debug)]
pub struct Pic8259 {
    irr: u8,
    imr: u8,
    isr: u8,
    /// Current input levels.
    lines: u8,
    elcr: u8,
    elcr_mask: u8,
    /// ICW1 LTIM: every input level-sensitive.
    ltim: bool,
    vector_base: u8,
    init: InitStep,
    needs_icw4: bool,
    single: bool,
    auto_eoi: bool,
    rotate_on_aeoi: bool,
    special_fully_nested: bool,
    /// The IR with the lowest priority; IR (lowest + 1) & 7 has the highest.
    lowest: u8,
    read_isr: bool,
    poll: bool,
    special_mask: bool,
    is_master: bool,
}

impl Pic8259 {
    fn new(is_master: bool, elcr_mask: u8) -> Self {
        Pic8259 {
            irr: 0,
            imr: 0,
            isr: 0,
            lines: 0,
            elcr: 0,
            elcr_mask,
            ltim: false,
            vector_base: 0,
            init: InitStep::Ready,
            needs_icw4: false,
            single: false,
            auto_eoi: false,
            rotate_on_aeoi: false,
            special_fully_nested: false,
            lowest: 7,
            read_isr: false,
            poll: false,
            special_mask: false,
            is_master,
        }
    }

    fn level_mask(&self) -> u8 {
        if self.ltim { 0xFF } else { self.elcr }
    }

    /// Priority rank of `irq` (0 = highest).
    fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.lowest.wrapping_add(1)) & 7
    }

    /// The highest-priority IR set in `mask`.
    fn highest(&self, mask: u8) -> Option<u8> {
        (0..8u8)
            .map(|r| (self.lowest.wrapping_add(1).wrapping_add(r)) & 7)
            .find(|&irq| mask & (1 << irq) != 0)
    }

    /// The IR the chip would present at INTA now (datasheet "Priority
    /// Resolver"), if any.
    fn pending(&self) -> Option<u8> {
        let irq = self.highest(self.irr & !self.imr)?;
        let mut in_service = self.isr;
        if self.special_mask {
            in_service &= !self.imr;
        }
        if self.special_fully_nested && self.is_master {
            in_service &= !(1 << 2);
        }
        match self.highest(in_service) {
            Some(cur) if self.rank(cur) <= self.rank(irq) => None,
            _ => Some(irq),
        }
    }

    /// The INT output.
    pub fn output(&self) -> bool {
        self.pending().is_some()
    }

    fn set_line(&mut self, irq: u8, level: bool) {
        let bit = 1u8 << (irq & 7);
        let was = self.lines & bit != 0;
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
        if self.level_mask() & bit != 0 {
            if level {
                self.irr |= bit;
            } else {
                self.irr &= !bit;
            }
        } else if level && !was {
            self.irr |= bit;
        }
    }

    /// INTA (or poll) for `irq`: IRR → ISR.
    fn ack(&mut self, irq: u8) {
        let bit = 1u8 << (irq & 7);
        if self.auto_eoi {
            if self.rotate_on_aeoi {
                self.lowest = irq & 7;
            }
        } else {
            self.isr |= bit;
        }
        if self.level_mask() & bit == 0 {
            self.irr &= !bit;
        }
    }

    fn poll_read(&mut self) -> u8 {
        self.poll = false;
        match self.pending() {
            Some(irq) => {
                self.ack(irq);
                0x80 | irq
            }
            None => 0,
        }
    }

    fn read(&mut self, a0: bool) -> u8 {
        if self.poll {
            self.poll_read()
        } else if a0 {
            self.imr
        } else if self.read_isr {
            self.isr
        } else {
            self.irr
        }
    }

    fn icw1(&mut self, v: u8) {
        // Datasheet "Initialization Command Word 1": the edge sense circuit
        // is reset, IMR cleared, IR7 gets the lowest priority, special mask
        // mode cleared, status read set to IRR, ICW4 functions zeroed.
        self.imr = 0;
        self.isr = 0;
        self.lowest = 7;
        self.special_mask = false;
        self.read_isr = false;
        self.poll = false;
        self.auto_eoi = false;
        self.rotate_on_aeoi = false;
        self.special_fully_nested = false;
        self.needs_icw4 = v & 1 != 0;
        self.single = v & 2 != 0;
        self.ltim = v & 8 != 0;
        // Only lines still asserted in level mode keep a request.
        self.irr = self.lines & self.level_mask();
        self.init = InitStep::Icw2;
    }

    fn ocw2(&mut self, v: u8) {
        let level = v & 7;
        match v >> 5 {
            0b001 | 0b101 => {
                if let Some(irq) = self.highest(self.isr) {
                    self.isr &= !(1 << irq);
                    if v >> 5 == 0b101 {
                        self.lowest = irq;
                    }
                }
            }
            0b011 => self.isr &= !(1 << level),
            0b111 => {
                self.isr &= !(1 << level);
                self.lowest = level;
            }
            0b110 => self.lowest = level,
            0b100 => self.rotate_on_aeoi = true,
            0b000 => self.rotate_on_aeoi = false,
            _ => {} // 0b010: no operation
        }
    }

    fn ocw3(&mut self, v: u8) {
        if v & 0x04 != 0 {
            self.poll = true;
        }
        if v & 0x02 != 0 {
            self.read_isr = v & 0x01 != 0;
        }
        if v & 0x40 != 0 {
            self.special_mask = v & 0x20 != 0;
        }
    }

    fn write(&mut self, a0: bool, v: u8) {
        if !a0 {
            if v & 0x10 != 0 {
                self.icw1(v);
            } else if v & 0x08 != 0 {
                self.ocw3(v);
            } else {
                self.ocw2(v);
            }
            return;
        }
        match self.init {
            InitStep::Ready => self.imr = v,
            InitStep::Icw2 => {
                self.vector_base = v & 0xF8;
                self.init = match (self.single, self.needs_icw4) {
                    (false, _) => InitStep::Icw3,
                    (true, true) => InitStep::Icw4,
                    (true, false) => InitStep::Ready,
                };
            }
            InitStep::Icw3 => {
                // Cascade wiring is fixed on a PC (slave on IR2, ID 2).
                self.init = if self.needs_icw4 {
                    InitStep::Icw4
                } else {
                    InitStep::Ready
                };
            }
            InitStep::Icw4 => {
                self.auto_eoi = v & 0x02 != 0;
                self.special_fully_nested = v & 0x10 != 0;
                self.init = InitStep::Ready;
            }
        }
    }

    fn write_elcr(&mut self, v: u8) {
        self.elcr = v & self.elcr_mask;
        let level = self.level_mask();
        self.irr = (self.irr & !level) | (self.lines & level);
    }
}

/// The master/slave pair plus ELCR.
#[derive(Clone, Debug)]
pub struct PicPair {
    master: Pic8259,
    slave: Pic8259,
}

impl Default for PicPair {
    fn default() -> Self {
        Self::new()
    }
}

impl PicPair {
    /// (first port, count) ranges decoded by the pair and its ELCR.
    pub const PORTS: [(u16, u32); 3] =
        [(port::PIC_MASTER, 2), (port::PIC_SLAVE, 2), (port::ELCR, 2)];

    /// Both chips as after power-up (uninitialized, all IRs unmasked, edge).
    pub fn new() -> Self {
        // PIIX ELCR: IRQ0, 1, 2, 8 and 13 are always edge-triggered.
        PicPair {
            master: Pic8259::new(true, 0xF8),
            slave: Pic8259::new(false, 0xDE),
        }
    }

    fn sync_cascade(&mut self) {
        let out = self.slave.output();
        self.master.set_line(2, out);
    }

    /// Drives input `irq` (0–15). IRQ 2 is the cascade input and is not
    /// available to devices; requests for it are ignored.
    pub fn set_irq(&mut self, irq: u32, level: bool) {
        match irq {
            0 | 1 | 3..=7 => self.master.set_line(irq as u8, level),
            8..=15 => {
                self.slave.set_line(irq as u8 - 8, level);
                self.sync_cascade();
            }
            _ => {}
        }
    }

    /// The master's INT output (the CPU's INTR, or LINT0 in virtual wire mode).
    pub fn has_interrupt(&self) -> bool {
        self.master.output()
    }

    /// The INTA cycle: returns the vector and moves the request from IRR to
    /// ISR. Without a request it returns the spurious vector of IR7 (of the
    /// slave, IR15, when the master presented the cascade input).
    pub fn acknowledge(&mut self) -> u8 {
        let Some(irq) = self.master.pending() else {
            return self.master.vector_base | 7;
        };
        self.master.ack(irq);
        if irq != 2 || self.master.single {
            return self.master.vector_base | irq;
        }
        let vector = match self.slave.pending() {
            Some(sirq) => {
                self.slave.ack(sirq);
                self.slave.vector_base | sirq
            }
            None => self.slave.vector_base | 7,
        };
        // The slave's INT is re-sampled after the INTA cycle: a request that
        // is still pending is a new edge on master IR2.
        self.master.set_line(2, false);
        self.sync_cascade();
        vector
    }

    /// Reads one of the pair's byte ports (all ones for others).
    pub fn read_port(&mut self, p: u16) -> u8 {
        let v = match p {
            0x20 | 0x21 => self.master.read(p & 1 != 0),
            0xA0 | 0xA1 => self.slave.read(p & 1 != 0),
            0x4D0 => self.master.elcr,
            0x4D1 => self.slave.elcr,
            _ => 0xFF,
        };
        // A poll of the slave acknowledges and may drop its INT.
        self.sync_cascade();
        v
    }

    /// Writes one of the pair's byte ports.
    pub fn write_port(&mut self, p: u16, v: u8) {
        match p {
            0x20 | 0x21 => self.master.write(p & 1 != 0, v),
            0xA0 | 0xA1 => self.slave.write(p & 1 != 0, v),
            0x4D0 => self.master.write_elcr(v),
            0x4D1 => self.slave.write_elcr(v),
            _ => {}
        }
        self.sync_cascade();
    }

    /// The master chip (for inspection).
    pub fn master(&self) -> &Pic8259 {
        &self.master
    }

    /// The slave chip (for inspection).
    pub fn slave(&self) -> &Pic8259 {
        &self.slave
    }
}

impl Device for PicPair {
    fn name(&self) -> &'static str {
        "pic"
    }

    /// Byte-wide ports: wider accesses cover consecutive ports.
    fn io_read(&mut self, p: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        super::from_le(size, |i| self.read_port(p.wrapping_add(i as u16))) as u32
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, _ctx: &mut DeviceCtx) {
        for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
            self.write_port(p.wrapping_add(i as u16), b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    /// Writes bytes to ports through the Device interface.
    fn out(p: &mut PicPair, env: &mut TestEnv, seq: &[(u16, u8)]) {
        for &(port, v) in seq {
            p.io_write(port, 1, u32::from(v), &mut env.ctx());
        }
    }

    fn inb(p: &mut PicPair, env: &mut TestEnv, port: u16) -> u8 {
        p.io_read(port, 1, &mut env.ctx()) as u8
    }

    /// The BIOS/Linux initialization: vectors 0x20/0x28, cascade on IR2,
    /// 8086 mode, optionally auto-EOI.
    fn init(env: &mut TestEnv, icw4: u8) -> PicPair {
        let mut p = PicPair::new();
        out(
            &mut p,
            env,
            &[
                (0x20, 0x11),
                (0x21, 0x20),
                (0x21, 0x04),
                (0x21, icw4),
                (0xA0, 0x11),
                (0xA1, 0x28),
                (0xA1, 0x02),
                (0xA1, icw4),
                (0x21, 0x00),
                (0xA1, 0x00),
            ],
        );
        p
    }

    fn pulse(p: &mut PicPair, irq: u32) {
        p.set_irq(irq, true);
        p.set_irq(irq, false);
    }

    #[test]
    fn edge_interrupt_ack_and_eoi() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        assert!(!p.has_interrupt());
        pulse(&mut p, 0);
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x20);
        assert!(!p.has_interrupt());
        out(&mut p, &mut env, &[(0x20, 0x0B)]); // OCW3: read ISR
        assert_eq!(inb(&mut p, &mut env, 0x20), 0x01);
        out(&mut p, &mut env, &[(0x20, 0x20)]); // non-specific EOI
        assert_eq!(inb(&mut p, &mut env, 0x20), 0x00);
        // Holding an edge line high does not request again.
        p.set_irq(1, true);
        assert_eq!(p.acknowledge(), 0x21);
        out(&mut p, &mut env, &[(0x20, 0x20)]);
        assert!(!p.has_interrupt());
    }

    // 8259A "Fully Nested Mode" and "Rotation": the order in which pending
    // requests are acknowledged for a given lowest-priority IR.
    #[test]
    fn priority_resolution_table() {
        // (set-priority lowest IR or None for the default, requests, order)
        let table: &[(Option<u8>, &[u32], &[u8])] = &[
            (None, &[7, 3, 5, 1], &[1, 3, 5, 7]),
            (Some(3), &[7, 3, 5, 1], &[5, 7, 1, 3]),
            (Some(0), &[0, 1, 6], &[1, 6, 0]),
            (Some(7), &[6, 4], &[4, 6]),
        ];
        for &(lowest, reqs, order) in table {
            let mut env = TestEnv::new();
            let mut p = init(&mut env, 0x01);
            if let Some(l) = lowest {
                out(&mut p, &mut env, &[(0x20, 0xC0 | l)]);
            }
            for &r in reqs {
                pulse(&mut p, r);
            }
            for &want in order {
                assert_eq!(p.acknowledge(), 0x20 | want, "lowest {lowest:?}");
                out(&mut p, &mut env, &[(0x20, 0x60 | want)]); // specific EOI
            }
            assert!(!p.has_interrupt());
        }
    }

    #[test]
    fn in_service_blocks_equal_and_lower_priority() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        pulse(&mut p, 4);
        assert_eq!(p.acknowledge(), 0x24);
        pulse(&mut p, 6);
        assert!(!p.has_interrupt(), "IR6 below IR4 in service");
        pulse(&mut p, 3);
        assert!(p.has_interrupt(), "IR3 nests over IR4");
        assert_eq!(p.acknowledge(), 0x23);
        out(&mut p, &mut env, &[(0x20, 0x20)]); // EOI retires IR3
        assert!(!p.has_interrupt());
        out(&mut p, &mut env, &[(0x20, 0x20)]); // EOI retires IR4
        assert_eq!(p.acknowledge(), 0x26);
    }

    #[test]
    fn cascade_through_slave() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        pulse(&mut p, 10);
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x2A);
        assert_eq!(p.master().isr, 0x04);
        assert_eq!(p.slave().isr, 0x04);
        pulse(&mut p, 9);
        assert!(!p.has_interrupt(), "master IR2 in service");
        out(&mut p, &mut env, &[(0xA0, 0x20), (0x20, 0x20)]);
        assert_eq!(p.acknowledge(), 0x29);
        // Masking IR2 on the master hides every slave request.
        out(
            &mut p,
            &mut env,
            &[(0xA0, 0x20), (0x20, 0x20), (0x21, 0x04)],
        );
        pulse(&mut p, 12);
        assert!(!p.has_interrupt());
        out(&mut p, &mut env, &[(0x21, 0x00)]);
        assert_eq!(p.acknowledge(), 0x2C);
    }

    #[test]
    fn spurious_irq7_and_irq15() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        // Nothing pending: INTA gets IR7's vector, ISR untouched.
        assert_eq!(p.acknowledge(), 0x27);
        assert_eq!(p.master().isr, 0);
        // A level request that goes away before INTA on the slave.
        out(&mut p, &mut env, &[(0x4D1, 0x04)]); // IRQ10 level
        p.set_irq(10, true);
        p.set_irq(10, false);
        assert!(p.has_interrupt(), "master IR2 latched the edge");
        assert_eq!(p.acknowledge(), 0x2F);
        assert_eq!(p.master().isr, 0x04, "master still needs its EOI");
        assert_eq!(p.slave().isr, 0);
    }

    #[test]
    fn level_triggered_reasserts_after_eoi() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        out(&mut p, &mut env, &[(0x4D1, 0x08)]); // IRQ11 level
        p.set_irq(11, true);
        assert_eq!(p.acknowledge(), 0x2B);
        out(&mut p, &mut env, &[(0xA0, 0x20), (0x20, 0x20)]);
        assert!(p.has_interrupt(), "line still high");
        assert_eq!(p.acknowledge(), 0x2B);
        p.set_irq(11, false);
        out(&mut p, &mut env, &[(0xA0, 0x20), (0x20, 0x20)]);
        assert!(!p.has_interrupt());
    }

    #[test]
    fn elcr_masks_and_word_access() {
        let mut env = TestEnv::new();
        let mut p = PicPair::new();
        p.io_write(0x4D0, 2, 0xFFFF, &mut env.ctx());
        assert_eq!(p.io_read(0x4D0, 2, &mut env.ctx()), 0xDEF8);
        assert_eq!(inb(&mut p, &mut env, 0x4D1), 0xDE);
    }

    #[test]
    fn auto_eoi_and_rotation() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x03);
        pulse(&mut p, 5);
        assert_eq!(p.acknowledge(), 0x25);
        assert_eq!(p.master().isr, 0, "auto-EOI leaves ISR clear");
        // Rotate in auto-EOI mode: the acknowledged IR becomes lowest.
        out(&mut p, &mut env, &[(0x20, 0x80)]);
        pulse(&mut p, 5);
        pulse(&mut p, 6);
        assert_eq!(p.acknowledge(), 0x25);
        pulse(&mut p, 5);
        assert_eq!(p.acknowledge(), 0x26, "IR5 now has the lowest priority");
        assert_eq!(p.acknowledge(), 0x25);
        // Rotate on non-specific EOI (OCW2 0xA0).
        let mut p = init(&mut env, 0x01);
        pulse(&mut p, 1);
        assert_eq!(p.acknowledge(), 0x21);
        out(&mut p, &mut env, &[(0x20, 0xA0)]);
        pulse(&mut p, 1);
        pulse(&mut p, 4);
        assert_eq!(p.acknowledge(), 0x24);
    }

    #[test]
    fn ocw3_poll_and_register_reads() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        out(&mut p, &mut env, &[(0x21, 0xF0)]);
        assert_eq!(inb(&mut p, &mut env, 0x21), 0xF0, "IMR");
        pulse(&mut p, 2 + 1);
        assert_eq!(inb(&mut p, &mut env, 0x20), 0x08, "IRR after reset of OCW3");
        out(&mut p, &mut env, &[(0x20, 0x0C)]); // poll
        assert_eq!(inb(&mut p, &mut env, 0x20), 0x83);
        assert_eq!(p.master().isr, 0x08, "poll acknowledges");
        out(&mut p, &mut env, &[(0x20, 0x0C)]);
        assert_eq!(inb(&mut p, &mut env, 0x21), 0x00, "nothing pending");
        assert_eq!(inb(&mut p, &mut env, 0x21), 0xF0, "poll is one-shot");
    }

    #[test]
    fn special_mask_mode() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        pulse(&mut p, 3);
        assert_eq!(p.acknowledge(), 0x23);
        pulse(&mut p, 5);
        assert!(!p.has_interrupt());
        out(&mut p, &mut env, &[(0x21, 0x08), (0x20, 0x68)]); // mask IR3, SMM on
        assert!(p.has_interrupt());
        assert_eq!(p.acknowledge(), 0x25);
        out(&mut p, &mut env, &[(0x20, 0x48)]); // SMM off
        assert_eq!(p.master().isr, 0x28);
    }

    #[test]
    fn icw1_resets_state() {
        let mut env = TestEnv::new();
        let mut p = init(&mut env, 0x01);
        out(&mut p, &mut env, &[(0x21, 0xFF)]);
        pulse(&mut p, 1);
        out(&mut p, &mut env, &[(0x20, 0x11)]);
        assert_eq!(inb(&mut p, &mut env, 0x20), 0, "edge requests dropped");
        out(
            &mut p,
            &mut env,
            &[(0x21, 0x08), (0x21, 0x04), (0x21, 0x01)],
        );
        assert_eq!(inb(&mut p, &mut env, 0x21), 0, "IMR cleared");
        pulse(&mut p, 0);
        assert_eq!(p.acknowledge(), 0x08, "new vector base");
    }

    #[test]
    fn arbitrary_port_traffic_never_panics() {
        let mut env = TestEnv::new();
        let mut p = PicPair::new();
        let mut x: u32 = 12345;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let port = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1][(x >> 8) as usize % 6];
            if x & 1 == 0 {
                p.io_write(port, 1, x >> 16, &mut env.ctx());
            } else {
                let _ = p.io_read(port, 1, &mut env.ctx());
            }
            p.set_irq((x >> 20) % 20, x & 2 != 0);
            if p.has_interrupt() {
                let _ = p.acknowledge();
            }
        }
    }
}
