//! MC146818A real-time clock and CMOS RAM (index port 0x70, data port
//! 0x71, IRQ 8), after the Motorola MC146818A datasheet.
//!
//! The clock reads 2026-01-01 00:00:00 UTC at virtual time 0 and advances
//! with virtual time; the guest may set it (the offset is kept). Register
//! B selects BCD or binary and 12- or 24-hour formats; register A's
//! divider bits stop the clock unless they are 010 (32.768 kHz time base),
//! and leaving the divider reset starts the first update 500 ms later; B's
//! SET bit holds the time while software writes it (and clears UIE).
//!
//! Flags in register C are computed from virtual time when they are looked
//! at: PF at each periodic-rate boundary (RS in register A), UF at each
//! one-second update, AF at an update whose hours/minutes/seconds match the
//! alarm bytes (0xC0–0xFF in an alarm byte matches anything). IRQF and the
//! IRQ 8 line are high while any flag is set together with its enable bit
//! in register B; reading C clears the flags and drops the line.
//! [`Device::next_deadline`] is the next event that would raise the line.
//!
//! UIP (register A bit 7) is set during the last 244 µs before each
//! update, a deterministic function of virtual time. Bit 7 of the index
//! (NMI disable) does not take part in register selection; it is kept for
//! the machine ([`Rtc::nmi_disabled`]). CMOS bytes 0x0E–0x7F are plain
//! RAM, preset with the memory-size bytes SeaBIOS reads (see
//! [`Rtc::new`]) and the century (0x32, which also tracks the clock).
//!
//! Left out: the square-wave output, daylight-saving adjustment (DSE is
//! stored only), the day-of-week register follows the date (writes ignored),
//! and the 4.194304 / 1.048576 MHz time bases (the clock stops).

use crate::machine::device::{Device, DeviceCtx, MachineInfo};
use crate::machine::layout::{irq, port};

mod date;

use date::Tm;

const NS_PER_SEC: i128 = 1_000_000_000;
const RTC_HZ: i128 = 32_768;
/// UIP is set for this long before each update (8 cycles of 32.768 kHz).
const UIP_NS: i128 = 244_141;
/// Virtual time 0 is 2026-01-01 00:00:00 UTC, in seconds since 1970.
pub const EPOCH_UNIX_SECS: i64 = 1_767_225_600;

// Register indexes.
const REG_A: u8 = 0x0A;
const REG_B: u8 = 0x0B;
const REG_C: u8 = 0x0C;
const REG_D: u8 = 0x0D;
/// Conventional century byte (the FADT's CENTURY field points here).
pub const CENTURY: u8 = 0x32;

// Register B bits.
const B_SET: u8 = 0x80;
const B_PIE: u8 = 0x40;
const B_AIE: u8 = 0x20;
const B_UIE: u8 = 0x10;
const B_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;

// Register C bits.
const C_IRQF: u8 = 0x80;
const C_PF: u8 = 0x40;
const C_AF: u8 = 0x20;
const C_UF: u8 = 0x10;

/// The RTC/CMOS. Register it on ports [`Rtc::BASE`]..+2.
#[derive(Clone, Debug)]
pub struct Rtc {
    index: u8,
    nmi_disabled: bool,
    cmos: [u8; 128],
    reg_a: u8,
    reg_b: u8,
    /// PF/AF/UF latched since the last read of register C.
    flags: u8,
    /// Virtual ns at which the second `origin_secs` began (divider phase).
    origin_ns: i128,
    /// Clock value (Unix seconds) at `origin_ns`.
    origin_secs: i64,
    /// Held time while the clock is stopped (SET or divider not running).
    frozen: Option<i64>,
    /// Flags have been brought up to this virtual time.
    checked_ns: u64,
    irq_level: bool,
}

impl Rtc {
    /// Index port; the data port follows.
    pub const BASE: u16 = port::CMOS_INDEX;
    /// Number of ports decoded.
    pub const PORT_COUNT: u32 = 2;

