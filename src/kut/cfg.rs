//! Parser for kvm-unit-tests' `<arch>/unittests.cfg`.
//!
//! The grammar follows `for_each_unittest` in `scripts/common.bash` (the
//! code that actually reads the file), not only `docs/unittests.txt`:
//!
//! - Lines are trimmed of leading and trailing blanks (`read -r`).
//! - Empty lines and lines whose first character is `#` are ignored. A `#`
//!   later in a line is part of the value (the script keeps it too).
//! - `[name]` starts an entry; everything up to the next `[...]` belongs to it.
//! - `key = value`: blanks around `=` are optional. Known keys: `file`, `smp`,
//!   `test_args`, `qemu_params` (alias `extra_params`), `groups`, `arch`,
//!   `machine`, `check`, `accel`, `timeout`, `disabled_if`. A repeated key
//!   replaces the earlier value. Other keys (`kvmtool_params`, ...) are kept
//!   in [`Entry::other`] and otherwise ignored, as the script ignores them.
//! - A value starting with `"""` continues over the following lines up to a
//!   line ending in `"""`; a line ending in an odd number of backslashes is
//!   joined to the next one without the backslash and the newline.
//!
//! Defaults (from `scripts/runtime.bash`): `smp` 1, `timeout` 90 seconds,
//! no `test_args` (so no `-append`), no parameters.
//!
//! Stricter than the script, so that typos do not silently drop an entry:
//! a line that is neither a header, a `key = value` pair nor a comment, a
//! key before the first header, a duplicate or empty entry name, an entry
//! without `file`, an unterminated `"""` value and a malformed `timeout` are
//! errors reported as `FILE:LINE: message`.

use std::path::Path;
use std::time::Duration;

/// The default per-test timeout of `scripts/runtime.bash` (`90s`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

/// One `[name]` entry of the configuration file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// The entry name (between the brackets).
    pub name: String,
    /// 1-based line number of the `[name]` header.
    pub line: usize,
    /// The image file name, relative to the arch directory (`x86/`).
    pub file: String,
    /// Raw `smp` value (may be `$MAX_SMP`); `None` means 1.
    pub smp: Option<String>,
    /// Raw `test_args` value (shell words, quoted as in the file).
    pub test_args: Option<String>,
    /// Raw `qemu_params` / `extra_params` value (shell words).
    pub params: Option<String>,
    /// The `groups` words (e.g. `vmx`, `nodefault`).
    pub groups: Vec<String>,
    /// `arch` restriction (`i386` or `x86_64`), if any.
    pub arch: Option<String>,
    /// `machine` restriction, if any.
    pub machine: Option<String>,
    /// `check` conditions, each `PATH=VALUE`.
    pub check: Vec<String>,
    /// `accel` restriction (`kvm` or `tcg`), if any.
    pub accel: Option<String>,
    /// Timeout; `None` means the default ([`DEFAULT_TIMEOUT`]); a zero
    /// duration means no timeout (as `timeout = 0` does in the scripts).
    pub timeout: Option<Duration>,
    /// The raw `timeout` text, shown in "timeout; duration=..." reasons.
    pub timeout_text: Option<String>,
    /// A bash condition; the entry is skipped when it holds.
    pub disabled_if: Option<String>,
    /// Unknown keys with their values, in file order.
    pub other: Vec<(String, String)>,
}

impl Entry {
    /// True when `group` is one of the entry's groups.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The effective timeout: the entry's or the default; `None` when the
    /// entry disables the timeout with `timeout = 0`.
    pub fn effective_timeout(&self) -> Option<Duration> {
        match self.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
        }
    }

    /// The timeout as the scripts print it (`90s` by default).
    pub fn timeout_display(&self) -> String {
        self.timeout_text.clone().unwrap_or_else(|| "90s".into())
    }
}

/// A malformed configuration file: `file:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CfgError {
    /// The file name as given to the parser.
    pub file: String,
    /// 1-based line number (0 when the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for CfgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        }
    }
}

impl std::error::Error for CfgError {}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Vec<Entry>, CfgError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| CfgError {
        file: file.clone(),
        line: 0,
        msg: format!("cannot read: {e}"),
    })?;
    parse(&String::from_utf8_lossy(&bytes), &file)
}

/// Parses `timeout(1)` durations: a decimal number with an optional unit
/// `s`, `m`, `h` or `d` (seconds when absent).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1.0),
        (i, 'm') => (&s[..i], 60.0),
        (i, 'h') => (&s[..i], 3600.0),
        (i, 'd') => (&s[..i], 86400.0),
        _ => (s, 1.0),
    };
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let secs = v * mult;
    (secs.is_finite() && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// Splits `key = value` (blanks around `=` optional). The key must be an
/// identifier.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim_end();
    let ident = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    ident.then(|| (k, v.trim_start()))
}

