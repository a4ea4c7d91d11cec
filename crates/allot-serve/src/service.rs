//! The service's state and operations, free of HTTP: route and hold, end holds, read
//! and set stock, swap rulesets.
//!
//! The routing engine keeps an in-memory view of free stock and load, which makes
//! routing fast; the store is the truth. An order is routed against the view, then
//! everything it ships is held in one store transaction. When the store finds the stock
//! gone (the view was stale), nothing is written: the view of the order's SKUs and
//! nodes is read again from the store and the order routed again, a bounded number of
//! times. A stale view can cost a retry, never an oversold unit.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ruleset::{self, Golden, Refusal, Revision, RulesPath};
use crate::store::{
    Change, End, EndError, EndOutcome, HeldShipments, HeldUnits, Hold, HoldError, OnHand, Received,
    Reservation, SetStockError, StockRow, Store, StoreError,
};
use allot_runtime::network::Stock;
use allot_runtime::{Decision, Engine, Order};
use arc_swap::ArcSwap;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often an order is routed again after its hold found the stock gone.
const MAX_RETRIES: usize = 3;
/// How long changes from other instances gather before their rows are read again.
const FOLLOW_EVERY: Duration = Duration::from_millis(20);
/// Previous revisions kept for rollback.
const HISTORY: usize = 10;

/// A ruleset in service: its revision and the engine routing with it.
struct Active {
    revision: Arc<Revision>,
    engine: Mutex<Engine>,
}

impl Active {
    /// The engine; a panic while routing cannot leave it unusable (its view is read
    /// from the store again when in doubt).
    fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A decision as the service answers it: the decision exactly as `allot route` gives
/// it, then what the service held.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RouteAnswer {
    #[serde(flatten)]
    pub decision: Decision,
    /// The reservation holding what ships; absent when nothing was held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// The hash of the ruleset that decided.
    pub ruleset_revision: String,
    /// When the hold is released unless committed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A ruleset revision, for people.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RevisionView {
    pub revision: String,
    /// RFC 3339.
    pub activated_at: String,
    /// Where it came from: a path, or "upload".
    pub source: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesetView {
    pub active: RevisionView,
    /// Earlier revisions, newest first: what `POST /v1/ruleset/rollback` goes back to.
    pub previous: Vec<RevisionView>,
}

/// What the service was started with.
pub struct Options {
    /// Where the rules come from: read again when they change on disk.
    pub rules: RulesPath,
    pub network_text: String,
    pub golden: Option<Golden>,
    pub hold_ttl: Duration,
}

pub struct Service {
    store: Store,
    network_text: String,
    golden: Option<Golden>,
    hold_ttl: Duration,
    rules: RulesPath,
    active: ArcSwap<Active>,
    /// Earlier revisions, oldest first.
    history: Mutex<Vec<Arc<Revision>>>,
    /// One swap at a time.
    swapping: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

fn view(revision: &Revision) -> RevisionView {
    RevisionView {
        revision: revision.id.clone(),
        activated_at: humantime::format_rfc3339_millis(revision.activated_at).to_string(),
        source: revision.source.clone(),
    }
}

fn store_error(error: StoreError) -> ApiError {
    ApiError::unavailable(error.to_string())
}

fn refused(refusal: Refusal) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "ruleset_refused",
        refusal.message,
    );
    if !refusal.diagnostics.is_empty() {
        error.body.diagnostics = Some(refusal.diagnostics);
    }
    if !refusal.failures.is_empty() {
        error.body.failures = Some(refusal.failures);
    }
    error
}

/// What a decision takes: units per (line, sku, node) and the shipments per node.
/// A request the runtime refused to read: 400 with `code`, naming the field.
fn invalid(code: &str, e: allot_runtime::DataError) -> ApiError {
    let error = ApiError::bad_request(code, e.to_string());
    match e.field {
        Some(field) => error.with_field(field),
        None => error,
    }
}

fn holds_of(decision: &Decision, engine: &Engine) -> (Vec<HeldUnits>, Vec<HeldShipments>) {
    let network = engine.network();
    let mut units = Vec::new();
    let mut shipments = Vec::new();
    for shipment in decision.shipments.iter().flatten() {
        for line in &shipment.lines {
            units.push(HeldUnits {
                line: line.line.clone(),
                sku: line.sku.clone(),
                node: shipment.node.clone(),
                qty: line.qty,
            });
        }
        if let Some(&node) = network.node_index.get(shipment.node.as_str())
            && !network.nodes[node as usize].is_digital()
        {
            shipments.push(HeldShipments {
                node: shipment.node.clone(),
                shipments: 1,
            });
        }
    }
    (units, shipments)
}

