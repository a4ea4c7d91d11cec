//! The incremental database of the front end, shared by `allot check` and the language
//! server so that both report the same diagnostics from the same queries.
//!
//! Inputs are file texts ([`SourceFile`]) grouped into rulesets ([`Ruleset`]). A file is
//! cut into declaration pieces; each piece is parsed on its own and remembered by its
//! text, so an edit inside one declaration re-parses that declaration alone, wherever
//! the edit moves the others. Checking works the same way: the schema, consts and
//! tables form an environment checked once; each policy is checked on its own against
//! it, so an edit inside one policy re-checks that policy alone. The results are moved
//! into place, and what needs every policy (duplicate names, unused declarations,
//! priority ties, looser profiles) runs last.

use allot_check::spans::MapSpans;
use allot_check::{CheckResult, CheckedPolicy, Environment, Model};
use allot_diagnostics::{Diagnostic, FileId, Sources, Span, sort_diagnostics};
use allot_syntax::ParsedFile;
use allot_syntax::ast::{Decl, DeclKind};
use allot_syntax::relocate::Relocate;
use std::collections::HashSet;

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

/// A piece parsed on its own, at offset 0 of [`PIECE_ITSELF`]. At most 8,192 are kept
/// (far above the ~750 pieces of a 10,000-line ruleset): otherwise every version of a
/// declaration typed in an editor would be.
#[salsa::tracked(returns(ref), lru = 8192)]
fn parse_piece<'db>(db: &'db dyn salsa::Database, piece: Piece<'db>) -> ParsedFile {
    allot_syntax::parse(PIECE_ITSELF, piece.text(db))
}

/// Where results computed on a piece on its own say "this piece". Environment pieces
/// are numbered from 1, so that one policy's result can point into both.
const PIECE_ITSELF: FileId = FileId(0);

/// A file's declaration pieces and the offsets they start at.
#[salsa::tracked(returns(ref))]
fn file_pieces<'db>(db: &'db dyn salsa::Database, file: SourceFile) -> Vec<(Piece<'db>, u32)> {
    let text = file.text(db);
    if text.len() > allot_syntax::MAX_SOURCE_BYTES {
        // `parsed_file` reports it; nothing of it is read.
        return Vec::new();
    }
    allot_syntax::declaration_chunks(text)
        .into_iter()
        .map(|range| {
            let start = range.start as u32;
            (Piece::new(db, text[range].to_string()), start)
        })
        .collect()
}

/// The parse of a file: its pieces, each parsed once, moved into place.
#[salsa::tracked(returns(ref))]
pub fn parsed_file(db: &dyn salsa::Database, file: SourceFile) -> ParsedFile {
    let text = file.text(db);
    if text.len() > allot_syntax::MAX_SOURCE_BYTES {
        return allot_syntax::parse(file.id(db), text);
    }
    let mut parsed = ParsedFile::empty();
    // One deep stack for all the pieces, not one each.
    allot_syntax::with_parse_stack(|| {
        for &(piece, start) in file_pieces(db, file) {
            parsed.append(parse_piece(db, piece).clone(), file.id(db), start);
        }
    });
    parsed
}

/// Every piece of the ruleset, with its file and offset, in declaration order.
fn placed_pieces<'db>(
    db: &'db dyn salsa::Database,
    ruleset: Ruleset,
) -> impl Iterator<Item = (FileId, Piece<'db>, u32)> {
    ruleset.files(db).iter().flat_map(move |&file| {
        file_pieces(db, file)
            .iter()
            .map(move |&(piece, start)| (file.id(db), piece, start))
    })
}

/// The pieces that declare anything besides policies and profiles, in order: the k-th
/// is environment piece number k + 1.
fn placed_environment_pieces<'db>(
    db: &'db dyn salsa::Database,
    ruleset: Ruleset,
) -> impl Iterator<Item = (FileId, Piece<'db>, u32)> {
    placed_pieces(db, ruleset).filter(move |&(_, piece, _)| {
        parse_piece(db, piece)
            .file
            .decls
            .iter()
            .any(|d| !matches!(d.kind, DeclKind::Policy(_)))
    })
}

