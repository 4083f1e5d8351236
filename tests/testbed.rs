//! The testbed: proves, with the PLAIN tools (no lockgate), that each row of the seed's
//! "Expected Behaviour" table is a real attack against the loopback registries — the "attack is
//! real" half that lockgate's own tests mirror with the "blocked" half. Also checks the harness
//! parts those tests rely on (fault proxy, pypiserver listing, anonymous-read behaviour).

mod common;

use std::time::{Duration, Instant};

use common::http;
use common::maven::{
    jar_origin, maven_project, maven_repos, maven_settings, MavenArtifact, MavenRepo,
    INTERNAL_MAVEN_USER,
};
use common::npm::{npm_registries, NpmPackage, Verdaccio};
use common::proxy::{Fault, FaultProxy};
use common::pypi::{
    build_sdist, build_wheel, build_wheel_with_origin, installed_version, pypi_registries,
    sdist_marker, INTERNAL_PYPI_USER,
};
use common::{tools, uniq, Sandbox};

/// A secret in the CI environment that an install script must never see.
const CI_SECRET: &str = "ci-secret-value-7f3a";

/// The machine's npm (DESIGN.md: npm 11.19).
const NPM_MAJOR: &str = "11.";

// ---------------------------------------------------------------------------------------------
// npm

/// Row "Internal package name on public registry" + "postinstall script execution in CI" +
/// "Registry fallback for internal names": without the `@myorg:registry` line, npm (11 and 10)
/// resolves the internal name on the public registry, installs the attacker's 99.0.0 and runs
/// its postinstall with the CI secrets in its environment. With the line, it gets 1.2.3.
#[test]
fn npm_without_scope_mapping_installs_attackers_99_and_runs_postinstall_with_secrets() {
    let reg = npm_registries();
    let name = format!("@myorg/{}", uniq("payments-client"));
    reg.internal.publish(
        &reg.internal_token,
        &NpmPackage::new(&name, "1.2.3").origin("internal"),
    );
    let attack = NpmPackage::new(&name, "99.0.0")
        .origin("attacker")
        .postinstall();
    reg.public.publish(&reg.attacker_token, &attack);
    let auth = format!(
        "//{}/:_authToken=${{INTERNAL_NPM_TOKEN}}",
        reg.internal.host()
    );

    // The machine's npm, then npm 10 first on PATH (as lockgate's own tests do it).
    let npm10_dir = tools().npm10.parent().unwrap();
    for (major, extra_path) in [(NPM_MAJOR, None), ("10.", Some(npm10_dir))] {
        let sandbox = || {
            let mut sb = Sandbox::new();
            if let Some(dir) = extra_path {
                sb.prepend_path(dir);
            }
            sb.write(
                "package.json",
                r#"{"name":"app","version":"1.0.0","private":true}"#,
            );
            sb
        };
        let mut sb = sandbox();
        let version = sb
            .run(sb.cmd("npm").arg("--version"))
            .ok()
            .stdout
            .trim()
            .to_string();
        assert!(version.starts_with(major), "npm {version}");
        sb.set_env("INTERNAL_NPM_TOKEN", &reg.internal_token);
        sb.set_env("CI_DEPLOY_SECRET", CI_SECRET);
        sb.npmrc(&format!("registry={}\n{auth}", reg.public.url));
        sb.run(sb.cmd("npm").args(["install", &name])).ok();

        let installed = sb.read(format!("node_modules/{name}/package.json"));
        assert!(
            installed.contains("\"99.0.0\""),
            "npm {version}: {installed}"
        );
        let marker = sb
            .npm_marker(&name, "99.0.0")
            .unwrap_or_else(|| panic!("npm {version}: the attacker's postinstall did not run"));
        assert_eq!(marker["event"], "postinstall");
        assert_eq!(
            marker["env"]["INTERNAL_NPM_TOKEN"],
            reg.internal_token.as_str()
        );
        assert_eq!(marker["env"]["CI_DEPLOY_SECRET"], CI_SECRET);

        // The same project with the scope mapped to the internal registry gets the real one.
        let sb = sandbox();
        sb.npmrc(&format!(
            "registry={}\n@myorg:registry={}\n{}",
            reg.public.url,
            reg.internal.url,
            reg.internal.auth_line(&reg.internal_token)
        ));
        sb.run(sb.cmd("npm").args(["install", &name])).ok();
        let installed = sb.read(format!("node_modules/{name}/package.json"));
        assert!(
            installed.contains("\"1.2.3\""),
            "npm {version}: {installed}"
        );
        assert!(sb.npm_marker(&name, "99.0.0").is_none());
    }
}

