//! Turning a cfg entry into `nestor run` flags, or a SKIP with a reason.
//!
//! Checks run in the order of `scripts/runtime.bash`: `arch`, `accel`,
//! `disabled_if`, `check`, the image file, then the parameters (the
//! script's "premature failure" probe, where QEMU rejecting its options
//! turns into a SKIP).
//!
//! # QEMU options in `qemu_params` / `extra_params`
//!
//! | option | treatment |
//! |---|---|
//! | `-cpu MODEL,...` | honoured → `--cpu` (last one wins). Validated with [`parse_model`]; an error is a SKIP `cpu model: ...`. The QEMU-only properties in [`CPU_PROPS_DROPPED`] are removed first, with a note. |
//! | `-m SIZE` | honoured → `-m MiB`. `N` is MiB; suffixes `B K M G T` (either case); `size=N`; `slots=`/`maxmem=` ignored with a note |
//! | `-smp N` | honoured → `--smp` (`N`, `cpus=N`, or the product of `sockets/dies/cores/threads`); `maxcpus=` ignored |
//! | `-append ARGS` | honoured → `--append` (last one wins over `test_args`) |
//! | `-machine` / `-M` | type `pc`/`pc-i440fx-*` runs; any other type is a SKIP. Properties: see [`MACHINE_PROPS`] |
//! | `-device DRIVER,...` | `pc-testdev`, `pci-testdev`, `isa-debug-exit` (at 0xf4) are always present → ignored; any other device is a SKIP `device ... is not emulated` |
//! | `-global kvm-pit.lost_tick_policy=...` | ignored (KVM PIT tuning); any other `-global` is a SKIP |
//! | `-overcommit cpu-pm=...,mem-lock=...` | ignored (host resource hints) |
//! | `-enable-kvm`, `-accel NAME`, `-machine accel=NAME` | noted, never a SKIP: run_tests.sh puts its own `-accel` first and QEMU tries accelerators in order, so these are fallbacks behind `--accel` (lam's `-enable-kvm` runs under TCG, too). The entry's `accel = kvm` key is the hard requirement |
//! | `-no-reboot`, `-nodefaults`, `-nographic`, `-display`, `-vga`, `-serial stdio`, `-name` | ignored: nestor always behaves as kvm-unit-tests' `x86/run` asks |
//! | anything else (`-chardev`, `-kernel`, `-incoming`, ...) | SKIP `unsupported QEMU option` |
//!
//! Defaults when the entry gives none: `--cpu qemu64` (QEMU's default
//! model for x86-64), `-m 128` (QEMU's default RAM), `--smp 1`.

use std::path::PathBuf;
use std::time::Duration;

use super::Accel;
use super::cfg::Entry;
use super::shell::{self, Host};
use crate::model::parse::parse_model;

/// QEMU's default CPU model for `qemu-system-x86_64`.
pub const DEFAULT_CPU: &str = "qemu64";
/// QEMU's default RAM size in MiB.
pub const DEFAULT_MEM_MIB: u64 = 128;

/// `-cpu` properties that only steer QEMU/KVM on the host; they are
/// removed before validation, with the note given here.
pub const CPU_PROPS_DROPPED: &[(&str, &str)] = &[
    (
        "host-phys-bits",
        "nestor has no host MAXPHYADDR; the model's phys-bits apply",
    ),
    (
        "host-phys-bits-limit",
        "nestor has no host MAXPHYADDR; the model's phys-bits apply",
    ),
    ("migratable", "nestor does not migrate"),
    ("check", "nestor never drops features silently"),
    ("enforce", "nestor never drops features silently"),
];

/// `-machine` properties: name, allowed values (empty: any), and whether an
/// accepted value is ignored (with the note) or the entry is skipped.
pub const MACHINE_PROPS: &[(&str, &str)] = &[
    (
        "kernel_irqchip",
        "ignored: nestor always emulates the interrupt controllers itself",
    ),
    (
        "kernel-irqchip",
        "ignored: nestor always emulates the interrupt controllers itself",
    ),
    ("pit", "ignored: the tests never program the PIT"),
    (
        "vmport",
        "`off`/`auto` ignored; `on` is a SKIP: the VMware backdoor port is not emulated",
    ),
    (
        "accel",
        "checked against --accel (SKIP when it names only the other accelerator)",
    ),
];

