//! From a lock to the files lockgate fetches, or to findings. Pure.
//!
//! A lock is one or more hash-pinned requirements files or a PEP 751 `pylock.toml`; both become a
//! list of [`Locked`] packages (name, pinned version, extras, accepted sha256 digests), with a
//! finding for every entry lockgate cannot verify: no hash, no pin, a URL/path/VCS/editable
//! requirement, an internal name the lock itself says comes from another host. Markers are
//! evaluated for the interpreter pip installs into (or not at all, for `lockgate check`).
//!
//! [`choose`] then picks, from the files an index lists for a package, the one(s) to fetch: the
//! locked version, a locked hash, compatible with the interpreter's tags and Python version,
//! wheels before sdists and sdists only when the policy allows them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::index::FileEntry;
use super::markers::{Marker, MarkerEnv};
use super::name::normalize;
use super::pylock::{PyLock, Source};
use super::requirements::{
    self, FileOption, OptionKind, Origin, Requirement, RequirementSet, Target,
};
use super::version::Version;
use super::wheel::{best_file, DistName, SupportedTags};
use crate::error::redact_url;
use crate::finding::{Finding, Kind};

/// Where names come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Every name that is not internal.
    pub public: Url,
    /// The internal index and its prefixes.
    pub internal: Option<(Url, Vec<String>)>,
}

impl Sources {
    /// The one index `name` may come from, and whether it is the internal one.
    pub fn index_for(&self, name: &str) -> (&Url, bool) {
        match &self.internal {
            Some((url, prefixes)) if is_internal(name, prefixes) => (url, true),
            _ => (&self.public, false),
        }
    }
}

/// One package the lock says to install.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    /// PEP 503 normalized.
    pub name: String,
    pub version: Version,
    /// Requested extras, as written (pip installs their dependencies, which the lock pins too).
    pub extras: Vec<String>,
    /// Accepted sha256 digests, lower-case hex.
    pub sha256: Vec<String>,
    /// pylock only: the files the lock names (file name → sha256); empty for requirements files,
    /// which name no files.
    pub files: BTreeMap<String, String>,
    /// Whether the name is in an internal namespace (`[pip.internal] prefixes`).
    pub internal: bool,
    pub file: PathBuf,
    pub line: usize,
}

impl Locked {
    /// `name==version`, as messages, counters and the audit log show a package.
    pub fn id(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }

    /// The line pip gets in the requirements file lockgate writes for the hand-off.
    pub fn requirement_line(&self, sha256: &str) -> String {
        let extras = if self.extras.is_empty() {
            String::new()
        } else {
            format!("[{}]", self.extras.join(","))
        };
        format!(
            "{}{extras}=={} --hash=sha256:{sha256}",
            self.name, self.version
        )
    }
}

/// What a lock says, as far as lockgate is concerned.
#[derive(Debug, Default)]
pub struct Lock {
    pub packages: Vec<Locked>,
    /// Entries lockgate refuses (errors) or remarks on (warnings).
    pub findings: Vec<Finding>,
    /// Options inside the lock files that lockgate overrides: `--option value` (URLs redacted)
    /// and where it is written.
    pub overridden: Vec<(String, Origin)>,
    /// Every file read.
    pub files: Vec<PathBuf>,
}

/// Whether a (normalized) name is in one of the internal namespaces.
pub fn is_internal(name: &str, prefixes: &[String]) -> bool {
    let name = normalize(name);
    prefixes.iter().any(|p| name.starts_with(&normalize(p)))
}

/// How entries are filtered by their markers.
#[derive(Clone, Copy)]
pub enum Markers<'a> {
    /// Only entries whose marker holds for this interpreter (an install).
    For(&'a MarkerEnv),
    /// Every entry (`lockgate check` audits all of them).
    All,
}

impl Markers<'_> {
    fn hold(&self, marker: Option<&Marker>) -> Result<bool, String> {
        match (self, marker) {
            (Markers::For(env), Some(m)) => m.evaluate(env).map_err(|e| e.to_string()),
            _ => Ok(true),
        }
    }
}

const HASH_HINT: &str =
    "lock it with hashes (`pip-compile --generate-hashes`, `uv pip compile --generate-hashes`, or `pip hash FILE`) and commit the result";
const DIRECT_HINT: &str =
    "lockgate verifies packages from an index only: publish it to the internal index and pin it by version and hash";

