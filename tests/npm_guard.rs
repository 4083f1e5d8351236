//! npm's own reading of the command line, against lockgate (issue 8, npm command side). For each
//! class of argv that used to slip past lockgate's guard — `npm ci --`, abbreviations and
//! camelCase forms of install commands, `uninstall`/`prune` on a fresh clone, a value-taking
//! option lockgate did not know before the command, user flags that fight lockgate's — the
//! attack is first shown with the plain npm on the loopback testbed (a postinstall that writes a
//! marker with its environment), then lockgate holding: no marker, and exit 0 or 20–27.

mod common;

use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::{tools, uniq, Sandbox};
use serde_json::Value;

/// The CI secret every attack wants.
const SECRET: (&str, &str) = ("GITHUB_TOKEN", "ghp-decoy-secret");

/// A project depending on `evil` (postinstall) and `plain` (no script), both public, with a
/// lockfile written by plain npm (scripts off). Returns (sandbox, evil, plain).
fn project(reg: &NpmRegistries, base: &str) -> (Sandbox, String, String) {
    let evil = uniq(&format!("{base}-evil"));
    let plain = uniq(&format!("{base}-plain"));
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&evil, "1.0.0").postinstall(),
    );
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&plain, "1.0.0"));
    let mut sb = Sandbox::new();
    sb.npmrc(&format!("registry={}", reg.public.url));
    sb.set_env(SECRET.0, SECRET.1);
    sb.write(
        "lockgate.toml",
        format!("[npm]\nregistry = \"{}\"\n", reg.public.url),
    );
    sb.write(
        "package.json",
        serde_json::json!({
            "name": "app", "version": "1.0.0",
            "scripts": {"test": "node -e \"require('fs').writeFileSync('tested', '1')\""},
            "dependencies": {evil.clone(): "1.0.0", plain.clone(): "1.0.0"},
        })
        .to_string(),
    );
    sb.run(
        sb.cmd(&tools().npm)
            .args(["install", "--package-lock-only", "--ignore-scripts"]),
    )
    .ok();
    (sb, evil, plain)
}

/// A fresh clone of `sb`'s project (package.json + lockfile, no node_modules).
fn clone(reg: &NpmRegistries, sb: &Sandbox) -> Sandbox {
    let mut c = Sandbox::new();
    c.npmrc(&format!("registry={}", reg.public.url));
    c.set_env(SECRET.0, SECRET.1);
    for f in ["lockgate.toml", "package.json", "package-lock.json"] {
        c.write(f, sb.read(f));
    }
    c
}

/// The plain npm runs `args` on a fresh clone and the evil postinstall runs with the secret.
fn plain_npm_runs_the_script(reg: &NpmRegistries, sb: &Sandbox, evil: &str, args: &[&str]) {
    let c = clone(reg, sb);
    c.run(c.cmd(&tools().npm).args(args)).ok();
    let m = c
        .npm_marker(evil, "1.0.0")
        .unwrap_or_else(|| panic!("plain `npm {}` runs the postinstall", args.join(" ")));
    assert_eq!(m["env"][SECRET.0], SECRET.1, "with the secret in its env");
}

fn installed(sb: &Sandbox, name: &str) -> bool {
    sb.exists(format!("node_modules/{name}/package.json"))
}

fn verified(sb: &Sandbox, name: &str) -> bool {
    sb.audit()
        .iter()
        .any(|l| l["decision"] == "verified" && l["package"] == name)
}

#[test]
fn npm_ci_double_dash_cannot_turn_lockgates_flags_into_positionals() {
    let reg = npm_registries();
    let (sb, evil, plain) = project(reg, "dd");
    plain_npm_runs_the_script(reg, &sb, &evil, &["ci", "--"]);

    for args in [
        &["ci", "--"][..],
        &["ci", "--", "--ignore-scripts=false"],
        &["--", "ci"],
    ] {
        let c = clone(reg, &sb);
        let out = c.run(c.shim("npm").args(args)).ok();
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
        assert!(
            installed(&c, &evil) && installed(&c, &plain),
            "{args:?}: {out}"
        );
        assert!(verified(&c, &evil), "{args:?}: installed through the gate");
        // The blocked count is true: the script was blocked, and it did not run.
        assert_eq!(
            c.counter("ci_postinstall_script_blocked_total", &[("package", &evil)]),
            1.0
        );
    }
}

