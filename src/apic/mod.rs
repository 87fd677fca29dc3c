//! The local APIC register model (SDM Vol. 3A Chapter 11 "Advanced
//! Programmable Interrupt Controller"), shared by every backend.
//!
//! [`LapicState`] is part of the vCPU state. Register reads and writes, in
//! xAPIC (MMIO offset) and x2APIC (MSR) form, are pure functions on it that
//! return an [`ApicAction`] for whatever has to happen outside this vCPU
//! (send an IPI, re-arm the timer, re-evaluate pending interrupts). The
//! machine performs the actions; this module never reaches other vCPUs.

pub mod deliver;
pub mod regs;
pub mod timer;

use serde::{Deserialize, Serialize};

pub use regs::{ApicAction, ApicFault};

/// Default physical base of the xAPIC MMIO page.
pub const APIC_DEFAULT_BASE: u64 = 0xFEE0_0000;

/// IA32_APIC_BASE bits (SDM Vol. 3A 11.4.4, Figure 11-5).
pub mod base {
    pub const BSP: u64 = 1 << 8;
    pub const EXTD: u64 = 1 << 10;
    pub const EN: u64 = 1 << 11;
    pub const ADDR_MASK: u64 = !0xFFF;
}

/// Local vector table entries, in register order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Lvt {
    Cmci = 0,
    Timer = 1,
    Thermal = 2,
    Perf = 3,
    Lint0 = 4,
    Lint1 = 5,
    Error = 6,
}

pub const LVT_COUNT: usize = 7;
/// LVT mask bit.
pub const LVT_MASKED: u32 = 1 << 16;
/// APIC version register value: version 0x14 (integrated APIC), max LVT
/// entry 6 (CMCI present), no EOI-broadcast suppression.
pub const APIC_VERSION: u32 = 0x14 | ((LVT_COUNT as u32 - 1) << 16);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LapicState {
    /// The APIC ID (x2APIC width). The xAPIC ID register shows bits 7:0 in 31:24.
    pub id: u32,
    /// The ID the processor was given at RESET; software may change the
    /// xAPIC ID, but an APIC reset (global disable) restores this one.
    #[serde(default)]
    pub initial_id: u32,
    pub tpr: u32,
    pub ldr: u32,
    pub dfr: u32,
    pub svr: u32,
    pub isr: [u32; 8],
    pub tmr: [u32; 8],
    pub irr: [u32; 8],
    /// ESR as last latched (visible to reads).
    pub esr: u32,
    /// Errors collected since the last ESR write.
    pub esr_pending: u32,
    pub lvt: [u32; LVT_COUNT],
    pub icr: u64,
    pub timer_initial: u32,
    pub timer_divide: u32,
    /// Time (in APIC timer input-clock ticks) at which the current count was
    /// last loaded with the initial count; the current count is derived.
    pub timer_load_time: u64,
    /// IA32_TSC_DEADLINE.
    pub tsc_deadline: u64,
    /// A one-shot count reached zero and the timer stopped; switching to
    /// periodic mode does not restart it (only a TMICT write does).
    #[serde(default)]
    pub timer_stopped: bool,
}

impl LapicState {
    /// Register state after power-up/RESET and after INIT (SDM Vol. 3A
    /// 11.4.7.1 "Local APIC State After Power-Up or Reset": IRR, ISR, TMR,
    /// ICR, LDR, TPR, timer counts and divide configuration 0; DFR all ones;
    /// LVT entries masked; SVR 0xFF. 11.4.7.3: INIT leaves the APIC ID alone,
    /// which is why it is a parameter).
    pub fn reset(id: u32) -> Self {
        LapicState {
            id,
            initial_id: id,
            tpr: 0,
            ldr: 0,
            dfr: 0xFFFF_FFFF,
            svr: 0xFF,
            isr: [0; 8],
            tmr: [0; 8],
            irr: [0; 8],
            esr: 0,
            esr_pending: 0,
            lvt: [LVT_MASKED; LVT_COUNT],
            icr: 0,
            timer_initial: 0,
            timer_divide: 0,
            timer_load_time: 0,
            tsc_deadline: 0,
            timer_stopped: false,
        }
    }

    /// APIC software-enabled (SVR bit 8).
    pub fn sw_enabled(&self) -> bool {
        self.svr & (1 << 8) != 0
    }
}

/// Does the 8259's INTR reach a processor with IA32_APIC_BASE `apic_base`
/// and APIC registers `lapic` (nestor's rule, shared by every backend): the
/// APIC is disabled (hardware or software), so LINT0 is the INTR pin, or
/// LINT0 is unmasked in ExtINT mode (virtual-wire mode).
pub fn extint_accepted(apic_base: u64, lapic: &LapicState) -> bool {
    if apic_base & base::EN == 0 || !lapic.sw_enabled() {
        return true;
    }
    let lint0 = lapic.lvt[Lvt::Lint0 as usize];
    lint0 & LVT_MASKED == 0 && (lint0 >> 8) & 7 == 7
}

impl Default for LapicState {
    fn default() -> Self {
        LapicState::reset(0)
    }
}
