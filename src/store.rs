//! The verified store: a content-addressed directory that only ever holds bytes whose hash matched.
//!
//! Layout: `<root>/<alg>/<2 hex>/<rest of hex>` for verified files and `<root>/tmp/` for downloads in
//! progress. A download streams into a `*.partial` file in `tmp/` and is renamed into place only
//! after its digest matched (rustup's pattern), so even a `kill -9` mid-download leaves nothing
//! unverified under a digest name. Stale partial files are swept on open.
//!
//! The store re-earns trust on every run (issue 8): a file under a digest name proves nothing by
//! itself (another process may have planted or changed it), so
//! - [`Store::open`] refuses (20) a root, or any directory in its first two levels, that is a
//!   symbolic link, not owned by this user, or writable by group or others;
//! - bytes taken from the store are re-hashed before they are served, linked or copied
//!   ([`Store::reverify`], [`Store::verified_path`]), opened without following symbolic links
//!   (each directory below the root is checked, the file is opened with `O_NOFOLLOW`); a mismatch
//!   is refused (23), counted (`registry_integrity_verification_failure_total`) and the bad file
//!   removed. Content this process committed itself (hashed while it streamed in) is not hashed
//!   twice.

use std::collections::HashSet;
use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::error::{Error, Result};
use crate::integrity::{Digest, StreamHasher};
use crate::report::{self, Reporter};

/// Partial downloads older than this are left-overs of a killed run.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Content hashed by this process (committed or re-verified): not hashed again.
    verified: Arc<Mutex<HashSet<Digest>>>,
}

/// What re-hashing a stored file found.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    Good,
    /// The bytes hash to something else (the computed digest), or the entry is not a plain
    /// file in a trusted directory (a symbolic link, a directory, …): described.
    Bad(String),
    Missing,
}

impl Store {
    /// The store at `LOCKGATE_CACHE_DIR`, else the platform cache dir (`~/.cache/lockgate/store`).
    pub fn from_env() -> Result<Store> {
        let root = match std::env::var_os("LOCKGATE_CACHE_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => directories::ProjectDirs::from("dev", "lockgate", "lockgate")
                .map(|p| p.cache_dir().join("store"))
                .ok_or_else(|| {
                    Error::config(
                        "cannot find a cache directory for the verified store (no HOME?)",
                        "set LOCKGATE_CACHE_DIR to a directory lockgate may write",
                    )
                })?,
        };
        Store::open(root)
    }

