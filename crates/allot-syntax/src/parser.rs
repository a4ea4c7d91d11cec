//! The resilient parser. The token stream cuts a file into declarations (each starts
//! at a declaration keyword), pest parses each one; a block declaration (`schema`,
//! `policy`, `compliance`) that fails is cut again into its entries, so one broken
//! item costs only that item. Every piece is parsed by a rule of the pest grammar.
//! This module cuts and parses; the recovery inside blocks is in `parser/recover.rs`,
//! the wording of syntax errors in `parser/messages.rs`.

use crate::ast::*;
use crate::build::Builder;
use crate::grammar::{AllotParser, Rule};
use crate::lexer::{Token, TokenKind, lex, starts_declaration};
use allot_diagnostics::{Code, Diagnostic, FileId, Span};
use pest::Parser;
use pest::iterators::Pair;

mod messages;
mod recover;

/// The result of parsing one file: the tree of whatever parsed, the tokens, and
/// every syntax diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFile {
    pub file: File,
    pub tokens: Vec<Token>,
    pub diagnostics: Vec<Diagnostic>,
    /// Names declared by pieces that did not parse (`const`, `table`, `let`, schema
    /// attributes as `owner.name`): the checker treats them as known, so one syntax
    /// error does not cascade into "unknown name" errors.
    pub unparsed_names: Vec<String>,
}

/// Brackets, `if`s and `not`s nested deeper than this are refused before pest sees
/// them, so that no input can exhaust the parser's stack.
const MAX_NESTING: usize = 48;
/// The deepest expression tree the parser builds; every later pass recurses over it.
const MAX_EXPRESSION_DEPTH: usize = 200;
/// pest recurses about a dozen rules per nesting level: parse on a stack that fits
/// `MAX_NESTING` levels even in debug builds.
const PARSE_STACK: usize = 64 << 20;

/// The largest source file parsed. Rulesets are kilobytes; even a zone table of every
/// postal code fits many times over. A larger file is refused with one diagnostic,
/// without lexing it, so a runaway input costs nothing but its reading.
pub const MAX_SOURCE_BYTES: usize = 8 << 20;

pub fn parse(file: FileId, source: &str) -> ParsedFile {
    if source.len() > MAX_SOURCE_BYTES {
        return too_large(file, source.len());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if source.len() < PARALLEL_FROM || threads < 2 {
        return with_parse_stack(|| parse_on_this_stack(file, source, true));
    }
    parse_in_parallel(file, source, threads)
}

/// Why a file of `len` bytes is not read, and what to do instead.
pub fn too_large_message(len: u64) -> String {
    format!(
        "this file is {:.1} MiB; a source file may be at most {} MiB: split it (every `.allot` file of a directory belongs to one ruleset)",
        len as f64 / (1 << 20) as f64,
        MAX_SOURCE_BYTES >> 20
    )
}

fn too_large(file: FileId, len: usize) -> ParsedFile {
    let span = Span {
        file,
        start: 0,
        end: 0,
    };
    ParsedFile {
        diagnostics: vec![Diagnostic::new(
            Code::FILE_TOO_LARGE,
            span,
            too_large_message(len as u64),
        )],
        ..ParsedFile::empty()
    }
}

/// Files this large are parsed on several threads, declaration pieces divided among them.
const PARALLEL_FROM: usize = 64 << 10;

/// Parses the declaration pieces on `threads` threads. The threads parse without pest's
/// error detail, a switch global to the process; a piece with a diagnostic is parsed
/// again here, with detail, so messages are the same as from one thread.
fn parse_in_parallel(file: FileId, source: &str, threads: usize) -> ParsedFile {
    let chunks = declaration_chunks(source);
    let per_thread = source.len().div_ceil(threads);
    let mut groups: Vec<Vec<std::ops::Range<usize>>> = vec![Vec::new()];
    let mut size = 0;
    for chunk in chunks {
        if size >= per_thread && groups.len() < threads {
            groups.push(Vec::new());
            size = 0;
        }
        size += chunk.len();
        groups.last_mut().expect("a group").push(chunk);
    }
    let parse_group = |group: &[std::ops::Range<usize>]| -> Vec<ParsedFile> {
        group
            .iter()
            .map(|chunk| parse_on_this_stack(FileId(0), &source[chunk.clone()], false))
            .collect()
    };
    let parsed: Vec<Vec<ParsedFile>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| {
                std::thread::Builder::new()
                    .stack_size(PARSE_STACK)
                    .spawn_scoped(scope, || parse_group(group))
            })
            .collect();
        handles
            .into_iter()
            .zip(&groups)
            .map(|(handle, group)| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: parse here.
                Err(_) => with_parse_stack(|| parse_group(group)),
            })
            .collect()
    });
    let mut whole = ParsedFile::empty();
    with_parse_stack(|| {
        for (chunk, piece) in groups.iter().flatten().zip(parsed.into_iter().flatten()) {
            let piece = if piece.diagnostics.is_empty() {
                piece
            } else {
                parse_on_this_stack(FileId(0), &source[chunk.clone()], true)
            };
            whole.append(piece, file, chunk.start as u32);
        }
    });
    whole
}

