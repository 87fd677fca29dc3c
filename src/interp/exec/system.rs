//! System instructions: flag control (CLI/STI/CLD/STD/CLC/STC/CMC), HLT,
//! CPUID, RDMSR/WRMSR, RDTSC/RDTSCP/RDPID, MOV to/from control and debug
//! registers, descriptor-table instructions, LAR/LSL/VERR/VERW, cache and
//! TLB control, XGETBV/XSETBV, SWAPGS, FSGSBASE, SYSCALL/SYSRET,
//! SYSENTER/SYSEXIT, RDRAND/RDSEED, UD0/1/2 (SDM Vol. 2; Vol. 3A Chapter 2).

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::{Ctx, Exec, Handler, Op, Stop, W16, W32, W64, Width, operand_bits};
use crate::interp::cpu::{Mode, attn};
use crate::interp::decode::{Decoded, gpr};
use crate::interp::events::vec;
use crate::interp::intercept::{self, Intercept};
use crate::interp::paging;
use crate::interp::seg::{null_segment, sel_ec};
use crate::model::Feature;
use crate::model::cpuid::supported_xcr0;
use crate::msr::{self, Initiator, MsrCtx, MsrEffect};
use crate::state::segment::ar;
use crate::state::{Activity, SegReg, Segment, cr0, cr4, dr6, dr7, efer, rflags, shadow};

fn cpl0(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.cpl != 0 {
        Err(ctx.cpu.gp(0))
    } else {
        Ok(())
    }
}

fn iopl(ctx: &Ctx) -> u8 {
    ((ctx.cpu.rflags & rflags::IOPL) >> 12) as u8
}

// ---- flags ---------------------------------------------------------------

fn cli(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.mode != Mode::Real && ctx.cpu.cpl > iopl(ctx) {
        return Err(ctx.cpu.gp(0));
    }
    ctx.cpu.rflags &= !rflags::IF;
    Ok(())
}

/// STI: interrupts are recognised only after the next instruction (SDM
/// Vol. 2B "STI": the interrupt shadow).
fn sti(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.mode != Mode::Real && ctx.cpu.cpl > iopl(ctx) {
        return Err(ctx.cpu.gp(0));
    }
    if ctx.cpu.rflags & rflags::IF == 0 {
        ctx.cpu.rflags |= rflags::IF;
        ctx.cpu.s.events.interrupt_shadow |= shadow::STI;
    }
    ctx.cpu.attention |= attn::EVENT;
    Err(Stop::Exit)
}

fn flag_op(ctx: &mut Ctx, op: &Op) -> Exec {
    match op.imm2 {
        0 => ctx.cpu.rflags &= !rflags::DF,
        1 => ctx.cpu.rflags |= rflags::DF,
        _ => {
            let f = ctx.cpu.get_rflags();
            let f = match op.imm2 {
                2 => f & !rflags::CF,
                3 => f | rflags::CF,
                _ => f ^ rflags::CF,
            };
            ctx.cpu.lf.load_status(f);
        }
    }
    Ok(())
}

/// STAC (imm2 = 1) / CLAC: set or clear EFLAGS.AC; #UD above CPL 0.
fn stac_clac(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.cpl != 0 {
        return Err(ctx.cpu.ud());
    }
    if op.imm2 == 1 {
        ctx.cpu.rflags |= rflags::AC;
    } else {
        ctx.cpu.rflags &= !rflags::AC;
    }
    Ok(())
}

fn hlt(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    if intercept::check(ctx, Intercept::Hlt) {
        return Err(Stop::Exit);
    }
    ctx.cpu.s.activity = Activity::Halted;
    ctx.cpu.attention |= attn::HALT;
    ctx.cpu.rip = ctx.next_rip(op);
    Err(Stop::Jump)
}

// ---- identification, MSRs, time ---------------------------------------------

fn cpuid(ctx: &mut Ctx, _op: &Op) -> Exec {
    let leaf = ctx.cpu.regs[0] as u32;
    let sub = ctx.cpu.regs[1] as u32;
    let r = ctx.cpu.vm.clone().cpuid_for(&ctx.cpu.s, leaf, sub);
    for (i, reg) in [0usize, 3, 1, 2].into_iter().enumerate() {
        ctx.cpu.regs[reg] = u64::from(r[i]);
    }
    Ok(())
}

fn msr_ctx(ctx: &Ctx) -> (u64, u64) {
    (ctx.cpu.clock_tsc(), ctx.cpu.now())
}

fn rdmsr(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)?;
    let idx = ctx.cpu.regs[1] as u32;
    let (tsc, now) = msr_ctx(ctx);
    let vm = ctx.cpu.vm.clone();
    let mctx = MsrCtx {
        model: vm.model(),
        clock_tsc: tsc,
        apic_now: now,
    };
    match msr::read(&ctx.cpu.s, &mctx, idx, Initiator::Guest) {
        Ok(v) => {
            ctx.cpu.regs[0] = v & 0xFFFF_FFFF;
            ctx.cpu.regs[2] = v >> 32;
            Ok(())
        }
        Err(_) => Err(ctx.cpu.gp(0)),
    }
}

fn wrmsr(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)?;
    let idx = ctx.cpu.regs[1] as u32;
    let v = (ctx.cpu.regs[2] << 32) | (ctx.cpu.regs[0] & 0xFFFF_FFFF);
    let (tsc, now) = msr_ctx(ctx);
    let vm = ctx.cpu.vm.clone();
    let mctx = MsrCtx {
        model: vm.model(),
        clock_tsc: tsc,
        apic_now: now,
    };
    // The FS/GS base MSRs live in the segment registers: sync the fast
    // caches after the write.
    match msr::write(&mut ctx.cpu.s, &mctx, idx, v, Initiator::Guest) {
        Ok(effect) => {
            match effect {
                MsrEffect::None | MsrEffect::Cpuid => {}
                MsrEffect::Paging => {
                    ctx.cpu.tlb.flush_all();
                    ctx.cpu.attention |= attn::MODE;
                }
                MsrEffect::ApicBase => {
                    ctx.cpu.timer_dirty = true;
                    ctx.cpu.attention |= attn::EVENT | attn::EXIT | attn::MODE;
                }
                MsrEffect::Apic(a) => ctx.apic_effect(a),
                MsrEffect::Timer => {
                    ctx.cpu.timer_dirty = true;
                    ctx.cpu.attention |= attn::EXIT;
                }
            }
            ctx.cpu.refresh_mode();
            Err(Stop::Exit)
        }
        Err(_) => Err(ctx.cpu.gp(0)),
    }
}

