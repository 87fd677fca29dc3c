//! MSR rules, table-driven (SDM Vol. 4 Table 2-2; APM Vol. 2 Appendix A).

use super::*;
use crate::model::parse::parse_model;
use crate::model::presets::{PRESET_NAMES, preset};
use crate::state::reset::ResetParams;

fn state_for(model: &CpuModel) -> VcpuState {
    VcpuState::reset(
        model,
        ResetParams {
            apic_id: 0,
            is_bsp: true,
            clock_tsc: 0,
        },
    )
    .0
}

fn ctx(model: &CpuModel) -> MsrCtx<'_> {
    MsrCtx {
        model,
        clock_tsc: 5000,
        apic_now: 0,
    }
}

fn gwrite(s: &mut VcpuState, m: &CpuModel, msr: u32, v: u64) -> Result<MsrEffect, MsrError> {
    write(s, &ctx(m), msr, v, Initiator::Guest)
}

fn gread(s: &VcpuState, m: &CpuModel, msr: u32) -> Result<u64, MsrError> {
    read(s, &ctx(m), msr, Initiator::Guest)
}

/// A model with exactly the given speculation-control features on top of
/// qemu64 (which has none).
fn with(features: &[Feature]) -> CpuModel {
    let mut m = preset("qemu64").expect("qemu64");
    for &f in features {
        m.features.insert(f);
    }
    m
}

/// IA32_SPEC_CTRL: each bit valid iff its own feature is present (SDM Vol. 4
/// Table 2-2 "IA32_SPEC_CTRL"; KVM once refused STIBP without IBRS). All 8
/// combinations of IBRS/STIBP/SSBD, Intel and AMD enumerations.
#[test]
fn spec_ctrl_every_combination_of_ibrs_stibp_ssbd() {
    let enumerations = [
        [Feature::SpecCtrl, Feature::Stibp, Feature::Ssbd],
        [Feature::AmdIbrs, Feature::AmdStibp, Feature::AmdSsbd],
    ];
    let bits = [spec_ctrl::IBRS, spec_ctrl::STIBP, spec_ctrl::SSBD];
    for feats in enumerations {
        for combo in 0u32..8 {
            let present: Vec<Feature> = (0..3)
                .filter(|i| combo & (1 << i) != 0)
                .map(|i| feats[i])
                .collect();
            let m = with(&present);
            let mut s = state_for(&m);
            let valid: u64 = (0..3)
                .filter(|i| combo & (1 << i) != 0)
                .map(|i| bits[i])
                .sum();
            if combo == 0 {
                assert_eq!(gread(&s, &m, IA32_SPEC_CTRL), Err(MsrError::Absent));
                assert_eq!(gwrite(&mut s, &m, IA32_SPEC_CTRL, 0), Err(MsrError::Absent));
                continue;
            }
            for value in 0u64..8 {
                let r = gwrite(&mut s, &m, IA32_SPEC_CTRL, value);
                if value & !valid == 0 {
                    assert!(
                        r.is_ok(),
                        "{present:?}: SPEC_CTRL={value:#x} must be accepted"
                    );
                    assert_eq!(gread(&s, &m, IA32_SPEC_CTRL), Ok(value));
                } else {
                    assert_eq!(
                        r,
                        Err(MsrError::Invalid),
                        "{present:?}: SPEC_CTRL={value:#x} must #GP"
                    );
                }
            }
        }
    }
}

/// IA32_PRED_CMD and IA32_FLUSH_CMD are write-only command MSRs.
#[test]
fn pred_cmd_and_flush_cmd_are_write_only() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    for msr in [IA32_PRED_CMD, IA32_FLUSH_CMD] {
        assert!(gread(&s, &m, msr).is_err());
        assert!(gwrite(&mut s, &m, msr, 0).is_ok());
        assert!(gwrite(&mut s, &m, msr, 1).is_ok());
        for bit in 1..64 {
            assert_eq!(gwrite(&mut s, &m, msr, 1 << bit), Err(MsrError::Invalid));
        }
    }
    let q = preset("qemu64").expect("qemu64");
    let mut s = state_for(&q);
    assert_eq!(gwrite(&mut s, &q, IA32_PRED_CMD, 1), Err(MsrError::Absent));
    assert_eq!(gwrite(&mut s, &q, IA32_FLUSH_CMD, 1), Err(MsrError::Absent));
}

