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
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match &args.command {
        Command::Cpu(a) => cli::cpu::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nestor: error: {e}");
            ExitCode::FAILURE
        }
    }
}
