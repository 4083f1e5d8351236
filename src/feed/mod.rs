//! The offline malicious-package feed: OSV `MAL-` records for npm, PyPI and Maven, kept as a
//! compact index beside the verified store and checked on every install-like command.
//!
//! A hash-pinned lockfile proves lockgate got the bytes that were locked — including locked
//! malware. So every plan (npm, pip and Maven, locked and route mode) checks each (name, version)
//! against this index before anything is downloaded ([`refuse_listed`], exit 29), route mode hides
//! listed versions from what the real tool sees ([`hides`], [`npm_packument`],
//! [`maven_metadata`]) and refuses requests for them ([`refuse_request`]), and `lockgate check`
//! reports hits with one SARIF rule per OSV id ([`audit`]). `lockgate feed update` writes the
//! index ([`update`]); `lockgate feed status` shows its age and counts ([`status`]).
//!
//! Index format (`<store>/feed/osv.idx`, written by temp file + rename): a header of
//! `key value` lines ended by an empty line, then one line per (ecosystem, package, record),
//! sorted by `ecosystem \t name`: `ecosystem \t name \t {json}`. Lookups read the file once and
//! binary-search the sorted bytes, so nothing is parsed but the lines of the names asked for.
//! Pass-through commands never load it.

pub mod osv;
pub mod update;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::osv::Range;
use crate::error::{Error, Result};
use crate::finding::{Finding, Kind, Listed};
use crate::gate::Reply;
use crate::report::{self, Reporter};

/// Where the public feed lives: `<url><Ecosystem>/all.zip`.
pub const DEFAULT_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com/";
/// Default `[feed] max-age`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);
const MAGIC: &str = "lockgate-osv-index 1";
const INDEX_FILE: &str = "osv.idx";

/// An ecosystem of the feed, named as OSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Eco {
    Npm,
    PyPI,
    Maven,
}

impl Eco {
    pub const ALL: [Eco; 3] = [Eco::Npm, Eco::PyPI, Eco::Maven];

    /// OSV's ecosystem name (also the archive's directory: `npm/all.zip`).
    pub fn osv_name(self) -> &'static str {
        match self {
            Eco::Npm => "npm",
            Eco::PyPI => "PyPI",
            Eco::Maven => "Maven",
        }
    }

    pub fn from_osv(name: &str) -> Option<Eco> {
        Eco::ALL.into_iter().find(|e| e.osv_name() == name)
    }

    /// The form names are compared in: PEP 503 for PyPI, as written otherwise (npm names and
    /// Maven `groupId:artifactId` are case-sensitive).
    fn key(self, name: &str) -> String {
        match self {
            Eco::PyPI => crate::pip::name::normalize(name),
            Eco::Npm | Eco::Maven => name.to_string(),
        }
    }

    /// The ecosystem's own version order (`None` when a version cannot be read).
    pub fn cmp(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Eco::Npm => semver_cmp(a, b),
            Eco::PyPI => {
                use crate::pip::version::Version;
                Some(Version::parse(a).ok()?.cmp(&Version::parse(b).ok()?))
            }
            Eco::Maven => Some(crate::maven::metadata::compare_versions(a, b)),
        }
    }

    /// Whether a version listed in a record is `version` (`1.0` is `1.0.0` in PEP 440).
    fn same(self, listed: &str, version: &str) -> bool {
        listed == version
            || (self != Eco::Maven && self.cmp(listed, version) == Some(Ordering::Equal))
    }

    /// How messages name a package version in this ecosystem.
    pub fn label(self, name: &str, version: &str) -> String {
        match self {
            Eco::Npm => format!("{name}@{version}"),
            Eco::PyPI => format!("{name}=={version}"),
            Eco::Maven => format!("{name}:{version}"),
        }
    }
}

/// npm's semver order (node-semver `compare`): major.minor.patch numerically, a prerelease before
/// its release, prerelease identifiers compared one by one (numeric ones numerically and before
/// alphanumeric ones, a shorter list first); build metadata ignored. `None` for a non-semver.
pub fn semver_cmp(a: &str, b: &str) -> Option<Ordering> {
    fn parse(v: &str) -> Option<([u64; 3], Vec<&str>)> {
        let v = v.trim().trim_start_matches(['v', '=']);
        let v = v.split('+').next()?;
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, p.split('.').collect()),
            None => (v, Vec::new()),
        };
        let mut nums = core.split('.').map(|p| p.parse::<u64>().ok());
        let out = [nums.next()??, nums.next()??, nums.next()??];
        nums.next().is_none().then_some((out, pre))
    }
    let (ca, pa) = parse(a)?;
    let (cb, pb) = parse(b)?;
    Some(
        ca.cmp(&cb)
            .then_with(|| match (pa.is_empty(), pb.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (x, y) in pa.iter().zip(&pb) {
                        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                            (Ok(m), Ok(n)) => m.cmp(&n),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => x.cmp(y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    pa.len().cmp(&pb.len())
                }
            }),
    )
}

/// What the index keeps of one record for one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
}

impl Entry {
    pub fn affects(&self, eco: Eco, version: &str) -> bool {
        self.versions.iter().any(|v| eco.same(v, version))
            || self
                .ranges
                .iter()
                .any(|r| r.contains(version, &|a, b| eco.cmp(a, b)))
    }

