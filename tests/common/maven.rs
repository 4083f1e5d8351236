//! Maven side of the testbed: Maven repositories served over loopback HTTP by a real nginx
//! (optional basic auth), synthetic `com.myorg` artifacts (jar + POM + checksums + metadata),
//! and a test project pinned to the plugin versions Debian ships.
//!
//! The "public" repository is `/usr/share/maven-repo` (Debian's plugin packages) with an overlay
//! dir in front for the attacker's artifacts. What that repo lacks, and why builds still work:
//! no checksum files (Maven 3.8 only warns: "Checksum validation failed, no checksums
//! available"), no `maven-metadata.xml` (fine for pinned versions; ranges need it, so the
//! harness writes one per synthetic artifact), and Maven 3.8.7's default plugin versions exist
//! only as relocation POMs, so [`maven_project`] pins the versions that are there.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sha2::Digest as _;

use super::process::{free_port, spawn_server, test_root, ServerProcess};
use super::pypi::htpasswd_line;
use super::sandbox::{base_env, command_with_env, run};
use super::{dist_py, tools, uniq};

/// Credentials of the internal Maven repository.
pub const INTERNAL_MAVEN_USER: (&str, &str) = ("deployer", "internal-maven-pass");

/// Plugin versions present in /usr/share/maven-repo, pinned by [`maven_project`].
pub const PINNED_PLUGINS: &[(&str, &str)] = &[
    ("maven-compiler-plugin", "3.10.1"),
    ("maven-resources-plugin", "3.3.0"),
    ("maven-jar-plugin", "3.3.0"),
    ("maven-surefire-plugin", "2.22.3"),
    ("maven-install-plugin", "3.1.0"),
    ("maven-dependency-plugin", "3.5.0"),
];

/// One site nginx serves on its own port: the first of `roots` that has a file wins.
#[derive(Debug, Clone)]
pub struct Site {
    pub roots: Vec<PathBuf>,
    /// Basic auth for every request, if any (anonymous → 401).
    pub auth: Option<(String, String)>,
}

impl Site {
    pub fn new(roots: &[&Path]) -> Site {
        Site {
            roots: roots.iter().map(|r| r.to_path_buf()).collect(),
            auth: None,
        }
    }

    pub fn auth(mut self, user: &str, pass: &str) -> Site {
        self.auth = Some((user.into(), pass.into()));
        self
    }
}

/// A running nginx (one process: `master_process off`), one port per site.
pub struct Nginx {
    /// `http://127.0.0.1:PORT/` per site, in order.
    pub urls: Vec<String>,
    pub process: ServerProcess,
}

impl Nginx {
    pub fn start(sites: &[Site]) -> Nginx {
        assert!(!sites.is_empty(), "nginx needs at least one site");
        let dir = test_root().join(uniq("nginx"));
        fs::create_dir_all(dir.join("tmp")).expect("create nginx dir");
        for (i, site) in sites.iter().enumerate() {
            if let Some((user, pass)) = &site.auth {
                fs::write(
                    dir.join(format!("site{i}.htpasswd")),
                    htpasswd_line(user, pass),
                )
                .expect("write htpasswd");
            }
        }
        let ports = Mutex::new(Vec::new());
        let nginx = &tools().nginx;
        let process = spawn_server("nginx", &dir, "/", |first_port| {
            let mut chosen = vec![first_port];
            chosen.extend((1..sites.len()).map(|_| free_port()));
            fs::write(dir.join("nginx.conf"), nginx_conf(&dir, sites, &chosen))
                .expect("write nginx.conf");
            *ports.lock().unwrap() = chosen;
            let mut cmd = command_with_env(nginx, &base_env());
            cmd.arg("-p").arg(&dir).arg("-e").arg(dir.join("error.log"));
            cmd.arg("-c").arg(dir.join("nginx.conf"));
            cmd
        });
        let urls = ports
            .into_inner()
            .unwrap()
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/"))
            .collect();
        Nginx { urls, process }
    }
}

