//! The typosquat guard: the detector (`typosquat`) applied to the names a project adds, with the
//! policy's allowlist and the project's internal names, turned into findings (exit 24) and audit
//! decisions.
//!
//! Install flows call [`TypoGuard::guard_new`] with the names a user adds (`npm install NAME`,
//! direct dependencies package.json adds relative to the lockfile; for pip, [`TypoGuard::pip`]
//! with the names on the command line) before anything is fetched; `lockgate check` calls
//! [`TypoGuard::finding`] for every direct (error) and transitive (warning) dependency. Names
//! already in a lockfile are not new: they were accepted when they were added. Picking those names
//! out of specs and manifests is pure and lives here too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::fetch::Client;
use crate::finding::{Finding, Kind, Severity};
use crate::npm::lockfile::{Lockfile, Resolved, DEP_TYPES};
use crate::npm::plan::Sources;
use crate::policy::Policy;
use crate::report::Reporter;
use crate::typosquat::{Age, Detector, Ecosystem, Judgement};
use reqwest::Url;

/// The detector for one ecosystem, set up with the project's internal names and allowlist.
pub struct TypoGuard {
    detector: Detector,
}

impl TypoGuard {
    /// npm: internal scopes are those the policy and the npm config route to an internal registry;
    /// internal names are the lockfile's entries in those scopes or resolved from an internal
    /// registry (so an unscoped internal name is protected too).
    pub fn npm(policy: &Policy, sources: &Sources, lock: Option<&Lockfile>) -> TypoGuard {
        let scopes: Vec<String> = sources.internal.keys().cloned().collect();
        let internal: Vec<String> = lock
            .map(|l| npm_internal_names(l, sources).into_iter().collect())
            .unwrap_or_default();
        TypoGuard {
            detector: Detector::new(Ecosystem::Npm, &scopes, &internal, &policy.typosquat_allow)
                .with_broad_window(policy.typosquat_young_window.0),
        }
    }

    /// PyPI: internal prefixes from the policy; `internal_names` are the internal projects the
    /// caller knows of (from requirements files or lock files).
    pub fn pip(policy: &Policy, internal_names: &[String]) -> TypoGuard {
        let prefixes = policy
            .pip
            .internal
            .as_ref()
            .map(|i| i.prefixes.clone())
            .unwrap_or_default();
        TypoGuard {
            detector: Detector::new(
                Ecosystem::Pypi,
                &prefixes,
                internal_names,
                &policy.typosquat_allow,
            )
            .with_broad_window(policy.typosquat_young_window.0),
        }
    }

    /// A finding of the given severity if `name` looks like an imitation of a popular or internal
    /// name by the name-only rules; `file` is where the name is written.
    pub fn finding(&self, name: &str, severity: Severity, file: &Path) -> Option<Finding> {
        match self.judge(name, Age::Unasked, severity, file) {
            Verdict::Suspect(f) => Some(f),
            _ => None,
        }
    }

    /// The verdict on `name` given its registry age, as a finding of the given severity:
    /// [`Detector::judge`] with lockgate's messages.
    pub fn judge(&self, name: &str, age: Age, severity: Severity, file: &Path) -> Verdict {
        let builder = || match severity {
            Severity::Error => Finding::error(Kind::Typosquat, name, file),
            Severity::Warning => Finding::warning(Kind::Typosquat, name, file),
        };
        let allow = format!(
            "if `{name}` is really the package you want, allow it in lockgate.toml: [typosquat] allow = [\"{name}\"]"
        );
        match self.detector.judge(name, age) {
            Judgement::Clear => Verdict::Clear,
            Judgement::Established(s, age) => Verdict::Established {
                message: format!(
                    "looks like `{}` ({}), but the registry says it was first published {} ago: an established package, not a new look-alike",
                    s.resembles,
                    s.rule,
                    crate::cooldown::human(age)
                ),
                age,
            },
            Judgement::Suspect { finding: s, young } => {
                let whose = if s.internal { "your internal package " } else { "" };
                let new = match (young, age) {
                    (false, _) => String::new(),
                    (true, Age::Secs(a)) => {
                        format!(" and is new (first published {} ago)", crate::cooldown::human(a))
                    }
                    (true, _) => " and is new (not datable on the registry)".to_string(),
                };
                Verdict::Suspect(
                    builder()
                        .msg(format!(
                            "looks like a typosquat of {whose}`{}` ({}){new}: did you mean `{}`?",
                            s.resembles, s.rule, s.resembles
                        ))
                        .hint(allow),
                )
            }
        }
    }

