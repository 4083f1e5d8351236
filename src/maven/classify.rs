//! Reads mvn's command line the way Maven 3.8 does (commons-cli `GnuParser`) and decides whether
//! the run may pass through untouched or must be guarded, and what the guarded run has to replace:
//! `-o`, `-s`, `-gs` and `-Dmaven.repo.local`.
//!
//! Only `-h`/`--help` and `-v`/`--version` pass through: Maven prints and exits before it loads
//! anything. Everything else is guarded, including runs without goals and `help:*` goals,
//! because on this machine (Maven 3.8.7, a logging HTTP mirror) each of these fetched from the
//! remote repositories before doing anything else:
//! - `mvn` with no goal in a project builds the project model first: it requested the parent POM;
//! - `mvn help:help` requested the default lifecycle plugins' POMs and jars and
//!   `org/apache/maven/plugins/maven-metadata.xml` (maven-help-plugin is not bundled);
//! - `mvn -ep`/`-emp` (encrypt a password) first loads the core extensions of
//!   `.mvn/extensions.xml`: it requested their POMs and jars — code that Maven runs.
//!
//! GnuParser rules followed here: `-x`, `--x` and `-long` are all accepted for short and long
//! names; `-Dk=v`, `-T4`, `-fpom.xml` split after two characters when that is an option;
//! `--file=x` and `-f=x` split at `=`; a value-taking option takes the next argument unless that
//! is itself an option; `--` makes the rest goals; the first `-s`/`-gs`/`-f` wins (Maven reads
//! the first value) and the last `-Dmaven.repo.local` wins (system properties are set in order).
//! Options this table does not know (say, newer Maven's) are an error rather than a guess.
//! `.mvn/maven.config` and `MAVEN_OPTS` may add options too; the caller reads those.

/// How a value-taking option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    Value,
    OptionalValue,
}

#[derive(Debug, PartialEq, Eq)]
struct Opt {
    short: &'static str,
    long: &'static str,
    takes: Takes,
}

const fn opt(short: &'static str, long: &'static str, takes: Takes) -> Opt {
    Opt { short, long, takes }
}

/// Maven 3.8.7's options (`mvn --help`; `--color` has no short name).
const OPTIONS: &[Opt] = &[
    opt("am", "also-make", Takes::Nothing),
    opt("amd", "also-make-dependents", Takes::Nothing),
    opt("B", "batch-mode", Takes::Nothing),
    opt("b", "builder", Takes::Value),
    opt("C", "strict-checksums", Takes::Nothing),
    opt("c", "lax-checksums", Takes::Nothing),
    opt("", "color", Takes::Value),
    opt("cpu", "check-plugin-updates", Takes::Nothing),
    opt("D", "define", Takes::Value),
    opt("e", "errors", Takes::Nothing),
    opt("emp", "encrypt-master-password", Takes::OptionalValue),
    opt("ep", "encrypt-password", Takes::OptionalValue),
    opt("f", "file", Takes::Value),
    opt("fae", "fail-at-end", Takes::Nothing),
    opt("ff", "fail-fast", Takes::Nothing),
    opt("fn", "fail-never", Takes::Nothing),
    opt("gs", "global-settings", Takes::Value),
    opt("gt", "global-toolchains", Takes::Value),
    opt("h", "help", Takes::Nothing),
    opt("l", "log-file", Takes::Value),
    opt("llr", "legacy-local-repository", Takes::Nothing),
    opt("N", "non-recursive", Takes::Nothing),
    opt("npr", "no-plugin-registry", Takes::Nothing),
    opt("npu", "no-plugin-updates", Takes::Nothing),
    opt("nsu", "no-snapshot-updates", Takes::Nothing),
    opt("ntp", "no-transfer-progress", Takes::Nothing),
    opt("o", "offline", Takes::Nothing),
    opt("P", "activate-profiles", Takes::Value),
    opt("pl", "projects", Takes::Value),
    opt("q", "quiet", Takes::Nothing),
    opt("rf", "resume-from", Takes::Value),
    opt("s", "settings", Takes::Value),
    opt("t", "toolchains", Takes::Value),
    opt("T", "threads", Takes::Value),
    opt("U", "update-snapshots", Takes::Nothing),
    opt("up", "update-plugins", Takes::Nothing),
    opt("v", "version", Takes::Nothing),
    opt("V", "show-version", Takes::Nothing),
    opt("X", "debug", Takes::Nothing),
];

