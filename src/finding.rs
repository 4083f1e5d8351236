//! Findings: what the guard (and `lockgate check`) has to say about one lockfile entry.
//!
//! A guarded install refuses when any finding is an error; `lockgate check` prints all of them.
//! Each finding maps to one exit code of the contract; the most severe one wins.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::code;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// What kind of problem, with the contract's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An internal name resolved from (or offered by) a non-internal source.
    #[serde(rename = "dependency-confusion")]
    Confusion,
    /// The entry has no hash, or only a weak one.
    MissingHash,
    WeakHash,
    /// git, file, or a plain tarball URL instead of a registry.
    #[serde(rename = "non-registry-source")]
    NonRegistry,
    /// http off loopback, or a host the policy does not permit.
    InsecureSource,
    /// A name that looks like a typo of a popular or internal name.
    Typosquat,
    /// An install script that is not on the allowlist.
    InstallScript,
    /// The lockfile is out of sync, malformed, or missing.
    Lockfile,
    /// An internal package whose name is not namespaced (claimable on the public registry).
    UnscopedInternal,
    /// A source file lockgate refuses to build (sdist) unless allowed.
    SourceBuild,
    /// A version younger than `[cooldown] min-age`, or a package first published less than
    /// `new-package-age` ago.
    TooNew,
    /// A version listed in the malicious-package feed (OSV `MAL-`).
    Malicious,
    /// The malicious-package feed is missing or older than `[feed] max-age`.
    Feed,
    /// The permitted source lists the locked version with other bytes than the lock's hash.
    Integrity,
    /// The locked artifact is not on its permitted source.
    Unavailable,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Confusion => code::CONFUSION,
            Kind::Typosquat => code::TYPOSQUAT,
            Kind::InsecureSource => code::INSECURE,
            Kind::TooNew => code::TOO_NEW,
            Kind::Malicious => code::MALICIOUS,
            Kind::Feed => code::CONFIG,
            Kind::Integrity => code::INTEGRITY,
            Kind::Unavailable => code::UNAVAILABLE,
            Kind::MissingHash
            | Kind::WeakHash
            | Kind::NonRegistry
            | Kind::Lockfile
            | Kind::InstallScript
            | Kind::UnscopedInternal
            | Kind::SourceBuild => code::LOCKFILE,
        }
    }

    /// Short rule id for machine output (SARIF rule ids, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Kind::Confusion => "dependency-confusion",
            Kind::MissingHash => "missing-hash",
            Kind::WeakHash => "weak-hash",
            Kind::NonRegistry => "non-registry-source",
            Kind::InsecureSource => "insecure-source",
            Kind::Typosquat => "typosquat",
            Kind::InstallScript => "install-script",
            Kind::Lockfile => "lockfile",
            Kind::UnscopedInternal => "unscoped-internal",
            Kind::SourceBuild => "source-build",
            Kind::TooNew => "too-new",
            Kind::Malicious => "malicious",
            Kind::Feed => "feed",
            Kind::Integrity => "integrity",
            Kind::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// `name@version` or just the name.
    pub package: String,
    /// The file the entry is in, and its line when known.
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong: expected vs seen, in words.
    pub message: String,
    /// The next step.
    pub hint: String,
    /// For [`Kind::Malicious`]: the feed record that lists the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<Box<Listed>>,
}

/// The package version and the OSV record of a malicious-package finding.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub version: String,
    pub id: String,
}

impl Finding {
    pub fn error(
        kind: Kind,
        package: impl Into<String>,
        file: impl Into<PathBuf>,
    ) -> FindingBuilder {
        FindingBuilder::new(kind, Severity::Error, package.into(), file.into())
    }
    pub fn warning(
        kind: Kind,
        package: impl Into<String>,
        file: impl Into<PathBuf>,
    ) -> FindingBuilder {
        FindingBuilder::new(kind, Severity::Warning, package.into(), file.into())
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

/// Builder so call sites read as one sentence: `Finding::error(..).msg(..).hint(..)`.
pub struct FindingBuilder(Finding);

impl FindingBuilder {
    fn new(kind: Kind, severity: Severity, package: String, file: PathBuf) -> Self {
        FindingBuilder(Finding {
            kind,
            severity,
            package,
            file,
            line: None,
            message: String::new(),
            hint: String::new(),
            listed: None,
        })
    }
    pub fn msg(mut self, m: impl Into<String>) -> Self {
        self.0.message = m.into();
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Finding {
        self.0.hint = h.into();
        self.0
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.package, self.message)?;
        if !self.hint.is_empty() {
            write!(f, " — {}", self.hint)?;
        }
        Ok(())
    }
}

/// Severity order between exit codes when several findings disagree: known malware beats a
/// confusion attempt beats a tampered artifact beats a typosquat beats a too-new version beats an
/// insecure source beats a lockfile problem.
const ORDER: [i32; 10] = [
    code::MALICIOUS,
    code::CONFUSION,
    code::INTEGRITY,
    code::TYPOSQUAT,
    code::TOO_NEW,
    code::INSECURE,
    code::LOCKFILE,
    code::AUTH,
    code::UNAVAILABLE,
    code::CONFIG,
];

/// The exit code for a set of findings: that of the most severe error, 0 when there is none.
pub fn most_severe(findings: &[Finding]) -> i32 {
    findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.exit_code())
        .min_by_key(|c| ORDER.iter().position(|o| o == c).unwrap_or(ORDER.len()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_outranks_lockfile_problems_and_warnings_do_not_count() {
        let f = vec![
            Finding::error(Kind::MissingHash, "a@1", "l")
                .msg("no integrity")
                .hint("h"),
            Finding::warning(Kind::Typosquat, "b@1", "l")
                .msg("x")
                .hint("h"),
            Finding::error(Kind::Confusion, "@o/c@9", "l")
                .msg("public")
                .hint("h"),
        ];
        assert_eq!(most_severe(&f), 22);
        assert_eq!(most_severe(&f[..2]), 21);
        assert_eq!(most_severe(&f[1..2]), 0);
    }

    #[test]
    fn json_names_kinds_by_their_rule_id() {
        for kind in [
            Kind::Confusion,
            Kind::MissingHash,
            Kind::WeakHash,
            Kind::NonRegistry,
            Kind::InsecureSource,
            Kind::Typosquat,
            Kind::InstallScript,
            Kind::Lockfile,
            Kind::UnscopedInternal,
            Kind::SourceBuild,
            Kind::Malicious,
            Kind::Feed,
            Kind::Integrity,
            Kind::Unavailable,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.id(), "{kind:?}");
        }
    }

    #[test]
    fn renders_package_message_and_hint() {
        let f = Finding::error(Kind::NonRegistry, "x@1", "package-lock.json")
            .msg("resolved from git")
            .hint("allow it");
        assert_eq!(f.to_string(), "x@1: resolved from git — allow it");
    }
}
