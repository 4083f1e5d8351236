//! The Maven lock, `.mvn/checksums/checksums.sha256`: parse, render and diff.
//!
//! The format is Maven Resolver's trusted-checksums summary file (resolver 1.9+, Maven 3.9+,
//! `SummaryFileTrustedChecksumsSource`), which is GNU coreutils' `sha256sum` format: one line per
//! file, `<sha256 hex>  <path relative to the local repository>` (two spaces, no leading `./`).
//! What the resolver does, and what we follow:
//! - It ignores empty lines and lines starting with `#`; so do we. On save it drops them and
//!   sorts by path; [`render`] writes no comments, sorts by path (byte order, the same as Java's
//!   for the ASCII that [`RepoPath`] allows) and ends every line with `\n`, as `sha256sum` does.
//! - It splits a line at the first two spaces and only warns about malformed lines and duplicate
//!   paths (the last one wins). We reject both, with file:line, because a lock that Maven would
//!   read differently from us must not pass. Hashes must be lowercase: Maven compares the hex
//!   strings exactly with the lowercase hex it computes.
//! - Its summary files are "origin aware" by default (`checksums-<repoId>.sha256`, one per
//!   repository). Under lockgate every file comes through one gate, so the lock is one
//!   origin-unaware file. A project on Maven ≥ 3.9 can switch Maven's own check on with this
//!   `.mvn/maven.config`:
//!   ```text
//!   -Daether.trustedChecksumsSource.summaryFile=true
//!   -Daether.trustedChecksumsSource.summaryFile.basedir=${session.rootDirectory}/.mvn/checksums
//!   -Daether.trustedChecksumsSource.summaryFile.originAware=false
//!   -Daether.artifactResolver.postProcessor.trustedChecksums=true
//!   -Daether.artifactResolver.postProcessor.trustedChecksums.checksumAlgorithms=SHA-256
//!   -Daether.artifactResolver.postProcessor.trustedChecksums.failIfMissing=true
//!   ```
//! - Maven keys artifacts by their remote file name (timestamped for snapshots), which is also
//!   the name a downloaded file has in the local repository. It checks artifacts only (and skips
//!   snapshots unless told otherwise); other lines, such as metadata, are simply never looked up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::coords::{Coords, RepoPath};

/// Where the lock lives, relative to the project's root directory.
pub const LOCK_FILE: &str = ".mvn/checksums/checksums.sha256";

/// A SHA-256 digest; displayed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Parses 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Option<Sha256> {
        let digits = hex.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let value = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            *byte = value(pair[0])? << 4 | value(pair[1])?;
        }
        Some(Sha256(bytes))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// The locked files: repository path → sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    entries: BTreeMap<RepoPath, Sha256>,
}

impl Lock {
    /// Records a file; returns the hash it replaces.
    pub fn insert(&mut self, path: RepoPath, sha256: Sha256) -> Option<Sha256> {
        self.entries.insert(path, sha256)
    }

    pub fn get(&self, path: &RepoPath) -> Option<Sha256> {
        self.entries.get(path).copied()
    }

    /// Entries sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&RepoPath, Sha256)> {
        self.entries.iter().map(|(path, sha)| (path, *sha))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A line of the lock that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {what}", file.display())]
pub struct LockError {
    pub file: PathBuf,
    pub line: usize,
    pub what: String,
}

/// Parses a lock; `file` only names it in messages.
pub fn parse(text: &str, file: &Path) -> Result<Lock, LockError> {
    let mut seen: BTreeMap<RepoPath, (Sha256, usize)> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |what: String| LockError {
            file: file.to_path_buf(),
            line,
            what,
        };
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (hex, path) = parse_line(raw).map_err(error)?;
        match seen.get(&path) {
            Some((earlier, _)) if *earlier == hex => {}
            Some((earlier, earlier_line)) => {
                return Err(error(format!(
                    "`{path}` is listed again with a different sha256 ({hex}; line {earlier_line} has {earlier})"
                )));
            }
            None => {
                seen.insert(path, (hex, line));
            }
        }
    }
    let entries = seen
        .into_iter()
        .map(|(path, (sha, _))| (path, sha))
        .collect();
    Ok(Lock { entries })
}

fn parse_line(line: &str) -> Result<(Sha256, RepoPath), String> {
    let Some((hex, path)) = line.split_once("  ") else {
        let hint = if line.contains(" *") {
            " (binary-mode `hash *path` lines are not read by Maven)"
        } else {
            ""
        };
        return Err(format!(
            "expected `<sha256>  <path>` separated by two spaces{hint}"
        ));
    };
    let sha = Sha256::from_hex(hex)
        .ok_or_else(|| format!("expected a sha256 of 64 lowercase hex digits, found `{hex}`"))?;
    let path = RepoPath::parse(path).map_err(|e| e.to_string())?;
    Ok((sha, path))
}

/// The lock file's text: sorted, no comments, one `\n`-terminated line per file.
pub fn render(lock: &Lock) -> String {
    lock.iter()
        .map(|(path, sha)| format!("{sha}  {path}\n"))
        .collect()
}

