//! AVX/AVX2 instructions that cross 128-bit lanes or have no legacy
//! counterpart: broadcasts, VINSERT/VEXTRACT 128, VPERM2x128, VPERMQ/PD,
//! VPERMD/PS, VPERMILPS/PD, masked loads and stores (VMASKMOV, VPMASKMOV),
//! gathers (VGATHER*, VPGATHER*), and the bit tests PTEST/VPTEST/VTESTPS/
//! VTESTPD.

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{D, V, avx_ok, build, el, load_m, sse_ok};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op, W64};
use crate::kern;
use crate::model::Feature;
use crate::state::rflags;

/// Reads ymm(r2) or the m256 operand.
#[inline(always)]
fn src256<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Result<[V; 2], crate::interp::exec::Stop> {
    if MEM {
        let ea = ctx.ea(op);
        ctx.read_v256(op.seg, ea, false)
    } else {
        Ok([ctx.xmm(op.r2), ctx.yhi(op.r2)])
    }
}

#[inline(always)]
fn set_y(ctx: &mut Ctx, n: u8, v: [V; 2]) {
    ctx.set_xmm(n, v[0]);
    ctx.set_yhi(n, v[1]);
}

// ---- broadcasts ------------------------------------------------------------------------

/// VBROADCASTSS/SD/F128/I128, VPBROADCASTB/W/D/Q: element 0 of the
/// source (xmm or memory of W bytes) in every element.
fn bcast<const W: u8, const Y: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let s = if MEM {
        match W {
            1 => load_m::<1, false>(ctx, op)?,
            2 => load_m::<2, false>(ctx, op)?,
            4 => load_m::<4, false>(ctx, op)?,
            8 => load_m::<8, false>(ctx, op)?,
            _ => load_m::<16, false>(ctx, op)?,
        }
    } else {
        ctx.xmm(op.r2)
    };
    let v = match W {
        1 => build::<u8>(|_| el(s, 0)),
        2 => build::<u16>(|_| el(s, 0)),
        4 => build::<u32>(|_| el(s, 0)),
        8 => [s[0], s[0]],
        _ => s,
    };
    if Y {
        set_y(ctx, op.r0, [v, v]);
    } else {
        ctx.set_xmm_vex(op.r0, v);
    }
    Ok(())
}

fn bcast_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let h: Handler = match (d.y, d.mem) {
        (true, true) => handler(bcast::<W, true, true>),
        (true, false) => handler(bcast::<W, true, false>),
        (false, true) => handler(bcast::<W, false, true>),
        (false, false) => handler(bcast::<W, false, false>),
    };
    // Register sources of VBROADCASTSS/SD are AVX2.
    let f = if !d.mem { Feature::Avx2 } else { f };
    d.gate(f, h)
}

// ---- 128-bit lane moves -------------------------------------------------------------------

/// VINSERTF128/I128 ymm1, ymm2, xmm3/m128, imm8.
fn vinsert<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let x = if MEM {
        load_m::<16, false>(ctx, op)?
    } else {
        ctx.xmm(op.r2)
    };
    let mut y = [ctx.xmm(op.r1), ctx.yhi(op.r1)];
    y[(op.imm & 1) as usize] = x;
    set_y(ctx, op.r0, y);
    Ok(())
}

/// VEXTRACTF128/I128 xmm1/m128, ymm2, imm8.
fn vextract<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let v = if op.imm & 1 != 0 {
        ctx.yhi(op.r2)
    } else {
        ctx.xmm(op.r2)
    };
    if MEM {
        let ea = ctx.ea(op);
        ctx.write_v128(op.seg, ea, v, false)
    } else {
        ctx.set_xmm_vex(op.r0, v);
        Ok(())
    }
}

