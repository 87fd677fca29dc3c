//! RESET and INIT as functions of the vCPU state.
//!
//! Sources: Intel SDM Vol. 3A Table 10-1 "IA-32 and Intel 64 Processor
//! States Following Power-up, Reset, or INIT" (9-1 in older editions) and
//! 11.4.7 for the local APIC; AMD APM Vol. 2 Table 14-1 "Initial Processor
//! State" and 14.1.3. Tests in `tests/reset_init.rs` cite the rows.

use super::msrs::{MC_BANKS, MTRR_FIXED_COUNT, MTRR_VAR_COUNT, McBank, PAT_RESET, VariableMtrr};
use super::segment::ar;
use super::{
    Activity, ControlRegs, DebugRegs, DescriptorTable, FpuState, MsrState, NestedState,
    PendingEvents, SegReg, Segment, VcpuState, cr0, gpr,
};
use crate::apic::{self, LapicState};
use crate::model::vmx_caps::VmxCapabilities;
use crate::model::{CpuModel, Feature, Vendor};
use crate::msr;

/// CR0 after RESET: CD, NW and ET set (SDM Table 10-1 row "CR0").
pub const CR0_RESET: u64 = 0x6000_0010;
/// DR6 after RESET and INIT (SDM Table 10-1 row "DR6").
pub const DR6_RESET: u64 = 0xFFFF_0FF0;
/// DR7 after RESET and INIT (SDM Table 10-1 row "DR7").
pub const DR7_RESET: u64 = 0x400;
/// SMBASE after RESET (SDM Vol. 3C 32.5 "SMI Handler Execution Environment").
pub const SMBASE_RESET: u64 = 0x3_0000;

/// Segment attributes after RESET and INIT, which the vendors' tables give
/// differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetSegmentAttrs {
    pub cs: u32,
    pub data: u32,
    pub ldtr: u32,
    pub tr: u32,
}

/// Intel, SDM Table 10-1: rows "CS" and "SS, DS, ES, FS, GS" give
/// "Present, R/W, Accessed" (type 3, 0x93 — CS too, a writable-data type);
/// rows "LDTR" and "Task Register" give "Present, R/W" without a type: LDT
/// (0x82) and busy 32-bit TSS (0x8B), the types VM entry accepts.
pub const INTEL_RESET_ATTRS: ResetSegmentAttrs = ResetSegmentAttrs {
    cs: ar::P | ar::S | ar::RW | ar::ACCESSED,
    data: ar::P | ar::S | ar::RW | ar::ACCESSED,
    ldtr: ar::P | ar::TYPE_LDT,
    tr: ar::P | ar::TYPE_TSS_BUSY,
};

/// AMD, APM Vol. 2 Table 14-2 "Initial State of Segment-Register
/// Attributes": CS execute/read code (0x9A), data read/write (0x92), LDTR
/// LDT (0x82), TR busy 16-bit TSS (0x83); none accessed.
pub const AMD_RESET_ATTRS: ResetSegmentAttrs = ResetSegmentAttrs {
    cs: ar::P | ar::S | ar::CODE | ar::RW,
    data: ar::P | ar::S | ar::RW,
    ldtr: ar::P | ar::TYPE_LDT,
    tr: ar::P | ar::TYPE_TSS16_BUSY,
};

/// The segment attributes after RESET/INIT for `vendor`.
pub fn reset_attrs(vendor: Vendor) -> ResetSegmentAttrs {
    match vendor {
        Vendor::Intel => INTEL_RESET_ATTRS,
        Vendor::Amd => AMD_RESET_ATTRS,
    }
}

/// What the backend must do after RESET or INIT besides loading the state:
/// translations and decoded instructions are invalid (SDM 10.1: "the TLBs
/// and BTB are invalidated as with a hardware reset"; the mode changed too).
#[must_use = "RESET/INIT invalidate TLBs and decoded-instruction caches"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachesInvalidated;

/// Parameters of a RESET besides the model.
#[derive(Clone, Copy, Debug)]
pub struct ResetParams {
    pub apic_id: u32,
    pub is_bsp: bool,
    /// The VM's virtual TSC clock now (the guest TSC restarts at 0).
    pub clock_tsc: u64,
}

