//! What lockgate takes away from the real pip's configuration, and how it says so.
//!
//! Every `PIP_<OPTION>` variable sets that option (`PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS`, even
//! `PIP_REQUIREMENT` and `PIP_EDITABLE`, which add inputs), and pip.conf files do the same; so the
//! real pip runs with `PIP_CONFIG_FILE=/dev/null` (pip then reads no configuration file at all)
//! and without `PIP_*` variables, except a few that only change output or where packages are
//! installed ([`KEEP`]). The settings that would have changed what gets installed or from where
//! are reported, with URLs redacted. Also here: the `.netrc` lookup for the internal index.

use std::path::{Path, PathBuf};

use crate::error::redact_url;

/// `PIP_*` variables passed on: they change pip's output or the install location, never which
/// files are installed or where they come from.
pub const KEEP: &[&str] = &[
    "PIP_BREAK_SYSTEM_PACKAGES",
    "PIP_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_NO_CACHE_DIR",
    "PIP_NO_COLOR",
    "PIP_NO_INPUT",
    "PIP_NO_WARN_SCRIPT_LOCATION",
    "PIP_PREFIX",
    "PIP_PROGRESS_BAR",
    "PIP_QUIET",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_ROOT",
    "PIP_ROOT_USER_ACTION",
    "PIP_TARGET",
    "PIP_USER",
    "PIP_VERBOSE",
];

/// pip options (long names) that change what gets installed or from where: reported when an
/// environment variable or a configuration file sets them.
const SOURCE_OPTIONS: &[&str] = &[
    "config-settings",
    "constraint",
    "editable",
    "extra-index-url",
    "find-links",
    "global-option",
    "index-url",
    "no-binary",
    "no-build-isolation",
    "no-index",
    "only-binary",
    "pre",
    "prefer-binary",
    "requirement",
    "trusted-host",
    "use-pep517",
];

/// The `PIP_*` variables of `vars` to remove, and the reportable ones among them as
/// `PIP_NAME=value (environment)`.
pub fn env_to_remove(
    vars: impl IntoIterator<Item = (String, String)>,
) -> (Vec<String>, Vec<String>) {
    let mut remove = Vec::new();
    let mut report = Vec::new();
    for (name, value) in vars {
        let upper = name.to_ascii_uppercase();
        let Some(option) = upper.strip_prefix("PIP_") else {
            continue;
        };
        if KEEP.contains(&upper.as_str()) {
            continue;
        }
        let option = option.to_ascii_lowercase().replace('_', "-");
        if SOURCE_OPTIONS.contains(&option.as_str()) {
            report.push(format!("{name}={} (environment)", redact_values(&value)));
        }
        remove.push(name);
    }
    (remove, report)
}

/// The configuration files pip 23 would read on Linux, most general first: global
/// (`$XDG_CONFIG_DIRS/pip/pip.conf`, `/etc/pip.conf`), user (`~/.pip/pip.conf`,
/// `$XDG_CONFIG_HOME/pip/pip.conf`), site (`$VIRTUAL_ENV/pip.conf`), and `PIP_CONFIG_FILE`.
pub fn config_files(env: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = env("XDG_CONFIG_DIRS")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/etc/xdg".into())
        .split(':')
        .map(|d| Path::new(d).join("pip/pip.conf"))
        .collect();
    files.push("/etc/pip.conf".into());
    if let Some(home) = home {
        files.push(home.join(".pip/pip.conf"));
        let xdg = env("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map_or_else(|| home.join(".config"), PathBuf::from);
        files.push(xdg.join("pip/pip.conf"));
    }
    files.extend(env("VIRTUAL_ENV").map(|v| Path::new(&v).join("pip.conf")));
    files.extend(
        env("PIP_CONFIG_FILE")
            .filter(|v| v != "/dev/null")
            .map(PathBuf::from),
    );
    files
}

/// The settings in one pip configuration file (INI; `key = value` or `key: value`, any section)
/// that [`SOURCE_OPTIONS`] lists, as `key = value in FILE`.
pub fn config_mentions(text: &str, file: &Path) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(['#', ';', '[']))
        .filter_map(|l| l.split_once(['=', ':']))
        .filter_map(|(k, v)| {
            let key = k.trim().to_ascii_lowercase().replace('_', "-");
            SOURCE_OPTIONS
                .contains(&key.as_str())
                .then(|| format!("{key} = {} in {}", redact_values(v.trim()), file.display()))
        })
        .collect()
}

