//! The interpreter half of the lockstep: one `Interp` over the sandbox
//! memory, with a platform whose only device is the exception stubs'
//! port exit.

use std::rc::Rc;

use super::sandbox::{RAM, Sandbox};
use crate::apic::ApicAction;
use crate::interp::{Cpu, Interp, Platform, RunExit};
use crate::machine::memory::GuestMemory;
use crate::state::VcpuState;
use crate::vm::VmCpuModel;

/// Instructions one step may take before it counts as a hang (a step is
/// one generated instruction, whose REP count is small, plus the INT3 and
/// the stub's OUT).
const STEP_BUDGET: u64 = 10_000;

struct SandboxPlatform {
    mem: GuestMemory,
    port: Option<u16>,
}

impl Platform for SandboxPlatform {
    fn mem(&self) -> &GuestMemory {
        &self.mem
    }
    fn io_in(&mut self, _now: u64, _port: u16, _size: u8) -> u32 {
        u32::MAX
    }
    fn io_out(&mut self, _now: u64, port: u16, _size: u8, _value: u32) {
        self.port.get_or_insert(port);
    }
    fn mmio_read(&mut self, _now: u64, _gpa: u64, _size: u8) -> u64 {
        u64::MAX
    }
    fn mmio_write(&mut self, _now: u64, _gpa: u64, _size: u8, _value: u64) {}
    fn apic_action(&mut self, _now: u64, _vcpu: u32, _action: ApicAction) {}
    fn pic_ack(&mut self, _now: u64) -> Option<u8> {
        None
    }
    fn pic_intr(&self) -> bool {
        false
    }
    fn wants_exit(&self) -> bool {
        self.port.is_some()
    }
}

/// How an interpreter step ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpStep {
    /// An exception stub's `OUT port, AL`.
    Port(u16),
    /// Anything else (shutdown, halt, budget), described.
    Other(String),
}

pub struct InterpSide {
    interp: Interp,
    plat: SandboxPlatform,
}

impl InterpSide {
    pub fn new(vm: Rc<VmCpuModel>, reset: VcpuState) -> Result<InterpSide, String> {
        let mem = GuestMemory::new(RAM).map_err(|e| e.0)?;
        Sandbox::write_fixed(&mem)?;
        Ok(InterpSide {
            interp: Interp::new(Cpu::new(vm, 0, reset)),
            plat: SandboxPlatform { mem, port: None },
        })
    }

    pub fn mem(&self) -> &GuestMemory {
        &self.plat.mem
    }

    /// Loads a state (the code page may have changed: decoded blocks are
    /// dropped).
    pub fn load(&mut self, s: &VcpuState) {
        self.interp.cpu.import(s.clone());
        self.interp.flush_code();
        self.plat.port = None;
    }

    /// Runs until a stub's port exit or something else stops the vCPU.
    pub fn run(&mut self) -> InterpStep {
        let mut left = STEP_BUDGET;
        loop {
            let before = self.interp.cpu.icount;
            let r = self.interp.run(&mut self.plat, left);
            if let Some(p) = self.plat.port {
                return InterpStep::Port(p);
            }
            left = left.saturating_sub(self.interp.cpu.icount - before);
            match r {
                RunExit::Exit if left > 0 => continue,
                RunExit::Shutdown => return InterpStep::Other("shutdown (triple fault)".into()),
                RunExit::Halted => return InterpStep::Other("halted".into()),
                _ => return InterpStep::Other(format!("no exit after {STEP_BUDGET} instructions")),
            }
        }
    }

    /// The state now.
    pub fn state(&mut self) -> &VcpuState {
        self.interp.cpu.export()
    }
}
