//! The vCPU state shared by every backend (interpreter and KVM).
//!
//! Everything architecturally visible about one logical processor lives in
//! [`VcpuState`]: registers, MSR values, local APIC registers, activity state,
//! pending events and the nested-virtualization (VMX/SVM) state. Backends may
//! cache parts of it in faster forms (the interpreter keeps lazy flags), but
//! they import and export exactly this type, which is what makes handoff
//! between backends, snapshots and record/replay possible.
//!
//! RESET and INIT are functions of this state ([`reset`]); serialization
//! with a version number lives in [`snapshot`].

pub mod fpu;
pub mod msrs;
pub mod nested;
pub mod reset;
pub mod segment;
pub mod snapshot;

use serde::{Deserialize, Serialize};

pub use crate::apic::LapicState;
pub use fpu::FpuState;
pub use msrs::MsrState;
pub use nested::{NestedState, SvmState, VmxState};
pub use segment::{DescriptorTable, SegReg, Segment};

/// General-purpose register numbers, in the encoding order of ModRM.reg.
pub mod gpr {
    pub const RAX: usize = 0;
    pub const RCX: usize = 1;
    pub const RDX: usize = 2;
    pub const RBX: usize = 3;
    pub const RSP: usize = 4;
    pub const RBP: usize = 5;
    pub const RSI: usize = 6;
    pub const RDI: usize = 7;
    pub const R8: usize = 8;
    pub const R15: usize = 15;
}

/// RFLAGS bits (SDM Vol. 1, 3.4.3 "EFLAGS Register").
pub mod rflags {
    pub const CF: u64 = 1 << 0;
    pub const FIXED1: u64 = 1 << 1;
    pub const PF: u64 = 1 << 2;
    pub const AF: u64 = 1 << 4;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const TF: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const DF: u64 = 1 << 10;
    pub const OF: u64 = 1 << 11;
    pub const IOPL: u64 = 3 << 12;
    pub const NT: u64 = 1 << 14;
    pub const RF: u64 = 1 << 16;
    pub const VM: u64 = 1 << 17;
    pub const AC: u64 = 1 << 18;
    pub const VIF: u64 = 1 << 19;
    pub const VIP: u64 = 1 << 20;
    pub const ID: u64 = 1 << 21;
    /// The arithmetic status flags.
    pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;
}

/// CR0 bits (SDM Vol. 3A, 2.5 "Control Registers").
pub mod cr0 {
    pub const PE: u64 = 1 << 0;
    pub const MP: u64 = 1 << 1;
    pub const EM: u64 = 1 << 2;
    pub const TS: u64 = 1 << 3;
    pub const ET: u64 = 1 << 4;
    pub const NE: u64 = 1 << 5;
    pub const WP: u64 = 1 << 16;
    pub const AM: u64 = 1 << 18;
    pub const NW: u64 = 1 << 29;
    pub const CD: u64 = 1 << 30;
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits (SDM Vol. 3A, 2.5).
pub mod cr4 {
    pub const VME: u64 = 1 << 0;
    pub const PVI: u64 = 1 << 1;
    pub const TSD: u64 = 1 << 2;
    pub const DE: u64 = 1 << 3;
    pub const PSE: u64 = 1 << 4;
    pub const PAE: u64 = 1 << 5;
    pub const MCE: u64 = 1 << 6;
    pub const PGE: u64 = 1 << 7;
    pub const PCE: u64 = 1 << 8;
    pub const OSFXSR: u64 = 1 << 9;
    pub const OSXMMEXCPT: u64 = 1 << 10;
    pub const UMIP: u64 = 1 << 11;
    pub const LA57: u64 = 1 << 12;
    pub const VMXE: u64 = 1 << 13;
    pub const SMXE: u64 = 1 << 14;
    pub const FSGSBASE: u64 = 1 << 16;
    pub const PCIDE: u64 = 1 << 17;
    pub const OSXSAVE: u64 = 1 << 18;
    pub const SMEP: u64 = 1 << 20;
    pub const SMAP: u64 = 1 << 21;
    pub const PKE: u64 = 1 << 22;
    pub const CET: u64 = 1 << 23;
    pub const PKS: u64 = 1 << 24;
    pub const LAM_SUP: u64 = 1 << 28;
}

/// EFER bits (SDM Vol. 3A 2.2.1, APM Vol. 2 3.1.7).
pub mod efer {
    pub const SCE: u64 = 1 << 0;
    pub const LME: u64 = 1 << 8;
    pub const LMA: u64 = 1 << 10;
    pub const NXE: u64 = 1 << 11;
    pub const SVME: u64 = 1 << 12;
    pub const LMSLE: u64 = 1 << 13;
    pub const FFXSR: u64 = 1 << 14;
    pub const TCE: u64 = 1 << 15;
}

/// Control registers. CR8 is the local APIC's TPR and lives in [`LapicState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRegs {
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
}

/// Debug registers DR0–DR3, DR6, DR7 (DR4/DR5 alias DR6/DR7 when CR4.DE=0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugRegs {
    pub dr: [u64; 4],
    pub dr6: u64,
    pub dr7: u64,
}

/// DR6 bits (SDM Vol. 3B 18.2.3 "Debug Status Register (DR6)").
pub mod dr6 {
    /// B0–B3: breakpoint condition n was met (bit n).
    pub const B_MASK: u64 = 0xF;
    /// BD: the next instruction accesses a debug register (DR7.GD = 1).
    pub const BD: u64 = 1 << 13;
    /// BS: single-step trap (RFLAGS.TF).
    pub const BS: u64 = 1 << 14;
    /// BT: task switch to a TSS with T = 1.
    pub const BT: u64 = 1 << 15;
    /// Bits that read as 1: 11:4 (bit 11 is the active-low BLD), 16 (the
    /// active-low RTM bit; RTM debugging is not modelled) and 31:17.
    pub const FIXED1: u64 = 0xFFFF_0FF0;
    /// The bits software can write.
    pub const WRITABLE: u64 = B_MASK | BD | BS | BT;
}

