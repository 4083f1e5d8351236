//! Issue 8, pip side: what plain pip does with a dependency's direct URL, with the credentials a
//! build can see, and what `lockgate check` says about a poisoned lock — each first shown with
//! plain pip (or plain `check --offline`), then lockgate holding, on the loopback testbed.

mod common;
#[allow(dead_code)]
#[path = "common/pip_extra.rs"]
mod pip_extra;

use std::path::PathBuf;

use common::pypi::{
    build_wheel, build_wheel_with_origin, installed_version, pypi_registries, PypiServer,
    INTERNAL_PYPI_USER,
};
use common::{test_root, tools, uniq};
use pip_extra::{guarded, guarded_pip, lock_line, plain_pip, policy};
use serde_json::Value;

/// A wheel whose METADATA says `Requires-Dist: dep @ http://<another loopback host>/…`: plain
/// pip fetches and installs the dependency from there, unverified. lockgate refuses (21) naming
/// the package that declared it — in route mode before pip gets the wheel, in locked mode before
/// pip starts — and `[pip] unsafe-allow-urls` lifts exactly that refusal (and lets pip's own
/// fetch of that URL through the gate's proxy).
#[test]
fn a_dependencys_direct_url_is_refused_naming_the_declaring_package() {
    let reg = pypi_registries();
    let elsewhere = PypiServer::start(None);
    let dep = uniq("zqx-urldep");
    let dep_file = elsewhere.add(&build_wheel(&dep, "1.0", &[]));
    let url = format!(
        "{}packages/{}",
        elsewhere.url,
        dep_file.file_name().unwrap().to_string_lossy()
    );
    let app = uniq("zqx-urlapp");
    let app_file = reg
        .public
        .add(&build_wheel(&app, "1.0", &[&format!("{dep} @ {url}")]));

    let sb = guarded(reg);
    sb.run(&mut plain_pip(
        &sb,
        &[
            "install",
            "--target",
            "plain",
            "--index-url",
            &reg.public.simple_url(),
            &app,
        ],
    ))
    .ok();
    assert_eq!(
        installed_version(&sb.path("plain"), &dep).as_deref(),
        Some("1.0"),
        "plain pip fetched the dependency from the other host"
    );

    // Route mode: refused when the gate serves the wheel, before pip reads it.
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", &app],
        ))
        .code_is(21);
    assert!(out.stderr.contains(&format!("{app}==1.0")), "{out}");
    assert!(out.stderr.contains("direct URL"), "{out}");
    assert!(out.stderr.contains(&url), "{out}");
    assert!(installed_version(&sb.path("site"), &dep).is_none());
    assert!(installed_version(&sb.path("site"), &app).is_none());

    // Locked mode: refused after verification, before pip starts.
    sb.write("requirements.txt", lock_line(&app, "1.0", &[&app_file]));
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .code_is(21);
    assert!(out.stderr.contains(&format!("{app}==1.0")), "{out}");
    assert!(out.stderr.contains("unsafe-allow-urls"), "{out}");
    assert!(!sb.exists("site"));
    std::fs::remove_file(sb.path("requirements.txt")).unwrap();

    // Allowed by the policy: lockgate lets pip see the wheel, says so, and its gate lets pip
    // fetch exactly that URL itself (unverified: the policy's `unsafe-` choice).
    sb.write(
        "lockgate.toml",
        policy(reg, "").replacen(
            "[pip]\n",
            &format!("[pip]\nunsafe-allow-urls = [\"{url}\"]\n"),
            1,
        ),
    );
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", &app],
        ))
        .ok();
    assert!(out.stderr.contains("unsafe-allow-urls"), "{out}");
    assert_eq!(
        installed_version(&sb.path("site"), &dep).as_deref(),
        Some("1.0")
    );
}

