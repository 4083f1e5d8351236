//! Guarded npm against real registries: two Verdaccio 5 instances on loopback (internal, with
//! auth on `@myorg/*`; "public", where the attacker publishes), the real npm, the real lockgate
//! binary. Each row of the seed's Expected Behaviour table is shown with plain npm (the attack is
//! real here) and through lockgate (blocked), and each exit code npm can reach is checked with
//! "nothing installed" and the counter that must move.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::proxy::{Fault, FaultProxy};
use common::{tools, uniq, Sandbox};
use serde_json::Value;

const TOKEN_VAR: &str = "INTERNAL_NPM_TOKEN";

fn policy(reg: &NpmRegistries, public: &str) -> String {
    format!(
        "[npm]\nregistry = \"{public}\"\n[npm.internal]\nregistry = \"{}\"\nscopes = [\"@myorg\"]\ntoken-env = \"{TOKEN_VAR}\"\n",
        reg.internal.url
    )
}

/// A developer machine of the org: npm's config points at the public registry with no `@myorg`
/// mapping (the classic confusion setup), the policy names the internal registry, the token is in
/// the environment, and the CI secrets an attacker wants are there too.
fn sandbox(reg: &NpmRegistries) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.npmrc(&format!("registry={}", reg.public.url));
    sb.set_env(TOKEN_VAR, reg.internal_token.as_str());
    sb.set_env("AWS_SECRET_ACCESS_KEY", "aws-secret-value");
    sb.set_env("GITHUB_TOKEN", "ghp-secret-value");
    sb.write("lockgate.toml", policy(reg, &reg.public.url));
    sb
}

fn write_manifest(sb: &Sandbox, deps: &[(&str, &str)]) {
    let deps: serde_json::Map<String, Value> = deps
        .iter()
        .map(|(n, r)| (n.to_string(), Value::from(*r)))
        .collect();
    sb.write(
        "package.json",
        serde_json::to_string_pretty(
            &serde_json::json!({"name": "app", "version": "1.0.0", "dependencies": deps}),
        )
        .unwrap(),
    );
}

/// Plain npm with the org's correct config (`@myorg` mapped to the internal registry, token set):
/// the lockfile a developer would commit.
fn plain_npm(sb: &Sandbox, reg: &NpmRegistries, scope_mapped: bool) -> std::process::Command {
    let mut cmd = sb.cmd(&tools().npm);
    cmd.arg(format!("--registry={}", reg.public.url));
    if scope_mapped {
        let (key, token) = reg
            .internal
            .auth_line(&reg.internal_token)
            .split_once('=')
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .unwrap();
        cmd.arg(format!("--@myorg:registry={}", reg.internal.url))
            .env(format!("npm_config_{key}"), token);
    }
    cmd
}

fn lock(sb: &Sandbox, reg: &NpmRegistries, deps: &[(&str, &str)], keep_resolved: bool) {
    write_manifest(sb, deps);
    sb.run(plain_npm(sb, reg, true).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
        &format!("--omit-lockfile-registry-resolved={}", !keep_resolved),
    ]))
    .ok();
}

fn installed_version(sb: &Sandbox, name: &str) -> Option<String> {
    let text = fs::read_to_string(sb.path(format!("node_modules/{name}/package.json"))).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["version"]
        .as_str()
        .map(str::to_string)
}

fn lockfile(sb: &Sandbox) -> Value {
    serde_json::from_str(&sb.read("package-lock.json")).unwrap()
}

fn set_lockfile(sb: &Sandbox, v: &Value) {
    sb.write(
        "package-lock.json",
        serde_json::to_string_pretty(v).unwrap(),
    );
}

