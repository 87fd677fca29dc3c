//! `nestor difftest`: lockstep comparison of the interpreter with KVM on
//! generated instruction sequences (see `crate::difftest`).

use std::time::Instant;

use super::CliError;
use crate::difftest::{Batch, Finding, Modes, Session, report};

#[derive(clap::Args, Debug)]
pub struct DifftestArgs {
    /// Batch seed: sequence N of seed S is always the same.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of sequences.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// First sequence number (to re-run one: --start N --count 1).
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Generated instructions per sequence (1-256).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub len: u16,
    /// Privilege of the generated code (both: even sequences supervisor,
    /// odd ones user).
    #[arg(long, default_value = "both", value_parser = ["user", "supervisor", "both"])]
    pub mode: String,
    /// CPU model (`nestor cpu --list`); KVM gets it restricted to the host.
    #[arg(long, default_value = "max")]
    pub cpu: String,
    /// Print at most this many differences in full (the summary counts all).
    #[arg(long, default_value_t = 20)]
    pub show: u64,
    /// Also print differences explained by host quirks.
    #[arg(long)]
    pub show_quirks: bool,
}

/// Exit status 0 when no unexplained difference was found, 1 otherwise.
pub fn run(args: &DifftestArgs) -> Result<i32, CliError> {
    let modes = match args.mode.as_str() {
        "user" => Modes::User,
        "supervisor" => Modes::Supervisor,
        _ => Modes::Both,
    };
    let batch = Batch {
        seed: args.seed,
        start: args.start,
        count: args.count,
        len: usize::from(args.len),
        modes,
    };
    let mut session = Session::new(&args.cpu).map_err(CliError)?;
    for w in &session.warnings {
        eprintln!("nestor: warning: kvm: {w}");
    }
    let t = Instant::now();
    let mut shown = 0;
    let sum = session
        .run(&batch, &mut |seq, f| {
            let (d, q) = match f {
                Finding::Difference(d) => (d, None),
                Finding::Quirk(q, d) if args.show_quirks => (d, Some(q)),
                Finding::Quirk(..) => return,
            };
            if shown < args.show {
                shown += 1;
                print!("{}", report::difference(args.seed, seq, d, q));
            }
        })
        .map_err(CliError)?;
    print!(
        "{}",
        report::summary(&batch, &sum, t.elapsed().as_secs_f64())
    );
    Ok(if sum.differences == 0 { 0 } else { 1 })
}
