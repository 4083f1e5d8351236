//! Guarded pip: classify, read the lock, pick and verify every file before pip starts, then run
//! the real pip against nothing but the verified files.
//!
//! Flows:
//! - pass-through (`list`, `show`, `freeze`, `uninstall`, `--version`, …): exec the real pip;
//! - locked (`-r` files with hashes — pip's own hash-checking trigger —, `-r pylock.toml`, or a
//!   `pylock.toml` in the current directory when no requirement is given): plan → guard →
//!   fetch+verify into the store → allowed sdists' build requirements checked →
//!   `pip install --no-index --find-links <0700 dir> --require-hashes --only-binary :all:
//!   -r <requirements lockgate wrote>`, with pip's configuration files and `PIP_*` variables
//!   neutralised and reported;
//! - route (`pip install foo`, or `-r` files without any hash): typosquat check, then pip runs
//!   against the loopback gate ([`serve`]), which answers each name from its one permitted
//!   source and verifies every file pip downloads. `[pip] require-lock` refuses this in CI.
//!
//! The pure parts (classification, requirements files, PEP 751 locks, markers, versions, index
//! pages, wheel tags, the plan) are in the submodules; `python -m pip` never reaches lockgate.

pub mod classify;
mod directref;
pub mod index;
mod interp;
pub mod isolate;
mod launch;
mod lookup;
pub mod markers;
pub mod name;
mod options;
mod plan;
pub mod pylock;
mod pyproject;
pub mod requirements;
mod serve;
pub mod version;
pub mod wheel;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use reqwest::Url;
use serde_json::json;

use self::classify::{Command, InstallArgs, Invocation};
use self::index::FileEntry;
use self::markers::Interpreter;
use self::plan::{Lock, Locked, Markers, Pick, Sources};
use self::requirements::{Origin, RequirementSet, Target};
use self::version::Version;
use self::wheel::SupportedTags;
use crate::error::{redact_url, Error, Result, Secret};
use crate::feed::{self, Eco};
use crate::fetch::{self, Artifact, Auth, Client, Credential};
use crate::finding::{Finding, Kind, Severity};
use crate::gate::Gate;
use crate::handoff;
use crate::integrity::{Alg, Digest};
use crate::policy::{self, Policy};
use crate::proxy::Proxies;
use crate::report::{self, Reporter};
use crate::store::Store;
use crate::tool::{self, SelfLocation, Tool};
use crate::typoguard::{TypoGuard, Verdict};

const DEFAULT_INDEX: &str = "https://pypi.org/simple/";
/// How many project pages are fetched at once.
const PAGE_CONCURRENCY: usize = 16;

/// Entry point for `pip`/`pip3` (shim or `lockgate pip …`).
pub fn run(tool: Tool, args: &[OsString], me: &SelfLocation) -> Result<i32> {
    let depth = tool::next_depth()?;
    let real = tool::find_real(tool, me)?;
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let inv = match classify::classify(&text) {
        Ok(Invocation::PassThrough) => return Err(tool::exec_passthrough(&real, args, depth)),
        Ok(Invocation::Install(inv)) => *inv,
        Err(e) => {
            return Err(Error::config(
                format!("lockgate cannot read this pip command line: {e}"),
                "check the options against `pip help install`; lockgate refuses what it cannot read rather than guess what pip would do",
            ))
        }
    };
    if args.iter().any(|a| a.to_str().is_none()) {
        return Err(Error::config(
            "a pip argument is not valid UTF-8",
            "rename the file or directory so that its name is UTF-8",
        ));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
    tool::run_guarded("pip", |reporter| async move {
        Ctx::new(real, inv, depth, &cwd, reporter)?.guarded().await
    })
}

/// Where each name may come from, by the policy.
fn sources(policy: &Policy) -> Sources {
    Sources {
        public: policy
            .pip
            .index_url
            .clone()
            .unwrap_or_else(|| Url::parse(DEFAULT_INDEX).expect("constant URL")),
        internal: policy
            .pip
            .internal
            .as_ref()
            .map(|i| (i.index_url.clone(), i.prefixes.clone())),
    }
}

/// The internal index's credentials (`password-env`, else `.netrc`), and the variable the
/// policy names for the password when it is not set: (internal index, variable).
fn index_credentials(policy: &Policy) -> (Vec<Credential>, Option<(Url, String)>) {
    let mut creds = Vec::new();
    let mut missing_password = None;
    if let Some(i) = &policy.pip.internal {
        match (&i.password_env, netrc_credential(&i.index_url)) {
            (Some(var), _) => match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                Some(pw) => creds.push(Credential::for_url(
                    &i.index_url,
                    Auth::Basic {
                        user: i.username.clone().unwrap_or_default(),
                        password: Secret::new(pw),
                    },
                    format!("${var}"),
                )),
                None => missing_password = Some((i.index_url.clone(), var.clone())),
            },
            (None, Some(c)) => creds.push(c),
            (None, None) => {}
        }
    }
    (creds, missing_password)
}

/// Everything a guarded run needs, resolved once.
struct Ctx {
    real: PathBuf,
    inv: InstallArgs,
    depth: u32,
    cwd: PathBuf,
    policy: Policy,
    sources: Sources,
    store: Store,
    client: Client,
    reporter: Reporter,
    /// `password-env` named by the policy but not set: (internal index, variable).
    missing_password: Option<(Url, String)>,
    started: Instant,
}

impl Ctx {
    fn new(
        real: PathBuf,
        inv: InstallArgs,
        depth: u32,
        cwd: &Path,
        reporter: Reporter,
    ) -> Result<Ctx> {
        let policy = policy::load(cwd)?;
        let (creds, missing_password) = index_credentials(&policy);
        let proxies = Proxies::for_pip(
            proxy_option(&inv.args, &|k| std::env::var(k).ok()).as_deref(),
            &|k| std::env::var(k).ok(),
        )?;
        Ok(Ctx {
            real,
            inv,
            depth,
            cwd: cwd.to_path_buf(),
            sources: sources(&policy),
            policy,
            store: Store::from_env()?,
            client: Client::with_proxies(creds, reporter.clone(), proxies)?,
            reporter,
            missing_password,
            started: Instant::now(),
        })
    }

