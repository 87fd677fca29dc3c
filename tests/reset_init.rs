//! RESET and INIT state, row by row, for both vendors.
//!
//! Intel: SDM Vol. 3A Table 10-1 "IA-32 and Intel 64 Processor States
//! Following Power-up, Reset, or INIT" (Table 9-1 in older editions) and
//! 11.4.7 for the local APIC. AMD: APM Vol. 2 Table 14-1 "Initial Processor
//! State", Table 14-2 "Initial State of Segment-Register Attributes" and
//! 16.3.1/16.10 for the local APIC.

use nestor::apic::LVT_MASKED;
use nestor::model::presets::preset;
use nestor::model::{CpuModel, Feature, Vendor};
use nestor::state::fpu::F80;
use nestor::state::reset::ResetParams;
use nestor::state::{Activity, SegReg, VcpuState, gpr};

/// What a row expects after INIT.
#[derive(Clone, Copy, Debug)]
enum AfterInit {
    /// The same value as after RESET.
    Reset,
    /// Whatever the register held before INIT.
    Unchanged,
}

struct Row {
    /// The table row (and table) this value comes from.
    row: &'static str,
    get: fn(&VcpuState) -> u64,
    reset: u64,
    init: AfterInit,
}

fn seg(s: &VcpuState, r: SegReg) -> [u64; 4] {
    let x = s.seg(r);
    [
        u64::from(x.selector),
        x.base,
        u64::from(x.limit),
        u64::from(x.attr),
    ]
}

fn pack(v: [u64; 4]) -> u64 {
    // Selector, limit and attributes fit in a fingerprint; bases are checked
    // by their own rows.
    v[0] << 48 ^ v[2] << 16 ^ v[3] ^ v[1].rotate_left(7)
}

fn model(vendor: Vendor) -> CpuModel {
    let name = match vendor {
        Vendor::Intel => "Icelake-Server",
        Vendor::Amd => "EPYC-Milan",
    };
    let mut m = preset(name).expect("preset");
    m.features.insert(Feature::Mpx);
    m
}

fn reset(m: &CpuModel, bsp: bool) -> VcpuState {
    let (s, _) = VcpuState::reset(
        m,
        ResetParams {
            apic_id: if bsp { 0 } else { 5 },
            is_bsp: bsp,
            clock_tsc: 1000,
        },
    );
    s
}

/// A state as a running OS would leave it: every register changed.
fn dirty(m: &CpuModel, s: &mut VcpuState) {
    s.gpr = [0x1111_2222_3333_4444; 16];
    s.rip = 0xFFFF_FFFF_8000_1234;
    s.rflags = 0x246;
    for r in SegReg::ALL {
        *s.seg_mut(r) = nestor::state::Segment::new(0x10, 0x1000, 0xFFFF_FFFF, 0xC093);
    }
    s.gdtr.base = 0x5000;
    s.idtr.base = 0x6000;
    s.ldtr.selector = 0x28;
    s.tr.selector = 0x30;
    s.cr.cr0 = 0xC005_003B; // PG CD(!) ... keep CD set, NW clear
    s.cr.cr2 = 0xDEAD;
    s.cr.cr3 = 0x1000;
    s.cr.cr4 = 0x6F0;
    s.efer = 0xD01;
    s.dr.dr = [1, 2, 3, 4];
    s.dr.dr6 = 0xFFFF_4FF1;
    s.dr.dr7 = 0x455;
    s.xcr0 = 0x7;
    s.fpu.fcw = 0x37F;
    s.fpu.fsw = 0x3800;
    s.fpu.ftw = 0xFFFE;
    s.fpu.regs[0] = F80 {
        significand: 1 << 63,
        sign_exp: 0x3FFF,
    };
    s.fpu.mxcsr = 0x9FC0;
    s.fpu.xmm[3] = [7, 8];
    s.fpu.bnd[0] = [1, 2];
    s.msrs.tsc_offset = 12345;
    s.msrs.tsc_aux = 9;
    s.msrs.pat = 0x0606_0606_0606_0606;
    s.msrs.mtrr_def_type = 0xC06;
    s.msrs.sysenter_cs = 0x10;
    s.msrs.sysenter_eip = 0xFFFF_8000_0000_0000;
    s.msrs.star = 0x0023_0010_0000_0000;
    s.msrs.lstar = 0xFFFF_8000_0000_1000;
    s.msrs.kernel_gs_base = 0xFFFF_8000_0000_2000;
    s.msrs.feature_control = 0x5;
    s.msrs.xss = 0;
    s.msrs.bndcfgs = 0x1000_0001;
    s.msrs.smbase = 0xA0000;
    s.msrs.apic_base = 0xFEE0_0000 | 1 << 11 | 1 << 10 | u64::from(s.is_bsp) << 8;
    s.apic.tpr = 0x20;
    s.apic.svr = 0x1FF;
    s.apic.lvt = [0x30; 7];
    s.apic.isr[1] = 1;
    s.apic.timer_initial = 100;
    s.activity = Activity::Halted;
    s.events.nmi_pending = true;
    s.events.interrupt_shadow = 1;
    let _ = m;
}

