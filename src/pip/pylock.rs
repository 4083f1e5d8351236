//! PEP 751 lock files (`pylock.toml`): the documented format as serde structs, the checks the
//! specification requires of an installer (supported `lock-version`, one source kind per
//! package, hashes present, `requires-python` and `environments` met, no two entries for one
//! package), and the choice of the packages whose marker holds for an interpreter.
//!
//! Unknown keys are refused, naming the key, except inside `[tool]` and `[packages.tool]`
//! where the specification lets tools put anything: a key lockgate does not understand could
//! change what gets installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::markers::{Marker, MarkerEnv};
use super::name;
use super::version::{SpecifierSet, Version};

/// Whether a file name is a lock file name per the specification: `pylock.toml` or
/// `pylock.NAME.toml` with no dot in NAME.
pub fn is_pylock_filename(file_name: &str) -> bool {
    file_name
        .strip_prefix("pylock.")
        .and_then(|rest| rest.strip_suffix("toml"))
        .is_some_and(|middle| {
            middle.is_empty()
                || middle
                    .strip_suffix('.')
                    .is_some_and(|n| !n.is_empty() && !n.contains('.'))
        })
}

/// A lock file that cannot be used, or does not fit the interpreter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PylockError {
    #[error("{}:{line}: {what}", file.display())]
    At {
        file: PathBuf,
        line: usize,
        what: String,
    },
    #[error("{}: {what}", file.display())]
    File { file: PathBuf, what: String },
}

/// A parsed `pylock.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PyLock {
    /// The file it was read from, for messages.
    #[serde(skip)]
    pub file: PathBuf,
    /// `"1.0"`; any `1.x` is read, other major versions are refused.
    pub lock_version: String,
    /// The lock applies only where at least one of these holds.
    pub environments: Option<Vec<Marker>>,
    /// Python versions the whole lock supports.
    pub requires_python: Option<SpecifierSet>,
    #[serde(default)]
    pub extras: Vec<String>,
    #[serde(default)]
    pub dependency_groups: Vec<String>,
    /// Groups installed when the user asks for none.
    #[serde(default)]
    pub default_groups: Vec<String>,
    pub created_by: String,
    pub packages: Vec<Package>,
    pub tool: Option<toml::Table>,
}

/// One `[[packages]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Package {
    /// Line of the entry in the file, for messages.
    #[serde(skip)]
    pub line: usize,
    pub name: String,
    pub version: Option<String>,
    /// Install only where this holds.
    pub marker: Option<Marker>,
    pub requires_python: Option<SpecifierSet>,
    /// Informational only; the specification forbids using it for installation.
    #[serde(default)]
    pub dependencies: Vec<toml::Table>,
    pub vcs: Option<Vcs>,
    pub directory: Option<Directory>,
    pub archive: Option<Archive>,
    /// The simple-API index the files were found on.
    pub index: Option<String>,
    pub sdist: Option<DistFile>,
    pub wheels: Option<Vec<DistFile>>,
    #[serde(default)]
    pub attestation_identities: Vec<AttestationIdentity>,
    pub tool: Option<toml::Table>,
}

/// `[packages.vcs]`: a source tree in version control (not from a registry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Vcs {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    pub path: Option<String>,
    pub requested_revision: Option<String>,
    pub commit_id: String,
    pub subdirectory: Option<String>,
}

/// `[packages.directory]`: a local source tree (not from a registry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Directory {
    pub path: String,
    #[serde(default)]
    pub editable: bool,
    pub subdirectory: Option<String>,
}

/// `[packages.archive]`: a direct reference to an archive file (not from a registry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Archive {
    pub url: Option<String>,
    pub path: Option<String>,
    pub size: Option<u64>,
    pub upload_time: Option<toml::value::Datetime>,
    pub hashes: BTreeMap<String, String>,
    pub subdirectory: Option<String>,
}

/// `[packages.sdist]` or one of `[[packages.wheels]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DistFile {
    /// File name; may be left out when it is the last component of `url`/`path`.
    pub name: Option<String>,
    pub upload_time: Option<toml::value::Datetime>,
    pub url: Option<String>,
    /// Relative to the lock file.
    pub path: Option<String>,
    pub size: Option<u64>,
    /// Algorithm → hex digest; at least one entry.
    pub hashes: BTreeMap<String, String>,
}

