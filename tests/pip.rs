//! Guarded pip against real pypiserver indexes and the real pip: each attack first succeeds
//! with plain pip, then is blocked (or made harmless) through lockgate's `pip` shim. Also the
//! lock formats (requirements files with includes, constraints, markers, extras and several
//! hashes; pylock.toml), neutralised pip settings, `--python`, route mode and `lockgate check`.

mod common;
#[path = "common/pip_extra.rs"]
mod pip_extra;

use common::proxy::{Fault, FaultProxy};
use common::pypi::{
    build_sdist, build_wheel, build_wheel_with_origin, installed_version, pypi_registries,
    sdist_marker, INTERNAL_PYPI_USER,
};
use common::{tools, uniq, Sandbox};
use pip_extra::{
    decisions, guarded, guarded_pip, lock_line, plain_pip, policy, sha256_of, PASSWORD_ENV,
};

const CONFUSION: &str = "registry_confusion_attempt_detected_total";
const DOWNLOADS: &str = "registry_package_download_total";

/// Internal `name` 1.2.3 on the internal index, the attacker's 99.0.0 on the public one.
fn confusion_case() -> (String, std::path::PathBuf) {
    let reg = pypi_registries();
    let name = uniq("myorg-payments-client");
    let good = reg
        .internal
        .add(&build_wheel_with_origin(&name, "1.2.3", &[], "internal"));
    reg.public
        .add(&build_wheel_with_origin(&name, "99.0.0", &[], "attacker"));
    (name, good)
}

/// Plain pip, told to use the internal index (the public one comes in through the sandbox's
/// hostile settings), installs the attacker's 99.0.0 of `name` into `plain/`.
fn plain_pip_takes_the_attackers(sb: &Sandbox, name: &str) {
    let internal = pypi_registries().internal.simple_url_with_auth();
    let args = [
        "install",
        "--target",
        "plain",
        "--index-url",
        &internal,
        name,
    ];
    sb.run(&mut plain_pip(sb, &args)).ok();
    assert_eq!(
        installed_version(&sb.path("plain"), name).as_deref(),
        Some("99.0.0")
    );
}

fn module_origin(sb: &Sandbox, target: &str, name: &str) -> String {
    sb.read(format!("{target}/{}/__init__.py", name.replace('-', "_")))
}

/// A lock poisoned with the attacker's hash (resolved once with `--extra-index-url`): plain pip
/// installs 99.0.0 even in hash-checking mode; lockgate finds that hash only on the public index
/// and refuses (22, counted) before pip starts.
#[test]
fn poisoned_lock_for_an_internal_name_is_confusion() {
    let reg = pypi_registries();
    let (name, _) = confusion_case();
    let attacker = reg.public.packages.join(format!(
        "{}-99.0.0-py3-none-any.whl",
        name.replace('-', "_")
    ));
    let sb = guarded(reg);
    sb.write("requirements.txt", lock_line(&name, "99.0.0", &[&attacker]));

    let internal = reg.internal.simple_url_with_auth();
    sb.run(&mut plain_pip(
        &sb,
        &[
            "install",
            "--target",
            "plain",
            "--index-url",
            &internal,
            "--extra-index-url",
            &reg.public.simple_url(),
            "-r",
            "requirements.txt",
        ],
    ))
    .ok();
    assert!(module_origin(&sb, "plain", &name).contains("attacker"));

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
    assert!(!sb.exists("site"), "nothing installed");
    assert_eq!(sb.counter(CONFUSION, &[("package", &name)]), 1.0);
    assert_eq!(sb.counter(DOWNLOADS, &[]), 0.0);
}

