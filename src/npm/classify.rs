//! Which npm invocations install something (guarded) and which pass straight through.
//!
//! npm accepts global options before the command (`npm --prefix dir ci`), so the command is the
//! first positional argument that is a known npm command or alias; values of options known to take
//! one are skipped. An unknown word is not a command, so `npm --unknown-opt value install` is still
//! seen as `install` (fail closed). Pure: no I/O.

use std::ffi::OsString;

/// What lockgate does with an npm invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the real npm unchanged.
    PassThrough,
    /// Run the real npm unchanged, after a one-line notice that this is not guarded yet.
    Unguarded(&'static str),
    /// `npm ci`: install exactly the lockfile.
    Ci,
    /// `npm install [pkgs]`: with no packages and an in-sync lockfile this gets `ci` semantics.
    Install { packages: Vec<String> },
    /// `npm update [pkgs]`.
    Update { packages: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub action: Action,
    /// Index in argv of the command word (to swap `install` for `ci`).
    pub command_index: Option<usize>,
    /// `--prefix`/`-C` value: the project directory.
    pub prefix: Option<String>,
    /// `-g`/`--global`/`--location=global`.
    pub global: bool,
    /// Run `npm test` after the install (`install-test`, `install-ci-test`).
    pub then_test: bool,
    /// `--omit=dev`, `--production` or `--only=prod`: dev dependencies are not installed (the
    /// caller also honours `NODE_ENV=production`).
    pub omit_dev: bool,
    /// `--omit=optional` / `--no-optional`.
    pub omit_optional: bool,
}

/// Options that take a separate value (`--opt value`); `--opt=value` needs no entry.
const VALUE_OPTS: &[&str] = &[
    "--prefix",
    "-C",
    "--workspace",
    "-w",
    "--registry",
    "--cache",
    "--userconfig",
    "--globalconfig",
    "--loglevel",
    "--tag",
    "--otp",
    "--scope",
    "--include",
    "--omit",
    "--before",
    "--install-strategy",
    "--location",
    "-L",
    "--script-shell",
    "--node-options",
    "--access",
    "--auth-type",
    "--call",
    "-c",
    "--package",
    "--save-prefix",
    "--tag-version-prefix",
    "--preid",
    "--cafile",
    "--ca",
    "--cert",
    "--key",
    "--proxy",
    "--https-proxy",
    "--noproxy",
    "--local-address",
    "--maxsockets",
    "--fetch-retries",
    "--fetch-timeout",
    "--fetch-retry-mintimeout",
    "--fetch-retry-maxtimeout",
    "--fetch-retry-factor",
    "--lockfile-version",
    "--replace-registry-host",
    "--umask",
    "--shell",
    "--editor",
    "--viewer",
    "--heading",
    "--init-module",
    "--node-gyp",
    "--only",
    "--also",
    "--cidr",
    "--depth",
    "--format",
    "--expect-results",
    "--expect-result-count",
    "--sbom-format",
    "--sbom-type",
    "--allow-git",
];

/// Every npm command and alias (npm 10/11 `cmd-list`), mapped to what lockgate does with it.
fn command(word: &str) -> Option<Cmd> {
    use Cmd::*;
    Some(match word {
        "ci" | "clean-install" | "ic" | "install-clean" | "isntall-clean" => Ci,
        "install" | "i" | "in" | "ins" | "inst" | "insta" | "instal" | "isnt" | "isnta"
        | "isntal" | "isntall" | "add" => Install,
        "install-test" | "it" => InstallTest,
        "install-ci-test" | "cit" | "clean-install-test" | "sit" => CiTest,
        "update" | "up" | "upgrade" | "udpate" => Update,
        "exec" | "x" => Notice("`npm exec` downloads and runs packages"),
        "init" | "create" | "innit" => Init,
        "dedupe" | "ddp" => Notice("`npm dedupe` may fetch packages"),
        "link" | "ln" => Notice("`npm link` installs the linked package's dependencies"),
        "audit" => Audit,
        "access" | "adduser" | "add-user" | "login" | "logout" | "bugs" | "issues" | "cache"
        | "completion" | "config" | "c" | "get" | "set" | "deprecate" | "undeprecate" | "diff"
        | "dist-tag" | "dist-tags" | "docs" | "home" | "doctor" | "edit" | "explain" | "why"
        | "explore" | "find-dupes" | "fund" | "help" | "hlep" | "help-search" | "hook" | "ll"
        | "la" | "ls" | "list" | "org" | "ogr" | "outdated" | "owner" | "author" | "pack"
        | "ping" | "pkg" | "prefix" | "profile" | "prune" | "publish" | "pub" | "query"
        | "rebuild" | "rb" | "repo" | "restart" | "root" | "run" | "run-script" | "rum" | "urn"
        | "sbom" | "search" | "find" | "s" | "se" | "shrinkwrap" | "star" | "stars" | "start"
        | "stop" | "team" | "test" | "t" | "tst" | "token" | "trust" | "uninstall" | "unlink"
        | "remove" | "rm" | "r" | "un" | "unpublish" | "unstar" | "version" | "verison"
        | "view" | "info" | "show" | "v" | "whoami" | "install-scripts" => PassThrough,
        _ => return None,
    })
}

enum Cmd {
    Ci,
    Install,
    InstallTest,
    CiTest,
    Update,
    Init,
    Audit,
    Notice(&'static str),
    PassThrough,
}

/// Classify npm's argv (without the program name).
pub fn classify(args: &[OsString]) -> Invocation {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut inv = Invocation {
        action: Action::PassThrough,
        command_index: None,
        prefix: None,
        global: false,
        then_test: false,
        omit_dev: false,
        omit_optional: false,
    };
    let mut positionals: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    let mut only_positionals = false;
    while i < args.len() {
        let a = args[i].as_str();
        if only_positionals || !a.starts_with('-') || a == "-" {
            positionals.push((i, a));
            i += 1;
            continue;
        }
        if a == "--" {
            only_positionals = true;
            i += 1;
            continue;
        }
        let (opt, inline) = match a.split_once('=') {
            Some((o, v)) => (o, Some(v)),
            None => (a, None),
        };
        let value = if inline.is_none() && VALUE_OPTS.contains(&opt) {
            i += 1;
            args.get(i).map(String::as_str)
        } else {
            inline
        };
        match (opt, value) {
            ("--prefix" | "-C", Some(v)) => inv.prefix = Some(v.to_string()),
            ("-g" | "--global", None) | ("--global", Some("true")) => inv.global = true,
            ("--location", Some("global")) => inv.global = true,
            ("--omit", Some("dev")) | ("--only", Some("prod" | "production")) => {
                inv.omit_dev = true
            }
            ("--production", None) | ("--production", Some("true")) => inv.omit_dev = true,
            ("--omit", Some("optional")) | ("--no-optional", None) => inv.omit_optional = true,
            _ => {}
        }
        i += 1;
    }
    let Some(pos) = positionals.iter().position(|(_, w)| command(w).is_some()) else {
        return inv;
    };
    let (idx, word) = positionals[pos];
    inv.command_index = Some(idx);
    let rest: Vec<String> = positionals[pos + 1..]
        .iter()
        .map(|(_, w)| w.to_string())
        .collect();
    inv.action = match command(word).expect("checked above") {
        Cmd::Ci => Action::Ci,
        Cmd::Install => Action::Install { packages: rest },
        Cmd::InstallTest => {
            inv.then_test = true;
            Action::Install { packages: rest }
        }
        Cmd::CiTest => {
            inv.then_test = true;
            Action::Ci
        }
        Cmd::Update => Action::Update { packages: rest },
        // `npm init` alone writes package.json; `npm init <initializer>` runs `npm exec create-…`.
        Cmd::Init if rest.is_empty() => Action::PassThrough,
        Cmd::Init => Action::Unguarded("`npm init <initializer>` downloads and runs a package"),
        Cmd::Audit if rest.first().is_some_and(|w| w == "fix") => {
            Action::Unguarded("`npm audit fix` changes installed packages")
        }
        Cmd::Audit => Action::PassThrough,
        Cmd::Notice(n) => Action::Unguarded(n),
        Cmd::PassThrough => Action::PassThrough,
    };
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(line: &str) -> Invocation {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        classify(&args)
    }

    #[test]
    fn install_like() {
        assert_eq!(c("ci").action, Action::Ci);
        assert_eq!(c("clean-install").action, Action::Ci);
        assert_eq!(c("install").action, Action::Install { packages: vec![] });
        assert_eq!(c("i").action, Action::Install { packages: vec![] });
        assert_eq!(c("isntall").action, Action::Install { packages: vec![] });
        assert_eq!(
            c("add lodash").action,
            Action::Install {
                packages: vec!["lodash".into()]
            }
        );
        assert_eq!(
            c("install --save-dev @myorg/a@1 left-pad").action,
            Action::Install {
                packages: vec!["@myorg/a@1".into(), "left-pad".into()]
            }
        );
        assert_eq!(c("update").action, Action::Update { packages: vec![] });
        assert_eq!(
            c("up lodash").action,
            Action::Update {
                packages: vec!["lodash".into()]
            }
        );
        let cit = c("cit");
        assert_eq!(cit.action, Action::Ci);
        assert!(cit.then_test);
    }

    #[test]
    fn pass_through() {
        for l in [
            "run build",
            "run install",
            "test",
            "--version",
            "-v",
            "ls",
            "publish",
            "view react",
            "",
            "config get registry",
            "help install",
            "uninstall foo",
            "rebuild",
            "audit",
            "init",
        ] {
            assert_eq!(c(l).action, Action::PassThrough, "{l}");
        }
    }

    #[test]
    fn unguarded_notices() {
        assert!(matches!(c("exec cowsay").action, Action::Unguarded(_)));
        assert!(matches!(c("x cowsay").action, Action::Unguarded(_)));
        assert!(matches!(c("init react-app x").action, Action::Unguarded(_)));
        assert!(matches!(c("audit fix").action, Action::Unguarded(_)));
    }

    #[test]
    fn global_options_before_the_command() {
        let i = c("--prefix ci install");
        assert_eq!(i.action, Action::Install { packages: vec![] });
        assert_eq!(i.prefix.as_deref(), Some("ci"));
        assert_eq!(i.command_index, Some(2));
        assert_eq!(c("--loglevel silly ci").action, Action::Ci);
        assert_eq!(
            c("-w packages/a install x").action,
            Action::Install {
                packages: vec!["x".into()]
            }
        );
        // An option we do not know still cannot hide the command (fail closed).
        assert_eq!(c("--some-new-option value ci").action, Action::Ci);
        assert_eq!(
            c("--tag beta install").action,
            Action::Install { packages: vec![] }
        );
        assert_eq!(c("--prefix=/p ci").prefix.as_deref(), Some("/p"));
    }

    #[test]
    fn flags() {
        assert!(c("install -g typescript").global);
        assert!(c("i --location=global x").global);
        assert!(c("ci --omit=dev").omit_dev);
        assert!(c("ci --omit dev").omit_dev);
        assert!(c("ci --production").omit_dev);
        assert!(!c("ci").omit_optional);
        assert!(c("ci --omit=optional").omit_optional);
        // After `--` everything is positional.
        assert_eq!(c("run x -- --prefix y").prefix, None);
    }
}