    /// Whether the registry's age can change the verdict on `name` ([`Detector::needs_age`]):
    /// only such names are looked up.
    pub fn needs_age(&self, name: &str) -> bool {
        self.detector.needs_age(name)
    }

    /// Names among `names` whose registry age can change the verdict.
    pub fn popular_suspects(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter(|n| self.needs_age(n))
            .cloned()
            .collect()
    }

    /// Checks the names a user adds, before anything is fetched: every decision goes to the audit
    /// log; any suspect refuses the whole command (exit 24) with "did you mean".
    pub fn guard_new(&self, names: &[String], file: &Path, reporter: &Reporter) -> Result<()> {
        self.guard(names, None, file, reporter)
    }

    /// [`TypoGuard::guard_new`], where `ages` maps the names the registry was asked about
    /// ([`TypoGuard::popular_suspects`]) to how long ago (seconds) it says they were first
    /// published; a suspect missing from it could not be dated. An established look-alike of a
    /// popular name passes with a warning; a young one is judged by the age-gated rules too.
    pub fn guard_new_established(
        &self,
        names: &[String],
        ages: &BTreeMap<String, u64>,
        file: &Path,
        reporter: &Reporter,
    ) -> Result<()> {
        self.guard(names, Some(ages), file, reporter)
    }

    /// `ages`: None offline (the age-gated rules are not applied: nothing dates the name).
    fn guard(
        &self,
        names: &[String],
        ages: Option<&BTreeMap<String, u64>>,
        file: &Path,
        reporter: &Reporter,
    ) -> Result<()> {
        let mut refused = Vec::new();
        for name in names {
            let age = age_of(ages, name);
            let verdict = self.judge(name, age, Severity::Error, file);
            let mut event = json!({"package": name});
            match verdict {
                Verdict::Established { message, age } => {
                    announce_established(reporter, name, &message, age);
                    continue;
                }
                Verdict::Suspect(f) => {
                    event["verdict"] = json!("refused");
                    event["message"] = json!(f.message);
                    refused.push(f);
                }
                Verdict::Clear if self.detector.allowed(name) => {
                    event["verdict"] = json!("allowed-by-policy")
                }
                Verdict::Clear => event["verdict"] = json!("passed"),
            }
            reporter.audit("typosquat-check", event);
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::Refused { findings: refused })
        }
    }
}

/// Says on stderr and in the audit log that `name`, a look-alike the registry says is
/// established, is installed anyway (`message`: [`Verdict::Established`]'s).
pub fn announce_established(reporter: &Reporter, name: &str, message: &str, age: u64) {
    eprintln!("lockgate: warning: {name} {message}; installing it");
    reporter.audit(
        "typosquat-check",
        json!({"package": name, "verdict": "established", "age_days": age / crate::cooldown::DAY, "message": message}),
    );
}

/// [`TypoGuard::judge`]'s verdict.
#[derive(Debug)]
pub enum Verdict {
    Clear,
    /// An established look-alike: passes; the message says why (for a warning).
    Established {
        message: String,
        age: u64,
    },
    Suspect(Finding),
}

