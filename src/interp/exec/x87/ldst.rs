//! x87 loads and stores (FLD, FILD, FBLD, FST(P), FIST(P), FISTTP,
//! FBSTP), the constants (FLD1 … FLDZ), FXCH, FCMOVcc, FFREE(P),
//! FINCSTP/FDECSTP and FNOP.

use crate::interp::exec::handler;
use iced_x86::{Code, Instruction, MemorySize, Mnemonic, OpKind};

use super::arith::{I16, I32, I64, M32, M64, MemSrc};
use super::sf::{self, DBL, Env, INDEFINITE, SGL, exc::DE, unpack};
use super::sfx;
use super::{Stack, begin, commit, done, overflow, set_fop, sti, sw, underflow};
use crate::interp::exec::{Ctx, Exec, Handler, Op, W16, W32, W64};
use crate::model::Feature;
use crate::state::fpu::F80;

/// Pushes `v` (or handles stack overflow) and finishes the instruction.
#[inline(always)]
fn push_result(ctx: &mut Ctx, op: &Op, mut env: Env, v: Option<F80>) {
    let f = &mut ctx.cpu.s.fpu;
    if !f.is_empty(7) {
        if overflow(&mut env) {
            f.push(INDEFINITE);
        }
    } else if let Some(v) = v {
        f.push(v);
    }
    commit(f, &env);
    done(ctx, op);
}

/// FLD m32fp/m64fp and FILD m16/m32/m64 (INT: no conversion exceptions).
fn fld_m<S: MemSrc, const INT: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let u = S::load(ctx, op)?;
    let mut env = Env::new(ctx.cpu.s.fpu.fcw);
    let v = if INT || !ctx.cpu.s.fpu.is_empty(7) {
        Some(sf::pack(&u))
    } else if u.is_nan() {
        sf::nan1(&mut env, &u)
    } else if u.den && env.trap(DE) {
        None
    } else {
        Some(sf::pack(&u))
    };
    push_result(ctx, op, env, v);
    Ok(())
}

/// FLD m80fp (no exceptions but #IS) and FBLD m80bcd.
fn fld_m80<const BCD: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let la = ctx.fpu_linear(op, 10, false)?;
    let raw = ctx.read_f80(la)?;
    let v = if BCD {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&raw.significand.to_le_bytes());
        b[8..].copy_from_slice(&raw.sign_exp.to_le_bytes());
        sfx::from_bcd(&b)
    } else {
        raw
    };
    let env = Env::new(ctx.cpu.s.fpu.fcw);
    push_result(ctx, op, env, Some(v));
    Ok(())
}

/// FLD ST(i).
fn fld_r(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let v = if f.is_empty(op.r0) {
        if underflow(&mut env) {
            Some(INDEFINITE)
        } else {
            None
        }
    } else {
        Some(f.st(op.r0))
    };
    push_result(ctx, op, env, v);
    Ok(())
}

/// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ.
fn fldc<const K: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let env = Env::new(ctx.cpu.s.fpu.fcw);
    let v = sfx::constant(K, env.rc());
    push_result(ctx, op, env, Some(v));
    Ok(())
}

/// Pops if POP and finishes a store.
#[inline(always)]
fn store_done<const POP: bool>(ctx: &mut Ctx, op: &Op, env: &Env, stored: bool) {
    let f = &mut ctx.cpu.s.fpu;
    if POP && stored {
        f.pop();
    }
    commit(f, env);
    done(ctx, op);
}

/// FST/FSTP m32fp (DBL = false) and m64fp.
fn fst_m<const DBLP: bool, const POP: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let bits = if f.is_empty(0) {
        if underflow(&mut env) {
            Some(if DBLP {
                0xFFF8_0000_0000_0000
            } else {
                0xFFC0_0000
            })
        } else {
            None
        }
    } else {
        let fmt = if DBLP { &DBL } else { &SGL };
        sfx::to_fmt(&mut env, &unpack(f.st(0)), fmt)
            .ok()
            .map(|o| if DBLP { o.f64() } else { u64::from(o.f32()) })
    };
    if let Some(b) = bits {
        if DBLP {
            ctx.store::<W64>(op, b)?;
        } else {
            ctx.store::<W32>(op, b)?;
        }
    }
    store_done::<POP>(ctx, op, &env, bits.is_some());
    Ok(())
}

/// FSTP m80fp and FBSTP m80bcd.
fn fstp_m80<const BCD: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let v = if f.is_empty(0) {
        if underflow(&mut env) {
            Some(if BCD {
                F80 {
                    significand: 0xC000_0000_0000_0000,
                    sign_exp: 0xFFFF,
                }
            } else {
                INDEFINITE
            })
        } else {
            None
        }
    } else if BCD {
        sfx::to_bcd(&mut env, &unpack(f.st(0))).ok().map(|b| F80 {
            significand: u64::from_le_bytes(b[..8].try_into().unwrap_or_default()),
            sign_exp: u16::from_le_bytes([b[8], b[9]]),
        })
    } else {
        Some(f.st(0))
    };
    if let Some(v) = v {
        let la = ctx.fpu_linear(op, 10, true)?;
        ctx.write_f80(la, v)?;
    }
    store_done::<true>(ctx, op, &env, v.is_some());
    Ok(())
}

