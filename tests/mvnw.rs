//! The Maven wrapper and the no-write-through layout, end to end (issue 12): the real lockgate
//! binary, the real mvn 3.8.7, real repositories over HTTP (nginx), and a Maven distribution
//! zipped from this machine's /usr/share/maven as `apache-maven-3.8.7-bin.zip`.
//!
//! The wrapper script: neither Debian nor the npm/PyPI registries this machine uses ship
//! Apache's `mvnw`, so [`MVNW`] is a minimal POSIX script written here that does what Maven
//! Wrapper 3.x's "only-script" `mvnw` does: read `distributionUrl` (and an optional
//! `distributionSha256Sum`) from `.mvn/wrapper/maven-wrapper.properties`, download it with curl
//! or wget into `~/.m2/wrapper/dists`, check the sum if there is one, unzip, and exec that
//! Maven's `bin/mvn` by absolute path.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::maven::{
    jar_origin, java_package, maven_project, maven_repos, maven_settings, MavenArtifact, MavenRepo,
    Nginx, Site, INTERNAL_MAVEN_USER,
};
use common::process::test_root;
use common::{uniq, Sandbox};
use sha2::Digest as _;

const PASSWORD_ENV: &str = "INTERNAL_MAVEN_PASSWORD";
const LOCK: &str = ".mvn/checksums/checksums.sha256";
const PROPERTIES: &str = ".mvn/wrapper/maven-wrapper.properties";
const DIST_PATH: &str = "org/apache/maven/apache-maven/3.8.7/apache-maven-3.8.7-bin.zip";

/// A stand-in for Maven Wrapper 3.x's only-script `mvnw` (see the module doc).
const MVNW: &str = r#"#!/bin/sh
# Minimal Maven wrapper (only-script behaviour), written for lockgate's tests.
set -eu
dir=$(cd "${0%/*}" && pwd)
while IFS="=" read -r key value; do
  case "$key" in
  distributionUrl) distributionUrl=$(printf %s "$value" | tr -d '[:space:]') ;;
  distributionSha256Sum) distributionSha256Sum=$(printf %s "$value" | tr -d '[:space:]') ;;
  esac
done <"$dir/.mvn/wrapper/maven-wrapper.properties"
[ -n "${distributionUrl-}" ] || { echo "cannot read distributionUrl" >&2; exit 1; }
[ -z "${MVNW_REPOURL-}" ] || distributionUrl="$MVNW_REPOURL/org/apache/maven/${distributionUrl#*/org/apache/maven/}"
name=${distributionUrl##*/}
main=${name%.*}
main=${main%-bin}
home="${MAVEN_USER_HOME:-$HOME/.m2}/wrapper/dists/$main/$(printf %s "$distributionUrl" | cksum | cut -d' ' -f1)"
if [ ! -d "$home" ]; then
  tmp=$(mktemp -d)
  if command -v curl >/dev/null; then curl -fsSL -o "$tmp/$name" "$distributionUrl"
  else wget -q -O "$tmp/$name" "$distributionUrl"; fi
  if [ -n "${distributionSha256Sum-}" ]; then
    echo "$distributionSha256Sum  $tmp/$name" | sha256sum -c - >/dev/null ||
      { echo "Error: Failed to validate Maven distribution SHA-256" >&2; rm -rf "$tmp"; exit 1; }
  fi
  unzip -q "$tmp/$name" -d "$tmp"
  mkdir -p "${home%/*}"
  mv "$tmp/$main" "$home"
  rm -rf "$tmp"
fi
exec "$home/bin/mvn" "$@"
"#;

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `dir/apache-maven-3.8.7-bin.zip` made from /usr/share/maven (links followed), with `edit`
/// applied to the unpacked tree first.
fn zip_distribution(dir: &Path, edit: impl FnOnce(&Path)) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let home = dir.join("apache-maven-3.8.7");
    let ok = std::process::Command::new("cp")
        .arg("-rL")
        .arg("/usr/share/maven")
        .arg(&home)
        .status()
        .unwrap();
    assert!(ok.success());
    let _ = fs::remove_dir_all(home.join("man"));
    edit(&home);
    let zip = dir.join("apache-maven-3.8.7-bin.zip");
    let ok = std::process::Command::new("zip")
        .current_dir(dir)
        .args(["-qr", "apache-maven-3.8.7-bin.zip", "apache-maven-3.8.7"])
        .status()
        .unwrap();
    assert!(ok.success());
    fs::remove_dir_all(&home).unwrap();
    zip
}

/// The genuine distribution, on the public repository where the policy permits it, and an
/// attacker's (its `bin/mvn` leaves `$HOME/attacker-maven-ran`) on a loopback server of its own.
struct Distributions {
    /// sha256 of the genuine zip.
    good_sha256: String,
    good_url: String,
    evil_url: String,
    _attacker: Nginx,
}

