//! `lockgate check [DIR]`: the CI gate over a project's lockfiles and manifests, installing
//! nothing.
//!
//! It audits the npm lockfile and the pip requirements files in DIR against the policy: confusion,
//! missing or weak hashes, non-registry and insecure sources, install scripts that are not
//! allowlisted, typosquats (a direct dependency is an error, a transitive one a warning), and
//! internal packages whose names anyone could claim publicly. With `--public` it also asks the
//! public registries the policy names whether each internal name exists there. Findings go to
//! stdout as text, JSON or SARIF 2.1.0; the exit code is that of the most severe error finding, so
//! a CI step fails exactly when a guarded install would refuse. A Maven project's lock is audited
//! by `maven::audit` (missing or malformed lock, internal-repository credentials, http sources).
//! With `--cooldown` it asks the registries when each locked public version was published and
//! reports versions younger than `[cooldown] min-age` (the Renovate/Dependabot pull request that
//! bumps to an hour-old release) and direct dependencies first published less than
//! `new-package-age` ago, as errors (28).
//! Unless `--offline`, every locked artifact is then looked up on its one permitted source as
//! the install does ([`look_up_locked`]: pip's own lookup, npm packuments, Maven `.sha256`), so
//! check exits 22/23/27 where the install would; `--offline` says in its output that it did not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde_json::json;

use crate::error::{Error, Result};
use crate::fetch::Client;
use crate::finding::{most_severe, Finding, Kind, Severity};
use crate::npm;
use crate::pip::requirements;
use crate::policy::{self, Policy};
use crate::report::{self, Reporter};
use crate::typoguard::{self, TypoGuard};
use crate::typosquat::Age;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

const PYPI_SIMPLE: &str = "https://pypi.org/simple/";

