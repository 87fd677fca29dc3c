//! Command-line commands, one file each. `main.rs` only parses arguments and
//! dispatches here.

pub mod cpu;
pub mod difftest;
pub mod kut;
pub mod kvm_info;
pub mod run;
pub mod selftest;

/// A command failure: printed as one line `nestor: error: ...`, exit status 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;