/// commons-cli `Options.getOption`: short names first, then long names; hyphens stripped.
fn lookup(name: &str) -> Option<&'static Opt> {
    let name = name
        .strip_prefix("--")
        .or_else(|| name.strip_prefix('-'))
        .unwrap_or(name);
    (OPTIONS.iter().find(|o| o.short == name && !name.is_empty()))
        .or_else(|| OPTIONS.iter().find(|o| o.long == name))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exec the real mvn with the original arguments.
    PassThrough,
    /// Resolves artifacts: run through lockgate.
    Guarded,
}

/// What an mvn command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MvnArgs {
    pub mode: Mode,
    /// Goals and phases in order (`clean`, `package`, `dependency:tree`).
    pub goals: Vec<String>,
    /// `-o`/`--offline` was given.
    pub offline: bool,
    /// `-s`/`--settings`.
    pub settings: Option<String>,
    /// `-gs`/`--global-settings`.
    pub global_settings: Option<String>,
    /// `-f`/`--file` (a POM or a directory): where the project, and so the lock, is.
    pub file: Option<String>,
    /// `-Dmaven.repo.local=…`.
    pub repo_local: Option<String>,
    /// Every argument except those of `-o`, `-s`, `-gs` and `-Dmaven.repo.local`, unchanged and
    /// in order, for the guarded run to pass on.
    pub rest: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    #[error(
        "mvn option `{arg}` is unknown to lockgate (it knows Maven 3.8's options), so it cannot \
         tell what this run would resolve; drop the option or run the real mvn yourself"
    )]
    UnknownOption { arg: String },
    #[error("mvn option `{option}` needs a value")]
    MissingValue { option: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Opt(&'static Opt),
    /// A goal or an option's value.
    Text,
    /// Starts with `-` but is no option: only usable as a value.
    Unknown,
    /// After `--`: always a goal.
    Literal,
    DashDash,
}

struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Index of the argument it came from.
    source: usize,
}

/// commons-cli `GnuParser.flatten`.
fn flatten(args: &[String]) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut literal = false;
    for (source, arg) in args.iter().enumerate() {
        let mut push = |kind, text| tokens.push(Token { kind, text, source });
        if literal {
            push(Kind::Literal, arg);
        } else if arg == "--" {
            literal = true;
            push(Kind::DashDash, arg);
        } else if arg == "-" || !arg.starts_with('-') {
            push(Kind::Text, arg);
        } else if let Some(o) = lookup(arg) {
            push(Kind::Opt(o), arg);
        } else if let Some((o, name, value)) = arg
            .split_once('=')
            .and_then(|(name, value)| Some((lookup(name)?, name, value)))
        {
            push(Kind::Opt(o), name);
            push(Kind::Text, value);
        } else if let Some(o) = arg.get(..2).and_then(lookup) {
            push(Kind::Opt(o), &arg[..2]);
            push(Kind::Text, &arg[2..]);
        } else {
            push(Kind::Unknown, arg);
        }
    }
    tokens
}

