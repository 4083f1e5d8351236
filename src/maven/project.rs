//! Where an mvn invocation's project, lock, settings and local repository are, found as Maven
//! 3.8.7 and its `mvn` script find them.
//!
//! - Project root (`maven.multiModuleProjectDirectory`): from the `-f` argument's directory, or
//!   the working directory, the nearest directory upwards that has a `.mvn` directory, else that
//!   starting directory (`MAVEN_BASEDIR` overrides). The lock is `<root>/.mvn/checksums/…`.
//! - Options come from the command line and from `<root>/.mvn/maven.config` (whitespace
//!   separated, options only). For `-s`/`-gs` the command line wins (Maven reads the first);
//!   `-D` from the command line are applied last, so they win too.
//! - JVM system properties come from `JAVA_TOOL_OPTIONS`, `JDK_JAVA_OPTIONS`,
//!   `<root>/.mvn/jvm.config` and `MAVEN_OPTS` (later wins): `user.home` (the `~` of
//!   `~/.m2/settings.xml`) and `maven.repo.local` are read there. Without a `-Duser.home`, `~` is
//!   Java's: the passwd entry's home, not `$HOME` ([`java_user_home`]).
//! - User settings: `-s`, else `~/.m2/settings.xml`; global settings: `-gs`, else
//!   `<maven home>/conf/settings.xml` next to the real mvn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::classify::{classify, ClassifyError, Mode, MvnArgs};
use super::lock::LOCK_FILE;
use super::settings::{self, Carried, Settings};
use crate::error::{Error, Result};

pub const MAVEN_CONFIG: &str = ".mvn/maven.config";
pub const JVM_CONFIG: &str = ".mvn/jvm.config";

/// One mvn invocation, resolved.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The command line, classified (`rest` is what a guarded run passes on).
    pub args: MvnArgs,
    /// `-o` on the command line or in maven.config (settings' `<offline>` is added by the flow).
    pub offline: bool,
    /// `<root>/.mvn/checksums/checksums.sha256`.
    pub lock_path: PathBuf,
    /// Whether the user named the settings file (then it must exist, as Maven requires).
    pub user_settings: (PathBuf, bool),
    pub global_settings: (PathBuf, bool),
    /// `-Dmaven.repo.local` from the command line, maven.config or the JVM options.
    pub repo_local: Option<PathBuf>,
    pub user_home: PathBuf,
    /// System and user properties for `${…}` in settings (JVM options first, command line last).
    pub properties: BTreeMap<String, String>,
}

/// `-Dname=value` words of JVM options (`MAVEN_OPTS`, jvm.config), which the mvn script splits
/// on whitespace. A bare `-Dname` is `true`, as in Java.
pub fn jvm_properties(opts: &str) -> Vec<(String, String)> {
    opts.split_whitespace()
        .filter_map(|w| w.strip_prefix("-D"))
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (d.to_string(), "true".to_string()),
        })
        .collect()
}

/// `-D` definitions among already classified arguments (`-Dx=1`, `-D x=1`, `--define=x=1`).
fn defines(args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut iter = args.iter().peekable();
    while let Some(a) = iter.next() {
        let value = if a == "-D" || a == "--define" {
            iter.next().cloned()
        } else {
            a.strip_prefix("--define=")
                .or_else(|| a.strip_prefix("-D"))
                .map(str::to_string)
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.extend(jvm_properties(&format!("-D{v}")));
        }
    }
    out
}

/// The mvn script's project base directory search.
pub fn project_root(cwd: &Path, file_arg: Option<&str>) -> PathBuf {
    if let Some(dir) = std::env::var_os("MAVEN_BASEDIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let start = match file_arg.map(|f| cwd.join(f)) {
        Some(f) if f.is_dir() => f,
        Some(f) => f
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.to_path_buf()),
        None => cwd.to_path_buf(),
    };
    start
        .ancestors()
        .find(|d| d.join(".mvn").is_dir())
        .unwrap_or(&start)
        .to_path_buf()
}

