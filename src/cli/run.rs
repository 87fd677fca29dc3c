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
use crate::machine::{Boot, Limits, Machine, MachineConfig, Outcome};
use crate::model::parse::parse_model;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Multiboot kernel (ELF32/ELF64). Without one (and without --bios),
    /// the bundled demo image runs.
    pub image: Option<String>,
    /// CPU model: MODEL[,+feat][,-feat][,vendor=...][,phys-bits=N].
    #[arg(long, default_value = "max")]
    pub cpu: String,
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
    /// Execution backend.
    #[arg(long, default_value = "interp", value_parser = ["interp", "kvm"])]
    pub accel: String,
    /// Stop after this many instructions (exit status 124).
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
    if args.accel == "kvm" {
        return Err(CliError(
            "--accel kvm is not available yet in this build; use --accel interp".into(),
        ));
    }
    let model = parse_model(&args.cpu).map_err(|e| CliError(format!("--cpu: {e}")))?;
    if args.memory == 0 || args.memory > 1 << 20 {
        return Err(CliError(format!(
            "-m must be between 1 and 1048576 MiB, got {}",
            args.memory
        )));
    }
    let boot = match (&args.bios, &args.image) {
        (Some(_), Some(_)) => return Err(CliError("give either IMAGE or --bios, not both".into())),
        (Some(b), None) => Boot::Firmware {
            image: read_file("firmware", b)?,
        },
        (None, img) => {
            let (image, path) = match img {
                Some(p) => (read_file("image", p)?, p.clone()),
                None => {
                    let demo = crate::roms::find("demo")
                        .ok_or_else(|| CliError("this build has no bundled demo image".into()))?;
                    (demo.image.to_vec(), "demo".to_string())
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
    };
    let cfg = MachineConfig {
        model,
        cpus: args.smp,
        ram_bytes: args.memory << 20,
        serial: UartOutput::Stdout,
    };
    let start = Instant::now();
    let mut machine = Machine::new(cfg, boot)?;
    let limits = Limits {
        max_insns: args.max_insns,
        timeout_ns: args.timeout.map(|s| (s.max(0.0) * 1e9) as u64),
    };
    connect_stdin(&mut machine);
    let outcome = machine.run(&limits);
    let wall = start.elapsed();
    let _ = std::io::stdout().flush();
    if !matches!(outcome, Outcome::DebugExit(_)) {
        eprintln!("nestor: {}", outcome.describe());
        if matches!(
            outcome,
            Outcome::Timeout | Outcome::Hang | Outcome::InsnLimit | Outcome::TripleFault { .. }
        ) {
            for (i, v) in machine.vcpus.iter_mut().enumerate() {
                let s = v.cpu.export();
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
    if args.stats {
        print_stats(&machine, wall.as_secs_f64());
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
        let lookups = s.block_hits + s.block_misses;
        let hit = if lookups > 0 {
            100.0 * s.block_hits as f64 / lookups as f64
        } else {
            0.0
        };
        let _ = writeln!(
            e,
            "vcpu{i}: {} insns, block cache {hit:.2}% hits ({} built, {} invalidated), TLB fills {} flushes {}, exceptions {}, interrupts {}, I/O {}, MMIO {}",
            v.cpu.icount,
            s.blocks_built,
            s.code_invalidations,
            s.tlb_fills,
            s.tlb_flushes,
            s.exceptions,
            s.interrupts,
            s.io_exits,
            s.mmio_exits
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
