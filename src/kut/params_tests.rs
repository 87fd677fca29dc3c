//! Tests of `params.rs`: the QEMU option table, sizes, SKIP reasons.

use std::path::Path;

use super::*;
use crate::kut::cfg::parse;
use crate::kut::shell::tests::{FakeHost, host};

fn entry(body: &str) -> Entry {
    let text = format!("[t]\nfile = t.flat\n{body}\n");
    parse(&text, "t.cfg").expect("cfg").remove(0)
}

fn plan_with(body: &str, accel: Accel, h: &FakeHost) -> Plan {
    let ctx = PlanCtx {
        dir: Path::new("/kut"),
        accel,
        host: h,
    };
    plan(&entry(body), &ctx)
}

fn run(body: &str) -> RunPlan {
    match plan_with(body, Accel::Interp, &host()) {
        Plan::Run(p) => p,
        Plan::Skip(r) => panic!("{body:?} skipped: {r}"),
    }
}

fn skip(body: &str, accel: Accel) -> String {
    match plan_with(body, accel, &host()) {
        Plan::Run(p) => panic!("{body:?} runs: {p:?}"),
        Plan::Skip(r) => r,
    }
}

#[test]
fn defaults() {
    let p = run("");
    assert_eq!(p.image, Path::new("/kut/x86/t.flat"));
    assert_eq!(p.cpu, "qemu64");
    assert_eq!(p.smp, 1);
    assert_eq!(p.mem_mib, 128);
    assert_eq!(p.append, None);
    assert_eq!(p.timeout, Some(Duration::from_secs(90)));
    assert!(p.notes.is_empty());
}

#[test]
fn honoured_options() {
    let p = run(
        "smp = 2\ntest_args = 'cpuid'\nqemu_params = -cpu qemu64,+x2apic,+tsc-deadline -m 4g\ntimeout = 30",
    );
    assert_eq!(p.cpu, "qemu64,+x2apic,+tsc-deadline");
    assert_eq!(p.smp, 2);
    assert_eq!(p.mem_mib, 4096);
    assert_eq!(p.append.as_deref(), Some("cpuid"));
    assert_eq!(p.timeout, Some(Duration::from_secs(30)));
    // -smp and -append in the params win over the keys (QEMU: last wins).
    let p = run("smp = 2\ntest_args = a\nqemu_params = -smp 4 -append \"x  y\"");
    assert_eq!(p.smp, 4);
    assert_eq!(p.append.as_deref(), Some("x  y"));
    let p = run("smp = $MAX_SMP");
    assert_eq!(p.smp, 8);
}

#[test]
fn shell_quoted_append() {
    let p = run("test_args = \"-pause_filter_test -svm_unsupported_instruction_intercept_test\"");
    assert_eq!(
        p.append.as_deref(),
        Some("-pause_filter_test -svm_unsupported_instruction_intercept_test")
    );
    let p = run("test_args = \"10000000 `date +%s`\"");
    assert_eq!(p.append.as_deref(), Some("10000000 <out:date +%s>"));
    let p = run("test_args = \"ept_access*\"");
    assert_eq!(p.append.as_deref(), Some("ept_access*"));
    let p = run("qemu_params = -append 'a \"b\" c'");
    assert_eq!(p.append.as_deref(), Some("a \"b\" c"));
    let p = run("qemu_params = -append \"it's\"");
    assert_eq!(p.append.as_deref(), Some("it's"));
    let p = run("test_args = a b");
    assert_eq!(
        p.append.as_deref(),
        Some("a b"),
        "unquoted words are joined"
    );
    let r = skip("test_args = 'unterminated", Accel::Interp);
    assert_eq!(r, "test_args: unterminated single quote");
    let r = skip("qemu_params = -append", Accel::Interp);
    assert_eq!(r, "qemu_params: `-append` needs an argument");
}