/// The options of requirements files that lockgate overrides, as `--option value` (URLs
/// redacted) and where each is written.
pub fn overridden(options: &[FileOption]) -> Vec<(String, Origin)> {
    options
        .iter()
        .filter_map(|o| {
            let described = match &o.option {
                OptionKind::IndexUrl(v) => format!("--index-url {}", redact_url(v)),
                OptionKind::ExtraIndexUrl(v) => format!("--extra-index-url {}", redact_url(v)),
                OptionKind::NoIndex => "--no-index".into(),
                OptionKind::FindLinks(v) => format!("--find-links {}", redact_url(v)),
                OptionKind::TrustedHost(v) => format!("--trusted-host {v}"),
                OptionKind::NoBinary(v) => format!("--no-binary {v}"),
                OptionKind::OnlyBinary(v) => format!("--only-binary {v}"),
                OptionKind::PreferBinary
                | OptionKind::Pre
                | OptionKind::RequireHashes
                | OptionKind::UseFeature(_) => return None,
            };
            Some((described, o.origin.clone()))
        })
        .collect()
}

/// The lock in requirements files (`-r`, with their includes) and constraints files (`-c`,
/// whose entries have `constraint` set), all read into `set`.
pub fn from_requirements(set: &RequirementSet, markers: Markers, prefixes: &[String]) -> Lock {
    let mut lock = Lock {
        files: set.files.clone(),
        overridden: overridden(&set.options),
        ..Lock::default()
    };
    let all_constraints: Vec<&Requirement> =
        set.requirements.iter().filter(|c| c.constraint).collect();
    for r in set.requirements.iter().filter(|r| !r.constraint) {
        let (file, line) = (&r.origin.file, r.origin.line);
        let label = r.name.clone().unwrap_or_else(|| r.text.clone());
        match markers.hold(r.marker.as_ref()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                lock.findings.push(at(
                    Finding::error(Kind::Lockfile, &label, file)
                        .msg(e)
                        .hint("fix the marker"),
                    line,
                ));
                continue;
            }
        }
        let pinned = match (&r.target, r.editable) {
            (Target::Registry(_), false) => r.pinned_version(),
            _ => {
                let what = if r.editable {
                    "an editable install"
                } else {
                    "a direct reference (URL or path)"
                };
                // `uv export` writes the project itself (and workspace members) as `-e .`.
                let hint = if r.editable && matches!(r.target, Target::Path(_)) {
                    "an editable local folder is your own project, not a dependency: if this file is `uv export` output, export it with `uv export --no-emit-project` (and `--no-emit-workspace` for workspace members) and install the project separately; otherwise publish it to the internal index and pin it by version and hash"
                } else {
                    DIRECT_HINT
                };
                lock.findings.push(at(
                    Finding::error(Kind::NonRegistry, &label, file)
                        .msg(format!(
                            "`{}` is {what}, not a package from an index",
                            r.text
                        ))
                        .hint(hint),
                    line,
                ));
                continue;
            }
        };
        let name = r.normalized_name().unwrap_or_default();
        let Some(version) = pinned.as_deref().and_then(|v| Version::parse(v).ok()) else {
            lock.findings.push(at(
                Finding::error(Kind::Lockfile, &name, file)
                    .msg(format!(
                        "`{}` is not pinned to one version with `==`",
                        r.text
                    ))
                    .hint(HASH_HINT),
                line,
            ));
            continue;
        };
        let sha256: Vec<String> = r.sha256().map(str::to_string).collect();
        if sha256.is_empty() {
            let msg = if r.hashes.is_empty() {
                "has no --hash, so lockgate cannot verify what gets installed".to_string()
            } else {
                "has only sha384/sha512 hashes; lockgate verifies sha256, which every index publishes".to_string()
            };
            lock.findings.push(at(
                Finding::error(Kind::MissingHash, format!("{name}=={version}"), file)
                    .msg(msg)
                    .hint(HASH_HINT),
                line,
            ));
            continue;
        }
        for c in &all_constraints {
            if c.normalized_name().as_deref() != Some(&name)
                || !markers.hold(c.marker.as_ref()).unwrap_or(true)
            {
                continue;
            }
            if let Target::Registry(spec) = &c.target {
                if !spec.contains(&version) {
                    lock.findings.push(at(
                        Finding::error(Kind::Lockfile, format!("{name}=={version}"), file)
                            .msg(format!(
                                "is excluded by the constraint `{}` at {}",
                                c.text, c.origin
                            ))
                            .hint("make the lock and the constraints agree, then lock again"),
                        line,
                    ));
                }
            }
        }
        add(
            &mut lock,
            Locked {
                internal: is_internal(&name, prefixes),
                name,
                version,
                extras: r.extras.clone(),
                sha256,
                files: BTreeMap::new(),
                file: file.clone(),
                line,
            },
        );
    }
    lock
}

