//! `lockgate check` as the CI gate, with the real binary: exit codes per the contract, SARIF
//! that validates against the published schema and points at the lockfile line, and `--public`
//! against the loopback "public" Verdaccio and pypiserver, where the attacker holds
//! `@myorg/payments-client` and `myorg-payments-client`.

mod common;

use std::fs;

use serde_json::Value;
use sha2::Digest as _;

use common::npm::{npm_digests, npm_registries, NpmPackage};
use common::pypi::{build_wheel, build_wheel_with_origin, pypi_registries};
use common::sandbox::{base_env, command_with_env};
use common::{repo_root, tools, uniq, Sandbox};

/// An integrity value for entries whose bytes `check` never fetches.
const SRI: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";

const POLICY: &str = "[npm.internal]\nregistry = \"https://npm.corp.example/\"\nscopes = [\"@myorg\"]\n[pip.internal]\nindex-url = \"https://pypi.corp.example/simple/\"\nprefixes = [\"myorg-\"]\n";

fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.set_env("LOCKGATE_SYSTEM_CONFIG", "");
    sb
}

/// One v3 lockfile entry, as npm 11 writes it.
fn entry(name: &str, resolved: Option<&str>, integrity: Option<&str>) -> String {
    let mut fields = vec!["      \"version\": \"1.0.0\"".to_string()];
    if let Some(r) = resolved {
        fields.push(format!("      \"resolved\": \"{r}\""));
    }
    if let Some(i) = integrity {
        fields.push(format!("      \"integrity\": \"{i}\""));
    }
    format!(
        "    \"node_modules/{name}\": {{\n{}\n    }}",
        fields.join(",\n")
    )
}

fn public_url(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("https://registry.npmjs.org/{name}/-/{base}-1.0.0.tgz")
}

/// package.json listing `direct`, and a lockfile with `entries` (pretty-printed like npm's).
fn npm_project(sb: &Sandbox, direct: &[&str], entries: &[String]) {
    let deps: Vec<String> = direct
        .iter()
        .map(|d| format!("    \"{d}\": \"^1.0.0\""))
        .collect();
    sb.write(
        "package.json",
        format!("{{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {{\n{}\n  }}\n}}\n", deps.join(",\n")),
    );
    let deps: Vec<String> = direct
        .iter()
        .map(|d| format!("        \"{d}\": \"^1.0.0\""))
        .collect();
    let root = format!(
        "    \"\": {{\n      \"name\": \"app\",\n      \"version\": \"1.0.0\",\n      \"dependencies\": {{\n{}\n      }}\n    }}",
        deps.join(",\n")
    );
    let all: Vec<String> = std::iter::once(root)
        .chain(entries.iter().cloned())
        .collect();
    sb.write(
        "package-lock.json",
        format!(
            "{{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {{\n{}\n  }}\n}}\n",
            all.join(",\n")
        ),
    );
}

fn check_json(sb: &Sandbox, args: &[&str], code: i32) -> Value {
    let out = sb
        .run(
            sb.lockgate()
                .arg("check")
                .args(args)
                .args(["--format", "json"]),
        )
        .code_is(code);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("check --format json: {e}\n{out}"))
}

/// (kind, severity, package) of every finding.
fn kinds(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("severity"), s("package"))
        })
        .collect()
}

fn has(doc: &Value, kind: &str, severity: &str, package: &str) -> bool {
    kinds(doc).contains(&(kind.into(), severity.into(), package.into()))
}

