//! npm side of the testbed: real Verdaccio 5 registries on loopback, packages built with
//! [`NpmPackage`] and published with the real `npm publish`, and storage-level tampering for the
//! stale/poisoned-cache scenario.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use sha1::Digest as _;

use super::http;
use super::process::{spawn_server, test_root, ServerProcess};
use super::sandbox::{base_env, command_with_env, run};
use super::{tools, uniq};

/// Users the shared registries are created with.
pub const INTERNAL_USER: (&str, &str) = ("ci-bot", "internal-pass-1");
pub const ATTACKER_USER: (&str, &str) = ("attacker", "attacker-pass-1");

/// A running Verdaccio (uplinks: none; htpasswd auth).
pub struct Verdaccio {
    /// `http://127.0.0.1:PORT/` (with the trailing slash npm's config keys use).
    pub url: String,
    /// Its `storage` dir: `<name>/package.json` (the packument) and `<name>/<base>-<v>.tgz`.
    pub storage: PathBuf,
    pub process: ServerProcess,
}

impl Verdaccio {
    /// Starts a Verdaccio whose packages matching `protected` (e.g. `"@myorg/*"`, or `"**"` for
    /// everything) need authentication to read; everything else is readable anonymously.
    /// Publishing always needs a user.
    pub fn start(protected: &[&str]) -> Verdaccio {
        let dir = test_root().join(uniq("verdaccio"));
        fs::create_dir_all(&dir).expect("create verdaccio dir");
        let mut packages = String::new();
        let rule = |pattern: &str, access: &str| {
            format!(
                "  '{pattern}':\n    access: {access}\n    publish: $authenticated\n    unpublish: $authenticated\n"
            )
        };
        for pattern in protected {
            packages.push_str(&rule(pattern, "$authenticated"));
        }
        if !protected.contains(&"**") {
            packages.push_str(&rule("**", "$all"));
        }
        let config = format!(
            "storage: ./storage\n\
             auth:\n  htpasswd:\n    file: ./htpasswd\n    max_users: 1000\n\
             uplinks: {{}}\n\
             packages:\n{packages}\
             web:\n  enable: false\n\
             server:\n  keepAliveTimeout: 60\n\
             log: {{ type: stdout, format: pretty, level: warn }}\n"
        );
        fs::write(dir.join("config.yaml"), config).expect("write verdaccio config");
        let verdaccio = &tools().verdaccio;
        let process = spawn_server("verdaccio", &dir, "/-/ping", |port| {
            let mut cmd = command_with_env(verdaccio, &base_env());
            cmd.current_dir(&dir)
                .arg("--config")
                .arg(dir.join("config.yaml"))
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"));
            cmd
        });
        Verdaccio {
            url: format!("http://127.0.0.1:{}/", process.port),
            storage: dir.join("storage"),
            process,
        }
    }

