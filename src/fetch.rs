//! Downloads: one HTTP client, origin-bound credentials, careful redirects, retries, and
//! concurrent streaming verification into the verified store.
//!
//! Redirects are followed by hand (at most [`MAX_REDIRECTS`]) so that each hop is checked: plain
//! http off loopback is refused (26) and credentials are attached per hop by origin, so a token for
//! the internal registry never reaches the storage host it redirects to (GitHub Packages,
//! CodeArtifact). Transient failures (connect errors, resets, truncated bodies, 5xx, 429) are
//! retried with backoff; 401/403 → 25, 404 → 27, digest mismatch → 23 and never retried.
//!
//! Time is bounded by [`Limits`] (one setting, `LOCKGATE_HTTP_TIMEOUT`, like uv's
//! `UV_HTTP_TIMEOUT` and pip's `--timeout`): a connect timeout; a time-to-first-byte budget that
//! covers every attempt and redirect of a request; a minimum transfer rate checked over windows of
//! the timeout (a body that stalls or trickles is cut off, not retried); and an overall bound per
//! request. Each refusal (27) names the host and the limit it hit. Proxies are decided per URL by
//! [`crate::proxy::Proxies`].

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
use crate::proxy::Proxies;
use crate::report::{self, Reporter};
use crate::store::Store;

pub const MAX_REDIRECTS: usize = 5;
const RETRY_DELAYS_MS: [u64; 3] = [200, 800, 2000];
const DEFAULT_CONCURRENCY: usize = 16;

/// The variable that sets [`Limits::timeout`], in seconds.
pub const TIMEOUT_VAR: &str = "LOCKGATE_HTTP_TIMEOUT";

/// How long lockgate waits for a registry. Everything derives from one number `T`
/// (`LOCKGATE_HTTP_TIMEOUT`, default 30 s):
/// - connect: `min(10 s, T)` per attempt;
/// - first byte: the answer's headers must arrive within `T` of the request's start, retries
///   and redirects included;
/// - transfer rate: after that, every `T`-second window must bring at least
///   [`Limits::min_rate`] bytes per second on average (or the end of the body); a body that
///   stalls or trickles below it is cut off and not retried;
/// - overall: no request (attempts, redirects and body) lasts longer than `10 × T`.
///
/// So a registry that never connects, never answers, stalls or trickles ends the run with 27
/// within `2 × T`; a download that keeps moving is cut off at `10 × T`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub timeout: Duration,
    pub connect: Duration,
    /// Bytes per second, averaged over each window of `timeout`.
    pub min_rate: u64,
    pub overall: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::from_timeout(Duration::from_secs(30))
    }
}

impl Limits {
    pub const MIN_RATE: u64 = 1024;

    pub fn from_timeout(timeout: Duration) -> Limits {
        Limits {
            timeout,
            connect: timeout.min(Duration::from_secs(10)),
            min_rate: Self::MIN_RATE,
            overall: timeout * 10,
        }
    }

    /// `LOCKGATE_HTTP_TIMEOUT`: seconds (a decimal number > 0); unset or empty: the default.
    pub fn parse(value: Option<&str>) -> std::result::Result<Limits, String> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(Limits::default()),
            Some(v) => match v.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
                    Ok(Limits::from_timeout(Duration::from_secs_f64(s)))
                }
                _ => Err(format!(
                    "{TIMEOUT_VAR}=`{v}` is not a number of seconds between 0 and 86400"
                )),
            },
        }
    }

    fn secs(d: Duration) -> String {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    }

    fn setting(&self) -> String {
        format!(
            "{TIMEOUT_VAR}={}",
            Self::secs(self.timeout).trim_end_matches(" s")
        )
    }
}

/// Which limit a request hit (for the refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    FirstByte,
    Stalled,
    Rate,
    Overall,
}

impl Limits {
    /// The refusal's detail: which limit, the host (and proxy), what was seen, the setting.
    fn explain(&self, limit: Limit, host: &str, received: u64) -> String {
        let t = Self::secs(self.timeout);
        let what = match limit {
            Limit::FirstByte => {
                format!("hit the time-to-first-byte limit: {host} did not answer within {t}")
            }
            Limit::Stalled => format!(
                "hit the stall limit: {host} sent nothing for {t} in the middle of the body ({received} bytes received)"
            ),
            Limit::Rate => format!(
                "hit the minimum-transfer-rate limit: {host} sent {received} bytes in {t}, below {} KiB/s",
                self.min_rate / 1024
            ),
            Limit::Overall => format!(
                "hit the overall limit: {host} did not finish within {} ({received} bytes received; 10 × the timeout)",
                Self::secs(self.overall)
            ),
        };
        format!(
            "{what} ({}; raise it only if the registry is known to be this slow)",
            self.setting()
        )
    }
}

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

