//! MMX, SSE–SSE4.2, AVX, AVX2, FMA3, F16C, AES-NI and PCLMULQDQ, and the
//! x87/SIMD state instructions (FXSAVE, XSAVE*, LDMXCSR, EMMS, VZERO*,
//! RDPKRU/WRPKRU).
//!
//! Layout:
//! - this file: 128-bit values and their lanes, register-file access,
//!   the availability rules (SDM Vol. 1 13.x, Vol. 3A 2.5, Vol. 2A 2.8
//!   exception classes), the kernel trait and the generic handlers that
//!   apply a kernel to every operand form (MMX, legacy SSE, VEX.128,
//!   VEX.256), and the decoder that asks each group;
//! - [`fp`], [`fpcvt`], [`exact`]: IEEE arithmetic and conversions under
//!   MXCSR (rounding modes, DAZ/FTZ, exception flags);
//! - [`int`], [`shuffle`], [`float`], [`convert`], [`moves`],
//!   [`strcmp`], [`avx`], [`crypto`], [`fma`], [`state`]: the
//!   instruction groups.
//!
//! Handlers are monomorphised per kernel and operand form: a decoded op
//! calls straight into the kernel with its registers and immediate
//! resolved; CR0/CR4/XCR0 availability is checked at run time (they can
//! change without the block cache noticing), CPUID features and the
//! real/virtual-8086 VEX rule at decode time (the model is fixed and the
//! mode is part of the block key).
//!
//! Operand convention for ops decoded here: `r0` is the destination
//! register, `r1` the first source (the destination itself for the
//! two-operand legacy forms, VEX.vvvv otherwise) and `r2` the second
//! source register (when it is not memory); `imm` holds the imm8 (or the
//! is4 register of four-operand VEX forms). Kernels see `a` = first
//! source and `b` = second source; one-source kernels use `b`.
//!
//! Not implemented (decoded by nobody, so #UD and a log line): EVEX
//! (AVX-512), SHA, GFNI, VAES/VPCLMULQDQ on ymm, SSE4a (EXTRQ, INSERTQ,
//! MOVNTSS/SD), 3DNow!, XOP/FMA4, AVX-VNNI and the other post-AVX2 VEX
//! extensions, AMX.

pub mod avx;
pub mod convert;
pub mod crypto;
pub mod exact;
pub mod float;
pub mod fma;
pub mod fp;
pub mod fpcvt;
pub mod int;
pub mod moves;
pub mod shuffle;
pub mod state;
pub mod strcmp;

use crate::interp::exec::handler;
use iced_x86::{EncodingKind, Instruction, OpKind, Register};

use super::{Ctx, Exec, Handler, Op, Stop, W8, W16, W32, W64};
use crate::interp::cpu::Mode;
use crate::interp::decode::{Decoded, gpr};
use crate::interp::events::vec;
use crate::model::Feature;
use crate::state::{cr0, cr4};
pub use fp::Fx;

/// A 128-bit value: low quadword first.
pub type V = [u64; 2];

// ---- lanes ----------------------------------------------------------------

/// An element type of a 128-bit vector.
pub trait Lane: Copy + Default {
    /// Elements per 128 bits.
    const N: usize;
    /// `[Self; N]`.
    type A: Copy + Default + AsRef<[Self]> + AsMut<[Self]>;
    /// The elements of `v`.
    fn arr(v: V) -> Self::A;
    fn from_arr(a: Self::A) -> V;
    fn get(v: V, i: usize) -> Self;
}

