//! Release-age cooldown and new-package checks (`[cooldown]` in the policy).
//!
//! Nearly every hijacked release of a legitimate package (chalk/debug, Shai-Hulud, nx, axios…)
//! was removed within hours. In route mode the gate therefore hides versions younger than
//! `min-age` from the real tool, so resolution picks the newest version old enough; a name the
//! command adds that was first published less than `new-package-age` ago is refused (28).
//!
//! Pure parts, unit-tested: duration parsing (`"3d"`, `"12h"`, `"30m"`, `"0"`), `exclude`
//! matching (names, `*` globs, `name@version`), the admit/hold decision given a publish time and
//! now, RFC 3339 / HTTP-date parsing, the npm packument filter and the pip file filter. The one
//! I/O part is [`FirstSeen`]: where a registry publishes no upload time (pypiserver, many private
//! mirrors), lockgate's own first-seen time, kept in a small JSON file beside the verified store
//! and replaced atomically. Every message says which clock decided ([`Clock`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::finding::{Finding, Kind};

pub const DAY: u64 = 86_400;
/// `min-age` when the policy does not set one.
pub const DEFAULT_MIN_AGE: u64 = 3 * DAY;
/// `new-package-age` when the policy does not set one.
pub const DEFAULT_NEW_PACKAGE_AGE: u64 = 30 * DAY;

/// Parse a policy duration: a whole number with one unit `m`, `h` or `d`; `"0"` is zero (off).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    let bad = || {
        format!("\"{s}\" is not a duration (write e.g. \"3d\", \"12h\", \"30m\", or \"0\" for off)")
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let mult = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => DAY,
        _ => return Err(bad()),
    };
    let n: u64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
    n.checked_mul(mult).ok_or_else(bad)
}

/// A duration for messages: `3d`, `5h 20m`, `12m`, `40s`.
pub fn human(secs: u64) -> String {
    let (d, h, m) = (secs / DAY, secs % DAY / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Which clock said how old a version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The npm packument's `time` map.
    NpmTime,
    /// PEP 700 `upload-time` on the simple index.
    UploadTime,
    /// `Last-Modified` of a Maven artifact.
    LastModified,
    /// lockgate's own first-seen record (the registry publishes no time).
    FirstSeen,
}

impl Clock {
    pub fn label(self) -> &'static str {
        match self {
            Clock::NpmTime => "the registry's publish time (packument `time`)",
            Clock::UploadTime => "the index's upload time (PEP 700 `upload-time`)",
            Clock::LastModified => "the repository's `Last-Modified` time",
            Clock::FirstSeen => {
                "lockgate's first-seen time (the registry publishes no upload time)"
            }
        }
    }
}

/// The merged `[cooldown]` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooldown {
    /// Seconds; 0 turns the release-age cooldown off.
    pub min_age: u64,
    /// Seconds; 0 turns the new-package check off.
    pub new_package_age: u64,
    /// Names, `*` globs, or `name@version`, admitted early.
    pub exclude: Vec<String>,
}

impl Default for Cooldown {
    fn default() -> Self {
        Cooldown {
            min_age: DEFAULT_MIN_AGE,
            new_package_age: DEFAULT_NEW_PACKAGE_AGE,
            exclude: Vec::new(),
        }
    }
}

/// What the cooldown says about one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit,
    /// Too young: its age in seconds (0 for a time in the future).
    Hold {
        age: u64,
    },
}

/// A version (or a whole package) the cooldown held back, with everything a message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub name: String,
    /// None: the whole package is new (new-package check).
    pub version: Option<String>,
    /// Unix seconds.
    pub published: i64,
    pub age: u64,
    pub clock: Clock,
}

impl Cooldown {
    pub fn is_off(&self) -> bool {
        self.min_age == 0 && self.new_package_age == 0
    }

    /// Whether `exclude` admits `name` (at `version`, when given) early. `norm` normalizes names
    /// the way the ecosystem compares them (identity for npm, PEP 503 for pip).
    pub fn excluded(&self, name: &str, version: Option<&str>, norm: fn(&str) -> String) -> bool {
        let name = norm(name);
        self.exclude.iter().any(|pat| {
            let (pn, pv) = split_name_version(pat);
            glob(&norm(pn), &name)
                && match (pv, version) {
                    (None, _) => true,
                    (Some(pv), Some(v)) => pv == v,
                    (Some(_), None) => false,
                }
        })
    }

    /// Admit or hold a version published at `published` (unix seconds), as of `now`.
    pub fn decide(&self, published: i64, now: i64) -> Decision {
        decide(self.min_age, published, now)
    }

    /// Hold a package first published at `created` when it is younger than `new-package-age`.
    pub fn decide_new(&self, created: i64, now: i64) -> Decision {
        decide(self.new_package_age, created, now)
    }
}

fn decide(limit: u64, published: i64, now: i64) -> Decision {
    if limit == 0 {
        return Decision::Admit;
    }
    let age = now.saturating_sub(published).max(0) as u64;
    if now < published || age < limit {
        Decision::Hold { age }
    } else {
        Decision::Admit
    }
}

