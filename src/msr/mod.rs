//! The MSR layer: which MSRs exist for a CPU model, which bits are valid,
//! and what guest and host accesses do (SDM Vol. 4 Table 2-2; APM Vol. 2
//! Appendix A).
//!
//! Both backends go through [`read`] and [`write`]. The interpreter calls them
//! for RDMSR/WRMSR with [`Initiator::Guest`]; snapshot restore and the KVM
//! backend's state transfer use [`Initiator::Host`]. Guest accesses follow the
//! architecture (an absent MSR, a reserved bit, a non-canonical address or a
//! read-only MSR is #GP). Host accesses restore state: they are validated
//! against the CPU model rather than the guest's current mode, may write
//! read-only MSRs with the value a read returns, and may write the VMX
//! capability MSRs with a restriction of the model's capabilities.

mod mtrr;
#[cfg(test)]
mod tests;

use crate::apic::{self, ApicAction, ApicFault, regs::ApicEnv};
use crate::arch::msr_index::*;
use crate::model::vmx_caps::VmxCapabilities;
use crate::model::{CpuModel, Feature, Vendor};
use crate::state::msrs::MC_BANKS;
use crate::state::{SegReg, VcpuState, cr0, efer};

/// Who performs an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// RDMSR/WRMSR executed by the guest.
    Guest,
    /// The VMM (snapshot restore, backend handoff, migration).
    Host,
}

/// Why an access failed. For a guest access, every variant means #GP(0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrError {
    /// The MSR does not exist for this CPU model (or in the current mode,
    /// e.g. x2APIC MSRs outside x2APIC mode).
    Absent,
    /// The MSR exists but refuses this access: reserved bits, a
    /// non-canonical address, an invalid transition, a write to a read-only
    /// MSR, a read of a write-only one, or a locked register.
    Invalid,
}

impl std::fmt::Display for MsrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MsrError::Absent => "MSR not present in this CPU model",
            MsrError::Invalid => "value or access refused by the MSR's rules",
        })
    }
}

impl std::error::Error for MsrError {}

/// What the backend has to do after a successful write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsrEffect {
    None,
    /// Paging or memory-type state changed (EFER, PAT, MTRRs): drop cached
    /// translations and re-derive the execution mode.
    Paging,
    /// IA32_APIC_BASE changed: APIC enable, x2APIC mode or MMIO base.
    ApicBase,
    /// An x2APIC register write with this consequence.
    Apic(ApicAction),
    /// The TSC or TSC deadline changed: re-arm timers that depend on it.
    Timer,
    /// VMX capability restriction or other state whose derived caches must
    /// be recomputed (CPUID-visible bits in MISC_ENABLE).
    Cpuid,
}

/// Everything an MSR access needs besides the vCPU state.
#[derive(Clone, Copy, Debug)]
pub struct MsrCtx<'a> {
    pub model: &'a CpuModel,
    /// The VM's virtual TSC clock now; the guest TSC is this plus the
    /// vCPU's TSC offset.
    pub clock_tsc: u64,
    /// The local APIC's timer input clock now.
    pub apic_now: u64,
}

/// IA32_MISC_ENABLE bits (SDM Vol. 4 Table 2-2).
pub mod misc_enable {
    pub const FAST_STRINGS: u64 = 1 << 0;
    pub const AUTO_THERMAL: u64 = 1 << 3;
    pub const PERF_MON_AVAILABLE: u64 = 1 << 7;
    pub const BTS_UNAVAILABLE: u64 = 1 << 11;
    pub const PEBS_UNAVAILABLE: u64 = 1 << 12;
    pub const SPEEDSTEP: u64 = 1 << 16;
    pub const MONITOR: u64 = 1 << 18;
    pub const LIMIT_CPUID: u64 = 1 << 22;
    pub const XTPR_DISABLE: u64 = 1 << 23;
    pub const XD_DISABLE: u64 = 1 << 34;
    /// Software-writable bits.
    pub const WRITABLE: u64 =
        FAST_STRINGS | AUTO_THERMAL | SPEEDSTEP | MONITOR | LIMIT_CPUID | XTPR_DISABLE | XD_DISABLE;
    /// Read-only status bits.
    pub const READ_ONLY: u64 = PERF_MON_AVAILABLE | BTS_UNAVAILABLE | PEBS_UNAVAILABLE;
}

