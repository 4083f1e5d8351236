//! Guarded Maven: `lockgate lock mvn` writes a sha256 lock of every file a build needs, resolved
//! with each groupId pinned to its one repository; a guarded `mvn …` verifies every locked file
//! into the store before Maven starts and runs the real mvn against a local repository laid out
//! from the store, with the gate as its only mirror.
//!
//! Flows:
//! - pass-through (`-h`, `-v`): exec the real mvn unchanged. Everything else resolves artifacts
//!   (even `mvn` without goals reads the parent POM) and is guarded.
//! - lock (`lockgate lock mvn [GOALS…]`, default `package`): the real mvn builds with an empty
//!   local repository and the gate in route mode as mirror `*` ([`serve::RouteMode`]); what was
//!   resolved becomes `.mvn/checksums/checksums.sha256` (Maven ≥ 3.9's trusted-checksums format),
//!   written only when the build succeeded; the diff against the old lock is printed.
//! - guarded build: plan the lock (one source per groupId), fetch and verify what the store lacks
//!   (23 on a mismatch, Maven never started; an internal file the internal repository lacks but
//!   the public one has is a confusion attempt, 22), make the project's local repository hold
//!   exactly the locked files, private copies of the store's ([`repo`]), serve the lock through the gate
//!   ([`serve::LockedRoute`]) and run the real mvn with generated settings. A build that fails
//!   after asking for files the lock lacks fails with 21 "lock incomplete", naming them; what a
//!   successful `mvn install` installed is copied to the user's own local repository.
//! - wrapper (`lockgate mvnw …`, `lockgate lock mvnw`): [`wrapper`] reviews the project's
//!   `.mvn/wrapper/maven-wrapper.properties`, verifies and unpacks its Maven distribution through
//!   the store, and that Maven is the real mvn of the flows above.
//!
//! How the real mvn is pointed at the gate, checked with Maven 3.8.7: `-s` and `-gs` are replaced
//! by one generated settings file (mirror `*` → the gate with the run token as `<server>`
//! password; the user's and global settings carried over except mirrors, local repository and
//! offline — [`settings::carry_over`]) and an empty global file; `-Dmaven.repo.local` names the
//! run's repository (command-line `-D` beats `MAVEN_OPTS` and `.mvn/maven.config`). Maven uses
//! files in the local repository that have no `_remote.repositories` without asking any
//! repository, online or offline, and writes nothing next to them; it asks the gate only for
//! what is missing, and for metadata. The user's `-o` (command line, maven.config or settings)
//! is kept — lockgate then downloads nothing either — and `-Daether.offline.hosts=127.0.0.1`
//! lets offline Maven still ask the loopback gate, so a missing file is still named.

pub mod classify;
pub mod coords;
pub mod lock;
pub mod metadata;
pub mod plan;
pub mod project;
pub mod repo;
pub mod serve;
pub mod settings;
pub mod wrapper;
pub(crate) mod xml;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use self::classify::Mode;
use self::lock::{Lock, LOCK_FILE};
use self::plan::{Planned, Sources};
use self::project::Invocation;
use self::settings::{Carried, GateSettings, Settings};
use crate::error::{redact_url, Error, Result, Secret};
use crate::feed::{self, Eco, FeedPolicy};
use crate::fetch::{self, origin_label, Auth, Client, Credential};
use crate::finding::{Finding, Kind};
use crate::gate::Gate;
use crate::policy::{self, MavenPolicy, Policy};
use crate::report::{self, Reporter};
use crate::store::Store;
use crate::tool::{self, SelfLocation, Tool};

/// The goal `lockgate lock mvn` runs when given none.
const DEFAULT_LOCK_GOAL: &str = "package";

/// How many missing files a "lock incomplete" message names.
const MISSES_SHOWN: usize = 12;

/// Entry point for `mvn` (shim or `lockgate mvn …`).
pub fn run(args: &[OsString], me: &SelfLocation) -> Result<i32> {
    let depth = tool::next_depth()?;
    let real = tool::find_real(Tool::Mvn, me)?;
    let cli = utf8_args(args)?;
    if classify::classify(&cli).is_ok_and(|a| a.mode == Mode::PassThrough) {
        return Err(tool::exec_passthrough(&real, args, depth));
    }
    tool::run_guarded("mvn", |reporter| async move {
        Ctx::new(real, depth, &cli, reporter)?.build().await
    })
}

