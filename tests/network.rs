//! Bounded time and proxy settings (issue 13), against the fault-injecting proxy in front of the
//! real Verdaccio and pypiserver: a trickling tarball and a hanging index page each end in 27
//! within the bound the README states (2 × `LOCKGATE_HTTP_TIMEOUT`; the tests set it to 2 s and
//! allow 3 × the bound, so they prove the wait is bounded without timing anything finely), while
//! the plain tool is still waiting; `NO_PROXY` naming the registry keeps every request away from
//! the proxy and naming another host sends them all through it; proxy credentials reach the
//! proxy only; the real tool reaches the loopback gate directly whatever proxy is set.

mod common;
#[path = "common/pip_extra.rs"]
#[allow(dead_code)]
mod pip_extra;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::proxy::{Fault, FaultProxy, Recorded};
use common::pypi::{build_wheel, installed_version, pypi_registries};
use common::{tools, uniq, Sandbox};
use pip_extra::{guarded_pip, lock_line, plain_pip};

/// `LOCKGATE_HTTP_TIMEOUT` in these tests, and the bound the README states for it.
const TIMEOUT_SECS: u64 = 2;
const BOUND: Duration = Duration::from_secs(2 * TIMEOUT_SECS);

/// A Basic-auth proxy login that must reach the proxy and nothing else.
const PROXY_USER: &str = "proxyuser";
const PROXY_PASS: &str = "proxy-s3cret";

/// An npm project locking one public package, with the policy's public registry at `registry`.
fn npm_project(reg: &NpmRegistries, registry: &str) -> (Sandbox, String) {
    let name = uniq("net-util");
    npm_project_with(reg, registry, NpmPackage::new(&name, "1.0.0"), &name)
}

fn npm_project_with(
    reg: &NpmRegistries,
    registry: &str,
    package: NpmPackage,
    name: &str,
) -> (Sandbox, String) {
    let name = name.to_string();
    reg.public.publish(&reg.attacker_token, &package);
    let mut sb = Sandbox::new();
    sb.npmrc(&format!("registry={}", reg.public.url));
    sb.set_env("LOCKGATE_HTTP_TIMEOUT", TIMEOUT_SECS.to_string());
    sb.write(
        "package.json",
        format!(r#"{{"name":"app","version":"1.0.0","dependencies":{{"{name}":"1.0.0"}}}}"#),
    );
    sb.run(sb.cmd(&tools().npm).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
        // No `resolved` URLs: tarballs come from whatever registry the policy names.
        "--omit-lockfile-registry-resolved=true",
        &format!("--registry={}", reg.public.url),
    ]))
    .ok();
    sb.write(
        "lockgate.toml",
        format!("[npm]\nregistry = \"{registry}\"\n"),
    );
    (sb, name)
}

/// A pip project locking one public wheel by hash, the index at `index`.
fn pip_project(index: &str) -> (Sandbox, String) {
    let reg = pypi_registries();
    let name = uniq("net-lib");
    let whl = reg.public.add(&build_wheel(&name, "1.0.0", &[]));
    let mut sb = Sandbox::new();
    sb.set_env("LOCKGATE_HTTP_TIMEOUT", TIMEOUT_SECS.to_string());
    sb.write("lockgate.toml", format!("[pip]\nindex-url = \"{index}\"\n"));
    sb.write("requirements.txt", lock_line(&name, "1.0.0", &[&whl]));
    (sb, name)
}

/// Starts the plain tool, waits `wait`, and panics with its output unless it is still running
/// (then kills it).
fn assert_still_running_after(sb: &Sandbox, cmd: &mut std::process::Command, wait: Duration) {
    let log = sb.path("plain-tool.log");
    let file = std::fs::File::create(&log).expect("create the plain tool's log");
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone the log"))
        .stderr(file)
        .spawn()
        .expect("start the plain tool");
    std::thread::sleep(wait);
    let status = child.try_wait().expect("poll the plain tool");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        status.is_none(),
        "the plain tool should still be waiting after {wait:?}, but it exited ({status:?}):\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a URL with a port")
}

