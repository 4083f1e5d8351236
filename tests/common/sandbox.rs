//! `Sandbox`: a temp dir per test with an isolated environment for running npm, pip, mvn and
//! lockgate, plus `run` (a command with a time limit and readable failure output).
//!
//! Layout: `project/` (the working directory of every command), `home/` (HOME, npm userconfig
//! `home/.npmrc`, Maven's `home/.m2`), `npm-cache/`, `lockgate-cache/`, `metrics.prom`,
//! `audit.jsonl`, and an `etc/lockgate/config.toml` that does not exist unless a test writes it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{lockgate_bin, shim_dir, test_root};

/// Variables passed through from the test process; everything else is cleared.
const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "JAVA_HOME",
    "PYENV_ROOT",
    "PYENV_VERSION",
];

/// npm settings every sandbox starts with (quiet, no network side trips).
const NPMRC_DEFAULTS: &str = "fund=false\naudit=false\nupdate-notifier=false\n";

/// The allowlisted part of the test process's environment (with a UTF-8 locale).
pub fn base_env() -> BTreeMap<String, OsString> {
    let mut env: BTreeMap<String, OsString> = ENV_ALLOWLIST
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
        .collect();
    env.entry("LANG".into()).or_insert_with(|| "C.UTF-8".into());
    env
}

/// A command with only `env` in its environment.
pub fn command_with_env(program: impl AsRef<OsStr>, env: &BTreeMap<String, OsString>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(env);
    cmd
}

pub struct Sandbox {
    dir: TempDir,
    env: BTreeMap<String, OsString>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("sandbox-")
            .tempdir_in(test_root())
            .expect("create a sandbox dir");
        let root = dir.path();
        for sub in ["project", "home", "npm-cache", "lockgate-cache"] {
            fs::create_dir_all(root.join(sub)).expect("create sandbox dirs");
        }
        fs::write(root.join("home/.npmrc"), NPMRC_DEFAULTS).expect("write .npmrc");
        let mut env = base_env();
        let path = |rel: &str| root.join(rel).into_os_string();
        env.insert("HOME".into(), path("home"));
        env.insert("npm_config_userconfig".into(), path("home/.npmrc"));
        env.insert("npm_config_globalconfig".into(), path("etc/npmrc"));
        env.insert("npm_config_cache".into(), path("npm-cache"));
        env.insert("PIP_CONFIG_FILE".into(), "/dev/null".into());
        env.insert("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into());
        env.insert("PIP_NO_INPUT".into(), "1".into());
        // Java takes user.home from the passwd entry, not $HOME: Maven's ~/.m2 follows this.
        // C1-only JIT: short Maven runs take ~40% less time (measured on this 2-core machine).
        env.insert(
            "MAVEN_OPTS".into(),
            format!(
                "-XX:TieredStopAtLevel=1 -Duser.home={}",
                root.join("home").display()
            )
            .into(),
        );
        env.insert("LOCKGATE_CACHE_DIR".into(), path("lockgate-cache"));
        env.insert("LOCKGATE_METRICS_FILE".into(), path("metrics.prom"));
        env.insert("LOCKGATE_AUDIT_LOG".into(), path("audit.jsonl"));
        // No org policy unless a test writes one (empty = none; a missing file is an error).
        env.insert("LOCKGATE_SYSTEM_CONFIG".into(), OsString::new());
        // Fixtures are published seconds before they are installed: judge the release-age
        // cooldown as of a date far ahead so only tests about the cooldown (which remove this)
        // see it hold anything back.
        env.insert("LOCKGATE_NOW".into(), "2100-01-01T00:00:00Z".into());
        Sandbox { dir, env }
    }

    /// The sandbox root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The working directory of every command.
    pub fn project(&self) -> PathBuf {
        self.root().join("project")
    }

    /// HOME.
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// Maven's local repository (`~/.m2/repository` under the sandbox HOME).
    pub fn m2_repo(&self) -> PathBuf {
        self.home().join(".m2/repository")
    }

    /// Sets a variable for every later command (e.g. a secret a postinstall must not see).
    pub fn set_env(&mut self, key: &str, value: impl Into<OsString>) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Puts `dir` first on PATH for every later command (after the shims, for [`Self::shim`]):
    /// e.g. `sb.prepend_path(tools().npm10.parent().unwrap())` makes `npm` mean npm 10.
    pub fn prepend_path(&mut self, dir: &Path) -> &mut Self {
        let path = self.path_with_first(dir);
        self.set_env("PATH", path)
    }

    /// The sandbox PATH with `dir` in front.
    fn path_with_first(&self, dir: &Path) -> OsString {
        let mut path = OsString::from(dir);
        if let Some(rest) = self.env.get("PATH") {
            path.push(":");
            path.push(rest);
        }
        path
    }

    pub fn remove_env(&mut self, key: &str) -> &mut Self {
        self.env.remove(key);
        self
    }

    pub fn env_var(&self, key: &str) -> Option<&OsStr> {
        self.env.get(key).map(OsString::as_os_str)
    }

