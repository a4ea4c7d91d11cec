//! Evaluating compiled programs: each program is read back as an expression tree (see
//! [`allot_plan::Tree`]), lowered once at load into typed nodes, and evaluated by
//! recursion. Numbers and truth values flow as plain `f64` and `bool`; only strings,
//! sets and places go through [`V`]. Every sub-expression that depends on the (static)
//! node alone is computed for every node at load, and every constant one folded. The
//! programs of (line, node) pairs run over many nodes at once (see [`columns`]).
//!
//! This module holds the lowered form ([`Code`] and its expression nodes); the steps
//! have a module each:
//!
//! - [`lower`]: from a program's tree to [`Code`], at load;
//! - [`world`]: what programs read besides the order: the network, the stock and load
//!   routing has left, the ship-to's distances, the ship dates, the `let` cache;
//! - [`interpret`]: evaluating [`Code`] in an [`Env`], one node at a time;
//! - [`columns`]: the same over many nodes at once;
//! - [`fold`]: simplifying a program with what the order (and line) fix;
//! - [`trend`]: whether a per-shipment cost can fall as a shipment grows.

use crate::value::{Place, V};
use allot_plan::{Level, LineAttr, LocationField, NodeAttr, OrderAttr, Owner, ShipmentAttr};
use std::sync::Arc;

mod columns;
mod fold;
mod interpret;
mod lower;
mod trend;
mod world;

pub(crate) use columns::{Columns, Spare};
pub(crate) use interpret::{Env, whole_days};
pub(crate) use lower::Lowering;
pub(crate) use world::{LetCache, PerOrderCaches, ShipmentTotals, World};

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
    /// `need(node, sku)`: the units the node is short of its target.
    Need(Box<[Expr; 2]>),
    Let(usize),
    Param(usize),
    Min(Box<[Expr]>),
    Max(Box<[Expr]>),
    Abs(Box<Expr>),
    /// A duration (minutes) as the whole days it spans, rounded up, at least 0.
    WholeDays(Box<Expr>),
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
                    | NodeAttr::HandlingDays
                    | NodeAttr::ShipDate
                    | NodeAttr::ShipDays
                    | NodeAttr::ShipBusinessDays
            ),
            Expr::Shipment(_)
            | Expr::ShipToKm
            | Expr::Distance(_)
            | Expr::Min(_)
            | Expr::Max(_)
            | Expr::Abs(_)
            | Expr::WholeDays(_)
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
            | Expr::WholeDays(x)
            | Expr::Neg(x)
            | Expr::Field(_, x)
            | Expr::CompareWith(_, x, _)
            | Expr::ArithWith { x, .. } => x.foldable(),
            Expr::Distance(pair)
            | Expr::Available(pair)
            | Expr::Need(pair)
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