/// An internal package name the project uses, for `--public`.
#[derive(Debug, Clone)]
struct InternalName {
    eco: Eco,
    name: String,
    file: PathBuf,
    line: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eco {
    Npm,
    Pip,
}

/// A locked public version, for `--cooldown`.
#[derive(Debug, Clone)]
struct LockedVersion {
    eco: Eco,
    name: String,
    version: String,
    /// sha256 hex of the locked files (pip), to date exactly those files.
    hashes: Vec<String>,
    direct: bool,
    file: PathBuf,
    line: Option<usize>,
}

/// A direct dependency's name, for the typosquat verdict (an error when it is a squat).
#[derive(Debug, Clone)]
struct DirectName {
    eco: Eco,
    name: String,
    file: PathBuf,
    line: Option<usize>,
}

/// What the audits of one directory found.
#[derive(Default)]
struct Audit {
    findings: Vec<Finding>,
    /// Lockfiles and requirements files read.
    files: Vec<PathBuf>,
    internal: Vec<InternalName>,
    locked: Vec<LockedVersion>,
    /// Direct dependencies, judged as typosquats once the registries have dated them.
    direct: Vec<DirectName>,
    npm_guard: Option<TypoGuard>,
    pip_guard: Option<TypoGuard>,
    /// How many entries each file yielded, as the real tool counts them: npm's packages (a link
    /// counts once, as its target), pip's requirement and constraint lines, includes followed.
    read: Vec<(PathBuf, usize)>,
}

/// Audits DIR and prints the findings in `format`. With `--format json` or `sarif`, an error that
/// stops the audit (no policy, no lockfile at all…) still prints one valid document on stdout,
/// saying the audit failed, besides the message on stderr; CI steps that upload the output keep
/// working and the exit code is the error's.
pub fn run(dir: &Path, format: Format, public: bool, cooldown: bool, offline: bool) -> Result<i32> {
    match audit_dir(dir, format, public, cooldown, offline) {
        Err(e) if format != Format::Text => {
            eprint!("{}", e.report());
            print_failure(format, dir, &e);
            Ok(e.exit_code())
        }
        other => other,
    }
}

fn audit_dir(
    dir: &Path,
    format: Format,
    public: bool,
    cooldown: bool,
    offline: bool,
) -> Result<i32> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Error::io("open the project directory", dir, e))?;
    let policy = policy::load(&dir)?;
    let reporter = Reporter::from_env("check");
    let mut audit = Audit::default();
    let npmrc = npm::npmrc::load(&dir, Path::new("/nonexistent"), &[]);
    let sources = npm::sources(&policy, &npmrc)?;
    // A file that cannot be read as a whole is one finding; the other files are still audited.
    if let Some(lock) = npm::find_lockfile(&dir) {
        let r = check_npm(&dir, &lock, &policy, &sources, &mut audit);
        contain(r, &lock, &mut audit)?;
    }
    let pip_files = pip_requirement_files(&dir);
    if !pip_files.is_empty() {
        check_pip_typosquats(&pip_files, &policy, &mut audit)?;
    }
    let pip_locks = crate::pip::find_locks(&dir);
    for f in pip_locks.iter().cloned() {
        if !audit
            .findings
            .iter()
            .any(|x| x.file == f && x.kind == Kind::Lockfile && x.is_error())
        {
            let r = check_pip(&f, &policy).map(|found| audit.findings.extend(found));
            contain(r, &f, &mut audit)?;
        }
        if !audit.files.contains(&f) {
            audit.files.push(f);
        }
    }
    if let Some((lock, findings)) = check_maven(&dir, &policy)? {
        audit.findings.extend(findings);
        audit.files.push(lock);
    }
    crate::maven::wrapper::audit_into(&dir, &policy, &mut audit.files, &mut audit.findings);
    if !audit.files.is_empty() {
        // About the machine, not a file: no location.
        let stale = crate::feed::check_freshness(&policy.feed, Path::new(""));
        audit.findings.extend(stale);
    }
    let npm_online = npm::find_lockfile(&dir).map(|lock| {
        let creds = crate::online::npm_credentials(&policy, &npmrc);
        (lock, creds)
    });
    let lookups = look_up_locked(
        &dir,
        &pip_locks,
        npm_online
            .as_ref()
            .map(|(l, c)| (l.as_path(), &sources, c.clone())),
        &policy,
        &reporter,
        offline,
        &mut audit,
    )?;
    if audit.files.is_empty() {
        return Err(Error::lockfile(
            &dir,
            "no lockfile found (package-lock.json, npm-shrinkwrap.json, requirements*.txt, pylock.toml, .mvn/checksums/checksums.sha256)",
            "run `lockgate check` in the project directory, or pass it as DIR",
        ));
    }
    let pip_index = policy
        .pip
        .index_url
        .clone()
        .unwrap_or_else(|| Url::parse(PYPI_SIMPLE).expect("constant URL"));
    if !audit.direct.is_empty() {
        let client = if offline {
            None
        } else {
            Some(Client::new(npmrc.credentials(), reporter.clone())?)
        };
        let found = crate::tool::runtime()?.block_on(judge_direct(
            &audit,
            client.as_ref(),
            &sources.public,
            &pip_index,
        ));
        audit.findings.extend(found);
    }
    let cooldown = cooldown && !policy.cooldown.is_off();
    if public || cooldown {
        // The online questions `--public` and `--cooldown` ask the public registries.
        let client = Client::new(npmrc.credentials(), reporter.clone())?;
        let rt = crate::tool::runtime()?;
        if public {
            let probed = rt.block_on(probe_public(
                &client,
                &sources.public,
                &pip_index,
                &audit.internal,
            ))?;
            // The probe's verdict on an unscoped internal name replaces the lockfile's
            // "claimable".
            let answered: BTreeSet<&str> = probed.iter().map(|f| f.package.as_str()).collect();
            audit.findings.retain(|f| {
                !(f.kind == Kind::UnscopedInternal && answered.contains(f.package.as_str()))
            });
            audit.findings.extend(probed);
        }
        if cooldown {
            let found = rt.block_on(probe_cooldown(
                &client,
                &policy.cooldown,
                &sources.public,
                &pip_index,
                &audit.locked,
            ))?;
            audit.findings.extend(found);
        }
    }
    for f in audit
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Confusion && f.is_error())
    {
        reporter.count(report::CONFUSION, &[("package", strip_version(&f.package))]);
    }
    for f in &audit.findings {
        reporter.audit("check", json!({"kind": f.kind.id(), "severity": f.severity, "package": f.package, "message": f.message}));
    }
    reporter.flush();
    let code = most_severe(&audit.findings);
    print(format, &dir, &audit, code, &lookups);
    Ok(code)
}

/// What the online pass did, for the output: `done` (how many entries were looked up, per
/// ecosystem) or skipped with `--offline`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lookups {
    pub skipped: bool,
    pub summary: String,
}