/// Row "Unauthenticated download": the internal registry answers 401 to anonymous reads of
/// `@myorg/*` packuments and of tarballs at the URL its packuments advertise — but Verdaccio
/// 5.33 also routes `/@scope/name/-/@scope/name-1.2.3.tgz` (the form `npm publish` stores), and
/// that route checks access for the package `@@scope/undefined`: with only the scope protected,
/// anyone who knows a name and version can download it. Protecting `**` closes it.
#[test]
fn npm_anonymous_reads_of_internal_packages() {
    let reg = npm_registries();
    let name = format!("@myorg/{}", uniq("secret-sauce"));
    reg.internal
        .publish(&reg.internal_token, &NpmPackage::new(&name, "1.0.0"));
    let packument_url = format!("{}{}", reg.internal.url, name.replace('/', "%2f"));
    let bearer = format!("Bearer {}", reg.internal_token);
    let authed = http::request("GET", &packument_url, &[("Authorization", &bearer)], b"").unwrap();
    assert_eq!(authed.status(), 200);
    let json: serde_json::Value = serde_json::from_slice(&authed.body).unwrap();
    let tarball = json["versions"]["1.0.0"]["dist"]["tarball"]
        .as_str()
        .unwrap();
    assert_eq!(tarball, reg.internal.tarball_url(&name, "1.0.0"));

    assert_eq!(http::get(&packument_url).unwrap().status(), 401);
    assert_eq!(http::get(tarball).unwrap().status(), 401);
    let file = tarball.rsplit('/').next().unwrap();
    let encoded = format!("{}{}/-/{file}", reg.internal.url, name.replace('/', "%2f"));
    assert_eq!(http::get(&encoded).unwrap().status(), 401);
    // The leak.
    let scope_in_file = format!("{}{name}/-/@myorg/{file}", reg.internal.url);
    let leaked = http::get(&scope_in_file).unwrap();
    assert_eq!(
        leaked.status(),
        200,
        "Verdaccio fixed its scoped tarball route?"
    );
    assert_eq!(&leaked.body[..2], b"\x1f\x8b", "a gzipped tarball");

    // A registry that protects everything answers 401 everywhere.
    let locked = Verdaccio::start(&["**"]);
    let token = locked.add_user("ci", "pass-1");
    let other = format!("@myorg/{}", uniq("secret-sauce"));
    locked.publish(&token, &NpmPackage::new(&other, "1.0.0"));
    let packument = format!("{}{}", locked.url, other.replace('/', "%2f"));
    assert_eq!(http::get(&packument).unwrap().status(), 401);
    assert_eq!(
        http::get(&locked.tarball_url(&other, "1.0.0"))
            .unwrap()
            .status(),
        401
    );
    let file = format!("{}-1.0.0.tgz", other.rsplit('/').next().unwrap());
    let scope_in_file = format!("{}{other}/-/@myorg/{file}", locked.url);
    assert_eq!(http::get(&scope_in_file).unwrap().status(), 401);
    let anonymous = Sandbox::new();
    anonymous.write(
        "package.json",
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    );
    anonymous.npmrc(&format!("registry={}", locked.url));
    let out = anonymous
        .run(anonymous.cmd(&tools().npm).args(["install", &other]))
        .failed();
    assert!(out.stderr.contains("E401"), "{out}");
}

/// Row "Package integrity" and the stale/poisoned-cache adversary: a registry that serves other
/// bytes under an old version. If the packument still has the old hash, npm notices
/// (EINTEGRITY); once the packument agrees, an install without a lockfile takes the tampered
/// package and runs its script; only an old lockfile (`npm ci`) still catches it.
#[test]
fn npm_install_without_lockfile_takes_a_tampered_tarball() {
    let reg = npm_registries();
    let name = uniq("left-padder");
    let clean = NpmPackage::new(&name, "1.0.0").origin("clean");
    reg.public.publish(&reg.attacker_token, &clean);
    // npm retries an EINTEGRITY download with back-off (about 140 s by default): not here.
    let npmrc = format!("registry={}\nfetch-retries=0", reg.public.url);
    let project = |sb: &Sandbox| {
        sb.write(
            "package.json",
            r#"{"name":"app","version":"1.0.0","private":true}"#,
        );
        sb.npmrc(&npmrc);
    };
    let locked = Sandbox::new();
    project(&locked);
    locked
        .run(locked.cmd(&tools().npm).args(["install", &name]))
        .ok();
    let lockfile = locked.read("package-lock.json");
    let manifest = locked.read("package.json");

    let tampered = NpmPackage::new(&name, "1.0.0")
        .origin("tampered")
        .postinstall();
    reg.public.replace_tarball(&tampered, false);
    let sb = Sandbox::new();
    project(&sb);
    let out = sb
        .run(sb.cmd(&tools().npm).args(["install", &name]))
        .failed();
    assert!(out.stderr.contains("EINTEGRITY"), "{out}");

    reg.public.replace_tarball(&tampered, true);
    let sb = Sandbox::new();
    project(&sb);
    sb.run(sb.cmd(&tools().npm).args(["install", &name])).ok();
    assert!(sb
        .read(format!("node_modules/{name}/index.js"))
        .contains("tampered"));
    assert!(
        sb.npm_marker(&name, "1.0.0").is_some(),
        "the tampered script ran"
    );

    let ci = Sandbox::new();
    ci.write("package.json", manifest);
    ci.write("package-lock.json", lockfile);
    ci.npmrc(&npmrc);
    let out = ci.run(ci.cmd(&tools().npm).arg("ci")).failed();
    assert!(out.stderr.contains("EINTEGRITY"), "{out}");
    assert!(!ci.exists(format!("node_modules/{name}")));
}