/// `name@version` → (name, Some(version)); `@scope/name` stays whole.
fn split_name_version(s: &str) -> (&str, Option<&str>) {
    match s.rfind('@') {
        Some(i) if i > 0 => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
fn glob(pat: &str, s: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Held {
    pub fn id(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.name),
            None => self.name.clone(),
        }
    }

    /// One paragraph: what, when, which clock, the limit, and how to admit it.
    pub fn describe(&self, policy: &Cooldown) -> String {
        match &self.version {
            Some(v) => format!(
                "{}@{v} was published {} ago ({}, by {}); the cooldown admits only versions older than {} (`[cooldown] min-age`)",
                self.name,
                human(self.age),
                format_rfc3339(self.published),
                self.clock.label(),
                human(policy.min_age)
            ),
            None => format!(
                "{} was first published {} ago ({}, by {}); names added to a project must have existed for {} (`[cooldown] new-package-age`)",
                self.name,
                human(self.age),
                format_rfc3339(self.published),
                self.clock.label(),
                human(policy.new_package_age)
            ),
        }
    }

    /// The refusal (exit 28) for this hold.
    pub fn finding(&self, policy: &Cooldown, file: &Path) -> Finding {
        let hint = match &self.version {
            Some(v) => format!(
                "wait until it is {} old, pick an older version, or (after reviewing it) add \"{}@{v}\" to `[cooldown] exclude`",
                human(policy.min_age),
                self.name
            ),
            None => format!(
                "check that {} is the package you meant (AI assistants invent names that squatters then register); if it is, add \"{}\" to `[cooldown] exclude`",
                self.name, self.name
            ),
        };
        Finding::error(Kind::TooNew, self.id(), file)
            .msg(self.describe(policy))
            .hint(hint)
    }
}

// ---------------------------------------------------------------------------------------------
// Time parsing and formatting (no date crate: the two formats registries use).

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 / ISO 8601 timestamps as registries write them (`2024-05-20T16:08:19.530618Z`,
/// `…+00:00`, `2024-12-21 18:38:44`) → unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest[1..].replace(':', "");
            if o.len() != 4 || !o.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (o[..2].parse::<i64>().ok()? * 3600 + o[2..].parse::<i64>().ok()? * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * DAY as i64 + h * 3600 + mi * 60 + se - offset)
}

/// HTTP dates (`Sun, 06 Dec 2026 18:00:00 GMT`, RFC 9110 IMF-fixdate) → unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, d, mon, y, t, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == mon)? as i64 + 1;
    parse_rfc3339(&format!("{y}-{m:02}-{:0>2}T{t}Z", d))
}

/// Maven's `lastUpdated` (`yyyyMMddHHmmss`, UTC) → unix seconds.
pub fn parse_maven_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() != 14 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    parse_rfc3339(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[8..10],
        &s[10..12],
        &s[12..14]
    ))
}

pub fn format_rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(DAY as i64), t.rem_euclid(DAY as i64));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The time cooldown decisions are made at, in unix seconds: `LOCKGATE_NOW` (RFC 3339) when set
/// — "judge as of this time", for tests and reproducible audits — else the wall clock.
/// First-seen records always use the wall clock.
/// A `LOCKGATE_NOW` ahead of the clock admits what the cooldown holds today, so it is said once
/// per run on stderr (a test or audit setting left in a CI job would otherwise go unseen).
pub fn now() -> i64 {
    let wall = wall_clock();
    if let Some(t) = std::env::var("LOCKGATE_NOW")
        .ok()
        .and_then(|v| parse_rfc3339(&v))
    {
        static SAID: std::sync::Once = std::sync::Once::new();
        if let Some(msg) = ahead_warning(t, wall) {
            SAID.call_once(|| eprintln!("lockgate: warning: {msg}"));
        }
        return t;
    }
    wall
}

/// The warning for a `LOCKGATE_NOW` of `set` while the clock says `wall` (None unless it is
/// ahead by more than a minute).
fn ahead_warning(set: i64, wall: i64) -> Option<String> {
    (set > wall + 60).then(|| {
        format!(
            "LOCKGATE_NOW ({}) is {} ahead of this machine's clock: the cooldown judges ages as of then and admits versions it holds today (meant for tests and audits)",
            format_rfc3339(set),
            human((set - wall) as u64)
        )
    })
}

pub fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// npm packuments.

/// What filtering one packument found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NpmFiltered {
    /// Versions removed, newest first.
    pub held: Vec<Held>,
    /// The name was first published (packument `time.created`, else its oldest version).
    pub created: Option<i64>,
    /// `dist-tags.latest` pointed to a removed version (it now points to the newest admitted).
    pub latest_moved: bool,
    /// Versions left.
    pub admitted: usize,
}

/// When a full packument says its package was first published: `time.created`, else the time of
/// its oldest listed version (some registries record no `created`).
pub fn npm_created(doc: &Value) -> Option<i64> {
    let t = |k: &str| doc["time"][k].as_str().and_then(parse_rfc3339);
    t("created").or_else(|| {
        doc["versions"]
            .as_object()?
            .keys()
            .filter_map(|v| t(v))
            .min()
    })
}

