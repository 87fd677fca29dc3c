//! Expected results (`testsuites/kvm-unit-tests/expected-<accel>.txt`) and
//! the comparison with a run.
//!
//! File format: one entry per line, `NAME STATUS` with STATUS `PASS`,
//! `FAIL` or `SKIP`; `#` starts a comment (whole line or after the status);
//! blank lines are ignored. A duplicate name, an unknown status or extra
//! words are errors reported as `FILE:LINE: message`.
//!
//! Comparison, for the entries of the run:
//!
//! | expected | got | reported as | exit status |
//! |---|---|---|---|
//! | PASS | FAIL or SKIP | regression | non-zero |
//! | FAIL or SKIP | PASS | newly passing | 0 |
//! | FAIL | SKIP, or SKIP | FAIL | changed | 0 |
//! | (no line) | any | no expectation | 0 |
//!
//! Names in the file that the cfg does not have are reported as stale.

use std::collections::BTreeMap;

use super::classify::Status;

/// Parsed expectations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expectations {
    /// Expected status by entry name.
    pub map: BTreeMap<String, Status>,
}

/// Parses an expectations file; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Expectations, String> {
    let mut map = BTreeMap::new();
    let mut lines_of: BTreeMap<String, usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        let n = i + 1;
        match words.as_slice() {
            [] => {}
            [name, status] => {
                let s = Status::from_name(status).ok_or_else(|| {
                    format!("{file}:{n}: unknown status `{status}` (PASS, FAIL or SKIP)")
                })?;
                if let Some(first) = lines_of.insert(name.to_string(), n) {
                    return Err(format!(
                        "{file}:{n}: duplicate entry `{name}` (first at line {first})"
                    ));
                }
                map.insert(name.to_string(), s);
            }
            _ => {
                return Err(format!(
                    "{file}:{n}: expected `NAME PASS|FAIL|SKIP`, got `{}`",
                    line.trim()
                ));
            }
        }
    }
    Ok(Expectations { map })
}

/// Loads an expectations file.
pub fn load(path: &std::path::Path) -> Result<Expectations, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// A difference between the expected and the actual status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Entry name.
    pub name: String,
    /// What the file says.
    pub expected: Status,
    /// What the run got.
    pub actual: Status,
}

/// The comparison of a run with the expectations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Expected PASS, did not pass.
    pub regressions: Vec<Change>,
    /// Passed, expected FAIL or SKIP.
    pub newly_passing: Vec<Change>,
    /// FAIL↔SKIP changes.
    pub changed: Vec<Change>,
    /// Entries of the run without a line in the file.
    pub unexpected: Vec<String>,
    /// Names in the file that are not in the cfg.
    pub stale: Vec<String>,
}

impl Diff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }

    /// Human-readable lines describing the differences.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut section = |title: &str, items: Vec<String>| {
            if !items.is_empty() {
                out.push(format!("{title} ({}):", items.len()));
                out.extend(items.into_iter().map(|s| format!("  {s}")));
            }
        };
        let fmt = |c: &Change| {
            format!(
                "{} (expected {}, got {})",
                c.name,
                c.expected.name(),
                c.actual.name()
            )
        };
        section("regressions", self.regressions.iter().map(fmt).collect());
        section(
            "newly passing",
            self.newly_passing.iter().map(fmt).collect(),
        );
        section("changed", self.changed.iter().map(fmt).collect());
        section("no expectation", self.unexpected.clone());
        section("stale expectations (not in the cfg)", self.stale.clone());
        out
    }
}