/// IA32_SPEC_CTRL bits (SDM Vol. 4 Table 2-2; APM Vol. 2 3.2.9).
pub mod spec_ctrl {
    pub const IBRS: u64 = 1 << 0;
    pub const STIBP: u64 = 1 << 1;
    pub const SSBD: u64 = 1 << 2;
    pub const PSFD: u64 = 1 << 7;
}

/// IA32_FEATURE_CONTROL bits (SDM Vol. 4 Table 2-2).
pub mod feature_control {
    pub const LOCK: u64 = 1 << 0;
    pub const VMXON_IN_SMX: u64 = 1 << 1;
    pub const VMXON_OUTSIDE_SMX: u64 = 1 << 2;
}

/// VM_CR bits (APM Vol. 2 15.30.1).
pub mod vm_cr {
    pub const DPD: u64 = 1 << 0;
    pub const R_INIT: u64 = 1 << 1;
    pub const DIS_A20M: u64 = 1 << 2;
    pub const LOCK: u64 = 1 << 3;
    pub const SVMDIS: u64 = 1 << 4;
    pub const VALID: u64 = DPD | R_INIT | DIS_A20M | LOCK | SVMDIS;
}

/// MCG_CAP.MCG_CTL_P: IA32_MCG_CTL is present.
const MCG_CTL_P: u64 = 1 << 8;
/// Microcode revision reported in IA32_BIOS_SIGN_ID[63:32].
const MICROCODE_REVISION: u64 = 1 << 32;
/// IA32_ARCH_CAPABILITIES bits nestor reports (SDM Vol. 4 Table 2-2): an
/// interpreter has none of the speculative-execution issues these deny
/// (RDCL_NO, IBRS_ALL, SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO,
/// TAA_NO).
const ARCH_CAPABILITIES: u64 = 0b1_0111_1011;

/// The valid IA32_SPEC_CTRL bits: each one gated by its own feature, so a
/// model with STIBP but not IBRS still accepts bit 1.
pub fn spec_ctrl_valid_bits(model: &CpuModel) -> u64 {
    let mut bits = 0;
    let any = |fs: &[Feature]| fs.iter().any(|&f| model.has(f));
    if any(&[Feature::SpecCtrl, Feature::AmdIbrs]) {
        bits |= spec_ctrl::IBRS;
    }
    if any(&[Feature::Stibp, Feature::AmdStibp]) {
        bits |= spec_ctrl::STIBP;
    }
    if any(&[Feature::Ssbd, Feature::AmdSsbd]) {
        bits |= spec_ctrl::SSBD;
    }
    if any(&[Feature::IntelPsfd, Feature::AmdPsfd]) {
        bits |= spec_ctrl::PSFD;
    }
    bits
}

/// EFER bits the model allows (SDM Vol. 3A 2.2.1; APM Vol. 2 3.1.7).
pub fn efer_valid_bits(model: &CpuModel) -> u64 {
    let mut bits = efer::SCE;
    if model.has(Feature::Lm) {
        bits |= efer::LME | efer::LMA;
    }
    if model.has(Feature::Nx) {
        bits |= efer::NXE;
    }
    if model.has(Feature::Svm) {
        bits |= efer::SVME;
    }
    if model.has(Feature::FxsrOpt) {
        bits |= efer::FFXSR;
    }
    bits
}

/// IA32_MCG_CAP for the model: bank count and MCG_CTL present.
pub fn mcg_cap(model: &CpuModel) -> u64 {
    if model.has(Feature::Mca) {
        MC_BANKS as u64 | MCG_CTL_P
    } else {
        0
    }
}

/// IA32_MISC_ENABLE after RESET: fast strings on, BTS/PEBS unavailable,
/// MONITOR/MWAIT enabled when the model has it.
pub fn misc_enable_reset(model: &CpuModel) -> u64 {
    let mut v =
        misc_enable::FAST_STRINGS | misc_enable::BTS_UNAVAILABLE | misc_enable::PEBS_UNAVAILABLE;
    if model.has(Feature::Monitor) {
        v |= misc_enable::MONITOR;
    }
    v
}

fn has_spec_ctrl_msr(model: &CpuModel) -> bool {
    spec_ctrl_valid_bits(model) != 0
}

fn has_feature_control(model: &CpuModel) -> bool {
    model.vendor == Vendor::Intel || model.has(Feature::Vmx)
}

