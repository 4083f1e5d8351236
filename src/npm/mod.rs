//! Guarded npm: classify, plan from the lockfile, verify everything, then run the real npm
//! against the loopback gate with scripts off; rebuild only allowlisted packages.
//!
//! Flows:
//! - pass-through (`run`, `test`, `--version`, …): exec the real npm unchanged;
//! - locked (`npm ci`; `npm install` with no packages and an in-sync lockfile): plan → guard →
//!   fetch+verify → gate → `npm ci --ignore-scripts` → allowlisted `npm rebuild`;
//! - route (`npm install foo`, `npm update`, `npm install` without or out of sync with a lockfile):
//!   the gate forwards each name to its one source while npm writes the lockfile only
//!   (`--package-lock-only`), then the new lockfile goes through the locked flow. On any refusal
//!   package.json and the lockfile are restored byte for byte;
//! - global (`npm install -g foo`): the gate forwards metadata and tarballs from each name's one
//!   source; scripts stay off.

pub mod classify;
pub mod lockfile;
pub mod nopt;
pub mod npmrc;
pub mod plan;
pub mod scripts;
pub mod semver;
pub mod serve;
pub mod spec;
pub mod tables;
pub mod workspaces;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use reqwest::Url;
use serde_json::{json, Value};

use self::classify::{Action, Invocation};
use self::lockfile::Lockfile;
use self::plan::{Plan, Sources, Target};
use crate::error::{Error, Result};
use crate::feed::{self, Eco};
use crate::fetch::{self, Auth, Client, Credential};
use crate::gate::Gate;
use crate::handoff;
use crate::policy::{self, check_transport, Policy};
use crate::report::{self, Reporter};
use crate::store::Store;
use crate::tool::{self, SelfLocation, Tool};
use crate::typoguard::{self, TypoGuard};

