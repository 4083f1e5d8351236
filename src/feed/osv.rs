//! The parts of the OSV schema (<https://ossf.github.io/osv-schema/>) the malicious-package feed
//! reads, as serde structs, and the schema's rule for "is this version affected". Pure.
//!
//! Unknown fields are ignored on purpose: OSV adds fields between schema versions
//! (`database_specific`, `credits`, `severity`…) and a feed update must not break on them. What
//! lockgate relies on is typed: `id`, `affected[].package.{ecosystem,name}`, `versions`, `ranges`
//! of type `SEMVER` / `ECOSYSTEM` with `introduced` / `fixed` / `last_affected` / `limit` events,
//! and `withdrawn`. A record that does not match these types is a malformed archive.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// One OSV record (one file of an `all.zip`).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    /// Set when the record was retracted: it no longer blocks anything.
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<Package>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
}

/// A version range: `type` is `SEMVER`, `ECOSYSTEM` or `GIT` (commit hashes, which say nothing
/// about registry versions and are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One event; the schema allows exactly one of the four keys per event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

impl Range {
    /// Whether the range covers registry versions at all (not `GIT`).
    pub fn is_versioned(&self) -> bool {
        self.kind == "SEMVER" || self.kind == "ECOSYSTEM"
    }

    /// Whether `version` is inside the range, under the ecosystem's ordering `cmp` (`None` when
    /// two versions cannot be compared). The schema's algorithm: events in version order, each
    /// `introduced` opens an interval that the next `fixed` (exclusive) or `last_affected`
    /// (inclusive) closes; `introduced: "0"` is before every version. A version lockgate cannot
    /// order against a bound counts as affected only when the range is "every version".
    pub fn contains(&self, version: &str, cmp: &dyn Fn(&str, &str) -> Option<Ordering>) -> bool {
        if !self.is_versioned() {
            return false;
        }
        let mut open: Option<&str> = None;
        let at_or_after =
            |bound: &str| bound == "0" || cmp(version, bound).is_some_and(Ordering::is_ge);
        for e in &self.events {
            if let Some(i) = &e.introduced {
                open = Some(i);
            } else if let Some(f) = &e.fixed {
                if let Some(i) = open.take() {
                    if at_or_after(i) && cmp(version, f).is_some_and(Ordering::is_lt) {
                        return true;
                    }
                }
            } else if let Some(l) = &e.last_affected {
                if let Some(i) = open.take() {
                    if at_or_after(i) && cmp(version, l).is_some_and(Ordering::is_le) {
                        return true;
                    }
                }
            } else if let Some(l) = &e.limit {
                if let Some(i) = open.take() {
                    if at_or_after(i) && cmp(version, l).is_some_and(Ordering::is_lt) {
                        return true;
                    }
                }
            }
        }
        open.is_some_and(at_or_after)
    }

    /// The first `fixed` version of the range, the nearest clean release the record names.
    pub fn fixed(&self) -> Option<&str> {
        self.events.iter().find_map(|e| e.fixed.as_deref())
    }

    /// `introduced: "0"` and nothing after: every version of the package.
    pub fn is_everything(&self) -> bool {
        self.is_versioned()
            && self
                .events
                .iter()
                .any(|e| e.introduced.as_deref() == Some("0"))
            && self
                .events
                .iter()
                .all(|e| e.fixed.is_none() && e.last_affected.is_none() && e.limit.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(a: &str, b: &str) -> Option<Ordering> {
        Some(a.parse::<u32>().ok()?.cmp(&b.parse::<u32>().ok()?))
    }

    fn range(events: &[(&str, &str)]) -> Range {
        Range {
            kind: "SEMVER".into(),
            events: events
                .iter()
                .map(|(k, v)| {
                    let v = Some(v.to_string());
                    match *k {
                        "introduced" => Event {
                            introduced: v,
                            ..Event::default()
                        },
                        "fixed" => Event {
                            fixed: v,
                            ..Event::default()
                        },
                        "last_affected" => Event {
                            last_affected: v,
                            ..Event::default()
                        },
                        _ => Event {
                            limit: v,
                            ..Event::default()
                        },
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn parses_a_real_record() {
        let text = include_str!("testdata/MAL-2025-46974.json");
        let r: Record = serde_json::from_str(text).unwrap();
        assert_eq!(r.id, "MAL-2025-46974");
        assert_eq!(r.affected[0].package.as_ref().unwrap().name, "debug");
        assert_eq!(r.affected[0].versions, ["4.4.2"]);
        assert!(r.withdrawn.is_none());
    }

    #[test]
    fn ranges_follow_the_schema() {
        let r = range(&[
            ("introduced", "3"),
            ("fixed", "5"),
            ("introduced", "7"),
            ("last_affected", "8"),
        ]);
        let hits: Vec<u32> = (0..10)
            .filter(|v| r.contains(&v.to_string(), &num))
            .collect();
        assert_eq!(hits, [3, 4, 7, 8]);
        assert_eq!(r.fixed(), Some("5"));
        let all = range(&[("introduced", "0")]);
        assert!(all.contains("1", &num) && all.contains("not-a-number", &num));
        assert!(all.is_everything() && !r.is_everything());
        // Versions that cannot be ordered are not guessed into a bounded range.
        assert!(!r.contains("x", &num));
        let open_ended = range(&[("introduced", "4")]);
        assert!(open_ended.contains("9", &num) && !open_ended.contains("3", &num));
        let git = Range {
            kind: "GIT".into(),
            ..range(&[("introduced", "0")])
        };
        assert!(!git.contains("1", &num));
    }
}
