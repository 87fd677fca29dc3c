//! The in-kernel local APIC's register page (KVM_GET/SET_LAPIC) ↔ the
//! shared [`LapicState`].
//!
//! The page is the xAPIC register file: 32-bit registers at their MMIO
//! offsets (SDM Vol. 3A Table 11-1). KVM's quirks handled here:
//!
//! - in x2APIC mode the ID register holds the whole x2APIC ID only with
//!   KVM_CAP_X2APIC_API's 32-bit IDs; otherwise it is ID << 24 as in xAPIC
//!   mode ([`Shape::x2apic_ids`]);
//! - the ICR's high half (0x310) holds bits 63:32 in both modes;
//! - the timer is restarted on SET from the current count (TMCCT), and
//!   its current count is computed on GET. nestor keeps the time the count
//!   was loaded instead, so the conversion needs the VM clock `now` (the
//!   APIC timer input and KVM's APIC bus both tick once per nanosecond).
//!   KVM restarts a one-shot count of 0 at once, so a timer nestor holds as
//!   expired or stopped is imported with a zero initial count;
//! - KVM recomputes PPR and the version register; ESR's "errors since the
//!   last write" latch, the APIC's initial ID and the stopped-periodic
//!   flag are not in the page and come from the template.

use kvm_bindings::kvm_lapic_state;

use super::convert::Shape;
use crate::apic::regs::{off, timer_mode};
use crate::apic::{self, LVT_COUNT, LapicState};

/// Offsets of the LVT entries in [`LapicState::lvt`] order.
const LVT_OFFSETS: [u32; LVT_COUNT] = [
    off::LVT_CMCI,
    off::LVT_TIMER,
    0x330, // thermal
    0x340, // performance counters
    0x350, // LINT0
    0x360, // LINT1
    off::LVT_ERROR,
];

fn get(k: &kvm_lapic_state, offset: u32) -> u32 {
    let o = offset as usize;
    let b = |i: usize| k.regs[o + i] as u8;
    u32::from_le_bytes([b(0), b(1), b(2), b(3)])
}

fn set(k: &mut kvm_lapic_state, offset: u32, v: u32) {
    let o = offset as usize;
    for (i, byte) in v.to_le_bytes().into_iter().enumerate() {
        k.regs[o + i] = byte as _;
    }
}

/// Whether a one-shot or periodic count has run out (or stopped) at `now`
/// in nestor's model: its interrupt, if any, is already delivered.
fn timer_finished(a: &LapicState, now: u64) -> bool {
    a.timer_mode() != timer_mode::TSC_DEADLINE && a.timer_initial != 0 && a.timer_current(now) == 0
}

/// nestor's APIC registers as KVM's register page at VM time `now`.
pub fn lapic_to_kvm(a: &LapicState, x2apic: bool, now: u64, shape: &Shape) -> kvm_lapic_state {
    let mut k = kvm_lapic_state { regs: [0; 1024] };
    let id = if x2apic && shape.x2apic_ids {
        a.id
    } else {
        (a.id & 0xFF) << 24
    };
    set(&mut k, off::ID, id);
    set(&mut k, off::VERSION, apic::APIC_VERSION);
    set(&mut k, off::TPR, a.tpr);
    set(&mut k, off::PPR, a.ppr());
    set(&mut k, off::LDR, a.ldr);
    set(&mut k, off::DFR, a.dfr);
    set(&mut k, off::SVR, a.svr);
    for i in 0..8 {
        let step = 0x10 * i as u32;
        set(&mut k, off::ISR0 + step, a.isr[i]);
        set(&mut k, off::TMR0 + step, a.tmr[i]);
        set(&mut k, off::IRR0 + step, a.irr[i]);
    }
    set(&mut k, off::ESR, a.esr);
    set(&mut k, off::ICR_LO, a.icr as u32);
    set(&mut k, off::ICR_HI, (a.icr >> 32) as u32);
    for (i, &o) in LVT_OFFSETS.iter().enumerate() {
        set(&mut k, o, a.lvt[i]);
    }
    let finished = timer_finished(a, now);
    set(
        &mut k,
        off::TIMER_INITIAL,
        if finished { 0 } else { a.timer_initial },
    );
    set(
        &mut k,
        off::TIMER_CURRENT,
        if finished { 0 } else { a.timer_current(now) },
    );
    set(&mut k, off::TIMER_DIVIDE, a.timer_divide);
    k
}