/// IA32_BNDCFGS exists only with MPX (SDM Vol. 1 17.3.3): reserved bits 11:2
/// and a non-canonical base are #GP.
#[test]
fn bndcfgs_only_with_mpx() {
    let without = parse_model("max,-mpx").expect("model");
    let mut s = state_for(&without);
    assert_eq!(gread(&s, &without, IA32_BNDCFGS), Err(MsrError::Absent));
    assert_eq!(
        gwrite(&mut s, &without, IA32_BNDCFGS, 0),
        Err(MsrError::Absent)
    );
    assert!(!saved_msrs(&without).contains(&IA32_BNDCFGS));

    let with_mpx = parse_model("max,+mpx").expect("model");
    let mut s = state_for(&with_mpx);
    assert!(saved_msrs(&with_mpx).contains(&IA32_BNDCFGS));
    assert_eq!(
        gwrite(&mut s, &with_mpx, IA32_BNDCFGS, 0x7FFF_0000_1003),
        Ok(MsrEffect::None)
    );
    assert_eq!(gread(&s, &with_mpx, IA32_BNDCFGS), Ok(0x7FFF_0000_1003));
    assert_eq!(
        gwrite(&mut s, &with_mpx, IA32_BNDCFGS, 0x4),
        Err(MsrError::Invalid)
    );
    assert_eq!(
        gwrite(&mut s, &with_mpx, IA32_BNDCFGS, 0x8000_0000_0000_0001),
        Err(MsrError::Invalid)
    );
}

/// EFER: each bit allowed by its feature (LM: LME/LMA, NX: NXE, SVM: SVME,
/// FFXSR on AMD); LME cannot change with paging on; LMA is read-only to the
/// guest (SDM Vol. 3A 9.8.5, APM Vol. 2 3.1.7).
#[test]
fn efer_bits_follow_the_model() {
    let cases: &[(&str, u64, bool)] = &[
        ("max", efer::SCE | efer::LME | efer::NXE, true),
        ("max,-nx", efer::NXE, false),
        ("max", efer::SVME, false),
        ("max,+svm", efer::SVME, true),
        ("max,-lm", efer::LME, false),
        ("max", 1 << 1, false),
        ("EPYC-Milan", efer::FFXSR, true),
    ];
    for &(spec, value, ok) in cases {
        let m = parse_model(spec).expect("model");
        let mut s = state_for(&m);
        assert_eq!(
            gwrite(&mut s, &m, IA32_EFER, value).is_ok(),
            ok,
            "{spec}: EFER={value:#x}"
        );
    }
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    s.cr.cr0 |= cr0::PG | cr0::PE;
    assert_eq!(
        gwrite(&mut s, &m, IA32_EFER, efer::LME),
        Err(MsrError::Invalid)
    );
    s.cr.cr0 = 0x11;
    gwrite(&mut s, &m, IA32_EFER, efer::LME | efer::LMA).expect("LME");
    assert_eq!(s.efer, efer::LME, "guest cannot set LMA");
    write(
        &mut s,
        &ctx(&m),
        IA32_EFER,
        efer::LME | efer::LMA,
        Initiator::Host,
    )
    .expect("host");
    assert_eq!(s.efer, efer::LME | efer::LMA, "host restore sets LMA");
}

/// Address-holding MSRs #GP on non-canonical values (SDM Vol. 4 Table 2-2;
/// 57-bit canonical when the model has LA57).
#[test]
fn canonical_address_msrs() {
    let addr_msrs = [
        IA32_FS_BASE,
        IA32_GS_BASE,
        IA32_KERNEL_GS_BASE,
        IA32_LSTAR,
        IA32_CSTAR,
        IA32_SYSENTER_ESP,
        IA32_SYSENTER_EIP,
    ];
    for (spec, bad, good) in [
        (
            "max,-la57",
            0x0000_8000_0000_0000u64,
            0xFFFF_8000_0000_0000u64,
        ),
        ("max", 0x0100_0000_0000_0000, 0x00FF_FFFF_FFFF_FFFF),
    ] {
        let m = parse_model(spec).expect("model");
        let mut s = state_for(&m);
        for msr in addr_msrs {
            assert_eq!(
                gwrite(&mut s, &m, msr, bad),
                Err(MsrError::Invalid),
                "{spec} {msr:#x}"
            );
            assert!(gwrite(&mut s, &m, msr, good).is_ok(), "{spec} {msr:#x}");
            assert_eq!(gread(&s, &m, msr), Ok(good));
        }
    }
}