/// The install's guard without the install: the locked files looked up on their permitted
/// sources as a guarded install would (pip: [`crate::pip::check_online`]), unless `--offline`.
fn look_up_locked(
    dir: &Path,
    pip_locks: &[PathBuf],
    npm_lock: Option<(&Path, &npm::plan::Sources, Vec<crate::fetch::Credential>)>,
    policy: &Policy,
    reporter: &Reporter,
    offline: bool,
    audit: &mut Audit,
) -> Result<Lookups> {
    if offline {
        return Ok(Lookups {
            skipped: true,
            summary: "skipped (--offline): locked files were not looked up on their permitted indexes, so an internal name pinned to a public file (22), a hash the index does not have (23) or a missing file (27) is not detected".into(),
        });
    }
    let mut done = Vec::new();
    if let Some((lock, sources, creds)) = npm_lock {
        let client = Client::new(creds, reporter.clone())?;
        let (findings, n) =
            crate::tool::runtime()?.block_on(crate::online::check_npm(lock, sources, &client))?;
        audit.findings.extend(findings);
        done.push(format!(
            "npm: {n} locked tarballs looked up on their permitted registries"
        ));
    }
    if dir.join(crate::maven::lock::LOCK_FILE).is_file() {
        // The credential a guarded build would use (policy, or the settings.xml server).
        let real = which::which("mvn").unwrap_or_else(|_| PathBuf::from("/nonexistent"));
        let creds = crate::maven::doctor_credential(policy, dir, &real)?;
        let client = Client::new(creds.into_iter().collect(), reporter.clone())?;
        let (findings, n) =
            crate::tool::runtime()?.block_on(crate::online::check_maven(dir, policy, &client))?;
        audit.findings.extend(findings);
        done.push(format!(
            "Maven: {n} locked files looked up on their permitted repositories"
        ));
    }
    if !pip_locks.is_empty() {
        let (findings, n) = crate::tool::runtime()?
            .block_on(crate::pip::check_online(policy, pip_locks, reporter))?;
        audit.findings.extend(findings);
        done.push(format!(
            "pip: {n} locked packages looked up on their permitted indexes"
        ));
    }
    Ok(Lookups {
        skipped: false,
        summary: if done.is_empty() {
            "nothing to look up".into()
        } else {
            done.join("; ")
        },
    })
}

fn check_npm(
    dir: &Path,
    lock_path: &Path,
    policy: &Policy,
    sources: &npm::plan::Sources,
    audit: &mut Audit,
) -> Result<()> {
    let lock = npm::read_lockfile(lock_path)?;
    audit
        .read
        .push((lock_path.to_path_buf(), lock.node_count()));
    // Audit every entry, whatever platform or omission a particular install would use.
    let plan = npm::plan::plan(&lock, sources, &npm::plan::Target::any());
    let mut findings = plan.findings.clone();
    let locked = lock.entries.iter().filter(|e| !e.local);
    let entries = locked.map(|e| (e.name.as_str(), e.version.as_str(), e.line));
    findings.extend(crate::feed::audit(
        crate::feed::Eco::Npm,
        lock_path,
        entries,
    ));
    let manifests = match npm::read_manifests(dir, &lock) {
        Ok(m) => m,
        // The entries are audited all the same; the missing or broken manifest is one finding.
        Err(Error::Lockfile { path, msg, hint }) => {
            findings.push(
                Finding::error(Kind::Lockfile, "package.json", path)
                    .msg(msg)
                    .hint(hint),
            );
            BTreeMap::new()
        }
        Err(e) => return Err(e),
    };
    let diffs = npm::lockfile::out_of_sync(&lock, &manifests);
    if !diffs.is_empty() {
        findings.push(
            Finding::error(Kind::Lockfile, "package.json", lock_path)
                .msg(format!("the lockfile is out of sync: {}", diffs.join("; ")))
                .hint("run `npm install` through lockgate, review and commit the lockfile"),
        );
    }
    let scripts = npm::scripts::decide(
        &lock,
        &plan,
        &policy.npm.scripts_allow,
        &policy.npm.scripts_network,
    );
    for b in scripts.blocked {
        findings.push(
            Finding::warning(Kind::InstallScript, &b, lock_path)
                .msg("has an install script that is not allowlisted; lockgate will not run it")
                .hint(format!(
                    "if it is needed, review it and add it to [npm.scripts] allow: \"{}\"",
                    strip_version(&b)
                )),
        );
    }
    // Typosquats: every name once; direct dependencies (those package.json lists, locked or
    // not) are judged later, with the registry's dates unless offline; transitive ones are
    // warnings.
    let guard = TypoGuard::npm(policy, sources, Some(&lock));
    let direct = typoguard::npm_direct_dependencies(&manifests);
    let mut seen = BTreeSet::new();
    for e in lock.entries.iter().filter(|e| !e.local) {
        if seen.insert(e.name.as_str()) {
            if direct.contains(&e.name) {
                audit.direct.push(DirectName {
                    eco: Eco::Npm,
                    name: e.name.clone(),
                    file: lock_path.to_path_buf(),
                    line: e.line,
                });
            } else if let Some(mut f) = guard.finding(&e.name, Severity::Warning, lock_path) {
                f.line = e.line;
                findings.push(f);
            }
        }
    }
    let manifest_path = dir.join("package.json");
    let manifest_text = std::fs::read_to_string(&manifest_path).unwrap_or_default();
    for name in direct.iter().filter(|n| !seen.contains(n.as_str())) {
        audit.direct.push(DirectName {
            eco: Eco::Npm,
            name: name.clone(),
            file: manifest_path.clone(),
            line: line_of_key(&manifest_text, name),
        });
    }
    audit.npm_guard = Some(guard);
    // The seed's step 1: an internal package without an internal scope can be claimed publicly.
    let internal = typoguard::npm_internal_names(&lock, sources);
    let mut reported = BTreeSet::new();
    for e in lock.entries.iter().filter(|e| internal.contains(&e.name)) {
        let scoped = sources.internal_registry(&e.name).is_some();
        if reported.insert(e.name.clone()) {
            audit.internal.push(InternalName {
                eco: Eco::Npm,
                name: e.name.clone(),
                file: lock_path.to_path_buf(),
                line: e.line,
            });
            if !scoped {
                let mut f = Finding::warning(Kind::UnscopedInternal, &e.name, lock_path)
                    .msg("comes from the internal registry but has no internal scope, so anyone can publish a package of that name on the public registry")
                    .hint(format!("move it under an internal scope (e.g. `@myorg/{}`) and add the scope to [npm.internal] scopes; `lockgate check --public` tells whether the name is already taken", e.name));
                f.line = e.line;
                findings.push(f);
            }
        }
    }
    for name in direct
        .iter()
        .filter(|n| sources.internal_registry(n).is_some() && !reported.contains(*n))
    {
        audit.internal.push(InternalName {
            eco: Eco::Npm,
            name: name.clone(),
            file: manifest_path.clone(),
            line: line_of_key(&manifest_text, name),
        });
    }
    // Public registry versions, for `--cooldown` (internal names are never delayed).
    let mut locked_seen = BTreeSet::new();
    for e in lock.entries.iter().filter(|e| {
        !e.local && !internal.contains(&e.name) && sources.internal_registry(&e.name).is_none()
    }) {
        if locked_seen.insert(e.id()) {
            audit.locked.push(LockedVersion {
                eco: Eco::Npm,
                name: e.name.clone(),
                version: e.version.clone(),
                hashes: Vec::new(),
                direct: direct.contains(&e.name),
                file: lock_path.to_path_buf(),
                line: e.line,
            });
        }
    }
    // Point each lockfile finding at its entry's line.
    let lines: BTreeMap<String, usize> = lock
        .entries
        .iter()
        .filter_map(|e| Some((e.id(), e.line?)))
        .collect();
    for f in findings
        .iter_mut()
        .filter(|f| f.line.is_none() && f.file == lock_path)
    {
        f.line = lines.get(&f.package).copied();
    }
    audit.findings.extend(findings);
    audit.files.push(lock_path.to_path_buf());
    Ok(())
}