    /// An RTC running from the fixed epoch, with CMOS preset from `info`:
    /// 0x15–0x16 base memory (640 KiB), 0x17–0x18 and 0x30–0x31 KiB above
    /// 1 MiB (at most 0xFFFF), 0x34–0x35 64 KiB blocks between 16 MiB and
    /// the end of low RAM, 0x5B–0x5D 64 KiB blocks above 4 GiB, 0x5F the
    /// number of CPUs minus one, 0x2E–0x2F the checksum of 0x10–0x2D.
    pub fn new(info: &MachineInfo) -> Self {
        let mut cmos = [0u8; 128];
        let kib_above_1m = (info.low_ram.saturating_sub(1 << 20) >> 10).min(0xFFFF) as u16;
        let blocks_above_16m = (info.low_ram.saturating_sub(16 << 20) >> 16).min(0xFFFF) as u16;
        let blocks_above_4g = (info.high_ram >> 16).min(0xFF_FFFF) as u32;
        let mut put = |at: usize, bytes: &[u8]| {
            for (i, &b) in bytes.iter().enumerate() {
                if let Some(slot) = cmos.get_mut(at + i) {
                    *slot = b;
                }
            }
        };
        put(0x15, &640u16.to_le_bytes());
        put(0x17, &kib_above_1m.to_le_bytes());
        put(0x30, &kib_above_1m.to_le_bytes());
        put(0x34, &blocks_above_16m.to_le_bytes());
        put(0x5B, &blocks_above_4g.to_le_bytes()[..3]);
        put(0x5F, &[info.cpus.saturating_sub(1).min(0xFF) as u8]);
        let sum: u16 = cmos[0x10..0x2E].iter().map(|&b| u16::from(b)).sum();
        cmos[0x2E..0x30].copy_from_slice(&sum.to_be_bytes());
        Rtc {
            index: 0,
            nmi_disabled: false,
            cmos,
            reg_a: 0x26,
            reg_b: B_24H,
            flags: 0,
            origin_ns: 0,
            origin_secs: EPOCH_UNIX_SECS,
            frozen: None,
            checked_ns: 0,
            irq_level: false,
        }
    }

    /// Bit 7 of the last index write (NMI disable).
    pub fn nmi_disabled(&self) -> bool {
        self.nmi_disabled
    }

    /// The clock (Unix seconds) at virtual time `now`.
    pub fn time_at(&self, now: u64) -> i64 {
        match self.frozen {
            Some(t) => t,
            None => {
                let s = (i128::from(now) - self.origin_ns).div_euclid(NS_PER_SEC);
                self.origin_secs.saturating_add(s as i64)
            }
        }
    }

    fn divider_running(&self) -> bool {
        (self.reg_a >> 4) & 7 == 0b010
    }

    fn running(&self) -> bool {
        self.frozen.is_none()
    }

    fn binary(&self) -> bool {
        self.reg_b & B_BINARY != 0
    }

    fn encode(&self, v: u32) -> u8 {
        let v = v % 100;
        if self.binary() {
            v as u8
        } else {
            (((v / 10) << 4) | (v % 10)) as u8
        }
    }

    fn decode(&self, r: u8) -> u32 {
        if self.binary() {
            u32::from(r)
        } else {
            u32::from(r >> 4) * 10 + u32::from(r & 0xF)
        }
    }

    fn encode_hour(&self, h: u32) -> u8 {
        if self.reg_b & B_24H != 0 {
            return self.encode(h);
        }
        let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
        self.encode(h12) | if h >= 12 { 0x80 } else { 0 }
    }

    fn decode_hour(&self, r: u8) -> u32 {
        if self.reg_b & B_24H != 0 {
            return self.decode(r);
        }
        let h = self.decode(r & 0x7F) % 12;
        if r & 0x80 != 0 { h + 12 } else { h }
    }

    /// Periodic interrupt period in 32.768 kHz cycles (register A RS).
    fn period_cycles(&self) -> Option<i128> {
        match self.reg_a & 0xF {
            0 => None,
            1 => Some(128),
            2 => Some(256),
            rs => Some(1 << (rs - 1)),
        }
    }

    fn cycles_at(&self, now: u64) -> i128 {
        ((i128::from(now) - self.origin_ns) * RTC_HZ).div_euclid(NS_PER_SEC)
    }

