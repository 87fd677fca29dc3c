//! Packed integer arithmetic, logic, comparisons, multiplies, min/max,
//! averages, absolute value and sign, horizontal add/subtract and shifts
//! (MMX, SSE2, SSSE3, SSE4.1, SSE4.2 PCMPGTQ, AVX, AVX2).

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{D, K, V, build, el, from_u128, map1, map2, mm, mr, to_u128, xm, xr, ym, yr};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Handler, Op};
use crate::kern;
use crate::model::Feature;

#[inline(always)]
fn sat16(x: i32) -> i16 {
    x.clamp(-32768, 32767) as i16
}

// ---- add, subtract, logic -------------------------------------------------------------

kern!(Paddb, |a, b, i, e| map2::<u8>(a, b, u8::wrapping_add));
kern!(Paddw, |a, b, i, e| map2::<u16>(a, b, u16::wrapping_add));
kern!(Paddd, |a, b, i, e| map2::<u32>(a, b, u32::wrapping_add));
kern!(Paddq, |a, b, i, e| map2::<u64>(a, b, u64::wrapping_add));
kern!(Psubb, |a, b, i, e| map2::<u8>(a, b, u8::wrapping_sub));
kern!(Psubw, |a, b, i, e| map2::<u16>(a, b, u16::wrapping_sub));
kern!(Psubd, |a, b, i, e| map2::<u32>(a, b, u32::wrapping_sub));
kern!(Psubq, |a, b, i, e| map2::<u64>(a, b, u64::wrapping_sub));
kern!(Paddsb, |a, b, i, e| map2::<i8>(a, b, i8::saturating_add));
kern!(Paddsw, |a, b, i, e| map2::<i16>(a, b, i16::saturating_add));
kern!(Paddusb, |a, b, i, e| map2::<u8>(a, b, u8::saturating_add));
kern!(Paddusw, |a, b, i, e| map2::<u16>(a, b, u16::saturating_add));
kern!(Psubsb, |a, b, i, e| map2::<i8>(a, b, i8::saturating_sub));
kern!(Psubsw, |a, b, i, e| map2::<i16>(a, b, i16::saturating_sub));
kern!(Psubusb, |a, b, i, e| map2::<u8>(a, b, u8::saturating_sub));
kern!(Psubusw, |a, b, i, e| map2::<u16>(a, b, u16::saturating_sub));
kern!(Pand, |a, b, i, e| [a[0] & b[0], a[1] & b[1]]);
kern!(Pandn, |a, b, i, e| [!a[0] & b[0], !a[1] & b[1]]);
kern!(Por, |a, b, i, e| [a[0] | b[0], a[1] | b[1]]);
kern!(Pxor, |a, b, i, e| [a[0] ^ b[0], a[1] ^ b[1]]);

// ---- comparisons ---------------------------------------------------------------------

macro_rules! cmp_kern {
    ($name:ident, $t:ty, $u:ty, $op:tt) => {
        kern!($name, |a, b, i, e| map2::<$t>(a, b, |x, y| if x $op y { !0 as $u as $t } else { 0 }));
    };
}
cmp_kern!(Pcmpeqb, u8, u8, ==);
cmp_kern!(Pcmpeqw, u16, u16, ==);
cmp_kern!(Pcmpeqd, u32, u32, ==);
cmp_kern!(Pcmpeqq, u64, u64, ==);
cmp_kern!(Pcmpgtb, i8, u8, >);
cmp_kern!(Pcmpgtw, i16, u16, >);
cmp_kern!(Pcmpgtd, i32, u32, >);
cmp_kern!(Pcmpgtq, i64, u64, >);

// ---- multiplies --------------------------------------------------------------------------

kern!(Pmullw, |a, b, i, e| map2::<u16>(a, b, u16::wrapping_mul));
kern!(Pmulhw, |a, b, i, e| map2::<i16>(
    a,
    b,
    |x, y| ((i32::from(x) * i32::from(y)) >> 16) as i16
));
kern!(Pmulhuw, |a, b, i, e| map2::<u16>(
    a,
    b,
    |x, y| ((u32::from(x) * u32::from(y)) >> 16) as u16
));
kern!(Pmulld, |a, b, i, e| map2::<u32>(a, b, u32::wrapping_mul));
kern!(Pmuludq, |a, b, i, e| map2::<u64>(a, b, |x, y| (x
    & 0xFFFF_FFFF)
    * (y & 0xFFFF_FFFF)));
