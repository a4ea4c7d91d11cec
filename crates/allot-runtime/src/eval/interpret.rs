//! Evaluating [`Code`] in an [`Env`] (the world, the order, a line, a node, a
//! shipment), one node at a time, by recursion over the lowered expression: numbers and
//! truth values as plain `f64` and `bool`, the rest as [`V`]. Evaluation has no effects
//! beyond the `let` cache.

use super::world::{LetCache, ShipmentTotals, World};
use super::*;
use crate::order::{Line, Order};
use crate::value::Geo;
use std::borrow::Cow;

/// What a program can see.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    pub world: &'a World<'a>,
    pub tables: &'a [TableCode],
    pub order: Option<&'a Order>,
    pub line: Option<&'a Line>,
    pub node: Option<u32>,
    pub shipment: Option<&'a ShipmentTotals>,
    /// Safety stock of the current node for the current line.
    pub safety: i64,
}

/// The mutable part of an evaluation: the `let` cache, and a table's arguments.
pub(super) struct Frame<'c> {
    pub(super) cache: &'c mut LetCache,
    pub(super) lets: &'c [Code],
    pub(super) params: Params<'c>,
}

/// A table's arguments: values, or numbers when every argument is one.
#[derive(Clone, Copy)]
pub(super) enum Params<'c> {
    Values(&'c [V]),
    Numbers(&'c [f64]),
}

/// The most arguments a [`Expr::NumTable`] passes (on the stack).
pub(super) const MAX_NUM_ARGS: usize = 4;

fn member(a: &V, set: &V) -> bool {
    match set {
        V::Set(items) => items.iter().any(|i| i.same(a)),
        _ => false,
    }
}

impl Env<'_> {
    /// Whether a condition cannot hold at any node, as its parts that read only the order
    /// and the line show (computed here once): a false one that must hold, a membership in
    /// an empty set. `false` when that cannot be shown.
    pub fn holds_nowhere(&self, code: &Code, lets: &[Code]) -> bool {
        let mut frame = Frame {
            cache: &mut LetCache::default(),
            lets,
            params: Params::Values(&[]),
        };
        self.nowhere(&code.expr, &mut frame)
    }

    fn nowhere(&self, expr: &Expr, f: &mut Frame) -> bool {
        match expr {
            Expr::Const(v) => !v.as_bool(),
            Expr::Once(x) => !self.truth(x, f),
            Expr::And(pair) => self.nowhere(&pair[0], f) || self.nowhere(&pair[1], f),
            Expr::Or(pair) => self.nowhere(&pair[0], f) && self.nowhere(&pair[1], f),
            Expr::Compare(Compare::In, pair) => self.is_empty_once(&pair[1], f),
            _ => false,
        }
    }

    /// Whether `expr` is a set computed once ([`Expr::Once`]), and empty here.
    pub(super) fn is_empty_once(&self, expr: &Expr, f: &mut Frame) -> bool {
        match expr {
            Expr::Once(x) => matches!(&*self.value_ref(x, f), V::Set(items) if items.is_empty()),
            _ => false,
        }
    }

    /// Runs a condition.
    pub fn holds(&self, code: &Code, cache: &mut LetCache, lets: &[Code]) -> bool {
        let mut frame = Frame {
            cache,
            lets,
            params: Params::Values(&[]),
        };
        self.truth(&code.expr, &mut frame)
    }

    /// Runs a number.
    pub fn number(&self, code: &Code, cache: &mut LetCache, lets: &[Code]) -> f64 {
        let mut frame = Frame {
            cache,
            lets,
            params: Params::Values(&[]),
        };
        self.num(&code.expr, &mut frame)
    }

    fn per_node<'v, T>(&self, values: &'v [T]) -> Option<&'v T> {
        values.get(self.node? as usize)
    }

    pub(super) fn num(&self, expr: &Expr, f: &mut Frame) -> f64 {
        match expr {
            Expr::Const(V::Num(n)) => *n,
            Expr::PerNodeNum(values) => self.per_node(values).copied().unwrap_or(f64::NAN),
            Expr::ShipToKm => match (self.node, self.order) {
                (Some(node), Some(_)) => self.world.ship_to_km(node),
                _ => f64::NAN,
            },
            Expr::Shipment(attr) => {
                let s = self.shipment.copied().unwrap_or_default();
                match attr {
                    ShipmentAttr::Weight => s.weight,
                    ShipmentAttr::Units => s.units,
                    ShipmentAttr::Lines => s.lines,
                    ShipmentAttr::Value => s.value,
                }
            }
            Expr::Line(LineAttr::Price) => self.line.map_or(f64::NAN, |l| l.price),
            Expr::Line(LineAttr::Qty) => self.line.map_or(f64::NAN, |l| l.qty as f64),
            Expr::Line(LineAttr::Weight) => self.line.map_or(f64::NAN, |l| l.weight),
            Expr::Once(x) => self.num(x, f),
            Expr::Let(index) => self.let_value(*index, f).as_num(),
            Expr::Param(index) => match f.params {
                Params::Numbers(numbers) => numbers.get(*index).copied().unwrap_or(f64::NAN),
                Params::Values(values) => values.get(*index).map_or(f64::NAN, V::as_num),
            },
            Expr::Min(args) | Expr::Max(args) => {
                let min = matches!(expr, Expr::Min(_));
                let mut value: Option<f64> = None;
                for arg in args {
                    let x = self.num(arg, f);
                    value = Some(match value {
                        None => x,
                        Some(v) if min => v.min(x),
                        Some(v) => v.max(x),
                    });
                }
                value.unwrap_or(f64::NAN)
            }
            Expr::Abs(x) => self.num(x, f).abs(),
            Expr::Neg(x) => -self.num(x, f),
            Expr::WholeDays(x) => whole_days(self.num(x, f)),
            Expr::If(parts) => {
                if self.truth(&parts[0], f) {
                    self.num(&parts[1], f)
                } else {
                    self.num(&parts[2], f)
                }
            }
            Expr::Arith(op, pair) => {
                let a = self.num(&pair[0], f);
                op.apply(a, self.num(&pair[1], f))
            }
            Expr::ArithWith {
                op,
                x,
                constant,
                constant_first,
            } => {
                let x = self.num(x, f);
                if *constant_first {
                    op.apply(*constant, x)
                } else {
                    op.apply(x, *constant)
                }
            }
            Expr::Table(id, args) => self.table((*id, args, false), f, Env::num, f64::NAN),
            Expr::NumTable(id, args) => self.table((*id, args, true), f, Env::num, f64::NAN),
            _ => self.value(expr, f).as_num(),
        }
    }

    pub(super) fn truth(&self, expr: &Expr, f: &mut Frame) -> bool {
        match expr {
            Expr::Const(v) => v.as_bool(),
            Expr::PerNodeBool(values) => self.per_node(values).copied().unwrap_or(false),
            Expr::Not(x) => !self.truth(x, f),
            Expr::Once(x) => self.truth(x, f),
            Expr::And(pair) => self.truth(&pair[0], f) && self.truth(&pair[1], f),
            Expr::Or(pair) => self.truth(&pair[0], f) || self.truth(&pair[1], f),
            Expr::If(parts) => {
                if self.truth(&parts[0], f) {
                    self.truth(&parts[1], f)
                } else {
                    self.truth(&parts[2], f)
                }
            }
            Expr::Compare(op, pair) => match op {
                Compare::Lt => self.num(&pair[0], f) < self.num(&pair[1], f),
                Compare::LtEq => self.num(&pair[0], f) <= self.num(&pair[1], f),
                Compare::Gt => self.num(&pair[0], f) > self.num(&pair[1], f),
                Compare::GtEq => self.num(&pair[0], f) >= self.num(&pair[1], f),
                Compare::Eq | Compare::NotEq | Compare::In | Compare::NotIn => {
                    let a = self.value_ref(&pair[0], f);
                    let b = self.value_ref(&pair[1], f);
                    match op {
                        Compare::Eq => a.same(&b),
                        Compare::NotEq => !a.same(&b),
                        Compare::In => member(&a, &b),
                        _ => !member(&a, &b),
                    }
                }
            },
            Expr::CompareWith(op, x, c) => op.holds_with(self.num(x, f), *c),
            Expr::Let(index) => self.let_value(*index, f).as_bool(),
            _ => self.value(expr, f).as_bool(),
        }
    }

    pub(super) fn let_value(&self, index: usize, f: &mut Frame) -> V {
        if let Some(Some(v)) = f.cache.values.get(index) {
            return v.clone();
        }
        let Some(code) = f.lets.get(index) else {
            return V::Bool(false);
        };
        let v = self.value(&code.expr, f);
        if let Some(slot) = f.cache.values.get_mut(index) {
            *slot = Some(v.clone());
        }
        v
    }

    pub(super) fn value(&self, expr: &Expr, f: &mut Frame) -> V {
        match expr {
            Expr::Const(v) => v.clone(),
            Expr::PerNode(values) => self.per_node(values).cloned().unwrap_or(V::Bool(false)),
            Expr::PerNodeBool(values) => V::Bool(self.per_node(values).copied().unwrap_or(false)),
            Expr::PerNodeNum(values) => V::Num(self.per_node(values).copied().unwrap_or(f64::NAN)),
            Expr::Order(attr) => self.order_attr(*attr),
            Expr::Line(attr) => self.line_attr(*attr),
            Expr::Node(attr) => self.node_attr(*attr),
            Expr::Custom(owner, slot) => self.custom(*owner, *slot),
            Expr::Once(x) => self.value(x, f),
            Expr::Field(field, place) => {
                let place = self.value(place, f);
                let geo = self.geo(&place);
                V::Str(match field {
                    LocationField::Country => geo.country.clone(),
                    LocationField::Region => geo.region.clone(),
                    LocationField::PostalCode => geo.postal_code.clone(),
                })
            }
            Expr::CandidateNode => V::Node(self.node.unwrap_or(0)),
            Expr::Distance(pair) => {
                let a = self.value(&pair[0], f);
                let b = self.value(&pair[1], f);
                V::Num(self.geo(&a).distance_km(self.geo(&b)))
            }
            Expr::Available(pair) => {
                let node = self.value(&pair[0], f);
                let sku = self.value(&pair[1], f);
                V::Num(self.available(&node, &sku) as f64)
            }
            Expr::Need(pair) => {
                let node = self.value(&pair[0], f);
                let sku = self.value(&pair[1], f);
                V::Num(self.need(&node, &sku) as f64)
            }
            Expr::Let(index) => self.let_value(*index, f),
            Expr::Param(index) => match f.params {
                Params::Numbers(numbers) => {
                    numbers.get(*index).map_or(V::Bool(false), |&n| V::Num(n))
                }
                Params::Values(values) => values.get(*index).cloned().unwrap_or(V::Bool(false)),
            },
            Expr::Table(id, args) => {
                self.table((*id, args, false), f, Env::value, V::Num(f64::NAN))
            }
            Expr::NumTable(id, args) => {
                self.table((*id, args, true), f, Env::value, V::Num(f64::NAN))
            }
            Expr::List(items) => V::Set(items.iter().map(|i| self.value(i, f)).collect()),
            Expr::If(parts) => {
                if self.truth(&parts[0], f) {
                    self.value(&parts[1], f)
                } else {
                    self.value(&parts[2], f)
                }
            }
            Expr::Not(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Compare(..)
            | Expr::CompareWith(..) => V::Bool(self.truth(expr, f)),
            Expr::ShipToKm
            | Expr::Shipment(_)
            | Expr::Min(_)
            | Expr::Max(_)
            | Expr::Abs(_)
            | Expr::WholeDays(_)
            | Expr::Neg(_)
            | Expr::Arith(..)
            | Expr::ArithWith { .. } => V::Num(self.num(expr, f)),
        }
    }

    /// A table's value, read by `read` (as a number, or as a value): the first row
    /// whose condition holds for the arguments; `missing` when none does. With
    /// `numbers` ([`Expr::NumTable`]) the arguments are passed as plain numbers.
    fn table<T>(
        &self,
        (id, args, numbers): (usize, &[Expr], bool),
        f: &mut Frame,
        read: fn(&Self, &Expr, &mut Frame) -> T,
        missing: T,
    ) -> T {
        if numbers {
            let mut numbers = [0.0; MAX_NUM_ARGS];
            for (number, arg) in numbers.iter_mut().zip(args) {
                *number = self.num(arg, f);
            }
            return self.rows(id, Params::Numbers(&numbers[..args.len()]), read, missing);
        }
        // One argument (`category_surcharge(line.item.category)`) needs no collection.
        if let [arg] = args {
            let value = [self.value(arg, f)];
            return self.rows(id, Params::Values(&value), read, missing);
        }
        let values: smallvec::SmallVec<[V; 4]> = args.iter().map(|a| self.value(a, f)).collect();
        self.rows(id, Params::Values(&values), read, missing)
    }

    /// The first row of table `id` whose condition holds for `params`, read by `read`.
    pub(super) fn rows<T>(
        &self,
        id: usize,
        params: Params,
        read: fn(&Self, &Expr, &mut Frame) -> T,
        missing: T,
    ) -> T {
        let Some(table) = self.tables.get(id) else {
            return missing;
        };
        let env = Env {
            order: None,
            line: None,
            node: None,
            shipment: None,
            ..*self
        };
        let mut cache = LetCache::default();
        let mut frame = Frame {
            cache: &mut cache,
            lets: &[],
            params,
        };
        if let (Some(thresholds), Params::Numbers(numbers)) = (&table.thresholds, params) {
            for (threshold, (_, value)) in thresholds.iter().zip(&table.rows) {
                if TableCode::row_holds(*threshold, numbers) {
                    return read(&env, &value.expr, &mut frame);
                }
            }
            return missing;
        }
        for (condition, value) in &table.rows {
            let matches = match condition {
                None => true,
                Some(c) => env.truth(&c.expr, &mut frame),
            };
            if matches {
                return read(&env, &value.expr, &mut frame);
            }
        }
        missing
    }

    fn geo(&self, place: &V) -> &Geo {
        let nodes = &self.world.network.nodes;
        match place {
            V::Node(n) | V::Place(Place::Node(n)) => &nodes[*n as usize].geo,
            _ => match self.order {
                Some(order) => &order.ship_to,
                None => &nodes[0].geo,
            },
        }
    }

    /// Units a node can promise for a SKU: after reservations, this batch, and safety stock.
    fn available(&self, node: &V, sku: &V) -> i64 {
        let (V::Node(node), V::Str(sku)) = (node, sku) else {
            return 0;
        };
        let Some(&item) = self.world.network.sku_index.get(sku) else {
            return 0;
        };
        let safety = match self.line {
            Some(line) if line.item == item => self.safety,
            _ => 0,
        };
        (self.world.free_stock(item, *node) - safety).max(0)
    }

    /// What the node is short of its target for the SKU (0 without one).
    fn need(&self, node: &V, sku: &V) -> i64 {
        let (V::Node(node), V::Str(sku)) = (node, sku) else {
            return 0;
        };
        let Some(&item) = self.world.network.sku_index.get(sku) else {
            return 0;
        };
        match self.world.network.stock_position(item, *node) {
            Some(at) => match self.world.network.stock[item as usize][at].target {
                0 => 0,
                target => (target - self.world.free_stock_at(item, at as u32)).max(0),
            },
            None => 0,
        }
    }

    fn order_attr(&self, attr: OrderAttr) -> V {
        use OrderAttr as A;
        let Some(order) = self.order else {
            return V::Bool(false);
        };
        match attr {
            A::Id => V::Str(order.id.clone()),
            A::Channel => V::Str(order.channel.clone()),
            A::Method => V::Enum(order.method),
            A::Service => V::Enum(order.service),
            A::ShipTo => V::Place(Place::ShipTo),
            A::PickupNode => V::Str(order.pickup_node.clone()),
            A::Value => V::Num(order.value),
            A::Tags => V::Set(order.tags.clone()),
            A::Lines => V::Num(order.lines.len() as f64),
            A::PromisedBy => V::Num(order.promised_by.map_or(f64::NAN, f64::from)),
            A::Reason => V::Str(order.reason.clone()),
        }
    }

    fn line_attr(&self, attr: LineAttr) -> V {
        use LineAttr as A;
        let Some(line) = self.line else {
            return V::Bool(false);
        };
        match attr {
            A::Id => V::Str(line.id.clone()),
            A::Sku => V::Str(line.sku.clone()),
            A::Qty => V::Num(line.qty as f64),
            A::Price => V::Num(line.price),
            A::Weight => V::Num(line.weight),
            A::Condition => V::Enum(line.condition),
        }
    }

    fn node_attr(&self, attr: NodeAttr) -> V {
        match self.node {
            Some(index) => self.node_attr_at(attr, index),
            None => V::Bool(false),
        }
    }

    pub(super) fn node_attr_at(&self, attr: NodeAttr, index: u32) -> V {
        let node = &self.world.network.nodes[index as usize];
        match attr {
            NodeAttr::Id => V::Str(node.id.clone()),
            NodeAttr::Kind => V::Enum(node.kind),
            NodeAttr::Location => V::Place(Place::Node(index)),
            NodeAttr::Enabled => V::Bool(node.enabled),
            NodeAttr::Priority => V::Num(node.priority),
            NodeAttr::Tags => V::Set(node.tags.clone()),
            NodeAttr::Capacity => V::Num(node.capacity.unwrap_or(f64::INFINITY)),
            NodeAttr::Load => V::Num(self.world.load[index as usize]),
            NodeAttr::Utilization => V::Num(self.world.utilization[index as usize]),
            NodeAttr::HandlingCost => V::Num(node.handling_cost),
            NodeAttr::PickCost => V::Num(node.pick_cost),
            NodeAttr::HandlingDays => V::Num(f64::from(
                self.world.network.calendars[node.calendar as usize].handling_days,
            )),
            NodeAttr::ShipDate | NodeAttr::ShipDays | NodeAttr::ShipBusinessDays => {
                V::Num(match self.world.ship_times(index) {
                    Some(times) => f64::from(match attr {
                        NodeAttr::ShipDate => times.ship_day,
                        NodeAttr::ShipDays => times.ship_days,
                        _ => times.business_days,
                    }),
                    None => f64::NAN,
                })
            }
        }
    }

    /// The value of `expr`, borrowed where it is stored (a constant, a value computed at
    /// load, a custom attribute): comparing strings and sets then copies nothing, not
    /// even a shared pointer, whose count is an atomic operation.
    fn value_ref<'e>(&'e self, expr: &'e Expr, f: &mut Frame) -> Cow<'e, V> {
        let stored = match expr {
            Expr::Const(v) => Some(v),
            Expr::PerNode(values) => self.per_node(values),
            Expr::Custom(owner, slot) => self.custom_ref(*owner, *slot),
            Expr::Once(x) => return self.value_ref(x, f),
            _ => return Cow::Owned(self.value(expr, f)),
        };
        stored.map_or(Cow::Owned(V::Bool(false)), Cow::Borrowed)
    }

    fn custom(&self, owner: Owner, slot: usize) -> V {
        self.custom_ref(owner, slot)
            .cloned()
            .unwrap_or(V::Bool(false))
    }

    fn custom_ref(&self, owner: Owner, slot: usize) -> Option<&V> {
        let values = match owner {
            Owner::Order => self.order.map(|o| &o.custom),
            Owner::Node => self
                .node
                .map(|n| &self.world.network.nodes[n as usize].custom),
            Owner::Item => self
                .line
                .map(|l| &self.world.network.items[l.item as usize].custom),
        };
        values.and_then(|v| v.get(slot))
    }
}

/// A duration in minutes as whole days, rounded up; a negative one is no days.
pub(crate) fn whole_days(minutes: f64) -> f64 {
    (minutes / 1440.0).ceil().max(0.0)
}
