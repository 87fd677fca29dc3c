//! Every bundled guest image (roms/) runs under the interpreter and ends
//! the way roms/images.toml expects; runs are deterministic.

use nestor::cli::selftest::{passed, run_image};
use nestor::roms;

#[test]
fn every_bundled_image_passes() {
    let mut failures = Vec::new();
    for rom in roms::all() {
        // Benchmarks run for 1e8-1e9 instructions; their quick_args are
        // a short run covering the same code.
        let r = run_image(rom, rom.quick_args).expect("image runs");
        if !passed(rom, &r.outcome) {
            let fails: Vec<&str> = r.output.lines().filter(|l| l.starts_with("FAIL")).collect();
            failures.push(format!(
                "{}: {} {:?}",
                rom.name,
                r.outcome.describe(),
                fails
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "images failing:\n{}",
        failures.join("\n")
    );
}

/// Same image, same input: byte-identical output and the same instruction
/// count — with two vCPUs, IPIs, timers and interrupts.
#[test]
fn runs_are_deterministic() {
    for name in ["demo", "ipi", "apic_timer", "pic"] {
        let rom = roms::find(name).expect("image");
        let a = run_image(rom, None).expect("run");
        let b = run_image(rom, None).expect("run");
        assert_eq!(a.output, b.output, "{name}: output differs");
        assert_eq!(a.retired, b.retired, "{name}: instruction count differs");
        assert!(a.retired > 0);
    }
}