kern!(Pmuldq, |a, b, i, e| map2::<u64>(a, b, |x, y| {
    (i64::from(x as i32) * i64::from(y as i32)) as u64
}));
kern!(Pmaddwd, |a, b, i, e| build::<u32>(|k| {
    let p = |j: usize| i32::from(el::<i16>(a, j)) * i32::from(el::<i16>(b, j));
    p(2 * k).wrapping_add(p(2 * k + 1)) as u32
}));
kern!(Pmulhrsw, |a, b, i, e| map2::<i16>(a, b, |x, y| {
    ((((i32::from(x) * i32::from(y)) >> 14) + 1) >> 1) as i16
}));
kern!(Pmaddubsw, |a, b, i, e| build::<i16>(|k| {
    let p = |j: usize| i32::from(el::<u8>(a, j)) * i32::from(el::<i8>(b, j));
    sat16(p(2 * k) + p(2 * k + 1))
}));

// ---- average, min/max, SAD, abs, sign -------------------------------------------------

kern!(Pavgb, |a, b, i, e| map2::<u8>(
    a,
    b,
    |x, y| ((u16::from(x) + u16::from(y) + 1) >> 1) as u8
));
kern!(Pavgw, |a, b, i, e| map2::<u16>(
    a,
    b,
    |x, y| ((u32::from(x) + u32::from(y) + 1) >> 1) as u16
));
kern!(Pminub, |a, b, i, e| map2::<u8>(a, b, Ord::min));
kern!(Pmaxub, |a, b, i, e| map2::<u8>(a, b, Ord::max));
kern!(Pminsw, |a, b, i, e| map2::<i16>(a, b, Ord::min));
kern!(Pmaxsw, |a, b, i, e| map2::<i16>(a, b, Ord::max));
kern!(Pminsb, |a, b, i, e| map2::<i8>(a, b, Ord::min));
kern!(Pmaxsb, |a, b, i, e| map2::<i8>(a, b, Ord::max));
kern!(Pminuw, |a, b, i, e| map2::<u16>(a, b, Ord::min));
kern!(Pmaxuw, |a, b, i, e| map2::<u16>(a, b, Ord::max));
kern!(Pminsd, |a, b, i, e| map2::<i32>(a, b, Ord::min));
kern!(Pmaxsd, |a, b, i, e| map2::<i32>(a, b, Ord::max));
kern!(Pminud, |a, b, i, e| map2::<u32>(a, b, Ord::min));
kern!(Pmaxud, |a, b, i, e| map2::<u32>(a, b, Ord::max));
kern!(Psadbw, |a, b, i, e| build::<u64>(|q| {
    (0..8)
        .map(|j| u64::from(el::<u8>(a, 8 * q + j).abs_diff(el::<u8>(b, 8 * q + j))))
        .sum()
}));
kern!(Pabsb, |a, b, i, e| map1::<i8>(b, |x| x.unsigned_abs()
    as i8));
kern!(Pabsw, |a, b, i, e| map1::<i16>(b, |x| x.unsigned_abs()
    as i16));
kern!(Pabsd, |a, b, i, e| map1::<i32>(b, |x| x.unsigned_abs()
    as i32));

macro_rules! sign_kern {
    ($name:ident, $t:ty) => {
        kern!($name, |a, b, i, e| map2::<$t>(a, b, |x, y| {
            if y < 0 {
                x.wrapping_neg()
            } else if y == 0 {
                0
            } else {
                x
            }
        }));
    };
}
sign_kern!(Psignb, i8);
sign_kern!(Psignw, i16);
sign_kern!(Psignd, i32);

// ---- horizontal add/subtract (SSSE3) ---------------------------------------------------

/// Pairwise `f` over the elements of a then b (128-bit form), or of the
/// low halves (64-bit MMX form).
#[inline(always)]
fn hpair<T: super::Lane>(a: V, b: V, f: impl Fn(T, T) -> T) -> V {
    let n = T::N;
    build::<T>(|k| {
        let (src, j) = if k < n / 2 {
            (a, 2 * k)
        } else {
            (b, 2 * (k - n / 2))
        };
        f(el::<T>(src, j), el::<T>(src, j + 1))
    })
}

