//! Far control transfers: JMP/CALL far (direct, through call gates), RET
//! far and IRET in every mode (SDM Vol. 2A "CALL", "JMP", "IRET", Vol. 2B
//! "RET"; Vol. 3A 6.8 "Privilege Level Checking When Transferring Program
//! Control Between Code Segments").

use super::{Ctx, Exec, Stop};
use crate::interp::cpu::{Mode, attn};
use crate::interp::events::{log_once, vec};
use crate::interp::seg::{Descriptor, null_segment, sel_ec};
use crate::state::segment::ar;
use crate::state::{SegReg, Segment, rflags};

/// Loads CS for a far transfer in real or virtual-8086 mode.
fn real_cs(ctx: &mut Ctx, sel: u16) {
    let mut cs = *ctx.cpu.s.seg(SegReg::Cs);
    cs.load_real(sel);
    if ctx.cpu.mode == Mode::V86 {
        cs.limit = 0xFFFF;
    }
    ctx.commit_segment(SegReg::Cs, cs);
}

/// Checks a target code segment for JMP/CALL far (non-gate): SDM 6.8.1.
fn check_code_target(ctx: &mut Ctx, sel: u16, d: &Descriptor) -> Result<u8, Stop> {
    let cpl = ctx.cpu.cpl;
    let rpl = (sel & 3) as u8;
    if !d.is_code() {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    let conforming = d.attr() & ar::DC != 0;
    if conforming {
        if d.dpl() > cpl {
            return Err(ctx.cpu.gp(sel_ec(sel)));
        }
    } else if rpl > cpl || d.dpl() != cpl {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(sel))));
    }
    Ok(cpl)
}

/// Makes `d` the new CS with RPL = `cpl` and jumps to `off`.
fn enter_code(ctx: &mut Ctx, sel: u16, d: &Descriptor, cpl: u8, off: u64, bits: u32) -> Exec {
    let mut cs = d.to_segment((sel & !3) | u16::from(cpl));
    cs.attr |= ar::ACCESSED;
    let long_target = ctx.cpu.s.efer & crate::state::efer::LMA != 0 && cs.is_long();
    let off = match bits {
        16 => off & 0xFFFF,
        32 => off & 0xFFFF_FFFF,
        _ => off,
    };
    if long_target {
        if !ctx.cpu.canonical(off) {
            return Err(ctx.cpu.gp(0));
        }
    } else if off > u64::from(cs.limit) {
        return Err(ctx.cpu.gp(0));
    }
    ctx.set_accessed(sel, d)?;
    ctx.commit_segment(SegReg::Cs, cs);
    ctx.cpu.rip = off;
    ctx.cpu.attention |= attn::MODE;
    Ok(())
}

/// JMP far to `sel:off` (operand size `bits`).
pub fn far_jump(ctx: &mut Ctx, sel: u16, off: u64, bits: u32) -> Exec {
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        real_cs(ctx, sel);
        ctx.cpu.rip = off & if bits == 16 { 0xFFFF } else { 0xFFFF_FFFF };
        return Err(Stop::Jump);
    }
    if sel & 0xFFFC == 0 {
        return Err(ctx.cpu.gp(0));
    }
    let d = ctx.read_descriptor(sel, 0)?;
    if d.is_system() {
        let (gsel, goff, gate_bits) = call_gate_target(ctx, sel, &d)?;
        let gd = ctx.read_descriptor(gsel, 0)?;
        // JMP through a call gate: no privilege change; conforming code
        // with DPL ≤ CPL or non-conforming with DPL = CPL.
        let cpl = ctx.cpu.cpl;
        let conforming = gd.attr() & ar::DC != 0;
        if !gd.is_code() || (conforming && gd.dpl() > cpl) || (!conforming && gd.dpl() != cpl) {
            return Err(ctx.cpu.gp(sel_ec(gsel)));
        }
        if !gd.present() {
            return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(gsel))));
        }
        enter_code(ctx, gsel, &gd, cpl, goff, gate_bits)?;
        return Err(Stop::Jump);
    }
    let cpl = check_code_target(ctx, sel, &d)?;
    enter_code(ctx, sel, &d, cpl, off, bits)?;
    Err(Stop::Jump)
}