    /// `127.0.0.1:PORT`, the host part npm's per-registry config keys use.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.process.port)
    }

    /// The `.npmrc` line that gives npm this token for this registry.
    pub fn auth_line(&self, token: &str) -> String {
        format!("//{}/:_authToken={token}", self.host())
    }

    /// Creates a user (`PUT /-/user/org.couchdb.user:NAME`) and returns its bearer token.
    pub fn add_user(&self, name: &str, pass: &str) -> String {
        let body = serde_json::json!({ "name": name, "password": pass }).to_string();
        let url = format!("{}-/user/org.couchdb.user:{name}", self.url);
        let response = http::request(
            "PUT",
            &url,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("PUT {url}: {e}"));
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        match json["token"].as_str() {
            Some(token) if response.status() == 201 => token.to_string(),
            _ => panic!(
                "adding user {name} failed: {} {}",
                response.status(),
                response.text()
            ),
        }
    }

    /// Publishes `package` with the real `npm publish` as the user of `token`.
    pub fn publish(&self, token: &str, package: &NpmPackage) {
        let dir = package.write_dir();
        let npmrc = dir.with_extension("npmrc");
        fs::write(&npmrc, format!("{}\n", self.auth_line(token))).expect("write npmrc");
        let mut cmd = harness_npm(&npmrc);
        cmd.current_dir(&dir)
            .args(["publish", "--registry", &self.url, "--access", "public"]);
        run(&mut cmd).ok();
    }

    /// The packument file in Verdaccio's storage.
    pub fn packument_path(&self, name: &str) -> PathBuf {
        self.storage.join(name).join("package.json")
    }

    /// The stored tarball of `name@version`.
    pub fn tarball_path(&self, name: &str, version: &str) -> PathBuf {
        let base = name.rsplit('/').next().unwrap_or(name);
        self.storage
            .join(name)
            .join(format!("{base}-{version}.tgz"))
    }

    /// The URL Verdaccio advertises as `dist.tarball` for `name@version`.
    pub fn tarball_url(&self, name: &str, version: &str) -> String {
        let base = name.rsplit('/').next().unwrap_or(name);
        format!("{}{name}/-/{base}-{version}.tgz", self.url)
    }

    /// Overwrites the stored tarball of `replacement.name@replacement.version` with the bytes of
    /// `replacement` (packed by the real `npm pack`): the registry now serves other content under
    /// an old version. With `update_packument`, that version's packument entry takes the new
    /// manifest (scripts, dependencies) and a `dist.integrity`/`dist.shasum` matching the new
    /// bytes — a poisoned cache that npm itself cannot detect without a lockfile.
    pub fn replace_tarball(&self, replacement: &NpmPackage, update_packument: bool) {
        let (name, version) = (&replacement.name, &replacement.version);
        let bytes = fs::read(replacement.pack()).expect("read packed tarball");
        let target = self.tarball_path(name, version);
        assert!(target.exists(), "{name}@{version} is not published here");
        fs::write(&target, &bytes).expect("overwrite stored tarball");
        if !update_packument {
            return;
        }
        let path = self.packument_path(name);
        let mut packument: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read packument"))
                .expect("parse packument");
        let (integrity, shasum) = npm_digests(&bytes);
        // The version's manifest as a compromised upstream would show it: npm decides from the
        // packument (scripts → `hasInstallScript`) whether to run install scripts.
        let manifest = replacement.manifest();
        let entry = &mut packument["versions"][version];
        for (key, value) in manifest.as_object().expect("manifest is an object") {
            entry[key] = value.clone();
        }
        let dist = &mut entry["dist"];
        dist["integrity"] = integrity.into();
        dist["shasum"] = shasum.clone().into();
        let base = name.rsplit('/').next().unwrap_or(name);
        let attachment = &mut packument["_attachments"][format!("{base}-{version}.tgz")];
        if attachment.is_object() {
            attachment["shasum"] = shasum.into();
        }
        fs::write(&path, serde_json::to_string_pretty(&packument).unwrap())
            .expect("write packument");
    }
}

/// `(sha512 SRI, sha1 hex)` of tarball bytes, as a packument's `dist` records them.
pub fn npm_digests(bytes: &[u8]) -> (String, String) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let sha512 = b64.encode(sha2::Sha512::digest(bytes));
    let sha1: String = sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (format!("sha512-{sha512}"), sha1)
}

/// The system npm with a given userconfig and the harness's shared cache, for publish/pack.
fn harness_npm(npmrc: &std::path::Path) -> std::process::Command {
    let mut env = base_env();
    env.insert("HOME".into(), test_root().join("npm-home").into());
    env.insert("npm_config_userconfig".into(), npmrc.into());
    env.insert(
        "npm_config_cache".into(),
        test_root().join("npm-cache").into(),
    );
    env.insert("npm_config_update_notifier".into(), "false".into());
    command_with_env(&tools().npm, &env)
}

/// The two registries of the npm testbed, started once per test binary.
pub struct NpmRegistries {
    /// `@myorg/*` needs auth; holds the organisation's packages.
    pub internal: Verdaccio,
    /// Token of [`INTERNAL_USER`] on `internal`.
    pub internal_token: String,
    /// Everything public: stands in for registry.npmjs.org, where the attacker publishes.
    pub public: Verdaccio,
    /// Token of [`ATTACKER_USER`] on `public`.
    pub attacker_token: String,
}

/// The shared internal + public Verdaccio pair (started lazily, concurrently).
pub fn npm_registries() -> &'static NpmRegistries {
    static REGISTRIES: OnceLock<NpmRegistries> = OnceLock::new();
    REGISTRIES.get_or_init(|| {
        let public = std::thread::spawn(|| Verdaccio::start(&[]));
        let internal = Verdaccio::start(&["@myorg/*"]);
        let public = public.join().expect("start the public verdaccio");
        NpmRegistries {
            internal_token: internal.add_user(INTERNAL_USER.0, INTERNAL_USER.1),
            attacker_token: public.add_user(ATTACKER_USER.0, ATTACKER_USER.1),
            internal,
            public,
        }
    })
}

