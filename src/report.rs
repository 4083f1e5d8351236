//! Counters (Prometheus textfile) and the audit log (JSON lines): every decision is recorded.
//!
//! Counters use the seed's names and labels. They accumulate across runs: on flush the existing
//! file is read, this run's increments are added, and the result is written to a temp file and
//! renamed, all under an exclusive `flock` on `<file>.lock`, so concurrent runs never lose counts
//! and readers never see a half-written file. Audit lines are appended with one `write` each.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::finding::{Finding, Kind};

pub const DOWNLOADS: &str = "registry_package_download_total";
pub const CONFUSION: &str = "registry_confusion_attempt_detected_total";
pub const AUTH_FAILURES: &str = "registry_auth_failure_total";
pub const INTEGRITY_FAILURES: &str = "registry_integrity_verification_failure_total";
pub const SCRIPTS_BLOCKED: &str = "ci_postinstall_script_blocked_total";
pub const MALICIOUS_BLOCKED: &str = "registry_malicious_package_blocked_total";

const HELP: &[(&str, &str)] = &[
    (DOWNLOADS, "Artifacts lockgate downloaded and verified, by registry, package, version and source (internal/public)."),
    (CONFUSION, "Internal package names seen coming from, or offered by, a non-internal source."),
    (AUTH_FAILURES, "Registry requests rejected with 401/403 or refused for missing credentials."),
    (INTEGRITY_FAILURES, "Artifacts whose bytes did not match the locked hash."),
    (SCRIPTS_BLOCKED, "Install scripts lockgate kept from running."),
    (MALICIOUS_BLOCKED, "Package versions refused because the malicious-package feed (OSV MAL-) lists them."),
];

/// One series: metric name plus its rendered label set.
type Series = (String, String);

/// Cheap to clone; all clones share the pending counts and the audit file.
#[derive(Clone, Default)]
pub struct Reporter {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    metrics_path: Option<PathBuf>,
    audit_path: Option<PathBuf>,
    tool: String,
    pending: Mutex<BTreeMap<Series, u64>>,
    audit: Mutex<Option<File>>,
}

impl Reporter {
    /// From `LOCKGATE_METRICS_FILE` and `LOCKGATE_AUDIT_LOG`; either may be unset.
    pub fn from_env(tool: &str) -> Reporter {
        let path = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Reporter::new(
            tool,
            path("LOCKGATE_METRICS_FILE"),
            path("LOCKGATE_AUDIT_LOG"),
        )
    }

    /// Counters to `metrics_path`, decisions to `audit_path`; either may be `None`.
    pub fn new(tool: &str, metrics_path: Option<PathBuf>, audit_path: Option<PathBuf>) -> Reporter {
        Reporter {
            inner: Arc::new(Inner {
                metrics_path,
                audit_path,
                tool: tool.to_string(),
                ..Inner::default()
            }),
        }
    }

    pub fn count(&self, metric: &str, labels: &[(&str, &str)]) {
        let key = (metric.to_string(), render_labels(labels));
        *self.inner.pending.lock().unwrap().entry(key).or_default() += 1;
    }

    /// Record one decision. `event` is an object; `ts`, `tool` and `pid` are added.
    pub fn audit(&self, decision: &str, mut event: Value) {
        let Some(path) = &self.inner.audit_path else {
            return;
        };
        if let Value::Object(map) = &mut event {
            map.insert("ts".into(), json!(rfc3339_now()));
            map.insert("tool".into(), json!(self.inner.tool));
            map.insert("decision".into(), json!(decision));
            map.insert("pid".into(), json!(std::process::id()));
        }
        let mut line = event.to_string();
        line.push('\n');
        let mut guard = self.inner.audit.lock().unwrap();
        if guard.is_none() {
            *guard = OpenOptions::new().create(true).append(true).open(path).ok();
        }
        if let Some(f) = guard.as_mut() {
            if let Err(e) = f.write_all(line.as_bytes()) {
                eprintln!(
                    "lockgate: warning: cannot write the audit log {}: {e}",
                    path.display()
                );
            }
        }
    }

