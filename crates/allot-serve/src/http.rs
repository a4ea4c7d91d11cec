//! The HTTP contract (docs/service.md), and its OpenAPI description at
//! `GET /openapi.json`, generated from these handlers.

use crate::error::{ApiError, ErrorBody};
use crate::service::{RevisionView, RouteAnswer, RulesetView, Service, rfc3339};
use crate::store::{End, OnHand, Reservation};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;
use utoipa::OpenApi;

/// Largest order body.
pub const MAX_BODY: usize = 1 << 20;
/// Largest uploaded ruleset or plan.
pub const MAX_RULESET_BODY: usize = 16 << 20;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// The bearer token of the admin endpoints; `None` turns them off.
    pub admin_token: Option<Arc<str>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Allot routing service",
        description = "Routes orders with a compiled Allot ruleset and holds the stock they ship. See docs/service.md."
    ),
    paths(
        route_order,
        route_return,
        get_reservation,
        commit_reservation,
        release_reservation,
        get_stock,
        put_stock,
        get_ruleset,
        put_ruleset,
        rollback_ruleset,
        healthz,
        readyz,
        metrics
    ),
    components(schemas(
        RouteAnswer,
        OrderBody,
        ReturnBody,
        ErrorBody,
        ReservationView,
        StockView,
        StockUpdate,
        RulesetView,
        RevisionView
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3 document of the service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/route", post(route_order))
        .route("/v1/returns", post(route_return))
        .route("/v1/reservations/{id}", get(get_reservation))
        .route("/v1/reservations/{id}/commit", post(commit_reservation))
        .route("/v1/reservations/{id}/release", post(release_reservation))
        .route("/v1/stock/{sku}", get(get_stock))
        .route("/v1/stock", put(put_stock))
        .route(
            "/v1/ruleset",
            get(get_ruleset)
                .put(put_ruleset)
                .layer(DefaultBodyLimit::max(MAX_RULESET_BODY)),
        )
        .route("/v1/ruleset/rollback", post(rollback_ruleset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .with_state(state)
}

/// Counts and times every request by its route.
async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .service
        .metrics
        .request(&route, response.status().as_u16(), start.elapsed());
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see GET /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see GET /openapi.json",
    )
}

/// A request body, or the error that says why there is none.
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is over the limit (1 MiB; 16 MiB for rulesets)",
            )
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text())
        }
    })
}

/// A JSON object body.
fn json_object(bytes: &[u8], what: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("{what}: not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            format!("{what}: expected a JSON object"),
        ));
    }
    Ok(value)
}

/// Runs `work` on a task of its own, so that it goes to the end even if the client goes
/// away: the engine's view and the store never part.
async fn to_the_end<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "admin endpoints are off: start the service with --admin-token-file",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs the admin bearer token (Authorization: Bearer …)",
        )),
    }
}

/// An order in the format of docs/data.md (the design's §6).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the document only: orders are read by the runtime
struct OrderBody {
    /// The order's id: also the idempotency key.
    id: String,
    channel: Option<String>,
    /// pickup, ship or same_day.
    method: Option<String>,
    /// standard, expedited or next_day.
    service: Option<String>,
    /// `{lat, lon, country, region, postal_code}`.
    #[schema(value_type = Object)]
    ship_to: Value,
    pickup_node: Option<String>,
    tags: Option<Vec<String>>,
    /// The ruleset's custom order attributes.
    #[schema(value_type = Option<Object>)]
    attributes: Option<Value>,
    /// `[{id, sku, qty, price}]`.
    #[schema(value_type = Vec<Object>)]
    lines: Vec<Value>,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RouteQuery {
    /// Add the trace: every candidate node per line, and why.
    #[serde(default)]
    explain: bool,
}

/// Routes one order and holds what it ships.
#[utoipa::path(
    post,
    path = "/v1/route",
    tag = "routing",
    params(RouteQuery),
    request_body = OrderBody,
    responses(
        (status = 200, description = "The decision, and the reservation holding what ships", body = RouteAnswer),
        (status = 400, description = "Malformed JSON or order field", body = ErrorBody),
        (status = 409, description = "The order id was routed with another body", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable or stock kept changing; nothing held", body = ErrorBody)
    )
)]
async fn route_order(
    State(state): State<AppState>,
    query: Result<Query<RouteQuery>, QueryRejection>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let order = json_object(&body(payload)?, "order")?;
    let service = state.service.clone();
    let answer = to_the_end(async move { service.route(&order, query.explain).await }).await?;
    Ok(json_text(answer))
}

