//! The virtual machine around the vCPUs: guest memory, address decoding,
//! interrupt lines, the deterministic virtual clock, and (later) the
//! scheduler that runs vCPUs round-robin and dispatches their exits.

pub mod board;
pub mod bus;
pub mod clock;
pub mod device;
pub mod handoff;
pub mod interrupts;
pub mod irq;
pub mod layout;
pub mod memory;
pub mod pc;
pub mod scheduler;

pub use pc::{Boot, Machine, MachineConfig, MachineError, MachineParts};
pub use scheduler::{Limits, Outcome};
