//! Install scripts: which locked packages may run theirs (via `npm rebuild`) and which are blocked.
//!
//! npm always runs with `--ignore-scripts`. Afterwards, packages the lockfile marks
//! `hasInstallScript` are either on `[npm.scripts] allow` (a name, or `name@version` to pin the
//! version whose script was reviewed) and rebuilt with a scrubbed environment, or counted and
//! listed as blocked. Pure decision; the rebuild itself is run by the npm flow.

use super::lockfile::Lockfile;
use super::plan::Plan;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Specs for `npm rebuild` (`name` or `name@version`).
    pub rebuild: Vec<String>,
    /// `name@version` of packages whose scripts did not run.
    pub blocked: Vec<String>,
}

pub fn decide(lock: &Lockfile, plan: &Plan, allow: &[String]) -> Decision {
    let mut d = Decision::default();
    let mut installed: Vec<usize> = plan.items.iter().map(|p| p.entry).collect();
    installed.sort_unstable();
    installed.dedup();
    for i in installed {
        let e = &lock.entries[i];
        if !e.has_install_script {
            continue;
        }
        let id = e.id();
        let allowed = allow.iter().any(|a| a == &e.name || a == &id);
        let list = if allowed {
            &mut d.rebuild
        } else {
            &mut d.blocked
        };
        let spec = if allowed && allow.contains(&id) {
            id
        } else if allowed {
            e.name.clone()
        } else {
            id
        };
        if !list.contains(&spec) {
            list.push(spec);
        }
    }
    d
}

/// The notice printed when scripts were blocked.
pub fn blocked_notice(blocked: &[String]) -> String {
    let names: Vec<&str> = blocked
        .iter()
        .map(|b| {
            b.rsplit_once('@')
                .filter(|(n, _)| !n.is_empty())
                .map_or(b.as_str(), |(n, _)| n)
        })
        .collect();
    format!(
        "lockgate: install scripts blocked for {} package{}: {}. If a package really needs its script, review it and allow it in lockgate.toml: [npm.scripts] allow = [{}]",
        blocked.len(),
        if blocked.len() == 1 { "" } else { "s" },
        blocked.join(", "),
        names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npm::lockfile::parse;
    use crate::npm::plan::{plan, Sources, Target};
    use std::path::Path;

    #[test]
    fn allowlist_by_name_or_exact_version() {
        let sha = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";
        let text = r#"{"lockfileVersion": 3, "packages": {"": {},
            "node_modules/esbuild": {"version": "0.19.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/@myorg/native-addon": {"version": "1.4.1", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/evil": {"version": "1.0.0", "hasInstallScript": true, "integrity": "SHA"},
            "node_modules/plain": {"version": "1.0.0", "integrity": "SHA"}}}"#
            .replace("SHA", sha);
        let lock = parse(&text, Path::new("l")).unwrap();
        let src = Sources {
            public: reqwest::Url::parse("https://registry.npmjs.org/").unwrap(),
            internal: Default::default(),
            allow_non_registry: vec![],
        };
        let target = Target::any();
        let p = plan(&lock, &src, &target);
        let allow = vec![
            "esbuild".to_string(),
            "@myorg/native-addon@1.4.0".to_string(),
        ];
        let d = decide(&lock, &p, &allow);
        assert_eq!(d.rebuild, ["esbuild"]);
        // The reviewed version was 1.4.0; 1.4.1's script is not approved.
        assert_eq!(d.blocked, ["@myorg/native-addon@1.4.1", "evil@1.0.0"]);
        let n = blocked_notice(&d.blocked);
        assert!(
            n.contains("allow = [\"@myorg/native-addon\", \"evil\"]"),
            "{n}"
        );
    }
}
