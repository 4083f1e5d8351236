//! The policy: `lockgate.toml` (project) over the org file (`/etc/lockgate/config.toml`).
//!
//! The file format is a set of documented serde structs (`deny_unknown_fields`, kebab-case). The
//! pure part parses one file and merges org + project into a [`Policy`]; the I/O part finds and
//! reads the files. Merge rule: the project may add to lists (namespaces, allowances) but may not
//! change a value the org file sets, so the org's internal namespaces can never be removed or
//! pointed elsewhere.

use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;

use crate::error::{Error, Result};

/// `lockgate.toml` as written. Every field is optional so that merging can tell "unset" from a
/// value; defaults are applied in [`Policy`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    pub npm: Option<NpmSection>,
    pub pip: Option<PipSection>,
    pub maven: Option<MavenSection>,
    pub typosquat: Option<TyposquatSection>,
    pub cooldown: Option<CooldownSection>,
    pub feed: Option<FeedSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmSection {
    /// Source for every name that is not internal (often a proxy of registry.npmjs.org).
    pub registry: Option<String>,
    pub internal: Option<NpmInternal>,
    pub scripts: Option<NpmScripts>,
    /// Packages that may come from git, a local path or a plain tarball URL. lockgate cannot verify
    /// those against a registry; npm fetches them itself.
    pub unsafe_allow_non_registry: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmInternal {
    /// The only source for the scopes below.
    pub registry: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Environment variable holding the bearer token; else the `.npmrc` entry for that host.
    pub token_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmScripts {
    /// Packages (`name` or `name@version`) whose install scripts run via `npm rebuild`.
    pub allow: Option<Vec<String>>,
    /// Allowed packages (`name` or `name@version`) whose scripts may use the network; every
    /// other script runs in a box without one (where the machine supports it).
    pub network: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipSection {
    pub index_url: Option<String>,
    pub internal: Option<PipInternal>,
    pub build: Option<PipBuild>,
    /// In CI (`CI` set), refuse `pip install` without a hash-locked requirements file.
    pub require_lock: Option<bool>,
    /// Exact URLs a direct-reference dependency (`x @ URL` in a wheel's METADATA or an sdist's
    /// build requirements) may name. lockgate cannot verify those against an index; pip fetches
    /// them itself.
    pub unsafe_allow_urls: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipInternal {
    pub index_url: Option<String>,
    /// Normalised name prefixes, e.g. `myorg-`.
    pub prefixes: Option<Vec<String>>,
    pub username: Option<String>,
    pub password_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipBuild {
    /// Projects allowed to install from an sdist (which runs code to build).
    pub allow_sdist: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MavenSection {
    /// Source for everything not internal (usually a proxy of Maven Central).
    pub repository: Option<String>,
    pub internal: Option<MavenInternal>,
    /// sha256 (hex) the Maven wrapper's distribution must have, whatever
    /// `distributionSha256Sum` says (`lockgate mvnw`).
    pub wrapper_sha256: Option<String>,
    /// Further hosts (`host` or `host:port`) a wrapper may download its distribution from,
    /// besides those of `repository` and `internal.url`.
    pub wrapper_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MavenInternal {
    pub url: Option<String>,
    /// groupIds; each covers its sub-groups (`com.myorg` covers `com.myorg.payments`).
    pub groups: Option<Vec<String>>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    /// `<server>` id in the user's settings.xml to take credentials from.
    pub server_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TyposquatSection {
    /// Names that look like typos of popular or internal names but are wanted.
    pub allow: Option<Vec<String>>,
    /// How young (first published less than this long ago) a name must be for the broad
    /// look-alike rules to refuse it (`"90d"` by default; `"0"` turns them off).
    pub young_window: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CooldownSection {
    /// Versions younger than this are hidden from resolution (`"3d"`, `"12h"`, `"30m"`, `"0"` = off).
    pub min_age: Option<String>,
    /// Names first published more recently than this are refused when a change adds them.
    pub new_package_age: Option<String>,
    /// Names, `*` globs, or `name@version` admitted early.
    pub exclude: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FeedSection {
    /// Where `lockgate feed update` gets `<Ecosystem>/all.zip`: https, file:// or a directory.
    pub url: Option<String>,
    /// Older than this (`7d`, `12h`): a warning, an error with `require = true`.
    pub max_age: Option<String>,
    /// Refuse installs when the feed is missing or stale (CI images should set it).
    pub require: Option<bool>,
    /// Record ids besides `MAL-…` that block too (e.g. a `GHSA-…` for a hijacked release).
    pub also: Option<Vec<String>>,
}

/// The merged, validated policy the rest of lockgate reads.
#[derive(Debug, Default, Clone)]
pub struct Policy {
    /// The files it came from, org file first (for messages).
    pub files: Vec<PathBuf>,
    pub npm: NpmPolicy,
    pub pip: PipPolicy,
    pub maven: MavenPolicy,
    pub typosquat_allow: Vec<String>,
    /// `[typosquat] young-window`.
    pub typosquat_young_window: YoungWindow,
    /// `[cooldown]`; internal namespaces are always exempt (callers check).
    pub cooldown: crate::cooldown::Cooldown,
    pub feed: crate::feed::FeedPolicy,
}

/// Seconds: how young a name must be for the broad look-alike rules to refuse it
/// (`typosquat::BROAD_WINDOW` unless the policy says otherwise; 0 turns them off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YoungWindow(pub u64);

impl Default for YoungWindow {
    fn default() -> Self {
        YoungWindow(crate::typosquat::BROAD_WINDOW)
    }
}

#[derive(Debug, Default, Clone)]
pub struct NpmPolicy {
    /// None: take `registry` from the npm config, else registry.npmjs.org.
    pub registry: Option<Url>,
    pub internal: Option<InternalNpm>,
    pub scripts_allow: Vec<String>,
    /// `[npm.scripts] network`: allowed scripts that keep the network.
    pub scripts_network: Vec<String>,
    pub unsafe_allow_non_registry: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct InternalNpm {
    pub registry: Url,
    pub scopes: Vec<String>,
    pub token_env: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct PipPolicy {
    pub index_url: Option<Url>,
    pub internal: Option<InternalPip>,
    pub allow_sdist: Vec<String>,
    pub require_lock: bool,
    pub unsafe_allow_urls: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct InternalPip {
    pub index_url: Url,
    pub prefixes: Vec<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct MavenPolicy {
    pub repository: Option<Url>,
    pub internal: Option<InternalMaven>,
    /// Lower-case hex sha256 pin for the wrapper's distribution.
    pub wrapper_sha256: Option<String>,
    pub wrapper_hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct InternalMaven {
    pub url: Url,
    pub groups: Vec<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub server_id: Option<String>,
}

/// Parse one policy file's text. Unknown keys and type errors name the key and line.
pub fn parse(text: &str, path: &Path) -> Result<PolicyFile> {
    toml::from_str(text).map_err(|e| Error::Policy {
        path: path.to_path_buf(),
        msg: e.to_string().trim().replace('\n', " "),
    })
}

/// A value that remembers which file set it, for conflict messages.
struct Layer<'a> {
    path: &'a Path,
    file: &'a PolicyFile,
}

/// Merge the org file (if any) and the project file (if any) and validate the result.
pub fn merge(
    org: Option<(&Path, &PolicyFile)>,
    project: Option<(&Path, &PolicyFile)>,
) -> Result<Policy> {
    let layers: Vec<Layer> = org
        .into_iter()
        .chain(project)
        .map(|(path, file)| Layer { path, file })
        .collect();
    let mut m = Merger::default();
    for l in &layers {
        m.layer(l)?;
    }
    m.finish(layers.iter().map(|l| l.path.to_path_buf()).collect())
}

/// Accumulates layers: scalars may be set once (or repeated with the same value), lists union.
#[derive(Default)]
struct Merger {
    npm_registry: Scalar,
    npm_int_registry: Scalar,
    npm_int_token_env: Scalar,
    npm_scopes: Vec<String>,
    npm_scripts: Vec<String>,
    npm_scripts_network: Vec<String>,
    npm_non_registry: Vec<String>,
    pip_index: Scalar,
    pip_int_index: Scalar,
    pip_int_user: Scalar,
    pip_int_pass_env: Scalar,
    pip_prefixes: Vec<String>,
    pip_sdist: Vec<String>,
    pip_require_lock: Option<bool>,
    pip_urls: Vec<String>,
    mvn_repo: Scalar,
    mvn_int_url: Scalar,
    mvn_int_user: Scalar,
    mvn_int_pass_env: Scalar,
    mvn_int_server: Scalar,
    mvn_groups: Vec<String>,
    mvn_wrapper_sha256: Scalar,
    mvn_wrapper_hosts: Vec<String>,
    typo_allow: Vec<String>,
    cool_min_age: Option<(u64, PathBuf)>,
    typo_young_window: Option<(u64, PathBuf)>,
    cool_new_age: Option<(u64, PathBuf)>,
    cool_exclude: Vec<String>,
    feed_url: Scalar,
    feed_max_age: Scalar,
    feed_require: Option<bool>,
    feed_also: Vec<String>,
}

/// A cooldown or young-name duration: the project may lengthen (tighten) the org's value, never
/// shorten it.
fn set_duration(
    slot: &mut Option<(u64, PathBuf)>,
    key: &str,
    value: &Option<String>,
    path: &Path,
) -> Result<()> {
    let Some(v) = value else { return Ok(()) };
    let secs = crate::cooldown::parse_duration(v).map_err(|msg| Error::Policy {
        path: path.to_path_buf(),
        msg: format!("`{key}`: {msg}"),
    })?;
    match slot {
        Some((old, from)) if secs < *old => Err(Error::Policy {
            path: path.to_path_buf(),
            msg: format!(
                "`{key}` = \"{v}\" is shorter than the {} set by the org policy {}; a project may lengthen it but not shorten it",
                crate::cooldown::human(*old),
                from.display()
            ),
        }),
        _ => {
            *slot = Some((secs, path.to_path_buf()));
            Ok(())
        }
    }
}

#[derive(Default)]
struct Scalar(Option<(String, PathBuf)>);

impl Scalar {
    fn set(&mut self, key: &str, value: &Option<String>, path: &Path) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        match &self.0 {
            Some((old, from)) if old != v => Err(Error::Policy {
                path: path.to_path_buf(),
                msg: format!(
                    "`{key}` = \"{v}\" conflicts with \"{old}\" set by the org policy {}; a project may add namespaces and allowances but not change what the org file sets",
                    from.display()
                ),
            }),
            _ => {
                self.0 = Some((v.clone(), path.to_path_buf()));
                Ok(())
            }
        }
    }
    fn get(&self) -> Option<&str> {
        self.0.as_ref().map(|(v, _)| v.as_str())
    }
    fn url(&self, key: &str) -> Result<Option<Url>> {
        let Some((v, path)) = &self.0 else {
            return Ok(None);
        };
        parse_source_url(v, key, path).map(Some)
    }
}

fn union(into: &mut Vec<String>, add: &Option<Vec<String>>) {
    for v in add.iter().flatten() {
        if !into.contains(v) {
            into.push(v.clone());
        }
    }
}

impl Merger {
    fn layer(&mut self, l: &Layer) -> Result<()> {
        let p = l.path;
        if let Some(npm) = &l.file.npm {
            self.npm_registry.set("npm.registry", &npm.registry, p)?;
            if let Some(i) = &npm.internal {
                self.npm_int_registry
                    .set("npm.internal.registry", &i.registry, p)?;
                self.npm_int_token_env
                    .set("npm.internal.token-env", &i.token_env, p)?;
                for s in i.scopes.iter().flatten() {
                    if !valid_scope(s) {
                        return Err(Error::Policy {
                            path: p.to_path_buf(),
                            msg: format!("`npm.internal.scopes` entry \"{s}\" is not an npm scope (expected e.g. \"@myorg\")"),
                        });
                    }
                }
                union(&mut self.npm_scopes, &i.scopes);
            }
            if let Some(s) = &npm.scripts {
                union(&mut self.npm_scripts, &s.allow);
                union(&mut self.npm_scripts_network, &s.network);
            }
            union(&mut self.npm_non_registry, &npm.unsafe_allow_non_registry);
        }
        if let Some(pip) = &l.file.pip {
            self.pip_index.set("pip.index-url", &pip.index_url, p)?;
            if let Some(i) = &pip.internal {
                self.pip_int_index
                    .set("pip.internal.index-url", &i.index_url, p)?;
                self.pip_int_user
                    .set("pip.internal.username", &i.username, p)?;
                self.pip_int_pass_env
                    .set("pip.internal.password-env", &i.password_env, p)?;
                for pre in i.prefixes.iter().flatten() {
                    if pre.trim().is_empty() {
                        return Err(Error::Policy {
                            path: p.to_path_buf(),
                            msg: "`pip.internal.prefixes` has an empty prefix, which would make every name internal".into(),
                        });
                    }
                }
                union(&mut self.pip_prefixes, &i.prefixes);
            }
            if let Some(b) = &pip.build {
                union(&mut self.pip_sdist, &b.allow_sdist);
            }
            union(&mut self.pip_urls, &pip.unsafe_allow_urls);
            if let Some(r) = pip.require_lock {
                // A project may tighten (true) but not loosen an org's `require-lock = true`.
                self.pip_require_lock = Some(self.pip_require_lock.unwrap_or(false) || r);
            }
        }
        if let Some(mvn) = &l.file.maven {
            self.mvn_repo.set("maven.repository", &mvn.repository, p)?;
            if let Some(i) = &mvn.internal {
                self.mvn_int_url.set("maven.internal.url", &i.url, p)?;
                self.mvn_int_user
                    .set("maven.internal.username", &i.username, p)?;
                self.mvn_int_pass_env
                    .set("maven.internal.password-env", &i.password_env, p)?;
                self.mvn_int_server
                    .set("maven.internal.server-id", &i.server_id, p)?;
                union(&mut self.mvn_groups, &i.groups);
            }
            if let Some(pin) = &mvn.wrapper_sha256 {
                if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Policy {
                        path: p.to_path_buf(),
                        msg: format!("`maven.wrapper-sha256` = \"{pin}\" is not a sha256 in hex (64 characters)"),
                    });
                }
            }
            let pin = mvn.wrapper_sha256.as_ref().map(|v| v.to_ascii_lowercase());
            self.mvn_wrapper_sha256
                .set("maven.wrapper-sha256", &pin, p)?;
            union(&mut self.mvn_wrapper_hosts, &mvn.wrapper_hosts);
        }
        if let Some(t) = &l.file.typosquat {
            union(&mut self.typo_allow, &t.allow);
            set_duration(
                &mut self.typo_young_window,
                "typosquat.young-window",
                &t.young_window,
                p,
            )?;
        }
        if let Some(c) = &l.file.cooldown {
            set_duration(&mut self.cool_min_age, "cooldown.min-age", &c.min_age, p)?;
            set_duration(
                &mut self.cool_new_age,
                "cooldown.new-package-age",
                &c.new_package_age,
                p,
            )?;
            for e in c.exclude.iter().flatten() {
                if e.trim().is_empty() || e.trim() == "*" {
                    return Err(Error::Policy {
                        path: p.to_path_buf(),
                        msg: format!("`cooldown.exclude` entry \"{e}\" would exempt every package; set `min-age = \"0\"` to turn the cooldown off instead"),
                    });
                }
            }
            union(&mut self.cool_exclude, &c.exclude);
        }
        if let Some(f) = &l.file.feed {
            self.feed_url.set("feed.url", &f.url, p)?;
            self.feed_max_age.set("feed.max-age", &f.max_age, p)?;
            let bad = |key: &str, msg: String| Error::Policy {
                path: p.to_path_buf(),
                msg: format!("`{key}`: {msg}"),
            };
            if let Some(Err(m)) = f.url.as_deref().map(crate::feed::update::Source::parse) {
                return Err(bad("feed.url", m));
            }
            if let Some(Err(m)) = f.max_age.as_deref().map(crate::feed::parse_age) {
                return Err(bad("feed.max-age", m));
            }
            // Like require-lock: a project may tighten, never loosen.
            if let Some(r) = f.require {
                self.feed_require = Some(self.feed_require.unwrap_or(false) || r);
            }
            union(&mut self.feed_also, &f.also);
        }
        Ok(())
    }

    fn finish(self, files: Vec<PathBuf>) -> Result<Policy> {
        let last = files.last().cloned().unwrap_or_default();
        let need = |what: &str, key: &str| Error::Policy {
            path: last.clone(),
            msg: format!(
                "{what} are listed but `{key}` is not set: say which registry serves them"
            ),
        };
        let npm_internal = match self.npm_int_registry.url("npm.internal.registry")? {
            Some(registry) => Some(InternalNpm {
                registry,
                scopes: self.npm_scopes,
                token_env: self.npm_int_token_env.get().map(str::to_string),
            }),
            None if !self.npm_scopes.is_empty() => {
                return Err(need("npm.internal.scopes", "npm.internal.registry"))
            }
            None => None,
        };
        let pip_internal = match self.pip_int_index.url("pip.internal.index-url")? {
            Some(index_url) => Some(InternalPip {
                index_url,
                prefixes: self.pip_prefixes,
                username: self.pip_int_user.get().map(str::to_string),
                password_env: self.pip_int_pass_env.get().map(str::to_string),
            }),
            None if !self.pip_prefixes.is_empty() => {
                return Err(need("pip.internal.prefixes", "pip.internal.index-url"))
            }
            None => None,
        };
        let maven_internal = match self.mvn_int_url.url("maven.internal.url")? {
            Some(url) => Some(InternalMaven {
                url,
                groups: self.mvn_groups,
                username: self.mvn_int_user.get().map(str::to_string),
                password_env: self.mvn_int_pass_env.get().map(str::to_string),
                server_id: self.mvn_int_server.get().map(str::to_string),
            }),
            None if !self.mvn_groups.is_empty() => {
                return Err(need("maven.internal.groups", "maven.internal.url"))
            }
            None => None,
        };
        Ok(Policy {
            npm: NpmPolicy {
                registry: self.npm_registry.url("npm.registry")?,
                internal: npm_internal,
                scripts_allow: self.npm_scripts,
                scripts_network: self.npm_scripts_network,
                unsafe_allow_non_registry: self.npm_non_registry,
            },
            pip: PipPolicy {
                index_url: self.pip_index.url("pip.index-url")?,
                internal: pip_internal,
                allow_sdist: self.pip_sdist,
                require_lock: self.pip_require_lock.unwrap_or(false),
                unsafe_allow_urls: self.pip_urls,
            },
            maven: MavenPolicy {
                repository: self.mvn_repo.url("maven.repository")?,
                internal: maven_internal,
                wrapper_sha256: self.mvn_wrapper_sha256.get().map(str::to_string),
                wrapper_hosts: self.mvn_wrapper_hosts,
            },
            typosquat_allow: self.typo_allow,
            typosquat_young_window: YoungWindow(
                self.typo_young_window
                    .map_or(crate::typosquat::BROAD_WINDOW, |(s, _)| s),
            ),
            cooldown: crate::cooldown::Cooldown {
                min_age: self
                    .cool_min_age
                    .map_or(crate::cooldown::DEFAULT_MIN_AGE, |(s, _)| s),
                new_package_age: self
                    .cool_new_age
                    .map_or(crate::cooldown::DEFAULT_NEW_PACKAGE_AGE, |(s, _)| s),
                exclude: self.cool_exclude,
            },
            feed: crate::feed::FeedPolicy {
                url: self.feed_url.get().map(str::to_string),
                max_age: match self.feed_max_age.get() {
                    Some(v) => crate::feed::parse_age(v).expect("checked when layered"),
                    None => crate::feed::DEFAULT_MAX_AGE,
                },
                require: self.feed_require.unwrap_or(false),
                also: self.feed_also,
            },
            files,
        })
    }
}

fn valid_scope(s: &str) -> bool {
    s.len() > 1
        && s.starts_with('@')
        && s[1..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
}

/// Parse a source URL from the policy: must be absolute, and https unless the host is loopback.
/// A trailing slash is added so relative joins behave.
fn parse_source_url(v: &str, key: &str, path: &Path) -> Result<Url> {
    let mut url = Url::parse(v).map_err(|e| Error::Policy {
        path: path.to_path_buf(),
        msg: format!("`{key}` = \"{v}\" is not a URL ({e})"),
    })?;
    if let Err(reason) = check_transport(&url) {
        return Err(Error::Insecure {
            package: format!("`{key}` in {}", path.display()),
            url: crate::error::redact_url(v),
            reason,
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Policy {
            path: path.to_path_buf(),
            msg: format!("`{key}` contains credentials; put the secret in an environment variable (token-env / password-env) instead of the policy file"),
        });
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

/// https everywhere; http only for loopback hosts (test registries, lockgate's own gate).
pub fn check_transport(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("plain http is accepted only for loopback hosts".into()),
        other => Err(format!("scheme `{other}` is not a registry transport")),
    }
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Read the org file and the project file that apply to `start_dir` and merge them.
pub fn load(start_dir: &Path) -> Result<Policy> {
    let org = system_file()?;
    let project = project_file(start_dir)?;
    let read = |p: &PathBuf| -> Result<PolicyFile> {
        let text =
            std::fs::read_to_string(p).map_err(|e| Error::io("read the policy file", p, e))?;
        parse(&text, p)
    };
    let org_f = org.as_ref().map(&read).transpose()?;
    let proj_f = project.as_ref().map(&read).transpose()?;
    merge(
        org.as_deref().zip(org_f.as_ref()),
        project.as_deref().zip(proj_f.as_ref()),
    )
}

/// `LOCKGATE_SYSTEM_CONFIG` (empty = none; a path that does not exist is an error), else
/// `/etc/lockgate/config.toml` when present.
fn system_file() -> Result<Option<PathBuf>> {
    match std::env::var_os("LOCKGATE_SYSTEM_CONFIG") {
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => {
            let p = PathBuf::from(v);
            if p.is_file() {
                Ok(Some(p))
            } else {
                Err(Error::config(
                    format!(
                        "LOCKGATE_SYSTEM_CONFIG names {}, which is not a file",
                        p.display()
                    ),
                    "point it at the org policy file, or set it empty to use none",
                ))
            }
        }
        None => {
            let p = PathBuf::from("/etc/lockgate/config.toml");
            Ok(p.is_file().then_some(p))
        }
    }
}

/// `LOCKGATE_CONFIG`, else `lockgate.toml` in `start_dir` or its nearest parent.
fn project_file(start_dir: &Path) -> Result<Option<PathBuf>> {
    if let Some(v) = std::env::var_os("LOCKGATE_CONFIG").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_file() {
            Ok(Some(p))
        } else {
            Err(Error::config(
                format!("LOCKGATE_CONFIG names {}, which is not a file", p.display()),
                "point it at a lockgate.toml, or unset it to use the nearest lockgate.toml",
            ))
        };
    }
    Ok(start_dir
        .ancestors()
        .map(|d| d.join("lockgate.toml"))
        .find(|p| p.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> PolicyFile {
        parse(text, Path::new("lockgate.toml")).unwrap()
    }

    const ORG: &str = r#"
[npm]
registry = "https://npm-proxy.corp.example/"
[npm.internal]
registry = "https://npm.corp.example"
scopes = ["@myorg"]
token-env = "INTERNAL_NPM_TOKEN"
[pip.internal]
index-url = "https://pypi.corp.example/simple/"
prefixes = ["myorg-"]
"#;

    #[test]
    fn parses_the_contract_example() {
        let p = merge(None, Some((Path::new("p"), &file(ORG)))).unwrap();
        let i = p.npm.internal.unwrap();
        assert_eq!(i.registry.as_str(), "https://npm.corp.example/");
        assert_eq!(i.scopes, ["@myorg"]);
        assert_eq!(i.token_env.as_deref(), Some("INTERNAL_NPM_TOKEN"));
        assert_eq!(p.pip.internal.unwrap().prefixes, ["myorg-"]);
        assert!(!p.pip.require_lock);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[npm]\nregistri = \"x\"\n", Path::new("/p/lockgate.toml")).unwrap_err();
        assert_eq!(e.exit_code(), 20);
        let msg = e.to_string();
        assert!(
            msg.contains("registri") && msg.contains("/p/lockgate.toml"),
            "{msg}"
        );
        let e = parse("[npm.scripts]\nallow = \"esbuild\"\n", Path::new("l")).unwrap_err();
        assert!(e.to_string().contains("allow"), "{e}");
    }

    #[test]
    fn project_adds_scopes_but_cannot_move_org_registry() {
        let org = file(ORG);
        let proj =
            file("[npm.internal]\nscopes = [\"@myteam\"]\n[npm.scripts]\nallow = [\"esbuild\"]\nnetwork = [\"esbuild\"]\n");
        let p = merge(
            Some((Path::new("/etc/o"), &org)),
            Some((Path::new("p"), &proj)),
        )
        .unwrap();
        assert_eq!(p.npm.internal.unwrap().scopes, ["@myorg", "@myteam"]);
        assert_eq!(p.npm.scripts_allow, ["esbuild"]);
        assert_eq!(p.npm.scripts_network, ["esbuild"]);

        let evil = file("[npm.internal]\nregistry = \"https://evil.example/\"\n");
        let e = merge(
            Some((Path::new("/etc/o"), &org)),
            Some((Path::new("p"), &evil)),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 20);
        assert!(e.to_string().contains("npm.internal.registry"), "{e}");

        // Repeating the org's value is fine.
        let same = file("[npm.internal]\nregistry = \"https://npm.corp.example\"\n");
        merge(
            Some((Path::new("/etc/o"), &org)),
            Some((Path::new("p"), &same)),
        )
        .unwrap();
    }

    #[test]
    fn wrapper_pin_is_a_sha256_the_org_may_fix_and_hosts_add_up() {
        let pin = "AB".repeat(32);
        let org = file(&format!(
            "[maven]\nwrapper-sha256 = \"{pin}\"\nwrapper-hosts = [\"repo.maven.apache.org\"]\n"
        ));
        let project = file("[maven]\nwrapper-hosts = [\"nexus.corp.example:8443\"]\n");
        let p = merge(
            Some((Path::new("/etc/o"), &org)),
            Some((Path::new("p"), &project)),
        )
        .unwrap();
        assert_eq!(p.maven.wrapper_sha256, Some("ab".repeat(32)));
        assert_eq!(
            p.maven.wrapper_hosts,
            ["repo.maven.apache.org", "nexus.corp.example:8443"]
        );
        let other = file(&format!(
            "[maven]\nwrapper-sha256 = \"{}\"\n",
            "cd".repeat(32)
        ));
        let e = merge(
            Some((Path::new("/etc/o"), &org)),
            Some((Path::new("p"), &other)),
        )
        .unwrap_err();
        assert!(e.to_string().contains("maven.wrapper-sha256"), "{e}");
        let bad = file("[maven]\nwrapper-sha256 = \"abc\"\n");
        let e = merge(None, Some((Path::new("p"), &bad))).unwrap_err();
        assert!(e.to_string().contains("not a sha256"), "{e}");
    }

    #[test]
    fn http_only_on_loopback() {
        let ok = file("[npm.internal]\nregistry = \"http://127.0.0.1:4873/\"\nscopes = [\"@a\"]\n");
        merge(None, Some((Path::new("p"), &ok))).unwrap();
        let bad = file("[npm]\nregistry = \"http://npm.corp.example/\"\n");
        let e = merge(None, Some((Path::new("p"), &bad))).unwrap_err();
        assert_eq!(e.exit_code(), 26);
    }

    #[test]
    fn rejects_bad_values() {
        for (text, needle) in [
            (
                "[npm.internal]\nregistry = \"https://x/\"\nscopes = [\"myorg\"]\n",
                "not an npm scope",
            ),
            (
                "[npm.internal]\nscopes = [\"@a\"]\n",
                "npm.internal.registry",
            ),
            (
                "[pip.internal]\nindex-url = \"https://x/\"\nprefixes = [\"\"]\n",
                "empty prefix",
            ),
            ("[npm]\nregistry = \"https://u:p@x/\"\n", "credentials"),
            ("[maven]\nrepository = \"not a url\"\n", "not a URL"),
        ] {
            let e = merge(None, Some((Path::new("p"), &file(text)))).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn typosquat_young_window_defaults_and_only_lengthens() {
        let p = merge(None, None).unwrap();
        assert_eq!(p.typosquat_young_window.0, crate::typosquat::BROAD_WINDOW);
        assert_eq!(Policy::default().typosquat_young_window.0, 90 * 86_400);
        let off = file("[typosquat]\nyoung-window = \"0\"\n");
        let p = merge(None, Some((Path::new("p"), &off))).unwrap();
        assert_eq!(p.typosquat_young_window.0, 0);
        let org = file("[typosquat]\nyoung-window = \"180d\"\n");
        let e = merge(Some((Path::new("o"), &org)), Some((Path::new("p"), &off))).unwrap_err();
        assert!(e.to_string().contains("typosquat.young-window"), "{e}");
        let e = parse("[typosquat]\nyoung-window = \"3w\"\n", Path::new("p"))
            .and_then(|f| merge(None, Some((Path::new("p"), &f))))
            .unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
    }

    #[test]
    fn cooldown_defaults_parse_and_only_lengthen() {
        let p = merge(None, None).unwrap();
        assert_eq!(p.cooldown.min_age, 3 * 86_400);
        assert_eq!(p.cooldown.new_package_age, 30 * 86_400);
        let proj =
            file("[cooldown]\nmin-age = \"12h\"\nexclude = [\"@myorg/*\", \"left-pad@1.3.1\"]\n");
        let p = merge(None, Some((Path::new("p"), &proj))).unwrap();
        assert_eq!(p.cooldown.min_age, 12 * 3600);
        assert_eq!(p.cooldown.exclude, ["@myorg/*", "left-pad@1.3.1"]);
        let org = file("[cooldown]\nmin-age = \"2d\"\n");
        let e = merge(Some((Path::new("o"), &org)), Some((Path::new("p"), &proj))).unwrap_err();
        assert!(e.to_string().contains("shorten"), "{e}");
        let longer = file("[cooldown]\nmin-age = \"7d\"\n");
        let p = merge(
            Some((Path::new("o"), &org)),
            Some((Path::new("p"), &longer)),
        )
        .unwrap();
        assert_eq!(p.cooldown.min_age, 7 * 86_400);
        for (text, needle) in [
            ("[cooldown]\nmin-age = \"3w\"\n", "not a duration"),
            ("[cooldown]\nexclude = [\"*\"]\n", "every package"),
            ("[cooldown]\nmin-ages = \"3d\"\n", "min-ages"),
        ] {
            let e = parse(text, Path::new("p"))
                .and_then(|f| merge(None, Some((Path::new("p"), &f))))
                .unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn feed_section() {
        let org =
            file("[feed]\nurl = \"https://mirror.corp/osv/\"\nrequire = true\nmax-age = \"2d\"\n");
        let proj = file("[feed]\nrequire = false\nalso = [\"GHSA-8mgj-vmr8-frr6\"]\n");
        let p = merge(Some((Path::new("o"), &org)), Some((Path::new("p"), &proj))).unwrap();
        assert!(p.feed.require);
        assert_eq!(p.feed.max_age.as_secs(), 2 * 86_400);
        assert_eq!(p.feed.also, ["GHSA-8mgj-vmr8-frr6"]);
        let d = merge(None, None).unwrap();
        assert_eq!(d.feed.max_age.as_secs(), 7 * 86_400);
        for (text, needle) in [
            ("[feed]\nmax-age = \"soon\"\n", "feed.max-age"),
            ("[feed]\nurl = \"http://mirror.corp/\"\n", "loopback"),
        ] {
            let e = merge(None, Some((Path::new("p"), &file(text)))).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert!(parse("[feed]\nurls = \"x\"\n", Path::new("p")).is_err());
    }

    #[test]
    fn require_lock_can_only_be_tightened() {
        let org = file("[pip]\nrequire-lock = true\n");
        let proj = file("[pip]\nrequire-lock = false\n");
        let p = merge(Some((Path::new("o"), &org)), Some((Path::new("p"), &proj))).unwrap();
        assert!(p.pip.require_lock);
    }
}
