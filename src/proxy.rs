//! Which proxy, if any, each of lockgate's own requests goes through — decided per URL, the way
//! the wrapped tool would decide it, because reqwest 0.13 ignores `no_proxy` on a custom proxy.
//!
//! Three readings, one per ecosystem, all pure (the caller passes the environment and the tool's
//! settings):
//! - [`Proxies::from_env`] (npm's fallback and `lockgate doctor`): curl's variables. For a URL of
//!   scheme `S`: `s_proxy`, then `S_PROXY` (for `http` the upper-case `HTTP_PROXY` only outside
//!   CGI, as Go and reqwest do: `REQUEST_METHOD` set means a client may have sent a `Proxy:`
//!   header), then `all_proxy`/`ALL_PROXY`; `no_proxy`/`NO_PROXY` as [`NoProxy`] reads it.
//! - [`Proxies::for_npm`]: npm's `https-proxy`, else `proxy`, for every URL (npm-registry-fetch
//!   passes `httpsProxy || proxy`); else the environment as `@npmcli/agent` reads it (https →
//!   `https_proxy`; http → `https_proxy || http_proxy || proxy`); npm's `noproxy`, else `no_proxy`.
//! - [`Proxies::for_pip`]: pip's `--proxy` goes into `session.proxies` for http and https, which
//!   requests uses even for hosts `no_proxy` names; without it, the environment as requests reads
//!   it (curl's rules; `no_proxy` honoured).
//! - [`Proxies::for_maven`]: the first active `<proxy>` of settings.xml per protocol, an `http`
//!   proxy also serving `https` repositories when there is no `https` one, and its
//!   `nonProxyHosts` (`|`-separated globs, case-insensitive, whole host), as maven-resolver's
//!   `DefaultProxySelector` does. Maven ignores the environment, so lockgate does too.
//!
//! A proxy URL without a scheme is `http://` (curl, pip). Its userinfo becomes the
//! `Proxy-Authorization` that reqwest sends to the proxy alone; [`Proxies::describe`] never shows
//! it. The loopback gate is never reached through a proxy: lockgate's client never asks it for
//! anything, and [`child_no_proxy`] adds loopback to the `NO_PROXY` the real tool inherits.

use std::net::IpAddr;

use reqwest::Url;
use url::Host;

/// One `NO_PROXY` list, read as curl (≥ 7.86) reads it: entries separated by commas or
/// whitespace; `*` alone bypasses every host; a name matches itself and its subdomains (a
/// leading dot is ignored: `.corp.example` and `corp.example` both match `corp.example` and
/// `npm.corp.example`; `*.corp.example` too, as Go reads it); an IP address matches only itself,
/// `10.0.0.0/8`-style CIDR matches a range; `host:port` (and `[v6]:port`) limits an entry to one
/// port, as Go and Python allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Name { name: String, port: Option<u16> },
    Ip { addr: IpAddr, port: Option<u16> },
    Cidr { net: IpAddr, prefix: u8 },
}

impl NoProxy {
    pub fn parse(list: &str) -> NoProxy {
        let mut n = NoProxy::default();
        for raw in list.split(|c: char| c == ',' || c.is_whitespace()) {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                n.all = true;
                continue;
            }
            if let Some(entry) = Entry::parse(item) {
                n.entries.push(entry);
            }
        }
        n
    }

    /// Whether requests to `host` (a name or an IP, brackets allowed) on `port` go direct.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.entries.iter().any(|e| match (e, ip) {
            (Entry::Name { name, port: p }, None) => {
                p.is_none_or(|p| p == port)
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            (Entry::Ip { addr, port: p }, Some(ip)) => {
                p.is_none_or(|p| p == port) && canonical(*addr) == canonical(ip)
            }
            (Entry::Cidr { net, prefix }, Some(ip)) => in_cidr(canonical(ip), *net, *prefix),
            _ => false,
        })
    }
}