/// An engine for `revision` whose view is the store's stock and load.
/// Sets the view's free stock and load to what the store holds for these rows.
fn apply(active: &Active, stock: &[StockRow], loads: &[(String, i64)]) {
    let mut engine = active.engine();
    let network_has = |engine: &Engine, sku: &str, node: &str| {
        let network = engine.network();
        Some((*network.sku_index.get(sku)?, *network.node_index.get(node)?))
    };
    for row in stock {
        if let Some((item, node)) = network_has(&engine, &row.sku, &row.node) {
            engine.set_free(item, node, row.on_hand - row.reserved);
        }
    }
    for (node, load) in loads {
        if let Some(&index) = engine.network().node_index.get(node.as_str()) {
            engine.set_load(index, *load as f64);
        }
    }
}

fn engine_for(revision: &Revision, stock: &[StockRow], loads: &[(String, i64)]) -> Engine {
    let mut network = revision.network.clone();
    let entries: Vec<(u32, Stock)> = stock
        .iter()
        .filter_map(|row| {
            let item = *network.sku_index.get(row.sku.as_str())?;
            let node = *network.node_index.get(row.node.as_str())?;
            // Targets are the snapshot's: the database holds stock, not plans.
            let target = (network.stock_position(item, node))
                .map_or(0, |at| network.stock[item as usize][at].target);
            Some((
                item,
                Stock {
                    node,
                    on_hand: row.on_hand,
                    reserved: row.reserved,
                    target,
                },
            ))
        })
        .collect();
    network.set_inventory(entries);
    for (node, load) in loads {
        if let Some(&index) = network.node_index.get(node.as_str()) {
            network.nodes[index as usize].load = *load as f64;
        }
    }
    Engine::new(revision.plan.clone(), network)
}

impl Service {
    /// Opens the service on `store`: imports the network's stock and load on the first
    /// start, then activates the ruleset.
    pub async fn start(store: Store, options: Options, first: Revision) -> Result<Service, String> {
        if !store.is_initialized().await.map_err(|e| e.to_string())? {
            let network = &first.network;
            let stock: Vec<StockRow> = (network.stock.iter().enumerate())
                .flat_map(|(item, list)| {
                    list.iter().map(move |s| StockRow {
                        sku: network.items[item].sku.to_string(),
                        node: network.nodes[s.node as usize].id.to_string(),
                        on_hand: s.on_hand,
                        reserved: s.reserved,
                    })
                })
                .collect();
            let loads: Vec<(String, i64)> = (network.nodes.iter())
                .map(|n| (n.id.to_string(), n.load as i64))
                .collect();
            store
                .import(&stock, &loads, now_ms())
                .await
                .map_err(|e| format!("importing the network's stock: {e}"))?;
        }
        let revision = Arc::new(first);
        let active = Service::build(&store, revision.clone())
            .await
            .map_err(|e| e.to_string())?;
        let metrics = Metrics::default();
        metrics.active_revision(&revision.id);
        Ok(Service {
            store,
            network_text: options.network_text,
            golden: options.golden,
            hold_ttl: options.hold_ttl,
            rules: options.rules,
            active: ArcSwap::from_pointee(active),
            history: Mutex::new(Vec::new()),
            swapping: tokio::sync::Mutex::new(()),
            metrics,
        })
    }

