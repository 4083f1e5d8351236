//! npm lockfiles (`package-lock.json` v1/v2/v3 and `npm-shrinkwrap.json`) as a flat entry list.
//!
//! v2/v3 `packages` entries are keyed by install path (`node_modules/a/node_modules/@s/b`); v1's
//! nested `dependencies` tree is flattened to the same paths. Aliases (`"x": "npm:real@1.0.0"`)
//! keep both the install name and the real package name; links, workspace folders and bundled
//! dependencies are marked so the planner can skip them. Pure: text in, entries out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Where an entry's bytes come from, as written in the lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// No `resolved` (npm's `omit-lockfile-registry-resolved`, or an old lockfile).
    Absent,
    /// An http(s) URL: a registry tarball or a plain remote tarball; the planner decides.
    Url(String),
    /// git+ssh://, git+https://, github:user/repo, …
    Git(String),
    /// file: path (directory or tarball).
    File(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Install path: `node_modules/a/node_modules/b`; workspace folders are `packages/x`.
    pub path: String,
    /// The real package name (an alias's target).
    pub name: String,
    /// The name it is installed under, when different (an `npm:` alias).
    pub alias: Option<String>,
    pub version: String,
    pub resolved: Resolved,
    pub integrity: Option<String>,
    /// A symlink (workspace or `file:` directory) or a workspace folder: nothing to fetch.
    pub local: bool,
    /// Shipped inside its parent's tarball: nothing to fetch.
    pub in_bundle: bool,
    pub dev: bool,
    pub optional: bool,
    pub has_install_script: bool,
    pub os: Vec<String>,
    pub cpu: Vec<String>,
    pub libc: Vec<String>,
    /// Manifest fields the gate repeats in synthesized packuments (dependencies, bin, engines…).
    pub manifest: Map<String, Value>,
    /// 1-based line where the entry starts in the lockfile (for messages and SARIF).
    pub line: Option<usize>,
}

impl Entry {
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
    pub fn scope(&self) -> Option<&str> {
        scope_of(&self.name)
    }
}

/// `@scope` of a scoped name.
pub fn scope_of(name: &str) -> Option<&str> {
    name.strip_prefix('@')?;
    name.split_once('/').map(|(s, _)| s)
}

#[derive(Debug, Clone)]
pub struct Lockfile {
    pub path: PathBuf,
    /// `lockfileVersion` as written (1 when absent); npm picks the section by shape, not by it.
    #[allow(dead_code)]
    pub version: u32,
    /// The entries come from `packages` (npm 7+'s format) rather than the v1 `dependencies` tree.
    pub packages: bool,
    pub entries: Vec<Entry>,
    /// For v2/v3: the dependency specs recorded for the root and each workspace folder
    /// (`""`, `packages/a`), by dependency type, to detect a lockfile out of sync with package.json.
    pub recorded_specs: BTreeMap<String, DepSpecs>,
}

/// dependencies / devDependencies / optionalDependencies / peerDependencies of one manifest.
pub type DepSpecs = BTreeMap<&'static str, BTreeMap<String, String>>;

pub const DEP_TYPES: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// Fields copied from a lockfile entry into the synthesized manifest.
const MANIFEST_FIELDS: [&str; 9] = [
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "engines",
    "os",
    "cpu",
    "license",
];

