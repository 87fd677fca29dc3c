//! Lazy arithmetic flags.
//!
//! Arithmetic instructions do not compute CF, PF, AF, ZF, SF and OF; they
//! store the result (sign-extended to 64 bits) and a word of auxiliary bits
//! from which every flag is recovered in constant time, whatever operation
//! produced them (the scheme Bochs uses, re-derived here):
//!
//! - ZF: `res == 0`; SF: bit 63 of `res` (sign extension makes this the
//!   operation's sign bit for every operand size) XOR bit 7 of `aux`;
//! - CF: bit 63 of `aux`; OF: bit 63 XOR bit 62 of `aux` — the carry (or
//!   borrow) out of the top bit and out of the bit below it;
//! - AF: bit 4 of `aux` (carry out of bit 3);
//! - PF: even parity of `(res ^ (aux >> 8)) & 0xFF` — `aux` bits 15:8 are a
//!   correction byte; it and the SF correction bit are zero except when
//!   flags were loaded explicitly.
//!
//! ADD, SUB, CMP and NEG defer even that: they store the result, the
//! second operand (`src`) and a tag in `aux` (bit 0 set, which no computed
//! `aux` has), and the carries are recomputed from them only when CF, OF
//! or AF is read — most results are only tested for zero or sign, or not
//! at all (the idea of QEMU's `CC_OP` lazy flags, in the Bochs layout).

use crate::state::rflags;

const CF_BIT: u32 = 63;
const AF_MASK: u64 = 1 << 4;
/// `aux` bit 0: the carries are deferred (`src` holds the second operand).
const DEFERRED: u64 = 1;
/// `aux` bit 1 of a deferred value: subtraction (else addition).
const DEFERRED_SUB: u64 = 2;

/// Handlers build a new value for each result instead of copying the old
/// one and patching it: a whole-struct copy compiles to wide loads that
/// cannot be forwarded from the previous instruction's field stores, which
/// stalls every instruction of an INC/DEC chain on the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct LazyFlags {
    pub res: u64,
    /// The auxiliary bits, or a deferred-carries tag: bit 0 set, bit 1 =
    /// subtraction, bits 3:2 = operand size (8 << n bits). The SF and PF
    /// correction bits of a tag are zero, like those of a computed value.
    pub aux: u64,
    /// Second operand of a deferred ADD/SUB (masked to its size).
    pub src: u64,
}

impl PartialEq for LazyFlags {
    /// Equal when they give the same flags (the representation differs
    /// between deferred and computed forms).
    fn eq(&self, other: &Self) -> bool {
        self.status() == other.status()
    }
}
impl Eq for LazyFlags {}

/// Sign-extends the low `bits` bits of `v` to 64 bits.
#[inline(always)]
pub fn sext(v: u64, bits: u32) -> u64 {
    let sh = 64 - bits;
    (((v << sh) as i64) >> sh) as u64
}

/// Auxiliary bits from a carry/borrow vector `cv` of a `bits`-wide operation.
#[inline(always)]
fn aux_from_carries(cv: u64, bits: u32) -> u64 {
    ((cv >> (bits - 2)) << 62) | ((cv << 1) & AF_MASK)
}

/// Size code of a deferred tag (bits 3:2) for an operand size in bits.
#[inline(always)]
const fn size_code(bits: u32) -> u64 {
    match bits {
        8 => 0,
        16 => 1 << 2,
        32 => 2 << 2,
        _ => 3 << 2,
    }
}

impl LazyFlags {
    /// Flags of `r = a + b` (no carry in), carries deferred.
    #[inline(always)]
    pub fn set_add(&mut self, _a: u64, b: u64, r: u64, bits: u32) {
        self.res = sext(r, bits);
        self.src = b;
        self.aux = DEFERRED | size_code(bits);
    }

    /// Flags of `r = a - b` (no borrow in; also CMP, NEG with a = 0),
    /// carries deferred.
    #[inline(always)]
    pub fn set_sub(&mut self, _a: u64, b: u64, r: u64, bits: u32) {
        self.res = sext(r, bits);
        self.src = b;
        self.aux = DEFERRED | DEFERRED_SUB | size_code(bits);
    }

    /// The auxiliary bits, computing deferred carries.
    #[inline(always)]
    pub fn aux_bits(&self) -> u64 {
        if self.aux & DEFERRED == 0 {
            self.aux
        } else {
            self.carries()
        }
    }

