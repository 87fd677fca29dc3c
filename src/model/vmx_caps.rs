//! VMX capability MSRs computed from the CPU model (SDM Vol. 3C Appendix A).
//!
//! [`VmxCapabilities::from_model`] is the one place these values come from:
//! the nested VMX emulator checks VMCS controls against them and KVM mode
//! hands them to the host. Controls whose feature the model lacks are never
//! allowed-1 (e.g. "load IA32_BNDCFGS" needs MPX), so a guest hypervisor can
//! never enable something its own CPUID says does not exist.
//!
//! A host-initiated write (snapshot restore, migration) may only restrict the
//! model's capabilities ([`VmxCapabilities::restore`]); any value a read
//! returned is accepted back.

use serde::{Deserialize, Serialize};

use super::{CpuModel, Feature};
use crate::arch::msr_index::*;
use crate::arch::vmx::{self, basic, entry, ept_vpid, exit, misc, pin, proc, proc2};
use crate::state::cr4;

/// The VMX capability MSRs. Control MSRs are stored in their TRUE_ form
/// (allowed-0 settings in bits 31:0, allowed-1 settings in bits 63:32); the
/// legacy forms are derived by forcing the default1 bits (SDM A.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmxCapabilities {
    pub basic: u64,
    pub pinbased: u64,
    pub procbased: u64,
    pub procbased2: u64,
    pub exit: u64,
    pub entry: u64,
    pub misc: u64,
    pub cr0_fixed0: u64,
    pub cr0_fixed1: u64,
    pub cr4_fixed0: u64,
    pub cr4_fixed1: u64,
    pub vmcs_enum: u64,
    pub ept_vpid_cap: u64,
    pub vmfunc: u64,
}

/// Why a host-initiated write of a capability MSR was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapRestoreError {
    /// Not a VMX capability MSR, or one this model does not have.
    NoSuchMsr,
    /// The value would enable something the CPU model does not support.
    ExceedsModel,
    /// The value is malformed (reserved bits, allowed-0 not within allowed-1,
    /// or a field that must match the model does not).
    Invalid,
}

#[inline]
const fn ctl(allowed0: u32, allowed1: u32) -> u64 {
    (allowed1 as u64) << 32 | allowed0 as u64
}

/// Highest VMCS field index nestor implements (VMX-preemption timer value,
/// encoding 0x482E, index 23), as IA32_VMX_VMCS_ENUM bits 9:1 (SDM A.9).
const VMCS_ENUM_MAX_INDEX: u64 = 0x17;

