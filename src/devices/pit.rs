//! 8254 programmable interval timer (ports 0x40–0x43) and the channel 2
//! bits of system control port B (0x61), after the Intel 8254 datasheet.
//!
//! All three channels, modes 0–5 (6 and 7 alias 2 and 3), LSB / MSB /
//! LSB-then-MSB access, the counter-latch and read-back commands, BCD
//! counting, and the gate input of channel 2 (port 0x61 bit 0; channels 0
//! and 1 have their gate tied high). The input clock is `clock::PIT_HZ`;
//! counts and outputs are computed from virtual time, never ticked.
//!
//! Channel 0's output drives GSI 0. It is edge-consumed on a PC (the ELCR
//! cannot make IRQ0 level-triggered), so every low-to-high transition of
//! OUT0 is sent as a pulse (`IrqSink::pulse`) at the virtual time it
//! happens; transitions that pass while nobody looks (the machine runs the
//! timer late) coalesce into one pulse. [`Device::next_deadline`] is the
//! next such transition.
//!
//! Port 0x61: bit 0 gate 2, bit 1 speaker data enable, bits 2–3 stored,
//! bit 4 the refresh-request toggle (flips every 15.085 µs of virtual
//! time), bit 5 OUT2; bits 6–7 read 0.
//!
//! Simplifications: a count takes effect on the clock after it is written
//! without the extra "load" clock; a new count written in modes 2 and 3
//! restarts the period at once (as QEMU) instead of at the end of the
//! current one.

use crate::machine::clock::{self, PIT_HZ};
use crate::machine::device::{Device, DeviceCtx};
use crate::machine::layout::{irq, port};

/// Port B (system control) address.
pub const PORT_B: u16 = 0x61;
/// Refresh toggle period in virtual ns (Port B bit 4).
const REFRESH_NS: u64 = 15_085;

#[derive(Clone, Debug)]
struct Channel {
    mode: u8,
    /// 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
    access: u8,
    bcd: bool,
    /// The count N in effect (1..=65536, or 1..=10000 in BCD).
    reload: u64,
    /// A count has been written.
    armed: bool,
    /// Modes 1 and 5: a gate rising edge started the count.
    triggered: bool,
    /// Absolute PIT tick at which counting (re)started.
    start: u64,
    /// Elapsed ticks frozen while the gate is low (modes 0, 2, 3, 4).
    paused: Option<u64>,
    gate: bool,
    write_hi_next: bool,
    write_lsb: u8,
    read_hi_next: bool,
    latch: Option<u16>,
    latch_hi_next: bool,
    status: Option<u8>,
    null_count: bool,
}

impl Channel {
    fn new(gate: bool) -> Self {
        Channel {
            mode: 0,
            access: 3,
            bcd: false,
            reload: 0x1_0000,
            armed: false,
            triggered: false,
            start: 0,
            paused: None,
            gate,
            write_hi_next: false,
            write_lsb: 0,
            read_hi_next: false,
            latch: None,
            latch_hi_next: false,
            status: None,
            null_count: true,
        }
    }

    fn modulus(&self) -> u64 {
        if self.bcd { 10_000 } else { 0x1_0000 }
    }

    fn gate_triggered(&self) -> bool {
        matches!(self.mode, 1 | 5)
    }

    fn running(&self) -> bool {
        self.armed && (!self.gate_triggered() || self.triggered)
    }

    /// Ticks counted since the count started, if it is counting.
    fn elapsed(&self, now: u64) -> Option<u64> {
        if !self.running() {
            return None;
        }
        Some(
            self.paused
                .unwrap_or_else(|| now.saturating_sub(self.start)),
        )
    }

    /// OUT at tick `now` (8254 datasheet, "Mode Definitions").
    fn out(&self, now: u64) -> bool {
        let n = self.reload;
        let Some(d) = self.elapsed(now) else {
            // Mode 0 drives OUT low from the control word on; the other
            // modes idle high.
            return self.mode != 0;
        };
        match self.mode {
            0 | 1 => d >= n,
            2 if self.paused.is_some() => true,
            2 => d % n != n - 1,
            3 if self.paused.is_some() => true,
            3 => d % n < n.div_ceil(2),
            _ => d != n, // 4 and 5: one-clock low strobe
        }
    }

    /// The counting element at tick `now`, as the binary value 0..modulus.
    fn count(&self, now: u64) -> u64 {
        let n = self.reload;
        let m = self.modulus();
        let Some(d) = self.elapsed(now) else {
            return n % m;
        };
        match self.mode {
            2 => n - d % n,
            3 => (n - (2 * d) % n) & !1,
            _ => (n + m - d % m) % m,
        }
    }

