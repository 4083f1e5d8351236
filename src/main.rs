//! lockgate: one binary that stands in front of npm, pip and mvn (see README.md).
//!
//! `main` is the only place that looks at argv[0]: invoked as `npm`, `npx`, `pip`, `pip3` or
//! `mvn` (a shim link) it behaves like `lockgate <tool> …`; invoked as anything else it parses the
//! `lockgate` CLI. `LOCKGATE_FORCE_ARG0` overrides argv[0] for tests.

mod check;
mod cli;
mod cooldown;
mod doctor;
mod error;
mod feed;
mod fetch;
mod finding;
mod gate;
mod handoff;
mod integrity;
mod maven;
mod npm;
mod online;
mod pip;
mod policy;
mod proxy;
mod report;
mod sandbox;
mod sarif;
mod store;
mod tool;
mod typoguard;
mod typosquat;

use std::ffi::OsString;
use std::path::Path;

use error::Result;
use tool::{SelfLocation, Tool};

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let forced = std::env::var_os("LOCKGATE_FORCE_ARG0").filter(|v| !v.is_empty());
    if forced.is_some() {
        // Children (the real tool, scripts) must not inherit the override.
        std::env::remove_var("LOCKGATE_FORCE_ARG0");
    }
    let arg0 = forced.or_else(|| argv.first().cloned()).unwrap_or_default();
    let name = Path::new(&arg0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("lockgate");
    let result = match Tool::from_name(name) {
        Some(tool) => {
            let me =
                SelfLocation::detect(argv.first().map(OsString::as_os_str).unwrap_or_default());
            dispatch(tool, argv.get(1..).unwrap_or_default(), &me)
        }
        None => cli::run(argv),
    };
    std::process::exit(match result {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.report());
            e.exit_code()
        }
    });
}

/// Run one wrapped tool (shim mode and `lockgate <tool> …` both end here).
pub fn dispatch(tool: Tool, args: &[OsString], me: &SelfLocation) -> Result<i32> {
    match tool {
        Tool::Npm | Tool::Npx => npm::run(tool, args, me),
        Tool::Pip | Tool::Pip3 => pip::run(tool, args, me),
        Tool::Mvn => maven::run(args, me),
    }
}
