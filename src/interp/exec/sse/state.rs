//! x87/SIMD state instructions: FXSAVE/FXRSTOR (SDM Vol. 2A Tables 3-43,
//! 3-46, 3-47), XSAVE/XSAVEOPT/XSAVEC/XSAVES and XRSTOR/XRSTORS (SDM Vol. 1
//! Chapter 13), LDMXCSR/STMXCSR, EMMS, VZEROUPPER/VZEROALL, RDPKRU/WRPKRU.
//!
//! XINUSE (which components are not in their initial configuration) is
//! not tracked incrementally: a component is taken to be in use when its
//! registers differ from their initial values (x87: FCW 037FH, other
//! fields and registers 0, all tags empty; SSE: every XMM register 0;
//! AVX: every upper YMM half 0; MPX: all zero; PKRU: 0). That is a valid
//! implementation of the init optimisation. XSAVEOPT applies only that
//! init optimisation, never the modified optimisation (it always writes
//! every in-use component). XSAVES/XRSTORS are the compacted forms with
//! IA32_XSS, which supports no supervisor component here.

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{D, avx_ok, mmx_ok, sse_ok};
use crate::interp::cpu::Mode;
use crate::interp::decode::Decoded;
use crate::interp::events::vec;
use crate::interp::exec::{Ctx, Exec, Handler, Op, W32};
use crate::model::Feature;
use crate::model::cpuid::XSAVE_COMPONENTS;
use crate::state::fpu::{F80, FpuState, MXCSR_MASK, MXCSR_RESET, tag};
use crate::state::{cr0, cr4};

// ---- legacy image ----------------------------------------------------------------------

/// The full tag of a non-empty register from its contents.
fn full_tag(r: &F80) -> u16 {
    let exp = r.sign_exp & 0x7FFF;
    if exp == 0x7FFF {
        tag::SPECIAL
    } else if exp == 0 {
        if r.significand == 0 {
            tag::ZERO
        } else {
            tag::SPECIAL
        }
    } else if r.significand >> 63 == 0 {
        tag::SPECIAL
    } else {
        tag::VALID
    }
}

/// Quadwords 0–2 (FCW … FDS) and 4–19 (ST0–ST7) of the legacy image.
fn x87_image(f: &FpuState, fmt64: bool) -> ([u64; 3], [u64; 16]) {
    let q0 = u64::from(f.fcw)
        | u64::from(f.fsw) << 16
        | u64::from(f.abridged_tag()) << 32
        | u64::from(f.fop & 0x7FF) << 48;
    let (q1, q2) = if fmt64 {
        (f.fip, f.fdp)
    } else {
        (
            (f.fip & 0xFFFF_FFFF) | u64::from(f.fcs) << 32,
            (f.fdp & 0xFFFF_FFFF) | u64::from(f.fds) << 32,
        )
    };
    let top = f.top();
    let mut regs = [0u64; 16];
    for j in 0..8 {
        let r = &f.regs[(top + j) & 7];
        regs[2 * j] = r.significand;
        regs[2 * j + 1] = u64::from(r.sign_exp);
    }
    ([q0, q1, q2], regs)
}

fn load_x87(f: &mut FpuState, h: [u64; 3], regs: &[u64; 16], fmt64: bool) {
    f.fcw = h[0] as u16;
    f.fsw = (h[0] >> 16) as u16;
    let abridged = (h[0] >> 32) as u8;
    f.fop = (h[0] >> 48) as u16 & 0x7FF;
    if fmt64 {
        f.fip = h[1];
        f.fdp = h[2];
        f.fcs = 0;
        f.fds = 0;
    } else {
        f.fip = h[1] & 0xFFFF_FFFF;
        f.fcs = (h[1] >> 32) as u16;
        f.fdp = h[2] & 0xFFFF_FFFF;
        f.fds = (h[2] >> 32) as u16;
    }
    let top = f.top();
    for j in 0..8 {
        f.regs[(top + j) & 7] = F80 {
            significand: regs[2 * j],
            sign_exp: regs[2 * j + 1] as u16,
        };
    }
    f.ftw = (0..8).fold(0u16, |acc, p| {
        let t = if abridged >> p & 1 != 0 {
            full_tag(&f.regs[p])
        } else {
            tag::EMPTY
        };
        acc | t << (2 * p)
    });
}

