//! Evaluating compiled programs: each program is read back as an expression tree (see
//! [`allot_plan::Tree`]), lowered once at load into typed nodes, and evaluated by
//! recursion. Numbers and truth values flow as plain `f64` and `bool`; only strings,
//! sets and places go through [`V`]. Every sub-expression that depends on the (static)
//! node alone is computed for every node at load, and every constant one folded. The
//! programs of (line, node) pairs run over many nodes at once (see [`columns`]).

use crate::network::{Network, Schema};
use crate::order::{Line, Order};
use crate::value::{Geo, Place, V, chord_km};
use allot_plan::{
    Level, LineAttr, LocationField, NodeAttr, Op, OrderAttr, Owner, Program, ShipmentAttr, Tree,
};
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

mod columns;
mod trend;

pub(crate) use columns::{Columns, Spare};

/// A program ready to run.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    expr: Expr,
    pub level: Level,
    /// Whether it reads the order or a line (and so [`Env::fix`] may simplify it).
    reads_order_or_line: bool,
}

/// What a sub-expression reads, for deciding where it is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reads(u8);

impl Reads {
    const NONE: Reads = Reads(0);
    /// The static node: its attributes except load and utilization.
    const NODE: Reads = Reads(1);
    const ORDER: Reads = Reads(2);
    const LINE: Reads = Reads(4);
    const SHIPMENT: Reads = Reads(8);
    /// What changes as a batch is routed: load, utilization, available stock.
    const BATCH: Reads = Reads(16);
    /// A table's parameters.
    const PARAM: Reads = Reads(32);

    fn with(self, other: Reads) -> Reads {
        Reads(self.0 | other.0)
    }

