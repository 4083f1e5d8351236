//! What the gate serves to Maven (the mirror `*` of every guarded run).
//!
//! [`LockedRoute`] (guarded builds): the locked files from the verified store, metadata
//! synthesized from the lock, and the `.sha1` of either. Anything else is a miss, recorded so
//! that a build that needs a file the lock lacks can be told "lock incomplete" with the file's
//! name instead of Maven's generic resolution error. Checksum requests for unknown files are not
//! misses: Maven asks for them after every download and lives without them.
//!
//! [`RouteMode`] (`lockgate lock mvn`): each path goes to the one repository its groupId may come
//! from — internal groups to the internal repository only, with its credentials; metadata too, so
//! an internal artifact's versions are never merged with a public repository's. Every artifact is
//! downloaded whole, hashed, checked against the repository's own `.sha256`/`.sha1` where it has
//! one (a mismatch fails the lock: 23), put in the verified store and recorded for the lock.
//! Internal paths are also looked up on the public repository: an offer there is a confusion
//! attempt (counted, logged, warned), and one of a file the internal repository lacks fails the
//! lock with 22.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::Url;
use serde_json::json;

use super::coords::{ChecksumAlgo, Coords, FileKind, RepoPath};
use super::lock::{Lock, Sha256};
use super::metadata::{self, Synthesized};
use super::plan::{url_in, Planned, Sources};
use crate::error::{redact_url, Error};
use crate::feed::{self, Eco};
use crate::fetch::{origin_label, Client};
use crate::finding::{Finding, Kind};
use crate::gate::{percent_decode, GateRequest, Reply, Route};
use crate::integrity::{hash, hash_file, Alg, Digest};
use crate::report::{self, Reporter};
use crate::store::Store;

/// A request path, checked; `None` for anything that is not a safe repository path.
fn repo_path(req: &GateRequest) -> Option<RepoPath> {
    RepoPath::parse(percent_decode(&req.path).trim_start_matches('/')).ok()
}

/// `x.jar.sha1` → (`x.jar`, Some(Sha1)); other names → (name, None).
fn split_checksum(path: &RepoPath) -> (String, Option<ChecksumAlgo>) {
    let s = path.as_str();
    for algo in [
        ChecksumAlgo::Sha1,
        ChecksumAlgo::Md5,
        ChecksumAlgo::Sha256,
        ChecksumAlgo::Sha512,
    ] {
        if let Some(base) = s
            .strip_suffix(algo.extension())
            .and_then(|b| b.strip_suffix('.'))
        {
            return (base.to_string(), Some(algo));
        }
    }
    (s.to_string(), None)
}

fn text_reply(body: impl Into<Bytes>, content_type: &str) -> Reply {
    Reply::Bytes {
        status: 200,
        content_type: content_type.into(),
        body: body.into(),
    }
}

fn not_found(path: &str) -> Reply {
    Reply::NotFound(format!("{path} is not in the lock"))
}

pub struct LockedRoute {
    files: HashMap<String, PathBuf>,
    metadata: Synthesized,
    misses: Mutex<BTreeSet<String>>,
}

impl LockedRoute {
    pub fn new(lock: &Lock, planned: &[Planned], store: &Store) -> LockedRoute {
        LockedRoute {
            files: planned
                .iter()
                .map(|p| (p.path.as_str().to_string(), store.path(&p.digest())))
                .collect(),
            metadata: metadata::synthesize(lock),
            misses: Mutex::new(BTreeSet::new()),
        }
    }

    /// Paths Maven asked for that the lock does not have, sorted.
    pub fn misses(&self) -> Vec<String> {
        self.misses.lock().unwrap().iter().cloned().collect()
    }

    /// The body of a locked file or synthesized document, for its `.sha1`.
    fn sha1_of(&self, base: &str) -> Option<String> {
        let digest = match (self.files.get(base), self.metadata.get(base)) {
            (Some(file), _) => hash_file(Alg::Sha1, file).ok()?,
            (None, Some(doc)) => hash(Alg::Sha1, doc.as_bytes()),
            (None, None) => return None,
        };
        Some(digest.hex())
    }
}

