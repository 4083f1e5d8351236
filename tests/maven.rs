//! Guarded Maven end to end: the real lockgate binary, the real mvn 3.8.7, and real repositories
//! over HTTP (nginx: Debian's plugins as the public repository with an attacker's overlay, the
//! internal repository behind basic auth).
//!
//! Each project has a unit test that asserts its `com.myorg` dependency says "internal", so a
//! build that compiled or tested against the attacker's jar fails: "the build passed" means "the
//! internal artifact was used". The user's settings list the public repository first (the
//! chain in which plain Maven takes the attacker's copy), so lockgate has to override them.

mod common;

use std::path::PathBuf;

use common::maven::{
    java_package, maven_project, maven_repos, maven_settings, MavenArtifact, MavenRepo,
    INTERNAL_MAVEN_USER,
};
use common::{tools, uniq, Sandbox};
use sha2::Digest as _;

const LOCK: &str = ".mvn/checksums/checksums.sha256";
const PASSWORD_ENV: &str = "INTERNAL_MAVEN_PASSWORD";

/// An internal artifact `com.myorg:<unique>` at `internal_versions`, and the attacker's copies
/// of it on the public repository at 1.2.3 and 99.0.0.
struct Case {
    artifact: String,
}

impl Case {
    fn new(internal_versions: &[&str]) -> Case {
        let repos = maven_repos();
        let artifact = uniq("payments-client");
        for v in internal_versions {
            MavenArtifact::new("com.myorg", &artifact, v)
                .origin("internal")
                .deploy(&repos.internal_dir);
        }
        for v in ["1.2.3", "99.0.0"] {
            MavenArtifact::new("com.myorg", &artifact, v)
                .origin("attacker")
                .deploy(&repos.public_overlay);
        }
        Case { artifact }
    }

    fn internal(&self, version: &str) -> MavenArtifact {
        MavenArtifact::new("com.myorg", &self.artifact, version)
    }

    /// `com/myorg/<artifact>/<version>/<artifact>-<version>.<ext>`, as in the lock.
    fn path(&self, version: &str, ext: &str) -> String {
        format!("com/myorg/{0}/{version}/{0}-{version}.{ext}", self.artifact)
    }

    /// A sandbox with the project policy, the internal password, public-first user settings (with a
    /// profile property the POM uses) and a project depending on `com.myorg:<artifact>:<spec>`.
    fn sandbox(&self, spec: &str) -> Sandbox {
        let repos = maven_repos();
        let mut sb = Sandbox::new();
        sb.write(
            "lockgate.toml",
            format!(
                "[maven]\nrepository = \"{}\"\n[maven.internal]\nurl = \"{}\"\ngroups = [\"com.myorg\"]\nusername = \"{}\"\npassword-env = \"{PASSWORD_ENV}\"\n",
                repos.public_url, repos.internal_url, INTERNAL_MAVEN_USER.0
            ),
        );
        sb.set_env(PASSWORD_ENV, INTERNAL_MAVEN_USER.1);
        let settings = maven_settings(&[
            MavenRepo { id: "central", url: &repos.public_url, auth: None },
            MavenRepo { id: "internal", url: &repos.internal_url, auth: Some(INTERNAL_MAVEN_USER) },
        ])
        .replace(
            "<id>repos</id>",
            "<id>repos</id>\n      <properties><app.final.name>from-settings</app.final.name></properties>",
        );
        sb.maven_settings(&settings);
        maven_project(&sb.project(), &[("com.myorg", &self.artifact, spec)]);
        let pom = sb
            .read("pom.xml")
            .replace("<build>", "<build>\n    <finalName>${app.final.name}</finalName>")
            .replace(
                "</dependencies>",
                "  <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version><scope>test</scope></dependency>\n  </dependencies>",
            );
        sb.write("pom.xml", pom);
        sb.write(
            "src/test/java/com/example/OriginTest.java",
            format!(
                "package com.example;\n\npublic class OriginTest {{\n    @org.junit.Test\n    public void usesTheInternalArtifact() {{\n        org.junit.Assert.assertEquals(\"internal\", {}.Api.origin());\n    }}\n}}\n",
                java_package("com.myorg", &self.artifact)
            ),
        );
        sb
    }
}

