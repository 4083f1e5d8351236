//! The box that approved build code runs in: allowlisted npm install scripts (and, for whoever
//! asks, pip sdist or local-project builds).
//!
//! What a boxed process gets:
//! - an **allowlisted environment** (built by the caller with [`crate::handoff::tool_env`]): no CI
//!   secret or token of any name;
//! - a **scratch HOME** (a fresh temporary directory with a token-free `.npmrc`), so tools read no
//!   user configuration and write nothing into the real home;
//! - on Linux, where the kernel lets this process create namespaces (root, or unprivileged user
//!   namespaces):
//!   - a **mount namespace** in which the user's credential files ([`CREDENTIAL_FILES`],
//!     [`CREDENTIAL_DIRS`] under the real HOME), machine-wide secrets and engine sockets
//!     ([`SYSTEM_PATHS`]), the user's runtime directory and SSH agent socket are covered by
//!     `/dev/null` / an empty tmpfs, and the verified store is read-only;
//!   - a **network namespace** with only its own loopback, unless the policy gives the package
//!     the network;
//!   - a **PID namespace** with a fresh `/proc`, so the script cannot read the environment of
//!     lockgate or any other process of the user (`/proc/<pid>/environ` holds every secret the
//!     box left out), and every process the script leaves behind dies with it.
//!
//! [`support`] probes once (a forked child tries each namespace) which of these this machine
//! allows; what is missing is reported by [`Sandbox::missing`] and by `lockgate doctor`, and the
//! box falls back to the environment and HOME protections with a clear warning. The namespaces
//! are entered in the child between fork and exec ([`enter`]): only raw system calls there, on
//! data prepared before the fork.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::libc;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use crate::error::{Error, Result};
use crate::handoff::Env;

/// The synonym other modules may use: `sandbox::Box::new(env, …)?.command(program, network)`.
#[allow(dead_code)] // for pip sdist builds (helper pipguard) after merge
pub type Box = Sandbox;

/// Credential files under the user's HOME, covered by `/dev/null` in the box.
pub const CREDENTIAL_FILES: &[&str] = &[
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    ".yarnrc",
    ".yarnrc.yml",
    ".m2/settings.xml",
    ".m2/settings-security.xml",
    ".config/pip/pip.conf",
    ".pip/pip.conf",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".pgpass",
    ".vault-token",
    ".terraformrc",
];

/// Credential directories under the user's HOME, covered by an empty tmpfs in the box.
pub const CREDENTIAL_DIRS: &[&str] = &[
    ".docker",
    ".aws",
    ".config/gcloud",
    ".ssh",
    ".gnupg",
    ".kube",
    ".azure",
    ".config/gh",
    ".config/hub",
    ".terraform.d",
];

/// Machine-wide credentials and control sockets, covered in the box when they exist: container
/// engines (a script that reaches one owns the machine) and mounted secrets (Kubernetes service
/// account tokens, Docker/Compose secrets).
pub const SYSTEM_PATHS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/secrets",
    "/run/secrets",
];

/// Which protections the kernel grants this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    /// Mount namespace: credential files hidden, store read-only.
    pub files: bool,
    /// Network namespace: no network but its own loopback.
    pub network: bool,
    /// PID namespace with a fresh /proc: other processes' environments invisible.
    pub processes: bool,
    /// Not root: the namespaces need an unprivileged user namespace.
    pub via_user_namespace: bool,
}