fn classify_error(e: ClassifyError, source: &str) -> Error {
    Error::config(
        format!("{source}: {e}"),
        "fix the mvn arguments; `lockgate mvn --help` shows Maven's options",
    )
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Resolve an invocation. `real_mvn` is the real program (its Maven home has the global settings).
pub fn discover(cli: &[String], cwd: &Path, real_mvn: &Path) -> Result<Invocation> {
    let args = classify(cli).map_err(|e| classify_error(e, "mvn arguments"))?;
    let root = project_root(cwd, args.file.as_deref());
    let config_text = read_optional(&root.join(MAVEN_CONFIG))?.unwrap_or_default();
    let config_args: Vec<String> = config_text.split_whitespace().map(str::to_string).collect();
    let config = classify(&config_args)
        .map_err(|e| classify_error(e, &root.join(MAVEN_CONFIG).display().to_string()))?;
    if config.mode == Mode::PassThrough || !config.goals.is_empty() {
        return Err(Error::config(
            format!(
                "{} may hold options only (Maven refuses goals there)",
                root.join(MAVEN_CONFIG).display()
            ),
            "move the goals to the command line",
        ));
    }

    let jvm_text = read_optional(&root.join(JVM_CONFIG))?.unwrap_or_default();
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let mut properties: BTreeMap<String, String> = BTreeMap::new();
    // In the order the JVM applies them, a later `-D` winning: the JVM's own variable, then the
    // launcher's (prepended to the command line), then the mvn script's jvm.config + MAVEN_OPTS.
    for opts in [
        env("JAVA_TOOL_OPTIONS"),
        env("JDK_JAVA_OPTIONS"),
        jvm_text,
        env("MAVEN_OPTS"),
    ] {
        properties.extend(jvm_properties(&opts));
    }
    // ~/.m2 is fixed when the JVM starts: only JVM options can move it.
    let user_home = properties
        .get("user.home")
        .map(PathBuf::from)
        .unwrap_or_else(java_user_home);
    let jvm_repo_local = properties.get("maven.repo.local").cloned();
    properties.extend(defines(&config.rest));
    properties.extend(defines(&args.rest));

    let resolve = |p: &str| cwd.join(p);
    let user_settings = match args.settings.as_deref().or(config.settings.as_deref()) {
        Some(p) => (resolve(p), true),
        None => (user_home.join(".m2/settings.xml"), false),
    };
    let global_settings = match args
        .global_settings
        .as_deref()
        .or(config.global_settings.as_deref())
    {
        Some(p) => (resolve(p), true),
        None => (maven_home(real_mvn).join("conf/settings.xml"), false),
    };
    let repo_local = args
        .repo_local
        .clone()
        .or(config.repo_local.clone())
        .or(jvm_repo_local)
        .map(|p| resolve(&p));
    Ok(Invocation {
        offline: args.offline || config.offline,
        lock_path: root.join(LOCK_FILE),
        user_settings,
        global_settings,
        repo_local,
        user_home,
        properties,
        args,
    })
}

/// Java's default `user.home` on Linux (OpenJDK's `java_props_md.c`): the passwd entry's home
/// directory of the real user id — not `$HOME`, which Java reads only when the entry has no
/// home of at least two characters. So `HOME=/tmp/x mvn` as root still reads /root/.m2.
pub fn java_user_home() -> PathBuf {
    let passwd = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.dir);
    pick_user_home(passwd, std::env::var_os("HOME").map(PathBuf::from))
}

fn pick_user_home(passwd: Option<PathBuf>, home_env: Option<PathBuf>) -> PathBuf {
    passwd
        .filter(|d| d.as_os_str().len() >= 2)
        .or_else(|| home_env.filter(|h| !h.as_os_str().is_empty()))
        .unwrap_or_else(|| PathBuf::from("?"))
}

