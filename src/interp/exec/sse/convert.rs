//! Conversions: integer ↔ float (packed, scalar, MMX and general-register
//! forms, rounding and truncating), single ↔ double, and F16C half ↔
//! single. Rounding follows MXCSR.RC (the CVTT forms truncate); invalid
//! and out-of-range values give the integer indefinite with IE, inexact
//! results set PE.

use crate::interp::exec::handler;
use std::marker::PhantomData;

use iced_x86::Mnemonic as Mn;

use super::fp::{self, Float, Fx, RZ};
use super::shuffle::widen_decode;
use super::{D, K, V, avx_ok, build, el, load_m, mmx_ok, run, sse_ok, store_m, with};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op, W32, W64};
use crate::model::Feature;

/// Signed dwords of `b` → F (CVTDQ2PS, CVTDQ2PD).
pub struct CvtI2F<F>(PhantomData<F>);
impl<F: Float> K for CvtI2F<F> {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, _i: u8, e: &mut Fx) -> V {
        build::<F>(|k| fp::from_int::<F>(e, i64::from(el::<i32>(b, k))))
    }
}

/// F elements of `b` → signed dwords (CVTPS2DQ, CVTPD2DQ; T: truncate);
/// unused upper dwords are zeroed.
pub struct CvtF2I<F, const T: bool>(PhantomData<F>);
impl<F: Float, const T: bool> K for CvtF2I<F, T> {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, _i: u8, e: &mut Fx) -> V {
        let rc = if T { RZ } else { e.rc() };
        build::<i32>(|k| {
            if k < F::N {
                fp::to_int(e, el::<F>(b, k), rc, 32) as i32
            } else {
                0
            }
        })
    }
}

/// CVTPS2PD: the two low singles of `b` → doubles.
pub struct CvtPs2Pd;
impl K for CvtPs2Pd {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, _i: u8, e: &mut Fx) -> V {
        build::<f64>(|k| fp::f32_to_f64(e, el::<f32>(b, k)))
    }
}

/// CVTPD2PS: two doubles → singles in the low quadword, upper zeroed.
pub struct CvtPd2Ps;
impl K for CvtPd2Ps {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, _i: u8, e: &mut Fx) -> V {
        build::<f32>(|k| {
            if k < 2 {
                fp::f64_to_f32(e, el::<f64>(b, k))
            } else {
                0.0
            }
        })
    }
}

pub struct CvtSs2Sd;
impl K for CvtSs2Sd {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        with::<f64>(a, 0, fp::f32_to_f64(e, el::<f32>(b, 0)))
    }
}

pub struct CvtSd2Ss;
impl K for CvtSd2Ss {
    const FP: bool = true;
    #[inline(always)]
    fn f(a: V, b: V, _i: u8, e: &mut Fx) -> V {
        with::<f32>(a, 0, fp::f64_to_f32(e, el::<f64>(b, 0)))
    }
}

/// VCVTPH2PS: four halves of `b` → singles.
pub struct CvtPh2Ps;
impl K for CvtPh2Ps {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, _i: u8, e: &mut Fx) -> V {
        build::<f32>(|k| fp::f16_to_f32(e, el::<u16>(b, k)))
    }
}

/// VCVTPS2PH: four singles → halves in the low quadword (`imm8[2]`: use
/// MXCSR.RC, else `imm8[1:0]`).
pub struct CvtPs2Ph;
impl K for CvtPs2Ph {
    const FP: bool = true;
    #[inline(always)]
    fn f(_a: V, b: V, i: u8, e: &mut Fx) -> V {
        let rc = if i & 4 != 0 { e.rc() } else { u32::from(i & 3) };
        build::<u16>(|k| {
            if k < 4 {
                fp::f32_to_f16(e, el::<f32>(b, k), rc)
            } else {
                0
            }
        })
    }
}