const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// Entry point for `npm`/`npx` (shim or `lockgate npm …`).
pub fn run(tool: Tool, args: &[OsString], me: &SelfLocation) -> Result<i32> {
    let depth = tool::next_depth()?;
    let real = tool::find_real(tool, me)?;
    if tool == Tool::Npx {
        let exec = npx_exec_args(args);
        let args = npx_args(args).or_else(refused)?;
        exec_refusal(&exec, None).map_or(Ok(()), refused)?;
        eprintln!("{NO_INSTALL_NOTICE}");
        std::env::set_var("npm_config_yes", "false");
        return Err(tool::exec_passthrough(&real, &args, depth));
    }
    let version = npm_version(&real);
    let mut inv = classify::classify(args, version.as_deref());
    match &inv.action {
        Action::PassThrough => return Err(tool::exec_passthrough(&real, args, depth)),
        Action::Refuse { what, hint } => {
            return refused(Error::config(
                format!(
                    "{what}; lockgate does not run it (npm's own reading of `npm {}`)",
                    args.iter()
                        .map(|a| a.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                hint.clone(),
            ))
        }
        Action::NoInstall => {
            if let Some(exec) = &inv.exec {
                exec_refusal(exec, inv.prefix.as_deref()).map_or(Ok(()), refused)?;
            }
            let argv = npm_argv(
                version.as_deref(),
                args,
                &BTreeMap::new(),
                &[("yes".into(), "false".into())],
            )
            .or_else(refused)?;
            eprintln!("{NO_INSTALL_NOTICE}");
            std::env::set_var("npm_config_yes", "false");
            return Err(tool::exec_passthrough(&real, &argv, depth));
        }
        _ => {}
    }
    inv.omit_dev |= std::env::var("NODE_ENV").is_ok_and(|v| v == "production");
    check_npm_version(&real, version.as_deref())?;
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
    tool::run_guarded("npm", |reporter| async move {
        Ctx::new(real, args.to_vec(), inv, version, depth, &cwd, reporter)?
            .guarded()
            .await
    })
}

/// A refusal before any guarded flow starts: recorded in the audit log like every other.
fn refused<T>(e: Error) -> Result<T> {
    let reporter = Reporter::from_env("npm");
    reporter.audit(
        "refuse",
        json!({"exit": e.exit_code(), "error": e.to_string()}),
    );
    reporter.flush();
    Err(e)
}

const NO_INSTALL_NOTICE: &str = "lockgate: npx/`npm exec`/`npm init <pkg>` run only packages already installed (--yes=false); install a tool through lockgate first (`npm install -D <pkg>`)";

/// npx's options before the command, limited to those that cannot make it install: npx runs
/// `npm exec`, and lockgate adds `--yes=false` in front (and in the environment) so a package
/// that is not installed is refused by npm itself instead of downloaded and run.
/// What `npx` was asked to run (its options end at the first word that is not one).
fn npx_exec_args(args: &[OsString]) -> classify::ExecArgs {
    let mut exec = classify::ExecArgs {
        package_or_call: false,
        command: None,
    };
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = words.next() {
        if a == "--" {
            exec.command = words.next().map(|w| w.into_owned());
            break;
        }
        if !a.starts_with('-') {
            exec.command = Some(a.into_owned());
            break;
        }
        let key = a.trim_start_matches('-');
        let (key, value) = key
            .split_once('=')
            .map_or((key, None), |(k, v)| (k, Some(v)));
        if matches!(key, "package" | "p" | "call" | "c") {
            exec.package_or_call = true;
            if value.is_none() {
                words.next();
            }
        }
    }
    exec
}

/// `npm exec`/`npx` installs some things even when told not to (libnpmexec sets `yes` for them):
/// a command that is a folder (`npx ./tool`), and a command that is the bin of the project's own
/// package or of a workspace (npm installs that package, with its registry dependencies and
/// their install scripts, into its npx cache). Both happen outside lockgate, so both are refused.
/// `prefix`: `--prefix`/`-C`, where npm looks for the project instead of the working directory.
fn exec_refusal(exec: &classify::ExecArgs, prefix: Option<&str>) -> Option<Error> {
    if exec.package_or_call {
        return None;
    }
    let command = exec.command.as_deref()?;
    let folder = command.starts_with(['.', '/'])
        || command.starts_with("~/")
        || command.to_ascii_lowercase().starts_with("file:");
    if folder {
        return Some(Error::config(
            format!("`npm exec {command}` installs that folder's dependencies from the registry with their install scripts, outside lockgate (npm ignores --yes=false for a folder)"),
            "`npm install` the folder's dependencies through lockgate, then run its bin with `node`",
        ));
    }
    let cwd = std::env::current_dir().ok()?;
    let root = project_root(&cwd, prefix);
    let cwd = prefix.map_or(cwd.clone(), |p| cwd.join(p));
    let manifest = |d: &Path| read_manifest(&d.join("package.json")).ok().flatten();
    let provides =
        |d: &Path| manifest(d).is_some_and(|m| bin_names(&m).iter().any(|b| b == command));
    // The project's own package first; its workspaces only when it has any.
    let provider = [cwd.clone(), root.clone()]
        .into_iter()
        .find(|d| provides(d))
        .or_else(|| {
            let patterns = workspaces::patterns(&manifest(&root)?);
            workspaces::workspace_dirs(&root, &patterns)
                .iter()
                .map(|d| root.join(d))
                .find(|d| provides(d))
        })?;
    Some(Error::config(
        format!("`npm exec {command}` runs the bin of the local package in {}: npm installs that package, with its registry dependencies and their install scripts, into its npx cache, outside lockgate (npm ignores --yes=false for a project's own bin)", provider.display()),
        "run it with `npm run` or `node`, or install the package's dependencies through lockgate first and call its bin file",
    ))
}

/// The bin names a package.json declares (`"bin": "x.js"` is named after the package).
fn bin_names(manifest: &Value) -> Vec<String> {
    match &manifest["bin"] {
        Value::String(_) => manifest["name"]
            .as_str()
            .map(|n| n.rsplit('/').next().unwrap_or(n).to_string())
            .into_iter()
            .collect(),
        Value::Object(o) => o.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn npx_args(args: &[OsString]) -> Result<Vec<OsString>> {
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let a = a.to_string_lossy();
        if a == "--" || !a.starts_with('-') {
            break;
        }
        let (key, value) = match a.trim_start_matches('-').split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.trim_start_matches('-').to_string(), None),
        };
        match key.as_str() {
            "no-install" | "no" | "no-yes" | "q" | "quiet" | "version" | "v" | "help" | "h" => {}
            "yes" | "y" if value.as_deref() == Some("false") => {}
            "package" | "p" | "call" | "c" => {
                if value.is_none() {
                    i += 1;
                }
            }
            _ => {
                return Err(Error::config(
                    format!("npx option `{a}`: lockgate lets npx take only --package/-p, --call/-c, --no-install and --quiet before the command, so that nothing can make it download and run a package"),
                    "install the tool through lockgate (`npm install -D <pkg>`), then run `npx <bin>`",
                ))
            }
        }
        i += 1;
    }
    Ok(std::iter::once(OsString::from("--yes=false"))
        .chain(args.iter().cloned())
        .collect())
}

/// The real npm's argv, rebuilt from the user's: every argument before the end of options
/// (with `edits`: index → replacement, or `None` to drop it), then lockgate's `ours` as
/// `--key=value` (after the user's options, so they win: nopt keeps the last value), then the
/// terminator and what follows it. The result is read back with npm's own parser: npm must see
/// each of lockgate's values and exactly the positionals intended, else 20 — a user option
/// that would swallow lockgate's (`--cache` with no value) cannot slip through.
pub fn npm_argv(
    version: Option<&str>,
    user: &[OsString],
    edits: &BTreeMap<usize, Option<String>>,
    ours: &[(String, String)],
) -> Result<Vec<OsString>> {
    let text: Vec<String> = user
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let tables: Vec<&'static nopt::Npm> = match version.and_then(nopt::for_version) {
        Some(t) => vec![t],
        None => nopt::all(),
    };
    let unreadable = |why: String| {
        Error::config(
            format!("lockgate cannot hand these npm arguments over safely: {why}"),
            "give every npm option its value as `--opt=value`, and put lockgate-owned settings (registry, proxy, scripts) in lockgate.toml instead of on the command line",
        )
    };
    let mut out = None;
    for npm in &tables {
        let parsed = npm
            .parse(&text)
            .map_err(|nopt::Uncertain(n)| unreadable(format!("`{n}`")))?;
        if parsed.last("noproxy").is_some() {
            return Err(unreadable(
                "`--noproxy` would let npm reach hosts without the gate".into(),
            ));
        }
        let at = parsed.terminator.unwrap_or(text.len());
        let mut argv: Vec<String> = Vec::new();
        for (i, a) in text.iter().enumerate().take(at) {
            match edits.get(&i) {
                Some(Some(r)) => argv.push(r.clone()),
                Some(None) => {}
                None => argv.push(a.clone()),
            }
        }
        argv.extend(ours.iter().map(|(k, v)| format!("--{k}={v}")));
        for (i, a) in text.iter().enumerate().skip(at) {
            match edits.get(&i) {
                Some(Some(r)) => argv.push(r.clone()),
                Some(None) => {}
                None => argv.push(a.clone()),
            }
        }
        let expected: Vec<String> = parsed
            .remain
            .iter()
            .filter_map(|w| match edits.get(&w.arg) {
                Some(r) => r.clone(),
                None => Some(w.text.clone()),
            })
            .collect();
        let again = npm
            .parse(&argv)
            .map_err(|nopt::Uncertain(n)| unreadable(format!("`{n}`")))?;
        let got: Vec<String> = again.remain.iter().map(|w| w.text.clone()).collect();
        if got != expected {
            return Err(unreadable(format!(
                "npm {} would read the words {got:?} instead of {expected:?}",
                npm.table.version
            )));
        }
        for (k, v) in ours {
            let seen = again.last(k);
            let ok = match v.as_str() {
                "true" | "false" => seen.and_then(nopt::Raw::as_bool) == Some(v == "true"),
                _ => seen.and_then(nopt::Raw::as_str) == Some(v.as_str()),
            };
            if !ok {
                return Err(unreadable(format!(
                    "npm {} would read lockgate's `--{k}` as {seen:?} (an option before it takes it as its value)",
                    npm.table.version
                )));
            }
        }
        match &out {
            None => out = Some(argv),
            Some(prev) if *prev == argv => {}
            Some(_) => {
                return Err(unreadable(
                    "npm versions end its options at different places".into(),
                ))
            }
        }
    }
    Ok(out
        .unwrap_or_default()
        .into_iter()
        .map(OsString::from)
        .collect())
}

