//! From a lockfile and the sources policy permits to a download plan, or to findings.
//!
//! For each entry: skip what needs no download (links, workspaces, bundled deps, optional deps for
//! another platform, omitted dev deps); refuse what cannot be verified (no integrity, git/file
//! sources unless allowed); check the source (internal names only from their internal registry,
//! everything else from the public registry or a known public host, https off loopback); and
//! compute where lockgate itself fetches the tarball: the `resolved` URL when it is on the
//! permitted registry, else the same path on the permitted registry (npm's
//! `replace-registry-host`), else the registry's conventional tarball path. Pure.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Url;

use super::lockfile::{platform_allows, Entry, Lockfile, Resolved};
use crate::fetch::{Artifact, Locator};
use crate::finding::{Finding, Kind};
use crate::integrity::{parse_sri, Digest};
use crate::policy::check_transport;

/// Hosts of the public npm registry that a lockfile may name while policy uses a proxy.
pub const PUBLIC_HOSTS: [&str; 2] = ["registry.npmjs.org", "registry.yarnpkg.com"];

/// Where each name may come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Everything not internal.
    pub public: Url,
    /// `@scope` → its internal registry.
    pub internal: BTreeMap<String, Url>,
    /// Packages allowed to come from git/file/plain tarball URLs.
    pub allow_non_registry: Vec<String>,
}

impl Sources {
    /// The internal registry for a (real) package name, if its scope is internal.
    pub fn internal_registry(&self, name: &str) -> Option<&Url> {
        super::lockfile::scope_of(name).and_then(|s| self.internal.get(s))
    }

    /// The one registry a name may come from.
    pub fn registry_for(&self, name: &str) -> &Url {
        self.internal_registry(name).unwrap_or(&self.public)
    }

    /// Whether `url` is on one of the internal registries.
    pub fn is_internal_host(&self, url: &Url) -> bool {
        self.internal.values().any(|r| same_host(r, url))
    }
}

/// The machine lockgate plans for (npm's `os`, `cpu`, `libc` names) and what the command omits.
#[derive(Debug, Clone)]
pub struct Target {
    pub os: String,
    pub cpu: String,
    pub libc: Option<String>,
    pub omit_dev: bool,
    pub omit_optional: bool,
    /// Plan every entry whatever its platform (for `lockgate check`).
    pub any_platform: bool,
}

impl Target {
    /// Every entry of the lockfile, for auditing.
    pub fn any() -> Target {
        Target {
            os: String::new(),
            cpu: String::new(),
            libc: None,
            omit_dev: false,
            omit_optional: false,
            any_platform: true,
        }
    }

    pub fn this_machine(omit_dev: bool, omit_optional: bool) -> Target {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            "windows" => "win32",
            o => o,
        };
        let cpu = match std::env::consts::ARCH {
            "x86_64" => "x64",
            "aarch64" => "arm64",
            "x86" => "ia32",
            "powerpc64" => "ppc64",
            a => a,
        };
        let libc = (os == "linux").then(|| {
            let musl = std::path::Path::new("/lib").read_dir().is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("ld-musl-"))
            });
            if musl { "musl" } else { "glibc" }.to_string()
        });
        Target {
            os: os.into(),
            cpu: cpu.into(),
            libc,
            omit_dev,
            omit_optional,
            any_platform: false,
        }
    }
}

/// One lockfile entry lockgate downloads.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Index into `Lockfile::entries`.
    pub entry: usize,
    pub artifact: Artifact,
    /// The URL npm will ask the gate for, as written in the lockfile (if any).
    pub resolved: Option<Url>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub items: Vec<Planned>,
    pub findings: Vec<Finding>,
    /// Entries skipped because they are not for this platform or omitted by the command.
    pub skipped: usize,
    /// Entries left to npm because the policy allows their non-registry source.
    pub allowed_non_registry: Vec<String>,
}

