//! Pairs of adjacent ops run by one handler ([`thread::pair`]): the most
//! frequent neighbours in compiled code among register moves, sign
//! extensions, base+displacement LEAs, register ADD/SUB and flat loads
//! and stores — e.g.
//! `movsxd rdx, edx` then `mov eax, [rbx+rdx*4]` for an `int`-indexed
//! array. Running both in one handler saves a dispatch (and the branch
//! prediction it needs) per pair; each op keeps its own handler in its
//! `alt` and the second op keeps its `exec`, which runs when its fast path
//! declines.
//!
//! Which instructions pair is decided from the decoded instruction
//! ([`kind`]); each kind names the handler `data::decode` or `alu::decode`
//! picks for it (or the flag-less form the block builder substitutes when
//! the flags are dead, `alu::dead_flags_form`), so a pair does exactly
//! what the two ops do one after the other.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::alu::{ADD, SUB, alu_ri, alu_ri_nf, alu_rr, alu_rr_nf};
use super::data::{
    ext_r, lea, mov_mi, mov_mi_full, mov_mr, mov_mr_full, mov_rm, mov_rm_full, mov_rr,
};
use super::thread::pair;
use super::{Ctx, Handler, Op, W8, W32, W64};
use crate::interp::cpu::ZERO_REG;
use crate::interp::decode::addr_form;
use crate::interp::mem::{AF_FLAT_BD, AF_FLAT_S1};

/// `base + index * 4 + disp`, flat.
const AF_S4: u8 = AF_FLAT_S1 + 2;

// The kinds of op that pair, indexes into `PAIRS`.
const MOV_RR32: u8 = 0;
const MOV_RR64: u8 = 1;
const MOVSXD_RR: u8 = 2;
const LEA32_BD: u8 = 3;
const LOAD32_BD: u8 = 4;
const LOAD32_S4: u8 = 5;
const STORE32_S4: u8 = 6;
const STORE8_BD: u8 = 7;
const STORE8_IMM_BD: u8 = 8;
const ADD_RR32: u8 = 9;
const ADD_RR32_NF: u8 = 10;
const ADD_RI64: u8 = 11;
const ADD_RI64_NF: u8 = 12;
const SUB_RI64_NF: u8 = 13;
const ADD_RI32: u8 = 14;
const ADD_RI32_NF: u8 = 15;
const SUB_RI32: u8 = 16;
const SUB_RI32_NF: u8 = 17;
const KINDS: usize = 18;

/// The pairing kinds of a decoded instruction (with the op the family
/// decoder filled for it): with its flags live, and with its flags dead
/// (the block builder then runs it without them).
pub fn kind(insn: &Instruction, op: &Op, ctx: &Ctx) -> (Option<u8>, Option<u8>) {
    let (k0, k1) = (insn.op0_kind(), insn.op1_kind());
    let (r0, r1) = (insn.op0_register(), insn.op1_register());
    let reg = OpKind::Register;
    let mem = OpKind::Memory;
    let imm = matches!(k1, OpKind::Immediate8to64 | OpKind::Immediate32to64);
    let imm32 = matches!(k1, OpKind::Immediate8to32 | OpKind::Immediate32);
    let same = |k| (Some(k), Some(k));
    match insn.mnemonic() {
        Mnemonic::Mov if k0 == reg && k1 == reg && r0.is_gpr32() && r1.is_gpr32() => same(MOV_RR32),
        Mnemonic::Mov if k0 == reg && k1 == reg && r0.is_gpr64() && r1.is_gpr64() => same(MOV_RR64),
        Mnemonic::Movsxd if k0 == reg && k1 == reg && r0.is_gpr64() && r1.is_gpr32() => {
            same(MOVSXD_RR)
        }
        // The `lea::<W32, true, true>` form: no index, address size ≥ 32.
        Mnemonic::Lea if r0.is_gpr32() && op.index == ZERO_REG && op.asize >= 1 => same(LEA32_BD),
        Mnemonic::Mov if k0 == reg && r0.is_gpr32() && k1 == mem => match addr_form(op, ctx) {
            AF_FLAT_BD => same(LOAD32_BD),
            AF_S4 => same(LOAD32_S4),
            _ => (None, None),
        },
        Mnemonic::Mov if k0 == mem && k1 == reg && r1.is_gpr32() => match addr_form(op, ctx) {
            AF_S4 => same(STORE32_S4),
            _ => (None, None),
        },
        // Not AH–BH (register numbers 16–19 in the op).
        Mnemonic::Mov if k0 == mem && k1 == reg && r1.is_gpr8() && op.r1 < 16 => {
            match addr_form(op, ctx) {
                AF_FLAT_BD => same(STORE8_BD),
                _ => (None, None),
            }
        }
        Mnemonic::Mov if k0 == mem && k1 == OpKind::Immediate8 => match addr_form(op, ctx) {
            AF_FLAT_BD => same(STORE8_IMM_BD),
            _ => (None, None),
        },
        Mnemonic::Add if k0 == reg && k1 == reg && r0.is_gpr32() && r1.is_gpr32() => {
            (Some(ADD_RR32), Some(ADD_RR32_NF))
        }
        Mnemonic::Add if k0 == reg && imm && r0.is_gpr64() => (Some(ADD_RI64), Some(ADD_RI64_NF)),
        Mnemonic::Sub if k0 == reg && imm && r0.is_gpr64() => (None, Some(SUB_RI64_NF)),
        Mnemonic::Add if k0 == reg && imm32 && r0.is_gpr32() => (Some(ADD_RI32), Some(ADD_RI32_NF)),
        Mnemonic::Sub if k0 == reg && imm32 && r0.is_gpr32() => (Some(SUB_RI32), Some(SUB_RI32_NF)),
        _ => (None, None),
    }
}

