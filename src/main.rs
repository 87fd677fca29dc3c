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
    /// Run kvm-unit-tests x86 images (from a kvm-unit-tests build directory)
    /// with `nestor run`, like its run_tests.sh.
    Kut(cli::kut::KutArgs),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match &args.command {
        Command::Cpu(a) => cli::cpu::run(a),
        Command::Kut(a) => cli::kut::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nestor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
