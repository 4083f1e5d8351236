//! The wrapped tools: which names lockgate answers to, and how it finds and runs the real ones.
//!
//! Finding the real tool (rustup/Volta style): `LOCKGATE_REAL_<TOOL>` if set, else the first
//! match on PATH that is neither in lockgate's shims directory nor the same file as the running
//! binary. `LOCKGATE_DEPTH` counts nested lockgate invocations so a loop (a wrapper that calls
//! `npm`, which is our shim, which finds the wrapper…) stops with a clear error.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Npm,
    Npx,
    Pip,
    Pip3,
    Mvn,
}

pub const DEPTH_VAR: &str = "LOCKGATE_DEPTH";
const MAX_DEPTH: u32 = 8;

impl Tool {
    /// The tool a program name stands for (`npm`, `pip3`, …), if any.
    pub fn from_name(name: &str) -> Option<Tool> {
        Some(match name {
            "npm" => Tool::Npm,
            "npx" => Tool::Npx,
            "pip" => Tool::Pip,
            "pip3" => Tool::Pip3,
            "mvn" => Tool::Mvn,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Npm => "npm",
            Tool::Npx => "npx",
            Tool::Pip => "pip",
            Tool::Pip3 => "pip3",
            Tool::Mvn => "mvn",
        }
    }

    fn override_var(self) -> &'static str {
        match self {
            Tool::Npm | Tool::Npx => "LOCKGATE_REAL_NPM",
            Tool::Pip | Tool::Pip3 => "LOCKGATE_REAL_PIP",
            Tool::Mvn => "LOCKGATE_REAL_MVN",
        }
    }
}

/// Where lockgate itself lives, to skip it when searching PATH.
pub struct SelfLocation {
    exe: Option<(u64, u64)>,
    shim_dirs: Vec<PathBuf>,
}

impl SelfLocation {
    /// `argv0` is the name we were called by (a path when run through a shim path).
    pub fn detect(argv0: &OsStr) -> SelfLocation {
        let exe = std::env::current_exe().ok();
        let mut shim_dirs = Vec::new();
        let a0 = Path::new(argv0);
        if a0.components().count() > 1 {
            if let Some(d) = a0.parent().and_then(|d| d.canonicalize().ok()) {
                shim_dirs.push(d);
            }
        }
        // Installed layout: <prefix>/bin/lockgate and <prefix>/shims/.
        if let Some(d) = exe
            .as_deref()
            .and_then(|e| e.parent()?.parent().map(|p| p.join("shims")))
            .and_then(|d| d.canonicalize().ok())
        {
            shim_dirs.push(d);
        }
        SelfLocation {
            exe: exe
                .and_then(|e| std::fs::metadata(e).ok())
                .map(|m| (m.dev(), m.ino())),
            shim_dirs,
        }
    }

    fn is_self(&self, candidate: &Path) -> bool {
        let same_file = std::fs::metadata(candidate)
            .ok()
            .is_some_and(|m| Some((m.dev(), m.ino())) == self.exe);
        let in_shims = candidate
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .is_some_and(|d| self.shim_dirs.contains(&d));
        same_file || in_shims
    }
}

/// Find the real program for `tool` (for `npx`, `pip3`: that exact program name).
pub fn find_real(tool: Tool, me: &SelfLocation) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(tool.override_var()).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        // `LOCKGATE_REAL_NPM` names npm; npx lives beside it.
        let p = if tool == Tool::Npx {
            p.with_file_name("npx")
        } else {
            p
        };
        if me.is_self(&p) {
            return Err(Error::config(
                format!(
                    "{} points at lockgate itself ({})",
                    tool.override_var(),
                    p.display()
                ),
                "point it at the real tool, e.g. /usr/bin/npm",
            ));
        }
        return Ok(p);
    }
    let candidates = which::which_all(tool.name()).map_err(|_| not_found(tool))?;
    for c in candidates {
        if !me.is_self(&c) {
            return Ok(c);
        }
    }
    Err(not_found(tool))
}

fn not_found(tool: Tool) -> Error {
    Error::config(
        format!(
            "cannot find the real `{}` on PATH (lockgate's own shims are skipped)",
            tool.name()
        ),
        format!(
            "install {} or set {} to its path",
            tool.name(),
            tool.override_var()
        ),
    )
}

