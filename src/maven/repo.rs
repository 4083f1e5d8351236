//! The local repository of one guarded Maven run, laid out from the verified store.
//!
//! Per run, not kept: each guarded run gets a fresh directory `<store>/maven-runs/run-*/repo`
//! holding hard links to the store's verified files (a copy where the file system refuses a
//! link) and nothing else, and it is deleted when the run ends. So nothing unverified is ever in
//! it when Maven starts: no file from an earlier run, no `_remote.repositories` (Maven accepts
//! untracked files in any mode), no `*.lastUpdated` failure marker that would need `-U`. Laying
//! out links costs milliseconds, being in the store's own file system makes links always
//! possible, and a run killed with SIGKILL leaves only links, swept a day later.
//!
//! What `mvn install` users expect — the project's artifacts in their own local repository for
//! other builds — is kept by [`export_installed`]: after a successful run, the files Maven
//! installed (`_remote.repositories` entries with an empty repository id) are copied to the
//! user's local repository and marked as installed there. Only those: the user's repository is
//! never read by a guarded run.
//!
//! A hard link shares its bytes with the store. Maven writes only to files it downloads (which
//! it renames into place) or installs (which it writes in place); installing over a locked path
//! would write into the store, so [`Layout::written_through`] notices a changed store file after
//! the run and the caller evicts it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::coords::RepoPath;
use crate::error::{Error, Result};
use crate::store::Store;

/// A run directory older than this is a left-over of a killed run.
const STALE_RUN: Duration = Duration::from_secs(24 * 3600);

/// Maven's record of where each file of a directory came from.
pub const REMOTE_REPOSITORIES: &str = "_remote.repositories";

/// One run's directory: the local repository and the settings files; removed on drop.
pub struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    pub fn create(store: &Store) -> Result<RunDir> {
        let runs = store.root().join("maven-runs");
        fs::create_dir_all(&runs).map_err(|e| Error::io("create", &runs, e))?;
        sweep_stale(&runs);
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&runs)
            .map_err(|e| Error::io("create a run directory in", &runs, e))?;
        let repo = dir.path().join("repo");
        fs::create_dir(&repo).map_err(|e| Error::io("create", &repo, e))?;
        Ok(RunDir { dir })
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Write a file only this user can read (settings with the gate token).
    pub fn write_private(&self, name: &str, text: &str) -> Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.path().join(name);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::io("write", &path, e))?;
        Ok(path)
    }
}

fn sweep_stale(runs: &Path) {
    let Ok(entries) = fs::read_dir(runs) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_RUN);
        if old {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The store files a layout links to, with their modification times when it was made.
pub struct Layout {
    linked: Vec<(PathBuf, Option<SystemTime>)>,
}

/// Link (else copy) each verified store file to its path in `repo`.
pub fn lay_out(repo: &Path, files: &[(&RepoPath, PathBuf)]) -> Result<Layout> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut linked = Vec::with_capacity(files.len());
    for (path, stored) in files {
        let dest = repo.join(path.as_str());
        let parent = dest.parent().expect("a repository path has a parent");
        if !made.contains(parent) {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            made.insert(parent.to_path_buf());
        }
        if fs::hard_link(stored, &dest).is_err() {
            fs::copy(stored, &dest).map_err(|e| Error::io("copy a verified file to", &dest, e))?;
            continue;
        }
        let mtime = fs::metadata(stored).and_then(|m| m.modified()).ok();
        linked.push((stored.clone(), mtime));
    }
    Ok(Layout { linked })
}

impl Layout {
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
    fn layout_links_store_files_and_notices_writes_through_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let digest = hash(Alg::Sha256, b"jar bytes");
        let stored = store.put(&digest, b"jar bytes").unwrap().unwrap();
        let run = RunDir::create(&store).unwrap();
        assert!(run.repo().starts_with(store.root().join("maven-runs")));
        let path = RepoPath::parse("com/myorg/a/1.0/a-1.0.jar").unwrap();
        let layout = lay_out(&run.repo(), &[(&path, stored.clone())]).unwrap();
        let placed = run.repo().join(path.as_str());
        assert_eq!(fs::read(&placed).unwrap(), b"jar bytes");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(&placed).unwrap().ino(),
            fs::metadata(&stored).unwrap().ino()
        );
        assert!(layout.written_through().is_empty());
        // What Maven's installer does to an existing file: write it in place.
        std::thread::sleep(Duration::from_millis(10));
        let mut perms = fs::metadata(&placed).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&placed, perms).unwrap();
        fs::write(&placed, b"built locally").unwrap();
        assert_eq!(layout.written_through(), [stored]);
        let settings = run.write_private("settings.xml", "<settings/>").unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(settings).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let kept = run.repo();
        drop(run);
        assert!(!kept.exists(), "the run directory goes with the run");
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