    /// Locked when there is a lock (a pylock file, or requirements with hashes — pip's own
    /// hash-checking trigger); otherwise route mode, requirements files included.
    async fn guarded(self) -> Result<i32> {
        let mut files: Vec<PathBuf> = self
            .inv
            .requirement_files
            .iter()
            .map(|f| self.cwd.join(f))
            .collect();
        if files.is_empty() && self.inv.specifiers.is_empty() && self.inv.editables.is_empty() {
            files.extend(
                find_locks(&self.cwd)
                    .into_iter()
                    .filter(|p| is_pylock(p))
                    .take(1),
            );
            if let Some(p) = files.first() {
                eprintln!("lockgate: installing the lock {}", p.display());
            }
        }
        let (pylocks, requirement_files): (Vec<PathBuf>, Vec<PathBuf>) =
            files.into_iter().partition(|p| is_pylock(p));
        let mut set = RequirementSet::default();
        let constraint_files = self
            .inv
            .constraint_files
            .iter()
            .map(|c| (self.cwd.join(c), true));
        for (f, constraint) in requirement_files
            .into_iter()
            .map(|f| (f, false))
            .chain(constraint_files)
        {
            let part = if constraint {
                requirements::load_constraints(&f)
            } else {
                requirements::load(&f)
            }
            .map_err(|e| lock_error(&f, e.to_string()))?;
            set.requirements.extend(part.requirements);
            set.options.extend(part.options);
            set.files.extend(part.files);
        }
        let hashed = set
            .requirements
            .iter()
            .any(|r| !r.constraint && !r.hashes.is_empty());
        if pylocks.is_empty() && !hashed {
            self.route(&set).await
        } else {
            self.locked(&pylocks, &set).await
        }
    }

    /// The interpreter pip installs into: `--python`, else the real pip's own.
    /// Also returns the Python the real pip runs with (which has pip's vendored libraries).
    async fn interpreter(&self) -> Result<(PathBuf, Interpreter)> {
        let own = interp::python_of(&self.real, self.depth).await?;
        let probed = interp::probe(&own, None).await?;
        let target = match &self.inv.python {
            None => probed,
            Some(p) => {
                interp::probe(
                    &interp::resolve_python_option(p)?,
                    probed.pip_dir.as_deref(),
                )
                .await?
            }
        };
        Ok((own, target))
    }

    // ----- locked mode -----

    async fn locked(&self, pylocks: &[PathBuf], set: &RequirementSet) -> Result<i32> {
        let (python_of_pip, interpreter) = self.interpreter().await?;
        let mut lock = self.read_lock(pylocks, set, Markers::For(&interpreter.markers))?;
        let versions: Vec<(String, &Locked)> = lock
            .packages
            .iter()
            .map(|p| (p.version.to_string(), p))
            .collect();
        let entries = versions
            .iter()
            .map(|(v, p)| (p.name.as_str(), v.as_str(), Some(p.line)));
        let file = lock.files.first().cloned().unwrap_or_default();
        let mut listed = feed::refuse_listed(&self.policy.feed, Eco::PyPI, &file, entries);
        for (f, l) in listed
            .iter_mut()
            .filter_map(|f| Some((f.line?, f)))
            .map(|(l, f)| (f, l))
        {
            if let Some(p) = lock
                .packages
                .iter()
                .find(|p| p.line == l && f.listed.as_ref().is_some_and(|x| x.name == p.name))
            {
                f.file = p.file.clone();
            }
        }
        lock.findings.extend(listed);
        self.reporter.refuse_on_errors(&lock.findings)?;
        for f in lock.findings.iter().filter(|f| !f.is_error()) {
            eprintln!("lockgate: warning: {f}");
        }
        if self.inv.cross_target {
            eprintln!("lockgate: pip targets another platform (--platform/--python-version/--implementation/--abi): every locked wheel is offered and pip picks; markers are evaluated for this interpreter, as pip does");
        }
        let in_lock: Vec<String> = lock
            .overridden
            .iter()
            .map(|(o, at)| format!("{o} ({at})"))
            .collect();
        self.report_neutralised(&in_lock);
        if let Some((index, var)) = &self.missing_password {
            if lock.packages.iter().any(|p| p.internal) {
                return Err(missing_password(&self.reporter, index, var));
            }
        }
        let tags = (!self.inv.cross_target).then(|| SupportedTags::new(&interpreter.tags));
        let python = Version::parse(&interpreter.markers.python_full_version).map_err(|e| {
            Error::config(
                format!("the interpreter reports an unusable Python version: {e}"),
                "check the interpreter pip runs with",
            )
        })?;
        let best_tag = interpreter.tags.first().map_or("none", String::as_str);
        let picks = self
            .lookup()
            .pick_files(&lock, tags.as_ref(), &python, best_tag)
            .await?;

        let artifacts: Vec<Artifact> = picks
            .iter()
            .flat_map(|(p, files)| files.iter().map(move |f| artifact(p, f)))
            .collect::<Result<_>>()?;
        let summary = fetch::fetch_all(&self.client, &self.store, &artifacts).await?;
        self.note_provenance(&picks);
        for a in &artifacts {
            self.reporter.audit(
                "verified",
                json!({"package": a.name, "version": a.version, "digest": a.digest.to_string(),
                       "source": if a.internal {"internal"} else {"public"}, "url": redact_url(a.url.as_str())}),
            );
        }
        self.check_direct_references(&picks)?;
        self.check_builds(&picks, &python_of_pip, &interpreter)
            .await?;

        let dir = self.hand_off_dir(&picks)?;
        let sdists: Vec<&str> = picks
            .iter()
            .filter(|(_, files)| files.iter().any(|f| f.sdist))
            .map(|(p, _)| p.name.as_str())
            .collect();
        let mut args = self.command_args();
        args.extend(["--no-index", "--find-links"].map(OsString::from));
        args.push(dir.path().into());
        args.extend(["--require-hashes", "--only-binary", ":all:"].map(OsString::from));
        if !sdists.is_empty() {
            args.extend([
                "--use-pep517".into(),
                "--no-binary".into(),
                OsString::from(sdists.join(",")),
            ]);
        }
        args.push("-r".into());
        args.push(dir.path().join(REQUIREMENTS).into());
        let gate = Gate::refusing().await?;
        args.insert(args.len() - 2, Self::proxy_arg(&gate));
        let code =
            tool::run_child(self.pip_command(&args, &gate, !sdists.is_empty()), "pip").await?;
        drop(dir);
        if let Some(e) = gate.direct_error("pip") {
            return Err(e);
        }
        if code != 0 {
            return Ok(code);
        }
        let internal = picks.iter().filter(|(p, _)| p.internal).count();
        let against: Vec<String> = lock.files.iter().map(|f| file_name(f)).collect();
        eprintln!(
            "{}",
            summary.line(
                "pip",
                picks.len(),
                "packages",
                &against.join(", "),
                internal,
                self.started
            )
        );
        self.reporter.audit(
            "install",
            json!({"lockfiles": lock.files, "packages": picks.len(), "downloaded": summary.downloaded, "command": self.inv.command.as_str()}),
        );
        Ok(0)
    }

