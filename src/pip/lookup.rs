//! The install's lookup of every locked file on its one permitted index, shared by the guarded
//! install and `lockgate check`: the same page, the same choice, the same refusals — an internal
//! name whose locked hash is only on the public index is confusion (22), a hash the index does
//! not list is an integrity failure (23), a version the index does not list is 27.

use futures_util::stream::{self, StreamExt};
use reqwest::Url;
use serde_json::json;

use super::index::FileEntry;
use super::plan::{self, Choice, Lock, Locked, Pick, Sources};
use super::version::Version;
use super::wheel::SupportedTags;
use super::{line, name, project_page, Provenance, PAGE_CONCURRENCY};
use crate::error::{redact_url, Error, Result};
use crate::fetch::{self, Client};
use crate::finding::{Finding, Kind};
use crate::integrity::{Alg, Digest};
use crate::report::{self, Reporter};
use crate::store::Store;

/// What a lookup needs: the client (with the internal index's credentials), where each name
/// may come from, and the policy's sdist allowance.
pub struct Lookup<'a> {
    pub client: &'a Client,
    pub sources: &'a Sources,
    pub allow_sdist: &'a [String],
    pub reporter: &'a Reporter,
    /// The verified store's provenance notes: a warm install needs no page (install only).
    pub store: Option<&'a Store>,
    /// `lockgate check`: files for any platform count, none is chosen for this one.
    pub any_platform: bool,
}

/// The outcome of [`Lookup::look_up`].
pub struct Found {
    pub picks: Vec<(Locked, Vec<Pick>)>,
    pub findings: Vec<Finding>,
    pub failures: Vec<Error>,
}

