//! Data movement: MOVAPS/MOVUPS/MOVDQA/MOVDQU (+PD, LDDQU, non-temporal
//! forms), MOVSS/MOVSD, MOVD/MOVQ (xmm, mm and general registers),
//! MOVLPS/MOVHPS (+PD), MOVHLPS/MOVLHPS, MOVQ2DQ/MOVDQ2Q, MOVNTI/MOVNTQ,
//! MASKMOVDQU/MASKMOVQ, MOVMSKPS/PD, PMOVMSKB, PEXTR*/PINSR*, EXTRACTPS.

use crate::interp::exec::handler;
use iced_x86::{Mnemonic as Mn, OpKind};

use super::{D, V, avx_ok, el, load_m, mmx_ok, reg_of, sse_ok, store_m, with, xm, xr, yr};
use crate::interp::decode::Decoded;
use crate::interp::exec::{ASIZE_MASK, Ctx, Exec, Handler, Op, W8, W16, W32, W64};
use crate::kern;
use crate::model::Feature;

kern!(Copy, |a, b, i, e| b);
kern!(Movss, |a, b, i, e| with::<u32>(a, 0, el(b, 0)));
kern!(Movsd, |a, b, i, e| [b[0], a[1]]);
kern!(Movlps, |a, b, i, e| [b[0], a[1]]);
kern!(Movhps, |a, b, i, e| [a[0], b[0]]);
kern!(Movhlps, |a, b, i, e| [b[1], a[1]]);
kern!(Movlhps, |a, b, i, e| [a[0], b[0]]);
kern!(MovqXX, |a, b, i, e| [b[0], 0]);

#[inline(always)]
fn avail<const VEX: bool>(ctx: &mut Ctx) -> Exec {
    if VEX { avx_ok(ctx) } else { sse_ok(ctx) }
}

#[inline(always)]
fn put<const VEX: bool>(ctx: &mut Ctx, n: u8, v: V) {
    if VEX {
        ctx.set_xmm_vex(n, v)
    } else {
        ctx.set_xmm(n, v)
    }
}

/// Store of a whole xmm register (`AL`: 16-byte alignment).
fn st128<const VEX: bool, const AL: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = ctx.xmm(op.r2);
    store_m::<16, AL>(ctx, op, v)
}

/// Store of a whole ymm register (`AL`: 32-byte alignment).
fn st256<const AL: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let v = [ctx.xmm(op.r2), ctx.yhi(op.r2)];
    let ea = ctx.ea(op);
    ctx.write_v256(op.seg, ea, v, AL)
}

/// Load of a whole ymm register.
fn ld256<const AL: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let ea = ctx.ea(op);
    let [lo, hi] = ctx.read_v256(op.seg, ea, AL)?;
    ctx.set_xmm(op.r0, lo);
    ctx.set_yhi(op.r0, hi);
    Ok(())
}

fn full_move(d: &D, op: &mut Op, al: bool, f: Feature, f256: Feature) -> Option<Decoded> {
    d.fill(op);
    let h: Handler = match (d.mem_dst, d.mem, d.vex, d.y, al) {
        (true, _, true, true, true) => handler(st256::<true>),
        (true, _, true, true, false) => handler(st256::<false>),
        (true, _, true, false, true) => handler(st128::<true, true>),
        (true, _, true, false, false) => handler(st128::<true, false>),
        (true, _, false, _, true) => handler(st128::<false, true>),
        (true, _, false, _, false) => handler(st128::<false, false>),
        (false, true, true, true, true) => handler(ld256::<true>),
        (false, true, true, true, false) => handler(ld256::<false>),
        (false, true, true, false, true) => handler(xm::<Copy, true, 16, true>),
        (false, true, true, false, false) => handler(xm::<Copy, true, 16, false>),
        (false, true, false, _, true) => handler(xm::<Copy, false, 16, true>),
        (false, true, false, _, false) => handler(xm::<Copy, false, 16, false>),
        (false, false, true, true, _) => handler(yr::<Copy, false>),
        (false, false, true, false, _) => handler(xr::<Copy, true>),
        (false, false, false, _, _) => handler(xr::<Copy, false>),
    };
    let feat = match (d.vex, d.y) {
        (true, true) => f256,
        (true, false) => Feature::Avx,
        _ => f,
    };
    d.gate(feat, h)
}

