//! The store of record: stock, node load, reservations, the ledger and routed orders,
//! in SQL that SQLite and PostgreSQL both run (through sqlx's `Any` driver).
//!
//! Every change is one transaction that writes first and appends its ledger rows:
//! a hold is a conditional update per (sku, node) that only succeeds while enough stock
//! is free, behind a `CHECK (reserved <= on_hand)`, so no unit is ever promised twice
//! whatever the routing engine believed. On SQLite all writes go through one
//! connection (no writer ever waits in SQLite's busy loop); reads use a pool of their own.

use sqlx::AnyConnection;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Rows per multi-row insert: well under SQLite's limit of bound parameters.
const ROWS_PER_INSERT: usize = 50;

#[derive(Debug)]
pub enum StoreError {
    /// The URL names no database this build can open.
    Url(String),
    Database(sqlx::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url(message) => f.write_str(message),
            StoreError::Database(error) => write!(f, "database: {error}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Database(error.into())
    }
}

/// Stock of one SKU at one node, as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    pub sku: String,
    pub node: String,
    pub on_hand: i64,
    pub reserved: i64,
}

/// Units of one order line held at one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldUnits {
    pub line: String,
    pub sku: String,
    pub node: String,
    pub qty: i64,
}

/// Shipments held at one node. Load is counted, not limited: `capacity` is a value
/// rules read (`node.utilization`), not a bound of the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldShipments {
    pub node: String,
    pub shipments: i64,
}

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

/// A hold waiting for the writer, and where its outcome goes.
struct HoldJob {
    hold: Hold,
    outcome: oneshot::Sender<Result<(), HoldError>>,
}

/// Holds written in one transaction at most (each under its own savepoint).
const HOLDS_PER_TRANSACTION: usize = 64;

#[derive(Debug)]
pub enum HoldError {
    /// Stock or load changed since the engine routed: nothing was written.
    Conflict,
    /// The order id was recorded meanwhile: nothing was written.
    Duplicate,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for HoldError {
    fn from(error: sqlx::Error) -> HoldError {
        match &error {
            sqlx::Error::Database(e) if e.is_unique_violation() => HoldError::Duplicate,
            sqlx::Error::Database(e) if e.is_check_violation() => HoldError::Conflict,
            _ => HoldError::Database(error),
        }
    }
}

/// How a reservation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Shipped: on_hand and reserved both fall.
    Commit,
    /// Cancelled: reserved falls, and the load of its shipments.
    Release,
    /// Not committed in time: as a release, by the sweeper.
    Expire,
}

impl End {
    fn state(self) -> &'static str {
        match self {
            End::Commit => "committed",
            End::Release | End::Expire => "released",
        }
    }

    fn name(self) -> &'static str {
        match self {
            End::Commit => "commit",
            End::Release => "release",
            End::Expire => "expire",
        }
    }
}

/// A reservation as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: String,
    pub order_id: String,
    /// held, committed or released.
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// commit, release or expire.
    pub ended_by: Option<String>,
    pub units: Vec<HeldUnits>,
    /// (node, shipments).
    pub shipments: Vec<(String, i64)>,
}

#[derive(Debug)]
pub enum EndOutcome {
    /// This call ended it: what it held, for the engine's view.
    Ended(Reservation),
    /// It had already ended the same way (a repeated call).
    Already(Reservation),
}

#[derive(Debug)]
pub enum EndError {
    NotFound,
    /// It ended the other way (committed and now released, or the reverse).
    Ended(Reservation),
    /// A commit came after the hold expired; the hold is released.
    Expired(Reservation),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for EndError {
    fn from(error: sqlx::Error) -> EndError {
        EndError::Database(error)
    }
}

/// One new on-hand count from an inventory feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnHand {
    pub node: String,
    pub sku: String,
    pub on_hand: i64,
}

#[derive(Debug)]
pub enum SetStockError {
    /// The count is below the units held there; nothing was written.
    BelowReserved {
        index: usize,
        reserved: i64,
    },
    Database(sqlx::Error),
}

impl From<sqlx::Error> for SetStockError {
    fn from(error: sqlx::Error) -> SetStockError {
        SetStockError::Database(error)
    }
}

/// A recorded order: its body and the answer first given.
pub struct RecordedOrder {
    pub body: String,
    pub answer: String,
}

