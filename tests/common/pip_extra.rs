//! pip-flow helpers on top of the shared harness: a guarded project (a `lockgate.toml` for the
//! shared internal + public pypiserver pair, the internal password in the environment),
//! requirement lines with the real sha256 of built files, and plain vs guarded pip commands.
//! Included by `tests/pip.rs` with `#[path]`, next to `mod common`.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common::pypi::{PypiRegistries, INTERNAL_PYPI_USER};
use crate::common::{tools, Sandbox};

/// The variable the policy names for the internal index's password.
pub const PASSWORD_ENV: &str = "INTERNAL_PYPI_PASSWORD";

/// Lower-case hex sha256 of a file.
pub fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name==version --hash=sha256:… …` for the given files.
pub fn lock_line(name: &str, version: &str, files: &[&Path]) -> String {
    let hashes: Vec<String> = files
        .iter()
        .map(|f| format!("--hash=sha256:{}", sha256_of(f)))
        .collect();
    format!("{name}=={version} {}", hashes.join(" "))
}

/// `lockgate.toml`: names starting with `myorg-` only from the internal index, everything else
/// from the public one; `extra` is appended (e.g. a `[pip.build]` table).
pub fn policy(reg: &PypiRegistries, extra: &str) -> String {
    format!(
        "[pip]\nindex-url = \"{}\"\n[pip.internal]\nindex-url = \"{}\"\nprefixes = [\"myorg-\"]\n\
         username = \"{}\"\npassword-env = \"{PASSWORD_ENV}\"\n{extra}",
        reg.public.simple_url(),
        reg.internal.simple_url(),
        INTERNAL_PYPI_USER.0,
    )
}

/// A sandbox with the policy written and the internal password set.
pub fn guarded(reg: &PypiRegistries) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write("lockgate.toml", policy(reg, ""));
    sb.set_env(PASSWORD_ENV, INTERNAL_PYPI_USER.1);
    sb
}

/// The real pip, unguarded.
pub fn plain_pip(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.cmd(&tools().pip);
    cmd.args(args);
    cmd
}

/// `pip ARGS…` through lockgate's shim.
pub fn guarded_pip(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.shim("pip");
    cmd.args(args);
    cmd
}

/// The `decision` values of the audit log, in order.
pub fn decisions(sb: &Sandbox) -> Vec<String> {
    sb.audit()
        .iter()
        .filter_map(|e| e["decision"].as_str().map(str::to_string))
        .collect()
}