/// Everything a guarded run needs, resolved once.
struct Ctx {
    real: PathBuf,
    args: Vec<OsString>,
    inv: Invocation,
    /// The real npm's version (selects npm's option table), when known.
    version: Option<String>,
    depth: u32,
    project: PathBuf,
    policy: Policy,
    sources: Sources,
    /// Every scope npm might route elsewhere (internal, npmrc, lockfile): pinned to the gate.
    scopes: BTreeSet<String>,
    store: Store,
    client: Client,
    reporter: Reporter,
    /// `token-env` named by the policy but not set: (registry, variable).
    missing_token: Option<(Url, String)>,
    started: Instant,
    /// The real `npm ci` has started: node_modules may have changed from here on.
    install_started: bool,
}

impl Ctx {
    fn new(
        real: PathBuf,
        args: Vec<OsString>,
        inv: Invocation,
        version: Option<String>,
        depth: u32,
        cwd: &Path,
        reporter: Reporter,
    ) -> Result<Ctx> {
        let project = project_root(cwd, inv.prefix.as_deref());
        let policy = policy::load(cwd)?;
        let npmrc = npmrc::load(&project, &real, &args);
        let sources = sources(&policy, &npmrc)?;
        let mut creds = npmrc.credentials();
        let mut missing_token = None;
        if let Some(internal) = &policy.npm.internal {
            if let Some(var) = &internal.token_env {
                match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                    Some(t) => creds.push(Credential::for_url(
                        &internal.registry,
                        Auth::Bearer(crate::error::Secret::new(t)),
                        format!("${var}"),
                    )),
                    None => missing_token = Some((internal.registry.clone(), var.clone())),
                }
            }
        }
        let mut scopes: BTreeSet<String> = sources.internal.keys().cloned().collect();
        scopes.extend(npmrc.scopes.keys().cloned());
        Ok(Ctx {
            real,
            args,
            inv,
            version,
            depth,
            project,
            policy,
            sources,
            scopes,
            store: Store::from_env()?,
            client: Client::with_proxies(
                creds,
                reporter.clone(),
                npmrc.proxies(&|k| std::env::var(k).ok())?,
            )?,
            reporter,
            missing_token,
            started: Instant::now(),
            install_started: false,
        })
    }

    async fn guarded(mut self) -> Result<i32> {
        if self.inv.global {
            return self.global_install().await;
        }
        let lock_path = find_lockfile(&self.project);
        match (&self.inv.action, lock_path) {
            (Action::Ci, None) => Err(Error::lockfile(
                self.project.join("package-lock.json"),
                "`npm ci` needs a lockfile and there is none",
                "create it through lockgate with `npm install`, review and commit it",
            )),
            (Action::Ci, Some(p)) => {
                let lock = read_lockfile(&p)?;
                let manifests = read_manifests(&self.project, &lock)?;
                // A dependency package.json adds is refused as a typosquat (24) before the
                // lockfile is refused as out of sync (21): the more telling reason.
                let all = admission_manifests(&self.project, manifests.clone(), &[])?;
                self.guard_new_names(Some(&lock), &all)?;
                let diffs = lockfile::out_of_sync(&lock, &manifests);
                if !diffs.is_empty() {
                    return Err(Error::lockfile(
                        &p,
                        format!("the lockfile is out of sync with package.json: {}", diffs.join("; ")),
                        "run `npm install` through lockgate to update the lockfile, review and commit it",
                    ));
                }
                self.locked(&lock).await
            }
            (Action::Install { packages }, Some(p)) if packages.is_empty() => {
                let lock = read_lockfile(&p)?;
                let diffs = lockfile::out_of_sync(&lock, &read_manifests(&self.project, &lock)?);
                if diffs.is_empty() && (self.inv.lock_only || self.inv.dry_run) {
                    // Nothing to install: npm still runs (through the gate), lockgate checks.
                    self.route().await
                } else if diffs.is_empty() {
                    self.locked(&lock).await
                } else {
                    eprintln!("lockgate: package.json changed since the lockfile was written; resolving the changes through the gate");
                    self.route().await
                }
            }
            _ => self.route().await,
        }
    }

    /// Install exactly the lockfile: plan, guard, verify, gate, `npm ci`, scripts.
    async fn locked(&mut self, lock: &Lockfile) -> Result<i32> {
        let target = Target::this_machine(self.inv.omit_dev, self.inv.omit_optional);
        let mut plan = plan::plan(lock, &self.sources, &target);
        self.scopes.extend(
            lock.entries
                .iter()
                .filter_map(|e| e.scope().map(str::to_string)),
        );
        let locked = lock.entries.iter().filter(|e| !e.local);
        let entries = locked.map(|e| (e.name.as_str(), e.version.as_str(), e.line));
        plan.findings.extend(feed::refuse_listed(
            &self.policy.feed,
            Eco::Npm,
            &lock.path,
            entries,
        ));
        self.reporter.refuse_on_errors(&plan.findings)?;
        for f in plan.findings.iter().filter(|f| !f.is_error()) {
            eprintln!("lockgate: warning: {f}");
        }
        for id in &plan.allowed_non_registry {
            eprintln!("lockgate: warning: {id} comes from outside any registry; allowed by [npm] unsafe-allow-non-registry, so npm fetches it unverified");
        }
        let artifacts = plan.artifacts();
        if let Some((registry, var)) = &self.missing_token {
            if artifacts
                .iter()
                .any(|a| a.internal && !self.store.contains(&a.digest))
            {
                return Err(self.missing_credentials(registry, var));
            }
        }
        let summary = fetch::fetch_all(&self.client, &self.store, &artifacts).await?;
        for a in &artifacts {
            self.reporter.audit(
                "verified",
                json!({"package": a.name, "version": a.version, "digest": a.digest.to_string(),
                       "source": if a.internal {"internal"} else {"public"}, "url": crate::error::redact_url(a.url.as_str())}),
            );
        }

        let mut gate = Gate::bind().await?;
        let route = Arc::new(serve::LockedRoute::new(
            lock,
            &plan,
            &self.store,
            &gate.url(),
        ));
        gate.serve(route.clone());
        let args = npm_argv(
            self.version.as_deref(),
            &self.args,
            &self.edits_for_ci(),
            &self.gate_flags(&gate),
        )?;
        self.install_started = true;
        let direct_hosts = plan.direct_hosts(lock, &self.sources);
        let code = tool::run_child(self.npm_command(&args, &gate, &direct_hosts), "npm").await?;
        let direct = gate.direct_error("npm");
        drop(gate);
        if let Some(e) = direct {
            if code != 0 {
                return Err(e);
            }
            eprintln!("lockgate: warning: {e}");
        }
        if code != 0 {
            let misses = route.misses();
            if !misses.is_empty() {
                eprintln!(
                    "lockgate: npm asked the gate for things the lockfile does not have: {}",
                    misses.join(", ")
                );
            }
            return Ok(code);
        }
        // `--dry-run`: npm installed nothing, so no script was blocked or run; counting them
        // would be a lie.
        let rebuild_code = if self.inv.dry_run {
            0
        } else {
            self.scripts(lock, &plan).await?
        };
        let internal = artifacts.iter().filter(|a| a.internal).count();
        let against = file_name(&lock.path);
        eprintln!(
            "{}",
            summary.line(
                "npm",
                summary.artifacts,
                "packages",
                &against,
                internal,
                self.started
            )
        );
        self.reporter.audit(
            "install",
            json!({"lockfile": lock.path, "packages": summary.artifacts, "downloaded": summary.downloaded, "skipped": plan.skipped}),
        );
        if rebuild_code != 0 {
            return Ok(rebuild_code);
        }
        if self.inv.then_test {
            let mut cmd = tokio::process::Command::new(&self.real);
            cmd.arg("test")
                .current_dir(&self.project)
                .env(tool::DEPTH_VAR, self.depth.to_string());
            return tool::run_child(cmd, "npm test").await;
        }
        Ok(0)
    }

    /// Resolve new or changed packages through the gate, then install the new lockfile. When it
    /// stops before the install starts (a refusal, or npm failing to resolve), package.json and the
    /// lockfile are restored as they were; once `npm ci` has run they match node_modules.
    async fn route(&mut self) -> Result<i32> {
        let backup = Backup::take(&self.project)?;
        let result = self.route_inner().await;
        if !matches!(result, Ok(0)) && !self.install_started && backup.restore()? {
            eprintln!("lockgate: package.json and the lockfile were restored as they were before this command");
        }
        result
    }

    async fn route_inner(&mut self) -> Result<i32> {
        let lock = find_lockfile(&self.project)
            .map(|p| read_lockfile(&p))
            .transpose()?;
        let manifests = match &lock {
            Some(l) => read_manifests(&self.project, l)?,
            None => read_root_manifest(&self.project)?,
        };
        let manifests = admission_manifests(&self.project, manifests, self.command_packages())?;
        self.guard_new_names_online(lock.as_ref(), &manifests)
            .await?;
        let new_names = self.new_names(lock.as_ref(), &manifests);
        let code = self.routed(&["package-lock-only"], new_names).await?;
        if code != 0 || self.inv.dry_run {
            // `--dry-run`: npm resolved through the gate and changed nothing; neither does
            // lockgate (the locked install would install the old lockfile).
            return Ok(code);
        }
        let lock_path = find_lockfile(&self.project).ok_or_else(|| {
            Error::lockfile(
                self.project.join("package-lock.json"),
                "npm did not write a lockfile",
                "check that package-lock=false is not set in .npmrc; lockgate needs the lockfile",
            )
        })?;
        let lock = read_lockfile(&lock_path)?;
        if self.inv.lock_only {
            // `--package-lock-only`: the user asked for the lockfile alone. It is checked as the
            // locked install would check it (confusion, sources, hashes), and nothing installs.
            let target = Target::this_machine(self.inv.omit_dev, self.inv.omit_optional);
            let plan = plan::plan(&lock, &self.sources, &target);
            self.reporter.refuse_on_errors(&plan.findings)?;
            for f in plan.findings.iter().filter(|f| !f.is_error()) {
                eprintln!("lockgate: warning: {f}");
            }
            eprintln!(
                "lockgate: {} written through the gate and checked ({} packages); nothing installed (--package-lock-only)",
                file_name(&lock.path),
                plan.artifacts().len()
            );
            return Ok(0);
        }
        // The new lockfile is installed exactly, with `ci` semantics (`args_for_ci` drops the
        // package arguments).
        self.locked(&lock).await
    }

    /// Run the user's npm command (plus `extra` flags) against a route-mode gate: each name is
    /// answered from its one source. A failure the gate saw (auth, insecure redirect) wins over
    /// npm's own exit code.
    async fn routed(&self, extra: &[&str], new_names: Vec<String>) -> Result<i32> {
        let manifest = self.project.join("package.json");
        let stale = feed::refuse_listed(&self.policy.feed, Eco::Npm, &manifest, []);
        self.reporter.refuse_on_errors(&stale)?;
        if let Some((registry, var)) = &self.missing_token {
            if self.route_touches_internal() {
                return Err(self.missing_credentials(registry, var));
            }
        }
        let mut gate = Gate::bind().await?;
        let route = Arc::new(
            serve::RouteMode::new(
                self.sources.clone(),
                self.client.clone(),
                self.reporter.clone(),
            )
            .with_cooldown(self.cooldown_watch(new_names)),
        );
        gate.serve(route.clone());
        let ours: Vec<(String, String)> = extra
            .iter()
            .map(|k| (k.to_string(), "true".to_string()))
            .chain(self.gate_flags(&gate))
            .collect();
        let args = npm_argv(self.version.as_deref(), &self.args, &BTreeMap::new(), &ours)?;
        let code = tool::run_child(self.npm_command(&args, &gate, &[]), "npm").await?;
        route.finish().await;
        if let Some(e) = route.take_failure().or_else(|| gate.direct_error("npm")) {
            return Err(e);
        }
        if let Some(w) = &route.cooldown {
            let refusals = w.verdict(code, &self.project.join("package.json"));
            self.reporter.refuse_on_errors(&refusals)?;
        }
        Ok(code)
    }

    /// `npm install -g foo`: no lockfile, so the gate forwards metadata and tarballs from each
    /// name's one source; npm checks each tarball against the registry's integrity.
    async fn global_install(&mut self) -> Result<i32> {
        // No lockfile and no plan afterwards: only registry packages, which the gate answers
        // and judges. A folder, tarball, URL or git spec would be fetched (or its own
        // dependencies resolved) with nothing checking it; so would the current folder, which a
        // bare `npm install -g` installs.
        let packages = self.command_packages();
        let elsewhere = packages
            .iter()
            .find(|p| typoguard::npm_registry_name(p).is_none());
        let this_folder = packages.is_empty() && matches!(self.inv.action, Action::Install { .. });
        if this_folder || elsewhere.is_some() {
            let what = elsewhere.map_or("the current folder".to_string(), |p| format!("`{p}`"));
            return Err(Error::config(
                format!("`npm install -g` of {what}: a global install takes registry packages only (nothing would check what npm fetched for it)"),
                "install it into a project (its lockfile is then checked), or publish it to a registry and install it by name",
            ));
        }
        self.guard_new_names_online(None, &BTreeMap::new()).await?;
        let new_names = self.new_names(None, &BTreeMap::new());
        let code = self.routed(&[], new_names).await?;
        if code == 0 {
            eprintln!("lockgate: global install done with install scripts off; if a package needs its script, review it and run `npm rebuild -g <pkg>`");
        }
        Ok(code)
    }

    /// Refuses (24) when a name this command adds looks like a typosquat: the packages on the
    /// command line and the direct dependencies `manifests` list that `lock` does not have. Names
    /// already in the lockfile were accepted when they were added.
    fn guard_new_names(
        &self,
        lock: Option<&Lockfile>,
        manifests: &BTreeMap<String, Value>,
    ) -> Result<()> {
        let packages = match &self.inv.action {
            Action::Install { packages } | Action::Update { packages } => packages.as_slice(),
            _ => &[],
        };
        let names = typoguard::npm_new_names(lock, manifests, packages);
        if names.is_empty() {
            return Ok(());
        }
        let guard = TypoGuard::npm(&self.policy, &self.sources, lock);
        guard.guard_new(&names, &self.project.join("package.json"), &self.reporter)
    }

    /// [`Ctx::guard_new_names`] with the registry's metadata: a name that looks like a popular
    /// one but was first published long ago (its packument's `time.created`) is an established
    /// near-name and passes (with a warning); a recent or unknown one is refused (24).
    async fn guard_new_names_online(
        &self,
        lock: Option<&Lockfile>,
        manifests: &BTreeMap<String, Value>,
    ) -> Result<()> {
        let names = typoguard::npm_new_names(lock, manifests, self.command_packages());
        if names.is_empty() {
            return Ok(());
        }
        let guard = TypoGuard::npm(&self.policy, &self.sources, lock);
        let ages = guard
            .popular_suspects(&names)
            .into_iter()
            .map(|name| async move {
                let registry = self.sources.registry_for(&name);
                typoguard::npm_first_published(&self.client, registry, &name)
                    .await
                    .map(|c| (name, typoguard::age_since(c)))
            });
        let established: BTreeMap<String, u64> = futures_util::future::join_all(ages)
            .await
            .into_iter()
            .flatten()
            .collect();
        guard.guard_new_established(
            &names,
            &established,
            &self.project.join("package.json"),
            &self.reporter,
        )
    }

    /// Names this command adds: packages on the command line and direct dependencies that the
    /// lockfile does not have yet.
    fn new_names(
        &self,
        lock: Option<&Lockfile>,
        manifests: &BTreeMap<String, Value>,
    ) -> Vec<String> {
        typoguard::npm_new_names(lock, manifests, self.command_packages())
    }

    fn command_packages(&self) -> &[String] {
        match &self.inv.action {
            Action::Install { packages } | Action::Update { packages } => packages.as_slice(),
            _ => &[],
        }
    }

    /// The cooldown for a route-mode run (None when `[cooldown]` turns it off). Versions the
    /// user names exactly (`foo@1.2.3`) are remembered so that holding one is refused with 28.
    fn cooldown_watch(&self, new_names: Vec<String>) -> Option<crate::cooldown::Watch> {
        let explicit = self
            .command_packages()
            .iter()
            .filter_map(|arg| match spec::registry_spec(arg.trim()) {
                Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
                    Some((name.to_string(), version.to_string()))
                }
                _ => None,
            })
            .collect();
        crate::cooldown::Watch::new(
            &self.policy.cooldown,
            Some(self.store.root()),
            new_names,
            explicit,
            str::to_string,
        )
    }

    fn route_touches_internal(&self) -> bool {
        match &self.inv.action {
            Action::Install { packages } | Action::Update { packages } if !packages.is_empty() => {
                packages
                    .iter()
                    .any(|p| self.sources.internal_registry(&package_name(p)).is_some())
            }
            _ => true,
        }
    }

    fn missing_credentials(&self, registry: &Url, var: &str) -> Error {
        let label = fetch::origin_label(registry);
        self.reporter.count(
            report::AUTH_FAILURES,
            &[("registry", &label), ("user", "anonymous")],
        );
        Error::Auth {
            registry: label,
            package: "internal packages".into(),
            detail: format!("the policy says the token is in ${var}, which is not set"),
            hint: format!(
                "export {var}=<token for {}> (in CI, from the secret store)",
                registry
            ),
        }
    }

    /// The edits that turn the user's command into `ci`: the command word becomes `ci`, the
    /// package arguments are dropped.
    fn edits_for_ci(&self) -> BTreeMap<usize, Option<String>> {
        let mut edits = BTreeMap::new();
        if let Some(i) = self.inv.command_index {
            edits.insert(i, Some("ci".to_string()));
            for &p in &self.inv.package_indexes {
                edits.insert(p, None);
            }
        }
        edits
    }

    /// Settings that point npm only at the gate (on the command line they beat every .npmrc),
    /// scripts off; given as `--key=value` after the user's options by [`npm_argv`].
    fn gate_flags(&self, gate: &Gate) -> Vec<(String, String)> {
        let url = gate.url().to_string();
        let mut f: Vec<(String, String)> = [
            ("ignore-scripts", "true"),
            ("audit", "false"),
            ("update-notifier", "false"),
            ("registry", url.as_str()),
            ("replace-registry-host", "always"),
            ("proxy", url.as_str()),
            ("https-proxy", url.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        f.extend(
            self.scopes
                .iter()
                .map(|s| (format!("{s}:registry"), url.clone())),
        );
        f
    }

    /// The real npm with an allowlisted environment (no user secret), confined to the gate (its
    /// only proxy), with the gate token in its environment (not argv: other users can read argv)
    /// and the gate flags repeated as `npm_config_*` so either layer alone holds.
    /// `direct`: hosts the policy lets npm fetch from itself (see [`Plan::direct_hosts`]).
    fn npm_command(
        &self,
        args: &[OsString],
        gate: &Gate,
        direct: &[String],
    ) -> tokio::process::Command {
        let mut env = handoff::tool_env(Tool::Npm);
        env.confine_to(&gate.url(), direct);
        let url = gate.url();
        for (k, v) in [
            ("npm_config_ignore_scripts", "true"),
            ("npm_config_audit", "false"),
            ("npm_config_update_notifier", "false"),
            ("npm_config_registry", url.as_str()),
            ("npm_config_replace_registry_host", "always"),
            ("npm_config_proxy", url.as_str()),
            ("npm_config_https_proxy", url.as_str()),
        ] {
            env.set(k, v);
        }
        env.set(
            format!("npm_config_{}", gate.npm_token_key()),
            gate.token().expose(),
        );
        env.set(tool::DEPTH_VAR, self.depth.to_string());
        let mut cmd = tokio::process::Command::new(&self.real);
        cmd.args(args);
        env.apply(&mut cmd);
        cmd
    }

    /// Count and list the blocked install scripts; run the approved ones, each selected by its
    /// install path (never by a folder name), with `npm rebuild` in a box
    /// ([`crate::sandbox::Sandbox`]): allowlisted environment, scratch HOME, credential files
    /// hidden, the store read-only, no network unless `[npm.scripts] network` names the package.
    async fn scripts(&self, lock: &Lockfile, plan: &Plan) -> Result<i32> {
        let npm = &self.policy.npm;
        let d = scripts::decide(lock, plan, &npm.scripts_allow, &npm.scripts_network);
        for b in &d.blocked {
            self.reporter
                .count(report::SCRIPTS_BLOCKED, &[("package", scripts::name_of(b))]);
            self.reporter.audit("script-blocked", json!({"package": b}));
        }
        if !d.blocked.is_empty() {
            eprintln!("{}", scripts::blocked_notice(&d.blocked));
        }
        if d.rebuild.is_empty() {
            return Ok(0);
        }
        let env = handoff::tool_env(Tool::Npm);
        let dropped = if env.dropped.is_empty() {
            "none".to_string()
        } else {
            env.dropped.join(", ")
        };
        let mut boxed = crate::sandbox::Sandbox::new(env, &[self.store.root()])?;
        // npm config files the user's environment names, and a project .npmrc holding
        // credentials, are covered too (the box's npm reads its own token-free config).
        for (k, v) in std::env::vars_os() {
            let k = k.to_string_lossy().to_ascii_lowercase();
            if k == "npm_config_userconfig" || k == "npm_config_globalconfig" {
                boxed.hide(Path::new(&v));
            }
        }
        let project_rc = self.project.join(".npmrc");
        if std::fs::read_to_string(&project_rc)
            .is_ok_and(|t| t.contains("_auth") || t.contains("_password"))
        {
            boxed.hide(&project_rc);
        }
        let home = boxed.home().to_path_buf();
        for (k, v) in [
            ("npm_config_userconfig", home.join(".npmrc")),
            ("npm_config_globalconfig", home.join("npmrc-global")),
            ("npm_config_cache", home.join(".npm")),
        ] {
            boxed.set_env(k, v);
        }
        for (k, v) in [
            ("npm_config_update_notifier", "false"),
            ("npm_config_audit", "false"),
            ("npm_config_fund", "false"),
        ] {
            boxed.set_env(k, v);
        }
        // node-gyp's downloaded headers (not a credential) stay usable without the network.
        if let Some(gyp) = std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".cache/node-gyp"))
            .filter(|d| d.is_dir())
        {
            boxed.set_env("npm_config_devdir", gyp);
        }
        boxed.set_env(tool::DEPTH_VAR, self.depth.to_string());
        eprintln!(
            "lockgate: running allowlisted install scripts in a box: {} (only allowlisted environment variables passed; left out: {dropped})",
            d.rebuild.iter().map(|a| format!("{} ({})", a.id, a.path)).collect::<Vec<_>>().join(", "),
        );
        // Without the network first, then the packages the policy gives the network; each group
        // in npm's own order (shallowest first).
        for network in [false, true] {
            let group: Vec<&scripts::Approved> =
                d.rebuild.iter().filter(|a| a.network == network).collect();
            if group.is_empty() {
                continue;
            }
            let missing = boxed.missing(network);
            if !missing.is_empty() {
                eprintln!(
                    "lockgate: warning: this machine does not allow a complete box for install scripts: {}; see `lockgate doctor`",
                    missing.join("; ")
                );
            }
            let mut cmd = boxed.command(&self.real, network);
            cmd.arg("rebuild")
                .arg("--ignore-scripts=false")
                .args(group.iter().map(|a| a.spec()))
                .current_dir(&self.project);
            let code = tool::run_child(cmd, "npm rebuild").await?;
            for a in &group {
                self.reporter.audit(
                    "script-allowed",
                    json!({"package": a.id, "path": a.path, "network": network,
                           "exit": code, "unprotected": missing}),
                );
            }
            if code != 0 {
                eprintln!(
                    "lockgate: `npm rebuild {}` failed with exit code {code}",
                    group.iter().map(|a| a.spec()).collect::<Vec<_>>().join(" ")
                );
                return Ok(code);
            }
        }
        Ok(0)
    }
}

