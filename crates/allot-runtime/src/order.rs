//! Orders, validated against the plan's schema and the network's catalog.

use crate::calendar::{Placed, day_number};
use crate::network::{Network, Schema};
use crate::record::{DataError, Record, custom_attributes};
use crate::value::{Geo, V};
use allot_plan::Plan;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// The most lines one order may have. Far beyond any shopping basket or store
/// replenishment order, and small enough that an order answers within a second on
/// a 1,000-node network; a larger one is refused rather than left to run for minutes.
pub const MAX_ORDER_LINES: usize = 5_000;

#[derive(Clone, Debug)]
pub struct Line {
    pub id: Arc<str>,
    pub sku: Arc<str>,
    /// Index of the item in the network's catalog.
    pub item: u32,
    pub qty: i64,
    pub price: f64,
    /// Unit weight in kg, from the catalog.
    pub weight: f64,
    /// For a returned line, a variant of `Condition` (new, opened, used, damaged).
    pub condition: u32,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: Arc<str>,
    pub channel: Arc<str>,
    /// Variant of `Method`: pickup, ship, same_day.
    pub method: u32,
    /// Variant of `Service`: standard, expedited, next_day.
    pub service: u32,
    pub ship_to: Geo,
    pub pickup_node: Arc<str>,
    pub tags: Arc<[V]>,
    pub custom: Vec<V>,
    pub lines: Vec<Line>,
    /// Σ price × qty.
    pub value: f64,
    /// When the order was placed (`placed_at`), if the data says.
    pub placed: Option<Placed>,
    /// The promised delivery date (`promised_by`) as a day number, if the data says.
    pub promised_by: Option<i32>,
    /// Whether this is a return request: its lines come back, from `ship_to` (its
    /// `from`), to the nodes that receive them.
    pub is_return: bool,
    /// A return's reason ("" for orders).
    pub reason: Arc<str>,
}

fn variant(
    record: &Record,
    field: &str,
    variants: &[String],
    default: &str,
) -> Result<u32, DataError> {
    let name = record.string(field)?.unwrap_or(default);
    variants
        .iter()
        .position(|v| v == name)
        .map(|i| i as u32)
        .ok_or_else(|| {
            record.error(
                field,
                format!(
                    "unknown value \"{name}\": expected one of {}",
                    variants.join(", ")
                ),
            )
        })
}

impl Order {
    /// Reads an order; errors name the order, the line and the field.
    pub fn from_value(value: &Value, plan: &Plan, network: &Network) -> Result<Order, DataError> {
        let record = Record::new("order".into(), value)?;
        let is_return = match record.string("kind")? {
            None | Some("order") => false,
            Some("return") => true,
            Some(other) => {
                return Err(record.error(
                    "kind",
                    format!("expected \"order\" or \"return\", found \"{other}\""),
                ));
            }
        };
        Order::read(record, is_return, plan, network)
    }

    /// Reads a return request; errors name the return, the line and the field.
    pub fn return_from_value(
        value: &Value,
        plan: &Plan,
        network: &Network,
    ) -> Result<Order, DataError> {
        let record = Record::new("return".into(), value)?;
        match record.string("kind")? {
            None | Some("return") => Order::read(record, true, plan, network),
            Some(other) => Err(record.error(
                "kind",
                format!("a returns file holds returns, not \"{other}\""),
            )),
        }
    }

    fn read(
        mut record: Record,
        is_return: bool,
        plan: &Plan,
        network: &Network,
    ) -> Result<Order, DataError> {
        let what = if is_return { "return" } else { "order" };
        let id = record.required_string("id")?;
        record.name = format!("{what} \"{id}\"");
        let schema = Schema::new(plan);
        let order_attrs: Vec<_> = schema
            .order
            .iter()
            .map(|&i| (i, &plan.attributes[i]))
            .collect();
        let method = variant(&record, "method", &plan.enums[1].variants, "ship")?;
        let pickup_node = record.string("pickup_node")?.unwrap_or("");
        let place = if is_return { "from" } else { "ship_to" };
        let ship_to = match record.object(place)? {
            Some(place) => place.geo()?,
            // A pickup order goes to its pickup node.
            None => match network.node_index.get(pickup_node) {
                Some(&node) if !pickup_node.is_empty() => network.nodes[node as usize].geo.clone(),
                _ => return Err(record.error(place, "is missing")),
            },
        };
        let mut lines: Vec<Line> = Vec::new();
        let raw_lines = record
            .array("lines")?
            .ok_or_else(|| record.error("lines", "is missing"))?;
        if raw_lines.is_empty() {
            return Err(record.error("lines", "an order needs at least one line"));
        }
        if raw_lines.len() > MAX_ORDER_LINES {
            return Err(record.error(
                "lines",
                format!(
                    "has {} lines; an order may have at most {MAX_ORDER_LINES}: split it into several orders",
                    raw_lines.len()
                ),
            ));
        }
        let mut line_ids = HashSet::with_capacity(raw_lines.len());
        for (i, raw) in raw_lines.iter().enumerate() {
            let mut line = Record::new(format!("{what} \"{id}\" lines[{i}]"), raw)?;
            let line_id = line.required_string("id")?;
            line.name = format!("{what} \"{id}\" lines[{i}] \"{line_id}\"");
            let sku = line.required_string("sku")?;
            let item = *network.sku_index.get(sku).ok_or_else(|| {
                line.error(
                    "sku",
                    format!("unknown SKU \"{sku}\": it is not in the network's items"),
                )
            })?;
            if !line_ids.insert(line_id) {
                return Err(line.error("id", format!("duplicate line id \"{line_id}\"")));
            }
            lines.push(Line {
                id: Arc::from(line_id),
                sku: Arc::from(sku),
                item,
                qty: line.integer("qty", 1, None)?,
                price: line.number_in("price", 0.0, f64::INFINITY, Some(0.0))?,
                weight: network.items[item as usize].weight,
                condition: match is_return {
                    true => variant(&line, "condition", &plan.enums[3].variants, "new")?,
                    false => 0,
                },
            });
        }
        let value = lines.iter().map(|l| l.price * l.qty as f64).sum();
        let placed = match record.string("placed_at")? {
            Some(text) => Some(Placed::parse(text).map_err(|e| record.error("placed_at", e))?),
            None => None,
        };
        let promised_by = match record.string("promised_by")? {
            Some(text) => Some(day_number(text.parse().map_err(|_| {
                record.error(
                    "promised_by",
                    format!("expected a date like \"2026-12-24\", found \"{text}\""),
                )
            })?)),
            None => None,
        };
        Ok(Order {
            id: Arc::from(id),
            channel: Arc::from(record.string("channel")?.unwrap_or("")),
            method,
            service: variant(&record, "service", &plan.enums[2].variants, "standard")?,
            ship_to,
            pickup_node: Arc::from(pickup_node),
            tags: record.strings("tags")?,
            custom: custom_attributes(&record, &order_attrs, &plan.enums)?,
            lines,
            value,
            placed,
            promised_by,
            is_return,
            reason: Arc::from(record.string("reason")?.unwrap_or("")),
        })
    }
}
