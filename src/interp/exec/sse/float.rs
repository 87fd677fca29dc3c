//! Packed and scalar floating-point arithmetic: ADD, SUB, MUL, DIV, MIN,
//! MAX, SQRT, RCP, RSQRT, CMP, COMIS/UCOMIS, ADDSUB, HADD/HSUB, DPPS/DPPD,
//! ROUND, and the bitwise ANDPS/ANDNPS/ORPS/XORPS (+PD) (SSE, SSE2, SSE3,
//! SSE4.1, AVX).
//!
//! RCPPS/RSQRTPS return the correctly rounded reciprocal (square root)
//! rather than the hardware's 12-bit approximation (the SDM only bounds
//! the relative error by 1.5·2^-12, and Intel and AMD differ).

use crate::interp::exec::handler;
use std::marker::PhantomData;

use iced_x86::Mnemonic as Mn;

use super::fp::{self, ADD, DIV, Float, Fx, MAX, MIN, MUL, SUB, arith};
use super::int::{Pand, Pandn, Por, Pxor};
use super::{D, K, V, avx_ok, build, el, load_m, map1, map2, sse_ok, with};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op};
use crate::model::Feature;

/// Packed (S = false) or scalar (S = true: lane 0 computed, the rest of
/// the first source copied) binary arithmetic.
pub struct Arith<F, const OP: u8, const S: bool>(PhantomData<F>);
impl<F: Float, const OP: u8, const S: bool> K for Arith<F, OP, S> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        if S {
            with::<F>(a, 0, arith::<F, OP>(e, el(a, 0), el(b, 0)))
        } else {
            if OP <= DIV
                && e.fast()
                && let Some(r) = ordinary::<F, OP>(a, b)
            {
                return r;
            }
            map2::<F>(a, b, |x, y| arith::<F, OP>(e, x, y))
        }
    }
}

/// The common case of a packed ADD/SUB/MUL/DIV with PE already set and
/// masked in round-to-nearest: every operand normal or zero and every
/// result normal (and not ±MIN/±MAX) raises no new flag, so the lanes are
/// computed without per-element checks (a loop the compiler vectorises).
#[inline(always)]
fn ordinary<F: Float, const OP: u8>(a: V, b: V) -> Option<V> {
    let (x, y) = (F::arr(a), F::arr(b));
    let ok_in = |v: &F::A| v.as_ref().iter().all(|&t| t.is_normal() || t == F::ZERO);
    if !ok_in(&x) || !ok_in(&y) {
        return None;
    }
    let mut r = F::A::default();
    for ((r, &p), &q) in r.as_mut().iter_mut().zip(x.as_ref()).zip(y.as_ref()) {
        *r = match OP {
            ADD => p + q,
            SUB => p - q,
            MUL => p * q,
            _ => p / q,
        };
    }
    let ok_out = r.as_ref().iter().all(|&t| {
        let m = t.abs();
        t.is_normal() && m != F::MIN_POSITIVE && m != F::MAX
    });
    ok_out.then(|| F::from_arr(r))
}

pub struct Sqrt<F, const S: bool>(PhantomData<F>);
impl<F: Float, const S: bool> K for Sqrt<F, S> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        if S {
            with::<F>(a, 0, fp::sqrt(e, el::<F>(b, 0)))
        } else {
            map1::<F>(b, |x| fp::sqrt(e, x))
        }
    }
}

/// CMPPS/PD/SS/SD: predicate in imm8 (0–7 legacy, 0–31 VEX).
pub struct Cmp<F, const S: bool>(PhantomData<F>);
impl<F: Float, const S: bool> K for Cmp<F, S> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, i: u8, e: &mut Fx) -> V {
        let ones = |t: bool| {
            if t {
                F::from_raw(u64::MAX >> (64 - 8 * std::mem::size_of::<F>()))
            } else {
                F::from_raw(0)
            }
        };
        if S {
            with::<F>(a, 0, ones(fp::cmp(e, el::<F>(a, 0), el::<F>(b, 0), i)))
        } else {
            map2::<F>(a, b, |x, y| ones(fp::cmp(e, x, y, i)))
        }
    }
}