/// One pip lock (`requirements*.txt`, `pylock*.toml`) against the policy: hashes, pins, direct
/// references, confusion in pylock sources, refused sdists, index options inside the files.
fn check_pip(file: &Path, policy: &Policy) -> Result<Vec<Finding>> {
    crate::pip::check(policy, &[file.to_path_buf()])
}

/// Turns an error about one file (unreadable, malformed, refused) into findings for that file,
/// so the audit goes on; any other error stops it.
fn contain(r: Result<()>, file: &Path, audit: &mut Audit) -> Result<()> {
    match r {
        Ok(()) => return Ok(()),
        Err(Error::Lockfile { path, msg, hint }) => {
            audit.findings.push(
                Finding::error(Kind::Lockfile, file_label(&path), &path)
                    .msg(msg)
                    .hint(hint),
            );
        }
        Err(Error::Refused { findings }) => audit.findings.extend(findings),
        Err(e) => return Err(e),
    }
    if !audit.files.iter().any(|f| f == file) {
        audit.files.push(file.to_path_buf());
    }
    Ok(())
}

/// `requirements*.txt` in DIR, sorted.
fn pip_requirement_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        })
        .collect();
    files.sort();
    files
}

/// Typosquats among the requirements (direct ones are errors, the pins pip-compile adds for
/// their dependencies warnings), and the internal names they use.
fn check_pip_typosquats(files: &[PathBuf], policy: &Policy, audit: &mut Audit) -> Result<()> {
    let mut requirements = Vec::new();
    for file in files {
        audit.files.push(file.clone());
        match requirements::load(file) {
            Ok(set) => {
                audit.read.push((file.clone(), set.requirements.len()));
                requirements.extend(set.requirements.into_iter().filter(|r| !r.constraint))
            }
            Err(e) => {
                let line = match &e {
                    requirements::RequirementsError::Line { file: f, line, .. } if f == file => {
                        Some(*line)
                    }
                    _ => None,
                };
                let mut f = Finding::error(Kind::Lockfile, file_label(file), file)
                    .msg(format!("cannot be read as pip reads it: {e}"))
                    .hint("fix the file; pip would refuse it or read it differently");
                f.line = line;
                audit.findings.push(f);
            }
        }
    }
    let prefixes: Vec<String> = policy
        .pip
        .internal
        .iter()
        .flat_map(|i| i.prefixes.iter().map(|p| crate::pip::name::normalize(p)))
        .collect();
    let mut internal = BTreeSet::new();
    for r in &requirements {
        let Some(name) = r.normalized_name() else {
            continue;
        };
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) && internal.insert(name.clone()) {
            audit.internal.push(InternalName {
                eco: Eco::Pip,
                name,
                file: r.origin.file.clone(),
                line: Some(r.origin.line),
            });
        }
    }
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    for r in &requirements {
        let Some(name) = r.normalized_name() else {
            continue;
        };
        let pin = r.text.split(';').next().unwrap_or_default();
        let Some((_, version)) = pin.split_once("==") else {
            continue;
        };
        if internal.contains(&name) || version.contains(['*', ',']) {
            continue;
        }
        let text = texts
            .entry(r.origin.file.clone())
            .or_insert_with(|| std::fs::read_to_string(&r.origin.file).unwrap_or_default());
        audit.locked.push(LockedVersion {
            eco: Eco::Pip,
            direct: typoguard::pip_is_direct(text, r.origin.line),
            name,
            version: version.trim().to_string(),
            hashes: r
                .hashes
                .iter()
                .filter(|h| h.algorithm == "sha256")
                .map(|h| h.digest.clone())
                .collect(),
            file: r.origin.file.clone(),
            line: Some(r.origin.line),
        });
    }
    let guard = TypoGuard::pip(policy, &internal.iter().cloned().collect::<Vec<_>>());
    let mut seen = BTreeSet::new();
    for r in &requirements {
        let (Some(name), Some(normalized)) = (&r.name, r.normalized_name()) else {
            continue;
        };
        if !seen.insert(normalized) {
            continue;
        }
        let text = texts
            .entry(r.origin.file.clone())
            .or_insert_with(|| std::fs::read_to_string(&r.origin.file).unwrap_or_default());
        if typoguard::pip_is_direct(text, r.origin.line) {
            audit.direct.push(DirectName {
                eco: Eco::Pip,
                name: name.clone(),
                file: r.origin.file.clone(),
                line: Some(r.origin.line),
            });
        } else if let Some(mut f) = guard.finding(name, Severity::Warning, &r.origin.file) {
            f.line = Some(r.origin.line);
            audit.findings.push(f);
        }
    }
    audit.pip_guard = Some(guard);
    Ok(())
}

