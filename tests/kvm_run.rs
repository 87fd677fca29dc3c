//! `--accel kvm` runs bundled images on the same machine as the
//! interpreter and they end the same way. Skips (printing why) when
//! /dev/kvm is absent or unusable.
//!
//! Only images whose every check this host's KVM can honour are listed;
//! `nestor selftest --accel kvm` runs them all (docs/architecture.md, "Host
//! limits", gives the reasons behind the others on this machine's KVM).

mod common;

use nestor::cli::selftest::{passed, run_image_on};
use nestor::roms;

fn usable() -> bool {
    common::kvm_usable()
}

#[test]
fn bundled_images_pass_under_kvm() {
    if !usable() {
        return;
    }
    let mut failures = Vec::new();
    let names = [
        "demo",
        "serial",
        "pic",
        "apic_timer",
        "ipi",
        "fw_cfg",
        "pci",
        "acpi",
        "smc",
        "string",
        "triple_fault",
    ];
    for name in names {
        let Some(rom) = roms::find(name) else {
            failures.push(format!("{name}: not bundled"));
            continue;
        };
        match run_image_on(rom, None, true) {
            Ok(r) if passed(rom, &r.outcome) => println!("PASS {name}"),
            Ok(r) => {
                let fails: Vec<&str> = r.output.lines().filter(|l| l.starts_with("FAIL")).collect();
                failures.push(format!("{name}: {} {fails:?}", r.outcome.describe()));
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "under --accel kvm:\n{}",
        failures.join("\n")
    );
}