#[test]
fn abbreviations_and_camel_case_of_install_commands_are_guarded() {
    let reg = npm_registries();
    let (sb, evil, _) = project(reg, "abbr");
    // npm's own resolution: `install-cl` → install-clean → ci; camelCase → kebab-case.
    plain_npm_runs_the_script(reg, &sb, &evil, &["install-cl"]);
    plain_npm_runs_the_script(reg, &sb, &evil, &["installClean"]);

    for args in [
        &["install-cl"][..],
        &["installClean"],
        &["isntall-clean"],
        &["clean-install-t"],
        &["install-ci-t"],
        &["installCiTest"],
    ] {
        let c = clone(reg, &sb);
        let out = c.run(c.shim("npm").args(args)).ok();
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
        assert!(installed(&c, &evil), "{args:?}: {out}");
        assert!(verified(&c, &evil), "{args:?}");
        if args[0].to_lowercase().contains("test") || args[0].ends_with("-t") {
            assert!(c.exists("tested"), "{args:?} runs the tests after: {out}");
        }
    }
}

#[test]
fn uninstall_and_prune_on_a_fresh_clone_install_guarded() {
    let reg = npm_registries();
    let (sb, evil, plain) = project(reg, "rm");
    plain_npm_runs_the_script(reg, &sb, &evil, &["uninstall", &plain]);
    plain_npm_runs_the_script(reg, &sb, &evil, &["prune"]);

    let c = clone(reg, &sb);
    let out = c.run(c.shim("npm").args(["uninstall", &plain])).ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    assert!(installed(&c, &evil) && !installed(&c, &plain), "{out}");
    let manifest: Value = serde_json::from_str(&c.read("package.json")).unwrap();
    assert!(manifest["dependencies"].get(&plain).is_none(), "{out}");
    assert!(!c.read("package-lock.json").contains(&plain), "{out}");

    for args in [&["prune"][..], &["dedupe"], &["rm", "nothing-installed"]] {
        let c = clone(reg, &sb);
        let out = c.run(c.shim("npm").args(args)).ok();
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
        assert!(installed(&c, &evil), "{args:?}: {out}");
        assert!(verified(&c, &evil), "{args:?}");
    }
}

#[test]
fn a_value_option_lockgate_did_not_know_cannot_hide_the_command() {
    let reg = npm_registries();
    let (sb, evil, _) = project(reg, "opt");
    // `--init-author-name` takes a value: npm reads `ls` as its value and runs `install`.
    let argv = ["--init-author-name", "ls", "install"];
    plain_npm_runs_the_script(reg, &sb, &evil, &argv);

    let c = clone(reg, &sb);
    let out = c.run(c.shim("npm").args(argv)).ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    assert!(installed(&c, &evil) && verified(&c, &evil), "{out}");

    // An option npm does not know is a boolean to it: `ls` is the command, nothing installs.
    let c = clone(reg, &sb);
    c.run(c.shim("npm").args(["--not-an-npm-option", "ls", "install"]));
    assert!(c.npm_marker(&evil, "1.0.0").is_none());
    assert!(!c.exists("node_modules"));
}