// ---- MOVSS / MOVSD and the 64-bit half moves --------------------------------------------

/// MOVSS/MOVSD xmm, m32/m64: zero-extended into the register.
fn movs_load<const M: u8, const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = load_m::<M, false>(ctx, op)?;
    put::<VEX>(ctx, op.r0, v);
    Ok(())
}

/// Stores the low `M` bytes of xmm(r2) (MOVSS/MOVSD/MOVLPS/MOVQ stores);
/// `HI`: the high quadword (MOVHPS).
fn st_low<const M: u8, const HI: bool, const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = ctx.xmm(op.r2);
    let v = if HI { [v[1], 0] } else { v };
    store_m::<M, false>(ctx, op, v)
}

fn scalar_move<const M: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    let h: Handler = match (d.mem_dst, d.mem, d.vex) {
        (true, _, true) => handler(st_low::<M, false, true>),
        (true, _, false) => handler(st_low::<M, false, false>),
        (false, true, true) => handler(movs_load::<M, true>),
        (false, true, false) => handler(movs_load::<M, false>),
        (false, false, vex) => {
            return if M == 4 {
                if vex {
                    d.gate(Feature::Avx, handler(xr::<Movss, true>))
                } else {
                    d.gate(f, handler(xr::<Movss, false>))
                }
            } else if vex {
                d.gate(Feature::Avx, handler(xr::<Movsd, true>))
            } else {
                d.gate(f, handler(xr::<Movsd, false>))
            };
        }
    };
    d.gate(if d.vex { Feature::Avx } else { f }, h)
}

/// MOVLPS/MOVHPS/MOVLPD/MOVHPD: loads merge into one half, stores write
/// one half.
fn half_move<const HI: bool>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    if d.mem_dst {
        d.fill(op);
        let h: Handler = if d.vex {
            handler(st_low::<8, HI, true>)
        } else {
            handler(st_low::<8, HI, false>)
        };
        return d.gate(if d.vex { Feature::Avx } else { f }, h);
    }
    if HI {
        d.x128::<Movhps, 8, false>(op, f)
    } else {
        d.x128::<Movlps, 8, false>(op, f)
    }
}

// ---- MOVD / MOVQ ------------------------------------------------------------------------

/// xmm ← r/m32 or r/m64 (or m64), zero-extended.
fn x_from_g<const Q: bool, const VEX: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = match (Q, MEM) {
        (true, true) => ctx.load::<W64>(op)?,
        (true, false) => ctx.reg::<W64>(op.r2),
        (false, true) => ctx.load::<W32>(op)?,
        (false, false) => ctx.reg::<W32>(op.r2),
    };
    put::<VEX>(ctx, op.r0, [v, 0]);
    Ok(())
}

/// r/m32 or r/m64 ← xmm low element.
fn g_from_x<const Q: bool, const VEX: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = ctx.xmm(op.r2)[0];
    match (Q, MEM) {
        (true, true) => ctx.store::<W64>(op, v),
        (true, false) => {
            ctx.set_reg::<W64>(op.r0, v);
            Ok(())
        }
        (false, true) => ctx.store::<W32>(op, v),
        (false, false) => {
            ctx.set_reg::<W32>(op.r0, v);
            Ok(())
        }
    }
}

/// mm ← r/m32, r/m64 or mm.
fn m_from_g<const Q: bool, const MEM: bool, const MM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let v = match (Q, MEM, MM) {
        (_, _, true) => ctx.mm(op.r2),
        (true, true, _) => ctx.load::<W64>(op)?,
        (true, false, _) => ctx.reg::<W64>(op.r2),
        (false, true, _) => ctx.load::<W32>(op)?,
        (false, false, _) => ctx.reg::<W32>(op.r2),
    };
    ctx.set_mm(op.r0, v);
    Ok(())
}