/// Files under the verified store's digest directories (tmp/ excluded).
fn store_files(sb: &Sandbox) -> usize {
    fn walk(p: &Path) -> usize {
        fs::read_dir(p).map_or(0, |d| {
            d.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    ["sha512", "sha256", "sha1"]
        .iter()
        .map(|a| walk(&sb.root().join("lockgate-cache").join(a)))
        .sum()
}

fn published(reg: &NpmRegistries, base: &str) -> (String, String) {
    let internal = format!("@myorg/{}", uniq(base));
    let public = uniq(&format!("{base}-util"));
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&public, "1.0.0"));
    reg.internal.publish(
        &reg.internal_token,
        &NpmPackage::new(&internal, "1.2.3").dependency(&public, "^1.0.0"),
    );
    (internal, public)
}

/// An internal `@myorg/<base>` at `version` on the internal registry and the attacker's 99.0.0
/// of the same name, with a postinstall, on the public one (the seed's adversary 1).
fn confusion_pair(reg: &NpmRegistries, base: &str, version: &str, internal_script: bool) -> String {
    let name = format!("@myorg/{}", uniq(base));
    let internal = NpmPackage::new(&name, version);
    let internal = if internal_script {
        internal.postinstall()
    } else {
        internal
    };
    reg.internal.publish(&reg.internal_token, &internal);
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&name, "99.0.0").postinstall(),
    );
    name
}

#[test]
fn pass_through_commands_run_the_real_npm_unchanged() {
    let sb = Sandbox::new();
    sb.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","scripts":{"hello":"node -e \"console.log('hi from script')\"","fail":"exit 7"}}"#,
    );
    let real = sb.run(sb.cmd(&tools().npm).arg("--version")).ok();
    let shim = sb.run(sb.shim("npm").arg("--version")).ok();
    assert_eq!(shim.stdout, real.stdout);
    let run = sb
        .run(sb.shim("npm").args(["run", "--silent", "hello"]))
        .ok();
    assert_eq!(run.stdout.trim(), "hi from script");
    assert!(
        !run.stderr.contains("lockgate"),
        "pass-through must be silent: {}",
        run.stderr
    );
    sb.run(sb.shim("npm").args(["run", "fail"])).code_is(7);
    assert!(!sb.exists("node_modules"));
    assert!(sb.audit().is_empty(), "pass-through records nothing");

    let npx = sb.run(sb.shim("npx").arg("--version")).ok();
    assert_eq!(npx.stdout, real.stdout);
    assert!(npx.stderr.contains("--yes=false"), "{}", npx.stderr);
}

#[test]
fn confusion_plain_npm_takes_the_attackers_99_lockgate_resolves_internal_only() {
    let reg = npm_registries();
    let name = confusion_pair(reg, "payments-client", "1.2.3", false);

    // Plain npm with the scope mapping missing: the attacker's version and its script.
    let plain = sandbox(reg);
    write_manifest(&plain, &[]);
    plain
        .run(plain_npm(&plain, reg, false).args(["install", &name]))
        .ok();
    assert_eq!(installed_version(&plain, &name).as_deref(), Some("99.0.0"));
    let marker = plain
        .npm_marker(&name, "99.0.0")
        .expect("the attacker's postinstall ran");
    assert_eq!(
        marker["env"]["AWS_SECRET_ACCESS_KEY"], "aws-secret-value",
        "and saw the CI secrets"
    );

    // Through lockgate, same machine config: internal only, the public offer counted.
    let sb = sandbox(reg);
    write_manifest(&sb, &[]);
    let out = sb.run(sb.shim("npm").args(["install", &name])).ok();
    assert_eq!(
        installed_version(&sb, &name).as_deref(),
        Some("1.2.3"),
        "{}",
        out.output()
    );
    assert!(sb.npm_marker(&name, "99.0.0").is_none());
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &name)]
        ),
        1.0
    );
    assert!(
        out.stderr.contains("also offers internal package"),
        "{}",
        out.stderr
    );
    let lock = lockfile(&sb);
    let entry = &lock["packages"][format!("node_modules/{name}")];
    assert_eq!(entry["version"], "1.2.3");
    assert!(
        entry["resolved"]
            .as_str()
            .unwrap()
            .starts_with(&reg.internal.url),
        "{entry}"
    );
    let pkg: Value = serde_json::from_str(&sb.read("package.json")).unwrap();
    assert_eq!(
        pkg["dependencies"][&name], "^1.2.3",
        "package.json as npm writes it"
    );
}