impl Entry {
    fn parse(item: &str) -> Option<Entry> {
        let item = item.to_ascii_lowercase();
        if let Some((net, bits)) = item.split_once('/') {
            let net: IpAddr = net.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
            let prefix: u8 = bits.parse().ok()?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            return (prefix <= max).then_some(Entry::Cidr {
                net: canonical(net),
                prefix,
            });
        }
        // `[v6]`, `[v6]:port`, a bare v6 address, `v4[:port]`, `name[:port]`.
        if let Some(rest) = item.strip_prefix('[') {
            let (addr, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().ok()?),
                None if after.is_empty() => None,
                None => return None,
            };
            return Some(Entry::Ip {
                addr: addr.parse().ok()?,
                port,
            });
        }
        if let Ok(addr) = item.parse::<IpAddr>() {
            return Some(Entry::Ip { addr, port: None });
        }
        let (host, port) = match item.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (item.as_str(), None),
        };
        if let Ok(addr) = host.parse::<IpAddr>() {
            return Some(Entry::Ip { addr, port });
        }
        let name = host.trim_start_matches('.').trim_start_matches("*.");
        let name = name.strip_suffix('.').unwrap_or(name);
        (!name.is_empty()).then(|| Entry::Name {
            name: name.to_string(),
            port,
        })
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if prefix == 0 {
        return true;
    }
    let shift = width - u32::from(prefix);
    (a >> shift) == (b >> shift)
}

/// maven-resolver's `nonProxyHosts`: `|`-separated globs (`*` any run of characters),
/// case-insensitive, matched against the whole host.
fn maven_glob_matches(patterns: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    patterns
        .split('|')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .any(|p| glob(p.as_bytes(), host.as_bytes()))
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// How a URL's host is matched against the bypass list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    /// Nothing bypasses the proxy (pip's `--proxy`).
    None,
    Curl(NoProxy),
    /// `nonProxyHosts` of the proxy in use.
    Maven,
}

/// A proxy and the setting it came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub url: Url,
    pub source: String,
    /// Maven only: this proxy's `nonProxyHosts`.
    non_proxy_hosts: String,
}

/// Where each request goes: direct, or through one proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxies {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    bypass: Bypass,
}

/// A proxy setting lockgate cannot use; the message names the setting, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxy {
    pub source: String,
    pub why: String,
}

impl std::fmt::Display for BadProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the proxy in {} {}", self.source, self.why)
    }
}

impl From<BadProxy> for crate::error::Error {
    fn from(e: BadProxy) -> Self {
        crate::error::Error::config(
            e.to_string(),
            "fix or unset that proxy setting (lockgate reads the proxy settings the wrapped tool reads)",
        )
    }
}

/// One `<proxy>` of Maven's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MavenProxy {
    pub id: String,
    pub active: bool,
    pub protocol: String,
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub non_proxy_hosts: String,
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `lower` then `UPPER` (the first set and non-empty wins), with the name it came from.
fn either_case(env: Env, lower: &str) -> Option<(String, String)> {
    let upper = lower.to_ascii_uppercase();
    nonempty(env(lower))
        .map(|v| (v, lower.to_string()))
        .or_else(|| nonempty(env(&upper)).map(|v| (v, upper)))
}

