//! Focused checks of the checker's semantics; the corpus under `tests/` covers every
//! diagnostic with rendered snapshots.

use allot_check::model::Value;
use allot_check::types::Dim;
use allot_diagnostics::Sources;
use rust_decimal::Decimal;
use std::str::FromStr;

fn analyze(text: &str) -> allot_check::Analysis {
    let mut sources = Sources::new();
    sources.add("test.allot", text);
    allot_check::analyze(&sources)
}

/// (code, line) of every diagnostic.
fn codes(text: &str) -> Vec<(&'static str, u32)> {
    let mut sources = Sources::new();
    sources.add("test.allot", text);
    let analysis = allot_check::analyze(&sources);
    let file = sources.get(allot_diagnostics::FileId(0));
    analysis
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), file.line_col(d.span.start).line))
        .collect()
}

fn folded_const(text: &str, name: &str) -> Option<Value> {
    let analysis = analyze(text);
    analysis
        .model
        .consts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.folded.clone())
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn miles_and_pounds_convert_exactly() {
    let text =
        "const _a = 30 mi\nconst _b = 5 lb + 8 oz\nconst _c = 2 days + 36 h\nconst _d = 90%\n";
    assert_eq!(
        folded_const(text, "_a"),
        Some(Value::Quantity(dec("48.28032"), Dim::Distance))
    );
    assert_eq!(
        folded_const(text, "_b"),
        Some(Value::Quantity(dec("2.494758035"), Dim::Weight))
    );
    assert_eq!(
        folded_const(text, "_c"),
        Some(Value::Quantity(dec("5040"), Dim::Duration))
    );
    assert_eq!(
        folded_const(text, "_d"),
        Some(Value::Quantity(dec("0.9"), Dim::Percent))
    );
    // The comparison is exact, so the checker can tell it is always true.
    assert_eq!(
        codes("policy \"p\" {\n  exclude when 30 mi == 48.28032 km\n}\n"),
        vec![("W0004", 2)]
    );
}

#[test]
fn rates_multiply_to_money_and_divide_back() {
    let text = "const _per_kg = 0.35 USD/kg\nconst _cost = 0.35 USD/kg * 10 kg\nconst _rate = 7 USD / 2 kg\nconst _share = 10% * 50 USD\nconst _ratio = 30 km / 10 km\n";
    assert_eq!(
        folded_const(text, "_cost"),
        Some(Value::Quantity(dec("3.50"), Dim::Money))
    );
    assert_eq!(
        folded_const(text, "_rate"),
        Some(Value::Rate(dec("3.5"), Dim::Weight))
    );
    assert_eq!(
        folded_const(text, "_share"),
        Some(Value::Quantity(dec("5.0"), Dim::Money))
    );
    assert_eq!(folded_const(text, "_ratio"), Some(Value::Number(dec("3"))));
    assert!(analyze(text).diagnostics.is_empty());
}

#[test]
fn tables_fold_with_constant_arguments() {
    let text = "table rate(d: distance) -> money {\n  d < 150 km => 6.50 USD\n  _ => 14 USD\n}\nconst _near = rate(100 km)\nconst _far = rate(200 mi)\n";
    assert_eq!(
        folded_const(text, "_near"),
        Some(Value::Quantity(dec("6.50"), Dim::Money))
    );
    assert_eq!(
        folded_const(text, "_far"),
        Some(Value::Quantity(dec("14"), Dim::Money))
    );
}

#[test]
fn lets_carry_their_contexts() {
    // An order-only `let` may be used in `applies when`; a node one may not.
    let ok = "policy \"p\" {\n  let big = order.lines > 3\n  applies when big\n}\n";
    assert_eq!(codes(ok), vec![]);
    let bad = "policy \"p\" {\n  let d = distance(node, order.ship_to)\n  let far = d > 10 km\n  applies when far\n}\n";
    assert_eq!(codes(bad), vec![("E0301", 4)]);
    let cycle = "policy \"p\" {\n  let a = b\n  let b = a\n  exclude when a\n}\n";
    assert!(codes(cycle).contains(&("E0111", 2)) || codes(cycle).contains(&("E0111", 3)));
}