impl DistFile {
    /// `name`, else the last component of `url` or `path`.
    pub fn filename(&self) -> Option<&str> {
        let from_location = || {
            self.url
                .as_deref()
                .or(self.path.as_deref())
                .and_then(|l| l.rsplit('/').next())
                .filter(|n| !n.is_empty())
        };
        self.name.as_deref().or_else(from_location)
    }

    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// `[[packages.attestation-identities]]`: `kind` plus publisher-specific keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AttestationIdentity {
    pub kind: String,
    #[serde(flatten)]
    pub details: toml::Table,
}

/// Where a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// Wheels and/or an sdist, as found on an index.
    Files {
        wheels: &'a [DistFile],
        sdist: Option<&'a DistFile>,
    },
    Vcs(&'a Vcs),
    Directory(&'a Directory),
    Archive(&'a Archive),
}

impl Package {
    /// The package's source; [`PyLock::parse`] guarantees exactly one kind.
    pub fn source(&self) -> Source<'_> {
        match (&self.vcs, &self.directory, &self.archive) {
            (Some(vcs), _, _) => Source::Vcs(vcs),
            (_, Some(directory), _) => Source::Directory(directory),
            (_, _, Some(archive)) => Source::Archive(archive),
            _ => Source::Files {
                wheels: self.wheels.as_deref().unwrap_or_default(),
                sdist: self.sdist.as_ref(),
            },
        }
    }

    /// Which source kinds the entry gives, and what is wrong with them.
    fn check_source(&self) -> Result<(), String> {
        let has_files = self.sdist.is_some() || self.wheels.as_ref().is_some_and(|w| !w.is_empty());
        let given: Vec<&str> = [
            (self.vcs.is_some(), "vcs"),
            (self.directory.is_some(), "directory"),
            (self.archive.is_some(), "archive"),
            (has_files, "sdist/wheels"),
        ]
        .into_iter()
        .filter_map(|(present, kind)| present.then_some(kind))
        .collect();
        match given.as_slice() {
            [] => return Err("has no source (vcs, directory, archive, sdist or wheels)".into()),
            [_] => {}
            many => {
                return Err(format!(
                    "gives more than one kind of source ({})",
                    many.join(", ")
                ))
            }
        }
        if let Some(vcs) = &self.vcs {
            if vcs.url.is_none() && vcs.path.is_none() {
                return Err("vcs needs a url or a path".into());
            }
        }
        if let Some(archive) = &self.archive {
            check_file(
                "archive",
                archive.url.as_deref(),
                archive.path.as_deref(),
                &archive.hashes,
            )?;
        }
        let files = self
            .sdist
            .iter()
            .map(|f| ("sdist", f))
            .chain(self.wheels.iter().flatten().map(|f| ("wheel", f)));
        for (kind, file) in files {
            check_file(
                kind,
                file.url.as_deref(),
                file.path.as_deref(),
                &file.hashes,
            )?;
            if file.filename().is_none() {
                return Err(format!(
                    "a {kind} has no name and no url or path to take one from"
                ));
            }
        }
        Ok(())
    }
}

fn check_file(
    kind: &str,
    url: Option<&str>,
    path: Option<&str>,
    hashes: &BTreeMap<String, String>,
) -> Result<(), String> {
    if url.is_none() && path.is_none() {
        return Err(format!("the {kind} needs a url or a path"));
    }
    if hashes.is_empty() {
        return Err(format!(
            "the {kind} has an empty hashes table (at least one hash is required)"
        ));
    }
    match hashes.get("sha256") {
        Some(digest) if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(format!(
                "the {kind}'s sha256 {digest:?} is not 64 hex digits"
            ))
        }
        _ => Ok(()),
    }
}

/// Only to learn the line of each `[[packages]]` entry.
#[derive(Deserialize)]
struct PackageLines {
    #[serde(default)]
    packages: Vec<toml::Spanned<serde::de::IgnoredAny>>,
}

impl PyLock {
    /// Parses and checks the text of the lock file `file`.
    pub fn parse(text: &str, file: &Path) -> Result<PyLock, PylockError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let toml_error = |e: toml::de::Error| PylockError::At {
            file: file.to_path_buf(),
            line: e.span().map_or(1, |span| line_of(span.start)),
            what: e.message().trim_end().to_string(),
        };
        let mut lock: PyLock = toml::from_str(text).map_err(toml_error)?;
        lock.file = file.to_path_buf();
        let lines: PackageLines = toml::from_str(text).map_err(toml_error)?;
        for (package, spanned) in lock.packages.iter_mut().zip(&lines.packages) {
            package.line = line_of(spanned.span().start);
        }

