//! Requirements files (`requirements.txt`) read the way pip 23.2 reads them: `\` line
//! continuations, `#` comments, `${VAR}` expansion, `-r`/`-c` includes relative to the
//! including file, per-requirement `--hash` options, PEP 508 requirements with extras and
//! markers, URL/path/editable requirements (which lockgate flags as not from a registry), and
//! option lines (`--index-url`, `--find-links`, …) recorded so lockgate can report what it
//! overrides. Every requirement and option keeps its file and line.
//!
//! [`parse`] is pure; [`load`] and [`load_constraints`] follow includes on disk.

use std::fmt;
use std::path::{Path, PathBuf};

use super::markers::Marker;
use super::name;
use super::options::{self, Item, OptSpec};
use super::version::SpecifierSet;

/// Where something was written: the first physical line of a (possibly continued) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

/// `file:line`; just the "file" for line 0 (a requirement from the command line).
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.file.display()),
            line => write!(f, "{}:{line}", self.file.display()),
        }
    }
}

/// A requirements file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read requirements file {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {what}", file.display())]
    File { file: PathBuf, what: String },
    #[error("{}:{line}: {what}", file.display())]
    Line {
        file: PathBuf,
        line: usize,
        what: String,
    },
}

/// One requirement (or constraint) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub origin: Origin,
    /// The requirement as written, without its options.
    pub text: String,
    /// The project name as written; `None` for a URL or path without `#egg=`.
    pub name: Option<String>,
    pub extras: Vec<String>,
    pub target: Target,
    pub marker: Option<Marker>,
    /// `--hash` values, in order.
    pub hashes: Vec<Hash>,
    /// Came from `-e`.
    pub editable: bool,
    /// Came from a `-c` constraints file.
    pub constraint: bool,
}

/// Where a requirement is installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Looked up by name on an index, limited by these specifiers (possibly none).
    Registry(SpecifierSet),
    /// A direct URL (`name @ https://…`, a bare `https://…/x.whl`, `git+https://…`).
    Url(String),
    /// A local directory or archive.
    Path(String),
}

/// A `--hash=algorithm:digest` value; pip accepts sha256, sha384 and sha512.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash {
    pub algorithm: String,
    /// Lower-case hex.
    pub digest: String,
}

impl Requirement {
    /// The normalized project name, if the requirement names one.
    pub fn normalized_name(&self) -> Option<String> {
        self.name.as_deref().map(name::normalize)
    }

    /// The pinned version (`==1.0` or `===1.0`), as `--require-hashes` demands.
    pub fn pinned_version(&self) -> Option<String> {
        match &self.target {
            Target::Registry(specifiers) => specifiers.pinned(),
            Target::Url(_) | Target::Path(_) => None,
        }
    }

    /// The sha256 digests among the hashes.
    pub fn sha256(&self) -> impl Iterator<Item = &str> {
        self.hashes
            .iter()
            .filter(|h| h.algorithm == "sha256")
            .map(|h| h.digest.as_str())
    }
}

/// An option line of a requirements file that lockgate overrides or must know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOption {
    pub origin: Origin,
    pub option: OptionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionKind {
    IndexUrl(String),
    ExtraIndexUrl(String),
    NoIndex,
    FindLinks(String),
    TrustedHost(String),
    NoBinary(String),
    OnlyBinary(String),
    PreferBinary,
    Pre,
    RequireHashes,
    UseFeature(String),
}

/// One logical line of a requirements file, as far as it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Requirement(Requirement),
    Option(FileOption),
    /// `-r path` (`constraint == false`) or `-c path`, the path as written.
    Include {
        origin: Origin,
        path: String,
        constraint: bool,
    },
}

/// Everything a requirements file and the files it includes say.
#[derive(Debug, Default)]
pub struct RequirementSet {
    pub requirements: Vec<Requirement>,
    pub options: Vec<FileOption>,
    /// Every file read, in reading order.
    pub files: Vec<PathBuf>,
}

/// Reads a requirements file (as `-r` would) and everything it includes.
pub fn load(path: &Path) -> Result<RequirementSet, RequirementsError> {
    load_from(path, false)
}

/// Reads a constraints file (as `-c` would) and everything it includes.
pub fn load_constraints(path: &Path) -> Result<RequirementSet, RequirementsError> {
    load_from(path, true)
}

/// How deep `-r`/`-c` includes may nest. pip recurses (`_parse_and_recurse`) until Python's
/// recursion limit stops it with a crash; no real project comes near this.
pub const MAX_INCLUDE_DEPTH: usize = 64;

/// One file being read: its remaining lines.
struct Frame {
    path: PathBuf,
    canonical: PathBuf,
    lines: std::vec::IntoIter<Line>,
}

