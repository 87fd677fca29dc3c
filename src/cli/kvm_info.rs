//! `nestor kvm-info`: what this host's /dev/kvm offers (capabilities,
//! supported CPUID, MSR index list), and whether `--accel kvm` can run.

use super::CliError;
use crate::kvm::caps::{self, KvmCaps};

#[derive(clap::Args, Debug)]
pub struct KvmInfoArgs {
    /// Also list the supported/emulated CPUID entries and the MSR lists.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(args: &KvmInfoArgs) -> Result<i32, CliError> {
    let kvm = caps::open()?;
    let caps = KvmCaps::probe(&kvm)?;
    print!("{}", caps.report());
    let names = crate::kvm::cpuid::host_feature_names(&caps);
    println!("{:<28} {}", "CPU features for guests", names.join(" "));
    if let Some(v) = crate::kvm::cpuid::host_vendor(&caps) {
        println!("{:<28} {}", "host vendor", v.id_string());
    }
    if args.verbose {
        print!("{}", caps.report_lists());
    }
    match caps.require_for_run() {
        Ok(()) => println!("--accel kvm: usable"),
        Err(e) => println!("--accel kvm: not usable: {e}"),
    }
    Ok(0)
}
