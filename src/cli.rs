//! The `lockgate` command line (when not invoked under a tool's name).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::check;
use crate::error::Result;
use crate::tool::{SelfLocation, Tool};

#[derive(Parser)]
#[command(
    name = "lockgate",
    version,
    about = "Guards npm, pip and mvn installs: lockfile-exact, internal names pinned to the internal registry, every artifact verified before the real tool starts, no install scripts.",
    after_help = "Install the shims (./install.sh) to guard `npm`, `pip` and `mvn` as typed. Exit codes: 20 policy, 21 lockfile, 22 confusion, 23 integrity, 24 typosquat, 25 auth, 26 insecure source, 27 unavailable, 29 known malicious; otherwise the real tool's code."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run npm guarded (`lockgate npm ci`, `lockgate npm install foo`, …).
    #[command(disable_help_flag = true)]
    Npm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run npx (passed through, with a notice).
    #[command(disable_help_flag = true)]
    Npx {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run pip guarded (`lockgate pip install -r requirements.txt`).
    #[command(disable_help_flag = true)]
    Pip {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run pip3 guarded.
    #[command(disable_help_flag = true)]
    Pip3 {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run mvn guarded.
    #[command(disable_help_flag = true)]
    Mvn {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run the project's Maven wrapper guarded: its distribution verified (https, a permitted
    /// host, a sha256) and unpacked by lockgate, then a guarded build (`lockgate mvnw package`).
    #[command(disable_help_flag = true)]
    Mvnw {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Create or refresh a lock by resolving through the gate (`lockgate lock mvn [GOALS…]`;
    /// default goal `package`).
    Lock {
        /// The tool whose lock to write: `mvn`, or `mvnw` (the project's wrapper Maven).
        #[arg(value_parser = ["mvn", "mvnw"])]
        tool: String,
        /// Goals and options for the real tool.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Audit the project's lockfiles against the policy without installing anything.
    Check {
        /// Project directory (default: the current directory).
        dir: Option<PathBuf>,
        /// Output format on stdout: text for people, JSON for scripts, SARIF 2.1.0 for code scanning.
        #[arg(long, value_enum, default_value = "text")]
        format: check::Format,
        /// Also ask the public registries ([npm] registry, [pip] index-url) whether each internal
        /// name exists there: held by someone else → error 22; unscoped and free → claimable.
        #[arg(long)]
        public: bool,
        /// Do not look the locked files up on their permitted indexes (the install's own
        /// lookup: confusion 22, integrity 23, not found 27); audit the lockfiles only.
        #[arg(long)]
        offline: bool,
        /// Also ask the registries when each locked version was published: versions younger than
        /// `[cooldown] min-age`, and direct dependencies first published less than
        /// `new-package-age` ago, are errors (28).
        #[arg(long)]
        cooldown: bool,
    },
    /// The offline malicious-package feed (OSV `MAL-` records for npm, PyPI and Maven).
    Feed {
        #[command(subcommand)]
        action: FeedAction,
    },
    /// Check this machine and project: shims first on PATH, real tools found, policy valid, and
    /// every internal source refusing anonymous readers while accepting lockgate's credentials.
    Doctor {
        /// Project directory (default: the current directory).
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FeedAction {
    /// Download `<url><Ecosystem>/all.zip` for npm, PyPI and Maven, verify, and replace the index.
    Update {
        /// Source instead of `[feed] url`: https://, file:// or a directory.
        #[arg(long)]
        url: Option<String>,
    },
    /// Say the feed's age, source and record counts.
    Status,
    /// Look versions up: `lockgate feed query npm debug@4.4.2 …` (PyPI: `name==1.0`, Maven:
    /// `group:artifact:1.0`). Prints each listed one; exit 29 when any is listed.
    Query {
        /// npm, PyPI or Maven.
        #[arg(value_parser = ["npm", "PyPI", "Maven"])]
        ecosystem: String,
        /// Package versions in the ecosystem's own spelling.
        #[arg(required = true)]
        packages: Vec<String>,
    },
}

/// Parse the CLI and run the command; `argv` includes the program name.
pub fn run(argv: Vec<OsString>) -> Result<i32> {
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let me = SelfLocation::detect(argv.first().map(OsString::as_os_str).unwrap_or_default());
    match cli.command {
        Command::Npm { args } => crate::dispatch(Tool::Npm, &args, &me),
        Command::Npx { args } => crate::dispatch(Tool::Npx, &args, &me),
        Command::Pip { args } => crate::dispatch(Tool::Pip, &args, &me),
        Command::Pip3 { args } => crate::dispatch(Tool::Pip3, &args, &me),
        Command::Mvn { args } => crate::dispatch(Tool::Mvn, &args, &me),
        Command::Mvnw { args } => crate::maven::mvnw(&args),
        Command::Lock { tool, args } if tool == "mvnw" => crate::maven::lock_mvnw(&args),
        Command::Lock { tool: _, args } => crate::maven::lock(&args, &me),
        Command::Check {
            dir,
            format,
            public,
            cooldown,
            offline,
        } => check::run(
            &dir.unwrap_or_else(|| PathBuf::from(".")),
            format,
            public,
            cooldown,
            offline,
        ),
        Command::Feed { action } => {
            let cwd =
                std::env::current_dir().map_err(|e| crate::error::Error::io("read", ".", e))?;
            match action {
                FeedAction::Update { url } => crate::feed::update::run(&cwd, url),
                FeedAction::Status => crate::feed::status(&crate::policy::load(&cwd)?.feed),
                FeedAction::Query {
                    ecosystem,
                    packages,
                } => crate::feed::query(&ecosystem, &packages),
            }
        }
        Command::Doctor { dir } => {
            crate::doctor::run(&dir.unwrap_or_else(|| PathBuf::from(".")), &me)
        }
    }
}