/// PAT entries must be valid memory types (SDM 13.12.2); MTRR types too
/// (SDM 13.11, Table 13-8: no UC- in MTRRs), reserved bits #GP.
#[test]
fn pat_and_mtrr_memory_types() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    for t in 0u64..=8 {
        let pat_ok = matches!(t, 0 | 1 | 4 | 5 | 6 | 7);
        assert_eq!(
            gwrite(&mut s, &m, IA32_PAT, t << 16).is_ok(),
            pat_ok,
            "PAT type {t}"
        );
        let mtrr_ok = matches!(t, 0 | 1 | 4 | 5 | 6);
        assert_eq!(
            gwrite(&mut s, &m, IA32_MTRR_DEF_TYPE, t).is_ok(),
            mtrr_ok,
            "MTRR type {t}"
        );
        assert_eq!(
            gwrite(&mut s, &m, IA32_MTRR_FIX64K_00000, t << 8).is_ok(),
            mtrr_ok
        );
        assert_eq!(
            gwrite(&mut s, &m, IA32_MTRR_PHYSBASE0, 0x1000 | t).is_ok(),
            mtrr_ok
        );
    }
    assert!(gwrite(&mut s, &m, IA32_MTRR_DEF_TYPE, 0xC06).is_ok());
    assert!(gwrite(&mut s, &m, IA32_MTRR_DEF_TYPE, 0x1006).is_err());
    // Above MAXPHYADDR (46 bits for max).
    assert!(gwrite(&mut s, &m, IA32_MTRR_PHYSBASE0, 1 << 46).is_err());
    assert!(gwrite(&mut s, &m, IA32_MTRR_PHYSMASK0, 0x3FFF_FFFF_F800).is_ok());
    assert!(gwrite(&mut s, &m, IA32_MTRR_PHYSMASK0, 0x400).is_err());
    assert_eq!(gread(&s, &m, IA32_MTRRCAP), Ok(0x508));
    assert!(
        gwrite(&mut s, &m, IA32_MTRRCAP, 0x508).is_err(),
        "MTRRCAP is read-only"
    );
}

/// IA32_MISC_ENABLE (as kvm-unit-tests' msr test expects): writable bits 0,
/// 3, 16, 18, 22, 23, 34; read-only 7, 11, 12; everything else reserved.
#[test]
fn misc_enable_writable_readonly_reserved() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    let orig = gread(&s, &m, IA32_MISC_ENABLE).expect("read");
    let val = (0x4_00c5_0809 & !0x1880) | (orig & 0x1880);
    gwrite(&mut s, &m, IA32_MISC_ENABLE, val).expect("write");
    assert_eq!(gread(&s, &m, IA32_MISC_ENABLE), Ok(val));
    assert!(
        gwrite(&mut s, &m, IA32_MISC_ENABLE, val ^ (1 << 11)).is_err(),
        "read-only bit"
    );
    assert!(
        gwrite(&mut s, &m, IA32_MISC_ENABLE, val | 1 << 1).is_err(),
        "reserved bit"
    );
    let amd = preset("EPYC-Milan").expect("amd");
    assert_eq!(
        gread(&state_for(&amd), &amd, IA32_MISC_ENABLE),
        Err(MsrError::Absent)
    );
}

/// Machine-check banks (SDM Vol. 3B 16.3): MCi_CTL all-ones or zero,
/// MCi_STATUS only cleared by software, banks beyond MCG_CAP.Count absent.
#[test]
fn machine_check_banks() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    let banks = gread(&s, &m, IA32_MCG_CAP).expect("cap") & 0xFF;
    assert_eq!(banks, MC_BANKS as u64);
    for i in 0..32u32 {
        let ctl = IA32_MC0_CTL + 4 * i;
        if u64::from(i) < banks {
            assert!(gwrite(&mut s, &m, ctl, 0).is_ok());
            assert!(gwrite(&mut s, &m, ctl, u64::MAX).is_ok());
            assert!(gwrite(&mut s, &m, ctl, 0xAAAA_AAAA_AAAA_AAAA).is_err());
            assert!(gwrite(&mut s, &m, ctl + 1, 0).is_ok());
            assert!(gwrite(&mut s, &m, ctl + 1, 1).is_err());
            assert!(write(&mut s, &ctx(&m), ctl + 1, 1, Initiator::Host).is_ok());
            assert!(gwrite(&mut s, &m, ctl + 2, u64::MAX).is_ok());
            assert!(gwrite(&mut s, &m, ctl + 3, 0xAAAA_AAAA_AAAA_AAAA).is_ok());
        } else {
            for r in 0..4 {
                assert_eq!(gread(&s, &m, ctl + r), Err(MsrError::Absent));
                assert_eq!(gwrite(&mut s, &m, ctl + r, 0), Err(MsrError::Absent));
            }
        }
    }
}

