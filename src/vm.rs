//! The VM-wide CPU model: one model per VM, shared by every vCPU, frozen
//! once any vCPU has run.
//!
//! MAXPHYADDR, paging features and reserved-bit rules are baked into cached
//! translations and decoded instructions, and a guest reads CPUID once and
//! trusts it; changing the model under a running vCPU is refused (KVM learned
//! this the hard way, and now rejects KVM_SET_CPUID2 after KVM_RUN).

use crate::model::CpuModel;
use crate::model::cpuid::{CpuidDynamic, CpuidTable, Topology};
use crate::state::VcpuState;
use crate::state::reset::{CachesInvalidated, ResetParams};

/// Why a model change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelChangeError {
    /// A vCPU has already executed with the current model.
    Frozen,
}

impl std::fmt::Display for ModelChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelChangeError::Frozen => {
                f.write_str("the CPU model cannot change after a vCPU has run")
            }
        }
    }
}

impl std::error::Error for ModelChangeError {}

/// The CPU model and CPUID leaves of one VM.
#[derive(Clone, Debug)]
pub struct VmCpuModel {
    model: CpuModel,
    topology: Topology,
    cpuid: CpuidTable,
    frozen: bool,
}

impl VmCpuModel {
    pub fn new(model: CpuModel, cpus: u32) -> Self {
        let topology = Topology { cpus: cpus.max(1) };
        let cpuid = CpuidTable::build(&model, topology);
        VmCpuModel {
            model,
            topology,
            cpuid,
            frozen: false,
        }
    }

    pub fn model(&self) -> &CpuModel {
        &self.model
    }

    pub fn cpus(&self) -> u32 {
        self.topology.cpus
    }

    pub fn cpuid(&self) -> &CpuidTable {
        &self.cpuid
    }

    /// Replaces the model; refused once [`freeze`](Self::freeze) was called.
    pub fn set_model(&mut self, model: CpuModel) -> Result<(), ModelChangeError> {
        if self.frozen {
            return Err(ModelChangeError::Frozen);
        }
        self.cpuid = CpuidTable::build(&model, self.topology);
        self.model = model;
        Ok(())
    }

    /// Called by a backend before a vCPU executes its first instruction.
    pub fn freeze(&mut self) {
        self.frozen = true;
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The RESET state of vCPU `index` (vCPU 0 is the bootstrap processor;
    /// APIC ID = index).
    pub fn reset_vcpu(&self, index: u32, clock_tsc: u64) -> (VcpuState, CachesInvalidated) {
        VcpuState::reset(
            &self.model,
            ResetParams {
                apic_id: index,
                is_bsp: index == 0,
                clock_tsc,
            },
        )
    }

    /// CPUID as executed by a vCPU in state `s`.
    pub fn cpuid_for(&self, s: &VcpuState, leaf: u32, subleaf: u32) -> [u32; 4] {
        use crate::state::cr4;
        let d = CpuidDynamic {
            apic_id: s.apic.id,
            osxsave: s.cr.cr4 & cr4::OSXSAVE != 0,
            ospke: s.cr.cr4 & cr4::PKE != 0,
            apic_enabled: s.msrs.apic_base & crate::apic::base::EN != 0,
            xcr0: s.xcr0,
            xss: s.msrs.xss,
            misc_enable: s.msrs.misc_enable,
        };
        self.cpuid.query(leaf, subleaf, &d)
    }
}
