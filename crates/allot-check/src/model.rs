//! The checked model: what a ruleset means, with every name resolved and every
//! expression typed. It is what the plan compiler lowers and what the reference
//! evaluator walks.

use crate::types::{Dim, EnumId, Type};
use allot_diagnostics::Span;
use allot_syntax::ast::{
    Aggregator, BinaryOp, CostBasis, Direction, PolicyKind, ShortageAction, UnaryOp,
};
use rust_decimal::Decimal;

/// What an expression depends on, as bits: it decides where an expression may appear
/// and how often it must be evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Deps(u8);

impl Deps {
    pub const NONE: Deps = Deps(0);
    pub const ORDER: Deps = Deps(1);
    pub const NODE: Deps = Deps(2);
    pub const LINE: Deps = Deps(4);
    pub const SHIPMENT: Deps = Deps(8);

    pub fn union(self, other: Deps) -> Deps {
        Deps(self.0 | other.0)
    }

    pub fn contains(self, other: Deps) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits: order 1, node 2, line 4, shipment 8.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The contexts in `self` that `allowed` lacks.
    pub fn minus(self, allowed: Deps) -> Deps {
        Deps(self.0 & !allowed.0)
    }

    /// Context names, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Deps::ORDER, "order"),
            (Deps::NODE, "node"),
            (Deps::LINE, "line"),
            (Deps::SHIPMENT, "shipment"),
        ]
        .into_iter()
        .filter(|(d, _)| self.contains(*d))
        .map(|(_, n)| n)
        .collect()
    }
}

/// The records an attribute can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    Order,
    Line,
    Node,
    Shipment,
    /// Catalog attributes, reached as `line.item.NAME`.
    Item,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Order => "order",
            Context::Line => "line",
            Context::Node => "node",
            Context::Shipment => "shipment",
            Context::Item => "item",
        }
    }

    /// The dependency an attribute of this context brings.
    pub fn deps(self) -> Deps {
        match self {
            Context::Order => Deps::ORDER,
            Context::Line | Context::Item => Deps::LINE,
            Context::Node => Deps::NODE,
            Context::Shipment => Deps::SHIPMENT,
        }
    }

    /// How an attribute of this context is written: `line.item.` for items.
    pub fn path(self) -> &'static str {
        match self {
            Context::Item => "line.item",
            other => other.name(),
        }
    }
}

pub const NODE_KIND: EnumId = EnumId(0);
pub const METHOD: EnumId = EnumId(1);
pub const SERVICE: EnumId = EnumId(2);

/// The enums every ruleset has, in [`EnumId`] order.
pub const BUILTIN_ENUMS: &[(&str, &[&str], &str)] = &[
    (
        "NodeKind",
        &["dc", "store", "tpl", "vendor", "mfc", "digital"],
        "The kind of a fulfilment node: distribution centre, store, third-party logistics, dropship vendor, micro-fulfilment centre, or digital delivery.",
    ),
    (
        "Method",
        &["pickup", "ship", "same_day"],
        "How the customer receives the order.",
    ),
    (
        "Service",
        &["standard", "expedited", "next_day"],
        "The delivery service the customer chose.",
    ),
];

macro_rules! builtin_attrs {
    ($($variant:ident = $context:ident . $name:literal : $ty:expr, $doc:literal;)*) => {
        /// The attributes every order, line, node and shipment has.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BuiltinAttr { $($variant),* }

        impl BuiltinAttr {
            pub const ALL: &[BuiltinAttr] = &[$(BuiltinAttr::$variant),*];

            pub fn context(self) -> Context {
                match self { $(BuiltinAttr::$variant => Context::$context),* }
            }

            pub fn name(self) -> &'static str {
                match self { $(BuiltinAttr::$variant => $name),* }
            }

            pub fn ty(self) -> Type {
                match self { $(BuiltinAttr::$variant => $ty),* }
            }

            pub fn doc(self) -> &'static str {
                match self { $(BuiltinAttr::$variant => $doc),* }
            }
        }
    };
}

fn string_set() -> Type {
    Type::Set(Box::new(Type::String))
}