    /// Every lock, merged: pylock files and the requirements (with constraints) already read.
    fn read_lock(
        &self,
        pylocks: &[PathBuf],
        set: &RequirementSet,
        markers: Markers,
    ) -> Result<Lock> {
        let prefixes = self
            .sources
            .internal
            .as_ref()
            .map(|(_, p)| p.as_slice())
            .unwrap_or_default();
        let mut lock = Lock::default();
        for f in pylocks {
            let text = std::fs::read_to_string(f)
                .map_err(|e| lock_error(f, format!("cannot read the lock file: {e}")))?;
            let pylock =
                pylock::PyLock::parse(&text, f).map_err(|e| lock_error(f, e.to_string()))?;
            let internal = self.sources.internal.as_ref().map(|(u, _)| u);
            let part = plan::from_pylock(
                &pylock,
                markers,
                prefixes,
                internal,
                &self.policy.pip.allow_sdist,
            )
            .map_err(|e| lock_error(f, e.to_string()))?;
            plan::merge(&mut lock, part);
        }
        if !set.files.is_empty() {
            plan::merge(&mut lock, plan::from_requirements(set, markers, prefixes));
        }
        for spec in self.inv.specifiers.iter().chain(&self.inv.editables) {
            // Requirements on the command line next to a lock must be in the lock.
            let named = requirements::parse_single(spec, command_line(), false)
                .ok()
                .and_then(|r| r.normalized_name());
            if !named
                .as_ref()
                .is_some_and(|n| lock.packages.iter().any(|p| &p.name == n))
            {
                lock.findings.push(
                    Finding::error(Kind::Lockfile, spec, "command line")
                        .msg("is given next to a lock but is not in it")
                        .hint("add it to the lock (with its hash), or install it without -r to resolve it through the gate"),
                );
            }
        }
        Ok(lock)
    }

