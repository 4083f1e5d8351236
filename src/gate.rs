//! The gate: a loopback HTTP registry that the real tool talks to instead of the network.
//!
//! It listens on 127.0.0.1 on a random port and answers only requests that carry the per-run
//! secret token (as `Bearer <token>` or as the password of Basic auth), so other local users
//! cannot read internal packages through it. What it serves is decided by a [`Route`]: in locked
//! mode only verified files from the store and documents synthesized from the lockfile; in route
//! mode, metadata forwarded from the one source each name may come from.
//!
//! The gate is also the real tool's only proxy ([`crate::handoff::Env::confine_to`]): a proxied
//! request for the gate itself is served as usual, every other one (`CONNECT host:443`, `GET
//! http://elsewhere/…`) is refused with 403 and recorded, so a URL the real tool tries to fetch on
//! its own fails closed and lockgate can name it ([`Gate::direct_attempts`]) — except URLs a
//! policy's `unsafe-*` key allows ([`Gate::allow_direct`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use reqwest::Url;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::error::{Error, Result, Secret};

/// What the gate passes to a route (GET or HEAD only): the raw, still percent-encoded path and
/// the headers.
pub struct GateRequest {
    pub path: String,
    pub headers: hyper::HeaderMap,
}

/// Set by the gate (a client-sent one is removed) on requests authorised with the *build* token
/// ([`Gate::add_build_token`]) rather than the run token.
pub const BUILD_SCOPE_HEADER: &str = "x-lockgate-build-scope";

impl GateRequest {
    /// Whether the request came with the build token: what runs inside builds (pip's
    /// build-dependency install, a package's setup code) holds only that one.
    pub fn build_scope(&self) -> bool {
        self.headers.contains_key(BUILD_SCOPE_HEADER)
    }
}

/// What a route answers.
pub enum Reply {
    /// A verified file from the store.
    File {
        path: PathBuf,
        content_type: &'static str,
    },
    /// A document built in memory (synthesized packument, index page, rewritten metadata).
    Bytes {
        status: u16,
        content_type: String,
        body: Bytes,
    },
    /// An upstream response streamed through unchanged (route mode).
    Upstream(reqwest::Response),
    /// Anything the gate will not serve.
    NotFound(String),
}

impl Reply {
    pub fn json(body: impl Into<Bytes>) -> Reply {
        Reply::Bytes {
            status: 200,
            content_type: "application/json".into(),
            body: body.into(),
        }
    }
}

/// Decides what each authenticated request gets.
pub trait Route: Send + Sync + 'static {
    fn handle(&self, req: GateRequest) -> impl Future<Output = Reply> + Send;
}

/// A gate: bound to a loopback port first (so routes can know its URL), then serving. It stops
/// when dropped.
pub struct Gate {
    addr: SocketAddr,
    token: Secret,
    /// A second, weaker token for what runs inside builds; routes see [`GateRequest::build_scope`].
    build_token: Option<Secret>,
    /// What the policy lets the real tool fetch itself through the proxy.
    pass: PassThrough,
    listener: Option<TcpListener>,
    accept_loop: Option<tokio::task::JoinHandle<()>>,
    direct: Arc<Mutex<Vec<String>>>,
}

/// A route that serves nothing: the gate of a hand-off that needs no registry (pip's locked
/// install from a directory), kept only as the proxy that refuses everything.
pub struct Nothing;

impl Route for Nothing {
    async fn handle(&self, _req: GateRequest) -> Reply {
        Reply::NotFound("this run serves no packages".into())
    }
}

