//! The stack machine that runs compiled programs.

use crate::network::{Network, Schema};
use crate::order::{Line, Order};
use crate::value::{Place, V};
use allot_plan::{Level, LocationField, NodeAttr, Op, Owner, Program};
use std::cell::Cell;
use std::sync::Arc;

/// A program ready to run: its constants converted once, and — for programs that
/// depend on the node alone — its value for every node, computed at load.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    pub ops: Box<[Op]>,
    /// `consts[i]` is the value pushed by `ops[i]` when that is a `Push`.
    consts: Box<[Option<V>]>,
    pub level: Level,
    per_node: Option<Box<[V]>>,
    shortcut: Shortcut,
}

/// The tiny programs tables are made of, run without the machine: rows are mostly a
/// parameter compared with a number (`d < 150 km`) giving a constant (`6.50 USD`).
#[derive(Clone, Debug)]
enum Shortcut {
    None,
    Constant(V),
    /// Table parameter `param` compared with `value` by `op` (a comparison or `in`).
    Compare {
        param: usize,
        op: Op,
        value: V,
    },
}

impl Code {
    pub fn new(program: &Program) -> Code {
        Code {
            consts: program
                .ops
                .iter()
                .map(|op| match op {
                    Op::Push(literal) => Some(V::from_literal(literal)),
                    _ => None,
                })
                .collect(),
            ops: program.ops.clone().into_boxed_slice(),
            level: program.level(),
            per_node: None,
            shortcut: match program.ops.as_slice() {
                [Op::Push(literal)] => Shortcut::Constant(V::from_literal(literal)),
                [Op::Param(param), Op::Push(literal), op]
                    if matches!(
                        op,
                        Op::Eq
                            | Op::NotEq
                            | Op::Lt
                            | Op::LtEq
                            | Op::Gt
                            | Op::GtEq
                            | Op::In
                            | Op::NotIn
                    ) =>
                {
                    Shortcut::Compare {
                        param: *param as usize,
                        op: op.clone(),
                        value: V::from_literal(literal),
                    }
                }
                _ => Shortcut::None,
            },
        }
    }

    /// Evaluates a node-level program for every node, once; `lets` are its policy's.
    pub fn precompute_per_node(&mut self, world: &World, tables: &[TableCode], lets: &[Code]) {
        if self.level != Level::Node {
            return;
        }
        let mut stack = Vec::new();
        let values = (0..world.network.nodes.len() as u32)
            .map(|node| {
                let env = Env {
                    world,
                    tables,
                    order: None,
                    line: None,
                    node: Some(node),
                    shipment: None,
                    safety: 0,
                };
                env.run(self, &mut LetCache::new(lets.len()), lets, &mut stack)
            })
            .collect();
        self.per_node = Some(values);
    }
}

impl Code {
    /// The value computed at load for a node-level program.
    pub fn value_at(&self, node: u32) -> Option<&V> {
        self.per_node
            .as_ref()
            .and_then(|values| values.get(node as usize))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct TableCode {
    pub params: usize,
    pub rows: Vec<(Option<Code>, Code)>,
}

/// The network and what routing has taken from it so far.
pub(crate) struct World<'a> {
    pub network: &'a Network,
    pub schema: &'a Schema,
    /// Per node: orders taken (the loaded load plus shipments made in this batch).
    pub load: &'a [f64],
    /// Parallel to `network.stock`: units taken in this batch.
    pub taken: &'a [Vec<i64>],
    /// Per node, its distance to the order's ship-to once computed (NaN before): rules,
    /// guards and every shipment's costs ask for it again and again.
    pub ship_to_km: Box<[Cell<f64>]>,
}

impl<'a> World<'a> {
    pub fn new(
        network: &'a Network,
        schema: &'a Schema,
        load: &'a [f64],
        taken: &'a [Vec<i64>],
    ) -> World<'a> {
        World {
            network,
            schema,
            load,
            taken,
            ship_to_km: (0..network.nodes.len())
                .map(|_| Cell::new(f64::NAN))
                .collect(),
        }
    }

    /// The distance from a node to the order's ship-to, computed once per order.
    pub fn ship_to_km(&self, node: u32, order: &Order) -> f64 {
        let cell = &self.ship_to_km[node as usize];
        if cell.get().is_nan() {
            cell.set(
                self.network.nodes[node as usize]
                    .geo
                    .distance_km(&order.ship_to),
            );
        }
        cell.get()
    }

    /// on_hand − reserved − taken, before safety stock.
    pub fn free_stock(&self, item: u32, node: u32) -> i64 {
        let list = &self.network.stock[item as usize];
        match list.binary_search_by_key(&node, |s| s.node) {
            Ok(i) => {
                let s = list[i];
                s.on_hand - s.reserved - self.taken[item as usize][i]
            }
            Err(_) => 0,
        }
    }
}

/// The totals of one shipment, for `shipment.*`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShipmentTotals {
    pub weight: f64,
    pub units: f64,
    pub lines: f64,
    pub value: f64,
}

