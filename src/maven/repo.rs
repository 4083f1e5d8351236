//! The local repository of a guarded Maven run, laid out from the verified store.
//!
//! Every guarded build starts from a repository holding exactly the locked files — private
//! copies of the store's verified files — and nothing else: no file of an earlier run, no
//! `_remote.repositories` (Maven accepts untracked files in any mode), no `*.lastUpdated`
//! failure marker that would need `-U`. The directory itself is kept per project
//! (`<store>/maven-runs/kept-<hash of the lock path>/repo`) and made exact again before each
//! run: every file is hashed, and one that is not a locked path with its locked bytes is
//! deleted; missing ones are copied from the store. A second build of the same project while one
//! runs gets a fresh temporary layout instead (`flock`). Lock generation uses a fresh, empty
//! repository. Temporary directories of runs killed with SIGKILL are swept a day later.
//!
//! No write-through: nothing in a build's repository shares storage with the store or with
//! another build's repository. A hard link would (mode 0400 does not stop root, nor an owner who
//! `chmod`s), so files are copied: a copy-on-write clone (`FICLONE`) where the file system has
//! them (btrfs, XFS), else a plain copy. Each store file is hashed as it is copied (bytes from
//! the store are re-earned, not trusted). After the run every laid-out file is hashed again
//! ([`RunRepo::changed`]): bytes that changed are reported and the file is deleted, so the next
//! run copies it afresh. Detection is by hash, never mtime.
//!
//! What `mvn install` users expect — the project's artifacts in their own local repository for
//! other builds — is kept by [`export_installed`]: after a successful run, the files Maven
//! installed (`_remote.repositories` entries with an empty repository id) are copied to the
//! user's local repository and marked as installed there. Only those: the user's repository is
//! never read by a guarded run.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use super::coords::RepoPath;
use crate::error::{Error, Result};
use crate::integrity::{hash, hash_file, Alg, Digest};
use crate::store::Store;

/// A temporary run directory older than this is a left-over of a killed run.
const STALE_RUN: Duration = Duration::from_secs(24 * 3600);

/// Maven's record of where each file of a directory came from.
pub const REMOTE_REPOSITORIES: &str = "_remote.repositories";

/// Where one run's Maven keeps its local repository.
enum RepoDir {
    /// The project's kept layout, held exclusively for the run.
    Kept { path: PathBuf, _guard: Flock<File> },
    /// `repo/` inside the run's temporary directory.
    Temp,
}

/// A locked file whose bytes in the build's repository are no longer the verified ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Repository path (`com/myorg/lib/1.0/lib-1.0.jar`).
    pub path: String,
    pub expected: Digest,
    /// What the file hashes to now; `None` when it was deleted or is unreadable.
    pub seen: Option<Digest>,
}

/// How the verified files reached the repository: counts, for the audit log and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LayoutStats {
    /// Files already in place with the right bytes.
    pub kept: usize,
    /// Copy-on-write clones made.
    pub cloned: usize,
    /// Plain copies made.
    pub copied: usize,
    /// Files deleted because they were not a locked file with its locked bytes.
    pub removed: usize,
}

/// One run's local repository and private files (settings with the gate token); the temporary
/// directory goes with the run.
pub struct RunRepo {
    run: tempfile::TempDir,
    repo: RepoDir,
    /// The locked files laid out: repository path and digest.
    laid_out: Vec<(String, Digest)>,
    pub stats: LayoutStats,
}

impl RunRepo {
    /// An empty repository of its own (lock generation).
    pub fn fresh(store: &Store) -> Result<RunRepo> {
        let run = temp_run_dir(store)?;
        let repo = run.path().join("repo");
        fs::create_dir(&repo).map_err(|e| Error::io("create", &repo, e))?;
        Ok(RunRepo {
            run,
            repo: RepoDir::Temp,
            laid_out: Vec::new(),
            stats: LayoutStats::default(),
        })
    }

