//! ACPI fixed-hardware PM registers (ACPI 6.5, 4.8.3 "PM1 Event Grouping",
//! 4.8.3.2 "PM1 Control Grouping", 4.8.3.3 "Power Management Timer") at
//! `layout::port::ACPI_PM_BASE`:
//!
//! | Offset | Register | Notes |
//! |---|---|---|
//! | +0 | PM1a_STS (16) | TMR_STS (bit 0), GBL_STS (5), PWRBTN_STS (8), RTC_STS (10), WAK_STS (15); write 1 to clear |
//! | +2 | PM1a_EN (16) | matching enables |
//! | +4 | PM1a_CNT (16) | SCI_EN (bit 0, set: the machine is in ACPI mode, the FADT has no SMI_CMD), SLP_TYP (12:10), SLP_EN (13, write-only) |
//! | +8 | PM_TMR (32) | 24-bit counter at `clock::PM_TIMER_HZ` (FADT flag TMR_VAL_EXT = 0) |
//!
//! Writing SLP_EN with SLP_TYP = [`S5_SLP_TYP`] requests power-off (the
//! DSDT's `\_S5` package must give that value); other sleep types are
//! ignored (no S1–S4). TMR_STS is set each time bit 23 of the timer
//! changes; the SCI (GSI 9) is asserted while SCI_EN is set and any status
//! bit is set together with its enable bit. Accesses of any width are
//! handled byte by byte; unimplemented bytes (+6, +7) read all ones.

use crate::machine::clock::{self, PM_TIMER_HZ};
use crate::machine::device::{Device, DeviceCtx, ExitRequest};
use crate::machine::layout::{irq, port};

/// SLP_TYP value of S5 (soft off).
pub const S5_SLP_TYP: u16 = 5;
/// The PM timer is 24 bits wide (FADT TMR_VAL_EXT clear).
pub const PM_TIMER_32BIT: bool = false;

/// Register offsets.
pub mod reg {
    /// PM1a status.
    pub const PM1_STS: u16 = 0;
    /// PM1a enable.
    pub const PM1_EN: u16 = 2;
    /// PM1a control.
    pub const PM1_CNT: u16 = 4;
    /// PM timer.
    pub const PM_TMR: u16 = 8;
}

/// PM1 status/enable bits.
pub mod pm1 {
    /// Timer carry (bit 23 toggled).
    pub const TMR: u16 = 1 << 0;
    /// Global lock release.
    pub const GBL: u16 = 1 << 5;
    /// Power button.
    pub const PWRBTN: u16 = 1 << 8;
    /// RTC alarm.
    pub const RTC: u16 = 1 << 10;
    /// Wake status (status register only).
    pub const WAK: u16 = 1 << 15;
    /// Bits that exist in PM1_STS.
    pub const STS_BITS: u16 = TMR | GBL | PWRBTN | RTC | WAK;
    /// Bits that exist in PM1_EN.
    pub const EN_BITS: u16 = TMR | GBL | PWRBTN | RTC;
}

/// PM1_CNT bits.
pub mod cnt {
    /// SCI enable (events raise SCI rather than SMI).
    pub const SCI_EN: u16 = 1 << 0;
    /// Bus-master reload.
    pub const BM_RLD: u16 = 1 << 1;
    /// Global lock release (write-only).
    pub const GBL_RLS: u16 = 1 << 2;
    /// Sleep type field shift.
    pub const SLP_TYP_SHIFT: u16 = 10;
    /// Sleep enable (write-only).
    pub const SLP_EN: u16 = 1 << 13;
}

/// The PM register block. Register it on ports [`AcpiPm::BASE`]..+12.
#[derive(Clone, Debug)]
pub struct AcpiPm {
    sts: u16,
    en: u16,
    cnt: u16,
    /// Bit-23 epoch of the timer (ticks >> 23) last folded into TMR_STS.
    epoch: u64,
    sci_level: bool,
    /// Time of the last access (reference for `next_deadline`).
    last_ns: u64,
}

impl Default for AcpiPm {
    fn default() -> Self {
        Self::new()
    }
}

impl AcpiPm {
    /// First port of the block.
    pub const BASE: u16 = port::ACPI_PM_BASE;
    /// Number of ports decoded.
    pub const PORT_COUNT: u32 = 12;

    /// SCI_EN set, every status and enable bit clear.
    pub fn new() -> Self {
        AcpiPm {
            sts: 0,
            en: 0,
            cnt: cnt::SCI_EN,
            epoch: 0,
            sci_level: false,
            last_ns: 0,
        }
    }

