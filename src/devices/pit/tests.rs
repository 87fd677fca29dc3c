use super::*;
use crate::devices::testutil::TestEnv;

/// Virtual time of PIT tick `t`.
fn at(t: u64) -> u64 {
    clock::ns_for_ticks(t, PIT_HZ)
}

fn out(p: &mut Pit, env: &mut TestEnv, port: u16, v: u8) {
    p.io_write(port, 1, u32::from(v), &mut env.ctx());
}

fn inb(p: &mut Pit, env: &mut TestEnv, port: u16) -> u8 {
    p.io_read(port, 1, &mut env.ctx()) as u8
}

/// Programs channel `ch` with `mode`, LSB-then-MSB, count `n`, at tick 0
/// of the returned environment's clock origin `t0`.
fn setup(ch: u8, mode: u8, n: u16, t0: u64) -> (Pit, TestEnv) {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    env.now = at(t0);
    if ch == 2 {
        out(&mut p, &mut env, PORT_B, 1); // gate 2 high
    }
    out(&mut p, &mut env, 0x43, (ch << 6) | 0x30 | (mode << 1));
    out(&mut p, &mut env, 0x40 + u16::from(ch), n as u8);
    out(&mut p, &mut env, 0x40 + u16::from(ch), (n >> 8) as u8);
    (p, env)
}

// 8254 datasheet "Mode Definitions" waveforms for N = 4 (and 5 for the
// odd square wave): OUT after d clocks of counting.
#[test]
fn output_waveforms_by_mode() {
    // (mode, N, gate trigger needed, OUT for d = 0..10)
    let table: &[(u8, u16, bool, &str)] = &[
        (0, 4, false, "LLLLHHHHHH"),
        (1, 4, true, "LLLLHHHHHH"),
        (2, 4, false, "HHHLHHHLHH"),
        (3, 4, false, "HHLLHHLLHH"),
        (3, 5, false, "HHHLLHHHLL"),
        (4, 4, false, "HHHHLHHHHH"),
        (5, 4, true, "HHHHLHHHHH"),
        (6, 4, false, "HHHLHHHLHH"), // mode 6 = mode 2
        (7, 4, false, "HHLLHHLLHH"), // mode 7 = mode 3
    ];
    for &(mode, n, trigger, wave) in table {
        let (mut p, mut env) = setup(2, mode, n, 100);
        if trigger {
            out(&mut p, &mut env, PORT_B, 0);
            out(&mut p, &mut env, PORT_B, 1);
        }
        let got: String = (0..10)
            .map(|d| if p.output(2, at(100 + d)) { 'H' } else { 'L' })
            .collect();
        assert_eq!(got, wave, "mode {mode} N {n}");
    }
}

#[test]
fn counter_values_by_mode() {
    // (mode, N, elapsed ticks, counter read)
    let table: &[(u8, u16, u64, u16)] = &[
        (0, 100, 30, 70),
        (0, 10, 15, 65531), // mode 0 keeps counting down after TC
        (0, 0, 1, 65535),   // count 0 = 65536
        (2, 100, 130, 70),
        (2, 100, 100, 100),
        (3, 100, 10, 80), // mode 3 counts by two
        (4, 50, 20, 30),
    ];
    for &(mode, n, d, want) in table {
        let (mut p, mut env) = setup(0, mode, n, 7);
        env.now = at(7 + d);
        let lo = inb(&mut p, &mut env, 0x40);
        let hi = inb(&mut p, &mut env, 0x40);
        assert_eq!(
            u16::from_le_bytes([lo, hi]),
            want,
            "mode {mode} N {n} d {d}"
        );
    }
}

