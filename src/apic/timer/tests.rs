use super::*;
use crate::apic::regs::{ApicEnv, off};

fn env(now: u64) -> ApicEnv {
    ApicEnv {
        now,
        tsc_deadline: true,
    }
}

/// An enabled APIC whose timer LVT is `lvt` (vector 0x31 unless given).
fn lapic(lvt: u32) -> LapicState {
    let mut a = LapicState::reset(0);
    let e = env(0);
    a.write_xapic(off::SVR, 0x1FF, &e);
    a.write_xapic(off::LVT_TIMER, lvt, &e);
    a
}

const ONE_SHOT: u32 = 0x31;
const PERIODIC: u32 = 0x31 | (1 << 17);
const TSC_DL: u32 = 0x31 | (2 << 17);

// SDM Vol. 3A Figure 11-10 "Divide Configuration Register".
#[test]
fn divide_configuration_table() {
    // (divide configuration value, divisor)
    let table: &[(u32, u64)] = &[
        (0b0000, 2),
        (0b0001, 4),
        (0b0010, 8),
        (0b0011, 16),
        (0b1000, 32),
        (0b1001, 64),
        (0b1010, 128),
        (0b1011, 1),
    ];
    for &(dcr, div) in table {
        let mut a = lapic(ONE_SHOT);
        a.write_xapic(off::TIMER_DIVIDE, dcr, &env(100));
        a.write_xapic(off::TIMER_INITIAL, 1000, &env(100));
        assert_eq!(
            next_deadline(&a, 100, 0),
            Some(100 + 1000 * div),
            "DCR {dcr:#b}"
        );
        // The current count reaches 0 exactly at the deadline.
        let dl = 100 + 1000 * div;
        assert_eq!(a.read_xapic(off::TIMER_CURRENT, &env(dl - 1)), 1);
        assert_eq!(a.read_xapic(off::TIMER_CURRENT, &env(dl)), 0);
    }
}

// SDM 11.5.4: one-shot counts down once and stops.
#[test]
fn one_shot() {
    let mut a = lapic(ONE_SHOT);
    a.write_xapic(off::TIMER_DIVIDE, 0xB, &env(0));
    a.write_xapic(off::TIMER_INITIAL, 500, &env(1000));
    assert_eq!(next_deadline(&a, 1000, 0), Some(1500));
    assert_eq!(next_deadline(&a, 1499, 0), Some(1500));
    assert_eq!(
        fire(&mut a, 1499, 0),
        Accepted::Dropped,
        "stale call before expiry"
    );
    assert_eq!(a.irr, [0; 8]);
    assert_eq!(fire(&mut a, 1500, 0), Accepted::Pending(0x31));
    assert_eq!(a.irr[1], 1 << 17);
    assert_eq!(next_deadline(&a, 1500, 0), None, "one-shot does not re-arm");
    // Writing the initial count re-arms; 0 stops the timer.
    a.write_xapic(off::TIMER_INITIAL, 10, &env(2000));
    assert_eq!(next_deadline(&a, 2000, 0), Some(2010));
    a.write_xapic(off::TIMER_INITIAL, 0, &env(2005));
    assert_eq!(next_deadline(&a, 2005, 0), None);
    assert_eq!(fire(&mut a, 2010, 0), Accepted::Dropped);
}

// SDM 11.5.4: periodic mode reloads the initial count at zero.
#[test]
fn periodic_schedule() {
    let mut a = lapic(PERIODIC);
    a.write_xapic(off::TIMER_DIVIDE, 0x0, &env(0)); // divide by 2
    a.write_xapic(off::TIMER_INITIAL, 50, &env(300));
    // (now, next deadline)
    let table: &[(u64, u64)] = &[(300, 400), (399, 400), (400, 500), (450, 500), (1234, 1300)];
    for &(now, dl) in table {
        assert_eq!(next_deadline(&a, now, 0), Some(dl), "now {now}");
    }
    assert_eq!(fire(&mut a, 400, 0), Accepted::Pending(0x31));
    assert_eq!(a.read_xapic(off::TIMER_CURRENT, &env(400)), 50, "reloaded");
    assert_eq!(a.read_xapic(off::TIMER_CURRENT, &env(420)), 40);
}

#[test]
fn masked_timer_has_no_deadline_until_unmasked() {
    let mut a = lapic(PERIODIC | LVT_MASKED);
    a.write_xapic(off::TIMER_DIVIDE, 0xB, &env(0));
    a.write_xapic(off::TIMER_INITIAL, 100, &env(0));
    assert_eq!(next_deadline(&a, 50, 0), None);
    assert_eq!(fire(&mut a, 100, 0), Accepted::Dropped);
    assert_eq!(a.irr, [0; 8]);
    a.write_xapic(off::LVT_TIMER, PERIODIC, &env(250));
    assert_eq!(
        next_deadline(&a, 250, 0),
        Some(300),
        "phase kept from the load time"
    );
    // A one-shot that expired while masked stays quiet after unmasking.
    let mut b = lapic(ONE_SHOT | LVT_MASKED);
    b.write_xapic(off::TIMER_INITIAL, 10, &env(0));
    b.write_xapic(off::LVT_TIMER, ONE_SHOT, &env(50));
    assert_eq!(next_deadline(&b, 50, 0), None);
}

// SDM 11.5.4.1 "TSC-Deadline Mode".
#[test]
fn tsc_deadline_table() {
    // (IA32_TSC_DEADLINE, TSC offset, now, expected deadline)
    let table: &[(u64, u64, u64, Option<u64>)] = &[
        (0, 0, 100, None),                           // disarmed
        (5000, 0, 100, Some(5000)),                  // TSC = ns at 1 GHz
        (5000, 1000, 100, Some(4000)),               // guest TSC ahead
        (5000, (-1000i64) as u64, 2000, Some(6000)), // guest TSC behind
        (50, 0, 100, Some(100)),                     // already passed: fire now
        (u64::MAX, 0, 100, Some(u64::MAX)),
    ];
    for &(dl, offset, now, want) in table {
        let mut a = lapic(TSC_DL);
        a.tsc_deadline = dl;
        assert_eq!(
            next_deadline(&a, now, offset),
            want,
            "deadline {dl} offset {offset:#x}"
        );
    }
}

#[test]
fn tsc_deadline_fire_disarms_even_when_masked() {
    let mut a = lapic(TSC_DL);
    a.tsc_deadline = 1000;
    assert_eq!(fire(&mut a, 999, 0), Accepted::Dropped);
    assert_eq!(a.tsc_deadline, 1000);
    assert_eq!(fire(&mut a, 1000, 0), Accepted::Pending(0x31));
    assert_eq!(
        a.tsc_deadline, 0,
        "kvm-unit-tests: tsc deadline timer clearing"
    );
    assert_eq!(next_deadline(&a, 1000, 0), None);
    let mut b = lapic(TSC_DL | LVT_MASKED);
    b.tsc_deadline = 10;
    assert_eq!(next_deadline(&b, 0, 0), Some(10));
    assert_eq!(fire(&mut b, 10, 0), Accepted::Dropped);
    assert_eq!((b.tsc_deadline, b.irr), (0, [0; 8]));
    // Initial-count writes are ignored in TSC-deadline mode.
    b.write_xapic(off::TIMER_INITIAL, 100, &env(20));
    assert_eq!(next_deadline(&b, 20, 0), None);
}
