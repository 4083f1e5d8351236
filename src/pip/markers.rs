//! PEP 508 environment markers (`python_version >= "3.8" and sys_platform == "linux"`): parsing
//! and evaluation against a [`MarkerEnv`], the description of the interpreter pip will install
//! into. Also the probe lockgate runs in that interpreter to learn its markers and wheel tags.
//!
//! Evaluation follows the specification and `packaging`: when both sides are valid PEP 440
//! (the right side as a specifier), versions are compared with pre-releases allowed;
//! otherwise `==`/`!=` compare strings, `in`/`not in` test substrings, `<=`/`>=` mean equality
//! and `<`/`>` are false. The PEP 751 set variables `extras` and `dependency_groups` only
//! support `in`/`not in`.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use super::name::normalize;
use super::version::{Specifier, Version};

/// Python code for `python -c` that prints one JSON object, [`Interpreter`]: the marker
/// environment and the supported wheel tags (most preferred first) exactly as that
/// interpreter's pip computes them, and where that pip lives. It drops the current directory
/// from `sys.path` first, so a project file named `json.py` cannot run in its place. Arguments
/// after the code are appended to `sys.path`: pip's `--python X` runs the calling pip's own
/// code under X (which may have no pip), so the probe of X is given that pip's directory.
pub const INTERPRETER_PROBE: &str =
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')] + sys.argv[1:]; \
import json, os, pip; \
from pip._vendor.packaging.markers import default_environment; \
from pip._vendor.packaging.tags import sys_tags; \
json.dump({'markers': default_environment(), 'tags': [str(t) for t in sys_tags()], \
'pip_dir': os.path.dirname(os.path.dirname(pip.__file__))}, sys.stdout)";

/// What [`INTERPRETER_PROBE`] prints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interpreter {
    pub markers: MarkerEnv,
    /// Supported tags such as `cp311-cp311-manylinux_2_17_x86_64`, best first.
    pub tags: Vec<String>,
    /// The directory holding the `pip` package the interpreter imported.
    #[serde(default)]
    pub pip_dir: Option<String>,
}

/// The values of the marker variables for one interpreter. Field names are the PEP 508
/// variable names, as `packaging.markers.default_environment()` prints them; unknown keys are
/// tolerated because that dictionary belongs to whatever `packaging` the interpreter has.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MarkerEnv {
    pub implementation_name: String,
    pub implementation_version: String,
    pub os_name: String,
    pub platform_machine: String,
    pub platform_release: String,
    pub platform_system: String,
    pub platform_version: String,
    pub python_full_version: String,
    pub platform_python_implementation: String,
    pub python_version: String,
    pub sys_platform: String,
    /// Extras requested. `extras` (PEP 751) is this set; `extra` (wheel metadata, requirement
    /// files) takes each of its members in turn, or `""` when it is empty, as pip does.
    #[serde(default)]
    pub extras: BTreeSet<String>,
    /// Dependency groups requested (PEP 751 `dependency_groups`).
    #[serde(default)]
    pub dependency_groups: BTreeSet<String>,
}

/// A marker that does not parse, or cannot be evaluated (`"dog" ~= "fred"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    #[error("invalid marker {marker:?}: {what} at column {column}")]
    Syntax {
        marker: String,
        column: usize,
        what: String,
    },
    #[error("marker {marker:?} cannot be evaluated: {what}")]
    Evaluate { marker: String, what: String },
}

/// A parsed marker expression. `Display` shows it as written; deserializes from a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Marker {
    text: String,
    tree: Node,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Compare { lhs: Operand, op: Op, rhs: Operand },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    Var(Var),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    PythonVersion,
    PythonFullVersion,
    OsName,
    SysPlatform,
    PlatformRelease,
    PlatformSystem,
    PlatformVersion,
    PlatformMachine,
    PlatformPythonImplementation,
    ImplementationName,
    ImplementationVersion,
    Extra,
    Extras,
    DependencyGroups,
}