impl Route for LockedRoute {
    async fn handle(&self, req: GateRequest) -> Reply {
        let Some(path) = repo_path(&req) else {
            return Reply::NotFound("not a repository path".into());
        };
        match split_checksum(&path) {
            (base, Some(ChecksumAlgo::Sha1)) => match self.sha1_of(&base) {
                Some(hex) => text_reply(hex, "text/plain"),
                None => not_found(path.as_str()),
            },
            (_, Some(_)) => not_found(path.as_str()),
            (base, None) => {
                if let Some(file) = self.files.get(&base) {
                    return Reply::File {
                        path: file.clone(),
                        content_type: "application/octet-stream",
                    };
                }
                if let Some(doc) = self.metadata.get(&base) {
                    return text_reply(doc.to_string(), "application/xml");
                }
                self.misses.lock().unwrap().insert(base);
                not_found(path.as_str())
            }
        }
    }
}

/// What route mode found out while Maven resolved through it.
#[derive(Default)]
struct Seen {
    /// path → sha256, the new lock.
    recorded: BTreeMap<RepoPath, Sha256>,
    /// path → sha1 hex of what was served, for Maven's `.sha1` requests.
    sha1: HashMap<String, String>,
    /// Internal paths the internal repository did not have.
    internal_missing: BTreeSet<String>,
    /// Internal paths the public repository also offers.
    public_offers: BTreeSet<String>,
    /// Paths already looked up on the public repository, and the `groupId:artifactId`s counted.
    probed: BTreeSet<String>,
    counted: BTreeSet<String>,
    failure: Option<Error>,
}

pub struct RouteMode {
    sources: Sources,
    client: Client,
    store: Store,
    reporter: Reporter,
    /// Shared with the background probes.
    seen: Arc<Mutex<Seen>>,
    probes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The release-age cooldown (None: off). Internal groups are never filtered.
    pub cooldown: Option<crate::cooldown::Watch>,
    /// `group:artifact` → when it was first published, for the new-package check.
    first_published: Mutex<HashMap<String, Option<i64>>>,
}

impl RouteMode {
    pub fn new(sources: Sources, client: Client, store: Store, reporter: Reporter) -> RouteMode {
        RouteMode {
            sources,
            client,
            store,
            reporter,
            seen: Arc::new(Mutex::new(Seen::default())),
            probes: Mutex::new(Vec::new()),
            cooldown: None,
            first_published: Mutex::new(HashMap::new()),
        }
    }

    /// Hide versions younger than `[cooldown] min-age` (None: off).
    pub fn with_cooldown(mut self, watch: Option<crate::cooldown::Watch>) -> RouteMode {
        self.cooldown = watch;
        self
    }

