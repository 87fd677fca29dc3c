//! 16550A UART (COM1: ports 0x3F8–0x3FF, IRQ 4), after the National
//! Semiconductor PC16550D datasheet ("Table II. Summary of Registers",
//! "Table IV. Interrupt Control Functions").
//!
//! Transmission is instantaneous: a byte written to THR goes straight to the
//! output sink, so LSR always shows THRE and TEMT. Reception has two stages:
//! bytes pushed by the machine ([`Uart::push_input`]) wait "on the wire" and
//! move into the receiver (1-byte holding register, or the 16-byte FIFO when
//! FCR bit 0 is set) as soon as there is room; loopback bytes enter the
//! receiver directly and overrun it (LSR OE) when it is full.
//!
//! Left out: baud-rate timing (the divisor latch is stored, nothing else),
//! the character-timeout interrupt (data-available is reported as soon as
//! one byte is in the receiver, whatever the FIFO trigger level), parity,
//! framing and break errors (never occur), DMA mode. As in QEMU, the IRQ
//! output is not gated by MCR OUT2.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::machine::device::{Device, DeviceCtx};
use crate::machine::layout::{irq, port};

/// Where transmitted bytes go.
#[derive(Clone, Debug)]
pub enum UartOutput {
    /// The host's standard output, flushed at every line feed and by
    /// [`Uart::flush`] (and when the UART is dropped).
    Stdout,
    /// A shared buffer (tests, capture). A mutex rather than a `RefCell`
    /// because the KVM backend runs devices from its vCPU threads.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

// Register offsets from the base port.
const RBR_THR_DLL: u16 = 0;
const IER_DLM: u16 = 1;
const IIR_FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const MSR: u16 = 6;
const SCR: u16 = 7;

// IER bits.
const IER_RDA: u8 = 1 << 0;
const IER_THRE: u8 = 1 << 1;
const IER_RLS: u8 = 1 << 2;
const IER_MS: u8 = 1 << 3;

// IIR interrupt identification codes (Table IV), highest priority first.
const IIR_NONE: u8 = 0x01;
const IIR_RLS: u8 = 0x06;
const IIR_RDA: u8 = 0x04;
const IIR_THRE: u8 = 0x02;
const IIR_MS: u8 = 0x00;
const IIR_FIFO_ENABLED: u8 = 0xC0;

// LSR bits.
const LSR_DR: u8 = 1 << 0;
const LSR_OE: u8 = 1 << 1;
const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;

// LCR / MCR bits.
const LCR_DLAB: u8 = 1 << 7;
const MCR_LOOP: u8 = 1 << 4;

// MSR bits: deltas in 3:0, states in 7:4 (CTS, DSR, RI, DCD).
const MSR_DELTAS: u8 = 0x0F;
const MSR_TERI: u8 = 1 << 2;
const MSR_RI: u8 = 1 << 6;
/// Modem inputs of a connected host: DCD, DSR and CTS asserted (as QEMU).
const MSR_HOST_LINES: u8 = 0xB0;

const FIFO_SIZE: usize = 16;

/// The UART. Register it on ports [`Uart::BASE`]..+8.
pub struct Uart {
    output: UartOutput,
    base: u16,
    gsi: u32,
    /// Bytes received by the guest-visible receiver (holding register or FIFO).
    rx: VecDeque<u8>,
    /// Bytes from the host not yet in the receiver.
    wire: VecDeque<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    lsr_errors: u8,
    msr: u8,
    scr: u8,
    fcr: u8,
    divisor: u16,
    /// THR-empty interrupt pending (set when THR empties, cleared by an IIR
    /// read reporting it or by a THR write).
    thre_pending: bool,
    /// Level last driven on the IRQ line.
    irq_level: bool,
    /// The IRQ line must be re-evaluated at the next [`Device::on_timer`]
    /// (input arrived outside a device call).
    irq_dirty: bool,
}

impl Uart {
    /// COM1's base port.
    pub const BASE: u16 = port::COM1;
    /// Number of ports the UART decodes.
    pub const PORT_COUNT: u32 = 8;

