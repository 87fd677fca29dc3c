//! `nestor kut`: run kvm-unit-tests x86 images the way its `run_tests.sh`
//! does, with `nestor run` child processes in place of QEMU.
//!
//! ```text
//! nestor kut --dir KUT_BUILD_DIR [TEST|GLOB ...] [-j N] [--accel interp|kvm]
//!            [--timeout-scale F] [--results FILE.json] [--logs DIR]
//!            [--expect FILE | --no-expect] [--list]
//! ```
//!
//! - Entries come from `KUT_BUILD_DIR/x86/unittests.cfg`; images from
//!   `KUT_BUILD_DIR/x86/`. Selection rules: `crate::kut::select`.
//! - Each test runs as `nestor run ...` (see `crate::kut::exec`) with the
//!   cfg timeout as a virtual-time `--timeout`, and is killed after
//!   timeout × `--timeout-scale` seconds of wall-clock time (default scale
//!   10 for the interpreter, 2 for KVM).
//! - One line per test on stdout, in cfg order even with `-j N`:
//!   `PASS name (summary)`, `FAIL name (reason)`, `SKIP name (reason)`,
//!   then `N passed, N failed, N skipped`. Progress (`[3/47] running x`)
//!   goes to stderr when it is a terminal.
//! - Logs: `DIR/NAME.log` (command, notes, guest output, stderr) and
//!   `DIR/NAME.env` (the environment passed as `--initrd`); default
//!   `logs/`. Results: JSON, default `DIR/results.json`.
//! - Expectations: `--expect FILE`, else
//!   `testsuites/kvm-unit-tests/expected-<accel>.txt` found in the current
//!   directory or in a parent directory of the nestor binary (its
//!   repository when run from `target/`); `--no-expect` turns this off.
//! - Exit status: non-zero when a test expected to PASS did not; without
//!   expectations, non-zero when any test failed.
//! - `--runner PATH` (hidden, for testing) runs PATH instead of nestor.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{CliError, CliResult};
use crate::kut::classify::{self, Exit, Status, Summary};
use crate::kut::exec::{self, ChildRunner, Job, Outcome, Runner};
use crate::kut::params::{self, Plan, PlanCtx};
use crate::kut::select::{self, NODEFAULT_REASON};
use crate::kut::shell::RealHost;
use crate::kut::{Accel, cfg, env, expect};

/// Arguments of `nestor kut`.
#[derive(clap::Args, Debug)]
pub struct KutArgs {
    /// kvm-unit-tests build directory (with x86/unittests.cfg and x86/*.flat).
    #[arg(long, value_name = "KUT_BUILD_DIR")]
    pub dir: PathBuf,
    /// Entries to run: names or globs such as 'vmx*' (default: all).
    /// `nodefault` entries run only when named exactly.
    #[arg(value_name = "TEST|GLOB")]
    pub tests: Vec<String>,
    /// Number of tests to run in parallel.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Accelerator for `nestor run`.
    #[arg(long, value_enum, default_value = "interp")]
    pub accel: Accel,
    /// Wall-clock limit = cfg timeout × F [default: 10 for interp, 2 for kvm].
    #[arg(long, value_name = "F")]
    pub timeout_scale: Option<f64>,
    /// Write the JSON results here [default: LOGS/results.json].
    #[arg(long, value_name = "FILE.json")]
    pub results: Option<PathBuf>,
    /// Directory for per-test logs and environment files.
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub logs: PathBuf,
    /// Expected results to compare with [default:
    /// testsuites/kvm-unit-tests/expected-ACCEL.txt if found].
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Do not compare with any expectations file.
    #[arg(long, conflicts_with = "expect")]
    pub no_expect: bool,
    /// List the selected entries (with the runner's SKIP reasons) and exit.
    #[arg(long)]
    pub list: bool,
    /// For testing: the program to run instead of nestor (`PROGRAM run ...`).
    #[arg(long, hide = true, value_name = "PATH")]
    pub runner: Option<PathBuf>,
}

/// One line of the JSON results.
#[derive(Serialize, Debug)]
struct TestResult {
    name: String,
    status: Status,
    reason: Option<String>,
    summary: Option<Summary>,
    /// `nestor run`'s exit status, when it exited.
    exit_status: Option<i32>,
    /// The signal that killed `nestor run`, if any.
    signal: Option<i32>,
    /// True when the runner killed it at the wall-clock limit.
    wall_timeout: bool,
    duration_secs: f64,
    log: Option<String>,
    notes: Vec<String>,
}

#[derive(Serialize, Debug)]
struct Report<'a> {
    kut_dir: String,
    accel: &'static str,
    passed: usize,
    failed: usize,
    skipped: usize,
    expectations: Option<String>,
    regressions: Vec<&'a str>,
    newly_passing: Vec<&'a str>,
    results: &'a [TestResult],
}

/// Default wall-clock scale per accelerator.
fn default_scale(accel: Accel) -> f64 {
    match accel {
        Accel::Interp => 10.0,
        Accel::Kvm => 2.0,
    }
}

