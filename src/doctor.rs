//! `lockgate doctor [DIR]`: is this machine and project guarded, and are the internal sources
//! closed to anonymous readers (the seed's adversary 5)?
//!
//! Checks, each printed on one line: the shims come first on PATH and the real tools are found;
//! the policy loads; the verified store is writable; which protections the box for install
//! scripts gets on this machine (namespaces); and for every internal source in the policy,
//! an anonymous request is refused (401/403) while lockgate's own credentials are accepted. Exit 0
//! when all is well, 26 when an internal source answers anonymous readers, 25 when lockgate's
//! credentials are missing or refused, 20 for configuration problems.

use std::path::Path;

use reqwest::Url;

use crate::error::{code, Result, Secret};
use crate::fetch::{origin_label, Auth, Client, Credential};
use crate::policy::{self, Policy};
use crate::report::Reporter;
use crate::tool::{self, SelfLocation, Tool};

#[derive(Default)]
struct Outcome {
    worst: i32,
}

impl Outcome {
    fn ok(&self, msg: impl AsRef<str>) {
        println!("  ok    {}", msg.as_ref());
    }
    fn warn(&self, msg: impl AsRef<str>) {
        println!("  warn  {}", msg.as_ref());
    }
    fn fail(&mut self, code: i32, msg: impl AsRef<str>) {
        println!("  FAIL  {}", msg.as_ref());
        // Keep the most severe: anonymous exposure beats broken credentials beats configuration.
        let rank = |c: i32| match c {
            code::INSECURE => 3,
            code::AUTH => 2,
            0 => 0,
            _ => 1,
        };
        if rank(code) > rank(self.worst) {
            self.worst = code;
        }
    }
}

/// One internal source to probe: what it is, a URL only authorised readers may fetch, and the
/// credential lockgate would use.
struct Probe {
    what: String,
    url: Url,
    cred: Option<Credential>,
    missing: Option<String>,
    /// More URLs that must refuse anonymous readers (e.g. tarballs, which some registries guard
    /// less carefully than metadata: Verdaccio 5.33 serves `/@s/n/-/@s/n-1.0.0.tgz` to anyone).
    anonymous_only: Vec<Url>,
}