fn distributions() -> &'static Distributions {
    static D: OnceLock<Distributions> = OnceLock::new();
    D.get_or_init(|| {
        let repos = maven_repos();
        let base = test_root().join(uniq("dists"));
        let good = zip_distribution(&base.join("good"), |_| {});
        let evil = zip_distribution(&base.join("evil"), |home| {
            let mvn = home.join("bin/mvn");
            let text = fs::read_to_string(&mvn).unwrap();
            let text = text.replacen('\n', "\ntouch \"$HOME/attacker-maven-ran\"\n", 1);
            fs::write(&mvn, text).unwrap();
        });
        let public = repos.public_overlay.join(DIST_PATH);
        fs::create_dir_all(public.parent().unwrap()).unwrap();
        fs::copy(&good, &public).unwrap();
        let attacker_root = base.join("attacker");
        let served = attacker_root.join(DIST_PATH);
        fs::create_dir_all(served.parent().unwrap()).unwrap();
        fs::copy(&evil, &served).unwrap();
        let attacker = Nginx::start(&[Site::new(&[&attacker_root])]);
        Distributions {
            good_sha256: sha256_hex(&fs::read(&good).unwrap()),
            good_url: format!("{}{DIST_PATH}", repos.public_url),
            evil_url: format!("{}{DIST_PATH}", attacker.urls[0]),
            _attacker: attacker,
        }
    })
}

/// `com.myorg:<unique>` 1.2.3 on the internal repository and the attacker's 1.2.3 on the
/// public one; a sandbox whose settings list the public repository first, with a project whose
/// unit test fails unless the internal jar is used.
fn confusion_project(artifact: &str) -> Sandbox {
    let repos = maven_repos();
    MavenArtifact::new("com.myorg", artifact, "1.2.3")
        .origin("internal")
        .deploy(&repos.internal_dir);
    MavenArtifact::new("com.myorg", artifact, "1.2.3")
        .origin("attacker")
        .deploy(&repos.public_overlay);
    let mut sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!(
            "[maven]\nrepository = \"{}\"\n[maven.internal]\nurl = \"{}\"\ngroups = [\"com.myorg\"]\nusername = \"{}\"\npassword-env = \"{PASSWORD_ENV}\"\n",
            repos.public_url, repos.internal_url, INTERNAL_MAVEN_USER.0
        ),
    );
    sb.set_env(PASSWORD_ENV, INTERNAL_MAVEN_USER.1);
    sb.maven_settings(&maven_settings(&[
        MavenRepo {
            id: "central",
            url: &repos.public_url,
            auth: None,
        },
        MavenRepo {
            id: "internal",
            url: &repos.internal_url,
            auth: Some(INTERNAL_MAVEN_USER),
        },
    ]));
    maven_project(&sb.project(), &[("com.myorg", artifact, "1.2.3")]);
    let pom = sb.read("pom.xml").replace(
        "</dependencies>",
        "  <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version><scope>test</scope></dependency>\n  </dependencies>",
    );
    sb.write("pom.xml", pom);
    sb.write(
        "src/test/java/com/example/OriginTest.java",
        format!(
            "package com.example;\n\npublic class OriginTest {{\n    @org.junit.Test\n    public void usesTheInternalArtifact() {{\n        org.junit.Assert.assertEquals(\"internal\", {}.Api.origin());\n    }}\n}}\n",
            java_package("com.myorg", artifact)
        ),
    );
    sb
}

