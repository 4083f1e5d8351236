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
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::maven::{
    maven_project, maven_repos, maven_settings, MavenArtifact, MavenRepo, MavenRepos,
    INTERNAL_MAVEN_USER,
};
use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::process::{spawn_server, test_root, ServerProcess};
use common::proxy::{Fault, FaultProxy};
use common::pypi::{build_wheel, installed_version as pip_installed, PypiServer};
use common::sandbox::{base_env, command_with_env};
use common::{tools, uniq, Sandbox};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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
    sandbox_at(reg, &reg.public.url, extra_policy)
}

/// [`sandbox`] with the public registry at `public` (a proxy in front of `reg.public`).
fn sandbox_at(reg: &NpmRegistries, public: &str, extra_policy: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.remove_env("LOCKGATE_NOW");
    sb.npmrc(&format!("registry={public}"));
    sb.set_env(TOKEN_VAR, reg.internal_token.as_str());
    sb.write(
        "lockgate.toml",
        format!(
            "[npm]\nregistry = \"{public}\"\n[npm.internal]\nregistry = \"{}\"\nscopes = [\"@myorg\"]\ntoken-env = \"{TOKEN_VAR}\"\n{extra_policy}",
            reg.internal.url
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
    // The same name, and a new scoped one, through `npm:` aliases of every shape npm reads
    // (without a name of its own, any letter case, a scoped target).
    let scoped = format!("@{}/qzvbxk", uniq("qzvbxk"));
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&scoped, "1.0.0"));
    set_ages(reg, &scoped, 5 * DAY, &[("1.0.0", 5 * DAY)]);
    for (spec, name) in [
        (format!("npm:{fresh}@1.0.0"), &fresh),
        (format!("hf@NPM:{fresh}"), &fresh),
        (format!("tool@npm:{scoped}@1.0.0"), &scoped),
        (format!("npm:{scoped}"), &scoped),
    ] {
        let run = sb.run(sb.shim("npm").args(["install", &spec])).code_is(28);
        assert!(
            run.stderr
                .contains(&format!("{name} was first published 5d")),
            "{spec}\n{run}"
        );
        assert!(!sb.exists("node_modules/hf") && !sb.exists("node_modules/tool"));
        assert_eq!(installed_version(&sb, name), None);
    }

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

/// A registry that publishes no `time` (several private ones do; pnpm's cooldown fails there with
/// ERR_PNPM_MISSING_TIME): lockgate's first-seen record is the clock, as with pypiserver. What a
/// package lists the first time lockgate sees it installs; a version published after that is
/// held until lockgate has known it for `min-age`, and asking for it is refused (28).
#[test]
fn npm_first_seen_clock_when_the_registry_publishes_no_time() {
    let reg = npm_registries();
    let name = uniq("untimed");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&name, "1.0.0"));
    let untimed = FaultProxy::start(&reg.public.url, Fault::Untimed);
    let fresh_project = |sb: &Sandbox| {
        let _ = fs::remove_dir_all(sb.path("node_modules"));
        let _ = fs::remove_file(sb.path("package-lock.json"));
        sb.write(
            "package.json",
            r#"{"name": "app", "version": "1.0.0", "dependencies": {}}"#,
        );
    };

    let mut sb = sandbox_at(reg, &untimed.url, "");
    let run = sb.run(sb.shim("npm").args(["install", &name])).ok();
    assert_eq!(
        installed_version(&sb, &name).as_deref(),
        Some("1.0.0"),
        "{run}"
    );
    let seen = fs::read_to_string(sb.root().join("lockgate-cache/first-seen.json")).unwrap();
    assert!(seen.contains(&format!("npm:{name}@1.0.0")), "{seen}");

    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&name, "1.1.0"));
    let plain = sandbox_at(reg, &untimed.url, "");
    plain
        .run(
            plain
                .cmd(&tools().npm)
                .arg(format!("--registry={}", untimed.url))
                .args(["install", "--ignore-scripts", &name]),
        )
        .ok();
    assert_eq!(installed_version(&plain, &name).as_deref(), Some("1.1.0"));

    fresh_project(&sb);
    let run = sb.run(sb.shim("npm").args(["install", &name])).ok();
    assert_eq!(
        installed_version(&sb, &name).as_deref(),
        Some("1.0.0"),
        "{run}"
    );
    assert!(
        run.stderr.contains(&format!("{name}@1.1.0")) && run.stderr.contains("held back"),
        "{run}"
    );
    let run = sb
        .run(sb.shim("npm").args(["install", &format!("{name}@1.1.0")]))
        .code_is(28);
    assert!(run.stderr.contains("first-seen"), "{run}");
    assert_eq!(installed_version(&sb, &name).as_deref(), Some("1.0.0"));

    // Judged three days later (LOCKGATE_NOW), 1.1.0 has been known long enough.
    let t = Command::new("date")
        .args(["-u", "-d", "+3 days 1 hour", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    sb.set_env("LOCKGATE_NOW", String::from_utf8(t.stdout).unwrap().trim());
    let run = sb
        .run(sb.shim("npm").args(["install", &format!("{name}@1.1.0")]))
        .ok();
    assert_eq!(
        installed_version(&sb, &name).as_deref(),
        Some("1.1.0"),
        "{run}"
    );
    assert!(run.stderr.contains("LOCKGATE_NOW"), "said: {run}");
    assert!(
        untimed.requests().iter().any(|r| r.path.contains(&name)),
        "the packuments came through the untimed registry"
    );
}

/// `overrides` can put any registry package in place of a dependency's dependency through an
/// `npm:` alias; the alias target is a name the manifest change adds, judged like a dependency:
/// a 5-day-old package as the override of an established library is refused (28).
#[test]
fn npm_an_override_alias_is_a_new_name() {
    let reg = npm_registries();
    let (lib, parent) = hijacked_release(reg);
    let fresh = uniq("lib-fork");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&fresh, "1.0.0"));
    set_ages(reg, &fresh, 5 * DAY, &[("1.0.0", 5 * DAY)]);
    let manifest = json!({
        "name": "app", "version": "1.0.0",
        "dependencies": {&parent: "1.0.0"},
        "overrides": {&lib: format!("npm:{fresh}@1.0.0")}
    })
    .to_string();

    let plain = sandbox(reg, "");
    plain.write("package.json", &manifest);
    plain
        .run(plain_npm(&plain, reg).args(["install", "--ignore-scripts"]))
        .ok();
    let text = plain.read(format!("node_modules/{lib}/package.json"));
    assert!(
        text.contains(&fresh),
        "npm put {fresh} in place of {lib}: {text}"
    );

    let sb = sandbox(reg, "");
    sb.write("package.json", &manifest);
    let run = sb.run(sb.shim("npm").args(["install"])).code_is(28);
    assert!(
        run.stderr
            .contains(&format!("{fresh} was first published 5d")),
        "{run}"
    );
    assert!(!sb.exists("node_modules"), "{run}");
}