fn rdtsc(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.cr4(cr4::TSD) && ctx.cpu.cpl != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let t = msr::guest_tsc(&ctx.cpu.s, ctx.cpu.clock_tsc());
    ctx.cpu.regs[0] = t & 0xFFFF_FFFF;
    ctx.cpu.regs[2] = t >> 32;
    Ok(())
}

fn rdtscp(ctx: &mut Ctx, op: &Op) -> Exec {
    rdtsc(ctx, op)?;
    ctx.cpu.regs[1] = ctx.cpu.s.msrs.tsc_aux & 0xFFFF_FFFF;
    Ok(())
}

fn rdpid(ctx: &mut Ctx, op: &Op) -> Exec {
    let v = ctx.cpu.s.msrs.tsc_aux;
    if ctx.cpu.mode == Mode::Long {
        ctx.set_reg::<W64>(op.r0, v);
    } else {
        ctx.set_reg::<W32>(op.r0, v);
    }
    Ok(())
}

// ---- control registers ---------------------------------------------------------

/// CR4 bits the model lets software set.
pub fn cr4_valid(ctx: &Ctx) -> u64 {
    let m = ctx.cpu.model();
    let mut v = cr4::VME
        | cr4::PVI
        | cr4::TSD
        | cr4::DE
        | cr4::PSE
        | cr4::PAE
        | cr4::MCE
        | cr4::PGE
        | cr4::PCE
        | cr4::OSFXSR
        | cr4::OSXMMEXCPT;
    for (f, bit) in [
        (Feature::Umip, cr4::UMIP),
        (Feature::La57, cr4::LA57),
        (Feature::Vmx, cr4::VMXE),
        (Feature::Smx, cr4::SMXE),
        (Feature::Fsgsbase, cr4::FSGSBASE),
        (Feature::Pcid, cr4::PCIDE),
        (Feature::Xsave, cr4::OSXSAVE),
        (Feature::Smep, cr4::SMEP),
        (Feature::Smap, cr4::SMAP),
        (Feature::Pku, cr4::PKE),
        (Feature::Pks, cr4::PKS),
        (Feature::Lam, cr4::LAM_SUP),
    ] {
        if m.has(f) {
            v |= bit;
        }
    }
    v
}

fn reload_pdptes(ctx: &mut Ctx, cr3: u64) -> Exec {
    let mask = ctx.cpu.model().phys_addr_mask();
    match paging::load_pdptes(ctx.plat().mem(), cr3, mask) {
        Ok(p) => {
            ctx.cpu.pdptes = p;
            Ok(())
        }
        Err(paging::BadPdpte) => Err(ctx.cpu.gp(0)),
    }
}

fn pae_legacy(cr0v: u64, cr4v: u64, efer_v: u64) -> bool {
    cr0v & cr0::PG != 0 && cr4v & cr4::PAE != 0 && efer_v & efer::LMA == 0
}

/// MOV to CR0 (also used by LMSW and CLTS).
pub fn write_cr0(ctx: &mut Ctx, v: u64) -> Exec {
    if v >> 32 != 0 {
        return Err(ctx.cpu.gp(0));
    }
    // Reserved bits are ignored; ET is hardwired to 1.
    let defined = cr0::PE
        | cr0::MP
        | cr0::EM
        | cr0::TS
        | cr0::NE
        | cr0::WP
        | cr0::AM
        | cr0::NW
        | cr0::CD
        | cr0::PG;
    let v = (v & defined) | cr0::ET;
    if (v & cr0::PG != 0 && v & cr0::PE == 0) || (v & cr0::NW != 0 && v & cr0::CD == 0) {
        return Err(ctx.cpu.gp(0));
    }
    let old = ctx.cpu.s.cr.cr0;
    let mut efer_v = ctx.cpu.s.efer;
    let cr4v = ctx.cpu.s.cr.cr4;
    if old & cr0::PG == 0 && v & cr0::PG != 0 && efer_v & efer::LME != 0 {
        // Activating IA-32e mode (SDM 10.8.5): needs PAE, and CS.L = 0.
        if cr4v & cr4::PAE == 0 || ctx.cpu.s.seg(SegReg::Cs).is_long() {
            return Err(ctx.cpu.gp(0));
        }
        efer_v |= efer::LMA;
    }
    if old & cr0::PG != 0 && v & cr0::PG == 0 {
        if cr4v & cr4::PCIDE != 0 || ctx.cpu.mode == Mode::Long {
            return Err(ctx.cpu.gp(0));
        }
        efer_v &= !efer::LMA;
    }
    if pae_legacy(v, cr4v, efer_v) && (old ^ v) & (cr0::PG | cr0::CD | cr0::NW) != 0 {
        reload_pdptes(ctx, ctx.cpu.s.cr.cr3)?;
    }
    ctx.cpu.s.cr.cr0 = v;
    ctx.cpu.s.efer = efer_v;
    // CR0.WP is part of the TLB key (refresh_mode selects it), so a WP
    // change needs no flush; the SDM makes only PG 1 → 0 one (Vol. 3A
    // 4.10.4.1), and nestor flushes on any PG or PE change.
    if (old ^ v) & (cr0::PG | cr0::PE) != 0 {
        ctx.cpu.tlb.flush_all();
    }
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE;
    Ok(())
}

