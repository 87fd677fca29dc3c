//! Getting interrupt messages to local APICs: destination matching, the
//! delivery modes (fixed, lowest priority, NMI, INIT, SIPI), and the local
//! APIC timer (SDM Vol. 3A 11.6 "Issuing Interprocessor Interrupts", 11.6.2
//! "Determining IPI Destination", 11.5.4 "APIC Timer").

use crate::apic::{self, LapicState, Lvt};
use crate::interp::Interp;
use crate::interp::cpu::attn;
use crate::machine::irq::{ApicMessage, DeliveryMode, Destination};
use crate::model::CpuModel;
use crate::state::{Activity, VcpuState};

/// Is the local APIC of `s` in x2APIC mode?
fn x2apic(s: &VcpuState) -> bool {
    let m = apic::base::EN | apic::base::EXTD;
    s.msrs.apic_base & m == m
}

/// Is the local APIC of `s` enabled (hardware enable; software enable is
/// checked on acceptance of fixed interrupts)?
fn apic_enabled(s: &VcpuState) -> bool {
    s.msrs.apic_base & apic::base::EN != 0
}

/// Does logical destination `dest` select the APIC of `s`?
fn logical_match(s: &VcpuState, dest: u32) -> bool {
    let a = &s.apic;
    if x2apic(s) {
        // Cluster ID in bits 31:16, a bit mask of 16 in bits 15:0 (SDM 11.12.10.2).
        return dest == 0xFFFF_FFFF || (dest >> 16 == a.ldr >> 16 && dest & a.ldr & 0xFFFF != 0);
    }
    let dest = dest & 0xFF;
    if dest == 0xFF {
        return true;
    }
    let ldr = a.ldr >> 24;
    if a.dfr >> 28 == 0xF {
        // Flat model: a bit per APIC.
        dest & ldr != 0
    } else {
        // Cluster model: cluster in bits 7:4, members in bits 3:0.
        dest >> 4 == ldr >> 4 && dest & ldr & 0xF != 0
    }
}

/// Does the message's destination include vCPU `i`?
fn selects(msg: &ApicMessage, i: u32, s: &VcpuState) -> bool {
    match msg.dest {
        Destination::SelfOnly => msg.source == Some(i),
        Destination::AllIncludingSelf => true,
        Destination::AllExcludingSelf => msg.source != Some(i),
        Destination::Physical(d) => {
            if x2apic(s) || msg.x2apic {
                d == 0xFFFF_FFFF || d == s.apic.id
            } else {
                let d = d & 0xFF;
                d == 0xFF || d == s.apic.id & 0xFF
            }
        }
        Destination::Logical(d) => logical_match(s, d),
    }
}

/// Converts an ICR value written by vCPU `source` into a message (SDM
/// Figure 11-12 "Interrupt Command Register").
pub fn icr_to_message(icr: u64, x2: bool, source: u32) -> Option<ApicMessage> {
    let lo = icr as u32;
    let mode = DeliveryMode::from_bits((lo >> 8) & 7)?;
    let logical = lo & (1 << 11) != 0;
    let dest_field = if x2 {
        (icr >> 32) as u32
    } else {
        ((icr >> 56) & 0xFF) as u32
    };
    let dest = match (lo >> 18) & 3 {
        1 => Destination::SelfOnly,
        2 => Destination::AllIncludingSelf,
        3 => Destination::AllExcludingSelf,
        _ if logical => Destination::Logical(dest_field),
        _ => Destination::Physical(dest_field),
    };
    Some(ApicMessage {
        vector: lo as u8,
        mode,
        dest,
        level_triggered: lo & (1 << 15) != 0,
        assert: lo & (1 << 14) != 0,
        source: Some(source),
        x2apic: x2,
    })
}

/// Sets `vector` in IRR (and TMR for level-triggered) of `a`. Vectors 0–15
/// are illegal: the APIC records "receive illegal vector" in ESR.
fn accept_fixed(a: &mut LapicState, vector: u8, level: bool) {
    if vector < 16 {
        a.esr_pending |= 1 << 6;
        return;
    }
    let (w, b) = (usize::from(vector >> 5), vector & 31);
    a.irr[w] |= 1 << b;
    if level {
        a.tmr[w] |= 1 << b;
    } else {
        a.tmr[w] &= !(1 << b);
    }
}

