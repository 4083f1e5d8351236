//! `lockgate check [DIR]`: the guard over a project's lockfiles, installing nothing.
//!
//! It audits every lockfile it finds in DIR against the policy and prints the findings (text for
//! people, JSON for CI on stdout); the exit code is that of the most severe error finding, so a CI
//! step fails exactly when a guarded install would refuse.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
use crate::finding::{most_severe, Finding, Kind, Severity};
use crate::npm;
use crate::policy::{self, Policy};
use crate::report::{self, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(dir: &Path, format: Format) -> Result<i32> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::io("open the project directory", dir, e))?;
    let policy = policy::load(&dir)?;
    let reporter = Reporter::from_env("check");
    let mut findings = Vec::new();
    let mut audited: Vec<PathBuf> = Vec::new();
    if let Some(lock) = npm::find_lockfile(&dir) {
        findings.extend(check_npm(&dir, &lock, &policy)?);
        audited.push(lock);
    }
    let pip_locks = crate::pip::find_locks(&dir);
    if !pip_locks.is_empty() {
        findings.extend(check_pip(&dir, &policy)?);
        audited.extend(pip_locks);
    }
    if audited.is_empty() {
        return Err(Error::lockfile(
            &dir,
            "no lockfile found (package-lock.json, npm-shrinkwrap.json, requirements*.txt, pylock.toml)",
            "run `lockgate check` in the project directory, or pass it as DIR",
        ));
    }
    for f in findings.iter().filter(|f| f.kind == Kind::Confusion && f.is_error()) {
        reporter.count(report::CONFUSION, &[("package", strip_version(&f.package))]);
    }
    for f in &findings {
        reporter.audit("check", json!({"kind": f.kind.id(), "severity": f.severity, "package": f.package, "message": f.message}));
    }
    reporter.flush();
    let code = most_severe(&findings);
    print(format, &audited, &findings, code);
    Ok(code)
}

fn check_npm(dir: &Path, lock_path: &Path, policy: &Policy) -> Result<Vec<Finding>> {
    let lock = npm::read_lockfile(lock_path)?;
    let npmrc = npm::npmrc::load(dir, Path::new("/nonexistent"), &[]);
    let sources = npm::sources(policy, &npmrc)?;
    // Audit every entry, whatever platform or omission a particular install would use.
    let plan = npm::plan::plan(&lock, &sources, &npm::plan::Target::any());
    let mut findings = plan.findings.clone();
    let manifests = npm::read_manifests(dir, &lock)?;
    let diffs = npm::lockfile::out_of_sync(&lock, &manifests);
    if !diffs.is_empty() {
        findings.push(
            Finding::error(Kind::Lockfile, "package.json", lock_path)
                .msg(format!("the lockfile is out of sync: {}", diffs.join("; ")))
                .hint("run `npm install` through lockgate, review and commit the lockfile"),
        );
    }
    let scripts = npm::scripts::decide(&lock, &plan, &policy.npm.scripts_allow);
    for b in scripts.blocked {
        findings.push(
            Finding::warning(Kind::InstallScript, &b, lock_path)
                .msg("has an install script that is not allowlisted; lockgate will not run it")
                .hint(format!("if it is needed, review it and add it to [npm.scripts] allow: \"{}\"", strip_version(&b))),
        );
    }
    Ok(findings)
}

/// pip: every `requirements*.txt` and `pylock*.toml` in `dir`, all entries whatever the platform.
fn check_pip(dir: &Path, policy: &Policy) -> Result<Vec<Finding>> {
    crate::pip::check(policy, &crate::pip::find_locks(dir))
}

fn strip_version(id: &str) -> &str {
    id.rsplit_once('@').filter(|(n, _)| !n.is_empty()).map_or(id, |(n, _)| n)
}

fn print(format: Format, audited: &[PathBuf], findings: &[Finding], code: i32) {
    match format {
        Format::Json => {
            let doc = json!({
                "lockfiles": audited,
                "exit_code": code,
                "errors": findings.iter().filter(|f| f.is_error()).count(),
                "warnings": findings.iter().filter(|f| !f.is_error()).count(),
                "findings": findings,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Text => {
            for f in findings {
                let level = match f.severity {
                    Severity::Error => format!("error[{}]", f.exit_code()),
                    Severity::Warning => "warning".to_string(),
                };
                println!("{level} {}: {}: {}", f.file.display(), f.package, f.message);
                if !f.hint.is_empty() {
                    println!("    next: {}", f.hint);
                }
            }
            let errors = findings.iter().filter(|f| f.is_error()).count();
            println!(
                "lockgate check: {} lockfile{} audited, {errors} error{}, {} warning{}{}",
                audited.len(),
                if audited.len() == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                findings.len() - errors,
                if findings.len() - errors == 1 { "" } else { "s" },
                if code == 0 { String::new() } else { format!(" (exit {code})") }
            );
        }
    }
}