/// Variable names, including the legacy dotted spellings `packaging` still accepts.
const VARIABLES: &[(&str, Var)] = &[
    ("python_version", Var::PythonVersion),
    ("python_full_version", Var::PythonFullVersion),
    ("os_name", Var::OsName),
    ("os.name", Var::OsName),
    ("sys_platform", Var::SysPlatform),
    ("sys.platform", Var::SysPlatform),
    ("platform_release", Var::PlatformRelease),
    ("platform_system", Var::PlatformSystem),
    ("platform_version", Var::PlatformVersion),
    ("platform.version", Var::PlatformVersion),
    ("platform_machine", Var::PlatformMachine),
    ("platform.machine", Var::PlatformMachine),
    (
        "platform_python_implementation",
        Var::PlatformPythonImplementation,
    ),
    (
        "platform.python_implementation",
        Var::PlatformPythonImplementation,
    ),
    ("python_implementation", Var::PlatformPythonImplementation),
    ("implementation_name", Var::ImplementationName),
    ("implementation_version", Var::ImplementationVersion),
    ("extra", Var::Extra),
    ("extras", Var::Extras),
    ("dependency_groups", Var::DependencyGroups),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A PEP 440 operator, kept as its symbol (`===`, `==`, `~=`, …).
    Version(&'static str),
    In,
    NotIn,
}

/// Longest first, so `===` is not read as `==`.
const VERSION_OPS: [&str; 8] = ["===", "==", "!=", "<=", ">=", "~=", "<", ">"];

impl Marker {
    pub fn parse(text: &str) -> Result<Marker, MarkerError> {
        let mut parser = Parser { text, pos: 0 };
        let tree = parser.or()?;
        parser.skip_ws();
        if parser.pos < text.len() {
            return Err(parser.error("expected `and`, `or` or the end of the marker"));
        }
        Ok(Marker {
            text: text.trim().to_string(),
            tree,
        })
    }

    /// Whether the marker mentions `extra` (a wheel's `Requires-Dist` of an optional extra).
    pub fn uses_extra(&self) -> bool {
        self.tree.uses(Var::Extra)
    }

    /// Whether the marker holds in `env`.
    pub fn evaluate(&self, env: &MarkerEnv) -> Result<bool, MarkerError> {
        let eval = |extra: &str| {
            self.tree
                .evaluate(env, extra)
                .map_err(|what| MarkerError::Evaluate {
                    marker: self.text.clone(),
                    what,
                })
        };
        if !self.tree.uses(Var::Extra) || env.extras.is_empty() {
            return eval("");
        }
        for extra in &env.extras {
            if eval(extra)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl TryFrom<String> for Marker {
    type Error = MarkerError;

    fn try_from(text: String) -> Result<Marker, MarkerError> {
        Marker::parse(&text)
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A marker value during evaluation.
enum Value<'a> {
    Str(&'a str),
    Set(&'a BTreeSet<String>),
}

impl Node {
    fn uses(&self, var: Var) -> bool {
        match self {
            Node::And(a, b) | Node::Or(a, b) => a.uses(var) || b.uses(var),
            Node::Compare { lhs, rhs, .. } => {
                [lhs, rhs].into_iter().any(|o| *o == Operand::Var(var))
            }
        }
    }

    fn evaluate(&self, env: &MarkerEnv, extra: &str) -> Result<bool, String> {
        match self {
            Node::And(a, b) => Ok(a.evaluate(env, extra)? && b.evaluate(env, extra)?),
            Node::Or(a, b) => Ok(a.evaluate(env, extra)? || b.evaluate(env, extra)?),
            Node::Compare { lhs, op, rhs } => {
                // Names of extras and groups compare normalized (PEP 685).
                let normalized = [lhs, rhs].into_iter().any(|o| {
                    matches!(
                        o,
                        Operand::Var(Var::Extra | Var::Extras | Var::DependencyGroups)
                    )
                });
                compare(
                    resolve(lhs, env, extra),
                    *op,
                    resolve(rhs, env, extra),
                    normalized,
                )
            }
        }
    }
}

fn resolve<'a>(operand: &'a Operand, env: &'a MarkerEnv, extra: &'a str) -> Value<'a> {
    let var = match operand {
        Operand::Str(s) => return Value::Str(s),
        Operand::Var(var) => var,
    };
    Value::Str(match var {
        Var::PythonVersion => &env.python_version,
        Var::PythonFullVersion => &env.python_full_version,
        Var::OsName => &env.os_name,
        Var::SysPlatform => &env.sys_platform,
        Var::PlatformRelease => &env.platform_release,
        Var::PlatformSystem => &env.platform_system,
        Var::PlatformVersion => &env.platform_version,
        Var::PlatformMachine => &env.platform_machine,
        Var::PlatformPythonImplementation => &env.platform_python_implementation,
        Var::ImplementationName => &env.implementation_name,
        Var::ImplementationVersion => &env.implementation_version,
        Var::Extra => extra,
        Var::Extras => return Value::Set(&env.extras),
        Var::DependencyGroups => return Value::Set(&env.dependency_groups),
    })
}

fn compare(lhs: Value<'_>, op: Op, rhs: Value<'_>, normalized: bool) -> Result<bool, String> {
    let norm = |s: &str| {
        if normalized {
            normalize(s)
        } else {
            s.to_string()
        }
    };
    let (lhs, rhs) = match (lhs, op, rhs) {
        (Value::Str(item), Op::In | Op::NotIn, Value::Set(set)) => {
            let item = norm(item);
            let found = set.iter().any(|member| norm(member) == item);
            return Ok(found == (op == Op::In));
        }
        (Value::Str(lhs), _, Value::Str(rhs)) => (norm(lhs), norm(rhs)),
        _ => return Err("`extras` and `dependency_groups` only support `\"name\" in …`".into()),
    };
    let symbol = match op {
        Op::In => return Ok(rhs.contains(&lhs)),
        Op::NotIn => return Ok(!rhs.contains(&lhs)),
        Op::Version("===") => return Ok(lhs.eq_ignore_ascii_case(&rhs)),
        Op::Version(symbol) => symbol,
    };
    if let (Ok(spec), Ok(version)) = (
        Specifier::parse(&format!("{symbol}{rhs}")),
        Version::parse(&lhs),
    ) {
        return Ok(spec.contains(&version));
    }
    match symbol {
        "==" | "<=" | ">=" => Ok(lhs == rhs),
        "!=" => Ok(lhs != rhs),
        "<" | ">" => Ok(false),
        _ => Err(format!(
            "{lhs:?} {symbol} {rhs:?} needs versions on both sides"
        )),
    }
}

/// Recursive-descent parser over the marker text.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t']).len();
    }

    fn error(&self, what: &str) -> MarkerError {
        MarkerError::Syntax {
            marker: self.text.trim().to_string(),
            column: self.pos + 1,
            what: what.to_string(),
        }
    }

    /// Consumes `word` if it comes next as a whole word.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_ws();
        let Some(after) = self.rest().strip_prefix(word) else {
            return false;
        };
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return false;
        }
        self.pos += word.len();
        true
    }

    fn or(&mut self) -> Result<Node, MarkerError> {
        let mut node = self.and()?;
        while self.keyword("or") {
            node = Node::Or(Box::new(node), Box::new(self.and()?));
        }
        Ok(node)
    }

    fn and(&mut self) -> Result<Node, MarkerError> {
        let mut node = self.expr()?;
        while self.keyword("and") {
            node = Node::And(Box::new(node), Box::new(self.expr()?));
        }
        Ok(node)
    }

    fn expr(&mut self) -> Result<Node, MarkerError> {
        self.skip_ws();
        if self.rest().starts_with('(') {
            self.pos += 1;
            let node = self.or()?;
            self.skip_ws();
            if !self.rest().starts_with(')') {
                return Err(self.error("expected `)`"));
            }
            self.pos += 1;
            return Ok(node);
        }
        let lhs = self.operand()?;
        let op = self.op()?;
        let rhs = self.operand()?;
        Ok(Node::Compare { lhs, op, rhs })
    }

    fn operand(&mut self) -> Result<Operand, MarkerError> {
        self.skip_ws();
        let rest = self.rest();
        if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let Some(len) = rest[1..].find(quote) else {
                return Err(self.error("unterminated string"));
            };
            let value = rest[1..1 + len].to_string();
            self.pos += len + 2;
            return Ok(Operand::Str(value));
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected a marker variable or a quoted string"));
        }
        let word = &rest[..len];
        let var = VARIABLES
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, var)| *var);
        let var = var.ok_or_else(|| self.error(&format!("unknown marker variable `{word}`")))?;
        self.pos += len;
        Ok(Operand::Var(var))
    }

    fn op(&mut self) -> Result<Op, MarkerError> {
        self.skip_ws();
        if let Some(symbol) = VERSION_OPS
            .iter()
            .find(|symbol| self.rest().starts_with(**symbol))
        {
            self.pos += symbol.len();
            return Ok(Op::Version(symbol));
        }
        if self.keyword("in") {
            return Ok(Op::In);
        }
        if self.keyword("not") && self.keyword("in") {
            return Ok(Op::NotIn);
        }
        Err(self
            .error("expected a comparison operator (==, !=, <, <=, >, >=, ~=, ===, in, not in)"))
    }
}

