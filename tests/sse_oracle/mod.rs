//! Differential testing of SIMD instructions: the same instruction runs
//! natively on the host (x86-64) and in the interpreter on the same inputs,
//! and every output — the vector registers (all 256 bits), MMX registers,
//! MXCSR (result and exception flags), the status flags, four general
//! registers and a 256-byte memory operand — must agree bit for bit.
#![allow(dead_code)]

use iced_x86::IcedError;
use iced_x86::code_asm::*;

use super::common::{CODE, DATA, Harness, Mode};

/// Layout of the data block both sides read and write (offsets from RSI).
pub const YMM: u64 = 0x000; // ymm0..ymm3, 32 bytes each
pub const MXCSR: u64 = 0x100;
pub const HOST_MXCSR: u64 = 0x104;
pub const FLAGS: u64 = 0x108;
pub const GPR: u64 = 0x110; // rax, rcx, rdx, rbx
pub const MMX: u64 = 0x180; // mm0..mm3
pub const MEM: u64 = 0x200; // 256 bytes, 64-byte aligned
pub const BLOCK: usize = 0x300;

pub type Body = fn(&mut CodeAssembler) -> Result<(), IcedError>;

/// Input value families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum G {
    /// Integers: random, small, extremes.
    I,
    /// Binary32 lanes: normal numbers, small integers, specials.
    S,
    /// Binary64 lanes.
    D,
    /// Short strings over a small alphabet with NULs (PCMPxSTRx).
    Str,
}

pub struct Case {
    pub name: String,
    pub g: G,
    pub body: Body,
    pub mmx: bool,
}

pub fn case(name: &str, g: G, body: Body) -> Case {
    Case {
        name: name.to_string(),
        g,
        body,
        mmx: false,
    }
}

pub fn mcase(name: &str, g: G, body: Body) -> Case {
    Case {
        name: name.to_string(),
        g,
        body,
        mmx: true,
    }
}

#[repr(C, align(64))]
#[derive(Clone)]
pub struct Block(pub [u8; BLOCK]);