#[test]
fn exclusions_know_whether_they_depend_on_the_line() {
    let analysis = analyze(
        "policy \"p\" {\n  exclude when not node.enabled\n  exclude when node.kind == store and line.item.oversized\n}\nschema {\n  item.oversized: bool = false\n}\n",
    );
    let policy = &analysis.model.policies[0];
    let deps: Vec<Vec<&str>> = policy
        .excludes
        .iter()
        .map(|e| e.condition.deps.names())
        .collect();
    assert_eq!(deps, vec![vec!["node"], vec!["node", "line"]]);
}

fn tie(a: &str, b: &str) -> bool {
    let text = format!(
        "schema {{\n  order.retailer: string = \"\"\n}}\npolicy \"a\" {{\n  applies when {a}\n  priority 1\n}}\npolicy \"b\" {{\n  applies when {b}\n  priority 1\n}}\n"
    );
    let found = codes(&text);
    assert!(
        found.iter().all(|(c, _)| *c == "W0007"),
        "{a} / {b}: {found:?}"
    );
    !found.is_empty()
}

#[test]
fn priority_ties_are_reported_only_when_an_order_can_meet_both() {
    assert!(tie(
        "order.channel == \"web\"",
        "order.retailer == \"bigbox\""
    ));
    assert!(!tie("order.channel == \"web\"", "order.channel == \"app\""));
    assert!(tie(
        "order.channel in [\"web\", \"app\"]",
        "order.channel == \"app\""
    ));
    assert!(!tie(
        "order.channel in [\"web\", \"app\"]",
        "order.channel not in [\"web\", \"app\"]"
    ));
    assert!(!tie("order.value > 100 USD", "order.value <= 100 USD"));
    assert!(tie("order.value > 100 USD", "order.value < 200 USD"));
    assert!(!tie("order.lines > 1", "order.lines < 2"));
    assert!(tie("order.lines > 1", "order.lines < 4"));
    assert!(!tie("order.method == ship", "order.method != ship"));
    assert!(!tie(
        "order.method in [ship, pickup]",
        "order.method == same_day"
    ));
    assert!(tie("order.method != ship", "order.method != pickup"));
    assert!(!tie("\"vip\" in order.tags", "not (\"vip\" in order.tags)"));
    assert!(tie("\"vip\" in order.tags", "\"gold\" in order.tags"));
    assert!(!tie(
        "order.channel == \"web\" and order.lines > 2",
        "order.channel == \"web\" and order.lines < 1"
    ));
    assert!(tie(
        "order.channel == \"a\" or order.lines > 2",
        "order.channel == \"b\""
    ));
}

#[test]
fn variants_resolve_by_the_expected_enum() {
    // `standard` is a Service and a Tier: comparing with a Tier attribute decides it.
    let text = "schema {\n  enum Tier { standard, premium }\n  order.tier: Tier = standard\n}\npolicy \"p\" {\n  hold when order.tier == standard and order.service == standard\n  reject when premium == order.tier\n  exclude when node.kind in [dc, store]\n}\n";
    assert_eq!(codes(text), vec![]);
}

#[test]
fn ship_is_a_method_and_a_keyword() {
    let text = "policy \"p\" {\n  hold when order.method == ship\n  ship complete\n}\n";
    assert_eq!(codes(text), vec![]);
    assert!(analyze(text).model.policies[0].ship_complete.is_some());
}

#[test]
fn doc_comments_attach_to_declarations_and_schema_entries() {
    let analysis = analyze(
        "/// The radius.\n/// In km.\nconst _r = 5 km\n\nschema {\n  /// Whether it is big.\n  item.big: bool = false\n}\n",
    );
    assert_eq!(
        analysis.model.consts[0].doc.as_deref(),
        Some("The radius.\nIn km.")
    );
    assert_eq!(
        analysis.model.attrs[0].doc.as_deref(),
        Some("Whether it is big.")
    );
}
