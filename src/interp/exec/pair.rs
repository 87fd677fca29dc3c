//! Pairs of adjacent ops run by one handler ([`thread::pair`]): the most
//! frequent neighbours in compiled code among register moves, sign
//! extensions, base+displacement LEAs and flat loads and stores — e.g.
//! `movsxd rdx, edx` then `mov eax, [rbx+rdx*4]` for an `int`-indexed
//! array. Running both in one handler saves a dispatch (and the branch
//! prediction it needs) per pair; each op keeps its own handler in its
//! `alt` and the second op keeps its `exec`, which runs when its fast path
//! declines.
//!
//! Which instructions pair is decided from the decoded instruction
//! ([`kind`]); each kind names the handler `data::decode` picks for it, so
//! a pair does exactly what the two ops do one after the other.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::data::{ext_r, lea, mov_mr, mov_mr_full, mov_rm, mov_rm_full, mov_rr};
use super::thread::pair;
use super::{Ctx, Handler, Op, W32, W64};
use crate::interp::cpu::ZERO_REG;
use crate::interp::decode::addr_form;
use crate::interp::mem::{AF_FLAT_BD, AF_FLAT_S1};

/// `base + index * 4 + disp`, flat.
const AF_S4: u8 = AF_FLAT_S1 + 2;

/// The kinds of op that pair, indexes into [`PAIRS`].
const MOV_RR32: u8 = 0;
const MOV_RR64: u8 = 1;
const MOVSXD_RR: u8 = 2;
const LEA32_BD: u8 = 3;
const LOAD32_BD: u8 = 4;
const LOAD32_S4: u8 = 5;
const STORE32_S4: u8 = 6;
const KINDS: usize = 7;

/// The pairing kind of a decoded instruction (with the op `data::decode`
/// filled for it), if it has one.
pub fn kind(insn: &Instruction, op: &Op, ctx: &Ctx) -> Option<u8> {
    let (k0, k1) = (insn.op0_kind(), insn.op1_kind());
    let (r0, r1) = (insn.op0_register(), insn.op1_register());
    let reg = OpKind::Register;
    Some(match insn.mnemonic() {
        Mnemonic::Mov if k0 == reg && k1 == reg && r0.is_gpr32() && r1.is_gpr32() => MOV_RR32,
        Mnemonic::Mov if k0 == reg && k1 == reg && r0.is_gpr64() && r1.is_gpr64() => MOV_RR64,
        Mnemonic::Movsxd if k0 == reg && k1 == reg && r0.is_gpr64() && r1.is_gpr32() => MOVSXD_RR,
        // The `lea::<W32, true, true>` form: no index, address size ≥ 32.
        Mnemonic::Lea if r0.is_gpr32() && op.index == ZERO_REG && op.asize >= 1 => LEA32_BD,
        Mnemonic::Mov if k0 == reg && r0.is_gpr32() && k1 == OpKind::Memory => {
            match addr_form(op, ctx) {
                AF_FLAT_BD => LOAD32_BD,
                AF_S4 => LOAD32_S4,
                _ => return None,
            }
        }
        Mnemonic::Mov if k0 == OpKind::Memory && k1 == reg && r1.is_gpr32() => {
            match addr_form(op, ctx) {
                AF_S4 => STORE32_S4,
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// The handler running ops of kinds `first` and `second` as a pair.
pub fn handler(first: u8, second: u8) -> Option<Handler> {
    PAIRS
        .get(usize::from(first))?
        .get(usize::from(second))
        .copied()
}

// Register-only kinds as fast paths that always succeed.
#[inline(always)]
fn mov_rr32(ctx: &mut Ctx, op: &Op) -> bool {
    mov_rr::<W32>(ctx, op).is_ok()
}
#[inline(always)]
fn mov_rr64(ctx: &mut Ctx, op: &Op) -> bool {
    mov_rr::<W64>(ctx, op).is_ok()
}
#[inline(always)]
fn movsxd_rr(ctx: &mut Ctx, op: &Op) -> bool {
    ext_r::<W64, 32, true>(ctx, op).is_ok()
}
#[inline(always)]
fn lea32_bd(ctx: &mut Ctx, op: &Op) -> bool {
    lea::<W32, true, true>(ctx, op).is_ok()
}

/// One row of [`PAIRS`]: first op of kind (fast path `$a`, full handler
/// `$sa`), second op of each kind in turn.
macro_rules! row {
    ($a:expr, $sa:expr) => {
        [
            pair($a, $sa, mov_rr32, mov_rr::<W32>),
            pair($a, $sa, mov_rr64, mov_rr::<W64>),
            pair($a, $sa, movsxd_rr, ext_r::<W64, 32, true>),
            pair($a, $sa, lea32_bd, lea::<W32, true, true>),
            pair($a, $sa, mov_rm::<W32, AF_FLAT_BD>, mov_rm_full::<W32>),
            pair($a, $sa, mov_rm::<W32, AF_S4>, mov_rm_full::<W32>),
            pair($a, $sa, mov_mr::<W32, AF_S4>, mov_mr_full::<W32>),
        ]
    };
}

/// Pair handlers by (first kind, second kind).
const PAIRS: [[Handler; KINDS]; KINDS] = [
    row!(mov_rr32, mov_rr::<W32>),
    row!(mov_rr64, mov_rr::<W64>),
    row!(movsxd_rr, ext_r::<W64, 32, true>),
    row!(lea32_bd, lea::<W32, true, true>),
    row!(mov_rm::<W32, AF_FLAT_BD>, mov_rm_full::<W32>),
    row!(mov_rm::<W32, AF_S4>, mov_rm_full::<W32>),
    row!(mov_mr::<W32, AF_S4>, mov_mr_full::<W32>),
];
