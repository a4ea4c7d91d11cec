//! The parser generated from `grammar/allot.pest`.

#[derive(pest_derive::Parser)]
#[grammar = "../../../grammar/allot.pest"]
pub struct AllotParser;
