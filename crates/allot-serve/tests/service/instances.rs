//! Several instances of the service on one database, as behind a load balancer: each
//! has its own engine and view, and only the database is shared. On PostgreSQL
//! (`ALLOT_TEST_POSTGRES`) this is the deployment of many instances; on SQLite, several
//! processes on one file.

use super::*;
use allot_serve::http::AppState;

/// Two more instances on the database of `h`.
async fn more_instances(h: &Harness) -> Vec<(AppState, Router)> {
    let mut instances = Vec::new();
    for _ in 0..2 {
        let state = open(&h.config).await.expect("another instance opens");
        let app = router(state.clone());
        instances.push((state, app));
    }
    instances
}

fn units_shipped(answer: &Value) -> i64 {
    (answer["shipments"].as_array().into_iter().flatten())
        .flat_map(|s| s["lines"].as_array().unwrap())
        .map(|l| l["qty"].as_i64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_racing_for_stock_hold_it_once() {
    let h = harness_with(Some(network_with_only("SOFA-GRY", "DC-NJ", 100)), |_| {}).await;
    let others = more_instances(&h).await;
    let apps: Vec<&Router> = std::iter::once(&h.app)
        .chain(others.iter().map(|(_, app)| app))
        .collect();
    let tasks: Vec<_> = (0..90)
        .map(|i| spawn_route(apps[i % 3], sofa_order(&format!("M-{i}"), 2)))
        .collect();
    let mut held = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        match status {
            StatusCode::OK => held += units_shipped(&answer),
            // Stock that kept changing under this instance's view: nothing held.
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(error_code(&answer), "contention"),
            _ => panic!("{status}: {answer}"),
        }
    }
    assert!(held <= 100, "oversold: {held} units promised of 100");
    // Whatever contention left is taken by orders that follow, on any instance.
    for i in 0..60 {
        let (status, answer) = spawn_route(apps[i % 3], sofa_order(&format!("N-{i}"), 2))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        held += units_shipped(&answer);
    }
    assert_eq!(held, 100, "every unit promised, once");
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (100, 100));
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_holds_are_released_once_whichever_instance_sweeps() {
    let h = harness_with(None, |c| c.hold_ttl = Duration::from_millis(100)).await;
    let others = more_instances(&h).await;
    for i in 0..6 {
        let (status, answer) = h.route(&sofa_order(&format!("E-{i}"), 1)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 8));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let sweeps = std::iter::once(&h.state)
        .chain(others.iter().map(|(state, _)| state))
        .map(|state| {
            let service = state.service.clone();
            tokio::spawn(async move { service.sweep().await.expect("a sweep") })
        })
        .collect::<Vec<_>>();
    let mut released = 0;
    for sweep in sweeps {
        released += sweep.await.unwrap();
    }
    assert_eq!(released, 6, "each hold released by one sweeper");
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (12, 2));
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_sees_what_another_holds_and_releases() {
    if postgres().is_none() {
        return; // The change feed is PostgreSQL's; SQLite serves one instance.
    }
    let h = harness_with(Some(network_with_only("SOFA-GRY", "DC-NJ", 10)), |_| {}).await;
    let other = open(&h.config).await.expect("another instance opens");
    let changes = other
        .service
        .store()
        .follow()
        .expect("a feed on PostgreSQL");
    let follower = {
        let service = other.service.clone();
        tokio::spawn(async move { service.follow(changes).await })
    };
    let other_app = router(other.clone());
    let (status, held) = h.route(&sofa_order("F-1", 10)).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    let reservation = held["reservation"].as_str().expect("all ten held");
    // Another instance learns of the hold, and of its release, without routing into
    // them: an order it routes after the release finds the units free.
    let holds_at_other = |n: usize| {
        let app = other_app.clone();
        async move {
            let (status, answer) = spawn_route(&app, sofa_order(&format!("F-{n}"), 1))
                .await
                .unwrap();
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["reservation"].is_string()
        }
    };
    assert!(
        !holds_at_other(2).await,
        "nothing is free while F-1 holds it all"
    );
    let path = format!("/v1/reservations/{reservation}/release");
    let (status, answer) = h.call(Method::POST, &path, "", false).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mut held_there = false;
    for n in 3..103 {
        if holds_at_other(n).await {
            held_there = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(held_there, "the other instance never saw the release");
    follower.abort();
    assert!(h.audit().await.is_empty());
}

/// An order of a unit of each of `skus`.
fn order_of(id: &str, skus: &[&str]) -> Value {
    let lines: Vec<Value> = (skus.iter().enumerate())
        .map(|(n, sku)| json!({ "id": (n + 1).to_string(), "sku": sku, "qty": 1, "price": 20.0 }))
        .collect();
    json!({
        "id": id, "channel": "web",
        "ship_to": { "lat": 40.71, "lon": -74.0, "country": "US" },
        "lines": lines,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_taking_shared_rows_in_either_order_never_deadlock() {
    if postgres().is_none() {
        return; // SQLite has one writer: nothing to order.
    }
    let mut network = network_with_only("TEE-BLK", "DC-NJ", 1_000);
    let inventory = network["inventory"].as_array_mut().unwrap();
    inventory.retain(|e| e["sku"] != "SHOE-RUN");
    inventory.push(json!({"node": "DC-NJ", "sku": "SHOE-RUN", "on_hand": 1_000, "reserved": 0}));
    let h = harness_with(Some(network), |_| {}).await;
    let others = more_instances(&h).await;
    let apps: Vec<&Router> = std::iter::once(&h.app)
        .chain(others.iter().map(|(_, app)| app))
        .collect();
    let deadlocks = || async {
        let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&h.config.db)
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        count
    };
    let before = deadlocks().await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            // Batches of one SKU's holds and the other's, in every order.
            let skus: &[&str] = match i % 4 {
                0 => &["TEE-BLK"],
                1 => &["SHOE-RUN"],
                2 => &["TEE-BLK", "SHOE-RUN"],
                _ => &["SHOE-RUN", "TEE-BLK"],
            };
            spawn_route(apps[i % 3], order_of(&format!("D-{i}"), skus))
        })
        .collect();
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["reservation"].is_string(), "{answer}");
    }
    assert_eq!(h.stock("TEE-BLK", "DC-NJ").await, (1_000, 225));
    assert_eq!(h.stock("SHOE-RUN", "DC-NJ").await, (1_000, 225));
    // The server counts deadlocks as its backends report their statistics (within a
    // second).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(deadlocks().await, before, "transactions deadlocked");
}
