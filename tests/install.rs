//! `install.sh` as a user runs it: the layout it promises (DIR/bin/lockgate, DIR/shims/* linking
//! to it), shims that dispatch on argv[0] and find the real tool past themselves, idempotence, and
//! `--uninstall` removing exactly what it installed.

mod common;

use std::fs;

use common::{lockgate_bin, repo_root, tools, Sandbox};

#[test]
fn install_sh_installs_idempotently_and_uninstalls_cleanly() {
    let sb = Sandbox::new();
    let prefix = sb.root().join("opt/lockgate");
    let install = |extra: &[&str]| {
        let mut cmd = sb.cmd(repo_root().join("install.sh"));
        cmd.arg("--prefix")
            .arg(&prefix)
            .arg("--binary")
            .arg(lockgate_bin())
            .args(extra);
        sb.run(&mut cmd)
    };
    let out = install(&[]).ok();
    assert!(
        out.stdout
            .contains(&format!("export PATH=\"{}/shims:$PATH\"", prefix.display())),
        "{}",
        out.stdout
    );
    assert_eq!(
        fs::read(prefix.join("bin/lockgate")).unwrap(),
        fs::read(lockgate_bin()).unwrap()
    );
    for tool in ["npm", "npx", "pip", "pip3", "mvn", "lockgate"] {
        assert_eq!(
            fs::read_link(prefix.join("shims").join(tool))
                .unwrap()
                .to_str(),
            Some("../bin/lockgate"),
            "{tool}"
        );
    }

    // The installed shim is lockgate under npm's name and runs the real npm past itself.
    let mut npm = sb.cmd(prefix.join("shims/npm"));
    let path = format!(
        "{}:{}",
        prefix.join("shims").display(),
        sb.env_var("PATH").unwrap().to_string_lossy()
    );
    npm.arg("--version").env("PATH", path);
    let via_shim = sb.run(&mut npm).ok();
    let real = sb.run(sb.cmd(&tools().npm).arg("--version")).ok();
    assert_eq!(via_shim.stdout, real.stdout);
    let version = sb
        .run(sb.cmd(prefix.join("shims/lockgate")).arg("--version"))
        .ok();
    assert!(
        version.stdout.starts_with("lockgate "),
        "{}",
        version.stdout
    );

    // Idempotent: a second run leaves the same layout; a user's own file in shims/ survives.
    fs::write(prefix.join("shims/mine"), "keep").unwrap();
    install(&[]).ok();
    assert_eq!(
        fs::read_link(prefix.join("shims/npm")).unwrap().to_str(),
        Some("../bin/lockgate")
    );

    install(&["--uninstall"]).ok();
    assert!(!prefix.join("bin/lockgate").exists());
    assert!(!prefix.join("shims/npm").exists() && !prefix.join("shims/pip3").exists());
    assert_eq!(
        fs::read_to_string(prefix.join("shims/mine")).unwrap(),
        "keep",
        "not ours, not removed"
    );

    let bad = sb
        .run(sb.cmd(repo_root().join("install.sh")).arg("--frobnicate"))
        .code_is(2);
    assert!(bad.stderr.contains("unknown argument"), "{}", bad.stderr);
}