fn proxy_url(proxy: &FaultProxy) -> String {
    proxy
        .url
        .replace("http://", &format!("http://{PROXY_USER}:{PROXY_PASS}@"))
}

fn has_proxy_login(r: &Recorded) -> bool {
    r.header("proxy-authorization") == Some(&common::http::basic_auth(PROXY_USER, PROXY_PASS))
}

fn leaks_proxy_login(r: &Recorded) -> bool {
    r.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("proxy-authorization")
            || v.contains(PROXY_PASS)
            || v.contains(&common::http::basic_auth(PROXY_USER, PROXY_PASS)[6..])
    })
}

#[test]
fn trickling_tarball_ends_in_27_within_the_bound() {
    let reg = npm_registries();
    // One byte every 100 ms: a 10 kB tarball would take 17 minutes.
    let slow = FaultProxy::start_for(
        &reg.public.url,
        Fault::Trickle {
            chunk: 1,
            every: Duration::from_millis(100),
        },
        Some("/-/"),
    );
    let (sb, name) = npm_project(reg, &format!("{}/", slow.url));

    // The plain npm, pointed at the same registry, is still downloading long after the bound.
    let mut plain = sb.cmd(&tools().npm);
    plain.args([
        "ci",
        "--ignore-scripts",
        "--replace-registry-host=always",
        &format!("--registry={}/", slow.url),
    ]);
    assert_still_running_after(&sb, &mut plain, 3 * BOUND);
    let _ = std::fs::remove_dir_all(sb.path("node_modules"));

    let before = slow.requests().len();
    let started = Instant::now();
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(27);
    let elapsed = started.elapsed();
    let host = format!("127.0.0.1:{}", port_of(&slow.url));
    assert!(
        out.stderr.contains("minimum-transfer-rate") && out.stderr.contains(&host),
        "names the host and the limit: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&name) && out.stderr.contains("LOCKGATE_HTTP_TIMEOUT=2"),
        "{}",
        out.stderr
    );
    assert!(elapsed < 3 * BOUND, "bounded: took {elapsed:?}");
    assert!(!sb.exists("node_modules"));
    let tarball_requests = slow.requests()[before..]
        .iter()
        .filter(|r| r.path.contains("/-/"))
        .count();
    assert_eq!(tarball_requests, 1, "a trickle is cut off, not retried");
    eprintln!("trickle: exit 27 after {elapsed:?} (bound {BOUND:?})");
}

/// A body that keeps moving fast enough for the rate limit (8 KiB/s) but would take longer than
/// the overall limit (10 × T) is cut off there: no registry holds a request for longer.
#[test]
fn a_steady_but_endless_download_is_cut_off_at_the_overall_limit() {
    let reg = npm_registries();
    let name = uniq("net-big");
    // Random-looking text, so the tarball stays over 100 kB after gzip (> 12 s at 8 KiB/s).
    let mut blob = String::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..60_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob.push_str(&format!("{:x}", x % 65536));
    }
    let steady = FaultProxy::start_for(
        &reg.public.url,
        Fault::Trickle {
            chunk: 4096,
            every: Duration::from_millis(500),
        },
        Some("/-/"),
    );
    let (mut sb, _) = npm_project_with(
        reg,
        &format!("{}/", steady.url),
        NpmPackage::new(&name, "1.0.0").origin(&blob),
        &name,
    );
    sb.set_env("LOCKGATE_HTTP_TIMEOUT", "1");
    let started = Instant::now();
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(27);
    let elapsed = started.elapsed();
    assert!(
        out.stderr.contains("overall limit") && out.stderr.contains("within 10 s"),
        "{}",
        out.stderr
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "bounded: took {elapsed:?}"
    );
    assert!(!sb.exists("node_modules"));
    eprintln!("steady: exit 27 after {elapsed:?} (overall limit 10 s)");
}

