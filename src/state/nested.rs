//! Nested-virtualization state: what VMX (Intel) and SVM (AMD) keep inside
//! the processor between instructions. VMCS/VMCB contents live in guest
//! memory; only the pointers and mode bits are processor state.

use serde::{Deserialize, Serialize};

/// The "no current VMCS" pointer value (SDM Vol. 3C 25.1, VMPTRST stores it).
pub const NO_VMCS: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmxState {
    /// In VMX operation (after VMXON, before VMXOFF).
    pub vmxon: bool,
    /// Physical address of the VMXON region.
    pub vmxon_ptr: u64,
    /// Current-VMCS pointer, [`NO_VMCS`] if none.
    pub current_vmcs: u64,
    /// VMX non-root operation (running an L2 guest).
    pub non_root: bool,
}

impl Default for VmxState {
    fn default() -> Self {
        VmxState {
            vmxon: false,
            vmxon_ptr: 0,
            current_vmcs: NO_VMCS,
            non_root: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SvmState {
    /// Global interrupt flag (APM Vol. 2 15.17); set after RESET.
    pub gif: bool,
    /// VM_CR MSR (C001_0114h).
    pub vm_cr: u64,
    /// VM_HSAVE_PA MSR (C001_0117h).
    pub hsave_pa: u64,
    /// Physical address of the VMCB of the guest being run, valid when `guest_mode`.
    pub current_vmcb: u64,
    /// Running an L2 guest (between VMRUN and #VMEXIT).
    pub guest_mode: bool,
}

impl Default for SvmState {
    fn default() -> Self {
        SvmState {
            gif: true,
            vm_cr: 0,
            hsave_pa: 0,
            current_vmcb: 0,
            guest_mode: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedState {
    pub vmx: VmxState,
    pub svm: SvmState,
}
