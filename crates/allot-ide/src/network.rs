//! What the editor shows of a ruleset's network snapshot (its `network.json`): each
//! node's kind, place, switches and working calendar, for hover on the node's id in a
//! rule. Read leniently: a field the editor cannot read is left out; `allot route` and
//! `allot check --network` are where bad data is reported.

use serde_json::Value;
use std::collections::BTreeMap;

/// The nodes of a network, by id, each described in Markdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeDirectory {
    nodes: BTreeMap<String, String>,
}

impl NodeDirectory {
    /// Reads a network snapshot's JSON; `None` when it is not a JSON object.
    pub fn from_json(text: &str) -> Option<NodeDirectory> {
        let value: Value = serde_json::from_str(text).ok()?;
        let nodes = value.get("nodes")?.as_array()?;
        Some(NodeDirectory {
            nodes: nodes
                .iter()
                .filter_map(|node| Some((node.get("id")?.as_str()?.to_string(), describe(node))))
                .collect(),
        })
    }

    /// The Markdown of the node with this id.
    pub fn describe(&self, id: &str) -> Option<&str> {
        self.nodes.get(id).map(String::as_str)
    }
}

fn describe(node: &Value) -> String {
    let text = |field: &str| node.get(field).and_then(Value::as_str);
    let number = |field: &str| node.get(field).and_then(Value::as_f64);
    let strings = |field: &str| -> Vec<&str> {
        (node.get(field).and_then(Value::as_array))
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let id = text("id").unwrap_or("?");
    let mut out = format!("**{id}**: {}", text("kind").unwrap_or("node"));
    if let (Some(lat), Some(lon)) = (number("lat"), number("lon")) {
        out.push_str(&format!(" at {lat}, {lon}"));
    }
    let place: Vec<&str> = ["country", "region", "postal_code"]
        .iter()
        .filter_map(|f| text(f).filter(|s| !s.is_empty()))
        .collect();
    if !place.is_empty() {
        out.push_str(&format!(" ({})", place.join(", ")));
    }
    let mut facts = Vec::new();
    if node.get("enabled").and_then(Value::as_bool) == Some(false) {
        facts.push("switched off".to_string());
    }
    if let Some(priority) = number("priority") {
        facts.push(format!("priority {priority}"));
    }
    let tags = strings("tags");
    if !tags.is_empty() {
        facts.push(format!("tags {}", tags.join(", ")));
    }
    if let Some(capacity) = number("capacity") {
        let load = number("load").unwrap_or(0.0);
        facts.push(format!("{load} of {capacity} orders a day taken"));
    }
    if !facts.is_empty() {
        out.push_str(&format!("\n\n{}", facts.join("; ")));
    }
    out.push_str(&format!("\n\n{}", calendar(node)));
    out
}

/// The node's working calendar, and what it means for an order's ship date.
fn calendar(node: &Value) -> String {
    let text = |field: &str| node.get(field).and_then(Value::as_str);
    let zone = text("timezone").unwrap_or("UTC");
    let days: Vec<&str> = (node.get("working_days").and_then(Value::as_array))
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["mon", "tue", "wed", "thu", "fri"]);
    let holidays: Vec<&str> = (node.get("holidays").and_then(Value::as_array))
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let handling = node
        .get("handling_days")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut out = format!("Calendar: {zone}, works {}", days.join(" "));
    if !holidays.is_empty() {
        out.push_str(&format!(", closed {}", holidays.join(", ")));
    }
    out.push_str(".\n\n");
    out.push_str(&match text("cutoff") {
        Some(cutoff) => format!(
            "An order placed before {cutoff} ({zone}) on a working day reaches the node that day; later, or on a day off, the next working day."
        ),
        None => "An order placed on a working day reaches the node that day; on a day off, the next working day.".to_string(),
    });
    out.push_str(&match handling {
        0 => " It ships the day it arrives.".to_string(),
        1 => " It ships 1 working day later.".to_string(),
        n => format!(" It ships {n} working days later."),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_node_and_its_calendar() {
        let directory = NodeDirectory::from_json(
            r#"{ "nodes": [
                { "id": "DC-NJ", "kind": "dc", "lat": 40.5, "lon": -74.4, "country": "US",
                  "tags": ["hazmat"], "capacity": 500, "load": 20,
                  "timezone": "America/New_York", "cutoff": "14:00",
                  "holidays": ["2026-12-25"], "handling_days": 1 },
                { "id": "STORE-1", "kind": "store", "lat": 1, "lon": 2, "enabled": false } ] }"#,
        )
        .unwrap();
        insta::assert_snapshot!(directory.describe("DC-NJ").unwrap(), @r"
        **DC-NJ**: dc at 40.5, -74.4 (US)

        tags hazmat; 20 of 500 orders a day taken

        Calendar: America/New_York, works mon tue wed thu fri, closed 2026-12-25.

        An order placed before 14:00 (America/New_York) on a working day reaches the node that day; later, or on a day off, the next working day. It ships 1 working day later.
        ");
        insta::assert_snapshot!(directory.describe("STORE-1").unwrap(), @r"
        **STORE-1**: store at 1, 2

        switched off

        Calendar: UTC, works mon tue wed thu fri.

        An order placed on a working day reaches the node that day; on a day off, the next working day. It ships the day it arrives.
        ");
        assert_eq!(directory.describe("NOPE"), None);
        assert_eq!(NodeDirectory::from_json("[1, 2]"), None);
        assert_eq!(NodeDirectory::from_json("not json"), None);
    }
}