/// `pip install NAME` with `PIP_EXTRA_INDEX_URL` pointing at the public index: plain pip takes
/// 99.0.0; through lockgate (route mode) the name is answered by the internal index only, the
/// public offer is counted, and the file pip downloads is verified and audited.
#[test]
fn unlocked_install_of_an_internal_name_comes_from_the_internal_index() {
    let reg = pypi_registries();
    let (name, good) = confusion_case();
    let mut sb = guarded(reg);
    sb.set_env("PIP_EXTRA_INDEX_URL", reg.public.simple_url());

    plain_pip_takes_the_attackers(&sb, &name);

    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", &name],
        ))
        .ok();
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.2.3")
    );
    assert!(module_origin(&sb, "site", &name).contains("internal"));
    assert!(out.stderr.contains("also offers internal package"), "{out}");
    assert!(
        out.stderr.contains("PIP_EXTRA_INDEX_URL="),
        "neutralisation is reported\n{out}"
    );
    assert_eq!(sb.counter(CONFUSION, &[("package", &name)]), 1.0);
    assert_eq!(
        sb.counter(
            DOWNLOADS,
            &[
                ("package", &name),
                ("version", "1.2.3"),
                ("source", "internal")
            ]
        ),
        1.0
    );
    let audit = sb.audit();
    let download = audit
        .iter()
        .find(|e| e["decision"] == "route-download")
        .expect("the download is audited");
    assert_eq!(download["digest"], format!("sha256:{}", sha256_of(&good)));
    assert_eq!(download["source"], "internal");
}

/// A requirements file without hashes is not a lock: it resolves through the gate (route mode)
/// like `pip install NAME`, its option lines dropped. Plain pip obeys its `--extra-index-url`
/// and takes 99.0.0; lockgate installs 1.2.3 and says what it ignored. A typosquat in such a
/// file is refused, naming the line.
#[test]
fn unhashed_requirements_file_resolves_through_the_gate() {
    let reg = pypi_registries();
    let (name, _) = confusion_case();
    let sb = guarded(reg);
    sb.write(
        "requirements.txt",
        format!(
            "--extra-index-url {}
{name}
",
            reg.public.simple_url()
        ),
    );
    let internal = reg.internal.simple_url_with_auth();
    sb.run(&mut plain_pip(
        &sb,
        &[
            "install",
            "--target",
            "plain",
            "--index-url",
            &internal,
            "-r",
            "requirements.txt",
        ],
    ))
    .ok();
    assert_eq!(
        installed_version(&sb.path("plain"), &name).as_deref(),
        Some("99.0.0")
    );

    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .ok();
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.2.3")
    );
    assert!(out.stderr.contains("--extra-index-url http://"), "{out}");
    assert!(decisions(&sb).contains(&"route-download".to_string()));

    sb.write(
        "requirements.txt",
        format!(
            "{name}
reqeusts>=2
"
        ),
    );
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site2", "-r", "requirements.txt"],
        ))
        .code_is(24);
    assert!(out.stderr.contains("requirements.txt:2"), "{out}");
    assert!(!sb.exists("site2"));
}

/// The internal wheel is replaced under the same name and version: plain pip without a hash
/// installs the tampered copy; lockgate refuses (23, counted) and installs nothing, even with the
/// good copy already in its store.
#[test]
fn tampered_internal_wheel_is_refused() {
    let reg = pypi_registries();
    let name = uniq("myorg-ledger");
    let good = build_wheel_with_origin(&name, "2.0.0", &[], "internal");
    reg.internal.add(&good);
    let sb = guarded(reg);
    sb.write("requirements.txt", lock_line(&name, "2.0.0", &[&good]));
    let args = ["install", "--target", "site", "-r", "requirements.txt"];
    sb.run(&mut guarded_pip(&sb, &args)).ok();
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("2.0.0")
    );

    reg.internal
        .add(&build_wheel_with_origin(&name, "2.0.0", &[], "tampered"));
    let internal = reg.internal.simple_url_with_auth();
    let pinned = format!("{name}==2.0.0");
    sb.run(&mut plain_pip(
        &sb,
        &[
            "install",
            "--target",
            "plain",
            "--index-url",
            &internal,
            &pinned,
        ],
    ))
    .ok();
    assert!(module_origin(&sb, "plain", &name).contains("tampered"));

    // With the verified store warm, lockgate installs the bytes it verified before and does not
    // even ask the index (provenance notes): the swapped file never reaches pip.
    sb.run(&mut guarded_pip(
        &sb,
        &["install", "--target", "warm", "-r", "requirements.txt"],
    ))
    .ok();
    assert!(module_origin(&sb, "warm", &name).contains("internal"));

    // A cold store (a fresh CI runner) downloads, detects the swap, installs nothing.
    let mut sb = sb;
    sb.set_env("LOCKGATE_CACHE_DIR", sb.root().join("fresh-store"));
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site2", "-r", "requirements.txt"],
        ))
        .code_is(23);
    assert!(
        out.stderr.contains(&sha256_of(&good)),
        "expected hash shown\n{out}"
    );
    assert!(!sb.exists("site2"), "nothing installed");
    assert_eq!(
        sb.counter(
            "registry_integrity_verification_failure_total",
            &[("package", &name), ("version", "2.0.0")]
        ),
        1.0
    );
}