/// The gate dates every public tarball it serves, even one npm asks for without the packument
/// (a tarball URL given to `npm install`): the hour-old release is refused (28) as a cooldown
/// hold. And `npm install -g` takes registry packages only: a folder, a URL, or a bare
/// `npm install -g` (the current folder) is refused (20) before npm runs, since no lockfile or
/// plan would check what npm fetched for it.
#[test]
fn npm_tarball_urls_are_dated_and_global_installs_take_registry_packages_only() {
    let reg = npm_registries();
    let (lib, _) = hijacked_release(reg);
    let url = format!(
        "{}/{lib}/-/{lib}-1.1.0.tgz",
        reg.public.url.trim_end_matches('/')
    );
    let sb = sandbox(reg, "");
    let run = sb.run(sb.shim("npm").args(["install", &url])).code_is(28);
    assert!(
        run.stderr.contains(&format!("{lib}@1.1.0")) && run.stderr.contains("published 1h"),
        "{run}"
    );
    assert!(!sb.exists("node_modules"));

    let mut sb = sandbox(reg, "");
    let prefix = sb.root().join("global");
    sb.set_env("npm_config_prefix", &prefix);
    sb.write(
        "tool/package.json",
        r#"{"name": "tool", "version": "1.0.0", "dependencies": {"expres": "*"}}"#,
    );
    for args in [
        vec!["install", "-g", "./tool"],
        vec!["install", "-g", url.as_str()],
        vec!["install", "-g"],
    ] {
        let run = sb.run(sb.shim("npm").args(&args)).code_is(20);
        assert!(
            run.stderr.contains("registry packages only"),
            "{args:?}\n{run}"
        );
        assert!(!prefix.join("lib/node_modules").exists(), "{args:?}");
    }
    // A registry package still installs globally, the newest version old enough.
    sb.run(sb.shim("npm").args(["install", "-g", &lib])).ok();
    let installed =
        fs::read_to_string(prefix.join(format!("lib/node_modules/{lib}/package.json"))).unwrap();
    assert!(installed.contains("\"1.0.0\""), "{installed}");
}

/// The Renovate/Dependabot case: a pull request bumps the lockfile to an hour-old release, and
/// adds a direct dependency registered 5 days ago. `lockgate check --cooldown` fails the build;
/// plain `lockgate check` (offline) has nothing to say about ages.
#[test]
fn check_cooldown_reports_a_lockfile_bumped_to_a_too_young_version() {
    let reg = npm_registries();
    let (lib, _) = hijacked_release(reg);
    let fresh = uniq("qzv-newdep");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&fresh, "1.0.0"));
    set_ages(reg, &fresh, 5 * DAY, &[("1.0.0", 5 * DAY)]);

    let sb = sandbox(reg, "");
    let lock = |spec: &str| {
        sb.run(plain_npm(&sb, reg).args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            spec,
        ]))
        .ok();
    };
    lock(&format!("{lib}@1.0.0"));
    sb.run(sb.lockgate().args(["check", "--cooldown"])).ok();

    lock(&format!("{lib}@1.1.0"));
    lock(&fresh);
    let offline = sb.run(sb.lockgate().arg("check"));
    assert_ne!(offline.code(), Some(28), "{offline}");
    let run = sb
        .run(sb.lockgate().args(["check", "--cooldown"]))
        .code_is(28);
    assert!(
        run.stdout.contains(&format!("{lib}@1.1.0")) && run.stdout.contains("published 1h"),
        "{run}"
    );
    assert!(
        run.stdout.contains(&fresh) && run.stdout.contains("first published 5d"),
        "{run}"
    );
    let json = sb
        .run(
            sb.lockgate()
                .args(["check", "--cooldown", "--format", "json"]),
        )
        .code_is(28);
    assert!(json.stdout.contains("\"too-new\""), "{json}");

    // A registry answer that is no packument (a login page in the way) is an error, not a
    // version the registry "publishes no time" for.
    let portal = FaultProxy::start(&reg.public.url, Fault::Pass);
    let sb = sandbox_at(reg, &portal.url, "");
    sb.run(
        sb.cmd(&tools().npm)
            .arg(format!("--registry={}", portal.url))
            .args([
                "install",
                "--package-lock-only",
                "--ignore-scripts",
                &format!("{lib}@1.0.0"),
            ]),
    )
    .ok();
    sb.run(sb.lockgate().args(["check", "--cooldown"])).ok();
    portal.set_fault(Fault::Portal);
    // (`--offline`: the install's own lookup of each locked file would stop at it first.)
    let run = sb
        .run(sb.lockgate().args(["check", "--offline", "--cooldown"]))
        .code_is(27);
    assert!(run.output().contains("not a packument"), "{run}");
}