impl Plan {
    /// Unique artifacts (the same tarball may be installed at several paths).
    /// Hosts the real npm fetches from itself, by the policy's explicit allowance: plain tarball
    /// URLs (which lockgate verified too) and git URLs of `unsafe-allow-non-registry` entries.
    /// Everything else the real npm gets comes from the gate.
    pub fn direct_hosts(&self, lock: &super::lockfile::Lockfile, src: &Sources) -> Vec<String> {
        let registry = |u: &Url| same_host(u, &src.public) || src.is_internal_host(u);
        let mut hosts: Vec<String> = self
            .items
            .iter()
            .map(|p| &p.artifact.url)
            .filter(|u| !registry(u))
            .filter_map(|u| u.host_str().map(str::to_string))
            .collect();
        for e in &lock.entries {
            if let Resolved::Git(g) = &e.resolved {
                if !allowed_non_registry(src, e) {
                    continue;
                }
                let url = g.strip_prefix("git+").unwrap_or(g);
                if let Some(h) = Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                {
                    hosts.push(h);
                } else if url.starts_with("github:") {
                    hosts.extend(["github.com".into(), "codeload.github.com".into()]);
                }
            }
        }
        hosts.sort();
        hosts.dedup();
        hosts
    }

    pub fn artifacts(&self) -> Vec<Artifact> {
        let mut seen = std::collections::HashSet::new();
        self.items
            .iter()
            .filter(|p| seen.insert(p.artifact.digest.clone()))
            .map(|p| p.artifact.clone())
            .collect()
    }
}

pub fn plan(lock: &Lockfile, src: &Sources, target: &Target) -> Plan {
    let mut plan = Plan::default();
    for (i, e) in lock.entries.iter().enumerate() {
        if e.local || e.in_bundle {
            continue;
        }
        if skip_for_target(e, target) {
            plan.skipped += 1;
            continue;
        }
        match plan_entry(e, src, &lock.path) {
            Ok(Some((artifact, resolved, weak))) => {
                if let Some(w) = weak {
                    plan.findings.push(w);
                }
                plan.items.push(Planned {
                    entry: i,
                    artifact,
                    resolved,
                });
            }
            Ok(None) => plan.allowed_non_registry.push(e.id()),
            Err(f) => plan.findings.push(f),
        }
    }
    plan
}

fn skip_for_target(e: &Entry, t: &Target) -> bool {
    if e.dev && t.omit_dev && !e.optional {
        return true;
    }
    if !e.optional || t.any_platform {
        return false;
    }
    t.omit_optional
        || !platform_allows(&e.os, &t.os)
        || !platform_allows(&e.cpu, &t.cpu)
        || t.libc
            .as_ref()
            .is_some_and(|l| !platform_allows(&e.libc, l))
}

type Outcome = (Artifact, Option<Url>, Option<Finding>);