    /// The next step the record allows: the fixed version it names, else any version it does not
    /// list, else none (every version is malicious).
    pub fn fix(&self) -> String {
        if let Some(f) = self.ranges.iter().find_map(Range::fixed) {
            return format!("use version {f} or later (the record's first clean version), review the diff, and commit the lockfile");
        }
        if self.ranges.iter().any(Range::is_everything) {
            return "remove the dependency: every version of this package is listed as malicious; look for how it got into the project".into();
        }
        format!(
            "move to a version the record does not list (it lists {}), review the diff, and commit the lockfile",
            self.versions.join(", ")
        )
    }
}

/// A version found in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub eco: Eco,
    pub name: String,
    pub version: String,
    pub id: String,
    pub summary: String,
    pub published: String,
    pub fix: String,
}

impl Hit {
    fn new(eco: Eco, name: &str, version: &str, e: &Entry) -> Hit {
        Hit {
            eco,
            name: name.to_string(),
            version: version.to_string(),
            id: e.id.clone(),
            summary: e.summary.clone(),
            published: e.published.clone(),
            fix: e.fix(),
        }
    }

    pub fn error(&self) -> Error {
        Error::Malicious(Box::new(crate::error::MaliciousVersion {
            package: self.name.clone(),
            version: self.version.clone(),
            id: self.id.clone(),
            summary: self.summary.clone(),
            published: self.published.clone(),
            fix: self.fix.clone(),
        }))
    }

    fn finding(&self, file: &Path, line: Option<usize>) -> Finding {
        let mut f = Finding::error(Kind::Malicious, self.eco.label(&self.name, &self.version), file)
            .msg(format!(
                "is known malicious: {} \"{}\" (published {}); expected a version no malicious-package record lists, seen one that {} lists; nothing was downloaded",
                self.id,
                self.summary,
                date_of(&self.published),
                self.id
            ))
            .hint(self.fix.clone());
        f.line = line;
        f.listed = Some(Box::new(Listed {
            name: self.name.clone(),
            version: self.version.clone(),
            id: self.id.clone(),
        }));
        f
    }
}

fn date_of(published: &str) -> &str {
    match published.get(..10) {
        Some(d) if !d.is_empty() => d,
        _ => "date unknown",
    }
}

/// Header facts of an index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// Seconds since the Unix epoch when the feed was fetched.
    pub updated: u64,
    /// Where it came from (URL without credentials, or a directory).
    pub source: String,
    /// Records kept, per OSV ecosystem name.
    pub records: Vec<(String, usize)>,
    /// Withdrawn records skipped.
    pub withdrawn: usize,
}

/// Lines per directory block: the directory (in memory) finds the block, one positioned read
/// fetches it (about 5 KiB).
const BLOCK: usize = 32;

/// A loaded index: header and block directory in memory, the body read block by block.
pub struct Index {
    body: Body,
    /// First key of every [`BLOCK`]-th body line and that line's offset in the body.
    dir: Directory,
    /// Which keys may be in the body: most lookups are misses and cost no read at all.
    bloom: Bloom,
    body_len: u64,
    pub meta: Meta,
}

/// Where the sorted lines are: the index file (installs) or memory (tests, just written).
enum Body {
    File {
        file: std::fs::File,
        start: u64,
    },
    #[cfg(test)]
    Mem(Vec<u8>),
}

impl Body {
    fn read(&self, from: u64, to: u64) -> Option<Vec<u8>> {
        match self {
            Body::File { file, start } => {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0; usize::try_from(to - from).ok()?];
                file.read_exact_at(&mut buf, start + from).ok()?;
                Some(buf)
            }
            #[cfg(test)]
            Body::Mem(data) => data.get(from as usize..to as usize).map(<[u8]>::to_vec),
        }
    }
}

