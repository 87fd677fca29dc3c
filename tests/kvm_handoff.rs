//! Backend handoff (`nestor run --handoff`): a run that moves between the
//! interpreter and KVM — at several instruction counts one way, several
//! exit counts the other, and both in a chain — prints the same test
//! results as the run on one backend. Skips (printing why) when /dev/kvm
//! is absent or unusable.
//!
//! What is compared: the guest's `PASS:`/`FAIL:`/`SKIP:`/`SUMMARY:` lines
//! and the exit status. Images whose result lines carry timing-derived
//! values (`apic_timer`: APIC timer counts; also its LVT count, which
//! KVM's in-kernel APIC reports) are compared with digits masked; images
//! that print PM-timer tick counts (`acpi`) are left out. The baseline is
//! the interpreter with the CPU model fitted to the host's KVM, the model
//! every handoff run uses.
//!
//! `NESTOR_KUT_DIR` (a kvm-unit-tests build with `x86/*.flat`) adds the
//! same check for a few kvm-unit-tests; without it that test skips.

mod common;

use std::sync::{Arc, Mutex};

use nestor::devices::uart::UartOutput;
use nestor::kvm::cpuid::Unsupported;
use nestor::kvm::handoff::{self, Backend, Handoff};
use nestor::kvm::run::{KvmMachine, StopAt};
use nestor::machine::{Boot, Limits, Machine, MachineConfig, Outcome};
use nestor::model::parse::parse_model;
use nestor::roms;

fn usable() -> bool {
    common::kvm_usable()
}

/// A guest to run: image, command line, CPUs, model.
#[derive(Clone)]
struct Guest {
    name: String,
    image: Vec<u8>,
    cmdline: String,
    smp: u32,
    cpu: String,
    /// Mask digits in result lines (timing-derived values).
    mask_digits: bool,
    /// Interpreter → KVM handoff points, in % of the instructions the
    /// interpreter alone retires.
    insn_points: &'static [u64],
    /// Also hand off KVM → interpreter (and chains).
    kvm_to_interp: bool,
}

impl Guest {
    fn rom(name: &str) -> Guest {
        let rom = roms::find(name).expect("bundled image");
        let args = rom.quick_args.unwrap_or(rom.args);
        Guest {
            name: name.into(),
            image: rom.image.to_vec(),
            cmdline: format!("{name} {args}").trim_end().to_string(),
            smp: rom.smp,
            cpu: rom.cpu.into(),
            mask_digits: false,
            insn_points: &[1, 50, 99],
            kvm_to_interp: true,
        }
    }

    /// The configuration (model fitted to the host's KVM) and boot.
    fn machine(&self) -> (MachineConfig, Boot, Arc<Mutex<Vec<u8>>>) {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let cfg = MachineConfig {
            model: parse_model(&self.cpu).expect("model"),
            cpus: self.smp,
            ram_bytes: 128 << 20,
            serial: UartOutput::Buffer(buf.clone()),
        };
        let mut quiet = |_: &str| {};
        let (cfg, _, _) =
            KvmMachine::fit(cfg, &self.cpu, Unsupported::Drop, &mut quiet).expect("fit model");
        let boot = Boot::Multiboot {
            image: self.image.clone(),
            cmdline: self.cmdline.clone(),
            initrd: None,
        };
        (cfg, boot, buf)
    }

