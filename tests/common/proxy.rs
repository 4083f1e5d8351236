//! `FaultProxy`: a tiny HTTP/1.1 forwarder (std threads) in front of a real registry, for the
//! faults a real server cannot produce on demand: N× an error status, a reset connection, a
//! truncated body, a redirect to another origin or to plain http off loopback, a slow trickle,
//! an answer that never comes. It records every request (method, path, headers) so tests can
//! assert, e.g., that no `Authorization` header reached a redirect target.
//!
//! [`FaultProxy::forward`] starts it as an HTTP forward proxy instead (what `HTTP_PROXY` names):
//! requests arrive in absolute form (`GET http://127.0.0.1:PORT/path`), are recorded with that
//! absolute target as `path` and their `Proxy-Authorization`, and are forwarded to the loopback
//! host they name without the proxy's own headers, as a real proxy does.
//!
//! Requests are forwarded unchanged (including `Host`, so Verdaccio writes the proxy's address
//! into tarball URLs and follow-up downloads come through the proxy too); each connection carries
//! one request (`Connection: close`); responses are re-sent with a `Content-Length`.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::{self, Message};

/// What the proxy does to a request whose path matches its filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward unchanged.
    Pass,
    /// Answer `status` without forwarding, for the next `times` matching requests, then pass.
    Status { status: u16, times: usize },
    /// Read the request, then reset the connection (TCP RST, nothing sent).
    Reset,
    /// Forward, but send only half of the body under the full `Content-Length`, then close.
    Truncate,
    /// Answer `302` with `Location: <to><request path>` (`to` without a trailing slash), e.g.
    /// another proxy's URL (another origin) or `http://203.0.113.1:80` (plain http off loopback;
    /// nothing listens there, and nothing should ever connect).
    Redirect { to: String },
    /// Forward, but send the body `chunk` bytes at a time with `every` in between.
    Trickle { chunk: usize, every: Duration },
    /// Read the request, then answer nothing and keep the connection open (for 10 minutes).
    Hang,
    /// Forward (asking for an unencoded body), and drop the top-level `time` and `modified` of a
    /// JSON answer and the `Last-Modified` header: a registry that publishes no publish times
    /// (several private ones).
    Untimed,
    /// Forward, but answer every JSON request with `200` and an HTML login page instead (a
    /// captive portal or single-sign-on proxy in the way); other answers pass.
    Portal,
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Whether a fault (other than `Pass`) was applied to it.
    pub faulted: bool,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    /// `127.0.0.1:PORT`, or empty for a forward proxy (the request names its target).
    upstream: String,
    fault: Mutex<(Fault, Option<String>)>,
    requests: Mutex<Vec<Recorded>>,
}

/// A running proxy; it lives until the test process ends.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// Proxies every path of `upstream` (`http://127.0.0.1:PORT`, path ignored) with `fault`.
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        Self::start_for(upstream, fault, None)
    }

    /// Like [`FaultProxy::start`], but applies `fault` only to paths containing `path_filter`
    /// (e.g. `".tgz"`, `"/packages/"`, `".jar"`); other requests pass.
    pub fn start_for(upstream: &str, fault: Fault, path_filter: Option<&str>) -> FaultProxy {
        let (host, _) = http::split_url(upstream).expect("upstream is an http:// URL");
        Self::start_with(host.to_string(), fault, path_filter)
    }

    fn start_with(upstream: String, fault: Fault, path_filter: Option<&str>) -> FaultProxy {
        let state = Arc::new(State {
            upstream,
            fault: Mutex::new((fault, path_filter.map(str::to_string))),
            requests: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let shared = Arc::clone(&state);
        thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = Arc::clone(&shared);
                    thread::spawn(move || {
                        let _ = serve(&state, stream);
                    });
                }
            })
            .expect("start the fault proxy thread");
        FaultProxy { url, state }
    }

    /// A forward proxy (see the module doc) applying `fault` to every request.
    pub fn forward(fault: Fault) -> FaultProxy {
        Self::start_with(String::new(), fault, None)
    }

    /// Changes the fault (and keeps the path filter) for requests from now on.
    pub fn set_fault(&self, fault: Fault) {
        self.state.fault.lock().unwrap().0 = fault;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// Picks the fault for one request (counting down `Status { times }`), or `Pass`.
fn take_fault(state: &State, path: &str) -> Fault {
    let mut guard = state.fault.lock().unwrap();
    let (fault, filter) = &mut *guard;
    if filter.as_deref().is_some_and(|f| !path.contains(f)) {
        return Fault::Pass;
    }
    match fault {
        Fault::Status { times: 0, .. } => Fault::Pass,
        Fault::Status { status, times } => {
            *times -= 1;
            Fault::Status {
                status: *status,
                times: 1,
            }
        }
        other => other.clone(),
    }
}

fn serve(state: &State, client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let request = http::read_request(&mut BufReader::new(&client))?;
    let (method, path) = request.method_and_path();
    let fault = take_fault(state, path);
    state.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.to_string(),
        headers: request.headers.clone(),
        faulted: fault != Fault::Pass,
    });
    let mut client = client;
    match fault {
        Fault::Status { status, .. } => {
            let body = format!("fault proxy: injected {status}\n");
            let head = http::response_head(
                &format!("HTTP/1.1 {status} Injected"),
                &[
                    ("Content-Length".into(), body.len().to_string()),
                    ("Connection".into(), "close".into()),
                ],
            );
            client.write_all(head.as_bytes())?;
            client.write_all(body.as_bytes())
        }
        Fault::Reset => {
            reset(&client);
            Ok(())
        }
        Fault::Hang => {
            thread::sleep(Duration::from_secs(600));
            Ok(())
        }
        Fault::Redirect { to } => {
            let head = http::response_head(
                "HTTP/1.1 302 Found",
                &[
                    ("Location".into(), format!("{to}{path}")),
                    ("Content-Length".into(), "0".into()),
                    ("Connection".into(), "close".into()),
                ],
            );
            client.write_all(head.as_bytes())
        }
        Fault::Pass | Fault::Truncate | Fault::Trickle { .. } | Fault::Untimed | Fault::Portal => {
            let identity = matches!(fault, Fault::Untimed | Fault::Portal);
            let mut response = forward(state, &request, identity)?;
            match fault {
                Fault::Untimed => untime(&mut response),
                Fault::Portal => portal(&mut response),
                _ => {}
            }
            if !http::has_body(method, response.status()) {
                let head = http::response_head(&response.start_line, &response.headers);
                return client.write_all(head.as_bytes());
            }
            let mut headers: Vec<(String, String)> = response
                .headers
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-length")
                        && !n.eq_ignore_ascii_case("connection")
                        && !n.eq_ignore_ascii_case("keep-alive")
                })
                .cloned()
                .collect();
            headers.push(("Content-Length".into(), response.body.len().to_string()));
            headers.push(("Connection".into(), "close".into()));
            client.write_all(http::response_head(&response.start_line, &headers).as_bytes())?;
            let body = &response.body;
            match fault {
                Fault::Truncate => {
                    client.write_all(&body[..body.len() / 2])?;
                    client.flush()
                }
                Fault::Trickle { chunk, every } => {
                    for piece in body.chunks(chunk.max(1)) {
                        client.write_all(piece)?;
                        client.flush()?;
                        thread::sleep(every);
                    }
                    Ok(())
                }
                _ => client.write_all(body),
            }
        }
    }
}