/// VPERM2F128/I128 ymm1, ymm2, ymm3/m256, imm8.
fn vperm2<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let b = src256::<MEM>(ctx, op)?;
    let a = [ctx.xmm(op.r1), ctx.yhi(op.r1)];
    let i = op.imm as u8;
    let pick = |c: u8| -> V {
        if c & 8 != 0 {
            return [0, 0];
        }
        match c & 3 {
            0 => a[0],
            1 => a[1],
            2 => b[0],
            _ => b[1],
        }
    };
    set_y(ctx, op.r0, [pick(i), pick(i >> 4)]);
    Ok(())
}

/// VPERMQ/VPERMPD ymm1, ymm2/m256, imm8.
fn vpermq<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let s = src256::<MEM>(ctx, op)?;
    let q = [s[0][0], s[0][1], s[1][0], s[1][1]];
    let i = op.imm as u8;
    let r: [u64; 4] = std::array::from_fn(|k| q[usize::from((i >> (2 * k)) & 3)]);
    set_y(ctx, op.r0, [[r[0], r[1]], [r[2], r[3]]]);
    Ok(())
}

/// VPERMD/VPERMPS ymm1, ymm2 (indices), ymm3/m256.
fn vpermd<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let s = src256::<MEM>(ctx, op)?;
    let idx = [ctx.xmm(op.r1), ctx.yhi(op.r1)];
    let d = |v: [V; 2], k: usize| el::<u32>(v[k / 4], k % 4);
    let lo = build::<u32>(|k| d(s, (d(idx, k) & 7) as usize));
    let hi = build::<u32>(|k| d(s, (d(idx, k + 4) & 7) as usize));
    set_y(ctx, op.r0, [lo, hi]);
    Ok(())
}

kern!(PermilpsI, |a, b, i, e| build::<u32>(|k| el::<u32>(
    b,
    usize::from((i >> (2 * k)) & 3)
)));
kern!(
    PermilpdI,
    |a, b, i, e| [b[usize::from(i & 1)], b[usize::from((i >> 1) & 1)]],
    hi = |i| i >> 2
);
kern!(PermilpsV, |a, b, i, e| build::<u32>(|k| el::<u32>(
    a,
    (el::<u32>(b, k) & 3) as usize
)));
kern!(PermilpdV, |a, b, i, e| [
    a[((b[0] >> 1) & 1) as usize],
    a[((b[1] >> 1) & 1) as usize]
]);

// ---- masked loads and stores --------------------------------------------------------------

/// VMASKMOVPS/PD, VPMASKMOVD/Q loads: elements whose mask element has its
/// top bit set are loaded, the others are zero; masked-off elements never
/// fault.
fn maskload<const W: u8, const Y: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let mask = [ctx.xmm(op.r1), if Y { ctx.yhi(op.r1) } else { [0, 0] }];
    let n = if Y { 32 / W } else { 16 / W } as usize;
    let base = ctx.ea(op);
    let mut out = [[0u64; 2]; 2];
    for k in 0..n {
        let per = 16 / W as usize;
        let (lane, j) = (k / per, k % per);
        let on = if W == 4 {
            el::<u32>(mask[lane], j) >> 31 != 0
        } else {
            mask[lane][j] >> 63 != 0
        };
        if !on {
            continue;
        }
        let ea = base.wrapping_add((k * W as usize) as u64)
            & crate::interp::exec::ASIZE_MASK[op.asize as usize & 3];
        if W == 4 {
            let v = ctx.read_seg::<crate::interp::exec::W32>(op.seg, ea)?;
            out[lane][j / 2] |= v << (32 * (j % 2));
        } else {
            out[lane][j] = ctx.read_seg::<W64>(op.seg, ea)?;
        }
    }
    if Y {
        set_y(ctx, op.r0, out);
    } else {
        ctx.set_xmm_vex(op.r0, out[0]);
    }
    Ok(())
}

