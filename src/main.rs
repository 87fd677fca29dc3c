//! The `nestor` command line: parse arguments, then run one command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nestor::cli;

/// nestor: an instruction-level x86 emulator that emulates VMX and SVM.
#[derive(Parser, Debug)]
#[command(name = "nestor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a CPU model: features, CPUID leaves, MSR reset values.
    Cpu(cli::cpu::CpuArgs),
    /// Compare the interpreter with KVM on generated instruction sequences,
    /// one instruction at a time.
    Difftest(cli::difftest::DifftestArgs),
    /// Run kvm-unit-tests x86 images (from a kvm-unit-tests build directory)
    /// with `nestor run`, like its run_tests.sh.
    Kut(cli::kut::KutArgs),
    /// Show what this host's /dev/kvm offers for `--accel kvm`.
    KvmInfo(cli::kvm_info::KvmInfoArgs),
    /// Run a multiboot kernel (or firmware with --bios); without an image,
    /// the bundled demo.
    Run(cli::run::RunArgs),
    /// Run every bundled guest image and print a summary.
    Selftest(cli::selftest::SelftestArgs),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match &args.command {
        Command::Cpu(a) => cli::cpu::run(a).map(|()| 0),
        Command::Difftest(a) => cli::difftest::run(a),
        Command::Kut(a) => cli::kut::run(a).map(|()| 0),
        Command::KvmInfo(a) => cli::kvm_info::run(a),
        Command::Run(a) => cli::run::run(a),
        Command::Selftest(a) => cli::selftest::run(a),
    };
    match result {
        Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(e) => {
            // Bad input: status 2, which a guest's debug exit (always odd)
            // can never produce.
            eprintln!("nestor: error: {e}");
            ExitCode::from(2)
        }
    }
}
