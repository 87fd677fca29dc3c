//! Differential testing of x87 instructions against the host FPU.
//!
//! A case is a full FPU state (an FSAVE image: control word, status word,
//! stack contents), the arithmetic flags and a 16-byte memory operand. The
//! same instruction bytes run on the host (x86-64 only: code assembled by
//! iced into an executable page) and in the interpreter, each wrapped as
//! `popfq; frstor [rdi]; <insn>; fnsave [rsi]; pushfq`, so the whole
//! resulting FPU state, flags and memory operand are compared. The memory
//! operand is `[rdx]`.
#![allow(dead_code)]

use iced_x86::code_asm::*;

use crate::common::*;

/// An 80-bit value as (significand, sign and exponent).
pub type V = (u64, u16);

pub const BIAS: u16 = 0x3FFF;

#[derive(Clone, Debug)]
pub struct Case {
    pub cw: u16,
    /// FSW without TOP (TOP is derived from the number of registers).
    pub sw: u16,
    /// ST(0), ST(1), ... (the rest are empty).
    pub regs: Vec<V>,
    pub flags: u64,
    pub mem: [u8; 16],
}

impl Case {
    pub fn new(cw: u16, regs: &[V]) -> Self {
        Case {
            cw,
            sw: 0,
            regs: regs.to_vec(),
            flags: 0,
            mem: [0; 16],
        }
    }
    pub fn with_mem(mut self, bytes: &[u8]) -> Self {
        self.mem[..bytes.len()].copy_from_slice(bytes);
        self
    }
    pub fn with_flags(mut self, f: u64) -> Self {
        self.flags = f;
        self
    }

    /// The 128-byte input record: FSAVE image (108 bytes), flags at 112.
    pub fn record(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        let n = self.regs.len();
        let top = (8 - n) & 7;
        let mut tw = 0u16;
        for p in 0..8 {
            let i = (p + 8 - top) & 7;
            if i >= n {
                tw |= 3 << (2 * p);
            }
        }
        let sw = (self.sw & !0x3800) | (top as u16) << 11;
        b[0..4].copy_from_slice(&(0xFFFF_0000 | u32::from(self.cw)).to_le_bytes());
        b[4..8].copy_from_slice(&(0xFFFF_0000 | u32::from(sw)).to_le_bytes());
        b[8..12].copy_from_slice(&(0xFFFF_0000 | u32::from(tw)).to_le_bytes());
        for (i, (s, e)) in self.regs.iter().enumerate() {
            b[28 + 10 * i..36 + 10 * i].copy_from_slice(&s.to_le_bytes());
            b[36 + 10 * i..38 + 10 * i].copy_from_slice(&e.to_le_bytes());
        }
        b[112..120].copy_from_slice(&(self.flags & 0x8D5 | 2).to_le_bytes());
        b
    }
}

/// Emits the case wrapper around `insn`: rdi = input record, rsi = output
/// record, rdx = memory operand.
fn wrap(a: &mut CodeAssembler, insn: &dyn Fn(&mut CodeAssembler)) {
    a.push(qword_ptr(rdi + 112)).unwrap();
    a.popfq().unwrap();
    a.frstor(ptr(rdi)).unwrap();
    insn(a);
    a.fnsave(ptr(rsi)).unwrap();
    a.pushfq().unwrap();
    a.pop(rax).unwrap();
    a.mov(qword_ptr(rsi + 112), rax).unwrap();
}

/// Output records of the host FPU.
pub fn run_host(insn: &dyn Fn(&mut CodeAssembler), cases: &[Case]) -> Vec<([u8; 128], [u8; 16])> {
    let mut a = CodeAssembler::new(64).unwrap();
    wrap(&mut a, insn);
    a.ret().unwrap();
    let code = a.assemble(0).unwrap();
    let mut m = memmap2::MmapMut::map_anon(4096).unwrap();
    m[..code.len()].copy_from_slice(&code);
    let x = m.make_exec().unwrap();
    // SAFETY: the page holds a complete function following the SysV ABI
    // (it clobbers rax and flags only; the FPU is left initialised).
    let f: extern "sysv64" fn(*const u8, *mut u8, *mut u8) =
        unsafe { std::mem::transmute(x.as_ptr()) };
    cases
        .iter()
        .map(|c| {
            let rec = c.record();
            let mut out = [0u8; 128];
            // The operand sits in the middle of a scratch area so that
            // instructions may address around [rdx].
            let mut area = [0u8; 2 * SLOT];
            area[SLOT..SLOT + 16].copy_from_slice(&c.mem);
            f(rec.as_ptr(), out.as_mut_ptr(), area[SLOT..].as_mut_ptr());
            (out, area[SLOT..SLOT + 16].try_into().unwrap())
        })
        .collect()
}