/// Entry point for `lockgate mvnw [ARGS…]`: the project's Maven wrapper distribution, verified
/// and unpacked from the store ([`wrapper`]), run as the real mvn of a guarded build.
pub fn mvnw(args: &[OsString]) -> Result<i32> {
    let depth = tool::next_depth()?;
    let cli = utf8_args(args)?;
    let pass_through = classify::classify(&cli).is_ok_and(|a| a.mode == Mode::PassThrough);
    let wrapped = Wrapped::find(&cli)?;
    tool::run_guarded("mvn", |reporter| async move {
        let real = wrapped.install(&reporter).await?;
        if pass_through {
            reporter.flush();
            return Err(tool::exec_passthrough(&real, args, depth));
        }
        Ctx::new(real, depth, &cli, reporter)?.build().await
    })
}

/// Entry point for `lockgate lock mvnw [GOALS…]`: the lock written by the wrapper's Maven (its
/// default plugin versions are the ones its builds need).
pub fn lock_mvnw(args: &[OsString]) -> Result<i32> {
    let depth = tool::next_depth()?;
    let cli = utf8_args(args)?;
    let wrapped = Wrapped::find(&cli)?;
    tool::run_guarded("mvn", |reporter| async move {
        let real = wrapped.install(&reporter).await?;
        Ctx::new(real, depth, &cli, reporter)?.lock().await
    })
}

/// The project's wrapper properties and the policy, found before a guarded run.
struct Wrapped {
    props: PathBuf,
    wrapper: wrapper::Wrapper,
    policy: Policy,
    repo_url: Option<String>,
}

impl Wrapped {
    fn find(cli: &[String]) -> Result<Wrapped> {
        let cwd = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
        let file = classify::classify(cli).ok().and_then(|a| a.file);
        let root = project::project_root(&cwd, file.as_deref());
        let policy = policy::load(&cwd)?;
        let Some((props, wrapper)) = wrapper::read(&root)? else {
            return Err(Error::config(
                format!(
                    "there is no {} in {}, so there is no wrapper to run",
                    wrapper::PROPERTIES,
                    root.display()
                ),
                "run `lockgate mvn …` for a project without a Maven wrapper",
            ));
        };
        Ok(Wrapped {
            props,
            wrapper,
            policy,
            repo_url: std::env::var("MVNW_REPOURL").ok(),
        })
    }

    /// Review the properties (refusing on errors), then the verified distribution's `bin/mvn`.
    async fn install(&self, reporter: &Reporter) -> Result<PathBuf> {
        let repo_url = self.repo_url.as_deref();
        let findings = wrapper::review(&self.wrapper, &self.policy, repo_url, &self.props);
        reporter.refuse_on_errors(&findings)?;
        let store = Store::from_env()?;
        let client = Client::new(
            wrapper_credential(&self.wrapper, repo_url),
            reporter.clone(),
        )?;
        let real = wrapper::install(&self.wrapper, &self.policy, repo_url, &client, &store).await?;
        reporter.audit("wrapper", json!({"properties": self.props, "mvn": real}));
        Ok(real)
    }
}

/// `MVNW_USERNAME` + `MVNW_PASSWORD`, which ./mvnw sends for the distribution download, bound
/// to the distribution's origin.
fn wrapper_credential(w: &wrapper::Wrapper, repo_url: Option<&str>) -> Vec<Credential> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(user), Some(pw)) = (env("MVNW_USERNAME"), env("MVNW_PASSWORD")) else {
        return Vec::new();
    };
    let url = wrapper::apply_repo_url(w.distribution_url.as_deref().unwrap_or_default(), repo_url);
    reqwest::Url::parse(&url)
        .map(|u| {
            vec![Credential::for_url(
                &u,
                Auth::Basic {
                    user,
                    password: Secret::new(pw),
                },
                "$MVNW_USERNAME/$MVNW_PASSWORD",
            )]
        })
        .unwrap_or_default()
}

/// Entry point for `lockgate lock mvn [GOALS…]`.
pub fn lock(args: &[OsString], me: &SelfLocation) -> Result<i32> {
    let depth = tool::next_depth()?;
    let real = tool::find_real(Tool::Mvn, me)?;
    let cli = utf8_args(args)?;
    tool::run_guarded("mvn", |reporter| async move {
        Ctx::new(real, depth, &cli, reporter)?.lock().await
    })
}

/// Run a guarded flow with the reporter, recording a refusal and flushing the counters.
fn utf8_args(args: &[OsString]) -> Result<Vec<String>> {
    args.iter()
        .map(|a| {
            a.to_str().map(str::to_string).ok_or_else(|| {
                Error::config(
                    format!("the mvn argument {a:?} is not valid UTF-8"),
                    "pass the argument in UTF-8",
                )
            })
        })
        .collect()
}