impl VmxCapabilities {
    /// The capabilities a vCPU of `model` reports; all zero if the model has
    /// no VMX.
    pub fn from_model(model: &CpuModel) -> Self {
        if !model.has(Feature::Vmx) {
            return Self::default();
        }
        let has = |f| model.has(f);
        let gate = |f: Feature, bits: u32| if has(f) { bits } else { 0 };

        // SDM A.1: revision, 4 KiB region, write-back VMCS, INS/OUTS
        // exit information, TRUE_ control MSRs.
        let basic = u64::from(vmx::VMCS_REVISION)
            | vmx::VMCS_SIZE << basic::SIZE_SHIFT
            | basic::MEM_TYPE_WB << basic::MEM_TYPE_SHIFT
            | basic::INS_OUTS_INFO
            | basic::TRUE_CTLS;

        // SDM A.3.1: pin-based controls; bits 1, 2, 4 stay fixed to 1 even
        // in the TRUE_ form.
        let pin_allowed1 = pin::DEFAULT1
            | pin::EXT_INTR_EXITING
            | pin::NMI_EXITING
            | pin::VIRTUAL_NMIS
            | pin::PREEMPTION_TIMER;
        let pinbased = ctl(pin::DEFAULT1, pin_allowed1);

        // SDM A.3.2: CR3-load/store exiting may be cleared in the TRUE_ form.
        let proc_true0 = proc::DEFAULT1 & !(proc::CR3_LOAD_EXITING | proc::CR3_STORE_EXITING);
        let proc_allowed1 = proc::DEFAULT1
            | proc::INTR_WINDOW_EXITING
            | proc::USE_TSC_OFFSETTING
            | proc::HLT_EXITING
            | proc::INVLPG_EXITING
            | gate(
                Feature::Monitor,
                proc::MWAIT_EXITING | proc::MONITOR_EXITING,
            )
            | proc::RDPMC_EXITING
            | proc::RDTSC_EXITING
            | proc::CR3_LOAD_EXITING
            | proc::CR3_STORE_EXITING
            | gate(
                Feature::Lm,
                proc::CR8_LOAD_EXITING | proc::CR8_STORE_EXITING,
            )
            | proc::USE_TPR_SHADOW
            | proc::NMI_WINDOW_EXITING
            | proc::MOV_DR_EXITING
            | proc::UNCOND_IO_EXITING
            | proc::USE_IO_BITMAPS
            | proc::MONITOR_TRAP_FLAG
            | proc::USE_MSR_BITMAPS
            | proc::PAUSE_EXITING
            | proc::ACTIVATE_SECONDARY;
        let procbased = ctl(proc_true0, proc_allowed1);

        // SDM A.3.3: secondary controls; the ones that enable an instruction
        // follow the model's CPUID (SDM 26.6.2: "enable RDTSCP" etc.).
        let proc2_allowed1 = proc2::VIRT_APIC_ACCESSES
            | proc2::ENABLE_EPT
            | proc2::DESC_TABLE_EXITING
            | gate(Feature::Rdtscp, proc2::ENABLE_RDTSCP)
            | gate(Feature::X2apic, proc2::VIRT_X2APIC_MODE)
            | proc2::ENABLE_VPID
            | proc2::WBINVD_EXITING
            | proc2::UNRESTRICTED_GUEST
            | proc2::PAUSE_LOOP_EXITING
            | gate(Feature::Rdrand, proc2::RDRAND_EXITING)
            | gate(Feature::Invpcid, proc2::ENABLE_INVPCID)
            | proc2::ENABLE_VMFUNC
            | gate(Feature::Rdseed, proc2::RDSEED_EXITING)
            | gate(Feature::Xsaves, proc2::ENABLE_XSAVES);
        let procbased2 = ctl(0, proc2_allowed1);

        // SDM A.4.1: "save debug controls" may be 0 in the TRUE_ form.
        let exit_allowed1 = exit::DEFAULT1
            | gate(Feature::Lm, exit::HOST_ADDR_SPACE_SIZE)
            | exit::ACK_INTR_ON_EXIT
            | exit::SAVE_PAT
            | exit::LOAD_PAT
            | exit::SAVE_EFER
            | exit::LOAD_EFER
            | exit::SAVE_PREEMPTION_TIMER
            | gate(Feature::Mpx, exit::CLEAR_BNDCFGS);
        let exit = ctl(exit::DEFAULT1 & !exit::SAVE_DEBUG_CONTROLS, exit_allowed1);

        // SDM A.5: "load debug controls" may be 0 in the TRUE_ form.
        let entry_allowed1 = entry::DEFAULT1
            | gate(Feature::Lm, entry::IA32E_MODE_GUEST)
            | entry::LOAD_PAT
            | entry::LOAD_EFER
            | gate(Feature::Mpx, entry::LOAD_BNDCFGS);
        let entry = ctl(
            entry::DEFAULT1 & !entry::LOAD_DEBUG_CONTROLS,
            entry_allowed1,
        );

        // SDM A.6: preemption timer ticks every 2^5 TSC cycles; HLT,
        // shutdown and wait-for-SIPI activity states; 4 CR3 targets; MSR
        // lists of up to 512 entries; VMWRITE to exit-information fields;
        // zero-length software-event injection.
        let misc = 5
            | misc::STORE_LMA
            | misc::ACTIVITY_HLT
            | misc::ACTIVITY_SHUTDOWN
            | misc::ACTIVITY_WAIT_SIPI
            | 4 << misc::CR3_TARGETS_SHIFT
            | misc::VMWRITE_ANY_FIELD
            | misc::ZERO_LEN_INJECTION;

        // SDM A.7/A.8: PE, NE, PG must be 1 (unrestricted guest relaxes PE/PG
        // for the guest, not for the reported value); CR4.VMXE must be 1.
        let cr0_fixed0 = 0x8000_0021;
        let cr0_fixed1 = 0xFFFF_FFFF;
        let cr4_fixed0 = cr4::VMXE;
        let cr4_fixed1 = cr4_fixed1_for(model);

        let ept_vpid_cap = ept_vpid::EXECUTE_ONLY
            | ept_vpid::PAGE_WALK_4
            | if has(Feature::La57) {
                ept_vpid::PAGE_WALK_5
            } else {
                0
            }
            | ept_vpid::MEMTYPE_UC
            | ept_vpid::MEMTYPE_WB
            | ept_vpid::PAGE_2M
            | if has(Feature::Pdpe1gb) {
                ept_vpid::PAGE_1G
            } else {
                0
            }
            | ept_vpid::INVEPT
            | ept_vpid::ACCESSED_DIRTY
            | ept_vpid::INVEPT_SINGLE
            | ept_vpid::INVEPT_ALL
            | ept_vpid::INVVPID
            | ept_vpid::INVVPID_ADDR
            | ept_vpid::INVVPID_SINGLE
            | ept_vpid::INVVPID_ALL
            | ept_vpid::INVVPID_SINGLE_NONGLOBAL;

        VmxCapabilities {
            basic,
            pinbased,
            procbased,
            procbased2,
            exit,
            entry,
            misc,
            cr0_fixed0,
            cr0_fixed1,
            cr4_fixed0,
            cr4_fixed1,
            vmcs_enum: VMCS_ENUM_MAX_INDEX << 1,
            ept_vpid_cap,
            // SDM A.11: EPTP switching is the only VM function.
            vmfunc: 1,
        }
    }