/// Validates a call gate `sel`/`d` and returns (target selector, offset,
/// gate size in bits). Task gates and TSS targets are not implemented.
fn call_gate_target(ctx: &mut Ctx, sel: u16, d: &Descriptor) -> Result<(u16, u64, u32), Stop> {
    let long = ctx.cpu.s.efer & crate::state::efer::LMA != 0;
    let ty = d.seg_type();
    let cpl = ctx.cpu.cpl;
    let rpl = (sel & 3) as u8;
    match ty {
        4 | 12 => {}
        1 | 3 | 5 | 9 | 11 => {
            log_once("far transfer to a TSS or task gate: task switching is not implemented");
            return Err(ctx.cpu.gp(sel_ec(sel)));
        }
        _ => return Err(ctx.cpu.gp(sel_ec(sel))),
    }
    if long && ty != 12 {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if d.dpl() < cpl || d.dpl() < rpl {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(sel))));
    }
    let gsel = (d.lo >> 16) as u16;
    if gsel & 0xFFFC == 0 {
        return Err(ctx.cpu.gp(0));
    }
    if long {
        // 16-byte gate: upper half holds offset 63:32; its type field must be 0.
        let g = ctx.read_descriptor16(sel, 0)?;
        if (g.hi >> 8) & 0x1F != 0 {
            return Err(ctx.cpu.gp(sel_ec(sel)));
        }
        let off = (g.lo & 0xFFFF) | ((g.lo >> 32) & 0xFFFF_0000) | (g.hi & 0xFFFF_FFFF) << 32;
        return Ok((gsel, off, 64));
    }
    let off = (d.lo & 0xFFFF) | ((d.lo >> 32) & 0xFFFF_0000);
    if ty == 4 {
        Ok((gsel, off & 0xFFFF, 16))
    } else {
        Ok((gsel, off, 32))
    }
}

