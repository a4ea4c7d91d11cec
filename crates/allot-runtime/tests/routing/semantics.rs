use crate::*;
use allot_runtime::Status;
use serde_json::json;

fn two_dcs() -> serde_json::Value {
    network(
        vec![
            node("DC-A", "dc", 40.1, -74.1),
            node("DC-B", "dc", 41.0, -80.0),
            node("STORE-C", "store", 40.0, -74.01),
        ],
        &["X", "Y"],
        vec![
            stock("DC-A", "X", 5),
            stock("DC-B", "X", 5),
            stock("DC-B", "Y", 5),
            stock("STORE-C", "X", 5),
        ],
    )
}

#[test]
fn the_highest_priority_applicable_policy_routes_and_ties_go_to_the_earlier_name() {
    let rules = r#"
        policy "low" { priority 1 }
        policy "b-high" { applies when order.channel == "web"  priority 5 }
        policy "a-high" { applies when order.lines > 0  priority 5 }
        policy "never" { applies when order.channel == "phone"  priority 9 }
    "#;
    let mut engine = engine(rules, two_dcs());
    let decision = route(&mut engine, order("1", &[("X", 1)]));
    assert_eq!(decision.policy.as_deref(), Some("a-high"));
}

#[test]
fn no_applicable_policy_rejects() {
    let mut engine = engine(
        r#"policy "p" { applies when order.channel == "phone" }"#,
        two_dcs(),
    );
    let decision = route(&mut engine, order("1", &[("X", 1)]));
    assert_eq!(decision.status, Status::Rejected);
    assert_eq!(decision.reason.as_deref(), Some("no policy applies"));
}

#[test]
fn rejections_come_before_holds_and_before_routing() {
    let rules = r#"policy "p" {
        hold when order.value > 5 USD because "review"
        reject when order.lines > 1 because "one line only"
    }"#;
    let mut engine = engine(rules, two_dcs());
    let decision = route(&mut engine, order("1", &[("X", 1), ("Y", 1)]));
    assert_eq!(
        (decision.status, decision.reason.as_deref()),
        (Status::Rejected, Some("one line only"))
    );
    let decision = route(&mut engine, order("2", &[("X", 1)]));
    assert_eq!(
        (decision.status, decision.reason.as_deref()),
        (Status::Held, Some("review"))
    );
    assert!(placements(&decision).is_empty());
}

#[test]
fn node_level_and_line_level_exclusions() {
    let rules = r#"
        schema { item.fragile: bool = false }
        policy "p" {
          exclude when node.kind == store because "no stores"
          exclude when line.item.fragile and node.id == "DC-A" because "A drops things"
          objective { minimize shipments  minimize max(node.priority) }
        }"#;
    let mut net = two_dcs();
    net["items"][0]["attributes"] = json!({ "fragile": true });
    let mut engine = engine(rules, net);
    // X is fragile: not from DC-A; not from the store either.
    let decision = route(&mut engine, order("1", &[("X", 1)]));
    assert_eq!(placements(&decision), vec!["DC-B:1×1"]);
    let explained = engine.route_json(&order("2", &[("X", 1)]), true);
    let trace = serde_json::to_value(explained.trace.unwrap()).unwrap();
    let candidates = &trace["lines"][0]["candidates"];
    assert_eq!(candidates[0]["excluded_by"]["because"], "A drops things");
    assert_eq!(candidates[2]["excluded_by"]["because"], "no stores");
    assert_eq!(candidates[2]["excluded_by"]["at"], "test.allot:4:11");
}

#[test]
fn safety_stock_lowers_what_a_node_can_promise() {
    let rules = r#"policy "p" {
        safety stock 4 when node.kind == dc
        objective { minimize cost }
        cost pick per unit = node.pick_cost
    }"#;
    let net = network(
        vec![
            node("DC-A", "dc", 40.0, -74.0),
            node("DC-B", "dc", 40.0, -74.0),
        ],
        &["X"],
        vec![stock("DC-A", "X", 5), stock("DC-B", "X", 5)],
    );
    let mut engine = engine(rules, net);
    // Each DC may promise 1 unit: 2 of 3 units place, split over both.
    let decision = route(&mut engine, order("1", &[("X", 3)]));
    assert_eq!(decision.status, Status::Partial);
    assert_eq!(placements(&decision), vec!["DC-A:1×1", "DC-B:1×1"]);
    assert_eq!(decision.unfilled.as_ref().unwrap()[0].qty, 1);
}

