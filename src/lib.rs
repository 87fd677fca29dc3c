//! nestor: an instruction-level x86 virtualization emulator.
//!
//! See `docs/architecture.md` for the map of the crate.

pub mod apic;
pub mod arch;
pub mod cli;
pub mod devices;
pub mod difftest;
pub mod firmware;
pub mod interp;
pub mod kut;
pub mod kvm;
pub mod loader;
pub mod machine;
pub mod model;
pub mod msr;
pub mod roms;
pub mod state;
pub mod vm;