/// CALL far to `sel:off`, pushing `ret` (operand size `bits`).
pub fn far_call(ctx: &mut Ctx, sel: u16, off: u64, bits: u32, ret: u64) -> Exec {
    let size = (bits / 8) as usize;
    let cs_sel = u64::from(ctx.cpu.s.seg(SegReg::Cs).selector);
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        let sp = ctx.cpu.regs[4];
        ctx.push(size, cs_sel)?;
        if let Err(e) = ctx.push(size, ret) {
            ctx.cpu.regs[4] = sp;
            return Err(e);
        }
        real_cs(ctx, sel);
        ctx.cpu.rip = off & if bits == 16 { 0xFFFF } else { 0xFFFF_FFFF };
        return Err(Stop::Jump);
    }
    if sel & 0xFFFC == 0 {
        return Err(ctx.cpu.gp(0));
    }
    let d = ctx.read_descriptor(sel, 0)?;
    if !d.is_system() {
        let cpl = check_code_target(ctx, sel, &d)?;
        let sp = ctx.cpu.regs[4];
        ctx.push(size, cs_sel)?;
        if let Err(e) = ctx
            .push(size, ret)
            .and_then(|_| enter_code(ctx, sel, &d, cpl, off, bits))
        {
            ctx.cpu.regs[4] = sp;
            return Err(e);
        }
        return Err(Stop::Jump);
    }
    // Call gate (SDM 6.8.4, 6.8.5).
    let (gsel, goff, gbits) = call_gate_target(ctx, sel, &d)?;
    let gd = ctx.read_descriptor(gsel, 0)?;
    let cpl = ctx.cpu.cpl;
    if !gd.is_code() || gd.dpl() > cpl {
        return Err(ctx.cpu.gp(sel_ec(gsel)));
    }
    if !gd.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(gsel))));
    }
    let conforming = gd.attr() & ar::DC != 0;
    let gsize = (gbits / 8) as usize;
    if !conforming && gd.dpl() < cpl {
        // More privileged: switch stacks through the TSS.
        let new_cpl = gd.dpl();
        let old_ss = *ctx.cpu.s.seg(SegReg::Ss);
        let old_sp = ctx.cpu.regs[4];
        let long = ctx.cpu.s.efer & crate::state::efer::LMA != 0;
        let (new_ss, new_sp) = if long {
            let rsp = ctx.read_tss(4 + 8 * u64::from(new_cpl), 8, 0)?;
            let mut ss = null_segment(u16::from(new_cpl));
            ss.attr |= u32::from(new_cpl) << ar::DPL_SHIFT;
            (ss, rsp)
        } else {
            let tss32 = ctx.cpu.s.tr.attr & 8 != 0;
            let (sp, ss) = if tss32 {
                (
                    ctx.read_tss(4 + 8 * u64::from(new_cpl), 4, 0)?,
                    ctx.read_tss(8 + 8 * u64::from(new_cpl), 2, 0)? as u16,
                )
            } else {
                (
                    ctx.read_tss(2 + 4 * u64::from(new_cpl), 2, 0)?,
                    ctx.read_tss(4 + 4 * u64::from(new_cpl), 2, 0)? as u16,
                )
            };
            let ssd = ctx.check_new_ss(ss, new_cpl, 0)?;
            (ssd.to_segment(ss), sp)
        };
        // Parameters (32/16-bit gates) are copied from the old stack.
        let nparams = if long { 0 } else { (d.lo >> 32) & 0x1F };
        let mut params = [0u64; 32];
        for (i, p) in params.iter_mut().enumerate().take(nparams as usize) {
            *p = ctx.peek(gsize, (i * gsize) as u64)?;
        }
        // Switch to the new stack and push the frame.
        let saved = (
            ctx.cpu.s.seg(SegReg::Ss).to_owned(),
            ctx.cpu.regs[4],
            ctx.cpu.cpl,
        );
        ctx.cpu.cpl = new_cpl;
        ctx.cpu.tlb.set_cpl(new_cpl);
        *ctx.cpu.s.seg_mut(SegReg::Ss) = new_ss;
        ctx.cpu.refresh_mode();
        ctx.cpu.cpl = new_cpl;
        ctx.cpu.regs[4] = new_sp;
        let r = (|| -> Exec {
            ctx.push(gsize, u64::from(old_ss.selector))?;
            ctx.push(gsize, old_sp)?;
            for i in (0..nparams as usize).rev() {
                ctx.push(gsize, params[i])?;
            }
            ctx.push(gsize, cs_sel)?;
            ctx.push(gsize, ret)?;
            enter_code(ctx, gsel, &gd, new_cpl, goff, gbits)
        })();
        if let Err(e) = r {
            *ctx.cpu.s.seg_mut(SegReg::Ss) = saved.0;
            ctx.cpu.regs[4] = saved.1;
            ctx.cpu.refresh_mode();
            return Err(e);
        }
        return Err(Stop::Jump);
    }
    let sp = ctx.cpu.regs[4];
    let r = ctx
        .push(gsize, cs_sel)
        .and_then(|_| ctx.push(gsize, ret))
        .and_then(|_| enter_code(ctx, gsel, &gd, cpl, goff, gbits));
    if let Err(e) = r {
        ctx.cpu.regs[4] = sp;
        return Err(e);
    }
    Err(Stop::Jump)
}

/// Checks a return CS for RET far / IRET (SDM "RET" protected-mode steps).
fn check_return_cs(ctx: &mut Ctx, sel: u16) -> Result<Descriptor, Stop> {
    if sel & 0xFFFC == 0 {
        return Err(ctx.cpu.gp(0));
    }
    let d = ctx.read_descriptor(sel, 0)?;
    let rpl = (sel & 3) as u8;
    if !d.is_code() || rpl < ctx.cpu.cpl {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    let conforming = d.attr() & ar::DC != 0;
    if (conforming && d.dpl() > rpl) || (!conforming && d.dpl() != rpl) {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(sel))));
    }
    Ok(d)
}