const IN: u64 = 0x40_0000;
const OUT: u64 = 0x80_0000;
const MEM: u64 = 0x100_0000;
/// Scratch bytes on each side of a case's memory operand.
const SLOT: usize = 256;

/// Output records of the interpreter.
pub fn run_guest(insn: &dyn Fn(&mut CodeAssembler), cases: &[Case]) -> Vec<([u8; 128], [u8; 16])> {
    let code = asm(64, |a| {
        let mut top = a.create_label();
        a.mov(rdi, IN).unwrap();
        a.mov(rsi, OUT).unwrap();
        a.mov(rdx, MEM + SLOT as u64).unwrap();
        a.mov(r15, cases.len() as u64).unwrap();
        a.set_label(&mut top).unwrap();
        wrap(a, insn);
        a.add(rdi, 128).unwrap();
        a.add(rsi, 128).unwrap();
        a.add(rdx, 2 * SLOT as i32).unwrap();
        a.dec(r15).unwrap();
        a.jnz(top).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
    });
    let mut h = Harness::new("max", Mode::Long64, &code);
    for (k, c) in cases.iter().enumerate() {
        let k = k as u64;
        h.plat.mem.write(IN + 128 * k, &c.record()).unwrap();
        h.plat
            .mem
            .write(MEM + SLOT as u64 * (2 * k + 1), &c.mem)
            .unwrap();
    }
    let (r, e) = h.run(cases.len() as u64 * 40 + 100);
    assert_eq!(e, Some(0), "guest did not finish: {r:?}");
    (0..cases.len() as u64)
        .map(|k| {
            let mut out = [0u8; 128];
            let mut mem = [0u8; 16];
            h.plat.mem.read(OUT + 128 * k, &mut out).unwrap();
            h.plat
                .mem
                .read(MEM + SLOT as u64 * (2 * k + 1), &mut mem)
                .unwrap();
            (out, mem)
        })
        .collect()
}

/// Parsed output record, for readable diffs.
#[derive(PartialEq, Eq)]
pub struct State {
    pub cw: u16,
    pub sw: u16,
    pub tw: u16,
    pub fop: u16,
    pub regs: [V; 8],
    pub flags: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cw={:04x} sw={:04x} tw={:04x} fop={:03x} fl={:03x} st=[",
            self.cw, self.sw, self.tw, self.fop, self.flags
        )?;
        let top = (self.sw >> 11) & 7;
        for (i, (s, e)) in self.regs.iter().enumerate() {
            let p = (usize::from(top) + i) & 7;
            if (self.tw >> (2 * p)) & 3 != 3 {
                write!(f, "{i}:{e:04x}_{s:016x} ")?;
            }
        }
        write!(f, "]")
    }
}

pub fn parse(out: &[u8; 128]) -> State {
    let w = |o: usize| u16::from_le_bytes([out[o], out[o + 1]]);
    let mut regs = [(0, 0); 8];
    for (i, r) in regs.iter_mut().enumerate() {
        let o = 28 + 10 * i;
        *r = (
            u64::from_le_bytes(out[o..o + 8].try_into().unwrap()),
            w(o + 8),
        );
    }
    let tw = w(8);
    // Contents of empty registers are irrelevant.
    let top = usize::from((w(4) >> 11) & 7);
    for (i, r) in regs.iter_mut().enumerate() {
        if (tw >> (2 * ((top + i) & 7))) & 3 == 3 {
            *r = (0, 0);
        }
    }
    State {
        cw: w(0),
        sw: w(4),
        tw,
        fop: w(18) & 0x7FF,
        regs,
        flags: u64::from_le_bytes(out[112..120].try_into().unwrap()) & 0x8D5,
    }
}

