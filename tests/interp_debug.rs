//! The debug facilities (SDM Vol. 3B Chapter 18; AMD APM Vol. 2 Chapter
//! 13): DR7 instruction, data and I/O breakpoints with their LEN and
//! alignment rules, RFLAGS.RF, general detect, single step with the STI and
//! MOV SS shadows, ICEBP/INT3/INT n, and the Intel/AMD difference for
//! instruction breakpoints after MOV SS.
//!
//! Every case is a 64-bit program plus the list of events it must produce.
//! Each IDT vector has a stub that records (vector, return RIP, DR6, pushed
//! RFLAGS) in a log, then clears DR6 and, for #DB, sets RF in the frame (as
//! kvm-unit-tests' debug.c handler does) so that an instruction breakpoint
//! lets the instruction run when the handler returns.

mod common;

use std::collections::HashMap;

use common::*;
use iced_x86::BlockEncoderOptions;
use iced_x86::code_asm::*;

/// The handler stubs and the common handler.
const HANDLERS: u64 = 0x12_0000;
/// Event log: count, then 32-byte entries (vector, RIP, DR6, RFLAGS).
const LOG: u64 = DATA + 0x1_0000;
/// The log stops single-stepping and breakpoints after this many events.
const MAX_EVENTS: u64 = 16;

const TF: u64 = 1 << 8;
const RF: u64 = 1 << 16;
const DR6_FIXED: u64 = 0xFFFF_0FF0;
const BD: u64 = 1 << 13;
const BS: u64 = 1 << 14;
const B0: u64 = 1;
const B1: u64 = 2;
const B2: u64 = 4;
const B3: u64 = 8;

/// DR7 R/W encodings.
const EXEC: u64 = 0;
const WRITE: u64 = 1;
const IO: u64 = 2;
const RW: u64 = 3;

/// DR7 for breakpoint `n` with kind `rw` and `len` bytes, globally
/// (`global`) or locally enabled.
fn dr7_bp(n: u64, rw: u64, len: u64, global: bool) -> u64 {
    let len_code = match len {
        1 => 0,
        2 => 1,
        8 => 2,
        _ => 3,
    };
    let enable = if global { 2 } else { 1 } << (2 * n);
    enable | (rw << (16 + 4 * n)) | (len_code << (18 + 4 * n))
}

/// Named code labels of a program.
#[derive(Default)]
struct Labels {
    map: Vec<(&'static str, CodeLabel)>,
}

impl Labels {
    /// The label `name`, created on first use (for forward references).
    fn get(&mut self, a: &mut CodeAssembler, name: &'static str) -> CodeLabel {
        if let Some((_, l)) = self.map.iter().find(|(n, _)| *n == name) {
            return *l;
        }
        let l = a.create_label();
        self.map.push((name, l));
        l
    }
    /// Places `name` at the next instruction.
    fn here(&mut self, a: &mut CodeAssembler, name: &'static str) {
        let mut l = self.get(a, name);
        a.set_label(&mut l).unwrap();
        let slot = self.map.iter_mut().find(|(n, _)| *n == name).unwrap();
        slot.1 = l;
    }
}

/// Assembles 64-bit code at `base`; returns the bytes and label addresses.
fn assemble(
    base: u64,
    f: impl FnOnce(&mut CodeAssembler, &mut Labels),
) -> (Vec<u8>, HashMap<&'static str, u64>) {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut labels = Labels::default();
    f(&mut a, &mut labels);
    let r = a
        .assemble_options(base, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)
        .unwrap();
    let addrs = labels
        .map
        .iter()
        .map(|(n, l)| (*n, r.label_ip(l).unwrap()))
        .collect();
    (r.inner.code_buffer, addrs)
}

/// "stub0".."stub255".
static STUB_NAMES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    (0..256)
        .map(|v| &*Box::leak(format!("stub{v}").into_boxed_str()))
        .collect()
});

/// Vectors that push an error code.
fn has_error_code(v: u32) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21)
}

