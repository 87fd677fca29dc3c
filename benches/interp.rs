//! Interpreter microbenchmarks (instructions per second): the decode-cache
//! hit path, instruction mixes, TLB misses with page walks, and whole-guest
//! runs of bundled images. Each iteration runs a fixed number of guest
//! instructions of a program that loops forever, so criterion's
//! throughput is guest instructions per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iced_x86::code_asm::*;
use nestor::interp::testkit::{CODE, DATA, Harness, Mode};

const BUDGET: u64 = 1_000_000;

fn program(f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).expect("assembler");
    f(&mut a);
    a.assemble(CODE).expect("assemble")
}

/// A loop body repeated `reps` times, then a jump back.
fn looping(reps: usize, body: impl Fn(&mut CodeAssembler)) -> Vec<u8> {
    program(|a| {
        a.mov(rsi, DATA).unwrap();
        a.mov(rsp, DATA + 0x10_0000).unwrap();
        let mut top = a.create_label();
        a.set_label(&mut top).unwrap();
        for _ in 0..reps {
            body(a);
        }
        a.jmp(top).unwrap();
    })
}

fn bench_program(c: &mut Criterion, name: &str, code: Vec<u8>) {
    let mut h = Harness::new("max", Mode::Long64, &code);
    let mut g = c.benchmark_group("interp");
    g.throughput(Throughput::Elements(BUDGET));
    g.bench_function(name, |b| b.iter(|| h.run(BUDGET)));
    g.finish();
}

fn benches(c: &mut Criterion) {
    // Straight-line register ALU code: the decode-cache hit path.
    bench_program(
        c,
        "alu",
        looping(32, |a| {
            a.add(rax, rbx).unwrap();
            a.xor(rcx, rax).unwrap();
            a.sub(rdx, 3i32).unwrap();
            a.and(rbx, rdx).unwrap();
        }),
    );
    bench_program(
        c,
        "load_store",
        looping(32, |a| {
            a.mov(rax, qword_ptr(rsi + 8)).unwrap();
            a.add(qword_ptr(rsi + 16), rax).unwrap();
            a.mov(dword_ptr(rsi + 0x40), eax).unwrap();
        }),
    );
    bench_program(
        c,
        "branches",
        looping(16, |a| {
            let mut l = a.create_label();
            a.dec(rcx).unwrap();
            a.jz(l).unwrap();
            a.inc(rdx).unwrap();
            a.set_label(&mut l).unwrap();
        }),
    );
    bench_program(
        c,
        "call_ret",
        program(|a| {
            let mut f = a.create_label();
            let mut top = a.create_label();
            a.mov(rsp, DATA + 0x10_0000).unwrap();
            a.set_label(&mut top).unwrap();
            a.call(f).unwrap();
            a.jmp(top).unwrap();
            a.set_label(&mut f).unwrap();
            a.inc(rax).unwrap();
            a.ret().unwrap();
        }),
    );
    bench_program(
        c,
        "rep_movsb_4k",
        program(|a| {
            let mut top = a.create_label();
            a.set_label(&mut top).unwrap();
            a.mov(rsi, DATA).unwrap();
            a.mov(rdi, DATA + 0x2000).unwrap();
            a.mov(ecx, 4096u32).unwrap();
            a.rep().movsb().unwrap();
            a.jmp(top).unwrap();
        }),
    );
    // One load per 4 KiB page over 8 MiB (more pages than TLB entries):
    // every access misses and walks the page tables.
    bench_program(
        c,
        "tlb_miss_walk",
        program(|a| {
            let mut top = a.create_label();
            let mut inner = a.create_label();
            a.set_label(&mut top).unwrap();
            a.mov(rsi, DATA).unwrap();
            a.mov(ecx, 2048u32).unwrap();
            a.set_label(&mut inner).unwrap();
            a.mov(rax, qword_ptr(rsi)).unwrap();
            a.add(rsi, 4096i32).unwrap();
            a.dec(ecx).unwrap();
            a.jnz(inner).unwrap();
            a.jmp(top).unwrap();
        }),
    );
}

/// Whole-guest runs of the bundled benchmark images (short versions): the
/// integer workload, the paging one (TLB misses, A/D, INVLPG, #PF) and the
/// interrupt one (self-IPIs, INT n, exceptions, APIC timer). Each bench
/// iteration boots the image and runs it to its exit.
fn guest(c: &mut Criterion) {
    let mut g = c.benchmark_group("guest");
    g.sample_size(10);
    for (name, args) in [
        ("bench_int", "iterations=1"),
        ("bench_paging", "iterations=20"),
        ("bench_irq", "iterations=100"),
    ] {
        let rom = nestor::roms::find(name).expect("bundled benchmark image");
        let run = || nestor::cli::selftest::run_image(rom, Some(args)).expect("run");
        let first = run();
        assert!(
            nestor::cli::selftest::passed(rom, &first.outcome),
            "{name} {args} failed:\n{}",
            first.output
        );
        g.throughput(Throughput::Elements(first.retired));
        g.bench_function(name, |b| b.iter(run));
    }
    g.finish();
}

criterion_group!(interp, benches, guest);
criterion_main!(interp);
