//! `nestor cpu`: show a CPU model — its features, CPUID leaves and the MSRs
//! with their RESET values (as the host reads them from the BSP).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::CliResult;
use crate::model::features::FEATURES;
use crate::model::parse::parse_model;
use crate::model::presets::PRESET_NAMES;
use crate::msr::{self, Initiator, MsrCtx};
use crate::vm::VmCpuModel;

#[derive(clap::Args, Debug)]
pub struct CpuArgs {
    /// CPU model: MODEL[,+feat][,-feat][,vendor=GenuineIntel|AuthenticAMD][,phys-bits=N]
    #[arg(long, default_value = "max")]
    pub cpu: String,
    /// Print JSON: {"model": ..., "cpuid": [...], "msrs": {...}}.
    #[arg(long)]
    pub json: bool,
    /// Number of vCPUs (affects topology leaves).
    #[arg(long, default_value_t = 1)]
    pub smp: u32,
    /// List the preset model names and exit.
    #[arg(long)]
    pub list: bool,
    /// List every feature name and its CPUID bit, and exit.
    #[arg(long)]
    pub list_features: bool,
}

fn hex(v: impl Into<u64>) -> String {
    format!("{:#x}", v.into())
}

/// The model as JSON: identity, features, CPUID leaves, MSR reset values.
pub fn model_json(vm: &VmCpuModel) -> Value {
    let m = vm.model();
    let cpuid: Vec<Value> = vm
        .cpuid()
        .entries()
        .iter()
        .map(|e| {
            json!({
                "leaf": hex(e.leaf), "subleaf": hex(e.subleaf),
                "eax": hex(e.eax), "ebx": hex(e.ebx), "ecx": hex(e.ecx), "edx": hex(e.edx),
            })
        })
        .collect();
    let (state, _) = vm.reset_vcpu(0, 0);
    let ctx = MsrCtx {
        model: m,
        clock_tsc: 0,
        apic_now: 0,
    };
    let mut msrs = Map::new();
    for idx in msr::saved_msrs(m) {
        if let Ok(v) = msr::read(&state, &ctx, idx, Initiator::Host) {
            msrs.insert(hex(idx), Value::String(hex(v)));
        }
    }
    json!({
        "model": {
            "name": m.name,
            "vendor": m.vendor.id_string(),
            "family": m.family,
            "model": m.model,
            "stepping": m.stepping,
            "signature": hex(m.signature()),
            "phys_bits": m.phys_bits,
            "virt_bits": m.virt_bits(),
            "brand": m.brand,
            "features": m.features,
        },
        "cpuid": cpuid,
        "msrs": msrs,
    })
}

fn model_text(vm: &VmCpuModel) -> String {
    let m = vm.model();
    let mut out = String::new();
    let _ = writeln!(out, "model:     {} ({})", m.name, m.brand);
    let _ = writeln!(
        out,
        "vendor:    {}  family {} model {} stepping {}  signature {:#010x}",
        m.vendor.id_string(),
        m.family,
        m.model,
        m.stepping,
        m.signature()
    );
    let _ = writeln!(
        out,
        "addresses: {} physical, {} linear bits",
        m.phys_bits,
        m.virt_bits()
    );
    let names: Vec<&str> = m.features.iter().map(|f| f.name()).collect();
    let _ = writeln!(out, "features:  {}", names.join(" "));
    let _ = writeln!(
        out,
        "\nCPUID        leaf  sub       eax        ebx        ecx        edx"
    );
    for e in vm.cpuid().entries() {
        let _ = writeln!(
            out,
            "       {:>#10x} {:>4x}  {:08x}   {:08x}   {:08x}   {:08x}",
            e.leaf, e.subleaf, e.eax, e.ebx, e.ecx, e.edx
        );
    }
    let (state, _) = vm.reset_vcpu(0, 0);
    let ctx = MsrCtx {
        model: m,
        clock_tsc: 0,
        apic_now: 0,
    };
    let _ = writeln!(out, "\nMSR (RESET value on the BSP)");
    for idx in msr::saved_msrs(m) {
        if let Ok(v) = msr::read(&state, &ctx, idx, Initiator::Host) {
            let _ = writeln!(out, "  {idx:#010x} = {v:#018x}");
        }
    }
    out
}

pub fn run(args: &CpuArgs) -> CliResult {
    if args.list {
        for name in PRESET_NAMES {
            println!("{name}");
        }
        return Ok(());
    }
    if args.list_features {
        for f in FEATURES {
            let c = f.cpuid;
            println!(
                "{:<24} CPUID.{:#x}.{}:{:?}[{}]",
                f.name, c.leaf, c.subleaf, c.reg, c.bit
            );
        }
        return Ok(());
    }
    let model = parse_model(&args.cpu)?;
    let vm = VmCpuModel::new(model, args.smp.max(1));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&model_json(&vm))?);
    } else {
        print!("{}", model_text(&vm));
    }
    Ok(())
}