/// Replaces a JSON answer with `200` and an HTML login page.
fn portal(response: &mut Message) {
    let json = response
        .header("content-type")
        .is_some_and(|t| t.contains("json"));
    if json {
        response.start_line = "HTTP/1.1 200 OK".into();
        response
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
        response
            .headers
            .push(("Content-Type".into(), "text/html".into()));
        response.body = b"<html><body>Please sign in</body></html>".to_vec();
    }
}

/// Drops the top-level `time` and `modified` of a JSON body, and the `Last-Modified` header.
fn untime(response: &mut Message) {
    response
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("last-modified"));
    if let Ok(serde_json::Value::Object(mut doc)) = serde_json::from_slice(&response.body) {
        doc.remove("time");
        doc.remove("modified");
        response.body = serde_json::to_vec(&doc).expect("serialise a JSON object");
    }
}

/// Sends the request to the upstream with `Connection: close` and reads the whole response
/// (`identity`: without the request's `Accept-Encoding`, so the body arrives unencoded).
/// As a forward proxy: to the loopback host the absolute target names, in origin form, without
/// `Proxy-Authorization`/`Proxy-Connection`.
fn forward(state: &State, request: &Message, identity: bool) -> std::io::Result<Message> {
    let (upstream, start_line) = if state.upstream.is_empty() {
        let (method, target) = request.method_and_path();
        let (host, path) = http::split_url(target)?;
        if !host.starts_with("127.0.0.1:") && !host.starts_with("localhost:") {
            return Err(std::io::Error::other(format!(
                "the test forward proxy only reaches loopback, not {host}"
            )));
        }
        (host.to_string(), format!("{method} {path} HTTP/1.1"))
    } else {
        (state.upstream.clone(), request.start_line.clone())
    };
    let upstream = TcpStream::connect(&upstream)?;
    upstream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{start_line}\r\n");
    for (name, value) in &request.headers {
        let hop = [
            "connection",
            "keep-alive",
            "proxy-authorization",
            "proxy-connection",
        ];
        let encoding = identity && name.eq_ignore_ascii_case("accept-encoding");
        if !encoding && !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut writer = &upstream;
    writer.write_all(head.as_bytes())?;
    writer.write_all(&request.body)?;
    http::read_response(&mut BufReader::new(&upstream), request.method_and_path().0)
}

/// Closes the connection with a TCP RST (SO_LINGER with a zero timeout).
fn reset(stream: &TcpStream) {
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized, initialised option value.
    unsafe {
        nix::libc::setsockopt(
            stream.as_raw_fd(),
            nix::libc::SOL_SOCKET,
            nix::libc::SO_LINGER,
            (&linger as *const nix::libc::linger).cast(),
            std::mem::size_of::<nix::libc::linger>() as nix::libc::socklen_t,
        );
    }
}