/// Everything a guarded run needs, resolved once.
struct Ctx {
    real: PathBuf,
    depth: u32,
    cwd: PathBuf,
    inv: Invocation,
    settings: Settings,
    carried: Carried,
    offline: bool,
    sources: Sources,
    store: Store,
    client: Client,
    reporter: Reporter,
    /// Why the internal repository's credentials cannot be used, if they cannot: raised only
    /// when something must be fetched from it.
    credentials_problem: Option<Error>,
    feed: FeedPolicy,
    started: Instant,
    /// `[cooldown]`, for `lockgate lock mvn`.
    cooldown: crate::cooldown::Cooldown,
}

impl Ctx {
    fn new(real: PathBuf, depth: u32, cli: &[String], reporter: Reporter) -> Result<Ctx> {
        let cwd = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
        let inv = project::discover(cli, &cwd, &real)?;
        let policy = policy::load(&cwd)?;
        let (settings, carried) = inv.settings()?;
        let mut creds = Vec::new();
        let mut credentials_problem = None;
        match internal_credential(&policy.maven, &settings) {
            Ok(Some(c)) => creds.push(c),
            Ok(None) => {}
            Err(e) => credentials_problem = Some(e),
        }
        Ok(Ctx {
            offline: inv.offline || settings.offline,
            sources: Sources::from_policy(&policy.maven),
            store: Store::from_env()?,
            client: Client::with_proxies(creds, reporter.clone(), maven_proxies(&settings)?)?,
            real,
            depth,
            cwd,
            inv,
            settings,
            carried,
            reporter,
            credentials_problem,
            feed: policy.feed,
            started: Instant::now(),
            cooldown: policy.cooldown.clone(),
        })
    }

    /// A guarded build from the lock.
    async fn build(self) -> Result<i32> {
        let lock_path = self.inv.lock_path.clone();
        let lock = read_lock(&lock_path)?.ok_or_else(|| {
            Error::lockfile(
                &lock_path,
                "there is no Maven lock, so lockgate cannot tell which files this build may use",
                "run `lockgate lock mvn` (with the goals your builds run), review and commit .mvn/checksums/checksums.sha256",
            )
        })?;
        let mut plan = plan::plan(&lock, &lock_path, &self.sources);
        let gavs = feed_names(&plan.files);
        let entries = gavs.iter().map(|(ga, v)| (ga.as_str(), *v, None));
        plan.findings.extend(feed::refuse_listed(
            &self.feed,
            Eco::Maven,
            &lock_path,
            entries,
        ));
        self.reporter.refuse_on_errors(&plan.findings)?;
        let missing: Vec<&Planned> = plan
            .files
            .iter()
            .filter(|p| !self.store.contains(&p.digest()))
            .collect();
        if self.offline && !missing.is_empty() {
            return Err(Error::Unavailable {
                package: missing[0].label(),
                url: redact_url(missing[0].url.as_str()),
                detail: format!(
                    "is not in the verified store, and this run is offline (-o), so lockgate downloads nothing; {} locked file(s) are missing: run once without -o to fetch and verify them",
                    missing.len()
                ),
            });
        }
        if missing.iter().any(|p| p.internal) {
            self.check_credentials()?;
        }
        let artifacts: Vec<fetch::Artifact> = plan.files.iter().map(Planned::artifact).collect();
        let summary = match fetch::fetch_all(&self.client, &self.store, &artifacts).await {
            Ok(s) => s,
            Err(e) => return Err(self.explain(e, &plan.files, &lock_path).await),
        };
        for p in &plan.files {
            self.reporter.audit(
                "verified",
                json!({"package": p.coords.gav(), "file": p.coords.file_label(), "digest": p.digest().to_string(),
                       "source": if p.internal {"internal"} else {"public"}}),
            );
        }

        let locked: Vec<(&coords::RepoPath, crate::integrity::Digest)> =
            plan.files.iter().map(|p| (&p.path, p.digest())).collect();
        let run = repo::RunRepo::prepare(&self.store, &lock_path, &locked)?;
        let mut gate = Gate::bind().await?;
        let route = Arc::new(serve::LockedRoute::new(&lock, &plan.files, &self.store));
        gate.serve(route.clone());
        let internal = plan.files.iter().filter(|p| p.internal).count();
        eprintln!(
            "{}",
            summary.line(
                "mvn",
                summary.artifacts,
                "files",
                LOCK_FILE,
                internal,
                self.started
            )
        );
        let code =
            tool::run_child(self.mvn_command(&run, &gate, self.offline, None)?, "mvn").await?;
        drop(gate);
        self.report_changed(&run);
        if code != 0 {
            let misses = route.misses();
            if !misses.is_empty() {
                self.reporter.audit(
                    "lock-incomplete",
                    json!({"lockfile": lock_path, "missing": misses}),
                );
                return Err(Error::lockfile(
                    &lock_path,
                    format!("lock incomplete: the build asked for {} that the lock does not have: {}", plural(misses.len(), "file"), describe_paths(&misses)),
                    "run `lockgate lock mvn` with the goals this build runs, review the diff and commit the lock",
                ));
            }
            return Ok(code);
        }
        self.export_installed(&run);
        self.reporter.audit(
            "build",
            json!({"lockfile": lock_path, "files": summary.artifacts, "downloaded": summary.downloaded, "goals": self.inv.args.goals}),
        );
        Ok(0)
    }