/// The masked stores: only elements whose mask top bit is set are
/// written (in element order).
fn maskstore<const W: u8, const Y: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let mask = [ctx.xmm(op.r1), if Y { ctx.yhi(op.r1) } else { [0, 0] }];
    let data = [ctx.xmm(op.r2), if Y { ctx.yhi(op.r2) } else { [0, 0] }];
    let n = if Y { 32 / W } else { 16 / W } as usize;
    let base = ctx.ea(op);
    for k in 0..n {
        let per = 16 / W as usize;
        let (lane, j) = (k / per, k % per);
        let ea = base.wrapping_add((k * W as usize) as u64)
            & crate::interp::exec::ASIZE_MASK[op.asize as usize & 3];
        if W == 4 {
            if el::<u32>(mask[lane], j) >> 31 != 0 {
                let v = u64::from(el::<u32>(data[lane], j));
                ctx.write_seg::<crate::interp::exec::W32>(op.seg, ea, v)?;
            }
        } else if mask[lane][j] >> 63 != 0 {
            ctx.write_seg::<W64>(op.seg, ea, data[lane][j])?;
        }
    }
    Ok(())
}

fn maskmov_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    let insn = d.insn;
    let h: Handler = if d.mem_dst {
        // m, mask, data
        op.r1 = super::reg_of(insn, 1);
        op.r2 = super::reg_of(insn, 2);
        if d.y {
            handler(maskstore::<W, true>)
        } else {
            handler(maskstore::<W, false>)
        }
    } else {
        // dst, mask, m
        op.r0 = super::reg_of(insn, 0);
        op.r1 = super::reg_of(insn, 1);
        if d.y {
            handler(maskload::<W, true>)
        } else {
            handler(maskload::<W, false>)
        }
    };
    d.gate(f, h)
}

// ---- gathers ----------------------------------------------------------------------------

/// Element `k` (of `w` bytes) of a 256-bit register image.
#[inline(always)]
fn get_el(v: &[V; 2], w: usize, k: usize) -> u64 {
    let per = 16 / w;
    let x = v[k / per];
    if w == 8 {
        x[k % per]
    } else {
        u64::from(el::<u32>(x, k % per))
    }
}

#[inline(always)]
fn set_el(v: &mut [V; 2], w: usize, k: usize, val: u64) {
    let per = 16 / w;
    let x = &mut v[k / per];
    if w == 8 {
        x[k % per] = val;
    } else {
        let (q, sh) = ((k % per) / 2, 32 * ((k % per) % 2));
        x[q] = (x[q] & !(0xFFFF_FFFF << sh)) | ((val & 0xFFFF_FFFF) << sh);
    }
}

/// VGATHER*/VPGATHER*: dest r0, mask r1, vector index r2; EW/IW element
/// and index bytes; `imm2` elements; `osize` destination bytes. Elements
/// are loaded in order and each completed element clears its mask bit, so
/// a fault leaves the instruction restartable (SDM VGATHERDPD).
fn gather<const EW: u8, const IW: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let (ew, iw, n) = (usize::from(EW), usize::from(IW), usize::from(op.imm2));
    let idx = [ctx.xmm(op.r2), ctx.yhi(op.r2)];
    let mut dst = [ctx.xmm(op.r0), ctx.yhi(op.r0)];
    let mut mask = [ctx.xmm(op.r1), ctx.yhi(op.r1)];
    // Elements past the last one, and bits past the destination size,
    // are zeroed in both the destination and the mask.
    for k in n..32 / ew {
        set_el(&mut dst, ew, k, 0);
        set_el(&mut mask, ew, k, 0);
    }
    if op.osize == 16 {
        dst[1] = [0, 0];
        mask[1] = [0, 0];
    }
    let base = ctx.ea(op);
    let amask = crate::interp::exec::ASIZE_MASK[op.asize as usize & 3];
    let result = (|| {
        for k in 0..n {
            if get_el(&mask, ew, k) >> (8 * ew - 1) == 0 {
                continue;
            }
            let raw = get_el(&idx, iw, k);
            let i = if iw == 4 {
                i64::from(raw as u32 as i32) as u64
            } else {
                raw
            };
            let ea = base.wrapping_add(i << op.scale) & amask;
            let v = if ew == 4 {
                ctx.read_seg::<crate::interp::exec::W32>(op.seg, ea)?
            } else {
                ctx.read_seg::<W64>(op.seg, ea)?
            };
            set_el(&mut dst, ew, k, v);
            set_el(&mut mask, ew, k, 0);
        }
        Ok(())
    })();
    if result.is_ok() {
        // The whole mask is cleared on completion.
        mask = [[0; 2]; 2];
    }
    ctx.set_xmm(op.r0, dst[0]);
    ctx.set_yhi(op.r0, dst[1]);
    ctx.set_xmm(op.r1, mask[0]);
    ctx.set_yhi(op.r1, mask[1]);
    result
}

