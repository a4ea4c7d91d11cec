//! Holding what routed orders ship. One writer task takes the holds as they arrive and
//! writes every hold waiting in one transaction, in arrival order, each all or nothing:
//! an order already recorded holds nothing, and neither does one whose stock is gone.
//! A hold's stock is taken by one conditional statement that updates every (sku, node)
//! row of the hold or none; the rest of the batch (orders, reservations, their lines
//! and nodes, load, ledger) is written by multi-row statements, so a batch costs a
//! handful of statements more than its holds. Ending reservations and stock feeds are
//! in `changes.rs`.

use super::feed::notify;
use super::sql::{Dialect, LedgerRow, Param, append_ledger, bind_all, insert_rows, lock_stock};
use super::{HeldShipments, HeldUnits, Store};
use sqlx::{AnyConnection, AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use tokio::sync::{mpsc, oneshot};

/// Holds written in one transaction at most.
const HOLDS_PER_TRANSACTION: usize = 64;

/// A routed order to record, with what it holds.
pub struct Hold {
    pub order_id: String,
    pub body: String,
    pub answer: String,
    /// `None` when the decision ships nothing: the order is recorded, nothing held.
    pub reservation: Option<String>,
    pub units: Vec<HeldUnits>,
    pub shipments: Vec<HeldShipments>,
    pub now: i64,
    pub expires_at: i64,
}

impl Hold {
    /// Units per (sku, node), in key order.
    fn per_pair(&self) -> BTreeMap<(&str, &str), i64> {
        let mut per_pair = BTreeMap::new();
        for units in &self.units {
            *per_pair.entry((&*units.sku, &*units.node)).or_default() += units.qty;
        }
        per_pair
    }
}

/// A hold waiting for the writer, and where its outcome goes.
pub(super) struct HoldJob {
    hold: Hold,
    outcome: oneshot::Sender<Result<(), HoldError>>,
}

#[derive(Debug)]
pub enum HoldError {
    /// Stock changed since the engine routed: nothing was written.
    Conflict,
    /// The order id was recorded meanwhile: nothing was written.
    Duplicate,
    Database(sqlx::Error),
}

impl Store {
    /// Records a routed order and holds what it ships, all or nothing. Holds that
    /// arrive together are written in one transaction.
    pub async fn hold(&self, hold: Hold) -> Result<(), HoldError> {
        let (outcome, answer) = oneshot::channel();
        let closed = || HoldError::Database(sqlx::Error::PoolClosed);
        (self.holds.send(HoldJob { hold, outcome }).await).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// Times a batch is written again when PostgreSQL gives up on its transaction (a
/// serialization failure or a deadlock with another instance's writes).
const BATCH_RETRIES: usize = 3;

/// Whether a transaction failed only for the moment: serialization failure or
/// deadlock (PostgreSQL's `40001` and `40P01`), a connection lost on the way or closed
/// by a server shutting down or starting (class `08`, `57P01`–`57P03`), or an order
/// recorded by another instance since the batch looked (its id is then found recorded
/// when the batch is written again). A batch whose commit was cut off may have been
/// committed: written again, its orders are found recorded and answered from there.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => {
            let code = e.code();
            let code = code.as_deref().unwrap_or("");
            e.is_unique_violation()
                || code.starts_with("08")
                || matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// Writes holds as they come, as many as are waiting in each transaction.
pub(super) async fn write_holds(
    pool: AnyPool,
    dialect: Dialect,
    feed: Option<String>,
    mut jobs: mpsc::Receiver<HoldJob>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < HOLDS_PER_TRANSACTION {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let holds: Vec<&Hold> = batch.iter().map(|job| &job.hold).collect();
        let mut written = write_batch(&pool, dialect, feed.as_deref(), &holds).await;
        for _ in 0..BATCH_RETRIES {
            match &written {
                Err(error) if is_transient(error) => {
                    written = write_batch(&pool, dialect, feed.as_deref(), &holds).await;
                }
                _ => break,
            }
        }
        match written {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.outcome.send(outcome);
                }
            }
            Err(error) => {
                // Nothing of the batch was committed.
                let message = error.to_string();
                for job in batch {
                    let failed = sqlx::Error::Protocol(message.clone());
                    let _ = job.outcome.send(Err(HoldError::Database(failed)));
                }
            }
        }
    }
}

/// One transaction of holds, in order: each is written whole or refused whole.
async fn write_batch(
    pool: &AnyPool,
    dialect: Dialect,
    feed: Option<&str>,
    holds: &[&Hold],
) -> Result<Vec<Result<(), HoldError>>, sqlx::Error> {
    let mut tx = dialect.begin_write(pool).await?;
    let ids: Vec<&str> = holds.iter().map(|hold| hold.order_id.as_str()).collect();
    let mut recorded = recorded_orders(&mut tx, dialect, &ids).await?;
    // Every stock row of the batch, locked before any is written (see `lock_stock`).
    let pairs: Vec<(&str, &str)> = (holds.iter())
        .filter(|hold| hold.reservation.is_some())
        .flat_map(|hold| hold.units.iter())
        .map(|units| (units.sku.as_str(), units.node.as_str()))
        .collect();
    lock_stock(&mut tx, dialect, &pairs).await?;
    let mut outcomes = Vec::with_capacity(holds.len());
    let mut accepted = Vec::with_capacity(holds.len());
    for &hold in holds {
        let outcome = if recorded.contains(&hold.order_id) {
            Err(HoldError::Duplicate)
        } else if hold.reservation.is_some() && !take_stock(&mut tx, dialect, hold).await? {
            Err(HoldError::Conflict)
        } else {
            recorded.insert(hold.order_id.clone());
            accepted.push(hold);
            Ok(())
        };
        outcomes.push(outcome);
    }
    record(&mut tx, dialect, &accepted).await?;
    let stock: BTreeSet<(&str, &str)> = (accepted.iter())
        .flat_map(|hold| hold.units.iter())
        .map(|units| (units.sku.as_str(), units.node.as_str()))
        .collect();
    let nodes: BTreeSet<&str> = (accepted.iter())
        .flat_map(|hold| hold.shipments.iter())
        .map(|shipments| shipments.node.as_str())
        .collect();
    let (stock, nodes): (Vec<_>, Vec<_>) =
        (stock.into_iter().collect(), nodes.into_iter().collect());
    notify(&mut tx, feed, &stock, &nodes).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Which of `ids` name orders already recorded.
async fn recorded_orders(
    connection: &mut AnyConnection,
    dialect: Dialect,
    ids: &[&str],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut recorded = HashSet::new();
    for chunk in ids.chunks(super::sql::ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT id FROM orders WHERE id IN ({})",
            dialect.placeholders(1, chunk.len())
        );
        let params: Vec<Param> = chunk.iter().map(|id| Param::Text(id)).collect();
        for row in bind_all(sqlx::query(&sql), &params)
            .fetch_all(&mut *connection)
            .await?
        {
            recorded.insert(row.try_get("id")?);
        }
    }
    Ok(recorded)
}

/// Takes the hold's units from free stock: every (sku, node) row, or none when any of
/// them lacks the units (or is missing). True when taken.
///
/// The test that no row falls short reads the rows as the statement began. On SQLite
/// the one writer makes that the truth. On PostgreSQL the batch's rows are locked
/// before its first hold (see [`lock_stock`]), and each statement of a `READ
/// COMMITTED` transaction reads what was committed as it began, so no other instance
/// changes the rows between the test and the update either. A hold that changed some
/// of its rows but not all would break that argument: it fails the whole batch, which
/// is then rolled back.
async fn take_stock(
    connection: &mut AnyConnection,
    dialect: Dialect,
    hold: &Hold,
) -> Result<bool, sqlx::Error> {
    let per_pair = hold.per_pair();
    let wanted = dialect.tuples(1, 3, per_pair.len());
    let short = dialect.tuples(1 + 3 * per_pair.len(), 3, per_pair.len());
    let sql = format!(
        "UPDATE stock SET reserved = reserved + wanted.column3 \
         FROM (VALUES {wanted}) AS wanted \
         WHERE stock.sku = wanted.column1 AND stock.node = wanted.column2 \
         AND stock.on_hand - stock.reserved >= wanted.column3 \
         AND NOT EXISTS (SELECT 1 FROM (VALUES {short}) AS short \
             LEFT JOIN stock AS free ON free.sku = short.column1 AND free.node = short.column2 \
             WHERE free.sku IS NULL OR free.on_hand - free.reserved < short.column3)"
    );
    let params: Vec<Param> = (per_pair.iter())
        .flat_map(|(&(sku, node), &qty)| [Param::Text(sku), Param::Text(node), Param::Int(qty)])
        .collect();
    // The rows twice: in the update, and in the test that none falls short.
    let params = params.repeat(2);
    match bind_all(sqlx::query(&sql), &params)
        .execute(&mut *connection)
        .await
    {
        Ok(done) if done.rows_affected() == per_pair.len() as u64 => Ok(true),
        Ok(done) if done.rows_affected() == 0 => Ok(false),
        Ok(done) => Err(sqlx::Error::Protocol(format!(
            "a hold of {} stock rows changed {} of them; the batch is rolled back",
            per_pair.len(),
            done.rows_affected()
        ))),
        // SQLite: the `CHECK (reserved <= on_hand)` behind the condition refuses the
        // statement alone. (PostgreSQL would abort the transaction: the batch fails.)
        Err(sqlx::Error::Database(e)) if e.is_check_violation() && dialect == Dialect::Sqlite => {
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// Writes the accepted holds' orders, reservations, lines, nodes, load and ledger rows.
async fn record(
    connection: &mut AnyConnection,
    dialect: Dialect,
    holds: &[&Hold],
) -> Result<(), sqlx::Error> {
    let mut orders = Vec::new();
    let mut reservations = Vec::new();
    let mut lines = Vec::new();
    let mut nodes = Vec::new();
    let mut ledger = Vec::new();
    let mut load: BTreeMap<&str, i64> = BTreeMap::new();
    for hold in holds {
        orders.extend([
            Param::Text(&hold.order_id),
            Param::Text(&hold.body),
            Param::Text(&hold.answer),
            Param::MaybeText(hold.reservation.as_deref()),
            Param::Int(hold.now),
        ]);
        let Some(reservation) = hold.reservation.as_deref() else {
            continue;
        };
        reservations.extend([
            Param::Text(reservation),
            Param::Text(&hold.order_id),
            Param::Text("held"),
            Param::Int(hold.now),
            Param::Int(hold.expires_at),
        ]);
        for units in &hold.units {
            lines.extend([
                Param::Text(reservation),
                Param::Text(&units.line),
                Param::Text(&units.sku),
                Param::Text(&units.node),
                Param::Int(units.qty),
            ]);
        }
        ledger.extend(
            hold.per_pair()
                .into_iter()
                .map(|((sku, node), qty)| LedgerRow {
                    event: "hold",
                    reservation: Some(reservation),
                    sku: Some(sku),
                    node,
                    on_hand: 0,
                    reserved: qty,
                    load: 0,
                }),
        );
        let mut shipments: Vec<&HeldShipments> = hold.shipments.iter().collect();
        shipments.sort_by(|a, b| a.node.cmp(&b.node));
        for held in shipments {
            nodes.extend([
                Param::Text(reservation),
                Param::Text(&held.node),
                Param::Int(held.shipments),
            ]);
            *load.entry(&held.node).or_default() += held.shipments;
            ledger.push(LedgerRow {
                event: "hold",
                reservation: Some(reservation),
                sku: None,
                node: &held.node,
                on_hand: 0,
                reserved: 0,
                load: held.shipments,
            });
        }
    }
    // The ledger's time of the batch: its last hold's.
    let now = holds.iter().map(|hold| hold.now).max().unwrap_or(0);
    let load: Vec<Param> = (load.iter())
        .flat_map(|(&node, &shipments)| [Param::Text(node), Param::Int(shipments)])
        .collect();
    let inserts: [(&str, &str, usize, &[Param]); 5] = [
        (
            "INSERT INTO orders (id, body, answer, reservation, created_at) VALUES ",
            "",
            5,
            &orders,
        ),
        (
            "INSERT INTO reservations (id, order_id, state, created_at, expires_at) VALUES ",
            "",
            5,
            &reservations,
        ),
        (
            "INSERT INTO reservation_lines (reservation, line, sku, node, qty) VALUES ",
            "",
            5,
            &lines,
        ),
        (
            "INSERT INTO reservation_nodes (reservation, node, shipments) VALUES ",
            "",
            3,
            &nodes,
        ),
        // Load is counted, not limited (see `HeldShipments`).
        (
            "INSERT INTO node_load (node, load) VALUES ",
            " ON CONFLICT (node) DO UPDATE SET load = node_load.load + excluded.load",
            2,
            &load,
        ),
    ];
    for (prefix, suffix, columns, params) in inserts {
        insert_rows(connection, dialect, (prefix, suffix), columns, params).await?;
    }
    append_ledger(connection, dialect, now, &ledger).await
}
