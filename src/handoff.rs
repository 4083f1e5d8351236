//! The hand-off to the real tool, built once for npm, pip and Maven.
//!
//! Two layers, so that a mistake in one does not become code execution or a leak:
//! - **argv** (built per tool from the parsed invocation, `npm::npm_argv` and pip's
//!   `command_args`): lockgate's options go in front of anything the tool reads as "end of
//!   options", never appended after a `--` where they would be positionals; the same settings are
//!   also given in the environment where the tool reads them (`npm_config_*`);
//! - **environment**: the real tool (and anything it starts) gets an *allowlisted* environment
//!   ([`tool_env`]): the basics a process needs (PATH, HOME, locale, terminal, temp dirs,
//!   certificate bundles) and the tool's own harmless output/location settings, nothing else — no
//!   CI secret, token or cloud credential survives, whatever its name. The proxy variables point
//!   at the gate, which refuses every proxied request that is not for itself, so a URL the tool
//!   tries to fetch on its own (a direct-URL dependency, a `resolved` host lockgate did not
//!   rewrite) fails closed and is reported.
//!
//! `LOCKGATE_PASS_ENV` (comma-separated names) passes further variables a build really needs
//! (e.g. a test database URL for `mvn verify`); it is the user's explicit choice.

use std::ffi::OsString;

use crate::tool::Tool;

/// The variable naming extra environment variables to pass to the real tool.
pub const PASS_ENV_VAR: &str = "LOCKGATE_PASS_ENV";

/// Passed to every real tool and script: what a process needs to run, print and find files.
const BASE: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TMP",
    "TEMP",
    "COLUMNS",
    "LINES",
    "CI",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "SOURCE_DATE_EPOCH",
];

/// Name prefixes passed to every tool (locale categories).
const BASE_PREFIXES: &[&str] = &["LC_"];

/// npm: node's own switches and npm settings that only change output, layout or where files go
/// (`npm_config_<key>`, matched case-insensitively with `-` as `_`, as npm reads them). Auth keys
/// (`_authToken`, `//host/:…`), registries, proxies and script settings are not here: lockgate
/// sets those itself.
const NPM: &[&str] = &["NODE_ENV", "NODE_OPTIONS", "NODE_PATH"];
const NPM_CONFIG_KEYS: &[&str] = &[
    "also",
    "audit",
    "cache",
    "color",
    "cpu",
    "dev",
    "engine_strict",
    "fetch_retries",
    "fetch_retry_factor",
    "fetch_retry_maxtimeout",
    "fetch_retry_mintimeout",
    "fetch_timeout",
    "force",
    "foreground_scripts",
    "fund",
    "global",
    "globalconfig",
    "include",
    "include_workspace_root",
    "install_links",
    "install_strategy",
    "legacy_peer_deps",
    "libc",
    "location",
    "lockfile_version",
    "loglevel",
    "logs_dir",
    "logs_max",
    "node_gyp",
    "nodedir",
    "offline",
    "omit",
    "only",
    "optional",
    "os",
    "package_lock",
    "prefer_offline",
    "prefer_online",
    "prefix",
    "production",
    "progress",
    "python",
    "save",
    "save_exact",
    "save_prefix",
    "strict_peer_deps",
    "timing",
    "umask",
    "unicode",
    "update_notifier",
    "userconfig",
    "workspace",
    "workspaces",
    "yes",
];

/// pip (and the builds it may run): interpreter selection and layout, compiler settings.
const PIP: &[&str] = &[
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "PYENV_DIR",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONWARNINGS",
    "CC",
    "CXX",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "PKG_CONFIG_PATH",
    "MAKEFLAGS",
];

/// Maven: the JVM and Maven's own launch settings.
const MAVEN: &[&str] = &[
    "JAVA_HOME",
    "MAVEN_OPTS",
    "MAVEN_HOME",
    "M2_HOME",
    "MAVEN_SKIP_RC",
    "MAVEN_DEBUG_OPTS",
    "JDK_JAVA_OPTIONS",
    "JAVA_TOOL_OPTIONS",
];