fn gather_decode<const EW: u8, const IW: u8>(d: &D, op: &mut Op) -> Option<Decoded> {
    let insn = d.insn;
    let dst = insn.op_register(0);
    let idx = insn.memory_index();
    let mask = insn.op_register(2);
    if !(idx.is_xmm() || idx.is_ymm()) {
        return None;
    }
    op.r0 = (dst.number() & 15) as u8;
    op.r1 = (mask.number() & 15) as u8;
    op.r2 = (idx.number() & 15) as u8;
    if op.r0 == op.r1 || op.r0 == op.r2 || op.r1 == op.r2 {
        return Decoded::end(handler(super::ud));
    }
    let dbytes = dst.size() as u8;
    let ibytes = idx.size() as u8;
    op.osize = dbytes;
    op.imm2 = u16::from((dbytes / EW).min(ibytes / IW));
    d.gate(Feature::Avx2, handler(gather::<EW, IW>))
}

// ---- bit tests -----------------------------------------------------------------------

/// PTEST/VPTEST (W = 0: all bits) and VTESTPS/PD (W = 4/8: sign bits):
/// ZF = (a AND b) == 0, CF = (NOT a AND b) == 0; other status flags 0.
fn ptest<const W: u8, const VEX: bool, const Y: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let b = if Y {
        src256::<MEM>(ctx, op)?
    } else if MEM {
        let v = if VEX {
            load_m::<16, false>(ctx, op)?
        } else {
            load_m::<16, true>(ctx, op)?
        };
        [v, [0, 0]]
    } else {
        [ctx.xmm(op.r2), [0, 0]]
    };
    let a = [ctx.xmm(op.r0), if Y { ctx.yhi(op.r0) } else { [0, 0] }];
    let m: u64 = match W {
        4 => 0x8000_0000_8000_0000,
        8 => 0x8000_0000_0000_0000,
        _ => u64::MAX,
    };
    let (mut and, mut andn) = (0u64, 0u64);
    for l in 0..2 {
        for q in 0..2 {
            and |= a[l][q] & b[l][q] & m;
            andn |= !a[l][q] & b[l][q] & m;
        }
    }
    let f = if and == 0 { rflags::ZF } else { 0 } | if andn == 0 { rflags::CF } else { 0 };
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn ptest_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let h: Handler = match (d.vex, d.y, d.mem) {
        (false, _, true) => handler(ptest::<W, false, false, true>),
        (false, _, false) => handler(ptest::<W, false, false, false>),
        (true, false, true) => handler(ptest::<W, true, false, true>),
        (true, false, false) => handler(ptest::<W, true, false, false>),
        (true, true, true) => handler(ptest::<W, true, true, true>),
        (true, true, false) => handler(ptest::<W, true, true, false>),
    };
    d.gate(if d.vex { Feature::Avx } else { f }, h)
}

