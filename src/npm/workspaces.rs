//! The package.json files whose dependencies npm resolves for a project, beyond the root: the
//! workspaces its `workspaces` globs name (@npmcli/map-workspaces), and the folders inside the
//! project its dependencies link to (`"lib": "file:vendor/lib"`, whose own dependencies arborist
//! resolves from the registry when the folder is inside the root). The names in them are names a
//! change adds, for the typosquat and new-package checks.
//!
//! The globs are read on the safe side: `*`, `**`, `?`, `[…]` and `{a,b}` as minimatch reads
//! them; a segment with an extglob (`@(…)`) matches any segment, and negated patterns (`!…`)
//! exclude nothing. A folder matched here that npm would leave out only has its names judged too.
//!
//! [`glob_match`] and [`patterns`] are pure; [`workspace_dirs`] and [`linked_dirs`] read folders.
//! The walk goes as deep as the patterns reach (any depth under `**`), skipping `node_modules`
//! and `.git`.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::lockfile::DEP_TYPES;

/// The positive patterns of a manifest's `workspaces` (an array, or `{ "packages": [...] }`),
/// without a leading `./` or `/`.
pub fn patterns(manifest: &Value) -> Vec<String> {
    let list = match &manifest["workspaces"] {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => o
            .get("packages")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    list.iter()
        .filter_map(Value::as_str)
        .filter(|p| p.chars().take_while(|&c| c == '!').count() % 2 == 0)
        .map(|p| {
            let p = p.trim_start_matches('!').replace('\\', "/");
            let p = p.strip_prefix("./").unwrap_or(&p);
            p.trim_start_matches('/').trim_end_matches('/').to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether the relative folder `path` (`/`-separated) matches the workspace glob `pattern`.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    expand_braces(pattern).iter().any(|p| {
        let p: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        segments(&p, &s)
    })
}

/// `{a,b}` alternatives expanded (nested ones too); an unbalanced brace is literal.
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = open + 1;
    for (i, c) in pattern[open..].char_indices().map(|(i, c)| (i + open, c)) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&pattern[start..i]);
                    let (pre, post) = (&pattern[..open], &pattern[i + 1..]);
                    return parts
                        .iter()
                        .flat_map(|part| expand_braces(&format!("{pre}{part}{post}")))
                        .collect();
                }
            }
            ',' if depth == 1 => {
                parts.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    vec![pattern.to_string()]
}

fn segments(p: &[&str], s: &[&str]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
        (Some(pp), Some(ss)) => segment(pp, ss) && segments(&p[1..], &s[1..]),
        _ => false,
    }
}