/// Counts the backslashes at the end of `s`.
fn trailing_backslashes(s: &str) -> usize {
    s.chars().rev().take_while(|&c| c == '\\').count()
}

/// Parses configuration text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Vec<Entry>, CfgError> {
    let err = |line: usize, msg: String| CfgError {
        file: file.to_string(),
        line,
        msg,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut entries: Vec<Entry> = Vec::new();
    let mut cur: Option<Entry> = None;
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = inner.trim();
            if name.is_empty() {
                return Err(err(lineno, "empty entry name `[]`".into()));
            }
            if let Some(prev) = entries.iter().chain(cur.iter()).find(|e| e.name == name) {
                return Err(err(
                    lineno,
                    format!("duplicate entry `[{name}]` (first at line {})", prev.line),
                ));
            }
            if let Some(done) = cur.take() {
                entries.push(finish(done, file)?);
            }
            cur = Some(Entry {
                name: name.to_string(),
                line: lineno,
                ..Entry::default()
            });
            continue;
        }
        let Some((key, mut value)) = key_value(line) else {
            return Err(err(
                lineno,
                format!("expected `[name]`, `key = value` or a `#` comment, got `{line}`"),
            ));
        };
        let Some(entry) = cur.as_mut() else {
            return Err(err(
                lineno,
                format!("`{key}` before the first `[name]` header"),
            ));
        };
        let multi;
        if let Some(rest) = value.strip_prefix("\"\"\"") {
            let (v, next) = multi_line(rest, &lines, i)
                .ok_or_else(|| err(lineno, format!("`{key}`: unterminated `\"\"\"` value")))?;
            multi = v;
            value = &multi;
            i = next;
        }
        let value = value.to_string();
        match key {
            "file" => entry.file = value,
            "smp" => entry.smp = Some(value),
            "test_args" => entry.test_args = Some(value),
            "qemu_params" | "extra_params" => entry.params = Some(value),
            "groups" => entry.groups = value.split_whitespace().map(String::from).collect(),
            "arch" => entry.arch = Some(value).filter(|v| !v.is_empty()),
            "machine" => entry.machine = Some(value).filter(|v| !v.is_empty()),
            "check" => entry.check = value.split_whitespace().map(String::from).collect(),
            "accel" => entry.accel = Some(value).filter(|v| !v.is_empty()),
            "disabled_if" => entry.disabled_if = Some(value).filter(|v| !v.is_empty()),
            "timeout" => {
                if value.is_empty() {
                    entry.timeout = None;
                    entry.timeout_text = None;
                } else {
                    let d = parse_duration(&value).ok_or_else(|| {
                        err(
                            lineno,
                            format!("`timeout` needs a duration like 90, 90s or 2m, got `{value}`"),
                        )
                    })?;
                    entry.timeout = Some(d);
                    entry.timeout_text = Some(value);
                }
            }
            _ => entry.other.push((key.to_string(), value)),
        }
    }
    if let Some(done) = cur.take() {
        entries.push(finish(done, file)?);
    }
    Ok(entries)
}

/// Collects a `"""` value: `first` is the text after the opening quotes,
/// `start` the index of the next line. Returns the value and the index of
/// the line after the closing quotes.
fn multi_line(first: &str, lines: &[&str], start: usize) -> Option<(String, usize)> {
    if let Some((v, _)) = first.split_once("\"\"\"") {
        return Some((v.to_string(), start));
    }
    let mut value = first.to_string();
    let mut i = start;
    loop {
        // A line ending in an odd number of backslashes continues without
        // a newline, like the shell's backslash-newline.
        if trailing_backslashes(&value) % 2 == 1 {
            value.pop();
        } else {
            value.push('\n');
        }
        let line = *lines.get(i)?;
        i += 1;
        if let Some(body) = line.trim_end().strip_suffix("\"\"\"") {
            value.push_str(body);
            return Some((value, i));
        }
        value.push_str(line);
    }
}

