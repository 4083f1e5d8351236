//! The offline malicious-package feed end to end (issue 11): OSV archives built here from records
//! in the real OSV shape (the shape of `ossf/malicious-packages` `MAL-` records: one with a
//! `versions` list, one `SEMVER` range, one `withdrawn`), served by nginx over loopback HTTP and
//! read from `file://`; `lockgate feed update|status`; npm, pip and Maven locks that pin a listed
//! version refused with 29 before any request reaches a registry (a recording proxy in front of
//! the registry proves it); npm route mode resolving around a listed version; interrupted and
//! malformed updates leaving the previous index in use; `lockgate check` in SARIF.

mod common;
#[allow(dead_code)] // only some of the pip helpers are used here
#[path = "common/pip_extra.rs"]
mod pip_extra;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::maven::{maven_project, maven_repos, MavenArtifact, Nginx, Site};
use common::npm::{npm_registries, NpmPackage, NpmRegistries};
use common::proxy::{Fault, FaultProxy};
use common::pypi::{build_wheel, pypi_registries};
use common::{test_root, tools, uniq, Sandbox};
use serde_json::{json, Value};

const BLOCKED: &str = "registry_malicious_package_blocked_total";

/// One OSV record as `ossf/malicious-packages` writes them (MAL-2025-46974 is the real record
/// for the compromised `debug@4.4.2`): `versions` and/or `ranges`, optionally `withdrawn`.
fn record(
    id: &str,
    eco: &str,
    name: &str,
    versions: &[&str],
    ranges: Value,
    withdrawn: bool,
) -> (String, String) {
    let mut affected = json!({
        "package": {"ecosystem": eco, "name": name},
        "database_specific": {"cwes": [{"cweId": "CWE-506", "name": "Embedded Malicious Code"}]},
    });
    if !versions.is_empty() {
        affected["versions"] = json!(versions);
    }
    if !ranges.is_null() {
        affected["ranges"] = ranges;
    }
    let mut r = json!({
        "modified": "2025-09-12T01:13:34Z",
        "published": "2025-09-08T14:26:51Z",
        "schema_version": "1.5.0",
        "id": id,
        "aliases": ["GHSA-8mgj-vmr8-frr6"],
        "summary": format!("Malicious code in {name} ({eco})"),
        "details": "The package was compromised and malicious code added.",
        "affected": [affected],
        "references": [{"type": "ADVISORY", "url": "https://github.com/advisories/GHSA-8mgj-vmr8-frr6"}],
        "database_specific": {"malicious-packages-origins": [{"source": "ghsa-malware", "sha256": "00"}]},
    });
    if withdrawn {
        r["withdrawn"] = json!("2025-09-10T00:00:00Z");
    }
    (
        format!("{id}.json"),
        serde_json::to_string_pretty(&r).unwrap(),
    )
}