/// The registry's metadata separates established near-names from squats: `babylonjs` (next to
/// `babylon`) and `is-email` (next to `isemail`) have existed for years and install; a look-alike
/// first published days ago is refused as a typosquat (24).
#[test]
fn established_near_names_pass_new_look_alikes_are_refused() {
    let reg = npm_registries();
    for name in ["babylonjs", "is-email"] {
        reg.public
            .publish(&reg.attacker_token, &NpmPackage::new(name, "1.0.0"));
        set_ages(reg, name, 3000 * DAY, &[("1.0.0", 2000 * DAY)]);
    }
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new("chalk-js", "1.0.0"));
    set_ages(reg, "chalk-js", 5 * DAY, &[("1.0.0", 5 * DAY)]);

    let sb = sandbox(reg, "");
    for name in ["babylonjs", "is-email"] {
        let run = sb.run(sb.shim("npm").args(["install", name])).ok();
        assert_eq!(
            installed_version(&sb, name).as_deref(),
            Some("1.0.0"),
            "{run}"
        );
        assert!(run.stderr.contains("established"), "{run}");
    }
    let run = sb
        .run(sb.shim("npm").args(["install", "chalk-js"]))
        .code_is(24);
    assert!(run.stderr.contains("did you mean `chalk`"), "{run}");
}

/// `lockgate check` judges a direct dependency as the install does: online, an established
/// look-alike of a popular name (`momentt`, years old) is a warning and a young name that only the
/// age-gated rules catch (`moment-lite`, days old) is refused (24); `--offline` keeps the
/// name-only verdict (the first an error, the second unseen).
#[test]
fn check_dates_direct_look_alikes_as_the_install_does() {
    let reg = npm_registries();
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new("momentt", "1.0.0"));
    set_ages(reg, "momentt", 3000 * DAY, &[("1.0.0", 3000 * DAY)]);
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("moment-lite", "1.0.0"),
    );
    set_ages(reg, "moment-lite", 5 * DAY, &[("1.0.0", 5 * DAY)]);
    let sb = sandbox(reg, "");
    sb.run(plain_npm(&sb, reg).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
        "momentt",
        "moment-lite",
    ]))
    .ok();

    let offline = sb
        .run(
            sb.lockgate()
                .args(["check", "--offline", "--format", "json"]),
        )
        .code_is(24);
    let doc: Value = serde_json::from_str(&offline.stdout).unwrap();
    let typo = |doc: &Value, name: &str| -> Option<String> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "typosquat" && f["package"] == name)
            .map(|f| f["severity"].as_str().unwrap().to_string())
    };
    assert_eq!(typo(&doc, "momentt").as_deref(), Some("error"), "{offline}");
    assert_eq!(typo(&doc, "moment-lite"), None, "{offline}");

    let online = sb
        .run(sb.lockgate().args(["check", "--format", "json"]))
        .code_is(24);
    let doc: Value = serde_json::from_str(&online.stdout).unwrap();
    assert_eq!(
        typo(&doc, "momentt").as_deref(),
        Some("warning"),
        "{online}"
    );
    assert_eq!(
        typo(&doc, "moment-lite").as_deref(),
        Some("error"),
        "{online}"
    );
    assert!(
        online.stdout.contains("established")
            && online.stdout.contains("is new (first published 5d"),
        "{online}"
    );
}

/// The broad young-name rules through the real binary: `plain-crypto-js` (a real 2026 squat of
/// `crypto-js`), published 5 days ago, is refused as a typosquat (24) before anything is fetched,
/// while plain npm installs it; a name of the same shape that the registry says is 200 days old
/// installs, because words added to a popular name refuse only names under 90 days
/// (`[typosquat] young-window`).
#[test]
fn npm_broad_rules_refuse_only_very_young_names() {
    let reg = npm_registries();
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("plain-crypto-js", "1.0.0"),
    );
    set_ages(reg, "plain-crypto-js", 5 * DAY, &[("1.0.0", 5 * DAY)]);
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("crypto-js-extras", "1.0.0"),
    );
    set_ages(reg, "crypto-js-extras", 200 * DAY, &[("1.0.0", 200 * DAY)]);
    let sb = sandbox(reg, "");
    sb.run(plain_npm(&sb, reg).args(["install", "--ignore-scripts", "plain-crypto-js"]))
        .ok();
    assert_eq!(
        installed_version(&sb, "plain-crypto-js").as_deref(),
        Some("1.0.0")
    );
    fs::remove_dir_all(sb.path("node_modules")).unwrap();
    fs::remove_file(sb.path("package-lock.json")).unwrap();
    sb.write("package.json", r#"{"name":"app","version":"1.0.0"}"#);

    let run = sb
        .run(sb.shim("npm").args(["install", "plain-crypto-js"]))
        .code_is(24);
    assert!(
        run.stderr.contains("`crypto-js` (words added)")
            && run.stderr.contains("is new (first published 5d"),
        "{run}"
    );
    assert!(!sb.exists("node_modules/plain-crypto-js"));
    let run = sb
        .run(sb.shim("npm").args(["install", "crypto-js-extras"]))
        .ok();
    assert_eq!(
        installed_version(&sb, "crypto-js-extras").as_deref(),
        Some("1.0.0"),
        "{run}"
    );

    // 40 days old: past the new-package check, inside the broad rules' 90 days; a policy
    // that sets `[typosquat] young-window = "30d"` admits it.
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("crypto-js-tools", "1.0.0"),
    );
    set_ages(reg, "crypto-js-tools", 40 * DAY, &[("1.0.0", 40 * DAY)]);
    let run = sb
        .run(sb.shim("npm").args(["install", "crypto-js-tools"]))
        .code_is(24);
    assert!(run.stderr.contains("first published 40d"), "{run}");
    // A new scope lends no standing: a 40-day-old look-alike under a scope no popular package
    // uses is judged like the bare name.
    let scoped = format!("@{}/crypto-jss", uniq("qzv-scope"));
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&scoped, "1.0.0"));
    set_ages(reg, &scoped, 40 * DAY, &[("1.0.0", 40 * DAY)]);
    let run = sb
        .run(sb.shim("npm").args(["install", &scoped]))
        .code_is(24);
    assert!(
        run.stderr.contains("`crypto-js`") && run.stderr.contains("first published 40d"),
        "{run}"
    );
    assert!(!sb.exists(format!("node_modules/{scoped}")));
    let sb = sandbox(reg, "[typosquat]\nyoung-window = \"30d\"\n");
    sb.run(sb.shim("npm").args(["install", "crypto-js-tools"]))
        .ok();
    assert_eq!(
        installed_version(&sb, "crypto-js-tools").as_deref(),
        Some("1.0.0")
    );
}