#[allow(clippy::result_large_err)] // a Finding (128 bytes) on the refusal path only
fn plan_entry(e: &Entry, src: &Sources, file: &Path) -> Result<Option<Outcome>, Finding> {
    let id = e.id();
    let internal = src.internal_registry(&e.name).cloned();
    // An alias that puts a public package under an internal name (`"@myorg/x": "npm:evil@1"`).
    if let Some(alias) = &e.alias {
        if internal.is_none() && src.internal_registry(alias).is_some() {
            return Err(Finding::error(Kind::Confusion, &id, file)
                .msg(format!("is installed under the internal name {alias} but is the public package {}", e.name))
                .hint("an internal name must resolve to the internal package; remove the alias or publish the package internally"));
        }
    }
    let url = match &e.resolved {
        Resolved::Git(s) | Resolved::File(s) => {
            if allowed_non_registry(src, e) {
                return Ok(None);
            }
            let what = if matches!(e.resolved, Resolved::Git(_)) {
                "git"
            } else {
                "a local path"
            };
            return Err(Finding::error(Kind::NonRegistry, &id, file)
                .msg(format!("comes from {what} ({s}), which lockgate cannot verify against a registry"))
                .hint(format!("publish it to a registry, or allow it explicitly in lockgate.toml: [npm] unsafe-allow-non-registry = [\"{}\"]", e.name)));
        }
        Resolved::Url(s) => Some(Url::parse(s).map_err(|_| {
            Finding::error(Kind::Lockfile, &id, file)
                .msg(format!(
                    "has an unparseable resolved URL `{}`",
                    crate::error::redact_url(s)
                ))
                .hint("regenerate the lockfile entry")
        })?),
        Resolved::Absent => None,
    };
    let registry = internal.clone().unwrap_or_else(|| src.public.clone());
    let fetch_url = match &url {
        Some(u) => {
            if let Err(reason) = check_transport(u) {
                if internal.is_none() || same_host(u, &registry) {
                    return Err(Finding::error(Kind::InsecureSource, &id, file)
                        .msg(format!(
                            "is resolved from {} ({reason})",
                            crate::error::redact_url(u.as_str())
                        ))
                        .hint("re-resolve it from an https registry"));
                }
            }
            if let Some(reg) = &internal {
                if !same_host(u, reg) {
                    return Err(Finding::error(Kind::Confusion, &id, file)
                        .msg(format!(
                            "is internal ({} lives on {}) but the lockfile resolves it from {}",
                            e.scope().unwrap_or_default(),
                            origin(reg),
                            origin(u)
                        ))
                        .hint("an internal name may have been published publicly: delete this entry and re-resolve it through lockgate, which asks only the internal registry"));
                }
                u.clone()
            } else if same_host(u, &registry) || src.is_internal_host(u) {
                u.clone()
            } else if u.host_str().is_some_and(|h| PUBLIC_HOSTS.contains(&h)) {
                registry
                    .join(u.path().trim_start_matches('/'))
                    .unwrap_or_else(|_| u.clone())
            } else if !is_registry_tarball(u, &e.name) {
                // A plain tarball URL (`https://github.com/o/r/tarball/v1`): not a registry, so
                // only with the policy's explicit allowance, and still verified by its integrity.
                if !allowed_non_registry(src, e) {
                    return Err(Finding::error(Kind::InsecureSource, &id, file)
                        .msg(format!(
                            "is a plain tarball from {}, not a package from a registry the policy permits (allowed: {})",
                            origin(u),
                            origin(&registry)
                        ))
                        .hint(format!("publish it to your registry, or allow this URL in lockgate.toml: [npm] unsafe-allow-non-registry = [\"{}\"] (its integrity is still verified)", e.name)));
                }
                u.clone()
            } else {
                return Err(Finding::error(Kind::InsecureSource, &id, file)
                    .msg(format!(
                        "is resolved from {}, a host the policy does not permit (allowed: {})",
                        origin(u),
                        origin(&registry)
                    ))
                    .hint("if that host is your registry, set [npm] registry to it in lockgate.toml; otherwise re-resolve the entry"));
            }
        }
        None => conventional_tarball(&registry, &e.name, &e.version),
    };
    let Some(integrity) = &e.integrity else {
        return Err(Finding::error(Kind::MissingHash, &id, file)
            .msg("has no integrity hash in the lockfile, so its bytes cannot be verified")
            .hint("regenerate the lockfile with `npm install --package-lock-only` through lockgate so npm records the sha512"));
    };
    let digest: Digest = parse_sri(integrity).map_err(|why| {
        Finding::error(Kind::MissingHash, &id, file)
            .msg(format!("has an unusable integrity value: {why}"))
            .hint("regenerate the lockfile entry")
    })?;
    let weak = digest.alg.is_weak().then(|| {
        Finding::warning(Kind::WeakHash, &id, file)
            .msg("is pinned only by a sha1 hash (collision-broken); it is verified with sha1")
            .hint("regenerate the lockfile with a current npm to record sha512")
    });
    if e.version.is_empty() {
        return Err(Finding::error(Kind::Lockfile, &id, file)
            .msg("has no version in the lockfile (and none in its tarball name), so npm would have to resolve it at install time")
            .hint("regenerate the lockfile with `npm install --package-lock-only` through lockgate"));
    }
    Ok(Some((
        Artifact {
            package: id,
            name: e.name.clone(),
            version: e.version.clone(),
            internal: internal.is_some(),
            url: fetch_url,
            digest,
            locate: url
                .is_none()
                .then(|| Locator::NpmPackument(packument_url(&registry, &e.name))),
        },
        url,
        weak,
    )))
}