    /// Refuse when any finding is an error: each one is written to the audit log, confusion
    /// attempts and known-malicious versions are counted, and the returned error lists them all
    /// (warnings pass).
    pub fn refuse_on_errors(&self, findings: &[Finding]) -> Result<()> {
        let errors: Vec<Finding> = findings.iter().filter(|f| f.is_error()).cloned().collect();
        if errors.is_empty() {
            return Ok(());
        }
        for f in &errors {
            if f.kind == Kind::Confusion {
                self.count(CONFUSION, &[("package", package_of(&f.package))]);
            }
            if let Some(l) = &f.listed {
                let labels = [
                    ("package", l.name.as_str()),
                    ("version", &l.version),
                    ("id", &l.id),
                ];
                self.count(MALICIOUS_BLOCKED, &labels);
            }
            self.audit(
                "refuse",
                json!({"reason": f.kind.id(), "package": f.package, "message": f.message}),
            );
        }
        Err(Error::Refused { findings: errors })
    }

    /// Add this run's counts to the metrics file. Failures are warnings: they must not turn a
    /// correct install into a failure, but they are not silent either.
    pub fn flush(&self) {
        let Some(path) = &self.inner.metrics_path else {
            return;
        };
        let pending = std::mem::take(&mut *self.inner.pending.lock().unwrap());
        if let Err(e) = add_to_file(path, &pending) {
            eprintln!(
                "lockgate: warning: cannot update the metrics file {}: {e}",
                path.display()
            );
        }
    }
}

/// The package name in a finding's label: `name@version` (npm, scoped names included) or
/// `name==version` (pip).
fn package_of(label: &str) -> &str {
    let label = label.split("==").next().unwrap_or(label);
    label
        .rsplit_once('@')
        .filter(|(n, _)| !n.is_empty())
        .map_or(label, |(n, _)| n)
}

fn add_to_file(path: &Path, pending: &BTreeMap<Series, u64>) -> std::io::Result<()> {
    use nix::fcntl::{Flock, FlockArg};
    let lock_path = path.with_extension("lock");
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    let mut all = match fs::read_to_string(path) {
        Ok(text) => parse_textfile(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    for (k, v) in pending {
        *all.entry(k.clone()).or_default() += v;
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(render_textfile(&all).as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Render `{a="x",b="y"}` with the text format's escapes; empty for no labels.
pub fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let body: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Parse the samples of a textfile we wrote (comments skipped, unknown lines ignored).
pub fn parse_textfile(text: &str) -> BTreeMap<Series, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.find('{') {
            Some(i) => (&series[..i], &series[i..]),
            None => (series, ""),
        };
        *out.entry((name.to_string(), labels.to_string()))
            .or_default() += v as u64;
    }
    out
}

pub fn render_textfile(all: &BTreeMap<Series, u64>) -> String {
    let mut out = String::new();
    let mut last = "";
    for ((name, labels), v) in all {
        if name != last {
            let help = HELP
                .iter()
                .find(|(n, _)| n == name)
                .map_or("lockgate counter", |h| h.1);
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            last = name;
        }
        out.push_str(&format!("{name}{labels} {v}\n"));
    }
    out
}

/// Current UTC time as RFC 3339 with milliseconds, without a date crate.
pub fn rfc3339_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_roundtrip() {
        let l = render_labels(&[("package", "a\"b\\c"), ("version", "1.0.0")]);
        assert_eq!(l, r#"{package="a\"b\\c",version="1.0.0"}"#);
        let mut m = BTreeMap::new();
        m.insert((CONFUSION.to_string(), l.clone()), 2);
        m.insert((DOWNLOADS.to_string(), String::new()), 5);
        let text = render_textfile(&m);
        assert!(text.contains("# TYPE registry_confusion_attempt_detected_total counter"));
        assert_eq!(parse_textfile(&text), m);
    }

    #[test]
    fn flush_accumulates_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        for _ in 0..2 {
            let r = Reporter {
                inner: Arc::new(Inner {
                    metrics_path: Some(path.clone()),
                    ..Inner::default()
                }),
            };
            r.count(CONFUSION, &[("package", "@myorg/a")]);
            r.count(CONFUSION, &[("package", "@myorg/a")]);
            r.flush();
        }
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("registry_confusion_attempt_detected_total{package=\"@myorg/a\"} 4"),
            "{text}"
        );
    }

    #[test]
    fn package_names_from_finding_labels() {
        assert_eq!(package_of("@myorg/pay@99.0.0"), "@myorg/pay");
        assert_eq!(package_of("left-pad@1.3.0"), "left-pad");
        assert_eq!(
            package_of("myorg-payments-client==1.2.3"),
            "myorg-payments-client"
        );
        assert_eq!(package_of("@myorg/pay"), "@myorg/pay");
    }

    #[test]
    fn timestamp_shape() {
        let t = rfc3339_now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