/// An sdist whose setup.py dumps its environment and tries every credential-bearing URL in it
/// against `/simple/<internal name>/` of that host. Plain pip configured for an internal index
/// (CI style, `PIP_INDEX_URL` with the password): setup.py reads the internal page (200).
/// Through lockgate with the sdist allowed: the build runs, but nothing in its environment opens
/// an internal page — the only credential it sees is the gate's build token, which the gate
/// answers with public projects only — and lockgate reports the attempt (21).
#[test]
fn builds_never_receive_the_gate_token() {
    let reg = pypi_registries();
    let internal = uniq("myorg-secret-sauce");
    reg.internal.add(&build_wheel(&internal, "1.0", &[]));

    let plain_name = uniq("zqx-envprobe");
    let marker = test_root().join("markers").join(uniq("envprobe"));
    reg.public.add(&probe_sdist(
        &plain_name,
        &internal,
        &marker.join("plain.json"),
    ));
    let mut sb = guarded(reg);
    sb.set_env("PIP_INDEX_URL", reg.internal.simple_url_with_auth());
    sb.set_env("PIP_EXTRA_INDEX_URL", reg.public.simple_url());
    sb.run(&mut plain_pip(
        &sb,
        &["install", "--target", "plain", &plain_name],
    ))
    .ok();
    let tries = probe_tries(&marker.join("plain.json"));
    assert!(
        tries.iter().any(|t| t["status"] == 200),
        "plain pip's build read the internal page: {tries:?}"
    );

    let name = uniq("zqx-envprobe");
    let guarded_marker = marker.join("lockgate.json");
    reg.public
        .add(&probe_sdist(&name, &internal, &guarded_marker));
    sb.write(
        "lockgate.toml",
        policy(reg, &format!("[pip.build]\nallow-sdist = [\"{name}\"]\n")),
    );
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", &name],
        ))
        .code_is(21);
    assert!(out.stderr.contains(&internal), "{out}");
    assert!(out.stderr.contains("a build asked the gate"), "{out}");
    let runs: Vec<Value> = read_runs(&guarded_marker);
    assert!(!runs.is_empty(), "the allowed sdist was built: {out}");
    for run in &runs {
        let env = run["env"].as_object().unwrap();
        for (k, v) in env {
            let v = v.as_str().unwrap_or_default();
            assert!(
                !v.contains(INTERNAL_PYPI_USER.1),
                "{k} carries the internal password"
            );
            assert!(!v.contains("lockgate:"), "{k} carries the run token: {v}");
            assert_ne!(
                k, "LOCKGATE_PIP_AUTH_FILE",
                "the token file's name reached the build"
            );
        }
    }
    let tries = probe_tries(&guarded_marker);
    assert!(
        !tries.is_empty(),
        "the build found the build token and tried it"
    );
    assert!(
        tries.iter().all(|t| t["status"] != 200),
        "no credential in the build opens an internal page: {tries:?}"
    );
}

