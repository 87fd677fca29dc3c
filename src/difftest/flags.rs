//! Status flags an instruction leaves undefined, from the "Flags Affected"
//! section of each instruction in SDM Vol. 2. The comparison masks them
//! (and the lockstep carries KVM's values forward, so a later ADC or SETcc
//! sees the same flags on both sides).

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::state::gpr::RCX;
use crate::state::rflags::{AF, CF, OF, PF, SF, ZF};

/// The width of the first operand in bits.
fn op0_bits(ins: &Instruction) -> u32 {
    match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size() as u32 * 8,
        _ => ins.memory_size().size() as u32 * 8,
    }
}

/// The count operand of a shift or rotate (operand `op`): CL or an
/// immediate.
fn count(ins: &Instruction, op: u32, gpr: &[u64; 16]) -> u32 {
    match ins.op_kind(op) {
        OpKind::Register => (gpr[RCX] & 0xFF) as u32,
        OpKind::Immediate8 => u32::from(ins.immediate8()),
        _ => 1,
    }
}

/// The status flags `ins` leaves undefined, given the general registers
/// before it ran.
pub fn undefined(ins: &Instruction, gpr: &[u64; 16]) -> u64 {
    use Mnemonic::*;
    let bits = op0_bits(ins);
    // Shift and rotate counts are masked to 5 bits (6 with REX.W) before
    // anything else (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR).
    let mask = if bits == 64 { 0x3F } else { 0x1F };
    match ins.mnemonic() {
        // "The OF and CF flags are set ...; the SF, ZF, AF, and PF flags
        // are undefined." (MUL, IMUL)
        Mul | Imul => SF | ZF | AF | PF,
        // "The CF, OF, SF, ZF, AF, and PF flags are undefined." (DIV, IDIV)
        Div | Idiv => CF | OF | SF | ZF | AF | PF,
        // AND, OR, XOR, TEST: "The state of the AF flag is undefined."
        And | Or | Xor | Test => AF,
        // SAL/SAR/SHL/SHR: count 0 affects no flags; AF is undefined for a
        // nonzero count, OF for counts above 1, and CF for SHL/SHR when the
        // count is at least the operand width.
        Shl | Sal | Shr | Sar => {
            let c = count(ins, 1, gpr) & mask;
            match c {
                0 => 0,
                1 => AF,
                _ => {
                    let cf = if c >= bits && ins.mnemonic() != Sar {
                        CF
                    } else {
                        0
                    };
                    AF | OF | cf
                }
            }
        }
        // ROL/ROR/RCL/RCR: "The OF flag is defined only for the 1-bit
        // rotates; it is undefined in all other cases" (a zero count
        // affects no flags).
        Rol | Ror | Rcl | Rcr => {
            let c = count(ins, 1, gpr) & mask;
            if c > 1 { OF } else { 0 }
        }
        // SHLD/SHRD: AF undefined for a nonzero count, OF unless the count
        // is 1; above the operand size everything is undefined (the
        // generator keeps 16-bit counts in range).
        Shld | Shrd => {
            let c = count(ins, 2, gpr) & mask;
            match c {
                0 => 0,
                1 => AF,
                c if c > bits => CF | OF | SF | ZF | AF | PF,
                _ => AF | OF,
            }
        }
        // BSF/BSR: "The CF, OF, SF, AF, and PF flags are undefined."
        Bsf | Bsr => CF | OF | SF | AF | PF,
        // BT/BTS/BTR/BTC: "The ZF flag is unaffected. The OF, SF, AF, and
        // PF flags are undefined."
        Bt | Bts | Btr | Btc => OF | SF | AF | PF,
        // LZCNT/TZCNT: "The OF, SF, PF and AF flags are undefined."
        Lzcnt | Tzcnt => OF | SF | PF | AF,
        // ANDN, BLSI, BLSMSK, BLSR, BZHI: "AF and PF flags are undefined."
        Andn | Blsi | Blsmsk | Blsr | Bzhi => AF | PF,
        // BEXTR: "AF, SF, and PF flags are undefined."
        Bextr => AF | SF | PF,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Code, Register};

    #[test]
    fn sdm_vol2_flags_affected_for_shifts() {
        let mut g = [0u64; 16];
        let shl1 = Instruction::with2(Code::Shl_rm32_imm8, Register::EAX, 1u32).expect("shl");
        assert_eq!(undefined(&shl1, &g), AF);
        let shl_cl = Instruction::with2(Code::Shl_rm8_CL, Register::AL, Register::CL).expect("shl");
        g[RCX] = 0x20; // masked to 0: no flag changes
        assert_eq!(undefined(&shl_cl, &g), 0);
        g[RCX] = 9; // above the 8-bit width: CF undefined too
        assert_eq!(undefined(&shl_cl, &g), AF | OF | CF);
        let rol = Instruction::with2(Code::Rol_rm64_imm8, Register::RAX, 3u32).expect("rol");
        assert_eq!(undefined(&rol, &g), OF);
    }
}
