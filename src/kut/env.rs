//! The test environment passed to the guest as its "initrd": `KEY=VALUE`
//! lines that `lib/argv.c` (`setup_env`) turns into `getenv()` values.
//!
//! kvm-unit-tests' `scripts/arch-run.bash` (`initrd_create`) builds this
//! file for every test. nestor writes, in this order:
//!
//! | line | why |
//! |---|---|
//! | `NR_CPUS=<smp>` | `lib/x86/fwcfg.c` prefers it to fw_cfg's CPU count; same value as `--smp` |
//! | `MEMSIZE=<MiB>` | `lib/x86/fwcfg.c` prefers it to fw_cfg's RAM size; same value as `-m` |
//! | lines of the file named by `$KVM_UNIT_TESTS_ENV` | as the script's `env_file`: the user's own variables, for keys not already set |
//! | `ERRATA_FORCE=y` (`--accel interp`) | the script sets it for `ACCEL=tcg`: no host-kernel KVM bugs to guard against |
//! | `ERRATA_<commit>=y` or `=n` (`--accel kvm`) | from `errata.txt` and the host kernel release, as `env_generate_errata`; `ERRATA_*` variables in nestor's environment win |
//!
//! Not written: `TEST_DEVICE` (absent means the exit and test devices exist,
//! which nestor always provides; `TEST_DEVICE=0` would make the library
//! print `--- DONE ---` and change `eventinj`/`syscall`), `BOOTLOADER`
//! (EFI only), `MEMLIMIT` (no limit), and the script's `TARGET`, `QEMU_*`
//! and `KERNEL_*` lines, which describe the host's QEMU and which no x86
//! test reads.

use super::Accel;

/// Inputs of [`env_text`] that come from the host.
#[derive(Clone, Debug, Default)]
pub struct EnvInputs {
    /// Contents of `errata.txt` of the kvm-unit-tests tree, if present.
    pub errata_txt: Option<String>,
    /// Host kernel release (`uname -r`), for errata under KVM.
    pub kernel_release: Option<String>,
    /// Contents of the file named by `$KVM_UNIT_TESTS_ENV`, if set.
    pub user_env: Option<String>,
    /// `ERRATA_*` variables of nestor's own environment.
    pub errata_vars: Vec<(String, String)>,
}

impl EnvInputs {
    /// Reads the inputs from the host: `DIR/errata.txt`,
    /// `/proc/sys/kernel/osrelease`, `$KVM_UNIT_TESTS_ENV`, `ERRATA_*`.
    pub fn from_host(dir: &std::path::Path) -> EnvInputs {
        let mut errata_vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("ERRATA_"))
            .collect();
        errata_vars.sort();
        EnvInputs {
            errata_txt: std::fs::read_to_string(dir.join("errata.txt")).ok(),
            kernel_release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_string()),
            user_env: std::env::var_os("KVM_UNIT_TESTS_ENV")
                .and_then(|p| std::fs::read_to_string(p).ok()),
            errata_vars,
        }
    }
}

/// A kernel version `V.P[.S[-X]]` as four numbers (missing parts are 0).
fn version(s: &str) -> Option<[u64; 4]> {
    let lead = |t: &str| -> Option<u64> {
        let d: String = t.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    let mut dots = s.splitn(3, '.');
    let v = dots.next()?.parse().ok()?;
    let p = dots.next()?.parse().ok()?;
    let rest = dots.next().unwrap_or("");
    let (sub, extra) = rest.split_once('-').unwrap_or((rest, ""));
    Some([v, p, lead(sub).unwrap_or(0), lead(extra).unwrap_or(0)])
}

/// `ERRATA_<commit>` values from `errata.txt` for a host kernel release:
/// `y` when the kernel is at least the minimum version of the line.
pub fn errata(errata_txt: &str, kernel_release: &str) -> Result<Vec<(String, bool)>, String> {
    let kernel = version(kernel_release)
        .ok_or_else(|| format!("cannot parse the kernel release `{kernel_release}`"))?;
    let mut out = Vec::new();
    for (n, line) in errata_txt.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        let mut fields = compact.split(':');
        let commit = fields.next().unwrap_or("");
        if commit.is_empty() {
            continue;
        }
        let minver = fields.next().unwrap_or("");
        let min = version(minver).ok_or_else(|| {
            format!(
                "errata.txt:{}: bad minimum kernel version `{minver}`",
                n + 1
            )
        })?;
        out.push((format!("ERRATA_{commit}"), kernel >= min));
    }
    Ok(out)
}