    /// Computes the auxiliary bits of a deferred ADD/SUB from the result
    /// and the second operand (the first is `r - b` or `r + b`).
    #[inline(never)]
    fn carries(&self) -> u64 {
        let bits = 8u32 << ((self.aux >> 2) & 3);
        let mask = u64::MAX >> (64 - bits);
        let r = self.res & mask;
        let b = self.src;
        let cv = if self.aux & DEFERRED_SUB == 0 {
            let a = r.wrapping_sub(b) & mask;
            (a & b) | ((a | b) & !r)
        } else {
            let a = r.wrapping_add(b) & mask;
            (!a & b) | (!(a ^ b) & r)
        };
        aux_from_carries(cv, bits)
    }

    /// Flags of `r = a + b (+ carry)`, computed now.
    #[inline(always)]
    pub fn set_add_carry(&mut self, a: u64, b: u64, r: u64, bits: u32) {
        let cv = (a & b) | ((a | b) & !r);
        self.res = sext(r, bits);
        self.aux = aux_from_carries(cv, bits);
    }

    /// Flags of `r = a - b (- borrow)`, computed now.
    #[inline(always)]
    pub fn set_sub_borrow(&mut self, a: u64, b: u64, r: u64, bits: u32) {
        let bv = (!a & b) | (!(a ^ b) & r);
        self.res = sext(r, bits);
        self.aux = aux_from_carries(bv, bits);
    }

    /// Flags of a logical operation: CF = OF = AF = 0.
    #[inline(always)]
    pub fn set_logic(&mut self, r: u64, bits: u32) {
        self.res = sext(r, bits);
        self.aux = 0;
    }

    /// INC/DEC: like ADD/SUB with 1, but CF keeps its old value `cf`.
    #[inline(always)]
    pub fn set_inc_dec(&mut self, cf: bool, a: u64, r: u64, bits: u32, dec: bool) {
        if dec {
            self.set_sub_borrow(a, 1, r, bits);
        } else {
            self.set_add_carry(a, 1, r, bits);
        }
        // `aux` was just computed (not deferred): read it directly.
        let of = ((self.aux >> 63) ^ (self.aux >> 62)) & 1 != 0;
        self.aux = (self.aux & AF_MASK) | (u64::from(cf) << 63) | (u64::from(cf ^ of) << 62);
    }

    /// Result flags with explicit CF and OF, AF clear (shifts, rotates that
    /// set SF/ZF/PF, multiplications).
    #[inline(always)]
    pub fn set_result_cf_of(&mut self, r: u64, bits: u32, cf: bool, of: bool) {
        self.res = sext(r, bits);
        self.aux = (u64::from(cf) << 63) | (u64::from(cf ^ of) << 62);
    }

    #[inline(always)]
    pub fn cf(&self) -> bool {
        (self.aux_bits() >> CF_BIT) != 0
    }
    #[inline(always)]
    pub fn of(&self) -> bool {
        let aux = self.aux_bits();
        ((aux >> 63) ^ (aux >> 62)) & 1 != 0
    }
    #[inline(always)]
    pub fn zf(&self) -> bool {
        self.res == 0
    }
    #[inline(always)]
    pub fn sf(&self) -> bool {
        ((self.res >> 63) ^ (self.aux >> 7)) & 1 != 0
    }
    #[inline(always)]
    pub fn af(&self) -> bool {
        self.aux_bits() & AF_MASK != 0
    }
    #[inline(always)]
    pub fn pf(&self) -> bool {
        ((self.res ^ (self.aux >> 8)) as u8)
            .count_ones()
            .is_multiple_of(2)
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc
    /// opcodes: O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G).
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        let r = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        r ^ (cc & 1 != 0)
    }

    /// The six status flags in RFLAGS positions.
    pub fn status(&self) -> u64 {
        u64::from(self.cf())
            | u64::from(self.pf()) << 2
            | u64::from(self.af()) << 4
            | u64::from(self.zf()) << 6
            | u64::from(self.sf()) << 7
            | u64::from(self.of()) << 11
    }

