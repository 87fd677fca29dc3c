//! VMX capability MSRs derived from the CPU model (SDM Vol. 3C Appendix A)
//! and their host-initiated restore rules.

use nestor::arch::msr_index::*;
use nestor::arch::vmx::{entry, exit};
use nestor::model::parse::parse_model;
use nestor::model::vmx_caps::{CapRestoreError, VmxCapabilities};
use nestor::msr::{self, Initiator, MsrCtx, MsrError};
use nestor::state::VcpuState;
use nestor::vm::{ModelChangeError, VmCpuModel};

fn setup(spec: &str) -> (VmCpuModel, VcpuState) {
    let vm = VmCpuModel::new(parse_model(spec).expect("model"), 1);
    let (s, _) = vm.reset_vcpu(0, 0);
    (vm, s)
}

fn host_read(vm: &VmCpuModel, s: &VcpuState, idx: u32) -> Result<u64, MsrError> {
    let ctx = MsrCtx {
        model: vm.model(),
        clock_tsc: 0,
        apic_now: 0,
    };
    msr::read(s, &ctx, idx, Initiator::Host)
}

fn host_write(vm: &VmCpuModel, s: &mut VcpuState, idx: u32, v: u64) -> Result<(), MsrError> {
    let ctx = MsrCtx {
        model: vm.model(),
        clock_tsc: 0,
        apic_now: 0,
    };
    msr::write(s, &ctx, idx, v, Initiator::Host).map(|_| ())
}

fn allowed1(v: u64) -> u32 {
    (v >> 32) as u32
}

/// SDM A.4/A.5: "clear IA32_BNDCFGS" (exit control bit 23) and "load
/// IA32_BNDCFGS" (entry control bit 16) are allowed-1 exactly with MPX, in
/// both the legacy and TRUE_ forms.
#[test]
fn bndcfgs_controls_follow_mpx() {
    for (spec, mpx) in [
        ("max,+vmx,+mpx", true),
        ("max,+vmx,-mpx", false),
        ("Icelake-Server", false),
    ] {
        let (vm, s) = setup(spec);
        for idx in [IA32_VMX_EXIT_CTLS, IA32_VMX_TRUE_EXIT_CTLS] {
            let v = host_read(&vm, &s, idx).expect("exit ctls");
            assert_eq!(
                allowed1(v) & exit::CLEAR_BNDCFGS != 0,
                mpx,
                "{spec} {idx:#x}"
            );
        }
        for idx in [IA32_VMX_ENTRY_CTLS, IA32_VMX_TRUE_ENTRY_CTLS] {
            let v = host_read(&vm, &s, idx).expect("entry ctls");
            assert_eq!(
                allowed1(v) & entry::LOAD_BNDCFGS != 0,
                mpx,
                "{spec} {idx:#x}"
            );
        }
        assert_eq!(
            host_read(&vm, &s, IA32_BNDCFGS).is_ok(),
            mpx,
            "{spec}: BNDCFGS present"
        );
    }
}

/// No VMX in the model: no capability MSRs at all.
#[test]
fn no_vmx_no_capability_msrs() {
    let (vm, s) = setup("max");
    for idx in IA32_VMX_BASIC..=IA32_VMX_VMFUNC {
        assert_eq!(host_read(&vm, &s, idx), Err(MsrError::Absent), "{idx:#x}");
    }
}