/// The age to judge `name` by: `ages` None = the registry was not asked; a name it lacks could
/// not be dated.
pub fn age_of(ages: Option<&BTreeMap<String, u64>>, name: &str) -> Age {
    match ages {
        None => Age::Unasked,
        Some(m) => m.get(name).map_or(Age::Undated, |a| Age::Secs(*a)),
    }
}

/// When the npm registry at `registry` says `name` was first published (its full packument's
/// `time.created`, else the earliest version time for a registry that omits `created`; seconds
/// since the epoch); None when it cannot say.
pub async fn npm_first_published(client: &Client, registry: &Url, name: &str) -> Option<i64> {
    let url = crate::npm::plan::packument_url(registry, name);
    let (body, _) = client
        .get_bytes(&url, Some("application/json"), name)
        .await
        .ok()?;
    let doc: Value = serde_json::from_slice(&body).ok()?;
    first_published_of(&doc)
}

/// A packument's first-publish time: `time.created`, else the earliest version time (pure).
fn first_published_of(doc: &Value) -> Option<i64> {
    let time = doc.get("time")?.as_object()?;
    if let Some(c) = time.get("created").and_then(Value::as_str) {
        return crate::cooldown::parse_rfc3339(c);
    }
    time.iter()
        .filter(|(k, _)| k.as_str() != "modified")
        .filter_map(|(_, v)| v.as_str().and_then(crate::cooldown::parse_rfc3339))
        .min()
}

/// Seconds from `created` to now (the wall clock: a name's age is a fact of today, not moved by
/// `LOCKGATE_NOW`).
pub fn age_since(created: i64) -> u64 {
    crate::cooldown::wall_clock().saturating_sub(created).max(0) as u64
}

/// Internal names in an npm lockfile: in an internal scope, or resolved from an internal registry.
pub fn npm_internal_names(lock: &Lockfile, sources: &Sources) -> BTreeSet<String> {
    lock.entries
        .iter()
        .filter(|e| {
            !e.local
                && (sources.internal_registry(&e.name).is_some()
                    || resolved_internally(&e.resolved, sources))
        })
        .map(|e| e.name.clone())
        .collect()
}

/// Whether a lockfile `resolved` URL points at one of the internal registries.
fn resolved_internally(resolved: &Resolved, sources: &Sources) -> bool {
    match resolved {
        Resolved::Url(u) => reqwest::Url::parse(u).is_ok_and(|u| sources.is_internal_host(&u)),
        _ => false,
    }
}

/// The registry package an `npm install` argument names, read as npm reads it
/// ([`crate::npm::spec`]); `None` for one npm does not look up by name (a path, a tarball URL,
/// git, a GitHub `user/repo` shorthand).
pub fn npm_registry_name(spec: &str) -> Option<String> {
    crate::npm::spec::registry_spec(spec.trim()).map(|(name, _)| name.to_string())
}

/// The registry package a package.json dependency entry installs: the key, or the target of an
/// `npm:` alias; `None` when the spec is a path, URL, git or workspace reference.
fn npm_manifest_dependency(name: &str, spec: &str) -> Option<String> {
    crate::npm::spec::dependency_spec(name, spec).map(|(name, _)| name.to_string())
}

/// Registry dependencies package.json files list, by manifest key (`""` root, `packages/a`),
/// and the packages their `overrides` put in place of others through an `npm:` alias.
pub fn npm_direct_dependencies(manifests: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for manifest in manifests.values() {
        for t in DEP_TYPES {
            let Some(deps) = manifest.get(t).and_then(Value::as_object) else {
                continue;
            };
            out.extend(
                deps.iter().filter_map(|(n, s)| {
                    npm_manifest_dependency(n, s.as_str().unwrap_or_default())
                }),
            );
        }
        if let Some(overrides) = manifest.get("overrides") {
            npm_override_aliases(overrides, &mut out);
        }
    }
    out
}

