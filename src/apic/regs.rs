//! Local APIC register reads and writes, in xAPIC (MMIO offset) and x2APIC
//! (MSR) form (SDM Vol. 3A Table 11-1 "Local APIC Register Address Map" and
//! Table 11-6 "Local APIC Register Address Map Supported by x2APIC").

use super::{APIC_VERSION, LVT_COUNT, LVT_MASKED, LapicState, Lvt};

/// xAPIC register offsets.
pub mod off {
    pub const ID: u32 = 0x20;
    pub const VERSION: u32 = 0x30;
    pub const TPR: u32 = 0x80;
    pub const APR: u32 = 0x90;
    pub const PPR: u32 = 0xA0;
    pub const EOI: u32 = 0xB0;
    pub const RRD: u32 = 0xC0;
    pub const LDR: u32 = 0xD0;
    pub const DFR: u32 = 0xE0;
    pub const SVR: u32 = 0xF0;
    pub const ISR0: u32 = 0x100;
    pub const TMR0: u32 = 0x180;
    pub const IRR0: u32 = 0x200;
    pub const ESR: u32 = 0x280;
    pub const LVT_CMCI: u32 = 0x2F0;
    pub const ICR_LO: u32 = 0x300;
    pub const ICR_HI: u32 = 0x310;
    pub const LVT_TIMER: u32 = 0x320;
    pub const LVT_ERROR: u32 = 0x370;
    pub const TIMER_INITIAL: u32 = 0x380;
    pub const TIMER_CURRENT: u32 = 0x390;
    pub const TIMER_DIVIDE: u32 = 0x3E0;
    pub const SELF_IPI: u32 = 0x3F0;
}

/// Timer modes in LVT timer bits 18:17 (SDM Vol. 3A 11.5.4).
pub mod timer_mode {
    pub const ONE_SHOT: u32 = 0;
    pub const PERIODIC: u32 = 1;
    pub const TSC_DEADLINE: u32 = 2;
}

/// What the machine has to do after a register access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApicAction {
    None,
    /// TPR, SVR or an LVT changed: recompute which interrupt can be delivered.
    Reevaluate,
    /// The timer's configuration changed: re-arm it.
    TimerChanged,
    /// An EOI retired this in-service vector (None if no vector was in
    /// service); level-triggered vectors (TMR set) need an IOAPIC EOI.
    Eoi {
        vector: Option<u8>,
        level: bool,
    },
    /// Send an IPI as described by the ICR (x2APIC layout for destination:
    /// bits 63:32 are the 32-bit destination; xAPIC: bits 63:56).
    SendIpi {
        icr: u64,
        x2apic: bool,
    },
    /// x2APIC SELF IPI register: a fixed, edge-triggered IPI to this APIC.
    SelfIpi(u8),
}

/// A register access the architecture refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApicFault {
    /// x2APIC: reserved register, write to a read-only register, read of a
    /// write-only register, or reserved bits: the WRMSR/RDMSR gets #GP.
    Gp,
}

/// What the register file needs to know about its surroundings.
#[derive(Clone, Copy, Debug)]
pub struct ApicEnv {
    /// Current time in APIC timer input-clock ticks.
    pub now: u64,
    /// The CPU model has TSC-deadline mode (CPUID.1:ECX[24]).
    pub tsc_deadline: bool,
}

/// Valid writable bits of each LVT entry (SDM Vol. 3A Figure 11-8).
const LVT_WRITABLE: [u32; LVT_COUNT] = [
    0x0001_07FF, // CMCI: vector, delivery mode, mask
    0x0007_00FF, // timer: vector, mask, mode (bit 18 gated by TSC deadline)
    0x0001_07FF, // thermal
    0x0001_07FF, // performance counters
    0x0001_A7FF, // LINT0: vector, delivery mode, polarity, trigger, mask
    0x0001_A7FF, // LINT1
    0x0001_00FF, // error: vector, mask
];

fn lvt_index(offset: u32) -> Option<usize> {
    match offset {
        off::LVT_CMCI => Some(Lvt::Cmci as usize),
        0x320..=0x370 => Some(1 + ((offset - off::LVT_TIMER) >> 4) as usize),
        _ => None,
    }
}

/// Highest set bit in a 256-bit register, as a vector.
pub fn highest_vector(bits: &[u32; 8]) -> Option<u8> {
    (0..8).rev().find_map(|i| {
        let w = bits[i];
        (w != 0).then(|| (i as u32 * 32 + 31 - w.leading_zeros()) as u8)
    })
}

impl LapicState {
    /// Processor priority (SDM Vol. 3A 11.8.3.1).
    pub fn ppr(&self) -> u32 {
        let isrv = highest_vector(&self.isr).map_or(0, u32::from);
        if (self.tpr & 0xF0) >= (isrv & 0xF0) {
            self.tpr & 0xFF
        } else {
            isrv & 0xF0
        }
    }