impl Index {
    /// Render an index from (ecosystem, package name, entry) triples: header, block directory
    /// (`@<offset> <ecosystem>\t<name>`), an empty line, then the sorted body.
    pub fn render(meta: &Meta, entries: Vec<(Eco, String, Entry)>) -> Vec<u8> {
        let mut lines: Vec<String> = entries
            .into_iter()
            .filter(|(_, name, _)| !name.is_empty() && !name.contains(['\t', '\n', '\r']))
            .map(|(eco, name, mut e)| {
                // Most summaries are OSV's template; it is rebuilt on read (`entries`).
                if e.summary == default_summary(eco, &name) {
                    e.summary.clear();
                }
                format!(
                    "{}\t{}\t{}",
                    eco.osv_name(),
                    eco.key(&name),
                    serde_json::to_string(&e).expect("entries serialize")
                )
            })
            .collect();
        lines.sort_unstable_by(|a, b| {
            line_key(a.as_bytes())
                .cmp(line_key(b.as_bytes()))
                .then(a.cmp(b))
        });
        lines.dedup();
        let mut out = format!(
            "{MAGIC}\nupdated {}\nsource {}\n",
            meta.updated,
            meta.source.replace('\n', " ")
        );
        for (eco, n) in &meta.records {
            out.push_str(&format!("records {eco} {n}\n"));
        }
        out.push_str(&format!("withdrawn {}\n", meta.withdrawn));
        let keys: BTreeSet<&[u8]> = lines.iter().map(|l| line_key(l.as_bytes())).collect();
        let mut bloom = Bloom::with_keys(keys.len());
        for k in keys {
            bloom.insert(k);
        }
        out.push_str(&format!("bloom {}\n", bloom.to_hex()));
        let mut offset = 0;
        for (i, l) in lines.iter().enumerate() {
            if i % BLOCK == 0 {
                let key = String::from_utf8_lossy(line_key(l.as_bytes())).into_owned();
                out.push_str(&format!("@{offset} {key}\n"));
            }
            offset += l.len() + 1;
        }
        out.push('\n');
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Read an index from memory (tests; the file itself goes through [`Index::open`]).
    #[cfg(test)]
    pub fn parse(data: Vec<u8>) -> std::result::Result<Index, String> {
        let mut reader = std::io::Cursor::new(&data);
        let (meta, dir, bloom, start) = read_head(&mut reader)?;
        let body = data.get(start as usize..).unwrap_or_default().to_vec();
        Ok(Index {
            body_len: body.len() as u64,
            body: Body::Mem(body),
            dir,
            bloom,
            meta,
        })
    }

    /// Open an index file: only the header and the directory are read now.
    pub fn open(path: &Path) -> std::result::Result<Index, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, &file);
        let (meta, dir, bloom, start) = read_head(&mut reader)?;
        drop(reader);
        Ok(Index {
            body_len: len.saturating_sub(start),
            body: Body::File { file, start },
            dir,
            bloom,
            meta,
        })
    }

    /// Every entry listed for `name`.
    pub fn entries(&self, eco: Eco, name: &str) -> Vec<Entry> {
        let key = format!("{}\t{}", eco.osv_name(), eco.key(name));
        let key = key.as_bytes();
        if !self.bloom.may_contain(key) {
            return Vec::new();
        }
        // Lines with this key lie after the start of the last block whose first key is below it
        // and before the first block whose first key is above it.
        let lo = self.dir.partition_point(|(k, _)| k.as_slice() < key);
        let hi = self.dir.partition_point(|(k, _)| k.as_slice() <= key);
        let from = lo.checked_sub(1).map_or(0, |i| self.dir[i].1);
        let to = self.dir.get(hi).map_or(self.body_len, |d| d.1);
        let Some(block) = (from < to).then(|| self.body.read(from, to)).flatten() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for line in block.split(|b| *b == b'\n') {
            if line_key(line) != key {
                continue;
            }
            if let Some(mut e) = line
                .get(key.len() + 1..)
                .and_then(|json| serde_json::from_slice::<Entry>(json).ok())
            {
                if e.summary.is_empty() {
                    e.summary = default_summary(eco, &eco.key(name));
                }
                out.push(e);
            }
        }
        out
    }

    /// The first record that lists `name` at `version`.
    pub fn lookup(&self, eco: Eco, name: &str, version: &str) -> Option<Hit> {
        self.entries(eco, name)
            .iter()
            .find(|e| e.affects(eco, version))
            .map(|e| Hit::new(eco, name, version, e))
    }

    /// Age of the feed.
    pub fn age(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.saturating_sub(Duration::from_secs(self.meta.updated))
    }
}

/// First key of a block and its offset in the body.
type Directory = Vec<(Vec<u8>, u64)>;

/// Header, directory and key filter of an index, and the body's offset.
type Head = (Meta, Directory, Bloom, u64);

fn read_head(reader: &mut impl std::io::BufRead) -> std::result::Result<Head, String> {
    let mut meta = Meta::default();
    let mut bloom = None;
    let mut dir = Vec::new();
    let mut consumed = 0u64;
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|_| "the index header is not UTF-8 text")?;
        if n == 0 {
            return Err("the index has no header".into());
        }
        consumed += n as u64;
        let l = line.trim_end_matches('\n');
        if first {
            if l != MAGIC {
                return Err(format!("the index is not a `{MAGIC}` file"));
            }
            first = false;
            continue;
        }
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(' ').unwrap_or((l, ""));
        let bad = |what: &str| format!("bad `{what}` in the index");
        match k {
            "updated" => meta.updated = v.parse().map_err(|_| bad("updated"))?,
            "source" => meta.source = v.to_string(),
            "records" => {
                let (eco, n) = v.split_once(' ').ok_or_else(|| bad("records"))?;
                let n = n.parse().map_err(|_| bad("records"))?;
                meta.records.push((eco.to_string(), n));
            }
            "withdrawn" => meta.withdrawn = v.parse().map_err(|_| bad("withdrawn"))?,
            "bloom" => bloom = Some(Bloom::from_hex(v).ok_or_else(|| bad("bloom"))?),
            _ if k.starts_with('@') => {
                let offset = k[1..].parse().map_err(|_| bad("directory"))?;
                if dir.last().is_some_and(|(_, o)| *o >= offset) {
                    return Err(bad("directory"));
                }
                dir.push((v.as_bytes().to_vec(), offset));
            }
            _ => {}
        }
    }
    let bloom = bloom.ok_or("the index has no key filter")?;
    Ok((meta, dir, bloom, consumed))
}

