//! The compiled runtime decides exactly as the reference on random rulesets, networks
//! and batches; and its plan is the optimum of the plan space, which the reference
//! finds by trying every plan. Nodes keep random calendars (time zones, cutoffs,
//! holidays, handling days) and orders are placed at random instants around cutoffs,
//! weekends, holidays, the year end and daylight-saving changes. A third of the requests
//! are returns, routed by a random `returns` policy to the nodes that receive them.

use allot_diagnostics::Sources;
use allot_reference::Reference;
use allot_runtime::{Engine, Network, Order};
use proptest::prelude::*;
use serde_json::{Value, json};

const EXCLUSIONS: &[&str] = &[
    r#"exclude when node.kind == store and line.item.fragile because "fragile""#,
    r#"exclude when d > 250 km because "far""#,
    r#"exclude when node.kind == store and distance(node.location, order.ship_to) >= 120 km because "store too far""#,
    r#"exclude when node.utilization >= 60% because "busy""#,
    r#"exclude when node.priority > 2 because "low rank""#,
    r#"exclude when "blocked" in node.tags because "blocked""#,
    r#"exclude when line.qty > 2 and node.kind == vendor because "vendor limit""#,
    r#"exclude when available(node, line.sku) < line.qty and node.kind == store because "store short""#,
    r#"exclude when not (line.qty <= 3 or "vip" in order.tags) and node.kind == store because "large store line""#,
    r#"ship within 1 business day because "slow""#,
    "deliver within 3 days",
    r#"deliver by order.promised_by because "promised""#,
    r#"exclude when node.ship_days > 2 and node.kind == store because "store backlog""#,
];

const COSTS: &[&str] = &[
    "cost ship per shipment = rate(d) + 0.5 USD/kg * shipment.weight",
    "cost pick per unit = node.pick_cost",
    "cost lines per line = 0.30 USD when node.kind == store",
    "cost handling per shipment = node.handling_cost",
    "cost bulk per shipment = if shipment.units > 2 then 1 USD else 0 USD",
    "cost care per line = if \"vip\" in order.tags then 1 USD else line.qty * 0.1 USD when node.kind != vendor",
    // Rising with the shipment's weight, in bands: the search may bound cost with it.
    "cost freight per shipment = band(shipment.weight)",
    // Falling as a shipment grows, and a negative line cost: the search may not.
    "cost volume per shipment = 3 USD - 0.5 USD * shipment.units",
    "cost rebate per unit = -0.2 USD when node.kind == store",
    "cost late per shipment = 2 USD when shipment.delivery_days > 2",
    "cost wait per line = 0.1 USD * node.ship_business_days",
];

const CRITERIA: &[&str] = &[
    "minimize shipments",
    "minimize cost",
    "minimize max(node.priority)",
    "maximize sum(shipment.units)",
    "minimize max(shipment.delivery_days)",
    "minimize sum(node.ship_days)",
];

/// Items of the random `returns` policy.
const RETURN_ITEMS: &[&str] = &[
    r#"exclude when line.condition == damaged and node.kind != dc because "damaged to DCs""#,
    r#"exclude when node.kind == store and distance(node, return.from) > 150 km because "far""#,
    r#"exclude when node.utilization >= 60% because "busy""#,
    r#"refund without return when line.price < 9 USD because "cheap""#,
    "dispose when line.condition == damaged and line.qty > 2",
    "cost label per shipment = rate(distance(node, return.from))",
    "cost restock per unit = -1 USD when need(node, line.sku) > 0",
    "cost handling per line = 0.5 USD * line.qty when node.kind == store",
    "max shipments 1",
];