/// A VEX.256 narrowing op (`xmm, ymm/m256`): the kernel on each 128-bit
/// half, whose low quadwords form the result.
fn narrow<Kn: K, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let [s0, s1] = if MEM {
        let ea = ctx.ea(op);
        ctx.read_v256(op.seg, ea, false)?
    } else {
        [ctx.xmm(op.r2), ctx.yhi(op.r2)]
    };
    let lo = run::<Kn>(ctx, [0, 0], s0, op.imm as u8)?;
    let hi = run::<Kn>(ctx, [0, 0], s1, op.imm as u8)?;
    ctx.set_xmm_vex(op.r0, [lo[0], hi[0]]);
    Ok(())
}

fn narrow_decode<Kn: K>(d: &D, op: &mut Op, f: Feature, f256: Feature) -> Option<Decoded> {
    if d.y {
        d.fill(op);
        let h: Handler = if d.mem {
            handler(narrow::<Kn, true>)
        } else {
            handler(narrow::<Kn, false>)
        };
        return d.gate(f256, h);
    }
    d.x128::<Kn, 16, true>(op, f)
}

/// VCVTPS2PH m64/m128, xmm/ymm, imm8.
fn cvtps2ph_store<const Y: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let i = op.imm as u8;
    let lo = run::<CvtPs2Ph>(ctx, [0, 0], ctx.xmm(op.r2), i)?;
    if Y {
        let hi = run::<CvtPs2Ph>(ctx, [0, 0], ctx.yhi(op.r2), i)?;
        store_m::<16, false>(ctx, op, [lo[0], hi[0]])
    } else {
        store_m::<8, false>(ctx, op, lo)
    }
}

// ---- general-register forms ---------------------------------------------------------

/// CVTSI2SS/SD xmm, r/m32/64 (legacy merges, VEX takes the upper bits
/// from the first source and zeroes 255:128).
fn cvtsi2<F: Float, const Q: bool, const VEX: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let i = match (Q, MEM) {
        (true, true) => ctx.load::<W64>(op)? as i64,
        (true, false) => ctx.reg::<W64>(op.r2) as i64,
        (false, true) => i64::from(ctx.load::<W32>(op)? as i32),
        (false, false) => i64::from(ctx.reg::<W32>(op.r2) as i32),
    };
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let r = with::<F>(ctx.xmm(op.r1), 0, fp::from_int::<F>(&mut e, i));
    e.commit(ctx)?;
    if VEX {
        ctx.set_xmm_vex(op.r0, r);
    } else {
        ctx.set_xmm(op.r0, r);
    }
    Ok(())
}

/// CVT(T)SS2SI / CVT(T)SD2SI r32/64, xmm/m.
fn cvt2si<F: Float, const T: bool, const Q: bool, const VEX: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let v = if MEM {
        if std::mem::size_of::<F>() == 4 {
            load_m::<4, false>(ctx, op)?
        } else {
            load_m::<8, false>(ctx, op)?
        }
    } else {
        ctx.xmm(op.r2)
    };
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let rc = if T { RZ } else { e.rc() };
    let r = fp::to_int(&mut e, el::<F>(v, 0), rc, if Q { 64 } else { 32 });
    e.commit(ctx)?;
    if Q {
        ctx.set_reg::<W64>(op.r0, r as u64);
    } else {
        ctx.set_reg::<W32>(op.r0, u64::from(r as u32));
    }
    Ok(())
}

fn cvtsi2_decode<F: Float>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let src = if d.vex { 2 } else { 1 };
    let q = crate::interp::exec::operand_bits(d.insn, src) == 64;
    let h: Handler = match (q, d.vex, d.mem) {
        (true, true, true) => handler(cvtsi2::<F, true, true, true>),
        (true, true, false) => handler(cvtsi2::<F, true, true, false>),
        (true, false, true) => handler(cvtsi2::<F, true, false, true>),
        (true, false, false) => handler(cvtsi2::<F, true, false, false>),
        (false, true, true) => handler(cvtsi2::<F, false, true, true>),
        (false, true, false) => handler(cvtsi2::<F, false, true, false>),
        (false, false, true) => handler(cvtsi2::<F, false, false, true>),
        (false, false, false) => handler(cvtsi2::<F, false, false, false>),
    };
    d.gate(if d.vex { Feature::Avx } else { f }, h)
}

