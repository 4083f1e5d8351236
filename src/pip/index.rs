//! Simple repository API project pages, in both forms: PEP 503 HTML (what pypiserver speaks,
//! hashes in `#sha256=` fragments, attributes HTML-escaped) and PEP 691 JSON
//! (`application/vnd.pypi.simple.v1+json`). Both become the same list of [`FileEntry`], with
//! URLs made absolute against the page URL (or an HTML `<base href>`), as pip does.

use std::collections::BTreeMap;

use reqwest::Url;
use serde::Deserialize;

use super::name;
use super::version::{SpecifierSet, Version, VersionError};

/// `Accept` header for project pages: JSON preferred, HTML accepted (pip sends the same).
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// The project page URL under an index: `{index}/{normalized name}/`.
pub fn project_url(index_url: &str, project: &str) -> String {
    format!(
        "{}/{}/",
        index_url.trim_end_matches('/'),
        name::normalize(project)
    )
}

/// One distribution file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The file name (last URL path segment for HTML, `filename` for JSON): never a path.
    pub filename: String,
    /// Absolute URL, without fragment.
    pub url: String,
    /// Lower-case hex, when the index gives one.
    pub sha256: Option<String>,
    /// `Requires-Python` of the file, unescaped (`>=3.8`).
    pub requires_python: Option<String>,
    /// `Some(reason)` (possibly empty) when the file is yanked (PEP 592): only an exact pin
    /// may select it.
    pub yanked: Option<String>,
    /// The index serves the file's core metadata at `{url}.metadata` (PEP 658/714).
    pub core_metadata: Option<CoreMetadata>,
    /// PEP 700 `upload-time` (RFC 3339), JSON pages only; the release-age cooldown reads it.
    pub upload_time: Option<String>,
}

/// A PEP 658 metadata file, with its hash when the index gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    pub sha256: Option<String>,
}

impl FileEntry {
    /// Whether the file supports `python` (pip passes the interpreter's `major.minor.micro`).
    /// No `Requires-Python` means any; an invalid one is an error for the caller to judge
    /// (pip ignores it).
    pub fn supports_python(&self, python: &Version) -> Result<bool, VersionError> {
        match &self.requires_python {
            None => Ok(true),
            Some(spec) => Ok(SpecifierSet::parse(spec)?.contains(python)),
        }
    }
}

/// A project page lockgate cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("index page {url}: {what}")]
pub struct IndexError {
    pub url: String,
    pub what: String,
}

/// Parses a project page by its `Content-Type` header.
pub fn parse_page(
    page_url: &str,
    content_type: &str,
    body: &str,
) -> Result<Vec<FileEntry>, IndexError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/vnd.pypi.simple.v1+json" => parse_json(page_url, body),
        "application/vnd.pypi.simple.v1+html" | "text/html" => parse_html(page_url, body),
        _ => Err(IndexError {
            url: page_url.to_string(),
            what: format!("unexpected content type {content_type:?} (not a simple-API page)"),
        }),
    }
}

/// Parses a PEP 503 HTML page: every `<a href>` is a file.
pub fn parse_html(page_url: &str, body: &str) -> Result<Vec<FileEntry>, IndexError> {
    let fail = |what: String| IndexError {
        url: page_url.to_string(),
        what,
    };
    let mut base = Url::parse(page_url).map_err(|e| fail(format!("invalid page URL: {e}")))?;
    let mut files = Vec::new();
    for tag in tags(body) {
        match tag.name.as_str() {
            "meta" if tag.attr("name") == Some("pypi:repository-version") => {
                check_api_version(tag.attr("content").unwrap_or_default()).map_err(fail)?;
            }
            "base" => {
                if let Some(href) = tag.attr("href") {
                    base = base
                        .join(href)
                        .map_err(|e| fail(format!("invalid <base href={href:?}>: {e}")))?;
                }
            }
            "a" => {
                let Some(href) = tag.attr("href") else {
                    continue;
                };
                let mut url = base
                    .join(href)
                    .map_err(|e| fail(format!("invalid link {href:?}: {e}")))?;
                let sha256 = url.fragment().and_then(|f| fragment_hash(f, "sha256"));
                url.set_fragment(None);
                let filename = plain_filename(&url).map_err(&fail)?;
                let metadata = tag
                    .attr("data-core-metadata")
                    .or(tag.attr("data-dist-info-metadata"));
                files.push(FileEntry {
                    filename,
                    url: url.to_string(),
                    sha256,
                    requires_python: tag
                        .attr("data-requires-python")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                    yanked: tag
                        .has("data-yanked")
                        .then(|| tag.attr("data-yanked").unwrap_or_default().to_string()),
                    core_metadata: metadata.and_then(html_metadata),
                    upload_time: None,
                });
            }
            _ => {}
        }
    }
    Ok(files)
}

