//! Where a locked file goes in a local repository and where to fetch it from, without I/O.
//!
//! Artifacts have the same relative path in a remote and in a local repository (Maven stores a
//! downloaded snapshot under its timestamped name too). Metadata does not: Maven keeps one copy
//! per repository, `maven-metadata.xml` becoming `maven-metadata-<repoId>.xml` (checksum side
//! files follow: `maven-metadata-<repoId>.xml.sha1`).

use super::coords::{RepoPath, METADATA_FILE};

/// The path of `path` inside a local repository whose remote repository (or mirror) has the id
/// `repo_id`. Only metadata file names change.
pub fn local_path(path: &RepoPath, repo_id: &str) -> String {
    let name = path.file_name();
    match name.strip_prefix(METADATA_FILE) {
        Some(suffix) if suffix.is_empty() || suffix.starts_with('.') => {
            let dir = &path.as_str()[..path.as_str().len() - name.len()];
            format!("{dir}maven-metadata-{repo_id}.xml{suffix}")
        }
        _ => path.to_string(),
    }
}

/// The URL of `path` in the repository at `base` (`https://repo.example/maven2` or
/// `…/maven2/`): exactly one `/` between them. A [`RepoPath`] needs no escaping.
pub fn url_for(base: &str, path: &RepoPath) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> RepoPath {
        RepoPath::parse(p).unwrap()
    }

    #[test]
    fn artifacts_keep_their_path() {
        let jar = path("com/myorg/payments-client/1.2.3/payments-client-1.2.3.jar");
        assert_eq!(local_path(&jar, "lockgate-gate"), jar.as_str());
        let snapshot = path("com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17.jar");
        assert_eq!(local_path(&snapshot, "central"), snapshot.as_str());
        // An artifact whose name merely starts like metadata.
        let odd = path("org/x/maven-metadata.xmlx/1/maven-metadata.xmlx-1.jar");
        assert_eq!(local_path(&odd, "central"), odd.as_str());
    }

    #[test]
    fn metadata_is_named_after_the_repository() {
        assert_eq!(
            local_path(
                &path("org/apache/maven/plugins/maven-metadata.xml"),
                "lockgate-gate"
            ),
            "org/apache/maven/plugins/maven-metadata-lockgate-gate.xml"
        );
        assert_eq!(
            local_path(
                &path("com/myorg/core/1.0-SNAPSHOT/maven-metadata.xml.sha1"),
                "central"
            ),
            "com/myorg/core/1.0-SNAPSHOT/maven-metadata-central.xml.sha1"
        );
    }

    #[test]
    fn urls_join_with_one_slash() {
        let pom = path("junit/junit/4.13.2/junit-4.13.2.pom");
        let want = "http://127.0.0.1:8081/maven2/junit/junit/4.13.2/junit-4.13.2.pom";
        assert_eq!(url_for("http://127.0.0.1:8081/maven2", &pom), want);
        assert_eq!(url_for("http://127.0.0.1:8081/maven2/", &pom), want);
        assert_eq!(url_for("http://127.0.0.1:8081/maven2//", &pom), want);
        assert_eq!(
            url_for("https://repo.maven.apache.org/maven2", &pom),
            "https://repo.maven.apache.org/maven2/junit/junit/4.13.2/junit-4.13.2.pom"
        );
    }
}
