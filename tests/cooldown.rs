//! The release-age cooldown and the new-package check (`[cooldown]`, exit 28) on the loopback
//! testbed: real Verdaccio, pypiserver, npm, pip and the lockgate binary.
//!
//! Ages are controlled as a fixture step: after `npm publish`, the `time` map in Verdaccio's
//! storage (`<name>/package.json`) is rewritten to say when each version was "published";
//! Verdaccio serves it from there on the next request. Each scenario shows the plain tool first
//! (it takes the brand-new version) and then lockgate holding. The sandbox's usual
//! `LOCKGATE_NOW` (a date far ahead, so other tests' fresh fixtures pass) is removed here.

mod common;

use std::fs;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::{tools, uniq, Sandbox};
use serde_json::Value;

const TOKEN_VAR: &str = "INTERNAL_NPM_TOKEN";
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

fn rfc3339_ago(secs: u64) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - secs;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%S.000Z"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Rewrites the `time` map of `name` in Verdaccio's storage: each version to `now - age`, and
/// `created` to `now - created_ago`, `modified` to the newest.
fn set_ages(reg: &NpmRegistries, name: &str, created_ago: u64, ages: &[(&str, u64)]) {
    let path = reg.public.packument_path(name);
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let time = doc["time"].as_object_mut().expect("verdaccio records time");
    for (v, age) in ages {
        time.insert(v.to_string(), rfc3339_ago(*age).into());
    }
    time.insert("created".into(), rfc3339_ago(created_ago).into());
    let newest = ages.iter().map(|(_, a)| *a).min().unwrap_or(created_ago);
    time.insert("modified".into(), rfc3339_ago(newest).into());
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// `lib` 1.0.0 (10 days old) and 1.1.0 (1 hour old), and `parent` 1.0.0 (old) that depends on
/// `lib@^1.0.0`: the shape of the axios compromise (a hijacked release of a trusted package,
/// reached directly or transitively).
fn hijacked_release(reg: &NpmRegistries) -> (String, String) {
    let lib = uniq("axioslike");
    let parent = uniq("uses-axioslike");
    for v in ["1.0.0", "1.1.0"] {
        reg.public
            .publish(&reg.attacker_token, &NpmPackage::new(&lib, v));
    }
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&parent, "1.0.0").dependency(&lib, "^1.0.0"),
    );
    set_ages(
        reg,
        &lib,
        400 * DAY,
        &[("1.0.0", 10 * DAY), ("1.1.0", HOUR)],
    );
    set_ages(reg, &parent, 400 * DAY, &[("1.0.0", 100 * DAY)]);
    (lib, parent)
}

fn sandbox(reg: &NpmRegistries, extra_policy: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.remove_env("LOCKGATE_NOW");
    sb.npmrc(&format!("registry={}", reg.public.url));
    sb.set_env(TOKEN_VAR, reg.internal_token.as_str());
    sb.write(
        "lockgate.toml",
        format!(
            "[npm]\nregistry = \"{}\"\n[npm.internal]\nregistry = \"{}\"\nscopes = [\"@myorg\"]\ntoken-env = \"{TOKEN_VAR}\"\n{extra_policy}",
            reg.public.url, reg.internal.url
        ),
    );
    sb.write(
        "package.json",
        r#"{"name": "app", "version": "1.0.0", "dependencies": {}}"#,
    );
    sb
}

fn installed_version(sb: &Sandbox, name: &str) -> Option<String> {
    let text = fs::read_to_string(sb.path(format!("node_modules/{name}/package.json"))).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["version"]
        .as_str()
        .map(str::to_string)
}

fn plain_npm(sb: &Sandbox, reg: &NpmRegistries) -> Command {
    let mut cmd = sb.cmd(&tools().npm);
    cmd.arg(format!("--registry={}", reg.public.url));
    cmd
}

