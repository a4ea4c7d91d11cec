//! The network snapshot: nodes, the item catalog and inventory, validated and indexed
//! at load.

use crate::calendar::Calendar;
use crate::node_set::NodeSet;
use crate::record::{DataError, INTEGER_LIMIT, Record, custom_attributes, describe};
use crate::value::{Geo, V};
use allot_plan::{Owner, Plan};
use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Node {
    pub id: Arc<str>,
    /// Variant of `NodeKind`.
    pub kind: u32,
    pub geo: Geo,
    pub enabled: bool,
    pub priority: f64,
    pub tags: Arc<[V]>,
    /// Orders per day; `None` when the data gives none (no capacity limit).
    pub capacity: Option<f64>,
    /// Orders taken today, as loaded.
    pub load: f64,
    pub handling_cost: f64,
    pub pick_cost: f64,
    /// Custom node attributes, in the order of [`Schema::node`].
    pub custom: Vec<V>,
    /// The node's working calendar: an index into [`Network::calendars`].
    pub calendar: u32,
    /// Which returned items the node receives.
    pub returns: Returns,
}

/// Which returned items a node receives (`returns` in its data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Returns {
    /// The SKUs it has an inventory entry for (the default).
    #[default]
    Carried,
    /// Any SKU: a returns centre, a refurbishment or liquidation site.
    All,
    /// None.
    None,
}

/// The `NodeKind` variant of digital nodes (see the built-in enums of the plan).
pub const DIGITAL: u32 = 5;

impl Node {
    pub fn is_digital(&self) -> bool {
        self.kind == DIGITAL
    }
}

#[derive(Clone, Debug)]
pub struct Item {
    pub sku: Arc<str>,
    /// Unit weight in kg.
    pub weight: f64,
    pub custom: Vec<V>,
}

/// Stock of one SKU at one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stock {
    pub node: u32,
    pub on_hand: i64,
    pub reserved: i64,
    /// The units the node aims to hold (`need` reads the shortfall); 0 without a target.
    pub target: i64,
}

/// Where each custom attribute lives: its index among its owner's attributes.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// Plan attribute index → slot in its owner's `custom` vector.
    pub slot: Vec<usize>,
    pub order: Vec<usize>,
    pub node: Vec<usize>,
    pub item: Vec<usize>,
}

impl Schema {
    pub fn new(plan: &Plan) -> Schema {
        let mut schema = Schema::default();
        for (index, attribute) in plan.attributes.iter().enumerate() {
            let owner = match attribute.owner {
                Owner::Order => &mut schema.order,
                Owner::Node => &mut schema.node,
                Owner::Item => &mut schema.item,
            };
            schema.slot.push(owner.len());
            owner.push(index);
        }
        schema
    }
}

#[derive(Clone, Debug)]
pub struct Network {
    pub currency: String,
    pub nodes: Vec<Node>,
    /// The distinct working calendars of the nodes (see [`Node::calendar`]).
    pub calendars: Vec<Calendar>,
    pub node_index: HashMap<Arc<str>, u32>,
    pub items: Vec<Item>,
    pub sku_index: HashMap<Arc<str>, u32>,
    /// For each SKU (by index), its stock at each node, sorted by node.
    pub stock: Vec<Vec<Stock>>,
    /// For each SKU stocked at many nodes, its stocking nodes as a set, which gives a
    /// node's position in the stock list at once (a search takes a step per halving).
    stockists: Vec<Option<NodeSet>>,
}

/// From how many stocking nodes a SKU's are also kept as a set.
const STOCKISTS_AS_SET: usize = 32;

fn top_error(message: impl Into<String>) -> DataError {
    DataError {
        record: "network".into(),
        field: None,
        message: message.into(),
    }
}

