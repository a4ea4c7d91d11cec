//! Simulation: the decisions of a baseline and a candidate ruleset on the same batch of
//! orders, compared. Decisions are fed in pairs as they are made, so a batch of any size
//! keeps only the orders that changed.

use allot_runtime::{Decision, Status, explain};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

mod html;
pub use html::{Page, Place};

const STATUSES: [Status; 5] = [
    Status::Routed,
    Status::Partial,
    Status::Rejected,
    Status::Held,
    Status::Error,
];

/// Totals of one side of the simulation.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Orders by status, in the order routed, partial, rejected, held, error.
    #[serde(serialize_with = "by_status")]
    pub statuses: [usize; 5],
    #[serde(serialize_with = "cents")]
    pub cost: f64,
    /// Parcels: shipments from non-digital nodes.
    pub shipments: usize,
    /// Orders shipped in at least one parcel.
    pub shipped_orders: usize,
    /// Orders shipped in more than one parcel.
    pub split_orders: usize,
    /// By node id: the shipments it makes (digital deliveries too) and their units.
    pub nodes: BTreeMap<String, NodeUse>,
    /// Orders by the stage whose nodes shipped them, for decisions that carry a trace
    /// (`allot simulate --report` routes with one); "(no stages)" for policies without.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stages: BTreeMap<String, usize>,
}

/// What one node ships on one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct NodeUse {
    pub shipments: usize,
    pub units: i64,
}

fn by_status<S: serde::Serializer>(counts: &[usize; 5], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(STATUSES.iter().map(|s| s.name()).zip(counts))
}

fn cents<S: serde::Serializer>(x: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(round_cents(*x))
}

impl Totals {
    fn add(&mut self, decision: &Decision, parcels: usize) {
        self.statuses[status_index(decision.status)] += 1;
        self.cost += decision.cost.unwrap_or(0.0);
        self.shipments += parcels;
        self.shipped_orders += usize::from(parcels > 0);
        self.split_orders += usize::from(parcels > 1);
        for shipment in decision.shipments.iter().flatten() {
            let node = match self.nodes.get_mut(&shipment.node) {
                Some(node) => node,
                None => self.nodes.entry(shipment.node.clone()).or_default(),
            };
            node.shipments += 1;
            node.units += shipment.lines.iter().map(|l| l.qty).sum::<i64>();
        }
        if let Some(trace) = &decision.trace
            && decision.shipments.as_ref().is_some_and(|s| !s.is_empty())
        {
            let stage = trace.stage.as_deref().unwrap_or("(no stages)");
            *self.stages.entry(stage.to_string()).or_default() += 1;
        }
    }

    /// The share of shipped orders that went in more than one parcel.
    pub fn split_rate(&self) -> f64 {
        self.split_orders as f64 / self.shipped_orders.max(1) as f64
    }
}

fn status_index(status: Status) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(4)
}

/// What differs between the two decisions of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Status,
    Nodes,
    Allocation,
    Unfilled,
    Cost,
    /// The order's promised dates: the last day a shipment ships or arrives.
    Dates,
}

impl Change {
    /// The name the JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            Change::Status => "status",
            Change::Nodes => "nodes",
            Change::Allocation => "allocation",
            Change::Unfilled => "unfilled",
            Change::Cost => "cost",
            Change::Dates => "dates",
        }
    }
}

/// An order whose decision changed, with both decisions.
#[derive(Clone, Debug, Serialize)]
pub struct ChangedOrder {
    pub order: Option<String>,
    pub changes: Vec<Change>,
    pub cost_delta: f64,
    pub shipments_delta: i64,
    pub baseline: Decision,
    pub candidate: Decision,
    /// Both decisions explained for a person, for the first [`Report::explained`]
    /// changed orders; the decisions themselves keep no trace.
    #[serde(skip)]
    pub explanations: Option<(String, String)>,
}

/// The comparison, built one order at a time.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub orders: usize,
    pub baseline: Totals,
    pub candidate: Totals,
    /// Orders whose set of shipping nodes changed.
    pub node_set_changed: usize,
    /// Orders whose promised dates (the last ship date, the last delivery date) changed.
    pub dates_changed: usize,
    pub changed: Vec<ChangedOrder>,
    /// How many changed orders, the first ones, keep their decisions explained (from
    /// the decisions' traces) for the page.
    pub explained: usize,
}