fn sha256_hex(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lock_lines(sb: &Sandbox) -> Vec<String> {
    sb.read(LOCK).lines().map(str::to_string).collect()
}

fn built(sb: &Sandbox) -> bool {
    sb.exists("target/from-settings.jar")
}

/// The attack is real with plain mvn (the public-first chain takes the attacker's 1.2.3 and
/// the unit test fails); through lockgate the lock records the internal jar, the build passes,
/// offline too, with the user's profile property applied and nothing written to ~/.m2. A lock
/// missing a file the build needs stops it with 21 naming the file; re-locking after a version
/// bump changes only what changed.
#[test]
fn lock_then_guarded_build_use_only_the_internal_artifact() {
    let case = Case::new(&["1.2.3", "1.3.0"]);
    let sb = case.sandbox("1.2.3");
    let plain = sb
        .run(sb.cmd(&tools().mvn).args(["-B", "-ntp", "package"]))
        .failed();
    assert!(
        plain
            .output()
            .contains("expected:<[internal]> but was:<[attacker]>"),
        "{plain}"
    );
    std::fs::remove_dir_all(sb.m2_repo()).unwrap();

    let out = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp"]))
        .ok();
    let internal_jar = case
        .internal("1.2.3")
        .file(&maven_repos().internal_dir, "jar");
    let lines = lock_lines(&sb);
    assert!(
        lines.contains(&format!(
            "{}  {}",
            sha256_hex(&internal_jar),
            case.path("1.2.3", "jar")
        )),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("maven-surefire-plugin-2.22.3.jar")),
        "plugins are locked"
    );
    assert!(
        lines.len() > 100,
        "every POM, jar and plugin: {}",
        lines.len()
    );
    let mut sorted = lines.clone();
    sorted.sort_by(|a, b| a[66..].cmp(&b[66..]));
    assert_eq!(lines, sorted, "sorted by path");
    let package = format!("com.myorg:{}", case.artifact);
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &package)]
        ),
        1.0,
        "{out}"
    );
    assert!(out.stderr.contains("also serves"), "{out}");
    assert!(
        !sb.m2_repo().exists(),
        "the lock run used its own repository"
    );

    let out = sb.run(sb.shim("mvn").args(["-B", "-ntp", "package"])).ok();
    assert!(built(&sb), "{out}");
    assert!(
        out.stderr
            .contains("files verified against .mvn/checksums/checksums.sha256"),
        "{out}"
    );
    assert!(
        !sb.m2_repo().exists(),
        "a guarded build leaves the user's repository alone"
    );
    let out = sb
        .run(sb.shim("mvn").args(["-B", "-ntp", "-o", "package"]))
        .ok();
    assert!(out.stderr.contains("0 downloaded"), "{out}");

    // A file the build needs is missing from the lock: 21, naming it.
    let jar_plugin = "maven-jar-plugin-3.3.0.jar";
    let trimmed: String = lines
        .iter()
        .filter(|l| !l.ends_with(jar_plugin))
        .map(|l| format!("{l}\n"))
        .collect();
    sb.write(LOCK, trimmed);
    let out = sb
        .run(sb.shim("mvn").args(["-B", "-ntp", "package"]))
        .code_is(21);
    assert!(out.stderr.contains("lock incomplete"), "{out}");
    assert!(
        out.stderr
            .contains("org.apache.maven.plugins:maven-jar-plugin:3.3.0 (jar)"),
        "{out}"
    );

    // Re-locking restores it; a version bump then changes the internal lines only.
    let pom = sb
        .read("pom.xml")
        .replace("<version>1.2.3</version>", "<version>1.3.0</version>");
    sb.write("pom.xml", pom);
    let out = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp"]))
        .ok();
    let relocked = lock_lines(&sb);
    assert!(
        out.stderr
            .contains(&format!("- com.myorg:{}:1.2.3 (jar, pom)", case.artifact)),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("+ com.myorg:{}:1.3.0 (jar, pom)", case.artifact)),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("+ org.apache.maven.plugins:maven-jar-plugin:3.3.0 (jar)"),
        "{out}"
    );
    assert!(
        out.stderr.contains("3 added, 2 removed, 0 changed"),
        "{out}"
    );
    assert_eq!(relocked.len(), lines.len());
}

