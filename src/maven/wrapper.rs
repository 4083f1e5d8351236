//! The Maven wrapper (`./mvnw`, `.mvn/wrapper/maven-wrapper.properties`): what `lockgate check`
//! says about it, and `lockgate mvnw`, which replaces the script.
//!
//! A plain `./mvnw` downloads the Maven distribution named by `distributionUrl` (with curl or
//! wget, optionally checking `distributionSha256Sum`), unpacks it under `~/.m2/wrapper/dists`
//! and runs that Maven by absolute path: the `mvn` shim is never asked. The script variant
//! first fetches `maven-wrapper.jar` from `wrapperUrl` (checked against `wrapperSha256Sum` if
//! set). `MVNW_REPOURL` replaces the URL's base up to `/org/apache/maven/`.
//!
//! `lockgate mvnw ARGS` reads the same properties, the same way, and requires: `https` off
//! loopback, a host the policy permits for distributions (the hosts of `[maven] repository` and
//! `[maven.internal] url`, plus `[maven] wrapper-hosts`), and a sha256 (`distributionSha256Sum`,
//! or the policy's `[maven] wrapper-sha256` pin, which wins and must agree). It downloads the
//! distribution into the verified store (or reuses it), unpacks it once into
//! `<store>/maven-wrapper/<sha256>/`, re-hashes every unpacked file against the manifest it
//! recorded at unpacking before each use, and runs that Maven as the real mvn of an ordinary
//! guarded build ([`super::run_with_real`]). It never reads `~/.m2/wrapper`.
//!
//! Parsing (Java properties, the URL rules, the review) is pure; [`install`] does the I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Url;

use crate::error::{redact_url, Error, Result};
use crate::fetch::{self, Client};
use crate::finding::{Finding, Kind};
use crate::integrity::{hash_file, Alg, Digest};
use crate::policy::{self, Policy};
use crate::store::Store;

/// Where the wrapper keeps its properties, relative to the project root.
pub const PROPERTIES: &str = ".mvn/wrapper/maven-wrapper.properties";
/// The script variant's launcher jar, relative to the project root.
pub const WRAPPER_JAR: &str = ".mvn/wrapper/maven-wrapper.jar";
/// The path `MVNW_REPOURL` keeps (the script's `_MVNW_REPO_PATTERN` for Maven itself).
const REPO_PATTERN: &str = "/org/apache/maven/";
/// What every wrapper finding tells the user to run instead.
const USE_LOCKGATE: &str =
    "build with `lockgate mvnw …` instead of ./mvnw (CI images can alias ./mvnw to it)";

/// The wrapper properties that matter to lockgate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wrapper {
    pub distribution_url: Option<String>,
    pub distribution_sha256: Option<String>,
    pub wrapper_url: Option<String>,
    pub wrapper_sha256: Option<String>,
    /// `jdk*`/`toolchainJdk*` keys: newer wrappers download a JDK too, which lockgate does not.
    pub jdk_keys: Vec<String>,
}

/// Java `.properties` text → key/value (comments `#`/`!`, `=`/`:`/space separators, `\`
/// escapes and line continuations, as `java.util.Properties.load` reads them).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        let trailing = line.len() - line.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        let (k, v) = split_entry(&logical);
        out.insert(k, v);
        logical.clear();
    }
    if !logical.is_empty() {
        let (k, v) = split_entry(&logical);
        out.insert(k, v);
    }
    out
}

fn split_entry(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(unescape(chars.next(), &mut chars)),
            '=' | ':' => break,
            c if c.is_whitespace() => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('=' | ':')) {
                    chars.next();
                }
                break;
            }
            c => key.push(c),
        }
    }
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            value.push(unescape(chars.next(), &mut chars));
        } else {
            value.push(c);
        }
    }
    (key, value)
}

fn unescape(c: Option<char>, rest: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match c {
        Some('t') => '\t',
        Some('n') => '\n',
        Some('r') => '\r',
        Some('f') => '\u{c}',
        Some('u') => {
            let hex: String = (0..4).filter_map(|_| rest.next()).collect();
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
        }
        Some(c) => c,
        None => '\\',
    }
}