// ----- pip -----

/// A static PEP 691 index: `simple/<name>/index.html` holds the JSON page (served as
/// `application/vnd.pypi.simple.v1+json` by a plain static file server), files under `files/`.
struct StaticIndex {
    root: std::path::PathBuf,
    url: String,
    _process: ServerProcess,
}

impl StaticIndex {
    fn start() -> StaticIndex {
        let root = test_root().join(uniq("pep691"));
        fs::create_dir_all(root.join("files")).unwrap();
        let script = "import functools,http.server as h,sys\n\
                      H=h.SimpleHTTPRequestHandler\n\
                      H.extensions_map={'.html':'application/vnd.pypi.simple.v1+json','':'application/octet-stream'}\n\
                      h.ThreadingHTTPServer(('127.0.0.1',int(sys.argv[1])),functools.partial(H,directory=sys.argv[2])).serve_forever()\n";
        let dir = root.clone();
        let process = spawn_server("static-index", &root, "/files/", |port| {
            let mut cmd = command_with_env(&tools().venv_python, &base_env());
            cmd.args(["-c", script, &port.to_string()]).arg(&dir);
            cmd
        });
        let url = format!("http://127.0.0.1:{}/simple/", process.port);
        StaticIndex {
            root,
            url,
            _process: process,
        }
    }

    /// Publishes `name`'s page: each wheel with its PEP 700 `upload-time` (`age` seconds ago).
    fn page(&self, name: &str, files: &[(&std::path::Path, u64)]) {
        let entries: Vec<Value> = files
            .iter()
            .map(|(f, age)| {
                let file = f.file_name().unwrap().to_str().unwrap();
                fs::copy(f, self.root.join("files").join(file)).unwrap();
                let sha: String = Sha256::digest(fs::read(f).unwrap())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                json!({"filename": file, "url": format!("../../files/{file}"),
                       "hashes": {"sha256": sha}, "upload-time": rfc3339_ago(*age)})
            })
            .collect();
        let dir = self.root.join("simple").join(name);
        fs::create_dir_all(&dir).unwrap();
        let page = json!({"meta": {"api-version": "1.1"}, "name": name, "files": entries});
        fs::write(dir.join("index.html"), page.to_string()).unwrap();
    }
}

fn pip_sandbox(index: &str, extra_policy: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.remove_env("LOCKGATE_NOW");
    sb.write(
        "lockgate.toml",
        format!("[pip]\nindex-url = \"{index}\"\n{extra_policy}"),
    );
    sb
}

fn plain_pip(sb: &Sandbox, index: &str, args: &[&str]) -> Command {
    let mut cmd = sb.cmd(&tools().pip);
    cmd.args(["install", "--index-url", index]).args(args);
    cmd
}

fn guarded_pip(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.shim("pip");
    cmd.arg("install").args(args);
    cmd
}

#[test]
fn pip_pep691_upload_time_holds_the_new_release_and_refuses_explicit_pins_and_new_names() {
    let index = StaticIndex::start();
    let name = uniq("coolpkg");
    let (old, new) = (
        build_wheel(&name, "1.0", &[]),
        build_wheel(&name, "2.0", &[]),
    );
    index.page(&name, &[(&old, 40 * DAY), (&new, HOUR)]);

    let sb = pip_sandbox(&index.url, "");
    sb.run(&mut plain_pip(
        &sb,
        &index.url,
        &["--target", "plain", &name],
    ))
    .ok();
    assert_eq!(
        pip_installed(&sb.path("plain"), &name).as_deref(),
        Some("2.0")
    );

    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "guarded", &name]))
        .ok();
    assert_eq!(
        pip_installed(&sb.path("guarded"), &name).as_deref(),
        Some("1.0"),
        "{run}"
    );
    assert!(run.stderr.contains("held back"), "{run}");

    let pin = format!("{name}==2.0");
    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "pinned", &pin]))
        .code_is(28);
    assert!(
        run.stderr.contains(&format!("{name}@2.0"))
            && run.stderr.contains("upload-time")
            && run.stderr.contains("published 1h"),
        "{run}"
    );
    assert!(!sb.exists("pinned"));

    // A project first uploaded 5 days ago, added by this command: a new package (28).
    let fresh = uniq("qzv-slop");
    index.page(&fresh, &[(&build_wheel(&fresh, "1.0", &[]), 5 * DAY)]);
    sb.run(&mut plain_pip(
        &sb,
        &index.url,
        &["--target", "plain2", &fresh],
    ))
    .ok();
    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "fresh", &fresh]))
        .code_is(28);
    assert!(
        run.stderr.contains("first published 5d") && run.stderr.contains("new-package-age"),
        "{run}"
    );
    // A slash in a version specifier does not make the requirement a path (pip 23.2 installs
    // `name>=0/` from the index, a legacy specifier): lockgate refuses it, nothing is skipped.
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &["--target", "slash", &format!("{fresh}>=0/")],
        ))
        .code_is(20);
    assert!(
        run.stderr.contains("not a valid version specifier"),
        "{run}"
    );
    assert!(!sb.exists("slash"));
}