/// The alias targets anywhere in an `overrides` tree (`"lodash": "npm:lodahs@4"`, nested under a
/// parent or not): npm installs them wherever the overridden package is needed, so a manifest
/// change adds them as surely as a dependency (a plain version override adds no name).
fn npm_override_aliases(overrides: &Value, out: &mut BTreeSet<String>) {
    let Some(map) = overrides.as_object() else {
        return;
    };
    for (key, value) in map {
        match value {
            Value::String(spec)
                if spec
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("npm:")) =>
            {
                out.extend(npm_manifest_dependency(key, spec));
            }
            Value::Object(_) => npm_override_aliases(value, out),
            _ => {}
        }
    }
}

/// The names an npm command adds that the lockfile does not already have: the registry packages
/// named on the command line plus the direct dependencies of `manifests`, minus every name the
/// lockfile holds (`lock` None: there is no lockfile, so every name is new). Sorted, unique.
pub fn npm_new_names(
    lock: Option<&Lockfile>,
    manifests: &BTreeMap<String, Value>,
    packages: &[String],
) -> Vec<String> {
    let known: BTreeSet<&str> = lock
        .iter()
        .flat_map(|l| l.entries.iter().map(|e| e.name.as_str()))
        .collect();
    let mut names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| npm_registry_name(p))
        .collect();
    names.extend(npm_direct_dependencies(manifests));
    names
        .into_iter()
        .filter(|n| !known.contains(n.as_str()))
        .collect()
}