    fn lookup(&self) -> lookup::Lookup<'_> {
        lookup::Lookup {
            client: &self.client,
            sources: &self.sources,
            allow_sdist: &self.policy.pip.allow_sdist,
            reporter: &self.reporter,
            store: Some(&self.store),
            any_platform: false,
        }
    }

    /// Remember where verified files came from, so that a warm run needs no index page.
    fn note_provenance(&self, picks: &[(Locked, Vec<Pick>)]) {
        for (p, files) in picks {
            let (index, _) = self.sources.index_for(&p.name);
            for f in files {
                let Some(d) = Digest::from_hex(Alg::Sha256, &f.sha256) else {
                    continue;
                };
                let note = Provenance {
                    index: index.to_string(),
                    filename: f.filename.clone(),
                    url: f.url.clone(),
                    requires_python: f.requires_python.clone(),
                };
                if let Err(e) = serde_json::to_string(&note)
                    .map_err(|e| Error::config(e.to_string(), ""))
                    .and_then(|t| self.store.write_note(&d, &t))
                {
                    eprintln!(
                        "lockgate: warning: cannot record where {} came from: {e}",
                        f.filename
                    );
                }
            }
        }
    }

    /// Locked wheels whose METADATA declares a direct URL, VCS or path dependency the policy does
    /// not allow: refused (21) naming the wheel, before pip starts.
    fn check_direct_references(&self, picks: &[(Locked, Vec<Pick>)]) -> Result<()> {
        let mut findings = Vec::new();
        for (p, files) in picks {
            for f in files.iter().filter(|f| !f.sdist) {
                let Some(d) = Digest::from_hex(Alg::Sha256, &f.sha256) else {
                    continue;
                };
                let path = self.store.path(&d);
                let requires = std::fs::File::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|file| directref::wheel_requires(std::io::BufReader::new(file)))
                    .map_err(|e| {
                        lock_error(
                            &p.file,
                            format!("{}: the verified wheel {} {e}", p.id(), f.filename),
                        )
                    })?;
                let found = directref::disallowed(&requires, &self.policy.pip.unsafe_allow_urls);
                if !found.is_empty() {
                    findings.push(directref::refusal(&p.id(), "its wheel's METADATA", &found));
                }
            }
        }
        self.reporter.refuse_on_errors(&findings)
    }

    /// Allowed sdists build offline from the verified files: refuse when their build
    /// requirements (and those requirements' dependencies) are not locked wheels.
    async fn check_builds(
        &self,
        picks: &[(Locked, Vec<Pick>)],
        python: &Path,
        interpreter: &Interpreter,
    ) -> Result<()> {
        if !picks.iter().any(|(_, files)| files.iter().any(|f| f.sdist)) {
            return Ok(());
        }
        let stored =
            |f: &Pick| Digest::from_hex(Alg::Sha256, &f.sha256).map(|d| self.store.path(&d));
        let files: Vec<(PathBuf, String)> = picks
            .iter()
            .flat_map(|(_, files)| files)
            .filter_map(|f| Some((stored(f)?, f.filename.clone())))
            .collect();
        let requires = interp::build_requirements(python, &files).await?;
        let of = |f: &Pick| requires.get(&f.filename).cloned().unwrap_or_default();
        let mut sdists = Vec::new();
        let mut wheels = Vec::new();
        let mut direct = Vec::new();
        for (p, files) in picks {
            for f in files {
                let found_urls = of(f);
                let found = directref::disallowed(&found_urls, &self.policy.pip.unsafe_allow_urls);
                if f.sdist && !found.is_empty() {
                    direct.push(directref::refusal(
                        &p.id(),
                        "its build requirements (pyproject.toml build-system.requires)",
                        &found,
                    ));
                }
                if f.sdist {
                    sdists.push((p.id(), of(f)));
                } else {
                    wheels.push((p.name.clone(), p.version.clone(), of(f)));
                }
            }
        }
        self.reporter.refuse_on_errors(&direct)?;
        let findings: Vec<Finding> = plan::missing_build_requirements(&sdists, &wheels, &interpreter.markers)
            .into_iter()
            .map(|(id, missing)| {
                Finding::error(Kind::SourceBuild, &id, "the lock")
                    .msg(format!("is allowed to build from its sdist, but these build requirements are not locked wheels: {}", missing.join(", ")))
                    .hint("add them to the lock with their hashes (pip-compile --allow-unsafe --generate-hashes locks setuptools and wheel); pip builds offline from the verified files only")
            })
            .collect();
        self.reporter.refuse_on_errors(&findings)
    }

    /// A private (0700) directory holding the verified files under their names (linked to the
    /// store; copied for `download` and `wheel`, which hand the files out), and the requirements
    /// file pip installs.
    fn hand_off_dir(&self, picks: &[(Locked, Vec<Pick>)]) -> Result<tempfile::TempDir> {
        let dir = private_dir()?;
        let mut lines = Vec::new();
        for (p, files) in picks {
            for f in files {
                let digest =
                    Digest::from_hex(Alg::Sha256, &f.sha256).expect("checked when planned");
                let from = self.store.verified_path(
                    &digest,
                    &p.name,
                    &p.version.to_string(),
                    &self.reporter,
                )?;
                let to = dir.path().join(&f.filename);
                if self.inv.command == Command::Install {
                    if std::fs::hard_link(&from, &to).is_err() {
                        std::os::unix::fs::symlink(&from, &to)
                            .map_err(|e| Error::io("link a verified file into", &to, e))?;
                    }
                } else {
                    // `download` and `wheel` copy the file out with its mode: not the store's 0400.
                    std::fs::copy(&from, &to)
                        .and_then(|_| {
                            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))
                        })
                        .map_err(|e| Error::io("copy a verified file into", &to, e))?;
                }
            }
            let hashes: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
            lines.push(p.requirement_line(&hashes.join(" --hash=sha256:")));
        }
        lines.push(String::new());
        let req = dir.path().join(REQUIREMENTS);
        std::fs::write(&req, lines.join("\n")).map_err(|e| Error::io("write", &req, e))?;
        Ok(dir)
    }

    // ----- route mode -----

    /// The cooldown for a route-mode run: every name pip is asked for directly is one the user
    /// adds (there is no lock to compare with), and `name==version` pins are remembered so that
    /// holding one is refused with 28.
    fn cooldown_watch(
        &self,
        names: &[String],
        inputs: &[requirements::Requirement],
        set: &RequirementSet,
    ) -> Option<crate::cooldown::Watch> {
        let explicit = inputs
            .iter()
            .chain(&set.requirements)
            .filter_map(|r| {
                let text = r.text.split(';').next()?.trim();
                let (n, v) = text.split_once("==")?;
                let v = v.trim();
                (!v.is_empty() && !v.contains([',', '*', ' '])).then(|| {
                    (
                        name::normalize(n.split('[').next().unwrap_or(n).trim()),
                        v.to_string(),
                    )
                })
            })
            .collect();
        crate::cooldown::Watch::new(
            &self.policy.cooldown,
            Some(self.store.root()),
            names.to_vec(),
            explicit,
            name::normalize,
        )
    }

    /// What each local project or wheel being installed declares it needs (`-e .`,
    /// `./libs/core[dev]`, `./dist/app-1.0-py3-none-any.whl`; relative to the working directory,
    /// as pip reads them): a project's `pyproject.toml` `[project]` dependencies for the extras
    /// asked and its `[build-system] requires`, a wheel's `Requires-Dist`. A directory without
    /// `pyproject.toml` (setup.py, setup.cfg) and an sdist declare none that can be read here.
    fn declared_dependencies<'a>(
        &self,
        requirements: impl Iterator<Item = &'a requirements::Requirement>,
    ) -> Result<Vec<requirements::Requirement>> {
        let unreadable = |file: &Path, msg: String| {
            Error::lockfile(
                file,
                format!("cannot read what it depends on: {msg}"),
                "fix the file; pip would fail on it too",
            )
        };
        let mut out = Vec::new();
        for r in requirements.filter(|r| !r.constraint) {
            let Target::Path(location) = &r.target else {
                continue;
            };
            let path = self
                .cwd
                .join(location.strip_prefix("file:").unwrap_or(location));
            if path.is_file() && location.to_ascii_lowercase().ends_with(".whl") {
                let requires = std::fs::File::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| directref::wheel_requires(std::io::BufReader::new(f)))
                    .map_err(|msg| unreadable(&path, msg))?;
                out.extend(
                    pyproject::wheel_dependencies(&requires, &r.extras, &path)
                        .map_err(|msg| unreadable(&path, msg))?,
                );
                continue;
            }
            let file = path.join("pyproject.toml");
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            out.extend(
                pyproject::declared(&text, &r.extras, &file)
                    .and_then(|mut d| {
                        d.extend(pyproject::build_requires(&text, &file)?);
                        Ok(d)
                    })
                    .map_err(|msg| unreadable(&file, msg))?,
            );
        }
        Ok(out)
    }

    /// How long ago the index says each name whose age can change the typosquat verdict
    /// ([`TypoGuard::popular_suspects`]) was first uploaded (the earliest PEP 700 `upload-time`
    /// on its page); a name the index cannot date is left out. Internal names are never looked up
    /// here: an age never clears a look-alike of an internal name.
    async fn suspect_ages(
        &self,
        guard: &TypoGuard,
        names: &[String],
    ) -> std::collections::BTreeMap<String, u64> {
        let lookups = guard
            .popular_suspects(names)
            .into_iter()
            .map(|name| async move {
                let (index, internal) = self.sources.index_for(&name);
                if internal {
                    return None;
                }
                let created = first_uploaded(&self.client, index, &name).await?;
                Some((name, crate::typoguard::age_since(created)))
            });
        futures_util::future::join_all(lookups)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// No lock: pip resolves through the gate. Requirements files without hashes are read here
    /// and handed to pip rewritten (their option lines dropped), like `-c` files.
    async fn route(&self, set: &RequirementSet) -> Result<i32> {
        if self.policy.pip.require_lock && std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            return Err(Error::lockfile(
                &self.cwd,
                "`[pip] require-lock` is set and this is CI: pip may install only from a hash-locked requirements file or pylock.toml",
                "lock the dependencies with hashes (pip-compile --generate-hashes), commit the lock, and run `pip install -r requirements.txt`",
            ));
        }
        let prefixes = self
            .sources
            .internal
            .as_ref()
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        let mut inputs = Vec::new();
        for (spec, editable) in self
            .inv
            .specifiers
            .iter()
            .map(|s| (s, false))
            .chain(self.inv.editables.iter().map(|s| (s, true)))
        {
            inputs.push(
                requirements::parse_single(spec, command_line(), editable).map_err(|e| {
                    Error::config(
                        format!("cannot read the requirement `{spec}`: {e}"),
                        "check the requirement syntax (PEP 508)",
                    )
                })?,
            );
        }
        // A local project's declared dependencies are names this command adds too.
        let declared = self.declared_dependencies(inputs.iter().chain(&set.requirements))?;
        let internal_names = known_internal_names(&self.cwd, &prefixes);
        let mut guard = TypoGuard::pip(&self.policy, &internal_names);
        let registry_names: Vec<String> = inputs
            .iter()
            .chain(&set.requirements)
            .chain(&declared)
            .filter(|r| matches!(r.target, Target::Registry(_)))
            .filter_map(|r| r.normalized_name())
            .collect();
        // The names this command adds are judged with the index's dates: an established
        // look-alike passes, a young one meets the age-gated rules too.
        let ages = self.suspect_ages(&guard, &registry_names).await;
        let mut names = Vec::new();
        let mut findings = Vec::new();
        let mut established = Vec::new();
        let given = inputs.iter().chain(&set.requirements).map(|r| (r, false));
        for (r, is_declared) in given.chain(declared.iter().map(|r| (r, true))) {
            match (&r.target, r.normalized_name()) {
                (Target::Registry(_), Some(name)) => {
                    let age = crate::typoguard::age_of(Some(&ages), &name);
                    match guard.judge(&name, age, Severity::Error, &r.origin.file) {
                        Verdict::Suspect(mut f) => {
                            f.message
                                .push_str(&format!(" (from {}; nothing was fetched)", r.origin));
                            f.line = (r.origin.line > 0).then_some(r.origin.line);
                            findings.push(f);
                        }
                        Verdict::Established { message, age } => {
                            crate::typoguard::announce_established(&self.reporter, &name, &message, age);
                            established.push(name.clone());
                        }
                        Verdict::Clear => {}
                    }
                    names.push(name);
                }
                // A local project (`-e .`) is the user's own code; pip builds it in route mode.
                (Target::Path(_), _) if !r.constraint => {}
                // A direct reference a local project or wheel declares: admitted only when
                // `[pip] unsafe-allow-urls` lists it, as the gate admits it (pip reads a `file:`
                // one itself, past the gate).
                (Target::Url(url), _)
                    if is_declared
                        && self
                            .policy
                            .pip
                            .unsafe_allow_urls
                            .iter()
                            .any(|a| a.trim() == url) => {}
                _ => findings.push(
                    Finding::error(Kind::NonRegistry, &r.text, &r.origin.file)
                        .msg(format!("at {} is a URL, VCS or path reference: pip would fetch it directly, unverified", r.origin))
                        .hint("publish it to the internal index and install it by name"),
                ),
            }
        }
        if !established.is_empty() {
            // Judged already: the gate does not ask (or warn) again when pip requests them.
            let mut policy = self.policy.clone();
            policy.typosquat_allow.extend(established);
            guard = TypoGuard::pip(&policy, &internal_names);
        }
        findings.extend(feed::refuse_listed(
            &self.policy.feed,
            Eco::PyPI,
            &self.cwd,
            [],
        ));
        self.reporter.refuse_on_errors(&findings)?;
        let in_files: Vec<String> = plan::overridden(&set.options)
            .iter()
            .map(|(o, at)| format!("{o} ({at})"))
            .collect();
        self.report_neutralised(&in_files);
        if let Some((index, var)) = &self.missing_password {
            if names.iter().any(|n| plan::is_internal(n, &prefixes)) {
                return Err(missing_password(&self.reporter, index, var));
            }
        }
        let rewritten = self.rewrite_requirements(set)?;

        // The Python the real pip runs with (a wrapper such as pyenv's shim costs a `pip debug`).
        let own_python = interp::python_of(&self.real, self.depth).await?;
        let mut gate = Gate::bind().await?;
        gate.add_build_token()?;
        let allowed: Vec<Url> = self
            .policy
            .pip
            .unsafe_allow_urls
            .iter()
            .filter_map(|u| Url::parse(u.trim()).ok())
            .collect();
        gate.allow_direct(&allowed);
        let route = Arc::new(
            serve::RouteMode::new(
                self.sources.clone(),
                self.client.clone(),
                self.reporter.clone(),
                self.store.clone(),
                gate.url(),
                &self.policy.pip.allow_sdist,
                guard,
                self.missing_password.clone(),
                self.policy.pip.unsafe_allow_urls.clone(),
                own_python.clone(),
            )
            .with_cooldown(self.cooldown_watch(
                &names,
                &[inputs, declared].concat(),
                set,
            )),
        );
        gate.serve(route.clone());
        let files: Vec<(&str, PathBuf)> = [("-r", REQUIREMENTS), ("-c", CONSTRAINTS)]
            .into_iter()
            .map(|(option, file)| (option, rewritten.path().join(file)))
            .filter(|(_, path)| path.exists())
            .collect();
        // The index on the command line too: `--isolated` makes pip ignore PIP_INDEX_URL.
        let ours = [
            Self::proxy_arg(&gate),
            OsString::from(format!("--index-url={}", route_index(&gate))),
        ];
        let args = route_args(&self.inv, &ours, &files);
        let may_build = self.inv.editables.len() + self.policy.pip.allow_sdist.len() > 0;
        let private = private_dir()?;
        let cmd = self
            .route_command(&args, &gate, may_build, private.path(), own_python)
            .await?;
        let code = tool::run_child(cmd, "pip").await?;
        drop(private);
        route.finish().await;
        let direct = gate.direct_error("pip");
        drop(gate);
        if let Some(e) = route.take_failure().or(direct) {
            return Err(e);
        }
        if let Some(w) = &route.cooldown {
            self.reporter
                .refuse_on_errors(&w.verdict(code, Path::new("the index")))?;
        }
        let only_sdists = route.only_sdists();
        if code != 0 && !only_sdists.is_empty() {
            let findings = only_sdists
                .iter()
                .map(|n| {
                    Finding::error(Kind::SourceBuild, n, "the index")
                        .msg("has only sdists here, and building an sdist runs its setup code; lockgate did not offer them to pip")
                        .hint(format!("install a version with a wheel for this platform, or, after reviewing its source, allow it in lockgate.toml: [pip.build] allow-sdist = [\"{n}\"]"))
                })
                .collect();
            return Err(Error::Refused { findings });
        }
        if code == 0 {
            let served = route.served.lock().unwrap().clone();
            let downloaded = served.iter().filter(|(_, _, b)| *b > 0).count();
            eprintln!(
                "lockgate: pip: {} files verified against their index's sha256 ({} internal; {downloaded} downloaded, {:.1} MB) in {:.1} s; nothing is locked — commit a hash-locked requirements file to make installs reproducible",
                served.len(),
                served.iter().filter(|(_, i, _)| *i).count(),
                served.iter().map(|(_, _, b)| *b).sum::<u64>() as f64 / 1e6,
                self.started.elapsed().as_secs_f64()
            );
        }
        Ok(code)
    }

    /// Requirements and constraints from files, rewritten into a private directory without their
    /// option lines (pip would obey `--find-links` and friends inside them).
    fn rewrite_requirements(&self, set: &RequirementSet) -> Result<tempfile::TempDir> {
        let dir = private_dir()?;
        for (file, constraint) in [(REQUIREMENTS, false), (CONSTRAINTS, true)] {
            let lines: Vec<String> = set
                .requirements
                .iter()
                .filter(|r| r.constraint == constraint)
                .map(|r| {
                    if r.editable {
                        format!("-e {}", r.text)
                    } else {
                        r.text.clone()
                    }
                })
                .collect();
            if !lines.is_empty() {
                let path = dir.path().join(file);
                std::fs::write(&path, lines.join("\n") + "\n")
                    .map_err(|e| Error::io("write", &path, e))?;
            }
        }
        Ok(dir)
    }

    // ----- shared -----

    /// The command and the user's options lockgate hands on (all but `--proxy`); `--python`
    /// first, since pip accepts it only before the command name.
    fn command_args(&self) -> Vec<OsString> {
        command_args(&self.inv)
    }

    /// `--proxy=<gate>`: the same confinement as the proxy variables, on the command line too
    /// (pip's `--proxy` sets its session's proxies; the user's own was taken out).
    fn proxy_arg(gate: &Gate) -> OsString {
        OsString::from(format!("--proxy=http://{}/", gate.url().authority()))
    }

    /// The real pip, with its configuration files neutralised and an allowlisted environment
    /// (no user secret; of the `PIP_*` variables only those that change output or the install
    /// location), confined to `gate` as its only proxy.
    /// `builds`: pip may build something (which runs its code): say what its environment lacks.
    fn pip_command(&self, args: &[OsString], gate: &Gate, builds: bool) -> tokio::process::Command {
        let env = self.pip_env(gate, builds);
        let mut cmd = tokio::process::Command::new(&self.real);
        cmd.args(args).current_dir(&self.cwd);
        env.apply(&mut cmd);
        cmd
    }

    fn pip_env(&self, gate: &Gate, builds: bool) -> handoff::Env {
        let mut env = handoff::tool_env(Tool::Pip);
        if builds && !env.dropped.is_empty() {
            eprintln!(
                "lockgate: pip may build packages (which runs their code); it gets only allowlisted environment variables, not: {}",
                env.dropped.join(", ")
            );
        }
        env.confine_to(&gate.url(), &[]);
        env.set("PIP_CONFIG_FILE", "/dev/null");
        env.set(tool::DEPTH_VAR, self.depth.to_string());
        env
    }

    /// Route mode: pip's own process gets the gate's run token through [`launch`] (never in its
    /// environment, argv or a file a build could read); its index URL, which builds inherit,
    /// carries only the build token. `--python`: the launcher runs in that interpreter itself.
    async fn route_command(
        &self,
        args: &[OsString],
        gate: &Gate,
        builds: bool,
        private: &Path,
        own_python: PathBuf,
    ) -> Result<tokio::process::Command> {
        let mut env = self.pip_env(gate, builds);
        let netloc = gate.url().authority().to_string();
        let auth = launch::write_auth_file(private, &netloc, gate.token())?;
        env.set(launch::AUTH_FILE_VAR, auth.as_os_str());
        env.set("PIP_INDEX_URL", route_index(gate).as_str());
        let (python, args): (PathBuf, Vec<OsString>) = match &self.inv.python {
            None => (own_python, args.to_vec()),
            Some(p) => {
                if let Some(dir) = interp::probe(&own_python, None).await?.pip_dir {
                    env.set(launch::SYS_PATH_VAR, dir);
                }
                let rest = args
                    .iter()
                    .filter(|a| !a.to_string_lossy().starts_with("--python="))
                    .cloned()
                    .collect();
                (interp::resolve_python_option(p)?, rest)
            }
        };
        let mut cmd = tokio::process::Command::new(python);
        cmd.args(launch::argv(&args)).current_dir(&self.cwd);
        env.apply(&mut cmd);
        Ok(cmd)
    }

    /// One line naming every setting lockgate overrides: options in the lock files, index options
    /// on the command line, `PIP_*` variables and pip configuration files.
    fn report_neutralised(&self, in_lock: &[String]) {
        let mut what: Vec<String> = in_lock.to_vec();
        let ix = &self.inv.index;
        what.extend(
            ix.index_url
                .iter()
                .map(|u| format!("--index-url {} (command line)", redact_url(u))),
        );
        what.extend(
            ix.extra_index_urls
                .iter()
                .map(|u| format!("--extra-index-url {} (command line)", redact_url(u))),
        );
        what.extend(
            ix.find_links
                .iter()
                .map(|u| format!("--find-links {} (command line)", redact_url(u))),
        );
        what.extend(
            ix.trusted_hosts
                .iter()
                .map(|h| format!("--trusted-host {h} (command line)")),
        );
        if ix.no_index {
            what.push("--no-index (command line)".into());
        }
        what.extend(
            ix.proxy
                .iter()
                .map(|p| format!("--proxy {} (command line)", redact_url(p))),
        );
        what.extend(isolate::env_to_remove(std::env::vars()).1);
        let home = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
        for f in isolate::config_files(&|k| std::env::var(k).ok(), home.as_deref()) {
            if let Ok(text) = std::fs::read_to_string(&f) {
                what.extend(isolate::config_mentions(&text, &f));
            }
        }
        if what.is_empty() {
            return;
        }
        self.reporter
            .audit("neutralised", json!({"settings": what}));
        eprintln!(
            "lockgate: ignoring pip settings that could change what is installed or from where (lockgate chooses the sources): {}",
            what.join("; ")
        );
    }
}

