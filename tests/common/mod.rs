//! The integration-test harness: real registries on loopback, isolated sandboxes, and the
//! lockgate binary under test. Every integration test file uses it with `mod common;`.
//!
//! Project rule: tests run the real `lockgate` binary, the real npm/pip/mvn, and REAL registries
//! (Verdaccio 5, pypiserver 2.4, nginx serving Maven repositories), all on 127.0.0.1 with random
//! free ports. [`proxy::FaultProxy`] sits in front of a real registry only for faults a real
//! server cannot produce on demand. Tools come from `scripts/setup-test-env.sh` (run by
//! `scripts/test.sh`); when one is missing, [`tools`] panics naming that script — tests never
//! skip.
//!
//! # Shape of a test
//!
//! ```ignore
//! mod common;
//! use common::npm::{npm_registries, NpmPackage};
//! use common::{uniq, Sandbox};
//!
//! #[test]
//! fn internal_scope_never_comes_from_public() {
//!     let reg = npm_registries(); // shared internal + public Verdaccio, started on first use
//!     let name = format!("@myorg/{}", uniq("payments-client")); // unique per test
//!     reg.internal.publish(&reg.internal_token, &NpmPackage::new(&name, "1.2.3"));
//!     let attack = NpmPackage::new(&name, "99.0.0").postinstall(); // records its env if run
//!     reg.public.publish(&reg.attacker_token, &attack);
//!
//!     let mut sb = Sandbox::new(); // own HOME, npm/pip/Maven config, lockgate env and files
//!     sb.set_env("INTERNAL_NPM_TOKEN", &reg.internal_token);
//!     sb.npmrc(&format!("registry={}", reg.public.url)); // the scope mapping is missing
//!     sb.write("lockgate.toml", "…");
//!     sb.write("package.json", r#"{"name":"app","version":"1.0.0"}"#);
//!     // Through the `npm` shim; code_is/ok panic with the command's whole output.
//!     sb.run(sb.shim("npm").args(["install", &name])).code_is(22);
//!     assert!(sb.npm_marker(&name, "99.0.0").is_none());
//!     assert!(!sb.exists("node_modules"));
//!     let confusion = "registry_confusion_attempt_detected_total";
//!     assert_eq!(sb.counter(confusion, &[("package", &name)]), 1.0);
//! }
//! ```
//!
//! The same test with npm 10: `sb.prepend_path(tools().npm10.parent().unwrap())`. Faults: put
//! a [`proxy::FaultProxy`] in front of `reg.internal.url` and point the policy at `proxy.url`.
//!
//! # What is where
//!
//! - this module: [`tools`] (paths of every tool, or a panic naming the setup script),
//!   [`lockgate_bin`], [`shim_dir`] (npm, npx, pip, pip3, mvn → lockgate), [`uniq`] (names
//!   that do not collide between tests of one binary), [`repo_root`].
//! - [`sandbox`]: [`Sandbox`] — a temp dir per test; `cmd(program)` gives a `Command` with only
//!   the sandbox environment (env cleared, then PATH/locale/JAVA_HOME/pyenv passed through;
//!   HOME, npm userconfig+globalconfig+cache, `PIP_CONFIG_FILE=/dev/null` and no inherited
//!   `PIP_*`, `MAVEN_OPTS=-Duser.home=…` so `~/.m2` is the sandbox's, `LOCKGATE_CACHE_DIR`,
//!   `LOCKGATE_METRICS_FILE`, `LOCKGATE_AUDIT_LOG`, an empty `LOCKGATE_SYSTEM_CONFIG` = no org policy);
//!   `shim(tool)` runs lockgate under a tool's name with the shims first on PATH; `lockgate()`;
//!   `write`/`read`/`exists` (relative to `project/`, the working dir); `npmrc`, `pip_conf`,
//!   `maven_settings`; `metrics`/`counter`/`audit`; `npm_marker`. [`sandbox::run`] runs a
//!   command with a time limit and returns a [`sandbox::Run`] whose `ok()`/`code_is(n)` panic
//!   with the command's whole output.
//! - [`npm`]: [`npm::Verdaccio`] (`start(protected_patterns)`, `add_user`, `publish` with the
//!   real `npm publish`, `replace_tarball` for tampering, with or without making the packument
//!   agree), [`npm::NpmPackage`] (builder; `postinstall()` adds a script that records its
//!   environment), [`npm::npm_registries`] (the shared internal + public pair).
//! - [`pypi`]: [`pypi::PypiServer`] (`start(auth)`, `add(file)`; always `--disable-fallback`),
//!   [`pypi::build_wheel`], [`pypi::build_wheel_with_origin`], [`pypi::build_sdist`] +
//!   [`pypi::sdist_marker`], [`pypi::installed_version`] for `pip install --target DIR`
//!   (measured faster than a venv per test), [`pypi::pypi_registries`].
//! - [`maven`]: [`maven::Nginx`] (`start(sites)`, basic auth per site), [`maven::MavenArtifact`]
//!   (`deploy(repo_dir)`: jar + POM + `.sha1`/`.sha256` + `maven-metadata.xml`),
//!   [`maven::maven_project`], [`maven::maven_settings`], [`maven::jar_origin`],
//!   [`maven::maven_repos`] (public = `/usr/share/maven-repo` behind an overlay; internal with
//!   auth).
//! - [`proxy`]: [`proxy::FaultProxy`] — N× error status, reset, truncation, redirects, trickle;
//!   records every request's headers.
//! - [`http`]: a tiny client for readiness checks and "anonymous read → 401" assertions.
//!
//! # Sharing and isolation
//!
//! Servers start lazily on first use and are shared by all tests of one test binary
//! (`OnceLock`); tests run in parallel, so every test publishes under its own names
//! ([`uniq`]) and never changes what another test's names serve. A test that needs a differently
//! configured registry starts its own (measured: `Verdaccio::start` 0.6–0.8 s, `PypiServer::start`
//! 0.2 s, `Nginx::start` 30 ms). Every server is a child that dies with the test process, even on
//! panic or SIGKILL ([`process`]); everything is written below one temp root per process, removed
//! at exit.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod http;
pub mod maven;
pub mod npm;
pub mod process;
pub mod proxy;
pub mod pypi;
pub mod sandbox;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub use process::test_root;
pub use sandbox::Sandbox;

