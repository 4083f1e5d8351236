//! node-semver's version ordering and range satisfaction, for the comparisons npm makes when it
//! decides whether a lockfile still satisfies package.json (`npm ci`'s sync check).
//!
//! npm's `@npmcli/arborist/lib/dep-valid.js` checks an edge with
//! `semver.satisfies(child.version, spec, true)` (loose), after treating `''` and `'*'` as "any
//! version". This module follows node-semver 7 (`classes/range.js`, `classes/comparator.js`,
//! `functions/satisfies.js`): `||` alternatives, hyphen ranges, x-ranges, `~`, `^`, comparators,
//! and the prerelease rule (a prerelease satisfies a set only if a comparator of that set names
//! the same `major.minor.patch` with a prerelease). Anything it cannot parse is "not a range", and
//! callers then fall back to comparing spec strings, which can only make lockgate stricter. Pure.

use std::cmp::Ordering;

/// One prerelease identifier: numeric ones sort numerically and before alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Alpha(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Alpha(_)) => Ordering::Less,
            (Ident::Alpha(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Alpha(a), Ident::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A full `major.minor.patch[-prerelease]` version (build metadata is dropped, as in node-semver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Ident>,
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&o.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn parse_pre(s: &str) -> Option<Vec<Ident>> {
    s.split('.')
        .map(|p| {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                None
            } else if p.chars().all(|c| c.is_ascii_digit()) {
                p.parse().ok().map(Ident::Num)
            } else {
                Some(Ident::Alpha(p.to_string()))
            }
        })
        .collect()
}

fn num(s: &str) -> Option<u64> {
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Splits `1.2.3-beta.1+build` into the numeric part and the prerelease (loose: `1.2.3beta` too).
fn split_pre(s: &str) -> (&str, Option<&str>) {
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    if let Some((v, pre)) = s.split_once('-') {
        return (v, Some(pre));
    }
    // loose: a prerelease glued to the patch number ("1.2.3beta")
    let idx = s
        .char_indices()
        .filter(|(_, c)| *c == '.')
        .nth(1)
        .and_then(|(i, _)| {
            s[i + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .filter(|j| *j > 0)
                .map(|j| i + 1 + j)
        });
    match idx {
        Some(i) if i < s.len() => (&s[..i], Some(&s[i..])),
        _ => (s, None),
    }
}

/// Parses a version as node-semver's loose mode does (`v1.2.3`, `=1.2.3`, ` 1.2.3 `).
pub fn parse_version(s: &str) -> Option<Version> {
    let s = s.trim().trim_start_matches('=').trim_start();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (nums, pre) = split_pre(s);
    let mut it = nums.split('.');
    let (major, minor, patch) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
    if it.next().is_some() {
        return None;
    }
    Some(Version {
        major,
        minor,
        patch,
        pre: match pre {
            Some(p) => parse_pre(p)?,
            None => Vec::new(),
        },
    })
}

/// node-semver's ordering of two version strings; unparseable ones sort first, by text.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse_version(a), parse_version(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    v: Version,
}

impl Comparator {
    fn test(&self, v: &Version) -> bool {
        let o = v.cmp(&self.v);
        match self.op {
            Op::Lt => o.is_lt(),
            Op::Le => o.is_le(),
            Op::Gt => o.is_gt(),
            Op::Ge => o.is_ge(),
            Op::Eq => o.is_eq(),
        }
    }
}

/// A partial version: `1`, `1.2`, `1.x`, `*`, `1.2.3-pre`.
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Vec<Ident>,
}

fn parse_partial(s: &str) -> Option<Partial> {
    let s = s.trim_start_matches('=');
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (nums, pre) = split_pre(s);
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let x = |p: Option<&&str>| -> Option<Option<u64>> {
        match p {
            None => Some(None),
            Some(&"x" | &"X" | &"*") => Some(None),
            Some(n) => num(n).map(Some),
        }
    };
    let (major, minor, patch) = (x(parts.first())?, x(parts.get(1))?, x(parts.get(2))?);
    // "1.x.3" is read as "1.x" by node-semver; a number after a wildcard means nothing more.
    let (minor, patch) = match (major, minor) {
        (None, _) => (None, None),
        (_, None) => (None, None),
        _ => (minor, patch),
    };
    let pre = match pre {
        Some(p) if patch.is_some() => parse_pre(p)?,
        Some(_) => return None,
        None => Vec::new(),
    };
    Some(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn ver(major: u64, minor: u64, patch: u64, pre: Vec<Ident>) -> Version {
    Version {
        major,
        minor,
        patch,
        pre,
    }
}

/// `-0`: the lowest prerelease, used by node-semver for exclusive upper bounds.
fn zero() -> Vec<Ident> {
    vec![Ident::Num(0)]
}

fn c(op: Op, v: Version) -> Comparator {
    Comparator { op, v }
}

/// Nothing matches (`<0.0.0-0`).
fn none() -> Vec<Comparator> {
    vec![c(Op::Lt, ver(0, 0, 0, zero()))]
}

fn tilde(p: Partial) -> Vec<Comparator> {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => Vec::new(),
        (Some(m), None, _) => vec![
            c(Op::Ge, ver(m, 0, 0, vec![])),
            c(Op::Lt, ver(m + 1, 0, 0, zero())),
        ],
        (Some(m), Some(n), None) => vec![
            c(Op::Ge, ver(m, n, 0, vec![])),
            c(Op::Lt, ver(m, n + 1, 0, zero())),
        ],
        (Some(m), Some(n), Some(p2)) => vec![
            c(Op::Ge, ver(m, n, p2, p.pre)),
            c(Op::Lt, ver(m, n + 1, 0, zero())),
        ],
    }
}

fn caret(p: Partial) -> Vec<Comparator> {
    match (p.major, p.minor, p.patch) {
        (None, _, _) => Vec::new(),
        (Some(m), None, _) => vec![
            c(Op::Ge, ver(m, 0, 0, vec![])),
            c(Op::Lt, ver(m + 1, 0, 0, zero())),
        ],
        (Some(m), Some(n), None) => {
            let upper = if m == 0 {
                ver(0, n + 1, 0, zero())
            } else {
                ver(m + 1, 0, 0, zero())
            };
            vec![c(Op::Ge, ver(m, n, 0, vec![])), c(Op::Lt, upper)]
        }
        (Some(m), Some(n), Some(q)) => {
            let upper = if m != 0 {
                ver(m + 1, 0, 0, zero())
            } else if n != 0 {
                ver(0, n + 1, 0, zero())
            } else {
                ver(0, 0, q + 1, zero())
            };
            vec![c(Op::Ge, ver(m, n, q, p.pre)), c(Op::Lt, upper)]
        }
    }
}

/// A primitive comparator or bare x-range (`>=1.2`, `<1`, `1.2.x`, `1.2.3`).
fn primitive(op: &str, p: Partial) -> Vec<Comparator> {
    let (Some(m), minor, patch) = (p.major, p.minor, p.patch) else {
        return match op {
            "<" | ">" => none(),
            _ => Vec::new(),
        };
    };
    if let (Some(n), Some(q)) = (minor, patch) {
        let v = ver(m, n, q, p.pre);
        let op = match op {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => Op::Eq,
        };
        return vec![c(op, v)];
    }
    // x-range: the lowest and the next version above the named part.
    let (low, next) = match minor {
        None => (ver(m, 0, 0, vec![]), ver(m + 1, 0, 0, vec![])),
        Some(n) => (ver(m, n, 0, vec![]), ver(m, n + 1, 0, vec![])),
    };
    let below = |v: Version| ver(v.major, v.minor, v.patch, zero());
    match op {
        ">" => vec![c(Op::Ge, next)],
        ">=" => vec![c(Op::Ge, low)],
        "<" => vec![c(Op::Lt, below(low))],
        "<=" => vec![c(Op::Lt, below(next))],
        _ => vec![c(Op::Ge, low), c(Op::Lt, below(next))],
    }
}

fn hyphen(a: Partial, b: Partial) -> Vec<Comparator> {
    let mut out = match (a.major, a.minor, a.patch) {
        (None, _, _) => Vec::new(),
        (Some(m), n, q) => vec![c(
            Op::Ge,
            ver(
                m,
                n.unwrap_or(0),
                q.unwrap_or(0),
                if q.is_some() { a.pre } else { vec![] },
            ),
        )],
    };
    match (b.major, b.minor, b.patch) {
        (None, _, _) => {}
        (Some(m), None, _) => out.push(c(Op::Lt, ver(m + 1, 0, 0, zero()))),
        (Some(m), Some(n), None) => out.push(c(Op::Lt, ver(m, n + 1, 0, zero()))),
        (Some(m), Some(n), Some(q)) => out.push(c(Op::Le, ver(m, n, q, b.pre))),
    }
    out
}

/// One comparator set (the part between `||`); `None` when it does not parse.
fn parse_set(s: &str) -> Option<Vec<Comparator>> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once(" - ") {
        return Some(hyphen(parse_partial(a.trim())?, parse_partial(b.trim())?));
    }
    // Join an operator separated from its version by spaces (`>= 1.2.3`).
    let mut tokens: Vec<String> = Vec::new();
    let mut pending = String::new();
    for t in s.split_whitespace() {
        if t.chars().all(|ch| "<>=~^".contains(ch)) {
            pending.push_str(t);
            continue;
        }
        tokens.push(format!("{pending}{t}"));
        pending.clear();
    }
    if !pending.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for t in tokens {
        let t = t.as_str();
        let parsed = if let Some(r) = t.strip_prefix("~>").or_else(|| t.strip_prefix('~')) {
            tilde(parse_partial(r.trim_start_matches('='))?)
        } else if let Some(r) = t.strip_prefix('^') {
            caret(parse_partial(r)?)
        } else {
            let op_len = t.find(|ch: char| !"<>=".contains(ch)).unwrap_or(t.len());
            let (op, rest) = t.split_at(op_len);
            if !matches!(op, "" | "=" | "<" | "<=" | ">" | ">=") {
                return None;
            }
            primitive(op, parse_partial(rest)?)
        };
        out.extend(parsed);
    }
    Some(out)
}

/// A parsed range: alternatives of comparator sets.
#[derive(Debug, Clone)]
pub struct Range(Vec<Vec<Comparator>>);

/// Parses a node-semver range; `None` when it is not one (a tag, a URL, a path…).
pub fn parse_range(s: &str) -> Option<Range> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Range(vec![Vec::new()]));
    }
    s.split("||")
        .map(parse_set)
        .collect::<Option<Vec<_>>>()
        .map(Range)
}