/// Internal scopes from the policy, plus scopes the npm config maps to a registry (so that a
/// project without lockgate.toml is still guarded); the policy wins where both name a scope.
pub fn sources(policy: &Policy, npmrc: &npmrc::NpmConfig) -> Result<Sources> {
    let parse = |what: &str, v: &str| -> Result<Url> {
        let mut u = Url::parse(v).map_err(|e| {
            Error::config(
                format!("{what} `{v}` is not a URL: {e}"),
                "fix the npm configuration (.npmrc)",
            )
        })?;
        check_transport(&u).map_err(|reason| Error::Insecure {
            package: what.to_string(),
            url: crate::error::redact_url(v),
            reason,
        })?;
        if !u.path().ends_with('/') {
            let p = format!("{}/", u.path());
            u.set_path(&p);
        }
        Ok(u)
    };
    let public = match (&policy.npm.registry, &npmrc.registry) {
        (Some(u), _) => u.clone(),
        (None, Some(r)) => parse("npm's `registry` setting", r)?,
        (None, None) => Url::parse(DEFAULT_REGISTRY).expect("constant URL"),
    };
    let mut internal = BTreeMap::new();
    for (scope, reg) in &npmrc.scopes {
        internal.insert(
            scope.clone(),
            parse(&format!("npm's `{scope}:registry` setting"), reg)?,
        );
    }
    if let Some(i) = &policy.npm.internal {
        for s in &i.scopes {
            internal.insert(s.clone(), i.registry.clone());
        }
    }
    Ok(Sources {
        public,
        internal,
        allow_non_registry: policy.npm.unsafe_allow_non_registry.clone(),
    })
}

