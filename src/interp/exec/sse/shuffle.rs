//! Shuffles, unpacks, packs, byte alignment, blends, zero/sign extension
//! and the SSE4.1 insert/search helpers (PSHUF*, PUNPCK*, PACK*, PALIGNR,
//! SHUFPS/PD, UNPCK*, MOV*DUP, PBLEND*, BLENDPS/PD, BLENDV*, INSERTPS,
//! PMOVZX/SX, MPSADBW, PHMINPOSUW).

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{
    D, K, Lane, V, avx_ok, build, bytes, el, from_bytes, from_u128, load_m, run, sse_ok, to_u128,
};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op};
use crate::kern;
use crate::model::Feature;

#[inline(always)]
fn sat8(x: i16) -> i8 {
    x.clamp(-128, 127) as i8
}

// ---- shuffles -----------------------------------------------------------------------

kern!(Pshufd, |a, b, i, e| build::<u32>(|k| el::<u32>(
    b,
    usize::from((i >> (2 * k)) & 3)
)));
kern!(Pshuflw, |a, b, i, e| build::<u16>(|k| {
    if k < 4 {
        el::<u16>(b, usize::from((i >> (2 * k)) & 3))
    } else {
        el::<u16>(b, k)
    }
}));
kern!(Pshufhw, |a, b, i, e| build::<u16>(|k| {
    if k < 4 {
        el::<u16>(b, k)
    } else {
        el::<u16>(b, 4 + usize::from((i >> (2 * (k - 4))) & 3))
    }
}));
kern!(
    Pshufw,
    |a, b, i, e| Pshuflw::f(a, b, i, e),
    mmx = |a, b, i| {
        build::<u16>(|k| {
            if k < 4 {
                el::<u16>([b, 0], usize::from((i >> (2 * k)) & 3))
            } else {
                0
            }
        })[0]
    }
);
kern!(
    Pshufb,
    |a, b, i, e| {
        let (x, s) = (bytes(a), bytes(b));
        from_bytes(std::array::from_fn(|k| {
            if s[k] & 0x80 != 0 {
                0
            } else {
                x[usize::from(s[k] & 15)]
            }
        }))
    },
    mmx = |a, b, i| {
        let (x, s) = (a.to_le_bytes(), b.to_le_bytes());
        u64::from_le_bytes(std::array::from_fn(|k| {
            if s[k] & 0x80 != 0 {
                0
            } else {
                x[usize::from(s[k] & 7)]
            }
        }))
    }
);

/// Interleave the elements of the low (H = false) or high half of a and b.
#[inline(always)]
fn unpack<T: Lane>(a: V, b: V, high: bool) -> V {
    let half = T::N / 2;
    let base = if high { half } else { 0 };
    build::<T>(|k| {
        let src = if k % 2 == 0 { a } else { b };
        el::<T>(src, base + k / 2)
    })
}

/// The 64-bit MMX high unpack: interleave the upper halves of a and b.
#[inline(always)]
fn unpack_hi64<T: Lane>(a: u64, b: u64) -> u64 {
    let n = T::N / 2;
    build::<T>(|k| {
        if k >= n {
            return el::<T>([0, 0], 0);
        }
        let src = if k % 2 == 0 { a } else { b };
        el::<T>([src, 0], n / 2 + k / 2)
    })[0]
}

kern!(Punpcklbw, |a, b, i, e| unpack::<u8>(a, b, false));
kern!(Punpcklwd, |a, b, i, e| unpack::<u16>(a, b, false));
kern!(Punpckldq, |a, b, i, e| unpack::<u32>(a, b, false));
kern!(Punpcklqdq, |a, b, i, e| [a[0], b[0]]);
kern!(
    Punpckhbw,
    |a, b, i, e| unpack::<u8>(a, b, true),
    mmx = |a, b, i| unpack_hi64::<u8>(a, b)
);
kern!(
    Punpckhwd,
    |a, b, i, e| unpack::<u16>(a, b, true),
    mmx = |a, b, i| unpack_hi64::<u16>(a, b)
);
kern!(
    Punpckhdq,
    |a, b, i, e| unpack::<u32>(a, b, true),
    mmx = |a, b, i| unpack_hi64::<u32>(a, b)
);
kern!(Punpckhqdq, |a, b, i, e| [a[1], b[1]]);

