//! Semantic tokens from the lossless token stream: they work on any text, parsed or not.

use allot_syntax::lexer::{ITEM_KEYWORDS, KEYWORDS, Token, TokenKind, lex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SemanticKind {
    Keyword,
    Comment,
    /// A `///` comment.
    DocComment,
    String,
    Number,
    Operator,
    /// An attribute after a dot: `order.retailer`.
    Property,
    /// A name called: `ground_rate(d)`.
    Function,
    Variable,
    /// A type or an enum's name, or a unit.
    Type,
}

impl SemanticKind {
    pub const ALL: &[SemanticKind] = &[
        SemanticKind::Keyword,
        SemanticKind::Comment,
        SemanticKind::DocComment,
        SemanticKind::String,
        SemanticKind::Number,
        SemanticKind::Operator,
        SemanticKind::Property,
        SemanticKind::Function,
        SemanticKind::Variable,
        SemanticKind::Type,
    ];
}

const TYPE_NAMES: &[&str] = &[
    "bool", "int", "number", "string", "location", "money", "distance", "weight", "duration",
    "percent", "set",
];

/// Every meaningful token of `text` with its kind: (start, end, kind), in order.
pub fn semantic_tokens(text: &str) -> Vec<(u32, u32, SemanticKind)> {
    let tokens = lex(text);
    let significant: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut out = Vec::new();
    // Position of the next significant token, kept in step with the walk.
    let mut at = 0;
    for token in &tokens {
        if !token.is_trivia() {
            at += 1;
        }
        let kind = match token.kind {
            TokenKind::Comment => SemanticKind::Comment,
            TokenKind::DocComment => SemanticKind::DocComment,
            TokenKind::String | TokenKind::UnterminatedString => SemanticKind::String,
            TokenKind::Number => SemanticKind::Number,
            TokenKind::Ident => ident_kind(token, at - 1, &significant, text),
            TokenKind::EqEq
            | TokenKind::NotEq
            | TokenKind::Lt
            | TokenKind::LtEq
            | TokenKind::Gt
            | TokenKind::GtEq
            | TokenKind::FatArrow
            | TokenKind::Arrow
            | TokenKind::Plus
            | TokenKind::Minus
            | TokenKind::Star
            | TokenKind::Slash
            | TokenKind::Eq => SemanticKind::Operator,
            TokenKind::Percent => SemanticKind::Type,
            _ => continue,
        };
        out.push((token.start, token.end, kind));
    }
    out
}

/// The kind of the identifier `token`, the `at`-th significant token.
fn ident_kind(token: &Token, at: usize, significant: &[&Token], text: &str) -> SemanticKind {
    let word = token.text(text);
    let before = at.checked_sub(1).map(|i| significant[i]);
    let after = significant.get(at + 1);
    if before.is_some_and(|t| t.kind == TokenKind::Dot) {
        return SemanticKind::Property;
    }
    if before.is_some_and(|t| t.kind == TokenKind::Number) {
        return SemanticKind::Type;
    }
    if after.is_some_and(|t| t.kind == TokenKind::LParen) {
        return SemanticKind::Function;
    }
    if KEYWORDS.contains(&word)
        || ITEM_KEYWORDS.contains(&word)
        || matches!(
            word,
            "shipments" | "complete" | "split" | "shortage" | "stock" | "backorder" | "cancel"
        ) && before.is_some_and(|t| t.kind == TokenKind::Ident)
    {
        return SemanticKind::Keyword;
    }
    if TYPE_NAMES.contains(&word) || word.starts_with(|c: char| c.is_ascii_uppercase()) {
        return SemanticKind::Type;
    }
    SemanticKind::Variable
}