/// Output of [`INTERPRETER_PROBE`] for CPython 3.11.7 on x86_64 glibc 2.36 Linux, the tag
/// list cut to its manylinux_2_28, manylinux_2_17, manylinux2014, linux and any platforms (113 of
/// 913 tags), for tests here and in sibling modules.
#[cfg(test)]
pub(super) const SAMPLE_PROBE_OUTPUT: &str = r##"{"markers": {"implementation_name": "cpython", "implementation_version": "3.11.7", "os_name": "posix", "platform_machine": "x86_64", "platform_release": "6.18.44-fc-v657", "platform_system": "Linux", "platform_version": "#1 SMP PREEMPT_DYNAMIC @0", "python_full_version": "3.11.7", "platform_python_implementation": "CPython", "python_version": "3.11", "sys_platform": "linux"},
"tags": [
  "cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_17_x86_64",
  "cp311-cp311-manylinux2014_x86_64", "cp311-cp311-linux_x86_64",
  "cp311-abi3-manylinux_2_28_x86_64", "cp311-abi3-manylinux_2_17_x86_64",
  "cp311-abi3-manylinux2014_x86_64", "cp311-abi3-linux_x86_64",
  "cp311-none-manylinux_2_28_x86_64", "cp311-none-manylinux_2_17_x86_64",
  "cp311-none-manylinux2014_x86_64", "cp311-none-linux_x86_64",
  "cp310-abi3-manylinux_2_28_x86_64", "cp310-abi3-manylinux_2_17_x86_64",
  "cp310-abi3-manylinux2014_x86_64", "cp310-abi3-linux_x86_64",
  "cp39-abi3-manylinux_2_28_x86_64", "cp39-abi3-manylinux_2_17_x86_64",
  "cp39-abi3-manylinux2014_x86_64", "cp39-abi3-linux_x86_64",
  "cp38-abi3-manylinux_2_28_x86_64", "cp38-abi3-manylinux_2_17_x86_64",
  "cp38-abi3-manylinux2014_x86_64", "cp38-abi3-linux_x86_64",
  "cp37-abi3-manylinux_2_28_x86_64", "cp37-abi3-manylinux_2_17_x86_64",
  "cp37-abi3-manylinux2014_x86_64", "cp37-abi3-linux_x86_64",
  "cp36-abi3-manylinux_2_28_x86_64", "cp36-abi3-manylinux_2_17_x86_64",
  "cp36-abi3-manylinux2014_x86_64", "cp36-abi3-linux_x86_64",
  "cp35-abi3-manylinux_2_28_x86_64", "cp35-abi3-manylinux_2_17_x86_64",
  "cp35-abi3-manylinux2014_x86_64", "cp35-abi3-linux_x86_64",
  "cp34-abi3-manylinux_2_28_x86_64", "cp34-abi3-manylinux_2_17_x86_64",
  "cp34-abi3-manylinux2014_x86_64", "cp34-abi3-linux_x86_64",
  "cp33-abi3-manylinux_2_28_x86_64", "cp33-abi3-manylinux_2_17_x86_64",
  "cp33-abi3-manylinux2014_x86_64", "cp33-abi3-linux_x86_64",
  "cp32-abi3-manylinux_2_28_x86_64", "cp32-abi3-manylinux_2_17_x86_64",
  "cp32-abi3-manylinux2014_x86_64", "cp32-abi3-linux_x86_64",
  "py311-none-manylinux_2_28_x86_64", "py311-none-manylinux_2_17_x86_64",
  "py311-none-manylinux2014_x86_64", "py311-none-linux_x86_64",
  "py3-none-manylinux_2_28_x86_64", "py3-none-manylinux_2_17_x86_64",
  "py3-none-manylinux2014_x86_64", "py3-none-linux_x86_64", "py310-none-manylinux_2_28_x86_64",
  "py310-none-manylinux_2_17_x86_64", "py310-none-manylinux2014_x86_64",
  "py310-none-linux_x86_64", "py39-none-manylinux_2_28_x86_64",
  "py39-none-manylinux_2_17_x86_64", "py39-none-manylinux2014_x86_64",
  "py39-none-linux_x86_64", "py38-none-manylinux_2_28_x86_64",
  "py38-none-manylinux_2_17_x86_64", "py38-none-manylinux2014_x86_64",
  "py38-none-linux_x86_64", "py37-none-manylinux_2_28_x86_64",
  "py37-none-manylinux_2_17_x86_64", "py37-none-manylinux2014_x86_64",
  "py37-none-linux_x86_64", "py36-none-manylinux_2_28_x86_64",
  "py36-none-manylinux_2_17_x86_64", "py36-none-manylinux2014_x86_64",
  "py36-none-linux_x86_64", "py35-none-manylinux_2_28_x86_64",
  "py35-none-manylinux_2_17_x86_64", "py35-none-manylinux2014_x86_64",
  "py35-none-linux_x86_64", "py34-none-manylinux_2_28_x86_64",
  "py34-none-manylinux_2_17_x86_64", "py34-none-manylinux2014_x86_64",
  "py34-none-linux_x86_64", "py33-none-manylinux_2_28_x86_64",
  "py33-none-manylinux_2_17_x86_64", "py33-none-manylinux2014_x86_64",
  "py33-none-linux_x86_64", "py32-none-manylinux_2_28_x86_64",
  "py32-none-manylinux_2_17_x86_64", "py32-none-manylinux2014_x86_64",
  "py32-none-linux_x86_64", "py31-none-manylinux_2_28_x86_64",
  "py31-none-manylinux_2_17_x86_64", "py31-none-manylinux2014_x86_64",
  "py31-none-linux_x86_64", "py30-none-manylinux_2_28_x86_64",
  "py30-none-manylinux_2_17_x86_64", "py30-none-manylinux2014_x86_64",
  "py30-none-linux_x86_64", "py311-none-any", "py3-none-any", "py310-none-any",
  "py39-none-any", "py38-none-any", "py37-none-any", "py36-none-any", "py35-none-any",
  "py34-none-any", "py33-none-any", "py32-none-any", "py31-none-any", "py30-none-any"
]}"##;

