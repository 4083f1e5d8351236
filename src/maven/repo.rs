//! The local repository of a guarded Maven run, laid out from the verified store.
//!
//! Every guarded build starts from a repository holding exactly the locked files — hard links
//! to the store's verified files (copies where the file system refuses a link) — and nothing
//! else: no file of an earlier run, no `_remote.repositories` (Maven accepts untracked files in
//! any mode), no `*.lastUpdated` failure marker that would need `-U`. The directory itself is
//! kept per project (`<store>/maven-runs/kept-<hash of the lock path>/repo`) and made exact
//! again before each run: files that are not a link to the locked store file are deleted, missing
//! ones linked. On an unchanged lock that is a directory walk, where a fresh layout would cost
//! two metadata writes per file (link, then unlink), which a busy disk makes slow. A second
//! build of the same project while one runs gets a fresh temporary layout instead (`flock`).
//! Lock generation uses a fresh, empty repository. Temporary directories of runs killed with
//! SIGKILL are swept a day later.
//!
//! What `mvn install` users expect — the project's artifacts in their own local repository for
//! other builds — is kept by [`export_installed`]: after a successful run, the files Maven
//! installed (`_remote.repositories` entries with an empty repository id) are copied to the
//! user's local repository and marked as installed there. Only those: the user's repository is
//! never read by a guarded run.
//!
//! A hard link shares its bytes with the store. Maven writes only to files it downloads (which
//! it renames into place) or installs (which it writes in place); installing over a locked path
//! would write into the store, so [`RunRepo::written_through`] notices a changed store file after
//! the run and the caller evicts it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};

use super::coords::RepoPath;
use crate::error::{Error, Result};
use crate::integrity::{hash, Alg};
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

/// One run's local repository and private files (settings with the gate token); the temporary
/// directory goes with the run.
pub struct RunRepo {
    run: tempfile::TempDir,
    repo: RepoDir,
    /// Store files linked into the repository, with their modification times before the run.
    linked: Vec<(PathBuf, Option<SystemTime>)>,
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
            linked: Vec::new(),
        })
    }

    /// A repository holding exactly `files` (repository path, verified store file) for a build
    /// of the project whose lock is `lock_path`.
    pub fn prepare(
        store: &Store,
        lock_path: &Path,
        files: &[(&RepoPath, PathBuf)],
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
            linked: Vec::new(),
        };
        let dir = this.repo();
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        this.linked = lay_out(&dir, files)?;
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

    /// Store files written through a link since the layout was made: their bytes are no longer
    /// what was verified.
    pub fn written_through(&self) -> Vec<PathBuf> {
        self.linked
            .iter()
            .filter(|(p, before)| fs::metadata(p).and_then(|m| m.modified()).ok() != *before)
            .map(|(p, _)| p.clone())
            .collect()
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

/// Make `repo` hold exactly `files`: keep links to the right store files, delete every other
/// file, link (else copy) what is missing. Returns the linked store files with their mtimes.
fn lay_out(
    repo: &Path,
    files: &[(&RepoPath, PathBuf)],
) -> Result<Vec<(PathBuf, Option<SystemTime>)>> {
    let mut expected: HashMap<&str, Option<u64>> = HashMap::with_capacity(files.len());
    let mut linked = Vec::with_capacity(files.len());
    for (path, stored) in files {
        let meta = fs::metadata(stored).ok();
        expected.insert(path.as_str(), meta.as_ref().map(|m| m.ino()));
        linked.push((stored.clone(), meta.and_then(|m| m.modified().ok())));
    }
    let present = sanitize(repo, &expected)?;
    let mut made: HashSet<PathBuf> = HashSet::new();
    for (path, stored) in files {
        if present.contains(path.as_str()) {
            continue;
        }
        let dest = repo.join(path.as_str());
        let parent = dest.parent().expect("a repository path has a parent");
        if !made.contains(parent) {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            made.insert(parent.to_path_buf());
        }
        if fs::hard_link(stored, &dest).is_err() {
            fs::copy(stored, &dest).map_err(|e| Error::io("copy a verified file to", &dest, e))?;
        }
    }
    Ok(linked)
}

/// Delete every file under `repo` that is not a link to its expected store file (by inode: the
/// repository is in the store's file system); return the paths kept.
fn sanitize(repo: &Path, expected: &HashMap<&str, Option<u64>>) -> Result<HashSet<String>> {
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
            if is_file
                && expected
                    .get(rel.as_str())
                    .is_some_and(|ino| *ino == Some(e.ino()))
            {
                kept.insert(rel);
            } else {
                fs::remove_file(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
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
    use crate::integrity::{hash, Alg};

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

    #[test]
    fn kept_layout_is_made_exact_before_each_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let put = |bytes: &[u8]| {
            store
                .put(&hash(Alg::Sha256, bytes), bytes)
                .unwrap()
                .unwrap()
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
        assert_eq!(
            ino(&repo.join(jar_path.as_str())),
            ino(&jar),
            "a link to the verified file"
        );
        assert_eq!(
            fs::read(repo.join(pom_path.as_str())).unwrap(),
            b"pom bytes"
        );

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

        // What a run leaves behind: Maven's records, a download, a file replaced.
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

        let run = RunRepo::prepare(&store, &lock, &files).unwrap();
        assert_eq!(run.repo(), repo, "the project's layout is kept");
        let mut left: Vec<String> = Vec::new();
        let mut stack = vec![repo.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    left.push(
                        e.path()
                            .strip_prefix(&repo)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    );
                }
            }
        }
        left.sort();
        assert_eq!(left, [jar_path.as_str(), pom_path.as_str()]);
        assert_eq!(
            ino(&repo.join(pom_path.as_str())),
            ino(&pom),
            "the replaced file is verified again"
        );
        assert_eq!(ino(&repo.join(jar_path.as_str())), ino(&jar));
    }

    #[test]
    fn writes_through_a_link_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let jar = store
            .put(&hash(Alg::Sha256, b"jar"), b"jar")
            .unwrap()
            .unwrap();
        let path = RepoPath::parse("com/example/app/1.0/app-1.0.jar").unwrap();
        let run =
            RunRepo::prepare(&store, &dir.path().join("lock"), &[(&path, jar.clone())]).unwrap();
        assert!(run.written_through().is_empty());
        // What Maven's installer does to an existing file: write it in place.
        std::thread::sleep(Duration::from_millis(10));
        let placed = run.repo().join(path.as_str());
        let mut perms = fs::metadata(&placed).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&placed, perms).unwrap();
        fs::write(&placed, b"built locally").unwrap();
        assert_eq!(run.written_through(), [jar]);
        let fresh = RunRepo::fresh(&store).unwrap();
        assert_eq!(fs::read_dir(fresh.repo()).unwrap().count(), 0);
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