/// The typosquat verdict on each direct dependency (an error for a squat). Unless `offline`, the
/// registries are asked first when a name's age can change the verdict, as an install asks:
/// an established look-alike of a popular name is a warning, and a young name meets the
/// age-gated rules too. Offline, the name-only rules decide.
async fn judge_direct(
    audit: &Audit,
    client: Option<&Client>,
    npm_registry: &Url,
    pip_index: &Url,
) -> Vec<Finding> {
    let guard = |eco| match eco {
        Eco::Npm => audit.npm_guard.as_ref(),
        Eco::Pip => audit.pip_guard.as_ref(),
    };
    let ages = audit.direct.iter().map(|d| async move {
        let Some(g) = guard(d.eco) else {
            return Age::Unasked;
        };
        let Some(client) = client else {
            return Age::Unasked;
        };
        if !g.needs_age(&d.name) {
            return Age::Undated;
        }
        let created = match d.eco {
            Eco::Npm => typoguard::npm_first_published(client, npm_registry, &d.name).await,
            Eco::Pip => crate::pip::first_uploaded(client, pip_index, &d.name).await,
        };
        created.map_or(Age::Undated, |c| Age::Secs(typoguard::age_since(c)))
    });
    let ages = futures_util::future::join_all(ages).await;
    let mut out = Vec::new();
    for (d, age) in audit.direct.iter().zip(ages) {
        let Some(g) = guard(d.eco) else { continue };
        let mut f = match g.judge(&d.name, age, Severity::Error, &d.file) {
            typoguard::Verdict::Clear => continue,
            typoguard::Verdict::Suspect(f) => f,
            typoguard::Verdict::Established { message, .. } => {
                Finding::warning(Kind::Typosquat, &d.name, &d.file)
                    .msg(message)
                    .hint("nothing to do; lockgate installs it")
            }
        };
        f.line = d.line;
        out.push(f);
    }
    out
}

