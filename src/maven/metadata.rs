//! `maven-metadata.xml` synthesized from the lock: what the locked gate answers when Maven asks
//! which versions of an artifact exist (version ranges, `RELEASE`/`LATEST`, plugins without a
//! version), which build a snapshot is (version level) or which plugin a prefix names (group level).
//!
//! Repository metadata changes whenever anything is published, so it is not locked (Maven's own
//! trusted checksums skip it too). Instead the gate lists only what the lock holds — the npm
//! flow's synthesized packuments, for Maven: a range resolves to the highest locked version in
//! it, never to a version someone published since, and an internal artifact's versions are never
//! merged with a public repository's.
//!
//! A version is listed when the lock has its POM. Snapshot metadata names, per classifier and
//! extension, the newest timestamped file the lock has. Group metadata lists plugins by Maven's
//! naming convention (`maven-X-plugin` and `X-maven-plugin` have prefix `X`), the only way to
//! tell a plugin from a path. Since a path cannot tell group-level from artifactId-level metadata
//! (`org/apache/maven/plugins` is group `org.apache.maven.plugins` and artifact
//! `org.apache.maven:plugins`), one document carries both when both exist, as real repositories do.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::coords::{Coords, FileKind, METADATA_FILE};
use super::lock::Lock;

/// The documents for every metadata path the lock can answer, by path.
#[derive(Debug, Default)]
pub struct Synthesized {
    docs: BTreeMap<String, String>,
}

impl Synthesized {
    /// The document for a `…/maven-metadata.xml` path, if the lock has anything there.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.docs.get(path).map(String::as_str)
    }
}

/// What one metadata directory lists.
#[derive(Debug, Default)]
struct Dir {
    /// `(groupId, artifactId)` when artifacts live below (artifact level) or here (version level).
    artifact: Option<(String, String)>,
    /// Version level: the snapshot version directory.
    version: Option<String>,
    versions: Vec<String>,
    /// Version level: `(classifier, extension)` → newest timestamped file version.
    snapshots: BTreeMap<(String, String), String>,
    /// Group level: `(prefix, artifactId)`.
    plugins: Vec<(String, String)>,
}

/// Builds every document the lock supports. Paths that are not artifacts are ignored (the
/// plan rejects them before the gate is built).
pub fn synthesize(lock: &Lock) -> Synthesized {
    let mut dirs: BTreeMap<String, Dir> = BTreeMap::new();
    for (path, _) in lock.iter() {
        let Ok(c) = Coords::parse(path) else { continue };
        let (
            FileKind::Artifact {
                file_version,
                classifier,
                extension,
            },
            Some(version),
        ) = (&c.file, &c.version)
        else {
            continue;
        };
        if c.signature || c.checksum.is_some() {
            continue;
        }
        let group_dir = c.group_id.replace('.', "/");
        let artifact_dir = format!("{group_dir}/{}", c.artifact_id);
        if extension == "pom" && classifier.is_none() {
            let dir = dirs.entry(artifact_dir.clone()).or_default();
            dir.artifact = Some((c.group_id.clone(), c.artifact_id.clone()));
            if !dir.versions.contains(version) {
                dir.versions.push(version.clone());
            }
        }
        if extension == "jar" && classifier.is_none() {
            if let Some(prefix) = plugin_prefix(&c.artifact_id) {
                let plugins = &mut dirs.entry(group_dir).or_default().plugins;
                if !plugins.iter().any(|(_, a)| *a == c.artifact_id) {
                    plugins.push((prefix.to_string(), c.artifact_id.clone()));
                }
            }
        }
        if version.ends_with("SNAPSHOT") && file_version != version {
            let dir = dirs.entry(format!("{artifact_dir}/{version}")).or_default();
            dir.artifact = Some((c.group_id.clone(), c.artifact_id.clone()));
            dir.version = Some(version.clone());
            let key = (classifier.clone().unwrap_or_default(), extension.clone());
            let newest = dir
                .snapshots
                .entry(key)
                .or_insert_with(|| file_version.clone());
            if snapshot_build(file_version) > snapshot_build(newest) {
                *newest = file_version.clone();
            }
        }
    }
    let docs = dirs
        .into_iter()
        .map(|(dir, d)| (format!("{dir}/{METADATA_FILE}"), render(&d)))
        .collect();
    Synthesized { docs }
}

