//! How differences and batch summaries are printed.

use std::fmt::Write as _;

use iced_x86::{Formatter, Instruction, IntelFormatter};

use super::generate::Sequence;
use super::lockstep::{Difference, GPR_NAMES, Item};
use super::sandbox::CODE;
use super::{Batch, Group, Summary};
use crate::state::rflags;

/// The instruction's mnemonic, lower case (the grouping key).
pub fn mnemonic(ins: &Instruction) -> String {
    format!("{:?}", ins.mnemonic()).to_lowercase()
}

/// Intel-syntax disassembly.
pub fn disasm(ins: &Instruction) -> String {
    let mut out = String::new();
    let mut f = IntelFormatter::new();
    f.options_mut().set_space_after_operand_separator(true);
    f.format(ins, &mut out);
    out
}

/// Short names of what differed, for grouping.
pub fn what_differs(d: &Difference) -> Vec<String> {
    d.items
        .iter()
        .map(|i| match i {
            Item::Exit { .. } => "exception".to_string(),
            Item::Value { name, .. } => name.to_string(),
            Item::Flags { .. } => "flags".to_string(),
            Item::Mem { .. } => "memory".to_string(),
        })
        .collect()
}

/// Status-flag names set in `bits`.
fn flag_names(bits: u64) -> String {
    let names = [
        (rflags::CF, "CF"),
        (rflags::PF, "PF"),
        (rflags::AF, "AF"),
        (rflags::ZF, "ZF"),
        (rflags::SF, "SF"),
        (rflags::TF, "TF"),
        (rflags::IF, "IF"),
        (rflags::DF, "DF"),
        (rflags::OF, "OF"),
        (rflags::IOPL, "IOPL"),
        (rflags::NT, "NT"),
        (rflags::RF, "RF"),
        (rflags::AC, "AC"),
        (rflags::ID, "ID"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(" ")
    }
}

/// A difference, several lines: where, the instruction, the state before
/// it and each differing item.
pub fn difference(seed: u64, seq: &Sequence, d: &Difference, quirk: Option<&str>) -> String {
    let mut s = String::new();
    let gi = &seq.instrs[d.step];
    let bytes: Vec<String> = gi.bytes.iter().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(
        s,
        "sequence {} (seed {seed}, {}): instruction {} of {} at {:#x}: {:<24} {}{}",
        seq.index,
        seq.privilege.name(),
        d.step + 1,
        seq.instrs.len(),
        CODE + gi.offset,
        bytes.join(" "),
        disasm(&gi.instr),
        quirk.map_or(String::new(), |q| format!("  [host quirk: {q}]")),
    );
    let mut regs = String::new();
    for (i, n) in GPR_NAMES.iter().enumerate() {
        let _ = write!(regs, " {n}={:#x}", d.gpr[i]);
    }
    let _ = writeln!(s, "  before:{regs} rflags={:#x}", d.rflags);
    for item in &d.items {
        let line = match item {
            Item::Exit { kvm, interp } => format!("exit: kvm {kvm}, interp {interp}"),
            Item::Value { name, kvm, interp } => {
                format!("{name}: kvm {kvm:#x}, interp {interp:#x}")
            }
            Item::Flags {
                kvm,
                interp,
                undefined,
            } => format!(
                "rflags: kvm {kvm:#x}, interp {interp:#x} (differ: {}; undefined, not compared: {})",
                flag_names((kvm ^ interp) & !undefined),
                flag_names(*undefined)
            ),
            Item::Mem { addr, kvm, interp } => {
                format!("memory at {addr:#x}: kvm {kvm:#018x}, interp {interp:#018x}")
            }
        };
        let _ = writeln!(s, "  {line}");
    }
    s
}

fn groups(
    s: &mut String,
    title: &str,
    g: &std::collections::BTreeMap<impl std::fmt::Display + Ord, Group>,
) {
    if g.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}:");
    let mut v: Vec<_> = g.iter().collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    for (k, grp) in v {
        let _ = writeln!(
            s,
            "  {:<14} {:>7}  first in sequence {}  ({})",
            k.to_string(),
            grp.count,
            grp.first,
            grp.what.join(", ")
        );
    }
}

/// The batch summary.
pub fn summary(b: &Batch, sum: &Summary, secs: f64) -> String {
    let mut s = String::new();
    let rate = if secs > 0.0 {
        sum.sequences as f64 / secs
    } else {
        0.0
    };
    let _ = writeln!(
        s,
        "difftest: seed {} sequences {}..{} ({} instructions each, {:?}): {} run, {} instructions compared, {:.1} s ({:.0} sequences/s)",
        b.seed,
        b.start,
        b.start.saturating_add(b.count),
        b.len,
        b.modes,
        sum.sequences,
        sum.steps,
        secs,
        rate
    );
    let quirks: u64 = sum.quirks.values().map(|g| g.count).sum();
    let cannot: u64 = sum.host_cannot.values().map(|g| g.count).sum();
    let _ = writeln!(
        s,
        "  {} ended early in the same exception on both; {} differences; {} host quirks; {} not runnable under KVM",
        sum.faulted, sum.differences, quirks, cannot
    );
    groups(&mut s, "differences by instruction", &sum.by_mnemonic);
    groups(&mut s, "host quirks (docs/difftest.md)", &sum.quirks);
    groups(
        &mut s,
        "not runnable under KVM, by instruction",
        &sum.host_cannot,
    );
    s
}
