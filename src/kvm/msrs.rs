//! The model's MSRs through KVM_GET/SET_MSRS, with every value passing
//! through nestor's MSR layer as a host-initiated access, so the rules
//! about which MSRs exist and which values are valid stay in `msr/`.
//!
//! The list is [`msr::saved_msrs`] (TSC before TSC_DEADLINE) minus what
//! travels in KVM_SET_SREGS (EFER, FS/GS base, APIC base). An MSR KVM
//! does not support (neither in KVM_GET_MSR_INDEX_LIST nor readable by a
//! probe KVM_GET_MSRS) is skipped with one warning per VM. The model's
//! read-only constants (microcode revision, MTRRCAP, MCG_CAP,
//! ARCH_CAPABILITIES) are offered to KVM on import where KVM lets the VMM
//! set them, and never read back: the model defines them.

use kvm_bindings::{Msrs, kvm_msr_entry};
use kvm_ioctls::VcpuFd;

use super::KvmError;
use super::caps::KvmCaps;
use crate::arch::msr_index::*;
use crate::model::CpuModel;
use crate::msr::{self, Initiator, MsrCtx};
use crate::state::VcpuState;

/// MSRs whose state KVM_SET_SREGS carries.
const IN_SREGS: [u32; 4] = [IA32_EFER, IA32_FS_BASE, IA32_GS_BASE, IA32_APIC_BASE];

/// Read-only MSRs whose value is a constant of the model.
const MODEL_CONSTANTS: [u32; 4] = [
    IA32_BIOS_SIGN_ID,
    IA32_MTRRCAP,
    IA32_MCG_CAP,
    IA32_ARCH_CAPABILITIES,
];

/// Which MSRs move between nestor and KVM for one CPU model on one host.
#[derive(Clone, Debug, Default)]
pub struct MsrPlan {
    /// Transferred both ways, in save/restore order.
    pub transfer: Vec<u32>,
    /// Model constants written on import only.
    pub constants: Vec<u32>,
    /// MSRs of the model this host's KVM does not support.
    pub unsupported: Vec<u32>,
}

fn entries(list: &[(u32, u64)]) -> Result<Msrs, KvmError> {
    let e: Vec<kvm_msr_entry> = list
        .iter()
        .map(|&(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect();
    Msrs::from_entries(&e).map_err(|e| KvmError(format!("MSR list: {e:?}")))
}

/// Reads one MSR from KVM (None if KVM refuses it).
pub fn get_one(vcpu: &VcpuFd, index: u32) -> Option<u64> {
    let mut m = entries(&[(index, 0)]).ok()?;
    match vcpu.get_msrs(&mut m) {
        Ok(1) => m.as_slice().first().map(|e| e.data),
        _ => None,
    }
}

impl MsrPlan {
    /// Sorts the model's MSRs by what KVM can do with them, probing the
    /// ones missing from the index list on `vcpu`.
    pub fn probe(model: &CpuModel, caps: &KvmCaps, vcpu: &VcpuFd) -> MsrPlan {
        let mut plan = MsrPlan::default();
        for m in msr::saved_msrs(model) {
            if IN_SREGS.contains(&m) {
                continue;
            }
            let known = caps.msr_index_list.contains(&m)
                || caps.feature_msrs.contains(&m)
                || get_one(vcpu, m).is_some();
            if !known {
                plan.unsupported.push(m);
            } else if MODEL_CONSTANTS.contains(&m) {
                plan.constants.push(m);
            } else {
                plan.transfer.push(m);
            }
        }
        plan
    }

    /// One line naming the skipped MSRs, if any.
    pub fn warning(&self) -> Option<String> {
        (!self.unsupported.is_empty()).then(|| {
            let v: Vec<String> = self.unsupported.iter().map(|m| format!("{m:#x}")).collect();
            format!(
                "KVM does not support MSR{} {} of the CPU model: not transferred",
                if v.len() == 1 { "" } else { "s" },
                v.join(", ")
            )
        })
    }
}

/// Sets `list` with KVM_SET_MSRS, which stops at the first MSR it refuses:
/// returns the refused ones and carries on after each.
fn set_all(vcpu: &VcpuFd, list: &[(u32, u64)]) -> Result<Vec<(u32, u64)>, KvmError> {
    let mut refused = Vec::new();
    let mut rest = list;
    while !rest.is_empty() {
        let n = vcpu
            .set_msrs(&entries(rest)?)
            .map_err(|e| KvmError(format!("KVM_SET_MSRS failed: {e}")))?;
        if n >= rest.len() {
            break;
        }
        refused.push(rest[n]);
        rest = &rest[n + 1..];
    }
    Ok(refused)
}

/// Writes the model's MSR values of `s` into KVM. Returns the MSRs KVM
/// refused (index, value).
pub fn import(
    vcpu: &VcpuFd,
    plan: &MsrPlan,
    s: &VcpuState,
    ctx: &MsrCtx,
) -> Result<Vec<(u32, u64)>, KvmError> {
    let list: Vec<(u32, u64)> = plan
        .constants
        .iter()
        .chain(&plan.transfer)
        .filter_map(|&m| msr::read(s, ctx, m, Initiator::Host).ok().map(|v| (m, v)))
        .collect();
    let refused = set_all(vcpu, &list)?;
    // Constants KVM keeps its own value for are expected; report only
    // refused state.
    Ok(refused
        .into_iter()
        .filter(|(m, _)| !plan.constants.contains(m))
        .collect())
}

/// Reads KVM's MSR values into `s` through the MSR layer. Returns one
/// line per value the model refuses (the old value is kept).
pub fn export(
    vcpu: &VcpuFd,
    plan: &MsrPlan,
    s: &mut VcpuState,
    ctx: &MsrCtx,
) -> Result<Vec<String>, KvmError> {
    let mut warnings = Vec::new();
    let mut values = Vec::with_capacity(plan.transfer.len());
    let mut rest: &[u32] = &plan.transfer;
    while !rest.is_empty() {
        let list: Vec<(u32, u64)> = rest.iter().map(|&m| (m, 0)).collect();
        let mut m = entries(&list)?;
        let n = vcpu
            .get_msrs(&mut m)
            .map_err(|e| KvmError(format!("KVM_GET_MSRS failed: {e}")))?;
        values.extend(m.as_slice()[..n].iter().map(|e| (e.index, e.data)));
        if n >= rest.len() {
            break;
        }
        warnings.push(format!("KVM_GET_MSRS refused MSR {:#x}", rest[n]));
        rest = &rest[n + 1..];
    }
    for (m, v) in values {
        if let Err(e) = msr::write(s, ctx, m, v, Initiator::Host) {
            let old = msr::read(s, ctx, m, Initiator::Host).unwrap_or(0);
            warnings.push(format!(
                "MSR {m:#x}: KVM's value {v:#x} refused by the model ({e}); kept {old:#x}"
            ));
        }
    }
    Ok(warnings)
}
