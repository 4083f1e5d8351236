//! Downloads: one HTTP client, origin-bound credentials, careful redirects, retries, and
//! concurrent streaming verification into the verified store.
//!
//! Redirects are followed by hand (at most [`MAX_REDIRECTS`]) so that each hop is checked: plain
//! http off loopback is refused (26) and credentials are attached per hop by origin, so a token for
//! the internal registry never reaches the storage host it redirects to (GitHub Packages,
//! CodeArtifact). Transient failures (connect errors, resets, truncated bodies, 5xx, 429) are
//! retried with backoff; 401/403 → 25, 404 → 27, digest mismatch → 23 and never retried.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::json;

use crate::error::{redact_url, Error, Result, Secret};
use crate::integrity::Digest;
use crate::policy::check_transport;
use crate::report::{self, Reporter};
use crate::store::Store;

pub const MAX_REDIRECTS: usize = 5;
const RETRY_DELAYS_MS: [u64; 3] = [200, 800, 2000];
const DEFAULT_CONCURRENCY: usize = 16;

/// How to authenticate to one host (and port), below a path. Like npm's nerf-darts
/// (`//host:port/path/`) it ignores the scheme; plain http off loopback is refused anyway.
#[derive(Debug, Clone)]
pub struct Credential {
    pub host: String,
    /// None: only URLs without an explicit port (the scheme's default).
    pub port: Option<u16>,
    pub path_prefix: String,
    pub auth: Auth,
    /// Where it came from, for messages: "INTERNAL_NPM_TOKEN", "~/.npmrc", ….
    pub source: String,
}

#[derive(Debug, Clone)]
pub enum Auth {
    Bearer(Secret),
    Basic { user: String, password: Secret },
}

impl Auth {
    fn header(&self) -> HeaderValue {
        use base64::Engine as _;
        let v = match self {
            Auth::Bearer(t) => format!("Bearer {}", t.expose()),
            Auth::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose()))
            ),
        };
        let mut h = HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""));
        h.set_sensitive(true);
        h
    }
    pub fn user(&self) -> &str {
        match self {
            Auth::Bearer(_) => "token",
            Auth::Basic { user, .. } => user,
        }
    }
}

impl Credential {
    /// A credential for every path of `url`'s host and port.
    pub fn for_url(url: &Url, auth: Auth, source: impl Into<String>) -> Credential {
        Credential {
            host: url.host_str().unwrap_or_default().to_ascii_lowercase(),
            port: url.port_or_known_default(),
            path_prefix: "/".into(),
            auth,
            source: source.into(),
        }
    }

    /// From an npm nerf-dart key: `//host[:port]/path/`.
    pub fn from_nerf_dart(nerf: &str, auth: Auth, source: impl Into<String>) -> Option<Credential> {
        let rest = nerf.strip_prefix("//")?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
                (h, Some(p.parse().ok()?))
            }
            _ => (hostport, None),
        };
        if host.is_empty() {
            return None;
        }
        Some(Credential {
            host: host.to_ascii_lowercase(),
            port,
            path_prefix: path.to_string(),
            auth,
            source: source.into(),
        })
    }

    fn applies(&self, url: &Url) -> bool {
        let host_ok = url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.host));
        let port_ok = match self.port {
            Some(p) => url.port_or_known_default() == Some(p),
            None => url.port().is_none(),
        };
        host_ok && port_ok && url.path().starts_with(&self.path_prefix)
    }
}

/// One artifact to download and verify.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Display name: `name@version`.
    pub package: String,
    pub name: String,
    pub version: String,
    pub internal: bool,
    pub url: Url,
    pub digest: Digest,
    /// How to find the real URL when `url` (a conventional guess) is not found.
    pub locate: Option<Locator>,
}

/// Registry metadata that names an artifact's real download URL.
#[derive(Debug, Clone)]
pub enum Locator {
    /// An npm packument: `versions[version].dist.tarball`.
    NpmPackument(Url),
}

/// How a 404/410 is described, so [`Client::exists`] can tell "not there" from a failure.
const NOT_FOUND: &str = "was not found";

/// The one HTTP client of a run.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    creds: Arc<Vec<Credential>>,
    reporter: Reporter,
}

/// A response after redirects, with the URL it finally came from.
pub struct Fetched {
    pub response: reqwest::Response,
    pub final_url: Url,
}