    /// Timer mode from the LVT timer entry.
    pub fn timer_mode(&self) -> u32 {
        (self.lvt[Lvt::Timer as usize] >> 17) & 3
    }

    /// Divide-configuration shift: the timer counts every 2^shift input ticks
    /// (SDM Vol. 3A Figure 11-10: divide value 0b111 means divide by 1).
    pub fn timer_shift(&self) -> u32 {
        let v = (self.timer_divide & 3) | ((self.timer_divide & 8) >> 1);
        (v + 1) & 7
    }

    /// Current-count register at time `now`.
    pub fn timer_current(&self, now: u64) -> u32 {
        if self.timer_initial == 0
            || self.timer_stopped
            || self.timer_mode() == timer_mode::TSC_DEADLINE
        {
            return 0;
        }
        let elapsed = now.saturating_sub(self.timer_load_time) >> self.timer_shift();
        let initial = u64::from(self.timer_initial);
        if self.timer_mode() == timer_mode::PERIODIC {
            (initial - elapsed % initial) as u32
        } else if elapsed >= initial {
            0
        } else {
            (initial - elapsed) as u32
        }
    }

    /// Reads an xAPIC register at MMIO `offset` (aligned to 16). Reserved
    /// registers read as 0.
    pub fn read_xapic(&self, offset: u32, env: &ApicEnv) -> u32 {
        self.read_reg(offset, env, false).unwrap_or(0)
    }

    /// Writes an xAPIC register at MMIO `offset`.
    pub fn write_xapic(&mut self, offset: u32, value: u32, env: &ApicEnv) -> ApicAction {
        self.write_reg(offset, u64::from(value), env, false)
            .unwrap_or(ApicAction::None)
    }

    /// RDMSR of x2APIC MSR `msr` (0x800–0x8FF) in x2APIC mode.
    pub fn read_x2apic(&self, msr: u32, env: &ApicEnv) -> Result<u64, ApicFault> {
        let offset = (msr & 0xFF) << 4;
        if offset == off::ICR_LO {
            return Ok(self.icr);
        }
        self.read_reg(offset, env, true).map(u64::from)
    }

    /// WRMSR of x2APIC MSR `msr` in x2APIC mode.
    pub fn write_x2apic(
        &mut self,
        msr: u32,
        value: u64,
        env: &ApicEnv,
    ) -> Result<ApicAction, ApicFault> {
        let offset = (msr & 0xFF) << 4;
        // Only the ICR is 64 bits wide; every other register has bits 63:32
        // reserved (SDM Vol. 3A 11.12.1.2).
        if offset != off::ICR_LO && value >> 32 != 0 {
            return Err(ApicFault::Gp);
        }
        self.write_reg(offset, value, env, true)
    }

    fn read_reg(&self, offset: u32, env: &ApicEnv, x2: bool) -> Result<u32, ApicFault> {
        Ok(match offset {
            off::ID if x2 => self.id,
            off::ID => (self.id & 0xFF) << 24,
            off::VERSION => APIC_VERSION,
            off::TPR => self.tpr,
            off::APR | off::RRD if !x2 => 0,
            off::PPR => self.ppr(),
            off::LDR => self.ldr,
            off::DFR if !x2 => self.dfr,
            off::SVR => self.svr,
            0x100..=0x170 => self.isr[((offset - off::ISR0) >> 4) as usize],
            0x180..=0x1F0 => self.tmr[((offset - off::TMR0) >> 4) as usize],
            0x200..=0x270 => self.irr[((offset - off::IRR0) >> 4) as usize],
            off::ESR => self.esr,
            off::ICR_LO => self.icr as u32,
            off::ICR_HI if !x2 => (self.icr >> 32) as u32,
            off::TIMER_INITIAL => self.timer_initial,
            off::TIMER_CURRENT => self.timer_current(env.now),
            off::TIMER_DIVIDE => self.timer_divide,
            _ => match lvt_index(offset) {
                Some(i) => self.lvt[i],
                None => return Err(ApicFault::Gp),
            },
        })
    }