#[test]
fn npm_route_mode_picks_the_newest_version_old_enough_plain_npm_takes_the_new_one() {
    let reg = npm_registries();
    let (lib, parent) = hijacked_release(reg);

    // Plain npm: the hour-old release, directly and transitively.
    let plain = sandbox(reg, "");
    plain
        .run(plain_npm(&plain, reg).args(["install", "--ignore-scripts", &lib, &parent]))
        .ok();
    assert_eq!(installed_version(&plain, &lib).as_deref(), Some("1.1.0"));

    // lockgate: the newest version at least 3 days old, for the direct and the transitive use.
    let sb = sandbox(reg, "");
    let run = sb.run(sb.shim("npm").args(["install", &parent])).ok();
    assert_eq!(installed_version(&sb, &parent).as_deref(), Some("1.0.0"));
    assert_eq!(installed_version(&sb, &lib).as_deref(), Some("1.0.0"));
    assert!(
        run.stderr.contains(&format!("{lib}@1.1.0")) && run.stderr.contains("held back"),
        "{run}"
    );
    let run = sb.run(sb.shim("npm").args(["install", &lib])).ok();
    assert_eq!(
        installed_version(&sb, &lib).as_deref(),
        Some("1.0.0"),
        "{run}"
    );
    let manifest: Value = serde_json::from_str(&sb.read("package.json")).unwrap();
    assert_eq!(manifest["dependencies"][&lib], "^1.0.0");

    // The cooldown off: lockgate resolves like npm.
    let off = sandbox(reg, "[cooldown]\nmin-age = \"0\"\n");
    off.run(off.shim("npm").args(["install", &lib])).ok();
    assert_eq!(installed_version(&off, &lib).as_deref(), Some("1.1.0"));
}

#[test]
fn npm_explicit_too_young_version_is_refused_with_28_unless_excluded() {
    let reg = npm_registries();
    let (lib, _) = hijacked_release(reg);

    let plain = sandbox(reg, "");
    plain
        .run(plain_npm(&plain, reg).args(["install", "--ignore-scripts", &format!("{lib}@1.1.0")]))
        .ok();
    assert_eq!(installed_version(&plain, &lib).as_deref(), Some("1.1.0"));

    let sb = sandbox(reg, "");
    let before = sb.read("package.json");
    let run = sb
        .run(sb.shim("npm").args(["install", &format!("{lib}@1.1.0")]))
        .code_is(28);
    for needle in [
        format!("{lib}@1.1.0"),
        "published 1h".to_string(),
        "packument `time`".to_string(),
        "3d".to_string(),
        "[cooldown] exclude".to_string(),
    ] {
        assert!(run.stderr.contains(&needle), "{needle}\n{run}");
    }
    assert_eq!(installed_version(&sb, &lib), None);
    assert_eq!(sb.read("package.json"), before, "package.json restored");
    assert!(!sb.exists("package-lock.json"));

    // Reviewed and admitted early.
    let ok = sandbox(reg, &format!("[cooldown]\nexclude = [\"{lib}@1.1.0\"]\n"));
    ok.run(ok.shim("npm").args(["install", &format!("{lib}@1.1.0")]))
        .ok();
    assert_eq!(installed_version(&ok, &lib).as_deref(), Some("1.1.0"));
}

#[test]
fn npm_new_package_is_refused_with_28_internal_names_are_exempt() {
    let reg = npm_registries();
    // A name registered 5 days ago (its one version passes the 3-day cooldown): a slopsquat.
    let fresh = uniq("huggingface-cli-js");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&fresh, "1.0.0"));
    set_ages(reg, &fresh, 5 * DAY, &[("1.0.0", 5 * DAY)]);

    let plain = sandbox(reg, "");
    plain
        .run(plain_npm(&plain, reg).args(["install", "--ignore-scripts", &fresh]))
        .ok();
    assert_eq!(installed_version(&plain, &fresh).as_deref(), Some("1.0.0"));

    let sb = sandbox(reg, "");
    let run = sb.run(sb.shim("npm").args(["install", &fresh])).code_is(28);
    assert!(
        run.stderr.contains(&fresh)
            && run.stderr.contains("first published 5d")
            && run.stderr.contains("new-package-age"),
        "{run}"
    );
    assert_eq!(installed_version(&sb, &fresh), None);

    // An internal package published a moment ago installs at once: internal names are never
    // delayed, and are never "new" to the cooldown.
    let internal = format!("@myorg/{}", uniq("fresh-internal"));
    reg.internal
        .publish(&reg.internal_token, &NpmPackage::new(&internal, "1.0.0"));
    sb.run(sb.shim("npm").args(["install", &internal])).ok();
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.0.0"));

    // A public package published a moment ago is held (nothing old enough) → 28.
    let brand_new = uniq("brand-new");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&brand_new, "1.0.0"));
    let run = sb
        .run(sb.shim("npm").args(["install", &brand_new]))
        .code_is(28);
    assert!(run.stderr.contains(&brand_new), "{run}");
}
