//! What the gate serves to pip in route mode (`pip install foo`, no lock): a simple index
//! (PEP 691 JSON, or PEP 503 HTML for clients that do not ask for JSON) that answers each project
//! from its one permitted source — internal prefixes from the internal index only, every other
//! name from `[pip] index-url` — never merging the two.
//!
//! Pages are rebuilt, not forwarded: only files of the requested project, with a sha256 from the
//! index (lockgate cannot verify others), and no sdists unless `[pip.build] allow-sdist` names
//! the project; every link points back at the gate. When pip downloads a file, the gate fetches
//! it into the verified store, checking the index's sha256 as it streams, records it in the audit
//! log, and serves the verified copy. Names that look like typosquats are refused, and internal
//! names are also looked up on the public index so that an attacker's copy is counted.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use reqwest::Url;
use serde_json::json;

use super::directref;
use super::index::FileEntry;
use super::name::{is_valid, normalize};
use super::plan::Sources;
use super::wheel::DistName;
use crate::error::{redact_url, Error};
use crate::fetch::{Artifact, Client};
use crate::finding::{Finding, Kind, Severity};
use crate::gate::{percent_decode, GateRequest, Reply, Route};
use crate::integrity::{Alg, Digest};
use crate::report::Reporter;
use crate::store::Store;
use crate::typoguard::{TypoGuard, Verdict};
use crate::typosquat::Age;

/// A file listed on a page the gate served, by its id in `/files/<id>/<filename>`.
struct Listed {
    name: String,
    version: String,
    filename: String,
    url: Url,
    digest: Digest,
    internal: bool,
}

pub struct RouteMode {
    sources: Sources,
    client: Client,
    store: Store,
    reporter: Reporter,
    gate: Url,
    /// Normalized names allowed to install from an sdist.
    allow_sdist: Vec<String>,
    guard: TypoGuard,
    /// The internal index needs a password whose variable is not set: (index, variable).
    missing_password: Option<(Url, String)>,
    files: Mutex<Vec<Listed>>,
    failure: Mutex<Option<Error>>,
    /// Projects whose page had only sdists lockgate withheld.
    only_sdists: Mutex<BTreeSet<String>>,
    checked: Mutex<HashSet<String>>,
    offers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Files pip downloaded through the gate: (package id, internal, bytes downloaded by lockgate).
    pub served: Mutex<Vec<(String, bool, u64)>>,
    /// The release-age cooldown (None: off). Internal names are never filtered.
    pub cooldown: Option<crate::cooldown::Watch>,
    /// `[pip] unsafe-allow-urls`: direct references a dependency may declare.
    allowed_urls: Vec<String>,
    /// The Python the real pip runs with (reads an allowed sdist's build requirements).
    python: PathBuf,
}

