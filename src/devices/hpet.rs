//! High Precision Event Timer at `layout::HPET_BASE` (IA-PC HPET
//! Specification 1.0a, 2.3 "Register Definitions"): a 64-bit main counter
//! at `clock::HPET_HZ` (period 10 ns) and three timers.
//!
//! | Offset | Register |
//! |---|---|
//! | 0x000 | GCAP_ID: revision 1, 3 timers, 64-bit counter, legacy-replacement capable, vendor 0x8086, period 10 000 000 fs |
//! | 0x010 | GEN_CONF: ENABLE_CNF (bit 0), LEG_RT_CNF (bit 1) |
//! | 0x020 | GINTR_STA: level-triggered interrupt status, write 1 to clear |
//! | 0x0F0 | MAIN_CNT (writable while halted) |
//! | 0x100 + 0x20·n | Tn_CONF_CAP: level (bit 1), enable (2), periodic (3), periodic capable (4, RO), 64-bit capable (5, RO), value set (6), 32-bit mode (8), I/O APIC route (13:9), route capability (63:32, RO: inputs 2, 8 and 16–23) |
//! | 0x108 + 0x20·n | Tn_COMPARATOR (periodic: writes set the period, and the comparator too while VAL_SET) |
//!
//! A timer fires when the main counter passes its comparator (the low 32
//! bits in 32-bit mode); periodic timers then advance the comparator by
//! whole periods (several elapsed periods coalesce into one interrupt).
//! Edge-triggered timers pulse their GSI; level-triggered ones set their
//! GINTR_STA bit and hold the GSI asserted while the bit and the enable are
//! set. With LEG_RT_CNF, timer 0 drives GSI 0 and timer 1 GSI 8 (the PIT
//! and RTC keep running: the machine may consult
//! [`Hpet::legacy_replacement`]). Registers are read and written in any
//! width by byte lanes of the 64-bit registers.
//!
//! Left out: FSB (MSI) delivery, the extra interrupt of 32-bit one-shot
//! timers at a 32-bit counter wrap.

use crate::machine::clock::{self, HPET_HZ};
use crate::machine::device::{Device, DeviceCtx};
use crate::machine::layout::{self, irq};

/// Number of timers.
pub const TIMERS: usize = 3;
/// Counter period in femtoseconds.
pub const PERIOD_FS: u64 = 1_000_000_000_000_000 / HPET_HZ;
/// I/O APIC inputs a timer may be routed to.
pub const ROUTE_CAP: u32 = 0x00FF_0104;
/// GCAP_ID value.
pub const CAPABILITIES: u64 =
    (PERIOD_FS << 32) | (0x8086 << 16) | (1 << 15) | (1 << 13) | (((TIMERS as u64) - 1) << 8) | 1;

// Register offsets.
const GCAP_ID: u64 = 0x000;
const GEN_CONF: u64 = 0x010;
const GINTR_STA: u64 = 0x020;
const MAIN_CNT: u64 = 0x0F0;

// GEN_CONF bits.
const ENABLE: u64 = 1 << 0;
const LEGACY: u64 = 1 << 1;

/// Tn_CONF_CAP bits.
pub mod tn {
    /// Level-triggered interrupt.
    pub const LEVEL: u64 = 1 << 1;
    /// Interrupt enable.
    pub const INT_ENB: u64 = 1 << 2;
    /// Periodic mode.
    pub const PERIODIC: u64 = 1 << 3;
    /// Periodic capable (read-only).
    pub const PER_CAP: u64 = 1 << 4;
    /// 64-bit capable (read-only).
    pub const SIZE_CAP: u64 = 1 << 5;
    /// Next comparator write sets the comparator in periodic mode.
    pub const VAL_SET: u64 = 1 << 6;
    /// 32-bit mode.
    pub const MODE32: u64 = 1 << 8;
    /// Route field shift (5 bits).
    pub const ROUTE_SHIFT: u32 = 9;
    /// Bits software may write.
    pub const WRITABLE: u64 = LEVEL | INT_ENB | PERIODIC | VAL_SET | MODE32 | (0x1F << ROUTE_SHIFT);
}

#[derive(Clone, Debug, Default)]
struct Timer {
    config: u64,
    cmp: u64,
    period: u64,
    /// Main-counter value up to which crossings have been handled.
    last: u64,
    /// GSI currently held asserted (level mode).
    asserted: Option<u32>,
}