impl Client {
    pub fn new(creds: Vec<Credential>, reporter: Reporter) -> Result<Client> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("lockgate/", env!("CARGO_PKG_VERSION")));
        b = b.no_proxy();
        if let Some(proxy) = env_proxy() {
            b = b.proxy(proxy);
        }
        let http = b.build().map_err(|e| {
            Error::config(
                format!("cannot set up the HTTP client: {e}"),
                "check proxy and TLS settings",
            )
        })?;
        Ok(Client {
            http,
            creds: Arc::new(creds),
            reporter,
        })
    }

    fn credential_for(&self, url: &Url) -> Option<&Credential> {
        self.creds
            .iter()
            .filter(|c| c.applies(url))
            .max_by_key(|c| c.path_prefix.len())
    }

    /// GET with redirects checked per hop and transient failures retried. Any status other than
    /// 2xx becomes an error (401/403 → 25 and counted, 404/410 → 27, 5xx after retries → 27).
    pub async fn get(&self, url: &Url, accept: Option<&str>, package: &str) -> Result<Fetched> {
        let mut attempt = 0;
        loop {
            match self.get_once(url, accept, package).await {
                Err(Retry::Transient(_)) if attempt < RETRY_DELAYS_MS.len() => {
                    tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt])).await;
                    attempt += 1;
                }
                Err(Retry::Transient(detail)) => {
                    return Err(Error::Unavailable {
                        package: package.into(),
                        url: redact_url(url.as_str()),
                        detail: format!(
                            "could not be fetched after {} attempts: {detail}",
                            attempt + 1
                        ),
                    })
                }
                Err(Retry::Fatal(e)) => return Err(e),
                Ok(f) => return Ok(f),
            }
        }
    }

    async fn get_once(
        &self,
        url: &Url,
        accept: Option<&str>,
        package: &str,
    ) -> Result<Fetched, Retry> {
        let f = self.follow(url, accept, package).await?;
        let status = f.response.status();
        if status.is_success() {
            return Ok(f);
        }
        Err(self.status_error(
            status,
            &f.final_url,
            self.credential_for(&f.final_url),
            package,
        ))
    }

    /// The status a URL finally answers (after checked redirects), for `lockgate doctor`.
    pub async fn probe(&self, url: &Url) -> Result<u16> {
        match self.follow(url, Some("application/json"), "probe").await {
            Ok(f) => Ok(f.response.status().as_u16()),
            Err(Retry::Fatal(e)) => Err(e),
            Err(Retry::Transient(detail)) => Err(Error::Unavailable {
                package: "probe".into(),
                url: redact_url(url.as_str()),
                detail,
            }),
        }
    }

    /// Send a GET and follow redirects hop by hop: each hop's transport is checked and
    /// credentials are chosen for that hop's host. Returns the first non-redirect response.
    async fn follow(
        &self,
        url: &Url,
        accept: Option<&str>,
        package: &str,
    ) -> Result<Fetched, Retry> {
        let mut current = url.clone();
        for _hop in 0..=MAX_REDIRECTS {
            check_transport(&current).map_err(|reason| {
                Retry::Fatal(Error::Insecure {
                    package: package.into(),
                    url: redact_url(current.as_str()),
                    reason: if current == *url {
                        reason
                    } else {
                        format!("redirected from {}: {reason}", redact_url(url.as_str()))
                    },
                })
            })?;
            let mut headers = HeaderMap::new();
            if let Some(a) = accept {
                headers.insert(
                    ACCEPT,
                    HeaderValue::from_str(a).unwrap_or(HeaderValue::from_static("*/*")),
                );
            }
            if let Some(c) = self.credential_for(&current) {
                headers.insert(AUTHORIZATION, c.auth.header());
            }
            let resp = self
                .http
                .get(current.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|e| Retry::Transient(describe(&e)))?;
            let status = resp.status();
            if !status.is_redirection() {
                return Ok(Fetched {
                    response: resp,
                    final_url: current,
                });
            }
            current = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| {
                    Retry::Fatal(Error::Unavailable {
                        package: package.into(),
                        url: redact_url(current.as_str()),
                        detail: format!("answered {status} without a usable Location header"),
                    })
                })?;
        }
        Err(Retry::Fatal(Error::Unavailable {
            package: package.into(),
            url: redact_url(url.as_str()),
            detail: format!("redirected more than {MAX_REDIRECTS} times"),
        }))
    }

    fn status_error(
        &self,
        status: StatusCode,
        url: &Url,
        cred: Option<&Credential>,
        package: &str,
    ) -> Retry {
        let registry = origin_label(url);
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let user = cred.map_or("anonymous", |c| c.auth.user());
                self.reporter.count(
                    report::AUTH_FAILURES,
                    &[("registry", &registry), ("user", user)],
                );
                self.reporter.audit(
                    "auth-failure",
                    json!({"registry": registry, "user": user, "status": status.as_u16(), "package": package}),
                );
                let (detail, hint) = match cred {
                    Some(c) => (
                        format!("the registry answered {status} to the credentials from {}", c.source),
                        format!("refresh or fix the credentials in {}", c.source),
                    ),
                    None => (
                        format!("the registry answered {status} and lockgate had no credentials for {registry}"),
                        "give lockgate credentials for this registry: in lockgate.toml `token-env` (npm) or `username` + `password-env` (pip, Maven; or `server-id` for a settings.xml server), or your .npmrc / .netrc entry for its host".into(),
                    ),
                };
                Retry::Fatal(Error::Auth {
                    registry,
                    package: package.into(),
                    detail,
                    hint,
                })
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Retry::Fatal(Error::Unavailable {
                package: package.into(),
                url: redact_url(url.as_str()),
                detail: format!("{NOT_FOUND} ({status})"),
            }),
            s if s.is_server_error()
                || s == StatusCode::TOO_MANY_REQUESTS
                || s == StatusCode::REQUEST_TIMEOUT =>
            {
                Retry::Transient(format!("HTTP {s}"))
            }
            s => Retry::Fatal(Error::Unavailable {
                package: package.into(),
                url: redact_url(url.as_str()),
                detail: format!("answered {s}"),
            }),
        }
    }

    /// Whether a registry has a document: `false` for 404/410; other failures as [`Client::get`]
    /// (so a registry that cannot be asked is an error, not an answer).
    pub async fn exists(&self, url: &Url, accept: Option<&str>, package: &str) -> Result<bool> {
        match self.get(url, accept, package).await {
            Ok(_) => Ok(true),
            Err(Error::Unavailable { detail, .. }) if detail.starts_with(NOT_FOUND) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A small document (packument, index page, metadata), fully read, retried on body errors.
    pub async fn get_bytes(
        &self,
        url: &Url,
        accept: Option<&str>,
        package: &str,
    ) -> Result<(bytes::Bytes, Url)> {
        let mut attempt = 0;
        loop {
            let f = self.get(url, accept, package).await?;
            match f.response.bytes().await {
                Ok(b) => return Ok((b, f.final_url)),
                Err(_) if attempt < RETRY_DELAYS_MS.len() => {
                    tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt])).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::Unavailable {
                        package: package.into(),
                        url: redact_url(url.as_str()),
                        detail: format!("broke off while downloading: {}", describe(&e)),
                    })
                }
            }
        }
    }

    /// Download one artifact into the store unless it is already there. Returns the bytes
    /// downloaded (0 for a store hit).
    pub async fn fetch_verified(&self, a: &Artifact, store: &Store) -> Result<u64> {
        if store.contains(&a.digest) {
            return Ok(0);
        }
        match self.fetch_from(a, &a.url, store).await {
            Err(Error::Unavailable { .. }) if a.locate.is_some() => {
                let url = self.locate(a).await?;
                self.fetch_from(a, &url, store).await
            }
            r => r,
        }
    }

    /// Ask the registry's metadata for the artifact's real URL; it must be on the same host.
    async fn locate(&self, a: &Artifact) -> Result<Url> {
        let Some(Locator::NpmPackument(doc)) = &a.locate else {
            unreachable!("checked by caller")
        };
        let (body, _) = self
            .get_bytes(doc, Some("application/json"), &a.package)
            .await?;
        let tarball = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["versions"][&a.version]["dist"]["tarball"]
                    .as_str()
                    .map(str::to_string)
            })
            .and_then(|t| Url::parse(&t).ok())
            .ok_or_else(|| Error::Unavailable {
                package: a.package.clone(),
                url: redact_url(doc.as_str()),
                detail: format!("does not list version {}", a.version),
            })?;
        if tarball.host_str() != doc.host_str()
            || tarball.port_or_known_default() != doc.port_or_known_default()
        {
            return Err(Error::Insecure {
                package: a.package.clone(),
                url: redact_url(tarball.as_str()),
                reason: format!(
                    "the registry {} points the tarball at another host",
                    origin_label(doc)
                ),
            });
        }
        Ok(tarball)
    }

    async fn fetch_from(&self, a: &Artifact, url: &Url, store: &Store) -> Result<u64> {
        let mut attempt = 0;
        loop {
            match self.download_once(a, url, store).await {
                Ok(n) => return Ok(n),
                Err(DownloadError::Body(_)) if attempt < RETRY_DELAYS_MS.len() => {
                    tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt])).await;
                    attempt += 1;
                }
                Err(DownloadError::Body(detail)) => {
                    return Err(Error::Unavailable {
                        package: a.package.clone(),
                        url: redact_url(url.as_str()),
                        detail: format!(
                            "broke off while downloading, {} attempts: {detail}",
                            attempt + 1
                        ),
                    })
                }
                Err(DownloadError::Other(e)) => return Err(e),
            }
        }
    }

    async fn download_once(
        &self,
        a: &Artifact,
        url: &Url,
        store: &Store,
    ) -> Result<u64, DownloadError> {
        let f = self
            .get(url, None, &a.package)
            .await
            .map_err(DownloadError::Other)?;
        let mut resp = f.response;
        let mut partial = store.begin(&a.digest).map_err(DownloadError::Other)?;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => partial.write(&chunk).map_err(DownloadError::Other)?,
                Ok(None) => break,
                Err(e) => return Err(DownloadError::Body(describe(&e))),
            }
        }
        let len = partial.len();
        match partial.commit(store).map_err(DownloadError::Other)? {
            Ok(_) => {
                let source = if a.internal { "internal" } else { "public" };
                let registry = origin_label(&f.final_url);
                self.reporter.count(
                    report::DOWNLOADS,
                    &[
                        ("registry", &registry),
                        ("package", &a.name),
                        ("version", &a.version),
                        ("source", source),
                    ],
                );
                Ok(len)
            }
            Err(computed) => {
                self.reporter.count(
                    report::INTEGRITY_FAILURES,
                    &[("package", &a.name), ("version", &a.version)],
                );
                self.reporter.audit(
                    "refuse",
                    json!({"reason": "integrity", "package": a.name, "version": a.version,
                           "url": redact_url(f.final_url.as_str()), "expected": a.digest.to_string(),
                           "computed": computed.to_string()}),
                );
                Err(DownloadError::Other(Error::Integrity {
                    package: a.package.clone(),
                    url: redact_url(f.final_url.as_str()),
                    expected: a.digest.to_string(),
                    computed: computed.to_string(),
                }))
            }
        }
    }
}