fn zip_of(files: &[(String, String)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A feed directory in OSV's layout (`npm/all.zip`, `PyPI/all.zip`, `Maven/all.zip`); every
/// archive also holds a non-MAL advisory, which the index must not keep.
fn feed_dir(
    npm: &[(String, String)],
    pypi: &[(String, String)],
    maven: &[(String, String)],
) -> PathBuf {
    let dir = test_root().join(uniq("osv"));
    for (eco, records) in [("npm", npm), ("PyPI", pypi), ("Maven", maven)] {
        let mut records = records.to_vec();
        records.push(record(
            "GHSA-xxxx-yyyy-zzzz",
            eco,
            "some-lib",
            &["1.0.0"],
            Value::Null,
            false,
        ));
        std::fs::create_dir_all(dir.join(eco)).unwrap();
        std::fs::write(dir.join(eco).join("all.zip"), zip_of(&records)).unwrap();
    }
    dir
}

fn update_from(sb: &Sandbox, source: &str) -> common::sandbox::Run {
    sb.run(sb.lockgate().args(["feed", "update", "--url", source]))
}

fn status(sb: &Sandbox) -> String {
    sb.run(sb.lockgate().args(["feed", "status"])).ok().stdout
}

fn index_bytes(sb: &Sandbox) -> Vec<u8> {
    std::fs::read(sb.root().join("lockgate-cache/feed/osv.idx")).unwrap()
}

fn file_url(dir: &Path) -> String {
    format!("file://{}/", dir.display())
}

// ----- npm -----

fn npm_sandbox(reg: &NpmRegistries, registry: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.npmrc(&format!("registry={}", reg.public.url));
    sb.write(
        "lockgate.toml",
        format!("[npm]\nregistry = \"{registry}\"\n"),
    );
    sb
}

/// package.json + a lockfile written by plain npm against `registry`.
fn npm_lock(sb: &Sandbox, registry: &str, deps: &[(&str, &str)]) {
    let deps: serde_json::Map<String, Value> = deps
        .iter()
        .map(|(n, r)| (n.to_string(), json!(r)))
        .collect();
    sb.write(
        "package.json",
        json!({"name": "app", "version": "1.0.0", "dependencies": deps}).to_string(),
    );
    let mut cmd = sb.cmd(&tools().npm);
    cmd.arg(format!("--registry={registry}")).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
    ]);
    sb.run(&mut cmd).ok();
}

fn installed(sb: &Sandbox, name: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(sb.path(format!("node_modules/{name}/package.json"))).ok()?;
    serde_json::from_str::<Value>(&text).ok()?["version"]
        .as_str()
        .map(str::to_string)
}

/// The September 2025 shape: `debug@4.4.2` compromised and listed. Plain `npm ci` installs the
/// locked malware with a matching hash; through lockgate the same lockfile is refused with 29
/// naming the OSV id, summary, date and next step, before a single request reaches the registry
/// (the recording proxy the policy points at saw nothing); counted and audited.
#[test]
fn npm_ci_refuses_a_locked_malicious_version_before_any_request() {
    let reg = npm_registries();
    let name = uniq("debug");
    let clean = uniq("ms");
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&clean, "2.1.3"));
    for v in ["4.4.1", "4.4.2"] {
        reg.public.publish(
            &reg.attacker_token,
            &NpmPackage::new(&name, v).origin(&format!("v{v}")),
        );
    }
    let proxy = FaultProxy::start(&reg.public.url, Fault::Pass);
    let registry = format!("{}/", proxy.url);
    let sb = npm_sandbox(reg, &registry);
    npm_lock(&sb, &registry, &[(&name, "4.4.2"), (&clean, "^2.1.0")]);

    // Plain npm: the lockfile's hash matches, so the malicious release installs.
    let mut plain = sb.cmd(&tools().npm);
    plain
        .arg(format!("--registry={registry}"))
        .args(["ci", "--ignore-scripts"]);
    sb.run(&mut plain).ok();
    assert_eq!(installed(&sb, &name).as_deref(), Some("4.4.2"));
    std::fs::remove_dir_all(sb.path("node_modules")).unwrap();

    let dir = feed_dir(
        &[record(
            "MAL-2025-46974",
            "npm",
            &name,
            &["4.4.2"],
            Value::Null,
            false,
        )],
        &[],
        &[],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let before = proxy.requests().len();
    let run = sb.run(sb.shim("npm").arg("ci")).code_is(29);
    let err = run.stderr.clone();
    for needle in [
        format!("{name}@4.4.2"),
        "MAL-2025-46974".into(),
        format!("Malicious code in {name} (npm)"),
        "published 2025-09-08".into(),
        "does not list (it lists 4.4.2)".into(),
    ] {
        assert!(err.contains(&needle), "stderr lacks {needle:?}:\n{err}");
    }
    assert_eq!(
        proxy.requests().len(),
        before,
        "no request reached the registry"
    );
    assert!(
        err.contains("1 problem found"),
        "only the feed refused: {err}"
    );
    assert!(!sb.exists("node_modules"));
    let labels = [
        ("package", name.as_str()),
        ("version", "4.4.2"),
        ("id", "MAL-2025-46974"),
    ];
    assert_eq!(sb.counter(BLOCKED, &labels), 1.0);
    assert!(
        sb.audit().iter().any(|e| e["reason"] == "malicious"),
        "{:?}",
        sb.audit()
    );

    // The same lockfile moved to the clean release installs, through the proxy.
    npm_lock(&sb, &registry, &[(&name, "4.4.1"), (&clean, "^2.1.0")]);
    let before = proxy.requests().len();
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed(&sb, &name).as_deref(), Some("4.4.1"));
    assert!(
        proxy.requests().len() > before,
        "the clean install downloads through the proxy"
    );
}