fn init_x87(f: &mut FpuState) {
    f.fcw = 0x037F;
    f.fsw = 0;
    f.ftw = 0xFFFF;
    f.fop = 0;
    f.fip = 0;
    f.fdp = 0;
    f.fcs = 0;
    f.fds = 0;
    f.regs = [F80::default(); 8];
}

/// Components not in their initial configuration (see the module docs).
pub fn xinuse(f: &FpuState) -> u64 {
    let mut v = 0;
    let x87_init = f.fcw == 0x037F
        && f.fsw == 0
        && f.ftw == 0xFFFF
        && f.fop == 0
        && f.fip == 0
        && f.fdp == 0
        && f.fcs == 0
        && f.fds == 0
        && f.regs.iter().all(|r| *r == F80::default());
    if !x87_init {
        v |= 1;
    }
    if f.xmm.iter().any(|x| *x != [0, 0]) {
        v |= 2;
    }
    if f.ymm_hi.iter().any(|x| *x != [0, 0]) {
        v |= 4;
    }
    if f.bnd.iter().any(|x| *x != [0, 0]) {
        v |= 8;
    }
    if f.bndcfgu != 0 || f.bndstatus != 0 {
        v |= 0x10;
    }
    if f.pkru != 0 {
        v |= 1 << 9;
    }
    v
}

/// XMM (and upper YMM) registers saved outside 64-bit mode: 8.
fn vec_regs(ctx: &Ctx) -> usize {
    if ctx.cpu.mode == Mode::Long { 16 } else { 8 }
}

// ---- FXSAVE / FXRSTOR ----------------------------------------------------------------------

/// FXSAVE/FXRSTOR: #UD if CR0.EM = 1, #NM if CR0.TS = 1.
fn fx_ok(ctx: &mut Ctx) -> Exec {
    let c0 = ctx.cpu.s.cr.cr0;
    if c0 & cr0::EM != 0 {
        return Err(ctx.cpu.ud());
    }
    if c0 & cr0::TS != 0 {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    Ok(())
}

fn fxsave<const W64: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    fx_ok(ctx)?;
    let ea = ctx.ea(op);
    let la = ctx.vec_linear(op.seg, ea, 512, 16, true)?;
    let n = vec_regs(ctx);
    ctx.probe_write(la, 160 + 16 * n)?;
    let f = &ctx.cpu.s.fpu;
    let (h, regs) = x87_image(f, W64);
    let mx = u64::from(f.mxcsr) | u64::from(MXCSR_MASK) << 32;
    let xmm = f.xmm;
    let w = |ctx: &mut Ctx, off: u64, v: u64| ctx.write_la(la.wrapping_add(off), 8, v);
    for (i, q) in h.iter().enumerate() {
        w(ctx, 8 * i as u64, *q)?;
    }
    w(ctx, 24, mx)?;
    for (i, q) in regs.iter().enumerate() {
        w(ctx, 32 + 8 * i as u64, *q)?;
    }
    for (r, x) in xmm.iter().enumerate().take(n) {
        w(ctx, 160 + 16 * r as u64, x[0])?;
        w(ctx, 168 + 16 * r as u64, x[1])?;
    }
    Ok(())
}

fn fxrstor<const W64: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    fx_ok(ctx)?;
    let ea = ctx.ea(op);
    let la = ctx.vec_linear(op.seg, ea, 512, 16, false)?;
    let n = vec_regs(ctx);
    let r = |ctx: &mut Ctx, off: u64| ctx.read_la(la.wrapping_add(off), 8);
    let h = [r(ctx, 0)?, r(ctx, 8)?, r(ctx, 16)?];
    let mx = r(ctx, 24)? as u32;
    if mx & !MXCSR_MASK != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let mut regs = [0u64; 16];
    for (i, q) in regs.iter_mut().enumerate() {
        *q = r(ctx, 32 + 8 * i as u64)?;
    }
    let mut xmm = ctx.cpu.s.fpu.xmm;
    for (i, x) in xmm.iter_mut().enumerate().take(n) {
        *x = [r(ctx, 160 + 16 * i as u64)?, r(ctx, 168 + 16 * i as u64)?];
    }
    let f = &mut ctx.cpu.s.fpu;
    load_x87(f, h, &regs, W64);
    f.mxcsr = mx;
    f.xmm = xmm;
    Ok(())
}