impl RouteMode {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sources: Sources,
        client: Client,
        reporter: Reporter,
        store: Store,
        gate: Url,
        allow_sdist: &[String],
        guard: TypoGuard,
        missing_password: Option<(Url, String)>,
        allowed_urls: Vec<String>,
        python: PathBuf,
    ) -> RouteMode {
        RouteMode {
            reporter,
            sources,
            client,
            store,
            gate,
            allow_sdist: allow_sdist.iter().map(|n| normalize(n)).collect(),
            guard,
            missing_password,
            files: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
            only_sdists: Mutex::new(BTreeSet::new()),
            checked: Mutex::new(HashSet::new()),
            offers: Mutex::new(Vec::new()),
            served: Mutex::new(Vec::new()),
            cooldown: None,
            allowed_urls,
            python,
        }
    }

    /// Withhold files younger than `[cooldown] min-age` (None: off).
    pub fn with_cooldown(mut self, watch: Option<crate::cooldown::Watch>) -> RouteMode {
        self.cooldown = watch;
        self
    }

    /// Which files of `name`'s page the cooldown lets pip see (all, when it does not apply).
    fn cooled(
        &self,
        name: &str,
        internal: bool,
        entries: &[FileEntry],
    ) -> Result<Vec<bool>, String> {
        let Some(w) = self
            .cooldown
            .as_ref()
            .filter(|w| !internal && w.applies(name))
        else {
            return Ok(vec![true; entries.len()]);
        };
        let dists: Vec<Option<DistName>> = entries
            .iter()
            .map(|e| DistName::parse(&e.filename).ok())
            .collect();
        let files: Vec<crate::cooldown::IndexFile> = entries
            .iter()
            .zip(&dists)
            .map(|(e, d)| crate::cooldown::IndexFile {
                filename: &e.filename,
                version: d.as_ref().map_or("", |d| d.version()),
                upload_time: e.upload_time.as_deref(),
            })
            .collect();
        w.files(name, &files)
    }

    /// The first error that decides lockgate's exit code (typosquat, auth, integrity…).
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().unwrap().take()
    }

    /// Projects pip could not install because lockgate withheld their only files, sdists.
    pub fn only_sdists(&self) -> Vec<String> {
        self.only_sdists.lock().unwrap().iter().cloned().collect()
    }

    /// Wait for the public-index lookups of internal names (so they are counted).
    pub async fn finish(&self) {
        let handles: Vec<_> = self.offers.lock().unwrap().drain(..).collect();
        for h in handles {
            let _ = h.await;
        }
    }

    fn fail(&self, e: Error) -> Reply {
        let msg = e.to_string();
        let mut f = self.failure.lock().unwrap();
        if f.is_none() {
            *f = Some(e);
        }
        Reply::NotFound(msg)
    }

    /// A request made with the build token for an internal package: what runs inside a build
    /// (pip's build-dependency install, a package's setup code) gets public packages only.
    fn build_refused(&self, name: &str) -> Reply {
        self.reporter.audit(
            "refuse",
            json!({"reason": "internal-package-for-a-build", "package": name}),
        );
        self.fail(Error::Refused {
            findings: vec![Finding::error(Kind::SourceBuild, name, "a request from inside a build")
                .msg("is an internal package, and a build asked the gate for it (pip's build-dependency install or a package's own setup code); builds run the packages' code, so they get public packages only, never internal ones or lockgate's credentials")
                .hint("if a build really needs an internal package, lock the project (a hash-locked requirements file that includes the build requirements): pip then builds offline from verified files")],
        })
    }

    async fn page(&self, raw_name: &str, accept: &str, build: bool) -> Reply {
        let name = normalize(raw_name);
        if !is_valid(&name) {
            return Reply::NotFound(format!("{raw_name} is not a project name"));
        }
        let asked = Path::new("a dependency pip asked the gate for");
        let (index, internal) = self.sources.index_for(&name);
        // A look-alike of a popular public name may be an established package: its page's
        // dates decide below. Any other look-alike is refused before anything is fetched.
        let suspect = self.guard.finding(&name, Severity::Error, asked);
        let datable = suspect.is_some() && !internal && self.guard.needs_age(&name);
        if let (Some(f), false) = (&suspect, datable) {
            return self.fail(Error::Refused {
                findings: vec![f.clone()],
            });
        }
        if internal && build {
            return self.build_refused(&name);
        }
        if internal {
            if let Some((index, var)) = &self.missing_password {
                return self.fail(super::missing_password(&self.reporter, index, var));
            }
            if index.origin() != self.sources.public.origin() {
                self.check_public_offer(&name);
            }
        }
        let (page_url, entries) = match super::project_page(&self.client, index, &name).await {
            Ok(Some(page)) => page,
            Ok(None) => {
                return Reply::NotFound(format!(
                    "{name} is not on {}",
                    crate::fetch::origin_label(index)
                ))
            }
            Err(e) => return self.fail(e),
        };
        if datable {
            let age = super::first_upload(&entries)
                .map_or(Age::Undated, |c| Age::Secs(crate::typoguard::age_since(c)));
            match self.guard.judge(&name, age, Severity::Error, asked) {
                Verdict::Established { message, age } => {
                    crate::typoguard::announce_established(&self.reporter, &name, &message, age);
                }
                Verdict::Suspect(f) => return self.fail(Error::Refused { findings: vec![f] }),
                Verdict::Clear => {}
            }
        }
        self.reporter.audit(
            "route",
            json!({"package": name, "source": source_label(internal), "url": redact_url(page_url.as_str())}),
        );
        let allow_sdist = self.allow_sdist.contains(&name);
        let keep = match self.cooled(&name, internal, &entries) {
            Ok(k) => k,
            Err(msg) => return Reply::NotFound(msg),
        };
        let mut out = Vec::new();
        let mut withheld = false;
        {
            let mut files = self.files.lock().unwrap();
            for (e, _) in entries.into_iter().zip(keep).filter(|(_, k)| *k) {
                let Ok(dist) = DistName::parse(&e.filename) else {
                    continue;
                };
                if normalize(dist.name()) != name {
                    continue; // a page may only list its own project's files
                }
                if crate::feed::hides(crate::feed::Eco::PyPI, &name, dist.version()) {
                    continue; // known malicious: pip never sees it
                }
                if matches!(dist, DistName::Sdist(_)) && !allow_sdist {
                    withheld = true;
                    continue;
                }
                let (Some(digest), Ok(url)) = (
                    e.sha256
                        .as_deref()
                        .and_then(|h| Digest::from_hex(Alg::Sha256, h)),
                    Url::parse(&e.url),
                ) else {
                    continue; // nothing to verify it against
                };
                let id = files.len();
                let gate_url = self
                    .gate
                    .join(&format!("files/{id}/{}", e.filename))
                    .expect("a file name joins");
                files.push(Listed {
                    name: name.clone(),
                    version: dist.version().to_string(),
                    filename: e.filename.clone(),
                    url,
                    digest,
                    internal,
                });
                out.push(FileEntry {
                    url: gate_url.to_string(),
                    ..e
                });
            }
        }
        if out.is_empty() && withheld {
            self.only_sdists.lock().unwrap().insert(name.clone());
        }
        if accept.contains("application/vnd.pypi.simple.v1+json") {
            Reply::Bytes {
                status: 200,
                content_type: "application/vnd.pypi.simple.v1+json".into(),
                body: Bytes::from(json_page(&name, &out)),
            }
        } else {
            Reply::Bytes {
                status: 200,
                content_type: "text/html; charset=utf-8".into(),
                body: Bytes::from(html_page(&name, &out)),
            }
        }
    }

    async fn file(&self, id: &str, filename: &str, build: bool) -> Reply {
        let listed = id.parse::<usize>().ok().and_then(|i| {
            let files = self.files.lock().unwrap();
            files
                .get(i)
                .filter(|f| f.filename == filename)
                .map(|f| Artifact {
                    package: format!("{}=={}", f.name, f.version),
                    name: f.name.clone(),
                    version: f.version.clone(),
                    internal: f.internal,
                    url: f.url.clone(),
                    digest: f.digest.clone(),
                    locate: None,
                })
        });
        let Some(a) = listed else {
            return Reply::NotFound(format!("{filename} was not listed by the gate"));
        };
        if build && a.internal {
            return self.build_refused(&a.name);
        }
        match self.client.fetch_verified(&a, &self.store).await {
            Ok(bytes) => {
                // A store hit re-earns its trust: re-hashed before pip (or the METADATA check)
                // reads it; a planted or changed file is 23, counted and removed.
                let path =
                    match self
                        .store
                        .verified_path(&a.digest, &a.name, &a.version, &self.reporter)
                    {
                        Ok(p) => p,
                        Err(e) => return self.fail(e),
                    };
                if let Some(refused) = self.declared_urls(&a, filename).await {
                    self.reporter.audit(
                        "refuse",
                        json!({"reason": "direct-reference", "package": a.name, "version": a.version, "file": filename, "message": refused.message}),
                    );
                    return self.fail(Error::Refused {
                        findings: vec![refused],
                    });
                }
                self.reporter.audit(
                    "route-download",
                    json!({"package": a.name, "version": a.version, "file": filename, "digest": a.digest.to_string(),
                           "source": source_label(a.internal), "url": redact_url(a.url.as_str()), "downloaded": bytes > 0}),
                );
                self.served
                    .lock()
                    .unwrap()
                    .push((a.package.clone(), a.internal, bytes));
                Reply::File {
                    path,
                    content_type: "application/octet-stream",
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// A direct URL, VCS or path dependency the verified file declares (a wheel's
    /// `Requires-Dist`, an allowed sdist's build requirements) and the policy does not allow:
    /// the refusal, before pip sees the file.
    async fn declared_urls(&self, a: &Artifact, filename: &str) -> Option<Finding> {
        let path = self.store.path(&a.digest);
        let (requires, what) = match DistName::parse(filename) {
            Ok(DistName::Wheel(_)) => {
                let read = std::fs::File::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| directref::wheel_requires(std::io::BufReader::new(f)));
                match read {
                    Ok(r) => (r, "its wheel's METADATA"),
                    Err(e) => {
                        return Some(
                            Finding::error(Kind::Lockfile, &a.package, filename)
                                .msg(format!("the verified wheel {e}, so lockgate cannot tell what it depends on"))
                                .hint("report the broken file to the package's maintainers, or install another version"),
                        )
                    }
                }
            }
            _ => {
                let files = [(path, filename.to_string())];
                match super::interp::build_requirements(&self.python, &files).await {
                    Ok(mut r) => (r.remove(filename).unwrap_or_default(), "its build requirements (pyproject.toml build-system.requires)"),
                    Err(e) => {
                        return Some(
                            Finding::error(Kind::SourceBuild, &a.package, filename)
                                .msg(format!("lockgate cannot read the sdist's build requirements ({e}), so it does not let pip build it"))
                                .hint("install a version with a wheel, or fix the sdist"),
                        )
                    }
                }
            }
        };
        let found = directref::disallowed(&requires, &self.allowed_urls);
        for r in requires
            .iter()
            .filter(|r| directref::direct_url(r).is_some())
        {
            if !found.iter().any(|(f, _)| f == r) {
                eprintln!("lockgate: warning: {} declares `{r}`, allowed by [pip] unsafe-allow-urls: pip fetches it itself, unverified", a.package);
                self.reporter.audit(
                    "unsafe-allowed",
                    json!({"package": a.name, "version": a.version, "requirement": r}),
                );
            }
        }
        (!found.is_empty()).then(|| directref::refusal(&a.package, what, &found))
    }

    fn check_public_offer(&self, name: &str) {
        if !self.checked.lock().unwrap().insert(name.to_string()) {
            return;
        }
        let (client, reporter, public, name) = (
            self.client.clone(),
            self.reporter.clone(),
            self.sources.public.clone(),
            name.to_string(),
        );
        let h = tokio::spawn(async move {
            if let Ok(Some((url, files))) = super::project_page(&client, &public, &name).await {
                if !files.is_empty() {
                    super::public_offer(&reporter, &name, &url, &files);
                }
            }
        });
        self.offers.lock().unwrap().push(h);
    }
}

fn source_label(internal: bool) -> &'static str {
    if internal {
        "internal"
    } else {
        "public"
    }
}

impl Route for RouteMode {
    async fn handle(&self, req: GateRequest) -> Reply {
        let path = percent_decode(&req.path);
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["simple", name] => {
                let accept = req
                    .headers
                    .get("accept")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                self.page(name, accept, req.build_scope()).await
            }
            ["files", id, filename] => self.file(id, filename, req.build_scope()).await,
            _ => Reply::NotFound(format!("{path} is not served")),
        }
    }
}

