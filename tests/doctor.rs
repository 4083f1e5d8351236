//! `lockgate doctor` against real Verdaccio instances: internal sources must refuse anonymous
//! readers (the seed's adversary 5) while accepting lockgate's credentials.

mod common;

use common::npm::{npm_registries, NpmPackage, Verdaccio};
use common::{tools, uniq, Sandbox};

fn project(sb: &Sandbox, registry: &str, token: &str, name: &str) {
    sb.write(
        "lockgate.toml",
        format!("[npm.internal]\nregistry = \"{registry}\"\nscopes = [\"@myorg\"]\ntoken-env = \"INTERNAL_NPM_TOKEN\"\n"),
    );
    sb.write(
        "package.json",
        format!(r#"{{"name":"app","version":"1.0.0","dependencies":{{"{name}":"1.0.0"}}}}"#),
    );
    let host = registry.trim_start_matches("http://").trim_end_matches('/');
    sb.run(
        sb.cmd(&tools().npm)
            .args([
                "install",
                "--package-lock-only",
                "--ignore-scripts",
                &format!("--@myorg:registry={registry}"),
            ])
            .env(format!("npm_config_//{host}/:_authToken"), token),
    )
    .ok();
}

#[test]
fn doctor_finds_internal_tarballs_readable_without_credentials() {
    // The shared internal registry protects only `@myorg/*`; Verdaccio 5.33 still serves the
    // `/@myorg/x/-/@myorg/x-1.0.0.tgz` form of a scoped tarball to anyone.
    let reg = npm_registries();
    let name = format!("@myorg/{}", uniq("doctor"));
    reg.internal
        .publish(&reg.internal_token, &NpmPackage::new(&name, "1.0.0"));
    let mut sb = Sandbox::new();
    project(&sb, &reg.internal.url, &reg.internal_token, &name);
    sb.set_env("INTERNAL_NPM_TOKEN", reg.internal_token.as_str());
    let out = sb.run(sb.lockgate().arg("doctor")).code_is(26);
    assert!(
        out.stdout.contains("anonymous readers are refused"),
        "packuments are protected: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "{name}/-/{name}-1.0.0.tgz is downloadable WITHOUT credentials"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("credentials are accepted"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_passes_a_fully_protected_registry_and_reports_missing_credentials() {
    let registry = Verdaccio::start(&["**"]);
    let token = registry.add_user("ci", "ci-password");
    let name = format!("@myorg/{}", uniq("closed"));
    registry.publish(&token, &NpmPackage::new(&name, "1.0.0"));
    let mut sb = Sandbox::new();
    project(&sb, &registry.url, &token, &name);
    sb.set_env("INTERNAL_NPM_TOKEN", token.as_str());
    let out = sb.run(sb.lockgate().arg("doctor")).ok();
    assert!(
        out.stdout.contains("anonymous download of") && !out.stdout.contains("FAIL"),
        "{}",
        out.stdout
    );

    sb.remove_env("INTERNAL_NPM_TOKEN");
    let out = sb.run(sb.lockgate().arg("doctor")).code_is(25);
    assert!(
        out.stdout.contains("INTERNAL_NPM_TOKEN is not set"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&token), "the token is never printed");
}