/// The text of a JSON file as npm reads it: UTF-8, one leading byte-order mark dropped
/// (`json-parse-even-better-errors` and `parse-conflict-json`'s `stripBOM`). npm reads files as
/// UTF-8 only, so a UTF-16 lockfile fails to parse in npm too; lockgate refuses it (21).
pub fn decode_json_text(bytes: Vec<u8>, path: &Path) -> Result<String> {
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::lockfile(
            path,
            "the file is not UTF-8 text (npm reads JSON files as UTF-8 only)",
            "save it as UTF-8",
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Reads a lockfile the way npm 7+ does (`@npmcli/arborist/lib/shrinkwrap.js`, `load()`): the
/// entries come from `packages` whenever it is present, whatever `lockfileVersion` says, and from
/// the v1 `dependencies` tree only when there is no `packages` (`if (data.dependencies &&
/// !data.packages)`). Shapes npm's reader treats in ways lockgate cannot follow exactly (an
/// unknown `lockfileVersion`, a `packages` that is not an object or has no root entry, an entry
/// that is not an object) are refused (21), never read as a subset.
pub fn parse(text: &str, path: &Path) -> Result<Lockfile> {
    let bad = |msg: String| {
        Error::lockfile(
            path,
            msg,
            "regenerate it with `npm install --package-lock-only` (through lockgate) and commit it",
        )
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: Value = serde_json::from_str(text)
        .map_err(|e| bad(format!("the lockfile is not valid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| bad("the lockfile is not a JSON object".into()))?;
    // npm ignores the number when it picks the section to read, so lockgate accepts only the
    // versions npm has written (and none at all, as npm 3/4 shrinkwraps have) and then reads by
    // shape like npm does.
    let version = match obj.get("lockfileVersion") {
        None => 1,
        Some(Value::Number(n)) if matches!(n.as_u64(), Some(1..=3)) => {
            n.as_u64().unwrap_or(1) as u32
        }
        Some(v) => {
            return Err(bad(format!(
                "lockfileVersion {v} is not one npm writes (1, 2 and 3 are); npm would read this file by its shape, so lockgate cannot be sure it audits what npm installs"
            )))
        }
    };
    let mut lock = Lockfile {
        path: path.to_path_buf(),
        version,
        packages: false,
        entries: Vec::new(),
        recorded_specs: BTreeMap::new(),
    };
    match obj.get("packages") {
        // JavaScript falsiness: npm treats these as "no packages section".
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::Object(packages)) => {
            // npm 11 loads a map without a root entry (the root then comes from package.json
            // alone); so does lockgate, checking package.json against the entries themselves.
            lock.packages = true;
            lock.recorded_specs
                .insert(String::new(), dep_specs(&Map::new()));
            for (key, v) in packages {
                let p = v
                    .as_object()
                    .ok_or_else(|| bad(format!("entry \"{key}\" is not an object")))?;
                if !key.contains("node_modules/") {
                    lock.recorded_specs.insert(key.clone(), dep_specs(p));
                    if !key.is_empty() {
                        lock.entries.push(workspace_entry(key, p));
                    }
                    continue;
                }
                lock.entries.push(v2_entry(key, p));
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "`packages` is {}, not an object; npm's reader does not load it as a lockfile",
                json_kind(other)
            )))
        }
    }
    if !lock.packages {
        match obj.get("dependencies") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Object(deps)) => {
                walk_v1(deps, "", &mut lock.entries).map_err(bad)?;
                // Two links to one folder put its dependencies at one location; npm keeps the
                // last one written (`this.data.packages[location] = meta`).
                let mut seen = std::collections::BTreeSet::new();
                let mut kept: Vec<Entry> = Vec::new();
                for e in std::mem::take(&mut lock.entries).into_iter().rev() {
                    if seen.insert(e.path.clone()) {
                        kept.push(e);
                    }
                }
                kept.reverse();
                lock.entries = kept;
            }
            Some(other) => {
                return Err(bad(format!(
                    "`dependencies` is {}, not an object",
                    json_kind(other)
                )))
            }
        }
    }
    let lines = entry_lines(text);
    for e in &mut lock.entries {
        e.line = lines.get(&e.path).copied();
    }
    Ok(lock)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The 1-based line where each entry's object starts, by install path: v2/v3 `packages` keys, and
/// v1's nested `dependencies` flattened to `node_modules/a/node_modules/b`. A small scanner over
/// the JSON text (serde_json keeps no positions); `parse` has checked that the text is JSON.
fn entry_lines(text: &str) -> BTreeMap<String, usize> {
    /// One open object or array: the key it sits under and, for objects, the last key read.
    struct Frame {
        key: Option<String>,
        object: bool,
        last_key: Option<String>,
        expect_key: bool,
    }
    let mut out = BTreeMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut line = 1;
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\n' => line += 1,
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => s.extend(chars.next()),
                        c => s.push(c),
                    }
                }
                if let Some(top) = stack.last_mut().filter(|f| f.object && f.expect_key) {
                    top.last_key = Some(s);
                    top.expect_key = false;
                }
            }
            '{' | '[' => {
                let key = stack
                    .last()
                    .filter(|f| f.object)
                    .and_then(|f| f.last_key.clone());
                if ch == '{' {
                    let keys: Vec<&str> = stack
                        .iter()
                        .filter_map(|f| f.key.as_deref())
                        .chain(key.as_deref())
                        .collect();
                    if let Some(path) = install_path(&keys) {
                        out.entry(path).or_insert(line);
                    }
                }
                stack.push(Frame {
                    key,
                    object: ch == '{',
                    last_key: None,
                    expect_key: ch == '{',
                });
            }
            '}' | ']' => {
                stack.pop();
            }
            ',' => {
                if let Some(top) = stack.last_mut().filter(|f| f.object) {
                    top.expect_key = true;
                }
            }
            _ => {}
        }
    }
    out
}

/// `["packages", "node_modules/a"]` → `node_modules/a`; `["dependencies", "a", "dependencies",
/// "b"]` → `node_modules/a/node_modules/b`; any other object is not an entry.
fn install_path(keys: &[&str]) -> Option<String> {
    match keys {
        ["packages", path] if !path.is_empty() => Some(path.to_string()),
        ["dependencies", ..]
            if keys.len() % 2 == 0 && keys.iter().step_by(2).all(|k| *k == "dependencies") =>
        {
            let names: Vec<String> = keys
                .iter()
                .skip(1)
                .step_by(2)
                .map(|n| format!("node_modules/{n}"))
                .collect();
            Some(names.join("/"))
        }
        _ => None,
    }
}