/// A PEP 691 project page.
pub fn json_page(name: &str, files: &[FileEntry]) -> String {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let mut v =
                json!({"filename": f.filename, "url": f.url, "hashes": {"sha256": f.sha256}});
            if let Some(rp) = &f.requires_python {
                v["requires-python"] = json!(rp);
            }
            v["yanked"] = match f.yanked.as_deref() {
                None => json!(false),
                Some("") => json!(true),
                Some(reason) => json!(reason),
            };
            v
        })
        .collect();
    json!({"meta": {"api-version": "1.0"}, "name": name, "files": files}).to_string()
}

/// A PEP 503 project page, attributes escaped.
pub fn html_page(name: &str, files: &[FileEntry]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for {0}</title></head><body><h1>Links for {0}</h1>\n",
        esc(name)
    );
    for f in files {
        let mut attrs = String::new();
        if let Some(rp) = &f.requires_python {
            attrs.push_str(&format!(" data-requires-python=\"{}\"", esc(rp)));
        }
        if let Some(reason) = &f.yanked {
            attrs.push_str(&format!(" data-yanked=\"{}\"", esc(reason)));
        }
        let hash = f
            .sha256
            .as_deref()
            .map(|h| format!("#sha256={h}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "<a href=\"{}{hash}\"{attrs}>{}</a><br/>\n",
            esc(&f.url),
            esc(&f.filename)
        ));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::index::{parse_html, parse_json};
    use super::*;

    fn files() -> Vec<FileEntry> {
        vec![
            FileEntry {
                filename: "a_b-1.0-py3-none-any.whl".into(),
                url: "http://127.0.0.1:9/files/0/a_b-1.0-py3-none-any.whl".into(),
                sha256: Some("ab".repeat(32)),
                requires_python: Some(">=3.8, <4 & \"x\"".into()),
                yanked: None,
                core_metadata: None,
                upload_time: None,
            },
            FileEntry {
                filename: "a_b-0.9-py3-none-any.whl".into(),
                url: "http://127.0.0.1:9/files/1/a_b-0.9-py3-none-any.whl".into(),
                sha256: Some("cd".repeat(32)),
                requires_python: None,
                yanked: Some("broken <build>".into()),
                core_metadata: None,
                upload_time: None,
            },
        ]
    }

    #[test]
    fn pages_round_trip_through_lockgates_own_parsers() {
        let page = "http://127.0.0.1:9/simple/a-b/";
        assert_eq!(
            parse_json(page, &json_page("a-b", &files())).unwrap(),
            files()
        );
        assert_eq!(
            parse_html(page, &html_page("a-b", &files())).unwrap(),
            files()
        );
        let mut flagged = files();
        flagged[1].yanked = Some(String::new());
        assert!(json_page("a-b", &flagged).contains("\"yanked\":true"));
        assert_eq!(
            parse_html(page, &html_page("a-b", &flagged)).unwrap(),
            flagged
        );
    }
}