/// Classifies mvn's arguments (without the program name).
pub fn classify(args: &[String]) -> Result<MvnArgs, ClassifyError> {
    let tokens = flatten(args);
    let mut result = MvnArgs {
        mode: Mode::Guarded,
        goals: Vec::new(),
        offline: false,
        settings: None,
        global_settings: None,
        file: None,
        repo_local: None,
        rest: Vec::new(),
    };
    let mut dropped = vec![false; tokens.len()];
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let o = match token.kind {
            Kind::Opt(o) => o,
            Kind::Text | Kind::Literal => {
                result.goals.push(token.text.to_string());
                i += 1;
                continue;
            }
            Kind::Unknown => {
                return Err(ClassifyError::UnknownOption {
                    arg: token.text.to_string(),
                })
            }
            Kind::DashDash => {
                i += 1;
                continue;
            }
        };
        let next_is_value = matches!(
            tokens.get(i + 1).map(|t| t.kind),
            Some(Kind::Text | Kind::Unknown)
        );
        let value = match o.takes {
            Takes::Nothing => None,
            Takes::Value | Takes::OptionalValue if next_is_value => Some(tokens[i + 1].text),
            Takes::OptionalValue => None,
            Takes::Value => {
                return Err(ClassifyError::MissingValue {
                    option: token.text.to_string(),
                })
            }
        };
        let replaced = match (o.long, value) {
            ("help" | "version", _) => {
                result.mode = Mode::PassThrough;
                false
            }
            ("offline", _) => {
                result.offline = true;
                true
            }
            ("settings", Some(v)) => {
                keep_first(&mut result.settings, v);
                true
            }
            ("global-settings", Some(v)) => {
                keep_first(&mut result.global_settings, v);
                true
            }
            ("file", Some(v)) => {
                keep_first(&mut result.file, v);
                false
            }
            ("define", Some(v)) => match v.split_once('=') {
                Some((name, path)) if name.trim() == "maven.repo.local" => {
                    result.repo_local = Some(path.to_string());
                    true
                }
                _ => false,
            },
            _ => false,
        };
        let width = 1 + usize::from(value.is_some());
        dropped[i..i + width].fill(replaced);
        i += width;
    }
    let tokens = &tokens;
    for (source, arg) in args.iter().enumerate() {
        let mine = || (0..tokens.len()).filter(move |&t| tokens[t].source == source);
        if mine().any(|t| dropped[t]) {
            // `-ofoo` is `-o` and goal `foo`: keep what was not replaced.
            let kept = mine().filter(|&t| !dropped[t]);
            result.rest.extend(kept.map(|t| tokens[t].text.to_string()));
        } else {
            result.rest.push(arg.clone());
        }
    }
    Ok(result)
}

