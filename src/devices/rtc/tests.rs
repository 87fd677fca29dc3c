use super::*;
use crate::devices::testutil::TestEnv;

const SEC: u64 = 1_000_000_000;

fn rtc() -> (Rtc, TestEnv) {
    let env = TestEnv::new();
    (Rtc::new(&env.info), env)
}

fn read(r: &mut Rtc, env: &mut TestEnv, reg: u8) -> u8 {
    r.io_write(0x70, 1, u32::from(reg), &mut env.ctx());
    r.io_read(0x71, 1, &mut env.ctx()) as u8
}

fn write(r: &mut Rtc, env: &mut TestEnv, reg: u8, v: u8) {
    r.io_write(0x70, 1, u32::from(reg), &mut env.ctx());
    r.io_write(0x71, 1, u32::from(v), &mut env.ctx());
}

fn clock(r: &mut Rtc, env: &mut TestEnv) -> [u8; 8] {
    [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, CENTURY].map(|reg| read(r, env, reg))
}

#[test]
fn epoch_and_progress() {
    let (mut r, mut env) = rtc();
    // sec, min, hour, weekday (Thursday = 5), day, month, year, century
    assert_eq!(
        clock(&mut r, &mut env),
        [0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x26, 0x20]
    );
    env.now = 3661 * SEC + SEC / 2;
    assert_eq!(
        clock(&mut r, &mut env),
        [0x01, 0x01, 0x01, 0x05, 0x01, 0x01, 0x26, 0x20]
    );
    env.now = (59 * 86_400 + 23 * 3600 + 59 * 60 + 59) * SEC;
    assert_eq!(
        clock(&mut r, &mut env),
        [0x59, 0x59, 0x23, 0x01, 0x01, 0x03, 0x26, 0x20]
    );
}

// MC146818A "Table 3. Time, Calendar and Alarm Data Modes".
#[test]
fn data_modes_table() {
    // (register B, seconds of day, hour register, minute register)
    let table: &[(u8, u64, u8, u8)] = &[
        (0x02, 13 * 3600 + 5 * 60, 0x13, 0x05),  // BCD, 24 h
        (0x06, 13 * 3600 + 5 * 60, 13, 5),       // binary, 24 h
        (0x00, 13 * 3600 + 45 * 60, 0x81, 0x45), // BCD, 12 h, PM
        (0x04, 13 * 3600 + 45 * 60, 0x81, 45),   // binary, 12 h, PM
        (0x00, 0, 0x12, 0x00),                   // midnight = 12 AM
        (0x04, 0, 12, 0),
        (0x00, 12 * 3600, 0x92, 0x00), // noon = 12 PM
        (0x04, 12 * 3600, 0x8C, 0),
        (0x00, 11 * 3600, 0x11, 0x00),
    ];
    for &(b, tod, hour, min) in table {
        let (mut r, mut env) = rtc();
        write(&mut r, &mut env, REG_B, b);
        env.now = tod * SEC;
        assert_eq!(read(&mut r, &mut env, 0x04), hour, "B {b:#x} tod {tod}");
        assert_eq!(read(&mut r, &mut env, 0x02), min, "B {b:#x} tod {tod}");
    }
}

#[test]
fn set_time_with_set_bit() {
    let (mut r, mut env) = rtc();
    write(&mut r, &mut env, REG_B, 0x02 | B_UIE);
    write(&mut r, &mut env, REG_B, 0x82 | B_UIE);
    assert_eq!(read(&mut r, &mut env, REG_B), 0x82, "SET clears UIE");
    for (reg, v) in [
        (0x00, 0x30),
        (0x02, 0x15),
        (0x04, 0x09),
        (0x07, 0x28),
        (0x08, 0x02),
        (0x09, 0x24),
    ] {
        write(&mut r, &mut env, reg, v);
    }
    env.now = 10 * SEC;
    assert_eq!(read(&mut r, &mut env, 0x00), 0x30, "held while SET");
    write(&mut r, &mut env, REG_B, 0x02);
    env.now = 11 * SEC + SEC / 2;
    // 2024-02-28 09:15:31, a Wednesday (4)
    assert_eq!(
        clock(&mut r, &mut env),
        [0x31, 0x15, 0x09, 0x04, 0x28, 0x02, 0x24, 0x20]
    );
    // Crossing into the leap day.
    write(&mut r, &mut env, 0x04, 0x23);
    write(&mut r, &mut env, 0x02, 0x59);
    write(&mut r, &mut env, 0x00, 0x59);
    env.now += SEC;
    assert_eq!(read(&mut r, &mut env, 0x07), 0x29);
    // Writing the century (binary mode, 12-hour writes of the hour).
    write(&mut r, &mut env, REG_B, 0x04);
    write(&mut r, &mut env, CENTURY, 21);
    write(&mut r, &mut env, 0x04, 0x83); // 3 PM
    assert_eq!(read(&mut r, &mut env, CENTURY), 21);
    assert_eq!(read(&mut r, &mut env, 0x09), 24);
    write(&mut r, &mut env, REG_B, 0x06);
    assert_eq!(read(&mut r, &mut env, 0x04), 15);
}