impl Network {
    /// Parses and validates a network snapshot (JSON) for a plan.
    pub fn from_json(text: &str, plan: &Plan) -> Result<Network, DataError> {
        // The inventory, most of a network's text, is read entry by entry without a JSON
        // tree for each (see `StockText`). When the text is not an object with a list of
        // inventory entries, the general path below gives the precise error.
        if let Ok(mut parts) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text)
            && let Some(inventory) = parts.remove("inventory")
            && let Ok(entries) = serde_json::from_str::<Vec<&RawValue>>(inventory.get())
            && let Ok(rest) = (parts.into_iter())
                .map(|(key, raw)| Ok((key, serde_json::from_str(raw.get())?)))
                .collect::<Result<serde_json::Map<String, Value>, serde_json::Error>>()
        {
            return Network::read(&Value::Object(rest), Some(&entries), plan);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| top_error(format!("not valid JSON: {e}")))?;
        Network::from_value(&value, plan)
    }

    pub fn from_value(value: &Value, plan: &Plan) -> Result<Network, DataError> {
        Network::read(value, None, plan)
    }

    /// Reads a network; `inventory` holds the text of each inventory entry when `value`
    /// leaves them out.
    fn read(
        value: &Value,
        inventory: Option<&[&RawValue]>,
        plan: &Plan,
    ) -> Result<Network, DataError> {
        let schema = Schema::new(plan);
        let root = Record::new("network".into(), value)?;
        let currency = root.required_string("currency")?;
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(root.error(
                "currency",
                format!("expected an ISO 4217 code such as \"USD\", found \"{currency}\""),
            ));
        }
        if let Some(used) = &plan.currency
            && used != currency
        {
            return Err(root.error(
                "currency",
                format!("the network is in {currency}, but the ruleset's amounts are in {used}"),
            ));
        }
        let declared = |indices: &[usize]| -> Vec<(usize, &allot_plan::AttributeInfo)> {
            indices.iter().map(|&i| (i, &plan.attributes[i])).collect()
        };
        let node_attrs = declared(&schema.node);
        let item_attrs = declared(&schema.item);
        let kinds = &plan.enums[0].variants;

        let mut nodes = Vec::new();
        let mut node_index: HashMap<Arc<str>, u32> = HashMap::default();
        let mut calendars: Vec<Calendar> = Vec::new();
        for (i, value) in root
            .array("nodes")?
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let mut record = Record::new(format!("nodes[{i}]"), value)?;
            let id = record.required_string("id")?;
            record.name = format!("nodes[{i}] \"{id}\"");
            let kind_name = record.required_string("kind")?;
            let kind = kinds.iter().position(|k| k == kind_name).ok_or_else(|| {
                record.error(
                    "kind",
                    format!(
                        "unknown kind \"{kind_name}\": expected one of {}",
                        kinds.join(", ")
                    ),
                )
            })? as u32;
            let capacity = match record.number("capacity")? {
                None => None,
                Some(_) => Some(record.integer("capacity", 1, None)? as f64),
            };
            let returns = match record.string("returns")? {
                None | Some("carried") => Returns::Carried,
                Some("all") => Returns::All,
                Some("none") => Returns::None,
                Some(other) => {
                    return Err(record.error(
                        "returns",
                        format!("expected \"carried\", \"all\" or \"none\", found \"{other}\""),
                    ));
                }
            };
            let calendar = Calendar::read(&record)?;
            let calendar = match calendars.iter().position(|c| *c == calendar) {
                Some(same) => same,
                None => {
                    calendars.push(calendar);
                    calendars.len() - 1
                }
            } as u32;
            let node = Node {
                id: Arc::from(id),
                kind,
                geo: record.geo()?,
                enabled: record.boolean("enabled", true)?,
                priority: record.integer("priority", i64::MIN, Some(1))? as f64,
                tags: record.strings("tags")?,
                capacity,
                load: record.integer("load", 0, Some(0))? as f64,
                handling_cost: record.number_in("handling_cost", 0.0, f64::INFINITY, Some(0.0))?,
                pick_cost: record.number_in("pick_cost", 0.0, f64::INFINITY, Some(0.0))?,
                custom: custom_attributes(&record, &node_attrs, &plan.enums)?,
                calendar,
                returns,
            };
            if node_index
                .insert(node.id.clone(), nodes.len() as u32)
                .is_some()
            {
                return Err(record.error("id", format!("duplicate node id \"{id}\"")));
            }
            nodes.push(node);
        }

        let mut items = Vec::new();
        let mut sku_index: HashMap<Arc<str>, u32> = HashMap::default();
        for (i, value) in root
            .array("items")?
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let mut record = Record::new(format!("items[{i}]"), value)?;
            let sku = record.required_string("sku")?;
            record.name = format!("items[{i}] \"{sku}\"");
            let item = Item {
                sku: Arc::from(sku),
                weight: record.number_in("weight", 0.0, f64::INFINITY, Some(0.0))?,
                custom: custom_attributes(&record, &item_attrs, &plan.enums)?,
            };
            if sku_index
                .insert(item.sku.clone(), items.len() as u32)
                .is_some()
            {
                return Err(record.error("sku", format!("duplicate SKU \"{sku}\"")));
            }
            items.push(item);
        }

        let mut stock: Vec<Vec<Stock>> = vec![Vec::new(); items.len()];
        let entries = match inventory {
            Some(texts) => Entries::Text(texts),
            None => Entries::Values(
                root.array("inventory")?
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
        };
        let indexes = (&node_index, &sku_index);
        for i in 0..entries.len() {
            let plain = match entries {
                Entries::Text(texts) => StockText::read(texts[i], indexes),
                Entries::Values(_) => None,
            };
            let (item, entry) = match plain {
                Some(read) => read,
                None => stock_entry(i, &*entries.value(i)?, indexes)?,
            };
            stock[item as usize].push(entry);
        }
        for list in &mut stock {
            list.sort_by_key(|s| s.node);
        }
        // Sorted, a SKU's entries at one node are neighbours; which entry repeats an
        // earlier one is found again in the input only then.
        if stock
            .iter()
            .any(|list| list.windows(2).any(|pair| pair[0].node == pair[1].node))
        {
            return Err(first_repeated_entry(entries));
        }
        for key in value
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if !["currency", "nodes", "items", "inventory"].contains(&key.as_str()) {
                return Err(top_error(format!(
                    "unknown field `{key}` (expected currency, nodes, items, inventory; value {})",
                    describe(&value[key])
                )));
            }
        }
        let mut network = Network {
            currency: currency.to_string(),
            nodes,
            calendars,
            node_index,
            items,
            sku_index,
            stock,
            stockists: Vec::new(),
        };
        network.index_stockists_from(STOCKISTS_AS_SET);
        Ok(network)
    }

    /// Replaces the inventory with `entries` (item, stock), as a store of record holds
    /// it. Entries must name items and nodes of this network, each pair once.
    pub fn set_inventory(&mut self, entries: impl IntoIterator<Item = (u32, Stock)>) {
        let mut stock: Vec<Vec<Stock>> = vec![Vec::new(); self.items.len()];
        for (item, entry) in entries {
            stock[item as usize].push(entry);
        }
        for list in &mut stock {
            list.sort_by_key(|s| s.node);
        }
        self.stock = stock;
        self.index_stockists_from(STOCKISTS_AS_SET);
    }

    /// Keeps the stockists of every SKU stocked at `len` nodes or more as a set
    /// ([`Network::from_json`] does so from 32): the same decisions, found faster on
    /// large networks. Tests use 1 to take that way on small ones.
    pub fn index_stockists_from(&mut self, len: usize) {
        self.stockists = (self.stock.iter())
            .map(|list| (list.len() >= len).then(|| NodeSet::new(list.iter().map(|s| s.node))))
            .collect();
    }

    /// The nodes that stock `item`, as a set, when they are many.
    pub(crate) fn stockists(&self, item: u32) -> Option<&NodeSet> {
        self.stockists.get(item as usize)?.as_ref()
    }

    /// The position of `node` in the stock list of `item`, if it stocks it.
    pub fn stock_position(&self, item: u32, node: u32) -> Option<usize> {
        match self.stockists.get(item as usize) {
            Some(Some(set)) => set.position(node),
            _ => (self.stock.get(item as usize)?)
                .binary_search_by_key(&node, |s| s.node)
                .ok(),
        }
    }
}

