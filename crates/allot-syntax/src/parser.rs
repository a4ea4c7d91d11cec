//! The resilient parser. The token stream cuts a file into declarations (each starts
//! at a declaration keyword), pest parses each one; a block declaration (`schema`,
//! `policy`, `compliance`) that fails is cut again into its entries, so one broken
//! item costs only that item. Every piece is parsed by a rule of the pest grammar.

use crate::ast::*;
use crate::build::Builder;
use crate::grammar::{AllotParser, Rule};
use crate::lexer::{DECLARATION_KEYWORDS, ITEM_KEYWORDS, KEYWORDS, Token, TokenKind, lex};
use allot_diagnostics::{Code, Diagnostic, FileId, Span};
use pest::Parser;
use pest::iterators::Pair;

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

pub fn parse(file: FileId, source: &str) -> ParsedFile {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if source.len() < PARALLEL_FROM || threads < 2 {
        return with_parse_stack(|| parse_on_this_stack(file, source, true));
    }
    parse_in_parallel(file, source, threads)
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
    let mut last_significant_end = None;
    for token in &tokens {
        if token.kind == TokenKind::Ident
            && DECLARATION_KEYWORDS.contains(&token.text(source))
            && let Some(end) = last_significant_end
        {
            starts.push(end);
        }
        if !token.is_trivia() {
            last_significant_end = Some(token.end as usize);
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

    fn declarations(&mut self) -> Vec<Decl> {
        self.lexical_errors();
        let starts: Vec<usize> = (0..self.tokens.len())
            .filter(|&i| self.is_word(&self.tokens[i], DECLARATION_KEYWORDS))
            .collect();
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
        let is_block = matches!(keyword.as_str(), "policy" | "compliance" | "schema");
        // A block's brackets are checked entry by entry during recovery instead.
        let balanced = self.check_delimiters(first..last + 1, !is_block);
        let mut whole_error = None;
        if balanced
            && !self.has_lexical_error(range)
            && self.check_nesting(first..last + 1, !is_block)
        {
            match self.parse_piece(Rule::declaration_entry, span, Piece::Declaration) {
                Ok(pair) => {
                    let mut builder = Builder {
                        file: self.file,
                        tokens: self.tokens,
                        base: span.start as usize,
                        diagnostics: &mut self.diagnostics,
                    };
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

    /// Recovery for a block whose whole parse failed: parse each entry on its own.
    fn recover_block(
        &mut self,
        keyword: &str,
        first: usize,
        last: usize,
        doc: Option<String>,
    ) -> Option<Decl> {
        let significant = self.significant(first..last + 1);
        let is_schema = keyword == "schema";
        // Header: `schema {` or `policy "name" {`.
        let header_len = if is_schema { 2 } else { 3 };
        let header_ok = significant.len() >= header_len
            && (is_schema || self.tokens[significant[1]].kind == TokenKind::String)
            && self.tokens[significant[header_len - 1]].kind == TokenKind::LBrace;
        if !header_ok {
            let span = self.span(self.tokens[first].start, self.tokens[last].end);
            if let Err(error) = self.parse_piece(Rule::declaration_entry, span, Piece::Declaration)
            {
                push_unique(&mut self.diagnostics, *error);
            }
            return None;
        }
        let open = significant[header_len - 1];
        let close = (self.tokens[last].kind == TokenKind::RBrace && last != open).then_some(last);
        if close.is_none() {
            let brace = self.tokens[open];
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UNCLOSED_DELIMITER,
                    self.span(brace.start, brace.end),
                    format!("the `{{` of this {keyword} is never closed"),
                )
                .with_help(format!("add `}}` where the {keyword} ends")),
            );
        }
        let body_end = close.unwrap_or(last + 1);
        let entries = self.entry_starts(open + 1..body_end, is_schema);
        let name = (!is_schema).then(|| {
            let token = self.tokens[significant[1]];
            let text = self.text(&token);
            StrLit {
                value: text[1..text.len() - 1].to_string(),
                span: self.span(token.start, token.end),
            }
        });
        let mut items = Vec::new();
        let mut schema = Schema {
            enums: Vec::new(),
            attrs: Vec::new(),
        };
        for (n, &start) in entries.iter().enumerate() {
            let end = entries.get(n + 1).copied().unwrap_or(body_end);
            let Some((entry_first, entry_last, span)) = self.trimmed_span(start..end) else {
                continue;
            };
            if self.has_lexical_error(entry_first..entry_last + 1)
                || !self.check_delimiters(entry_first..entry_last + 1, true)
                || !self.check_nesting(entry_first..entry_last + 1, true)
            {
                self.remember_entry_name(entry_first, entry_last);
                continue;
            }
            let (rule, piece) = if is_schema {
                (Rule::schema_entry_entry, Piece::SchemaEntry)
            } else {
                (Rule::policy_item_entry, Piece::PolicyItem)
            };
            match self.parse_piece(rule, span, piece) {
                Ok(pair) => {
                    let mut builder = Builder {
                        file: self.file,
                        tokens: self.tokens,
                        base: span.start as usize,
                        diagnostics: &mut self.diagnostics,
                    };
                    if is_schema {
                        builder.schema_entry(pair, &mut schema);
                    } else {
                        items.push(builder.item(pair));
                    }
                }
                Err(error) => {
                    self.diagnostics.push(*error);
                    self.remember_entry_name(entry_first, entry_last);
                }
            }
        }
        let span = self.span(self.tokens[first].start, self.tokens[last].end);
        let kind = match name {
            None => DeclKind::Schema(schema),
            Some(name) => DeclKind::Policy(Policy {
                kind: if keyword == "policy" {
                    PolicyKind::Policy
                } else {
                    PolicyKind::Compliance
                },
                name,
                items,
            }),
        };
        let mut decl = Decl { kind, span, doc };
        self.attach_entry_docs(&mut decl);
        Some(decl)
    }

    /// Where entries of a block body start: for a policy, at an item keyword that is at
    /// the body's top level or first on its line; for a schema, at every token first on
    /// its line at the top level.
    fn entry_starts(&self, body: std::ops::Range<usize>, is_schema: bool) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut depth = 0i32;
        let mut previous: Option<usize> = None;
        for i in body.clone() {
            let token = self.tokens[i];
            if token.is_trivia() {
                continue;
            }
            let first_on_line = previous
                .map(|p| {
                    self.source[self.tokens[p].end as usize..token.start as usize].contains('\n')
                })
                .unwrap_or(true);
            // Items start on their own line: a keyword inside a broken item (`cost ship`)
            // must not cut it in two.
            let is_start = first_on_line
                && (if is_schema {
                    depth == 0
                } else {
                    self.is_item_start(i, previous)
                });
            if is_start || starts.is_empty() {
                starts.push(i);
            }
            match token.kind {
                TokenKind::LBrace | TokenKind::LParen | TokenKind::LBracket => depth += 1,
                TokenKind::RBrace | TokenKind::RParen | TokenKind::RBracket => {
                    depth = (depth - 1).max(0)
                }
                _ => {}
            }
            previous = Some(i);
        }
        starts
    }

    fn is_item_start(&self, i: usize, previous: Option<usize>) -> bool {
        let token = self.tokens[i];
        if !self.is_word(&token, ITEM_KEYWORDS) {
            return false;
        }
        let next = self
            .significant(i + 1..self.tokens.len())
            .first()
            .map(|&n| self.text(&self.tokens[n]).to_string());
        match self.text(&token) {
            "max" => next.as_deref() == Some("shipments"),
            "ship" => next.as_deref() == Some("complete"),
            // `on shortage reject`: that `reject` is the action, not an item.
            "reject" => previous.is_none_or(|p| self.text(&self.tokens[p]) != "shortage"),
            _ => true,
        }
    }

    fn remember_entry_name(&mut self, first: usize, last: usize) {
        let significant = self.significant(first..last + 1);
        let texts: Vec<&str> = significant
            .iter()
            .take(3)
            .map(|&i| self.text(&self.tokens[i]))
            .collect();
        match texts.as_slice() {
            ["let", name, ..] => self.unparsed_names.push(name.to_string()),
            [owner, ".", name] => self.unparsed_names.push(format!("{owner}.{name}")),
            _ => {}
        }
    }

    /// The `///` comments right before token `index` (only whitespace between them).
    fn doc_before(&self, index: usize) -> Option<String> {
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

    fn token_index_at(&self, offset: u32) -> usize {
        self.tokens.partition_point(|t| t.start < offset)
    }

    fn attach_entry_docs(&self, decl: &mut Decl) {
        if let DeclKind::Schema(schema) = &mut decl.kind {
            for e in &mut schema.enums {
                e.doc = self.doc_before(self.token_index_at(e.span.start));
            }
            for a in &mut schema.attrs {
                a.doc = self.doc_before(self.token_index_at(a.span.start));
            }
        }
    }

    fn syntax_error(
        &self,
        error: pest::error::Error<Rule>,
        piece_span: Span,
        piece: Piece,
    ) -> Diagnostic {
        let offset = match error.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        } + piece_span.start as usize;
        let index = self.token_index_at(offset as u32);
        let found = self.significant(index..self.tokens.len()).first().copied();
        let (found_text, span) = match found {
            Some(i) if self.tokens[i].end <= piece_span.end => {
                let token = self.tokens[i];
                (
                    describe_token(&token, self.source),
                    self.span(token.start, token.end),
                )
            }
            _ => {
                let end = piece_span.end;
                let what = match piece {
                    Piece::Declaration => "the end of the declaration",
                    Piece::PolicyItem => "the end of the item",
                    Piece::SchemaEntry => "the end of the entry",
                };
                (what.to_string(), self.span(end, end))
            }
        };
        let expected = expected_list(&error, piece);
        let message = if expected.is_empty() {
            format!("unexpected {found_text}")
        } else {
            format!(
                "expected {}, found {found_text}",
                join_alternatives(&expected)
            )
        };
        let diagnostic = Diagnostic::new(Code::SYNTAX, span, message);
        // Only a word inside the piece: what follows it belongs to the next piece.
        let reserved = found
            .filter(|&i| self.tokens[i].end <= piece_span.end)
            .map(|i| self.text(&self.tokens[i]))
            .filter(|word| KEYWORDS.contains(word));
        match reserved {
            Some(word) if expected.iter().any(|e| e == "a name") => diagnostic.with_help(format!(
                "`{word}` is a reserved word and cannot be used as a name"
            )),
            _ => diagnostic,
        }
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

fn describe_token(token: &Token, source: &str) -> String {
    let text = token.text(source);
    match token.kind {
        TokenKind::String => "a string".to_string(),
        TokenKind::Number => format!("the number `{text}`"),
        _ => format!("`{text}`"),
    }
}

fn join_alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What the parser would have accepted, in words a merchant reads: the rules pest
/// tried at the failing position, plus the punctuation it tried there.
fn expected_list(error: &pest::error::Error<Rule>, piece: Piece) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut expression = false;
    let mut end = None;
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for &rule in positives {
            match describe_rule(rule, piece) {
                Some(Described::Expression) => expression = true,
                Some(Described::End(text)) => end = Some(text),
                // `on shortage` lists `reject` twice: as an action and as a keyword.
                Some(Described::Text(text)) if !out.iter().any(|o| o.contains(&text)) => {
                    out.push(text)
                }
                Some(Described::Text(_)) => {}
                None => {}
            }
        }
    }
    let operator = out.iter().any(|o| o == "an operator");
    for token in error
        .parse_attempts()
        .map(|a| a.expected_tokens())
        .unwrap_or_default()
    {
        let token = token.to_string();
        let wanted = match token.as_str() {
            "{" | "}" | ")" | "]" | "," | ":" | "=" | "=>" | "->" => true,
            "(" | "[" => !expression,
            "<" | ">" => !operator,
            _ => false,
        };
        let text = format!("`{token}`");
        if wanted && !out.contains(&text) {
            out.push(text);
        }
    }
    if expression {
        out.insert(0, "an expression".to_string());
    }
    out.extend(end);
    out
}

enum Described {
    Expression,
    /// What may end the piece: listed last.
    End(String),
    Text(String),
}

fn describe_rule(rule: Rule, piece: Piece) -> Option<Described> {
    use Described::*;
    let text = |s: &str| Some(Text(s.to_string()));
    match rule {
        Rule::expr
        | Rule::if_expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary_expr
        | Rule::postfix_expr
        | Rule::quantity
        | Rule::number
        | Rule::list
        | Rule::call
        | Rule::paren
        | Rule::op_neg
        | Rule::op_not
        | Rule::kw_true
        | Rule::kw_false
        | Rule::kw_if => Some(Expression),
        Rule::kw_and
        | Rule::kw_or
        | Rule::op_or
        | Rule::op_and
        | Rule::cmp_op
        | Rule::op_in
        | Rule::op_not_in
        | Rule::add_op
        | Rule::mul_op => text("an operator"),
        Rule::field => text("`.`"),
        Rule::ident | Rule::field_name => text("a name"),
        Rule::string | Rule::string_inner => text("a string"),
        Rule::integer => text("a whole number"),
        // After every number a unit may follow: saying so on each error is noise.
        Rule::unit | Rule::unit_word | Rule::percent => None,
        Rule::type_expr | Rule::set_type => text("a type"),
        Rule::params | Rule::param => text("a parameter `name: type`"),
        Rule::table_row | Rule::wildcard => text("a table row `condition => value`"),
        Rule::enum_decl | Rule::attr_decl | Rule::schema_entry_entry => {
            text("a schema entry (`enum Name { ... }` or `owner.attribute: type = default`)")
        }
        Rule::applies_item
        | Rule::priority_item
        | Rule::let_item
        | Rule::exclude_item
        | Rule::safety_item
        | Rule::cost_item
        | Rule::objective_item
        | Rule::max_shipments_item
        | Rule::ship_complete_item
        | Rule::no_line_split_item
        | Rule::stage_item
        | Rule::shortage_item
        | Rule::reject_item
        | Rule::hold_item
        | Rule::policy_item_entry => text("a policy item"),
        Rule::schema_decl
        | Rule::const_decl
        | Rule::table_decl
        | Rule::policy_decl
        | Rule::compliance_decl => text("a declaration"),
        Rule::because => text("`because`"),
        Rule::when_clause => text("`when`"),
        Rule::cost_basis | Rule::kw_shipment | Rule::kw_line | Rule::kw_unit => {
            text("`shipment`, `line` or `unit`")
        }
        Rule::criterion | Rule::direction | Rule::kw_minimize | Rule::kw_maximize => {
            text("`minimize` or `maximize`")
        }
        Rule::aggregate | Rule::aggregator => text("`max(...)`, `sum(...)`"),
        Rule::shortage_action | Rule::kw_backorder | Rule::kw_cancel => {
            text("`backorder`, `cancel` or `reject`")
        }
        Rule::EOI => Some(End(match piece {
            Piece::Declaration => "the end of the declaration",
            Piece::PolicyItem => "a new item or `}`",
            Piece::SchemaEntry => "a new entry or `}`",
        }
        .to_string())),
        other => {
            let name = format!("{other:?}");
            name.strip_prefix("kw_").map(|kw| Text(format!("`{kw}`")))
        }
    }
}