/// Cached `let` values of the policy being evaluated; cleared as the context moves.
#[derive(Clone, Debug, Default)]
pub(crate) struct LetCache {
    values: Vec<Option<V>>,
}

impl LetCache {
    pub fn new(lets: usize) -> LetCache {
        LetCache {
            values: vec![None; lets],
        }
    }

    /// Forgets the values of the `let`s whose level `stale` says changed.
    pub fn forget(&mut self, lets: &[Code], stale: impl Fn(Level) -> bool) {
        for (value, code) in self.values.iter_mut().zip(lets) {
            if stale(code.level) {
                *value = None;
            }
        }
    }
}

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

fn num(v: V) -> f64 {
    v.as_num()
}

/// `a op b` for a comparison or membership `op`.
#[inline]
fn compare(op: &Op, a: &V, b: &V) -> bool {
    let member = || match b {
        V::Set(items) => items.iter().any(|i| i.same(a)),
        _ => false,
    };
    match op {
        Op::In => member(),
        Op::NotIn => !member(),
        Op::Eq => a.same(b),
        Op::NotEq => !a.same(b),
        Op::Lt => a.as_num() < b.as_num(),
        Op::LtEq => a.as_num() <= b.as_num(),
        Op::Gt => a.as_num() > b.as_num(),
        _ => a.as_num() >= b.as_num(),
    }
}