/// `lockgate check` is the install's guard: a requirements file hash-pinning an internal name to
/// the attacker's public wheel passes the offline audit (the lock itself is well-formed), while
/// the install refuses it (22); check looks the file up as the install does and exits 22 too.
/// `--offline` says, in text, JSON and SARIF, that it skipped those lookups.
#[test]
fn check_looks_locked_files_up_like_the_install() {
    let reg = pypi_registries();
    let name = uniq("myorg-payments-client");
    reg.internal
        .add(&build_wheel_with_origin(&name, "1.2.3", &[], "internal"));
    let attacker = reg
        .public
        .add(&build_wheel_with_origin(&name, "99.0.0", &[], "attacker"));
    let sb = guarded(reg);
    sb.write("requirements.txt", lock_line(&name, "99.0.0", &[&attacker]));

    let out = sb
        .run(sb.lockgate().args(["check", "--offline"]))
        .code_is(0);
    assert!(out.stdout.contains("skipped (--offline)"), "{out}");
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .code_is(22);
    assert!(
        out.stderr.contains("found only on the public index"),
        "{out}"
    );

    let out = sb.run(sb.lockgate().arg("check")).code_is(22);
    assert!(
        out.stdout.contains("found only on the public index"),
        "{out}"
    );
    assert!(out.stdout.contains("1 locked packages looked up"), "{out}");
    let confusion = "registry_confusion_attempt_detected_total";
    assert!(sb.counter(confusion, &[("package", &name)]) >= 2.0);

    let json = |args: &[&str], code: i32| -> Value {
        let out = sb.run(sb.lockgate().arg("check").args(args)).code_is(code);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let doc = json(&["--format", "json"], 22);
    assert_eq!(doc["lookups"]["skipped"], false, "{doc:#}");
    let doc = json(&["--offline", "--format", "json"], 0);
    assert_eq!(doc["lookups"]["skipped"], true, "{doc:#}");
    let doc = json(&["--offline", "--format", "sarif"], 0);
    assert_eq!(
        doc["runs"][0]["properties"]["lookups"]["skipped"], true,
        "{doc:#}"
    );
}

/// A locked public file whose hash its index does not list (a changed file under a locked
/// version: 23) and a locked version the index does not have (27): check reports both, with
/// the install's exit code for the more severe.
#[test]
fn check_reports_hashes_and_versions_the_index_does_not_have() {
    let reg = pypi_registries();
    let changed = uniq("zqx-changed");
    reg.public.add(&build_wheel(&changed, "1.0", &[]));
    let other = build_wheel_with_origin(&changed, "1.0", &[], "what the lock saw");
    let gone = uniq("zqx-gone");
    let never_published = build_wheel(&gone, "2.0", &[]);
    let sb = guarded(reg);
    sb.write(
        "requirements.txt",
        format!(
            "{}\n{}\n",
            lock_line(&changed, "1.0", &[&other]),
            lock_line(&gone, "2.0", &[&never_published])
        ),
    );
    sb.run(sb.lockgate().args(["check", "--offline"]))
        .code_is(0);
    let out = sb
        .run(sb.lockgate().args(["check", "--format", "json"]))
        .code_is(23);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let kinds: Vec<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["package"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("integrity".into(), format!("{changed}==1.0"))),
        "{doc:#}"
    );
    assert!(
        kinds.contains(&("unavailable".into(), format!("{gone}==2.0"))),
        "{doc:#}"
    );
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .code_is(23);
    assert!(out.stderr.contains(&changed), "{out}");
}

/// `--isolated` makes pip ignore its environment (so `PIP_INDEX_URL` alone would send it to
/// pypi.org, refused by the gate: 26), and a requirement after `--` must stay a requirement: the
/// route-mode argv carries the gate's index itself and keeps every option in front of `--`.
/// (The user's `--proxy` being replaced by the gate is `route_args`' unit test: since issue 13 it
/// also steers lockgate's own downloads, so a dead one cannot be used here.)
#[test]
fn isolated_route_install_with_a_requirement_after_the_end_of_options() {
    let reg = pypi_registries();
    let name = uniq("zqx-isolated");
    reg.public.add(&build_wheel(&name, "1.0", &[]));
    let sb = guarded(reg);
    sb.run(&mut guarded_pip(
        &sb,
        &["--isolated", "install", "--target", "site", "--", &name],
    ))
    .ok();
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.0")
    );
}

