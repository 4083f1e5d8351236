//! What a Maven repository path names. [`RepoPath`] is a checked repository-relative path (no
//! traversal, only characters that are safe verbatim in a URL and on disk); [`Coords::parse`] tells
//! whether it is an artifact file, a `maven-metadata.xml`, or a checksum/signature side file of
//! either, with its groupId, artifactId and version. [`group_matches`] decides whether a groupId
//! falls under an internal group.
//!
//! The Maven 2 layout is `group/path/artifactId/version/artifactId-version[-classifier].ext`;
//! snapshot files may carry a timestamped version (`1.0-20240131.120000-3` in directory
//! `1.0-SNAPSHOT`). Metadata sits at artifactId level (the versions list), at version level (only
//! for snapshots) or at group level (plugin prefixes). A path cannot tell group-level metadata
//! from artifactId-level metadata, so a metadata path is parsed as artifactId level and
//! [`Coords::in_group`] treats it as belonging to every group its directory could name.

use std::fmt;

/// File name of repository metadata.
pub const METADATA_FILE: &str = "maven-metadata.xml";

const ARTIFACT_SHAPE: &str =
    "expected group/artifactId/version/artifactId-version[-classifier].ext";

/// A repository path was unsafe or does not name a Maven file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Maven repository path `{path}`: {what}")]
pub struct PathError {
    pub path: String,
    pub what: String,
}

fn path_error(path: &str, what: impl Into<String>) -> PathError {
    PathError {
        path: path.to_string(),
        what: what.into(),
    }
}

/// A relative path inside a Maven repository: `/`-separated, no empty, `.` or `..` segments, and
/// only ASCII letters, digits and `-_.+~!$&'(),;=@` (URL-safe without escaping; no `:`, `%`, `\`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(String);

impl RepoPath {
    pub fn parse(path: &str) -> Result<RepoPath, PathError> {
        if path.is_empty() {
            return Err(path_error(path, "the path is empty"));
        }
        if path.starts_with('/') {
            return Err(path_error(path, "the path is absolute"));
        }
        if let Some(c) = path.chars().find(|c| !is_path_char(*c)) {
            return Err(path_error(
                path,
                format!("the character {c:?} is not allowed"),
            ));
        }
        for segment in path.split('/') {
            match segment {
                "" => return Err(path_error(path, "the path has an empty segment")),
                "." | ".." => {
                    return Err(path_error(path, "`.` and `..` segments are not allowed"));
                }
                _ => {}
            }
        }
        Ok(RepoPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.+~!$&'(),;=@/".contains(c)
}

/// Checksum side files Maven repositories carry next to each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl ChecksumAlgo {
    const ALL: [ChecksumAlgo; 4] = [Self::Md5, Self::Sha1, Self::Sha256, Self::Sha512];

    /// The file extension without the dot (`sha1`).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }
}

/// The file a path names, once checksum and signature suffixes are stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// `artifactId-fileVersion[-classifier].extension`; `file_version` differs from the directory
    /// version only for timestamped snapshots. The extension may hold dots (`tar.gz`).
    Artifact {
        file_version: String,
        classifier: Option<String>,
        extension: String,
    },
    /// `maven-metadata.xml`.
    Metadata,
}

/// A parsed repository path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coords {
    /// Dotted groupId (`org.apache.maven.plugins`).
    pub group_id: String,
    pub artifact_id: String,
    /// The version directory; `None` for artifactId-level metadata.
    pub version: Option<String>,
    pub file: FileKind,
    /// A `.asc` signature of the file.
    pub signature: bool,
    /// A checksum of the file (or of its signature).
    pub checksum: Option<ChecksumAlgo>,
}

impl Coords {
    pub fn parse(path: &RepoPath) -> Result<Coords, PathError> {
        let full = path.as_str();
        let segments: Vec<&str> = full.split('/').collect();
        let (name, checksum, signature) = strip_side_suffixes(path.file_name());
        let dirs = &segments[..segments.len() - 1];

        if name == METADATA_FILE {
            let snapshot_dir = dirs.len() >= 3 && dirs[dirs.len() - 1].ends_with("SNAPSHOT");
            let (group, artifact_id, version) = match dirs {
                [group @ .., artifact, version] if snapshot_dir => (group, artifact, Some(version)),
                [group @ .., artifact] if !group.is_empty() => (group, artifact, None),
                _ => {
                    return Err(path_error(
                        full,
                        "metadata needs a groupId and an artifactId",
                    ))
                }
            };
            return Ok(Coords {
                group_id: group.join("."),
                artifact_id: artifact_id.to_string(),
                version: version.map(|v| v.to_string()),
                file: FileKind::Metadata,
                signature,
                checksum,
            });
        }

        let [group @ .., artifact_id, version] = dirs else {
            return Err(path_error(full, ARTIFACT_SHAPE));
        };
        if group.is_empty() {
            return Err(path_error(full, ARTIFACT_SHAPE));
        }
        let file = parse_artifact_file(name, artifact_id, version).ok_or_else(|| {
            path_error(
                full,
                format!("the file name does not match `{artifact_id}-{version}[-classifier].ext`"),
            )
        })?;
        Ok(Coords {
            group_id: group.join("."),
            artifact_id: artifact_id.to_string(),
            version: Some(version.to_string()),
            file,
            signature,
            checksum,
        })
    }