    /// The first elapsed tick count after `d` at which OUT rises.
    fn next_rise(&self, d: u64) -> Option<u64> {
        let n = self.reload;
        match self.mode {
            0 | 1 => (d < n).then_some(n),
            2 | 3 => Some((d / n + 1) * n),
            _ => (d < n + 1).then_some(n + 1),
        }
    }

    fn encode(&self, v: u64) -> u16 {
        if self.bcd {
            let v = v % 10_000;
            (((v / 1000) << 12) | ((v / 100 % 10) << 8) | ((v / 10 % 10) << 4) | (v % 10)) as u16
        } else {
            v as u16
        }
    }

    fn decode(&self, raw: u16) -> u64 {
        let n = if self.bcd {
            let r = u64::from(raw);
            (r >> 12) * 1000 + ((r >> 8) & 0xF) * 100 + ((r >> 4) & 0xF) * 10 + (r & 0xF)
        } else {
            u64::from(raw)
        };
        if n == 0 { self.modulus() } else { n }
    }

    fn status_byte(&self, now: u64) -> u8 {
        (u8::from(self.out(now)) << 7)
            | (u8::from(self.null_count) << 6)
            | (self.access << 4)
            | (self.mode << 1)
            | u8::from(self.bcd)
    }

    fn control(&mut self, v: u8) {
        let mode = (v >> 1) & 7;
        self.mode = if mode >= 6 { mode - 4 } else { mode };
        self.access = (v >> 4) & 3;
        self.bcd = v & 1 != 0;
        self.armed = false;
        self.triggered = false;
        self.paused = None;
        self.write_hi_next = false;
        self.read_hi_next = false;
        self.latch = None;
        self.status = None;
        self.null_count = true;
    }

    fn load(&mut self, raw: u16, now: u64) {
        self.reload = self.decode(raw);
        self.armed = true;
        self.null_count = false;
        if self.gate_triggered() {
            // Modes 1 and 5 wait for a gate rising edge to start.
            return;
        }
        self.start = now;
        self.paused = (!self.gate).then_some(0);
    }

    /// Writes a count byte; true when a whole count was loaded.
    fn write(&mut self, v: u8, now: u64) -> bool {
        match self.access {
            1 => self.load(u16::from(v), now),
            2 => self.load(u16::from(v) << 8, now),
            _ if !self.write_hi_next => {
                self.write_lsb = v;
                self.write_hi_next = true;
                if self.mode == 0 {
                    // "Writing the first byte disables counting": OUT goes
                    // low and stays low until the full count is loaded.
                    self.armed = false;
                }
                return false;
            }
            _ => {
                self.write_hi_next = false;
                self.load(u16::from(self.write_lsb) | u16::from(v) << 8, now);
            }
        }
        true
    }

    fn read(&mut self, now: u64) -> u8 {
        if let Some(s) = self.status.take() {
            return s;
        }
        if let Some(l) = self.latch {
            let (byte, done) = match self.access {
                1 => (l as u8, true),
                2 => ((l >> 8) as u8, true),
                _ if !self.latch_hi_next => (l as u8, false),
                _ => ((l >> 8) as u8, true),
            };
            self.latch_hi_next = !done;
            if done {
                self.latch = None;
            }
            return byte;
        }
        let c = self.encode(self.count(now));
        match self.access {
            1 => c as u8,
            2 => (c >> 8) as u8,
            _ => {
                self.read_hi_next = !self.read_hi_next;
                if self.read_hi_next {
                    c as u8
                } else {
                    (c >> 8) as u8
                }
            }
        }
    }

    fn latch_count(&mut self, now: u64) {
        if self.latch.is_none() {
            self.latch = Some(self.encode(self.count(now)));
            self.latch_hi_next = false;
        }
    }

    fn latch_status(&mut self, now: u64) {
        if self.status.is_none() {
            self.status = Some(self.status_byte(now));
        }
    }

    fn set_gate(&mut self, gate: bool, now: u64) {
        let rising = gate && !self.gate;
        let falling = !gate && self.gate;
        self.gate = gate;
        if !self.armed {
            return;
        }
        match self.mode {
            1 | 5 if rising => {
                self.triggered = true;
                self.start = now;
            }
            2 | 3 if rising => {
                self.start = now;
                self.paused = None;
            }
            0 | 4 if rising => {
                if let Some(d) = self.paused.take() {
                    self.start = now.saturating_sub(d);
                }
            }
            0 | 2 | 3 | 4 if falling => self.paused = self.elapsed(now),
            _ => {}
        }
    }
}

