//! x87 loads, stores and control-word/status-word instructions through the
//! interpreter, checked against the host FPU (see `x87_oracle`).
#![cfg(target_arch = "x86_64")]

mod common;
mod x87_oracle;

use iced_x86::code_asm::*;
use x87_oracle::*;

/// Load cases: a memory operand from `mems` with 0, 1, 7 or 8 registers
/// already on the stack.
fn load_cases(mems: &[Vec<u8>]) -> Vec<Case> {
    let cws = control_words();
    let mut v = Vec::new();
    for (i, m) in mems.iter().enumerate() {
        for (k, n) in [0usize, 1, 7, 8].into_iter().enumerate() {
            let regs: Vec<V> = (0..n).map(|j| (1 << 63, BIAS + j as u16)).collect();
            let cw = cws[(i * 3 + k * 5) % cws.len()];
            v.push(Case::new(cw, &regs).with_mem(m));
        }
    }
    v
}

/// Store cases: ST(0) from specials and random values; the memory operand
/// is pre-filled with a pattern (unchanged when the store is suppressed).
fn store_cases(seed: u64, n_random: usize) -> Vec<Case> {
    let cws = control_words();
    let mut r = Rng(seed);
    let fill = [0xA5u8; 16];
    let mut v = Vec::new();
    for (i, a) in specials().iter().enumerate() {
        for (k, &cw) in cws.iter().enumerate() {
            if (i + k) % 2 == 0 {
                v.push(Case::new(cw, &[*a, (1 << 63, BIAS)]).with_mem(&fill));
            }
        }
    }
    for _ in 0..n_random {
        let cw = cws[r.below(cws.len() as u64) as usize];
        let a = random(&mut r);
        v.push(Case::new(cw, &[a]).with_mem(&fill));
    }
    // Integer-range edges.
    for e in [14u16, 15, 30, 31, 62, 63, 64] {
        for (s, d) in [(1u64 << 63, 0), (!0, 0), (0xFFFF_FFFF_FFFF_FFFE, 0x8000)] {
            for rc in 0..4u16 {
                let cw = 0x037F | rc << 10;
                v.push(Case::new(cw, &[(s, (BIAS + e) | d)]).with_mem(&fill));
                v.push(Case::new(cw & !1, &[(s, (BIAS + e) | d)]).with_mem(&fill));
            }
        }
    }
    for rc in 0..4u16 {
        for x in [
            0.5f64,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49,
            -0.51,
            1e18,
            -1e18,
            999999999999999999.0,
        ] {
            let u = x.to_bits();
            let e = ((u >> 52) & 0x7FF) as u16;
            let sig = (u << 11) | 1 << 63;
            let se = (e + BIAS - 1023) | if x < 0.0 { 0x8000 } else { 0 };
            v.push(Case::new(0x037F | rc << 10, &[(sig, se)]).with_mem(&fill));
        }
    }
    v.extend(
        [0x037F, 0x037E]
            .iter()
            .map(|&cw| Case::new(cw, &[]).with_mem(&fill)),
    );
    v
}

fn bytes<T: Copy>(v: &[T], f: impl Fn(T) -> Vec<u8>) -> Vec<Vec<u8>> {
    v.iter().map(|x| f(*x)).collect()
}

#[test]
fn fld_m32() {
    let m = bytes(&f32s(&mut Rng(1)), |x| x.to_le_bytes().to_vec());
    check(
        "fld m32",
        &|a| a.fld(dword_ptr(rdx)).unwrap(),
        &load_cases(&m),
        0,
    );
}

#[test]
fn fld_m64() {
    let m = bytes(&f64s(&mut Rng(2)), |x| x.to_le_bytes().to_vec());
    check(
        "fld m64",
        &|a| a.fld(qword_ptr(rdx)).unwrap(),
        &load_cases(&m),
        0,
    );
}

fn m80s() -> Vec<Vec<u8>> {
    let mut r = Rng(3);
    let mut v: Vec<V> = specials();
    v.extend((0..20).map(|_| random(&mut r)));
    bytes(&v, |(s, e)| {
        let mut b = s.to_le_bytes().to_vec();
        b.extend(e.to_le_bytes());
        b
    })
}

#[test]
fn fld_m80() {
    check(
        "fld m80",
        &|a| a.fld(tword_ptr(rdx)).unwrap(),
        &load_cases(&m80s()),
        0,
    );
}

#[test]
fn fild() {
    for (bytes_n, name) in [(2u32, "fild m16"), (4, "fild m32"), (8, "fild m64")] {
        let m = bytes(&ints(&mut Rng(4), bytes_n), |x| {
            x.to_le_bytes()[..bytes_n as usize].to_vec()
        });
        let cases = load_cases(&m);
        match bytes_n {
            2 => check(name, &|a| a.fild(word_ptr(rdx)).unwrap(), &cases, 0),
            4 => check(name, &|a| a.fild(dword_ptr(rdx)).unwrap(), &cases, 0),
            _ => check(name, &|a| a.fild(qword_ptr(rdx)).unwrap(), &cases, 0),
        }
    }
}

