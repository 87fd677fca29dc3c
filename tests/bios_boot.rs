//! `--bios`: a firmware image mapped to end at 4 GiB; the BSP starts at the
//! reset vector F000:FFF0 in the RESET state (SDM Table 10-1).

use iced_x86::code_asm::*;
use nestor::devices::uart::UartOutput;
use nestor::machine::{Boot, Limits, Machine, MachineConfig, Outcome};
use nestor::model::parse::parse_model;

fn firmware(code: &[u8]) -> Vec<u8> {
    // 64 KiB image; the reset vector is 16 bytes below its end.
    let mut img = vec![0xF4u8; 0x1_0000];
    img[0xFFF0..0xFFF0 + code.len()].copy_from_slice(code);
    img
}

fn boot(model: &str, code: &[u8]) -> Outcome {
    let cfg = MachineConfig {
        model: parse_model(model).expect("model"),
        cpus: 1,
        ram_bytes: 16 << 20,
        serial: UartOutput::Buffer(Default::default()),
    };
    let mut m = Machine::new(
        cfg,
        Boot::Firmware {
            image: firmware(code),
        },
    )
    .expect("machine");
    m.run(&Limits {
        max_insns: Some(10_000),
        timeout_ns: None,
    })
}

/// The reset vector runs in real mode with EDX = CPUID.1:EAX: the
/// firmware reports the family it finds in EDX[11:8] through port 0xF4.
#[test]
fn firmware_starts_at_the_reset_vector_with_the_signature_in_edx() {
    let mut a = CodeAssembler::new(16).expect("assembler");
    a.mov(eax, edx).unwrap();
    a.shr(eax, 8).unwrap();
    a.and(eax, 0xFu32).unwrap();
    a.out(0xF4, eax).unwrap();
    let code = a.assemble(0xFFF0).expect("assemble");
    assert!(code.len() <= 16, "fits before 4 GiB");
    assert_eq!(boot("max", &code), Outcome::DebugExit(6));
    assert_eq!(boot("EPYC-Milan", &code), Outcome::DebugExit(0xF));
}

/// A firmware that halts with interrupts off is a hang, not a busy loop.
#[test]
fn halting_firmware_is_reported_as_a_hang() {
    let mut a = CodeAssembler::new(16).expect("assembler");
    a.cli().unwrap();
    a.hlt().unwrap();
    let code = a.assemble(0xFFF0).expect("assemble");
    assert_eq!(boot("max", &code), Outcome::Hang);
}
