//! Distribution file names — wheels (PEP 427: `name-version[-build]-python-abi-platform.whl`,
//! with compressed tag sets such as `py2.py3`) and sdists (`name-version.tar.gz`) — and the
//! choice of the best file for an interpreter, given the supported tags it reports (most
//! preferred first), ranked the way pip ranks them.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::name;

/// A file name that is not a wheel or sdist name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{filename:?} is not a valid {kind} file name: {why}")]
pub struct FilenameError {
    pub filename: String,
    pub kind: &'static str,
    pub why: &'static str,
}

/// The parts of a wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    pub name: String,
    pub version: String,
    /// Optional build number and suffix (`-1-`, `-2b-`); higher builds are preferred.
    pub build: Option<(u64, String)>,
    /// Tag sets, each `.`-separated in the file name, lower-cased.
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelName {
    pub fn parse(filename: &str) -> Result<WheelName, FilenameError> {
        let err = |why| FilenameError {
            filename: filename.to_string(),
            kind: "wheel",
            why,
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| err("it does not end in .whl"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, tags) = match parts.as_slice() {
            [name, version, python, abi, platform] => {
                (name, version, None, [python, abi, platform])
            }
            [name, version, build, python, abi, platform] => {
                (name, version, Some(*build), [python, abi, platform])
            }
            _ => return Err(err("expected name-version[-build]-python-abi-platform.whl")),
        };
        if !name::is_valid(name) || version.is_empty() {
            return Err(err("the project name or version is missing or invalid"));
        }
        let build = match build {
            None => None,
            Some(build) => {
                let digits = build
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(build.len());
                let number = build[..digits]
                    .parse()
                    .map_err(|_| err("the build tag must start with a digit"))?;
                Some((number, build[digits..].to_string()))
            }
        };
        let split = |set: &str| -> Result<Vec<String>, FilenameError> {
            let tags: Vec<String> = set.split('.').map(str::to_ascii_lowercase).collect();
            if tags.iter().any(String::is_empty) {
                return Err(err("a tag is empty"));
            }
            Ok(tags)
        };
        Ok(WheelName {
            name: name.to_string(),
            version: version.to_string(),
            build,
            python: split(tags[0])?,
            abi: split(tags[1])?,
            platform: split(tags[2])?,
        })
    }

    /// Every `python-abi-platform` tag the compressed tag sets stand for.
    pub fn tags(&self) -> impl Iterator<Item = String> + '_ {
        self.python.iter().flat_map(move |python| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |platform| format!("{python}-{abi}-{platform}"))
            })
        })
    }
}

/// The parts of an sdist file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdistName {
    pub name: String,
    pub version: String,
    /// `.tar.gz`, `.zip`, …
    pub extension: &'static str,
}

/// Archive extensions pip accepts for sdists, `.tar.gz` and `.zip` being the standard ones.
const SDIST_EXTENSIONS: [&str; 9] = [
    ".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".txz", ".tar.lz", ".tar",
];

impl SdistName {
    /// Splits at the last `-` (PEP 625 names have none in the project part; older sdists
    /// whose version holds a `-` cannot be told apart without the project name).
    pub fn parse(filename: &str) -> Result<SdistName, FilenameError> {
        let err = |why| FilenameError {
            filename: filename.to_string(),
            kind: "sdist",
            why,
        };
        let lower = filename.to_ascii_lowercase();
        let extension = SDIST_EXTENSIONS
            .into_iter()
            .find(|ext| lower.ends_with(ext))
            .ok_or_else(|| err("it does not end in .tar.gz or .zip"))?;
        let stem = &filename[..filename.len() - extension.len()];
        let (name, version) = stem
            .rsplit_once('-')
            .ok_or_else(|| err("expected name-version"))?;
        if !name::is_valid(name) || version.is_empty() {
            return Err(err("the project name or version is missing or invalid"));
        }
        Ok(SdistName {
            name: name.to_string(),
            version: version.to_string(),
            extension,
        })
    }
}