/// What changed between two locks; each list is sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockDiff {
    pub added: Vec<(RepoPath, Sha256)>,
    pub removed: Vec<(RepoPath, Sha256)>,
    /// Same path, different content: `(path, old, new)`.
    pub changed: Vec<(RepoPath, Sha256, Sha256)>,
}

impl LockDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

pub fn diff(old: &Lock, new: &Lock) -> LockDiff {
    let mut result = LockDiff::default();
    for (path, sha) in old.iter() {
        match new.get(path) {
            None => result.removed.push((path.clone(), sha)),
            Some(now) if now != sha => result.changed.push((path.clone(), sha, now)),
            Some(_) => {}
        }
    }
    for (path, sha) in new.iter() {
        if old.get(path).is_none() {
            result.added.push((path.clone(), sha));
        }
    }
    result
}

/// A compact listing for `lockgate lock mvn`: one line per coordinate and sign, files of the same
/// version folded together, then a count of files.
///
/// ```text
/// - junit:junit:4.12 (jar, pom)
/// + junit:junit:4.13.2 (jar, pom)
/// ~ org.example:lib:1.0 (jar) sha256 0a1b2c3d4e5f… → 9f8e7d6c5b4a…
/// 2 added, 2 removed, 1 changed
/// ```
impl fmt::Display for LockDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "lock unchanged");
        }
        write_folded(f, '-', self.removed.iter().map(|(path, _)| path))?;
        write_folded(f, '+', self.added.iter().map(|(path, _)| path))?;
        for (path, old, new) in &self.changed {
            let (name, label) = describe(path);
            let old = &old.to_string()[..12];
            let new = &new.to_string()[..12];
            writeln!(f, "~ {name}{label} sha256 {old}… → {new}…")?;
        }
        writeln!(
            f,
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        )
    }
}

/// `(coordinates, " (file)")` for a Maven path, `(path, "")` for anything else.
fn describe(path: &RepoPath) -> (String, String) {
    match Coords::parse(path) {
        Ok(coords) => (coords.gav(), format!(" ({})", coords.file_label())),
        Err(_) => (path.to_string(), String::new()),
    }
}