/// Saturating pack of a's then b's elements (`S` source, `T` target).
#[inline(always)]
fn pack<S: Lane, T: Lane>(a: V, b: V, f: impl Fn(S) -> T) -> V {
    let n = S::N;
    build::<T>(|k| {
        if k < n {
            f(el::<S>(a, k))
        } else {
            f(el::<S>(b, k - n))
        }
    })
}

#[inline(always)]
fn pack64<S: Lane, T: Lane>(a: u64, b: u64, f: impl Fn(S) -> T) -> u64 {
    let n = S::N / 2;
    build::<T>(|k| {
        if k < n {
            f(el::<S>([a, 0], k))
        } else if k < 2 * n {
            f(el::<S>([b, 0], k - n))
        } else {
            el::<T>([0, 0], 0)
        }
    })[0]
}

fn ssb(x: i16) -> i8 {
    sat8(x)
}
fn usb(x: i16) -> u8 {
    x.clamp(0, 255) as u8
}
fn ssw(x: i32) -> i16 {
    x.clamp(-32768, 32767) as i16
}
fn usw(x: i32) -> u16 {
    x.clamp(0, 65535) as u16
}

kern!(
    Packsswb,
    |a, b, i, e| pack::<i16, i8>(a, b, ssb),
    mmx = |a, b, i| pack64::<i16, i8>(a, b, ssb)
);
kern!(
    Packuswb,
    |a, b, i, e| pack::<i16, u8>(a, b, usb),
    mmx = |a, b, i| pack64::<i16, u8>(a, b, usb)
);
kern!(
    Packssdw,
    |a, b, i, e| pack::<i32, i16>(a, b, ssw),
    mmx = |a, b, i| pack64::<i32, i16>(a, b, ssw)
);
kern!(Packusdw, |a, b, i, e| pack::<i32, u16>(a, b, usw));

kern!(
    Palignr,
    |a, b, i, e| {
        let sh = u32::from(i) * 8;
        let (lo, hi) = (to_u128(b), to_u128(a));
        from_u128(match sh {
            0 => lo,
            1..=127 => (lo >> sh) | (hi << (128 - sh)),
            128 => hi,
            129..=255 => hi >> (sh - 128),
            _ => 0,
        })
    },
    mmx = |a, b, i| {
        let t = u128::from(b) | u128::from(a) << 64;
        if i >= 16 {
            0
        } else {
            (t >> (8 * u32::from(i))) as u64
        }
    }
);

kern!(Shufps, |a, b, i, e| build::<u32>(|k| {
    let src = if k < 2 { a } else { b };
    el::<u32>(src, usize::from((i >> (2 * k)) & 3))
}));
kern!(
    Shufpd,
    |a, b, i, e| [a[usize::from(i & 1)], b[usize::from((i >> 1) & 1)]],
    hi = |i| i >> 2
);
kern!(Movsldup, |a, b, i, e| build::<u32>(|k| el::<u32>(
    b,
    k & !1
)));
kern!(Movshdup, |a, b, i, e| build::<u32>(|k| el::<u32>(b, k | 1)));
kern!(Movddup, |a, b, i, e| [b[0], b[0]]);

// ---- blends ------------------------------------------------------------------------

kern!(Pblendw, |a, b, i, e| build::<u16>(|k| {
    if (i >> k) & 1 != 0 {
        el(b, k)
    } else {
        el(a, k)
    }
}));
kern!(
    Blendps,
    |a, b, i, e| build::<u32>(|k| if (i >> k) & 1 != 0 {
        el(b, k)
    } else {
        el(a, k)
    }),
    hi = |i| i >> 4
);
kern!(
    Blendpd,
    |a, b, i, e| build::<u64>(|k| if (i >> k) & 1 != 0 { b[k] } else { a[k] }),
    hi = |i| i >> 2
);

kern!(Insertps, |a, b, i, e| {
    let t = el::<u32>(b, usize::from(i >> 6));
    let d = usize::from((i >> 4) & 3);
    build::<u32>(|k| {
        if (i >> k) & 1 != 0 {
            0
        } else if k == d {
            t
        } else {
            el(a, k)
        }
    })
});