    /// `lockgate lock mvn`: resolve through the gate in route mode and write the lock.
    async fn lock(self) -> Result<i32> {
        if self.inv.args.mode == Mode::PassThrough {
            return Err(Error::config(
                "`lockgate lock mvn` runs a build to see what it needs; -h and -v build nothing",
                "name the goals your builds run, e.g. `lockgate lock mvn verify`",
            ));
        }
        if self.offline {
            eprintln!("lockgate: note: resolving a lock needs the repositories; running Maven online despite -o/<offline>");
        }
        if self.sources.internal.is_some() {
            self.check_credentials()?;
        }
        let stale = feed::refuse_listed(&self.feed, Eco::Maven, &self.inv.lock_path, []);
        self.reporter.refuse_on_errors(&stale)?;
        let lock_path = self.inv.lock_path.clone();
        // Read once: its artifacts are not new (the cooldown), and the new lock is diffed with it.
        let old = match read_lock(&lock_path) {
            Ok(old) => old.unwrap_or_default(),
            Err(e) => {
                eprintln!("lockgate: warning: the old lock is unreadable, so every artifact counts as new and a successful run replaces it: {e}");
                Lock::default()
            }
        };
        let run = repo::RunRepo::fresh(&self.store)?;
        let mut gate = Gate::bind().await?;
        let route = Arc::new(
            serve::RouteMode::new(
                self.sources.clone(),
                self.client.clone(),
                self.store.clone(),
                self.reporter.clone(),
            )
            .with_cooldown(
                crate::cooldown::Watch::new(
                    &self.cooldown,
                    Some(self.store.root()),
                    Vec::new(),
                    Vec::new(),
                    str::to_string,
                )
                .map(|w| w.with_known_names(locked_artifacts(&old))),
            ),
        );
        gate.serve(route.clone());
        let extra = self.inv.args.goals.is_empty().then_some(DEFAULT_LOCK_GOAL);
        let code = tool::run_child(self.mvn_command(&run, &gate, false, extra)?, "mvn").await?;
        let resolved = route.finish(&lock_path).await;
        drop(gate);
        if let Some(w) = &route.cooldown {
            let refusals = w.verdict(code, &self.cwd.join("pom.xml"));
            self.reporter.refuse_on_errors(&refusals)?;
        }
        let new = resolved?;
        if code != 0 {
            eprintln!(
                "lockgate: mvn failed (exit {code}); {} was not changed",
                display_rel(&lock_path, &self.cwd)
            );
            return Ok(code);
        }
        if new.is_empty() {
            return Err(Error::lockfile(
                &lock_path,
                "Maven resolved nothing through the gate, so there is nothing to lock",
                "run a goal that builds the project, e.g. `lockgate lock mvn package`",
            ));
        }
        let diff = lock::diff(&old, &new);
        // A first lock is all additions: the count in the last line says enough.
        if !old.is_empty() {
            for line in diff.to_string().lines() {
                eprintln!("lockgate:   {line}");
            }
        }
        let republished: Vec<&str> = diff
            .changed
            .iter()
            .filter(|(p, _, _)| !p.as_str().contains("-SNAPSHOT/"))
            .map(|(p, _, _)| p.as_str())
            .collect();
        if !republished.is_empty() {
            eprintln!(
                "lockgate: warning: released files changed their content under the same version: {}. Released artifacts never change legitimately; find out why (tampering, a poisoned proxy) before committing this lock.",
                republished.join(", ")
            );
        }
        write_lock(&lock_path, &new)?;
        let internal = new
            .iter()
            .filter(|(p, _)| coords::Coords::parse(p).is_ok_and(|c| self.sources.is_internal(&c)))
            .count();
        eprintln!(
            "lockgate: wrote {} ({} files, {internal} internal) in {:.1} s",
            display_rel(&lock_path, &self.cwd),
            new.len(),
            self.started.elapsed().as_secs_f64()
        );
        self.reporter.audit(
            "lock",
            json!({"lockfile": lock_path, "files": new.len(), "added": diff.added.len(), "removed": diff.removed.len(), "changed": diff.changed.len()}),
        );
        self.export_installed(&run);
        Ok(0)
    }

