//! The store of record: stock, node load, reservations, the ledger and routed orders,
//! in SQL that SQLite and PostgreSQL both run (through sqlx's `Any` driver).
//!
//! Every change is one transaction that writes first and appends its ledger rows:
//! a hold takes its stock by a conditional update that only succeeds while enough stock
//! is free, behind a `CHECK (reserved <= on_hand)`, so no unit is ever promised twice
//! whatever the routing engine believed. On SQLite all writes go through one
//! connection (no writer ever waits in SQLite's busy loop); reads use a pool of their own.
//!
//! This module opens the store and reads it; holds are written in `holds.rs`, the other
//! changes in `changes.rs`, with the SQL helpers they share in `sql.rs`.

use sql::{Param, bind_all};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;

mod changes;
mod feed;
mod holds;
mod sql;

pub use feed::Change;

pub use changes::Received;
pub use holds::{Hold, HoldError};
pub use sql::Dialect;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The one phrase of the schema that PostgreSQL words differently: the ledger's key.
const SQLITE_LEDGER_KEY: &str = "INTEGER PRIMARY KEY AUTOINCREMENT";
const POSTGRES_LEDGER_KEY: &str = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";

/// PostgreSQL's migrations: SQLite's, with the ledger's key in PostgreSQL's words, so
/// that the two schemas cannot drift apart.
#[derive(Debug)]
struct PostgresMigrations;

impl<'s> sqlx::migrate::MigrationSource<'s> for PostgresMigrations {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>,
                > + Send
                + 's,
        >,
    > {
        Box::pin(async {
            Ok(SQLITE_MIGRATIONS
                .iter()
                .map(|m| {
                    let sql = m.sql.replace(SQLITE_LEDGER_KEY, POSTGRES_LEDGER_KEY);
                    sqlx::migrate::Migration::new(
                        m.version,
                        m.description.clone(),
                        m.migration_type,
                        sql.into(),
                        m.no_tx,
                    )
                })
                .collect())
        })
    }
}

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
    dialect: Dialect,
    /// To the task that writes holds.
    holds: mpsc::Sender<holds::HoldJob>,
    url: String,
    /// This process's name in the change feed, when the database has one (see
    /// [`Store::follow`]).
    feed: Option<String>,
}

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies the write-ahead log back into the database file, beside the writer, until the
/// store is dropped or closed. SQLite would do it in the commit that fills 1,000 pages of
/// log, and every hold waiting behind that commit would wait milliseconds more (the
/// service's p99 doubled). A passive checkpoint from a reading connection takes no lock
/// the writer needs; one that cannot finish (a reader still on old pages) is taken up
/// again at the next tick.
async fn checkpoint_wal(read: AnyPool, open: mpsc::WeakSender<holds::HoldJob>) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if open.upgrade().is_none() || read.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            eprintln!("allot serve: checkpoint of the write-ahead log: {error}");
        }
    }
}

/// Which database a URL names.
fn dialect_of(url: &str) -> Option<Dialect> {
    if url.starts_with("sqlite:") {
        Some(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Dialect::Postgres)
    } else {
        None
    }
}

/// Creates a new, empty database `name` on the PostgreSQL server at `server` (a URL
/// naming any database of it) and returns the new database's URL: for tests and
/// benchmarks that want a database each.
pub async fn create_postgres_database(server: &str, name: &str) -> Result<String, StoreError> {
    sqlx::any::install_default_drivers();
    let Some((base, _)) = server.rsplit_once('/') else {
        return Err(StoreError::Url(format!(
            "{server}: expected postgres://USER@HOST:PORT/DATABASE"
        )));
    };
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(server).await?;
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await?;
    Ok(format!("{base}/{name}"))
}