/// Runs `f` on a stack deep enough for parsing. Already on one (parsing piece after
/// piece inside one call), no new stack is made: making one costs a fresh mapping.
pub fn with_parse_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(PARSE_STACK / 2, PARSE_STACK, f)
}

/// Byte ranges that cut a file into pieces that parse independently: each declaration
/// with the comments and blank lines before it (its doc comment among them). The
/// first piece also holds anything before the first declaration. Parsing each piece on
/// its own and relocating it ([`ParsedFile::append`]) gives what [`parse`] gives for the
/// whole file.
pub fn declaration_chunks(source: &str) -> Vec<std::ops::Range<usize>> {
    let tokens = lex(source);
    let mut starts = vec![0usize];
    let mut last_significant: Option<&Token> = None;
    for token in &tokens {
        if token.kind == TokenKind::Ident
            && let Some(last) = last_significant
            && starts_declaration(Some(last.text(source)), token.text(source))
        {
            starts.push(last.end as usize);
        }
        if !token.is_trivia() {
            last_significant = Some(token);
        }
    }
    starts.dedup();
    let mut chunks: Vec<std::ops::Range<usize>> = starts.windows(2).map(|w| w[0]..w[1]).collect();
    chunks.push(*starts.last().expect("one start")..source.len());
    chunks
}

impl ParsedFile {
    /// Adds a piece parsed on its own, moved to `base` in `file`.
    pub fn append(&mut self, mut piece: ParsedFile, file: FileId, base: u32) {
        use crate::relocate::Relocate;
        piece.file.decls.relocate(file, base);
        piece.tokens.relocate(file, base);
        piece.diagnostics.relocate(file, base);
        self.file.decls.extend(piece.file.decls);
        self.tokens.extend(piece.tokens);
        self.diagnostics.extend(piece.diagnostics);
        self.unparsed_names.extend(piece.unparsed_names);
    }

    pub fn empty() -> ParsedFile {
        ParsedFile {
            file: File::default(),
            tokens: Vec::new(),
            diagnostics: Vec::new(),
            unparsed_names: Vec::new(),
        }
    }
}

/// Parses on the current stack; `detail`: re-parse a failing piece with pest's error
/// detail for a better message.
fn parse_on_this_stack(file: FileId, source: &str, detail: bool) -> ParsedFile {
    let tokens = lex(source);
    let mut parser = FileParser {
        file,
        source,
        tokens: &tokens,
        diagnostics: Vec::new(),
        unparsed_names: Vec::new(),
        detail,
    };
    let decls = parser.declarations();
    let FileParser {
        diagnostics,
        unparsed_names,
        ..
    } = parser;
    ParsedFile {
        file: File { decls },
        tokens,
        diagnostics,
        unparsed_names,
    }
}

/// What a piece of text is parsed as; it decides how errors read at its end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    Declaration,
    PolicyItem,
    SchemaEntry,
}

