//! PEP 440 versions and version specifiers: the subset lockgate needs to evaluate environment
//! markers (`python_version >= "3.8"`), `Requires-Python` of index files and pylock entries, and
//! to tell whether a requirement is pinned (`==1.0`, `===1.0`).
//!
//! Semantics follow `packaging` (the library pip vendors) as used for markers: pre-releases
//! always match, local labels are ignored except by `==` with a local label, `<V` excludes
//! pre-releases of V and `>V` excludes post-releases and local builds of V. Where packaging
//! changed (22.0: prefix matching pads the candidate before shortening it, so `1.0a1` matches
//! `==1.0.0.*`), this follows current packaging rather than the 21.3 that pip 23.2 vendors;
//! non-PEP 440 ("legacy") versions are rejected, as packaging does since 22.0.

use std::cmp::Ordering;
use std::fmt;

/// A version string or specifier that is not valid PEP 440.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("{text:?} is not a valid version (PEP 440)")]
    Version { text: String },
    #[error("{text:?} is not a valid version specifier: {why}")]
    Specifier { text: String, why: &'static str },
}

/// Pre-release kind, in PEP 440 order (`a` < `b` < `rc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreKind {
    Alpha,
    Beta,
    Rc,
}

/// One dot-separated part of a local version label (`+ubuntu.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPart {
    Number(u64),
    Text(String),
}

impl Ord for LocalPart {
    /// Numbers compare numerically, text case-insensitively (stored lower-case), and a number
    /// is always greater than text.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalPart::Number(a), LocalPart::Number(b)) => a.cmp(b),
            (LocalPart::Text(a), LocalPart::Text(b)) => a.cmp(b),
            (LocalPart::Number(_), LocalPart::Text(_)) => Ordering::Greater,
            (LocalPart::Text(_), LocalPart::Number(_)) => Ordering::Less,
        }
    }
}

impl PartialOrd for LocalPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed PEP 440 version. Equality and ordering are PEP 440's (`1.0 == 1.0.0`), and
/// `Display` prints the normalized form (`1.0-RC1` → `1.0rc1`).
#[derive(Debug, Clone)]
pub struct Version {
    pub epoch: u64,
    pub release: Vec<u64>,
    pub pre: Option<(PreKind, u64)>,
    pub post: Option<u64>,
    pub dev: Option<u64>,
    pub local: Vec<LocalPart>,
}

impl Version {
    /// Parses any spelling PEP 440 accepts (`v1.0`, `1.0-1`, `1.0.post1`, `2!1.0a1.dev3+x.7`,
    /// surrounding whitespace, any case).
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let invalid = || VersionError::Version {
            text: text.to_string(),
        };
        let lower = text.trim().to_ascii_lowercase();
        let (public, local) = match lower.split_once('+') {
            Some((public, local)) => (public, Some(local)),
            None => (lower.as_str(), None),
        };
        let mut s = Scanner {
            rest: public.strip_prefix('v').unwrap_or(public),
        };