/// A `returns` policy of random items, and now and then a profile for returns.
fn returns_policy() -> impl Strategy<Value = String> {
    (
        proptest::sample::subsequence(RETURN_ITEMS.to_vec(), 1..=5),
        proptest::sample::subsequence(vec!["minimize shipments", "minimize cost"], 0..=2).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(|(items, criteria, profile)| {
            let objective = match criteria.is_empty() {
                true => String::new(),
                false => format!("objective {{ {} }}", criteria.join("\n    ")),
            };
            let profile = match profile {
                true => "compliance returns \"vip returns\" {\n  applies when \"vip\" in return.tags\n  exclude when node.kind == vendor because \"no vendor\"\n  refund without return when line.qty > 2\n}\n",
                false => "",
            };
            format!("returns \"r\" {{\n  {}\n  {objective}\n}}\n{profile}", items.join("\n  "))
        })
}

const TIME_ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Pacific/Auckland",
];

/// Around the US and EU daylight-saving changes, Christmas and the year end.
const PLACED_FROM: &[&str] = &[
    "2026-03-06T08:00:00-05:00",
    "2026-03-27T20:00:00Z",
    "2026-10-30T12:00:00-05:00",
    "2026-12-23T10:00:00-06:00",
    "2026-12-30T16:00:00+13:00",
];

const HOLIDAYS: &[&str] = &[
    "2026-03-09",
    "2026-11-02",
    "2026-12-25",
    "2026-12-28",
    "2027-01-01",
];

#[derive(Clone, Debug)]
struct Scenario {
    ruleset: String,
    network: Value,
    orders: Vec<Value>,
}

fn ruleset() -> impl Strategy<Value = String> {
    (
        proptest::sample::subsequence(EXCLUSIONS.to_vec(), 0..=3),
        proptest::sample::subsequence(COSTS.to_vec(), 1..=3),
        proptest::sample::subsequence(CRITERIA.to_vec(), 0..=3).prop_shuffle(),
        prop_oneof![Just(""), Just("max shipments 1"), Just("max shipments 2"), Just("ship complete")],
        prop_oneof![Just(""), Just("no line split")],
        prop_oneof![Just(""), Just("on shortage cancel"), Just("on shortage reject because \"short\"")],
        prop_oneof![Just(""), Just("safety stock 1 when node.kind == store")],
        prop_oneof![
            Just(""),
            Just("stage \"near\" when d < 150 km\n  stage \"rest\" when node.kind != digital or true"),
        ],
        any::<bool>(),
        returns_policy(),
    )
        .prop_map(|(excludes, costs, criteria, split, line_split, shortage, safety, stages, profile, returns)| {
            let objective = if criteria.is_empty() { String::new() } else { format!("objective {{ {} }}", criteria.join("\n    ")) };
            let profile = if profile {
                "compliance \"vip\" {\n  applies when \"vip\" in order.tags\n  exclude when node.kind == vendor because \"vip: no dropship\"\n  ship within 2 business days\n  deliver within 4 days\n  cost vip per shipment = 2 USD when shipment.delivery_days > 2\n}\n"
            } else {
                ""
            };
            format!(
                "schema {{\n  item.fragile: bool = false\n}}\n\ntable rate(d: distance) -> money {{\n  d < 100 km => 4 USD\n  _ => 9 USD\n}}\n\ntable band(w: weight) -> money {{\n  w <= 2 kg => 0 USD\n  _ => 1 USD/kg * (w - 2 kg)\n}}\n\npolicy \"p\" {{\n  let d = distance(node, order.ship_to)\n  transit = if d < 100 km then 1 day else 36 h\n  {}\n  {}\n  {objective}\n  {split}\n  {line_split}\n  {shortage}\n  {safety}\n  {stages}\n}}\n\n/// Rush orders: overnight from anywhere. A profile that reads delivery dates is\n/// compiled once for each policy's transit.\npolicy \"rush\" {{\n  applies when \"rush\" in order.tags\n  priority 5\n  transit = 12 h\n  cost air per shipment = 20 USD\n}}\n{profile}\n{returns}",
                excludes.join("\n  "),
                costs.join("\n  "),
            )
        })
}

