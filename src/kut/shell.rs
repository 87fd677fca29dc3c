//! Shell-like word splitting for `test_args`, `qemu_params` and `smp`.
//!
//! kvm-unit-tests' runner pastes these values into a command line that it
//! runs with bash's `eval`, so `test_args = 'cpuid'` reaches QEMU as the
//! single word `cpuid` and `test_args = "10000000 `date +%s`"` runs `date`.
//! This module implements the subset of the shell grammar the cfg files use:
//!
//! - blanks (space, tab, newline) separate words;
//! - `'...'` is literal; `"..."` keeps blanks and expands `$`/backticks,
//!   a backslash in it escapes only `$`, `` ` ``, `"`, `\` and newline;
//! - a backslash outside quotes makes the next character literal
//!   (backslash-newline is removed);
//! - `` `cmd` `` and `$(cmd)` are run through [`Host::command`]; outside
//!   double quotes their output is split into words;
//! - `$NAME` and `${NAME}` come from [`Host::variable`] (unset: empty).
//!
//! Not supported, reported as errors (the caller turns them into a SKIP):
//! `$((...))` arithmetic, other `$` forms (`$1`, `$?`, `${x:-y}`), and
//! unquoted operators `;`, `&`, `|`, `<`, `>`, `(`, `)`. Glob characters
//! are kept literally (the shell would only expand them if they matched
//! files in the kvm-unit-tests directory).

/// Host services the runner needs: shell commands, variables, host files.
/// Tests supply a fake; [`RealHost`] is the real thing.
pub trait Host: Sync {
    /// Runs `cmd` with `sh -c` and returns its standard output.
    fn command(&self, cmd: &str) -> Result<String, String>;
    /// The value of a shell variable (`MAX_SMP`, or the environment).
    fn variable(&self, name: &str) -> Option<String>;
    /// Evaluates a bash condition (`disabled_if`): true when it holds.
    fn condition(&self, cond: &str) -> Result<bool, String>;
    /// Reads a host file (`check` conditions), `None` if unreadable.
    fn read_file(&self, path: &str) -> Option<String>;
    /// Whether a file exists (test images).
    fn exists(&self, path: &std::path::Path) -> bool;
}

/// The real host: commands run in the kvm-unit-tests directory, with the
/// variables of its `config.mak` in the environment (as `run_tests.sh`,
/// which sources it).
pub struct RealHost {
    /// The kvm-unit-tests build directory (working directory of commands).
    pub dir: std::path::PathBuf,
    /// `KEY=VALUE` pairs from `config.mak`.
    pub config: Vec<(String, String)>,
    /// `ACCEL` as the scripts would see it (`tcg` or `kvm`).
    pub accel: String,
}

impl RealHost {
    /// A host for `dir`, reading `dir/config.mak` if present.
    pub fn new(dir: &std::path::Path, accel: &str) -> RealHost {
        let config = std::fs::read_to_string(dir.join("config.mak"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RealHost {
            dir: dir.to_path_buf(),
            config,
            accel: accel.to_string(),
        }
    }

    fn shell(&self, prog: &str, script: &str) -> std::process::Command {
        let mut c = std::process::Command::new(prog);
        c.arg("-c").arg(script).current_dir(&self.dir);
        c.envs(self.config.iter().map(|(k, v)| (k, v)));
        c.env("ACCEL", &self.accel);
        c.stdin(std::process::Stdio::null());
        c
    }
}

impl Host for RealHost {
    fn command(&self, cmd: &str) -> Result<String, String> {
        let out = self
            .shell("sh", cmd)
            .stderr(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        while s.ends_with('\n') {
            s.pop();
        }
        Ok(s)
    }

    fn variable(&self, name: &str) -> Option<String> {
        if name == "MAX_SMP" {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            return Some(n.to_string());
        }
        self.config
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    }

    fn condition(&self, cond: &str) -> Result<bool, String> {
        let status = self
            .shell("bash", cond)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("cannot run bash: {e}"))?;
        Ok(status.success())
    }

    fn read_file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn exists(&self, path: &std::path::Path) -> bool {
        path.is_file()
    }
}

/// Word being built: `None` until something (even `""`) starts it.
struct Words {
    done: Vec<String>,
    cur: Option<String>,
}

impl Words {
    fn push(&mut self, c: char) {
        self.cur.get_or_insert_with(String::new).push(c);
    }
    fn start(&mut self) {
        self.cur.get_or_insert_with(String::new);
    }
    fn end(&mut self) {
        if let Some(w) = self.cur.take() {
            self.done.push(w);
        }
    }
    /// Appends unquoted expansion output, splitting it at blanks.
    fn push_split(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.end();
            } else {
                self.push(c);
            }
        }
    }
}