/// Reads `path` and its includes depth first, in pip's order, with an explicit stack (no
/// recursion, so a deep include chain is an error, not a crash). The stack's canonical paths
/// refuse include cycles (pip itself would recurse until it crashes).
fn load_from(path: &Path, constraint: bool) -> Result<RequirementSet, RequirementsError> {
    let mut set = RequirementSet::default();
    let mut stack = vec![open_frame(&mut set, path, constraint)?];
    while let Some(top) = stack.last_mut() {
        let Some(line) = top.lines.next() else {
            stack.pop();
            continue;
        };
        match line {
            Line::Requirement(requirement) => set.requirements.push(requirement),
            Line::Option(option) => set.options.push(option),
            Line::Include {
                origin,
                path: included,
                constraint,
            } => {
                let refuse = |what: String| RequirementsError::Line {
                    file: origin.file.clone(),
                    line: origin.line,
                    what,
                };
                if is_url(&included) {
                    return Err(refuse(format!("-r {included}: {REMOTE}")));
                }
                // pip: os.path.join(os.path.dirname(filename), req_path)
                let nested = top.path.parent().unwrap_or(Path::new("")).join(&included);
                if std::fs::canonicalize(&nested)
                    .is_ok_and(|c| stack.iter().any(|f| f.canonical == c))
                {
                    return Err(refuse(format!(
                        "{included} is already being read (an include cycle)"
                    )));
                }
                if stack.len() >= MAX_INCLUDE_DEPTH {
                    return Err(refuse(format!(
                        "-r {included}: includes nest more than {MAX_INCLUDE_DEPTH} files deep; lockgate stops here (pip would crash deeper down)"
                    )));
                }
                let frame = open_frame(&mut set, &nested, constraint)?;
                stack.push(frame);
            }
        }
    }
    Ok(set)
}

fn open_frame(
    set: &mut RequirementSet,
    path: &Path,
    constraint: bool,
) -> Result<Frame, RequirementsError> {
    if is_url(&path.to_string_lossy()) {
        return Err(RequirementsError::File {
            file: path.to_path_buf(),
            what: REMOTE.into(),
        });
    }
    let read_error = |source| RequirementsError::Read {
        file: path.to_path_buf(),
        source,
    };
    let canonical = std::fs::canonicalize(path).map_err(read_error)?;
    let bytes = std::fs::read(path).map_err(read_error)?;
    let text = decode(&bytes).map_err(|what| RequirementsError::File {
        file: path.to_path_buf(),
        what,
    })?;
    set.files.push(path.to_path_buf());
    let lines = parse(&text, path, constraint, &|var| std::env::var(var).ok())?;
    Ok(Frame {
        path: path.to_path_buf(),
        canonical,
        lines: lines.into_iter(),
    })
}

/// The text of a requirements file as pip's `auto_decode` (`pip/_internal/utils/encoding.py`)
/// reads it: a byte-order mark picks the encoding (UTF-8, UTF-16; pip tries them in that order),
/// else a PEP 263 `coding:` comment in the first two lines, else the locale's encoding (UTF-8
/// here). Encodings lockgate does not decode the same way are refused, never guessed.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |data: &[u8], le: bool| -> Result<String, String> {
        if data.len() % 2 != 0 {
            return Err("the file is not valid UTF-16 (odd length)".into());
        }
        let units = data.chunks(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| "the file is not valid UTF-16".to_string())
    };
    let text = if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        String::from_utf8(rest.to_vec()).map_err(|_| "the file is not valid UTF-8".to_string())?
    } else if bytes.starts_with(b"\xff\xfe\x00\x00") || bytes.starts_with(b"\x00\x00\xfe\xff") {
        // pip tests the UTF-16 marks first, so it misreads UTF-32 files; refuse them.
        return Err("the file is UTF-32, which pip misreads as UTF-16; save it as UTF-8".into());
    } else if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        utf16(rest, true)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        utf16(rest, false)?
    } else {
        let declared = bytes
            .split(|b| *b == b'\n')
            .take(2)
            .filter(|l| l.first() == Some(&b'#'))
            .find_map(coding_of);
        match declared.as_deref() {
            None | Some("utf-8" | "utf8" | "utf_8" | "u8" | "ascii" | "us-ascii") => {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    "the file is not valid UTF-8 (pip decodes it with the locale's encoding, UTF-8)"
                        .to_string()
                })?
            }
            Some("latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1") => {
                bytes.iter().map(|b| char::from(*b)).collect()
            }
            Some(other) => {
                return Err(format!(
                    "the file declares `coding: {other}`, an encoding lockgate does not read; save it as UTF-8"
                ))
            }
        }
    };
    if text.contains('\0') {
        return Err("the file contains NUL characters; save it as UTF-8".into());
    }
    Ok(text)
}

/// `coding[:=]\s*([-\w.]+)` (pip's `ENCODING_RE`), lower-cased.
fn coding_of(line: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(line);
    let at = line.find("coding")? + "coding".len();
    let rest = line[at..].strip_prefix([':', '='])?.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!name.is_empty()).then(|| name.to_lowercase())
}

const REMOTE: &str = "lockgate only reads local requirements files, not URLs";

/// Parses the text of one requirements file. `constraint` says whether it was given with
/// `-c`; `env` looks up `${VAR}` references (unset or empty variables stay as written).
pub fn parse(
    text: &str,
    file: &Path,
    constraint: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Line>, RequirementsError> {
    let mut out = Vec::new();
    for (number, line) in logical_lines(text) {
        let origin = Origin {
            file: file.to_path_buf(),
            line: number,
        };
        let line = expand_env(&line, env);
        out.extend(parse_line(&line, origin, constraint)?);
    }
    Ok(out)
}

/// pip's `join_lines` + `ignore_comments`: (first line number, text) of each non-empty
/// logical line. A line ending in `\` continues on the next unless it is a comment line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let is_comment = |line: &str| line.trim_start().starts_with('#');
    let mut joined = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in split_lines(text).into_iter().enumerate() {
        let number = index + 1;
        if line.ends_with('\\') && !is_comment(line) {
            let (_, buffer) = pending.get_or_insert_with(|| (number, String::new()));
            buffer.push_str(line.trim_matches('\\'));
            continue;
        }
        // A comment line ends a continuation; the leading space keeps it a comment.
        let line = if is_comment(line) {
            format!(" {line}")
        } else {
            line.to_string()
        };
        match pending.take() {
            Some((first, buffer)) => joined.push((first, buffer + &line)),
            None => joined.push((number, line)),
        }
    }
    joined.extend(pending);
    joined
        .into_iter()
        .filter_map(|(number, line)| {
            let line = strip_comment(&line).trim().to_string();
            (!line.is_empty()).then_some((number, line))
        })
        .collect()
}

