//! `nestor kut` end to end, with a fake `nestor run` (a shell script passed
//! through the hidden `--runner` option) so that no emulator is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CFG: &str = "\
# fake kvm-unit-tests configuration
[slow]
file = slow.flat

[pass]
file = pass.flat
smp = 2
test_args = 'a b'
qemu_params = -cpu max,+vmx,host-phys-bits -m 256 -machine kernel_irqchip=split

[fail]
file = fail.flat

[skip]
file = skip.flat

[hang]
file = hang.flat
timeout = 1

[triple]
file = triple.flat

[i386]
file = pass.flat
arch = i386

[manual]
file = pass.flat
groups = nodefault

[nocpu]
file = pass.flat
qemu_params = -cpu max,+warp-drive

[missing]
file = missing.flat

[poweroff]
file = poweroff.flat

[startup_err]
file = err.flat
";

/// Behaves like `nestor run`: the image name decides the outcome.
const FAKE_RUN: &str = r#"#!/bin/sh
[ "$1" = run ] || { echo "fake: expected run" >&2; exit 2; }
img=$(basename "$2" .flat)
shift 2
initrd=
while [ $# -gt 0 ]; do
    case "$1" in --*=*) echo "ARG $1"; shift; continue;; esac
    [ "$1" = --initrd ] && initrd=$2
    echo "ARG $1=$2"
    shift 2
done
cat "$initrd"
case $img in
    slow) sleep 0.5; echo "SUMMARY: 1 tests"; exit 1;;
    pass) echo "PASS: ok"; printf 'SUMMARY: 3 tests\r\n'; exit 1;;
    fail) echo "FAIL: bad"; echo "SUMMARY: 2 tests, 1 unexpected failures"; exit 3;;
    skip) echo "SUMMARY: 1 tests, 1 skipped"; exit 77;;
    hang) exec sleep 30;;
    triple) exit 125;;
    poweroff) exit 0;;
    err) echo "nestor: error: bad image" >&2; exit 1;;
esac
exit 99
"#;

struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let root = std::env::temp_dir().join(format!("nestor-kut-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let x86 = root.join("kut/x86");
        std::fs::create_dir_all(&x86).expect("mkdir");
        std::fs::write(x86.join("unittests.cfg"), CFG).expect("cfg");
        for img in [
            "slow", "pass", "fail", "skip", "hang", "triple", "poweroff", "err",
        ] {
            std::fs::write(x86.join(format!("{img}.flat")), b"").expect("image");
        }
        let runner = root.join("fake-nestor");
        std::fs::write(&runner, FAKE_RUN).expect("runner");
        let mut perm = std::fs::metadata(&runner).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&runner, perm).expect("chmod");
        Fixture { root }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p)
    }

    fn kut(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_nestor"))
            .arg("kut")
            .arg("--dir")
            .arg(self.path("kut"))
            .arg("--runner")
            .arg(self.path("fake-nestor"))
            .args(args)
            .current_dir(&self.root)
            .env_remove("KVM_UNIT_TESTS_ENV")
            .output()
            .expect("run nestor kut")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn whole_run_in_cfg_order_with_logs_results_and_expectations() {
    let f = Fixture::new("run");
    std::fs::write(
        f.path("expect.txt"),
        "# expectations\nslow FAIL # newly passing\npass PASS\nfail FAIL\nskip PASS # regression\nstale PASS\n",
    )
    .expect("expect");
    let out = f.kut(&[
        "-j",
        "4",
        "--timeout-scale",
        "0.5",
        "--expect",
        "expect.txt",
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = [
        "PASS slow (1 tests)",
        "PASS pass (3 tests)",
        "FAIL fail (2 tests, 1 unexpected failures)",
        "SKIP skip (1 tests, 1 skipped)",
        "FAIL hang (timeout; wall-clock limit of 0.5s exceeded)",
        "FAIL triple (shutdown (triple fault))",
        "SKIP i386 (i386 only)",
        "SKIP manual (test marked as manual run only)",
        "SKIP nocpu (cpu model: unknown CPU feature `warp-drive` (see `nestor cpu --list-features`))",
        "SKIP missing (test file 'x86/missing.flat' not found)",
        "FAIL poweroff (no exit device write)",
        "FAIL startup_err (nestor run: nestor: error: bad image)",
        "2 passed, 5 failed, 5 skipped",
    ];
    assert_eq!(
        &lines[..expected.len()],
        expected,
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("compared with expect.txt: 1 regressions, 1 newly passing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  skip (expected PASS, got SKIP)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  slow (expected FAIL, got PASS)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stale expectations (not in the cfg) (1):\n  stale"),
        "{stdout}"
    );
    assert!(!out.status.success(), "a regression fails the run");
    assert!(
        stderr.contains("nestor: error: 1 regression(s) against expect.txt"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("running"),
        "no progress when stderr is not a terminal"
    );

    // The log holds the command line, notes, guest output (with the
    // environment file the fake printed) and the exit.
    let log = read(&f.path("logs/pass.log"));
    for want in [
        "$ ",
        " run ",
        "# note: ignored `-cpu ...,host-phys-bits`",
        "# note: `-machine kernel_irqchip=split` ignored",
        "ARG --cpu=max,+vmx\n",
        "ARG --smp=2\n",
        "ARG -m=256\n",
        "ARG --append=a b\n",
        "ARG --accel=interp\n",
        "ARG --timeout=90\n",
        "NR_CPUS=2\nMEMSIZE=256\n",
        "ERRATA_FORCE=y\n",
        "SUMMARY: 3 tests",
        "--- exit status 1 after",
    ] {
        assert!(log.contains(want), "missing {want:?} in log:\n{log}");
    }
    assert_eq!(
        read(&f.path("logs/pass.env")),
        "NR_CPUS=2\nMEMSIZE=256\nERRATA_FORCE=y\n"
    );
    let err_log = read(&f.path("logs/startup_err.log"));
    assert!(
        err_log.contains("--- stderr ---\nnestor: error: bad image\n"),
        "{err_log}"
    );
    assert!(!f.path("logs/startup_err.stderr").exists());

    let json: serde_json::Value =
        serde_json::from_str(&read(&f.path("logs/results.json"))).expect("json");
    assert_eq!(json["accel"], "interp");
    assert_eq!(
        (
            json["passed"].as_u64(),
            json["failed"].as_u64(),
            json["skipped"].as_u64()
        ),
        (Some(2), Some(5), Some(5))
    );
    assert_eq!(json["regressions"], serde_json::json!(["skip"]));
    assert_eq!(json["newly_passing"], serde_json::json!(["slow"]));
    let results = json["results"].as_array().expect("results");
    assert_eq!(results.len(), 12);
    let pass = &results[1];
    assert_eq!(pass["name"], "pass");
    assert_eq!(pass["status"], "PASS");
    assert_eq!(pass["exit_status"], 1);
    assert_eq!(pass["summary"]["tests"], 3);
    assert_eq!(pass["log"], "logs/pass.log");
    assert!(pass["duration_secs"].as_f64().is_some());
    let fail = &results[2];
    assert_eq!(fail["summary"]["failures"], 1);
    let hang = &results[4];
    assert_eq!(hang["wall_timeout"], true);
    assert_eq!(hang["exit_status"], serde_json::Value::Null);
    assert_eq!(results[6]["reason"], "i386 only");
    assert_eq!(results[6]["log"], serde_json::Value::Null);
}

#[test]
fn selection_expectations_met_and_custom_paths() {
    let f = Fixture::new("sel");
    std::fs::write(f.path("e.txt"), "pass PASS\nfail FAIL\nmanual FAIL\n").expect("expect");
    let out = f.kut(&[
        "fail",
        "pa*",
        "manual",
        "--expect",
        "e.txt",
        "--logs",
        "L",
        "--results",
        "r.json",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.starts_with("PASS pass (3 tests)\nFAIL fail (2 tests, 1 unexpected failures)\nPASS manual (3 tests)\n2 passed, 1 failed, 0 skipped\n"), "{stdout}");
    assert!(
        stdout.contains("newly passing (1):\n  manual (expected FAIL, got PASS)"),
        "{stdout}"
    );
    assert!(f.path("L/manual.log").is_file());
    assert!(f.path("r.json").is_file());

    // Without expectations, any FAIL makes the exit status non-zero.
    let out = f.kut(&["fail", "--no-expect"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("1 test(s) failed"));
    let out = f.kut(&["pass", "--no-expect"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn list_and_errors() {
    let f = Fixture::new("list");
    let out = f.kut(&["--list", "*s*"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "slow\npass\nskip\nmissing  SKIP (test file 'x86/missing.flat' not found)\nstartup_err\n"
    );
    let err = |args: &[&str]| {
        let out = f.kut(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = text(&out.stderr);
        assert_eq!(e.lines().count(), 1, "one-line error: {e}");
        e
    };
    assert!(err(&["nothing"]).contains("no entry matches `nothing` in "));
    assert!(err(&["-j", "0"]).contains("-j needs at least 1"));
    assert!(err(&["--timeout-scale", "0"]).contains("--timeout-scale must be a positive number"));
    assert!(err(&["--expect", "nope.txt"]).contains("nope.txt: cannot read"));
    std::fs::write(f.path("bad.txt"), "pass MAYBE\n").expect("write");
    assert!(err(&["--expect", "bad.txt"]).contains("bad.txt:1: unknown status `MAYBE`"));
    std::fs::write(
        f.path("kut/x86/unittests.cfg"),
        "[a]\nfile = a.flat\nbogus line\n",
    )
    .expect("write");
    assert!(err(&[]).contains("unittests.cfg:3: expected `[name]`"));
    let out = Command::new(env!("CARGO_BIN_EXE_nestor"))
        .args(["kut", "--dir", "/nonexistent"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/x86/unittests.cfg: cannot read"));
}