/// Variable blends: element k from b when the top bit of the mask's
/// element k is set. The mask is XMM0 (legacy) or the is4 register.
#[inline(always)]
fn blendv<T: Lane>(a: V, b: V, m: V, bits: u32) -> V {
    build::<T>(|k| {
        let sel = match bits {
            8 => el::<u8>(m, k) >> 7 != 0,
            32 => el::<u32>(m, k) >> 31 != 0,
            _ => el::<u64>(m, k) >> 63 != 0,
        };
        if sel { el(b, k) } else { el(a, k) }
    })
}

fn blendv_any(a: V, b: V, m: V, w: u8) -> V {
    match w {
        1 => blendv::<u8>(a, b, m, 8),
        4 => blendv::<u32>(a, b, m, 32),
        _ => blendv::<u64>(a, b, m, 64),
    }
}

/// BLENDVPS/PD, PBLENDVB (legacy: mask XMM0; W = element bytes).
fn blendv_leg<const W: u8, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    let b = if MEM {
        load_m::<16, true>(ctx, op)?
    } else {
        ctx.xmm(op.r2)
    };
    let r = blendv_any(ctx.xmm(op.r1), b, ctx.xmm(0), W);
    ctx.set_xmm(op.r0, r);
    Ok(())
}

/// VBLENDVPS/PD, VPBLENDVB (mask: is4 register in `imm`).
fn blendv_vex<const W: u8, const MEM: bool, const Y: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let m = op.imm as u8;
    if Y {
        let [b0, b1] = if MEM {
            let ea = ctx.ea(op);
            ctx.read_v256(op.seg, ea, false)?
        } else {
            [ctx.xmm(op.r2), ctx.yhi(op.r2)]
        };
        let lo = blendv_any(ctx.xmm(op.r1), b0, ctx.xmm(m), W);
        let hi = blendv_any(ctx.yhi(op.r1), b1, ctx.yhi(m), W);
        ctx.set_xmm(op.r0, lo);
        ctx.set_yhi(op.r0, hi);
    } else {
        let b = if MEM {
            load_m::<16, false>(ctx, op)?
        } else {
            ctx.xmm(op.r2)
        };
        let r = blendv_any(ctx.xmm(op.r1), b, ctx.xmm(m), W);
        ctx.set_xmm_vex(op.r0, r);
    }
    Ok(())
}

fn blendv_decode<const W: u8>(d: &D, op: &mut Op, f: Feature, f256: Feature) -> Option<Decoded> {
    d.fill(op);
    if !d.vex {
        // Legacy: `xmm1, xmm2/m128, <XMM0>`.
        op.r1 = op.r0;
        op.r2 = if d.mem { 0 } else { super::reg_of(d.insn, 1) };
        let h: Handler = if d.mem {
            handler(blendv_leg::<W, true>)
        } else {
            handler(blendv_leg::<W, false>)
        };
        return d.gate(f, h);
    }
    let h: Handler = match (d.y, d.mem) {
        (true, true) => handler(blendv_vex::<W, true, true>),
        (true, false) => handler(blendv_vex::<W, false, true>),
        (false, true) => handler(blendv_vex::<W, true, false>),
        (false, false) => handler(blendv_vex::<W, false, false>),
    };
    d.gate(if d.y { f256 } else { Feature::Avx }, h)
}

// ---- zero/sign extension ---------------------------------------------------------------

macro_rules! pmovx {
    ($name:ident, $s:ty, $t:ty, $via:ty) => {
        kern!($name, |a, b, i, e| build::<$t>(
            |k| el::<$s>(b, k) as $via as $t
        ));
    };
}
pmovx!(Pmovzxbw, u8, u16, u16);
pmovx!(Pmovzxbd, u8, u32, u32);
pmovx!(Pmovzxbq, u8, u64, u64);
pmovx!(Pmovzxwd, u16, u32, u32);
pmovx!(Pmovzxwq, u16, u64, u64);
pmovx!(Pmovzxdq, u32, u64, u64);
pmovx!(Pmovsxbw, i8, i16, i16);
pmovx!(Pmovsxbd, i8, i32, i32);
pmovx!(Pmovsxbq, i8, i64, i64);
pmovx!(Pmovsxwd, i16, i32, i32);
pmovx!(Pmovsxwq, i16, i64, i64);
pmovx!(Pmovsxdq, i32, i64, i64);