/// The real npm's version, read from its own package.json next to the binary (no process
/// spawn); `None` when it cannot be found.
pub fn npm_version(real: &Path) -> Option<String> {
    real.canonicalize()
        .ok()
        .and_then(|p| {
            p.ancestors()
                .map(|d| d.join("package.json"))
                .find(|p| p.is_file() && p.parent().is_some_and(|d| d.ends_with("npm")))
        })
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
}

/// npm ≥ 8.11 is needed: older npm has no `--replace-registry-host`, so tarballs whose `resolved`
/// names another host would bypass the gate. When the version cannot be found, npm is assumed
/// recent (and its argv must read the same under every npm table lockgate has).
fn check_npm_version(real: &Path, version: Option<&str>) -> Result<()> {
    let Some(version) = version else {
        return Ok(());
    };
    if serve::version_cmp(version, "8.11.0").is_lt() {
        return Err(Error::config(
            format!("npm {version} ({}) is too old for guarded installs: it has no --replace-registry-host", real.display()),
            "upgrade npm to 8.11 or later (`npm install -g npm@10` through a trusted path), or point LOCKGATE_REAL_NPM at a newer npm",
        ));
    }
    Ok(())
}

/// npm's project directory: `--prefix`, else the nearest directory with a package.json, moved up
/// to a workspace root that lists it.
pub fn project_root(cwd: &Path, prefix: Option<&str>) -> PathBuf {
    if let Some(p) = prefix {
        return cwd.join(p);
    }
    let Some(nearest) = cwd.ancestors().find(|d| d.join("package.json").is_file()) else {
        return cwd.to_path_buf();
    };
    for up in nearest.ancestors().skip(1) {
        let Ok(text) = std::fs::read_to_string(up.join("package.json")) else {
            continue;
        };
        // npm drops a leading byte-order mark (json-parse-even-better-errors' stripBOM).
        let Ok(v) = serde_json::from_str::<Value>(text.strip_prefix('\u{feff}').unwrap_or(&text))
        else {
            continue;
        };
        let rel = nearest
            .strip_prefix(up)
            .unwrap_or(nearest)
            .to_string_lossy()
            .into_owned();
        if workspaces::patterns(&v)
            .iter()
            .any(|p| workspaces::glob_match(p, &rel))
        {
            return up.to_path_buf();
        }
    }
    nearest.to_path_buf()
}

