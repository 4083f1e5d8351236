//! Which npm invocations install something (guarded), which pass straight through, and which
//! lockgate refuses — read the way npm reads them.
//!
//! The argv is parsed with npm's own option table and nopt's rules ([`super::nopt`]); the command
//! is npm's: the first positional, resolved by `cmd-list`'s `deref` (aliases, camelCase,
//! unique abbreviations). Every command of every supported npm version has a class in
//! [`class_of`]; pass-through is the explicit list of commands that never reify the tree or
//! fetch packages to run or install them. When the npm version is not known, the argv is read
//! with every table lockgate has and must mean the same under each, else it is refused. Pure: no
//! I/O.

use std::ffi::OsString;

use super::nopt::{self, Npm, Parsed};

/// What lockgate does with an npm invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the real npm unchanged.
    PassThrough,
    /// `npm ci`: install exactly the lockfile.
    Ci,
    /// `npm install [pkgs]`: with no packages and an in-sync lockfile this gets `ci` semantics.
    Install { packages: Vec<String> },
    /// `npm update [pkgs]`.
    Update { packages: Vec<String> },
    /// `uninstall`, `prune`, `dedupe`: npm rewrites the lockfile through the route-mode gate
    /// (`--package-lock-only`), then the new lockfile is installed exactly.
    Relock,
    /// `npm exec`, `npm init <initializer>`: npm runs with `--yes=false`, so only what is already
    /// installed runs and nothing is downloaded.
    NoInstall,
    /// Refused (20): npm would reify or run code outside the guarded path.
    Refuse { what: String, hint: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub action: Action,
    /// The command npm runs (canonical name), if any.
    pub command: Option<&'static str>,
    /// Index in argv of the command word (to swap `install` for `ci`).
    pub command_index: Option<usize>,
    /// Indexes in argv of the package arguments after the command.
    pub package_indexes: Vec<usize>,
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
    /// `--package-lock-only`: the user wants the lockfile, not an install.
    pub lock_only: bool,
    /// `--dry-run`: npm changes nothing.
    pub dry_run: bool,
    /// `npm exec`: whether `--package`/`-p` or `--call`/`-c` was given (then npm installs
    /// nothing without asking, and lockgate answers no), and the command word.
    pub exec: Option<ExecArgs>,
}

/// What `npm exec` / `npx` was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecArgs {
    pub package_or_call: bool,
    pub command: Option<String>,
}

impl Invocation {
    fn new(action: Action) -> Invocation {
        Invocation {
            action,
            command: None,
            command_index: None,
            package_indexes: Vec::new(),
            prefix: None,
            global: false,
            then_test: false,
            omit_dev: false,
            omit_optional: false,
            lock_only: false,
            dry_run: false,
            exec: None,
        }
    }

    fn refuse(what: impl Into<String>, hint: impl Into<String>) -> Invocation {
        Invocation::new(Action::Refuse {
            what: what.into(),
            hint: hint.into(),
        })
    }
}

/// What lockgate does with each npm command (canonical names, npm 10 and 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Ci,
    Install,
    InstallTest,
    CiTest,
    Update,
    Relock,
    Exec,
    Init,
    Audit,
    Cache,
    Pack,
    Rebuild,
    Refuse(&'static str, &'static str),
    PassThrough,
}

