//! Vector and block data accesses (16, 32 and 512+ bytes) for the SIMD and
//! state-save instructions, built on the 8-byte accessors of [`super::mem`].
//!
//! Every access checks the whole operand against the segment first, then
//! (when asked) its alignment: a misaligned linear address raises #GP(0)
//! (SDM Vol. 1 11.4.1, 13.4; in a stack segment too, as the SDM tables
//! list it under #GP). Writes never happen partially: an operand that
//! crosses a page boundary has both pages probed for writability before
//! the first byte is stored.

use super::exec::{Ctx, Exec, Stop};

/// A 128-bit value as two little-endian quadwords (low first).
pub type V128 = [u64; 2];

impl Ctx {
    /// Linear address of a `size`-byte operand at `seg:ea`, with segment
    /// checks and, when `align` is non-zero, a #GP(0) unless the linear
    /// address is a multiple of `align`.
    #[inline(always)]
    pub fn vec_linear(
        &mut self,
        seg: u8,
        ea: u64,
        size: usize,
        align: u64,
        write: bool,
    ) -> Result<u64, Stop> {
        let la = self.linear(seg, ea, size, write)?;
        if align != 0 && la & (align - 1) != 0 {
            return Err(self.cpu.gp(0));
        }
        Ok(la)
    }

    /// Reads `N` quadwords at `seg:ea` (`align`: required alignment or 0).
    #[inline(always)]
    pub fn read_qwords<const N: usize>(
        &mut self,
        seg: u8,
        ea: u64,
        align: u64,
    ) -> Result<[u64; N], Stop> {
        let la = self.vec_linear(seg, ea, 8 * N, align, false)?;
        let mut v = [0u64; N];
        for (i, q) in v.iter_mut().enumerate() {
            *q = self.read_la(la.wrapping_add(8 * i as u64), 8)?;
        }
        Ok(v)
    }

    /// Writes `N` quadwords at `seg:ea`, all or nothing.
    #[inline(always)]
    pub fn write_qwords<const N: usize>(
        &mut self,
        seg: u8,
        ea: u64,
        v: &[u64; N],
        align: u64,
    ) -> Exec {
        let la = self.vec_linear(seg, ea, 8 * N, align, true)?;
        if (la & 0xFFF) + 8 * N as u64 > 0x1000 {
            self.probe_write(la, 8 * N)?;
        }
        for (i, q) in v.iter().enumerate() {
            self.write_la(la.wrapping_add(8 * i as u64), 8, *q)?;
        }
        Ok(())
    }

    /// Reads a 128-bit operand.
    #[inline(always)]
    pub fn read_v128(&mut self, seg: u8, ea: u64, aligned: bool) -> Result<V128, Stop> {
        self.read_qwords::<2>(seg, ea, if aligned { 16 } else { 0 })
    }

    /// Writes a 128-bit operand.
    #[inline(always)]
    pub fn write_v128(&mut self, seg: u8, ea: u64, v: V128, aligned: bool) -> Exec {
        self.write_qwords::<2>(seg, ea, &v, if aligned { 16 } else { 0 })
    }

    /// Reads a 256-bit operand (low 128 bits first).
    #[inline(always)]
    pub fn read_v256(&mut self, seg: u8, ea: u64, aligned: bool) -> Result<[V128; 2], Stop> {
        let q = self.read_qwords::<4>(seg, ea, if aligned { 32 } else { 0 })?;
        Ok([[q[0], q[1]], [q[2], q[3]]])
    }

    /// Writes a 256-bit operand.
    #[inline(always)]
    pub fn write_v256(&mut self, seg: u8, ea: u64, v: [V128; 2], aligned: bool) -> Exec {
        let q = [v[0][0], v[0][1], v[1][0], v[1][1]];
        self.write_qwords::<4>(seg, ea, &q, if aligned { 32 } else { 0 })
    }

    /// Reads `buf.len()` bytes (a multiple of 8) at linear address `la`,
    /// already checked against the segment.
    pub fn read_block_la(&mut self, la: u64, buf: &mut [u8]) -> Exec {
        for (i, c) in buf.chunks_exact_mut(8).enumerate() {
            let q = self.read_la(la.wrapping_add(8 * i as u64), 8)?;
            c.copy_from_slice(&q.to_le_bytes());
        }
        Ok(())
    }

    /// Writes `buf` (a multiple of 8 bytes, at most one page long) at
    /// linear address `la`, all or nothing.
    pub fn write_block_la(&mut self, la: u64, buf: &[u8]) -> Exec {
        self.probe_write(la, buf.len())?;
        for (i, c) in buf.chunks_exact(8).enumerate() {
            let q = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
            self.write_la(la.wrapping_add(8 * i as u64), 8, q)?;
        }
        Ok(())
    }
}