    /// When `version`'s POM was published: its `Last-Modified` (None when the repository sends
    /// none, or has no such POM). Err when the repository cannot be asked: the caller fails the
    /// run rather than judge, or record a first sighting of, a version it could not date.
    async fn pom_time(
        &self,
        coords: &Coords,
        version: &str,
        base: &Url,
    ) -> Result<Option<i64>, Error> {
        let path = format!(
            "{}/{}/{version}/{}-{version}.pom",
            coords.group_id.replace('.', "/"),
            coords.artifact_id,
            coords.artifact_id
        );
        let Ok(path) = RepoPath::parse(&path) else {
            return Ok(None);
        };
        match self
            .client
            .get(&url_in(base, &path), None, &coords.gav())
            .await
        {
            Ok(f) => Ok(f
                .response
                .headers()
                .get(reqwest::header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::cooldown::parse_http_date)),
            Err(e) if crate::fetch::is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// When `coords`' artifact was first published: the `Last-Modified` of the POM of the oldest
    /// release its artifact-level `maven-metadata.xml` lists (None when the repository lists or
    /// dates none). Asked once per artifact; Err as for [`RouteMode::pom_time`].
    async fn first_published(&self, coords: &Coords, base: &Url) -> Result<Option<i64>, Error> {
        let ga = format!("{}:{}", coords.group_id, coords.artifact_id);
        if let Some(t) = self.first_published.lock().unwrap().get(&ga) {
            return Ok(*t);
        }
        let path = RepoPath::parse(&format!(
            "{}/{}/maven-metadata.xml",
            coords.group_id.replace('.', "/"),
            coords.artifact_id
        ));
        let listed = match path {
            Ok(path) => match self.client.get_bytes(&url_in(base, &path), None, &ga).await {
                Ok((body, _)) => Some(body),
                Err(e) if crate::fetch::is_not_found(&e) => None,
                Err(e) => return Err(e),
            },
            Err(_) => None,
        };
        let oldest = listed.and_then(|body| {
            let (versions, _) = crate::cooldown::maven_versions(std::str::from_utf8(&body).ok()?)?;
            versions
                .into_iter()
                .filter(|v| !v.ends_with("-SNAPSHOT"))
                .min_by(|a, b| metadata::compare_versions(a, b))
        });
        let t = match oldest {
            Some(v) => self.pom_time(coords, &v, base).await?,
            None => None,
        };
        self.first_published.lock().unwrap().insert(ga, t);
        Ok(t)
    }

    /// A failure to date a version: fail the run with it (the tool gets a 404 meanwhile).
    fn undatable(&self, e: Error) -> Reply {
        let msg = e.to_string();
        self.fail(e);
        Reply::NotFound(msg)
    }

    /// Under the cooldown: artifact-level metadata loses the versions too young to use (checked
    /// newest first, by each POM's `Last-Modified`, until one is old enough), unless its
    /// `lastUpdated` shows nothing was published within `min-age`; a POM of a too-young version
    /// is refused (the lock then fails with 28). None: serve as usual.
    async fn cooled(
        &self,
        watch: &crate::cooldown::Watch,
        path: &RepoPath,
        coords: &Coords,
        base: &Url,
    ) -> Option<Reply> {
        let name = format!("{}:{}", coords.group_id, coords.artifact_id);
        let snapshot = |v: &str| v.ends_with("-SNAPSHOT");
        match (&coords.file, &coords.version) {
            (
                FileKind::Artifact {
                    extension,
                    classifier,
                    ..
                },
                Some(v),
            ) if extension == "pom" && classifier.is_none() && !snapshot(v) => {
                let published = match self.pom_time(coords, v, base).await {
                    Ok(t) => t,
                    Err(e) => return Some(self.undatable(e)),
                };
                if watch.is_new(&name) {
                    // Each release's POM bounds the first publication too (a repository
                    // without metadata still dates the version asked for).
                    let first = match self.first_published(coords, base).await {
                        Ok(t) => t,
                        Err(e) => return Some(self.undatable(e)),
                    };
                    let first = match (first, published) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    if let Err(msg) =
                        watch.check_new(&name, first, crate::cooldown::Clock::LastModified)
                    {
                        return Some(Reply::NotFound(msg));
                    }
                }
                if watch.is_held(&name, v)
                    || !watch.admit_version(
                        &name,
                        v,
                        published,
                        crate::cooldown::Clock::LastModified,
                    )
                {
                    watch.demand(&name, v);
                    return Some(Reply::NotFound(format!(
                        "{name}:{v} is held back by the cooldown"
                    )));
                }
                None
            }
            (FileKind::Artifact { .. }, Some(v)) if watch.is_held(&name, v) => {
                watch.demand(&name, v);
                Some(Reply::NotFound(format!(
                    "{name}:{v} is held back by the cooldown"
                )))
            }
            (FileKind::Metadata, None) => {
                let (body, _) = self
                    .client
                    .get_bytes(&url_in(base, path), None, &name)
                    .await
                    .ok()?;
                let text = std::str::from_utf8(&body).ok()?;
                let (mut versions, last_updated) = crate::cooldown::maven_versions(text)?;
                if watch.quiet_since(last_updated) {
                    return Some(Reply::Bytes {
                        status: 200,
                        content_type: "application/xml".into(),
                        body,
                    });
                }
                versions.sort_by(|a, b| metadata::compare_versions(b, a));
                let mut held = Vec::new();
                for v in versions.iter().filter(|v| !snapshot(v)) {
                    let published = match self.pom_time(coords, v, base).await {
                        Ok(t) => t,
                        Err(e) => return Some(self.undatable(e)),
                    };
                    if watch.admit_version(
                        &name,
                        v,
                        published,
                        crate::cooldown::Clock::LastModified,
                    ) {
                        break;
                    }
                    held.push(v.clone());
                }
                let out = crate::cooldown::filter_maven_metadata(
                    text,
                    &held,
                    metadata::compare_versions,
                )?;
                Some(text_reply(out, "application/xml"))
            }
            _ => None,
        }
    }

    /// Wait for the public lookups of internal paths, then say how the resolution went: the
    /// first failure (auth, integrity…), else a confusion refusal when an internal file Maven
    /// needed is missing internally but offered publicly, else the new lock.
    pub async fn finish(&self, lock_path: &Path) -> Result<Lock, Error> {
        let handles: Vec<_> = self.probes.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.await;
        }
        let mut seen = self.seen.lock().unwrap();
        if let Some(e) = seen.failure.take() {
            return Err(e);
        }
        let confused: Vec<Finding> = seen
            .internal_missing
            .intersection(&seen.public_offers)
            .map(|p| {
                Finding::error(Kind::Confusion, p.as_str(), lock_path)
                    .msg("is in an internal group; the internal repository does not have it but the public repository offers it")
                    .hint("publish it to the internal repository (or fix the dependency); lockgate never takes an internal group's files from the public repository")
            })
            .collect();
        if !confused.is_empty() {
            return Err(Error::Refused { findings: confused });
        }
        let mut lock = Lock::default();
        for (path, sha) in &seen.recorded {
            lock.insert(path.clone(), *sha);
        }
        Ok(lock)
    }

    fn fail(&self, e: Error) {
        let mut seen = self.seen.lock().unwrap();
        if seen.failure.is_none() {
            seen.failure = Some(e);
        }
    }

    /// Look the internal `path` up on the public repository, once, in the background.
    fn probe_public(&self, path: &RepoPath, coords: &Coords) {
        if !self.seen.lock().unwrap().probed.insert(path.to_string()) {
            return;
        }
        let (client, reporter, seen) = (
            self.client.clone(),
            self.reporter.clone(),
            self.seen.clone(),
        );
        let url = url_in(&self.sources.public, path);
        let path = path.clone();
        let package = format!("{}:{}", coords.group_id, coords.artifact_id);
        let h = tokio::spawn(async move {
            if client.get(&url, None, &package).await.is_err() {
                return;
            }
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.public_offers.insert(path.to_string());
                seen.counted.insert(package.clone())
            };
            if first {
                reporter.count(report::CONFUSION, &[("package", &package)]);
                reporter.audit(
                    "confusion-attempt",
                    json!({"package": package, "public_repository": origin_label(&url), "path": path.as_str()}),
                );
                eprintln!(
                    "lockgate: warning: the public repository {} also serves {path} of internal group artifact {package}; lockgate took it from the internal repository only. Someone may be staging a dependency-confusion attack.",
                    origin_label(&url)
                );
            }
        });
        self.probes.lock().unwrap().push(h);
    }