/// A file-name-safe form of an entry name.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Finds the default expectations file for `accel`.
fn default_expect(accel: Accel) -> Option<PathBuf> {
    let rel = Path::new("testsuites/kvm-unit-tests").join(format!("expected-{}.txt", accel.name()));
    if rel.is_file() {
        return Some(rel);
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .map(|d| d.join(&rel))
        .find(|p| p.is_file())
}

/// Prints a line on stdout; a closed stdout (e.g. `| head`) is not an error.
fn out(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn colored(status: Status, tty: bool) -> String {
    if !tty {
        return status.name().to_string();
    }
    let code = match status {
        Status::Pass => 32,
        Status::Fail => 31,
        Status::Skip => 33,
    };
    format!("\x1b[{code}m{}\x1b[0m", status.name())
}

fn result_line(r: &TestResult, tty: bool) -> String {
    let detail = r
        .reason
        .clone()
        .or_else(|| r.summary.as_ref().map(|s| s.text.clone()));
    match detail {
        Some(d) => format!("{} {} ({d})", colored(r.status, tty), r.name),
        None => format!("{} {}", colored(r.status, tty), r.name),
    }
}

fn skipped(name: &str, reason: String) -> TestResult {
    TestResult {
        name: name.to_string(),
        status: Status::Skip,
        reason: Some(reason),
        summary: None,
        exit_status: None,
        signal: None,
        wall_timeout: false,
        duration_secs: 0.0,
        log: None,
        notes: Vec::new(),
    }
}

fn finished(job: &Job, timeout_text: &str, outcome: Result<Outcome, String>) -> TestResult {
    let log = Some(job.log.display().to_string());
    let notes = job.plan.notes.clone();
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            return TestResult {
                status: Status::Fail,
                log,
                notes,
                ..skipped(&job.name, e)
            };
        }
    };
    let v = classify::classify(o.exit, &o.output, &o.stderr, timeout_text);
    TestResult {
        name: job.name.clone(),
        status: v.status,
        reason: v.reason,
        summary: v.summary,
        exit_status: match o.exit {
            Exit::Code(c) => Some(c),
            _ => None,
        },
        signal: match o.exit {
            Exit::Signal(s) => Some(s),
            _ => None,
        },
        wall_timeout: matches!(o.exit, Exit::WallTimeout(_)),
        duration_secs: (o.duration.as_secs_f64() * 1000.0).round() / 1000.0,
        log,
        notes,
    }
}

/// Runs `nestor kut`.
pub fn run(args: &KutArgs) -> CliResult {
    if args.jobs == 0 {
        return Err(CliError("-j needs at least 1".into()));
    }
    let scale = args.timeout_scale.unwrap_or(default_scale(args.accel));
    if !(scale.is_finite() && scale > 0.0 && scale <= 1e6) {
        return Err(CliError(format!(
            "--timeout-scale must be a positive number, got {scale}"
        )));
    }
    let cfg_path = args.dir.join("x86").join("unittests.cfg");
    let entries = cfg::load(&cfg_path)?;
    let selected =
        select::select(&entries, &args.tests, &cfg_path.display().to_string()).map_err(CliError)?;
    let host = RealHost::new(&args.dir, args.accel.qemu_name());
    let ctx = PlanCtx {
        dir: &args.dir,
        accel: args.accel,
        host: &host,
    };
    let plans: Vec<(&cfg::Entry, Plan)> = selected
        .iter()
        .map(|s| {
            let e = &entries[s.index];
            let p = if s.manual_only {
                Plan::Skip(NODEFAULT_REASON.into())
            } else {
                params::plan(e, &ctx)
            };
            (e, p)
        })
        .collect();

    if args.list {
        for (e, p) in &plans {
            match p {
                Plan::Run(_) => out(&e.name),
                Plan::Skip(r) => out(&format!("{}  SKIP ({r})", e.name)),
            }
        }
        return Ok(());
    }

    let expect_path = match (&args.expect, args.no_expect) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => default_expect(args.accel),
    };
    let expectations = match &expect_path {
        Some(p) => Some(expect::load(p).map_err(CliError)?),
        None => None,
    };

    std::fs::create_dir_all(&args.logs)
        .map_err(|e| CliError(format!("cannot create {}: {e}", args.logs.display())))?;
    let env_inputs = env::EnvInputs::from_host(&args.dir);
    let mut jobs: Vec<Option<Job>> = Vec::with_capacity(plans.len());
    for (e, p) in &plans {
        let Plan::Run(plan) = p else {
            jobs.push(None);
            continue;
        };
        let stem = file_stem(&e.name);
        let initrd = args.logs.join(format!("{stem}.env"));
        let text =
            env::env_text(plan.smp, plan.mem_mib, args.accel, &env_inputs).map_err(CliError)?;
        std::fs::write(&initrd, text)
            .map_err(|err| CliError(format!("cannot write {}: {err}", initrd.display())))?;
        jobs.push(Some(Job {
            name: e.name.clone(),
            plan: plan.clone(),
            accel: args.accel,
            initrd,
            log: args.logs.join(format!("{stem}.log")),
            wall_limit: plan
                .timeout
                .map(|t| t.mul_f64(scale).max(Duration::from_millis(100))),
        }));
    }

    let program = match &args.runner {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| CliError(format!("cannot find the nestor binary: {e}")))?,
    };
    let runner = ChildRunner { program };
    let results = run_all(&plans, &jobs, &runner, args.jobs);

    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let (passed, failed, skip_count) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
    );
    out(&format!(
        "{passed} passed, {failed} failed, {skip_count} skipped"
    ));

    let diff = expectations.as_ref().map(|exp| {
        let got: Vec<(String, Status)> =
            results.iter().map(|r| (r.name.clone(), r.status)).collect();
        let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
        expect::compare(exp, &got, &names)
    });
    if let (Some(d), Some(p)) = (&diff, &expect_path) {
        out(&format!(
            "compared with {}: {} regressions, {} newly passing",
            p.display(),
            d.regressions.len(),
            d.newly_passing.len()
        ));
        for l in d.lines() {
            out(&l);
        }
    }

    let results_path = args
        .results
        .clone()
        .unwrap_or_else(|| args.logs.join("results.json"));
    let report = Report {
        kut_dir: args.dir.display().to_string(),
        accel: args.accel.name(),
        passed,
        failed,
        skipped: skip_count,
        expectations: expect_path.as_ref().map(|p| p.display().to_string()),
        regressions: diff
            .iter()
            .flat_map(|d| d.regressions.iter().map(|c| c.name.as_str()))
            .collect(),
        newly_passing: diff
            .iter()
            .flat_map(|d| d.newly_passing.iter().map(|c| c.name.as_str()))
            .collect(),
        results: &results,
    };
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&results_path, json + "\n")
        .map_err(|e| CliError(format!("cannot write {}: {e}", results_path.display())))?;

    match (&diff, &expect_path) {
        (Some(d), Some(p)) if !d.regressions.is_empty() => Err(CliError(format!(
            "{} regression(s) against {}",
            d.regressions.len(),
            p.display()
        ))),
        (None, _) if failed > 0 => Err(CliError(format!("{failed} test(s) failed"))),
        _ => Ok(()),
    }
}