macro_rules! lane {
    ($t:ty, $bits:expr, $from:expr, $to:expr) => {
        impl Lane for $t {
            const N: usize = 128 / $bits;
            type A = [$t; 128 / $bits];
            #[inline(always)]
            fn arr(v: V) -> Self::A {
                const S: usize = $bits / 8;
                let b = bytes(v);
                std::array::from_fn(|i| {
                    let mut w = [0u8; S];
                    w.copy_from_slice(&b[i * S..i * S + S]);
                    $from(w)
                })
            }
            #[inline(always)]
            fn from_arr(a: Self::A) -> V {
                const S: usize = $bits / 8;
                let mut b = [0u8; 16];
                for (i, x) in a.iter().enumerate() {
                    b[i * S..i * S + S].copy_from_slice(&$to(*x));
                }
                from_bytes(b)
            }
            #[inline(always)]
            fn get(v: V, i: usize) -> Self {
                let per = 64 / $bits;
                let w = (v[i / per] >> ((i % per) * $bits)).to_le_bytes();
                let mut x = [0u8; $bits / 8];
                x.copy_from_slice(&w[..$bits / 8]);
                $from(x)
            }
        }
    };
}
lane!(u8, 8, u8::from_le_bytes, u8::to_le_bytes);
lane!(i8, 8, i8::from_le_bytes, i8::to_le_bytes);
lane!(u16, 16, u16::from_le_bytes, u16::to_le_bytes);
lane!(i16, 16, i16::from_le_bytes, i16::to_le_bytes);
lane!(u32, 32, u32::from_le_bytes, u32::to_le_bytes);
lane!(i32, 32, i32::from_le_bytes, i32::to_le_bytes);
lane!(u64, 64, u64::from_le_bytes, u64::to_le_bytes);
lane!(i64, 64, i64::from_le_bytes, i64::to_le_bytes);
lane!(f32, 32, f32::from_le_bytes, f32::to_le_bytes);
lane!(f64, 64, f64::from_le_bytes, f64::to_le_bytes);

/// Element-wise `f(a[i], b[i])`.
#[inline(always)]
pub fn map2<T: Lane>(a: V, b: V, mut f: impl FnMut(T, T) -> T) -> V {
    let (x, y) = (T::arr(a), T::arr(b));
    let mut r = T::A::default();
    for ((r, x), y) in r.as_mut().iter_mut().zip(x.as_ref()).zip(y.as_ref()) {
        *r = f(*x, *y);
    }
    T::from_arr(r)
}

/// Element-wise `f(b[i])`.
#[inline(always)]
pub fn map1<T: Lane>(b: V, mut f: impl FnMut(T) -> T) -> V {
    let x = T::arr(b);
    let mut r = T::A::default();
    for (r, x) in r.as_mut().iter_mut().zip(x.as_ref()) {
        *r = f(*x);
    }
    T::from_arr(r)
}

/// Builds a vector from `f(i)` for each element index.
#[inline(always)]
pub fn build<T: Lane>(mut f: impl FnMut(usize) -> T) -> V {
    let mut r = T::A::default();
    for (i, r) in r.as_mut().iter_mut().enumerate() {
        *r = f(i);
    }
    T::from_arr(r)
}

/// Element `i` of `v` as `T`.
#[inline(always)]
pub fn el<T: Lane>(v: V, i: usize) -> T {
    T::get(v, i)
}

/// `v` with element `i` replaced by `x`.
#[inline(always)]
pub fn with<T: Lane>(v: V, i: usize, x: T) -> V {
    let mut a = T::arr(v);
    a.as_mut()[i] = x;
    T::from_arr(a)
}

/// The bytes of `v`, little-endian.
#[inline(always)]
pub fn bytes(v: V) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&v[0].to_le_bytes());
    b[8..].copy_from_slice(&v[1].to_le_bytes());
    b
}

#[inline(always)]
pub fn from_bytes(b: [u8; 16]) -> V {
    [
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        u64::from_le_bytes(b[8..].try_into().expect("8 bytes")),
    ]
}

#[inline(always)]
pub fn to_u128(v: V) -> u128 {
    u128::from(v[0]) | u128::from(v[1]) << 64
}

#[inline(always)]
pub fn from_u128(x: u128) -> V {
    [x as u64, (x >> 64) as u64]
}

// ---- register file ------------------------------------------------------------