#[test]
fn hanging_index_ends_in_27_within_the_bound() {
    let reg = pypi_registries();
    let hang = FaultProxy::start_for(&reg.public.url, Fault::Hang, Some("/simple/"));
    let index = format!("{}/simple/", hang.url);
    let (sb, name) = pip_project(&index);

    // Plain pip waits 15 s per attempt and retries: still waiting long after the bound.
    assert_still_running_after(
        &sb,
        &mut plain_pip(
            &sb,
            &["download", "--no-deps", "-d", "plain", "-i", &index, &name],
        ),
        3 * BOUND,
    );

    let started = Instant::now();
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "t", "-r", "requirements.txt"],
        ))
        .code_is(27);
    let elapsed = started.elapsed();
    let host = format!("127.0.0.1:{}", port_of(&hang.url));
    assert!(
        out.stderr.contains("time-to-first-byte") && out.stderr.contains(&host),
        "names the host and the limit: {}",
        out.stderr
    );
    assert!(elapsed < 3 * BOUND, "bounded: took {elapsed:?}");
    assert!(!sb.exists("t"));
    eprintln!("hang: exit 27 after {elapsed:?} (bound {BOUND:?})");
}

/// pip through `HTTP_PROXY` (or, with `option`, through `--proxy`) with `NO_PROXY` set to
/// `no_proxy`; the index is named `localhost`. Returns the requests the forward proxy saw and
/// those the registry saw.
fn pip_through_proxy(no_proxy: &str, option: bool) -> (Vec<Recorded>, Vec<Recorded>, String) {
    let reg = pypi_registries();
    let registry = FaultProxy::start(&reg.public.url, Fault::Pass);
    let forward = FaultProxy::forward(Fault::Pass);
    let index = format!("http://localhost:{}/simple/", port_of(&registry.url));
    let (mut sb, name) = pip_project(&index);
    let proxy_option = format!("--proxy={}", proxy_url(&forward));
    let mut args = vec!["install", "--target", "t", "-r", "requirements.txt"];
    if option {
        args.push(&proxy_option);
    } else {
        sb.set_env("HTTP_PROXY", proxy_url(&forward));
        sb.set_env("HTTPS_PROXY", proxy_url(&forward));
    }
    sb.set_env("NO_PROXY", no_proxy);
    let out = sb.run(&mut guarded_pip(&sb, &args)).ok();
    assert_eq!(
        installed_version(&sb.path("t"), &name).as_deref(),
        Some("1.0.0")
    );
    assert!(
        !out.stderr.contains(PROXY_PASS) && !out.stdout.contains(PROXY_PASS),
        "{}",
        out.stderr
    );
    let audit = std::fs::read_to_string(sb.root().join("audit.jsonl")).unwrap_or_default();
    assert!(!audit.contains(PROXY_PASS));
    (forward.requests(), registry.requests(), name)
}

#[test]
fn no_proxy_naming_the_registry_keeps_every_request_off_the_proxy() {
    let (via_proxy, at_registry, name) = pip_through_proxy("other.example, localhost", false);
    assert!(
        via_proxy.is_empty(),
        "NO_PROXY names the registry: {via_proxy:?}"
    );
    assert!(
        at_registry.iter().any(|r| r.path.contains(&name)),
        "went directly: {at_registry:?}"
    );
    assert!(
        !at_registry.iter().any(leaks_proxy_login),
        "{at_registry:?}"
    );
}

#[test]
fn no_proxy_naming_another_host_sends_every_request_through_the_proxy_with_its_login_only() {
    let (via_proxy, at_registry, name) = pip_through_proxy("other.example,.corp.example", false);
    assert!(
        at_registry.len() >= 2,
        "index page and wheel: {at_registry:?}"
    );
    assert_eq!(
        via_proxy.len(),
        at_registry.len(),
        "every request went through the proxy: {via_proxy:?}"
    );
    assert!(via_proxy
        .iter()
        .all(|r| r.path.starts_with("http://localhost:") && has_proxy_login(r)));
    assert!(via_proxy.iter().any(|r| r.path.contains(&name)));
    assert!(
        !at_registry.iter().any(leaks_proxy_login),
        "the proxy login never reaches the registry: {at_registry:?}"
    );
}