/// The Maven installation of a real `mvn` (`<home>/bin/mvn`, links resolved).
fn maven_home(real_mvn: &Path) -> PathBuf {
    let exe = real_mvn
        .canonicalize()
        .unwrap_or_else(|_| real_mvn.to_path_buf());
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

impl Invocation {
    /// The user's and global settings: merged for reading, and what a guarded run carries over.
    pub fn settings(&self) -> Result<(Settings, Carried)> {
        let lookup = |expr: &str| -> Option<String> {
            if let Some(var) = expr.strip_prefix("env.") {
                return std::env::var(var).ok();
            }
            if expr == "user.home" {
                return Some(self.user_home.to_string_lossy().into_owned());
            }
            self.properties.get(expr).cloned()
        };
        let load = |(path, named): &(PathBuf, bool)| -> Result<Option<String>> {
            match read_optional(path)? {
                None if *named => Err(Error::config(
                    format!("the settings file {} does not exist", path.display()),
                    "fix the -s/-gs argument (Maven would refuse it too)",
                )),
                text => Ok(text),
            }
        };
        let user = load(&self.user_settings)?;
        let global = load(&self.global_settings)?;
        let read = |text: &Option<String>, path: &Path| -> Result<Settings> {
            match text {
                Some(t) => settings::read(t, path, &lookup).map_err(settings_error),
                None => Ok(Settings::default()),
            }
        };
        let merged = settings::merge(
            read(&user, &self.user_settings.0)?,
            read(&global, &self.global_settings.0)?,
        );
        let carried = settings::carry_over(
            user.as_deref().map(|t| (t, self.user_settings.0.as_path())),
            global
                .as_deref()
                .map(|t| (t, self.global_settings.0.as_path())),
        )
        .map_err(settings_error)?;
        Ok((merged, carried))
    }

    /// Where `mvn install` puts artifacts for this user: `-Dmaven.repo.local`, else the settings'
    /// `<localRepository>`, else `~/.m2/repository`.
    pub fn user_repository(&self, settings: &Settings) -> PathBuf {
        self.repo_local
            .clone()
            .or_else(|| settings.local_repository.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| self.user_home.join(".m2/repository"))
    }
}

pub fn settings_error(e: settings::SettingsError) -> Error {
    Error::config(e.to_string(), "fix the Maven settings file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_options_give_properties() {
        assert_eq!(
            jvm_properties("-Xmx2g -Duser.home=/home/ci  -Dmaven.repo.local=/cache/m2 -Dflag -D"),
            [
                ("user.home".to_string(), "/home/ci".to_string()),
                ("maven.repo.local".to_string(), "/cache/m2".to_string()),
                ("flag".to_string(), "true".to_string()),
            ]
        );
        let args: Vec<String> = ["-B", "-Dx=1", "-D", "y=2", "--define=z", "package"]
            .map(String::from)
            .to_vec();
        let d: Vec<(String, String)> = defines(&args);
        assert_eq!(
            d,
            [
                ("x".into(), "1".into()),
                ("y".into(), "2".into()),
                ("z".into(), "true".into())
            ]
        );
    }

    #[test]
    fn user_home_is_the_passwd_entry_as_java_has_it() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            pick_user_home(p("/root"), p("/tmp/elsewhere")),
            PathBuf::from("/root")
        );
        assert_eq!(
            pick_user_home(p("/"), p("/home/ci")),
            PathBuf::from("/home/ci")
        );
        assert_eq!(
            pick_user_home(None, p("/home/ci")),
            PathBuf::from("/home/ci")
        );
        assert_eq!(pick_user_home(None, None), PathBuf::from("?"));
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .unwrap();
        if me.dir.as_os_str().len() >= 2 {
            assert_eq!(java_user_home(), me.dir);
        }
    }

    #[test]
    fn root_is_the_nearest_directory_with_dot_mvn() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join(".mvn")).unwrap();
        std::fs::create_dir_all(root.join("module/src")).unwrap();
        std::fs::write(root.join("module/pom.xml"), "<project/>").unwrap();
        assert_eq!(project_root(&root.join("module/src"), None), root);
        assert_eq!(project_root(root, Some("module/pom.xml")), root);
        let plain = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(plain.path().join("sub")).unwrap();
        assert_eq!(
            project_root(&plain.path().join("sub"), None),
            plain.path().join("sub")
        );
        assert_eq!(
            project_root(plain.path(), Some("sub")),
            plain.path().join("sub")
        );
    }

    #[test]
    fn maven_config_adds_options_and_the_command_line_wins() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join(".mvn")).unwrap();
        std::fs::write(
            root.join(MAVEN_CONFIG),
            "-o\n-s config.xml  -gs g.xml\n-Dmaven.repo.local=/from/config -Dp=config\n",
        )
        .unwrap();
        let cli: Vec<String> = ["-s", "cli.xml", "-Dp=cli", "package"]
            .map(String::from)
            .to_vec();
        let inv = discover(&cli, root, Path::new("/nonexistent/bin/mvn")).unwrap();
        assert!(inv.offline);
        assert_eq!(inv.user_settings, (root.join("cli.xml"), true));
        assert_eq!(inv.global_settings, (root.join("g.xml"), true));
        assert_eq!(inv.repo_local, Some(PathBuf::from("/from/config")));
        assert_eq!(inv.properties["p"], "cli");
        assert_eq!(inv.lock_path, root.join(".mvn/checksums/checksums.sha256"));
        assert_eq!(inv.args.rest, ["-Dp=cli", "package"]);

        std::fs::write(root.join(MAVEN_CONFIG), "clean\n").unwrap();
        let err = discover(&cli, root, Path::new("mvn")).unwrap_err();
        assert!(err.to_string().contains("options only"), "{err}");
        std::fs::write(root.join(MAVEN_CONFIG), "--bogus\n").unwrap();
        assert_eq!(
            discover(&cli, root, Path::new("mvn"))
                .unwrap_err()
                .exit_code(),
            20
        );
    }

    #[test]
    fn named_settings_must_exist_and_default_ones_may_not() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let cli: Vec<String> = vec!["package".into()];
        let mut inv = discover(&cli, root, Path::new("/nonexistent/bin/mvn")).unwrap();
        inv.user_home = root.join("home");
        inv.user_settings = (root.join("home/.m2/settings.xml"), false);
        let (s, _) = inv.settings().unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(inv.user_repository(&s), root.join("home/.m2/repository"));
        inv.user_settings = (root.join("missing.xml"), true);
        assert!(inv
            .settings()
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }
}
