//! Returns: `POST /v1/returns` routes a return with the ruleset's `returns` policies and
//! adds what it brings back to the receiving nodes' stock, once per return id.

use super::*;

fn returns_ruleset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulesets/returns")
}

async fn returns_harness() -> Harness {
    let text = std::fs::read_to_string(returns_ruleset().join("network.json")).unwrap();
    let network: Value = serde_json::from_str(&text).unwrap();
    harness_with(Some(network), |config| {
        config.rules = RulesPath::Ruleset(returns_ruleset());
    })
    .await
}

fn jacket_return(id: &str, qty: i64) -> Value {
    json!({
        "id": id, "channel": "web", "reason": "wrong_size",
        "from": { "lat": 42.3, "lon": -71.1, "country": "US" },
        "lines": [{ "id": "1", "sku": "JACKET", "qty": qty, "price": 120.0, "condition": "opened" }]
    })
}

impl Harness {
    async fn receive(&self, request: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/returns", request.to_string(), false)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_adds_its_units_to_the_receiving_nodes_stock_once() {
    let h = returns_harness().await;
    assert_eq!(h.stock("JACKET", "STORE-BOS").await, (3, 0));
    let (status, answer) = h.receive(&jacket_return("R-1", 2)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["return"], true);
    assert_eq!(answer["shipments"][0]["node"], "STORE-BOS", "{answer}");
    assert_eq!(h.stock("JACKET", "STORE-BOS").await, (5, 0));

    // The id is the idempotency key: the same return changes nothing again.
    let (status, again) = h.receive(&jacket_return("R-1", 2)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, answer);
    assert_eq!(h.stock("JACKET", "STORE-BOS").await, (5, 0));
    let (status, body) = h.receive(&jacket_return("R-1", 3)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "return_conflict");

    // The returned units are sold again at once: five jackets now ship from the store.
    let order = json!({
        "id": "A-1", "channel": "web",
        "ship_to": { "lat": 42.35, "lon": -71.05, "country": "US" },
        "lines": [{ "id": "1", "sku": "JACKET", "qty": 5, "price": 120.0 }]
    });
    let (status, routed) = h.route(&order).await;
    assert_eq!(status, StatusCode::OK, "{routed}");
    assert_eq!(routed["shipments"][0]["node"], "STORE-BOS", "{routed}");
    assert!(h.audit().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_an_entry_gets_one_and_bad_returns_are_refused() {
    let h = returns_harness().await;
    let tv = json!({
        "id": "R-TV", "channel": "web", "reason": "damaged",
        "from": { "lat": 40.7, "lon": -74.0, "country": "US" },
        "lines": [{ "id": "1", "sku": "TV-65", "qty": 1, "price": 899.0, "condition": "damaged" }]
    });
    let (status, answer) = h.receive(&tv).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["shipments"][0]["node"], "RC-PA", "{answer}");
    assert_eq!(h.stock("TV-65", "RC-PA").await, (1, 0));

    let mut shredded = jacket_return("R-BAD", 1);
    shredded["lines"][0]["condition"] = json!("shredded");
    let (status, body) = h.receive(&shredded).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "invalid_return");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`condition`"),
        "{body}"
    );
    let (status, body) = h.receive(&json!({ "channel": "web" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(h.audit().await.is_empty());
}
