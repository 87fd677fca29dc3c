use super::*;
use crate::apic::regs::{ApicEnv, off};

fn lapic(id: u32) -> LapicState {
    let mut a = LapicState::reset(id);
    a.svr = 0x1FF;
    a
}

fn msg(dest: Destination, x2apic: bool) -> ApicMessage {
    ApicMessage {
        vector: 0x40,
        mode: DeliveryMode::Fixed,
        dest,
        level_triggered: false,
        assert: true,
        source: Some(0),
        x2apic,
    }
}

fn target(cpu: u32, lapic: &LapicState, x2apic: bool) -> Target<'_> {
    Target {
        cpu,
        lapic,
        x2apic,
        enabled: true,
    }
}

// SDM Vol. 3A 11.6.2.1 "Physical Destination Mode", 11.12.9 x2APIC.
#[test]
fn physical_destination_table() {
    // (target x2APIC mode, target ID, message x2APIC format, destination, match)
    let table: &[(bool, u32, bool, u32, bool)] = &[
        (false, 3, false, 3, true),
        (false, 3, false, 4, false),
        (false, 3, false, 0xFF, true),  // xAPIC broadcast
        (false, 0x103, false, 3, true), // xAPIC compares ID[7:0]
        (true, 0x103, true, 0x103, true),
        (true, 0x103, true, 3, false),
        (true, 0x103, true, 0xFFFF_FFFF, true), // x2APIC broadcast
        (true, 0xFF, true, 0xFF, true),         // 0xFF is a plain ID in x2APIC format
        (true, 0x100, true, 0xFF, false),
        (true, 5, false, 0xFF, true), // xAPIC-format broadcast (I/O APIC) reaches x2APIC
    ];
    for &(tx2, id, mx2, dest, want) in table {
        let a = lapic(id);
        let m = msg(Destination::Physical(dest), mx2);
        assert_eq!(
            matches(&target(1, &a, tx2), &m),
            want,
            "id {id:#x} dest {dest:#x}"
        );
    }
}

// SDM 11.6.2.2 "Logical Destination Mode": flat and cluster models, with
// the destinations kvm-unit-tests' apic test uses.
#[test]
fn logical_xapic_table() {
    // (DFR model flat?, LDR[31:24], MDA, match)
    let table: &[(bool, u32, u32, bool)] = &[
        (true, 0x01, 0x01, true),
        (true, 0x01, 0x03, true),
        (true, 0x02, 0x05, false),
        (true, 0x00, 0x7F, false),
        (true, 0x00, 0xFF, true), // broadcast
        (false, 0x21, 0x21, true),
        (false, 0x21, 0x2F, true),
        (false, 0x21, 0x31, false), // other cluster
        (false, 0x21, 0x22, false), // same cluster, other member
        (false, 0x00, 0x01, false),
        (false, 0x31, 0xFF, true), // broadcast
    ];
    for &(flat, ldr, mda, want) in table {
        let mut a = lapic(0);
        let e = ApicEnv {
            now: 0,
            tsc_deadline: true,
        };
        a.write_xapic(off::DFR, if flat { 0xFFFF_FFFF } else { 0x0FFF_FFFF }, &e);
        a.write_xapic(off::LDR, ldr << 24, &e);
        let m = msg(Destination::Logical(mda), false);
        assert_eq!(
            matches(&target(0, &a, false), &m),
            want,
            "flat {flat} ldr {ldr:#x} mda {mda:#x}"
        );
    }
}