/// Maven reads the first value of a repeated `-s`, `-gs` or `-f`.
fn keep_first(slot: &mut Option<String>, value: &str) {
    slot.get_or_insert_with(|| value.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> MvnArgs {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        classify(&args).unwrap()
    }

    fn err(line: &str) -> ClassifyError {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        classify(&args).unwrap_err()
    }

    #[test]
    fn option_table_matches_mvn_help_on_this_machine() {
        let help = include_str!("testdata/mvn-3.8.7-help.txt");
        let mut seen = 0;
        // Option lines start " -x," or "    --long"; wrapped descriptions are indented further.
        for line in help
            .lines()
            .filter(|l| l.starts_with(" -") || l.starts_with("    --"))
        {
            let spec = line.split_whitespace().next().unwrap();
            let takes_value = line.contains("<arg>");
            let (short, long) = match spec.split_once(',') {
                Some((short, long)) => (short.trim_start_matches('-'), long),
                None => ("", spec),
            };
            let long = long.trim_start_matches("--");
            let o = lookup(long).unwrap_or_else(|| panic!("--{long} is missing from OPTIONS"));
            assert_eq!(o.short, short, "--{long}");
            assert_eq!(o.takes != Takes::Nothing, takes_value, "--{long}");
            seen += 1;
        }
        assert_eq!(
            seen,
            OPTIONS.len(),
            "OPTIONS has entries `mvn --help` lacks"
        );
    }

    #[test]
    fn only_help_and_version_pass_through() {
        for line in [
            "-v",
            "--version",
            "-h",
            "--help",
            "-B -v",
            "clean -version",
            "-q --h",
        ] {
            assert_eq!(run(line).mode, Mode::PassThrough, "{line}");
        }
        for line in [
            "",
            "-B",
            "-V",
            "help:effective-pom",
            "help:help",
            "-ep secret",
            "-emp",
            "package",
            "clean install",
            "verify",
            "deploy",
            "dependency:tree",
            "org.apache.maven.plugins:maven-dependency-plugin:3.5.0:go-offline",
        ] {
            assert_eq!(run(line).mode, Mode::Guarded, "{line:?}");
        }
    }

    #[test]
    fn goals_are_told_apart_from_option_values() {
        let a =
            run("-B -P ci,fast -pl core -T 1C -rf :core -l build.log -t tc.xml -e clean verify");
        assert_eq!(a.goals, ["clean", "verify"]);
        let a = run("-Pci -T4 -fsub/pom.xml -Dskip=true package -Dx -U");
        assert_eq!(a.goals, ["package"]);
        assert_eq!(a.file.as_deref(), Some("sub/pom.xml"));
        let a = run("-ep secret");
        assert!(a.goals.is_empty());
        let a = run("-ep -B install");
        assert_eq!(a.goals, ["install"]);
        let a = run("--color always -b singlethreaded test");
        assert_eq!(a.goals, ["test"]);
        let a = run("-D -weird package");
        assert_eq!(a.goals, ["package"]);
    }

    #[test]
    fn spellings_of_offline_settings_and_repo_local() {
        for line in [
            "-o package",
            "--offline package",
            "-offline package",
            "--o package",
        ] {
            let a = run(line);
            assert!(a.offline, "{line}");
            assert_eq!(a.rest, ["package"], "{line}");
        }
        for line in [
            "-s my.xml",
            "-smy.xml",
            "-s=my.xml",
            "--settings my.xml",
            "--settings=my.xml",
            "-settings my.xml",
        ] {
            let a = run(line);
            assert_eq!(a.settings.as_deref(), Some("my.xml"), "{line}");
            assert!(a.rest.is_empty(), "{line}: {:?}", a.rest);
        }
        for line in ["-gs g.xml", "--global-settings=g.xml", "-gs=g.xml"] {
            assert_eq!(
                run(line).global_settings.as_deref(),
                Some("g.xml"),
                "{line}"
            );
        }
        for line in [
            "-Dmaven.repo.local=/r",
            "-D maven.repo.local=/r",
            "--define maven.repo.local=/r",
            "--define=maven.repo.local=/r",
            "-Dmaven.repo.local=/old -Dmaven.repo.local=/r",
        ] {
            let a = run(line);
            assert_eq!(a.repo_local.as_deref(), Some("/r"), "{line}");
            assert!(a.rest.is_empty(), "{line}: {:?}", a.rest);
        }
    }

    #[test]
    fn first_settings_wins_as_in_maven() {
        // Checked with mvn 3.8.7: "The specified user settings file does not exist: /nx1".
        let a = run("-s /nx1 -s /nx2 validate");
        assert_eq!(a.settings.as_deref(), Some("/nx1"));
        assert_eq!(a.rest, ["validate"]);
    }

    #[test]
    fn rest_keeps_everything_else_verbatim_and_in_order() {
        let a = run(
            "-B -s user.xml -Pci clean -o -Dmaven.repo.local=/tmp/r -Dx=1 -gs g.xml -T 2 install",
        );
        assert_eq!(
            a.rest,
            ["-B", "-Pci", "clean", "-Dx=1", "-T", "2", "install"]
        );
        assert_eq!(a.goals, ["clean", "install"]);
        // `-ofoo` is offline plus goal `foo` to commons-cli.
        let a = run("-ofoo");
        assert!(a.offline);
        assert_eq!(
            (a.goals, a.rest),
            (vec!["foo".to_string()], vec!["foo".to_string()])
        );
    }

    #[test]
    fn double_dash_makes_the_rest_goals() {
        let a = run("-B -- -o -s x");
        assert!(!a.offline);
        assert_eq!(a.settings, None);
        assert_eq!(a.goals, ["-o", "-s", "x"]);
        assert_eq!(a.rest, ["-B", "--", "-o", "-s", "x"]);
    }

    #[test]
    fn unknown_options_and_missing_values_are_errors() {
        assert_eq!(
            err("-x package"),
            ClassifyError::UnknownOption { arg: "-x".into() }
        );
        // Maven 3.9's --non-interactive is unknown to 3.8.
        assert!(matches!(
            err("--non-interactive package"),
            ClassifyError::UnknownOption { .. }
        ));
        assert_eq!(
            err("package -s"),
            ClassifyError::MissingValue {
                option: "-s".into()
            }
        );
        assert_eq!(
            err("-s -o package"),
            ClassifyError::MissingValue {
                option: "-s".into()
            }
        );
        assert!(err("-f").to_string().contains("needs a value"));
    }
}