// Linux programs channel 0 as a rate generator at HZ and takes IRQ0 edges.
#[test]
fn mode2_periodic_irq0() {
    let (mut p, mut env) = setup(0, 2, 1193, 0);
    assert!(env.irqs().is_empty());
    for k in 1..=3u64 {
        let dl = p.next_deadline().expect("armed");
        assert_eq!(dl, at(1193 * k));
        env.now = dl - 1;
        p.on_timer(&mut env.ctx());
        assert!(env.irqs().is_empty(), "not yet at {k}");
        env.now = dl;
        p.on_timer(&mut env.ctx());
        assert_eq!(env.irqs(), vec![(0, true), (0, false)], "period {k}");
    }
    // Late by several periods: one coalesced pulse, then back on schedule.
    env.now = at(1193 * 10 + 5);
    p.on_timer(&mut env.ctx());
    assert_eq!(env.irqs().len(), 2);
    assert_eq!(p.next_deadline(), Some(at(1193 * 11)));
}

#[test]
fn mode0_one_shot_irq0() {
    let (mut p, mut env) = setup(0, 0, 500, 1000);
    assert_eq!(p.next_deadline(), Some(at(1500)));
    env.now = at(1500);
    p.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(0, true), (0, false)]);
    assert_eq!(p.next_deadline(), None, "OUT stays high: no more edges");
    // Reprogramming re-arms it.
    out(&mut p, &mut env, 0x43, 0x30);
    assert_eq!(p.next_deadline(), None, "waiting for the count");
    out(&mut p, &mut env, 0x40, 10);
    assert_eq!(p.next_deadline(), None, "LSB alone does not load");
    out(&mut p, &mut env, 0x40, 0);
    assert_eq!(p.next_deadline(), Some(at(1510)));
}

#[test]
fn counter_latch_and_lohi_read_order() {
    let (mut p, mut env) = setup(0, 2, 1000, 0);
    env.now = at(10);
    out(&mut p, &mut env, 0x43, 0x00); // latch channel 0
    env.now = at(500);
    out(&mut p, &mut env, 0x43, 0x00); // ignored: already latched
    assert_eq!(inb(&mut p, &mut env, 0x40), (990 & 0xFF) as u8);
    env.now = at(600);
    assert_eq!(inb(&mut p, &mut env, 0x40), (990 >> 8) as u8);
    // Latch released: live count again.
    assert_eq!(inb(&mut p, &mut env, 0x40), (400 & 0xFF) as u8);
    assert_eq!(inb(&mut p, &mut env, 0x40), (400 >> 8) as u8);
}

// 8254 datasheet "Read-Back Command" and "Status Byte".
#[test]
fn read_back_status_and_count() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    out(&mut p, &mut env, 0x43, 0x74); // ch1, lohi, mode 2
    out(&mut p, &mut env, 0x43, 0xE4); // read-back status of ch1
    assert_eq!(
        inb(&mut p, &mut env, 0x41),
        0x80 | 0x40 | 0x34,
        "OUT high, null count"
    );
    out(&mut p, &mut env, 0x41, 0x10);
    out(&mut p, &mut env, 0x41, 0x00);
    env.now = at(4);
    out(&mut p, &mut env, 0x43, 0xC4); // count and status of ch1
    assert_eq!(inb(&mut p, &mut env, 0x41), 0x80 | 0x34, "status first");
    assert_eq!(inb(&mut p, &mut env, 0x41), 0x0C);
    assert_eq!(inb(&mut p, &mut env, 0x41), 0x00);
    // Status of mode 0 after the control word: OUT low.
    out(&mut p, &mut env, 0x43, 0x10 | 0x01); // ch0, LSB, mode 0, BCD
    out(&mut p, &mut env, 0x43, 0xE2);
    assert_eq!(inb(&mut p, &mut env, 0x40), 0x40 | 0x11);
}

#[test]
fn access_modes_lsb_msb() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    out(&mut p, &mut env, 0x43, 0x14); // ch0 LSB only, mode 2
    out(&mut p, &mut env, 0x40, 200);
    env.now = at(50);
    assert_eq!(inb(&mut p, &mut env, 0x40), 150);
    assert_eq!(inb(&mut p, &mut env, 0x40), 150);
    out(&mut p, &mut env, 0x43, 0x24); // ch0 MSB only, mode 2
    out(&mut p, &mut env, 0x40, 2); // N = 512
    env.now = at(50 + 256);
    assert_eq!(inb(&mut p, &mut env, 0x40), 1);
}