fn has_tsc_aux(model: &CpuModel) -> bool {
    model.has(Feature::Rdtscp) || model.has(Feature::Rdpid)
}

/// The MSRs that hold state for this model, in save/restore order (TSC
/// before TSC_DEADLINE). Write-only MSRs and the x2APIC range (saved as APIC
/// state) are not listed.
pub fn saved_msrs(model: &CpuModel) -> Vec<u32> {
    let has = |f| model.has(f);
    let mca = has(Feature::Mca);
    let mtrr = has(Feature::Mtrr);
    let groups: Vec<(bool, Vec<u32>)> = vec![
        (has(Feature::Tsc), vec![IA32_TSC]),
        (has(Feature::Apic), vec![IA32_APIC_BASE]),
        (has_feature_control(model), vec![IA32_FEATURE_CONTROL]),
        (has(Feature::TscAdjust), vec![IA32_TSC_ADJUST]),
        (has_spec_ctrl_msr(model), vec![IA32_SPEC_CTRL]),
        (true, vec![IA32_BIOS_SIGN_ID]),
        (mtrr, vec![IA32_MTRRCAP]),
        (has(Feature::ArchCapabilities), vec![IA32_ARCH_CAPABILITIES]),
        (
            has(Feature::Sep),
            vec![IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP],
        ),
        (mca, vec![IA32_MCG_CAP, IA32_MCG_STATUS, IA32_MCG_CTL]),
        (
            mca,
            (0..MC_BANKS as u32 * 4).map(|i| IA32_MC0_CTL + i).collect(),
        ),
        (model.vendor == Vendor::Intel, vec![IA32_MISC_ENABLE]),
        (true, vec![IA32_DEBUGCTL]),
        (mtrr, (IA32_MTRR_PHYSBASE0..=IA32_MTRR_PHYSMASK7).collect()),
        (mtrr, mtrr::FIXED_MSRS.to_vec()),
        (mtrr, vec![IA32_MTRR_DEF_TYPE]),
        (has(Feature::Pat), vec![IA32_PAT]),
        (true, VmxCapabilities::from_model(model).msr_list()),
        (has(Feature::TscDeadline), vec![IA32_TSC_DEADLINE]),
        (has(Feature::Pks), vec![IA32_PKRS]),
        (has(Feature::Mpx), vec![IA32_BNDCFGS]),
        (has(Feature::Xsaves), vec![IA32_XSS]),
        (true, vec![IA32_EFER]),
        (has(Feature::Syscall) || has(Feature::Lm), vec![IA32_STAR]),
        (
            has(Feature::Lm),
            vec![
                IA32_LSTAR,
                IA32_CSTAR,
                IA32_FMASK,
                IA32_FS_BASE,
                IA32_GS_BASE,
                IA32_KERNEL_GS_BASE,
            ],
        ),
        (has_tsc_aux(model), vec![IA32_TSC_AUX]),
        (has(Feature::VirtSsbd), vec![AMD_VIRT_SPEC_CTRL]),
        (has(Feature::Svm), vec![AMD_VM_CR, AMD_VM_HSAVE_PA]),
    ];
    groups
        .into_iter()
        .filter(|(cond, _)| *cond)
        .flat_map(|(_, msrs)| msrs)
        .collect()
}

/// The index of machine-check bank MSR `msr` and its register (0 CTL,
/// 1 STATUS, 2 ADDR, 3 MISC), if `msr` is in the architectural MCi range.
fn mc_bank(msr: u32) -> Option<(usize, u32)> {
    // 32 banks fit below the VMX MSRs at 0x480.
    (IA32_MC0_CTL..IA32_MC0_CTL + 32 * 4)
        .contains(&msr)
        .then(|| {
            (
                ((msr - IA32_MC0_CTL) / 4) as usize,
                (msr - IA32_MC0_CTL) % 4,
            )
        })
}

fn x2apic_mode(state: &VcpuState) -> bool {
    let m = apic::base::EN | apic::base::EXTD;
    state.msrs.apic_base & m == m
}

fn apic_env(ctx: &MsrCtx) -> ApicEnv {
    ApicEnv {
        now: ctx.apic_now,
        tsc_deadline: ctx.model.has(Feature::TscDeadline),
    }
}

fn require(cond: bool) -> Result<(), MsrError> {
    if cond { Ok(()) } else { Err(MsrError::Absent) }
}

fn check(cond: bool) -> Result<(), MsrError> {
    if cond { Ok(()) } else { Err(MsrError::Invalid) }
}

