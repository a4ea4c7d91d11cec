//! The Allot checker: name resolution, type checking with units, contexts, and the
//! warnings a careful reviewer would give. Input: the parsed files of one ruleset.
//! Output: a [`Model`] and diagnostics.

mod check;
mod clause;
mod expr;
pub mod fold;
mod lint;
pub mod master_data;
pub mod model;
mod overlap;
pub mod spans;
pub mod types;

pub use check::{
    CheckResult, CheckedPolicy, Environment, assemble, check, check_environment, check_policy,
};
pub use model::Model;

use allot_diagnostics::{Diagnostic, Sources, sort_diagnostics};
use allot_syntax::ParsedFile;

/// Everything the front end knows about one ruleset.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub parsed: Vec<ParsedFile>,
    pub model: Model,
    /// Syntax and check diagnostics together, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and checks the files of one ruleset.
pub fn analyze(sources: &Sources) -> Analysis {
    let parsed: Vec<ParsedFile> = sources
        .iter()
        .map(|(id, file)| allot_syntax::parse(id, &file.text))
        .collect();
    let result = check(&parsed.iter().collect::<Vec<_>>());
    let mut diagnostics: Vec<Diagnostic> = parsed
        .iter()
        .flat_map(|p| p.diagnostics.iter().cloned())
        .collect();
    diagnostics.extend(result.diagnostics);
    sort_diagnostics(&mut diagnostics);
    Analysis {
        parsed,
        model: result.model,
        diagnostics,
    }
}
