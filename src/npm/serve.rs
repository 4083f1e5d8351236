//! What the gate serves to npm.
//!
//! [`LockedRoute`] (installs from a lockfile): the verified tarballs, under the paths npm will ask
//! for (the lockfile's `resolved` path after `--replace-registry-host=always`, and the gate's own
//! conventional path), plus packuments synthesized from the lockfile that list only the locked
//! versions with their verified `dist.tarball` and `dist.integrity` (needed when the lockfile has
//! no `resolved`). Nothing else exists.
//!
//! [`RouteMode`] (resolving new packages): each packument request goes to the one source the name
//! may come from — internal scopes to their internal registry only, never merged with public
//! versions — and internal names are also looked up on the public registry so that an attacker's
//! copy is counted as a confusion attempt.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use reqwest::Url;
use serde_json::{json, Map, Value};

use super::lockfile::Lockfile;
use super::plan::{Plan, Sources};
use crate::error::Error;
use crate::feed::{self, Eco};
use crate::fetch::Client;
use crate::gate::{percent_decode, GateRequest, Reply, Route};
use crate::report::{self, Reporter};
use crate::store::Store;

pub struct LockedRoute {
    files: HashMap<String, PathBuf>,
    packuments: HashMap<String, Bytes>,
    misses: Mutex<Vec<String>>,
}

impl LockedRoute {
    pub fn new(lock: &Lockfile, plan: &Plan, store: &Store, gate: &Url) -> LockedRoute {
        let mut files = HashMap::new();
        let mut versions: HashMap<&str, Map<String, Value>> = HashMap::new();
        for item in &plan.items {
            let e = &lock.entries[item.entry];
            let a = &item.artifact;
            let file = store.path(&a.digest);
            let base = e.name.rsplit('/').next().unwrap_or(&e.name);
            let own_path = format!("/{}/-/{base}-{}.tgz", e.name, e.version);
            if let Some(r) = &item.resolved {
                files.insert(percent_decode(r.path()), file.clone());
            }
            files.insert(own_path.clone(), file);
            let mut manifest = e.manifest.clone();
            manifest.insert("name".into(), json!(e.name));
            manifest.insert("version".into(), json!(e.version));
            manifest.insert(
                "dist".into(),
                json!({
                    "tarball": gate.join(own_path.trim_start_matches('/')).map(|u| u.to_string()).unwrap_or_default(),
                    "integrity": e.integrity.clone().unwrap_or_default(),
                }),
            );
            if e.has_install_script {
                manifest.insert("hasInstallScript".into(), json!(true));
            }
            versions
                .entry(e.name.as_str())
                .or_default()
                .entry(e.version.clone())
                .or_insert(Value::Object(manifest));
        }
        let packuments = versions
            .into_iter()
            .map(|(name, vs)| {
                let latest = vs
                    .keys()
                    .max_by(|a, b| version_cmp(a, b))
                    .cloned()
                    .unwrap_or_default();
                let doc = json!({"name": name, "dist-tags": {"latest": latest}, "versions": vs});
                (name.to_string(), Bytes::from(doc.to_string()))
            })
            .collect();
        LockedRoute {
            files,
            packuments,
            misses: Mutex::new(Vec::new()),
        }
    }

    /// Paths npm asked for that the lockfile does not have (shown when npm fails).
    pub fn misses(&self) -> Vec<String> {
        self.misses.lock().unwrap().clone()
    }
}

impl Route for LockedRoute {
    async fn handle(&self, req: GateRequest) -> Reply {
        let path = percent_decode(&req.path);
        if let Some(f) = self.files.get(&path) {
            return Reply::File {
                path: f.clone(),
                content_type: "application/octet-stream",
            };
        }
        if let Some(doc) = self.packuments.get(path.trim_start_matches('/')) {
            return Reply::json(doc.clone());
        }
        self.misses.lock().unwrap().push(path.clone());
        Reply::NotFound(format!("{path} is not in the lockfile"))
    }
}

/// Compare npm versions: numeric major.minor.patch, a prerelease sorts before its release.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    super::semver::compare(a, b)
}

/// Route mode: metadata forwarded from the one permitted source per name.
pub struct RouteMode {
    sources: Sources,
    client: Client,
    reporter: Reporter,
    failure: Mutex<Option<Error>>,
    checked: Mutex<HashSet<String>>,
    offers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Names npm resolved through the gate (for the audit log and typosquat checks).
    pub resolved: Mutex<Vec<String>>,
    /// The release-age cooldown (None: off). Internal names are never filtered.
    pub cooldown: Option<crate::cooldown::Watch>,
    /// The upstream's abbreviated packuments carry no `modified`: skip the cheap path.
    corgi_undated: std::sync::atomic::AtomicBool,
    /// Names whose packument the cooldown has judged in this run: a tarball of any other name
    /// (npm asked for it by URL, without the packument) is dated first.
    dated: Mutex<HashSet<String>>,
}