/// Each kind of problem gives its contract code; warnings alone pass; the most severe wins.
#[test]
fn exit_codes_follow_the_most_severe_finding() {
    let ok = |n: &str| entry(n, Some(&public_url(n)), Some(SRI));
    let cases: Vec<(&str, Vec<&str>, Vec<String>, i32)> = vec![
        ("clean", vec!["express"], vec![ok("express")], 0),
        (
            "transitive typosquat is a warning",
            vec!["express"],
            vec![ok("express"), ok("mongose")],
            0,
        ),
        (
            "no integrity",
            vec!["express"],
            vec![entry("express", Some(&public_url("express")), None)],
            21,
        ),
        (
            "http off loopback",
            vec!["express"],
            vec![entry(
                "express",
                Some("http://registry.npmjs.org/express/-/express-1.0.0.tgz"),
                Some(SRI),
            )],
            26,
        ),
        (
            "internal name from the public registry",
            vec!["@myorg/pay"],
            vec![ok("@myorg/pay")],
            22,
        ),
        ("direct typosquat", vec!["expres"], vec![ok("expres")], 24),
        (
            "confusion outranks typosquat",
            vec!["expres", "@myorg/pay"],
            vec![ok("expres"), ok("@myorg/pay")],
            22,
        ),
    ];
    // `--offline`: these lockfiles name registries that are not there; the lookups check makes by
    // default are tested in tests/pip_guard.rs.
    for (what, direct, entries, code) in cases {
        let sb = sandbox();
        sb.write("lockgate.toml", POLICY);
        npm_project(&sb, &direct, &entries);
        let doc = check_json(&sb, &["--offline"], code);
        assert_eq!(doc["exit_code"], code, "{what}: {doc:#}");
        if what.starts_with("transitive") {
            assert!(
                has(&doc, "typosquat", "warning", "mongose"),
                "{what}: {doc:#}"
            );
        }
    }

    // pip: a hand-written pin is direct (error); a pin pip-compile made for a dependency is not.
    let sb = sandbox();
    sb.write("lockgate.toml", POLICY);
    sb.write("requirements.txt", "reqeusts==2.31.0\n");
    let doc = check_json(&sb, &["--offline"], 24);
    assert!(has(&doc, "typosquat", "error", "reqeusts"), "{doc:#}");
    sb.write(
        "requirements.txt",
        "requests==2.31.0\n    # via -r requirements.in\nreqeusts==2.31.0\n    # via requests\n",
    );
    let doc = check_json(&sb, &["--offline"], 0);
    assert!(has(&doc, "typosquat", "warning", "reqeusts"), "{doc:#}");
    assert_eq!(doc["findings"][0]["line"], 3);

    // Nothing to audit is a lockfile problem, not a pass.
    let sb = sandbox();
    sb.run(sb.lockgate().arg("check")).code_is(21);
}

/// `--format sarif` validates against the SARIF 2.1.0 schema, and each result names the rule,
/// the level, the lockfile (relative) and the line of the entry.
#[test]
fn sarif_output_is_valid_and_points_at_the_lockfile_line() {
    let sb = sandbox();
    sb.write("lockgate.toml", POLICY);
    let ok = |n: &str| entry(n, Some(&public_url(n)), Some(SRI));
    npm_project(
        &sb,
        &["express", "expres"],
        &[ok("express"), ok("expres"), ok("mongose")],
    );
    let out = sb
        .run(sb.lockgate().args(["check", "--format", "sarif"]))
        .code_is(24);
    let path = sb.write("out.sarif", &out.stdout);

    let schema = repo_root().join("tests/fixtures/sarif-2.1.0-rtm.5.json");
    let script = "import json, sys, jsonschema\njsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))\nprint('valid')";
    let mut validate = command_with_env(&tools().venv_python, &base_env());
    validate.args(["-c", script]).arg(&path).arg(&schema);
    let v = sb.run(&mut validate);
    assert!(
        v.output().contains("valid") && v.code() == Some(0),
        "SARIF does not validate (jsonschema comes with the tools venv: scripts/setup-test-env.sh)\n{v}"
    );

    let log: Value = serde_json::from_str(&out.stdout).unwrap();
    let lock = sb.read("package-lock.json");
    let line_of = |n: &str| {
        lock.lines()
            .position(|l| l.contains(&format!("\"node_modules/{n}\": {{")))
            .unwrap()
            + 1
    };
    let results = log["runs"][0]["results"].as_array().unwrap();
    let find = |pkg: &str| {
        results
            .iter()
            .find(|r| {
                r["message"]["text"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{pkg}:"))
            })
            .unwrap_or_else(|| panic!("no result for {pkg}: {log:#}"))
    };
    for (pkg, level) in [("expres", "error"), ("mongose", "warning")] {
        let r = find(pkg);
        assert_eq!(r["ruleId"], "typosquat");
        assert_eq!(r["level"], level);
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "package-lock.json");
        assert_eq!(loc["region"]["startLine"], line_of(pkg), "{pkg}");
    }
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r["id"] == "typosquat"), "{rules:?}");
}