#[test]
fn lockfile_resolving_an_internal_name_from_public_is_refused_with_22() {
    let reg = npm_registries();
    let name = confusion_pair(reg, "ledger", "1.0.0", false);
    let sb = sandbox(reg);
    write_manifest(&sb, &[(&name, "*")]);
    // A lockfile written on a machine without the scope mapping.
    sb.run(plain_npm(&sb, reg, false).args([
        "install",
        "--package-lock-only",
        "--omit-lockfile-registry-resolved=false",
    ]))
    .ok();
    assert_eq!(
        lockfile(&sb)["packages"][format!("node_modules/{name}")]["version"],
        "99.0.0"
    );

    let out = sb.run(sb.shim("npm").arg("ci")).code_is(22);
    assert!(
        out.stderr.contains(&name) && out.stderr.contains(reg.public.url.trim_end_matches('/')),
        "{}",
        out.stderr
    );
    assert!(!sb.exists("node_modules"), "nothing installed");
    assert!(sb.npm_marker(&name, "99.0.0").is_none());
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &name)]
        ),
        1.0
    );
    assert_eq!(store_files(&sb), 0, "refused before any download");
    assert!(sb
        .audit()
        .iter()
        .any(|e| e["decision"] == "refuse" && e["reason"] == "dependency-confusion"));

    // `lockgate check` says the same, as JSON for CI.
    let check = sb
        .run(sb.lockgate().args(["check", "--format", "json"]))
        .code_is(22);
    let doc: Value = serde_json::from_str(&check.stdout).unwrap();
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "dependency-confusion"
                && f["package"].as_str().unwrap().starts_with(&name)),
        "{doc}"
    );
}

#[test]
fn postinstall_is_blocked_and_allowlisted_rebuild_runs_without_secrets() {
    let reg = npm_registries();
    let native = uniq("native-addon");
    let evil = uniq("color-helper");
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&native, "1.4.0").postinstall(),
    );
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&evil, "2.0.0").postinstall(),
    );
    let sb = sandbox(reg);
    sb.write(
        "lockgate.toml",
        format!(
            "{}[npm.scripts]\nallow = [\"{native}@1.4.0\"]\n",
            policy(reg, &reg.public.url)
        ),
    );
    lock(&sb, reg, &[(&native, "1.4.0"), (&evil, "2.0.0")], true);

    // Plain npm ci runs both scripts with every secret in their environment.
    let plain = sandbox(reg);
    plain.write("package.json", sb.read("package.json"));
    plain.write("package-lock.json", sb.read("package-lock.json"));
    plain.run(plain_npm(&plain, reg, true).arg("ci")).ok();
    assert_eq!(
        plain.npm_marker(&evil, "2.0.0").expect("script ran")["env"]["GITHUB_TOKEN"],
        "ghp-secret-value"
    );

    let out = sb.run(sb.shim("npm").arg("ci")).ok();
    assert!(
        sb.npm_marker(&evil, "2.0.0").is_none(),
        "blocked script must not run"
    );
    let m = sb
        .npm_marker(&native, "1.4.0")
        .expect("allowlisted script ran via npm rebuild");
    for secret in [TOKEN_VAR, "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"] {
        assert!(
            m["env"].get(secret).is_none(),
            "{secret} leaked into the install script"
        );
    }
    assert!(m["env"].get("PATH").is_some() && m["env"].get("HOME").is_some());
    assert!(
        m["env"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.to_lowercase().contains("_authtoken")),
        "gate token leaked"
    );
    assert_eq!(
        sb.counter("ci_postinstall_script_blocked_total", &[("package", &evil)]),
        1.0
    );
    assert_eq!(
        sb.counter(
            "ci_postinstall_script_blocked_total",
            &[("package", &native)]
        ),
        0.0
    );
    assert!(
        out.stderr.contains(&format!("{evil}@2.0.0")) && out.stderr.contains("[npm.scripts] allow"),
        "{}",
        out.stderr
    );
}

