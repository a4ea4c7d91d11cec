//! The syntax tree, faithful to the source: every node keeps its span, parentheses
//! are kept, and literals keep the unit text the author wrote.

use allot_diagnostics::Span;
use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// The declarations of one file, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    pub decls: Vec<Decl>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    pub kind: DeclKind,
    pub span: Span,
    /// The text of the `///` comments just before the declaration.
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclKind {
    Schema(Schema),
    Const(Const),
    Table(Table),
    Policy(Policy),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    pub enums: Vec<EnumDecl>,
    pub attrs: Vec<AttrDecl>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Ident>,
    pub span: Span,
    pub doc: Option<String>,
}

/// `item.category: Category = apparel`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrDecl {
    pub owner: Ident,
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Expr,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExpr {
    Named(Ident),
    Set(Box<TypeExpr>, Span),
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(ident) => ident.span,
            TypeExpr::Set(_, span) => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Const {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: Ident,
    pub params: Vec<Param>,
    pub result: TypeExpr,
    pub rows: Vec<TableRow>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRow {
    /// `None` for the `_` row.
    pub condition: Option<Expr>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Policy,
    Compliance,
}

impl PolicyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyKind::Policy => "policy",
            PolicyKind::Compliance => "compliance",
        }
    }
}

/// What a policy routes: orders out to shoppers, or returned items back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    Orders,
    Returns,
}

/// A `policy` or a `compliance` profile (of orders, or of returns: `returns "NAME"`,
/// `compliance returns "NAME"`): both are lists of items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub domain: Domain,
    pub name: StrLit,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostBasis {
    Shipment,
    Line,
    Unit,
}

impl CostBasis {
    pub fn keyword(self) -> &'static str {
        match self {
            CostBasis::Shipment => "shipment",
            CostBasis::Line => "line",
            CostBasis::Unit => "unit",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShortageAction {
    Backorder,
    Cancel,
    Reject,
}

impl ShortageAction {
    pub fn keyword(self) -> &'static str {
        match self {
            ShortageAction::Backorder => "backorder",
            ShortageAction::Cancel => "cancel",
            ShortageAction::Reject => "reject",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Minimize,
    Maximize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregator {
    Max,
    Sum,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Measure {
    Shipments,
    Cost,
    Aggregate(Aggregator, Expr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criterion {
    pub direction: Direction,
    pub measure: Measure,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub value: i64,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Applies(Expr),
    Priority(Count),
    Let {
        name: Ident,
        value: Expr,
    },
    Exclude {
        condition: Expr,
        because: Option<StrLit>,
    },
    SafetyStock {
        amount: Expr,
        condition: Option<Expr>,
    },
    Cost {
        name: Ident,
        basis: CostBasis,
        value: Expr,
        condition: Option<Expr>,
    },
    Objective(Vec<Criterion>),
    MaxShipments(Count),
    ShipComplete,
    NoLineSplit,
    Stage {
        name: StrLit,
        condition: Option<Expr>,
    },
    OnShortage {
        action: ShortageAction,
        because: Option<StrLit>,
    },
    Reject {
        condition: Expr,
        because: Option<StrLit>,
    },
    Hold {
        condition: Expr,
        because: Option<StrLit>,
    },
    /// `transit = E`: how long a shipment from the node takes to arrive.
    Transit(Expr),
    /// `ship within N business days`.
    ShipWithin {
        days: Count,
        because: Option<StrLit>,
    },
    /// `deliver within N days`.
    DeliverWithin {
        days: Count,
        because: Option<StrLit>,
    },
    /// `deliver by E`, E a date.
    DeliverBy {
        date: Expr,
        because: Option<StrLit>,
    },
    /// `refund without return when C`: in a returns policy, the shopper keeps the line.
    Keep {
        condition: Expr,
        because: Option<StrLit>,
    },
    /// `dispose when C`: in a returns policy, the line is not sent anywhere.
    Dispose {
        condition: Expr,
        because: Option<StrLit>,
    },
}

impl ItemKind {
    /// How the item reads in messages: "`priority`", "`max shipments`".
    pub fn describe(&self) -> &'static str {
        match self {
            ItemKind::Applies(_) => "applies when",
            ItemKind::Priority(_) => "priority",
            ItemKind::Let { .. } => "let",
            ItemKind::Exclude { .. } => "exclude when",
            ItemKind::SafetyStock { .. } => "safety stock",
            ItemKind::Cost { .. } => "cost",
            ItemKind::Objective(_) => "objective",
            ItemKind::MaxShipments(_) => "max shipments",
            ItemKind::ShipComplete => "ship complete",
            ItemKind::NoLineSplit => "no line split",
            ItemKind::Stage { .. } => "stage",
            ItemKind::OnShortage { .. } => "on shortage",
            ItemKind::Reject { .. } => "reject when",
            ItemKind::Hold { .. } => "hold when",
            ItemKind::Transit(_) => "transit",
            ItemKind::ShipWithin { .. } => "ship within",
            ItemKind::DeliverWithin { .. } => "deliver within",
            ItemKind::DeliverBy { .. } => "deliver by",
            ItemKind::Keep { .. } => "refund without return when",
            ItemKind::Dispose { .. } => "dispose when",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
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
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "not in",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }
}

/// The unit the author wrote after a number: `km`, `USD/kg`, `%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitText {
    pub numerator: Ident,
    pub denominator: Option<Ident>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    Number(Decimal),
    Quantity { value: Decimal, unit: UnitText },
    Str(String),
    List(Vec<Expr>),
    Name(Ident),
    Field(Box<Expr>, Ident),
    Call(Ident, Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
}
