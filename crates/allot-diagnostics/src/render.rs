use crate::{Diagnostic, Severity, Sources, Span};
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

/// The JSON form of a diagnostic, as `allot check --format json` prints it:
/// 1-based lines and columns (columns count characters), end exclusive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub help: Option<String>,
}

pub fn render_json(diagnostics: &[Diagnostic], sources: &Sources) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let file = sources.get(d.span.file);
            let start = file.line_col(d.span.start);
            let end = file.line_col(d.span.end);
            JsonDiagnostic {
                file: file.path.clone(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                severity: d.severity,
                code: d.code.as_str().to_string(),
                message: d.message.clone(),
                help: d.help.clone(),
            }
        })
        .collect()
}

/// Renders diagnostics as GitHub Actions workflow commands, one line each, which a
/// workflow shows as annotations on the pull request's changed lines:
/// `::error file=F,line=L,col=C,endLine=L,endColumn=C,title=E0204 missing-unit::message`.
pub fn render_github(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for (d, at) in diagnostics.iter().zip(render_json(diagnostics, sources)) {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message = format!("{message}\nhelp: {help}");
        }
        out += &format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            github_property(&at.file),
            at.line,
            at.column,
            at.end_line,
            at.end_column,
            github_property(&format!("{} {}", d.code.as_str(), d.code.name())),
            github_data(&message)
        );
    }
    out
}

/// A workflow command's message, escaped as the runner reads it.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`, which end it.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

type AriadneSpan = (String, std::ops::Range<usize>);

fn ariadne_span(sources: &Sources, span: Span) -> AriadneSpan {
    let file = sources.get(span.file);
    // Clamp so a span at the very end of a file still renders.
    let end = (span.end as usize).min(file.text.len());
    let start = (span.start as usize).min(end);
    (file.path.clone(), start..end)
}

/// Renders diagnostics for people: `file:line:column`, the source with the span
/// underlined, secondary labels and help. Colour only when asked (a terminal).
pub fn render_human(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let mut out = Vec::new();
    let mut cache = ariadne::sources(
        sources
            .iter()
            .map(|(_, f)| (f.path.clone(), f.text.as_str())),
    );
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let primary_color = match d.severity {
            Severity::Error => Color::Red,
            Severity::Warning => Color::Yellow,
        };
        let config = Config::default()
            .with_color(color)
            .with_index_type(IndexType::Byte);
        let mut report = Report::build(kind, ariadne_span(sources, d.span))
            .with_config(config)
            .with_code(d.code)
            .with_message(&d.message)
            .with_label(
                Label::new(ariadne_span(sources, d.span))
                    .with_message(d.code.name())
                    .with_color(primary_color),
            );
        for label in &d.labels {
            report = report.with_label(
                Label::new(ariadne_span(sources, label.span))
                    .with_message(&label.message)
                    .with_color(Color::Blue),
            );
        }
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        // Writing into a Vec cannot fail; a cache miss cannot happen (every file is in it).
        let _ = report.finish().write(&mut cache, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod github_tests {
    use super::{github_data, github_property};

    #[test]
    fn workflow_command_values_are_escaped() {
        assert_eq!(github_data("50% off\r\nnext"), "50%25 off%0D%0Anext");
        assert_eq!(github_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