/// Remove versions younger than `min-age` from a full packument: from `versions`, `time`, and
/// every dist-tag (a tag on a removed version is dropped; `latest` moves to the newest admitted
/// stable version, else the newest admitted). A version without a `time` entry (a registry that
/// publishes none) is judged by `first_seen`, as [`filter_files`] judges an undated file: the
/// versions listed the first time lockgate ever sees the package are its baseline (they were
/// there before lockgate watched), and a version that appears later counts from `seen_at`.
/// Without first-seen records an undated version is held: lockgate does not admit what it
/// cannot date.
pub fn filter_packument(
    doc: &mut Value,
    name: &str,
    policy: &Cooldown,
    now: i64,
    first_seen: Option<(&FirstSeen, i64)>,
    cmp: fn(&str, &str) -> std::cmp::Ordering,
) -> NpmFiltered {
    let mut out = NpmFiltered::default();
    let times: BTreeMap<String, i64> = doc["time"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), parse_rfc3339(v.as_str()?)?)))
                .collect()
        })
        .unwrap_or_default();
    let versions: Vec<String> = doc["versions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    out.created = npm_created(doc);
    if policy.min_age == 0 {
        out.admitted = versions.len();
        return out;
    }
    let key = |v: &str| format!("npm:{name}@{v}");
    let undated = versions.iter().any(|v| !times.contains_key(v));
    let baseline = undated
        && first_seen.is_some_and(|(fs, seen_at)| fs.first_sight(&format!("npm:{name}"), seen_at));
    let mut removed = Vec::new();
    for v in &versions {
        if policy.excluded(name, Some(v), str::to_string) {
            continue;
        }
        let (published, clock) = match times.get(v) {
            Some(t) => (*t, Clock::NpmTime),
            None => match first_seen {
                Some((fs, _)) if baseline => (fs.record(&key(v), 0), Clock::FirstSeen),
                Some((fs, seen_at)) => (fs.record(&key(v), seen_at), Clock::FirstSeen),
                None => (now, Clock::FirstSeen),
            },
        };
        if let Decision::Hold { age } = policy.decide(published, now) {
            removed.push(Held {
                name: name.to_string(),
                version: Some(v.clone()),
                published,
                age,
                clock,
            });
        }
    }
    removed.sort_by(|a, b| {
        cmp(
            b.version.as_deref().unwrap_or(""),
            a.version.as_deref().unwrap_or(""),
        )
    });
    if let Some(m) = doc["versions"].as_object_mut() {
        for h in &removed {
            m.remove(h.version.as_deref().unwrap_or(""));
        }
        out.admitted = m.len();
    }
    if let Some(m) = doc["time"].as_object_mut() {
        for h in &removed {
            m.remove(h.version.as_deref().unwrap_or(""));
        }
    }
    let admitted: Vec<String> = doc["versions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(tags) = doc["dist-tags"].as_object_mut() {
        let was_latest = tags
            .get("latest")
            .and_then(Value::as_str)
            .map(str::to_string);
        tags.retain(|_, v| v.as_str().is_some_and(|v| admitted.iter().any(|a| a == v)));
        if let Some(l) = was_latest {
            if !tags.contains_key("latest") {
                out.latest_moved = true;
                let newest = admitted
                    .iter()
                    .filter(|v| !v.contains('-'))
                    .max_by(|a, b| cmp(a, b))
                    .or_else(|| admitted.iter().max_by(|a, b| cmp(a, b)));
                if let Some(n) = newest.filter(|n| cmp(n, &l).is_le()) {
                    tags.insert("latest".into(), Value::String(n.clone()));
                }
            }
        }
    }
    out.held = removed;
    out
}

// ---------------------------------------------------------------------------------------------
// Simple-index files (pip).

/// One file on a project page, as the cooldown sees it.
#[derive(Debug, Clone)]
pub struct IndexFile<'a> {
    pub filename: &'a str,
    pub version: &'a str,
    /// PEP 700 `upload-time`, when the index gives it.
    pub upload_time: Option<&'a str>,
}

