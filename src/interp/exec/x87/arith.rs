//! x87 arithmetic (FADD…FIDIVR in all forms), comparisons (FCOM, FUCOM,
//! FICOM, FCOMI, FUCOMI, FTST), FXAM, FCHS, FABS, FSQRT, FRNDINT, FSCALE,
//! FXTRACT, FPREM/FPREM1 and the transcendental instructions.

use crate::interp::exec::handler;
use std::cmp::Ordering;

use iced_x86::{Code, Instruction, MemorySize, Mnemonic, OpKind};

use super::sf::{self, Cls, Env, INDEFINITE, Unp, unpack};
use super::{Stack, begin, commit, done, set_fop, sti, sw, underflow};
use super::{sfx, trans};
use crate::interp::exec::{Ctx, Exec, Handler, Op, Stop, W16, W32, W64};
use crate::model::Feature;
use crate::state::fpu::F80;
use crate::state::rflags;

/// A memory source operand format.
pub trait MemSrc {
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop>;
}
pub struct M32;
pub struct M64;
pub struct I16;
pub struct I32;
pub struct I64;
impl MemSrc for M32 {
    #[inline(always)]
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop> {
        Ok(sf::from_f32(ctx.load::<W32>(op)? as u32))
    }
}
impl MemSrc for M64 {
    #[inline(always)]
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop> {
        Ok(sf::from_f64(ctx.load::<W64>(op)?))
    }
}
impl MemSrc for I16 {
    #[inline(always)]
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop> {
        Ok(sf::from_i64(i64::from(ctx.load::<W16>(op)? as u16 as i16)))
    }
}
impl MemSrc for I32 {
    #[inline(always)]
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop> {
        Ok(sf::from_i64(i64::from(ctx.load::<W32>(op)? as u32 as i32)))
    }
}
impl MemSrc for I64 {
    #[inline(always)]
    fn load(ctx: &mut Ctx, op: &Op) -> Result<Unp, Stop> {
        Ok(sf::from_i64(ctx.load::<W64>(op)? as i64))
    }
}

/// Operations by their D8 /reg number.
pub const ADD: u8 = 0;
pub const MUL: u8 = 1;
pub const SUB: u8 = 4;
pub const SUBR: u8 = 5;
pub const DIV: u8 = 6;
pub const DIVR: u8 = 7;

#[inline(always)]
fn compute<const OP: u8>(env: &mut Env, a: &Unp, b: &Unp) -> Option<F80> {
    match OP {
        ADD => sf::arith(env, sf::ADD, a, b),
        MUL => sf::arith(env, sf::MUL, a, b),
        SUB => sf::arith(env, sf::SUB, a, b),
        SUBR => sf::arith(env, sf::SUB, b, a),
        DIV => sf::arith(env, sf::DIV, a, b),
        _ => sf::arith(env, sf::DIV, b, a),
    }
}