#[test]
fn tampered_artifact_is_refused_before_npm_runs_and_node_modules_stays() {
    let reg = npm_registries();
    let (internal, _public) = published(reg, "billing");
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    sb.write("node_modules/existing/keep.txt", "from before");

    // The registry now serves other bytes under the same version, packument updated to match:
    // plain npm without a lockfile would take them; the lockfile pins the original hash.
    reg.internal.replace_tarball(
        &NpmPackage::new(&internal, "1.2.3")
            .origin("tampered")
            .postinstall(),
        true,
    );
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(23);
    for needle in [
        internal.as_str(),
        "sha512-",
        &format!("{}-1.2.3.tgz", internal.rsplit('/').next().unwrap()),
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle} missing in: {}",
            out.stderr
        );
    }
    assert_eq!(
        sb.read("node_modules/existing/keep.txt"),
        "from before",
        "npm never started"
    );
    assert!(!sb.exists(format!("node_modules/{internal}")));
    assert_eq!(
        sb.counter(
            "registry_integrity_verification_failure_total",
            &[("package", &internal), ("version", "1.2.3")]
        ),
        1.0
    );
    assert_eq!(
        fs::read_dir(sb.root().join("lockgate-cache/tmp"))
            .unwrap()
            .count(),
        0,
        "no partial left"
    );

    // Plain npm without a lockfile installs the tampered bytes and runs their script.
    let plain = sandbox(reg);
    write_manifest(&plain, &[]);
    plain
        .run(plain_npm(&plain, reg, true).args(["install", &format!("{internal}@1.2.3")]))
        .ok();
    assert!(
        plain.npm_marker(&internal, "1.2.3").is_some(),
        "the attack is real without a lock"
    );
}

#[test]
fn missing_or_wrong_credentials_are_refused_with_25() {
    let reg = npm_registries();
    let (internal, _) = published(reg, "secrets");
    // Anonymous reads of the internal registry are refused by the registry itself.
    let anon = common::http::get(&format!(
        "{}{}",
        reg.internal.url,
        internal.replace('/', "%2f")
    ))
    .unwrap();
    assert_eq!(anon.status(), 401);

    let mut sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    sb.remove_env(TOKEN_VAR);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(25);
    assert!(out.stderr.contains(TOKEN_VAR), "{}", out.stderr);
    assert!(!sb.exists("node_modules"));
    let origin = reg.internal.url.trim_end_matches('/');
    assert_eq!(
        sb.counter(
            "registry_auth_failure_total",
            &[("registry", origin), ("user", "anonymous")]
        ),
        1.0
    );

    sb.set_env(TOKEN_VAR, "not-the-token");
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(25);
    assert!(
        out.stderr.contains("401") || out.stderr.contains("Unauthorized"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("not-the-token"),
        "the token is never printed"
    );
    assert_eq!(
        sb.counter(
            "registry_auth_failure_total",
            &[("registry", origin), ("user", "token")]
        ),
        1.0
    );
    assert!(!fs::read_to_string(sb.root().join("audit.jsonl"))
        .unwrap_or_default()
        .contains(&reg.internal_token));
}

#[test]
fn lockfile_without_resolved_installs_through_synthesized_packuments() {
    let reg = npm_registries();
    let (internal, public) = published(reg, "noresolved");
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "^1.2.0")], false);
    assert!(lockfile(&sb)["packages"][format!("node_modules/{internal}")]["resolved"].is_null());
    let out = sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.2.3"));
    assert_eq!(installed_version(&sb, &public).as_deref(), Some("1.0.0"));
    assert!(out.stderr.contains("2 packages verified"), "{}", out.stderr);
    assert_eq!(
        sb.counter(
            "registry_package_download_total",
            &[
                ("package", &internal),
                ("version", "1.2.3"),
                ("source", "internal")
            ]
        ),
        1.0
    );
    // A second install comes from the verified store: no download.
    fs::remove_dir_all(sb.path("node_modules")).unwrap();
    let out = sb.run(sb.shim("npm").args(["install"])).ok();
    assert!(out.stderr.contains("0 downloaded"), "{}", out.stderr);
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.2.3"));
}