/// The command and the user's options (each spelled `--name[=value]`) but `--proxy`, `--python`
/// first.
fn command_args(inv: &InstallArgs) -> Vec<OsString> {
    // The real pip reaches only the gate: the user's `--proxy` is replaced (`proxy_arg`).
    let (python, rest): (Vec<&String>, Vec<&String>) = inv
        .args
        .iter()
        .filter(|a| !a.starts_with("--proxy="))
        .partition(|a| a.starts_with("--python="));
    let mut args: Vec<OsString> = python.into_iter().map(OsString::from).collect();
    args.push(inv.command.as_str().into());
    args.extend(rest.into_iter().map(OsString::from));
    args
}

/// The gate's index with the *build* token, the one credential pip may pass on to builds.
fn route_index(gate: &Gate) -> Url {
    let mut index = gate.url().join("simple/").expect("constant path");
    if let Some(build) = gate.build_token() {
        let _ = index.set_username("build");
        let _ = index.set_password(Some(build.expose()));
    }
    index
}

/// Route mode's pip argv, rebuilt from the parsed invocation: the user's options, the ones
/// lockgate hands on itself, the rewritten requirement/constraint `files`, the editables, and
/// then — after pip's end-of-options marker, so that none can be read as an option — the
/// requirements given on the command line.
fn route_args(inv: &InstallArgs, ours: &[OsString], files: &[(&str, PathBuf)]) -> Vec<OsString> {
    let mut args = command_args(inv);
    args.extend(
        inv.only_binary
            .iter()
            .map(|v| OsString::from(format!("--only-binary={v}"))),
    );
    args.extend(
        inv.no_binary
            .iter()
            .map(|v| OsString::from(format!("--no-binary={v}"))),
    );
    if inv.prefer_binary {
        args.push("--prefer-binary".into());
    }
    if inv.require_hashes {
        args.push("--require-hashes".into());
    }
    args.extend(ours.iter().cloned());
    for (option, path) in files {
        args.push(OsString::from(format!("{option}{}", path.display())));
    }
    args.extend(
        inv.editables
            .iter()
            .map(|e| OsString::from(format!("--editable={e}"))),
    );
    if !inv.specifiers.is_empty() {
        args.push("--".into());
        args.extend(inv.specifiers.iter().map(OsString::from));
    }
    args
}