        let first = s.number().ok_or_else(invalid)?;
        let (epoch, first) = if s.eat("!") {
            (first, s.number().ok_or_else(invalid)?)
        } else {
            (0, first)
        };
        let mut release = vec![first];
        while s.rest.starts_with('.') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            s.eat(".");
            release.push(s.number().ok_or_else(invalid)?);
        }

        let pre = s.labelled(&[
            ("alpha", PreKind::Alpha),
            ("a", PreKind::Alpha),
            ("beta", PreKind::Beta),
            ("b", PreKind::Beta),
            ("preview", PreKind::Rc),
            ("pre", PreKind::Rc),
            ("rc", PreKind::Rc),
            ("c", PreKind::Rc),
        ]);
        let post =
            if s.rest.starts_with('-') && s.rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                s.eat("-");
                s.number()
            } else {
                s.labelled(&[("post", ()), ("rev", ()), ("r", ())])
                    .map(|((), n)| n)
            };
        let dev = s.labelled(&[("dev", ())]).map(|((), n)| n);
        if !s.rest.is_empty() {
            return Err(invalid());
        }

        let local = match local {
            None => Vec::new(),
            Some(label) => {
                let parts: Vec<&str> = label.split(['.', '-', '_']).collect();
                if parts
                    .iter()
                    .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
                {
                    return Err(invalid());
                }
                parts
                    .into_iter()
                    .map(|p| match p.parse() {
                        Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => LocalPart::Number(n),
                        _ => LocalPart::Text(p.to_string()),
                    })
                    .collect()
            }
        };
        Ok(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// A pre-release or development release (`1.0a1`, `1.0.dev0`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The same version without its local label.
    pub fn public(&self) -> Version {
        Version {
            local: Vec::new(),
            ..self.clone()
        }
    }

    /// Epoch and release only (`1!2.0rc1.post3` → `1!2.0`).
    fn base(&self) -> Version {
        Version {
            epoch: self.epoch,
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    /// `packaging`'s sort key: release without trailing zeros, a dev-only release before all
    /// pre-releases, no pre-release after all of them, no post before any, no dev after any.
    fn key(&self) -> SortKey<'_> {
        let trimmed = match self.release.iter().rposition(|&n| n != 0) {
            Some(last) => &self.release[..=last],
            None => &[],
        };
        let pre = match self.pre {
            Some((kind, n)) => (1, kind, n),
            None if self.post.is_none() && self.dev.is_some() => (0, PreKind::Alpha, 0),
            None => (2, PreKind::Alpha, 0),
        };
        let post = (self.post.is_some(), self.post.unwrap_or(0));
        let dev = (self.dev.is_none(), self.dev.unwrap_or(0));
        (self.epoch, trimmed, pre, post, dev, &self.local)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((kind, n)) = self.pre {
            let label = match kind {
                PreKind::Alpha => "a",
                PreKind::Beta => "b",
                PreKind::Rc => "rc",
            };
            write!(f, "{label}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        for (i, part) in self.local.iter().enumerate() {
            f.write_str(if i == 0 { "+" } else { "." })?;
            match part {
                LocalPart::Number(n) => write!(f, "{n}")?,
                LocalPart::Text(t) => f.write_str(t)?,
            }
        }
        Ok(())
    }
}

/// See `Version::key`.
type SortKey<'a> = (
    u64,
    &'a [u64],
    (u8, PreKind, u64),
    (bool, u64),
    (bool, u64),
    &'a [LocalPart],
);

/// Cursor over the public part of a lower-cased version string.
struct Scanner<'a> {
    rest: &'a str,
}

impl Scanner<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn number(&mut self) -> Option<u64> {
        let end = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        let n = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(n)
    }

    /// `[-_.]? label [-_.]? number?` for the first matching label (longest listed first).
    fn labelled<T: Copy>(&mut self, labels: &[(&str, T)]) -> Option<(T, u64)> {
        let after_sep = self.rest.strip_prefix(['-', '_', '.']).unwrap_or(self.rest);
        let (value, rest) = labels
            .iter()
            .find_map(|(label, value)| Some((*value, after_sep.strip_prefix(label)?)))?;
        self.rest = rest;
        let before_number = self.rest;
        if !(self.eat("-") || self.eat("_") || self.eat("."))
            || !self.rest.starts_with(|c: char| c.is_ascii_digit())
        {
            self.rest = before_number;
        }
        Some((value, self.number().unwrap_or(0)))
    }
}

/// Comparison operator of a version specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `~=`
    Compatible,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<=`
    LessEqual,
    /// `>=`
    GreaterEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Operator::Compatible => "~=",
            Operator::Equal => "==",
            Operator::NotEqual => "!=",
            Operator::LessEqual => "<=",
            Operator::GreaterEqual => ">=",
            Operator::Less => "<",
            Operator::Greater => ">",
        }
    }
}

/// One version specifier clause such as `>=3.8`, `==2.*` or `===1.0-custom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Specifier {
    /// `===text`: case-insensitive string identity, no PEP 440 meaning.
    Arbitrary(String),
    Compare {
        op: Operator,
        version: Version,
        /// `==1.2.*` / `!=1.2.*`: prefix match on the release.
        wildcard: bool,
    },
}