/// A PEP 517 build backend that builds a wheel of `[project]` name, version and dependencies
/// (optional ones too) alone, with the standard library (`backend-path = ["."]`).
const LOCAL_BACKEND: &str = r#"import base64, hashlib, os, tomllib, zipfile

def _project():
    with open("pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]

def _files():
    p = _project()
    info = f"{p['name']}-{p['version']}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    meta += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    for extra, deps in p.get("optional-dependencies", {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta += [f"Requires-Dist: {d}; extra == '{extra}'" for d in deps]
    wheel = ["Wheel-Version: 1.0", "Generator: lockgate-test", "Root-Is-Purelib: true", "Tag: py3-none-any"]
    return info, {f"{info}/METADATA": meta, f"{info}/WHEEL": wheel}

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info, files = _files()
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for name, lines in files.items():
        with open(os.path.join(metadata_directory, name), "w") as f:
            f.writelines(line + os.linesep for line in lines)
    return info

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info, files = _files()
    p = _project()
    name = f"{p['name']}-{p['version']}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, lines in files.items():
            data = "".join(line + os.linesep for line in lines).encode()
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "".join(line + os.linesep for line in record))
    return name
"#;

/// `pip install ./app` (route mode): the dependencies the project declares in `pyproject.toml`
/// are names this command adds, as if they were on the command line: one first uploaded 5 days
/// ago is refused (28) where plain pip installs it, and a look-alike is refused (24) before pip
/// builds anything.
#[test]
fn pip_a_local_projects_declared_dependencies_are_new_names() {
    let index = StaticIndex::start();
    let fresh = uniq("qzv-slopdep");
    index.page(&fresh, &[(&build_wheel(&fresh, "1.0", &[]), 5 * DAY)]);
    let sb = pip_sandbox(&index.url, "");
    // A PEP 517 backend in the project itself (`backend-path`), built without isolation, so
    // the index needs to hold nothing but the dependency.
    sb.write("app/backend.py", LOCAL_BACKEND);
    // `[project]` with `deps` (TOML array items) and `more` (tables after it).
    let project_with = |requires: &str, deps: &str, more: &str| {
        sb.write(
            "app/pyproject.toml",
            format!(
                "[build-system]\nrequires = [{requires}]\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"localapp\"\nversion = \"0.1\"\ndependencies = [{deps}]\n{more}"
            ),
        );
    };
    let project = |deps: &str| project_with("", deps, "");
    project(&format!("\"{fresh}\""));
    let args = ["--no-build-isolation", "--target"];
    sb.run(&mut plain_pip(
        &sb,
        &index.url,
        &[&args[..], &["plain", "./app"]].concat(),
    ))
    .ok();
    assert_eq!(
        pip_installed(&sb.path("plain"), &fresh).as_deref(),
        Some("1.0")
    );

    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &[&args[..], &["guarded", "./app"]].concat(),
        ))
        .code_is(28);
    assert!(
        run.stderr
            .contains(&format!("{fresh} was first published 5d")),
        "{run}"
    );
    assert_eq!(pip_installed(&sb.path("guarded"), &fresh), None);

    project("\"reqeusts\"");
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &[&args[..], &["squat", "./app"]].concat(),
        ))
        .code_is(24);
    assert!(
        run.stderr.contains("reqeusts") && run.stderr.contains("app/pyproject.toml"),
        "{run}"
    );
    assert!(!sb.exists("squat"));

    // An extra that asks for the project's own other extra brings that extra's dependencies.
    project_with(
        "",
        "",
        &format!(
            "\n[project.optional-dependencies]\ntest = [\"{fresh}\"]\ndev = [\"localapp[test]\"]\n"
        ),
    );
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &[&args[..], &["extra", "./app[dev]"]].concat(),
        ))
        .code_is(28);
    assert!(
        run.stderr
            .contains(&format!("{fresh} was first published 5d")),
        "{run}"
    );

    // A local project's `file:` dependency is read by pip itself, past the gate: refused (21)
    // unless `[pip] unsafe-allow-urls` lists it.
    project("\"other @ file:///tmp/other\"");
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &[&args[..], &["file", "./app"]].concat(),
        ))
        .code_is(21);
    assert!(run.stderr.contains("file:///tmp/other"), "{run}");

    // A look-alike among the build requirements (pip installs them into the build environment,
    // where their code runs) is refused before pip runs.
    project_with("\"setuptoools\"", "", "");
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &[&args[..], &["build", "./app"]].concat(),
        ))
        .code_is(24);
    assert!(run.stderr.contains("setuptoools"), "{run}");

    // A local wheel's `Requires-Dist` are names the install adds too.
    let wheel = build_wheel("localwheel", "1.0", &[&fresh]);
    let file = wheel.file_name().unwrap().to_str().unwrap().to_string();
    fs::copy(&wheel, sb.path(&file)).unwrap();
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &["--target", "wheel", &format!("./{file}")],
        ))
        .code_is(28);
    assert!(
        run.stderr
            .contains(&format!("{fresh} was first published 5d")),
        "{run}"
    );
    assert!(!sb.exists("wheel"));
}

/// pip route mode reads the index's `upload-time` for typosquat suspects too: a look-alike first
/// uploaded years ago is an established package and installs (with a warning); one uploaded days
/// ago is refused as a typosquat (24).
#[test]
fn pip_established_look_alike_passes_a_new_one_is_refused() {
    let index = StaticIndex::start();
    let old = "setup-tools";
    let new = "python3-dateutil";
    index.page(old, &[(&build_wheel(old, "1.0", &[]), 2000 * DAY)]);
    index.page(new, &[(&build_wheel(new, "1.0", &[]), 5 * DAY)]);
    let sb = pip_sandbox(&index.url, "");
    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "old", old]))
        .ok();
    assert!(run.stderr.contains("established"), "{run}");
    assert_eq!(pip_installed(&sb.path("old"), old).as_deref(), Some("1.0"));
    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "new", new]))
        .code_is(24);
    assert!(run.stderr.contains("python-dateutil"), "{run}");
}