fn finish(e: Entry, file: &str) -> Result<Entry, CfgError> {
    if e.file.is_empty() {
        return Err(CfgError {
            file: file.to_string(),
            line: e.line,
            msg: format!("entry `[{}]` has no `file = ...`", e.name),
        });
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
##############################
# header comment
##############################

[x2apic]
file = apic.flat
smp = 2
qemu_params = -cpu qemu64,+x2apic,+tsc-deadline
arch = x86_64
timeout = 30
groups = apic

# a comment between entries
#[init]
#file = init.flat

[vmexit_cpuid]
file=vmexit.flat
test_args = 'cpuid'
groups = vmexit nodefault

[pmu]
file = pmu.flat
extra_params = -cpu max
check = /sys/module/kvm/parameters/enable_pmu=Y /proc/sys/kernel/nmi_watchdog=0
accel = kvm
kvmtool_params = --pmu
";

    #[test]
    fn parses_entries_keys_and_defaults() {
        let e = parse(SAMPLE, "t.cfg").expect("parse");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name, "x2apic");
        assert_eq!(e[0].line, 5);
        assert_eq!(e[0].file, "apic.flat");
        assert_eq!(e[0].smp.as_deref(), Some("2"));
        assert_eq!(
            e[0].params.as_deref(),
            Some("-cpu qemu64,+x2apic,+tsc-deadline")
        );
        assert_eq!(e[0].arch.as_deref(), Some("x86_64"));
        assert_eq!(e[0].timeout, Some(Duration::from_secs(30)));
        assert_eq!(e[0].timeout_display(), "30");
        assert_eq!(e[0].groups, ["apic"]);
        assert_eq!(e[1].file, "vmexit.flat");
        assert_eq!(e[1].test_args.as_deref(), Some("'cpuid'"));
        assert!(e[1].in_group("nodefault"));
        assert_eq!(e[1].smp, None);
        assert_eq!(e[1].effective_timeout(), Some(DEFAULT_TIMEOUT));
        assert_eq!(e[1].timeout_display(), "90s");
        assert_eq!(
            e[2].params.as_deref(),
            Some("-cpu max"),
            "extra_params alias"
        );
        assert_eq!(e[2].check.len(), 2);
        assert_eq!(e[2].accel.as_deref(), Some("kvm"));
        assert_eq!(
            e[2].other,
            [("kvmtool_params".to_string(), "--pmu".to_string())]
        );
    }

    #[test]
    fn multi_line_params_with_continuations() {
        let text = "[t]\nfile = t.flat\nqemu_params = \"\"\"-cpu max \\\n-m 256\n  -smp 2\"\"\"\ngroups = g\n";
        let e = parse(text, "t.cfg").expect("parse");
        assert_eq!(e[0].params.as_deref(), Some("-cpu max -m 256\n  -smp 2"));
        assert_eq!(e[0].groups, ["g"]);
        // Closing quotes on their own line; a double backslash is no continuation.
        let text = "[t]\nfile = t.flat\nqemu_params = \"\"\"-a \\\\\n-b\n\"\"\"\n";
        let e = parse(text, "t.cfg").expect("parse");
        assert_eq!(e[0].params.as_deref(), Some("-a \\\\\n-b\n"));
        // Same-line closing.
        let e = parse("[t]\nfile = t\nqemu_params = \"\"\"-m 1\"\"\"\n", "t.cfg").expect("parse");
        assert_eq!(e[0].params.as_deref(), Some("-m 1"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "s", "ten", "-1", "1e3", "9999999999999"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let e = parse("[t]\nfile = t\ntimeout = 0\n", "c").expect("parse");
        assert_eq!(e[0].effective_timeout(), None);
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("file = a.flat\n", 1, "before the first"),
            (
                "[a]\nfile = a\n[a]\nfile = b\n",
                3,
                "duplicate entry `[a]` (first at line 1)",
            ),
            ("[a]\nfile = a\nthis is junk\n", 3, "expected `[name]`"),
            ("[a]\nsmp = 2\n[b]\nfile = b\n", 1, "has no `file"),
            (
                "[a]\nfile = a\nqemu_params = \"\"\"-m 1\n",
                3,
                "unterminated",
            ),
            (
                "[a]\nfile = a\ntimeout = soon\n",
                3,
                "`timeout` needs a duration",
            ),
            ("[]\n", 1, "empty entry name"),
            ("[a]\nfile = a\n= b\n", 3, "expected"),
        ];
        for (text, line, msg) in cases {
            let e = parse(text, "u.cfg").unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("u.cfg:{line}: ")), "{e}");
            assert!(e.msg.contains(msg), "{text:?}: {e}");
        }
        let e = load(Path::new("/nonexistent/unittests.cfg")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/unittests.cfg: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "[",
            "]",
            "[a",
            "[a]\n=",
            "[a]\nfile = \"\"\"",
            "\u{feff}[a]",
            "[a]]\nfile=x",
            "[a]\nfile=x\n\\",
        ] {
            let _ = parse(text, "f");
        }
    }

    /// The real file of a kvm-unit-tests tree, when one is present.
    #[test]
    fn real_unittests_cfg_parses() {
        let path = Path::new("/work/kut-src/x86/unittests.cfg");
        if !path.exists() {
            return;
        }
        let e = load(path).expect("real cfg parses");
        assert!(e.len() > 50, "{} entries", e.len());
        let vmx = e.iter().find(|e| e.name == "vmx").expect("vmx entry");
        assert_eq!(vmx.file, "vmx.flat");
        assert!(vmx.in_group("vmx"));
        assert!(e.iter().any(|e| e.in_group("nodefault")));
        assert!(e.iter().all(|e| !e.file.is_empty()));
    }
}
