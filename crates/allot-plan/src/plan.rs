//! The evaluation plan of a ruleset: what the runtime executes.

use crate::program::{Literal, Owner, Program};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The currency of the ruleset's money amounts; the network must use it.
    pub currency: Option<String>,
    /// Built-in enums first (`NodeKind`, `Method`, `Service`), then the schema's.
    pub enums: Vec<EnumInfo>,
    /// Custom attributes; `Op::Custom(_, i)` reads `attributes[i]`.
    pub attributes: Vec<AttributeInfo>,
    pub tables: Vec<TablePlan>,
    /// Policies and compliance profiles.
    pub policies: Vec<PolicyPlan>,
    /// The source files, for positions in traces.
    pub files: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumInfo {
    pub name: String,
    pub variants: Vec<String>,
}

/// The type of a custom attribute, for validating data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    Bool,
    Int,
    Number,
    String,
    Location,
    Money,
    Distance,
    Weight,
    Duration,
    Percent,
    Enum(u32),
    Set(Box<ValueType>),
}

impl ValueType {
    pub fn describe(&self, enums: &[EnumInfo]) -> String {
        match self {
            ValueType::Bool => "a bool".into(),
            ValueType::Int => "a whole number".into(),
            ValueType::Number => "a number".into(),
            ValueType::String => "a string".into(),
            ValueType::Location => "a location".into(),
            ValueType::Money => "a money amount (a number)".into(),
            ValueType::Distance => "a distance in km (a number)".into(),
            ValueType::Weight => "a weight in kg (a number)".into(),
            ValueType::Duration => "a duration in minutes (a number)".into(),
            ValueType::Percent => "a percentage (a number, 90 for 90%)".into(),
            ValueType::Enum(id) => match enums.get(*id as usize) {
                Some(e) => format!("one of {}", e.variants.join(", ")),
                None => "an enum value".into(),
            },
            ValueType::Set(element) => format!("a list of {}", element.describe(enums)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeInfo {
    pub owner: Owner,
    pub name: String,
    pub ty: ValueType,
    pub default: Literal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TablePlan {
    pub name: String,
    pub params: u32,
    /// The first row whose condition holds (`None`: `_`) gives the value.
    pub rows: Vec<(Option<Program>, Program)>,
}

/// Where an item is written: file index, 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub file: u32,
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyKind {
    Policy,
    Compliance,
}

/// What a policy routes: orders, or returned items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Domain {
    #[default]
    Orders,
    Returns,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostBasis {
    Shipment,
    Line,
    Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ShortageAction {
    Backorder,
    Cancel,
    Reject,
}

impl ShortageAction {
    pub fn name(self) -> &'static str {
        match self {
            ShortageAction::Backorder => "backorder",
            ShortageAction::Cancel => "cancel",
            ShortageAction::Reject => "reject",
        }
    }
}

/// An `exclude`, `reject` or `hold`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RulePlan {
    pub condition: Program,
    pub because: Option<String>,
    pub origin: Origin,
    /// For an exclusion `A and distance(node, order.ship_to) > R` with `A` about the
    /// node alone: lets the runtime drop far nodes without evaluating anything else.
    pub guard: Option<DistanceGuard>,
    /// Whether the exclusion is a promise (`ship within`, `deliver within`, `deliver
    /// by`, which its source reads as): it excludes the nodes that miss it.
    pub promise: bool,
}

/// The node is excluded when `node_condition` holds (or is absent) and its distance
/// to the order's destination is beyond `km` (or at it, when `inclusive`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistanceGuard {
    pub km: f64,
    pub inclusive: bool,
    pub node_condition: Option<Program>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SafetyStockPlan {
    pub amount: Program,
    pub condition: Option<Program>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostPlan {
    pub name: String,
    pub basis: CostBasis,
    pub value: Program,
    pub condition: Option<Program>,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Minimize,
    Maximize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Measure {
    Shipments,
    Cost,
    /// `max(E)` over the shipments of a plan.
    Max(Program),
    /// `sum(E)` over the shipments of a plan.
    Sum(Program),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    pub direction: Direction,
    pub measure: Measure,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagePlan {
    pub name: String,
    pub condition: Option<Program>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShortagePlan {
    pub action: ShortageAction,
    pub because: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LetPlan {
    pub name: String,
    pub value: Program,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyPlan {
    pub kind: PolicyKind,
    pub domain: Domain,
    pub name: String,
    pub origin: Origin,
    pub priority: i64,
    pub applies: Option<Program>,
    pub lets: Vec<LetPlan>,
    pub excludes: Vec<RulePlan>,
    pub rejects: Vec<RulePlan>,
    pub holds: Vec<RulePlan>,
    pub safety_stock: Vec<SafetyStockPlan>,
    pub costs: Vec<CostPlan>,
    /// Never empty for a policy: `minimize cost` when the source has no objective.
    pub objective: Vec<Criterion>,
    pub max_shipments: Option<u32>,
    pub ship_complete: bool,
    pub no_line_split: bool,
    pub stages: Vec<StagePlan>,
    /// `None`: the policy does not say (a policy then backorders).
    pub shortage: Option<ShortagePlan>,
    /// How long a shipment from a node takes to arrive (a duration, per order and
    /// node): a decision's `deliver_by` is the ship date plus its whole days. Promises
    /// (`ship within`, `deliver within`, `deliver by`) are among `excludes`.
    pub transit: Option<Program>,
    /// For a compliance profile that reads delivery dates, which depend on the routing
    /// policy's transit: the policy (its index in [`Plan::policies`]) this copy of the
    /// profile is compiled for, with that transit. Such a profile has a copy per policy
    /// with a transit, and only the routing policy's copy applies to an order.
    #[serde(default)]
    pub for_policy: Option<u32>,
    /// Returns: per line, `refund without return when` (the shopper keeps it) and
    /// `dispose when`, before any node is considered.
    pub keeps: Vec<RulePlan>,
    pub disposes: Vec<RulePlan>,
}

impl PolicyPlan {
    /// Every program of the policy: `applies`, transit, `let`s, rules and their guards,
    /// safety stock, costs, stages, objective terms.
    pub fn programs(&self) -> Vec<&Program> {
        let mut programs: Vec<&Program> = Vec::new();
        programs.extend(&self.applies);
        programs.extend(&self.transit);
        programs.extend(self.lets.iter().map(|l| &l.value));
        for rule in (self.excludes.iter())
            .chain(&self.rejects)
            .chain(&self.holds)
            .chain(&self.keeps)
            .chain(&self.disposes)
        {
            programs.push(&rule.condition);
            if let Some(guard) = &rule.guard {
                programs.extend(&guard.node_condition);
            }
        }
        for s in &self.safety_stock {
            programs.push(&s.amount);
            programs.extend(&s.condition);
        }
        for c in &self.costs {
            programs.push(&c.value);
            programs.extend(&c.condition);
        }
        for s in &self.stages {
            programs.extend(&s.condition);
        }
        for c in &self.objective {
            if let Measure::Max(p) | Measure::Sum(p) = &c.measure {
                programs.push(p);
            }
        }
        programs
    }
}