/// Devices nestor always has (kvm-unit-tests' `x86/run` adds them).
pub const DEVICES_PRESENT: &[&str] = &["pc-testdev", "pci-testdev", "isa-debug-exit"];

/// How a run should be configured.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// The test image (`DIR/x86/FILE`).
    pub image: PathBuf,
    /// The validated `--cpu` string.
    pub cpu: String,
    /// Number of vCPUs.
    pub smp: u32,
    /// RAM in MiB.
    pub mem_mib: u64,
    /// Guest arguments (`--append`), if any.
    pub append: Option<String>,
    /// Virtual-time limit (`--timeout`), `None` for none.
    pub timeout: Option<Duration>,
    /// What was ignored or adjusted, for the log and the results file.
    pub notes: Vec<String>,
}

/// The outcome of planning one entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Run it.
    Run(RunPlan),
    /// Do not run it; the reason is shown as `SKIP name (reason)`.
    Skip(String),
}

/// What planning needs besides the entry.
pub struct PlanCtx<'a> {
    /// The kvm-unit-tests build directory.
    pub dir: &'a std::path::Path,
    /// The accelerator the run uses.
    pub accel: Accel,
    /// Host services (shell expansion, host files).
    pub host: &'a dyn Host,
}

/// Plans one entry.
pub fn plan(entry: &Entry, ctx: &PlanCtx) -> Plan {
    match try_plan(entry, ctx) {
        Ok(p) => Plan::Run(p),
        Err(reason) => Plan::Skip(reason),
    }
}

fn try_plan(entry: &Entry, ctx: &PlanCtx) -> Result<RunPlan, String> {
    if let Some(arch) = entry.arch.as_deref().filter(|a| *a != "x86_64") {
        return Err(format!("{arch} only"));
    }
    match entry.accel.as_deref() {
        None => {}
        Some(a) if a == ctx.accel.qemu_name() => {}
        Some("kvm") => return Err("requires KVM (accel = kvm)".into()),
        Some("tcg") => return Err("tcg only (accel = tcg); use --accel interp".into()),
        Some(a) => return Err(format!("{a} only")),
    }
    if let Some(cond) = &entry.disabled_if {
        match ctx.host.condition(cond) {
            Ok(true) => return Err(format!("disabled because: {cond}")),
            Ok(false) => {}
            Err(e) => return Err(format!("disabled_if: {e}")),
        }
    }
    let mut notes = Vec::new();
    for c in &entry.check {
        let (path, value) = match c.split_once('=') {
            Some((p, v)) => (p, v),
            None => (c.as_str(), c.as_str()),
        };
        if ctx.accel == Accel::Interp && path.starts_with("/sys/module/kvm") {
            notes.push(format!(
                "check `{c}` not applied: it is about the host's KVM, which the interpreter does not use"
            ));
            continue;
        }
        let found = ctx
            .host
            .read_file(path)
            .map(|s| s.trim_end_matches('\n').to_string());
        if found.as_deref() != Some(value) {
            return Err(format!("host condition: {path} not equal to {value}"));
        }
    }
    let image = ctx.dir.join("x86").join(&entry.file);
    if !ctx.host.exists(&image) {
        return Err(format!("test file 'x86/{}' not found", entry.file));
    }
    let mut p = RunPlan {
        image,
        cpu: DEFAULT_CPU.into(),
        smp: 1,
        mem_mib: DEFAULT_MEM_MIB,
        append: None,
        timeout: entry.effective_timeout(),
        notes,
    };
    if let Some(smp) = &entry.smp {
        let words = shell::split(smp, ctx.host).map_err(|e| format!("smp: {e}"))?;
        match words.as_slice() {
            [w] => p.smp = parse_smp(w, &mut p.notes).map_err(|e| format!("smp: {e}"))?,
            _ => return Err(format!("smp: expected one value, got `{smp}`")),
        }
    }
    if let Some(args) = &entry.test_args {
        let words = shell::split(args, ctx.host).map_err(|e| format!("test_args: {e}"))?;
        if !words.is_empty() {
            p.append = Some(words.join(" "));
        }
    }
    if let Some(params) = &entry.params {
        let words = shell::split(params, ctx.host).map_err(|e| format!("qemu_params: {e}"))?;
        apply_qemu_args(&words, ctx.accel, &mut p)?;
    }
    parse_model(&p.cpu).map_err(|e| format!("cpu model: {e}"))?;
    Ok(p)
}