/// Delivers `msg` to the vCPUs it selects.
pub fn deliver(vcpus: &mut [Interp], model: &CpuModel, msg: &ApicMessage) {
    let targets: Vec<usize> = (0..vcpus.len())
        .filter(|&i| {
            let s = &vcpus[i].cpu.s;
            apic_enabled(s) && selects(msg, i as u32, s)
        })
        .collect();
    // Lowest priority: the first selected APIC in ID order (deterministic;
    // SDM 11.6.2.4 allows any processor of lowest priority).
    let targets = if msg.mode == DeliveryMode::LowestPriority {
        targets.into_iter().take(1).collect()
    } else {
        targets
    };
    for i in targets {
        let interp = &mut vcpus[i];
        match msg.mode {
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                if interp.cpu.s.apic.sw_enabled() {
                    accept_fixed(&mut interp.cpu.s.apic, msg.vector, msg.level_triggered);
                }
            }
            DeliveryMode::Nmi => interp.cpu.s.events.nmi_pending = true,
            DeliveryMode::Init => {
                // INIT level de-assert only synchronises arbitration IDs.
                if msg.level_triggered && !msg.assert {
                    continue;
                }
                init_vcpu(interp, model);
            }
            DeliveryMode::StartUp => {
                if interp.cpu.s.activity == Activity::WaitForSipi {
                    interp.cpu.s.events.sipi_vector = Some(msg.vector);
                }
            }
            DeliveryMode::Smi | DeliveryMode::ExtInt => {}
        }
        interp.cpu.attention |= attn::EVENT;
    }
}

/// INIT: blocked (latched) in VMX root operation; otherwise the INIT state
/// of SDM Table 10-1 and wait-for-SIPI for APs.
pub fn init_vcpu(interp: &mut Interp, model: &CpuModel) {
    let vmx = interp.cpu.s.nested.vmx;
    if vmx.vmxon && !vmx.non_root {
        interp.cpu.s.events.init_pending = true;
        return;
    }
    let mut s = interp.cpu.export().clone();
    let _ = s.init(model);
    interp.cpu.import(s);
    interp.flush_code();
}

/// Local APIC timer: the virtual time of the next expiry, if armed.
pub fn timer_deadline(s: &VcpuState) -> Option<u64> {
    let a = &s.apic;
    if !apic_enabled(s) {
        return None;
    }
    match a.timer_mode() {
        apic::regs::timer_mode::TSC_DEADLINE => {
            if a.tsc_deadline == 0 {
                return None;
            }
            // TSC = clock_tsc(ns) + offset, with the TSC at 1 GHz.
            Some(
                a.tsc_deadline
                    .wrapping_sub(s.msrs.tsc_offset)
                    .min(i64::MAX as u64),
            )
        }
        mode => {
            if a.timer_initial == 0 || !a.timer_armed {
                return None;
            }
            let period = u64::from(a.timer_initial) << a.timer_shift();
            let elapsed = a.timer_fired.saturating_add(1).saturating_mul(period);
            if mode == apic::regs::timer_mode::ONE_SHOT && a.timer_fired > 0 {
                return None;
            }
            Some(a.timer_load_time.saturating_add(elapsed))
        }
    }
}

/// Fires the local APIC timer of `s` at virtual time `now` if it is due.
/// Returns whether an interrupt was raised.
pub fn timer_fire(s: &mut VcpuState, now: u64) -> bool {
    let Some(deadline) = timer_deadline(s) else {
        return false;
    };
    if deadline > now {
        return false;
    }
    let a = &mut s.apic;
    let lvt = a.lvt[Lvt::Timer as usize];
    match a.timer_mode() {
        apic::regs::timer_mode::TSC_DEADLINE => a.tsc_deadline = 0,
        apic::regs::timer_mode::PERIODIC => a.timer_fired += 1,
        _ => {
            a.timer_fired = 1;
            a.timer_armed = false;
        }
    }
    if lvt & apic::LVT_MASKED == 0 && a.sw_enabled() {
        accept_fixed(a, lvt as u8, false);
        return true;
    }
    false
}
