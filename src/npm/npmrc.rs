//! The parts of npm's configuration lockgate must agree with: the default registry, scope →
//! registry mappings, and per-host credentials.
//!
//! npm reads, lowest precedence first: the builtin npmrc (inside the npm package), the global
//! npmrc (`$PREFIX/etc/npmrc`), the user npmrc (`~/.npmrc` or `npm_config_userconfig`), the
//! project `.npmrc`, `npm_config_*` environment variables, and the command line. The parser is
//! pure; [`load`] does the file and environment reading.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Secret;
use crate::fetch::{Auth, Credential};
use crate::proxy::{BadProxy, Proxies};

#[derive(Debug, Default, Clone)]
pub struct NpmConfig {
    pub registry: Option<String>,
    /// `@scope` → registry URL.
    pub scopes: BTreeMap<String, String>,
    /// Nerf-dart (`//host/path/`) → credential fields, with the file they came from.
    auth: BTreeMap<String, AuthFields>,
    /// `proxy`, `https-proxy` and `noproxy`, for lockgate's own requests.
    proxy: Option<String>,
    https_proxy: Option<String>,
    noproxy: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct AuthFields {
    token: Option<String>,
    basic: Option<String>,
    username: Option<String>,
    password_b64: Option<String>,
    source: String,
}

/// Parse npmrc text into key/value pairs (`;`/`#` comments, optional quotes, `${VAR}` expansion).
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with(';')
                || line.starts_with('#')
                || line.starts_with('[')
            {
                return None;
            }
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), expand(v, env)))
        })
        .collect()
}