    pub fn open(root: PathBuf) -> Result<Store> {
        create_private_dir(&root.join("tmp"))?;
        // The root may be reached through a link (LOCKGATE_CACHE_DIR=/cache → /mnt/cache);
        // nothing below it may be one.
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("open the verified store directory", &root, e))?;
        check_trusted(&root)?;
        let tmp = root.join("tmp");
        sweep_stale(&tmp, STALE_PARTIAL, |_| true);
        Ok(Store {
            root,
            verified: Arc::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the verified file for `d` lives (whether or not it exists yet).
    pub fn path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root.join(d.alg.name()).join(&hex[..2]).join(&hex[2..])
    }

    /// Re-hash the stored files of `items` (digest, package, version) that this process has not
    /// hashed yet, in parallel. Every mismatch (or planted link, or non-file) is counted, audited
    /// and its file removed; the first is returned as the error (23). Missing files are left to
    /// the caller (they were never verified: the download step fetches them).
    pub fn reverify<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a Digest, &'a str, &'a str)>,
        reporter: &Reporter,
    ) -> Result<()> {
        let todo: Vec<(&Digest, &str, &str)> = {
            let done = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            let mut seen = HashSet::new();
            items
                .into_iter()
                .filter(|(d, _, _)| !done.contains(*d) && seen.insert(*d))
                .collect()
        };
        if todo.is_empty() {
            return Ok(());
        }
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4)
            .min(todo.len());
        let next = AtomicUsize::new(0);
        let results: Vec<(usize, Check)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((d, _, _)) = todo.get(i) else { break };
                            out.push((i, self.check(d)));
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let mut first = None;
        let mut results = results;
        results.sort_by_key(|(i, _)| *i);
        for (i, check) in results {
            let (d, package, version) = todo[i];
            match check {
                Check::Good => {
                    self.mark_verified(d);
                }
                Check::Missing => {}
                Check::Bad(seen) => {
                    let e = self.refuse(d, package, version, seen, reporter);
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The path of verified content `d` of `package`@`version`, re-hashed now unless this
    /// process hashed it already; a mismatch is refused (23), counted and removed, a missing
    /// file is an I/O error. For callers that link or copy a file out of the store.
    pub fn verified_path(
        &self,
        d: &Digest,
        package: &str,
        version: &str,
        reporter: &Reporter,
    ) -> Result<PathBuf> {
        self.reverify([(d, package, version)], reporter)?;
        let path = self.path(d);
        if !self.is_verified(d) {
            return Err(Error::io(
                "read",
                &path,
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        Ok(path)
    }

    fn is_verified(&self, d: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(d)
    }

    fn mark_verified(&self, d: &Digest) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(d.clone());
    }

    /// Count, audit and remove a bad stored file; the refusal.
    fn refuse(
        &self,
        d: &Digest,
        package: &str,
        version: &str,
        seen: String,
        reporter: &Reporter,
    ) -> Error {
        let path = self.path(d);
        let removed = remove_entry(&path);
        reporter.count(
            report::INTEGRITY_FAILURES,
            &[("package", package), ("version", version)],
        );
        reporter.audit(
            "refuse",
            json!({"reason": "integrity", "package": package, "version": version,
                   "url": path.display().to_string(), "expected": d.to_string(),
                   "computed": seen, "removed": removed, "where": "verified store"}),
        );
        Error::Integrity {
            package: format!("{package}@{version}"),
            url: format!(
                "the verified store's {} ({})",
                path.display(),
                if removed {
                    "removed; it is downloaded again on the next run"
                } else {
                    "could not be removed: delete it"
                }
            ),
            expected: d.to_string(),
            computed: seen,
        }
    }

    /// Re-hash the stored file of `d` without following links.
    fn check(&self, d: &Digest) -> Check {
        let path = self.path(d);
        let mut dir = self.root.clone();
        for part in [d.alg.name().to_string(), d.hex()[..2].to_string()] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
                Ok(_) => return Check::Bad(format!("{} is not a plain directory", dir.display())),
                Err(_) => return Check::Missing,
            }
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Check::Missing,
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return Check::Bad("a symbolic link planted under the digest name".into())
            }
            Err(e) => return Check::Bad(format!("unreadable: {e}")),
        };
        match file.metadata() {
            Ok(m) if m.is_file() => {}
            _ => return Check::Bad("not a regular file".into()),
        }
        let mut h = StreamHasher::new(d.alg);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Check::Bad(format!("unreadable: {e}")),
            }
        }
        let computed = h.finish();
        if computed == *d {
            Check::Good
        } else {
            Check::Bad(computed.to_string())
        }
    }

    /// `<root>/<name>`, created private (0700) if missing: for directories other modules keep
    /// in the store (e.g. Maven's run repositories), which must pass the store's trust check.
    pub fn private_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        create_private_dir(&dir)?;
        Ok(dir)
    }

    pub fn contains(&self, d: &Digest) -> bool {
        fs::metadata(self.path(d)).is_ok_and(|m| m.is_file())
    }

    /// A small record about verified content (e.g. which index and file name it came from), kept
    /// beside the store so warm runs need not ask the registry again. Written atomically; a note
    /// only ever describes content that is already verified under its digest.
    pub fn write_note(&self, d: &Digest, text: &str) -> Result<()> {
        let path = self.note_path(d);
        let dir = path.parent().expect("note paths have parents");
        create_private_dir(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io("create a temporary file in", dir, e))?;
        tmp.write_all(text.as_bytes())
            .map_err(|e| Error::io("write", &path, e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io("write", &path, e.error))?;
        Ok(())
    }

    /// The note about `d`, if there is one and the content itself is in the store.
    pub fn read_note(&self, d: &Digest) -> Option<String> {
        if !self.contains(d) {
            return None;
        }
        fs::read_to_string(self.note_path(d)).ok()
    }

    fn note_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("notes")
            .join(d.alg.name())
            .join(format!("{}.json", d.hex()))
    }

    /// Start writing a file that will be stored under `expected` if its bytes hash to it.
    pub fn begin(&self, expected: &Digest) -> Result<Partial> {
        let tmp = self.root.join("tmp");
        let file = tempfile::Builder::new()
            .suffix(".partial")
            .tempfile_in(&tmp)
            .map_err(|e| Error::io("create a temporary file in", &tmp, e))?;
        Ok(Partial {
            writer: BufWriter::with_capacity(128 * 1024, file),
            hasher: StreamHasher::new(expected.alg),
            expected: expected.clone(),
            len: 0,
        })
    }

    /// Store bytes already in memory (used for small files and tests).
    pub fn put(&self, expected: &Digest, data: &[u8]) -> Result<Result<PathBuf, Digest>> {
        let mut p = self.begin(expected)?;
        p.write(data)?;
        p.commit(self)
    }
}