/// r/m32 or r/m64 ← mm.
fn g_from_m<const Q: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let v = ctx.mm(op.r2);
    match (Q, MEM) {
        (true, true) => ctx.store::<W64>(op, v),
        (true, false) => {
            ctx.set_reg::<W64>(op.r0, v);
            Ok(())
        }
        (false, true) => ctx.store::<W32>(op, v),
        (false, false) => {
            ctx.set_reg::<W32>(op.r0, v);
            Ok(())
        }
    }
}

fn movdq(d: &D, op: &mut Op) -> Option<Decoded> {
    d.fill(op);
    let insn = d.insn;
    let class = |i: u32| -> u8 {
        match insn.op_kind(i) {
            OpKind::Memory => b'm',
            OpKind::Register if insn.op_register(i).is_xmm() => b'x',
            OpKind::Register if insn.op_register(i).is_mm() => b'q',
            _ => b'g',
        }
    };
    let (c0, c1) = (class(0), class(1));
    // Width of the general-register or memory side.
    let q = insn.mnemonic() == Mn::Movq || insn.mnemonic() == Mn::Vmovq;
    let vex = d.vex;
    let h: Handler = match (c0, c1, q, vex) {
        (b'x', b'x', _, false) => handler(xr::<MovqXX, false>),
        (b'x', b'x', _, true) => handler(xr::<MovqXX, true>),
        (b'x', b'g', true, false) => handler(x_from_g::<true, false, false>),
        (b'x', b'g', true, true) => handler(x_from_g::<true, true, false>),
        (b'x', b'g', false, false) => handler(x_from_g::<false, false, false>),
        (b'x', b'g', false, true) => handler(x_from_g::<false, true, false>),
        (b'x', b'm', true, false) => handler(x_from_g::<true, false, true>),
        (b'x', b'm', true, true) => handler(x_from_g::<true, true, true>),
        (b'x', b'm', false, false) => handler(x_from_g::<false, false, true>),
        (b'x', b'm', false, true) => handler(x_from_g::<false, true, true>),
        (b'g', b'x', true, false) => handler(g_from_x::<true, false, false>),
        (b'g', b'x', true, true) => handler(g_from_x::<true, true, false>),
        (b'g', b'x', false, false) => handler(g_from_x::<false, false, false>),
        (b'g', b'x', false, true) => handler(g_from_x::<false, true, false>),
        (b'm', b'x', true, false) => handler(g_from_x::<true, false, true>),
        (b'm', b'x', true, true) => handler(g_from_x::<true, true, true>),
        (b'm', b'x', false, false) => handler(g_from_x::<false, false, true>),
        (b'm', b'x', false, true) => handler(g_from_x::<false, true, true>),
        (b'q', b'q', _, false) => handler(m_from_g::<true, false, true>),
        (b'q', b'g', true, false) => handler(m_from_g::<true, false, false>),
        (b'q', b'g', false, false) => handler(m_from_g::<false, false, false>),
        (b'q', b'm', true, false) => handler(m_from_g::<true, true, false>),
        (b'q', b'm', false, false) => handler(m_from_g::<false, true, false>),
        (b'g', b'q', true, false) => handler(g_from_m::<true, false>),
        (b'g', b'q', false, false) => handler(g_from_m::<false, false>),
        (b'm', b'q', true, false) => handler(g_from_m::<true, true>),
        (b'm', b'q', false, false) => handler(g_from_m::<false, true>),
        _ => return None,
    };
    let f = if vex {
        Feature::Avx
    } else if c0 == b'q' || c1 == b'q' {
        Feature::Mmx
    } else {
        Feature::Sse2
    };
    d.gate(f, h)
}

