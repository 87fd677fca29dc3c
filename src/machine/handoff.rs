//! The interpreter's halves of a backend handoff: leaving the scheduler as
//! [`MachineParts`] (every vCPU's exported `VcpuState`, the same board) and
//! resuming from parts another backend produced.
//!
//! The board — guest memory and every device with its state — moves as
//! it is: nothing is copied, and KVM maps the very same RAM. What the
//! interpreter keeps outside `VcpuState` is derived and rebuilt: fresh
//! `Interp`s have an empty decoded-block cache, an empty TLB and no
//! cached PDPTEs, and the code-page marks in guest memory are dropped
//! (the other backend wrote memory without them).

use std::rc::Rc;

use super::pc::{Machine, MachineParts};
use crate::interp::Interp;
use crate::interp::cpu::Fault;
use crate::interp::events::{Delivery, EventKind};
use crate::interp::exec::Ctx;

impl Machine {
    /// Leaves the interpreter at the current instruction boundary (the
    /// scheduler returns between instructions; a REP string instruction
    /// may be part-way, as when an interrupt arrives): the CPU model,
    /// every vCPU's state and the board, plus the VM clock.
    pub fn into_parts(self) -> (MachineParts, u64) {
        let Machine {
            vm,
            mut vcpus,
            board,
            now,
            ..
        } = self;
        let states = vcpus.iter_mut().map(|v| v.cpu.export().clone()).collect();
        drop(vcpus);
        let vm = Rc::try_unwrap(vm).unwrap_or_else(|rc| (*rc).clone());
        (MachineParts { vm, states, board }, now)
    }

    /// The interpreter for a machine another backend ran until VM time
    /// `now`. Events the other backend had in flight (an exception or an
    /// external interrupt being delivered, which the interpreter never
    /// holds between instructions) are delivered now, as the other
    /// backend would have done on its next entry.
    pub fn resume(mut parts: MachineParts, now: u64) -> Machine {
        parts.board.mem.forget_code_pages();
        let mut m = Machine::from_parts(parts);
        m.now = now;
        let Machine { vcpus, board, .. } = &mut m;
        for v in vcpus.iter_mut() {
            deliver_in_flight(v, board);
        }
        m
    }
}

/// Delivers the exception or external interrupt a state carries in its
/// `events` (KVM_GET_VCPU_EVENTS: `exception.pending/injected`,
/// `interrupt.injected`). Software interrupts and INT3/INTO are not
/// carried: their instruction runs again.
fn deliver_in_flight(v: &mut Interp, plat: &mut dyn crate::interp::Platform) {
    let ev = &mut v.cpu.s.events;
    let exception = ev.exception.take();
    let interrupt = ev.injected_interrupt.take();
    let ctx = Ctx::enter(&mut v.cpu, plat);
    if let Some(e) = exception {
        // A pending exception's payload has not been applied yet (KVM API,
        // KVM_CAP_EXCEPTION_PAYLOAD): CR2 for #PF, DR6 bits for #DB.
        let cr2 = match (e.vector, e.payload) {
            (14, Some(p)) => p,
            _ => ctx.cpu.s.cr.cr2,
        };
        let dr6 = e
            .payload
            .filter(|_| e.vector == 1)
            .unwrap_or(ctx.cpu.s.dr.dr6)
            & 0xF;
        ctx.cpu.fault = Fault {
            vector: e.vector,
            error_code: e.error_code,
            cr2,
            dr6,
        };
        if ctx.deliver_fault() == Delivery::Shutdown {
            return;
        }
    }
    if let Some(vector) = interrupt {
        let rip = ctx.cpu.rip;
        if ctx.deliver(vector, None, EventKind::External, rip).is_err() {
            let _ = ctx.deliver_fault();
        }
    }
}
