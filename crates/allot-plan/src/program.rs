//! Expressions as flat programs for a small stack machine: no tree to walk, no names
//! to look up, no JSON. Every program knows what it depends on, so the runtime
//! evaluates it at the coarsest level it allows.

use serde::{Deserialize, Serialize};

/// What a program reads, as bits (the same bits as the checker's dependencies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deps(pub u8);

impl Deps {
    pub const NONE: Deps = Deps(0);
    pub const ORDER: Deps = Deps(1);
    pub const NODE: Deps = Deps(2);
    pub const LINE: Deps = Deps(4);
    pub const SHIPMENT: Deps = Deps(8);
    /// Reads `node.load` or `node.utilization`, which change as a batch is routed.
    pub const NODE_LOAD: Deps = Deps(16);

    pub fn has(self, other: Deps) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Deps) -> Deps {
        Deps(self.0 | other.0)
    }

    /// Where the runtime evaluates a program with these dependencies.
    pub fn level(self) -> Level {
        if self.has(Deps::SHIPMENT) {
            Level::Shipment
        } else if self.has(Deps::LINE) {
            if self.has(Deps::NODE) || self.has(Deps::NODE_LOAD) {
                Level::LineNode
            } else {
                Level::Line
            }
        } else if self.has(Deps::ORDER) || self.has(Deps::NODE_LOAD) {
            if self.has(Deps::NODE) || self.has(Deps::NODE_LOAD) {
                Level::OrderNode
            } else {
                Level::Order
            }
        } else if self.has(Deps::NODE) {
            Level::Node
        } else {
            Level::Constant
        }
    }
}

/// How often a program runs, coarsest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Folded at compile time.
    Constant,
    /// Once per node when the network is loaded.
    Node,
    /// Once per order.
    Order,
    /// Once per order and line.
    Line,
    /// Once per order and candidate node.
    OrderNode,
    /// Once per line and candidate node.
    LineNode,
    /// Once per shipment of a plan.
    Shipment,
}

impl Level {
    pub fn describe(self) -> &'static str {
        match self {
            Level::Constant => "constant",
            Level::Node => "per node (at load)",
            Level::Order => "per order",
            Level::Line => "per line",
            Level::OrderNode => "per order × node",
            Level::LineNode => "per line × node",
            Level::Shipment => "per shipment",
        }
    }
}

/// A constant value. Quantities are numbers in canonical units (km, kg, minutes, a
/// fraction for percent, the ruleset's currency).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Bool(bool),
    Num(f64),
    Str(String),
    /// Enum index (in [`crate::Plan::enums`]) and variant index.
    Enum(u32, u32),
    Set(Vec<Literal>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderAttr {
    Id,
    Channel,
    Method,
    Service,
    ShipTo,
    PickupNode,
    Value,
    Tags,
    Lines,
    /// The promised delivery date, as a day number (days since 1970-01-01).
    PromisedBy,
    /// A return's reason.
    Reason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LineAttr {
    Id,
    Sku,
    Qty,
    Price,
    Weight,
    /// A returned line's condition (a variant of `Condition`).
    Condition,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeAttr {
    Id,
    Kind,
    Location,
    Enabled,
    Priority,
    Tags,
    Capacity,
    Load,
    Utilization,
    HandlingCost,
    PickCost,
    HandlingDays,
    /// The earliest day the node can ship the order, as a day number (days since
    /// 1970-01-01); this and the next two depend on the order too.
    ShipDate,
    /// Calendar days from the day the order was placed to the ship date.
    ShipDays,
    /// The node's working days from the order's day to the ship date.
    ShipBusinessDays,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShipmentAttr {
    Weight,
    Units,
    Lines,
    Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LocationField {
    Country,
    Region,
    PostalCode,
}

/// The records custom attributes belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Owner {
    Order,
    Node,
    Item,
}

/// One instruction. Operands are popped from the stack, the result pushed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Push(Literal),
    Order(OrderAttr),
    Line(LineAttr),
    Node(NodeAttr),
    Shipment(ShipmentAttr),
    /// A custom attribute: its owner and its index among that owner's attributes.
    Custom(Owner, u32),
    /// Pops a location, pushes one of its fields.
    Field(LocationField),
    /// The candidate node itself.
    CandidateNode,
    /// The value of a `let` of the current policy (computed once, then cached).
    Let(u32),
    /// A table parameter.
    Param(u32),
    /// Pops two locations (or nodes): great-circle distance in km.
    Distance,
    /// Pops a node and a SKU: units available there.
    Available,
    /// Pops a node and a SKU: units the node is short of its target.
    Need,
    Min(u32),
    Max(u32),
    Abs,
    /// Pops the arguments of table `n` and pushes its value.
    Table(u32),
    Not,
    Neg,
    /// If the top is false, jump to the target keeping it; else pop it.
    AndThen(u32),
    /// If the top is true, jump to the target keeping it; else pop it.
    OrElse(u32),
    /// Pops a bool; jumps to the target when it is false.
    JumpIfFalse(u32),
    Jump(u32),
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
    /// Pops `n` values into a set.
    List(u32),
    /// Pops a duration (minutes), pushes the whole days it spans (rounded up, at least 0).
    WholeDays,
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub deps: Deps,
    pub ops: Vec<Op>,
    /// The expression's source text, for plans and traces.
    pub source: String,
}

impl Program {
    pub fn level(&self) -> Level {
        self.deps.level()
    }

    /// The constant this program pushes, if it is nothing but a constant.
    pub fn as_literal(&self) -> Option<&Literal> {
        match self.ops.as_slice() {
            [Op::Push(literal)] => Some(literal),
            _ => None,
        }
    }
}
