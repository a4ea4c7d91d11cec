//! What `allot check --network` compares rules against: the values of a network
//! snapshot, read from its JSON (see docs/data.md).

use crate::route::{Failure, load_network, read_text};
use allot_check::Model;
use allot_check::master_data::{MasterData, Observed, check_master_data};
use allot_diagnostics::{Diagnostic, Sources};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A network file, read once and checked against each ruleset.
pub struct NetworkFile {
    path: PathBuf,
    text: String,
    data: MasterData,
}

impl NetworkFile {
    pub fn read(path: &Path) -> Result<NetworkFile, Failure> {
        let text = read_text(path)?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::usage(format!("{}: not valid JSON: {e}", path.display())))?;
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into(),
        );
        Ok(NetworkFile {
            path: path.to_path_buf(),
            data: master_data(file, &value),
            text,
        })
    }

    /// The warnings of a ruleset that checks without errors against this network.
    /// The network is first validated against the ruleset's plan, as `allot route`
    /// would load it: a record it refuses ends the command.
    pub fn check(&self, model: &Model, sources: &Sources) -> Result<Vec<Diagnostic>, Failure> {
        let plan = allot_compile::compile(model, sources);
        load_network(&self.text, &self.path, &plan)?;
        Ok(check_master_data(model, &self.data))
    }
}

fn master_data(file: String, network: &Value) -> MasterData {
    let records = |key: &str| -> &[Value] {
        network
            .get(key)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    };
    let nodes = records("nodes");
    let items = records("items");
    let strings = |records: &[Value], field: &str| -> BTreeSet<String> {
        records
            .iter()
            .flat_map(|r| strings_of(r.get(field)))
            .collect()
    };
    MasterData {
        file,
        nodes: nodes.len(),
        items: items.len(),
        node_ids: strings(nodes, "id"),
        node_kinds: strings(nodes, "kind"),
        node_tags: strings(nodes, "tags"),
        node_countries: strings(nodes, "country"),
        node_regions: strings(nodes, "region"),
        node_postal_codes: strings(nodes, "postal_code"),
        skus: strings(items, "sku"),
        node_attributes: attributes(nodes),
        item_attributes: attributes(items),
    }
}

/// A string, or the strings of a list; nothing for other values.
fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(elements)) => elements
            .iter()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn attributes(records: &[Value]) -> BTreeMap<String, Observed> {
    let mut observed: BTreeMap<String, Observed> = BTreeMap::new();
    for attributes in records
        .iter()
        .filter_map(|r| r.get("attributes")?.as_object())
    {
        for (name, value) in attributes {
            let entry = observed.entry(name.clone()).or_default();
            entry.records += 1;
            entry.strings.extend(strings_of(Some(value)));
        }
    }
    observed
}