impl Ctx {
    #[inline(always)]
    pub fn xmm(&self, n: u8) -> V {
        self.cpu.s.fpu.xmm[n as usize & 15]
    }
    #[inline(always)]
    pub fn set_xmm(&mut self, n: u8, v: V) {
        self.cpu.s.fpu.xmm[n as usize & 15] = v;
    }
    /// Bits 255:128 of YMMn.
    #[inline(always)]
    pub fn yhi(&self, n: u8) -> V {
        self.cpu.s.fpu.ymm_hi[n as usize & 15]
    }
    #[inline(always)]
    pub fn set_yhi(&mut self, n: u8, v: V) {
        self.cpu.s.fpu.ymm_hi[n as usize & 15] = v;
    }
    /// Writes XMMn from a VEX.128 instruction: bits 255:128 are zeroed.
    #[inline(always)]
    pub fn set_xmm_vex(&mut self, n: u8, v: V) {
        self.set_xmm(n, v);
        self.set_yhi(n, [0, 0]);
    }
    /// MMn: the significand of physical x87 register n.
    #[inline(always)]
    pub fn mm(&self, n: u8) -> u64 {
        self.cpu.s.fpu.regs[n as usize & 7].significand
    }
    /// Writes MMn; the register's exponent field becomes all ones
    /// (SDM Vol. 1 9.5.1).
    #[inline(always)]
    pub fn set_mm(&mut self, n: u8, v: u64) {
        let r = &mut self.cpu.s.fpu.regs[n as usize & 7];
        r.significand = v;
        r.sign_exp = 0xFFFF;
    }
}

// ---- availability -------------------------------------------------------------

/// Legacy SSE instructions: #UD if CR0.EM = 1 or CR4.OSFXSR = 0, #NM if
/// CR0.TS = 1 (SDM Vol. 2A Table 2-18 ff.). The CPUID feature was checked
/// at decode time.
#[inline(always)]
pub fn sse_ok(ctx: &mut Ctx) -> Exec {
    let s = &ctx.cpu.s.cr;
    if s.cr0 & (cr0::EM | cr0::TS) == 0 && s.cr4 & cr4::OSFXSR != 0 {
        return Ok(());
    }
    Err(sse_fault(ctx))
}

#[cold]
fn sse_fault(ctx: &mut Ctx) -> Stop {
    let s = &ctx.cpu.s.cr;
    if s.cr0 & cr0::EM != 0 || s.cr4 & cr4::OSFXSR == 0 {
        ctx.cpu.ud()
    } else {
        ctx.cpu.raise(vec::NM, None)
    }
}

/// VEX-encoded instructions: #UD unless CR4.OSXSAVE = 1 and XCR0 enables
/// SSE and AVX state; #NM if CR0.TS = 1 (SDM Vol. 2A 2.8, Table 2-21).
/// Real and virtual-8086 mode were rejected at decode time.
#[inline(always)]
pub fn avx_ok(ctx: &mut Ctx) -> Exec {
    let c = &ctx.cpu.s;
    if c.cr.cr0 & cr0::TS == 0 && c.cr.cr4 & cr4::OSXSAVE != 0 && c.xcr0 & 6 == 6 {
        return Ok(());
    }
    Err(avx_fault(ctx))
}

#[cold]
fn avx_fault(ctx: &mut Ctx) -> Stop {
    let c = &ctx.cpu.s;
    if c.cr.cr4 & cr4::OSXSAVE == 0 || c.xcr0 & 6 != 6 {
        ctx.cpu.ud()
    } else {
        ctx.cpu.raise(vec::NM, None)
    }
}

/// x87 status word: exception summary.
const FSW_ES: u16 = 1 << 7;

/// MMX instructions: #UD if CR0.EM = 1, #NM if CR0.TS = 1, #MF if an
/// unmasked x87 exception is pending (CR0.NE = 1); then the x87 FPU
/// enters MMX state: TOP = 0 and every tag valid (SDM Vol. 1 9.5.1).
#[inline(always)]
pub fn mmx_ok(ctx: &mut Ctx) -> Exec {
    let c0 = ctx.cpu.s.cr.cr0;
    if c0 & (cr0::EM | cr0::TS) != 0 || ctx.cpu.s.fpu.fsw & FSW_ES != 0 {
        mmx_fault(ctx)?;
    }
    let f = &mut ctx.cpu.s.fpu;
    f.fsw &= !0x3800;
    f.ftw = 0;
    Ok(())
}