#[test]
fn memory_sizes() {
    let mut notes = Vec::new();
    for (s, mib) in [
        ("2048", 2048),
        ("4g", 4096),
        ("4G", 4096),
        ("2560M", 2560),
        ("1.5G", 1536),
        ("1048576k", 1024),
        ("1T", 1024 * 1024),
        ("1000000B", 1),
    ] {
        assert_eq!(parse_size_mib(s), Ok(mib), "{s}");
    }
    for bad in ["", "g", "4x", "-1", "0", "1..5G", "99999T"] {
        assert!(parse_size_mib(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_mem("size=1G,slots=2,maxmem=4G", &mut notes), Ok(1024));
    assert_eq!(notes.len(), 2);
    assert!(parse_mem("slots=2", &mut notes).is_err());
    assert_eq!(
        skip("qemu_params = -m lots", Accel::Interp),
        "-m: bad size `lots`"
    );
}

#[test]
fn smp_forms() {
    let mut notes = Vec::new();
    assert_eq!(parse_smp("4", &mut notes), Ok(4));
    assert_eq!(parse_smp("cpus=3,maxcpus=8", &mut notes), Ok(3));
    assert_eq!(parse_smp("sockets=2,cores=2,threads=2", &mut notes), Ok(8));
    assert_eq!(parse_smp("2,sockets=1", &mut notes), Ok(2));
    for bad in ["", "0", "x", "cpus=", "4,foo=1", "maxcpus=2"] {
        assert!(parse_smp(bad, &mut notes).is_err(), "{bad}");
    }
    assert!(skip("smp = $((1+1))", Accel::Interp).contains("arithmetic"));
    assert_eq!(
        skip("smp = 1 2", Accel::Interp),
        "smp: expected one value, got `1 2`"
    );
}

#[test]
fn cpu_models() {
    let p = run("qemu_params = -cpu max,host-phys-bits");
    assert_eq!(p.cpu, "max");
    assert!(p.notes[0].contains("host-phys-bits"), "{:?}", p.notes);
    let p = run("qemu_params = -cpu qemu64,vendor=GenuineIntel -cpu max,migratable=no");
    assert_eq!(p.cpu, "max", "last -cpu wins");
    let r = skip("qemu_params = -cpu host,hv_passthrough", Accel::Interp);
    assert!(
        r.starts_with("cpu model: CPU model `host` depends on the host"),
        "{r}"
    );
    let r = skip("qemu_params = -cpu max,+vmx,-hv_vapic", Accel::Interp);
    assert!(
        r.starts_with("cpu model: unknown CPU feature `hv_vapic`"),
        "{r}"
    );
    let r = skip("qemu_params = -cpu Pentium9", Accel::Interp);
    assert!(
        r.starts_with("cpu model: unknown CPU model `Pentium9`"),
        "{r}"
    );
}

#[test]
fn option_table() {
    // Ignored with a note.
    let p = run("qemu_params = -machine pit=off");
    assert!(p.notes[0].contains("PIT"), "{:?}", p.notes);
    let p = run("qemu_params = -machine kernel_irqchip=split -M pc,vmport=off");
    assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    let p = run(
        "qemu_params = -device pc-testdev -device pci-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4",
    );
    assert_eq!(p.notes.len(), 3);
    let p = run("qemu_params = -global kvm-pit.lost_tick_policy=discard -overcommit cpu-pm=on");
    assert_eq!(p.notes.len(), 2);
    let p = run("qemu_params = -no-reboot -nodefaults -display none -serial stdio");
    assert_eq!(p.cpu, "qemu64");
    let p = run("qemu_params = -accel tcg -machine accel=kvm:tcg");
    assert_eq!(p.notes.len(), 2);
    // SKIP with a reason.
    let cases = [
        (
            "-device intel-iommu,intremap=on",
            "device `intel-iommu` is not emulated",
        ),
        (
            "-device hyperv-testdev",
            "device `hyperv-testdev` is not emulated",
        ),
        ("-device isa-debug-exit,iobase=0x501", "exit port is 0xf4"),
        (
            "-M q35,kernel-irqchip=split",
            "machine type `q35` is not emulated",
        ),
        ("-machine vmport=on -cpu max", "VMware backdoor"),
        (
            "-machine smm=off",
            "unsupported `-machine` property `smm=off`",
        ),
        ("-global isa-fdc.driveA=x", "unsupported `-global"),
        ("-overcommit foo=on", "unsupported `-overcommit foo=on`"),
        ("-chardev socket,id=x", "unsupported QEMU option `-chardev`"),
        ("-serial file:x", "unsupported `-serial file:x`"),
        ("stray", "unexpected argument `stray`"),
        ("-cpu max; reboot", "operator `;`"),
    ];
    for (params, msg) in cases {
        let r = skip(&format!("qemu_params = {params}"), Accel::Interp);
        assert!(r.contains(msg), "{params}: {r}");
    }
    // Accelerators in qemu_params are fallbacks behind --accel (QEMU
    // tries them in order; run_tests.sh's comes first): never a SKIP.
    let h = host();
    for (params, accel) in [
        ("-enable-kvm -cpu max", Accel::Interp),
        ("-machine accel=kvm", Accel::Interp),
        ("-enable-kvm", Accel::Kvm),
        ("-accel tcg", Accel::Kvm),
    ] {
        let plan = plan_with(&format!("qemu_params = {params}"), accel, &h);
        assert!(matches!(plan, Plan::Run(_)), "{params} under {accel:?}");
    }
}

#[test]
fn restrictions() {
    assert_eq!(skip("arch = i386", Accel::Interp), "i386 only");
    assert!(matches!(
        plan_with("arch = x86_64", Accel::Interp, &host()),
        Plan::Run(_)
    ));
    assert_eq!(
        skip("accel = kvm", Accel::Interp),
        "requires KVM (accel = kvm)"
    );
    assert!(matches!(
        plan_with("accel = kvm", Accel::Kvm, &host()),
        Plan::Run(_)
    ));
    assert!(skip("accel = tcg", Accel::Kvm).starts_with("tcg only"));
    assert_eq!(skip("accel = hvf", Accel::Interp), "hvf only");
    assert_eq!(
        skip("disabled_if = true", Accel::Interp),
        "disabled because: true"
    );
    assert!(matches!(
        plan_with("disabled_if = false", Accel::Interp, &host()),
        Plan::Run(_)
    ));
    let none = FakeHost {
        files: Vec::new(),
        images: false,
    };
    assert_eq!(
        match plan_with("", Accel::Interp, &none) {
            Plan::Skip(r) => r,
            p => panic!("{p:?}"),
        },
        "test file 'x86/t.flat' not found"
    );
}

#[test]
fn host_conditions() {
    let check = "check = /sys/module/kvm/parameters/enable_pmu=Y /proc/sys/kernel/nmi_watchdog=0";
    let h = FakeHost {
        files: vec![
            ("/sys/module/kvm/parameters/enable_pmu".into(), "N\n".into()),
            ("/proc/sys/kernel/nmi_watchdog".into(), "0\n".into()),
        ],
        images: true,
    };
    // The interpreter does not use the host's KVM: kvm module checks are noted only.
    let Plan::Run(p) = plan_with(check, Accel::Interp, &h) else {
        panic!("interp skipped")
    };
    assert!(p.notes[0].contains("not applied"), "{:?}", p.notes);
    let Plan::Skip(r) = plan_with(check, Accel::Kvm, &h) else {
        panic!("kvm ran")
    };
    assert_eq!(
        r,
        "host condition: /sys/module/kvm/parameters/enable_pmu not equal to Y"
    );
    let Plan::Skip(r) = plan_with("check = /proc/missing=1", Accel::Interp, &h) else {
        panic!("ran")
    };
    assert_eq!(r, "host condition: /proc/missing not equal to 1");
}

/// Every entry of the real cfg either runs or skips with a reason; none
/// panics, and the known hard cases skip for the documented reason.
#[test]
fn real_cfg_plans() {
    let path = Path::new("/work/kut-src/x86/unittests.cfg");
    if !path.exists() {
        return;
    }
    let entries = crate::kut::cfg::load(path).expect("cfg");
    let h = host();
    let ctx = PlanCtx {
        dir: Path::new("/work/kut-src"),
        accel: Accel::Interp,
        host: &h,
    };
    let reason = |name: &str| match plan(entries.iter().find(|e| e.name == name).expect(name), &ctx)
    {
        Plan::Skip(r) => r,
        Plan::Run(p) => format!("RUN {}", p.cpu),
    };
    assert_eq!(reason("cmpxchg8b"), "i386 only");
    assert_eq!(reason("pmu"), "requires KVM (accel = kvm)");
    assert!(reason("intel_iommu").contains("machine type `q35`"));
    assert!(reason("hyperv_stimer").contains("`host`"));
    assert!(reason("hyperv_synic").contains("device `hyperv-testdev`"));
    assert!(reason("ept").contains("vmx-mbec"));
    assert_eq!(reason("x2apic"), "RUN qemu64,+x2apic,+tsc-deadline");
    assert_eq!(reason("access"), "RUN max");
    assert_eq!(reason("vmx"), "RUN max,+vmx");
}