fn cvt2si_decode<F: Float, const T: bool>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let q = crate::interp::exec::operand_bits(d.insn, 0) == 64;
    d.gate(if d.vex { Feature::Avx } else { f }, fix_t::<F, T>(q, d))
}

fn fix_t<F: Float, const T: bool>(q: bool, d: &D) -> Handler {
    match (q, d.vex, d.mem) {
        (true, true, true) => handler(cvt2si::<F, T, true, true, true>),
        (true, true, false) => handler(cvt2si::<F, T, true, true, false>),
        (true, false, true) => handler(cvt2si::<F, T, true, false, true>),
        (true, false, false) => handler(cvt2si::<F, T, true, false, false>),
        (false, true, true) => handler(cvt2si::<F, T, false, true, true>),
        (false, true, false) => handler(cvt2si::<F, T, false, true, false>),
        (false, false, true) => handler(cvt2si::<F, T, false, false, true>),
        (false, false, false) => handler(cvt2si::<F, T, false, false, false>),
    }
}

// ---- MMX forms -------------------------------------------------------------------

/// CVTPI2PS xmm, mm/m64 (upper two singles kept).
fn cvtpi2ps<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    let b = if MEM {
        ctx.load::<W64>(op)?
    } else {
        mmx_ok(ctx)?;
        ctx.mm(op.r2)
    };
    let a = ctx.xmm(op.r0);
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let lo = run_lo(&mut e, b);
    e.commit(ctx)?;
    ctx.set_xmm(op.r0, [lo, a[1]]);
    Ok(())
}

fn run_lo(e: &mut Fx, b: u64) -> u64 {
    let x: f32 = fp::from_int(e, i64::from(b as i32));
    let y: f32 = fp::from_int(e, i64::from((b >> 32) as i32));
    u64::from(x.to_bits()) | u64::from(y.to_bits()) << 32
}

/// CVTPI2PD xmm, mm/m64 (exact).
fn cvtpi2pd<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    let b = if MEM {
        ctx.load::<W64>(op)?
    } else {
        mmx_ok(ctx)?;
        ctx.mm(op.r2)
    };
    let lo = f64::from(b as i32).to_bits();
    let hi = f64::from((b >> 32) as i32).to_bits();
    ctx.set_xmm(op.r0, [lo, hi]);
    Ok(())
}

/// CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128.
fn cvt2pi<F: Float, const T: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    let v = if MEM {
        if std::mem::size_of::<F>() == 4 {
            load_m::<8, false>(ctx, op)?
        } else {
            load_m::<16, true>(ctx, op)?
        }
    } else {
        ctx.xmm(op.r2)
    };
    mmx_ok(ctx)?;
    let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
    let rc = if T { RZ } else { e.rc() };
    let x = fp::to_int(&mut e, el::<F>(v, 0), rc, 32) as u32;
    let y = fp::to_int(&mut e, el::<F>(v, 1), rc, 32) as u32;
    e.commit(ctx)?;
    ctx.set_mm(op.r0, u64::from(x) | u64::from(y) << 32);
    Ok(())
}