/// Operators longest first, so `===` is not read as `==` followed by `=`.
const OPERATORS: [(&str, Option<Operator>); 8] = [
    ("===", None),
    ("~=", Some(Operator::Compatible)),
    ("==", Some(Operator::Equal)),
    ("!=", Some(Operator::NotEqual)),
    ("<=", Some(Operator::LessEqual)),
    (">=", Some(Operator::GreaterEqual)),
    ("<", Some(Operator::Less)),
    (">", Some(Operator::Greater)),
];

impl Specifier {
    /// Parses one clause, applying PEP 440's per-operator rules (wildcards and local labels
    /// only with `==`/`!=`, `~=` needs two release numbers and no local label).
    pub fn parse(text: &str) -> Result<Specifier, VersionError> {
        let err = |why| VersionError::Specifier {
            text: text.trim().to_string(),
            why,
        };
        let trimmed = text.trim();
        let (op, rest) = OPERATORS
            .iter()
            .find_map(|(sym, op)| Some((*op, trimmed.strip_prefix(sym)?.trim_start())))
            .ok_or_else(|| err("it must start with one of ~= == != <= >= < > ==="))?;
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(err("expected one version after the operator"));
        }
        let Some(op) = op else {
            return Ok(Specifier::Arbitrary(rest.to_string()));
        };
        let (number, wildcard) = match rest.strip_suffix(".*") {
            Some(number) => (number, true),
            None => (rest, false),
        };
        let version =
            Version::parse(number).map_err(|_| err("the version is not valid PEP 440"))?;
        let equality = matches!(op, Operator::Equal | Operator::NotEqual);
        if wildcard && (!equality || version.dev.is_some() || !version.local.is_empty()) {
            return Err(err(
                "a .* wildcard is only allowed with == or != and without .dev or +local",
            ));
        }
        if !version.local.is_empty() && !equality {
            return Err(err("a +local label is only allowed with == or !="));
        }
        if op == Operator::Compatible && version.release.len() < 2 {
            return Err(err("~= needs at least two release numbers, as in ~=1.4"));
        }
        Ok(Specifier::Compare {
            op,
            version,
            wildcard,
        })
    }

    /// Whether `candidate` satisfies this clause (pre-releases allowed).
    pub fn contains(&self, candidate: &Version) -> bool {
        let (op, spec, wildcard) = match self {
            Specifier::Arbitrary(text) => return candidate.to_string().eq_ignore_ascii_case(text),
            Specifier::Compare {
                op,
                version,
                wildcard,
            } => (*op, version, *wildcard),
        };
        let public = candidate.public();
        match op {
            Operator::Equal | Operator::NotEqual => {
                let equal = if wildcard {
                    prefix_match(&public, spec)
                } else if spec.local.is_empty() {
                    &public == spec
                } else {
                    candidate == spec
                };
                equal == (op == Operator::Equal)
            }
            Operator::Compatible => {
                let prefix = Version {
                    release: spec.release[..spec.release.len() - 1].to_vec(),
                    ..spec.base()
                };
                &public >= spec && prefix_match(&public, &prefix)
            }
            Operator::LessEqual => &public <= spec,
            Operator::GreaterEqual => &public >= spec,
            Operator::Less => {
                let same_base = candidate.base() == spec.base();
                let pre_of_spec = same_base && candidate.is_prerelease() && !spec.is_prerelease();
                candidate < spec && !pre_of_spec
            }
            Operator::Greater => {
                let same_base = candidate.base() == spec.base();
                let post_of_spec = same_base && candidate.post.is_some() && spec.post.is_none();
                let local_of_spec = same_base && !candidate.local.is_empty();
                candidate > spec && !post_of_spec && !local_of_spec
            }
        }
    }
}