/// `${NAME}` → the variable's value (empty when unset), as npm does; `\${` stays literal.
fn expand(v: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'\\' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        match rest[i + 2..].find('}') {
            Some(j) => {
                out.push_str(&env(&rest[i + 2..i + 2 + j]).unwrap_or_default());
                rest = &rest[i + 2 + j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl NpmConfig {
    /// Apply one layer of settings over the ones before it.
    pub fn apply(&mut self, pairs: &[(String, String)], source: &str) {
        for (k, v) in pairs {
            if k == "registry" {
                self.registry = Some(v.clone());
            } else if k == "proxy" {
                self.proxy = Some(v.clone());
            } else if k == "https-proxy" {
                self.https_proxy = Some(v.clone());
            } else if k == "noproxy" {
                self.noproxy = Some(v.clone());
            } else if let Some(scope) = k.strip_suffix(":registry").filter(|s| s.starts_with('@')) {
                self.scopes.insert(scope.to_string(), v.clone());
            } else if let Some((nerf, field)) = k
                .starts_with("//")
                .then(|| k.rsplit_once(":_").or_else(|| k.rsplit_once(':')))
                .flatten()
            {
                let a = self.auth.entry(nerf.to_string()).or_default();
                a.source = source.to_string();
                match field.trim_start_matches('_') {
                    "authToken" => a.token = Some(v.clone()),
                    "auth" => a.basic = Some(v.clone()),
                    "username" => a.username = Some(v.clone()),
                    "password" => a.password_b64 = Some(v.clone()),
                    _ => {}
                }
            }
        }
    }

    /// The proxies npm would use: its `https-proxy`/`proxy`/`noproxy` settings over the
    /// environment (see [`Proxies::for_npm`]).
    pub fn proxies(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Proxies, BadProxy> {
        Proxies::for_npm(
            self.https_proxy.as_deref(),
            self.proxy.as_deref(),
            self.noproxy.as_deref(),
            env,
        )
    }

    /// Credentials for every host the npm config has auth for.
    pub fn credentials(&self) -> Vec<Credential> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        self.auth
            .iter()
            .filter_map(|(nerf, a)| {
                let auth = if let Some(t) = a.token.as_ref().filter(|t| !t.is_empty()) {
                    Auth::Bearer(Secret::new(t.clone()))
                } else if let Some(basic) = &a.basic {
                    let raw = String::from_utf8(b64.decode(basic).ok()?).ok()?;
                    let (user, pw) = raw.split_once(':')?;
                    Auth::Basic {
                        user: user.into(),
                        password: Secret::new(pw),
                    }
                } else {
                    let pw = String::from_utf8(b64.decode(a.password_b64.as_ref()?).ok()?).ok()?;
                    Auth::Basic {
                        user: a.username.clone()?,
                        password: Secret::new(pw),
                    }
                };
                Credential::from_nerf_dart(
                    &format!("{}/", nerf.trim_end_matches('/')),
                    auth,
                    a.source.clone(),
                )
            })
            .collect()
    }
}

/// `npm_config_*` environment variables as npmrc pairs (npm lower-cases them and turns `_` into
/// `-`, except for nerf-darted `//host/:key` names, which it keeps).
pub fn env_pairs(vars: impl Iterator<Item = (OsString, OsString)>) -> Vec<(String, String)> {
    vars.filter_map(|(k, v)| {
        let k = k.into_string().ok()?;
        let v = v.into_string().ok()?;
        if k.len() <= 11 || !k[..11].eq_ignore_ascii_case("npm_config_") || v.is_empty() {
            return None;
        }
        let key = &k[11..];
        let key = if key.starts_with("//") {
            key.to_string()
        } else {
            key.replace('_', "-").to_lowercase()
        };
        Some((key, v))
    })
    .collect()
}

/// The settings lockgate reads from npm's own argv — `registry`, `@scope:registry`, nerf-darted
/// `//host/:key`, `userconfig`, `globalconfig` — read as npm reads them (nopt with npm
/// `version`'s option table: `--reg=X` is `--registry=X`; `--@s:registry X` without `=` is a
/// boolean to npm and maps nothing), and the proxy settings `proxy`, `https-proxy`, `noproxy`.
pub fn cli_pairs(args: &[OsString], version: Option<&str>) -> Vec<(String, String)> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let npm = match version.and_then(super::nopt::for_version) {
        Some(n) => n,
        None => super::nopt::all()[0],
    };
    let Ok(parsed) = npm.parse(&args) else {
        return Vec::new();
    };
    parsed
        .data
        .into_iter()
        .filter(|(k, _)| {
            k == "registry"
                || k.ends_with(":registry")
                || k.starts_with("//")
                || k == "userconfig"
                || k == "globalconfig"
                || ["proxy", "https-proxy", "noproxy"].contains(&k.as_str())
        })
        .filter_map(|(k, v)| match v {
            super::nopt::Raw::Str(v) => Some((k, v)),
            _ => None,
        })
        .collect()
}

/// The npmrc files npm reads for a project, lowest precedence first, with labels for messages.
fn files(project: &Path, real_npm: &Path, cli: &[(String, String)]) -> Vec<(PathBuf, String)> {
    // The command line beats the environment (`npm ci --userconfig=ci.npmrc`).
    let env = |k: &str| {
        let key = k.trim_start_matches("npm_config_");
        cli.iter()
            .rev()
            .find(|(c, _)| c == key)
            .map(|(_, v)| OsString::from(v))
            .or_else(|| std::env::var_os(k))
            .or_else(|| std::env::var_os(k.to_uppercase()))
            .filter(|v| !v.is_empty())
    };
    let mut out = Vec::new();
    // builtin: <npm package>/npmrc; global: <node prefix>/etc/npmrc.
    if let Ok(real) = real_npm.canonicalize() {
        if let Some(pkg) = real
            .ancestors()
            .find(|d| d.join("package.json").is_file() && d.ends_with("npm"))
        {
            out.push((pkg.join("npmrc"), "npm's builtin npmrc".to_string()));
        }
    }
    let global = env("npm_config_globalconfig")
        .map(PathBuf::from)
        .or_else(|| {
            let prefix = env("npm_config_prefix").map(PathBuf::from).or_else(|| {
                which::which("node")
                    .ok()
                    .and_then(|n| n.parent()?.parent().map(Path::to_path_buf))
            })?;
            Some(prefix.join("etc/npmrc"))
        });
    if let Some(g) = global {
        let label = g.display().to_string();
        out.push((g, label));
    }
    let user = env("npm_config_userconfig")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".npmrc")));
    if let Some(u) = user {
        let label = u.display().to_string();
        out.push((u, label));
    }
    out.push((
        project.join(".npmrc"),
        project.join(".npmrc").display().to_string(),
    ));
    out
}