/// A network's inventory entries: JSON values, or the text of each.
#[derive(Clone, Copy)]
enum Entries<'a> {
    Values(&'a [Value]),
    Text(&'a [&'a RawValue]),
}

impl<'a> Entries<'a> {
    fn len(&self) -> usize {
        match self {
            Entries::Values(values) => values.len(),
            Entries::Text(texts) => texts.len(),
        }
    }

    /// The `i`-th entry as a JSON value.
    fn value(&self, i: usize) -> Result<Cow<'a, Value>, DataError> {
        match self {
            Entries::Values(values) => Ok(Cow::Borrowed(&values[i])),
            Entries::Text(texts) => serde_json::from_str(texts[i].get())
                .map(Cow::Owned)
                .map_err(|e| DataError {
                    record: format!("inventory[{i}]"),
                    field: None,
                    message: format!("not valid JSON: {e}"),
                }),
        }
    }
}

/// An inventory entry in its plain form (no other field, whole numbers, known node and
/// SKU, amounts in range), read straight from its text. Any other entry is read as a
/// JSON value and checked field by field, which names what is wrong.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockText<'a> {
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    sku: Cow<'a, str>,
    on_hand: i64,
    #[serde(default)]
    reserved: i64,
    #[serde(default)]
    target: i64,
}