    /// A repository holding exactly `files` (repository path, verified digest in `store`) for a
    /// build of the project whose lock is `lock_path`.
    pub fn prepare(
        store: &Store,
        lock_path: &Path,
        files: &[(&RepoPath, Digest)],
    ) -> Result<RunRepo> {
        let run = temp_run_dir(store)?;
        let key = hash(Alg::Sha256, lock_path.as_os_str().as_encoded_bytes()).hex();
        let kept = store
            .root()
            .join("maven-runs")
            .join(format!("kept-{}", &key[..16]));
        let guard = File::create(kept.with_extension("lock"))
            .ok()
            .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok());
        let repo = match guard {
            Some(guard) => RepoDir::Kept {
                path: kept.join("repo"),
                _guard: guard,
            },
            None => RepoDir::Temp,
        };
        let mut this = RunRepo {
            run,
            repo,
            laid_out: files
                .iter()
                .map(|(p, d)| (p.as_str().to_string(), d.clone()))
                .collect(),
            stats: LayoutStats::default(),
        };
        let dir = this.repo();
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        this.stats = lay_out(store, &dir, files)?;
        Ok(this)
    }

    pub fn repo(&self) -> PathBuf {
        match &self.repo {
            RepoDir::Kept { path, .. } => path.clone(),
            RepoDir::Temp => self.run.path().join("repo"),
        }
    }

    /// Write a file only this user can read, removed with the run.
    pub fn write_private(&self, name: &str, text: &str) -> Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.run.path().join(name);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(path)
    }

    /// Locked files whose bytes in the repository changed since the layout (hashed, all of
    /// them). Each is deleted, so no later run of this project sees it; the store never held it.
    pub fn changed(&self) -> Vec<Changed> {
        let repo = self.repo();
        let mut out = Vec::new();
        for (path, expected) in &self.laid_out {
            let file = repo.join(path);
            let seen = hash_file(expected.alg, &file).ok();
            if seen.as_ref() != Some(expected) {
                let _ = fs::remove_file(&file);
                out.push(Changed {
                    path: path.clone(),
                    expected: expected.clone(),
                    seen,
                });
            }
        }
        out
    }
}

/// `<store>/maven-runs/tmp-*`, private, after sweeping those of killed runs.
fn temp_run_dir(store: &Store) -> Result<tempfile::TempDir> {
    let runs = store.private_dir("maven-runs")?;
    crate::store::sweep_stale(&runs, STALE_RUN, |name| name.starts_with("tmp-"));
    tempfile::Builder::new()
        .prefix("tmp-")
        .tempdir_in(&runs)
        .map_err(|e| Error::io("create a run directory in", &runs, e))
}

/// Make `repo` hold exactly `files`: keep files with the locked bytes, delete every other file,
/// copy what is missing from the store (re-hashed on the way).
fn lay_out(store: &Store, repo: &Path, files: &[(&RepoPath, Digest)]) -> Result<LayoutStats> {
    let expected: HashMap<&str, &Digest> = files.iter().map(|(p, d)| (p.as_str(), d)).collect();
    let mut stats = LayoutStats::default();
    let present = sanitize(repo, &expected, &mut stats)?;
    let mut made: HashSet<PathBuf> = HashSet::new();
    for (path, digest) in files {
        if present.contains(path.as_str()) {
            stats.kept += 1;
            continue;
        }
        let dest = repo.join(path.as_str());
        let parent = dest.parent().expect("a repository path has a parent");
        if !made.contains(parent) {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            made.insert(parent.to_path_buf());
        }
        if copy_verified(store, digest, &dest, path.as_str())? {
            stats.cloned += 1;
        } else {
            stats.copied += 1;
        }
    }
    Ok(stats)
}

/// Copy the store's file for `digest` to `dest` (new file, read-only), hashing the store's bytes
/// first: a store file that no longer hashes to its name is removed and refused (23). Returns
/// whether the copy is a copy-on-write clone.
fn copy_verified(store: &Store, digest: &Digest, dest: &Path, label: &str) -> Result<bool> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let src_path = store.path(digest);
    let bytes =
        fs::read(&src_path).map_err(|e| Error::io("read the verified file", &src_path, e))?;
    let computed = hash(digest.alg, &bytes);
    if computed != *digest {
        let _ = fs::remove_file(&src_path);
        return Err(Error::Integrity {
            package: label.to_string(),
            url: src_path.display().to_string(),
            expected: digest.to_string(),
            computed: format!("{computed} (the verified store's copy changed on disk; it was removed and is downloaded and verified again on the next run)"),
        });
    }
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(dest)
        .map_err(|e| Error::io("create", dest, e))?;
    let src = File::open(&src_path).map_err(|e| Error::io("read", &src_path, e))?;
    if clone_file(&src, &out) && hash_file(digest.alg, dest).is_ok_and(|d| d == *digest) {
        return Ok(true);
    }
    out.set_len(0)
        .and_then(|_| out.write_all(&bytes))
        .map_err(|e| Error::io("copy a verified file to", dest, e))?;
    Ok(false)
}

