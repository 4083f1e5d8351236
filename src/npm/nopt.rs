//! npm's argv parsing, ported from the code npm runs: `nopt`'s `parse`/`resolveShort` (nopt 8 and
//! 9 are identical there), the `abbrev` package, and `lib/utils/cmd-list.js`'s `deref` (camelCase
//! to kebab-case, then exact command, alias, or unique abbreviation of either). The option types,
//! shorthands, commands and aliases come from npm itself through the generated
//! [`super::tables`]. Pure: no I/O.
//!
//! The port keeps nopt's quirks, because npm obeys them: an unknown `--x` without `=` is a
//! boolean (`npm --x install` runs `install`), a `String` option does not take a following
//! `-y`/`--y`, other value types take any following word, `--bool=word` leaves `word` as a
//! positional, `-abc` expands single-letter shorthands, `--reg` is `--registry`. Where npm's
//! JavaScript would look a name up on `Object.prototype` (`--constructor`) the outcome is not
//! something lockgate can vouch for: [`Uncertain`].

use std::collections::HashMap;
use std::sync::OnceLock;

/// One npm version's command list and config option table (generated).
pub struct Table {
    pub version: &'static str,
    pub commands: &'static [&'static str],
    pub aliases: &'static [(&'static str, &'static str)],
    pub options: &'static [(&'static str, Ty)],
    pub shorthands: &'static [(&'static str, &'static [&'static str])],
}

/// What nopt's `parse` looks at in an option's type (one-element arrays are already collapsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Boolean,
    String,
    Null,
    /// Any other single type (path, url, Number, Date, semver, Umask, Array…): takes the next word.
    Other,
    Union(Union),
}

/// An array of types (`[null, Boolean, String]`, `["always", "never", String]`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Union {
    pub boolean: bool,
    pub string: bool,
    pub number: bool,
    pub null: bool,
    /// The literal string values it lists.
    pub values: &'static [&'static str],
}

/// A raw value as nopt's `parse` stores it (before `clean`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    Bool(bool),
    Null,
    Str(String),
}

impl Raw {
    /// The value as config's `clean` reads a boolean: `true`/`false`, or the strings of them.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Raw::Bool(b) => Some(*b),
            Raw::Str(s) if s.trim() == "true" => Some(true),
            Raw::Str(s) if s.trim() == "false" => Some(false),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Raw::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A word npm reads as a positional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Index of the argument it came from.
    pub arg: usize,
    /// It is that whole argument (not the tail of `--opt=word` or a shorthand's expansion).
    pub whole: bool,
}

/// nopt's reading of an argv.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `parsedArgv.remain`: the positionals, in order (including those after `--`).
    pub remain: Vec<Word>,
    /// Index of the argument that ended option parsing (`--`, `---`, …), if any.
    pub terminator: Option<usize>,
    /// Every option assignment in order: (canonical key, value).
    pub data: Vec<(String, Raw)>,
}

impl Parsed {
    /// The last value given for `key` (nopt keeps the last one for non-array options).
    pub fn last(&self, key: &str) -> Option<&Raw> {
        self.data
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Every value given for `key` (array options accumulate).
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Raw> + 'a {
        self.data
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.last(key).and_then(Raw::as_bool)
    }
}

/// npm's JavaScript would resolve this name on `Object.prototype`: its behaviour is not a parse
/// lockgate can reproduce, so the caller refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncertain(pub String);