/// A Bloom filter over the index's keys (10 bits per key, 7 probes: about 1 % false
/// positives), with FNV-1a hashing, which is stable across builds (the filter is stored).
struct Bloom {
    bits: Vec<u8>,
}

impl Bloom {
    const PROBES: u64 = 7;

    fn with_keys(n: usize) -> Bloom {
        Bloom {
            bits: vec![0; (n * 10).div_ceil(8).max(8)],
        }
    }

    fn probes(&self, key: &[u8]) -> impl Iterator<Item = usize> {
        let fnv = |seed: u64| {
            key.iter().fold(seed, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        let (h1, h2) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4) | 1);
        let m = self.bits.len() as u64 * 8;
        (0..Self::PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    fn insert(&mut self, key: &[u8]) {
        for p in self.probes(key).collect::<Vec<_>>() {
            self.bits[p / 8] |= 1 << (p % 8);
        }
    }

    fn may_contain(&self, key: &[u8]) -> bool {
        self.probes(key)
            .all(|p| self.bits[p / 8] & (1 << (p % 8)) != 0)
    }

    fn to_hex(&self) -> String {
        self.bits.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(text: &str) -> Option<Bloom> {
        let t = text.as_bytes();
        if t.is_empty() || t.len() % 2 != 0 {
            return None;
        }
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let bits = t
            .chunks(2)
            .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
            .collect::<Option<Vec<u8>>>()?;
        Some(Bloom { bits })
    }
}

/// The summary OSV's malicious-packages records carry unless a source wrote its own.
fn default_summary(eco: Eco, name: &str) -> String {
    format!("Malicious code in {name} ({})", eco.osv_name())
}

/// `ecosystem \t name` of an index line.
fn line_key(line: &[u8]) -> &[u8] {
    let first = line.iter().position(|b| *b == b'\t');
    match first.and_then(|f| {
        line[f + 1..]
            .iter()
            .position(|b| *b == b'\t')
            .map(|s| f + 1 + s)
    }) {
        Some(second) => &line[..second],
        None => line,
    }
}

/// The index of this machine, or why there is none.
pub enum Loaded {
    Index(Index),
    Missing(String),
}

/// Where the index lives: `feed/` in the verified store's directory.
pub fn index_path() -> Result<PathBuf> {
    Ok(crate::store::Store::from_env()?
        .root()
        .join("feed")
        .join(INDEX_FILE))
}

/// Read the index at `path`. It must not be writable by others (it decides what installs).
pub fn load(path: &Path) -> Loaded {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded::Missing(format!(
                "there is no malicious-package feed at {}",
                path.display()
            ))
        }
        Err(e) => {
            return Loaded::Missing(format!(
                "cannot read the feed index {}: {e}",
                path.display()
            ))
        }
        Ok(m) if m.permissions().mode() & 0o022 != 0 => {
            return Loaded::Missing(format!(
                "the feed index {} is writable by other users, so lockgate does not trust it",
                path.display()
            ))
        }
        Ok(_) => {}
    }
    match Index::open(path) {
        Ok(i) => Loaded::Index(i),
        Err(e) => Loaded::Missing(format!(
            "the feed index {} is unusable: {e}",
            path.display()
        )),
    }
}

/// The process's index, loaded on first use (install-like commands and `check` only).
pub fn global() -> &'static Loaded {
    static GLOBAL: OnceLock<Loaded> = OnceLock::new();
    GLOBAL.get_or_init(|| match index_path() {
        Ok(p) => load(&p),
        Err(e) => Loaded::Missing(e.to_string()),
    })
}

/// The feed section of the policy, as the rest of lockgate reads it.
#[derive(Debug, Clone)]
pub struct FeedPolicy {
    pub url: Option<String>,
    pub max_age: Duration,
    pub require: bool,
    pub also: Vec<String>,
}

impl Default for FeedPolicy {
    fn default() -> Self {
        FeedPolicy {
            url: None,
            max_age: DEFAULT_MAX_AGE,
            require: false,
            also: Vec::new(),
        }
    }
}

/// `7d`, `12h`, `30m`: the policy's one duration grammar ([`crate::cooldown::parse_duration`]).
pub fn parse_age(text: &str) -> std::result::Result<Duration, String> {
    crate::cooldown::parse_duration(text).map(Duration::from_secs)
}

fn human(d: Duration) -> String {
    crate::cooldown::human(d.as_secs())
}

/// No feed, or one older than `max-age`: a warning, an error with `require = true`.
fn freshness(loaded: &Loaded, policy: &FeedPolicy, file: &Path) -> Option<Finding> {
    let problem = match loaded {
        Loaded::Missing(why) => why.clone(),
        Loaded::Index(i) if i.age() > policy.max_age => format!(
            "the malicious-package feed is {} old (max-age {})",
            human(i.age()),
            human(policy.max_age)
        ),
        Loaded::Index(_) => return None,
    };
    let build = if policy.require {
        Finding::error
    } else {
        Finding::warning
    };
    Some(
        build(Kind::Feed, "malicious-package feed", file)
            .msg(format!("{problem}, so locked versions were not checked against fresh OSV `MAL-` records"))
            .hint("run `lockgate feed update` (on a schedule; `[feed] url` may name a mirror, file:// or a directory)"),
    )
}

