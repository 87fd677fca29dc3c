//! Random bytes as code, in every mode: the guest gets architectural
//! answers (#UD, #GP, #PF, triple fault → shutdown), the host survives and
//! reports cleanly, and the same bytes give the same run twice.
//!
//! The code page is random; the IDT (or real-mode IVT) sends every
//! exception back into the random bytes, so a run keeps executing new
//! garbage after each fault instead of stopping at the first one. Random
//! stores may hit the page tables, the GDT, the IDT and the code itself
//! (self-modifying code): all of that is in scope.

use nestor::interp::RunExit;
use nestor::interp::testkit::{CODE, DATA, Harness, Mode};
use nestor::state::{SegReg, Segment, segment::ar};

/// Instructions per run: enough to go through many faults and blocks.
const BUDGET: u64 = 20_000;
const SEEDS: u64 = 150;
const CODE_BYTES: usize = 8192;

/// splitmix64: a fixed, seedable generator (no host randomness).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    (0..n).map(|_| next(&mut s) as u8).collect()
}

#[derive(Clone, Copy, Debug)]
enum Flavor {
    Real,
    Prot32,
    Long64Kernel,
    Long64User,
}

/// A harness running `code` in `flavor`, with every exception vector
/// pointing into the random code and random register values.
fn harness(flavor: Flavor, seed: u64, code: &[u8]) -> Harness {
    let mode = match flavor {
        Flavor::Real => Mode::Real,
        Flavor::Prot32 => Mode::Prot32,
        Flavor::Long64Kernel | Flavor::Long64User => Mode::Long64,
    };
    let mut h = Harness::new("max", mode, code);
    let mut s = seed ^ 0xA5A5_A5A5;
    let handler = CODE + (next(&mut s) % code.len() as u64);
    match flavor {
        Flavor::Real => {
            // IVT at 0: every vector → CS:IP inside the code.
            let seg = (CODE >> 4) as u32;
            let ip = (handler - CODE) as u32;
            for v in 0..256u64 {
                h.plat.mem.write_u32(4 * v, seg << 16 | ip).expect("ivt");
            }
        }
        Flavor::Prot32 => {
            // 32-bit interrupt gates to selector 0x10 (32-bit code).
            let idt = 0x3000u64;
            for v in 0..256u64 {
                let lo = (handler & 0xFFFF) | 0x10 << 16 | 0x8E00 << 32 | (handler >> 16) << 48;
                h.plat.mem.write_u64(idt + 8 * v, lo).expect("idt");
            }
            h.interp.cpu.s.idtr.base = idt;
            h.interp.cpu.s.idtr.limit = 256 * 8 - 1;
        }
        Flavor::Long64Kernel | Flavor::Long64User => {
            h = h.with_idt64(handler);
        }
    }
    let mut st = h.interp.cpu.export().clone();
    for (i, r) in st.gpr.iter_mut().enumerate() {
        // Half the registers point into the data area so that memory
        // operands often hit mapped RAM rather than faulting at once.
        *r = if i % 2 == 0 {
            DATA + (next(&mut s) & 0xFFFF)
        } else {
            next(&mut s)
        };
    }
    st.gpr[4] = 0x8_0000 - 0x100; // a usable stack
    if matches!(flavor, Flavor::Real) {
        st.gpr[4] = 0x7F00;
    }
    if matches!(flavor, Flavor::Long64Kernel | Flavor::Long64User) {
        // A 64-bit TSS (GDT entry 8, selector 0x40): RSP0 for exceptions
        // from CPL 3, and IST1 for every vector, so that delivery works
        // whatever the random code did to RSP (SDM 7.14.5).
        let (gdt, tss) = (0x1000u64, 0x6000u64);
        let lo = 0x67 | (tss & 0xFF_FFFF) << 16 | 0x89 << 40 | (tss >> 24 & 0xFF) << 56;
        h.plat
            .mem
            .write_u64(gdt + 8 * 8, lo)
            .expect("tss descriptor");
        h.plat
            .mem
            .write_u64(gdt + 8 * 9, tss >> 32)
            .expect("tss descriptor");
        h.plat.mem.write_u64(tss + 4, 0x7_0000).expect("rsp0");
        h.plat.mem.write_u64(tss + 0x24, 0x7_8000).expect("ist1");
        for v in 0..256u64 {
            let gate = h.plat.mem.read_u64(0x3000 + 16 * v).expect("idt");
            h.plat
                .mem
                .write_u64(0x3000 + 16 * v, gate | 1 << 32)
                .expect("idt");
        }
        st.gdtr.limit = 10 * 8 - 1;
        st.tr = Segment::new(0x40, tss, 0x67, ar::P | 0xB);
    }
    if let Flavor::Long64User = flavor {
        // CPL 3: user code and data selectors.
        let code64 = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G | 3 << 5;
        let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G | 3 << 5;
        *st.seg_mut(SegReg::Cs) = Segment::new(0x33, 0, 0xFFFF_FFFF, code64);
        *st.seg_mut(SegReg::Ss) = Segment::new(0x3B, 0, 0xFFFF_FFFF, data);
    }
    h.interp.cpu.import(st);
    h.interp.flush_code();
    h
}

/// Runs until the budget is used or the vCPU stops for good; returns the
/// outcome, instruction count and final registers.
fn run(h: &mut Harness) -> (RunExit, u64, [u64; 16], u64) {
    let mut left = BUDGET;
    let mut last = RunExit::Budget;
    while left > 0 {
        let before = h.interp.cpu.icount;
        last = h.interp.run(&mut h.plat, left);
        let done = h.interp.cpu.icount - before;
        left = left.saturating_sub(done);
        match last {
            RunExit::Exit => {
                // Exit-port writes from random code are just output here;
                // a stop without progress still uses budget, so this ends.
                h.plat.exit = None;
                if done == 0 {
                    left -= 1;
                }
            }
            RunExit::Budget => {}
            RunExit::Halted | RunExit::Shutdown => break,
        }
    }
    let icount = h.interp.cpu.icount;
    let st = h.interp.cpu.export();
    (last, icount, st.gpr, st.rip)
}

fn fuzz(flavor: Flavor) {
    let mut outcomes = [0u32; 4];
    for seed in 0..SEEDS {
        let code = random_bytes(seed * 7919 + flavor as u64, CODE_BYTES);
        let mut a = harness(flavor, seed, &code);
        let ra = run(&mut a);
        let mut b = harness(flavor, seed, &code);
        let rb = run(&mut b);
        assert_eq!(
            ra, rb,
            "{flavor:?} seed {seed}: two runs of the same bytes differ"
        );
        assert_eq!(
            a.plat.serial, b.plat.serial,
            "{flavor:?} seed {seed}: output differs"
        );
        assert!(
            ra.1 <= BUDGET + 1,
            "{flavor:?} seed {seed}: ran past the budget"
        );
        outcomes[ra.0 as usize] += 1;
    }
    // Some runs must have gone a long way and some must have stopped:
    // random code both executes and faults.
    println!("{flavor:?}: outcomes Budget/Halted/Shutdown/Exit = {outcomes:?}");
    assert_eq!(outcomes.iter().sum::<u32>(), SEEDS as u32);
}

#[test]
fn random_code_real_mode() {
    fuzz(Flavor::Real);
}

#[test]
fn random_code_protected_mode_32() {
    fuzz(Flavor::Prot32);
}

#[test]
fn random_code_long_mode_kernel() {
    fuzz(Flavor::Long64Kernel);
}

#[test]
fn random_code_long_mode_user() {
    fuzz(Flavor::Long64User);
}