/// Parses a PEP 691 JSON page.
pub fn parse_json(page_url: &str, body: &str) -> Result<Vec<FileEntry>, IndexError> {
    let fail = |what: String| IndexError {
        url: page_url.to_string(),
        what,
    };
    let page: JsonPage =
        serde_json::from_str(body).map_err(|e| fail(format!("invalid JSON: {e}")))?;
    check_api_version(&page.meta.api_version).map_err(fail)?;
    let base = Url::parse(page_url).map_err(|e| fail(format!("invalid page URL: {e}")))?;
    page.files
        .into_iter()
        .map(|file| {
            let mut url = base
                .join(&file.url)
                .map_err(|e| fail(format!("invalid file URL {:?}: {e}", file.url)))?;
            url.set_fragment(None);
            if file.filename.is_empty()
                || file.filename.contains(['/', '\\'])
                || file.filename.starts_with('.')
            {
                return Err(fail(format!(
                    "file name {:?} is not a plain file name",
                    file.filename
                )));
            }
            let metadata = file.core_metadata.or(file.dist_info_metadata);
            Ok(FileEntry {
                filename: file.filename,
                url: url.to_string(),
                sha256: file.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
                requires_python: file.requires_python.filter(|s| !s.is_empty()),
                yanked: match file.yanked {
                    Yanked::Flag(false) => None,
                    Yanked::Flag(true) => Some(String::new()),
                    Yanked::Reason(reason) => Some(reason),
                },
                core_metadata: match metadata {
                    None | Some(JsonMetadata::Flag(false)) => None,
                    Some(JsonMetadata::Flag(true)) => Some(CoreMetadata { sha256: None }),
                    Some(JsonMetadata::Hashes(hashes)) => Some(CoreMetadata {
                        sha256: hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
                    }),
                },
                upload_time: file.upload_time,
            })
        })
        .collect()
}

/// PEP 629/691: a client must refuse a major version it does not know.
fn check_api_version(version: &str) -> Result<(), String> {
    match version.split('.').next() {
        Some("1") => Ok(()),
        _ => Err(format!(
            "simple API version {version:?} is not supported (lockgate reads 1.x)"
        )),
    }
}

/// The last path segment, percent-decoded, refused if it could name another directory.
fn plain_filename(url: &Url) -> Result<String, String> {
    let segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    let decoded = crate::gate::percent_decode(segment);
    if decoded.is_empty() || decoded.contains(['/', '\\']) || decoded.starts_with('.') {
        return Err(format!("link {url} does not end in a plain file name"));
    }
    Ok(decoded)
}

/// `algo=hex` among `&`-separated fragment parts (pip's `[#&](algo)=([^&]*)`).
fn fragment_hash(fragment: &str, algorithm: &str) -> Option<String> {
    fragment
        .split('&')
        .find_map(|part| part.strip_prefix(algorithm)?.strip_prefix('='))
        .map(str::to_ascii_lowercase)
}

/// `data-core-metadata`: `true` or `algo=hex`.
fn html_metadata(value: &str) -> Option<CoreMetadata> {
    match value.split_once('=') {
        _ if value.eq_ignore_ascii_case("true") => Some(CoreMetadata { sha256: None }),
        Some((algorithm, hex)) => {
            let sha256 = (algorithm == "sha256").then(|| hex.to_ascii_lowercase());
            Some(CoreMetadata { sha256 })
        }
        None => None,
    }
}

