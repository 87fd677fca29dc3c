//! x87, MMX, SSE and AVX register state: everything XSAVE manages in user
//! components (x87 = 0, SSE = 1, AVX = 2, MPX = 3/4, PKRU = 9).

use serde::{Deserialize, Serialize};

/// An 80-bit x87 register: 64-bit significand and sign+15-bit exponent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct F80 {
    pub significand: u64,
    pub sign_exp: u16,
}

/// x87 tag values in the full (2 bits per register) tag word.
pub mod tag {
    pub const VALID: u16 = 0;
    pub const ZERO: u16 = 1;
    pub const SPECIAL: u16 = 2;
    pub const EMPTY: u16 = 3;
}

/// MXCSR after RESET (SDM Vol. 1, 10.2.3.1): all exceptions masked.
pub const MXCSR_RESET: u32 = 0x1F80;
/// Bits of MXCSR that exist (DAZ included; SDM Vol. 1 11.6.6).
pub const MXCSR_MASK: u32 = 0xFFFF;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpuState {
    pub fcw: u16,
    pub fsw: u16,
    /// Full tag word: two bits per *physical* register R0–R7 ([`tag`]).
    pub ftw: u16,
    pub fop: u16,
    pub fip: u64,
    pub fcs: u16,
    pub fdp: u64,
    pub fds: u16,
    /// Physical registers R0–R7 (ST(i) is R[(TOP + i) mod 8]); MMX registers
    /// alias their significands.
    pub regs: [F80; 8],
    pub mxcsr: u32,
    /// XMM0–15 (low, high quadwords).
    pub xmm: [[u64; 2]; 16],
    /// Upper halves of YMM0–15.
    pub ymm_hi: [[u64; 2]; 16],
    /// MPX bound registers BND0–3 (lower, upper) and BNDCFGU / BNDSTATUS.
    pub bnd: [[u64; 2]; 4],
    pub bndcfgu: u64,
    pub bndstatus: u64,
    /// Protection-key rights register for user pages.
    pub pkru: u32,
}

impl Default for FpuState {
    fn default() -> Self {
        FpuState::reset()
    }
}

impl FpuState {
    /// The x87/SSE/AVX state after power-up or RESET (SDM Vol. 3A Table 10-1,
    /// rows "x87 FPU Control Word" 0040H, "x87 FPU Status Word" 0, "x87 FPU
    /// Tag Word" 5555H, "Data/Instruction pointers" 0, "FP registers" 0,
    /// "MM0–7" 0, "XMM0–15" 0, "MXCSR" 1F80H; APM Vol. 2 Table 14-1).
    pub fn reset() -> Self {
        FpuState {
            fcw: 0x0040,
            fsw: 0,
            ftw: 0x5555,
            fop: 0,
            fip: 0,
            fcs: 0,
            fdp: 0,
            fds: 0,
            regs: [F80::default(); 8],
            mxcsr: MXCSR_RESET,
            xmm: [[0; 2]; 16],
            ymm_hi: [[0; 2]; 16],
            bnd: [[0; 2]; 4],
            bndcfgu: 0,
            bndstatus: 0,
            pkru: 0,
        }
    }

    /// TOP, the stack-top field of FSW.
    #[inline]
    pub fn top(&self) -> usize {
        usize::from((self.fsw >> 11) & 7)
    }

    /// The abridged (one bit per register, 1 = not empty) tag byte FXSAVE stores.
    pub fn abridged_tag(&self) -> u8 {
        (0..8).fold(0u8, |acc, i| {
            if (self.ftw >> (2 * i)) & 3 != tag::EMPTY {
                acc | (1 << i)
            } else {
                acc
            }
        })
    }
}
