//! pip side of the testbed: real pypiserver 2.4 indexes on loopback (always
//! `--disable-fallback`, so unknown names never redirect to the real PyPI), and wheels/sdists
//! built by `tests/fixtures/dist.py`.
//!
//! pypiserver runs with `--backend simple-dir`: it lists its package dirs on every request, so
//! files added with [`PypiServer::add`] are served at once (checked by the testbed). Its
//! default `--server auto` picks waitress (installed next to it), which serves concurrent
//! requests. Its simple
//! index is PEP 503 HTML with `#sha256=` fragments; links point at `/packages/<file>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::process::{spawn_server, test_root, ServerProcess};
use super::sandbox::{base_env, command_with_env, read_json, run};
use super::{dist_py, tools, uniq};

/// Credentials of the internal index.
pub const INTERNAL_PYPI_USER: (&str, &str) = ("ci", "internal-pypi-pass");

/// A running pypiserver.
pub struct PypiServer {
    /// `http://127.0.0.1:PORT/` (the simple index is under `simple/`).
    pub url: String,
    /// Where its files live; [`PypiServer::add`] copies into it.
    pub packages: PathBuf,
    /// Basic-auth credentials for every read (`-a download,list,update`), if any.
    pub auth: Option<(String, String)>,
    pub process: ServerProcess,
}

impl PypiServer {
    /// Starts a pypiserver; with `auth`, anonymous reads of anything get 401.
    pub fn start(auth: Option<(&str, &str)>) -> PypiServer {
        Self::start_serving(auth, &[])
    }

    /// Like [`PypiServer::start`], also serving the files in `extra_dirs` (read-only).
    pub fn start_serving(auth: Option<(&str, &str)>, extra_dirs: &[&Path]) -> PypiServer {
        let dir = test_root().join(uniq("pypiserver"));
        let packages = dir.join("packages");
        fs::create_dir_all(&packages).expect("create pypiserver dirs");
        let mut args: Vec<String> = vec![
            "run".into(),
            "--interface".into(),
            "127.0.0.1".into(),
            "--disable-fallback".into(),
            "--backend".into(),
            "simple-dir".into(),
        ];
        if let Some((user, pass)) = auth {
            let htpasswd = dir.join("htpasswd");
            fs::write(&htpasswd, htpasswd_line(user, pass)).expect("write htpasswd");
            args.extend([
                "--passwords".into(),
                htpasswd.display().to_string(),
                "--authenticate".into(),
                "download,list,update".into(),
            ]);
        } else {
            args.extend([
                "--passwords".into(),
                ".".into(),
                "--authenticate".into(),
                ".".into(),
            ]);
        }
        args.push(packages.display().to_string());
        args.extend(extra_dirs.iter().map(|d| d.display().to_string()));
        let pypi_server = &tools().pypi_server;
        // `/health` answers without auth, so readiness does not depend on the credentials.
        let process = spawn_server("pypiserver", &dir, "/health", |port| {
            let mut cmd = command_with_env(pypi_server, &base_env());
            cmd.args(&args).arg("--port").arg(port.to_string());
            cmd
        });
        PypiServer {
            url: format!("http://127.0.0.1:{}/", process.port),
            packages,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
            process,
        }
    }

    /// The simple index URL, `http://127.0.0.1:PORT/simple/`.
    pub fn simple_url(&self) -> String {
        format!("{}simple/", self.url)
    }

    /// The simple index URL with the credentials in it, as pip accepts them.
    pub fn simple_url_with_auth(&self) -> String {
        match &self.auth {
            Some((user, pass)) => format!(
                "http://{user}:{pass}@127.0.0.1:{}/simple/",
                self.process.port
            ),
            None => self.simple_url(),
        }
    }

    /// Copies a built file into the index (served from the next request on).
    pub fn add(&self, file: &Path) -> PathBuf {
        let target = self.packages.join(file.file_name().expect("a file name"));
        fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
        target
    }
}