/// The guest TSC now.
pub fn guest_tsc(state: &VcpuState, clock_tsc: u64) -> u64 {
    clock_tsc.wrapping_add(state.msrs.tsc_offset)
}

/// Reads MSR `msr`.
pub fn read(state: &VcpuState, ctx: &MsrCtx, msr: u32, who: Initiator) -> Result<u64, MsrError> {
    let _ = who; // reads are the same for guest and host
    let model = ctx.model;
    let has = |f| model.has(f);
    let m = &state.msrs;
    Ok(match msr {
        IA32_TSC => {
            require(has(Feature::Tsc))?;
            guest_tsc(state, ctx.clock_tsc)
        }
        IA32_APIC_BASE => {
            require(has(Feature::Apic))?;
            m.apic_base
        }
        IA32_FEATURE_CONTROL => {
            require(has_feature_control(model))?;
            m.feature_control
        }
        IA32_TSC_ADJUST => {
            require(has(Feature::TscAdjust))?;
            m.tsc_adjust
        }
        IA32_SPEC_CTRL => {
            require(has_spec_ctrl_msr(model))?;
            m.spec_ctrl
        }
        // Write-only command MSRs: reading them is #GP (SDM Vol. 4 Table 2-2).
        IA32_PRED_CMD | IA32_FLUSH_CMD => return Err(MsrError::Invalid),
        IA32_BIOS_SIGN_ID => MICROCODE_REVISION,
        IA32_PLATFORM_ID if model.vendor == Vendor::Intel => 0,
        IA32_MTRRCAP => {
            require(has(Feature::Mtrr))?;
            mtrr::MTRRCAP
        }
        IA32_ARCH_CAPABILITIES => {
            require(has(Feature::ArchCapabilities))?;
            ARCH_CAPABILITIES
        }
        IA32_SYSENTER_CS | IA32_SYSENTER_ESP | IA32_SYSENTER_EIP => {
            require(has(Feature::Sep))?;
            match msr {
                IA32_SYSENTER_CS => m.sysenter_cs,
                IA32_SYSENTER_ESP => m.sysenter_esp,
                _ => m.sysenter_eip,
            }
        }
        IA32_MCG_CAP => {
            require(has(Feature::Mca))?;
            mcg_cap(model)
        }
        IA32_MCG_STATUS => {
            require(has(Feature::Mca))?;
            m.mcg_status
        }
        IA32_MCG_CTL => {
            require(mcg_cap(model) & MCG_CTL_P != 0)?;
            m.mcg_ctl
        }
        IA32_MISC_ENABLE => {
            require(model.vendor == Vendor::Intel)?;
            m.misc_enable
        }
        IA32_DEBUGCTL => m.debugctl,
        IA32_MTRR_PHYSBASE0..=IA32_MTRR_PHYSMASK7 => {
            require(has(Feature::Mtrr))?;
            let pair = &m.mtrr_var[((msr - IA32_MTRR_PHYSBASE0) / 2) as usize];
            if msr.is_multiple_of(2) {
                pair.base
            } else {
                pair.mask
            }
        }
        IA32_MTRR_DEF_TYPE => {
            require(has(Feature::Mtrr))?;
            m.mtrr_def_type
        }
        IA32_PAT => {
            require(has(Feature::Pat))?;
            m.pat
        }
        IA32_VMX_BASIC..=IA32_VMX_VMFUNC => {
            let caps = VmxCapabilities::from_model(model);
            require(caps.msr_list().contains(&msr))?;
            m.vmx.read(msr).ok_or(MsrError::Absent)?
        }
        IA32_TSC_DEADLINE => {
            require(has(Feature::TscDeadline))?;
            state.apic.tsc_deadline
        }
        IA32_PKRS => {
            require(has(Feature::Pks))?;
            m.pkrs
        }
        X2APIC_FIRST..=X2APIC_LAST => {
            require(has(Feature::X2apic) && x2apic_mode(state))?;
            state
                .apic
                .read_x2apic(msr, &apic_env(ctx))
                .map_err(|ApicFault::Gp| MsrError::Invalid)?
        }
        IA32_BNDCFGS => {
            require(has(Feature::Mpx))?;
            m.bndcfgs
        }
        IA32_XSS => {
            require(has(Feature::Xsaves))?;
            m.xss
        }
        IA32_EFER => state.efer,
        IA32_STAR => {
            require(has(Feature::Syscall) || has(Feature::Lm))?;
            m.star
        }
        IA32_LSTAR | IA32_CSTAR | IA32_FMASK | IA32_FS_BASE | IA32_GS_BASE
        | IA32_KERNEL_GS_BASE => {
            require(has(Feature::Lm))?;
            match msr {
                IA32_LSTAR => m.lstar,
                IA32_CSTAR => m.cstar,
                IA32_FMASK => m.fmask,
                IA32_FS_BASE => state.seg(SegReg::Fs).base,
                IA32_GS_BASE => state.seg(SegReg::Gs).base,
                _ => m.kernel_gs_base,
            }
        }
        IA32_TSC_AUX => {
            require(has_tsc_aux(model))?;
            m.tsc_aux
        }
        AMD_VIRT_SPEC_CTRL => {
            require(has(Feature::VirtSsbd))?;
            m.virt_spec_ctrl
        }
        // nestor models no performance counters. The four legacy AMD
        // counters exist on every AMD64 processor, so they read as zero
        // and ignore writes (what KVM does with its PMU disabled).
        AMD_PERF_FIRST..=AMD_PERF_LAST => {
            require(model.vendor == Vendor::Amd)?;
            0
        }
        AMD_VM_CR => {
            require(has(Feature::Svm))?;
            state.nested.svm.vm_cr
        }
        AMD_VM_HSAVE_PA => {
            require(has(Feature::Svm))?;
            state.nested.svm.hsave_pa
        }
        _ => {
            if let Some((bank, reg)) = mc_bank(msr) {
                require(has(Feature::Mca) && bank < MC_BANKS)?;
                let b = &m.mc_banks[bank];
                return Ok([b.ctl, b.status, b.addr, b.misc][reg as usize]);
            }
            if let Some(i) = mtrr::fixed_index(msr) {
                require(has(Feature::Mtrr))?;
                return Ok(m.mtrr_fixed[i]);
            }
            return Err(MsrError::Absent);
        }
    })
}

