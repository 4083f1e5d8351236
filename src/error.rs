//! The one error type of lockgate and its mapping to the contract's exit codes (DESIGN.md).
//!
//! Every variant carries the fields a user needs (package, file, URL, what was expected and what
//! was seen) and renders as one paragraph ending with the next step. `main` prints it on stderr
//! and exits with [`Error::exit_code`].

use std::fmt;
use std::path::PathBuf;

use crate::finding::Finding;

/// Exit codes of the contract; any other code is the wrapped tool's own.
pub mod code {
    pub const CONFIG: i32 = 20;
    pub const LOCKFILE: i32 = 21;
    pub const CONFUSION: i32 = 22;
    pub const INTEGRITY: i32 = 23;
    pub const TYPOSQUAT: i32 = 24;
    pub const AUTH: i32 = 25;
    pub const INSECURE: i32 = 26;
    pub const UNAVAILABLE: i32 = 27;
    /// A version younger than the cooldown, or a newly created package, was requested.
    pub const TOO_NEW: i32 = 28;
    pub const MALICIOUS: i32 = 29;
}

/// Everything that makes lockgate stop before (or instead of) running the real tool.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy file is malformed, names an unknown key, or conflicts with the org file.
    #[error("policy error in {}: {msg}", path.display())]
    Policy { path: PathBuf, msg: String },

    /// lockgate's own environment is unusable (real tool not found, recursion, unwritable cache…).
    #[error("{msg}")]
    Config { msg: String, hint: String },

    /// A file lockgate needed could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// The lockfile is missing, unreadable or out of sync with the manifest.
    #[error("{msg} ({})", path.display())]
    Lockfile {
        path: PathBuf,
        msg: String,
        hint: String,
    },

    /// The guard found one or more problems in the plan; the most severe decides the exit code.
    #[error("{}", render_findings(findings))]
    Refused { findings: Vec<Finding> },

    /// Downloaded bytes do not match the lockfile.
    #[error("integrity mismatch for {package}: {url} should hash to {expected} but hashes to {computed}")]
    Integrity {
        package: String,
        url: String,
        expected: String,
        computed: String,
    },

    /// A registry answered 401/403, or the credentials lockgate was told to use are not set.
    #[error("authentication to {registry} failed for {package}: {detail}")]
    Auth {
        registry: String,
        package: String,
        detail: String,
        hint: String,
    },

    /// A source that is plain http off loopback, or a host the policy does not permit.
    #[error("insecure or disallowed source for {package}: {url} ({reason})")]
    Insecure {
        package: String,
        url: String,
        reason: String,
    },

    /// A registry could not be reached after retries, or a locked artifact is not there.
    #[error("{package}: {url} {detail}")]
    Unavailable {
        package: String,
        url: String,
        detail: String,
    },

    /// The version is listed in the malicious-package feed (an OSV `MAL-` record).
    #[error("{}@{} is known malicious: {} \"{}\" (published {}); lockgate refused it before anything was downloaded", .0.package, .0.version, .0.id, .0.summary, .0.published)]
    Malicious(Box<MaliciousVersion>),
}

/// A package version the malicious-package feed lists, and what to do instead.
#[derive(Debug)]
pub struct MaliciousVersion {
    pub package: String,
    pub version: String,
    /// The OSV record (`MAL-…`).
    pub id: String,
    pub summary: String,
    pub published: String,
    /// The next step: the record's fixed version, or another version, or removing the package.
    pub fix: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Policy { .. } | Error::Config { .. } | Error::Io { .. } => code::CONFIG,
            Error::Lockfile { .. } => code::LOCKFILE,
            Error::Refused { findings } => crate::finding::most_severe(findings),
            Error::Integrity { .. } => code::INTEGRITY,
            Error::Auth { .. } => code::AUTH,
            Error::Insecure { .. } => code::INSECURE,
            Error::Unavailable { .. } => code::UNAVAILABLE,
            Error::Malicious(_) => code::MALICIOUS,
        }
    }

    /// The next step for the user, in one line.
    pub fn hint(&self) -> String {
        match self {
            Error::Policy { .. } => {
                "fix the file; the accepted keys are listed in README.md (Policy reference)".into()
            }
            Error::Config { hint, .. } | Error::Lockfile { hint, .. } | Error::Auth { hint, .. } => {
                hint.clone()
            }
            Error::Io { .. } => "check the path and its permissions".into(),
            Error::Refused { .. } => {
                "nothing was installed; fix the entries above (see each hint) and run again".into()
            }
            Error::Integrity { .. } => "nothing was installed. Do not override this: find out why the artifact changed (tampering, a poisoned proxy cache, a republished version); if the new bytes are legitimate, regenerate the lockfile entry and review the diff".into(),
            Error::Insecure { .. } => "use an https:// source (http:// is accepted only for loopback), or add the host to the policy if it is really yours".into(),
            Error::Unavailable { .. } => "check that the registry is reachable and that the locked version was published there; nothing was installed".into(),
            Error::Malicious(m) => m.fix.clone(),
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn config(msg: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Config {
            msg: msg.into(),
            hint: hint.into(),
        }
    }

    pub fn lockfile(
        path: impl Into<PathBuf>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::Lockfile {
            path: path.into(),
            msg: msg.into(),
            hint: hint.into(),
        }
    }

    /// The whole message as printed on stderr: the error, then the next step.
    pub fn report(&self) -> String {
        format!(
            "lockgate: error[{}]: {}\n  next: {}\n",
            self.exit_code(),
            self,
            self.hint()
        )
    }
}

fn render_findings(findings: &[Finding]) -> String {
    let errors = findings.iter().filter(|f| f.is_error()).count();
    let mut out = format!(
        "refused: {errors} problem{} found; nothing was installed",
        if errors == 1 { "" } else { "s" }
    );
    for f in findings.iter().filter(|f| f.is_error()) {
        out.push_str("\n  - ");
        out.push_str(&f.to_string());
    }
    out
}

/// A value that must never be printed: tokens and passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A URL for messages and logs: userinfo and query strings (which may carry tokens) removed.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_username("");
                let _ = u.set_password(None);
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        Err(_) => url.split('?').next().unwrap_or(url).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query() {
        assert_eq!(
            redact_url("https://ci:hunter2@pypi.corp.example/simple/?token=abc"),
            "https://pypi.corp.example/simple/?***"
        );
        assert_eq!(redact_url("not a url?x=1"), "not a url");
    }

    #[test]
    fn secret_debug_hides_value() {
        assert_eq!(format!("{:?}", Secret::new("tok")), "Secret(***)");
    }

    #[test]
    fn exit_codes_follow_contract() {
        let e = Error::Integrity {
            package: "a@1".into(),
            url: "u".into(),
            expected: "x".into(),
            computed: "y".into(),
        };
        assert_eq!(e.exit_code(), 23);
        assert!(e
            .report()
            .starts_with("lockgate: error[23]: integrity mismatch for a@1"));
        assert_eq!(Error::config("x", "y").exit_code(), 20);
    }
}
