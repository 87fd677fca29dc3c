//! The CPU model as KVM_SET_CPUID2, checked against what the host offers.
//!
//! The leaves come from the same [`CpuidTable`] the interpreter answers
//! CPUID from ([`CpuidTable::entries_for_apic_id`]: the static leaves with
//! the vCPU's APIC ID). The bits that follow vCPU state (OSXSAVE, OSPKE,
//! the APIC bit, XSAVE sizes) are left clear there; KVM maintains them
//! itself at run time, exactly as `CpuidTable::query` does for the
//! interpreter.
//!
//! Before the machine is built, [`fit_model`] compares every feature of the
//! model with KVM_GET_SUPPORTED_CPUID (and KVM_GET_EMULATED_CPUID, whose
//! features KVM emulates in software): a feature the host cannot provide
//! is an error naming it, or, when the caller allows it, is removed from
//! the model with a warning, so the machine, the MSR list and the
//! interpreter all see the reduced model.

use kvm_bindings::{CpuId, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, kvm_cpuid_entry2};

use super::KvmError;
use super::caps::{KvmCaps, find_entry};
use crate::model::cpuid::CpuidEntry;
use crate::model::features::{CpuidReg, FEATURES};
use crate::model::{CpuModel, Feature, Vendor};

fn reg(e: &kvm_cpuid_entry2, r: CpuidReg) -> u32 {
    match r {
        CpuidReg::Eax => e.eax,
        CpuidReg::Ebx => e.ebx,
        CpuidReg::Ecx => e.ecx,
        CpuidReg::Edx => e.edx,
    }
}

/// Can the host give a guest feature `f` (natively or by KVM's emulation)?
pub fn host_has(caps: &KvmCaps, f: Feature) -> bool {
    let c = f.info().cpuid;
    let in_list = |list: &[kvm_cpuid_entry2]| {
        find_entry(list, c.leaf, c.subleaf).is_some_and(|e| reg(e, c.reg) & (1 << c.bit) != 0)
    };
    in_list(&caps.supported_cpuid) || in_list(&caps.emulated_cpuid)
}

/// The host's MAXPHYADDR (CPUID.80000008:EAX[7:0] of the supported list).
pub fn host_phys_bits(caps: &KvmCaps) -> Option<u8> {
    caps.supported(0x8000_0008, 0)
        .map(|e| (e.eax & 0xFF) as u8)
        .filter(|&b| b > 0)
}

/// The host CPU's vendor (CPUID.0 of the supported list).
pub fn host_vendor(caps: &KvmCaps) -> Option<Vendor> {
    let e = caps.supported(0, 0)?;
    let mut s = Vec::with_capacity(12);
    for w in [e.ebx, e.edx, e.ecx] {
        s.extend_from_slice(&w.to_le_bytes());
    }
    Vendor::from_id_string(std::str::from_utf8(&s).ok()?)
}

/// How [`fit_model`] treats features the host lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// Refuse the model, naming the features.
    Error,
    /// Remove them from the model and report them as warnings.
    Drop,
}

/// The model restricted to what the host can run, and what was changed.
#[derive(Clone, Debug)]
pub struct FittedModel {
    pub model: CpuModel,
    /// One line per change (dropped features, reduced address width).
    pub warnings: Vec<String>,
}

/// Checks `model` against the host. Features the host cannot provide (and
/// a physical-address width above the host's) are an error naming them,
/// or are dropped with warnings under [`Unsupported::Drop`].
pub fn fit_model(
    mut model: CpuModel,
    caps: &KvmCaps,
    policy: Unsupported,
) -> Result<FittedModel, KvmError> {
    let missing: Vec<Feature> = model
        .features
        .iter()
        .filter(|&f| !host_has(caps, f))
        .collect();
    let phys = host_phys_bits(caps).filter(|&h| model.phys_bits > h);
    let mut warnings = Vec::new();
    if policy == Unsupported::Error && (!missing.is_empty() || phys.is_some()) {
        let mut what = Vec::new();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|f| f.name()).collect();
            what.push(format!("features {}", names.join(",")));
        }
        if let Some(h) = phys {
            what.push(format!("phys-bits={} (host has {h})", model.phys_bits));
        }
        return Err(KvmError(format!(
            "CPU model `{}`: this host's KVM cannot provide {} (use --kvm-drop-unsupported to drop them)",
            model.name,
            what.join(" and ")
        )));
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|f| f.name()).collect();
        warnings.push(format!(
            "CPU model `{}`: dropped features the host's KVM cannot provide: {}",
            model.name,
            names.join(",")
        ));
        for f in missing {
            model.features.remove(f);
        }
    }
    if let Some(h) = phys {
        warnings.push(format!(
            "CPU model `{}`: phys-bits reduced from {} to the host's {h}",
            model.name, model.phys_bits
        ));
        model.phys_bits = h;
    }
    Ok(FittedModel { model, warnings })
}