/// Splits `s` into words as the shell would after `eval`.
pub fn split(s: &str, host: &dyn Host) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut w = Words {
        done: Vec::new(),
        cur: None,
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            ' ' | '\t' | '\n' | '\r' => w.end(),
            '\\' => match chars.get(i) {
                Some('\n') => i += 1,
                Some(&n) => {
                    w.push(n);
                    i += 1;
                }
                None => w.push('\\'),
            },
            '\'' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unterminated single quote")?;
                w.start();
                for &c in &chars[i..i + close] {
                    w.push(c);
                }
                i += close + 1;
            }
            '"' => {
                w.start();
                i = double_quoted(&chars, i, &mut w, host)?;
            }
            '`' | '$' => {
                let (text, next) = expansion(&chars, i - 1, host)?;
                i = next;
                w.push_split(&text);
            }
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                return Err(format!("shell operator `{c}` is not supported"));
            }
            _ => w.push(c),
        }
    }
    w.end();
    Ok(w.done)
}

/// Reads a double-quoted string starting after the opening quote; returns
/// the index after the closing quote.
fn double_quoted(
    chars: &[char],
    mut i: usize,
    w: &mut Words,
    host: &dyn Host,
) -> Result<usize, String> {
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated double quote".into());
        };
        i += 1;
        match c {
            '"' => return Ok(i),
            '\\' => match chars.get(i) {
                Some('\n') => i += 1,
                Some(&n @ ('$' | '`' | '"' | '\\')) => {
                    w.push(n);
                    i += 1;
                }
                _ => w.push('\\'),
            },
            '`' | '$' => {
                let (text, next) = expansion(chars, i - 1, host)?;
                i = next;
                for c in text.chars() {
                    w.push(c);
                }
            }
            _ => w.push(c),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the `$...` or backtick form at `chars[at]`; returns the text and
/// the index after it.
fn expansion(chars: &[char], at: usize, host: &dyn Host) -> Result<(String, usize), String> {
    let i = at + 1;
    if chars[at] == '`' {
        let mut cmd = String::new();
        let mut j = i;
        loop {
            match chars.get(j) {
                None => return Err("unterminated backquote".into()),
                Some('`') => break,
                Some('\\') if matches!(chars.get(j + 1), Some('`' | '\\' | '$')) => {
                    cmd.push(chars[j + 1]);
                    j += 2;
                }
                Some(&c) => {
                    cmd.push(c);
                    j += 1;
                }
            }
        }
        return Ok((host.command(&cmd)?, j + 1));
    }
    match chars.get(i) {
        Some('(') if chars.get(i + 1) == Some(&'(') => {
            Err("arithmetic expansion `$((...))` is not supported".into())
        }
        Some('(') => {
            let mut depth = 1;
            let mut j = i + 1;
            let mut quote: Option<char> = None;
            while depth > 0 {
                let c = *chars.get(j).ok_or("unterminated `$(`")?;
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '\'' | '"') => quote = Some(c),
                    (None, '(') => depth += 1,
                    (None, ')') => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            let cmd: String = chars[i + 1..j - 1].iter().collect();
            Ok((host.command(&cmd)?, j))
        }
        Some('{') => {
            let close = chars[i..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("unterminated `${`")?;
            let name: String = chars[i + 1..i + close].iter().collect();
            if name.is_empty() || !name.chars().all(is_name_char) {
                return Err(format!("`${{{name}}}` is not supported (only `${{NAME}}`)"));
            }
            Ok((host.variable(&name).unwrap_or_default(), i + close + 1))
        }
        Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
            let len = chars[i..].iter().take_while(|&&c| is_name_char(c)).count();
            let name: String = chars[i..i + len].iter().collect();
            Ok((host.variable(&name).unwrap_or_default(), i + len))
        }
        Some(&c) if !c.is_whitespace() && c != '"' => Err(format!(
            "`${c}` is not supported (only `$NAME`, `${{NAME}}`, `$(cmd)`)"
        )),
        // A lone `$` is literal.
        _ => Ok(("$".into(), i)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A host with canned answers: commands echo `<out:CMD>`, `MAX_SMP` is
    /// 8, `X` is `a b`, conditions hold when they contain `true`, and
    /// files come from a list.
    pub(crate) struct FakeHost {
        pub files: Vec<(String, String)>,
        pub images: bool,
    }

    impl Host for FakeHost {
        fn command(&self, cmd: &str) -> Result<String, String> {
            if cmd.contains("fail") {
                return Err(format!("cannot run `{cmd}`"));
            }
            Ok(format!("<out:{cmd}>"))
        }
        fn variable(&self, name: &str) -> Option<String> {
            match name {
                "MAX_SMP" => Some("8".into()),
                "X" => Some("a b".into()),
                _ => None,
            }
        }
        fn condition(&self, cond: &str) -> Result<bool, String> {
            Ok(cond.contains("true"))
        }
        fn read_file(&self, path: &str) -> Option<String> {
            self.files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, v)| v.clone())
        }
        fn exists(&self, _path: &std::path::Path) -> bool {
            self.images
        }
    }

    pub(crate) fn host() -> FakeHost {
        FakeHost {
            files: Vec::new(),
            images: true,
        }
    }

    fn words(s: &str) -> Vec<String> {
        split(s, &host()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn quoting() {
        assert_eq!(words("'cpuid'"), ["cpuid"]);
        assert_eq!(words("tscdeadline"), ["tscdeadline"]);
        assert_eq!(
            words("\"-pause_filter_test -svm_x\""),
            ["-pause_filter_test -svm_x"]
        );
        assert_eq!(words("  a\tb\n c  "), ["a", "b", "c"]);
        assert_eq!(words("a'b c'd"), ["ab cd"]);
        assert_eq!(words("''"), [""]);
        assert_eq!(words("\"\" x"), ["", "x"]);
        assert_eq!(words("a\\ b"), ["a b"]);
        assert_eq!(words("a\\\nb"), ["ab"]);
        assert_eq!(words("\"a\\\"b\\\\c\\d\""), ["a\"b\\c\\d"]);
        assert_eq!(words("'a\\b'"), ["a\\b"]);
        assert_eq!(words("\"ept_access*\""), ["ept_access*"]);
        assert_eq!(words("ept_access*"), ["ept_access*"]);
        assert_eq!(words("cost=$"), ["cost=$"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn expansions() {
        assert_eq!(
            words("\"10000000 `date +%s`\""),
            ["10000000 <out:date +%s>"]
        );
        assert_eq!(words("x`date`"), ["x<out:date>"]);
        assert_eq!(words("$(echo 1)"), ["<out:echo", "1>"]);
        assert_eq!(words("\"$(echo (1))\""), ["<out:echo (1)>"]);
        assert_eq!(words("$MAX_SMP"), ["8"]);
        assert_eq!(words("${MAX_SMP}x"), ["8x"]);
        assert_eq!(words("$X"), ["a", "b"]);
        assert_eq!(words("\"$X\""), ["a b"]);
        assert_eq!(words("$UNSET"), Vec::<String>::new());
        assert_eq!(words("\"$UNSET\""), [""]);
    }

    #[test]
    fn unsupported_and_malformed() {
        for (s, msg) in [
            ("'abc", "unterminated single quote"),
            ("\"abc", "unterminated double quote"),
            ("`date", "unterminated backquote"),
            ("$(date", "unterminated `$(`"),
            ("${X", "unterminated `${`"),
            ("$((1+2))", "arithmetic"),
            ("${X:-y}", "not supported"),
            ("$1", "not supported"),
            ("a; rm -rf /", "operator `;`"),
            ("a | b", "operator `|`"),
            ("`fail`", "cannot run"),
        ] {
            let e = split(s, &host()).unwrap_err();
            assert!(e.contains(msg), "{s:?}: {e}");
        }
    }
}