/// pip's own `--proxy` goes into `session.proxies`, which requests uses even for hosts
/// `NO_PROXY` names: lockgate does the same, and does not hand the option to the real pip.
#[test]
fn pips_proxy_option_is_used_for_every_request_as_pip_would() {
    let (via_proxy, at_registry, name) = pip_through_proxy("localhost", true);
    assert!(
        at_registry.len() >= 2,
        "index page and wheel: {at_registry:?}"
    );
    assert_eq!(via_proxy.len(), at_registry.len(), "{via_proxy:?}");
    assert!(via_proxy.iter().all(has_proxy_login));
    assert!(via_proxy.iter().any(|r| r.path.contains(&name)));
    assert!(!at_registry.iter().any(leaks_proxy_login));
}

/// npm's `https-proxy` and `noproxy` settings (here in the project's .npmrc) beat the
/// environment, as they do for npm.
#[test]
fn npm_settings_choose_the_proxy_and_the_bypass_list() {
    let reg = npm_registries();
    let forward = FaultProxy::forward(Fault::Pass);
    let decoy = FaultProxy::forward(Fault::Pass);
    let (mut sb, name) = npm_project(reg, &reg.public.url);
    sb.set_env("HTTPS_PROXY", decoy.url.as_str());
    sb.set_env("NO_PROXY", "127.0.0.1");
    let registry = format!("http://{}/", reg.public.host());
    // npm's `https-proxy` serves http URLs too; its `noproxy` replaces NO_PROXY.
    sb.write(
        ".npmrc",
        format!(
            "https-proxy={}\nnoproxy=other.example\n",
            proxy_url(&forward)
        ),
    );
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert!(sb.exists(format!("node_modules/{name}/package.json")));
    let seen = forward.requests();
    assert!(
        seen.iter()
            .any(|r| r.path.starts_with(&registry) && r.path.contains(&name)),
        "{seen:?}"
    );
    assert!(seen
        .iter()
        .all(|r| r.path.starts_with(&registry) && has_proxy_login(r)));
    assert!(decoy.requests().is_empty(), "{:?}", decoy.requests());

    // `noproxy` naming the registry: nothing through either proxy.
    std::fs::remove_dir_all(sb.path("node_modules")).unwrap();
    sb.set_env("LOCKGATE_CACHE_DIR", sb.root().join("cold-store"));
    sb.write(
        ".npmrc",
        format!("https-proxy={}\nnoproxy=127.0.0.1\n", proxy_url(&forward)),
    );
    let before = forward.requests().len();
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert!(sb.exists(format!("node_modules/{name}/package.json")));
    assert_eq!(forward.requests().len(), before);
    assert!(decoy.requests().is_empty());
}

#[test]
fn the_real_npm_reaches_the_gate_directly_whatever_proxy_is_set() {
    let reg = npm_registries();
    let forward = FaultProxy::forward(Fault::Pass);
    let (mut sb, name) = npm_project(reg, &reg.public.url);
    // No NO_PROXY: lockgate's own requests to the (loopback) registry go through the proxy, as
    // curl's would; npm's requests to the gate must not.
    sb.set_env("HTTP_PROXY", proxy_url(&forward));
    sb.set_env("https_proxy", proxy_url(&forward));
    let out = sb.run(sb.shim("npm").arg("ci")).ok();
    assert!(sb.exists(format!("node_modules/{name}/package.json")));
    let seen = forward.requests();
    let registry = format!("http://{}/", reg.public.host());
    assert!(
        seen.iter()
            .any(|r| r.path.starts_with(&registry) && r.path.contains(&name)),
        "lockgate's download went through the proxy: {seen:?}"
    );
    assert!(
        seen.iter().all(|r| r.path.starts_with(&registry)),
        "nothing but lockgate's own requests reached the proxy (never the gate): {seen:?}"
    );
    assert!(seen.iter().all(has_proxy_login));
    assert!(!out.stderr.contains(PROXY_PASS), "{}", out.stderr);
}

