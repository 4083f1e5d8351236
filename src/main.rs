//! lockgate: one binary that stands in front of npm, pip and mvn (see README.md).
//!
//! `main` is the only place that looks at argv[0]: invoked as `npm`, `npx`, `pip`, `pip3` or
//! `mvn` it behaves like `lockgate <tool> …`; invoked as `lockgate` it parses the clap CLI.

#[allow(dead_code)]
mod typosquat;

fn main() {}
