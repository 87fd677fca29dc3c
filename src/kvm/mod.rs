//! The KVM backend: the same machine (loader, devices, CPU model, vCPU
//! state) run on /dev/kvm through rust-vmm's `kvm-ioctls`.
//!
//! - [`caps`]: what the host's KVM offers, probed once, with clear errors;
//! - [`cpuid`]: the CPU model → KVM_SET_CPUID2, checked against
//!   KVM_GET_SUPPORTED_CPUID;
//! - [`convert`], [`lapic`], [`msrs`]: `VcpuState` ↔ KVM's structures, both
//!   ways (`KvmVcpu::import_state` / `export_state`);
//! - [`vcpu`]: one KVM vCPU with its state transfer;
//! - [`run`]: the run loop (a thread per vCPU, the board behind a lock).

pub mod caps;
pub mod convert;
pub mod cpuid;
pub mod handoff;
pub mod irq;
pub mod kick;
pub mod lapic;
pub mod msrs;
pub mod run;
pub mod vcpu;
pub mod vm;

/// A KVM problem, as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvmError(pub String);

impl std::fmt::Display for KvmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KvmError {}