/// The per-vector stubs (labels "stub0".."stub255") and the common
/// recording handler.
fn handlers() -> (Vec<u8>, HashMap<&'static str, u64>) {
    assemble(HANDLERS, |a, l| {
        let mut common = a.create_label();
        for v in 0..256u32 {
            l.here(a, STUB_NAMES[v as usize]);
            if has_error_code(v) {
                a.add(rsp, 8).unwrap();
            }
            a.push(v as i32).unwrap();
            a.jmp(common).unwrap();
        }
        a.set_label(&mut common).unwrap();
        // Stack: vector, RIP, CS, RFLAGS, RSP, SS; then rax, rbx, rcx.
        a.push(rax).unwrap();
        a.push(rbx).unwrap();
        a.push(rcx).unwrap();
        a.mov(rbx, LOG).unwrap();
        a.mov(rcx, qword_ptr(rbx)).unwrap();
        a.shl(rcx, 5).unwrap();
        a.add(rcx, rbx).unwrap();
        a.mov(rax, qword_ptr(rsp + 24)).unwrap();
        a.mov(qword_ptr(rcx + 8), rax).unwrap();
        a.mov(rax, qword_ptr(rsp + 32)).unwrap();
        a.mov(qword_ptr(rcx + 16), rax).unwrap();
        a.mov(rax, dr6).unwrap();
        a.mov(qword_ptr(rcx + 24), rax).unwrap();
        a.mov(rax, qword_ptr(rsp + 48)).unwrap();
        a.mov(qword_ptr(rcx + 32), rax).unwrap();
        a.xor(eax, eax).unwrap();
        a.mov(dr6, rax).unwrap();
        let mut no_rf = a.create_label();
        a.cmp(qword_ptr(rsp + 24), 1).unwrap();
        a.jne(no_rf).unwrap();
        a.or(qword_ptr(rsp + 48), RF as i32).unwrap();
        a.set_label(&mut no_rf).unwrap();
        a.inc(qword_ptr(rbx)).unwrap();
        let mut out = a.create_label();
        a.cmp(qword_ptr(rbx), MAX_EVENTS as i32).unwrap();
        a.jb(out).unwrap();
        // Too many events: stop single-stepping and disarm.
        a.and(qword_ptr(rsp + 48), !(TF as i32)).unwrap();
        a.mov(eax, 0x400).unwrap();
        a.mov(dr7, rax).unwrap();
        a.set_label(&mut out).unwrap();
        a.pop(rcx).unwrap();
        a.pop(rbx).unwrap();
        a.pop(rax).unwrap();
        a.add(rsp, 8).unwrap();
        a.iretq().unwrap();
    })
}

