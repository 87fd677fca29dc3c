//! FMA3: VFMADD, VFMSUB, VFNMADD, VFNMSUB, VFMADDSUB, VFMSUBADD in the
//! 132/213/231 operand orders, packed (128/256) and scalar (SDM Vol. 2A
//! "VFMADD132PD", Vol. 1 14.5). Operands: a = xmm1 (destination and first
//! source), b = VEX.vvvv, c = r/m. 132: a·c + b, 213: b·a + c, 231: b·c + a.

use crate::interp::exec::handler;
use iced_x86::Mnemonic;

use super::fp::{self, Float, Fx};
use super::{D, V, avx_ok, build, el, load_m, with};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op};
use crate::model::Feature;

const MADD: u8 = 0;
const MSUB: u8 = 1;
const NMADD: u8 = 2;
const NMSUB: u8 = 3;
const MADDSUB: u8 = 4;
const MSUBADD: u8 = 5;

#[inline(always)]
fn lane<F: Float, const KIND: u8>(e: &mut Fx, a: F, b: F, c: F, ord: u8, k: usize) -> F {
    let (x, y, z) = match ord {
        0 => (a, c, b),
        1 => (b, a, c),
        _ => (b, c, a),
    };
    let sub = match KIND {
        MSUB | NMSUB => true,
        MADDSUB => k.is_multiple_of(2),
        MSUBADD => k % 2 == 1,
        _ => false,
    };
    fp::fma(e, x, y, z, KIND == NMADD || KIND == NMSUB, sub)
}

#[inline(always)]
fn apply<F: Float, const KIND: u8, const S: bool>(e: &mut Fx, a: V, b: V, c: V, ord: u8) -> V {
    if S {
        with::<F>(
            a,
            0,
            lane::<F, KIND>(e, el(a, 0), el(b, 0), el(c, 0), ord, 0),
        )
    } else {
        build::<F>(|k| lane::<F, KIND>(e, el(a, k), el(b, k), el(c, k), ord, k))
    }
}

fn fma_h<F: Float, const KIND: u8, const S: bool, const Y: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    avx_ok(ctx)?;
    let ord = op.imm2 as u8;
    let [c0, c1] = if MEM {
        if Y {
            let ea = ctx.ea(op);
            ctx.read_v256(op.seg, ea, false)?
        } else if S && std::mem::size_of::<F>() == 4 {
            [load_m::<4, false>(ctx, op)?, [0, 0]]
        } else if S {
            [load_m::<8, false>(ctx, op)?, [0, 0]]
        } else {
            [load_m::<16, false>(ctx, op)?, [0, 0]]
        }
    } else {
        [ctx.xmm(op.r2), ctx.yhi(op.r2)]
    };
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let lo = apply::<F, KIND, S>(&mut e, ctx.xmm(op.r0), ctx.xmm(op.r1), c0, ord);
    let hi = if Y {
        apply::<F, KIND, S>(&mut e, ctx.yhi(op.r0), ctx.yhi(op.r1), c1, ord)
    } else {
        [0, 0]
    };
    e.commit(ctx)?;
    ctx.set_xmm(op.r0, lo);
    ctx.set_yhi(op.r0, hi);
    Ok(())
}

fn pick<F: Float, const KIND: u8, const S: bool>(d: &D) -> Handler {
    match (d.y && !S, d.mem) {
        (true, true) => handler(fma_h::<F, KIND, S, true, true>),
        (true, false) => handler(fma_h::<F, KIND, S, true, false>),
        (false, true) => handler(fma_h::<F, KIND, S, false, true>),
        (false, false) => handler(fma_h::<F, KIND, S, false, false>),
    }
}

/// Parses `Vf[n]m{add,sub}[sub|add]{132,213,231}{ps,pd,ss,sd}`.
fn parse(m: Mnemonic) -> Option<(u8, u8, &'static str)> {
    let name = format!("{m:?}").to_ascii_lowercase();
    let rest = name.strip_prefix("vf")?;
    let (kind, rest) = [
        ("maddsub", MADDSUB),
        ("msubadd", MSUBADD),
        ("nmadd", NMADD),
        ("nmsub", NMSUB),
        ("madd", MADD),
        ("msub", MSUB),
    ]
    .iter()
    .find_map(|(p, k)| rest.strip_prefix(p).map(|r| (*k, r)))?;
    let (ord, ty) = match rest.get(..3)? {
        "132" => (0, &rest[3..]),
        "213" => (1, &rest[3..]),
        "231" => (2, &rest[3..]),
        _ => return None,
    };
    let ty = match ty {
        "ps" => "ps",
        "pd" => "pd",
        "ss" => "ss",
        "sd" => "sd",
        _ => return None,
    };
    Some((kind, ord, ty))
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    if !d.vex {
        return None;
    }
    let (kind, ord, ty) = parse(d.insn.mnemonic())?;
    d.fill(op);
    op.imm2 = u16::from(ord);
    macro_rules! by_kind {
        ($f:ty, $s:expr) => {
            match kind {
                MADD => pick::<$f, MADD, $s>(d),
                MSUB => pick::<$f, MSUB, $s>(d),
                NMADD => pick::<$f, NMADD, $s>(d),
                NMSUB => pick::<$f, NMSUB, $s>(d),
                MADDSUB => pick::<$f, MADDSUB, false>(d),
                _ => pick::<$f, MSUBADD, false>(d),
            }
        };
    }
    let h = match ty {
        "ps" => by_kind!(f32, false),
        "pd" => by_kind!(f64, false),
        "ss" => by_kind!(f32, true),
        _ => by_kind!(f64, true),
    };
    d.gate(Feature::Fma, h)
}