/// `packaging`'s prefix match for `==spec.*`: compare the dot-split token lists (epoch,
/// release padded with zeros, then `a1`/`post1`/`dev1` tokens) up to the spec's length.
fn prefix_match(candidate: &Version, spec: &Version) -> bool {
    fn tokens(v: &Version, pad_release_to: usize) -> Vec<String> {
        let mut out = vec![v.epoch.to_string()];
        out.extend(v.release.iter().map(u64::to_string));
        out.extend(std::iter::repeat_n(
            "0".to_string(),
            pad_release_to.saturating_sub(v.release.len()),
        ));
        let suffixes = Version {
            epoch: 0,
            release: vec![0],
            local: Vec::new(),
            ..v.clone()
        }
        .to_string();
        // "0a1.post2.dev3" → ["a1", "post2", "dev3"]
        out.extend(
            suffixes[1..]
                .split('.')
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        );
        out
    }
    let want = tokens(spec, 0);
    let have = tokens(candidate, spec.release.len());
    have.len() >= want.len() && have[..want.len()] == want[..]
}

impl fmt::Display for Specifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Specifier::Arbitrary(text) => write!(f, "==={text}"),
            Specifier::Compare {
                op,
                version,
                wildcard,
            } => {
                write!(
                    f,
                    "{}{version}{}",
                    op.as_str(),
                    if *wildcard { ".*" } else { "" }
                )
            }
        }
    }
}

/// A comma-separated list of clauses that must all hold (`>=3.8, !=3.9.*`); empty matches all.
/// Deserializes from a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct SpecifierSet(pub Vec<Specifier>);

impl TryFrom<String> for SpecifierSet {
    type Error = VersionError;

    fn try_from(text: String) -> Result<SpecifierSet, VersionError> {
        SpecifierSet::parse(&text)
    }
}

impl SpecifierSet {
    /// Parses `>=1.0, <2` (a trailing comma is allowed, as in PEP 508's grammar).
    pub fn parse(text: &str) -> Result<SpecifierSet, VersionError> {
        let mut clauses: Vec<&str> = text.split(',').collect();
        if clauses.last().is_some_and(|c| c.trim().is_empty()) {
            clauses.pop();
        }
        clauses
            .into_iter()
            .map(Specifier::parse)
            .collect::<Result<_, _>>()
            .map(SpecifierSet)
    }

    pub fn contains(&self, candidate: &Version) -> bool {
        self.0.iter().all(|s| s.contains(candidate))
    }

    /// The exact version this set pins, if it is a single `==V` (no wildcard) or `===V`:
    /// what `pip --require-hashes` accepts as pinned.
    pub fn pinned(&self) -> Option<String> {
        match self.0.as_slice() {
            [Specifier::Arbitrary(text)] => Some(text.clone()),
            [Specifier::Compare {
                op: Operator::Equal,
                version,
                wildcard: false,
            }] => Some(version.to_string()),
            _ => None,
        }
    }
}