/// An sdist whose setup.py runs at install time: plain pip runs it (with the CI secret); lockgate
/// refuses it, locked and unlocked (21), and setup.py never runs.
#[test]
fn sdists_are_refused_and_never_run() {
    let reg = pypi_registries();
    let plain_name = uniq("zqx-buildhook");
    let sdist = reg.public.add(&build_sdist(&plain_name, "1.0"));
    let sb = guarded(reg);
    sb.write("requirements.txt", lock_line(&plain_name, "1.0", &[&sdist]));
    sb.run(&mut plain_pip(
        &sb,
        &[
            "install",
            "--target",
            "plain",
            "--index-url",
            &reg.public.simple_url(),
            "-r",
            "requirements.txt",
        ],
    ))
    .ok();
    assert!(
        sdist_marker(&plain_name, "1.0").is_some(),
        "plain pip ran setup.py"
    );

    let name = uniq("zqx-buildhook");
    let sdist = reg.public.add(&build_sdist(&name, "1.0"));
    sb.write("requirements.txt", lock_line(&name, "1.0", &[&sdist]));
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .code_is(21);
    assert!(out.stderr.contains("allow-sdist"), "{out}");
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", &name],
        ))
        .code_is(21);
    assert!(out.stderr.contains("has only sdists here"), "{out}");
    assert!(sdist_marker(&name, "1.0").is_none(), "setup.py never ran");
    assert!(installed_version(&sb.path("site"), &name).is_none());
}

/// `[pip.build] allow-sdist` lets a reviewed sdist build, offline from verified files only: its
/// build requirements must be locked wheels (the refusal names what is missing), and the build
/// runs without secrets in its environment.
#[test]
fn allowed_sdist_builds_from_locked_build_requirements_without_secrets() {
    let reg = pypi_registries();
    let name = uniq("zqx-native");
    let sdist = reg.public.add(&build_sdist(&name, "1.0"));
    let sb = guarded(reg);
    sb.write(
        "lockgate.toml",
        policy(reg, &format!("[pip.build]\nallow-sdist = [\"{name}\"]\n")),
    );
    let wheels = &tools().pypi_public_wheels;
    let build_deps = [("setuptools", "84.2.1"), ("wheel", "0.48.0")]
        .map(|(n, v)| lock_line(n, v, &[&wheels.join(format!("{n}-{v}-py3-none-any.whl"))]));
    let lock = format!(
        "{}\n{}\n",
        lock_line(&name, "1.0", &[&sdist]),
        build_deps.join("\n")
    );
    sb.write("requirements.txt", &lock);
    let args = ["install", "--target", "site", "-r", "requirements.txt"];
    let out = sb.run(&mut guarded_pip(&sb, &args)).code_is(21);
    assert!(
        out.stderr.contains("packaging >= 24.0"),
        "wheel needs packaging\n{out}"
    );
    assert!(sdist_marker(&name, "1.0").is_none());

    let packaging = wheels.join("packaging-26.4-py3-none-any.whl");
    sb.write(
        "requirements.txt",
        format!("{lock}{}\n", lock_line("packaging", "26.4", &[&packaging])),
    );
    let out = sb.run(&mut guarded_pip(&sb, &args)).ok();
    let marker = sdist_marker(&name, "1.0").expect("the allowed sdist was built");
    assert!(
        marker["env"].get(PASSWORD_ENV).is_none(),
        "secret scrubbed\n{out}"
    );
    assert!(
        out.stderr.contains(PASSWORD_ENV),
        "the scrub is reported\n{out}"
    );
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.0")
    );
}