/// The hosts a confined tool reaches without the proxy: the gate's.
const LOOPBACK: &str = "127.0.0.1,localhost,::1";

/// Whether `name` passes to `tool` by the built-in allowlist.
pub fn allowed(tool: Tool, name: &str) -> bool {
    if BASE.contains(&name) || BASE_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    match tool {
        Tool::Npm | Tool::Npx => NPM.contains(&name) || npm_config_allowed(name),
        Tool::Pip | Tool::Pip3 => {
            PIP.contains(&name)
                || crate::pip::isolate::KEEP.contains(&name.to_ascii_uppercase().as_str())
        }
        Tool::Mvn => MAVEN.contains(&name),
    }
}

fn npm_config_allowed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .strip_prefix("npm_config_")
        .is_some_and(|k| NPM_CONFIG_KEYS.contains(&k.replace('-', "_").as_str()))
}

/// An allowlisted environment, and the names of what was left out (for one notice).
#[derive(Debug, Default)]
pub struct Env {
    pub vars: Vec<(OsString, OsString)>,
    pub dropped: Vec<String>,
}

impl Env {
    /// Set (or replace) one variable.
    pub fn set(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        let name = name.into();
        self.vars.retain(|(k, _)| *k != name);
        self.vars.push((name, value.into()));
    }

    /// Send every request to `proxy` (the gate, which refuses what is not for itself) and exempt
    /// only loopback (where the gate is) and `direct` (hosts the policy explicitly lets the tool
    /// fetch from itself): the user's `NO_PROXY` is replaced, never merged, so no other host of
    /// theirs is reached directly. `tool::run_child` keeps an explicit list as it is.
    pub fn confine_to(&mut self, proxy: &reqwest::Url, direct: &[String]) {
        let p = format!("http://{}/", proxy.authority());
        for k in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            self.set(k, p.as_str());
        }
        let exempt = std::iter::once(LOOPBACK.to_string())
            .chain(direct.iter().cloned())
            .collect::<Vec<_>>()
            .join(",");
        for k in ["NO_PROXY", "no_proxy", "npm_config_noproxy"] {
            self.set(k, exempt.as_str());
        }
    }

    /// Apply to a command: its environment becomes exactly this one.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        cmd.env_clear().envs(self.vars.iter().map(|(k, v)| (k, v)));
    }
}

