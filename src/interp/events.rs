//! Exception and interrupt delivery (SDM Vol. 3A Chapter 7 "Interrupt and
//! Exception Handling"; real mode: 20.1.4; IA-32e mode: 7.14).
//!
//! [`Ctx::deliver`] delivers one event through the IVT/IDT in the current
//! mode. A fault while delivering becomes a double fault per SDM Table 7-5,
//! and a fault while delivering a double fault shuts the processor down.

use super::cpu::{Fault, Mode, attn};
use super::debug;
use super::exec::{Ctx, Exec, Stop};
use super::seg::{Descriptor, sel_ec};
use crate::state::segment::ar;
use crate::state::{Activity, SegReg, Segment, dr6, dr7, rflags};

/// Exception vectors (SDM Table 7-1).
pub mod vec {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
    pub const VE: u8 = 20;
    pub const CP: u8 = 21;
}

/// What kind of event is being delivered (affects privilege checks on the
/// gate, the EXT bit, and the pushed return address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A fault or trap raised by the processor.
    Exception,
    /// An external interrupt (from the APIC or PIC).
    External,
    /// NMI.
    Nmi,
    /// INT n: gate DPL checked against CPL.
    SoftwareInt,
    /// INT3 / INTO: like INT n for the DPL check.
    SoftwareException,
    /// INT1 (ICEBP): a privileged software exception (no DPL check).
    PrivSoftwareException,
}

/// Result of trying to deliver an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Done,
    /// Triple fault: the processor entered shutdown.
    Shutdown,
}

/// Exception classes for double-fault detection (SDM Table 7-4).
fn class(v: u8) -> u8 {
    match v {
        vec::DE | vec::TS | vec::NP | vec::SS | vec::GP => 1, // contributory
        vec::PF | vec::VE => 2,                               // page fault
        vec::DF => 3,
        _ => 0, // benign
    }
}

/// Fault-class exceptions: the saved RFLAGS has RF set so that the
/// faulting instruction, when restarted, does not re-trigger an
/// instruction breakpoint (SDM Vol. 3A 18.3.1.1). Traps (#BP, #OF, #DB
/// traps) and aborts are not in this set.
pub fn is_fault(v: u8) -> bool {
    matches!(
        v,
        vec::DE
            | vec::BR
            | vec::UD
            | vec::NM
            | vec::TS
            | vec::NP
            | vec::SS
            | vec::GP
            | vec::PF
            | vec::MF
            | vec::AC
            | vec::XM
            | vec::VE
            | vec::CP
    )
}

/// Whether exception `vector` pushes an error code (SDM Table 7-1).
pub fn has_error_code(v: u8) -> bool {
    matches!(
        v,
        vec::DF | vec::TS | vec::NP | vec::SS | vec::GP | vec::PF | vec::AC | vec::CP
    )
}

impl Ctx {
    /// Delivers the fault recorded in `cpu.fault`, handling #DF and triple
    /// fault. RIP is the faulting instruction's (or the trap's return point).
    pub fn deliver_fault(&mut self) -> Delivery {
        let mut f = self.cpu.fault;
        let mut first: Option<u8> = None;
        loop {
            self.cpu.stats.exceptions += 1;
            if f.vector == vec::PF {
                self.cpu.s.cr.cr2 = f.cr2;
            }
            if f.vector == vec::DB {
                self.cpu.s.dr.dr6 = (self.cpu.s.dr.dr6 & !0xF) | f.dr6;
            }
            let kind = EventKind::Exception;
            // A general-detect #DB is a fault too; an instruction-breakpoint
            // #DB pushes RF as it is (SDM Vol. 3B 18.3.1.1).
            self.cpu.push_rf = is_fault(f.vector) || (f.vector == vec::DB && f.dr6 & dr6::BD != 0);
            let r = self.deliver(f.vector, f.error_code, kind, self.cpu.rip);
            self.cpu.push_rf = false;
            match r {
                Ok(()) => return Delivery::Done,
                Err(Stop::Fault) => {
                    let next = self.cpu.fault;
                    let prev = first.unwrap_or(f.vector);
                    // SDM Table 7-5: benign + anything → deliver the second
                    // serially; contributory + contributory, page fault +
                    // (contributory | page fault) → #DF; fault during #DF →
                    // shutdown.
                    if class(prev) == 3 || f.vector == vec::DF {
                        return self.shutdown();
                    }
                    let (a, b) = (class(f.vector), class(next.vector));
                    if (a == 1 && b == 1) || (a == 2 && (b == 1 || b == 2)) {
                        first = Some(vec::DF);
                        f = Fault {
                            vector: vec::DF,
                            error_code: Some(0),
                            cr2: 0,
                            dr6: 0,
                        };
                    } else {
                        first = Some(next.vector);
                        f = next;
                    }
                }
                Err(_) => return Delivery::Done,
            }
        }
    }

