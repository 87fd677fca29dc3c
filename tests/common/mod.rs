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