fn parse_proxy(value: &str, source: &str) -> Result<ProxyUrl, BadProxy> {
    let bad = |why: String| BadProxy {
        source: source.to_string(),
        why,
    };
    let text = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&text).map_err(|e| bad(format!("is not a URL ({e})")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad(format!(
            "uses `{}://`; lockgate supports http:// and https:// proxies",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host".into()));
    }
    Ok(ProxyUrl {
        url,
        source: source.to_string(),
        non_proxy_hosts: String::new(),
    })
}

impl Proxies {
    /// curl's environment variables (see the module doc).
    pub fn from_env(env: Env) -> Result<Proxies, BadProxy> {
        let all = either_case(env, "all_proxy");
        let https = either_case(env, "https_proxy").or_else(|| all.clone());
        let cgi = nonempty(env("REQUEST_METHOD")).is_some();
        let http = nonempty(env("http_proxy"))
            .map(|v| (v, "http_proxy".to_string()))
            .or_else(|| {
                (!cgi)
                    .then(|| nonempty(env("HTTP_PROXY")).map(|v| (v, "HTTP_PROXY".to_string())))
                    .flatten()
            })
            .or(all);
        let no =
            either_case(env, "no_proxy").map_or_else(NoProxy::default, |(v, _)| NoProxy::parse(&v));
        Ok(Proxies {
            http: http.map(|(v, s)| parse_proxy(&v, &s)).transpose()?,
            https: https.map(|(v, s)| parse_proxy(&v, &s)).transpose()?,
            bypass: Bypass::Curl(no),
        })
    }

    /// npm's `https-proxy`, `proxy` and `noproxy` settings over the environment.
    pub fn for_npm(
        https_proxy: Option<&str>,
        proxy: Option<&str>,
        noproxy: Option<&str>,
        env: Env,
    ) -> Result<Proxies, BadProxy> {
        fn set(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty() && *v != "false")
        }
        let configured = set(https_proxy)
            .map(|v| (v, "npm's `https-proxy` setting"))
            .or_else(|| set(proxy).map(|v| (v, "npm's `proxy` setting")));
        let lower = |k: &str| {
            // @npmcli/agent lower-cases every variable name; the last one in the environment
            // wins there, lockgate prefers the lower-case spelling.
            either_case(env, k)
        };
        let (http, https) = match configured {
            Some((v, s)) => {
                let p = parse_proxy(v, s)?;
                (Some(p.clone()), Some(p))
            }
            None => {
                let https = lower("https_proxy");
                let http = https
                    .clone()
                    .or_else(|| lower("http_proxy"))
                    .or_else(|| lower("proxy"));
                (
                    http.map(|(v, s)| parse_proxy(&v, &s)).transpose()?,
                    https.map(|(v, s)| parse_proxy(&v, &s)).transpose()?,
                )
            }
        };
        let no = set(noproxy)
            .map(str::to_string)
            .or_else(|| lower("no_proxy").map(|(v, _)| v))
            .map_or_else(NoProxy::default, |v| NoProxy::parse(&v));
        Ok(Proxies {
            http,
            https,
            bypass: Bypass::Curl(no),
        })
    }

    /// pip's `--proxy` (for every URL, whatever `no_proxy` says), else the environment.
    pub fn for_pip(proxy: Option<&str>, env: Env) -> Result<Proxies, BadProxy> {
        match proxy.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => {
                let p = parse_proxy(v, "pip's --proxy")?;
                Ok(Proxies {
                    http: Some(p.clone()),
                    https: Some(p),
                    bypass: Bypass::None,
                })
            }
            None => Proxies::from_env(env),
        }
    }

    /// Maven's `<proxies>` (see the module doc).
    pub fn for_maven(proxies: &[MavenProxy]) -> Result<Proxies, BadProxy> {
        let mut out = Proxies {
            http: None,
            https: None,
            bypass: Bypass::Maven,
        };
        for p in proxies.iter().filter(|p| p.active) {
            let protocol = if p.protocol.trim().is_empty() {
                "http".to_string()
            } else {
                p.protocol.trim().to_ascii_lowercase()
            };
            let source = format!("Maven's settings (proxy `{}`)", p.id);
            let mut url = parse_proxy(
                &format!("http://{}:{}", p.host.trim(), p.port.unwrap_or(8080)),
                &source,
            )?;
            if let Some(user) = p.username.as_deref().filter(|u| !u.is_empty()) {
                let _ = url.url.set_username(user);
                let _ = url.url.set_password(p.password.as_deref());
            }
            url.non_proxy_hosts = p.non_proxy_hosts.clone();
            let slot = match protocol.as_str() {
                "http" => &mut out.http,
                "https" => &mut out.https,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(url);
            }
        }
        if out.https.is_none() {
            out.https = out.http.clone();
        }
        Ok(out)
    }

    /// The proxy for `url`, or `None` to connect directly.
    pub fn decide(&self, url: &Url) -> Option<&ProxyUrl> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref(),
            "http" => self.http.as_ref(),
            _ => None,
        }?;
        let host = match url.host()? {
            Host::Domain(d) => d.to_string(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        let port = url.port_or_known_default().unwrap_or(0);
        let bypass = match &self.bypass {
            Bypass::None => false,
            Bypass::Curl(no) => no.matches(&host, port),
            Bypass::Maven => maven_glob_matches(&proxy.non_proxy_hosts, &host),
        };
        (!bypass).then_some(proxy)
    }

    pub fn is_direct(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// For messages: where requests go, without credentials.
    pub fn describe(&self, url: &Url) -> String {
        match self.decide(url) {
            Some(p) => format!(
                "through the proxy {} (from {})",
                crate::error::redact_url(p.url.as_str()),
                p.source
            ),
            None => "directly".into(),
        }
    }
}

/// The variables a real-tool child gets so that it reaches the loopback gate directly:
/// `NO_PROXY`/`no_proxy` and npm's `npm_config_noproxy` (which beats the variable and every
/// npmrc), each the list the child would have used plus loopback. `current` reads the child's
/// environment as it stands.
pub fn child_env(current: &dyn Fn(&str) -> Option<String>) -> [(&'static str, String); 3] {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| current(n).filter(|v| !v.trim().is_empty()))
    };
    let no_proxy = child_no_proxy(first(&["no_proxy", "NO_PROXY"]).as_deref());
    let npm = child_no_proxy(
        first(&[
            "npm_config_noproxy",
            "NPM_CONFIG_NOPROXY",
            "no_proxy",
            "NO_PROXY",
        ])
        .as_deref(),
    );
    [
        ("NO_PROXY", no_proxy.clone()),
        ("no_proxy", no_proxy),
        ("npm_config_noproxy", npm),
    ]
}

/// A `NO_PROXY` list plus `127.0.0.1`, `localhost` and `::1` (unchanged when it already bypasses
/// everything).
fn child_no_proxy(existing: Option<&str>) -> String {
    let existing = existing.map(str::trim).unwrap_or_default();
    if existing == "*" {
        return existing.to_string();
    }
    let mut items: Vec<&str> = existing
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for l in ["127.0.0.1", "localhost", "::1"] {
        if !items.contains(&l) {
            items.push(l);
        }
    }
    items.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn via(p: &Proxies, url: &str) -> Option<String> {
        p.decide(&u(url)).map(|p| p.url.to_string())
    }

    #[test]
    fn no_proxy_names_match_themselves_and_subdomains() {
        let n = NoProxy::parse("corp.example, .internal.example other.example.");
        assert!(n.matches("corp.example", 443));
        assert!(n.matches("npm.corp.example", 443));
        assert!(n.matches("NPM.Corp.Example.", 443));
        assert!(!n.matches("notcorp.example", 443));
        assert!(!n.matches("corp.example.evil", 443));
        assert!(n.matches("internal.example", 80));
        assert!(n.matches("a.b.internal.example", 80));
        assert!(n.matches("other.example", 80));
        assert!(!n.matches("example", 80));
    }

    #[test]
    fn no_proxy_star_ports_ips_and_cidr() {
        assert!(NoProxy::parse("*").matches("anything.example", 1));
        assert!(NoProxy::parse("a.example, *").matches("b.example", 1));
        // `*.corp.example`: a leading wildcard read as the domain (Go strips it; curl has none).
        assert!(NoProxy::parse("*.corp.example").matches("npm.corp.example", 443));
        let n = NoProxy::parse("npm.corp.example:8443,10.1.2.3,192.168.0.0/16,[::1]:4873,fd00::/8");
        assert!(n.matches("npm.corp.example", 8443));
        assert!(!n.matches("npm.corp.example", 443));
        assert!(n.matches("10.1.2.3", 80));
        assert!(!n.matches("10.1.2.4", 80));
        assert!(n.matches("192.168.44.5", 443));
        assert!(!n.matches("192.169.0.1", 443));
        assert!(n.matches("[::1]", 4873));
        assert!(!n.matches("::1", 4874));
        assert!(n.matches("fd12::1", 443));
        // IPs are never suffix-matched as names.
        assert!(!NoProxy::parse("2.3").matches("10.1.2.3", 80));
        assert!(NoProxy::parse("127.0.0.1").matches("::ffff:127.0.0.1", 80));
        assert!(!NoProxy::parse("").matches("localhost", 80));
        assert!(!NoProxy::parse("10.0.0.0/33").matches("10.0.0.1", 80));
    }

    #[test]
    fn env_follows_curl_and_no_proxy_is_consulted() {
        let vars = [
            ("HTTPS_PROXY", "http://ci:s3cret@proxy.corp.example:3128"),
            ("http_proxy", "proxy.corp.example:3129"),
            ("NO_PROXY", "npm.corp.example,127.0.0.1:4873"),
        ];
        let p = Proxies::from_env(&env(&vars)).unwrap();
        assert_eq!(
            via(&p, "https://registry.npmjs.org/x").as_deref(),
            Some("http://ci:s3cret@proxy.corp.example:3128/")
        );
        assert_eq!(via(&p, "https://npm.corp.example/x"), None);
        assert_eq!(
            via(&p, "http://127.0.0.1:4874/x").as_deref(),
            Some("http://proxy.corp.example:3129/")
        );
        assert_eq!(via(&p, "http://127.0.0.1:4873/x"), None);
        // Never shows the password.
        let d = p.describe(&u("https://registry.npmjs.org/"));
        assert!(d.contains("proxy.corp.example:3128") && d.contains("HTTPS_PROXY"));
        assert!(!d.contains("s3cret"), "{d}");
    }

    #[test]
    fn env_lower_case_wins_all_proxy_and_cgi() {
        let vars = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("ALL_PROXY", "http://all:3"),
        ];
        let p = Proxies::from_env(&env(&vars)).unwrap();
        assert_eq!(
            via(&p, "https://a.example/").as_deref(),
            Some("http://lower:1/")
        );
        assert_eq!(
            via(&p, "http://a.example/").as_deref(),
            Some("http://all:3/")
        );
        let cgi = [
            ("HTTP_PROXY", "http://injected:1"),
            ("REQUEST_METHOD", "GET"),
        ];
        assert!(Proxies::from_env(&env(&cgi)).unwrap().is_direct());
        assert!(Proxies::from_env(&env(&[("HTTPS_PROXY", "")]))
            .unwrap()
            .is_direct());
        let socks = Proxies::from_env(&env(&[("ALL_PROXY", "socks5://h:1080")])).unwrap_err();
        assert!(socks.to_string().contains("ALL_PROXY"), "{socks}");
    }

    #[test]
    fn npm_settings_beat_the_environment() {
        let vars = [
            ("HTTPS_PROXY", "http://env:1"),
            ("NO_PROXY", "registry.npmjs.org"),
        ];
        let e = env(&vars);
        let p = Proxies::for_npm(None, Some("http://cfg:2"), Some("corp.example"), &e).unwrap();
        // npm's `proxy` serves https URLs too; `noproxy` replaces NO_PROXY.
        assert_eq!(
            via(&p, "https://registry.npmjs.org/x").as_deref(),
            Some("http://cfg:2/")
        );
        assert_eq!(via(&p, "https://npm.corp.example/x"), None);
        let p = Proxies::for_npm(Some("http://tls:3"), Some("http://cfg:2"), None, &e).unwrap();
        assert_eq!(
            via(&p, "http://a.example/").as_deref(),
            Some("http://tls:3/")
        );
        assert_eq!(via(&p, "https://registry.npmjs.org/"), None);
        // Without settings: https_proxy serves http URLs too, as in @npmcli/agent.
        let p = Proxies::for_npm(None, None, None, &e).unwrap();
        assert_eq!(
            via(&p, "http://a.example/").as_deref(),
            Some("http://env:1/")
        );
    }

    #[test]
    fn pip_proxy_ignores_no_proxy() {
        let vars = [("NO_PROXY", "pypi.corp.example")];
        let e = env(&vars);
        let p = Proxies::for_pip(Some("ci:pw@proxy.corp.example:3128"), &e).unwrap();
        assert_eq!(
            via(&p, "https://pypi.corp.example/simple/").as_deref(),
            Some("http://ci:pw@proxy.corp.example:3128/")
        );
        let p = Proxies::for_pip(
            None,
            &env(&[
                ("HTTPS_PROXY", "http://e:1"),
                ("NO_PROXY", "pypi.corp.example"),
            ]),
        )
        .unwrap();
        assert_eq!(via(&p, "https://pypi.corp.example/simple/"), None);
        assert_eq!(
            via(&p, "https://pypi.org/simple/").as_deref(),
            Some("http://e:1/")
        );
    }

    #[test]
    fn maven_proxies_by_protocol_with_non_proxy_hosts() {
        let proxy = |id: &str, protocol: &str, host: &str, active: bool, non: &str| MavenProxy {
            id: id.into(),
            active,
            protocol: protocol.into(),
            host: host.into(),
            port: Some(3128),
            username: Some("ci".into()),
            password: Some("p@ss".into()),
            non_proxy_hosts: non.into(),
        };
        let p = Proxies::for_maven(&[
            proxy("off", "http", "off.example", false, ""),
            proxy(
                "corp",
                "",
                "proxy.corp.example",
                true,
                "*.corp.example|Repo.Internal",
            ),
            proxy("second", "http", "second.example", true, ""),
        ])
        .unwrap();
        // The http proxy serves https repositories when there is no https proxy.
        assert_eq!(
            via(&p, "https://repo.maven.apache.org/maven2/").as_deref(),
            Some("http://ci:p%40ss@proxy.corp.example:3128/")
        );
        assert_eq!(via(&p, "https://nexus.corp.example/x"), None);
        assert_eq!(via(&p, "https://repo.internal/x"), None);
        // Whole-host globs: `corp.example` itself is not `*.corp.example`.
        assert!(via(&p, "https://corp.example/x").is_some());
        assert!(Proxies::for_maven(&[]).unwrap().is_direct());
    }

    #[test]
    fn child_no_proxy_adds_loopback_once() {
        assert_eq!(child_no_proxy(None), "127.0.0.1,localhost,::1");
        assert_eq!(
            child_no_proxy(Some("corp.example, localhost")),
            "corp.example,localhost,127.0.0.1,::1"
        );
        assert_eq!(child_no_proxy(Some("*")), "*");
    }

    #[test]
    fn child_env_keeps_the_users_lists_and_adds_loopback() {
        let vars = [("NO_PROXY", "corp.example"), ("npm_config_noproxy", "")];
        let got = child_env(&env(&vars));
        let loopback = "corp.example,127.0.0.1,localhost,::1";
        assert_eq!(got[0], ("NO_PROXY", loopback.to_string()));
        assert_eq!(got[1], ("no_proxy", loopback.to_string()));
        assert_eq!(got[2], ("npm_config_noproxy", loopback.to_string()));
        let got = child_env(&env(&[("NPM_CONFIG_NOPROXY", "npm.corp.example")]));
        assert_eq!(got[0].1, "127.0.0.1,localhost,::1");
        assert_eq!(got[2].1, "npm.corp.example,127.0.0.1,localhost,::1");
    }
}