// SDM 11.12.10 "Logical Destination Mode in x2APIC Mode".
#[test]
fn logical_x2apic_table() {
    // (x2APIC ID, destination, match)
    let table: &[(u32, u32, bool)] = &[
        (0x23, 0x0002_0008, true),
        (0x23, 0x0002_000C, true),
        (0x23, 0x0002_0004, false),
        (0x23, 0x0001_0008, false),
        (0x00, 0x0000_0001, true),
        (0x10, 0x0001_0001, true),
        (0x23, 0xFFFF_FFFF, true),
    ];
    for &(id, dest, want) in table {
        let a = lapic(id);
        assert_eq!(x2apic_ldr(0x23), 0x0002_0008);
        let m = msg(Destination::Logical(dest), true);
        assert_eq!(
            matches(&target(0, &a, true), &m),
            want,
            "id {id:#x} dest {dest:#x}"
        );
    }
}

// SDM 11.6.1 Destination Shorthand.
#[test]
fn shorthands_and_disabled_apics() {
    let a = lapic(0);
    let b = lapic(1);
    let mut c = lapic(2);
    c.svr = 0xFF; // software-disabled still matches (then drops fixed)
    let targets = [
        target(0, &a, false),
        target(1, &b, false),
        target(2, &c, false),
    ];
    // (shorthand, source, receivers)
    let table: &[(Destination, u32, &[u32])] = &[
        (Destination::SelfOnly, 1, &[1]),
        (Destination::AllIncludingSelf, 1, &[0, 1, 2]),
        (Destination::AllExcludingSelf, 1, &[0, 2]),
        (Destination::Physical(0xFF), 0, &[0, 1, 2]),
    ];
    for &(dest, src, want) in table {
        let mut m = msg(dest, false);
        m.source = Some(src);
        assert_eq!(select_targets(&m, &targets), want.to_vec(), "{dest:?}");
    }
    let off = Target {
        enabled: false,
        ..target(3, &a, false)
    };
    assert!(!matches(&off, &msg(Destination::AllIncludingSelf, false)));
}

#[test]
fn lowest_priority_goes_to_lowest_apic_id() {
    let a = lapic(7);
    let b = lapic(2);
    let c = lapic(5);
    let targets = [
        target(0, &a, false),
        target(1, &b, false),
        target(2, &c, false),
    ];
    let mut m = msg(Destination::Physical(0xFF), false);
    m.mode = DeliveryMode::LowestPriority;
    assert_eq!(select_targets(&m, &targets), vec![1]);
    m.dest = Destination::Physical(9);
    assert!(select_targets(&m, &targets).is_empty());
}

// SDM 11.8.4: acceptance sets IRR and records the trigger mode in TMR
// (kvm-unit-tests ioapic "TMR for ioapic edge/level interrupts").
#[test]
fn accept_fixed_sets_irr_and_tmr() {
    let mut a = lapic(0);
    let mut m = msg(Destination::Physical(0), false);
    m.vector = 0x79;
    m.level_triggered = true;
    assert_eq!(accept(&mut a, &m), Accepted::Pending(0x79));
    assert_eq!(a.irr[3], 1 << 25);
    assert_eq!(a.tmr[3], 1 << 25);
    a.irr = [0; 8];
    m.level_triggered = false;
    assert_eq!(accept(&mut a, &m), Accepted::Pending(0x79));
    assert_eq!(a.tmr[3], 0, "edge acceptance clears TMR");
}

#[test]
fn accept_by_delivery_mode_table() {
    // (mode, vector, level, assert, sw enabled, result)
    let table: &[(DeliveryMode, u8, bool, bool, bool, Accepted)] = &[
        (
            DeliveryMode::Fixed,
            0x30,
            false,
            true,
            true,
            Accepted::Pending(0x30),
        ),
        (
            DeliveryMode::LowestPriority,
            0x31,
            false,
            true,
            true,
            Accepted::Pending(0x31),
        ),
        (
            DeliveryMode::Fixed,
            0x30,
            false,
            true,
            false,
            Accepted::Dropped,
        ),
        (DeliveryMode::Nmi, 0, false, true, false, Accepted::Nmi),
        (DeliveryMode::Smi, 0, false, true, true, Accepted::Smi),
        (DeliveryMode::Init, 0, false, true, false, Accepted::Init),
        (DeliveryMode::Init, 0, true, false, true, Accepted::Dropped), // level de-assert
        (
            DeliveryMode::StartUp,
            0x9A,
            false,
            true,
            false,
            Accepted::StartUp(0x9A),
        ),
        (DeliveryMode::ExtInt, 0, false, true, true, Accepted::ExtInt),
    ];
    for &(mode, vector, level, assert, sw, want) in table {
        let mut a = lapic(0);
        if !sw {
            a.svr = 0xFF;
        }
        let m = ApicMessage {
            vector,
            mode,
            level_triggered: level,
            assert,
            ..msg(Destination::Physical(0), false)
        };
        assert_eq!(accept(&mut a, &m), want, "{mode:?}");
    }
}