    fn results(&self, buf: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
        let out = String::from_utf8_lossy(&buf.lock().expect("buffer")).into_owned();
        out.lines()
            .filter(|l| {
                ["PASS", "FAIL", "SKIP", "SUMMARY"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(|l| {
                if self.mask_digits {
                    // Each run of digits becomes one `#`.
                    let mut m = String::new();
                    for c in l.chars() {
                        if !c.is_ascii_digit() {
                            m.push(c);
                        } else if !m.ends_with('#') {
                            m.push('#');
                        }
                    }
                    m
                } else {
                    l.to_string()
                }
            })
            .collect()
    }
}

const LIMITS: Limits = Limits {
    max_insns: None,
    timeout_ns: Some(120_000_000_000),
};

/// The interpreter alone: results, exit status, instructions retired.
fn interp_only(g: &Guest) -> (Vec<String>, i32, u64) {
    let (cfg, boot, buf) = g.machine();
    let mut m = Machine::new(cfg, boot).expect("machine");
    let o = m.run(&LIMITS);
    (g.results(&buf), o.exit_status(), m.retired)
}

/// KVM alone: results, exit status, device exits.
fn kvm_only(g: &Guest) -> (Vec<String>, i32, u64) {
    let (cfg, boot, buf) = g.machine();
    let mut quiet = |_: &str| {};
    let mut m =
        KvmMachine::boot(cfg, boot, &g.cpu, Unsupported::Drop, &mut quiet).expect("kvm machine");
    let o = m.run(&LIMITS).expect("kvm run");
    (g.results(&buf), o.exit_status(), m.stats.io + m.stats.mmio)
}

/// A run through `chain`: results, exit status, handoffs that happened.
fn with_handoffs(g: &Guest, chain: &[Handoff]) -> (Vec<String>, i32, usize, Outcome) {
    let (cfg, boot, buf) = g.machine();
    let mut quiet = |_: &str| {};
    let r = handoff::run(
        cfg,
        boot,
        &g.cpu,
        Unsupported::Drop,
        chain,
        &LIMITS,
        &mut quiet,
    )
    .expect("handoff run");
    let done = r.phases.iter().filter(|p| p.handed_off).count();
    (g.results(&buf), r.outcome.exit_status(), done, r.outcome)
}

/// Checks every way of running `g` against the interpreter alone; returns
/// one line per mismatch.
fn check(g: &Guest) -> Vec<String> {
    let mut bad = Vec::new();
    let (base, status, insns) = interp_only(g);
    assert!(!base.is_empty(), "{}: no result lines", g.name);
    let (k, kstatus, exits) = kvm_only(g);
    if (&k, kstatus) != (&base, status) {
        bad.push(format!(
            "{}: KVM alone differs: {k:?} (status {kstatus})",
            g.name
        ));
    }
    let i2k = |n: u64| Handoff::InterpToKvm { insns: n };
    let k2i = |n: u64| Handoff::KvmToInterp(StopAt::Exits(n.max(1)));
    let mut chains: Vec<Vec<Handoff>> = Vec::new();
    for f in g.insn_points {
        chains.push(vec![i2k(insns * f / 100)]);
    }
    // Not close to the end: an SMP guest's exit count varies from run to
    // run.
    for f in [5, 40, 70].into_iter().filter(|_| g.kvm_to_interp) {
        chains.push(vec![k2i(exits * f / 100)]);
    }
    // Counts restart on each backend, and exits cluster where the guest
    // prints: later points are small so that they come before the end
    // whatever the first stretch covered.
    if g.kvm_to_interp {
        chains.push(vec![i2k(insns / 3), k2i(exits / 20)]);
        chains.push(vec![k2i(exits / 10), i2k(insns / 100)]);
        chains.push(vec![i2k(insns / 10), k2i(exits / 20), i2k(insns / 100)]);
    }
    for chain in chains {
        let names: Vec<String> = chain.iter().map(|h| h.to_string()).collect();
        let (r, s, done, o) = with_handoffs(g, &chain);
        if done != chain.len() {
            bad.push(format!(
                "{}: {names:?}: {done} of {} handoffs happened ({})",
                g.name,
                chain.len(),
                o.describe()
            ));
        }
        if (&r, s) != (&base, status) {
            let diff: Vec<_> = r.iter().filter(|l| !base.contains(l)).collect();
            bad.push(format!(
                "{}: {names:?}: status {s} (want {status}), new lines {diff:?}",
                g.name
            ));
        } else {
            println!("same results: {} {names:?}", g.name);
        }
    }
    bad
}

fn check_all(guests: &[Guest]) {
    let bad: Vec<String> = guests.iter().flat_map(check).collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn handoff_keeps_results_single_cpu_images() {
    if !usable() {
        return;
    }
    let guests: Vec<Guest> = ["bench_int", "demo", "serial", "string", "smc"]
        .iter()
        .map(|n| Guest::rom(n))
        .collect();
    check_all(&guests);
}

#[test]
fn handoff_keeps_results_interrupts_and_smp() {
    if !usable() {
        return;
    }
    let mut timer = Guest::rom("apic_timer");
    timer.mask_digits = true;
    // Not at 99%: there the last one-shot timer has expired, and KVM
    // cannot hold an expired one-shot count (docs/architecture.md,
    // "Backend handoff"): TMICT would read 0 instead of the count.
    timer.insn_points = &[1, 30, 70];
    // Not KVM → interpreter: a timer interrupt KVM has fired but not yet
    // injected is not in KVM_GET_LAPIC's page, and on this host an IRR bit
    // can sit there that KVM delivers later than the interpreter does; the
    // image's interrupt counts then differ (docs/architecture.md).
    timer.kvm_to_interp = false;
    check_all(&[Guest::rom("pic"), Guest::rom("ipi"), timer]);
}

#[test]
fn handoff_at_port_writes() {
    if !usable() {
        return;
    }
    let g = Guest::rom("serial");
    let (base, status, _) = interp_only(&g);
    for nth in [1, 50, 400] {
        let h = Handoff::KvmToInterp(StopAt::PortWrite { port: 0x3f8, nth });
        let (r, s, done, _) = with_handoffs(&g, &[h]);
        assert_eq!(done, 1, "{h}");
        assert_eq!((r, s), (base.clone(), status), "{h}");
    }
}

#[test]
fn handoff_chain_must_alternate() {
    let a = Handoff::InterpToKvm { insns: 5 };
    assert_eq!(handoff::start_backend(&[a]), Ok(Backend::Interp));
    assert!(handoff::start_backend(&[a, a]).is_err());
}

/// kvm-unit-tests images from `$NESTOR_KUT_DIR/x86`.
#[test]
fn handoff_keeps_results_kvm_unit_tests() {
    let Some(dir) = std::env::var_os("NESTOR_KUT_DIR") else {
        println!("SKIP: NESTOR_KUT_DIR (a kvm-unit-tests build directory) is not set");
        return;
    };
    if !usable() {
        return;
    }
    let mut guests = Vec::new();
    for (name, smp) in [
        ("setjmp", 1),
        ("idt_test", 1),
        ("realmode", 1),
        ("smptest", 2),
    ] {
        let path = std::path::Path::new(&dir).join(format!("x86/{name}.flat"));
        let Ok(image) = std::fs::read(&path) else {
            println!("SKIP: cannot read {}", path.display());
            continue;
        };
        guests.push(Guest {
            name: name.into(),
            image,
            cmdline: format!("{name}.flat"),
            smp,
            cpu: "max".into(),
            mask_digits: false,
            insn_points: &[1, 50, 99],
            kvm_to_interp: true,
        });
    }
    check_all(&guests);
}

/// Bad `--handoff` syntax is one line on stderr and exit status 2, with
/// or without KVM.
#[test]
fn bad_handoff_flags_are_one_line_errors() {
    for bad in [
        &["--handoff", "sideways@insns=5"][..],
        &["--handoff", "interp-to-kvm@insns=many"],
        &["--handoff", "kvm-to-interp@port=0x10000"],
        &["--accel", "kvm", "--handoff", "interp-to-kvm@insns=5"],
        &[
            "--handoff",
            "kvm-to-interp@exits=5",
            "--handoff",
            "kvm-to-interp@exits=5",
        ],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nestor"))
            .args(["run", "--rom", "demo"])
            .args(bad)
            .output()
            .expect("run nestor");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.starts_with("nestor: error: "), "{bad:?}: {err}");
    }
}
