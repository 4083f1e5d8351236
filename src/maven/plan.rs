//! From the Maven lock and the sources the policy permits to a download plan, or to findings.
//!
//! Every lock line must name an artifact file (a POM, jar or other `artifactId-version…` file):
//! repository metadata and checksum or signature side files are refused, because lockgate
//! synthesizes metadata from the lock and hashes every file itself, and a path that does not
//! parse as coordinates cannot be routed. Each artifact has exactly one source: groupIds under
//! `[maven.internal] groups` the internal repository, everything else `[maven] repository`
//! (Maven Central when unset). Pure.

use std::path::Path;

use reqwest::Url;

use super::coords::{Coords, FileKind, RepoPath};
use super::lock::{Lock, Sha256};
use crate::fetch::Artifact;
use crate::finding::{Finding, Kind};
use crate::integrity::{Alg, Digest};
use crate::policy::MavenPolicy;

/// The source when the policy names none.
pub const MAVEN_CENTRAL: &str = "https://repo.maven.apache.org/maven2/";

/// Where each groupId may come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Everything not internal.
    pub public: Url,
    /// The internal repository and the groups (with their sub-groups) only it serves.
    pub internal: Option<(Url, Vec<String>)>,
}

impl Sources {
    pub fn from_policy(policy: &MavenPolicy) -> Sources {
        Sources {
            public: policy
                .repository
                .clone()
                .unwrap_or_else(|| Url::parse(MAVEN_CENTRAL).expect("constant URL")),
            internal: policy
                .internal
                .as_ref()
                .map(|i| (i.url.clone(), i.groups.clone())),
        }
    }

    /// Whether the file belongs to an internal group (metadata: whether it may).
    pub fn is_internal(&self, coords: &Coords) -> bool {
        self.internal
            .as_ref()
            .is_some_and(|(_, groups)| groups.iter().any(|g| coords.in_group(g)))
    }

    /// The one repository `coords` may come from, and whether it is the internal one.
    pub fn source_for(&self, coords: &Coords) -> (&Url, bool) {
        match &self.internal {
            Some((url, _)) if self.is_internal(coords) => (url, true),
            _ => (&self.public, false),
        }
    }

    /// Whether internal files should also be looked up on the public repository (to see whether
    /// someone offers them there): not when both are one server.
    pub fn probe_public(&self) -> bool {
        self.internal
            .as_ref()
            .is_some_and(|(url, _)| url.origin() != self.public.origin())
    }
}

/// `path` in the repository at `base` (`…/maven2` or `…/maven2/`): exactly one `/` between
/// them. A [`RepoPath`] needs no escaping, and an artifact has the same path in a local
/// repository as in a remote one (a snapshot keeps its timestamped name).
pub fn url_in(base: &Url, path: &RepoPath) -> Url {
    Url::parse(&format!("{}/{path}", base.as_str().trim_end_matches('/')))
        .expect("a repository URL plus a checked path is a URL")
}

/// One locked file and where it comes from.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: RepoPath,
    pub coords: Coords,
    pub sha256: Sha256,
    pub internal: bool,
    pub url: Url,
}