fn write_cr3(ctx: &mut Ctx, v: u64) -> Exec {
    let pcide = ctx.cpu.cr4(cr4::PCIDE);
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    let mut v = v;
    let mut noflush = false;
    if long {
        if pcide && v & (1 << 63) != 0 {
            noflush = true;
            v &= !(1 << 63);
        }
        if v & !ctx.cpu.model().phys_addr_mask() != 0 {
            return Err(ctx.cpu.gp(0));
        }
    } else {
        v &= 0xFFFF_FFFF;
    }
    if pae_legacy(ctx.cpu.s.cr.cr0, ctx.cpu.s.cr.cr4, ctx.cpu.s.efer) {
        reload_pdptes(ctx, v)?;
    }
    ctx.cpu.s.cr.cr3 = v;
    if !noflush {
        ctx.cpu.tlb.flush_nonglobal();
        ctx.cpu.stats.tlb_flushes += 1;
    }
    Ok(())
}

fn write_cr4(ctx: &mut Ctx, v: u64) -> Exec {
    let old = ctx.cpu.s.cr.cr4;
    if v & !cr4_valid(ctx) != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    if long && (v & cr4::PAE == 0 || (old ^ v) & cr4::LA57 != 0) {
        return Err(ctx.cpu.gp(0));
    }
    if old & cr4::PCIDE == 0 && v & cr4::PCIDE != 0 && (!long || ctx.cpu.s.cr.cr3 & 0xFFF != 0) {
        return Err(ctx.cpu.gp(0));
    }
    if old & cr4::VMXE != 0 && v & cr4::VMXE == 0 && ctx.cpu.s.nested.vmx.vmxon {
        return Err(ctx.cpu.gp(0));
    }
    let cr0v = ctx.cpu.s.cr.cr0;
    if pae_legacy(cr0v, v, ctx.cpu.s.efer)
        && (old ^ v) & (cr4::PAE | cr4::PGE | cr4::PSE | cr4::SMEP) != 0
    {
        reload_pdptes(ctx, ctx.cpu.s.cr.cr3)?;
    }
    ctx.cpu.s.cr.cr4 = v;
    let flush = cr4::PGE
        | cr4::PAE
        | cr4::PSE
        | cr4::PCIDE
        | cr4::SMEP
        | cr4::SMAP
        | cr4::PKE
        | cr4::PKS
        | cr4::LA57;
    if (old ^ v) & flush != 0 {
        ctx.cpu.tlb.flush_all();
    }
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE;
    Ok(())
}

fn mov_to_cr(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    let v = if ctx.cpu.mode == Mode::Long {
        ctx.cpu.regs[op.r1 as usize & 15]
    } else {
        ctx.cpu.regs[op.r1 as usize & 15] & 0xFFFF_FFFF
    };
    match op.r0 {
        0 => write_cr0(ctx, v)?,
        2 => ctx.cpu.s.cr.cr2 = v,
        3 => write_cr3(ctx, v)?,
        4 => write_cr4(ctx, v)?,
        8 => {
            if v & !0xF != 0 {
                return Err(ctx.cpu.gp(0));
            }
            ctx.cpu.s.apic.tpr = ((v & 0xF) << 4) as u32;
            ctx.cpu.attention |= attn::EVENT;
        }
        _ => return Err(ctx.cpu.ud()),
    }
    Err(Stop::Exit)
}

fn mov_from_cr(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    let v = match op.r1 {
        0 => ctx.cpu.s.cr.cr0,
        2 => ctx.cpu.s.cr.cr2,
        3 => ctx.cpu.s.cr.cr3,
        4 => ctx.cpu.s.cr.cr4,
        8 => u64::from(ctx.cpu.s.apic.tpr >> 4),
        _ => return Err(ctx.cpu.ud()),
    };
    if ctx.cpu.mode == Mode::Long {
        ctx.set_reg::<W64>(op.r0, v);
    } else {
        ctx.set_reg::<W32>(op.r0, v);
    }
    Ok(())
}

/// DR number after aliasing DR4/DR5 to DR6/DR7 (#UD when CR4.DE = 1).
fn dr_index(ctx: &mut Ctx, n: u8) -> Result<u8, Stop> {
    match n {
        4 | 5 if ctx.cpu.cr4(cr4::DE) => Err(ctx.cpu.ud()),
        4 | 5 => Ok(n + 2),
        _ => Ok(n),
    }
}

fn mov_to_dr(ctx: &mut Ctx, op: &Op) -> Exec {
    let n = dr_index(ctx, op.r0)?;
    cpl0(ctx)?;
    crate::interp::debug::general_detect(ctx)?;
    let v = ctx.cpu.regs[op.r1 as usize & 15];
    let v = if ctx.cpu.mode == Mode::Long {
        v
    } else {
        v & 0xFFFF_FFFF
    };
    match n {
        0..=3 => ctx.cpu.s.dr.dr[n as usize] = v,
        6 => {
            if v >> 32 != 0 {
                return Err(ctx.cpu.gp(0));
            }
            // DR6: bits 11:4 and 31:16 read as 1 (RTM, bit 16, is not
            // modelled: it stays 1, "no RTM #DB").
            ctx.cpu.s.dr.dr6 = (v & dr6::WRITABLE) | dr6::FIXED1;
        }
        7 => {
            if v >> 32 != 0 {
                return Err(ctx.cpu.gp(0));
            }
            ctx.cpu.s.dr.dr7 = (v & dr7::WRITABLE) | dr7::FIXED1;
        }
        _ => return Err(ctx.cpu.ud()),
    }
    ctx.cpu.attention |= attn::MODE;
    Err(Stop::Exit)
}