/// Compares the results of a run (in cfg order) with the expectations.
pub fn compare(exp: &Expectations, results: &[(String, Status)], cfg_names: &[String]) -> Diff {
    let mut d = Diff::default();
    for (name, actual) in results {
        let Some(&expected) = exp.map.get(name) else {
            d.unexpected.push(name.clone());
            continue;
        };
        let change = Change {
            name: name.clone(),
            expected,
            actual: *actual,
        };
        match (expected, *actual) {
            (e, a) if e == a => {}
            (Status::Pass, _) => d.regressions.push(change),
            (_, Status::Pass) => d.newly_passing.push(change),
            _ => d.changed.push(change),
        }
    }
    d.stale = exp
        .map
        .keys()
        .filter(|k| !cfg_names.contains(k))
        .cloned()
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# kvm-unit-tests under the interpreter
a PASS
b   PASS   # was flaky once
c FAIL # not yet expected to pass

d SKIP
e FAIL
old PASS
";

    #[test]
    fn parses() {
        let e = parse(FILE, "x.txt").expect("parse");
        assert_eq!(e.map.len(), 6);
        assert_eq!(e.map["b"], Status::Pass);
        assert_eq!(e.map["d"], Status::Skip);
    }

    #[test]
    fn errors() {
        for (text, msg) in [
            (
                "a PASS\na FAIL\n",
                "x.txt:2: duplicate entry `a` (first at line 1)",
            ),
            ("a pass\n", "x.txt:1: unknown status `pass`"),
            ("a\n", "x.txt:1: expected `NAME PASS|FAIL|SKIP`, got `a`"),
            ("a PASS extra\n", "x.txt:1: expected"),
        ] {
            let e = parse(text, "x.txt").unwrap_err();
            assert!(e.starts_with(msg), "{text:?}: {e}");
        }
        assert!(
            load(std::path::Path::new("/nonexistent/e.txt"))
                .unwrap_err()
                .contains("cannot read")
        );
    }

    #[test]
    fn diff() {
        let e = parse(FILE, "x.txt").expect("parse");
        let results: Vec<(String, Status)> = [
            ("a", Status::Pass),
            ("b", Status::Fail),
            ("c", Status::Pass),
            ("d", Status::Fail),
            ("e", Status::Fail),
            ("new", Status::Skip),
        ]
        .iter()
        .map(|(n, s)| (n.to_string(), *s))
        .collect();
        let names: Vec<String> = ["a", "b", "c", "d", "e", "new"].map(String::from).to_vec();
        let d = compare(&e, &results, &names);
        assert_eq!(d.regressions.len(), 1);
        assert_eq!(d.regressions[0].name, "b");
        assert_eq!(d.newly_passing[0].name, "c");
        assert_eq!(d.changed[0].name, "d");
        assert_eq!(d.unexpected, ["new"]);
        assert_eq!(d.stale, ["old"]);
        assert_eq!(
            d.lines(),
            [
                "regressions (1):",
                "  b (expected PASS, got FAIL)",
                "newly passing (1):",
                "  c (expected FAIL, got PASS)",
                "changed (1):",
                "  d (expected SKIP, got FAIL)",
                "no expectation (1):",
                "  new",
                "stale expectations (not in the cfg) (1):",
                "  old",
            ]
        );
        let same = compare(
            &e,
            &results[..1],
            &["a", "b", "c", "d", "e", "old"].map(String::from),
        );
        assert!(same.is_empty(), "{same:?}");
    }

    /// The files in the repository parse and name every entry of the real
    /// cfg (when a kvm-unit-tests tree is present) exactly once.
    #[test]
    fn repository_files() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuites/kvm-unit-tests");
        let cfg = std::path::Path::new("/work/kut-src/x86/unittests.cfg");
        for accel in ["interp", "kvm"] {
            let e = load(&dir.join(format!("expected-{accel}.txt"))).expect("expectations parse");
            if cfg.exists() {
                let names: Vec<String> = crate::kut::cfg::load(cfg)
                    .expect("cfg")
                    .into_iter()
                    .map(|e| e.name)
                    .collect();
                let listed: Vec<&String> = e.map.keys().collect();
                let mut sorted: Vec<&String> = names.iter().collect();
                sorted.sort();
                assert_eq!(listed, sorted, "{accel}");
            }
        }
    }
}
