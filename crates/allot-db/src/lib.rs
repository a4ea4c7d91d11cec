//! The incremental database of the front end, shared by `allot check` and the language
//! server so that both report the same diagnostics from the same queries.
//!
//! Inputs are file texts ([`SourceFile`]) grouped into rulesets ([`Ruleset`]). A file is
//! cut into declaration pieces; each piece is parsed on its own and remembered by its
//! text, so an edit inside one declaration re-parses that declaration alone, wherever
//! the edit moves the others. The pieces are relocated into the file's parse, and the
//! ruleset's files are checked together.

use allot_check::{CheckResult, Model};
use allot_diagnostics::{Diagnostic, FileId, Sources, sort_diagnostics};
use allot_syntax::ParsedFile;

/// One source file: its place in its ruleset, its path and its current text.
#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(copy)]
    pub id: FileId,
    #[returns(ref)]
    pub path: String,
    #[returns(ref)]
    pub text: String,
}

/// The files that form one ruleset, in [`FileId`] order.
#[salsa::input(debug)]
pub struct Ruleset {
    #[returns(ref)]
    pub files: Vec<SourceFile>,
}

/// The text of one declaration piece: equal texts share one parse.
#[salsa::interned(debug)]
struct Piece<'db> {
    #[returns(ref)]
    text: String,
}

/// A piece parsed on its own, at offset 0.
#[salsa::tracked(returns(ref))]
fn parse_piece<'db>(db: &'db dyn salsa::Database, piece: Piece<'db>) -> ParsedFile {
    allot_syntax::parse(FileId(0), piece.text(db))
}

/// The parse of a file: its pieces, each parsed once, moved into place.
#[salsa::tracked(returns(ref))]
pub fn parsed_file(db: &dyn salsa::Database, file: SourceFile) -> ParsedFile {
    let text = file.text(db);
    let mut parsed = ParsedFile::empty();
    // One deep stack for all the pieces, not one each.
    allot_syntax::with_parse_stack(|| {
        for range in allot_syntax::declaration_chunks(text) {
            let piece = Piece::new(db, text[range.clone()].to_string());
            parsed.append(
                parse_piece(db, piece).clone(),
                file.id(db),
                range.start as u32,
            );
        }
    });
    parsed
}

/// The checked ruleset. Not compared for reuse: checked expressions compare equal
/// whatever their spans, and spans must follow the text.
#[salsa::tracked(returns(ref), no_eq)]
pub fn checked(db: &dyn salsa::Database, ruleset: Ruleset) -> CheckResult {
    let parsed: Vec<&ParsedFile> = ruleset
        .files(db)
        .iter()
        .map(|&file| parsed_file(db, file))
        .collect();
    allot_check::check(&parsed)
}

/// Every diagnostic of the ruleset, syntax and check, sorted by file and position.
#[salsa::tracked(returns(ref), no_eq)]
pub fn diagnostics(db: &dyn salsa::Database, ruleset: Ruleset) -> Vec<Diagnostic> {
    let mut all: Vec<Diagnostic> = ruleset
        .files(db)
        .iter()
        .flat_map(|&file| parsed_file(db, file).diagnostics.iter().cloned())
        .collect();
    all.extend(checked(db, ruleset).diagnostics.iter().cloned());
    sort_diagnostics(&mut all);
    all
}

/// The checked model of the ruleset.
pub fn model(db: &dyn salsa::Database, ruleset: Ruleset) -> &Model {
    &checked(db, ruleset).model
}

/// The ruleset's files as [`Sources`], for rendering diagnostics.
pub fn sources(db: &dyn salsa::Database, ruleset: Ruleset) -> Sources {
    let mut sources = Sources::new();
    for file in ruleset.files(db) {
        sources.add(file.path(db).clone(), file.text(db).clone());
    }
    sources
}

/// The database: salsa's storage, and an optional log of the queries that ran.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

impl Database {
    /// A database that reports each query it executes (not the ones it reuses) to
    /// `log`, by name: how tests show what an edit recomputes.
    pub fn with_query_log(log: impl Fn(&str) + Send + Sync + 'static) -> Database {
        Database {
            storage: salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
                if let salsa::EventKind::WillExecute { database_key } = event.kind {
                    log(&format!("{database_key:?}"));
                }
            }))),
        }
    }

    /// A ruleset of the given (path, text) files, in order.
    pub fn ruleset(&mut self, files: Vec<(String, String)>) -> Ruleset {
        let files = files
            .into_iter()
            .enumerate()
            .map(|(i, (path, text))| SourceFile::new(self, FileId(i as u32), path, text))
            .collect();
        Ruleset::new(self, files)
    }
}