fn mov_from_dr(ctx: &mut Ctx, op: &Op) -> Exec {
    let n = dr_index(ctx, op.r1)?;
    cpl0(ctx)?;
    crate::interp::debug::general_detect(ctx)?;
    let v = match n {
        0..=3 => ctx.cpu.s.dr.dr[n as usize],
        6 => ctx.cpu.s.dr.dr6,
        7 => ctx.cpu.s.dr.dr7,
        _ => return Err(ctx.cpu.ud()),
    };
    if ctx.cpu.mode == Mode::Long {
        ctx.set_reg::<W64>(op.r0, v);
    } else {
        ctx.set_reg::<W32>(op.r0, v);
    }
    Ok(())
}

fn clts(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)?;
    ctx.cpu.s.cr.cr0 &= !cr0::TS;
    Ok(())
}

/// LMSW: loads PE, MP, EM, TS; cannot clear PE.
fn lmsw<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    let v = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r0)
    };
    let old = ctx.cpu.s.cr.cr0;
    let new = (old & !0xE) | (v & 0xF) | (old & cr0::PE);
    write_cr0(ctx, new)?;
    Err(Stop::Exit)
}

/// UMIP: SGDT/SIDT/SLDT/SMSW/STR at CPL > 0 are #GP (SDM 2.5, CR4.UMIP).
fn umip_check(ctx: &mut Ctx) -> Exec {
    if ctx.cpu.cr4(cr4::UMIP) && ctx.cpu.cpl > 0 {
        return Err(ctx.cpu.gp(0));
    }
    Ok(())
}

fn smsw<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    umip_check(ctx)?;
    let v = ctx.cpu.s.cr.cr0;
    if MEM {
        ctx.store::<W16>(op, v & 0xFFFF)
    } else {
        match op.osize {
            2 => ctx.set_reg::<W16>(op.r0, v),
            4 => ctx.set_reg::<W32>(op.r0, v),
            _ => ctx.set_reg::<W64>(op.r0, v),
        }
        Ok(())
    }
}

// ---- descriptor tables ---------------------------------------------------------

/// LGDT/LIDT (imm2: 0 GDT, 1 IDT). Base is 24 bits with a 16-bit operand
/// outside 64-bit mode, 64 bits in 64-bit mode.
fn lgdt(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    let ea = ctx.ea(op);
    let limit = ctx.read_seg::<W16>(op.seg, ea)? as u16;
    let next = ea.wrapping_add(2) & super::ASIZE_MASK[op.asize as usize & 3];
    let base = if ctx.cpu.mode == Mode::Long {
        let b = ctx.read_seg::<W64>(op.seg, next)?;
        // Descriptor-table bases are checked against the processor's
        // largest linear-address width, whatever CR4.LA57 says (as for
        // the base MSRs).
        if !ctx.cpu.model().is_canonical(b) {
            return Err(ctx.cpu.gp(0));
        }
        b
    } else {
        let b = ctx.read_seg::<W32>(op.seg, next)?;
        if op.osize == 2 { b & 0xFF_FFFF } else { b }
    };
    let t = crate::state::DescriptorTable { base, limit };
    if op.imm2 == 0 {
        ctx.cpu.s.gdtr = t;
    } else {
        ctx.cpu.s.idtr = t;
    }
    Ok(())
}

fn sgdt(ctx: &mut Ctx, op: &Op) -> Exec {
    umip_check(ctx)?;
    let t = if op.imm2 == 0 {
        ctx.cpu.s.gdtr
    } else {
        ctx.cpu.s.idtr
    };
    let ea = ctx.ea(op);
    let next = ea.wrapping_add(2) & super::ASIZE_MASK[op.asize as usize & 3];
    // Probe the whole operand before writing.
    let size = if ctx.cpu.mode == Mode::Long { 10 } else { 6 };
    let la = ctx.linear(op.seg, ea, size, true)?;
    ctx.probe_write(la, size)?;
    ctx.write_seg::<W16>(op.seg, ea, u64::from(t.limit))?;
    if ctx.cpu.mode == Mode::Long {
        ctx.write_seg::<W64>(op.seg, next, t.base)
    } else {
        ctx.write_seg::<W32>(op.seg, next, t.base & 0xFFFF_FFFF)
    }
}

/// LLDT r/m16.
fn lldt<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        return Err(ctx.cpu.ud());
    }
    cpl0(ctx)?;
    let sel = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r0)
    } as u16;
    if sel & 0xFFFC == 0 {
        ctx.cpu.s.ldtr = null_segment(sel);
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    let d = if long {
        ctx.read_descriptor16(sel, 0)?
    } else {
        ctx.read_descriptor(sel, 0)?
    };
    if !d.is_system() || d.seg_type() != ar::TYPE_LDT {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(sel))));
    }
    let base = if long { d.base64() } else { d.base() };
    if long && !ctx.cpu.model().is_canonical(base) {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    ctx.cpu.s.ldtr = Segment::new(sel, base, d.limit(), d.attr());
    Ok(())
}

/// LTR r/m16: loads TR and marks the TSS busy.
fn ltr<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        return Err(ctx.cpu.ud());
    }
    cpl0(ctx)?;
    let sel = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r0)
    } as u16;
    if sel & 0xFFFC == 0 || sel & 4 != 0 {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    let long = ctx.cpu.s.efer & crate::state::efer::LMA != 0;
    let d = if long {
        ctx.read_descriptor16(sel, 0)?
    } else {
        ctx.read_descriptor(sel, 0)?
    };
    let ty = d.seg_type();
    let ok = if long {
        ty == ar::TYPE_TSS32_AVAIL
    } else {
        ty == 1 || ty == ar::TYPE_TSS32_AVAIL
    };
    if !d.is_system() || !ok {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    if !d.present() {
        return Err(ctx.cpu.raise(vec::NP, Some(sel_ec(sel))));
    }
    let base = if long { d.base64() } else { d.base() };
    if long && !ctx.cpu.model().is_canonical(base) {
        return Err(ctx.cpu.gp(sel_ec(sel)));
    }
    // Set the busy bit (type bit 1) in the descriptor.
    let a = ctx.descriptor_addr(sel, 8, 0)?;
    ctx.write_sys(a.wrapping_add(5), 1, ((d.lo >> 40) & 0xFF) | 2)?;
    ctx.cpu.s.tr = Segment::new(sel, base, d.limit(), d.attr() | 2);
    Ok(())
}

/// SLDT / STR (imm2: 0 LDTR, 1 TR).
fn sldt_str<const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        return Err(ctx.cpu.ud());
    }
    umip_check(ctx)?;
    let sel = u64::from(if op.imm2 == 0 {
        ctx.cpu.s.ldtr.selector
    } else {
        ctx.cpu.s.tr.selector
    });
    if MEM {
        return ctx.store::<W16>(op, sel);
    }
    match op.osize {
        2 => ctx.set_reg::<W16>(op.r0, sel),
        4 => ctx.set_reg::<W32>(op.r0, sel),
        _ => ctx.set_reg::<W64>(op.r0, sel),
    }
    Ok(())
}