    /// The RFLAGS image an event delivery pushes.
    fn pushed_rflags(&self) -> u64 {
        let f = self.cpu.get_rflags();
        if self.cpu.push_rf { f | rflags::RF } else { f }
    }

    /// Enters the shutdown state (triple fault).
    pub fn shutdown(&mut self) -> Delivery {
        self.cpu.s.activity = Activity::Shutdown;
        self.cpu.attention |= attn::HALT;
        Delivery::Shutdown
    }

    /// Delivers vector `v` through the IVT/IDT. `ret_rip` is the return
    /// address pushed (the faulting instruction for faults, the next one
    /// for traps and software interrupts). On failure the new fault is in
    /// `cpu.fault` and state is as before.
    pub fn deliver(&mut self, v: u8, ec: Option<u32>, kind: EventKind, ret_rip: u64) -> Exec {
        let ext: u32 = match kind {
            EventKind::Exception | EventKind::External | EventKind::Nmi => 1,
            _ => 0,
        };
        let r = match self.cpu.mode {
            Mode::Real => self.deliver_real(v, ret_rip),
            Mode::Long | Mode::Compat => self.deliver_long(v, ec, kind, ret_rip, ext),
            Mode::Protected | Mode::V86 => self.deliver_protected(v, ec, kind, ret_rip, ext),
        };
        if r.is_ok() {
            if kind == EventKind::Nmi {
                self.cpu.s.events.nmi_blocked = true;
            }
            self.cpu.dbg.delivered |= debug::DELIVERED_EVENT;
            if v == vec::DB
                && matches!(
                    kind,
                    EventKind::Exception | EventKind::PrivSoftwareException
                )
            {
                // Entering the #DB handler clears DR7.GD (SDM Vol. 3B
                // 18.2.4) and reports every pending debug condition.
                self.cpu.dbg.delivered |= debug::DELIVERED_DB;
                self.cpu.s.dr.dr7 &= !dr7::GD;
                self.cpu.s.events.pending_dbg = 0;
            }
            self.cpu.s.events.interrupt_shadow = 0;
            self.cpu.attention |= attn::MODE | attn::EVENT;
        }
        r
    }

    /// Real mode: IVT entry of 4 bytes at IDTR.base + 4v (SDM 20.1.4).
    fn deliver_real(&mut self, v: u8, ret_rip: u64) -> Exec {
        let idtr = self.cpu.s.idtr;
        let off = u64::from(v) * 4;
        if off + 3 > u64::from(idtr.limit) {
            return Err(self.cpu.gp(0));
        }
        let ent = self.read_sys(idtr.base.wrapping_add(off), 4)?;
        let flags = self.cpu.get_rflags() as u16;
        let cs = self.cpu.s.seg(SegReg::Cs).selector;
        self.push16_all(&[u64::from(flags), u64::from(cs), ret_rip & 0xFFFF])?;
        let new_cs = (ent >> 16) as u16;
        let mut cs_seg = *self.cpu.s.seg(SegReg::Cs);
        cs_seg.load_real(new_cs);
        self.commit_segment(SegReg::Cs, cs_seg);
        self.cpu.rip = ent & 0xFFFF;
        self.cpu.rflags &= !(rflags::IF | rflags::TF | rflags::AC | rflags::RF);
        Ok(())
    }