impl Block {
    fn q(&self, off: u64) -> u64 {
        u64::from_le_bytes(self.0[off as usize..off as usize + 8].try_into().unwrap())
    }
    fn set_q(&mut self, off: u64, v: u64) {
        self.0[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
}

pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn f32_val(r: &mut Rng) -> u32 {
    const SPECIAL: [u32; 14] = [
        0,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0xFFC1_2345,
        0x7F80_0001,
        0x0000_0001,
        0x807F_FFFF,
        0x7F7F_FFFF,
        0x0080_0000,
        0x3F80_0000,
        0x4F00_0000,
        0xCF00_0000,
    ];
    match r.below(10) {
        0 | 1 => SPECIAL[r.below(SPECIAL.len() as u64) as usize],
        2 | 3 => (r.below(21) as f32 - 10.0).to_bits(),
        4 => (r.below(2000) as f32 / 8.0 - 125.0).to_bits(),
        5 => r.next() as u32,
        _ => {
            let e = (127 + r.below(60) as i64 - 30) as u32;
            ((r.below(2) as u32) << 31) | (e << 23) | (r.next() as u32 & 0x7F_FFFF)
        }
    }
}

fn f64_val(r: &mut Rng) -> u64 {
    const SPECIAL: [u64; 14] = [
        0,
        0x8000_0000_0000_0000,
        0x7FF0_0000_0000_0000,
        0xFFF0_0000_0000_0000,
        0x7FF8_0000_0000_0000,
        0xFFF8_0000_1234_5678,
        0x7FF0_0000_0000_0001,
        0x0000_0000_0000_0001,
        0x800F_FFFF_FFFF_FFFF,
        0x7FEF_FFFF_FFFF_FFFF,
        0x0010_0000_0000_0000,
        0x3FF0_0000_0000_0000,
        0x43E0_0000_0000_0000,
        0x41E0_0000_0000_0000,
    ];
    match r.below(10) {
        0 | 1 => SPECIAL[r.below(SPECIAL.len() as u64) as usize],
        2 | 3 => (r.below(21) as f64 - 10.0).to_bits(),
        4 => (r.below(2000) as f64 / 8.0 - 125.0).to_bits(),
        5 => r.next(),
        6 => (f32::from_bits(f32_val(r)) as f64).to_bits(),
        _ => {
            let e = (1023 + r.below(80) as i64 - 40) as u64;
            ((r.below(2)) << 63) | (e << 52) | (r.next() & 0xF_FFFF_FFFF_FFFF)
        }
    }
}

fn int_q(r: &mut Rng) -> u64 {
    match r.below(8) {
        0 => r.below(70),
        1 => u64::MAX,
        2 => 0x8000_0000_8000_8080,
        3 => 0x7FFF_7F7F_7FFF_FFFF,
        4 => {
            let b: [u8; 8] =
                std::array::from_fn(|_| [0, 1, 0x7F, 0x80, 0xFF, 3][r.below(6) as usize]);
            u64::from_le_bytes(b)
        }
        _ => r.next(),
    }
}

fn fill(g: G, r: &mut Rng, buf: &mut [u8]) {
    for c in buf.chunks_exact_mut(8) {
        let q = match g {
            G::I => int_q(r),
            G::S => u64::from(f32_val(r)) | u64::from(f32_val(r)) << 32,
            G::D => f64_val(r),
            G::Str => {
                let b: [u8; 8] = std::array::from_fn(|_| b"\0abcaAz1abc"[r.below(11) as usize]);
                u64::from_le_bytes(b)
            }
        };
        c.copy_from_slice(&q.to_le_bytes());
    }
}

/// MXCSR values the inputs cycle through (all exceptions masked).
const MXCSRS: [u32; 10] = [
    0x1F80,
    0x1F80 | 1 << 13,
    0x1F80 | 2 << 13,
    0x1F80 | 3 << 13,
    0x1F80 | 0x40,
    0x1F80 | 0x8000,
    0x1F80 | 0x20,
    0x1F80 | 0x8040 | 0x3F,
    0x1F80 | 0x8000 | 2 << 13,
    0x1F80 | 0x8000 | 1 << 13 | 0x40,
];

pub fn random_block(g: G, r: &mut Rng, i: usize) -> Block {
    let mut b = Block([0; BLOCK]);
    fill(g, r, &mut b.0[..0x80]);
    fill(g, r, &mut b.0[MEM as usize..MEM as usize + 0x100]);
    fill(G::I, r, &mut b.0[MMX as usize..MMX as usize + 0x20]);
    if g != G::I && g != G::Str {
        fill(g, r, &mut b.0[MMX as usize..MMX as usize + 0x20]);
    }
    b.0[MXCSR as usize..MXCSR as usize + 4]
        .copy_from_slice(&MXCSRS[i % MXCSRS.len()].to_le_bytes());
    b.set_q(FLAGS, 0x202 | (r.next() & 0x8D5));
    for k in 0..4 {
        let v = match r.below(4) {
            0 => r.below(40).wrapping_sub(20),
            1 => r.below(300),
            2 => (f64::from_bits(f64_val(r)) as i64) as u64,
            _ => r.next(),
        };
        b.set_q(GPR + 8 * k, v);
    }
    b
}

const YREGS: [AsmRegisterYmm; 4] = [ymm0, ymm1, ymm2, ymm3];
const MREGS: [AsmRegisterMm; 4] = [mm0, mm1, mm2, mm3];
const GREGS: [AsmRegister64; 4] = [rax, rcx, rdx, rbx];

/// Load inputs, run `body`, store outputs (RSI = block).
fn frame(a: &mut CodeAssembler, c: &Case) -> Result<(), IcedError> {
    for (i, r) in YREGS.iter().enumerate() {
        a.vmovdqu(*r, ymmword_ptr(rsi + YMM + 32 * i as u64))?;
    }
    if c.mmx {
        for (i, r) in MREGS.iter().enumerate() {
            a.movq(*r, qword_ptr(rsi + MMX + 8 * i as u64))?;
        }
    }
    a.ldmxcsr(dword_ptr(rsi + MXCSR))?;
    for (i, r) in GREGS.iter().enumerate() {
        a.mov(*r, qword_ptr(rsi + GPR + 8 * i as u64))?;
    }
    a.lea(rdi, qword_ptr(rsi + MEM))?;
    a.push(qword_ptr(rsi + FLAGS))?;
    a.popfq()?;
    (c.body)(a)?;
    a.pushfq()?;
    a.pop(qword_ptr(rsi + FLAGS))?;
    a.stmxcsr(dword_ptr(rsi + MXCSR))?;
    for (i, r) in YREGS.iter().enumerate() {
        a.vmovdqu(ymmword_ptr(rsi + YMM + 32 * i as u64), *r)?;
    }
    for (i, r) in GREGS.iter().enumerate() {
        a.mov(qword_ptr(rsi + GPR + 8 * i as u64), *r)?;
    }
    if c.mmx {
        for (i, r) in MREGS.iter().enumerate() {
            a.movq(qword_ptr(rsi + MMX + 8 * i as u64), *r)?;
        }
        a.emms()?;
    }
    Ok(())
}

/// The host side: the frame in executable memory.
pub struct Native {
    map: memmap2::Mmap,
}

impl Native {
    pub fn new(c: &Case) -> Self {
        let mut a = CodeAssembler::new(64).unwrap();
        for r in [rbx, rbp, r12, r13, r14, r15, rsi] {
            a.push(r).unwrap();
        }
        a.mov(rsi, rdi).unwrap();
        a.stmxcsr(dword_ptr(rsi + HOST_MXCSR)).unwrap();
        frame(&mut a, c).unwrap();
        a.ldmxcsr(dword_ptr(rsi + HOST_MXCSR)).unwrap();
        a.vzeroupper().unwrap();
        for r in [rsi, r15, r14, r13, r12, rbp, rbx] {
            a.pop(r).unwrap();
        }
        a.ret().unwrap();
        let code = a.assemble(0).unwrap();
        let mut m = memmap2::MmapMut::map_anon(4096).unwrap();
        m[..code.len()].copy_from_slice(&code);
        Native {
            map: m.make_exec().unwrap(),
        }
    }

    pub fn run(&self, b: &mut Block) {
        // SAFETY: the mapping holds a complete function following the
        // System V ABI (callee-saved registers and MXCSR restored) that
        // only touches the block passed in RDI.
        unsafe {
            let f: extern "C" fn(*mut u8) = std::mem::transmute(self.map.as_ptr());
            f(b.0.as_mut_ptr());
        }
    }
}

/// The CPU model the interpreter side runs (features `max` leaves out).
pub const MODEL: &str = "max,+aes,+pclmulqdq,+fma,+f16c";

/// The interpreter side.
pub struct Emu {
    pub h: Harness,
}

impl Emu {
    pub fn new(c: &Case) -> Self {
        let mut a = CodeAssembler::new(64).unwrap();
        frame(&mut a, c).unwrap();
        a.mov(eax, 0u32).unwrap();
        a.out(0xF4, eax).unwrap();
        let code = a.assemble(CODE).unwrap();
        let mut h = Harness::new(MODEL, Mode::Long64, &code);
        enable_simd(&mut h);
        Emu { h }
    }

    pub fn run(&mut self, b: &mut Block) {
        let h = &mut self.h;
        h.plat.mem.write(DATA, &b.0).unwrap();
        h.interp.cpu.regs[6] = DATA;
        h.interp.cpu.rip = CODE;
        h.plat.exit = None;
        let (r, e) = h.run(100_000);
        assert_eq!(
            e,
            Some(0),
            "guest did not finish: {r:?}, fault {:?}",
            h.interp.cpu.fault
        );
        h.plat.mem.read(DATA, &mut b.0).unwrap();
    }
}

/// CR4.OSFXSR, OSXMMEXCPT, OSXSAVE and XCR0 = x87|SSE|AVX.
pub fn enable_simd(h: &mut Harness) {
    use nestor::state::cr4;
    h.interp.cpu.s.cr.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT | cr4::OSXSAVE;
    h.interp.cpu.s.xcr0 = 7;
}

fn describe(b: &Block) -> String {
    let mut s = String::new();
    for i in 0..4 {
        s += &format!(
            "  ymm{i} {:016x}_{:016x}_{:016x}_{:016x}\n",
            b.q(32 * i + 24),
            b.q(32 * i + 16),
            b.q(32 * i + 8),
            b.q(32 * i)
        );
    }
    s += &format!(
        "  mxcsr {:#x} flags {:#x} rax {:#x} rcx {:#x} rdx {:#x} rbx {:#x}\n",
        b.q(MXCSR) as u32,
        b.q(FLAGS) & 0x8D5,
        b.q(GPR),
        b.q(GPR + 8),
        b.q(GPR + 16),
        b.q(GPR + 24)
    );
    s += &format!(
        "  mm0-3 {:#x} {:#x} {:#x} {:#x}\n  mem {:016x} {:016x} {:016x} {:016x}\n",
        b.q(MMX),
        b.q(MMX + 8),
        b.q(MMX + 16),
        b.q(MMX + 24),
        b.q(MEM),
        b.q(MEM + 8),
        b.q(MEM + 16),
        b.q(MEM + 24)
    );
    s
}

/// The parts of the block that must agree.
fn outputs(b: &Block) -> Vec<u8> {
    let mut v = b.0[..0x100].to_vec();
    v.extend_from_slice(&b.0[MXCSR as usize..MXCSR as usize + 4]);
    v.extend_from_slice(&(b.q(FLAGS) & 0x8D5).to_le_bytes());
    v.extend_from_slice(&b.0[GPR as usize..GPR as usize + 32]);
    v.extend_from_slice(&b.0[MMX as usize..MMX as usize + 32]);
    v.extend_from_slice(&b.0[MEM as usize..MEM as usize + 0x100]);
    v
}

/// Runs every case on `n` random inputs natively and in the interpreter;
/// panics listing the first disagreements.
pub fn check(cases: &[Case], n: usize) {
    eprintln!("{} instruction forms x {n} inputs", cases.len());
    let mut failures = Vec::new();
    for (ci, c) in cases.iter().enumerate() {
        let native = Native::new(c);
        let mut emu = Emu::new(c);
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15 ^ ((ci as u64 + 1) * 0x1000_0001));
        for i in 0..n {
            let input = random_block(c.g, &mut rng, i);
            let (mut x, mut y) = (input.clone(), input.clone());
            native.run(&mut x);
            emu.run(&mut y);
            if outputs(&x) != outputs(&y) {
                failures.push(format!(
                    "{} (input {i}):\ninput:\n{}host:\n{}interpreter:\n{}",
                    c.name,
                    describe(&input),
                    describe(&x),
                    describe(&y)
                ));
                break;
            }
        }
    }
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(12);
        panic!(
            "{n} case(s) disagree with the host:\n{}",
            failures.join("\n")
        );
    }
}

/// The host has what the oracle needs.
pub fn host_ok() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c")
        && std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("sse4.2")
}