pub fn find_lockfile(project: &Path) -> Option<PathBuf> {
    ["npm-shrinkwrap.json", "package-lock.json"]
        .iter()
        .map(|f| project.join(f))
        .find(|p| p.is_file())
}

pub fn read_lockfile(p: &Path) -> Result<Lockfile> {
    let bytes = std::fs::read(p).map_err(|e| Error::Lockfile {
        path: p.to_path_buf(),
        msg: format!("cannot read the lockfile: {e}"),
        hint: "check the file and its permissions".into(),
    })?;
    lockfile::parse(&lockfile::decode_json_text(bytes, p)?, p)
}

/// package.json of the root and of each workspace folder the lockfile records.
pub fn read_manifests(project: &Path, lock: &Lockfile) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    // A v1 lockfile records no root entry, but npm ci still builds its tree from package.json.
    let root = String::new();
    let v1_root =
        (!lock.entries.is_empty() && !lock.recorded_specs.contains_key("")).then_some(&root);
    for key in v1_root.into_iter().chain(lock.recorded_specs.keys()) {
        match read_manifest(&project.join(key).join("package.json"))? {
            Some(v) => {
                out.insert(key.clone(), v);
            }
            // A workspace folder the lockfile still lists may be gone; the root may not.
            None if !key.is_empty() => {}
            None => return Err(lockfile::missing_manifest(&project.join("package.json"))),
        }
    }
    Ok(out)
}

