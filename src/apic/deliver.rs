//! Interrupt delivery to local APICs (SDM Vol. 3A 11.6 "Issuing
//! Interprocessor Interrupts", 11.8 "Handling Interrupts", 11.12.10
//! "Logical Destination Mode in x2APIC Mode"): which APICs a message
//! targets, what accepting it does to [`LapicState`], and the INTA side
//! (highest deliverable vector, acknowledge).
//!
//! Pure functions: the machine gathers the APICs ([`Target`]), calls
//! [`select_targets`], then [`accept`] on each chosen state, and handles the
//! CPU-level events (NMI, INIT, SIPI, SMI, ExtINT) that [`accept`] reports.
//!
//! Choices where the SDM leaves room: lowest-priority delivery goes to the
//! first matching APIC in APIC-ID order (ties by vCPU index), which is
//! deterministic and legal ("the processor with the lowest priority … or
//! implementation-specific" — 11.6.2.4); an 8-bit destination of 0xFF is a
//! broadcast in both physical and logical xAPIC modes (11.6.2.1, 11.6.2.2),
//! 0xFFFFFFFF in x2APIC mode (11.12.9); a software-disabled APIC accepts
//! only NMI, SMI, INIT and SIPI (11.4.7.2) and delivers nothing from IRR.

use crate::machine::irq::{ApicMessage, DeliveryMode, Destination};

use super::regs::highest_vector;
use super::{LVT_MASKED, LapicState, Lvt};

/// xAPIC broadcast destination.
pub const XAPIC_BROADCAST: u32 = 0xFF;
/// x2APIC broadcast destination.
pub const X2APIC_BROADCAST: u32 = 0xFFFF_FFFF;

/// ESR bits (SDM Vol. 3A 11.5.3, Figure 11-9).
pub mod esr {
    /// Send Illegal Vector.
    pub const SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
    /// Receive Illegal Vector.
    pub const RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
}

/// One local APIC as destination matching sees it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The machine's index of the owning vCPU (what `ApicMessage::source`
    /// holds for IPIs).
    pub cpu: u32,
    /// The APIC's registers.
    pub lapic: &'a LapicState,
    /// IA32_APIC_BASE.EXTD: the APIC is in x2APIC mode.
    pub x2apic: bool,
    /// IA32_APIC_BASE.EN: the APIC is globally enabled.
    pub enabled: bool,
}

/// What accepting a message means for the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Fixed / lowest priority: the vector is now pending in IRR.
    Pending(u8),
    /// An NMI for the CPU.
    Nmi,
    /// An SMI for the CPU.
    Smi,
    /// INIT (level assert).
    Init,
    /// Start-up IPI with its vector (the start page number).
    StartUp(u8),
    /// ExtINT: the CPU must run an INTA cycle on the 8259.
    ExtInt,
    /// Nothing happened: an illegal vector (ESR updated), a fixed interrupt
    /// at a software-disabled APIC, a masked LVT entry, or an INIT level
    /// de-assert (ignored since the Pentium 4, 11.6.1).
    Dropped,
}

/// The x2APIC logical ID derived from the x2APIC ID: cluster ID[19:4] in
/// bits 31:16, bit ID[3:0] set in bits 15:0 (SDM Vol. 3A 11.12.10.2).
pub fn x2apic_ldr(id: u32) -> u32 {
    ((id >> 4) << 16) | (1 << (id & 0xF))
}

fn is_broadcast(dest: u32, x2apic_format: bool) -> bool {
    if x2apic_format {
        dest == X2APIC_BROADCAST
    } else {
        dest == XAPIC_BROADCAST
    }
}