fn nginx_conf(dir: &Path, sites: &[Site], ports: &[u16]) -> String {
    let d = dir.display();
    let mut conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log {d}/access.log;\n  default_type application/octet-stream;\n\
         \x20 client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
         \x20 fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n\
         \x20 scgi_temp_path {d}/tmp/scgi;\n"
    );
    for (i, (site, port)) in sites.iter().zip(ports).enumerate() {
        conf.push_str(&format!("  server {{\n    listen 127.0.0.1:{port};\n"));
        if site.auth.is_some() {
            conf.push_str(&format!(
                "    auth_basic \"internal\";\n    auth_basic_user_file {d}/site{i}.htpasswd;\n"
            ));
        }
        // Each root is a named location that falls through to the next one.
        for (j, root) in site.roots.iter().enumerate() {
            let name = if j == 0 {
                "/".to_string()
            } else {
                format!("@root{j}")
            };
            let next = if j + 1 < site.roots.len() {
                format!("@root{}", j + 1)
            } else {
                "=404".into()
            };
            conf.push_str(&format!(
                "    location {name} {{ root {}; try_files $uri {next}; }}\n",
                root.display()
            ));
        }
        conf.push_str("  }\n");
    }
    conf.push_str("}\n");
    conf
}

/// The repositories of the Maven testbed, started once per test binary.
pub struct MavenRepos {
    /// `/usr/share/maven-repo` behind `public_overlay` (the attacker deploys into the overlay).
    pub public_url: String,
    pub public_overlay: PathBuf,
    /// Needs [`INTERNAL_MAVEN_USER`]; serves `internal_dir`.
    pub internal_url: String,
    pub internal_dir: PathBuf,
    pub nginx: Nginx,
}

/// The shared public + internal repositories (one nginx).
pub fn maven_repos() -> &'static MavenRepos {
    static REPOS: OnceLock<MavenRepos> = OnceLock::new();
    REPOS.get_or_init(|| {
        let base = test_root().join(uniq("maven-repos"));
        let public_overlay = base.join("public-overlay");
        let internal_dir = base.join("internal");
        fs::create_dir_all(&public_overlay).expect("create overlay");
        fs::create_dir_all(&internal_dir).expect("create internal repo");
        let (user, pass) = INTERNAL_MAVEN_USER;
        let nginx = Nginx::start(&[
            Site::new(&[&public_overlay, &tools().maven_repo]),
            Site::new(&[&internal_dir]).auth(user, pass),
        ]);
        MavenRepos {
            public_url: nginx.urls[0].clone(),
            internal_url: nginx.urls[1].clone(),
            public_overlay,
            internal_dir,
            nginx,
        }
    })
}

/// A synthetic artifact: a jar with one class `<groupId>.<artifactId as identifier>.Api` whose
/// `origin()` returns the text of the jar's `origin.txt` resource, plus a POM.
#[derive(Debug, Clone)]
pub struct MavenArtifact {
    pub group: String,
    pub artifact: String,
    pub version: String,
    /// Stored uncompressed in the jar, so it can be read from the raw bytes ([`jar_origin`]).
    pub origin: String,
    pub dependencies: Vec<(String, String, String)>,
}