    /// Pushes 16-bit values on the SS:SP stack as one unit (all or nothing).
    fn push16_all(&mut self, vals: &[u64]) -> Exec {
        let ss = *self.cpu.s.seg(SegReg::Ss);
        let big = ss.is_big() && self.cpu.mode != Mode::Real;
        let mask: u64 = if big { 0xFFFF_FFFF } else { 0xFFFF };
        let mut sp = self.cpu.regs[4];
        let mut addrs = [0u64; 8];
        for (i, _) in vals.iter().enumerate() {
            sp = sp.wrapping_sub(2) & mask;
            addrs[i] = self.linear(SegReg::Ss as u8, sp, 2, true)?;
            self.probe_write(addrs[i], 2)?;
        }
        for (i, &val) in vals.iter().enumerate() {
            self.write_la(addrs[i], 2, val)?;
        }
        self.cpu.regs[4] = (self.cpu.regs[4] & !mask) | sp;
        Ok(())
    }

    /// Reads IDT gate `v` (8 bytes, or 16 in IA-32e mode) with the limit check.
    fn read_gate(&mut self, v: u8, long: bool, ext: u32) -> Result<Descriptor, Stop> {
        let idtr = self.cpu.s.idtr;
        let size: u64 = if long { 16 } else { 8 };
        let off = u64::from(v) * size;
        let ec = u32::from(v) * 8 + 2 + ext;
        if off + size - 1 > u64::from(idtr.limit) {
            return Err(self.cpu.gp(ec));
        }
        let lo = self.read_sys(idtr.base.wrapping_add(off), 8)?;
        let hi = if long {
            self.read_sys(idtr.base.wrapping_add(off + 8), 8)?
        } else {
            0
        };
        Ok(Descriptor { lo, hi })
    }

    /// Checks the gate and its target code segment (common to 32-bit
    /// protected and IA-32e delivery): returns (target CS descriptor).
    fn check_gate(
        &mut self,
        v: u8,
        gate: &Descriptor,
        kind: EventKind,
        ext: u32,
        long: bool,
    ) -> Result<(u16, Descriptor), Stop> {
        let idt_ec = u32::from(v) * 8 + 2 + ext;
        let ty = gate.seg_type();
        let valid = if long {
            ty == 14 || ty == 15
        } else {
            matches!(ty, 5 | 6 | 7 | 14 | 15)
        };
        if gate.attr() & ar::S != 0 || !valid {
            return Err(self.cpu.gp(idt_ec));
        }
        // Software interrupts check the gate DPL against CPL (SDM 7.12.1.1).
        if matches!(kind, EventKind::SoftwareInt | EventKind::SoftwareException)
            && gate.dpl() < self.cpu.cpl
        {
            return Err(self.cpu.gp(idt_ec));
        }
        if !gate.present() {
            return Err(self.cpu.raise(vec::NP, Some(idt_ec)));
        }
        if ty == 5 {
            log_once("task gate in the IDT: task switching is not implemented");
            return Err(self.cpu.gp(idt_ec));
        }
        let sel = (gate.lo >> 16) as u16;
        if sel & 0xFFFC == 0 {
            return Err(self.cpu.gp(ext));
        }
        let d = self.read_descriptor(sel, ext)?;
        if !d.is_code() || d.dpl() > self.cpu.cpl {
            return Err(self.cpu.gp(sel_ec(sel) | ext));
        }
        if long && (d.attr() & ar::L == 0 || d.attr() & ar::DB != 0) {
            return Err(self.cpu.gp(sel_ec(sel) | ext));
        }
        if !d.present() {
            return Err(self.cpu.raise(vec::NP, Some(sel_ec(sel) | ext)));
        }
        Ok((sel, d))
    }