pub fn run(dir: &Path, me: &SelfLocation) -> Result<i32> {
    let dir = &dir
        .canonicalize()
        .map_err(|e| crate::error::Error::io("open the project directory", dir, e))?;
    let mut out = Outcome::default();
    println!("lockgate doctor {}", env!("CARGO_PKG_VERSION"));

    println!("tools:");
    for t in [Tool::Npm, Tool::Pip, Tool::Mvn] {
        match which::which(t.name()) {
            Ok(first) if is_lockgate(&first) => out.ok(format!("{} on PATH is lockgate's shim ({})", t.name(), first.display())),
            Ok(first) => out.warn(format!("{} on PATH is {}, not lockgate's shim: put the shims dir first on PATH (./install.sh prints the line)", t.name(), first.display())),
            Err(_) => out.warn(format!("{} is not on PATH", t.name())),
        }
        match tool::find_real(t, me) {
            Ok(real) => out.ok(format!("real {}: {}", t.name(), real.display())),
            Err(e) => out.warn(format!("real {}: {}", t.name(), e)),
        }
    }

    println!("policy:");
    let policy = match policy::load(dir) {
        Ok(p) => {
            if p.files.is_empty() {
                out.warn("no lockgate.toml or org file: only scopes mapped in npm's config count as internal");
            } else {
                out.ok(format!(
                    "read {}",
                    p.files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            p
        }
        Err(e) => {
            out.fail(e.exit_code(), e.to_string());
            return Ok(out.worst);
        }
    };
    match crate::store::Store::from_env() {
        Ok(s) => out.ok(format!(
            "verified store: {} (yours, not writable by others; files are re-hashed before use; {})",
            s.root().display(),
            crate::maven::repo::layout_note(s.root())
        )),
        Err(e) => out.fail(code::CONFIG, e.to_string()),
    }

    println!("install-script box:");
    for (supported, line) in crate::sandbox::support().describe() {
        if supported {
            out.ok(line);
        } else {
            out.warn(line);
        }
    }

    for f in crate::maven::wrapper::audit(dir, &policy).1 {
        let line = format!(
            "{}: {} ({}) — {}",
            f.package,
            f.message,
            f.file.display(),
            f.hint
        );
        match f.is_error() {
            true => out.fail(f.exit_code(), line),
            false => out.warn(line),
        }
    }

    let probes = probes(&policy, dir, me);
    if probes.is_empty() {
        println!("internal sources: none in the policy");
        return Ok(out.worst);
    }
    println!("internal sources:");
    let rt = tool::runtime()?;
    let creds: Vec<Credential> = probes.iter().filter_map(|p| p.cred.clone()).collect();
    let authed = Client::new(creds, Reporter::default())?;
    let anon = Client::new(Vec::new(), Reporter::default())?;
    for p in probes {
        let label = format!("{} {}", p.what, origin_label(&p.url));
        match rt.block_on(status_of(&anon, &p.url)) {
            Some(401 | 403) => out.ok(format!("{label}: anonymous readers are refused")),
            Some(404) => out.warn(format!("{label}: anonymous request for {} answered 404; cannot tell whether the source requires authentication", p.url)),
            Some(s) if (200..300).contains(&s) => out.fail(code::INSECURE, format!("{label}: readable WITHOUT credentials (HTTP {s}) — anyone on the network can download internal packages; require authentication on the registry")),
            Some(s) => out.warn(format!("{label}: anonymous request answered HTTP {s}")),
            None => out.fail(code::UNAVAILABLE, format!("{label}: not reachable")),
        }
        for extra in &p.anonymous_only {
            match rt.block_on(status_of(&anon, extra)) {
                Some(s) if (200..300).contains(&s) => out.fail(
                    code::INSECURE,
                    format!("{label}: {} is downloadable WITHOUT credentials (HTTP {s}); protect every path of the internal registry, not only package metadata", extra.path()),
                ),
                Some(401 | 403) => out.ok(format!("{label}: anonymous download of {} is refused", extra.path())),
                _ => {}
            }
        }
        if let Some(why) = &p.missing {
            out.fail(code::AUTH, format!("{label}: credentials missing ({why})"));
            continue;
        }
        if p.cred.is_none() {
            out.warn(format!("{label}: lockgate has no credentials for it (set token-env / password-env in the policy)"));
            continue;
        }
        match rt.block_on(status_of(&authed, &p.url)) {
            Some(401 | 403) => out.fail(
                code::AUTH,
                format!("{label}: lockgate's credentials are refused"),
            ),
            Some(s) if s < 500 => out.ok(format!(
                "{label}: lockgate's credentials are accepted (HTTP {s})"
            )),
            Some(s) => out.warn(format!("{label}: authenticated request answered HTTP {s}")),
            None => out.fail(code::UNAVAILABLE, format!("{label}: not reachable")),
        }
    }
    Ok(out.worst)
}

fn is_lockgate(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    std::env::current_exe()
        .ok()
        .and_then(|e| id(&e))
        .is_some_and(|me| id(path) == Some(me))
}

/// The status an internal source answers; None when it cannot be reached.
async fn status_of(client: &Client, url: &Url) -> Option<u16> {
    client.probe(url).await.ok()
}

fn probes(policy: &Policy, dir: &Path, me: &SelfLocation) -> Vec<Probe> {
    let mut v = Vec::new();
    let env_secret = |var: &Option<String>| {
        var.as_ref()
            .map(|v| (v.clone(), std::env::var(v).ok().filter(|s| !s.is_empty())))
    };
    if let Some(i) = &policy.npm.internal {
        // An internal package from the project's lockfile makes the best probe; else the scope.
        let entry = crate::npm::find_lockfile(dir)
            .and_then(|p| crate::npm::read_lockfile(&p).ok())
            .and_then(|l| {
                l.entries
                    .into_iter()
                    .find(|e| e.scope().is_some_and(|s| i.scopes.iter().any(|x| x == s)))
            });
        let name = entry.as_ref().map(|e| e.name.clone()).or_else(|| {
            i.scopes
                .first()
                .map(|s| format!("{s}/lockgate-doctor-probe"))
        });
        if let Some(name) = name {
            let url = crate::npm::plan::packument_url(&i.registry, &name);
            let (cred, missing) = match env_secret(&i.token_env) {
                Some((_, Some(t))) => (
                    Some(Credential::for_url(
                        &i.registry,
                        Auth::Bearer(Secret::new(t)),
                        "token-env",
                    )),
                    None,
                ),
                Some((var, None)) => (None, Some(format!("{var} is not set"))),
                None => (None, None),
            };
            let mut anonymous_only = Vec::new();
            if let Some(e) = &entry {
                anonymous_only.push(crate::npm::plan::conventional_tarball(
                    &i.registry,
                    &e.name,
                    &e.version,
                ));
                if let Ok(u) = i
                    .registry
                    .join(&format!("{0}/-/{0}-{1}.tgz", e.name, e.version))
                {
                    anonymous_only.push(u);
                }
            }
            v.push(Probe {
                what: "npm".into(),
                url,
                cred,
                missing,
                anonymous_only,
            });
        }
    }
    let basic = |base: &Url,
                 user: &Option<String>,
                 pass_env: &Option<String>|
     -> (Option<Credential>, Option<String>) {
        match (user, env_secret(pass_env)) {
            (Some(u), Some((_, Some(p)))) => (
                Some(Credential::for_url(
                    base,
                    Auth::Basic {
                        user: u.clone(),
                        password: Secret::new(p),
                    },
                    "password-env",
                )),
                None,
            ),
            (_, Some((var, None))) => (None, Some(format!("{var} is not set"))),
            _ => (None, None),
        }
    };
    if let Some(i) = &policy.pip.internal {
        let (cred, missing) = basic(&i.index_url, &i.username, &i.password_env);
        v.push(Probe {
            what: "pip".into(),
            url: i.index_url.clone(),
            cred,
            missing,
            anonymous_only: Vec::new(),
        });
    }
    if let Some(i) = &policy.maven.internal {
        let real_mvn = tool::find_real(Tool::Mvn, me).unwrap_or_default();
        let (cred, missing) = match crate::maven::doctor_credential(policy, dir, &real_mvn) {
            Ok(c) => (c, None),
            Err(e) => (None, Some(e.to_string())),
        };
        let url = i
            .groups
            .first()
            .and_then(|g| i.url.join(&format!("{}/", g.replace('.', "/"))).ok())
            .unwrap_or_else(|| i.url.clone());
        v.push(Probe {
            what: "maven".into(),
            url,
            cred,
            missing,
            anonymous_only: Vec::new(),
        });
    }
    v
}
