//! Port I/O: IN/OUT with immediate or DX ports, and the I/O permission
//! check (IOPL, TSS I/O bitmap; SDM Vol. 1 19.5 "Protected-Mode I/O").

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{Ctx, Exec, Handler, Op, Stop, W8, W16, W32, Width};
use crate::interp::cpu::Mode;
use crate::interp::decode::Decoded;
use crate::state::rflags;

impl Ctx {
    /// May the current code access ports `port..port + size`? #GP(0) if not.
    pub fn io_allowed(&mut self, port: u16, size: usize) -> Exec {
        let mode = self.cpu.mode;
        let iopl = ((self.cpu.rflags & rflags::IOPL) >> 12) as u8;
        if mode == Mode::Real || (mode != Mode::V86 && self.cpu.cpl <= iopl) {
            return Ok(());
        }
        // Consult the I/O permission bitmap of a 32/64-bit TSS.
        let tr = self.cpu.s.tr;
        let tss32 = tr.attr & 0x8 != 0;
        if !tss32 || tr.limit < 0x67 {
            return Err(self.cpu.gp(0));
        }
        let base = self.read_sys(tr.base.wrapping_add(0x66), 2)?;
        let byte = base + u64::from(port / 8);
        if byte + 1 > u64::from(tr.limit) {
            return Err(self.cpu.gp(0));
        }
        let bits = self.read_sys(tr.base.wrapping_add(byte), 2)?;
        let mask = ((1u64 << size) - 1) << (port % 8);
        if bits & mask != 0 {
            return Err(self.cpu.gp(0));
        }
        Ok(())
    }

    pub fn port_in(&mut self, port: u16, size: usize) -> u64 {
        if self.cpu.dbg.io != 0 {
            self.io_breakpoints(port, size);
        }
        self.cpu.stats.io_exits += 1;
        let now = self.cpu.now();
        let v = u64::from(self.plat().io_in(now, port, size as u8));
        self.cpu.charge_ns(crate::machine::clock::IO_NS);
        // A read can change interrupt lines (acknowledging a UART or RTC
        // interrupt): let the loop re-check events.
        self.cpu.attention |= crate::interp::cpu::attn::EVENT;
        if self.plat().wants_exit() {
            self.cpu.attention |= crate::interp::cpu::attn::EXIT;
        }
        v
    }

    pub fn port_out(&mut self, port: u16, size: usize, v: u64) {
        if self.cpu.dbg.io != 0 {
            self.io_breakpoints(port, size);
        }
        self.cpu.stats.io_exits += 1;
        let now = self.cpu.now();
        self.plat().io_out(now, port, size as u8, v as u32);
        self.cpu.charge_ns(crate::machine::clock::IO_NS);
        // A write can reprogram a device's timer: the scheduler must see it.
        self.cpu.attention |= crate::interp::cpu::attn::EXIT;
    }
}

/// IN AL/AX/EAX, imm8 (op.imm = port) or DX (op.imm2 = 1).
fn in_<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let port = if op.imm2 == 1 {
        ctx.cpu.regs[2] as u16
    } else {
        op.imm as u16
    };
    ctx.io_allowed(port, W::BYTES)?;
    let v = ctx.port_in(port, W::BYTES);
    ctx.set_reg::<W>(0, v & W::MASK);
    Ok(())
}

fn out<W: Width>(ctx: &mut Ctx, op: &Op) -> Exec {
    let port = if op.imm2 == 1 {
        ctx.cpu.regs[2] as u16
    } else {
        op.imm as u16
    };
    ctx.io_allowed(port, W::BYTES)?;
    let v = ctx.reg::<W>(0);
    ctx.port_out(port, W::BYTES, v);
    Err(Stop::Exit)
}

pub fn decode(insn: &Instruction, op: &mut Op, _ctx: &Ctx) -> Option<Decoded> {
    let (is_in, port_idx, reg_idx) = match insn.mnemonic() {
        Mnemonic::In => (true, 1, 0),
        Mnemonic::Out => (false, 0, 1),
        _ => return None,
    };
    if insn.op_kind(port_idx) == OpKind::Register {
        op.imm2 = 1;
    } else {
        op.imm = u64::from(insn.immediate8());
    }
    let bits = insn.op_register(reg_idx).size() * 8;
    let h: Handler = match (is_in, bits) {
        (true, 8) => handler(in_::<W8>),
        (true, 16) => handler(in_::<W16>),
        (true, _) => handler(in_::<W32>),
        (false, 8) => handler(out::<W8>),
        (false, 16) => handler(out::<W16>),
        (false, _) => handler(out::<W32>),
    };
    Decoded::end(h)
}