#[test]
fn costs_per_shipment_line_and_unit_add_up() {
    let rules = r#"policy "p" {
        cost parcel per shipment = 5 USD + 1 USD/kg * shipment.weight
        cost line   per line     = 0.50 USD
        cost unit   per unit     = 0.25 USD
    }"#;
    let net = network(
        vec![node("DC-A", "dc", 40.0, -74.0)],
        &["X", "Y"],
        vec![stock("DC-A", "X", 9), stock("DC-A", "Y", 9)],
    );
    let mut engine = engine(rules, net);
    let decision = route(&mut engine, order("1", &[("X", 2), ("Y", 3)]));
    // 5 + 1×5 kg + 2 × 0.50 + 5 × 0.25 = 12.25
    assert_eq!(decision.cost, Some(12.25));
}

#[test]
fn the_objective_is_lexicographic() {
    // DC-A is cheaper per unit but has only X; DC-B has both.
    let net = network(
        vec![
            node("DC-A", "dc", 40.0, -74.0),
            node("DC-B", "dc", 40.0, -74.0),
        ],
        &["X", "Y"],
        vec![
            stock("DC-A", "X", 9),
            stock("DC-B", "X", 9),
            stock("DC-B", "Y", 9),
        ],
    );
    let costs = r#"cost pick per unit = if node.id == "DC-A" then 0 USD else 1 USD"#;
    let fewest =
        format!("policy \"p\" {{ {costs}\n objective {{ minimize shipments  minimize cost }} }}");
    let cheapest =
        format!("policy \"p\" {{ {costs}\n objective {{ minimize cost  minimize shipments }} }}");
    let decision = route(
        &mut engine(&fewest, net.clone()),
        order("1", &[("X", 1), ("Y", 1)]),
    );
    assert_eq!(placements(&decision), vec!["DC-B:1×1", "DC-B:2×1"]);
    let decision = route(
        &mut engine(&cheapest, net),
        order("1", &[("X", 1), ("Y", 1)]),
    );
    assert_eq!(placements(&decision), vec!["DC-A:1×1", "DC-B:2×1"]);
}