/// The lock in a `pylock.toml`. `internal_index` is the policy's internal index: files of an
/// internal package the lock locates on another host are a confusion finding.
pub fn from_pylock(
    pylock: &PyLock,
    markers: Markers,
    prefixes: &[String],
    internal_index: Option<&Url>,
    allow_sdist: &[String],
) -> Result<Lock, super::pylock::PylockError> {
    let file = pylock.file.clone();
    let mut lock = Lock {
        files: vec![file.clone()],
        ..Lock::default()
    };
    let packages = match markers {
        Markers::For(env) => pylock.select(env)?,
        Markers::All => pylock.packages.iter().collect(),
    };
    for p in packages {
        let name = normalize(&p.name);
        let internal = is_internal(&name, prefixes);
        let Source::Files { wheels, sdist } = p.source() else {
            lock.findings.push(at(
                Finding::error(Kind::NonRegistry, &name, &file)
                    .msg("is locked to a VCS checkout, a directory or an archive URL, not to files from an index")
                    .hint(DIRECT_HINT),
                p.line,
            ));
            continue;
        };
        let mut files = BTreeMap::new();
        let mut versions = Vec::new();
        let mut foreign = Vec::new();
        for f in wheels.iter().chain(sdist) {
            let filename = f.filename().unwrap_or_default().to_string();
            let Some(sha) = f.sha256() else {
                lock.findings.push(at(
                    Finding::error(Kind::MissingHash, &name, &file)
                        .msg(format!("{filename} has no sha256 hash; lockgate verifies sha256, which every index publishes"))
                        .hint(HASH_HINT),
                    p.line,
                ));
                continue;
            };
            if let Ok(d) = DistName::parse(&filename) {
                versions.push(d.version().to_string());
            }
            if let (Some(url), Some(index)) = (
                f.url.as_deref().and_then(|u| Url::parse(u).ok()),
                internal_index,
            ) {
                if internal && url.origin() != index.origin() {
                    foreign.push(crate::fetch::origin_label(&url));
                }
            }
            files.insert(filename, sha.to_ascii_lowercase());
        }
        if let (Some(index), Some(declared)) = (internal_index, p.index.as_deref()) {
            if internal && Url::parse(declared).map_or(true, |u| u.origin() != index.origin()) {
                foreign.push(crate::error::redact_url(declared));
            }
        }
        if !foreign.is_empty() {
            foreign.dedup();
            lock.findings.push(at(
                Finding::error(Kind::Confusion, &name, &file)
                    .msg(format!(
                        "is an internal package but the lock takes it from {}, not from the internal index",
                        foreign.join(", ")
                    ))
                    .hint("lock it again against the internal index; if the public index has this name, someone may be staging a dependency-confusion attack"),
                p.line,
            ));
            continue;
        }
        let version = p.version.clone().or_else(|| versions.first().cloned());
        let Some(version) = version.as_deref().and_then(|v| Version::parse(v).ok()) else {
            lock.findings.push(at(
                Finding::error(Kind::Lockfile, &name, &file)
                    .msg("has no version and no file name to take one from")
                    .hint("lock it again with a PEP 751 tool"),
                p.line,
            ));
            continue;
        };
        if files.is_empty() {
            continue; // every file was reported above
        }
        if wheels.is_empty() && !allow_sdist.iter().any(|a| normalize(a) == name) {
            lock.findings
                .push(at(sdist_refused(&name, &version, &file), p.line));
            continue;
        }
        add(
            &mut lock,
            Locked {
                name,
                version,
                extras: Vec::new(),
                sha256: files.values().cloned().collect(),
                files,
                internal,
                file: file.clone(),
                line: p.line,
            },
        );
    }
    Ok(lock)
}

/// The finding for a package that would have to be built from source.
pub fn sdist_refused(name: &str, version: &Version, file: &Path) -> Finding {
    Finding::error(Kind::SourceBuild, format!("{name}=={version}"), file)
        .msg("is only available here as an sdist, and building an sdist runs its setup code")
        .hint(format!(
            "lock a wheel for this platform, or, after reviewing its source, allow it in lockgate.toml: [pip.build] allow-sdist = [\"{name}\"]"
        ))
}

/// Adds what another lock file says.
pub fn merge(into: &mut Lock, part: Lock) {
    into.findings.extend(part.findings);
    into.overridden.extend(part.overridden);
    into.files.extend(part.files);
    for p in part.packages {
        add(into, p);
    }
}

