//! Diagnostics as values: every problem the Allot front end finds is a [`Diagnostic`]
//! with a stable [`Code`], a severity, a primary span, secondary labels and an optional
//! help text and machine-applicable fix. Rendering (ariadne for people; JSON, SARIF and workflow commands for tools)
//! lives here too, so the CLI and the language server say exactly the same thing.

mod codes;
mod render;
mod sarif;
mod source;
mod suggest;

pub use codes::{ALL_CODES, Code};
pub use render::{JsonDiagnostic, render_github, render_human, render_json};
pub use sarif::{SarifLog, render_sarif};
pub use source::{FileId, LineCol, LineIndex, SourceFile, Sources, Span};
pub use suggest::closest;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary location that explains the primary one ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A text edit that resolves the diagnostic: the language server offers it as a quick fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    pub span: Span,
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A diagnostic whose severity is the one its code carries.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            labels: Vec::new(),
            help: None,
            fix: None,
        }
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// A help text that is also a fix: replace `span` by `replacement`.
    pub fn with_fix(
        mut self,
        span: Span,
        replacement: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        self.fix = Some(Fix {
            span,
            replacement: replacement.into(),
        });
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Moves every span it holds (primary, labels, fix) through `to`.
    pub fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span = to(self.span);
        for label in &mut self.labels {
            label.span = to(label.span);
        }
        if let Some(fix) = &mut self.fix {
            fix.span = to(fix.span);
        }
    }
}

/// Sorts diagnostics by file and position, then code, so output is stable across runs.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (
            a.span.file,
            a.span.start,
            a.span.end,
            a.code.as_str(),
            &a.message,
        )
            .cmp(&(
                b.span.file,
                b.span.start,
                b.span.end,
                b.code.as_str(),
                &b.message,
            ))
    });
}