#[test]
fn an_unusable_proxy_setting_is_a_configuration_error_that_hides_the_password() {
    let reg = pypi_registries();
    let (mut sb, _) = pip_project(&reg.public.simple_url());
    sb.set_env(
        "HTTPS_PROXY",
        format!("socks5://{PROXY_USER}:{PROXY_PASS}@127.0.0.1:1080"),
    );
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "t", "-r", "requirements.txt"],
        ))
        .code_is(20);
    assert!(out.stderr.contains("HTTPS_PROXY"), "{}", out.stderr);
    assert!(!out.stderr.contains(PROXY_PASS), "{}", out.stderr);

    sb.set_env("HTTPS_PROXY", "");
    sb.set_env("LOCKGATE_HTTP_TIMEOUT", "soon");
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "t", "-r", "requirements.txt"],
        ))
        .code_is(20);
    assert!(
        out.stderr.contains("LOCKGATE_HTTP_TIMEOUT"),
        "{}",
        out.stderr
    );
}

/// Maven reads `<proxies>` from settings.xml, not the environment: lockgate's downloads for a
/// guarded build go through the active proxy with its login unless `nonProxyHosts` names the
/// repository's host; Maven itself reaches the gate directly either way.
#[test]
fn maven_settings_proxy_and_non_proxy_hosts_are_honoured() {
    use common::maven::{maven_project, maven_repos, maven_settings, MavenRepo};
    let repos = maven_repos();
    let mut sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!("[maven]\nrepository = \"{}\"\n", repos.public_url),
    );
    let settings = maven_settings(&[MavenRepo {
        id: "central",
        url: &repos.public_url,
        auth: None,
    }]);
    sb.maven_settings(&settings);
    maven_project(&sb.project(), &[]);
    sb.run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp"]))
        .ok();

    let forward = FaultProxy::forward(Fault::Pass);
    let registry = format!("http://127.0.0.1:{}/", port_of(&repos.public_url));
    let with_proxy = |non_proxy_hosts: &str| {
        settings.replace(
            "</settings>",
            &format!(
                "<proxies><proxy><id>corp</id><host>127.0.0.1</host><port>{}</port>\
                 <username>{PROXY_USER}</username><password>{PROXY_PASS}</password>\
                 <nonProxyHosts>{non_proxy_hosts}</nonProxyHosts></proxy></proxies>\n</settings>",
                port_of(&forward.url)
            ),
        )
    };
    // Proxy variables mean nothing to Maven, so nothing to lockgate's Maven runs either.
    sb.set_env("HTTP_PROXY", "http://127.0.0.1:9/");

    // nonProxyHosts names the repository: nothing goes through the proxy.
    sb.maven_settings(&with_proxy("other.example|127.0.0.1"));
    sb.set_env("LOCKGATE_CACHE_DIR", sb.root().join("cold-store-1"));
    let out = sb.run(sb.shim("mvn").args(["-B", "-ntp", "package"])).ok();
    assert!(out.stderr.contains("downloaded"), "{out}");
    assert!(forward.requests().is_empty(), "{:?}", forward.requests());

    // It names other hosts only: every download goes through the proxy, with its login.
    sb.maven_settings(&with_proxy("other.example|*.corp.example"));
    sb.set_env("LOCKGATE_CACHE_DIR", sb.root().join("cold-store-2"));
    let out = sb.run(sb.shim("mvn").args(["-B", "-ntp", "package"])).ok();
    let seen = forward.requests();
    assert!(seen.len() > 50, "every locked file: {}", seen.len());
    assert!(
        seen.iter()
            .all(|r| r.path.starts_with(&registry) && has_proxy_login(r)),
        "only lockgate's downloads from the repository, never Maven's requests to the gate: {seen:?}"
    );
    assert!(!out.output().contains(PROXY_PASS), "{out}");
}