impl Env<'_> {
    /// Runs `code`; `lets` are the policy's `let`s.
    pub fn run(&self, code: &Code, cache: &mut LetCache, lets: &[Code], stack: &mut Vec<V>) -> V {
        self.run_at(code, cache, lets, None, stack)
    }

    /// Runs `code`; a table's arguments are on `stack` from index `params` on, so that a
    /// call copies nothing.
    fn run_at(
        &self,
        code: &Code,
        cache: &mut LetCache,
        lets: &[Code],
        params: Option<usize>,
        stack: &mut Vec<V>,
    ) -> V {
        if let (Some(values), Some(node)) = (&code.per_node, self.node) {
            return values[node as usize].clone();
        }
        match &code.shortcut {
            Shortcut::None => {}
            Shortcut::Constant(value) => return value.clone(),
            Shortcut::Compare { param, op, value } => {
                if let Some(arg) = params.and_then(|base| stack.get(base + param)) {
                    return V::Bool(compare(op, arg, value));
                }
            }
        }
        let base = stack.len();
        let mut pc = 0;
        while pc < code.ops.len() {
            let op = &code.ops[pc];
            pc += 1;
            let value = match op {
                Op::Push(_) => code.consts[pc - 1].clone().expect("constant"),
                Op::Order(attr) => self.order_attr(*attr),
                Op::Line(attr) => self.line_attr(*attr),
                Op::Node(attr) => self.node_attr(*attr),
                Op::Shipment(attr) => {
                    let s = self.shipment.copied().unwrap_or_default();
                    V::Num(match attr {
                        allot_plan::ShipmentAttr::Weight => s.weight,
                        allot_plan::ShipmentAttr::Units => s.units,
                        allot_plan::ShipmentAttr::Lines => s.lines,
                        allot_plan::ShipmentAttr::Value => s.value,
                    })
                }
                Op::Custom(owner, index) => self.custom(*owner, *index as usize),
                Op::Field(field) => {
                    let place = stack.pop().expect("operand");
                    let geo = self.geo(&place);
                    V::Str(match field {
                        LocationField::Country => geo.country.clone(),
                        LocationField::Region => geo.region.clone(),
                        LocationField::PostalCode => geo.postal_code.clone(),
                    })
                }
                Op::CandidateNode => V::Node(self.node.unwrap_or(0)),
                Op::Let(index) => {
                    let index = *index as usize;
                    match cache.values.get(index).cloned().flatten() {
                        Some(v) => v,
                        None => {
                            let v = self.run_at(&lets[index], cache, lets, params, stack);
                            if let Some(slot) = cache.values.get_mut(index) {
                                *slot = Some(v.clone());
                            }
                            v
                        }
                    }
                }
                Op::Param(index) => params
                    .and_then(|base| stack.get(base + *index as usize))
                    .cloned()
                    .unwrap_or(V::Bool(false)),
                Op::Distance => {
                    let b = stack.pop().expect("operand");
                    let a = stack.pop().expect("operand");
                    V::Num(self.distance(&a, &b))
                }
                Op::Available => {
                    let sku = stack.pop().expect("operand");
                    let node = stack.pop().expect("operand");
                    V::Num(self.available(&node, &sku) as f64)
                }
                Op::Min(n) | Op::Max(n) => {
                    let start = stack.len() - *n as usize;
                    let pick = |a: f64, b: f64| {
                        if matches!(op, Op::Min(_)) {
                            a.min(b)
                        } else {
                            a.max(b)
                        }
                    };
                    let value = stack[start..]
                        .iter()
                        .map(V::as_num)
                        .reduce(pick)
                        .unwrap_or(f64::NAN);
                    stack.truncate(start);
                    V::Num(value)
                }
                Op::Abs => V::Num(num(stack.pop().expect("operand")).abs()),
                Op::Table(id) => {
                    let table = &self.tables[*id as usize];
                    let args = stack.len() - table.params;
                    let value = self.table(table, args, stack);
                    stack.truncate(args);
                    value
                }
                Op::Not => V::Bool(!stack.pop().expect("operand").as_bool()),
                Op::Neg => V::Num(-num(stack.pop().expect("operand"))),
                Op::AndThen(target) | Op::OrElse(target) => {
                    let top = stack.last().expect("operand").as_bool();
                    if top == matches!(op, Op::OrElse(_)) {
                        pc = *target as usize;
                    } else {
                        stack.pop();
                    }
                    continue;
                }
                Op::JumpIfFalse(target) => {
                    if !stack.pop().expect("operand").as_bool() {
                        pc = *target as usize;
                    }
                    continue;
                }
                Op::Jump(target) => {
                    pc = *target as usize;
                    continue;
                }
                Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq | Op::In | Op::NotIn => {
                    let b = stack.pop().expect("operand");
                    let a = stack.pop().expect("operand");
                    V::Bool(compare(op, &a, &b))
                }
                Op::Add | Op::Sub | Op::Mul | Op::Div => {
                    let b = num(stack.pop().expect("operand"));
                    let a = num(stack.pop().expect("operand"));
                    V::Num(match op {
                        Op::Add => a + b,
                        Op::Sub => a - b,
                        Op::Mul => a * b,
                        _ => a / b,
                    })
                }
                Op::List(n) => {
                    let start = stack.len() - *n as usize;
                    V::Set(Arc::from(stack.split_off(start)))
                }
            };
            stack.push(value);
        }
        let result = stack.pop().unwrap_or(V::Bool(false));
        stack.truncate(base);
        result
    }

    /// A table's value for the arguments on `stack` from index `args` on.
    fn table(&self, table: &TableCode, args: usize, stack: &mut Vec<V>) -> V {
        let mut cache = LetCache::default();
        let env = Env {
            order: None,
            line: None,
            node: None,
            shipment: None,
            ..*self
        };
        for (condition, value) in &table.rows {
            let matches = match condition {
                None => true,
                Some(c) => env.run_at(c, &mut cache, &[], Some(args), stack).as_bool(),
            };
            if matches {
                return env.run_at(value, &mut cache, &[], Some(args), stack);
            }
        }
        V::Num(f64::NAN)
    }

    fn distance(&self, a: &V, b: &V) -> f64 {
        let node = |v: &V| match v {
            V::Node(n) | V::Place(Place::Node(n)) => Some(*n),
            _ => None,
        };
        let ship_to = |v: &V| matches!(v, V::Place(Place::ShipTo));
        match (self.order, node(a), node(b)) {
            (Some(order), Some(n), None) if ship_to(b) => self.world.ship_to_km(n, order),
            (Some(order), None, Some(n)) if ship_to(a) => self.world.ship_to_km(n, order),
            _ => self.geo(a).distance_km(self.geo(b)),
        }
    }

    fn geo(&self, place: &V) -> &crate::value::Geo {
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

    fn order_attr(&self, attr: allot_plan::OrderAttr) -> V {
        use allot_plan::OrderAttr as A;
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
        }
    }

    fn line_attr(&self, attr: allot_plan::LineAttr) -> V {
        use allot_plan::LineAttr as A;
        let Some(line) = self.line else {
            return V::Bool(false);
        };
        match attr {
            A::Id => V::Str(line.id.clone()),
            A::Sku => V::Str(line.sku.clone()),
            A::Qty => V::Num(line.qty as f64),
            A::Price => V::Num(line.price),
            A::Weight => V::Num(line.weight),
        }
    }

    fn node_attr(&self, attr: NodeAttr) -> V {
        let Some(index) = self.node else {
            return V::Bool(false);
        };
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
            NodeAttr::Utilization => V::Num(match node.capacity {
                Some(capacity) => self.world.load[index as usize] / capacity,
                None => 0.0,
            }),
            NodeAttr::HandlingCost => V::Num(node.handling_cost),
            NodeAttr::PickCost => V::Num(node.pick_cost),
        }
    }

    fn custom(&self, owner: Owner, index: usize) -> V {
        let slot = self.world.schema.slot[index];
        let values = match owner {
            Owner::Order => self.order.map(|o| &o.custom),
            Owner::Node => self
                .node
                .map(|n| &self.world.network.nodes[n as usize].custom),
            Owner::Item => self
                .line
                .map(|l| &self.world.network.items[l.item as usize].custom),
        };
        values
            .and_then(|v| v.get(slot))
            .cloned()
            .unwrap_or(V::Bool(false))
    }
}