/// A wheel or an sdist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistName {
    Wheel(WheelName),
    Sdist(SdistName),
}

impl DistName {
    pub fn parse(filename: &str) -> Result<DistName, FilenameError> {
        if filename.to_ascii_lowercase().ends_with(".whl") {
            WheelName::parse(filename).map(DistName::Wheel)
        } else {
            SdistName::parse(filename).map(DistName::Sdist)
        }
    }

    /// The project name as written in the file name.
    pub fn name(&self) -> &str {
        match self {
            DistName::Wheel(w) => &w.name,
            DistName::Sdist(s) => &s.name,
        }
    }

    pub fn version(&self) -> &str {
        match self {
            DistName::Wheel(w) => &w.version,
            DistName::Sdist(s) => &s.version,
        }
    }
}

/// An interpreter's supported tags with their rank (0 = most preferred).
#[derive(Debug, Clone, Default)]
pub struct SupportedTags {
    rank: HashMap<String, usize>,
}

impl SupportedTags {
    /// From the ordered list the interpreter reports (`markers::Interpreter::tags`).
    pub fn new(tags: &[String]) -> SupportedTags {
        let mut rank = HashMap::with_capacity(tags.len());
        for (i, tag) in tags.iter().enumerate() {
            rank.entry(tag.to_ascii_lowercase()).or_insert(i);
        }
        SupportedTags { rank }
    }

    /// The rank of the wheel's best tag, or `None` if it does not fit the interpreter.
    pub fn rank(&self, wheel: &WheelName) -> Option<usize> {
        wheel
            .tags()
            .filter_map(|tag| self.rank.get(&tag).copied())
            .min()
    }
}