/// Adds a package, merging a repeated name as pip does: the same pin merges extras and keeps the
/// hashes both allow; another pin is a finding.
fn add(lock: &mut Lock, p: Locked) {
    match lock.packages.iter_mut().find(|q| q.name == p.name) {
        Some(q) if q.version == p.version => {
            for e in &p.extras {
                if !q.extras.contains(e) {
                    q.extras.push(e.clone());
                }
            }
            q.sha256.retain(|h| p.sha256.contains(h));
            if q.sha256.is_empty() {
                let (qid, qfile, qline) = (q.id(), q.file.display().to_string(), q.line);
                lock.findings.push(at(
                    Finding::error(Kind::MissingHash, p.id(), &p.file)
                        .msg(format!("has no hash in common with {qid} at {qfile}:{qline}, so no file can satisfy both"))
                        .hint(HASH_HINT),
                    p.line,
                ));
            }
        }
        Some(q) => {
            let (qid, qfile, qline) = (q.id(), q.file.display().to_string(), q.line);
            lock.findings.push(at(
                Finding::error(Kind::Lockfile, p.id(), &p.file)
                    .msg(format!("conflicts with {qid} at {qfile}:{qline}"))
                    .hint("pin each package once"),
                p.line,
            ));
        }
        None => lock.packages.push(p),
    }
}

fn at(mut f: Finding, line: usize) -> Finding {
    f.line = Some(line);
    f
}

/// What building the sdists needs that no locked wheel provides. `sdists`: (package id, its
/// build requirements); `wheels`: (normalized name, version, `Requires-Dist`) of every locked
/// wheel. pip builds each sdist in an isolated environment that it fills, offline, from the same
/// verified files, so each build requirement and, transitively, each of their dependencies
/// (markers evaluated for `env`, extras followed) must be a locked wheel. Returns, per sdist
/// that cannot be built, the requirements nothing satisfies.
pub fn missing_build_requirements(
    sdists: &[(String, Vec<String>)],
    wheels: &[(String, Version, Vec<String>)],
    env: &MarkerEnv,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (id, requires) in sdists {
        let mut missing = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut queue: Vec<(String, BTreeSet<String>)> = requires
            .iter()
            .map(|r| (r.clone(), BTreeSet::new()))
            .collect();
        while let Some((text, extras)) = queue.pop() {
            let origin = Origin {
                file: PathBuf::from(id),
                line: 0,
            };
            let Ok(r) = requirements::parse_single(&text, origin, false) else {
                missing.insert(text);
                continue;
            };
            let mut e = env.clone();
            e.extras = extras;
            if !r
                .marker
                .as_ref()
                .map_or(Ok(true), |m| m.evaluate(&e))
                .unwrap_or(true)
            {
                continue;
            }
            let (Some(name), Target::Registry(spec)) = (r.normalized_name(), &r.target) else {
                missing.insert(text);
                continue;
            };
            match wheels
                .iter()
                .find(|(n, v, _)| *n == name && spec.contains(v))
            {
                None => {
                    missing.insert(text);
                }
                Some((_, _, deps)) => {
                    let wanted: BTreeSet<String> = r.extras.iter().map(|x| normalize(x)).collect();
                    if seen.insert((name, wanted.clone())) {
                        queue.extend(deps.iter().map(|d| (d.clone(), wanted.clone())));
                    }
                }
            }
        }
        if !missing.is_empty() {
            out.push((id.clone(), missing.into_iter().collect()));
        }
    }
    out
}

/// A file chosen for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub filename: String,
    pub url: String,
    /// The digest the file must have.
    pub sha256: String,
    pub sdist: bool,
    /// `Requires-Python` as the index gave it.
    pub requires_python: Option<String>,
    /// The index marks the file yanked, with this reason (possibly empty).
    pub yanked: Option<String>,
}

/// What an index listing offers for a locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The file(s) to fetch: one, or every usable locked file when tags are unknown.
    Files(Vec<Pick>),
    /// The index does not list the locked version at all.
    NotListed,
    /// The index lists the version, but none of its files has a locked hash.
    Mismatch(Vec<FileEntry>),
    /// Locked files exist, but none can be installed here.
    NoneFits {
        /// Only an sdist fits, and the policy does not allow it.
        sdist_refused: bool,
        files: Vec<String>,
    },
    /// The index gives no hashes and the lock several: lockgate cannot tell which file is which.
    Ambiguous(Vec<String>),
}