// SDM 11.5.3: vectors 0–15 are illegal; the error is latched at the next
// ESR write and raised through LVT error.
#[test]
fn illegal_vectors_set_esr() {
    let e = ApicEnv {
        now: 0,
        tsc_deadline: true,
    };
    for v in 0..16u8 {
        let mut a = lapic(0);
        a.write_xapic(off::LVT_ERROR, 0xE0, &e);
        let m = ApicMessage {
            vector: v,
            ..msg(Destination::Physical(0), false)
        };
        assert_eq!(accept(&mut a, &m), Accepted::Dropped);
        a.write_xapic(off::ESR, 0, &e);
        assert_eq!(
            a.read_xapic(off::ESR, &e),
            esr::RECEIVE_ILLEGAL_VECTOR,
            "vector {v}"
        );
        assert_eq!(a.irr[7], 1, "error interrupt at vector 0xE0");
        check_send(&mut a, &m);
        a.write_xapic(off::ESR, 0, &e);
        assert_eq!(a.read_xapic(off::ESR, &e), esr::SEND_ILLEGAL_VECTOR);
    }
    let mut a = lapic(0);
    a.lvt[Lvt::Timer as usize] = 0x05;
    assert_eq!(local_interrupt(&mut a, Lvt::Timer), Accepted::Dropped);
    assert_eq!(
        a.esr_pending,
        esr::RECEIVE_ILLEGAL_VECTOR,
        "LVT error masked: ESR only"
    );
    assert_eq!(a.irr, [0; 8]);
}

// SDM 11.8.3.1: an IRR vector is deliverable when its priority class is
// above PPR's class.
#[test]
fn priority_and_acknowledge_table() {
    // (TPR, vector in service or 0, vector requested, deliverable)
    let table: &[(u32, u8, u8, bool)] = &[
        (0x00, 0, 0x20, true),
        (0x20, 0, 0x2F, false), // same class as TPR
        (0x20, 0, 0x30, true),
        (0x2F, 0, 0x30, true),
        (0x00, 0x50, 0x55, false), // same class as the in-service vector
        (0x00, 0x50, 0x61, true),
        (0x70, 0x50, 0x61, false),
        (0xF0, 0, 0xFF, false),
    ];
    for &(tpr, isr, irr, want) in table {
        let mut a = lapic(0);
        a.tpr = tpr;
        if isr != 0 {
            set_bit(&mut a.isr, isr, true);
        }
        set_bit(&mut a.irr, irr, true);
        assert_eq!(
            highest_deliverable(&a),
            want.then_some(irr),
            "tpr {tpr:#x} isr {isr:#x} irr {irr:#x}"
        );
        let got = acknowledge(&mut a);
        if want {
            assert_eq!(got, irr);
            assert_eq!(highest_vector(&a.isr), Some(irr));
            assert_eq!(highest_vector(&a.irr), None);
        } else {
            assert_eq!(got, 0xFF, "spurious vector from SVR");
            assert_eq!(highest_vector(&a.irr), Some(irr), "IRR untouched");
        }
    }
    let mut a = lapic(0);
    set_bit(&mut a.irr, 0x40, true);
    a.svr = 0xEF;
    assert_eq!(highest_deliverable(&a), None, "software-disabled");
}