    /// A UART at COM1 (0x3F8, GSI 4) writing to `output`.
    pub fn new(output: UartOutput) -> Self {
        Self::with_base(output, port::COM1, irq::COM1)
    }

    /// A UART at another base port and GSI (COM2..COM4).
    pub fn with_base(output: UartOutput, base: u16, gsi: u32) -> Self {
        Uart {
            output,
            base,
            gsi,
            rx: VecDeque::new(),
            wire: VecDeque::new(),
            ier: 0,
            lcr: 0,
            mcr: 0,
            lsr_errors: 0,
            msr: MSR_HOST_LINES,
            scr: 0,
            fcr: 0,
            divisor: 12, // 9600 baud
            thre_pending: false,
            irq_level: false,
            irq_dirty: false,
        }
    }

    /// Queues host input for the guest. The receive interrupt (if enabled)
    /// is raised at the next [`Device::on_timer`], which
    /// [`Device::next_deadline`] asks for immediately: re-query the deadline
    /// after pushing.
    pub fn push_input(&mut self, bytes: &[u8]) {
        self.wire.extend(bytes.iter().copied());
        self.refill();
        self.irq_dirty = true;
    }

    /// Flushes the host output (stdout).
    pub fn flush(&mut self) {
        if let UartOutput::Stdout = self.output {
            let _ = std::io::stdout().flush();
        }
    }

    fn fifo_enabled(&self) -> bool {
        self.fcr & 1 != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() { FIFO_SIZE } else { 1 }
    }

    /// Moves bytes from the wire into the receiver while there is room.
    fn refill(&mut self) {
        if self.mcr & MCR_LOOP != 0 {
            // In loopback the serial input is disconnected.
            return;
        }
        while self.rx.len() < self.rx_capacity() {
            match self.wire.pop_front() {
                Some(b) => self.rx.push_back(b),
                None => break,
            }
        }
    }

    fn lsr(&self) -> u8 {
        let dr = if self.rx.is_empty() { 0 } else { LSR_DR };
        dr | self.lsr_errors | LSR_THRE | LSR_TEMT
    }

    /// The highest-priority pending interrupt (Table IV).
    fn iir_id(&self) -> u8 {
        if self.ier & IER_RLS != 0 && self.lsr_errors != 0 {
            IIR_RLS
        } else if self.ier & IER_RDA != 0 && !self.rx.is_empty() {
            IIR_RDA
        } else if self.ier & IER_THRE != 0 && self.thre_pending {
            IIR_THRE
        } else if self.ier & IER_MS != 0 && self.msr & MSR_DELTAS != 0 {
            IIR_MS
        } else {
            IIR_NONE
        }
    }

    fn update_irq(&mut self, ctx: &mut DeviceCtx) {
        self.irq_dirty = false;
        let level = self.iir_id() != IIR_NONE;
        if level != self.irq_level {
            self.irq_level = level;
            ctx.irq.set(self.gsi, level);
        }
    }