#[derive(Clone)]
pub struct Store {
    /// Every write; on SQLite a single connection.
    write: AnyPool,
    read: AnyPool,
    /// To the task that writes holds.
    holds: mpsc::Sender<HoldJob>,
}

/// Which database a URL names.
fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

impl Store {
    /// Opens (creating an SQLite file when missing) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        if !is_sqlite(url) {
            return Err(StoreError::Url(format!(
                "--db {url}: expected an sqlite:// URL (sqlite://allot.db, sqlite::memory: is not shared between connections)"
            )));
        }
        let url = if url.contains('?') || url.contains(":memory:") {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let options = || {
            AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::Executor::execute(&mut *connection, pragma).await?;
                        }
                        Ok(())
                    })
                })
        };
        let write = options().max_connections(1).connect(&url).await?;
        SQLITE_MIGRATIONS.run(&write).await?;
        let read = options().max_connections(4).connect(&url).await?;
        let (holds, jobs) = mpsc::channel(1024);
        tokio::spawn(write_holds(write.clone(), jobs));
        Ok(Store { write, read, holds })
    }

    /// Whether stock was ever imported.
    pub async fn is_initialized(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'imported_at'")
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }

    /// The first start: stock and load from the network file, with their ledger rows,
    /// in one transaction.
    pub async fn import(
        &self,
        stock: &[StockRow],
        loads: &[(String, i64)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await?;
        for chunk in stock.chunks(ROWS_PER_INSERT) {
            let sql = insert_sql(
                "INSERT INTO stock (sku, node, on_hand, reserved) VALUES ",
                4,
                chunk.len(),
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(&row.sku)
                    .bind(&row.node)
                    .bind(row.on_hand)
                    .bind(row.reserved);
            }
            query.execute(&mut *tx).await?;
            let ledger = chunk.iter().map(|row| LedgerRow {
                event: "import",
                reservation: None,
                sku: Some(&row.sku),
                node: &row.node,
                on_hand: row.on_hand,
                reserved: row.reserved,
                load: 0,
            });
            append_ledger(&mut tx, now, ledger.collect()).await?;
        }
        for chunk in loads.chunks(ROWS_PER_INSERT) {
            let sql = insert_sql("INSERT INTO node_load (node, load) VALUES ", 2, chunk.len());
            let mut query = sqlx::query(&sql);
            for (node, load) in chunk {
                query = query.bind(node).bind(*load);
            }
            query.execute(&mut *tx).await?;
            let ledger = chunk.iter().map(|(node, load)| LedgerRow {
                event: "import",
                reservation: None,
                sku: None,
                node,
                on_hand: 0,
                reserved: 0,
                load: *load,
            });
            append_ledger(&mut tx, now, ledger.collect()).await?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('imported_at', $1)")
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stock row.
    pub async fn stock(&self) -> Result<Vec<StockRow>, StoreError> {
        let rows = sqlx::query("SELECT sku, node, on_hand, reserved FROM stock")
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(stock_row).collect::<Result<_, _>>()?)
    }

    /// The stock rows of the given SKUs, sorted by node.
    pub async fn stock_of(&self, skus: &[&str]) -> Result<Vec<StockRow>, StoreError> {
        let rows = self
            .rows_where_in(
                "SELECT sku, node, on_hand, reserved FROM stock WHERE sku IN",
                skus,
                " ORDER BY sku, node",
            )
            .await?;
        Ok(rows.iter().map(stock_row).collect::<Result<_, _>>()?)
    }

    /// Every node's load.
    pub async fn loads(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT node, load FROM node_load")
            .fetch_all(&self.read)
            .await?;
        Ok(rows.iter().map(load_row).collect::<Result<_, _>>()?)
    }

    /// The load of the given nodes.
    pub async fn loads_of(&self, nodes: &[&str]) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self
            .rows_where_in("SELECT node, load FROM node_load WHERE node IN", nodes, "")
            .await?;
        Ok(rows.iter().map(load_row).collect::<Result<_, _>>()?)
    }

    /// The rows of `select (keys…) rest`; none for no keys.
    async fn rows_where_in(
        &self,
        select: &str,
        keys: &[&str],
        rest: &str,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{select} ({}){rest}", placeholders(1, keys.len()));
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(*key);
        }
        query.fetch_all(&self.read).await
    }

    /// The order recorded under `id`, if any.
    pub async fn order(&self, id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        let row = sqlx::query("SELECT body, answer FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(match row {
            Some(row) => Some(RecordedOrder {
                body: row.try_get("body")?,
                answer: row.try_get("answer")?,
            }),
            None => None,
        })
    }

    /// Records a routed order and holds what it ships, all or nothing. Holds that
    /// arrive together are written in one transaction, each under its own savepoint.
    pub async fn hold(&self, hold: Hold) -> Result<(), HoldError> {
        let (outcome, answer) = oneshot::channel();
        let closed = || HoldError::Database(sqlx::Error::PoolClosed);
        (self.holds.send(HoldJob { hold, outcome }).await).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// A reservation with what it holds.
    pub async fn reservation(&self, id: &str) -> Result<Option<Reservation>, StoreError> {
        let mut connection = self.read.acquire().await?;
        Ok(read_reservation(&mut connection, id).await?)
    }

    /// Ends a held reservation. Repeating the same end is not an error.
    pub async fn end(&self, id: &str, end: End, now: i64) -> Result<EndOutcome, EndError> {
        let mut tx = self.write.begin().await?;
        // Write first: only one caller moves a reservation out of `held`, and a commit
        // only while the hold has not expired.
        let done = sqlx::query(
            "UPDATE reservations SET state = $1, ended_at = $2, ended_by = $3 \
             WHERE id = $4 AND state = 'held' AND ($5 = 0 OR expires_at >= $2)",
        )
        .bind(end.state())
        .bind(now)
        .bind(end.name())
        .bind(id)
        .bind(i64::from(end == End::Commit))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let mut connection = self.read.acquire().await?;
            let Some(reservation) = read_reservation(&mut connection, id).await? else {
                return Err(EndError::NotFound);
            };
            return if reservation.state == "held" {
                // Only a commit past its expiry leaves it held: release it, then say so.
                match Box::pin(self.end(id, End::Expire, now)).await? {
                    EndOutcome::Ended(r) | EndOutcome::Already(r) => Err(EndError::Expired(r)),
                }
            } else if reservation.state == end.state() {
                Ok(EndOutcome::Already(reservation))
            } else {
                Err(EndError::Ended(reservation))
            };
        }
        let mut reservation = read_reservation(&mut tx, id)
            .await?
            .ok_or(EndError::NotFound)?;
        let mut per_pair: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for units in &reservation.units {
            *per_pair.entry((&units.sku, &units.node)).or_default() += units.qty;
        }
        let on_hand_falls = end == End::Commit;
        let mut ledger = Vec::new();
        for (&(sku, node), &qty) in &per_pair {
            sqlx::query(
                "UPDATE stock SET on_hand = on_hand - $1, reserved = reserved - $2 \
                 WHERE sku = $3 AND node = $4",
            )
            .bind(if on_hand_falls { qty } else { 0 })
            .bind(qty)
            .bind(sku)
            .bind(node)
            .execute(&mut *tx)
            .await?;
            ledger.push(LedgerRow {
                event: end.name(),
                reservation: Some(id),
                sku: Some(sku),
                node,
                on_hand: if on_hand_falls { -qty } else { 0 },
                reserved: -qty,
                load: 0,
            });
        }
        if !on_hand_falls {
            for (node, shipments) in &reservation.shipments {
                sqlx::query("UPDATE node_load SET load = load - $1 WHERE node = $2")
                    .bind(*shipments)
                    .bind(node)
                    .execute(&mut *tx)
                    .await?;
                ledger.push(LedgerRow {
                    event: end.name(),
                    reservation: Some(id),
                    sku: None,
                    node,
                    on_hand: 0,
                    reserved: 0,
                    load: -shipments,
                });
            }
        }
        append_ledger(&mut tx, now, ledger).await?;
        tx.commit().await?;
        reservation.state = end.state().to_string();
        reservation.ended_at = Some(now);
        reservation.ended_by = Some(end.name().to_string());
        Ok(EndOutcome::Ended(reservation))
    }

    /// Held reservations whose time ran out by `now`, at most `limit` of them.
    pub async fn expired(&self, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM reservations WHERE state = 'held' AND expires_at < $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Sets on-hand counts, all or nothing. A pair not stocked yet is added. Returns
    /// each row as it now is.
    pub async fn set_on_hand(
        &self,
        counts: &[OnHand],
        now: i64,
    ) -> Result<Vec<(StockRow, i64)>, SetStockError> {
        let mut tx = self.write.begin().await?;
        let mut changed = Vec::new();
        let mut ledger_rows = Vec::new();
        for (index, count) in counts.iter().enumerate() {
            let before = sqlx::query(
                "SELECT sku, node, on_hand, reserved FROM stock WHERE sku = $1 AND node = $2",
            )
            .bind(&count.sku)
            .bind(&count.node)
            .fetch_optional(&mut *tx)
            .await?;
            let before = before.as_ref().map(stock_row).transpose()?;
            let row = match before {
                Some(before) => {
                    if before.reserved > count.on_hand {
                        return Err(SetStockError::BelowReserved {
                            index,
                            reserved: before.reserved,
                        });
                    }
                    sqlx::query("UPDATE stock SET on_hand = $1 WHERE sku = $2 AND node = $3")
                        .bind(count.on_hand)
                        .bind(&count.sku)
                        .bind(&count.node)
                        .execute(&mut *tx)
                        .await?;
                    let delta = count.on_hand - before.on_hand;
                    (
                        StockRow {
                            on_hand: count.on_hand,
                            ..before
                        },
                        delta,
                    )
                }
                None => {
                    sqlx::query(
                        "INSERT INTO stock (sku, node, on_hand, reserved) VALUES ($1, $2, $3, 0)",
                    )
                    .bind(&count.sku)
                    .bind(&count.node)
                    .bind(count.on_hand)
                    .execute(&mut *tx)
                    .await?;
                    (
                        StockRow {
                            sku: count.sku.clone(),
                            node: count.node.clone(),
                            on_hand: count.on_hand,
                            reserved: 0,
                        },
                        count.on_hand,
                    )
                }
            };
            ledger_rows.push((count, row.1));
            changed.push(row);
        }
        let ledger = (ledger_rows.iter())
            .filter(|(_, delta)| *delta != 0)
            .map(|(count, delta)| LedgerRow {
                event: "set_on_hand",
                reservation: None,
                sku: Some(&count.sku),
                node: &count.node,
                on_hand: *delta,
                reserved: 0,
                load: 0,
            })
            .collect();
        append_ledger(&mut tx, now, ledger).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Every difference between the stock and load rows and what the ledger and the
    /// open holds say they should be; empty when the store is consistent.
    pub async fn audit(&self) -> Result<Vec<String>, StoreError> {
        let mut differences = Vec::new();
        let stock: BTreeMap<(String, String), (i64, i64)> = self
            .stock()
            .await?
            .into_iter()
            .map(|r| ((r.sku, r.node), (r.on_hand, r.reserved)))
            .collect();
        let sums = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(&self.read).await?;
            rows.iter()
                .map(|row| {
                    let key: (String, String) = (row.try_get(0)?, row.try_get(1)?);
                    Ok((key, (row.try_get::<i64, _>(2)?, row.try_get::<i64, _>(3)?)))
                })
                .collect::<Result<BTreeMap<_, _>, StoreError>>()
        };
        let ledger = sums(
            "SELECT sku, node, CAST(SUM(on_hand_delta) AS BIGINT), CAST(SUM(reserved_delta) AS BIGINT) \
             FROM ledger WHERE sku IS NOT NULL GROUP BY sku, node",
        )
        .await?;
        let outside = sums(
            "SELECT sku, node, CAST(SUM(reserved_delta) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM ledger \
             WHERE sku IS NOT NULL AND reservation IS NULL GROUP BY sku, node",
        )
        .await?;
        let held = sums(
            "SELECT l.sku, l.node, CAST(SUM(l.qty) AS BIGINT), CAST(COUNT(*) AS BIGINT) \
             FROM reservation_lines l JOIN reservations r ON r.id = l.reservation \
             WHERE r.state = 'held' GROUP BY l.sku, l.node",
        )
        .await?;
        for ((sku, node), &(on_hand, reserved)) in &stock {
            let key = (sku.clone(), node.clone());
            let (ledger_on_hand, ledger_reserved) = ledger.get(&key).copied().unwrap_or((0, 0));
            if (ledger_on_hand, ledger_reserved) != (on_hand, reserved) {
                differences.push(format!(
                    "stock {sku} at {node}: on_hand {on_hand}, reserved {reserved}, but the ledger sums to {ledger_on_hand} and {ledger_reserved}"
                ));
            }
            let expected = outside.get(&key).map_or(0, |v| v.0) + held.get(&key).map_or(0, |v| v.0);
            if reserved != expected {
                differences.push(format!(
                    "stock {sku} at {node}: reserved {reserved}, but open holds and reservations from outside come to {expected}"
                ));
            }
            if reserved > on_hand {
                differences.push(format!(
                    "stock {sku} at {node}: oversold, reserved {reserved} of {on_hand}"
                ));
            }
        }
        for (sku, node) in ledger.keys().chain(held.keys()) {
            if !stock.contains_key(&(sku.clone(), node.clone())) {
                differences.push(format!(
                    "stock {sku} at {node}: in the ledger or held, but no stock row"
                ));
            }
        }
        let loads: BTreeMap<String, i64> = self.loads().await?.into_iter().collect();
        let rows = sqlx::query(
            "SELECT node, CAST(SUM(load_delta) AS BIGINT) AS total FROM ledger WHERE sku IS NULL GROUP BY node",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &rows {
            let node: String = row.try_get("node")?;
            let total: i64 = row.try_get("total")?;
            if loads.get(&node) != Some(&total) {
                differences.push(format!(
                    "load at {node}: {:?}, but the ledger sums to {total}",
                    loads.get(&node)
                ));
            }
        }
        let orphans = sqlx::query(
            "SELECT o.id FROM orders o LEFT JOIN reservations r ON r.id = o.reservation \
             WHERE o.reservation IS NOT NULL AND r.id IS NULL",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &orphans {
            let id: String = row.try_get("id")?;
            differences.push(format!(
                "order {id}: answered with a reservation the store lacks"
            ));
        }
        Ok(differences)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.read).await.is_ok()
    }

    /// Waits for the open transactions and closes every connection.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn load_row(row: &AnyRow) -> Result<(String, i64), sqlx::Error> {
    Ok((row.try_get("node")?, row.try_get("load")?))
}

fn stock_row(row: &AnyRow) -> Result<StockRow, sqlx::Error> {
    Ok(StockRow {
        sku: row.try_get("sku")?,
        node: row.try_get("node")?,
        on_hand: row.try_get("on_hand")?,
        reserved: row.try_get("reserved")?,
    })
}

async fn read_reservation(
    executor: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Option<Reservation>, sqlx::Error> {
    let Some(row) = sqlx::query(
        "SELECT id, order_id, state, created_at, expires_at, ended_at, ended_by \
         FROM reservations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *executor)
    .await?
    else {
        return Ok(None);
    };
    let units = sqlx::query(
        "SELECT line, sku, node, qty FROM reservation_lines WHERE reservation = $1 ORDER BY line, node",
    )
    .bind(id)
    .fetch_all(&mut *executor)
    .await?
    .iter()
    .map(|row| {
        Ok(HeldUnits {
            line: row.try_get("line")?,
            sku: row.try_get("sku")?,
            node: row.try_get("node")?,
            qty: row.try_get("qty")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let shipments = sqlx::query(
        "SELECT node, shipments FROM reservation_nodes WHERE reservation = $1 ORDER BY node",
    )
    .bind(id)
    .fetch_all(&mut *executor)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("node")?, row.try_get("shipments")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    Ok(Some(Reservation {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        ended_at: row.try_get("ended_at")?,
        ended_by: row.try_get("ended_by")?,
        units,
        shipments,
    }))
}

/// Writes one hold on `connection`, inside the writer's transaction.
async fn write_hold(connection: &mut AnyConnection, hold: &Hold) -> Result<(), HoldError> {
    sqlx::query(
        "INSERT INTO orders (id, body, answer, reservation, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&hold.order_id)
    .bind(&hold.body)
    .bind(&hold.answer)
    .bind(&hold.reservation)
    .bind(hold.now)
    .execute(&mut *connection)
    .await?;
    let Some(reservation) = hold.reservation.as_deref() else {
        return Ok(());
    };
    // Rows in one order, (sku, node), so that concurrent holds cannot deadlock.
    let mut per_pair: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for units in &hold.units {
        *per_pair.entry((&units.sku, &units.node)).or_default() += units.qty;
    }
    for (&(sku, node), &qty) in &per_pair {
        let done = sqlx::query(
            "UPDATE stock SET reserved = reserved + $1 \
             WHERE sku = $2 AND node = $3 AND on_hand - reserved >= $1",
        )
        .bind(qty)
        .bind(sku)
        .bind(node)
        .execute(&mut *connection)
        .await?;
        if done.rows_affected() != 1 {
            return Err(HoldError::Conflict);
        }
    }
    let mut shipments: Vec<&HeldShipments> = hold.shipments.iter().collect();
    shipments.sort_by(|a, b| a.node.cmp(&b.node));
    for held in &shipments {
        let done = sqlx::query("UPDATE node_load SET load = load + $1 WHERE node = $2")
            .bind(held.shipments)
            .bind(&held.node)
            .execute(&mut *connection)
            .await?;
        if done.rows_affected() != 1 {
            return Err(HoldError::Conflict);
        }
    }
    sqlx::query(
        "INSERT INTO reservations (id, order_id, state, created_at, expires_at) \
         VALUES ($1, $2, 'held', $3, $4)",
    )
    .bind(reservation)
    .bind(&hold.order_id)
    .bind(hold.now)
    .bind(hold.expires_at)
    .execute(&mut *connection)
    .await?;
    let sql = insert_sql(
        "INSERT INTO reservation_lines (reservation, line, sku, node, qty) VALUES ",
        5,
        hold.units.len(),
    );
    let mut query = sqlx::query(&sql);
    for units in &hold.units {
        query = query
            .bind(reservation)
            .bind(&units.line)
            .bind(&units.sku)
            .bind(&units.node)
            .bind(units.qty);
    }
    query.execute(&mut *connection).await?;
    if !shipments.is_empty() {
        let sql = insert_sql(
            "INSERT INTO reservation_nodes (reservation, node, shipments) VALUES ",
            3,
            shipments.len(),
        );
        let mut query = sqlx::query(&sql);
        for held in &shipments {
            query = query
                .bind(reservation)
                .bind(&held.node)
                .bind(held.shipments);
        }
        query.execute(&mut *connection).await?;
    }
    let mut ledger: Vec<LedgerRow> = (per_pair.iter())
        .map(|(&(sku, node), &qty)| LedgerRow {
            event: "hold",
            reservation: Some(reservation),
            sku: Some(sku),
            node,
            on_hand: 0,
            reserved: qty,
            load: 0,
        })
        .collect();
    ledger.extend(shipments.iter().map(|held| LedgerRow {
        event: "hold",
        reservation: Some(reservation),
        sku: None,
        node: &held.node,
        on_hand: 0,
        reserved: 0,
        load: held.shipments,
    }));
    append_ledger(connection, hold.now, ledger).await?;
    Ok(())
}

/// Writes holds as they come, as many as are waiting in each transaction.
async fn write_holds(pool: AnyPool, mut jobs: mpsc::Receiver<HoldJob>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < HOLDS_PER_TRANSACTION {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let holds: Vec<&Hold> = batch.iter().map(|job| &job.hold).collect();
        match write_batch(&pool, &holds).await {
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

/// One transaction of holds: each is written or, refused, rolled back to its savepoint.
async fn write_batch(
    pool: &AnyPool,
    holds: &[&Hold],
) -> Result<Vec<Result<(), HoldError>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(holds.len());
    for hold in holds {
        sqlx::query("SAVEPOINT hold").execute(&mut *tx).await?;
        match write_hold(&mut tx, hold).await {
            Ok(()) => outcomes.push(Ok(())),
            Err(HoldError::Database(error)) => return Err(error),
            Err(refused) => {
                sqlx::query("ROLLBACK TO SAVEPOINT hold")
                    .execute(&mut *tx)
                    .await?;
                outcomes.push(Err(refused));
            }
        }
        sqlx::query("RELEASE SAVEPOINT hold")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// One change to append to the ledger.
struct LedgerRow<'a> {
    event: &'static str,
    reservation: Option<&'a str>,
    sku: Option<&'a str>,
    node: &'a str,
    on_hand: i64,
    reserved: i64,
    load: i64,
}

async fn append_ledger(
    connection: &mut AnyConnection,
    now: i64,
    rows: Vec<LedgerRow<'_>>,
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(
            "INSERT INTO ledger (at, event, reservation, sku, node, on_hand_delta, reserved_delta, load_delta) VALUES ",
            8,
            chunk.len(),
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(now)
                .bind(row.event)
                .bind(row.reservation)
                .bind(row.sku)
                .bind(row.node)
                .bind(row.on_hand)
                .bind(row.reserved)
                .bind(row.load);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A multi-row insert: `prefix` then `rows` tuples of `columns` parameters.
fn insert_sql(prefix: &str, columns: usize, rows: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|r| format!("({})", placeholders(1 + r * columns, columns)))
        .collect();
    format!("{prefix}{}", tuples.join(", "))
}
