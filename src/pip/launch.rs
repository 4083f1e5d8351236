//! How the real pip gets the gate's run token in route mode without any build receiving it.
//!
//! Whatever pip holds in its environment, its argv or a file it names, the code it runs while
//! building (pip's build-dependency install, a package's `setup.py` or PEP 517 backend) inherits
//! or can read: pip copies `os.environ` into every build subprocess, and passes its index URL,
//! credentials included, on the build-dependency install's command line. So the run token reaches
//! pip's own process only:
//!
//! - lockgate starts pip's Python with [`LAUNCHER`] instead of the `pip` script. The launcher
//!   reads the token from a private file (0600 in a 0700 directory) named by [`AUTH_FILE_VAR`],
//!   deletes the file and drops the variable before pip's code is even imported, marks the
//!   process non-dumpable (so same-user processes cannot read its memory or environment through
//!   `/proc`, unless privileged), and teaches pip's authentication to send that token to the
//!   gate's host only. Then it runs pip's `main` with the user's arguments.
//! - pip's index URL (`PIP_INDEX_URL`, which builds do see) carries the gate's *build* token:
//!   the gate answers it with public projects only (setuptools and wheel for an isolated build),
//!   never an internal page or file, and records a build that asks for one
//!   ([`crate::gate::GateRequest::build_scope`]).
//!
//! With `--python`, pip would re-run itself in a subprocess without the launcher; lockgate instead
//! runs the launcher in that interpreter directly, with pip's own directory on `sys.path`, as pip's
//! `__pip-runner__` does.

use std::ffi::OsString;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result, Secret};

/// Names the file holding `netloc`, user and token, one per line.
pub const AUTH_FILE_VAR: &str = "LOCKGATE_PIP_AUTH_FILE";
/// A directory to put first on `sys.path` (pip's, for `--python` interpreters without pip).
pub const SYS_PATH_VAR: &str = "LOCKGATE_PIP_SYS_PATH";

/// Python run as `python -c LAUNCHER ARGS…`; ARGS are pip's.
pub const LAUNCHER: &str = r#"import os, sys
_p = os.environ.pop("LOCKGATE_PIP_AUTH_FILE")
with open(_p) as _f:
    _netloc, _user, _token = _f.read().split("\n")[:3]
os.unlink(_p)
_extra = os.environ.pop("LOCKGATE_PIP_SYS_PATH", "")
if _extra:
    sys.path.insert(0, _extra)
try:
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
except Exception:
    pass
try:
    from pip._internal.network import auth as _auth
    from pip._internal.utils.misc import split_auth_netloc_from_url as _split
    _get = _auth.MultiDomainBasicAuth._get_url_and_credentials
except (ImportError, AttributeError) as e:
    sys.stderr.write("lockgate: this pip's authentication code is not what lockgate knows (%s); refusing rather than giving the gate's token to pip another way\n" % e)
    sys.exit(20)
def _get_url_and_credentials(self, original_url):
    url, netloc, _ = _split(original_url)
    if netloc == _netloc:
        return url, _user, _token
    return _get(self, original_url)
_auth.MultiDomainBasicAuth._get_url_and_credentials = _get_url_and_credentials
from pip._internal.cli.main import main as _main
sys.argv[0] = "pip"
sys.exit(_main(sys.argv[1:]))
"#;

/// Write the token file for `netloc` (`127.0.0.1:PORT`) into `dir` (a private directory).
pub fn write_auth_file(dir: &Path, netloc: &str, token: &Secret) -> Result<std::path::PathBuf> {
    let path = dir.join("gate-auth");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        write!(f, "{netloc}\nlockgate\n{}\n", token.expose())
    };
    write().map_err(|e| Error::io("write the gate's token for pip into", &path, e))?;
    Ok(path)
}

/// `python -c LAUNCHER` followed by pip's arguments.
pub fn argv(pip_args: &[OsString]) -> Vec<OsString> {
    let mut out = vec![OsString::from("-c"), OsString::from(LAUNCHER)];
    out.extend(pip_args.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_private_and_the_launcher_names_its_variables() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = write_auth_file(dir.path(), "127.0.0.1:9", &Secret::new("t0k")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1:9\nlockgate\nt0k\n"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_auth_file(dir.path(), "x", &Secret::new("y")).is_err());
        assert!(LAUNCHER.contains(AUTH_FILE_VAR) && LAUNCHER.contains(SYS_PATH_VAR));
        assert_eq!(argv(&["install".into()])[2], "install");
    }
}
