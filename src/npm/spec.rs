//! What an `npm install` argument or a package.json dependency fetches, read as npm reads it
//! (npm-package-arg's `npa` and `npa.resolve`, `lib/npa.js` in the npm this was written against):
//! the registry package and what is asked of it, past an `npm:` alias (`npm:` in any letter case,
//! with or without a name of its own), or nothing when npm fetches it from elsewhere (a path, a
//! tarball, a URL, git). The typosquat and new-package checks judge the name this returns, so a
//! spec that npm installs from the registry under another name than lockgate reads is a way
//! around them; the tests pin npm 11's own readings of the awkward shapes.
//!
//! Pure: no I/O.

/// The registry package `arg` (an `npm install` argument) fetches and its version, range or tag
/// (`*` when it names none); None when npm takes it from elsewhere or cannot read it.
pub fn registry_spec(arg: &str) -> Option<(&str, &str)> {
    npa(arg, true)
}

/// The registry package a package.json dependency `name: spec` fetches (`npa.resolve`): `name`
/// itself, or an alias's target; None when npm takes it from elsewhere.
pub fn dependency_spec<'a>(name: &'a str, spec: &'a str) -> Option<(&'a str, &'a str)> {
    resolve(Some(name), spec, true)
}

/// `npa(arg)`: split a command-line argument into a name and a spec.
fn npa(arg: &str, alias_ok: bool) -> Option<(&str, &str)> {
    // The first `@` after the first character ends the name (`@scope/name@1`).
    let name_ends = arg.get(1..).and_then(|s| s.find('@')).map(|i| i + 1);
    let name_part = name_ends.map_or(arg, |i| &arg[..i]);
    if is_url(arg) {
        return resolve(None, arg, alias_ok);
    }
    if is_scp_git(arg) {
        return None;
    }
    if !name_part.starts_with('@') && (name_part.contains('/') || is_file_type(name_part)) {
        return resolve(None, arg, alias_ok);
    }
    match name_ends {
        Some(i) => {
            let spec = &arg[i + 1..];
            resolve(
                Some(name_part),
                if spec.is_empty() { "*" } else { spec },
                alias_ok,
            )
        }
        // npm takes the whole argument as a name when it is valid for old packages, else as a
        // spec without a name (which npm cannot install from the registry). A name lockgate
        // judges though npm would not take it fails closed, so it counts as a name.
        None => resolve(Some(arg), "*", alias_ok),
    }
}

/// `npa.resolve(name, spec)`, as far as registry or not.
fn resolve<'a>(name: Option<&'a str>, spec: &'a str, alias_ok: bool) -> Option<(&'a str, &'a str)> {
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("file:") || is_posix_file(spec) {
        return None;
    }
    if lower.starts_with("npm:") {
        // Nested aliases, and aliases of anything but a named registry package, npm refuses.
        return if alias_ok {
            npa(&spec[4..], false)
        } else {
            None
        };
    }
    // A hosted git shorthand has a slash or a scheme (`o/r`, `github:o/r`); URLs, paths and
    // tarballs are not the registry's.
    if is_url(spec) || spec.contains('/') || is_file_type(spec) {
        return None;
    }
    name.filter(|n| !n.is_empty()).map(|n| (n, spec.trim()))
}

/// `/^(?:git[+])?[a-z]+:/i`
fn is_url(s: &str) -> bool {
    let s = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("git+") => &s[4..],
        _ => s,
    };
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    letters > 0 && s.as_bytes().get(letters) == Some(&b':')
}

/// `/^[^@]+@[^:.]+\.[^:]+:.+$/i`: `git@github.com:o/r.git`.
fn is_scp_git(s: &str) -> bool {
    let Some((user, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, path)) = rest.split_once(':') else {
        return false;
    };
    !user.is_empty()
        && !path.is_empty()
        && host
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

/// `/[.](?:tgz|tar\.gz|tar)$/i`
fn is_file_type(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.ends_with(".tgz") || l.ends_with(".tar.gz") || l.ends_with(".tar")
}

/// `/^(?:[.]|~[/]|[/]|[a-zA-Z]:)/` (npm on POSIX systems).
fn is_posix_file(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(b'.' | b'/'))
        || s.starts_with("~/")
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each argument with npm 11's reading (npm-package-arg: the registry package, or `-` when
    /// it is not a registry package or npm cannot read it; printed with `node -e` from npm's own
    /// copy). Where npm cannot read an argument at all (`x@@1`), lockgate may still judge a name:
    /// the install fails either way.
    #[test]
    fn arguments_read_as_npm_reads_them() {
        for (arg, npm) in [
            ("expres", "expres"),
            ("expres@1", "expres"),
            ("expres@latest", "expres"),
            ("expres@ 1", "expres"),
            ("EXPRES", "EXPRES"),
            ("@s/x", "@s/x"),
            ("@s/x@1", "@s/x"),
            ("x@npm:y", "y"),
            ("npm:y", "y"),
            ("npm:y@1", "y"),
            ("npm:@s/y@1", "@s/y"),
            ("x@npm:@s/y", "@s/y"),
            ("@s/x@npm:y@^1", "y"),
            ("x@NPM:y", "y"),
            ("NPM:y@1", "y"),
            ("@s/x.tgz", "@s/x.tgz"),
            ("x@file:../y", "-"),
            ("x@git+https://h/o/r.git", "-"),
            ("x@github:o/r", "-"),
            ("x@o/r", "-"),
            ("x@https://h/x.tgz", "-"),
            ("o/r", "-"),
            ("o/r#semver:1", "-"),
            ("github:o/r", "-"),
            ("gist:abc", "-"),
            ("git@github.com:o/r.git", "-"),
            ("git+ssh://git@h/o/r.git", "-"),
            ("./x", "-"),
            ("../x", "-"),
            ("~/x", "-"),
            ("/abs/x", "-"),
            ("file:x", "-"),
            ("x.tgz", "-"),
            ("x.TGZ", "-"),
            ("x.tar", "-"),
            ("x.TAR.GZ", "-"),
            ("https://h/x", "-"),
            ("expres@>=1 <2", "expres"),
            ("expres@v1.0.0", "expres"),
            ("x@", "x"),
            ("x@npm:npm:y", "-"),
            ("x@npm:o/r", "-"),
            ("x@npm:./y", "-"),
        ] {
            let got = registry_spec(arg).map_or("-", |(n, _)| n);
            assert_eq!(got, npm, "{arg}");
        }
        assert_eq!(
            registry_spec("npm:left-pad@1.3.0"),
            Some(("left-pad", "1.3.0"))
        );
        assert_eq!(
            registry_spec("pad@npm:left-pad@^1"),
            Some(("left-pad", "^1"))
        );
        assert_eq!(registry_spec("@s/a"), Some(("@s/a", "*")));
    }

    #[test]
    fn dependencies_read_as_npm_reads_them() {
        for (name, spec, npm) in [
            ("a", "^1", "a"),
            ("a", "latest", "a"),
            ("a", "npm:b@1", "b"),
            ("a", "NPM:b@1", "b"),
            ("a", "npm:@s/b", "@s/b"),
            ("a", "file:../a", "-"),
            ("a", "../a", "-"),
            ("a", "o/r", "-"),
            ("a", "github:o/r", "-"),
            ("a", "git+https://h/o/r.git", "-"),
            ("a", "https://h/a.tgz", "-"),
            ("a", "workspace:*", "-"),
        ] {
            let got = dependency_spec(name, spec).map_or("-", |(n, _)| n);
            assert_eq!(got, npm, "{name}: {spec}");
        }
    }
}