    fn ns_of_cycle(&self, cycle: i128) -> i128 {
        self.origin_ns + (cycle * NS_PER_SEC + RTC_HZ - 1).div_euclid(RTC_HZ)
    }

    fn ns_of_second(&self, secs: i64) -> i128 {
        self.origin_ns + i128::from(secs - self.origin_secs) * NS_PER_SEC
    }

    /// The first second after `secs` whose time matches the alarm.
    fn next_alarm(&self, secs: i64) -> Option<i64> {
        let tod = secs.rem_euclid(86_400);
        let day0 = secs - tod;
        let any = |a: u8| a & 0xC0 == 0xC0;
        let (sa, ma, ha) = (self.cmos[1], self.cmos[3], self.cmos[5]);
        for day in 0..2i64 {
            for h in 0..24i64 {
                if (day == 0 && h * 3600 + 3599 <= tod)
                    || !(any(ha) || ha == self.encode_hour(h as u32))
                {
                    continue;
                }
                for m in 0..60i64 {
                    let base = h * 3600 + m * 60;
                    if (day == 0 && base + 59 <= tod) || !(any(ma) || ma == self.encode(m as u32)) {
                        continue;
                    }
                    for s in 0..60i64 {
                        let t = day0 + day * 86_400 + base + s;
                        if t > secs && (any(sa) || sa == self.encode(s as u32)) {
                            return Some(t);
                        }
                    }
                }
            }
        }
        None
    }

    /// Latches the flags of the events in (checked_ns, now].
    fn update_flags(&mut self, now: u64) {
        if now <= self.checked_ns {
            return;
        }
        if self.running() {
            let before = self.checked_ns;
            if let Some(p) = self.period_cycles()
                && self.cycles_at(now).div_euclid(p) > self.cycles_at(before).div_euclid(p)
            {
                self.flags |= C_PF;
            }
            let (s0, s1) = (self.time_at(before), self.time_at(now));
            if s1 > s0 {
                self.flags |= C_UF;
                if self.next_alarm(s0).is_some_and(|t| t <= s1) {
                    self.flags |= C_AF;
                }
            }
        }
        self.checked_ns = now;
    }

    fn irqf(&self) -> bool {
        self.flags & self.reg_b & (C_PF | C_AF | C_UF) != 0
    }

    fn update_irq(&mut self, ctx: &mut DeviceCtx) {
        let level = self.irqf();
        if level != self.irq_level {
            self.irq_level = level;
            ctx.irq.set(irq::RTC, level);
        }
    }

    fn uip(&self, now: u64) -> bool {
        if !self.running() {
            return false;
        }
        let phase = (i128::from(now) - self.origin_ns).rem_euclid(NS_PER_SEC);
        phase >= NS_PER_SEC - UIP_NS
    }

    /// Stops or restarts the clock after a change of SET or the divider.
    fn sync_running(&mut self, now: u64, leaving_divider_reset: bool) {
        let should_run = self.reg_b & B_SET == 0 && self.divider_running();
        match (self.frozen, should_run) {
            (None, false) => self.frozen = Some(self.time_at(now)),
            (Some(t), true) => {
                self.frozen = None;
                self.origin_secs = t;
                // Leaving divider reset: the first update comes 500 ms later.
                let lead = if leaving_divider_reset {
                    NS_PER_SEC / 2
                } else {
                    0
                };
                self.origin_ns = i128::from(now) - lead;
            }
            _ => {}
        }
    }

    fn set_time_field(&mut self, reg: u8, v: u8, now: u64) {
        let cur = self.time_at(now);
        let mut tm = Tm::from_unix(cur);
        match reg {
            0x00 => tm.sec = self.decode(v),
            0x02 => tm.min = self.decode(v),
            0x04 => tm.hour = self.decode_hour(v),
            0x07 => tm.day = self.decode(v),
            0x08 => tm.month = self.decode(v),
            0x09 => tm.year = tm.year.div_euclid(100) * 100 + i64::from(self.decode(v) % 100),
            CENTURY => tm.year = i64::from(self.decode(v)) * 100 + tm.year.rem_euclid(100),
            _ => return,
        }
        let new = tm.to_unix();
        match &mut self.frozen {
            Some(t) => *t = new,
            None => self.origin_secs = self.origin_secs.saturating_add(new - cur),
        }
    }