/// The class of every command npm 10 and 11 have; `None` for a command lockgate has not
/// classified (a unit test checks every generated table).
pub fn class_of(command: &str) -> Option<Class> {
    use Class::*;
    Some(match command {
        "ci" => Ci,
        "install" => Install,
        "install-test" => InstallTest,
        "install-ci-test" => CiTest,
        "update" => Update,
        "uninstall" | "prune" | "dedupe" => Relock,
        "exec" => Exec,
        "init" => Init,
        "audit" => Audit,
        "cache" => Cache,
        "pack" => Pack,
        "rebuild" => Rebuild,
        "link" => Refuse(
            "`npm link` installs the linked package and its dependencies outside the lockfile, with their install scripts",
            "use npm workspaces, or `npm install <path>` through lockgate (guarded)",
        ),
        "edit" => Refuse(
            "`npm edit` rebuilds the package afterwards, which runs its install scripts",
            "edit the files in node_modules directly; to run a package's install script, add it to [npm.scripts] allow and run `npm ci`",
        ),
        "diff" => Refuse(
            "`npm diff` downloads packages outside lockgate (a git spec is even built, running its scripts)",
            "compare versions with `npm view`, or run the real npm ($LOCKGATE_REAL_NPM) knowingly",
        ),
        // Never reify, never fetch a package to run or install it: registry, config and
        // information commands, and the project's own scripts (which the user runs knowingly).
        "access" | "adduser" | "approve-scripts" | "bugs" | "completion" | "config"
        | "deny-scripts" | "deprecate" | "dist-tag" | "docs" | "doctor" | "explain" | "explore"
        | "find-dupes" | "fund" | "get" | "help" | "help-search" | "hook" | "install-scripts"
        | "ll" | "login" | "logout" | "ls" | "org" | "outdated" | "owner" | "ping" | "pkg"
        | "prefix" | "profile" | "publish" | "query" | "repo" | "restart" | "root" | "run"
        | "run-script" | "sbom" | "search" | "set" | "shrinkwrap" | "stage" | "star" | "stars"
        | "start" | "stop" | "team" | "test" | "token" | "trust" | "undeprecate" | "unpublish"
        | "unstar" | "version" | "view" | "whoami" => PassThrough,
        _ => return None,
    })
}

/// Classify npm's argv (without the program name) as npm `version` reads it (every known npm
/// version when `None`).
pub fn classify(args: &[OsString], version: Option<&str>) -> Invocation {
    let mut text = Vec::with_capacity(args.len());
    for a in args {
        match a.to_str() {
            Some(s) => text.push(s.to_string()),
            None => {
                return Invocation::refuse(
                    format!("the npm argument {a:?} is not valid UTF-8"),
                    "pass the argument in UTF-8",
                )
            }
        }
    }
    let tables: Vec<&'static Npm> = match version.and_then(nopt::for_version) {
        Some(t) => vec![t],
        None => nopt::all(),
    };
    let mut readings = tables.iter().map(|t| classify_with(t, &text));
    let first = readings.next().expect("at least one generated table");
    // The same meaning: npm 10 calls `run` `run-script`.
    let meaning = |i: &Invocation| Invocation {
        command: None,
        ..i.clone()
    };
    for other in readings {
        if meaning(&other) != meaning(&first) {
            return Invocation::refuse(
                format!(
                    "npm versions read these arguments differently ({:?} vs {:?}) and the real npm's version is not known",
                    first.action, other.action
                ),
                "set LOCKGATE_REAL_NPM to an npm 10 or 11, or write the arguments so that they are unambiguous (`--opt=value`)",
            );
        }
    }
    first
}