#[cfg(test)]
pub(super) fn sample_interpreter() -> Interpreter {
    serde_json::from_str(SAMPLE_PROBE_OUTPUT).unwrap()
}

#[cfg(test)]
pub(super) fn sample_env() -> MarkerEnv {
    serde_json::from_str::<Interpreter>(SAMPLE_PROBE_OUTPUT)
        .unwrap()
        .markers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(marker: &str, env: &MarkerEnv) -> bool {
        Marker::parse(marker)
            .unwrap_or_else(|e| panic!("{e}"))
            .evaluate(env)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn probe_output_deserializes() {
        let probe: Interpreter = serde_json::from_str(SAMPLE_PROBE_OUTPUT).unwrap();
        assert_eq!(probe.markers.python_full_version, "3.11.7");
        assert_eq!(probe.tags[0], "cp311-cp311-manylinux_2_28_x86_64");
        assert_eq!(probe.tags.len(), 113);
        assert!(probe.markers.extras.is_empty());
        assert!(INTERPRETER_PROBE.contains("sys_tags()") && !INTERPRETER_PROBE.contains('"'));
    }

    #[test]
    fn real_world_markers() {
        let env = sample_env();
        for (marker, expected) in [
            (r#"python_version >= "3.8""#, true),
            (r#"python_version < "3.8""#, false),
            (r#"python_version > "3.9""#, true),
            (r#"python_version<"3.11""#, false),
            (
                r#"python_full_version >= "3.11.0" and python_full_version < "3.11.8""#,
                true,
            ),
            (r#"python_version == "3.11.*""#, true),
            (r#"sys_platform == "win32""#, false),
            (r#"sys_platform != "win32""#, true),
            (
                r#"platform_system == "Linux" and platform_machine == "x86_64""#,
                true,
            ),
            (
                r#"platform_machine == "aarch64" or platform_machine == "x86_64""#,
                true,
            ),
            (
                r#"(sys_platform == "darwin" or sys_platform == "win32") and python_version >= "3""#,
                false,
            ),
            (
                r#"sys_platform == "darwin" or sys_platform == "win32" and python_version >= "3""#,
                false,
            ),
            (
                r#"platform_python_implementation == 'CPython' and python_version < '3.13'"#,
                true,
            ),
            (r#"implementation_name == "pypy""#, false),
            (r#"os_name == "nt""#, false),
            (r#""linux" in sys_platform"#, true),
            (r#""win" not in sys_platform"#, true),
            (r#"'64' in platform_machine"#, true),
            // platform_release is not PEP 440 here: string rules apply.
            (r#"platform_release >= "5.0""#, false),
            (r#"platform_release == "6.18.44-fc-v657""#, true),
            (r#"platform_release < "7""#, false),
            (r#"python_version ~= "3.10""#, true),
            (r#"implementation_version === "3.11.7""#, true),
            (r#"os.name == "posix" and sys.platform == "linux""#, true),
            (r#"extra == "socks""#, false),
            (r#"extra == """#, true),
        ] {
            assert_eq!(eval(marker, &env), expected, "{marker}");
        }
    }

    #[test]
    fn extra_takes_each_requested_extra_normalized() {
        let mut env = sample_env();
        env.extras = ["Security_Tools".to_string(), "socks".to_string()].into();
        assert!(eval(r#"extra == "security-tools""#, &env));
        assert!(eval(r#"extra == "socks" and python_version >= "3""#, &env));
        assert!(
            !eval(r#"extra == "socks" and extra == "security-tools""#, &env),
            "one extra at a time"
        );
        assert!(!eval(r#"extra == "tests""#, &env));
    }

    #[test]
    fn pep_751_sets() {
        let mut env = sample_env();
        env.extras = ["crypto".to_string()].into();
        env.dependency_groups = ["dev".to_string()].into();
        assert!(eval(r#""crypto" in extras"#, &env));
        assert!(eval(
            r#"'DEV' in dependency_groups and "docs" not in dependency_groups"#,
            &env
        ));
        assert!(!eval(r#""test" in dependency_groups"#, &env));
        let bad = Marker::parse(r#"extras == "crypto""#)
            .unwrap()
            .evaluate(&env);
        assert!(matches!(bad, Err(MarkerError::Evaluate { .. })));
    }

    #[test]
    fn evaluation_errors() {
        let env = sample_env();
        for marker in [r#""dog" ~= "fred""#, r#"platform_release ~= "5.0""#] {
            let err = Marker::parse(marker).unwrap().evaluate(&env).unwrap_err();
            assert!(
                err.to_string().contains("needs versions on both sides"),
                "{err}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_column() {
        for (marker, column, what) in [
            (
                r#"python_version >= "3.8" and"#,
                28,
                "expected a marker variable",
            ),
            (
                r#"python_version = "3.8""#,
                16,
                "expected a comparison operator",
            ),
            (
                r#"pyton_version == "3.8""#,
                1,
                "unknown marker variable `pyton_version`",
            ),
            (r#"(python_version == "3.8""#, 25, "expected `)`"),
            (r#"python_version == "3.8"#, 19, "unterminated string"),
            (
                r#"python_version == "3.8" sys_platform == "linux""#,
                25,
                "expected `and`, `or`",
            ),
            (
                r#"python_version notin "3.8""#,
                16,
                "expected a comparison operator",
            ),
            ("", 1, "expected a marker variable"),
        ] {
            match Marker::parse(marker) {
                Err(MarkerError::Syntax {
                    column: c, what: w, ..
                }) => {
                    assert_eq!(c, column, "{marker}: {w}");
                    assert!(w.contains(what), "{marker}: {w}");
                }
                other => panic!("{marker}: {other:?}"),
            }
        }
    }

    #[test]
    fn keeps_text_for_messages() {
        let marker = Marker::parse("  python_version<'3' ").unwrap();
        assert_eq!(marker.to_string(), "python_version<'3'");
    }
}