fn movq2dq(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    mmx_ok(ctx)?;
    let v = ctx.mm(op.r2);
    ctx.set_xmm(op.r0, [v, 0]);
    Ok(())
}

fn movdq2q(ctx: &mut Ctx, op: &Op) -> Exec {
    sse_ok(ctx)?;
    mmx_ok(ctx)?;
    let v = ctx.xmm(op.r2)[0];
    ctx.set_mm(op.r0, v);
    Ok(())
}

/// MOVNTI m32/m64, r (a plain store).
fn movnti<const Q: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if Q {
        let v = ctx.reg::<W64>(op.r2);
        ctx.store::<W64>(op, v)
    } else {
        let v = ctx.reg::<W32>(op.r2);
        ctx.store::<W32>(op, v)
    }
}

/// MOVNTQ m64, mm.
fn movntq(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let v = ctx.mm(op.r2);
    ctx.store::<W64>(op, v)
}

/// MASKMOVDQU / VMASKMOVDQU / MASKMOVQ: bytes of the first register whose
/// mask byte has bit 7 set go to DS:rDI (bytes are stored in order, so a
/// fault part-way leaves earlier bytes written).
fn maskmov<const MMX: bool, const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let (v, m, n) = if MMX {
        mmx_ok(ctx)?;
        ([ctx.mm(op.r1), 0], [ctx.mm(op.r2), 0], 8)
    } else {
        avail::<VEX>(ctx)?;
        (ctx.xmm(op.r1), ctx.xmm(op.r2), 16)
    };
    let base = ctx.cpu.regs[7] & ASIZE_MASK[op.asize as usize & 3];
    for k in 0..n {
        if el::<u8>(m, k) & 0x80 != 0 {
            let ea = base.wrapping_add(k as u64) & ASIZE_MASK[op.asize as usize & 3];
            ctx.write_seg::<W8>(op.seg, ea, u64::from(el::<u8>(v, k)))?;
        }
    }
    Ok(())
}

// ---- masks and element extract/insert -------------------------------------------------

#[inline(always)]
fn msk(v: V, w: u8) -> u64 {
    let n = 16 / usize::from(w);
    (0..n).fold(0, |acc, k| {
        let top = match w {
            1 => el::<u8>(v, k) >> 7 != 0,
            4 => el::<u32>(v, k) >> 31 != 0,
            _ => el::<u64>(v, k) >> 63 != 0,
        };
        acc | u64::from(top) << k
    })
}

/// MOVMSKPS/PD, PMOVMSKB (W: element bytes; Y: ymm source).
fn movmsk<const W: u8, const VEX: bool, const Y: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let mut r = msk(ctx.xmm(op.r2), W);
    if Y {
        r |= msk(ctx.yhi(op.r2), W) << (16 / W);
    }
    ctx.set_reg::<W64>(op.r0, r);
    Ok(())
}

fn pmovmskb_mm(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let r = msk([ctx.mm(op.r2), 0], 1) & 0xFF;
    ctx.set_reg::<W64>(op.r0, r);
    Ok(())
}

fn movmsk_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    if d.mmx {
        return d.gate(Feature::Sse, handler(pmovmskb_mm));
    }
    let h: Handler = match (d.vex, d.y) {
        (true, true) => handler(movmsk::<W, true, true>),
        (true, false) => handler(movmsk::<W, true, false>),
        _ => handler(movmsk::<W, false, false>),
    };
    let f = match (d.vex, d.y) {
        (true, true) if W == 1 => Feature::Avx2,
        (true, _) => Feature::Avx,
        _ => f,
    };
    d.gate(f, h)
}

