//! `nestor cpu`: the JSON the acceptance commands read.

use std::process::Command;

fn nestor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nestor"))
        .args(args)
        .output()
        .expect("run nestor")
}

fn cpu_json(spec: &str) -> serde_json::Value {
    let out = nestor(&["cpu", "--cpu", spec, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn msr(v: &serde_json::Value, idx: &str) -> Option<u64> {
    let s = v["msrs"][idx].as_str()?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

#[test]
fn bndcfgs_controls_in_cpu_json_follow_mpx() {
    for (spec, mpx) in [("max,+vmx,-mpx", false), ("max,+vmx,+mpx", true)] {
        let v = cpu_json(spec);
        for idx in ["0x483", "0x48f"] {
            let val = msr(&v, idx).expect("exit ctls listed");
            assert_eq!((val >> 32) & (1 << 23) != 0, mpx, "{spec} {idx}");
        }
        for idx in ["0x484", "0x490"] {
            let val = msr(&v, idx).expect("entry ctls listed");
            assert_eq!((val >> 32) & (1 << 16) != 0, mpx, "{spec} {idx}");
        }
        assert_eq!(
            msr(&v, "0xd90").is_some(),
            mpx,
            "{spec}: IA32_BNDCFGS listed"
        );
    }
}

#[test]
fn cpuid_leaves_are_hex_objects() {
    let v = cpu_json("qemu64");
    let leaves = v["cpuid"].as_array().expect("cpuid array");
    let leaf1 = leaves.iter().find(|l| l["leaf"] == "0x1").expect("leaf 1");
    for k in ["subleaf", "eax", "ebx", "ecx", "edx"] {
        assert!(leaf1[k].as_str().expect(k).starts_with("0x"));
    }
    assert_eq!(leaf1["eax"], "0x60fb1");
    assert!(msr(&v, "0x480").is_none(), "no VMX MSRs without vmx");
}

#[test]
fn bad_model_is_one_line_error_and_nonzero_exit() {
    let out = nestor(&["cpu", "--cpu", "max,+nosuchfeature"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuchfeature"));
}
