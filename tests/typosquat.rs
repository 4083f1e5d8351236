//! Typosquats through the real npm and lockgate's shim, against the loopback Verdaccio pair: the
//! attacker publishes a look-alike of a popular name with a postinstall on the "public" registry
//! (seed, adversary 2); `npm install` of that name, or a package.json that adds it, is refused
//! with 24 before anything is fetched, and nothing changes on disk. The policy's allowlist lets a
//! wanted look-alike through; every decision is in the audit log.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::{uniq, Sandbox};

/// A project on the shared registries: policy, .npmrc, and a first install of a legitimate
/// package, so there is a lockfile and a node_modules to keep unchanged.
fn project(reg: &NpmRegistries, allow: &[&str]) -> (Sandbox, String) {
    let mut sb = Sandbox::new();
    sb.set_env("LOCKGATE_SYSTEM_CONFIG", "");
    sb.set_env("INTERNAL_NPM_TOKEN", &reg.internal_token);
    let allow: Vec<String> = allow.iter().map(|a| format!("\"{a}\"")).collect();
    sb.write(
        "lockgate.toml",
        format!(
            "[npm]\nregistry = \"{}\"\n[npm.internal]\nregistry = \"{}\"\nscopes = [\"@myorg\"]\ntoken-env = \"INTERNAL_NPM_TOKEN\"\n[typosquat]\nallow = [{}]\n",
            reg.public.url,
            reg.internal.url,
            allow.join(", ")
        ),
    );
    sb.npmrc(&format!("registry={}\n", reg.public.url));
    sb.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    );
    let legit = uniq("legit-util");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&legit, "1.0.0"));
    sb.run(sb.shim("npm").args(["install", &legit])).ok();
    assert!(sb.exists(format!("node_modules/{legit}/package.json")));
    (sb, legit)
}

/// Every file under `node_modules` with its bytes, plus package.json and the lockfile.
fn snapshot(sb: &Sandbox) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    let project = sb.project();
    walk(&project.join("node_modules"), &project, &mut out);
    for f in ["package.json", "package-lock.json"] {
        out.insert(f.into(), fs::read(project.join(f)).unwrap_or_default());
    }
    out
}

fn decisions(sb: &Sandbox, package: &str) -> Vec<String> {
    sb.audit()
        .iter()
        .filter(|l| l["decision"] == "typosquat-check" && l["package"] == package)
        .map(|l| l["verdict"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `npm install expres`: the attacker's `expres` (postinstall) exists on the public registry;
/// lockgate refuses with 24 and "did you mean `express`", the postinstall never runs and
/// node_modules, package.json and the lockfile are byte-for-byte as before.
#[test]
fn npm_install_of_a_typosquat_is_refused_before_anything_is_fetched() {
    let reg = npm_registries();
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("expres", "1.0.0")
            .origin("attacker")
            .postinstall(),
    );
    let (sb, _) = project(reg, &[]);
    let before = snapshot(&sb);

    let out = sb
        .run(sb.shim("npm").args(["install", "expres"]))
        .code_is(24);
    let text = out.output();
    assert!(text.contains("expres"), "{text}");
    assert!(text.contains("did you mean `express`?"), "{text}");
    assert!(text.contains("[typosquat] allow = [\"expres\"]"), "{text}");
    assert!(
        sb.npm_marker("expres", "1.0.0").is_none(),
        "the attacker's postinstall ran"
    );
    assert!(!sb.exists("node_modules/expres"));
    assert_eq!(snapshot(&sb), before, "something on disk changed");
    assert_eq!(decisions(&sb, "expres"), ["refused"]);

    // The same package through an `npm:` alias, with or without a name of its own, in any letter
    // case: npm installs `expres` each way, so lockgate judges `expres`.
    for spec in [
        "npm:expres@1.0.0",
        "express@npm:expres",
        "express@NPM:expres",
    ] {
        let out = sb.run(sb.shim("npm").args(["install", spec])).code_is(24);
        assert!(
            out.output().contains("did you mean `express`?"),
            "{spec}\n{out}"
        );
        assert!(sb.npm_marker("expres", "1.0.0").is_none(), "{spec}");
        assert_eq!(snapshot(&sb), before, "{spec}: something on disk changed");
    }
}

/// npm resolves more package.json files than the root's: the workspaces its globs name (the
/// lockfile may not know a new one), and folders inside the project a dependency or an argument
/// links to. A look-alike any of them adds is refused (24) before npm runs; so is the root's
/// when `npm install` runs inside a workspace that only a brace glob names (npm works at the
/// root then). A `dependencies` array (npm installs packages `0`, `1`, …) is refused (21).
#[test]
fn typosquats_in_workspaces_and_linked_folders_are_refused() {
    let reg = npm_registries();
    // (`expres` is refused by name alone; whether the registry has it does not matter.)
    let squat = r#"{"name": "x", "version": "1.0.0", "dependencies": {"expres": "*"}}"#;

    // A workspace added after the lockfile was written, with and without a lockfile.
    let (sb, legit) = project(reg, &[]);
    sb.write(
        "package.json",
        format!(r#"{{"name":"app","version":"1.0.0","private":true,"workspaces":["packages/*"],"dependencies":{{"{legit}":"1.0.0"}}}}"#),
    );
    sb.write("packages/b/package.json", squat);
    let before = snapshot(&sb);
    let run = sb.run(sb.shim("npm").args(["install", &legit])).code_is(24);
    assert!(run.output().contains("expres"), "{run}");
    assert_eq!(snapshot(&sb), before);
    fs::remove_file(sb.path("package-lock.json")).unwrap();
    sb.run(sb.shim("npm").arg("install")).code_is(24);
    assert!(!sb.exists("node_modules/expres"));

    // A folder inside the project, named by an argument or linked by a dependency.
    let (sb, _) = project(reg, &[]);
    sb.write("vendor/lib/package.json", squat);
    sb.run(sb.shim("npm").args(["install", "./vendor/lib"]))
        .code_is(24);
    sb.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","private":true,"dependencies":{"lib":"file:vendor/lib"}}"#,
    );
    sb.run(sb.shim("npm").arg("install")).code_is(24);
    assert!(!sb.exists("node_modules/expres"));

    // Inside a workspace a brace glob names: npm installs at the root, whose look-alike counts.
    let (sb, _) = project(reg, &[]);
    sb.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","private":true,"workspaces":["packages/{a,b}"],"dependencies":{"expres":"*"}}"#,
    );
    sb.write(
        "packages/a/package.json",
        r#"{"name": "a", "version": "1.0.0"}"#,
    );
    let mut cmd = sb.shim("npm");
    cmd.current_dir(sb.path("packages/a")).arg("install");
    sb.run(&mut cmd).code_is(24);

    // `dependencies` as an array.
    let (sb, _) = project(reg, &[]);
    sb.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","dependencies":["latest"]}"#,
    );
    let run = sb.run(sb.shim("npm").arg("install")).code_is(21);
    assert!(run.output().contains("is not an object"), "{run}");
}

