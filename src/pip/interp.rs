//! The interpreter pip installs into: found from the real pip (or `--python`, as pip finds it)
//! and asked for its markers and wheel tags with [`INTERPRETER_PROBE`], so that lockgate picks
//! exactly the files that pip would accept.
//!
//! The real pip is usually a console script whose first line names its Python (`#!/venv/bin/python`,
//! or pip's `/bin/sh` trampoline for long paths); wrappers such as pyenv's shims are asked with
//! `pip debug`, which prints `sys.executable`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::markers::{Interpreter, INTERPRETER_PROBE};
use crate::error::{Error, Result};

/// The Python a console script runs with, from its first bytes: `#!/path/python[ args]`,
/// `#!/usr/bin/env python3` (the name, to look up on PATH), or pip's trampoline
/// `#!/bin/sh` + `'''exec' "/path/python" "$0" "$@"`. None when it is not a Python script.
pub fn script_python(head: &str) -> Option<String> {
    let mut lines = head.lines();
    let first = lines.next()?.strip_prefix("#!")?.trim();
    let mut words = first.split_whitespace();
    let program = words.next()?;
    let candidate = if program.ends_with("/env") {
        words.find(|w| !w.starts_with('-'))?.to_string()
    } else if program.ends_with("/sh") {
        let exec = lines.next()?.strip_prefix("'''exec' ")?;
        exec.strip_prefix('"')?.split('"').next()?.to_string()
    } else {
        program.to_string()
    };
    let base = Path::new(&candidate).file_name()?.to_str()?;
    (base.starts_with("python") || base.starts_with("pypy")).then_some(candidate)
}

/// The `sys.executable:` line of `pip debug`.
pub fn debug_executable(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("sys.executable:"))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}

/// The Python the real pip runs with.
pub async fn python_of(real_pip: &Path, depth: u32) -> Result<PathBuf> {
    let mut head = vec![0u8; 512];
    let n = match tokio::fs::File::open(real_pip).await {
        Ok(mut f) => tokio::io::AsyncReadExt::read(&mut f, &mut head)
            .await
            .unwrap_or(0),
        Err(e) => return Err(Error::io("read", real_pip, e)),
    };
    if let Some(p) = script_python(&String::from_utf8_lossy(&head[..n])) {
        let path = if p.contains('/') {
            Some(PathBuf::from(p))
        } else {
            which::which(&p).ok()
        };
        if let Some(path) = path.filter(|p| p.is_file()) {
            return Ok(path);
        }
    }
    let out = tokio::process::Command::new(real_pip)
        .args(["debug", "--isolated"])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env(crate::tool::DEPTH_VAR, depth.to_string())
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| probe_error(real_pip, &e.to_string()))?;
    debug_executable(&String::from_utf8_lossy(&out.stdout))
        .map(PathBuf::from)
        .ok_or_else(|| {
            probe_error(
                real_pip,
                "`pip debug` did not say which Python it runs with",
            )
        })
}

/// pip's `--python` argument as pip resolves it: a virtual environment directory, an
/// executable, or a command on PATH.
pub fn resolve_python_option(value: &str) -> Result<PathBuf> {
    let p = Path::new(value);
    if p.is_dir() {
        let exe = p.join("bin/python");
        if exe.exists() {
            return Ok(exe);
        }
    } else if p.exists() {
        return Ok(p.to_path_buf());
    }
    which::which(value).map_err(|_| {
        Error::config(
            format!("--python {value}: no such interpreter or virtual environment"),
            "give --python an interpreter path, a virtual environment directory or a command on PATH",
        )
    })
}

/// Run [`INTERPRETER_PROBE`] in `python`; `pip_dir` is appended to its `sys.path` (for an
/// interpreter that has no pip of its own).
pub async fn probe(python: &Path, pip_dir: Option<&str>) -> Result<Interpreter> {
    python_json(
        python,
        INTERPRETER_PROBE,
        pip_dir.into_iter().map(OsString::from).collect(),
    )
    .await
}