/// DR7 bits (SDM Vol. 3B 18.2.4 "Debug Control Register (DR7)").
pub mod dr7 {
    /// L0..L3 / G0..G3 at bits 2n / 2n + 1: breakpoint n enabled.
    pub const ENABLE_MASK: u64 = 0xFF;
    /// Bit 10 reads as 1.
    pub const FIXED1: u64 = 1 << 10;
    /// GD: MOV to or from a debug register raises #DB (general detect).
    pub const GD: u64 = 1 << 13;
    /// Bits 0–9, 11 (RTM), 13 and 16–31 are writable.
    pub const WRITABLE: u64 = 0xFFFF_2BFF;
    /// R/Wn (2 bits at 16 + 4n): 00 execute, 01 write, 10 I/O (CR4.DE = 1),
    /// 11 read or write.
    pub fn rw(dr7: u64, n: usize) -> u64 {
        (dr7 >> (16 + 4 * n)) & 3
    }
    /// LENn (2 bits at 18 + 4n) as a byte count: 00 → 1, 01 → 2, 10 → 8,
    /// 11 → 4.
    pub fn len(dr7: u64, n: usize) -> u64 {
        [1, 2, 8, 4][((dr7 >> (18 + 4 * n)) & 3) as usize]
    }
    /// Is breakpoint n enabled (Ln or Gn)?
    pub fn enabled(dr7: u64, n: usize) -> bool {
        dr7 & (3 << (2 * n)) != 0
    }
}

/// What the processor is doing (SDM Vol. 3C 25.4.2 "Guest Non-Register State",
/// activity states; APM Vol. 2 15.x for the SVM equivalents).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activity {
    #[default]
    Active,
    /// Stopped by HLT until an interrupt, NMI, SMI or INIT.
    Halted,
    /// After a triple fault (or a machine check with MCE disabled): only
    /// NMI/SMI/INIT/RESET leave it.
    Shutdown,
    /// An application processor after INIT: waits for a startup IPI.
    WaitForSipi,
}

/// Interrupt-shadow bits (SDM Vol. 3C 25.4.2, "interruptibility state").
pub mod shadow {
    pub const STI: u8 = 1 << 0;
    pub const MOV_SS: u8 = 1 << 1;
}

/// An exception raised but not yet delivered (or being re-delivered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingException {
    pub vector: u8,
    pub error_code: Option<u32>,
    /// CR2 for #PF, DR6 bits for #DB, applied when the exception is delivered.
    pub payload: Option<u64>,
}

/// Events that are pending or in flight between instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEvents {
    pub exception: Option<PendingException>,
    /// An external interrupt vector acknowledged from the interrupt
    /// controller but not yet delivered through the IDT.
    pub injected_interrupt: Option<u8>,
    /// An NMI is latched and waits for delivery.
    pub nmi_pending: bool,
    /// NMIs are blocked (an NMI handler is running and IRET has not happened).
    pub nmi_blocked: bool,
    /// [`shadow`] bits: blocking by STI / by MOV SS for one instruction.
    pub interrupt_shadow: u8,
    /// Pending debug exceptions: DR6 bits (B0–B3, BS) of trap-class #DB
    /// conditions recognised on a MOV SS / POP SS and held until the next
    /// instruction completes (SDM Vol. 3A 7.8.3; the VMX guest-state field
    /// of the same name, SDM Vol. 3C 25.4.2).
    #[serde(default)]
    pub pending_dbg: u64,
    /// An INIT is latched (e.g. blocked in VMX root operation or by GIF=0).
    pub init_pending: bool,
    /// A startup IPI vector latched for a processor in wait-for-SIPI.
    pub sipi_vector: Option<u8>,
}

/// The complete architectural state of one logical processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VcpuState {
    /// RAX..R15, indexed by [`gpr`].
    pub gpr: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
    /// ES, CS, SS, DS, FS, GS, indexed by [`SegReg`]. FS/GS bases are the
    /// IA32_FS_BASE / IA32_GS_BASE MSRs.
    pub seg: [Segment; 6],
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: DescriptorTable,
    pub idtr: DescriptorTable,
    pub cr: ControlRegs,
    pub dr: DebugRegs,
    pub efer: u64,
    pub xcr0: u64,
    pub fpu: FpuState,
    pub msrs: MsrState,
    pub apic: LapicState,
    pub activity: Activity,
    pub events: PendingEvents,
    pub nested: NestedState,
    /// Whether this processor is the bootstrap processor (IA32_APIC_BASE.BSP
    /// mirrors it after RESET).
    pub is_bsp: bool,
}

impl VcpuState {
    #[inline]
    pub fn seg(&self, s: SegReg) -> &Segment {
        &self.seg[s as usize]
    }
    #[inline]
    pub fn seg_mut(&mut self, s: SegReg) -> &mut Segment {
        &mut self.seg[s as usize]
    }
    /// IA-32e mode active (EFER.LMA).
    pub fn long_mode_active(&self) -> bool {
        self.efer & efer::LMA != 0
    }
    /// Current privilege level: CS.DPL in protected mode (SS.DPL is the
    /// architectural CPL; they are equal except transiently), 0 in real mode,
    /// 3 in virtual-8086 mode.
    pub fn cpl(&self) -> u8 {
        if self.cr.cr0 & cr0::PE == 0 {
            0
        } else if self.rflags & rflags::VM != 0 {
            3
        } else {
            self.seg(SegReg::Ss).dpl()
        }
    }
}