/// One htpasswd line in Apache's MD5 format, made by `openssl passwd -apr1` (nginx and
/// passlib both read it).
pub fn htpasswd_line(user: &str, pass: &str) -> String {
    let mut cmd = command_with_env(&tools().openssl, &base_env());
    cmd.args(["passwd", "-apr1", pass]);
    let hash = run(&mut cmd).ok().stdout.trim().to_string();
    format!("{user}:{hash}\n")
}

/// The two indexes of the pip testbed, started once per test binary.
pub struct PypiRegistries {
    /// Needs [`INTERNAL_PYPI_USER`] for every read; holds the organisation's packages.
    pub internal: PypiServer,
    /// Anonymous; stands in for pypi.org (also serves setuptools/wheel, so sdists build).
    pub public: PypiServer,
}

/// The shared internal + public pypiserver pair (started lazily, concurrently).
pub fn pypi_registries() -> &'static PypiRegistries {
    static REGISTRIES: OnceLock<PypiRegistries> = OnceLock::new();
    REGISTRIES.get_or_init(|| {
        let public =
            std::thread::spawn(|| PypiServer::start_serving(None, &[&tools().pypi_public_wheels]));
        let internal = PypiServer::start(Some(INTERNAL_PYPI_USER));
        PypiRegistries {
            internal,
            public: public.join().expect("start the public pypiserver"),
        }
    })
}

fn built_path(mut cmd: Command) -> PathBuf {
    PathBuf::from(run(&mut cmd).ok().stdout.trim())
}

/// A minimal pure-python wheel (`py3-none-any`) with `Requires-Dist: requires…`; its module
/// `<name_underscored>` has `ORIGIN = "registry"`. Same inputs, same bytes.
pub fn build_wheel(name: &str, version: &str, requires: &[&str]) -> PathBuf {
    build_wheel_with_origin(name, version, requires, "registry")
}

/// Like [`build_wheel`], with other content (`ORIGIN = origin`): the attacker's or a tampered
/// copy under the same file name.
pub fn build_wheel_with_origin(
    name: &str,
    version: &str,
    requires: &[&str],
    origin: &str,
) -> PathBuf {
    let out = test_root().join("dists").join(uniq("wheel"));
    let mut cmd = dist_py();
    cmd.arg("wheel")
        .arg(&out)
        .args([name, version, "--origin", origin]);
    for spec in requires {
        cmd.args(["--requires", spec]);
    }
    built_path(cmd)
}

/// An sdist whose `setup.py` writes a marker (read it with [`sdist_marker`]) before it calls
/// setuptools: installing it runs its code. pip builds it in an isolated env, so the index it
/// installs from must also offer setuptools and wheel (the shared public index does).
pub fn build_sdist(name: &str, version: &str) -> PathBuf {
    let out = test_root().join("dists").join(uniq("sdist"));
    let mut cmd = dist_py();
    cmd.arg("sdist")
        .arg(&out)
        .args([name, version])
        .arg("--marker-dir")
        .arg(marker_dir());
    built_path(cmd)
}

fn marker_dir() -> PathBuf {
    test_root().join("markers/pip")
}

/// What the setup.py of [`build_sdist`]`(name, version)` recorded (`{name, version, argv, cwd,
/// env}`), if it ran. Markers are per test process: give each test its own names ([`uniq`]).
pub fn sdist_marker(name: &str, version: &str) -> Option<serde_json::Value> {
    read_json(&marker_dir().join(format!("{name}-{version}.json")))
}

/// The version of `name` a `pip install --target DIR` left (from its `.dist-info` dir), if any.
pub fn installed_version(target: &Path, name: &str) -> Option<String> {
    let wanted = normalize(name);
    fs::read_dir(target)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find_map(|f| {
            let (dist, version) = f.strip_suffix(".dist-info")?.rsplit_once('-')?;
            (normalize(dist) == wanted).then(|| version.to_string())
        })
}

/// PEP 503 name normalisation (`Foo.Bar_baz` → `foo-bar-baz`).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize("FRIENDLY_BARD"), "friendly-bard");
        assert_eq!(normalize("friendly.._-bard"), "friendly-bard");
        assert_eq!(normalize("myorg_payments.client"), "myorg-payments-client");
    }
}
