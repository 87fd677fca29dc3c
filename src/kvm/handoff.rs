//! Backend handoff: a run starts under one backend and continues under the
//! other from the same state (`nestor run --handoff DIRECTION@POINT`).
//!
//! What moves, and how:
//!
//! - **vCPU state**: every vCPU's `VcpuState`, exported by one backend and
//!   imported by the other (`interp::Cpu::export` / `KvmVcpu::import_state`
//!   and back), at the shared VM clock `now`. That covers registers, FPU,
//!   MSRs, the local APIC (IRR/ISR/TMR and the timer's phase, see
//!   `kvm/lapic.rs`), pending NMIs and events, and the activity state
//!   (HLT, wait-for-SIPI as KVM's MP state).
//! - **Guest memory and devices**: the board — the same `GuestMemory`
//!   (KVM maps its RAM as memory slots; nothing is copied) and the same
//!   device objects with their state, including the 8259 pair and the
//!   IOAPIC (lines, IRR, remote IRR). A KVM run starting on a board with
//!   interrupts in flight re-announces them (`KvmMachine::run_until`).
//! - **Time**: device time is the VM clock in ns on both sides; KVM's run
//!   continues it from the interpreter's virtual time, and the
//!   interpreter continues from where KVM's (host-time) clock stopped.
//!   The guest TSC moves as IA32_TSC: KVM → interpreter it continues from
//!   KVM's value (offset = KVM's TSC − the VM clock), so it never goes
//!   backwards. Interpreter → KVM it is written to KVM, and a host whose
//!   KVM ignores IA32_TSC writes (this project's, see `nestor kvm-info`)
//!   keeps its own, larger, host TSC: a forward jump. Not exact: without
//!   KVM_CAP_TSC_CONTROL KVM's TSC runs at the host's rate, not 1 GHz, and
//!   an armed TSC-deadline timer fires at once after such a jump.
//! - **Derived state** is rebuilt, never moved: the interpreter starts
//!   with empty decoded-block caches and TLBs (see `machine/handoff.rs`).
//!
//! Where: interpreter → KVM after N instructions retired by the
//! interpreter since it took over (an instruction boundary, exact and
//! reproducible); KVM → interpreter after the Nth device exit or the Kth
//! guest write to a port, with every vCPU stopped after completing its
//! current instruction (`kvm/run.rs`, `vcpu_loop`).

use std::str::FromStr;
use std::sync::Arc;

use super::KvmError;
use super::caps::{self, KvmCaps};
use super::cpuid::Unsupported;
use super::run::{ExitStats, KvmMachine, StopAt};
use crate::machine::clock::tsc_at;
use crate::machine::{Boot, Limits, Machine, MachineConfig, MachineParts, Outcome};
use crate::state::VcpuState;

/// An execution backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Interp,
    Kvm,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Interp => "interp",
            Backend::Kvm => "kvm",
        }
    }
}

/// One `--handoff`: where the backend running the machine gives it to the
/// other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// `interp-to-kvm@insns=N`: after N instructions retired by the
    /// interpreter (all vCPUs, REP iterations counting one each, as for
    /// `--max-insns`) since it took over.
    InterpToKvm { insns: u64 },
    /// `kvm-to-interp@exits=N` / `kvm-to-interp@port=P[:K]`.
    KvmToInterp(StopAt),
}

impl Handoff {
    /// The backend that runs until this handoff.
    pub fn from(self) -> Backend {
        match self {
            Handoff::InterpToKvm { .. } => Backend::Interp,
            Handoff::KvmToInterp(_) => Backend::Kvm,
        }
    }

    /// The backend that continues after it.
    pub fn to(self) -> Backend {
        match self.from() {
            Backend::Interp => Backend::Kvm,
            Backend::Kvm => Backend::Interp,
        }
    }
}

impl std::fmt::Display for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handoff::InterpToKvm { insns } => write!(f, "interp-to-kvm@insns={insns}"),
            Handoff::KvmToInterp(StopAt::Exits(n)) => write!(f, "kvm-to-interp@exits={n}"),
            Handoff::KvmToInterp(StopAt::PortWrite { port, nth }) => {
                write!(f, "kvm-to-interp@port={port:#x}:{nth}")
            }
        }
    }
}

/// Syntax help for error messages.
pub const SYNTAX: &str = "interp-to-kvm@insns=N, kvm-to-interp@exits=N or kvm-to-interp@port=P[:K]";

/// A number: decimal or 0x-hex, `_` allowed between digits.
fn number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

