//! The lexer and the parser: any text gets tokens that cover it and a parse, never a
//! panic; parsing declaration by declaration gives the parse of the whole file.
#![no_main]

use allot_diagnostics::FileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = allot_fuzz::text(data);
    let mut end = 0;
    for token in allot_syntax::lexer::lex(&text) {
        assert_eq!(token.start, end, "the token stream is lossless");
        end = token.end;
    }
    assert_eq!(end as usize, text.len(), "the token stream covers the text");
    let file = FileId(0);
    let mut whole = allot_syntax::parse(file, &text);
    let mut pieces = allot_syntax::ParsedFile::empty();
    for chunk in allot_syntax::declaration_chunks(&text) {
        let piece = allot_syntax::parse(FileId(0), &text[chunk.clone()]);
        pieces.append(piece, file, chunk.start as u32);
    }
    allot_diagnostics::sort_diagnostics(&mut whole.diagnostics);
    allot_diagnostics::sort_diagnostics(&mut pieces.diagnostics);
    assert_eq!(pieces, whole, "parsed in pieces");
});