// SDM Figure 11-12 (xAPIC ICR) and 11-28 (x2APIC ICR).
#[test]
fn icr_decoding_table() {
    // (ICR, x2APIC, expected destination, mode, level_triggered, assert)
    type Row = (u64, bool, Destination, DeliveryMode, bool, bool);
    let table: &[Row] = &[
        (
            0x0300_0000_0000_4031,
            false,
            Destination::Physical(3),
            DeliveryMode::Fixed,
            false,
            true,
        ),
        (
            0x0000_0000_000C_4500,
            false,
            Destination::AllExcludingSelf,
            DeliveryMode::Init,
            false,
            true,
        ),
        (
            0x0000_0000_000C_4600,
            false,
            Destination::AllExcludingSelf,
            DeliveryMode::StartUp,
            false,
            true,
        ),
        (
            0x0000_0000_0008_8500,
            false,
            Destination::AllIncludingSelf,
            DeliveryMode::Init,
            true,
            false,
        ),
        (
            0x0000_0000_0004_40F1,
            false,
            Destination::SelfOnly,
            DeliveryMode::Fixed,
            false,
            true,
        ),
        (
            0xAB00_0000_0000_4820,
            false,
            Destination::Logical(0xAB),
            DeliveryMode::Fixed,
            false,
            true,
        ),
        (
            0x0000_0123_0000_4420,
            true,
            Destination::Physical(0x123),
            DeliveryMode::Nmi,
            false,
            true,
        ),
        (
            0x0002_0008_0000_4920,
            true,
            Destination::Logical(0x0002_0008),
            DeliveryMode::LowestPriority,
            false,
            true,
        ),
        (
            0xFFFF_FFFF_0000_4020,
            true,
            Destination::Physical(0xFFFF_FFFF),
            DeliveryMode::Fixed,
            false,
            true,
        ),
    ];
    for &(icr, x2, dest, mode, level, assert) in table {
        let m = icr_to_message(icr, x2, 4).expect("valid mode");
        assert_eq!(
            (
                m.dest,
                m.mode,
                m.level_triggered,
                m.assert,
                m.source,
                m.x2apic
            ),
            (dest, mode, level, assert, Some(4), x2),
            "{icr:#x}"
        );
        assert_eq!(m.vector, icr as u8);
    }
    assert_eq!(
        icr_to_message(0x300, false, 0),
        None,
        "reserved delivery mode"
    );
    let s = self_ipi_message(0x44, 2);
    assert_eq!(
        (s.dest, s.mode, s.source),
        (Destination::SelfOnly, DeliveryMode::Fixed, Some(2))
    );
}

// SDM 11.5.1: LVT delivery modes for local interrupts.
#[test]
fn local_interrupt_table() {
    // (LVT, entry, result)
    let table: &[(Lvt, u32, Accepted)] = &[
        (Lvt::Timer, 0x0000_0031, Accepted::Pending(0x31)),
        (Lvt::Timer, 0x0001_0031, Accepted::Dropped),
        (Lvt::Timer, 0x0000_0431, Accepted::Pending(0x31)), // no mode field
        (Lvt::Lint0, 0x0000_0700, Accepted::ExtInt),
        (Lvt::Lint1, 0x0000_0400, Accepted::Nmi),
        (Lvt::Perf, 0x0000_0200, Accepted::Smi),
        (Lvt::Thermal, 0x0000_0500, Accepted::Init),
        (Lvt::Cmci, 0x0000_0300, Accepted::Dropped),
        (Lvt::Error, 0x0000_00E3, Accepted::Pending(0xE3)),
    ];
    for &(lvt, entry, want) in table {
        let mut a = lapic(0);
        a.lvt[lvt as usize] = entry;
        assert_eq!(local_interrupt(&mut a, lvt), want, "{lvt:?} {entry:#x}");
    }
}