/// SDM A.3–A.5: allowed-0 settings are a subset of allowed-1 settings, and
/// the legacy forms report the default1 bits as fixed to 1.
#[test]
fn control_msrs_are_consistent() {
    let (vm, s) = setup("max,+vmx");
    let pairs = [
        (IA32_VMX_PINBASED_CTLS, IA32_VMX_TRUE_PINBASED_CTLS, 0x16u32),
        (
            IA32_VMX_PROCBASED_CTLS,
            IA32_VMX_TRUE_PROCBASED_CTLS,
            0x0401_E172,
        ),
        (IA32_VMX_EXIT_CTLS, IA32_VMX_TRUE_EXIT_CTLS, 0x0003_6DFF),
        (IA32_VMX_ENTRY_CTLS, IA32_VMX_TRUE_ENTRY_CTLS, 0x0000_11FF),
    ];
    for (legacy, truef, default1) in pairs {
        let l = host_read(&vm, &s, legacy).expect("legacy");
        let t = host_read(&vm, &s, truef).expect("true");
        assert_eq!(
            l as u32 & !allowed1(l),
            0,
            "{legacy:#x}: allowed-0 ⊆ allowed-1"
        );
        assert_eq!(
            t as u32 & !allowed1(t),
            0,
            "{truef:#x}: allowed-0 ⊆ allowed-1"
        );
        assert_eq!(l as u32 & default1, default1, "{legacy:#x}: default1 bits");
        assert_eq!(
            t as u32 & !(l as u32),
            0,
            "{truef:#x}: TRUE allowed-0 ⊆ legacy"
        );
        assert_eq!(allowed1(l), allowed1(t));
    }
    let basic = host_read(&vm, &s, IA32_VMX_BASIC).expect("basic");
    assert_ne!(basic & (1 << 55), 0, "TRUE controls");
    assert_eq!((basic >> 32) & 0x1FFF, 4096);
    assert_eq!(host_read(&vm, &s, IA32_VMX_CR0_FIXED0), Ok(0x8000_0021));
    assert_eq!(host_read(&vm, &s, IA32_VMX_CR4_FIXED0), Ok(0x2000));
    // CR4.LA57 may be 1 in VMX operation only if the model has LA57.
    let fixed1 = host_read(&vm, &s, IA32_VMX_CR4_FIXED1).expect("fixed1");
    assert_ne!(fixed1 & (1 << 12), 0);
    let (vm2, s2) = setup("max,+vmx,-la57");
    assert_eq!(
        host_read(&vm2, &s2, IA32_VMX_CR4_FIXED1).expect("fixed1") & (1 << 12),
        0
    );
}