impl Planned {
    /// `groupId:artifactId:version (file)`: names one file in messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.coords.gav(), self.coords.file_label())
    }

    pub fn digest(&self) -> Digest {
        Digest {
            alg: Alg::Sha256,
            bytes: self.sha256.0.to_vec(),
        }
    }

    pub fn artifact(&self) -> Artifact {
        Artifact {
            package: self.label(),
            name: format!("{}:{}", self.coords.group_id, self.coords.artifact_id),
            version: self.coords.version.clone().unwrap_or_default(),
            internal: self.internal,
            url: self.url.clone(),
            digest: self.digest(),
            locate: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub files: Vec<Planned>,
    pub findings: Vec<Finding>,
}

pub fn plan(lock: &Lock, lock_path: &Path, sources: &Sources) -> Plan {
    let mut out = Plan::default();
    for (path, sha256) in lock.iter() {
        let refuse = |what: String| {
            Finding::error(Kind::Lockfile, path.as_str(), lock_path)
                .msg(what)
                .hint("remove the line, or regenerate the lock with `lockgate lock mvn` and review the diff")
        };
        let coords = match Coords::parse(path) {
            Ok(c) => c,
            Err(e) => {
                out.findings
                    .push(refuse(format!("is not a Maven artifact path ({})", e.what)));
                continue;
            }
        };
        if coords.file == FileKind::Metadata {
            out.findings.push(refuse(
                "is repository metadata, which changes whenever something is published; lockgate serves metadata built from the lock instead".into(),
            ));
            continue;
        }
        if coords.checksum.is_some() || coords.signature {
            out.findings.push(refuse(
                "is a checksum or signature side file; lockgate hashes every artifact itself"
                    .into(),
            ));
            continue;
        }
        let (base, internal) = sources.source_for(&coords);
        out.files.push(Planned {
            url: url_in(base, path),
            path: path.clone(),
            coords,
            sha256,
            internal,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maven::lock::parse;
    use crate::policy::InternalMaven;

    fn sources() -> Sources {
        Sources::from_policy(&MavenPolicy {
            wrapper_sha256: None,
            wrapper_hosts: Vec::new(),
            repository: Some(Url::parse("https://nexus.corp.example/repository/central/").unwrap()),
            internal: Some(InternalMaven {
                url: Url::parse("https://maven.corp.example/releases/").unwrap(),
                groups: vec!["com.myorg".into()],
                username: None,
                password_env: None,
                server_id: None,
            }),
        })
    }

    fn lock(paths: &[&str]) -> Lock {
        let text: String = paths
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}  {p}\n", Sha256([i as u8; 32])))
            .collect();
        parse(&text, Path::new("l")).unwrap()
    }

    #[test]
    fn each_group_has_one_source() {
        let p = plan(
            &lock(&[
                "com/myorg/payments/client/1.2.3/client-1.2.3.jar",
                "com/myorganization/x/1/x-1.pom",
                "junit/junit/4.13.2/junit-4.13.2.jar",
            ]),
            Path::new(".mvn/checksums/checksums.sha256"),
            &sources(),
        );
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let urls: Vec<(&str, bool)> = p
            .files
            .iter()
            .map(|f| (f.url.as_str(), f.internal))
            .collect();
        assert_eq!(
            urls,
            [
                ("https://maven.corp.example/releases/com/myorg/payments/client/1.2.3/client-1.2.3.jar", true),
                ("https://nexus.corp.example/repository/central/com/myorganization/x/1/x-1.pom", false),
                ("https://nexus.corp.example/repository/central/junit/junit/4.13.2/junit-4.13.2.jar", false),
            ]
        );
        let a = p.files[0].artifact();
        assert_eq!(a.package, "com.myorg.payments:client:1.2.3 (jar)");
        assert_eq!(
            (a.name.as_str(), a.version.as_str(), a.internal),
            ("com.myorg.payments:client", "1.2.3", true)
        );
        assert_eq!(a.digest.to_string(), format!("sha256:{}", "00".repeat(32)));
    }

    #[test]
    fn metadata_side_files_and_strange_paths_are_refused() {
        let p = plan(
            &lock(&[
                "com/myorg/client/maven-metadata.xml",
                "junit/junit/4.13.2/junit-4.13.2.jar.sha1",
                "junit/junit/4.13.2/junit-4.13.2.pom.asc",
                "junit/junit/4.13.2/_remote.repositories",
                "junit/junit/4.13.2/junit-4.13.2.pom",
            ]),
            Path::new("lock"),
            &sources(),
        );
        assert_eq!(p.files.len(), 1);
        let refused: Vec<(&str, i32)> = p
            .findings
            .iter()
            .map(|f| (f.package.as_str(), f.exit_code()))
            .collect();
        assert_eq!(
            refused,
            [
                ("com/myorg/client/maven-metadata.xml", 21),
                ("junit/junit/4.13.2/_remote.repositories", 21),
                ("junit/junit/4.13.2/junit-4.13.2.jar.sha1", 21),
                ("junit/junit/4.13.2/junit-4.13.2.pom.asc", 21),
            ]
        );
        assert!(p.findings[0].message.contains("metadata"));
        assert!(p.findings[1].message.contains("not a Maven artifact path"));
    }

    #[test]
    fn urls_join_with_one_slash() {
        let pom = RepoPath::parse("junit/junit/4.13.2/junit-4.13.2.pom").unwrap();
        let want = "http://127.0.0.1:8081/maven2/junit/junit/4.13.2/junit-4.13.2.pom";
        for base in [
            "http://127.0.0.1:8081/maven2",
            "http://127.0.0.1:8081/maven2/",
            "http://127.0.0.1:8081/maven2//",
        ] {
            assert_eq!(url_in(&Url::parse(base).unwrap(), &pom).as_str(), want);
        }
    }

    #[test]
    fn central_by_default_and_no_probe_when_one_server_serves_both() {
        let s = Sources::from_policy(&MavenPolicy::default());
        assert_eq!(s.public.as_str(), MAVEN_CENTRAL);
        assert!(!s.probe_public());
        let mut same = sources();
        same.public = Url::parse("https://maven.corp.example/public/").unwrap();
        assert!(!same.probe_public());
        assert!(sources().probe_public());
    }
}