    /// `program` with the sandbox environment (nothing else), run in `project/`.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = command_with_env(program, &self.env);
        cmd.current_dir(self.project());
        cmd
    }

    /// `lockgate ARGS…` (the binary under test, by its own name).
    pub fn lockgate(&self) -> Command {
        self.cmd(lockgate_bin())
    }

    /// `tool` (npm, npx, pip, pip3, mvn) through lockgate's shim, with the shim dir first on
    /// PATH as after `install.sh`, so lockgate must find the real tool further down PATH.
    pub fn shim(&self, tool: &str) -> Command {
        let mut cmd = self.cmd(shim_dir().join(tool));
        cmd.env("PATH", self.path_with_first(shim_dir()));
        cmd
    }

    /// A path relative to `project/` (absolute paths are taken as they are).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.project().join(rel)
    }

    /// Writes a file (creating parent dirs); relative paths are under `project/`.
    pub fn write(&self, rel: impl AsRef<Path>, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dirs");
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let path = self.path(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        self.path(rel).exists()
    }

    /// Replaces the npm user config (`~/.npmrc`) with the defaults plus `extra` lines.
    pub fn npmrc(&self, extra: &str) {
        self.write(
            self.home().join(".npmrc"),
            format!("{NPMRC_DEFAULTS}{extra}\n"),
        );
    }

    /// Writes a pip config file and makes pip read it (instead of none, the default).
    pub fn pip_conf(&mut self, text: &str) -> PathBuf {
        let path = self.write(self.home().join(".config/pip/pip.conf"), text);
        self.set_env("PIP_CONFIG_FILE", path.clone());
        path
    }

    /// Writes Maven's user settings (`~/.m2/settings.xml`).
    pub fn maven_settings(&self, xml: &str) -> PathBuf {
        self.write(self.home().join(".m2/settings.xml"), xml)
    }

    /// The JSON an npm install script from [`NpmPackage`](super::npm::NpmPackage) wrote
    /// (`project/markers/<name>@<version>.json`), if it ran.
    pub fn npm_marker(&self, name: &str, version: &str) -> Option<serde_json::Value> {
        read_json(&self.path(format!("markers/{name}@{version}.json")))
    }

    /// The Prometheus textfile lockgate wrote (empty when none).
    pub fn metrics(&self) -> String {
        fs::read_to_string(self.root().join("metrics.prom")).unwrap_or_default()
    }

    /// The value of one counter sample, 0 when absent. `labels` must all match (others ignored).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        counter_value(&self.metrics(), name, labels)
    }

    /// The audit log lines lockgate wrote, parsed.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(self.root().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
            .collect()
    }

    /// Runs `cmd` to completion (at most [`RUN_LIMIT`]) and returns its output.
    pub fn run(&self, cmd: &mut Command) -> Run {
        run(cmd)
    }
}

pub fn read_json(path: &Path) -> Option<serde_json::Value> {
    let text = fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Sums the samples of `name` whose labels include all of `labels`, in Prometheus text format.
pub fn counter_value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let found = parse_labels(label_text);
            let all_match = labels
                .iter()
                .all(|(k, v)| found.iter().any(|(fk, fv)| fk == k && fv == v));
            if metric != name || !all_match {
                return None;
            }
            value.parse::<f64>().ok()
        })
        .sum()
}

/// `a="x",b="y\"z"` → [(a, x), (b, y"z)] (Prometheus label escapes: `\\`, `\"`, `\n`).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut end = after.len();
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').trim().to_string(), value));
        rest = &after[end..];
    }
    labels
}

/// How long [`run`] lets a command take before killing it.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The outcome of [`run`].
#[derive(Debug)]
pub struct Run {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The exit code (None when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the full output unless the command exited 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        self.code_is(0)
    }

    /// Panics with the full output unless the command exited with `code`.
    #[track_caller]
    pub fn code_is(self, code: i32) -> Run {
        assert_eq!(self.code(), Some(code), "unexpected exit status\n{self}");
        self
    }

    /// Panics unless the command failed (any non-zero code).
    #[track_caller]
    pub fn failed(self) -> Run {
        assert!(!self.status.success(), "expected a failure\n{self}");
        self
    }

    /// stdout and stderr together, for `contains` checks.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n{} after {:.1?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with stdin closed, capturing output; kills it and panics after [`RUN_LIMIT`].
pub fn run(cmd: &mut Command) -> Run {
    let command = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command} took longer than {RUN_LIMIT:?}; killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Run {
        command,
        status,
        stdout: text(out.join().unwrap_or_default()),
        stderr: text(err.join().unwrap_or_default()),
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_value_matches_name_and_label_subset() {
        let text = "# TYPE registry_confusion_attempt_detected_total counter\n\
            registry_confusion_attempt_detected_total{package=\"@myorg/a\"} 2\n\
            registry_confusion_attempt_detected_total{package=\"@myorg/b\"} 1\n\
            registry_package_download_total{registry=\"r\",package=\"@myorg/a\",version=\"1\",source=\"internal\"} 3\n\
            ci_postinstall_script_blocked_total 4\n";
        let name = "registry_confusion_attempt_detected_total";
        assert_eq!(counter_value(text, name, &[]), 3.0);
        assert_eq!(counter_value(text, name, &[("package", "@myorg/a")]), 2.0);
        assert_eq!(counter_value(text, name, &[("package", "@myorg/c")]), 0.0);
        let downloads = "registry_package_download_total";
        let labels = [("package", "@myorg/a"), ("source", "internal")];
        assert_eq!(counter_value(text, downloads, &labels), 3.0);
        assert_eq!(
            counter_value(text, "ci_postinstall_script_blocked_total", &[]),
            4.0
        );
        assert_eq!(counter_value(text, "registry", &[]), 0.0);
    }

    #[test]
    fn labels_parse_exactly_with_escapes() {
        let text = "m{xpackage=\"a\",package=\"b\\\"c,d\"} 1\n";
        assert_eq!(counter_value(text, "m", &[("package", "a")]), 0.0);
        assert_eq!(counter_value(text, "m", &[("package", "b\"c,d")]), 1.0);
        assert_eq!(counter_value(text, "m", &[("xpackage", "a")]), 1.0);
    }
}