/// LAR (imm2 = 0), LSL (1), VERR (2), VERW (3): ZF reports success.
fn lar_lsl<W: Width, const MEM: bool>(ctx: &mut Ctx, op: &Op) -> Exec {
    if matches!(ctx.cpu.mode, Mode::Real | Mode::V86) {
        return Err(ctx.cpu.ud());
    }
    let sel = if MEM {
        ctx.load::<W16>(op)?
    } else {
        ctx.reg::<W16>(op.r1)
    } as u16;
    let kind = op.imm2;
    let mut ok = false;
    let mut value = 0u64;
    if sel & 0xFFFC != 0 {
        let addr = ctx.descriptor_addr(sel, 8, 0);
        if let Ok(a) = addr {
            let lo = ctx.read_sys(a, 8)?;
            let d = crate::interp::seg::Descriptor { lo, hi: 0 };
            let cpl = ctx.cpu.cpl;
            let rpl = (sel & 3) as u8;
            let conforming_code = d.is_code() && d.attr() & ar::DC != 0;
            let priv_ok = conforming_code || (d.dpl() >= cpl && d.dpl() >= rpl);
            let long = ctx.cpu.s.efer & efer::LMA != 0;
            let type_ok = if d.is_system() {
                let t = d.seg_type();
                match kind {
                    // LAR: LDT, TSS (avail/busy), call gates (legacy: also
                    // 16-bit TSS/gates, task gates).
                    0 => {
                        if long {
                            matches!(t, 2 | 9 | 11 | 12)
                        } else {
                            matches!(t, 1 | 2 | 3 | 4 | 5 | 9 | 11 | 12)
                        }
                    }
                    1 => {
                        if long {
                            matches!(t, 2 | 9 | 11)
                        } else {
                            matches!(t, 1 | 2 | 3 | 9 | 11)
                        }
                    }
                    _ => false,
                }
            } else {
                match kind {
                    2 => !d.is_code() || d.attr() & ar::RW != 0,
                    3 => !d.is_code() && d.attr() & ar::RW != 0,
                    _ => true,
                }
            };
            if type_ok && priv_ok {
                ok = true;
                value = if kind == 0 {
                    (lo >> 32) & 0x00F0_FF00
                } else {
                    u64::from(d.limit())
                };
            }
        }
    }
    let f = (ctx.cpu.get_rflags() & !rflags::ZF) | if ok { rflags::ZF } else { 0 };
    ctx.cpu.lf.load_status(f);
    if ok && kind <= 1 {
        ctx.set_reg::<W>(op.r0, value & W::MASK);
    }
    Ok(())
}

// ---- caches, TLB -------------------------------------------------------------

fn invlpg(ctx: &mut Ctx, op: &Op) -> Exec {
    cpl0(ctx)?;
    let ea = ctx.ea(op);
    let la = ctx.cpu.segs[op.seg as usize & 7].base.wrapping_add(ea) & ctx.cpu.la_mask;
    ctx.cpu.tlb.flush_page(la);
    Err(Stop::Exit)
}

/// INVPCID r, m128 (SDM Vol. 2A "INVPCID"): types 0–3.
fn invpcid(ctx: &mut Ctx, op: &Op) -> Exec {
    if ctx.cpu.mode == Mode::Real || ctx.cpu.mode == Mode::V86 {
        return Err(ctx.cpu.ud());
    }
    cpl0(ctx)?;
    let ty = ctx.cpu.regs[op.r0 as usize & 15];
    let ty = if ctx.cpu.mode == Mode::Long {
        ty
    } else {
        ty & 0xFFFF_FFFF
    };
    let ea = ctx.ea(op);
    let pcid = ctx.read_seg::<W64>(op.seg, ea)?;
    let la = ctx.read_seg::<W64>(op.seg, ea.wrapping_add(8))?;
    if ty > 3 || pcid > 0xFFF {
        return Err(ctx.cpu.gp(0));
    }
    if ty == 0 && !ctx.cpu.model().is_canonical(la) {
        return Err(ctx.cpu.gp(0));
    }
    if !ctx.cpu.cr4(cr4::PCIDE) && (ty == 0 || ty == 1) && pcid != 0 {
        return Err(ctx.cpu.gp(0));
    }
    // Flushing more than asked is always architecturally allowed.
    match ty {
        0 => ctx.cpu.tlb.flush_page(la),
        2 => ctx.cpu.tlb.flush_all(),
        _ => ctx.cpu.tlb.flush_nonglobal(),
    }
    Err(Stop::Exit)
}

fn wbinvd(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)
}

fn nop(_ctx: &mut Ctx, _op: &Op) -> Exec {
    Ok(())
}