/// ST(0) ← ST(0) OP m.
fn arith_m<S: MemSrc, const OP: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let b = S::load(ctx, op)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    if f.is_empty(0) {
        if underflow(&mut env) {
            f.set_st(0, INDEFINITE);
        }
    } else if let Some(r) = compute::<OP>(&mut env, &unpack(f.st(0)), &b) {
        f.set_st(0, r);
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// ST(0) ← ST(0) OP ST(i), or ST(i) ← ST(i) OP ST(0) (TO_STI), then pop.
fn arith_r<const OP: u8, const TO_STI: bool, const POP: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let i = op.r0;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let dst = if TO_STI { i } else { 0 };
    if f.is_empty(0) || f.is_empty(i) {
        if underflow(&mut env) {
            f.set_st(dst, INDEFINITE);
            if POP {
                f.pop();
            }
        }
    } else {
        let (a, b) = (unpack(f.st(dst)), unpack(f.st(i ^ dst)));
        if let Some(r) = compute::<OP>(&mut env, &a, &b) {
            f.set_st(dst, r);
            if POP {
                f.pop();
            }
        }
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// Condition codes C3/C2/C0 of a comparison (C1 cleared by `commit`).
#[inline]
fn set_cc(fsw: &mut u16, r: Option<Ordering>) {
    let cc = match r {
        Some(Ordering::Greater) => 0,
        Some(Ordering::Less) => sw::C0,
        Some(Ordering::Equal) => sw::C3,
        None => sw::C3 | sw::C2 | sw::C0,
    };
    *fsw = (*fsw & !(sw::C0 | sw::C2 | sw::C3)) | cc;
}

/// Finishes FCOM-style comparisons: condition codes, then POPS pops
/// unless an unmasked exception was raised.
#[inline]
fn com_finish(ctx: &mut Ctx, op: &Op, env: &Env, r: (Option<Ordering>, bool), pops: u8) {
    let f = &mut ctx.cpu.s.fpu;
    set_cc(&mut f.fsw, r.0);
    if !r.1 {
        for _ in 0..pops {
            f.pop();
        }
    }
    commit(f, env);
    done(ctx, op);
}

/// FCOM/FCOMP/FICOM/FICOMP m.
fn com_m<S: MemSrc, const POPS: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let b = S::load(ctx, op)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let r = if f.is_empty(0) {
        (None, !underflow(&mut env))
    } else {
        sfx::compare(&mut env, &unpack(f.st(0)), &b, false)
    };
    com_finish(ctx, op, &env, r, POPS);
    Ok(())
}

/// FCOM/FCOMP/FCOMPP/FUCOM/FUCOMP/FUCOMPP ST(i).
fn com_r<const POPS: u8, const QUIET: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let r = if f.is_empty(0) || f.is_empty(op.r0) {
        (None, !underflow(&mut env))
    } else {
        sfx::compare(&mut env, &unpack(f.st(0)), &unpack(f.st(op.r0)), QUIET)
    };
    com_finish(ctx, op, &env, r, POPS);
    Ok(())
}

/// FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF, PF, CF (OF, SF, AF cleared).
fn comi<const POP: bool, const QUIET: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let r = if f.is_empty(0) || f.is_empty(op.r0) {
        (None, !underflow(&mut env))
    } else {
        sfx::compare(&mut env, &unpack(f.st(0)), &unpack(f.st(op.r0)), QUIET)
    };
    {
        if POP && !r.1 {
            f.pop();
        }
        let fl = match r.0 {
            Some(Ordering::Greater) => 0,
            Some(Ordering::Less) => rflags::CF,
            Some(Ordering::Equal) => rflags::ZF,
            None => rflags::ZF | rflags::PF | rflags::CF,
        };
        ctx.cpu.lf.load_status(fl);
    }
    commit(&mut ctx.cpu.s.fpu, &env);
    done(ctx, op);
    Ok(())
}

/// FTST: compares ST(0) with 0.0.
fn ftst(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    let r = if f.is_empty(0) {
        (None, !underflow(&mut env))
    } else {
        sfx::compare(&mut env, &unpack(f.st(0)), &Unp::zero(false), false)
    };
    com_finish(ctx, op, &env, r, 0);
    Ok(())
}

/// FXAM: classifies ST(0) into C3, C2, C0 with C1 = sign.
fn fxam(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let v = f.st(0);
    let cc = if f.is_empty(0) {
        sw::C3 | sw::C0
    } else {
        match unpack(v).cls {
            Cls::Bad => 0,
            Cls::QNaN | Cls::SNaN => sw::C0,
            Cls::Inf => sw::C2 | sw::C0,
            Cls::Zero => sw::C3,
            Cls::Finite if v.sign_exp & 0x7FFF == 0 => sw::C3 | sw::C2,
            Cls::Finite => sw::C2,
        }
    };
    let c1 = if v.sign_exp & 0x8000 != 0 { sw::C1 } else { 0 };
    f.fsw = (f.fsw & !sw::CC) | cc | c1;
    done(ctx, op);
    Ok(())
}