// ---- XSAVE family ----------------------------------------------------------------------

const XSAVE: u8 = 0;
const XSAVEOPT: u8 = 1;
const XSAVEC: u8 = 2;
const XSAVES: u8 = 3;

/// XSAVE*/XRSTOR*: #UD if CR4.OSXSAVE = 0, #NM if CR0.TS = 1.
fn xs_ok(ctx: &mut Ctx) -> Exec {
    if !ctx.cpu.cr4(cr4::OSXSAVE) {
        return Err(ctx.cpu.ud());
    }
    if ctx.cpu.s.cr.cr0 & cr0::TS != 0 {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    Ok(())
}

/// Offset of component `bit` (≥ 2) in the standard format, or in the
/// compacted format for the components in `xcomp`.
fn comp_offset(bit: u32, compact: bool, xcomp: u64) -> Option<(u64, u64)> {
    let &(_, size, std) = XSAVE_COMPONENTS.iter().find(|c| c.0 == bit)?;
    if !compact {
        return Some((u64::from(std), u64::from(size)));
    }
    let before: u32 = XSAVE_COMPONENTS
        .iter()
        .filter(|c| c.0 < bit && xcomp & (1 << c.0) != 0)
        .map(|c| c.1)
        .sum();
    Some((576 + u64::from(before), u64::from(size)))
}

/// Bytes of the area an access to the components in `mask` touches
/// (`xcomp`: the components laid out in the compacted format).
fn area_size(mask: u64, compact: bool, xcomp: u64) -> u64 {
    XSAVE_COMPONENTS
        .iter()
        .filter(|c| mask & (1 << c.0) != 0)
        .filter_map(|c| comp_offset(c.0, compact, xcomp).map(|(o, s)| o + s))
        .max()
        .unwrap_or(576)
        .max(576)
}

/// The quadwords of extended component `bit`.
fn comp_save(f: &FpuState, bit: u32, n: usize, out: &mut [u64; 32]) -> usize {
    match bit {
        2 => {
            for (r, y) in f.ymm_hi.iter().enumerate().take(n) {
                out[2 * r] = y[0];
                out[2 * r + 1] = y[1];
            }
            2 * n
        }
        3 => {
            for (r, b) in f.bnd.iter().enumerate() {
                out[2 * r] = b[0];
                out[2 * r + 1] = b[1];
            }
            8
        }
        4 => {
            *out = [0; 32];
            out[0] = f.bndcfgu;
            out[1] = f.bndstatus;
            8
        }
        _ => {
            out[0] = u64::from(f.pkru);
            1
        }
    }
}

fn comp_load(f: &mut FpuState, bit: u32, q: &[u64; 32], n: usize) {
    match bit {
        2 => {
            for (r, y) in f.ymm_hi.iter_mut().enumerate().take(n) {
                *y = [q[2 * r], q[2 * r + 1]];
            }
        }
        3 => {
            for (r, b) in f.bnd.iter_mut().enumerate() {
                *b = [q[2 * r], q[2 * r + 1]];
            }
        }
        4 => {
            f.bndcfgu = q[0];
            f.bndstatus = q[1];
        }
        _ => f.pkru = q[0] as u32,
    }
}

fn comp_init(f: &mut FpuState, bit: u32, n: usize) {
    match bit {
        2 => f.ymm_hi.iter_mut().take(n).for_each(|y| *y = [0, 0]),
        3 => f.bnd = [[0; 2]; 4],
        4 => {
            f.bndcfgu = 0;
            f.bndstatus = 0;
        }
        _ => f.pkru = 0,
    }
}

/// Quadwords component `bit` occupies (reads).
fn comp_qwords(bit: u32, n: usize) -> usize {
    match bit {
        2 => 2 * n,
        3 | 4 => 8,
        _ => 1,
    }
}

fn xmask(ctx: &Ctx, supervisor: bool) -> u64 {
    let edx_eax = (ctx.cpu.regs[2] << 32) | (ctx.cpu.regs[0] & 0xFFFF_FFFF);
    let allowed = ctx.cpu.s.xcr0 | if supervisor { ctx.cpu.s.msrs.xss } else { 0 };
    edx_eax & allowed
}

fn xsave<const KIND: u8, const W64: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    xs_ok(ctx)?;
    if KIND == XSAVES && ctx.cpu.cpl != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let rfbm = xmask(ctx, KIND == XSAVES);
    let compact = KIND >= XSAVEC;
    let size = area_size(rfbm, compact, rfbm);
    let ea = ctx.ea(op);
    let la = ctx.vec_linear(op.seg, ea, size as usize, 64, true)?;
    ctx.probe_write(la, size as usize)?;
    let n = vec_regs(ctx);
    let f = ctx.cpu.s.fpu.clone();
    let inuse = xinuse(&f);
    let save = match KIND {
        XSAVE => rfbm,
        XSAVEOPT => rfbm & inuse,
        _ => {
            let mut s = rfbm & inuse;
            if f.mxcsr != MXCSR_RESET && rfbm & 2 != 0 {
                s |= 2;
            }
            s
        }
    };
    let w = |ctx: &mut Ctx, off: u64, v: u64| ctx.write_la(la.wrapping_add(off), 8, v);
    if save & 1 != 0 {
        let (h, regs) = x87_image(&f, W64);
        for (i, q) in h.iter().enumerate() {
            w(ctx, 8 * i as u64, *q)?;
        }
        for (i, q) in regs.iter().enumerate() {
            w(ctx, 32 + 8 * i as u64, *q)?;
        }
    }
    let mx_now = if compact {
        save & 2 != 0
    } else {
        rfbm & 6 != 0
    };
    if mx_now {
        w(ctx, 24, u64::from(f.mxcsr) | u64::from(MXCSR_MASK) << 32)?;
    }
    if save & 2 != 0 {
        for (r, x) in f.xmm.iter().enumerate().take(n) {
            w(ctx, 160 + 16 * r as u64, x[0])?;
            w(ctx, 168 + 16 * r as u64, x[1])?;
        }
    }
    let mut buf = [0u64; 32];
    for &(bit, _, _) in XSAVE_COMPONENTS {
        if save & (1 << bit) == 0 {
            continue;
        }
        let Some((off, _)) = comp_offset(bit, compact, rfbm) else {
            continue;
        };
        let nq = comp_save(&f, bit, n, &mut buf);
        for (i, q) in buf.iter().enumerate().take(nq) {
            w(ctx, off + 8 * i as u64, *q)?;
        }
    }
    if compact {
        w(ctx, 512, save)?;
        w(ctx, 520, rfbm | 1 << 63)?;
    } else {
        let old = ctx.read_la(la.wrapping_add(512), 8)?;
        w(ctx, 512, (old & !rfbm) | (inuse & rfbm))?;
    }
    Ok(())
}