    /// Download an artifact and the repository's checksums of it at once, verify, store, record.
    async fn artifact(
        &self,
        path: &RepoPath,
        coords: &Coords,
        base: &Url,
        internal: bool,
    ) -> Reply {
        let package = format!("{}:{}", coords.group_id, coords.artifact_id);
        let url = url_in(base, path);
        let side = |algo: ChecksumAlgo| {
            Url::parse(&format!("{url}.{}", algo.extension())).expect("URL plus suffix")
        };
        let (sha256_url, sha1_url) = (side(ChecksumAlgo::Sha256), side(ChecksumAlgo::Sha1));
        let (body, sha256_file, sha1_file) = tokio::join!(
            self.client.get_bytes(&url, None, &package),
            self.client.get_bytes(&sha256_url, None, &package),
            self.client.get_bytes(&sha1_url, None, &package),
        );
        let (body, final_url) = match body {
            Ok(b) => b,
            Err(e @ Error::Unavailable { .. }) => {
                if internal {
                    self.seen
                        .lock()
                        .unwrap()
                        .internal_missing
                        .insert(path.to_string());
                }
                return Reply::NotFound(e.to_string());
            }
            Err(e) => {
                let msg = e.to_string();
                self.fail(e);
                return Reply::NotFound(msg);
            }
        };
        let sha256 = hash(Alg::Sha256, &body);
        let sha1 = hash(Alg::Sha1, &body);
        let version = coords.version.clone().unwrap_or_default();
        for (published, computed, algo) in
            [(sha256_file, &sha256, "sha256"), (sha1_file, &sha1, "sha1")]
        {
            let Ok((text, _)) = published else { continue };
            // A page that is no checksum (a proxy's HTML for anything missing) offers none.
            let Some(hex) = published_checksum(&text, computed.bytes.len()) else {
                continue;
            };
            if hex == computed.hex() {
                continue;
            }
            self.reporter.count(
                report::INTEGRITY_FAILURES,
                &[("package", &package), ("version", &version)],
            );
            self.reporter.audit(
                "refuse",
                json!({"reason": "integrity", "package": package, "version": version, "url": redact_url(final_url.as_str()),
                       "expected": format!("{algo}:{}", String::from_utf8_lossy(&text).trim()), "computed": format!("{algo}:{}", computed.hex())}),
            );
            let e = Error::Integrity {
                package: format!("{} ({})", coords.gav(), coords.file_label()),
                url: redact_url(final_url.as_str()),
                expected: format!(
                    "{algo}:{} (the repository's .{algo} file)",
                    String::from_utf8_lossy(&text).trim()
                ),
                computed: format!("{algo}:{}", computed.hex()),
            };
            let msg = e.to_string();
            self.fail(e);
            return Reply::Bytes {
                status: 502,
                content_type: "text/plain".into(),
                body: Bytes::from(msg),
            };
        }
        if let Err(e) = self.store.put(&sha256, &body) {
            let msg = e.to_string();
            self.fail(e);
            return Reply::NotFound(msg);
        }
        let source = if internal { "internal" } else { "public" };
        self.reporter.count(
            report::DOWNLOADS,
            &[
                ("registry", &origin_label(&final_url)),
                ("package", &package),
                ("version", &version),
                ("source", source),
            ],
        );
        self.reporter.audit(
            "route",
            json!({"package": package, "version": version, "file": coords.file_label(), "source": source,
                   "url": redact_url(final_url.as_str()), "digest": sha256.to_string()}),
        );
        {
            let mut seen = self.seen.lock().unwrap();
            seen.recorded.insert(path.clone(), to_sha256(&sha256));
            seen.sha1.insert(path.to_string(), sha1.hex());
        }
        Reply::Bytes {
            status: 200,
            content_type: "application/octet-stream".into(),
            body,
        }
    }
}