/// `manifests` plus every other package.json whose dependencies npm resolves for this command
/// ([`workspaces`]): the workspaces the root's globs name (the lockfile may not know a new one
/// yet), the folders inside the project that a manifest or a command-line argument links to, and
/// theirs in turn. Their names are the names a change adds.
pub fn admission_manifests(
    project: &Path,
    mut manifests: BTreeMap<String, Value>,
    arguments: &[String],
) -> Result<BTreeMap<String, Value>> {
    let mut todo: Vec<String> = manifests
        .get("")
        .map(|root| workspaces::workspace_dirs(project, &workspaces::patterns(root)))
        .unwrap_or_default();
    todo.extend(
        arguments
            .iter()
            .filter_map(|a| workspaces::folder_in_project(project, "", a.trim())),
    );
    let mut visited: BTreeSet<String> = manifests.keys().cloned().collect();
    for (dir, m) in &manifests {
        todo.extend(workspaces::linked_dirs(project, dir, m));
    }
    while let Some(dir) = todo.pop() {
        if !visited.insert(dir.clone()) {
            continue;
        }
        if let Some(m) = read_manifest(&project.join(&dir).join("package.json"))? {
            todo.extend(workspaces::linked_dirs(project, &dir, &m));
            manifests.insert(dir, m);
        }
    }
    Ok(manifests)
}

/// The root package.json alone (a project without a lockfile yet); none at all is an empty set.
fn read_root_manifest(project: &Path) -> Result<BTreeMap<String, Value>> {
    Ok(read_manifest(&project.join("package.json"))?
        .map(|v| (String::new(), v))
        .into_iter()
        .collect())
}