impl MavenArtifact {
    pub fn new(group: &str, artifact: &str, version: &str) -> MavenArtifact {
        MavenArtifact {
            group: group.into(),
            artifact: artifact.into(),
            version: version.into(),
            origin: "registry".into(),
            dependencies: Vec::new(),
        }
    }

    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = origin.into();
        self
    }

    pub fn dependency(mut self, group: &str, artifact: &str, version: &str) -> Self {
        self.dependencies
            .push((group.into(), artifact.into(), version.into()));
        self
    }

    /// The Java package of its `Api` class.
    pub fn java_package(&self) -> String {
        java_package(&self.group, &self.artifact)
    }

    /// `<repo>/<group path>/<artifact>/<version>/`.
    pub fn version_dir(&self, repo: &Path) -> PathBuf {
        repo.join(self.group.replace('.', "/"))
            .join(&self.artifact)
            .join(&self.version)
    }

    /// `<version dir>/<artifact>-<version>.<ext>`.
    pub fn file(&self, repo: &Path, ext: &str) -> PathBuf {
        self.version_dir(repo)
            .join(format!("{}-{}.{ext}", self.artifact, self.version))
    }

    /// Writes jar, POM, their `.sha1`/`.sha256`, and the artifact's `maven-metadata.xml` (all
    /// versions now in `repo`) into a repository dir. Returns the jar path.
    pub fn deploy(&self, repo: &Path) -> PathBuf {
        fs::create_dir_all(self.version_dir(repo)).expect("create version dir");
        let jar = self.file(repo, "jar");
        let class = template_class_for(&self.java_package());
        let class_file = test_root().join("maven-classes").join(uniq("Api.class"));
        fs::write(&class_file, class).expect("write class");
        let package_path = self.java_package().replace('.', "/");
        let mut cmd = dist_py();
        cmd.arg("jar")
            .arg(&jar)
            .arg(format!("{package_path}/Api.class={}", class_file.display()))
            .arg("--text")
            .arg(format!("{package_path}/origin.txt={}", self.origin));
        run(&mut cmd).ok();
        let pom = self.file(repo, "pom");
        fs::write(&pom, self.pom()).expect("write pom");
        write_checksums(&jar);
        write_checksums(&pom);
        let _guard = METADATA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let artifact_dir = self.version_dir(repo).parent().unwrap().to_path_buf();
        let metadata = artifact_dir.join("maven-metadata.xml");
        fs::write(&metadata, self.metadata(&artifact_dir)).expect("write metadata");
        write_checksums(&metadata);
        jar
    }

    fn pom(&self) -> String {
        let deps: String = self
            .dependencies
            .iter()
            .map(|(g, a, v)| {
                format!(
                    "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>\n"
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n\
             \x20 <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>\n\
             \x20 <packaging>jar</packaging>\n  <description>{}</description>\n\
             \x20 <dependencies>\n{deps}  </dependencies>\n</project>\n",
            self.group, self.artifact, self.version, self.origin
        )
    }

    fn metadata(&self, artifact_dir: &Path) -> String {
        let mut versions: Vec<String> = fs::read_dir(artifact_dir)
            .expect("list versions")
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        versions.sort_by_key(|v| version_key(v));
        let latest = versions.last().cloned().unwrap_or_default();
        let list: String = versions
            .iter()
            .map(|v| format!("      <version>{v}</version>\n"))
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>{}</groupId>\n\
             \x20 <artifactId>{}</artifactId>\n  <versioning>\n    <latest>{latest}</latest>\n\
             \x20   <release>{latest}</release>\n    <versions>\n{list}    </versions>\n\
             \x20   <lastUpdated>20240101000000</lastUpdated>\n  </versioning>\n</metadata>\n",
            self.group, self.artifact
        )
    }
}

static METADATA_LOCK: Mutex<()> = Mutex::new(());

/// Numeric-aware sort key for plain `1.2.3` versions (enough for synthetic artifacts).
fn version_key(version: &str) -> Vec<(u64, String)> {
    version
        .split(['.', '-'])
        .map(|part| (part.parse().unwrap_or(0), part.to_string()))
        .collect()
}