fn ud(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

// ---- XCR0 ------------------------------------------------------------------------

fn xgetbv(ctx: &mut Ctx, _op: &Op) -> Exec {
    if !ctx.cpu.cr4(cr4::OSXSAVE) {
        return Err(ctx.cpu.ud());
    }
    let v = match ctx.cpu.regs[1] as u32 {
        0 => ctx.cpu.s.xcr0,
        1 if ctx.cpu.model().has(Feature::Xgetbv1) => ctx.cpu.s.xcr0,
        _ => return Err(ctx.cpu.gp(0)),
    };
    ctx.cpu.regs[0] = v & 0xFFFF_FFFF;
    ctx.cpu.regs[2] = v >> 32;
    Ok(())
}

/// XSETBV: XCR0 rules (SDM Vol. 1 13.3): bit 0 set, AVX requires SSE, MPX
/// bits together, only supported components.
fn xsetbv(ctx: &mut Ctx, _op: &Op) -> Exec {
    if !ctx.cpu.cr4(cr4::OSXSAVE) {
        return Err(ctx.cpu.ud());
    }
    cpl0(ctx)?;
    if ctx.cpu.regs[1] as u32 != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let v = (ctx.cpu.regs[2] << 32) | (ctx.cpu.regs[0] & 0xFFFF_FFFF);
    let supported = supported_xcr0(ctx.cpu.model());
    let bad = v & 1 == 0
        || v & !supported != 0
        || (v & 4 != 0 && v & 2 == 0)
        || ((v >> 3) & 1) != ((v >> 4) & 1);
    if bad {
        return Err(ctx.cpu.gp(0));
    }
    ctx.cpu.s.xcr0 = v;
    Err(Stop::Exit)
}

// ---- 64-bit system calls and segment bases ----------------------------------------

fn swapgs(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)?;
    let gs = ctx.cpu.s.seg(SegReg::Gs).base;
    ctx.cpu.s.seg_mut(SegReg::Gs).base = ctx.cpu.s.msrs.kernel_gs_base;
    ctx.cpu.s.msrs.kernel_gs_base = gs;
    ctx.cpu.segs[SegReg::Gs as usize] = ctx.cpu.seg_cache_for(SegReg::Gs);
    Ok(())
}

/// RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (imm2: bit 0 = GS, bit 1 = write).
fn fsgsbase<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    if !ctx.cpu.cr4(cr4::FSGSBASE) {
        return Err(ctx.cpu.ud());
    }
    let sr = if op.imm2 & 1 != 0 {
        SegReg::Gs
    } else {
        SegReg::Fs
    };
    if op.imm2 & 2 != 0 {
        let v = ctx.reg::<W>(op.r0);
        if !ctx.cpu.model().is_canonical(v) {
            return Err(ctx.cpu.gp(0));
        }
        ctx.cpu.s.seg_mut(sr).base = v;
        ctx.cpu.segs[sr as usize] = ctx.cpu.seg_cache_for(sr);
    } else {
        let v = ctx.cpu.s.seg(sr).base;
        ctx.set_reg::<W>(op.r0, v & W::MASK);
    }
    Ok(())
}

fn flat(sel: u16, attr: u32) -> Segment {
    Segment::new(sel, 0, 0xFFFF_FFFF, attr)
}

/// SYSCALL (SDM Vol. 2B): IA-32e mode only on Intel.
fn syscall(ctx: &mut Ctx, op: &Op) -> Exec {
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    if ctx.cpu.s.efer & efer::SCE == 0 || !long {
        return Err(ctx.cpu.ud());
    }
    let star = ctx.cpu.s.msrs.star;
    let sel = ((star >> 32) & 0xFFFC) as u16;
    let next = ctx.next_rip(op);
    ctx.cpu.regs[1] = next;
    ctx.cpu.regs[11] = ctx.cpu.get_rflags() & !rflags::RF;
    let target = if ctx.cpu.mode == Mode::Long {
        ctx.cpu.s.msrs.lstar
    } else {
        ctx.cpu.s.msrs.cstar
    };
    let code = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G;
    let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G;
    *ctx.cpu.s.seg_mut(SegReg::Cs) = flat(sel, code);
    *ctx.cpu.s.seg_mut(SegReg::Ss) = flat(sel.wrapping_add(8), data);
    let fmask = ctx.cpu.s.msrs.fmask;
    let f = ctx.cpu.get_rflags() & !fmask & !rflags::RF;
    ctx.cpu.set_rflags(f);
    ctx.cpu.rip = target;
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE;
    crate::interp::debug::tf_at_end(ctx);
    Err(Stop::Jump)
}

/// SYSRET (imm2 = 1 for the REX.W 64-bit form).
fn sysret(ctx: &mut Ctx, op: &Op) -> Exec {
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    if ctx.cpu.s.efer & efer::SCE == 0 {
        return Err(ctx.cpu.ud());
    }
    if !long || ctx.cpu.cpl != 0 {
        return Err(ctx.cpu.gp(0));
    }
    let star = ctx.cpu.s.msrs.star;
    let base = ((star >> 48) & 0xFFFF) as u16;
    let to64 = op.imm2 == 1;
    let rip = if to64 {
        ctx.cpu.regs[1]
    } else {
        ctx.cpu.regs[1] & 0xFFFF_FFFF
    };
    if to64 && !ctx.cpu.canonical(rip) {
        return Err(ctx.cpu.gp(0));
    }
    let dpl3 = 3 << ar::DPL_SHIFT;
    let (cs_sel, cs_attr) = if to64 {
        (
            base.wrapping_add(16) | 3,
            ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G | dpl3,
        )
    } else {
        (
            base | 3,
            ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::DB | ar::G | dpl3,
        )
    };
    let f = (ctx.cpu.regs[11] & 0x3C_7FD7) | rflags::FIXED1;
    ctx.cpu.set_rflags(f);
    *ctx.cpu.s.seg_mut(SegReg::Cs) = flat(cs_sel, cs_attr);
    // SS selector from STAR; the cached attributes are not reloaded from
    // the GDT (a flat writable data segment at DPL 3).
    let ss = ctx.cpu.s.seg_mut(SegReg::Ss);
    ss.selector = base.wrapping_add(8) | 3;
    ss.attr = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G | dpl3;
    ss.base = 0;
    ss.limit = 0xFFFF_FFFF;
    ctx.cpu.rip = rip;
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE | attn::EVENT;
    crate::interp::debug::tf_at_end(ctx);
    Err(Stop::Jump)
}