impl FromStr for Handoff {
    type Err = String;

    fn from_str(spec: &str) -> Result<Handoff, String> {
        let bad = |why: &str| format!("--handoff `{spec}`: {why} (expected {SYNTAX})");
        let (dir, point) = spec.split_once('@').ok_or_else(|| bad("no `@POINT`"))?;
        let (key, value) = point
            .split_once('=')
            .ok_or_else(|| bad("the point needs `KEY=VALUE`"))?;
        let num = |v: &str, what: &str| {
            number(v).ok_or_else(|| bad(&format!("`{v}` is not a valid {what}")))
        };
        match (dir, key) {
            ("interp-to-kvm", "insns") => Ok(Handoff::InterpToKvm {
                insns: num(value, "instruction count")?,
            }),
            ("kvm-to-interp", "exits") => match num(value, "exit count")? {
                0 => Err(bad("the exit count starts at 1")),
                n => Ok(Handoff::KvmToInterp(StopAt::Exits(n))),
            },
            ("kvm-to-interp", "port") => {
                let (p, k) = value.split_once(':').unwrap_or((value, "1"));
                let port = num(p, "port")?;
                let port = u16::try_from(port).map_err(|_| bad("ports go up to 0xffff"))?;
                match num(k, "write count")? {
                    0 => Err(bad("the write count starts at 1")),
                    nth => Ok(Handoff::KvmToInterp(StopAt::PortWrite { port, nth })),
                }
            }
            ("interp-to-kvm" | "kvm-to-interp", _) => {
                Err(bad(&format!("`{key}` is not a point for {dir}")))
            }
            _ => Err(bad(&format!("unknown direction `{dir}`"))),
        }
    }
}

/// Checks that a list of handoffs is a chain (each one leaves the backend
/// the previous one went to) and returns the backend the run starts on.
pub fn start_backend(handoffs: &[Handoff]) -> Result<Backend, String> {
    for w in handoffs.windows(2) {
        if w[1].from() != w[0].to() {
            return Err(format!(
                "--handoff {} cannot follow --handoff {}: the run is on {} by then",
                w[1],
                w[0],
                w[0].to().name()
            ));
        }
    }
    Ok(handoffs.first().map_or(Backend::Interp, |h| h.from()))
}

/// One stretch of a run on one backend.
#[derive(Clone, Debug)]
pub struct Phase {
    pub backend: Backend,
    /// VM clock (ns) at the start and end of the stretch.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Instructions the interpreter retired (interpreter stretches).
    pub insns: u64,
    /// Exit counts (KVM stretches).
    pub exits: ExitStats,
    /// The stretch ended at its handoff point.
    pub handed_off: bool,
}

