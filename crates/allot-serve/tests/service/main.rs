//! The service's tests: the HTTP contract, idempotency, expiry, hot reload, racing
//! holds, and decisions equal to `allot route`'s. Requests go to the router in-process.
//! Each test has a database of its own: an SQLite file, or, when `ALLOT_TEST_POSTGRES`
//! names a PostgreSQL server (`postgres://USER@HOST:PORT/DATABASE`, as `.ci/postgres
//! start` prints), a new database on it.

use allot_serve::http::{AppState, router};
use allot_serve::ruleset::RulesPath;
use allot_serve::store::{OnHand, Store};
use allot_serve::{Config, open};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token-0123456789";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rulesets/example")
}

/// The PostgreSQL server the tests run on, if any.
fn postgres() -> Option<String> {
    std::env::var("ALLOT_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The URL of a new, empty database: on the PostgreSQL server when there is one, else an
/// SQLite file in `dir`.
async fn fresh_database(dir: &Path) -> String {
    let Some(server) = postgres() else {
        return format!("sqlite://{}", dir.join("allot.db").display());
    };
    let name = format!("allot_test_{}", uuid::Uuid::new_v4().simple());
    allot_serve::store::create_postgres_database(&server, &name)
        .await
        .unwrap_or_else(|e| panic!("ALLOT_TEST_POSTGRES={server}: {e}"))
}

/// A service on a fresh database in `dir`, with the example ruleset and `network`.
struct Harness {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    state: AppState,
    app: Router,
    config: Config,
}

async fn harness_with(network: Option<Value>, tweak: impl FnOnce(&mut Config)) -> Harness {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_path_buf();
    let network_path = match network {
        Some(network) => {
            let file = path.join("network.json");
            std::fs::write(&file, network.to_string()).expect("network written");
            file
        }
        None => example().join("network.json"),
    };
    std::fs::write(path.join("token"), TOKEN).expect("token written");
    let mut config = Config::new(RulesPath::Ruleset(example()), network_path);
    config.db = fresh_database(&path).await;
    config.admin_token_file = Some(path.join("token"));
    tweak(&mut config);
    let state = open(&config).await.expect("the service opens");
    let app = router(state.clone());
    Harness {
        _dir: dir,
        dir: path,
        state,
        app,
        config,
    }
}

async fn harness() -> Harness {
    harness_with(None, |_| {}).await
}

impl Harness {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: impl Into<Body>,
        admin: bool,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if admin {
            request = request.header("authorization", format!("Bearer {TOKEN}"));
        }
        let response = (self.app.clone())
            .oneshot(request.body(body.into()).expect("a request"))
            .await
            .expect("the router answers");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    async fn route(&self, order: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/v1/route", order.to_string(), false)
            .await
    }

    async fn stock(&self, sku: &str, node: &str) -> (i64, i64) {
        let (status, body) = self
            .call(Method::GET, &format!("/v1/stock/{sku}"), "", false)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let row = body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["node"] == node)
            .unwrap_or_else(|| panic!("no {sku} at {node}: {body}"));
        (
            row["on_hand"].as_i64().unwrap(),
            row["reserved"].as_i64().unwrap(),
        )
    }

    async fn audit(&self) -> Vec<String> {
        self.state
            .service
            .store()
            .audit()
            .await
            .expect("the audit runs")
    }
}

fn sofa_order(id: &str, qty: i64) -> Value {
    json!({
        "id": id, "channel": "web",
        "ship_to": { "lat": 40.71, "lon": -74.0, "country": "US" },
        "lines": [{ "id": "1", "sku": "SOFA-GRY", "qty": qty, "price": 100.0 }]
    })
}

/// Routes an order on a task of its own, as concurrent clients would.
fn spawn_route(app: &Router, order: Value) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let app = app.clone();
    tokio::spawn(async move {
        let request = Request::post("/v1/route")
            .body(Body::from(order.to_string()))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    })
}

/// The example network with `sku`'s stock only at `node`: `on_hand` units.
fn network_with_only(sku: &str, node: &str, on_hand: i64) -> Value {
    let text = std::fs::read_to_string(example().join("network.json")).unwrap();
    let mut network: Value = serde_json::from_str(&text).unwrap();
    let inventory = network["inventory"].as_array_mut().unwrap();
    inventory.retain(|e| e["sku"] != sku);
    inventory.push(json!({"node": node, "sku": sku, "on_hand": on_hand, "reserved": 0}));
    network
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

fn example_sources() -> serde_json::Map<String, Value> {
    let mut files = serde_json::Map::new();
    for entry in std::fs::read_dir(example()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "allot") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, Value::String(std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

mod contract;
mod holds;
mod instances;
mod reload;
mod returns;