/// PEXTRB/W/D/Q, EXTRACTPS: element imm8 of xmm(r2) to a register
/// (zero-extended) or memory.
fn pextr<const W: u8, const VEX: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let v = ctx.xmm(op.r2);
    let k = usize::from(op.imm as u8) & (16 / usize::from(W) - 1);
    let x = match W {
        1 => u64::from(el::<u8>(v, k)),
        2 => u64::from(el::<u16>(v, k)),
        4 => u64::from(el::<u32>(v, k)),
        _ => v[k],
    };
    if MEM {
        match W {
            1 => ctx.store::<W8>(op, x),
            2 => ctx.store::<W16>(op, x),
            4 => ctx.store::<W32>(op, x),
            _ => ctx.store::<W64>(op, x),
        }
    } else {
        ctx.set_reg::<W64>(op.r0, x);
        Ok(())
    }
}

/// PINSRB/W/D/Q: element imm8 of the first source replaced.
fn pinsr<const W: u8, const VEX: bool, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let x = if MEM {
        match W {
            1 => ctx.load::<W8>(op)?,
            2 => ctx.load::<W16>(op)?,
            4 => ctx.load::<W32>(op)?,
            _ => ctx.load::<W64>(op)?,
        }
    } else {
        ctx.reg::<W64>(op.r2)
    };
    let a = ctx.xmm(op.r1);
    let k = usize::from(op.imm as u8) & (16 / usize::from(W) - 1);
    let r = match W {
        1 => with::<u8>(a, k, x as u8),
        2 => with::<u16>(a, k, x as u16),
        4 => with::<u32>(a, k, x as u32),
        _ => with::<u64>(a, k, x),
    };
    put::<VEX>(ctx, op.r0, r);
    Ok(())
}

fn pextrw_mm(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let v = ctx.mm(op.r2);
    ctx.set_reg::<W64>(op.r0, (v >> (16 * (op.imm & 3))) & 0xFFFF);
    Ok(())
}

fn pinsrw_mm<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    let x = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r2)
    };
    mmx_ok(ctx)?;
    let sh = 16 * (op.imm & 3);
    let v = (ctx.mm(op.r1) & !(0xFFFF << sh)) | (x << sh);
    ctx.set_mm(op.r0, v);
    Ok(())
}

macro_rules! vm3 {
    ($f:ident, $w:expr, $d:expr) => {
        match ($d.vex, $d.mem) {
            (true, true) => handler($f::<$w, true, true>),
            (true, false) => handler($f::<$w, true, false>),
            (false, true) => handler($f::<$w, false, true>),
            (false, false) => handler($f::<$w, false, false>),
        }
    };
}

fn pextr_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    if d.mmx {
        return d.gate(Feature::Sse, handler(pextrw_mm));
    }
    d.gate(if d.vex { Feature::Avx } else { f }, vm3!(pextr, W, d))
}

