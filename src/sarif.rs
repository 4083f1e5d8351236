//! SARIF 2.1.0 output for `lockgate check`, so code scanning (GitHub and others) shows each
//! finding on the lockfile line it is about.
//!
//! One run; one rule per finding kind that occurs (id = `Kind::id`), and one rule per OSV id for
//! known-malicious versions (id = the record's id, e.g. `MAL-2025-46974`); one result per finding with
//! its level, message and, when the finding names a file, a location relative to the checked
//! directory (`%SRCROOT%`) with the entry's line as `region.startLine`. Pure: findings in, JSON out.

use std::path::Path;

use serde_json::{json, Value};

use crate::finding::{Finding, Kind, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

/// The SARIF log for `findings`; file paths are made relative to `root` (the checked directory).
pub fn render(findings: &[Finding], root: &Path) -> Value {
    let mut ids: Vec<String> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    for f in findings {
        let id = rule_id(f);
        if !ids.contains(&id) {
            rules.push(match &f.listed {
                Some(l) => malicious_rule(&l.id, f.kind),
                None => rule(f.kind),
            });
            ids.push(id);
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = ids
                .iter()
                .position(|i| *i == rule_id(f))
                .unwrap_or_default();
            result(f, index, root)
        })
        .collect();
    let mut run = json!({
        "tool": {"driver": {
            "name": "lockgate",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "results": results,
    });
    if let Ok(base) = reqwest::Url::from_directory_path(root) {
        run["originalUriBaseIds"] = json!({SRCROOT: {"uri": base.as_str()}});
    }
    json!({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]})
}

/// The rule a finding reports under: its OSV id for a known-malicious version, else its kind.
fn rule_id(f: &Finding) -> String {
    f.listed
        .as_ref()
        .map_or_else(|| f.kind.id().to_string(), |l| l.id.clone())
}

fn malicious_rule(id: &str, kind: Kind) -> Value {
    json!({
        "id": id,
        "name": "KnownMalicious",
        "shortDescription": {"text": format!("A package version listed as malicious by OSV record {id}")},
        "helpUri": format!("https://osv.dev/vulnerability/{id}"),
        "properties": {"lockgateExitCode": kind.exit_code(), "tags": ["security", "malicious"]},
    })
}

fn rule(kind: Kind) -> Value {
    let (name, text) = describe(kind);
    json!({
        "id": kind.id(),
        "name": name,
        "shortDescription": {"text": text},
        "properties": {"lockgateExitCode": kind.exit_code()},
    })
}

/// Rule name (PascalCase, as SARIF viewers show it) and one-line description.
fn describe(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Confusion => (
            "DependencyConfusion",
            "An internal package name resolved from, or held on, a non-internal registry",
        ),
        Kind::MissingHash => (
            "MissingHash",
            "A lockfile entry without a usable hash, so its bytes cannot be verified",
        ),
        Kind::WeakHash => (
            "WeakHash",
            "A lockfile entry pinned only by a collision-broken hash (sha1)",
        ),
        Kind::NonRegistry => (
            "NonRegistrySource",
            "A dependency from git, a local path or a plain URL instead of a registry",
        ),
        Kind::InsecureSource => (
            "InsecureSource",
            "A dependency from plain http off loopback, or from a host the policy does not permit",
        ),
        Kind::Typosquat => (
            "Typosquat",
            "A package name that looks like a typo or imitation of a popular or internal name",
        ),
        Kind::InstallScript => (
            "InstallScript",
            "A package with an install script that is not allowlisted",
        ),
        Kind::Lockfile => (
            "Lockfile",
            "The lockfile is missing, malformed or out of sync with the manifest",
        ),
        Kind::UnscopedInternal => (
            "UnscopedInternal",
            "An internal package whose name anyone can claim on the public registry",
        ),
        Kind::SourceBuild => (
            "SourceBuild",
            "A source distribution that runs code to build",
        ),
        Kind::TooNew => (
            "TooNew",
            "A version younger than the release-age cooldown, or a package created too recently",
        ),
        Kind::Malicious => (
            "KnownMalicious",
            "A package version listed in the malicious-package feed",
        ),
        Kind::Feed => (
            "MaliciousPackageFeed",
            "The malicious-package feed is missing or older than [feed] max-age",
        ),
        Kind::Integrity => (
            "Integrity",
            "The permitted source lists the locked version with other bytes than the lock's hash",
        ),
        Kind::Unavailable => (
            "Unavailable",
            "A locked artifact is not on its permitted source",
        ),
    }
}

fn result(f: &Finding, rule_index: usize, root: &Path) -> Value {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut text = format!("{}: {}", f.package, f.message);
    if !f.hint.is_empty() {
        text.push_str(&format!(" Next: {}", f.hint));
    }
    let mut r = json!({
        "ruleId": rule_id(f),
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": text},
    });
    if !f.file.as_os_str().is_empty() {
        let rel = f.file.strip_prefix(root).unwrap_or(&f.file);
        let mut physical =
            json!({"artifactLocation": {"uri": uri_reference(rel), "uriBaseId": SRCROOT}});
        if let Some(line) = f.line.filter(|l| *l > 0) {
            physical["region"] = json!({"startLine": line});
        }
        r["locations"] = json!([{"physicalLocation": physical}]);
    }
    r
}

/// A relative path as a URI reference: `/` separators, everything outside RFC 3986's unreserved
/// characters percent-encoded.
fn uri_reference(path: &Path) -> String {
    let mut out = String::new();
    for (i, part) in path.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_point_at_lockfile_lines_relative_to_the_root() {
        let root = Path::new("/work/app");
        let mut typo = Finding::error(Kind::Typosquat, "expres", "/work/app/package-lock.json")
            .msg("looks like a typosquat of `express`")
            .hint("allow it");
        typo.line = Some(42);
        let script = Finding::warning(
            Kind::InstallScript,
            "esbuild@0.19.0",
            "/work/app/sub dir/package-lock.json",
        )
        .msg("has an install script")
        .hint("");
        let again = Finding::error(Kind::Typosquat, "crossenv", "/work/app/package-lock.json")
            .msg("m")
            .hint("h");
        let log = render(&[typo, script, again], root);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(
            run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
            "file:///work/app/"
        );
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2, "one rule per kind");
        assert_eq!(rules[0]["id"], "typosquat");
        assert_eq!(rules[1]["id"], "install-script");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["ruleIndex"], 0);
        let loc = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "package-lock.json");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(loc["region"]["startLine"], 42);
        assert_eq!(
            results[0]["message"]["text"],
            "expres: looks like a typosquat of `express` Next: allow it"
        );
        assert_eq!(results[1]["level"], "warning");
        assert_eq!(results[1]["ruleIndex"], 1);
        let loc = &results[1]["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"],
            "sub%20dir/package-lock.json"
        );
        assert!(loc.get("region").is_none(), "no line, no region");
        assert_eq!(results[2]["ruleIndex"], 0);
    }

    #[test]
    fn no_findings_is_a_valid_empty_run() {
        let log = render(&[], Path::new("/p"));
        assert_eq!(log["runs"][0]["results"], json!([]));
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"], json!([]));
    }
}
