//! A tiny blocking HTTP/1.1 client and message parser for the harness (std only): readiness
//! checks, Verdaccio's user API, "anonymous read gets 401" assertions, and the fault proxy's
//! upstream side. Plain `http://` on loopback only; one request per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;

/// A request or response head plus body.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start_line: String,
    /// Header names as sent; look them up with [`Message::header`].
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response (0 when the start line is not a status line).
    pub fn status(&self) -> u16 {
        self.start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The method and path of a request.
    pub fn method_and_path(&self) -> (&str, &str) {
        let mut parts = self.start_line.split(' ');
        (parts.next().unwrap_or(""), parts.next().unwrap_or(""))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `Basic base64(user:pass)`, for an `Authorization` header.
pub fn basic_auth(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

/// GET without credentials.
pub fn get(url: &str) -> io::Result<Message> {
    request("GET", url, &[], b"")
}

/// Sends one request to an `http://host:port/path` URL and reads the whole response.
/// `Content-Length`, `Host` and `Connection: close` are added.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Message> {
    let (host, path) = split_url(url)?;
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(&mut BufReader::new(stream), method)
}

/// `http://host:port/path?q` → (`host:port`, `/path?q`).
pub fn split_url(url: &str) -> io::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("not an http:// URL: {url}")))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads a start line and headers, up to the blank line.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<Message> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a message",
        ));
    }
    let mut message = Message {
        start_line: line.trim_end().to_string(),
        ..Message::default()
    };
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            return Ok(message);
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line: {header}")))?;
        message
            .headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// Reads a request (body by `Content-Length`; chunked request bodies are not supported).
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Message> {
    let mut message = read_head(reader)?;
    if message.header("transfer-encoding").is_some() {
        return Err(invalid("chunked request bodies are not supported".into()));
    }
    let len = content_length(&message)?.unwrap_or(0);
    message.body = vec![0; len];
    reader.read_exact(&mut message.body)?;
    Ok(message)
}

/// Reads the response to a `method` request sent with `Connection: close`: no body for HEAD,
/// 1xx, 204 and 304; else the body by chunked encoding (decoded, and the header removed), by
/// `Content-Length`, or up to EOF.
pub fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Message> {
    let mut message = read_head(reader)?;
    if !has_body(method, message.status()) {
        return Ok(message);
    }
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        message.body = read_chunked(reader)?;
        message
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("transfer-encoding"));
    } else if let Some(len) = content_length(&message)? {
        message.body = vec![0; len];
        reader.read_exact(&mut message.body)?;
    } else {
        reader.read_to_end(&mut message.body)?;
    }
    Ok(message)
}

/// Whether a response to `method` with `status` carries a body (RFC 9110 §6.4.1).
pub fn has_body(method: &str, status: u16) -> bool {
    !(method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304)
}

fn content_length(message: &Message) -> io::Result<Option<usize>> {
    message
        .header("content-length")
        .map(|v| {
            v.parse()
                .map_err(|_| invalid(format!("bad Content-Length: {v}")))
        })
        .transpose()
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size_text = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size: {line:?}")))?;
        if size == 0 {
            // Trailers (none expected) up to the blank line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?; // CRLF after the chunk
    }
}

/// Serialises a response head with the given status line and headers.
pub fn response_head(start_line: &str, headers: &[(String, String)]) -> String {
    let mut head = format!("{start_line}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunked_response_and_drops_the_header() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
        let msg = read_response(&mut &raw[..], "GET").unwrap();
        assert_eq!(msg.status(), 200);
        assert_eq!(msg.body, b"Wikipedia");
        assert_eq!(msg.header("transfer-encoding"), None);
        assert_eq!(msg.header("x-a"), Some("b"));
    }

    #[test]
    fn head_response_has_no_body_despite_content_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        let msg = read_response(&mut &raw[..], "HEAD").unwrap();
        assert_eq!(msg.header("content-length"), Some("10"));
        assert!(msg.body.is_empty());
        assert!(read_response(&mut &raw[..], "GET").is_err());
    }

    #[test]
    fn reads_request_with_body_and_splits_urls() {
        let raw = b"PUT /-/user/org.couchdb.user:a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let msg = read_request(&mut &raw[..]).unwrap();
        assert_eq!(msg.method_and_path(), ("PUT", "/-/user/org.couchdb.user:a"));
        assert_eq!(msg.body, b"{}");
        assert_eq!(
            split_url("http://127.0.0.1:80/a?b").unwrap(),
            ("127.0.0.1:80", "/a?b")
        );
        assert_eq!(split_url("http://h:1").unwrap(), ("h:1", "/"));
        assert!(split_url("https://h/").is_err());
    }

    #[test]
    fn basic_auth_matches_rfc7617_example() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