const PROTO: &[&str] = &[
    "constructor",
    "__proto__",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

fn proto(name: &str) -> Result<(), Uncertain> {
    if PROTO.contains(&name) {
        return Err(Uncertain(name.to_string()));
    }
    Ok(())
}

/// The `abbrev` package: every unambiguous prefix of each word, and each word itself.
pub fn abbrev<'a>(words: impl IntoIterator<Item = &'a str>) -> HashMap<String, String> {
    let mut list: Vec<&str> = words.into_iter().collect();
    // JavaScript compares UTF-16 code units; npm's names are ASCII, where that is byte order.
    list.sort();
    let mut out = HashMap::new();
    let mut prev: &str = "";
    for (ii, &current) in list.iter().enumerate() {
        let next = list.get(ii + 1).copied().unwrap_or("");
        if current == next {
            continue;
        }
        let (cur, nb, pb) = (current.as_bytes(), next.as_bytes(), prev.as_bytes());
        let mut next_matches = true;
        let mut prev_matches = true;
        let cl = cur.len();
        let mut j = 0;
        while j < cl {
            let c = cur[j];
            next_matches = next_matches && nb.get(j) == Some(&c);
            prev_matches = prev_matches && pb.get(j) == Some(&c);
            if !next_matches && !prev_matches {
                j += 1;
                break;
            }
            j += 1;
        }
        prev = current;
        if j == cl {
            out.insert(current.to_string(), current.to_string());
            continue;
        }
        // Prefixes are cut at byte positions; npm's names are ASCII.
        for k in j..=cl {
            if let Some(a) = current.get(..k) {
                out.insert(a.to_string(), current.to_string());
            }
        }
    }
    out
}

/// A [`Table`] with the lookups nopt and `deref` compute.
/// Lookups are built on first use (a pass-through that gives no option builds none of the
/// abbreviation maps).
pub struct Npm {
    pub table: &'static Table,
    types: HashMap<&'static str, Ty>,
    shorthands: HashMap<&'static str, &'static [&'static str]>,
    abbrevs: OnceLock<HashMap<String, String>>,
    short_abbr: OnceLock<HashMap<String, String>>,
    singles: Vec<char>,
    aliases: HashMap<&'static str, &'static str>,
    cmd_abbrevs: OnceLock<HashMap<String, String>>,
}

/// The prepared table of generated npm version `i` (prepared once, on first use).
fn prepared(i: usize) -> &'static Npm {
    static SLOTS: OnceLock<Vec<OnceLock<Npm>>> = OnceLock::new();
    let tables = super::tables::TABLES;
    SLOTS.get_or_init(|| tables.iter().map(|_| OnceLock::new()).collect())[i]
        .get_or_init(|| Npm::new(&tables[i]))
}

/// Every generated npm version's table.
pub fn all() -> Vec<&'static Npm> {
    (0..super::tables::TABLES.len()).map(prepared).collect()
}

/// The table for npm `version` (same major), if lockgate has one.
pub fn for_version(version: &str) -> Option<&'static Npm> {
    let major = version.split('.').next()?;
    super::tables::TABLES
        .iter()
        .position(|t| t.version.split('.').next() == Some(major))
        .map(prepared)
}

#[derive(Debug, Clone)]
struct Tok {
    s: String,
    arg: usize,
    whole: bool,
}

/// `/^-{2,}$/`
fn all_dashes(s: &str) -> bool {
    s.len() >= 2 && s.bytes().all(|b| b == b'-')
}

/// `/^-{1,2}[^-]+/`
fn option_like(s: &str) -> bool {
    let d = s.bytes().take_while(|&b| b == b'-').count();
    (1..=2).contains(&d) && s.len() > d
}

/// `/^-[^-]/`
fn dash_nondash(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && b[1] != b'-'
}

/// `/^-{2,}[^-]/`
fn dashes_nondash(s: &str) -> bool {
    let d = s.bytes().take_while(|&b| b == b'-').count();
    d >= 2 && s.len() > d
}

