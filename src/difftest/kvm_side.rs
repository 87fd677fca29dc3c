//! The KVM half of the lockstep: one VM and one vCPU reused for every
//! sequence and step.
//!
//! The first sequence goes through `KvmVcpu::import_state` (the whole
//! `VcpuState`, as a handoff does); later ones only change what a sequence
//! changes — the segment/system registers (KVM_SET_SREGS) per sequence,
//! general registers, RIP and RFLAGS (KVM_SET_REGS) per step — through the same
//! `kvm::convert` functions, which keeps 100,000 sequences to minutes.

use std::sync::Arc;

use kvm_ioctls::VcpuExit;

use super::sandbox::{RAM, Sandbox};
use crate::kvm::caps::{self, KvmCaps};
use crate::kvm::convert;
use crate::kvm::cpuid::{Unsupported, model_for_host};
use crate::kvm::vcpu::KvmVcpu;
use crate::kvm::vm::KvmVm;
use crate::machine::memory::GuestMemory;
use crate::model::CpuModel;
use crate::state::VcpuState;
use crate::vm::VmCpuModel;

/// How one KVM_RUN ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvmStep {
    /// An exception stub's `OUT port, AL` (the port is the vector).
    Port(u16),
    /// Anything else (internal error, shutdown, unexpected exit), described.
    Other(String),
}

/// The KVM side. Field order is drop order: the vCPU and the VM go before
/// the memory KVM maps.
pub struct KvmSide {
    vcpu: KvmVcpu,
    _vm: KvmVm,
    pub mem: GuestMemory,
    imported: bool,
    /// The model as KVM runs it (CPUID restricted to the host's).
    pub model: CpuModel,
    /// One line per capability the VM runs without.
    pub warnings: Vec<String>,
}

fn err(what: &str) -> impl Fn(kvm_ioctls::Error) -> String + '_ {
    move |e| format!("{what} failed: {e}")
}

impl KvmSide {
    /// Opens /dev/kvm and builds the VM for `model` (`spec` is the `--cpu`
    /// string) fitted to the host as `--accel kvm` does with
    /// `--kvm-drop-unsupported`, with the sandbox's fixed pages in place.
    pub fn new(spec: &str, model: CpuModel) -> Result<KvmSide, String> {
        let kvm = caps::open().map_err(|e| e.0)?;
        let caps = KvmCaps::probe(&kvm).map_err(|e| e.0)?;
        caps.require_for_run().map_err(|e| e.0)?;
        let fitted = model_for_host(spec, model, &caps, Unsupported::Drop).map_err(|e| e.0)?;
        let model = fitted.model;
        let mut vm = KvmVm::new(
            kvm,
            Arc::new(caps),
            Arc::new(VmCpuModel::new(model.clone(), 1)),
        )
        .map_err(|e| e.0)?;
        let mut mem = GuestMemory::new(RAM).map_err(|e| e.0)?;
        Sandbox::write_fixed(&mem)?;
        // SAFETY: `mem` moves into the KvmSide with the VM and is declared
        // after it, so it is dropped after the VM; its mapping never moves.
        unsafe { vm.map_memory(&mut mem) }.map_err(|e| e.0)?;
        let vcpu = vm.create_vcpu(0).map_err(|e| e.0)?;
        let mut warnings = fitted.warnings;
        warnings.extend(vm.warnings.iter().cloned());
        Ok(KvmSide {
            vcpu,
            _vm: vm,
            mem,
            imported: false,
            model,
            warnings,
        })
    }

    /// Loads the initial state of a sequence: all of it the first time,
    /// then the segment and system registers (the privilege level changes
    /// between sequences; nothing else outside the general registers does).
    pub fn load_system(&mut self, s: &VcpuState) -> Result<(), String> {
        if !self.imported {
            self.vcpu.import_state(s, 0).map_err(|e| e.0)?;
            self.imported = true;
            return Ok(());
        }
        self.vcpu
            .fd
            .set_sregs(&convert::sregs_to_kvm(s))
            .map_err(err("KVM_SET_SREGS"))
    }

    /// Runs until the next port exit (or whatever else stops the vCPU).
    pub fn step(&mut self) -> Result<KvmStep, String> {
        match self.vcpu.fd.run() {
            Ok(VcpuExit::IoOut(port, _)) => Ok(KvmStep::Port(port)),
            Ok(VcpuExit::InternalError) => {
                let why = crate::kvm::vcpu::internal_error(&mut self.vcpu);
                Ok(KvmStep::Other(format!("KVM internal error: {why}")))
            }
            Ok(VcpuExit::Shutdown) => Ok(KvmStep::Other("shutdown (triple fault)".into())),
            Ok(e) => Ok(KvmStep::Other(format!("unexpected exit {e:?}"))),
            Err(e) => Err(format!("KVM_RUN failed: {e}")),
        }
    }

    /// Completes a pending port exit (KVM advances RIP past the OUT on
    /// the next KVM_RUN) without running guest code.
    pub fn complete_exit(&mut self) -> Result<(), String> {
        self.vcpu.fd.set_kvm_immediate_exit(1);
        let r = match self.vcpu.fd.run() {
            Err(e) if e.errno() == libc::EINTR => Ok(()),
            Err(e) => Err(format!("KVM_RUN (completing a port exit) failed: {e}")),
            Ok(e) => Err(format!("KVM_RUN with immediate_exit ran: {e:?}")),
        };
        self.vcpu.fd.set_kvm_immediate_exit(0);
        r
    }

    /// General registers, RIP and RFLAGS now.
    pub fn regs(&self, s: &mut VcpuState) -> Result<(), String> {
        let r = self.vcpu.fd.get_regs().map_err(err("KVM_GET_REGS"))?;
        convert::regs_from_kvm(s, &r);
        Ok(())
    }

    /// CR2 (after a #PF).
    pub fn cr2(&self) -> Result<u64, String> {
        let s = self.vcpu.fd.get_sregs().map_err(err("KVM_GET_SREGS"))?;
        Ok(s.cr2)
    }

    /// Sets general registers, RIP and RFLAGS.
    pub fn set_regs(&self, s: &VcpuState) -> Result<(), String> {
        self.vcpu
            .fd
            .set_regs(&convert::regs_to_kvm(s))
            .map_err(err("KVM_SET_REGS"))
    }
}