    /// IA-32e mode delivery through a 16-byte gate (SDM 7.14).
    fn deliver_long(
        &mut self,
        v: u8,
        ec: Option<u32>,
        kind: EventKind,
        ret_rip: u64,
        ext: u32,
    ) -> Exec {
        let gate = self.read_gate(v, true, ext)?;
        let (sel, d) = self.check_gate(v, &gate, kind, ext, true)?;
        let target = (gate.lo & 0xFFFF) | ((gate.lo >> 32) & 0xFFFF_0000) | (gate.hi << 32);
        let ist = (gate.lo >> 32) & 7;
        let cpl = self.cpu.cpl;
        let conforming = d.attr() & ar::DC != 0;
        let new_cpl = if conforming { cpl } else { d.dpl() };
        let old_ss = *self.cpu.s.seg(SegReg::Ss);
        let old_rsp = self.cpu.regs[4];
        let mut rsp = old_rsp;
        let mut new_ss: Option<Segment> = None;
        if new_cpl < cpl || ist != 0 {
            let off = if ist != 0 {
                0x24 + 8 * (ist - 1)
            } else {
                4 + 8 * u64::from(new_cpl)
            };
            rsp = self.read_tss(off, 8, ext)?;
            if new_cpl < cpl {
                // SS becomes a null selector with RPL = new CPL (SDM 7.14.2).
                let mut ss = super::seg::null_segment(u16::from(new_cpl));
                ss.attr |= u32::from(new_cpl) << ar::DPL_SHIFT;
                new_ss = Some(ss);
            }
        }
        if !self.cpu.canonical(rsp) {
            return Err(self.cpu.raise(vec::SS, Some(ext)));
        }
        // The stack is aligned to 16 bytes before the frame is pushed.
        rsp &= !0xF;
        let flags = self.pushed_rflags();
        let cs = self.cpu.s.seg(SegReg::Cs).selector;
        let mut frame = [
            u64::from(old_ss.selector),
            old_rsp,
            flags,
            u64::from(cs),
            ret_rip,
            0,
        ];
        let n = if let Some(e) = ec {
            frame[5] = u64::from(e);
            6
        } else {
            5
        };
        // Write the frame with the new privilege (supervisor accesses).
        let saved_cpl = self.cpu.cpl;
        self.cpu.cpl = new_cpl;
        self.cpu.tlb.set_cpl(new_cpl);
        let mut ok = Ok(());
        let mut sp = rsp;
        for &val in frame[..n].iter() {
            sp = sp.wrapping_sub(8);
            if let Err(e) = self.write_stack_la(sp, 8, val) {
                ok = Err(e);
                break;
            }
        }
        if let Err(e) = ok {
            self.cpu.cpl = saved_cpl;
            self.cpu.tlb.set_cpl(saved_cpl);
            // Faults on the new stack are #SS (page faults stay #PF).
            return Err(e);
        }
        if let Some(ss) = new_ss {
            *self.cpu.s.seg_mut(SegReg::Ss) = ss;
        } else if new_cpl < cpl {
            *self.cpu.s.seg_mut(SegReg::Ss) = old_ss;
        }
        self.set_accessed(sel, &d)?;
        let mut cs_seg = d.to_segment((sel & !3) | u16::from(new_cpl));
        cs_seg.attr |= ar::ACCESSED;
        self.cpu.regs[4] = sp;
        *self.cpu.s.seg_mut(SegReg::Cs) = cs_seg;
        if let Some(ss) = new_ss {
            *self.cpu.s.seg_mut(SegReg::Ss) = ss;
        }
        self.cpu.rip = target;
        let mut f = self.cpu.rflags & !(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
        if gate.seg_type() == 14 {
            f &= !rflags::IF;
        }
        self.cpu.rflags = f;
        self.cpu.refresh_mode();
        Ok(())
    }

    /// Writes to the stack at linear `la` with the current privilege; a
    /// segment/canonical problem is #SS.
    fn write_stack_la(&mut self, la: u64, size: usize, v: u64) -> Exec {
        self.write_la(la, size, v)
    }

    /// Reads `size` bytes at `off` in the current TSS (#TS if beyond its limit).
    pub fn read_tss(&mut self, off: u64, size: usize, ext: u32) -> Result<u64, Stop> {
        let tr = self.cpu.s.tr;
        if off + size as u64 - 1 > u64::from(tr.limit) {
            return Err(self.cpu.raise(vec::TS, Some(sel_ec(tr.selector) | ext)));
        }
        self.read_sys(tr.base.wrapping_add(off), size)
    }

    /// 32-bit protected mode (and virtual-8086) delivery (SDM 7.12).
    fn deliver_protected(
        &mut self,
        v: u8,
        ec: Option<u32>,
        kind: EventKind,
        ret_rip: u64,
        ext: u32,
    ) -> Exec {
        let gate = self.read_gate(v, false, ext)?;
        let v86 = self.cpu.mode == Mode::V86;
        if v86 && kind == EventKind::SoftwareInt && self.cpu.rflags & rflags::IOPL != rflags::IOPL {
            // INT n in virtual-8086 mode with IOPL < 3 (no VME): #GP(0).
            return Err(self.cpu.gp(0));
        }
        let (sel, d) = self.check_gate(v, &gate, kind, ext, false)?;
        let gate32 = gate.seg_type() & 8 != 0;
        let target = (gate.lo & 0xFFFF) | ((gate.lo >> 32) & 0xFFFF_0000);
        let target = if gate32 { target } else { target & 0xFFFF };
        let cpl = self.cpu.cpl;
        let conforming = d.attr() & ar::DC != 0;
        let new_cpl = if conforming { cpl } else { d.dpl() };
        if v86 && new_cpl != 0 {
            return Err(self.cpu.gp(sel_ec(sel) | ext));
        }
        let flags = self.pushed_rflags();
        let old_ss = *self.cpu.s.seg(SegReg::Ss);
        let old_esp = self.cpu.regs[4];
        let cs = self.cpu.s.seg(SegReg::Cs).selector;
        let size: u64 = if gate32 { 4 } else { 2 };
        let mut frame: Vec<u64> = Vec::with_capacity(10);
        let (ss_seg, mut sp, sp_mask);
        if new_cpl < cpl {
            // Inner-privilege stack from the TSS (32-bit: ESPn at 4+8n,
            // SSn at 8+8n; 16-bit: SPn at 2+4n, SSn at 4+4n).
            let tss32 = self.cpu.s.tr.attr & 0x8 != 0;
            let (nsp, nss) = if tss32 {
                (
                    self.read_tss(4 + 8 * u64::from(new_cpl), 4, ext)?,
                    self.read_tss(8 + 8 * u64::from(new_cpl), 2, ext)? as u16,
                )
            } else {
                (
                    self.read_tss(2 + 4 * u64::from(new_cpl), 2, ext)?,
                    self.read_tss(4 + 4 * u64::from(new_cpl), 2, ext)? as u16,
                )
            };
            let ssd = self.check_new_ss(nss, new_cpl, ext)?;
            ss_seg = ssd.to_segment(nss);
            sp_mask = if ss_seg.is_big() {
                0xFFFF_FFFFu64
            } else {
                0xFFFF
            };
            sp = nsp & sp_mask;
            if v86 {
                for sr in [SegReg::Gs, SegReg::Fs, SegReg::Ds, SegReg::Es] {
                    frame.push(u64::from(self.cpu.s.seg(sr).selector));
                }
            }
            frame.push(u64::from(old_ss.selector));
            frame.push(old_esp);
        } else {
            ss_seg = old_ss;
            sp_mask = if ss_seg.is_big() { 0xFFFF_FFFF } else { 0xFFFF };
            sp = old_esp & sp_mask;
        }
        frame.push(flags);
        frame.push(u64::from(cs));
        frame.push(ret_rip);
        if let Some(e) = ec {
            frame.push(u64::from(e));
        }
        // Check and write the frame on the (possibly new) stack.
        let mut addrs = Vec::with_capacity(frame.len());
        for _ in &frame {
            sp = sp.wrapping_sub(size) & sp_mask;
            let la = ss_seg.base.wrapping_add(sp) & 0xFFFF_FFFF;
            if !ss_seg.is_big() && sp > u64::from(ss_seg.limit) {
                return Err(self.cpu.raise(vec::SS, Some(ext)));
            }
            addrs.push(la);
        }
        let saved = self.cpu.cpl;
        self.cpu.cpl = new_cpl;
        self.cpu.tlb.set_cpl(new_cpl);
        for (&la, &val) in addrs.iter().zip(frame.iter()) {
            if let Err(e) = self.probe_write(la, size as usize) {
                self.cpu.cpl = saved;
                self.cpu.tlb.set_cpl(saved);
                return Err(e);
            }
            let _ = val;
        }
        for (&la, &val) in addrs.iter().zip(frame.iter()) {
            self.write_la(la, size as usize, val)?;
        }
        self.set_accessed(sel, &d)?;
        let mut cs_seg = d.to_segment((sel & !3) | u16::from(new_cpl));
        cs_seg.attr |= ar::ACCESSED;
        *self.cpu.s.seg_mut(SegReg::Cs) = cs_seg;
        *self.cpu.s.seg_mut(SegReg::Ss) = ss_seg;
        self.cpu.regs[4] = (self.cpu.regs[4] & !sp_mask) | sp;
        if v86 {
            for sr in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
                *self.cpu.s.seg_mut(sr) = super::seg::null_segment(0);
            }
        }
        self.cpu.rip = target;
        let mut f = self.cpu.rflags & !(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
        if gate.seg_type() & 7 == 6 {
            f &= !rflags::IF;
        }
        self.cpu.rflags = f;
        self.cpu.refresh_mode();
        Ok(())
    }

    /// Checks a stack segment loaded during a privilege change (#TS on failure).
    pub fn check_new_ss(&mut self, sel: u16, cpl: u8, ext: u32) -> Result<Descriptor, Stop> {
        let ts = |ctx: &mut Self| ctx.cpu.raise(vec::TS, Some(sel_ec(sel) | ext));
        if sel & 0xFFFC == 0 || (sel & 3) as u8 != cpl {
            return Err(ts(self));
        }
        let d = self.read_descriptor(sel, ext).map_err(|_| ts(self))?;
        if d.is_system() || d.is_code() || d.attr() & ar::RW == 0 || d.dpl() != cpl {
            return Err(ts(self));
        }
        if !d.present() {
            return Err(self.cpu.raise(vec::SS, Some(sel_ec(sel) | ext)));
        }
        self.set_accessed(sel, &d)?;
        Ok(d)
    }
}

/// Logs a message once per distinct text (unimplemented features).
pub fn log_once(msg: &'static str) {
    use std::cell::RefCell;
    thread_local! {
        static SEEN: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        if !s.contains(&msg) {
            s.push(msg);
            eprintln!("nestor: warning: {msg}");
        }
    });
}

/// Logs an unimplemented instruction once per mnemonic; the guest gets #UD.
pub fn log_unimplemented(m: iced_x86::Mnemonic) {
    use std::cell::RefCell;
    thread_local! {
        static SEEN: RefCell<Vec<iced_x86::Mnemonic>> = const { RefCell::new(Vec::new()) };
    }
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        if !s.contains(&m) {
            s.push(m);
            eprintln!("nestor: warning: unimplemented instruction {m:?}: raising #UD in the guest");
        }
    });
}