enum Retry {
    Transient(String),
    Fatal(Error),
}

enum DownloadError {
    Body(String),
    Other(Error),
}

/// `scheme://host[:port]` — the registry label used in counters and messages.
pub fn origin_label(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    // reqwest includes the URL; strip credentials and query.
    redact_in_text(&s)
}

fn redact_in_text(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let t = w.trim_matches(|c| c == '(' || c == ')' || c == ',');
            if t.starts_with("http://") || t.starts_with("https://") {
                w.replace(t, &redact_url(t))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY, but never proxy loopback (the gate, test registries).
fn env_proxy() -> Option<reqwest::Proxy> {
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .or_else(|| std::env::var(k.to_lowercase()).ok())
            .filter(|v| !v.is_empty())
    };
    let https = get("HTTPS_PROXY");
    let http = get("HTTP_PROXY");
    if https.is_none() && http.is_none() {
        return None;
    }
    let no_proxy = get("NO_PROXY").unwrap_or_default();
    let no_proxy = reqwest::NoProxy::from_string(&format!("{no_proxy},localhost,127.0.0.1,::1"));
    Some(
        reqwest::Proxy::custom(move |u| {
            let p = if u.scheme() == "https" {
                https.clone()
            } else {
                http.clone()
            };
            p.and_then(|p| Url::parse(&p).ok())
        })
        .no_proxy(no_proxy),
    )
}

/// Progress of a batch: a live line on a terminal, one summary line otherwise.
struct Progress {
    total: usize,
    done: AtomicUsize,
    bytes: AtomicU64,
    live: bool,
    last_draw: std::sync::Mutex<Instant>,
}

impl Progress {
    fn tick(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if !self.live {
            return;
        }
        let mut last = self.last_draw.lock().unwrap();
        if last.elapsed() > Duration::from_millis(80) || done == self.total {
            *last = Instant::now();
            let term = console::Term::stderr();
            let _ = term.clear_line();
            let _ = term.write_str(&format!(
                "lockgate: verifying {done}/{} ({:.1} MB downloaded)",
                self.total,
                self.bytes.load(Ordering::Relaxed) as f64 / 1e6
            ));
        }
    }
    fn finish(&self) {
        if self.live {
            let _ = console::Term::stderr().clear_line();
        }
    }
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub artifacts: usize,
    pub downloaded: usize,
    pub bytes: u64,
}

impl Summary {
    /// The one line a guarded install prints on stderr when it is done.
    /// `count` `what` ("packages", "files") were verified against the lock file(s) `against`.
    pub fn line(
        &self,
        tool: &str,
        count: usize,
        what: &str,
        against: &str,
        internal: usize,
        started: Instant,
    ) -> String {
        format!(
            "lockgate: {tool}: {count} {what} verified against {against} ({internal} internal; {} downloaded, {:.1} MB; {} from the verified store) in {:.1} s",
            self.downloaded,
            self.bytes as f64 / 1e6,
            self.artifacts - self.downloaded,
            started.elapsed().as_secs_f64()
        )
    }
}

/// Download and verify all artifacts concurrently; the first error cancels the rest (their
/// partial files are removed as they drop) and is returned.
pub async fn fetch_all(client: &Client, store: &Store, artifacts: &[Artifact]) -> Result<Summary> {
    let concurrency = std::env::var("LOCKGATE_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(DEFAULT_CONCURRENCY);
    let progress = Progress {
        total: artifacts.len(),
        done: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        live: console::Term::stderr().is_term() && artifacts.len() > 1,
        last_draw: std::sync::Mutex::new(Instant::now()),
    };
    let mut results = stream::iter(artifacts)
        .map(|a| async {
            let n = client.fetch_verified(a, store).await?;
            progress.tick(n);
            Ok::<u64, Error>(n)
        })
        .buffer_unordered(concurrency);
    let mut summary = Summary {
        artifacts: artifacts.len(),
        ..Summary::default()
    };
    while let Some(r) = results.next().await {
        match r {
            Ok(n) => {
                if n > 0 {
                    summary.downloaded += 1;
                    summary.bytes += n;
                }
            }
            Err(e) => {
                progress.finish();
                return Err(e);
            }
        }
    }
    progress.finish();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_bind_to_host_port_and_longest_prefix() {
        let u = |s: &str| Url::parse(s).unwrap();
        let bearer = |t: &str| Auth::Bearer(Secret::new(t));
        let c = Client::new(
            vec![
                Credential::for_url(&u("https://npm.corp.example/"), bearer("a"), "A"),
                Credential::from_nerf_dart("//npm.corp.example/team/", bearer("b"), "B").unwrap(),
                Credential::from_nerf_dart("//127.0.0.1:4873/", bearer("c"), "C").unwrap(),
            ],
            Reporter::default(),
        )
        .unwrap();
        let src = |s: &str| c.credential_for(&u(s)).map(|c| c.source.clone());
        assert_eq!(src("https://npm.corp.example/x").as_deref(), Some("A"));
        assert_eq!(src("https://npm.corp.example/team/x").as_deref(), Some("B"));
        assert_eq!(src("https://storage.corp.example/x"), None);
        assert_eq!(src("https://npm.corp.example:8443/x"), None);
        assert_eq!(
            src("http://127.0.0.1:4873/@myorg%2fa").as_deref(),
            Some("C")
        );
        assert_eq!(src("http://127.0.0.1:4874/x"), None);
        assert!(Credential::from_nerf_dart("npm.corp.example/", bearer("x"), "x").is_none());
    }

    #[test]
    fn auth_headers_are_sensitive() {
        let h = Auth::Basic {
            user: "ci".into(),
            password: Secret::new("pw"),
        }
        .header();
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic Y2k6cHc=");
    }

    #[test]
    fn redacts_urls_inside_error_text() {
        assert_eq!(
            redact_in_text("error sending request for url (https://u:p@h/x?t=1)"),
            "error sending request for url (https://h/x?***)"
        );
    }
}