/// Whether `e` is a registry's "not there" (404/410) rather than a failure to ask it.
pub fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Unavailable { detail, .. } if detail.starts_with(NOT_FOUND))
}

/// The one HTTP client of a run.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    creds: Arc<Vec<Credential>>,
    reporter: Reporter,
    limits: Limits,
    /// For messages: where each request went.
    proxies: Arc<Proxies>,
}

/// A response after redirects, with the URL it finally came from.
pub struct Fetched {
    pub response: reqwest::Response,
    pub final_url: Url,
}

impl Client {
    /// A client whose proxies come from curl's environment variables (see [`Proxies::from_env`]).
    pub fn new(creds: Vec<Credential>, reporter: Reporter) -> Result<Client> {
        let proxies = Proxies::from_env(&|k| std::env::var(k).ok())?;
        Client::with_proxies(creds, reporter, proxies)
    }

    /// A client that sends each request through the proxy `proxies` picks for its URL (the
    /// wrapped tool's own proxy settings), with the limits of `LOCKGATE_HTTP_TIMEOUT`.
    pub fn with_proxies(
        creds: Vec<Credential>,
        reporter: Reporter,
        proxies: Proxies,
    ) -> Result<Client> {
        let limits = Limits::parse(std::env::var(TIMEOUT_VAR).ok().as_deref())
            .map_err(|msg| Error::config(msg, format!("set {TIMEOUT_VAR} to a number of seconds, e.g. {TIMEOUT_VAR}=60, or unset it for the default (30)")))?;
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect)
            .read_timeout(limits.timeout)
            .pool_max_idle_per_host(32)
            .user_agent(concat!("lockgate/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        let proxies = Arc::new(proxies);
        if !proxies.is_direct() {
            // Decided per URL here: reqwest never consults `no_proxy` for a custom proxy.
            let decide = Arc::clone(&proxies);
            b = b.proxy(reqwest::Proxy::custom(move |url| {
                decide.decide(url).map(|p| p.url.clone())
            }));
        }
        let http = b.build().map_err(|e| {
            Error::config(
                format!(
                    "cannot set up the HTTP client: {}",
                    redact_in_text(&e.to_string())
                ),
                "check proxy and TLS settings",
            )
        })?;
        Ok(Client {
            http,
            creds: Arc::new(creds),
            reporter,
            limits,
            proxies,
        })
    }

    /// `host[:port]`, and the proxy a request to it went through, for messages.
    fn host_label(&self, url: &Url) -> String {
        let host = host_label(url);
        match self.proxies.decide(url) {
            None => host,
            Some(_) => format!("{host} ({})", self.proxies.describe(url)),
        }
    }

    fn credential_for(&self, url: &Url) -> Option<&Credential> {
        self.creds
            .iter()
            .filter(|c| c.applies(url))
            .max_by_key(|c| c.path_prefix.len())
    }

    /// GET with redirects checked per hop and transient failures retried. Any status other than
    /// 2xx becomes an error (401/403 → 25 and counted, 404/410 → 27, 5xx after retries → 27).
    ///
    /// The answer's headers must arrive within [`Limits::timeout`] of the call, retries included
    /// (a retry starts only while that budget lasts); the body is bounded by the client's read
    /// timeout and by [`Limits::overall`].
    pub async fn get(&self, url: &Url, accept: Option<&str>, package: &str) -> Result<Fetched> {
        self.get_at(url, accept, package, Instant::now()).await
    }

    /// [`Client::get`] for a request that `started` earlier (a retried download): the overall
    /// limit counts from then.
    async fn get_at(
        &self,
        url: &Url,
        accept: Option<&str>,
        package: &str,
        started: Instant,
    ) -> Result<Fetched> {
        let first_byte_by = Instant::now() + self.limits.timeout;
        let mut attempt = 0;
        loop {
            let left = first_byte_by.saturating_duration_since(Instant::now());
            let once = tokio::time::timeout(left, self.get_once(url, accept, package, started));
            let result = match once.await {
                Ok(r) => r,
                Err(_) => {
                    return Err(Error::Unavailable {
                        package: package.into(),
                        url: redact_url(url.as_str()),
                        detail: self
                            .limits
                            .explain(Limit::FirstByte, &self.host_label(url), 0),
                    })
                }
            };
            match result {
                Err(Retry::Transient(_))
                    if attempt < RETRY_DELAYS_MS.len()
                        && Instant::now() + Duration::from_millis(RETRY_DELAYS_MS[attempt])
                            < first_byte_by.min(started + self.limits.overall) =>
                {
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
        started: Instant,
    ) -> Result<Fetched, Retry> {
        let f = self.follow(url, accept, package, started).await?;
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
        match self
            .follow(url, Some("application/json"), "probe", Instant::now())
            .await
        {
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
        started: Instant,
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
            let overall_left = self.limits.overall.saturating_sub(started.elapsed());
            let resp = self
                .http
                .get(current.clone())
                .headers(headers)
                .timeout(overall_left.max(Duration::from_millis(1)))
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() && !e.is_connect() {
                        // Connected, but the answer's head did not come (the read timeout).
                        return Retry::Fatal(Error::Unavailable {
                            package: package.into(),
                            url: redact_url(current.as_str()),
                            detail: self.limits.explain(
                                Limit::FirstByte,
                                &self.host_label(&current),
                                0,
                            ),
                        });
                    }
                    let mut detail = describe(&e);
                    if e.is_connect() && e.is_timeout() {
                        detail = format!(
                            "hit the connect timeout ({}): {detail}",
                            Limits::secs(self.limits.connect)
                        );
                    }
                    if self.proxies.decide(&current).is_some() {
                        detail = format!("{detail} ({})", self.proxies.describe(&current));
                    }
                    Retry::Transient(detail)
                })?;
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

    /// A small document (packument, index page, metadata), fully read, retried on body errors
    /// (not on a stalled or trickling body: see [`Limits`]).
    pub async fn get_bytes(
        &self,
        url: &Url,
        accept: Option<&str>,
        package: &str,
    ) -> Result<(bytes::Bytes, Url)> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let f = self.get_at(url, accept, package, started).await?;
            let final_url = f.final_url;
            let mut buf = Vec::new();
            let read = self
                .read_body(f.response, &final_url, started, |chunk| {
                    buf.extend_from_slice(chunk);
                    Ok(())
                })
                .await;
            match read {
                Ok(_) => return Ok((buf.into(), final_url)),
                Err(BodyError::Broken(_))
                    if attempt < RETRY_DELAYS_MS.len()
                        && started.elapsed() + Duration::from_millis(RETRY_DELAYS_MS[attempt])
                            < self.limits.overall =>
                {
                    tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt])).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.body_error(e, package, url, attempt + 1)),
            }
        }
    }

    /// The whole body of a response from [`Client::get`], under the stall, transfer-rate and
    /// overall limits (counted from now).
    pub async fn body(&self, f: Fetched, package: &str) -> Result<bytes::Bytes> {
        let mut buf = Vec::new();
        let url = f.final_url;
        self.read_body(f.response, &url, Instant::now(), |chunk| {
            buf.extend_from_slice(chunk);
            Ok(())
        })
        .await
        .map_err(|e| self.body_error(e, package, &url, 1))?;
        Ok(buf.into())
    }

    /// Stream a body into `sink`, enforcing the stall, transfer-rate and overall limits.
    /// Returns the number of bytes read.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        url: &Url,
        started: Instant,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64, BodyError> {
        let limits = self.limits;
        let host = self.host_label(url);
        let hit =
            |limit: Limit, received: u64| BodyError::Limit(limits.explain(limit, &host, received));
        let overall_by = started + limits.overall;
        let need = |window: Duration| (limits.min_rate as f64 * window.as_secs_f64()) as u64;
        let mut total = 0u64;
        let mut window_start = Instant::now();
        let mut in_window = 0u64;
        loop {
            let now = Instant::now();
            if now >= window_start + limits.timeout {
                if in_window < need(limits.timeout) {
                    return Err(hit(
                        if in_window == 0 {
                            Limit::Stalled
                        } else {
                            Limit::Rate
                        },
                        total,
                    ));
                }
                window_start = now;
                in_window = 0;
            }
            let until = (window_start + limits.timeout).min(overall_by);
            match tokio::time::timeout_at(until.into(), resp.chunk()).await {
                Err(_) if Instant::now() >= overall_by => return Err(hit(Limit::Overall, total)),
                Err(_) => continue, // the window's end: checked at the top of the loop
                Ok(Ok(Some(chunk))) => {
                    total += chunk.len() as u64;
                    in_window += chunk.len() as u64;
                    sink(&chunk).map_err(BodyError::Sink)?;
                }
                Ok(Ok(None)) => return Ok(total),
                Ok(Err(e)) if e.is_timeout() => {
                    let limit = if Instant::now() + Duration::from_millis(50) >= overall_by {
                        Limit::Overall
                    } else {
                        Limit::Stalled
                    };
                    return Err(hit(limit, total));
                }
                Ok(Err(e)) => return Err(BodyError::Broken(describe(&e))),
            }
        }
    }

    fn body_error(&self, e: BodyError, package: &str, url: &Url, attempts: usize) -> Error {
        let detail = match e {
            BodyError::Sink(e) => return e,
            BodyError::Limit(detail) => detail,
            BodyError::Broken(detail) => {
                format!("broke off while downloading, {attempts} attempts: {detail}")
            }
        };
        Error::Unavailable {
            package: package.into(),
            url: redact_url(url.as_str()),
            detail,
        }
    }

    /// Download one artifact into the store unless it is already there. Returns the bytes
    /// downloaded (0 for a store hit).
    pub async fn fetch_verified(&self, a: &Artifact, store: &Store) -> Result<u64> {
        if store.contains(&a.digest) {
            return Ok(0);
        }
        match self.fetch_from(a, &a.url, store).await {
            // Only a guess that is not there is worth a second look; a registry that hit a
            // time limit is not asked again.
            Err(Error::Unavailable { detail, .. })
                if a.locate.is_some() && detail.starts_with(NOT_FOUND) =>
            {
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
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.download_once(a, url, store, started).await {
                Ok(n) => return Ok(n),
                Err(BodyError::Broken(_))
                    if attempt < RETRY_DELAYS_MS.len()
                        && started.elapsed() + Duration::from_millis(RETRY_DELAYS_MS[attempt])
                            < self.limits.overall =>
                {
                    tokio::time::sleep(Duration::from_millis(RETRY_DELAYS_MS[attempt])).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.body_error(e, &a.package, url, attempt + 1)),
            }
        }
    }

    async fn download_once(
        &self,
        a: &Artifact,
        url: &Url,
        store: &Store,
        started: Instant,
    ) -> Result<u64, BodyError> {
        let f = self
            .get_at(url, None, &a.package, started)
            .await
            .map_err(BodyError::Sink)?;
        let mut partial = store.begin(&a.digest).map_err(BodyError::Sink)?;
        self.read_body(f.response, &f.final_url, started, |chunk| {
            partial.write(chunk)
        })
        .await?;
        let len = partial.len();
        match partial.commit(store).map_err(BodyError::Sink)? {
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
                Err(BodyError::Sink(Error::Integrity {
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

/// Why reading a body stopped.
enum BodyError {
    /// Reset or truncated: retried.
    Broken(String),
    /// A time limit (the message says which): not retried.
    Limit(String),
    /// Not about the transfer (store, integrity, the request itself): returned as is.
    Sink(Error),
}

/// `host[:port]` for messages about limits.
fn host_label(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => url.as_str().to_string(),
    }
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

/// Download and verify all artifacts concurrently, then re-hash the ones the store already held
/// ([`Store::reverify`]: a mismatch is 23, counted, the file removed); the first error cancels
/// the rest (their partial files are removed as they drop) and is returned.
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
    // What was already in the store (not downloaded by this run) is hashed again before anyone
    // links, copies or serves it: the store re-earns trust on every use.
    store.reverify(
        artifacts
            .iter()
            .map(|a| (&a.digest, a.name.as_str(), a.version.as_str())),
        &client.reporter,
    )?;
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
    fn one_setting_derives_every_limit() {
        let d = Limits::parse(None).unwrap();
        assert_eq!(d, Limits::parse(Some(" ")).unwrap());
        assert_eq!(d.timeout, Duration::from_secs(30));
        assert_eq!(d.connect, Duration::from_secs(10));
        assert_eq!(d.overall, Duration::from_secs(300));
        let short = Limits::parse(Some("2.5")).unwrap();
        assert_eq!(short.connect, Duration::from_millis(2500));
        assert_eq!(short.overall, Duration::from_secs(25));
        for bad in ["0", "-1", "ten", "inf", "NaN", "100000"] {
            let e = Limits::parse(Some(bad)).unwrap_err();
            assert!(e.contains(TIMEOUT_VAR), "{e}");
        }
        let msg = short.explain(Limit::Rate, "registry.example:8443", 12);
        assert!(msg.contains("minimum-transfer-rate") && msg.contains("registry.example:8443"));
        assert!(msg.contains("LOCKGATE_HTTP_TIMEOUT=2.5"), "{msg}");
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
