//! Running tests: the [`Runner`] trait (how one test runs), the real
//! [`ChildRunner`] (a `nestor run` child process with a wall-clock limit),
//! and [`run_ordered`], which runs work items in parallel but reports them
//! in order.
//!
//! The child command line is
//! `PROGRAM run IMAGE --cpu CPU --smp N -m MIB [--append ARGS] --initrd ENV
//! --accel interp|kvm [--timeout SECS]`; its stdin is `/dev/null`, its
//! stdout (guest serial output) goes to the test's log after a header, its
//! stderr is appended to the log after a `--- stderr ---` line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Accel;
use super::classify::Exit;
use super::params::RunPlan;

/// How much of the end of the guest output is kept in memory.
pub const OUTPUT_TAIL_BYTES: u64 = 64 * 1024;

/// Everything needed to run one test.
#[derive(Clone, Debug)]
pub struct Job {
    /// Entry name.
    pub name: String,
    /// Image and machine configuration.
    pub plan: RunPlan,
    /// Accelerator.
    pub accel: Accel,
    /// The environment file (`--initrd`).
    pub initrd: PathBuf,
    /// The log file to write.
    pub log: PathBuf,
    /// Kill the child after this long; `None`: no limit.
    pub wall_limit: Option<Duration>,
}

impl Job {
    /// The arguments after the program name: `run IMAGE --cpu ...`.
    pub fn args(&self) -> Vec<OsString> {
        fn push_word(a: &mut Vec<OsString>, w: OsString) {
            a.push(w);
        }
        let p = &self.plan;
        let mut a: Vec<OsString> = vec!["run".into(), p.image.clone().into()];
        let push = |a: &mut Vec<OsString>, k: &str, v: OsString| {
            a.push(k.into());
            a.push(v);
        };
        push(&mut a, "--cpu", p.cpu.clone().into());
        push(&mut a, "--smp", p.smp.to_string().into());
        push(&mut a, "-m", p.mem_mib.to_string().into());
        if let Some(app) = &p.append {
            // `--append=ARGS` as one word: test arguments often start with
            // a dash (`-p`, `-e`), which would otherwise parse as a flag.
            let mut w = OsString::from("--append=");
            w.push(app);
            push_word(&mut a, w);
        }
        push(&mut a, "--initrd", self.initrd.clone().into());
        push(&mut a, "--accel", self.accel.name().into());
        if self.accel == Accel::Kvm {
            // As QEMU does by default (without `enforce`): features the
            // host cannot provide are dropped with a warning.
            a.push("--kvm-drop-unsupported".into());
        }
        if let Some(t) = p.timeout {
            push(
                &mut a,
                "--timeout",
                t.as_secs_f64().ceil().max(1.0).to_string().into(),
            );
        }
        a
    }
}

/// How a run ended and what it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Exit status, signal, or wall-clock kill.
    pub exit: Exit,
    /// The last [`OUTPUT_TAIL_BYTES`] of the guest's output.
    pub output: String,
    /// nestor's stderr.
    pub stderr: String,
    /// Wall-clock duration.
    pub duration: Duration,
}

/// How one test is run. The real one is [`ChildRunner`]; tests substitute
/// their own.
pub trait Runner: Sync {
    /// Runs the job; `Err` when it could not be started at all.
    fn run(&self, job: &Job) -> Result<Outcome, String>;
}

/// Runs `PROGRAM run ...` as a child process.
pub struct ChildRunner {
    /// The program: normally nestor itself (`std::env::current_exe()`).
    pub program: PathBuf,
}

/// Quotes a word for display in a shell-like command line.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,+=:@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn read_tail(path: &Path, start: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = start.max(len.saturating_sub(OUTPUT_TAIL_BYTES));
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

