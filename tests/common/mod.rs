//! Test helpers: the interpreter test kit plus an assembler front end.
#![allow(dead_code)]

use iced_x86::code_asm::CodeAssembler;
pub use nestor::interp::testkit::*;

/// Assembles a program for `bitness` at [`CODE`].
pub fn asm(bitness: u32, f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    let mut a = CodeAssembler::new(bitness).expect("assembler");
    f(&mut a);
    a.assemble(CODE).expect("assemble")
}

/// Whether /dev/kvm can run guests here; prints a SKIP line when not, so
/// tests that need KVM return early and pass on machines without it.
pub fn kvm_usable() -> bool {
    use nestor::kvm::caps::{self, KvmCaps};
    match caps::open().and_then(|k| KvmCaps::probe(&k)?.require_for_run()) {
        Ok(()) => true,
        Err(e) => {
            println!("SKIP: {e}");
            false
        }
    }
}