impl Gate {
    pub async fn bind() -> Result<Gate> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Error::config(
                format!("cannot open the loopback gate: {e}"),
                "check that 127.0.0.1 is usable",
            )
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::config(
                format!("cannot read the gate's address: {e}"),
                "check that 127.0.0.1 is usable",
            )
        })?;
        Ok(Gate {
            addr,
            token: Secret::new(random_token()?),
            build_token: None,
            pass: PassThrough::default(),
            listener: Some(listener),
            accept_loop: None,
            direct: Arc::default(),
        })
    }

    /// A gate that serves nothing: only the refusing proxy.
    pub async fn refusing() -> Result<Gate> {
        let mut g = Gate::bind().await?;
        g.serve(Arc::new(Nothing));
        Ok(g)
    }

    /// Hosts the real tool tried to reach through the proxy other than the gate (each once, in
    /// order), all refused.
    pub fn direct_attempts(&self) -> Vec<String> {
        self.direct.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// An error naming the hosts the real tool tried to reach directly, if any.
    pub fn direct_error(&self, tool: &str) -> Option<Error> {
        let hosts = self.direct_attempts();
        if hosts.is_empty() {
            return None;
        }
        Some(Error::Insecure {
            package: tool.to_string(),
            url: hosts.join(", "),
            reason: format!(
                "{tool} tried to download from there itself, outside lockgate's verified path, and was refused; a dependency names a URL of its own (direct URL, git or tarball dependency, or a `resolved` host)"
            ),
        })
    }

    /// Also accept a second token whose requests routes can tell apart
    /// ([`GateRequest::build_scope`]); call before [`Gate::serve`].
    pub fn add_build_token(&mut self) -> Result<&Secret> {
        Ok(self.build_token.insert(Secret::new(random_token()?)))
    }

    pub fn build_token(&self) -> Option<&Secret> {
        self.build_token.as_ref()
    }

    /// Let the real tool fetch these URLs itself through the proxy (a policy's `unsafe-*`
    /// allowance; unverified): plain http exactly these URLs, https their `host:port` (a CONNECT
    /// tunnel cannot see the path). Call before [`Gate::serve`].
    pub fn allow_direct(&mut self, urls: &[Url]) {
        for u in urls {
            let mut u = u.clone();
            u.set_fragment(None);
            // `git+https://…` is fetched by git over https: its host is tunnelled.
            let scheme = u.scheme().trim_start_matches("git+").to_string();
            match (scheme.as_str(), u.host_str()) {
                ("http", Some(_)) if u.scheme() == "http" => self.pass.http.push(u),
                ("https", Some(h)) => {
                    let port = u.port().unwrap_or(443);
                    self.pass.https.push(format!("{h}:{port}"));
                }
                _ => {}
            }
        }
    }

    /// Start answering requests with `route`.
    pub fn serve<R: Route>(&mut self, route: Arc<R>) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let expected = Arc::new((self.token.clone(), self.build_token.clone()));
        let own = self.addr;
        let direct = self.direct.clone();
        let pass = Arc::new(std::mem::take(&mut self.pass));
        self.accept_loop = Some(tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) if is_connection_error(&e) => continue,
                    Err(_) => {
                        // Not about one connection (EMFILE, ENFILE, ENOBUFS, ENOMEM): accepting
                        // again at once would spin. Wait as hyper 0.14 and axum do.
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if !peer.ip().is_loopback() {
                    continue;
                }
                let route = route.clone();
                let expected = expected.clone();
                let direct = direct.clone();
                let pass = pass.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let route = route.clone();
                        let expected = expected.clone();
                        let direct = direct.clone();
                        let pass = pass.clone();
                        async move {
                            let mut req = req;
                            if let Some(passed) = pass.through(&mut req).await {
                                return Ok::<_, Infallible>(passed);
                            }
                            if let Some(refused) = refuse_proxied(&req, own, &direct) {
                                return Ok::<_, Infallible>(refused);
                            }
                            Ok::<_, Infallible>(serve(&*route, &expected, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        }));
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr)).expect("a socket address makes a URL")
    }

    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The nerf-darted key npm reads the gate token from: `//127.0.0.1:PORT/:_authToken`.
    pub fn npm_token_key(&self) -> String {
        format!("//{}/:_authToken", self.addr)
    }
}

/// How long the accept loop waits after an error that is not about one connection.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// Accept errors that concern only the connection being accepted: try the next one at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(h) = &self.accept_loop {
            h.abort();
        }
    }
}

type Body = BoxBody<Bytes, std::io::Error>;

/// Proxied requests the policy allows ([`Gate::allow_direct`]).
#[derive(Default)]
struct PassThrough {
    http: Vec<Url>,
    /// `host:port` of allowed https URLs.
    https: Vec<String>,
}