impl Runner for ChildRunner {
    fn run(&self, job: &Job) -> Result<Outcome, String> {
        let ctx = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
        let args = job.args();
        let mut log =
            std::fs::File::create(&job.log).map_err(|e| ctx("cannot create", &job.log, e))?;
        let cmdline: Vec<String> = std::iter::once(self.program.as_os_str())
            .chain(args.iter().map(OsString::as_os_str))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        let mut header = format!("# nestor kut: {}\n$ {}\n", job.name, cmdline.join(" "));
        for n in &job.plan.notes {
            header.push_str(&format!("# note: {n}\n"));
        }
        log.write_all(header.as_bytes())
            .map_err(|e| ctx("cannot write", &job.log, e))?;
        let stderr_path = job.log.with_extension("stderr");
        let stderr_file = std::fs::File::create(&stderr_path)
            .map_err(|e| ctx("cannot create", &stderr_path, e))?;
        let stdout = log
            .try_clone()
            .map_err(|e| ctx("cannot reopen", &job.log, e))?;
        let start = Instant::now();
        let mut child = std::process::Command::new(&self.program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(stderr_file)
            .spawn()
            .map_err(|e| ctx("cannot run", &self.program, e))?;
        let exit = loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    break match st.code() {
                        Some(c) => Exit::Code(c),
                        None => Exit::Signal(
                            std::os::unix::process::ExitStatusExt::signal(&st).unwrap_or(0),
                        ),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = child.kill();
                    return Err(format!("waiting for {}: {e}", job.name));
                }
            }
            if let Some(limit) = job.wall_limit.filter(|&l| start.elapsed() >= l) {
                let _ = child.kill();
                let _ = child.wait();
                break Exit::WallTimeout(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let duration = start.elapsed();
        let stderr = std::fs::read(&stderr_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let _ = std::fs::remove_file(&stderr_path);
        let output = read_tail(&job.log, header.len() as u64).unwrap_or_default();
        let mut trailer = String::new();
        if !output.is_empty() && !output.ends_with('\n') {
            trailer.push('\n');
        }
        if !stderr.is_empty() {
            trailer.push_str("--- stderr ---\n");
            trailer.push_str(&stderr);
            if !stderr.ends_with('\n') {
                trailer.push('\n');
            }
        }
        trailer.push_str(&format!(
            "--- {exit} after {:.2}s ---\n",
            duration.as_secs_f64()
        ));
        let _ = log
            .seek(SeekFrom::End(0))
            .and_then(|_| log.write_all(trailer.as_bytes()));
        Ok(Outcome {
            exit,
            output,
            stderr,
            duration,
        })
    }
}

/// Runs `work(0..count)` on up to `parallel` threads. `on_start(i)` is
/// called when item `i` starts; `on_ready(i, result)` is called for every
/// item in index order, as soon as it and all earlier items are done. Both
/// callbacks run on the calling thread.
pub fn run_ordered<T: Send>(
    count: usize,
    parallel: usize,
    work: &(dyn Fn(usize) -> T + Sync),
    mut on_start: impl FnMut(usize),
    mut on_ready: impl FnMut(usize, T),
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Option<T>)>();
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, count.max(1)) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count || tx.send((i, None)).is_err() {
                        break;
                    }
                    if tx.send((i, Some(work(i)))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx {
            match r {
                None => on_start(i),
                Some(r) => {
                    done.insert(i, r);
                    while let Some(r) = done.remove(&want) {
                        on_ready(want, r);
                        want += 1;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_despite_parallel_completion() {
        for parallel in [1, 2, 4, 16] {
            let mut started = Vec::new();
            let mut ready = Vec::new();
            // Later items finish first.
            let work = |i: usize| {
                std::thread::sleep(Duration::from_millis(((8 - i) * 3) as u64));
                i * 10
            };
            run_ordered(
                8,
                parallel,
                &work,
                |i| started.push(i),
                |i, r| ready.push((i, r)),
            );
            started.sort();
            assert_eq!(started, (0..8).collect::<Vec<_>>());
            assert_eq!(
                ready,
                (0..8).map(|i| (i, i * 10)).collect::<Vec<_>>(),
                "-j {parallel}"
            );
        }
        let (mut a, mut b) = (0, 0);
        run_ordered(0, 4, &|_| (), |_| a += 1, |_, _| b += 1);
        assert_eq!((a, b), (0, 0));
    }

    #[test]
    fn job_arguments() {
        let job = Job {
            name: "t".into(),
            plan: RunPlan {
                image: "/k/x86/t.flat".into(),
                cpu: "max,+vmx".into(),
                smp: 2,
                mem_mib: 2048,
                append: Some("a b".into()),
                timeout: Some(Duration::from_millis(1500)),
                notes: vec![],
            },
            accel: Accel::Interp,
            initrd: "logs/t.env".into(),
            log: "logs/t.log".into(),
            wall_limit: None,
        };
        let args: Vec<String> = job
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join("|"),
            "run|/k/x86/t.flat|--cpu|max,+vmx|--smp|2|-m|2048|--append=a b|--initrd|logs/t.env|--accel|interp|--timeout|2"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("max,+vmx"), "max,+vmx");
        assert_eq!(shell_quote(""), "''");
    }
}