/// One expected event: vector, label of the return RIP, DR6 bits beyond
/// the fixed ones (for vectors other than #DB: what the handler read, 0),
/// RF in the pushed RFLAGS.
type Event = (u32, &'static str, u64, bool);

struct Case {
    name: &'static str,
    model: &'static str,
    program: fn(&mut CodeAssembler, &mut Labels),
    events: Vec<Event>,
}

fn exit(a: &mut CodeAssembler) {
    a.mov(eax, 0u32).unwrap();
    a.out(0xF4, eax).unwrap();
}

/// DRn = address of label `at`, DR7 = `dr7`.
fn arm_at(a: &mut CodeAssembler, l: &mut Labels, n: u64, at: &'static str, dr7v: u64) {
    let target = l.get(a, at);
    a.lea(rax, ptr(target)).unwrap();
    set_dr(a, n);
    a.mov(rax, dr7v | 0x400).unwrap();
    a.mov(dr7, rax).unwrap();
}

/// DRn = `addr`, DR7 = `dr7`.
fn arm(a: &mut CodeAssembler, n: u64, addr: u64, dr7v: u64) {
    a.mov(rax, addr).unwrap();
    set_dr(a, n);
    a.mov(rax, dr7v | 0x400).unwrap();
    a.mov(dr7, rax).unwrap();
}

fn set_dr(a: &mut CodeAssembler, n: u64) {
    match n {
        0 => a.mov(dr0, rax),
        1 => a.mov(dr1, rax),
        2 => a.mov(dr2, rax),
        _ => a.mov(dr3, rax),
    }
    .unwrap();
}

fn disarm(a: &mut CodeAssembler) {
    a.mov(eax, 0x400).unwrap();
    a.mov(dr7, rax).unwrap();
}

/// Sets TF with POPF: the first trap comes after the next instruction.
fn tf_on(a: &mut CodeAssembler) {
    a.pushfq().unwrap();
    a.or(qword_ptr(rsp), TF as i32).unwrap();
    a.popfq().unwrap();
}

/// Clears TF (three instructions, each trapping; labels t1, t2, t3 are
/// the RIPs after each of them).
fn tf_off(a: &mut CodeAssembler, l: &mut Labels) {
    a.pushfq().unwrap();
    l.here(a, "t1");
    a.and(qword_ptr(rsp), !(TF as i32)).unwrap();
    l.here(a, "t2");
    a.popfq().unwrap();
    l.here(a, "t3");
}

/// The traps of [`tf_off`].
fn tf_off_events() -> Vec<Event> {
    vec![
        (1, "t1", BS, false),
        (1, "t2", BS, false),
        (1, "t3", BS, false),
    ]
}

fn run_case(c: &Case) {
    run_case_with(c, |_| {});
}

/// Runs `c` after `setup` has adjusted the machine.
fn run_case_with(c: &Case, setup: impl Fn(&mut Harness)) {
    let (code, labels) = assemble(CODE, c.program);
    let (hcode, hlabels) = handlers();
    let mut h = Harness::new(c.model, Mode::Long64, &code);
    h.plat.mem.write(HANDLERS, &hcode).unwrap();
    install_idt(&mut h, &hlabels);
    setup(&mut h);
    let (r, e) = h.run(100_000);
    assert_eq!(e, Some(0), "{}: did not finish ({r:?})", c.name);
    let mem = &h.plat.mem;
    let n = mem.read_u64(LOG).unwrap();
    let mut got = Vec::new();
    for i in 0..n {
        let at = LOG + 8 + 32 * i;
        got.push((
            mem.read_u64(at).unwrap(),
            mem.read_u64(at + 8).unwrap(),
            mem.read_u64(at + 16).unwrap(),
            mem.read_u64(at + 24).unwrap(),
        ));
    }
    let addr = |name: &str| {
        labels
            .get(name)
            .or_else(|| hlabels.get(name))
            .copied()
            .unwrap_or_else(|| panic!("{}: no label {name}", c.name))
    };
    let want: Vec<(u64, u64, u64, u64)> = c
        .events
        .iter()
        .map(|&(v, at, bits, rf)| {
            let d6 = if v == 1 { DR6_FIXED | bits } else { DR6_FIXED };
            (u64::from(v), addr(at), d6, u64::from(rf))
        })
        .collect();
    let got_cmp: Vec<(u64, u64, u64, u64)> = got
        .iter()
        .map(|&(v, rip, d6, fl)| (v, rip, d6, u64::from(fl & RF != 0)))
        .collect();
    let names: HashMap<u64, &str> = labels.iter().map(|(n, a)| (*a, *n)).collect();
    let show = |evs: &[(u64, u64, u64, u64)]| {
        evs.iter()
            .map(|(v, rip, d6, rf)| {
                let at = names.get(rip).copied().unwrap_or("?");
                format!("(#{v} at {rip:#x} [{at}] dr6={d6:#x} rf={rf})")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        got_cmp,
        want,
        "{}:\n got  {}\n want {}",
        c.name,
        show(&got_cmp),
        show(&want)
    );
    // Single step and the breakpoints never leave TF set at the end.
    assert_eq!(h.interp.cpu.rflags & TF, 0, "{}", c.name);
}

fn run_all(cases: &[Case]) {
    for c in cases {
        run_case(c);
    }
    eprintln!("{} cases", cases.len());
}

// ---- instruction breakpoints ------------------------------------------------

#[test]
fn instruction_breakpoints() {
    let cases = [
        Case {
            name: "DR0 global enable: fault before the instruction, RF pushed as 0",
            model: "max",
            program: |a, l| {
                arm_at(a, l, 0, "bp", dr7_bp(0, EXEC, 1, true));
                a.nop().unwrap();
                l.here(a, "bp");
                a.nop().unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "bp", B0, false)],
        },
        Case {
            name: "DR2 local enable",
            model: "max",
            program: |a, l| {
                arm_at(a, l, 2, "bp", dr7_bp(2, EXEC, 1, false));
                l.here(a, "bp");
                a.nop().unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "bp", B2, false)],
        },
        Case {
            name: "not enabled: no #DB",
            model: "max",
            program: |a, l| {
                arm_at(a, l, 1, "bp", dr7_bp(0, EXEC, 1, true) & !3);
                l.here(a, "bp");
                a.nop().unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![],
        },
        Case {
            name: "two breakpoints on one instruction, one enabled: both B bits",
            model: "qemu64",
            program: |a, l| {
                arm_at(a, l, 3, "bp", 0);
                arm_at(a, l, 1, "bp", dr7_bp(1, EXEC, 1, true));
                l.here(a, "bp");
                a.nop().unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "bp", B1 | B3, false)],
        },
        Case {
            name: "RF = 1 from IRET suppresses the breakpoint once",
            model: "max",
            program: |a, l| {
                a.xor(ebx, ebx).unwrap();
                arm_at(a, l, 0, "bp", dr7_bp(0, EXEC, 1, true));
                // IRET to bp with RF = 1 in the image.
                a.mov(rdx, rsp).unwrap();
                a.push(0x18).unwrap();
                a.push(rdx).unwrap();
                a.pushfq().unwrap();
                a.or(qword_ptr(rsp), RF as i32).unwrap();
                a.push(0x08).unwrap();
                let target = l.get(a, "bp");
                a.lea(rax, ptr(target)).unwrap();
                a.push(rax).unwrap();
                a.iretq().unwrap();
                l.here(a, "bp");
                a.inc(ebx).unwrap();
                a.cmp(ebx, 2).unwrap();
                let back = l.get(a, "bp");
                a.jb(back).unwrap();
                disarm(a);
                exit(a);
            },
            // First pass: RF = 1, no #DB; second pass (RF cleared after the
            // first instruction) faults.
            events: vec![(1, "bp", B0, false)],
        },
        Case {
            name: "breakpoint on a REP instruction fires once, not per iteration",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA + 0x800).unwrap();
                a.mov(ecx, 100).unwrap();
                a.xor(eax, eax).unwrap();
                arm_at(a, l, 0, "bp", dr7_bp(0, EXEC, 1, true));
                l.here(a, "bp");
                a.rep().stosb().unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "bp", B0, false)],
        },
    ];
    run_all(&cases);
}

