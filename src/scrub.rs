//! Secret scrubbing for the processes that run untrusted code (allowlisted install scripts).
//!
//! The environment keeps what builds need (PATH, HOME, proxies, locale, compiler and node
//! settings) and loses anything that looks like a credential: tokens, secrets, passwords, cloud
//! credentials, CI job tokens, npm nerf-darted auth keys, SSH agent sockets, and any value that
//! embeds `user:password@` in a URL.

use std::ffi::OsString;

/// Names (upper-cased) removed whole.
const EXACT: &[&str] = &[
    "SSH_AUTH_SOCK",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DOCKER_AUTH_CONFIG",
    "KUBECONFIG",
    "NPM_CONFIG__AUTH",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "NETRC",
    "VAULT_ADDR",
];

/// Name prefixes (upper-cased) removed: cloud credential families and npm auth keys.
const PREFIXES: &[&str] = &[
    "AWS_",
    "AZURE_",
    "ARM_",
    "GCP_",
    "GOOGLE_",
    "GCLOUD_",
    "CLOUDSDK_",
    "VAULT_",
    "NPM_CONFIG_//",
];

/// Name parts (upper-cased) that mark a credential anywhere in the name.
const PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "_AUTH",
];

/// Kept even though a pattern matches (harmless switches tools rely on).
const KEEP: &[&str] = &["AWS_REGION", "AWS_DEFAULT_REGION", "NPM_CONFIG_AUTH_TYPE"];

/// Whether an environment variable must not reach untrusted code.
pub fn is_secret(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if KEEP.contains(&upper.as_str()) {
        return false;
    }
    EXACT.contains(&upper.as_str())
        || PREFIXES.iter().any(|p| upper.starts_with(p))
        || PARTS.iter().any(|p| upper.contains(p))
        || url_with_password(value)
}

fn url_with_password(value: &str) -> bool {
    value.split_whitespace().any(|w| {
        w.split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .is_some_and(|authority| {
                authority.contains('@') && authority.split('@').next().unwrap_or("").contains(':')
            })
    })
}

/// The current environment minus secrets, and the names that were removed (for the notice).
pub fn scrubbed_env() -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    for (k, v) in std::env::vars_os() {
        let (ks, vs) = (k.to_string_lossy(), v.to_string_lossy());
        if is_secret(&ks, &vs) {
            removed.push(ks.into_owned());
        } else {
            kept.push((k, v));
        }
    }
    removed.sort();
    (kept, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_credentials() {
        for (k, v) in [
            ("INTERNAL_NPM_TOKEN", "x"),
            ("GITHUB_TOKEN", "x"),
            ("CI_JOB_TOKEN", "x"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x"),
            ("NODE_AUTH_TOKEN", "x"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SESSION_TOKEN", "x"),
            ("AZURE_CLIENT_SECRET", "x"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/k.json"),
            ("INTERNAL_PYPI_PASSWORD", "x"),
            ("DB_PASSWD", "x"),
            ("STRIPE_API_KEY", "x"),
            ("npm_config_//npm.corp.example/:_authToken", "x"),
            ("NPM_CONFIG__AUTH", "x"),
            ("SSH_AUTH_SOCK", "/tmp/agent"),
            ("DATABASE_URL", "postgres://app:hunter2@db:5432/x"),
            ("PIP_INDEX_URL", "https://pypi.corp.example/simple/"),
        ] {
            assert!(is_secret(k, v), "{k} should be removed");
        }
    }

    #[test]
    fn keeps_what_builds_need() {
        for (k, v) in [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/ci"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("no_proxy", "localhost"),
            ("CI", "true"),
            ("NODE_OPTIONS", "--max-old-space-size=4096"),
            ("npm_config_nodedir", "/usr"),
            ("CC", "gcc"),
            ("AWS_REGION", "eu-west-1"),
            ("AUTHOR", "me"),
            ("XAUTHORITY", "/x"),
            ("REPO_URL", "https://github.com/o/r"),
            ("SSH_URL", "git@github.com:o/r"),
        ] {
            assert!(!is_secret(k, v), "{k} should be kept");
        }
    }
}