/// FIST/FISTP (TRUNC = false) and FISTTP (TRUNC) to BITS-bit integers.
fn fist<const BITS: u32, const POP: bool, const TRUNC: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let v = if f.is_empty(0) {
        if underflow(&mut env) {
            Some(i64::MIN >> (64 - BITS))
        } else {
            None
        }
    } else {
        sfx::to_int(&mut env, &unpack(f.st(0)), BITS, TRUNC).ok()
    };
    if let Some(v) = v {
        match BITS {
            16 => ctx.store::<W16>(op, v as u64)?,
            32 => ctx.store::<W32>(op, v as u64)?,
            _ => ctx.store::<W64>(op, v as u64)?,
        }
    }
    store_done::<POP>(ctx, op, &env, v.is_some());
    Ok(())
}

/// FST/FSTP ST(i).
fn fst_r<const POP: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let v = if f.is_empty(0) {
        if underflow(&mut env) {
            Some(INDEFINITE)
        } else {
            None
        }
    } else {
        Some(f.st(0))
    };
    if let Some(v) = v {
        f.set_st(op.r0, v);
        if POP {
            f.pop();
        }
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// FXCH ST(i).
fn fxch(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let i = op.r0;
    let (e0, ei) = (f.is_empty(0), f.is_empty(i));
    if e0 || ei {
        if underflow(&mut env) {
            if e0 {
                f.set_st(0, INDEFINITE);
            }
            if ei {
                f.set_st(i, INDEFINITE);
            }
        } else {
            commit(f, &env);
            done(ctx, op);
            return Ok(());
        }
    }
    let (a, b) = (f.st(0), f.st(i));
    f.set_st(0, b);
    f.set_st(i, a);
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// FCMOVcc ST(0), ST(i): `op.imm` holds the condition code (Jcc numbering).
fn fcmov(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let cond = ctx.cpu.lf.cond(op.imm as u8);
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    if f.is_empty(0) || f.is_empty(op.r0) {
        if underflow(&mut env) {
            f.set_st(0, INDEFINITE);
        }
    } else if cond {
        let v = f.st(op.r0);
        f.set_st(0, v);
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// FFREE ST(i) and FFREEP ST(i) (POP).
fn ffree<const POP: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let p = f.phys(op.r0);
    f.set_tag_phys(p, crate::state::fpu::tag::EMPTY);
    if POP {
        f.pop();
    }
    done(ctx, op);
    Ok(())
}

/// FINCSTP (+1) and FDECSTP (+7): TOP moves, tags untouched, C1 = 0.
fn fstp_move<const D: usize>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let t = f.top() + D;
    f.set_top(t);
    f.fsw &= !sw::C1;
    done(ctx, op);
    Ok(())
}

/// FNOP.
fn fnop(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    done(ctx, op);
    Ok(())
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Handler> {
    use Mnemonic::*;
    let m = insn.mnemonic();
    let mem = insn.op_count() > 0 && insn.op0_kind() == OpKind::Memory;
    let ms = insn.memory_size();
    let has = |f: Feature| ctx.cpu.model().has(f);
    // ST(i): the non-ST(0) register operand.
    let i = if insn.op_count() == 2 {
        sti(insn, 1).max(sti(insn, 0))
    } else {
        sti(insn, 0)
    };
    let (esc, modrm, h): (u8, u16, Handler) = match m {
        Fld if mem => match ms {
            MemorySize::Float32 => (0xD9, 0, handler(fld_m::<M32, false>)),
            MemorySize::Float64 => (0xDD, 0, handler(fld_m::<M64, false>)),
            _ => (0xDB, 5 << 3, handler(fld_m80::<false>)),
        },
        Fld => (0xD9, 0xC0 | u16::from(i), handler(fld_r)),
        Fild => match ms {
            MemorySize::Int16 => (0xDF, 0, handler(fld_m::<I16, true>)),
            MemorySize::Int32 => (0xDB, 0, handler(fld_m::<I32, true>)),
            _ => (0xDF, 5 << 3, handler(fld_m::<I64, true>)),
        },
        Fbld => (0xDF, 4 << 3, handler(fld_m80::<true>)),
        Fld1 => (0xD9, 0xE8, handler(fldc::<{ sfx::ONE }>)),
        Fldl2t => (0xD9, 0xE9, handler(fldc::<{ sfx::L2T }>)),
        Fldl2e => (0xD9, 0xEA, handler(fldc::<{ sfx::L2E }>)),
        Fldpi => (0xD9, 0xEB, handler(fldc::<{ sfx::PI }>)),
        Fldlg2 => (0xD9, 0xEC, handler(fldc::<{ sfx::LG2 }>)),
        Fldln2 => (0xD9, 0xED, handler(fldc::<{ sfx::LN2 }>)),
        Fldz => (0xD9, 0xEE, handler(fldc::<{ sfx::ZERO }>)),
        Fst | Fstp if mem => {
            let pop = m == Fstp;
            let reg = if pop { 3 << 3 } else { 2 << 3 };
            match (ms, pop) {
                (MemorySize::Float32, false) => (0xD9, reg, handler(fst_m::<false, false>)),
                (MemorySize::Float32, true) => (0xD9, reg, handler(fst_m::<false, true>)),
                (MemorySize::Float64, false) => (0xDD, reg, handler(fst_m::<true, false>)),
                (MemorySize::Float64, true) => (0xDD, reg, handler(fst_m::<true, true>)),
                _ => (0xDB, 7 << 3, handler(fstp_m80::<false>)),
            }
        }
        Fst => (0xDD, 0xD0 | u16::from(i), handler(fst_r::<false>)),
        Fstp | Fstpnce => {
            let (esc, base) = match insn.code() {
                Code::Fstp_sti_DFD0 => (0xDF, 0xD0),
                Code::Fstp_sti_DFD8 => (0xDF, 0xD8),
                Code::Fstpnce_sti => (0xD9, 0xD8),
                _ => (0xDD, 0xD8),
            };
            (esc, base | u16::from(i), handler(fst_r::<true>))
        }
        Fbstp => (0xDF, 6 << 3, handler(fstp_m80::<true>)),
        Fist | Fistp => {
            let pop = m == Fistp;
            let reg = if pop { 3 << 3 } else { 2 << 3 };
            match (ms, pop) {
                (MemorySize::Int16, false) => (0xDF, reg, handler(fist::<16, false, false>)),
                (MemorySize::Int16, true) => (0xDF, reg, handler(fist::<16, true, false>)),
                (MemorySize::Int32, false) => (0xDB, reg, handler(fist::<32, false, false>)),
                (MemorySize::Int32, true) => (0xDB, reg, handler(fist::<32, true, false>)),
                _ => (0xDF, 7 << 3, handler(fist::<64, true, false>)),
            }
        }
        Fisttp => {
            if !has(Feature::Sse3) {
                return Some(handler(super::ctrl::ud));
            }
            match ms {
                MemorySize::Int16 => (0xDF, 1 << 3, handler(fist::<16, true, true>)),
                MemorySize::Int32 => (0xDB, 1 << 3, handler(fist::<32, true, true>)),
                _ => (0xDD, 1 << 3, handler(fist::<64, true, true>)),
            }
        }
        Fxch => {
            let esc = match insn.code() {
                Code::Fxch_st0_sti_DDC8 => 0xDD,
                Code::Fxch_st0_sti_DFC8 => 0xDF,
                _ => 0xD9,
            };
            (esc, 0xC8 | u16::from(i), handler(fxch))
        }
        Fcmovb | Fcmove | Fcmovbe | Fcmovu | Fcmovnb | Fcmovne | Fcmovnbe | Fcmovnu => {
            if !has(Feature::Cmov) {
                return Some(handler(super::ctrl::ud));
            }
            // (condition code, escape byte, ModR/M base)
            let (cc, esc, base) = match m {
                Fcmovb => (2, 0xDA, 0xC0),
                Fcmove => (4, 0xDA, 0xC8),
                Fcmovbe => (6, 0xDA, 0xD0),
                Fcmovu => (10, 0xDA, 0xD8),
                Fcmovnb => (3, 0xDB, 0xC0),
                Fcmovne => (5, 0xDB, 0xC8),
                Fcmovnbe => (7, 0xDB, 0xD0),
                _ => (11, 0xDB, 0xD8),
            };
            (esc, base | u16::from(i) | cc << 8, handler(fcmov))
        }
        Ffree => (0xDD, 0xC0 | u16::from(i), handler(ffree::<false>)),
        Ffreep => (0xDF, 0xC0 | u16::from(i), handler(ffree::<true>)),
        Fincstp => (0xD9, 0xF7, handler(fstp_move::<1>)),
        Fdecstp => (0xD9, 0xF6, handler(fstp_move::<7>)),
        Fnop => (0xD9, 0xD0, handler(fnop)),
        _ => return None,
    };
    op.r0 = i;
    // FCMOVcc carry their condition code above the ModR/M byte.
    op.imm = u64::from(modrm >> 8);
    set_fop(insn, op, esc, modrm as u8, ctx);
    Some(h)
}