/// A `SEMVER` range record blocks the versions inside it and names its fixed version; a
/// withdrawn record blocks nothing. The archive comes over loopback HTTP.
#[test]
fn range_records_block_and_withdrawn_records_do_not() {
    let reg = npm_registries();
    let ranged = uniq("ranged-lib");
    let retracted = uniq("retracted-lib");
    for v in ["2.0.5", "2.1.0"] {
        reg.public
            .publish(&reg.attacker_token, &NpmPackage::new(&ranged, v));
    }
    reg.public
        .publish(&reg.attacker_token, &NpmPackage::new(&retracted, "1.0.0"));
    let dir = feed_dir(
        &[
            record(
                "MAL-2025-100",
                "npm",
                &ranged,
                &[],
                json!([{"type": "SEMVER", "events": [{"introduced": "2.0.0"}, {"fixed": "2.1.0"}]}]),
                false,
            ),
            record(
                "MAL-2025-101",
                "npm",
                &retracted,
                &["1.0.0"],
                Value::Null,
                true,
            ),
        ],
        &[],
        &[],
    );
    let nginx = Nginx::start(&[Site::new(&[&dir])]);
    let sb = npm_sandbox(reg, &reg.public.url);
    let out = update_from(&sb, &nginx.urls[0]).ok();
    assert!(out.stderr.contains("1 withdrawn skipped"), "{}", out.stderr);

    npm_lock(&sb, &reg.public.url, &[(&ranged, "2.0.5")]);
    let run = sb.run(sb.shim("npm").arg("ci")).code_is(29);
    assert!(
        run.stderr.contains("MAL-2025-100") && run.stderr.contains("use version 2.1.0 or later"),
        "{}",
        run.stderr
    );

    npm_lock(&sb, &reg.public.url, &[(&retracted, "1.0.0")]);
    sb.run(sb.shim("npm").arg("ci")).ok();
    assert_eq!(installed(&sb, &retracted).as_deref(), Some("1.0.0"));
}