/// How a run with handoffs went.
pub struct HandoffRun {
    pub outcome: Outcome,
    /// Every vCPU's state at the end.
    pub states: Vec<VcpuState>,
    pub phases: Vec<Phase>,
    /// Device access counts of the whole run (board statistics).
    pub device_stats: Vec<(&'static str, crate::machine::board::DeviceStats)>,
}

/// Guest TSC of a state at VM time `now` (`VcpuState` keeps it as an
/// offset from the clock).
fn state_tsc(s: &VcpuState, now: u64) -> u64 {
    tsc_at(now).wrapping_add(s.msrs.tsc_offset)
}

/// What one stretch of the run led to.
enum Step {
    /// The run is over.
    Done(HandoffRun),
    /// The handoff point was reached: the machine as parts, the VM clock,
    /// and a description of the point for the log.
    Next(Box<MachineParts>, u64, String),
}

/// Runs the machine `cfg` + `boot` through `handoffs` (a chain, see
/// [`start_backend`]). The CPU model is fitted to the host's KVM first
/// (`spec` and `policy` as for `--accel kvm`), whichever backend starts.
/// `limits.timeout_ns` bounds the VM clock of the whole run;
/// `limits.max_insns` is refused (KVM counts no instructions). One line per
/// handoff (and per warning) goes to `log`.
pub fn run(
    cfg: MachineConfig,
    boot: Boot,
    spec: &str,
    policy: Unsupported,
    handoffs: &[Handoff],
    limits: &Limits,
    log: &mut dyn FnMut(&str),
) -> Result<HandoffRun, KvmError> {
    if limits.max_insns.is_some() {
        return Err(KvmError(
            "--max-insns cannot be counted across a handoff to KVM; use --timeout".into(),
        ));
    }
    let mut backend = start_backend(handoffs).map_err(KvmError)?;
    let (cfg, kvm, caps) = {
        let mut warn = |w: &str| log(&format!("warning: kvm: {w}"));
        KvmMachine::fit(cfg, spec, policy, &mut warn)?
    };
    let mut kvm = Some(kvm);
    let mut parts = MachineParts::build(cfg, boot).map_err(|e| KvmError(e.0))?;
    let mut now = 0u64;
    let mut phases = Vec::new();
    let mut arrived: Option<String> = None;
    for i in 0..=handoffs.len() {
        let next = handoffs.get(i).copied();
        let step = match backend {
            Backend::Interp => interp_phase(parts, now, next, limits, &mut phases, arrived, log),
            Backend::Kvm => {
                let fd = match kvm.take() {
                    Some(k) => k,
                    None => caps::open()?,
                };
                let ctx = KvmPhase {
                    kvm: fd,
                    caps: &caps,
                    first: !phases.iter().any(|p| p.backend == Backend::Kvm),
                };
                kvm_phase(ctx, parts, now, next, limits, &mut phases, arrived, log)?
            }
        };
        match step {
            Step::Done(r) => return Ok(r),
            Step::Next(p, n, what) => {
                (parts, now, arrived) = (*p, n, Some(what));
                backend = match backend {
                    Backend::Interp => Backend::Kvm,
                    Backend::Kvm => Backend::Interp,
                };
            }
        }
    }
    // Unreachable: the last stretch has no handoff point, so it ends with
    // the run.
    Err(KvmError("the run went past its last handoff".into()))
}

fn fmt_tsc(t: Option<u64>) -> String {
    t.map_or("unknown".into(), |t| t.to_string())
}

/// A stretch on the interpreter, from `now` until the guest ends the run
/// or `next` (an `interp-to-kvm` point) is reached.
fn interp_phase(
    parts: MachineParts,
    now: u64,
    next: Option<Handoff>,
    limits: &Limits,
    phases: &mut Vec<Phase>,
    arrived: Option<String>,
    log: &mut dyn FnMut(&str),
) -> Step {
    let mut m = Machine::resume(parts, now);
    if let Some(what) = arrived {
        let tsc = m.vcpus.first().map(|v| state_tsc(&v.cpu.s, now));
        log(&format!(
            "handoff kvm → interp {what} at {:.6} s (vCPU 0 TSC {})",
            now as f64 / 1e9,
            fmt_tsc(tsc)
        ));
    }
    let insns = match next {
        Some(Handoff::InterpToKvm { insns }) => Some(insns),
        _ => None,
    };
    let outcome = m.run(&Limits {
        max_insns: insns,
        timeout_ns: limits.timeout_ns,
    });
    let handed_off = insns.is_some() && outcome == Outcome::InsnLimit;
    phases.push(Phase {
        backend: Backend::Interp,
        start_ns: now,
        end_ns: m.now,
        insns: m.retired,
        exits: ExitStats::default(),
        handed_off,
    });
    if handed_off {
        let what = format!("after {} instructions", m.retired);
        let (parts, now) = m.into_parts();
        return Step::Next(Box::new(parts), now, what);
    }
    if let Some(h) = next {
        log(&format!("the run ended before --handoff {h}"));
    }
    let device_stats = m.board.device_stats();
    let states = m.vcpus.iter_mut().map(|v| v.cpu.export().clone()).collect();
    Step::Done(HandoffRun {
        outcome,
        states,
        phases: std::mem::take(phases),
        device_stats,
    })
}

/// What a KVM stretch needs besides the machine.
struct KvmPhase<'a> {
    kvm: kvm_ioctls::Kvm,
    caps: &'a Arc<KvmCaps>,
    /// The first stretch on KVM: report KVM's warnings (later stretches
    /// would repeat them).
    first: bool,
}