/// Picks what to fetch for `p` from the files an index lists. `tags` are the interpreter's
/// (None: pip targets another platform, so every locked file is offered and pip chooses).
pub fn choose(
    p: &Locked,
    listed: &[FileEntry],
    tags: Option<&SupportedTags>,
    python: &Version,
    allow_sdist: bool,
) -> Choice {
    let of_version: Vec<&FileEntry> = listed
        .iter()
        .filter(|f| {
            DistName::parse(&f.filename).is_ok_and(|d| {
                normalize(d.name()) == p.name
                    && Version::parse(d.version()).is_ok_and(|v| v == p.version)
            })
        })
        .filter(|f| p.files.is_empty() || p.files.contains_key(&f.filename))
        .collect();
    if of_version.is_empty() {
        return Choice::NotListed;
    }
    let mut picks = Vec::new();
    let mut mismatched = Vec::new();
    let mut unknown = Vec::new();
    for f in &of_version {
        let expected = match &f.sha256 {
            Some(h) if p.sha256.contains(h) => h.clone(),
            Some(_) => {
                mismatched.push((*f).clone());
                continue;
            }
            None => match (p.files.get(&f.filename), p.sha256.as_slice()) {
                (Some(h), _) => h.clone(),
                (None, [only]) => only.clone(),
                (None, _) => {
                    unknown.push(f.filename.clone());
                    continue;
                }
            },
        };
        // pip ignores a Requires-Python it cannot parse; so does lockgate.
        if !f.supports_python(python).unwrap_or(true) {
            continue;
        }
        picks.push(Pick {
            sdist: matches!(DistName::parse(&f.filename), Ok(DistName::Sdist(_))),
            filename: f.filename.clone(),
            url: f.url.clone(),
            sha256: expected,
            yanked: f.yanked.clone(),
            requires_python: f.requires_python.clone(),
        });
    }
    if picks.is_empty() {
        return match (unknown.is_empty(), mismatched.is_empty()) {
            (false, _) => Choice::Ambiguous(unknown),
            (true, false) => Choice::Mismatch(mismatched),
            (true, true) => Choice::NoneFits {
                sdist_refused: false,
                files: of_version.iter().map(|f| f.filename.clone()).collect(),
            },
        };
    }
    let chosen: Vec<Pick> = match tags {
        Some(tags) => best_file(&picks, |p| &p.filename, tags, allow_sdist)
            .into_iter()
            .cloned()
            .collect(),
        None => picks
            .iter()
            .filter(|p| allow_sdist || !p.sdist)
            .cloned()
            .collect(),
    };
    if chosen.is_empty() {
        let any_wheel_fits =
            tags.is_some_and(|t| best_file(&picks, |p| &p.filename, t, false).is_some());
        return Choice::NoneFits {
            sdist_refused: !allow_sdist && !any_wheel_fits && picks.iter().any(|p| p.sdist),
            files: picks.into_iter().map(|p| p.filename).collect(),
        };
    }
    Choice::Files(chosen)
}

#[cfg(test)]
mod tests {
    use super::super::markers::{sample_env, sample_interpreter};
    use super::super::requirements;
    use super::*;

    const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    const H3: &str = "3333333333333333333333333333333333333333333333333333333333333333";

    fn req_set(text: &str) -> RequirementSet {
        let mut set = RequirementSet::default();
        for line in
            requirements::parse(text, Path::new("requirements.txt"), false, &|_| None).unwrap()
        {
            match line {
                requirements::Line::Requirement(r) => set.requirements.push(r),
                requirements::Line::Option(o) => set.options.push(o),
                requirements::Line::Include { .. } => panic!("no includes here"),
            }
        }
        set
    }

    fn lock_of(text: &str, markers: Markers) -> Lock {
        from_requirements(&req_set(text), markers, &["myorg-".into()])
    }

    #[test]
    fn uv_export_project_line_names_no_emit_project() {
        let text = format!("# uv export --format requirements-txt\n-e .\nanyio==4.0.0 \\\n    --hash=sha256:{H1}\n");
        let lock = lock_of(&text, Markers::All);
        assert_eq!(lock.findings.len(), 1, "{:?}", lock.findings);
        assert_eq!(lock.findings[0].kind, Kind::NonRegistry);
        assert!(
            lock.findings[0]
                .hint
                .contains("uv export --no-emit-project"),
            "{}",
            lock.findings[0].hint
        );
    }

