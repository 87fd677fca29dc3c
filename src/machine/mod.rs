//! The virtual machine around the vCPUs: guest memory, address decoding,
//! interrupt lines, the deterministic virtual clock, and (later) the
//! scheduler that runs vCPUs round-robin and dispatches their exits.

pub mod bus;
pub mod clock;
pub mod device;
pub mod irq;
pub mod layout;
pub mod memory;