#[derive(Deserialize)]
struct JsonPage {
    meta: JsonMeta,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version")]
    api_version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Yanked,
    core_metadata: Option<JsonMetadata>,
    dist_info_metadata: Option<JsonMetadata>,
    upload_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Yanked {
    Flag(bool),
    Reason(String),
}

impl Default for Yanked {
    fn default() -> Self {
        Yanked::Flag(false)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonMetadata {
    Flag(bool),
    Hashes(BTreeMap<String, String>),
}

/// A start tag: lower-case name and attributes (names lower-cased, values unescaped; `None`
/// for an attribute without a value).
struct Tag {
    name: String,
    attrs: Vec<(String, Option<String>)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| n == name)
    }
}

/// The start tags of an HTML document, skipping comments, end tags and declarations. Enough
/// HTML for index pages: quoted, unquoted and valueless attributes, any case.
fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if name_len == 0 {
            continue; // end tag, declaration or a stray '<'
        }
        let name = rest[..name_len].to_ascii_lowercase();
        rest = &rest[name_len..];
        let mut attrs = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let attr_len = rest
                .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
                .unwrap_or(rest.len());
            let attr = rest[..attr_len.max(1)].to_ascii_lowercase();
            rest = rest[attr_len.max(1)..].trim_start();
            let value = match rest.strip_prefix('=') {
                None => None,
                Some(after) => {
                    let after = after.trim_start();
                    let (raw, remaining) = match after.chars().next() {
                        Some(quote @ ('"' | '\'')) => {
                            let end = after[1..].find(quote).map_or(after.len(), |e| e + 1);
                            (&after[1..end], after.get(end + 1..).unwrap_or(""))
                        }
                        _ => {
                            let end = after
                                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                                .unwrap_or(after.len());
                            (&after[..end], &after[end..])
                        }
                    };
                    rest = remaining;
                    Some(unescape(raw))
                }
            };
            attrs.push((attr, value));
        }
        out.push(Tag { name, attrs });
    }
    out
}

/// HTML character references: the five XML entities, `&nbsp;` and numeric ones.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                _ => {
                    let code = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => entity.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Served by pypiserver 2.4.2 (`--disable-fallback`) for two wheels and an sdist.
    const PYPISERVER_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Links for myorg-payments-client</title>
    </head>
    <body>
        <h1>Links for myorg-payments-client</h1>
            <a href="/packages/myorg_payments_client-1.2.3-py3-none-any.whl#sha256=c6f9f70fe4854d7b47c2c2686c9c8ee1dd0755622addac3d7d6784d0e58e657a">myorg_payments_client-1.2.3-py3-none-any.whl</a><br>
            <a href="/packages/myorg-payments-client-1.2.4.tar.gz#sha256=b0f193872637108ceec1f6609ccac3dc41c92073a61ad36c54aa6584a191afce">myorg-payments-client-1.2.4.tar.gz</a><br>
            <a href="/packages/myorg_payments_client-1.2.4-py3-none-any.whl#sha256=488e99f76f0472ff757dd32d58322660611f020c9ba044da553858dd4d24efc9">myorg_payments_client-1.2.4-py3-none-any.whl</a><br>
    </body>
</html>
    "#;

    /// Excerpt of https://pypi.org/simple/requests/ as HTML (a yanked release included).
    const PYPI_HTML: &str = r#"<!DOCTYPE html>
