//! Stock changes between instances on PostgreSQL. Every transaction that changes stock
//! or load also notifies [`CHANNEL`] with the (sku, node) rows and the nodes it
//! touched; PostgreSQL delivers a notification when, and only if, its transaction
//! commits. Each instance listens and reads those rows again into its view, so that
//! what another instance holds, releases or counts is seen here within moments rather
//! than at the next conflict. SQLite, one instance per database, has no feed.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{AnyConnection, AnyPool};
use std::borrow::Cow;
use std::time::Duration;
use tokio::sync::mpsc;

/// The notification channel.
pub const CHANNEL: &str = "allot_stock";
/// PostgreSQL refuses payloads of 8,000 bytes or more.
const PAYLOAD_BYTES: usize = 7_000;

/// What changed in the store, as an instance learns it.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Another instance changed these stock rows (sku, node) and these nodes' load.
    Touched {
        stock: Vec<(String, String)>,
        nodes: Vec<String>,
    },
    /// Notifications may have been lost (the listening connection was new or lost):
    /// anything may have changed.
    Missed,
}

#[derive(Serialize, Deserialize, Default)]
struct Payload<'a> {
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow, default)]
    stock: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    #[serde(borrow, default)]
    nodes: Vec<Cow<'a, str>>,
}

/// Whether the database takes notifications (PostgreSQL does; some databases that
/// speak its protocol do not).
pub(super) async fn available(pool: &AnyPool) -> bool {
    (sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL))
        .execute(pool)
        .await
        .is_ok()
}

/// In the transaction on `connection`: tells the other instances which stock rows and
/// nodes' load it changes, when there is a feed (`feed` names this instance in it).
pub(super) async fn notify(
    connection: &mut AnyConnection,
    feed: Option<&str>,
    stock: &[(&str, &str)],
    nodes: &[&str],
) -> Result<(), sqlx::Error> {
    let Some(instance) = feed else {
        return Ok(());
    };
    for text in payloads(instance, stock, nodes) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(text)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// The payloads that carry `stock` and `nodes`, each within [`PAYLOAD_BYTES`] (but for
/// a single key longer than that); none when nothing changed.
fn payloads<'a>(instance: &'a str, stock: &[(&'a str, &'a str)], nodes: &[&'a str]) -> Vec<String> {
    let empty = || Payload {
        from: Cow::Borrowed(instance),
        ..Payload::default()
    };
    let overhead = json_len(&empty());
    let mut payloads = Vec::new();
    let mut current = empty();
    let mut size = overhead;
    let mut make_room = |current: &mut Payload<'a>, payloads: &mut Vec<String>, bytes: usize| {
        if size + bytes > PAYLOAD_BYTES && size > overhead {
            payloads.push(to_json(&std::mem::replace(current, empty())));
            size = overhead;
        }
        size += bytes;
    };
    for &(sku, node) in stock {
        let pair = (Cow::Borrowed(sku), Cow::Borrowed(node));
        make_room(&mut current, &mut payloads, json_len(&pair) + 1);
        current.stock.push(pair);
    }
    for &node in nodes {
        make_room(&mut current, &mut payloads, json_len(&node) + 1);
        current.nodes.push(Cow::Borrowed(node));
    }
    if !current.stock.is_empty() || !current.nodes.is_empty() {
        payloads.push(to_json(&current));
    }
    payloads
}

fn to_json(payload: &Payload<'_>) -> String {
    serde_json::to_string(payload).expect("payloads serialize")
}

fn json_len(value: &impl Serialize) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// Listens on [`CHANNEL`] of the database at `url` for as long as the receiver lives,
/// sending on what other instances than `instance` changed. A connection that is new
/// or lost sends [`Change::Missed`] first; a lost one is connected again.
pub(super) async fn listen(url: String, instance: String, changes: mpsc::Sender<Change>) {
    const PAUSE: Duration = Duration::from_millis(500);
    let mut listener = loop {
        match connect(&url).await {
            Ok(listener) => break listener,
            Err(error) => eprintln!("allot serve: listening for stock changes: {error}"),
        }
        if changes.is_closed() {
            return;
        }
        tokio::time::sleep(PAUSE).await;
    };
    let mut change = Change::Missed;
    loop {
        if changes.send(change).await.is_err() {
            return;
        }
        change = loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(change) = parse(notification.payload(), &instance) {
                        break change;
                    }
                }
                // The connection was lost; the next call connects again.
                Ok(None) => break Change::Missed,
                Err(error) => {
                    eprintln!("allot serve: listening for stock changes: {error}");
                    if changes.is_closed() {
                        return;
                    }
                    tokio::time::sleep(PAUSE).await;
                }
            }
        };
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The change a payload describes, unless it is this instance's own (or unreadable:
/// then it is not one of ours, and is ignored).
fn parse(payload: &str, instance: &str) -> Option<Change> {
    let payload: Payload = serde_json::from_str(payload).ok()?;
    (payload.from != instance).then(|| Change::Touched {
        stock: (payload.stock.into_iter())
            .map(|(sku, node)| (sku.into_owned(), node.into_owned()))
            .collect(),
        nodes: payload.nodes.into_iter().map(Cow::into_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_ignores_its_own_notifications_and_unreadable_ones() {
        let payload = r#"{"from":"a","stock":[["SKU \"1\"","DC-1"]],"nodes":["DC-1"]}"#;
        assert_eq!(parse(payload, "a"), None);
        assert_eq!(
            parse(payload, "b"),
            Some(Change::Touched {
                stock: vec![("SKU \"1\"".into(), "DC-1".into())],
                nodes: vec!["DC-1".into()],
            })
        );
        assert_eq!(parse("not json", "b"), None);
    }

    #[test]
    fn a_large_change_is_cut_into_payloads_postgresql_accepts() {
        let skus: Vec<String> = (0..2_000).map(|n| format!("SKU-{n:05}")).collect();
        let stock: Vec<(&str, &str)> = skus.iter().map(|sku| (sku.as_str(), "DC-1")).collect();
        let texts = payloads("a", &stock, &["DC-1", "DC-2"]);
        assert!(texts.len() > 1);
        let (mut rows, mut nodes) = (Vec::new(), Vec::new());
        for text in &texts {
            assert!(text.len() <= PAYLOAD_BYTES, "{} bytes", text.len());
            let Some(Change::Touched { stock, nodes: n }) = parse(text, "b") else {
                panic!("{text}");
            };
            rows.extend(stock);
            nodes.extend(n);
        }
        assert_eq!(rows.len(), 2_000);
        assert_eq!(rows[1_999], ("SKU-01999".to_string(), "DC-1".to_string()));
        assert_eq!(nodes, ["DC-1", "DC-2"]);
        assert!(payloads("a", &[], &[]).is_empty());
    }
}