/// The goal prefix Maven's convention gives a plugin artifactId.
fn plugin_prefix(artifact_id: &str) -> Option<&str> {
    let prefix = artifact_id
        .strip_prefix("maven-")
        .and_then(|p| p.strip_suffix("-plugin"))
        .or_else(|| artifact_id.strip_suffix("-maven-plugin"))?;
    (!prefix.is_empty()).then_some(prefix)
}

/// `1.0-20240131.120501-17` → (`20240131.120501`, 17), for ordering snapshot builds.
fn snapshot_build(file_version: &str) -> (String, u64) {
    let mut parts = file_version.rsplitn(3, '-');
    let build = parts.next().and_then(|b| b.parse().ok()).unwrap_or(0);
    let timestamp = parts.next().unwrap_or_default().to_string();
    (timestamp, build)
}

fn render(d: &Dir) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n",
    );
    if let Some((group, artifact)) = &d.artifact {
        out.push_str(&format!(
            "  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n",
            esc(group),
            esc(artifact)
        ));
    }
    if let Some(version) = &d.version {
        let newest = d
            .snapshots
            .values()
            .max_by_key(|v| snapshot_build(v))
            .cloned()
            .unwrap_or_default();
        let (timestamp, build) = snapshot_build(&newest);
        let updated = timestamp.replace('.', "");
        out.push_str(&format!(
            "  <version>{}</version>\n  <versioning>\n    <snapshot>\n      <timestamp>{timestamp}</timestamp>\n      <buildNumber>{build}</buildNumber>\n    </snapshot>\n    <lastUpdated>{updated}</lastUpdated>\n    <snapshotVersions>\n",
            esc(version)
        ));
        for ((classifier, extension), value) in &d.snapshots {
            out.push_str("      <snapshotVersion>\n");
            if !classifier.is_empty() {
                out.push_str(&format!(
                    "        <classifier>{}</classifier>\n",
                    esc(classifier)
                ));
            }
            out.push_str(&format!(
                "        <extension>{}</extension>\n        <value>{}</value>\n        <updated>{}</updated>\n      </snapshotVersion>\n",
                esc(extension),
                esc(value),
                snapshot_build(value).0.replace('.', "")
            ));
        }
        out.push_str("    </snapshotVersions>\n  </versioning>\n");
    } else if !d.versions.is_empty() {
        let mut versions = d.versions.clone();
        versions.sort_by(|a, b| compare_versions(a, b));
        let latest = versions.last().cloned().unwrap_or_default();
        out.push_str(&format!(
            "  <versioning>\n    <latest>{}</latest>\n",
            esc(&latest)
        ));
        if let Some(release) = versions.iter().rev().find(|v| !v.ends_with("SNAPSHOT")) {
            out.push_str(&format!("    <release>{}</release>\n", esc(release)));
        }
        out.push_str("    <versions>\n");
        for v in &versions {
            out.push_str(&format!("      <version>{}</version>\n", esc(v)));
        }
        out.push_str("    </versions>\n  </versioning>\n");
    }
    if !d.plugins.is_empty() {
        out.push_str("  <plugins>\n");
        for (prefix, artifact) in &d.plugins {
            out.push_str(&format!(
                "    <plugin>\n      <name>{0}</name>\n      <prefix>{1}</prefix>\n      <artifactId>{0}</artifactId>\n    </plugin>\n",
                esc(artifact),
                esc(prefix)
            ));
        }
        out.push_str("  </plugins>\n");
    }
    out.push_str("</metadata>\n");
    out
}

/// One piece of a Maven version: a number, or a qualifier ranked as Maven's ComparableVersion
/// ranks them (`alpha` < `beta` < `milestone` < `rc` < `snapshot` < release < `sp` < others).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    Qualifier(u8, String),
    Number(u64),
}

