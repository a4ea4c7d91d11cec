//! SQL text and binding shared by the store's statements: multi-row inserts cut into
//! chunks, `IN (…)` lists, and the ledger's rows. Nothing here opens a transaction;
//! every function runs on the connection (or transaction) it is given.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

/// Rows per multi-row insert: well under SQLite's limit of 32,766 bound parameters.
pub(super) const ROWS_PER_INSERT: usize = 100;

/// A value to bind.
#[derive(Clone, Copy, Debug)]
pub(super) enum Param<'a> {
    Text(&'a str),
    MaybeText(Option<&'a str>),
    Int(i64),
}

/// `query` with `params` bound, in order.
pub(super) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    params: &[Param<'q>],
) -> Query<'q, Any, AnyArguments<'q>> {
    for param in params {
        query = match *param {
            Param::Text(text) => query.bind(text),
            Param::MaybeText(text) => query.bind(text),
            Param::Int(number) => query.bind(number),
        };
    }
    query
}

/// `prefix`, then as many rows of `columns` parameters as `params` fills, then `suffix`
/// (an `ON CONFLICT` clause): one statement per [`ROWS_PER_INSERT`] rows.
pub(super) async fn insert_rows(
    connection: &mut AnyConnection,
    dialect: Dialect,
    (prefix, suffix): (&str, &str),
    columns: usize,
    params: &[Param<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in params.chunks(columns * ROWS_PER_INSERT) {
        let rows = dialect.tuples(1, columns, chunk.len() / columns);
        let sql = format!("{prefix}{rows}{suffix}");
        bind_all(sqlx::query(&sql), chunk)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Where the SQL of the two databases differs: how parameters are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A write transaction. On SQLite it takes the write lock as it begins (`BEGIN
    /// IMMEDIATE`): a transaction that reads and then writes while another process writes
    /// is refused at once by SQLite, while one that asks for the lock first waits its busy
    /// timeout.
    pub(super) async fn begin_write(
        self,
        pool: &AnyPool,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self {
            Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => pool.begin().await,
        }
    }

    /// Parameters `first` to `first + count - 1` (counting from 1). PostgreSQL numbers
    /// them (`$7`). SQLite's are anonymous (`?`): sqlx asks SQLite for a numbered
    /// parameter's name each time it binds one, and SQLite finds it by walking the
    /// statement's list of names, so a statement of n numbered parameters costs n²
    /// steps (a quarter of the service's time at 400). Fixed statements keep `$n`, which
    /// both take: they have a few parameters.
    pub(super) fn placeholders(self, first: usize, count: usize) -> String {
        match self {
            Dialect::Sqlite => vec!["?"; count].join(", "),
            Dialect::Postgres => (first..first + count)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `rows` tuples of `columns` parameters from parameter `first`: `($1, $2), ($3, $4)`.
    pub(super) fn tuples(self, first: usize, columns: usize, rows: usize) -> String {
        (0..rows)
            .map(|r| format!("({})", self.placeholders(first + r * columns, columns)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// On PostgreSQL, locks the stock rows of `pairs` (sku, node) in key order, whatever
/// order they come in: every transaction that touches several rows takes all of them
/// first, in one order, so two instances' writes cannot deadlock. The order is bytewise
/// (`COLLATE "C"`), as Rust sorts, so that the rows can be locked a chunk at a time.
/// SQLite's one writer needs no lock.
pub(super) async fn lock_stock(
    connection: &mut AnyConnection,
    dialect: Dialect,
    pairs: &[(&str, &str)],
) -> Result<(), sqlx::Error> {
    if dialect != Dialect::Postgres {
        return Ok(());
    }
    let mut pairs = pairs.to_vec();
    pairs.sort_unstable();
    pairs.dedup();
    for chunk in pairs.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT 1 FROM stock WHERE (sku, node) IN (VALUES {}) \
             ORDER BY sku COLLATE \"C\", node COLLATE \"C\" FOR UPDATE",
            dialect.tuples(1, 2, chunk.len())
        );
        let params: Vec<Param> = (chunk.iter())
            .flat_map(|&(sku, node)| [Param::Text(sku), Param::Text(node)])
            .collect();
        bind_all(sqlx::query(&sql), &params)
            .fetch_all(&mut *connection)
            .await?;
    }
    Ok(())
}

/// One change to append to the ledger.
pub(super) struct LedgerRow<'a> {
    pub event: &'static str,
    pub reservation: Option<&'a str>,
    pub sku: Option<&'a str>,
    pub node: &'a str,
    pub on_hand: i64,
    pub reserved: i64,
    pub load: i64,
}

/// Appends `rows` to the ledger, all stamped `now`.
pub(super) async fn append_ledger(
    connection: &mut AnyConnection,
    dialect: Dialect,
    now: i64,
    rows: &[LedgerRow<'_>],
) -> Result<(), sqlx::Error> {
    let params: Vec<Param> = rows
        .iter()
        .flat_map(|row| {
            [
                Param::Int(now),
                Param::Text(row.event),
                Param::MaybeText(row.reservation),
                Param::MaybeText(row.sku),
                Param::Text(row.node),
                Param::Int(row.on_hand),
                Param::Int(row.reserved),
                Param::Int(row.load),
            ]
        })
        .collect();
    insert_rows(
        connection,
        dialect,
        (
            "INSERT INTO ledger (at, event, reservation, sku, node, on_hand_delta, reserved_delta, load_delta) VALUES ",
            "",
        ),
        8,
        &params,
    )
    .await
}