// ---- data breakpoints: kinds, LEN and alignment ------------------------------

/// One access against one breakpoint: (bp address offset, LEN, R/W,
/// access offset, access size, is write, hits).
type DataRow = (u64, u64, u64, u64, usize, bool, bool);

const DATA_ROWS: &[DataRow] = &[
    // LEN 1: only that byte; a wider access overlapping it hits.
    (5, 1, WRITE, 5, 1, true, true),
    (5, 1, WRITE, 4, 1, true, false),
    (5, 1, WRITE, 6, 1, true, false),
    (5, 1, WRITE, 4, 2, true, true),
    // LEN 2: the address is aligned down to 2 (5 → 4..5).
    (5, 2, WRITE, 4, 1, true, true),
    (5, 2, WRITE, 6, 1, true, false),
    (5, 2, WRITE, 3, 1, true, false),
    // LEN 4: 7 → 4..7.
    (7, 4, WRITE, 4, 1, true, true),
    (7, 4, WRITE, 8, 1, true, false),
    (7, 4, WRITE, 3, 1, true, false),
    (7, 4, WRITE, 0, 8, true, true),
    (7, 4, WRITE, 2, 2, true, false),
    // LEN 8: 0xF → 8..0xF.
    (0xF, 8, WRITE, 0xC, 4, true, true),
    (0xF, 8, WRITE, 0x10, 1, true, false),
    (0xF, 8, WRITE, 7, 1, true, false),
    (0xF, 8, WRITE, 7, 2, true, true),
    // R/W = 01 ignores reads; 11 takes both.
    (0x20, 4, WRITE, 0x20, 4, false, false),
    (0x20, 4, RW, 0x20, 4, false, true),
    (0x20, 4, RW, 0x22, 1, true, true),
    // An access crossing a page boundary.
    (0x1002, 1, WRITE, 0xFFC, 8, true, true),
    (0x1002, 1, RW, 0xFFC, 4, false, false),
];

#[test]
fn data_breakpoints_len_alignment_and_kinds() {
    for (i, &(bp_off, len, rw, off, size, write, hits)) in DATA_ROWS.iter().enumerate() {
        let code = assemble(CODE, |a, l| {
            a.mov(rdi, DATA).unwrap();
            arm(a, 1, DATA + bp_off, dr7_bp(1, rw, len, true));
            let m = rdi + off as i32;
            match (size, write) {
                (1, true) => a.mov(byte_ptr(m), 0x11).unwrap(),
                (2, true) => a.mov(word_ptr(m), 0x1122).unwrap(),
                (4, true) => a.mov(dword_ptr(m), 0x1122_3344).unwrap(),
                (_, true) => a.mov(qword_ptr(m), 0x1122_3344).unwrap(),
                (1, false) => a.mov(al, byte_ptr(m)).unwrap(),
                (2, false) => a.mov(ax, word_ptr(m)).unwrap(),
                (4, false) => a.mov(eax, dword_ptr(m)).unwrap(),
                (_, false) => a.mov(rax, qword_ptr(m)).unwrap(),
            }
            l.here(a, "next");
            disarm(a);
            exit(a);
        });
        let (code, labels) = code;
        let (hcode, hlabels) = handlers();
        let mut h = Harness::new("max", Mode::Long64, &code);
        h.plat.mem.write(HANDLERS, &hcode).unwrap();
        install_idt(&mut h, &hlabels);
        let (r, e) = h.run(10_000);
        assert_eq!(e, Some(0), "row {i}: {r:?}");
        let n = h.plat.mem.read_u64(LOG).unwrap();
        let row = format!("row {i}: {:?}", DATA_ROWS[i]);
        if hits {
            assert_eq!(n, 1, "{row}");
            assert_eq!(h.plat.mem.read_u64(LOG + 8).unwrap(), 1, "{row}");
            assert_eq!(
                h.plat.mem.read_u64(LOG + 16).unwrap(),
                labels["next"],
                "{row}"
            );
            assert_eq!(
                h.plat.mem.read_u64(LOG + 24).unwrap(),
                DR6_FIXED | B1,
                "{row}"
            );
        } else {
            assert_eq!(n, 0, "{row}");
        }
        if write {
            // The write happened (the trap comes after the instruction).
            let v = h.plat.mem.read_u8(DATA + off).unwrap();
            let want = match size {
                1 => 0x11,
                2 => 0x22,
                _ => 0x44,
            };
            assert_eq!(v, want, "{row}");
        }
    }
    eprintln!("{} rows", DATA_ROWS.len());
}

fn install_idt(h: &mut Harness, hlabels: &HashMap<&'static str, u64>) {
    for v in 0..256u64 {
        let stub = hlabels[format!("stub{v}").as_str()];
        let lo = (stub & 0xFFFF) | (0x08 << 16) | (0x8E00u64 << 32) | ((stub >> 16) & 0xFFFF) << 48;
        h.plat.mem.write_u64(IDT + 16 * v, lo).unwrap();
        h.plat.mem.write_u64(IDT + 16 * v + 8, stub >> 32).unwrap();
    }
    h.interp.cpu.s.idtr.base = IDT;
    h.interp.cpu.s.idtr.limit = 256 * 16 - 1;
}