#[inline(always)]
fn hpair64<T: super::Lane>(a: u64, b: u64, f: impl Fn(T, T) -> T) -> u64 {
    let n = T::N / 2;
    build::<T>(|k| {
        if k >= n {
            return el::<T>([0, 0], 0);
        }
        let (src, j) = if k < n / 2 {
            (a, 2 * k)
        } else {
            (b, 2 * (k - n / 2))
        };
        f(el::<T>([src, 0], j), el::<T>([src, 0], j + 1))
    })[0]
}

macro_rules! hkern {
    ($name:ident, $t:ty, $f:expr) => {
        kern!(
            $name,
            |a, b, i, e| hpair::<$t>(a, b, $f),
            mmx = |a, b, i| hpair64::<$t>(a, b, $f)
        );
    };
}
hkern!(Phaddw, u16, u16::wrapping_add);
hkern!(Phaddd, u32, u32::wrapping_add);
hkern!(Phaddsw, i16, i16::saturating_add);
hkern!(Phsubw, u16, u16::wrapping_sub);
hkern!(Phsubd, u32, u32::wrapping_sub);
hkern!(Phsubsw, i16, i16::saturating_sub);

// ---- shifts ----------------------------------------------------------------------

/// Shift by a count: `a` shifted by the low quadword of `b`; the `I`
/// variants shift `b` by the immediate.
macro_rules! shift_kern {
    ($cnt:ident, $imm:ident, $t:ty, $bits:expr, logical_left) => {
        kern!($cnt, |a, b, i, e| map1::<$t>(a, |x| if b[0] >= $bits {
            0
        } else {
            x << b[0]
        }));
        kern!($imm, |a, b, i, e| map1::<$t>(b, |x| {
            if u32::from(i) >= $bits { 0 } else { x << i }
        }));
    };
    ($cnt:ident, $imm:ident, $t:ty, $bits:expr, logical_right) => {
        kern!($cnt, |a, b, i, e| map1::<$t>(a, |x| if b[0] >= $bits {
            0
        } else {
            x >> b[0]
        }));
        kern!($imm, |a, b, i, e| map1::<$t>(b, |x| {
            if u32::from(i) >= $bits { 0 } else { x >> i }
        }));
    };
    ($cnt:ident, $imm:ident, $t:ty, $bits:expr, arith) => {
        kern!($cnt, |a, b, i, e| map1::<$t>(a, |x| x
            >> b[0].min($bits - 1)));
        kern!($imm, |a, b, i, e| map1::<$t>(b, |x| x
            >> u32::from(i).min($bits - 1)));
    };
}
shift_kern!(Psllw, PsllwI, u16, 16, logical_left);
shift_kern!(Pslld, PslldI, u32, 32, logical_left);
shift_kern!(Psllq, PsllqI, u64, 64, logical_left);
shift_kern!(Psrlw, PsrlwI, u16, 16, logical_right);
shift_kern!(Psrld, PsrldI, u32, 32, logical_right);
shift_kern!(Psrlq, PsrlqI, u64, 64, logical_right);
shift_kern!(Psraw, PsrawI, i16, 16, arith);
shift_kern!(Psrad, PsradI, i32, 32, arith);

kern!(Pslldq, |a, b, i, e| if i > 15 {
    [0, 0]
} else {
    from_u128(to_u128(b) << (8 * u32::from(i)))
});
kern!(Psrldq, |a, b, i, e| if i > 15 {
    [0, 0]
} else {
    from_u128(to_u128(b) >> (8 * u32::from(i)))
});

// AVX2 per-element variable shifts.
kern!(Psllvd, |a, b, i, e| map2::<u32>(a, b, |x, c| if c > 31 {
    0
} else {
    x << c
}));
kern!(Psllvq, |a, b, i, e| map2::<u64>(a, b, |x, c| if c > 63 {
    0
} else {
    x << c
}));
kern!(Psrlvd, |a, b, i, e| map2::<u32>(a, b, |x, c| if c > 31 {
    0
} else {
    x >> c
}));
kern!(Psrlvq, |a, b, i, e| map2::<u64>(a, b, |x, c| if c > 63 {
    0
} else {
    x >> c
}));
kern!(Psravd, |a, b, i, e| map2::<i32>(a, b, |x, c| x
    >> (c as u32).min(31)));

