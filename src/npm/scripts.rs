//! Install scripts: which installed packages may run theirs and which are blocked.
//!
//! npm always runs with `--ignore-scripts`. Afterwards, each installed lockfile entry marked
//! `hasInstallScript` is either approved by `[npm.scripts] allow` (a name, or `name@version` to
//! pin the version whose script was reviewed) or counted and listed as blocked. The decision is
//! made per install *path*, by the entry's real name (an alias's target) and version: a
//! `node_modules/x/node_modules/esbuild` that is really `npm:evil@1.0.0` is `evil` and stays
//! blocked, whatever its folder is called. The approved paths are then rebuilt one by one by path
//! (never by name, which npm matches against folder names at any depth), in a
//! [`crate::sandbox::Sandbox`]. Pure decision; the rebuild itself is run by the npm flow.

use super::lockfile::{Entry, Lockfile};
use super::plan::Plan;

/// One install path whose scripts are approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved {
    /// The lockfile path (`node_modules/a/node_modules/b`), relative to the project.
    pub path: String,
    /// `name@version` by the real name.
    pub id: String,
    /// `[npm.scripts] network` lists it: the script keeps the network.
    pub network: bool,
}

impl Approved {
    /// The `npm rebuild` argument that selects exactly this folder: a directory spec, which npm
    /// matches against the node's path, never against a name.
    pub fn spec(&self) -> String {
        format!("./{}", self.path)
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Paths to rebuild, shallowest first (npm's own build order).
    pub rebuild: Vec<Approved>,
    /// `name@version` of packages whose scripts did not run.
    pub blocked: Vec<String>,
}

/// Whether `list` names `e` by its real name or real `name@version`.
fn listed(list: &[String], e: &Entry) -> bool {
    let id = e.id();
    list.iter().any(|a| *a == e.name || *a == id)
}

pub fn decide(lock: &Lockfile, plan: &Plan, allow: &[String], network: &[String]) -> Decision {
    let mut d = Decision::default();
    let mut installed: Vec<usize> = plan.items.iter().map(|p| p.entry).collect();
    installed.sort_unstable();
    installed.dedup();
    for i in installed {
        let e = &lock.entries[i];
        // Bundled folders never run scripts (npm skips them too); local links are the project's.
        if !e.has_install_script || e.in_bundle || e.local {
            continue;
        }
        let id = e.id();
        if listed(allow, e) {
            d.rebuild.push(Approved {
                path: e.path.clone(),
                id,
                network: listed(network, e),
            });
        } else if !d.blocked.contains(&id) {
            d.blocked.push(id);
        }
    }
    d.rebuild.sort_by(|a, b| {
        let depth = |p: &str| p.matches("node_modules/").count();
        depth(&a.path)
            .cmp(&depth(&b.path))
            .then_with(|| a.path.cmp(&b.path))
    });
    d
}

/// The notice printed when scripts were blocked.
pub fn blocked_notice(blocked: &[String]) -> String {
    let names: Vec<&str> = blocked.iter().map(|b| name_of(b)).collect();
    format!(
        "lockgate: install scripts blocked for {} package{}: {}. If a package really needs its script, review it and allow it in lockgate.toml: [npm.scripts] allow = [{}]",
        blocked.len(),
        if blocked.len() == 1 { "" } else { "s" },
        blocked.join(", "),
        names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
    )
}

/// The name in `name@version` (scoped names keep their leading `@`).
pub fn name_of(id: &str) -> &str {
    id.rsplit_once('@')
        .filter(|(n, _)| !n.is_empty())
        .map_or(id, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npm::lockfile::parse;
    use crate::npm::plan::{plan, Sources, Target};
    use std::path::Path;

    const SHA: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";

    fn decide_on(text: &str, allow: &[&str], network: &[&str]) -> Decision {
        let lock = parse(&text.replace("SHA", SHA), Path::new("l")).unwrap();
        let src = Sources {
            public: reqwest::Url::parse("https://registry.npmjs.org/").unwrap(),
            internal: Default::default(),
            allow_non_registry: vec![],
        };
        let p = plan(&lock, &src, &Target::any());
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        decide(&lock, &p, &s(allow), &s(network))
    }

    #[test]
    fn allowlist_by_name_or_exact_version() {
        let d = decide_on(
            r#"{"lockfileVersion": 3, "packages": {"": {},
            "node_modules/esbuild": {"version": "0.19.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/@myorg/native-addon": {"version": "1.4.1", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/evil": {"version": "1.0.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/plain": {"version": "1.0.0", "integrity": "SHA"}}}"#,
            &["esbuild", "@myorg/native-addon@1.4.0"],
            &[],
        );
        assert_eq!(
            d.rebuild,
            [Approved {
                path: "node_modules/esbuild".into(),
                id: "esbuild@0.19.0".into(),
                network: false
            }]
        );
        assert_eq!(d.rebuild[0].spec(), "./node_modules/esbuild");
        // The reviewed version was 1.4.0; 1.4.1's script is not approved.
        assert_eq!(d.blocked, ["@myorg/native-addon@1.4.1", "evil@1.0.0"]);
        let n = blocked_notice(&d.blocked);
        assert!(
            n.contains("allow = [\"@myorg/native-addon\", \"evil\"]"),
            "{n}"
        );
    }

    #[test]
    fn an_alias_folder_named_like_an_approved_package_stays_blocked() {
        // issue 8: `"esbuild": "npm:evil@1.0.0"` deep in the tree. Its folder is called esbuild;
        // it is evil, and only the real esbuild's own path is rebuilt.
        let d = decide_on(
            r#"{"lockfileVersion": 3, "packages": {"": {},
            "node_modules/esbuild": {"version": "0.19.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/tool": {"version": "1.0.0", "integrity": "SHA"},
            "node_modules/tool/node_modules/esbuild": {"name": "evil", "version": "1.0.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/other/node_modules/esbuild": {"version": "0.18.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/other": {"version": "1.0.0", "integrity": "SHA"}}}"#,
            &["esbuild"],
            &["esbuild@0.18.0"],
        );
        let paths: Vec<(&str, bool)> = d
            .rebuild
            .iter()
            .map(|a| (a.path.as_str(), a.network))
            .collect();
        assert_eq!(
            paths,
            [
                ("node_modules/esbuild", false),
                ("node_modules/other/node_modules/esbuild", true)
            ]
        );
        assert_eq!(d.blocked, ["evil@1.0.0"]);
        assert_eq!(name_of("@s/a@1.0.0"), "@s/a");
    }
}
