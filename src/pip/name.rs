//! Python project names: PEP 503 normalization (the form lockgate compares, matches against
//! policy prefixes and puts in simple-index URLs) and the PEP 508 rule for what a valid name is.

/// PEP 503 normalized form: lower case, every run of `-`, `_` and `.` collapsed to one `-`
/// (`Foo.Bar__baz` → `foo-bar-baz`). Also the PEP 685 normalization of extra names.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator_run = false;
        }
    }
    out
}

/// Whether `name` is a valid project name: ASCII letters and digits, with `.`, `_` and `-`
/// allowed only between them (`^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$`, case-insensitive).
pub fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        for (input, normal) in [
            ("requests", "requests"),
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("typing_extensions", "typing-extensions"),
            ("Foo.Bar__baz", "foo-bar-baz"),
            ("myorg-Payments_Client", "myorg-payments-client"),
            ("ruamel.yaml.clib", "ruamel-yaml-clib"),
            ("a-_-.b", "a-b"),
        ] {
            assert_eq!(normalize(input), normal, "{input}");
        }
    }

    #[test]
    fn validates_names() {
        for good in [
            "a",
            "A1",
            "zope.interface",
            "backports.zoneinfo",
            "x_y-z",
            "9",
        ] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            ".a",
            "a_",
            "caf\u{e9}",
            "a b",
            "a/b",
            "a@b",
            "a;b",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
