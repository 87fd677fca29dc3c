//! The local APIC timer's schedule (SDM Vol. 3A 11.5.4 "APIC Timer",
//! 11.5.4.1 "TSC-Deadline Mode").
//!
//! The timer input clock is the virtual nanosecond (`clock::APIC_TIMER_HZ`
//! = 1 GHz), the same unit as `ApicEnv::now` and `LapicState::
//! timer_load_time`. One-shot and periodic counts are derived from the load
//! time (see `LapicState::timer_current`), so nothing is ticked: the
//! machine asks [`next_deadline`] when the timer configuration changes
//! (`ApicAction::TimerChanged`) and after each [`fire`], and calls [`fire`]
//! when virtual time reaches the deadline.
//!
//! The TSC of a vCPU is `clock::tsc_at(ns) + tsc_offset` (wrapping), as
//! the TSC-offset fields of VMX/SVM define it.

use crate::machine::clock::{self, TSC_HZ};

use super::deliver::{self, Accepted};
use super::regs::timer_mode;
use super::{LVT_MASKED, LapicState, Lvt};

fn tsc(now: u64, tsc_offset: u64) -> u64 {
    clock::tsc_at(now).wrapping_add(tsc_offset)
}

/// Length of one one-shot count / periodic period in input-clock ticks.
fn period(lapic: &LapicState) -> u64 {
    u64::from(lapic.timer_initial) << lapic.timer_shift()
}

/// The virtual time at which the timer next needs [`fire`], strictly
/// after `now` for one-shot and periodic counts:
///
/// - TSC-deadline mode: the first ns at which the TSC reaches
///   IA32_TSC_DEADLINE (`now` if it already has); None when the MSR is 0.
///   Returned even while the LVT entry is masked, since expiry disarms the
///   timer (11.5.4.1).
/// - One-shot: load time + initial count × divisor, if still ahead.
/// - Periodic: the next multiple of the period after the load time.
/// - None when the initial count is 0 or, in one-shot and periodic modes,
///   when the LVT entry is masked (nothing observable happens at expiry;
///   unmasking re-arms through `ApicAction::TimerChanged`).
pub fn next_deadline(lapic: &LapicState, now: u64, tsc_offset: u64) -> Option<u64> {
    if lapic.timer_mode() == timer_mode::TSC_DEADLINE {
        let deadline = lapic.tsc_deadline;
        if deadline == 0 {
            return None;
        }
        let cur = tsc(now, tsc_offset);
        if cur >= deadline {
            return Some(now);
        }
        let target = clock::tsc_at(now).saturating_add(deadline - cur);
        return Some(clock::ns_for_ticks(target, TSC_HZ));
    }
    if lapic.timer_initial == 0
        || lapic.timer_stopped
        || lapic.lvt[Lvt::Timer as usize] & LVT_MASKED != 0
    {
        return None;
    }
    let p = u128::from(period(lapic));
    let load = u128::from(lapic.timer_load_time);
    let at = if lapic.timer_mode() == timer_mode::PERIODIC {
        let elapsed = u128::from(now.saturating_sub(lapic.timer_load_time));
        load + (elapsed / p + 1) * p
    } else {
        let expiry = load + p;
        if expiry <= u128::from(now) {
            return None;
        }
        expiry
    };
    Some(at.min(u128::from(u64::MAX)) as u64)
}

/// Virtual time `now` has reached the timer's deadline: makes the timer
/// vector pending (unless the LVT entry is masked or the vector is illegal)
/// and, in TSC-deadline mode, clears IA32_TSC_DEADLINE (11.5.4.1). Periodic
/// counts reload by themselves (the count is derived from the load time).
/// Returns what the LVT delivery produced, or `Accepted::Dropped` if the
/// timer had not expired (a stale call).
pub fn fire(lapic: &mut LapicState, now: u64, tsc_offset: u64) -> Accepted {
    let expired = match lapic.timer_mode() {
        timer_mode::TSC_DEADLINE => {
            let d = lapic.tsc_deadline;
            let hit = d != 0 && tsc(now, tsc_offset) >= d;
            if hit {
                lapic.tsc_deadline = 0;
            }
            hit
        }
        _ => {
            lapic.timer_initial != 0
                && !lapic.timer_stopped
                && now.saturating_sub(lapic.timer_load_time) >= period(lapic)
        }
    };
    if !expired {
        return Accepted::Dropped;
    }
    deliver::local_interrupt(lapic, Lvt::Timer)
}

#[cfg(test)]
mod tests;