#[test]
fn bcd_counting() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    out(&mut p, &mut env, 0x43, 0x31); // ch0 lohi mode 0 BCD
    out(&mut p, &mut env, 0x40, 0x00);
    out(&mut p, &mut env, 0x40, 0x01); // 0100 BCD = 100
    env.now = at(1);
    assert_eq!(inb(&mut p, &mut env, 0x40), 0x99);
    assert_eq!(inb(&mut p, &mut env, 0x40), 0x00);
    assert_eq!(p.next_deadline(), Some(at(100)));
    env.now = at(101);
    assert_eq!(inb(&mut p, &mut env, 0x40), 0x99, "wraps to 9999");
    assert_eq!(inb(&mut p, &mut env, 0x40), 0x99);
}

// The Linux/SeaBIOS calibration loop: channel 2 in mode 0, gate via port
// 0x61, poll OUT2 in bit 5.
#[test]
fn channel2_gate_and_port_b() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    out(&mut p, &mut env, PORT_B, 0x00);
    out(&mut p, &mut env, 0x43, 0xB0); // ch2 lohi mode 0
    out(&mut p, &mut env, 0x42, 100);
    out(&mut p, &mut env, 0x42, 0);
    env.now = at(500);
    assert_eq!(
        inb(&mut p, &mut env, PORT_B) & 0x21,
        0,
        "gate low: not counting"
    );
    out(&mut p, &mut env, PORT_B, 0x01);
    env.now = at(599);
    assert_eq!(inb(&mut p, &mut env, PORT_B) & 0x20, 0);
    env.now = at(600);
    assert_eq!(inb(&mut p, &mut env, PORT_B) & 0x21, 0x21, "OUT2 at TC");
    // Gate low pauses mode 0 counting.
    out(&mut p, &mut env, 0x43, 0xB0);
    out(&mut p, &mut env, 0x42, 100);
    out(&mut p, &mut env, 0x42, 0);
    env.now = at(640);
    out(&mut p, &mut env, PORT_B, 0x00);
    env.now = at(10_000);
    out(&mut p, &mut env, PORT_B, 0x01);
    env.now = at(10_030);
    assert_eq!(inb(&mut p, &mut env, 0x42), 30);
    assert_eq!(p.next_deadline(), None, "channel 2 never interrupts");
}

#[test]
fn refresh_toggle_and_stored_bits() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    out(&mut p, &mut env, PORT_B, 0xFE);
    assert_eq!(inb(&mut p, &mut env, PORT_B), 0x0E);
    env.now = 15_085;
    assert_eq!(inb(&mut p, &mut env, PORT_B), 0x1E);
    env.now = 2 * 15_085;
    assert_eq!(inb(&mut p, &mut env, PORT_B), 0x0E);
}

#[test]
fn mode1_retriggers_on_gate() {
    let (mut p, mut env) = setup(2, 1, 50, 0);
    assert!(p.output(2, at(10)), "waits for a trigger with OUT high");
    out(&mut p, &mut env, PORT_B, 0);
    out(&mut p, &mut env, PORT_B, 1);
    env.now = at(40);
    assert!(!p.output(2, env.now));
    out(&mut p, &mut env, PORT_B, 0);
    out(&mut p, &mut env, PORT_B, 1); // retrigger at 40
    assert!(!p.output(2, at(80)));
    assert!(p.output(2, at(90)));
}

#[test]
fn arbitrary_port_traffic_never_panics() {
    let mut p = Pit::new();
    let mut env = TestEnv::new();
    let mut x: u64 = 99;
    for _ in 0..50_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let port = [0x40, 0x41, 0x42, 0x43, 0x61][(x >> 33) as usize % 5];
        env.now += (x >> 50) & 0xFFF;
        if x & 1 == 0 {
            p.io_write(
                port,
                [1, 2, 4][(x >> 5) as usize % 3],
                (x >> 16) as u32,
                &mut env.ctx(),
            );
        } else {
            let _ = p.io_read(port, 1, &mut env.ctx());
        }
        if p.next_deadline().is_some_and(|d| d <= env.now) {
            p.on_timer(&mut env.ctx());
        }
    }
}