/// A copy-on-write clone of `src` into the empty file `dest` (`FICLONE`): shares blocks until
/// either side writes, then the writer gets its own. `false` where the file system has no
/// clones (ext4, tmpfs: `EOPNOTSUPP`/`EINVAL`/`EXDEV`), and the caller copies.
fn clone_file(src: &File, dest: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: FICLONE takes the source descriptor as its argument; both descriptors are open
    // for the duration of the call and the kernel reads no memory of ours.
    let rc =
        unsafe { nix::libc::ioctl(dest.as_raw_fd(), nix::libc::FICLONE as _, src.as_raw_fd()) };
    rc == 0
}

/// How Maven builds get their files on the store's file system, for `lockgate doctor`.
pub fn layout_note(store_root: &Path) -> &'static str {
    if reflink_supported(store_root) {
        "Maven builds get copy-on-write clones of verified files"
    } else {
        "no copy-on-write clones on this file system: Maven builds get plain copies of verified files"
    }
}

/// Whether this file system makes copy-on-write clones in `dir`.
fn reflink_supported(dir: &Path) -> bool {
    let Ok(a) = tempfile::tempfile_in(dir) else {
        return false;
    };
    let Ok(b) = tempfile::tempfile_in(dir) else {
        return false;
    };
    clone_file(&a, &b)
}

/// Delete every file under `repo` that is not an expected path holding its expected bytes
/// (hashed); return the paths kept.
fn sanitize(
    repo: &Path,
    expected: &HashMap<&str, &Digest>,
    stats: &mut LayoutStats,
) -> Result<HashSet<String>> {
    let mut kept = HashSet::new();
    let mut stack = vec![(repo.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                stack.push((e.path(), format!("{rel}/")));
                continue;
            }
            let is_file = e.file_type().is_ok_and(|t| t.is_file());
            let intact = is_file
                && expected
                    .get(rel.as_str())
                    .is_some_and(|d| hash_file(d.alg, &e.path()).is_ok_and(|h| h == **d));
            if intact {
                kept.insert(rel);
            } else {
                fs::remove_file(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
                stats.removed += 1;
            }
        }
    }
    Ok(kept)
}

/// The files a `_remote.repositories` records as installed locally (an empty repository id:
/// `app-1.0.0.jar>=`), rather than downloaded (`app-1.0.0.jar>central=`).
pub fn installed_files(remote_repositories: &str) -> Vec<&str> {
    remote_repositories
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim().strip_suffix(">="))
        .filter(|name| !name.is_empty() && !name.contains(['/', '>']))
        .collect()
}

/// Copy what Maven installed into the run's repository to the user's local repository `to`, and
/// record it there as installed. Returns the repository paths copied.
pub fn export_installed(repo: &Path, to: &Path) -> Result<Vec<String>> {
    let mut copied = Vec::new();
    let mut stack = vec![repo.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))?;
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
        let record = dir.join(REMOTE_REPOSITORIES);
        let Ok(text) = fs::read_to_string(&record) else {
            continue;
        };
        let rel = dir.strip_prefix(repo).unwrap_or(&dir);
        let dest_dir = to.join(rel);
        let names = installed_files(&text);
        if names.is_empty() {
            continue;
        }
        fs::create_dir_all(&dest_dir).map_err(|e| Error::io("create", &dest_dir, e))?;
        for name in &names {
            let dest = dest_dir.join(name);
            fs::copy(dir.join(name), &dest)
                .map_err(|e| Error::io("copy an installed artifact to", &dest, e))?;
            copied.push(rel.join(name).to_string_lossy().into_owned());
        }
        mark_installed(&dest_dir.join(REMOTE_REPOSITORIES), &names)?;
    }
    copied.sort();
    Ok(copied)
}