    fn emit(&mut self, byte: u8) {
        match &self.output {
            UartOutput::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&[byte]);
                if byte == b'\n' {
                    let _ = out.flush();
                }
            }
            UartOutput::Buffer(buf) => {
                if let Ok(mut b) = buf.lock() {
                    b.push(byte);
                }
            }
        }
    }

    fn transmit(&mut self, byte: u8, ctx: &mut DeviceCtx) {
        // Writing THR clears the THRE interrupt; the byte leaves at once and
        // THR is empty again, which raises a new THRE interrupt (an edge).
        self.thre_pending = false;
        self.update_irq(ctx);
        if self.mcr & MCR_LOOP != 0 {
            if self.rx.len() < self.rx_capacity() {
                self.rx.push_back(byte);
            } else {
                self.lsr_errors |= LSR_OE;
            }
        } else {
            self.emit(byte);
        }
        self.thre_pending = true;
    }

    /// Modem status inputs implied by MCR in loopback mode (DTR→DSR,
    /// RTS→CTS, OUT1→RI, OUT2→DCD).
    fn loopback_lines(mcr: u8) -> u8 {
        let m = u32::from(mcr);
        (((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)) as u8
    }

    fn set_modem_lines(&mut self, lines: u8) {
        let old = self.msr & 0xF0;
        let changed = old ^ lines;
        let mut deltas = 0;
        if changed & 0x10 != 0 {
            deltas |= 1; // DCTS
        }
        if changed & 0x20 != 0 {
            deltas |= 2; // DDSR
        }
        if old & MSR_RI != 0 && lines & MSR_RI == 0 {
            deltas |= MSR_TERI;
        }
        if changed & 0x80 != 0 {
            deltas |= 8; // DDCD
        }
        self.msr = lines | (self.msr & MSR_DELTAS) | deltas;
    }

    fn read_reg(&mut self, reg: u16) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        match reg {
            RBR_THR_DLL if dlab => self.divisor as u8,
            RBR_THR_DLL => {
                let b = self.rx.pop_front().unwrap_or(0);
                self.refill();
                b
            }
            IER_DLM if dlab => (self.divisor >> 8) as u8,
            IER_DLM => self.ier,
            IIR_FCR => {
                let id = self.iir_id();
                if id == IIR_THRE {
                    self.thre_pending = false;
                }
                let fifo = if self.fifo_enabled() {
                    IIR_FIFO_ENABLED
                } else {
                    0
                };
                id | fifo
            }
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => {
                let v = self.lsr();
                self.lsr_errors = 0;
                v
            }
            MSR => {
                let v = self.msr;
                self.msr &= !MSR_DELTAS;
                v
            }
            SCR => self.scr,
            _ => 0xFF,
        }
    }

    fn write_reg(&mut self, reg: u16, v: u8, ctx: &mut DeviceCtx) {
        let dlab = self.lcr & LCR_DLAB != 0;
        match reg {
            RBR_THR_DLL if dlab => self.divisor = (self.divisor & 0xFF00) | u16::from(v),
            RBR_THR_DLL => self.transmit(v, ctx),
            IER_DLM if dlab => self.divisor = (self.divisor & 0x00FF) | (u16::from(v) << 8),
            IER_DLM => {
                let old = self.ier;
                self.ier = v & 0x0F;
                // Enabling the THRE interrupt while THR is empty requests it
                // at once (PC16550D: "THRE interrupt... when enabled").
                if old & IER_THRE == 0 && self.ier & IER_THRE != 0 {
                    self.thre_pending = true;
                }
            }
            IIR_FCR => {
                let enable_changed = (self.fcr ^ v) & 1 != 0;
                if enable_changed || v & 2 != 0 {
                    self.rx.clear();
                    self.lsr_errors &= !LSR_OE;
                }
                // Bit 2 (clear transmit FIFO) has nothing to clear; bit 3
                // (DMA mode) is ignored.
                self.fcr = v & 0xC1;
                self.refill();
            }
            LCR => self.lcr = v,
            MCR => {
                let was_loop = self.mcr & MCR_LOOP != 0;
                self.mcr = v & 0x1F;
                let lines = if self.mcr & MCR_LOOP != 0 {
                    Self::loopback_lines(self.mcr)
                } else {
                    MSR_HOST_LINES
                };
                self.set_modem_lines(lines);
                if was_loop && self.mcr & MCR_LOOP == 0 {
                    self.refill();
                }
            }
            SCR => self.scr = v,
            _ => {} // LSR, MSR: read-only (factory-test writes ignored)
        }
    }
}

impl Drop for Uart {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Device for Uart {
    fn name(&self) -> &'static str {
        "uart"
    }

    fn io_read(&mut self, port: u16, size: u8, ctx: &mut DeviceCtx) -> u32 {
        let reg = port.wrapping_sub(self.base) & 7;
        let v = self.read_reg(reg);
        self.update_irq(ctx);
        // Wider accesses see the byte register and all ones above it.
        (u32::from(v) | !0xFF) & crate::machine::device::ones(size) as u32
    }

    fn io_write(&mut self, port: u16, _size: u8, value: u32, ctx: &mut DeviceCtx) {
        let reg = port.wrapping_sub(self.base) & 7;
        self.write_reg(reg, value as u8, ctx);
        self.update_irq(ctx);
    }

