//! VMX control-field bits and capability-MSR layouts (SDM Vol. 3C, Chapter
//! 25 "Virtual Machine Control Structures" and Appendix A "VMX Capability
//! Reporting Facility").

/// Pin-based VM-execution controls (SDM Vol. 3C Table 25-5).
pub mod pin {
    pub const EXT_INTR_EXITING: u32 = 1 << 0;
    pub const NMI_EXITING: u32 = 1 << 3;
    pub const VIRTUAL_NMIS: u32 = 1 << 5;
    pub const PREEMPTION_TIMER: u32 = 1 << 6;
    pub const POSTED_INTERRUPTS: u32 = 1 << 7;
    /// Bits reported as default1 (SDM A.3.1): 1, 2 and 4.
    pub const DEFAULT1: u32 = 0x0000_0016;
}

/// Primary processor-based VM-execution controls (SDM Vol. 3C Table 25-6).
pub mod proc {
    pub const INTR_WINDOW_EXITING: u32 = 1 << 2;
    pub const USE_TSC_OFFSETTING: u32 = 1 << 3;
    pub const HLT_EXITING: u32 = 1 << 7;
    pub const INVLPG_EXITING: u32 = 1 << 9;
    pub const MWAIT_EXITING: u32 = 1 << 10;
    pub const RDPMC_EXITING: u32 = 1 << 11;
    pub const RDTSC_EXITING: u32 = 1 << 12;
    pub const CR3_LOAD_EXITING: u32 = 1 << 15;
    pub const CR3_STORE_EXITING: u32 = 1 << 16;
    pub const ACTIVATE_TERTIARY: u32 = 1 << 17;
    pub const CR8_LOAD_EXITING: u32 = 1 << 19;
    pub const CR8_STORE_EXITING: u32 = 1 << 20;
    pub const USE_TPR_SHADOW: u32 = 1 << 21;
    pub const NMI_WINDOW_EXITING: u32 = 1 << 22;
    pub const MOV_DR_EXITING: u32 = 1 << 23;
    pub const UNCOND_IO_EXITING: u32 = 1 << 24;
    pub const USE_IO_BITMAPS: u32 = 1 << 25;
    pub const MONITOR_TRAP_FLAG: u32 = 1 << 27;
    pub const USE_MSR_BITMAPS: u32 = 1 << 28;
    pub const MONITOR_EXITING: u32 = 1 << 29;
    pub const PAUSE_EXITING: u32 = 1 << 30;
    pub const ACTIVATE_SECONDARY: u32 = 1 << 31;
    /// Default1 bits of IA32_VMX_PROCBASED_CTLS (SDM A.3.2): 1, 4–6, 8, 13–16, 26.
    pub const DEFAULT1: u32 = 0x0401_E172;
}

/// Secondary processor-based VM-execution controls (SDM Vol. 3C Table 25-7).
pub mod proc2 {
    pub const VIRT_APIC_ACCESSES: u32 = 1 << 0;
    pub const ENABLE_EPT: u32 = 1 << 1;
    pub const DESC_TABLE_EXITING: u32 = 1 << 2;
    pub const ENABLE_RDTSCP: u32 = 1 << 3;
    pub const VIRT_X2APIC_MODE: u32 = 1 << 4;
    pub const ENABLE_VPID: u32 = 1 << 5;
    pub const WBINVD_EXITING: u32 = 1 << 6;
    pub const UNRESTRICTED_GUEST: u32 = 1 << 7;
    pub const APIC_REGISTER_VIRT: u32 = 1 << 8;
    pub const VIRT_INTR_DELIVERY: u32 = 1 << 9;
    pub const PAUSE_LOOP_EXITING: u32 = 1 << 10;
    pub const RDRAND_EXITING: u32 = 1 << 11;
    pub const ENABLE_INVPCID: u32 = 1 << 12;
    pub const ENABLE_VMFUNC: u32 = 1 << 13;
    pub const VMCS_SHADOWING: u32 = 1 << 14;
    pub const RDSEED_EXITING: u32 = 1 << 16;
    pub const ENABLE_PML: u32 = 1 << 17;
    pub const EPT_VIOLATION_VE: u32 = 1 << 18;
    pub const ENABLE_XSAVES: u32 = 1 << 20;
    pub const TSC_SCALING: u32 = 1 << 25;
    pub const ENABLE_USER_WAIT_PAUSE: u32 = 1 << 26;
}

/// Primary VM-exit controls (SDM Vol. 3C Table 25-14).
pub mod exit {
    pub const SAVE_DEBUG_CONTROLS: u32 = 1 << 2;
    pub const HOST_ADDR_SPACE_SIZE: u32 = 1 << 9;
    pub const LOAD_PERF_GLOBAL_CTRL: u32 = 1 << 12;
    pub const ACK_INTR_ON_EXIT: u32 = 1 << 15;
    pub const SAVE_PAT: u32 = 1 << 18;
    pub const LOAD_PAT: u32 = 1 << 19;
    pub const SAVE_EFER: u32 = 1 << 20;
    pub const LOAD_EFER: u32 = 1 << 21;
    pub const SAVE_PREEMPTION_TIMER: u32 = 1 << 22;
    /// "clear IA32_BNDCFGS": allowed-1 only with MPX.
    pub const CLEAR_BNDCFGS: u32 = 1 << 23;
    /// Default1 bits of IA32_VMX_EXIT_CTLS (SDM A.4.1): 0–8, 10, 11, 13, 14, 16, 17.
    pub const DEFAULT1: u32 = 0x0003_6DFF;
}