/// The handler running ops of kinds `first` and `second` as a pair.
pub fn handler(first: u8, second: u8) -> Option<Handler> {
    PAIRS
        .get(usize::from(first))?
        .get(usize::from(second))
        .copied()
}

// Register-only kinds as fast paths that always succeed.
macro_rules! always {
    ($($name:ident => $f:expr;)*) => {
        $(
            #[inline(always)]
            fn $name(ctx: &mut Ctx, op: &Op) -> bool {
                $f(ctx, op).is_ok()
            }
        )*
    };
}
always! {
    mov_rr32 => mov_rr::<W32>;
    mov_rr64 => mov_rr::<W64>;
    movsxd_rr => ext_r::<W64, 32, true>;
    lea32_bd => lea::<W32, true, true>;
    add_rr32 => alu_rr::<W32, ADD>;
    add_rr32_nf => alu_rr_nf::<W32, ADD>;
    add_ri64 => alu_ri::<W64, ADD>;
    add_ri64_nf => alu_ri_nf::<W64, ADD>;
    sub_ri64_nf => alu_ri_nf::<W64, SUB>;
    add_ri32 => alu_ri::<W32, ADD>;
    add_ri32_nf => alu_ri_nf::<W32, ADD>;
    sub_ri32 => alu_ri::<W32, SUB>;
    sub_ri32_nf => alu_ri_nf::<W32, SUB>;
}

/// The fast path and full handler of each kind, in kind order, handed to
/// macro `$m` with the extra arguments `$x`.
macro_rules! each_kind {
    ($m:ident $(, $x:expr)*) => {
        [
            $m!($($x,)* mov_rr32, mov_rr::<W32>),
            $m!($($x,)* mov_rr64, mov_rr::<W64>),
            $m!($($x,)* movsxd_rr, ext_r::<W64, 32, true>),
            $m!($($x,)* lea32_bd, lea::<W32, true, true>),
            $m!($($x,)* mov_rm::<W32, AF_FLAT_BD>, mov_rm_full::<W32>),
            $m!($($x,)* mov_rm::<W32, AF_S4>, mov_rm_full::<W32>),
            $m!($($x,)* mov_mr::<W32, AF_S4>, mov_mr_full::<W32>),
            $m!($($x,)* mov_mr::<W8, AF_FLAT_BD>, mov_mr_full::<W8>),
            $m!($($x,)* mov_mi::<W8, AF_FLAT_BD>, mov_mi_full::<W8>),
            $m!($($x,)* add_rr32, alu_rr::<W32, ADD>),
            $m!($($x,)* add_rr32_nf, alu_rr_nf::<W32, ADD>),
            $m!($($x,)* add_ri64, alu_ri::<W64, ADD>),
            $m!($($x,)* add_ri64_nf, alu_ri_nf::<W64, ADD>),
            $m!($($x,)* sub_ri64_nf, alu_ri_nf::<W64, SUB>),
            $m!($($x,)* add_ri32, alu_ri::<W32, ADD>),
            $m!($($x,)* add_ri32_nf, alu_ri_nf::<W32, ADD>),
            $m!($($x,)* sub_ri32, alu_ri::<W32, SUB>),
            $m!($($x,)* sub_ri32_nf, alu_ri_nf::<W32, SUB>),
        ]
    };
}

/// One row of `PAIRS`: the first op's kind fixed, the second's each kind.
macro_rules! row {
    ($a:expr, $sa:expr) => {
        each_kind!(cell, $a, $sa)
    };
}
macro_rules! cell {
    ($a:expr, $sa:expr, $b:expr, $sb:expr) => {
        pair($a, $sa, $b, $sb)
    };
}

/// Pair handlers by (first kind, second kind).
const PAIRS: [[Handler; KINDS]; KINDS] = each_kind!(row);
