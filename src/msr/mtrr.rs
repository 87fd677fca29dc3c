//! Memory-type validity for PAT and MTRRs (SDM Vol. 3A 13.11 "Memory Type
//! Range Registers" and 13.12 "Page Attribute Table").

use crate::arch::msr_index::*;
use crate::state::msrs::MTRR_VAR_COUNT;

/// IA32_MTRRCAP: VCNT variable ranges, fixed ranges supported (bit 8),
/// write-combining supported (bit 10).
pub const MTRRCAP: u64 = MTRR_VAR_COUNT as u64 | (1 << 8) | (1 << 10);

/// The fixed-range MTRR MSRs in save order.
pub const FIXED_MSRS: [u32; 11] = [
    IA32_MTRR_FIX64K_00000,
    IA32_MTRR_FIX16K_80000,
    IA32_MTRR_FIX16K_A0000,
    IA32_MTRR_FIX4K_C0000,
    IA32_MTRR_FIX4K_C0000 + 1,
    IA32_MTRR_FIX4K_C0000 + 2,
    IA32_MTRR_FIX4K_C0000 + 3,
    IA32_MTRR_FIX4K_C0000 + 4,
    IA32_MTRR_FIX4K_C0000 + 5,
    IA32_MTRR_FIX4K_C0000 + 6,
    IA32_MTRR_FIX4K_F8000,
];

/// Index into `MsrState::mtrr_fixed` for a fixed-range MTRR MSR.
pub fn fixed_index(msr: u32) -> Option<usize> {
    FIXED_MSRS.iter().position(|&m| m == msr)
}

/// MTRR memory types: UC 0, WC 1, WT 4, WP 5, WB 6 (SDM Table 13-8).
pub fn valid_mtrr_type(t: u8) -> bool {
    matches!(t, 0 | 1 | 4 | 5 | 6)
}

/// PAT entries: the MTRR types plus UC- (7); bits 7:3 of each byte reserved
/// (SDM 13.12.2, Table 13-10).
pub fn valid_pat(value: u64) -> bool {
    value
        .to_le_bytes()
        .iter()
        .all(|&b| matches!(b, 0 | 1 | 4 | 5 | 6 | 7))
}