/// Reciprocal (R = false) or reciprocal square root of f32 lanes: tiny
/// inputs give ±∞, results below 2^-126 flush to ±0, negative inputs of
/// RSQRT give the default NaN; no exceptions are signalled.
pub struct Rcp<const R: bool, const S: bool>;
#[inline(always)]
fn rcp1<const R: bool>(x: f32) -> f32 {
    if R {
        if x.is_nan() {
            return f32::from_bits(x.to_bits() | 0x40_0000);
        }
        if x == 0.0 || x.is_subnormal() {
            return if x.is_sign_negative() {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            };
        }
        if x < 0.0 {
            return f32::from_bits(0xFFC0_0000);
        }
        (1.0 / (x as f64).sqrt()) as f32
    } else {
        if x.is_nan() {
            return f32::from_bits(x.to_bits() | 0x40_0000);
        }
        if x == 0.0 || x.is_subnormal() {
            return if x.is_sign_negative() {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            };
        }
        let r = 1.0 / x;
        if r.abs() < f32::MIN_POSITIVE {
            0.0f32.copysign(x)
        } else {
            r
        }
    }
}
impl<const R: bool, const S: bool> K for Rcp<R, S> {
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, _e: &mut Fx) -> V {
        if S {
            with::<f32>(a, 0, rcp1::<R>(el(b, 0)))
        } else {
            map1::<f32>(b, rcp1::<R>)
        }
    }
}

/// ADDSUBPS/PD: subtract in even elements, add in odd ones.
pub struct AddSub<F>(PhantomData<F>);
impl<F: Float> K for AddSub<F> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        build::<F>(|k| {
            let (x, y) = (el::<F>(a, k), el::<F>(b, k));
            if k % 2 == 0 {
                arith::<F, SUB>(e, x, y)
            } else {
                arith::<F, ADD>(e, x, y)
            }
        })
    }
}

/// HADDPS/PD (OP = ADD) and HSUBPS/PD (OP = SUB).
pub struct Horiz<F, const OP: u8>(PhantomData<F>);
impl<F: Float, const OP: u8> K for Horiz<F, OP> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        let n = F::N;
        build::<F>(|k| {
            let (src, j) = if k < n / 2 {
                (a, 2 * k)
            } else {
                (b, 2 * (k - n / 2))
            };
            arith::<F, OP>(e, el::<F>(src, j), el::<F>(src, j + 1))
        })
    }
}

/// DPPS/DPPD: products selected by `imm8[7:4]`, summed pairwise, written to
/// the elements selected by `imm8[3:0]` (SDM DPPS operation).
pub struct Dp<F>(PhantomData<F>);
impl<F: Float> K for Dp<F> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, i: u8, e: &mut Fx) -> V {
        let n = F::N;
        let t: [F; 4] = std::array::from_fn(|k| {
            if k < n && (i >> (4 + k)) & 1 != 0 {
                arith::<F, MUL>(e, el::<F>(a, k), el::<F>(b, k))
            } else {
                F::ZERO
            }
        });
        // The sums are formed separately for each destination element, in
        // the operand order the hardware uses (it only decides which NaN
        // propagates): DPPS element k = (t[k^1] + t[k]) + (t[k^3] + t[k^2]),
        // DPPD element k = t[k] + t[k^1].
        let mut sum = |k: usize| {
            if n == 4 {
                let p = arith::<F, ADD>(e, t[k ^ 1], t[k]);
                let q = arith::<F, ADD>(e, t[k ^ 3], t[k ^ 2]);
                arith::<F, ADD>(e, p, q)
            } else {
                arith::<F, ADD>(e, t[k], t[k ^ 1])
            }
        };
        build::<F>(|k| if (i >> k) & 1 != 0 { sum(k) } else { F::ZERO })
    }
}

/// ROUNDPS/PD/SS/SD: `imm8[1:0]` rounding mode unless `imm8[2]` (use MXCSR),
/// `imm8[3]` suppresses the precision exception.
pub struct Round<F, const S: bool>(PhantomData<F>);
impl<F: Float, const S: bool> K for Round<F, S> {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, i: u8, e: &mut Fx) -> V {
        let rc = if i & 4 != 0 { e.rc() } else { u32::from(i & 3) };
        let pe = i & 8 == 0;
        if S {
            with::<F>(a, 0, fp::round_int(e, el::<F>(b, 0), rc, pe))
        } else {
            map1::<F>(b, |x| fp::round_int(e, x, rc, pe))
        }
    }
}

