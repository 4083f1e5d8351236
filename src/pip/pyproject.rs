//! The dependencies a local project declares in `pyproject.toml` (PEP 621: `[project]`
//! `dependencies`, and the `optional-dependencies` of the extras asked for). When pip installs
//! the project in route mode (`pip install -e .`, `pip install ./libs/core[dev]`), these are the
//! names a change to the project adds: they are judged like names on the command line (typosquat,
//! new package) before pip runs. A project whose dependencies are `dynamic` (computed by
//! `setup.py`) declares none that can be read; pip's resolution through the gate still meets
//! every name it asks for (typosquats, cooldown), but not the new-package check.
//!
//! A local wheel's `Requires-Dist` ([`wheel_dependencies`]) and a project's `[build-system]
//! requires` ([`build_requires`], installed into pip's isolated build environment, where their
//! code runs) are names the install adds in the same way.
//!
//! Pure: the functions read text; the caller reads the files.

use std::path::Path;

use super::name;
use super::requirements::{parse_single, Origin, Requirement};

/// `pyproject.toml`'s declared dependencies for `extras`, each as a requirement from `file`. A
/// reference to the project itself (`dev = ["myapp[test]"]`) brings in those extras too, as pip
/// resolves it; it is not a dependency of its own.
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
    let parse_list =
        |key: &str, list: &toml::Value| requirements_of(list, &format!("project.{key}"), file);
    let mut lists = Vec::new();
    if let Some(list) = project.get("dependencies") {
        lists.push(parse_list("dependencies", list)?);
    }
    let optional = match project.get("optional-dependencies") {
        Some(t) => t
            .as_table()
            .ok_or("`project.optional-dependencies` is not a table".to_string())?
            .iter()
            .map(|(extra, list)| {
                let key = format!("optional-dependencies.{extra}");
                Ok((name::normalize(extra), parse_list(&key, list)?))
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => Vec::new(),
    };
    // The extras asked for, and those the project's references to itself ask for in turn.
    let is_own = |r: &Requirement| r.normalized_name().is_some() && r.normalized_name() == own;
    let mut wanted: Vec<String> = extras
        .iter()
        .chain(
            lists
                .iter()
                .flatten()
                .filter(|r| is_own(r))
                .flat_map(|r| &r.extras),
        )
        .map(|e| name::normalize(e))
        .collect();
    let mut at = 0;
    while at < wanted.len() {
        let extra = wanted[at].clone();
        at += 1;
        let more: Vec<String> = optional
            .iter()
            .filter(|(e, _)| *e == extra)
            .flat_map(|(_, list)| list.iter())
            .filter(|r| is_own(r))
            .flat_map(|r| r.extras.iter().map(|e| name::normalize(e)))
            .collect();
        for e in more {
            if !wanted.contains(&e) {
                wanted.push(e);
            }
        }
    }
    lists.extend(
        optional
            .into_iter()
            .filter(|(e, _)| wanted.contains(e))
            .map(|(_, list)| list),
    );
    Ok(lists.into_iter().flatten().filter(|r| !is_own(r)).collect())
}

/// `[build-system] requires`: what pip installs into the isolated build environment before it
/// runs the project's build (their code runs there), each as a requirement from `file`.
pub fn build_requires(text: &str, file: &Path) -> Result<Vec<Requirement>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let Some(list) = doc.get("build-system").and_then(|b| b.get("requires")) else {
        return Ok(Vec::new());
    };
    requirements_of(list, "build-system.requires", file)
}

/// A TOML array of PEP 508 strings (`key` names it in messages), each a requirement from `file`.
fn requirements_of(list: &toml::Value, key: &str, file: &Path) -> Result<Vec<Requirement>, String> {
    let items = list.as_array().ok_or(format!("`{key}` is not an array"))?;
    items
        .iter()
        .map(|item| {
            let text = item
                .as_str()
                .ok_or(format!("`{key}` holds a non-string entry"))?;
            let origin = Origin {
                file: file.to_path_buf(),
                line: 0,
            };
            parse_single(text, origin, false).map_err(|e| format!("`{key}` entry \"{text}\": {e}"))
        })
        .collect()
}

/// A wheel's `Requires-Dist` values (`requires`, from its METADATA) as requirements from `file`:
/// those of `extras` too, when any are asked (a marker naming an extra is kept whenever extras
/// are asked: judging one more name is the safe side).
pub fn wheel_dependencies(
    requires: &[String],
    extras: &[String],
    file: &Path,
) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for text in requires {
        let origin = Origin {
            file: file.to_path_buf(),
            line: 0,
        };
        let r = parse_single(text, origin, false)
            .map_err(|e| format!("`Requires-Dist: {text}`: {e}"))?;
        if r.marker.as_ref().is_some_and(|m| m.uses_extra()) && extras.is_empty() {
            continue;
        }
        out.push(r);
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
        // Extra names compare normalized; the project's reference to itself brings its extras.
        assert_eq!(
            names(&["dev"]),
            ["requests", "reqeusts", "pkg", "pytest", "hypothesis"]
        );
        let all = declared(PYPROJECT, &[], Path::new("p/pyproject.toml")).unwrap();
        assert!(matches!(all[0].target, Target::Registry(_)));
        assert!(matches!(all[2].target, Target::Url(_)));
        assert_eq!(all[1].origin.file, Path::new("p/pyproject.toml"));
    }

    #[test]
    fn build_requirements_and_wheel_metadata() {
        let p = Path::new("pyproject.toml");
        let names = |rs: Vec<Requirement>| -> Vec<String> {
            rs.iter().map(|r| r.normalized_name().unwrap()).collect()
        };
        assert_eq!(names(build_requires(PYPROJECT, p).unwrap()), ["setuptools"]);
        assert!(build_requires("[project]\nname = \"x\"\n", p)
            .unwrap()
            .is_empty());
        let requires = [
            "qzvslop".to_string(),
            "boto33 ; extra == 'fast'".to_string(),
            "colorama; sys_platform == 'win32'".to_string(),
        ];
        let w = Path::new("app-1.0-py3-none-any.whl");
        assert_eq!(
            names(wheel_dependencies(&requires, &[], w).unwrap()),
            ["qzvslop", "colorama"]
        );
        assert_eq!(
            names(wheel_dependencies(&requires, &["fast".into()], w).unwrap()),
            ["qzvslop", "boto33", "colorama"]
        );
        assert!(wheel_dependencies(&["x>>1".into()], &[], w).is_err());
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