/// A version range: plain mvn merges both repositories' metadata and takes the attacker's
/// 99.0.0 even with the internal repository first; lockgate resolves the range against the
/// internal repository's metadata only, and the guarded build against the lock's.
#[test]
fn version_range_resolves_among_internal_versions_only() {
    let case = Case::new(&["1.2.3", "1.3.0"]);
    let repos = maven_repos();
    let sb = case.sandbox("[1.2,)");
    sb.maven_settings(&maven_settings(&[
        MavenRepo {
            id: "internal",
            url: &repos.internal_url,
            auth: Some(INTERNAL_MAVEN_USER),
        },
        MavenRepo {
            id: "central",
            url: &repos.public_url,
            auth: None,
        },
    ]));
    let pom = sb
        .read("pom.xml")
        .replace("${app.final.name}", "from-settings");
    sb.write("pom.xml", pom);
    let plain = sb
        .run(sb.cmd(&tools().mvn).args(["-B", "-ntp", "package"]))
        .failed();
    assert!(plain.output().contains("but was:<[attacker]>"), "{plain}");
    assert!(sb
        .m2_repo()
        .join(format!("com/myorg/{}/99.0.0", case.artifact))
        .exists());

    std::fs::remove_dir_all(sb.m2_repo()).unwrap();

    let out = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "install"]))
        .ok();
    let lock = sb.read(LOCK);
    assert!(lock.contains(&case.path("1.3.0", "jar")), "{out}");
    assert!(!lock.contains("/99.0.0/"), "{lock}");
    assert!(!lock.contains("maven-metadata"), "metadata is not locked");
    std::fs::remove_dir_all(sb.m2_repo()).unwrap();
    let out = sb.run(sb.shim("mvn").args(["-B", "-ntp", "install"])).ok();
    assert!(built(&sb), "{out}");
    // `mvn install` still installs: the project's own files, and only those, reach ~/.m2.
    let installed = sb.m2_repo().join("com/example/app/1.0.0");
    let record = std::fs::read_to_string(installed.join("_remote.repositories")).unwrap();
    assert!(
        record.contains("app-1.0.0.jar>=") && record.contains("app-1.0.0.pom>="),
        "{record}"
    );
    let top: Vec<String> = std::fs::read_dir(sb.m2_repo())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, ["com"]);
    assert!(!sb.m2_repo().join("com/myorg").exists(), "{out}");
}

/// Lock generation for an internal artifact the internal repository does not have: plain Maven
/// would take the public copy; through lockgate Maven only gets the internal repository's 404,
/// and the public offer makes it a refused confusion attempt (22). No lock is written.
#[test]
fn lock_refuses_an_internal_artifact_only_the_public_repository_has() {
    let case = Case::new(&[]);
    let sb = case.sandbox("1.2.3");
    let out = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp"]))
        .code_is(22);
    assert!(out.stderr.contains(&case.path("1.2.3", "pom")), "{out}");
    assert!(
        out.stderr.contains("internal repository does not have it"),
        "{out}"
    );
    assert!(!sb.exists(LOCK));
    let package = format!("com.myorg:{}", case.artifact);
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &package)]
        ),
        1.0
    );
}

