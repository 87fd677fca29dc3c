//! nestor: an instruction-level x86 virtualization emulator.
//!
//! See `docs/architecture.md` for the map of the crate.

pub mod apic;
pub mod arch;
pub mod cli;
pub mod model;
pub mod msr;
pub mod state;
pub mod vm;