#[test]
fn update_in_progress_window() {
    let (mut r, mut env) = rtc();
    // (virtual ns within a second, UIP)
    let table: &[(u64, bool)] = &[
        (0, false),
        (SEC - 244_142, false),
        (SEC - 244_141, true),
        (SEC - 1, true),
        (SEC, false),
        (5 * SEC - 1000, true),
    ];
    for &(t, uip) in table {
        env.now = t;
        assert_eq!(read(&mut r, &mut env, REG_A) & 0x80 != 0, uip, "t {t}");
    }
    write(&mut r, &mut env, REG_B, 0x82);
    env.now = 6 * SEC - 1000;
    assert_eq!(read(&mut r, &mut env, REG_A), 0x26, "no UIP while SET");
}

// MC146818A "Table 5. Periodic Interrupt Rate" (32.768 kHz time base).
#[test]
fn periodic_rate_table() {
    // (RS, period in ns, rounded up to whole ns)
    let table: &[(u8, u64)] = &[
        (1, 3_906_250),
        (2, 7_812_500),
        (3, 122_071),
        (6, 976_563),
        (10, 15_625_000),
        (15, 500_000_000),
    ];
    for &(rs, ns) in table {
        let (mut r, mut env) = rtc();
        write(&mut r, &mut env, REG_A, 0x20 | rs);
        write(&mut r, &mut env, REG_B, 0x02 | B_PIE);
        assert_eq!(r.next_deadline(), Some(ns), "RS {rs}");
    }
    let (mut r, mut env) = rtc();
    write(&mut r, &mut env, REG_A, 0x20);
    write(&mut r, &mut env, REG_B, 0x02 | B_PIE);
    assert_eq!(r.next_deadline(), None, "RS 0: no periodic interrupt");
}

#[test]
fn periodic_interrupt_and_register_c() {
    let (mut r, mut env) = rtc();
    // PF latches even with PIE clear, without an interrupt.
    env.now = 2_000_000;
    assert_eq!(read(&mut r, &mut env, REG_C), C_PF);
    assert_eq!(read(&mut r, &mut env, REG_C), 0, "cleared by reading");
    write(&mut r, &mut env, REG_B, 0x02 | B_PIE);
    let dl = r.next_deadline().expect("periodic");
    assert_eq!(dl, 2_929_688); // third 1024 Hz boundary
    env.now = dl;
    r.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(8, true)]);
    assert_eq!(r.next_deadline(), None, "line already high");
    env.now += 10_000_000;
    assert_eq!(read(&mut r, &mut env, REG_C), C_IRQF | C_PF);
    assert_eq!(env.irqs(), vec![(8, false)]);
    assert!(r.next_deadline().is_some());
}