impl Lookup<'_> {
    /// The choice for `p` from the provenance notes of locked files already in the verified store
    /// that were found on `index` (its permitted index) before; None when that does not settle it
    /// and the index must be asked.
    fn remembered(
        &self,
        p: &Locked,
        index: &Url,
        tags: &SupportedTags,
        python: &Version,
        allow_sdist: bool,
    ) -> Option<Choice> {
        let store = self.store?;
        let listed: Vec<FileEntry> = p
            .sha256
            .iter()
            .filter_map(|hex| {
                let note: Provenance =
                    serde_json::from_str(&store.read_note(&Digest::from_hex(Alg::Sha256, hex)?)?)
                        .ok()?;
                (note.index == index.as_str()).then(|| FileEntry {
                    filename: note.filename,
                    url: note.url,
                    sha256: Some(hex.clone()),
                    requires_python: note.requires_python,
                    yanked: None,
                    core_metadata: None,
                    upload_time: None,
                })
            })
            .collect();
        if listed.is_empty() {
            return None;
        }
        match plan::choose(p, &listed, Some(tags), python, allow_sdist) {
            c @ Choice::Files(_) => Some(c),
            _ => None,
        }
    }

    /// For each locked package, the file(s) to fetch from its permitted index; refused (the
    /// findings) or failed (the most severe error) as the install is.
    pub async fn pick_files(
        &self,
        lock: &Lock,
        tags: Option<&SupportedTags>,
        python: &Version,
        best_tag: &str,
    ) -> Result<Vec<(Locked, Vec<Pick>)>> {
        let found = self.look_up(lock, tags, python, best_tag).await?;
        self.reporter.refuse_on_errors(&found.findings)?;
        if let Some(e) = found.failures.into_iter().min_by_key(|e| e.exit_code()) {
            return Err(e);
        }
        Ok(found.picks)
    }

    /// Every locked package looked up on its permitted index: the files to fetch, the refusals
    /// (confusion, no usable file…) and the failures (integrity, not found). An index that
    /// cannot be asked (unreachable after retries, authentication, insecure) stops the lookup.
    pub async fn look_up(
        &self,
        lock: &Lock,
        tags: Option<&SupportedTags>,
        python: &Version,
        best_tag: &str,
    ) -> Result<Found> {
        let allow = |name: &str| self.allow_sdist.iter().any(|a| name::normalize(a) == name);
        let results: Vec<Result<(Locked, Choice, Url)>> = stream::iter(&lock.packages)
            .map(|p| async move {
                let (index, _) = self.sources.index_for(&p.name);
                // Files verified on an earlier run from this same index need no page.
                if let Some(choice) =
                    tags.and_then(|t| self.remembered(p, index, t, python, allow(&p.name)))
                {
                    return Ok((p.clone(), choice, index.clone()));
                }
                let page = project_page(self.client, index, &p.name).await?;
                let page_url = page
                    .as_ref()
                    .map_or_else(|| index.clone(), |(u, _)| u.clone());
                let listed = page.map(|(_, f)| f).unwrap_or_default();
                Ok((
                    p.clone(),
                    plan::choose(p, &listed, tags, python, allow(&p.name)),
                    page_url,
                ))
            })
            .buffered(PAGE_CONCURRENCY)
            .collect()
            .await;
        let mut picks = Vec::new();
        let mut findings = Vec::new();
        let mut failures = Vec::new();
        for r in results {
            let (p, choice, page_url) = r?;
            let id = p.id();
            let finding = |kind: Kind| Finding::error(kind, &id, &p.file);
            match choice {
                Choice::Files(files) => {
                    for f in files.iter().filter(|f| f.yanked.is_some()) {
                        eprintln!(
                            "lockgate: warning: {} is yanked on the index ({}); installing it because the lock pins it",
                            f.filename,
                            f.yanked.as_deref().filter(|r| !r.is_empty()).unwrap_or("no reason given")
                        );
                    }
                    picks.push((p, files));
                }
                Choice::NotListed | Choice::Mismatch(_) if p.internal && self.public_has(&p, tags, python).await => {
                    findings.push(line(
                        finding(Kind::Confusion)
                            .msg(format!("is an internal package, but its locked hash is found only on the public index {}, not on the internal index", fetch::origin_label(&self.sources.public)))
                            .hint("the lock names the attacker's file: lock it again against the internal index and find out how the public copy got in"),
                        p.line,
                    ));
                }
                Choice::NotListed => failures.push(Error::Unavailable {
                    package: id.clone(),
                    url: redact_url(page_url.as_str()),
                    detail: "does not list this version (a locked artifact must be on its permitted index)".into(),
                }),
                Choice::Mismatch(listed) => {
                    // The index's own hash of the file differs from every locked one: the bytes
                    // changed under a locked version.
                    let f = &listed[0];
                    let (url, computed) = (redact_url(&f.url), format!("sha256:{} (as the index lists it)", f.sha256.as_deref().unwrap_or_default()));
                    let expected = p.sha256.iter().map(|h| format!("sha256:{h}")).collect::<Vec<_>>().join(" or ");
                    self.reporter.count(report::INTEGRITY_FAILURES, &[("package", &p.name), ("version", &p.version.to_string())]);
                    self.reporter.audit(
                        "refuse",
                        json!({"reason": "integrity", "package": p.name, "version": p.version.to_string(), "url": url, "expected": expected, "computed": computed}),
                    );
                    failures.push(Error::Integrity { package: id.clone(), url, expected, computed });
                }
                Choice::NoneFits { sdist_refused: true, .. } => findings.push(line(plan::sdist_refused(&p.name, &p.version, &p.file), p.line)),
                // `lockgate check` looks at every platform's files: none for this one is fine.
                Choice::NoneFits { .. } if self.any_platform => {}
                Choice::NoneFits { files, .. } => findings.push(line(
                    finding(Kind::Lockfile)
                        .msg(format!(
                            "none of the locked files installs here (Python {python}, most preferred tag {best_tag}): {}",
                            files.join(", ")
                        ))
                        .hint("lock the package on (or for) this platform too, so the lock has a wheel for it"),
                    p.line,
                )),
                Choice::Ambiguous(files) => findings.push(line(
                    finding(Kind::Lockfile)
                        .msg(format!("the index gives no hashes for {} and the lock has several, so lockgate cannot tell which file is which", files.join(", ")))
                        .hint("use an index that publishes sha256 hashes (PEP 503 #sha256= or PEP 691), or lock a single file"),
                    p.line,
                )),
            }
        }
        Ok(Found {
            picks,
            findings,
            failures,
        })
    }

    /// Whether the public index offers one of the locked files of an internal package (the lock
    /// then names the attacker's copy). Audited.
    async fn public_has(&self, p: &Locked, tags: Option<&SupportedTags>, python: &Version) -> bool {
        let Ok(Some((url, listed))) =
            project_page(self.client, &self.sources.public, &p.name).await
        else {
            return false;
        };
        let found = matches!(
            plan::choose(p, &listed, tags, python, true),
            Choice::Files(_) | Choice::NoneFits { .. }
        );
        if found {
            // Counted with the refusal it leads to.
            self.reporter.audit("confusion-attempt", json!({"package": p.name, "version": p.version.to_string(), "public_index": redact_url(url.as_str()), "locked": true}));
        }
        found
    }
}