    /// The capability MSRs that exist for these capabilities (SDM A.1–A.11:
    /// 0x48B only if secondary controls can be activated, 0x48C only with EPT
    /// or VPID, 0x48D–0x490 only if BASIC[55], 0x491 only with VM functions).
    pub fn msr_list(&self) -> Vec<u32> {
        if self.basic == 0 {
            return Vec::new();
        }
        let mut list: Vec<u32> = (IA32_VMX_BASIC..=IA32_VMX_VMCS_ENUM).collect();
        let sec = (self.procbased >> 32) as u32 & proc::ACTIVATE_SECONDARY != 0;
        let sec1 = (self.procbased2 >> 32) as u32;
        if sec {
            list.push(IA32_VMX_PROCBASED_CTLS2);
            if sec1 & (proc2::ENABLE_EPT | proc2::ENABLE_VPID) != 0 {
                list.push(IA32_VMX_EPT_VPID_CAP);
            }
        }
        if self.basic & basic::TRUE_CTLS != 0 {
            list.extend(IA32_VMX_TRUE_PINBASED_CTLS..=IA32_VMX_TRUE_ENTRY_CTLS);
        }
        if sec && sec1 & proc2::ENABLE_VMFUNC != 0 {
            list.push(IA32_VMX_VMFUNC);
        }
        list
    }