#[test]
fn fbld() {
    let mut r = Rng(5);
    let mut m: Vec<Vec<u8>> = Vec::new();
    for k in 0..30 {
        let mut b = [0u8; 10];
        for byte in b.iter_mut().take(9) {
            let (hi, lo) = ((r.below(10)) as u8, (r.below(10)) as u8);
            *byte = hi << 4 | lo;
        }
        b[9] = if k % 3 == 0 { 0x80 } else { 0 };
        if k == 0 {
            b = [0; 10];
        }
        if k == 1 {
            b = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];
        }
        if k == 2 {
            b = [0x99; 10];
            b[9] = 0;
        }
        m.push(b.to_vec());
    }
    check(
        "fbld",
        &|a| a.fbld(tword_ptr(rdx)).unwrap(),
        &load_cases(&m),
        0,
    );
}

macro_rules! store_tests {
    ($($name:ident: |$a:ident| $e:expr;)*) => {$(
        #[test]
        fn $name() {
            let cases = store_cases(0x5151 ^ stringify!($name).len() as u64, 1500);
            check(stringify!($name), &|$a: &mut CodeAssembler| $e.unwrap(), &cases, 0);
        }
    )*};
}

store_tests! {
    fst_m32: |a| a.fst(dword_ptr(rdx));
    fstp_m32: |a| a.fstp(dword_ptr(rdx));
    fst_m64: |a| a.fst(qword_ptr(rdx));
    fstp_m64: |a| a.fstp(qword_ptr(rdx));
    fstp_m80: |a| a.fstp(tword_ptr(rdx));
    fist_m16: |a| a.fist(word_ptr(rdx));
    fist_m32: |a| a.fist(dword_ptr(rdx));
    fistp_m16: |a| a.fistp(word_ptr(rdx));
    fistp_m32: |a| a.fistp(dword_ptr(rdx));
    fistp_m64: |a| a.fistp(qword_ptr(rdx));
    fisttp_m16: |a| a.fisttp(word_ptr(rdx));
    fisttp_m32: |a| a.fisttp(dword_ptr(rdx));
    fisttp_m64: |a| a.fisttp(qword_ptr(rdx));
    fbstp: |a| a.fbstp(tword_ptr(rdx));
}

/// Control and status word instructions on assorted states.
fn ctl_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut r = Rng(6);
    for cw in control_words() {
        for sw in [0u16, 0x0001, 0x0021, 0x4700, 0x003F, 0x00FF, 0x80FF, 0x0041] {
            let w = r.next() as u16;
            v.push(Case {
                cw,
                sw,
                regs: vec![(1 << 63, BIAS)],
                flags: 0,
                mem: [
                    w as u8,
                    (w >> 8) as u8,
                    0x37,
                    0x03,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            });
        }
    }
    v
}

#[test]
fn control_and_status_words() {
    let c = ctl_cases();
    check("fnstcw", &|a| a.fnstcw(word_ptr(rdx)).unwrap(), &c, 0);
    check("fnstsw m16", &|a| a.fnstsw(word_ptr(rdx)).unwrap(), &c, 0);
    check(
        "fnstsw ax",
        &|a| {
            a.fnstsw(ax).unwrap();
            a.mov(word_ptr(rdx + 8), ax).unwrap();
        },
        &c,
        0,
    );
    check("fnclex", &|a| a.fnclex().unwrap(), &c, 0);
    check("fninit", &|a| a.fninit().unwrap(), &c, 0);
    // Waiting instructions only without a pending unmasked exception (the
    // host would raise #MF).
    let c: Vec<Case> = c.into_iter().filter(|c| c.sw & !c.cw & 0x3F == 0).collect();
    check("fldcw", &|a| a.fldcw(word_ptr(rdx)).unwrap(), &c, 0);
    check(
        "fldcw; fnstsw",
        &|a| {
            a.fldcw(word_ptr(rdx + 2)).unwrap();
            a.fnstsw(word_ptr(rdx + 4)).unwrap();
        },
        &c,
        0,
    );
}

/// FNSTENV then FLDENV of a modified image, and FNSAVE/FRSTOR round trips
/// with the stack in every state, in the 28- and 108-byte formats.
#[test]
fn environment_round_trips() {
    let mut cases = Vec::new();
    let mut r = Rng(10);
    for n in 0..=8usize {
        for cw in [0x037F, 0x0F62, 0x0040] {
            let regs: Vec<V> = (0..n).map(|_| random(&mut r)).collect();
            let mut c = Case::new(cw, &regs);
            c.sw = 0x4321 & !0x3800 & !0x80 & (cw | 0xFFC0);
            cases.push(c);
        }
    }
    check(
        "fnstenv",
        &|a| {
            a.fnstenv(ptr(rdx - 64)).unwrap();
            a.fldenv(ptr(rdx - 64)).unwrap();
        },
        &cases,
        0,
    );
    check(
        "fnstenv; fincstp; fldenv",
        &|a| {
            a.fnstenv(ptr(rdx - 64)).unwrap();
            a.fincstp().unwrap();
            a.ffree(st0).unwrap();
            a.fldenv(ptr(rdx - 64)).unwrap();
        },
        &cases,
        0,
    );
    check(
        "fnsave; frstor",
        &|a| {
            a.fnsave(ptr(rdx - 128)).unwrap();
            a.fld1().unwrap();
            a.frstor(ptr(rdx - 128)).unwrap();
        },
        &cases,
        0,
    );
}