/// A pull request adds `crossenv` (the 2017 crossenv wave) to package.json: `npm ci` and
/// `npm install` both refuse with 24 rather than installing or only calling the lockfile stale.
#[test]
fn a_typosquat_added_to_package_json_is_refused_by_ci_and_install() {
    let reg = npm_registries();
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("crossenv", "1.0.0")
            .origin("attacker")
            .postinstall(),
    );
    let (sb, legit) = project(reg, &[]);
    let before = snapshot(&sb);
    let manifest = format!(
        r#"{{"name":"app","version":"1.0.0","private":true,"dependencies":{{"{legit}":"^1.0.0","crossenv":"^1.0.0"}}}}"#
    );
    sb.write("package.json", &manifest);

    for command in ["ci", "install"] {
        let out = sb.run(sb.shim("npm").arg(command)).code_is(24);
        assert!(
            out.output().contains("did you mean `cross-env`?"),
            "npm {command}\n{out}"
        );
        assert!(
            sb.npm_marker("crossenv", "1.0.0").is_none(),
            "npm {command}: postinstall ran"
        );
        assert!(!sb.exists("node_modules/crossenv"), "npm {command}");
        assert_eq!(
            sb.read("package.json"),
            manifest,
            "npm {command} rewrote package.json"
        );
        assert_eq!(
            fs::read(sb.path("package-lock.json")).unwrap(),
            before["package-lock.json"],
            "npm {command} rewrote the lockfile"
        );
    }
    assert_eq!(decisions(&sb, "crossenv"), ["refused", "refused"]);
    // The name already locked was checked when it was added, and not again.
    assert_eq!(decisions(&sb, &legit), ["passed"]);
}

/// A look-alike the project really wants, allowed in lockgate.toml, installs (with its script
/// still off); the audit log says the policy allowed it.
#[test]
fn an_allowed_look_alike_installs_with_scripts_off() {
    let reg = npm_registries();
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new("mongose", "1.0.0")
            .origin("wanted")
            .postinstall(),
    );
    let (sb, _) = project(reg, &["mongose"]);

    sb.run(sb.shim("npm").args(["install", "mongose"])).ok();
    assert!(sb
        .read("node_modules/mongose/package.json")
        .contains("\"1.0.0\""));
    assert!(
        sb.npm_marker("mongose", "1.0.0").is_none(),
        "install scripts stay off"
    );
    assert_eq!(decisions(&sb, "mongose"), ["allowed-by-policy"]);
}