// ---------------------------------------------------------------------------------------------
// pip

/// Rows "Internal package name on public registry" + "Registry fallback": with
/// `--extra-index-url`, pip merges both indexes and the highest version wins — the attacker's
/// 99.0.0 from the public index. With the internal index alone it gets 1.2.3.
#[test]
fn pip_extra_index_url_installs_attackers_99() {
    let reg = pypi_registries();
    let name = uniq("myorg-payments-client");
    reg.internal
        .add(&build_wheel_with_origin(&name, "1.2.3", &[], "internal"));
    reg.public
        .add(&build_wheel_with_origin(&name, "99.0.0", &[], "attacker"));
    let sb = Sandbox::new();
    let internal = reg.internal.simple_url_with_auth();
    let pip_install = |target: &str, extra: &[&str]| {
        let mut cmd = sb.cmd(&tools().pip);
        cmd.args([
            "install",
            "--no-deps",
            "--target",
            target,
            "--index-url",
            &internal,
        ]);
        sb.run(cmd.args(extra).arg(&name)).ok();
    };

    pip_install("confused", &["--extra-index-url", &reg.public.simple_url()]);
    assert_eq!(
        installed_version(&sb.path("confused"), &name).as_deref(),
        Some("99.0.0")
    );
    let module = name.replace('-', "_");
    assert!(sb
        .read(format!("confused/{module}/__init__.py"))
        .contains("attacker"));

    pip_install("internal-only", &[]);
    assert_eq!(
        installed_version(&sb.path("internal-only"), &name).as_deref(),
        Some("1.2.3")
    );
}

/// Row "postinstall script execution" for pip: installing an sdist runs its setup.py, with the
/// CI environment (here a password in `INTERNAL_PYPI_PASSWORD`).
#[test]
fn pip_installing_an_sdist_runs_its_setup_py_with_secrets() {
    let reg = pypi_registries();
    let name = uniq("myorg-build-helper");
    reg.public.add(&build_sdist(&name, "99.0.0"));
    let mut sb = Sandbox::new();
    sb.set_env("INTERNAL_PYPI_PASSWORD", INTERNAL_PYPI_USER.1);
    let mut cmd = sb.cmd(&tools().pip);
    cmd.args(["install", "--no-deps", "--target", "site", "--index-url"])
        .arg(reg.internal.simple_url_with_auth())
        .args(["--extra-index-url", &reg.public.simple_url(), &name]);
    sb.run(&mut cmd).ok();
    let marker = sdist_marker(&name, "99.0.0").expect("setup.py ran");
    assert_eq!(
        marker["env"]["INTERNAL_PYPI_PASSWORD"],
        INTERNAL_PYPI_USER.1
    );
    assert_eq!(
        installed_version(&sb.path("site"), &name).as_deref(),
        Some("99.0.0")
    );
}

/// Row "Unauthenticated download" for pip: the internal index answers 401 to anonymous reads
/// of the index, a project page and a file; pip without credentials fails.
#[test]
fn pypi_anonymous_reads_of_internal_index_get_401() {
    let reg = pypi_registries();
    let name = uniq("myorg-secret-sauce");
    let wheel = reg.internal.add(&build_wheel(&name, "1.0.0", &[]));
    let file = wheel.file_name().unwrap().to_str().unwrap();
    let (user, pass) = INTERNAL_PYPI_USER;
    let basic = http::basic_auth(user, pass);
    for path in [
        "simple/".to_string(),
        format!("simple/{name}/"),
        format!("packages/{file}"),
    ] {
        let url = format!("{}{path}", reg.internal.url);
        assert_eq!(http::get(&url).unwrap().status(), 401, "{url}");
        let authed = http::request("GET", &url, &[("Authorization", &basic)], b"").unwrap();
        assert_eq!(authed.status(), 200, "{url}");
    }
    let sb = Sandbox::new();
    let mut cmd = sb.cmd(&tools().pip);
    cmd.args([
        "install",
        "-vv",
        "--target",
        "site",
        "--index-url",
        &reg.internal.simple_url(),
        &name,
    ]);
    let out = sb.run(&mut cmd).failed();
    assert!(out.stdout.contains("401 Client Error"), "{out}");
}