/// Loads SS:rSP for a return to an outer privilege level.
fn return_stack(ctx: &mut Ctx, ss_sel: u16, rpl: u8, long_target: bool) -> Result<Segment, Stop> {
    if long_target && ss_sel & 0xFFFC == 0 && rpl < 3 {
        let mut s = null_segment(ss_sel);
        s.attr |= u32::from(rpl) << ar::DPL_SHIFT;
        return Ok(s);
    }
    if ss_sel & 0xFFFC == 0 || (ss_sel & 3) as u8 != rpl {
        return Err(ctx.cpu.gp(sel_ec(ss_sel)));
    }
    let d = ctx.read_descriptor(ss_sel, 0)?;
    if d.is_system() || d.is_code() || d.attr() & ar::RW == 0 || d.dpl() != rpl {
        return Err(ctx.cpu.gp(sel_ec(ss_sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::SS, Some(sel_ec(ss_sel))));
    }
    ctx.set_accessed(ss_sel, &d)?;
    let mut s = d.to_segment(ss_sel);
    s.attr |= ar::ACCESSED;
    Ok(s)
}

/// RET far (operand size `bits`), releasing `imm` extra bytes.
pub fn far_return(ctx: &mut Ctx, bits: u32, imm: u64) -> Exec {
    let size = (bits / 8) as usize;
    let n = size as u64;
    let off = ctx.peek(size, 0)?;
    let sel = ctx.peek(size, n)? as u16;
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        ctx.adjust_sp(2 * n + imm);
        real_cs(ctx, sel);
        ctx.cpu.rip = off & if bits == 16 { 0xFFFF } else { 0xFFFF_FFFF };
        return Err(Stop::Jump);
    }
    let d = check_return_cs(ctx, sel)?;
    let rpl = (sel & 3) as u8;
    let cpl = ctx.cpu.cpl;
    if rpl == cpl {
        let sp = ctx.cpu.regs[4];
        ctx.adjust_sp(2 * n + imm);
        if let Err(e) = enter_code(ctx, sel, &d, cpl, off, bits) {
            ctx.cpu.regs[4] = sp;
            return Err(e);
        }
        return Err(Stop::Jump);
    }
    // Return to an outer level: SS:rSP follow the parameters.
    let new_sp = ctx.peek(size, 2 * n + imm)?;
    let ss_sel = ctx.peek(size, 3 * n + imm)? as u16;
    let long_target = ctx.cpu.s.efer & crate::state::efer::LMA != 0 && d.attr() & ar::L != 0;
    let ss = return_stack(ctx, ss_sel, rpl, long_target)?;
    enter_code(ctx, sel, &d, rpl, off, bits)?;
    ctx.commit_segment(SegReg::Ss, ss);
    let sp_mask = ctx.cpu.sp_mask;
    ctx.cpu.regs[4] = (ctx.cpu.regs[4] & !sp_mask) | (new_sp.wrapping_add(imm) & sp_mask);
    ctx.invalidate_segments_for_cpl(rpl);
    Err(Stop::Jump)
}