/// The hex digest of `len` bytes in a published checksum file (`<hex>` or `<hex>  <file name>`),
/// lowercased; `None` when the file holds no such digest.
fn published_checksum(text: &[u8], len: usize) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let hex = text.split_whitespace().next()?;
    (hex.len() == len * 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn to_sha256(d: &Digest) -> Sha256 {
    Sha256(
        d.bytes
            .as_slice()
            .try_into()
            .expect("a sha256 digest has 32 bytes"),
    )
}

impl Route for RouteMode {
    async fn handle(&self, req: GateRequest) -> Reply {
        let route = self;
        let Some(path) = repo_path(&req) else {
            return Reply::NotFound("not a repository path".into());
        };
        match split_checksum(&path) {
            (base, Some(ChecksumAlgo::Sha1)) => {
                return match route.seen.lock().unwrap().sha1.get(&base) {
                    Some(hex) => text_reply(hex.clone(), "text/plain"),
                    None => not_found(path.as_str()),
                }
            }
            (_, Some(_)) => return not_found(path.as_str()),
            (_, None) => {}
        }
        let Ok(coords) = Coords::parse(&path) else {
            return Reply::NotFound(format!("{path} is not a Maven repository file"));
        };
        if coords.signature {
            return not_found(path.as_str());
        }
        let (base, internal) = route.sources.source_for(&coords);
        if internal && route.sources.probe_public() {
            route.probe_public(&path, &coords);
        }
        let ga = format!("{}:{}", coords.group_id, coords.artifact_id);
        let version = coords.version.as_deref().filter(|v| !v.is_empty());
        if let Some(e) =
            version.and_then(|v| feed::refuse_request(Eco::Maven, &ga, v, &route.reporter))
        {
            let msg = e.to_string();
            route.fail(e);
            return Reply::NotFound(msg);
        }
        if let Some(w) = route
            .cooldown
            .as_ref()
            .filter(|w| !internal && w.applies(&ga))
        {
            if let Some(reply) = route.cooled(w, &path, &coords, base).await {
                // The cooldown's metadata is also stripped of listed (malicious) versions.
                return match reply {
                    Reply::Bytes {
                        status: 200,
                        content_type,
                        body,
                    } if coords.file == FileKind::Metadata => Reply::Bytes {
                        status: 200,
                        content_type,
                        body: feed::maven_metadata(&ga, body),
                    },
                    other => other,
                };
            }
        }
        if coords.file != FileKind::Metadata {
            return route.artifact(&path, &coords, base, internal).await;
        }
        // Metadata: forwarded from the one source, never recorded (the locked gate builds its own).
        let package = coords.gav();
        match route.client.get(&url_in(base, &path), None, &package).await {
            Ok(f) => feed::maven_metadata_reply(&ga, f.response).await,
            Err(e @ Error::Unavailable { .. }) => Reply::NotFound(e.to_string()),
            Err(e) => {
                let msg = e.to_string();
                route.fail(e);
                Reply::NotFound(msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maven::lock::parse;
    use crate::maven::plan::plan;
    use crate::policy::{InternalMaven, MavenPolicy};

    fn request(path: &str) -> GateRequest {
        GateRequest {
            path: path.into(),
            headers: hyper::HeaderMap::new(),
        }
    }

    async fn body(reply: Reply) -> Option<Vec<u8>> {
        match reply {
            Reply::File { path, .. } => Some(std::fs::read(path).unwrap()),
            Reply::Bytes {
                status: 200, body, ..
            } => Some(body.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn checksum_suffixes_split_off() {
        let p = |s: &str| split_checksum(&RepoPath::parse(s).unwrap());
        assert_eq!(
            p("a/b/1/b-1.jar.sha1"),
            ("a/b/1/b-1.jar".into(), Some(ChecksumAlgo::Sha1))
        );
        assert_eq!(
            p("a/b/maven-metadata.xml.md5"),
            ("a/b/maven-metadata.xml".into(), Some(ChecksumAlgo::Md5))
        );
        assert_eq!(p("a/b/1/b-1.jar"), ("a/b/1/b-1.jar".into(), None));
        assert_eq!(
            published_checksum(b"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709  x.jar\n", 20).as_deref(),
            Some("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        let sha1_hex = b"da39a3ee5e6b4b0d3255bfef95601890afd80709";
        assert_eq!(
            published_checksum(sha1_hex, 32),
            None,
            "a sha1 is no sha256"
        );
        assert_eq!(published_checksum(b"<html>", 20), None);
        assert_eq!(published_checksum(b"", 20), None);
    }

    #[tokio::test]
    async fn locked_route_serves_the_lock_and_records_misses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let jar = b"jar bytes".as_slice();
        let sha = hash(Alg::Sha256, jar);
        store.put(&sha, jar).unwrap().unwrap();
        let text = format!(
            "{}  com/myorg/a/1.0/a-1.0.jar\n{}  com/myorg/a/1.0/a-1.0.pom\n",
            sha.hex(),
            "11".repeat(32)
        );
        let lock = parse(&text, Path::new("l")).unwrap();
        let sources = Sources::from_policy(&MavenPolicy {
            wrapper_sha256: None,
            wrapper_hosts: Vec::new(),
            repository: None,
            internal: Some(InternalMaven {
                url: Url::parse("https://maven.corp.example/").unwrap(),
                groups: vec!["com.myorg".into()],
                username: None,
                password_env: None,
                server_id: None,
            }),
        });
        let planned = plan(&lock, Path::new("l"), &sources).files;
        let route = LockedRoute::new(&lock, &planned, &store);
        assert_eq!(
            body(route.handle(request("/com/myorg/a/1.0/a-1.0.jar")).await)
                .await
                .unwrap(),
            jar
        );
        let sha1 = body(
            route
                .handle(request("/com/myorg/a/1.0/a-1.0.jar.sha1"))
                .await,
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8(sha1).unwrap(), hash(Alg::Sha1, jar).hex());
        let meta = body(
            route
                .handle(request("/com/myorg/a/maven-metadata.xml"))
                .await,
        )
        .await
        .unwrap();
        assert!(String::from_utf8(meta)
            .unwrap()
            .contains("<version>1.0</version>"));
        assert!(body(
            route
                .handle(request("/com/myorg/a/maven-metadata.xml.sha1"))
                .await
        )
        .await
        .is_some());
        // Not locked: recorded, except checksum requests and paths that are no repository path.
        for p in [
            "/com/myorg/a/99.0.0/a-99.0.0.pom",
            "/com/myorg/b/maven-metadata.xml",
            "/com/myorg/a/99.0.0/a-99.0.0.pom.sha1",
            "/com/myorg/a/1.0/a-1.0.jar.md5",
            "/../etc/passwd",
        ] {
            assert!(body(route.handle(request(p)).await).await.is_none(), "{p}");
        }
        assert_eq!(
            route.misses(),
            [
                "com/myorg/a/99.0.0/a-99.0.0.pom",
                "com/myorg/b/maven-metadata.xml"
            ]
        );
    }

    #[tokio::test]
    async fn route_mode_answers_sha1_only_for_what_it_served() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let route = RouteMode::new(
            Sources::from_policy(&MavenPolicy::default()),
            Client::new(vec![], Reporter::default()).unwrap(),
            store,
            Reporter::default(),
        );
        route
            .seen
            .lock()
            .unwrap()
            .sha1
            .insert("a/b/1/b-1.jar".into(), "ab".repeat(20));
        assert_eq!(
            body(route.handle(request("/a/b/1/b-1.jar.sha1")).await)
                .await
                .unwrap(),
            "ab".repeat(20).as_bytes()
        );
        assert!(body(route.handle(request("/a/b/1/b-1.pom.sha1")).await)
            .await
            .is_none());
        assert!(body(route.handle(request("/a/b/1/b-1.jar.asc")).await)
            .await
            .is_none());
        assert!(route.finish(Path::new("l")).await.unwrap().is_empty());
    }
}