/// pypiserver (`--backend simple-dir`) lists files added while it runs, on the next request,
/// with `#sha256=` fragments — the harness adds files to shared indexes at any time.
#[test]
fn pypiserver_lists_files_added_while_running() {
    let reg = pypi_registries();
    let name = uniq("late-arrival");
    let page = format!("{}simple/{name}/", reg.public.url);
    assert_eq!(http::get(&page).unwrap().status(), 404);
    reg.public.add(&build_wheel(&name, "1.0.0", &[]));
    let listing = http::get(&page).unwrap().text();
    assert!(
        listing.contains("-1.0.0-py3-none-any.whl#sha256="),
        "{listing}"
    );
    reg.public.add(&build_wheel(&name, "1.1.0", &[]));
    assert!(http::get(&page)
        .unwrap()
        .text()
        .contains("-1.1.0-py3-none-any.whl"));
    // Same inputs, same bytes: tests can rebuild a file and expect the same hash.
    let a = std::fs::read(build_wheel(&name, "1.0.0", &["six>=1"])).unwrap();
    let b = std::fs::read(build_wheel(&name, "1.0.0", &["six>=1"])).unwrap();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Maven

struct MavenCase {
    artifact: String,
}

/// Internal `com.myorg:<artifact>:1.2.3`; on the public repo the attacker's 1.2.3 (other
/// content) and 99.0.0.
fn maven_case() -> MavenCase {
    let repos = maven_repos();
    let artifact = uniq("payments-client");
    MavenArtifact::new("com.myorg", &artifact, "1.2.3")
        .origin("internal")
        .deploy(&repos.internal_dir);
    for version in ["1.2.3", "99.0.0"] {
        MavenArtifact::new("com.myorg", &artifact, version)
            .origin("attacker")
            .deploy(&repos.public_overlay);
    }
    MavenCase { artifact }
}

/// `mvn package` of a project depending on `com.myorg:<artifact>:<version>`, with the
/// repositories in this order; returns the origin of the jar that landed in the local repo.
fn mvn_package(case: &MavenCase, version: &str, public_first: bool) -> (String, String) {
    let repos = maven_repos();
    let public = MavenRepo {
        id: "central",
        url: &repos.public_url,
        auth: None,
    };
    let internal = MavenRepo {
        id: "internal",
        url: &repos.internal_url,
        auth: Some(INTERNAL_MAVEN_USER),
    };
    let order = if public_first {
        [public, internal]
    } else {
        [internal, public]
    };
    let sb = Sandbox::new();
    sb.maven_settings(&maven_settings(&order));
    maven_project(&sb.project(), &[("com.myorg", &case.artifact, version)]);
    let out = sb
        .run(sb.cmd(&tools().mvn).args(["-B", "-ntp", "package"]))
        .ok();
    assert!(sb.exists("target/app-1.0.0.jar"), "{out}");
    let dir = sb.m2_repo().join("com/myorg").join(&case.artifact);
    let resolved: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.path()
                .join(format!(
                    "{}-{}.jar",
                    case.artifact,
                    e.file_name().to_string_lossy()
                ))
                .exists()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    let v = &resolved[0];
    let jar = dir.join(v).join(format!("{}-{v}.jar", case.artifact));
    (v.clone(), jar_origin(&jar).expect("origin.txt in the jar"))
}

/// Row "Internal package name on public registry" for Maven: with the public repository first
/// in the chain, Maven takes the public copy of the internal coordinates.
#[test]
fn mvn_public_repo_first_resolves_the_public_copy_of_an_internal_artifact() {
    let case = maven_case();
    assert_eq!(
        mvn_package(&case, "1.2.3", true),
        ("1.2.3".into(), "attacker".into())
    );
    assert_eq!(
        mvn_package(&case, "1.2.3", false),
        ("1.2.3".into(), "internal".into())
    );
}

/// Row "Registry fallback for internal names": a version range merges all repositories'
/// metadata, so the attacker's 99.0.0 wins even with the internal repository first.
#[test]
fn mvn_version_range_picks_the_attackers_99_even_with_internal_first() {
    let case = maven_case();
    assert_eq!(
        mvn_package(&case, "[1.2,)", false),
        ("99.0.0".into(), "attacker".into())
    );
}

/// Row "Unauthenticated download" for Maven: the internal repository (nginx basic auth)
/// answers 401 to anonymous reads of files and metadata.
#[test]
fn maven_anonymous_reads_of_internal_repo_get_401() {
    let repos = maven_repos();
    let artifact = MavenArtifact::new("com.myorg", &uniq("secret-sauce"), "1.0.0");
    artifact.deploy(&repos.internal_dir);
    let (user, pass) = INTERNAL_MAVEN_USER;
    let basic = http::basic_auth(user, pass);
    let base = format!("com/myorg/{}", artifact.artifact);
    for path in [
        format!("{base}/1.0.0/{}-1.0.0.jar", artifact.artifact),
        format!("{base}/maven-metadata.xml"),
    ] {
        let url = format!("{}{path}", repos.internal_url);
        assert_eq!(http::get(&url).unwrap().status(), 401, "{url}");
        let authed = http::request("GET", &url, &[("Authorization", &basic)], b"").unwrap();
        assert_eq!(authed.status(), 200, "{url}");
    }
    // The public repository serves Debian's plugins to anyone.
    let plugin = "org/apache/maven/plugins/maven-jar-plugin/3.3.0/maven-jar-plugin-3.3.0.pom";
    assert_eq!(
        http::get(&format!("{}{plugin}", repos.public_url))
            .unwrap()
            .status(),
        200
    );
}

// ---------------------------------------------------------------------------------------------
// Harness

#[test]
fn shims_are_links_to_the_lockgate_binary() {
    let binary = std::fs::canonicalize(common::lockgate_bin()).unwrap();
    for name in common::SHIM_NAMES {
        let shim = common::shim_dir().join(name);
        assert_eq!(
            std::fs::canonicalize(&shim).unwrap(),
            binary,
            "{}",
            shim.display()
        );
    }
}

#[test]
fn fault_proxy_injects_each_fault_and_records_requests() {
    let repos = maven_repos();
    let artifact = MavenArtifact::new("org.example", &uniq("proxied"), "1.0.0");
    let jar = artifact.deploy(&repos.public_overlay);
    let expected = std::fs::read(&jar).unwrap();
    let path = format!("org/example/{0}/1.0.0/{0}-1.0.0.jar", artifact.artifact);
    let upstream = repos.public_url.trim_end_matches('/');

    let proxy = FaultProxy::start(
        upstream,
        Fault::Status {
            status: 503,
            times: 2,
        },
    );
    let url = format!("{}/{path}", proxy.url);
    assert_eq!(http::get(&url).unwrap().status(), 503);
    assert_eq!(http::get(&url).unwrap().status(), 503);
    let passed = http::get(&url).unwrap();
    assert_eq!((passed.status(), passed.body == expected), (200, true));

    proxy.set_fault(Fault::Truncate);
    let err = http::get(&url).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");

    proxy.set_fault(Fault::Reset);
    assert!(http::get(&url).is_err());

    let target = FaultProxy::start(upstream, Fault::Pass);
    proxy.set_fault(Fault::Redirect {
        to: target.url.clone(),
    });
    let secret = [("Authorization", "Bearer s3cret")];
    let redirect = http::request("GET", &url, &secret, b"").unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.header("location").unwrap();
    assert_eq!(location, format!("{}/{path}", target.url));
    assert_eq!(http::get(location).unwrap().body, expected);
    let at_target = target.requests();
    assert_eq!(at_target.len(), 1);
    assert_eq!(at_target[0].header("authorization"), None);

    proxy.set_fault(Fault::Trickle {
        chunk: expected.len() / 4 + 1,
        every: Duration::from_millis(100),
    });
    let started = Instant::now();
    assert_eq!(http::get(&url).unwrap().body, expected);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );

    let seen = proxy.requests();
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().filter(|r| r.faulted).count(), 6);
    assert_eq!(seen[5].header("authorization"), Some("Bearer s3cret"));
    assert!(seen
        .iter()
        .all(|r| r.method == "GET" && r.path == format!("/{path}")));

    // A filter limits the fault to matching paths.
    let filtered = FaultProxy::start_for(upstream, Fault::Reset, Some(".jar"));
    let pom = format!("{}/{}", filtered.url, path.replace(".jar", ".pom"));
    assert_eq!(http::get(&pom).unwrap().status(), 200);
    assert!(http::get(&format!("{}/{path}", filtered.url)).is_err());
}