/// `--public`: the attacker holds `@myorg/payments-client` on the public Verdaccio and
/// `myorg-payments-client` on the public pypiserver → 22, counted; internal names nobody holds
/// are claimable (unscoped) warnings; a scoped name nobody holds is fine. Without `--public` the
/// same project passes, which is why the flag exists.
#[test]
fn check_public_finds_the_attackers_copies_of_internal_names() {
    let npm = npm_registries();
    let pypi = pypi_registries();
    let scoped = "@myorg/payments-client";
    let free_scoped = format!("@myorg/{}", uniq("ledger"));
    let unscoped = uniq("legacy-billing");
    for name in [scoped, free_scoped.as_str(), unscoped.as_str()] {
        npm.internal.publish(
            &npm.internal_token,
            &NpmPackage::new(name, "1.0.0").origin("internal"),
        );
    }
    npm.public.publish(
        &npm.attacker_token,
        &NpmPackage::new(scoped, "99.0.0")
            .origin("attacker")
            .postinstall(),
    );
    let wheel = pypi
        .internal
        .add(&build_wheel("myorg-payments-client", "1.0.0", &[]));
    pypi.public.add(&build_wheel_with_origin(
        "myorg-payments-client",
        "99.0.0",
        &[],
        "attacker",
    ));
    let free_pip = uniq("myorg-billing");
    let free_wheel = pypi.internal.add(&build_wheel(&free_pip, "1.0.0", &[]));

    let sb = sandbox();
    sb.write(
        "lockgate.toml",
        format!(
            "[npm]\nregistry = \"{}\"\n[npm.internal]\nregistry = \"{}\"\nscopes = [\"@myorg\"]\n[pip]\nindex-url = \"{}\"\n[pip.internal]\nindex-url = \"{}\"\nprefixes = [\"myorg-\"]\n",
            npm.public.url,
            npm.internal.url,
            pypi.public.simple_url(),
            pypi.internal.simple_url()
        ),
    );
    let internal_entry = |name: &str| {
        let (integrity, _) =
            npm_digests(&fs::read(npm.internal.tarball_path(name, "1.0.0")).unwrap());
        entry(
            name,
            Some(&npm.internal.tarball_url(name, "1.0.0")),
            Some(&integrity),
        )
    };
    npm_project(
        &sb,
        &[scoped, &free_scoped, &unscoped],
        &[
            internal_entry(scoped),
            internal_entry(&free_scoped),
            internal_entry(&unscoped),
        ],
    );
    let sha256 = |p: &std::path::Path| hex(&sha2::Sha256::digest(fs::read(p).unwrap()));
    sb.write(
        "requirements.txt",
        format!(
            "myorg-payments-client==1.0.0 --hash=sha256:{}\n{free_pip}==1.0.0 --hash=sha256:{}\n",
            sha256(&wheel),
            sha256(&free_wheel)
        ),
    );

    // Without --public nothing shows the attacker's copies: only the unscoped name is noted.
    // (`--offline`: this policy has no credentials for the internal index, so the install's own
    // lookup of the locked files, which check makes by default, would stop with 25.)
    let doc = check_json(&sb, &["--offline"], 0);
    assert!(
        has(&doc, "unscoped-internal", "warning", &unscoped),
        "{doc:#}"
    );

    let doc = check_json(&sb, &["--public", "--offline"], 22);
    assert!(
        has(&doc, "dependency-confusion", "error", scoped),
        "{doc:#}"
    );
    assert!(
        has(
            &doc,
            "dependency-confusion",
            "error",
            "myorg-payments-client"
        ),
        "{doc:#}"
    );
    assert!(
        has(&doc, "unscoped-internal", "warning", &unscoped),
        "{doc:#}"
    );
    assert!(
        has(&doc, "unscoped-internal", "warning", &free_pip),
        "{doc:#}"
    );
    let about = |pkg: &str| kinds(&doc).into_iter().filter(|k| k.2 == pkg).count();
    assert_eq!(
        about(&free_scoped),
        0,
        "a scoped name nobody holds is fine: {doc:#}"
    );
    assert_eq!(about(&unscoped), 1, "one verdict per name: {doc:#}");
    let finding = |pkg: &str| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["package"] == pkg && f["kind"] == "dependency-confusion")
            .unwrap()
            .clone()
    };
    let lock = sb.read("package-lock.json");
    let line = lock
        .lines()
        .position(|l| l.contains(&format!("\"node_modules/{scoped}\"")))
        .unwrap()
        + 1;
    assert_eq!(finding(scoped)["line"], line);
    assert!(finding(scoped)["message"]
        .as_str()
        .unwrap()
        .contains(npm.public.url.trim_end_matches('/')));
    assert_eq!(finding("myorg-payments-client")["line"], 1);
    for pkg in [scoped, "myorg-payments-client"] {
        assert_eq!(
            sb.counter(
                "registry_confusion_attempt_detected_total",
                &[("package", pkg)]
            ),
            1.0,
            "{pkg}"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Without `--offline`, check looks each npm tarball up on its permitted registry by the
/// registry's own record (`dist.integrity`), as the install's download would: a version whose
/// bytes changed on the registry (packument updated) is 23, a version the registry does not
/// have 27. `--offline` passes the same lockfile and says it skipped the lookups.
#[test]
fn check_looks_npm_tarballs_up_on_their_registry() {
    let npm = npm_registries();
    let changed = uniq("zqx-changed");
    npm.public.publish(
        &npm.attacker_token,
        &NpmPackage::new(&changed, "1.0.0").origin("first"),
    );
    let (integrity, _) =
        npm_digests(&fs::read(npm.public.tarball_path(&changed, "1.0.0")).unwrap());
    let gone = uniq("zqx-gone");
    let sb = sandbox();
    sb.write(
        "lockgate.toml",
        format!("[npm]\nregistry = \"{}\"\n", npm.public.url),
    );
    let locked = |name: &str| {
        entry(
            name,
            Some(&npm.public.tarball_url(name, "1.0.0")),
            Some(&integrity),
        )
    };
    npm_project(&sb, &[&changed], &[locked(&changed)]);
    let doc = check_json(&sb, &[], 0);
    assert!(
        doc["lookups"]["summary"]
            .as_str()
            .unwrap()
            .contains("npm: 1 locked tarballs looked up"),
        "{doc:#}"
    );

    npm.public
        .replace_tarball(&NpmPackage::new(&changed, "1.0.0").origin("second"), true);
    let gone_entry = entry(
        &gone,
        Some(&npm.public.tarball_url(&gone, "1.0.0")),
        Some(SRI),
    );
    npm_project(&sb, &[&changed, &gone], &[locked(&changed), gone_entry]);
    let doc = check_json(&sb, &["--offline"], 0);
    assert_eq!(doc["lookups"]["skipped"], true, "{doc:#}");
    let doc = check_json(&sb, &[], 23);
    assert!(
        has(&doc, "integrity", "error", &format!("{changed}@1.0.0")),
        "{doc:#}"
    );
    assert!(
        has(&doc, "unavailable", "error", &format!("{gone}@1.0.0")),
        "{doc:#}"
    );
}

/// Maven: check looks each locked file up on its permitted repository (`.sha256`, else the file)
/// as the build would fetch it: an internal file whose bytes differ from the lock is 23; a
/// locked internal file only the public repository has is 22 (counted). `--offline` cannot
/// tell and passes.
#[test]
fn check_looks_maven_files_up_on_their_repository() {
    use common::maven::{maven_repos, MavenArtifact, INTERNAL_MAVEN_USER};
    let repos = maven_repos();
    let artifact = uniq("ledger-client");
    MavenArtifact::new("com.myorg", &artifact, "1.0.0")
        .origin("internal")
        .deploy(&repos.internal_dir);
    let attackers = |v: &str| {
        MavenArtifact::new("com.myorg", &artifact, v)
            .origin("attacker")
            .deploy(&repos.public_overlay)
    };
    let (same_version, only_public) = (attackers("1.0.0"), attackers("2.0.0"));
    let sha256 = |p: &std::path::Path| hex(&sha2::Sha256::digest(fs::read(p).unwrap()));
    let line = |v: &str, jar: &std::path::Path| {
        format!(
            "{}  com/myorg/{artifact}/{v}/{artifact}-{v}.jar\n",
            sha256(jar)
        )
    };
    let mut sb = sandbox();
    sb.write(
        "lockgate.toml",
        format!(
            "[maven]\nrepository = \"{}\"\n[maven.internal]\nurl = \"{}\"\ngroups = [\"com.myorg\"]\nusername = \"{}\"\npassword-env = \"MVN_PASS\"\n",
            repos.public_url, repos.internal_url, INTERNAL_MAVEN_USER.0
        ),
    );
    sb.set_env("MVN_PASS", INTERNAL_MAVEN_USER.1);
    let lock = ".mvn/checksums/checksums.sha256";

    sb.write(lock, line("1.0.0", &same_version));
    check_json(&sb, &["--offline"], 0);
    let doc = check_json(&sb, &[], 23);
    assert!(
        kinds(&doc)
            .iter()
            .any(|(k, _, p)| k == "integrity" && p.contains(&artifact)),
        "{doc:#}"
    );

    sb.write(lock, line("2.0.0", &only_public));
    check_json(&sb, &["--offline"], 0);
    let doc = check_json(&sb, &[], 22);
    assert!(
        kinds(&doc)
            .iter()
            .any(|(k, _, p)| k == "dependency-confusion" && p.contains(&artifact)),
        "{doc:#}"
    );
}
