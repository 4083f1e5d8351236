//! The option syntax of Python's `optparse`, which pip uses both for its command line and for
//! option lines inside requirements files. Reproducing it exactly matters for security: pip
//! accepts unambiguous prefixes of long options (`--extra-ind URL` is `--extra-index-url URL`),
//! clustered short options (`-qUrreq.txt`), `--opt=value` and `--opt value`, and a value that
//! starts with `-`; lockgate must see every index option pip would see.

/// One option as pip declares it.
#[derive(Debug)]
pub(super) struct OptSpec<K> {
    /// Long spellings without the leading `--`; the first is the canonical one.
    pub longs: &'static [&'static str],
    pub short: Option<char>,
    pub takes_value: bool,
    pub kind: K,
}

impl<K> OptSpec<K> {
    /// `--name` or `--name=value`: an unambiguous spelling for handing on to pip.
    pub fn canonical(&self, value: Option<&str>) -> String {
        match value {
            Some(value) => format!("--{}={value}", self.longs[0]),
            None => format!("--{}", self.longs[0]),
        }
    }
}

/// One parsed element of an argument list.
#[derive(Debug)]
pub(super) enum Item<'t, K> {
    Opt {
        spec: &'t OptSpec<K>,
        value: Option<String>,
    },
    Positional(String),
}

/// Why optparse would reject an argument list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptError {
    #[error("no such option: {0}")]
    Unknown(String),
    #[error("ambiguous option: {option} (could be {candidates})")]
    Ambiguous { option: String, candidates: String },
    #[error("option {0} requires a value")]
    MissingValue(String),
    #[error("option {0} does not take a value")]
    UnexpectedValue(String),
}

/// Result of parsing: optparse processes options in order, so `items` holds everything before
/// the point where `error` (if any) stopped it — a `--help` there still wins.
#[derive(Debug)]
pub(super) struct Parsed<'t, K> {
    pub items: Vec<Item<'t, K>>,
    /// With `interspersed == false`: the arguments from the first positional one on.
    pub rest: Vec<String>,
    pub error: Option<OptError>,
}

/// Parses `args` against `table` like `OptionParser.parse_args`. With `interspersed` false,
/// parsing stops at the first positional argument (pip's top-level parser); `--` always ends
/// option processing.
pub(super) fn parse<'t, K>(
    args: &[String],
    table: &[&'t OptSpec<K>],
    interspersed: bool,
) -> Parsed<'t, K> {
    let mut parsed = Parsed {
        items: Vec::new(),
        rest: Vec::new(),
        error: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let step = if arg == "--" {
            let remaining = args[i..].iter().cloned();
            if interspersed {
                parsed.items.extend(remaining.map(Item::Positional));
            } else {
                parsed.rest.extend(remaining);
            }
            break;
        } else if arg.starts_with("--") {
            long_option(arg, args, &mut i, table, &mut parsed.items)
        } else if arg.starts_with('-') && arg.len() > 1 {
            short_options(arg, args, &mut i, table, &mut parsed.items)
        } else if interspersed {
            parsed.items.push(Item::Positional(arg.clone()));
            Ok(())
        } else {
            parsed.rest.extend(args[i - 1..].iter().cloned());
            break;
        };
        if let Err(error) = step {
            parsed.error = Some(error);
            break;
        }
    }
    parsed
}

fn long_option<'t, K>(
    arg: &str,
    args: &[String],
    next: &mut usize,
    table: &[&'t OptSpec<K>],
    items: &mut Vec<Item<'t, K>>,
) -> Result<(), OptError> {
    let (written, explicit) = match arg.split_once('=') {
        Some((option, value)) => (option, Some(value.to_string())),
        None => (arg, None),
    };
    let spec = match_abbrev(&written[2..], table)?;
    let value = match (spec.takes_value, explicit) {
        (true, Some(value)) => Some(value),
        (true, None) => Some(take_next(args, next, written)?),
        (false, Some(_)) => return Err(OptError::UnexpectedValue(spec.canonical(None))),
        (false, None) => None,
    };
    items.push(Item::Opt { spec, value });
    Ok(())
}

fn short_options<'t, K>(
    arg: &str,
    args: &[String],
    next: &mut usize,
    table: &[&'t OptSpec<K>],
    items: &mut Vec<Item<'t, K>>,
) -> Result<(), OptError> {
    for (at, c) in arg.char_indices().skip(1) {
        let spec = table
            .iter()
            .copied()
            .find(|spec| spec.short == Some(c))
            .ok_or_else(|| OptError::Unknown(format!("-{c}")))?;
        if !spec.takes_value {
            items.push(Item::Opt { spec, value: None });
            continue;
        }
        let attached = &arg[at + c.len_utf8()..];
        let value = if attached.is_empty() {
            take_next(args, next, &format!("-{c}"))?
        } else {
            attached.to_string()
        };
        items.push(Item::Opt {
            spec,
            value: Some(value),
        });
        break;
    }
    Ok(())
}

fn take_next(args: &[String], next: &mut usize, option: &str) -> Result<String, OptError> {
    let value = args
        .get(*next)
        .cloned()
        .ok_or_else(|| OptError::MissingValue(option.to_string()))?;
    *next += 1;
    Ok(value)
}