/// Check and bump the recursion counter; returns the value children must inherit.
pub fn next_depth() -> Result<u32> {
    let depth: u32 = std::env::var(DEPTH_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if depth >= MAX_DEPTH {
        return Err(Error::config(
            format!("lockgate called itself {depth} times in a row: the real tool found on PATH seems to call back into lockgate"),
            "set LOCKGATE_REAL_NPM / LOCKGATE_REAL_PIP / LOCKGATE_REAL_MVN to the real program, or remove the wrapper that calls the shim",
        ));
    }
    Ok(depth + 1)
}

/// Replace this process with the real tool, unchanged arguments: signals and the exit code belong
/// to it. Returns only on failure.
pub fn exec_passthrough(real: &Path, args: &[OsString], depth: u32) -> Error {
    let err = Command::new(real)
        .args(args)
        .env(DEPTH_VAR, depth.to_string())
        .exec();
    Error::config(
        format!("cannot run {}: {err}", real.display()),
        "check that the file exists and is executable",
    )
}

/// Run the real tool as a child (the gate must keep serving while it runs) and return its exit
/// code (128 + signal when it was killed). Ctrl-C reaches the child through the terminal; lockgate
/// swallows it so that it can still report and clean up after the child exits.
///
/// The child reaches the loopback gate directly whatever proxy the user configured: loopback is
/// added to its `NO_PROXY`/`no_proxy` and `npm_config_noproxy` (npm's setting beats the
/// variable), so neither the gate's token nor its requests ever go to a proxy.
pub async fn run_child(mut cmd: tokio::process::Command, what: &str) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let set: Vec<(String, Option<String>)> = cmd
        .as_std()
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    // What the child would see: what this command sets, else what lockgate inherited.
    let current = |name: &str| {
        set.iter()
            .find(|(k, _)| k == name)
            .map_or_else(|| std::env::var(name).ok(), |(_, v)| v.clone())
    };
    cmd.env_remove("NPM_CONFIG_NOPROXY");
    for (name, value) in crate::proxy::child_env(&current) {
        cmd.env(name, value);
    }
    let swallow = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let status = cmd.status().await;
    swallow.abort();
    let status = status.map_err(|e| {
        Error::config(
            format!("cannot run {what}: {e}"),
            "check that the real tool is installed and executable",
        )
    })?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Run a guarded flow on the async runtime with a reporter for `tool`: a refusal is recorded in
/// the audit log, and the counters are flushed whatever happened.
pub fn run_guarded<F, Fut>(tool: &str, flow: F) -> Result<i32>
where
    F: FnOnce(crate::report::Reporter) -> Fut,
    Fut: std::future::Future<Output = Result<i32>>,
{
    let reporter = crate::report::Reporter::from_env(tool);
    let result = runtime().and_then(|rt| rt.block_on(flow(reporter.clone())));
    if let Err(e) = &result {
        reporter.audit(
            "refuse",
            serde_json::json!({"exit": e.exit_code(), "error": e.to_string()}),
        );
    }
    reporter.flush();
    result
}

/// The async runtime for guarded runs (never built for pass-through).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Error::config(
                format!("cannot start the async runtime: {e}"),
                "check system limits (threads, file descriptors)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in ["npm", "npx", "pip", "pip3", "mvn"] {
            assert_eq!(Tool::from_name(n).unwrap().name(), n);
        }
        assert_eq!(Tool::from_name("lockgate"), None);
        assert_eq!(Tool::from_name("yarn"), None);
    }

    #[test]
    fn skips_shim_dir_and_self() {
        let dir = tempfile::tempdir().unwrap();
        let shims = dir.path().join("shims");
        std::fs::create_dir(&shims).unwrap();
        let exe = std::env::current_exe().unwrap();
        std::os::unix::fs::symlink(&exe, shims.join("npm")).unwrap();
        let other = dir.path().join("other-npm");
        std::fs::write(&other, "#!/bin/sh\n").unwrap();
        let me = SelfLocation::detect(shims.join("npm").as_os_str());
        assert!(me.is_self(&shims.join("npm")));
        assert!(me.is_self(&exe), "same file as the running binary");
        assert!(!me.is_self(&other));
    }
}
