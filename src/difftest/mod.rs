//! `nestor difftest`: generated instruction sequences run in lockstep under
//! KVM and the interpreter; the first difference in registers, flags,
//! memory or exceptions is reported with the instruction.
//!
//! - [`generate`]: the seeded sequence generator (iced-x86's opcode tables);
//! - [`sandbox`]: guest memory, paging, GDT/IDT/TSS and the initial state;
//! - [`kvm_side`], [`interp_side`]: the two backends over their own copies
//!   of the sandbox;
//! - [`lockstep`]: one instruction at a time on both, compared after each;
//! - [`flags`]: the undefined flags of each instruction (SDM Vol. 2);
//! - [`quirks`]: differences that are this host's, not the interpreter's;
//! - [`report`]: what a difference and a batch look like printed.
//!
//! The method, the numbers of the last large run and its findings are in
//! docs/difftest.md.

pub mod flags;
pub mod generate;
pub mod interp_side;
pub mod kvm_side;
pub mod lockstep;
pub mod quirks;
pub mod report;
pub mod sandbox;

use std::collections::BTreeMap;
use std::rc::Rc;

use generate::{Generator, Sequence};
use interp_side::InterpSide;
use kvm_side::KvmSide;
use lockstep::{Difference, Lockstep, Outcome};
use sandbox::Privilege;

use crate::model::parse::parse_model;
use crate::vm::VmCpuModel;

/// Which privilege levels a batch uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modes {
    User,
    Supervisor,
    /// Alternating: even sequence numbers at CPL 0, odd ones at CPL 3.
    Both,
}

impl Modes {
    pub fn privilege(self, index: u64) -> Privilege {
        match self {
            Modes::User => Privilege::User,
            Modes::Supervisor => Privilege::Kernel,
            Modes::Both if index.is_multiple_of(2) => Privilege::Kernel,
            Modes::Both => Privilege::User,
        }
    }
}

/// A batch: sequences `start .. start + count` of `seed`.
#[derive(Clone, Debug)]
pub struct Batch {
    pub seed: u64,
    pub start: u64,
    pub count: u64,
    /// Generated instructions per sequence (helpers come on top).
    pub len: usize,
    pub modes: Modes,
}

/// Per-mnemonic tally.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub count: u64,
    /// The first sequence number it happened in.
    pub first: u64,
    /// What differed ("flags", "rax", "mem", "exit", ...), first seen first.
    pub what: Vec<String>,
}

/// What a batch found.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub sequences: u64,
    /// Instructions compared (steps run on both backends).
    pub steps: u64,
    /// Sequences that ended early in the same exception on both sides.
    pub faulted: u64,
    pub differences: u64,
    /// Differences explained by a documented host quirk, by quirk name.
    pub quirks: BTreeMap<&'static str, Group>,
    /// Sequences KVM could not run (e.g. emulation failures), by mnemonic.
    pub host_cannot: BTreeMap<String, Group>,
    /// Differences, by the mnemonic of the instruction that differed.
    pub by_mnemonic: BTreeMap<String, Group>,
}

fn tally(map_entry: &mut Group, index: u64, what: &[String]) {
    if map_entry.count == 0 {
        map_entry.first = index;
    }
    map_entry.count += 1;
    for w in what {
        if !map_entry.what.contains(w) {
            map_entry.what.push(w.clone());
        }
    }
}

/// The generator and both backends, built once for a batch.
pub struct Session {
    pub generator: Generator,
    pub lockstep: Lockstep,
    /// Setup warnings (features KVM cannot give, missing capabilities).
    pub warnings: Vec<String>,
}

/// What a difference is, classified.
pub enum Finding<'a> {
    /// Not explained: an interpreter bug until shown otherwise.
    Difference(&'a Difference),
    /// A documented host quirk (docs/difftest.md).
    Quirk(&'static str, &'a Difference),
}

impl Session {
    /// Parses `cpu` (a `--cpu` model string), opens /dev/kvm and builds
    /// both backends. The interpreter runs `cpu` with the host's vendor;
    /// KVM runs it fitted to the host (CPUID only: CPL-3 code runs on the
    /// host CPU whatever CPUID says), so the generator may use every
    /// instruction the model has.
    pub fn new(cpu: &str) -> Result<Session, String> {
        let requested = parse_model(cpu).map_err(|e| e.to_string())?;
        let kvm = KvmSide::new(cpu, requested.clone())?;
        let mut interp_model = requested;
        interp_model.vendor = kvm.model.vendor;
        let generator = Generator::new(&interp_model);
        // One initial state for both: RESET of the model as KVM runs it.
        let (reset, _) = VmCpuModel::new(kvm.model.clone(), 1).reset_vcpu(0, 0);
        let interp = InterpSide::new(Rc::new(VmCpuModel::new(interp_model, 1)), reset.clone())?;
        let warnings = kvm.warnings.clone();
        Ok(Session {
            generator,
            lockstep: Lockstep::new(kvm, interp, reset),
            warnings,
        })
    }

    /// Runs a batch; `on_finding` sees every difference and quirk.
    pub fn run(
        &mut self,
        b: &Batch,
        on_finding: &mut dyn FnMut(&Sequence, Finding<'_>),
    ) -> Result<Summary, String> {
        let mut sum = Summary::default();
        for index in b.start..b.start.saturating_add(b.count) {
            let seq = self
                .generator
                .sequence(b.seed, index, b.len, b.modes.privilege(index));
            let outcome = self.lockstep.run(&seq)?;
            sum.sequences += 1;
            match outcome {
                Outcome::Same { steps, vector } => {
                    sum.steps += steps as u64;
                    if vector.is_some() {
                        sum.faulted += 1;
                    }
                }
                Outcome::HostCannot { step, why } => {
                    sum.steps += step as u64;
                    let m = report::mnemonic(&seq.instrs[step].instr);
                    // The reason without the instruction bytes, for grouping.
                    let short = why.split(", data").next().unwrap_or(&why).to_string();
                    tally(sum.host_cannot.entry(m).or_default(), index, &[short]);
                }
                Outcome::Differ(d) => {
                    sum.steps += d.step as u64 + 1;
                    let what = report::what_differs(&d);
                    if let Some(q) = quirks::classify(&seq, &d) {
                        tally(sum.quirks.entry(q).or_default(), index, &what);
                        on_finding(&seq, Finding::Quirk(q, &d));
                    } else {
                        sum.differences += 1;
                        let m = report::mnemonic(&seq.instrs[d.step].instr);
                        tally(sum.by_mnemonic.entry(m).or_default(), index, &what);
                        on_finding(&seq, Finding::Difference(&d));
                    }
                }
            }
        }
        Ok(sum)
    }
}