#[test]
fn lockfile_v1_v2_and_shrinkwrap_install() {
    let reg = npm_registries();
    let (internal, public) = published(reg, "formats");
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    let v3 = lockfile(&sb);

    // v1: the nested `dependencies` tree only.
    let mut deps = serde_json::Map::new();
    for (key, e) in v3["packages"].as_object().unwrap() {
        if let Some(name) = key.strip_prefix("node_modules/") {
            let mut d = serde_json::Map::new();
            for f in ["version", "resolved", "integrity"] {
                d.insert(f.into(), e[f].clone());
            }
            if let Some(r) = e.get("dependencies") {
                d.insert("requires".into(), r.clone());
            }
            deps.insert(name.into(), Value::Object(d));
        }
    }
    set_lockfile(
        &sb,
        &serde_json::json!({"name": "app", "version": "1.0.0", "lockfileVersion": 1, "requires": true, "dependencies": deps}),
    );
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed_version(&sb, &public).as_deref(), Some("1.0.0"));

    // v2 (packages + dependencies), as npm-shrinkwrap.json.
    let mut v2 = v3.clone();
    v2["lockfileVersion"] = 2.into();
    v2["dependencies"] = Value::Object(deps);
    fs::remove_file(sb.path("package-lock.json")).unwrap();
    sb.write(
        "npm-shrinkwrap.json",
        serde_json::to_string_pretty(&v2).unwrap(),
    );
    fs::remove_dir_all(sb.path("node_modules")).unwrap();
    let out = sb.run(sb.shim("npm").arg("ci")).ok();
    assert!(out.stderr.contains("npm-shrinkwrap.json"), "{}", out.stderr);
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.2.3"));
}

#[test]
fn aliases_nested_versions_and_workspaces_install() {
    let reg = npm_registries();
    let leaf = uniq("leaf");
    let mid = uniq("mid");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&leaf, "1.0.0"));
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&leaf, "2.0.0"));
    reg.public.publish(
        &reg.attacker_token,
        &NpmPackage::new(&mid, "1.0.0").dependency(&leaf, "1.0.0"),
    );
    let sb = sandbox(reg);
    sb.write(
        "package.json",
        serde_json::json!({"name": "app", "version": "1.0.0", "workspaces": ["packages/*"],
            "dependencies": {&mid: "1.0.0", &leaf: "2.0.0", "leaf-alias": format!("npm:{leaf}@1.0.0")}})
        .to_string(),
    );
    sb.write(
        "packages/web/package.json",
        serde_json::json!({"name": "web", "version": "0.1.0", "dependencies": {&leaf: "2.0.0"}})
            .to_string(),
    );
    sb.run(plain_npm(&sb, reg, true).args(["install", "--package-lock-only", "--ignore-scripts"]))
        .ok();
    let lock = lockfile(&sb);
    assert!(
        lock["packages"][format!("node_modules/{mid}/node_modules/{leaf}")].is_object(),
        "nested entry expected"
    );

    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed_version(&sb, &leaf).as_deref(), Some("2.0.0"));
    assert_eq!(
        installed_version(&sb, &format!("{mid}/node_modules/{leaf}")).as_deref(),
        Some("1.0.0")
    );
    assert_eq!(
        installed_version(&sb, "leaf-alias").as_deref(),
        Some("1.0.0")
    );
    assert!(
        fs::symlink_metadata(sb.path("node_modules/web"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "workspace linked"
    );
}

#[test]
fn unverifiable_entries_and_missing_or_stale_lockfiles_are_21() {
    let reg = npm_registries();
    let (internal, public) = published(reg, "lockerr");
    let sb = sandbox(reg);
    write_manifest(&sb, &[(&internal, "1.2.3")]);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(21);
    assert!(out.stderr.contains("needs a lockfile"), "{}", out.stderr);

    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    let good = lockfile(&sb);
    let mut bad = good.clone();
    bad["packages"][format!("node_modules/{public}")]
        .as_object_mut()
        .unwrap()
        .remove("integrity");
    bad["packages"]["node_modules/gitdep"] = serde_json::json!({"version": "1.0.0", "resolved": "git+ssh://git@github.com/o/gitdep.git#abc123"});
    set_lockfile(&sb, &bad);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(21);
    assert!(out.stderr.contains("2 problems"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{public}@1.0.0: has no integrity hash")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("gitdep@1.0.0: comes from git")
            && out.stderr.contains("unsafe-allow-non-registry"),
        "{}",
        out.stderr
    );
    assert!(!sb.exists("node_modules"));

    set_lockfile(&sb, &good);
    // Out of sync as npm ci decides it: the locked 1.2.3 does not satisfy the new range (a range
    // it still satisfies, like ^1.0.0, is in sync for npm ci and for lockgate).
    write_manifest(&sb, &[(&internal, "^2.0.0")]);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(21);
    assert!(out.stderr.contains("out of sync"), "{}", out.stderr);
    sb.write("package-lock.json", "{ not json");
    sb.run(sb.shim("npm").arg("ci")).code_is(21);
}

#[test]
fn insecure_and_disallowed_sources_are_26() {
    let reg = npm_registries();
    let (internal, public) = published(reg, "insecure");
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);

    let mut evil = lockfile(&sb);
    let key = format!("node_modules/{public}");
    evil["packages"][&key]["resolved"] =
        format!("https://evil.example/{public}/-/{public}-1.0.0.tgz").into();
    set_lockfile(&sb, &evil);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(26);
    assert!(
        out.stderr.contains("https://evil.example") && out.stderr.contains("does not permit"),
        "{}",
        out.stderr
    );

    sb.write(
        "lockgate.toml",
        policy(reg, "http://npm-proxy.corp.example/"),
    );
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(26);
    assert!(out.stderr.contains("plain http"), "{}", out.stderr);
    assert!(!sb.exists("node_modules"));
}

#[test]
fn redirect_to_plain_http_off_loopback_is_refused_without_connecting() {
    let reg = npm_registries();
    let (_, public) = published(reg, "redirect-http");
    let proxy = FaultProxy::start_for(
        &reg.public.url,
        Fault::Redirect {
            to: "http://203.0.113.1:80".into(),
        },
        Some("/-/"),
    );
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&public, "1.0.0")], false);
    sb.write("lockgate.toml", policy(reg, &proxy.url));
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(26);
    assert!(
        out.stderr.contains("redirected") && out.stderr.contains("203.0.113.1"),
        "{}",
        out.stderr
    );
    assert!(!sb.exists("node_modules"));
}