/// pip route mode dates what it judges: a direct name only the age-gated rules catch (`boto33`,
/// a digit edit of `boto3`) is refused (24) while the index says it is days old, and a transitive
/// look-alike of a popular name that the index says is years old (`requestss`) is an established
/// package that the gate serves, with a warning. Plain pip installs both.
#[test]
fn pip_age_gated_rules_for_direct_names_and_established_transitive_look_alikes() {
    let index = StaticIndex::start();
    index.page("boto33", &[(&build_wheel("boto33", "1.0", &[]), 5 * DAY)]);
    index.page(
        "requestss",
        &[(&build_wheel("requestss", "1.0", &[]), 2000 * DAY)],
    );
    let app = uniq("app-uses-requestss");
    index.page(
        &app,
        &[(&build_wheel(&app, "1.0", &["requestss"]), 100 * DAY)],
    );
    let sb = pip_sandbox(&index.url, "");
    sb.run(&mut plain_pip(
        &sb,
        &index.url,
        &["--target", "plain", "boto33"],
    ))
    .ok();
    assert_eq!(
        pip_installed(&sb.path("plain"), "boto33").as_deref(),
        Some("1.0")
    );
    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "young", "boto33"]))
        .code_is(24);
    assert!(
        run.stderr.contains("`boto3`") && run.stderr.contains("is new (first published 5d"),
        "{run}"
    );
    assert!(!sb.exists("young"));

    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "app", &app]))
        .ok();
    assert_eq!(
        pip_installed(&sb.path("app"), "requestss").as_deref(),
        Some("1.0"),
        "{run}"
    );
    assert!(
        run.stderr.contains("requestss") && run.stderr.contains("established"),
        "{run}"
    );
}

/// `lockgate check` dates a direct pip requirement too: `boto33` (only the age-gated rules catch
/// it) is an error while the index says it is days old, and unseen with `--offline`.
#[test]
fn check_dates_direct_pip_requirements() {
    let index = StaticIndex::start();
    let wheel = build_wheel("boto33", "1.0", &[]);
    index.page("boto33", &[(&wheel, 5 * DAY)]);
    let sb = pip_sandbox(&index.url, "");
    let sha: String = Sha256::digest(fs::read(&wheel).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    sb.write(
        "requirements.txt",
        format!("boto33==1.0 --hash=sha256:{sha}\n"),
    );
    let typo = |run: &common::sandbox::Run| -> Option<String> {
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "typosquat" && f["package"] == "boto33")
            .map(|f| f["message"].as_str().unwrap().to_string())
    };
    let offline = sb.run(
        sb.lockgate()
            .args(["check", "--offline", "--format", "json"]),
    );
    assert_eq!(typo(&offline), None, "{offline}");
    let online = sb
        .run(sb.lockgate().args(["check", "--format", "json"]))
        .code_is(24);
    let msg = typo(&online).unwrap_or_default();
    assert!(
        msg.contains("`boto3`") && msg.contains("is new (first published 5d"),
        "{online}"
    );
}