fn xrstor<const S: bool, const W64: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    xs_ok(ctx)?;
    if S && ctx.cpu.cpl != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let rfbm = xmask(ctx, S);
    let allowed = ctx.cpu.s.xcr0 | if S { ctx.cpu.s.msrs.xss } else { 0 };
    let ea = ctx.ea(op);
    let la = ctx.vec_linear(op.seg, ea, 576, 64, false)?;
    let r = |ctx: &mut Ctx, off: u64| ctx.read_la(la.wrapping_add(off), 8);
    let bv = r(ctx, 512)?;
    let comp = r(ctx, 520)?;
    let compact = comp >> 63 != 0;
    let mut rest = 0;
    for off in (528..576).step_by(8) {
        rest |= r(ctx, off)?;
    }
    let format = comp & !(1 << 63);
    let bad = if compact {
        !ctx.cpu.model().has(Feature::Xsavec)
            || format & !allowed != 0
            || bv & !format != 0
            || rest != 0
    } else {
        S || bv & !ctx.cpu.s.xcr0 != 0 || comp != 0 || r(ctx, 528)? != 0
    };
    if bad {
        return Err(ctx.cpu.gp(0));
    }
    let fmt = if compact { format } else { u64::MAX };
    let restore = rfbm & bv & fmt;
    let init = rfbm & !(bv & fmt);
    // Whole area within the segment.
    let size = area_size(restore, compact, format);
    ctx.vec_linear(op.seg, ea, size as usize, 64, false)?;
    let n = vec_regs(ctx);
    let mut f = ctx.cpu.s.fpu.clone();
    if restore & 1 != 0 {
        let h = [r(ctx, 0)?, r(ctx, 8)?, r(ctx, 16)?];
        let mut regs = [0u64; 16];
        for (i, q) in regs.iter_mut().enumerate() {
            *q = r(ctx, 32 + 8 * i as u64)?;
        }
        load_x87(&mut f, h, &regs, W64);
    } else if init & 1 != 0 {
        init_x87(&mut f);
    }
    let load_mx = if compact {
        restore & 2 != 0
    } else {
        rfbm & 6 != 0
    };
    if load_mx {
        let mx = r(ctx, 24)? as u32;
        if mx & !MXCSR_MASK != 0 {
            return Err(ctx.cpu.gp(0));
        }
        f.mxcsr = mx;
    } else if compact && init & 2 != 0 {
        f.mxcsr = MXCSR_RESET;
    }
    if restore & 2 != 0 {
        for i in 0..n {
            f.xmm[i] = [r(ctx, 160 + 16 * i as u64)?, r(ctx, 168 + 16 * i as u64)?];
        }
    } else if init & 2 != 0 {
        f.xmm.iter_mut().take(n).for_each(|x| *x = [0, 0]);
    }
    let mut buf = [0u64; 32];
    for &(bit, _, _) in XSAVE_COMPONENTS {
        let m = 1u64 << bit;
        if restore & m != 0 {
            let (off, _) = comp_offset(bit, compact, format).expect("known component");
            for (i, q) in buf.iter_mut().enumerate().take(comp_qwords(bit, n)) {
                *q = r(ctx, off + 8 * i as u64)?;
            }
            comp_load(&mut f, bit, &buf, n);
        } else if init & m != 0 {
            comp_init(&mut f, bit, n);
        }
    }
    let pkru_changed = f.pkru != ctx.cpu.s.fpu.pkru;
    ctx.cpu.s.fpu = f;
    if pkru_changed {
        ctx.cpu.tlb.flush_all();
    }
    Ok(())
}