/// The allowlisted environment for `tool` from `vars` (normally `std::env::vars_os()`), plus the
/// names in `LOCKGATE_PASS_ENV`.
pub fn tool_env_from(tool: Tool, vars: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
    let extra: Vec<String> = vars
        .iter()
        .find(|(k, _)| k == PASS_ENV_VAR)
        .map(|(_, v)| {
            v.to_string_lossy()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut env = Env::default();
    for (k, v) in vars {
        let name = k.to_string_lossy();
        let passed = extra.iter().any(|e| *e == name) && !tool_setting(tool, &name);
        if allowed(tool, &name) || passed {
            env.vars.push((k, v));
        } else if !name.starts_with("LOCKGATE_") {
            env.dropped.push(name.into_owned());
        }
    }
    env.dropped.sort();
    env
}

/// A variable the tool reads as its own setting (`PIP_REQUIREMENT`, `npm_config_registry`,
/// `MAVEN_ARGS`): `LOCKGATE_PASS_ENV` never passes one, since it can change what is installed or
/// from where without lockgate reading it; the allowlist keeps the harmless ones.
fn tool_setting(tool: Tool, name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    match tool {
        Tool::Pip | Tool::Pip3 => upper.starts_with("PIP_"),
        Tool::Npm | Tool::Npx => upper.starts_with("NPM_CONFIG_"),
        Tool::Mvn => upper.starts_with("MAVEN_") || upper.starts_with("MVN_"),
    }
}

/// The allowlisted environment for `tool` from this process's environment.
pub fn tool_env(tool: Tool) -> Env {
    tool_env_from(tool, std::env::vars_os())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn names(e: &Env) -> Vec<String> {
        e.vars
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn secrets_of_any_name_are_left_out() {
        // The names a denylist missed (issue 8), and plain credentials.
        let vars = env(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("LC_ALL", "C"),
            ("GITHUB_PAT", "ghp_x"),
            ("CI_JOB_JWT", "eyJ"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/x"),
            ("SENTRY_DSN", "https://k@sentry.io/1"),
            ("DOCKER_PASS", "x"),
            ("MY_SERVICE_KEY", "x"),
            ("INTERNAL_NPM_TOKEN", "x"),
            ("npm_config_//npm.corp/:_authToken", "x"),
            ("npm_config__auth", "x"),
            ("npm_config_registry", "https://evil/"),
            ("HTTPS_PROXY", "http://u:p@proxy:3128"),
            ("npm_config_loglevel", "warn"),
            ("NPM_CONFIG_CACHE", "/c"),
            ("PIP_INDEX_URL", "https://u:p@x/simple"),
        ]);
        let e = tool_env_from(Tool::Npm, vars);
        assert_eq!(
            names(&e),
            [
                "PATH",
                "HOME",
                "LC_ALL",
                "npm_config_loglevel",
                "NPM_CONFIG_CACHE"
            ]
        );
        for d in [
            "GITHUB_PAT",
            "SENTRY_DSN",
            "MY_SERVICE_KEY",
            "npm_config_registry",
        ] {
            assert!(e.dropped.iter().any(|n| n == d), "{d} reported as dropped");
        }
    }

    #[test]
    fn each_tool_keeps_only_its_own_settings() {
        let vars = env(&[
            ("VIRTUAL_ENV", "/v"),
            ("PIP_TARGET", "/t"),
            ("PIP_EXTRA_INDEX_URL", "https://pypi.org/simple"),
            ("JAVA_HOME", "/j"),
            ("NODE_ENV", "production"),
        ]);
        assert_eq!(
            names(&tool_env_from(Tool::Pip, vars.clone())),
            ["VIRTUAL_ENV", "PIP_TARGET"]
        );
        assert_eq!(
            names(&tool_env_from(Tool::Mvn, vars.clone())),
            ["JAVA_HOME"]
        );
        assert_eq!(names(&tool_env_from(Tool::Npm, vars)), ["NODE_ENV"]);
    }

    #[test]
    fn pass_env_adds_named_variables_only() {
        let vars = env(&[
            ("LOCKGATE_PASS_ENV", "DATABASE_URL, FEATURE"),
            ("DATABASE_URL", "postgres://localhost/t"),
            ("FEATURE", "1"),
            ("OTHER_SECRET", "x"),
        ]);
        let e = tool_env_from(Tool::Mvn, vars);
        assert_eq!(names(&e), ["DATABASE_URL", "FEATURE"]);
        assert_eq!(e.dropped, ["OTHER_SECRET"]);
        // Never a tool's own setting, which could change what it installs unseen.
        for (tool, var) in [
            (Tool::Pip, "PIP_REQUIREMENT"),
            (Tool::Npm, "npm_config_registry"),
            (Tool::Mvn, "MAVEN_ARGS"),
        ] {
            let vars = env(&[("LOCKGATE_PASS_ENV", var), (var, "x")]);
            let e = tool_env_from(tool, vars);
            assert!(!names(&e).contains(&var.to_string()), "{var}");
            assert_eq!(e.dropped, [var]);
        }
    }

    #[test]
    fn confined_tools_proxy_everything_through_the_gate() {
        let mut e = tool_env_from(Tool::Pip, env(&[("no_proxy", "*"), ("PATH", "/b")]));
        // no_proxy is not on the allowlist in the first place; confine_to also replaces any set.
        e.set("NO_PROXY", "*");
        e.confine_to(&reqwest::Url::parse("http://127.0.0.1:4242/").unwrap(), &[]);
        let got: Vec<(String, String)> = e
            .vars
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        assert!(got.contains(&("HTTPS_PROXY".into(), "http://127.0.0.1:4242/".into())));
        assert!(got.contains(&("http_proxy".into(), "http://127.0.0.1:4242/".into())));
        for k in ["NO_PROXY", "no_proxy", "npm_config_noproxy"] {
            assert!(got.contains(&(k.into(), LOOPBACK.into())), "{k}: {got:?}");
        }
    }
}