/// Asks the public registries whether each internal name exists there. Exists: someone else holds
/// the name (error 22). Missing: fine for a scoped npm name (nobody else can publish in the
/// scope); any other name is claimable (warning).
async fn probe_public(
    client: &Client,
    npm_public: &Url,
    pip_index: &Url,
    names: &[InternalName],
) -> Result<Vec<Finding>> {
    let probes = names.iter().map(|n| async move {
        let (url, accept, registry) = match n.eco {
            Eco::Npm => (
                npm::plan::packument_url(npm_public, &n.name),
                "application/json",
                npm_public,
            ),
            Eco::Pip => (
                pip_index
                    .join(&format!("{}/", crate::pip::name::normalize(&n.name)))
                    .unwrap_or_else(|_| pip_index.clone()),
                "text/html",
                pip_index,
            ),
        };
        client
            .exists(&url, Some(accept), &n.name)
            .await
            .map(|found| public_verdict(n, found, registry))
    });
    let answers = futures_util::future::join_all(probes).await;
    let mut out = Vec::new();
    for a in answers {
        out.extend(a?);
    }
    Ok(out)
}

/// A registry answer `check --cooldown` cannot read: an error (27), not a version it could not
/// date (a warning), so a broken proxy page never passes as "no time published".
fn unreadable(name: &str, url: &Url, detail: String) -> Error {
    Error::Unavailable {
        package: name.to_string(),
        url: crate::error::redact_url(url.as_str()),
        detail,
    }
}

/// `--cooldown`: when was each locked public version published? npm: the full packument's
/// `time`; pip: the PEP 700 `upload-time` of the locked files (the newest of them). A registry that
/// publishes no time gives a warning: `check` keeps no first-seen records.
async fn probe_cooldown(
    client: &Client,
    policy: &crate::cooldown::Cooldown,
    npm_public: &Url,
    pip_index: &Url,
    locked: &[LockedVersion],
) -> Result<Vec<Finding>> {
    use crate::cooldown::{self as cd, Clock, Decision, Held};
    let now = cd::now();
    let names: BTreeSet<(bool, &str)> = locked
        .iter()
        .map(|l| (l.eco == Eco::Npm, l.name.as_str()))
        .collect();
    let fetches = names.iter().map(|(npm, name)| async move {
        let doc = if *npm {
            let url = npm::plan::packument_url(npm_public, name);
            match client.get_bytes(&url, Some("application/json"), name).await {
                Ok((b, _)) => match serde_json::from_slice::<serde_json::Value>(&b) {
                    Ok(doc) if doc.is_object() => Ok(Page::Npm(doc)),
                    _ => Err(unreadable(
                        name,
                        &url,
                        "answered with something that is not a packument (a JSON object)".into(),
                    )),
                },
                Err(e) => Err(e),
            }
        } else {
            let url = Url::parse(&crate::pip::index::project_url(pip_index.as_str(), name))
                .unwrap_or_else(|_| pip_index.clone());
            let accept = crate::pip::index::ACCEPT;
            match client.get(&url, Some(accept), name).await {
                Ok(f) => {
                    let ct = f
                        .response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("text/html")
                        .to_string();
                    let final_url = f.final_url.to_string();
                    let body = f.response.text().await.unwrap_or_default();
                    crate::pip::index::parse_page(&final_url, &ct, &body)
                        .map(Page::Pip)
                        .map_err(|e| unreadable(name, &url, e.what))
                }
                Err(e) => Err(e),
            }
        };
        ((*npm, name.to_string()), doc)
    });
    // At most 16 registry requests at a time (a lockfile may name a thousand packages).
    let pages: BTreeMap<(bool, String), Result<Page>> = {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(fetches)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    };
    let mut out = Vec::new();
    let mut new_checked = BTreeSet::new();
    for l in locked {
        let norm: fn(&str) -> String = match l.eco {
            Eco::Npm => str::to_string,
            Eco::Pip => crate::pip::name::normalize,
        };
        if policy.excluded(&l.name, Some(&l.version), norm) {
            continue;
        }
        let page = match pages.get(&(l.eco == Eco::Npm, l.name.clone())) {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                return Err(Error::Unavailable {
                    package: l.name.clone(),
                    url: String::new(),
                    detail: format!("could not be dated for --cooldown: {e}"),
                })
            }
            None => continue,
        };
        let (published, created, clock) = match page {
            Page::Npm(doc) => {
                let published = doc["time"][&l.version].as_str().and_then(cd::parse_rfc3339);
                // Dated as the install dates a name.
                (published, cd::npm_created(doc), Clock::NpmTime)
            }
            Page::Pip(files) => {
                let ours = files.iter().filter(|f| {
                    crate::pip::wheel::DistName::parse(&f.filename).is_ok_and(|d| {
                        crate::pip::version::Version::parse(d.version()).ok()
                            == crate::pip::version::Version::parse(&l.version).ok()
                    }) && (l.hashes.is_empty()
                        || f.sha256.as_ref().is_some_and(|h| l.hashes.contains(h)))
                });
                let times: Vec<Option<i64>> = ours
                    .map(|f| f.upload_time.as_deref().and_then(cd::parse_rfc3339))
                    .collect();
                let published = if times.is_empty() || times.iter().any(Option::is_none) {
                    None
                } else {
                    times.iter().flatten().max().copied()
                };
                let created = files
                    .iter()
                    .filter_map(|f| f.upload_time.as_deref().and_then(cd::parse_rfc3339))
                    .min();
                (published, created, Clock::UploadTime)
            }
        };
        let finding = |h: Held| {
            let mut f = h.finding(policy, &l.file);
            f.line = l.line;
            f
        };
        match published {
            Some(p) => {
                if let Decision::Hold { age } = policy.decide(p, now) {
                    out.push(finding(Held {
                        name: l.name.clone(),
                        version: Some(l.version.clone()),
                        published: p,
                        age,
                        clock,
                    }));
                }
            }
            None => {
                let mut f = Finding::warning(Kind::TooNew, format!("{}@{}", l.name, l.version), &l.file)
                    .msg("the registry publishes no time for this version, so `check --cooldown` cannot date it")
                    .hint("a guarded install dates it by lockgate's first-seen record instead");
                f.line = l.line;
                out.push(f);
            }
        }
        if l.direct && new_checked.insert(l.name.clone()) && policy.new_package_age > 0 {
            if let Some(c) = created {
                if let Decision::Hold { age } = policy.decide_new(c, now) {
                    out.push(finding(Held {
                        name: l.name.clone(),
                        version: None,
                        published: c,
                        age,
                        clock,
                    }));
                }
            }
        }
    }
    Ok(out)
}