/// VM-entry controls (SDM Vol. 3C Table 25-16).
pub mod entry {
    pub const LOAD_DEBUG_CONTROLS: u32 = 1 << 2;
    pub const IA32E_MODE_GUEST: u32 = 1 << 9;
    pub const ENTRY_TO_SMM: u32 = 1 << 10;
    pub const DEACT_DUAL_MONITOR: u32 = 1 << 11;
    pub const LOAD_PERF_GLOBAL_CTRL: u32 = 1 << 13;
    pub const LOAD_PAT: u32 = 1 << 14;
    pub const LOAD_EFER: u32 = 1 << 15;
    /// "load IA32_BNDCFGS": allowed-1 only with MPX.
    pub const LOAD_BNDCFGS: u32 = 1 << 16;
    /// Default1 bits of IA32_VMX_ENTRY_CTLS (SDM A.5): 0–8, 12.
    pub const DEFAULT1: u32 = 0x0000_11FF;
}

/// IA32_VMX_BASIC fields (SDM A.1).
pub mod basic {
    pub const REVISION_MASK: u64 = 0x7FFF_FFFF;
    pub const SIZE_SHIFT: u32 = 32;
    pub const SIZE_MASK: u64 = 0x1FFF << SIZE_SHIFT;
    /// VMX structures limited to 32-bit physical addresses.
    pub const ADDR_32BIT: u64 = 1 << 48;
    pub const DUAL_MONITOR: u64 = 1 << 49;
    pub const MEM_TYPE_SHIFT: u32 = 50;
    pub const MEM_TYPE_MASK: u64 = 0xF << MEM_TYPE_SHIFT;
    pub const MEM_TYPE_WB: u64 = 6;
    pub const INS_OUTS_INFO: u64 = 1 << 54;
    pub const TRUE_CTLS: u64 = 1 << 55;
    pub const NO_HW_ERRCODE_CHECK: u64 = 1 << 56;
    /// Bits 31, 45–47 and 57–63 are reserved (zero).
    pub const RESERVED: u64 = (1 << 31) | (0x7 << 45) | (0x7F << 57);
}

/// IA32_VMX_MISC fields (SDM A.6).
pub mod misc {
    pub const PREEMPTION_RATE_MASK: u64 = 0x1F;
    pub const STORE_LMA: u64 = 1 << 5;
    pub const ACTIVITY_HLT: u64 = 1 << 6;
    pub const ACTIVITY_SHUTDOWN: u64 = 1 << 7;
    pub const ACTIVITY_WAIT_SIPI: u64 = 1 << 8;
    pub const RDMSR_SMBASE: u64 = 1 << 15;
    pub const CR3_TARGETS_SHIFT: u32 = 16;
    pub const CR3_TARGETS_MASK: u64 = 0x1FF << CR3_TARGETS_SHIFT;
    pub const MSR_LIST_SHIFT: u32 = 25;
    pub const MSR_LIST_MASK: u64 = 0x7 << MSR_LIST_SHIFT;
    pub const VMWRITE_ANY_FIELD: u64 = 1 << 29;
    pub const ZERO_LEN_INJECTION: u64 = 1 << 30;
    pub const MSEG_REV_SHIFT: u32 = 32;
    /// Bits that report optional features (a restore may clear them).
    pub const FEATURE_BITS: u64 = STORE_LMA
        | ACTIVITY_HLT
        | ACTIVITY_SHUTDOWN
        | ACTIVITY_WAIT_SIPI
        | (1 << 14)
        | RDMSR_SMBASE
        | (1 << 28)
        | VMWRITE_ANY_FIELD
        | ZERO_LEN_INJECTION;
    /// Reserved bits 9–13 and 31.
    pub const RESERVED: u64 = (0x1F << 9) | (1 << 31);
}

/// IA32_VMX_EPT_VPID_CAP bits (SDM A.10).
pub mod ept_vpid {
    pub const EXECUTE_ONLY: u64 = 1 << 0;
    pub const PAGE_WALK_4: u64 = 1 << 6;
    pub const PAGE_WALK_5: u64 = 1 << 7;
    pub const MEMTYPE_UC: u64 = 1 << 8;
    pub const MEMTYPE_WB: u64 = 1 << 14;
    pub const PAGE_2M: u64 = 1 << 16;
    pub const PAGE_1G: u64 = 1 << 17;
    pub const INVEPT: u64 = 1 << 20;
    pub const ACCESSED_DIRTY: u64 = 1 << 21;
    pub const INVEPT_SINGLE: u64 = 1 << 25;
    pub const INVEPT_ALL: u64 = 1 << 26;
    pub const INVVPID: u64 = 1 << 32;
    pub const INVVPID_ADDR: u64 = 1 << 40;
    pub const INVVPID_SINGLE: u64 = 1 << 41;
    pub const INVVPID_ALL: u64 = 1 << 42;
    pub const INVVPID_SINGLE_NONGLOBAL: u64 = 1 << 43;
}

/// VMCS revision identifier nestor reports in IA32_VMX_BASIC[30:0].
pub const VMCS_REVISION: u32 = 0x4E53;
/// VMCS region size reported in IA32_VMX_BASIC[44:32].
pub const VMCS_SIZE: u64 = 4096;