    fn next_deadline(&self) -> Option<u64> {
        self.irq_dirty.then_some(0)
    }

    fn on_timer(&mut self, ctx: &mut DeviceCtx) {
        self.update_irq(ctx);
    }

    fn push_input(&mut self, bytes: &[u8]) {
        Uart::push_input(self, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    fn uart() -> (Uart, Arc<Mutex<Vec<u8>>>, TestEnv) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        (
            Uart::new(UartOutput::Buffer(buf.clone())),
            buf,
            TestEnv::new(),
        )
    }

    fn rd(u: &mut Uart, env: &mut TestEnv, reg: u16) -> u8 {
        u.io_read(0x3F8 + reg, 1, &mut env.ctx()) as u8
    }

    fn wr(u: &mut Uart, env: &mut TestEnv, reg: u16, v: u8) {
        u.io_write(0x3F8 + reg, 1, u32::from(v), &mut env.ctx());
    }

    // kvm-unit-tests' serial init: DLAB divisor, LCR=3, FCR=0, MCR=3, then
    // polling LSR bit 5 before each THR write.
    #[test]
    fn kvm_unit_tests_init_and_transmit() {
        let (mut u, buf, mut env) = uart();
        wr(&mut u, &mut env, LCR, 0x80);
        wr(&mut u, &mut env, 0, 0x01);
        wr(&mut u, &mut env, 1, 0x00);
        assert_eq!(rd(&mut u, &mut env, 0), 0x01, "DLL readable with DLAB");
        wr(&mut u, &mut env, LCR, 0x03);
        wr(&mut u, &mut env, 1, 0x00);
        wr(&mut u, &mut env, IIR_FCR, 0x00);
        wr(&mut u, &mut env, MCR, 0x03);
        for &b in b"ok\r\n" {
            assert_ne!(rd(&mut u, &mut env, LSR) & LSR_THRE, 0);
            wr(&mut u, &mut env, 0, b);
        }
        assert_eq!(&*buf.lock().expect("buffer"), b"ok\r\n");
        assert!(env.irqs().is_empty(), "IER=0: no interrupts");
    }

    // PC16550D Table II: register access by DLAB.
    #[test]
    fn register_map_table_ii() {
        let (mut u, _, mut env) = uart();
        // (DLAB, reg, value written, value read back)
        let table: &[(bool, u16, u8, u8)] = &[
            (true, 0, 0x34, 0x34),  // DLL
            (true, 1, 0x12, 0x12),  // DLM
            (false, 1, 0xFF, 0x0F), // IER: bits 7:4 read 0
            (false, 3, 0x1B, 0x1B), // LCR
            (false, 4, 0xFF, 0x1F), // MCR: bits 7:5 read 0
            (false, 7, 0x5A, 0x5A), // SCR
        ];
        for &(dlab, reg, w, r) in table {
            wr(&mut u, &mut env, LCR, if dlab { 0x80 } else { 0 });
            wr(&mut u, &mut env, reg, w);
            if reg != LCR {
                assert_eq!(rd(&mut u, &mut env, reg), r, "reg {reg} dlab {dlab}");
            }
        }
        assert_eq!(u.divisor, 0x1234);
    }

    #[test]
    fn receive_raises_and_clears_rda_interrupt() {
        let (mut u, _, mut env) = uart();
        wr(&mut u, &mut env, 1, IER_RDA);
        u.push_input(b"hi");
        assert_eq!(u.next_deadline(), Some(0));
        u.on_timer(&mut env.ctx());
        assert_eq!(env.irqs(), vec![(4, true)]);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_RDA);
        assert_eq!(rd(&mut u, &mut env, LSR) & LSR_DR, LSR_DR);
        assert_eq!(rd(&mut u, &mut env, 0), b'h');
        assert!(env.irqs().is_empty(), "second byte moved in: still pending");
        assert_eq!(rd(&mut u, &mut env, 0), b'i');
        assert_eq!(env.irqs(), vec![(4, false)]);
        assert_eq!(rd(&mut u, &mut env, LSR) & LSR_DR, 0);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_NONE);
        assert_eq!(u.next_deadline(), None);
    }

    #[test]
    fn thre_interrupt_semantics() {
        let (mut u, _, mut env) = uart();
        // Enabling IER.THRE with THR empty raises the interrupt.
        wr(&mut u, &mut env, 1, IER_THRE);
        assert_eq!(env.irqs(), vec![(4, true)]);
        // Reading IIR that reports THRE clears it.
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_THRE);
        assert_eq!(env.irqs(), vec![(4, false)]);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_NONE);
        // Each THR write produces a new edge.
        wr(&mut u, &mut env, 0, b'x');
        assert_eq!(env.irqs(), vec![(4, true)]);
        wr(&mut u, &mut env, 0, b'y');
        assert_eq!(env.irqs(), vec![(4, false), (4, true)]);
        // Disabling the interrupt drops the line.
        wr(&mut u, &mut env, 1, 0);
        assert_eq!(env.irqs(), vec![(4, false)]);
    }

    #[test]
    fn interrupt_priority_table_iv() {
        let (mut u, _, mut env) = uart();
        wr(&mut u, &mut env, MCR, MCR_LOOP);
        wr(&mut u, &mut env, 1, 0x0F);
        // RDA (loopback byte) outranks THRE and modem status.
        wr(&mut u, &mut env, 0, 1);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_RDA);
        // Overrun: line status outranks everything.
        wr(&mut u, &mut env, 0, 2);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_RLS);
        assert_eq!(
            rd(&mut u, &mut env, LSR) & (LSR_OE | LSR_DR),
            LSR_OE | LSR_DR
        );
        assert_eq!(rd(&mut u, &mut env, 0), 1);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_THRE);
        // Modem status: loopback MCR change set deltas.
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_MS);
        let _ = rd(&mut u, &mut env, MSR);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR), IIR_NONE);
    }

    #[test]
    fn loopback_modem_lines() {
        let (mut u, buf, mut env) = uart();
        // (MCR, MSR state bits)
        let table: &[(u8, u8)] = &[
            (MCR_LOOP | 0x01, 0x20), // DTR -> DSR
            (MCR_LOOP | 0x02, 0x10), // RTS -> CTS
            (MCR_LOOP | 0x04, 0x40), // OUT1 -> RI
            (MCR_LOOP | 0x08, 0x80), // OUT2 -> DCD
            (MCR_LOOP | 0x0F, 0xF0),
            (0x00, MSR_HOST_LINES),
        ];
        for &(mcr, lines) in table {
            wr(&mut u, &mut env, MCR, mcr);
            assert_eq!(rd(&mut u, &mut env, MSR) & 0xF0, lines, "mcr {mcr:#x}");
        }
        wr(&mut u, &mut env, MCR, MCR_LOOP);
        wr(&mut u, &mut env, 0, b'z');
        assert!(
            buf.lock().expect("buffer").is_empty(),
            "loopback output stays inside"
        );
        assert_eq!(rd(&mut u, &mut env, 0), b'z');
    }

    #[test]
    fn fifo_mode_and_clear() {
        let (mut u, _, mut env) = uart();
        wr(&mut u, &mut env, IIR_FCR, 0x01);
        assert_eq!(rd(&mut u, &mut env, IIR_FCR) & 0xC0, 0xC0);
        u.push_input(&[7; 20]);
        assert_eq!(u.rx.len(), 16);
        wr(&mut u, &mut env, IIR_FCR, 0x03); // clear RX FIFO
        assert_eq!(u.rx.len(), 4, "the wire refills the FIFO");
        wr(&mut u, &mut env, IIR_FCR, 0x00);
        assert_eq!(u.rx.len(), 0);
        assert_eq!(rd(&mut u, &mut env, 0), 0, "empty receiver reads 0");
    }

    #[test]
    fn wide_access_does_not_panic() {
        let (mut u, _, mut env) = uart();
        for size in [1, 2, 4] {
            for p in 0x3F8..0x400u16 {
                let _ = u.io_read(p, size, &mut env.ctx());
                u.io_write(p, size, 0xFFFF_FFFF, &mut env.ctx());
            }
        }
        u.io_write(0x3F8 + MCR, 1, 0, &mut env.ctx());
    }
}
