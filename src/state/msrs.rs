//! MSR values that are per-vCPU state. Which MSRs exist and which bits are
//! valid is decided by the MSR layer ([`crate::msr`]) from the CPU model;
//! this is only storage. FS/GS bases live in the segment registers, EFER in
//! [`super::VcpuState::efer`], the TSC deadline in the local APIC state.

use serde::{Deserialize, Serialize};

use crate::model::vmx_caps::VmxCapabilities;

/// Number of machine-check banks nestor models (as QEMU's default).
pub const MC_BANKS: usize = 10;
/// Number of variable-range MTRR pairs (IA32_MTRRCAP.VCNT).
pub const MTRR_VAR_COUNT: usize = 8;
/// Number of fixed-range MTRR MSRs (one 64K, two 16K, eight 4K).
pub const MTRR_FIXED_COUNT: usize = 11;

/// PAT after RESET (SDM Vol. 3A 13.12.4, Table 13-12 "Memory Type Setting
/// of PAT Entries Following a Power-up or Reset").
pub const PAT_RESET: u64 = 0x0007_0406_0007_0406;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McBank {
    pub ctl: u64,
    pub status: u64,
    pub addr: u64,
    pub misc: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableMtrr {
    pub base: u64,
    pub mask: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsrState {
    /// Guest TSC = virtual clock + `tsc_offset` (wrapping).
    pub tsc_offset: u64,
    pub tsc_adjust: u64,
    pub tsc_aux: u64,
    pub apic_base: u64,
    pub kernel_gs_base: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
    pub star: u64,
    pub lstar: u64,
    pub cstar: u64,
    pub fmask: u64,
    pub pat: u64,
    pub mtrr_def_type: u64,
    pub mtrr_fixed: [u64; MTRR_FIXED_COUNT],
    pub mtrr_var: [VariableMtrr; MTRR_VAR_COUNT],
    pub misc_enable: u64,
    pub mcg_status: u64,
    pub mcg_ctl: u64,
    pub mc_banks: [McBank; MC_BANKS],
    pub feature_control: u64,
    pub spec_ctrl: u64,
    pub virt_spec_ctrl: u64,
    pub debugctl: u64,
    pub bndcfgs: u64,
    pub xss: u64,
    pub pkrs: u64,
    /// SMBASE (not an MSR on Intel, but processor state that RESET sets).
    pub smbase: u64,
    /// The VMX capability MSRs as reported to this vCPU: the model's values,
    /// possibly restricted by a host-initiated restore.
    pub vmx: VmxCapabilities,
}
