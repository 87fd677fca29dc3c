//! Differences that come from this host's KVM rather than the interpreter,
//! each documented in docs/difftest.md ("Findings"). A difference is a
//! quirk only if *every* item of it fits the quirk's pattern.
//!
//! The ground truth is CPL-3 code, which this host's (paravirtual) KVM runs
//! on the processor. CPL-0 code it runs through KVM's instruction emulator
//! (its upstream `arch/x86/kvm/emulate.c` behaviour shows through), so
//! CPL-0 differences the emulator explains are quirks too.

use iced_x86::Mnemonic;

use super::generate::Sequence;
use super::lockstep::{Difference, Item};
use super::sandbox::Privilege;
use crate::state::rflags;

/// Quirk names (the keys of the summary and of docs/difftest.md).
pub const PUSHF_IF: &str = "cpl3-pushf-shows-if";
pub const NT_DROPPED: &str = "cpl3-nt-dropped";
pub const AC_CHECKS: &str = "cpl3-ac-checks-alignment";
pub const GP_REEMULATED: &str = "cpl3-gp-reemulated";
pub const EMU_LZCNT_TZCNT: &str = "cpl0-emulator-lzcnt-tzcnt";
pub const EMU_MOVBE: &str = "cpl0-emulator-movbe-ud";
pub const EMU_CMPS_ORDER: &str = "cpl0-emulator-cmps-order";
pub const EMU_CMPXCHG32: &str = "cpl0-emulator-cmpxchg-zero-extends";
pub const EMU_REP_FLAGS: &str = "cpl0-emulator-rep-flags-uncommitted";

fn exits(d: &Difference) -> Option<(&str, &str)> {
    d.items.iter().find_map(|i| match i {
        Item::Exit { kvm, interp } => Some((kvm.as_str(), interp.as_str())),
        _ => None,
    })
}

/// Does every item satisfy `f`?
fn all(d: &Difference, f: impl Fn(&Item) -> bool) -> bool {
    !d.items.is_empty() && d.items.iter().all(f)
}

/// The quirk that explains `d`, if any.
pub fn classify(seq: &Sequence, d: &Difference) -> Option<&'static str> {
    let m = seq.instrs.get(d.step)?.instr.mnemonic();
    match seq.privilege {
        Privilege::User => user(m, d),
        Privilege::Kernel => kernel(m, d),
    }
}

fn user(m: Mnemonic, d: &Difference) -> Option<&'static str> {
    // PUSHF at CPL 3 pushes IF = 1: the guest's user code runs with the
    // host's interrupts enabled. (The compared quadword is 8-byte aligned
    // and RSP may not be: IF, bit 1 of the image's second byte, may sit
    // in any byte of it.)
    // With NT set too (next quirk), the image differs in NT as well: both
    // are in the image's second byte (IF bit 1, NT bit 6).
    let if_nt = |k: u64, i: u64| {
        (0..8).any(|j| {
            let (kb, ib) = ((k >> (8 * j)) & 0xFF, (i >> (8 * j)) & 0xFF);
            k ^ i == (kb ^ ib) << (8 * j) && kb & !ib == 0x02 && (ib & !kb) & !0x40 == 0
        })
    };
    if matches!(m, Mnemonic::Pushfq | Mnemonic::Pushf)
        && d.items.iter().any(|i| matches!(i, Item::Mem { .. }))
        && all(d, |i| match i {
            Item::Mem { kvm, interp, .. } => if_nt(*kvm, *interp),
            Item::Flags {
                kvm,
                interp,
                undefined,
            } => (kvm ^ interp) & !undefined == rflags::NT,
            _ => false,
        })
    {
        return Some(PUSHF_IF);
    }
    // NT set in RFLAGS (by an earlier POPF, carried in through
    // KVM_SET_REGS) is gone after the next CPL-3 instruction.
    if d.rflags & rflags::NT != 0
        && all(d, |i| {
            matches!(i, Item::Flags { kvm, interp, undefined }
                if (kvm ^ interp) & !undefined == rflags::NT && kvm & rflags::NT == 0)
        })
    {
        return Some(NT_DROPPED);
    }
    if let Some((kvm, interp)) = exits(d) {
        // RFLAGS.AC = 1 raises #AC on misaligned accesses although the
        // guest's CR0.AM is 0 (the host's CR0.AM applies).
        if kvm == "#AC" && d.rflags & rflags::AC != 0 {
            return Some(AC_CHECKS);
        }
        // KVM intercepts #GP raised at CPL 3 and runs the instruction
        // again in its emulator, which reports its own exception: #UD for
        // instructions it does not know (CRC32, BMI, MOVBE, ADX...), #PF
        // for CMPS whose other operand faults, #SS for SS-based operands.
        if interp == "#GP" && kvm != "#GP" {
            return Some(GP_REEMULATED);
        }
    }
    None
}

fn kernel(m: Mnemonic, d: &Difference) -> Option<&'static str> {
    match m {
        // The emulator ignores the F3 prefix of LZCNT/TZCNT and runs BSR/BSF.
        Mnemonic::Lzcnt | Mnemonic::Tzcnt => Some(EMU_LZCNT_TZCNT),
        // The emulator raises #UD for MOVBE.
        Mnemonic::Movbe if exits(d).is_some_and(|(k, _)| k == "#UD") => Some(EMU_MOVBE),
        // The emulator reads DS:RSI before ES:RDI; the processor reads
        // ES:RDI first (seen at CPL 3), as the interpreter does.
        Mnemonic::Cmpsb | Mnemonic::Cmpsw | Mnemonic::Cmpsd | Mnemonic::Cmpsq
            if all(d, |i| {
                matches!(i, Item::Exit { .. } | Item::Value { name: "cr2", .. })
            }) =>
        {
            Some(EMU_CMPS_ORDER)
        }
        // A failing 32-bit CMPXCHG with a register destination: the
        // emulator writes the destination back, clearing bits 63:32; the
        // processor leaves it alone (no such difference at CPL 3).
        Mnemonic::Cmpxchg
            if all(
                d,
                |i| matches!(i, Item::Value { kvm, interp, .. } if *kvm == interp & 0xFFFF_FFFF),
            ) =>
        {
            Some(EMU_CMPXCHG32)
        }
        // REPE/REPNE SCAS or CMPS faulting after some iterations: the
        // emulator commits RCX and RDI of the completed iterations but
        // pushes RFLAGS as they were before the instruction. The processor
        // keeps the flags of the last completed iteration (each iteration
        // sets them; SDM Vol. 2B REP: a fault leaves the registers as the
        // completed iterations left them), as the interpreter does. Seen in
        // seq. 29148 of seed 1: `repne scasw` with DF = 1, the first
        // iteration compares, the second takes a #PF.
        Mnemonic::Scasb
        | Mnemonic::Scasw
        | Mnemonic::Scasd
        | Mnemonic::Scasq
        | Mnemonic::Cmpsb
        | Mnemonic::Cmpsw
        | Mnemonic::Cmpsd
        | Mnemonic::Cmpsq
            if all(d, |i| {
                matches!(i, Item::Flags { kvm, interp, .. }
                    if (kvm ^ d.rflags) & rflags::STATUS == 0 && (kvm ^ interp) & !rflags::STATUS == 0)
            }) =>
        {
            Some(EMU_REP_FLAGS)
        }
        _ => None,
    }
}