impl Store {
    /// Opens and migrates the database at `url`: an SQLite file (created when missing)
    /// or a PostgreSQL database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let Some(dialect) = dialect_of(url) else {
            return Err(StoreError::Url(format!(
                "--db {url}: expected sqlite://FILE or postgres://USER@HOST:PORT/DATABASE \
                 (sqlite::memory: is not shared between connections)"
            )));
        };
        let options = || AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let (write, read) = match dialect {
            Dialect::Sqlite => {
                let url = if url.contains('?') || url.contains(":memory:") {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let options = || {
                    options().after_connect(|connection, _| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA busy_timeout = 5000",
                                "PRAGMA foreign_keys = ON",
                                // See `checkpoint_wal`.
                                "PRAGMA wal_autocheckpoint = 0",
                            ] {
                                sqlx::Executor::execute(&mut *connection, pragma).await?;
                            }
                            Ok(())
                        })
                    })
                };
                let write = options().max_connections(1).connect(&url).await?;
                SQLITE_MIGRATIONS.run(&write).await?;
                (write, options().max_connections(4).connect(&url).await?)
            }
            Dialect::Postgres => {
                // Holds have one writer per instance; commits, releases and feeds use
                // the other connections.
                let write = options().max_connections(4).connect(url).await?;
                let migrations = sqlx::migrate::Migrator::new(PostgresMigrations).await?;
                migrations.run(&write).await?;
                (write, options().max_connections(8).connect(url).await?)
            }
        };
        let feed = match dialect {
            // PostgreSQL-compatible databases without LISTEN/NOTIFY run without a feed.
            Dialect::Postgres => {
                (feed::available(&write).await).then(|| uuid::Uuid::new_v4().to_string())
            }
            Dialect::Sqlite => None,
        };
        let (holds, jobs) = mpsc::channel(1024);
        let writer = holds::write_holds(write.clone(), dialect, feed.clone(), jobs);
        tokio::spawn(writer);
        if dialect == Dialect::Sqlite {
            tokio::spawn(checkpoint_wal(read.clone(), holds.downgrade()));
        }
        Ok(Store {
            write,
            read,
            dialect,
            holds,
            url: url.to_string(),
            feed,
        })
    }

    /// On PostgreSQL, what other instances change in stock and load, as they commit
    /// (see [`Change`]); the feed ends when the receiver is dropped. None on SQLite,
    /// whose one instance makes every change itself, and on a database without
    /// LISTEN/NOTIFY.
    pub fn follow(&self) -> Option<mpsc::Receiver<Change>> {
        let instance = self.feed.clone()?;
        let (changes, receiver) = mpsc::channel(256);
        let listener = feed::listen(self.url.clone(), instance, changes);
        tokio::spawn(listener);
        Some(receiver)
    }

    /// Whether stock was ever imported.
    pub async fn is_initialized(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'imported_at'")
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
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

    /// The given stock rows (sku, node), those that exist.
    pub async fn stock_at(&self, pairs: &[(&str, &str)]) -> Result<Vec<StockRow>, StoreError> {
        let mut stock = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(sql::ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT sku, node, on_hand, reserved FROM stock WHERE (sku, node) IN (VALUES {})",
                self.dialect.tuples(1, 2, chunk.len())
            );
            let params: Vec<Param> = (chunk.iter())
                .flat_map(|&(sku, node)| [Param::Text(sku), Param::Text(node)])
                .collect();
            for row in bind_all(sqlx::query(&sql), &params)
                .fetch_all(&self.read)
                .await?
            {
                stock.push(stock_row(&row)?);
            }
        }
        Ok(stock)
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
        let sql = format!(
            "{select} ({}){rest}",
            self.dialect.placeholders(1, keys.len())
        );
        let params: Vec<Param> = keys.iter().map(|key| Param::Text(key)).collect();
        bind_all(sqlx::query(&sql), &params)
            .fetch_all(&self.read)
            .await
    }

    /// The order recorded under `id`, if any.
    pub async fn order(&self, id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        self.recorded("SELECT body, answer FROM orders WHERE id = $1", id)
            .await
    }

    /// The return request received as `id`, and the answer it was given.
    pub async fn returned(&self, id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        self.recorded("SELECT body, answer FROM returns WHERE id = $1", id)
            .await
    }

    /// An order's or a return's recorded body and answer, by `query` on its id.
    async fn recorded(
        &self,
        query: &'static str,
        id: &str,
    ) -> Result<Option<RecordedOrder>, StoreError> {
        let row = sqlx::query(query)
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

    /// A reservation with what it holds.
    pub async fn reservation(&self, id: &str) -> Result<Option<Reservation>, StoreError> {
        let mut connection = self.read.acquire().await?;
        Ok(read_reservation(&mut connection, id).await?)
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