fn allowed_non_registry(src: &Sources, e: &Entry) -> bool {
    src.allow_non_registry
        .iter()
        .any(|a| a == &e.name || e.alias.as_ref() == Some(a))
}

/// A registry's tarball path for this package: `…/{name}/-/{basename}-{version}.tgz` (the pattern
/// arborist's `version-from-tgz.js` recognises as a registry URL).
fn is_registry_tarball(u: &Url, name: &str) -> bool {
    let path = u.path();
    let base = name.rsplit('/').next().unwrap_or(name);
    path.rsplit_once("/-/").is_some_and(|(pre, file)| {
        let pre = pre.replace("%2f", "/").replace("%2F", "/");
        (pre.ends_with(&format!("/{name}")) || pre.ends_with(&format!("/{base}")))
            && file.starts_with(&format!("{base}-"))
            && file.ends_with(".tgz")
    })
}

fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// `{registry}{name}/-/{basename}-{version}.tgz`, the layout of npmjs, Verdaccio, Nexus, CodeArtifact.
pub fn conventional_tarball(registry: &Url, name: &str, version: &str) -> Url {
    let base = name.rsplit('/').next().unwrap_or(name);
    registry
        .join(&format!("{name}/-/{base}-{version}.tgz"))
        .expect("a package name joins onto a registry URL")
}