impl fmt::Display for SpecifierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clauses: Vec<String> = self.0.iter().map(Specifier::to_string).collect();
        f.write_str(&clauses.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn holds(spec: &str, version: &str) -> bool {
        SpecifierSet::parse(spec).unwrap().contains(&v(version))
    }

    #[test]
    fn normalizes_spellings() {
        for (input, normal) in [
            ("1.0", "1.0"),
            ("v1.0", "1.0"),
            (" 1.0 ", "1.0"),
            ("1.0-RC1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0.preview.2", "1.0rc2"),
            ("1.0alpha", "1.0a0"),
            ("1.0.beta-3", "1.0b3"),
            ("1.0-1", "1.0.post1"),
            ("1.0.rev", "1.0.post0"),
            ("1.0r4", "1.0.post4"),
            ("1.0-dev", "1.0.dev0"),
            (
                "2!1.0a1.post2.dev3+Ubuntu-1.7",
                "2!1.0a1.post2.dev3+ubuntu.1.7",
            ),
            ("2024.10.01", "2024.10.1"),
        ] {
            assert_eq!(v(input).to_string(), normal, "{input}");
        }
    }

    #[test]
    fn rejects_non_pep440() {
        for bad in [
            "",
            "1.",
            ".1",
            "1..0",
            "a1",
            "1.0+",
            "1.0+a..b",
            "1.0 beta",
            "6.18.44-fc-v657",
            "1.0-",
            "1.0dev1a",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn orders_as_pep440() {
        let ordered = [
            "1.0.dev0",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0+local.1",
            "1.0+1",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.1",
            "1.10",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1"), v("1.0.0.0"));
        assert_ne!(v("1.0"), v("1.0+x"));
    }

    #[test]
    fn equality_and_wildcards() {
        assert!(holds("==1.0", "1.0.0"));
        assert!(holds("==1.0", "1.0+local"));
        assert!(!holds("==1.0+a", "1.0+b"));
        assert!(holds("==3.8.*", "3.8.10"));
        assert!(!holds("==3.8.*", "3.80"));
        assert!(holds("==3.*", "3.0rc1"));
        assert!(holds("==1.0.*", "1"));
        assert!(holds("==1.0a1.*", "1.0a1.post2"));
        assert!(!holds("==1.0a1.*", "1.0.0a1"));
        assert!(holds("!=3.9.*", "3.10.0"));
        assert!(!holds("!=3.9.*", "3.9.1"));
        assert!(holds("===1.0", "1.0"));
        assert!(!holds("===1.0", "1.0.0"), "=== is string identity");
    }

    #[test]
    fn ordered_comparisons_exclude_neighbours() {
        assert!(holds(">=3.8", "3.11.7"));
        assert!(!holds(">=3.8", "3.7.17"));
        assert!(holds("<3", "2.7"));
        assert!(!holds("<3", "3.0a1"), "<V excludes pre-releases of V");
        assert!(holds("<3.0a2", "3.0a1"));
        assert!(
            !holds(">1.0", "1.0.post1"),
            ">V excludes post-releases of V"
        );
        assert!(holds(">1.0.post1", "1.0.post2"));
        assert!(!holds(">1.0", "1.0+local"));
        assert!(holds("<=1.0", "1.0+local"), "<= ignores the local label");
        assert!(holds(">=3.8, !=3.9.*, <4", "3.10.2"));
        assert!(!holds(">=3.8, !=3.9.*, <4", "3.9.0"));
        assert!(holds("", "0.1"));
    }

    #[test]
    fn compatible_release() {
        assert!(holds("~=2.2", "2.9"));
        assert!(!holds("~=2.2", "3.0"));
        assert!(holds("~=1.4.5", "1.4.9"));
        assert!(!holds("~=1.4.5", "1.5.0"));
        assert!(holds("~=2.2.post3", "2.3"));
        assert!(!holds("~=2.2.post3", "2.2"));
        assert!(holds("~=1.4.5a4", "1.4.5"));
    }

    #[test]
    fn specifier_syntax_rules() {
        for bad in [
            "~=1",
            ">=1.*",
            "<1.0+local",
            "==1.0.dev1.*",
            "1.0",
            ">=",
            "== 1.0 2.0",
            "~=1.0+x",
        ] {
            assert!(
                SpecifierSet::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let set = SpecifierSet::parse(" >= 3.8 ,<4,").unwrap();
        assert_eq!(set.to_string(), ">=3.8,<4");
    }

    #[test]
    fn pinned_versions() {
        let pin = |s: &str| SpecifierSet::parse(s).unwrap().pinned();
        assert_eq!(pin("==1.0"), Some("1.0".into()));
        assert_eq!(pin("==01.0.POST1"), Some("1.0.post1".into()));
        assert_eq!(pin("===1.0-weird"), Some("1.0-weird".into()));
        assert_eq!(pin("==1.*"), None);
        assert_eq!(pin(">=1.0"), None);
        assert_eq!(pin("==1.0,!=1.1"), None);
        assert_eq!(pin(""), None);
    }
}