/// Registers common to RESET and INIT on both vendors: general registers,
/// RIP, RFLAGS, segments, descriptor tables, CR2–CR4, EFER, events.
fn load_common(s: &mut VcpuState, model: &CpuModel) {
    // SDM Table 10-1 rows "EAX, EBX, ECX, EBP, ESP, ESI, EDI" = 0 (EAX holds
    // the BIST result only if BIST was requested, which nestor never does),
    // row "EDX" = 000n06xxH: the processor signature of CPUID.01H:EAX.
    s.gpr = [0; 16];
    s.gpr[gpr::RDX] = u64::from(model.signature());
    // Rows "EIP" = FFF0H, "EFLAGS" = 00000002H.
    s.rip = 0xFFF0;
    s.rflags = 0x2;
    // Row "CS": selector F000H, base FFFF0000H, limit FFFFH; the other
    // segments selector 0, base 0, limit FFFFH (attributes per vendor).
    let attrs = reset_attrs(model.vendor);
    *s.seg_mut(SegReg::Cs) = Segment::new(0xF000, 0xFFFF_0000, 0xFFFF, attrs.cs);
    for sr in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
        *s.seg_mut(sr) = Segment::new(0, 0, 0xFFFF, attrs.data);
    }
    // Rows "GDTR, IDTR": base 0, limit FFFFH; "LDTR, Task Register".
    s.gdtr = DescriptorTable {
        base: 0,
        limit: 0xFFFF,
    };
    s.idtr = DescriptorTable {
        base: 0,
        limit: 0xFFFF,
    };
    s.ldtr = Segment::new(0, 0, 0xFFFF, attrs.ldtr);
    s.tr = Segment::new(0, 0, 0xFFFF, attrs.tr);
    // Rows "CR2, CR3, CR4" = 0.
    s.cr.cr2 = 0;
    s.cr.cr3 = 0;
    s.cr.cr4 = 0;
    // IA32_EFER = 0 (APM Table 14-1 row "EFER"; Intel clears it on INIT too).
    s.efer = 0;
    // Nothing pending survives: exceptions, injected events, shadows, NMI
    // latches, a latched INIT/SIPI.
    s.events = PendingEvents::default();
    // The BSP begins at the reset vector; APs wait for a startup IPI
    // (SDM 9.4 "Multiple-Processor (MP) Initialization").
    s.activity = if s.is_bsp {
        Activity::Active
    } else {
        Activity::WaitForSipi
    };
}

impl VcpuState {
    /// The state after power-up / RESET.
    pub fn reset(model: &CpuModel, p: ResetParams) -> (VcpuState, CachesInvalidated) {
        let mut apic_base = 0;
        if model.has(Feature::Apic) {
            // BSP flag on the bootstrap processor only. Intel (SDM 11.12.5.1):
            // "on coming out of reset, the local APIC unit is enabled and is
            // in the xAPIC mode". AMD (APM Vol. 2 16.3.1): "a RESET clears
            // the AE bit and EXTD bit, disabling the local APIC" (firmware
            // enables it).
            apic_base = apic::APIC_DEFAULT_BASE;
            if model.vendor == Vendor::Intel {
                apic_base |= apic::base::EN;
            }
            if p.is_bsp {
                apic_base |= apic::base::BSP;
            }
        }
        let mca = model.has(Feature::Mca);
        let msrs = MsrState {
            // Row "Time-Stamp Counter" = 0.
            tsc_offset: 0u64.wrapping_sub(p.clock_tsc),
            tsc_adjust: 0,
            tsc_aux: 0,
            apic_base,
            kernel_gs_base: 0,
            sysenter_cs: 0,
            sysenter_esp: 0,
            sysenter_eip: 0,
            star: 0,
            lstar: 0,
            cstar: 0,
            fmask: 0,
            // SDM 13.12.4 Table 13-12: PAT entries WB, WT, UC-, UC.
            pat: PAT_RESET,
            // Row "MTRRs": disabled (IA32_MTRR_DEF_TYPE.E = 0) after RESET.
            mtrr_def_type: 0,
            mtrr_fixed: [0; MTRR_FIXED_COUNT],
            mtrr_var: [VariableMtrr::default(); MTRR_VAR_COUNT],
            misc_enable: msr::misc_enable_reset(model),
            mcg_status: 0,
            // Machine-check reporting enabled for every bank (as QEMU does;
            // the SDM leaves MCi_CTL undefined after RESET).
            mcg_ctl: if mca { u64::MAX } else { 0 },
            mc_banks: [McBank {
                ctl: if mca { u64::MAX } else { 0 },
                ..McBank::default()
            }; MC_BANKS],
            // SDM Vol. 3C 24.7: IA32_FEATURE_CONTROL is cleared (unlocked) by RESET.
            feature_control: 0,
            spec_ctrl: 0,
            virt_spec_ctrl: 0,
            debugctl: 0,
            bndcfgs: 0,
            xss: 0,
            pkrs: 0,
            smbase: SMBASE_RESET,
            vmx: VmxCapabilities::from_model(model),
        };
        let mut s = VcpuState {
            gpr: [0; 16],
            rip: 0,
            rflags: 0,
            seg: [Segment::default(); 6],
            ldtr: Segment::default(),
            tr: Segment::default(),
            gdtr: DescriptorTable::default(),
            idtr: DescriptorTable::default(),
            cr: ControlRegs {
                cr0: CR0_RESET,
                ..ControlRegs::default()
            },
            // Rows "DR0–DR3" = 0, "DR6" = FFFF0FF0H, "DR7" = 00000400H.
            dr: DebugRegs {
                dr: [0; 4],
                dr6: DR6_RESET,
                dr7: DR7_RESET,
            },
            efer: 0,
            // SDM 13.3 "Enabling the XSAVE Feature Set": XCR0 = 1 after RESET.
            xcr0: 1,
            // Rows "x87 FPU Control Word" 0040H, "Tag Word" 5555H, "MXCSR" 1F80H ...
            fpu: FpuState::reset(),
            msrs,
            apic: LapicState::reset(p.apic_id),
            activity: Activity::Active,
            events: PendingEvents::default(),
            // GIF is set by RESET (APM 15.17); no VMX operation.
            nested: NestedState::default(),
            is_bsp: p.is_bsp,
        };
        load_common(&mut s, model);
        (s, CachesInvalidated)
    }