/// Applies QEMU command-line words to the plan (see the module table).
pub fn apply_qemu_args(words: &[String], accel: Accel, p: &mut RunPlan) -> Result<(), String> {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let Some(opt) = w.strip_prefix("--").or_else(|| w.strip_prefix('-')) else {
            return Err(format!("qemu_params: unexpected argument `{w}`"));
        };
        let mut arg = || {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| format!("qemu_params: `-{opt}` needs an argument"))
        };
        match opt {
            "cpu" => p.cpu = filter_cpu(arg()?, &mut p.notes),
            "m" => p.mem_mib = parse_mem(arg()?, &mut p.notes).map_err(|e| format!("-m: {e}"))?,
            "smp" => p.smp = parse_smp(arg()?, &mut p.notes).map_err(|e| format!("-smp: {e}"))?,
            "append" => p.append = Some(arg()?.to_string()),
            "machine" | "M" => machine(arg()?, accel, &mut p.notes)?,
            "device" => device(arg()?, &mut p.notes)?,
            "global" => {
                let a = arg()?;
                if !a.starts_with("kvm-pit.") {
                    return Err(format!("unsupported `-global {a}`"));
                }
                p.notes
                    .push(format!("ignored `-global {a}`: KVM PIT tuning"));
            }
            "overcommit" => {
                let a = arg()?;
                for prop in a.split(',') {
                    let key = prop.split('=').next().unwrap_or("");
                    if !matches!(key, "cpu-pm" | "mem-lock") {
                        return Err(format!("unsupported `-overcommit {prop}`"));
                    }
                }
                p.notes
                    .push(format!("ignored `-overcommit {a}`: host resource hint"));
            }
            "enable-kvm" => accel_fallback("kvm", "-enable-kvm", accel, &mut p.notes),
            "accel" => {
                let a = arg()?;
                let name = a.split(',').next().unwrap_or("");
                accel_fallback(name, &format!("-accel {a}"), accel, &mut p.notes);
            }
            "no-reboot" | "nodefaults" | "nographic" => {}
            "display" | "vga" | "name" => {
                let a = arg()?;
                p.notes.push(format!("ignored `-{opt} {a}`"));
            }
            "serial" => {
                let a = arg()?;
                if a != "stdio" {
                    return Err(format!(
                        "unsupported `-serial {a}` (nestor's COM1 is stdout)"
                    ));
                }
            }
            _ => return Err(format!("unsupported QEMU option `-{opt}`")),
        }
    }
    Ok(())
}

/// Removes [`CPU_PROPS_DROPPED`] from a `-cpu` string, noting each.
fn filter_cpu(spec: &str, notes: &mut Vec<String>) -> String {
    let mut kept = Vec::new();
    for (i, part) in spec.split(',').enumerate() {
        let key = part.split('=').next().unwrap_or("");
        match CPU_PROPS_DROPPED.iter().find(|(k, _)| *k == key) {
            Some((_, why)) if i > 0 => notes.push(format!("ignored `-cpu ...,{part}`: {why}")),
            _ => kept.push(part),
        }
    }
    kept.join(",")
}

/// An accelerator named in `qemu_params`: QEMU tries `-accel` options in
/// the order given and run_tests.sh's own comes first, so this one is only
/// a fallback behind `--accel` (noted, never a SKIP).
fn accel_fallback(name: &str, what: &str, accel: Accel, notes: &mut Vec<String>) {
    if name.split(':').any(|a| a == accel.qemu_name()) {
        notes.push(format!("`{what}` is satisfied by --accel {}", accel.name()));
    } else {
        notes.push(format!(
            "`{what}` is only a fallback behind --accel {} (QEMU tries accelerators in order)",
            accel.name()
        ));
    }
}

fn machine(arg: &str, accel: Accel, notes: &mut Vec<String>) -> Result<(), String> {
    for (i, prop) in arg.split(',').enumerate() {
        let (key, value) = match prop.split_once('=') {
            Some((k, v)) => (k, v),
            None if i == 0 => ("type", prop),
            None => (prop, "on"),
        };
        match key {
            "type" => {
                if value != "pc" && !value.starts_with("pc-i440fx") {
                    return Err(format!(
                        "machine type `{value}` is not emulated (nestor emulates `pc`)"
                    ));
                }
            }
            "kernel_irqchip" | "kernel-irqchip" | "pit" => {
                let why = MACHINE_PROPS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("", |(_, w)| w);
                notes.push(format!("`-machine {prop}` {why}"));
            }
            "vmport" if value == "on" => {
                return Err(
                    "`-machine vmport=on`: the VMware backdoor port is not emulated".into(),
                );
            }
            "vmport" => notes.push(format!("ignored `-machine {prop}`")),
            "accel" => accel_fallback(value, &format!("-machine {prop}"), accel, notes),
            _ => return Err(format!("unsupported `-machine` property `{prop}`")),
        }
    }
    Ok(())
}