impl Range {
    pub fn satisfied_by(&self, v: &Version) -> bool {
        self.0.iter().any(|set| test_set(set, v))
    }
}

fn test_set(set: &[Comparator], v: &Version) -> bool {
    if !set.iter().all(|c| c.test(v)) {
        return false;
    }
    if v.pre.is_empty() {
        return true;
    }
    set.iter().any(|c| {
        !c.v.pre.is_empty() && (c.v.major, c.v.minor, c.v.patch) == (v.major, v.minor, v.patch)
    })
}

/// `semver.satisfies(version, range, true)` with dep-valid.js's `''`/`'*'` shortcut.
/// `None` when `range` is not a semver range (the caller decides what that means).
pub fn satisfies(version: &str, range: &str) -> Option<bool> {
    if matches!(range.trim(), "" | "*") {
        return Some(true);
    }
    let r = parse_range(range)?;
    Some(parse_version(version).is_some_and(|v| r.satisfied_by(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sat(v: &str, r: &str) -> bool {
        satisfies(v, r).unwrap_or_else(|| panic!("{r} should parse"))
    }

    #[test]
    fn ordering() {
        use Ordering::*;
        assert_eq!(compare("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare("2.0.0-rc.1", "2.0.0"), Less);
        assert_eq!(compare("1.0.0-alpha", "1.0.0-alpha.1"), Less);
        assert_eq!(compare("1.0.0-alpha.beta", "1.0.0-beta"), Less);
        assert_eq!(compare("1.0.0-beta.2", "1.0.0-beta.11"), Less);
        assert_eq!(compare("1.0.0-rc.1", "1.0.0-beta.11"), Greater);
        assert_eq!(compare("1.0.0+build", "1.0.0"), Equal);
        assert_eq!(compare("v1.2.3", "1.2.3"), Equal);
    }

    // Cases from node-semver's test/fixtures/range-include.js and range-exclude.js.
    #[test]
    fn includes() {
        for (r, v) in [
            ("1.0.0 - 2.0.0", "1.2.3"),
            ("^1.2.3+build", "1.3.0"),
            ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"),
            ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"),
            ("1.0.0", "1.0.0"),
            (">=*", "0.2.4"),
            ("*", "1.2.3"),
            (">=1.0.0", "1.0.0"),
            (">1.0.0", "1.1.0"),
            ("<=2.0.0", "2.0.0"),
            ("<2.0.0", "0.2.9"),
            (">= 1.0.0", "1.0.0"),
            (">=  1.0.0", "1.0.1"),
            ("> 1.0.0", "1.0.1"),
            ("<=   2.0.0", "1.9999.9999"),
            ("0.1.20 || 1.2.4", "1.2.4"),
            (">=0.2.3 || <0.0.1", "0.0.0"),
            ("||", "1.3.4"),
            ("2.x.x", "2.1.3"),
            ("1.2.x", "1.2.3"),
            ("1.2.x || 2.x", "2.1.3"),
            ("x", "1.2.3"),
            ("2.*.*", "2.1.3"),
            ("2", "2.1.2"),
            ("2.3", "2.3.1"),
            ("~0.0.1", "0.0.2"),
            ("~2.4", "2.4.5"),
            ("~>3.2.1", "3.2.2"),
            ("~1", "1.2.3"),
            ("~> 1", "1.2.3"),
            ("~1.0", "1.0.2"),
            ("~ 1.0", "1.0.2"),
            ("~ 1.0.3", "1.0.12"),
            (">=1", "1.0.0"),
            (">= 1", "1.0.0"),
            ("<1.2", "1.1.1"),
            ("~v0.5.4-pre", "0.5.5"),
            ("~v0.5.4-pre", "0.5.4"),
            ("=0.7.x", "0.7.2"),
            ("<=0.7.x", "0.7.2"),
            (">=0.7.x", "0.7.2"),
            ("<=0.7.x", "0.6.2"),
            ("~1.2.1 >=1.2.3", "1.2.3"),
            (">=1.2.1 1.2.3", "1.2.3"),
            ("^1.2.3", "1.8.1"),
            ("^0.1.2", "0.1.2"),
            ("^0.1", "0.1.2"),
            ("^0.0.1", "0.0.1"),
            ("^1.2", "1.4.2"),
            ("^1.2 ^1", "1.4.2"),
            ("^1.2.3-alpha", "1.2.3-pre"),
            ("^1.2.0-alpha", "1.2.0-pre"),
            ("^0.0.1-alpha", "0.0.1-beta"),
            ("^0.1.1-alpha", "0.1.1-beta"),
            ("^x", "1.2.3"),
            ("x - 1.0.0", "0.9.7"),
            ("x - 1.x", "0.9.7"),
            ("1.0.0 - x", "1.9.7"),
            ("1.x - x", "1.9.7"),
            ("<=7.x", "7.9.9"),
            ("", "1.0.0"),
        ] {
            assert!(sat(v, r), "{v} should satisfy {r}");
        }
    }

    #[test]
    fn excludes() {
        for (r, v) in [
            ("1.0.0 - 2.0.0", "2.2.3"),
            ("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"),
            ("^1.2.3+build", "2.0.0"),
            ("^1.2.3+build", "1.2.0"),
            ("^1.2.3", "1.2.3-pre"),
            ("^1.2", "1.2.0-pre"),
            (">1.2", "1.3.0-beta"),
            ("<=1.2.3", "1.2.3-beta"),
            ("^1.2.3", "1.2.3-beta"),
            ("=0.7.x", "0.7.0-asdf"),
            (">=0.7.x", "0.7.0-asdf"),
            ("<=0.7.x", "0.7.0-asdf"),
            ("1", "1.0.0beta"),
            ("<1", "1.0.0beta"),
            ("< 1", "1.0.0beta"),
            ("1.0.0", "1.0.1"),
            (">=1.0.0", "0.0.0"),
            (">=1.0.0", "0.0.1"),
            (">1.0.0", "1.0.0"),
            ("<=2.0.0", "3.0.0"),
            ("<2.0.0", "2.0.0"),
            ("0.1.20 || 1.2.4", "1.2.3"),
            (">=0.2.3 || <0.0.1", "0.0.3"),
            ("2.x.x", "1.1.3"),
            ("2.x.x", "3.1.3"),
            ("1.2.x", "1.3.3"),
            ("1.2.x || 2.x", "3.1.3"),
            ("2.*.*", "1.1.3"),
            ("2", "1.1.2"),
            ("2.3", "2.4.1"),
            ("~0.0.1", "0.1.0-alpha"),
            ("~0.0.1", "0.1.0"),
            ("~2.4", "2.5.0"),
            ("~>3.2.1", "3.3.2"),
            ("~1", "2.2.3"),
            ("~1.0", "1.1.0"),
            ("<1", "1.0.0"),
            (">=1.2", "1.1.1"),
            ("~v0.5.4-beta", "0.5.4-alpha"),
            ("=0.7.x", "0.8.2"),
            (">=0.7.x", "0.6.2"),
            ("<0.7.x", "0.7.2"),
            ("<1.2.3", "1.2.3-beta"),
            ("=1.2.3", "1.2.3-beta"),
            (">1.2", "1.2.8"),
            ("^0.0.1", "0.0.2"),
            ("^1.2.3", "2.0.0-alpha"),
            ("^1.2.3", "1.2.2"),
            ("^1.2", "1.1.9"),
            ("^0.1.2", "0.2.0"),
            ("^0.0.1-alpha", "0.0.2"),
            ("^1.2.3-beta", "2.0.0"),
            ("1.x - 1.2", "1.3.0"),
            (">*", "1.0.0"),
            ("<*", "1.0.0"),
        ] {
            assert!(!sat(v, r), "{v} should not satisfy {r}");
        }
    }

    #[test]
    fn star_and_empty_accept_prereleases_as_dep_valid_does() {
        assert!(sat("1.0.0-beta", "*"));
        assert!(sat("1.0.0-beta", ""));
    }

    #[test]
    fn non_ranges() {
        for s in [
            "latest",
            "npm:left-pad@1",
            "file:../a",
            "github:o/r",
            "https://x/y.tgz",
        ] {
            assert!(satisfies("1.0.0", s).is_none(), "{s}");
        }
    }
}