fn items(version: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let lower = version.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut start = 0;
    for i in 0..=bytes.len() {
        let boundary = i == bytes.len()
            || matches!(bytes[i], b'.' | b'-' | b'_')
            || (i > start && bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit());
        if !boundary {
            continue;
        }
        let token = &lower[start..i];
        if !token.is_empty() {
            out.push(match token.parse() {
                Ok(n) => Item::Number(n),
                Err(_) => qualifier(token),
            });
        }
        start = if i < bytes.len() && matches!(bytes[i], b'.' | b'-' | b'_') {
            i + 1
        } else {
            i
        };
    }
    // `1.0.0` = `1`, `1.0-ga` = `1` and `2.0-rc1` = `2-rc1`: zeros before the end or a qualifier,
    // and a release marker at the end, say nothing. From the end, so removals cascade.
    for i in (0..out.len()).rev() {
        let removable = match &out[i] {
            Item::Number(0) => matches!(out.get(i + 1), None | Some(Item::Qualifier(..))),
            Item::Qualifier(RELEASE, _) => i + 1 == out.len(),
            _ => false,
        };
        if removable {
            out.remove(i);
        }
    }
    out
}

const RELEASE: u8 = 5;

fn qualifier(token: &str) -> Item {
    let rank = match token {
        "alpha" | "a" => 0,
        "beta" | "b" => 1,
        "milestone" | "m" => 2,
        "rc" | "cr" => 3,
        "snapshot" => 4,
        "ga" | "final" | "release" => RELEASE,
        "sp" => 6,
        _ => 7,
    };
    Item::Qualifier(
        rank,
        if rank == 7 {
            token.to_string()
        } else {
            String::new()
        },
    )
}

/// Orders versions as Maven does for the common shapes (`1.9` < `1.10`, `2.0-rc1` < `2.0` <
/// `2.0-sp1`, `1.0-SNAPSHOT` < `1.0`): item by item, a missing item counting as a release.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (a, b) = (items(a), items(b));
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(x), None) => against_release(x),
            (None, Some(y)) => against_release(y).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// How an item compares with nothing (a plain release): numbers and `sp` are after it,