    /// Whether this reads the order or a line, and nothing else.
    fn order_or_line_only(self) -> bool {
        let order_or_line = Reads::ORDER.0 | Reads::LINE.0;
        self != Reads::NONE && self.0 & !order_or_line == 0
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Compare {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    In,
    NotIn,
}

impl Compare {
    /// An order comparison of `x` with a constant ([`Expr::CompareWith`]).
    fn holds_with(self, x: f64, constant: f64) -> bool {
        match self {
            Compare::Lt => x < constant,
            Compare::LtEq => x <= constant,
            Compare::Gt => x > constant,
            _ => x >= constant,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Debug)]
enum Expr {
    Const(V),
    /// A sub-expression of the static node alone, computed for every node at load.
    PerNode(Arc<[V]>),
    /// [`Expr::PerNode`] when every value is a truth value, or a number: compact, so that
    /// the values a rule reads at node after node stay in cache.
    PerNodeBool(Arc<[bool]>),
    PerNodeNum(Arc<[f64]>),
    Order(OrderAttr),
    Line(LineAttr),
    Node(NodeAttr),
    Shipment(ShipmentAttr),
    /// A custom attribute: its owner and its slot in the owner's `custom` values.
    Custom(Owner, usize),
    /// A part that reads the order or the line and nothing else: the column evaluator
    /// computes it once for all the nodes, and a condition with a false one (see
    /// [`Env::holds_nowhere`]) is not run at all.
    Once(Box<Expr>),
    Field(LocationField, Box<Expr>),
    CandidateNode,
    /// `distance(node, order.ship_to)`, either way round: cached per order and node.
    ShipToKm,
    Distance(Box<[Expr; 2]>),
    Available(Box<[Expr; 2]>),
    Let(usize),
    Param(usize),
    Min(Box<[Expr]>),
    Max(Box<[Expr]>),
    Abs(Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Table(usize, Box<[Expr]>),
    And(Box<[Expr; 2]>),
    Or(Box<[Expr; 2]>),
    If(Box<[Expr; 3]>),
    Compare(Compare, Box<[Expr; 2]>),
    /// An order comparison with a constant (`d < 150 km`, the rows of zone tables): one
    /// step of recursion instead of two. The constant is on the right.
    CompareWith(Compare, Box<Expr>, f64),
    Arith(Arith, Box<[Expr; 2]>),
    /// Arithmetic with a constant (`0.35 USD/kg * shipment.weight`); `constant_first`
    /// says on which side it is.
    ArithWith {
        op: Arith,
        x: Box<Expr>,
        constant: f64,
        constant_first: bool,
    },
    /// A table whose arguments are all numbers: they are passed without boxing.
    NumTable(usize, Box<[Expr]>),
    List(Box<[Expr]>),
}

impl Expr {
    /// Whether the expression certainly gives a number.
    fn is_numeric(&self) -> bool {
        match self {
            Expr::Const(v) => matches!(v, V::Num(_)),
            Expr::PerNodeNum(_) => true,
            Expr::Once(x) => x.is_numeric(),
            Expr::Line(attr) => matches!(attr, LineAttr::Price | LineAttr::Qty | LineAttr::Weight),
            Expr::Node(attr) => matches!(
                attr,
                NodeAttr::Priority
                    | NodeAttr::Capacity
                    | NodeAttr::Load
                    | NodeAttr::Utilization
                    | NodeAttr::HandlingCost
                    | NodeAttr::PickCost
            ),
            Expr::Shipment(_)
            | Expr::ShipToKm
            | Expr::Distance(_)
            | Expr::Min(_)
            | Expr::Max(_)
            | Expr::Abs(_)
            | Expr::Neg(_)
            | Expr::Arith(..)
            | Expr::ArithWith { .. } => true,
            _ => false,
        }
    }

    /// The expression as [`Expr::Once`] when it reads (`reads`) the order or a line and
    /// nothing else.
    fn once_if(self, reads: Reads) -> Expr {
        match reads.order_or_line_only() {
            true => Expr::Once(Box::new(self)),
            false => self,
        }
    }

    /// A comparison, with a constant operand moved to the right.
    fn compare(op: Compare, pair: Box<[Expr; 2]>) -> Expr {
        let flipped = match op {
            Compare::Lt => Compare::Gt,
            Compare::LtEq => Compare::GtEq,
            Compare::Gt => Compare::Lt,
            Compare::GtEq => Compare::LtEq,
            _ => return Expr::Compare(op, pair),
        };
        match *pair {
            [x, Expr::Const(V::Num(c))] => Expr::CompareWith(op, Box::new(x), c),
            [Expr::Const(V::Num(c)), x] => Expr::CompareWith(flipped, Box::new(x), c),
            pair => Expr::Compare(op, Box::new(pair)),
        }
    }

    fn arith(op: Arith, pair: [Expr; 2]) -> Expr {
        match pair {
            [x, Expr::Const(V::Num(constant))] => Expr::ArithWith {
                op,
                x: Box::new(x),
                constant,
                constant_first: false,
            },
            [Expr::Const(V::Num(constant)), x] => Expr::ArithWith {
                op,
                x: Box::new(x),
                constant,
                constant_first: true,
            },
            pair => Expr::Arith(op, Box::new(pair)),
        }
    }

    /// Whether [`Env::fix`] may change the expression: it reads an attribute of the order
    /// or the line, or a `let` (the distance to the ship-to, which also depends on the
    /// node, is not fixed).
    fn foldable(&self) -> bool {
        match self {
            Expr::Order(_) | Expr::Line(_) | Expr::Custom(Owner::Order | Owner::Item, _) => true,
            Expr::Let(_) => true,
            Expr::Once(x)
            | Expr::Not(x)
            | Expr::Abs(x)
            | Expr::Neg(x)
            | Expr::Field(_, x)
            | Expr::CompareWith(_, x, _)
            | Expr::ArithWith { x, .. } => x.foldable(),
            Expr::Distance(pair)
            | Expr::Available(pair)
            | Expr::Compare(_, pair)
            | Expr::Arith(_, pair)
            | Expr::And(pair)
            | Expr::Or(pair) => pair.iter().any(Expr::foldable),
            Expr::If(parts) => parts.iter().any(Expr::foldable),
            Expr::Min(args)
            | Expr::Max(args)
            | Expr::List(args)
            | Expr::Table(_, args)
            | Expr::NumTable(_, args) => args.iter().any(Expr::foldable),
            Expr::Const(_)
            | Expr::PerNode(_)
            | Expr::PerNodeBool(_)
            | Expr::PerNodeNum(_)
            | Expr::Node(_)
            | Expr::Shipment(_)
            | Expr::Custom(Owner::Node, _)
            | Expr::CandidateNode
            | Expr::ShipToKm
            | Expr::Param(_) => false,
        }
    }

    /// Whether the expression is a single read: a value, an attribute, a distance to the
    /// ship-to.
    fn is_read(&self) -> bool {
        matches!(
            self,
            Expr::Const(_)
                | Expr::PerNode(_)
                | Expr::PerNodeBool(_)
                | Expr::PerNodeNum(_)
                | Expr::Order(_)
                | Expr::Line(_)
                | Expr::Node(_)
                | Expr::Shipment(_)
                | Expr::Custom(..)
                | Expr::CandidateNode
                | Expr::ShipToKm
                | Expr::Param(_)
        )
    }
}

/// The rows of a table, lowered.
#[derive(Clone, Debug)]
pub(crate) struct TableCode {
    rows: Vec<(Option<Code>, Code)>,
    /// When every row's condition is `_` or a parameter compared with a constant (zone
    /// tables: `d < 150 km`): per row, `None` or (parameter, comparison, constant), tested
    /// without running a program.
    thresholds: Option<Box<[Option<Threshold>]>>,
}

/// A table parameter compared with a constant: (parameter, comparison, constant).
type Threshold = (usize, Compare, f64);

impl TableCode {
    pub fn new(rows: Vec<(Option<Code>, Code)>) -> TableCode {
        let thresholds = rows
            .iter()
            .map(|(condition, _)| match condition.as_ref().map(|c| &c.expr) {
                None => Some(None),
                Some(Expr::CompareWith(op, x, constant)) => match **x {
                    Expr::Param(index) => Some(Some((index, *op, *constant))),
                    _ => None,
                },
                Some(_) => None,
            })
            .collect();
        TableCode { rows, thresholds }
    }
}

impl TableCode {
    /// Whether a row whose condition is `threshold` (`None`: `_`) holds for `numbers`.
    fn row_holds(threshold: Option<Threshold>, numbers: &[f64]) -> bool {
        threshold.is_none_or(|(index, op, constant)| {
            numbers
                .get(index)
                .is_some_and(|&x| op.holds_with(x, constant))
        })
    }
}

/// What lowering needs: the network to compute node-level parts at load, the tables
/// and `let`s already lowered.
pub(crate) struct Lowering<'a> {
    pub world: &'a World<'a>,
    pub tables: &'a [TableCode],
    /// Table parameter counts, for reading programs as trees.
    pub table_params: &'a [usize],
    /// The policy's `let`s lowered so far, and what each reads.
    pub lets: Vec<Code>,
    let_reads: Vec<Reads>,
}

impl<'a> Lowering<'a> {
    pub fn new(
        world: &'a World<'a>,
        tables: &'a [TableCode],
        table_params: &'a [usize],
    ) -> Lowering<'a> {
        Lowering {
            world,
            tables,
            table_params,
            lets: Vec::new(),
            let_reads: Vec::new(),
        }
    }

    /// Lowers a policy's `let`s, each after those it reads (a `let` may read a later one).
    pub fn lower_lets(&mut self, lets: &[&Program]) {
        self.lets = vec![Code::unreadable(); lets.len()];
        self.let_reads = vec![Reads::NONE; lets.len()];
        let mut done = vec![false; lets.len()];
        for i in 0..lets.len() {
            self.lower_let(i, lets, &mut done);
        }
    }

    fn lower_let(&mut self, i: usize, lets: &[&Program], done: &mut [bool]) {
        if done[i] {
            return;
        }
        // Validation refuses cycles; in a plan that skipped it, a cyclic `let` is `false`.
        done[i] = true;
        for op in &lets[i].ops {
            if let Op::Let(j) = op
                && (*j as usize) < lets.len()
            {
                self.lower_let(*j as usize, lets, done);
            }
        }
        let (code, reads) = self.lower_with_reads(lets[i]);
        self.lets[i] = code;
        self.let_reads[i] = reads;
    }

    pub fn lower(&self, program: &Program) -> Code {
        self.lower_with_reads(program).0
    }

    fn lower_with_reads(&self, program: &Program) -> (Code, Reads) {
        let level = program.level();
        let params = |id: u32| self.table_params.get(id as usize).copied();
        match program.tree(&params) {
            Ok(tree) => {
                let (expr, reads) = self.expr(&tree);
                let expr = self.hoist(expr, reads, true).once_if(reads);
                let reads_order_or_line =
                    reads.0 & (Reads::ORDER.0 | Reads::LINE.0) != 0 && expr.foldable();
                let code = Code {
                    expr,
                    level,
                    reads_order_or_line,
                };
                (code, reads)
            }
            Err(_) => (Code::unreadable(), Reads::NONE),
        }
    }

    /// Replaces a sub-expression by its value when it is constant, or by its value at
    /// every node when it reads the static node alone. A leaf inside a program (not
    /// `top`) is replaced only by a compact column (numbers or truth values), which is read
    /// faster than the node's record; a column of other values would cost as much as the
    /// leaf.
    fn hoist(&self, expr: Expr, reads: Reads, top: bool) -> Expr {
        let leaf = expr.is_read() || matches!(expr, Expr::Let(_));
        let compact_only = leaf && !top;
        if matches!(
            expr,
            Expr::Const(_) | Expr::PerNode(_) | Expr::PerNodeBool(_) | Expr::PerNodeNum(_)
        ) || (compact_only && reads != Reads::NODE)
        {
            return expr;
        }
        let run = |node: Option<u32>| {
            let env = Env {
                world: self.world,
                tables: self.tables,
                order: None,
                line: None,
                node,
                shipment: None,
                safety: 0,
            };
            let mut cache = LetCache::new(self.lets.len());
            let mut frame = Frame {
                cache: &mut cache,
                lets: &self.lets,
                params: Params::Values(&[]),
            };
            env.value(&expr, &mut frame)
        };
        if reads == Reads::NONE {
            Expr::Const(run(None))
        } else if reads == Reads::NODE {
            let values: Vec<V> = (0..self.world.network.nodes.len() as u32)
                .map(|n| run(Some(n)))
                .collect();
            if values.iter().all(|v| matches!(v, V::Bool(_))) {
                Expr::PerNodeBool(values.iter().map(V::as_bool).collect())
            } else if values.iter().all(|v| matches!(v, V::Num(_))) {
                Expr::PerNodeNum(values.iter().map(V::as_num).collect())
            } else if compact_only {
                expr
            } else {
                Expr::PerNode(values.into())
            }
        } else {
            expr
        }
    }

    /// Lowers the operands of a node; those that can be computed earlier than the node
    /// itself are hoisted.
    fn operands<'t>(
        &self,
        args: impl IntoIterator<Item = &'t Tree<'t>>,
        reads: &mut Reads,
    ) -> Vec<Expr> {
        let lowered: Vec<(Expr, Reads)> = args.into_iter().map(|a| self.expr(a)).collect();
        *reads = lowered.iter().fold(*reads, |all, (_, r)| all.with(*r));
        let all = *reads;
        lowered
            .into_iter()
            .map(|(e, r)| match r != all {
                true if !all.order_or_line_only() => self.hoist(e, r, false).once_if(r),
                true => self.hoist(e, r, false),
                false => e,
            })
            .collect()
    }

    fn fixed<'t, const N: usize>(
        &self,
        args: impl IntoIterator<Item = &'t Tree<'t>>,
        reads: &mut Reads,
    ) -> Box<[Expr; N]> {
        array(self.operands(args, reads))
    }