fn device(arg: &str, notes: &mut Vec<String>) -> Result<(), String> {
    let mut props = arg.split(',');
    let driver = props.next().unwrap_or("");
    let driver = driver.strip_prefix("driver=").unwrap_or(driver);
    if !DEVICES_PRESENT.contains(&driver) {
        return Err(format!("device `{driver}` is not emulated"));
    }
    if driver == "isa-debug-exit" {
        for prop in props {
            if !matches!(
                prop,
                "iobase=0xf4" | "iobase=244" | "iosize=0x4" | "iosize=4" | "iosize=0x04"
            ) {
                return Err(format!(
                    "`-device isa-debug-exit,{prop}`: nestor's exit port is 0xf4, 4 bytes"
                ));
            }
        }
    }
    notes.push(format!("`-device {arg}`: always present"));
    Ok(())
}

/// Parses a QEMU size (`-m`): a decimal number with an optional suffix
/// `B`, `K`, `M`, `G`, `T` (either case); no suffix means MiB. Returns MiB,
/// rounded up.
pub fn parse_size_mib(s: &str) -> Result<u64, String> {
    let bad = || format!("bad size `{s}`");
    let (num, mult): (&str, f64) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'B' => 1.0,
                'K' => 1024.0,
                'M' => 1024.0 * 1024.0,
                'G' => 1024.0 * 1024.0 * 1024.0,
                'T' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            (&s[..i], m)
        }
        _ => (s, 1024.0 * 1024.0),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let bytes = num.parse::<f64>().map_err(|_| bad())? * mult;
    let mib = (bytes / (1024.0 * 1024.0)).ceil();
    if !(1.0..=16.0 * 1024.0 * 1024.0).contains(&mib) {
        return Err(format!("size `{s}` out of range (1 MiB to 16 TiB)"));
    }
    Ok(mib as u64)
}

/// Parses `-m`: `SIZE` or `[size=]SIZE[,slots=N][,maxmem=SIZE]`.
fn parse_mem(arg: &str, notes: &mut Vec<String>) -> Result<u64, String> {
    let mut size = None;
    for (i, part) in arg.split(',').enumerate() {
        match part.split_once('=') {
            Some(("size", v)) => size = Some(parse_size_mib(v)?),
            Some(("slots" | "maxmem", _)) => {
                notes.push(format!("ignored `-m ...,{part}`: no memory hotplug"))
            }
            None if i == 0 => size = Some(parse_size_mib(part)?),
            _ => return Err(format!("unsupported `{part}`")),
        }
    }
    size.ok_or_else(|| format!("no size in `{arg}`"))
}

/// Parses `-smp`: `N[,prop=...]`, `cpus=N,...`, or a topology whose
/// product gives the count.
pub fn parse_smp(arg: &str, notes: &mut Vec<String>) -> Result<u32, String> {
    let num = |v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("bad number `{v}` in `{arg}`"))
    };
    let mut cpus = None;
    let mut topo: u64 = 1;
    let mut have_topo = false;
    for (i, part) in arg.split(',').enumerate() {
        match part.split_once('=') {
            None if i == 0 => cpus = Some(num(part)?),
            Some(("cpus", v)) => cpus = Some(num(v)?),
            Some(("sockets" | "dies" | "clusters" | "cores" | "threads", v)) => {
                topo = topo.saturating_mul(u64::from(num(v)?));
                have_topo = true;
            }
            Some(("maxcpus", _)) => {
                notes.push(format!("ignored `-smp ...,{part}`: no CPU hotplug"))
            }
            _ => return Err(format!("unsupported `{part}` in `{arg}`")),
        }
    }
    let n = match (cpus, have_topo) {
        (Some(n), _) => n,
        (None, true) => u32::try_from(topo).map_err(|_| format!("too many CPUs in `{arg}`"))?,
        (None, false) => return Err(format!("no CPU count in `{arg}`")),
    };
    if n == 0 {
        return Err("0 CPUs".into());
    }
    Ok(n)
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
