//! The front end never panics and always finishes, whatever it is given.

use crate::repo_root;
use allot_diagnostics::Sources;
use proptest::prelude::*;

fn check_text(text: &str) {
    parses_the_same_in_pieces(text);
    let mut sources = Sources::new();
    sources.add("fuzz.allot", text);
    let analysis = allot_check::analyze(&sources);
    // Rendering must cope with every span the front end produces.
    allot_diagnostics::render_human(&analysis.diagnostics, &sources, false);
    allot_diagnostics::render_json(&analysis.diagnostics, &sources);
}

/// The language server parses each declaration on its own and reuses it while edits
/// move it: the pieces, relocated, must be exactly the parse of the whole file.
fn parses_the_same_in_pieces(text: &str) {
    use allot_diagnostics::FileId;
    let file = FileId(3);
    let mut whole = allot_syntax::parse(file, text);
    let mut pieces = allot_syntax::ParsedFile::empty();
    for chunk in allot_syntax::declaration_chunks(text) {
        let piece = allot_syntax::parse(FileId(0), &text[chunk.clone()]);
        pieces.append(piece, file, chunk.start as u32);
    }
    allot_diagnostics::sort_diagnostics(&mut whole.diagnostics);
    allot_diagnostics::sort_diagnostics(&mut pieces.diagnostics);
    assert_eq!(pieces, whole, "parsed in pieces: {text:?}");
}

/// Tokens of the language, to build inputs that get far into the parser.
const TOKENS: &[&str] = &[
    "schema",
    "const",
    "table",
    "policy",
    "compliance",
    "enum",
    "applies",
    "when",
    "priority",
    "let",
    "exclude",
    "because",
    "safety",
    "stock",
    "cost",
    "per",
    "shipment",
    "line",
    "unit",
    "objective",
    "minimize",
    "maximize",
    "shipments",
    "max",
    "sum",
    "ship",
    "complete",
    "no",
    "split",
    "stage",
    "on",
    "shortage",
    "backorder",
    "cancel",
    "reject",
    "hold",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "in",
    "true",
    "false",
    "order",
    "node",
    "item",
    "kind",
    "store",
    "dc",
    "x",
    "d",
    "set",
    "string",
    "int",
    "money",
    "distance",
    "\"a\"",
    "\"",
    "1",
    "2.5",
    "50 km",
    "4.50 USD",
    "90%",
    "0.35 USD/kg",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    ":",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=>",
    "->",
    "+",
    "-",
    "*",
    "/",
    "_",
    "//",
    "///",
    "\n",
    " ",
    "é",
    "@",
];

fn corpus_texts() -> Vec<String> {
    let root = repo_root();
    let mut texts = Vec::new();
    for dir in ["tests/corpus/valid", "rulesets/example"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "allot") {
                texts.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    texts
}

/// The text split into the language's tokens (white space and comments included).
fn pieces(text: &str) -> Vec<String> {
    allot_syntax::lexer::lex(text)
        .iter()
        .map(|t| t.text(text).to_string())
        .collect()
}

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_sequences(indices in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let text: Vec<&str> = indices.iter().map(|&i| TOKENS[i]).collect();
        check_text(&text.join(" "));
    }

    #[test]
    fn valid_files_with_tokens_deleted_duplicated_or_swapped(
        file in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            prop_oneof![
                any::<prop::sample::Index>().prop_map(|i| Edit::Delete(i.index(usize::MAX))),
                any::<prop::sample::Index>().prop_map(|i| Edit::Duplicate(i.index(usize::MAX))),
                (any::<prop::sample::Index>(), any::<prop::sample::Index>())
                    .prop_map(|(a, b)| Edit::Swap(a.index(usize::MAX), b.index(usize::MAX))),
            ],
            1..6,
        ),
    ) {
        let texts = corpus_texts();
        let mut tokens = pieces(&texts[file.index(texts.len())]);
        for edit in edits {
            if tokens.is_empty() {
                break;
            }
            let n = tokens.len();
            match edit {
                Edit::Delete(i) => { tokens.remove(i % n); }
                Edit::Duplicate(i) => { let t = tokens[i % n].clone(); tokens.insert(i % n, t); }
                Edit::Swap(a, b) => tokens.swap(a % n, b % n),
            }
        }
        check_text(&tokens.concat());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Large files are parsed on several threads: the result is the one-thread parse,
    /// messages of broken declarations included.
    #[test]
    fn large_files_parse_the_same_on_several_threads(
        edits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut tokens = pieces(&corpus_texts().join("\n"));
        while tokens.concat().len() < 200 << 10 {
            tokens.extend_from_within(..);
        }
        for edit in edits {
            let i = edit.index(tokens.len());
            tokens.remove(i);
        }
        parses_the_same_in_pieces(&tokens.concat());
    }
}

/// Deeply nested input must not overflow the stack.
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [100, 2_000, 100_000] {
        let text = format!("const a = {}1{}", "(".repeat(depth), ")".repeat(depth));
        check_text(&text);
        let text = format!("const a = {}1", "-".repeat(depth));
        check_text(&text);
        let text = format!("const a = 1{}", " + 1".repeat(depth));
        check_text(&text);
    }
}

/// A file over the size limit gets one diagnostic and is not lexed: 100 MB answers at once.
#[test]
fn a_file_over_the_size_limit_is_refused() {
    let line = "const a = 1 // a line of a very large file\n";
    let text = line.repeat((100 << 20) / line.len());
    let parsed = allot_syntax::parse(allot_diagnostics::FileId(0), &text);
    let codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0007"]);
    assert!(parsed.tokens.is_empty() && parsed.file.decls.is_empty());
    let mut sources = Sources::new();
    sources.add("big.allot", &text);
    let analysis = allot_check::analyze(&sources);
    let human = allot_diagnostics::render_human(&analysis.diagnostics, &sources, false);
    assert!(
        human.contains("E0007") && human.contains("100.0 MiB"),
        "{human}"
    );
    // At the limit, the file is read as usual.
    let at_limit = &text[..allot_syntax::MAX_SOURCE_BYTES];
    let at_limit = &at_limit[..at_limit.rfind('\n').unwrap() + 1];
    assert!(
        allot_syntax::parse(allot_diagnostics::FileId(0), at_limit)
            .diagnostics
            .is_empty()
    );
}