/// pypiserver publishes no upload times: lockgate's first-seen record is the clock. Files listed
/// the first time lockgate sees a project are its baseline; a file that appears later is held
/// until it has been known for `min-age`.
#[test]
fn pip_first_seen_clock_with_pypiserver() {
    let server = PypiServer::start(None);
    let index = server.simple_url();
    let name = uniq("fsclock");
    server.add(&build_wheel(&name, "1.0", &[]));

    let sb = pip_sandbox(&index, "");
    sb.run(&mut guarded_pip(&sb, &["--target", "first", &name]))
        .ok();
    assert_eq!(
        pip_installed(&sb.path("first"), &name).as_deref(),
        Some("1.0")
    );
    let seen = sb.root().join("lockgate-cache/first-seen.json");
    assert!(
        seen.exists(),
        "first-seen records beside the verified store"
    );

    server.add(&build_wheel(&name, "2.0", &[]));
    sb.run(&mut plain_pip(&sb, &index, &["--target", "plain", &name]))
        .ok();
    assert_eq!(
        pip_installed(&sb.path("plain"), &name).as_deref(),
        Some("2.0")
    );

    let run = sb
        .run(&mut guarded_pip(&sb, &["--target", "second", &name]))
        .ok();
    assert_eq!(
        pip_installed(&sb.path("second"), &name).as_deref(),
        Some("1.0"),
        "{run}"
    );
    let run = sb
        .run(&mut guarded_pip(
            &sb,
            &["--target", "pinned", &format!("{name}==2.0")],
        ))
        .code_is(28);
    assert!(run.stderr.contains("first-seen"), "{run}");

    // Judged three days later (LOCKGATE_NOW), 2.0 has been known long enough.
    let mut later = pip_sandbox(&index, "");
    fs::create_dir_all(later.root().join("lockgate-cache")).unwrap();
    fs::copy(&seen, later.root().join("lockgate-cache/first-seen.json")).unwrap();
    let t = Command::new("date")
        .args(["-u", "-d", "+3 days 1 hour", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    later.set_env("LOCKGATE_NOW", String::from_utf8(t.stdout).unwrap().trim());
    later
        .run(&mut guarded_pip(&later, &["--target", "t", &name]))
        .ok();
    assert_eq!(
        pip_installed(&later.path("t"), &name).as_deref(),
        Some("2.0")
    );
}

// ----- Maven -----

/// Deploys `group:artifact:version` into `repo` with its files' times (nginx's `Last-Modified`)
/// set to `age` (`touch -d`).
fn deploy_aged(repo: &Path, group: &str, artifact: &str, version: &str, age: &str) {
    let a = MavenArtifact::new(group, artifact, version);
    a.deploy(repo);
    for f in fs::read_dir(a.version_dir(repo)).unwrap().flatten() {
        Command::new("touch")
            .args(["-d", age])
            .arg(f.path())
            .status()
            .unwrap();
    }
}

/// Sets the artifact's `maven-metadata.xml` `lastUpdated` to now, as a real deploy does (the
/// fixture writes a fixed 2024 date).
fn updated_now(repos: &MavenRepos, group: &str, artifact: &str) {
    let meta = repos
        .public_overlay
        .join(group.replace('.', "/"))
        .join(artifact)
        .join("maven-metadata.xml");
    let now = Command::new("date")
        .args(["-u", "+%Y%m%d%H%M%S"])
        .output()
        .unwrap();
    let text = fs::read_to_string(&meta).unwrap().replace(
        "20240101000000",
        String::from_utf8(now.stdout).unwrap().trim(),
    );
    fs::write(&meta, text).unwrap();
}

/// The policy of a Maven sandbox: the shared public repository, the internal one for `com.myorg`
/// (password in [`MAVEN_PASSWORD_ENV`]), and `extra` tables.
fn maven_policy(repos: &MavenRepos, extra: &str) -> String {
    maven_policy_at(repos, &repos.public_url, extra)
}

/// [`maven_policy`] with the public repository at `public` (a proxy in front of it).
fn maven_policy_at(repos: &MavenRepos, public: &str, extra: &str) -> String {
    format!(
        "[maven]\nrepository = \"{public}\"\n[maven.internal]\nurl = \"{}\"\ngroups = [\"com.myorg\"]\nusername = \"{}\"\npassword-env = \"{MAVEN_PASSWORD_ENV}\"\n{extra}",
        repos.internal_url, INTERNAL_MAVEN_USER.0
    )
}

const MAVEN_PASSWORD_ENV: &str = "INTERNAL_MAVEN_PASSWORD";

/// A Maven sandbox whose project depends on `deps` (group, artifact, version spec) from the
/// shared public and internal repositories, with [`maven_policy`], judged at the real time.
fn maven_sandbox(repos: &MavenRepos, deps: &[(&str, &str, &str)], policy: &str) -> Sandbox {
    maven_sandbox_at(repos, &repos.public_url, deps, policy)
}

/// [`maven_sandbox`] with the public repository at `public` (a proxy in front of it).
fn maven_sandbox_at(
    repos: &MavenRepos,
    public: &str,
    deps: &[(&str, &str, &str)],
    policy: &str,
) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.remove_env("LOCKGATE_NOW");
    sb.write("lockgate.toml", maven_policy_at(repos, public, policy));
    sb.set_env(MAVEN_PASSWORD_ENV, INTERNAL_MAVEN_USER.1);
    sb.maven_settings(&maven_settings(&[
        MavenRepo {
            id: "central",
            url: public,
            auth: None,
        },
        MavenRepo {
            id: "internal",
            url: &repos.internal_url,
            auth: Some(INTERNAL_MAVEN_USER),
        },
    ]));
    maven_project(&sb.project(), deps);
    sb
}

/// `lockgate lock mvn`: a version range resolves to the newest version whose POM is old enough
/// (`Last-Modified`, nginx's file time), where plain Maven takes the hour-old one; a POM pinning
/// the hour-old version directly is refused with 28.
#[test]
fn maven_lock_skips_a_too_young_version_and_refuses_an_explicit_one() {
    let repos = maven_repos();
    let artifact = uniq("cool-lib");
    let group = "org.example.cool";
    // 1.0 older than `new-package-age` (30 d), so the artifact itself is not new.
    for (v, age) in [("1.0", "40 days ago"), ("1.1", "1 hour ago")] {
        deploy_aged(&repos.public_overlay, group, &artifact, v, age);
    }
    // A real deploy updates `lastUpdated`.
    updated_now(repos, group, &artifact);

    let project = |spec: &str| maven_sandbox(repos, &[(group, &artifact, spec)], "");
    let sb = project("[1.0,2.0)");
    sb.run(sb.cmd(&tools().mvn).args(["-B", "-ntp", "package"]))
        .ok();
    let plain = sb.m2_repo().join(group.replace('.', "/")).join(&artifact);
    assert!(plain.join("1.1").exists(), "plain Maven takes 1.1");
    fs::remove_dir_all(sb.m2_repo()).unwrap();

    let run = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "package"]))
        .ok();
    let lock = sb.read(".mvn/checksums/checksums.sha256");
    assert!(lock.contains(&format!("/{artifact}/1.0/")), "{run}\n{lock}");
    assert!(!lock.contains(&format!("/{artifact}/1.1/")), "{lock}");

    let sb = project("1.1");
    let run = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "package"]))
        .code_is(28);
    assert!(
        run.stderr.contains(&format!("{group}:{artifact}@1.1"))
            && run.stderr.contains("Last-Modified"),
        "{run}"
    );
    assert!(!sb.exists(".mvn/checksums/checksums.sha256"));
}

