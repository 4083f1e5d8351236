//! `lockgate check`'s online pass for npm and Maven: every locked artifact looked up on the one
//! source its name may come from, concurrently, with the verdicts a guarded install reaches by
//! downloading: an internal name whose locked hash is only on the public source is confusion
//! (22), another hash for that version is 23, an artifact the source does not have is 27.
//! npm: the registry's own record (the packument's `versions[v].dist.integrity` /
//! `dist.shasum`); Maven: the repository's `<file>.sha256`, else the file itself, hashed.
//! (pip's pass is [`crate::pip::check_online`].)
//!
//! The verdict is pure ([`verdict`]), and so is the packument reading ([`dist_digests`]).

use futures_util::stream::{self, StreamExt};
use reqwest::Url;

use crate::error::{redact_url, Error, Result};
use crate::fetch::{self, Artifact, Client};
use crate::finding::{Finding, Kind};
use crate::integrity::{parse_sri, Alg, Digest};
use crate::npm;

const ACCEPT: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8";
const CONCURRENCY: usize = 16;

/// The digests a packument records for `version` (`dist.integrity`, each SRI of it, and
/// `dist.shasum` as sha1), or None when the version is not listed.
pub fn dist_digests(packument: &serde_json::Value, version: &str) -> Option<Vec<Digest>> {
    let dist = packument.get("versions")?.get(version)?.get("dist")?;
    let mut out: Vec<Digest> = dist
        .get("integrity")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| parse_sri(s).ok())
        .collect();
    if let Some(d) = dist
        .get("shasum")
        .and_then(|v| v.as_str())
        .and_then(|h| Digest::from_hex(Alg::Sha1, h))
    {
        out.push(d);
    }
    Some(out)
}

/// What the permitted registry says about a locked artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Listed with the locked digest (or with no digest of the locked algorithm to compare).
    Listed,
    /// Listed with another digest of the locked algorithm.
    Changed(Digest),
    /// Not listed.
    Missing,
}

pub fn verdict(locked: &Digest, listed: Option<&[Digest]>) -> Verdict {
    let Some(listed) = listed else {
        return Verdict::Missing;
    };
    if listed.contains(locked) {
        return Verdict::Listed;
    }
    match listed.iter().find(|d| d.alg == locked.alg) {
        Some(other) => Verdict::Changed(other.clone()),
        None => Verdict::Listed,
    }
}

/// The credentials a guarded npm install would use: the `.npmrc` entries, and the internal
/// registry's token from `[npm.internal] token-env` when it is set.
pub fn npm_credentials(
    policy: &crate::policy::Policy,
    npmrc: &npm::npmrc::NpmConfig,
) -> Vec<fetch::Credential> {
    let mut creds = npmrc.credentials();
    if let Some(internal) = &policy.npm.internal {
        if let Some(t) = internal
            .token_env
            .as_ref()
            .and_then(|var| std::env::var(var).ok().map(|t| (var, t)))
            .filter(|(_, t)| !t.is_empty())
        {
            creds.push(fetch::Credential::for_url(
                &internal.registry,
                fetch::Auth::Bearer(crate::error::Secret::new(t.1)),
                format!("${}", t.0),
            ));
        }
    }
    creds
}