/// Hits for `entries` (name, version, line in `file`), each once.
fn hits<'a>(
    index: &Index,
    eco: Eco,
    file: &Path,
    entries: impl IntoIterator<Item = (&'a str, &'a str, Option<usize>)>,
) -> Vec<Finding> {
    let mut seen = BTreeSet::new();
    entries
        .into_iter()
        .filter(|(n, v, _)| seen.insert((*n, *v)))
        .filter_map(|(n, v, line)| index.lookup(eco, n, v).map(|h| h.finding(file, line)))
        .collect()
}

/// The check every install plan runs before downloading: one error finding (exit 29) per locked
/// version the feed lists, and an error when the feed is missing or stale and `[feed] require`
/// is set (a warning on stderr otherwise).
pub fn refuse_listed<'a>(
    policy: &FeedPolicy,
    eco: Eco,
    file: &Path,
    entries: impl IntoIterator<Item = (&'a str, &'a str, Option<usize>)>,
) -> Vec<Finding> {
    let loaded = global();
    let mut out = Vec::new();
    if let Some(f) = freshness(loaded, policy, file) {
        if f.is_error() {
            out.push(f);
        } else {
            static WARNED: OnceLock<()> = OnceLock::new();
            if WARNED.set(()).is_ok() {
                eprintln!(
                    "lockgate: warning: {}: {} — {}",
                    f.package, f.message, f.hint
                );
            }
        }
    }
    if let Loaded::Index(i) = loaded {
        out.extend(hits(i, eco, file, entries));
    }
    out
}

/// `lockgate check`: one error finding per entry the feed lists (no freshness remark; see
/// [`check_freshness`]).
pub fn audit<'a>(
    eco: Eco,
    file: &Path,
    entries: impl IntoIterator<Item = (&'a str, &'a str, Option<usize>)>,
) -> Vec<Finding> {
    match global() {
        Loaded::Index(i) => hits(i, eco, file, entries),
        Loaded::Missing(_) => Vec::new(),
    }
}

/// `lockgate check`: a finding when the feed is missing or stale (an error with `require`).
pub fn check_freshness(policy: &FeedPolicy, file: &Path) -> Option<Finding> {
    freshness(global(), policy, file)
}

/// The hit for `name` at `version`, if the feed lists it.
pub fn listed(eco: Eco, name: &str, version: &str) -> Option<Hit> {
    match global() {
        Loaded::Index(i) => i.lookup(eco, name, version),
        Loaded::Missing(_) => None,
    }
}

/// Route mode: whether to hide `version` of `name` from the real tool. Each hidden version is
/// said once on stderr.
pub fn hides(eco: Eco, name: &str, version: &str) -> bool {
    let Some(hit) = listed(eco, name, version) else {
        return false;
    };
    static SAID: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let label = eco.label(name, version);
    if SAID
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .insert(label.clone())
    {
        eprintln!(
            "lockgate: {label} is hidden from resolution: known malicious ({} \"{}\")",
            hit.id, hit.summary
        );
    }
    true
}

/// Route mode: a request for a listed version's file (a pinned version the tool asks for
/// directly). Counted and audited once per version, and returned as the error that decides the
/// exit code.
pub fn refuse_request(eco: Eco, name: &str, version: &str, reporter: &Reporter) -> Option<Error> {
    let hit = listed(eco, name, version)?;
    // One refusal per version and run, however many of its files the tool asks for.
    static COUNTED: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let first = COUNTED
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .insert(eco.label(name, version));
    if !first {
        return Some(hit.error());
    }
    reporter.count(
        report::MALICIOUS_BLOCKED,
        &[("package", name), ("version", version), ("id", &hit.id)],
    );
    reporter.audit(
        "refuse",
        json!({"reason": "malicious", "package": name, "version": version, "id": hit.id}),
    );
    Some(hit.error())
}

/// Route mode, npm: the upstream packument response, or — when the feed lists versions of
/// `name` — the same document without them ([`npm_packument`]).
pub async fn npm_packument_reply(name: &str, response: reqwest::Response) -> Reply {
    if !matches!(global(), Loaded::Index(i) if !i.entries(Eco::Npm, name).is_empty()) {
        return Reply::Upstream(response);
    }
    match response.bytes().await {
        Ok(body) => Reply::json(npm_packument(name, body)),
        Err(e) => Reply::NotFound(format!("{name}: the packument broke off: {e}")),
    }
}

/// Route mode, npm: the packument without listed versions. `latest` moves to the highest clean
/// release; other dist-tags naming a hidden version are dropped. Unchanged bytes when nothing
/// is listed.
pub fn npm_packument(name: &str, body: Bytes) -> Bytes {
    let has_entries = matches!(global(), Loaded::Index(i) if !i.entries(Eco::Npm, name).is_empty());
    if !has_entries {
        return body;
    }
    let Ok(mut doc) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if !filter_packument(&mut doc, &|v| hides(Eco::Npm, name, v)) {
        return body;
    }
    Bytes::from(doc.to_string())
}