/// Routes one return request and adds what it brings back to the stock of the nodes
/// that receive it.
#[utoipa::path(
    post,
    path = "/v1/returns",
    tag = "routing",
    params(RouteQuery),
    request_body = ReturnBody,
    responses(
        (status = 200, description = "The decision: the node that receives each line, or the line kept or disposed of", body = RouteAnswer),
        (status = 400, description = "Malformed JSON or return field", body = ErrorBody),
        (status = 409, description = "The return id was routed with another body", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 503, description = "Database unavailable; send it again with the same id", body = ErrorBody)
    )
)]
async fn route_return(
    State(state): State<AppState>,
    query: Result<Query<RouteQuery>, QueryRejection>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let request = json_object(&body(payload)?, "return")?;
    let service = state.service.clone();
    let answer = to_the_end(async move { service.receive(&request, query.explain).await }).await?;
    Ok(json_text(answer))
}

/// A return request (see docs/data.md).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ReturnBody {
    /// The return's id: its idempotency key.
    id: String,
    channel: Option<String>,
    /// Why the shopper returns it.
    reason: Option<String>,
    /// Where it is sent from: `{lat, lon, country, region, postal_code}`.
    #[schema(value_type = Object)]
    from: Value,
    /// `[{id, sku, qty, price, condition}]`; condition: new, opened, used or damaged.
    #[schema(value_type = Vec<Object>)]
    lines: Vec<Value>,
}

/// A reservation: its state and what it holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReservationView {
    pub id: String,
    pub order: String,
    /// held, committed or released.
    pub state: String,
    pub created_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// commit, release or expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    pub lines: Vec<HeldLineView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HeldLineView {
    pub line: String,
    pub sku: String,
    pub node: String,
    pub qty: i64,
}

impl From<Reservation> for ReservationView {
    fn from(r: Reservation) -> ReservationView {
        ReservationView {
            id: r.id,
            order: r.order_id,
            state: r.state,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            ended_at: r.ended_at.map(rfc3339),
            ended_by: r.ended_by,
            lines: (r.units.into_iter())
                .map(|u| HeldLineView {
                    line: u.line,
                    sku: u.sku,
                    node: u.node,
                    qty: u.qty,
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/reservations/{id}",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id of a route answer")),
    responses(
        (status = 200, body = ReservationView),
        (status = 404, body = ErrorBody)
    )
)]
async fn get_reservation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReservationView>, ApiError> {
    match state.service.store().reservation(&id).await {
        Ok(Some(reservation)) => Ok(Json(reservation.into())),
        Ok(None) => Err(ApiError::not_found(format!("no reservation \"{id}\""))),
        Err(error) => Err(ApiError::unavailable(error.to_string())),
    }
}

/// Shipped: on_hand and reserved both fall. Repeating it is harmless.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/commit",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id of a route answer")),
    responses(
        (status = 200, body = ReservationView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Released, or expired before the commit", body = ErrorBody)
    )
)]
async fn commit_reservation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReservationView>, ApiError> {
    end(state, id, End::Commit).await
}

/// Cancelled: reserved falls, and the nodes' load. Repeating it is harmless.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/release",
    tag = "reservations",
    params(("id" = String, Path, description = "The reservation id of a route answer")),
    responses(
        (status = 200, body = ReservationView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already committed", body = ErrorBody)
    )
)]
async fn release_reservation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReservationView>, ApiError> {
    end(state, id, End::Release).await
}

async fn end(state: AppState, id: String, how: End) -> Result<Json<ReservationView>, ApiError> {
    let service = state.service.clone();
    let reservation = to_the_end(async move { service.end(&id, how).await }).await?;
    Ok(Json(reservation.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StockView {
    pub sku: String,
    pub nodes: Vec<NodeStockView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NodeStockView {
    pub node: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// Stock of one SKU at every node that holds it.
#[utoipa::path(
    get,
    path = "/v1/stock/{sku}",
    tag = "stock",
    params(("sku" = String, Path)),
    responses(
        (status = 200, body = StockView),
        (status = 404, description = "No node stocks the SKU", body = ErrorBody)
    )
)]
async fn get_stock(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    let rows = (state.service.store().stock_of(&[sku.as_str()]).await)
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("no stock of SKU \"{sku}\"")));
    }
    Ok(Json(StockView {
        sku,
        nodes: (rows.into_iter())
            .map(|r| NodeStockView {
                available: r.on_hand - r.reserved,
                node: r.node,
                on_hand: r.on_hand,
                reserved: r.reserved,
            })
            .collect(),
    }))
}

