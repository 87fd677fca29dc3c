//! `nestor run [IMAGE]`: boot a multiboot kernel (or firmware with
//! `--bios`) on the PC and run it until the guest ends the run.
//!
//! Exit status: `(code << 1) | 1` when the guest writes `code` to the
//! isa-debug-exit port (0xF4); 0 when it powers off or resets; 124 on
//! timeout, `--max-insns` or a hang; 125 on a triple fault; 2 on bad input
//! (missing or corrupt image, bad flag).

use std::io::Write;
use std::time::Instant;

use super::CliError;
use crate::devices::uart::UartOutput;
use crate::kvm::handoff::{self, Handoff};
use crate::kvm::run::KvmMachine;
use crate::machine::{Boot, Limits, Machine, MachineConfig, Outcome};
use crate::model::parse::parse_model;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Multiboot kernel (ELF32/ELF64). Without one (and without --bios),
    /// the bundled demo image runs.
    pub image: Option<String>,
    /// CPU model: MODEL[,+feat][,-feat][,vendor=...][,phys-bits=N]
    /// [default: max; with --accel kvm, max restricted to what the host's
    /// KVM can provide].
    #[arg(long)]
    pub cpu: Option<String>,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1)]
    pub smp: u32,
    /// Guest RAM in MiB.
    #[arg(short = 'm', long = "memory", default_value_t = 128)]
    pub memory: u64,
    /// Kernel command-line arguments (the guest sees "IMAGE ARGS").
    #[arg(long, default_value = "")]
    pub append: String,
    /// File passed as the multiboot module (kvm-unit-tests' environment).
    #[arg(long)]
    pub initrd: Option<String>,
    /// Firmware image mapped to end at 4 GiB; the BSP starts at the reset
    /// vector (no multiboot).
    #[arg(long)]
    pub bios: Option<String>,
    /// Run a bundled image by name instead of a file, e.g. `--rom
    /// bench_int` (an unknown name lists them; `roms/images.toml`
    /// describes them).
    #[arg(long, conflicts_with_all = ["image", "bios"])]
    pub rom: Option<String>,
    /// Execution backend [default: interp; with --handoff, the backend the
    /// first handoff leaves].
    #[arg(long, value_parser = ["interp", "kvm"])]
    pub accel: Option<String>,
    /// Move the running machine to the other backend at a point:
    /// `interp-to-kvm@insns=N` (after N instructions on the interpreter),
    /// `kvm-to-interp@exits=N` (after the Nth port/MMIO exit) or
    /// `kvm-to-interp@port=P[:K]` (after the Kth guest write to port P).
    /// Repeat for a chain (counts restart on each backend).
    #[arg(long, value_name = "DIRECTION@POINT")]
    pub handoff: Vec<String>,
    /// With --accel kvm: drop CPU features the host's KVM cannot provide
    /// (with a warning) instead of refusing the model.
    #[arg(long)]
    pub kvm_drop_unsupported: bool,
    /// Stop after this many instructions (exit status 124). The count is
    /// the instruction clock: retired instructions plus one per exception
    /// delivered (so a guest stuck in a fault loop still stops).
    #[arg(long)]
    pub max_insns: Option<u64>,
    /// Stop after this many seconds of virtual time (exit status 124).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Print statistics to stderr at the end.
    #[arg(long)]
    pub stats: bool,
}

fn read_file(what: &str, path: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError(format!("cannot read {what} `{path}`: {e}")))
}