/// JavaScript's `!isNaN(s)` for a string (`Number(s)` is not NaN).
fn js_numeric(s: &str) -> bool {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    for (p, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(d) = lower.strip_prefix(p) {
            return !d.is_empty() && d.chars().all(|c| c.is_digit(radix));
        }
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.starts_with(['+', '-']) {
        return false;
    }
    if body == "Infinity" {
        return true;
    }
    // Rust also accepts "inf"/"nan"; JavaScript does not.
    body.bytes().all(|b| {
        b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'+' || b == b'-'
    }) && body.parse::<f64>().is_ok()
}

impl Npm {
    fn new(table: &'static Table) -> Npm {
        let types: HashMap<_, _> = table.options.iter().copied().collect();
        let shorthands: HashMap<_, _> = table.shorthands.iter().copied().collect();
        let singles = table
            .shorthands
            .iter()
            .filter_map(|(k, _)| {
                let mut c = k.chars();
                match (c.next(), c.next()) {
                    (Some(ch), None) => Some(ch),
                    _ => None,
                }
            })
            .collect();
        let aliases: HashMap<_, _> = table.aliases.iter().copied().collect();
        Npm {
            table,
            types,
            shorthands,
            abbrevs: OnceLock::new(),
            short_abbr: OnceLock::new(),
            singles,
            aliases,
            cmd_abbrevs: OnceLock::new(),
        }
    }

    /// Every unambiguous prefix of every option name (nopt's `abbrevs`).
    fn abbrevs(&self) -> &HashMap<String, String> {
        self.abbrevs
            .get_or_init(|| abbrev(self.table.options.iter().map(|(k, _)| *k)))
    }

    fn short_abbr(&self) -> &HashMap<String, String> {
        self.short_abbr
            .get_or_init(|| abbrev(self.table.shorthands.iter().map(|(k, _)| *k)))
    }

    fn cmd_abbrevs(&self) -> &HashMap<String, String> {
        self.cmd_abbrevs.get_or_init(|| {
            abbrev(
                self.table
                    .commands
                    .iter()
                    .copied()
                    .chain(self.table.aliases.iter().map(|(a, _)| *a)),
            )
        })
    }

    /// The type npm gives option `key`, `None` when npm does not know it.
    pub fn ty(&self, key: &str) -> Option<Ty> {
        self.types.get(key).copied()
    }

    /// `cmd-list.js` `deref`: the command npm runs for the word typed, if any.
    pub fn deref(&self, c: &str) -> Result<Option<&'static str>, Uncertain> {
        if c.is_empty() {
            return Ok(None);
        }
        let c = if c.bytes().any(|b| b.is_ascii_uppercase()) {
            let mut s = String::new();
            for ch in c.chars() {
                if ch.is_ascii_uppercase() {
                    s.push('-');
                    s.push(ch.to_ascii_lowercase());
                } else {
                    s.push(ch);
                }
            }
            s
        } else {
            c.to_string()
        };
        proto(&c)?;
        if let Some(cmd) = self.table.commands.iter().find(|k| **k == c) {
            return Ok(Some(cmd));
        }
        if let Some(cmd) = self.aliases.get(c.as_str()) {
            return Ok(Some(cmd));
        }
        let Some(full) = self.cmd_abbrevs().get(&c) else {
            return Ok(None);
        };
        let mut a: &str = full;
        while let Some(t) = self.aliases.get(a) {
            a = t;
        }
        Ok(self.table.commands.iter().find(|k| **k == a).copied())
    }

    /// nopt's `resolveShort`.
    fn resolve_short(&self, arg: &str) -> Result<Option<Vec<String>>, Uncertain> {
        let arg = arg.trim_start_matches('-');
        proto(arg)?;
        if self.abbrevs().get(arg).is_some_and(|a| a == arg) {
            return Ok(None);
        }
        let expand = |a: &str| -> Option<Vec<String>> {
            self.shorthands
                .get(a)
                .map(|v| v.iter().map(|s| s.to_string()).collect())
        };
        if let Some(v) = expand(arg) {
            return Ok(Some(v));
        }
        if arg.chars().all(|c| self.singles.contains(&c)) {
            return Ok(Some(
                arg.chars()
                    .flat_map(|c| expand(&c.to_string()).unwrap_or_default())
                    .collect(),
            ));
        }
        if self.abbrevs().contains_key(arg) {
            return Ok(None);
        }
        let arg = self.short_abbr().get(arg).map_or(arg, String::as_str);
        Ok(expand(arg))
    }

    /// nopt's `parse` over npm's argv (without the program name).
    pub fn parse(&self, args: &[String]) -> Result<Parsed, Uncertain> {
        let mut toks: Vec<Tok> = args
            .iter()
            .enumerate()
            .map(|(i, s)| Tok {
                s: s.clone(),
                arg: i,
                whole: true,
            })
            .collect();
        let mut out = Parsed::default();
        let word = |t: &Tok| Word {
            text: t.s.clone(),
            arg: t.arg,
            whole: t.whole,
        };
        let mut i = 0usize;
        while i < toks.len() {
            let mut arg = toks[i].s.clone();
            if all_dashes(&arg) {
                out.terminator = Some(toks[i].arg);
                out.remain.extend(toks[i + 1..].iter().map(word));
                break;
            }
            if !(arg.starts_with('-') && arg.len() > 1) {
                out.remain.push(word(&toks[i]));
                i += 1;
                continue;
            }
            let mut had_eq = false;
            if let Some(at) = arg.find('=') {
                had_eq = true;
                let (a, v) = (arg[..at].to_string(), arg[at + 1..].to_string());
                let at_arg = toks[i].arg;
                let parts = [a.clone(), v].map(|s| Tok {
                    s,
                    arg: at_arg,
                    whole: false,
                });
                toks.splice(i..=i, parts);
                arg = a;
            }
            if let Some(exp) = self.resolve_short(&arg)? {
                let at_arg = toks[i].arg;
                let first = exp.first().cloned();
                let whole = toks[i].whole && exp.len() == 1 && first.as_deref() == Some(&arg);
                toks.splice(
                    i..=i,
                    exp.into_iter().map(|s| Tok {
                        s,
                        arg: at_arg,
                        whole,
                    }),
                );
                if first.as_deref() != Some(arg.as_str()) {
                    continue;
                }
            }
            let mut name = arg.trim_start_matches('-').to_string();
            let mut no: Option<bool> = None;
            while name.to_lowercase().starts_with("no-") {
                no = Some(!no.unwrap_or(false));
                name = name[3..].to_string();
            }
            proto(&name)?;
            if let Some(full) = self.abbrevs().get(&name) {
                name = full.clone();
            }
            let ty = self.ty(&name);
            let union = match ty {
                Some(Ty::Union(u)) => Some(u),
                _ => None,
            };
            let la: Option<String> = toks.get(i + 1).map(|t| t.s.clone());
            let is_bool = no.is_some()
                || ty == Some(Ty::Boolean)
                || union.is_some_and(|u| u.boolean)
                || (ty.is_none() && !had_eq)
                || (la.as_deref() == Some("false")
                    && (ty == Some(Ty::Null) || union.is_some_and(|u| u.null)));
            if is_bool {
                let mut val = Raw::Bool(no != Some(true));
                let mut la = la;
                if let Some(l @ ("true" | "false")) = la.as_deref() {
                    let mut b = l == "true";
                    if no == Some(true) {
                        b = !b;
                    }
                    val = Raw::Bool(b);
                    la = None;
                    i += 1;
                }
                if let (Some(u), Some(l)) = (union, la.as_deref().filter(|l| !l.is_empty())) {
                    if u.values.contains(&l) {
                        val = Raw::Str(l.to_string());
                        i += 1;
                    } else if l == "null" && u.null {
                        val = Raw::Null;
                        i += 1;
                    } else if (!dashes_nondash(l) && js_numeric(l) && u.number)
                        || (!dash_nondash(l) && u.string)
                    {
                        // A number (nopt stores `+la`; lockgate keeps the text) or a string.
                        val = Raw::Str(l.to_string());
                        i += 1;
                    }
                }
                out.data.push((name, val));
                i += 1;
                continue;
            }
            let mut la = la;
            let mut takes = true;
            if ty == Some(Ty::String) {
                match la.as_deref() {
                    None => la = Some(String::new()),
                    Some(l) if option_like(l) => {
                        la = Some(String::new());
                        takes = false;
                    }
                    _ => {}
                }
            }
            if la.as_deref().is_some_and(all_dashes) {
                la = None;
                takes = false;
            }
            out.data.push((name, la.map_or(Raw::Bool(true), Raw::Str)));
            i += if takes { 2 } else { 1 };
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npm11() -> &'static Npm {
        for_version("11.0.0").unwrap()
    }

    fn p(line: &str) -> Parsed {
        let a: Vec<String> = line.split_whitespace().map(String::from).collect();
        npm11().parse(&a).unwrap()
    }

    fn remain(line: &str) -> Vec<String> {
        p(line).remain.into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn abbrev_matches_the_package() {
        let a = abbrev(["install", "install-test", "init"]);
        assert!(!a.contains_key("ins"));
        assert_eq!(a["install"], "install");
        assert_eq!(a["install-"], "install-test");
        assert_eq!(a["ini"], "init");
        assert!(!a.contains_key("in"));
    }

    #[test]
    fn deref_is_npms() {
        let n = npm11();
        let d = |c| n.deref(c).unwrap();
        assert_eq!(d("install-cl"), Some("ci"));
        assert_eq!(d("installTest"), Some("install-test"));
        assert_eq!(d("cit"), Some("install-ci-test"));
        assert_eq!(d("insta"), Some("install"));
        assert_eq!(d("un"), Some("uninstall"));
        assert_eq!(d("nonsense"), None);
        assert!(n.deref("constructor").is_err());
    }

    #[test]
    fn nopt_quirks() {
        // An unknown option without `=` is a boolean; a known string option takes the word.
        assert_eq!(remain("--some-unknown ls install"), ["ls", "install"]);
        assert_eq!(remain("--prefix ls install"), ["install"]);
        assert_eq!(remain("--unknown=ls install"), ["install"]);
        // `--bool=word` leaves the word as a positional.
        assert_eq!(remain("--dry-run=install ci"), ["install", "ci"]);
        // A String option does not take an option-like word; other types take anything.
        assert_eq!(remain("--tag --foo ci"), ["ci"]);
        assert_eq!(
            p("--cache --ignore-scripts ci").last("cache"),
            Some(&Raw::Str("--ignore-scripts".into()))
        );
        // Abbreviated long options and glued single-letter shorthands.
        assert_eq!(p("--ignore-scr ci").flag("ignore-scripts"), Some(true));
        assert_eq!(p("-gf ci").flag("global"), Some(true));
        assert_eq!(
            p("--no-ignore-scripts ci").flag("ignore-scripts"),
            Some(false)
        );
        assert_eq!(
            p("--ignore-scripts false ci").flag("ignore-scripts"),
            Some(false)
        );
        let t = p("ci -- --registry=x");
        assert_eq!(t.terminator, Some(1));
        assert_eq!(t.remain.len(), 2);
        assert!(npm11().parse(&["--constructor".into()]).is_err());
    }
}

/// Differential tests against the real npm installations on this machine (npm on PATH and
/// `.tools/npm10`): their own `deref` and nopt `parse` (run by `tests/fixtures/npm-parity.js`)
/// must read every command word and a few thousand generated argvs exactly as this port does.
#[cfg(test)]
mod parity {
    use super::*;
    use serde_json::{json, Value};
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    fn roots() -> Vec<PathBuf> {
        let npm = Command::new("sh")
            .args(["-c", "readlink -f \"$(command -v npm)\""])
            .output()
            .expect("sh");
        let npm = PathBuf::from(String::from_utf8_lossy(&npm.stdout).trim());
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let roots = vec![
            npm.parent()
                .and_then(|p| p.parent())
                .expect("npm's root")
                .to_path_buf(),
            here.join(".tools/npm10/node_modules/npm"),
        ];
        for r in &roots {
            assert!(
                r.join("package.json").is_file(),
                "no npm at {} (scripts/setup-test-env.sh installs it)",
                r.display()
            );
        }
        roots
    }

    fn ask(root: &std::path::Path, words: &[String], argvs: &[Vec<String>]) -> Value {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npm-parity.js");
        let mut child = Command::new("node")
            .arg(script)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is needed for this test");
        let input = json!({"words": words, "argvs": argvs}).to_string();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Every command and alias, every prefix of them (abbreviations, ambiguous ones included),
    /// their camelCase forms, and some words npm does not know.
    fn words(cmds: &[String]) -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        for c in cmds {
            for k in 1..=c.len() {
                let p = &c[..k];
                w.push(p.to_string());
                if p.contains('-') {
                    let mut camel = String::new();
                    let mut up = false;
                    for ch in p.chars() {
                        if ch == '-' {
                            up = true;
                        } else if up {
                            camel.push(ch.to_ascii_uppercase());
                            up = false;
                        } else {
                            camel.push(ch);
                        }
                    }
                    w.push(camel);
                }
            }
            w.push(c.to_uppercase());
            w.push(format!("{c}x"));
        }
        w.extend(
            [
                "",
                "-",
                "Install",
                "iNSTALL",
                "ci-",
                "x-y",
                "npx",
                "constructor",
                "toString",
            ]
            .map(String::from),
        );
        w.sort();
        w.dedup();
        w
    }

    /// Argvs built from words that exercise nopt's rules (deterministic pseudo-random).
    fn argvs() -> Vec<Vec<String>> {
        const V: &[&str] = &[
            "install",
            "ci",
            "ls",
            "i",
            "x",
            "--",
            "---",
            "-",
            "--prefix",
            "--cache",
            "--tag",
            "--ignore-scripts",
            "--ignore-scripts=false",
            "--no-ignore-scripts",
            "--ignore-scr",
            "--unknown",
            "--unknown=ls",
            "--no-unknown=x",
            "-g",
            "-gf",
            "-w",
            "-C",
            "--dry-run=install",
            "false",
            "true",
            "null",
            "-x",
            "--x",
            "--reg",
            "--reg=http://r/",
            "--omit",
            "dev",
            "--yes",
            "-y",
            "--no-yes",
            "--yes=false",
            "--loglevel",
            "silly",
            "-dd",
            "--foo=--",
            "-=x",
            "--=y",
            "--@myorg:registry",
            "--@myorg:registry=http://i/",
            "http://x/",
            "-D",
            "--save-dev",
            "--before",
            "--proxy",
            "--replace-registry-host",
            "always",
            "--script-shell",
            "/bin/sh",
            "--workspace=a",
            "--location",
            "global",
            "-L",
            "--audit",
            "--no",
            "-h",
            "--usage",
            "--help",
            "-v",
            "--versions",
            "--access",
            "public",
            "--install-links",
            "--install-strategy",
            "--NO-audit",
            "--no-no-audit",
            "-qs",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        (0..4000)
            .map(|_| {
                let len = next(7);
                (0..len).map(|_| V[next(V.len())].to_string()).collect()
            })
            .collect()
    }

    /// The body of the generated table for npm major `major` (commands, aliases, options with
    /// their types, shorthands), from a `tables.rs` text.
    fn table_body(text: &str, major: &str) -> String {
        let start = text
            .find(&format!("version: \"{major}."))
            .unwrap_or_else(|| panic!("no npm {major} table"));
        let body = &text[start..];
        let body = &body[body.find("commands:").unwrap()..];
        body[..body.find("\n    }").unwrap()].to_string()
    }

    #[test]
    fn generated_tables_are_those_of_the_installed_npms() {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(here.join("src/npm/tables.rs")).unwrap();
        for root in roots() {
            let out = Command::new("node")
                .arg(here.join("scripts/gen-npm-tables.js"))
                .arg(&root)
                .output()
                .expect("node");
            assert!(out.status.success());
            let generated = String::from_utf8(out.stdout).unwrap();
            let version = generated
                .split("version: \"")
                .nth(1)
                .and_then(|v| v.split('.').next())
                .unwrap()
                .to_string();
            assert!(
                table_body(&committed, &version) == table_body(&generated, &version),
                "npm at {} has commands or options (or option types) src/npm/tables.rs does not: run `node scripts/gen-npm-tables.js --write` and classify new commands",
                root.display()
            );
        }
    }

    #[test]
    fn commands_and_argvs_read_as_the_real_npm_reads_them() {
        let argvs = argvs();
        for root in roots() {
            let first = ask(&root, &[], &[]);
            let version = first["version"].as_str().unwrap().to_string();
            let npm = for_version(&version)
                .unwrap_or_else(|| panic!("npm {version} ({}) has no generated table: run `node scripts/gen-npm-tables.js --write`", root.display()));
            let mut names: Vec<String> = Vec::new();
            for c in first["commands"].as_array().unwrap() {
                let c = c.as_str().unwrap();
                assert!(
                    crate::npm::classify::class_of(c).is_some(),
                    "npm {version} has the command `{c}`, which lockgate has not classified (src/npm/classify.rs)"
                );
                assert!(
                    npm.table.commands.contains(&c),
                    "npm {version}'s `{c}` is not in the generated table: regenerate it"
                );
                names.push(c.to_string());
            }
            names.extend(
                first["aliases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string()),
            );
            let words = words(&names);
            let real = ask(&root, &words, &argvs);
            let mut checked = 0;
            for w in &words {
                let theirs = real["words"][w].as_str();
                match npm.deref(w) {
                    Ok(ours) => {
                        assert_eq!(ours, theirs, "npm {version} resolves `{w}` to {theirs:?}")
                    }
                    Err(_) => assert_eq!(theirs, None, "`{w}`"),
                }
                checked += 1;
            }
            for (a, r) in argvs.iter().zip(real["argvs"].as_array().unwrap()) {
                let ours = npm.parse(a);
                if r.get("throws").is_some() {
                    assert!(ours.is_err(), "npm {version} throws on {a:?}");
                    continue;
                }
                let ours = ours.unwrap_or_else(|e| panic!("{a:?}: {e:?}"));
                let remain: Vec<&str> = ours.remain.iter().map(|w| w.text.as_str()).collect();
                let theirs: Vec<&str> = r["remain"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                assert_eq!(remain, theirs, "npm {version} positionals of {a:?}");
                let data = r["data"].as_object().unwrap();
                let mut keys: Vec<&str> = ours.data.iter().map(|(k, _)| k.as_str()).collect();
                keys.sort();
                keys.dedup();
                let mut their_keys: Vec<&str> = data.keys().map(String::as_str).collect();
                their_keys.sort();
                assert_eq!(keys, their_keys, "npm {version} options of {a:?}");
                for k in keys {
                    let v = match ours.last(k).unwrap() {
                        Raw::Bool(b) => b.to_string(),
                        Raw::Null => "null".into(),
                        Raw::Str(s) => s.clone(),
                    };
                    assert_eq!(
                        Some(v.as_str()),
                        data[k].as_str(),
                        "npm {version} `{k}` in {a:?}"
                    );
                }
                checked += 1;
            }
            eprintln!("npm {version}: {checked} words and argvs read the same");
        }
    }
}

/// What a pass-through pays for reading npm's argv in one process: preparing the tables
/// (abbreviations) and one parse. Run by hand (`cargo test --release --bin lockgate
/// npm::nopt::cost -- --ignored --nocapture`); it prints, it asserts nothing about time.
#[cfg(test)]
mod cost {
    #[test]
    #[ignore]
    fn table_preparation_and_one_classification() {
        let t = std::time::Instant::now();
        let tables: Vec<super::Npm> = super::super::tables::TABLES
            .iter()
            .map(super::Npm::new)
            .collect();
        let prepared = t.elapsed();
        let args: Vec<String> = ["--prefix", "x", "-w", "a", "run", "build"]
            .map(String::from)
            .to_vec();
        let t = std::time::Instant::now();
        for n in &tables {
            let p = n.parse(&args).unwrap();
            let _ = n.deref(&p.remain[0].text);
        }
        eprintln!(
            "prepare {} tables: {:?}; parse + deref with each: {:?}",
            tables.len(),
            prepared,
            t.elapsed()
        );
    }
}
