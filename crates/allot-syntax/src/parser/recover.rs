//! Item-level recovery: a block declaration (`schema`, `policy`, `compliance`,
//! `returns`) whose
//! whole parse failed is cut into its entries at item keywords and line starts, and
//! each entry is parsed alone, so one broken item costs only that item. Entries' doc
//! comments are attached here too. Messages are worded in `messages.rs`.

use super::{FileParser, Piece, push_unique};
use crate::ast::*;
use crate::grammar::Rule;
use crate::lexer::{ITEM_KEYWORDS, TokenKind};
use allot_diagnostics::{Code, Diagnostic};

impl FileParser<'_> {
    /// Recovery for a block whose whole parse failed: parse each entry on its own.
    pub(super) fn recover_block(
        &mut self,
        keyword: &str,
        first: usize,
        last: usize,
        doc: Option<String>,
    ) -> Option<Decl> {
        let significant = self.significant(first..last + 1);
        let is_schema = keyword == "schema";
        let returns_profile = keyword == "compliance"
            && significant
                .get(1)
                .is_some_and(|&i| self.text(&self.tokens[i]) == "returns");
        // Header: `schema {`, `policy "name" {` or `compliance returns "name" {`.
        let header_len = match (is_schema, returns_profile) {
            (true, _) => 2,
            (false, true) => 4,
            (false, false) => 3,
        };
        let header_ok = significant.len() >= header_len
            && (is_schema || self.tokens[significant[header_len - 2]].kind == TokenKind::String)
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
            let token = self.tokens[significant[header_len - 2]];
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
                    let mut builder = self.builder(span);
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
                kind: if keyword == "compliance" {
                    PolicyKind::Compliance
                } else {
                    PolicyKind::Policy
                },
                domain: if keyword == "returns" || returns_profile {
                    Domain::Returns
                } else {
                    Domain::Orders
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
            "ship" => matches!(next.as_deref(), Some("complete" | "within")),
            "deliver" => matches!(next.as_deref(), Some("within" | "by")),
            "transit" => next.as_deref() == Some("="),
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

    pub(super) fn attach_entry_docs(&self, decl: &mut Decl) {
        if let DeclKind::Schema(schema) = &mut decl.kind {
            for e in &mut schema.enums {
                e.doc = self.doc_before(self.token_index_at(e.span.start));
            }
            for a in &mut schema.attrs {
                a.doc = self.doc_before(self.token_index_at(a.span.start));
            }
        }
    }
}