#[cold]
fn mmx_fault(ctx: &mut Ctx) -> Exec {
    let c0 = ctx.cpu.s.cr.cr0;
    if c0 & cr0::EM != 0 {
        return Err(ctx.cpu.ud());
    }
    if c0 & cr0::TS != 0 {
        return Err(ctx.cpu.raise(vec::NM, None));
    }
    if c0 & cr0::NE != 0 {
        return Err(ctx.cpu.raise(vec::MF, None));
    }
    Ok(())
}

/// SSE instructions that also read or write MMX registers (CVTPI2PS,
/// MOVQ2DQ, ...): the SSE rules, the pending-x87-exception check, then
/// the transition to MMX state.
#[inline(always)]
pub fn sse_mmx_ok(ctx: &mut Ctx) -> Exec {
    sse_ok(ctx)?;
    mmx_ok(ctx)
}

pub fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

// ---- kernels and their operand forms -----------------------------------------------

/// A SIMD operation on one 128-bit lane: `f(a, b, imm)`.
pub trait K {
    /// Floating-point kernels report MXCSR exceptions through `Fx`.
    const FP: bool = false;
    fn f(a: V, b: V, imm: u8, e: &mut Fx) -> V;
    /// The immediate for the upper 128-bit lane of a VEX.256 form.
    #[inline(always)]
    fn hi_imm(imm: u8) -> u8 {
        imm
    }
    /// The 64-bit MMX form (element-wise kernels: the low half).
    #[inline(always)]
    fn mmx(a: u64, b: u64, imm: u8) -> u64 {
        Self::f([a, 0], [b, 0], imm, &mut Fx::new(0))[0]
    }
}

/// Runs kernel `Kn` and commits its MXCSR flags (#XM/#UD on an unmasked
/// exception, leaving the destination unwritten).
#[inline(always)]
pub fn run<Kn: K>(ctx: &mut Ctx, a: V, b: V, imm: u8) -> Result<V, Stop> {
    if Kn::FP {
        let mut e = Fx::new(ctx.cpu.s.fpu.mxcsr);
        let r = Kn::f(a, b, imm, &mut e);
        e.commit(ctx)?;
        Ok(r)
    } else {
        Ok(Kn::f(a, b, imm, &mut Fx::new(0)))
    }
}

/// Loads an `M`-byte memory operand (1, 2, 4, 8 or 16 bytes) zero-extended
/// to 128 bits; `AL`: 16-byte alignment required.
#[inline(always)]
pub fn load_m<const M: u8, const AL: bool>(ctx: &mut Ctx, op: &Op) -> Result<V, Stop> {
    let ea = ctx.ea(op);
    Ok(match M {
        1 => [ctx.read_seg::<W8>(op.seg, ea)?, 0],
        2 => [ctx.read_seg::<W16>(op.seg, ea)?, 0],
        4 => [ctx.read_seg::<W32>(op.seg, ea)?, 0],
        8 => [ctx.read_seg::<W64>(op.seg, ea)?, 0],
        _ => ctx.read_v128(op.seg, ea, AL)?,
    })
}

/// Stores the low `M` bytes of `v`.
#[inline(always)]
pub fn store_m<const M: u8, const AL: bool>(ctx: &mut Ctx, op: &Op, v: V) -> Exec {
    let ea = ctx.ea(op);
    match M {
        1 => ctx.write_seg::<W8>(op.seg, ea, v[0]),
        2 => ctx.write_seg::<W16>(op.seg, ea, v[0]),
        4 => ctx.write_seg::<W32>(op.seg, ea, v[0]),
        8 => ctx.write_seg::<W64>(op.seg, ea, v[0]),
        _ => ctx.write_v128(op.seg, ea, v, AL),
    }
}

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

