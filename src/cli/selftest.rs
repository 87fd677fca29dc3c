//! `nestor selftest`: run every bundled guest image (`roms/`) and compare
//! its exit status with what `roms/images.toml` expects.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::CliError;
use crate::devices::uart::UartOutput;
use crate::machine::{Boot, Limits, Machine, MachineConfig, Outcome};
use crate::model::parse::parse_model;
use crate::roms::{self, Rom};

#[derive(clap::Args, Debug)]
pub struct SelftestArgs {
    /// Only these images (names); default: all.
    pub names: Vec<String>,
    /// Print each image's guest output.
    #[arg(long, short)]
    pub verbose: bool,
    /// Run the benchmark images at full size (default: a short run, the
    /// image's `quick_args`).
    #[arg(long)]
    pub full_bench: bool,
    /// Execution backend (with `kvm`, CPU features the host cannot provide
    /// are dropped, as `nestor run --kvm-drop-unsupported` does).
    #[arg(long, default_value = "interp", value_parser = ["interp", "kvm"])]
    pub accel: String,
}

/// The result of running one bundled image.
pub struct ImageResult {
    pub outcome: Outcome,
    pub output: String,
    pub retired: u64,
}

/// Runs bundled image `rom` (with `args` instead of its own if given) on
/// the interpreter.
pub fn run_image(rom: &Rom, args: Option<&str>) -> Result<ImageResult, CliError> {
    run_image_on(rom, args, false)
}

/// Runs bundled image `rom` on the interpreter or (`kvm`) on KVM. Under
/// KVM, `retired` is 0 (KVM counts no instructions) and the 60 s limit is
/// wall-clock time.
pub fn run_image_on(rom: &Rom, args: Option<&str>, kvm: bool) -> Result<ImageResult, CliError> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let cfg = MachineConfig {
        model: parse_model(rom.cpu).map_err(|e| CliError(format!("{}: {e}", rom.name)))?,
        cpus: rom.smp,
        ram_bytes: 128 << 20,
        serial: UartOutput::Buffer(buf.clone()),
    };
    let args = args.unwrap_or(rom.args);
    let cmdline = if args.is_empty() {
        rom.name.to_string()
    } else {
        format!("{} {args}", rom.name)
    };
    let boot = Boot::Multiboot {
        image: rom.image.to_vec(),
        cmdline,
        initrd: None,
    };
    // 60 s of virtual time is far more than any image needs.
    let limits = Limits {
        max_insns: None,
        timeout_ns: Some(60_000_000_000),
    };
    let (outcome, retired) = if kvm {
        use crate::kvm::cpuid::Unsupported;
        let mut quiet = |_: &str| {};
        let mut m =
            crate::kvm::run::KvmMachine::boot(cfg, boot, rom.cpu, Unsupported::Drop, &mut quiet)?;
        (m.run(&limits)?, 0)
    } else {
        let mut m = Machine::new(cfg, boot)?;
        (m.run(&limits), m.retired)
    };
    let output = buf
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(ImageResult {
        outcome,
        output,
        retired,
    })
}

/// Did the image end the way `roms/images.toml` expects?
pub fn passed(rom: &Rom, o: &Outcome) -> bool {
    if rom.expect_status == roms::SHUTDOWN {
        matches!(o, Outcome::TripleFault { .. })
    } else {
        !matches!(o, Outcome::TripleFault { .. }) && o.exit_status() == rom.expect_status
    }
}

/// Counts of PASS/FAIL/SKIP lines in guest output.
fn counts(out: &str) -> (usize, usize, usize) {
    let n = |p: &str| out.lines().filter(|l| l.starts_with(p)).count();
    (n("PASS:"), n("FAIL:"), n("SKIP:"))
}

pub fn run(args: &SelftestArgs) -> Result<i32, CliError> {
    let selected: Vec<&Rom> = if args.names.is_empty() {
        roms::all().iter().collect()
    } else {
        args.names
            .iter()
            .map(|n| {
                roms::find(n).ok_or_else(|| CliError(format!("no bundled image called `{n}`")))
            })
            .collect::<Result<_, _>>()?
    };
    let (mut ok, mut bad) = (0, 0);
    for rom in selected {
        let start = Instant::now();
        let custom = rom.quick_args.filter(|_| !args.full_bench);
        let r = run_image_on(rom, custom, args.accel == "kvm")?;
        let (p, f, s) = counts(&r.output);
        let good = passed(rom, &r.outcome);
        let secs = start.elapsed().as_secs_f64();
        if good {
            ok += 1;
            println!(
                "PASS {:<14} ({p} passed, {s} skipped, {secs:.2}s)",
                rom.name
            );
        } else {
            bad += 1;
            println!(
                "FAIL {:<14} ({}; {p} passed, {f} failed, {s} skipped)",
                rom.name,
                r.outcome.describe()
            );
        }
        if args.verbose || !good {
            for line in r
                .output
                .lines()
                .filter(|l| args.verbose || l.starts_with("FAIL"))
            {
                println!("    {line}");
            }
        }
    }
    println!("{ok} passed, {bad} failed");
    Ok(if bad == 0 { 0 } else { 1 })
}