#[test]
fn data_breakpoint_traps() {
    let cases = [
        Case {
            name: "write trap after the instruction, RF pushed as 0",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                arm(a, 1, DATA, dr7_bp(1, WRITE, 4, true));
                a.mov(dword_ptr(rdi), 1).unwrap();
                l.here(a, "after");
                a.mov(eax, dword_ptr(rdi)).unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", B1, false)],
        },
        Case {
            name: "DR6.BS written by software stays set; B bits are rewritten",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                arm(a, 1, DATA, dr7_bp(1, WRITE, 4, true));
                a.mov(eax, (BS | B0 | B2) as u32).unwrap();
                a.mov(dr6, rax).unwrap();
                a.mov(dword_ptr(rdi), 1).unwrap();
                l.here(a, "after");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", BS | B1, false)],
        },
        Case {
            name: "a matching breakpoint that is not enabled sets its B bit too",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                arm(a, 2, DATA + 2, dr7_bp(2, RW, 2, true) & !0xFF);
                arm(
                    a,
                    1,
                    DATA,
                    dr7_bp(1, WRITE, 4, true) | (dr7_bp(2, RW, 2, true) & !0xFF),
                );
                a.mov(dword_ptr(rdi), 1).unwrap();
                l.here(a, "after");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", B1 | B2, false)],
        },
        Case {
            name: "push to the stack hits; a read-modify-write hits once",
            model: "qemu64",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                arm(a, 0, STACK - 8, dr7_bp(0, WRITE, 8, true));
                a.push(rax).unwrap();
                l.here(a, "after_push");
                a.pop(rax).unwrap();
                arm(a, 0, DATA, dr7_bp(0, RW, 1, true));
                a.add(byte_ptr(rdi), 1).unwrap();
                l.here(a, "after_add");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after_push", B0, false), (1, "after_add", B0, false)],
        },
        Case {
            name: "REP MOVSB: trap after the iteration, RIP on the instruction, RF = 1",
            model: "max",
            program: |a, l| {
                a.mov(rsi, DATA).unwrap();
                a.mov(rdi, DATA + 0x100).unwrap();
                a.mov(ecx, 4).unwrap();
                arm(a, 1, DATA + 0x101, dr7_bp(1, WRITE, 1, true));
                l.here(a, "rep");
                a.rep().movsb().unwrap();
                l.here(a, "after");
                a.mov(r12, rcx).unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "rep", B1, true)],
        },
        Case {
            name: "REP MOVSB: a hit in the last iteration traps after the instruction",
            model: "max",
            program: |a, l| {
                a.mov(rsi, DATA).unwrap();
                a.mov(rdi, DATA + 0x100).unwrap();
                a.mov(ecx, 4).unwrap();
                arm(a, 1, DATA + 0x103, dr7_bp(1, WRITE, 1, true));
                a.rep().movsb().unwrap();
                l.here(a, "after");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", B1, false)],
        },
    ];
    run_all(&cases);
}

// ---- I/O breakpoints ------------------------------------------------------------

#[test]
fn io_breakpoints() {
    let cases = [
        Case {
            name: "OUT imm8 with CR4.DE = 1",
            model: "max",
            program: |a, l| {
                de_on(a);
                arm(a, 3, 0x80, dr7_bp(3, IO, 1, true));
                a.out(0x80, al).unwrap();
                l.here(a, "after");
                a.out(0x81, al).unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", B3, false)],
        },
        Case {
            name: "R/W = 10 is not an I/O breakpoint with CR4.DE = 0",
            model: "max",
            program: |a, _| {
                arm(a, 3, 0x80, dr7_bp(3, IO, 1, true));
                a.out(0x80, al).unwrap();
                disarm(a);
                exit(a);
            },
            events: vec![],
        },
        Case {
            name: "IN from DX overlapping a LEN 2 range (aligned down)",
            model: "qemu64",
            program: |a, l| {
                de_on(a);
                arm(a, 0, 0x71, dr7_bp(0, IO, 2, true));
                a.mov(edx, 0x6E).unwrap();
                a.in_(ax, dx).unwrap();
                a.mov(edx, 0x72).unwrap();
                a.in_(al, dx).unwrap();
                a.mov(edx, 0x6F).unwrap();
                a.in_(eax, dx).unwrap();
                l.here(a, "after");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "after", B0, false)],
        },
        Case {
            name: "REP OUTSB: a trap per matching iteration",
            model: "max",
            program: |a, l| {
                de_on(a);
                a.mov(rsi, DATA).unwrap();
                a.mov(ecx, 2).unwrap();
                a.mov(edx, 0x80).unwrap();
                arm(a, 2, 0x80, dr7_bp(2, IO, 1, true));
                l.here(a, "rep");
                a.rep().outsb().unwrap();
                l.here(a, "after");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "rep", B2, true), (1, "after", B2, false)],
        },
    ];
    run_all(&cases);
}