#[test]
fn redirect_to_another_origin_is_followed_without_credentials() {
    let reg = npm_registries();
    let (_, public) = published(reg, "redirect-origin");
    let storage = FaultProxy::start(&reg.public.url, Fault::Pass);
    let front = FaultProxy::start_for(
        &reg.public.url,
        Fault::Redirect {
            to: storage.url.trim_end_matches('/').into(),
        },
        Some("/-/"),
    );
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&public, "1.0.0")], false);
    let front_host = front
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    sb.npmrc(&format!(
        "registry={}\n//{front_host}/:_authToken=front-secret",
        reg.public.url
    ));
    sb.write("lockgate.toml", policy(reg, &front.url));
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed_version(&sb, &public).as_deref(), Some("1.0.0"));
    let to_front = front.requests();
    assert!(
        to_front
            .iter()
            .any(|r| r.header("authorization") == Some("Bearer front-secret")),
        "the front host gets its token"
    );
    let to_storage = storage.requests();
    assert!(!to_storage.is_empty(), "the redirect was followed");
    assert!(
        to_storage
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "no credentials to another origin: {to_storage:?}"
    );
}

#[test]
fn transient_errors_are_retried_and_persistent_ones_are_27() {
    let reg = npm_registries();
    let (_, public) = published(reg, "flaky");
    let proxy = FaultProxy::start_for(
        &reg.public.url,
        Fault::Status {
            status: 503,
            times: 2,
        },
        Some("/-/"),
    );
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&public, "1.0.0")], false);
    sb.write("lockgate.toml", policy(reg, &proxy.url));
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(
        proxy
            .requests()
            .iter()
            .filter(|r| r.path.contains("/-/"))
            .count(),
        3,
        "two 503s then success"
    );

    // Truncated bodies every time: retried, then 27, and the store holds nothing unverified.
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&public, "1.0.0")], false);
    proxy.set_fault(Fault::Truncate);
    sb.write("lockgate.toml", policy(reg, &proxy.url));
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(27);
    assert!(out.stderr.contains("attempts"), "{}", out.stderr);
    assert_eq!(store_files(&sb), 0);
    assert!(!sb.exists("node_modules"));

    // Nothing listening: unreachable after retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    sb.write(
        "lockgate.toml",
        policy(reg, &format!("http://127.0.0.1:{closed}/")),
    );
    sb.run(sb.shim("npm").arg("ci")).code_is(27);

    // A locked version the registry does not have.
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&public, "1.0.0")], false);
    let mut l = lockfile(&sb);
    l["packages"][format!("node_modules/{public}")]["version"] = "1.0.1".into();
    set_lockfile(&sb, &l);
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(27);
    assert!(
        out.stderr.contains("not found") || out.stderr.contains("does not list"),
        "{}",
        out.stderr
    );
}