/// Add `name>=` lines for `names` to a `_remote.repositories`, keeping what it records.
fn mark_installed(record: &Path, names: &[&str]) -> Result<()> {
    let mut text = match fs::read_to_string(record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", record, e)),
    };
    let present: HashSet<&str> = installed_files(&text).into_iter().collect();
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !present.contains(*n))
        .map(|n| format!("{n}>=\n"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.extend(missing);
    fs::write(record, text).map_err(|e| Error::io("write", record, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Maven 3.8.7 writes it after `mvn install` of com.example:app:1.0.0.
    const INSTALLED: &str = "#NOTE: This is a Maven Resolver internal implementation file, its format can be changed without prior notice.\n#Fri Nov 27 21:47:35 UTC 2026\napp-1.0.0.jar>=\napp-1.0.0.pom>=\n";

    #[test]
    fn installed_entries_are_those_without_a_repository() {
        assert_eq!(
            installed_files(INSTALLED),
            ["app-1.0.0.jar", "app-1.0.0.pom"]
        );
        let downloaded = "#x\ncdi-api-debian.pom>central=\ncdi-api-debian.jar>lockgate-gate=\n";
        assert!(installed_files(downloaded).is_empty());
        assert!(installed_files("../x>=\n>=\n").is_empty());
    }

    fn files_under(repo: &Path) -> Vec<String> {
        let mut left: Vec<String> = Vec::new();
        let mut stack = vec![repo.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(repo).unwrap().to_owned();
                    left.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        left.sort();
        left
    }

    /// Writable again, as root (or the owner after `chmod`) can make any file.
    fn make_writable(p: &Path) {
        let mut perms = fs::metadata(p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(p, perms).unwrap();
    }

    #[test]
    fn kept_layout_is_made_exact_before_each_run() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let put = |bytes: &[u8]| {
            let d = hash(Alg::Sha256, bytes);
            store.put(&d, bytes).unwrap().unwrap();
            d
        };
        let (jar, pom) = (put(b"jar bytes"), put(b"pom bytes"));
        let jar_path = RepoPath::parse("com/myorg/a/1.0/a-1.0.jar").unwrap();
        let pom_path = RepoPath::parse("com/myorg/a/1.0/a-1.0.pom").unwrap();
        let files = [(&jar_path, jar.clone()), (&pom_path, pom.clone())];
        let lock = dir.path().join("project/.mvn/checksums/checksums.sha256");
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();

        let run = RunRepo::prepare(&store, &lock, &files).unwrap();
        let repo = run.repo();
        assert!(
            repo.starts_with(store.root().join("maven-runs")),
            "{}",
            repo.display()
        );
        assert_ne!(
            ino(&repo.join(jar_path.as_str())),
            ino(&store.path(&jar)),
            "a copy, never a link to the verified file"
        );
        assert_eq!(
            fs::read(repo.join(pom_path.as_str())).unwrap(),
            b"pom bytes"
        );
        assert_eq!(run.stats.cloned + run.stats.copied, 2);

        // A second build of the same project while this one runs gets a layout of its own.
        let second = RunRepo::prepare(&store, &lock, &files[..1]).unwrap();
        let second_repo = second.repo();
        assert_ne!(second_repo, repo);
        assert!(second_repo.join(jar_path.as_str()).exists());
        assert!(!second_repo.join(pom_path.as_str()).exists());
        drop(second);
        assert!(
            !second_repo.exists(),
            "a temporary layout goes with its run"
        );

        // What a run leaves behind: Maven's records, a download, a file replaced, a file
        // written in place.
        fs::write(
            repo.join("com/myorg/a/1.0/_remote.repositories"),
            "a-1.0.jar>lockgate-gate=\n",
        )
        .unwrap();
        fs::create_dir_all(repo.join("org/x/1")).unwrap();
        fs::write(repo.join("org/x/1/x-1.jar.lastUpdated"), "").unwrap();
        fs::remove_file(repo.join(pom_path.as_str())).unwrap();
        fs::write(repo.join(pom_path.as_str()), b"not verified").unwrap();
        let settings = run.write_private("settings.xml", "<settings/>").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&settings).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(run);
        assert!(!settings.exists());
        let jar_in_repo = repo.join(jar_path.as_str());
        make_writable(&jar_in_repo);
        fs::write(&jar_in_repo, b"jar bytez").unwrap();

        let run = RunRepo::prepare(&store, &lock, &files).unwrap();
        assert_eq!(run.repo(), repo, "the project's layout is kept");
        assert_eq!(files_under(&repo), [jar_path.as_str(), pom_path.as_str()]);
        assert_eq!(
            fs::read(repo.join(pom_path.as_str())).unwrap(),
            b"pom bytes"
        );
        assert_eq!(
            fs::read(&jar_in_repo).unwrap(),
            b"jar bytes",
            "by hash, not mtime"
        );
        assert_eq!(run.stats.removed, 4);
        drop(run);
        let run = RunRepo::prepare(&store, &lock, &files).unwrap();
        assert_eq!(
            run.stats,
            LayoutStats {
                kept: 2,
                ..LayoutStats::default()
            }
        );
    }

    #[test]
    fn writes_in_the_repository_never_reach_the_store_and_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let jar = hash(Alg::Sha256, b"jar");
        store.put(&jar, b"jar").unwrap().unwrap();
        let path = RepoPath::parse("com/example/app/1.0/app-1.0.jar").unwrap();
        let files = [(&path, jar.clone())];
        let run = RunRepo::prepare(&store, &dir.path().join("lock"), &files).unwrap();
        let other = RunRepo::prepare(&store, &dir.path().join("other-lock"), &files).unwrap();
        assert!(run.changed().is_empty());
        // What Maven's installer does to an existing file: write it in place, as root would.
        let placed = run.repo().join(path.as_str());
        make_writable(&placed);
        fs::write(&placed, b"built locally").unwrap();
        assert_eq!(
            fs::read(store.path(&jar)).unwrap(),
            b"jar",
            "the store is untouched"
        );
        assert_eq!(
            fs::read(other.repo().join(path.as_str())).unwrap(),
            b"jar",
            "another project's build is untouched"
        );
        let changed = run.changed();
        assert_eq!(
            changed,
            [Changed {
                path: path.as_str().into(),
                expected: jar.clone(),
                seen: Some(hash(Alg::Sha256, b"built locally")),
            }]
        );
        assert!(
            !placed.exists(),
            "the changed file is not kept for a later run"
        );
        assert!(other.changed().is_empty());
        let fresh = RunRepo::fresh(&store).unwrap();
        assert_eq!(fs::read_dir(fresh.repo()).unwrap().count(), 0);
    }

    #[test]
    fn a_store_file_that_changed_on_disk_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let jar = hash(Alg::Sha256, b"jar");
        let stored = store.put(&jar, b"jar").unwrap().unwrap();
        make_writable(&stored);
        fs::write(&stored, b"jaR").unwrap();
        let path = RepoPath::parse("com/example/app/1.0/app-1.0.jar").unwrap();
        let e = RunRepo::prepare(&store, &dir.path().join("lock"), &[(&path, jar.clone())])
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 23);
        assert!(!store.contains(&jar));
    }

    #[test]
    fn export_copies_only_installed_files_and_records_them() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("run");
        let app = repo.join("com/example/app/1.0.0");
        fs::create_dir_all(&app).unwrap();
        fs::write(app.join("app-1.0.0.jar"), b"jar").unwrap();
        fs::write(app.join("app-1.0.0.pom"), b"pom").unwrap();
        fs::write(app.join(REMOTE_REPOSITORIES), INSTALLED).unwrap();
        let dep = repo.join("junit/junit/4.13.2");
        fs::create_dir_all(&dep).unwrap();
        fs::write(dep.join("junit-4.13.2.jar"), b"junit").unwrap();
        fs::write(
            dep.join(REMOTE_REPOSITORIES),
            "junit-4.13.2.jar>lockgate-gate=\n",
        )
        .unwrap();

        let user = dir.path().join("m2");
        let user_app = user.join("com/example/app/1.0.0");
        fs::create_dir_all(&user_app).unwrap();
        fs::write(
            user_app.join(REMOTE_REPOSITORIES),
            "app-1.0.0-sources.jar>=\napp-1.0.0.pom>=",
        )
        .unwrap();

        let copied = export_installed(&repo, &user).unwrap();
        assert_eq!(
            copied,
            [
                "com/example/app/1.0.0/app-1.0.0.jar",
                "com/example/app/1.0.0/app-1.0.0.pom"
            ]
        );
        assert_eq!(fs::read(user_app.join("app-1.0.0.jar")).unwrap(), b"jar");
        assert!(!user.join("junit").exists());
        let record = fs::read_to_string(user_app.join(REMOTE_REPOSITORIES)).unwrap();
        assert_eq!(
            record,
            "app-1.0.0-sources.jar>=\napp-1.0.0.pom>=\napp-1.0.0.jar>=\n"
        );
    }
}