fn rows(vendor: Vendor) -> Vec<Row> {
    use AfterInit::*;
    let intel = vendor == Vendor::Intel;
    // Vendor-specific values.
    let (cs_attr, data_attr, tr_attr) = if intel {
        (0x93, 0x93, 0x8B)
    } else {
        (0x9A, 0x92, 0x83)
    };
    // AMD Table 14-1: DR0–DR3, DR6, DR7 "Not modified" by INIT.
    let dr_init = if intel { Reset } else { Unchanged };
    // SDM Table 10-1 "IA32_XSS", "BND0-BND3", "IA32_BNDCFGS": cleared by INIT.
    let mpx_init = if intel { Reset } else { Unchanged };
    let mut v = vec![
        Row {
            row: "EAX (no BIST)",
            get: |s| s.gpr[gpr::RAX],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "EBX",
            get: |s| s.gpr[gpr::RBX],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "ECX",
            get: |s| s.gpr[gpr::RCX],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "ESP",
            get: |s| s.gpr[gpr::RSP],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "EBP",
            get: |s| s.gpr[gpr::RBP],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "ESI",
            get: |s| s.gpr[gpr::RSI],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "EDI",
            get: |s| s.gpr[gpr::RDI],
            reset: 0,
            init: Reset,
        },
        Row {
            row: "R8-R15",
            get: |s| s.gpr[8..].iter().fold(0, |a, &r| a | r),
            reset: 0,
            init: Reset,
        },
        Row {
            row: "EIP",
            get: |s| s.rip,
            reset: 0xFFF0,
            init: Reset,
        },
        Row {
            row: "EFLAGS",
            get: |s| s.rflags,
            reset: 0x2,
            init: Reset,
        },
        Row {
            row: "CS selector",
            get: |s| seg(s, SegReg::Cs)[0],
            reset: 0xF000,
            init: Reset,
        },
        Row {
            row: "CS base",
            get: |s| seg(s, SegReg::Cs)[1],
            reset: 0xFFFF_0000,
            init: Reset,
        },
        Row {
            row: "CS limit",
            get: |s| seg(s, SegReg::Cs)[2],
            reset: 0xFFFF,
            init: Reset,
        },
        Row {
            row: "CS access rights",
            get: |s| seg(s, SegReg::Cs)[3],
            reset: cs_attr,
            init: Reset,
        },
        Row {
            row: "GDTR base",
            get: |s| s.gdtr.base,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "GDTR limit",
            get: |s| u64::from(s.gdtr.limit),
            reset: 0xFFFF,
            init: Reset,
        },
        Row {
            row: "IDTR base",
            get: |s| s.idtr.base,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "IDTR limit",
            get: |s| u64::from(s.idtr.limit),
            reset: 0xFFFF,
            init: Reset,
        },
        Row {
            row: "LDTR",
            get: |s| {
                pack([
                    s.ldtr.selector.into(),
                    s.ldtr.base,
                    s.ldtr.limit.into(),
                    s.ldtr.attr.into(),
                ])
            },
            reset: pack([0, 0, 0xFFFF, 0x82]),
            init: Reset,
        },
        Row {
            row: "Task Register",
            get: |s| {
                pack([
                    s.tr.selector.into(),
                    s.tr.base,
                    s.tr.limit.into(),
                    s.tr.attr.into(),
                ])
            },
            reset: pack([0, 0, 0xFFFF, tr_attr]),
            init: Reset,
        },
        Row {
            row: "CR2",
            get: |s| s.cr.cr2,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "CR3",
            get: |s| s.cr.cr3,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "CR4",
            get: |s| s.cr.cr4,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "EFER",
            get: |s| s.efer,
            reset: 0,
            init: Reset,
        },
        Row {
            row: "DR0-DR3",
            get: |s| s.dr.dr.iter().fold(0, |a, &r| a | r),
            reset: 0,
            init: dr_init,
        },
        Row {
            row: "DR6",
            get: |s| s.dr.dr6,
            reset: 0xFFFF_0FF0,
            init: dr_init,
        },
        Row {
            row: "DR7",
            get: |s| s.dr.dr7,
            reset: 0x400,
            init: dr_init,
        },
        Row {
            row: "x87 FPU Control Word",
            get: |s| s.fpu.fcw.into(),
            reset: 0x40,
            init: Unchanged,
        },
        Row {
            row: "x87 FPU Status Word",
            get: |s| s.fpu.fsw.into(),
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "x87 FPU Tag Word",
            get: |s| s.fpu.ftw.into(),
            reset: 0x5555,
            init: Unchanged,
        },
        Row {
            row: "FP Registers R0-R7",
            get: |s| {
                s.fpu
                    .regs
                    .iter()
                    .fold(0, |a, r| a | r.significand | u64::from(r.sign_exp))
            },
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "XMM0-XMM15",
            get: |s| s.fpu.xmm.iter().fold(0, |a, x| a | x[0] | x[1]),
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "MXCSR",
            get: |s| s.fpu.mxcsr.into(),
            reset: 0x1F80,
            init: Unchanged,
        },
        Row {
            row: "XCR0",
            get: |s| s.xcr0,
            reset: 1,
            init: Unchanged,
        },
        Row {
            row: "Time-Stamp Counter (offset from clock 1000)",
            get: |s| s.msrs.tsc_offset,
            reset: 0u64.wrapping_sub(1000),
            init: Unchanged,
        },
        Row {
            row: "IA32_TSC_AUX",
            get: |s| s.msrs.tsc_aux,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "PAT (Table 13-12)",
            get: |s| s.msrs.pat,
            reset: 0x0007_0406_0007_0406,
            init: Unchanged,
        },
        Row {
            row: "MTRRs (IA32_MTRR_DEF_TYPE)",
            get: |s| s.msrs.mtrr_def_type,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "IA32_SYSENTER_CS/EIP (all other MSRs)",
            get: |s| s.msrs.sysenter_cs ^ s.msrs.sysenter_eip,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "IA32_STAR/LSTAR (all other MSRs)",
            get: |s| s.msrs.star ^ s.msrs.lstar,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "IA32_KERNEL_GS_BASE (all other MSRs)",
            get: |s| s.msrs.kernel_gs_base,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "IA32_FEATURE_CONTROL (SDM 24.7)",
            get: |s| s.msrs.feature_control,
            reset: 0,
            init: Unchanged,
        },
        Row {
            row: "SMBASE (SDM 32.5)",
            get: |s| s.msrs.smbase,
            reset: 0x30000,
            init: Unchanged,
        },
        Row {
            row: "BND0-BND3",
            get: |s| s.fpu.bnd.iter().fold(0, |a, b| a | b[0] | b[1]),
            reset: 0,
            init: mpx_init,
        },
        Row {
            row: "IA32_BNDCFGS",
            get: |s| s.msrs.bndcfgs,
            reset: 0,
            init: mpx_init,
        },
        // SDM 11.4.7.1 / APM Table 16-2: local APIC registers after RESET;
        // 11.4.7.3: INIT resets them too (except the ID).
        Row {
            row: "APIC TPR",
            get: |s| s.apic.tpr.into(),
            reset: 0,
            init: Reset,
        },
        Row {
            row: "APIC SVR",
            get: |s| s.apic.svr.into(),
            reset: 0xFF,
            init: Reset,
        },
        Row {
            row: "APIC DFR",
            get: |s| s.apic.dfr.into(),
            reset: 0xFFFF_FFFF,
            init: Reset,
        },
        Row {
            row: "APIC LVT (all masked)",
            get: |s| s.apic.lvt.iter().fold(0, |a, &l| a | u64::from(l)),
            reset: LVT_MASKED.into(),
            init: Reset,
        },
        Row {
            row: "APIC ISR",
            get: |s| s.apic.isr.iter().fold(0, |a, &l| a | u64::from(l)),
            reset: 0,
            init: Reset,
        },
        Row {
            row: "APIC timer initial count",
            get: |s| s.apic.timer_initial.into(),
            reset: 0,
            init: Reset,
        },
        Row {
            row: "pending NMI / interrupt shadow",
            get: |s| u64::from(s.events.nmi_pending) | u64::from(s.events.interrupt_shadow),
            reset: 0,
            init: Reset,
        },
    ];
    for sr in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        let get: fn(&VcpuState) -> u64 = match sr {
            SegReg::Ss => |s| pack(seg(s, SegReg::Ss)),
            SegReg::Ds => |s| pack(seg(s, SegReg::Ds)),
            SegReg::Es => |s| pack(seg(s, SegReg::Es)),
            SegReg::Fs => |s| pack(seg(s, SegReg::Fs)),
            _ => |s| pack(seg(s, SegReg::Gs)),
        };
        v.push(Row {
            row: "SS, DS, ES, FS, GS",
            get,
            reset: pack([0, 0, 0xFFFF, data_attr]),
            init: Reset,
        });
    }
    v
}