#[test]
fn lockgates_flags_win_over_the_users() {
    let reg = npm_registries();
    let (sb, evil, _) = project(reg, "flags");
    plain_npm_runs_the_script(
        reg,
        &sb,
        &evil,
        &["ci", "--ignore-scripts=false", "--foreground-scripts"],
    );

    // (The user's `--proxy`/`--https-proxy` are honoured by lockgate's own downloads, as npm
    // would use them — tests/network.rs — and overridden for the real npm, whose only proxy is
    // the gate; `npm_argv`'s unit tests prove the placement.)
    let c = clone(reg, &sb);
    let out = c
        .run(c.shim("npm").args([
            "ci",
            "--ignore-scripts=false",
            "--foreground-scripts",
            "--script-shell=/bin/sh",
            "--replace-registry-host=never",
        ]))
        .ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    assert!(installed(&c, &evil) && verified(&c, &evil), "{out}");

    // `--registry` picks the upstream lockgate verifies against, never where npm fetches from.
    let c = clone(reg, &sb);
    let out = c
        .run(c.shim("npm").args([
            "ci",
            &format!("--registry={}", reg.public.url),
            "--no-ignore-scripts",
        ]))
        .ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    assert!(verified(&c, &evil), "{out}");

    // An option left without its value would take lockgate's as its value: refused, nothing runs.
    let c = clone(reg, &sb);
    let out = c.run(c.shim("npm").args(["ci", "--cache"])).code_is(20);
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    assert!(!c.exists("node_modules"), "{out}");
    // So is `--noproxy`, which would let npm reach hosts without the gate.
    let c = clone(reg, &sb);
    c.run(c.shim("npm").args(["ci", "--noproxy=*"])).code_is(20);
    assert!(!c.exists("node_modules"));
}

#[test]
fn commands_that_would_run_blocked_scripts_are_refused() {
    let reg = npm_registries();
    let (sb, evil, _) = project(reg, "rb");
    let c = clone(reg, &sb);
    c.run(c.shim("npm").arg("ci")).ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none());
    // The plain npm rebuild runs the postinstall lockgate blocked.
    let p = clone(reg, &sb);
    p.run(p.shim("npm").arg("ci")).ok();
    p.run(p.cmd(&tools().npm).arg("rebuild")).ok();
    assert!(
        p.npm_marker(&evil, "1.0.0").is_some(),
        "plain npm rebuild runs it"
    );

    for args in [
        &["rebuild"][..],
        &["rb", &evil],
        &["link"],
        &["audit", "fix"],
        &["edit", &evil],
    ] {
        let out = c.run(c.shim("npm").args(args)).code_is(20);
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
        assert!(
            out.stderr.contains("lockgate"),
            "{args:?}: the refusal explains itself: {out}"
        );
    }
    assert!(
        c.audit().iter().any(|l| l["decision"] == "refuse"),
        "refusals are in the audit log"
    );
    // Rebuilding with scripts off is harmless and passes through.
    c.run(c.shim("npm").args(["rebuild", "--ignore-scripts"]))
        .ok();
    assert!(c.npm_marker(&evil, "1.0.0").is_none());
}