fn add_wrapper(sb: &Sandbox, properties: &str) {
    sb.write(PROPERTIES, properties);
    let script = sb.write("mvnw", MVNW);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(script, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The issue's attack with the plain `./mvnw`: the attacker's distribution (http, a host nobody
/// permitted, no sha256) runs, the build takes the attacker's `com.myorg` jar, and nothing
/// stops it. `lockgate check` now reports it; `lockgate mvnw` refuses (26) before anything is
/// downloaded. With the distribution from the permitted repository and its sha256,
/// `lockgate mvnw` builds from verified bytes only: the verified Maven, the lock's internal jar.
#[test]
fn plain_mvnw_is_attacked_and_lockgate_mvnw_refuses_or_builds_verified() {
    let d = distributions();
    let artifact = uniq("wrapped-client");
    let sb = confusion_project(&artifact);
    add_wrapper(
        &sb,
        &format!(
            "wrapperVersion=3.3.2\ndistributionType=only-script\ndistributionUrl={}\n",
            d.evil_url
        ),
    );
    sb.write("gradlew", "#!/bin/sh\nexit 1\n");

    let plain = sb
        .run(sb.cmd(sb.path("mvnw")).args(["-B", "-ntp", "package"]))
        .failed();
    assert!(
        plain
            .output()
            .contains("expected:<internal> but was:<attacker>")
            || plain
                .output()
                .contains("expected:<[internal]> but was:<[attacker]>"),
        "{plain}"
    );
    assert!(
        sb.home().join("attacker-maven-ran").exists(),
        "the attacker's Maven ran"
    );
    fs::remove_file(sb.home().join("attacker-maven-ran")).unwrap();
    fs::remove_dir_all(sb.m2_repo()).unwrap();
    fs::remove_dir_all(sb.home().join(".m2/wrapper")).unwrap();
    fs::remove_dir_all(sb.path("target")).unwrap();

    let check = sb.run(sb.lockgate().arg("check")).code_is(26);
    for needle in [
        "not one the policy permits",
        "no `distributionSha256Sum`",
        "lockgate mvnw",
        "Gradle wrapper",
    ] {
        assert!(check.output().contains(needle), "{needle}: {check}");
    }

    let out = sb
        .run(sb.lockgate().args(["mvnw", "-B", "-ntp", "package"]))
        .code_is(26);
    assert!(out.stderr.contains("distributionUrl"), "{out}");
    assert!(!sb.home().join("attacker-maven-ran").exists(), "{out}");
    assert!(!sb.path("target").exists(), "Maven never started: {out}");

    // Over http from the permitted repository, but with the wrong sha256: 23, nothing ran.
    add_wrapper(
        &sb,
        &format!(
            "distributionUrl={}\ndistributionSha256Sum={}\n",
            d.good_url,
            "0".repeat(64)
        ),
    );
    let out = sb
        .run(sb.lockgate().args(["mvnw", "-B", "-ntp", "package"]))
        .code_is(23);
    assert!(out.stderr.contains("apache-maven-3.8.7-bin.zip"), "{out}");
    assert!(!sb.path("target").exists(), "{out}");

    // The genuine distribution with its sha256: built from the verified Maven and the lock.
    add_wrapper(
        &sb,
        &format!(
            "distributionUrl={}\ndistributionSha256Sum={}\n",
            d.good_url, d.good_sha256
        ),
    );
    // The lock is written by the wrapper's own Maven, and the build runs it.
    let out = sb
        .run(sb.lockgate().args(["lock", "mvnw", "-B", "-ntp"]))
        .ok();
    assert!(
        out.stderr.contains("wrote .mvn/checksums/checksums.sha256"),
        "{out}"
    );
    fs::remove_dir_all(sb.path("target")).unwrap();
    let out = sb
        .run(sb.lockgate().args(["mvnw", "-B", "-ntp", "package"]))
        .ok();
    assert!(
        out.stderr
            .contains("files verified against .mvn/checksums/checksums.sha256"),
        "{out}"
    );
    assert!(sb.path("target/app-1.0.0.jar").exists(), "{out}");
    let wrapper = sb
        .audit()
        .into_iter()
        .find(|e| e["decision"] == "wrapper")
        .expect("a wrapper audit line");
    let mvn = wrapper["mvn"].as_str().unwrap();
    assert!(
        mvn.starts_with(
            sb.root()
                .join("lockgate-cache/maven-wrapper")
                .to_str()
                .unwrap()
        ) && mvn.ends_with("apache-maven-3.8.7/bin/mvn"),
        "{wrapper}"
    );
    assert!(
        !sb.home().join(".m2/wrapper").exists(),
        "~/.m2/wrapper is never used"
    );

    // Pass-through runs the verified Maven too; check keeps only the warnings.
    let v = sb.run(sb.lockgate().args(["mvnw", "-v"])).ok();
    assert!(v.stdout.contains("Apache Maven 3.8.7"), "{v}");
    assert!(v.stdout.contains("lockgate-cache/maven-wrapper"), "{v}");
    let check = sb.run(sb.lockgate().arg("check")).ok();
    assert!(check.output().contains("lockgate mvnw"), "{check}");
    let doctor = sb.run(sb.lockgate().arg("doctor"));
    assert!(doctor.stdout.contains("lockgate mvnw"), "{doctor}");
}

/// A build that writes over a locked jar in its local repository (here `mvn install` of a
/// project with the same coordinates, as root) changes only its own copy: the store keeps the
/// verified bytes, a second project's build still gets the internal jar, and the change is
/// reported.
#[test]
fn a_build_writing_into_its_repository_changes_neither_the_store_nor_another_build() {
    let artifact = uniq("shared-client");
    // Project B depends on the internal jar; locked and built first.
    let b = confusion_project(&artifact);
    b.run(b.lockgate().args(["lock", "mvn", "-B", "-ntp"])).ok();
    b.run(b.shim("mvn").args(["-B", "-ntp", "package"])).ok();
    let internal_jar = MavenArtifact::new("com.myorg", &artifact, "1.2.3")
        .file(&maven_repos().internal_dir, "jar");
    let internal_sha = sha256_hex(&fs::read(&internal_jar).unwrap());
    let store = b.root().join("lockgate-cache");
    let stored = store
        .join("sha256")
        .join(&internal_sha[..2])
        .join(&internal_sha[2..]);
    assert_eq!(jar_origin(&stored).as_deref(), Some("internal"));

    // Project A has the same coordinates, shares B's store, and locks the internal jar too.
    let mut a = confusion_project(&uniq("unused"));
    a.set_env("LOCKGATE_CACHE_DIR", store.clone());
    fs::remove_file(a.path("src/test/java/com/example/OriginTest.java")).unwrap();
    maven_project(&a.project(), &[]);
    let pom = a.read("pom.xml").replacen(
        "<groupId>com.example</groupId>\n  <artifactId>app</artifactId>\n  <version>1.0.0</version>",
        &format!("<groupId>com.myorg</groupId>\n  <artifactId>{artifact}</artifactId>\n  <version>1.2.3</version>"),
        1,
    );
    assert!(pom.contains(&artifact));
    a.write("pom.xml", pom);
    a.run(a.lockgate().args(["lock", "mvn", "-B", "-ntp", "install"]))
        .ok();
    let jar_path = format!("com/myorg/{artifact}/1.2.3/{artifact}-1.2.3.jar");
    let lock = a.read(LOCK) + &format!("{internal_sha}  {jar_path}\n");
    a.write(LOCK, lock);

    let out = a.run(a.shim("mvn").args(["-B", "-ntp", "install"])).ok();
    assert!(
        out.stderr.contains(&format!(
            "the build changed the locked file com.myorg:{artifact}:1.2.3 (jar)"
        )),
        "{out}"
    );
    assert!(
        a.audit()
            .iter()
            .any(|e| e["decision"] == "repository-changed" && e["file"] == jar_path.as_str()),
        "reported in the audit log"
    );
    assert_eq!(
        sha256_hex(&fs::read(&stored).expect("the verified file is still in the store")),
        internal_sha
    );
    assert_eq!(jar_origin(&stored).as_deref(), Some("internal"));

    // B's next build still gets the internal jar (its unit test says so).
    b.run(b.shim("mvn").args(["-B", "-ntp", "package"])).ok();
}

/// `~/.m2` is Maven's: with `-Duser.home` coming from `JAVA_TOOL_OPTIONS` (not `MAVEN_OPTS`) and
/// `$HOME` elsewhere, plain Maven reads its settings (and the internal `<server>`) from
/// `user.home`; so does lockgate, and the lock run authenticates with that server's credentials.
#[test]
fn maven_home_directory_is_java_user_home_not_dollar_home() {
    let repos = maven_repos();
    let artifact = uniq("home-client");
    let mut sb = confusion_project(&artifact);
    sb.write(
        "lockgate.toml",
        format!(
            "[maven]\nrepository = \"{}\"\n[maven.internal]\nurl = \"{}\"\ngroups = [\"com.myorg\"]\nserver-id = \"internal\"\n",
            repos.public_url, repos.internal_url
        ),
    );
    let java_home_dir = sb.home();
    let elsewhere = sb.root().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    sb.set_env("HOME", elsewhere.clone());
    sb.set_env("MAVEN_OPTS", "-XX:TieredStopAtLevel=1");
    sb.set_env(
        "JAVA_TOOL_OPTIONS",
        format!("-Duser.home={}", java_home_dir.display()),
    );

    // Plain Maven takes the settings from user.home: the public-first chain, the attacker's jar.
    let plain = sb
        .run(
            sb.cmd(common::tools().mvn.clone())
                .args(["-B", "-ntp", "package"]),
        )
        .failed();
    assert!(plain.output().contains("attacker"), "{plain}");
    assert!(!elsewhere.join(".m2").exists(), "plain Maven ignored $HOME");
    fs::remove_dir_all(sb.m2_repo()).unwrap();

    // lockgate reads the same settings: the <server> credentials authenticate the lock run.
    let out = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp"]))
        .ok();
    let internal_jar =
        MavenArtifact::new("com.myorg", &artifact, "1.2.3").file(&repos.internal_dir, "jar");
    let line = format!(
        "{}  com/myorg/{artifact}/1.2.3/{artifact}-1.2.3.jar",
        sha256_hex(&fs::read(internal_jar).unwrap())
    );
    assert!(sb.read(LOCK).lines().any(|l| l == line), "{out}");
}