const REQUIREMENTS: &str = "requirements.txt";
const CONSTRAINTS: &str = "constraints.txt";

/// A new directory only this user can read (0700), removed when dropped.
fn private_dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("lockgate-pip-")
        .tempdir()
        .map_err(|e| Error::io("create a private directory in", std::env::temp_dir(), e))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("protect", dir.path(), e))?;
    Ok(dir)
}

/// Where a verified file was found: its permitted index, file name and URL (a store note).
#[derive(serde::Serialize, serde::Deserialize)]
struct Provenance {
    index: String,
    filename: String,
    url: String,
    requires_python: Option<String>,
}

fn artifact(p: &Locked, f: &Pick) -> Result<Artifact> {
    Ok(Artifact {
        package: p.id(),
        name: p.name.clone(),
        version: p.version.to_string(),
        internal: p.internal,
        url: Url::parse(&f.url).map_err(|e| Error::Unavailable {
            package: p.id(),
            url: redact_url(&f.url),
            detail: format!("is not a usable URL: {e}"),
        })?,
        digest: Digest::from_hex(Alg::Sha256, &f.sha256).ok_or_else(|| {
            lock_error(
                &p.file,
                format!("{}: {} is not a sha256 digest", p.id(), f.sha256),
            )
        })?,
        locate: None,
    })
}

