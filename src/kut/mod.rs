//! The kvm-unit-tests runner: `unittests.cfg` parsing, mapping of QEMU
//! parameters onto nestor's, result classification and reporting.
//!
//! Flow (driven by `nestor kut`, see `src/cli/kut.rs`):
//! [`cfg`](mod@cfg) parses the file → [`select`] picks entries → [`params`] turns each
//! entry into a [`params::RunPlan`] or a SKIP with a reason → [`env`](mod@env) writes
//! the test environment passed as `--initrd` → [`exec`] runs `nestor run`
//! child processes in parallel → [`classify`] maps exit statuses and output
//! to PASS/FAIL/SKIP → [`expect`] compares with the recorded expectations.

pub mod cfg;
pub mod classify;
pub mod env;
pub mod exec;
pub mod expect;
pub mod params;
pub mod select;
pub mod shell;

/// The accelerator `nestor run` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Accel {
    /// nestor's interpreter: plays the role of QEMU's TCG.
    Interp,
    /// nestor's KVM mode.
    Kvm,
}

impl Accel {
    /// The name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Interp => "interp",
            Accel::Kvm => "kvm",
        }
    }

    /// The QEMU accelerator this one stands in for (`tcg` or `kvm`), as
    /// the cfg's `accel` key and the scripts' `ACCEL` name them.
    pub fn qemu_name(self) -> &'static str {
        match self {
            Accel::Interp => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}