/// Decide each file of one project page: `Some(held)` for the files to withhold. Where the
/// index gives no `upload-time`, lockgate's first-seen record decides; the first time lockgate
/// ever sees a project, every file then listed is recorded as a baseline (admitted: it was
/// there before lockgate watched), and files that appear later count from when they appeared.
pub fn filter_files(
    name: &str,
    files: &[IndexFile],
    policy: &Cooldown,
    now: i64,
    first_seen: Option<(&FirstSeen, i64)>,
    norm: fn(&str) -> String,
) -> Vec<Option<Held>> {
    let project = format!("pip:{}", norm(name));
    let undated = files.iter().any(|f| f.upload_time.is_none());
    let baseline =
        undated && first_seen.is_some_and(|(fs, seen_at)| fs.first_sight(&project, seen_at));
    files
        .iter()
        .map(|f| {
            if policy.min_age == 0 || policy.excluded(name, Some(f.version), norm) {
                return None;
            }
            let (published, clock) = match f.upload_time.and_then(parse_rfc3339) {
                Some(t) => (t, Clock::UploadTime),
                None => {
                    let key = format!("{project}/{}", f.filename);
                    let t = match first_seen {
                        Some((fs, _)) if baseline => fs.record(&key, 0),
                        Some((fs, seen_at)) => fs.record(&key, seen_at),
                        None => now,
                    };
                    (t, Clock::FirstSeen)
                }
            };
            match policy.decide(published, now) {
                Decision::Admit => None,
                Decision::Hold { age } => Some(Held {
                    name: name.to_string(),
                    version: Some(f.version.to_string()),
                    published,
                    age,
                    clock,
                }),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Maven metadata.

/// The versions an artifact-level `maven-metadata.xml` lists, and its `lastUpdated`.
pub fn maven_versions(xml: &str) -> Option<(Vec<String>, Option<i64>)> {
    let root = crate::maven::xml::parse(xml).ok()?;
    let versioning = root.child("versioning")?;
    let versions = versioning
        .child("versions")
        .map(|v| {
            v.children_named("version")
                .map(|e| e.text.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    Some((
        versions,
        versioning
            .child_text("lastUpdated")
            .and_then(parse_maven_timestamp),
    ))
}

/// `maven-metadata.xml` without the `held` versions; `latest`/`release` pointing at a held
/// version move to the newest version left (by `cmp`), or are dropped when none is left.
pub fn filter_maven_metadata(
    xml: &str,
    held: &[String],
    cmp: fn(&str, &str) -> std::cmp::Ordering,
) -> Option<String> {
    let mut root = crate::maven::xml::parse(xml).ok()?;
    let versioning = root.children.iter_mut().find(|c| c.name == "versioning")?;
    let mut left: Vec<String> = Vec::new();
    if let Some(vs) = versioning
        .children
        .iter_mut()
        .find(|c| c.name == "versions")
    {
        vs.children
            .retain(|v| !held.contains(&v.text.trim().to_string()));
        left = vs
            .children
            .iter()
            .map(|v| v.text.trim().to_string())
            .collect();
    }
    let newest = left.iter().max_by(|a, b| cmp(a, b)).cloned();
    let newest_release = left
        .iter()
        .filter(|v| !v.ends_with("-SNAPSHOT"))
        .max_by(|a, b| cmp(a, b))
        .cloned();
    versioning.children.retain_mut(|c| {
        let target = match c.name.as_str() {
            "latest" => &newest,
            "release" => &newest_release,
            _ => return true,
        };
        if !held.contains(&c.text.trim().to_string()) {
            return true;
        }
        match target {
            Some(v) => {
                c.text = v.clone();
                true
            }
            None => false,
        }
    });
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    root.write(&mut out, 0);
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// One route-mode run.

/// The cooldown's state for one route-mode run: what it held back, which names are new. The gate
/// calls [`Watch::npm_packument`] / [`Watch::files`] on each answer it relays; after the real tool
/// exits, [`Watch::verdict`] turns what was held into a refusal (28) or a note.
#[derive(Debug)]
pub struct Watch {
    pub policy: Cooldown,
    /// The time decisions are made at ([`now`]).
    now: i64,
    /// The wall clock, for first-seen records (differs from `now` only under `LOCKGATE_NOW`).
    wall: i64,
    first_seen: Option<FirstSeen>,
    /// Names this command adds (not in the lockfile): checked against `new-package-age`.
    new_names: Vec<String>,
    /// When set (Maven, which cannot tell direct dependencies from the others), every name but
    /// these (the lock's) is new, whatever `new_names` says.
    known_names: Option<std::collections::BTreeSet<String>>,
    /// `(name, version)` the user asked for explicitly (`foo@1.2.3`, `foo==1.2.3`).
    explicit: Vec<(String, String)>,
    held: Mutex<Vec<Held>>,
    /// Names whose newest version was held (npm `latest` moved, or nothing left).
    newest_held: Mutex<Vec<String>>,
    new_packages: Mutex<Vec<Held>>,
    /// Held versions the tool asked for by exact version (refused whatever its exit code).
    demanded: Mutex<Vec<Held>>,
    /// Names this run is the first ever to look at (first-seen baseline, [`Watch::admit_version`]).
    first_looks: Mutex<std::collections::HashSet<String>>,
    norm: fn(&str) -> String,
}

impl Watch {
    /// None when the cooldown is off. `store_root`: where first-seen records live.
    pub fn new(
        policy: &Cooldown,
        store_root: Option<&Path>,
        new_names: Vec<String>,
        explicit: Vec<(String, String)>,
        norm: fn(&str) -> String,
    ) -> Option<Watch> {
        if policy.is_off() {
            return None;
        }
        Some(Watch {
            policy: policy.clone(),
            now: now(),
            wall: wall_clock(),
            first_seen: store_root.map(FirstSeen::open),
            new_names: new_names.iter().map(|n| norm(n)).collect(),
            known_names: None,
            explicit,
            held: Mutex::new(Vec::new()),
            newest_held: Mutex::new(Vec::new()),
            new_packages: Mutex::new(Vec::new()),
            demanded: Mutex::new(Vec::new()),
            first_looks: Mutex::new(std::collections::HashSet::new()),
            norm,
        })
    }

    /// Whether `name` is filtered at all (not wholly excluded). Internal names are the caller's
    /// to exempt.
    pub fn applies(&self, name: &str) -> bool {
        !self.policy.excluded(name, None, self.norm)
    }

    /// Every name but `known` (the lock's names; empty without a lock) counts as added: for
    /// `lockgate lock mvn`, where a new transitive dependency is as much an addition as a
    /// direct one (the axios dropper was a new transitive dependency).
    pub fn with_known_names(mut self, known: std::collections::BTreeSet<String>) -> Watch {
        self.known_names = Some(known.iter().map(|n| (self.norm)(n)).collect());
        self
    }

    /// Whether `name` is one this command adds (so its creation date matters).
    pub fn is_new(&self, name: &str) -> bool {
        let name = (self.norm)(name);
        self.policy.new_package_age > 0
            && match &self.known_names {
                Some(known) => !known.contains(&name),
                None => self.new_names.contains(&name),
            }
    }

    /// Whether `version` of `name` was held back (a tarball request for it is refused).
    pub fn is_held(&self, name: &str, version: &str) -> bool {
        self.held
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.name == name && h.version.as_deref() == Some(version))
    }

    /// Check a new name's first-publish time; `Err(message)` when it is too new.
    pub fn check_new(&self, name: &str, created: Option<i64>, clock: Clock) -> Result<(), String> {
        let Some(created) = created.filter(|_| self.is_new(name)) else {
            return Ok(());
        };
        if let Decision::Hold { age } = self.policy.decide_new(created, self.now) {
            let h = Held {
                name: name.to_string(),
                version: None,
                published: created,
                age,
                clock,
            };
            let msg = h.describe(&self.policy);
            let mut new = self.new_packages.lock().unwrap();
            // Maven may ask for several POMs of one artifact: one refusal per name.
            if !new.iter().any(|n| n.name == h.name) {
                new.push(h);
            }
            return Err(msg);
        }
        Ok(())
    }

    /// Filter a full npm packument. `Ok(Some(bytes))`: the filtered document; `Ok(None)`: nothing
    /// changed, relay the original; `Err(message)`: the name is too new (refuse it).
    pub fn npm_packument(
        &self,
        name: &str,
        body: &[u8],
        cmp: fn(&str, &str) -> std::cmp::Ordering,
    ) -> Result<Option<Vec<u8>>, String> {
        let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        let f = filter_packument(
            &mut doc,
            name,
            &self.policy,
            self.now,
            self.first_seen.as_ref().map(|f| (f, self.wall)),
            cmp,
        );
        self.check_new(name, f.created, Clock::NpmTime)?;
        if f.held.is_empty() {
            return Ok(None);
        }
        if f.latest_moved || f.admitted == 0 {
            self.newest_held.lock().unwrap().push(name.to_string());
        }
        self.held.lock().unwrap().extend(f.held);
        Ok(Some(
            serde_json::to_vec(&doc).unwrap_or_else(|_| body.to_vec()),
        ))
    }

    /// Decide the files of one simple-index page: true for each file to list.
    pub fn files(&self, name: &str, files: &[IndexFile]) -> Result<Vec<bool>, String> {
        let created = files
            .iter()
            .filter_map(|f| f.upload_time.and_then(parse_rfc3339))
            .min();
        self.check_new(name, created, Clock::UploadTime)?;
        let out = filter_files(
            name,
            files,
            &self.policy,
            self.now,
            self.first_seen.as_ref().map(|f| (f, self.wall)),
            self.norm,
        );
        let held: Vec<Held> = out.iter().flatten().cloned().collect();
        if !held.is_empty() {
            if out.iter().all(Option::is_some) {
                self.newest_held.lock().unwrap().push(name.to_string());
            }
            self.held.lock().unwrap().extend(held);
        }
        Ok(out.iter().map(Option::is_none).collect())
    }

    /// Judge one Maven version dated `published` by `clock` (None: the repository gave no time,
    /// so lockgate's first-seen record decides, with the baseline of [`filter_files`]: every
    /// version of an artifact met in the run that first looks at it counts as seen long ago).
    /// Records a hold; true when the version is admitted. A held version counts as one the
    /// resolution needed (the tool asked for it by name).
    pub fn admit_version(
        &self,
        name: &str,
        version: &str,
        published: Option<i64>,
        clock: Clock,
    ) -> bool {
        if self.policy.min_age == 0 || self.policy.excluded(name, Some(version), self.norm) {
            return true;
        }
        let (published, clock) = match (published, &self.first_seen) {
            (Some(t), _) => (t, clock),
            (None, Some(fs)) => {
                let mut first_looks = self.first_looks.lock().unwrap();
                if fs.first_sight(&format!("maven:{name}"), self.wall) {
                    first_looks.insert(name.to_string());
                }
                let at = if first_looks.contains(name) {
                    0
                } else {
                    self.wall
                };
                (
                    fs.record(&format!("{name}@{version}"), at),
                    Clock::FirstSeen,
                )
            }
            (None, None) => (self.now, Clock::FirstSeen),
        };
        match self.policy.decide(published, self.now) {
            Decision::Admit => true,
            Decision::Hold { age } => {
                self.held.lock().unwrap().push(Held {
                    name: name.to_string(),
                    version: Some(version.to_string()),
                    published,
                    age,
                    clock,
                });
                self.newest_held.lock().unwrap().push(name.to_string());
                false
            }
        }
    }

    /// The tool asked for exactly this held version (a Maven POM pinned by the project): refuse
    /// it whatever the tool does without it.
    pub fn demand(&self, name: &str, version: &str) {
        if let Some(h) = self
            .held
            .lock()
            .unwrap()
            .iter()
            .find(|h| h.name == name && h.version.as_deref() == Some(version))
        {
            self.demanded.lock().unwrap().push(h.clone());
        }
    }

    /// Whether the metadata's `lastUpdated` shows nothing was published within `min-age`.
    pub fn quiet_since(&self, last_updated: Option<i64>) -> bool {
        last_updated.is_some_and(|t| self.policy.decide(t, self.now) == Decision::Admit)
    }

    /// Everything held back so far, one version once.
    pub fn held(&self) -> Vec<Held> {
        let mut seen = std::collections::HashSet::new();
        let mut v = self.held.lock().unwrap().clone();
        v.retain(|h| seen.insert(h.id()));
        v
    }

    /// After the real tool exited with `code`: a refusal (28) when a new package was refused, or
    /// when the tool failed and the cooldown is the reason (the user named a held version, or a
    /// name's newest versions were all held); otherwise a note on stderr of what was held back.
    /// Saves the first-seen records either way. Returns the refusals (pass them to
    /// `Reporter::refuse_on_errors`).
    pub fn verdict(&self, code: i32, file: &Path) -> Vec<Finding> {
        if let Some(fs) = &self.first_seen {
            if let Err(e) = fs.save() {
                eprintln!("lockgate: warning: cannot save first-seen times: {e}");
            }
        }
        let held = self.held();
        let new = self.new_packages.lock().unwrap().clone();
        let mut findings: Vec<Finding> =
            new.iter().map(|h| h.finding(&self.policy, file)).collect();
        let mut seen = std::collections::HashSet::new();
        let demanded = self.demanded.lock().unwrap().clone();
        findings.extend(
            demanded
                .iter()
                .filter(|h| seen.insert(h.id()))
                .map(|h| h.finding(&self.policy, file)),
        );
        if code != 0 && findings.is_empty() {
            let newest = self.newest_held.lock().unwrap().clone();
            let norm = self.norm;
            let mut blamed: Vec<&Held> = held
                .iter()
                .filter(|h| {
                    self.explicit.iter().any(|(n, v)| {
                        norm(n) == norm(&h.name) && h.version.as_deref() == Some(v.as_str())
                    })
                })
                .collect();
            if blamed.is_empty() {
                // The newest held version of each name whose newest versions were all held, and
                // of each name this command asked for directly.
                for h in &held {
                    let direct = self.new_names.contains(&norm(&h.name));
                    if (newest.contains(&h.name) || direct)
                        && !blamed.iter().any(|b| b.name == h.name)
                    {
                        blamed.push(h);
                    }
                }
            }
            findings.extend(blamed.iter().map(|h| h.finding(&self.policy, file)));
        }
        if !findings.is_empty() {
            return findings;
        }
        if !held.is_empty() {
            let list: Vec<String> = held
                .iter()
                .take(8)
                .map(|h| format!("{} ({} old)", h.id(), human(h.age)))
                .collect();
            eprintln!(
                "lockgate: cooldown: {} version{} younger than {} held back from resolution: {}{}",
                held.len(),
                if held.len() == 1 { "" } else { "s" },
                human(self.policy.min_age),
                list.join(", "),
                if held.len() > 8 { ", …" } else { "" }
            );
        }
        Vec::new()
    }
}

// ---------------------------------------------------------------------------------------------
// First-seen records.

/// lockgate's own clock for registries that publish no times: `key → unix seconds` of the first
/// time lockgate saw it (0: present when lockgate first looked at the project). Kept in
/// `first-seen.json` beside the verified store; loaded once, saved with write-then-rename so a
/// crash never leaves half a file. Two concurrent runs may each add records; the later save wins,
/// and a lost record only makes that file count as seen later (more cautious, never less).
#[derive(Debug)]
pub struct FirstSeen {
    path: PathBuf,
    map: Mutex<BTreeMap<String, i64>>,
    dirty: Mutex<bool>,
}

impl FirstSeen {
    /// The records under `dir` (the verified store's root); an unreadable file starts empty.
    pub fn open(dir: &Path) -> FirstSeen {
        let path = dir.join("first-seen.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        FirstSeen {
            path,
            map: Mutex::new(map),
            dirty: Mutex::new(false),
        }
    }

    /// When `key` was first seen; records `now` if it never was.
    pub fn record(&self, key: &str, now: i64) -> i64 {
        let mut m = self.map.lock().unwrap();
        if let Some(t) = m.get(key) {
            return *t;
        }
        m.insert(key.to_string(), now);
        *self.dirty.lock().unwrap() = true;
        now
    }

    /// True the first time `project` is ever seen (and records it).
    pub fn first_sight(&self, project: &str, now: i64) -> bool {
        let seen = self.map.lock().unwrap().contains_key(project);
        if !seen {
            self.record(project, now);
        }
        !seen
    }

    /// Write the records if anything was added.
    pub fn save(&self) -> std::io::Result<()> {
        if !std::mem::take(&mut *self.dirty.lock().unwrap()) {
            return Ok(());
        }
        let text = serde_json::to_vec_pretty(&*self.map.lock().unwrap())?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ver(a: &str, b: &str) -> std::cmp::Ordering {
        crate::npm::serve::version_cmp(a, b)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3d"), Ok(3 * DAY));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in [
            "",
            "3",
            "d",
            "3w",
            "-1d",
            "1.5d",
            "3 d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human(3 * DAY), "3d");
        assert_eq!(human(5 * 3600 + 20 * 60), "5h 20m");
        assert_eq!(human(40), "40s");
    }

    #[test]
    fn exclude_matches_names_globs_and_versions() {
        let c = Cooldown {
            exclude: vec!["@myorg/*".into(), "left-pad@1.3.1".into(), "types-*".into()],
            ..Cooldown::default()
        };
        let id = str::to_string;
        assert!(c.excluded("@myorg/pay", Some("1.0.0"), id));
        assert!(!c.excluded("@myorgx/pay", None, id));
        assert!(c.excluded("left-pad", Some("1.3.1"), id));
        assert!(!c.excluded("left-pad", Some("1.3.2"), id));
        assert!(!c.excluded("left-pad", None, id));
        assert!(c.excluded("types-requests", None, id));
        assert!(!c.excluded("axios", None, id));
        assert!(glob("a*b*c", "aXbYc") && !glob("a*b*c", "aXc") && glob("*", ""));
    }

    #[test]
    fn decision_given_publish_time_and_now() {
        let c = Cooldown::default();
        let now = 1_000_000_000;
        assert_eq!(c.decide(now - 3600, now), Decision::Hold { age: 3600 });
        assert_eq!(c.decide(now - 3 * DAY as i64, now), Decision::Admit);
        assert_eq!(c.decide(now + 50, now), Decision::Hold { age: 0 });
        let off = Cooldown {
            min_age: 0,
            ..Cooldown::default()
        };
        assert_eq!(off.decide(now, now), Decision::Admit);
        assert_eq!(
            c.decide_new(now - 10 * DAY as i64, now),
            Decision::Hold { age: 10 * DAY }
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-05-20T16:08:19.530618Z"),
            Some(1_716_221_299)
        );
        assert_eq!(
            parse_rfc3339("2024-05-20T18:08:19+02:00"),
            Some(1_716_221_299)
        );
        assert_eq!(parse_rfc3339("2024-05-20 16:08:19"), Some(1_716_221_299));
        assert_eq!(parse_rfc3339("2024-13-20T16:08:19Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(format_rfc3339(1_716_221_299), "2024-05-20T16:08:19Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_http_date("Mon, 20 May 2024 16:08:19 GMT"),
            Some(1_716_221_299)
        );
        assert_eq!(parse_maven_timestamp("20240520160819"), Some(1_716_221_299));
    }

    fn packument() -> Value {
        json!({
            "name": "axios",
            "dist-tags": {"latest": "1.14.1", "next": "2.0.0-rc.1", "old": "1.14.0"},
            "versions": {"1.13.0": {}, "1.14.0": {}, "1.14.1": {}, "2.0.0-rc.1": {}},
            "time": {
                "created": "2014-08-29T00:00:00Z",
                "modified": "2026-12-06T17:00:00Z",
                "1.13.0": "2026-11-01T00:00:00Z",
                "1.14.0": "2026-12-01T00:00:00Z",
                "1.14.1": "2026-12-06T17:00:00Z",
                "2.0.0-rc.1": "2026-12-06T12:00:00Z"
            }
        })
    }

    #[test]
    fn packument_filter_moves_latest_to_the_newest_admitted_version() {
        let now = parse_rfc3339("2026-12-06T18:00:00Z").unwrap();
        let mut doc = packument();
        let f = filter_packument(&mut doc, "axios", &Cooldown::default(), now, None, ver);
        let held: Vec<String> = f.held.iter().map(Held::id).collect();
        assert_eq!(held, ["axios@2.0.0-rc.1", "axios@1.14.1"]);
        assert!(f.latest_moved);
        assert_eq!(f.admitted, 2);
        assert_eq!(
            doc["dist-tags"],
            json!({"latest": "1.14.0", "old": "1.14.0"})
        );
        assert!(doc["versions"].get("1.14.1").is_none());
        assert!(doc["time"].get("1.14.1").is_none());
        assert_eq!(f.held[1].clock, Clock::NpmTime);
        assert_eq!(f.held[1].age, 3600);
        let msg = f.held[1].describe(&Cooldown::default());
        assert!(
            msg.contains("1h ago") && msg.contains("packument `time`") && msg.contains("3d"),
            "{msg}"
        );
        assert_eq!(
            f.created,
            Some(parse_rfc3339("2014-08-29T00:00:00Z").unwrap())
        );
        // Without `created`, the oldest version dates the package.
        let mut doc = packument();
        doc["time"].as_object_mut().unwrap().remove("created");
        assert_eq!(
            npm_created(&doc),
            Some(parse_rfc3339("2026-11-01T00:00:00Z").unwrap())
        );
    }

    #[test]
    fn packument_filter_respects_exclude_and_off() {
        let now = parse_rfc3339("2026-12-06T18:00:00Z").unwrap();
        let mut doc = packument();
        let c = Cooldown {
            exclude: vec!["axios@1.14.1".into()],
            ..Cooldown::default()
        };
        let f = filter_packument(&mut doc, "axios", &c, now, None, ver);
        assert_eq!(f.held.len(), 1);
        assert_eq!(doc["dist-tags"]["latest"], "1.14.1");
        let mut doc = packument();
        let off = Cooldown {
            min_age: 0,
            ..Cooldown::default()
        };
        let f = filter_packument(&mut doc, "axios", &off, now, None, ver);
        assert!(f.held.is_empty());
        assert_eq!(doc, packument());
    }

    #[test]
    fn undated_versions_are_held_unless_first_seen_long_ago() {
        let dir = tempfile::tempdir().unwrap();
        let now = 100 * DAY as i64;
        let fs = FirstSeen::open(dir.path());
        let filter = |doc: &mut Value, fs: &FirstSeen, at: i64| {
            filter_packument(doc, "x", &Cooldown::default(), at, Some((fs, at)), ver)
        };
        // The first time lockgate sees the package, what it lists is the baseline.
        let mut doc = json!({"dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {}}});
        assert!(filter(&mut doc, &fs, now).held.is_empty());
        assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
        // A version that appears later waits `min-age` from when lockgate first saw it.
        let mut doc =
            json!({"dist-tags": {"latest": "1.1.0"}, "versions": {"1.0.0": {}, "1.1.0": {}}});
        let f = filter(&mut doc, &fs, now + DAY as i64);
        assert_eq!(f.held.len(), 1);
        assert_eq!(f.held[0].version.as_deref(), Some("1.1.0"));
        assert_eq!(f.held[0].clock, Clock::FirstSeen);
        assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
        fs.save().unwrap();
        let again = FirstSeen::open(dir.path());
        assert_eq!(again.record("npm:x@1.1.0", now + 5), now + DAY as i64);
        assert_eq!(again.record("npm:x@1.0.0", now + 5), 0);
        let mut doc =
            json!({"dist-tags": {"latest": "1.1.0"}, "versions": {"1.0.0": {}, "1.1.0": {}}});
        assert!(filter(&mut doc, &again, now + 5 * DAY as i64)
            .held
            .is_empty());
        // Without first-seen records nothing undated is admitted.
        let mut doc =
            json!({"dist-tags": {"latest": "1.1.0"}, "versions": {"1.0.0": {}, "1.1.0": {}}});
        let f = filter_packument(&mut doc, "x", &Cooldown::default(), now, None, ver);
        assert_eq!(f.admitted, 0);
    }

    #[test]
    fn a_lockgate_now_ahead_of_the_clock_is_said() {
        let wall = parse_rfc3339("2026-12-07T00:00:00Z").unwrap();
        let msg = ahead_warning(wall + 3 * DAY as i64, wall).unwrap();
        assert!(
            msg.contains("2026-12-10T00:00:00Z") && msg.contains("3d ahead"),
            "{msg}"
        );
        // Behind the clock (an audit of the past) holds more, not less: nothing to say.
        assert_eq!(ahead_warning(wall - DAY as i64, wall), None);
        assert_eq!(ahead_warning(wall + 30, wall), None);
    }

    #[test]
    fn undated_maven_versions_have_a_first_look_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Cooldown::default();
        let run = || {
            Watch::new(
                &policy,
                Some(dir.path()),
                Vec::new(),
                Vec::new(),
                str::to_string,
            )
            .unwrap()
        };
        let first = run();
        for v in ["1.0", "1.1"] {
            assert!(first.admit_version("g:a", v, None, Clock::LastModified));
        }
        assert!(first.verdict(0, Path::new("pom.xml")).is_empty());
        let second = run();
        assert!(second.admit_version("g:a", "1.1", None, Clock::LastModified));
        assert!(!second.admit_version("g:a", "1.2", None, Clock::LastModified));
        assert_eq!(second.held()[0].clock, Clock::FirstSeen);
        // A dated version is judged by its date, baseline or not.
        let third = run();
        let now = super::now();
        assert!(!third.admit_version("g:b", "1.0", Some(now), Clock::LastModified));
    }

    #[test]
    fn new_names_are_listed_or_all_but_the_known_ones() {
        let policy = Cooldown::default();
        let listed = |known: Option<&[&str]>| {
            let w = Watch::new(
                &policy,
                None,
                vec!["a:new".into()],
                Vec::new(),
                str::to_string,
            )
            .unwrap();
            let w = match known {
                Some(k) => w.with_known_names(k.iter().map(|n| n.to_string()).collect()),
                None => w,
            };
            (w.is_new("a:new"), w.is_new("a:other"), w.is_new("a:locked"))
        };
        assert_eq!(listed(None), (true, false, false));
        // Maven: every artifact but the lock's is an addition, transitive ones too.
        assert_eq!(listed(Some(&["a:locked"])), (true, true, false));
        assert_eq!(listed(Some(&[])), (true, true, true));
        // new-package-age "0" turns the check off either way.
        let off = Cooldown {
            new_package_age: 0,
            ..Cooldown::default()
        };
        let w = Watch::new(&off, None, Vec::new(), Vec::new(), str::to_string)
            .unwrap()
            .with_known_names(Default::default());
        assert!(!w.is_new("a:any"));
    }

    #[test]
    fn maven_metadata_loses_held_versions() {
        let xml = "<?xml version=\"1.0\"?>\n<metadata><groupId>g</groupId><artifactId>a</artifactId><versioning><latest>1.1</latest><release>1.1</release><versions><version>1.0</version><version>1.1</version></versions><lastUpdated>20240520160819</lastUpdated></versioning></metadata>";
        let (versions, last) = maven_versions(xml).unwrap();
        assert_eq!(versions, ["1.0", "1.1"]);
        assert_eq!(last, Some(1_716_221_299));
        let out = filter_maven_metadata(xml, &["1.1".into()], ver).unwrap();
        let (versions, _) = maven_versions(&out).unwrap();
        assert_eq!(versions, ["1.0"]);
        assert!(
            out.contains("<latest>1.0</latest>") && out.contains("<release>1.0</release>"),
            "{out}"
        );
        let out = filter_maven_metadata(xml, &["1.0".into(), "1.1".into()], ver).unwrap();
        assert!(
            !out.contains("<latest>") && !out.contains("<version>"),
            "{out}"
        );
    }

    #[test]
    fn files_without_upload_time_use_a_first_seen_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FirstSeen::open(dir.path());
        let now = 100 * DAY as i64;
        let c = Cooldown::default();
        let norm = str::to_string;
        let v1 = IndexFile {
            filename: "a-1.0-py3-none-any.whl",
            version: "1.0",
            upload_time: None,
        };
        // First sight: everything listed is baseline.
        assert!(filter_files(
            "a",
            std::slice::from_ref(&v1),
            &c,
            now,
            Some((&fs, now)),
            norm
        )[0]
        .is_none());
        let v2 = IndexFile {
            filename: "a-2.0-py3-none-any.whl",
            version: "2.0",
            upload_time: None,
        };
        let later = now + 3600;
        let out = filter_files(
            "a",
            &[v1.clone(), v2.clone()],
            &c,
            later,
            Some((&fs, later)),
            norm,
        );
        assert!(out[0].is_none());
        let held = out[1].as_ref().unwrap();
        assert_eq!((held.clock, held.age), (Clock::FirstSeen, 0));
        // Three days after it first appeared, 2.0 is admitted.
        let t = later + 3 * DAY as i64;
        let out = filter_files("a", &[v1, v2], &c, t, Some((&fs, t)), norm);
        assert!(out.iter().all(Option::is_none));
        // A PEP 700 upload-time wins over first-seen.
        let dated = IndexFile {
            filename: "a-3.0-py3-none-any.whl",
            version: "3.0",
            upload_time: Some("1970-04-10T23:00:00Z"),
        };
        let out = filter_files("a", &[dated], &c, now, Some((&fs, now)), norm);
        assert_eq!(out[0].as_ref().unwrap().clock, Clock::UploadTime);
    }
}