    #[test]
    fn pip_compile_output_becomes_locked_packages() {
        let env = sample_env();
        let text = format!(
            "--index-url https://ci:secret@pypi.corp.example/simple/\n\
             --extra-index-url https://pypi.org/simple/\n\
             Requests[socks]==2.31.0 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\n\
             myorg_payments.client==1.2.3 --hash=sha256:{H3}\n\
             tomli==2.0.1 ; python_version < \"3.11\" --hash=sha256:{H1}\n"
        );
        let lock = lock_of(&text, Markers::For(&env));
        assert!(lock.findings.is_empty(), "{:?}", lock.findings);
        let names: Vec<String> = lock.packages.iter().map(Locked::id).collect();
        assert_eq!(
            names,
            ["requests==2.31.0", "myorg-payments-client==1.2.3"],
            "tomli's marker is false on 3.11"
        );
        assert_eq!(lock.packages[0].sha256, [H1, H2]);
        assert!(!lock.packages[0].internal && lock.packages[1].internal);
        assert_eq!(
            lock.packages[0].requirement_line(H2),
            format!("requests[socks]==2.31.0 --hash=sha256:{H2}")
        );
        let overridden: Vec<String> = lock
            .overridden
            .iter()
            .map(|(o, at)| format!("{o} ({at})"))
            .collect();
        assert_eq!(
            overridden,
            [
                "--index-url https://pypi.corp.example/simple/ (requirements.txt:1)",
                "--extra-index-url https://pypi.org/simple/ (requirements.txt:2)"
            ],
            "credentials are never shown"
        );
        // `lockgate check` sees every entry, whatever the interpreter.
        assert_eq!(lock_of(&text, Markers::All).packages.len(), 3);
    }