impl RouteMode {
    pub fn new(sources: Sources, client: Client, reporter: Reporter) -> RouteMode {
        RouteMode {
            sources,
            client,
            reporter,
            failure: Mutex::new(None),
            checked: Mutex::new(HashSet::new()),
            offers: Mutex::new(Vec::new()),
            resolved: Mutex::new(Vec::new()),
            cooldown: None,
            corgi_undated: std::sync::atomic::AtomicBool::new(false),
            dated: Mutex::new(HashSet::new()),
        }
    }

    /// Filter packuments through the cooldown (`[cooldown]`; None: off).
    pub fn with_cooldown(mut self, watch: Option<crate::cooldown::Watch>) -> RouteMode {
        self.cooldown = watch;
        self
    }

    /// The first error that should decide lockgate's exit code (auth, insecure redirect…).
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().unwrap().take()
    }

    /// Wait for the public-registry lookups of internal names to finish (so they are counted).
    pub async fn finish(&self) {
        let handles: Vec<_> = self.offers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.await;
        }
    }

    fn check_public_offer(&self, name: &str) {
        if !self.checked.lock().unwrap().insert(name.to_string()) {
            return;
        }
        let url = super::plan::packument_url(&self.sources.public, name);
        let client = self.client.clone();
        let reporter = self.reporter.clone();
        let name = name.to_string();
        let h = tokio::spawn(async move {
            if let Ok(f) = client
                .get(&url, Some("application/vnd.npm.install-v1+json"), &name)
                .await
            {
                let versions: Vec<String> = f
                    .response
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| {
                        v["versions"]
                            .as_object()
                            .map(|m| m.keys().cloned().collect())
                    })
                    .unwrap_or_default();
                reporter.count(report::CONFUSION, &[("package", &name)]);
                reporter.audit(
                    "confusion-attempt",
                    json!({"package": name, "public_registry": crate::fetch::origin_label(&url), "public_versions": versions}),
                );
                eprintln!(
                    "lockgate: warning: the public registry {} also offers internal package {name} (versions {}); lockgate resolved it from the internal registry only. Someone may be staging a dependency-confusion attack.",
                    crate::fetch::origin_label(&url),
                    versions.join(", ")
                );
            }
        });
        self.offers.lock().unwrap().push(h);
    }

    fn fail(&self, e: Error) {
        let mut f = self.failure.lock().unwrap();
        if f.is_none() {
            *f = Some(e);
        }
    }

    /// Map a request path to (package name, upstream URL).
    fn upstream(&self, raw_path: &str) -> Option<(String, Url)> {
        let decoded = percent_decode(raw_path);
        if let Some((before, _)) = decoded.split_once("/-/") {
            // A tarball: strip the path prefix of whichever registry it was resolved from.
            let registries = self
                .sources
                .internal
                .values()
                .chain(std::iter::once(&self.sources.public));
            for reg in registries {
                let prefix = reg.path();
                if let (Some(name), Some(raw_rest)) =
                    (before.strip_prefix(prefix), raw_path.strip_prefix(prefix))
                {
                    if valid_name(name) {
                        let url = self.sources.registry_for(name).join(raw_rest).ok()?;
                        return Some((name.to_string(), url));
                    }
                }
            }
            return None;
        }
        let name = decoded.trim_start_matches('/');
        valid_name(name).then(|| {
            (
                name.to_string(),
                super::plan::packument_url(self.sources.registry_for(name), name),
            )
        })
    }
}

