//! Routing, structure-aware: the example ruleset on the example network with stock,
//! switched-off nodes and loads drawn at random, and batches of orders of up to
//! `MAX_LINES` lines. The compiled plan decides exactly as the reference evaluator,
//! with no panic.
#![no_main]

use allot_reference::Reference;
use allot_runtime::{Engine, Network, Order};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// (node, sku, units), indices taken modulo the example's nodes and items.
    stock: Vec<(u8, u8, u8)>,
    switched_off: Vec<u8>,
    /// (node, load).
    loads: Vec<(u8, u8)>,
    orders: Vec<OrderSpec>,
}

#[derive(Arbitrary, Debug)]
struct OrderSpec {
    channel: u8,
    /// Offsets from the middle of the contiguous US, in quarter degrees.
    lat: i8,
    lon: i8,
    /// (sku, qty).
    lines: Vec<(u8, u8)>,
    gift: bool,
}

const CHANNELS: [&str; 3] = ["web", "app", "marketplace"];

/// The reference enumerates every plan: (candidates + 1) to the power of the lines,
/// 12⁸ on the example network of 11 nodes, minutes for one order. Orders of up to 8 lines are
/// compared with it on 2–3 nodes by the differential property tests.
const MAX_LINES: usize = 4;

fn network(s: &Scenario) -> Value {
    let mut network: Value = serde_json::from_str(allot_fuzz::EXAMPLE_NETWORK).expect("JSON");
    let nodes: Vec<String> = (network["nodes"].as_array().expect("nodes").iter())
        .map(|n| n["id"].as_str().expect("id").to_string())
        .collect();
    let items: Vec<String> = (network["items"].as_array().expect("items").iter())
        .map(|i| i["sku"].as_str().expect("sku").to_string())
        .collect();
    let mut inventory = std::collections::BTreeMap::new();
    for &(node, sku, units) in s.stock.iter().take(64) {
        let key = (
            nodes[node as usize % nodes.len()].clone(),
            items[sku as usize % items.len()].clone(),
        );
        inventory.insert(key, units % 20);
    }
    network["inventory"] = (inventory.into_iter())
        .map(|((node, sku), on_hand)| json!({ "node": node, "sku": sku, "on_hand": on_hand }))
        .collect();
    let node_list = network["nodes"].as_array_mut().expect("nodes");
    for &off in &s.switched_off {
        let count = node_list.len();
        node_list[off as usize % count]["enabled"] = false.into();
    }
    for &(node, load) in &s.loads {
        let count = node_list.len();
        node_list[node as usize % count]["load"] = load.into();
    }
    network
}

fn order(index: usize, spec: &OrderSpec, items: &[String]) -> Value {
    let lines: Vec<Value> = (spec.lines.iter().take(MAX_LINES).enumerate())
        .map(|(n, &(sku, qty))| {
            json!({ "id": (n + 1).to_string(), "sku": items[sku as usize % items.len()], "qty": 1 + qty % 4, "price": 10.0 + sku as f64 })
        })
        .collect();
    json!({
        "id": format!("F-{index}"),
        "channel": CHANNELS[spec.channel as usize % CHANNELS.len()],
        "tags": if spec.gift { vec!["gift"] } else { vec![] },
        "ship_to": { "lat": 39.0 + spec.lat as f64 / 4.0, "lon": -95.0 + spec.lon as f64 / 4.0, "country": "US" },
        "lines": lines,
    })
}

fuzz_target!(|s: Scenario| {
    let example = allot_fuzz::example();
    let network_json = network(&s);
    let network = Network::from_value(&network_json, &example.plan).expect("a valid network");
    let items: Vec<String> = (network_json["items"].as_array().expect("items").iter())
        .map(|i| i["sku"].as_str().expect("sku").to_string())
        .collect();
    let mut engine = Engine::new(example.plan.clone(), network.clone());
    let mut reference = Reference::new(&example.analysis.model, &example.sources, &network);
    for (index, spec) in s.orders.iter().take(4).enumerate() {
        if spec.lines.is_empty() {
            continue;
        }
        let value = order(index, spec, &items);
        let order = Order::from_value(&value, &example.plan, &network).expect("a valid order");
        let actual =
            serde_json::to_value(engine.route(&order, false)).expect("decisions serialize");
        let expected = serde_json::to_value(reference.route(&order)).expect("decisions serialize");
        assert_eq!(actual, expected, "order {value}");
    }
});