#[test]
fn kill_9_mid_download_leaves_no_unverified_bytes_in_the_store() {
    let reg = npm_registries();
    let big = uniq("big-assets");
    // Random-looking content so the tarball stays large after gzip.
    let mut blob = String::new();
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for _ in 0..120_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob.push_str(&format!("{:x}", x % 65536));
    }
    let pkg = NpmPackage::new(&big, "1.0.0").origin(&blob);
    reg.public.publish(&reg.attacker_token, &pkg);
    let proxy = FaultProxy::start_for(
        &reg.public.url,
        Fault::Trickle {
            chunk: 4096,
            every: Duration::from_millis(20),
        },
        Some("/-/"),
    );
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&big, "1.0.0")], false);
    sb.write("lockgate.toml", policy(reg, &proxy.url));

    let mut child = sb
        .shim("npm")
        .arg("ci")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !proxy.requests().iter().any(|r| r.path.contains("/-/")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "download never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert_eq!(
        store_files(&sb),
        0,
        "a killed download never appears under a digest"
    );
    assert!(!sb.exists("node_modules"));

    proxy.set_fault(Fault::Pass);
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(store_files(&sb), 1);
    assert_eq!(installed_version(&sb, &big).as_deref(), Some("1.0.0"));
}

#[test]
fn route_mode_refusal_restores_package_json_and_lockfile_byte_for_byte() {
    let reg = npm_registries();
    let (internal, _) = published(reg, "route-restore");
    let victim = uniq("victim");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&victim, "1.0.0"));
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    let manifest_before = sb.read("package.json");
    let lock_before = sb.read("package-lock.json");
    // The stored bytes change but the packument still advertises the original integrity.
    reg.public
        .replace_tarball(&NpmPackage::new(&victim, "1.0.0").origin("swapped"), false);

    let out = sb
        .run(sb.shim("npm").args(["install", &victim]))
        .code_is(23);
    assert!(out.stderr.contains("restored"), "{}", out.stderr);
    assert_eq!(sb.read("package.json"), manifest_before);
    assert_eq!(sb.read("package-lock.json"), lock_before);
    assert!(!sb.exists(format!("node_modules/{victim}")));
}

#[test]
fn npm_update_and_install_without_lockfile_go_through_the_gate() {
    let reg = npm_registries();
    let lib = uniq("svr-lib");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&lib, "1.0.0"));
    let sb = sandbox(reg);
    write_manifest(&sb, &[(&lib, "^1.0.0")]);
    sb.run(sb.shim("npm").arg("install")).ok();
    assert!(
        sb.exists("package-lock.json"),
        "install without a lockfile writes one"
    );
    assert_eq!(installed_version(&sb, &lib).as_deref(), Some("1.0.0"));

    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&lib, "1.1.0"));
    sb.run(sb.shim("npm").arg("update")).ok();
    assert_eq!(installed_version(&sb, &lib).as_deref(), Some("1.1.0"));
    assert_eq!(
        lockfile(&sb)["packages"][format!("node_modules/{lib}")]["version"],
        "1.1.0"
    );
}

#[test]
fn an_older_npm_is_guarded_the_same_way() {
    let reg = npm_registries();
    let (internal, public) = published(reg, "npm10");
    let mut sb = sandbox(reg);
    sb.set_env("LOCKGATE_REAL_NPM", tools().npm10.as_os_str());
    lock(&sb, reg, &[(&internal, "1.2.3")], false);
    let version = sb.run(sb.shim("npm").arg("--version")).ok();
    assert!(version.stdout.starts_with("10."), "{}", version.stdout);
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.2.3"));
    assert_eq!(installed_version(&sb, &public).as_deref(), Some("1.0.0"));

    let other = uniq("npm10-added");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&other, "3.0.0"));
    sb.run(sb.shim("npm").args(["install", &other])).ok();
    assert_eq!(installed_version(&sb, &other).as_deref(), Some("3.0.0"));

    let mut l = lockfile(&sb);
    l["packages"][format!("node_modules/{internal}")]["resolved"] =
        format!("{}{internal}/-/x.tgz", reg.public.url).into();
    set_lockfile(&sb, &l);
    sb.run(sb.shim("npm").arg("ci")).code_is(22);
}