/// `<file>.sha1` and `<file>.sha256` (lowercase hex, as Maven repositories publish them).
pub fn write_checksums(file: &Path) {
    let bytes = fs::read(file).expect("read file to checksum");
    let hex = |digest: &[u8]| {
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let sha1 = hex(&sha1::Sha1::digest(&bytes));
    let sha256 = hex(&sha2::Sha256::digest(&bytes));
    fs::write(format!("{}.sha1", file.display()), sha1).expect("write sha1");
    fs::write(format!("{}.sha256", file.display()), sha256).expect("write sha256");
}

/// `com.myorg` + `payments-client` → `com.myorg.payments_client`.
pub fn java_package(group: &str, artifact: &str) -> String {
    let ident: String = artifact
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{group}.{ident}")
}

/// The text of the `origin.txt` resource in a jar built by [`MavenArtifact::deploy`].
pub fn jar_origin(jar: &Path) -> Option<String> {
    let bytes = fs::read(jar).ok()?;
    let le16 =
        |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize);
    let le32 =
        |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize);
    // Walk the local file headers; the entries are stored, so sizes are in the headers.
    let mut at = 0;
    while bytes.get(at..at + 4)? == b"PK\x03\x04" {
        let (size, name_len, extra_len) = (le32(at + 18)?, le16(at + 26)?, le16(at + 28)?);
        let name = bytes.get(at + 30..at + 30 + name_len)?;
        let data = at + 30 + name_len + extra_len;
        if name.ends_with(b"/origin.txt") {
            return String::from_utf8(bytes.get(data..data + size)?.to_vec()).ok();
        }
        at = data + size;
    }
    None
}

const TEMPLATE_CLASS_NAME: &str = "lockgate/template/Api";

/// The template `Api` class compiled once per test process (javac takes ~1.4 s).
fn template_class() -> &'static [u8] {
    static CLASS: OnceLock<Vec<u8>> = OnceLock::new();
    CLASS.get_or_init(|| {
        let dir = test_root().join("maven-classes/template");
        let src = dir.join("src/lockgate/template/Api.java");
        fs::create_dir_all(src.parent().unwrap()).expect("create template dir");
        fs::write(&src, TEMPLATE_JAVA).expect("write template source");
        let mut cmd = command_with_env(&tools().javac, &base_env());
        cmd.args(["--release", "17", "-d"])
            .arg(dir.join("out"))
            .arg(&src);
        run(&mut cmd).ok();
        fs::read(dir.join("out").join(format!("{TEMPLATE_CLASS_NAME}.class"))).expect("read class")
    })
}

/// The template class renamed to `<package>.Api`: its name is one length-prefixed UTF-8 entry
/// of the constant pool (the class never names itself in a descriptor), and nothing else in a
/// class file refers to byte offsets of the pool.
fn template_class_for(package: &str) -> Vec<u8> {
    let class = template_class();
    let mut needle = vec![1u8];
    needle.extend((TEMPLATE_CLASS_NAME.len() as u16).to_be_bytes());
    needle.extend(TEMPLATE_CLASS_NAME.as_bytes());
    let at = class
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("template class name in the constant pool");
    let name = format!("{}/Api", package.replace('.', "/"));
    let mut out = class[..at].to_vec();
    out.push(1);
    out.extend((name.len() as u16).to_be_bytes());
    out.extend(name.as_bytes());
    out.extend(&class[at + needle.len()..]);
    out
}

const TEMPLATE_JAVA: &str = r#"package lockgate.template;

public final class Api {
    private Api() {}

    /** The text of origin.txt next to this class in its jar. */
    public static String origin() {
        try (java.io.InputStream in = Api.class.getResourceAsStream("origin.txt")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException | NullPointerException e) {
            return "unknown";
        }
    }
}
"#;

