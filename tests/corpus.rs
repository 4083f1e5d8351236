//! The corpus: real lockfiles and requirements files (npm's own Arborist fixtures of every
//! lockfile version and odd shape, lockfile-lint's fixtures, npm/cli's own lockfile, warehouse's
//! and sigstore-python's hashed requirements) plus the odd shapes issue 9 found, each with the
//! verdict the real tool gives, recorded by `scripts/gen-corpus-expectations.sh` into
//! `tests/fixtures/corpus/expectations.tsv` (origins and licences: `tests/fixtures/corpus/SOURCES.md`).
//!
//! For every case `lockgate check --format json` runs on a copy of it, and:
//! - where the tool accepts the input, lockgate reads it too (no refusal for format reasons) and
//!   yields as many entries as the tool (npm's package count, pip's requirement lines), so it
//!   audits what the tool installs;
//! - where the tool refuses it, lockgate refuses it too (a finding that the file cannot be read,
//!   or that it is out of sync with package.json), except the cases listed in [`KNOWN`] with why.

mod common;

use std::fs;
use std::path::Path;

use serde_json::Value;

use common::{repo_root, Sandbox};

/// Cases where the tool refuses the input and `lockgate check` passes it, and why that is not a
/// risk (the tool refuses it itself, so nothing unaudited is installed).
const KNOWN: &[(&str, &str)] = &[
    (
        "npm/arborist-link-meta-deps",
        "a `file:` link from inside a registry package's own folder (node_modules/@isaacs/testing-link-dep/target): npm cannot build its tree before that package is unpacked and refuses (`Missing: linked-dep@`); lockgate audits both registry packages and leaves the link local",
    ),
];

/// Inputs the tool reads and lockgate refuses on purpose (issue 9's rule: where lockgate cannot
/// be sure it reads the same entries, it refuses). None of them is a real project's file.
const STRICTER: &[(&str, &str)] = &[
    (
        "npm/odd-string-version",
        "lockfileVersion \"3\": npm reads by shape whatever the number; lockgate accepts only the versions npm writes",
    ),
    ("npm/odd-negative-version", "lockfileVersion -1 (same rule)"),
    ("npm/odd-future-version", "lockfileVersion 4 (same rule)"),
];

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// lockgate's verdict on a case: read (with how many entries) or refused for format reasons
/// (why), and the exit code of the whole audit.
fn lockgate_verdict(case: &str) -> (Result<u64, String>, i32) {
    let corpus = repo_root().join("tests/fixtures/corpus");
    let mut sb = Sandbox::new();
    sb.set_env("LOCKGATE_SYSTEM_CONFIG", "");
    copy_dir(&corpus.join(case), &sb.project());
    let out = sb.run(
        sb.lockgate()
            .args(["check", "--offline", "--format", "json"]),
    );
    let code = out.code().unwrap_or(-1);
    assert!(
        code == 0 || (20..=29).contains(&code),
        "{case}: lockgate crashed\n{out}"
    );
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{case}: not one JSON document ({e})\n{out}"));
    let file = if case.starts_with("pip/") {
        "requirements.txt"
    } else if sb.exists("npm-shrinkwrap.json") {
        "npm-shrinkwrap.json"
    } else {
        "package-lock.json"
    };
    let refusal = doc["findings"].as_array().unwrap().iter().find(|f| {
        f["kind"] == "lockfile"
            && f["severity"] == "error"
            && (f["package"] == "package.json" || f["package"] == file)
    });
    if let Some(f) = refusal {
        return (
            Err(f["message"].as_str().unwrap_or_default().to_string()),
            code,
        );
    }
    if let Some(e) = doc.get("error") {
        return (
            Err(e["message"].as_str().unwrap_or_default().to_string()),
            code,
        );
    }
    let read = doc["read"].as_array().unwrap().iter().find(|r| {
        r["file"]
            .as_str()
            .is_some_and(|p| Path::new(p).file_name() == Some(file.as_ref()))
    });
    let verdict = match read {
        Some(r) => Ok(r["entries"].as_u64().unwrap()),
        None => Err(format!("{file} was not read\n{out}")),
    };
    (verdict, code)
}

/// What is wrong with lockgate's verdict on one case, if anything.
fn disagreement(case: &str, verdict: &str, count: &str) -> Option<String> {
    let known = KNOWN.iter().any(|(k, _)| *k == case);
    let stricter = STRICTER.iter().any(|(k, _)| *k == case);
    match (verdict, lockgate_verdict(case)) {
        ("accept", (Ok(n), _)) if count != "-" && count.parse::<u64>() != Ok(n) => Some(format!(
            "{case}: the tool reads {count} entries, lockgate {n}"
        )),
        ("accept", (Ok(_), _)) if stricter => Some(format!(
            "{case}: lockgate now reads it; remove it from STRICTER"
        )),
        ("accept", (Ok(_), _)) => None,
        ("accept", (Err(_), _)) if stricter => None,
        ("accept", (Err(why), _)) => Some(format!(
            "{case}: the tool accepts it, lockgate refuses it: {why}"
        )),
        // The tool refuses: lockgate must not pass it.
        (_, (_, 0)) if known => None,
        (v, (_, 0)) => Some(format!(
            "{case}: the tool refuses it ({v}), lockgate passes it"
        )),
        (_, _) if known => Some(format!(
            "{case}: lockgate now refuses it as the tool does; remove it from KNOWN"
        )),
        _ => None,
    }
}

#[test]
fn lockgate_reads_what_npm_and_pip_read() {
    let expectations =
        fs::read_to_string(repo_root().join("tests/fixtures/corpus/expectations.tsv")).unwrap();
    let cases: Vec<[String; 3]> = expectations
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let [case, verdict, count] = cols[..] else {
                panic!("bad expectations line: {line}");
            };
            [case.into(), verdict.into(), count.into()]
        })
        .collect();
    assert!(
        cases.len() > 100,
        "the corpus has only {} cases",
        cases.len()
    );
    // A few cases at a time; each is one `lockgate check` run.
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(3))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|[case, verdict, count]| disagreement(case, verdict, count))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
