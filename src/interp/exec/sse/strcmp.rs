//! SSE4.2 packed string compares: PCMPESTRI, PCMPESTRM, PCMPISTRI,
//! PCMPISTRM and their VEX forms (SDM Vol. 2B 4.1 "Imm8 Control Byte
//! Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").
//!
//! `imm8[1:0]` element format (unsigned/signed bytes/words), `imm8[3:2]`
//! aggregation (equal any, ranges, equal each, equal ordered), `imm8[5:4]`
//! polarity, `imm8[6]` index (least/most significant) or mask (bit/element)
//! selection. The memory operand needs no alignment.

use crate::interp::exec::handler;
use iced_x86::Mnemonic as Mn;

use super::{D, V, avx_ok, build, el, load_m, sse_ok};
use crate::interp::decode::Decoded;
use crate::interp::exec::{Ctx, Exec, Handler, Op, W32};
use crate::model::Feature;
use crate::state::rflags;

/// Elements of `v` as i32 in format `fmt` (`imm8[1:0]`).
#[inline(always)]
fn elems(v: V, fmt: u8) -> [i32; 16] {
    std::array::from_fn(|k| match fmt & 3 {
        0 => i32::from(el::<u8>(v, k)),
        1 => i32::from(el::<u16>(v, k % 8)),
        2 => i32::from(el::<i8>(v, k)),
        _ => i32::from(el::<i16>(v, k % 8)),
    })
}

/// Implicit length: index of the first zero element.
fn implicit_len(v: V, fmt: u8) -> usize {
    let n = if fmt & 1 != 0 { 8 } else { 16 };
    let e = elems(v, fmt);
    (0..n).find(|&k| e[k] == 0).unwrap_or(n)
}

/// The comparison core: returns IntRes2 and the RFLAGS status image.
/// `la`/`lb` are the valid lengths of a (xmm1) and b (xmm2/m128).
#[allow(clippy::needless_range_loop)] // element indices are the data
pub fn compare(a: V, b: V, la: usize, lb: usize, imm: u8) -> (u32, u64) {
    let fmt = imm & 3;
    let n = if fmt & 1 != 0 { 8 } else { 16 };
    let (ea, eb) = (elems(a, fmt), elems(b, fmt));
    let agg = (imm >> 2) & 3;
    // Forced results for invalid elements (SDM Table 4-7): (a invalid,
    // b valid), (a valid, b invalid), (both invalid).
    let force = |i: usize, j: usize, v: bool| -> bool {
        match (i < la, j < lb) {
            (true, true) => v,
            (false, true) => agg == 3,
            (true, false) => false,
            (false, false) => agg >= 2,
        }
    };
    let mut res1 = 0u32;
    match agg {
        0 => {
            for j in 0..n {
                if (0..n).any(|i| force(i, j, ea[i] == eb[j])) {
                    res1 |= 1 << j;
                }
            }
        }
        1 => {
            for j in 0..n {
                let hit = (0..n)
                    .step_by(2)
                    .any(|i| force(i, j, eb[j] >= ea[i]) && force(i + 1, j, eb[j] <= ea[i + 1]));
                if hit {
                    res1 |= 1 << j;
                }
            }
        }
        2 => {
            for i in 0..n {
                if force(i, i, ea[i] == eb[i]) {
                    res1 |= 1 << i;
                }
            }
        }
        _ => {
            for j in 0..n {
                if (0..n - j).all(|i| force(i, j + i, ea[i] == eb[j + i])) {
                    res1 |= 1 << j;
                }
            }
        }
    }
    let all = (1u32 << n) - 1;
    let valid_b = (1u32 << lb) - 1;
    let res2 = match (imm >> 4) & 3 {
        1 => !res1 & all,
        3 => (res1 ^ valid_b) & all,
        _ => res1,
    };
    let mut f = 0;
    if res2 != 0 {
        f |= rflags::CF;
    }
    if lb < n {
        f |= rflags::ZF;
    }
    if la < n {
        f |= rflags::SF;
    }
    if res2 & 1 != 0 {
        f |= rflags::OF;
    }
    (res2, f)
}

/// |len| saturated to the element count.
fn explicit_len(r: u64, q: bool, n: usize) -> usize {
    let v = if q {
        r as i64
    } else {
        i64::from(r as u32 as i32)
    };
    (v.unsigned_abs().min(n as u64)) as usize
}

