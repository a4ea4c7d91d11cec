//! Holds: idempotency, expiry, racing orders, stale views, and decisions equal to
//! `allot route`'s for the same starting state.

use super::*;
use allot_runtime::{Engine, Network};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_id_is_the_idempotency_key() {
    let h = harness().await;
    let (_, first) = h.route(&sofa_order("I-1", 1)).await;
    let (status, again) = h.route(&sofa_order("I-1", 1)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, again, "the first decision, and its reservation");
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 3), "held once");
    let (status, body) = h.route(&sofa_order("I-1", 2)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "order_conflict")
    );
    assert_eq!(body["error"]["field"], "id");
    // Decisions that hold nothing are kept too: a held order answers the same again.
    let mut big = sofa_order("I-2", 9);
    big["lines"][0]["price"] = json!(10_000.0);
    let (_, held) = h.route(&big).await;
    assert_eq!(held["status"], "held");
    assert!(held.get("reservation").is_none());
    assert_eq!(h.route(&big).await.1, held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_not_committed_in_time_are_released() {
    let h = harness_with(None, |c| c.hold_ttl = Duration::from_millis(100)).await;
    let (_, a) = h.route(&sofa_order("X-1", 3)).await;
    let (_, b) = h.route(&sofa_order("X-2", 1)).await;
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 6));
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Committed after expiry but before any sweep: refused, and released.
    let commit_b = format!(
        "/v1/reservations/{}/commit",
        b["reservation"].as_str().unwrap()
    );
    let (status, body) = h.call(Method::POST, &commit_b, "", false).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "reservation_expired"),
        "{body}"
    );
    assert_eq!(
        h.state.service.sweep().await.unwrap(),
        1,
        "the other one, once"
    );
    assert_eq!(h.state.service.sweep().await.unwrap(), 0);
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 2));
    let reservation = a["reservation"].as_str().unwrap();
    let (_, body) = h
        .call(
            Method::GET,
            &format!("/v1/reservations/{reservation}"),
            "",
            false,
        )
        .await;
    assert_eq!(
        (&body["state"], &body["ended_by"]),
        (&json!("released"), &json!("expire"))
    );
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v1/reservations/{reservation}/commit"),
            "",
            false,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The view got the units back: a new order takes them.
    let (_, c) = h.route(&sofa_order("X-3", 10)).await;
    assert_eq!(c["shipments"][0]["lines"][0]["qty"], 10, "{c}");
    assert!(h.audit().await.is_empty());

    // The background sweeper does the same by itself.
    let tasks = allot_serve::spawn_background(h.state.service.clone(), &h.config);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 2));
    tasks.iter().for_each(|t| t.abort());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_orders_hold_exactly_the_stock_there_is() {
    let h = harness_with(Some(network_with_only("SOFA-GRY", "DC-NJ", 100)), |_| {}).await;
    let tasks: Vec<_> = (0..64)
        .map(|i| spawn_route(&h.app, sofa_order(&format!("R-{i}"), 2)))
        .collect();
    let mut held = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        held += answer["shipments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["lines"].as_array().unwrap())
            .map(|l| l["qty"].as_i64().unwrap())
            .sum::<i64>();
    }
    assert_eq!(held, 100, "the answers promise every unit, once");
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (100, 100));
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_view_costs_a_retry_never_an_oversell() {
    let h = harness_with(Some(network_with_only("SOFA-GRY", "DC-NJ", 10)), |_| {}).await;
    // Another writer (another instance, an inventory system) takes stock behind the
    // service's back: its view still says 10.
    let other = Store::open(&h.config.db).await.unwrap();
    let counts = [OnHand {
        node: "DC-NJ".into(),
        sku: "SOFA-GRY".into(),
        on_hand: 4,
    }];
    other.set_on_hand(&counts, 0).await.unwrap();
    let (_, answer) = h.route(&sofa_order("V-1", 6)).await;
    assert_eq!(answer["status"], "partial", "{answer}");
    assert_eq!(answer["shipments"][0]["lines"][0]["qty"], 4, "{answer}");
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (4, 4));
    let metrics = h.state.service.metrics.encode();
    assert!(
        metrics.contains("allot_hold_conflicts_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("allot_route_retries_total 1"), "{metrics}");
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_those_of_allot_route() {
    let h = harness().await;
    let plan = allot_compile::compile_sources(&{
        let mut sources = allot_diagnostics::Sources::new();
        for (name, text) in example_sources() {
            let path = example().join(name).display().to_string();
            sources.add(path, text.as_str().unwrap().to_string());
        }
        sources
    })
    .expect("the example compiles");
    let text = std::fs::read_to_string(example().join("network.json")).unwrap();
    let mut engine = Engine::new(plan.clone(), Network::from_json(&text, &plan).unwrap());
    let orders = std::fs::read_to_string(example().join("orders.jsonl")).unwrap();
    let mut compared = 0;
    for line in orders.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(order) = serde_json::from_str::<Value>(line) else {
            let (status, answer) = h
                .call(Method::POST, "/v1/route", line.to_string(), false)
                .await;
            assert_eq!(
                (status, error_code(&answer)),
                (StatusCode::BAD_REQUEST, "invalid_json")
            );
            continue;
        };
        let expected = serde_json::to_value(engine.route_json(&order, true)).unwrap();
        let (status, mut answer) = h
            .call(
                Method::POST,
                "/v1/route?explain=true",
                line.to_string(),
                false,
            )
            .await;
        if expected["status"] == "error" {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            continue;
        }
        let object = answer.as_object_mut().unwrap();
        for key in ["reservation", "ruleset_revision", "expires_at"] {
            object.remove(key);
        }
        assert_eq!(answer, expected);
        compared += 1;
    }
    assert!(compared >= 10, "{compared} decisions compared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_order_sent_at_once_is_held_once() {
    let h = harness_with(Some(network_with_only("SOFA-GRY", "DC-NJ", 50)), |_| {}).await;
    // Copies of one order, and other orders, reach the writer together: a refused
    // copy is rolled back to its savepoint without taking the others with it.
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let id = if i % 2 == 0 {
                "SAME".to_string()
            } else {
                format!("O-{i}")
            };
            spawn_route(&h.app, sofa_order(&id, 2))
        })
        .collect();
    let mut same = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        if i % 2 == 0 {
            same.push(answer);
        }
    }
    assert!(
        same.windows(2).all(|w| w[0] == w[1]),
        "one answer for every copy"
    );
    assert_eq!(
        h.stock("SOFA-GRY", "DC-NJ").await,
        (50, 2 * 13),
        "one hold for the copies, one per other order"
    );
    assert!(h.audit().await.is_empty(), "{:?}", h.audit().await);
}