    /// Whether this path may belong to `group` or one of its sub-groups. For metadata the whole
    /// directory counts as a possible groupId (it may be group-level metadata), so
    /// `com/myorg/maven-metadata.xml` is in group `com.myorg` although it parses as artifact
    /// `com:myorg`: routing such a file to the internal source is the safe reading.
    pub fn in_group(&self, group: &str) -> bool {
        match self.file {
            FileKind::Artifact { .. } => group_matches(group, &self.group_id),
            FileKind::Metadata => {
                let mut dir = format!("{}.{}", self.group_id, self.artifact_id);
                if let Some(version) = &self.version {
                    dir = format!("{dir}.{version}");
                }
                group_matches(group, &dir)
            }
        }
    }

    /// `groupId:artifactId[:version]`.
    pub fn gav(&self) -> String {
        match &self.version {
            Some(v) => format!("{}:{}:{v}", self.group_id, self.artifact_id),
            None => format!("{}:{}", self.group_id, self.artifact_id),
        }
    }

    /// A short name of the file within its version: `jar`, `sources.jar`, `pom.sha1`,
    /// `maven-metadata.xml`, and for a timestamped snapshot `1.0-20240131.120501-17.jar`.
    pub fn file_label(&self) -> String {
        let mut label = match &self.file {
            FileKind::Artifact {
                file_version,
                classifier,
                extension,
            } => {
                let mut stem = Vec::new();
                if self.version.as_ref() != Some(file_version) {
                    stem.push(file_version.as_str());
                }
                stem.extend(classifier.as_deref());
                match stem.join("-") {
                    stem if stem.is_empty() => extension.clone(),
                    stem => format!("{stem}.{extension}"),
                }
            }
            FileKind::Metadata => METADATA_FILE.to_string(),
        };
        if self.signature {
            label.push_str(".asc");
        }
        if let Some(algo) = self.checksum {
            label.push('.');
            label.push_str(algo.extension());
        }
        label
    }
}

/// Strips `.md5|.sha1|.sha256|.sha512` and then `.asc` (Central has `x.jar.asc.sha1`).
fn strip_side_suffixes(name: &str) -> (&str, Option<ChecksumAlgo>, bool) {
    let (name, checksum) = ChecksumAlgo::ALL
        .into_iter()
        .find_map(|algo| {
            let stripped = name.strip_suffix(algo.extension())?.strip_suffix('.')?;
            Some((stripped, Some(algo)))
        })
        .unwrap_or((name, None));
    match name.strip_suffix(".asc") {
        Some(stripped) => (stripped, checksum, true),
        None => (name, checksum, false),
    }
}

fn parse_artifact_file(name: &str, artifact_id: &str, version: &str) -> Option<FileKind> {
    let rest = name.strip_prefix(artifact_id)?.strip_prefix('-')?;
    let (file_version, tail) = if let Some(tail) = rest.strip_prefix(version) {
        (version.to_string(), tail)
    } else {
        // "1.0-SNAPSHOT" → "1.0-" + timestamp; a bare "SNAPSHOT" → "" + timestamp.
        let base = version.strip_suffix("SNAPSHOT")?;
        let after_base = rest.strip_prefix(base)?;
        let len = timestamp_len(after_base)?;
        (format!("{base}{}", &after_base[..len]), &after_base[len..])
    };
    let (classifier, extension) = match tail.as_bytes().first()? {
        b'.' => (None, &tail[1..]),
        b'-' => {
            let (classifier, extension) = tail[1..].split_once('.')?;
            if classifier.is_empty() {
                return None;
            }
            (Some(classifier.to_string()), extension)
        }
        _ => return None,
    };
    if extension.is_empty() {
        return None;
    }
    Some(FileKind::Artifact {
        file_version,
        classifier,
        extension: extension.to_string(),
    })
}

/// Length of a leading snapshot timestamp `yyyyMMdd.HHmmss-buildNumber`, if there is one.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let ok =
        digits(0) == 8 && b.get(8) == Some(&b'.') && digits(9) == 6 && b.get(15) == Some(&b'-');
    let build = digits(16);
    (ok && build > 0).then_some(16 + build)
}