/// Run `code` in `python` with `args` and parse the JSON it prints.
async fn python_json<T: serde::de::DeserializeOwned>(
    python: &Path,
    code: &str,
    args: Vec<OsString>,
) -> Result<T> {
    let out = tokio::process::Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| probe_error(python, &e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(probe_error(
            python,
            err.lines().last().unwrap_or("it failed"),
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| probe_error(python, &format!("unexpected answer: {e}")))
}

/// Python code that reads, without running anything, the requirements that matter for building
/// sdists: for each `PATH FILENAME` argument pair, an sdist's `build-system.requires` (pip's
/// default `setuptools>=40.8.0` and `wheel` when its `pyproject.toml` has none) or a wheel's
/// `Requires-Dist`. Prints one JSON object, file name → list of PEP 508 strings.
pub const BUILD_PROBE: &str = "import sys, json, tarfile, zipfile, email.parser
try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
def top(names, leaf):
    return [n for n in names if n.count('/') == 1 and n.endswith('/' + leaf)]
out = {}
for path, name in zip(sys.argv[1::2], sys.argv[2::2]):
    if name.endswith('.whl'):
        with zipfile.ZipFile(path) as z:
            meta = [n for n in top(z.namelist(), 'METADATA') if n.split('/')[0].endswith('.dist-info')]
            msg = email.parser.BytesParser().parsebytes(z.read(meta[0])) if meta else None
            out[name] = (msg.get_all('Requires-Dist') or []) if msg else []
        continue
    if name.endswith('.zip'):
        with zipfile.ZipFile(path) as z:
            found = top(z.namelist(), 'pyproject.toml')
            text = z.read(found[0]) if found else None
    else:
        with tarfile.open(path) as t:
            found = top(t.getnames(), 'pyproject.toml')
            member = t.extractfile(found[0]) if found else None
            text = member.read() if member else None
    system = tomllib.loads(text.decode()).get('build-system') if text is not None else None
    out[name] = system['requires'] if system and 'requires' in system else ['setuptools>=40.8.0', 'wheel']
json.dump(out, sys.stdout)
";

/// Run [`BUILD_PROBE`] in `python` over `files` (stored path, file name).
pub async fn build_requirements(
    python: &Path,
    files: &[(PathBuf, String)],
) -> Result<BTreeMap<String, Vec<String>>> {
    let args = files
        .iter()
        .flat_map(|(path, name)| [path.as_os_str().to_os_string(), OsString::from(name)])
        .collect();
    python_json(python, BUILD_PROBE, args).await
}

fn probe_error(python: &Path, what: &str) -> Error {
    Error::config(
        format!("cannot ask {} about the packages to install: {what}", python.display()),
        "check that the real pip works (LOCKGATE_REAL_PIP names it) and that --python names a working interpreter",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pythons_of_real_console_scripts() {
        for (head, expected) in [
            ("#!/root/.pyenv/versions/3.11.7/bin/python3.11\n# -*- coding: utf-8 -*-\nimport re\n", Some("/root/.pyenv/versions/3.11.7/bin/python3.11")),
            ("#!/usr/bin/env python3\n", Some("python3")),
            ("#!/usr/bin/env -S python3 -E\n", Some("python3")),
            ("#!/srv/app/venv/bin/python -E\n", Some("/srv/app/venv/bin/python")),
            (
                "#!/bin/sh\n'''exec' \"/very/long path/venv/bin/python\" \"$0\" \"$@\"\n' '''\n",
                Some("/very/long path/venv/bin/python"),
            ),
            ("#!/opt/pypy3/bin/pypy3\n", Some("/opt/pypy3/bin/pypy3")),
            ("#!/usr/bin/env bash\nset -e\n", None), // pyenv shim
            ("#!/bin/sh\nexec pyenv exec pip \"$@\"\n", None),
            ("\u{7f}ELF", None),
        ] {
            assert_eq!(script_python(head).as_deref(), expected, "{head}");
        }
    }

    #[test]
    fn pip_debug_output() {
        let out = "WARNING: This command is only meant for debugging.\npip version: pip 23.2.1 from /x (python 3.11)\nsys.version: 3.11.7\nsys.executable: /root/.pyenv/versions/3.11.7/bin/python3.11\nsys.getdefaultencoding: utf-8\n";
        assert_eq!(
            debug_executable(out).as_deref(),
            Some("/root/.pyenv/versions/3.11.7/bin/python3.11")
        );
        assert_eq!(debug_executable("sys.executable: \n"), None);
    }
}