    /// Reads capability MSR `msr` (without checking that it exists).
    pub fn read(&self, msr: u32) -> Option<u64> {
        let legacy = |v: u64, default1: u32| v | u64::from(default1);
        Some(match msr {
            IA32_VMX_BASIC => self.basic,
            IA32_VMX_PINBASED_CTLS => legacy(self.pinbased, pin::DEFAULT1),
            IA32_VMX_PROCBASED_CTLS => legacy(self.procbased, proc::DEFAULT1),
            IA32_VMX_EXIT_CTLS => legacy(self.exit, exit::DEFAULT1),
            IA32_VMX_ENTRY_CTLS => legacy(self.entry, entry::DEFAULT1),
            IA32_VMX_MISC => self.misc,
            IA32_VMX_CR0_FIXED0 => self.cr0_fixed0,
            IA32_VMX_CR0_FIXED1 => self.cr0_fixed1,
            IA32_VMX_CR4_FIXED0 => self.cr4_fixed0,
            IA32_VMX_CR4_FIXED1 => self.cr4_fixed1,
            IA32_VMX_VMCS_ENUM => self.vmcs_enum,
            IA32_VMX_PROCBASED_CTLS2 => self.procbased2,
            IA32_VMX_EPT_VPID_CAP => self.ept_vpid_cap,
            IA32_VMX_TRUE_PINBASED_CTLS => self.pinbased,
            IA32_VMX_TRUE_PROCBASED_CTLS => self.procbased,
            IA32_VMX_TRUE_EXIT_CTLS => self.exit,
            IA32_VMX_TRUE_ENTRY_CTLS => self.entry,
            IA32_VMX_VMFUNC => self.vmfunc,
            _ => return None,
        })
    }