    fn list(&self, args: &[Tree], reads: &mut Reads) -> Box<[Expr]> {
        self.operands(args, reads).into()
    }

    fn expr(&self, tree: &Tree) -> (Expr, Reads) {
        let mut reads = Reads::NONE;
        let expr = match tree {
            Tree::And(a, b) => Expr::And(self.fixed([&**a, &**b], &mut reads)),
            Tree::Or(a, b) => Expr::Or(self.fixed([&**a, &**b], &mut reads)),
            Tree::If(c, a, b) => Expr::If(self.fixed([&**c, &**a, &**b], &mut reads)),
            Tree::Apply(op, args) => match op {
                Op::Push(literal) => Expr::Const(V::from_literal(literal)),
                Op::Order(attr) => {
                    reads = Reads::ORDER;
                    Expr::Order(*attr)
                }
                Op::Line(attr) => {
                    reads = Reads::LINE;
                    Expr::Line(*attr)
                }
                Op::Node(attr) => {
                    reads = match attr {
                        NodeAttr::Load | NodeAttr::Utilization => Reads::NODE.with(Reads::BATCH),
                        _ => Reads::NODE,
                    };
                    Expr::Node(*attr)
                }
                Op::Shipment(attr) => {
                    reads = Reads::SHIPMENT;
                    Expr::Shipment(*attr)
                }
                Op::Custom(owner, index) => {
                    reads = match owner {
                        Owner::Order => Reads::ORDER,
                        Owner::Node => Reads::NODE,
                        Owner::Item => Reads::LINE,
                    };
                    let slot = self.world.schema.slot.get(*index as usize).copied();
                    Expr::Custom(*owner, slot.unwrap_or(usize::MAX))
                }
                Op::Field(field) => {
                    let [place] = *self.fixed::<1>(args, &mut reads);
                    Expr::Field(*field, Box::new(place))
                }
                Op::CandidateNode => {
                    reads = Reads::NODE;
                    Expr::CandidateNode
                }
                Op::Let(index) => {
                    let index = *index as usize;
                    reads = self.let_reads.get(index).copied().unwrap_or(Reads::NONE);
                    match self.lets.get(index).map(|code| &code.expr) {
                        // A `let` that costs a read (`d = distance(node, order.ship_to)`) is
                        // read in place: its cache would cost more than it saves.
                        Some(expr) if expr.is_read() => expr.clone(),
                        _ => Expr::Let(index),
                    }
                }
                Op::Param(index) => {
                    reads = Reads::PARAM;
                    Expr::Param(*index as usize)
                }
                Op::Distance => {
                    let pair = self.fixed::<2>(args, &mut reads);
                    fn is(e: &Expr, node: bool) -> bool {
                        match e {
                            Expr::CandidateNode => node,
                            Expr::Node(NodeAttr::Location) => node,
                            Expr::Order(OrderAttr::ShipTo) => !node,
                            Expr::Once(x) => is(x, node),
                            _ => false,
                        }
                    }
                    if (is(&pair[0], true) && is(&pair[1], false))
                        || (is(&pair[0], false) && is(&pair[1], true))
                    {
                        Expr::ShipToKm
                    } else {
                        Expr::Distance(pair)
                    }
                }
                Op::Available => {
                    let pair = self.fixed::<2>(args, &mut reads);
                    reads = reads.with(Reads::BATCH).with(Reads::LINE);
                    Expr::Available(pair)
                }
                Op::Min(_) => Expr::Min(self.list(args, &mut reads)),
                Op::Max(_) => Expr::Max(self.list(args, &mut reads)),
                Op::Abs => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Abs(Box::new(x))
                }
                Op::Neg => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Neg(Box::new(x))
                }
                Op::Not => {
                    let [x] = *self.fixed::<1>(args, &mut reads);
                    Expr::Not(Box::new(x))
                }
                Op::Table(id) => {
                    let args = self.list(args, &mut reads);
                    // A table not lowered yet (tables calling tables) cannot run at load.
                    if self.tables.get(*id as usize).is_none() {
                        reads = reads.with(Reads::PARAM);
                    }
                    if args.len() <= MAX_NUM_ARGS && args.iter().all(Expr::is_numeric) {
                        Expr::NumTable(*id as usize, args)
                    } else {
                        Expr::Table(*id as usize, args)
                    }
                }
                Op::List(_) => Expr::List(self.list(args, &mut reads)),
                Op::Eq => Expr::Compare(Compare::Eq, self.fixed(args, &mut reads)),
                Op::NotEq => Expr::Compare(Compare::NotEq, self.fixed(args, &mut reads)),
                Op::Lt => Expr::compare(Compare::Lt, self.fixed(args, &mut reads)),
                Op::LtEq => Expr::compare(Compare::LtEq, self.fixed(args, &mut reads)),
                Op::Gt => Expr::compare(Compare::Gt, self.fixed(args, &mut reads)),
                Op::GtEq => Expr::compare(Compare::GtEq, self.fixed(args, &mut reads)),
                Op::In => Expr::Compare(Compare::In, self.fixed(args, &mut reads)),
                Op::NotIn => Expr::Compare(Compare::NotIn, self.fixed(args, &mut reads)),
                Op::Add => Expr::arith(Arith::Add, *self.fixed(args, &mut reads)),
                Op::Sub => Expr::arith(Arith::Sub, *self.fixed(args, &mut reads)),
                Op::Mul => Expr::arith(Arith::Mul, *self.fixed(args, &mut reads)),
                Op::Div => Expr::arith(Arith::Div, *self.fixed(args, &mut reads)),
                // The tree reader makes jumps into `and`, `or` and `if`.
                Op::AndThen(_) | Op::OrElse(_) | Op::JumpIfFalse(_) | Op::Jump(_) => {
                    Expr::Const(V::Bool(false))
                }
            },
        };
        (expr, reads)
    }
}