/// When `index` says project `name` was first uploaded ([`first_upload`] of its page); None when
/// the page cannot be read or publishes no times.
pub async fn first_uploaded(client: &Client, index: &Url, name: &str) -> Option<i64> {
    let (_, files) = project_page(client, index, name).await.ok()??;
    first_upload(&files)
}

/// The earliest PEP 700 `upload-time` among a project's files (seconds since the epoch): when the
/// index says the project was first uploaded. None when the index publishes no times.
pub(crate) fn first_upload(files: &[FileEntry]) -> Option<i64> {
    files
        .iter()
        .filter_map(|f| {
            f.upload_time
                .as_deref()
                .and_then(crate::cooldown::parse_rfc3339)
        })
        .min()
}

/// A project page from `index`: None when the index does not have the project (404).
async fn project_page(
    client: &Client,
    index: &Url,
    name: &str,
) -> Result<Option<(Url, Vec<FileEntry>)>> {
    let url = Url::parse(&index::project_url(index.as_str(), name)).map_err(|e| {
        Error::config(
            format!("cannot build the page URL for {name}: {e}"),
            "check the index URL in lockgate.toml",
        )
    })?;
    let fetched = match client.get(&url, Some(index::ACCEPT), name).await {
        Ok(f) => f,
        Err(e) if fetch::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let content_type = fetched
        .response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/html")
        .to_string();
    let final_url = fetched.final_url.clone();
    // Under the same stall and transfer-rate limits as downloads.
    let body = client.body(fetched, name).await?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let files = index::parse_page(final_url.as_str(), &content_type, &body).map_err(|e| {
        Error::Unavailable {
            package: name.into(),
            url: redact_url(final_url.as_str()),
            detail: format!("answered with a page lockgate cannot read: {}", e.what),
        }
    })?;
    Ok(Some((final_url, files)))
}

/// Count and report the public index offering an internal name (route mode).
fn public_offer(reporter: &Reporter, name: &str, url: &Url, files: &[FileEntry]) {
    let mut versions: Vec<String> = files
        .iter()
        .filter_map(|f| {
            wheel::DistName::parse(&f.filename)
                .ok()
                .map(|d| d.version().to_string())
        })
        .collect();
    versions.dedup();
    reporter.count(report::CONFUSION, &[("package", name)]);
    reporter.audit("confusion-attempt", json!({"package": name, "public_index": redact_url(url.as_str()), "public_versions": versions}));
    eprintln!(
        "lockgate: warning: the public index {} also offers internal package {name} (versions {}); lockgate resolved it from the internal index only. Someone may be staging a dependency-confusion attack.",
        fetch::origin_label(url),
        versions.join(", ")
    );
}

fn missing_password(reporter: &Reporter, index: &Url, var: &str) -> Error {
    let label = fetch::origin_label(index);
    reporter.count(
        report::AUTH_FAILURES,
        &[("registry", &label), ("user", "anonymous")],
    );
    Error::Auth {
        registry: label,
        package: "internal packages".into(),
        detail: format!("the policy says the password is in ${var}, which is not set"),
        hint: format!("export {var}=<password for {index}> (in CI, from the secret store)"),
    }
}

/// Credentials for the internal index from `.netrc` (`NETRC`, else `~/.netrc`), as pip would use.
fn netrc_credential(index: &Url) -> Option<Credential> {
    let path = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".netrc")))?;
    let text = std::fs::read_to_string(&path).ok()?;
    let (user, password) = isolate::netrc_login(&text, index.host_str()?)?;
    Some(Credential::for_url(
        index,
        Auth::Basic {
            user,
            password: Secret::new(password),
        },
        path.display().to_string(),
    ))
}

/// Internal names the project's own lock files mention, so the typosquat check knows them.
fn known_internal_names(dir: &Path, prefixes: &[String]) -> Vec<String> {
    if prefixes.is_empty() {
        return Vec::new();
    }
    let mut names = Vec::new();
    for f in find_locks(dir) {
        if is_pylock(&f) {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if let Ok(l) = pylock::PyLock::parse(&text, &f) {
                names.extend(l.packages.iter().map(|p| name::normalize(&p.name)));
            }
        } else if let Ok(set) = requirements::load(&f) {
            names.extend(set.requirements.iter().filter_map(|r| r.normalized_name()));
        }
    }
    names.retain(|n| plan::is_internal(n, prefixes));
    names
}

/// The lock files of a project directory: `requirements*.txt` and `pylock.toml` /
/// `pylock.NAME.toml`, sorted by name.
pub fn find_locks(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = file_name(p);
            pylock::is_pylock_filename(&n) || (n.starts_with("requirements") && n.ends_with(".txt"))
        })
        .collect();
    found.sort();
    found
}

/// `lockgate check`: the lock files against the policy, all entries whatever the interpreter,
/// offline. A requirements file without any hash is not a lock: one finding for the file (an
/// error when `[pip] require-lock` is set).
pub fn check(policy: &Policy, files: &[PathBuf]) -> Result<Vec<Finding>> {
    let prefixes = policy
        .pip
        .internal
        .as_ref()
        .map(|i| i.prefixes.as_slice())
        .unwrap_or_default();
    let internal = policy.pip.internal.as_ref().map(|i| &i.index_url);
    let mut findings = Vec::new();
    for f in files {
        let lock = if is_pylock(f) {
            let text = std::fs::read_to_string(f)
                .map_err(|e| lock_error(f, format!("cannot read the lock file: {e}")))?;
            let pylock =
                pylock::PyLock::parse(&text, f).map_err(|e| lock_error(f, e.to_string()))?;
            plan::from_pylock(
                &pylock,
                Markers::All,
                prefixes,
                internal,
                &policy.pip.allow_sdist,
            )
            .map_err(|e| lock_error(f, e.to_string()))?
        } else {
            let set = requirements::load(f).map_err(|e| lock_error(f, e.to_string()))?;
            if set.requirements.iter().all(|r| r.hashes.is_empty()) {
                // Not a lock: a guarded install resolves it through the gate.
                let finding = if policy.pip.require_lock {
                    Finding::error
                } else {
                    Finding::warning
                };
                findings.push(
                    finding(Kind::Lockfile, file_name(f), f)
                        .msg("has no hashes, so it is not a lock: installs from it resolve through the gate to whatever the indexes serve that day")
                        .hint("lock it with hashes (pip-compile --generate-hashes) for reproducible installs; `[pip] require-lock` refuses unlocked installs in CI"),
                );
                plan::Lock {
                    overridden: plan::overridden(&set.options),
                    ..plan::Lock::default()
                }
            } else {
                plan::from_requirements(&set, Markers::All, prefixes)
            }
        };
        let versions: Vec<String> = lock
            .packages
            .iter()
            .map(|p| p.version.to_string())
            .collect();
        let entries = lock.packages.iter().zip(&versions);
        findings.extend(feed::audit(
            Eco::PyPI,
            f,
            entries.map(|(p, v)| (p.name.as_str(), v.as_str(), Some(p.line))),
        ));
        findings.extend(lock.findings);
        findings.extend(lock.overridden.iter().map(|(o, at)| {
            let option = o.split(' ').next().unwrap_or(o);
            line(
                Finding::warning(Kind::Lockfile, option, &at.file)
                    .msg(format!("`{o}`: plain pip obeys it; lockgate ignores it and takes packages only from the indexes in lockgate.toml"))
                    .hint("remove it from the file; the policy says where packages come from"),
                at.line,
            )
        }));
    }
    Ok(findings)
}