#[test]
fn ties_break_by_node_id() {
    let net = network(
        vec![
            node("Z-LAST", "dc", 40.0, -74.0),
            node("A-FIRST", "dc", 40.0, -74.0),
        ],
        &["X"],
        vec![stock("Z-LAST", "X", 9), stock("A-FIRST", "X", 9)],
    );
    let decision = route(
        &mut engine(r#"policy "p" {}"#, net),
        order("1", &[("X", 1)]),
    );
    assert_eq!(placements(&decision), vec!["A-FIRST:1×1"]);
}

#[test]
fn max_shipments_ship_complete_and_no_line_split() {
    let net = network(
        vec![
            node("DC-A", "dc", 40.0, -74.0),
            node("DC-B", "dc", 40.0, -74.0),
            node("DC-C", "dc", 40.0, -74.0),
        ],
        &["X", "Y", "Z"],
        vec![
            stock("DC-A", "X", 2),
            stock("DC-B", "Y", 2),
            stock("DC-C", "Z", 2),
            stock("DC-B", "X", 1),
        ],
    );
    let order3 = order("1", &[("X", 1), ("Y", 1), ("Z", 1)]);
    // B has X and Y, C has Z: two shipments fill the order.
    let decision = route(
        &mut engine(r#"policy "p" { max shipments 2 }"#, net.clone()),
        order3.clone(),
    );
    assert_eq!(decision.status, Status::Routed);
    assert_eq!(
        placements(&decision),
        vec!["DC-B:1×1", "DC-B:2×1", "DC-C:3×1"]
    );
    // With one shipment, the node with the most of the order ships and Z waits.
    let decision = route(
        &mut engine(r#"policy "p" { max shipments 1 }"#, net.clone()),
        order3.clone(),
    );
    assert_eq!(decision.status, Status::Partial);
    assert_eq!(placements(&decision), vec!["DC-B:1×1", "DC-B:2×1"]);

    let decision = route(
        &mut engine(r#"policy "p" { ship complete }"#, net.clone()),
        order3,
    );
    assert_eq!(decision.status, Status::Partial);
    assert!(
        placements(&decision).is_empty(),
        "ship complete: nothing ships"
    );
    assert_eq!(decision.unfilled.as_ref().unwrap().len(), 3);

    // 3 units of X: 2 at A and 1 at B, unless lines may not split.
    let decision = route(
        &mut engine(r#"policy "p" {}"#, net.clone()),
        order("2", &[("X", 3)]),
    );
    assert_eq!(placements(&decision), vec!["DC-A:1×2", "DC-B:1×1"]);
    let decision = route(
        &mut engine(r#"policy "p" { no line split }"#, net),
        order("2", &[("X", 3)]),
    );
    assert_eq!(placements(&decision), vec!["DC-A:1×2"]);
    assert_eq!(decision.unfilled.as_ref().unwrap()[0].qty, 1);
}

#[test]
fn shortage_backorders_cancels_or_rejects() {
    let net = network(
        vec![node("DC-A", "dc", 40.0, -74.0)],
        &["X"],
        vec![stock("DC-A", "X", 1)],
    );
    for (rule, status, action) in [
        ("", Status::Partial, Some("backorder")),
        ("on shortage cancel", Status::Partial, Some("cancel")),
        (
            "on shortage reject because \"all or nothing\"",
            Status::Rejected,
            None,
        ),
    ] {
        let decision = route(
            &mut engine(&format!("policy \"p\" {{ {rule} }}"), net.clone()),
            order("1", &[("X", 2)]),
        );
        assert_eq!(decision.status, status, "{rule}");
        let value = serde_json::to_value(&decision).unwrap();
        match action {
            Some(action) => assert_eq!(value["unfilled"][0]["action"], action),
            None => {
                assert_eq!(decision.reason.as_deref(), Some("all or nothing"));
                assert!(placements(&decision).is_empty());
            }
        }
    }
}

#[test]
fn compliance_profiles_tighten_and_are_named_in_traces() {
    let rules = r#"
        schema { order.retailer: string = "" }
        policy "p" { max shipments 3  on shortage backorder }
        compliance "partner" {
          applies when order.retailer == "bigbox"
          ship complete
          on shortage reject because "fill or kill"
          exclude when node.kind == store because "no ship-from-store"
        }"#;
    let net = network(
        vec![
            node("STORE-A", "store", 40.0, -74.0),
            node("DC-B", "dc", 45.0, -80.0),
        ],
        &["X", "Y"],
        vec![
            stock("STORE-A", "X", 5),
            stock("DC-B", "X", 5),
            stock("STORE-A", "Y", 5),
        ],
    );
    let mut engine = engine(rules, net);
    let mut partner = order("1", &[("X", 1)]);
    partner["attributes"] = json!({ "retailer": "bigbox" });
    let decision = engine.route_json(&partner, true);
    assert_eq!(
        decision.profiles.as_deref(),
        Some(&["partner".to_string()][..])
    );
    assert_eq!(placements(&decision), vec!["DC-B:1×1"]);
    let trace = serde_json::to_value(decision.trace.unwrap()).unwrap();
    assert_eq!(
        trace["lines"][0]["candidates"][0]["excluded_by"]["policy"],
        "partner"
    );

    // Y is only at the store: the partner order is rejected, never backordered.
    let mut partner = order("2", &[("X", 1), ("Y", 1)]);
    partner["attributes"] = json!({ "retailer": "bigbox" });
    let decision = route(&mut engine, partner);
    assert_eq!(
        (decision.status, decision.reason.as_deref()),
        (Status::Rejected, Some("fill or kill"))
    );
    // Our own order may split and use the store.
    let decision = route(&mut engine, order("3", &[("X", 1), ("Y", 1)]));
    assert_eq!(decision.status, Status::Routed);
}

#[test]
fn stages_widen_the_net_only_when_needed() {
    let rules = r#"policy "p" {
        let d = distance(node, order.ship_to)
        stage "near stores" when node.kind == store and d < 50 km
        stage "DCs" when node.kind == dc
    }"#;
    let net = network(
        vec![
            node("STORE-NEAR", "store", 40.01, -74.0),
            node("DC-FAR", "dc", 45.0, -90.0),
            node("STORE-FAR", "store", 30.0, -90.0),
        ],
        &["X", "Y"],
        vec![
            stock("STORE-NEAR", "X", 1),
            stock("DC-FAR", "X", 9),
            stock("DC-FAR", "Y", 9),
            stock("STORE-FAR", "X", 9),
        ],
    );
    let mut engine = engine(rules, net);
    let decision = engine.route_json(&order("1", &[("X", 1)]), true);
    assert_eq!(placements(&decision), vec!["STORE-NEAR:1×1"]);
    assert_eq!(
        decision.trace.as_ref().unwrap().stage.as_deref(),
        Some("near stores")
    );
    // Y is not in any near store: the net widens to the DCs, for the whole order.
    let decision = engine.route_json(&order("2", &[("X", 1), ("Y", 1)]), true);
    assert_eq!(
        decision.trace.as_ref().unwrap().stage.as_deref(),
        Some("DCs")
    );
    assert_eq!(placements(&decision), vec!["DC-FAR:1×1", "DC-FAR:2×1"]);
    // A node in no stage is never used.
    let trace = serde_json::to_value(decision.trace.unwrap()).unwrap();
    let far_store = trace["lines"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["node"] == "STORE-FAR")
        .cloned();
    assert_eq!(
        far_store.unwrap()["excluded_by"],
        "in no stage of the policy"
    );
}

#[test]
fn a_batch_consumes_stock_and_capacity() {
    let rules = r#"policy "p" {
        exclude when node.utilization >= 50% because "capacity guard"
        objective { minimize max(node.priority) }
    }"#;
    let mut a = node("DC-A", "dc", 40.0, -74.0);
    a["capacity"] = json!(4);
    a["load"] = json!(1);
    let mut b = node("DC-B", "dc", 40.0, -74.0);
    b["priority"] = json!(2);
    let net = network(
        vec![a, b],
        &["X"],
        vec![stock("DC-A", "X", 3), stock("DC-B", "X", 9)],
    );
    let mut engine = engine(rules, net);
    // Order 1 takes 2 of A's 3 units; A's load goes from 1 to 2 of 4 (50%).
    assert_eq!(
        placements(&route(&mut engine, order("1", &[("X", 2)]))),
        vec!["DC-A:1×2"]
    );
    // Order 2: A is at its capacity guard now, so B ships.
    assert_eq!(
        placements(&route(&mut engine, order("2", &[("X", 1)]))),
        vec!["DC-B:1×1"]
    );
}

#[test]
fn digital_nodes_are_not_shipments() {
    let rules = r#"policy "p" {
        ship complete
        cost parcel per shipment = 5 USD
    }"#;
    let net = network(
        vec![
            node("DC-A", "dc", 40.0, -74.0),
            node("DIGITAL", "digital", 37.0, -122.0),
        ],
        &["X", "GIFT"],
        vec![stock("DC-A", "X", 9), stock("DIGITAL", "GIFT", 999)],
    );
    let mut engine = engine(rules, net);
    let decision = route(&mut engine, order("1", &[("X", 1), ("GIFT", 1)]));
    assert_eq!(
        decision.status,
        Status::Routed,
        "ship complete still holds: one parcel"
    );
    assert_eq!(placements(&decision), vec!["DC-A:1×1", "DIGITAL:2×1"]);
    // The parcel cost is charged once, for DC-A; pick costs are per unit (none here).
    assert_eq!(decision.cost, Some(5.0));
}

#[test]
fn malformed_orders_and_networks_say_where() {
    let plan = plan(r#"schema { node.region: string = "" } policy "p" {}"#);
    let mut net = two_dcs();
    net["nodes"][1]["attributes"] = json!({ "region": 7 });
    let error = Network::from_value(&net, &plan).unwrap_err().to_string();
    assert_eq!(
        error,
        "nodes[1] \"DC-B\" attributes: field `region`: expected a string, found 7"
    );
    for (patch, expected) in [
        (
            json!({ "nodes": [{ "id": "N", "kind": "warehouse", "lat": 1, "lon": 1 }] }),
            "nodes[0] \"N\": field `kind`: unknown kind \"warehouse\": expected one of dc, store, tpl, vendor, mfc, digital",
        ),
        (
            json!({ "nodes": [{ "id": "N", "kind": "dc", "lat": 1 }] }),
            "nodes[0] \"N\": field `lon`: is missing",
        ),
        (
            json!({ "inventory": [{ "node": "NOPE", "sku": "X", "on_hand": 1 }] }),
            "inventory[0]: field `node`: unknown node \"NOPE\"",
        ),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "X", "on_hand": -1 }] }),
            "inventory[0]: field `on_hand`: must be at least 0, not -1",
        ),
        (
            // The first entry to repeat an earlier one's SKU and node is named.
            json!({ "inventory": [
                { "node": "DC-B", "sku": "Y", "on_hand": 1 },
                { "node": "DC-A", "sku": "X", "on_hand": 1 },
                { "node": "DC-A", "sku": "Y", "on_hand": 1 },
                { "node": "DC-B", "sku": "Y", "on_hand": 2 },
                { "node": "DC-A", "sku": "X", "on_hand": 3 },
            ] }),
            "inventory[3]: field `sku`: a second entry for \"Y\" at \"DC-B\"",
        ),
        (
            json!({ "currency": "EUR" }),
            "network: field `currency`: the network is in EUR, but the ruleset's amounts are in USD",
        ),
        // Entries in the plain form JSON text is read in without a tree, and off it.
        (json!({}), ""),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "X", "on_hand": 1, "bin": 4 }] }),
            "",
        ),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "X", "on_hand": 2.0 }] }),
            "",
        ),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "X", "on_hand": 2, "reserved": 3e12 }] }),
            "inventory[0]: field `reserved`: 3000000000000 is beyond the supported ±1000000000000",
        ),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "NOPE", "on_hand": 1 }] }),
            "inventory[0]: field `sku`: unknown SKU \"NOPE\": it is not in `items`",
        ),
        (
            json!({ "inventory": [{ "node": "DC-A", "sku": "X", "on_hand": "5" }] }),
            "inventory[0]: field `on_hand`: expected a whole number, found \"5\"",
        ),
        (
            json!({ "inventory": [7] }),
            "inventory[0]: expected an object, found 7",
        ),
        (
            json!({ "inventory": { "node": "DC-A" } }),
            "network: field `inventory`: expected a list, found {\"node\":\"DC-A\"}",
        ),
    ] {
        let mut bad = two_dcs();
        for (k, v) in patch.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let plan = allot_plan::Plan {
            currency: Some("USD".into()),
            ..plan.clone()
        };
        // The JSON text and the JSON value are read alike, errors included.
        let text = serde_json::to_string(&bad).unwrap();
        let from_value = Network::from_value(&bad, &plan);
        let from_json = Network::from_json(&text, &plan);
        for read in [&from_value, &from_json] {
            let error = read.as_ref().err().map(ToString::to_string);
            assert_eq!(error.unwrap_or_default(), expected);
        }
        if let (Ok(a), Ok(b)) = (&from_value, &from_json) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
    }
    let mut engine = engine(r#"policy "p" {}"#, two_dcs());
    let decision = engine.route_json(
        &json!({ "id": "O", "lines": [{ "id": "1", "sku": "X", "qty": 1 }] }),
        false,
    );
    assert_eq!(decision.status, Status::Error);
    assert_eq!(
        decision.message.as_deref(),
        Some("order \"O\": field `ship_to`: is missing")
    );
}
