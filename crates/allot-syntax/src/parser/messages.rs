//! Syntax errors in words a merchant reads: what was found (a token, or the end of the
//! piece) and what the grammar would have accepted there, from the rules pest tried,
//! with a hint when a reserved word stands where a name was expected.

use super::{FileParser, Piece};
use crate::grammar::Rule;
use crate::lexer::{KEYWORDS, Token, TokenKind};
use allot_diagnostics::{Code, Diagnostic, Span};

impl FileParser<'_> {
    pub(super) fn syntax_error(
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
        | Rule::transit_item
        | Rule::ship_within_item
        | Rule::deliver_within_item
        | Rule::deliver_by_item
        | Rule::keep_item
        | Rule::dispose_item
        | Rule::policy_item_entry => text("a policy item"),
        Rule::schema_decl
        | Rule::const_decl
        | Rule::table_decl
        | Rule::policy_decl
        | Rule::compliance_decl
        | Rule::returns_decl => text("a declaration"),
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