/// New on-hand counts, as an inventory feed sends them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the document only: the body is read field by field
struct StockUpdate {
    /// `[{node, sku, on_hand}]`, applied all or nothing.
    #[schema(value_type = Vec<Object>)]
    stock: Vec<Value>,
}

fn on_hand_counts(body: &Value) -> Result<Vec<OnHand>, ApiError> {
    let entries = body.get("stock").and_then(Value::as_array).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_stock",
            "expected {\"stock\": [{node, sku, on_hand}, …]}",
        )
        .with_field("stock")
    })?;
    let mut counts = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let field = |name: &str| format!("stock[{index}].{name}");
        let text = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_stock",
                        format!("stock[{index}]: field `{name}`: required, a string"),
                    )
                    .with_field(field(name))
                })
        };
        let node = text("node")?;
        let sku = text("sku")?;
        let on_hand = (entry.get("on_hand").and_then(Value::as_i64))
            .filter(|n| (0..=1_000_000_000_000).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_stock",
                    format!(
                        "stock[{index}]: field `on_hand`: required, a whole number from 0 to 10^12"
                    ),
                )
                .with_field(field("on_hand"))
            })?;
        if let Some(other) = entry.as_object().and_then(|o| {
            o.keys()
                .find(|k| !["node", "sku", "on_hand"].contains(&k.as_str()))
        }) {
            return Err(ApiError::bad_request(
                "invalid_stock",
                format!("stock[{index}]: unknown field `{other}` (expected node, sku, on_hand)"),
            )
            .with_field(field(other)));
        }
        counts.push(OnHand { node, sku, on_hand });
    }
    Ok(counts)
}

/// Sets on-hand counts (admin).
#[utoipa::path(
    put,
    path = "/v1/stock",
    tag = "stock",
    request_body = StockUpdate,
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The rows as they now are", body = Vec<NodeStockView>),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "A count below the units held", body = ErrorBody)
    )
)]
async fn put_stock(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    require_admin(&state, &headers)?;
    let counts = on_hand_counts(&json_object(&body(payload)?, "stock")?)?;
    let service = state.service.clone();
    let rows = to_the_end(async move { service.set_stock(&counts).await }).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                serde_json::json!({
                    "node": r.node, "sku": r.sku, "on_hand": r.on_hand,
                    "reserved": r.reserved, "available": r.on_hand - r.reserved,
                })
            })
            .collect(),
    ))
}

/// The active ruleset and the revisions kept for rollback.
#[utoipa::path(get, path = "/v1/ruleset", tag = "ruleset", responses((status = 200, body = RulesetView)))]
async fn get_ruleset(State(state): State<AppState>) -> Json<RulesetView> {
    Json(state.service.ruleset())
}

/// Verifies, compiles, tests and activates a ruleset (admin). The body is a plan from
/// `allot compile`, or a JSON object of file name → source text.
#[utoipa::path(
    put,
    path = "/v1/ruleset",
    tag = "ruleset",
    request_body(content = Object, description = "A compiled plan (application/octet-stream) or {\"file.allot\": \"source\", …}"),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RulesetView),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Refused: diagnostics or golden failures; the active ruleset stays", body = ErrorBody)
    )
)]
async fn put_ruleset(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<Json<RulesetView>, ApiError> {
    require_admin(&state, &headers)?;
    let bytes = body(payload)?;
    let service = state.service.clone();
    let view = to_the_end(async move { service.upload(&bytes).await }).await?;
    Ok(Json(view))
}

/// Goes back to the previous revision (admin).
#[utoipa::path(
    post,
    path = "/v1/ruleset/rollback",
    tag = "ruleset",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = RulesetView),
        (status = 401, body = ErrorBody),
        (status = 409, description = "No earlier revision", body = ErrorBody)
    )
)]
async fn rollback_ruleset(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<RulesetView>, ApiError> {
    require_admin(&state, &headers)?;
    Ok(Json(state.service.rollback().await?))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// The service can route: its database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, body = String), (status = 503, body = ErrorBody))
)]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.service.ready().await {
        Ok("ready\n")
    } else {
        Err(ApiError::unavailable("the database does not answer"))
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.service.metrics.encode(),
    )
        .into_response()
}

async fn openapi_json() -> Response {
    json_text(
        openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes"),
    )
}