/// Remove versions `hide` says from a packument; whether anything changed. Pure.
pub fn filter_packument(doc: &mut Value, hide: &dyn Fn(&str) -> bool) -> bool {
    let Some(versions) = doc.get_mut("versions").and_then(Value::as_object_mut) else {
        return false;
    };
    let hidden: Vec<String> = versions.keys().filter(|v| hide(v)).cloned().collect();
    if hidden.is_empty() {
        return false;
    }
    for v in &hidden {
        versions.remove(v);
    }
    let latest = versions
        .keys()
        .filter(|v| !v.contains('-'))
        .max_by(|a, b| semver_cmp(a, b).unwrap_or(Ordering::Equal))
        .cloned();
    if let Some(time) = doc.get_mut("time").and_then(Value::as_object_mut) {
        for v in &hidden {
            time.remove(v);
        }
    }
    if let Some(tags) = doc.get_mut("dist-tags").and_then(Value::as_object_mut) {
        let stale: Vec<String> = tags
            .iter()
            .filter(|(_, v)| v.as_str().is_some_and(|v| hidden.iter().any(|h| h == v)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            tags.remove(&k);
        }
        if !tags.contains_key("latest") {
            if let Some(l) = latest {
                tags.insert("latest".into(), json!(l));
            }
        }
    }
    true
}

/// Route mode, Maven: the upstream metadata response, or — when the feed lists versions of
/// `ga` — the same document without them ([`maven_metadata`]).
pub async fn maven_metadata_reply(ga: &str, response: reqwest::Response) -> Reply {
    if !matches!(global(), Loaded::Index(i) if !i.entries(Eco::Maven, ga).is_empty()) {
        return Reply::Upstream(response);
    }
    match response.bytes().await {
        Ok(body) => Reply::Bytes {
            status: 200,
            content_type: "application/xml".into(),
            body: maven_metadata(ga, body),
        },
        Err(e) => Reply::NotFound(format!("{ga}: the metadata broke off: {e}")),
    }
}

/// Route mode, Maven: `maven-metadata.xml` without listed versions (`<latest>`/`<release>`
/// naming one move to the highest remaining). Unchanged bytes when nothing is listed.
pub fn maven_metadata(ga: &str, body: Bytes) -> Bytes {
    let has_entries = matches!(global(), Loaded::Index(i) if !i.entries(Eco::Maven, ga).is_empty());
    if !has_entries {
        return body;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return body;
    };
    match filter_metadata(text, &|v| hides(Eco::Maven, ga, v)) {
        Some(t) => Bytes::from(t),
        None => body,
    }
}

/// Remove `<version>` elements `hide` says from metadata text; `None` when nothing changed. Pure.
pub fn filter_metadata(text: &str, hide: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut kept = Vec::new();
    let mut changed = false;
    let mut rest = text;
    while let Some(i) = rest.find("<version>") {
        let Some(j) = rest[i..].find("</version>") else {
            break;
        };
        let v = rest[i + 9..i + j].trim();
        let line_start = rest[..i].rfind('\n').map_or(0, |p| p + 1);
        let whole_line = rest[line_start..i].trim().is_empty();
        if hide(v) {
            changed = true;
            out.push_str(&rest[..if whole_line { line_start } else { i }]);
            let after = &rest[i + j + 10..];
            rest = if whole_line {
                after
                    .strip_prefix('\n')
                    .or_else(|| after.strip_prefix("\r\n"))
                    .unwrap_or(after)
            } else {
                after
            };
        } else {
            kept.push(v.to_string());
            out.push_str(&rest[..i + j + 10]);
            rest = &rest[i + j + 10..];
        }
    }
    out.push_str(rest);
    if !changed {
        return None;
    }
    let max = kept
        .iter()
        .max_by(|a, b| crate::maven::metadata::compare_versions(a, b))
        .cloned()
        .unwrap_or_default();
    for tag in ["latest", "release"] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        if let Some(i) = out.find(&open) {
            if let Some(j) = out[i..].find(&close) {
                let v = out[i + open.len()..i + j].trim().to_string();
                if hide(&v) {
                    out.replace_range(i + open.len()..i + j, &max);
                }
            }
        }
    }
    Some(out)
}

/// Split `debug@4.4.2` / `name==1.0` / `group:artifact:1.0` into (name, version).
pub fn split_label(eco: Eco, label: &str) -> Option<(&str, &str)> {
    let (n, v) = match eco {
        Eco::Npm => label.rsplit_once('@').filter(|(n, _)| !n.is_empty())?,
        Eco::PyPI => label.split_once("==")?,
        Eco::Maven => label.rsplit_once(':')?,
    };
    (!n.is_empty() && !v.is_empty()).then_some((n, v))
}