// ---- MXCSR, EMMS, VZERO*, PKRU ------------------------------------------------------------

fn ldmxcsr<const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let v = ctx.load::<W32>(op)? as u32;
    if v & !MXCSR_MASK != 0 {
        return Err(ctx.cpu.gp(0));
    }
    ctx.cpu.s.fpu.mxcsr = v;
    Ok(())
}

fn stmxcsr<const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let v = u64::from(ctx.cpu.s.fpu.mxcsr);
    ctx.store::<W32>(op, v)
}

/// EMMS: every x87 tag empty.
fn emms(ctx: &mut Ctx, _op: &Op) -> Exec {
    mmx_ok(ctx)?;
    ctx.cpu.s.fpu.ftw = 0xFFFF;
    Ok(())
}

/// VZEROUPPER (ALL = false) / VZEROALL: registers 0–15 in 64-bit mode,
/// 0–7 otherwise.
fn vzero<const ALL: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    avx_ok(ctx)?;
    let n = if ctx.cpu.code_bits == 64 { 16 } else { 8 };
    let f = &mut ctx.cpu.s.fpu;
    for r in 0..n {
        f.ymm_hi[r] = [0, 0];
        if ALL {
            f.xmm[r] = [0, 0];
        }
    }
    Ok(())
}

/// RDPKRU/WRPKRU: #UD unless CR4.PKE = 1; #GP(0) if ECX ≠ 0 (and, for
/// WRPKRU, EDX ≠ 0). WRPKRU flushes the TLB, whose entries cache rights
/// that depend on PKRU.
fn pkru<const WRITE: bool>(ctx: &mut Ctx, _op: &Op) -> Exec {
    if !ctx.cpu.cr4(cr4::PKE) {
        return Err(ctx.cpu.ud());
    }
    let r = &ctx.cpu.regs;
    if r[1] as u32 != 0 || (WRITE && r[2] as u32 != 0) {
        return Err(ctx.cpu.gp(0));
    }
    if WRITE {
        ctx.cpu.s.fpu.pkru = ctx.cpu.regs[0] as u32;
        ctx.cpu.tlb.flush_all();
    } else {
        ctx.cpu.regs[0] = u64::from(ctx.cpu.s.fpu.pkru);
        ctx.cpu.regs[2] = 0;
    }
    Ok(())
}