    fn write_reg(
        &mut self,
        offset: u32,
        value: u64,
        env: &ApicEnv,
        x2: bool,
    ) -> Result<ApicAction, ApicFault> {
        let v = value as u32;
        Ok(match offset {
            off::ID if !x2 => {
                self.id = v >> 24;
                ApicAction::None
            }
            off::TPR => {
                if x2 && v & !0xFF != 0 {
                    return Err(ApicFault::Gp);
                }
                self.tpr = v & 0xFF;
                ApicAction::Reevaluate
            }
            off::EOI => {
                // x2APIC: a non-zero EOI write is #GP (SDM 11.12.1.2).
                if x2 && v != 0 {
                    return Err(ApicFault::Gp);
                }
                self.eoi()
            }
            off::LDR if !x2 => {
                self.ldr = v & 0xFF00_0000;
                ApicAction::None
            }
            off::DFR if !x2 => {
                self.dfr = v | 0x0FFF_FFFF;
                ApicAction::None
            }
            off::SVR => {
                // Vector, APIC enable, focus checking; EOI-broadcast
                // suppression is not offered (version register bit 24 = 0).
                let mask = if x2 { 0x1FF } else { 0x3FF };
                if x2 && v & !mask != 0 {
                    return Err(ApicFault::Gp);
                }
                self.svr = v & mask;
                if !self.sw_enabled() {
                    // SDM 11.4.7.2: software disable masks every LVT entry.
                    for e in &mut self.lvt {
                        *e |= LVT_MASKED;
                    }
                }
                ApicAction::Reevaluate
            }
            off::ESR => {
                if x2 && v != 0 {
                    return Err(ApicFault::Gp);
                }
                self.esr = self.esr_pending;
                self.esr_pending = 0;
                ApicAction::None
            }
            off::ICR_LO => {
                if x2 {
                    self.icr = value & 0xFFFF_FFFF_000C_CFFF;
                    ApicAction::SendIpi {
                        icr: self.icr,
                        x2apic: true,
                    }
                } else {
                    self.icr = (self.icr & !0xFFFF_FFFF) | u64::from(v & 0x000C_CFFF);
                    ApicAction::SendIpi {
                        icr: self.icr,
                        x2apic: false,
                    }
                }
            }
            off::ICR_HI if !x2 => {
                self.icr = (self.icr & 0xFFFF_FFFF) | u64::from(v & 0xFF00_0000) << 32;
                ApicAction::None
            }
            off::TIMER_INITIAL => {
                if self.timer_mode() == timer_mode::TSC_DEADLINE {
                    return Ok(ApicAction::None);
                }
                self.timer_initial = v;
                self.timer_load_time = env.now;
                self.timer_stopped = false;
                ApicAction::TimerChanged
            }
            off::TIMER_DIVIDE => {
                // Keep the current count continuous across a divide change.
                let current = self.timer_current(env.now);
                self.timer_divide = v & 0xB;
                self.rebase_timer(current, env.now);
                ApicAction::TimerChanged
            }
            off::SELF_IPI if x2 => {
                if v & !0xFF != 0 {
                    return Err(ApicFault::Gp);
                }
                ApicAction::SelfIpi(v as u8)
            }
            _ => match lvt_index(offset) {
                Some(i) => self.write_lvt(i, v, env, x2)?,
                // Read-only registers and reserved offsets.
                None if x2 => return Err(ApicFault::Gp),
                None => ApicAction::None,
            },
        })
    }

    fn write_lvt(
        &mut self,
        i: usize,
        v: u32,
        env: &ApicEnv,
        x2: bool,
    ) -> Result<ApicAction, ApicFault> {
        let mut writable = LVT_WRITABLE[i];
        if i == Lvt::Timer as usize && !env.tsc_deadline {
            writable &= !(1 << 18);
        }
        if x2 && v & !writable & !(1 << 12) & !(1 << 14) != 0 {
            return Err(ApicFault::Gp);
        }
        let mut new = v & writable;
        if !self.sw_enabled() {
            new |= LVT_MASKED;
        }
        let old = self.lvt[i];
        // Keep the read-only delivery-status / remote-IRR bits.
        self.lvt[i] = new | (old & !writable & ((1 << 12) | (1 << 14)));
        if i == Lvt::Timer as usize {
            let (om, nm) = ((old >> 17) & 3, (new >> 17) & 3);
            if om == timer_mode::ONE_SHOT && nm == timer_mode::PERIODIC && self.timer_initial != 0 {
                // An expired one-shot count stays at zero in periodic mode.
                let shift = self.timer_shift();
                let expired = env.now.saturating_sub(self.timer_load_time) >> shift
                    >= u64::from(self.timer_initial);
                self.timer_stopped |= expired;
            }
            if om != nm && (om == timer_mode::TSC_DEADLINE || nm == timer_mode::TSC_DEADLINE) {
                // SDM 11.5.4.1: switching into or out of TSC-deadline mode
                // disarms the timer; one-shot ↔ periodic keeps counting.
                self.timer_initial = 0;
                self.tsc_deadline = 0;
            }
            return Ok(ApicAction::TimerChanged);
        }
        Ok(ApicAction::Reevaluate)
    }

    /// Retires the highest in-service vector (SDM 11.8.5).
    pub fn eoi(&mut self) -> ApicAction {
        match highest_vector(&self.isr) {
            Some(vec) => {
                let (w, b) = (usize::from(vec >> 5), vec & 31);
                self.isr[w] &= !(1 << b);
                let level = self.tmr[w] & (1 << b) != 0;
                ApicAction::Eoi {
                    vector: Some(vec),
                    level,
                }
            }
            None => ApicAction::Eoi {
                vector: None,
                level: false,
            },
        }
    }