/// Writes `value` to MSR `msr`.
pub fn write(
    state: &mut VcpuState,
    ctx: &MsrCtx,
    msr: u32,
    value: u64,
    who: Initiator,
) -> Result<MsrEffect, MsrError> {
    let model = ctx.model;
    let has = |f| model.has(f);
    let guest = who == Initiator::Guest;
    let canonical = |v: u64| check(model.is_canonical(v));
    let phys_reserved = !model.phys_addr_mask();

    // Read-only MSRs: the guest gets #GP; the host may write back exactly
    // the value a read returns (restoring a snapshot must not fail on them).
    let read_only = matches!(
        msr,
        IA32_BIOS_SIGN_ID | IA32_MTRRCAP | IA32_MCG_CAP | IA32_ARCH_CAPABILITIES | IA32_PLATFORM_ID
    );
    if read_only {
        let current = read(state, ctx, msr, who)?;
        if msr == IA32_BIOS_SIGN_ID {
            // Writing it asks for a microcode update; nothing to update.
            return Ok(MsrEffect::None);
        }
        check(!guest && value == current)?;
        return Ok(MsrEffect::None);
    }

    let m = &mut state.msrs;
    match msr {
        IA32_TSC => {
            require(has(Feature::Tsc))?;
            let old = guest_tsc(state, ctx.clock_tsc);
            // SDM Vol. 3B 18.17.3: a guest WRMSR to the TSC also adds the same
            // delta to IA32_TSC_ADJUST; a host restore sets only the TSC.
            if guest && has(Feature::TscAdjust) {
                state.msrs.tsc_adjust = state.msrs.tsc_adjust.wrapping_add(value.wrapping_sub(old));
            }
            state.msrs.tsc_offset = value.wrapping_sub(ctx.clock_tsc);
            return Ok(MsrEffect::Timer);
        }
        IA32_TSC_ADJUST => {
            require(has(Feature::TscAdjust))?;
            if guest {
                // A guest write moves the TSC by the same delta.
                let delta = value.wrapping_sub(m.tsc_adjust);
                m.tsc_offset = m.tsc_offset.wrapping_add(delta);
            }
            m.tsc_adjust = value;
            return Ok(MsrEffect::Timer);
        }
        IA32_APIC_BASE => {
            require(has(Feature::Apic))?;
            write_apic_base(state, model, value, guest)?;
            return Ok(MsrEffect::ApicBase);
        }
        IA32_FEATURE_CONTROL => {
            require(has_feature_control(model))?;
            let mut valid = feature_control::LOCK;
            if has(Feature::Vmx) {
                valid |= feature_control::VMXON_OUTSIDE_SMX;
                if has(Feature::Smx) {
                    valid |= feature_control::VMXON_IN_SMX;
                }
            }
            check(value & !valid == 0)?;
            // SDM Vol. 3C 24.7: once locked, writes #GP until RESET.
            check(!guest || m.feature_control & feature_control::LOCK == 0)?;
            m.feature_control = value;
        }
        IA32_SPEC_CTRL => {
            require(has_spec_ctrl_msr(model))?;
            check(value & !spec_ctrl_valid_bits(model) == 0)?;
            m.spec_ctrl = value;
        }
        IA32_PRED_CMD => {
            require(has(Feature::SpecCtrl) || has(Feature::Ibpb))?;
            // Bit 0 IBPB; issuing a barrier has nothing to do here.
            check(value & !1 == 0)?;
        }
        IA32_FLUSH_CMD => {
            require(has(Feature::FlushL1d))?;
            check(value & !1 == 0)?;
        }
        IA32_SYSENTER_CS | IA32_SYSENTER_ESP | IA32_SYSENTER_EIP => {
            require(has(Feature::Sep))?;
            // AMD keeps only 32 bits (SYSENTER does not exist in long mode
            // there); Intel holds canonical 64-bit addresses.
            let v = match (msr, model.vendor) {
                (IA32_SYSENTER_CS, _) | (_, Vendor::Amd) => value & 0xFFFF_FFFF,
                _ => {
                    canonical(value)?;
                    value
                }
            };
            match msr {
                IA32_SYSENTER_CS => m.sysenter_cs = v,
                IA32_SYSENTER_ESP => m.sysenter_esp = v,
                _ => m.sysenter_eip = v,
            }
        }
        IA32_MCG_STATUS => {
            require(has(Feature::Mca))?;
            // RIPV, EIPV, MCIP, LMCE_S.
            check(value & !0xF == 0)?;
            m.mcg_status = value;
        }
        IA32_MCG_CTL => {
            require(mcg_cap(model) & MCG_CTL_P != 0)?;
            // SDM Vol. 3B 16.3.1.3: all ones enables, all zeros disables.
            check(value == 0 || value == u64::MAX)?;
            m.mcg_ctl = value;
        }
        IA32_MISC_ENABLE => {
            require(model.vendor == Vendor::Intel)?;
            let changed = value ^ m.misc_enable;
            check(value & !(misc_enable::WRITABLE | misc_enable::READ_ONLY) == 0)?;
            check(!guest || changed & misc_enable::READ_ONLY == 0)?;
            // Bit 18 (MONITOR/MWAIT enable) is writable whatever the model
            // says; CPUID only shows MONITOR if the model has it *and* the
            // bit is set (kvm-unit-tests' msr test writes it on qemu64).
            check(value & misc_enable::XD_DISABLE == 0 || has(Feature::Nx))?;
            m.misc_enable = value;
            return Ok(MsrEffect::Cpuid);
        }
        IA32_DEBUGCTL => {
            // LBR and BTF.
            check(value & !0x3 == 0)?;
            m.debugctl = value;
        }
        IA32_MTRR_PHYSBASE0..=IA32_MTRR_PHYSMASK7 => {
            require(has(Feature::Mtrr))?;
            let pair = &mut m.mtrr_var[((msr - IA32_MTRR_PHYSBASE0) / 2) as usize];
            if msr.is_multiple_of(2) {
                check(mtrr::valid_mtrr_type(value as u8) && value & (0xF00 | phys_reserved) == 0)?;
                pair.base = value;
            } else {
                check(value & (0x7FF | phys_reserved) == 0)?;
                pair.mask = value;
            }
            return Ok(MsrEffect::Paging);
        }
        IA32_MTRR_DEF_TYPE => {
            require(has(Feature::Mtrr))?;
            check(mtrr::valid_mtrr_type(value as u8) && value & !0xCFF == 0)?;
            m.mtrr_def_type = value;
            return Ok(MsrEffect::Paging);
        }
        IA32_PAT => {
            require(has(Feature::Pat))?;
            check(mtrr::valid_pat(value))?;
            m.pat = value;
            return Ok(MsrEffect::Paging);
        }
        IA32_VMX_BASIC..=IA32_VMX_VMFUNC => {
            let caps = VmxCapabilities::from_model(model);
            require(caps.msr_list().contains(&msr))?;
            // Read-only to the guest (SDM Appendix A).
            check(!guest)?;
            m.vmx
                .restore(&caps, msr, value)
                .map_err(|_| MsrError::Invalid)?;
            return Ok(MsrEffect::Cpuid);
        }
        IA32_TSC_DEADLINE => {
            require(has(Feature::TscDeadline))?;
            state.apic.tsc_deadline = value;
            return Ok(MsrEffect::Timer);
        }
        IA32_PKRS => {
            require(has(Feature::Pks))?;
            check(value >> 32 == 0)?;
            m.pkrs = value;
        }
        X2APIC_FIRST..=X2APIC_LAST => {
            require(has(Feature::X2apic) && x2apic_mode(state))?;
            let env = apic_env(ctx);
            let action = state
                .apic
                .write_x2apic(msr, value, &env)
                .map_err(|ApicFault::Gp| MsrError::Invalid)?;
            return Ok(MsrEffect::Apic(action));
        }
        IA32_BNDCFGS => {
            require(has(Feature::Mpx))?;
            // SDM Vol. 1 17.3.3: bits 11:2 reserved, base must be canonical.
            check(value & 0xFFC == 0)?;
            canonical(value & !0xFFF)?;
            m.bndcfgs = value;
        }
        IA32_XSS => {
            require(has(Feature::Xsaves))?;
            // No supervisor state component is implemented.
            check(value == 0)?;
            m.xss = value;
        }
        IA32_EFER => {
            write_efer(state, model, value, guest)?;
            return Ok(MsrEffect::Paging);
        }
        IA32_STAR => {
            require(has(Feature::Syscall) || has(Feature::Lm))?;
            m.star = value;
        }
        IA32_LSTAR | IA32_CSTAR | IA32_FS_BASE | IA32_GS_BASE | IA32_KERNEL_GS_BASE => {
            require(has(Feature::Lm))?;
            canonical(value)?;
            match msr {
                IA32_LSTAR => m.lstar = value,
                IA32_CSTAR => m.cstar = value,
                IA32_FS_BASE => state.seg_mut(SegReg::Fs).base = value,
                IA32_GS_BASE => state.seg_mut(SegReg::Gs).base = value,
                _ => m.kernel_gs_base = value,
            }
        }
        IA32_FMASK => {
            require(has(Feature::Lm))?;
            // Bits 63:32 are reserved (SDM Vol. 4 Table 2-2).
            check(value >> 32 == 0)?;
            m.fmask = value;
        }
        IA32_TSC_AUX => {
            require(has_tsc_aux(model))?;
            // Intel reserves bits 63:32; AMD ignores them (reads as zero).
            match model.vendor {
                Vendor::Intel => {
                    check(value >> 32 == 0)?;
                    m.tsc_aux = value;
                }
                Vendor::Amd => m.tsc_aux = value & 0xFFFF_FFFF,
            }
        }
        AMD_VIRT_SPEC_CTRL => {
            require(has(Feature::VirtSsbd))?;
            check(value & !spec_ctrl::SSBD == 0)?;
            m.virt_spec_ctrl = value;
        }
        AMD_PERF_FIRST..=AMD_PERF_LAST => require(model.vendor == Vendor::Amd)?,
        AMD_VM_CR => {
            require(has(Feature::Svm))?;
            let svm = &mut state.nested.svm;
            check(value & !vm_cr::VALID == 0)?;
            // APM 15.30.1: with LOCK set, SVMDIS cannot change.
            if guest && svm.vm_cr & vm_cr::LOCK != 0 {
                check((svm.vm_cr ^ value) & (vm_cr::SVMDIS | vm_cr::LOCK) == 0)?;
            }
            svm.vm_cr = value;
        }
        AMD_VM_HSAVE_PA => {
            require(has(Feature::Svm))?;
            // APM 15.30.4: 4 KiB aligned, within the physical-address width.
            if guest {
                check(value & 0xFFF == 0 && value & phys_reserved == 0)?;
            }
            state.nested.svm.hsave_pa = value & !0xFFF;
        }
        _ => {
            if let Some((bank, reg)) = mc_bank(msr) {
                require(has(Feature::Mca) && bank < MC_BANKS)?;
                let b = &mut m.mc_banks[bank];
                match reg {
                    // SDM Vol. 3B 16.3.2.1: MCi_CTL takes all ones or zero
                    // (AMD also lets bits 0 and 10 differ: GART TLB errors).
                    0 => {
                        check(value == 0 || value | (1 << 10) | 1 == u64::MAX)?;
                        b.ctl = value;
                    }
                    // SDM 16.3.2.2: software may only clear MCi_STATUS.
                    1 => {
                        check(!guest || value == 0)?;
                        b.status = value;
                    }
                    2 => b.addr = value,
                    _ => b.misc = value,
                }
                return Ok(MsrEffect::None);
            }
            if let Some(i) = mtrr::fixed_index(msr) {
                require(has(Feature::Mtrr))?;
                check((0..8).all(|b| mtrr::valid_mtrr_type((value >> (8 * b)) as u8)))?;
                m.mtrr_fixed[i] = value;
                return Ok(MsrEffect::Paging);
            }
            return Err(MsrError::Absent);
        }
    }
    Ok(MsrEffect::None)
}

