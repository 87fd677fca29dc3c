//! MSR indices (SDM Vol. 4 "Model-Specific Registers", Table 2-2
//! "IA-32 Architectural MSRs"; APM Vol. 2 Appendix A "MSR Cross-Reference").

pub const IA32_P5_MC_ADDR: u32 = 0x0;
pub const IA32_P5_MC_TYPE: u32 = 0x1;
pub const IA32_TSC: u32 = 0x10;
pub const IA32_PLATFORM_ID: u32 = 0x17;
pub const IA32_APIC_BASE: u32 = 0x1B;
pub const IA32_FEATURE_CONTROL: u32 = 0x3A;
pub const IA32_TSC_ADJUST: u32 = 0x3B;
pub const IA32_SPEC_CTRL: u32 = 0x48;
pub const IA32_PRED_CMD: u32 = 0x49;
pub const IA32_BIOS_SIGN_ID: u32 = 0x8B;
pub const IA32_MTRRCAP: u32 = 0xFE;
pub const IA32_ARCH_CAPABILITIES: u32 = 0x10A;
pub const IA32_FLUSH_CMD: u32 = 0x10B;
pub const IA32_SYSENTER_CS: u32 = 0x174;
pub const IA32_SYSENTER_ESP: u32 = 0x175;
pub const IA32_SYSENTER_EIP: u32 = 0x176;
pub const IA32_MCG_CAP: u32 = 0x179;
pub const IA32_MCG_STATUS: u32 = 0x17A;
pub const IA32_MCG_CTL: u32 = 0x17B;
pub const IA32_MISC_ENABLE: u32 = 0x1A0;
pub const IA32_DEBUGCTL: u32 = 0x1D9;
pub const IA32_MTRR_PHYSBASE0: u32 = 0x200;
pub const IA32_MTRR_PHYSMASK0: u32 = 0x201;
pub const IA32_MTRR_PHYSMASK7: u32 = 0x20F;
pub const IA32_MTRR_FIX64K_00000: u32 = 0x250;
pub const IA32_MTRR_FIX16K_80000: u32 = 0x258;
pub const IA32_MTRR_FIX16K_A0000: u32 = 0x259;
pub const IA32_MTRR_FIX4K_C0000: u32 = 0x268;
pub const IA32_MTRR_FIX4K_F8000: u32 = 0x26F;
pub const IA32_PAT: u32 = 0x277;
pub const IA32_MTRR_DEF_TYPE: u32 = 0x2FF;
pub const IA32_MC0_CTL: u32 = 0x400;
pub const IA32_VMX_BASIC: u32 = 0x480;
pub const IA32_VMX_PINBASED_CTLS: u32 = 0x481;
pub const IA32_VMX_PROCBASED_CTLS: u32 = 0x482;
pub const IA32_VMX_EXIT_CTLS: u32 = 0x483;
pub const IA32_VMX_ENTRY_CTLS: u32 = 0x484;
pub const IA32_VMX_MISC: u32 = 0x485;
pub const IA32_VMX_CR0_FIXED0: u32 = 0x486;
pub const IA32_VMX_CR0_FIXED1: u32 = 0x487;
pub const IA32_VMX_CR4_FIXED0: u32 = 0x488;
pub const IA32_VMX_CR4_FIXED1: u32 = 0x489;
pub const IA32_VMX_VMCS_ENUM: u32 = 0x48A;
pub const IA32_VMX_PROCBASED_CTLS2: u32 = 0x48B;
pub const IA32_VMX_EPT_VPID_CAP: u32 = 0x48C;
pub const IA32_VMX_TRUE_PINBASED_CTLS: u32 = 0x48D;
pub const IA32_VMX_TRUE_PROCBASED_CTLS: u32 = 0x48E;
pub const IA32_VMX_TRUE_EXIT_CTLS: u32 = 0x48F;
pub const IA32_VMX_TRUE_ENTRY_CTLS: u32 = 0x490;
pub const IA32_VMX_VMFUNC: u32 = 0x491;
pub const IA32_TSC_DEADLINE: u32 = 0x6E0;
pub const IA32_PKRS: u32 = 0x6E1;
/// First and last MSR of the x2APIC register range (SDM Vol. 3A 11.12.1.2).
pub const X2APIC_FIRST: u32 = 0x800;
pub const X2APIC_LAST: u32 = 0x8FF;
pub const IA32_XSS: u32 = 0xDA0;
pub const IA32_BNDCFGS: u32 = 0xD90;
pub const IA32_EFER: u32 = 0xC000_0080;
pub const IA32_STAR: u32 = 0xC000_0081;
pub const IA32_LSTAR: u32 = 0xC000_0082;
pub const IA32_CSTAR: u32 = 0xC000_0083;
pub const IA32_FMASK: u32 = 0xC000_0084;
pub const IA32_FS_BASE: u32 = 0xC000_0100;
pub const IA32_GS_BASE: u32 = 0xC000_0101;
pub const IA32_KERNEL_GS_BASE: u32 = 0xC000_0102;
pub const IA32_TSC_AUX: u32 = 0xC000_0103;
/// AMD: legacy performance event selectors / counters (APM Vol. 2 13.2):
/// PerfEvtSel0–3 at C001_0000h, PerfCtr0–3 at C001_0004h.
pub const AMD_PERF_FIRST: u32 = 0xC001_0000;
pub const AMD_PERF_LAST: u32 = 0xC001_0007;
/// AMD: VIRT_SPEC_CTRL (CPUID 8000_0008:EBX[25] virt-ssbd).
pub const AMD_VIRT_SPEC_CTRL: u32 = 0xC001_011F;
/// AMD: VM_CR (APM Vol. 2 15.30.1).
pub const AMD_VM_CR: u32 = 0xC001_0114;
/// AMD: VM_HSAVE_PA (APM Vol. 2 15.30.4).
pub const AMD_VM_HSAVE_PA: u32 = 0xC001_0117;