/// Read npm's configuration for a project as the real npm would see it.
pub fn load(project: &Path, real_npm: &Path, args: &[OsString]) -> NpmConfig {
    let getenv = |k: &str| std::env::var(k).ok();
    let mut cfg = NpmConfig::default();
    let cli = cli_pairs(args, super::npm_version(real_npm).as_deref());
    for (path, label) in files(project, real_npm, &cli) {
        if let Ok(text) = std::fs::read_to_string(&path) {
            cfg.apply(&parse(&text, &getenv), &label);
        }
    }
    cfg.apply(
        &env_pairs(std::env::vars_os()),
        "npm_config_* environment variables",
    );
    cfg.apply(&cli, "the npm command line");
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "NPM_TOKEN").then(|| "tok123".to_string())
    }

    #[test]
    fn parses_scopes_registry_and_auth() {
        let text = "; comment\n# other\nregistry = \"https://npm-proxy.corp.example/\"\n@myorg:registry=https://npm.corp.example/\n//npm.corp.example/:_authToken=${NPM_TOKEN}\n//basic.example/:_auth=Y2k6cHc=\n//up.example:8443/x/:username=ci\n//up.example:8443/x/:_password=cHc=\nalways-auth=true\n";
        let mut c = NpmConfig::default();
        c.apply(&parse(text, &env), "~/.npmrc");
        assert_eq!(
            c.registry.as_deref(),
            Some("https://npm-proxy.corp.example/")
        );
        assert_eq!(c.scopes["@myorg"], "https://npm.corp.example/");
        let creds = c.credentials();
        assert_eq!(creds.len(), 3);
        let tok = creds.iter().find(|c| c.host == "npm.corp.example").unwrap();
        assert!(matches!(&tok.auth, Auth::Bearer(t) if t.expose() == "tok123"));
        assert_eq!(tok.source, "~/.npmrc");
        let basic = creds.iter().find(|c| c.host == "basic.example").unwrap();
        assert!(
            matches!(&basic.auth, Auth::Basic { user, password } if user == "ci" && password.expose() == "pw")
        );
        let up = creds.iter().find(|c| c.host == "up.example").unwrap();
        assert_eq!((up.port, up.path_prefix.as_str()), (Some(8443), "/x/"));
    }

    #[test]
    fn later_layers_win() {
        let mut c = NpmConfig::default();
        c.apply(&[("@a:registry".into(), "https://one/".into())], "user");
        c.apply(&[("@a:registry".into(), "https://two/".into())], "project");
        assert_eq!(c.scopes["@a"], "https://two/");
    }

    #[test]
    fn env_and_cli() {
        let vars = vec![
            (
                OsString::from("npm_config_registry"),
                OsString::from("https://r/"),
            ),
            (
                OsString::from("NPM_CONFIG_@S:REGISTRY"),
                OsString::from("https://s/"),
            ),
            (
                OsString::from("npm_config_//h/:_authToken"),
                OsString::from("t"),
            ),
            (OsString::from("npm_config_"), OsString::from("x")),
            (OsString::from("HOME"), OsString::from("/h")),
        ];
        let p = env_pairs(vars.into_iter());
        assert!(p.contains(&("registry".into(), "https://r/".into())));
        assert!(p.contains(&("@s:registry".into(), "https://s/".into())));
        assert!(p.contains(&("//h/:_authToken".into(), "t".into())));
        let args: Vec<OsString> = [
            "ci",
            "--registry",
            "https://x/",
            "--@o:registry=https://o/",
            "--loglevel=http",
            "--@p:registry",
            "https://p/",
            "--userconfig",
            "/ci.npmrc",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let c = cli_pairs(&args, None);
        assert_eq!(
            c,
            vec![
                ("registry".into(), "https://x/".into()),
                ("@o:registry".into(), "https://o/".into()),
                ("userconfig".into(), "/ci.npmrc".into()),
            ]
        );
        // npm's abbreviation of `--registry`.
        let reg: Vec<OsString> = ["ci", "--reg=https://y/"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            cli_pairs(&reg, None),
            vec![("registry".into(), "https://y/".into())]
        );
    }

    #[test]
    fn proxy_settings_from_files_and_cli() {
        let mut c = NpmConfig::default();
        c.apply(
            &parse(
                "https-proxy=http://ci:pw@proxy.corp.example:3128\nnoproxy=npm.corp.example\n",
                &env,
            ),
            "~/.npmrc",
        );
        let args: Vec<OsString> = ["ci", "--noproxy", "other.example"]
            .iter()
            .map(OsString::from)
            .collect();
        c.apply(&cli_pairs(&args, None), "the npm command line");
        let no_env = |_: &str| None;
        let p = c.proxies(&no_env).unwrap();
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            p.decide(&url("https://npm.corp.example/x")).map(|p| p
                .url
                .host_str()
                .unwrap()
                .to_string()),
            Some("proxy.corp.example".into())
        );
        assert!(p.decide(&url("https://other.example/x")).is_none());
    }

    #[test]
    fn expansion() {
        assert_eq!(expand("a${NPM_TOKEN}b", &env), "atok123b");
        assert_eq!(expand("${MISSING}", &env), "");
        assert_eq!(expand("\\${NPM_TOKEN}", &env), "${NPM_TOKEN}");
        assert_eq!(expand("${open", &env), "${open");
    }
}