/// One path segment against one glob segment: `*`, `?`, `[…]`; a leading `.` only explicitly.
fn segment(p: &str, s: &str) -> bool {
    if s.starts_with('.') && !p.starts_with('.') {
        return false;
    }
    if p.contains(['(', ')']) {
        return true; // an extglob: on the safe side, any segment
    }
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('[') => match p.iter().position(|&c| c == ']').filter(|&e| e > 1) {
                Some(end) => {
                    let Some(&c) = s.first() else { return false };
                    let class = &p[1..end];
                    let (negate, class) = match class.first() {
                        Some('!' | '^') => (true, &class[1..]),
                        _ => (false, class),
                    };
                    let mut hit = false;
                    let mut i = 0;
                    while i < class.len() {
                        if i + 2 < class.len() && class[i + 1] == '-' {
                            hit |= class[i] <= c && c <= class[i + 2];
                            i += 3;
                        } else {
                            hit |= class[i] == c;
                            i += 1;
                        }
                    }
                    hit != negate && go(&p[end + 1..], &s[1..])
                }
                None => s.first() == Some(&'[') && go(&p[1..], &s[1..]),
            },
            Some(&c) => s.first() == Some(&c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

/// How many folder levels below the root `patterns` can match: a pattern's segment count, or
/// any depth for one with `**`.
fn depth_needed(patterns: &[String]) -> usize {
    patterns
        .iter()
        .flat_map(|p| expand_braces(p))
        .map(|p| {
            if p.split('/').any(|s| s.contains("**")) {
                usize::MAX
            } else {
                p.split('/').filter(|s| !s.is_empty()).count()
            }
        })
        .max()
        .unwrap_or(0)
}

/// The folders under `root` (relative, `/`-separated) that hold a package.json and match one of
/// `patterns`, as deep as a pattern reaches. `node_modules` and `.git` are not entered; a
/// symbolic link to a folder matches like a folder (as glob returns it) but is not entered.
pub fn workspace_dirs(root: &Path, patterns: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let max_depth = depth_needed(patterns);
    let mut stack = vec![(root.to_path_buf(), String::new(), 0, true)];
    while let Some((dir, rel, depth, enter)) = stack.pop() {
        if !rel.is_empty()
            && dir.join("package.json").is_file()
            && patterns.iter().any(|p| glob_match(p, &rel))
        {
            out.push(rel.clone());
        }
        if !enter || depth >= max_depth {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "node_modules" || name == ".git" {
                continue;
            }
            let link = e.file_type().is_ok_and(|t| t.is_symlink());
            if e.path().is_dir() {
                let rel = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                stack.push((e.path(), rel, depth + 1, !link));
            }
        }
    }
    out.sort();
    out
}

/// The folders inside `root` that `manifest` (the package.json in `dir`, relative to `root`)
/// links to through its dependencies (`file:…` or a path), relative to `root`. Folders outside
/// the project are left out: npm does not resolve their dependencies.
pub fn linked_dirs(root: &Path, dir: &str, manifest: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in DEP_TYPES {
        let Some(deps) = manifest.get(t).and_then(Value::as_object) else {
            continue;
        };
        for spec in deps.values().filter_map(Value::as_str) {
            if let Some(rel) = folder_in_project(root, dir, spec) {
                out.insert(rel);
            }
        }
    }
    out
}

/// The folder inside `root` a dependency spec (or an `npm install` argument, with `dir` the
/// project itself) names, relative to `root`; None for anything else.
pub fn folder_in_project(root: &Path, dir: &str, spec: &str) -> Option<String> {
    let lower = spec.to_ascii_lowercase();
    let path = if lower.starts_with("file:") {
        &spec[5..]
    } else if spec.starts_with(['.', '/']) || spec.starts_with("~/") {
        spec
    } else {
        return None;
    };
    if path.starts_with('~') {
        return None; // the home folder is not in the project
    }
    let base = if path.starts_with('/') {
        PathBuf::new()
    } else {
        root.join(dir)
    };
    let full = normalize(&base.join(path));
    let rel = full.strip_prefix(normalize(root)).ok()?;
    full.join("package.json").is_file().then(|| {
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    })
}

/// `a/./b/../c` → `a/c`, without touching the filesystem.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_read_as_minimatch_reads_them_on_the_safe_side() {
        assert!(glob_match("packages/*", "packages/a"));
        assert!(!glob_match("packages/*", "packages/a/b"));
        assert!(glob_match("packages/**", "packages/a/b"));
        assert!(glob_match("apps/web", "apps/web"));
        assert!(glob_match("libs/ui-*", "libs/ui-kit"));
        assert!(!glob_match("libs/ui-*", "libs/core"));
        assert!(glob_match("packages/{a,b}", "packages/b"));
        assert!(!glob_match("packages/{a,b}", "packages/c"));
        assert!(glob_match("{apps,libs/{x,y}}/*", "libs/y/z"));
        assert!(glob_match("pkg-?", "pkg-1"));
        assert!(glob_match("pkg-[0-9]", "pkg-7"));
        assert!(!glob_match("pkg-[!0-9]", "pkg-7"));
        assert!(glob_match("packages/@(a|b)", "packages/zzz"));
        assert!(!glob_match("packages/*", "packages/.hidden"));
    }

    #[test]
    fn workspace_patterns_negations_exclude_nothing() {
        let m =
            json!({"workspaces": ["./packages/*", "!packages/private", "!!apps/*", "/tools/x/"]});
        assert_eq!(patterns(&m), ["packages/*", "apps/*", "tools/x"]);
        let m = json!({"workspaces": {"packages": ["a/*"]}});
        assert_eq!(patterns(&m), ["a/*"]);
        assert!(patterns(&json!({"workspaces": "a"})).is_empty());
    }

    #[test]
    fn workspace_and_linked_folders_are_found() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for dir in [
            "packages/a",
            "packages/b/nested",
            "node_modules/x",
            "vendor/lib",
            ".git/y",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join("package.json"), "{}").unwrap();
        }
        assert_eq!(
            workspace_dirs(root, &["packages/**".into()]),
            ["packages/a", "packages/b/nested"]
        );
        // Deep ones, and a folder reached through a symbolic link (matched, not entered).
        let deep = "a/b/c/d/e/f/g/h/i/j";
        std::fs::create_dir_all(root.join(deep)).unwrap();
        std::fs::write(root.join(deep).join("package.json"), "{}").unwrap();
        assert_eq!(workspace_dirs(root, &["a/**".into()]), [deep]);
        std::os::unix::fs::symlink(root.join("vendor/lib"), root.join("packages/linked")).unwrap();
        assert_eq!(
            workspace_dirs(root, &["packages/*".into()]),
            ["packages/a", "packages/linked"]
        );
        assert_eq!(depth_needed(&["packages/{a,b/c}".into()]), 3);
        let m = json!({"dependencies": {"lib": "file:../../vendor/lib", "x": "^1", "out": "file:../../../elsewhere"},
                       "devDependencies": {"same": "./"}});
        assert_eq!(
            linked_dirs(root, "packages/a", &m)
                .into_iter()
                .collect::<Vec<_>>(),
            ["packages/a", "vendor/lib"]
        );
        assert_eq!(
            folder_in_project(root, "", "./vendor/lib").as_deref(),
            Some("vendor/lib")
        );
        assert_eq!(folder_in_project(root, "", "vendor/lib"), None);
        assert_eq!(folder_in_project(root, "", "./nope"), None);
    }
}