fn network(nodes: usize) -> impl Strategy<Value = Value> {
    let node = (
        0..4usize,
        -2.0..2.0f64,
        -2.0..2.0f64,
        1..4i64,
        any::<bool>(),
        1..5i64,
        0..3i64,
        0..50u32,
    );
    let calendar = (
        proptest::sample::select(TIME_ZONES),
        proptest::sample::select(&[None, Some("12:00"), Some("14:00"), Some("17:30")][..]),
        0..3u32,
        any::<bool>(),
        proptest::sample::subsequence(HOLIDAYS.to_vec(), 0..=3),
    );
    (
        proptest::collection::vec((node, calendar), nodes..=nodes),
        proptest::collection::vec(proptest::collection::vec(0..4i64, 3..=3), nodes..=nodes),
        proptest::collection::vec(any::<bool>(), 3..=3),
    )
        .prop_map(|(nodes, stock, fragile)| {
            let kinds = ["dc", "store", "vendor", "digital"];
            let nodes: Vec<Value> = nodes
                .iter()
                .enumerate()
                .map(|(i, ((kind, lat, lon, priority, blocked, capacity, load, pick), (zone, cutoff, handling, saturdays, holidays)))| {
                    let mut node = json!({
                        "id": format!("N{i}"), "kind": kinds[*kind], "lat": 40.0 + lat, "lon": -74.0 + lon,
                        "country": "US", "priority": priority, "tags": if *blocked { vec!["blocked"] } else { vec![] },
                        "capacity": capacity, "load": load, "handling_cost": 1.5, "pick_cost": *pick as f64 / 100.0,
                        "returns": (["carried", "all", "carried", "none"][*pick as usize % 4]),
                        "timezone": zone, "handling_days": handling, "holidays": holidays,
                    });
                    if let Some(cutoff) = cutoff {
                        node["cutoff"] = json!(cutoff);
                    }
                    if *saturdays {
                        node["working_days"] = json!(["mon", "tue", "wed", "thu", "fri", "sat"]);
                    }
                    node
                })
                .collect();
            let items: Vec<Value> = (0..3)
                .map(|s| json!({ "sku": format!("S{s}"), "weight": 1.0 + s as f64, "attributes": { "fragile": fragile[s] } }))
                .collect();
            let mut inventory = Vec::new();
            for (n, per_sku) in stock.iter().enumerate() {
                for (s, units) in per_sku.iter().enumerate() {
                    if *units > 0 {
                        inventory.push(json!({ "node": format!("N{n}"), "sku": format!("S{s}"), "on_hand": units, "target": (units * 3 + n as i64) % 6 }));
                    }
                }
            }
            json!({ "currency": "USD", "nodes": nodes, "items": items, "inventory": inventory })
        })
}

/// When an order was placed: a random instant within six days of one of
/// [`PLACED_FROM`], written with that instant's offset.
fn placed_at() -> impl Strategy<Value = String> {
    (proptest::sample::select(PLACED_FROM), 0..6 * 24 * 60i64).prop_map(|(from, minutes)| {
        let pieces = jiff::fmt::temporal::Pieces::parse(from).unwrap();
        let at: jiff::Timestamp = from.parse().unwrap();
        let at = at + jiff::SignedDuration::from_mins(minutes);
        let offset = match pieces.offset() {
            Some(jiff::fmt::temporal::PiecesOffset::Numeric(n)) => n.offset(),
            _ => jiff::tz::Offset::UTC,
        };
        at.display_with_offset(offset).to_string()
    })
}

fn order(index: usize, max_lines: usize, max_qty: i64) -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec((0..3usize, 1..=max_qty, 0..4usize, 5..15i64), 1..=max_lines),
        proptest::sample::subsequence(vec!["vip", "rush"], 0..=2),
        -1.0..1.0f64,
        // Now and then an order that does not say: the rules that need it refuse it.
        proptest::option::weighted(0.9, placed_at()),
        1..6i64,
        // Now and then a return: its lines come back from where it was shipped.
        proptest::bool::weighted(0.3),
    )
        .prop_map(move |(lines, tags, lat, placed_at, promised_in, is_return)| {
            let conditions = ["new", "opened", "used", "damaged"];
            let lines: Vec<Value> = lines
                .iter()
                .enumerate()
                .map(|(i, (sku, qty, condition, price))| {
                    let mut line = json!({ "id": format!("{}", i + 1), "sku": format!("S{sku}"), "qty": qty, "price": price });
                    if is_return {
                        line["condition"] = json!(conditions[*condition]);
                    }
                    line
                })
                .collect();
            let place = json!({ "lat": 40.0 + lat, "lon": -74.0, "country": "US" });
            let mut order = json!({ "id": format!("O{index}"), "channel": "web", "tags": tags, "lines": lines });
            match is_return {
                true => {
                    order["kind"] = json!("return");
                    order["from"] = place;
                }
                false => order["ship_to"] = place,
            }
            if let Some(placed_at) = placed_at {
                let placed_day: jiff::civil::Date = placed_at[..10].parse().unwrap();
                let promised_by = placed_day + jiff::Span::new().days(promised_in);
                order["placed_at"] = json!(placed_at);
                order["promised_by"] = json!(promised_by.to_string());
            }
            order
        })
}