/// Python's `str.splitlines()`, which pip's `preprocess` uses: besides `\n`, `\r\n` and `\r` it
/// also breaks at `\x0b`, `\x0c`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029. Reading only `\n`
/// would hide a requirement behind a comment (`# x\rmalicious==1`) that pip installs.
fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        out.push(&text[start..at]);
        let mut end = at + c.len_utf8();
        if c == '\r' {
            if let Some((_, '\n')) = chars.peek() {
                chars.next();
                end += 1;
            }
        }
        start = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Removes `#…` where the `#` starts the line or follows whitespace (pip's
/// `(^|\s+)#.*$`), so URL fragments such as `#sha256=` and `#egg=` survive.
fn strip_comment(line: &str) -> &str {
    let mut previous_is_space = true;
    for (at, c) in line.char_indices() {
        if c == '#' && previous_is_space {
            return &line[..at];
        }
        previous_is_space = c.is_whitespace();
    }
    line
}

/// `${NAME}` with NAME of `[A-Z0-9_]+`, replaced when the variable is set and not empty.
fn expand_env(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len =
            after.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
        match name_len {
            Some(len) if len > 0 && after[len..].starts_with('}') => {
                let name = &after[..len];
                match env(name).filter(|value| !value.is_empty()) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&rest[start..start + 3 + len]),
                }
                rest = &after[len + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_line(
    line: &str,
    origin: Origin,
    constraint: bool,
) -> Result<Vec<Line>, RequirementsError> {
    let fail = |what: String| RequirementsError::Line {
        file: origin.file.clone(),
        line: origin.line,
        what,
    };

    // pip's break_args_options: words (split on single spaces) up to the first one starting
    // with '-' are the requirement, the rest are options (shell-split).
    let words: Vec<&str> = line.split(' ').collect();
    let split = words
        .iter()
        .position(|w| w.starts_with('-'))
        .unwrap_or(words.len());
    let requirement_text = words[..split].join(" ").trim().to_string();
    let option_words = shell_split(&words[split..].join(" ")).map_err(|what| fail(what.into()))?;

    let table: Vec<&OptSpec<FileOpt>> = FILE_OPTIONS.iter().collect();
    let parsed = options::parse(&option_words, &table, true);
    if let Some(error) = parsed.error {
        return Err(fail(error.to_string()));
    }
    let opts: Vec<(FileOpt, String)> = parsed
        .items
        .into_iter()
        .filter_map(|item| match item {
            Item::Opt { spec, value } => Some((spec.kind, value.unwrap_or_default())),
            Item::Positional(_) => None, // pip ignores them
        })
        .collect();
    let values = |kind: FileOpt| {
        opts.iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, v)| v.clone())
    };

    if !requirement_text.is_empty() {
        let mut hashes = Vec::new();
        for value in values(FileOpt::Hash) {
            hashes.push(parse_hash(&value).map_err(&fail)?);
        }
        let requirement =
            parse_requirement(&requirement_text, origin.clone(), hashes, false, constraint)
                .map_err(fail)?;
        return Ok(vec![Line::Requirement(requirement)]);
    }
    if let Some(editable) = values(FileOpt::Editable).next() {
        // pip supports one -e per line and no per-requirement options on it.
        let requirement =
            parse_requirement(&editable, origin.clone(), Vec::new(), true, constraint)
                .map_err(fail)?;
        return Ok(vec![Line::Requirement(requirement)]);
    }
    // An include takes the whole line: pip ignores any other option on it.
    if let Some(path) = values(FileOpt::Requirement).next() {
        return Ok(vec![Line::Include {
            origin,
            path,
            constraint: false,
        }]);
    }
    if let Some(path) = values(FileOpt::Constraint).next() {
        return Ok(vec![Line::Include {
            origin,
            path,
            constraint: true,
        }]);
    }
    let lines = opts
        .into_iter()
        .filter_map(|(kind, value)| {
            let option = match kind {
                FileOpt::IndexUrl => OptionKind::IndexUrl(value),
                FileOpt::ExtraIndexUrl => OptionKind::ExtraIndexUrl(value),
                FileOpt::NoIndex => OptionKind::NoIndex,
                FileOpt::FindLinks => OptionKind::FindLinks(value),
                FileOpt::TrustedHost => OptionKind::TrustedHost(value),
                FileOpt::NoBinary => OptionKind::NoBinary(value),
                FileOpt::OnlyBinary => OptionKind::OnlyBinary(value),
                FileOpt::PreferBinary => OptionKind::PreferBinary,
                FileOpt::Pre => OptionKind::Pre,
                FileOpt::RequireHashes => OptionKind::RequireHashes,
                FileOpt::UseFeature => OptionKind::UseFeature(value),
                // Per-requirement options on a line without a requirement: pip ignores them.
                FileOpt::Hash | FileOpt::GlobalOption | FileOpt::ConfigSettings => return None,
                FileOpt::Requirement | FileOpt::Constraint | FileOpt::Editable => return None,
            };
            Some(Line::Option(FileOption {
                origin: origin.clone(),
                option,
            }))
        })
        .collect();
    Ok(lines)
}

fn parse_hash(value: &str) -> Result<Hash, String> {
    let (algorithm, digest) = value.split_once(':').ok_or_else(|| {
        format!("--hash={value} must be an algorithm and a digest, like --hash=sha256:abcd…")
    })?;
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "--hash algorithm {algorithm:?} is not one of sha256, sha384, sha512"
            ))
        }
    };
    if digest.len() != hex_len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "--hash={value}: a {algorithm} digest is {hex_len} hex digits"
        ));
    }
    Ok(Hash {
        algorithm: algorithm.to_string(),
        digest: digest.to_ascii_lowercase(),
    })
}

