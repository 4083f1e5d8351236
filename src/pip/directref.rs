//! Direct references inside the dependency tree: a wheel's `Requires-Dist: x @ https://…`, a
//! `git+ssh://…` or `file:///…` one, or an sdist's `build-system.requires` naming a URL. pip
//! fetches (or reads, or clones) such a reference itself, outside any index, so nothing checks
//! it against a hash: lockgate refuses it (21) naming the package that declared it, unless the
//! policy lists that exact URL in `[pip] unsafe-allow-urls`.
//!
//! Pure: [`direct_url`] reads one PEP 508 string, [`wheel_requires`] reads a wheel's
//! `Requires-Dist` lines from any `Read + Seek` (the verified file in the store), and
//! [`refusal`] builds the finding.

use std::io::{Read, Seek};

use crate::finding::{Finding, Kind};

/// The URL of a PEP 508 direct reference (`name [extras] @ URL [; markers]`), or None for a
/// requirement by name. The name, extras and version specifiers cannot contain `@`, and markers
/// start at the first `;`, so an `@` before it means a direct reference; a URL that itself
/// contains `;` is only separated from markers by whitespace (PEP 508), which is kept.
pub fn direct_url(requirement: &str) -> Option<String> {
    let (before, after) = requirement.split_once('@')?;
    if before.contains(';') {
        return None; // an `@` inside a marker's quoted string
    }
    let url = after.trim_start();
    // `URL ; markers`: the URL ends at whitespace.
    let url = url.split(char::is_whitespace).next().unwrap_or_default();
    Some(url.to_string())
}

/// Every `Requires-Dist` value of the wheel in `reader` (its `*.dist-info/METADATA`, at the top
/// level of the archive). An archive without one is an error: pip would not install it, and
/// lockgate cannot say what it depends on.
pub fn wheel_requires(reader: impl Read + Seek) -> Result<Vec<String>, String> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("is not a zip archive: {e}"))?;
    let name = zip
        .file_names()
        .find(|n| {
            let mut parts = n.split('/');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(dir), Some("METADATA"), None) if dir.ends_with(".dist-info")
            )
        })
        .map(str::to_string)
        .ok_or_else(|| "has no .dist-info/METADATA".to_string())?;
    let mut text = String::new();
    zip.by_name(&name)
        .map_err(|e| format!("cannot open {name}: {e}"))?
        .take(16 * 1024 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    Ok(requires_dist(&text))
}

/// The `Requires-Dist` header values of a core-metadata document (RFC 822 style: headers end at
/// the first empty line; continuation lines start with whitespace).
pub fn requires_dist(metadata: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_requires = false;
    for line in metadata.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if in_requires {
                if let Some(last) = out.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                }
            }
            continue;
        }
        in_requires = false;
        if let Some((key, value)) = line.split_once(':') {
            if key.trim().eq_ignore_ascii_case("requires-dist") {
                out.push(value.trim().to_string());
                in_requires = true;
            }
        }
    }
    out
}

/// The direct references among `requirements` that `allowed` (the policy's
/// `[pip] unsafe-allow-urls`) does not list: (requirement, URL).
pub fn disallowed<'r>(requirements: &'r [String], allowed: &[String]) -> Vec<(&'r str, String)> {
    requirements
        .iter()
        .filter_map(|r| direct_url(r).map(|u| (r.as_str(), u)))
        .filter(|(_, u)| !allowed.iter().any(|a| a.trim() == u))
        .collect()
}

/// The refusal for `package` (`name==version`) declaring `found` in `what` (e.g. "its wheel's
/// METADATA", "its build requirements").
pub fn refusal(package: &str, what: &str, found: &[(&str, String)]) -> Finding {
    let list: Vec<String> = found.iter().map(|(r, _)| format!("`{r}`")).collect();
    let urls: Vec<String> = found.iter().map(|(_, u)| format!("\"{u}\"")).collect();
    Finding::error(Kind::NonRegistry, package, what)
        .msg(format!(
            "declares a direct URL, VCS or path dependency in {what}: {}; pip would fetch it itself from outside the permitted indexes, unverified, and lockgate refused it before pip saw the file",
            list.join(", ")
        ))
        .hint(format!(
            "publish that dependency to an index the policy permits and depend on it by name; or, after reviewing what that URL serves, allow exactly it: [pip] unsafe-allow-urls = [{}]",
            urls.join(", ")
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_references_are_found_and_names_are_not() {
        for (req, url) in [
            (
                "zqx @ http://127.0.0.1:9/zqx-1.0.tar.gz",
                Some("http://127.0.0.1:9/zqx-1.0.tar.gz"),
            ),
            (
                "zqx[a,b]@https://h/x.whl ; python_version > '3'",
                Some("https://h/x.whl"),
            ),
            (
                "zqx @ git+ssh://git@github.com/o/r.git@v1",
                Some("git+ssh://git@github.com/o/r.git@v1"),
            ),
            ("zqx @ file:///etc/x", Some("file:///etc/x")),
            ("zqx@ https://h/a;b ; extra == 'x'", Some("https://h/a;b")),
            ("zqx (>=1.0) ; extra == 'test'", None),
            ("zqx>=1; platform_release == 'a@b'", None),
            ("zqx", None),
        ] {
            assert_eq!(direct_url(req).as_deref(), url, "{req}");
        }
    }

    #[test]
    fn requires_dist_headers_with_continuations() {
        let meta = "Metadata-Version: 2.1\nName: app\nRequires-Dist: a>=1\nrequires-dist: b @ http://h/b.whl\n  ; python_version > '3'\nSummary: x\n\nRequires-Dist: in-the-body\n";
        assert_eq!(
            requires_dist(meta),
            ["a>=1", "b @ http://h/b.whl ; python_version > '3'"]
        );
    }

    #[test]
    fn the_policy_allows_exact_urls_only() {
        let reqs = vec![
            "a @ https://h/a.whl".to_string(),
            "b @ https://h/b.whl".to_string(),
            "c>=1".to_string(),
        ];
        let found = disallowed(&reqs, &["https://h/a.whl".into(), "https://h/".into()]);
        assert_eq!(
            found,
            [("b @ https://h/b.whl", "https://h/b.whl".to_string())]
        );
        let f = refusal("app==1.0", "its wheel's METADATA", &found);
        assert_eq!(f.exit_code(), 21);
        assert!(f.message.contains("b @ https://h/b.whl"));
        assert!(f.hint.contains("unsafe-allow-urls = [\"https://h/b.whl\"]"));
    }

    #[test]
    fn reads_metadata_from_a_wheel() {
        use std::io::Write;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let o = zip::write::SimpleFileOptions::default();
            z.start_file("app/__init__.py", o).unwrap();
            z.write_all(b"").unwrap();
            z.start_file("app-1.0.dist-info/METADATA", o).unwrap();
            z.write_all(b"Name: app\nRequires-Dist: x @ file:///tmp/x\n")
                .unwrap();
            z.finish().unwrap();
        }
        buf.set_position(0);
        assert_eq!(wheel_requires(buf).unwrap(), ["x @ file:///tmp/x"]);
        let empty = std::io::Cursor::new(b"not a zip".to_vec());
        assert!(wheel_requires(empty).is_err());
    }
}
