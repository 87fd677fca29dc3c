//! The software CPU: a JIT-free x86 interpreter with a decoded-block cache.
//!
//! Layout:
//! - [`cpu`]: the vCPU as the interpreter holds it (hot registers, lazy
//!   flags, segment and TLB caches around the shared `VcpuState`);
//! - [`flags`]: lazy arithmetic flags;
//! - [`mem`] and [`paging`]: linear → physical translation, the TLB with
//!   host pointers, data and instruction-fetch accesses;
//! - [`seg`]: segment loads and protection checks;
//! - [`events`]: exceptions, interrupts, #DF and triple fault;
//! - [`debug`]: DR7 breakpoints, single step, general detect;
//! - [`decode`] and [`cache`]: decoding with iced-x86 into [`exec::Op`]s with
//!   pre-resolved handlers and operands, grouped in blocks keyed by physical
//!   address and fetch mode;
//! - [`exec`]: instruction handlers, one file per family;
//! - [`run`] and [`rip_cache`]: the run loop, and the RIP → block cache
//!   it and the threaded handlers use to move between blocks;
//! - [`intercept`]: the single place that asks whether VMX/SVM intercepts
//!   an instruction or event (no-op until nested virtualization lands).

pub mod cache;
pub mod cpu;
pub mod debug;
pub mod decode;
pub mod events;
pub mod exec;
pub mod flags;
pub mod intercept;
pub mod mem;
pub mod mem_vec;
pub mod paging;
pub mod platform;
pub mod rip_cache;
pub mod run;
pub mod seg;
#[doc(hidden)]
pub mod testkit;

pub use cpu::Cpu;
pub use platform::Platform;
pub use run::{Interp, RunExit};