async fn listed(client: &Client, registry: &Url, a: &Artifact) -> Result<Option<Vec<Digest>>> {
    let url = npm::plan::packument_url(registry, &a.name);
    match client.get_bytes(&url, Some(ACCEPT), &a.package).await {
        Ok((body, final_url)) => {
            let doc: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| Error::Unavailable {
                    package: a.package.clone(),
                    url: redact_url(final_url.as_str()),
                    detail: format!("answered with a packument lockgate cannot read: {e}"),
                })?;
            Ok(dist_digests(&doc, &a.version))
        }
        Err(e) if crate::fetch::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The npm lockfile's tarballs looked up on their permitted registries: the findings, and how
/// many were looked up. A registry that cannot be asked (auth, insecure, unreachable) stops the
/// check as it stops the install.
pub async fn check_npm(
    lock_path: &std::path::Path,
    sources: &npm::plan::Sources,
    client: &Client,
) -> Result<(Vec<Finding>, usize)> {
    let lock = npm::read_lockfile(lock_path)?;
    let plan = npm::plan::plan(&lock, sources, &npm::plan::Target::any());
    let artifacts = plan.artifacts();
    let results: Vec<Result<Option<Finding>>> = stream::iter(&artifacts)
        .map(|a| async move {
            let registry = sources.registry_for(&a.name);
            let found = listed(client, registry, a).await?;
            let finding = |kind: Kind| Finding::error(kind, &a.package, lock_path);
            Ok(match verdict(&a.digest, found.as_deref()) {
                Verdict::Listed => None,
                Verdict::Changed(other) => Some(
                    finding(Kind::Integrity)
                        .msg(format!(
                            "is locked as {}, but its permitted registry {} records {} for that version: the bytes changed under a locked version",
                            a.digest.sri(),
                            fetch::origin_label(registry),
                            other.sri()
                        ))
                        .hint("find out why the registry's copy changed before installing; if the change is legitimate, lock again through lockgate"),
                ),
                Verdict::Missing if a.internal => {
                    let public = listed(client, &sources.public, a).await.ok().flatten();
                    if verdict(&a.digest, public.as_deref()) == Verdict::Listed && public.is_some() {
                        Some(
                            finding(Kind::Confusion)
                                .msg(format!(
                                    "is an internal package, but its locked integrity is found only on the public registry {}, not on the internal registry {}",
                                    fetch::origin_label(&sources.public),
                                    fetch::origin_label(registry)
                                ))
                                .hint("the lock names the attacker's tarball: lock it again against the internal registry and find out how the public copy got in"),
                        )
                    } else {
                        Some(missing(a, registry, lock_path))
                    }
                }
                Verdict::Missing => Some(missing(a, registry, lock_path)),
            })
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut findings = Vec::new();
    for r in results {
        findings.extend(r?);
    }
    Ok((findings, artifacts.len()))
}

/// What a Maven repository has at `url`: the sha256 it publishes beside the file, else the
/// file's own sha256 (downloaded); None when neither is there.
async fn maven_sha256(client: &Client, url: &Url, label: &str) -> Result<Option<Vec<Digest>>> {
    let not_found = crate::fetch::is_not_found;
    let side = Url::parse(&format!("{url}.sha256")).expect("a URL plus a suffix is a URL");
    match client.get_bytes(&side, None, label).await {
        Ok((body, _)) => {
            let text = String::from_utf8_lossy(&body);
            if let Some(d) = text
                .split_whitespace()
                .next()
                .and_then(|h| Digest::from_hex(Alg::Sha256, h))
            {
                return Ok(Some(vec![d]));
            }
        }
        Err(e) if not_found(&e) => {}
        Err(e) => return Err(e),
    }
    match client.get_bytes(url, None, label).await {
        Ok((body, _)) => Ok(Some(vec![crate::integrity::hash(Alg::Sha256, &body)])),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Maven lock of `dir` looked up on the permitted repositories: findings and how many files
/// were looked up (an unreadable lock is the offline audit's finding: nothing looked up).
pub async fn check_maven(
    dir: &std::path::Path,
    policy: &crate::policy::Policy,
    client: &Client,
) -> Result<(Vec<Finding>, usize)> {
    use crate::maven::{lock, plan};
    let lock_path = dir.join(lock::LOCK_FILE);
    let Some(lock) = std::fs::read_to_string(&lock_path)
        .ok()
        .and_then(|t| lock::parse(&t, &lock_path).ok())
    else {
        return Ok((Vec::new(), 0));
    };
    let sources = plan::Sources::from_policy(&policy.maven);
    let planned = plan::plan(&lock, &lock_path, &sources).files;
    let lock_path = &lock_path;
    let sources = &sources;
    let results: Vec<Result<Option<Finding>>> = stream::iter(&planned)
        .map(|p| async move {
            let label = p.label();
            let (repo, _) = sources.source_for(&p.coords);
            let found = maven_sha256(client, &p.url, &label).await?;
            let finding = |kind: Kind| Finding::error(kind, &label, lock_path);
            let locked = p.digest();
            Ok(match verdict(&locked, found.as_deref()) {
                Verdict::Listed => None,
                Verdict::Changed(other) => Some(
                    finding(Kind::Integrity)
                        .msg(format!(
                            "is locked as sha256:{}, but its permitted repository {} has sha256:{} for {}",
                            locked.hex(),
                            fetch::origin_label(repo),
                            other.hex(),
                            p.path
                        ))
                        .hint("find out why the repository's file changed before building; if the change is legitimate, run `lockgate lock mvn` and review the diff"),
                ),
                Verdict::Missing if p.internal && sources.probe_public() => {
                    let public = plan::url_in(&sources.public, &p.path);
                    let there = maven_sha256(client, &public, &label).await.ok().flatten();
                    if there.as_deref().is_some_and(|d| d.contains(&locked)) {
                        Some(
                            finding(Kind::Confusion)
                                .msg(format!(
                                    "is in an internal group, but its locked sha256 is found only on the public repository {}, not on the internal one {}",
                                    fetch::origin_label(&sources.public),
                                    fetch::origin_label(repo)
                                ))
                                .hint("the lock names the attacker's file: lock again against the internal repository and find out how the public copy got in"),
                        )
                    } else {
                        Some(missing_maven(&label, repo, lock_path))
                    }
                }
                Verdict::Missing => Some(missing_maven(&label, repo, lock_path)),
            })
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut findings = Vec::new();
    for r in results {
        findings.extend(r?);
    }
    Ok((findings, planned.len()))
}

fn missing_maven(label: &str, repo: &Url, lock_path: &std::path::Path) -> Finding {
    Finding::error(Kind::Unavailable, label, lock_path)
        .msg(format!(
            "is not on its permitted repository {} (a locked file must be there)",
            fetch::origin_label(repo)
        ))
        .hint("publish it there, or lock again with `lockgate lock mvn`")
}

fn missing(a: &Artifact, registry: &Url, lock_path: &std::path::Path) -> Finding {
    Finding::error(Kind::Unavailable, &a.package, lock_path)
        .msg(format!(
            "is not on its permitted registry {} (a locked artifact must be there)",
            fetch::origin_label(registry)
        ))
        .hint("publish it there, or lock a version the registry has")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRI: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";

    #[test]
    fn packument_digests_and_verdicts() {
        let doc = serde_json::json!({"versions": {"1.0.0": {"dist": {
            "integrity": SRI, "shasum": "aa".repeat(20)}}}});
        let got = dist_digests(&doc, "1.0.0").unwrap();
        assert_eq!(got.len(), 2);
        assert!(dist_digests(&doc, "2.0.0").is_none());
        let locked = parse_sri(SRI).unwrap();
        assert_eq!(verdict(&locked, Some(&got)), Verdict::Listed);
        assert_eq!(verdict(&locked, None), Verdict::Missing);
        let other = Digest {
            alg: Alg::Sha512,
            bytes: vec![0; 64],
        };
        assert_eq!(
            verdict(&other, Some(&got)),
            Verdict::Changed(got[0].clone())
        );
        // Only a sha1 listed and a sha512 locked: nothing to compare, not a mismatch.
        assert_eq!(verdict(&other, Some(&got[1..])), Verdict::Listed);
    }
}
