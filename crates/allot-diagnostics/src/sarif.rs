//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure DevOps) read:
//! one run whose tool lists a rule for every diagnostic code, and a result per
//! diagnostic with its place, related places and quick fix.

use crate::{ALL_CODES, Diagnostic, Severity, Sources, Span};
use serde::Serialize;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/allot-lang/allot";
const DIAGNOSTICS_HELP: &str =
    "https://github.com/allot-lang/allot/blob/main/docs/language.md#diagnostics";

#[derive(Serialize)]
pub struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    /// Columns count characters, as everywhere else in Allot's output.
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: String,
    short_description: Text,
    full_description: Text,
    help_uri: &'static str,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<SarifFix>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedLocation {
    id: usize,
    physical_location: PhysicalLocation,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

/// 1-based lines and columns; the end column is the one after the region.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifFix {
    description: Text,
    artifact_changes: [ArtifactChange; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactChange {
    artifact_location: ArtifactLocation,
    replacements: [Replacement; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    deleted_region: Region,
    inserted_content: Text,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The SARIF log of a check: every code as a rule, each diagnostic as a result.
/// `diagnostics` pairs each ruleset's diagnostics with the sources their spans are in.
pub fn render_sarif<'a>(
    diagnostics: impl IntoIterator<Item = (&'a [Diagnostic], &'a Sources)>,
) -> SarifLog {
    let rules = ALL_CODES
        .iter()
        .map(|code| Rule {
            id: code.as_str(),
            name: code.name().to_string(),
            short_description: Text {
                text: code.name().replace('-', " "),
            },
            full_description: Text {
                text: code.summary().to_string(),
            },
            help_uri: DIAGNOSTICS_HELP,
            default_configuration: Configuration {
                level: level(code.severity()),
            },
        })
        .collect();
    let mut results = Vec::new();
    for (diagnostics, sources) in diagnostics {
        results.extend(diagnostics.iter().map(|d| result(d, sources)));
    }
    SarifLog {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "allot",
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: INFORMATION_URI,
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    }
}

fn result(d: &Diagnostic, sources: &Sources) -> SarifResult {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message = format!("{message}\nhelp: {help}");
    }
    SarifResult {
        rule_id: d.code.as_str(),
        rule_index: ALL_CODES
            .iter()
            .position(|code| *code == d.code)
            .unwrap_or_default(),
        level: level(d.severity),
        message: Text { text: message },
        locations: [Location {
            physical_location: physical_location(sources, d.span),
        }],
        related_locations: d
            .labels
            .iter()
            .enumerate()
            .map(|(id, label)| RelatedLocation {
                id,
                physical_location: physical_location(sources, label.span),
                message: Text {
                    text: label.message.clone(),
                },
            })
            .collect(),
        fixes: d
            .fix
            .iter()
            .map(|fix| SarifFix {
                description: Text {
                    text: d.help.clone().unwrap_or_else(|| d.message.clone()),
                },
                artifact_changes: [ArtifactChange {
                    artifact_location: artifact_location(sources, fix.span),
                    replacements: [Replacement {
                        deleted_region: region(sources, fix.span),
                        inserted_content: Text {
                            text: fix.replacement.clone(),
                        },
                    }],
                }],
            })
            .collect(),
    }
}

fn physical_location(sources: &Sources, span: Span) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: artifact_location(sources, span),
        region: region(sources, span),
    }
}

fn artifact_location(sources: &Sources, span: Span) -> ArtifactLocation {
    ArtifactLocation {
        uri: path_uri(&sources.get(span.file).path),
    }
}

fn region(sources: &Sources, span: Span) -> Region {
    let file = sources.get(span.file);
    let start = file.line_col(span.start);
    let end = file.line_col(span.end);
    Region {
        start_line: start.line,
        start_column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

/// A path as a URI reference: relative paths stay relative (code scanning resolves them
/// against the checkout), absolute ones become `file://` URIs; anything but unreserved
/// characters and `/` is percent-encoded.
fn path_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut uri = String::from(if path.starts_with('/') { "file://" } else { "" });
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(byte as char)
            }
            _ => uri += &format!("%{byte:02X}"),
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::path_uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            path_uri("rulesets/example/a.allot"),
            "rulesets/example/a.allot"
        );
        assert_eq!(path_uri("my rules/ß.allot"), "my%20rules/%C3%9F.allot");
        assert_eq!(path_uri("/tmp/x#1.allot"), "file:///tmp/x%231.allot");
    }
}