/// One package.json, parsed; `None` when it does not exist.
fn read_manifest(path: &Path) -> Result<Option<Value>> {
    let bytes = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let text = lockfile::decode_json_text(bytes, path)?;
    let m: Value = serde_json::from_str(&text).map_err(|e| Error::Lockfile {
        path: path.to_path_buf(),
        msg: format!("package.json is not valid JSON: {e}"),
        hint: "fix package.json".into(),
    })?;
    // npm reads a dependency array's items as packages named `0`, `1`, …: nothing lockgate
    // would judge by name.
    if let Some(t) = lockfile::DEP_TYPES
        .iter()
        .find(|t| m.get(**t).is_some_and(|v| !v.is_object() && !v.is_null()))
    {
        return Err(Error::lockfile(
            path,
            format!("`{t}` is not an object: npm would read its items as packages named 0, 1, …"),
            "write it as an object of package names and version ranges",
        ));
    }
    Ok(Some(m))
}

/// The package name in an `npm install` argument (`@s/a@^1`, `a@latest`, `alias@npm:real@1`,
/// `npm:real@1`): the registry package npm fetches ([`spec::registry_spec`]), else the argument.
pub fn package_name(arg: &str) -> String {
    spec::registry_spec(arg)
        .map_or(arg, |(name, _)| name)
        .to_string()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Byte-exact copies of the files route mode lets npm rewrite.
struct Backup {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Backup {
    fn take(project: &Path) -> Result<Backup> {
        let mut files = Vec::new();
        for name in ["package.json", "package-lock.json", "npm-shrinkwrap.json"] {
            let p = project.join(name);
            let content = match std::fs::read(&p) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io("read", p, e)),
            };
            files.push((p, content));
        }
        Ok(Backup { files })
    }

    /// Put every file back as it was; returns whether anything had changed.
    fn restore(&self) -> Result<bool> {
        let mut changed = false;
        for (p, content) in &self.files {
            match content {
                Some(b) => {
                    if std::fs::read(p).ok().as_deref() != Some(b.as_slice()) {
                        std::fs::write(p, b).map_err(|e| Error::io("restore", p, e))?;
                        changed = true;
                    }
                }
                None => match std::fs::remove_file(p) {
                    Ok(()) => changed = true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", p, e)),
                },
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(
        line: &str,
        edits: &[(usize, Option<&str>)],
        ours: &[(&str, &str)],
    ) -> Result<Vec<String>> {
        let user: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        let edits = edits
            .iter()
            .map(|(i, r)| (*i, r.map(str::to_string)))
            .collect();
        let ours: Vec<(String, String)> = ours
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        npm_argv(None, &user, &edits, &ours)
            .map(|v| v.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    #[test]
    fn hand_off_argv_is_rebuilt_and_proved() {
        let ours = [
            ("ignore-scripts", "true"),
            ("registry", "http://127.0.0.1:1/"),
        ];
        // In front of the terminator, after the user's options (so they win).
        assert_eq!(
            argv("ci --ignore-scripts=false -- x", &[], &ours).unwrap(),
            [
                "ci",
                "--ignore-scripts=false",
                "--ignore-scripts=true",
                "--registry=http://127.0.0.1:1/",
                "--",
                "x"
            ]
        );
        // The command after `--` is turned into `ci` and the packages are dropped.
        assert_eq!(
            argv(
                "--prefix p -- install foo",
                &[(3, Some("ci")), (4, None)],
                &ours
            )
            .unwrap(),
            [
                "--prefix",
                "p",
                "--ignore-scripts=true",
                "--registry=http://127.0.0.1:1/",
                "--",
                "ci"
            ]
        );
        // An option left without its value would take lockgate's: refused.
        assert_eq!(argv("ci --cache", &[], &ours).unwrap_err().exit_code(), 20);
        assert_eq!(
            argv("ci --noproxy=*", &[], &ours).unwrap_err().exit_code(),
            20
        );
        // `npm exec … --yes`: lockgate's --yes=false comes after it.
        let v = argv("exec --yes cowsay", &[], &[("yes", "false")]).unwrap();
        assert_eq!(v, ["exec", "--yes", "cowsay", "--yes=false"]);
    }

    #[test]
    fn package_names_from_specs() {
        assert_eq!(package_name("left-pad"), "left-pad");
        assert_eq!(package_name("left-pad@^1.3.0"), "left-pad");
        assert_eq!(package_name("@myorg/a@1.0.0"), "@myorg/a");
        assert_eq!(package_name("@myorg/a"), "@myorg/a");
        assert_eq!(package_name("safe@npm:@myorg/real@1"), "@myorg/real");
        // An alias without a name installs the real package under its own name.
        assert_eq!(package_name("npm:is-number@7.0.0"), "is-number");
        assert_eq!(package_name("npm:@myorg/real"), "@myorg/real");
        assert_eq!(package_name("./dir"), "./dir");
    }

    #[test]
    fn project_root_walks_to_workspace_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::write(
            root.join("package.json"),
            r#"{"workspaces": ["packages/*"]}"#,
        )
        .unwrap();
        std::fs::create_dir_all(root.join("packages/a/src")).unwrap();
        std::fs::write(root.join("packages/a/package.json"), "{}").unwrap();
        assert_eq!(
            project_root(&root.join("packages/a/src"), None),
            root.join("packages/a").parent().unwrap().parent().unwrap()
        );
        assert_eq!(project_root(root, Some("sub")), root.join("sub"));
    }

    #[test]
    fn npmrc_scopes_are_internal_unless_policy_says_otherwise() {
        let mut rc = npmrc::NpmConfig::default();
        rc.apply(
            &[
                ("@team:registry".into(), "https://team.example/npm".into()),
                ("@myorg:registry".into(), "https://old.example/".into()),
            ],
            "rc",
        );
        let policy = policy::merge(
            None,
            Some((Path::new("p"), &policy::parse("[npm.internal]\nregistry = \"https://npm.corp.example/\"\nscopes = [\"@myorg\"]\n", Path::new("p")).unwrap())),
        )
        .unwrap();
        let s = sources(&policy, &rc).unwrap();
        assert_eq!(s.internal["@team"].as_str(), "https://team.example/npm/");
        assert_eq!(s.internal["@myorg"].as_str(), "https://npm.corp.example/");
        assert_eq!(s.public.as_str(), DEFAULT_REGISTRY);
        let mut bad = npmrc::NpmConfig::default();
        bad.apply(
            &[("registry".into(), "http://npm.corp.example/".into())],
            "rc",
        );
        assert_eq!(
            sources(&policy::Policy::default(), &bad)
                .unwrap_err()
                .exit_code(),
            26
        );
    }
}