/// The model as the KVM backend runs it: as QEMU does with KVM, the vendor
/// becomes the host's unless `spec` (the `--cpu` string) names one; then
/// [`fit_model`].
pub fn model_for_host(
    spec: &str,
    mut model: CpuModel,
    caps: &KvmCaps,
    policy: Unsupported,
) -> Result<FittedModel, KvmError> {
    if !spec.contains("vendor=")
        && let Some(v) = host_vendor(caps)
    {
        model.vendor = v;
    }
    fit_model(model, caps, policy)
}

/// Every feature name the host's KVM can provide (for `nestor kvm-info`).
pub fn host_feature_names(caps: &KvmCaps) -> Vec<&'static str> {
    FEATURES
        .iter()
        .filter(|f| host_has(caps, f.feature))
        .map(|f| f.name)
        .collect()
}

/// One CPUID entry in KVM's form.
fn to_kvm_entry(e: &CpuidEntry) -> kvm_cpuid_entry2 {
    kvm_cpuid_entry2 {
        function: e.leaf,
        index: e.subleaf,
        flags: if e.indexed {
            KVM_CPUID_FLAG_SIGNIFCANT_INDEX
        } else {
            0
        },
        eax: e.eax,
        ebx: e.ebx,
        ecx: e.ecx,
        edx: e.edx,
        ..Default::default()
    }
}

/// nestor's CPUID entries in KVM's form.
pub fn to_kvm_cpuid(entries: &[CpuidEntry]) -> Result<CpuId, KvmError> {
    let list: Vec<kvm_cpuid_entry2> = entries.iter().map(to_kvm_entry).collect();
    CpuId::from_entries(&list)
        .map_err(|e| KvmError(format!("CPUID table of {} entries: {e:?}", list.len())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::preset;

    /// A fake host that supports exactly the features of `qemu64` minus SVM
    /// (nothing here touches /dev/kvm).
    fn fake_host() -> KvmCaps {
        let m = preset("qemu64").expect("qemu64");
        let t =
            crate::model::cpuid::CpuidTable::build(&m, crate::model::cpuid::Topology { cpus: 1 });
        let mut c = KvmCaps::default();
        for e in t.entries() {
            let mut k = to_kvm_entry(e);
            if e.leaf == 0x8000_0001 {
                k.ecx &= !(1 << 2); // no SVM
            }
            if e.leaf == 0x8000_0008 {
                k.eax = (k.eax & !0xFF) | 39;
            }
            c.supported_cpuid.push(k);
        }
        c
    }

    #[test]
    fn unsupported_feature_is_an_error_naming_it() {
        let caps = fake_host();
        let m = preset("qemu64").expect("qemu64");
        let e = fit_model(m, &caps, Unsupported::Error).expect_err("svm is missing");
        assert!(e.0.contains("features svm"), "{e}");
        assert!(e.0.contains("phys-bits=40 (host has 39)"), "{e}");
        assert!(!e.0.contains('\n'));
    }

    #[test]
    fn drop_policy_removes_features_and_warns() {
        let caps = fake_host();
        let m = preset("qemu64").expect("qemu64");
        let f = fit_model(m, &caps, Unsupported::Drop).expect("fits");
        assert!(!f.model.has(Feature::Svm));
        assert!(f.model.has(Feature::Sse2));
        assert_eq!(f.model.phys_bits, 39);
        assert_eq!(f.warnings.len(), 2);
        // The reduced model now fits without dropping anything.
        let again = fit_model(f.model, &caps, Unsupported::Error).expect("fits");
        assert!(again.warnings.is_empty());
    }

    #[test]
    fn indexed_leaves_keep_their_subleaf_flag() {
        let m = preset("max").expect("max");
        let t =
            crate::model::cpuid::CpuidTable::build(&m, crate::model::cpuid::Topology { cpus: 2 });
        let entries = t.entries_for_apic_id(1);
        let k = to_kvm_cpuid(&entries).expect("fits in a CpuId");
        let k = k.as_slice();
        assert_eq!(k.len(), entries.len());
        let leaf1 = k.iter().find(|e| e.function == 1).expect("leaf 1");
        assert_eq!(leaf1.ebx >> 24, 1, "APIC ID in CPUID.1:EBX[31:24]");
        let leaf7 = k.iter().find(|e| e.function == 7).expect("leaf 7");
        assert_eq!(leaf7.flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
    }
}