fn sysenter(ctx: &mut Ctx, _op: &Op) -> Exec {
    if ctx.cpu.mode == Mode::Real {
        return Err(ctx.cpu.gp(0));
    }
    let cs = (ctx.cpu.s.msrs.sysenter_cs & 0xFFFC) as u16;
    if cs == 0 {
        return Err(ctx.cpu.gp(0));
    }
    let long = ctx.cpu.s.efer & efer::LMA != 0;
    let code = ar::P
        | ar::S
        | ar::CODE
        | ar::RW
        | ar::ACCESSED
        | ar::G
        | if long { ar::L } else { ar::DB };
    let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G;
    let f = ctx.cpu.get_rflags() & !(rflags::VM | rflags::IF | rflags::RF);
    ctx.cpu.set_rflags(f);
    *ctx.cpu.s.seg_mut(SegReg::Cs) = flat(cs, code);
    *ctx.cpu.s.seg_mut(SegReg::Ss) = flat(cs.wrapping_add(8), data);
    let (eip, esp) = (ctx.cpu.s.msrs.sysenter_eip, ctx.cpu.s.msrs.sysenter_esp);
    ctx.cpu.rip = if long { eip } else { eip & 0xFFFF_FFFF };
    ctx.cpu.regs[4] = if long { esp } else { esp & 0xFFFF_FFFF };
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE;
    Err(Stop::Jump)
}

/// SYSEXIT (imm2 = 1 for the 64-bit form).
fn sysexit(ctx: &mut Ctx, op: &Op) -> Exec {
    let cs = (ctx.cpu.s.msrs.sysenter_cs & 0xFFFC) as u16;
    if ctx.cpu.mode == Mode::Real || ctx.cpu.cpl != 0 || cs == 0 {
        return Err(ctx.cpu.gp(0));
    }
    let to64 = op.imm2 == 1;
    let dpl3 = 3 << ar::DPL_SHIFT;
    let (cs_sel, ss_sel, code) = if to64 {
        (
            cs.wrapping_add(32) | 3,
            cs.wrapping_add(40) | 3,
            ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G | dpl3,
        )
    } else {
        (
            cs.wrapping_add(16) | 3,
            cs.wrapping_add(24) | 3,
            ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::DB | ar::G | dpl3,
        )
    };
    let rip = if to64 {
        ctx.cpu.regs[2]
    } else {
        ctx.cpu.regs[2] & 0xFFFF_FFFF
    };
    let rsp = if to64 {
        ctx.cpu.regs[1]
    } else {
        ctx.cpu.regs[1] & 0xFFFF_FFFF
    };
    if to64
        && (!ctx.cpu.model().is_canonical_for(rip, false)
            || !ctx.cpu.model().is_canonical_for(rsp, false))
    {
        return Err(ctx.cpu.gp(0));
    }
    *ctx.cpu.s.seg_mut(SegReg::Cs) = flat(cs_sel, code);
    *ctx.cpu.s.seg_mut(SegReg::Ss) = flat(
        ss_sel,
        ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G | dpl3,
    );
    ctx.cpu.rip = rip;
    ctx.cpu.regs[4] = rsp;
    ctx.cpu.refresh_mode();
    ctx.cpu.attention |= attn::MODE | attn::EVENT;
    Err(Stop::Jump)
}

/// RDRAND/RDSEED: a deterministic generator (xorshift, fixed seed per VM
/// run) so that runs replay exactly; CF = 1 (success).
fn rdrand<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let mut x = ctx.cpu.rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ctx.cpu.rng_state = x;
    ctx.set_reg::<W>(op.r0, x & W::MASK);
    ctx.cpu.lf.load_status(rflags::CF);
    Ok(())
}

/// MONITOR/MWAIT (CPL 0): MWAIT is treated as a hint that returns at once
/// (allowed: MWAIT may exit spuriously, SDM Vol. 2B "MWAIT").
fn monitor_mwait(ctx: &mut Ctx, _op: &Op) -> Exec {
    cpl0(ctx)
}