/// The pieces that make the environment (schema, consts, tables), without their
/// places: moving them does not change it.
#[salsa::tracked(returns(ref))]
fn environment_pieces<'db>(db: &'db dyn salsa::Database, ruleset: Ruleset) -> Vec<Piece<'db>> {
    placed_environment_pieces(db, ruleset)
        .map(|(_, piece, _)| piece)
        .collect()
}

/// Names declared in text that did not parse, in any file: checks do not call them
/// unknown.
#[salsa::tracked(returns(ref))]
fn unparsed_names(db: &dyn salsa::Database, ruleset: Ruleset) -> HashSet<String> {
    placed_pieces(db, ruleset)
        .flat_map(|(_, piece, _)| parse_piece(db, piece).unparsed_names.iter().cloned())
        .collect()
}

/// The environment, checked where its pieces were parsed: the k-th environment piece
/// is `FileId(k + 1)`.
#[salsa::tracked(returns(ref), no_eq)]
fn environment(db: &dyn salsa::Database, ruleset: Ruleset) -> Environment {
    let mut decls = Vec::new();
    for (k, &piece) in environment_pieces(db, ruleset).iter().enumerate() {
        let mut piece_decls = parse_piece(db, piece).file.decls.clone();
        piece_decls.relocate(FileId(k as u32 + 1), 0);
        decls.extend(piece_decls);
    }
    let decls: Vec<&Decl> = decls.iter().collect();
    allot_check::check_environment(&decls, unparsed_names(db, ruleset))
}

/// A policy or profile: the `index`-th declaration of a piece, checked against the
/// ruleset's environment. It depends on its own text and the environment only. At most
/// 8,192 are kept, as for parses.
#[salsa::tracked(returns(ref), no_eq, lru = 8192)]
fn checked_policy<'db>(
    db: &'db dyn salsa::Database,
    ruleset: Ruleset,
    piece: Piece<'db>,
    index: usize,
) -> Option<CheckedPolicy> {
    let decl = &parse_piece(db, piece).file.decls[index];
    allot_check::check_policy(environment(db, ruleset), unparsed_names(db, ruleset), decl)
}

/// The checked ruleset: the environment and each policy moved into place, then what
/// needs them all. Not compared for reuse: checked expressions compare equal whatever
/// their spans, and spans must follow the text.
#[salsa::tracked(returns(ref), no_eq)]
pub fn checked(db: &dyn salsa::Database, ruleset: Ruleset) -> CheckResult {
    // Where each environment piece is now, by its number.
    let mut places = vec![(PIECE_ITSELF, 0)];
    places.extend(placed_environment_pieces(db, ruleset).map(|(file, _, start)| (file, start)));
    let mut env = environment(db, ruleset).clone();
    env.map_spans(&moved(&places));
    let mut policies = Vec::new();
    for (file, piece, start) in placed_pieces(db, ruleset) {
        let decls = &parse_piece(db, piece).file.decls;
        for (index, decl) in decls.iter().enumerate() {
            if !matches!(decl.kind, DeclKind::Policy(_)) {
                continue;
            }
            if let Some(policy) = checked_policy(db, ruleset, piece, index) {
                places[0] = (file, start);
                let mut policy = policy.clone();
                policy.map_spans(&moved(&places));
                policies.push(policy);
            }
        }
    }
    let report_unused = !ruleset.files(db).iter().any(|&file| {
        parsed_file(db, file)
            .diagnostics
            .iter()
            .any(Diagnostic::is_error)
    });
    allot_check::assemble(env, policies, report_unused)
}

/// Moves a span from where its piece was checked to where the piece is: `places[k]`
/// is piece number k's file and offset.
fn moved(places: &[(FileId, u32)]) -> impl Fn(Span) -> Span + '_ {
    move |span| {
        let (file, base) = places[span.file.0 as usize];
        Span {
            file,
            start: span.start + base,
            end: span.end + base,
        }
    }
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
