//! Routing semantics, one behaviour per test, on small hand-made networks.

mod limits;
mod robustness;
mod semantics;

use allot_diagnostics::Sources;
use allot_runtime::{Decision, Engine, Network};
use serde_json::{Value, json};

/// A compiled plan from ruleset text (which must check without errors).
pub fn plan(ruleset: &str) -> allot_plan::Plan {
    let mut sources = Sources::new();
    sources.add("test.allot", ruleset);
    match allot_compile::compile_sources(&sources) {
        Ok(plan) => plan,
        Err(diagnostics) => panic!(
            "{}",
            allot_diagnostics::render_human(&diagnostics, &sources, false)
        ),
    }
}

/// A node at (lat, lon) with defaults for everything else.
pub fn node(id: &str, kind: &str, lat: f64, lon: f64) -> Value {
    json!({ "id": id, "kind": kind, "lat": lat, "lon": lon, "country": "US", "capacity": 100,
            "handling_cost": 1.0, "pick_cost": 0.1 })
}

pub fn stock(node: &str, sku: &str, on_hand: i64) -> Value {
    json!({ "node": node, "sku": sku, "on_hand": on_hand })
}

pub fn network(nodes: Vec<Value>, skus: &[&str], inventory: Vec<Value>) -> Value {
    let items: Vec<Value> = skus
        .iter()
        .map(|s| json!({ "sku": s, "weight": 1.0 }))
        .collect();
    json!({ "currency": "USD", "nodes": nodes, "items": items, "inventory": inventory })
}

/// An order near (40, -74) with lines of (sku, qty).
pub fn order(id: &str, lines: &[(&str, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, qty))| json!({ "id": (i + 1).to_string(), "sku": sku, "qty": qty, "price": 10.0 }))
        .collect();
    json!({ "id": id, "channel": "web", "ship_to": { "lat": 40.0, "lon": -74.0, "country": "US" }, "lines": lines })
}

pub fn engine(ruleset: &str, network: Value) -> Engine {
    let plan = plan(ruleset);
    let network = Network::from_value(&network, &plan).expect("a valid network");
    Engine::new(plan, network)
}

pub fn route(engine: &mut Engine, order: Value) -> Decision {
    engine.route_json(&order, false)
}

/// `node:line×qty` for each shipment line, in decision order.
pub fn placements(decision: &Decision) -> Vec<String> {
    decision
        .shipped()
        .map(|(node, l)| format!("{node}:{}×{}", l.line, l.qty))
        .collect()
}