pub fn decode(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Option<Decoded> {
    use Mnemonic::*;
    let model = ctx.cpu.model();
    let has = |f| model.has(f);
    let k0 = insn.op0_kind();
    let mem0 = k0 == OpKind::Memory;
    let bits = operand_bits(insn, 0);
    op.osize = (bits / 8) as u8;
    let (h, end): (Handler, bool) = match insn.mnemonic() {
        Cli => (handler(cli), true),
        Sti => (handler(sti), true),
        Cld | Std | Clc | Stc | Cmc => {
            op.imm2 = match insn.mnemonic() {
                Cld => 0,
                Std => 1,
                Clc => 2,
                Stc => 3,
                _ => 4,
            };
            (handler(flag_op), false)
        }
        Hlt => (handler(hlt), true),
        Stac | Clac => {
            op.imm2 = u16::from(insn.mnemonic() == Stac);
            (
                if has(Feature::Smap) {
                    handler(stac_clac)
                } else {
                    handler(ud)
                },
                false,
            )
        }
        Cpuid => (handler(cpuid), false),
        Rdmsr => (handler(rdmsr), false),
        Wrmsr => (handler(wrmsr), true),
        Rdtsc => (handler(rdtsc), false),
        Rdtscp => (
            if has(Feature::Rdtscp) {
                handler(rdtscp)
            } else {
                handler(ud)
            },
            false,
        ),
        Rdpid => (
            if has(Feature::Rdpid) {
                handler(rdpid)
            } else {
                handler(ud)
            },
            false,
        ),
        Mov => {
            let (r0, r1) = (insn.op0_register(), insn.op1_register());
            if r0.is_cr() {
                op.r0 = (r0 as u32 - Register::CR0 as u32) as u8;
                op.r1 = gpr(r1)?;
                (handler(mov_to_cr), true)
            } else if r1.is_cr() {
                op.r1 = (r1 as u32 - Register::CR0 as u32) as u8;
                op.r0 = gpr(r0)?;
                (handler(mov_from_cr), false)
            } else if r0.is_dr() {
                op.r0 = (r0 as u32 - Register::DR0 as u32) as u8;
                op.r1 = gpr(r1)?;
                (handler(mov_to_dr), true)
            } else if r1.is_dr() {
                op.r1 = (r1 as u32 - Register::DR0 as u32) as u8;
                op.r0 = gpr(r0)?;
                (handler(mov_from_dr), false)
            } else {
                return None;
            }
        }
        Clts => (handler(clts), true),
        Lmsw => (
            if mem0 {
                handler(lmsw::<true>)
            } else {
                handler(lmsw::<false>)
            },
            true,
        ),
        Smsw => (
            if mem0 {
                handler(smsw::<true>)
            } else {
                handler(smsw::<false>)
            },
            false,
        ),
        Lgdt | Lidt => {
            op.imm2 = u16::from(insn.mnemonic() == Lidt);
            op.osize = if ctx.cpu.code_bits == 64 {
                8
            } else if insn.memory_size() == iced_x86::MemorySize::Fword6 && operand_size_16(insn) {
                2
            } else {
                4
            };
            (handler(lgdt), false)
        }
        Sgdt | Sidt => {
            op.imm2 = u16::from(insn.mnemonic() == Sidt);
            (handler(sgdt), false)
        }
        Lldt => (
            if mem0 {
                handler(lldt::<true>)
            } else {
                handler(lldt::<false>)
            },
            false,
        ),
        Ltr => (
            if mem0 {
                handler(ltr::<true>)
            } else {
                handler(ltr::<false>)
            },
            false,
        ),
        Sldt | Str => {
            op.imm2 = u16::from(insn.mnemonic() == Str);
            (
                if mem0 {
                    handler(sldt_str::<true>)
                } else {
                    handler(sldt_str::<false>)
                },
                false,
            )
        }
        Lar | Lsl => {
            op.imm2 = u16::from(insn.mnemonic() == Lsl);
            let mem = insn.op1_kind() == OpKind::Memory;
            let h = match (bits, mem) {
                (16, false) => handler(lar_lsl::<W16, false>),
                (16, true) => handler(lar_lsl::<W16, true>),
                (32, false) => handler(lar_lsl::<W32, false>),
                (32, true) => handler(lar_lsl::<W32, true>),
                (_, false) => handler(lar_lsl::<W64, false>),
                (_, true) => handler(lar_lsl::<W64, true>),
            };
            (h, false)
        }
        Verr | Verw => {
            op.imm2 = if insn.mnemonic() == Verr { 2 } else { 3 };
            op.r1 = op.r0;
            (
                if mem0 {
                    handler(lar_lsl::<W16, true>)
                } else {
                    handler(lar_lsl::<W16, false>)
                },
                false,
            )
        }
        Invlpg => (handler(invlpg), true),
        Invpcid => (
            if has(Feature::Invpcid) {
                handler(invpcid)
            } else {
                handler(ud)
            },
            true,
        ),
        Wbinvd | Invd | Wbnoinvd => (handler(wbinvd), false),
        Clflush => (handler(nop), false),
        Clflushopt => (
            if has(Feature::Clflushopt) {
                handler(nop)
            } else {
                handler(ud)
            },
            false,
        ),
        Clwb => (
            if has(Feature::Clwb) {
                handler(nop)
            } else {
                handler(ud)
            },
            false,
        ),
        Xgetbv => (
            if has(Feature::Xsave) {
                handler(xgetbv)
            } else {
                handler(ud)
            },
            false,
        ),
        Xsetbv => (
            if has(Feature::Xsave) {
                handler(xsetbv)
            } else {
                handler(ud)
            },
            true,
        ),
        Swapgs => (
            if ctx.cpu.code_bits == 64 {
                handler(swapgs)
            } else {
                handler(ud)
            },
            false,
        ),
        Rdfsbase | Rdgsbase | Wrfsbase | Wrgsbase => {
            if ctx.cpu.code_bits != 64 || !has(Feature::Fsgsbase) {
                (handler(ud), true)
            } else {
                op.imm2 = match insn.mnemonic() {
                    Rdfsbase => 0,
                    Rdgsbase => 1,
                    Wrfsbase => 2,
                    _ => 3,
                };
                (
                    if bits == 64 {
                        handler(fsgsbase::<W64>)
                    } else {
                        handler(fsgsbase::<W32>)
                    },
                    false,
                )
            }
        }
        Syscall => (handler(syscall), true),
        Sysret | Sysretq => {
            op.imm2 =
                u16::from(insn.mnemonic() == Sysretq || insn.code() == iced_x86::Code::Sysretq);
            (handler(sysret), true)
        }
        Sysenter => (handler(sysenter), true),
        Sysexit | Sysexitq => {
            op.imm2 = u16::from(insn.code() == iced_x86::Code::Sysexitq);
            (handler(sysexit), true)
        }
        Rdrand | Rdseed => {
            let f = if insn.mnemonic() == Rdrand {
                Feature::Rdrand
            } else {
                Feature::Rdseed
            };
            if !has(f) {
                (handler(ud), true)
            } else {
                (crate::by_width!(bits, rdrand), false)
            }
        }
        Monitor | Mwait => (
            if has(Feature::Monitor) {
                handler(monitor_mwait)
            } else {
                handler(ud)
            },
            false,
        ),
        Ud0 | Ud1 | Ud2 => (handler(ud), true),
        _ => return None,
    };
    if end {
        Decoded::end(h)
    } else {
        Decoded::next(h)
    }
}

fn operand_size_16(insn: &Instruction) -> bool {
    // LGDT/LIDT with a 16-bit operand size load a 24-bit base; iced reports
    // the operand size through the code name.
    matches!(
        insn.code(),
        iced_x86::Code::Lgdt_m1632_16 | iced_x86::Code::Lidt_m1632_16
    )
}