builtin_attrs! {
    OrderId = Order."id": Type::String, "The order's identifier.";
    OrderChannel = Order."channel": Type::String, "The sales channel: \"web\", \"app\", \"marketplace\", \"store\"…";
    OrderMethod = Order."method": Type::Enum(METHOD), "pickup, ship or same_day.";
    OrderService = Order."service": Type::Enum(SERVICE), "standard, expedited or next_day.";
    OrderShipTo = Order."ship_to": Type::Location, "Where the order goes.";
    OrderPickupNode = Order."pickup_node": Type::String, "The store chosen for pickup; \"\" unless the method is pickup.";
    OrderValue = Order."value": Type::Quantity(Dim::Money), "The sum of price × quantity over the lines.";
    OrderTags = Order."tags": string_set(), "Free-form tags on the order.";
    OrderLines = Order."lines": Type::Int, "The number of lines.";
    LineId = Line."id": Type::String, "The line's identifier within its order.";
    LineSku = Line."sku": Type::String, "The SKU ordered.";
    LineQty = Line."qty": Type::Int, "Units ordered.";
    LinePrice = Line."price": Type::Quantity(Dim::Money), "Unit price.";
    LineWeight = Line."weight": Type::Quantity(Dim::Weight), "Unit weight, from the item catalog.";
    NodeId = Node."id": Type::String, "The node's identifier.";
    NodeKind = Node."kind": Type::Enum(NODE_KIND), "dc, store, tpl, vendor, mfc or digital.";
    NodeLocation = Node."location": Type::Location, "Where the node is.";
    NodeEnabled = Node."enabled": Type::Bool, "Whether the node is switched on.";
    NodePriority = Node."priority": Type::Int, "The merchant's ranking of the node; 1 is best.";
    NodeTags = Node."tags": string_set(), "Free-form tags, such as \"hazmat\".";
    NodeCapacity = Node."capacity": Type::Int, "Orders the node can ship per day.";
    NodeLoad = Node."load": Type::Int, "Orders the node has taken today.";
    NodeUtilization = Node."utilization": Type::Quantity(Dim::Percent), "load / capacity.";
    NodeHandlingCost = Node."handling_cost": Type::Quantity(Dim::Money), "Cost per shipment from this node.";
    NodePickCost = Node."pick_cost": Type::Quantity(Dim::Money), "Cost per unit picked at this node.";
    ShipmentWeight = Shipment."weight": Type::Quantity(Dim::Weight), "Total weight of the shipment.";
    ShipmentUnits = Shipment."units": Type::Int, "Units in the shipment.";
    ShipmentLines = Shipment."lines": Type::Int, "Lines in the shipment.";
    ShipmentValue = Shipment."value": Type::Quantity(Dim::Money), "Value of the units in the shipment.";
}

/// The attributes of a location value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocationField {
    Country,
    Region,
    PostalCode,
}

impl LocationField {
    pub const ALL: &[(LocationField, &str)] = &[
        (LocationField::Country, "country"),
        (LocationField::Region, "region"),
        (LocationField::PostalCode, "postal_code"),
    ];
}

/// Built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Distance,
    Available,
    Min,
    Max,
    Abs,
}

impl Builtin {
    pub const ALL: &[(Builtin, &str, &str)] = &[
        (
            Builtin::Distance,
            "distance",
            "distance(a, b): great-circle distance between two locations (or a node and a location).",
        ),
        (
            Builtin::Available,
            "available",
            "available(node, line.sku): units the node can promise after reservations and safety stock.",
        ),
        (
            Builtin::Min,
            "min",
            "min(a, b, …): the smallest of values of one type.",
        ),
        (
            Builtin::Max,
            "max",
            "max(a, b, …): the largest of values of one type.",
        ),
        (
            Builtin::Abs,
            "abs",
            "abs(x): the absolute value of a number or quantity.",
        ),
    ];