enum Page {
    Npm(serde_json::Value),
    Pip(Vec<crate::pip::index::FileEntry>),
}

/// The finding for one internal name after asking the public registry.
fn public_verdict(n: &InternalName, exists: bool, registry: &Url) -> Option<Finding> {
    let scoped = n.eco == Eco::Npm && n.name.starts_with('@');
    let where_ = crate::fetch::origin_label(registry);
    let mut f = match (exists, scoped) {
        (true, _) => Finding::error(Kind::Confusion, &n.name, &n.file)
            .msg(format!("is an internal package, but {where_} also has a package of that name: someone else holds your internal name publicly, so any resolver that consults the public registry can install theirs"))
            .hint(match n.eco {
                Eco::Npm if scoped => "keep installing through lockgate (it routes the scope only to the internal registry); find out who owns the scope on the public registry and have the package taken down, or move to a scope your organisation owns there",
                Eco::Npm => "keep installing through lockgate (it routes internal names only to the internal registry); rename the package under an internal scope your organisation owns publicly, and report the public copy",
                Eco::Pip => "keep installing through lockgate (it routes internal prefixes only to the internal index); report the public copy to the index and rename or reserve your internal names",
            }),
        (false, true) => return None,
        (false, false) => Finding::warning(Kind::UnscopedInternal, &n.name, &n.file)
            .msg(format!("is an internal package that {where_} does not have yet: anyone can claim the name there"))
            .hint(match n.eco {
                Eco::Npm => "move it under an internal scope your organisation owns on the public registry, or publish a placeholder there to reserve the name",
                Eco::Pip => "reserve the name on the public index with a placeholder release, so nobody else can publish it",
            }),
    };
    f.line = n.line;
    Some(f)
}

/// The line of the first `"key":` in a JSON text (package.json's dependency entries).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(&quoted)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

/// The Maven lock (missing, malformed, unroutable lines), internal-repository credentials and
/// plain-http repositories in pom.xml; `None` when DIR is no Maven project.
fn check_maven(dir: &Path, policy: &Policy) -> Result<Option<(PathBuf, Vec<Finding>)>> {
    crate::maven::audit(dir, policy)
}

fn file_label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The output of an audit that could not run: a JSON document with the error, or a SARIF log
/// whose one run has no results and an invocation that failed with the error's message.
fn print_failure(format: Format, dir: &Path, e: &Error) {
    let message = e.to_string();
    let doc = match format {
        Format::Text => return,
        Format::Json => json!({
            "lockfiles": [],
            "exit_code": e.exit_code(),
            "errors": 1,
            "warnings": 0,
            "findings": [],
            "error": {"message": message, "hint": e.hint(), "exit_code": e.exit_code()},
        }),
        Format::Sarif => {
            let mut doc = crate::sarif::render(&[], dir);
            doc["runs"][0]["invocations"] = json!([{
                "executionSuccessful": false,
                "exitCode": e.exit_code(),
                "toolExecutionNotifications": [{
                    "level": "error",
                    "message": {"text": format!("{message}; next: {}", e.hint())},
                }],
            }]);
            doc
        }
    };
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}