/// A package to publish: `package.json`, an `index.js` that exports its name, version and
/// `origin`, and optionally an install script (`preinstall`/`install`/`postinstall`) that writes
/// `$INIT_CWD/markers/<name>@<version>.json` with `{name, version, event, cwd, env}` — read it
/// with [`Sandbox::npm_marker`](super::sandbox::Sandbox::npm_marker).
#[derive(Debug, Clone)]
pub struct NpmPackage {
    pub name: String,
    pub version: String,
    pub dependencies: BTreeMap<String, String>,
    /// Lifecycle event that runs the marker script, if any.
    pub install_script: Option<String>,
    /// Any text that makes two builds of the same name@version differ (default `"registry"`).
    pub origin: String,
}

impl NpmPackage {
    pub fn new(name: &str, version: &str) -> NpmPackage {
        NpmPackage {
            name: name.into(),
            version: version.into(),
            dependencies: BTreeMap::new(),
            install_script: None,
            origin: "registry".into(),
        }
    }

    pub fn dependency(mut self, name: &str, range: &str) -> Self {
        self.dependencies.insert(name.into(), range.into());
        self
    }

    /// Adds a `postinstall` that writes the marker.
    pub fn postinstall(self) -> Self {
        self.install_script("postinstall")
    }

    /// Adds a marker-writing script for `event` (`preinstall`, `install` or `postinstall`).
    pub fn install_script(mut self, event: &str) -> Self {
        self.install_script = Some(event.into());
        self
    }

    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = origin.into();
        self
    }

    fn manifest(&self) -> serde_json::Value {
        let mut manifest = serde_json::json!({
            "name": self.name,
            "version": self.version,
            "description": format!("lockgate test package ({})", self.origin),
            "main": "index.js",
            "license": "MIT",
            "dependencies": self.dependencies,
        });
        if let Some(event) = &self.install_script {
            manifest["scripts"] = serde_json::json!({ event.as_str(): "node marker.js" });
        }
        manifest
    }

    /// Writes the package sources to a fresh dir and returns it.
    pub fn write_dir(&self) -> PathBuf {
        let dir = test_root().join("npm-packages").join(uniq("pkg"));
        fs::create_dir_all(&dir).expect("create package dir");
        let manifest = serde_json::to_string_pretty(&self.manifest()).unwrap();
        fs::write(dir.join("package.json"), manifest).expect("write package.json");
        let exports = serde_json::json!({
            "name": self.name, "version": self.version, "origin": self.origin
        });
        fs::write(
            dir.join("index.js"),
            format!("module.exports = {exports};\n"),
        )
        .expect("write index.js");
        if self.install_script.is_some() {
            fs::write(dir.join("marker.js"), MARKER_JS).expect("write marker.js");
        }
        dir
    }

    /// Packs the package with the real `npm pack`; returns the `.tgz`.
    pub fn pack(&self) -> PathBuf {
        let dir = self.write_dir();
        let npmrc = dir.with_extension("npmrc");
        fs::write(&npmrc, "").expect("write npmrc");
        let mut cmd = harness_npm(&npmrc);
        cmd.current_dir(&dir).args(["pack", "--json"]);
        let output = run(&mut cmd).ok();
        let json: serde_json::Value = serde_json::from_str(&output.stdout)
            .unwrap_or_else(|e| panic!("npm pack --json: {e}\n{output}"));
        let file = json[0]["filename"].as_str().expect("npm pack filename");
        dir.join(file)
    }
}

/// The install script: records that it ran, where, and the environment it saw.
const MARKER_JS: &str = r#"const fs = require('fs');
const path = require('path');
const pkg = require('./package.json');
const file = path.join(process.env.INIT_CWD || process.cwd(), 'markers', `${pkg.name}@${pkg.version}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, JSON.stringify({
  name: pkg.name,
  version: pkg.version,
  event: process.env.npm_lifecycle_event,
  cwd: process.cwd(),
  env: process.env,
}, null, 2));
"#;
