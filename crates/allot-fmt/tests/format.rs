//! Formatting is idempotent and never changes meaning: the compiled plan (positions
//! aside) and the diagnostics are the same before and after.

use allot_diagnostics::Sources;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn allot_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            allot_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "allot") {
            out.push(path);
        }
    }
}

/// What a file means: its plan without positions and source text, or its diagnostic codes.
fn meaning(text: &str) -> serde_json::Value {
    let mut sources = Sources::new();
    sources.add("f.allot", text);
    let analysis = allot_check::analyze(&sources);
    let codes: Vec<&str> = analysis
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    if analysis.diagnostics.iter().any(|d| d.is_error()) {
        return serde_json::json!({ "codes": codes });
    }
    let plan = allot_compile::compile(&analysis.model, &sources);
    let mut value = serde_json::to_value(plan).unwrap();
    strip(&mut value);
    serde_json::json!({ "codes": codes, "plan": value })
}

fn strip(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("origin");
            map.remove("source");
            map.remove("files");
            map.values_mut().for_each(strip);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

fn check_file(text: &str, name: &str) {
    let Ok(once) = allot_fmt::format(text) else {
        return;
    };
    let twice = allot_fmt::format(&once)
        .unwrap_or_else(|e| panic!("{name}: the formatted file does not parse: {e}\n{once}"));
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    assert_eq!(
        meaning(text),
        meaning(&once),
        "{name}: formatting changed the meaning:\n{once}"
    );
    // Every comment survives.
    let comments = |t: &str| {
        t.lines()
            .filter_map(|l| l.find("//").map(|i| l[i..].trim_end().to_string()))
            .collect::<Vec<_>>()
    };
    let mut before = comments(text);
    let mut after = comments(&once);
    before.sort();
    after.sort();
    assert_eq!(before, after, "{name}: comments were lost or changed");
}

#[test]
fn every_file_in_the_repository() {
    let mut files = Vec::new();
    allot_files(&root().join("rulesets"), &mut files);
    allot_files(&root().join("tests/corpus"), &mut files);
    assert!(files.len() > 40);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        check_file(&text, &file.display().to_string());
    }
}

#[test]
fn the_example_ruleset_is_formatted() {
    let mut files = Vec::new();
    allot_files(&root().join("rulesets"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            allot_fmt::format(&text).unwrap(),
            text,
            "{} is not in canonical layout",
            file.display()
        );
    }
}

#[test]
fn files_with_syntax_errors_are_refused() {
    let error = allot_fmt::format("policy \"p\" { priority 1 1 }").unwrap_err();
    assert_eq!(
        error.to_string(),
        "not formatted: the file has 1 syntax error (run `allot check` to see them)"
    );
}

#[test]
fn layout() {
    let messy = "// lead\nconst  a=1   km // trailing\n/// doc\npolicy \"p\"{exclude when node.kind==store because \"s\"\nexclude when not node.enabled because \"off\"\n\n\n\ncost x per unit=1 USD\ncost longer per shipment = 2 USD when order.lines>1}\ntable t(d:distance)->money{d<5 km=>1 USD\n_=>2 USD}";
    let expected = "// lead\nconst a = 1 km  // trailing\n\n/// doc\npolicy \"p\" {\n  exclude when node.kind == store because \"s\"\n  exclude when not node.enabled   because \"off\"\n\n  cost x      per unit     = 1 USD\n  cost longer per shipment = 2 USD when order.lines > 1\n}\n\ntable t(d: distance) -> money {\n  d < 5 km => 1 USD\n  _        => 2 USD\n}\n";
    assert_eq!(allot_fmt::format(messy).unwrap(), expected);
}

#[test]
fn time_items_layout() {
    let messy = "policy \"p\" {\ntransit   =   ground( distance(node,order.ship_to) )\nship  within 1 business   days because \"next day\"\ndeliver within 5 day\ndeliver   by order.promised_by because \"promised\"\nexclude when not node.enabled because \"off\"}";
    let expected = "policy \"p\" {\n  transit = ground(distance(node, order.ship_to))\n  ship within 1 business day    because \"next day\"\n  deliver within 5 days\n  deliver by order.promised_by  because \"promised\"\n  exclude when not node.enabled because \"off\"\n}\n";
    assert_eq!(allot_fmt::format(messy).unwrap(), expected);
}

#[test]
fn returns_layout() {
    let messy = "returns   \"r\"{applies when return.channel==\"web\"\nrefund without   return when line.price<10 USD because \"cheap\"\ndispose  when line.condition==damaged}\ncompliance   returns \"p\" {exclude when node.kind==store because \"no stores\"}";
    let expected = "returns \"r\" {\n  applies when return.channel == \"web\"\n  refund without return when line.price < 10 USD because \"cheap\"\n  dispose when line.condition == damaged\n}\n\ncompliance returns \"p\" {\n  exclude when node.kind == store because \"no stores\"\n}\n";
    assert_eq!(allot_fmt::format(messy).unwrap(), expected);
}

/// The text split into the language's tokens (white space and comments included).
fn pieces(text: &str) -> Vec<String> {
    allot_syntax::lexer::lex(text)
        .iter()
        .map(|t| t.text(text).to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Valid files with pieces deleted, duplicated or swapped: whatever still parses
    /// formats idempotently and keeps its meaning.
    #[test]
    fn edited_files(file in any::<prop::sample::Index>(), edits in proptest::collection::vec((0..3u8, any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..4)) {
        let mut files = Vec::new();
        allot_files(&root().join("tests/corpus/valid"), &mut files);
        allot_files(&root().join("rulesets"), &mut files);
        files.sort();
        let text = std::fs::read_to_string(file.get(&files)).unwrap();
        let mut tokens = pieces(&text);
        for (kind, a, b) in edits {
            let n = tokens.len();
            let (a, b) = (a.index(n), b.index(n));
            match kind {
                0 => { tokens.remove(a); }
                1 => { let t = tokens[a].clone(); tokens.insert(a, t); }
                _ => tokens.swap(a, b),
            }
        }
        check_file(&tokens.concat(), "edited");
    }
}