    /// INIT: what RESET does, except that CR0.CD/NW, the x87/SSE/AVX state,
    /// XCR0, the TSC, every MSR (PAT, MTRRs, SYSENTER/SYSCALL MSRs,
    /// KERNEL_GS_BASE, IA32_APIC_BASE, IA32_FEATURE_CONTROL, ...), SMBASE and
    /// the APIC ID are preserved (SDM Table 10-1 column "INIT"; SDM 10.1
    /// "the internal caches, MSRs, MTRRs, and x87 FPU state are left
    /// unchanged"; 11.4.7.3 for the APIC).
    ///
    /// The caller decides whether INIT may happen now: it is blocked in VMX
    /// root operation and while GIF = 0, and becomes a VM exit in VMX
    /// non-root operation or under an SVM INIT intercept.
    pub fn init(&mut self, model: &CpuModel) -> CachesInvalidated {
        // Row "CR0": INIT keeps CD and NW, sets ET and clears the rest.
        self.cr.cr0 = (self.cr.cr0 & (cr0::CD | cr0::NW)) | cr0::ET;
        // Which processor is the BSP does not change (IA32_APIC_BASE.BSP is
        // preserved); APs go back to wait-for-SIPI.
        if model.has(Feature::Apic) {
            self.is_bsp = self.msrs.apic_base & apic::base::BSP != 0;
        }
        load_common(self, model);
        match model.vendor {
            Vendor::Intel => {
                // SDM Table 10-1 column "INIT": DR0–DR3 0, DR6 FFFF0FF0H,
                // DR7 400H; IA32_XSS, the MPX bound registers, BNDCFGU and
                // IA32_BNDCFGS are cleared.
                self.dr = DebugRegs {
                    dr: [0; 4],
                    dr6: DR6_RESET,
                    dr7: DR7_RESET,
                };
                self.msrs.xss = 0;
                self.msrs.bndcfgs = 0;
                self.fpu.bnd = [[0; 2]; 4];
                self.fpu.bndcfgu = 0;
                self.fpu.bndstatus = 0;
            }
            // APM Vol. 2 Table 14-1: DR0–DR3, DR6 and DR7 "Not modified" by INIT.
            Vendor::Amd => {}
        }
        // SDM 11.4.7.3: the local APIC returns to its power-up state except
        // for the APIC ID.
        let initial_id = self.apic.initial_id;
        self.apic = LapicState::reset(self.apic.id);
        self.apic.initial_id = initial_id;
        CachesInvalidated
    }
}