/// A VEX.256 widening op (`ymm, xmm/m(M)`): the kernel on the source for
/// the low lane and on the source shifted right by M/2 bytes for the
/// high lane.
pub fn widen<Kn: K, const M: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let s = if op.imm2 != 0 {
        match M {
            4 => load_m::<4, false>(ctx, op)?,
            8 => load_m::<8, false>(ctx, op)?,
            _ => load_m::<16, false>(ctx, op)?,
        }
    } else {
        ctx.xmm(op.r2)
    };
    let sh = u32::from(M) * 4;
    let hi_src = from_u128(to_u128(s) >> sh);
    let lo = run::<Kn>(ctx, [0, 0], s, op.imm as u8)?;
    let hi = run::<Kn>(ctx, [0, 0], hi_src, op.imm as u8)?;
    ctx.set_xmm(op.r0, lo);
    ctx.set_yhi(op.r0, hi);
    Ok(())
}

/// Decodes a widening op: 128-bit forms take `m(M/2)` memory, the
/// VEX.256 form `m(M)`.
pub fn widen_decode<Kn: K, const M: u8, const M2: u8>(
    d: &D,
    op: &mut Op,
    f: Feature,
    f256: Feature,
) -> Option<Decoded> {
    if d.y {
        d.fill(op);
        op.imm2 = u16::from(d.mem);
        return d.gate(f256, handler(widen::<Kn, M>));
    }
    d.x128::<Kn, M2, false>(op, f)
}

// ---- SSE4.1 odds and ends -------------------------------------------------------------

kern!(
    Mpsadbw,
    |a, b, i, e| {
        let o1 = usize::from((i >> 2) & 1) * 4;
        let o2 = usize::from(i & 3) * 4;
        build::<u16>(|k| {
            (0..4)
                .map(|j| u16::from(el::<u8>(a, o1 + k + j).abs_diff(el::<u8>(b, o2 + j))))
                .sum()
        })
    },
    hi = |i| i >> 3
);