/// Whether `group` is the internal group `internal` or one of its sub-groups: `com.myorg` covers
/// `com.myorg` and `com.myorg.payments`, not `com.myorganization`. ASCII case is ignored, because
/// on a case-insensitive file system (macOS, Windows) `com/MyOrg` and `com/myorg` are one
/// directory of the local repository.
pub fn group_matches(internal: &str, group: &str) -> bool {
    let internal = internal.trim_end_matches('.');
    if internal.is_empty() || group.len() < internal.len() {
        return false;
    }
    let (head, tail) = group.split_at(internal.len());
    head.eq_ignore_ascii_case(internal) && (tail.is_empty() || tail.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coords(path: &str) -> Coords {
        Coords::parse(&RepoPath::parse(path).unwrap()).unwrap()
    }

    fn artifact(file_version: &str, classifier: Option<&str>, extension: &str) -> FileKind {
        FileKind::Artifact {
            file_version: file_version.to_string(),
            classifier: classifier.map(str::to_string),
            extension: extension.to_string(),
        }
    }

    #[test]
    fn safe_paths_are_accepted() {
        for path in [
            "org/apache/maven/plugins/maven-compiler-plugin/3.10.1/maven-compiler-plugin-3.10.1.pom",
            "com/google/guava/guava/32.1.3-jre/guava-32.1.3-jre.jar",
            "org/scala-lang/scala3-library_3/3.3.1/scala3-library_3-3.3.1.jar",
            "x/y/1.0+build.7/y-1.0+build.7.jar",
        ] {
            assert_eq!(RepoPath::parse(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn traversal_and_unsafe_characters_are_rejected() {
        for (path, what) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("com/../../etc/passwd", "`..`"),
            ("./com/x/1/x-1.jar", "`.`"),
            ("com//x/1/x-1.jar", "empty segment"),
            ("com/x/1/", "empty segment"),
            ("com\\..\\x", "'\\\\'"),
            ("C:/x/1/x-1.jar", "':'"),
            ("com/%2e%2e/x", "'%'"),
            ("com/x/1/x-1.jar?x", "'?'"),
            ("com/x y/1/x-1.jar", "' '"),
            ("com/x\n/1", "'\\n'"),
            ("com/é/1/é-1.jar", "'é'"),
        ] {
            let err = RepoPath::parse(path).unwrap_err();
            assert!(err.what.contains(what), "{path:?}: {err}");
        }
    }

    #[test]
    fn release_artifacts_from_debian_maven_repo() {
        let c =
            coords("org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.jar");
        assert_eq!(c.group_id, "org.apache.maven.plugins");
        assert_eq!(c.artifact_id, "maven-jar-plugin");
        assert_eq!(c.version.as_deref(), Some("3.3.0"));
        assert_eq!(c.file, artifact("3.3.0", None, "jar"));
        assert!(!c.signature && c.checksum.is_none());
        assert_eq!(c.gav(), "org.apache.maven.plugins:maven-jar-plugin:3.3.0");

        let c = coords("org/apache/maven/surefire/surefire/2.22.3/surefire-2.22.3.pom");
        assert_eq!(c.file, artifact("2.22.3", None, "pom"));
        assert_eq!(c.group_id, "org.apache.maven.surefire");
    }

    #[test]
    fn classifiers_and_dotted_extensions() {
        let c = coords("com/myorg/payments-client/1.2.3/payments-client-1.2.3-sources.jar");
        assert_eq!(c.file, artifact("1.2.3", Some("sources"), "jar"));
        assert_eq!(c.file_label(), "sources.jar");
        let c = coords("io/netty/netty-transport-native-epoll/4.1.100.Final/netty-transport-native-epoll-4.1.100.Final-linux-x86_64.jar");
        assert_eq!(
            c.file,
            artifact("4.1.100.Final", Some("linux-x86_64"), "jar")
        );
        let c = coords("org/example/dist/2.0/dist-2.0-bin.tar.gz");
        assert_eq!(c.file, artifact("2.0", Some("bin"), "tar.gz"));
    }

    #[test]
    fn snapshots_plain_and_timestamped() {
        let c = coords("com/myorg/core/1.0-SNAPSHOT/core-1.0-SNAPSHOT.jar");
        assert_eq!(c.file, artifact("1.0-SNAPSHOT", None, "jar"));
        let c = coords("com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17.pom");
        assert_eq!(c.version.as_deref(), Some("1.0-SNAPSHOT"));
        assert_eq!(c.file, artifact("1.0-20240131.120501-17", None, "pom"));
        let c = coords("com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17-tests.jar");
        assert_eq!(
            c.file,
            artifact("1.0-20240131.120501-17", Some("tests"), "jar")
        );
        assert_eq!(c.file_label(), "1.0-20240131.120501-17-tests.jar");
        let c = coords("com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17.pom.sha1");
        assert_eq!(c.file_label(), "1.0-20240131.120501-17.pom.sha1");
        let c = coords("com/myorg/core/SNAPSHOT/core-20240131.120501-2.jar");
        assert_eq!(c.file, artifact("20240131.120501-2", None, "jar"));
    }

    #[test]
    fn malformed_timestamps_and_names_are_rejected() {
        for path in [
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-2024013.120501-17.jar",
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-.jar",
            "com/myorg/core/1.0/other-1.0.jar",
            "com/myorg/core/1.0/core-1.1.jar",
            "com/myorg/core/1.0/core-1.0x.jar",
            "com/myorg/core/1.0/core-1.0-.jar",
            "com/myorg/core/1.0/core-1.0.",
            "com/myorg/core/1.0/core-1.0",
            "core/1.0/core-1.0.jar",
            "com/myorg/core/1.0/_remote.repositories",
            "maven-metadata.xml",
            "com/maven-metadata.xml",
            "x.jar",
            "a/x.jar",
        ] {
            let path = RepoPath::parse(path).unwrap();
            assert!(Coords::parse(&path).is_err(), "{path} should not parse");
        }
    }

    #[test]
    fn metadata_levels() {
        let c = coords("org/apache/maven/plugins/maven-compiler-plugin/maven-metadata.xml");
        assert_eq!(
            (
                c.group_id.as_str(),
                c.artifact_id.as_str(),
                c.version.as_deref()
            ),
            ("org.apache.maven.plugins", "maven-compiler-plugin", None)
        );
        assert_eq!(c.file, FileKind::Metadata);
        assert_eq!(c.gav(), "org.apache.maven.plugins:maven-compiler-plugin");

        let c = coords("com/myorg/core/1.0-SNAPSHOT/maven-metadata.xml");
        assert_eq!(c.version.as_deref(), Some("1.0-SNAPSHOT"));
        assert_eq!(c.artifact_id, "core");

        // Group-level plugin-prefix metadata reads as artifact `org.apache.maven:plugins`.
        let c = coords("org/apache/maven/plugins/maven-metadata.xml");
        assert_eq!(
            (c.group_id.as_str(), c.artifact_id.as_str()),
            ("org.apache.maven", "plugins")
        );
        assert!(c.in_group("org.apache.maven.plugins"));
    }

    #[test]
    fn checksum_and_signature_side_files() {
        let c = coords("junit/junit/4.13.2/junit-4.13.2.jar.sha1");
        assert_eq!(c.file, artifact("4.13.2", None, "jar"));
        assert_eq!(c.checksum, Some(ChecksumAlgo::Sha1));
        assert!(!c.signature);
        let c = coords("junit/junit/4.13.2/junit-4.13.2.pom.asc");
        assert!(c.signature && c.checksum.is_none());
        let c = coords("junit/junit/4.13.2/junit-4.13.2.jar.asc.md5");
        assert!(c.signature);
        assert_eq!(c.checksum, Some(ChecksumAlgo::Md5));
        assert_eq!(c.file_label(), "jar.asc.md5");
        let c = coords("com/myorg/core/maven-metadata.xml.sha512");
        assert_eq!(c.file, FileKind::Metadata);
        assert_eq!(c.checksum, Some(ChecksumAlgo::Sha512));
        let c = coords("com/myorg/core/1.0/core-1.0.jar.sha256");
        assert_eq!(c.checksum, Some(ChecksumAlgo::Sha256));
    }

    #[test]
    fn group_matching_is_by_whole_segments() {
        assert!(group_matches("com.myorg", "com.myorg"));
        assert!(group_matches("com.myorg", "com.myorg.payments"));
        assert!(group_matches("com.myorg.", "com.myorg.payments"));
        assert!(group_matches("com.myorg", "COM.MyOrg.payments"));
        assert!(!group_matches("com.myorg", "com.myorganization"));
        assert!(!group_matches("com.myorg", "com.my"));
        assert!(!group_matches("com.myorg", "org.com.myorg"));
        assert!(!group_matches("", "com.myorg"));
    }

    #[test]
    fn in_group_for_artifacts_and_metadata() {
        let jar = coords("com/myorg/payments/client/1.2.3/client-1.2.3.jar");
        assert!(jar.in_group("com.myorg"));
        assert!(!jar.in_group("com.myorg.payments.client"));
        let meta = coords("com/myorg/maven-metadata.xml");
        assert!(meta.in_group("com.myorg"));
        assert!(!meta.in_group("com.myorganization"));
    }
}