fn mem_pick(d: &D, m: Handler, r: Handler) -> Handler {
    if d.mem { m } else { r }
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Avx, Avx2, Sse4_1};
    let m = d.insn.mnemonic();
    match m {
        Mn::Vbroadcastss => bcast_decode::<4>(d, op, Avx),
        Mn::Vbroadcastsd => bcast_decode::<8>(d, op, Avx),
        Mn::Vbroadcastf128 => bcast_decode::<16>(d, op, Avx),
        Mn::Vbroadcasti128 => bcast_decode::<16>(d, op, Avx2).map(|mut r| {
            if !d.mem {
                r.exec = handler(super::ud);
            }
            r
        }),
        Mn::Vpbroadcastb => bcast_decode::<1>(d, op, Avx2),
        Mn::Vpbroadcastw => bcast_decode::<2>(d, op, Avx2),
        Mn::Vpbroadcastd => bcast_decode::<4>(d, op, Avx2),
        Mn::Vpbroadcastq => bcast_decode::<8>(d, op, Avx2),
        Mn::Vinsertf128 | Mn::Vinserti128 => {
            d.fill(op);
            let f = if m == Mn::Vinsertf128 { Avx } else { Avx2 };
            d.gate(
                f,
                mem_pick(d, handler(vinsert::<true>), handler(vinsert::<false>)),
            )
        }
        Mn::Vextractf128 | Mn::Vextracti128 => {
            d.fill(op);
            let f = if m == Mn::Vextractf128 { Avx } else { Avx2 };
            d.gate(
                f,
                mem_pick(d, handler(vextract::<true>), handler(vextract::<false>)),
            )
        }
        Mn::Vperm2f128 | Mn::Vperm2i128 => {
            d.fill(op);
            let f = if m == Mn::Vperm2f128 { Avx } else { Avx2 };
            d.gate(
                f,
                mem_pick(d, handler(vperm2::<true>), handler(vperm2::<false>)),
            )
        }
        Mn::Vpermq | Mn::Vpermpd => {
            d.fill(op);
            d.gate(
                Avx2,
                mem_pick(d, handler(vpermq::<true>), handler(vpermq::<false>)),
            )
        }
        Mn::Vpermd | Mn::Vpermps => {
            d.fill(op);
            d.gate(
                Avx2,
                mem_pick(d, handler(vpermd::<true>), handler(vpermd::<false>)),
            )
        }
        Mn::Vpermilps | Mn::Vpermilpd => {
            let imm = crate::interp::decode::is_imm(d.insn.op_kind(d.insn.op_count() - 1));
            match (m, imm) {
                (Mn::Vpermilps, true) => d.packed::<PermilpsI>(op, Avx, Avx),
                (Mn::Vpermilps, false) => d.packed::<PermilpsV>(op, Avx, Avx),
                (_, true) => d.packed::<PermilpdI>(op, Avx, Avx),
                _ => d.packed::<PermilpdV>(op, Avx, Avx),
            }
        }
        Mn::Vmaskmovps => maskmov_decode::<4>(d, op, Avx),
        Mn::Vmaskmovpd => maskmov_decode::<8>(d, op, Avx),
        Mn::Vpmaskmovd => maskmov_decode::<4>(d, op, Avx2),
        Mn::Vpmaskmovq => maskmov_decode::<8>(d, op, Avx2),
        Mn::Vgatherdps | Mn::Vpgatherdd => gather_decode::<4, 4>(d, op),
        Mn::Vgatherdpd | Mn::Vpgatherdq => gather_decode::<8, 4>(d, op),
        Mn::Vgatherqps | Mn::Vpgatherqd => gather_decode::<4, 8>(d, op),
        Mn::Vgatherqpd | Mn::Vpgatherqq => gather_decode::<8, 8>(d, op),
        Mn::Ptest | Mn::Vptest => ptest_decode::<0>(d, op, Sse4_1),
        Mn::Vtestps => ptest_decode::<4>(d, op, Avx),
        Mn::Vtestpd => ptest_decode::<8>(d, op, Avx),
        _ => None,
    }
}