/// Candidate less baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Delta {
    #[serde(serialize_with = "cents")]
    pub cost: f64,
    #[serde(serialize_with = "cents")]
    pub cost_per_order: f64,
    pub shipments: i64,
    pub shipments_per_order: f64,
}

/// The report as JSON: totals, their deltas, and every changed order.
#[derive(Serialize)]
struct ReportJson<'a> {
    orders: usize,
    baseline: &'a Totals,
    candidate: &'a Totals,
    delta: Delta,
    changed_orders: usize,
    node_set_changed: usize,
    dates_changed: usize,
    changed: &'a [ChangedOrder],
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReportJson {
            orders: self.orders,
            baseline: &self.baseline,
            candidate: &self.candidate,
            delta: self.delta(),
            changed_orders: self.changed.len(),
            node_set_changed: self.node_set_changed,
            dates_changed: self.dates_changed,
            changed: &self.changed,
        }
        .serialize(serializer)
    }
}

fn nodes(decision: &Decision) -> BTreeSet<&str> {
    decision
        .shipments
        .iter()
        .flatten()
        .map(|s| s.node.as_str())
        .collect()
}

/// What the decision promises: the last ship date and the last delivery date of its
/// shipments (ISO dates compare as text).
fn promised(decision: &Decision) -> (Option<&str>, Option<&str>) {
    let shipments = || decision.shipments.iter().flatten();
    (
        shipments().filter_map(|s| s.ship_by.as_deref()).max(),
        shipments().filter_map(|s| s.deliver_by.as_deref()).max(),
    )
}

/// (node, line, units) of every allocation, sorted.
fn allocation(decision: &Decision) -> Vec<(&str, &str, i64)> {
    let mut parts: Vec<_> = decision
        .shipped()
        .map(|(node, l)| (node, l.line.as_str(), l.qty))
        .collect();
    parts.sort_unstable();
    parts
}

impl Report {
    pub fn delta(&self) -> Delta {
        let per_order = |x: f64| x / self.orders.max(1) as f64;
        let (old, new) = (&self.baseline, &self.candidate);
        Delta {
            cost: new.cost - old.cost,
            cost_per_order: per_order(new.cost) - per_order(old.cost),
            shipments: new.shipments as i64 - old.shipments as i64,
            shipments_per_order: (per_order(new.shipments as f64)
                - per_order(old.shipments as f64)),
        }
    }

    /// Adds one order's two decisions; `parcels` counts a decision's non-digital
    /// shipments (the caller knows the network).
    pub fn add(
        &mut self,
        mut baseline: Decision,
        mut candidate: Decision,
        parcels: impl Fn(&Decision) -> usize,
    ) {
        let (old_parcels, new_parcels) = (parcels(&baseline), parcels(&candidate));
        self.orders += 1;
        self.baseline.add(&baseline, old_parcels);
        self.candidate.add(&candidate, new_parcels);
        let mut changes = Vec::new();
        if baseline.status != candidate.status {
            changes.push(Change::Status);
        }
        if nodes(&baseline) != nodes(&candidate) {
            changes.push(Change::Nodes);
            self.node_set_changed += 1;
        } else if allocation(&baseline) != allocation(&candidate) {
            changes.push(Change::Allocation);
        }
        if baseline.unfilled != candidate.unfilled {
            changes.push(Change::Unfilled);
        }
        let cost_delta = candidate.cost.unwrap_or(0.0) - baseline.cost.unwrap_or(0.0);
        if cost_delta.abs() >= 0.005 {
            changes.push(Change::Cost);
        }
        if promised(&baseline) != promised(&candidate) {
            changes.push(Change::Dates);
            self.dates_changed += 1;
        }
        if !changes.is_empty() {
            let explanations = (self.changed.len() < self.explained)
                .then(|| (explain(&baseline), explain(&candidate)));
            baseline.trace = None;
            candidate.trace = None;
            self.changed.push(ChangedOrder {
                order: candidate.order.clone().or_else(|| baseline.order.clone()),
                changes,
                cost_delta: round_cents(cost_delta),
                shipments_delta: new_parcels as i64 - old_parcels as i64,
                baseline,
                candidate,
                explanations,
            });
        }
    }