impl Support {
    /// One line per protection, for `lockgate doctor`: (supported, text).
    pub fn describe(&self) -> Vec<(bool, String)> {
        let how = if self.via_user_namespace {
            " (unprivileged user namespace)"
        } else {
            ""
        };
        vec![
            (
                true,
                "scripts get an allowlisted environment and a scratch HOME with a token-free .npmrc"
                    .into(),
            ),
            (
                self.files,
                if self.files {
                    format!("scripts cannot read ~/.npmrc, ~/.pypirc, ~/.netrc, ~/.docker, ~/.aws, ~/.config/gcloud, ~/.ssh and other credential files; the store is read-only to them{how}")
                } else {
                    "scripts CAN read the user's credential files (~/.npmrc, ~/.ssh, ~/.aws, …): this machine does not let lockgate create a mount namespace (run as root, or enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces)".into()
                },
            ),
            (
                self.network,
                if self.network {
                    format!("scripts have no network unless [npm.scripts] network lists them{how}")
                } else {
                    "scripts CAN use the network: this machine does not let lockgate create a network namespace".into()
                },
            ),
            (
                self.processes,
                if self.processes {
                    format!("scripts cannot see other processes or their environments (own PID namespace and /proc){how}")
                } else {
                    "scripts CAN read other processes' environments in /proc: this machine does not let lockgate create a PID namespace".into()
                },
            ),
        ]
    }
}

/// What [`enter`] does in the child, prepared before the fork (no allocation after it).
#[derive(Debug, Clone, Default)]
struct Confine {
    /// `/proc/self/uid_map` and `gid_map` contents when a user namespace is needed.
    user_map: Option<(Vec<u8>, Vec<u8>)>,
    mount: bool,
    hide_dirs: Vec<CString>,
    hide_files: Vec<CString>,
    read_only: Vec<CString>,
    net: bool,
    pid: bool,
}

impl Confine {
    fn user_map() -> Option<(Vec<u8>, Vec<u8>)> {
        // SAFETY: plain getters that cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        (uid != 0).then(|| {
            (
                format!("{uid} {uid} 1\n").into_bytes(),
                format!("{gid} {gid} 1\n").into_bytes(),
            )
        })
    }
}

/// Write `data` to `path` with raw system calls (safe between fork and exec).
unsafe fn write_file(path: &CStr, data: &[u8]) -> std::io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = libc::write(fd, data.as_ptr().cast(), data.len());
    let err = std::io::Error::last_os_error();
    libc::close(fd);
    if n != data.len() as isize {
        return Err(err);
    }
    Ok(())
}