pub fn decode(d: &D, _op: &mut Op) -> Option<Decoded> {
    let (f, h): (Feature, Handler) = match d.insn.mnemonic() {
        Mn::Fxsave => (Feature::Fxsr, handler(fxsave::<false>)),
        Mn::Fxsave64 => (Feature::Fxsr, handler(fxsave::<true>)),
        Mn::Fxrstor => (Feature::Fxsr, handler(fxrstor::<false>)),
        Mn::Fxrstor64 => (Feature::Fxsr, handler(fxrstor::<true>)),
        Mn::Xsave => (Feature::Xsave, handler(xsave::<XSAVE, false>)),
        Mn::Xsave64 => (Feature::Xsave, handler(xsave::<XSAVE, true>)),
        Mn::Xsaveopt => (Feature::Xsaveopt, handler(xsave::<XSAVEOPT, false>)),
        Mn::Xsaveopt64 => (Feature::Xsaveopt, handler(xsave::<XSAVEOPT, true>)),
        Mn::Xsavec => (Feature::Xsavec, handler(xsave::<XSAVEC, false>)),
        Mn::Xsavec64 => (Feature::Xsavec, handler(xsave::<XSAVEC, true>)),
        Mn::Xsaves => (Feature::Xsaves, handler(xsave::<XSAVES, false>)),
        Mn::Xsaves64 => (Feature::Xsaves, handler(xsave::<XSAVES, true>)),
        Mn::Xrstor => (Feature::Xsave, handler(xrstor::<false, false>)),
        Mn::Xrstor64 => (Feature::Xsave, handler(xrstor::<false, true>)),
        Mn::Xrstors => (Feature::Xsaves, handler(xrstor::<true, false>)),
        Mn::Xrstors64 => (Feature::Xsaves, handler(xrstor::<true, true>)),
        Mn::Ldmxcsr => (Feature::Sse, handler(ldmxcsr::<false>)),
        Mn::Vldmxcsr => (Feature::Avx, handler(ldmxcsr::<true>)),
        Mn::Stmxcsr => (Feature::Sse, handler(stmxcsr::<false>)),
        Mn::Vstmxcsr => (Feature::Avx, handler(stmxcsr::<true>)),
        Mn::Emms => (Feature::Mmx, handler(emms)),
        Mn::Vzeroupper => (Feature::Avx, handler(vzero::<false>)),
        Mn::Vzeroall => (Feature::Avx, handler(vzero::<true>)),
        Mn::Rdpkru => (Feature::Pku, handler(pkru::<false>)),
        Mn::Wrpkru => (Feature::Pku, handler(pkru::<true>)),
        _ => return None,
    };
    // WRPKRU and XRSTOR* (which may load PKRU) flush the TLB; end the
    // block after them like the other TLB-flushing instructions. The rest
    // only change state handlers read at run time.
    let ends = matches!(
        d.insn.mnemonic(),
        Mn::Wrpkru | Mn::Xrstor | Mn::Xrstor64 | Mn::Xrstors | Mn::Xrstors64
    );
    match d.gate(f, h) {
        Some(r) if ends => Decoded::end(r.exec),
        r => r,
    }
}