kern!(Phminposuw, |a, b, i, e| {
    let (mut m, mut idx) = (el::<u16>(b, 0), 0u64);
    for k in 1..8 {
        let x = el::<u16>(b, k);
        if x < m {
            m = x;
            idx = k as u64;
        }
    }
    [u64::from(m) | idx << 16, 0]
});

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Avx, Avx2, Mmx, Sse, Sse2, Sse3, Sse4_1, Ssse3};
    let mmx = Some(Mmx);
    match d.insn.mnemonic() {
        Mn::Pshufd | Mn::Vpshufd => d.packed::<Pshufd>(op, Sse2, Avx2),
        Mn::Pshuflw | Mn::Vpshuflw => d.packed::<Pshuflw>(op, Sse2, Avx2),
        Mn::Pshufhw | Mn::Vpshufhw => d.packed::<Pshufhw>(op, Sse2, Avx2),
        Mn::Pshufw => d.int::<Pshufw>(op, Sse, Some(Sse)),
        Mn::Pshufb | Mn::Vpshufb => d.int::<Pshufb>(op, Ssse3, Some(Ssse3)),
        Mn::Punpcklbw | Mn::Vpunpcklbw => d.int::<Punpcklbw>(op, Sse2, mmx),
        Mn::Punpcklwd | Mn::Vpunpcklwd => d.int::<Punpcklwd>(op, Sse2, mmx),
        Mn::Punpckldq | Mn::Vpunpckldq => d.int::<Punpckldq>(op, Sse2, mmx),
        Mn::Punpcklqdq | Mn::Vpunpcklqdq => d.int::<Punpcklqdq>(op, Sse2, None),
        Mn::Punpckhbw | Mn::Vpunpckhbw => d.int::<Punpckhbw>(op, Sse2, mmx),
        Mn::Punpckhwd | Mn::Vpunpckhwd => d.int::<Punpckhwd>(op, Sse2, mmx),
        Mn::Punpckhdq | Mn::Vpunpckhdq => d.int::<Punpckhdq>(op, Sse2, mmx),
        Mn::Punpckhqdq | Mn::Vpunpckhqdq => d.int::<Punpckhqdq>(op, Sse2, None),
        Mn::Packsswb | Mn::Vpacksswb => d.int::<Packsswb>(op, Sse2, mmx),
        Mn::Packuswb | Mn::Vpackuswb => d.int::<Packuswb>(op, Sse2, mmx),
        Mn::Packssdw | Mn::Vpackssdw => d.int::<Packssdw>(op, Sse2, mmx),
        Mn::Packusdw | Mn::Vpackusdw => d.int::<Packusdw>(op, Sse4_1, None),
        Mn::Palignr | Mn::Vpalignr => d.int::<Palignr>(op, Ssse3, Some(Ssse3)),
        Mn::Shufps | Mn::Vshufps => d.packed::<Shufps>(op, Sse, Avx),
        Mn::Shufpd | Mn::Vshufpd => d.packed::<Shufpd>(op, Sse2, Avx),
        Mn::Unpcklps | Mn::Vunpcklps => d.packed::<Punpckldq>(op, Sse, Avx),
        Mn::Unpckhps | Mn::Vunpckhps => d.packed::<Punpckhdq>(op, Sse, Avx),
        Mn::Unpcklpd | Mn::Vunpcklpd => d.packed::<Punpcklqdq>(op, Sse2, Avx),
        Mn::Unpckhpd | Mn::Vunpckhpd => d.packed::<Punpckhqdq>(op, Sse2, Avx),
        Mn::Movsldup | Mn::Vmovsldup => d.packed::<Movsldup>(op, Sse3, Avx),
        Mn::Movshdup | Mn::Vmovshdup => d.packed::<Movshdup>(op, Sse3, Avx),
        Mn::Movddup | Mn::Vmovddup => {
            if d.y {
                d.packed::<Movddup>(op, Sse3, Avx)
            } else {
                d.x128::<Movddup, 8, false>(op, Sse3)
            }
        }
        Mn::Pblendw | Mn::Vpblendw => d.packed::<Pblendw>(op, Sse4_1, Avx2),
        Mn::Blendps | Mn::Vblendps => d.packed::<Blendps>(op, Sse4_1, Avx),
        Mn::Blendpd | Mn::Vblendpd => d.packed::<Blendpd>(op, Sse4_1, Avx),
        Mn::Vpblendd => d.packed::<Blendps>(op, Avx2, Avx2),
        Mn::Blendvps | Mn::Vblendvps => blendv_decode::<4>(d, op, Sse4_1, Avx),
        Mn::Blendvpd | Mn::Vblendvpd => blendv_decode::<8>(d, op, Sse4_1, Avx),
        Mn::Pblendvb | Mn::Vpblendvb => blendv_decode::<1>(d, op, Sse4_1, Avx2),
        Mn::Insertps | Mn::Vinsertps => {
            let r = d.x128::<Insertps, 4, false>(op, Sse4_1);
            if d.mem {
                // From memory the source is the loaded dword (COUNT_S = 0).
                op.imm &= 0x3F;
            }
            r
        }
        Mn::Pmovzxbw | Mn::Vpmovzxbw => widen_decode::<Pmovzxbw, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Pmovzxbd | Mn::Vpmovzxbd => widen_decode::<Pmovzxbd, 8, 4>(d, op, Sse4_1, Avx2),
        Mn::Pmovzxbq | Mn::Vpmovzxbq => widen_decode::<Pmovzxbq, 4, 2>(d, op, Sse4_1, Avx2),
        Mn::Pmovzxwd | Mn::Vpmovzxwd => widen_decode::<Pmovzxwd, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Pmovzxwq | Mn::Vpmovzxwq => widen_decode::<Pmovzxwq, 8, 4>(d, op, Sse4_1, Avx2),
        Mn::Pmovzxdq | Mn::Vpmovzxdq => widen_decode::<Pmovzxdq, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxbw | Mn::Vpmovsxbw => widen_decode::<Pmovsxbw, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxbd | Mn::Vpmovsxbd => widen_decode::<Pmovsxbd, 8, 4>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxbq | Mn::Vpmovsxbq => widen_decode::<Pmovsxbq, 4, 2>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxwd | Mn::Vpmovsxwd => widen_decode::<Pmovsxwd, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxwq | Mn::Vpmovsxwq => widen_decode::<Pmovsxwq, 8, 4>(d, op, Sse4_1, Avx2),
        Mn::Pmovsxdq | Mn::Vpmovsxdq => widen_decode::<Pmovsxdq, 16, 8>(d, op, Sse4_1, Avx2),
        Mn::Mpsadbw | Mn::Vmpsadbw => d.packed::<Mpsadbw>(op, Sse4_1, Avx2),
        Mn::Phminposuw | Mn::Vphminposuw => d.x128::<Phminposuw, 16, true>(op, Sse4_1),
        _ => None,
    }
}