/// `lockgate feed query ECO PACKAGE…`: each listed version on stdout; timings on stderr; exit 29
/// when any is listed, 20 without a feed.
pub fn query(eco: &str, packages: &[String]) -> Result<i32> {
    let eco = Eco::from_osv(eco).expect("clap checks the ecosystem");
    let mut pairs = Vec::new();
    for p in packages {
        let pair = split_label(eco, p).ok_or_else(|| {
            Error::config(
                format!("`{p}` is not a {} package version", eco.osv_name()),
                "write npm versions as name@1.0.0, PyPI as name==1.0, Maven as group:artifact:1.0",
            )
        })?;
        pairs.push(pair);
    }
    let started = std::time::Instant::now();
    let index = match load(&index_path()?) {
        Loaded::Index(i) => i,
        Loaded::Missing(why) => return Err(Error::config(why, "run `lockgate feed update`")),
    };
    let loaded = started.elapsed();
    let hits: Vec<Hit> = pairs
        .iter()
        .filter_map(|(n, v)| index.lookup(eco, n, v))
        .collect();
    let looked = started.elapsed() - loaded;
    for h in &hits {
        println!(
            "{} {} {} \"{}\" — {}",
            eco.label(&h.name, &h.version),
            h.id,
            date_of(&h.published),
            h.summary,
            h.fix
        );
    }
    eprintln!(
        "lockgate: {} of {} listed; index read in {} µs, {} lookups in {} µs",
        hits.len(),
        pairs.len(),
        loaded.as_micros(),
        pairs.len(),
        looked.as_micros()
    );
    Ok(if hits.is_empty() {
        0
    } else {
        crate::error::code::MALICIOUS
    })
}