/// xmm, xmm (legacy: r1 = r0) or VEX.128 xmm, xmm, xmm.
pub fn xr<Kn: K, const VEX: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let (a, b) = (ctx.xmm(op.r1), ctx.xmm(op.r2));
    let r = run::<Kn>(ctx, a, b, op.imm as u8)?;
    put::<VEX>(ctx, op.r0, r);
    Ok(())
}

/// xmm, m (M bytes; AL: aligned) or VEX.128 xmm, xmm, m.
pub fn xm<Kn: K, const VEX: bool, const M: u8, const AL: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avail::<VEX>(ctx)?;
    let b = load_m::<M, AL>(ctx, op)?;
    let a = ctx.xmm(op.r1);
    let r = run::<Kn>(ctx, a, b, op.imm as u8)?;
    put::<VEX>(ctx, op.r0, r);
    Ok(())
}

/// VEX.256 ymm, ymm, ymm: the kernel on each 128-bit lane. `BLO`: the
/// second source is an xmm register used for both lanes (shift counts).
pub fn yr<Kn: K, const BLO: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let (a0, a1) = (ctx.xmm(op.r1), ctx.yhi(op.r1));
    let b0 = ctx.xmm(op.r2);
    let b1 = if BLO { b0 } else { ctx.yhi(op.r2) };
    let i = op.imm as u8;
    let lo = run::<Kn>(ctx, a0, b0, i)?;
    let hi = run::<Kn>(ctx, a1, b1, Kn::hi_imm(i))?;
    ctx.set_xmm(op.r0, lo);
    ctx.set_yhi(op.r0, hi);
    Ok(())
}

/// VEX.256 ymm, ymm, m256 (`BLO`: m128 used for both lanes).
pub fn ym<Kn: K, const BLO: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    avx_ok(ctx)?;
    let ea = ctx.ea(op);
    let [b0, b1] = if BLO {
        let b = ctx.read_v128(op.seg, ea, false)?;
        [b, b]
    } else {
        ctx.read_v256(op.seg, ea, false)?
    };
    let (a0, a1) = (ctx.xmm(op.r1), ctx.yhi(op.r1));
    let i = op.imm as u8;
    let lo = run::<Kn>(ctx, a0, b0, i)?;
    let hi = run::<Kn>(ctx, a1, b1, Kn::hi_imm(i))?;
    ctx.set_xmm(op.r0, lo);
    ctx.set_yhi(op.r0, hi);
    Ok(())
}

/// mm, mm.
pub fn mr<Kn: K>(ctx: &mut Ctx, op: &Op) -> Exec {
    mmx_ok(ctx)?;
    let r = Kn::mmx(ctx.mm(op.r1), ctx.mm(op.r2), op.imm as u8);
    ctx.set_mm(op.r0, r);
    Ok(())
}

/// mm, m64 (the memory operand is read before the MMX transition).
pub fn mm<Kn: K>(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.s.cr.cr0 & (cr0::EM | cr0::TS) != 0 {
        mmx_ok(ctx)?;
    }
    let b = ctx.load::<W64>(op)?;
    mmx_ok(ctx)?;
    let r = Kn::mmx(ctx.mm(op.r1), b, op.imm as u8);
    ctx.set_mm(op.r0, r);
    Ok(())
}

// ---- decoding -------------------------------------------------------------------

/// What the decoders need to know about an instruction's operands.
pub struct D<'a> {
    pub insn: &'a Instruction,
    pub vex: bool,
    /// Any ymm operand (VEX.256).
    pub y: bool,
    /// Any MMX register operand.
    pub mmx: bool,
    /// A memory operand, and whether it is operand 0 (a store).
    pub mem: bool,
    pub mem_dst: bool,
    pub has: &'a dyn Fn(Feature) -> bool,
    /// Real or virtual-8086 mode (VEX is #UD there).
    pub real: bool,
    pub bits64: bool,
}