    #[test]
    fn unverifiable_entries_are_findings_naming_the_line() {
        let text = format!(
            "flask>=2\nrequests==2.31.0\nnumpy==1.26.4 --hash=sha512:{H1}{H1}\n\
             git+https://github.com/o/r@v1#egg=r\n-e ./local\nhttps://x.example/a-1.0-py3-none-any.whl\n\
             ok==1.0 --hash=sha256:{H1}\n"
        );
        let lock = lock_of(&text, Markers::All);
        let got: Vec<(Kind, usize, &str)> = lock
            .findings
            .iter()
            .map(|f| (f.kind, f.line.unwrap(), f.package.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Lockfile, 1, "flask"),
                (Kind::MissingHash, 2, "requests==2.31.0"),
                (Kind::MissingHash, 3, "numpy==1.26.4"),
                (Kind::NonRegistry, 4, "r"),
                (Kind::NonRegistry, 5, "./local"),
                (Kind::NonRegistry, 6, "a"),
            ]
        );
        assert!(lock.findings.iter().all(|f| f.exit_code() == 21));
        assert_eq!(lock.packages.len(), 1);
    }

    #[test]
    fn repeated_names_merge_or_conflict_and_constraints_apply() {
        let lock = lock_of(
            &format!("a==1.0 --hash=sha256:{H1} --hash=sha256:{H2}\nA[x]==1.0.0 --hash=sha256:{H1}\na==2.0 --hash=sha256:{H3}\n"),
            Markers::All,
        );
        assert_eq!(lock.packages.len(), 1);
        assert_eq!(
            lock.packages[0].sha256,
            [H1],
            "pip accepts only hashes every line allows"
        );
        assert_eq!(lock.packages[0].extras, ["x"]);
        assert_eq!(lock.findings.len(), 1);
        assert!(
            lock.findings[0]
                .message
                .contains("conflicts with a==1.0 at requirements.txt:1"),
            "{}",
            lock.findings[0]
        );

        let mut set = req_set(&format!("a==1.0 --hash=sha256:{H1}\na<1.0\n"));
        set.requirements[1].constraint = true;
        let lock = from_requirements(&set, Markers::All, &[]);
        assert!(
            lock.findings[0]
                .message
                .contains("excluded by the constraint `a<1.0`"),
            "{:?}",
            lock.findings
        );
    }

    fn pylock(text: &str) -> PyLock {
        PyLock::parse(text, Path::new("pylock.toml")).unwrap()
    }

    #[test]
    fn pylock_packages_and_their_findings() {
        let text = format!(
            r#"lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "attrs"
version = "23.2.0"
index = "https://pypi.org/simple"
wheels = [{{ url = "https://files.pythonhosted.org/packages/attrs-23.2.0-py3-none-any.whl", hashes = {{ sha256 = "{H1}" }} }}]

[[packages]]
name = "myorg-core"
version = "2.0.1"
index = "https://pypi.org/simple"
wheels = [{{ url = "https://files.pythonhosted.org/packages/myorg_core-2.0.1-py3-none-any.whl", hashes = {{ sha256 = "{H2}" }} }}]

[[packages]]
name = "myorg-auth"
version = "1.0.0"
index = "https://pypi.corp.example/simple/"
wheels = [{{ url = "https://pypi.corp.example/packages/myorg_auth-1.0.0-py3-none-any.whl", hashes = {{ sha256 = "{H3}" }} }}]

[[packages]]
name = "legacy"
version = "0.1"
sdist = {{ url = "https://files.pythonhosted.org/packages/legacy-0.1.tar.gz", hashes = {{ sha256 = "{H3}" }} }}

[[packages]]
name = "tool"
vcs = {{ type = "git", url = "https://github.com/o/tool", commit-id = "abc" }}
"#
        );
        let internal = Url::parse("https://pypi.corp.example/simple/").unwrap();
        let lock = from_pylock(
            &pylock(&text),
            Markers::All,
            &["myorg-".into()],
            Some(&internal),
            &[],
        )
        .unwrap();
        let ids: Vec<String> = lock.packages.iter().map(Locked::id).collect();
        assert_eq!(ids, ["attrs==23.2.0", "myorg-auth==1.0.0"]);
        assert_eq!(
            lock.packages[1].files["myorg_auth-1.0.0-py3-none-any.whl"],
            H3
        );
        let got: Vec<(Kind, &str)> = lock
            .findings
            .iter()
            .map(|f| (f.kind, f.package.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Confusion, "myorg-core"),
                (Kind::SourceBuild, "legacy==0.1"),
                (Kind::NonRegistry, "tool")
            ]
        );
        assert!(
            lock.findings[0]
                .message
                .contains("https://files.pythonhosted.org, https://pypi.org"),
            "{}",
            lock.findings[0]
        );
        let allowed =
            from_pylock(&pylock(&text), Markers::All, &[], None, &["Legacy".into()]).unwrap();
        assert!(allowed.packages.iter().any(|p| p.name == "legacy"));
    }

    fn entry(filename: &str, sha256: Option<&str>) -> FileEntry {
        FileEntry {
            filename: filename.into(),
            url: format!("https://pypi.example/packages/{filename}"),
            sha256: sha256.map(str::to_string),
            requires_python: None,
            yanked: None,
            core_metadata: None,
            upload_time: None,
        }
    }

    fn locked(name: &str, version: &str, sha256: &[&str]) -> Locked {
        Locked {
            name: name.into(),
            version: Version::parse(version).unwrap(),
            extras: vec![],
            sha256: sha256.iter().map(|s| s.to_string()).collect(),
            files: BTreeMap::new(),
            internal: false,
            file: "requirements.txt".into(),
            line: 1,
        }
    }

    fn pick_names(c: Choice) -> Vec<String> {
        match c {
            Choice::Files(f) => f.into_iter().map(|p| p.filename).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chooses_the_locked_file_that_fits_the_interpreter() {
        let tags = SupportedTags::new(&sample_interpreter().tags);
        let py = Version::parse("3.11.7").unwrap();
        let listed = [
            entry(
                "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                Some(H1),
            ),
            entry("numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl", Some(H2)),
            entry("numpy-1.26.4.tar.gz", Some(H3)),
            entry(
                "numpy-1.26.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                Some(H3),
            ),
        ];
        let p = locked("numpy", "1.26.4", &[H1, H2, H3]);
        assert_eq!(
            pick_names(choose(&p, &listed, Some(&tags), &py, false)),
            ["numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]
        );
        // Another platform's lock: only the mac wheel and the sdist are locked.
        let mac = locked("numpy", "1.26.4", &[H2, H3]);
        assert_eq!(
            choose(&mac, &listed, Some(&tags), &py, false),
            Choice::NoneFits {
                sdist_refused: true,
                files: vec![
                    "numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl".into(),
                    "numpy-1.26.4.tar.gz".into()
                ]
            }
        );
        assert_eq!(
            pick_names(choose(&mac, &listed, Some(&tags), &py, true)),
            ["numpy-1.26.4.tar.gz"]
        );
        // Cross-platform (pip download --platform …): every locked wheel, pip picks.
        assert_eq!(
            choose(&p, &listed, None, &py, false),
            Choice::Files(vec![
                Pick {
                    filename: listed[0].filename.clone(),
                    url: listed[0].url.clone(),
                    sha256: H1.into(),
                    sdist: false,
                    yanked: None,
                    requires_python: listed[0].requires_python.clone(),
                },
                Pick {
                    filename: listed[1].filename.clone(),
                    url: listed[1].url.clone(),
                    sha256: H2.into(),
                    sdist: false,
                    yanked: None,
                    requires_python: listed[1].requires_python.clone(),
                },
            ])
        );
    }

    #[test]
    fn tampered_missing_and_ambiguous_listings() {
        let tags = SupportedTags::new(&sample_interpreter().tags);
        let py = Version::parse("3.11.7").unwrap();
        let p = locked("myorg-core", "2.0.1", &[H1]);
        let tampered = [entry("myorg_core-2.0.1-py3-none-any.whl", Some(H2))];
        assert_eq!(
            choose(&p, &tampered, Some(&tags), &py, false),
            Choice::Mismatch(tampered.to_vec())
        );
        let other_version = [entry("myorg_core-99.0.0-py3-none-any.whl", Some(H1))];
        assert_eq!(
            choose(&p, &other_version, Some(&tags), &py, false),
            Choice::NotListed
        );
        // No hash on the index: one locked hash says what the file must be; several cannot.
        let unhashed = [entry("myorg_core-2.0.1-py3-none-any.whl", None)];
        assert_eq!(
            pick_names(choose(&p, &unhashed, Some(&tags), &py, false)),
            ["myorg_core-2.0.1-py3-none-any.whl"]
        );
        let two = locked("myorg-core", "2.0.1", &[H1, H2]);
        assert!(matches!(
            choose(&two, &unhashed, Some(&tags), &py, false),
            Choice::Ambiguous(_)
        ));
        // 2.0.1 and 2.0.1.0 are the same version.
        let spelled = [entry("myorg_core-2.0.1.0-py3-none-any.whl", Some(H1))];
        assert_eq!(
            pick_names(choose(&p, &spelled, Some(&tags), &py, false)).len(),
            1
        );
    }

    #[test]
    fn requires_python_and_yanked_files() {
        let tags = SupportedTags::new(&sample_interpreter().tags);
        let py = Version::parse("3.11.7").unwrap();
        let mut old = entry("a-1.0-py3-none-any.whl", Some(H1));
        old.requires_python = Some("<3.8".into());
        assert!(matches!(
            choose(&locked("a", "1.0", &[H1]), &[old], Some(&tags), &py, false),
            Choice::NoneFits {
                sdist_refused: false,
                ..
            }
        ));
        let mut yanked = entry("a-1.0-py3-none-any.whl", Some(H1));
        yanked.yanked = Some("broken".into());
        match choose(
            &locked("a", "1.0", &[H1]),
            &[yanked],
            Some(&tags),
            &py,
            false,
        ) {
            Choice::Files(f) => assert_eq!(
                f[0].yanked.as_deref(),
                Some("broken"),
                "a pin may install a yanked file, as pip does"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn internal_prefixes_pick_the_index() {
        let s = Sources {
            public: Url::parse("https://pypi.org/simple/").unwrap(),
            internal: Some((
                Url::parse("https://pypi.corp.example/simple/").unwrap(),
                vec!["myorg-".into()],
            )),
        };
        assert_eq!(
            s.index_for("myorg_payments").0.host_str(),
            Some("pypi.corp.example")
        );
        assert!(s.index_for("MyOrg.Payments").1);
        assert_eq!(s.index_for("requests"), (&s.public, false));
    }

    #[test]
    fn build_requirements_must_be_locked_wheels_transitively() {
        let env = sample_env();
        let v = |s: &str| Version::parse(s).unwrap();
        // Real metadata: wheel 0.48 needs packaging; setuptools' test extra is not needed.
        let setuptools_deps = vec![
            "pytest!=8.1.*,>=6; extra == \"test\"".to_string(),
            "tomli>=2.0.1; python_version < \"3.11\" and extra == \"core\"".to_string(),
        ];
        let wheels = vec![
            ("setuptools".to_string(), v("84.2.1"), setuptools_deps),
            (
                "wheel".to_string(),
                v("0.48.0"),
                vec!["packaging >= 24.0".to_string()],
            ),
        ];
        let sdists = vec![(
            "legacy==1.0".to_string(),
            vec!["setuptools>=40.8.0".to_string(), "wheel".to_string()],
        )];
        assert_eq!(
            missing_build_requirements(&sdists, &wheels, &env),
            [(
                "legacy==1.0".to_string(),
                vec!["packaging >= 24.0".to_string()]
            )]
        );
        let mut complete = wheels.clone();
        complete.push(("packaging".to_string(), v("26.4"), vec![]));
        assert!(missing_build_requirements(&sdists, &complete, &env).is_empty());
        // A version the lock does not have, an extra that pulls in more, a marker that excludes.
        let flit = vec![(
            "tomli==2.0.1".to_string(),
            vec![
                "flit_core>=3.2.0,<4".to_string(),
                "setuptools[test]".to_string(),
                "cython; python_version < \"3\"".to_string(),
            ],
        )];
        let mut missing = missing_build_requirements(&flit, &complete, &env);
        missing[0].1.sort();
        assert_eq!(
            missing[0].1,
            [
                "flit_core>=3.2.0,<4",
                "pytest!=8.1.*,>=6; extra == \"test\""
            ]
        );
    }

    #[test]
    fn internal_prefixes_are_normalized() {
        let prefixes = ["myorg_".to_string()];
        assert!(is_internal("MyOrg.Payments", &prefixes));
        assert!(is_internal("myorg-payments", &prefixes));
        assert!(!is_internal("myorgpayments", &prefixes));
        assert!(!is_internal("payments", &prefixes));
    }
}