    fn read_reg(&mut self, reg: u8, now: u64) -> u8 {
        let tm = || Tm::from_unix(self.time_at(now));
        match reg {
            0x00 => self.encode(tm().sec),
            0x02 => self.encode(tm().min),
            0x04 => self.encode_hour(tm().hour),
            0x06 => self.encode(tm().weekday() + 1),
            0x07 => self.encode(tm().day),
            0x08 => self.encode(tm().month),
            0x09 => self.encode(tm().year.rem_euclid(100) as u32),
            CENTURY => self.encode(tm().year.div_euclid(100).rem_euclid(100) as u32),
            REG_A => self.reg_a | if self.uip(now) { 0x80 } else { 0 },
            REG_B => self.reg_b,
            REG_C => {
                let v = self.flags | if self.irqf() { C_IRQF } else { 0 };
                self.flags = 0;
                v
            }
            REG_D => 0x80, // VRT: RAM and time valid
            _ => self.cmos[usize::from(reg & 0x7F)],
        }
    }

    fn write_reg(&mut self, reg: u8, v: u8, now: u64) {
        match reg {
            0x00 | 0x02 | 0x04 | 0x07 | 0x08 | 0x09 | CENTURY => self.set_time_field(reg, v, now),
            0x06 => {} // day of week follows the date
            REG_A => {
                let was_reset = (self.reg_a >> 5) & 3 == 3;
                self.reg_a = v & 0x7F;
                let leaving = was_reset && self.divider_running();
                self.sync_running(now, leaving);
            }
            REG_B => {
                self.reg_b = if v & B_SET != 0 { v & !B_UIE } else { v };
                self.sync_running(now, false);
            }
            REG_C | REG_D => {}
            _ => self.cmos[usize::from(reg & 0x7F)] = v,
        }
    }

    fn access(&mut self, ctx: &mut DeviceCtx, f: impl FnOnce(&mut Self, u64) -> u32) -> u32 {
        self.update_flags(ctx.now);
        let v = f(self, ctx.now);
        self.update_irq(ctx);
        v
    }
}

impl Device for Rtc {
    fn name(&self) -> &'static str {
        "rtc"
    }

    fn io_read(&mut self, p: u16, size: u8, ctx: &mut DeviceCtx) -> u32 {
        self.access(ctx, |s, now| {
            super::from_le(size, |i| match p.wrapping_add(i as u16) {
                port::CMOS_DATA => s.read_reg(s.index, now),
                _ => 0xFF, // the index register is write-only
            }) as u32
        })
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        self.access(ctx, |s, now| {
            for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
                match p.wrapping_add(i as u16) {
                    port::CMOS_INDEX => {
                        s.index = b & 0x7F;
                        s.nmi_disabled = b & 0x80 != 0;
                    }
                    port::CMOS_DATA => s.write_reg(s.index, b, now),
                    _ => {}
                }
            }
            0
        });
    }

    fn next_deadline(&self) -> Option<u64> {
        if self.irq_level || !self.running() {
            return None;
        }
        let now = self.checked_ns;
        let mut best: Option<i128> = None;
        let mut consider = |t: i128| best = Some(best.map_or(t, |b: i128| b.min(t)));
        if self.reg_b & B_PIE != 0
            && let Some(p) = self.period_cycles()
        {
            let next = (self.cycles_at(now).div_euclid(p) + 1) * p;
            consider(self.ns_of_cycle(next));
        }
        let secs = self.time_at(now);
        if self.reg_b & B_UIE != 0 {
            consider(self.ns_of_second(secs + 1));
        }
        if self.reg_b & B_AIE != 0
            && let Some(t) = self.next_alarm(secs)
        {
            consider(self.ns_of_second(t));
        }
        best.map(|t| t.clamp(0, i128::from(u64::MAX)) as u64)
    }

    fn on_timer(&mut self, ctx: &mut DeviceCtx) {
        self.update_flags(ctx.now);
        self.update_irq(ctx);
    }
}

#[cfg(test)]
mod tests;
