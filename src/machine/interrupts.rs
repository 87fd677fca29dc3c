//! Getting interrupts to the vCPUs: delivery of interrupt messages (from
//! the IOAPIC, IPIs, self-IPIs) to the local APICs they select, the
//! CPU-level consequences (NMI, INIT, SIPI), and the local APIC timers.
//! The APIC rules themselves are in `apic::deliver` and `apic::timer`.

use crate::apic::{self, deliver, deliver::Accepted, timer};
use crate::interp::Interp;
use crate::interp::cpu::attn;
use crate::machine::irq::ApicMessage;
use crate::model::CpuModel;
use crate::state::Activity;

/// Applies what an APIC accepted to its vCPU.
pub fn apply(interp: &mut Interp, model: &CpuModel, acc: Accepted) {
    match acc {
        Accepted::Pending(_) | Accepted::ExtInt => {}
        Accepted::Nmi => interp.cpu.s.events.nmi_pending = true,
        Accepted::Init => init_vcpu(interp, model),
        Accepted::StartUp(v) => {
            if interp.cpu.s.activity == Activity::WaitForSipi {
                interp.cpu.s.events.sipi_vector = Some(v);
            }
        }
        Accepted::Smi | Accepted::Dropped => return,
    }
    interp.cpu.attention |= attn::EVENT;
}

/// Delivers `msg` to the vCPUs it selects.
pub fn deliver_message(vcpus: &mut [Interp], model: &CpuModel, msg: &ApicMessage) {
    let chosen = {
        let targets: Vec<deliver::Target> = vcpus
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let base = v.cpu.s.msrs.apic_base;
                deliver::Target {
                    cpu: i as u32,
                    lapic: &v.cpu.s.apic,
                    x2apic: base & apic::base::EXTD != 0,
                    enabled: base & apic::base::EN != 0,
                }
            })
            .collect();
        deliver::select_targets(msg, &targets)
    };
    if let Some(src) = msg.source.and_then(|s| vcpus.get_mut(s as usize)) {
        deliver::check_send(&mut src.cpu.s.apic, msg);
    }
    for i in chosen {
        let interp = &mut vcpus[i as usize];
        let acc = deliver::accept(&mut interp.cpu.s.apic, msg);
        apply(interp, model, acc);
    }
}

/// INIT: latched in VMX root operation; otherwise the INIT state of SDM
/// Table 10-1 (APs then wait for a SIPI).
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

/// Re-derives the local APIC timer deadline of a vCPU whose timer
/// configuration changed, firing it at once if it is already due.
/// `deadline` is the machine's record for this vCPU.
pub fn refresh_timer(interp: &mut Interp, model: &CpuModel, now: u64, deadline: &mut Option<u64>) {
    interp.cpu.timer_dirty = false;
    let off = interp.cpu.s.msrs.tsc_offset;
    // One nanosecond back, so that an expiry exactly at `now` (a count of
    // 1 written by the instruction that just retired) is not missed.
    *deadline = timer::next_deadline(&interp.cpu.s.apic, now.saturating_sub(1), off);
    if deadline.is_some_and(|d| d <= now) {
        fire_timer(interp, model, now, deadline);
    }
}

/// Fires the timer of a vCPU whose deadline has passed and computes the
/// next one.
pub fn fire_timer(interp: &mut Interp, model: &CpuModel, now: u64, deadline: &mut Option<u64>) {
    let off = interp.cpu.s.msrs.tsc_offset;
    if interp.cpu.s.msrs.apic_base & apic::base::EN != 0 {
        let acc = timer::fire(&mut interp.cpu.s.apic, now, off);
        apply(interp, model, acc);
    }
    *deadline = timer::next_deadline(&interp.cpu.s.apic, now, off);
}