/// The environment file for one test.
pub fn env_text(
    smp: u32,
    mem_mib: u64,
    accel: Accel,
    inputs: &EnvInputs,
) -> Result<String, String> {
    let mut lines: Vec<(String, String)> = vec![
        ("NR_CPUS".into(), smp.to_string()),
        ("MEMSIZE".into(), mem_mib.to_string()),
    ];
    let has = |lines: &[(String, String)], k: &str| lines.iter().any(|(l, _)| l == k);
    for line in inputs.user_env.as_deref().unwrap_or("").lines() {
        let Some((k, v)) = line.trim_start().split_once('=') else {
            continue;
        };
        let valid = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid && !has(&lines, k) {
            lines.push((k.to_string(), v.to_string()));
        }
    }
    let mut errata_lines: Vec<(String, String)> = inputs.errata_vars.clone();
    match accel {
        Accel::Interp => errata_lines.push(("ERRATA_FORCE".into(), "y".into())),
        Accel::Kvm => {
            if let (Some(txt), Some(rel)) = (&inputs.errata_txt, &inputs.kernel_release) {
                for (k, have) in errata(txt, rel)? {
                    errata_lines.push((k, if have { "y" } else { "n" }.into()));
                }
            }
        }
    }
    for (k, v) in errata_lines {
        if !has(&lines, &k) {
            lines.push((k, v));
        }
    }
    Ok(lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERRATA: &str = "\
#---------------:-------------------------------:----------
# commit        : minimum kernel                : summary
9e3f7a296940    : 4.9                           : arm64: pmu
7b6b46311a85    : 6.12                          : a later fix
aaaaaaaaaaaa    : 6.8.1                         : a stable fix
";

    #[test]
    fn versions() {
        assert_eq!(version("6.8.0-49-generic"), Some([6, 8, 0, 49]));
        assert_eq!(version("4.9"), Some([4, 9, 0, 0]));
        assert_eq!(version("5.15.0+"), Some([5, 15, 0, 0]));
        assert_eq!(version("x.y"), None);
        assert_eq!(version("6"), None);
    }

    #[test]
    fn errata_from_kernel_version() {
        let e = errata(ERRATA, "6.8.0-49-generic").expect("errata");
        assert_eq!(
            e,
            [
                ("ERRATA_9e3f7a296940".to_string(), true),
                ("ERRATA_7b6b46311a85".to_string(), false),
                ("ERRATA_aaaaaaaaaaaa".to_string(), false),
            ]
        );
        assert!(
            errata("abc : four\n", "6.8")
                .unwrap_err()
                .contains("errata.txt:1")
        );
        assert!(errata(ERRATA, "weird").is_err());
    }

    #[test]
    fn env_file_contents() {
        let inputs = EnvInputs {
            errata_txt: Some(ERRATA.into()),
            kernel_release: Some("6.8.0".into()),
            user_env: Some("FOO=bar\n# comment\nNR_CPUS=99\nbad line\n".into()),
            errata_vars: vec![("ERRATA_7b6b46311a85".into(), "y".into())],
        };
        let t = env_text(2, 256, Accel::Interp, &inputs).expect("env");
        assert_eq!(
            t,
            "NR_CPUS=2\nMEMSIZE=256\nFOO=bar\nERRATA_7b6b46311a85=y\nERRATA_FORCE=y\n"
        );
        let t = env_text(1, 128, Accel::Kvm, &inputs).expect("env");
        assert_eq!(
            t,
            "NR_CPUS=1\nMEMSIZE=128\nFOO=bar\nERRATA_7b6b46311a85=y\nERRATA_9e3f7a296940=y\nERRATA_aaaaaaaaaaaa=n\n"
        );
        let t = env_text(4, 2048, Accel::Kvm, &EnvInputs::default()).expect("env");
        assert_eq!(t, "NR_CPUS=4\nMEMSIZE=2048\n");
    }
}