impl Timer {
    fn mask(&self) -> u64 {
        if self.config & tn::MODE32 != 0 {
            0xFFFF_FFFF
        } else {
            u64::MAX
        }
    }

    /// Counter ticks from `last` until the comparator matches (a full wrap
    /// when it equals `last`).
    fn distance(&self) -> u128 {
        let mask = self.mask();
        let d = self.cmp.wrapping_sub(self.last) & mask;
        if d == 0 {
            u128::from(mask) + 1
        } else {
            u128::from(d)
        }
    }
}

/// The HPET. Register it at [`Hpet::MMIO`].
#[derive(Clone, Debug)]
pub struct Hpet {
    conf: u64,
    isr: u64,
    /// Counter value when it was last enabled or written.
    counter_base: u64,
    /// Virtual time of the last enable.
    enabled_at: u64,
    timers: [Timer; TIMERS],
}

impl Default for Hpet {
    fn default() -> Self {
        Self::new()
    }
}

impl Hpet {
    /// MMIO base and size.
    pub const MMIO: (u64, u64) = (layout::HPET_BASE, 0x400);

    /// Halted counter at 0, timers disabled with comparators all ones.
    pub fn new() -> Self {
        let mut timers: [Timer; TIMERS] = Default::default();
        for t in &mut timers {
            t.config = tn::PER_CAP | tn::SIZE_CAP | (u64::from(ROUTE_CAP) << 32);
            t.cmp = u64::MAX;
        }
        Hpet {
            conf: 0,
            isr: 0,
            counter_base: 0,
            enabled_at: 0,
            timers,
        }
    }

    /// LEG_RT_CNF: timers 0 and 1 replace the PIT and RTC interrupts.
    pub fn legacy_replacement(&self) -> bool {
        self.conf & LEGACY != 0
    }

    fn running(&self) -> bool {
        self.conf & ENABLE != 0
    }

    /// The main counter at virtual time `now`.
    pub fn counter(&self, now: u64) -> u64 {
        if !self.running() {
            return self.counter_base;
        }
        let ticks =
            clock::ticks_at(now, HPET_HZ).saturating_sub(clock::ticks_at(self.enabled_at, HPET_HZ));
        self.counter_base.wrapping_add(ticks)
    }

    /// Virtual time at which the counter reaches `value` (`value` ahead).
    fn time_of(&self, ahead: u128, from: u64) -> u64 {
        let base_tick = clock::ticks_at(self.enabled_at, HPET_HZ);
        let tick = u128::from(base_tick) + u128::from(from.wrapping_sub(self.counter_base)) + ahead;
        clock::ns_for_ticks(tick.min(u128::from(u64::MAX)) as u64, HPET_HZ)
    }

    fn gsi(&self, i: usize) -> u32 {
        match (self.legacy_replacement(), i) {
            (true, 0) => irq::PIT,
            (true, 1) => irq::RTC,
            _ => ((self.timers[i].config >> tn::ROUTE_SHIFT) & 0x1F) as u32,
        }
    }

    /// Handles comparator crossings up to `now`.
    fn check(&mut self, now: u64, ctx: &mut DeviceCtx) {
        if !self.running() {
            return;
        }
        let counter = self.counter(now);
        for i in 0..TIMERS {
            let t = &mut self.timers[i];
            let elapsed = u128::from(counter.wrapping_sub(t.last));
            let dist = t.distance();
            t.last = counter;
            if elapsed < dist {
                continue;
            }
            if t.config & tn::PERIODIC != 0 && t.period & t.mask() != 0 {
                let p = u128::from(t.period & t.mask());
                let periods = (elapsed - dist) / p + 1;
                let advanced = u128::from(t.cmp) + periods * p;
                t.cmp = (advanced as u64) & t.mask();
            }
            let (level, enabled) = (t.config & tn::LEVEL != 0, t.config & tn::INT_ENB != 0);
            if level {
                self.isr |= 1 << i;
            } else if enabled {
                ctx.irq.pulse(self.gsi(i));
            }
        }
    }