/// A download in progress: bytes go to a temp file and through the hasher at the same time.
pub struct Partial {
    writer: BufWriter<tempfile::NamedTempFile>,
    hasher: StreamHasher,
    expected: Digest,
    len: u64,
}

impl Partial {
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        self.writer
            .write_all(chunk)
            .map_err(|e| Error::io("write", self.writer.get_ref().path(), e))
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Finish: on a digest match the file is renamed into the store and made read-only
    /// (`Ok(Ok(path))`); on a mismatch it is deleted and the computed digest returned
    /// (`Ok(Err(computed))`). Nothing unverified is ever renamed.
    pub fn commit(self, store: &Store) -> Result<Result<PathBuf, Digest>> {
        let computed = self.hasher.finish();
        let file = self.writer.into_inner().map_err(|e| {
            let (err, w) = e.into_parts();
            Error::io("write", w.get_ref().path().to_path_buf(), err)
        })?;
        if computed != self.expected {
            drop(file); // NamedTempFile removes itself
            return Ok(Err(computed));
        }
        let dest = store.path(&self.expected);
        let parent = dest.parent().expect("store paths have parents");
        create_private_dir(parent)?;
        let mut perms = file
            .as_file()
            .metadata()
            .map_err(|e| Error::io("read", file.path().to_path_buf(), e))?
            .permissions();
        perms.set_readonly(true);
        let _ = file.as_file().set_permissions(perms);
        file.persist(&dest)
            .map_err(|e| Error::io("move a verified file to", &dest, e.error))?;
        store.mark_verified(&self.expected);
        Ok(Ok(dest))
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create the verified store directory", dir, e))
}

/// Remove a file or planted link (or directory) under a digest name; whether it is gone.
fn remove_entry(path: &Path) -> bool {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let _ = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    fs::symlink_metadata(path).is_err()
}

/// Refuse (20) a store that others could have written to: `root` and every directory in its
/// first two levels (`sha512/`, `sha512/ab/`, `tmp/`, `notes/…`) must be real directories owned
/// by this user and not writable by group or others.
fn check_trusted(root: &Path) -> Result<()> {
    // SAFETY: a plain getter that cannot fail.
    let me = unsafe { nix::libc::geteuid() };
    let check = |dir: &Path, m: &fs::Metadata| -> Result<()> {
        let problem = if m.file_type().is_symlink() {
            Some("is a symbolic link".to_string())
        } else if m.uid() != me {
            Some(format!(
                "is owned by uid {}, not by this user (uid {me})",
                m.uid()
            ))
        } else if m.mode() & 0o022 != 0 {
            Some(format!(
                "is writable by {} (mode {:o})",
                if m.mode() & 0o002 != 0 {
                    "every user"
                } else {
                    "its group"
                },
                m.mode() & 0o7777
            ))
        } else {
            None
        };
        match problem {
            None => Ok(()),
            Some(p) => Err(Error::config(
                format!(
                    "the verified store cannot be trusted: {} {p}, so files under digest names there may have been planted by someone else",
                    dir.display()
                ),
                format!(
                    "use a store only you can write: `chown -R $(id -u) {root}` and `chmod -R go-w {root}`, or remove it, or point LOCKGATE_CACHE_DIR at a private directory (e.g. under your home)",
                    root = root.display()
                ),
            )),
        }
    };
    let meta = |p: &Path| fs::symlink_metadata(p).map_err(|e| Error::io("check", p, e));
    check(root, &meta(root)?)?;
    let subdirs = |dir: &Path| -> Result<Vec<(PathBuf, fs::Metadata)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))? {
            let e = e.map_err(|e| Error::io("read", dir, e))?;
            let m = meta(&e.path())?;
            if m.is_dir() || m.file_type().is_symlink() {
                out.push((e.path(), m));
            }
        }
        Ok(out)
    };
    for (d1, m1) in subdirs(root)? {
        check(&d1, &m1)?;
        for (d2, m2) in subdirs(&d1)? {
            check(&d2, &m2)?;
        }
    }
    Ok(())
}