/// Whether `msg` is addressed to `t` (SDM Vol. 3A 11.6.2 "Determining IPI
/// Destination", 11.12.9 and 11.12.10 for x2APIC).
pub fn matches(t: &Target, msg: &ApicMessage) -> bool {
    if !t.enabled {
        return false;
    }
    match msg.dest {
        Destination::SelfOnly => msg.source == Some(t.cpu),
        Destination::AllIncludingSelf => true,
        Destination::AllExcludingSelf => msg.source != Some(t.cpu),
        Destination::Physical(d) => {
            is_broadcast(d, msg.x2apic)
                || if t.x2apic {
                    t.lapic.id == d
                } else {
                    t.lapic.id & 0xFF == d
                }
        }
        Destination::Logical(d) => {
            if is_broadcast(d, msg.x2apic) {
                return true;
            }
            if t.x2apic {
                let ldr = x2apic_ldr(t.lapic.id);
                ldr >> 16 == d >> 16 && ldr & d & 0xFFFF != 0
            } else {
                let ldr = t.lapic.ldr >> 24;
                let mda = d & 0xFF;
                if t.lapic.dfr >> 28 == 0xF {
                    // Flat model: a bitmap of up to 8 APICs (11.6.2.2).
                    ldr & mda != 0
                } else {
                    // Cluster model: cluster in bits 7:4, members in 3:0.
                    ldr >> 4 == mda >> 4 && ldr & mda & 0xF != 0
                }
            }
        }
    }
}

/// The vCPUs (`Target::cpu`) that receive `msg`, in the order of
/// `targets`. Lowest-priority messages go to one APIC only: the matching
/// one with the lowest APIC ID (then lowest vCPU index).
pub fn select_targets(msg: &ApicMessage, targets: &[Target]) -> Vec<u32> {
    let hits = targets.iter().filter(|t| matches(t, msg));
    if msg.mode == DeliveryMode::LowestPriority {
        return hits
            .min_by_key(|t| (t.lapic.id, t.cpu))
            .map(|t| t.cpu)
            .into_iter()
            .collect();
    }
    hits.map(|t| t.cpu).collect()
}

fn set_bit(bits: &mut [u32; 8], vector: u8, on: bool) {
    let (w, b) = (usize::from(vector >> 5), u32::from(vector & 31));
    if on {
        bits[w] |= 1 << b;
    } else {
        bits[w] &= !(1 << b);
    }
}

/// Records an APIC error in the ESR (latched at the next ESR write) and
/// signals it through the LVT error entry if unmasked (SDM 11.5.3).
pub fn signal_error(lapic: &mut LapicState, bits: u32) {
    lapic.esr_pending |= bits;
    let lvt = lapic.lvt[Lvt::Error as usize];
    let vector = lvt as u8;
    if lvt & LVT_MASKED == 0 && lapic.sw_enabled() && vector >= 16 {
        set_bit(&mut lapic.irr, vector, true);
        set_bit(&mut lapic.tmr, vector, false);
    }
}

/// Makes `vector` pending (fixed delivery), or flags it illegal.
fn pend(lapic: &mut LapicState, vector: u8, level: bool) -> Accepted {
    if !lapic.sw_enabled() {
        return Accepted::Dropped;
    }
    if vector < 16 {
        signal_error(lapic, esr::RECEIVE_ILLEGAL_VECTOR);
        return Accepted::Dropped;
    }
    set_bit(&mut lapic.irr, vector, true);
    // TMR records the trigger mode of the accepted interrupt (11.8.4).
    set_bit(&mut lapic.tmr, vector, level);
    Accepted::Pending(vector)
}

/// Accepts `msg` at an APIC it targets (SDM Vol. 3A 11.6.1 delivery modes,
/// 11.8.4 "Interrupt Acceptance for Fixed Interrupts").
pub fn accept(lapic: &mut LapicState, msg: &ApicMessage) -> Accepted {
    match msg.mode {
        DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
            pend(lapic, msg.vector, msg.level_triggered)
        }
        DeliveryMode::Nmi => Accepted::Nmi,
        DeliveryMode::Smi => Accepted::Smi,
        DeliveryMode::Init if msg.level_triggered && !msg.assert => Accepted::Dropped,
        DeliveryMode::Init => Accepted::Init,
        DeliveryMode::StartUp => Accepted::StartUp(msg.vector),
        DeliveryMode::ExtInt => Accepted::ExtInt,
    }
}