    /// The PM timer value at virtual time `now`.
    pub fn timer(now: u64) -> u32 {
        (clock::ticks_at(now, PM_TIMER_HZ) & 0xFF_FFFF) as u32
    }

    /// Raises a power-button press (sets PWRBTN_STS); the SCI follows at
    /// the next access or timer.
    pub fn press_power_button(&mut self) {
        self.sts |= pm1::PWRBTN;
    }

    fn sync(&mut self, now: u64) {
        let epoch = clock::ticks_at(now, PM_TIMER_HZ) >> 23;
        if epoch != self.epoch {
            self.epoch = epoch;
            self.sts |= pm1::TMR;
        }
        self.last_ns = now;
    }

    fn update_sci(&mut self, ctx: &mut DeviceCtx) {
        let level = self.cnt & cnt::SCI_EN != 0 && self.sts & self.en & pm1::EN_BITS != 0;
        if level != self.sci_level {
            self.sci_level = level;
            ctx.irq.set(irq::SCI, level);
        }
    }

    fn read_byte(&self, off: u16, now: u64) -> u8 {
        let pick = |v: u32, byte: u16| (v >> (8 * u32::from(byte))) as u8;
        match off {
            0..=1 => pick(u32::from(self.sts), off),
            2..=3 => pick(u32::from(self.en), off - 2),
            4..=5 => pick(u32::from(self.cnt), off - 4),
            8..=11 => pick(Self::timer(now), off - 8),
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, off: u16, b: u8, ctx: &mut DeviceCtx) {
        let shift = 8 * (off & 1);
        let v = u16::from(b) << shift;
        let lane = 0xFFu16 << shift;
        match off {
            0..=1 => self.sts &= !(v & pm1::STS_BITS),
            2..=3 => self.en = (self.en & !lane) | (v & pm1::EN_BITS),
            4..=5 => {
                let kept = cnt::SCI_EN | cnt::BM_RLD | (7 << cnt::SLP_TYP_SHIFT);
                self.cnt = (self.cnt & !lane) | (v & kept);
                if v & cnt::SLP_EN != 0 && (self.cnt >> cnt::SLP_TYP_SHIFT) & 7 == S5_SLP_TYP {
                    ctx.requests.exit = Some(ExitRequest::PowerOff);
                }
            }
            _ => {} // the timer is read-only
        }
    }
}

impl Device for AcpiPm {
    fn name(&self) -> &'static str {
        "acpi-pm"
    }

    fn io_read(&mut self, p: u16, size: u8, ctx: &mut DeviceCtx) -> u32 {
        self.sync(ctx.now);
        self.update_sci(ctx);
        let off = p.wrapping_sub(Self::BASE);
        super::from_le(size, |i| {
            self.read_byte(off.wrapping_add(i as u16), ctx.now)
        }) as u32
    }

    fn io_write(&mut self, p: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        self.sync(ctx.now);
        let off = p.wrapping_sub(Self::BASE);
        for (i, b) in super::le_bytes(u64::from(value), size).enumerate() {
            self.write_byte(off.wrapping_add(i as u16), b, ctx);
        }
        self.update_sci(ctx);
    }

    fn next_deadline(&self) -> Option<u64> {
        if self.sts & pm1::PWRBTN != 0 && !self.sci_level {
            return Some(self.last_ns);
        }
        if self.en & pm1::TMR == 0 || self.sts & pm1::TMR != 0 {
            return None;
        }
        Some(clock::ns_for_ticks((self.epoch + 1) << 23, PM_TIMER_HZ))
    }

