//! Choosing entries from the command line: names and shell-style globs.
//!
//! - No patterns: every entry.
//! - Patterns: the entries matched by at least one (names or globs with
//!   `*`, `?`, `[abc]`, `[a-z]`, `[!x]`), in cfg order, each once.
//! - A pattern that matches no entry is an error.
//! - Entries in the `nodefault` group are listed as SKIP "test marked as
//!   manual run only" (as `run_tests.sh` prints them) unless one of the
//!   patterns is exactly their name.

use super::cfg::Entry;

/// The SKIP reason for `nodefault` entries that were not named.
pub const NODEFAULT_REASON: &str = "test marked as manual run only";

/// One selected entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selected {
    /// Index into the entry list.
    pub index: usize,
    /// True when the entry is `nodefault` and was not named explicitly.
    pub manual_only: bool,
}

/// True when `pat` contains glob metacharacters.
pub fn is_glob(pat: &str) -> bool {
    pat.contains(['*', '?', '['])
}

/// Shell-style glob match of the whole `name`.
pub fn glob_match(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_at(&p, &n)
}

fn matches_at(p: &[char], n: &[char]) -> bool {
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(p, pi, n[ni]),
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(pi + 2),
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression at `p[at]`; returns the index
/// after it on a match. An unterminated `[` matches nothing.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    loop {
        let &ch = p.get(i)?;
        if ch == ']' && i > start {
            break;
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            hit |= (ch..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= ch == c;
            i += 1;
        }
    }
    (hit != negate).then_some(i + 1)
}

/// Selects entries; `cfg_name` names the file in errors.
pub fn select(
    entries: &[Entry],
    patterns: &[String],
    cfg_name: &str,
) -> Result<Vec<Selected>, String> {
    let named = |e: &Entry| patterns.contains(&e.name);
    if patterns.is_empty() {
        return Ok(entries
            .iter()
            .enumerate()
            .map(|(index, e)| Selected {
                index,
                manual_only: e.in_group("nodefault"),
            })
            .collect());
    }
    for p in patterns {
        let hit = entries.iter().any(|e| {
            if is_glob(p) {
                glob_match(p, &e.name)
            } else {
                *p == e.name
            }
        });
        if !hit {
            return Err(format!("no entry matches `{p}` in {cfg_name}"));
        }
    }
    Ok(entries
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            named(e)
                || patterns
                    .iter()
                    .any(|p| is_glob(p) && glob_match(p, &e.name))
        })
        .map(|(index, e)| Selected {
            index,
            manual_only: e.in_group("nodefault") && !named(e),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, m) in [
            ("vmx*", "vmx_apicv_test", true),
            ("vmx*", "vmx", true),
            ("*apic*", "x2apic", true),
            ("x?apic", "x2apic", true),
            ("x?apic", "xapic", false),
            ("pcid-[ad]*", "pcid-enabled", false),
            ("pcid-[ad]*", "pcid-disabled", true),
            ("pcid-[!d]*", "pcid-asymmetric", true),
            ("pcid-[^d]*", "pcid-disabled", false),
            ("[a-c]*", "cet", true),
            ("[a-c]*", "debug", false),
            ("[]]", "]", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("[abc", "[abc", false),
            ("vmx", "vmx_x", false),
        ] {
            assert_eq!(glob_match(p, n), m, "{p} vs {n}");
        }
    }

    fn entries() -> Vec<Entry> {
        let text = "[a]\nfile=a\n[vmx]\nfile=v\n[vmx_pf]\nfile=v\ngroups = vmx nodefault\n[vmx_b]\nfile=v\n[z]\nfile=z\ngroups=nodefault\n";
        crate::kut::cfg::parse(text, "t.cfg").expect("cfg")
    }

    fn pick(pats: &[&str]) -> Result<Vec<(String, bool)>, String> {
        let e = entries();
        let pats: Vec<String> = pats.iter().map(|s| s.to_string()).collect();
        Ok(select(&e, &pats, "t.cfg")?
            .into_iter()
            .map(|s| (e[s.index].name.clone(), s.manual_only))
            .collect())
    }

    fn owned(v: &[(&str, bool)]) -> Vec<(String, bool)> {
        v.iter().map(|(n, m)| (n.to_string(), *m)).collect()
    }

    #[test]
    fn selection_rules() {
        assert_eq!(
            pick(&[]).unwrap(),
            owned(&[
                ("a", false),
                ("vmx", false),
                ("vmx_pf", true),
                ("vmx_b", false),
                ("z", true)
            ])
        );
        // Globs keep cfg order and list nodefault entries as manual-only.
        assert_eq!(
            pick(&["vmx*"]).unwrap(),
            owned(&[("vmx", false), ("vmx_pf", true), ("vmx_b", false)])
        );
        // Naming a nodefault entry runs it; duplicates collapse; order is the cfg's.
        assert_eq!(
            pick(&["z", "vmx_pf", "a", "vmx*"]).unwrap(),
            owned(&[
                ("a", false),
                ("vmx", false),
                ("vmx_pf", false),
                ("vmx_b", false),
                ("z", false)
            ])
        );
        assert_eq!(
            pick(&["nope"]).unwrap_err(),
            "no entry matches `nope` in t.cfg"
        );
        assert_eq!(
            pick(&["a", "q*"]).unwrap_err(),
            "no entry matches `q*` in t.cfg"
        );
    }
}