    /// The real mvn, pointed at the gate and the run's local repository.
    fn mvn_command(
        &self,
        run: &repo::RunRepo,
        gate: &Gate,
        offline: bool,
        extra_goal: Option<&str>,
    ) -> Result<tokio::process::Command> {
        let repo = run.repo();
        let repo_text = repo.to_string_lossy();
        let text = settings::render(&GateSettings {
            gate_url: gate.url().as_str(),
            offline,
            local_repository: &repo_text,
            credentials: Some(("lockgate", gate.token().expose())),
            carried: &self.carried,
        });
        let user = run.write_private("settings.xml", &text)?;
        let global = run.write_private("global-settings.xml", "<settings/>\n")?;
        let mut cmd = tokio::process::Command::new(&self.real);
        cmd.arg("-s")
            .arg(user)
            .arg("-gs")
            .arg(global)
            .arg(format!("-Dmaven.repo.local={repo_text}"))
            .arg("-Daether.offline.hosts=127.0.0.1");
        if offline {
            cmd.arg("-o");
        }
        cmd.args(&self.inv.args.rest)
            .args(extra_goal)
            .current_dir(&self.cwd);
        let mut env = crate::handoff::tool_env(Tool::Mvn);
        env.set(tool::DEPTH_VAR, self.depth.to_string());
        env.apply(&mut cmd);
        Ok(cmd)
    }

    fn check_credentials(&self) -> Result<()> {
        match &self.credentials_problem {
            Some(Error::Auth {
                registry,
                package,
                detail,
                hint,
            }) => {
                self.reporter.count(
                    report::AUTH_FAILURES,
                    &[("registry", registry), ("user", "anonymous")],
                );
                Err(Error::Auth {
                    registry: registry.clone(),
                    package: package.clone(),
                    detail: detail.clone(),
                    hint: hint.clone(),
                })
            }
            Some(e) => Err(Error::config(e.to_string(), e.hint())),
            None => Ok(()),
        }
    }

    /// A fetch failure, or the confusion it reveals: an internal file the internal repository
    /// does not have but the public one does can only have been locked from the public one.
    async fn explain(&self, e: Error, planned: &[Planned], lock_path: &Path) -> Error {
        let Error::Unavailable { package, .. } = &e else {
            return e;
        };
        let Some(p) = planned.iter().find(|p| p.internal && p.label() == *package) else {
            return e;
        };
        if !self.sources.probe_public() {
            return e;
        }
        let public_url = plan::url_in(&self.sources.public, &p.path);
        let name = format!("{}:{}", p.coords.group_id, p.coords.artifact_id);
        if self.client.get(&public_url, None, &name).await.is_err() {
            return e;
        }
        self.reporter
            .count(report::CONFUSION, &[("package", &name)]);
        let finding = Finding::error(Kind::Confusion, p.label(), lock_path)
            .msg(format!(
                "is in an internal group; the internal repository {} does not have it but the public repository {} does, so the locked file can only have come from there",
                origin_label(&p.url),
                origin_label(&public_url)
            ))
            .hint("nothing was built. Publish the artifact to the internal repository or remove the dependency, then run `lockgate lock mvn` and review the diff");
        self.reporter.audit(
            "refuse",
            json!({"reason": Kind::Confusion.id(), "package": name, "file": p.path.as_str(), "message": finding.message}),
        );
        Error::Refused {
            findings: vec![finding],
        }
    }

    /// Locked files whose bytes the build changed in its own repository (hashed after the run):
    /// reported and dropped from the project's layout. The store and other builds never had them.
    fn report_changed(&self, run: &repo::RunRepo) {
        for c in run.changed() {
            let seen = c
                .seen
                .as_ref()
                .map_or_else(|| "deleted".to_string(), |d| format!("hashes to {d}"));
            let label = coords::RepoPath::parse(&c.path)
                .ok()
                .and_then(|rp| coords::Coords::parse(&rp).ok())
                .map_or_else(
                    || c.path.clone(),
                    |co| format!("{} ({})", co.gav(), co.file_label()),
                );
            eprintln!(
                "lockgate: warning: the build changed the locked file {label} in its local repository: expected {}, now {seen}. The verified store and other builds are unaffected (each build has its own copy); the file is laid out afresh next run. Find out which plugin or test writes into the local repository (an `install` over a locked artifact does).",
                c.expected
            );
            self.reporter.audit(
                "repository-changed",
                json!({"file": c.path, "expected": c.expected.to_string(), "seen": c.seen.as_ref().map(|d| d.to_string())}),
            );
        }
    }

    /// After a successful run: what Maven installed goes to the user's own local repository.
    fn export_installed(&self, run: &repo::RunRepo) {
        let to = self.inv.user_repository(&self.settings);
        match repo::export_installed(&run.repo(), &to) {
            Ok(copied) if !copied.is_empty() => {
                eprintln!("lockgate: installed {} into {}", plural(copied.len(), "file"), to.display());
                self.reporter.audit("installed", json!({"repository": to, "files": copied}));
            }
            Ok(_) => {}
            Err(e) => eprintln!("lockgate: warning: the build succeeded but its installed artifacts could not be copied to {}: {e}", to.display()),
        }
    }
}