    async fn build(store: &Store, revision: Arc<Revision>) -> Result<Active, StoreError> {
        let stock = store.stock().await?;
        let loads = store.loads().await?;
        let engine = engine_for(&revision, &stock, &loads);
        Ok(Active {
            revision,
            engine: Mutex::new(engine),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn revision(&self) -> String {
        self.active.load().revision.id.clone()
    }

    /// Routes an order and holds what it ships. The same order again answers as the
    /// first time; another order under the same id is a conflict. The answer is a
    /// [`RouteAnswer`] as JSON text, as recorded.
    pub async fn route(&self, body: &Value, explain: bool) -> Result<String, ApiError> {
        let Some(id) = body.get("id").and_then(Value::as_str) else {
            return Err(ApiError::bad_request(
                "invalid_order",
                "order: field `id`: required, a string: the order's id is its idempotency key",
            )
            .with_field("id"));
        };
        let canonical = body.to_string();
        if let Some(answer) = self.replay(id, body, false).await? {
            return Ok(answer);
        }
        let active = self.active.load_full();
        for attempt in 0..=MAX_RETRIES {
            if attempt > 0 {
                self.metrics.retries.inc();
            }
            let (decision, units, shipments) = {
                let mut engine = active.engine();
                let order = Order::from_value(body, engine.plan(), engine.network())
                    .map_err(|e| invalid("invalid_order", e))?;
                let decision = engine.route(&order, explain);
                let (units, shipments) = holds_of(&decision, &engine);
                (decision, units, shipments)
            };
            let now = now_ms();
            let expires_at = now + self.hold_ttl.as_millis() as i64;
            let reservation = (!units.is_empty()).then(|| uuid::Uuid::new_v4().to_string());
            let status = decision.status;
            let answer = RouteAnswer {
                decision,
                reservation: reservation.clone(),
                ruleset_revision: active.revision.id.clone(),
                expires_at: reservation.as_ref().map(|_| rfc3339(expires_at)),
            };
            let answer_text = serde_json::to_string(&answer).expect("answers serialize");
            let hold = Hold {
                order_id: id.to_string(),
                body: canonical.clone(),
                answer: answer_text.clone(),
                reservation: reservation.clone(),
                units: units.clone(),
                shipments: shipments.clone(),
                now,
                expires_at,
            };
            match self.store.hold(hold).await {
                Ok(()) => {
                    self.metrics.decision(status.name());
                    if reservation.is_some() {
                        self.metrics.reservation("held");
                    }
                    return Ok(answer_text);
                }
                Err(HoldError::Conflict) => {
                    self.metrics.conflicts.inc();
                    self.refresh(&active, &units, &shipments).await?;
                }
                Err(HoldError::Duplicate) => {
                    self.refresh(&active, &units, &shipments).await?;
                    return match self.replay(id, body, false).await? {
                        Some(answer) => Ok(answer),
                        None => Err(ApiError::unavailable(
                            "the order was recorded meanwhile and cannot be read back; try again",
                        )),
                    };
                }
                Err(HoldError::Database(error)) => {
                    // The view took what the store did not hold: read it again.
                    let _ = self.refresh(&active, &units, &shipments).await;
                    return Err(ApiError::unavailable(format!(
                        "database: {error}; the order may not be held: send it again with the same id to learn its outcome"
                    )));
                }
            }
        }
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "contention",
            format!(
                "stock for this order kept changing while it was held ({} tries); nothing was held, try again",
                MAX_RETRIES + 1
            ),
        ))
    }

    /// The answer recorded for order `id`, if the body is the one first routed.
    /// The answer recorded for order (or return) `id`, if the body is the one first
    /// routed.
    async fn replay(
        &self,
        id: &str,
        body: &Value,
        is_return: bool,
    ) -> Result<Option<String>, ApiError> {
        let recorded = match is_return {
            true => self.store.returned(id).await,
            false => self.store.order(id).await,
        };
        let Some(recorded) = recorded.map_err(store_error)? else {
            return Ok(None);
        };
        let first: Value = serde_json::from_str(&recorded.body).unwrap_or(Value::Null);
        if &first != body {
            let (code, what) = match is_return {
                true => ("return_conflict", "return"),
                false => ("order_conflict", "order"),
            };
            return Err(ApiError::conflict(
                code,
                format!("{what} \"{id}\" was already routed with a different body"),
            )
            .with_field("id"));
        }
        Ok(Some(recorded.answer))
    }

    /// Routes a return request and records what it brings back: added to the stock of
    /// the nodes that receive it (and one more order of their load), so that the orders
    /// routed next see it. The id is the idempotency key: a repeat with the same body
    /// gets the first answer and changes nothing.
    pub async fn receive(&self, body: &Value, explain: bool) -> Result<String, ApiError> {
        let Some(id) = body.get("id").and_then(Value::as_str) else {
            return Err(ApiError::bad_request(
                "invalid_return",
                "return: field `id`: required, a string: the return's id is its idempotency key",
            )
            .with_field("id"));
        };
        if let Some(answer) = self.replay(id, body, true).await? {
            return Ok(answer);
        }
        let active = self.active.load_full();
        let (decision, units, shipments, new_pairs) = {
            let mut engine = active.engine();
            let request = Order::return_from_value(body, engine.plan(), engine.network())
                .map_err(|e| invalid("invalid_return", e))?;
            let decision = engine.route(&request, explain);
            let (units, shipments) = holds_of(&decision, &engine);
            let network = engine.network();
            let new_pairs = units.iter().any(|u| {
                let item = network.sku_index.get(u.sku.as_str());
                let node = network.node_index.get(u.node.as_str());
                match (item, node) {
                    (Some(&item), Some(&node)) => network.stock_position(item, node).is_none(),
                    _ => false,
                }
            });
            (decision, units, shipments, new_pairs)
        };
        let status = decision.status;
        let answer = RouteAnswer {
            decision,
            reservation: None,
            ruleset_revision: active.revision.id.clone(),
            expires_at: None,
        };
        let answer_text = serde_json::to_string(&answer).expect("answers serialize");
        let mut by_pair: BTreeMap<(String, String), i64> = BTreeMap::new();
        for unit in &units {
            *by_pair
                .entry((unit.sku.clone(), unit.node.clone()))
                .or_default() += unit.qty;
        }
        let received = Received {
            id,
            body: &body.to_string(),
            answer: &answer_text,
            units: (by_pair.into_iter())
                .map(|((sku, node), units)| (sku, node, units))
                .collect(),
            nodes: shipments.iter().map(|s| s.node.clone()).collect(),
        };
        match self.store.receive(&received, now_ms()).await {
            Ok(true) => {
                self.metrics.decision(status.name());
                if new_pairs {
                    // Units received where the node had no entry for the SKU.
                    self.rebuild().await?;
                }
                Ok(answer_text)
            }
            Ok(false) => {
                // Recorded meanwhile, by another request with this id: its answer holds,
                // and the view took what it did not receive.
                self.refresh(&active, &units, &shipments).await?;
                match self.replay(id, body, true).await? {
                    Some(answer) => Ok(answer),
                    None => Err(ApiError::unavailable(
                        "the return was recorded meanwhile and cannot be read back; try again",
                    )),
                }
            }
            Err(error) => {
                let _ = self.refresh(&active, &units, &shipments).await;
                Err(ApiError::unavailable(format!(
                    "database: {error}; the return may not be recorded: send it again with the same id to learn its outcome"
                )))
            }
        }
    }

    /// Reads the view of these SKUs and nodes again from the store.
    async fn refresh(
        &self,
        active: &Active,
        units: &[HeldUnits],
        shipments: &[HeldShipments],
    ) -> Result<(), ApiError> {
        let mut skus: Vec<&str> = units.iter().map(|u| u.sku.as_str()).collect();
        skus.sort_unstable();
        skus.dedup();
        let mut nodes: Vec<&str> = shipments.iter().map(|s| s.node.as_str()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let stock = self.store.stock_of(&skus).await.map_err(store_error)?;
        let loads = self.store.loads_of(&nodes).await.map_err(store_error)?;
        apply(active, &stock, &loads);
        Ok(())
    }

    /// Keeps the view fresh from the store's change feed (see [`Store::follow`]), until
    /// the feed ends: the rows another instance changed are read again, and everything
    /// when notifications may have been missed.
    pub async fn follow(&self, mut changes: tokio::sync::mpsc::Receiver<Change>) {
        while let Some(first) = changes.recv().await {
            let mut missed = false;
            let mut stock = BTreeSet::new();
            let mut nodes = BTreeSet::new();
            let mut absorb = |change: Change| match change {
                Change::Touched { stock: s, nodes: n } => {
                    stock.extend(s);
                    nodes.extend(n);
                }
                Change::Missed => missed = true,
            };
            absorb(first);
            // What else comes meanwhile is read in the same queries.
            tokio::time::sleep(FOLLOW_EVERY).await;
            while let Ok(change) = changes.try_recv() {
                absorb(change);
            }
            let active = self.active.load_full();
            let read = if missed {
                tokio::try_join!(self.store.stock(), self.store.loads())
            } else {
                let stock: Vec<(&str, &str)> = stock
                    .iter()
                    .map(|(s, n)| (s.as_str(), n.as_str()))
                    .collect();
                let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
                tokio::try_join!(self.store.stock_at(&stock), self.store.loads_of(&nodes))
            };
            match read {
                Ok((stock, loads)) => apply(&active, &stock, &loads),
                Err(error) => eprintln!("allot serve: reading changed stock: {error}"),
            }
        }
    }

    /// Commits, releases or expires a reservation, and gives back to the view what a
    /// release frees.
    pub async fn end(&self, id: &str, end: End) -> Result<Reservation, ApiError> {
        match self.store.end(id, end, now_ms()).await {
            Ok(EndOutcome::Ended(reservation)) => {
                self.ended(end, &reservation);
                Ok(reservation)
            }
            Ok(EndOutcome::Already(reservation)) => Ok(reservation),
            Err(EndError::NotFound) => Err(ApiError::not_found(format!("no reservation \"{id}\""))),
            Err(EndError::Ended(reservation)) => Err(ApiError::conflict(
                "reservation_ended",
                format!(
                    "reservation \"{id}\" is already {} (by {})",
                    reservation.state,
                    reservation.ended_by.as_deref().unwrap_or("?")
                ),
            )),
            Err(EndError::Expired(reservation)) => {
                self.metrics.reservation("expired");
                self.give_back(&reservation);
                Err(ApiError::conflict(
                    "reservation_expired",
                    format!(
                        "reservation \"{id}\" expired at {} and its units were released",
                        rfc3339(reservation.expires_at)
                    ),
                ))
            }
            Err(EndError::Database(error)) => Err(ApiError::unavailable(format!(
                "database: {error}; nothing changed"
            ))),
        }
    }

    /// Counts a reservation this instance ended, and gives back to the view what a
    /// release frees.
    fn ended(&self, end: End, reservation: &Reservation) {
        self.metrics.reservation(match end {
            End::Commit => "committed",
            End::Release => "released",
            End::Expire => "expired",
        });
        if end != End::Commit {
            self.give_back(reservation);
        }
    }

    /// Returns a released reservation's units and shipments to the engine's view.
    fn give_back(&self, reservation: &Reservation) {
        let active = self.active.load();
        let mut engine = active.engine();
        for units in &reservation.units {
            let network = engine.network();
            if let (Some(&item), Some(&node)) = (
                network.sku_index.get(units.sku.as_str()),
                network.node_index.get(units.node.as_str()),
            ) && let Some(free) = engine.free(item, node)
            {
                engine.set_free(item, node, free + units.qty);
            }
        }
        for (node, shipments) in &reservation.shipments {
            if let Some(&index) = engine.network().node_index.get(node.as_str()) {
                let load = engine.load(index);
                engine.set_load(index, (load - *shipments as f64).max(0.0));
            }
        }
    }

    /// Releases every hold whose time ran out; returns how many this call released.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let mut released = 0;
        loop {
            let expired = self.store.expired(now_ms(), 500).await?;
            if expired.is_empty() {
                return Ok(released);
            }
            let before = released;
            for id in &expired {
                // Another sweeper (of this instance or another), or a release, may have
                // got there first: only the one that ends it counts it.
                if let Ok(EndOutcome::Ended(reservation)) =
                    self.store.end(id, End::Expire, now_ms()).await
                {
                    self.ended(End::Expire, &reservation);
                    released += 1;
                }
            }
            if released == before {
                // None could be released (the database refuses writes): next tick.
                return Ok(released);
            }
        }
    }

    /// Sets on-hand counts from an inventory feed, all or nothing.
    pub async fn set_stock(&self, counts: &[OnHand]) -> Result<Vec<StockRow>, ApiError> {
        let active = self.active.load_full();
        for (index, count) in counts.iter().enumerate() {
            let network = &active.revision.network;
            if !network.node_index.contains_key(count.node.as_str()) {
                return Err(ApiError::bad_request(
                    "unknown_node",
                    format!("stock[{index}]: no node \"{}\" in the network", count.node),
                )
                .with_field(format!("stock[{index}].node")));
            }
            if !network.sku_index.contains_key(count.sku.as_str()) {
                return Err(ApiError::bad_request(
                    "unknown_sku",
                    format!("stock[{index}]: no SKU \"{}\" in the network", count.sku),
                )
                .with_field(format!("stock[{index}].sku")));
            }
        }
        let changed = match self.store.set_on_hand(counts, now_ms()).await {
            Ok(changed) => changed,
            Err(SetStockError::BelowReserved { index, reserved }) => {
                let count = &counts[index];
                return Err(ApiError::conflict(
                    "below_reserved",
                    format!(
                        "stock[{index}]: on_hand {} for {} at {} is below the {reserved} units held there; release holds first",
                        count.on_hand, count.sku, count.node
                    ),
                )
                .with_field(format!("stock[{index}].on_hand")));
            }
            Err(SetStockError::Database(error)) => {
                return Err(ApiError::unavailable(format!(
                    "database: {error}; nothing changed"
                )));
            }
        };
        let mut new_pairs = false;
        {
            let mut engine = active.engine();
            for (row, delta) in &changed {
                let network = engine.network();
                let item = network.sku_index[row.sku.as_str()];
                let node = network.node_index[row.node.as_str()];
                match engine.free(item, node) {
                    Some(free) => {
                        engine.set_free(item, node, free + delta);
                    }
                    None => new_pairs = true,
                }
            }
        }
        if new_pairs {
            self.rebuild().await?;
        }
        Ok(changed.into_iter().map(|(row, _)| row).collect())
    }

    /// Builds the engine again from the store: its stock lists are fixed at build, so a
    /// new (node, SKU) pair needs a new one.
    async fn rebuild(&self) -> Result<(), ApiError> {
        let _swap = self.swapping.lock().await;
        let current = self.active.load_full();
        let rebuilt = Service::build(&self.store, current.revision.clone())
            .await
            .map_err(store_error)?;
        self.active.store(Arc::new(rebuilt));
        Ok(())
    }

    pub fn ruleset(&self) -> RulesetView {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        RulesetView {
            active: view(&self.active.load().revision),
            previous: history.iter().rev().map(|r| view(r)).collect(),
        }
    }

    /// Verifies an uploaded ruleset and, when it passes, makes it the active one.
    pub async fn upload(&self, body: &[u8]) -> Result<RulesetView, ApiError> {
        let compiled = match ruleset::from_upload(body) {
            Ok(compiled) => compiled,
            Err(refusal) => {
                self.metrics.swap("refused");
                return Err(refused(refusal));
            }
        };
        self.activate(compiled).await
    }

    /// Reads the ruleset the service was started with again and activates it if it
    /// changed. `Ok(false)` when it is the active one already.
    pub async fn reload(&self) -> Result<bool, ApiError> {
        let compiled = ruleset::read(&self.rules).map_err(|refusal| {
            self.metrics.swap("refused");
            refused(refusal)
        })?;
        if format!("{:016x}", compiled.hash) == self.revision() {
            return Ok(false);
        }
        self.activate(compiled).await.map(|_| true)
    }

    async fn activate(&self, compiled: ruleset::Compiled) -> Result<RulesetView, ApiError> {
        let network_text = self.network_text.clone();
        let golden = self.golden.as_ref();
        // Compiling, reading the network and running the golden tests take a while on
        // large rulesets: they run beside the routing, never in its way.
        let verified =
            tokio::task::block_in_place(|| ruleset::verify(compiled, &network_text, golden));
        let revision = match verified {
            Ok(revision) => Arc::new(revision),
            Err(refusal) => {
                self.metrics.swap("refused");
                return Err(refused(refusal));
            }
        };
        self.install(revision, "activated").await?;
        Ok(self.ruleset())
    }

    /// Swaps `revision` in; in-flight orders finish with the engine they started with.
    async fn install(&self, revision: Arc<Revision>, outcome: &str) -> Result<(), ApiError> {
        let _swap = self.swapping.lock().await;
        let active = Service::build(&self.store, revision.clone())
            .await
            .map_err(store_error)?;
        let previous = self.active.swap(Arc::new(active));
        if outcome != "rolled_back" {
            let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            history.push(previous.revision.clone());
            if history.len() > HISTORY {
                history.remove(0);
            }
        }
        self.metrics.active_revision(&revision.id);
        self.metrics.swap(outcome);
        Ok(())
    }

    /// Goes back to the revision before the active one.
    pub async fn rollback(&self) -> Result<RulesetView, ApiError> {
        let previous = {
            let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            history.pop()
        };
        let Some(previous) = previous else {
            return Err(ApiError::conflict(
                "no_previous_revision",
                "there is no earlier revision to roll back to",
            ));
        };
        let revision = Arc::new(Revision {
            activated_at: SystemTime::now(),
            id: previous.id.clone(),
            plan: previous.plan.clone(),
            network: previous.network.clone(),
            source: previous.source.clone(),
        });
        self.install(revision, "rolled_back").await?;
        Ok(self.ruleset())
    }

    /// Whether orders can be routed: the store answers.
    pub async fn ready(&self) -> bool {
        self.store.ping().await
    }
}
