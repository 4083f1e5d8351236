//! `lockgate feed update`: fetch `<url><Ecosystem>/all.zip` for npm, PyPI and Maven, verify each
//! is a well-formed OSV archive, keep `MAL-` records (plus `[feed] also` ids), and replace the
//! index atomically.
//!
//! Sources: `https://` (http only on loopback), `file://` and a plain directory, all with OSV's
//! layout. Downloads go through the one HTTP client ([`crate::fetch::Client`]) into a temp file
//! beside the index. Nothing is replaced unless all three archives were read completely and every
//! record in them parsed: an interrupted or malformed update leaves the previous index in use.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::Url;

use super::osv::Record;
use super::{Eco, Entry, FeedPolicy, Index, Meta, DEFAULT_URL};
use crate::error::{redact_url, Error, Result};
use crate::fetch::Client;
use crate::report::Reporter;

/// Where the archives come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Http(Url),
    Dir(PathBuf),
}

impl Source {
    /// `https://…` (http only for loopback), `file:///dir/`, or a directory path.
    pub fn parse(text: &str) -> std::result::Result<Source, String> {
        if let Some(rest) = text.strip_prefix("file://") {
            return Ok(Source::Dir(PathBuf::from(rest)));
        }
        if text.contains("://") {
            let mut url = Url::parse(text).map_err(|e| format!("\"{text}\" is not a URL ({e})"))?;
            crate::policy::check_transport(&url)
                .map_err(|r| format!("\"{}\": {r}", redact_url(text)))?;
            if !url.path().ends_with('/') {
                let p = format!("{}/", url.path());
                url.set_path(&p);
            }
            return Ok(Source::Http(url));
        }
        if text.trim().is_empty() {
            return Err("the feed url is empty".into());
        }
        Ok(Source::Dir(PathBuf::from(text)))
    }

    fn label(&self) -> String {
        match self {
            Source::Http(u) => redact_url(u.as_str()),
            Source::Dir(p) => p.display().to_string(),
        }
    }
}