/// optparse's `_match_abbrev`: an exact long name, or the only one `name` is a prefix of
/// (aliases count separately, so `--no-dep` is ambiguous between `--no-deps` and
/// `--no-dependencies`, as in pip).
fn match_abbrev<'t, K>(name: &str, table: &[&'t OptSpec<K>]) -> Result<&'t OptSpec<K>, OptError> {
    let longs = || {
        table
            .iter()
            .flat_map(|spec| spec.longs.iter().map(move |long| (*long, *spec)))
    };
    if let Some((_, spec)) = longs().find(|(long, _)| *long == name) {
        return Ok(spec);
    }
    let candidates: Vec<(&str, &OptSpec<K>)> =
        longs().filter(|(long, _)| long.starts_with(name)).collect();
    match candidates.as_slice() {
        [(_, spec)] => Ok(spec),
        [] => Err(OptError::Unknown(format!("--{name}"))),
        many => Err(OptError::Ambiguous {
            option: format!("--{name}"),
            candidates: many
                .iter()
                .map(|(long, _)| format!("--{long}"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[OptSpec<&str>] = &[
        OptSpec {
            longs: &["requirement"],
            short: Some('r'),
            takes_value: true,
            kind: "r",
        },
        OptSpec {
            longs: &["quiet"],
            short: Some('q'),
            takes_value: false,
            kind: "q",
        },
        OptSpec {
            longs: &["upgrade"],
            short: Some('U'),
            takes_value: false,
            kind: "U",
        },
        OptSpec {
            longs: &["no-deps", "no-dependencies"],
            short: None,
            takes_value: false,
            kind: "no-deps",
        },
        OptSpec {
            longs: &["extra-index-url"],
            short: None,
            takes_value: true,
            kind: "extra",
        },
        OptSpec {
            longs: &["no-index"],
            short: None,
            takes_value: false,
            kind: "no-index",
        },
        OptSpec {
            longs: &["no-input"],
            short: None,
            takes_value: false,
            kind: "no-input",
        },
    ];

    fn run(args: &[&str], interspersed: bool) -> Parsed<'static, &'static str> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let table: Vec<&OptSpec<&str>> = TABLE.iter().collect();
        parse(&args, &table, interspersed)
    }

    fn summary(parsed: &Parsed<'_, &str>) -> Vec<String> {
        parsed
            .items
            .iter()
            .map(|item| match item {
                Item::Opt {
                    spec,
                    value: Some(v),
                } => format!("{}={v}", spec.kind),
                Item::Opt { spec, value: None } => spec.kind.to_string(),
                Item::Positional(p) => format!("pos:{p}"),
            })
            .collect()
    }

    #[test]
    fn clusters_abbreviations_and_values() {
        let parsed = run(
            &[
                "-qUrreq.txt",
                "--extra-ind",
                "https://evil/",
                "x",
                "--no-ind",
                "-r",
                "-",
                "--",
                "-y",
            ],
            true,
        );
        assert_eq!(
            summary(&parsed),
            [
                "q",
                "U",
                "r=req.txt",
                "extra=https://evil/",
                "pos:x",
                "no-index",
                "r=-",
                "pos:-y"
            ]
        );
        assert_eq!(parsed.error, None);
    }

    #[test]
    fn value_may_start_with_a_dash_and_may_be_empty() {
        let parsed = run(
            &["--extra-index-url", "--no-index", "--extra-index-url="],
            true,
        );
        assert_eq!(summary(&parsed), ["extra=--no-index", "extra="]);
    }

    #[test]
    fn errors_stop_parsing_after_earlier_items() {
        let parsed = run(&["-q", "--no-in", "-U"], true);
        assert_eq!(summary(&parsed), ["q"]);
        assert!(matches!(parsed.error, Some(OptError::Ambiguous { .. })));
        assert_eq!(
            run(&["--no-dep"], true).error.unwrap().to_string(),
            "ambiguous option: --no-dep (could be --no-deps, --no-dependencies)"
        );
        assert_eq!(
            run(&["--no-dependencies"], true).error,
            None,
            "an exact match beats prefixes"
        );
        assert_eq!(
            run(&["-qx"], true).error,
            Some(OptError::Unknown("-x".into()))
        );
        assert_eq!(
            run(&["-r"], true).error,
            Some(OptError::MissingValue("-r".into()))
        );
        assert_eq!(
            run(&["--quiet=1"], true).error,
            Some(OptError::UnexpectedValue("--quiet".into()))
        );
        assert_eq!(
            run(&["--bogus"], true).error,
            Some(OptError::Unknown("--bogus".into()))
        );
    }

    #[test]
    fn non_interspersed_stops_at_first_positional() {
        let parsed = run(&["-q", "install", "-U", "x"], false);
        assert_eq!(summary(&parsed), ["q"]);
        assert_eq!(parsed.rest, ["install", "-U", "x"]);
        let parsed = run(&["--", "-q"], false);
        assert_eq!(parsed.rest, ["-q"]);
        assert_eq!(
            run(&["-", "x"], false).rest,
            ["-", "x"],
            "a lone dash is positional"
        );
    }
}