/// IA32_APIC_BASE transitions (SDM Vol. 3A 11.12.5, Figure 11-26) and the
/// x2APIC MSR range only in x2APIC mode (SDM 11.12.1.2).
#[test]
fn apic_base_transitions_and_x2apic_range() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    let base = 0xFEE0_0000 | 1 << 8;
    let (dis, xapic, x2apic, invalid) = (base, base | 1 << 11, base | 3 << 10, base | 1 << 10);
    assert_eq!(gread(&s, &m, 0x802), Err(MsrError::Absent), "xAPIC mode");
    assert_eq!(
        gwrite(&mut s, &m, IA32_APIC_BASE, invalid),
        Err(MsrError::Invalid)
    );
    assert!(gwrite(&mut s, &m, IA32_APIC_BASE, x2apic).is_ok());
    assert_eq!(gread(&s, &m, 0x802), Ok(0));
    assert_eq!(
        gwrite(&mut s, &m, IA32_APIC_BASE, xapic),
        Err(MsrError::Invalid),
        "x2APIC→xAPIC"
    );
    assert!(gwrite(&mut s, &m, IA32_APIC_BASE, dis).is_ok());
    assert_eq!(
        gwrite(&mut s, &m, IA32_APIC_BASE, x2apic),
        Err(MsrError::Invalid),
        "disabled→x2APIC"
    );
    assert!(
        write(&mut s, &ctx(&m), IA32_APIC_BASE, x2apic, Initiator::Host).is_ok(),
        "host may"
    );
    assert!(
        gwrite(&mut s, &m, IA32_APIC_BASE, x2apic | 1 << 46).is_err(),
        "above MAXPHYADDR"
    );
    let q = preset("qemu64").expect("qemu64");
    let mut s = state_for(&q);
    assert!(
        gwrite(&mut s, &q, IA32_APIC_BASE, x2apic).is_err(),
        "no x2apic feature: EXTD reserved"
    );
}

/// Guest TSC writes move IA32_TSC_ADJUST by the same delta (SDM Vol. 3B
/// 18.17.3); TSC_ADJUST writes move the TSC; host writes set only the target.
#[test]
fn tsc_and_tsc_adjust() {
    let m = parse_model("max").expect("max");
    let mut s = state_for(&m);
    let c = ctx(&m); // clock 5000, reset at clock 0 → TSC 5000
    assert_eq!(read(&s, &c, IA32_TSC, Initiator::Guest), Ok(5000));
    write(&mut s, &c, IA32_TSC, 7000, Initiator::Guest).expect("tsc");
    assert_eq!(read(&s, &c, IA32_TSC_ADJUST, Initiator::Guest), Ok(2000));
    write(&mut s, &c, IA32_TSC_ADJUST, 1000, Initiator::Guest).expect("adjust");
    assert_eq!(read(&s, &c, IA32_TSC, Initiator::Guest), Ok(6000));
    write(&mut s, &c, IA32_TSC, 100, Initiator::Host).expect("host");
    assert_eq!(read(&s, &c, IA32_TSC_ADJUST, Initiator::Guest), Ok(1000));
    assert_eq!(read(&s, &c, IA32_TSC, Initiator::Guest), Ok(100));
}

/// TSC_AUX: Intel reserves bits 63:32 (#GP), AMD ignores them.
#[test]
fn tsc_aux_upper_bits_by_vendor() {
    let intel = parse_model("max").expect("intel");
    let mut s = state_for(&intel);
    assert!(gwrite(&mut s, &intel, IA32_TSC_AUX, 1 << 32).is_err());
    let amd = preset("EPYC-Milan").expect("amd");
    let mut s = state_for(&amd);
    assert!(gwrite(&mut s, &amd, IA32_TSC_AUX, 1 << 32 | 5).is_ok());
    assert_eq!(gread(&s, &amd, IA32_TSC_AUX), Ok(5));
}