<html>
<head><meta name="pypi:repository-version" content="1.1"><title>Links for requests</title></head>
<body>
<h1>Links for requests</h1>
<a href="https://files.pythonhosted.org/packages/24/e8/09e8d662a9675a4e4f5dd7a8e6127b463a091d2703ed931a64aa66d00065/requests-2.32.0-py3-none-any.whl#sha256=f2c3881dddb70d056c5bd7600a4fae312b2a300e39be6a118d30b90bd27262b5" data-requires-python="&gt;=3.8" data-yanked="Yanked due to conflicts with CVE-2024-35195 mitigation">requests-2.32.0-py3-none-any.whl</a><br/>
<a href="https://files.pythonhosted.org/packages/f9/9b/335f9764261e915ed497fcdeb11df5dfd6f7bf257d4a6a2a686d80da4d54/requests-2.32.3-py3-none-any.whl#sha256=70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6" data-requires-python="&gt;=3.8">requests-2.32.3-py3-none-any.whl</a><br/>
<!-- <a href="commented-out-1.0.tar.gz">nope</a> -->
</body>
</html>
"#;

    /// Excerpt of the same page as PEP 691 JSON (api-version 1.1 adds size and upload-time).
    const PYPI_JSON: &str = r#"{"meta": {"api-version": "1.1", "_last-serial": "26356948"}, "name": "requests", "versions": ["2.32.0", "2.32.3"], "files": [
{"filename": "requests-2.32.0-py3-none-any.whl", "hashes": {"sha256": "f2c3881dddb70d056c5bd7600a4fae312b2a300e39be6a118d30b90bd27262b5"}, "requires-python": ">=3.8", "size": 63695, "upload-time": "2024-05-20T16:08:19.530618Z", "url": "https://files.pythonhosted.org/packages/24/e8/09e8d662a9675a4e4f5dd7a8e6127b463a091d2703ed931a64aa66d00065/requests-2.32.0-py3-none-any.whl", "yanked": "Yanked due to conflicts with CVE-2024-35195 mitigation"},
{"filename": "requests-2.32.3.tar.gz", "hashes": {"sha256": "55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760"}, "requires-python": ">=3.8", "size": 131218, "upload-time": "2024-05-29T15:37:49.536140Z", "url": "https://files.pythonhosted.org/packages/63/70/2bf7780ad2d390a8d301ad0b550f1581eadbd9a20f896afe06353c2a2913/requests-2.32.3.tar.gz", "yanked": false},
{"filename": "requests-2.32.3-py3-none-any.whl", "hashes": {"sha256": "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"}, "requires-python": null, "url": "../../packages/requests-2.32.3-py3-none-any.whl", "yanked": true, "core-metadata": {"sha256": "ABCDEF"}, "dist-info-metadata": true}
]}"#;

    #[test]
    fn pypiserver_page() {
        let files = parse_html(
            "http://127.0.0.1:18765/simple/myorg-payments-client/",
            PYPISERVER_PAGE,
        )
        .unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0],
            FileEntry {
                filename: "myorg_payments_client-1.2.3-py3-none-any.whl".into(),
                url: "http://127.0.0.1:18765/packages/myorg_payments_client-1.2.3-py3-none-any.whl"
                    .into(),
                sha256: Some(
                    "c6f9f70fe4854d7b47c2c2686c9c8ee1dd0755622addac3d7d6784d0e58e657a".into()
                ),
                requires_python: None,
                yanked: None,
                core_metadata: None,
                upload_time: None,
            }
        );
        assert_eq!(files[1].filename, "myorg-payments-client-1.2.4.tar.gz");
    }

    #[test]
    fn relative_links_resolve_against_the_page_or_base() {
        let page = r#"<a href="../../packages/x-1.0-py3-none-any.whl#md5=abc&sha256=ABCD">x</a>
                      <A HREF='sub/y-1.0.tar.gz' data-requires-python="&gt;=3.8,&lt;4" data-yanked>y</A>
                      <base href="https://mirror.example/files/"><a href=z%2B1-1.0.zip>z</a>"#;
        let files = parse_html("https://pypi.corp.example/simple/x/", page).unwrap();
        assert_eq!(
            files[0].url,
            "https://pypi.corp.example/packages/x-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abcd"));
        assert_eq!(
            files[1].url,
            "https://pypi.corp.example/simple/x/sub/y-1.0.tar.gz"
        );
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8,<4"));
        assert_eq!(
            files[1].yanked.as_deref(),
            Some(""),
            "a valueless data-yanked still yanks"
        );
        assert_eq!(files[2].url, "https://mirror.example/files/z%2B1-1.0.zip");
        assert_eq!(files[2].filename, "z+1-1.0.zip");
    }

    #[test]
    fn pypi_html_and_json_agree() {
        let html = parse_page(
            "https://pypi.org/simple/requests/",
            "text/html; charset=utf-8",
            PYPI_HTML,
        )
        .unwrap();
        assert_eq!(html.len(), 2, "the commented-out link is ignored");
        assert_eq!(
            html[0].yanked.as_deref(),
            Some("Yanked due to conflicts with CVE-2024-35195 mitigation")
        );
        assert_eq!(html[0].requires_python.as_deref(), Some(">=3.8"));

        let json = parse_page(
            "https://pypi.org/simple/requests/",
            "application/vnd.pypi.simple.v1+json",
            PYPI_JSON,
        )
        .unwrap();
        assert_eq!(
            json[0].upload_time.as_deref(),
            Some("2024-05-20T16:08:19.530618Z"),
            "PEP 700 upload-time (JSON only)"
        );
        assert_eq!(
            FileEntry {
                upload_time: None,
                ..json[0].clone()
            },
            html[0]
        );
        assert_eq!(json[1].yanked, None);
        assert_eq!(json[1].filename, "requests-2.32.3.tar.gz");
        let last = &json[2];
        assert_eq!(
            last.url,
            "https://pypi.org/packages/requests-2.32.3-py3-none-any.whl"
        );
        assert_eq!(last.yanked.as_deref(), Some(""));
        assert_eq!(last.requires_python, None);
        assert_eq!(
            last.core_metadata,
            Some(CoreMetadata {
                sha256: Some("abcdef".into())
            })
        );
    }

    #[test]
    fn metadata_attributes() {
        let page = r#"<a href="a-1-py3-none-any.whl" data-dist-info-metadata="sha256=AA">a</a>
                      <a href="b-1-py3-none-any.whl" data-core-metadata="true" data-dist-info-metadata="sha256=bb">b</a>
                      <a href="c-1-py3-none-any.whl" data-core-metadata="sha512=cc">c</a>"#;
        let files = parse_html("https://i/simple/a/", page).unwrap();
        assert_eq!(
            files[0].core_metadata,
            Some(CoreMetadata {
                sha256: Some("aa".into())
            })
        );
        assert_eq!(
            files[1].core_metadata,
            Some(CoreMetadata { sha256: None }),
            "core-metadata wins"
        );
        assert_eq!(files[2].core_metadata, Some(CoreMetadata { sha256: None }));
    }

    #[test]
    fn hostile_or_unsupported_pages() {
        let err = parse_html(
            "https://i/simple/a/",
            r#"<a href="x/..%2F..%2Fbashrc">x</a>"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("does not end in a plain file name"),
            "{err}"
        );
        let json = r#"{"meta": {"api-version": "1.0"}, "files": [{"filename": "../evil.whl", "url": "e.whl", "hashes": {}}]}"#;
        assert!(parse_json("https://i/simple/a/", json)
            .unwrap_err()
            .what
            .contains("not a plain file name"));
        let json = r#"{"meta": {"api-version": "2.0"}, "files": []}"#;
        assert_eq!(
            parse_json("https://i/simple/a/", json).unwrap_err().to_string(),
            "index page https://i/simple/a/: simple API version \"2.0\" is not supported (lockgate reads 1.x)"
        );
        let html =
            r#"<meta name="pypi:repository-version" content="2.0"><a href="a-1.tar.gz">a</a>"#;
        assert!(parse_html("https://i/simple/a/", html).is_err());
        assert!(parse_page("https://i/simple/a/", "application/json", "{}").is_err());
        assert!(parse_json("https://i/simple/a/", "{")
            .unwrap_err()
            .what
            .starts_with("invalid JSON"));
    }

    #[test]
    fn requires_python_evaluation() {
        let six = FileEntry {
            filename: "six-1.17.0-py2.py3-none-any.whl".into(),
            url: "https://files.pythonhosted.org/six-1.17.0-py2.py3-none-any.whl".into(),
            sha256: None,
            requires_python: Some("!=3.0.*,!=3.1.*,!=3.2.*,>=2.7".into()),
            yanked: None,
            core_metadata: None,
            upload_time: None,
        };
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(six.supports_python(&v("3.11.7")), Ok(true));
        assert_eq!(six.supports_python(&v("3.1.5")), Ok(false));
        assert_eq!(six.supports_python(&v("2.6.9")), Ok(false));
        let broken = FileEntry {
            requires_python: Some(">=3.8x".into()),
            ..six
        };
        assert!(broken.supports_python(&v("3.11.7")).is_err());
    }

    #[test]
    fn project_urls_use_normalized_names() {
        assert_eq!(
            project_url("https://pypi.org/simple", "Zope.Interface"),
            "https://pypi.org/simple/zope-interface/"
        );
        assert_eq!(
            project_url("http://127.0.0.1:8080/simple/", "myorg_payments"),
            "http://127.0.0.1:8080/simple/myorg-payments/"
        );
    }

    #[test]
    fn unescapes_character_references() {
        assert_eq!(
            unescape("&gt;=3.8, &lt;4 &amp; &#62;&#x3C; &bogus; & &#xZZ;"),
            ">=3.8, <4 & >< &bogus; & &#xZZ;"
        );
    }
}