/// One requirement given outside a requirements file: a positional argument of `pip install`
/// (`editable` for a `-e` argument), or a `Requires-Dist` / `build-system.requires` entry.
pub fn parse_single(text: &str, origin: Origin, editable: bool) -> Result<Requirement, String> {
    parse_requirement(text, origin, Vec::new(), editable, false)
}

/// A requirement as pip's `install_req_from_line` / `parse_editable` read it.
fn parse_requirement(
    text: &str,
    origin: Origin,
    hashes: Vec<Hash>,
    editable: bool,
    constraint: bool,
) -> Result<Requirement, String> {
    // pip splits off the marker first; after a bare URL it needs "; " (URLs may contain ';').
    let separator = if is_url(text) { "; " } else { ";" };
    let (spec, marker) = match text.split_once(separator) {
        Some((spec, marker)) if !marker.trim().is_empty() => (
            spec.trim(),
            Some(Marker::parse(marker.trim()).map_err(|e| e.to_string())?),
        ),
        Some((spec, _)) => (spec.trim(), None),
        None => (text.trim(), None),
    };
    let direct = |target: Target, extras: Vec<String>| Requirement {
        origin: origin.clone(),
        text: text.to_string(),
        name: direct_name(spec),
        extras,
        target,
        marker: marker.clone(),
        hashes: hashes.clone(),
        editable,
        constraint,
    };
    let (location, extras) = split_extras(spec);
    if is_url(spec) {
        return Ok(direct(Target::Url(spec.to_string()), Vec::new()));
    }
    if editable {
        // pip: a local project directory (or a file: URL), possibly with [extras].
        return Ok(direct(Target::Path(location.to_string()), extras));
    }
    // pip's `_get_url_from_path`: a path-like requirement is a path only if that directory
    // exists (else it is a requirement by name: `boto33!=0/`, a legacy specifier with a slash);
    // an archive name is a path unless it reads as `name @ URL`. The one filesystem question
    // the parser asks, as pip does, relative to the working directory.
    let pep508_url = spec
        .split_once('@')
        .is_some_and(|(before, _)| !looks_like_path(before));
    let directory = looks_like_path(spec) && Path::new(location).is_dir();
    if directory || (is_archive(location) && (!pep508_url || Path::new(location).is_file())) {
        return Ok(direct(Target::Path(location.to_string()), extras));
    }

    let pep508 = parse_pep508(spec)?;
    Ok(Requirement {
        origin,
        text: text.to_string(),
        name: Some(pep508.name),
        extras: pep508.extras,
        target: pep508.target,
        marker,
        hashes,
        editable,
        constraint,
    })
}

struct Pep508 {
    name: String,
    extras: Vec<String>,
    target: Target,
}

/// `name [extras] (versionspec | @ url)` — the marker is already split off.
fn parse_pep508(spec: &str) -> Result<Pep508, String> {
    let name_len = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(spec.len());
    let name = &spec[..name_len];
    if !name::is_valid(name) {
        return Err(format!(
            "invalid requirement {spec:?}: expected a project name at the start"
        ));
    }
    let mut rest = spec[name_len..].trim_start();
    let mut extras = Vec::new();
    if let Some(after) = rest.strip_prefix('[') {
        let (list, after) = after
            .split_once(']')
            .ok_or_else(|| format!("invalid requirement {spec:?}: missing `]`"))?;
        for extra in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !name::is_valid(extra) {
                return Err(format!(
                    "invalid requirement {spec:?}: {extra:?} is not a valid extra name"
                ));
            }
            extras.push(extra.to_string());
        }
        rest = after.trim_start();
    }
    let target = if let Some(url) = rest.strip_prefix('@') {
        let url = url.trim();
        if url.is_empty() || url.contains(char::is_whitespace) || !url.contains(':') {
            return Err(format!(
                "invalid requirement {spec:?}: expected a URL after `@`"
            ));
        }
        Target::Url(url.to_string())
    } else {
        let versions = match rest.strip_prefix('(') {
            Some(inner) => inner
                .strip_suffix(')')
                .ok_or_else(|| format!("invalid requirement {spec:?}: missing `)`"))?,
            None => rest,
        };
        let specifiers = SpecifierSet::parse(versions)
            .map_err(|e| format!("invalid requirement {spec:?}: {e}"))?;
        Target::Registry(specifiers)
    };
    Ok(Pep508 {
        name: name.to_string(),
        extras,
        target,
    })
}

/// `path[extra1,extra2]` → (`path`, extras), as pip's `_strip_extras`.
fn split_extras(spec: &str) -> (&str, Vec<String>) {
    if let Some(open) = spec.strip_suffix(']').and_then(|s| s.rfind('[')) {
        if open > 0 {
            let extras = spec[open + 1..spec.len() - 1]
                .split(',')
                .map(|e| e.trim().to_string())
                .collect();
            return (&spec[..open], extras);
        }
    }
    (spec, Vec::new())
}