/// Register number of operand `i` (vector, MMX or general register).
pub fn reg_of(insn: &Instruction, i: u32) -> u8 {
    let r = insn.op_register(i);
    if r.is_gpr() {
        gpr(r).unwrap_or(0)
    } else {
        (r.number() & 15) as u8
    }
}

impl D<'_> {
    /// Non-immediate operands.
    pub fn nops(&self) -> u32 {
        (0..self.insn.op_count())
            .filter(|&i| matches!(self.insn.op_kind(i), OpKind::Register | OpKind::Memory))
            .count() as u32
    }

    /// Standard operand fill: `dst, [src1,] src2/mem [, imm8 | is4]`.
    pub fn fill(&self, op: &mut Op) {
        let insn = self.insn;
        let n = self.nops();
        let kind = |i| insn.op_kind(i);
        let reg = |i| {
            if kind(i) == OpKind::Register {
                reg_of(insn, i)
            } else {
                0
            }
        };
        op.r0 = reg(0);
        if n >= 3 {
            op.r1 = reg(1);
            op.r2 = reg(2);
        } else {
            op.r1 = op.r0;
            op.r2 = reg(1);
        }
        op.imm = 0;
        for i in 0..insn.op_count() {
            match kind(i) {
                OpKind::Immediate8 => op.imm = u64::from(insn.immediate8()),
                OpKind::Register if i == 3 => op.imm = u64::from(reg(3)),
                _ => {}
            }
        }
    }

    /// The handler if `f` is present (and VEX is allowed), else #UD.
    pub fn gate(&self, f: Feature, h: Handler) -> Option<Decoded> {
        if !(self.has)(f) || (self.vex && self.real) {
            return Decoded::end(handler(ud));
        }
        Decoded::next(h)
    }

    /// Integer op with MMX (`mmx_f`, if any), SSE (`f`), AVX and AVX2 forms.
    pub fn int<Kn: K>(&self, op: &mut Op, f: Feature, mmx_f: Option<Feature>) -> Option<Decoded> {
        self.fill(op);
        let (h, feat): (Handler, Feature) = if self.vex {
            match (self.y, self.mem) {
                (true, true) => (handler(ym::<Kn, false>), Feature::Avx2),
                (true, false) => (handler(yr::<Kn, false>), Feature::Avx2),
                (false, true) => (handler(xm::<Kn, true, 16, false>), Feature::Avx),
                (false, false) => (handler(xr::<Kn, true>), Feature::Avx),
            }
        } else if self.mmx {
            let mf = mmx_f?;
            (
                if self.mem {
                    handler(mm::<Kn>)
                } else {
                    handler(mr::<Kn>)
                },
                mf,
            )
        } else if self.mem {
            (handler(xm::<Kn, false, 16, true>), f)
        } else {
            (handler(xr::<Kn, false>), f)
        };
        self.gate(feat, h)
    }

    /// A 128-bit-only op (no MMX, no VEX.256): legacy memory operand of
    /// `M` bytes (aligned if `AL`), VEX.128 unaligned.
    pub fn x128<Kn: K, const M: u8, const AL: bool>(
        &self,
        op: &mut Op,
        f: Feature,
    ) -> Option<Decoded> {
        self.fill(op);
        if self.y || self.mmx {
            return None;
        }
        let fv = vex_feature(f);
        let (h, feat): (Handler, Feature) = match (self.vex, self.mem) {
            (true, true) => (handler(xm::<Kn, true, M, false>), fv),
            (true, false) => (handler(xr::<Kn, true>), fv),
            (false, true) => (handler(xm::<Kn, false, M, AL>), f),
            (false, false) => (handler(xr::<Kn, false>), f),
        };
        self.gate(feat, h)
    }

    /// Packed op with SSE (`f`), AVX 128 and 256 forms; the VEX.256 form
    /// needs `f256` (AVX for float, AVX2 for integer).
    pub fn packed<Kn: K>(&self, op: &mut Op, f: Feature, f256: Feature) -> Option<Decoded> {
        if self.y {
            self.fill(op);
            let h: Handler = if self.mem {
                handler(ym::<Kn, false>)
            } else {
                handler(yr::<Kn, false>)
            };
            return self.gate(f256, h);
        }
        self.x128::<Kn, 16, true>(op, f)
    }
}