/// The credential for the internal repository: `username` + `password-env`, or the `<server>`
/// named by `server-id` in the user's settings; `None` for an internal repository without
/// credentials configured (anonymous reads, which `lockgate check` warns about).
/// The credential a guarded build would use for the internal repository of the project in `dir`
/// (policy `username` + `password-env`, or the settings.xml `<server>` named by `server-id`); for
/// `lockgate doctor`.
pub fn doctor_credential(
    policy: &Policy,
    dir: &Path,
    real_mvn: &Path,
) -> Result<Option<Credential>> {
    let inv = project::discover(&[], dir, real_mvn)?;
    let (settings, _) = inv.settings()?;
    internal_credential(&policy.maven, &settings)
}

fn internal_credential(policy: &MavenPolicy, settings: &Settings) -> Result<Option<Credential>> {
    let Some(internal) = &policy.internal else {
        return Ok(None);
    };
    let registry = origin_label(&internal.url);
    let auth_error = |detail: String, hint: String| Error::Auth {
        registry: registry.clone(),
        package: "internal artifacts".into(),
        detail,
        hint,
    };
    match (
        &internal.username,
        &internal.password_env,
        &internal.server_id,
    ) {
        (Some(user), Some(var), _) => match std::env::var(var).ok().filter(|v| !v.is_empty()) {
            Some(pw) => Ok(Some(Credential::for_url(
                &internal.url,
                Auth::Basic {
                    user: user.clone(),
                    password: Secret::new(pw),
                },
                format!("${var}"),
            ))),
            None => Err(auth_error(
                format!("the policy says the password is in ${var}, which is not set"),
                format!(
                    "export {var}=<password of {user} for {}> (in CI, from the secret store)",
                    internal.url
                ),
            )),
        },
        (None, None, Some(id)) => {
            let Some(server) = settings.server(id) else {
                return Err(auth_error(
                    format!("the policy names <server> `{id}`, which is not in the Maven settings"),
                    format!("add <server><id>{id}</id><username>…</username><password>${{env.…}}</password></server> to ~/.m2/settings.xml"),
                ));
            };
            let (user, pw) = server.credentials().map_err(|e| {
                auth_error(
                    e.to_string(),
                    "fix the <server> entry in the Maven settings".into(),
                )
            })?;
            Ok(Some(Credential::for_url(
                &internal.url,
                Auth::Basic {
                    user: user.to_string(),
                    password: Secret::new(pw),
                },
                format!("<server> {id} in {}", server.file.display()),
            )))
        }
        (None, None, None) => Ok(None),
        _ => Err(Error::config(
            "[maven.internal] needs `username` with `password-env`, or `server-id`, not a mix",
            "set username + password-env, or server-id naming a <server> in ~/.m2/settings.xml",
        )),
    }
}

/// The lock at `path`: `None` when there is none.
/// `group:artifact` of every file `lock` holds: what `lockgate lock mvn` does not add (none
/// without a readable lock, so a first lock checks every artifact it resolves).
fn locked_artifacts(lock: &Lock) -> std::collections::BTreeSet<String> {
    lock.iter()
        .filter_map(|(p, _)| coords::Coords::parse(p).ok())
        .map(|c| format!("{}:{}", c.group_id, c.artifact_id))
        .collect()
}

fn read_lock(path: &Path) -> Result<Option<Lock>> {
    parse_lock_file(path)?
        .transpose()
        .map_err(|e| Error::lockfile(path, format!("line {}: {}", e.line, e.what), LOCK_LINE_HINT))
}

const LOCK_LINE_HINT: &str =
    "fix the line, or regenerate the lock with `lockgate lock mvn` and review the diff";

/// The lock file at `path`, parsed: `None` when there is none.
fn parse_lock_file(path: &Path) -> Result<Option<Result<Lock, lock::LockError>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(lock::parse(&text, path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read the Maven lock", path, e)),
    }
}

/// Write the lock atomically (a reader never sees half a file).
fn write_lock(path: &Path, lock: &Lock) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("the lock path has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("write in", dir, e))?;
    tmp.write_all(lock::render(lock).as_bytes())
        .map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("write", path, e.error))?;
    Ok(())
}