    /// Loads the status flags from an RFLAGS image (POPF, SAHF, IRET, ...).
    /// Any combination is representable: SF and PF use the correction bits,
    /// so ZF=1 with SF=1 (impossible for one result) loads exactly.
    pub fn load_status(&mut self, f: u64) {
        let cf = f & rflags::CF != 0;
        let of = f & rflags::OF != 0;
        // res: zero iff ZF, with sign bit and low byte 0; SF and PF come
        // from the correction bits (PF: 0 → even parity of a zero byte → 1).
        self.res = if f & rflags::ZF != 0 { 0 } else { 0x100 };
        self.aux = (u64::from(cf) << 63)
            | (u64::from(cf ^ of) << 62)
            | (f & rflags::AF)
            | (f & rflags::SF)
            | if f & rflags::PF != 0 { 0 } else { 1 << 8 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of the six status flags survives a load/store.
    #[test]
    fn load_status_round_trips_all_64_combinations() {
        let bits = [
            rflags::CF,
            rflags::PF,
            rflags::AF,
            rflags::ZF,
            rflags::SF,
            rflags::OF,
        ];
        for combo in 0u32..64 {
            let f: u64 = (0..6)
                .filter(|i| combo & (1 << i) != 0)
                .map(|i| bits[i])
                .sum();
            let mut l = LazyFlags::default();
            l.load_status(f);
            assert_eq!(l.status(), f, "{f:#x}");
        }
    }

    /// Table of reference results (values from the SDM's flag definitions).
    #[test]
    fn add_sub_flags_table() {
        // (a, b, bits, sub, expected status flags)
        let f = |cf: u64, pf: u64, af: u64, zf: u64, sf: u64, of: u64| {
            cf | pf << 2 | af << 4 | zf << 6 | sf << 7 | of << 11
        };
        let table: &[(u64, u64, u32, bool, u64)] = &[
            (0xFF, 0x01, 8, false, f(1, 1, 1, 1, 0, 0)),
            (0x7F, 0x01, 8, false, f(0, 0, 1, 0, 1, 1)),
            (0x00, 0x01, 8, true, f(1, 1, 1, 0, 1, 0)),
            (0x80, 0x01, 8, true, f(0, 0, 1, 0, 0, 1)),
            (0x8000_0000, 0x8000_0000, 32, false, f(1, 1, 0, 1, 0, 1)),
            (5, 5, 64, true, f(0, 1, 0, 1, 0, 0)),
            (0, 1, 64, true, f(1, 1, 1, 0, 1, 0)),
            (0x7FFF, 1, 16, false, f(0, 1, 1, 0, 1, 1)),
        ];
        for &(a, b, bits, sub, want) in table {
            let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
            let mut l = LazyFlags::default();
            if sub {
                l.set_sub(a, b, a.wrapping_sub(b) & mask, bits);
            } else {
                l.set_add(a, b, a.wrapping_add(b) & mask, bits);
            }
            assert_eq!(l.status(), want, "a={a:#x} b={b:#x} bits={bits} sub={sub}");
        }
    }

    /// Deferred ADD/SUB flags read back exactly as the computed ones, for
    /// every size and edge operands (carry/borrow out of the top bit and of
    /// bit 3, signed overflow, zero results).
    #[test]
    fn deferred_add_sub_match_computed() {
        let edges = [
            0u64,
            1,
            0x7,
            0x8,
            0xF,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            0xFFFF_FFFF,
            0x7FFF_FFFF_FFFF_FFFF,
            0x8000_0000_0000_0000,
            u64::MAX,
            0x1234_5678_9ABC_DEF0,
        ];
        for bits in [8u32, 16, 32, 64] {
            let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
            for &a in &edges {
                for &b in &edges {
                    let (a, b) = (a & mask, b & mask);
                    for sub in [false, true] {
                        let r = if sub {
                            a.wrapping_sub(b)
                        } else {
                            a.wrapping_add(b)
                        } & mask;
                        let (mut d, mut e) = (LazyFlags::default(), LazyFlags::default());
                        if sub {
                            d.set_sub(a, b, r, bits);
                            e.set_sub_borrow(a, b, r, bits);
                        } else {
                            d.set_add(a, b, r, bits);
                            e.set_add_carry(a, b, r, bits);
                        }
                        assert_eq!(
                            d.status(),
                            e.status(),
                            "a={a:#x} b={b:#x} bits={bits} sub={sub}"
                        );
                        for cc in 0..16 {
                            assert_eq!(d.cond(cc), e.cond(cc), "cc={cc} a={a:#x} b={b:#x}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn inc_dec_preserve_cf() {
        let mut l = LazyFlags::default();
        l.load_status(rflags::CF);
        let cf = l.cf();
        l.set_inc_dec(cf, 0x7F, 0x80, 8, false);
        assert!(l.cf() && l.of() && l.sf() && l.af());
        l.load_status(0);
        let cf = l.cf();
        l.set_inc_dec(cf, 0, 0xFF, 8, true);
        assert!(!l.cf() && !l.of() && l.sf());
    }
}
