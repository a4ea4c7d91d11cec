//! The formatter: what it formats parses again, checks to the same diagnostics, formats
//! to itself, and keeps every comment.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn codes(text: &str) -> Vec<String> {
    let analysis = allot_check::analyze(&allot_fuzz::sources(text));
    analysis
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect()
}

fn comments(text: &str) -> Vec<String> {
    use allot_syntax::lexer::TokenKind;
    let mut comments: Vec<String> = (allot_syntax::lexer::lex(text).iter())
        .filter(|t| matches!(t.kind, TokenKind::Comment | TokenKind::DocComment))
        .map(|t| t.text(text).trim_end().to_string())
        .collect();
    comments.sort();
    comments
}

fuzz_target!(|data: &[u8]| {
    let text = allot_fuzz::text(data);
    let Ok(once) = allot_fmt::format(&text) else {
        return;
    };
    let twice = allot_fmt::format(&once).expect("the formatted file parses");
    assert_eq!(once, twice, "formatting is idempotent");
    assert_eq!(
        codes(&text),
        codes(&once),
        "formatting keeps the diagnostics"
    );
    assert_eq!(
        comments(&text),
        comments(&once),
        "formatting keeps the comments"
    );
});
