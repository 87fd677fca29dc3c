//! PASS/FAIL/SKIP from a `nestor run` exit status and its output, as
//! kvm-unit-tests' `scripts/runtime.bash` and `qemu_fixup_return_code`
//! (`scripts/vmm.bash`) decide it.
//!
//! | `nestor run` exit | meaning | result (reason) |
//! |---|---|---|
//! | 1, stderr empty or only warnings | guest wrote 0 to port 0xF4: all passed | PASS (summary) |
//! | 1, other stderr | startup error | FAIL (`nestor run: <first stderr line>`) |
//! | 3 | guest wrote 1: unexpected failures | FAIL (summary) |
//! | 77 | guest wrote 38: everything skipped | SKIP (summary) |
//! | 124 | virtual-time timeout or hang | FAIL (`timeout; duration=<cfg timeout>`) |
//! | killed by the runner | wall-clock limit | FAIL (`timeout; wall-clock limit of Ns exceeded`) |
//! | 125 | triple fault | FAIL (`shutdown (triple fault)`) |
//! | 127 | guest wrote 63: `abort()` | FAIL (`aborted`) |
//! | 0 | guest powered off without writing the exit port | FAIL (`no exit device write`) |
//! | signal | `nestor run` crashed | FAIL (`terminated on SIGSEGV`) |
//! | anything else | | FAIL (`status N`, plus the first stderr line) |
//!
//! Like the scripts, the result depends on the exit status only; `FAIL:`
//! lines in the output do not change it. The detail in parentheses is the
//! `SUMMARY:` line from the last five lines of output, as `extract_summary`
//! takes it.

use serde::Serialize;

/// A test result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Status {
    /// Passed.
    #[serde(rename = "PASS")]
    Pass,
    /// Failed (including timeouts and crashes).
    #[serde(rename = "FAIL")]
    Fail,
    /// Skipped (by the runner or by the test).
    #[serde(rename = "SKIP")]
    Skip,
}

impl Status {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }

    /// Parses `PASS`, `FAIL` or `SKIP`.
    pub fn from_name(s: &str) -> Option<Status> {
        match s {
            "PASS" => Some(Status::Pass),
            "FAIL" => Some(Status::Fail),
            "SKIP" => Some(Status::Skip),
            _ => None,
        }
    }
}

/// How a `nestor run` child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Exit {
    /// Exited with a status.
    Code(i32),
    /// Killed by a signal it did not catch.
    Signal(i32),
    /// Killed by the runner after the wall-clock limit (milliseconds).
    WallTimeout(u64),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", signal_name(s)),
            Exit::WallTimeout(ms) => {
                write!(f, "killed at the wall-clock limit of {}", secs_text(ms))
            }
        }
    }
}

/// The counts of a `SUMMARY:` line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Number of checks.
    pub tests: u64,
    /// Unexpected failures.
    pub failures: u64,
    /// Known failures (`KFAIL`).
    pub known_failures: u64,
    /// Expected failures (`XFAIL`).
    pub expected_failures: u64,
    /// Skipped checks.
    pub skipped: u64,
    /// The line without `SUMMARY: ` (e.g. `58 tests, 2 skipped`).
    pub text: String,
}

/// A classified result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// PASS, FAIL or SKIP.
    pub status: Status,
    /// Why, when the summary is not the whole story.
    pub reason: Option<String>,
    /// The parsed `SUMMARY:` line, if the guest printed one.
    pub summary: Option<Summary>,
}

impl Verdict {
    /// The text in parentheses after the name: the reason, else the summary.
    pub fn detail(&self) -> Option<String> {
        self.reason
            .clone()
            .or_else(|| self.summary.as_ref().map(|s| s.text.clone()))
    }
}

/// Finds the `SUMMARY:` line among the last five lines of `output`.
pub fn parse_summary(output: &str) -> Option<Summary> {
    let lines: Vec<&str> = output.lines().collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    let text = tail
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("SUMMARY: "))?
        .trim_end_matches('\r')
        .to_string();
    let mut s = Summary {
        text: text.clone(),
        ..Summary::default()
    };
    for part in text.split(", ") {
        let Some((n, what)) = part.split_once(' ') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        match what {
            "tests" => s.tests = n,
            "unexpected failures" => s.failures = n,
            "known failures" => s.known_failures = n,
            "expected failures" => s.expected_failures = n,
            "skipped" => s.skipped = n,
            _ => {}
        }
    }
    Some(s)
}

/// The first stderr line that is not blank and not a warning, as
/// `qemu_fixup_return_code` looks for (`grep -qvi warning`).
fn first_error(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.to_ascii_lowercase().contains("warning"))
}

/// A signal's name, for "terminated on SIGxxx".
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        5 => "TRAP",
        6 => "ABRT",
        7 => "BUS",
        8 => "FPE",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return format!("signal {sig}"),
    };
    format!("SIG{name}")
}

/// Milliseconds as seconds without needless decimals (`900s`, `0.5s`).
fn secs_text(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        let s = format!("{:.3}", ms as f64 / 1000.0);
        format!("{}s", s.trim_end_matches('0'))
    }
}