/// KVM's register page as nestor's APIC registers at VM time `now`;
/// `template` supplies what the page does not hold.
pub fn lapic_from_kvm(
    k: &kvm_lapic_state,
    x2apic: bool,
    now: u64,
    shape: &Shape,
    template: &LapicState,
) -> LapicState {
    let mut a = template.clone();
    let id = get(k, off::ID);
    a.id = if x2apic && shape.x2apic_ids {
        id
    } else {
        id >> 24
    };
    a.tpr = get(k, off::TPR) & 0xFF;
    a.ldr = get(k, off::LDR);
    a.dfr = get(k, off::DFR);
    a.svr = get(k, off::SVR);
    for i in 0..8 {
        let step = 0x10 * i as u32;
        a.isr[i] = get(k, off::ISR0 + step);
        a.tmr[i] = get(k, off::TMR0 + step);
        a.irr[i] = get(k, off::IRR0 + step);
    }
    a.esr = get(k, off::ESR);
    a.icr = u64::from(get(k, off::ICR_LO)) | u64::from(get(k, off::ICR_HI)) << 32;
    for (i, &o) in LVT_OFFSETS.iter().enumerate() {
        a.lvt[i] = get(k, o);
    }
    a.timer_divide = get(k, off::TIMER_DIVIDE) & 0xB;
    let initial = get(k, off::TIMER_INITIAL);
    let current = get(k, off::TIMER_CURRENT);
    let was_finished = timer_finished(template, now);
    a.timer_initial = initial;
    if a.timer_mode() == timer_mode::TSC_DEADLINE {
        // The count registers are unused in TSC-deadline mode.
        a.timer_stopped = false;
    } else if initial == 0 {
        // No count (or one nestor exported as finished): keep the
        // template's registers if it was finished, so a round trip
        // leaves an expired one-shot expired with its initial count.
        if was_finished {
            a.timer_initial = template.timer_initial;
            a.timer_load_time = template.timer_load_time;
            a.timer_stopped = template.timer_stopped;
        } else {
            a.timer_stopped = false;
        }
    } else if current == 0 && a.timer_mode() == timer_mode::ONE_SHOT {
        // One-shot count ran out in KVM: expired, nothing more to fire.
        a.timer_load_time = now.saturating_sub(u64::from(initial) << a.timer_shift());
        a.timer_stopped = now < u64::from(initial) << a.timer_shift();
    } else {
        // Counting: loaded (initial - current) counts ago (a periodic
        // count of 0 has just reloaded).
        let done = if current == 0 {
            0
        } else {
            initial.saturating_sub(current)
        };
        let elapsed = u64::from(done) << a.timer_shift();
        a.timer_load_time = now.saturating_sub(elapsed);
        a.timer_stopped = false;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apic::Lvt;
    use crate::apic::regs::ApicEnv;

    fn shape() -> Shape {
        Shape {
            x2apic_ids: true,
            ..Shape::default()
        }
    }

    #[test]
    fn registers_round_trip() {
        let mut a = LapicState::reset(3);
        a.tpr = 0x20;
        a.svr = 0x1FF;
        a.isr[2] = 0x10;
        a.irr[7] = 1 << 31;
        a.tmr[7] = 1 << 31;
        a.icr = 0x0000_0005_0000_4030;
        a.lvt[Lvt::Lint0 as usize] = 0x700;
        a.esr = 0x40;
        for x2 in [false, true] {
            let k = lapic_to_kvm(&a, x2, 1000, &shape());
            assert_eq!(lapic_from_kvm(&k, x2, 1000, &shape(), &a), a);
        }
    }

    #[test]
    fn running_timer_keeps_its_phase() {
        let mut a = LapicState::reset(0);
        let env = ApicEnv {
            now: 5_000,
            tsc_deadline: true,
        };
        a.write_xapic(off::SVR, 0x1FF, &env);
        a.write_xapic(off::TIMER_DIVIDE, 0x1, &env); // divide by 4
        a.write_xapic(off::LVT_TIMER, 0x30, &env);
        a.write_xapic(off::TIMER_INITIAL, 1000, &env);
        let now = 5_000 + 4 * 300;
        let k = lapic_to_kvm(&a, false, now, &shape());
        assert_eq!(get(&k, off::TIMER_CURRENT), 700);
        let b = lapic_from_kvm(&k, false, now, &shape(), &a);
        assert_eq!(b.timer_current(now), 700);
        assert_eq!(b.timer_load_time, a.timer_load_time);
    }

    #[test]
    fn expired_one_shot_is_imported_without_a_count() {
        let mut a = LapicState::reset(0);
        let env = ApicEnv {
            now: 0,
            tsc_deadline: true,
        };
        a.write_xapic(off::SVR, 0x1FF, &env);
        a.write_xapic(off::TIMER_DIVIDE, 0xB, &env);
        a.write_xapic(off::LVT_TIMER, 0x30, &env);
        a.write_xapic(off::TIMER_INITIAL, 100, &env);
        let k = lapic_to_kvm(&a, false, 500, &shape());
        assert_eq!(get(&k, off::TIMER_INITIAL), 0, "KVM would fire it again");
        let b = lapic_from_kvm(&k, false, 500, &shape(), &a);
        assert_eq!(b, a);
    }
}