/// pre-release qualifiers before.
fn against_release(item: &Item) -> Ordering {
    match item {
        Item::Number(_) => Ordering::Greater,
        Item::Qualifier(rank, _) => rank.cmp(&RELEASE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maven::lock::{parse, Sha256};
    use crate::maven::xml;
    use std::path::Path;

    fn lock(paths: &[&str]) -> Lock {
        let text: String = paths
            .iter()
            .map(|p| format!("{}  {p}\n", Sha256([7; 32])))
            .collect();
        parse(&text, Path::new("l")).unwrap()
    }

    fn texts<'a>(root: &'a xml::Element, list: &str, item: &'a str) -> Vec<&'a str> {
        let Some(l) = root.child("versioning").and_then(|v| v.child(list)) else {
            return vec![];
        };
        l.children_named(item).map(|e| e.text.trim()).collect()
    }

    #[test]
    fn versions_order_like_maven() {
        let mut v = vec![
            "1.10",
            "1.2.3",
            "99.0.0",
            "1.9",
            "2.0-rc1",
            "2.0",
            "2.0-SNAPSHOT",
            "2.0-sp1",
            "2.0-alpha-2",
            "2.0.1",
            "1.2.3-jre",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "1.2.3",
                "1.2.3-jre",
                "1.9",
                "1.10",
                "2.0-alpha-2",
                "2.0-rc1",
                "2.0-SNAPSHOT",
                "2.0",
                "2.0-sp1",
                "2.0.1",
                "99.0.0"
            ]
        );
        assert_eq!(compare_versions("1.0.0", "1"), Ordering::Equal);
        assert_eq!(compare_versions("1.0-ga", "1.0"), Ordering::Equal);
        assert_eq!(
            compare_versions("2.0.0-SNAPSHOT", "2-SNAPSHOT"),
            Ordering::Equal
        );
        assert_eq!(compare_versions("2.0.0-SNAPSHOT", "2.0"), Ordering::Less);
        assert_eq!(
            compare_versions("4.1.100.Final", "4.1.99.Final"),
            Ordering::Greater
        );
    }

    #[test]
    fn artifact_level_lists_locked_versions_only() {
        let s = synthesize(&lock(&[
            "com/myorg/payments-client/1.2.3/payments-client-1.2.3.pom",
            "com/myorg/payments-client/1.2.3/payments-client-1.2.3.jar",
            "com/myorg/payments-client/1.10.0/payments-client-1.10.0.pom",
            "com/myorg/payments-client/1.10.0/payments-client-1.10.0-sources.jar",
            // A jar without its POM is no resolvable version.
            "com/myorg/payments-client/2.0.0/payments-client-2.0.0.jar",
        ]));
        let doc = s
            .get("com/myorg/payments-client/maven-metadata.xml")
            .unwrap();
        let root = xml::parse(doc).unwrap();
        assert_eq!(root.child_text("groupId"), Some("com.myorg"));
        assert_eq!(root.child_text("artifactId"), Some("payments-client"));
        assert_eq!(texts(&root, "versions", "version"), ["1.2.3", "1.10.0"]);
        let versioning = root.child("versioning").unwrap();
        assert_eq!(versioning.child_text("release"), Some("1.10.0"));
        assert_eq!(versioning.child_text("latest"), Some("1.10.0"));
        assert!(s.get("com/myorg/maven-metadata.xml").is_none());
        assert!(s.get("com/myorg/other/maven-metadata.xml").is_none());
    }

    #[test]
    fn group_level_names_plugins_by_convention_and_merges_with_artifact_level() {
        let s = synthesize(&lock(&[
            "org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.jar",
            "org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.pom",
            "org/apache/maven/plugins/maven-plugins/36/maven-plugins-36.pom",
            "org/apache/maven/plugins/1/plugins-1.pom",
            "org/codehaus/mojo/versions-maven-plugin/2.16.0/versions-maven-plugin-2.16.0.jar",
        ]));
        let root = xml::parse(
            s.get("org/apache/maven/plugins/maven-metadata.xml")
                .unwrap(),
        )
        .unwrap();
        let plugins: Vec<(&str, &str)> = root
            .child("plugins")
            .unwrap()
            .children
            .iter()
            .map(|p| {
                (
                    p.child_text("prefix").unwrap(),
                    p.child_text("artifactId").unwrap(),
                )
            })
            .collect();
        assert_eq!(plugins, [("jar", "maven-jar-plugin")]);
        // The same file is also artifact `org.apache.maven:plugins`.
        assert_eq!(root.child_text("artifactId"), Some("plugins"));
        assert_eq!(texts(&root, "versions", "version"), ["1"]);
        let mojo = xml::parse(s.get("org/codehaus/mojo/maven-metadata.xml").unwrap()).unwrap();
        assert_eq!(
            mojo.child("plugins")
                .unwrap()
                .child("plugin")
                .unwrap()
                .child_text("prefix"),
            Some("versions")
        );
        assert_eq!(mojo.child("versioning"), None);
    }

    #[test]
    fn snapshot_level_names_the_newest_locked_build_per_file() {
        let s = synthesize(&lock(&[
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17.pom",
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-17.jar",
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-20240201.090000-18.jar",
            "com/myorg/core/1.0-SNAPSHOT/core-1.0-20240131.120501-9-tests.jar",
        ]));
        let root = xml::parse(
            s.get("com/myorg/core/1.0-SNAPSHOT/maven-metadata.xml")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(root.child_text("version"), Some("1.0-SNAPSHOT"));
        let versioning = root.child("versioning").unwrap();
        let snapshot = versioning.child("snapshot").unwrap();
        assert_eq!(snapshot.child_text("timestamp"), Some("20240201.090000"));
        assert_eq!(snapshot.child_text("buildNumber"), Some("18"));
        let values: Vec<(Option<&str>, &str, &str)> = versioning
            .child("snapshotVersions")
            .unwrap()
            .children
            .iter()
            .map(|v| {
                (
                    v.child_text("classifier"),
                    v.child_text("extension").unwrap(),
                    v.child_text("value").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            values,
            [
                (None, "jar", "1.0-20240201.090000-18"),
                (None, "pom", "1.0-20240131.120501-17"),
                (Some("tests"), "jar", "1.0-20240131.120501-9"),
            ]
        );
        // The artifact level has no release: its only version is a snapshot.
        let a = xml::parse(s.get("com/myorg/core/maven-metadata.xml").unwrap()).unwrap();
        assert_eq!(
            a.child("versioning").unwrap().child_text("latest"),
            Some("1.0-SNAPSHOT")
        );
        assert_eq!(a.child("versioning").unwrap().child("release"), None);
    }

    #[test]
    fn prefixes_follow_the_naming_convention() {
        assert_eq!(plugin_prefix("maven-surefire-plugin"), Some("surefire"));
        assert_eq!(plugin_prefix("exec-maven-plugin"), Some("exec"));
        assert_eq!(plugin_prefix("maven-plugin"), None);
        assert_eq!(plugin_prefix("guava"), None);
    }
}