fn os(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

const NONE: Option<&CStr> = None;

/// Mount flags a read-only remount must keep (in a user namespace they are locked).
unsafe fn kept_flags(path: &CStr) -> MsFlags {
    let mut st: libc::statvfs = std::mem::zeroed();
    let mut f = MsFlags::empty();
    if libc::statvfs(path.as_ptr(), &mut st) == 0 {
        for (st_flag, ms) in [
            (libc::ST_NOSUID, MsFlags::MS_NOSUID),
            (libc::ST_NODEV, MsFlags::MS_NODEV),
            (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (libc::ST_NOATIME, MsFlags::MS_NOATIME),
            (libc::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (libc::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if st.f_flag & st_flag != 0 {
                f |= ms;
            }
        }
    }
    f
}

/// Bring the new network namespace's loopback up (best effort: a box without it is still a box).
unsafe fn loopback_up() {
    let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if fd < 0 {
        return;
    }
    let mut req: libc::ifreq = std::mem::zeroed();
    for (i, b) in b"lo\0".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags =
        (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as libc::c_short;
    libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req);
    libc::close(fd);
}

/// Enter the box: runs in the forked child just before exec. Only system calls on data prepared
/// before the fork. With a PID namespace this forks once more: the first child becomes PID 1 of
/// the new namespace and goes on to exec; this process waits for it and exits with its status.
unsafe fn enter(c: &Confine) -> std::io::Result<()> {
    let mut flags = CloneFlags::empty();
    if c.user_map.is_some() && (c.mount || c.net || c.pid) {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if c.mount || c.pid {
        flags |= CloneFlags::CLONE_NEWNS;
    }
    if c.net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if c.pid {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    // No setuid binary may give a script more than it started with.
    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if flags.is_empty() {
        return Ok(());
    }
    unshare(flags).map_err(os)?;
    if let (Some((uid_map, gid_map)), true) =
        (&c.user_map, flags.contains(CloneFlags::CLONE_NEWUSER))
    {
        write_file(c"/proc/self/setgroups", b"deny")?;
        write_file(c"/proc/self/uid_map", uid_map)?;
        write_file(c"/proc/self/gid_map", gid_map)?;
    }
    if flags.contains(CloneFlags::CLONE_NEWNS) {
        mount(
            NONE,
            c"/",
            NONE,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            NONE,
        )
        .map_err(os)?;
    }
    // Never mount anything in the caller's own mount namespace.
    let none: &[CString] = &[];
    let (hide_dirs, hide_files, read_only) = if c.mount && flags.contains(CloneFlags::CLONE_NEWNS) {
        (&c.hide_dirs[..], &c.hide_files[..], &c.read_only[..])
    } else {
        (none, none, none)
    };
    for d in hide_dirs {
        mount(
            Some(c"tmpfs"),
            d.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(c"size=16k,mode=0700"),
        )
        .map_err(os)?;
    }
    for f in hide_files {
        mount(
            Some(c"/dev/null"),
            f.as_c_str(),
            NONE,
            MsFlags::MS_BIND,
            NONE,
        )
        .map_err(os)?;
    }
    for r in read_only {
        let r = r.as_c_str();
        mount(Some(r), r, NONE, MsFlags::MS_BIND | MsFlags::MS_REC, NONE).map_err(os)?;
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        if mount(NONE, r, NONE, ro, NONE).is_err() {
            mount(NONE, r, NONE, ro | kept_flags(r), NONE).map_err(os)?;
        }
    }
    if c.net {
        loopback_up();
    }
    if c.pid {
        match fork().map_err(os)? {
            ForkResult::Child => {
                // Die with the waiting parent (and so with lockgate's child handle).
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                mount(
                    Some(c"proc"),
                    c"/proc",
                    Some(c"proc"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                    NONE,
                )
                .map_err(os)?;
            }
            ForkResult::Parent { child } => {
                // Keep no descriptor of the spawner's (its exec-status pipe must see EOF when
                // the real child execs), then pass the child's exit status on.
                if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                    for fd in 3..4096 {
                        libc::close(fd);
                    }
                }
                let code = loop {
                    match waitpid(child, None) {
                        Ok(WaitStatus::Exited(_, code)) => break code,
                        Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                        Err(Errno::EINTR) | Ok(_) => continue,
                        Err(_) => break 127,
                    }
                };
                libc::_exit(code);
            }
        }
    }
    Ok(())
}

/// Fork a child that tries `c` and reports whether it worked.
fn probe(c: &Confine) -> bool {
    // SAFETY: the child only makes system calls on prepared data and `_exit`s.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => unsafe {
            let ok = enter(c).is_ok();
            libc::_exit(if ok { 0 } else { 1 })
        },
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => break code == 0,
                Err(Errno::EINTR) => continue,
                Ok(WaitStatus::Signaled(..)) | Err(_) => break false,
                Ok(_) => continue,
            }
        },
        Err(_) => false,
    }
}

/// Which protections this machine supports (probed once per process).
pub fn support() -> Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    *SUPPORT.get_or_init(|| {
        if !cfg!(target_os = "linux") {
            return Support::default();
        }
        let user_map = Confine::user_map();
        let base = Confine {
            user_map: user_map.clone(),
            ..Confine::default()
        };
        let tmp = std::env::temp_dir();
        let files = CString::new(tmp.as_os_str().as_bytes())
            .map(|t| {
                probe(&Confine {
                    mount: true,
                    hide_dirs: vec![t.clone()],
                    read_only: vec![t],
                    ..base.clone()
                })
            })
            .unwrap_or(false);
        Support {
            files,
            network: probe(&Confine {
                net: true,
                ..base.clone()
            }),
            processes: probe(&Confine {
                pid: true,
                ..base.clone()
            }),
            via_user_namespace: user_map.is_some(),
        }
    })
}

/// The paths under `home` to cover in the box: (files, directories) that exist.
pub fn credential_paths(home: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let existing = |list: &[&str], dir: bool| -> Vec<PathBuf> {
        list.iter()
            .map(|rel| home.join(rel))
            .filter(|p| {
                std::fs::metadata(p).is_ok_and(|m| if dir { m.is_dir() } else { !m.is_dir() })
            })
            .collect()
    };
    (
        existing(CREDENTIAL_FILES, false),
        existing(CREDENTIAL_DIRS, true),
    )
}

/// Variables that would point a boxed tool back into the real home.
const HOME_POINTERS: &[&str] = &[
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
];

/// The box's environment: `env` with HOME moved to `scratch` and home pointers dropped.
pub fn box_env(mut env: Env, scratch: &Path) -> Env {
    env.vars
        .retain(|(k, _)| !HOME_POINTERS.iter().any(|h| OsStr::new(h) == k));
    env.set("HOME", scratch.as_os_str());
    env
}

/// A box: scratch HOME, allowlisted environment, and the namespaces this machine supports.
pub struct Sandbox {
    scratch: tempfile::TempDir,
    env: Env,
    confine: Confine,
    support: Support,
}

impl Sandbox {
    /// A box whose processes get `env` (an allowlisted environment, e.g.
    /// `handoff::tool_env(Tool::Npm)`) with HOME replaced by a scratch directory, the real HOME's
    /// credential files covered, and `read_only` paths (e.g. the verified store) read-only.
    pub fn new(env: Env, read_only: &[&Path]) -> Result<Sandbox> {
        let real_home = env
            .vars
            .iter()
            .find(|(k, _)| k == "HOME")
            .map(|(_, v)| PathBuf::from(v))
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from));
        let scratch = tempfile::Builder::new()
            .prefix("lockgate-box-")
            .tempdir()
            .map_err(|e| Error::io("create a scratch HOME in", std::env::temp_dir(), e))?;
        let npmrc = scratch.path().join(".npmrc");
        std::fs::write(
            &npmrc,
            "; lockgate's box: no credentials, no registry settings\nupdate-notifier=false\n",
        )
        .map_err(|e| Error::io("write", &npmrc, e))?;
        let support = support();
        let cstr = |p: &Path| CString::new(p.as_os_str().as_bytes()).ok();
        let (files, dirs) = real_home
            .as_deref()
            .map(credential_paths)
            .unwrap_or_default();
        let confine = Confine {
            user_map: Confine::user_map(),
            mount: support.files,
            hide_dirs: dirs.iter().filter_map(|p| cstr(p)).collect(),
            hide_files: files.iter().filter_map(|p| cstr(p)).collect(),
            read_only: read_only
                .iter()
                .filter(|p| p.is_dir())
                .filter_map(|p| cstr(p))
                .collect(),
            net: false,
            pid: support.processes,
        };
        let env = box_env(env, scratch.path());
        let mut sandbox = Sandbox {
            scratch,
            env,
            confine,
            support,
        };
        // The user's runtime directory (agent sockets, the session bus and its keyring) and the
        // SSH agent's socket, wherever it is.
        let from_env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let mut more: Vec<PathBuf> = SYSTEM_PATHS.iter().map(PathBuf::from).collect();
        more.extend(from_env("XDG_RUNTIME_DIR").map(PathBuf::from));
        more.extend(from_env("SSH_AUTH_SOCK").map(PathBuf::from));
        for p in more {
            sandbox.hide(&p);
        }
        Ok(sandbox)
    }

    /// Cover one more file or directory (e.g. a config file an environment variable named).
    /// Nothing happens for a path that does not exist.
    pub fn hide(&mut self, path: &Path) {
        let Ok(m) = std::fs::metadata(path) else {
            return;
        };
        // Never cover the box's own HOME or the working directory (a TMPDIR or project that
        // lives in, say, the runtime directory).
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let covered = real(path);
        let inside = |p: &Path| real(p).starts_with(&covered);
        if inside(self.scratch.path()) || std::env::current_dir().is_ok_and(|d| inside(&d)) {
            return;
        }
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return;
        };
        let list = if m.is_dir() {
            &mut self.confine.hide_dirs
        } else {
            &mut self.confine.hide_files
        };
        if !list.contains(&c) {
            list.push(c);
        }
    }

    /// The scratch HOME (removed when the box is dropped).
    pub fn home(&self) -> &Path {
        self.scratch.path()
    }

    /// Set a variable for every process of this box.
    pub fn set_env(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.env.set(name, value);
    }

    /// What this machine supports.
    #[allow(dead_code)] // for pip sdist builds (helper pipguard) after merge
    pub fn support(&self) -> Support {
        self.support
    }

    /// The protections a command with (or without) `network` would lack on this machine, as
    /// short phrases for one warning; empty when the box is complete.
    pub fn missing(&self, network: bool) -> Vec<&'static str> {
        let mut m = Vec::new();
        if !self.support.files {
            m.push("credential files in HOME stay readable");
        }
        if !network && !self.support.network {
            m.push("the network stays reachable");
        }
        if !self.support.processes {
            m.push("other processes' environments stay readable in /proc");
        }
        m
    }

    /// `program` to run in this box: exactly the box's environment, and (on entering, between
    /// fork and exec) the namespaces; a network namespace unless `network`.
    pub fn command(&self, program: impl AsRef<OsStr>, network: bool) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        self.env.apply(&mut cmd);
        let confine = Confine {
            net: !network && self.support.network,
            ..self.confine.clone()
        };
        // SAFETY: `enter` only makes system calls on data prepared here, before the fork.
        unsafe {
            cmd.pre_exec(move || enter(&confine));
        }
        cmd.kill_on_drop(true);
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_paths_are_the_existing_ones() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path();
        std::fs::write(h.join(".npmrc"), "//r/:_authToken=x").unwrap();
        std::fs::create_dir_all(h.join(".config/gcloud")).unwrap();
        std::fs::create_dir_all(h.join(".docker")).unwrap();
        std::fs::write(h.join(".docker/config.json"), "{}").unwrap();
        // A directory where a file is expected is not covered as a file.
        std::fs::create_dir_all(h.join(".netrc")).unwrap();
        let (files, dirs) = credential_paths(h);
        assert_eq!(files, [h.join(".npmrc")]);
        assert_eq!(dirs, [h.join(".docker"), h.join(".config/gcloud")]);
    }

    #[test]
    fn the_box_env_has_a_scratch_home_and_no_pointers_back() {
        let mut env = Env::default();
        env.set("HOME", "/root");
        env.set("XDG_CONFIG_HOME", "/root/.config");
        env.set("PATH", "/usr/bin");
        let e = box_env(env, Path::new("/tmp/box"));
        let got: Vec<(String, String)> = e
            .vars
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        assert_eq!(
            got,
            [
                ("PATH".to_string(), "/usr/bin".to_string()),
                ("HOME".to_string(), "/tmp/box".to_string())
            ]
        );
    }

    #[test]
    fn support_lines_say_what_is_missing() {
        let lines = Support::default().describe();
        assert!(lines[0].0);
        assert!(lines[1..]
            .iter()
            .all(|(ok, text)| !ok && text.contains("CAN")));
    }

    #[test]
    fn the_box_never_covers_its_own_home_or_the_working_directory() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".npmrc"), "//r/:_authToken=x").unwrap();
        let mut env = Env::default();
        env.set("HOME", home.as_os_str());
        let mut b = Sandbox::new(env, &[]).unwrap();
        let has = |b: &Sandbox, p: &Path| {
            let c = CString::new(p.as_os_str().as_bytes()).unwrap();
            b.confine.hide_dirs.contains(&c) || b.confine.hide_files.contains(&c)
        };
        assert!(has(&b, &home.join(".ssh")) && has(&b, &home.join(".npmrc")));
        let scratch_parent = b.home().parent().unwrap().to_path_buf();
        b.hide(&scratch_parent);
        assert!(!has(&b, &scratch_parent), "would hide the scratch HOME");
        b.hide(Path::new("/"));
        assert!(!has(&b, Path::new("/")));
        assert!(b.home().join(".npmrc").is_file());
    }
}