    pub fn named(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(b, _, _)| *b)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttrId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConstId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableId(pub u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LetId(pub u32);

/// A compile-time value. Quantities are in their dimension's canonical unit
/// (km, kg, minutes, a fraction for percent, the ruleset's currency).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Number(Decimal),
    Str(String),
    Quantity(Decimal, Dim),
    Rate(Decimal, Dim),
    Enum(EnumId, u32),
    Set(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrRef {
    Builtin(BuiltinAttr),
    Custom(AttrId),
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub deps: Deps,
    pub span: Span,
}

/// Equality ignores spans: two expressions are equal when they mean the same.
impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.ty == other.ty
    }
}

impl Eq for Expr {}

impl Expr {
    /// The expressions directly inside this one, left to right.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::LocationField(inner, _) | ExprKind::Unary(_, inner) => vec![inner],
            ExprKind::Builtin(_, args) | ExprKind::Table(_, args) | ExprKind::List(args) => {
                args.iter().collect()
            }
            ExprKind::Binary(_, a, b) => vec![a, b],
            ExprKind::If(c, a, b) => vec![c, a, b],
            ExprKind::Literal(_)
            | ExprKind::Attr(_)
            | ExprKind::Node
            | ExprKind::Let(_)
            | ExprKind::Const(_)
            | ExprKind::Param(_)
            | ExprKind::Error => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Literal(Value),
    Attr(AttrRef),
    LocationField(Box<Expr>, LocationField),
    /// The candidate node itself.
    Node,
    Let(LetId),
    Const(ConstId),
    Param(u32),
    Builtin(Builtin, Vec<Expr>),
    Table(TableId, Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    /// Something that did not check; its error is reported.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    pub name: String,
    pub variants: Vec<String>,
    /// `None` for built-in enums.
    pub span: Option<Span>,
    pub variant_spans: Vec<Span>,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrDef {
    pub context: Context,
    pub name: String,
    pub ty: Type,
    pub default: Option<Value>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstDef {
    pub name: String,
    pub ty: Type,
    pub value: Expr,
    /// The folded value; `None` if the definition has an error.
    pub folded: Option<Value>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRow {
    /// `None` for `_`.
    pub condition: Option<Expr>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDef {
    pub name: String,
    pub params: Vec<(String, Type)>,
    pub result: Type,
    pub rows: Vec<TableRow>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LetDef {
    pub name: String,
    pub value: Expr,
    /// The whole `let` item.
    pub span: Span,
    /// The name where it is declared.
    pub name_span: Span,
}

/// An `exclude`, `reject` or `hold` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDef {
    pub condition: Expr,
    pub because: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyStockDef {
    pub amount: Expr,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostDef {
    pub name: String,
    pub basis: CostBasis,
    pub value: Expr,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeasureDef {
    Shipments,
    Cost,
    Aggregate(Aggregator, Expr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriterionDef {
    pub direction: Direction,
    pub measure: MeasureDef,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageDef {
    pub name: String,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortageDef {
    pub action: ShortageAction,
    pub because: Option<String>,
    pub span: Span,
}

/// A policy or a compliance profile, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDef {
    pub kind: PolicyKind,
    pub name: String,
    pub span: Span,
    pub doc: Option<String>,
    pub applies: Option<Expr>,
    /// 0 when the policy does not say.
    pub priority: i64,
    pub lets: Vec<LetDef>,
    pub excludes: Vec<RuleDef>,
    pub safety_stock: Vec<SafetyStockDef>,
    pub costs: Vec<CostDef>,
    /// Empty when the policy has no `objective`: routing then minimizes cost.
    pub objective: Vec<CriterionDef>,
    pub max_shipments: Option<(u32, Span)>,
    pub ship_complete: Option<Span>,
    pub no_line_split: Option<Span>,
    pub stages: Vec<StageDef>,
    pub on_shortage: Option<ShortageDef>,
    pub rejects: Vec<RuleDef>,
    pub holds: Vec<RuleDef>,
}

impl PolicyDef {
    /// The expressions of the policy's items (`let`s aside): `applies when`, rules,
    /// safety stock, costs, objective criteria and stages.
    pub fn item_expressions(&self) -> Vec<&Expr> {
        let mut exprs: Vec<&Expr> = Vec::new();
        exprs.extend(&self.applies);
        for rule in self.excludes.iter().chain(&self.rejects).chain(&self.holds) {
            exprs.push(&rule.condition);
        }
        for s in &self.safety_stock {
            exprs.push(&s.amount);
            exprs.extend(&s.condition);
        }
        for c in &self.costs {
            exprs.push(&c.value);
            exprs.extend(&c.condition);
        }
        for c in &self.objective {
            if let MeasureDef::Aggregate(_, e) = &c.measure {
                exprs.push(e);
            }
        }
        for s in &self.stages {
            exprs.extend(&s.condition);
        }
        exprs
    }
}

/// A checked ruleset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub enums: Vec<EnumDef>,
    pub attrs: Vec<AttrDef>,
    pub consts: Vec<ConstDef>,
    pub tables: Vec<TableDef>,
    pub policies: Vec<PolicyDef>,
    /// The currency of the ruleset's money literals, if it has any.
    pub currency: Option<String>,
}

impl Model {
    pub fn enum_names(&self) -> Vec<String> {
        self.enums.iter().map(|e| e.name.clone()).collect()
    }
}