/// Route mode with `--python` (pip would re-run itself in a subprocess that has no launcher):
/// lockgate runs the launcher in that interpreter, so an internal name — which only the run
/// token opens — still installs, into a virtual environment without pip of its own.
#[test]
fn route_mode_with_python_still_reaches_internal_names() {
    let reg = pypi_registries();
    let name = uniq("myorg-ledger");
    reg.internal
        .add(&build_wheel_with_origin(&name, "2.0", &[], "internal"));
    let sb = guarded(reg);
    let venv = sb.path("venv");
    sb.run(
        sb.cmd(&tools().python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    )
    .ok();
    sb.run(&mut guarded_pip(
        &sb,
        &["install", "--python", venv.to_str().unwrap(), &name],
    ))
    .ok();
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages");
    assert_eq!(installed_version(&site, &name).as_deref(), Some("2.0"));
}

/// `<name>-1.0.tar.gz` whose setup.py appends `{env, tries}` to `marker` (a JSON list), where
/// `tries` are GETs of `/simple/<internal>/` on every host named by a credential-bearing URL in
/// its environment, with those credentials and no proxy.
fn probe_sdist(name: &str, internal: &str, marker: &std::path::Path) -> PathBuf {
    let out = test_root().join("dists").join(uniq("probe"));
    std::fs::create_dir_all(&out).unwrap();
    let module = name.replace('-', "_");
    let setup = format!(
        r#"import base64, json, os, re, urllib.error, urllib.request
tries = []
for k, v in os.environ.items():
    for m in re.finditer(r"(https?)://([^/:@\s]+):([^@/\s]+)@([^/\s]+)", v):
        scheme, user, pw, host = m.groups()
        url = f"{{scheme}}://{{host}}/simple/{internal}/"
        auth = base64.b64encode(f"{{user}}:{{pw}}".encode()).decode()
        req = urllib.request.Request(url, headers={{"Authorization": "Basic " + auth}})
        try:
            status = urllib.request.build_opener(urllib.request.ProxyHandler({{}})).open(req, timeout=10).status
        except urllib.error.HTTPError as e:
            status = e.code
        except Exception as e:
            status = str(e)
        tries.append({{"var": k, "host": host, "status": status}})
marker = {marker:?}
os.makedirs(os.path.dirname(marker), exist_ok=True)
runs = json.load(open(marker)) if os.path.exists(marker) else []
runs.append({{"env": dict(os.environ), "tries": tries}})
json.dump(runs, open(marker, "w"))
from setuptools import setup
setup(name={name:?}, version="1.0", py_modules=[{module:?}])
"#,
    );
    let build = format!(
        r#"import io, sys, tarfile
top = "{module}-1.0"
files = {{"PKG-INFO": "Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", "setup.py": sys.stdin.read(), "{module}.py": ""}}
with tarfile.open(sys.argv[1], "w:gz") as t:
    for n, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo(top + "/" + n)
        info.size, info.mode = len(data), 0o644
        t.addfile(info, io.BytesIO(data))
"#
    );
    let path = out.join(format!("{module}-1.0.tar.gz"));
    let mut child = std::process::Command::new(&tools().python)
        .args(["-c", &build])
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(setup.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "build the probe sdist");
    path
}

fn read_runs(marker: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(marker)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
        .unwrap_or_default()
}

fn probe_tries(marker: &std::path::Path) -> Vec<Value> {
    read_runs(marker)
        .iter()
        .flat_map(|r| r["tries"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Route mode serves a store hit only after re-hashing it: bytes planted under a verified
/// wheel's digest name (someone with write access to the store) are refused with 23, counted,
/// removed, and nothing is installed; the next run fetches and verifies the real wheel again.
#[test]
fn route_mode_rehashes_a_store_hit_before_serving_it() {
    use std::os::unix::fs::PermissionsExt;
    let reg = pypi_registries();
    let name = uniq("zqx-stored");
    reg.public.add(&build_wheel(&name, "1.0", &[]));
    let planted = build_wheel_with_origin(&name, "1.0", &[], "planted");
    let sb = guarded(reg);
    sb.run(&mut guarded_pip(
        &sb,
        &["install", "--target", "first", &name],
    ))
    .ok();
    let mut stored = Vec::new();
    let mut dirs = vec![sb.root().join("lockgate-cache/sha256")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else {
                stored.push(e.path());
            }
        }
    }
    assert_eq!(stored.len(), 1, "{stored:?}");
    std::fs::set_permissions(&stored[0], std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::copy(&planted, &stored[0]).unwrap();

    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "second", &name],
        ))
        .code_is(23);
    assert!(out.stderr.contains(&name), "{out}");
    assert!(installed_version(&sb.path("second"), &name).is_none());
    assert!(!stored[0].exists(), "the planted file was removed");
    let metrics = std::fs::read_to_string(sb.root().join("metrics.prom")).unwrap();
    assert!(
        metrics.contains("registry_integrity_verification_failure_total"),
        "{metrics}"
    );

    sb.run(&mut guarded_pip(
        &sb,
        &["install", "--target", "third", &name],
    ))
    .ok();
    assert_eq!(
        installed_version(&sb.path("third"), &name).as_deref(),
        Some("1.0")
    );
}