/// Redacts every URL in a space-separated value (pip reads lists that way).
fn redact_values(v: &str) -> String {
    v.split_whitespace()
        .map(|w| {
            if w.contains("://") {
                redact_url(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `login` and `password` of the `.netrc` entry for `host`, else of the `default` entry, as
/// Python's `netrc` (which pip uses) reads them: whitespace-separated tokens, `machine NAME` or
/// `default` starts an entry.
pub fn netrc_login(text: &str, host: &str) -> Option<(String, String)> {
    /// `machine` is None for the `default` entry.
    struct Entry {
        machine: Option<String>,
        login: String,
        password: String,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut tokens = text.split_whitespace();
    while let Some(t) = tokens.next() {
        match t {
            "machine" | "default" => entries.push(Entry {
                machine: (t == "machine").then(|| tokens.next().unwrap_or_default().to_string()),
                login: String::new(),
                password: String::new(),
            }),
            "login" | "password" | "account" => {
                let value = tokens.next().unwrap_or_default().to_string();
                match (entries.last_mut(), t) {
                    (Some(e), "login") => e.login = value,
                    (Some(e), "password") => e.password = value,
                    _ => {}
                }
            }
            // A macro definition runs to the end of its paragraph; nothing after it is needed.
            "macdef" => break,
            _ => {}
        }
    }
    let find = |want: Option<&str>| {
        entries.iter().find(|e| match (&e.machine, want) {
            (Some(m), Some(h)) => m.eq_ignore_ascii_case(h),
            (None, None) => true,
            _ => false,
        })
    };
    find(Some(host))
        .or_else(|| find(None))
        .map(|e| (e.login.clone(), e.password.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_pip_variable_but_reports_only_source_changes() {
        let vars = [
            (
                "PIP_EXTRA_INDEX_URL",
                "https://u:p@pypi.org/simple/ https://mirror.example/simple",
            ),
            ("PIP_FIND_LINKS", "/opt/wheels"),
            ("PIP_REQUIREMENT", "evil.txt"),
            ("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"),
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_TARGET", "/srv/app"),
            ("PYTHONPATH", "/x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (remove, report) = env_to_remove(vars);
        assert_eq!(
            remove,
            [
                "PIP_EXTRA_INDEX_URL",
                "PIP_FIND_LINKS",
                "PIP_REQUIREMENT",
                "PIP_CERT"
            ]
        );
        assert_eq!(
            report,
            [
                "PIP_EXTRA_INDEX_URL=https://pypi.org/simple/ https://mirror.example/simple (environment)",
                "PIP_FIND_LINKS=/opt/wheels (environment)",
                "PIP_REQUIREMENT=evil.txt (environment)",
            ]
        );
    }

    #[test]
    fn config_files_in_pips_order() {
        let env = |k: &str| match k {
            "VIRTUAL_ENV" => Some("/venv".to_string()),
            "PIP_CONFIG_FILE" => Some("/dev/null".to_string()),
            _ => None,
        };
        let files = config_files(&env, Some(Path::new("/home/ci")));
        assert_eq!(
            files,
            [
                "/etc/xdg/pip/pip.conf",
                "/etc/pip.conf",
                "/home/ci/.pip/pip.conf",
                "/home/ci/.config/pip/pip.conf",
                "/venv/pip.conf"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn config_mentions_source_settings_only() {
        let text = "[global]\nindex-url = https://ci:tok@pypi.corp.example/simple/\ncert = /etc/ssl/ca.pem\n\
                    # extra-index-url = https://commented.example/\n[install]\nextra_index_url: https://pypi.org/simple/\ntarget = /srv\n";
        assert_eq!(
            config_mentions(text, Path::new("/etc/pip.conf")),
            [
                "index-url = https://pypi.corp.example/simple/ in /etc/pip.conf",
                "extra-index-url = https://pypi.org/simple/ in /etc/pip.conf"
            ]
        );
    }

    #[test]
    fn netrc_entries() {
        let text = "machine pypi.org login __token__ password pypi-abc\n\
                    machine pypi.corp.example\n  login ci\n  password s3cret account x\n\
                    default login anon password anon-pw\n";
        assert_eq!(
            netrc_login(text, "pypi.corp.example"),
            Some(("ci".into(), "s3cret".into()))
        );
        assert_eq!(
            netrc_login(text, "PyPI.org"),
            Some(("__token__".into(), "pypi-abc".into()))
        );
        assert_eq!(
            netrc_login(text, "other.example"),
            Some(("anon".into(), "anon-pw".into()))
        );
        assert_eq!(netrc_login("machine a login x password y", "b"), None);
        assert_eq!(netrc_login("", "b"), None);
    }
}