impl PassThrough {
    /// The response for an allowed proxied request: an http GET/HEAD forwarded, or a CONNECT
    /// tunnel opened; None for anything else (which goes on to be refused or served).
    async fn through(&self, req: &mut Request<Incoming>) -> Option<Response<Body>> {
        if self.http.is_empty() && self.https.is_empty() {
            return None;
        }
        if req.method() == Method::CONNECT {
            let authority = req.uri().authority()?.as_str().to_string();
            if !self.https.contains(&authority) {
                return None;
            }
            let upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                if let (Ok(up), Ok(mut server)) = (
                    upgrade.await,
                    tokio::net::TcpStream::connect(authority.as_str()).await,
                ) {
                    let mut client = TokioIo::new(up);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
            return Some(Response::new(
                Full::new(Bytes::new()).map_err(|e| match e {}).boxed(),
            ));
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return None;
        }
        let url = Url::parse(&req.uri().to_string()).ok()?;
        if !self.http.contains(&url) {
            return None;
        }
        let client = reqwest::Client::builder().no_proxy().build().ok()?;
        Some(
            match client.request(req.method().clone(), url).send().await {
                Ok(up) => upstream_response(up),
                Err(e) => text(StatusCode::BAD_GATEWAY, &format!("lockgate gate: {e}\n")),
            },
        )
    }
}

/// A proxied request for anything but the gate itself: recorded and refused (403).
fn refuse_proxied(
    req: &Request<Incoming>,
    own: SocketAddr,
    direct: &Mutex<Vec<String>>,
) -> Option<Response<Body>> {
    let authority = req.uri().authority()?.as_str().to_string();
    let for_gate = req.method() != Method::CONNECT
        && req
            .uri()
            .host()
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            == Some(own.ip())
        && req.uri().port_u16() == Some(own.port());
    if for_gate {
        return None;
    }
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(&authority)
        .to_string();
    if let Ok(mut d) = direct.lock() {
        if !d.contains(&host) {
            d.push(host.clone());
        }
    }
    Some(text(
        StatusCode::FORBIDDEN,
        &format!("lockgate gate: direct access to {host} is refused; only verified packages are served\n"),
    ))
}

async fn serve<R: Route>(
    route: &R,
    tokens: &(Secret, Option<Secret>),
    req: Request<Incoming>,
) -> Response<Body> {
    let (token, build_token) = tokens;
    let presented = req.headers().get(AUTHORIZATION);
    let full = authorized(presented, token);
    let build = !full
        && build_token
            .as_ref()
            .is_some_and(|b| authorized(presented, b));
    if !full && !build {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "lockgate gate: missing or wrong token\n",
        );
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lockgate\""),
        );
        return r;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "lockgate gate: read-only\n");
    }
    let head = req.method() == Method::HEAD;
    let mut headers = req.headers().clone();
    headers.remove(BUILD_SCOPE_HEADER);
    if build {
        headers.insert(BUILD_SCOPE_HEADER, HeaderValue::from_static("1"));
    }
    let greq = GateRequest {
        path: req.uri().path().to_string(),
        headers,
    };
    let resp = match route.handle(greq).await {
        Reply::File { path, content_type } => file_response(&path, content_type).await,
        Reply::Bytes {
            status,
            content_type,
            body,
        } => {
            let mut r = Response::new(Full::new(body).map_err(|e| match e {}).boxed());
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(CONTENT_TYPE, v);
            }
            r
        }
        Reply::Upstream(up) => upstream_response(up),
        Reply::NotFound(why) => text(StatusCode::NOT_FOUND, &format!("lockgate gate: {why}\n")),
    };
    if head {
        let (parts, _) = resp.into_parts();
        return Response::from_parts(
            parts,
            Full::new(Bytes::new()).map_err(|e| match e {}).boxed(),
        );
    }
    resp
}

