//! The lossless token stream. Every byte of a file belongs to exactly one token, so
//! tools that must see everything (error recovery, semantic tokens, the formatter)
//! work from it even when the file does not parse.

use logos::Logos;
use std::ops::Range;

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    #[regex(r"[ \t\r\n]+")]
    Whitespace,
    #[regex(r"///[^\n]*", allow_greedy = true, priority = 4)]
    DocComment,
    #[regex(r"//[^\n]*", allow_greedy = true, priority = 3)]
    Comment,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident,
    #[regex(r"[0-9][0-9_]*(\.[0-9][0-9_]*)?")]
    Number,
    #[regex(r#""([^"\\\n]|\\[^\n])*""#)]
    String,
    /// A string whose closing quote is missing on its line.
    #[regex(r#""([^"\\\n]|\\[^\n])*"#)]
    UnterminatedString,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token(":")]
    Colon,
    #[token("=")]
    Eq,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    LtEq,
    #[token(">")]
    Gt,
    #[token(">=")]
    GtEq,
    #[token("=>")]
    FatArrow,
    #[token("->")]
    Arrow,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    /// A character that starts no token.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: u32,
    pub end: u32,
}

impl Token {
    pub fn range(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        &source[self.range()]
    }

    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Whitespace | TokenKind::Comment | TokenKind::DocComment
        )
    }
}

/// Words that begin a top-level declaration.
/// (`returns` only when it does not follow `compliance`: `compliance returns "NAME"`).
pub const DECLARATION_KEYWORDS: &[&str] = &[
    "schema",
    "const",
    "table",
    "policy",
    "compliance",
    "returns",
];

/// Whether `word`, after the significant word `previous`, begins a declaration.
pub fn starts_declaration(previous: Option<&str>, word: &str) -> bool {
    DECLARATION_KEYWORDS.contains(&word) && !(word == "returns" && previous == Some("compliance"))
}

/// Words that begin an item inside a policy or compliance profile
/// (`max` only when followed by `shipments`, `ship` by `complete` or `within`,
/// `deliver` by `within` or `by`, `transit` by `=`).
pub const ITEM_KEYWORDS: &[&str] = &[
    "applies",
    "priority",
    "let",
    "exclude",
    "safety",
    "cost",
    "objective",
    "max",
    "ship",
    "no",
    "stage",
    "on",
    "reject",
    "hold",
    "transit",
    "deliver",
    "refund",
    "dispose",
];

/// Reserved words, exactly as the grammar's `keyword` rule lists them.
pub const KEYWORDS: &[&str] = &[
    "and",
    "applies",
    "because",
    "compliance",
    "const",
    "cost",
    "else",
    "enum",
    "exclude",
    "false",
    "hold",
    "if",
    "in",
    "let",
    "maximize",
    "minimize",
    "not",
    "no",
    "objective",
    "on",
    "or",
    "per",
    "policy",
    "priority",
    "reject",
    "returns",
    "safety",
    "schema",
    "stage",
    "table",
    "then",
    "true",
    "when",
];

/// Splits `source` into tokens that cover it completely, in order.
pub fn lex(source: &str) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(source.len() / 4);
    let mut lexer = TokenKind::lexer(source);
    while let Some(result) = lexer.next() {
        let span = lexer.span();
        let kind = result.unwrap_or(TokenKind::Error);
        // Merge runs of invalid characters into one error token.
        if kind == TokenKind::Error
            && let Some(last) = tokens.last_mut()
            && let Token {
                kind: TokenKind::Error,
                end,
                ..
            } = last
            && *end as usize == span.start
        {
            *end = span.end as u32;
            continue;
        }
        tokens.push(Token {
            kind,
            start: span.start as u32,
            end: span.end as u32,
        });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        lex(source).iter().map(|t| t.kind).collect()
    }

    #[test]
    fn tokens_cover_the_source_exactly() {
        let source =
            "/// doc\npolicy \"a\" { exclude when x >= 50 km because \"far\" } // end\n@@ é";
        let tokens = lex(source);
        let mut at = 0;
        for token in &tokens {
            assert_eq!(token.start, at);
            at = token.end;
        }
        assert_eq!(at as usize, source.len());
    }

    #[test]
    fn distinguishes_doc_comments_and_unterminated_strings() {
        use TokenKind::*;
        assert_eq!(kinds("/// a"), vec![DocComment]);
        assert_eq!(kinds("// a"), vec![Comment]);
        assert_eq!(
            kinds("\"abc\ndef"),
            vec![UnterminatedString, Whitespace, Ident]
        );
        assert_eq!(kinds("a=>b"), vec![Ident, FatArrow, Ident]);
        assert_eq!(kinds("@@#"), vec![Error]);
    }
}
