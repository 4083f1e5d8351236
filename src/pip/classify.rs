//! Classification of a pip command line (everything after the program name): install-like
//! commands (`install`, `download`, `wheel`) that lockgate guards, parsed into what lockgate
//! needs, versus everything else, which is handed to the real pip unchanged.
//!
//! The option tables are pip 23.2's (`pip._internal.cli.cmdoptions`), and the parsing mirrors
//! pip's: general options before the command are parsed without interspersed arguments, the
//! first positional argument names the command, and the command's parser then sees all
//! arguments except that name (so general options may also follow the command).

pub use super::options::OptError;
use super::options::{self, Item, OptSpec};

/// What lockgate does with a pip invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Not install-like (or help/version output): run the real pip unchanged.
    PassThrough,
    Install(Box<InstallArgs>),
}

/// The install-like pip commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Install,
    Download,
    Wheel,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Install => "install",
            Command::Download => "download",
            Command::Wheel => "wheel",
        }
    }

    fn from_name(name: &str) -> Option<Command> {
        [Command::Install, Command::Download, Command::Wheel]
            .into_iter()
            .find(|c| c.as_str() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Command::Install => INSTALL,
            Command::Download => DOWNLOAD,
            Command::Wheel => WHEEL,
        }
    }
}

/// Index options given on the command line. lockgate removes them all (it chooses the
/// sources itself) and reports what it removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// `-i/--index-url/--pypi-url` (pip keeps the last one).
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub no_index: bool,
    /// `-f/--find-links`
    pub find_links: Vec<String>,
    pub trusted_hosts: Vec<String>,
    /// `--proxy` (the last one; also in `args`): the real pip gets the gate as its proxy instead.
    pub proxy: Option<String>,
}

/// An install-like command line taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallArgs {
    pub command: Command,
    /// `-r/--requirement` files, in order (may be `pylock.toml` files).
    pub requirement_files: Vec<String>,
    /// `-c/--constraint` files.
    pub constraint_files: Vec<String>,
    /// Positional requirement specifiers (`requests==2.31.0`, `./pkg`, URLs).
    pub specifiers: Vec<String>,
    /// `-e/--editable` arguments.
    pub editables: Vec<String>,
    /// Removed index options.
    pub index: IndexOptions,
    /// The user's own values of the options lockgate sets itself.
    pub require_hashes: bool,
    pub only_binary: Vec<String>,
    pub no_binary: Vec<String>,
    pub prefer_binary: bool,
    /// `--python`: pip re-runs itself under that interpreter, so markers and tags must be
    /// asked from it.
    pub python: Option<String>,
    /// `--platform`, `--python-version`, `--implementation` or `--abi` was given: pip picks
    /// files for another interpreter than the one it runs on.
    pub cross_target: bool,
    /// Every other option, in order, spelled `--long-name[=value]` (abbreviations and
    /// clusters resolved), to hand on to pip. Includes general options and `--python`.
    pub args: Vec<String>,
}

/// A command line pip itself would reject, or one with an option lockgate does not know (a
/// newer pip may have added it): lockgate refuses rather than guess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{command}: {source}")]
pub struct ArgsError {
    /// `pip` or `pip install` etc.
    pub command: String,
    pub source: OptError,
}