/// `lockgate check` without `--offline`: every locked file (all platforms) looked up on its
/// permitted index by the install's own [`lookup`], with the same verdicts — an internal name
/// whose locked hash is only on the public index (22), a hash its index does not list (23), a
/// version it does not list (27); an index that cannot be asked stops the check as it stops
/// the install (25, 26, 27). Returns the findings and how many packages were looked up.
pub async fn check_online(
    policy: &Policy,
    files: &[PathBuf],
    reporter: &Reporter,
) -> Result<(Vec<Finding>, usize)> {
    let prefixes = policy
        .pip
        .internal
        .as_ref()
        .map(|i| i.prefixes.as_slice())
        .unwrap_or_default();
    let internal = policy.pip.internal.as_ref().map(|i| &i.index_url);
    let mut lock = Lock::default();
    for f in files {
        // Unreadable files and entries the offline audit refuses are reported by it.
        let part = if is_pylock(f) {
            let Some(pylock) = std::fs::read_to_string(f)
                .ok()
                .and_then(|t| pylock::PyLock::parse(&t, f).ok())
            else {
                continue;
            };
            match plan::from_pylock(
                &pylock,
                Markers::All,
                prefixes,
                internal,
                &policy.pip.allow_sdist,
            ) {
                Ok(l) => l,
                Err(_) => continue,
            }
        } else {
            match requirements::load(f) {
                Ok(set) if set.requirements.iter().any(|r| !r.hashes.is_empty()) => {
                    plan::from_requirements(&set, Markers::All, prefixes)
                }
                _ => continue,
            }
        };
        plan::merge(&mut lock, part);
    }
    if lock.packages.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let (creds, missing) = index_credentials(policy);
    if let Some((index, var)) = &missing {
        if lock.packages.iter().any(|p| p.internal) {
            return Err(missing_password(reporter, index, var));
        }
    }
    let client = Client::new(creds, reporter.clone())?;
    let sources = sources(policy);
    let lookup = lookup::Lookup {
        client: &client,
        sources: &sources,
        allow_sdist: &policy.pip.allow_sdist,
        reporter,
        store: None,
        any_platform: true,
    };
    // With every platform's files, Requires-Python does not decide anything either.
    let python = Version::parse("3").expect("constant version");
    let found = lookup.look_up(&lock, None, &python, "any").await?;
    let mut findings: Vec<Finding> = found
        .findings
        .into_iter()
        // The offline audit already names sdists the policy does not allow.
        .filter(|f| f.kind != Kind::SourceBuild)
        .collect();
    for e in found.failures {
        let (kind, package, msg) = match &e {
            Error::Integrity {
                package,
                url,
                expected,
                computed,
            } => (
                Kind::Integrity,
                package.clone(),
                format!(
                    "{url} should hash to {expected}, but its permitted index lists {computed}"
                ),
            ),
            Error::Unavailable {
                package,
                url,
                detail,
            } => (
                Kind::Unavailable,
                package.clone(),
                format!("{url} {detail}"),
            ),
            _ => return Err(e),
        };
        let at = lock
            .packages
            .iter()
            .find(|p| p.id() == package)
            .map(|p| (p.file.clone(), p.line));
        let mut f = Finding::error(
            kind,
            &package,
            at.as_ref().map(|a| a.0.clone()).unwrap_or_default(),
        )
        .msg(msg)
        .hint(e.hint());
        f.line = at.map(|a| a.1).filter(|l| *l > 0);
        findings.push(f);
    }
    Ok((findings, lock.packages.len()))
}

fn line(mut f: Finding, line: usize) -> Finding {
    f.line = Some(line);
    f
}

fn is_pylock(p: &Path) -> bool {
    pylock::is_pylock_filename(&file_name(p))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn command_line() -> Origin {
    Origin {
        file: PathBuf::from("command line"),
        line: 0,
    }
}

fn lock_error(path: &Path, msg: String) -> Error {
    Error::lockfile(path, msg, "fix the lock file (or lock again) and run again")
}

/// pip's `--proxy` (the last one given), else `PIP_PROXY` unless `--isolated`, as pip reads
/// them (`args` are classified, so long options are spelled `--proxy=VALUE`).
fn proxy_option(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    args.iter()
        .rev()
        .find_map(|a| a.strip_prefix("--proxy="))
        .map(str::to_string)
        .or_else(|| {
            if args.iter().any(|a| a == "--isolated") {
                None
            } else {
                env("PIP_PROXY")
            }
        })
        .filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_option_last_wins_env_unless_isolated() {
        let env = |k: &str| (k == "PIP_PROXY").then(|| "http://env:1".to_string());
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            proxy_option(&args(&["--proxy=http://a:1", "--proxy=http://b:2"]), &env).as_deref(),
            Some("http://b:2")
        );
        assert_eq!(
            proxy_option(&args(&["--quiet"]), &env).as_deref(),
            Some("http://env:1")
        );
        assert_eq!(proxy_option(&args(&["--isolated"]), &env), None);
    }

    fn install(line: &[&str]) -> InstallArgs {
        let args: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        match classify::classify(&args) {
            Ok(classify::Invocation::Install(i)) => *i,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn route_argv_keeps_every_option_in_front_of_the_end_of_options() {
        // `-- --index-url=…` is a requirement for pip; `-e` after `--` too. Rebuilt, both stay
        // after lockgate's own `--`, and lockgate's options are all in front of it.
        let inv = install(&[
            "--python=/v",
            "install",
            "-q",
            "--",
            "--index-url=http://evil/",
            "-eevil",
            "x",
        ]);
        let files = [("-r", PathBuf::from("/p/requirements.txt"))];
        let args = route_args(&inv, &["--proxy=http://127.0.0.1:9/".into()], &files);
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--python=/v",
                "install",
                "--quiet",
                "--proxy=http://127.0.0.1:9/",
                "-r/p/requirements.txt",
                "--",
                "--index-url=http://evil/",
                "-eevil",
                "x"
            ]
        );
        assert!(
            inv.index.index_url.is_none(),
            "after `--` it is not an option"
        );

        let inv = install(&[
            "install",
            "--proxy",
            "http://u:p@corp:3128",
            "-e",
            ".",
            "-r",
            "r.txt",
        ]);
        let args = route_args(&inv, &["--proxy=http://127.0.0.1:9/".into()], &[]);
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            ["install", "--proxy=http://127.0.0.1:9/", "--editable=."]
        );
    }
}