/// Writes a project into `dir`: `pom.xml` (groupId `com.example`, artifactId `app`) with the
/// [`PINNED_PLUGINS`] and `deps` (`(groupId, artifactId, version or range)`), and
/// `src/main/java/com/example/App.java` calling each dependency's `Api.origin()`.
pub fn maven_project(dir: &Path, deps: &[(&str, &str, &str)]) {
    let plugins: String = PINNED_PLUGINS
        .iter()
        .map(|(a, v)| {
            format!(
                "      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>{a}</artifactId><version>{v}</version></plugin>\n"
            )
        })
        .collect();
    let dependencies: String = deps
        .iter()
        .map(|(g, a, v)| {
            format!(
                "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>\n"
            )
        })
        .collect();
    let pom = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n\
         \x20 <groupId>com.example</groupId>\n  <artifactId>app</artifactId>\n  <version>1.0.0</version>\n\
         \x20 <properties>\n    <maven.compiler.release>17</maven.compiler.release>\n\
         \x20   <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>\n  </properties>\n\
         \x20 <dependencies>\n{dependencies}  </dependencies>\n\
         \x20 <build>\n    <plugins>\n{plugins}    </plugins>\n  </build>\n</project>\n"
    );
    let calls: String = deps
        .iter()
        .map(|(g, a, _)| {
            format!(
                "        System.out.println({}.Api.origin());\n",
                java_package(g, a)
            )
        })
        .collect();
    let app = format!(
        "package com.example;\n\npublic final class App {{\n    public static void main(String[] args) {{\n{calls}    }}\n}}\n"
    );
    let src = dir.join("src/main/java/com/example");
    fs::create_dir_all(&src).expect("create project sources");
    fs::write(dir.join("pom.xml"), pom).expect("write pom.xml");
    fs::write(src.join("App.java"), app).expect("write App.java");
}

/// One repository for [`maven_settings`].
#[derive(Debug, Clone)]
pub struct MavenRepo<'a> {
    pub id: &'a str,
    pub url: &'a str,
    pub auth: Option<(&'a str, &'a str)>,
}

/// A `settings.xml` whose active profile lists `repos` in this order (for dependencies and
/// plugins), with a `<server>` per repository with credentials. Give one of them the id
/// `central` (it replaces the super POM's Central, which is unreachable here).
pub fn maven_settings(repos: &[MavenRepo]) -> String {
    let servers: String = repos
        .iter()
        .filter_map(|r| {
            let (user, pass) = r.auth?;
            Some(format!(
                "    <server><id>{}</id><username>{user}</username><password>{pass}</password></server>\n",
                r.id
            ))
        })
        .collect();
    let entries = |tag: &str| -> String {
        repos
            .iter()
            .map(|r| {
                format!(
                    "        <{tag}><id>{}</id><url>{}</url><releases><enabled>true</enabled></releases><snapshots><enabled>false</enabled></snapshots></{tag}>\n",
                    r.id, r.url
                )
            })
            .collect()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<settings>\n  <servers>\n{servers}  </servers>\n\
         \x20 <profiles>\n    <profile>\n      <id>repos</id>\n      <repositories>\n{}      </repositories>\n\
         \x20     <pluginRepositories>\n{}      </pluginRepositories>\n    </profile>\n  </profiles>\n\
         \x20 <activeProfiles><activeProfile>repos</activeProfile></activeProfiles>\n</settings>\n",
        entries("repository"),
        entries("pluginRepository")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_package_makes_identifiers() {
        assert_eq!(
            java_package("com.myorg", "payments-client"),
            "com.myorg.payments_client"
        );
        assert_eq!(java_package("com.myorg.x", "a.b"), "com.myorg.x.a_b");
    }

    #[test]
    fn versions_sort_numerically() {
        let mut v = vec!["99.0.0", "1.10.0", "1.2.3", "1.9"];
        v.sort_by_key(|x| version_key(x));
        assert_eq!(v, ["1.2.3", "1.9", "1.10.0", "99.0.0"]);
    }

    #[test]
    fn settings_keep_repository_order_and_credentials() {
        let xml = maven_settings(&[
            MavenRepo {
                id: "central",
                url: "http://127.0.0.1:1/",
                auth: None,
            },
            MavenRepo {
                id: "internal",
                url: "http://127.0.0.1:2/",
                auth: Some(("u", "p")),
            },
        ]);
        let central = xml.find("<id>central</id><url>").unwrap();
        let internal = xml.find("<id>internal</id><url>").unwrap();
        assert!(central < internal);
        assert!(xml.contains(
            "<server><id>internal</id><username>u</username><password>p</password></server>"
        ));
        assert!(!xml.contains("<server><id>central</id>"));
    }
}