/// Decides what `pip ARGS…` would do. `args` excludes the program name.
pub fn classify(args: &[String]) -> Result<Invocation, ArgsError> {
    let general: Vec<&OptSpec<Kind>> = GENERAL.iter().collect();
    let top = options::parse(args, &general, false);
    if top
        .items
        .iter()
        .any(|item| is_kind(item, Kind::Help) || is_kind(item, Kind::Version))
    {
        return Ok(Invocation::PassThrough);
    }
    if let Some(source) = top.error {
        // pip would stop with a usage error; only refuse when an install may be intended.
        return if args.iter().any(|a| Command::from_name(a).is_some()) {
            Err(ArgsError {
                command: "pip".into(),
                source,
            })
        } else {
            Ok(Invocation::PassThrough)
        };
    }
    let Some(command) = top.rest.first().and_then(|name| Command::from_name(name)) else {
        return Ok(Invocation::PassThrough);
    };

    // pip: `cmd_args = args[:]; cmd_args.remove(cmd_name)` — the first occurrence.
    let mut command_args = args.to_vec();
    if let Some(at) = command_args.iter().position(|a| a == command.as_str()) {
        command_args.remove(at);
    }
    let table: Vec<&OptSpec<Kind>> = GENERAL
        .iter()
        .chain(
            COMMAND
                .iter()
                .filter(|(commands, _)| commands & command.bit() != 0)
                .map(|(_, spec)| spec),
        )
        .collect();
    let parsed = options::parse(&command_args, &table, true);
    if parsed.items.iter().any(|item| is_kind(item, Kind::Help)) {
        return Ok(Invocation::PassThrough);
    }
    if let Some(source) = parsed.error {
        return Err(ArgsError {
            command: format!("pip {}", command.as_str()),
            source,
        });
    }

    let mut out = InstallArgs {
        command,
        requirement_files: Vec::new(),
        constraint_files: Vec::new(),
        specifiers: Vec::new(),
        editables: Vec::new(),
        index: IndexOptions::default(),
        require_hashes: false,
        only_binary: Vec::new(),
        no_binary: Vec::new(),
        prefer_binary: false,
        python: None,
        cross_target: false,
        args: Vec::new(),
    };
    for item in parsed.items {
        let (spec, value) = match item {
            Item::Positional(spec) => {
                out.specifiers.push(spec);
                continue;
            }
            Item::Opt { spec, value } => (spec, value),
        };
        let passed_on = spec.canonical(value.as_deref());
        let value = value.unwrap_or_default();
        match spec.kind {
            Kind::Requirement => out.requirement_files.push(value),
            Kind::Constraint => out.constraint_files.push(value),
            Kind::Editable => out.editables.push(value),
            Kind::IndexUrl => out.index.index_url = Some(value),
            Kind::ExtraIndexUrl => out.index.extra_index_urls.push(value),
            Kind::NoIndex => out.index.no_index = true,
            Kind::FindLinks => out.index.find_links.push(value),
            Kind::TrustedHost => out.index.trusted_hosts.push(value),
            // Kept in `args` too: lockgate's own downloads go through the user's proxy; the real
            // pip gets the gate instead (the hand-off filters it out).
            Kind::Proxy => {
                out.index.proxy = Some(value);
                out.args.push(passed_on);
            }
            Kind::RequireHashes => out.require_hashes = true,
            Kind::OnlyBinary => out.only_binary.push(value),
            Kind::NoBinary => out.no_binary.push(value),
            Kind::PreferBinary => out.prefer_binary = true,
            Kind::Python => {
                out.python = Some(value);
                out.args.push(passed_on);
            }
            Kind::CrossTarget => {
                out.cross_target = true;
                out.args.push(passed_on);
            }
            // `--version` after the command is accepted and ignored by pip.
            Kind::Version | Kind::Help | Kind::Other => out.args.push(passed_on),
        }
    }
    Ok(Invocation::Install(Box::new(out)))
}

fn is_kind(item: &Item<'_, Kind>, kind: Kind) -> bool {
    matches!(item, Item::Opt { spec, .. } if spec.kind == kind)
}

/// What lockgate does with an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Help,
    Version,
    Python,
    Requirement,
    Constraint,
    Editable,
    IndexUrl,
    ExtraIndexUrl,
    NoIndex,
    FindLinks,
    TrustedHost,
    Proxy,
    RequireHashes,
    OnlyBinary,
    NoBinary,
    PreferBinary,
    CrossTarget,
    Other,
}

const fn opt(
    longs: &'static [&'static str],
    short: Option<char>,
    takes_value: bool,
    kind: Kind,
) -> OptSpec<Kind> {
    OptSpec {
        longs,
        short,
        takes_value,
        kind,
    }
}