/// A Maven repository that sends no `Last-Modified`: lockgate's first-seen record is the clock,
/// with npm's and pip's baseline. What an artifact offers the first time lockgate looks at it
/// locks; a version deployed after that waits `min-age` (a range resolves below it, pinning it is
/// refused with 28) and locks once lockgate has known it that long.
#[test]
fn maven_first_seen_clock_when_the_repository_sends_no_last_modified() {
    let repos = maven_repos();
    let artifact = uniq("undated-lib");
    let group = "org.example.undated";
    deploy_aged(
        &repos.public_overlay,
        group,
        &artifact,
        "1.0",
        "40 days ago",
    );
    let untimed = FaultProxy::start(&repos.public_url, Fault::Untimed);
    let mut sb = maven_sandbox_at(repos, &untimed.url, &[(group, &artifact, "[1.0,2.0)")], "");
    let lock = |sb: &Sandbox| {
        let _ = fs::remove_dir_all(sb.m2_repo());
        sb.run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "package"]))
    };
    let locked = |sb: &Sandbox, v: &str| {
        sb.read(".mvn/checksums/checksums.sha256")
            .contains(&format!("/{artifact}/{v}/"))
    };

    let run = lock(&sb).ok();
    assert!(locked(&sb, "1.0"), "{run}");
    let seen = fs::read_to_string(sb.root().join("lockgate-cache/first-seen.json")).unwrap();
    assert!(
        seen.contains(&format!("maven:{group}:{artifact}")),
        "{seen}"
    );

    // A real deploy of 1.1 (its `lastUpdated` now).
    deploy_aged(&repos.public_overlay, group, &artifact, "1.1", "1 hour ago");
    updated_now(repos, group, &artifact);

    let run = lock(&sb).ok();
    assert!(locked(&sb, "1.0") && !locked(&sb, "1.1"), "{run}");
    maven_project(&sb.project(), &[(group, &artifact, "1.1")]);
    let run = lock(&sb).code_is(28);
    assert!(
        run.stderr.contains(&format!("{group}:{artifact}@1.1"))
            && run.stderr.contains("first-seen"),
        "{run}"
    );

    // Judged three days later (LOCKGATE_NOW), 1.1 has been known long enough.
    let t = Command::new("date")
        .args(["-u", "-d", "+3 days 1 hour", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    sb.set_env("LOCKGATE_NOW", String::from_utf8(t.stdout).unwrap().trim());
    let run = lock(&sb).ok();
    assert!(locked(&sb, "1.1"), "{run}");
    assert!(untimed
        .requests()
        .iter()
        .any(|r| r.path.contains(&artifact) && r.path.ends_with(".pom")));
}

/// A POM lockgate cannot fetch to date (the repository answers 503) fails the lock with 27: no
/// lock, and no first-seen record that would hold the version for `min-age` once the repository
/// answers again.
#[test]
fn maven_lock_fails_when_a_version_cannot_be_dated() {
    let repos = maven_repos();
    let artifact = uniq("flaky-lib");
    let group = "org.example.flaky";
    for (v, age) in [("1.0", "40 days ago"), ("1.1", "10 days ago")] {
        deploy_aged(&repos.public_overlay, group, &artifact, v, age);
    }
    updated_now(repos, group, &artifact);
    let pom = format!("/{artifact}/1.1/{artifact}-1.1.pom");
    let flaky = FaultProxy::start_for(
        &repos.public_url,
        Fault::Status {
            status: 503,
            times: 1000,
        },
        Some(&pom),
    );
    let sb = maven_sandbox_at(repos, &flaky.url, &[(group, &artifact, "[1.0,2.0)")], "");
    let lock = |sb: &Sandbox| {
        let _ = fs::remove_dir_all(sb.m2_repo());
        sb.run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "package"]))
    };
    let run = lock(&sb).code_is(27);
    assert!(run.stderr.contains("503"), "{run}");
    assert!(!sb.exists(".mvn/checksums/checksums.sha256"));
    let seen =
        fs::read_to_string(sb.root().join("lockgate-cache/first-seen.json")).unwrap_or_default();
    assert!(!seen.contains(&format!("{artifact}@1.1")), "{seen}");

    flaky.set_fault(Fault::Pass);
    let run = lock(&sb).ok();
    let locked = sb.read(".mvn/checksums/checksums.sha256");
    assert!(
        locked.contains(&format!("/{artifact}/1.1/")),
        "{run}\n{locked}"
    );
}

/// `lockgate lock mvn`: an artifact the lock does not hold whose oldest release was published
/// less than `new-package-age` ago (its POM's `Last-Modified`) is refused with 28 and no lock is
/// written, though the version itself is past `min-age`; an internal one as new is not;
/// `[cooldown] exclude` admits the public one, and once the lock holds it, it is no longer new.
#[test]
fn maven_lock_refuses_a_new_artifact_until_excluded_or_locked() {
    let repos = maven_repos();
    let artifact = uniq("fresh-lib");
    let group = "org.example.fresh";
    deploy_aged(&repos.public_overlay, group, &artifact, "1.0", "5 days ago");
    let internal = uniq("fresh-internal");
    deploy_aged(
        &repos.internal_dir,
        "com.myorg",
        &internal,
        "1.0",
        "5 days ago",
    );
    let deps = [
        (group, artifact.as_str(), "1.0"),
        ("com.myorg", &internal, "1.0"),
    ];

    let sb = maven_sandbox(repos, &deps, "");
    let lock = |sb: &Sandbox| sb.run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "package"]));
    let run = lock(&sb).code_is(28);
    let ga = format!("{group}:{artifact}");
    assert!(
        run.stderr
            .contains(&format!("{ga} was first published 5d ago"))
            && run.stderr.contains("Last-Modified")
            && run.stderr.contains("new-package-age")
            && run.stderr.contains("1 problem found")
            && !run.stderr.contains(&internal),
        "{run}"
    );
    assert!(!sb.exists(".mvn/checksums/checksums.sha256"));

    sb.write(
        "lockgate.toml",
        maven_policy(repos, &format!("[cooldown]\nexclude = [\"{ga}\"]\n")),
    );
    lock(&sb).ok();
    let locked = sb.read(".mvn/checksums/checksums.sha256");
    assert!(
        locked.contains(&format!("/{artifact}/1.0/"))
            && locked.contains(&format!("/{internal}/1.0/")),
        "{locked}"
    );

    // Locked now: not an addition any more, so no exclude is needed to re-lock.
    sb.write("lockgate.toml", maven_policy(repos, ""));
    lock(&sb).ok();
    assert!(sb
        .read(".mvn/checksums/checksums.sha256")
        .contains(&format!("/{artifact}/1.0/")));
}