/// `lockgate feed status`: age, source and counts on stdout. Exit 0 when the feed is fresh;
/// a missing feed is an error (20); a stale one is a warning, an error with `require = true`.
pub fn status(policy: &FeedPolicy) -> Result<i32> {
    let path = index_path()?;
    let index = match load(&path) {
        Loaded::Index(i) => i,
        Loaded::Missing(why) => {
            return Err(Error::config(
                why,
                "run `lockgate feed update` (from `[feed] url`, default the public OSV bucket)",
            ))
        }
    };
    let m = &index.meta;
    println!("feed: {}", path.display());
    println!("source: {}", m.source);
    println!("updated: {} ago ({})", human(index.age()), m.updated);
    for (eco, n) in &m.records {
        println!("records {eco}: {n}");
    }
    println!("withdrawn (not blocking): {}", m.withdrawn);
    if index.age() > policy.max_age {
        let msg = format!("the feed is older than max-age {}", human(policy.max_age));
        if policy.require {
            return Err(Error::config(
                msg,
                "run `lockgate feed update`; `[feed] require = true` refuses installs until then",
            ));
        }
        eprintln!("lockgate: warning: {msg}; run `lockgate feed update`");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use self::osv::Event;
    use super::*;

    fn entry(id: &str, versions: &[&str], ranges: Vec<Range>) -> Entry {
        Entry {
            id: id.into(),
            summary: format!("Malicious code in {id}"),
            published: "2025-09-08T14:26:51Z".into(),
            versions: versions.iter().map(|v| v.to_string()).collect(),
            ranges,
        }
    }

    fn semver(events: Vec<Event>) -> Vec<Range> {
        vec![Range {
            kind: "SEMVER".into(),
            events,
        }]
    }

    fn intro(v: &str) -> Event {
        Event {
            introduced: Some(v.into()),
            ..Event::default()
        }
    }
    fn fixed(v: &str) -> Event {
        Event {
            fixed: Some(v.into()),
            ..Event::default()
        }
    }

    fn index() -> Index {
        let meta = Meta {
            updated: 1,
            source: "test".into(),
            records: vec![("npm".into(), 3)],
            withdrawn: 1,
        };
        let mut entries = vec![
            (
                Eco::Npm,
                "debug".into(),
                entry("MAL-2025-46974", &["4.4.2"], vec![]),
            ),
            (
                Eco::Npm,
                "chalk".into(),
                entry("MAL-2025-1", &["5.6.1"], vec![]),
            ),
            (
                Eco::Npm,
                "evil".into(),
                entry(
                    "MAL-2025-2",
                    &[],
                    semver(vec![intro("1.0.0"), fixed("1.2.0")]),
                ),
            ),
            (
                Eco::PyPI,
                "Evil_Pkg".into(),
                entry("MAL-2025-3", &["1.0"], vec![]),
            ),
            (
                Eco::Maven,
                "io.x:y".into(),
                entry(
                    "MAL-2025-4",
                    &[],
                    vec![Range {
                        kind: "ECOSYSTEM".into(),
                        events: vec![intro("0")],
                    }],
                ),
            ),
        ];
        // One name with more records than a block holds, across block boundaries.
        for i in 0..70 {
            let e = entry(&format!("MAL-M-{i}"), &[&format!("0.0.{i}")], vec![]);
            entries.push((Eco::Npm, "many".into(), e));
        }
        for i in 0..2000 {
            entries.push((
                Eco::Npm,
                format!("pkg-{i}"),
                entry(&format!("MAL-X-{i}"), &["1.0.0"], vec![]),
            ));
        }
        Index::parse(Index::render(&meta, entries)).unwrap()
    }

    #[test]
    fn semver_orders_prereleases_by_identifier() {
        use Ordering::*;
        assert_eq!(semver_cmp("1.0.0-alpha.10", "1.0.0-alpha.9"), Some(Greater));
        assert_eq!(semver_cmp("1.0.0-alpha", "1.0.0-alpha.1"), Some(Less));
        assert_eq!(semver_cmp("1.0.0-1", "1.0.0-alpha"), Some(Less));
        assert_eq!(semver_cmp("1.0.0-rc.1", "1.0.0"), Some(Less));
        assert_eq!(semver_cmp("1.10.0", "1.9.9"), Some(Greater));
        assert_eq!(semver_cmp("v1.0.0+build", "1.0.0"), Some(Equal));
        assert_eq!(semver_cmp("1.0", "1.0.0"), None);
    }

    #[test]
    fn lookups_hit_listed_versions_and_ranges_only() {
        let i = index();
        assert_eq!(i.meta.records, [("npm".to_string(), 3)]);
        let h = i.lookup(Eco::Npm, "debug", "4.4.2").unwrap();
        assert_eq!(h.id, "MAL-2025-46974");
        assert!(
            h.fix.contains("does not list (it lists 4.4.2)"),
            "{}",
            h.fix
        );
        assert!(i.lookup(Eco::Npm, "debug", "4.4.1").is_none());
        assert!(i.lookup(Eco::Npm, "debu", "4.4.2").is_none());
        assert!(i
            .lookup(Eco::Npm, "evil", "1.1.5")
            .unwrap()
            .fix
            .contains("1.2.0 or later"));
        assert!(i.lookup(Eco::Npm, "evil", "1.2.0").is_none());
        assert!(i.lookup(Eco::Npm, "evil", "1.0.0-rc.1").is_none());
        // PEP 503 names and PEP 440 equality.
        assert!(i.lookup(Eco::PyPI, "evil.pkg", "1.0.0").is_some());
        assert!(
            i.lookup(Eco::Npm, "Evil_Pkg", "1.0").is_none(),
            "ecosystems are separate"
        );
        assert!(i
            .lookup(Eco::Maven, "io.x:y", "9.9")
            .unwrap()
            .fix
            .contains("every version"));
        for n in [0, 1, 999, 1999] {
            assert!(
                i.lookup(Eco::Npm, &format!("pkg-{n}"), "1.0.0").is_some(),
                "pkg-{n}"
            );
        }
        assert!(i.lookup(Eco::Npm, "pkg-2000", "1.0.0").is_none());
        assert_eq!(i.entries(Eco::Npm, "many").len(), 70);
        assert_eq!(i.lookup(Eco::Npm, "many", "0.0.69").unwrap().id, "MAL-M-69");
        assert!(i.lookup(Eco::Npm, "zzz", "1.0.0").is_none());
        assert!(i.lookup(Eco::Npm, "", "1.0.0").is_none());
    }

    #[test]
    fn bloom_has_no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_keys(1000);
        for i in 0..1000 {
            b.insert(format!("npm\tpkg-{i}").as_bytes());
        }
        let b = Bloom::from_hex(&b.to_hex()).unwrap();
        assert!((0..1000).all(|i| b.may_contain(format!("npm\tpkg-{i}").as_bytes())));
        let fp = (0..10_000)
            .filter(|i| b.may_contain(format!("npm\tother-{i}").as_bytes()))
            .count();
        assert!(fp < 300, "{fp} false positives in 10,000");
        assert!(Bloom::from_hex("zz").is_none() && Bloom::from_hex("").is_none());
    }

    #[test]
    fn rejects_foreign_files() {
        assert!(Index::parse(b"hello\n\nx".to_vec()).is_err());
        assert!(Index::parse(b"no header".to_vec()).is_err());
    }

    #[test]
    fn packument_loses_listed_versions_and_latest_moves() {
        let mut doc = json!({"name": "debug", "dist-tags": {"latest": "4.4.2", "next": "4.4.2", "beta": "5.0.0-beta.1"},
            "versions": {"4.4.1": {}, "4.4.2": {}, "4.3.9": {}, "5.0.0-beta.1": {}}, "time": {"4.4.2": "x", "4.4.1": "y"}});
        assert!(filter_packument(&mut doc, &|v| v == "4.4.2"));
        assert_eq!(
            doc["dist-tags"],
            json!({"latest": "4.4.1", "beta": "5.0.0-beta.1"})
        );
        assert!(doc["versions"].get("4.4.2").is_none());
        assert!(doc["time"].get("4.4.2").is_none());
        assert!(!filter_packument(&mut doc, &|_| false));
    }

    #[test]
    fn metadata_loses_listed_versions() {
        let text = "<metadata>\n  <versioning>\n    <latest>1.1</latest>\n    <release>1.1</release>\n    <versions>\n      <version>1.0</version>\n      <version>1.1</version>\n    </versions>\n  </versioning>\n</metadata>\n";
        let out = filter_metadata(text, &|v| v == "1.1").unwrap();
        assert_eq!(out, "<metadata>\n  <versioning>\n    <latest>1.0</latest>\n    <release>1.0</release>\n    <versions>\n      <version>1.0</version>\n    </versions>\n  </versioning>\n</metadata>\n");
        assert!(filter_metadata(text, &|_| false).is_none());
    }

    #[test]
    fn labels_split_per_ecosystem() {
        assert_eq!(split_label(Eco::Npm, "@s/a@1.0.0"), Some(("@s/a", "1.0.0")));
        assert_eq!(split_label(Eco::PyPI, "evil==1.0"), Some(("evil", "1.0")));
        assert_eq!(
            split_label(Eco::Maven, "io.x:y:2.0"),
            Some(("io.x:y", "2.0"))
        );
        assert_eq!(split_label(Eco::Npm, "@s/a"), None);
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(43_200));
        assert!(parse_age("7 days").is_err() && parse_age("d").is_err());
    }
}