fn dep_specs(p: &Map<String, Value>) -> DepSpecs {
    DEP_TYPES
        .iter()
        .map(|t| {
            let m = p
                .get(*t)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (*t, m)
        })
        .collect()
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn flag(p: &Map<String, Value>, k: &str) -> bool {
    p.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn install_name(path: &str) -> &str {
    path.rsplit_once("node_modules/").map_or(path, |(_, n)| n)
}

fn classify_resolved(r: Option<&str>) -> Resolved {
    match r {
        None | Some("") => Resolved::Absent,
        Some(s)
            if s.starts_with("git+")
                || s.starts_with("git:")
                || s.starts_with("git@")
                || s.starts_with("github:")
                || s.starts_with("gitlab:")
                || s.starts_with("bitbucket:")
                || s.starts_with("gist:") =>
        {
            Resolved::Git(s.to_string())
        }
        Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
            Resolved::Url(s.to_string())
        }
        Some(s) => Resolved::File(s.trim_start_matches("file:").to_string()),
    }
}

/// An entry of `packages`. Never fails: an entry npm would load but lockgate cannot verify (no
/// version, no integrity) is kept as it is, and the planner turns it into a finding for that entry.
fn v2_entry(key: &str, p: &Map<String, Value>) -> Entry {
    let installed = install_name(key).to_string();
    let name = p.get("name").and_then(Value::as_str).map(str::to_string);
    let link = flag(p, "link");
    let raw_resolved = p.get("resolved").and_then(Value::as_str);
    let resolved = if link {
        // A link's `resolved` is the path of its target folder, relative to the project root.
        Resolved::File(raw_resolved.unwrap_or_default().to_string())
    } else {
        classify_resolved(raw_resolved)
    };
    let (name, alias) = match name {
        Some(real) if real != installed => (real, Some(installed)),
        _ => (installed, None),
    };
    let mut version = p
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if version.is_empty() {
        // arborist's node.js takes a missing version from the tarball name
        // (`@npmcli/arborist/lib/version-from-tgz.js`).
        if let Resolved::Url(u) = &resolved {
            version = version_from_tgz(&name, u).unwrap_or_default();
        }
    }
    Entry {
        path: key.to_string(),
        name,
        alias,
        version,
        integrity: p
            .get("integrity")
            .and_then(Value::as_str)
            .map(str::to_string),
        resolved,
        local: link,
        in_bundle: flag(p, "inBundle"),
        dev: flag(p, "dev"),
        optional: flag(p, "optional") || flag(p, "devOptional"),
        has_install_script: flag(p, "hasInstallScript"),
        os: strs(p.get("os")),
        cpu: strs(p.get("cpu")),
        libc: strs(p.get("libc")),
        manifest: MANIFEST_FIELDS
            .iter()
            .filter_map(|f| p.get(*f).map(|v| (f.to_string(), v.clone())))
            .collect(),
        line: None,
    }
}

/// The version in a tarball URL's file name, as `version-from-tgz.js` finds it: the part after
/// `/-/` of a registry URL, else the basename, must be `{name}-{semver}.tgz`.
pub fn version_from_tgz(name: &str, url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let base = path.rsplit('/').next()?;
    let stem = base.strip_suffix(".tgz")?;
    let project = name.rsplit('/').next().unwrap_or(name);
    let v = stem.strip_prefix(project)?.strip_prefix('-')?;
    super::semver::parse_version(v).map(|_| v.to_string())
}

fn workspace_entry(key: &str, p: &Map<String, Value>) -> Entry {
    Entry {
        path: key.to_string(),
        name: p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(key)
            .to_string(),
        alias: None,
        version: p
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        resolved: Resolved::Absent,
        integrity: None,
        local: true,
        in_bundle: false,
        dev: false,
        optional: false,
        has_install_script: flag(p, "hasInstallScript"),
        os: Vec::new(),
        cpu: Vec::new(),
        libc: Vec::new(),
        manifest: Map::new(),
        line: None,
    }
}

fn walk_v1(
    deps: &Map<String, Value>,
    parent: &str,
    out: &mut Vec<Entry>,
) -> std::result::Result<(), String> {
    for (installed, v) in deps {
        let path = format!("{parent}node_modules/{installed}");
        let d = v
            .as_object()
            .ok_or_else(|| format!("dependency \"{path}\" is not an object"))?;
        let raw_version = d.get("version").and_then(Value::as_str).unwrap_or_default();
        let mut resolved = classify_resolved(d.get("resolved").and_then(Value::as_str));
        let (name, alias, version) = if let Some(spec) = raw_version.strip_prefix("npm:") {
            // "npm:real@1.2.3" (the real name may be scoped: "npm:@s/real@1.2.3")
            match spec.get(1..).and_then(|s| s.find('@')).map(|i| i + 1) {
                Some(at) => (
                    spec[..at].to_string(),
                    Some(installed.clone()),
                    spec[at + 1..].to_string(),
                ),
                None => (spec.to_string(), Some(installed.clone()), String::new()),
            }
        } else {
            match classify_resolved(Some(raw_version)) {
                r @ Resolved::Git(_) => {
                    resolved = r;
                    (installed.clone(), None, raw_version.to_string())
                }
                // A tarball URL as the version (ancient lockfiles): the version comes from the
                // file name, as #metaFromLock does with versionFromTgz; none if it has none.
                Resolved::Url(u) => {
                    let version = version_from_tgz(installed, &u).unwrap_or_default();
                    resolved = Resolved::Url(u);
                    (installed.clone(), None, version)
                }
                Resolved::File(f) if raw_version.starts_with("file:") => {
                    resolved = Resolved::File(f);
                    (installed.clone(), None, raw_version.to_string())
                }
                _ => (installed.clone(), None, raw_version.to_string()),
            }
        };
        // An entry without a version is kept; the planner reports it (npm would have to resolve
        // it at install time, so lockgate cannot verify it).
        let mut manifest = Map::new();
        if let Some(r) = d.get("requires") {
            manifest.insert("dependencies".into(), r.clone());
        }
        out.push(Entry {
            path: path.clone(),
            name,
            alias,
            version,
            integrity: d
                .get("integrity")
                .and_then(Value::as_str)
                .map(str::to_string),
            local: matches!(resolved, Resolved::File(_)) && !raw_version.ends_with(".tgz"),
            resolved,
            in_bundle: flag(d, "bundled"),
            dev: flag(d, "dev"),
            optional: flag(d, "optional"),
            has_install_script: false,
            os: Vec::new(),
            cpu: Vec::new(),
            libc: Vec::new(),
            manifest,
            line: None,
        });
        if let Some(nested) = d.get("dependencies").and_then(Value::as_object) {
            // "dependencies nested under a link are actually under the link target"
            // (shrinkwrap.js #loadAll: `if (meta.link) location = meta.resolved`).
            let under = match &out.last().map(|e| (e.local, &e.resolved)) {
                Some((true, Resolved::File(target))) => normalize_rel(target),
                _ => path.clone(),
            };
            let prefix = if under.is_empty() {
                String::new()
            } else {
                format!("{under}/")
            };
            walk_v1(nested, &prefix, out)?;
        }
    }
    Ok(())
}

/// The refusal for a lockfile without the package.json beside it. npm ci builds its tree from
/// package.json: without one it installs nothing the lockfile lists, and it refuses the lockfile as
/// out of sync when the lockfile's root entry has a version (`Invalid: lock file's app@1.0.0 does
/// not satisfy app@`), so lockgate cannot know what the install is meant to be.
pub fn missing_manifest(path: &Path) -> Error {
    Error::lockfile(
        path,
        "package.json is missing beside the lockfile; npm ci installs only what package.json asks for and refuses this lockfile without it",
        "restore package.json and commit it with the lockfile, or run lockgate in the project directory",
    )
}

/// A relative path as `path.resolve` + `relpath` leave it: no `.` segments, `..` applied.
fn normalize_rel(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

impl Lockfile {
    /// How many packages npm's tree holds for this lockfile (arborist's inventory without the
    /// root): every entry except links, plus each link target that has no entry of its own.
    pub fn node_count(&self) -> usize {
        let is_link = |e: &Entry| e.local && e.path.contains("node_modules/");
        let paths: std::collections::BTreeSet<&str> =
            self.entries.iter().map(|e| e.path.as_str()).collect();
        let targets: std::collections::BTreeSet<String> = self
            .entries
            .iter()
            .filter(|e| is_link(e))
            .filter_map(|e| match &e.resolved {
                Resolved::File(t) => Some(normalize_rel(t)),
                _ => None,
            })
            .filter(|t| !t.is_empty() && !paths.contains(t.as_str()))
            .collect();
        self.entries.iter().filter(|e| !is_link(e)).count() + targets.len()
    }
}

/// Where package.json and the lockfile disagree in a way that makes `npm ci` refuse (npm 7+ lockfiles
/// only; a v1 tree records no specs per manifest). `manifests` maps the lockfile key (`""`,
/// `packages/a`) to the parsed package.json. Empty = in sync.
///
/// npm ci builds the ideal tree from package.json and the lockfile and refuses when a package it
/// needs is missing from the lockfile or locked at another version
/// (`lib/utils/validate-lockfile.js`); an edge whose locked node still satisfies the spec keeps that
/// node (`@npmcli/arborist/lib/dep-valid.js`, `semver.satisfies(version, spec, true)`). So a widened
/// range the locked version still satisfies, or a dependency package.json no longer lists (npm
/// prunes it), is in sync; a spec nothing locked satisfies is not. A spec that is not a semver
/// range (git, file:, tarball URL, tag) must be the one the lockfile recorded.
pub fn out_of_sync(lock: &Lockfile, manifests: &BTreeMap<String, Value>) -> Vec<String> {
    let by_path: BTreeMap<&str, &Entry> =
        lock.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    // A v1 tree records no specs: its root's dependencies are checked against the entries alone.
    let none = dep_specs(&Map::new());
    let mut diffs = Vec::new();
    for (key, manifest) in manifests {
        let where_ = if key.is_empty() {
            "package.json".to_string()
        } else {
            format!("{key}/package.json")
        };
        let recorded = match lock.recorded_specs.get(key) {
            Some(r) => r,
            None if !lock.packages && key.is_empty() => &none,
            None => {
                diffs.push(format!("{where_} is not in the lockfile"));
                continue;
            }
        };
        let Some(m) = manifest.as_object() else {
            continue;
        };
        let mut actual = dep_specs(m);
        // npm moves a name listed in both dependencies and optionalDependencies to the latter;
        // early npm 7 lockfiles recorded it in both, so either record is accepted below.
        let optional: Vec<String> = actual["optionalDependencies"].keys().cloned().collect();
        if let Some(deps) = actual.get_mut("dependencies") {
            deps.retain(|k, _| !optional.contains(k));
        }
        let optional_peer = |name: &str| {
            m.get("peerDependenciesMeta")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("optional"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        for t in DEP_TYPES {
            for (name, spec) in &actual[t] {
                if DEP_TYPES
                    .iter()
                    .any(|rt| recorded[rt].get(name) == Some(spec))
                {
                    continue;
                }
                match resolve_edge(&by_path, key, name) {
                    Some(e) if satisfies(&by_path, e, spec) => {}
                    // v1 records a git/file/tarball dependency only as what it resolved to; npm
                    // re-checks those itself, lockgate checks ranges and presence.
                    Some(_) if !lock.packages && super::semver::parse_range(spec).is_none() => {}
                    Some(e) => diffs.push(format!(
                        "{where_} {t} wants {name}@{spec}, the lockfile has {}",
                        shown_version(&by_path, e)
                    )),
                    None if t == "peerDependencies" && optional_peer(name) => {}
                    None => diffs.push(format!(
                        "{where_} {t} has {name}@{spec}, the lockfile does not"
                    )),
                }
            }
        }
    }
    diffs
}

/// The entry a dependency of the manifest at `key` resolves to: its own `node_modules` first,
/// then the root's (node's lookup, as arborist places workspace dependencies).
fn resolve_edge<'a>(
    by_path: &BTreeMap<&str, &'a Entry>,
    key: &str,
    name: &str,
) -> Option<&'a Entry> {
    let own = if key.is_empty() {
        format!("node_modules/{name}")
    } else {
        format!("{key}/node_modules/{name}")
    };
    by_path
        .get(own.as_str())
        .or_else(|| by_path.get(format!("node_modules/{name}").as_str()))
        .copied()
}

/// A link's version is its target folder's.
fn link_target<'a>(by_path: &BTreeMap<&str, &'a Entry>, e: &'a Entry) -> &'a Entry {
    match &e.resolved {
        Resolved::File(t) if e.local && e.version.is_empty() => {
            by_path.get(t.as_str()).copied().unwrap_or(e)
        }
        _ => e,
    }
}

fn shown_version(by_path: &BTreeMap<&str, &Entry>, e: &Entry) -> String {
    let t = link_target(by_path, e);
    let v = if t.version.is_empty() {
        "no version".to_string()
    } else {
        t.version.clone()
    };
    if e.alias.is_some() {
        format!("{}@{v}", e.name)
    } else {
        v
    }
}

/// Does the locked entry satisfy a package.json spec? Semver ranges and `npm:` aliases only.
fn satisfies(by_path: &BTreeMap<&str, &Entry>, e: &Entry, spec: &str) -> bool {
    let target = link_target(by_path, e);
    // npm reads `npm:` in any letter case (npm-package-arg's isAliasSpec).
    let alias = spec
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("npm:"))
        .map(|_| &spec[4..]);
    let (name, range) = match alias {
        Some(alias) => match alias.get(1..).and_then(|s| s.find('@')).map(|i| i + 1) {
            Some(at) => (&alias[..at], &alias[at + 1..]),
            None => (alias, "*"),
        },
        None if e.alias.is_some() => return false,
        None => (e.name.as_str(), spec),
    };
    name == e.name && super::semver::satisfies(&target.version, range) == Some(true)
}

/// Does an entry's os/cpu/libc list allow this machine? (npm's `os: ["!win32"]` negation included.)
pub fn platform_allows(list: &[String], current: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    if list.iter().any(|v| v.strip_prefix('!') == Some(current)) {
        return false;
    }
    let positives: Vec<&String> = list.iter().filter(|v| !v.starts_with('!')).collect();
    positives.is_empty() || positives.iter().any(|v| *v == current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V3: &str = r#"{
      "name": "proj", "lockfileVersion": 3, "requires": true,
      "packages": {
        "": {"name": "proj", "workspaces": ["packages/*"], "dependencies": {"@myorg/a": "^1.0.0", "safe": "npm:left-pad@1.3.0"}, "devDependencies": {"esbuild": "0.19.0"}},
        "node_modules/@myorg/a": {"version": "1.0.0", "resolved": "https://npm.corp.example/@myorg/a/-/a-1.0.0.tgz", "integrity": "sha512-AAAA", "hasInstallScript": true, "dependencies": {"b": "^2"}},
        "node_modules/@myorg/a/node_modules/b": {"version": "2.0.0", "integrity": "sha512-BBBB"},
        "node_modules/safe": {"name": "left-pad", "version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": "sha512-CCCC"},
        "node_modules/esbuild": {"version": "0.19.0", "dev": true, "hasInstallScript": true, "integrity": "sha512-DDDD", "bin": {"esbuild": "bin/esbuild"}},
        "node_modules/@esbuild/darwin-arm64": {"version": "0.19.0", "optional": true, "os": ["darwin"], "cpu": ["arm64"], "integrity": "sha512-EEEE"},
        "node_modules/pkg-a": {"resolved": "packages/a", "link": true},
        "packages/a": {"name": "pkg-a", "version": "0.0.1", "dependencies": {"b": "^2"}},
        "node_modules/gitdep": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/gitdep.git#abc"},
        "node_modules/bundler/node_modules/inner": {"version": "1.0.0", "inBundle": true}
      }
    }"#;

    #[test]
    fn entry_lines_point_at_each_entry() {
        // npm 11's layout (two-space indent, `packages` then the v2 legacy `dependencies`).
        let text = r#"{
  "name": "app",
  "lockfileVersion": 2,
  "packages": {
    "": {
      "dependencies": {
        "express": "^4.0.0"
      }
    },
    "node_modules/express": {
      "version": "4.0.0",
      "resolved": "https://registry.npmjs.org/express/-/express-4.0.0.tgz",
      "integrity": "sha512-AA==",
      "dependencies": {
        "a\"b": "1"
      }
    },
    "node_modules/express/node_modules/@s/x": {"version": "1.0.0", "integrity": "sha512-AA=="}
  },
  "dependencies": {
    "express": {
      "version": "4.0.0"
    }
  }
}"#;
        let l = parse(text, Path::new("package-lock.json")).unwrap();
        let line = |p: &str| l.entries.iter().find(|e| e.path == p).and_then(|e| e.line);
        assert_eq!(line("node_modules/express"), Some(10));
        assert_eq!(line("node_modules/express/node_modules/@s/x"), Some(18));
        let v1 = "{\n\"lockfileVersion\": 1,\n\"dependencies\": {\n \"a\": {\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n   \"b\": {\"version\": \"2.0.0\"}\n  }\n }\n}\n}";
        let lines = entry_lines(v1);
        assert_eq!(lines.get("node_modules/a"), Some(&4));
        assert_eq!(lines.get("node_modules/a/node_modules/b"), Some(&7));
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn v3_entries() {
        let l = parse(V3, Path::new("package-lock.json")).unwrap();
        assert_eq!(l.version, 3);
        let by = |p: &str| l.entries.iter().find(|e| e.path == p).unwrap();
        let a = by("node_modules/@myorg/a");
        assert_eq!(
            (a.name.as_str(), a.version.as_str(), a.scope()),
            ("@myorg/a", "1.0.0", Some("@myorg"))
        );
        assert!(
            matches!(&a.resolved, Resolved::Url(u) if u.starts_with("https://npm.corp.example/"))
        );
        assert!(a.has_install_script);
        assert_eq!(a.manifest["dependencies"], json!({"b": "^2"}));
        let nested = by("node_modules/@myorg/a/node_modules/b");
        assert_eq!(
            (nested.name.as_str(), &nested.resolved),
            ("b", &Resolved::Absent)
        );
        let alias = by("node_modules/safe");
        assert_eq!(
            (alias.name.as_str(), alias.alias.as_deref()),
            ("left-pad", Some("safe"))
        );
        let es = by("node_modules/@esbuild/darwin-arm64");
        assert!(es.optional && es.os == ["darwin"] && es.cpu == ["arm64"]);
        assert!(by("node_modules/pkg-a").local);
        assert!(by("packages/a").local);
        assert!(matches!(
            by("node_modules/gitdep").resolved,
            Resolved::Git(_)
        ));
        assert!(by("node_modules/bundler/node_modules/inner").in_bundle);
        assert!(by("node_modules/esbuild").dev);
    }

    #[test]
    fn sync_check() {
        let l = parse(V3, Path::new("package-lock.json")).unwrap();
        let mut m = BTreeMap::new();
        m.insert(String::new(), json!({"dependencies": {"@myorg/a": "^1.0.0", "safe": "npm:left-pad@1.3.0"}, "devDependencies": {"esbuild": "0.19.0"}}));
        m.insert("packages/a".into(), json!({"dependencies": {"b": "^2"}}));
        assert!(out_of_sync(&l, &m).is_empty());
        m.insert(
            String::new(),
            json!({"dependencies": {"@myorg/a": "^2.0.0", "left-pad": "1"}}),
        );
        let d = out_of_sync(&l, &m);
        assert!(d.iter().any(|s| s.contains("@myorg/a@^2.0.0")), "{d:?}");
        assert!(d.iter().any(|s| s.contains("left-pad")), "{d:?}");
        assert_eq!(
            d.len(),
            2,
            "a removed dependency is pruned by npm ci, not a difference: {d:?}"
        );
    }

    #[test]
    fn sync_check_follows_npm_range_semantics() {
        let l = parse(V3, Path::new("package-lock.json")).unwrap();
        let mut m = BTreeMap::new();
        // widened range still satisfied by 1.0.0; esbuild removed; alias kept (npm reads `NPM:`
        // as `npm:`); a workspace dependency satisfied through the link to packages/a.
        m.insert(String::new(), json!({"dependencies": {"@myorg/a": ">=1.0.0 <3 || ^4", "safe": "NPM:left-pad@^1.0.0", "pkg-a": "^0.0.1"}}));
        m.insert(
            "packages/a".into(),
            json!({"dependencies": {"@myorg/a": "^1"}}),
        );
        assert!(out_of_sync(&l, &m).is_empty(), "{:?}", out_of_sync(&l, &m));
        // narrowed below what is locked, alias retargeted, a prerelease-only range
        m.insert(String::new(), json!({"dependencies": {"@myorg/a": "~1.1.0", "safe": "npm:right-pad@1.3.0", "pkg-a": "0.0.2"}}));
        let d = out_of_sync(&l, &m);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].contains("the lockfile has 1.0.0"), "{d:?}");
        assert!(d.iter().any(|s| s.contains("left-pad@1.3.0")), "{d:?}");
        // a tag or a git spec that differs from what was recorded is not something lockgate can
        // prove npm would keep
        m.insert(
            String::new(),
            json!({"dependencies": {"@myorg/a": "latest"}}),
        );
        assert_eq!(out_of_sync(&l, &m).len(), 1);
        // optional peers may be absent
        m.insert(String::new(), json!({"peerDependencies": {"react": "^18"}, "peerDependenciesMeta": {"react": {"optional": true}}}));
        assert!(out_of_sync(&l, &m).is_empty());
    }

    #[test]
    fn early_npm7_optional_in_both_lists() {
        let text = r#"{"lockfileVersion": 2, "packages": {"": {"dependencies": {"x": "^2.0.0"}, "optionalDependencies": {"x": "^2.0.0"}},
            "node_modules/x": {"version": "2.1.0", "optional": true, "integrity": "sha512-AA"}}}"#;
        let l = parse(text, Path::new("l")).unwrap();
        let mut m = BTreeMap::new();
        m.insert(
            String::new(),
            json!({"dependencies": {"x": "^2.0.0"}, "optionalDependencies": {"x": "^2.0.0"}}),
        );
        assert!(out_of_sync(&l, &m).is_empty(), "{:?}", out_of_sync(&l, &m));
    }

    #[test]
    fn packages_are_read_whatever_lockfile_version_says() {
        // npm 11 reads `packages` whenever it is there (shrinkwrap.js load()); a v1 tree beside it
        // is ignored, whatever lockfileVersion claims or when it is absent.
        for v in ["", r#""lockfileVersion": 1,"#, r#""lockfileVersion": 2,"#] {
            let text = format!(
                r#"{{{v} "packages": {{"": {{}}, "node_modules/@myorg/x": {{"version": "1.0.0", "resolved": "http://evil.example/x.tgz"}}}},
                "dependencies": {{"@myorg/x": {{"version": "1.0.0", "resolved": "https://npm.corp.example/@myorg/x/-/x-1.0.0.tgz", "integrity": "sha512-AA"}}}}}}"#
            );
            let l = parse(&text, Path::new("l")).unwrap();
            assert!(l.packages);
            assert_eq!(l.entries.len(), 1, "{v}");
            assert_eq!(
                l.entries[0].resolved,
                Resolved::Url("http://evil.example/x.tgz".into()),
                "{v}"
            );
        }
        // no packages: the v1 tree
        let l = parse(
            r#"{"dependencies": {"a": {"version": "1.0.0"}}}"#,
            Path::new("l"),
        )
        .unwrap();
        assert!(!l.packages && l.entries.len() == 1);
        // falsy packages is no packages section, as in JavaScript
        let l = parse(r#"{"lockfileVersion": 3, "packages": null, "dependencies": {"a": {"version": "1.0.0"}}}"#, Path::new("l")).unwrap();
        assert_eq!(l.entries.len(), 1);
    }

    #[test]
    fn shapes_npm_reads_differently_are_refused() {
        for t in [
            r#"{"lockfileVersion": "3", "packages": {"": {}}}"#,
            r#"{"lockfileVersion": -1, "packages": {"": {}}}"#,
            r#"{"lockfileVersion": 4, "packages": {"": {}}}"#,
            r#"{"lockfileVersion": 2.5, "packages": {"": {}}}"#,
            r#"{"lockfileVersion": 3, "packages": []}"#,
            r#"{"lockfileVersion": 3, "packages": "x"}"#,
            r#"{"lockfileVersion": 1, "dependencies": []}"#,
        ] {
            let e = parse(t, Path::new("package-lock.json")).unwrap_err();
            assert_eq!(e.exit_code(), 21, "{t}");
        }
    }

    #[test]
    fn rootless_packages_are_read_and_checked_against_package_json() {
        let l = parse(
            r#"{"lockfileVersion": 3, "packages": {"node_modules/x": {"version": "1.0.0"}}}"#,
            Path::new("l"),
        )
        .unwrap();
        assert_eq!(l.entries.len(), 1);
        let mut m = BTreeMap::new();
        m.insert(String::new(), json!({"dependencies": {"x": "^1.0.0"}}));
        assert!(out_of_sync(&l, &m).is_empty());
        m.insert(
            String::new(),
            json!({"dependencies": {"x": "^1.0.0", "y": "1"}}),
        );
        assert_eq!(out_of_sync(&l, &m).len(), 1);
    }

    #[test]
    fn v1_tarball_versions_come_from_the_file_name() {
        let text = r#"{"dependencies": {"@s/x": {"version": "https://registry.npmjs.org/@s%2fx/-/x-1.2.3.tgz"},
            "y": {"version": "https://example.com/y/archive/master.tgz"}}}"#;
        let l = parse(text, Path::new("l")).unwrap();
        assert_eq!(l.entries[0].version, "1.2.3");
        assert!(matches!(&l.entries[0].resolved, Resolved::Url(u) if u.ends_with("x-1.2.3.tgz")));
        assert_eq!(l.entries[1].version, "");
    }

    #[test]
    fn v1_dependencies_under_a_link_live_under_its_target() {
        // arborist's link-dep-nested fixture: two links to one folder, one nested dependency.
        let text = r#"{"lockfileVersion": 1, "dependencies": {
            "foo": {"version": "file:once", "dependencies": {"wrappy": {"version": "1.0.2"}}},
            "once": {"version": "file:./once", "dependencies": {"wrappy": {"version": "1.0.2"}}}}}"#;
        let l = parse(text, Path::new("l")).unwrap();
        let paths: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "node_modules/foo",
                "node_modules/once",
                "once/node_modules/wrappy"
            ]
        );
        assert_eq!(
            l.node_count(),
            2,
            "the folder `once` and its wrappy, as npm counts them"
        );
    }

    #[test]
    fn bom_and_encoding() {
        let text = "\u{feff}{\"lockfileVersion\": 3, \"packages\": {\"\": {}}}";
        assert!(parse(text, Path::new("l")).is_ok());
        let bytes = text.as_bytes().to_vec();
        assert_eq!(decode_json_text(bytes, Path::new("l")).unwrap(), &text[3..]);
        let utf16: Vec<u8> = "\u{feff}{}"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(
            decode_json_text(utf16, Path::new("l"))
                .unwrap_err()
                .exit_code(),
            21
        );
    }

    #[test]
    fn entries_without_version_are_kept_for_the_planner() {
        let text = r#"{"lockfileVersion": 2, "packages": {"": {},
            "node_modules/abbrev": {"resolved": "https://registry.npmjs.org/abbrev/-/abbrev-1.1.1.tgz", "integrity": "sha512-AA"},
            "node_modules/@s/x": {"resolved": "https://registry.npmjs.org/@s/x/-/x-2.0.0-beta.1.tgz"},
            "node_modules/broken": {},
            "node_modules/ext": {"resolved": "../external", "link": true}}}"#;
        let l = parse(text, Path::new("l")).unwrap();
        let by = |p: &str| l.entries.iter().find(|e| e.path == p).unwrap();
        assert_eq!(by("node_modules/abbrev").version, "1.1.1");
        assert_eq!(by("node_modules/@s/x").version, "2.0.0-beta.1");
        assert_eq!(by("node_modules/broken").version, "");
        let ext = by("node_modules/ext");
        assert!(ext.local);
        assert_eq!(ext.resolved, Resolved::File("../external".into()));
        assert_eq!(
            version_from_tgz("x", "https://github.com/o/x/tarball/v1"),
            None
        );
    }

    #[test]
    fn optional_dependencies_win_over_dependencies_as_npm_records_them() {
        let text = r#"{"lockfileVersion": 3, "packages": {"": {"optionalDependencies": {"x": "^2.0.0"}}}}"#;
        let l = parse(text, Path::new("l")).unwrap();
        let mut m = BTreeMap::new();
        m.insert(
            String::new(),
            json!({"dependencies": {"x": "^2.0.0"}, "optionalDependencies": {"x": "^2.0.0"}}),
        );
        assert!(out_of_sync(&l, &m).is_empty(), "{:?}", out_of_sync(&l, &m));
    }

    #[test]
    fn v1_tree_is_flattened() {
        let text = r#"{"lockfileVersion": 1, "dependencies": {
            "a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz", "integrity": "sha1-AAAA", "requires": {"b": "^1"},
                  "dependencies": {"b": {"version": "1.0.1", "integrity": "sha512-BB"}}},
            "al": {"version": "npm:@scope/real@2.0.0", "integrity": "sha512-CC"},
            "g": {"version": "github:o/g#abc", "from": "github:o/g"},
            "f": {"version": "file:../f"}
        }}"#;
        let l = parse(text, Path::new("l")).unwrap();
        let by = |p: &str| l.entries.iter().find(|e| e.path == p).unwrap();
        assert_eq!(by("node_modules/a/node_modules/b").version, "1.0.1");
        let al = by("node_modules/al");
        assert_eq!(
            (al.name.as_str(), al.version.as_str(), al.alias.as_deref()),
            ("@scope/real", "2.0.0", Some("al"))
        );
        assert!(matches!(by("node_modules/g").resolved, Resolved::Git(_)));
        assert!(matches!(by("node_modules/f").resolved, Resolved::File(_)));
        assert!(by("node_modules/f").local);
        assert_eq!(
            by("node_modules/a").manifest["dependencies"],
            json!({"b": "^1"})
        );
    }

    #[test]
    fn rejects_malformed() {
        for t in [
            "{",
            "[]",
            r#"{"lockfileVersion": 9}"#,
            r#"{"lockfileVersion": 3, "packages": {"node_modules/x": 1}}"#,
        ] {
            let e = parse(t, Path::new("package-lock.json")).unwrap_err();
            assert_eq!(e.exit_code(), 21, "{t}");
        }
    }

    #[test]
    fn platforms() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(platform_allows(&[], "linux"));
        assert!(platform_allows(&v(&["linux", "darwin"]), "linux"));
        assert!(!platform_allows(&v(&["darwin"]), "linux"));
        assert!(!platform_allows(&v(&["!linux"]), "linux"));
        assert!(platform_allows(&v(&["!win32"]), "linux"));
    }
}