const fn flag(longs: &'static [&'static str]) -> OptSpec<Kind> {
    opt(longs, None, false, Kind::Other)
}

const fn valued(longs: &'static [&'static str]) -> OptSpec<Kind> {
    opt(longs, None, true, Kind::Other)
}

/// pip's general options (accepted before and after the command).
const GENERAL: &[OptSpec<Kind>] = &[
    opt(&["help"], Some('h'), false, Kind::Help),
    flag(&["debug"]),
    flag(&["isolated"]),
    flag(&["require-virtualenv", "require-venv"]),
    opt(&["python"], None, true, Kind::Python),
    opt(&["verbose"], Some('v'), false, Kind::Other),
    opt(&["version"], Some('V'), false, Kind::Version),
    opt(&["quiet"], Some('q'), false, Kind::Other),
    valued(&["log", "log-file", "local-log"]),
    flag(&["no-input"]),
    valued(&["keyring-provider"]),
    opt(&["proxy"], None, true, Kind::Proxy),
    valued(&["retries"]),
    valued(&["timeout", "default-timeout"]),
    valued(&["exists-action"]),
    opt(&["trusted-host"], None, true, Kind::TrustedHost),
    valued(&["cert"]),
    valued(&["client-cert"]),
    valued(&["cache-dir"]),
    flag(&["no-cache-dir"]),
    flag(&["disable-pip-version-check"]),
    flag(&["no-color"]),
    flag(&["no-python-version-warning"]),
    valued(&["use-feature"]),
    valued(&["use-deprecated"]),
];

const INSTALL: u8 = 1;
const DOWNLOAD: u8 = 2;
const WHEEL: u8 = 4;
const ALL: u8 = INSTALL | DOWNLOAD | WHEEL;