    /// The report as a table for people; at most `limit` changed orders are listed.
    pub fn table(&self, limit: usize) -> String {
        let mut out = String::new();
        let (old, new) = (&self.baseline, &self.candidate);
        let _ = writeln!(out, "{} orders", self.orders);
        let _ = writeln!(
            out,
            "\n{:<22} {:>14} {:>14} {:>14}",
            "", "baseline", "candidate", "change"
        );
        for (i, status) in STATUSES.iter().enumerate() {
            let (a, b) = (old.statuses[i], new.statuses[i]);
            let _ = writeln!(
                out,
                "{:<22} {a:>14} {b:>14} {:>14}",
                status.name(),
                signed_count(b as i64 - a as i64)
            );
        }
        let per_order = |x: f64| x / self.orders.max(1) as f64;
        let delta = self.delta();
        let _ = writeln!(
            out,
            "{:<22} {:>14.2} {:>14.2} {:>14}",
            "cost",
            old.cost,
            new.cost,
            signed_money(delta.cost)
        );
        let _ = writeln!(
            out,
            "{:<22} {:>14.2} {:>14.2} {:>14}",
            "cost per order",
            per_order(old.cost),
            per_order(new.cost),
            signed_money(delta.cost_per_order)
        );
        let _ = writeln!(
            out,
            "{:<22} {:>14} {:>14} {:>14}",
            "shipments",
            old.shipments,
            new.shipments,
            signed_count(delta.shipments)
        );
        let _ = writeln!(
            out,
            "{:<22} {:>14.3} {:>14.3} {:>14}",
            "shipments per order",
            per_order(old.shipments as f64),
            per_order(new.shipments as f64),
            if delta.shipments_per_order.abs() < 0.0005 {
                "0".to_string()
            } else {
                format!("{:+.3}", delta.shipments_per_order)
            }
        );
        let _ = writeln!(
            out,
            "\n{} orders changed; {} ship from a different set of nodes; {} have new promised dates",
            self.changed.len(),
            self.node_set_changed,
            self.dates_changed
        );
        if self.changed.is_empty() {
            return out;
        }
        let _ = writeln!(out);
        for changed in self.changed.iter().take(limit) {
            let _ = writeln!(
                out,
                "{}: {} → {}",
                changed.order.as_deref().unwrap_or("(no id)"),
                summary(&changed.baseline),
                summary(&changed.candidate),
            );
            let _ = writeln!(
                out,
                "    cost {}, shipments {}",
                signed_money(changed.cost_delta),
                signed_count(changed.shipments_delta)
            );
        }
        if self.changed.len() > limit {
            let _ = writeln!(
                out,
                "… and {} more (--limit, or --format json for all)",
                self.changed.len() - limit
            );
        }
        out
    }
}

/// `routed DC-NJ[1×2] STORE-NYC[2×1] 12.40` or `rejected (domestic only)`.
fn summary(decision: &Decision) -> String {
    let mut out = decision.status.name().to_string();
    for shipment in decision.shipments.iter().flatten() {
        let lines: Vec<String> = shipment
            .lines
            .iter()
            .map(|l| format!("{}×{}", l.line, l.qty))
            .collect();
        let _ = write!(out, " {}[{}]", shipment.node, lines.join(" "));
    }
    if let Some(reason) = decision.reason.as_ref().or(decision.message.as_ref()) {
        let _ = write!(out, " ({reason})");
    }
    if let Some(cost) = decision.cost {
        let _ = write!(out, " {cost:.2}");
    }
    out
}

fn signed_money(x: f64) -> String {
    let x = round_cents(x);
    if x == 0.0 {
        "0.00".into()
    } else {
        format!("{x:+.2}")
    }
}