/// The log SQLite writes ahead is copied back into the database while orders flow (the
/// writer never does it itself): its file stays the size of what is written between two
/// checkpoints, and does not grow with everything written since the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_is_copied_back_while_orders_flow() {
    if postgres().is_some() {
        return; // SQLite's log alone.
    }
    let h = harness().await;
    let wal = h.dir.join("allot.db-wal");
    let mut sizes = Vec::new();
    for round in 0..6 {
        for i in 0..40 {
            let (status, answer) = h.route(&sofa_order(&format!("W-{round}-{i}"), 1)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        sizes.push(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    let round = sizes[1].saturating_sub(sizes[0]).max(1);
    assert!(
        sizes[5] - sizes[1] < 2 * round,
        "the log grew round after round: {sizes:?} bytes"
    );
}

/// Holds written together are each all or nothing: one whose stock falls short at any
/// of its (sku, node) rows takes none of them, and an order recorded already, or earlier
/// in the same batch, takes nothing, while the others are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hold_of_a_batch_is_all_or_nothing() {
    use allot_serve::store::{HeldShipments, HeldUnits, Hold, HoldError, StockRow};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&fresh_database(dir.path()).await)
        .await
        .unwrap();
    let row = |sku: &str, on_hand| StockRow {
        sku: sku.into(),
        node: "DC".into(),
        on_hand,
        reserved: 0,
    };
    let loads = [("DC".to_string(), 0)];
    store
        .import(&[row("A", 5), row("B", 1)], &loads, 0)
        .await
        .unwrap();
    let hold = |order: &str, units: &[(&str, i64)]| Hold {
        order_id: order.into(),
        body: "{}".into(),
        answer: "{}".into(),
        reservation: Some(format!("res-{order}")),
        units: (units.iter().enumerate())
            .map(|(line, &(sku, qty))| HeldUnits {
                line: line.to_string(),
                sku: sku.into(),
                node: "DC".into(),
                qty,
            })
            .collect(),
        shipments: vec![HeldShipments {
            node: "DC".into(),
            shipments: 1,
        }],
        now: 1,
        expires_at: 1_000_000,
    };
    let (short, whole, late, again) = tokio::join!(
        store.hold(hold("short", &[("A", 3), ("B", 2)])),
        store.hold(hold("whole", &[("A", 3), ("B", 1)])),
        store.hold(hold("late", &[("B", 1)])),
        store.hold(hold("whole", &[("A", 1)])),
    );
    assert!(matches!(short, Err(HoldError::Conflict)), "{short:?}");
    assert!(whole.is_ok(), "{whole:?}");
    assert!(matches!(late, Err(HoldError::Conflict)), "{late:?}");
    assert!(matches!(again, Err(HoldError::Duplicate)), "{again:?}");
    let mut stock: Vec<(String, i64)> = (store.stock().await.unwrap().into_iter())
        .map(|r| (r.sku, r.reserved))
        .collect();
    stock.sort();
    assert_eq!(stock, [("A".to_string(), 3), ("B".to_string(), 1)]);
    assert_eq!(store.loads().await.unwrap(), loads.map(|(n, _)| (n, 1)));
    assert!(store.audit().await.unwrap().is_empty());
    store.close().await;
}