#[test]
fn counters_accumulate_across_concurrent_runs() {
    let reg = npm_registries();
    let name = format!("@myorg/{}", uniq("concurrent"));
    let sb = sandbox(reg);
    write_manifest(&sb, &[(&name, "1.0.0")]);
    let integrity = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";
    set_lockfile(
        &sb,
        &serde_json::json!({"lockfileVersion": 3, "packages": {"": {"dependencies": {&name: "1.0.0"}},
            format!("node_modules/{name}"): {"version": "1.0.0", "resolved": format!("{}{name}/-/x-1.0.0.tgz", reg.public.url), "integrity": integrity}}}),
    );
    let children: Vec<_> = (0..6)
        .map(|_| {
            sb.shim("npm")
                .arg("ci")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(22));
    }
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &name)]
        ),
        6.0
    );
    assert!(sb
        .metrics()
        .contains("# TYPE registry_confusion_attempt_detected_total counter"));
}

#[test]
fn configuration_errors_are_20() {
    let reg = npm_registries();
    let mut sb = sandbox(reg);
    write_manifest(&sb, &[]);
    sb.write("lockgate.toml", "[npm]\nregistri = \"https://x/\"\n");
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(20);
    assert!(
        out.stderr.contains("registri") && out.stderr.contains("lockgate.toml"),
        "{}",
        out.stderr
    );

    // An org file the project tries to re-point.
    sb.write("org.toml", policy(reg, &reg.public.url));
    sb.set_env("LOCKGATE_SYSTEM_CONFIG", sb.path("org.toml"));
    sb.write(
        "lockgate.toml",
        "[npm.internal]\nregistry = \"https://elsewhere.example/\"\n",
    );
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(20);
    assert!(
        out.stderr.contains("npm.internal.registry") && out.stderr.contains("org"),
        "{}",
        out.stderr
    );

    // A real npm that calls back into the shim: the recursion counter stops the loop.
    sb.remove_env("LOCKGATE_SYSTEM_CONFIG");
    sb.write("lockgate.toml", policy(reg, &reg.public.url));
    let wrapper = sb.write("../wrapper/npm", "#!/bin/sh\nexec npm \"$@\"\n");
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    sb.set_env("LOCKGATE_REAL_NPM", &wrapper);
    let out = sb.run(sb.shim("npm").arg("--version")).code_is(20);
    assert!(out.stderr.contains("called itself"), "{}", out.stderr);
}

#[test]
fn global_install_goes_through_the_gate_with_scripts_off() {
    let reg = npm_registries();
    let name = confusion_pair(reg, "cli", "1.2.3", true);
    let mut sb = sandbox(reg);
    let prefix = sb.root().join("global");
    sb.set_env("npm_config_prefix", &prefix);
    let out = sb.run(sb.shim("npm").args(["install", "-g", &name])).ok();
    let installed: Value = serde_json::from_str(
        &fs::read_to_string(prefix.join(format!("lib/node_modules/{name}/package.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        installed["version"],
        "1.2.3",
        "internal only: {}",
        out.output()
    );
    assert!(
        sb.npm_marker(&name, "1.2.3").is_none() && sb.npm_marker(&name, "99.0.0").is_none(),
        "no script ran"
    );
    assert!(out.stderr.contains("install scripts off"), "{}", out.stderr);
    assert_eq!(
        sb.counter(
            "registry_confusion_attempt_detected_total",
            &[("package", &name)]
        ),
        1.0
    );
}

#[test]
fn install_ci_test_installs_guarded_then_runs_the_tests() {
    let reg = npm_registries();
    let (internal, _) = published(reg, "cit");
    let sb = sandbox(reg);
    lock(&sb, reg, &[(&internal, "1.2.3")], true);
    let mut manifest: Value = serde_json::from_str(&sb.read("package.json")).unwrap();
    manifest["scripts"] = serde_json::json!({"test": format!("node -e \"require('{internal}'); console.log('tests ran')\"")});
    sb.write("package.json", manifest.to_string());
    let out = sb.run(sb.shim("npm").arg("cit")).ok();
    assert!(out.stdout.contains("tests ran"), "{}", out.output());
    assert!(out.stderr.contains("packages verified"), "{}", out.stderr);
    assert_eq!(installed_version(&sb, &internal).as_deref(), Some("1.2.3"));
}