fn de_on(a: &mut CodeAssembler) {
    a.mov(rax, cr4).unwrap();
    a.or(rax, 8).unwrap();
    a.mov(cr4, rax).unwrap();
}

// ---- general detect ---------------------------------------------------------------

#[test]
fn general_detect() {
    let cases = [Case {
        name: "MOV from DR6 with DR7.GD = 1: #DB fault with BD, RF pushed as 1, GD cleared",
        model: "max",
        program: |a, l| {
            a.mov(eax, 0x2400).unwrap();
            a.mov(dr7, rax).unwrap();
            l.here(a, "mov");
            a.mov(r14, dr6).unwrap();
            a.mov(r13, dr7).unwrap();
            exit(a);
        },
        events: vec![(1, "mov", BD, true)],
    }];
    run_all(&cases);
    let (code, _) = assemble(CODE, cases[0].program);
    let (hcode, hlabels) = handlers();
    let mut h = Harness::new("max", Mode::Long64, &code);
    h.plat.mem.write(HANDLERS, &hcode).unwrap();
    install_idt(&mut h, &hlabels);
    assert_eq!(h.run(10_000).1, Some(0));
    assert_eq!(h.reg(13), 0x400, "GD cleared by the #DB");
    // The MOV that faulted ran when the handler returned: it read the DR6
    // the handler left (cleared).
    assert_eq!(h.reg(14), 0xFFFF_0FF0);
}

#[test]
fn dr6_dr7_fixed_bits() {
    let code = assemble(CODE, |a, _| {
        a.xor(eax, eax).unwrap();
        a.mov(dr6, rax).unwrap();
        a.mov(r8, dr6).unwrap();
        a.mov(eax, u32::MAX).unwrap();
        a.mov(dr6, rax).unwrap();
        a.mov(r9, dr6).unwrap();
        a.xor(eax, eax).unwrap();
        a.mov(dr7, rax).unwrap();
        a.mov(r10, dr7).unwrap();
        exit(a);
    })
    .0;
    let mut h = Harness::new("max", Mode::Long64, &code);
    assert_eq!(h.run(1000).1, Some(0));
    // RTM (bit 16) is not modelled and reads as 1; bit 12 reads as 0.
    assert_eq!(h.reg(8), 0xFFFF_0FF0);
    assert_eq!(h.reg(9), 0xFFFF_EFFF);
    assert_eq!(h.reg(10), 0x400);
}

// ---- single step --------------------------------------------------------------------

#[test]
fn single_step() {
    let cases = [
        Case {
            name: "POPF sets TF: first trap after the next instruction",
            model: "max",
            program: |a, l| {
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.mov(eax, 1).unwrap();
                l.here(a, "b");
                tf_off(a, l);
                exit(a);
            },
            events: [
                vec![(1, "a", BS, false), (1, "b", BS, false)],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "STI does not delay the trap",
            model: "max",
            program: |a, l| {
                a.cli().unwrap();
                tf_on(a);
                a.sti().unwrap();
                l.here(a, "a");
                a.nop().unwrap();
                l.here(a, "b");
                tf_off(a, l);
                a.cli().unwrap();
                exit(a);
            },
            events: [
                vec![(1, "a", BS, false), (1, "b", BS, false)],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "MOV SS holds the trap until after the next instruction",
            model: "max",
            program: |a, l| {
                a.mov(eax, 0x18).unwrap();
                tf_on(a);
                a.mov(ss, ax).unwrap();
                a.nop().unwrap();
                l.here(a, "b");
                tf_off(a, l);
                exit(a);
            },
            events: [vec![(1, "b", BS, false)], tf_off_events()].concat(),
        },
        Case {
            name: "MOV SS blocking, AMD: same",
            model: "qemu64",
            program: |a, l| {
                a.mov(eax, 0x18).unwrap();
                tf_on(a);
                a.mov(ss, ax).unwrap();
                a.nop().unwrap();
                l.here(a, "b");
                tf_off(a, l);
                exit(a);
            },
            events: [vec![(1, "b", BS, false)], tf_off_events()].concat(),
        },
        Case {
            name: "REP STOSB: a trap per iteration, RF = 1 until the last",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                a.mov(ecx, 3).unwrap();
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "rep");
                a.rep().stosb().unwrap();
                l.here(a, "after");
                tf_off(a, l);
                exit(a);
            },
            events: [
                vec![
                    (1, "rep", BS, false),
                    (1, "rep", BS, true),
                    (1, "rep", BS, true),
                    (1, "after", BS, false),
                ],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "HLT: the trap ends the halt",
            model: "max",
            program: |a, l| {
                a.cli().unwrap();
                tf_on(a);
                a.hlt().unwrap();
                l.here(a, "a");
                tf_off(a, l);
                exit(a);
            },
            events: [vec![(1, "a", BS, false)], tf_off_events()].concat(),
        },
        Case {
            name: "single step and a data breakpoint in one #DB",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                arm(a, 0, DATA, dr7_bp(0, WRITE, 1, true));
                tf_on(a);
                a.mov(byte_ptr(rdi), 1).unwrap();
                l.here(a, "a");
                tf_off(a, l);
                disarm(a);
                exit(a);
            },
            events: [vec![(1, "a", BS | B0, false)], tf_off_events()].concat(),
        },
    ];
    run_all(&cases);
}