/// A stretch on KVM, from `now` until the guest ends the run or `next` (a
/// `kvm-to-interp` point) is reached.
#[allow(clippy::too_many_arguments)]
fn kvm_phase(
    ctx: KvmPhase,
    parts: MachineParts,
    now: u64,
    next: Option<Handoff>,
    limits: &Limits,
    phases: &mut Vec<Phase>,
    arrived: Option<String>,
    log: &mut dyn FnMut(&str),
) -> Result<Step, KvmError> {
    let before = parts.states.first().map(|s| state_tsc(s, now));
    let mut warnings = Vec::new();
    let mut warn = |w: &str| warnings.push(w.to_string());
    let mut km = KvmMachine::new(parts, ctx.kvm, ctx.caps.clone(), now, &mut warn)?;
    if ctx.first {
        for w in &warnings {
            log(&format!("warning: kvm: {w}"));
        }
    }
    if let Some(what) = arrived {
        let after = km.guest_tsc(0);
        let backwards = match (before, after) {
            (Some(b), Some(a)) if a < b => ", backwards: KVM did not take the TSC",
            _ => "",
        };
        log(&format!(
            "handoff interp → kvm {what} at {:.6} s (vCPU 0 TSC {} → {}{backwards})",
            now as f64 / 1e9,
            fmt_tsc(before),
            fmt_tsc(after)
        ));
    }
    let stop = match next {
        Some(Handoff::KvmToInterp(at)) => Some(at),
        _ => None,
    };
    // KVM's time limit counts from the start of its run.
    let lim = Limits {
        max_insns: None,
        timeout_ns: limits.timeout_ns.map(|t| t.saturating_sub(now)),
    };
    let end = km.run_until(&lim, stop)?;
    phases.push(Phase {
        backend: Backend::Kvm,
        start_ns: now,
        end_ns: km.now,
        insns: 0,
        exits: km.stats,
        handed_off: end.is_none(),
    });
    let Some(outcome) = end else {
        let s = km.stats;
        let what = match stop {
            Some(StopAt::PortWrite { port, nth }) => format!("at write {nth} to port {port:#x}"),
            _ => format!("after {} exits", s.io + s.mmio),
        };
        let (parts, now) = km.into_parts()?;
        return Ok(Step::Next(Box::new(parts), now, what));
    };
    if let Some(h) = next {
        log(&format!("the run ended before --handoff {h}"));
    }
    let device_stats = km.board().map(|b| b.device_stats()).unwrap_or_default();
    Ok(Step::Done(HandoffRun {
        outcome,
        states: km.final_states.clone(),
        phases: std::mem::take(phases),
        device_stats,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let p = |s: &str| s.parse::<Handoff>();
        assert_eq!(
            p("interp-to-kvm@insns=200_000"),
            Ok(Handoff::InterpToKvm { insns: 200_000 })
        );
        assert_eq!(
            p("kvm-to-interp@exits=0x10"),
            Ok(Handoff::KvmToInterp(StopAt::Exits(16)))
        );
        assert_eq!(
            p("kvm-to-interp@port=0x3f8"),
            Ok(Handoff::KvmToInterp(StopAt::PortWrite {
                port: 0x3f8,
                nth: 1
            }))
        );
        assert_eq!(
            p("kvm-to-interp@port=0xe9:7"),
            Ok(Handoff::KvmToInterp(StopAt::PortWrite {
                port: 0xe9,
                nth: 7
            }))
        );
        for s in [
            "interp-to-kvm@insns=200000",
            "kvm-to-interp@exits=5",
            "kvm-to-interp@port=0x3f8:2",
        ] {
            let h = p(s).expect(s);
            assert_eq!(h.to_string().parse::<Handoff>(), Ok(h));
        }
    }

    #[test]
    fn rejects_bad_syntax_in_one_line() {
        for s in [
            "",
            "interp-to-kvm",
            "interp-to-kvm@",
            "interp-to-kvm@insns",
            "interp-to-kvm@insns=",
            "interp-to-kvm@insns=-1",
            "interp-to-kvm@insns=1e6",
            "interp-to-kvm@exits=5",
            "kvm-to-interp@insns=5",
            "kvm-to-interp@exits=0",
            "kvm-to-interp@port=0x10000",
            "kvm-to-interp@port=0x3f8:0",
            "kvm-to-interp@port=0x3f8:x",
            "sideways@insns=5",
        ] {
            let e = s.parse::<Handoff>().expect_err(s);
            assert!(!e.contains('\n'), "{e}");
            assert!(e.contains("--handoff"), "{e}");
        }
    }

    #[test]
    fn chains_must_alternate() {
        let a = Handoff::InterpToKvm { insns: 5 };
        let b = Handoff::KvmToInterp(StopAt::Exits(3));
        assert_eq!(start_backend(&[]), Ok(Backend::Interp));
        assert_eq!(start_backend(&[b]), Ok(Backend::Kvm));
        assert_eq!(start_backend(&[a, b, a]), Ok(Backend::Interp));
        assert!(start_backend(&[a, a]).is_err());
        assert!(start_backend(&[b, a, a]).is_err());
    }
}