/// The internal index needs a password: unset → 25 before anything is fetched; wrong → 25 after
/// the index's 401. Both counted.
#[test]
fn internal_index_without_valid_credentials_is_25() {
    let reg = pypi_registries();
    let name = uniq("myorg-secrets");
    let wheel = reg.internal.add(&build_wheel(&name, "1.0.0", &[]));
    let mut sb = guarded(reg);
    sb.write("requirements.txt", lock_line(&name, "1.0.0", &[&wheel]));
    let args = ["install", "--target", "site", "-r", "requirements.txt"];

    sb.remove_env(PASSWORD_ENV);
    let out = sb.run(&mut guarded_pip(&sb, &args)).code_is(25);
    assert!(
        out.stderr.contains(&format!("export {PASSWORD_ENV}=")),
        "{out}"
    );
    sb.set_env(PASSWORD_ENV, "wrong");
    sb.run(&mut guarded_pip(&sb, &args)).code_is(25);
    assert!(!sb.exists("site"));
    let failures = "registry_auth_failure_total";
    assert_eq!(sb.counter(failures, &[("user", "anonymous")]), 1.0);
    assert_eq!(sb.counter(failures, &[("user", INTERNAL_PYPI_USER.0)]), 1.0);
}

/// `PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS` (a directory with the attacker's wheel), a pip.conf
/// and option lines inside the requirements file all point at the attacker. Plain pip takes
/// 99.0.0; lockgate ignores them all, says so, and installs the locked 1.2.3.
#[test]
fn hostile_pip_settings_are_neutralised_and_reported() {
    let reg = pypi_registries();
    let (name, good) = confusion_case();
    let mut sb = guarded(reg);
    let drop_dir = sb.path("drop");
    std::fs::create_dir_all(&drop_dir).unwrap();
    std::fs::copy(
        build_wheel_with_origin(&name, "99.0.0", &[], "attacker"),
        drop_dir.join(format!(
            "{}-99.0.0-py3-none-any.whl",
            name.replace('-', "_")
        )),
    )
    .unwrap();
    sb.set_env("PIP_EXTRA_INDEX_URL", reg.public.simple_url());
    sb.set_env("PIP_FIND_LINKS", &drop_dir);
    sb.pip_conf(&format!(
        "[global]\nextra-index-url = {}\n",
        reg.public.simple_url()
    ));
    sb.write(
        "requirements.txt",
        format!(
            "--extra-index-url {}\n--find-links ./drop\n{}\n",
            reg.public.simple_url(),
            lock_line(&name, "1.2.3", &[&good])
        ),
    );

    plain_pip_takes_the_attackers(&sb, &name);

    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site", "-r", "requirements.txt"],
        ))
        .ok();
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.2.3")
    );
    for reported in [
        "PIP_EXTRA_INDEX_URL=",
        "PIP_FIND_LINKS=",
        "extra-index-url = ",
        "--extra-index-url ",
        "--find-links ./drop (",
    ] {
        assert!(
            out.stderr.contains(reported),
            "{reported} not reported\n{out}"
        );
    }
    assert!(decisions(&sb).contains(&"neutralised".to_string()));
}