// ---- ICEBP, INT3, INT n -------------------------------------------------------------

#[test]
fn software_interrupts_and_single_step() {
    let cases = [
        Case {
            name: "ICEBP: #DB trap with no DR6 condition bit",
            model: "max",
            program: |a, l| {
                a.int1().unwrap();
                l.here(a, "a");
                exit(a);
            },
            events: vec![(1, "a", 0, false)],
        },
        Case {
            name: "ICEBP single-stepped: one #DB, no BS",
            model: "max",
            program: |a, l| {
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.int1().unwrap();
                l.here(a, "b");
                a.nop().unwrap();
                l.here(a, "c");
                tf_off(a, l);
                exit(a);
            },
            events: [
                vec![(1, "a", BS, false), (1, "b", 0, false), (1, "c", BS, false)],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "INT3 single-stepped: no trap into the handler; the instruction after IRET traps",
            model: "max",
            program: |a, l| {
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.int3().unwrap();
                l.here(a, "b");
                a.nop().unwrap();
                l.here(a, "c");
                tf_off(a, l);
                exit(a);
            },
            events: [
                vec![(1, "a", BS, false), (3, "b", 0, false), (1, "c", BS, false)],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "INT n single-stepped",
            model: "qemu64",
            program: |a, l| {
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.int(0x20).unwrap();
                l.here(a, "b");
                a.nop().unwrap();
                l.here(a, "c");
                tf_off(a, l);
                exit(a);
            },
            events: [
                vec![
                    (1, "a", BS, false),
                    (32, "b", 0, false),
                    (1, "c", BS, false),
                ],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "MOV SS + data breakpoint + INT3: #DB at the #BP handler's entry",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                a.mov(word_ptr(rdi), 0x18).unwrap();
                arm(a, 1, DATA, dr7_bp(1, RW, 2, true));
                a.mov(ss, word_ptr(rdi)).unwrap();
                a.int3().unwrap();
                l.here(a, "a");
                disarm(a);
                exit(a);
            },
            // The #DB handler runs first (nested), then the #BP one.
            events: vec![(1, "stub3", B1, false), (3, "a", 0, false)],
        },
        Case {
            name: "MOV SS + data breakpoint + INT n: #DB at the handler's entry",
            model: "qemu64",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                a.mov(word_ptr(rdi), 0x18).unwrap();
                arm(a, 1, DATA, dr7_bp(1, RW, 2, true));
                a.mov(ss, word_ptr(rdi)).unwrap();
                a.int(0x20).unwrap();
                l.here(a, "a");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "stub32", B1, false), (32, "a", 0, false)],
        },
        Case {
            name: "MOV SS + data breakpoint + ICEBP: one #DB (the ICEBP's)",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                a.mov(word_ptr(rdi), 0x18).unwrap();
                arm(a, 1, DATA, dr7_bp(1, RW, 2, true));
                a.mov(ss, word_ptr(rdi)).unwrap();
                a.int1().unwrap();
                l.here(a, "a");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "a", 0, false)],
        },
        Case {
            name: "MOV SS + data breakpoint: the trap comes after the next instruction",
            model: "max",
            program: |a, l| {
                a.mov(rdi, DATA).unwrap();
                a.mov(word_ptr(rdi), 0x18).unwrap();
                arm(a, 1, DATA, dr7_bp(1, RW, 2, true));
                a.mov(ss, word_ptr(rdi)).unwrap();
                a.nop().unwrap();
                l.here(a, "a");
                disarm(a);
                exit(a);
            },
            events: vec![(1, "a", B1, false)],
        },
    ];
    run_all(&cases);
}

// ---- the vendor difference ---------------------------------------------------------

/// kvm-unit-tests emulator.c `test_mov_pop_ss_code_db`: an instruction
/// breakpoint on the instruction after MOV SS is inhibited on Intel and
/// taken on AMD.
#[test]
fn instruction_breakpoint_after_mov_ss_by_vendor() {
    fn program(a: &mut CodeAssembler, l: &mut Labels) {
        arm_at(a, l, 0, "bp", dr7_bp(0, EXEC, 1, true));
        a.mov(eax, 0x18).unwrap();
        a.mov(ss, ax).unwrap();
        l.here(a, "bp");
        a.xor(eax, eax).unwrap();
        // Not inhibited here: no MOV SS before it.
        disarm(a);
        exit(a);
    }
    let cases = [
        Case {
            name: "Intel (max): inhibited",
            model: "max",
            program,
            events: vec![],
        },
        Case {
            name: "Intel (Skylake-Server): inhibited",
            model: "Skylake-Server",
            program,
            events: vec![],
        },
        Case {
            name: "AMD (qemu64): taken",
            model: "qemu64",
            program,
            events: vec![(1, "bp", B0, false)],
        },
        Case {
            name: "AMD (EPYC): taken",
            model: "EPYC",
            program,
            events: vec![(1, "bp", B0, false)],
        },
    ];
    run_all(&cases);
}