impl Code {
    /// Whether the condition is known not to hold, wherever it runs.
    pub fn never_holds(&self) -> bool {
        matches!(&self.expr, Expr::Const(v) if !v.as_bool())
    }

    /// Whether the condition is known to hold, wherever it runs.
    pub fn always_holds(&self) -> bool {
        matches!(&self.expr, Expr::Const(v) if v.as_bool())
    }

    /// A program the runtime cannot read (only a plan that skipped validation has one).
    fn unreadable() -> Code {
        Code {
            expr: Expr::Const(V::Bool(false)),
            level: Level::Constant,
            reads_order_or_line: false,
        }
    }

    /// Whether a node-level condition, computed at load, holds at `node` (false for a
    /// program not computed at load).
    pub fn holds_at(&self, node: u32) -> bool {
        match &self.expr {
            Expr::PerNodeBool(values) => values.get(node as usize).copied().unwrap_or(false),
            Expr::PerNode(values) => values.get(node as usize).is_some_and(V::as_bool),
            Expr::Const(value) => value.as_bool(),
            _ => false,
        }
    }
}

/// The network and what routing has taken from it so far.
pub(crate) struct World<'a> {
    pub network: &'a Network,
    pub schema: &'a Schema,
    /// Per node: orders taken (the loaded load plus shipments made in this batch).
    pub load: &'a [f64],
    /// Per node: its load over its capacity (0 without one).
    utilization: &'a [f64],
    /// Parallel to `network.stock`: units on hand, less reserved, less what this batch
    /// has taken.
    pub free: &'a [Vec<i64>],
    /// Each node's place on the unit sphere.
    pub unit_vectors: &'a [[f64; 3]],
    /// The order's ship-to on the unit sphere.
    pub ship_to: [f64; 3],
    distances: &'a ShipToDistances,
    /// This order's stamp in `distances`.
    stamp: u32,
}

