//! The checked model: what a ruleset means, with every name resolved and every
//! expression typed. It is what the plan compiler lowers and what the reference
//! evaluator walks.

use crate::types::{Dim, EnumId, Type};
use allot_diagnostics::Span;
use allot_syntax::ast::{
    Aggregator, BinaryOp, CostBasis, Direction, Domain, PolicyKind, ShortageAction, UnaryOp,
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
    /// A return request, in returns policies: the same record as an order.
    Return,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Order => "order",
            Context::Line => "line",
            Context::Node => "node",
            Context::Shipment => "shipment",
            Context::Item => "item",
            Context::Return => "return",
        }
    }

    /// The dependency an attribute of this context brings.
    pub fn deps(self) -> Deps {
        match self {
            Context::Order | Context::Return => Deps::ORDER,
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
pub const CONDITION: EnumId = EnumId(3);

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
    (
        "Condition",
        &["new", "opened", "used", "damaged"],
        "The condition of a returned item, as the shopper or the carrier reports it.",
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
    OrderPromisedBy = Order."promised_by": Type::Date, "The delivery date promised to the shopper (the order's `promised_by`); an order without one cannot be routed by a rule that reads it.";
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
    NodeHandlingDays = Node."handling_days": Type::Int, "Working days the node needs to pick and pack an order (its `handling_days`).";
    NodeShipDate = Node."ship_date": Type::Date, "The earliest day the node can ship this order: the day the order reaches it (the next working day if placed after the node's cutoff or on a day off), plus its handling days, in the node's calendar and time zone.";
    NodeShipDays = Node."ship_days": Type::Int, "Calendar days from the day the order was placed to `node.ship_date`.";
    NodeShipBusinessDays = Node."ship_business_days": Type::Int, "The node's working days from the day the order was placed (or the next working day) to `node.ship_date`: what `ship within N business days` compares with N.";
    NodeDeliveryDate = Node."delivery_date": Type::Date, "`node.ship_date` plus the policy's `transit`, in whole days.";
    NodeDeliveryDays = Node."delivery_days": Type::Int, "Calendar days from the day the order was placed to `node.delivery_date`.";
    ShipmentWeight = Shipment."weight": Type::Quantity(Dim::Weight), "Total weight of the shipment.";
    ShipmentUnits = Shipment."units": Type::Int, "Units in the shipment.";
    ShipmentLines = Shipment."lines": Type::Int, "Lines in the shipment.";
    ShipmentValue = Shipment."value": Type::Quantity(Dim::Money), "Value of the units in the shipment.";
    ShipmentShipDate = Shipment."ship_date": Type::Date, "The day the shipment ships: its node's `ship_date`.";
    ShipmentShipDays = Shipment."ship_days": Type::Int, "Calendar days from the order to the shipment's ship date.";
    ShipmentDeliveryDate = Shipment."delivery_date": Type::Date, "The day the shipment arrives: its ship date plus the policy's `transit`.";
    ShipmentDeliveryDays = Shipment."delivery_days": Type::Int, "Calendar days from the order to the shipment's delivery.";
    ReturnId = Return."id": Type::String, "The return's identifier.";
    ReturnChannel = Return."channel": Type::String, "Where the return was started: \"web\", \"store\", \"marketplace\"…";
    ReturnReason = Return."reason": Type::String, "Why the shopper returns it: \"damaged\", \"wrong_size\", \"not_as_described\"…";
    ReturnFrom = Return."from": Type::Location, "Where the shopper sends it from.";
    ReturnValue = Return."value": Type::Quantity(Dim::Money), "The sum of price × quantity over the returned lines.";
    ReturnTags = Return."tags": string_set(), "Free-form tags on the return.";
    ReturnLines = Return."lines": Type::Int, "The number of returned lines.";
    LineCondition = Line."condition": Type::Enum(CONDITION), "In returns: the returned item's condition, new, opened, used or damaged.";
}

impl BuiltinAttr {
    /// What reading the attribute depends on: its record, and the order for the dates,
    /// which depend on when the order was placed.
    pub fn deps(self) -> Deps {
        match self.reads_schedule() {
            true => self.context().deps().union(Deps::ORDER),
            false => self.context().deps(),
        }
    }

    /// Whether the attribute is a ship or delivery date (or a count of days to one):
    /// it needs the order's `placed_at`.
    pub fn reads_schedule(self) -> bool {
        use BuiltinAttr::*;
        matches!(
            self,
            NodeShipDate
                | NodeShipDays
                | NodeShipBusinessDays
                | NodeDeliveryDate
                | NodeDeliveryDays
                | ShipmentShipDate
                | ShipmentShipDays
                | ShipmentDeliveryDate
                | ShipmentDeliveryDays
        )
    }

    /// The domain the attribute belongs to, when only one: returns read `return` and
    /// `line.condition`, orders read `order`.
    pub fn domain(self) -> Option<Domain> {
        match self.context() {
            Context::Return => Some(Domain::Returns),
            Context::Order => Some(Domain::Orders),
            _ if self == BuiltinAttr::LineCondition => Some(Domain::Returns),
            _ => None,
        }
    }

    /// Whether the attribute is a delivery date (or days to it): it needs the policy's
    /// `transit`.
    pub fn reads_delivery(self) -> bool {
        use BuiltinAttr::*;
        matches!(
            self,
            NodeDeliveryDate | NodeDeliveryDays | ShipmentDeliveryDate | ShipmentDeliveryDays
        )
    }
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
    Need,
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
        (
            Builtin::Need,
            "need",
            "need(node, line.sku): units the node is short of its stock target for the SKU (the inventory entry's `target` less what is free there); 0 without a target.",
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
    /// Whether the expression reads a delivery date, directly or through `lets`.
    pub fn reads_delivery(&self, lets: &[LetDef]) -> bool {
        fn walk(e: &Expr, lets: &[LetDef], seen: &mut Vec<u32>) -> bool {
            match &e.kind {
                ExprKind::Attr(AttrRef::Builtin(attr)) if attr.reads_delivery() => true,
                ExprKind::Let(id) if !seen.contains(&id.0) => {
                    seen.push(id.0);
                    (lets.get(id.0 as usize)).is_some_and(|l| walk(&l.value, lets, seen))
                }
                _ => e.children().into_iter().any(|c| walk(c, lets, seen)),
            }
        }
        walk(self, lets, &mut Vec::new())
    }

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

/// A promise of time: a node that cannot keep it cannot take the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Promise {
    /// `ship within N business days`.
    ShipWithin(u32),
    /// `deliver within N days`.
    DeliverWithin(u32),
    /// `deliver by E`, E a date.
    DeliverBy(Expr),
}

impl Promise {
    /// How the promise reads in the source, for messages and traces.
    pub fn describe(&self, source: &str) -> String {
        match self {
            Promise::ShipWithin(n) => format!("ship within {n} business {}", days_word(*n)),
            Promise::DeliverWithin(n) => format!("deliver within {n} {}", days_word(*n)),
            Promise::DeliverBy(_) => format!("deliver by {source}"),
        }
    }
}

fn days_word(n: u32) -> &'static str {
    if n == 1 { "day" } else { "days" }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromiseDef {
    pub promise: Promise,
    pub because: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitDef {
    /// A duration.
    pub value: Expr,
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
    pub domain: Domain,
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
    pub transit: Option<TransitDef>,
    pub promises: Vec<PromiseDef>,
    /// Returns: `refund without return when` and `dispose when`, per line.
    pub keeps: Vec<RuleDef>,
    pub disposes: Vec<RuleDef>,
}

impl PolicyDef {
    /// Whether the policy promises or reads a delivery date, which its routing policy's
    /// transit gives.
    pub fn reads_delivery(&self) -> bool {
        let promises = self
            .promises
            .iter()
            .any(|p| matches!(p.promise, Promise::DeliverWithin(_) | Promise::DeliverBy(_)));
        promises || (self.item_expressions().into_iter()).any(|e| e.reads_delivery(&self.lets))
    }

    /// The expressions of the policy's items (`let`s aside): `applies when`, rules,
    /// safety stock, costs, objective criteria and stages.
    pub fn item_expressions(&self) -> Vec<&Expr> {
        let mut exprs: Vec<&Expr> = Vec::new();
        exprs.extend(&self.applies);
        for rule in (self.excludes.iter())
            .chain(&self.rejects)
            .chain(&self.holds)
            .chain(&self.keeps)
            .chain(&self.disposes)
        {
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
        exprs.extend(self.transit.as_ref().map(|t| &t.value));
        for p in &self.promises {
            if let Promise::DeliverBy(date) = &p.promise {
                exprs.push(date);
            }
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