/// Command options of `install`, `download` and `wheel`, with the commands that have them.
const COMMAND: &[(u8, OptSpec<Kind>)] = &[
    (
        ALL,
        opt(&["requirement"], Some('r'), true, Kind::Requirement),
    ),
    (ALL, opt(&["constraint"], Some('c'), true, Kind::Constraint)),
    (ALL, flag(&["no-deps", "no-dependencies"])),
    (ALL, flag(&["pre"])),
    (
        INSTALL | WHEEL,
        opt(&["editable"], Some('e'), true, Kind::Editable),
    ),
    (INSTALL, flag(&["dry-run"])),
    (INSTALL, opt(&["target"], Some('t'), true, Kind::Other)),
    (
        INSTALL | DOWNLOAD,
        opt(&["platform"], None, true, Kind::CrossTarget),
    ),
    (
        INSTALL | DOWNLOAD,
        opt(&["python-version"], None, true, Kind::CrossTarget),
    ),
    (
        INSTALL | DOWNLOAD,
        opt(&["implementation"], None, true, Kind::CrossTarget),
    ),
    (
        INSTALL | DOWNLOAD,
        opt(&["abi"], None, true, Kind::CrossTarget),
    ),
    (INSTALL, flag(&["user"])),
    (INSTALL, flag(&["no-user"])),
    (INSTALL, valued(&["root"])),
    (INSTALL, valued(&["prefix"])),
    (
        ALL,
        valued(&["src", "source", "source-dir", "source-directory"]),
    ),
    (INSTALL, opt(&["upgrade"], Some('U'), false, Kind::Other)),
    (INSTALL, valued(&["upgrade-strategy"])),
    (INSTALL, flag(&["force-reinstall"])),
    (
        INSTALL,
        opt(&["ignore-installed"], Some('I'), false, Kind::Other),
    ),
    (ALL, flag(&["ignore-requires-python"])),
    (ALL, flag(&["no-build-isolation"])),
    (ALL, flag(&["use-pep517"])),
    (ALL, flag(&["no-use-pep517"])),
    (ALL, flag(&["check-build-dependencies"])),
    (INSTALL, flag(&["break-system-packages"])),
    (
        INSTALL | WHEEL,
        opt(&["config-settings"], Some('C'), true, Kind::Other),
    ),
    (ALL, valued(&["global-option"])),
    (INSTALL, flag(&["compile"])),
    (INSTALL, flag(&["no-compile"])),
    (INSTALL, flag(&["no-warn-script-location"])),
    (INSTALL, flag(&["no-warn-conflicts"])),
    (ALL, opt(&["no-binary"], None, true, Kind::NoBinary)),
    (ALL, opt(&["only-binary"], None, true, Kind::OnlyBinary)),
    (
        ALL,
        opt(&["prefer-binary"], None, false, Kind::PreferBinary),
    ),
    (
        ALL,
        opt(&["require-hashes"], None, false, Kind::RequireHashes),
    ),
    (ALL, valued(&["progress-bar"])),
    (INSTALL, valued(&["root-user-action"])),
    (INSTALL, valued(&["report"])),
    (ALL, flag(&["no-clean"])),
    (
        ALL,
        opt(&["index-url", "pypi-url"], Some('i'), true, Kind::IndexUrl),
    ),
    (
        ALL,
        opt(&["extra-index-url"], None, true, Kind::ExtraIndexUrl),
    ),
    (ALL, opt(&["no-index"], None, false, Kind::NoIndex)),
    (ALL, opt(&["find-links"], Some('f'), true, Kind::FindLinks)),
    (
        DOWNLOAD,
        opt(
            &["dest", "destination-dir", "destination-directory"],
            Some('d'),
            true,
            Kind::Other,
        ),
    ),
    (WHEEL, opt(&["wheel-dir"], Some('w'), true, Kind::Other)),
    (WHEEL, flag(&["no-verify"])),
    (WHEEL, valued(&["build-option"])),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Result<Invocation, ArgsError> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        classify(&args)
    }

    fn install(line: &str) -> InstallArgs {
        match run(line) {
            Ok(Invocation::Install(args)) => *args,
            other => panic!("{line}: expected install-like, got {other:?}"),
        }
    }

    #[test]
    fn pass_through_commands() {
        for line in [
            "",
            "--version",
            "-V",
            "-q --version install x",
            "list",
            "list --outdated",
            "show requests",
            "freeze",
            "uninstall -y requests",
            "config list",
            "cache purge",
            "help",
            "help install",
            "--help",
            "install --help",
            "download -h",
            "check",
            "hash x.whl",
            "inspect",
            "index versions requests",
            "--bogus list",
            "instal requests",
        ] {
            assert_eq!(run(line), Ok(Invocation::PassThrough), "{line:?}");
        }
    }

    #[test]
    fn plain_install_from_requirements() {
        let args = install("install -r requirements.txt");
        assert_eq!(args.command, Command::Install);
        assert_eq!(args.requirement_files, ["requirements.txt"]);
        assert!(
            args.specifiers.is_empty()
                && args.args.is_empty()
                && args.index == IndexOptions::default()
        );
    }

    #[test]
    fn general_options_before_the_command() {
        let args = install("-q --isolated install x");
        assert_eq!(args.specifiers, ["x"]);
        assert_eq!(args.args, ["--quiet", "--isolated"]);

        // The user's proxy is noted (lockgate makes the gate pip's proxy, and reports it).
        let args = install("--proxy http://proxy:3128 install x");
        assert_eq!(args.args, ["--proxy=http://proxy:3128"]);
        assert_eq!(args.index.proxy.as_deref(), Some("http://proxy:3128"));
        assert_eq!(args.specifiers, ["x"]);

        // The cache dir is literally named "install": pip removes the first "install" and
        // re-parses, which gives the same result here.
        let args = install("--cache-dir install install x");
        assert_eq!(args.args, ["--cache-dir=install"]);
        assert_eq!(args.specifiers, ["x"]);

        // pip's own docstring example.
        let args = install("--timeout=5 install --user INITools");
        assert_eq!(args.args, ["--timeout=5", "--user"]);
        assert_eq!(args.specifiers, ["INITools"]);

        let args =
            install("--python /usr/bin/python3.12 --trusted-host pypi.org download -d out x");
        assert_eq!(args.command, Command::Download);
        assert_eq!(args.python.as_deref(), Some("/usr/bin/python3.12"));
        assert_eq!(args.index.trusted_hosts, ["pypi.org"]);
        assert_eq!(args.args, ["--python=/usr/bin/python3.12", "--dest=out"]);
    }

    #[test]
    fn requirement_and_constraint_spellings() {
        let args = install(
            "install -rfile1 --requirement=f2 --requirement f3 -r f4 -c c1 --constraint=c2 -qrf5",
        );
        assert_eq!(args.requirement_files, ["file1", "f2", "f3", "f4", "f5"]);
        assert_eq!(args.constraint_files, ["c1", "c2"]);
        assert_eq!(args.args, ["--quiet"]);
        // A value is taken even when it looks like an option.
        assert_eq!(install("install -r --help").requirement_files, ["--help"]);
    }

    #[test]
    fn index_options_are_separated_even_abbreviated() {
        let args = install(
            "install -i https://a/simple --extra-index-url https://pypi.org/simple --extra-ind=https://evil/ \
             --no-ind -f ./wheels --find-links=https://x/links --trusted-host evil --pypi-url https://b/simple x",
        );
        assert_eq!(args.index.index_url.as_deref(), Some("https://b/simple"));
        assert_eq!(
            args.index.extra_index_urls,
            ["https://pypi.org/simple", "https://evil/"]
        );
        assert!(args.index.no_index);
        assert_eq!(args.index.find_links, ["./wheels", "https://x/links"]);
        assert_eq!(args.index.trusted_hosts, ["evil"]);
        assert!(args.args.is_empty());
        assert_eq!(args.specifiers, ["x"]);
    }

    #[test]
    fn options_lockgate_sets_and_pass_through_options() {
        let args = install(
            "install --require-hashes --only-binary=:all: --no-binary pkg --prefer-binary \
             --target=/opt/t -U --no-deps --prefix /p -q -vv --user --pre -C k=v -e . -e git+https://h/r#egg=r y",
        );
        assert!(args.require_hashes && args.prefer_binary);
        assert_eq!(args.only_binary, [":all:"]);
        assert_eq!(args.no_binary, ["pkg"]);
        assert_eq!(args.editables, [".", "git+https://h/r#egg=r"]);
        assert_eq!(args.specifiers, ["y"]);
        assert_eq!(
            args.args,
            [
                "--target=/opt/t",
                "--upgrade",
                "--no-deps",
                "--prefix=/p",
                "--quiet",
                "--verbose",
                "--verbose",
                "--user",
                "--pre",
                "--config-settings=k=v",
            ]
        );
    }

    #[test]
    fn cross_target_and_per_command_options() {
        let args = install("download --platform manylinux2014_x86_64 --python-version 3.9 --only-binary=:all: -d d x");
        assert!(args.cross_target);
        assert!(!install("download -d d x").cross_target);
        assert_eq!(install("wheel -w out -r req.txt").args, ["--wheel-dir=out"]);
        // Options of another command are unknown, as in pip.
        assert_eq!(
            run("download -e .").unwrap_err().to_string(),
            "pip download: no such option: -e"
        );
        assert!(run("wheel --target x y").is_err());
    }

    #[test]
    fn refuses_what_pip_would_reject() {
        let err = run("install --no-dep x").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("pip install: ambiguous option: --no-dep"),
            "{err}"
        );
        assert!(matches!(
            run("install -r").unwrap_err().source,
            OptError::MissingValue(_)
        ));
        assert!(
            run("--bogus install x").is_err(),
            "unknown general option before an install"
        );
        assert!(run("install --bogus x").is_err());
        // A help option after an error is never reached.
        assert!(run("install --bogus --help").is_err());
    }
}