struct FileParser<'a> {
    file: FileId,
    source: &'a str,
    tokens: &'a [Token],
    diagnostics: Vec<Diagnostic>,
    unparsed_names: Vec<String>,
    detail: bool,
}

impl<'a> FileParser<'a> {
    fn span(&self, start: u32, end: u32) -> Span {
        Span {
            file: self.file,
            start,
            end,
        }
    }

    fn text(&self, token: &Token) -> &str {
        token.text(self.source)
    }

    fn is_word(&self, token: &Token, words: &[&str]) -> bool {
        token.kind == TokenKind::Ident && words.contains(&self.text(token))
    }

    /// Indices of the significant (non-trivia) tokens in `range`.
    fn significant(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        range.filter(|&i| !self.tokens[i].is_trivia()).collect()
    }

    /// The `///` comments right before token `index` (only whitespace between them).
    pub(super) fn doc_before(&self, index: usize) -> Option<String> {
        let mut lines = Vec::new();
        for token in self.tokens[..index].iter().rev() {
            match token.kind {
                TokenKind::DocComment => {
                    let text = &self.text(token)[3..];
                    lines.push(
                        text.strip_prefix(' ')
                            .unwrap_or(text)
                            .trim_end()
                            .to_string(),
                    );
                }
                TokenKind::Whitespace => {}
                _ => break,
            }
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    }

    pub(super) fn token_index_at(&self, offset: u32) -> usize {
        self.tokens.partition_point(|t| t.start < offset)
    }

    /// A builder of the tree of the piece at `span`, reporting into this file's
    /// diagnostics.
    pub(super) fn builder(&mut self, span: Span) -> Builder<'_> {
        Builder {
            file: self.file,
            tokens: self.tokens,
            base: span.start as usize,
            diagnostics: &mut self.diagnostics,
        }
    }