/// `com.myorg:a:1.0 (jar), …` for repository paths (as they are when they do not parse).
fn describe_paths(paths: &[String]) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(MISSES_SHOWN)
        .map(|p| {
            coords::RepoPath::parse(p)
                .ok()
                .and_then(|rp| coords::Coords::parse(&rp).ok())
                .map_or_else(
                    || p.clone(),
                    |c| format!("{} ({})", c.gav(), c.file_label()),
                )
        })
        .collect();
    if paths.len() > MISSES_SHOWN {
        shown.push(format!("and {} more", paths.len() - MISSES_SHOWN));
    }
    shown.join(", ")
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn display_rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `lockgate check`'s Maven part: `None` when `dir` is no Maven project.
/// Locked files as the malicious-package feed names them: (`groupId:artifactId`, version).
fn feed_names(files: &[Planned]) -> Vec<(String, &str)> {
    files
        .iter()
        .filter_map(|p| {
            let c = &p.coords;
            Some((
                format!("{}:{}", c.group_id, c.artifact_id),
                c.version.as_deref()?,
            ))
        })
        .collect()
}

pub fn audit(dir: &Path, policy: &Policy) -> Result<Option<(PathBuf, Vec<Finding>)>> {
    let lock_path = dir.join(LOCK_FILE);
    let pom = dir.join("pom.xml");
    if !pom.is_file() && !lock_path.is_file() {
        return Ok(None);
    }
    let sources = Sources::from_policy(&policy.maven);
    let mut findings = Vec::new();
    match parse_lock_file(&lock_path)? {
        Some(Ok(lock)) => {
            let plan = plan::plan(&lock, &lock_path, &sources);
            let gavs = feed_names(&plan.files);
            let entries = gavs.iter().map(|(ga, v)| (ga.as_str(), *v, None));
            findings.extend(feed::audit(Eco::Maven, &lock_path, entries));
            findings.extend(plan.findings);
        }
        Some(Err(e)) => {
            let mut f = Finding::error(Kind::Lockfile, LOCK_FILE, &lock_path)
                .msg(e.what)
                .hint(LOCK_LINE_HINT);
            f.line = Some(e.line);
            findings.push(f);
        }
        None => findings.push(
            Finding::error(Kind::Lockfile, "pom.xml", &lock_path)
                .msg("there is no Maven lock, so a guarded build would refuse to run")
                .hint("run `lockgate lock mvn` (with the goals your builds run), review and commit .mvn/checksums/checksums.sha256"),
        ),
    }
    if let Some(internal) = &policy.maven.internal {
        if internal.username.is_none() && internal.server_id.is_none() {
            findings.push(
                Finding::warning(Kind::InsecureSource, internal.groups.join(", "), policy.files.last().cloned().unwrap_or_default())
                    .msg(format!("no credentials are configured for the internal repository {}: lockgate reads it anonymously, and if that works anyone on the network can read internal artifacts", redact_url(internal.url.as_str())))
                    .hint("require authentication on the repository and set [maven.internal] username + password-env, or server-id"),
            );
        }
    }
    if let Ok(text) = std::fs::read_to_string(&pom) {
        for url in pom_repositories(&text) {
            let insecure =
                reqwest::Url::parse(&url).map_or(true, |u| policy::check_transport(&u).is_err());
            if insecure {
                findings.push(
                    Finding::warning(Kind::InsecureSource, url.as_str(), &pom)
                        .msg("pom.xml declares a repository that is not https; guarded builds never use it (every file comes through lockgate), but a plain mvn run would download from it unprotected")
                        .hint("use an https:// URL, or remove the repository and let [maven] repository serve it"),
                );
            }
        }
    }
    Ok(Some((lock_path, findings)))
}

/// The `<url>`s of a POM's `<repositories>` and `<pluginRepositories>` (unreadable POMs: none).
fn pom_repositories(text: &str) -> Vec<String> {
    let Ok(project) = xml::parse(text) else {
        return Vec::new();
    };
    ["repositories", "pluginRepositories"]
        .iter()
        .filter_map(|list| project.child(list))
        .flat_map(|list| list.children.iter())
        .filter_map(|r| r.child_text("url"))
        .map(str::to_string)
        .collect()
}