/// Runs the command; returns the process exit status.
pub fn run(args: &RunArgs) -> Result<i32, CliError> {
    let invoked = Instant::now();
    let handoffs = args
        .handoff
        .iter()
        .map(|h| h.parse::<Handoff>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(CliError)?;
    let start = handoff::start_backend(&handoffs).map_err(CliError)?;
    if let (Some(accel), Some(first)) = (&args.accel, handoffs.first())
        && accel != start.name()
    {
        return Err(CliError(format!(
            "--accel {accel} conflicts with --handoff {first}, which starts on {}",
            start.name()
        )));
    }
    if !handoffs.is_empty() && args.max_insns.is_some() {
        return Err(CliError(
            "--max-insns cannot be counted across a handoff to KVM; use --timeout".into(),
        ));
    }
    let kvm = args.accel.as_deref() == Some("kvm");
    if !kvm && handoffs.is_empty() && args.kvm_drop_unsupported {
        return Err(CliError(
            "--kvm-drop-unsupported needs --accel kvm or --handoff".into(),
        ));
    }
    let spec = args.cpu.as_deref().unwrap_or("max");
    let model = parse_model(spec).map_err(|e| CliError(format!("--cpu: {e}")))?;
    if args.memory == 0 || args.memory > 1 << 20 {
        return Err(CliError(format!(
            "-m must be between 1 and 1048576 MiB, got {}",
            args.memory
        )));
    }
    let boot = boot_from_args(args)?;
    let cfg = MachineConfig {
        model,
        cpus: args.smp,
        ram_bytes: args.memory << 20,
        serial: UartOutput::Stdout,
    };
    let limits = Limits {
        max_insns: args.max_insns,
        timeout_ns: args.timeout.map(|s| (s.max(0.0) * 1e9) as u64),
    };
    if !handoffs.is_empty() {
        return run_handoff(args, cfg, boot, &handoffs, &limits);
    }
    if kvm {
        return run_kvm(args, cfg, boot, &limits);
    }
    let ram_mib = cfg.ram_bytes >> 20;
    let mut machine = Machine::new(cfg, boot)?;
    connect_stdin(&mut machine);
    let start = Instant::now();
    let setup = start - invoked;
    let outcome = machine.run(&limits);
    let wall = start.elapsed();
    let _ = std::io::stdout().flush();
    let states: Vec<_> = machine
        .vcpus
        .iter_mut()
        .map(|v| v.cpu.export().clone())
        .collect();
    report_outcome(&outcome, &states);
    if args.stats {
        print_stats(&machine, wall.as_secs_f64());
        print_host_costs(setup, ram_mib);
    }
    Ok(outcome.exit_status())
}

/// The multiboot kernel or firmware the arguments name (or the demo).
fn boot_from_args(args: &RunArgs) -> Result<Boot, CliError> {
    Ok(match (&args.bios, &args.image) {
        (Some(_), Some(_)) => return Err(CliError("give either IMAGE or --bios, not both".into())),
        (Some(b), None) => Boot::Firmware {
            image: read_file("firmware", b)?,
        },
        (None, img) => {
            let (image, path) = match img {
                Some(p) => (read_file("image", p)?, p.clone()),
                None => {
                    let name = args.rom.as_deref().unwrap_or("demo");
                    let rom = crate::roms::find(name).ok_or_else(|| {
                        let names: Vec<_> = crate::roms::all().iter().map(|r| r.name).collect();
                        CliError(format!(
                            "no bundled image `{name}` (bundled: {})",
                            names.join(", ")
                        ))
                    })?;
                    (rom.image.to_vec(), name.to_string())
                }
            };
            let initrd = args
                .initrd
                .as_deref()
                .map(|p| read_file("initrd", p))
                .transpose()?;
            let cmdline = if args.append.is_empty() {
                path
            } else {
                format!("{path} {}", args.append)
            };
            Boot::Multiboot {
                image,
                cmdline,
                initrd,
            }
        }
    })
}

/// Prints how the run ended (and where each vCPU was, for endings that
/// are not the guest's choice) to stderr.
fn report_outcome(outcome: &Outcome, states: &[crate::state::VcpuState]) {
    if matches!(outcome, Outcome::DebugExit(_)) {
        return;
    }
    eprintln!("nestor: {}", outcome.describe());
    if matches!(
        outcome,
        Outcome::Timeout
            | Outcome::Hang
            | Outcome::InsnLimit
            | Outcome::TripleFault { .. }
            | Outcome::Failed { .. }
    ) {
        for (i, s) in states.iter().enumerate() {
            eprintln!(
                "nestor: vcpu{i}: {:?} at {:04x}:{:016x} rflags={:x} cr0={:x} cr3={:x} cr4={:x}",
                s.activity,
                s.seg(crate::state::SegReg::Cs).selector,
                s.rip,
                s.rflags,
                s.cr.cr0,
                s.cr.cr3,
                s.cr.cr4
            );
        }
    }
}

/// How `--accel kvm` and `--handoff` treat features the host lacks:
/// without `--cpu`, `max` means the most the host can give.
fn kvm_policy(args: &RunArgs) -> crate::kvm::cpuid::Unsupported {
    use crate::kvm::cpuid::Unsupported;
    if args.kvm_drop_unsupported || args.cpu.is_none() {
        Unsupported::Drop
    } else {
        Unsupported::Error
    }
}

/// `--handoff`: the machine runs on both backends in turn.
fn run_handoff(
    args: &RunArgs,
    cfg: MachineConfig,
    boot: Boot,
    handoffs: &[Handoff],
    limits: &Limits,
) -> Result<i32, CliError> {
    let spec = args.cpu.as_deref().unwrap_or("max");
    let start = Instant::now();
    let mut log = |l: &str| eprintln!("nestor: {l}");
    let r = handoff::run(
        cfg,
        boot,
        spec,
        kvm_policy(args),
        handoffs,
        limits,
        &mut log,
    )?;
    let wall = start.elapsed();
    let _ = std::io::stdout().flush();
    report_outcome(&r.outcome, &r.states);
    if args.stats {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "--- nestor statistics (handoff) ---");
        let _ = writeln!(e, "wall time             {:.3} s", wall.as_secs_f64());
        for (i, p) in r.phases.iter().enumerate() {
            let what = match p.backend {
                handoff::Backend::Interp => format!("{} instructions", p.insns),
                handoff::Backend::Kvm => format!(
                    "exits: I/O {} MMIO {} IOAPIC EOI {} IRQ window {} interrupted {}",
                    p.exits.io,
                    p.exits.mmio,
                    p.exits.ioapic_eoi,
                    p.exits.irq_window,
                    p.exits.interrupted
                ),
            };
            let _ = writeln!(
                e,
                "phase {i}: {:<6} {:.6}..{:.6} s{}  {what}",
                p.backend.name(),
                p.start_ns as f64 / 1e9,
                p.end_ns as f64 / 1e9,
                if p.handed_off { " (handed off)" } else { "" },
            );
        }
        for (name, st) in &r.device_stats {
            if st.io + st.mmio > 0 {
                let _ = writeln!(
                    e,
                    "device {name:<12} I/O {:>10}  MMIO {:>10}",
                    st.io, st.mmio
                );
            }
        }
    }
    Ok(r.outcome.exit_status())
}