    fn on_timer(&mut self, ctx: &mut DeviceCtx) {
        self.sync(ctx.now);
        self.update_sci(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    const B: u16 = AcpiPm::BASE;

    #[test]
    fn pm_timer_counts_at_3_58_mhz_and_wraps_at_24_bits() {
        let mut pm = AcpiPm::new();
        let mut env = TestEnv::new();
        // (virtual ns, timer value)
        let table: &[(u64, u32)] = &[
            (0, 0),
            (279, 0),
            (280, 1), // 1 tick = 279.37 ns
            (1_000_000_000, 3_579_545),
            (4_686_968_596, 0xFF_FFFF), // 2^24 - 1 ticks
            (4_686_968_875, 0),
        ];
        for &(ns, v) in table {
            env.now = ns;
            assert_eq!(pm.io_read(B + 8, 4, &mut env.ctx()), v, "{ns}");
        }
        env.now = 1_000_000_000;
        assert_eq!(
            pm.io_read(B + 9, 1, &mut env.ctx()),
            (3_579_545 >> 8) & 0xFF
        );
        pm.io_write(B + 8, 4, 0, &mut env.ctx());
        assert_eq!(pm.io_read(B + 8, 4, &mut env.ctx()), 3_579_545);
    }

    // ACPI 4.8.3.2.1 Table 4.16: SLP_TYP with SLP_EN.
    #[test]
    fn sleep_control_table() {
        // (size, value written to PM1_CNT, power-off requested)
        let table: &[(u8, u32, bool)] = &[
            (2, (5 << 10) | (1 << 13), true),
            (2, 5 << 10, false),               // no SLP_EN
            (2, (3 << 10) | (1 << 13), false), // S3 not supported
            (2, (5 << 10) | (1 << 13) | 1, true),
            (1, 0, false),
        ];
        for &(size, v, off) in table {
            let mut pm = AcpiPm::new();
            let mut env = TestEnv::new();
            pm.io_write(B + 4, size, v, &mut env.ctx());
            assert_eq!(env.exit() == Some(ExitRequest::PowerOff), off, "{v:#x}");
        }
        // Byte write of the high half (SLP_TYP and SLP_EN share byte +5).
        let mut pm = AcpiPm::new();
        let mut env = TestEnv::new();
        pm.io_write(B + 5, 1, (5 << 2) | (1 << 5), &mut env.ctx());
        assert_eq!(env.exit(), Some(ExitRequest::PowerOff));
        assert_eq!(
            pm.io_read(B + 4, 2, &mut env.ctx()),
            0x1401,
            "SLP_EN reads 0"
        );
    }

    #[test]
    fn timer_status_and_sci() {
        let mut pm = AcpiPm::new();
        let mut env = TestEnv::new();
        let carry = clock::ns_for_ticks(1 << 23, PM_TIMER_HZ);
        pm.io_write(B + 2, 2, u32::from(pm1::TMR), &mut env.ctx());
        assert_eq!(pm.next_deadline(), Some(carry));
        env.now = carry;
        pm.on_timer(&mut env.ctx());
        assert_eq!(env.irqs(), vec![(9, true)]);
        assert_eq!(pm.io_read(B, 2, &mut env.ctx()) & 1, 1);
        assert_eq!(pm.next_deadline(), None);
        pm.io_write(B, 2, 1, &mut env.ctx()); // write 1 to clear
        assert_eq!(env.irqs(), vec![(9, false)]);
        assert_eq!(pm.io_read(B, 2, &mut env.ctx()), 0);
        assert_eq!(
            pm.next_deadline(),
            Some(clock::ns_for_ticks(2 << 23, PM_TIMER_HZ))
        );
        // Status latches without the enable, but no SCI.
        pm.io_write(B + 2, 2, 0, &mut env.ctx());
        env.now = clock::ns_for_ticks(3 << 23, PM_TIMER_HZ);
        assert_eq!(pm.io_read(B, 2, &mut env.ctx()), 1);
        assert!(env.irqs().is_empty());
        // SCI_EN gates the interrupt.
        pm.io_write(B + 4, 2, 0, &mut env.ctx());
        pm.io_write(B + 2, 2, 1, &mut env.ctx());
        assert!(env.irqs().is_empty());
        pm.io_write(B + 4, 2, 1, &mut env.ctx());
        assert_eq!(env.irqs(), vec![(9, true)]);
    }

    #[test]
    fn power_button_and_register_masks() {
        let mut pm = AcpiPm::new();
        let mut env = TestEnv::new();
        pm.io_write(B + 2, 2, 0xFFFF, &mut env.ctx());
        assert_eq!(
            pm.io_read(B + 2, 2, &mut env.ctx()),
            u32::from(pm1::EN_BITS)
        );
        pm.press_power_button();
        assert_eq!(pm.next_deadline(), Some(env.now));
        pm.on_timer(&mut env.ctx());
        assert_eq!(env.irqs(), vec![(9, true)]);
        pm.io_write(B, 2, 0xFFFF, &mut env.ctx());
        assert_eq!(env.irqs(), vec![(9, false)]);
        assert_eq!(pm.io_read(B + 6, 2, &mut env.ctx()), 0xFFFF, "hole");
        for p in B..B + 12 {
            for size in [1, 2, 4] {
                let _ = pm.io_read(p, size, &mut env.ctx());
            }
        }
    }
}
