//! Whatever an order or a network holds, routing answers with a decision or an error
//! message: never a panic.

use crate::*;
use allot_runtime::value::Radius;
use proptest::prelude::*;
use serde_json::{Value, json};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9_ -]{0,8}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "x", null])),
    ]
}

/// Every path to a field of a JSON value, as keys and indices.
fn paths(value: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = prefix.clone();
                p.push(k.clone());
                out.push(p.clone());
                paths(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(i.to_string());
                out.push(p.clone());
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

/// Replaces (or, with `None`, removes) the value at a path.
fn set(value: &mut Value, path: &[String], new: Option<Value>) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut at = value;
    for key in init {
        at = match at {
            Value::Object(map) => map.get_mut(key).unwrap(),
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => return,
        };
    }
    match (at, new) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.clone(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Array(items), Some(v)) => items[last.parse::<usize>().unwrap()] = v,
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().unwrap());
        }
        _ => {}
    }
}

fn mutate(mut value: Value, edits: &[(prop::sample::Index, Option<Value>)]) -> Value {
    for (index, new) in edits {
        let mut all = Vec::new();
        paths(&value, Vec::new(), &mut all);
        if all.is_empty() {
            break;
        }
        let path = index.get(&all).clone();
        set(&mut value, &path, new.clone());
    }
    value
}

fn base_network() -> Value {
    network(
        vec![
            node("DC-A", "dc", 40.1, -74.1),
            node("STORE-B", "store", 40.0, -74.01),
        ],
        &["X", "Y"],
        vec![stock("DC-A", "X", 5), stock("STORE-B", "Y", 2)],
    )
}

const RULES: &str = r#"
    schema { order.tier: string = "" node.zone: string = "" item.fragile: bool = false }
    policy "p" {
      let d = distance(node, order.ship_to)
      exclude when node.kind == store and d > 100 km
      exclude when line.item.fragile and node.zone == "north"
      cost ship per shipment = 1 USD/kg * shipment.weight
      cost pick per unit = node.pick_cost
      hold when order.tier == "x"
    }"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_order_gets_a_decision(edits in proptest::collection::vec((any::<prop::sample::Index>(), proptest::option::of(scalar())), 1..6)) {
        let mut engine = engine(RULES, base_network());
        let order = mutate(order("O", &[("X", 2), ("Y", 1)]), &edits);
        let decision = engine.route_json(&order, true);
        serde_json::to_string(&decision).unwrap();
    }

    #[test]
    fn any_network_loads_or_says_why(edits in proptest::collection::vec((any::<prop::sample::Index>(), proptest::option::of(scalar())), 1..6)) {
        let plan = plan(RULES);
        let network = mutate(base_network(), &edits);
        if let Ok(network) = Network::from_value(&network, &plan) {
            let mut engine = Engine::new(plan, network);
            engine.route_json(&order("O", &[("X", 1)]), true);
        }
    }
}

proptest! {
    /// The guard's shortcut never calls a place beyond a radius that the haversine puts
    /// within it, wherever the places are and whatever the radius.
    #[test]
    fn clearly_beyond_only_when_the_haversine_agrees(
        a in (-90.0f64..90.0, -180.0f64..180.0),
        offset in (-5.0f64..5.0, -5.0f64..5.0),
        km in 0.0f64..25_000.0,
    ) {
        let geo = |lat: f64, lon: f64| allot_runtime::value::Geo {
            lat: lat.clamp(-90.0, 90.0),
            lon,
            country: "US".into(),
            region: "".into(),
            postal_code: "".into(),
        };
        let (p, q) = (geo(a.0, a.1), geo(a.0 + offset.0, a.1 + offset.1));
        if Radius::new(km).clearly_beyond(&p.unit_vector(), &q.unit_vector()) {
            prop_assert!(p.distance_km(&q) > km, "{} km apart", p.distance_km(&q));
        }
        // At the exact distance, never beyond.
        let d = p.distance_km(&q);
        prop_assert!(!Radius::new(d).clearly_beyond(&p.unit_vector(), &q.unit_vector()));
    }
}