fn pinsr_decode<const W: u8>(d: &D, op: &mut Op, f: Feature) -> Option<Decoded> {
    d.fill(op);
    if d.mmx {
        let h: Handler = if d.mem {
            handler(pinsrw_mm::<true>)
        } else {
            handler(pinsrw_mm::<false>)
        };
        return d.gate(Feature::Sse, h);
    }
    d.gate(if d.vex { Feature::Avx } else { f }, vm3!(pinsr, W, d))
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Avx, Avx2, Sse, Sse2, Sse3, Sse4_1};
    let m = d.insn.mnemonic();
    match m {
        Mn::Movaps | Mn::Vmovaps | Mn::Movntps | Mn::Vmovntps => full_move(d, op, true, Sse, Avx),
        Mn::Movapd | Mn::Vmovapd | Mn::Movntpd | Mn::Vmovntpd => full_move(d, op, true, Sse2, Avx),
        Mn::Movdqa | Mn::Vmovdqa | Mn::Movntdq | Mn::Vmovntdq => full_move(d, op, true, Sse2, Avx),
        Mn::Movntdqa | Mn::Vmovntdqa => full_move(d, op, true, Sse4_1, Avx2),
        Mn::Movups | Mn::Vmovups => full_move(d, op, false, Sse, Avx),
        Mn::Movupd | Mn::Vmovupd | Mn::Movdqu | Mn::Vmovdqu => full_move(d, op, false, Sse2, Avx),
        Mn::Lddqu | Mn::Vlddqu => full_move(d, op, false, Sse3, Avx),
        Mn::Movss | Mn::Vmovss => scalar_move::<4>(d, op, Sse),
        Mn::Movsd | Mn::Vmovsd if super::has_xmm_operand(d.insn) => scalar_move::<8>(d, op, Sse2),
        Mn::Movlps | Mn::Vmovlps => half_move::<false>(d, op, Sse),
        Mn::Movlpd | Mn::Vmovlpd => half_move::<false>(d, op, Sse2),
        Mn::Movhps | Mn::Vmovhps => half_move::<true>(d, op, Sse),
        Mn::Movhpd | Mn::Vmovhpd => half_move::<true>(d, op, Sse2),
        Mn::Movhlps | Mn::Vmovhlps => d.x128::<Movhlps, 16, true>(op, Sse),
        Mn::Movlhps | Mn::Vmovlhps => d.x128::<Movlhps, 16, true>(op, Sse),
        Mn::Movd | Mn::Movq | Mn::Vmovd | Mn::Vmovq => movdq(d, op),
        Mn::Movq2dq => {
            op.r0 = reg_of(d.insn, 0);
            op.r2 = reg_of(d.insn, 1);
            d.gate(Sse2, handler(movq2dq))
        }
        Mn::Movdq2q => {
            op.r0 = reg_of(d.insn, 0);
            op.r2 = reg_of(d.insn, 1);
            d.gate(Sse2, handler(movdq2q))
        }
        Mn::Movnti => {
            d.fill(op);
            let q = crate::interp::exec::operand_bits(d.insn, 0) == 64;
            d.gate(
                Sse2,
                if q {
                    handler(movnti::<true>)
                } else {
                    handler(movnti::<false>)
                },
            )
        }
        Mn::Movntq => {
            d.fill(op);
            d.gate(Sse, handler(movntq))
        }
        Mn::Maskmovdqu | Mn::Vmaskmovdqu | Mn::Maskmovq => {
            op.r1 = reg_of(d.insn, 1);
            op.r2 = reg_of(d.insn, 2);
            let h: Handler = match (m, d.vex) {
                (Mn::Maskmovq, _) => handler(maskmov::<true, false>),
                (_, true) => handler(maskmov::<false, true>),
                _ => handler(maskmov::<false, false>),
            };
            let f = match m {
                Mn::Maskmovq => Sse,
                Mn::Vmaskmovdqu => Avx,
                _ => Sse2,
            };
            d.gate(f, h)
        }
        Mn::Movmskps | Mn::Vmovmskps => movmsk_decode::<4>(d, op, Sse),
        Mn::Movmskpd | Mn::Vmovmskpd => movmsk_decode::<8>(d, op, Sse2),
        Mn::Pmovmskb | Mn::Vpmovmskb => movmsk_decode::<1>(d, op, Sse2),
        Mn::Pextrb | Mn::Vpextrb => pextr_decode::<1>(d, op, Sse4_1),
        Mn::Pextrw | Mn::Vpextrw => pextr_decode::<2>(d, op, Sse2),
        Mn::Pextrd | Mn::Vpextrd | Mn::Extractps | Mn::Vextractps => {
            pextr_decode::<4>(d, op, Sse4_1)
        }
        Mn::Pextrq | Mn::Vpextrq => pextr_decode::<8>(d, op, Sse4_1),
        Mn::Pinsrb | Mn::Vpinsrb => pinsr_decode::<1>(d, op, Sse4_1),
        Mn::Pinsrw | Mn::Vpinsrw => pinsr_decode::<2>(d, op, Sse2),
        Mn::Pinsrd | Mn::Vpinsrd => pinsr_decode::<4>(d, op, Sse4_1),
        Mn::Pinsrq | Mn::Vpinsrq => pinsr_decode::<8>(d, op, Sse4_1),
        _ => None,
    }
}