/// Run `lockgate feed update` with the policy of `cwd` (or `url` from the command line).
pub fn run(cwd: &Path, url: Option<String>) -> Result<i32> {
    let policy = crate::policy::load(cwd)?;
    let feed = &policy.feed;
    let text = url
        .or_else(|| feed.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.into());
    let source = Source::parse(&text).map_err(|e| {
        Error::config(format!("cannot use the feed source: {e}"), "set `[feed] url` to an https:// URL, file:// URL or a directory with OSV's `<Ecosystem>/all.zip` layout")
    })?;
    let path = super::index_path()?;
    let dir = path
        .parent()
        .expect("the index path has a directory")
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    sweep_leftovers(&dir);
    let started = Instant::now();
    let reporter = Reporter::from_env("feed");
    let rt = crate::tool::runtime()?;
    let (bytes, meta) = rt.block_on(build(&source, feed, &dir, reporter.clone()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    tmp.write_all(&bytes)
        .map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("write", tmp.path().to_path_buf(), e))?;
    tmp.persist(&path)
        .map_err(|e| Error::io("replace", &path, e.error))?;
    let counts: Vec<String> = meta
        .records
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect();
    eprintln!(
        "lockgate: feed updated from {}: {} MAL records ({}), {} withdrawn skipped, index {} KiB, {:.1}s",
        meta.source,
        meta.records.iter().map(|(_, n)| n).sum::<usize>(),
        counts.join(", "),
        meta.withdrawn,
        bytes.len() / 1024,
        started.elapsed().as_secs_f64()
    );
    reporter.audit(
        "feed-update",
        serde_json::json!({"source": meta.source, "records": counts, "withdrawn": meta.withdrawn}),
    );
    reporter.flush();
    Ok(0)
}

/// Remove index temp files a killed update left (older than an hour, so a concurrent update's
/// own temp file is never touched).
fn sweep_leftovers(dir: &Path) {
    let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < hour_ago);
        if old && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

const TEMP_PREFIX: &str = ".osv.idx.";

/// Fetch and read every archive; the index bytes and their header.
async fn build(
    source: &Source,
    policy: &FeedPolicy,
    dir: &Path,
    reporter: Reporter,
) -> Result<(Vec<u8>, Meta)> {
    let client = Client::new(Vec::new(), reporter)?;
    let mut entries = Vec::new();
    let mut meta = Meta {
        updated: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
        source: source.label(),
        ..Meta::default()
    };
    for eco in Eco::ALL {
        let archive = match source {
            Source::Dir(d) => {
                let p = d.join(eco.osv_name()).join("all.zip");
                std::fs::File::open(&p).map_err(|e| Error::io("open the feed archive", &p, e))?
            }
            Source::Http(base) => download(&client, base, eco, dir).await?,
        };
        let label = format!(
            "{}{}/all.zip",
            source.label().trim_end_matches('/').to_owned() + "/",
            eco.osv_name()
        );
        let read = read_archive(archive, eco, &policy.also).map_err(|msg| {
            Error::config(
                format!("the feed archive {label} is not a well-formed OSV archive: {msg}; nothing was replaced"),
                "check the mirror (it must serve OSV's `<Ecosystem>/all.zip`) and run `lockgate feed update` again; the previous index stays in use",
            )
        })?;
        meta.records.push((eco.osv_name().to_string(), read.kept));
        meta.withdrawn += read.withdrawn;
        entries.extend(read.entries.into_iter().map(|(n, e)| (eco, n, e)));
    }
    Ok((Index::render(&meta, entries), meta))
}

/// Stream `<base><Eco>/all.zip` into an unnamed temp file beside the index.
async fn download(client: &Client, base: &Url, eco: Eco, dir: &Path) -> Result<std::fs::File> {
    let url = base
        .join(&format!("{}/all.zip", eco.osv_name()))
        .expect("a relative path joins");
    let what = format!("OSV {} feed", eco.osv_name());
    let mut f = client.get(&url, Some("application/zip"), &what).await?;
    let mut file =
        tempfile::tempfile_in(dir).map_err(|e| Error::io("create a temporary file in", dir, e))?;
    loop {
        match f.response.chunk().await {
            Ok(Some(chunk)) => file.write_all(&chunk).map_err(|e| Error::io("write a temporary file in", dir, e))?,
            Ok(None) => break,
            Err(e) => {
                return Err(Error::Unavailable {
                    package: what,
                    url: redact_url(url.as_str()),
                    detail: format!("broke off while downloading ({e}); nothing was replaced, the previous index stays in use"),
                })
            }
        }
    }
    file.rewind()
        .map_err(|e| Error::io("read a temporary file in", dir, e))?;
    Ok(file)
}

/// What one archive gave.
#[derive(Debug, Default)]
pub struct Archive {
    /// (package name, entry) for every affected package of a kept record.
    pub entries: Vec<(String, Entry)>,
    pub kept: usize,
    pub withdrawn: usize,
}

/// Read an OSV `all.zip`: every `.json` member must be an OSV record; `MAL-` records (and
/// `also` ids) that are not withdrawn are kept, for the packages of `eco` they name.
pub fn read_archive(
    file: impl Read + Seek,
    eco: Eco,
    also: &[String],
) -> std::result::Result<Archive, String> {
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive ({e})"))?;
    let mut out = Archive::default();
    let mut records = 0usize;
    let mut text = String::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| format!("member {i}: {e}"))?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().to_string();
        if !name.ends_with(".json") {
            return Err(format!("`{name}` is not an OSV record (.json)"));
        }
        text.clear();
        member
            .read_to_string(&mut text)
            .map_err(|e| format!("`{name}`: {e}"))?;
        let record: Record = serde_json::from_str(&text)
            .map_err(|e| format!("`{name}` is not an OSV record: {e}"))?;
        if record.id.trim().is_empty() {
            return Err(format!("`{name}` has an empty id"));
        }
        records += 1;
        if !(record.id.starts_with("MAL-") || also.contains(&record.id)) {
            continue;
        }
        if record.withdrawn.is_some() {
            out.withdrawn += 1;
            continue;
        }
        out.kept += 1;
        for a in &record.affected {
            let Some(p) = a
                .package
                .as_ref()
                .filter(|p| Eco::from_osv(&p.ecosystem) == Some(eco))
            else {
                continue;
            };
            out.entries.push((
                p.name.clone(),
                Entry {
                    id: record.id.clone(),
                    summary: record
                        .summary
                        .clone()
                        .unwrap_or_default()
                        .replace(['\n', '\r', '\t'], " "),
                    published: record.published.clone().unwrap_or_default(),
                    versions: a.versions.clone(),
                    ranges: a
                        .ranges
                        .iter()
                        .filter(|r| r.is_versioned())
                        .cloned()
                        .collect(),
                },
            ));
        }
    }
    if records == 0 {
        return Err("it holds no OSV records".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const DEBUG: &str = include_str!("testdata/MAL-2025-46974.json");

    #[test]
    fn keeps_mal_records_and_skips_withdrawn() {
        let withdrawn = r#"{"id":"MAL-2025-9","withdrawn":"2025-09-10T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"chalk"},"versions":["5.6.1"]}]}"#;
        let ghsa = r#"{"id":"GHSA-aaaa-bbbb-cccc","affected":[{"package":{"ecosystem":"npm","name":"x"},"versions":["1.0.0"]}]}"#;
        let bytes = zip_of(&[
            ("MAL-2025-46974.json", DEBUG),
            ("MAL-2025-9.json", withdrawn),
            ("GHSA-aaaa-bbbb-cccc.json", ghsa),
        ]);
        let r = read_archive(Cursor::new(&bytes), Eco::Npm, &[]).unwrap();
        assert_eq!((r.kept, r.withdrawn, r.entries.len()), (1, 1, 1));
        assert_eq!(r.entries[0].0, "debug");
        let r = read_archive(
            Cursor::new(&bytes),
            Eco::Npm,
            &["GHSA-aaaa-bbbb-cccc".into()],
        )
        .unwrap();
        assert_eq!(r.kept, 2);
        // Another ecosystem's archive does not index npm packages.
        assert!(read_archive(Cursor::new(&bytes), Eco::PyPI, &[])
            .unwrap()
            .entries
            .is_empty());
    }

    #[test]
    fn malformed_archives_are_refused() {
        assert!(
            read_archive(Cursor::new(b"not a zip".to_vec()), Eco::Npm, &[])
                .unwrap_err()
                .contains("not a zip")
        );
        let bad = zip_of(&[("MAL-1.json", DEBUG), ("MAL-2.json", r#"{"id": 5}"#)]);
        assert!(read_archive(Cursor::new(bad), Eco::Npm, &[])
            .unwrap_err()
            .contains("MAL-2.json"));
        let empty = zip_of(&[]);
        assert!(read_archive(Cursor::new(empty), Eco::Npm, &[])
            .unwrap_err()
            .contains("no OSV records"));
        let wrong = zip_of(&[("README.md", "hi")]);
        assert!(read_archive(Cursor::new(wrong), Eco::Npm, &[]).is_err());
    }

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("file:///srv/osv").unwrap(),
            Source::Dir("/srv/osv".into())
        );
        assert_eq!(
            Source::parse("/srv/osv").unwrap(),
            Source::Dir("/srv/osv".into())
        );
        assert!(
            matches!(Source::parse("https://mirror.corp/osv").unwrap(), Source::Http(u) if u.as_str() == "https://mirror.corp/osv/")
        );
        assert!(Source::parse("http://mirror.corp/osv/").is_err());
        assert!(Source::parse("http://127.0.0.1:8080/").is_ok());
    }
}