// ---- COMIS/UCOMIS ---------------------------------------------------------------------

/// COMISS/UCOMISS/COMISD/UCOMISD: compare the low elements and set ZF,
/// PF, CF (OF, SF, AF cleared).
fn comis<F: Float, const SIG: bool, const VEX: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let b = if MEM {
        if std::mem::size_of::<F>() == 4 {
            load_m::<4, false>(ctx, op)?
        } else {
            load_m::<8, false>(ctx, op)?
        }
    } else {
        ctx.xmm(op.r2)
    };
    let a = ctx.xmm(op.r0);
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let f = fp::comi::<F>(&mut e, el(a, 0), el(b, 0), SIG);
    e.commit(ctx)?;
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn comis_decode<F: Float, const SIG: bool>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let h: Handler = match (d.vex, d.mem) {
        (true, true) => handler(comis::<F, SIG, true, true>),
        (true, false) => handler(comis::<F, SIG, true, false>),
        (false, true) => handler(comis::<F, SIG, false, true>),
        (false, false) => handler(comis::<F, SIG, false, false>),
    };
    d.gate(if d.vex { Feature::Avx } else { f }, h)
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Avx, Sse, Sse2, Sse3, Sse4_1};
    macro_rules! ps {
        ($k:ty) => {
            d.packed::<$k>(op, Sse, Avx)
        };
    }
    macro_rules! pd {
        ($k:ty) => {
            d.packed::<$k>(op, Sse2, Avx)
        };
    }
    macro_rules! ss {
        ($k:ty) => {
            d.x128::<$k, 4, false>(op, Sse)
        };
    }
    macro_rules! sd {
        ($k:ty) => {
            d.x128::<$k, 8, false>(op, Sse2)
        };
    }
    let m = d.insn.mnemonic();
    let r = match m {
        Mn::Addps | Mn::Vaddps => ps!(Arith<f32, ADD, false>),
        Mn::Addpd | Mn::Vaddpd => pd!(Arith<f64, ADD, false>),
        Mn::Addss | Mn::Vaddss => ss!(Arith<f32, ADD, true>),
        Mn::Addsd | Mn::Vaddsd => sd!(Arith<f64, ADD, true>),
        Mn::Subps | Mn::Vsubps => ps!(Arith<f32, SUB, false>),
        Mn::Subpd | Mn::Vsubpd => pd!(Arith<f64, SUB, false>),
        Mn::Subss | Mn::Vsubss => ss!(Arith<f32, SUB, true>),
        Mn::Subsd | Mn::Vsubsd => sd!(Arith<f64, SUB, true>),
        Mn::Mulps | Mn::Vmulps => ps!(Arith<f32, MUL, false>),
        Mn::Mulpd | Mn::Vmulpd => pd!(Arith<f64, MUL, false>),
        Mn::Mulss | Mn::Vmulss => ss!(Arith<f32, MUL, true>),
        Mn::Mulsd | Mn::Vmulsd => sd!(Arith<f64, MUL, true>),
        Mn::Divps | Mn::Vdivps => ps!(Arith<f32, DIV, false>),
        Mn::Divpd | Mn::Vdivpd => pd!(Arith<f64, DIV, false>),
        Mn::Divss | Mn::Vdivss => ss!(Arith<f32, DIV, true>),
        Mn::Divsd | Mn::Vdivsd => sd!(Arith<f64, DIV, true>),
        Mn::Minps | Mn::Vminps => ps!(Arith<f32, MIN, false>),
        Mn::Minpd | Mn::Vminpd => pd!(Arith<f64, MIN, false>),
        Mn::Minss | Mn::Vminss => ss!(Arith<f32, MIN, true>),
        Mn::Minsd | Mn::Vminsd => sd!(Arith<f64, MIN, true>),
        Mn::Maxps | Mn::Vmaxps => ps!(Arith<f32, MAX, false>),
        Mn::Maxpd | Mn::Vmaxpd => pd!(Arith<f64, MAX, false>),
        Mn::Maxss | Mn::Vmaxss => ss!(Arith<f32, MAX, true>),
        Mn::Maxsd | Mn::Vmaxsd => sd!(Arith<f64, MAX, true>),
        Mn::Sqrtps | Mn::Vsqrtps => ps!(Sqrt<f32, false>),
        Mn::Sqrtpd | Mn::Vsqrtpd => pd!(Sqrt<f64, false>),
        Mn::Sqrtss | Mn::Vsqrtss => ss!(Sqrt<f32, true>),
        Mn::Sqrtsd | Mn::Vsqrtsd => sd!(Sqrt<f64, true>),
        Mn::Rcpps | Mn::Vrcpps => ps!(Rcp<false, false>),
        Mn::Rcpss | Mn::Vrcpss => ss!(Rcp<false, true>),
        Mn::Rsqrtps | Mn::Vrsqrtps => ps!(Rcp<true, false>),
        Mn::Rsqrtss | Mn::Vrsqrtss => ss!(Rcp<true, true>),
        Mn::Cmpps | Mn::Vcmpps => ps!(Cmp<f32, false>),
        Mn::Cmppd | Mn::Vcmppd => pd!(Cmp<f64, false>),
        Mn::Cmpss | Mn::Vcmpss => ss!(Cmp<f32, true>),
        Mn::Cmpsd | Mn::Vcmpsd if super::has_xmm_operand(d.insn) => sd!(Cmp<f64, true>),
        Mn::Addsubps | Mn::Vaddsubps => d.packed::<AddSub<f32>>(op, Sse3, Avx),
        Mn::Addsubpd | Mn::Vaddsubpd => d.packed::<AddSub<f64>>(op, Sse3, Avx),
        Mn::Haddps | Mn::Vhaddps => d.packed::<Horiz<f32, ADD>>(op, Sse3, Avx),
        Mn::Haddpd | Mn::Vhaddpd => d.packed::<Horiz<f64, ADD>>(op, Sse3, Avx),
        Mn::Hsubps | Mn::Vhsubps => d.packed::<Horiz<f32, SUB>>(op, Sse3, Avx),
        Mn::Hsubpd | Mn::Vhsubpd => d.packed::<Horiz<f64, SUB>>(op, Sse3, Avx),
        Mn::Dpps | Mn::Vdpps => d.packed::<Dp<f32>>(op, Sse4_1, Avx),
        Mn::Dppd | Mn::Vdppd => d.x128::<Dp<f64>, 16, true>(op, Sse4_1),
        Mn::Roundps | Mn::Vroundps => d.packed::<Round<f32, false>>(op, Sse4_1, Avx),
        Mn::Roundpd | Mn::Vroundpd => d.packed::<Round<f64, false>>(op, Sse4_1, Avx),
        Mn::Roundss | Mn::Vroundss => d.x128::<Round<f32, true>, 4, false>(op, Sse4_1),
        Mn::Roundsd | Mn::Vroundsd => d.x128::<Round<f64, true>, 8, false>(op, Sse4_1),
        Mn::Andps | Mn::Vandps => ps!(Pand),
        Mn::Andpd | Mn::Vandpd => pd!(Pand),
        Mn::Andnps | Mn::Vandnps => ps!(Pandn),
        Mn::Andnpd | Mn::Vandnpd => pd!(Pandn),
        Mn::Orps | Mn::Vorps => ps!(Por),
        Mn::Orpd | Mn::Vorpd => pd!(Por),
        Mn::Xorps | Mn::Vxorps => ps!(Pxor),
        Mn::Xorpd | Mn::Vxorpd => pd!(Pxor),
        Mn::Comiss | Mn::Vcomiss => return comis_decode::<f32, true>(d, op, Sse),
        Mn::Ucomiss | Mn::Vucomiss => return comis_decode::<f32, false>(d, op, Sse),
        Mn::Comisd | Mn::Vcomisd => return comis_decode::<f64, true>(d, op, Sse2),
        Mn::Ucomisd | Mn::Vucomisd => return comis_decode::<f64, false>(d, op, Sse2),
        _ => return None,
    };
    if matches!(m, Mn::Cmpps | Mn::Cmppd | Mn::Cmpss | Mn::Cmpsd) {
        op.imm &= 7;
    } else if matches!(m, Mn::Vcmpps | Mn::Vcmppd | Mn::Vcmpss | Mn::Vcmpsd) {
        op.imm &= 31;
    }
    r
}