/// libnpmexec installs even when told not to in two cases: a command that is a folder
/// (`npx ./tool`), and a command that is the bin of the project's own package. It then installs
/// that package's registry dependencies, install scripts running with every secret, into its npx
/// cache. lockgate refuses both (20).
#[test]
fn npm_exec_of_a_folder_or_the_projects_own_bin_is_refused() {
    let reg = npm_registries();
    let (sb, evil, _) = project(reg, "execdir");
    let tool = serde_json::json!({
        "name": "tool", "version": "1.0.0", "bin": {"tool": "cli.js"},
        "dependencies": {evil.clone(): "1.0.0"},
    })
    .to_string();
    sb.write("tooldir/package.json", &tool);
    sb.write(
        "tooldir/cli.js",
        "#!/usr/bin/env node\nconsole.log('tool ran')\n",
    );

    // Plain npm, though told --yes=false, installs the folder's dependency and runs its script.
    let c = clone(reg, &sb);
    c.write("tooldir/package.json", &tool);
    c.write(
        "tooldir/cli.js",
        "#!/usr/bin/env node\nconsole.log('tool ran')\n",
    );
    c.run(
        c.cmd(&tools().npm)
            .args(["exec", "--yes=false", "--install-links", "--", "./tooldir"]),
    );
    let m = c
        .npm_marker(&evil, "1.0.0")
        .expect("plain npm exec of a folder runs the dependency's postinstall");
    assert_eq!(m["env"][SECRET.0], SECRET.1);

    for (tool_name, args) in [
        ("npx", vec!["./tooldir"]),
        ("npm", vec!["exec", "--install-links", "--", "./tooldir"]),
    ] {
        let c = clone(reg, &sb);
        c.write("tooldir/package.json", &tool);
        let out = c.run(c.shim(tool_name).args(&args)).code_is(20);
        assert!(out.stderr.contains("folder"), "{args:?}: {out}");
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}");
    }

    // The project's own bin.
    let c = clone(reg, &sb);
    let mut own: Value = serde_json::from_str(&c.read("package.json")).unwrap();
    own["bin"] = serde_json::json!({"apptool": "cli.js"});
    c.write("package.json", own.to_string());
    let out = c.run(c.shim("npx").arg("apptool")).code_is(20);
    assert!(out.stderr.contains("bin of the local package"), "{out}");
    assert!(c.npm_marker(&evil, "1.0.0").is_none());
    // The same project named by `--prefix` from elsewhere: npm looks there, so does lockgate.
    let mut cmd = c.shim("npm");
    cmd.current_dir(c.root())
        .args(["--prefix", "project", "exec", "apptool"]);
    let out = c.run(&mut cmd).code_is(20);
    assert!(out.stderr.contains("bin of the local package"), "{out}");
    assert!(c.npm_marker(&evil, "1.0.0").is_none());

    // A workspace's bin, named by the root's `workspaces` glob.
    let c = clone(reg, &sb);
    let mut root: Value = serde_json::from_str(&c.read("package.json")).unwrap();
    root["workspaces"] = serde_json::json!(["tools/*"]);
    c.write("package.json", root.to_string());
    c.write("tools/ws/package.json", &tool);
    let out = c.run(c.shim("npm").args(["exec", "tool"])).code_is(20);
    assert!(out.stderr.contains("tools/ws"), "{out}");
    assert!(c.npm_marker(&evil, "1.0.0").is_none());
}

#[test]
fn npm_exec_and_npx_never_download_and_run_a_package() {
    let reg = npm_registries();
    let (sb, _, _) = project(reg, "exec");
    // A public package with a binary and a postinstall, not in the project.
    let evil = uniq("exec-tool");
    let dir = NpmPackage::new(&evil, "1.0.0").postinstall().write_dir();
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    manifest["bin"] = serde_json::json!({ evil.clone(): "index.js" });
    std::fs::write(dir.join("package.json"), manifest.to_string()).unwrap();
    let npmrc = dir.with_extension("npmrc");
    std::fs::write(
        &npmrc,
        format!("{}\n", reg.public.auth_line(&reg.attacker_token)),
    )
    .unwrap();
    sb.run(
        sb.cmd(&tools().npm)
            .current_dir(&dir)
            .arg(format!("--userconfig={}", npmrc.display()))
            .args([
                "publish",
                "--registry",
                &reg.public.url,
                "--access",
                "public",
            ]),
    )
    .ok();
    let spec = format!("{evil}@1.0.0");
    // Plain npm exec installs the package into its cache, running its postinstall with the secret
    // (it then finds no binary to run; the script has already run).
    let c = clone(reg, &sb);
    c.run(c.cmd(&tools().npm).args(["exec", "--yes", "--", &spec]));
    let m = c
        .npm_marker(&evil, "1.0.0")
        .expect("plain npm exec --yes runs the postinstall");
    assert_eq!(m["env"][SECRET.0], SECRET.1);

    for (tool, args) in [
        ("npm", vec!["exec", "--yes", "--", &spec]),
        ("npm", vec!["x", "-y", &spec]),
        ("npm", vec!["--yes", "exec", &spec]),
    ] {
        let c = clone(reg, &sb);
        let out = c.run(c.shim(tool).args(&args));
        assert_ne!(out.code(), Some(0), "{args:?}: {out}");
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
    }
    // npx takes no option that could make it install.
    let c = clone(reg, &sb);
    let out = c.run(c.shim("npx").args(["--yes", &spec])).code_is(20);
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
    let out = c.run(c.shim("npx").arg(&spec));
    assert_ne!(out.code(), Some(0), "{out}");
    assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{out}");
}