/// IA32_FEATURE_CONTROL: VMX bits only with VMX, locked means #GP (SDM Vol.
/// 3C 24.7); AMD has no such MSR.
#[test]
fn feature_control_lock() {
    let m = parse_model("max,+vmx").expect("model");
    let mut s = state_for(&m);
    assert!(gwrite(&mut s, &m, IA32_FEATURE_CONTROL, 1 << 2).is_ok());
    assert!(gwrite(&mut s, &m, IA32_FEATURE_CONTROL, 1 << 2 | 1).is_ok());
    assert_eq!(
        gwrite(&mut s, &m, IA32_FEATURE_CONTROL, 0),
        Err(MsrError::Invalid),
        "locked"
    );
    assert!(write(&mut s, &ctx(&m), IA32_FEATURE_CONTROL, 0, Initiator::Host).is_ok());
    let novmx = parse_model("max").expect("model");
    let mut s = state_for(&novmx);
    assert!(gwrite(&mut s, &novmx, IA32_FEATURE_CONTROL, 1 << 2).is_err());
    let amd = preset("EPYC-Milan").expect("amd");
    assert_eq!(
        gread(&state_for(&amd), &amd, IA32_FEATURE_CONTROL),
        Err(MsrError::Absent)
    );
}

/// VM_CR and VM_HSAVE_PA exist only with SVM (APM Vol. 2 15.30).
#[test]
fn svm_msrs() {
    let m = parse_model("max,+svm").expect("model");
    let mut s = state_for(&m);
    assert!(gwrite(&mut s, &m, AMD_VM_HSAVE_PA, 0x1000).is_ok());
    assert!(gwrite(&mut s, &m, AMD_VM_HSAVE_PA, 0x1001).is_err());
    assert!(gwrite(&mut s, &m, AMD_VM_HSAVE_PA, 1 << 50).is_err());
    assert!(gwrite(&mut s, &m, AMD_VM_CR, vm_cr::LOCK | vm_cr::SVMDIS).is_ok());
    assert!(gwrite(&mut s, &m, AMD_VM_CR, 0).is_err(), "locked SVMDIS");
    assert!(
        gwrite(&mut s, &m, IA32_EFER, efer::SVME).is_err(),
        "SVMDIS forbids SVME"
    );
    let q = parse_model("max").expect("model");
    assert_eq!(gread(&state_for(&q), &q, AMD_VM_CR), Err(MsrError::Absent));
}

/// For every preset (and its +vmx/+svm/+mpx variants), every MSR the host
/// reads can be written back by the host: a snapshot always restores.
#[test]
fn host_read_then_write_back_succeeds_for_every_preset() {
    for &name in PRESET_NAMES {
        for extra in [
            "",
            ",+vmx",
            ",+svm",
            ",+mpx,+vmx",
            ",vendor=AuthenticAMD,+svm",
        ] {
            let spec = format!("{name}{extra}");
            let m = parse_model(&spec).expect("model");
            let mut s = state_for(&m);
            let c = ctx(&m);
            for msr in saved_msrs(&m) {
                let v = read(&s, &c, msr, Initiator::Host)
                    .unwrap_or_else(|e| panic!("{spec}: host read of listed MSR {msr:#x}: {e}"));
                write(&mut s, &c, msr, v, Initiator::Host)
                    .unwrap_or_else(|e| panic!("{spec}: host write-back of {msr:#x}={v:#x}: {e}"));
                assert_eq!(read(&s, &c, msr, Initiator::Host), Ok(v), "{spec} {msr:#x}");
            }
        }
    }
}

/// Absent MSRs are #GP for the guest and an error for the host.
#[test]
fn absent_msrs() {
    let m = parse_model("qemu64").expect("model");
    let mut s = state_for(&m);
    for msr in [
        0x1234,
        IA32_TSC_DEADLINE,
        IA32_XSS,
        IA32_PKRS,
        IA32_VMX_BASIC,
        0xC000_1000,
    ] {
        assert_eq!(gread(&s, &m, msr), Err(MsrError::Absent), "{msr:#x}");
        assert_eq!(
            gwrite(&mut s, &m, msr, 0),
            Err(MsrError::Absent),
            "{msr:#x}"
        );
        assert!(write(&mut s, &ctx(&m), msr, 0, Initiator::Host).is_err());
    }
}