/// The feature a VEX.128 form needs when its legacy form needs `f`:
/// AVX, unless `f` is itself a VEX-only feature (AVX2, FMA, F16C...).
pub fn vex_feature(f: Feature) -> Feature {
    match f {
        Feature::Avx2 | Feature::Fma | Feature::F16c | Feature::Vaes | Feature::Gfni => f,
        _ => Feature::Avx,
    }
}

fn has_mmx_operand(insn: &Instruction) -> bool {
    (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_mm())
}

/// Any xmm register operand (tells SSE2 MOVSD/CMPSD from the string
/// instructions of the same mnemonic).
pub fn has_xmm_operand(insn: &Instruction) -> bool {
    (0..insn.op_count())
        .any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_xmm())
}

fn has_ymm_operand(insn: &Instruction) -> bool {
    (0..insn.op_count())
        .any(|i| insn.op_kind(i) == OpKind::Register && insn.op_register(i).is_ymm())
}

/// The family decoder: asks each group in turn.
pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    let enc = insn.encoding();
    if enc != EncodingKind::Legacy && enc != EncodingKind::VEX {
        return None;
    }
    let model = ctx.cpu.model();
    let has = |f: Feature| model.has(f);
    let mem_dst = insn.op_count() > 0 && insn.op0_kind() == OpKind::Memory;
    let mem = (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory);
    let d = D {
        insn,
        vex: enc == EncodingKind::VEX,
        y: has_ymm_operand(insn) || (mem && insn.memory_size().size() == 32),
        mmx: has_mmx_operand(insn),
        mem,
        mem_dst,
        has: &has,
        real: matches!(ctx.cpu.mode, Mode::Real | Mode::V86),
        bits64: ctx.cpu.code_bits == 64,
    };
    let groups: [fn(&D, &mut Op) -> Option<Decoded>; 10] = [
        moves::decode,
        int::decode,
        shuffle::decode,
        float::decode,
        convert::decode,
        avx::decode,
        strcmp::decode,
        state::decode,
        crypto::decode,
        fma::decode,
    ];
    for g in groups {
        if let Some(r) = g(&d, op) {
            return Some(r);
        }
    }
    let _ = Register::None;
    None
}

/// Kernel boilerplate: `kern!(Name, |a, b, i, e| body)` defines a unit
/// type implementing [`K`]; `kern!(fp Name, ...)` marks it as
/// floating-point; `hi = expr` sets the upper-lane immediate and
/// `mmx = |a, b, i| expr` the MMX form.
#[macro_export]
macro_rules! kern {
    (@def $name:ident, $fp:expr, |$a:ident, $b:ident, $i:ident, $e:ident| $body:expr
        $(, hi = |$hi:ident| $hb:expr)? $(, mmx = |$ma:ident, $mb:ident, $mi:ident| $mbody:expr)?) => {
        pub struct $name;
        impl $crate::interp::exec::sse::K for $name {
            const FP: bool = $fp;
            #[inline(always)]
            #[allow(unused_variables, unused_mut)]
            fn f($a: $crate::interp::exec::sse::V, $b: $crate::interp::exec::sse::V, $i: u8,
                 $e: &mut $crate::interp::exec::sse::Fx) -> $crate::interp::exec::sse::V {
                $body
            }
            $(
            #[inline(always)]
            fn hi_imm($hi: u8) -> u8 { $hb }
            )?
            $(
            #[inline(always)]
            #[allow(unused_variables)]
            fn mmx($ma: u64, $mb: u64, $mi: u8) -> u64 { $mbody }
            )?
        }
    };
    (fp $name:ident, $($rest:tt)*) => { $crate::kern!(@def $name, true, $($rest)*); };
    ($name:ident, $($rest:tt)*) => { $crate::kern!(@def $name, false, $($rest)*); };
}