fn check_vendor(vendor: Vendor) {
    let m = model(vendor);
    let table = if vendor == Vendor::Intel {
        "SDM Table 10-1"
    } else {
        "APM Table 14-1"
    };
    for bsp in [true, false] {
        let s = reset(&m, bsp);
        for r in rows(vendor) {
            assert_eq!(
                (r.get)(&s),
                r.reset,
                "{table} row \"{}\" after RESET",
                r.row
            );
        }
        let mut d = s.clone();
        dirty(&m, &mut d);
        let before = d.clone();
        let _ = d.init(&m);
        for r in rows(vendor) {
            let want = match r.init {
                AfterInit::Reset => r.reset,
                AfterInit::Unchanged => (r.get)(&before),
            };
            assert_eq!(
                (r.get)(&d),
                want,
                "{table} row \"{}\" after INIT ({:?})",
                r.row,
                r.init
            );
        }
    }
}

#[test]
fn intel_sdm_table_10_1_reset_and_init() {
    check_vendor(Vendor::Intel);
}

#[test]
fn amd_apm_table_14_1_reset_and_init() {
    check_vendor(Vendor::Amd);
}

/// SDM Table 10-1 row "EDX" / APM Table 14-1 row "RDX": the processor
/// signature, i.e. CPUID.01H:EAX, for every preset (Bochs leaves 0 here).
#[test]
fn edx_is_cpuid_1_eax_for_every_preset() {
    for &name in nestor::model::presets::PRESET_NAMES {
        let m = preset(name).expect("preset");
        let vm = nestor::vm::VmCpuModel::new(m.clone(), 1);
        let (mut s, _) = vm.reset_vcpu(0, 0);
        let eax = vm.cpuid_for(&s, 1, 0)[0];
        assert_eq!(s.gpr[gpr::RDX], u64::from(eax), "{name} RESET");
        s.gpr[gpr::RDX] = 0;
        let _ = s.init(&m);
        assert_eq!(s.gpr[gpr::RDX], u64::from(eax), "{name} INIT");
    }
}