/// Per node, its distance to an order's ship-to, computed once per order: rules, guards
/// and every shipment's costs ask for it again and again. Kept from order to order, each
/// entry stamped with the order it was computed for, so that a new order forgets them
/// all without touching them.
pub(crate) struct ShipToDistances {
    entries: Box<[Cell<(u32, f64)>]>,
    last_stamp: Cell<u32>,
}

impl ShipToDistances {
    pub fn new(nodes: usize) -> ShipToDistances {
        ShipToDistances {
            entries: (0..nodes).map(|_| Cell::new((0, f64::NAN))).collect(),
            last_stamp: Cell::new(0),
        }
    }

    /// The stamp of a new order: no distance computed before holds for it.
    fn next_stamp(&self) -> u32 {
        let stamp = self.last_stamp.get().wrapping_add(1);
        // After four billion orders the stamps come round again: forget everything.
        let stamp = if stamp == 0 {
            self.entries.iter().for_each(|e| e.set((0, f64::NAN)));
            1
        } else {
            stamp
        };
        self.last_stamp.set(stamp);
        stamp
    }
}

impl<'a> World<'a> {
    pub fn new(
        network: &'a Network,
        schema: &'a Schema,
        (load, utilization): (&'a [f64], &'a [f64]),
        free: &'a [Vec<i64>],
        unit_vectors: &'a [[f64; 3]],
        (ship_to, distances): ([f64; 3], &'a ShipToDistances),
    ) -> World<'a> {
        World {
            network,
            schema,
            load,
            utilization,
            free,
            unit_vectors,
            ship_to,
            stamp: distances.next_stamp(),
            distances,
        }
    }