        let major = lock.lock_version.split('.').next().unwrap_or_default();
        if major != "1" {
            return Err(PylockError::File {
                file: file.to_path_buf(),
                what: format!(
                    "lock-version {:?} is not supported; lockgate reads lock-version 1.x",
                    lock.lock_version
                ),
            });
        }
        for package in &lock.packages {
            let at = |what: String| PylockError::At {
                file: file.to_path_buf(),
                line: package.line,
                what,
            };
            if !name::is_valid(&package.name) {
                return Err(at(format!(
                    "{:?} is not a valid package name",
                    package.name
                )));
            }
            package
                .check_source()
                .map_err(|what| at(format!("package {}: {what}", package.name)))?;
        }
        Ok(lock)
    }

    /// The packages to install into the interpreter described by `env`, following the
    /// specification's installation steps. When `env.dependency_groups` is empty the lock's
    /// `default-groups` apply.
    pub fn select(&self, env: &MarkerEnv) -> Result<Vec<&Package>, PylockError> {
        let file = &self.file;
        let whole = |what: String| PylockError::File {
            file: file.to_path_buf(),
            what,
        };
        let mut env = env.clone();
        if env.dependency_groups.is_empty() {
            env.dependency_groups = self.default_groups.iter().cloned().collect();
        }
        let python = Version::parse(&env.python_full_version).map_err(|e| whole(e.to_string()))?;
        if let Some(required) = &self.requires_python {
            if !required.contains(&python) {
                return Err(whole(format!(
                    "requires Python {required}, but the interpreter is {python}"
                )));
            }
        }
        if let Some(environments) = &self.environments {
            let mut any = false;
            for marker in environments {
                any |= marker.evaluate(&env).map_err(|e| whole(e.to_string()))?;
            }
            if !any {
                let listed: Vec<String> = environments.iter().map(|m| format!("`{m}`")).collect();
                return Err(whole(format!(
                    "none of its environments holds here: {}",
                    listed.join(", ")
                )));
            }
        }

        let mut selected: Vec<&Package> = Vec::new();
        for package in &self.packages {
            let at = |what: String| PylockError::At {
                file: file.to_path_buf(),
                line: package.line,
                what,
            };
            if let Some(marker) = &package.marker {
                if !marker
                    .evaluate(&env)
                    .map_err(|e| at(format!("package {}: {e}", package.name)))?
                {
                    continue;
                }
            }
            if let Some(required) = &package.requires_python {
                if !required.contains(&python) {
                    return Err(at(format!(
                        "package {} requires Python {required}, but the interpreter is {python}",
                        package.name
                    )));
                }
            }
            let normalized = name::normalize(&package.name);
            if let Some(earlier) = selected
                .iter()
                .find(|p| name::normalize(&p.name) == normalized)
            {
                return Err(at(format!(
                    "package {} is also selected at line {}; their markers must not both hold",
                    package.name, earlier.line
                )));
            }
            selected.push(package);
        }
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use super::super::markers::sample_env;
    use super::*;

    /// The example from the specification (packaging.python.org, pylock-toml).
    const SPEC_EXAMPLE: &str = r#"
lock-version = '1.0'
environments = ["sys_platform == 'win32'", "sys_platform == 'linux'"]
requires-python = '==3.12'
created-by = 'mousebender'

[[packages]]
name = 'attrs'
version = '25.1.0'
requires-python = '>=3.8'
wheels = [
  {name = 'attrs-25.1.0-py3-none-any.whl', upload-time = 2025-01-25T11:30:10.164985+00:00, url = 'https://files.pythonhosted.org/packages/fc/30/d4986a882011f9df997a55e6becd864812ccfcd821d64aac8570ee39f719/attrs-25.1.0-py3-none-any.whl', size = 63152, hashes = {sha256 = 'c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a'}},
]
[[packages.attestation-identities]]
environment = 'release-pypi'
kind = 'GitHub'
repository = 'python-attrs/attrs'
workflow = 'pypi-package.yml'

[[packages]]
name = 'cattrs'
version = '24.1.2'
requires-python = '>=3.8'
dependencies = [
    {name = 'attrs'},
]
wheels = [
  {name = 'cattrs-24.1.2-py3-none-any.whl', upload-time = 2024-09-22T14:58:34.812643+00:00, url = 'https://files.pythonhosted.org/packages/c8/d5/867e75361fc45f6de75fe277dd085627a9db5ebb511a87f27dc1396b5351/cattrs-24.1.2-py3-none-any.whl', size = 66446, hashes = {sha256 = '67c7495b760168d931a10233f979b28dc04daf853b30752246f4f8471c6d68d0'}},
]

[[packages]]
name = 'numpy'
version = '2.2.3'
requires-python = '>=3.10'
wheels = [
  {name = 'numpy-2.2.3-cp312-cp312-win_amd64.whl', upload-time = 2025-02-13T16:51:21.821880+00:00, url = 'https://files.pythonhosted.org/packages/42/6e/55580a538116d16ae7c9aa17d4edd56e83f42126cb1dfe7a684da7925d2c/numpy-2.2.3-cp312-cp312-win_amd64.whl', size = 12626357, hashes = {sha256 = '83807d445817326b4bcdaaaf8e8e9f1753da04341eceec705c001ff342002e5d'}},
  {name = 'numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', upload-time = 2025-02-13T16:50:00.079662+00:00, url = 'https://files.pythonhosted.org/packages/39/04/78d2e7402fb479d893953fb78fa7045f7deb635ec095b6b4f0260223091a/numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', size = 16116679, hashes = {sha256 = '3b787adbf04b0db1967798dba8da1af07e387908ed1553a0d6e74c084d1ceafe'}},
]

[tool.mousebender]
command = ['.', 'lock', '--platform', 'cpython3.12-windows-x64', '--platform', 'cpython3.12-manylinux2014-x64', 'cattrs', 'numpy']
run-on = 2025-03-06T12:28:57.760769
"#;

    /// Shape of `uv export --format pylock.toml`, with a Windows-only package, an internal
    /// package from a private index, a default group and a git dependency.
    const UV_STYLE: &str = r#"# This file was autogenerated by uv via the following command:
#    uv export --format pylock.toml
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.9"
default-groups = ["dev"]
dependency-groups = []

[[packages]]
name = "click"
version = "8.1.8"
index = "https://pypi.org/simple"
sdist = { url = "https://files.pythonhosted.org/packages/b9/2e/click-8.1.8.tar.gz", upload-time = 2024-12-21T18:38:44Z, size = 226593, hashes = { sha256 = "ed53c9d8990d83c2a27deae68e4ee337473f6330c040a31d4225c9574d16096a" } }
wheels = [{ url = "https://files.pythonhosted.org/packages/7e/d4/click-8.1.8-py3-none-any.whl", upload-time = 2024-12-21T18:38:41Z, size = 98188, hashes = { sha256 = "63c132bbbed01578a06712a2d1f497bb62d9c1c0d329b7903a866228027263b2" } }]

[[packages]]
name = "colorama"
version = "0.4.6"
marker = "sys_platform == 'win32'"
index = "https://pypi.org/simple"
wheels = [{ url = "https://files.pythonhosted.org/packages/d1/d6/colorama-0.4.6-py2.py3-none-any.whl", hashes = { sha256 = "4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6" } }]

[[packages]]
name = "myorg_payments-client"
version = "1.2.3"
index = "https://pypi.corp.example/simple"
wheels = [{ url = "https://pypi.corp.example/packages/myorg_payments_client-1.2.3-py3-none-any.whl", hashes = { sha256 = "a3f0c1d8e2b4a6c8e0f2a4c6e8a0c2e4a6c8e0f2a4c6e8a0c2e4a6c8e0f2a4c6" } }]

[[packages]]
name = "pytest"
version = "8.3.5"
marker = "'dev' in dependency_groups"
wheels = [{ url = "https://files.pythonhosted.org/packages/30/3d/pytest-8.3.5-py3-none-any.whl", hashes = { sha256 = "c69214aa47deac29fad6c2a4f590b9c4a9fdb16a403176fe154b79c0b4d4d820" } }]

[[packages]]
name = "internal-tool"
vcs = { type = "git", url = "https://git.corp.example/tool.git", commit-id = "4f2c3a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a" }

[tool.uv]
anything = { goes = ["here"] }
"#;

    /// A well-formed sha256 for synthetic entries.
    const H: &str = "63c132bbbed01578a06712a2d1f497bb62d9c1c0d329b7903a866228027263b2";

    fn parse(text: &str) -> Result<PyLock, PylockError> {
        PyLock::parse(text, Path::new("pylock.toml"))
    }

    fn python(version: &str) -> MarkerEnv {
        let mut env = sample_env();
        env.python_full_version = version.to_string();
        env.python_version = version.rsplitn(2, '.').last().unwrap().to_string();
        env
    }

    fn names(selected: &[&Package]) -> Vec<String> {
        selected.iter().map(|p| p.name.clone()).collect()
    }

    #[test]
    fn specification_example() {
        let lock = parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(lock.created_by, "mousebender");
        assert_eq!(
            lock.packages.iter().map(|p| p.line).collect::<Vec<_>>(),
            [7, 20, 31]
        );
        let numpy = &lock.packages[2];
        let Source::Files {
            wheels,
            sdist: None,
        } = numpy.source()
        else {
            panic!("{:?}", numpy.source())
        };
        assert_eq!(
            wheels[1].filename(),
            Some("numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
        );
        assert_eq!(
            wheels[1].sha256(),
            Some("3b787adbf04b0db1967798dba8da1af07e387908ed1553a0d6e74c084d1ceafe")
        );
        assert_eq!(wheels[1].size, Some(16116679));
        assert_eq!(lock.packages[0].attestation_identities[0].kind, "GitHub");

        // `==3.12` is PEP 440 equality: 3.12.0 only (the example means `==3.12.*`).
        let selected = lock.select(&python("3.12.0")).unwrap();
        assert_eq!(names(&selected), ["attrs", "cattrs", "numpy"]);
        assert!(lock.select(&python("3.12.4")).is_err());
        let err = lock.select(&python("3.11.7")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pylock.toml: requires Python ==3.12, but the interpreter is 3.11.7"
        );
        let mut mac = python("3.12.0");
        mac.sys_platform = "darwin".into();
        let err = lock.select(&mac).unwrap_err().to_string();
        assert!(
            err.contains("none of its environments holds here: `sys_platform == 'win32'`"),
            "{err}"
        );
    }

    #[test]
    fn uv_style_lock_selection_and_sources() {
        let lock = parse(UV_STYLE).unwrap();
        let selected = lock.select(&python("3.11.7")).unwrap();
        // colorama is Windows-only; pytest comes with the default group "dev".
        assert_eq!(
            names(&selected),
            ["click", "myorg_payments-client", "pytest", "internal-tool"]
        );
        let click = selected[0];
        let Source::Files {
            wheels,
            sdist: Some(sdist),
        } = click.source()
        else {
            panic!()
        };
        assert_eq!(wheels[0].filename(), Some("click-8.1.8-py3-none-any.whl"));
        assert_eq!(sdist.filename(), Some("click-8.1.8.tar.gz"));
        assert_eq!(
            selected[1].index.as_deref(),
            Some("https://pypi.corp.example/simple")
        );
        assert!(matches!(selected[3].source(), Source::Vcs(Vcs { kind, .. }) if kind == "git"));

        let mut env = python("3.11.7");
        env.dependency_groups = ["docs".to_string()].into();
        let selected = lock.select(&env).unwrap();
        assert!(
            !names(&selected).contains(&"pytest".to_string()),
            "explicit groups replace the defaults"
        );
    }

    #[test]
    fn package_checks_during_selection() {
        let base = "lock-version = '1.0'\ncreated-by = 't'\n";
        let wheel = format!("wheels = [{{ url = 'https://h/a-1-py3-none-any.whl', hashes = {{ sha256 = '{H}' }} }}]");
        let twice = format!(
            "{base}[[packages]]\nname = 'a'\n{wheel}\n[[packages]]\nname = 'A'\nmarker = \"os_name == 'posix'\"\n{wheel}\n"
        );
        let err = parse(&twice).unwrap().select(&sample_env()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pylock.toml:6: package A is also selected at line 3; their markers must not both hold"
        );
        let exclusive = twice.replace("'posix'", "'nt'");
        assert_eq!(
            parse(&exclusive)
                .unwrap()
                .select(&sample_env())
                .unwrap()
                .len(),
            1
        );

        let old = format!("{base}[[packages]]\nname = 'a'\nrequires-python = '<3.8'\n{wheel}\n");
        let err = parse(&old).unwrap().select(&sample_env()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pylock.toml:3: package a requires Python <3.8, but the interpreter is 3.11.7"
        );
    }

    #[test]
    fn malformed_locks_are_refused_with_the_line() {
        let base = "lock-version = '1.0'\ncreated-by = 't'\n";
        let cases = [
            ("lock-version = '2.0'\ncreated-by = 't'\npackages = []\n", "pylock.toml: lock-version \"2.0\" is not supported"),
            ("created-by = 't'\npackages = []\n", "missing field `lock-version`"),
            (&format!("{base}packages = []\nsurprise = 1\n"), "pylock.toml:4: unknown field `surprise`"),
            (&format!("{base}[[packages]]\nname = 'a'\nsource-url = 'x'\n"), "pylock.toml:5: unknown field `source-url`"),
            (&format!("{base}[[packages]]\nname = 'a'\n"), "pylock.toml:3: package a: has no source"),
            (
                &format!("{base}[[packages]]\nname = 'a'\narchive = {{ url = 'https://h/a.zip', hashes = {{ sha256 = '{H}' }} }}\nwheels = [{{ url = 'https://h/a-1-py3-none-any.whl', hashes = {{ sha256 = '{H}' }} }}]\n"),
                "package a: gives more than one kind of source (archive, sdist/wheels)",
            ),
            (
                &format!("{base}[[packages]]\nname = 'a'\nwheels = [{{ url = 'https://h/a-1-py3-none-any.whl' }}]\n"),
                "pylock.toml:5: missing field `hashes`",
            ),
            (
                &format!("{base}[[packages]]\nname = 'a'\nwheels = [{{ url = 'https://h/a-1-py3-none-any.whl', hashes = {{}} }}]\n"),
                "package a: the wheel has an empty hashes table",
            ),
            (
                &format!("{base}[[packages]]\nname = 'a'\nsdist = {{ hashes = {{ sha256 = '{H}' }} }}\n"),
                "package a: the sdist needs a url or a path",
            ),
            (
                &format!("{base}[[packages]]\nname = 'a'\nvcs = {{ type = 'git', commit-id = 'abc' }}\n"),
                "package a: vcs needs a url or a path",
            ),
            (&format!("{base}[[packages]]\nname = '-a'\ndirectory = {{ path = '.' }}\n"), "pylock.toml:3: \"-a\" is not a valid package name"),
            (
                &format!("{base}[[packages]]\nname = 'a'\nmarker = 'python_version >> \"3\"'\ndirectory = {{ path = '.' }}\n"),
                "pylock.toml:5: invalid marker",
            ),
            (&format!("{base}requires-python = '>=three'\npackages = []\n"), "pylock.toml:3: \">=three\" is not a valid version specifier"),
            (&format!("{base}packages = [\n"), "pylock.toml:3:"),
            (
                &format!("{base}[[packages]]\nname = 'a'\nwheels = [{{ url = 'https://h/a-1-py3-none-any.whl', hashes = {{ sha256 = 'abc' }} }}]\n"),
                "package a: the wheel's sha256 \"abc\" is not 64 hex digits",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
            eprintln!("{err}");
        }
    }

    #[test]
    fn tool_tables_and_minor_versions_are_tolerated() {
        let lock = parse(
            "lock-version = '1.3'\ncreated-by = 't'\npackages = []\n[tool.x]\nnew-thing = true\n[tool.y.nested]\nk = 1\n",
        )
        .unwrap();
        assert!(lock.tool.unwrap().contains_key("y"));
        let with_package_tool = "lock-version = '1.0'\ncreated-by = 't'\n[[packages]]\nname = 'a'\ndirectory = { path = '.' }\n[packages.tool.z]\nq = 'r'\n";
        assert!(parse(with_package_tool).unwrap().packages[0].tool.is_some());
    }

    #[test]
    fn lock_file_names() {
        for good in ["pylock.toml", "pylock.dev.toml", "pylock.spam.toml"] {
            assert!(is_pylock_filename(good), "{good}");
        }
        for bad in [
            "pylock.a.b.toml",
            "pylock..toml",
            "pylock.tom",
            "Pylock.toml",
            "requirements.txt",
            "pylocktoml",
            "pylock.toml.bak",
        ] {
            assert!(!is_pylock_filename(bad), "{bad}");
        }
    }
}