/// A host restore may restrict a capability (clear allowed-1 bits, set
/// allowed-0 bits) but never extend it; what a read returned is always
/// accepted back.
#[test]
fn capability_restore_subset_accepted_superset_refused() {
    let (vm, mut s) = setup("max,+vmx,-mpx");
    let caps = VmxCapabilities::from_model(vm.model());
    for idx in caps.msr_list() {
        let v = host_read(&vm, &s, idx).expect("read");
        host_write(&vm, &mut s, idx, v)
            .unwrap_or_else(|e| panic!("{idx:#x}: read-back refused: {e}"));
    }
    let ctl_msrs = [
        IA32_VMX_PINBASED_CTLS,
        IA32_VMX_PROCBASED_CTLS,
        IA32_VMX_EXIT_CTLS,
        IA32_VMX_ENTRY_CTLS,
        IA32_VMX_PROCBASED_CTLS2,
        IA32_VMX_TRUE_PINBASED_CTLS,
        IA32_VMX_TRUE_PROCBASED_CTLS,
        IA32_VMX_TRUE_EXIT_CTLS,
        IA32_VMX_TRUE_ENTRY_CTLS,
    ];
    for idx in ctl_msrs {
        let v = host_read(&vm, &s, idx).expect("read");
        let hi = allowed1(v);
        // Subset: clear the highest optional allowed-1 bit.
        let optional = hi & !(v as u32);
        let bit = 31 - optional.leading_zeros();
        let restricted = v & !(1u64 << (32 + bit));
        host_write(&vm, &mut s, idx, restricted)
            .unwrap_or_else(|e| panic!("{idx:#x}: subset: {e}"));
        assert_eq!(host_read(&vm, &s, idx), Ok(restricted), "{idx:#x}");
        // Requiring an optional control (allowed-0 bit set) is also a restriction.
        host_write(&vm, &mut s, idx, v | 1u64 << bit)
            .unwrap_or_else(|e| panic!("{idx:#x}: must-be-1: {e}"));
        // Superset: an allowed-1 bit the model does not offer.
        let missing = !hi;
        if missing != 0 {
            let bit = missing.trailing_zeros();
            assert_eq!(
                host_write(&vm, &mut s, idx, v | 1u64 << (32 + bit)),
                Err(MsrError::Invalid),
                "{idx:#x} bit {bit}"
            );
        }
        // Superset: dropping a must-be-1 (allowed-0) bit.
        let must = v as u32;
        if must != 0 {
            let bit = must.trailing_zeros();
            assert_eq!(
                host_write(&vm, &mut s, idx, v & !(1u64 << bit)),
                Err(MsrError::Invalid),
                "{idx:#x}"
            );
        }
        host_write(&vm, &mut s, idx, v).expect("restore original");
    }
    // The BNDCFGS controls cannot be enabled by a restore on a model without MPX.
    let e = host_read(&vm, &s, IA32_VMX_TRUE_EXIT_CTLS).expect("read");
    assert!(
        host_write(
            &vm,
            &mut s,
            IA32_VMX_TRUE_EXIT_CTLS,
            e | u64::from(exit::CLEAR_BNDCFGS) << 32
        )
        .is_err()
    );
    // Other MSRs.
    let model_caps = caps;
    let mut c = model_caps;
    let r = |c: &mut VmxCapabilities, idx, v| c.restore(&model_caps, idx, v);
    assert_eq!(
        r(
            &mut c,
            IA32_VMX_EPT_VPID_CAP,
            model_caps.ept_vpid_cap & !(1 << 17)
        ),
        Ok(())
    );
    assert_eq!(
        r(
            &mut c,
            IA32_VMX_EPT_VPID_CAP,
            model_caps.ept_vpid_cap | 1 << 22
        ),
        Err(CapRestoreError::ExceedsModel)
    );
    assert_eq!(
        r(&mut c, IA32_VMX_CR0_FIXED0, 0x8000_0023),
        Ok(()),
        "more must-be-1 bits"
    );
    assert_eq!(
        r(&mut c, IA32_VMX_CR0_FIXED0, 0x8000_0001),
        Err(CapRestoreError::ExceedsModel)
    );
    assert_eq!(
        r(
            &mut c,
            IA32_VMX_CR4_FIXED1,
            model_caps.cr4_fixed1 & !(1 << 12)
        ),
        Ok(())
    );
    assert_eq!(
        r(&mut c, IA32_VMX_CR4_FIXED1, model_caps.cr4_fixed1 | 1 << 30),
        Err(CapRestoreError::ExceedsModel)
    );
    assert_eq!(
        r(&mut c, IA32_VMX_BASIC, model_caps.basic & !(1 << 54)),
        Ok(()),
        "drop INS/OUTS info"
    );
    assert_eq!(
        r(&mut c, IA32_VMX_BASIC, model_caps.basic | 1 << 49),
        Err(CapRestoreError::ExceedsModel)
    );
    assert_eq!(
        r(&mut c, IA32_VMX_BASIC, model_caps.basic ^ 1),
        Err(CapRestoreError::Invalid),
        "revision"
    );
    assert_eq!(
        r(&mut c, IA32_VMX_MISC, model_caps.misc & !(1 << 7)),
        Ok(())
    );
    assert_eq!(
        r(&mut c, IA32_VMX_MISC, model_caps.misc | 1 << 15),
        Err(CapRestoreError::ExceedsModel)
    );
    assert_eq!(
        r(&mut c, IA32_VMX_MISC, model_caps.misc ^ 1),
        Err(CapRestoreError::Invalid),
        "timer rate"
    );
    assert_eq!(r(&mut c, IA32_VMX_VMFUNC, 0), Ok(()));
    assert_eq!(
        r(&mut c, IA32_VMX_VMFUNC, 3),
        Err(CapRestoreError::ExceedsModel)
    );
}

/// The guest can never write a capability MSR (they are read-only, SDM A.1).
#[test]
fn guest_cannot_write_capability_msrs() {
    let (vm, mut s) = setup("max,+vmx");
    let ctx = MsrCtx {
        model: vm.model(),
        clock_tsc: 0,
        apic_now: 0,
    };
    for idx in VmxCapabilities::from_model(vm.model()).msr_list() {
        let v = msr::read(&s, &ctx, idx, Initiator::Guest).expect("guest read");
        assert_eq!(
            msr::write(&mut s, &ctx, idx, v, Initiator::Guest),
            Err(MsrError::Invalid)
        );
    }
}

/// One model per VM, frozen once a vCPU has run.
#[test]
fn cpu_model_change_after_first_run_is_refused() {
    let mut vm = VmCpuModel::new(parse_model("max").expect("max"), 2);
    assert!(
        vm.set_model(parse_model("max,+vmx").expect("vmx")).is_ok(),
        "before running"
    );
    vm.freeze();
    let e = vm.set_model(parse_model("qemu64").expect("qemu64"));
    assert_eq!(e, Err(ModelChangeError::Frozen));
    assert!(
        vm.model().has(nestor::model::Feature::Vmx),
        "model unchanged"
    );
}