/// SDM Table 10-1 row "CR0" and its footnote: RESET gives 60000010H; INIT
/// keeps CD and NW, sets ET, clears everything else. APM Table 14-1 agrees.
#[test]
fn cr0_reset_vs_init_keeps_cd_nw() {
    for vendor in [Vendor::Intel, Vendor::Amd] {
        let m = model(vendor);
        for (before, after) in [
            (0x8005_0033u64, 0x10),
            (0xE005_0033, 0x6000_0010),
            (0xC000_0011, 0x4000_0010),
            (0x2000_0001, 0x2000_0010),
        ] {
            let mut s = reset(&m, true);
            assert_eq!(s.cr.cr0, 0x6000_0010);
            s.cr.cr0 = before;
            let _ = s.init(&m);
            assert_eq!(s.cr.cr0, after, "{vendor:?} CR0 {before:#x} after INIT");
        }
    }
}

/// IA32_APIC_BASE: Intel SDM 11.12.5.1 (enabled, xAPIC mode, BSP flag on
/// the BSP only); AMD APM 16.3.1 (RESET clears AE and EXTD). INIT leaves
/// the MSR alone on both.
#[test]
fn apic_base_bsp_flag_and_enable() {
    for (vendor, en) in [(Vendor::Intel, 1u64 << 11), (Vendor::Amd, 0)] {
        let m = model(vendor);
        assert_eq!(reset(&m, true).msrs.apic_base, 0xFEE0_0000 | en | 1 << 8);
        assert_eq!(reset(&m, false).msrs.apic_base, 0xFEE0_0000 | en);
        let mut s = reset(&m, false);
        s.msrs.apic_base = 0xFED0_0C00;
        let _ = s.init(&m);
        assert_eq!(
            s.msrs.apic_base, 0xFED0_0C00,
            "{vendor:?}: INIT keeps APIC base"
        );
    }
}