fn signed_count(x: i64) -> String {
    if x == 0 { "0".into() } else { format!("{x:+}") }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_runtime::decision::{Shipment, ShippedLine};

    fn decision(status: Status, parts: &[(&str, &str, i64)], cost: f64) -> Decision {
        let mut d = Decision::error(Some("A-1".into()), "");
        d.message = None;
        d.status = status;
        d.cost = Some(cost);
        d.unfilled = Some(Vec::new());
        let mut shipments: Vec<Shipment> = Vec::new();
        for &(node, line, qty) in parts {
            let shipped = ShippedLine {
                line: line.into(),
                sku: "SKU".into(),
                qty,
            };
            match shipments.iter_mut().find(|s| s.node == node) {
                Some(s) => s.lines.push(shipped),
                None => shipments.push(Shipment {
                    node: node.into(),
                    lines: vec![shipped],
                    cost: 0.0,
                    ship_by: None,
                    deliver_by: None,
                }),
            }
        }
        d.shipments = Some(shipments);
        d
    }

    fn parcels(d: &Decision) -> usize {
        d.shipments.as_ref().map_or(0, Vec::len)
    }

    #[test]
    fn an_order_is_changed_by_status_nodes_allocation_or_cost() {
        let mut report = Report::default();
        let same = decision(Status::Routed, &[("DC-1", "1", 2)], 10.0);
        report.add(same.clone(), same.clone(), parcels);
        report.add(
            same.clone(),
            decision(Status::Routed, &[("DC-2", "1", 2)], 10.0),
            parcels,
        );
        report.add(
            decision(Status::Routed, &[("DC-1", "1", 1), ("DC-2", "1", 1)], 10.0),
            decision(Status::Routed, &[("DC-1", "1", 2), ("DC-2", "2", 1)], 10.0),
            parcels,
        );
        report.add(
            same.clone(),
            decision(Status::Routed, &[("DC-1", "1", 2)], 10.004),
            parcels,
        );
        report.add(same.clone(), decision(Status::Held, &[], 0.0), parcels);
        let changes: Vec<Vec<Change>> = report.changed.iter().map(|c| c.changes.clone()).collect();
        assert_eq!(
            changes,
            vec![
                vec![Change::Nodes],
                vec![Change::Allocation],
                vec![Change::Status, Change::Nodes, Change::Cost],
            ]
        );
        assert_eq!(report.orders, 5);
        assert_eq!(report.node_set_changed, 2);
        assert_eq!(report.baseline.statuses, [5, 0, 0, 0, 0]);
        assert_eq!(report.candidate.statuses, [4, 0, 0, 1, 0]);
        assert_eq!(report.changed[2].cost_delta, -10.0);
        assert_eq!(report.changed[2].shipments_delta, -1);
        let delta = report.delta();
        assert_eq!(delta.shipments, -1);
        assert!((delta.cost - -9.996).abs() < 1e-9);
        assert_eq!(report.dates_changed, 0);
    }

    #[test]
    fn an_order_whose_promised_dates_move_is_changed() {
        let dated = |ship: &str, deliver: &str| {
            let mut d = decision(Status::Routed, &[("DC-1", "1", 2)], 10.0);
            for s in d.shipments.iter_mut().flatten() {
                s.ship_by = Some(ship.into());
                s.deliver_by = Some(deliver.into());
            }
            d
        };
        let mut report = Report::default();
        let monday = dated("2026-12-07", "2026-12-09");
        report.add(monday.clone(), monday.clone(), parcels);
        report.add(monday.clone(), dated("2026-12-07", "2026-12-10"), parcels);
        report.add(monday, dated("2026-12-08", "2026-12-09"), parcels);
        let changes: Vec<Vec<Change>> = report.changed.iter().map(|c| c.changes.clone()).collect();
        assert_eq!(changes, vec![vec![Change::Dates], vec![Change::Dates]]);
        assert_eq!(report.dates_changed, 2);
        assert!(report.table(5).contains("2 have new promised dates"));
    }

    #[test]
    fn the_table_lists_at_most_the_limit() {
        let mut report = Report::default();
        for _ in 0..3 {
            report.add(
                decision(Status::Routed, &[("DC-1", "1", 2)], 10.0),
                decision(Status::Partial, &[("DC-2", "1", 1)], 12.5),
                parcels,
            );
        }
        insta::assert_snapshot!(report.table(2), @r"
        3 orders

                                     baseline      candidate         change
        routed                              3              0             -3
        partial                             0              3             +3
        rejected                            0              0              0
        held                                0              0              0
        error                               0              0              0
        cost                            30.00          37.50          +7.50
        cost per order                  10.00          12.50          +2.50
        shipments                           3              3              0
        shipments per order             1.000          1.000              0

        3 orders changed; 3 ship from a different set of nodes; 0 have new promised dates

        A-1: routed DC-1[1×2] 10.00 → partial DC-2[1×1] 12.50
            cost +2.50, shipments 0
        A-1: routed DC-1[1×2] 10.00 → partial DC-2[1×1] 12.50
            cost +2.50, shipments 0
        … and 1 more (--limit, or --format json for all)
        ");
    }

    #[test]
    fn each_side_counts_nodes_splits_and_explains_the_first_changed_orders() {
        let mut report = Report {
            explained: 1,
            ..Report::default()
        };
        for _ in 0..2 {
            report.add(
                decision(Status::Routed, &[("DC-1", "1", 2), ("DC-2", "2", 1)], 10.0),
                decision(Status::Routed, &[("DC-2", "1", 2), ("DC-2", "2", 1)], 8.0),
                parcels,
            );
        }
        assert_eq!(report.baseline.split_orders, 2);
        assert_eq!(report.candidate.split_orders, 0);
        assert_eq!(report.baseline.split_rate(), 1.0);
        assert_eq!(report.candidate.shipped_orders, 2);
        assert_eq!(
            report.baseline.nodes["DC-1"],
            NodeUse {
                shipments: 2,
                units: 4
            }
        );
        assert_eq!(
            report.candidate.nodes["DC-2"],
            NodeUse {
                shipments: 2,
                units: 6
            }
        );
        assert!(!report.candidate.nodes.contains_key("DC-1"));
        // Only the first changed order keeps its explanations; no decision keeps a trace.
        assert!(report.changed[0].explanations.is_some());
        assert!(report.changed[1].explanations.is_none());
    }

    fn page_of(report: &Report) -> String {
        let nodes = [
            Place {
                id: "DC-1".into(),
                lat: 40.5,
                lon: -74.4,
            },
            Place {
                id: "DC-2".into(),
                lat: 32.9,
                lon: -97.0,
            },
            Place {
                id: "STORE-<3>".into(),
                lat: 41.9,
                lon: -87.6,
            },
        ];
        report.html(&Page {
            baseline: "rules/old",
            candidate: "rules/new",
            nodes: &nodes,
            currency: "USD",
            limit: 1,
        })
    }

    #[test]
    fn the_page_is_self_contained_with_three_charts_and_escaped_text() {
        let mut report = Report {
            explained: 5,
            ..Report::default()
        };
        let mut odd = decision(Status::Routed, &[("DC-1", "1", 2)], 10.0);
        odd.order = Some("<script>alert(1)</script>".into());
        let mut moved = odd.clone();
        moved.shipments.as_mut().unwrap()[0].node = "STORE-<3>".into();
        report.add(odd, moved, parcels);
        report.add(
            decision(Status::Routed, &[("DC-1", "1", 2)], 10.0),
            decision(Status::Routed, &[("DC-2", "1", 2)], 14.0),
            parcels,
        );
        let html = page_of(&report);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<svg").count(), 3, "cost deltas, nodes, map");
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // Nothing is fetched: no external script, style, image or font.
        for fetch in ["src=", "<link", "url(", "@import"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        // `limit` 1: one row, one explanation, and a note that there are more.
        assert_eq!(html.matches("<tr><td><a href=\"#order-").count(), 1);
        assert!(html.contains("The first 1 of 2"));
        assert!(html.contains("STORE-&lt;3&gt;"));
    }

    #[test]
    fn a_page_without_changes_says_so_instead_of_drawing_empty_charts() {
        let mut report = Report::default();
        let same = decision(Status::Routed, &[("DC-1", "1", 2)], 10.0);
        report.add(same.clone(), same, parcels);
        let html = page_of(&report);
        assert!(html.contains("No order changed."));
        assert!(html.contains("No order's decision changed."));
        assert_eq!(html.matches("<svg").count(), 2, "nodes and map");
    }
}