    fn declarations(&mut self) -> Vec<Decl> {
        self.lexical_errors();
        let mut previous: Option<&str> = None;
        let mut starts: Vec<usize> = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            if token.is_trivia() {
                continue;
            }
            let text = token.text(self.source);
            if token.kind == TokenKind::Ident && starts_declaration(previous, text) {
                starts.push(i);
            }
            previous = Some(text);
        }
        let first = starts.first().copied().unwrap_or(self.tokens.len());
        let stray = self.significant(0..first);
        if let (Some(&a), Some(&b)) = (stray.first(), stray.last()) {
            let span = self.span(self.tokens[a].start, self.tokens[b].end);
            self.diagnostics.push(
                Diagnostic::new(Code::SYNTAX, span, "expected a declaration")
                    .with_help("a file holds `schema`, `const`, `table`, `policy` and `compliance` declarations"),
            );
        }
        let mut decls = Vec::new();
        for (n, &start) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(self.tokens.len());
            if let Some(decl) = self.declaration(start..end) {
                decls.push(decl);
            }
        }
        decls
    }

    fn lexical_errors(&mut self) {
        for token in self.tokens {
            let span = self.span(token.start, token.end);
            match token.kind {
                TokenKind::Error => self.diagnostics.push(Diagnostic::new(
                    Code::INVALID_CHARACTER,
                    span,
                    format!(
                        "`{}` is not allowed here",
                        token.text(self.source).escape_debug()
                    ),
                )),
                TokenKind::UnterminatedString => self.diagnostics.push(
                    Diagnostic::new(
                        Code::UNTERMINATED_STRING,
                        span,
                        "this string has no closing `\"`",
                    )
                    .with_help("strings end on the line they start"),
                ),
                _ => {}
            }
        }
    }

    fn has_lexical_error(&self, range: std::ops::Range<usize>) -> bool {
        self.tokens[range]
            .iter()
            .any(|t| matches!(t.kind, TokenKind::Error | TokenKind::UnterminatedString))
    }

    /// The token range without trailing trivia, as a byte span.
    fn trimmed_span(&self, range: std::ops::Range<usize>) -> Option<(usize, usize, Span)> {
        let significant = self.significant(range);
        let (&first, &last) = (significant.first()?, significant.last()?);
        Some((
            first,
            last,
            self.span(self.tokens[first].start, self.tokens[last].end),
        ))
    }

    fn declaration(&mut self, range: std::ops::Range<usize>) -> Option<Decl> {
        let (first, last, span) = self.trimmed_span(range.clone())?;
        let doc = self.doc_before(first);
        let keyword = self.text(&self.tokens[first]).to_string();
        let is_block = matches!(
            keyword.as_str(),
            "policy" | "compliance" | "returns" | "schema"
        );
        // A block's brackets are checked entry by entry during recovery instead.
        let balanced = self.check_delimiters(first..last + 1, !is_block);
        let mut whole_error = None;
        if balanced
            && !self.has_lexical_error(range)
            && self.check_nesting(first..last + 1, !is_block)
        {
            match self.parse_piece(Rule::declaration_entry, span, Piece::Declaration) {
                Ok(pair) => {
                    let mut builder = self.builder(span);
                    let (kind, span) = builder.declaration(pair);
                    let mut decl = Decl { kind, span, doc };
                    self.attach_entry_docs(&mut decl);
                    return Some(decl);
                }
                Err(error) => whole_error = Some(*error),
            }
        }
        if is_block {
            let reported = self.diagnostics.len();
            let decl = self.recover_block(&keyword, first, last, doc);
            if self.diagnostics.len() == reported {
                self.diagnostics.extend(whole_error);
            }
            return decl;
        }
        self.diagnostics.extend(whole_error);
        // `const NAME` / `table NAME`: remember the name so its uses are not errors.
        if let Some(&next) = self.significant(first + 1..last + 1).first() {
            let token = self.tokens[next];
            if token.kind == TokenKind::Ident {
                self.unparsed_names.push(self.text(&token).to_string());
            }
        }
        None
    }

    /// Parses `span` of the source with `rule`, returning the rule's (only) inner pair.
    fn parse_piece(
        &self,
        rule: Rule,
        span: Span,
        piece: Piece,
    ) -> Result<Pair<'a, Rule>, Box<Diagnostic>> {
        let source: &'a str = self.source;
        let text = &source[span.range()];
        match AllotParser::parse(rule, text).map_err(|first| {
            if self.detail {
                detailed_error(rule, text).unwrap_or(first)
            } else {
                first
            }
        }) {
            Ok(mut pairs) => {
                let pair = pairs
                    .next()
                    .and_then(|entry| entry.into_inner().next())
                    .expect("an entry rule holds one piece");
                if let Some(deep) = too_deep(pair.clone(), 0) {
                    let s = deep.as_span();
                    let at = Span::new(
                        self.file,
                        span.start as usize + s.start()..span.start as usize + s.end(),
                    );
                    return Err(Box::new(
                        Diagnostic::new(
                        Code::SYNTAX,
                        at,
                        format!(
                            "this expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep"
                        ),
                    )
                    .with_help("split it with `let`, `const` or a `table`"),
                    ));
                }
                Ok(pair)
            }
            Err(error) => Err(Box::new(self.syntax_error(error, span, piece))),
        }
    }

    /// Refuses nesting deeper than [`MAX_NESTING`] before pest recurses into it;
    /// reports it if `report`.
    fn check_nesting(&mut self, range: std::ops::Range<usize>, report: bool) -> bool {
        let (mut brackets, mut nots, mut ifs) = (0usize, 0usize, 0usize);
        for token in &self.tokens[range] {
            match token.kind {
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => brackets += 1,
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    brackets = brackets.saturating_sub(1)
                }
                TokenKind::Ident => match self.text(token) {
                    "not" => nots += 1,
                    "if" => ifs += 1,
                    _ => nots = 0,
                },
                TokenKind::Minus => nots += 1,
                _ if token.is_trivia() => {}
                _ => nots = 0,
            }
            if brackets.max(nots).max(ifs) > MAX_NESTING {
                if !report {
                    return false;
                }
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::SYNTAX,
                        self.span(token.start, token.end),
                        format!("this is nested more than {MAX_NESTING} levels deep"),
                    )
                    .with_help("split the expression with `let`, `const` or a `table`"),
                );
                return false;
            }
        }
        true
    }

    /// Whether the brackets in the range are balanced; if not and `report`, reports the
    /// first unclosed or unmatched one.
    fn check_delimiters(&mut self, range: std::ops::Range<usize>, report: bool) -> bool {
        let mut stack: Vec<Token> = Vec::new();
        for &token in &self.tokens[range] {
            let closer = match token.kind {
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => {
                    stack.push(token);
                    continue;
                }
                TokenKind::RBrace => TokenKind::LBrace,
                TokenKind::RParen => TokenKind::LParen,
                TokenKind::RBracket => TokenKind::LBracket,
                _ => continue,
            };
            let text = self.text(&token).to_string();
            match stack.pop() {
                Some(open) if open.kind == closer => {}
                _ if !report => return false,
                Some(open) => {
                    let open_text = self.text(&open).to_string();
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::UNCLOSED_DELIMITER,
                            self.span(token.start, token.end),
                            format!("`{text}` does not close `{open_text}`"),
                        )
                        .with_label(
                            self.span(open.start, open.end),
                            format!("`{open_text}` opened here"),
                        ),
                    );
                    return false;
                }
                None => {
                    self.diagnostics.push(Diagnostic::new(
                        Code::UNCLOSED_DELIMITER,
                        self.span(token.start, token.end),
                        format!("`{text}` has no opening bracket"),
                    ));
                    return false;
                }
            }
        }
        if let Some(open) = stack.last() {
            if !report {
                return false;
            }
            let open_text = self.text(open).to_string();
            let expected = match open.kind {
                TokenKind::LBrace => "}",
                TokenKind::LParen => ")",
                _ => "]",
            };
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UNCLOSED_DELIMITER,
                    self.span(open.start, open.end),
                    format!("`{open_text}` is never closed"),
                )
                .with_help(format!(
                    "add `{expected}` where the {} ends",
                    block_noun(open.kind)
                )),
            );
            return false;
        }
        true
    }
}