/// Whether the requirement starting at `line` (1-based) of a requirements file is a direct
/// dependency. pip-compile follows each pin with `# via` comments naming `-r requirements.in` or
/// `(pyproject.toml)` for a direct dependency and the parent packages for the others; a requirement
/// without `# via` was written by hand, so it is direct.
pub fn pip_is_direct(text: &str, line: usize) -> bool {
    let mut lines = text.lines().skip(line.saturating_sub(1));
    // The requirement itself, with its `\` continuation lines (`--hash` options).
    for l in lines.by_ref() {
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    let comments: Vec<&str> = lines
        .map(str::trim)
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    let Some(via) = comments.iter().position(|c| c.starts_with("via")) else {
        return true;
    };
    comments[via..].iter().any(|c| {
        c.contains("-r ")
            || ["(pyproject.toml)", "(setup.py)", "(setup.cfg)"]
                .iter()
                .any(|f| c.ends_with(f))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npm::lockfile;

    fn sources() -> Sources {
        let mut internal = BTreeMap::new();
        internal.insert(
            "@myorg".to_string(),
            reqwest::Url::parse("https://npm.corp.example/").unwrap(),
        );
        Sources {
            public: reqwest::Url::parse("https://registry.npmjs.org/").unwrap(),
            internal,
            allow_non_registry: Vec::new(),
        }
    }

    fn policy(allow: &[&str]) -> Policy {
        Policy {
            typosquat_allow: allow.iter().map(|s| s.to_string()).collect(),
            ..Policy::default()
        }
    }

    const LOCK: &str = r#"{"lockfileVersion": 3, "packages": {
        "": {"dependencies": {"@myorg/payments-client": "^1", "legacy-billing": "^2", "express": "^4"}},
        "node_modules/@myorg/payments-client": {"version": "1.0.0", "resolved": "https://npm.corp.example/@myorg/payments-client/-/payments-client-1.0.0.tgz", "integrity": "sha512-AA=="},
        "node_modules/legacy-billing": {"version": "2.0.0", "resolved": "https://npm.corp.example/legacy-billing/-/legacy-billing-2.0.0.tgz", "integrity": "sha512-AA=="},
        "node_modules/express": {"version": "4.0.0", "resolved": "https://registry.npmjs.org/express/-/express-4.0.0.tgz", "integrity": "sha512-AA=="},
        "node_modules/expres": {"version": "1.0.0", "integrity": "sha512-AA=="}
    }}"#;

    fn lock() -> Lockfile {
        lockfile::parse(LOCK, Path::new("package-lock.json")).unwrap()
    }

    #[test]
    fn internal_names_come_from_scope_or_internal_host() {
        let names = npm_internal_names(&lock(), &sources());
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["@myorg/payments-client", "legacy-billing"]
        );
    }

    #[test]
    fn registry_names_from_install_arguments() {
        for (spec, want) in [
            ("expres", Some("expres")),
            ("expres@^1.0.0", Some("expres")),
            ("@myorg/payment-client@1", Some("@myorg/payment-client")),
            ("safe@npm:crossenv@1", Some("crossenv")),
            ("npm:crossenv@1", Some("crossenv")),
            ("./local-dir", None),
            ("/abs/pkg.tgz", None),
            ("pkg.tgz", None),
            ("git+https://github.com/o/r.git", None),
            ("github:o/r", None),
            ("o/r", None),
            ("https://example.com/x.tgz", None),
            ("file:../x", None),
            ("", None),
        ] {
            assert_eq!(npm_registry_name(spec).as_deref(), want, "{spec}");
        }
    }

    #[test]
    fn new_names_are_those_the_lockfile_lacks() {
        let manifests: BTreeMap<String, Value> = [(
            String::new(),
            serde_json::json!({
                "dependencies": {"express": "^4", "crossenv": "^1", "local": "file:../local", "gh": "o/r"},
                "devDependencies": {"alias": "npm:jquerry@1"}
            }),
        )]
        .into();
        let l = lock();
        assert_eq!(
            npm_new_names(Some(&l), &manifests, &["mongose@1".into(), "./dir".into()]),
            ["crossenv", "jquerry", "mongose"]
        );
        // An alias in `overrides`, nested or not, adds its target; a version override adds none.
        let overriding: BTreeMap<String, Value> = [(
            String::new(),
            serde_json::json!({
                "dependencies": {"express": "^4"},
                "overrides": {"debug": "npm:debgu@4", "express": {"qs": "NPM:q5@6", "send": "1.0.0", ".": "4.0.0"}}
            }),
        )]
        .into();
        assert_eq!(npm_new_names(Some(&l), &overriding, &[]), ["debgu", "q5"]);
        // An alias on the command line, with or without a name, adds the real package.
        assert_eq!(
            npm_new_names(
                Some(&l),
                &BTreeMap::new(),
                &["npm:mongose@1".into(), "x@npm:lodahs".into()]
            ),
            ["lodahs", "mongose"]
        );
        // No lockfile: every direct dependency is new.
        assert_eq!(
            npm_new_names(None, &manifests, &[]),
            ["crossenv", "express", "jquerry"]
        );
    }

    #[test]
    fn findings_say_what_was_seen_expected_and_how_to_allow() {
        let g = TypoGuard::npm(&policy(&[]), &sources(), Some(&lock()));
        let f = g
            .finding("expres", Severity::Error, Path::new("package.json"))
            .unwrap();
        assert_eq!(f.kind, Kind::Typosquat);
        assert_eq!(f.exit_code(), 24);
        assert!(
            f.message
                .contains("`express` (one character removed): did you mean `express`?"),
            "{}",
            f.message
        );
        assert!(
            f.hint.contains("[typosquat] allow = [\"expres\"]"),
            "{}",
            f.hint
        );
        // Internal names from the lockfile: an unscoped internal name is protected too.
        let f = g
            .finding("@myorg/payment-client", Severity::Warning, Path::new("l"))
            .unwrap();
        assert!(
            f.message
                .contains("your internal package `@myorg/payments-client`"),
            "{}",
            f.message
        );
        assert!(!f.is_error());
        assert!(g
            .finding("legacy-biling", Severity::Error, Path::new("l"))
            .is_some());
        assert!(g
            .finding("express", Severity::Error, Path::new("l"))
            .is_none());
    }

    #[test]
    fn guard_new_refuses_suspects_and_honours_the_allowlist() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let reporter = Reporter::new("npm", None, Some(log.clone()));
        let g = TypoGuard::npm(&policy(&["mongose"]), &sources(), None);
        let e = g
            .guard_new(
                &["express".into(), "crossenv".into(), "mongose".into()],
                Path::new("package.json"),
                &reporter,
            )
            .unwrap_err();
        assert_eq!(e.exit_code(), 24);
        assert!(e.to_string().contains("crossenv"), "{e}");
        assert!(!e.to_string().contains("mongose"), "{e}");
        let lines: Vec<Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let verdicts: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["package"].as_str().unwrap(),
                    l["verdict"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                ("express", "passed"),
                ("crossenv", "refused"),
                ("mongose", "allowed-by-policy")
            ]
        );
        assert!(g
            .guard_new(&["express".into()], Path::new("package.json"), &reporter)
            .is_ok());
    }

    #[test]
    fn first_published_is_created_else_the_earliest_version() {
        let t = |doc: Value| first_published_of(&doc);
        let y2020 = crate::cooldown::parse_rfc3339("2020-01-01T00:00:00Z");
        assert_eq!(
            t(
                json!({"time": {"created": "2020-01-01T00:00:00Z", "1.0.0": "2019-01-01T00:00:00Z"}})
            ),
            y2020
        );
        assert_eq!(
            t(
                json!({"time": {"modified": "2019-01-01T00:00:00Z", "2.0.0": "2021-01-01T00:00:00Z", "1.0.0": "2020-01-01T00:00:00.000Z"}})
            ),
            y2020
        );
        assert_eq!(t(json!({"versions": {}})), None);
        assert_eq!(
            t(json!({"time": {"modified": "2019-01-01T00:00:00Z"}})),
            None
        );
    }

    #[test]
    fn pip_compile_via_comments_tell_direct_from_transitive() {
        // pip-compile 7's output with --generate-hashes.
        let text = "\
#
# This file is autogenerated by pip-compile with Python 3.11
#
certifi==2024.2.2 \\
    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \\
    --hash=sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1
    # via requests
reqeusts==2.31.0 \\
    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f
    # via -r requirements.in
urlib3==2.2.1 \\
    --hash=sha256:450b20ec296a467077128bff42b73080516e71b56ff59a60a02bef2232c4fa9d
    # via
    #   -r requirements.in
    #   requests
idna==3.6
    # via
    #   requests
    #   yarl
myproj-helper==1.0
    # via myproj (pyproject.toml)
colourama==0.4.6
";
        assert!(!pip_is_direct(text, 4), "certifi");
        assert!(pip_is_direct(text, 8), "reqeusts");
        assert!(pip_is_direct(text, 11), "urlib3");
        assert!(!pip_is_direct(text, 16), "idna");
        assert!(pip_is_direct(text, 20), "myproj-helper");
        assert!(pip_is_direct(text, 22), "hand-written colourama");
    }

    #[test]
    fn pip_guard_uses_internal_prefixes() {
        let p = crate::policy::merge(
            None,
            Some((
                Path::new("p"),
                &crate::policy::parse("[pip.internal]\nindex-url = \"https://pypi.corp.example/simple/\"\nprefixes = [\"myorg-\"]\n", Path::new("p")).unwrap(),
            )),
        )
        .unwrap();
        let g = TypoGuard::pip(&p, &["myorg-payments-client".into()]);
        let f = g
            .finding(
                "payments-client",
                Severity::Error,
                Path::new("requirements.txt"),
            )
            .unwrap();
        assert!(
            f.message.contains(
                "your internal package `myorg-payments-client` (internal prefix removed)"
            ),
            "{}",
            f.message
        );
        assert!(g
            .finding("reqeusts", Severity::Error, Path::new("r"))
            .is_some());
        assert!(g
            .finding("Requests", Severity::Error, Path::new("r"))
            .is_none());
    }
}
