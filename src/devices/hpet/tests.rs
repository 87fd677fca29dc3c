use super::*;
use crate::devices::testutil::TestEnv;

const US: u64 = 1000;

fn rd(h: &mut Hpet, env: &mut TestEnv, off: u64, size: u8) -> u64 {
    h.mmio_read(off, size, &mut env.ctx())
}

fn wr(h: &mut Hpet, env: &mut TestEnv, off: u64, size: u8, v: u64) {
    h.mmio_write(off, size, v, &mut env.ctx());
}

fn conf(route: u64, bits: u64) -> u64 {
    (route << tn::ROUTE_SHIFT) | bits
}

// HPET spec 2.3.4 "General Capabilities and ID Register".
#[test]
fn capabilities_register() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    // (offset, size, value)
    let table: &[(u64, u8, u64)] = &[
        (0x000, 8, 0x0098_9680_8086_A201),
        (0x000, 4, 0x8086_A201),
        (0x004, 4, 0x0098_9680), // 10 ns in femtoseconds
        (0x001, 1, 0xA2),        // 3 timers, 64-bit, legacy capable
        (0x100, 8, (u64::from(ROUTE_CAP) << 32) | 0x30),
        (0x108, 8, u64::MAX),
        (0x010, 8, 0),
        (0x0F0, 8, 0),
    ];
    for &(off, size, want) in table {
        assert_eq!(rd(&mut h, &mut env, off, size), want, "{off:#x}/{size}");
    }
    wr(&mut h, &mut env, 0x000, 8, 0);
    assert_eq!(rd(&mut h, &mut env, 0x000, 8), CAPABILITIES, "read-only");
}

#[test]
fn main_counter_runs_at_100_mhz_when_enabled() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    env.now = 5 * US;
    assert_eq!(rd(&mut h, &mut env, 0xF0, 8), 0, "halted");
    wr(&mut h, &mut env, 0xF0, 8, 1_000);
    wr(&mut h, &mut env, 0x10, 4, 1);
    env.now = 6 * US;
    assert_eq!(rd(&mut h, &mut env, 0xF0, 8), 1_100);
    wr(&mut h, &mut env, 0xF0, 8, 0);
    assert_eq!(
        rd(&mut h, &mut env, 0xF0, 4),
        1_100,
        "not writable while running"
    );
    wr(&mut h, &mut env, 0x10, 4, 0);
    env.now = 100 * US;
    assert_eq!(rd(&mut h, &mut env, 0xF0, 8), 1_100, "halted again");
    wr(&mut h, &mut env, 0xF4, 4, 1);
    assert_eq!(
        rd(&mut h, &mut env, 0xF0, 8),
        0x1_0000_044C,
        "high half written"
    );
}

#[test]
fn one_shot_edge_timer() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    wr(&mut h, &mut env, 0x100, 4, conf(16, tn::INT_ENB));
    wr(&mut h, &mut env, 0x108, 8, 1_000);
    assert_eq!(h.next_deadline(), None, "counter halted");
    env.now = 2 * US;
    wr(&mut h, &mut env, 0x10, 4, 1);
    assert_eq!(h.next_deadline(), Some(12 * US));
    env.now = 12 * US - 1;
    h.on_timer(&mut env.ctx());
    assert!(env.irqs().is_empty());
    env.now = 12 * US;
    h.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(16, true), (16, false)]);
    assert_eq!(
        rd(&mut h, &mut env, 0x20, 8),
        0,
        "edge timers leave GINTR_STA clear"
    );
    // Next match only after a full 64-bit wrap.
    assert!(h.next_deadline().is_none_or(|d| d > 1 << 60));
}

// Linux's periodic setup: VAL_SET, comparator = now + period, then period.
#[test]
fn periodic_timer_with_val_set() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    wr(&mut h, &mut env, 0x10, 4, 1);
    wr(
        &mut h,
        &mut env,
        0x100,
        4,
        conf(16, tn::INT_ENB | tn::PERIODIC | tn::VAL_SET),
    );
    wr(&mut h, &mut env, 0x108, 8, 500);
    wr(&mut h, &mut env, 0x108, 8, 500);
    assert_eq!(
        rd(&mut h, &mut env, 0x100, 4) & tn::VAL_SET,
        0,
        "VAL_SET self-clears"
    );
    for k in 1..=3u64 {
        assert_eq!(h.next_deadline(), Some(5 * US * k));
        env.now = 5 * US * k;
        h.on_timer(&mut env.ctx());
        assert_eq!(env.irqs().len(), 2, "period {k}");
        assert_eq!(
            rd(&mut h, &mut env, 0x108, 8),
            500 * (k + 1),
            "comparator advanced"
        );
    }
    // Late by many periods: one interrupt, comparator past the counter.
    env.now = 100 * US + 1;
    h.on_timer(&mut env.ctx());
    assert_eq!(env.irqs().len(), 2);
    assert_eq!(rd(&mut h, &mut env, 0x108, 8), 10_500);
    // Without VAL_SET a comparator write only changes the period.
    wr(&mut h, &mut env, 0x108, 8, 100);
    assert_eq!(rd(&mut h, &mut env, 0x108, 8), 10_500);
    env.now = 105 * US;
    h.on_timer(&mut env.ctx());
    assert_eq!(rd(&mut h, &mut env, 0x108, 8), 10_600);
}