#[test]
fn update_ended_and_alarm_interrupts() {
    let (mut r, mut env) = rtc();
    write(&mut r, &mut env, REG_A, 0x20);
    write(&mut r, &mut env, REG_B, 0x02 | B_UIE);
    assert_eq!(r.next_deadline(), Some(SEC));
    env.now = SEC;
    r.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(8, true)]);
    assert_eq!(read(&mut r, &mut env, REG_C), C_IRQF | C_UF);
    assert_eq!(env.irqs(), vec![(8, false)]);
    // Alarm at 00:01:05; hour byte "don't care".
    write(&mut r, &mut env, 0x01, 0x05);
    write(&mut r, &mut env, 0x03, 0x01);
    write(&mut r, &mut env, 0x05, 0xC0);
    write(&mut r, &mut env, REG_B, 0x02 | B_AIE);
    assert_eq!(r.next_deadline(), Some(65 * SEC));
    env.now = 65 * SEC;
    r.on_timer(&mut env.ctx());
    assert_eq!(env.irqs(), vec![(8, true)]);
    assert_eq!(read(&mut r, &mut env, REG_C), C_IRQF | C_AF | C_UF);
    // Next match: an hour later (hours don't care).
    assert_eq!(r.next_deadline(), Some((3600 + 65) * SEC));
    // All three don't care: every second.
    for reg in [0x01, 0x03, 0x05] {
        write(&mut r, &mut env, reg, 0xFF);
    }
    assert_eq!(r.next_deadline(), Some(66 * SEC));
    // An alarm that can never match.
    write(&mut r, &mut env, 0x01, 0x7A);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn divider_reset_and_restart() {
    let (mut r, mut env) = rtc();
    env.now = 3 * SEC + 100;
    write(&mut r, &mut env, REG_A, 0x70);
    env.now = 50 * SEC;
    assert_eq!(read(&mut r, &mut env, 0x00), 0x03, "stopped");
    write(&mut r, &mut env, REG_A, 0x26);
    env.now = 50 * SEC + SEC / 2 - 1;
    assert_eq!(read(&mut r, &mut env, 0x00), 0x03);
    env.now = 50 * SEC + SEC / 2;
    assert_eq!(
        read(&mut r, &mut env, 0x00),
        0x04,
        "first update 500 ms later"
    );
}

#[test]
fn cmos_ram_and_memory_bytes() {
    let mut env = TestEnv::new();
    env.info = MachineInfo {
        cpus: 4,
        ram_bytes: 5 << 30,
        low_ram: 3 << 30,
        high_ram: 2 << 30,
    };
    let mut r = Rtc::new(&env.info);
    // (register, value)
    let table: &[(u8, u8)] = &[
        (0x15, 0x80),
        (0x16, 0x02), // 640 KiB
        (0x17, 0xFF),
        (0x18, 0xFF), // capped at 0xFFFF KiB
        (0x30, 0xFF),
        (0x31, 0xFF),
        (0x34, 0x00),
        (0x35, 0xBF), // (3 GiB - 16 MiB) / 64 KiB = 0xBF00
        (0x5B, 0x00),
        (0x5C, 0x80),
        (0x5D, 0x00), // 2 GiB / 64 KiB = 0x8000
        (0x5F, 3),
        (REG_D, 0x80),
    ];
    for &(reg, v) in table {
        assert_eq!(read(&mut r, &mut env, reg), v, "reg {reg:#x}");
    }
    let sum: u16 = (0x10..0x2E)
        .map(|i| u16::from(read(&mut r, &mut env, i)))
        .sum();
    assert_eq!(
        u16::from_be_bytes([read(&mut r, &mut env, 0x2E), read(&mut r, &mut env, 0x2F)]),
        sum
    );
    write(&mut r, &mut env, 0x40, 0xA5);
    write(&mut r, &mut env, 0x80 | 0x41, 0x5A); // NMI-disable bit ignored
    assert!(r.nmi_disabled());
    assert_eq!(read(&mut r, &mut env, 0x40), 0xA5);
    assert_eq!(read(&mut r, &mut env, 0x41), 0x5A);
    assert!(!r.nmi_disabled());
    assert_eq!(r.io_read(0x70, 1, &mut env.ctx()), 0xFF);
}

#[test]
fn arbitrary_traffic_never_panics() {
    let (mut r, mut env) = rtc();
    let mut x: u64 = 7;
    for _ in 0..30_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        env.now += (x >> 40) & 0xFFFFF;
        let v = (x >> 16) as u32;
        match x % 4 {
            0 => r.io_write(0x70, 1, v, &mut env.ctx()),
            1 => r.io_write(0x71, 1, v, &mut env.ctx()),
            2 => r.io_write(0x70, [1, 2, 4][(x >> 8) as usize % 3], v, &mut env.ctx()),
            _ => {
                let _ = r.io_read(0x71, 1, &mut env.ctx());
            }
        }
        if r.next_deadline().is_some_and(|d| d <= env.now) {
            r.on_timer(&mut env.ctx());
        }
    }
}