/// Runs `cases` on both and asserts equal FPU state (pointers excluded),
/// status flags and memory operand. `ignore_sw` masks FSW bits the SDM
/// leaves undefined for the instruction.
pub fn check(name: &str, insn: &dyn Fn(&mut CodeAssembler), cases: &[Case], ignore_sw: u16) {
    let host = run_host(insn, cases);
    let guest = run_guest(insn, cases);
    let mut bad = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let (mut hst, mut gst) = (parse(&host[k].0), parse(&guest[k].0));
        hst.sw &= !ignore_sw;
        gst.sw &= !ignore_sw;
        // FOP is only architecturally defined after an unmasked exception
        // (FOP compatibility mode off, the default since the Pentium 4).
        if hst.sw & 0x80 == 0 {
            hst.fop = 0;
            gst.fop = 0;
        }
        if hst != gst || host[k].1 != guest[k].1 {
            bad.push(format!(
                "case {k}: {c:x?}\n  host  {hst:?} mem {:02x?}\n  guest {gst:?} mem {:02x?}",
                host[k].1, guest[k].1
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        bad.len(),
        cases.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---- values ----------------------------------------------------------------

/// A small deterministic generator.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Interesting 80-bit values: zeros, ±1, extremes, denormals, specials,
/// unsupported encodings, and values with tricky low bits.
pub fn specials() -> Vec<V> {
    let h = 1u64 << 63;
    vec![
        (0, 0),
        (0, 0x8000),
        (h, BIAS),
        (h, 0x8000 | BIAS),
        (0xC000_0000_0000_0000, BIAS),
        (h, BIAS + 1),
        (0xC000_0000_0000_0000, 0x8000 | (BIAS + 1)),
        (0xA000_0000_0000_0000, BIAS + 3),
        (!0, 0x7FFE),
        (!0, 0xFFFE),
        (h, 1),
        (h, 0x8001),
        (1, 0),
        (0x4000_0000_0000_0001, 0x8000),
        (0x8000_0000_0000_0001, 0),
        (h, 0x7FFF),
        (h, 0xFFFF),
        (0xC000_0000_0000_0000, 0x7FFF),
        (0xA000_0000_0000_0000, 0x7FFF),
        (0xC000_0000_0000_0123, 0xFFFF),
        (0x8000_0000_0000_0456, 0x7FFF),
        (0x4000_0000_0000_0000, BIAS),
        (0, 0x7FFF),
        (0x4000_0000_0000_0000, 0x7FFF),
        (0xAAAA_AAAA_AAAA_AAAB, BIAS),
        (0xC90F_DAA2_2168_C235, BIAS + 1),
        (!0, BIAS - 1),
        (h | 1, BIAS),
        (h | 0x400, BIAS + 52),
        (h | 0x0080_0000_0000, 0x8000 | (BIAS + 20)),
        (h, BIAS + 62),
        (!0, BIAS + 62),
        (h, BIAS + 63),
        (h, 0x8000 | (BIAS + 63)),
        (0xC000_0000_0000_0000, BIAS - 1),
        (h, BIAS - 1),
        (0xFFFF_FF80_0000_0000, BIAS - 126),
        (0xFFFF_FFFF_FFFF_F800, BIAS - 1022),
        (h, BIAS - 1023),
        (h, BIAS + 1024),
        (h, BIAS + 128),
        (0xF000_0000_0000_0001, 0x4000 + 0x1FFF),
        (0x9000_0000_0000_0000, 0x1000),
    ]
}

/// A random value: mostly normal numbers of moderate exponent, sometimes
/// extreme exponents, denormals or specials.
pub fn random(r: &mut Rng) -> V {
    let sign = if r.next() & 1 != 0 { 0x8000 } else { 0 };
    let sig = r.next() | 1 << 63;
    let sig = match r.below(4) {
        0 => sig & !0xFFFF,
        1 => sig & !((1 << 40) - 1),
        _ => sig,
    };
    let e = match r.below(16) {
        0 => r.below(0x7FFF) as u16,
        1 => r.below(80) as u16,
        2 => 0x7FFE - r.below(80) as u16,
        3 => return (sig >> (r.below(63) + 1), sign),
        4 => return specials()[r.below(specials().len() as u64) as usize],
        _ => BIAS - 70 + r.below(140) as u16,
    };
    (sig, sign | e.max(1))
}

/// Control words: all masked with every PC/RC; some partly or fully
/// unmasked.
pub fn control_words() -> Vec<u16> {
    let mut v = Vec::new();
    for pc in [0u16, 2, 3] {
        for rc in 0..4u16 {
            v.push(0x3F | pc << 8 | rc << 10 | 0x40);
        }
    }
    v.extend([
        0x0340, 0x0F40, 0x0372, 0x037E, 0x036F, 0x0377, 0x035F, 0x007B,
    ]);
    v
}

/// f32 bit patterns for memory operands.
pub fn f32s(r: &mut Rng) -> Vec<u32> {
    let mut v = vec![
        0,
        0x8000_0000,
        0x3F80_0000,
        0xBFC0_0000,
        0x7F7F_FFFF,
        0x0080_0000,
        1,
        0x8040_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0x7FA0_0001,
        0xFFC0_1234,
        0x4049_0FDB,
    ];
    v.extend((0..18).map(|_| r.next() as u32));
    v
}

/// f64 bit patterns for memory operands.
pub fn f64s(r: &mut Rng) -> Vec<u64> {
    let mut v = vec![
        0,
        0x8000_0000_0000_0000,
        0x3FF0_0000_0000_0000,
        0xBFF8_0000_0000_0000,
        0x7FEF_FFFF_FFFF_FFFF,
        0x0010_0000_0000_0000,
        1,
        0x8008_0000_0000_0000,
        0x7FF0_0000_0000_0000,
        0xFFF0_0000_0000_0000,
        0x7FF8_0000_0000_0000,
        0x7FF4_0000_0000_0001,
        0x4009_21FB_5444_2D18,
    ];
    v.extend((0..18).map(|_| r.next()));
    v
}

/// Integer memory operands of `bytes` bytes (little endian in a u64).
pub fn ints(r: &mut Rng, bytes: u32) -> Vec<u64> {
    let bits = 8 * bytes;
    let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
    let mut v = vec![0, 1, mask, mask >> 1, (mask >> 1) + 1, 3, mask - 6];
    v.extend((0..14).map(|_| r.next() & mask));
    v.extend((0..6).map(|_| r.below(2000).wrapping_sub(1000) & mask));
    v
}

/// The value of an 80-bit register as f64 (NaN for NaNs/unsupported).
pub fn to_f64(v: V) -> f64 {
    let (s, se) = v;
    let e = i32::from(se & 0x7FFF);
    let neg = se & 0x8000 != 0;
    let m = if e == 0x7FFF {
        if s << 1 == 0 { f64::INFINITY } else { f64::NAN }
    } else {
        (s as f64) * 2f64.powi((if e == 0 { 1 } else { e }) - 16383 - 63)
    };
    if neg { -m } else { m }
}

/// Like [`check`] for instructions nestor computes in binary64
/// (transcendentals): registers must agree to `tol` relative to
/// max(|host|, `floor`); C1 is not compared (rounding direction).
pub fn check_approx(
    name: &str,
    insn: &dyn Fn(&mut CodeAssembler),
    cases: &[Case],
    tol: f64,
    floor: f64,
) {
    let host = run_host(insn, cases);
    let guest = run_guest(insn, cases);
    let mut bad = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let (mut hst, mut gst) = (parse(&host[k].0), parse(&guest[k].0));
        hst.sw &= !0x0200;
        gst.sw &= !0x0200;
        hst.fop = 0;
        gst.fop = 0;
        let close = hst.regs.iter().zip(gst.regs.iter()).all(|(h, g)| {
            let (x, y) = (to_f64(*h), to_f64(*g));
            h == g || (x - y).abs() <= tol * x.abs().max(floor)
        });
        let (hr, gr) = (hst.regs, gst.regs);
        hst.regs = [(0, 0); 8];
        gst.regs = [(0, 0); 8];
        if hst != gst || !close {
            hst.regs = hr;
            gst.regs = gr;
            bad.push(format!(
                "case {k}: {c:x?}\n  host  {hst:?}\n  guest {gst:?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        bad.len(),
        cases.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// An 80-bit value from an f64.
pub fn from_f64(x: f64) -> V {
    if x == 0.0 {
        return (0, if x.is_sign_negative() { 0x8000 } else { 0 });
    }
    let u = x.to_bits();
    let e = ((u >> 52) & 0x7FF) as u16;
    let sig = (u << 11) | 1 << 63;
    (sig, (e + BIAS - 1023) | if x < 0.0 { 0x8000 } else { 0 })
}