/// The proxies Maven would use for lockgate's own downloads (`<proxies>` of the settings);
/// an encrypted proxy password is refused, as for servers: lockgate does not decrypt it.
fn maven_proxies(settings: &settings::Settings) -> Result<crate::proxy::Proxies> {
    if let Some(p) = settings
        .proxies
        .iter()
        .find(|p| p.active && p.password.as_deref().is_some_and(settings::is_encrypted))
    {
        return Err(Error::config(
            format!(
                "Maven's proxy `{}` has an encrypted password, which lockgate cannot decrypt",
                p.id
            ),
            "put the password in an environment variable and write <password>${env.NAME}</password>",
        ));
    }
    Ok(crate::proxy::Proxies::for_maven(&settings.proxies)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::InternalMaven;

    fn internal(
        username: Option<&str>,
        password_env: Option<&str>,
        server_id: Option<&str>,
    ) -> MavenPolicy {
        MavenPolicy {
            repository: None,
            wrapper_sha256: None,
            wrapper_hosts: Vec::new(),
            internal: Some(InternalMaven {
                url: reqwest::Url::parse("https://maven.corp.example/internal/").unwrap(),
                groups: vec!["com.myorg".into()],
                username: username.map(str::to_string),
                password_env: password_env.map(str::to_string),
                server_id: server_id.map(str::to_string),
            }),
        }
    }

    #[test]
    fn internal_credentials_come_from_env_or_a_settings_server() {
        let none = Settings::default();
        let unset = internal(Some("ci"), Some("LOCKGATE_TEST_SURELY_UNSET_PW"), None);
        let e = internal_credential(&unset, &none).unwrap_err();
        assert_eq!(e.exit_code(), 25);
        assert!(
            e.to_string().contains("$LOCKGATE_TEST_SURELY_UNSET_PW"),
            "{e}"
        );
        assert!(
            e.hint()
                .starts_with("export LOCKGATE_TEST_SURELY_UNSET_PW="),
            "{}",
            e.hint()
        );

        let e = internal_credential(&internal(None, None, Some("corp")), &none).unwrap_err();
        assert_eq!(e.exit_code(), 25);
        assert!(e.to_string().contains("`corp`"), "{e}");
        let with_server = settings::read(
            "<settings><servers><server><id>corp</id><username>u</username><password>p</password></server></servers></settings>",
            Path::new("s.xml"),
            &|_| None,
        )
        .unwrap();
        let c = internal_credential(&internal(None, None, Some("corp")), &with_server)
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.host.as_str(), c.auth.user()),
            ("maven.corp.example", "u")
        );
        assert!(c.source.contains("s.xml"));

        assert!(internal_credential(&internal(None, None, None), &none)
            .unwrap()
            .is_none());
        assert_eq!(
            internal_credential(&internal(Some("u"), None, Some("x")), &none)
                .unwrap_err()
                .exit_code(),
            20
        );
        assert!(internal_credential(&MavenPolicy::default(), &none)
            .unwrap()
            .is_none());
    }

    #[test]
    fn pom_repositories_are_listed() {
        let pom = r#"<project><repositories><repository><id>a</id><url>http://repo.example/m2</url></repository></repositories>
            <pluginRepositories><pluginRepository><id>b</id><url>https://plugins.example/</url></pluginRepository></pluginRepositories>
            <distributionManagement><repository><url>http://deploy.example/</url></repository></distributionManagement></project>"#;
        assert_eq!(
            pom_repositories(pom),
            ["http://repo.example/m2", "https://plugins.example/"]
        );
        assert!(pom_repositories("not xml").is_empty());
    }

    #[test]
    fn audit_reports_missing_and_malformed_locks_and_anonymous_internal() {
        let d = tempfile::tempdir().unwrap();
        let policy = Policy {
            maven: internal(None, None, None),
            ..Policy::default()
        };
        assert!(
            audit(d.path(), &policy).unwrap().is_none(),
            "no Maven project"
        );
        std::fs::write(
            d.path().join("pom.xml"),
            "<project><repositories><repository><url>http://127.0.0.1:8081/</url></repository><repository><url>http://repo.example/</url></repository></repositories></project>",
        )
        .unwrap();
        let (_, f) = audit(d.path(), &policy).unwrap().unwrap();
        let kinds: Vec<(Kind, bool, &str)> = f
            .iter()
            .map(|f| (f.kind, f.is_error(), f.package.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Kind::Lockfile, true, "pom.xml"),
                (Kind::InsecureSource, false, "com.myorg"),
                (Kind::InsecureSource, false, "http://repo.example/")
            ]
        );
        std::fs::create_dir_all(d.path().join(".mvn/checksums")).unwrap();
        std::fs::write(
            d.path().join(LOCK_FILE),
            format!("# ok\n{}  a/b/1/b-1.jar\nbad line\n", "ab".repeat(32)),
        )
        .unwrap();
        let (_, f) = audit(d.path(), &Policy::default()).unwrap().unwrap();
        assert_eq!(f[0].line, Some(3), "{:?}", f[0]);
        assert_eq!(f[0].exit_code(), 21);
    }

    #[test]
    fn missing_files_are_named_by_coordinates() {
        let misses: Vec<String> = (0..14)
            .map(|i| format!("com/myorg/a/1.{i}/a-1.{i}.jar"))
            .collect();
        let text = describe_paths(&misses);
        assert!(
            text.starts_with("com.myorg:a:1.0 (jar), com.myorg:a:1.1 (jar)"),
            "{text}"
        );
        assert!(text.ends_with("and 2 more"), "{text}");
        assert_eq!(describe_paths(&["odd".into()]), "odd");
    }
}