/// Route mode: plain `npm install` takes the listed `latest`; through lockgate the packument
/// npm sees has no listed version, so npm resolves the newest clean one and the lockfile pins it.
#[test]
fn npm_route_mode_resolves_around_listed_versions() {
    let reg = npm_registries();
    let name = uniq("zqx-listed");
    for v in ["5.6.0", "5.6.1"] {
        reg.public
            .publish(&reg.attacker_token, &NpmPackage::new(&name, v));
    }
    let sb = npm_sandbox(reg, &reg.public.url);
    sb.write("package.json", r#"{"name":"app","version":"1.0.0"}"#);
    let mut plain = sb.cmd(&tools().npm);
    plain.arg(format!("--registry={}", reg.public.url)).args([
        "install",
        "--package-lock-only",
        "--ignore-scripts",
        &name,
    ]);
    sb.run(&mut plain).ok();
    assert!(
        sb.read("package-lock.json").contains("5.6.1"),
        "plain npm takes the listed latest"
    );
    std::fs::remove_file(sb.path("package-lock.json")).unwrap();
    sb.write("package.json", r#"{"name":"app","version":"1.0.0"}"#);

    let dir = feed_dir(
        &[record(
            "MAL-2025-102",
            "npm",
            &name,
            &["5.6.1"],
            Value::Null,
            false,
        )],
        &[],
        &[],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let run = sb.run(sb.shim("npm").args(["install", &name])).ok();
    assert!(
        run.stderr
            .contains(&format!("{name}@5.6.1 is hidden from resolution")),
        "{}",
        run.stderr
    );
    assert_eq!(installed(&sb, &name).as_deref(), Some("5.6.0"));
    let lock: Value = serde_json::from_str(&sb.read("package-lock.json")).unwrap();
    assert_eq!(
        lock["packages"][format!("node_modules/{name}")]["version"],
        "5.6.0"
    );
}

// ----- pip -----

/// A hash-locked requirements file pinning a listed PyPI version (named with other case and
/// separators than the record, and `1.0` for the record's `1.0.0`: PEP 503 + PEP 440) is refused
/// with 29 before any request reaches the index; `lockgate check` reports it in SARIF under a rule
/// named by the OSV id, on the requirement's line.
#[test]
fn pip_lock_pinning_a_listed_version_is_refused_and_check_reports_sarif() {
    let reg = pypi_registries();
    let name = uniq("evil-pkg");
    let whl = reg.public.add(&build_wheel(&name, "1.0", &[]));
    let proxy = FaultProxy::start(&reg.public.url, Fault::Pass);
    let sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!("[pip]\nindex-url = \"{}/simple/\"\n", proxy.url),
    );
    let spelled = name.replace('-', "_").to_uppercase();
    sb.write(
        "requirements.txt",
        format!(
            "# locked\n{}\n",
            pip_extra::lock_line(&spelled, "1.0", &[&whl])
        ),
    );

    let dir = feed_dir(
        &[],
        &[record(
            "MAL-2025-200",
            "PyPI",
            &name,
            &["1.0.0"],
            Value::Null,
            false,
        )],
        &[],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let run = sb
        .run(&mut pip_extra::guarded_pip(
            &sb,
            &["install", "--target", "t", "-r", "requirements.txt"],
        ))
        .code_is(29);
    assert!(run.stderr.contains("MAL-2025-200"), "{}", run.stderr);
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    assert!(!sb.exists("t"));

    // `check --offline`: the feed needs no registry (online, check would also look the locked
    // files up on their index, as the install does).
    let run = sb
        .run(
            sb.lockgate()
                .args(["check", "--offline", "--format", "sarif"]),
        )
        .code_is(29);
    let log: Value = serde_json::from_str(&run.stdout).unwrap();
    let sarif = &log["runs"][0];
    let rules = sarif["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r["id"] == "MAL-2025-200"
            && r["helpUri"] == "https://osv.dev/vulnerability/MAL-2025-200"),
        "{rules:?}"
    );
    let hit = sarif["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "MAL-2025-200")
        .expect("a result for the record");
    assert_eq!(hit["level"], "error");
    let loc = &hit["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "requirements.txt");
    assert_eq!(loc["region"]["startLine"], 2);
    assert!(proxy.requests().is_empty());
}

/// pip route mode (`pip install NAME`, no lock): the page the gate serves has no file of a
/// listed version, so pip installs the newest clean one; plain pip takes the listed newest.
#[test]
fn pip_route_mode_resolves_around_listed_versions() {
    let reg = pypi_registries();
    let name = uniq("colorish");
    for v in ["1.0.0", "1.1.0"] {
        reg.public.add(&build_wheel(&name, v, &[]));
    }
    let sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!("[pip]\nindex-url = \"{}\"\n", reg.public.simple_url()),
    );
    let index = reg.public.simple_url();
    let plain = ["install", "--target", "plain", "--index-url", &index, &name];
    sb.run(&mut pip_extra::plain_pip(&sb, &plain)).ok();
    let listed = common::pypi::installed_version(&sb.path("plain"), &name);
    assert_eq!(listed.as_deref(), Some("1.1.0"));

    let dir = feed_dir(
        &[],
        &[record(
            "MAL-2025-201",
            "PyPI",
            &name,
            &["1.1.0"],
            Value::Null,
            false,
        )],
        &[],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let run = sb
        .run(&mut pip_extra::guarded_pip(
            &sb,
            &["install", "--target", "t", &name],
        ))
        .ok();
    assert!(
        run.stderr
            .contains(&format!("{name}==1.1.0 is hidden from resolution")),
        "{}",
        run.stderr
    );
    let got = common::pypi::installed_version(&sb.path("t"), &name);
    assert_eq!(got.as_deref(), Some("1.0.0"));
}

// ----- Maven -----

/// A Maven lock holding a listed `groupId:artifactId` (every version malicious, as in the real
/// MAL-2025-2552 for `io.github.leetcrunch:scribejava-core`) is refused with 29 before lockgate
/// asks the repository for anything.
#[test]
fn maven_lock_with_a_listed_artifact_is_refused_before_any_request() {
    let repos = maven_repos();
    let group = "io.github.leetcrunch";
    let artifact = uniq("scribejava-core");
    let deployed = MavenArtifact::new(group, &artifact, "8.3.3").deploy(&repos.public_overlay);
    let proxy = FaultProxy::start(&repos.public_url, Fault::Pass);
    let sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!("[maven]\nrepository = \"{}/\"\n", proxy.url),
    );
    maven_project(&sb.project(), &[(group, &artifact, "8.3.3")]);
    let jar = deployed.with_extension("jar");
    let pom = deployed.with_extension("pom");
    let rel = |p: &Path| {
        p.strip_prefix(&repos.public_overlay)
            .unwrap()
            .display()
            .to_string()
    };
    let lines: Vec<String> = [&jar, &pom]
        .iter()
        .filter(|p| p.exists())
        .map(|p| format!("{}  {}", pip_extra::sha256_of(p), rel(p)))
        .collect();
    assert!(!lines.is_empty(), "deployed {}", deployed.display());
    sb.write(".mvn/checksums/checksums.sha256", lines.join("\n") + "\n");

    let ga = format!("{group}:{artifact}");
    let ranges = json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]);
    let dir = feed_dir(
        &[],
        &[],
        &[record("MAL-2025-2552", "Maven", &ga, &[], ranges, false)],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let run = sb.run(sb.shim("mvn").args(["-q", "package"])).code_is(29);
    assert!(
        run.stderr.contains("MAL-2025-2552") && run.stderr.contains("every version"),
        "{}",
        run.stderr
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    let labels = [
        ("package", ga.as_str()),
        ("version", "8.3.3"),
        ("id", "MAL-2025-2552"),
    ];
    assert_eq!(sb.counter(BLOCKED, &labels), 1.0);
}

/// Maven route mode (`lockgate lock mvn`): a pom pins a listed version, so Maven asks the gate
/// for that version's files directly (no metadata to filter); the gate refuses them, the run
/// ends with 29 (counted) and no lock is written.
#[test]
fn maven_lock_resolution_refuses_a_pinned_listed_version() {
    let repos = maven_repos();
    let group = "org.mvnpm";
    let artifact = uniq("posthog-node");
    MavenArtifact::new(group, &artifact, "5.11.3").deploy(&repos.public_overlay);
    let sb = Sandbox::new();
    sb.write(
        "lockgate.toml",
        format!("[maven]\nrepository = \"{}\"\n", repos.public_url),
    );
    maven_project(&sb.project(), &[(group, &artifact, "5.11.3")]);
    let ga = format!("{group}:{artifact}");
    let dir = feed_dir(
        &[],
        &[],
        &[record(
            "MAL-2025-191470",
            "Maven",
            &ga,
            &["5.11.3"],
            Value::Null,
            false,
        )],
    );
    update_from(&sb, &file_url(&dir)).ok();
    let run = sb
        .run(sb.lockgate().args(["lock", "mvn", "-B", "-ntp", "compile"]))
        .code_is(29);
    assert!(
        run.stderr.contains("MAL-2025-191470") && run.stderr.contains(&ga),
        "{}",
        run.stderr
    );
    assert!(!sb.exists(".mvn/checksums/checksums.sha256"));
    let labels = [
        ("package", ga.as_str()),
        ("version", "5.11.3"),
        ("id", "MAL-2025-191470"),
    ];
    assert_eq!(sb.counter(BLOCKED, &labels), 1.0);
}

// ----- the feed itself -----

/// `feed status` before and after an update; an update cut off mid-download (the proxy truncates
/// the PyPI archive) and an update from a malformed archive both fail with nothing replaced:
/// the previous index stays byte for byte and keeps blocking.
#[test]
fn failed_updates_leave_the_previous_index_in_use() {
    let sb = Sandbox::new();
    sb.run(sb.lockgate().args(["feed", "status"])).code_is(20);
    let name = uniq("evil-lib");
    let good = feed_dir(
        &[record(
            "MAL-2025-300",
            "npm",
            &name,
            &["1.0.0"],
            Value::Null,
            false,
        )],
        &[],
        &[],
    );
    let nginx = Nginx::start(&[Site::new(&[&good])]);
    update_from(&sb, &nginx.urls[0]).ok();
    let text = status(&sb);
    assert!(
        text.contains("records npm: 1")
            && text.contains("records PyPI: 0")
            && text.contains("records Maven: 0"),
        "{text}"
    );
    assert!(text.contains("source: http://127.0.0.1"), "{text}");
    let before = index_bytes(&sb);

    // Interrupted: the second archive breaks off half way.
    let bigger = feed_dir(
        &[record(
            "MAL-2025-301",
            "npm",
            &uniq("other"),
            &["1.0.0"],
            Value::Null,
            false,
        )],
        &(0..200)
            .map(|i| {
                record(
                    &format!("MAL-2025-9{i:03}"),
                    "PyPI",
                    &format!("pkg-{i}"),
                    &["1.0"],
                    Value::Null,
                    false,
                )
            })
            .collect::<Vec<_>>(),
        &[],
    );
    let upstream = Nginx::start(&[Site::new(&[&bigger])]);
    let proxy = FaultProxy::start_for(&upstream.urls[0], Fault::Truncate, Some("PyPI/all.zip"));
    let run = update_from(&sb, &format!("{}/", proxy.url)).failed();
    assert!(
        run.stderr.contains("nothing was replaced"),
        "{}",
        run.stderr
    );
    assert_eq!(index_bytes(&sb), before);

    // Malformed: an archive member that is not an OSV record.
    let bad = feed_dir(
        &[record(
            "MAL-2025-302",
            "npm",
            "x",
            &["1.0.0"],
            Value::Null,
            false,
        )],
        &[],
        &[],
    );
    std::fs::write(
        bad.join("Maven/all.zip"),
        zip_of(&[("MAL-1.json".into(), "{\"id\": 7}".into())]),
    )
    .unwrap();
    let run = update_from(&sb, &file_url(&bad)).code_is(20);
    assert!(
        run.stderr.contains("not a well-formed OSV archive") && run.stderr.contains("MAL-1.json"),
        "{}",
        run.stderr
    );
    std::fs::write(bad.join("Maven/all.zip"), b"PK\x03\x04 not really").unwrap();
    update_from(&sb, bad.to_str().unwrap()).code_is(20);
    assert_eq!(index_bytes(&sb), before);

    // The old index still blocks (checked offline, on a hand-written lock).
    sb.write("requirements.txt", "");
    sb.write(
        "package.json",
        json!({"name": "app", "version": "1.0.0", "dependencies": {&name: "1.0.0"}}).to_string(),
    );
    sb.write(
        "package-lock.json",
        json!({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {
            "": {"name": "app", "version": "1.0.0", "dependencies": {&name: "1.0.0"}},
            format!("node_modules/{name}"): {"version": "1.0.0", "resolved": format!("https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz"),
                "integrity": "sha512-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}
        }})
        .to_string(),
    );
    let run = sb
        .run(sb.lockgate().args(["check", "--format", "json"]))
        .code_is(29);
    assert!(run.stdout.contains("MAL-2025-300"), "{}", run.stdout);
}

/// No feed: installs warn by default and refuse (20) with `[feed] require = true`; a stale feed
/// (older than `max-age`) likewise. Pass-through commands never read the index: even an unusable
/// one with `require = true` does not stop `npm --version`.
#[test]
fn missing_or_stale_feed_warns_or_refuses_and_pass_through_ignores_it() {
    let reg = pypi_registries();
    let name = uniq("plain-lib");
    let whl = reg.public.add(&build_wheel(&name, "1.0.0", &[]));
    let sb = Sandbox::new();
    let policy = format!("[pip]\nindex-url = \"{}\"\n", reg.public.simple_url());
    sb.write("lockgate.toml", &policy);
    sb.write(
        "requirements.txt",
        pip_extra::lock_line(&name, "1.0.0", &[&whl]),
    );
    let install = ["install", "--target", "t", "-r", "requirements.txt"];
    let run = sb.run(&mut pip_extra::guarded_pip(&sb, &install)).ok();
    assert!(
        run.stderr.contains("warning: malicious-package feed")
            && run.stderr.contains("lockgate feed update"),
        "{}",
        run.stderr
    );

    sb.write("lockgate.toml", format!("{policy}[feed]\nrequire = true\n"));
    let run = sb
        .run(&mut pip_extra::guarded_pip(
            &sb,
            &["install", "--target", "t2", "-r", "requirements.txt"],
        ))
        .code_is(20);
    assert!(
        run.stderr.contains("there is no malicious-package feed"),
        "{}",
        run.stderr
    );
    assert!(!sb.exists("t2"));
    let run = sb.run(sb.lockgate().args(["check"])).code_is(20);
    assert!(run.stdout.contains("feed"), "{}", run.stdout);

    // A fresh feed lets it through; with max-age 0s the same feed is stale.
    update_from(&sb, &file_url(&feed_dir(&[], &[], &[]))).ok();
    sb.run(&mut pip_extra::guarded_pip(
        &sb,
        &["install", "--target", "t3", "-r", "requirements.txt"],
    ))
    .ok();
    // The same feed fetched 30 days ago (its header says when) is stale under the default 7d.
    let text = String::from_utf8(index_bytes(&sb)).unwrap();
    let updated = text
        .lines()
        .find(|l| l.starts_with("updated "))
        .unwrap()
        .to_string();
    let month_ago: u64 = updated[8..].parse::<u64>().unwrap() - 30 * 86_400;
    let index = sb.root().join("lockgate-cache/feed/osv.idx");
    std::fs::write(
        &index,
        text.replace(&updated, &format!("updated {month_ago}")),
    )
    .unwrap();
    let run = sb
        .run(&mut pip_extra::guarded_pip(
            &sb,
            &["install", "--target", "t4", "-r", "requirements.txt"],
        ))
        .code_is(20);
    assert!(
        run.stderr.contains("feed is 30d old (max-age 7d)"),
        "{}",
        run.stderr
    );

    // Pass-through never loads the index.
    std::fs::write(sb.root().join("lockgate-cache/feed/osv.idx"), "garbage").unwrap();
    sb.run(sb.shim("npm").arg("--version")).ok();
    sb.run(sb.shim("pip").arg("--version")).ok();
}