    /// A host-initiated write of capability MSR `msr`: accepted only if
    /// `value` is the model's capability `model` or a restriction of it
    /// (allowed-1 bits cleared, allowed-0 bits set, optional features
    /// removed), never an extension.
    pub fn restore(
        &mut self,
        model: &VmxCapabilities,
        msr: u32,
        value: u64,
    ) -> Result<(), CapRestoreError> {
        if !model.msr_list().contains(&msr) {
            return Err(CapRestoreError::NoSuchMsr);
        }
        // The field's model value in the same form as `value`.
        let supported = model.read(msr).ok_or(CapRestoreError::NoSuchMsr)?;
        let subset = |v: u64, of: u64| v & !of == 0;
        match msr {
            IA32_VMX_BASIC => {
                let features = basic::DUAL_MONITOR
                    | basic::INS_OUTS_INFO
                    | basic::TRUE_CTLS
                    | basic::NO_HW_ERRCODE_CHECK;
                if value & (basic::RESERVED | basic::ADDR_32BIT) != 0 {
                    return Err(CapRestoreError::Invalid);
                }
                if !subset(value & features, supported & features) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                let same = basic::REVISION_MASK | basic::MEM_TYPE_MASK;
                if value & same != supported & same
                    || (value & basic::SIZE_MASK) < (supported & basic::SIZE_MASK)
                {
                    return Err(CapRestoreError::Invalid);
                }
                self.basic = value;
            }
            IA32_VMX_PINBASED_CTLS
            | IA32_VMX_PROCBASED_CTLS
            | IA32_VMX_EXIT_CTLS
            | IA32_VMX_ENTRY_CTLS
            | IA32_VMX_PROCBASED_CTLS2
            | IA32_VMX_TRUE_PINBASED_CTLS
            | IA32_VMX_TRUE_PROCBASED_CTLS
            | IA32_VMX_TRUE_EXIT_CTLS
            | IA32_VMX_TRUE_ENTRY_CTLS => {
                let (lo, hi) = (value as u32, (value >> 32) as u32);
                let (slo, shi) = (supported as u32, (supported >> 32) as u32);
                // SDM A.3: a 1 in allowed-0 means "must be 1"; it must also be
                // allowed to be 1.
                if lo & !hi != 0 {
                    return Err(CapRestoreError::Invalid);
                }
                if slo & !lo != 0 || hi & !shi != 0 {
                    return Err(CapRestoreError::ExceedsModel);
                }
                // Both forms share one stored value (the TRUE_ form); the
                // legacy form's default1 bits are re-derived on read.
                let slot = match msr {
                    IA32_VMX_PINBASED_CTLS | IA32_VMX_TRUE_PINBASED_CTLS => &mut self.pinbased,
                    IA32_VMX_PROCBASED_CTLS | IA32_VMX_TRUE_PROCBASED_CTLS => &mut self.procbased,
                    IA32_VMX_EXIT_CTLS | IA32_VMX_TRUE_EXIT_CTLS => &mut self.exit,
                    IA32_VMX_ENTRY_CTLS | IA32_VMX_TRUE_ENTRY_CTLS => &mut self.entry,
                    _ => &mut self.procbased2,
                };
                *slot = value;
            }
            IA32_VMX_MISC => {
                if value & misc::RESERVED != 0 {
                    return Err(CapRestoreError::Invalid);
                }
                if !subset(value & misc::FEATURE_BITS, supported & misc::FEATURE_BITS) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                let field = |v: u64, mask: u64, shift: u32| (v & mask) >> shift;
                let targets = |v| field(v, misc::CR3_TARGETS_MASK, misc::CR3_TARGETS_SHIFT);
                let msr_list = |v| field(v, misc::MSR_LIST_MASK, misc::MSR_LIST_SHIFT);
                if targets(value) > targets(supported) || msr_list(value) > msr_list(supported) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                let rate = misc::PREEMPTION_RATE_MASK;
                if value & rate != supported & rate
                    || value >> misc::MSEG_REV_SHIFT != supported >> misc::MSEG_REV_SHIFT
                {
                    return Err(CapRestoreError::Invalid);
                }
                self.misc = value;
            }
            // FIXED0: 1 bits are "must be 1"; requiring more is a restriction.
            IA32_VMX_CR0_FIXED0 | IA32_VMX_CR4_FIXED0 => {
                if !subset(supported, value) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                if msr == IA32_VMX_CR0_FIXED0 {
                    self.cr0_fixed0 = value;
                } else {
                    self.cr4_fixed0 = value;
                }
            }
            // FIXED1: 0 bits are "must be 0"; allowing fewer bits is a restriction.
            IA32_VMX_CR0_FIXED1 | IA32_VMX_CR4_FIXED1 => {
                if !subset(value, supported) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                if msr == IA32_VMX_CR0_FIXED1 {
                    self.cr0_fixed1 = value;
                } else {
                    self.cr4_fixed1 = value;
                }
            }
            IA32_VMX_VMCS_ENUM => {
                if value & !0x3FE != 0 {
                    return Err(CapRestoreError::Invalid);
                }
                if value > supported {
                    return Err(CapRestoreError::ExceedsModel);
                }
                self.vmcs_enum = value;
            }
            IA32_VMX_EPT_VPID_CAP | IA32_VMX_VMFUNC => {
                if !subset(value, supported) {
                    return Err(CapRestoreError::ExceedsModel);
                }
                if msr == IA32_VMX_VMFUNC {
                    self.vmfunc = value;
                } else {
                    self.ept_vpid_cap = value;
                }
            }
            _ => return Err(CapRestoreError::NoSuchMsr),
        }
        Ok(())
    }
}

/// CR4 bits a VMX guest may set: the architectural base set plus each bit
/// whose feature the model enumerates (SDM A.8; KVM derives the same from
/// guest CPUID).
fn cr4_fixed1_for(model: &CpuModel) -> u64 {
    let mut v = cr4::VME
        | cr4::PVI
        | cr4::TSD
        | cr4::DE
        | cr4::PSE
        | cr4::PAE
        | cr4::MCE
        | cr4::PGE
        | cr4::PCE
        | cr4::OSFXSR
        | cr4::OSXMMEXCPT
        | cr4::VMXE;
    for (f, bit) in [
        (Feature::Umip, cr4::UMIP),
        (Feature::La57, cr4::LA57),
        (Feature::Smx, cr4::SMXE),
        (Feature::Fsgsbase, cr4::FSGSBASE),
        (Feature::Pcid, cr4::PCIDE),
        (Feature::Xsave, cr4::OSXSAVE),
        (Feature::Smep, cr4::SMEP),
        (Feature::Smap, cr4::SMAP),
        (Feature::Pku, cr4::PKE),
        (Feature::Pks, cr4::PKS),
        (Feature::Lam, cr4::LAM_SUP),
    ] {
        if model.has(f) {
            v |= bit;
        }
    }
    v
}