/// Remove entries of `dir` whose name `matches` and that were last modified more than
/// `older_than` ago: left-overs of runs that were killed. Files and directories alike.
pub fn sweep_stale(dir: &Path, older_than: Duration, matches: impl Fn(&str) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > older_than);
        if old && matches(&e.file_name().to_string_lossy()) {
            let p = e.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::{hash, Alg};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn verified_bytes_land_under_their_digest_and_mismatches_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let good = hash(Alg::Sha512, b"tarball");
        assert!(!store.contains(&good));

        let bad = store.put(&good, b"tampered").unwrap().unwrap_err();
        assert_eq!(bad, hash(Alg::Sha512, b"tampered"));
        assert!(!store.contains(&good));
        assert_eq!(fs::read_dir(dir.path().join("s/tmp")).unwrap().count(), 0);

        assert_eq!(
            store.read_note(&good),
            None,
            "no note for content not in the store"
        );
        let p = store.put(&good, b"tarball").unwrap().unwrap();
        store.write_note(&good, "{\"from\":\"x\"}").unwrap();
        assert_eq!(store.read_note(&good).as_deref(), Some("{\"from\":\"x\"}"));
        assert_eq!(fs::read(&p).unwrap(), b"tarball");
        assert!(store.contains(&good));
        assert!(fs::metadata(&p).unwrap().permissions().readonly());
        assert!(p.starts_with(dir.path().join("s/sha512")));
    }

    #[test]
    fn planted_bytes_and_links_are_refused_counted_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let good = hash(Alg::Sha512, b"tarball");
        let other = hash(Alg::Sha512, b"other");
        {
            let store = Store::open(root.clone()).unwrap();
            store.put(&good, b"tarball").unwrap().unwrap();
            store.put(&other, b"other").unwrap().unwrap();
        }
        // A new run (nothing hashed by this process yet); someone planted bytes and a link.
        let store = Store::open(root.clone()).unwrap();
        let p = store.path(&good);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&p, b"evil").unwrap();
        let q = store.path(&other);
        fs::remove_file(&q).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &q).unwrap();
        fs::write(dir.path().join("elsewhere"), b"other").unwrap();

        let reporter = Reporter::default();
        let e = store
            .reverify(
                [(&good, "left-pad", "1.3.0"), (&other, "x", "1.0.0")],
                &reporter,
            )
            .unwrap_err();
        assert_eq!(e.exit_code(), 23);
        assert!(e.to_string().contains("left-pad@1.3.0"), "{e}");
        assert!(
            !p.exists() && fs::symlink_metadata(&q).is_err(),
            "both removed"
        );
        assert!(
            fs::read(dir.path().join("elsewhere")).is_ok(),
            "link target untouched"
        );

        // Good content passes, once hashed it is not hashed again, and a missing file is not
        // a mismatch (the download step fetches it).
        store.put(&good, b"tarball").unwrap().unwrap();
        store
            .reverify([(&good, "left-pad", "1.3.0")], &reporter)
            .unwrap();
        assert_eq!(
            store
                .verified_path(&good, "left-pad", "1.3.0", &reporter)
                .unwrap(),
            p
        );
        store.reverify([(&other, "x", "1.0.0")], &reporter).unwrap();
        assert!(store
            .verified_path(&other, "x", "1.0.0", &reporter)
            .is_err());
    }

    #[test]
    fn a_store_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        Store::open(root.clone()).unwrap();
        for (path, mode) in [(root.clone(), 0o777), (root.join("tmp"), 0o770)] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let e = Store::open(root.clone()).unwrap_err();
            assert_eq!(e.exit_code(), 20, "{e}");
            assert!(e.to_string().contains("writable by"), "{e}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        }
        // A link inside the store (to a directory someone else controls) is refused too.
        fs::create_dir_all(dir.path().join("theirs")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("theirs"), root.join("sha512")).unwrap();
        let e = Store::open(root.clone()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        fs::remove_file(root.join("sha512")).unwrap();
        Store::open(root).unwrap();
    }

    /// The re-hash cost of a warm run (not a pass/fail test; figures go to bench/README.md):
    /// `cargo test --release --bin lockgate store::tests::reverify_cost -- --ignored --nocapture`
    /// with LOCKGATE_REHASH_FILES / LOCKGATE_REHASH_MB (default 947 files, 60 MB in all).
    #[test]
    #[ignore]
    fn reverify_cost() {
        let n: usize = std::env::var("LOCKGATE_REHASH_FILES").map_or(947, |v| v.parse().unwrap());
        let mb: usize = std::env::var("LOCKGATE_REHASH_MB").map_or(60, |v| v.parse().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let mut digests = Vec::new();
        {
            let store = Store::open(root.clone()).unwrap();
            let mut seed = 1u64;
            for i in 0..n {
                // Sizes vary around the mean like tarballs do (a few large, many small).
                let size = (mb << 20) / n * (1 + (i % 7)) * 2 / 8;
                let data: Vec<u8> = (0..size)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (seed >> 33) as u8
                    })
                    .collect();
                let d = hash(Alg::Sha512, &data);
                store.put(&d, &data).unwrap().unwrap();
                digests.push(d);
            }
        }
        let total: u64 = digests
            .iter()
            .map(|d| {
                fs::metadata(Store::open(root.clone()).unwrap().path(d))
                    .unwrap()
                    .len()
            })
            .sum();
        let store = Store::open(root.clone()).unwrap();
        let cpu = || {
            // SAFETY: getrusage fills the struct it is given.
            let mut u: nix::libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { nix::libc::getrusage(nix::libc::RUSAGE_SELF, &mut u) };
            let ms = |t: nix::libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
            ms(u.ru_utime) + ms(u.ru_stime)
        };
        let (t, c) = (std::time::Instant::now(), cpu());
        store
            .reverify(digests.iter().map(|d| (d, "p", "1")), &Reporter::default())
            .unwrap();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let cpu_ms = cpu() - c;
        let t = std::time::Instant::now();
        Store::open(root).unwrap();
        let open_ms = t.elapsed().as_secs_f64() * 1000.0;
        eprintln!(
            "re-hash: {n} files, {:.1} MB in {ms:.0} ms wall, {cpu_ms:.0} ms CPU ({:.0} MB/s wall, page cache warm); Store::open trust check {open_ms:.1} ms",
            total as f64 / 1048576.0,
            total as f64 / 1048576.0 / (ms / 1000.0)
        );
    }
}