/// The project name of a direct reference: a `#egg=name` fragment, else the name of the
/// wheel file the URL or path points to.
fn direct_name(location: &str) -> Option<String> {
    let (path, fragment) = location.split_once('#').unwrap_or((location, ""));
    let candidate = match fragment
        .split('&')
        .find_map(|part| part.strip_prefix("egg="))
    {
        Some(egg) => egg.split('[').next()?,
        None => path
            .rsplit('/')
            .next()?
            .strip_suffix(".whl")?
            .split('-')
            .next()?,
    };
    name::is_valid(candidate).then(|| candidate.to_string())
}

/// pip's `is_url`: a scheme it can fetch from (http, https, file, ftp or a VCS).
fn is_url(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let vcs = ["git", "hg", "svn", "bzr"];
    matches!(scheme.as_str(), "http" | "https" | "file" | "ftp")
        || vcs.contains(&scheme.as_str())
        || scheme
            .split_once('+')
            .is_some_and(|(vcs_name, _)| vcs.contains(&vcs_name))
}

fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.starts_with('.')
}

fn is_archive(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        ".whl",
        ".zip",
        ".tar.gz",
        ".tgz",
        ".tar",
        ".tar.bz2",
        ".tbz",
        ".tar.xz",
        ".txz",
        ".tlz",
        ".tar.lz",
        ".tar.lzma",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

/// Python's `shlex.split` (POSIX mode, no comments), which pip applies to option words.
fn shell_split(text: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => words.extend(word.take()),
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation in the options"),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("no closing quotation in the options"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("no closing quotation in the options"),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("no escaped character after `\\` in the options"),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// What lockgate does with an option inside a requirements file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileOpt {
    IndexUrl,
    ExtraIndexUrl,
    NoIndex,
    Constraint,
    Requirement,
    Editable,
    FindLinks,
    NoBinary,
    OnlyBinary,
    PreferBinary,
    RequireHashes,
    Pre,
    TrustedHost,
    UseFeature,
    GlobalOption,
    Hash,
    ConfigSettings,
}

const fn file_opt(
    longs: &'static [&'static str],
    short: Option<char>,
    takes_value: bool,
    kind: FileOpt,
) -> OptSpec<FileOpt> {
    OptSpec {
        longs,
        short,
        takes_value,
        kind,
    }
}