/// The sender's side of an IPI: a fixed or lowest-priority IPI with a
/// vector below 16 sets "Send Illegal Vector" (SDM 11.5.3); the message is
/// still sent and its receivers flag it too.
pub fn check_send(lapic: &mut LapicState, msg: &ApicMessage) {
    let fixed = matches!(msg.mode, DeliveryMode::Fixed | DeliveryMode::LowestPriority);
    if fixed && msg.vector < 16 {
        signal_error(lapic, esr::SEND_ILLEGAL_VECTOR);
    }
}

/// Raises a local interrupt through LVT entry `lvt` (timer, LINT0/1,
/// error, thermal, performance, CMCI; SDM 11.5.1): nothing when masked,
/// otherwise the entry's delivery mode (the timer and error entries are
/// always fixed). Fixed local interrupts are edge-triggered here.
pub fn local_interrupt(lapic: &mut LapicState, lvt: Lvt) -> Accepted {
    let entry = lapic.lvt[lvt as usize];
    if entry & LVT_MASKED != 0 {
        return Accepted::Dropped;
    }
    let mode = match lvt {
        Lvt::Timer | Lvt::Error => 0,
        _ => (entry >> 8) & 7,
    };
    match mode {
        0 => pend(lapic, entry as u8, false),
        2 => Accepted::Smi,
        4 => Accepted::Nmi,
        5 => Accepted::Init,
        7 => Accepted::ExtInt,
        _ => Accepted::Dropped,
    }
}

/// The vector the APIC would deliver now: the highest IRR vector whose
/// priority class is above the processor priority class (SDM 11.8.3.1),
/// if the APIC is software-enabled.
pub fn highest_deliverable(lapic: &LapicState) -> Option<u8> {
    if !lapic.sw_enabled() {
        return None;
    }
    let v = highest_vector(&lapic.irr)?;
    (u32::from(v) & 0xF0 > lapic.ppr() & 0xF0).then_some(v)
}

/// The CPU's interrupt acknowledge: moves the highest deliverable vector
/// from IRR to ISR and returns it, or returns the spurious-interrupt vector
/// (SVR[7:0]) without touching ISR when nothing is deliverable (11.9).
pub fn acknowledge(lapic: &mut LapicState) -> u8 {
    match highest_deliverable(lapic) {
        Some(v) => {
            set_bit(&mut lapic.irr, v, false);
            set_bit(&mut lapic.isr, v, true);
            v
        }
        None => lapic.svr as u8,
    }
}

/// The message an ICR write sends (SDM Vol. 3A 11.6.1, Figure 11-12; x2APIC
/// Figure 11-28: 32-bit destination in bits 63:32). `self_id` is the
/// sending vCPU's index, stored in `source`. None for the reserved delivery
/// mode 0b011. The trigger mode bit only matters for INIT (level de-assert).
pub fn icr_to_message(icr: u64, x2apic: bool, self_id: u32) -> Option<ApicMessage> {
    let mode = DeliveryMode::from_bits((icr >> 8) as u32)?;
    let dest_field = if x2apic {
        (icr >> 32) as u32
    } else {
        ((icr >> 56) & 0xFF) as u32
    };
    let dest = match (icr >> 18) & 3 {
        1 => Destination::SelfOnly,
        2 => Destination::AllIncludingSelf,
        3 => Destination::AllExcludingSelf,
        _ if icr & (1 << 11) != 0 => Destination::Logical(dest_field),
        _ => Destination::Physical(dest_field),
    };
    Some(ApicMessage {
        vector: icr as u8,
        mode,
        dest,
        level_triggered: mode == DeliveryMode::Init && icr & (1 << 15) != 0,
        assert: icr & (1 << 14) != 0,
        source: Some(self_id),
        x2apic,
    })
}

/// The message of an x2APIC SELF IPI register write (11.12.11): fixed,
/// edge-triggered, to the writer only.
pub fn self_ipi_message(vector: u8, self_id: u32) -> ApicMessage {
    ApicMessage {
        vector,
        mode: DeliveryMode::Fixed,
        dest: Destination::SelfOnly,
        level_triggered: false,
        assert: true,
        source: Some(self_id),
        x2apic: true,
    }
}

#[cfg(test)]
mod tests;