#[test]
fn the_npmrc_named_on_the_command_line_is_the_one_lockgate_reads() {
    let reg = npm_registries();
    let name = format!("@myorg/{}", uniq("cfg"));
    reg.internal
        .publish(&reg.internal_token, &NpmPackage::new(&name, "1.0.0"));
    let sb = Sandbox::new();
    sb.npmrc(&format!("registry={}", reg.public.url));
    // CI keeps the scope mapping and its token in a file given with --userconfig.
    sb.write(
        "ci.npmrc",
        format!(
            "registry={}\n@myorg:registry={}\n{}\n",
            reg.public.url,
            reg.internal.url,
            reg.internal.auth_line(&reg.internal_token)
        ),
    );
    sb.write(
        "package.json",
        serde_json::json!({"name": "app", "version": "1.0.0", "dependencies": {name.clone(): "1.0.0"}})
            .to_string(),
    );
    sb.run(sb.cmd(&tools().npm).args([
        "install",
        "--userconfig=ci.npmrc",
        "--package-lock-only",
        "--ignore-scripts",
    ]))
    .ok();
    // npm reads `--userconfig ci.npmrc` (a value option, no `=`); so does lockgate: the internal
    // scope, its registry and its token come from that file.
    let out = sb
        .run(sb.shim("npm").args(["ci", "--userconfig", "ci.npmrc"]))
        .ok();
    assert!(installed(&sb, &name), "{out}");
    assert!(verified(&sb, &name), "{out}");
}

#[test]
fn npm_10_is_read_with_its_own_tables() {
    let reg = npm_registries();
    let (sb, evil, plain) = project(reg, "npm10");
    let npm10 = &tools().npm10;
    let c = clone(reg, &sb);
    c.run(c.cmd(npm10).args(["install-cl", "--"])).ok();
    assert!(
        c.npm_marker(&evil, "1.0.0").is_some(),
        "plain npm 10 runs the postinstall"
    );

    for args in [
        &["ci", "--"][..],
        &["install-cl"],
        &["--init-author-name", "ls", "install"],
        &["uninstall", &plain],
    ] {
        let mut c = clone(reg, &sb);
        c.set_env("LOCKGATE_REAL_NPM", npm10.as_os_str());
        let out = c.run(c.shim("npm").args(args)).ok();
        assert!(c.npm_marker(&evil, "1.0.0").is_none(), "{args:?}: {out}");
        assert!(
            installed(&c, &evil) && verified(&c, &evil),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn lock_only_and_dry_run_install_nothing_and_count_nothing() {
    let reg = npm_registries();
    let (sb, evil, plain) = project(reg, "dry");
    let added = uniq("dry-added");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&added, "2.0.0"));

    // `--package-lock-only`: the lockfile gets the new package (resolved through the gate and
    // checked), node_modules is not created.
    let c = clone(reg, &sb);
    let out = c
        .run(
            c.shim("npm")
                .args(["install", &added, "--package-lock-only"]),
        )
        .ok();
    assert!(!c.exists("node_modules"), "{out}");
    assert!(c.read("package-lock.json").contains(&added), "{out}");
    assert!(c.read("package.json").contains(&added), "{out}");

    // `--dry-run`: nothing changes, nothing installs, no script counted as blocked.
    for args in [
        &["install", "--dry-run"][..],
        &["install", &added, "--dry-run"],
        &["ci", "--dry-run"],
    ] {
        let c = clone(reg, &sb);
        let before = c.read("package.json");
        let out = c.run(c.shim("npm").args(args)).ok();
        assert!(
            !installed(&c, &evil) && !installed(&c, &plain),
            "{args:?}: {out}"
        );
        assert_eq!(c.read("package.json"), before, "{args:?}");
        assert!(c.npm_marker(&evil, "1.0.0").is_none());
        assert_eq!(
            c.counter("ci_postinstall_script_blocked_total", &[("package", &evil)]),
            0.0,
            "{args:?}: {out}"
        );
    }
}