    fn rebase_timer(&mut self, current: u32, now: u64) {
        if self.timer_initial == 0 {
            return;
        }
        // Choose a load time such that the current count is unchanged.
        let consumed = u64::from(self.timer_initial.saturating_sub(current));
        self.timer_load_time = now.wrapping_sub(consumed << self.timer_shift());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> ApicEnv {
        ApicEnv {
            now: 1000,
            tsc_deadline: true,
        }
    }

    // SDM Vol. 3A Table 11-6: which x2APIC MSRs exist and how they may be accessed.
    #[test]
    fn x2apic_msr_access_rules_table_11_6() {
        let mut a = LapicState::reset(3);
        let e = env();
        // (msr, readable, writable with 0)
        let table: &[(u32, bool, bool)] = &[
            (0x802, true, false),  // ID
            (0x803, true, false),  // version
            (0x808, true, true),   // TPR
            (0x80A, true, false),  // PPR
            (0x80B, false, true),  // EOI
            (0x80D, true, false),  // LDR
            (0x80E, false, false), // DFR does not exist in x2APIC mode
            (0x80F, true, true),   // SVR
            (0x810, true, false),  // ISR
            (0x818, true, false),  // TMR
            (0x820, true, false),  // IRR
            (0x828, true, true),   // ESR
            (0x82F, true, true),   // LVT CMCI
            (0x830, true, true),   // ICR
            (0x831, false, false), // ICR high does not exist
            (0x832, true, true),   // LVT timer
            (0x837, true, true),   // LVT error
            (0x838, true, true),   // initial count
            (0x839, true, false),  // current count
            (0x83E, true, true),   // divide configuration
            (0x83F, false, true),  // SELF IPI
            (0x804, false, false), // reserved
        ];
        for &(msr, r, w) in table {
            assert_eq!(a.read_x2apic(msr, &e).is_ok(), r, "read {msr:#x}");
            assert_eq!(a.write_x2apic(msr, 0, &e).is_ok(), w, "write {msr:#x}");
        }
        assert_eq!(a.read_x2apic(0x802, &e), Ok(3));
    }

    #[test]
    fn ppr_follows_tpr_and_isr() {
        let mut a = LapicState::reset(0);
        a.tpr = 0x30;
        a.isr[2] = 1 << 1; // vector 0x41
        assert_eq!(a.ppr(), 0x40);
        a.tpr = 0x52;
        assert_eq!(a.ppr(), 0x52);
    }

    #[test]
    fn oneshot_and_periodic_current_count() {
        let mut a = LapicState::reset(0);
        let mut e = env();
        a.write_xapic(off::TIMER_DIVIDE, 0xB, &e); // divide by 1
        a.write_xapic(off::LVT_TIMER, 0x20, &e);
        a.write_xapic(off::TIMER_INITIAL, 100, &e);
        e.now += 30;
        assert_eq!(a.read_xapic(off::TIMER_CURRENT, &e), 70);
        e.now += 100;
        assert_eq!(a.read_xapic(off::TIMER_CURRENT, &e), 0);
        a.write_xapic(off::LVT_TIMER, 0x20 | (1 << 17), &e);
        a.write_xapic(off::TIMER_INITIAL, 100, &e);
        e.now += 250;
        assert_eq!(a.read_xapic(off::TIMER_CURRENT, &e), 50);
    }

    #[test]
    fn software_disable_masks_lvts() {
        let mut a = LapicState::reset(0);
        let e = env();
        a.write_xapic(off::SVR, 0x1FF, &e);
        a.write_xapic(off::LVT_ERROR, 0x33, &e);
        assert_eq!(a.read_xapic(off::LVT_ERROR, &e), 0x33);
        a.write_xapic(off::SVR, 0xFF, &e);
        assert_eq!(a.read_xapic(off::LVT_ERROR, &e), 0x33 | LVT_MASKED);
    }

    #[test]
    fn eoi_retires_highest_in_service_vector() {
        let mut a = LapicState::reset(0);
        a.isr[1] = 1 << 3; // 0x23
        a.isr[7] = 1 << 31; // 0xFF
        a.tmr[7] = 1 << 31;
        assert_eq!(
            a.eoi(),
            ApicAction::Eoi {
                vector: Some(0xFF),
                level: true
            }
        );
        assert_eq!(
            a.eoi(),
            ApicAction::Eoi {
                vector: Some(0x23),
                level: false
            }
        );
        assert_eq!(
            a.eoi(),
            ApicAction::Eoi {
                vector: None,
                level: false
            }
        );
    }
}