/// Classify with one npm version's table.
pub fn classify_with(npm: &Npm, args: &[String]) -> Invocation {
    let parsed = match npm.parse(args) {
        Ok(p) => p,
        Err(nopt::Uncertain(name)) => {
            return Invocation::refuse(
                format!("npm's parser would look `{name}` up on a JavaScript object prototype; lockgate cannot tell what npm does with it"),
                "remove that argument",
            )
        }
    };
    let mut inv = Invocation::new(Action::PassThrough);
    read_flags(&parsed, &mut inv);
    // `npm -v`, `npm --versions`, `npm <cmd> --help`: npm prints and runs nothing.
    if parsed.flag("version") == Some(true)
        || parsed.flag("versions") == Some(true)
        || parsed.flag("usage") == Some(true)
    {
        return inv;
    }
    let Some(word) = parsed.remain.first() else {
        return inv;
    };
    let command = match npm.deref(&word.text) {
        Ok(Some(c)) => c,
        // npm stops with "Unknown command": nothing runs.
        Ok(None) => return inv,
        Err(nopt::Uncertain(name)) => {
            return Invocation::refuse(
                format!("npm would look the command `{name}` up on a JavaScript object prototype"),
                "use a real npm command",
            )
        }
    };
    let Some(class) = class_of(command) else {
        return Invocation::refuse(
            format!(
                "`npm {command}` (npm {}) is a command lockgate has not classified",
                npm.table.version
            ),
            "update lockgate, or run the real npm ($LOCKGATE_REAL_NPM) knowingly",
        );
    };
    inv.command = Some(command);
    inv.command_index = Some(word.arg);
    let rest = &parsed.remain[1..];
    let rest_text: Vec<String> = rest.iter().map(|w| w.text.clone()).collect();
    let needs_rebuild = matches!(
        class,
        Class::Ci
            | Class::Install
            | Class::InstallTest
            | Class::CiTest
            | Class::Update
            | Class::Relock
            | Class::Exec
            | Class::Init
    );
    if needs_rebuild && (!word.whole || rest.iter().any(|w| !w.whole)) {
        return Invocation::refuse(
            format!(
                "npm reads `{}` as a word of the command line although it is part of an option (`--flag=word` on a flag that takes no value)",
                parsed.remain.iter().find(|w| !w.whole).map_or(word.text.as_str(), |w| w.text.as_str())
            ),
            "write the command and its arguments as separate words, and boolean options as `--flag` or `--flag=false`",
        );
    }
    inv.package_indexes = rest.iter().map(|w| w.arg).collect();
    let workspace_flags =
        parsed.all("workspace").next().is_some() || parsed.flag("workspaces") == Some(true);
    inv.action = match class {
        Class::Ci => Action::Ci,
        Class::Install => Action::Install {
            packages: rest_text,
        },
        Class::InstallTest => {
            inv.then_test = true;
            Action::Install {
                packages: rest_text,
            }
        }
        Class::CiTest => {
            inv.then_test = true;
            Action::Ci
        }
        Class::Update => Action::Update {
            packages: rest_text,
        },
        Class::Relock => Action::Relock,
        Class::Exec => {
            inv.exec = Some(ExecArgs {
                package_or_call: parsed.all("package").next().is_some()
                    || parsed.all("call").next().is_some(),
                command: rest_text.first().cloned(),
            });
            Action::NoInstall
        }
        // `npm init` alone writes package.json; with -w it also reifies the new workspaces;
        // `npm init <initializer>` is `npm exec create-<initializer>`.
        Class::Init if rest.is_empty() && !workspace_flags => Action::PassThrough,
        Class::Init if rest.is_empty() => {
            return Invocation::refuse(
                "`npm init -w <dir>` installs the new workspace's dependencies (reify) outside the lockfile",
                "create the workspace's package.json with `npm init` in its folder, then run `npm install` through lockgate",
            )
        }
        Class::Init => Action::NoInstall,
        Class::Audit if rest_text.first().is_some_and(|w| w == "fix") => {
            return Invocation::refuse(
                "`npm audit fix` installs new versions outside the guarded path",
                "run `npm audit` to see the fixes, then `npm install <pkg>@<fixed version>` through lockgate",
            )
        }
        Class::Cache if rest_text.first().is_some_and(|w| w == "add") => {
            return Invocation::refuse(
                "`npm cache add` downloads packages outside lockgate",
                "`npm ci`/`npm install` through lockgate fetch and verify what the project needs",
            )
        }
        Class::Pack
            if !rest_text.iter().all(|s| {
                s.starts_with('.') || s.starts_with('/') || s.starts_with("file:")
            }) =>
        {
            return Invocation::refuse(
                "`npm pack <package>` downloads a package outside lockgate (a git spec is even built, running its scripts)",
                "pack local folders only (`npm pack`, `npm pack ./dir`)",
            )
        }
        Class::Rebuild if parsed.flag("ignore-scripts") == Some(true) => Action::PassThrough,
        Class::Rebuild => {
            return Invocation::refuse(
                "`npm rebuild` runs the install scripts lockgate blocked",
                "add the package to [npm.scripts] allow (\"name@version\") and run `npm ci` through lockgate: it rebuilds exactly the approved packages",
            )
        }
        Class::Refuse(what, hint) => return Invocation::refuse(what, hint),
        Class::Audit | Class::Cache | Class::Pack | Class::PassThrough => Action::PassThrough,
    };
    inv
}