fn authorized(h: Option<&HeaderValue>, token: &Secret) -> bool {
    let Some(v) = h.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let presented = if let Some(t) = v.strip_prefix("Bearer ") {
        t.trim().to_string()
    } else if let Some(b) = v.strip_prefix("Basic ") {
        use base64::Engine as _;
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b.trim()) else {
            return false;
        };
        let s = String::from_utf8_lossy(&raw).into_owned();
        match s.split_once(':') {
            Some((_, pw)) => pw.to_string(),
            None => return false,
        }
    } else {
        return false;
    };
    constant_time_eq(presented.as_bytes(), token.expose().as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(msg.to_string()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn file_response(path: &std::path::Path, content_type: &'static str) -> Response<Body> {
    // Store paths are checked when re-verified; a link swapped in since is not followed.
    let file = match tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            return text(
                StatusCode::NOT_FOUND,
                &format!("lockgate gate: verified file missing: {e}\n"),
            )
        }
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(len) = len {
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

fn upstream_response(up: reqwest::Response) -> Response<Body> {
    let status = up.status().as_u16();
    let ct = up.headers().get(CONTENT_TYPE).cloned();
    let len = up.content_length();
    let stream = futures_util::stream::unfold(up, |mut up| async move {
        match up.chunk().await {
            Ok(Some(c)) => Some((Ok(Frame::data(c)), up)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e)), up)),
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(ct) = ct {
        r.headers_mut().insert(CONTENT_TYPE, ct);
    }
    if let Some(len) = len {
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// 32 random bytes from the kernel, hex-encoded.
fn random_token() -> Result<String> {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .map_err(|e| Error::io("read random bytes from", "/dev/urandom", e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Decode `%XX` escapes in a request path (`@scope%2fname` → `@scope/name`).
pub fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Route for Echo {
        async fn handle(&self, req: GateRequest) -> Reply {
            if req.path == "/missing" {
                return Reply::NotFound("no".into());
            }
            Reply::json(format!("{{\"path\":\"{}\"}}", req.path))
        }
    }

    struct Scope;
    impl Route for Scope {
        async fn handle(&self, req: GateRequest) -> Reply {
            Reply::json(if req.build_scope() { "build" } else { "full" })
        }
    }

    #[tokio::test]
    async fn the_build_token_is_told_apart_and_cannot_be_forged() {
        let mut gate = Gate::bind().await.unwrap();
        let build = gate.add_build_token().unwrap().clone();
        gate.serve(Arc::new(Scope));
        let c = reqwest::Client::new();
        let url = gate.url().join("x").unwrap();
        let get = |token: &str, forged: bool| {
            let mut r = c.get(url.clone()).basic_auth("u", Some(token));
            if forged {
                r = r.header(BUILD_SCOPE_HEADER, "1");
            }
            r.send()
        };
        let full = get(gate.token().expose(), true).await.unwrap();
        assert_eq!(full.text().await.unwrap(), "full");
        let b = get(build.expose(), false).await.unwrap();
        assert_eq!(b.text().await.unwrap(), "build");
        assert_eq!(get("nope", true).await.unwrap().status(), 401);
    }

    #[tokio::test]
    async fn only_allowed_urls_pass_the_proxy() {
        let mut upstream = Gate::bind().await.unwrap();
        upstream.serve(Arc::new(Echo));
        let allowed = upstream.url().join("x").unwrap();
        let mut gate = Gate::bind().await.unwrap();
        gate.allow_direct(std::slice::from_ref(&allowed));
        gate.serve(Arc::new(Echo));
        let via = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(gate.url().as_str()).unwrap())
            .build()
            .unwrap();
        // Forwarded: the upstream itself answers (it wants its own token).
        let passed = via.get(allowed).send().await.unwrap();
        assert_eq!(passed.status(), 401);
        let other = via
            .get(upstream.url().join("y").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 403);
        assert_eq!(gate.direct_attempts(), [upstream.url().authority()]);
    }

    #[test]
    fn only_per_connection_accept_errors_skip_the_back_off() {
        use std::io::{Error, ErrorKind};
        assert!(is_connection_error(&Error::from(
            ErrorKind::ConnectionAborted
        )));
        assert!(is_connection_error(&Error::from(
            ErrorKind::ConnectionReset
        )));
        // EMFILE / ENFILE / ENOMEM: the loop must wait instead of spinning.
        for errno in [24, 23, 12, 105] {
            assert!(
                !is_connection_error(&Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
    }

    #[test]
    fn decodes_scoped_names() {
        assert_eq!(percent_decode("/@myorg%2fa"), "/@myorg/a");
        assert_eq!(percent_decode("/@myorg%2Fa"), "/@myorg/a");
        assert_eq!(percent_decode("/a%"), "/a%");
        assert_eq!(percent_decode("/a%2"), "/a%2");
        assert_eq!(percent_decode("/a%zz"), "/a%zz");
    }

    #[tokio::test]
    async fn requires_the_run_token() {
        let mut gate = Gate::bind().await.unwrap();
        gate.serve(Arc::new(Echo));
        let c = reqwest::Client::new();
        let url = gate.url().join("x").unwrap();
        assert_eq!(c.get(url.clone()).send().await.unwrap().status(), 401);
        let wrong = c.get(url.clone()).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let ok = c
            .get(url.clone())
            .bearer_auth(gate.token().expose())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "{\"path\":\"/x\"}");
        let basic = c
            .get(url)
            .basic_auth("lockgate", Some(gate.token().expose()))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 200);
        let nf = c
            .get(gate.url().join("missing").unwrap())
            .bearer_auth(gate.token().expose())
            .send()
            .await
            .unwrap();
        assert_eq!(nf.status(), 404);
        let post = c
            .post(gate.url())
            .bearer_auth(gate.token().expose())
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 405);
    }
}