#[test]
fn level_triggered_status_and_line() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    wr(
        &mut h,
        &mut env,
        0x120,
        4,
        conf(17, tn::LEVEL | tn::INT_ENB),
    );
    wr(&mut h, &mut env, 0x128, 8, 100);
    wr(&mut h, &mut env, 0x10, 4, 1);
    env.now = US;
    h.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(17, true)]);
    assert_eq!(rd(&mut h, &mut env, 0x20, 8), 0b10);
    assert_eq!(h.next_deadline(), None, "held until cleared");
    wr(&mut h, &mut env, 0x20, 8, 0b01);
    assert_eq!(rd(&mut h, &mut env, 0x20, 8), 0b10, "other bits untouched");
    wr(&mut h, &mut env, 0x20, 8, 0b10);
    assert_eq!(env.irqs(), vec![(17, false)]);
    // Status is set even with the interrupt disabled, without a line.
    wr(&mut h, &mut env, 0x120, 4, conf(17, tn::LEVEL));
    wr(&mut h, &mut env, 0x128, 8, 200);
    env.now = 2 * US;
    assert_eq!(rd(&mut h, &mut env, 0x20, 8), 0b10);
    assert!(env.irqs().is_empty());
}

// HPET spec 2.3.9 "Legacy Replacement Route".
#[test]
fn legacy_replacement_routes() {
    // (timer, GSI with LEG_RT_CNF)
    for &(timer, gsi) in &[(0u64, 0u32), (1, 8), (2, 20)] {
        let mut h = Hpet::new();
        let mut env = TestEnv::new();
        wr(
            &mut h,
            &mut env,
            0x100 + 0x20 * timer,
            4,
            conf(20, tn::INT_ENB),
        );
        wr(&mut h, &mut env, 0x108 + 0x20 * timer, 8, 10);
        wr(&mut h, &mut env, 0x10, 4, 3);
        assert!(h.legacy_replacement());
        env.now = US;
        h.on_timer(&mut env.ctx());
        assert_eq!(env.irqs(), vec![(gsi, true), (gsi, false)], "timer {timer}");
    }
}

#[test]
fn route_capability_and_32bit_mode() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    wr(&mut h, &mut env, 0x140, 4, conf(16, 0));
    wr(&mut h, &mut env, 0x140, 4, conf(5, 0)); // input 5 not in the capability
    assert_eq!((rd(&mut h, &mut env, 0x140, 4) >> 9) & 0x1F, 16);
    // 32-bit mode truncates the comparator and matches the low half.
    wr(
        &mut h,
        &mut env,
        0x140,
        4,
        conf(16, tn::INT_ENB | tn::MODE32),
    );
    assert_eq!(rd(&mut h, &mut env, 0x148, 8), 0xFFFF_FFFF);
    wr(&mut h, &mut env, 0xF0, 8, 0x1_FFFF_FF00);
    wr(&mut h, &mut env, 0x148, 8, 0x1_0000_0010);
    assert_eq!(rd(&mut h, &mut env, 0x148, 8), 0x10);
    wr(&mut h, &mut env, 0x10, 4, 1);
    assert_eq!(h.next_deadline(), Some((0x100 + 0x10) * 10));
    env.now = 0x110 * 10;
    h.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(16, true), (16, false)]);
}

#[test]
fn arbitrary_traffic_never_panics() {
    let mut h = Hpet::new();
    let mut env = TestEnv::new();
    let mut x: u64 = 11;
    for _ in 0..30_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        env.now += (x >> 44) & 0xFFFF;
        let off = [
            0x0, 0x10, 0x20, 0xF0, 0x100, 0x108, 0x120, 0x128, 0x140, 0x148, 0x3F8,
        ][(x >> 8) as usize % 11]
            + (x >> 60) % 8;
        let size = [1u8, 2, 4, 8][(x >> 4) as usize % 4];
        if x & 1 == 0 {
            wr(&mut h, &mut env, off, size, x.rotate_left(17));
        } else {
            let _ = rd(&mut h, &mut env, off, size);
        }
        if h.next_deadline().is_some_and(|d| d <= env.now) {
            h.on_timer(&mut env.ctx());
        }
    }
}
