//! The syntax of Allot: the lossless token stream ([`lexer`]), the pest grammar
//! ([`grammar`], generated from `grammar/allot.pest`), the syntax tree ([`ast`]) and
//! the resilient parser ([`parse`]).

pub mod ast;
mod build;
pub mod grammar;
pub mod lexer;
mod parser;
pub mod relocate;

pub use parser::{
    MAX_SOURCE_BYTES, ParsedFile, declaration_chunks, parse, too_large_message, with_parse_stack,
};
