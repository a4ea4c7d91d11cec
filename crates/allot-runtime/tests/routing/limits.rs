//! Limits a hostile order cannot pass: every order answers, within a bounded amount of
//! work, or is refused saying which limit it crossed.

use crate::{engine, network, node, order, route, stock};
use allot_runtime::{BUDGET, MAX_ORDER_LINES, Network, Status};
use serde_json::{Value, json};

const RULES: &str = r#"
    policy "p" {
      cost pick per unit = node.pick_cost
      cost handling per shipment = node.handling_cost
    }"#;

/// `nodes` nodes at one place, each stocking `on_hand` of every one of `skus`: nothing
/// tells one plan from the next but node order, so bounds prune nothing.
fn everything_everywhere(nodes: usize, skus: &[&str], on_hand: i64) -> Value {
    let ids: Vec<String> = (0..nodes).map(|n| format!("N-{n:04}")).collect();
    let inventory = ids
        .iter()
        .flat_map(|id| skus.iter().map(move |sku| stock(id, sku, on_hand)))
        .collect();
    network(
        ids.iter().map(|id| node(id, "dc", 40.5, -74.5)).collect(),
        skus,
        inventory,
    )
}

#[test]
fn the_search_stops_at_its_budget_and_the_decision_says_so() {
    let skus = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let mut engine = engine(RULES, everything_everywhere(1_000, &skus, 5));
    let lines: Vec<(&str, i64)> = skus.iter().map(|&sku| (sku, 1)).collect();
    let decision = route(&mut engine, order("WIDE", &lines));
    assert_eq!(decision.status, Status::Routed);
    assert!(
        decision.search_cut,
        "{BUDGET} search nodes cannot cover 1,000⁸ plans"
    );
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(json["search_cut"], true);
    let explained = engine.route_json(&order("WIDE-2", &lines), true);
    assert!(!explained.trace.unwrap().search_complete);
    // A small search says nothing.
    let decision = route(&mut engine, order("NARROW", &[("A", 1)]));
    assert!(!decision.search_cut);
    assert!(
        serde_json::to_value(&decision)
            .unwrap()
            .get("search_cut")
            .is_none()
    );
}

fn order_of(lines: usize) -> Value {
    let lines: Vec<Value> = (0..lines)
        .map(|i| json!({ "id": format!("L{i}"), "sku": if i % 2 == 0 { "A" } else { "B" }, "qty": 1 }))
        .collect();
    json!({ "id": "BIG", "ship_to": { "lat": 40.0, "lon": -74.0, "country": "US" }, "lines": lines })
}

#[test]
fn an_order_of_the_most_lines_routes_and_one_more_is_refused() {
    let mut engine = engine(RULES, everything_everywhere(1, &["A", "B"], 10_000));
    let decision = route(&mut engine, order_of(MAX_ORDER_LINES));
    assert_ne!(decision.status, Status::Error, "{:?}", decision.message);
    assert_eq!(decision.shipped().count(), MAX_ORDER_LINES);
    for lines in [MAX_ORDER_LINES + 1, 300_000] {
        let decision = route(&mut engine, order_of(lines));
        assert_eq!(decision.status, Status::Error);
        let message = decision.message.unwrap();
        assert!(
            message.contains(&format!(
                "field `lines`: has {lines} lines; an order may have at most {MAX_ORDER_LINES}"
            )),
            "{message}"
        );
    }
}

/// Line ids are checked for duplicates in one pass, not line against line.
#[test]
fn a_duplicate_line_id_among_thousands_is_named() {
    let mut engine = engine(RULES, everything_everywhere(2, &["A", "B"], 5));
    let mut order = order_of(MAX_ORDER_LINES);
    order["lines"][4_321]["id"] = json!("L17");
    let message = route(&mut engine, order).message.unwrap();
    assert!(
        message.contains("lines[4321] \"L17\": field `id`: duplicate line id \"L17\""),
        "{message}"
    );
}

/// JSON nested deeper than 128 levels is refused by the reader with its place, before
/// any tree is built: a network or an order of 100,000 nested arrays is an error.
#[test]
fn json_nested_too_deep_is_refused_with_its_place() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let plan = crate::plan(RULES);
    let text = format!(r#"{{"currency": "USD", "nodes": {deep}, "items": [], "inventory": []}}"#);
    let error = Network::from_json(&text, &plan).unwrap_err().to_string();
    assert!(
        error.contains("recursion limit exceeded at line 1 column"),
        "{error}"
    );
    let order = format!(r#"{{"id": "DEEP", "tags": {deep}}}"#);
    let error = serde_json::from_str::<Value>(&order)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("recursion limit exceeded"), "{error}");
}