/// The best file among `candidates` (files of one release) for the interpreter: the
/// compatible wheel with the most preferred tag, a higher build number breaking ties; an
/// sdist only when `allow_sdist` and no wheel fits. Unparseable names are skipped.
pub fn best_file<'a, T>(
    candidates: &'a [T],
    filename: impl Fn(&T) -> &str,
    tags: &SupportedTags,
    allow_sdist: bool,
) -> Option<&'a T> {
    candidates
        .iter()
        .filter_map(|candidate| {
            Some((
                preference(filename(candidate), tags, allow_sdist)?,
                candidate,
            ))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Smaller is better: wheels before sdists, then tag rank, then the higher build.
type Preference = (u8, usize, Reverse<(u64, String)>);

fn preference(filename: &str, tags: &SupportedTags, allow_sdist: bool) -> Option<Preference> {
    match DistName::parse(filename).ok()? {
        DistName::Wheel(wheel) => Some((
            0,
            tags.rank(&wheel)?,
            Reverse(wheel.build.unwrap_or_default()),
        )),
        DistName::Sdist(_) if allow_sdist => Some((1, 0, Reverse(Default::default()))),
        DistName::Sdist(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::markers::sample_interpreter;
    use super::*;

    fn tags() -> SupportedTags {
        SupportedTags::new(&sample_interpreter().tags)
    }

    fn best<'a>(files: &'a [&'a str], allow_sdist: bool) -> Option<&'a str> {
        best_file(files, |f| f, &tags(), allow_sdist).copied()
    }

    #[test]
    fn parses_real_wheel_names() {
        let numpy = WheelName::parse(
            "numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        assert_eq!(
            (
                numpy.name.as_str(),
                numpy.version.as_str(),
                numpy.build.clone()
            ),
            ("numpy", "2.2.3", None)
        );
        assert_eq!(
            numpy.tags().collect::<Vec<_>>(),
            [
                "cp312-cp312-manylinux_2_17_x86_64",
                "cp312-cp312-manylinux2014_x86_64"
            ]
        );
        let six = WheelName::parse("six-1.17.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(
            six.tags().collect::<Vec<_>>(),
            ["py2-none-any", "py3-none-any"]
        );
        let built = WheelName::parse("myorg_payments_client-1.2.3-12b-py3-none-any.whl").unwrap();
        assert_eq!(built.build, Some((12, "b".into())));
        assert_eq!(name::normalize(&built.name), "myorg-payments-client");
        let upper = WheelName::parse("PyYAML-6.0.1-CP311-CP311-MANYLINUX_2_17_X86_64.whl").unwrap();
        assert_eq!(upper.python, ["cp311"]);
    }

    #[test]
    fn rejects_bad_wheel_names() {
        for bad in [
            "foo.whl",
            "foo-1.0-py3-none.whl",
            "foo-1.0-x1-py3-none-any.whl",
            "foo-1.0-1-2-py3-none-any.whl",
            "-1.0-py3-none-any.whl",
            "foo-1.0-py3..py2-none-any.whl",
            "foo-1.0-py3-none-any.zip",
        ] {
            assert!(WheelName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            WheelName::parse("foo-1.0-x1-py3-none-any.whl").unwrap_err().to_string(),
            "\"foo-1.0-x1-py3-none-any.whl\" is not a valid wheel file name: the build tag must start with a digit"
        );
    }

    #[test]
    fn parses_sdist_names() {
        let sdist = SdistName::parse("myorg-payments-client-1.2.4.tar.gz").unwrap();
        assert_eq!(
            (sdist.name.as_str(), sdist.version.as_str(), sdist.extension),
            ("myorg-payments-client", "1.2.4", ".tar.gz")
        );
        let zip = DistName::parse("Django-1.0.ZIP").unwrap();
        assert_eq!((zip.name(), zip.version()), ("Django", "1.0"));
        assert!(SdistName::parse("noversion.tar.gz").is_err());
        assert!(SdistName::parse("pkg-1.0.rpm").is_err());
    }

    #[test]
    fn ranks_like_pip() {
        // cryptography 42.0.5 on PyPI: the abi3 manylinux_2_28 wheel is the best fit.
        let cryptography = [
            "cryptography-42.0.5-cp39-abi3-win_amd64.whl",
            "cryptography-42.0.5-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl",
            "cryptography-42.0.5-cp39-abi3-musllinux_1_2_x86_64.whl",
            "cryptography-42.0.5-cp39-abi3-macosx_10_12_universal2.whl",
            "cryptography-42.0.5.tar.gz",
        ];
        assert_eq!(
            best(&cryptography, false),
            Some("cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl")
        );

        // A CPython-specific wheel beats the pure one; higher build wins between equals.
        let mixed = [
            "pkg-1.0-py3-none-any.whl",
            "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "pkg-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl",
            "pkg-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl",
        ];
        assert_eq!(
            best(&mixed, false),
            Some("pkg-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl")
        );

        // Nothing fits: numpy built for 3.12 and Windows only; the sdist only when allowed.
        let numpy = [
            "numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy-2.2.3.tar.gz",
        ];
        assert_eq!(best(&numpy, false), None);
        assert_eq!(best(&numpy, true), Some("numpy-2.2.3.tar.gz"));
        assert_eq!(
            best(
                &["six-1.17.0.tar.gz", "six-1.17.0-py2.py3-none-any.whl"],
                true
            ),
            Some("six-1.17.0-py2.py3-none-any.whl")
        );
        assert_eq!(best(&["garbage", "x.whl"], true), None);
    }

    #[test]
    fn works_on_any_candidate_type() {
        struct Found {
            filename: String,
            sha256: &'static str,
        }
        let files = [
            Found {
                filename: "attrs-25.1.0.tar.gz".into(),
                sha256: "a",
            },
            Found {
                filename: "attrs-25.1.0-py3-none-any.whl".into(),
                sha256: "b",
            },
        ];
        let chosen = best_file(&files, |f| f.filename.as_str(), &tags(), false).unwrap();
        assert_eq!(chosen.sha256, "b");
    }
}