/// SDM 9.4 / APM 14.1.4: the BSP runs from the reset vector, APs wait for a
/// SIPI, after RESET and after INIT; INIT keeps the APIC ID (SDM 11.4.7.3).
#[test]
fn activity_and_apic_id_after_reset_and_init() {
    for vendor in [Vendor::Intel, Vendor::Amd] {
        let m = model(vendor);
        let bsp = reset(&m, true);
        let ap = reset(&m, false);
        assert_eq!(bsp.activity, Activity::Active);
        assert_eq!(ap.activity, Activity::WaitForSipi);
        let mut b = bsp.clone();
        dirty(&m, &mut b);
        let _ = b.init(&m);
        assert_eq!(b.activity, Activity::Active);
        let mut a = ap.clone();
        dirty(&m, &mut a);
        a.apic.id = 5;
        let _ = a.init(&m);
        assert_eq!(a.activity, Activity::WaitForSipi);
        assert_eq!(a.apic.id, 5);
    }
}

/// The same values through a save/restore round trip (the state model is
/// what backends exchange).
#[test]
fn snapshot_round_trip_preserves_every_field() {
    let m = model(Vendor::Intel);
    let mut s = reset(&m, true);
    dirty(&m, &mut s);
    let text = nestor::state::snapshot::save(&s);
    let back = nestor::state::snapshot::load(&text).expect("load");
    assert_eq!(back, s);
    assert!(nestor::state::snapshot::load("{}").is_err());
    assert!(nestor::state::snapshot::load("not json").is_err());
    let current = format!("\"version\": {}", nestor::state::snapshot::VERSION);
    let newer = text.replace(&current, "\"version\": 99");
    let e = nestor::state::snapshot::load(&newer)
        .unwrap_err()
        .to_string();
    assert!(e.contains("newer"), "{e}");
    // Version 1 had no pending debug exceptions: such a state still loads.
    assert_eq!(s.events.pending_dbg, 0);
    let v1 = text
        .replace(&current, "\"version\": 1")
        .replace("\"pending_dbg\": 0,", "");
    assert!(!v1.contains("pending_dbg"));
    assert_eq!(nestor::state::snapshot::load(&v1).expect("version 1"), s);
}