/// FCHS (NEG) and FABS: sign operations, no exceptions but #IS.
fn fsign<const NEG: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    if f.is_empty(0) {
        if underflow(&mut env) {
            f.set_st(0, INDEFINITE);
        }
    } else {
        let mut v = f.st(0);
        if NEG {
            v.sign_exp ^= 0x8000;
        } else {
            v.sign_exp &= 0x7FFF;
        }
        f.set_st(0, v);
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// One-operand numeric instructions on ST(0).
const SQRT: u8 = 0;
const RNDINT: u8 = 1;
const F2XM1: u8 = 2;
const SIN: u8 = 3;
const COS: u8 = 4;

fn unary<const K: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    if f.is_empty(0) {
        if underflow(&mut env) {
            f.set_st(0, INDEFINITE);
        }
    } else {
        let a = unpack(f.st(0));
        let r = match K {
            SQRT => sf::sqrt(&mut env, &a),
            RNDINT => sfx::rndint(&mut env, &a),
            F2XM1 => trans::f2xm1(&mut env, &a),
            _ => {
                f.fsw &= !sw::C2;
                if !trans::in_trig_range(&a) {
                    f.fsw |= sw::C2;
                    done(ctx, op);
                    return Ok(());
                }
                if K == SIN {
                    trans::sincos::<true, false>(&mut env, &a).map(|(s, _)| s)
                } else {
                    trans::sincos::<false, true>(&mut env, &a).map(|(_, c)| c)
                }
            }
        };
        if let Some(r) = r {
            f.set_st(0, r);
        }
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// Two-operand instructions on ST(0) and ST(1).
const SCALE: u8 = 0;
const PREM: u8 = 1;
const PREM1: u8 = 2;
const YL2X: u8 = 3;
const YL2XP1: u8 = 4;
const PATAN: u8 = 5;

fn binary<const K: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    // FYL2X, FYL2XP1, FPATAN write ST(1) and pop; the others write ST(0).
    let pops = matches!(K, YL2X | YL2XP1 | PATAN);
    let dst = u8::from(pops);
    if f.is_empty(0) || f.is_empty(1) {
        if underflow(&mut env) {
            f.set_st(dst, INDEFINITE);
            if pops {
                f.pop();
            }
        }
    } else {
        let (a, b) = (unpack(f.st(0)), unpack(f.st(1)));
        let r = match K {
            SCALE => sfx::scale(&mut env, &a, &b),
            PREM | PREM1 => match sfx::prem(&mut env, &a, &b, K == PREM1) {
                Some(rem) => {
                    let q = rem.q;
                    let cc = if rem.partial {
                        sw::C2
                    } else {
                        (if q & 4 != 0 { sw::C0 } else { 0 })
                            | (if q & 2 != 0 { sw::C3 } else { 0 })
                            | (if q & 1 != 0 { sw::C1 } else { 0 })
                    };
                    env.c1 = cc & sw::C1 != 0;
                    f.fsw = (f.fsw & !(sw::C0 | sw::C2 | sw::C3)) | (cc & !sw::C1);
                    Some(rem.value)
                }
                None => None,
            },
            YL2X => trans::yl2x(&mut env, &a, &b),
            YL2XP1 => trans::yl2xp1(&mut env, &a, &b),
            _ => trans::patan(&mut env, &a, &b),
        };
        if let Some(r) = r {
            f.set_st(dst, r);
            if pops {
                f.pop();
            }
        }
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

/// Instructions that replace ST(0) and push a second result: FXTRACT
/// (exponent, significand), FPTAN (tan, 1.0), FSINCOS (sin, cos).
const XTRACT: u8 = 0;
const PTAN: u8 = 1;
const SINCOS: u8 = 2;

fn two_results<const K: u8>(ctx: &mut Ctx, op: &Op) -> Exec {
    begin(ctx)?;
    let f = &mut ctx.cpu.s.fpu;
    let mut env = Env::new(f.fcw);
    if K != XTRACT {
        f.fsw &= !sw::C2;
    }
    if f.is_empty(0) || !f.is_empty(7) {
        let masked = if f.is_empty(0) {
            underflow(&mut env)
        } else {
            super::overflow(&mut env)
        };
        if masked {
            f.set_st(0, INDEFINITE);
            f.push(INDEFINITE);
        }
    } else {
        let a = unpack(f.st(0));
        let r = match K {
            XTRACT => sfx::xtract(&mut env, &a).ok(),
            _ if !trans::in_trig_range(&a) => {
                f.fsw |= sw::C2;
                done(ctx, op);
                return Ok(());
            }
            PTAN => trans::tan(&mut env, &a).map(|t| {
                let one = if t.sign_exp & 0x7FFF == 0x7FFF && t.significand << 1 != 0 {
                    t
                } else {
                    sfx::constant(sfx::ONE, 0)
                };
                (t, one)
            }),
            _ => trans::sincos::<true, true>(&mut env, &a),
        };
        if let Some((x, y)) = r {
            f.set_st(0, x);
            f.push(y);
        }
    }
    commit(f, &env);
    done(ctx, op);
    Ok(())
}

macro_rules! by_src {
    ($f:ident, $ms:expr $(, $c:expr)*) => {
        match $ms {
            MemorySize::Float32 => handler($f::<M32 $(, $c)*>),
            MemorySize::Float64 => handler($f::<M64 $(, $c)*>),
            MemorySize::Int16 => handler($f::<I16 $(, $c)*>),
            _ => handler($f::<I32 $(, $c)*>),
        }
    };
}

macro_rules! by_op {
    ($f:ident, $op:expr, [$($pre:ty),*], [$($post:expr),*]) => {
        match $op {
            ADD => handler($f::<$($pre,)* ADD $(, $post)*>),
            MUL => handler($f::<$($pre,)* MUL $(, $post)*>),
            SUB => handler($f::<$($pre,)* SUB $(, $post)*>),
            SUBR => handler($f::<$($pre,)* SUBR $(, $post)*>),
            DIV => handler($f::<$($pre,)* DIV $(, $post)*>),
            _ => handler($f::<$($pre,)* DIVR $(, $post)*>),
        }
    };
}

/// Escape byte of a memory form by operand type (D8 m32fp, DC m64fp, DA
/// m32int, DE m16int).
fn esc_of(ms: MemorySize) -> u8 {
    match ms {
        MemorySize::Float32 => 0xD8,
        MemorySize::Float64 => 0xDC,
        MemorySize::Int32 => 0xDA,
        _ => 0xDE,
    }
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Handler> {
    use Mnemonic::*;
    let m = insn.mnemonic();
    let mem = insn.op_count() > 0 && insn.op0_kind() == OpKind::Memory;
    let ms = insn.memory_size();
    let i = sti(insn, 1).max(if insn.op_count() == 1 {
        sti(insn, 0)
    } else {
        0
    });
    let has = |f: Feature| ctx.cpu.model().has(f);
    let arith_code = match m {
        Fadd | Faddp | Fiadd => Some(ADD),
        Fmul | Fmulp | Fimul => Some(MUL),
        Fsub | Fsubp | Fisub => Some(SUB),
        Fsubr | Fsubrp | Fisubr => Some(SUBR),
        Fdiv | Fdivp | Fidiv => Some(DIV),
        Fdivr | Fdivrp | Fidivr => Some(DIVR),
        _ => None,
    };
    if let Some(code) = arith_code {
        if mem {
            set_fop(insn, op, esc_of(ms), code << 3, ctx);
            return Some(match ms {
                MemorySize::Float32 => by_op!(arith_m, code, [M32], []),
                MemorySize::Float64 => by_op!(arith_m, code, [M64], []),
                MemorySize::Int16 => by_op!(arith_m, code, [I16], []),
                _ => by_op!(arith_m, code, [I32], []),
            });
        }
        let to_sti = insn.op_count() == 2 && sti(insn, 0) != 0
            || matches!(
                insn.code(),
                Code::Fadd_sti_st0
                    | Code::Fmul_sti_st0
                    | Code::Fsub_sti_st0
                    | Code::Fsubr_sti_st0
                    | Code::Fdiv_sti_st0
                    | Code::Fdivr_sti_st0
            );
        let pop = matches!(m, Faddp | Fmulp | Fsubp | Fsubrp | Fdivp | Fdivrp);
        let i = if to_sti { sti(insn, 0) } else { sti(insn, 1) };
        op.r0 = i;
        // DC/DE forms swap the SUB/SUBR and DIV/DIVR encodings.
        let reg = if to_sti && code >= SUB {
            code ^ 1
        } else {
            code
        };
        let esc = if pop {
            0xDE
        } else if to_sti {
            0xDC
        } else {
            0xD8
        };
        set_fop(insn, op, esc, 0xC0 | reg << 3 | i, ctx);
        return Some(match (to_sti, pop) {
            (false, _) => by_op!(arith_r, code, [], [false, false]),
            (true, false) => by_op!(arith_r, code, [], [true, false]),
            (true, true) => by_op!(arith_r, code, [], [true, true]),
        });
    }
    let h: Handler = match m {
        Fcom | Fcomp | Ficom | Ficomp if mem => {
            let pops = u8::from(matches!(m, Fcomp | Ficomp));
            set_fop(insn, op, esc_of(ms), (2 + pops) << 3, ctx);
            if pops == 1 {
                by_src!(com_m, ms, 1)
            } else {
                by_src!(com_m, ms, 0)
            }
        }
        Fcom | Fcomp | Fucom | Fucomp => {
            op.r0 = i;
            let (esc, base) = match insn.code() {
                Code::Fcom_st0_sti_DCD0 => (0xDC, 0xD0),
                Code::Fcomp_st0_sti_DCD8 => (0xDC, 0xD8),
                Code::Fcomp_st0_sti_DED0 => (0xDE, 0xD0),
                Code::Fucom_st0_sti => (0xDD, 0xE0),
                Code::Fucomp_st0_sti => (0xDD, 0xE8),
                Code::Fcomp_st0_sti => (0xD8, 0xD8),
                _ => (0xD8, 0xD0),
            };
            set_fop(insn, op, esc, base | i, ctx);
            match m {
                Fcom => handler(com_r::<0, false>),
                Fcomp => handler(com_r::<1, false>),
                Fucom => handler(com_r::<0, true>),
                _ => handler(com_r::<1, true>),
            }
        }
        Fcompp => {
            op.r0 = 1;
            set_fop(insn, op, 0xDE, 0xD9, ctx);
            handler(com_r::<2, false>)
        }
        Fucompp => {
            op.r0 = 1;
            set_fop(insn, op, 0xDA, 0xE9, ctx);
            handler(com_r::<2, true>)
        }
        Fcomi | Fcomip | Fucomi | Fucomip => {
            if !has(Feature::Cmov) {
                return Some(handler(crate::interp::exec::x87::ctrl::ud));
            }
            op.r0 = i;
            let (esc, base) = match m {
                Fcomi => (0xDB, 0xF0),
                Fucomi => (0xDB, 0xE8),
                Fcomip => (0xDF, 0xF0),
                _ => (0xDF, 0xE8),
            };
            set_fop(insn, op, esc, base | i, ctx);
            match m {
                Fcomi => handler(comi::<false, false>),
                Fcomip => handler(comi::<true, false>),
                Fucomi => handler(comi::<false, true>),
                _ => handler(comi::<true, true>),
            }
        }
        _ => {
            let (modrm, h): (u8, Handler) = match m {
                Ftst => (0xE4, handler(ftst)),
                Fxam => (0xE5, handler(fxam)),
                Fchs => (0xE0, handler(fsign::<true>)),
                Fabs => (0xE1, handler(fsign::<false>)),
                Fsqrt => (0xFA, handler(unary::<SQRT>)),
                Frndint => (0xFC, handler(unary::<RNDINT>)),
                F2xm1 => (0xF0, handler(unary::<F2XM1>)),
                Fsin => (0xFE, handler(unary::<SIN>)),
                Fcos => (0xFF, handler(unary::<COS>)),
                Fscale => (0xFD, handler(binary::<SCALE>)),
                Fprem => (0xF8, handler(binary::<PREM>)),
                Fprem1 => (0xF5, handler(binary::<PREM1>)),
                Fyl2x => (0xF1, handler(binary::<YL2X>)),
                Fyl2xp1 => (0xF9, handler(binary::<YL2XP1>)),
                Fpatan => (0xF3, handler(binary::<PATAN>)),
                Fxtract => (0xF4, handler(two_results::<XTRACT>)),
                Fptan => (0xF2, handler(two_results::<PTAN>)),
                Fsincos => (0xFB, handler(two_results::<SINCOS>)),
                _ => return None,
            };
            set_fop(insn, op, 0xD9, modrm, ctx);
            h
        }
    };
    Some(h)
}