/// The options pip 23.2 accepts in requirements files (`req_file.SUPPORTED_OPTIONS` and
/// `SUPPORTED_OPTIONS_REQ`).
const FILE_OPTIONS: &[OptSpec<FileOpt>] = &[
    file_opt(
        &["index-url", "pypi-url"],
        Some('i'),
        true,
        FileOpt::IndexUrl,
    ),
    file_opt(&["extra-index-url"], None, true, FileOpt::ExtraIndexUrl),
    file_opt(&["no-index"], None, false, FileOpt::NoIndex),
    file_opt(&["constraint"], Some('c'), true, FileOpt::Constraint),
    file_opt(&["requirement"], Some('r'), true, FileOpt::Requirement),
    file_opt(&["editable"], Some('e'), true, FileOpt::Editable),
    file_opt(&["find-links"], Some('f'), true, FileOpt::FindLinks),
    file_opt(&["no-binary"], None, true, FileOpt::NoBinary),
    file_opt(&["only-binary"], None, true, FileOpt::OnlyBinary),
    file_opt(&["prefer-binary"], None, false, FileOpt::PreferBinary),
    file_opt(&["require-hashes"], None, false, FileOpt::RequireHashes),
    file_opt(&["pre"], None, false, FileOpt::Pre),
    file_opt(&["trusted-host"], None, true, FileOpt::TrustedHost),
    file_opt(&["use-feature"], None, true, FileOpt::UseFeature),
    file_opt(&["global-option"], None, true, FileOpt::GlobalOption),
    file_opt(&["hash"], None, true, FileOpt::Hash),
    file_opt(
        &["config-settings"],
        Some('C'),
        true,
        FileOpt::ConfigSettings,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    const CERTIFI_1: &str = "0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f";
    const CERTIFI_2: &str = "dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1";
    const REQUESTS_1: &str = "58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f";
    const REQUESTS_2: &str = "942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1";

    /// Shape of `pip-compile --generate-hashes` output, with an index line and a marker.
    const PIP_COMPILE: &str = r#"#
# This file is autogenerated by pip-compile with Python 3.11
# by the following command:
#
#    pip-compile --generate-hashes requirements.in
#
--index-url https://pypi.corp.example/simple
--extra-index-url https://pypi.org/simple

certifi==2024.2.2 \
    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \
    --hash=sha256:DC383C07B76109F368F6106EEE2B593B04A011EA4D55F652C6CA24A754D1CDD1
    # via requests
Requests[socks,Security]==2.31.0 ; python_version >= "3.7" \
    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f \
    --hash=sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1
    # via -r requirements.in
pywin32==306 ; sys_platform == "win32"  # only on Windows
"#;

    fn parse_str(text: &str) -> Result<Vec<Line>, RequirementsError> {
        parse(text, Path::new("requirements.txt"), false, &|_| None)
    }

    fn requirements(text: &str) -> Vec<Requirement> {
        parse_str(text)
            .unwrap()
            .into_iter()
            .filter_map(|line| match line {
                Line::Requirement(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn one(text: &str) -> Requirement {
        let mut all = requirements(text);
        assert_eq!(all.len(), 1, "{text}");
        all.remove(0)
    }

    fn error(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn pip_compile_output() {
        let lines = parse_str(PIP_COMPILE).unwrap();
        let options: Vec<&FileOption> = lines
            .iter()
            .filter_map(|l| match l {
                Line::Option(o) => Some(o),
                _ => None,
            })
            .collect();
        assert_eq!(
            options[0].option,
            OptionKind::IndexUrl("https://pypi.corp.example/simple".into())
        );
        assert_eq!(options[0].origin.to_string(), "requirements.txt:7");
        assert_eq!(
            options[1].option,
            OptionKind::ExtraIndexUrl("https://pypi.org/simple".into())
        );

        let reqs = requirements(PIP_COMPILE);
        assert_eq!(reqs.len(), 3);
        let certifi = &reqs[0];
        assert_eq!(certifi.origin.line, 10);
        assert_eq!(certifi.pinned_version().as_deref(), Some("2024.2.2"));
        assert_eq!(
            certifi.sha256().collect::<Vec<_>>(),
            [CERTIFI_1, CERTIFI_2],
            "digests are lower-cased"
        );

        let requests = &reqs[1];
        assert_eq!(requests.origin.line, 14);
        assert_eq!(requests.name.as_deref(), Some("Requests"));
        assert_eq!(requests.normalized_name().as_deref(), Some("requests"));
        assert_eq!(requests.extras, ["socks", "Security"]);
        assert_eq!(
            requests.marker.as_ref().unwrap().to_string(),
            r#"python_version >= "3.7""#
        );
        assert_eq!(
            requests.sha256().collect::<Vec<_>>(),
            [REQUESTS_1, REQUESTS_2]
        );

        let pywin32 = &reqs[2];
        assert_eq!(pywin32.origin.line, 18);
        assert!(pywin32.hashes.is_empty());
        assert_eq!(
            pywin32.marker.as_ref().unwrap().to_string(),
            r#"sys_platform == "win32""#
        );
    }

    #[test]
    fn version_forms() {
        assert_eq!(
            one("name===1.0-weird").pinned_version().as_deref(),
            Some("1.0-weird")
        );
        assert_eq!(one("name == 1.0").pinned_version().as_deref(), Some("1.0"));
        assert_eq!(one("name (==1.0)").pinned_version().as_deref(), Some("1.0"));
        assert_eq!(one("name>=1.0,<2").pinned_version(), None);
        assert_eq!(one("name==1.*").pinned_version(), None);
        let bare = one("zope.interface");
        assert_eq!(bare.target, Target::Registry(SpecifierSet::default()));
        assert_eq!(bare.normalized_name().as_deref(), Some("zope-interface"));
        assert!(error("name=1.0").contains("invalid requirement"));
        assert!(error("name==1.0 extra").contains("requirements.txt:1: invalid requirement"));
    }

    #[test]
    fn direct_references_are_not_registry() {
        let r = one("pip @ https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686");
        assert_eq!(r.name.as_deref(), Some("pip"));
        assert_eq!(
            r.target,
            Target::Url("https://github.com/pypa/pip/archive/1.3.1.zip#sha1=da9234ee9982d4bbb3c72346a6de940a148ea686".into())
        );
        let r = one("myorg-lib[extra] @ git+https://git.corp/lib.git@v1.2 ; python_version >= '3'");
        assert_eq!(
            r.target,
            Target::Url("git+https://git.corp/lib.git@v1.2".into())
        );
        assert_eq!(r.extras, ["extra"]);
        assert!(r.marker.is_some());
        let r =
            one("https://files.example/pkgs/Foo_Bar-1.0-py3-none-any.whl; sys_platform == 'linux'");
        assert_eq!(r.name.as_deref(), Some("Foo_Bar"));
        assert!(matches!(r.target, Target::Url(_)) && r.marker.is_some());
        let r = one("https://h/x/wheel_pkg-2.0-py3-none-any.whl#sha256=abc");
        assert_eq!(r.name.as_deref(), Some("wheel_pkg"));
        let r = one("git+https://github.com/org/repo.git@abc#egg=repo-name");
        assert_eq!(r.name.as_deref(), Some("repo-name"));
        let r = one("./vendor/foo-1.0.tar.gz");
        assert_eq!(
            (r.target, r.name),
            (Target::Path("./vendor/foo-1.0.tar.gz".into()), None)
        );
        let r = one("foo-1.0-py3-none-any.whl");
        assert_eq!(r.target, Target::Path("foo-1.0-py3-none-any.whl".into()));
        assert_eq!(r.name.as_deref(), Some("foo"));
        // A directory (this crate's `src`, the tests' working directory) with extras.
        assert_eq!(one("./src[tests]").extras, ["tests"]);
        // Path-like text that names no directory is a requirement by name, as pip reads it:
        // pip 23.2 takes `boto33!=0/` (a legacy specifier holding a slash) from the index;
        // lockgate, which reads PEP 440 specifiers only, refuses it rather than skip it as a path.
        assert!(error("boto33!=0/").contains("boto33"));
    }

    #[test]
    fn single_requirements_from_the_command_line() {
        let origin = Origin {
            file: PathBuf::from("command line"),
            line: 0,
        };
        let r = parse_single(
            "Requests[socks]>=2.31; python_version > '3.7'",
            origin.clone(),
            false,
        )
        .unwrap();
        assert_eq!(r.normalized_name().as_deref(), Some("requests"));
        assert_eq!(r.extras, ["socks"]);
        assert!(r.marker.is_some() && r.pinned_version().is_none());
        assert!(matches!(
            parse_single("./src", origin.clone(), false).unwrap().target,
            Target::Path(_)
        ));
        assert!(parse_single("./no-such-dir", origin.clone(), false).is_err());
        assert!(matches!(
            parse_single(".", origin.clone(), true).unwrap().target,
            Target::Path(_)
        ));
        let url =
            parse_single("git+https://github.com/o/r@v1#egg=r", origin.clone(), false).unwrap();
        assert!(matches!(url.target, Target::Url(_)));
        assert!(parse_single("-bad", origin, false).is_err());
    }

    #[test]
    fn editables() {
        let r = one("-e .");
        assert!(r.editable);
        assert_eq!(r.target, Target::Path(".".into()));
        let r = one("--editable=git+https://github.com/org/repo.git#egg=repo");
        assert!(r.editable);
        assert_eq!(
            r.target,
            Target::Url("git+https://github.com/org/repo.git#egg=repo".into())
        );
        assert_eq!(r.name.as_deref(), Some("repo"));
        let r = one("-e ./libs/core[dev]");
        assert_eq!(
            (r.target, r.extras),
            (Target::Path("./libs/core".into()), vec!["dev".to_string()])
        );
    }

    #[test]
    fn option_lines_are_recorded() {
        let text = "-i https://a/simple\n--pypi-url=https://b/simple\n--extra-index https://pypi.org/simple\n\
                    --no-index\n-f ./wheels\n--find-links https://x/links\n--trusted-host evil.example\n\
                    --no-binary :all:\n--only-binary=numpy\n--prefer-binary\n--pre\n--require-hashes\n\
                    --use-feature=truststore\n--hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f\n";
        let options: Vec<OptionKind> = parse_str(text)
            .unwrap()
            .into_iter()
            .map(|l| match l {
                Line::Option(o) => o.option,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            options,
            [
                OptionKind::IndexUrl("https://a/simple".into()),
                OptionKind::IndexUrl("https://b/simple".into()),
                OptionKind::ExtraIndexUrl("https://pypi.org/simple".into()),
                OptionKind::NoIndex,
                OptionKind::FindLinks("./wheels".into()),
                OptionKind::FindLinks("https://x/links".into()),
                OptionKind::TrustedHost("evil.example".into()),
                OptionKind::NoBinary(":all:".into()),
                OptionKind::OnlyBinary("numpy".into()),
                OptionKind::PreferBinary,
                OptionKind::Pre,
                OptionKind::RequireHashes,
                OptionKind::UseFeature("truststore".into()),
            ]
        );
        // Two options on one line both count, as in pip.
        assert_eq!(parse_str("--no-index --find-links ./w").unwrap().len(), 2);
        // Index options after a requirement on the same line are ignored by pip.
        let lines = parse_str("foo==1.0 --index-url https://evil/simple").unwrap();
        assert!(matches!(lines.as_slice(), [Line::Requirement(_)]));
    }

    #[test]
    fn includes_keep_origin_and_kind() {
        let lines =
            parse_str("-r base.txt\n-rdev.txt --index-url https://ignored/\n-c constraints.txt\n")
                .unwrap();
        let includes: Vec<(usize, String, bool)> = lines
            .into_iter()
            .map(|l| match l {
                Line::Include {
                    origin,
                    path,
                    constraint,
                } => (origin.line, path, constraint),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            includes,
            [
                (1, "base.txt".into(), false),
                (2, "dev.txt".into(), false),
                (3, "constraints.txt".into(), true)
            ]
        );
    }

    #[test]
    fn continuations_and_comments_follow_pip() {
        // A comment line ends a continuation; '#' inside a word is not a comment.
        let r =
            one("foo @ https://h/foo-1.0.tar.gz#egg=foo \\\n  ; python_version > '3' # trailing");
        assert_eq!(
            r.target,
            Target::Url("https://h/foo-1.0.tar.gz#egg=foo".into())
        );
        assert!(r.marker.is_some());
        let lines = parse_str("foo==1.0 \\\n# comment \\\n    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f").unwrap();
        match lines.as_slice() {
            [Line::Requirement(r)] => assert!(
                r.hashes.is_empty(),
                "the hash line after the comment is separate"
            ),
            other => panic!("{other:?}"),
        }
        // Trailing backslash on the last line, and CRLF line ends.
        assert_eq!(one("bar==2.0 \\").pinned_version().as_deref(), Some("2.0"));
        assert_eq!(requirements("a==1\r\nb==2\r\n").len(), 2);
        assert!(requirements("   \n# only comments\n\t\n").is_empty());
    }

    #[test]
    fn environment_variables() {
        let env = |name: &str| match name {
            "INDEX" => Some("https://corp/simple".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let lines = parse(
            "--index-url ${INDEX}\nfoo==${EMPTY}1.0 --hash=sha256:${UNSET}\n$INDEX",
            Path::new("r.txt"),
            false,
            &env,
        );
        let err = lines.unwrap_err().to_string();
        assert!(err.starts_with("r.txt:2:"), "{err}");
        let lines = parse("--index-url ${INDEX}\n", Path::new("r.txt"), false, &env).unwrap();
        assert!(
            matches!(&lines[0], Line::Option(FileOption { option: OptionKind::IndexUrl(u), .. }) if u == "https://corp/simple")
        );
        assert_eq!(
            expand_env("a${EMPTY}b${lower}c${UNSET}d${", &env),
            "a${EMPTY}b${lower}c${UNSET}d${"
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        assert_eq!(
            error("ok==1\nfoo==1.0 --hash=md5:d41d8cd98f00b204e9800998ecf8427e"),
            "requirements.txt:2: --hash algorithm \"md5\" is not one of sha256, sha384, sha512"
        );
        assert!(error("foo==1.0 --hash=sha256:abc").contains("64 hex digits"));
        assert!(error("foo==1.0 --hash sha256").contains("must be an algorithm and a digest"));
        assert_eq!(
            error("--bogus"),
            "requirements.txt:1: no such option: --bogus"
        );
        assert!(error("--index-url 'unterminated").contains("no closing quotation"));
        assert!(error("foo==1.0 ; python_version >> '3'").contains("invalid marker"));
        assert!(error("foo[bar").contains("missing `]`"));
        assert!(error("foo @ ").contains("expected a URL"));
    }

    #[test]
    fn shell_split_like_python() {
        assert_eq!(
            shell_split(r#"a"b c"d 'e\f' "g\"h\i" j\ k '' "#).unwrap(),
            ["ab cd", r"e\f", r#"g"h\i"#, "j k", ""]
        );
        assert!(shell_split("x\\").is_err());
    }

    #[test]
    fn loader_follows_includes_relative_to_the_including_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("req");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            dir.path().join("requirements.txt"),
            "-r req/base.txt\n-c req/constraints.txt\napp==1.0\n",
        )
        .unwrap();
        std::fs::write(
            sub.join("base.txt"),
            "--extra-index-url https://pypi.org/simple\nbase==2.0\n-r more.txt\n",
        )
        .unwrap();
        std::fs::write(sub.join("more.txt"), "more==3.0\n").unwrap();
        std::fs::write(sub.join("constraints.txt"), "pinned==4.0\n-r more.txt\n").unwrap();

        let set = load(&dir.path().join("requirements.txt")).unwrap();
        let summary: Vec<(String, bool, String)> = set
            .requirements
            .iter()
            .map(|r| {
                let file = r
                    .origin
                    .file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                (
                    r.text.clone(),
                    r.constraint,
                    format!("{file}:{}", r.origin.line),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("base==2.0".into(), false, "base.txt:2".into()),
                ("more==3.0".into(), false, "more.txt:1".into()),
                ("pinned==4.0".into(), true, "constraints.txt:1".into()),
                // pip: a -r inside a constraints file reads requirements, not constraints.
                ("more==3.0".into(), false, "more.txt:1".into()),
                ("app==1.0".into(), false, "requirements.txt:3".into()),
            ]
        );
        assert_eq!(set.options.len(), 1);
        assert_eq!(set.files.len(), 5);
        assert!(
            load_constraints(&sub.join("more.txt"))
                .unwrap()
                .requirements[0]
                .constraint
        );
    }

    #[test]
    fn loader_refuses_cycles_missing_files_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "x==1\n-r b.txt\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "\n\n-r ./a.txt\n").unwrap();
        let err = load(&dir.path().join("a.txt")).unwrap_err().to_string();
        assert!(
            err.ends_with("b.txt:3: ./a.txt is already being read (an include cycle)"),
            "{err}"
        );

        std::fs::write(dir.path().join("c.txt"), "-r missing.txt\n").unwrap();
        let err = load(&dir.path().join("c.txt")).unwrap_err();
        assert!(
            matches!(&err, RequirementsError::Read { file, .. } if file.ends_with("missing.txt")),
            "{err}"
        );

        std::fs::write(
            dir.path().join("d.txt"),
            "x==1\n-r https://evil.example/r.txt\n",
        )
        .unwrap();
        let err = load(&dir.path().join("d.txt")).unwrap_err().to_string();
        assert!(err.ends_with("d.txt:2: -r https://evil.example/r.txt: lockgate only reads local requirements files, not URLs"), "{err}");
        let err = load(Path::new("https://evil.example/r.txt"))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("not URLs"), "{err}");
    }

    #[test]
    fn deep_include_chains_are_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        // 8000 files deep (the issue's case); far beyond the limit, read without recursion.
        for i in 0..8000 {
            std::fs::write(
                dir.path().join(format!("r{i}.txt")),
                format!("-r r{}.txt\n", i + 1),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("r8000.txt"), "x==1\n").unwrap();
        let err = load(&dir.path().join("r0.txt")).unwrap_err().to_string();
        assert!(err.contains("nest more than 64 files deep"), "{err}");
        // within the limit, every file is read in pip's order
        let set = load(&dir.path().join("r7950.txt")).unwrap();
        assert_eq!(set.files.len(), 51);
        assert_eq!(set.requirements.len(), 1);
    }

    #[test]
    fn decodes_as_pip_auto_decode_does() {
        assert_eq!(decode(b"\xef\xbb\xbfx==1\n").unwrap(), "x==1\n");
        let le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("x==1\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&le).unwrap(), "x==1\n");
        let be: Vec<u8> = [0xfe, 0xff]
            .into_iter()
            .chain("x==1\n".encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        assert_eq!(decode(&be).unwrap(), "x==1\n");
        assert_eq!(
            decode(b"# -*- coding: latin-1 -*-\nx==1 # caf\xe9\n").unwrap(),
            "# -*- coding: latin-1 -*-\nx==1 # caf\u{e9}\n"
        );
        assert!(decode(b"# coding: shift_jis\nx==1\n")
            .unwrap_err()
            .contains("shift_jis"));
        assert!(decode(b"x==1 # caf\xe9\n").is_err());
        assert!(decode(&[0xff, 0xfe, 0, 0, b'x', 0, 0, 0])
            .unwrap_err()
            .contains("UTF-32"));
    }

    #[test]
    fn lines_break_where_python_splitlines_breaks() {
        // pip sees `evil==1` on its own line after the comment; reading only \n would not.
        let lines = logical_lines("# pinned\revil==1\u{2028}ok==2\r\nlast==3");
        let texts: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(texts, ["evil==1", "ok==2", "last==3"]);
        assert_eq!(lines[0].0, 2);
        assert_eq!(lines[2].0, 4);
    }
}