/// The progress line: how many runs are reported, and the first running one.
fn progress_text(
    reported: usize,
    total: usize,
    running: &std::collections::BTreeMap<usize, &str>,
) -> String {
    let Some(first) = running.values().next() else {
        return String::new();
    };
    let more = match running.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    format!("[{}/{total}] running {first}{more}", reported + 1)
}

/// Runs the jobs, printing one line per entry in cfg order.
fn run_all(
    plans: &[(&cfg::Entry, Plan)],
    jobs: &[Option<Job>],
    runner: &dyn Runner,
    parallel: usize,
) -> Vec<TestResult> {
    let tty = std::io::stdout().is_terminal();
    let progress = std::io::stderr().is_terminal();
    let total_runs = jobs.iter().flatten().count();
    // Shared by both callbacks (both run on this thread).
    let running = std::cell::RefCell::new(std::collections::BTreeMap::<usize, &str>::new());
    let reported = std::cell::Cell::new(0);
    let mut results = Vec::with_capacity(plans.len());
    let work = |i: usize| jobs[i].as_ref().map(|j| runner.run(j));
    exec::run_ordered(
        plans.len(),
        parallel,
        &work,
        |i| {
            if let Some(job) = &jobs[i] {
                running.borrow_mut().insert(i, &job.name);
                if progress {
                    eprint!(
                        "\r\x1b[K{}",
                        progress_text(reported.get(), total_runs, &running.borrow())
                    );
                }
            }
        },
        |i, outcome| {
            let (entry, plan) = &plans[i];
            let r = match (plan, &jobs[i], outcome) {
                (Plan::Skip(reason), _, _) => skipped(&entry.name, reason.clone()),
                (Plan::Run(_), Some(job), Some(o)) => finished(job, &entry.timeout_display(), o),
                _ => skipped(&entry.name, "internal error: no job".into()),
            };
            if running.borrow_mut().remove(&i).is_some() {
                reported.set(reported.get() + 1);
            }
            if progress {
                eprint!("\r\x1b[K");
            }
            out(&result_line(&r, tty));
            if progress {
                eprint!(
                    "{}",
                    progress_text(reported.get(), total_runs, &running.borrow())
                );
            }
            results.push(r);
        },
    );
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(
            file_stem("access-reduced-maxphyaddr"),
            "access-reduced-maxphyaddr"
        );
        assert_eq!(file_stem("a/b c"), "a_b_c");
        assert_eq!(default_scale(Accel::Interp), 10.0);
        let r = TestResult {
            summary: Some(Summary {
                tests: 3,
                text: "3 tests".into(),
                ..Summary::default()
            }),
            status: Status::Pass,
            reason: None,
            ..skipped("x", String::new())
        };
        assert_eq!(result_line(&r, false), "PASS x (3 tests)");
        assert_eq!(result_line(&r, true), "\x1b[32mPASS\x1b[0m x (3 tests)");
        assert_eq!(
            result_line(&skipped("y", "i386 only".into()), false),
            "SKIP y (i386 only)"
        );
    }
}