fn write_folded<'a>(
    f: &mut fmt::Formatter<'_>,
    sign: char,
    paths: impl Iterator<Item = &'a RepoPath>,
) -> fmt::Result {
    let mut pending: Option<(String, Vec<String>)> = None;
    let flush = |f: &mut fmt::Formatter<'_>, (name, labels): (String, Vec<String>)| {
        if labels.is_empty() {
            writeln!(f, "{sign} {name}")
        } else {
            writeln!(f, "{sign} {name} ({})", labels.join(", "))
        }
    };
    for path in paths {
        let (name, label) = match Coords::parse(path) {
            Ok(coords) => (coords.gav(), Some(coords.file_label())),
            Err(_) => (path.to_string(), None),
        };
        match &mut pending {
            Some((current, labels)) if *current == name && label.is_some() => {
                labels.extend(label);
            }
            _ => {
                if let Some(done) = pending.take() {
                    flush(f, done)?;
                }
                pending = Some((name, label.into_iter().collect()));
            }
        }
    }
    pending.map_or(Ok(()), |done| flush(f, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sha256sum … | sort -k 2` over Debian's /usr/share/maven-repo.
    const DEBIAN_SAMPLE: &str = "\
8148c65ffc1184bd23a259f110e41bf1eaeca873757f8194face518b7a8e7eda  junit/junit/4.13.2/junit-4.13.2.jar
363ea6bd71b9ca8508051824149207c7925c61216cc07af35956796c50191174  junit/junit/4.13.2/junit-4.13.2.pom
65a089e97aa91d34c0732e0f3fa2476840b993b08c364fb398a704389beff239  org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.jar
f990903bf3154349c7480a0b688b966bdcb8290db8eb9cc6fc65d82ad8939eb7  org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.pom
";

    fn file() -> &'static Path {
        Path::new(".mvn/checksums/checksums.sha256")
    }

    fn path(p: &str) -> RepoPath {
        RepoPath::parse(p).unwrap()
    }

    fn sha(fill: u8) -> Sha256 {
        Sha256([fill; 32])
    }

    fn lock(entries: &[(&str, u8)]) -> Lock {
        let mut lock = Lock::default();
        for (p, fill) in entries {
            lock.insert(path(p), sha(*fill));
        }
        lock
    }

    fn parse_err(text: &str) -> LockError {
        parse(text, file()).unwrap_err()
    }

    #[test]
    fn sha256sum_output_round_trips() {
        let lock = parse(DEBIAN_SAMPLE, file()).unwrap();
        assert_eq!(lock.len(), 4);
        let jar = path("junit/junit/4.13.2/junit-4.13.2.jar");
        assert_eq!(
            lock.get(&jar).unwrap().to_string(),
            "8148c65ffc1184bd23a259f110e41bf1eaeca873757f8194face518b7a8e7eda"
        );
        assert_eq!(render(&lock), DEBIAN_SAMPLE);
    }

    #[test]
    fn comments_blank_lines_crlf_and_order_are_normalised() {
        let mut lines: Vec<&str> = DEBIAN_SAMPLE.lines().collect();
        lines.reverse();
        let text = format!("# recorded by Maven\r\n\r\n{}\r\n   \n", lines.join("\r\n"));
        let lock = parse(&text, file()).unwrap();
        assert_eq!(render(&lock), DEBIAN_SAMPLE);
    }

    #[test]
    fn empty_lock_renders_empty() {
        let lock = parse("# nothing yet\n", file()).unwrap();
        assert!(lock.is_empty());
        assert_eq!(render(&lock), "");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err = parse_err("# c\nabc junit/junit/4.13.2/junit-4.13.2.jar\n");
        assert_eq!(err.line, 2);
        assert!(err
            .to_string()
            .starts_with(".mvn/checksums/checksums.sha256:2: "));
        assert!(err.what.contains("two spaces"), "{err}");

        let binary = format!("{} *junit/junit/4.13.2/junit-4.13.2.jar", "ab".repeat(32));
        assert!(parse_err(&binary).what.contains("binary-mode"));
    }

    #[test]
    fn hashes_must_be_lowercase_sha256() {
        let upper = DEBIAN_SAMPLE
            .lines()
            .next()
            .unwrap()
            .replacen("8148c65ff", "8148C65FF", 1);
        assert!(parse_err(&upper).what.contains("64 lowercase hex"));
        let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709  junit/junit/4.13.2/junit-4.13.2.jar";
        assert!(parse_err(sha1).what.contains("da39a3ee"));
        assert!(parse_err("\u{feff}8148c65ffc1184bd23a259f110e41bf1eaeca873757f8194face518b7a8e7eda  a/b/1/b-1.jar").line == 1);
    }

    #[test]
    fn unsafe_paths_are_rejected() {
        let hex = "ab".repeat(32);
        for bad in [
            "/etc/passwd",
            "../../etc/passwd",
            "com/../../x",
            "./junit/junit/4.13.2/junit-4.13.2.jar",
            "a b/c",
        ] {
            let err = parse_err(&format!("{hex}  {bad}\n"));
            assert_eq!(err.line, 1);
            assert!(err.what.contains(bad), "{err}");
        }
    }

    #[test]
    fn duplicates_must_agree() {
        let line = DEBIAN_SAMPLE.lines().next().unwrap();
        let lock = parse(&format!("{line}\n{line}\n"), file()).unwrap();
        assert_eq!(lock.len(), 1);

        let other = format!("{}  junit/junit/4.13.2/junit-4.13.2.jar", "00".repeat(32));
        let err = parse_err(&format!("{line}\n# x\n{other}\n"));
        assert_eq!(err.line, 3);
        assert!(err.what.contains("line 1"), "{err}");
    }

    #[test]
    fn diff_sorts_changes_into_three_lists() {
        let old = lock(&[
            ("a/b/1/b-1.jar", 1),
            ("a/b/1/b-1.pom", 2),
            ("c/d/2/d-2.jar", 3),
        ]);
        let new = lock(&[
            ("a/b/1/b-1.jar", 1),
            ("c/d/2/d-2.jar", 4),
            ("e/f/3/f-3.jar", 5),
        ]);
        let d = diff(&old, &new);
        assert_eq!(d.removed, vec![(path("a/b/1/b-1.pom"), sha(2))]);
        assert_eq!(d.added, vec![(path("e/f/3/f-3.jar"), sha(5))]);
        assert_eq!(d.changed, vec![(path("c/d/2/d-2.jar"), sha(3), sha(4))]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn diff_rendering_folds_files_of_one_version() {
        let old = lock(&[
            ("junit/junit/4.12/junit-4.12.jar", 1),
            ("junit/junit/4.12/junit-4.12.pom", 2),
            ("org/example/lib/1.0/lib-1.0.jar", 0x0a),
        ]);
        let new = lock(&[
            ("junit/junit/4.13.2/junit-4.13.2.jar", 3),
            ("junit/junit/4.13.2/junit-4.13.2.pom", 4),
            ("org/example/lib/1.0/lib-1.0.jar", 0x9f),
            ("org/example/lib/1.0/lib-1.0-sources.jar", 5),
            ("archetype-catalog.xml", 6),
        ]);
        let shown = diff(&old, &new).to_string();
        assert_eq!(
            shown,
            "\
- junit:junit:4.12 (jar, pom)
+ archetype-catalog.xml
+ junit:junit:4.13.2 (jar, pom)
+ org.example:lib:1.0 (sources.jar)
~ org.example:lib:1.0 (jar) sha256 0a0a0a0a0a0a… → 9f9f9f9f9f9f…
4 added, 2 removed, 1 changed
"
        );
        assert_eq!(diff(&new, &new).to_string(), "lock unchanged\n");
    }
}
