//! Every endpoint and every error status of the contract.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_commit_release_and_their_errors() {
    let h = harness().await;
    let (status, answer) = h.route(&sofa_order("C-1", 1)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "routed");
    assert_eq!(answer["shipments"][0]["node"], "DC-NJ");
    assert_eq!(answer["ruleset_revision"], h.state.service.revision());
    let id = answer["reservation"]
        .as_str()
        .expect("a reservation")
        .to_string();
    assert!(
        answer["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        h.stock("SOFA-GRY", "DC-NJ").await,
        (12, 3),
        "2 reserved before, 1 held now"
    );

    let (status, held) = h
        .call(Method::GET, &format!("/v1/reservations/{id}"), "", false)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(held["state"], "held");
    assert_eq!(
        held["lines"],
        json!([{ "line": "1", "sku": "SOFA-GRY", "node": "DC-NJ", "qty": 1 }])
    );

    let commit = format!("/v1/reservations/{id}/commit");
    let (status, committed) = h.call(Method::POST, &commit, "", false).await;
    assert_eq!(status, StatusCode::OK, "{committed}");
    assert_eq!(committed["state"], "committed");
    assert_eq!(
        h.stock("SOFA-GRY", "DC-NJ").await,
        (11, 2),
        "shipped: both fall"
    );
    let (status, again) = h.call(Method::POST, &commit, "", false).await;
    assert_eq!(
        (status, &again["state"]),
        (StatusCode::OK, &json!("committed")),
        "idempotent"
    );
    assert_eq!(
        h.stock("SOFA-GRY", "DC-NJ").await,
        (11, 2),
        "a repeated commit changes nothing"
    );
    let (status, body) = h
        .call(
            Method::POST,
            &format!("/v1/reservations/{id}/release"),
            "",
            false,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "reservation_ended")
    );

    let (status, answer) = h.route(&sofa_order("C-2", 2)).await;
    assert_eq!(status, StatusCode::OK);
    let release = format!(
        "/v1/reservations/{}/release",
        answer["reservation"].as_str().unwrap()
    );
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (11, 4));
    for _ in 0..2 {
        let (status, released) = h.call(Method::POST, &release, "", false).await;
        assert_eq!(
            (status, &released["state"]),
            (StatusCode::OK, &json!("released"))
        );
        assert_eq!(
            h.stock("SOFA-GRY", "DC-NJ").await,
            (11, 2),
            "cancelled: reserved falls, once"
        );
    }

    for uri in [
        "/v1/reservations/nope/commit",
        "/v1/reservations/nope/release",
        "/v1/reservations/nope",
    ] {
        let method = if uri.ends_with("nope") {
            Method::GET
        } else {
            Method::POST
        };
        let (status, body) = h.call(method, uri, "", false).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{uri}"
        );
    }
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_say_what_and_where() {
    let h = harness().await;
    let cases: Vec<(Body, StatusCode, &str, Option<&str>)> = vec![
        (
            Body::from("{\"id\": "),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Body::from("[1, 2]"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        ),
        (
            Body::from("{\"channel\": \"web\"}"),
            StatusCode::BAD_REQUEST,
            "invalid_order",
            Some("id"),
        ),
        (
            Body::from(sofa_order("B-1", -1).to_string()),
            StatusCode::BAD_REQUEST,
            "invalid_order",
            Some("qty"),
        ),
        (
            Body::from(
                json!({"id": "B-2", "ship_to": {"lat": 1, "lon": 1, "country": "US"},
                              "lines": [{"id": "1", "sku": "NO-SUCH", "qty": 1}]})
                .to_string(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_order",
            Some("sku"),
        ),
        (
            Body::from(vec![b' '; allot_serve::http::MAX_BODY + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, answer) = h.call(Method::POST, "/v1/route", body, false).await;
        assert_eq!((got, error_code(&answer)), (status, code), "{answer}");
        assert_eq!(answer["error"]["field"].as_str(), field, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, body) = h
        .call(
            Method::POST,
            "/v1/route?explain=maybe",
            sofa_order("B-3", 1).to_string(),
            false,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let (status, body) = h.call(Method::GET, "/v1/nothing", "", false).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = h.call(Method::DELETE, "/v1/route", "", false).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, body) = h.call(Method::GET, "/v1/stock/NO-SUCH", "", false).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    // A malformed order holds nothing and is not recorded: corrected, it routes.
    let (status, _) = h.route(&sofa_order("B-1", 1)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explanations_on_request() {
    let h = harness().await;
    let (status, answer) = h
        .call(
            Method::POST,
            "/v1/route?explain=true",
            sofa_order("E-1", 1).to_string(),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["trace"]["lines"][0]["candidates"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_feed_is_admin_only_and_all_or_nothing() {
    let h = harness().await;
    let feed = json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 40}]}).to_string();
    let (status, body) = h.call(Method::PUT, "/v1/stock", feed.clone(), false).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (status, body) = h.call(Method::PUT, "/v1/stock", feed, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["available"], 38);
    assert_eq!(h.stock("SOFA-GRY", "DC-NJ").await, (40, 2));

    let bad = [
        (
            json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY"}]}),
            StatusCode::BAD_REQUEST,
            "stock[0].on_hand",
        ),
        (
            json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 5}, {"node": "NOPE", "sku": "SOFA-GRY", "on_hand": 1}]}),
            StatusCode::BAD_REQUEST,
            "stock[1].node",
        ),
        (
            json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 5, "extra": 1}]}),
            StatusCode::BAD_REQUEST,
            "stock[0].extra",
        ),
        (
            json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 5}, {"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 1}]}),
            StatusCode::CONFLICT,
            "stock[1].on_hand",
        ),
        (json!({"items": []}), StatusCode::BAD_REQUEST, "stock"),
    ];
    for (feed, status, field) in bad {
        let (got, body) = h
            .call(Method::PUT, "/v1/stock", feed.to_string(), true)
            .await;
        assert_eq!(
            (got, body["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}"
        );
    }
    assert_eq!(
        h.stock("SOFA-GRY", "DC-NJ").await,
        (40, 2),
        "a refused feed changes nothing"
    );

    // A pair not stocked before: the engine is rebuilt and routes from it.
    let feed = json!({"stock": [{"node": "DC-NJ", "sku": "SOFA-GRY", "on_hand": 2}, {"node": "DC-TX", "sku": "SOFA-GRY", "on_hand": 7}]});
    let (status, body) = h
        .call(Method::PUT, "/v1/stock", feed.to_string(), true)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut order = sofa_order("S-1", 3);
    order["ship_to"] = json!({ "lat": 32.78, "lon": -96.8, "country": "US" });
    let (_, answer) = h.route(&order).await;
    assert_eq!(answer["shipments"][0]["node"], "DC-TX", "{answer}");
    assert!(h.audit().await.is_empty(), "{:?}", h.audit().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints() {
    let h = harness().await;
    h.route(&sofa_order("M-1", 1)).await;
    let (status, body) = h.call(Method::GET, "/healthz", "", false).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok\n")));
    let (status, _) = h.call(Method::GET, "/readyz", "", false).await;
    assert_eq!(status, StatusCode::OK);
    let (status, Value::String(metrics)) = h.call(Method::GET, "/metrics", "", false).await else {
        panic!("metrics are text");
    };
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "allot_http_requests_total{route=\"/v1/route\",status=\"200\"} 1",
        "allot_decisions_total{status=\"routed\"} 1",
        "allot_reservations_total{event=\"held\"} 1",
        "allot_http_request_duration_seconds_bucket",
        "allot_hold_conflicts_total 0",
        "allot_route_retries_total 0",
        &format!(
            "allot_ruleset_active{{revision=\"{}\"}} 1",
            h.state.service.revision()
        ),
    ] {
        assert!(metrics.contains(needle), "{needle} missing in\n{metrics}");
    }
    let (status, spec) = h.call(Method::GET, "/openapi.json", "", false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for path in [
        "/v1/route",
        "/v1/reservations/{id}/commit",
        "/v1/reservations/{id}/release",
        "/v1/stock/{sku}",
        "/v1/stock",
        "/v1/ruleset",
        "/v1/ruleset/rollback",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing in the OpenAPI document"
        );
    }
    assert!(spec["components"]["schemas"]["Decision"].is_object());
}