fn mmx_conv(d: &D, op: &mut Op, f: Feature, mem: Handler, reg: Handler) -> Option<Decoded> {
    d.fill(op);
    d.gate(f, if d.mem { mem } else { reg })
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Avx, F16c, Sse, Sse2};
    match d.insn.mnemonic() {
        Mn::Cvtdq2ps | Mn::Vcvtdq2ps => d.packed::<CvtI2F<f32>>(op, Sse2, Avx),
        Mn::Cvtps2dq | Mn::Vcvtps2dq => d.packed::<CvtF2I<f32, false>>(op, Sse2, Avx),
        Mn::Cvttps2dq | Mn::Vcvttps2dq => d.packed::<CvtF2I<f32, true>>(op, Sse2, Avx),
        Mn::Cvtdq2pd | Mn::Vcvtdq2pd => widen_decode::<CvtI2F<f64>, 16, 8>(d, op, Sse2, Avx),
        Mn::Cvtps2pd | Mn::Vcvtps2pd => widen_decode::<CvtPs2Pd, 16, 8>(d, op, Sse2, Avx),
        Mn::Vcvtph2ps => widen_decode::<CvtPh2Ps, 16, 8>(d, op, F16c, F16c),
        Mn::Cvtpd2dq | Mn::Vcvtpd2dq => narrow_decode::<CvtF2I<f64, false>>(d, op, Sse2, Avx),
        Mn::Cvttpd2dq | Mn::Vcvttpd2dq => narrow_decode::<CvtF2I<f64, true>>(d, op, Sse2, Avx),
        Mn::Cvtpd2ps | Mn::Vcvtpd2ps => narrow_decode::<CvtPd2Ps>(d, op, Sse2, Avx),
        Mn::Vcvtps2ph => {
            if d.mem {
                d.fill(op);
                let h: Handler = if d.y {
                    handler(cvtps2ph_store::<true>)
                } else {
                    handler(cvtps2ph_store::<false>)
                };
                d.gate(F16c, h)
            } else {
                narrow_decode::<CvtPs2Ph>(d, op, F16c, F16c)
            }
        }
        Mn::Cvtss2sd | Mn::Vcvtss2sd => d.x128::<CvtSs2Sd, 4, false>(op, Sse2),
        Mn::Cvtsd2ss | Mn::Vcvtsd2ss => d.x128::<CvtSd2Ss, 8, false>(op, Sse2),
        Mn::Cvtsi2ss | Mn::Vcvtsi2ss => cvtsi2_decode::<f32>(d, op, Sse),
        Mn::Cvtsi2sd | Mn::Vcvtsi2sd => cvtsi2_decode::<f64>(d, op, Sse2),
        Mn::Cvtss2si | Mn::Vcvtss2si => cvt2si_decode::<f32, false>(d, op, Sse),
        Mn::Cvttss2si | Mn::Vcvttss2si => cvt2si_decode::<f32, true>(d, op, Sse),
        Mn::Cvtsd2si | Mn::Vcvtsd2si => cvt2si_decode::<f64, false>(d, op, Sse2),
        Mn::Cvttsd2si | Mn::Vcvttsd2si => cvt2si_decode::<f64, true>(d, op, Sse2),
        Mn::Cvtpi2ps => mmx_conv(
            d,
            op,
            Sse,
            handler(cvtpi2ps::<true>),
            handler(cvtpi2ps::<false>),
        ),
        Mn::Cvtpi2pd => mmx_conv(
            d,
            op,
            Sse2,
            handler(cvtpi2pd::<true>),
            handler(cvtpi2pd::<false>),
        ),
        Mn::Cvtps2pi => mmx_conv(
            d,
            op,
            Sse,
            handler(cvt2pi::<f32, false, true>),
            handler(cvt2pi::<f32, false, false>),
        ),
        Mn::Cvttps2pi => mmx_conv(
            d,
            op,
            Sse,
            handler(cvt2pi::<f32, true, true>),
            handler(cvt2pi::<f32, true, false>),
        ),
        Mn::Cvtpd2pi => mmx_conv(
            d,
            op,
            Sse2,
            handler(cvt2pi::<f64, false, true>),
            handler(cvt2pi::<f64, false, false>),
        ),
        Mn::Cvttpd2pi => mmx_conv(
            d,
            op,
            Sse2,
            handler(cvt2pi::<f64, true, true>),
            handler(cvt2pi::<f64, true, false>),
        ),
        _ => None,
    }
}