/// The internal jar is replaced (with matching .sha1/.sha256, as an attacker with write access
/// would do) after the lock was written: a fresh machine refuses with 23 and Maven never starts.
#[test]
fn tampered_internal_jar_is_refused_before_maven_starts() {
    let case = Case::new(&["1.2.3"]);
    let sb = case.sandbox("1.2.3");
    sb.run(
        sb.lockgate()
            .args(["lock", "mvn", "-B", "-ntp", "-DskipTests"]),
    )
    .ok();
    std::fs::remove_dir_all(sb.root().join("lockgate-cache")).unwrap();
    std::fs::remove_dir_all(sb.path("target")).unwrap();
    MavenArtifact::new("com.myorg", &case.artifact, "1.2.3")
        .origin("tampered")
        .deploy(&maven_repos().internal_dir);

    let out = sb
        .run(sb.shim("mvn").args(["-B", "-ntp", "package"]))
        .code_is(23);
    // The POM changed too (it names the origin): whichever is fetched first is reported.
    assert!(
        out.stderr.contains(&format!(
            "integrity mismatch for com.myorg:{}:1.2.3 (",
            case.artifact
        )),
        "{out}"
    );
    assert!(!sb.exists("target"), "Maven never started:\n{out}");
    let labels = [
        ("package", format!("com.myorg:{}", case.artifact)),
        ("version", "1.2.3".into()),
    ];
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        sb.counter("registry_integrity_verification_failure_total", &labels) >= 1.0,
        "{}",
        sb.metrics()
    );
    assert!(sb
        .audit()
        .iter()
        .any(|e| e["decision"] == "refuse" && e["reason"] == "integrity"));
}

/// Without Maven runs: missing credentials (25, before anything is fetched), wrong ones (the
/// repository's 401 → 25), a lock line for an internal artifact only the public repository
/// has (22), and `lockgate check` on the lock.
#[test]
fn credentials_confusion_and_check_refuse_early() {
    let case = Case::new(&["1.2.3"]);
    let mut sb = case.sandbox("1.2.3");
    let check = sb.run(sb.lockgate().arg("check")).code_is(21);
    assert!(check.stdout.contains("there is no Maven lock"), "{check}");

    let internal_jar = case
        .internal("1.2.3")
        .file(&maven_repos().internal_dir, "jar");
    sb.write(
        LOCK,
        format!(
            "{}  {}\n",
            sha256_hex(&internal_jar),
            case.path("1.2.3", "jar")
        ),
    );
    sb.run(sb.lockgate().arg("check")).ok();

    sb.remove_env(PASSWORD_ENV);
    for args in [&["lock", "mvn", "-B"][..], &["mvn", "-B", "package"][..]] {
        let out = sb.run(sb.lockgate().args(args)).code_is(25);
        assert!(
            out.stderr
                .contains(&format!("${PASSWORD_ENV}, which is not set")),
            "{out}"
        );
    }
    sb.set_env(PASSWORD_ENV, "wrong-password");
    let out = sb.run(sb.shim("mvn").args(["-B", "package"])).code_is(25);
    assert!(out.stderr.contains("401"), "{out}");
    let internal = maven_repos().internal_url.trim_end_matches('/').to_string();
    assert_eq!(
        sb.counter(
            "registry_auth_failure_total",
            &[("registry", &internal), ("user", "deployer")]
        ),
        1.0
    );
    assert_eq!(
        sb.counter(
            "registry_auth_failure_total",
            &[("registry", &internal), ("user", "anonymous")]
        ),
        2.0
    );

    sb.set_env(PASSWORD_ENV, INTERNAL_MAVEN_USER.1);
    let attacker: PathBuf = case
        .internal("99.0.0")
        .file(&maven_repos().public_overlay, "jar");
    sb.write(
        LOCK,
        format!(
            "{}  {}\n",
            sha256_hex(&attacker),
            case.path("99.0.0", "jar")
        ),
    );
    let out = sb.run(sb.shim("mvn").args(["-B", "package"])).code_is(22);
    assert!(
        out.stderr.contains("the internal repository") && out.stderr.contains("does not have it"),
        "{out}"
    );
    let package = format!("com.myorg:{}", case.artifact);
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &package)]
        ),
        1.0
    );
    assert!(!sb.exists("target"));
}