/// The tool names lockgate answers to (links in [`shim_dir`]).
pub const SHIM_NAMES: &[&str] = &["npm", "npx", "pip", "pip3", "mvn"];

/// The checkout this test binary was built from.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lockgate binary under test.
pub fn lockgate_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lockgate"))
}

/// A dir with `npm`, `npx`, `pip`, `pip3` and `mvn` symlinked to the lockgate binary (argv[0]
/// dispatch), like `install.sh`'s `shims/`.
pub fn shim_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = test_root().join("shims");
        std::fs::create_dir_all(&dir).expect("create shim dir");
        for name in SHIM_NAMES {
            symlink(lockgate_bin(), dir.join(name)).expect("create shim symlink");
        }
        dir
    })
}

/// `base` plus a suffix unique within this test process (`payments-client` →
/// `payments-client-7`): lowercase, valid as an npm, PyPI and Maven name.
pub fn uniq(base: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{base}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `tests/fixtures/dist.py` (builds wheels, sdists and jars), run by the venv's python (the
/// machine's `python3` may be a slow pyenv shim).
pub fn dist_py() -> std::process::Command {
    let env = sandbox::base_env();
    let mut cmd = sandbox::command_with_env(&tools().venv_python, &env);
    cmd.arg(repo_root().join("tests/fixtures/dist.py"));
    cmd
}

/// Paths of every tool the tests use.
#[derive(Debug)]
pub struct Tools {
    pub node: PathBuf,
    /// The machine's npm (first on PATH).
    pub npm: PathBuf,
    /// npm 10, for "tests must also pass with an older npm".
    pub npm10: PathBuf,
    pub verdaccio: PathBuf,
    /// The machine's python3 and pip (first on PATH).
    pub python: PathBuf,
    pub pip: PathBuf,
    /// The venv that runs pypiserver.
    pub venv_python: PathBuf,
    pub pypi_server: PathBuf,
    /// setuptools/wheel/packaging wheels the public index serves so sdists can build.
    pub pypi_public_wheels: PathBuf,
    pub mvn: PathBuf,
    pub javac: PathBuf,
    pub nginx: PathBuf,
    pub openssl: PathBuf,
    /// Debian's Maven repository with the pinned plugins.
    pub maven_repo: PathBuf,
}

/// Every tool, checked once; panics listing all that are missing and naming the setup script.
pub fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let local = repo_root().join(".tools");
        let on_path = |name: &str| which::which(name).unwrap_or_else(|_| PathBuf::from(name));
        let tools = Tools {
            node: on_path("node"),
            npm: on_path("npm"),
            npm10: local.join("npm10/node_modules/.bin/npm"),
            verdaccio: local.join("verdaccio/node_modules/.bin/verdaccio"),
            python: on_path("python3"),
            pip: on_path("pip"),
            venv_python: local.join("pypi-venv/bin/python"),
            pypi_server: local.join("pypi-venv/bin/pypi-server"),
            pypi_public_wheels: local.join("pypi-public"),
            mvn: on_path("mvn"),
            javac: on_path("javac"),
            nginx: which::which("nginx").unwrap_or_else(|_| PathBuf::from("/usr/sbin/nginx")),
            openssl: on_path("openssl"),
            maven_repo: PathBuf::from("/usr/share/maven-repo"),
        };
        let surefire = tools
            .maven_repo
            .join("org/apache/maven/plugins/maven-surefire-plugin/2.22.3");
        let dependency = tools
            .maven_repo
            .join("org/apache/maven/plugins/maven-dependency-plugin/3.5.0");
        let required = [
            &tools.node,
            &tools.npm,
            &tools.npm10,
            &tools.verdaccio,
            &tools.python,
            &tools.pip,
            &tools.venv_python,
            &tools.pypi_server,
            &tools.pypi_public_wheels,
            &tools.mvn,
            &tools.javac,
            &tools.nginx,
            &tools.openssl,
            &surefire,
            &dependency,
        ];
        let missing: Vec<String> = required
            .iter()
            .filter(|p| !p.exists())
            .map(|p| format!("  {}", p.display()))
            .collect();
        assert!(
            missing.is_empty(),
            "test tools missing:\n{}\nRun scripts/setup-test-env.sh (scripts/test.sh runs it for you).",
            missing.join("\n")
        );
        tools
    })
}