/// Parses a piece that failed again, recording every attempt at the failing position,
/// so the message can name the punctuation pest wanted (`{`, `=>`…). Detail costs about
/// half of pest's speed, so the first parse goes without it. The switch is global: a
/// parse running at the same moment on another thread may get more detail or, rarely,
/// less; either way only the wording of a message changes.
fn detailed_error(rule: Rule, text: &str) -> Option<pest::error::Error<Rule>> {
    pest::set_error_detail(true);
    let result = AllotParser::parse(rule, text);
    pest::set_error_detail(false);
    result.err()
}

/// The first pair whose expression tree would be deeper than [`MAX_EXPRESSION_DEPTH`].
/// Operator chains are flat in pest but nest in the tree: each operator adds a level.
fn too_deep(pair: Pair<'_, Rule>, depth: usize) -> Option<Pair<'_, Rule>> {
    let added = match pair.as_rule() {
        // Operands alternate with operators.
        Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
            pair.clone().into_inner().count() / 2
        }
        // Prefix `-`s, or `.field`s, around one operand.
        Rule::unary_expr | Rule::postfix_expr => {
            pair.clone().into_inner().count().saturating_sub(1)
        }
        Rule::expr | Rule::not_expr | Rule::cmp_expr => 0,
        _ => 1,
    };
    let depth = depth + added;
    if depth > MAX_EXPRESSION_DEPTH {
        return Some(pair);
    }
    pair.into_inner().find_map(|inner| too_deep(inner, depth))
}

fn block_noun(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::LBrace => "block",
        TokenKind::LParen => "parenthesis",
        _ => "list",
    }
}

fn push_unique(diagnostics: &mut Vec<Diagnostic>, diagnostic: Diagnostic) {
    if !diagnostics.contains(&diagnostic) {
        diagnostics.push(diagnostic);
    }
}
