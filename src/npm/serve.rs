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
        }
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
        let accept = req.headers.get("accept").and_then(|v| v.to_str().ok());
        match self.client.get(&url, accept, &name).await {
            Ok(f) => {
                self.reporter.audit(
                    "route",
                    json!({"package": name, "source": if internal {"internal"} else {"public"}, "url": crate::error::redact_url(f.final_url.as_str())}),
                );
                Reply::Upstream(f.response)
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