// ---- SYSCALL / SYSRET -----------------------------------------------------------------

const MSR_EFER: u32 = 0xC000_0080;
const MSR_STAR: u32 = 0xC000_0081;
const MSR_LSTAR: u32 = 0xC000_0082;
const MSR_FMASK: u32 = 0xC000_0084;
const TSS: u64 = 0x6000;
/// The ring-0 stack for events taken at CPL 3.
const STACK0: u64 = 0x7_0000;

fn wrmsr(a: &mut CodeAssembler, msr: u32, v: u64) {
    a.mov(ecx, msr).unwrap();
    a.mov(eax, v as u32).unwrap();
    a.mov(edx, (v >> 32) as u32).unwrap();
    a.wrmsr().unwrap();
}

/// GDT: 0x10 becomes kernel data (SS after SYSCALL with STAR[47:32] =
/// 0x08), 0x28 user data (SS after SYSRET with STAR[63:48] = 0x20; CS is
/// then 0x33, the harness's user code); a 64-bit TSS with RSP0.
fn syscall_machine(h: &mut Harness) {
    let gdt = h.interp.cpu.s.gdtr.base;
    h.plat
        .mem
        .write_u64(gdt + 0x10, 0x00CF_9300_0000_FFFF)
        .unwrap();
    h.plat
        .mem
        .write_u64(gdt + 0x28, 0x00CF_F300_0000_FFFF)
        .unwrap();
    h.plat.mem.write_u64(TSS + 4, STACK0).unwrap();
    let tr = &mut h.interp.cpu.s.tr;
    tr.selector = 0x40;
    tr.base = TSS;
    tr.limit = 0x67;
    tr.attr = 0x8B;
}

/// The MSRs for SYSCALL to label "target" with IA32_FMASK = `fmask`.
fn syscall_msrs(a: &mut CodeAssembler, l: &mut Labels, fmask: u64) {
    wrmsr(a, MSR_EFER, (1 << 8) | (1 << 10) | 1);
    wrmsr(a, MSR_STAR, (0x20 << 48) | (0x08 << 32));
    let target = l.get(a, "target");
    a.lea(rax, ptr(target)).unwrap();
    a.mov(rdx, rax).unwrap();
    a.shr(rdx, 32).unwrap();
    a.mov(ecx, MSR_LSTAR).unwrap();
    a.wrmsr().unwrap();
    wrmsr(a, MSR_FMASK, fmask);
}

/// kvm-unit-tests syscall.c "syscall TF handling": SYSCALL and SYSRET
/// single-step on TF at their end.
#[test]
fn syscall_sysret_single_step() {
    let cases = [
        Case {
            name: "SYSCALL with TF in IA32_FMASK: no trap",
            model: "max",
            program: |a, l| {
                syscall_msrs(a, l, TF);
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.syscall().unwrap();
                l.here(a, "target");
                a.mov(eax, 0x18).unwrap();
                a.mov(ss, ax).unwrap();
                exit(a);
            },
            events: vec![(1, "a", BS, false)],
        },
        Case {
            name: "SYSCALL keeping TF: trap at the target",
            model: "qemu64",
            program: |a, l| {
                syscall_msrs(a, l, 0);
                tf_on(a);
                a.nop().unwrap();
                l.here(a, "a");
                a.syscall().unwrap();
                l.here(a, "target");
                tf_off(a, l);
                a.mov(eax, 0x18).unwrap();
                a.mov(ss, ax).unwrap();
                exit(a);
            },
            events: [
                vec![(1, "a", BS, false), (1, "target", BS, false)],
                tf_off_events(),
            ]
            .concat(),
        },
        Case {
            name: "SYSRET setting TF: trap right after it, at CPL 3",
            model: "max",
            program: |a, l| {
                syscall_msrs(a, l, 0);
                let user = l.get(a, "user");
                a.lea(rcx, ptr(user)).unwrap();
                // RFLAGS for CPL 3: TF, IOPL 3 (for the exit port).
                a.mov(r11, 0x3102u64).unwrap();
                a.sysretq().unwrap();
                l.here(a, "user");
                tf_off(a, l);
                exit(a);
                l.here(a, "target");
                a.hlt().unwrap();
            },
            events: [vec![(1, "user", BS, false)], tf_off_events()].concat(),
        },
    ];
    for c in &cases {
        run_case_with(c, syscall_machine);
    }
}
