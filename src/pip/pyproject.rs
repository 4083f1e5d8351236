//! The dependencies a local project declares in `pyproject.toml` (PEP 621: `[project]`
//! `dependencies`, and the `optional-dependencies` of the extras asked for). When pip installs
//! the project in route mode (`pip install -e .`, `pip install ./libs/core[dev]`), these are the
//! names a change to the project adds: they are judged like names on the command line (typosquat,
//! new package) before pip runs. A project whose dependencies are `dynamic` (computed by
//! `setup.py`) declares none that can be read; pip's resolution through the gate still meets
//! every name it asks for (typosquats, cooldown), but not the new-package check.
//!
//! Pure: [`declared`] reads the text; the caller reads the file.

use std::path::Path;

use super::name;
use super::requirements::{parse_single, Origin, Requirement};

/// `pyproject.toml`'s declared dependencies for `extras`, each as a requirement from `file`,
/// without the project's references to itself (`myapp[test]` in an extra).
pub fn declared(text: &str, extras: &[String], file: &Path) -> Result<Vec<Requirement>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let Some(project) = doc.get("project") else {
        return Ok(Vec::new());
    };
    let project = project
        .as_table()
        .ok_or("`project` is not a table".to_string())?;
    let own = project
        .get("name")
        .and_then(toml::Value::as_str)
        .map(name::normalize);
    let mut lists = vec![("dependencies".to_string(), project.get("dependencies"))];
    if let Some(optional) = project.get("optional-dependencies") {
        let optional = optional
            .as_table()
            .ok_or("`project.optional-dependencies` is not a table".to_string())?;
        let wanted: Vec<String> = extras.iter().map(|e| name::normalize(e)).collect();
        for (extra, list) in optional {
            if wanted.contains(&name::normalize(extra)) {
                lists.push((format!("optional-dependencies.{extra}"), Some(list)));
            }
        }
    }
    let mut out = Vec::new();
    for (key, list) in lists {
        let Some(list) = list else { continue };
        let items = list
            .as_array()
            .ok_or(format!("`project.{key}` is not an array"))?;
        for item in items {
            let text = item
                .as_str()
                .ok_or(format!("`project.{key}` holds a non-string entry"))?;
            let origin = Origin {
                file: file.to_path_buf(),
                line: 0,
            };
            let r = parse_single(text, origin, false)
                .map_err(|e| format!("`project.{key}` entry \"{text}\": {e}"))?;
            if r.normalized_name().is_some() && r.normalized_name() == own {
                continue;
            }
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pip::requirements::Target;

    const PYPROJECT: &str = r#"
[build-system]
requires = ["setuptools>=61"]

[project]
name = "My_App"
version = "1.0"
dependencies = ["requests>=2", "reqeusts; python_version >= '3'", "pkg @ https://example.com/pkg.whl"]

[project.optional-dependencies]
Dev = ["pytest", "my-app[test]"]
test = ["hypothesis"]
"#;

    fn names(extras: &[&str]) -> Vec<String> {
        let extras: Vec<String> = extras.iter().map(|e| e.to_string()).collect();
        declared(PYPROJECT, &extras, Path::new("pyproject.toml"))
            .unwrap()
            .iter()
            .map(|r| r.normalized_name().unwrap())
            .collect()
    }

    #[test]
    fn dependencies_and_the_asked_extras() {
        assert_eq!(names(&[]), ["requests", "reqeusts", "pkg"]);
        // Extra names compare normalized; the project's reference to itself is not a dependency.
        assert_eq!(names(&["dev"]), ["requests", "reqeusts", "pkg", "pytest"]);
        let all = declared(PYPROJECT, &[], Path::new("p/pyproject.toml")).unwrap();
        assert!(matches!(all[0].target, Target::Registry(_)));
        assert!(matches!(all[2].target, Target::Url(_)));
        assert_eq!(all[1].origin.file, Path::new("p/pyproject.toml"));
    }

    #[test]
    fn what_cannot_be_read_is_said() {
        let p = Path::new("pyproject.toml");
        assert_eq!(declared("[tool.x]\na = 1\n", &[], p).unwrap().len(), 0);
        assert_eq!(
            declared(
                "[project]\nname = \"x\"\ndynamic = [\"dependencies\"]\n",
                &[],
                p
            )
            .unwrap()
            .len(),
            0
        );
        for bad in [
            "[project\n",
            "[project]\ndependencies = \"requests\"\n",
            "[project]\ndependencies = [1]\n",
            "[project]\ndependencies = [\"requests>>2\"]\n",
        ] {
            assert!(declared(bad, &[], p).is_err(), "{bad}");
        }
    }
}
