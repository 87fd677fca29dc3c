//! Deterministic virtual time.
//!
//! Guest-visible time is a pure function of the retired-instruction count
//! (plus time skipped while every vCPU is halted), never of the host clock.
//! The unit is the virtual nanosecond: each retired instruction advances
//! the clock by [`NS_PER_INSN`]. All vCPUs share one clock, which advances
//! with every instruction any of them retires (they run round-robin on one
//! host thread). The TSC and the local APIC timer input both tick at 1 GHz,
//! i.e. once per virtual nanosecond; other devices convert with
//! [`ticks_at`].

/// Virtual nanoseconds per retired instruction.
pub const NS_PER_INSN: u64 = 1;
/// Virtual nanoseconds a PAUSE takes (in addition to its instruction).
pub const PAUSE_NS: u64 = 100;
/// Virtual nanoseconds a port I/O access takes (legacy I/O is slow on real
/// hardware too: about a microsecond through the chipset).
pub const IO_NS: u64 = 1000;
/// Virtual nanoseconds an access to device MMIO takes.
pub const MMIO_NS: u64 = 200;
/// TSC frequency (CPUID leaf 0x15/0x16 report it).
pub const TSC_HZ: u64 = 1_000_000_000;
/// Local APIC timer input clock ("bus clock") frequency.
pub const APIC_TIMER_HZ: u64 = 1_000_000_000;
/// 8254 PIT input clock.
pub const PIT_HZ: u64 = 1_193_182;
/// ACPI PM timer frequency.
pub const PM_TIMER_HZ: u64 = 3_579_545;
/// HPET counter frequency (period 10 ns).
pub const HPET_HZ: u64 = 100_000_000;

/// Ticks of a clock of frequency `hz` elapsed at virtual time `ns`
/// (exact, no drift: computed from the absolute time).
#[inline]
pub fn ticks_at(ns: u64, hz: u64) -> u64 {
    ((u128::from(ns) * u128::from(hz)) / 1_000_000_000) as u64
}

/// The first virtual nanosecond at which a clock of frequency `hz` has
/// counted `ticks` ticks.
#[inline]
pub fn ns_for_ticks(ticks: u64, hz: u64) -> u64 {
    let ns = (u128::from(ticks) * 1_000_000_000).div_ceil(u128::from(hz));
    ns.min(u128::from(u64::MAX)) as u64
}

/// The TSC clock (before the per-vCPU offset) at virtual time `ns`.
#[inline]
pub fn tsc_at(ns: u64) -> u64 {
    ticks_at(ns, TSC_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        for hz in [PIT_HZ, PM_TIMER_HZ, HPET_HZ, TSC_HZ] {
            for t in [0u64, 1, 7, 1000, 123_456_789] {
                let ns = ns_for_ticks(t, hz);
                assert!(ticks_at(ns, hz) >= t);
                if ns > 0 {
                    assert!(ticks_at(ns - 1, hz) < t);
                }
            }
        }
    }
}