/// E: explicit lengths (rAX, rDX); M: mask to XMM0 (else index to ECX).
fn pcmpstr<const E: bool, const M: bool, const VEX: bool, const MEM: bool>(
    ctx: &mut Ctx,
    op: &Op,
) -> Exec {
    if VEX {
        avx_ok(ctx)?;
    } else {
        sse_ok(ctx)?;
    }
    let b = if MEM {
        load_m::<16, false>(ctx, op)?
    } else {
        ctx.xmm(op.r2)
    };
    let a = ctx.xmm(op.r0);
    let imm = op.imm as u8;
    let n = if imm & 1 != 0 { 8 } else { 16 };
    let (la, lb) = if E {
        let q = op.osize == 8;
        (
            explicit_len(ctx.cpu.regs[0], q, n),
            explicit_len(ctx.cpu.regs[2], q, n),
        )
    } else {
        (implicit_len(a, imm), implicit_len(b, imm))
    };
    let (res, f) = compare(a, b, la, lb, imm);
    if M {
        let v = if imm & 0x40 != 0 {
            if n == 16 {
                build::<u8>(|k| if res >> k & 1 != 0 { 0xFF } else { 0 })
            } else {
                build::<u16>(|k| if res >> k & 1 != 0 { 0xFFFF } else { 0 })
            }
        } else {
            [u64::from(res), 0]
        };
        if VEX {
            ctx.set_xmm_vex(0, v);
        } else {
            ctx.set_xmm(0, v);
        }
    } else {
        let idx = if res == 0 {
            n as u64
        } else if imm & 0x40 != 0 {
            u64::from(31 - res.leading_zeros())
        } else {
            u64::from(res.trailing_zeros())
        };
        ctx.set_reg::<W32>(1, idx);
    }
    ctx.cpu.lf.load_status(f);
    Ok(())
}

fn pick<const E: bool, const M: bool>(d: &D) -> Handler {
    match (d.vex, d.mem) {
        (true, true) => handler(pcmpstr::<E, M, true, true>),
        (true, false) => handler(pcmpstr::<E, M, true, false>),
        (false, true) => handler(pcmpstr::<E, M, false, true>),
        (false, false) => handler(pcmpstr::<E, M, false, false>),
    }
}

pub fn decode(d: &D, op: &mut Op) -> Option<Decoded> {
    let m = d.insn.mnemonic();
    let h = match m {
        Mn::Pcmpestri | Mn::Vpcmpestri | Mn::Pcmpestri64 | Mn::Vpcmpestri64 => {
            pick::<true, false>(d)
        }
        Mn::Pcmpestrm | Mn::Vpcmpestrm | Mn::Pcmpestrm64 | Mn::Vpcmpestrm64 => {
            pick::<true, true>(d)
        }
        Mn::Pcmpistri | Mn::Vpcmpistri => pick::<false, false>(d),
        Mn::Pcmpistrm | Mn::Vpcmpistrm => pick::<false, true>(d),
        _ => return None,
    };
    d.fill(op);
    op.osize = if matches!(
        m,
        Mn::Pcmpestri64 | Mn::Vpcmpestri64 | Mn::Pcmpestrm64 | Mn::Vpcmpestrm64
    ) {
        8
    } else {
        4
    };
    d.gate(if d.vex { Feature::Avx } else { Feature::Sse4_2 }, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[u8]) -> V {
        let mut b = [0u8; 16];
        b[..s.len()].copy_from_slice(s);
        super::super::from_bytes(b)
    }

    #[test]
    fn sdm_style_examples() {
        // Equal any: find the first of " ,." in "hello, world".
        let (r, f) = compare(v(b" ,."), v(b"hello, world"), 3, 12, 0x00);
        assert_eq!(r, 1 << 5 | 1 << 6);
        assert_ne!(f & rflags::CF, 0);
        // Ranges: lower-case letters.
        let (r, _) = compare(v(b"az"), v(b"aB1z"), 2, 4, 0x04);
        assert_eq!(r, 0b1001);
        // Equal each (strcmp): first difference at index 3, negative
        // polarity with masking.
        let (r, _) = compare(v(b"abcdef"), v(b"abcxef"), 6, 6, 0x18);
        assert_eq!(r.trailing_zeros(), 3);
        // Equal ordered (strstr): "lo" in "hello".
        let (r, _) = compare(v(b"lo"), v(b"hello"), 2, 5, 0x0C);
        assert_eq!(r & 0x1F, 1 << 3);
    }
}