/// The 8254 PIT. Register it on [`Pit::PORTS`].
#[derive(Clone, Debug)]
pub struct Pit {
    channels: [Channel; 3],
    /// Port B bits 3:0 as written.
    port_b: u8,
    /// Elapsed ticks of channel 0 up to which OUT0 rises have been sent.
    ch0_seen: u64,
}

impl Default for Pit {
    fn default() -> Self {
        Self::new()
    }
}

impl Pit {
    /// (first port, count) ranges decoded.
    pub const PORTS: [(u16, u32); 2] = [(port::PIT, 4), (PORT_B, 1)];

    /// Power-up state: no channel counting, gate 2 low.
    pub fn new() -> Self {
        Pit {
            channels: [Channel::new(true), Channel::new(true), Channel::new(false)],
            port_b: 0,
            ch0_seen: 0,
        }
    }

    fn tick(now_ns: u64) -> u64 {
        clock::ticks_at(now_ns, PIT_HZ)
    }

    /// OUT of channel `ch` (0–2) at virtual time `now_ns`.
    pub fn output(&self, ch: usize, now_ns: u64) -> bool {
        self.channels
            .get(ch)
            .is_some_and(|c| c.out(Self::tick(now_ns)))
    }

    /// Sends a pulse on GSI 0 if OUT0 rose since the last look.
    fn update_irq(&mut self, ctx: &mut DeviceCtx) {
        let c = &self.channels[0];
        let Some(d) = c.elapsed(Self::tick(ctx.now)) else {
            return;
        };
        if c.paused.is_none() && c.next_rise(self.ch0_seen).is_some_and(|r| r <= d) {
            ctx.irq.pulse(irq::PIT);
        }
        self.ch0_seen = d;
    }

    fn control(&mut self, v: u8, now: u64) {
        let sc = usize::from(v >> 6);
        if sc == 3 {
            // Read-back: bits 3:1 select channels 2..0; bit 5 clear = latch
            // count, bit 4 clear = latch status.
            for (i, c) in self.channels.iter_mut().enumerate() {
                if v & (2 << i) != 0 {
                    if v & 0x20 == 0 {
                        c.latch_count(now);
                    }
                    if v & 0x10 == 0 {
                        c.latch_status(now);
                    }
                }
            }
            return;
        }
        let Some(c) = self.channels.get_mut(sc) else {
            return;
        };
        if (v >> 4) & 3 == 0 {
            c.latch_count(now);
        } else {
            c.control(v);
        }
    }

    fn read_port(&mut self, p: u16, now_ns: u64) -> u8 {
        let now = Self::tick(now_ns);
        match p {
            0x40..=0x42 => self.channels[usize::from(p - 0x40)].read(now),
            PORT_B => {
                let refresh = ((now_ns / REFRESH_NS) & 1) as u8;
                let out2 = u8::from(self.channels[2].out(now));
                (self.port_b & 0x0F) | (refresh << 4) | (out2 << 5)
            }
            _ => 0xFF, // the control register cannot be read
        }
    }

    fn write_port(&mut self, p: u16, v: u8, now_ns: u64) {
        let now = Self::tick(now_ns);
        match p {
            0x40..=0x42 => {
                let ch = usize::from(p - 0x40);
                if self.channels[ch].write(v, now) && ch == 0 {
                    self.ch0_seen = 0;
                }
            }
            0x43 => self.control(v, now),
            PORT_B => {
                self.port_b = v & 0x0F;
                self.channels[2].set_gate(v & 1 != 0, now);
            }
            _ => {}
        }
    }
}

impl Device for Pit {
    fn name(&self) -> &'static str {
        "pit"
    }

    fn io_read(&mut self, p: u16, size: u8, ctx: &mut DeviceCtx) -> u32 {
        self.update_irq(ctx);
        let now = ctx.now;
        super::from_le(size, |i| self.read_port(p.wrapping_add(i as u16), now)) as u32
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        self.update_irq(ctx);
        for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
            self.write_port(p.wrapping_add(i as u16), b, ctx.now);
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        let c = &self.channels[0];
        if !c.running() || c.paused.is_some() {
            return None;
        }
        let rise = c.next_rise(self.ch0_seen)?;
        Some(clock::ns_for_ticks(c.start.saturating_add(rise), PIT_HZ))
    }

    fn on_timer(&mut self, ctx: &mut DeviceCtx) {
        self.update_irq(ctx);
    }
}

#[cfg(test)]
mod tests;