fn read_flags(p: &Parsed, inv: &mut Invocation) {
    inv.prefix = p
        .last("prefix")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    inv.global = p.flag("global") == Some(true)
        || p.last("location").and_then(|v| v.as_str()) == Some("global");
    let omit: Vec<&str> = p.all("omit").filter_map(|v| v.as_str()).collect();
    inv.omit_dev = omit.contains(&"dev")
        || p.flag("production") == Some(true)
        || matches!(
            p.last("only").and_then(|v| v.as_str()),
            Some("prod" | "production")
        );
    inv.omit_optional = omit.contains(&"optional") || p.flag("optional") == Some(false);
    inv.lock_only = p.flag("package-lock-only") == Some(true);
    inv.dry_run = p.flag("dry-run") == Some(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(line: &str) -> Invocation {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        classify(&args, None)
    }

    fn refused(line: &str) -> bool {
        matches!(c(line).action, Action::Refuse { .. })
    }

    #[test]
    fn every_command_of_every_table_is_classified() {
        for t in nopt::all() {
            for cmd in t.table.commands {
                assert!(
                    class_of(cmd).is_some(),
                    "npm {} has `{cmd}`, which lockgate has not classified",
                    t.table.version
                );
            }
        }
    }

    #[test]
    fn install_like() {
        assert_eq!(c("ci").action, Action::Ci);
        assert_eq!(c("clean-install").action, Action::Ci);
        assert_eq!(c("install-cl").action, Action::Ci);
        assert_eq!(c("installClean").action, Action::Ci);
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
        assert!(c("installCiTest").then_test);
        for l in ["uninstall foo", "rm foo", "prune", "dedupe", "ddp"] {
            assert_eq!(c(l).action, Action::Relock, "{l}");
        }
        for l in ["exec cowsay", "x cowsay", "init react-app x", "create vite"] {
            assert_eq!(c(l).action, Action::NoInstall, "{l}");
        }
    }

    #[test]
    fn pass_through() {
        for l in [
            "run build",
            "run install",
            "test",
            "--version",
            "-v",
            "ci --help",
            "ls",
            "publish",
            "view react",
            "",
            "config get registry",
            "help install",
            "rebuild --ignore-scripts",
            "audit",
            "init",
            "pack",
            "pack ./sub",
            "cache ls",
            "not-a-command install",
        ] {
            assert_eq!(c(l).action, Action::PassThrough, "{l}");
        }
    }

    #[test]
    fn refused_commands() {
        for l in [
            "link",
            "ln ../x",
            "audit fix",
            "rebuild",
            "rb esbuild",
            "edit x",
            "diff",
            "cache add x",
            "pack lodash",
            "init -w packages/a",
            "--dry-run=install ci",
        ] {
            assert!(refused(l), "{l}");
        }
    }

    #[test]
    fn options_are_read_as_npm_reads_them() {
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
        // A known value option swallows `ls`: npm runs install, and so do we.
        assert_eq!(
            c("--cache ls install").action,
            Action::Install { packages: vec![] }
        );
        // An unknown option is a boolean to nopt: `ls` is the command.
        assert_eq!(
            c("--some-new-option ls install").action,
            Action::PassThrough
        );
        assert_eq!(c("--some-new-option value ci").action, Action::PassThrough);
        assert_eq!(
            c("--tag beta install").action,
            Action::Install { packages: vec![] }
        );
        assert_eq!(c("--prefix=/p ci").prefix.as_deref(), Some("/p"));
        // After `--` everything is positional, even the command.
        assert_eq!(
            c("-- install x").action,
            Action::Install {
                packages: vec!["x".into()]
            }
        );
        assert_eq!(c("run x -- --prefix y").prefix, None);
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
        assert!(c("install x --package-lock-only").lock_only);
        assert!(c("i --dry-run x").dry_run);
        assert!(!c("i --dry-run=false x").dry_run);
    }
}