/// `--accel kvm`: the same machine, run by the KVM backend.
fn run_kvm(
    args: &RunArgs,
    cfg: MachineConfig,
    boot: Boot,
    limits: &Limits,
) -> Result<i32, CliError> {
    let policy = kvm_policy(args);
    let spec = args.cpu.as_deref().unwrap_or("max");
    let start = Instant::now();
    let mut warn = |w: &str| eprintln!("nestor: warning: kvm: {w}");
    let mut machine = KvmMachine::boot(cfg, boot, spec, policy, &mut warn)?;
    let outcome = machine.run(limits)?;
    let wall = start.elapsed();
    let _ = std::io::stdout().flush();
    report_outcome(&outcome, &machine.final_states);
    if args.stats {
        let s = &machine.stats;
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "--- nestor statistics (kvm) ---");
        let _ = writeln!(e, "wall time             {:.3} s", wall.as_secs_f64());
        let _ = writeln!(
            e,
            "exits: I/O {}  MMIO {}  IOAPIC EOI {}  IRQ window {}  interrupted {}",
            s.io, s.mmio, s.ioapic_eoi, s.irq_window, s.interrupted
        );
        let _ = writeln!(
            e,
            "interrupts: 8259 → BSP {}  IOAPIC MSIs {}",
            s.pic_injections, s.msis
        );
        if let Some(b) = machine.board() {
            for (name, st) in b.device_stats() {
                if st.io + st.mmio > 0 {
                    let _ = writeln!(
                        e,
                        "device {name:<12} I/O {:>10}  MMIO {:>10}",
                        st.io, st.mmio
                    );
                }
            }
        }
    }
    Ok(outcome.exit_status())
}