/// A lock split over an include and a constraints file, with a continuation, comments, extras,
/// a marker that excludes a line (its package does not exist anywhere), and two hashes per
/// requirement (a wheel for another platform next to the one that fits); installed into a
/// virtual environment without pip of its own through `--python`.
#[test]
fn requirements_with_includes_constraints_markers_extras_and_several_hashes() {
    let reg = pypi_registries();
    let base = uniq("zqx-base");
    let app = uniq("zqx-app");
    let base_whl = reg.public.add(&build_wheel(&base, "1.0.0", &[]));
    let app_whl = reg.public.add(&build_wheel(
        &app,
        "3.1.0",
        &[&format!("{base}>=1; extra == \"fast\"")],
    ));
    let other_platform = build_wheel_with_origin(&app, "3.1.0", &[], "elsewhere");
    let foreign = other_platform.with_file_name(format!(
        "{}-3.1.0-cp311-cp311-win_amd64.whl",
        app.replace('-', "_")
    ));
    std::fs::copy(&other_platform, &foreign).unwrap();
    reg.public.add(&foreign);
    let sb = guarded(reg);
    sb.write(
        "base.txt",
        format!(
            "# shared pins\n{}\n",
            lock_line(&base, "1.0.0", &[&base_whl])
        ),
    );
    sb.write("constraints.txt", format!("{base}<2\n"));
    sb.write(
        "requirements.txt",
        format!(
            "-r base.txt\n-c constraints.txt\n\n{app}[fast]==3.1.0 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}  # two files\n\
             zqx-never-published==1.0 ; python_version < \"3.0\" --hash=sha256:{}\n",
            sha256_of(&foreign),
            sha256_of(&app_whl),
            "0".repeat(64),
        ),
    );
    let venv = sb.path("venv");
    sb.run(
        sb.cmd(&tools().python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    )
    .ok();

    let venv_arg = venv.to_str().unwrap();
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--python", venv_arg, "-r", "requirements.txt"],
        ))
        .ok();
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages");
    assert_eq!(
        installed_version(&site, &app).as_deref(),
        Some("3.1.0"),
        "{out}"
    );
    assert_eq!(installed_version(&site, &base).as_deref(), Some("1.0.0"));
    assert!(
        out.stderr
            .contains("2 packages verified against requirements.txt, base.txt, constraints.txt"),
        "{out}"
    );
}

/// A PEP 751 lock: found in the project directory when `pip install` names nothing, markers
/// evaluated for the interpreter; a lock that takes an internal name from the public host is
/// refused before anything is fetched.
#[test]
fn pylock_toml_is_installed_and_checked() {
    let reg = pypi_registries();
    let (name, good) = confusion_case();
    let public = uniq("zqx-util");
    let util = reg.public.add(&build_wheel(&public, "0.5.0", &[]));
    let sb = guarded(reg);
    let file = |url: &str, path: &std::path::Path| {
        format!(
            "{{ url = \"{url}packages/{}\", hashes = {{ sha256 = \"{}\" }} }}",
            path.file_name().unwrap().to_str().unwrap(),
            sha256_of(path)
        )
    };
    let pylock = format!(
        "lock-version = \"1.0\"\ncreated-by = \"tests\"\nrequires-python = \">=3.8\"\n\n\
         [[packages]]\nname = \"{name}\"\nversion = \"1.2.3\"\nwheels = [{}]\n\n\
         [[packages]]\nname = \"{public}\"\nversion = \"0.5.0\"\nmarker = \"python_version >= '3.8'\"\nwheels = [{}]\n\n\
         [[packages]]\nname = \"zqx-old-only\"\nversion = \"1.0\"\nmarker = \"python_version < '3'\"\nwheels = [{{ name = \"zqx_old_only-1.0-py2-none-any.whl\", url = \"https://example.invalid/x.whl\", hashes = {{ sha256 = \"{}\" }} }}]\n",
        file(&reg.internal.url, &good),
        file(&reg.public.url, &util),
        "0".repeat(64)
    );
    sb.write("pylock.toml", &pylock);
    let out = sb
        .run(&mut guarded_pip(&sb, &["install", "--target", "site"]))
        .ok();
    assert!(out.stderr.contains("installing the lock"), "{out}");
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("1.2.3")
    );
    assert_eq!(
        installed_version(&sb.path("site"), &public).as_deref(),
        Some("0.5.0")
    );

    let poisoned = pylock.replace(
        &format!("{}packages/", reg.internal.url),
        &format!("{}packages/", reg.public.url),
    );
    sb.write("pylock.toml", poisoned);
    let out = sb
        .run(&mut guarded_pip(
            &sb,
            &["install", "--target", "site2", "-r", "pylock.toml"],
        ))
        .code_is(22);
    assert!(out.stderr.contains("not from the internal index"), "{out}");
    assert!(!sb.exists("site2"));
}