impl RouteMode {
    /// A public packument or tarball under the cooldown: packuments are fetched whole (the
    /// abbreviated form has no `time`) unless the abbreviated one shows nothing changed within
    /// `min-age`, and relayed without the versions too young to install; a tarball of a held
    /// version is refused, and a tarball whose packument npm never asked for (a tarball URL on
    /// the command line) is dated by that packument first.
    async fn cooled(
        &self,
        watch: &crate::cooldown::Watch,
        raw_path: &str,
        name: &str,
        url: &Url,
        accept: Option<&str>,
    ) -> Reply {
        let decoded = percent_decode(raw_path);
        if let Some((_, file)) = decoded.split_once("/-/") {
            let base = name.rsplit('/').next().unwrap_or(name);
            let version = file
                .strip_prefix(&format!("{base}-"))
                .and_then(|f| f.strip_suffix(".tgz"));
            if !self.dated.lock().unwrap().contains(name) {
                let packument = super::plan::packument_url(self.sources.registry_for(name), name);
                match self
                    .client
                    .get_bytes(&packument, Some("application/json"), name)
                    .await
                {
                    Ok((body, _)) => {
                        if let Err(msg) = watch.npm_packument(name, &body, version_cmp) {
                            return Reply::NotFound(msg);
                        }
                        self.dated.lock().unwrap().insert(name.to_string());
                    }
                    Err(e) => return self.upstream_error(e),
                }
            }
            if version.is_some_and(|v| watch.is_held(name, v)) {
                return Reply::NotFound(format!(
                    "{name}@{} is held back by the cooldown",
                    version.unwrap_or_default()
                ));
            }
            return self.relay(name, url, accept).await;
        }
        let corgi = accept.is_some_and(|a| a.contains("application/vnd.npm.install-v1+json"));
        let dated = !self
            .corgi_undated
            .load(std::sync::atomic::Ordering::Relaxed);
        if corgi && dated && !watch.is_new(name) {
            // Cheap path: an abbreviated packument whose `modified` is older than min-age has no
            // version young enough to hold. A registry whose abbreviated packuments carry no
            // `modified` (Verdaccio) is asked for full ones from then on.
            match self.client.get_bytes(url, accept, name).await {
                Ok((body, _)) => {
                    let doc = serde_json::from_slice::<Value>(&body).ok();
                    if doc.as_ref().is_some_and(|d| d.get("modified").is_none()) {
                        self.corgi_undated
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let modified = doc.and_then(|v| {
                        v["modified"]
                            .as_str()
                            .and_then(crate::cooldown::parse_rfc3339)
                    });
                    if modified.is_some_and(|m| {
                        watch.policy.decide(m, crate::cooldown::now())
                            == crate::cooldown::Decision::Admit
                    }) {
                        self.dated.lock().unwrap().insert(name.to_string());
                        return Reply::json(body);
                    }
                }
                Err(e) => return self.upstream_error(e),
            }
        }
        match self
            .client
            .get_bytes(url, Some("application/json"), name)
            .await
        {
            Ok((body, final_url)) => {
                self.reporter.audit(
                    "route",
                    json!({"package": name, "source": "public", "url": crate::error::redact_url(final_url.as_str())}),
                );
                let judged = watch.npm_packument(name, &body, version_cmp);
                if judged.is_ok() {
                    self.dated.lock().unwrap().insert(name.to_string());
                }
                match judged {
                    Ok(Some(filtered)) => Reply::json(filtered),
                    Ok(None) => Reply::json(body),
                    Err(msg) => Reply::NotFound(msg),
                }
            }
            Err(e) => self.upstream_error(e),
        }
    }

    async fn relay(&self, name: &str, url: &Url, accept: Option<&str>) -> Reply {
        match self.client.get(url, accept, name).await {
            Ok(f) => Reply::Upstream(f.response),
            Err(e) => self.upstream_error(e),
        }
    }

    fn upstream_error(&self, e: Error) -> Reply {
        match e {
            e @ Error::Unavailable { .. } => Reply::NotFound(e.to_string()),
            e => {
                let msg = e.to_string();
                self.fail(e);
                Reply::NotFound(msg)
            }
        }
    }
}

/// The version in a tarball request path (`/debug/-/debug-4.4.2.tgz` → `4.4.2`).
fn tarball_version(name: &str, raw_path: &str) -> Option<String> {
    let decoded = percent_decode(raw_path);
    let (_, file) = decoded.split_once("/-/")?;
    let base = name.rsplit('/').next().unwrap_or(name);
    let v = file
        .strip_prefix(base)?
        .strip_prefix('-')?
        .strip_suffix(".tgz")?;
    Some(v.to_string())
}

fn valid_name(n: &str) -> bool {
    let parts: Vec<&str> = n.split('/').collect();
    let ok = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.starts_with('-');
    match parts.as_slice() {
        [one] => ok(one) && !one.starts_with('@'),
        [scope, pkg] => scope.starts_with('@') && ok(&scope[1..]) && ok(pkg),
        _ => false,
    }
}

impl Route for RouteMode {
    async fn handle(&self, req: GateRequest) -> Reply {
        if req.path.starts_with("/-/") {
            return Reply::NotFound("registry API endpoints are not served".into());
        }
        let Some((name, url)) = self.upstream(&req.path) else {
            return Reply::NotFound(format!("{} is not a package path", req.path));
        };
        let internal_reg = self.sources.internal_registry(&name);
        let internal = internal_reg.is_some();
        // Ask the public registry whether it also offers the name — unless it is the same server.
        if internal_reg.is_some_and(|r| r.origin() != self.sources.public.origin()) {
            self.check_public_offer(&name);
        }
        self.resolved.lock().unwrap().push(name.clone());
        let tarball = tarball_version(&name, &req.path);
        if let Some(e) = tarball
            .as_deref()
            .and_then(|v| feed::refuse_request(Eco::Npm, &name, v, &self.reporter))
        {
            let msg = e.to_string();
            self.fail(e);
            return Reply::NotFound(msg);
        }
        let accept = req.headers.get("accept").and_then(|v| v.to_str().ok());
        if let Some(watch) = self
            .cooldown
            .as_ref()
            .filter(|w| !internal && w.applies(&name))
        {
            // The cooldown's packument is also stripped of listed (malicious) versions.
            return match self.cooled(watch, &req.path, &name, &url, accept).await {
                Reply::Bytes {
                    status: 200,
                    content_type,
                    body,
                } if tarball.is_none() => Reply::Bytes {
                    status: 200,
                    content_type,
                    body: feed::npm_packument(&name, body),
                },
                other => other,
            };
        }
        match self.client.get(&url, accept, &name).await {
            Ok(f) => {
                self.reporter.audit(
                    "route",
                    json!({"package": name, "source": if internal {"internal"} else {"public"}, "url": crate::error::redact_url(f.final_url.as_str())}),
                );
                match tarball {
                    Some(_) => Reply::Upstream(f.response),
                    None => feed::npm_packument_reply(&name, f.response).await,
                }
            }
            Err(e @ Error::Unavailable { .. }) => Reply::NotFound(e.to_string()),
            Err(e) => {
                let msg = e.to_string();
                self.fail(e);
                Reply::NotFound(msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;
    use std::collections::BTreeMap;

    #[test]
    fn versions_order() {
        assert_eq!(version_cmp("1.10.0", "1.9.0"), Greater);
        assert_eq!(version_cmp("2.0.0-rc.1", "2.0.0"), Less);
        assert_eq!(version_cmp("99.0.0", "1.2.3"), Greater);
        assert_eq!(version_cmp("1.0.0+build", "1.0.0"), Equal);
    }

    #[test]
    fn tarball_versions() {
        assert_eq!(
            tarball_version("debug", "/debug/-/debug-4.4.2.tgz").as_deref(),
            Some("4.4.2")
        );
        assert_eq!(
            tarball_version("@s/a", "/@s%2fa/-/a-1.0.0-rc.1.tgz").as_deref(),
            Some("1.0.0-rc.1")
        );
        assert_eq!(tarball_version("debug", "/debug"), None);
    }

    #[test]
    fn names() {
        for ok in ["a", "@s/a", "left-pad", "@myorg/payments-client"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "@s", "a/b", "@s/a/b", "..", "@s/..", "-"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn route_maps_names_to_their_one_source() {
        let mut internal = BTreeMap::new();
        internal.insert(
            "@myorg".to_string(),
            Url::parse("https://npm.corp.example/").unwrap(),
        );
        let sources = Sources {
            public: Url::parse("https://proxy.example/api/npm/").unwrap(),
            internal,
            allow_non_registry: vec![],
        };
        let r = RouteMode::new(
            sources,
            Client::new(vec![], Reporter::default()).unwrap(),
            Reporter::default(),
        );
        let up = |p: &str| r.upstream(p).map(|(n, u)| (n, u.to_string()));
        assert_eq!(
            up("/@myorg%2fpay"),
            Some((
                "@myorg/pay".into(),
                "https://npm.corp.example/@myorg%2fpay".into()
            ))
        );
        assert_eq!(
            up("/left-pad"),
            Some((
                "left-pad".into(),
                "https://proxy.example/api/npm/left-pad".into()
            ))
        );
        assert_eq!(
            up("/api/npm/left-pad/-/left-pad-1.3.0.tgz"),
            Some((
                "left-pad".into(),
                "https://proxy.example/api/npm/left-pad/-/left-pad-1.3.0.tgz".into()
            ))
        );
        // A tarball path naming an internal package always goes to the internal registry.
        assert_eq!(
            up("/@myorg/pay/-/pay-1.0.0.tgz"),
            Some((
                "@myorg/pay".into(),
                "https://npm.corp.example/@myorg/pay/-/pay-1.0.0.tgz".into()
            ))
        );
        assert_eq!(up("/a/b/c"), None);
    }
}