/// IRET/IRETD/IRETQ (SDM Vol. 2A "IRET/IRETD/IRETQ").
pub fn iret(ctx: &mut Ctx, bits: u32) -> Exec {
    let size = (bits / 8) as usize;
    let n = size as u64;
    let mode = ctx.cpu.mode;
    // IRET unblocks NMIs (SDM 7.7.1).
    let unblock_nmi = |ctx: &mut Ctx| {
        ctx.cpu.s.events.nmi_blocked = false;
        ctx.cpu.attention |= attn::EVENT;
    };
    if mode == Mode::Real || (mode == Mode::V86 && ctx.cpu.rflags & rflags::IOPL == rflags::IOPL) {
        let ip = ctx.peek(size, 0)?;
        let cs = ctx.peek(size, n)? as u16;
        let f = ctx.peek(size, 2 * n)?;
        if ip > u64::from(ctx.cpu.s.seg(SegReg::Cs).limit) && mode == Mode::Real && bits != 32 {
            return Err(ctx.cpu.gp(0));
        }
        ctx.adjust_sp(3 * n);
        real_cs(ctx, cs);
        ctx.cpu.rip = ip;
        let old = ctx.cpu.get_rflags();
        let mut keep = rflags::VM | rflags::VIF | rflags::VIP;
        if mode == Mode::V86 {
            keep |= rflags::IOPL;
        }
        if bits == 16 {
            keep |= !0xFFFF;
        }
        ctx.cpu
            .set_rflags((old & keep) | (f & !keep & 0x3F_7FD5) | rflags::FIXED1);
        unblock_nmi(ctx);
        return Err(Stop::Jump);
    }
    if mode == Mode::V86 {
        // IOPL < 3 without VME: #GP(0).
        return Err(ctx.cpu.gp(0));
    }
    if ctx.cpu.rflags & rflags::NT != 0 && !matches!(mode, Mode::Long | Mode::Compat) {
        log_once("IRET with NT=1: task return is not implemented");
        return Err(ctx.cpu.gp(0));
    }
    let rip = ctx.peek(size, 0)?;
    let cs_sel = ctx.peek(size, n)? as u16;
    let f = ctx.peek(size, 2 * n)?;
    let cpl = ctx.cpu.cpl;
    let long = matches!(mode, Mode::Long | Mode::Compat);
    if !long && f & rflags::VM != 0 && cpl == 0 && bits == 32 {
        // Return to virtual-8086 mode: pop ESP, SS, ES, DS, FS, GS.
        let esp = ctx.peek(4, 12)?;
        let ss = ctx.peek(4, 16)? as u16;
        let sels: [u16; 4] = [
            ctx.peek(4, 20)? as u16,
            ctx.peek(4, 24)? as u16,
            ctx.peek(4, 28)? as u16,
            ctx.peek(4, 32)? as u16,
        ];
        ctx.cpu.set_rflags(f | rflags::FIXED1);
        ctx.cpu.refresh_mode();
        let attr = ar::P | ar::S | ar::RW | ar::ACCESSED | (3 << ar::DPL_SHIFT);
        let mk = |s: u16| Segment::new(s, u64::from(s) << 4, 0xFFFF, attr);
        *ctx.cpu.s.seg_mut(SegReg::Cs) = mk(cs_sel);
        *ctx.cpu.s.seg_mut(SegReg::Ss) = mk(ss);
        for (sr, s) in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs]
            .into_iter()
            .zip(sels)
        {
            *ctx.cpu.s.seg_mut(sr) = mk(s);
        }
        ctx.cpu.regs[4] = esp & 0xFFFF_FFFF;
        ctx.cpu.rip = rip & 0xFFFF;
        ctx.cpu.refresh_mode();
        ctx.cpu.attention |= attn::MODE;
        unblock_nmi(ctx);
        return Err(Stop::Jump);
    }
    let d = check_return_cs(ctx, cs_sel)?;
    let rpl = (cs_sel & 3) as u8;
    let long_target = long && d.attr() & ar::L != 0;
    // IA-32e mode always pops SS:RSP in 64-bit mode; legacy modes only when
    // returning to an outer level.
    let pops_stack = rpl > cpl || mode == Mode::Long;
    let (new_sp, new_ss) = if pops_stack {
        let sp = ctx.peek(size, 3 * n)?;
        let ss_sel = ctx.peek(size, 4 * n)? as u16;
        (Some(sp), Some(return_stack(ctx, ss_sel, rpl, long_target)?))
    } else {
        (None, None)
    };
    // Flags: IOPL only at CPL 0, IF only if CPL ≤ IOPL (SDM "IRET").
    let old = ctx.cpu.get_rflags();
    let iopl = ((old & rflags::IOPL) >> 12) as u8;
    let mut writable = rflags::STATUS
        | rflags::TF
        | rflags::DF
        | rflags::NT
        | rflags::AC
        | rflags::ID
        | rflags::RF;
    if cpl == 0 {
        writable |= rflags::IOPL | rflags::VIF | rflags::VIP;
    }
    if cpl <= iopl {
        writable |= rflags::IF;
    }
    if bits == 16 {
        writable &= 0xFFFF;
    }
    let new_flags = (old & !writable) | (f & writable) | rflags::FIXED1;
    let target_bits = if long_target {
        64
    } else if d.attr() & ar::DB != 0 {
        32
    } else {
        bits.min(32)
    };
    enter_code(ctx, cs_sel, &d, rpl, rip, target_bits)?;
    ctx.cpu.set_rflags(new_flags);
    if let (Some(sp), Some(ss)) = (new_sp, new_ss) {
        ctx.commit_segment(SegReg::Ss, ss);
        let mask = ctx.cpu.sp_mask;
        ctx.cpu.regs[4] = if mask == !0 {
            sp
        } else {
            (ctx.cpu.regs[4] & !mask) | (sp & mask)
        };
    } else {
        ctx.adjust_sp(3 * n);
    }
    if rpl > cpl {
        ctx.invalidate_segments_for_cpl(rpl);
    }
    ctx.cpu.refresh_mode();
    unblock_nmi(ctx);
    Err(Stop::Jump)
}
