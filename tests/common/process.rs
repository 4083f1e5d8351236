//! Lifetime of everything the harness starts: one temp root per test process, and server
//! children that never outlive it.
//!
//! Servers are spawned from one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`: the kernel
//! kills them when that thread ends, which only happens when the test process ends — normally,
//! by a panic that aborts, or by SIGKILL/Ctrl-C. (The signal is tied to the spawning *thread*,
//! so spawning from a test thread would kill a shared server when its first test finishes.) On a
//! normal exit an `atexit` hook also kills and reaps them and deletes the temp root; roots left
//! by killed runs are swept by the next run.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Children started by [`spawn_server`], killed and reaped at exit.
static CHILDREN: Mutex<Vec<Child>> = Mutex::new(Vec::new());
static ROOT: OnceLock<PathBuf> = OnceLock::new();

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// The per-process temp root (`$TMPDIR/lockgate-it/<test binary>-<pid>`). Everything the harness
/// writes lives below it; it is deleted at exit.
pub fn test_root() -> &'static Path {
    ROOT.get_or_init(|| {
        let parent = std::env::temp_dir().join("lockgate-it");
        sweep_stale_roots(&parent);
        let exe = std::env::current_exe().ok();
        let stem = exe
            .as_deref()
            .and_then(Path::file_stem)
            .and_then(|s| s.to_str())
            .unwrap_or("test");
        let root = parent.join(format!("{stem}-{}", std::process::id()));
        fs::create_dir_all(&root).expect("create the harness temp root");
        // SAFETY: registering a plain `extern "C" fn` with no captured state.
        unsafe { nix::libc::atexit(at_exit) };
        root
    })
}

/// Deletes roots of test processes that no longer run (killed runs leave them behind).
fn sweep_stale_roots(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.rsplit('-').next())
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(pid) = pid {
            if kill(Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

extern "C" fn at_exit() {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    for child in children.iter_mut() {
        let _ = child.kill();
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
    if let Some(root) = ROOT.get() {
        let _ = fs::remove_dir_all(root);
    }
}

/// Spawns `cmd` from the spawner thread with PDEATHSIG, stdout+stderr to `log`; returns its pid.
fn spawn_child(mut cmd: Command, log: &Path) -> io::Result<u32> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                // The sender lives in a static and is never dropped, so this thread runs
                // until the process exits: that is what keeps PDEATHSIG from firing early.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start the spawner thread");
        Mutex::new(tx)
    });
    let out = fs::File::create(log)?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let parent = nix::unistd::getpid();
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died between fork and prctl.
            if nix::unistd::getppid() != parent {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, tx))
        .expect("spawner thread is running");
    let child = rx.recv().expect("spawner thread replies")?;
    let pid = child.id();
    CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child);
    Ok(pid)
}

/// The exit status of a child started by [`spawn_server`], if it has exited.
fn exit_status(pid: u32) -> Option<ExitStatus> {
    let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    let child = children.iter_mut().find(|c| c.id() == pid)?;
    child.try_wait().ok().flatten()
}

/// A free TCP port on 127.0.0.1 (bound and released; [`spawn_server`] retries on a race).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running server child, killed when the test process ends.
#[derive(Debug, Clone)]
pub struct ServerProcess {
    pub name: String,
    pub pid: u32,
    pub port: u16,
    /// Its stdout and stderr.
    pub log: PathBuf,
    /// How long it took from spawn until it answered HTTP.
    pub startup: Duration,
}

/// Starts a server on a free port and waits until it answers HTTP on `ready_path`.
///
/// `command(port)` builds the command line. If the child exits before it is ready because
/// another process took the port in between, it is retried on a new port, up to three times;
/// any other early exit, or no answer within 60 s, panics with the end of the server's log.
pub fn spawn_server(
    name: &str,
    dir: &Path,
    ready_path: &str,
    command: impl Fn(u16) -> Command,
) -> ServerProcess {
    let log = dir.join(format!("{name}.log"));
    let mut last_log = String::new();
    for _attempt in 0..3 {
        let port = free_port();
        let started = Instant::now();
        let pid =
            spawn_child(command(port), &log).unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let url = format!("http://127.0.0.1:{port}{ready_path}");
        loop {
            if let Some(status) = exit_status(pid) {
                last_log = fs::read_to_string(&log).unwrap_or_default();
                let port_taken = ["in use", "EADDRINUSE", "Address already"]
                    .iter()
                    .any(|s| last_log.contains(s));
                assert!(
                    port_taken,
                    "{name} exited during start-up ({status}); log {}:\n{}",
                    log.display(),
                    tail(&last_log)
                );
                eprintln!("{name}: port {port} was taken, retrying on another");
                break;
            }
            if crate::common::http::get(&url).is_ok() {
                return ServerProcess {
                    name: name.to_string(),
                    pid,
                    port,
                    log,
                    startup: started.elapsed(),
                };
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!(
                    "{name} did not answer {url} within 60 s; log {}:\n{}",
                    log.display(),
                    tail(&fs::read_to_string(&log).unwrap_or_default())
                );
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
    panic!(
        "{name}: its port was taken three times; last log:\n{}",
        tail(&last_log)
    );
}

/// The last 40 lines of a log, for panic messages.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