    /// Drives the level-triggered lines from GINTR_STA and the enables.
    fn sync_lines(&mut self, ctx: &mut DeviceCtx) {
        for i in 0..TIMERS {
            let c = self.timers[i].config;
            let want = (c & tn::LEVEL != 0 && c & tn::INT_ENB != 0 && self.isr & (1 << i) != 0)
                .then(|| self.gsi(i));
            let t = &mut self.timers[i];
            if want != t.asserted {
                if let Some(old) = t.asserted {
                    ctx.irq.set(old, false);
                }
                if let Some(new) = want {
                    ctx.irq.set(new, true);
                }
                t.asserted = want;
            }
        }
    }

    fn read_reg(&self, reg: u64, now: u64) -> u64 {
        match reg {
            GCAP_ID => CAPABILITIES,
            GEN_CONF => self.conf,
            GINTR_STA => self.isr,
            MAIN_CNT => self.counter(now),
            0x100..=0x15F => {
                let t = &self.timers[((reg - 0x100) / 0x20) as usize];
                match reg & 0x1F {
                    0x00 => t.config,
                    0x08 => t.cmp,
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    /// Writes register `reg` with `value` in the byte lanes `lanes`.
    fn write_reg(&mut self, reg: u64, value: u64, lanes: u64, now: u64) {
        let merged = (self.read_reg(reg, now) & !lanes) | (value & lanes);
        match reg {
            GEN_CONF => {
                let was = self.running();
                if was {
                    self.counter_base = self.counter(now);
                }
                self.conf = merged & (ENABLE | LEGACY);
                if !was && self.running() {
                    self.enabled_at = now;
                    for t in &mut self.timers {
                        t.last = self.counter_base;
                    }
                }
            }
            GINTR_STA => self.isr &= !(value & lanes),
            MAIN_CNT if !self.running() => {
                self.counter_base = merged;
                for t in &mut self.timers {
                    t.last = merged;
                }
            }
            0x100..=0x15F => {
                let counter = self.counter(now);
                let t = &mut self.timers[((reg - 0x100) / 0x20) as usize];
                match reg & 0x1F {
                    0x00 => {
                        let mut new = (t.config & !tn::WRITABLE) | (merged & tn::WRITABLE);
                        let route = (new >> tn::ROUTE_SHIFT) & 0x1F;
                        if ROUTE_CAP & (1 << route) == 0 {
                            new = (new & !(0x1F << tn::ROUTE_SHIFT))
                                | (t.config & (0x1F << tn::ROUTE_SHIFT));
                        }
                        t.config = new;
                        t.cmp &= t.mask();
                        t.last = counter;
                    }
                    0x08 => {
                        let v = merged & t.mask();
                        let periodic = t.config & tn::PERIODIC != 0;
                        if !periodic || t.config & tn::VAL_SET != 0 {
                            t.cmp = v;
                        }
                        if periodic {
                            t.period = v;
                        }
                        t.config &= !tn::VAL_SET;
                        t.last = counter;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

impl Device for Hpet {
    fn name(&self) -> &'static str {
        "hpet"
    }

    fn mmio_read(&mut self, offset: u64, size: u8, ctx: &mut DeviceCtx) -> u64 {
        self.check(ctx.now, ctx);
        self.sync_lines(ctx);
        let shift = 8 * (offset & 7);
        let v = self.read_reg(offset & !7, ctx.now) >> shift;
        v & crate::machine::device::ones(size)
    }

    fn mmio_write(&mut self, offset: u64, size: u8, value: u64, ctx: &mut DeviceCtx) {
        self.check(ctx.now, ctx);
        let shift = 8 * (offset & 7);
        let lanes = crate::machine::device::ones(size) << shift;
        self.write_reg(offset & !7, value << shift, lanes, ctx.now);
        self.sync_lines(ctx);
    }

    fn next_deadline(&self) -> Option<u64> {
        if !self.running() {
            return None;
        }
        self.timers
            .iter()
            .enumerate()
            .filter(|(i, t)| {
                t.config & tn::INT_ENB != 0
                    && !(t.config & tn::LEVEL != 0 && self.isr & (1 << i) != 0)
            })
            .map(|(_, t)| self.time_of(t.distance(), t.last))
            .min()
    }

    fn on_timer(&mut self, ctx: &mut DeviceCtx) {
        self.check(ctx.now, ctx);
        self.sync_lines(ctx);
    }
}

#[cfg(test)]
mod tests;
