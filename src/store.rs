//! The verified store: a content-addressed directory that only ever holds bytes whose hash matched.
//!
//! Layout: `<root>/<alg>/<2 hex>/<rest of hex>` for verified files and `<root>/tmp/` for downloads in
//! progress. A download streams into a `*.partial` file in `tmp/` and is renamed into place only
//! after its digest matched (rustup's pattern), so even a `kill -9` mid-download leaves nothing
//! unverified under a digest name. Stale partial files are swept on open.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::integrity::{Digest, StreamHasher};

/// Partial downloads older than this are left-overs of a killed run.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
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
        let tmp = root.join("tmp");
        create_private_dir(&tmp)?;
        sweep_stale(&tmp, STALE_PARTIAL, |_| true);
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the verified file for `d` lives (whether or not it exists yet).
    pub fn path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root.join(d.alg.name()).join(&hex[..2]).join(&hex[2..])
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
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
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
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        let mut perms = file
            .as_file()
            .metadata()
            .map_err(|e| Error::io("read", file.path().to_path_buf(), e))?
            .permissions();
        perms.set_readonly(true);
        let _ = file.as_file().set_permissions(perms);
        file.persist(&dest)
            .map_err(|e| Error::io("move a verified file to", &dest, e.error))?;
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
}
