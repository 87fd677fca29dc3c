//! AES-NI (AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC,
//! AESKEYGENASSIST) and PCLMULQDQ, legacy and VEX.128 forms (FIPS-197;
//! SDM Vol. 2A "AESENC"). The S-boxes are computed at compile time from
//! the GF(2^8) inverse and the affine map.

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{D, V, bytes, from_bytes};
use crate::interp::decode::Decoded;
use crate::interp::exec::Op;
use crate::kern;
use crate::model::Feature;

const fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    p
}

const fn sbox() -> [u8; 256] {
    let mut s = [0u8; 256];
    let mut x = 0usize;
    while x < 256 {
        // Inverse: x^254.
        let mut inv = 1u8;
        let mut k = 0;
        while k < 254 {
            inv = gmul(inv, x as u8);
            k += 1;
        }
        if x == 0 {
            inv = 0;
        }
        let b = inv;
        s[x] = b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63;
        x += 1;
    }
    s
}

const fn inv_sbox(s: &[u8; 256]) -> [u8; 256] {
    let mut r = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        r[s[x] as usize] = x as u8;
        x += 1;
    }
    r
}

static SBOX: [u8; 256] = sbox();
static INV_SBOX: [u8; 256] = inv_sbox(&SBOX);

/// Byte i of the state is row i % 4, column i / 4.
fn shift_rows(s: [u8; 16], inv: bool) -> [u8; 16] {
    std::array::from_fn(|i| {
        let (r, c) = (i % 4, i / 4);
        let src = if inv { (c + 4 - r) % 4 } else { (c + r) % 4 };
        s[r + 4 * src]
    })
}

fn sub_bytes(s: [u8; 16], inv: bool) -> [u8; 16] {
    s.map(|b| {
        if inv {
            INV_SBOX[b as usize]
        } else {
            SBOX[b as usize]
        }
    })
}

fn mix_columns(s: [u8; 16], inv: bool) -> [u8; 16] {
    let m: [u8; 4] = if inv { [14, 11, 13, 9] } else { [2, 3, 1, 1] };
    std::array::from_fn(|i| {
        let (r, c) = (i % 4, i / 4);
        (0..4).fold(0u8, |acc, k| acc ^ gmul(m[(k + 4 - r) % 4], s[4 * c + k]))
    })
}

fn xor(a: [u8; 16], k: V) -> V {
    let k = bytes(k);
    from_bytes(std::array::from_fn(|i| a[i] ^ k[i]))
}

fn sub_word(w: u32) -> u32 {
    u32::from_le_bytes(w.to_le_bytes().map(|b| SBOX[b as usize]))
}

kern!(Aesenc, |a, b, i, e| xor(
    mix_columns(sub_bytes(shift_rows(bytes(a), false), false), false),
    b
));
kern!(Aesenclast, |a, b, i, e| xor(
    sub_bytes(shift_rows(bytes(a), false), false),
    b
));
kern!(Aesdec, |a, b, i, e| xor(
    mix_columns(sub_bytes(shift_rows(bytes(a), true), true), true),
    b
));
kern!(Aesdeclast, |a, b, i, e| xor(
    sub_bytes(shift_rows(bytes(a), true), true),
    b
));
kern!(Aesimc, |a, b, i, e| from_bytes(mix_columns(bytes(b), true)));
kern!(Aeskeygenassist, |a, b, i, e| {
    let x1 = sub_word((b[0] >> 32) as u32);
    let x3 = sub_word((b[1] >> 32) as u32);
    let rcon = u32::from(i);
    [
        u64::from(x1) | u64::from(x1.rotate_right(8) ^ rcon) << 32,
        u64::from(x3) | u64::from(x3.rotate_right(8) ^ rcon) << 32,
    ]
});

/// Carry-less 64×64 → 128 multiplication.
fn clmul(a: u64, b: u64) -> u128 {
    (0..64)
        .filter(|k| b >> k & 1 != 0)
        .fold(0u128, |acc, k| acc ^ (u128::from(a) << k))
}

kern!(Pclmulqdq, |a, b, i, e| {
    let r = clmul(a[usize::from(i & 1)], b[usize::from((i >> 4) & 1)]);
    [r as u64, (r >> 64) as u64]
});

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    use Feature::{Aes, Pclmulqdq as Clmul};
    if d.y {
        return None;
    }
    let r = match d.insn.mnemonic() {
        Mn::Aesenc | Mn::Vaesenc => d.x128::<Aesenc, 16, true>(op, Aes),
        Mn::Aesenclast | Mn::Vaesenclast => d.x128::<Aesenclast, 16, true>(op, Aes),
        Mn::Aesdec | Mn::Vaesdec => d.x128::<Aesdec, 16, true>(op, Aes),
        Mn::Aesdeclast | Mn::Vaesdeclast => d.x128::<Aesdeclast, 16, true>(op, Aes),
        Mn::Aesimc | Mn::Vaesimc => d.x128::<Aesimc, 16, true>(op, Aes),
        Mn::Aeskeygenassist | Mn::Vaeskeygenassist => d.x128::<Aeskeygenassist, 16, true>(op, Aes),
        Mn::Pclmulqdq | Mn::Vpclmulqdq => d.x128::<Pclmulqdq, 16, true>(op, Clmul),
        _ => return None,
    };
    // The VEX forms also need the legacy feature.
    if d.vex
        && !(d.has)(match d.insn.mnemonic() {
            Mn::Vpclmulqdq => Clmul,
            _ => Aes,
        })
    {
        return Decoded::end(handler(super::ud));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbox_values() {
        assert_eq!(SBOX[0], 0x63);
        assert_eq!(SBOX[0x53], 0xED);
        assert_eq!(INV_SBOX[0x63], 0);
    }

    #[test]
    fn clmul_example() {
        // SDM PCLMULQDQ: 0x7b5b54657374566563746f725d53475d ×
        // 0x48692853686179295b477565726f6e5d (low halves) has a
        // documented answer; check a simple identity instead.
        assert_eq!(clmul(0b11, 0b11), 0b101);
        assert_eq!(clmul(u64::MAX, 1), u128::from(u64::MAX));
    }
}