type Indexes<'i> = (&'i HashMap<Arc<str>, u32>, &'i HashMap<Arc<str>, u32>);

impl StockText<'_> {
    fn read(raw: &RawValue, (nodes, skus): Indexes) -> Option<(u32, Stock)> {
        let text: StockText = serde_json::from_str(raw.get()).ok()?;
        let in_range = |n: i64| (0..=INTEGER_LIMIT).contains(&n);
        if !(in_range(text.on_hand) && in_range(text.reserved) && in_range(text.target)) {
            return None;
        }
        let stock = Stock {
            node: *nodes.get(text.node.as_ref())?,
            on_hand: text.on_hand,
            reserved: text.reserved,
            target: text.target,
        };
        Some((*skus.get(text.sku.as_ref())?, stock))
    }
}

/// The `i`-th inventory entry, checked: its item and its stock.
fn stock_entry(i: usize, value: &Value, (nodes, skus): Indexes) -> Result<(u32, Stock), DataError> {
    let record = Record::new(format!("inventory[{i}]"), value)?;
    let node_id = record.required_string("node")?;
    let sku = record.required_string("sku")?;
    let node = *nodes
        .get(node_id)
        .ok_or_else(|| record.error("node", format!("unknown node \"{node_id}\"")))?;
    let item = *skus.get(sku).ok_or_else(|| {
        record.error(
            "sku",
            format!("unknown SKU \"{sku}\": it is not in `items`"),
        )
    })?;
    let entry = Stock {
        node,
        on_hand: record.integer("on_hand", 0, None)?,
        reserved: record.integer("reserved", 0, Some(0))?,
        target: record.integer("target", 0, Some(0))?,
    };
    Ok((item, entry))
}

/// The error for the first inventory entry that repeats an earlier one's SKU and node.
fn first_repeated_entry(entries: Entries) -> DataError {
    let mut seen = std::collections::HashSet::new();
    let mut find = || -> Result<Option<DataError>, DataError> {
        for i in 0..entries.len() {
            let value = entries.value(i)?;
            let record = Record::new(format!("inventory[{i}]"), &value)?;
            let (node_id, sku) = (
                record.required_string("node")?,
                record.required_string("sku")?,
            );
            if !seen.insert((node_id.to_string(), sku.to_string())) {
                return Ok(Some(record.error(
                    "sku",
                    format!("a second entry for \"{sku}\" at \"{node_id}\""),
                )));
            }
        }
        Ok(None)
    };
    match find() {
        Ok(Some(error)) | Err(error) => error,
        Ok(None) => top_error("an inventory entry repeats another's SKU and node"),
    }
}