impl Wrapper {
    pub fn from_properties(p: &BTreeMap<String, String>) -> Wrapper {
        // The script trims all whitespace from the values it reads; so does lockgate.
        let get = |k: &str| {
            p.get(k)
                .map(|v| v.chars().filter(|c| !c.is_whitespace()).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        Wrapper {
            distribution_url: get("distributionUrl"),
            distribution_sha256: get("distributionSha256Sum"),
            wrapper_url: get("wrapperUrl"),
            wrapper_sha256: get("wrapperSha256Sum"),
            jdk_keys: p
                .keys()
                .filter(|k| k.starts_with("jdk") || k.starts_with("toolchainJdk"))
                .cloned()
                .collect(),
        }
    }
}

/// `MVNW_REPOURL` applied as the script applies it: the base before `/org/apache/maven/` is
/// replaced (a URL without that path is left alone).
pub fn apply_repo_url(url: &str, repo_url: Option<&str>) -> String {
    match (repo_url.filter(|r| !r.is_empty()), url.find(REPO_PATTERN)) {
        (Some(base), Some(i)) => format!("{base}{}", &url[i..]),
        _ => url.to_string(),
    }
}

/// `host:port` of a URL (port made explicit).
fn host_port(url: &Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

/// The hosts a wrapper may download from: those of the policy's Maven repositories (Maven
/// Central when none is set) as `host:port`, and `[maven] wrapper-hosts` as written.
pub fn permitted_hosts(policy: &Policy) -> Vec<String> {
    let sources = super::plan::Sources::from_policy(&policy.maven);
    let mut hosts: Vec<String> = std::iter::once(&sources.public)
        .chain(sources.internal.as_ref().map(|(u, _)| u))
        .filter_map(host_port)
        .collect();
    hosts.extend(
        policy
            .maven
            .wrapper_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase()),
    );
    hosts
}

fn host_permitted(url: &Url, permitted: &[String]) -> bool {
    let Some(hp) = host_port(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    permitted.iter().any(|p| *p == hp || *p == host)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One downloadable part of the wrapper, reviewed.
struct Part<'a> {
    what: &'a str,
    url_key: &'a str,
    sum_key: &'a str,
    url: &'a str,
    sum: Option<&'a str>,
}

/// Check the URL and hash of one part; push findings naming `file`.
fn review_part(part: &Part, pin: Option<&str>, permitted: &[String], file: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let label = part.what.to_string();
    let shown = redact_url(part.url);
    match Url::parse(part.url) {
        Err(e) => out.push(
            Finding::error(Kind::InsecureSource, &label, file)
                .msg(format!("`{}` = {shown} is not a URL ({e})", part.url_key))
                .hint(format!("fix `{}` in {PROPERTIES}", part.url_key)),
        ),
        Ok(url) => {
            if let Err(reason) = policy::check_transport(&url) {
                out.push(
                    Finding::error(Kind::InsecureSource, &label, file)
                        .msg(format!("`{}` = {shown}: {reason}; anyone on the path can swap the Maven that runs your build", part.url_key))
                        .hint(format!("use an https:// URL for `{}`, then {USE_LOCKGATE}", part.url_key)),
                );
            } else if !host_permitted(&url, permitted) {
                out.push(
                    Finding::error(Kind::InsecureSource, &label, file)
                        .msg(format!(
                            "`{}` = {shown}: the host {} is not one the policy permits for Maven distributions (permitted: {})",
                            part.url_key,
                            url.host_str().unwrap_or("?"),
                            permitted.join(", ")
                        ))
                        .hint("download from the repository the policy names, or add the host to `[maven] wrapper-hosts` in lockgate.toml after checking who runs it"),
                );
            }
        }
    }
    match (part.sum, pin) {
        (Some(s), _) if !is_sha256_hex(s) => out.push(
            Finding::error(Kind::MissingHash, &label, file)
                .msg(format!("`{}` = {s:?} is not a sha256 in hex", part.sum_key))
                .hint(format!("set `{}` to the sha256 published beside {shown}", part.sum_key)),
        ),
        (Some(s), Some(p)) if !s.eq_ignore_ascii_case(p) => out.push(
            Finding::error(Kind::InsecureSource, &label, file)
                .msg(format!(
                    "`{}` = {s}, but the policy's `[maven] wrapper-sha256` permits only {p}",
                    part.sum_key
                ))
                .hint("use the distribution the policy pins, or have the policy's owner pin the new one after checking it"),
        ),
        (None, None) => out.push(
            Finding::error(Kind::MissingHash, &label, file)
                .msg(format!(
                    "{shown} is downloaded and run with no `{}`: nothing checks the bytes that will run your build",
                    part.sum_key
                ))
                .hint(format!(
                    "add `{}=<sha256 of the file>` to {PROPERTIES} (the sha256 published beside it), or pin `[maven] wrapper-sha256` in lockgate.toml",
                    part.sum_key
                )),
        ),
        _ => {}
    }
    out
}

/// The findings about a wrapper's properties (pure): both the distribution and, when the
/// script variant names one, the launcher jar.
pub fn review(w: &Wrapper, policy: &Policy, repo_url: Option<&str>, file: &Path) -> Vec<Finding> {
    let permitted = permitted_hosts(policy);
    let mut out = Vec::new();
    match &w.distribution_url {
        None => out.push(
            Finding::error(Kind::Lockfile, "Maven wrapper distribution", file)
                .msg("has no `distributionUrl`, so there is no way to tell which Maven the wrapper runs")
                .hint(format!("set distributionUrl (and distributionSha256Sum) in {PROPERTIES}")),
        ),
        Some(url) => {
            let url = apply_repo_url(url, repo_url);
            let pin = policy.maven.wrapper_sha256.as_deref();
            out.extend(review_part(
                &Part {
                    what: "Maven wrapper distribution",
                    url_key: "distributionUrl",
                    sum_key: "distributionSha256Sum",
                    url: &url,
                    sum: w.distribution_sha256.as_deref(),
                },
                pin,
                &permitted,
                file,
            ));
        }
    }
    if let Some(url) = &w.wrapper_url {
        let url = apply_repo_url(url, repo_url);
        out.extend(review_part(
            &Part {
                what: "maven-wrapper.jar",
                url_key: "wrapperUrl",
                sum_key: "wrapperSha256Sum",
                url: &url,
                sum: w.wrapper_sha256.as_deref(),
            },
            None,
            &permitted,
            file,
        ));
    }
    if !w.jdk_keys.is_empty() {
        out.push(
            Finding::error(Kind::NonRegistry, "Maven wrapper JDK", file)
                .msg(format!("sets {}: the wrapper would download a JDK, which lockgate does not verify or provide", w.jdk_keys.join(", ")))
                .hint("remove the jdk* properties and install the JDK with the build image (lockgate mvnw uses JAVA_HOME / java on PATH)"),
        );
    }
    out
}

/// `lockgate check` and `lockgate doctor`: findings about the wrappers in `dir`, and the files
/// read. A Maven wrapper is always a warning (a plain `./mvnw` goes around lockgate), its
/// properties may add errors; a Gradle wrapper is reported unguarded.
pub fn audit(dir: &Path, policy: &Policy) -> (Vec<PathBuf>, Vec<Finding>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let props = dir.join(PROPERTIES);
    let script = dir.join("mvnw");
    if props.is_file() || script.is_file() {
        let file = if props.is_file() {
            props.clone()
        } else {
            script.clone()
        };
        findings.push(
            Finding::warning(Kind::InsecureSource, "mvnw", &file)
                .msg("this project has a Maven wrapper: a plain ./mvnw downloads Maven and runs it by absolute path, so the mvn shim never sees the build (nothing verified, counted or logged)")
                .hint(USE_LOCKGATE),
        );
        match std::fs::read_to_string(&props) {
            Ok(text) => {
                let w = Wrapper::from_properties(&parse_properties(&text));
                let repo_url = std::env::var("MVNW_REPOURL").ok();
                findings.extend(review(&w, policy, repo_url.as_deref(), &props));
                findings.extend(check_jar(dir, &w));
            }
            Err(e) => findings.push(
                Finding::error(Kind::Lockfile, "Maven wrapper distribution", &props)
                    .msg(format!("cannot read the wrapper properties: {e}"))
                    .hint(format!("restore {PROPERTIES} (./mvnw needs it too)")),
            ),
        }
        files.push(file);
    }
    let gradle_props = dir.join("gradle/wrapper/gradle-wrapper.properties");
    let gradlew = dir.join("gradlew");
    if gradlew.is_file() || gradle_props.is_file() {
        let file = if gradle_props.is_file() {
            gradle_props
        } else {
            gradlew
        };
        findings.push(
            Finding::warning(Kind::InsecureSource, "gradlew", &file)
                .msg("this project has a Gradle wrapper; lockgate does not guard Gradle yet: ./gradlew downloads Gradle and every dependency without lockgate (no lock, no verification, no confusion check)")
                .hint("build with Maven through lockgate, or guard Gradle yourself (distributionSha256Sum, dependency verification metadata) until lockgate supports it"),
        );
        files.push(file);
    }
    (files, findings)
}

/// [`audit`] for `lockgate check`: adds the files read and the findings.
pub fn audit_into(
    dir: &Path,
    policy: &Policy,
    files: &mut Vec<PathBuf>,
    findings: &mut Vec<Finding>,
) {
    let (f, found) = audit(dir, policy);
    for file in f {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    findings.extend(found);
}

/// A committed `maven-wrapper.jar` whose bytes are not the ones `wrapperSha256Sum` names.
fn check_jar(dir: &Path, w: &Wrapper) -> Option<Finding> {
    let jar = dir.join(WRAPPER_JAR);
    let expected = w.wrapper_sha256.as_deref().filter(|s| is_sha256_hex(s))?;
    let seen = hash_file(Alg::Sha256, &jar).ok()?;
    (!seen.hex().eq_ignore_ascii_case(expected)).then(|| {
        Finding::error(Kind::InsecureSource, "maven-wrapper.jar", &jar)
            .msg(format!(
                "the committed maven-wrapper.jar hashes to {}, not the wrapperSha256Sum {expected}",
                seen.hex()
            ))
            .hint("restore the jar from a trusted release (or delete it and let lockgate mvnw run), and find out who changed it")
    })
}

/// The verified distribution for `w`: downloaded into the store (or reused), unpacked once,
/// re-hashed against its manifest; returns its `bin/mvn`. Call after [`review`] found no errors.
pub async fn install(
    w: &Wrapper,
    policy: &Policy,
    repo_url: Option<&str>,
    client: &Client,
    store: &Store,
) -> Result<PathBuf> {
    let url_text = apply_repo_url(w.distribution_url.as_deref().unwrap_or_default(), repo_url);
    let url = Url::parse(&url_text)
        .map_err(|e| Error::config(format!("distributionUrl: {e}"), "fix distributionUrl"))?;
    let hex = policy
        .maven
        .wrapper_sha256
        .clone()
        .or_else(|| w.distribution_sha256.clone())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let digest = Digest::from_hex(Alg::Sha256, &hex).ok_or_else(|| {
        Error::config(
            "the wrapper's distribution has no usable sha256",
            "set distributionSha256Sum",
        )
    })?;
    let file = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("distribution")
        .to_string();
    let kind = Archive::of(&file).ok_or_else(|| {
        Error::config(
            format!("distributionUrl names {file}, which is neither a .zip nor a .tar.gz"),
            "point distributionUrl at the apache-maven-<version>-bin.zip (as ./mvnw requires)",
        )
    })?;
    let internal = policy
        .maven
        .internal
        .as_ref()
        .is_some_and(|i| host_port(&i.url) == host_port(&url));
    let artifact = fetch::Artifact {
        package: format!("{file} (Maven wrapper distribution)"),
        name: "apache-maven".into(),
        version: file.clone(),
        internal,
        url,
        digest: digest.clone(),
        locate: None,
    };
    fetch::fetch_all(client, store, std::slice::from_ref(&artifact)).await?;
    let home = unpacked(store, &digest, kind, &artifact.package)?;
    Ok(home.join("bin/mvn"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Archive {
    Zip,
    TarGz,
}

impl Archive {
    fn of(file: &str) -> Option<Archive> {
        if file.ends_with(".zip") {
            Some(Archive::Zip)
        } else if file.ends_with(".tar.gz") || file.ends_with(".tgz") {
            Some(Archive::TarGz)
        } else {
            None
        }
    }
}

/// The Maven home unpacked from the verified archive `digest`: reused when every file still
/// hashes to the manifest recorded when it was unpacked (and nothing was added), else unpacked
/// again from the store.
fn unpacked(store: &Store, digest: &Digest, kind: Archive, label: &str) -> Result<PathBuf> {
    let base = store.root().join("maven-wrapper");
    let dir = base.join(digest.hex());
    let manifest: Option<BTreeMap<String, String>> = store
        .read_note(digest)
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(manifest) = &manifest {
        if dir.is_dir() {
            match tree_manifest(&dir) {
                Ok(now) if now == *manifest => return home_in(&dir),
                _ => eprintln!(
                    "lockgate: warning: the unpacked Maven of {label} in {} changed on disk since it was verified; unpacking it again from the verified archive",
                    dir.display()
                ),
            }
        }
    }
    std::fs::create_dir_all(&base).map_err(|e| Error::io("create", &base, e))?;
    let tmp = tempfile::Builder::new()
        .prefix("tmp-")
        .tempdir_in(&base)
        .map_err(|e| Error::io("create a directory in", &base, e))?;
    let archive = store.path(digest);
    let fresh = hash_file(Alg::Sha256, &archive).map_err(|e| Error::io("read", &archive, e))?;
    if fresh != *digest {
        let _ = std::fs::remove_file(&archive);
        return Err(Error::Integrity {
            package: label.to_string(),
            url: archive.display().to_string(),
            expected: digest.to_string(),
            computed: format!("{fresh} (the store's copy changed on disk and was removed; run again to download and verify it)"),
        });
    }
    let mut cmd = match kind {
        Archive::Zip => {
            let mut c = std::process::Command::new("unzip");
            c.arg("-q").arg(&archive).arg("-d").arg(tmp.path());
            c
        }
        Archive::TarGz => {
            let mut c = std::process::Command::new("tar");
            c.arg("-xzf")
                .arg(&archive)
                .arg("--no-same-owner")
                .arg("-C")
                .arg(tmp.path());
            c
        }
    };
    let tool = if kind == Archive::Zip { "unzip" } else { "tar" };
    let status = cmd
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| {
            Error::config(
                format!("cannot run {tool} to unpack {label}: {e}"),
                format!("install {tool} (./mvnw needs it too)"),
            )
        })?;
    if !status.success() {
        return Err(Error::config(
            format!("{tool} could not unpack {label} ({status})"),
            "check the archive the wrapper names; it passed its sha256 check, so report it to whoever published it",
        ));
    }
    let manifest = tree_manifest(tmp.path())?;
    home_in(tmp.path())?;
    let text = serde_json::to_string(&manifest).expect("a map of strings serializes");
    // A concurrent run may have unpacked the same bytes meanwhile (and may be running them):
    // keep its tree when it is identical, replace it only when it is not.
    if tree_manifest(&dir).is_ok_and(|m| m == manifest) {
        store.write_note(digest, &text)?;
        return home_in(&dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let tmp = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if !tree_manifest(&dir).is_ok_and(|m| m == manifest) {
            return Err(Error::io("move the unpacked Maven to", &dir, e));
        }
    }
    store.write_note(digest, &text)?;
    home_in(&dir)
}

/// The one top-level directory with `bin/mvn` (`apache-maven-3.9.9/`).
fn home_in(dir: &Path) -> Result<PathBuf> {
    let homes: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("bin/mvn").is_file())
        .collect();
    match homes.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::config(
            format!(
                "the wrapper's distribution unpacked in {} has no single apache-maven-*/bin/mvn",
                dir.display()
            ),
            "point distributionUrl at an apache-maven-<version>-bin.zip",
        )),
    }
}

/// Relative path → sha256 hex (with `+x` marked) of every file under `dir`; anything but
/// directories and regular files (a symlink could point anywhere) is refused.
fn tree_manifest(dir: &Path) -> Result<BTreeMap<String, String>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .map_err(|e| Error::io("read", &d, e))?
            .flatten()
        {
            let path = e.path();
            let meta =
                std::fs::symlink_metadata(&path).map_err(|err| Error::io("read", &path, err))?;
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let h =
                    hash_file(Alg::Sha256, &path).map_err(|err| Error::io("read", &path, err))?;
                let x = if meta.permissions().mode() & 0o111 != 0 {
                    "+x"
                } else {
                    ""
                };
                out.insert(rel, format!("{}{x}", h.hex()));
            } else {
                return Err(Error::config(
                    format!("the wrapper's distribution holds {rel}, which is not a plain file or directory"),
                    "use the official apache-maven-<version>-bin.zip",
                ));
            }
        }
    }
    Ok(out)
}

/// The properties of the project at `root`, read and parsed.
pub fn read(root: &Path) -> Result<Option<(PathBuf, Wrapper)>> {
    let path = root.join(PROPERTIES);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some((
            path,
            Wrapper::from_properties(&parse_properties(&t)),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MavenPolicy;

    const SUM: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    #[test]
    fn properties_are_read_as_java_reads_them() {
        let p = parse_properties(
            "# Licensed to the ASF\n! also a comment\nwrapperVersion=3.3.2\ndistributionType=only-script\ndistributionUrl=https\\://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip\n  distributionSha256Sum : ab\\\n    cd\nkey value with spaces\n",
        );
        assert_eq!(
            p["distributionUrl"],
            "https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip"
        );
        assert_eq!(p["distributionSha256Sum"], "abcd");
        assert_eq!(p["key"], "value with spaces");
        assert_eq!(p["wrapperVersion"], "3.3.2");
        let w = Wrapper::from_properties(&parse_properties(
            "distributionUrl= http://x/a.zip \r\njdkVersion=17\n",
        ));
        assert_eq!(w.distribution_url.as_deref(), Some("http://x/a.zip"));
        assert_eq!(w.jdk_keys, ["jdkVersion"]);
    }

    #[test]
    fn repo_url_replaces_the_base_as_the_script_does() {
        let u = "https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip";
        assert_eq!(
            apply_repo_url(u, Some("https://nexus.corp/repository/central")),
            "https://nexus.corp/repository/central/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip"
        );
        assert_eq!(apply_repo_url(u, None), u);
        assert_eq!(
            apply_repo_url("https://x/y.zip", Some("https://n")),
            "https://x/y.zip"
        );
    }

    fn policy(repository: &str, pin: Option<&str>, hosts: &[&str]) -> Policy {
        Policy {
            maven: MavenPolicy {
                repository: Some(Url::parse(repository).unwrap()),
                wrapper_sha256: pin.map(str::to_string),
                wrapper_hosts: hosts.iter().map(|h| h.to_string()).collect(),
                ..MavenPolicy::default()
            },
            ..Policy::default()
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(Kind, i32)> {
        f.iter().map(|f| (f.kind, f.exit_code())).collect()
    }

    #[test]
    fn review_requires_https_a_permitted_host_and_a_sha256() {
        let file = Path::new(PROPERTIES);
        let p = policy("https://nexus.corp.example/maven2/", None, &[]);
        let w = |url: &str, sum: Option<&str>| Wrapper {
            distribution_url: Some(url.into()),
            distribution_sha256: sum.map(str::to_string),
            ..Wrapper::default()
        };
        let good = "https://nexus.corp.example/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip";
        assert!(review(&w(good, Some(SUM)), &p, None, file).is_empty());
        let f = review(
            &w("http://nexus.corp.example/a-bin.zip", Some(SUM)),
            &p,
            None,
            file,
        );
        assert_eq!(kinds(&f), [(Kind::InsecureSource, 26)]);
        assert!(f[0].message.contains("http"), "{}", f[0].message);
        let f = review(
            &w("https://evil.example/a-bin.zip", Some(SUM)),
            &p,
            None,
            file,
        );
        assert_eq!(kinds(&f), [(Kind::InsecureSource, 26)]);
        assert!(
            f[0].message.contains("nexus.corp.example:443"),
            "{}",
            f[0].message
        );
        let f = review(&w(good, None), &p, None, file);
        assert_eq!(kinds(&f), [(Kind::MissingHash, 21)]);
        // Loopback http is fine, but only on the repository's port.
        let local = policy("http://127.0.0.1:8081/", None, &[]);
        assert!(review(
            &w("http://127.0.0.1:8081/a-bin.zip", Some(SUM)),
            &local,
            None,
            file
        )
        .is_empty());
        assert_eq!(
            kinds(&review(
                &w("http://127.0.0.1:9999/a-bin.zip", Some(SUM)),
                &local,
                None,
                file
            )),
            [(Kind::InsecureSource, 26)]
        );
        // MVNW_REPOURL moves the download, and is reviewed where it points.
        assert_eq!(
            kinds(&review(
                &w(good, Some(SUM)),
                &p,
                Some("https://other.example/m2"),
                file
            )),
            [(Kind::InsecureSource, 26)]
        );
        // wrapper-hosts permits more; a pin replaces a missing sum and must match a present one.
        let more = policy(
            "https://nexus.corp.example/",
            Some(SUM),
            &["repo.maven.apache.org"],
        );
        let central = "https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.9/apache-maven-3.9.9-bin.zip";
        assert!(review(&w(central, None), &more, None, file).is_empty());
        assert_eq!(
            kinds(&review(
                &w(central, Some(&"0".repeat(64))),
                &more,
                None,
                file
            )),
            [(Kind::InsecureSource, 26)]
        );
        assert_eq!(
            kinds(&review(&w(central, Some("nothex")), &more, None, file)),
            [(Kind::MissingHash, 21)]
        );
        // The jar variant is held to the same rules; a missing distributionUrl and jdk keys too.
        let jar = Wrapper {
            wrapper_url: Some("http://evil.example/maven-wrapper.jar".into()),
            jdk_keys: vec!["jdkVersion".into()],
            ..w(good, Some(SUM))
        };
        assert_eq!(
            kinds(&review(&jar, &p, None, file)),
            [
                (Kind::InsecureSource, 26),
                (Kind::MissingHash, 21),
                (Kind::NonRegistry, 21)
            ]
        );
        assert_eq!(
            kinds(&review(&Wrapper::default(), &p, None, file)),
            [(Kind::Lockfile, 21)]
        );
    }

    #[test]
    fn audit_reports_wrappers_and_checks_a_committed_jar() {
        let d = tempfile::tempdir().unwrap();
        let p = policy("https://nexus.corp.example/", None, &[]);
        let (files, f) = audit(d.path(), &p);
        assert!(files.is_empty() && f.is_empty());
        std::fs::write(d.path().join("gradlew"), "#!/bin/sh\n").unwrap();
        let (files, f) = audit(d.path(), &p);
        assert_eq!(files, [d.path().join("gradlew")]);
        assert_eq!((f[0].package.as_str(), f[0].is_error()), ("gradlew", false));

        std::fs::create_dir_all(d.path().join(".mvn/wrapper")).unwrap();
        let jar_sum = crate::integrity::hash(Alg::Sha256, b"jar").hex();
        std::fs::write(
            d.path().join(PROPERTIES),
            format!("distributionUrl=https://nexus.corp.example/apache-maven-3.9.9-bin.zip\ndistributionSha256Sum={SUM}\nwrapperUrl=https://nexus.corp.example/maven-wrapper.jar\nwrapperSha256Sum={jar_sum}\n"),
        )
        .unwrap();
        std::fs::write(d.path().join(WRAPPER_JAR), b"jar").unwrap();
        let (files, f) = audit(d.path(), &p);
        assert_eq!(files[0], d.path().join(PROPERTIES));
        let summary: Vec<(&str, bool)> = f
            .iter()
            .map(|f| (f.package.as_str(), f.is_error()))
            .collect();
        assert_eq!(summary, [("mvnw", false), ("gradlew", false)]);
        assert!(f[0].hint.contains("lockgate mvnw"));
        std::fs::write(d.path().join(WRAPPER_JAR), b"jaR").unwrap();
        let (_, f) = audit(d.path(), &p);
        assert!(f
            .iter()
            .any(|f| f.package == "maven-wrapper.jar" && f.exit_code() == 26));
    }

    #[test]
    fn unpacked_distribution_is_reused_only_while_it_matches_its_manifest() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src/apache-maven-9.9/bin");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("mvn"), "#!/bin/sh\necho mvn\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(src.join("mvn"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let zip = d.path().join("apache-maven-9.9-bin.zip");
        let ok = std::process::Command::new("zip")
            .current_dir(d.path().join("src"))
            .arg("-qr")
            .arg(&zip)
            .arg("apache-maven-9.9")
            .status()
            .unwrap();
        assert!(ok.success());
        let bytes = std::fs::read(&zip).unwrap();
        let store = Store::open(d.path().join("store")).unwrap();
        let digest = crate::integrity::hash(Alg::Sha256, &bytes);
        store.put(&digest, &bytes).unwrap().unwrap();

        let home = unpacked(&store, &digest, Archive::Zip, "dist").unwrap();
        assert!(home.ends_with("apache-maven-9.9"));
        assert!(home.starts_with(store.root().join("maven-wrapper")));
        let mvn = home.join("bin/mvn");
        assert!(std::fs::metadata(&mvn).unwrap().permissions().mode() & 0o100 != 0);
        // A build (as root) that changes the unpacked Maven does not change the next run's.
        std::fs::write(&mvn, "#!/bin/sh\necho evil\n").unwrap();
        std::fs::write(home.join("bin/extra.jar"), "x").unwrap();
        let again = unpacked(&store, &digest, Archive::Zip, "dist").unwrap();
        assert_eq!(again, home);
        assert_eq!(
            std::fs::read_to_string(&mvn).unwrap(),
            "#!/bin/sh\necho mvn\n"
        );
        assert!(!home.join("bin/extra.jar").exists());
    }
}