fn strip_version(id: &str) -> &str {
    // pip ids are `name==version`, npm ids `name@version`.
    let id = id.split("==").next().unwrap_or(id);
    id.rsplit_once('@')
        .filter(|(n, _)| !n.is_empty())
        .map_or(id, |(n, _)| n)
}

fn print(format: Format, dir: &Path, audit: &Audit, code: i32, lookups: &Lookups) {
    let (audited, findings) = (&audit.files, &audit.findings);
    match format {
        Format::Json => {
            let read: Vec<_> = audit
                .read
                .iter()
                .map(|(file, entries)| json!({"file": file, "entries": entries}))
                .collect();
            let doc = json!({
                "lookups": lookups,
                "lockfiles": audited,
                "exit_code": code,
                "errors": findings.iter().filter(|f| f.is_error()).count(),
                "warnings": findings.iter().filter(|f| !f.is_error()).count(),
                "findings": findings,
                "read": read,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Sarif => {
            let mut doc = crate::sarif::render(findings, dir);
            if let Some(run) = doc["runs"].get_mut(0) {
                run["properties"]["lookups"] = json!(lookups);
            }
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Text => {
            for f in findings {
                let level = match f.severity {
                    Severity::Error => format!("error[{}]", f.exit_code()),
                    Severity::Warning => "warning".to_string(),
                };
                let file = f
                    .file
                    .strip_prefix(dir)
                    .unwrap_or(&f.file)
                    .display()
                    .to_string();
                let at = f.line.map_or(file.clone(), |l| format!("{file}:{l}"));
                println!("{level} {at}: {}: {}", f.package, f.message);
                if !f.hint.is_empty() {
                    println!("    next: {}", f.hint);
                }
            }
            let errors = findings.iter().filter(|f| f.is_error()).count();
            println!("lockgate check: lookups {}", lookups.summary);
            println!(
                "lockgate check: {} file{} audited, {errors} error{}, {} warning{}{}",
                audited.len(),
                if audited.len() == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                findings.len() - errors,
                if findings.len() - errors == 1 {
                    ""
                } else {
                    "s"
                },
                if code == 0 {
                    String::new()
                } else {
                    format!(" (exit {code})")
                }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(eco: Eco, name: &str) -> InternalName {
        InternalName {
            eco,
            name: name.into(),
            file: PathBuf::from("/p/package-lock.json"),
            line: Some(7),
        }
    }

    #[test]
    fn public_verdicts() {
        let npm = Url::parse("https://registry.npmjs.org/").unwrap();
        // Scoped and held publicly: the attacker's @myorg/payments-client.
        let f = public_verdict(&internal(Eco::Npm, "@myorg/payments-client"), true, &npm).unwrap();
        assert_eq!(
            (f.kind, f.severity, f.exit_code(), f.line),
            (Kind::Confusion, Severity::Error, 22, Some(7))
        );
        assert!(
            f.message
                .contains("https://registry.npmjs.org also has a package of that name"),
            "{}",
            f.message
        );
        // Scoped and missing: nobody else can publish in the scope.
        assert!(
            public_verdict(&internal(Eco::Npm, "@myorg/payments-client"), false, &npm).is_none()
        );
        // Unscoped and missing: claimable.
        let f = public_verdict(&internal(Eco::Npm, "legacy-billing"), false, &npm).unwrap();
        assert_eq!(
            (f.kind, f.severity),
            (Kind::UnscopedInternal, Severity::Warning)
        );
        assert!(
            f.message.contains("anyone can claim the name"),
            "{}",
            f.message
        );
        // PyPI has no scopes: a prefix is a convention, so a missing name is claimable too.
        let pypi = Url::parse("https://pypi.org/simple/").unwrap();
        let f = public_verdict(&internal(Eco::Pip, "myorg-payments-client"), false, &pypi).unwrap();
        assert!(f.hint.contains("placeholder"), "{}", f.hint);
        let f = public_verdict(&internal(Eco::Pip, "myorg-payments-client"), true, &pypi).unwrap();
        assert_eq!(f.exit_code(), 22);
    }

    #[test]
    fn keys_are_found_on_their_line() {
        let text = "{\n  \"name\": \"app\",\n  \"dependencies\": {\n    \"expres\": \"^1.0.0\",\n    \"@myorg/a\" : \"1\"\n  }\n}\n";
        assert_eq!(line_of_key(text, "expres"), Some(4));
        assert_eq!(line_of_key(text, "@myorg/a"), Some(5));
        assert_eq!(line_of_key(text, "express"), None);
        assert_eq!(line_of_key(text, "app"), None, "a value is not a key");
    }

    #[test]
    fn requirement_files_are_found() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "requirements.txt",
            "requirements-dev.txt",
            "constraints.txt",
            "README.md",
        ] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let names: Vec<String> = pip_requirement_files(d.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["requirements-dev.txt", "requirements.txt"]);
    }
}
