//! The test file format: TOML, read with the position of every part, so that a
//! mistake is reported where it is written.

use allot_diagnostics::LineIndex;
use allot_runtime::decision::{Status, UnfilledAction};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A mistake in a test file: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestFileError {
    pub path: PathBuf,
    /// 1-based line and column (in characters); 0 when the whole file is meant.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TestFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// Where a network comes from: a JSON file (relative to the test file) or inline.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum NetworkSource {
    File(String),
    Inline(toml::Table),
}

/// A number as TOML writes it: `12` or `12.5`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn value(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// `cost = 12.5` (to the cent) or `cost = { at_least = 10, at_most = 20 }`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum CostExpectation {
    Exactly(Number),
    Between(CostBounds),
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostBounds {
    pub at_least: Option<Number>,
    pub at_most: Option<Number>,
}

/// `{ line = "1", node = "DC-NJ", qty = 2 }`: the node ships (that many units of) the
/// line; with `ship_by` / `deliver_by` (ISO dates), its shipment carries those dates.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipExpectation {
    pub line: Option<String>,
    pub node: String,
    pub qty: Option<i64>,
    pub ship_by: Option<String>,
    pub deliver_by: Option<String>,
}

/// `{ line = "2", qty = 3, action = "backorder" }`: units of the line left unfilled.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnfilledExpectation {
    pub line: String,
    pub qty: Option<i64>,
    pub action: Option<UnfilledAction>,
}

/// `{ node = "STORE-NYC", line = "1", because = "…" }`: a rule kept the node from the
/// line (from every line it could serve, without `line`). The rule is named by its
/// `because` text, by where it is written (`rule = "policies.allot:12"`), or by the
/// policy or profile it belongs to (`by = "bigbox-dropship"`); any of them, or none.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionExpectation {
    pub node: String,
    pub line: Option<String>,
    pub because: Option<String>,
    pub rule: Option<String>,
    pub by: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The order's id; may be left out when the scenario has one order.
    pub order: Option<Spanned<String>>,
    pub status: Option<Status>,
    pub policy: Option<Spanned<String>>,
    pub profiles: Option<Spanned<Vec<String>>>,
    pub reason: Option<String>,
    pub shipments: Option<usize>,
    /// Exactly the nodes that ship, in any order.
    pub nodes: Option<Spanned<Vec<String>>>,
    pub cost: Option<CostExpectation>,
    #[serde(default)]
    pub ship: Vec<Spanned<ShipExpectation>>,
    #[serde(default)]
    pub unfilled: Vec<Spanned<UnfilledExpectation>>,
    #[serde(default)]
    pub excluded: Vec<Spanned<ExclusionExpectation>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Spanned<String>,
    /// Replaces the file's network for this scenario.
    pub network: Option<Spanned<NetworkSource>>,
    /// Changes to nodes of the network: `id` names the node, other fields replace its own.
    #[serde(default)]
    pub node: Vec<Spanned<toml::Table>>,
    /// Changes to inventory: `node` and `sku` name the entry (added when missing).
    #[serde(default)]
    pub stock: Vec<Spanned<toml::Table>>,
    /// Orders, routed in sequence: each sees what the earlier ones took.
    #[serde(default)]
    pub order: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    pub expect: Vec<Spanned<Expectation>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    ruleset: Option<Spanned<String>>,
    network: Option<Spanned<NetworkSource>>,
    #[serde(default)]
    scenario: Vec<Spanned<Scenario>>,
}

/// A test file, read: its ruleset, default network and scenarios.
#[derive(Debug)]
pub struct TestFile {
    pub path: PathBuf,
    /// The ruleset under test: `ruleset = "…"` relative to the file, or its directory.
    pub ruleset: PathBuf,
    pub network: Option<Spanned<NetworkSource>>,
    pub scenarios: Vec<Spanned<Scenario>>,
    text: String,
    lines: LineIndex,
}

/// Test files are named `*.test.toml`.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.toml"))
}

impl TestFile {
    pub fn parse(path: &Path, text: String) -> Result<TestFile, TestFileError> {
        let lines = LineIndex::new(&text);
        let raw: RawFile = match toml::from_str(&text) {
            Ok(raw) => raw,
            Err(error) => {
                let (line, column) = error
                    .span()
                    .map_or((0, 0), |span| position(&lines, &text, span.start));
                return Err(TestFileError {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: error.message().trim_end().to_string(),
                });
            }
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let file = TestFile {
            path: path.to_path_buf(),
            ruleset: normalize(
                &raw.ruleset
                    .as_ref()
                    .map_or_else(|| dir.to_path_buf(), |r| dir.join(r.get_ref())),
            ),
            network: raw.network,
            scenarios: raw.scenario,
            text,
            lines,
        };
        if file.scenarios.is_empty() {
            return Err(file.error(0..0, "no scenarios: add a [[scenario]] table"));
        }
        if let Some(scenario) = file
            .scenarios
            .iter()
            .find(|s| s.get_ref().expect.is_empty())
        {
            return Err(file.error(
                scenario.span(),
                format!(
                    "scenario \"{}\" expects nothing: add an [[scenario.expect]] table",
                    scenario.get_ref().name.get_ref()
                ),
            ));
        }
        Ok(file)
    }

    /// The directory that relative paths in the file start from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// An error at a place in the file (an empty range at 0: the whole file).
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> TestFileError {
        let (line, column) = if span == (0..0) {
            (0, 0)
        } else {
            position(&self.lines, &self.text, span.start)
        };
        TestFileError {
            path: self.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// `tests/x/../../rulesets/a` as `rulesets/a`, so that traces name files as people
/// would. Lexical: a `..` after a symbolic link undoes the link, not its target.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn position(lines: &LineIndex, text: &str, offset: usize) -> (usize, usize) {
    let at = lines.line_col(text, offset.min(text.len()) as u32);
    (at.line as usize, at.column as usize)
}

/// A TOML value as the JSON the runtime reads (dates become strings).
pub fn to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(table) => table_to_json(table),
    }
}

pub fn table_to_json(table: &toml::Table) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .iter()
            .map(|(key, value)| (key.clone(), to_json(value)))
            .collect(),
    )
}