/// Guest serial input: a regular file on stdin is fed whole at the start
/// (reproducible); a terminal is read by a helper thread and fed as typed;
/// pipes and /dev/null are ignored (CI, test runners).
fn connect_stdin(m: &mut Machine) {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut lock = std::io::stdin().lock();
            while let Ok(n) = lock.read(&mut buf) {
                if n == 0 || buf[..n].iter().any(|&b| tx.send(b).is_err()) {
                    break;
                }
            }
        });
        m.serial_rx = Some(rx);
    } else if std::fs::metadata("/dev/stdin").is_ok_and(|md| md.is_file()) {
        let mut bytes = Vec::new();
        if stdin.lock().read_to_end(&mut bytes).is_ok() && !bytes.is_empty() {
            m.board.serial_input(&bytes);
        }
    }
}

/// Host-side costs of the run: time from the command's start to the first
/// guest instruction (model, image loading, machine assembly), and the
/// process's peak resident memory beside the guest RAM size.
fn print_host_costs(setup: std::time::Duration, ram_mib: u64) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "startup               {:.1} ms to the first guest instruction",
        setup.as_secs_f64() * 1e3
    );
    if let Some(kib) = peak_rss_kib() {
        let _ = writeln!(
            e,
            "peak memory           {:.1} MiB resident (guest RAM {ram_mib} MiB, touched pages only)",
            kib as f64 / 1024.0
        );
    }
}

/// VmHWM (peak resident set) of this process, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_stats(m: &Machine, wall: f64) {
    let mut e = std::io::stderr().lock();
    let insns = m.retired;
    let mips = if wall > 0.0 {
        insns as f64 / wall / 1e6
    } else {
        0.0
    };
    let _ = writeln!(e, "--- nestor statistics ---");
    let _ = writeln!(e, "retired instructions  {insns}");
    let _ = writeln!(e, "virtual time          {:.6} s", m.now as f64 / 1e9);
    let _ = writeln!(e, "wall time             {wall:.3} s");
    let _ = writeln!(e, "speed                 {mips:.1} MIPS");
    for (i, v) in m.vcpus.iter().enumerate() {
        let s = &v.cpu.stats;
        // Instructions that ran from an already decoded block.
        let hit = if v.cpu.icount > 0 {
            100.0 * (1.0 - s.insns_decoded as f64 / v.cpu.icount as f64).max(0.0)
        } else {
            0.0
        };
        let _ = writeln!(
            e,
            "vcpu{i}: {} insns, decode cache {hit:.4}% hits by instruction ({} blocks built, {} invalidated), TLB fills {} flushes {}, exceptions {}, interrupts {}, I/O {}, MMIO {}, xAPIC MMIO {}",
            v.cpu.icount,
            s.blocks_built,
            s.code_invalidations,
            s.tlb_fills,
            s.tlb_flushes,
            s.exceptions,
            s.interrupts,
            s.io_exits,
            s.mmio_exits,
            s.apic_mmio
        );
    }
    for (name, st) in m.board.device_stats() {
        if st.io + st.mmio > 0 {
            let _ = writeln!(
                e,
                "device {name:<12} I/O {:>10}  MMIO {:>10}",
                st.io, st.mmio
            );
        }
    }
}