fn scenario(
    nodes: std::ops::RangeInclusive<usize>,
    max_lines: usize,
    max_qty: i64,
    orders: usize,
) -> impl Strategy<Value = Scenario> {
    (
        ruleset(),
        nodes.prop_flat_map(network),
        (1..=orders).prop_flat_map(move |n| {
            (0..n)
                .map(|i| order(i, max_lines, max_qty))
                .collect::<Vec<_>>()
        }),
    )
        .prop_map(|(ruleset, network, orders)| Scenario {
            ruleset,
            network,
            orders,
        })
}

/// Routes the batch both ways; the decisions as JSON, without traces.
fn both(s: &Scenario) -> (Vec<Value>, Vec<Value>) {
    let mut sources = Sources::new();
    sources.add("random.allot", s.ruleset.as_str());
    let analysis = allot_check::analyze(&sources);
    assert!(
        !analysis.diagnostics.iter().any(|d| d.is_error()),
        "{}",
        s.ruleset
    );
    let plan = allot_compile::compile(&analysis.model, &sources);
    plan.validate().expect("compiled plans are well-formed");
    let network = Network::from_value(&s.network, &plan).expect("valid network");
    let mut reference = Reference::new(&analysis.model, &sources, &network);
    let mut engine = Engine::new(plan.clone(), network.clone());
    // The same network with every SKU's stockists kept as a set (large networks keep
    // only the long lists so): it must decide the same.
    let mut indexed = network.clone();
    indexed.index_stockists_from(1);
    let mut indexed = Engine::new(plan.clone(), indexed);
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    for value in &s.orders {
        let order = Order::from_value(value, &plan, &network).expect("valid order");
        let decision = engine.route(&order, false);
        // The policy has a transit: every shipment of an order that says when it was
        // placed carries both dates, and they are compared below (a return's parcels
        // carry none).
        assert!(
            (decision.shipments.iter().flatten()).all(|s| {
                let dated = order.placed.is_some() && !order.is_return;
                s.ship_by.is_some() == dated && s.deliver_by.is_some() == dated
            }),
            "{decision:?}"
        );
        let decision = serde_json::to_value(decision).unwrap();
        let with_sets = serde_json::to_value(indexed.route(&order, false)).unwrap();
        assert_eq!(decision, with_sets, "stockists as sets");
        expected.push(serde_json::to_value(reference.route(&order)).unwrap());
        actual.push(decision);
    }
    (expected, actual)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random rulesets, networks and batches of up to 3 orders of up to 3 lines.
    #[test]
    fn compiled_plans_decide_as_the_reference(s in scenario(2..=4, 3, 3, 3)) {
        let (expected, actual) = both(&s);
        prop_assert_eq!(expected, actual, "ruleset:\n{}\nnetwork: {}", s.ruleset, s.network);
    }

    /// Orders of up to 8 lines: the search's plan is the brute-force optimum.
    #[test]
    fn the_search_finds_the_optimum_for_orders_of_up_to_8_lines(s in scenario(2..=3, 8, 1, 1)) {
        let (expected, actual) = both(&s);
        prop_assert_eq!(expected, actual, "ruleset:\n{}\nnetwork: {}", s.ruleset, s.network);
    }
}