/// Shift by an xmm/m128 (or mm/m64) count: the VEX.256 form uses the same
/// 128-bit count for both lanes.
fn shift_count<Kn: K>(d: &D, op: &mut Op, mmx_f: Feature) -> Option<Decoded> {
    d.fill(op);
    let (h, f): (Handler, Feature) = if d.vex {
        match (d.y, d.mem) {
            (true, true) => (handler(ym::<Kn, true>), Feature::Avx2),
            (true, false) => (handler(yr::<Kn, true>), Feature::Avx2),
            (false, true) => (handler(xm::<Kn, true, 16, false>), Feature::Avx),
            (false, false) => (handler(xr::<Kn, true>), Feature::Avx),
        }
    } else if d.mmx {
        (
            if d.mem {
                handler(mm::<Kn>)
            } else {
                handler(mr::<Kn>)
            },
            mmx_f,
        )
    } else if d.mem {
        (handler(xm::<Kn, false, 16, true>), Feature::Sse2)
    } else {
        (handler(xr::<Kn, false>), Feature::Sse2)
    };
    d.gate(f, h)
}

/// Shift by imm8: legacy `xmm/mm, imm8` (source = destination) or VEX
/// `vvvv, r/m, imm8` (iced lists the destination first either way).
fn shift_imm<Kn: K>(d: &D, op: &mut Op, mmx_ok: bool) -> Option<Decoded> {
    d.fill(op);
    if !d.vex {
        op.r2 = op.r0;
    }
    let (h, f): (Handler, Feature) = if d.vex {
        if d.y {
            (handler(yr::<Kn, false>), Feature::Avx2)
        } else {
            (handler(xr::<Kn, true>), Feature::Avx)
        }
    } else if d.mmx {
        if !mmx_ok {
            return None;
        }
        (handler(mr::<Kn>), Feature::Mmx)
    } else {
        (handler(xr::<Kn, false>), Feature::Sse2)
    };
    d.gate(f, h)
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Mmx, Sse, Sse2, Sse4_1, Sse4_2, Ssse3};
    let imm_form = d.insn.op_count() >= 2
        && crate::interp::decode::is_imm(d.insn.op_kind(d.insn.op_count() - 1));
    macro_rules! sh {
        ($cnt:ident, $imm:ident, $mmx:expr) => {
            if imm_form {
                shift_imm::<$imm>(d, op, $mmx)
            } else {
                shift_count::<$cnt>(d, op, if $mmx { Mmx } else { Sse2 })
            }
        };
    }
    let mmx = Some(Mmx);
    let m = d.insn.mnemonic();
    match m {
        Mn::Paddb | Mn::Vpaddb => d.int::<Paddb>(op, Sse2, mmx),
        Mn::Paddw | Mn::Vpaddw => d.int::<Paddw>(op, Sse2, mmx),
        Mn::Paddd | Mn::Vpaddd => d.int::<Paddd>(op, Sse2, mmx),
        Mn::Paddq | Mn::Vpaddq => d.int::<Paddq>(op, Sse2, Some(Sse2)),
        Mn::Psubb | Mn::Vpsubb => d.int::<Psubb>(op, Sse2, mmx),
        Mn::Psubw | Mn::Vpsubw => d.int::<Psubw>(op, Sse2, mmx),
        Mn::Psubd | Mn::Vpsubd => d.int::<Psubd>(op, Sse2, mmx),
        Mn::Psubq | Mn::Vpsubq => d.int::<Psubq>(op, Sse2, Some(Sse2)),
        Mn::Paddsb | Mn::Vpaddsb => d.int::<Paddsb>(op, Sse2, mmx),
        Mn::Paddsw | Mn::Vpaddsw => d.int::<Paddsw>(op, Sse2, mmx),
        Mn::Paddusb | Mn::Vpaddusb => d.int::<Paddusb>(op, Sse2, mmx),
        Mn::Paddusw | Mn::Vpaddusw => d.int::<Paddusw>(op, Sse2, mmx),
        Mn::Psubsb | Mn::Vpsubsb => d.int::<Psubsb>(op, Sse2, mmx),
        Mn::Psubsw | Mn::Vpsubsw => d.int::<Psubsw>(op, Sse2, mmx),
        Mn::Psubusb | Mn::Vpsubusb => d.int::<Psubusb>(op, Sse2, mmx),
        Mn::Psubusw | Mn::Vpsubusw => d.int::<Psubusw>(op, Sse2, mmx),
        Mn::Pand | Mn::Vpand => d.int::<Pand>(op, Sse2, mmx),
        Mn::Pandn | Mn::Vpandn => d.int::<Pandn>(op, Sse2, mmx),
        Mn::Por | Mn::Vpor => d.int::<Por>(op, Sse2, mmx),
        Mn::Pxor | Mn::Vpxor => d.int::<Pxor>(op, Sse2, mmx),
        Mn::Pcmpeqb | Mn::Vpcmpeqb => d.int::<Pcmpeqb>(op, Sse2, mmx),
        Mn::Pcmpeqw | Mn::Vpcmpeqw => d.int::<Pcmpeqw>(op, Sse2, mmx),
        Mn::Pcmpeqd | Mn::Vpcmpeqd => d.int::<Pcmpeqd>(op, Sse2, mmx),
        Mn::Pcmpeqq | Mn::Vpcmpeqq => d.int::<Pcmpeqq>(op, Sse4_1, None),
        Mn::Pcmpgtb | Mn::Vpcmpgtb => d.int::<Pcmpgtb>(op, Sse2, mmx),
        Mn::Pcmpgtw | Mn::Vpcmpgtw => d.int::<Pcmpgtw>(op, Sse2, mmx),
        Mn::Pcmpgtd | Mn::Vpcmpgtd => d.int::<Pcmpgtd>(op, Sse2, mmx),
        Mn::Pcmpgtq | Mn::Vpcmpgtq => d.int::<Pcmpgtq>(op, Sse4_2, None),
        Mn::Pmullw | Mn::Vpmullw => d.int::<Pmullw>(op, Sse2, mmx),
        Mn::Pmulhw | Mn::Vpmulhw => d.int::<Pmulhw>(op, Sse2, mmx),
        Mn::Pmulhuw | Mn::Vpmulhuw => d.int::<Pmulhuw>(op, Sse2, Some(Sse)),
        Mn::Pmulld | Mn::Vpmulld => d.int::<Pmulld>(op, Sse4_1, None),
        Mn::Pmuludq | Mn::Vpmuludq => d.int::<Pmuludq>(op, Sse2, Some(Sse2)),
        Mn::Pmuldq | Mn::Vpmuldq => d.int::<Pmuldq>(op, Sse4_1, None),
        Mn::Pmaddwd | Mn::Vpmaddwd => d.int::<Pmaddwd>(op, Sse2, mmx),
        Mn::Pmulhrsw | Mn::Vpmulhrsw => d.int::<Pmulhrsw>(op, Ssse3, Some(Ssse3)),
        Mn::Pmaddubsw | Mn::Vpmaddubsw => d.int::<Pmaddubsw>(op, Ssse3, Some(Ssse3)),
        Mn::Pavgb | Mn::Vpavgb => d.int::<Pavgb>(op, Sse2, Some(Sse)),
        Mn::Pavgw | Mn::Vpavgw => d.int::<Pavgw>(op, Sse2, Some(Sse)),
        Mn::Pminub | Mn::Vpminub => d.int::<Pminub>(op, Sse2, Some(Sse)),
        Mn::Pmaxub | Mn::Vpmaxub => d.int::<Pmaxub>(op, Sse2, Some(Sse)),
        Mn::Pminsw | Mn::Vpminsw => d.int::<Pminsw>(op, Sse2, Some(Sse)),
        Mn::Pmaxsw | Mn::Vpmaxsw => d.int::<Pmaxsw>(op, Sse2, Some(Sse)),
        Mn::Pminsb | Mn::Vpminsb => d.int::<Pminsb>(op, Sse4_1, None),
        Mn::Pmaxsb | Mn::Vpmaxsb => d.int::<Pmaxsb>(op, Sse4_1, None),
        Mn::Pminuw | Mn::Vpminuw => d.int::<Pminuw>(op, Sse4_1, None),
        Mn::Pmaxuw | Mn::Vpmaxuw => d.int::<Pmaxuw>(op, Sse4_1, None),
        Mn::Pminsd | Mn::Vpminsd => d.int::<Pminsd>(op, Sse4_1, None),
        Mn::Pmaxsd | Mn::Vpmaxsd => d.int::<Pmaxsd>(op, Sse4_1, None),
        Mn::Pminud | Mn::Vpminud => d.int::<Pminud>(op, Sse4_1, None),
        Mn::Pmaxud | Mn::Vpmaxud => d.int::<Pmaxud>(op, Sse4_1, None),
        Mn::Psadbw | Mn::Vpsadbw => d.int::<Psadbw>(op, Sse2, Some(Sse)),
        Mn::Pabsb | Mn::Vpabsb => d.int::<Pabsb>(op, Ssse3, Some(Ssse3)),
        Mn::Pabsw | Mn::Vpabsw => d.int::<Pabsw>(op, Ssse3, Some(Ssse3)),
        Mn::Pabsd | Mn::Vpabsd => d.int::<Pabsd>(op, Ssse3, Some(Ssse3)),
        Mn::Psignb | Mn::Vpsignb => d.int::<Psignb>(op, Ssse3, Some(Ssse3)),
        Mn::Psignw | Mn::Vpsignw => d.int::<Psignw>(op, Ssse3, Some(Ssse3)),
        Mn::Psignd | Mn::Vpsignd => d.int::<Psignd>(op, Ssse3, Some(Ssse3)),
        Mn::Phaddw | Mn::Vphaddw => d.int::<Phaddw>(op, Ssse3, Some(Ssse3)),
        Mn::Phaddd | Mn::Vphaddd => d.int::<Phaddd>(op, Ssse3, Some(Ssse3)),
        Mn::Phaddsw | Mn::Vphaddsw => d.int::<Phaddsw>(op, Ssse3, Some(Ssse3)),
        Mn::Phsubw | Mn::Vphsubw => d.int::<Phsubw>(op, Ssse3, Some(Ssse3)),
        Mn::Phsubd | Mn::Vphsubd => d.int::<Phsubd>(op, Ssse3, Some(Ssse3)),
        Mn::Phsubsw | Mn::Vphsubsw => d.int::<Phsubsw>(op, Ssse3, Some(Ssse3)),
        Mn::Psllw | Mn::Vpsllw => sh!(Psllw, PsllwI, true),
        Mn::Pslld | Mn::Vpslld => sh!(Pslld, PslldI, true),
        Mn::Psllq | Mn::Vpsllq => sh!(Psllq, PsllqI, true),
        Mn::Psrlw | Mn::Vpsrlw => sh!(Psrlw, PsrlwI, true),
        Mn::Psrld | Mn::Vpsrld => sh!(Psrld, PsrldI, true),
        Mn::Psrlq | Mn::Vpsrlq => sh!(Psrlq, PsrlqI, true),
        Mn::Psraw | Mn::Vpsraw => sh!(Psraw, PsrawI, true),
        Mn::Psrad | Mn::Vpsrad => sh!(Psrad, PsradI, true),
        Mn::Pslldq | Mn::Vpslldq => shift_imm::<Pslldq>(d, op, false),
        Mn::Psrldq | Mn::Vpsrldq => shift_imm::<Psrldq>(d, op, false),
        Mn::Vpsllvd => d.packed::<Psllvd>(op, Feature::Avx2, Feature::Avx2),
        Mn::Vpsllvq => d.packed::<Psllvq>(op, Feature::Avx2, Feature::Avx2),
        Mn::Vpsrlvd => d.packed::<Psrlvd>(op, Feature::Avx2, Feature::Avx2),
        Mn::Vpsrlvq => d.packed::<Psrlvq>(op, Feature::Avx2, Feature::Avx2),
        Mn::Vpsravd => d.packed::<Psravd>(op, Feature::Avx2, Feature::Avx2),
        _ => None,
    }
}