/// APIC modes (SDM Vol. 3A 11.12.5, Figure 11-26 "Local x2APIC State Transitions").
#[derive(Clone, Copy, PartialEq, Eq)]
enum ApicMode {
    Disabled,
    XApic,
    X2Apic,
    Invalid,
}

fn apic_mode(base: u64) -> ApicMode {
    match (base & apic::base::EN != 0, base & apic::base::EXTD != 0) {
        (false, false) => ApicMode::Disabled,
        (true, false) => ApicMode::XApic,
        (true, true) => ApicMode::X2Apic,
        (false, true) => ApicMode::Invalid,
    }
}

fn write_apic_base(
    state: &mut VcpuState,
    model: &CpuModel,
    value: u64,
    guest: bool,
) -> Result<(), MsrError> {
    let mut valid = apic::base::BSP | apic::base::EN | (model.phys_addr_mask() & !0xFFF);
    if model.has(Feature::X2apic) {
        valid |= apic::base::EXTD;
    }
    check(value & !valid == 0)?;
    let old = apic_mode(state.msrs.apic_base);
    let new = apic_mode(value);
    check(new != ApicMode::Invalid)?;
    // A guest cannot go from x2APIC straight to xAPIC, nor from disabled
    // straight to x2APIC; a host restore may set any valid mode.
    if guest {
        check(!(old == ApicMode::X2Apic && new == ApicMode::XApic))?;
        check(!(old == ApicMode::Disabled && new == ApicMode::X2Apic))?;
    }
    state.msrs.apic_base = value;
    if new == ApicMode::X2Apic && old != ApicMode::X2Apic {
        // SDM 11.12.10.2: in x2APIC mode the logical ID is derived from the
        // APIC ID: cluster = ID[19:4], bit ID[3:0] within the cluster.
        // The x2APIC ID is the processor's initial APIC ID, whatever was
        // written to the xAPIC ID register (SDM 11.12.5.1).
        state.apic.id = state.apic.initial_id;
        state.apic.ldr = crate::apic::deliver::x2apic_ldr(state.apic.id);
    }
    if new == ApicMode::Disabled && old != ApicMode::Disabled {
        // SDM 11.4.3: disabling the APIC through IA32_APIC_BASE returns its
        // registers to the power-up state (the ID survives).
        state.apic = crate::apic::LapicState::reset(state.apic.initial_id);
    }
    Ok(())
}

fn write_efer(
    state: &mut VcpuState,
    model: &CpuModel,
    value: u64,
    guest: bool,
) -> Result<(), MsrError> {
    check(value & !efer_valid_bits(model) == 0)?;
    let mut value = value;
    if guest {
        // SDM Vol. 3A 9.8.5: LME cannot change while paging is on; LMA is
        // read-only to software (the processor sets it).
        let paging = state.cr.cr0 & cr0::PG != 0;
        check(!paging || (state.efer ^ value) & efer::LME == 0)?;
        value = (value & !efer::LMA) | (state.efer & efer::LMA);
        // APM 15.30.1: with VM_CR.SVMDIS set, EFER.SVME cannot be set.
        check(value & efer::SVME == 0 || state.nested.svm.vm_cr & vm_cr::SVMDIS == 0)?;
    }
    state.efer = value;
    Ok(())
}
