//! What the interpreter needs from the machine around it. The interpreter
//! never knows which device sits at a port or address; it asks here.

use crate::apic::ApicAction;
use crate::machine::memory::GuestMemory;

/// The machine as one vCPU sees it while running.
pub trait Platform {
    /// Guest physical memory.
    fn mem(&self) -> &GuestMemory;
    /// IN from `port` (`size` 1, 2 or 4) at virtual time `now` (ns).
    fn io_in(&mut self, now: u64, port: u16, size: u8) -> u32;
    /// OUT to `port`.
    fn io_out(&mut self, now: u64, port: u16, size: u8, value: u32);
    /// Read from a non-RAM physical address (device MMIO, or nothing).
    fn mmio_read(&mut self, now: u64, gpa: u64, size: u8) -> u64;
    /// Write to a non-RAM physical address.
    fn mmio_write(&mut self, now: u64, gpa: u64, size: u8, value: u64);
    /// A local-APIC register access had an effect outside this vCPU
    /// (an IPI, an EOI for a level-triggered interrupt).
    fn apic_action(&mut self, now: u64, vcpu: u32, action: ApicAction);
    /// Acknowledge the 8259 PIC's interrupt (INTA cycle) if it has one.
    fn pic_ack(&mut self, now: u64) -> Option<u8>;
    /// Is the 8259 PIC asserting INTR?
    fn pic_intr(&self) -> bool;
    /// Something outside the CPU wants the run loop to return (device exit
    /// request, pending cross-vCPU messages).
    fn wants_exit(&self) -> bool;
}