/// Route-mode refusals that need no index: a typosquat (24), a direct URL (21), an unlocked
/// install in CI when the policy requires a lock (21); pass-through commands run the real pip.
#[test]
fn route_mode_refusals_and_pass_through() {
    let reg = pypi_registries();
    let mut sb = guarded(reg);
    let out = sb
        .run(&mut guarded_pip(&sb, &["install", "reqeusts"]))
        .code_is(24);
    assert!(out.stderr.contains("did you mean `requests`?"), "{out}");
    sb.run(&mut guarded_pip(
        &sb,
        &["install", "https://example.invalid/x-1.0-py3-none-any.whl"],
    ))
    .code_is(21);
    sb.write(
        "lockgate.toml",
        policy(reg, "").replace("[pip]\n", "[pip]\nrequire-lock = true\n"),
    );
    sb.set_env("CI", "true");
    let out = sb
        .run(&mut guarded_pip(&sb, &["install", "zqx-anything"]))
        .code_is(21);
    assert!(out.stderr.contains("require-lock"), "{out}");
    assert!(decisions(&sb).iter().all(|d| d == "refuse"));

    let real = sb.run(&mut plain_pip(&sb, &["--version"])).ok();
    let guarded = sb.run(&mut guarded_pip(&sb, &["--version"])).ok();
    assert_eq!(guarded.stdout, real.stdout);
}

/// `lockgate check` reads requirements files and pylock.toml: in a lock, an unhashed pin and an
/// unpinned name are errors (21) and an index option is a warning; a requirements file without
/// any hash is not a lock (a warning, an error under `require-lock`).
#[test]
fn check_audits_pip_locks() {
    let reg = pypi_registries();
    let sb = guarded(reg);
    sb.write(
        "requirements.txt",
        format!(
            "--extra-index-url https://pypi.org/simple/\nzqx-a==1.0\nzqx-b>=2\nzqx-c==1.0 --hash=sha256:{}\n",
            "a".repeat(64)
        ),
    );
    sb.write("requirements-dev.txt", "zqx-tool\n");
    // `--offline`: the lock's format only (zqx-c is on no index; the lookup is tests/pip_guard.rs's).
    let check = |sb: &Sandbox, code: i32| {
        let out = sb
            .run(
                sb.lockgate()
                    .args(["check", "--offline", "--format", "json"]),
            )
            .code_is(code);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let found: Vec<(String, String)> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().into(),
                    f["severity"].as_str().unwrap().into(),
                )
            })
            .collect();
        found
    };
    let pair = |k: &str, s: &str| (k.to_string(), s.to_string());
    assert_eq!(
        check(&sb, 21),
        [
            pair("lockfile", "warning"),
            pair("missing-hash", "error"),
            pair("lockfile", "error"),
            pair("lockfile", "warning"),
            // No malicious-package feed on this machine (issue 11).
            pair("feed", "warning")
        ]
    );
    sb.write(
        "lockgate.toml",
        policy(reg, "").replace("[pip]\n", "[pip]\nrequire-lock = true\n"),
    );
    assert_eq!(check(&sb, 21)[0], pair("lockfile", "error"));
}

/// A warm verified store makes a locked install independent of the index: the files are taken
/// from the store by the provenance recorded when they were verified, and no page is fetched.
#[test]
fn warm_locked_install_asks_the_index_nothing() {
    let reg = pypi_registries();
    let name = uniq("offline-lib");
    let whl = reg.public.add(&build_wheel(&name, "1.0.0", &[]));
    let proxy = FaultProxy::start(&reg.public.url, Fault::Pass);
    let sb = guarded(reg);
    sb.write(
        "lockgate.toml",
        format!(
            "[pip]\nindex-url = \"{}/simple/\"\n",
            proxy.url.trim_end_matches('/')
        ),
    );
    sb.write("requirements.txt", lock_line(&name, "1.0.0", &[&whl]));
    let cold = ["install", "--target", "cold", "-r", "requirements.txt"];
    sb.run(&mut guarded_pip(&sb, &cold)).ok();
    let asked = proxy.requests().len();
    assert!(
        asked >= 2,
        "the cold run reads the page and downloads the wheel"
    );

    proxy.set_fault(Fault::Status {
        status: 503,
        times: usize::MAX,
    });
    let warm = ["install", "--target", "warm", "-r", "requirements.txt"];
    sb.run(&mut guarded_pip(&sb, &warm)).ok();
    assert_eq!(
        proxy.requests().len(),
        asked,
        "the warm run asked the index nothing"
    );
    assert_eq!(
        installed_version(&sb.path("warm"), &name).as_deref(),
        Some("1.0.0")
    );
}
