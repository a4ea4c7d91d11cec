//! The store's writes other than holds: the first import of stock and load, the end
//! of a reservation (commit, release, expiry), on-hand counts from an inventory feed,
//! and returns received. Each is one transaction that writes first and appends its
//! ledger rows.

use super::feed::notify;
use super::sql::{LedgerRow, Param, append_ledger, insert_rows, lock_stock};
use super::{
    End, EndError, EndOutcome, OnHand, SetStockError, StockRow, Store, StoreError,
    read_reservation, stock_row,
};
use std::collections::BTreeMap;

impl Store {
    /// The first start: stock and load from the network file, with their ledger rows,
    /// in one transaction.
    pub async fn import(
        &self,
        stock: &[StockRow],
        loads: &[(String, i64)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let stock_params: Vec<Param> = (stock.iter())
            .flat_map(|row| {
                [
                    Param::Text(&row.sku),
                    Param::Text(&row.node),
                    Param::Int(row.on_hand),
                    Param::Int(row.reserved),
                ]
            })
            .collect();
        let insert = (
            "INSERT INTO stock (sku, node, on_hand, reserved) VALUES ",
            "",
        );
        insert_rows(&mut tx, self.dialect, insert, 4, &stock_params).await?;
        let load_params: Vec<Param> = (loads.iter())
            .flat_map(|(node, load)| [Param::Text(node), Param::Int(*load)])
            .collect();
        insert_rows(
            &mut tx,
            self.dialect,
            ("INSERT INTO node_load (node, load) VALUES ", ""),
            2,
            &load_params,
        )
        .await?;
        let mut ledger: Vec<LedgerRow> = (stock.iter())
            .map(|row| LedgerRow {
                event: "import",
                reservation: None,
                sku: Some(&row.sku),
                node: &row.node,
                on_hand: row.on_hand,
                reserved: row.reserved,
                load: 0,
            })
            .collect();
        ledger.extend(loads.iter().map(|(node, load)| LedgerRow {
            event: "import",
            reservation: None,
            sku: None,
            node,
            on_hand: 0,
            reserved: 0,
            load: *load,
        }));
        append_ledger(&mut tx, self.dialect, now, &ledger).await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('imported_at', $1)")
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a held reservation. Repeating the same end is not an error.
    pub async fn end(&self, id: &str, end: End, now: i64) -> Result<EndOutcome, EndError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
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
        let pairs: Vec<(&str, &str)> = per_pair.keys().copied().collect();
        lock_stock(&mut tx, self.dialect, &pairs).await?;
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
        append_ledger(&mut tx, self.dialect, now, &ledger).await?;
        let nodes: Vec<&str> = match on_hand_falls {
            true => Vec::new(),
            false => reservation
                .shipments
                .iter()
                .map(|(node, _)| node.as_str())
                .collect(),
        };
        notify(&mut tx, self.feed.as_deref(), &pairs, &nodes).await?;
        tx.commit().await?;
        reservation.state = end.state().to_string();
        reservation.ended_at = Some(now);
        reservation.ended_by = Some(end.name().to_string());
        Ok(EndOutcome::Ended(reservation))
    }

    /// Sets on-hand counts, all or nothing. A pair not stocked yet is added. Returns
    /// each row as it now is.
    pub async fn set_on_hand(
        &self,
        counts: &[OnHand],
        now: i64,
    ) -> Result<Vec<(StockRow, i64)>, SetStockError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let pairs: Vec<(&str, &str)> = (counts.iter())
            .map(|count| (count.sku.as_str(), count.node.as_str()))
            .collect();
        lock_stock(&mut tx, self.dialect, &pairs).await?;
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
        let ledger: Vec<LedgerRow> = (ledger_rows.iter())
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
        append_ledger(&mut tx, self.dialect, now, &ledger).await?;
        notify(&mut tx, self.feed.as_deref(), &pairs, &[]).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Records a return: its answer (under its id, once), and what it brings back,
    /// added to `on_hand` at the nodes that receive it (`units`: SKU, node, units), with
    /// one more order of load at each of `nodes`. A return already recorded changes
    /// nothing: `Ok(false)`.
    pub async fn receive(&self, received: &Received<'_>, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.dialect.begin_write(&self.write).await?;
        let pairs: Vec<(&str, &str)> = (received.units.iter())
            .map(|(sku, node, _)| (sku.as_str(), node.as_str()))
            .collect();
        lock_stock(&mut tx, self.dialect, &pairs).await?;
        let inserted = sqlx::query(
            "INSERT INTO returns (id, body, answer, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(received.id)
        .bind(received.body)
        .bind(received.answer)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        let stock: Vec<Param> = (received.units.iter())
            .flat_map(|(sku, node, units)| {
                [
                    Param::Text(sku),
                    Param::Text(node),
                    Param::Int(*units),
                    Param::Int(0),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            self.dialect,
            (
                "INSERT INTO stock (sku, node, on_hand, reserved) VALUES ",
                " ON CONFLICT (sku, node) DO UPDATE SET on_hand = stock.on_hand + excluded.on_hand",
            ),
            4,
            &stock,
        )
        .await?;
        let load: Vec<Param> = (received.nodes.iter())
            .flat_map(|node| [Param::Text(node), Param::Int(1)])
            .collect();
        insert_rows(
            &mut tx,
            self.dialect,
            (
                "INSERT INTO node_load (node, load) VALUES ",
                " ON CONFLICT (node) DO UPDATE SET load = node_load.load + excluded.load",
            ),
            2,
            &load,
        )
        .await?;
        let units = (received.units.iter()).map(|(sku, node, units)| LedgerRow {
            event: "return",
            reservation: None,
            sku: Some(sku),
            node,
            on_hand: *units,
            reserved: 0,
            load: 0,
        });
        let loads = (received.nodes.iter()).map(|node| LedgerRow {
            event: "return",
            reservation: None,
            sku: None,
            node,
            on_hand: 0,
            reserved: 0,
            load: 1,
        });
        let ledger: Vec<LedgerRow> = units.chain(loads).collect();
        append_ledger(&mut tx, self.dialect, now, &ledger).await?;
        let nodes: Vec<&str> = received.nodes.iter().map(String::as_str).collect();
        notify(&mut tx, self.feed.as_deref(), &pairs, &nodes).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// A return to record: its id, body and answer, and what it brings back.
pub struct Received<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub answer: &'a str,
    /// (SKU, node, units), each pair once.
    pub units: Vec<(String, String, i64)>,
    /// The nodes that receive a parcel.
    pub nodes: Vec<String>,
}