    /// The distance from a node to the order's ship-to, computed once per order.
    pub fn ship_to_km(&self, node: u32) -> f64 {
        let entry = &self.distances.entries[node as usize];
        match entry.get() {
            (stamp, km) if stamp == self.stamp => km,
            _ => {
                let km = chord_km(&self.unit_vectors[node as usize], &self.ship_to);
                entry.set((self.stamp, km));
                km
            }
        }
    }

    /// on_hand − reserved − taken in this batch, before safety stock.
    pub fn free_stock(&self, item: u32, node: u32) -> i64 {
        match self.network.stock_position(item, node) {
            Some(at) => self.free_stock_at(item, at as u32),
            None => 0,
        }
    }

    /// [`World::free_stock`] of the `at`-th entry of the item's stock list.
    pub fn free_stock_at(&self, item: u32, at: u32) -> i64 {
        self.free[item as usize][at as usize]
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

/// The mutable part of an evaluation: the `let` cache, and a table's arguments.
struct Frame<'c> {
    cache: &'c mut LetCache,
    lets: &'c [Code],
    params: Params<'c>,
}

/// A table's arguments: values, or numbers when every argument is one.
#[derive(Clone, Copy)]
enum Params<'c> {
    Values(&'c [V]),
    Numbers(&'c [f64]),
}

/// The most arguments a [`Expr::NumTable`] passes (on the stack).
const MAX_NUM_ARGS: usize = 4;

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
    fn is_empty_once(&self, expr: &Expr, f: &mut Frame) -> bool {
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

    fn num(&self, expr: &Expr, f: &mut Frame) -> f64 {
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

    fn truth(&self, expr: &Expr, f: &mut Frame) -> bool {
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

    fn let_value(&self, index: usize, f: &mut Frame) -> V {
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

    fn value(&self, expr: &Expr, f: &mut Frame) -> V {
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
    fn rows<T>(
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
        }
    }

    fn node_attr(&self, attr: NodeAttr) -> V {
        match self.node {
            Some(index) => self.node_attr_at(attr, index),
            None => V::Bool(false),
        }
    }

    fn node_attr_at(&self, attr: NodeAttr, index: u32) -> V {
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

/// What folding made of an expression (see [`Env::fix`]).
enum Folded {
    /// Unchanged: every part of it reads what the environment does not fix.
    Kept,
    /// Its value: it reads only what the environment fixes.
    Known(V),
    /// Partly computed.
    Changed(Expr),
}

impl Folded {
    /// The expression folding made of `original`.
    fn into_expr(self, original: &Expr) -> Expr {
        match self {
            Folded::Kept => original.clone(),
            Folded::Known(v) => Expr::Const(v),
            Folded::Changed(expr) => expr,
        }
    }
}

/// Operands as an array (the tree reader checked every arity: the fallback is unreachable).
fn array<const N: usize>(operands: Vec<Expr>) -> Box<[Expr; N]> {
    match Box::<[Expr]>::from(operands).try_into() {
        Ok(array) => array,
        Err(_) => Box::new(std::array::from_fn(|_| Expr::Const(V::Bool(false)))),
    }
}

/// The operand of a unary operator.
fn one(operands: Vec<Expr>) -> Box<Expr> {
    let [x] = *array::<1>(operands);
    Box::new(x)
}

impl Env<'_> {
    /// `code` with every part that reads only the order and the line of this environment
    /// (and constants) replaced by its value, so that it is computed once per order or
    /// line rather than once per candidate node. `None` when nothing changes. The level
    /// stays that of `code`: a fixed value holds for this order or line only.
    pub fn fix(&self, code: &Code, cache: &mut LetCache, lets: &[Code]) -> Option<Code> {
        if !code.reads_order_or_line {
            return None;
        }
        let mut frame = Frame {
            cache,
            lets,
            params: Params::Values(&[]),
        };
        let expr = match self.fold(&code.expr, &mut frame) {
            Folded::Kept => return None,
            Folded::Known(v) => Expr::Const(v),
            Folded::Changed(expr) => expr,
        };
        Some(Code {
            expr,
            level: code.level,
            reads_order_or_line: false,
        })
    }

    fn fold(&self, expr: &Expr, f: &mut Frame) -> Folded {
        let fixed_let = |index: usize| {
            f.lets.get(index).is_some_and(|code| match code.level {
                Level::Constant => true,
                Level::Order => self.order.is_some(),
                Level::Line => self.order.is_some() && self.line.is_some(),
                _ => false,
            })
        };
        let operands: &[Expr] = match expr {
            Expr::Const(v) => return Folded::Known(v.clone()),
            Expr::Order(_) | Expr::Custom(Owner::Order, _) if self.order.is_some() => {
                return Folded::Known(self.value(expr, f));
            }
            Expr::Line(_) | Expr::Custom(Owner::Item, _) if self.line.is_some() => {
                return Folded::Known(self.value(expr, f));
            }
            Expr::Let(index) if fixed_let(*index) => {
                return Folded::Known(self.let_value(*index, f));
            }
            Expr::And(pair) | Expr::Or(pair) => return self.fold_logic(expr, pair, f),
            Expr::Once(x) => {
                return match self.fold(x, f) {
                    Folded::Changed(x) => Folded::Changed(Expr::Once(Box::new(x))),
                    other => other,
                };
            }
            Expr::If(parts) => {
                if let Folded::Known(v) = self.fold(&parts[0], f) {
                    let branch = &parts[if v.as_bool() { 1 } else { 2 }];
                    return match self.fold(branch, f) {
                        Folded::Kept => Folded::Changed(branch.clone()),
                        other => other,
                    };
                }
                parts.as_slice()
            }
            Expr::Not(x)
            | Expr::Abs(x)
            | Expr::Neg(x)
            | Expr::Field(_, x)
            | Expr::CompareWith(_, x, _)
            | Expr::ArithWith { x, .. } => std::slice::from_ref(&**x),
            Expr::Distance(pair) | Expr::Compare(_, pair) | Expr::Arith(_, pair) => pair.as_slice(),
            Expr::Min(args)
            | Expr::Max(args)
            | Expr::List(args)
            | Expr::Table(_, args)
            | Expr::NumTable(_, args) => args,
            // What the node, the shipment, the batch or a table's arguments give, and the
            // stock `available` reads (less the pair's safety stock).
            _ => return Folded::Kept,
        };
        let folded: smallvec::SmallVec<[Folded; 3]> =
            operands.iter().map(|o| self.fold(o, f)).collect();
        // Nothing is in an empty set (`node.region in line.item.protected_regions`).
        if let (
            Expr::Compare(op @ (Compare::In | Compare::NotIn), _),
            [_, Folded::Known(V::Set(set))],
        ) = (expr, folded.as_slice())
            && set.is_empty()
        {
            return Folded::Known(V::Bool(matches!(op, Compare::NotIn)));
        }
        // Operators and tables read nothing but their operands.
        if folded.iter().all(|o| matches!(o, Folded::Known(_))) {
            return Folded::Known(self.value(expr, f));
        }
        if folded.iter().all(|o| matches!(o, Folded::Kept)) {
            return Folded::Kept;
        }
        let operands: Vec<Expr> = folded
            .into_iter()
            .zip(operands)
            .map(|(folded, original)| folded.into_expr(original))
            .collect();
        Folded::Changed(match expr {
            Expr::If(_) => Expr::If(array(operands)),
            Expr::Not(_) => Expr::Not(one(operands)),
            Expr::Abs(_) => Expr::Abs(one(operands)),
            Expr::Neg(_) => Expr::Neg(one(operands)),
            Expr::Field(field, _) => Expr::Field(*field, one(operands)),
            Expr::CompareWith(op, _, constant) => Expr::CompareWith(*op, one(operands), *constant),
            Expr::ArithWith {
                op,
                constant,
                constant_first,
                ..
            } => Expr::ArithWith {
                op: *op,
                x: one(operands),
                constant: *constant,
                constant_first: *constant_first,
            },
            Expr::Distance(_) => Expr::Distance(array(operands)),
            Expr::Compare(op, _) => Expr::compare(*op, array(operands)),
            Expr::Arith(op, _) => Expr::arith(*op, *array(operands)),
            Expr::Min(_) => Expr::Min(operands.into()),
            Expr::Max(_) => Expr::Max(operands.into()),
            Expr::Table(id, _) => Expr::Table(*id, operands.into()),
            Expr::NumTable(id, _) => Expr::NumTable(*id, operands.into()),
            _ => Expr::List(operands.into()),
        })
    }

    /// Folds `and` and `or`: `false and x` is false and `true and x` is x, whichever side
    /// is known; dually for `or`. Programs have no effects: an operand that cannot change
    /// the value need not run.
    fn fold_logic(&self, expr: &Expr, pair: &[Expr; 2], f: &mut Frame) -> Folded {
        let deciding = matches!(expr, Expr::Or(_));
        match (self.fold(&pair[0], f), self.fold(&pair[1], f)) {
            (Folded::Known(v), _) | (_, Folded::Known(v)) if v.as_bool() == deciding => {
                Folded::Known(V::Bool(deciding))
            }
            (Folded::Known(_), other) => Folded::Changed(other.into_expr(&pair[1])),
            (other, Folded::Known(_)) => Folded::Changed(other.into_expr(&pair[0])),
            (Folded::Kept, Folded::Kept) => Folded::Kept,
            (a, b) => {
                let pair = Box::new([a.into_expr(&pair[0]), b.into_expr(&pair[1])]);
                Folded::Changed(if deciding {
                    Expr::Or(pair)
                } else {
                    Expr::And(pair)
                })
            }
        }
    }
}