/// Classifies one run. `output` is the guest's serial output (stdout),
/// `stderr` nestor's diagnostics, `timeout` the cfg timeout as written.
pub fn classify(exit: Exit, output: &str, stderr: &str, timeout: &str) -> Verdict {
    let summary = parse_summary(output);
    let (status, reason) = match exit {
        Exit::Code(1) => match first_error(stderr) {
            Some(e) => (Status::Fail, Some(format!("nestor run: {e}"))),
            None => (Status::Pass, None),
        },
        Exit::Code(3) => (
            Status::Fail,
            summary.is_none().then(|| "unexpected failures".to_string()),
        ),
        Exit::Code(77) => (
            Status::Skip,
            summary.is_none().then(|| "all tests skipped".to_string()),
        ),
        Exit::Code(124) => (Status::Fail, Some(format!("timeout; duration={timeout}"))),
        Exit::WallTimeout(ms) => (
            Status::Fail,
            Some(format!(
                "timeout; wall-clock limit of {} exceeded",
                secs_text(ms)
            )),
        ),
        Exit::Code(125) => (Status::Fail, Some("shutdown (triple fault)".into())),
        Exit::Code(127) => (Status::Fail, Some("aborted".into())),
        Exit::Code(0) => (Status::Fail, Some("no exit device write".into())),
        Exit::Signal(s) => (
            Status::Fail,
            Some(format!("terminated on {}", signal_name(s))),
        ),
        Exit::Code(n) => {
            let mut r = format!("status {n}");
            if let Some(e) = first_error(stderr) {
                r.push_str(": ");
                r.push_str(e);
            }
            (Status::Fail, Some(r))
        }
    };
    Verdict {
        status,
        reason,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "enabling apic\r\nPASS: x\r\nFAIL: y\r\nSUMMARY: 58 tests, 2 unexpected failures, 1 known failures, 3 expected failures, 4 skipped\r\n";

    #[test]
    fn summary_line() {
        let s = parse_summary(OUT).expect("summary");
        assert_eq!(s.tests, 58);
        assert_eq!(s.failures, 2);
        assert_eq!(s.known_failures, 1);
        assert_eq!(s.expected_failures, 3);
        assert_eq!(s.skipped, 4);
        assert_eq!(
            s.text,
            "58 tests, 2 unexpected failures, 1 known failures, 3 expected failures, 4 skipped"
        );
        let s = parse_summary("SUMMARY: 3 tests\n").expect("short");
        assert_eq!((s.tests, s.failures, s.text.as_str()), (3, 0, "3 tests"));
        assert_eq!(parse_summary("no summary\n"), None);
        // Only the last five lines count, as `tail -5` in the script.
        let far = format!("SUMMARY: 1 tests\n{}", "x\n".repeat(5));
        assert_eq!(parse_summary(&far), None);
        assert!(parse_summary("SUMMARY: garbage, x y, 7 tests\n").is_some());
    }

    #[test]
    fn classification_table() {
        let t = "90s";
        let c = |exit, out: &str, err: &str| classify(exit, out, err, t);
        let pass = c(Exit::Code(1), "SUMMARY: 5 tests\n", "");
        assert_eq!(pass.status, Status::Pass);
        assert_eq!(pass.detail().as_deref(), Some("5 tests"));
        let warn = c(Exit::Code(1), "", "nestor: warning: slow\n\n");
        assert_eq!(warn.status, Status::Pass);
        assert_eq!(warn.detail(), None);
        let startup = c(Exit::Code(1), "", "nestor: error: bad image\n");
        assert_eq!(startup.status, Status::Fail);
        assert_eq!(
            startup.detail().as_deref(),
            Some("nestor run: nestor: error: bad image")
        );
        let fail = c(Exit::Code(3), OUT, "");
        assert_eq!(fail.status, Status::Fail);
        assert_eq!(fail.detail().unwrap(), fail.summary.as_ref().unwrap().text);
        assert_eq!(
            c(Exit::Code(3), "", "").detail().as_deref(),
            Some("unexpected failures")
        );
        let skip = c(Exit::Code(77), "SUMMARY: 2 tests, 2 skipped\n", "");
        assert_eq!(
            (skip.status, skip.detail().as_deref()),
            (Status::Skip, Some("2 tests, 2 skipped"))
        );
        let table = [
            (Exit::Code(124), "timeout; duration=90s"),
            (
                Exit::WallTimeout(900_000),
                "timeout; wall-clock limit of 900s exceeded",
            ),
            (
                Exit::WallTimeout(1_250),
                "timeout; wall-clock limit of 1.25s exceeded",
            ),
            (Exit::Code(125), "shutdown (triple fault)"),
            (Exit::Code(127), "aborted"),
            (Exit::Code(0), "no exit device write"),
            (Exit::Signal(11), "terminated on SIGSEGV"),
            (Exit::Signal(64), "terminated on signal 64"),
            (Exit::Code(5), "status 5"),
        ];
        for (exit, reason) in table {
            let v = c(exit, OUT, "");
            assert_eq!(v.status, Status::Fail, "{exit:?}");
            assert_eq!(v.detail().as_deref(), Some(reason), "{exit:?}");
            assert!(v.summary.is_some(), "summary kept for the results file");
        }
        let usage = c(Exit::Code(2), "", "error: unexpected argument '--frob'\n");
        assert_eq!(
            usage.detail().as_deref(),
            Some("status 2: error: unexpected argument '--frob'")
        );
    }

    #[test]
    fn exit_display() {
        assert_eq!(Exit::Code(3).to_string(), "exit status 3");
        assert_eq!(Exit::Signal(9).to_string(), "killed by SIGKILL");
        assert_eq!(
            Exit::WallTimeout(500).to_string(),
            "killed at the wall-clock limit of 0.5s"
        );
    }

    #[test]
    fn status_names() {
        for s in [Status::Pass, Status::Fail, Status::Skip] {
            assert_eq!(Status::from_name(s.name()), Some(s));
        }
        assert_eq!(Status::from_name("pass"), None);
    }
}