/// `{registry}{name with / escaped}`, as npm requests packuments.
pub fn packument_url(registry: &Url, name: &str) -> Url {
    registry
        .join(&name.replace('/', "%2f"))
        .expect("a package name joins onto a registry URL")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npm::lockfile::parse;

    const SHA: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";

    fn src() -> Sources {
        let mut internal = BTreeMap::new();
        internal.insert(
            "@myorg".to_string(),
            Url::parse("https://npm.corp.example/").unwrap(),
        );
        Sources {
            public: Url::parse("https://npm-proxy.corp.example/api/npm/").unwrap(),
            internal,
            allow_non_registry: vec!["allowed-git".into()],
        }
    }

    fn lock(entries: &str) -> Lockfile {
        let text = format!(r#"{{"lockfileVersion": 3, "packages": {{"": {{}}, {entries}}}}}"#)
            .replace("SHA", SHA);
        parse(&text, Path::new("package-lock.json")).unwrap()
    }

    fn linux() -> Target {
        Target {
            os: "linux".into(),
            cpu: "x64".into(),
            libc: Some("glibc".into()),
            omit_dev: false,
            omit_optional: false,
            any_platform: false,
        }
    }

    #[test]
    fn internal_from_public_is_confusion() {
        let p = plan(
            &lock(
                r#""node_modules/@myorg/pay": {"version": "99.0.0", "resolved": "https://registry.npmjs.org/@myorg/pay/-/pay-99.0.0.tgz", "integrity": "SHA"}"#,
            ),
            &src(),
            &linux(),
        );
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].kind, Kind::Confusion);
        assert!(
            p.findings[0].message.contains("https://registry.npmjs.org"),
            "{}",
            p.findings[0].message
        );
        assert!(p.items.is_empty());
    }

    #[test]
    fn urls_are_mapped_to_permitted_sources() {
        let p = plan(
            &lock(
                r#"
            "node_modules/@myorg/pay": {"version": "1.2.3", "resolved": "https://npm.corp.example/@myorg/pay/-/pay-1.2.3.tgz", "integrity": "SHA"},
            "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": "SHA"},
            "node_modules/@myorg/nores": {"version": "2.0.0", "integrity": "SHA"},
            "node_modules/@types/node": {"version": "20.0.0", "integrity": "SHA"}"#,
            ),
            &src(),
            &linux(),
        );
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let url = |n: &str| {
            p.items
                .iter()
                .find(|i| i.artifact.name == n)
                .unwrap()
                .artifact
                .url
                .to_string()
        };
        assert_eq!(
            url("@myorg/pay"),
            "https://npm.corp.example/@myorg/pay/-/pay-1.2.3.tgz"
        );
        assert_eq!(
            url("left-pad"),
            "https://npm-proxy.corp.example/api/npm/left-pad/-/left-pad-1.3.0.tgz"
        );
        assert_eq!(
            url("@myorg/nores"),
            "https://npm.corp.example/@myorg/nores/-/nores-2.0.0.tgz"
        );
        assert_eq!(
            url("@types/node"),
            "https://npm-proxy.corp.example/api/npm/@types/node/-/node-20.0.0.tgz"
        );
        let nores = p
            .items
            .iter()
            .find(|i| i.artifact.name == "@myorg/nores")
            .unwrap();
        assert!(
            matches!(&nores.artifact.locate, Some(Locator::NpmPackument(u)) if u.as_str() == "https://npm.corp.example/@myorg%2fnores")
        );
        assert!(
            p.items
                .iter()
                .find(|i| i.artifact.name == "@myorg/pay")
                .unwrap()
                .artifact
                .internal
        );
    }

    #[test]
    fn refusals() {
        let p = plan(
            &lock(
                r#"
            "node_modules/nohash": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/nohash/-/nohash-1.0.0.tgz"},
            "node_modules/gitdep": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/g.git#abc", "integrity": "SHA"},
            "node_modules/allowed-git": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/a.git#abc"},
            "node_modules/evilhost": {"version": "1.0.0", "resolved": "https://evil.example/evilhost/-/evilhost-1.0.0.tgz", "integrity": "SHA"},
            "node_modules/plain": {"version": "1.0.0", "resolved": "http://npm-proxy.corp.example/api/npm/plain/-/plain-1.0.0.tgz", "integrity": "SHA"},
            "node_modules/safe": {"name": "left-pad", "version": "1.0.0", "integrity": "SHA"},
            "node_modules/@myorg/disguised": {"name": "evil", "version": "1.0.0", "integrity": "SHA"},
            "node_modules/old": {"version": "1.0.0", "integrity": "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00="}"#,
            ),
            &src(),
            &linux(),
        );
        let kind = |pkg: &str| {
            p.findings
                .iter()
                .find(|f| f.package.starts_with(pkg))
                .map(|f| (f.kind, f.severity))
        };
        use crate::finding::Severity::*;
        assert_eq!(kind("nohash@"), Some((Kind::MissingHash, Error)));
        assert_eq!(kind("gitdep@"), Some((Kind::NonRegistry, Error)));
        assert_eq!(kind("allowed-git@"), None);
        assert_eq!(p.allowed_non_registry, ["allowed-git@1.0.0"]);
        assert_eq!(kind("evilhost@"), Some((Kind::InsecureSource, Error)));
        assert_eq!(kind("plain@"), Some((Kind::InsecureSource, Error)));
        assert_eq!(
            kind("left-pad@"),
            None,
            "a public alias of a public package is fine"
        );
        assert_eq!(kind("evil@"), Some((Kind::Confusion, Error)));
        assert_eq!(kind("old@"), Some((Kind::WeakHash, Warning)));
        assert_eq!(crate::finding::most_severe(&p.findings), 22);
    }

    #[test]
    fn internal_from_public_without_integrity_is_still_confusion() {
        let p = plan(
            &lock(
                r#""node_modules/@myorg/pay": {"version": "99.0.0", "resolved": "https://registry.npmjs.org/@myorg/pay/-/pay-99.0.0.tgz"},
                "node_modules/@myorg/evil": {"version": "1.0.0", "resolved": "http://evil.example/evil.tgz"}"#,
            ),
            &src(),
            &linux(),
        );
        let kinds: Vec<Kind> = p.findings.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [Kind::Confusion, Kind::Confusion],
            "{:?}",
            p.findings
        );
    }

    #[test]
    fn plain_tarballs_need_the_allowance_and_keep_their_integrity() {
        let entries = r#""node_modules/react": {"version": "18.0.0", "resolved": "https://github.com/facebook/react/tarball/v18.0.0", "integrity": "SHA"},
            "node_modules/nohash-tgz": {"version": "1.0.0", "resolved": "https://github.com/o/nohash-tgz/tarball/v1"},
            "node_modules/plain-http": {"version": "1.0.0", "resolved": "http://example.com/plain-http.tgz", "integrity": "SHA"}"#;
        let p = plan(&lock(entries), &src(), &linux());
        let react = p
            .findings
            .iter()
            .find(|f| f.package == "react@18.0.0")
            .unwrap();
        assert_eq!(react.kind, Kind::InsecureSource);
        assert!(
            react.hint.contains("unsafe-allow-non-registry"),
            "{}",
            react.hint
        );
        assert!(!react.hint.contains("set [npm] registry"), "{}", react.hint);
        let mut allowing = src();
        allowing.allow_non_registry =
            vec!["react".into(), "nohash-tgz".into(), "plain-http".into()];
        let p = plan(&lock(entries), &allowing, &linux());
        let item = p.items.iter().find(|i| i.artifact.name == "react").unwrap();
        assert_eq!(
            item.artifact.url.as_str(),
            "https://github.com/facebook/react/tarball/v18.0.0"
        );
        assert_eq!(item.artifact.digest, parse_sri(SHA).unwrap());
        // The real npm is let through its gate proxy to that host only (it fetches the tarball
        // itself, checking the same integrity); registry hosts stay behind the gate.
        assert_eq!(p.direct_hosts(&lock(entries), &allowing), ["github.com"]);
        assert!(plan(&lock(entries), &src(), &linux())
            .direct_hosts(&lock(entries), &src())
            .is_empty());
        let kind = |pkg: &str| {
            p.findings
                .iter()
                .find(|f| f.package.starts_with(pkg))
                .map(|f| f.kind)
        };
        assert_eq!(
            kind("nohash-tgz@"),
            Some(Kind::MissingHash),
            "integrity is still required"
        );
        assert_eq!(
            kind("plain-http@"),
            Some(Kind::InsecureSource),
            "https is still required"
        );
    }

    #[test]
    fn links_are_not_fetched_and_versionless_entries_are_findings() {
        let p = plan(
            &lock(
                r#""node_modules/ext": {"resolved": "../external", "link": true},
                "../external": {"name": "ext", "version": "1.0.0"},
                "node_modules/broken": {},
                "node_modules/noversion": {"integrity": "SHA"}"#,
            ),
            &src(),
            &linux(),
        );
        assert!(p.items.is_empty());
        let kind = |pkg: &str| p.findings.iter().find(|f| f.package == pkg).map(|f| f.kind);
        assert_eq!(kind("broken@"), Some(Kind::MissingHash));
        assert_eq!(kind("noversion@"), Some(Kind::Lockfile));
        assert_eq!(p.findings.len(), 2, "{:?}", p.findings);
    }

    #[test]
    fn skips_other_platforms_and_omitted_dev() {
        let l = lock(
            r#"
            "node_modules/@esbuild/darwin-arm64": {"version": "0.19.0", "optional": true, "os": ["darwin"], "cpu": ["arm64"], "integrity": "SHA"},
            "node_modules/@esbuild/linux-x64": {"version": "0.19.0", "optional": true, "os": ["linux"], "cpu": ["x64"], "integrity": "SHA"},
            "node_modules/@rollup/rollup-linux-x64-musl": {"version": "4.0.0", "optional": true, "os": ["linux"], "cpu": ["x64"], "libc": ["musl"], "integrity": "SHA"},
            "node_modules/jest": {"version": "29.0.0", "dev": true, "integrity": "SHA"}"#,
        );
        let p = plan(&l, &src(), &linux());
        let names: Vec<&str> = p.items.iter().map(|i| i.artifact.name.as_str()).collect();
        assert_eq!(names, ["@esbuild/linux-x64", "jest"]);
        assert_eq!(p.skipped, 2);
        let p = plan(
            &l,
            &src(),
            &Target {
                omit_dev: true,
                ..linux()
            },
        );
        assert_eq!(p.items.len(), 1);
    }
}
