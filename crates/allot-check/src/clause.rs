//! Where an expression stands decides which contexts it may mention.

use crate::model::Deps;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clause {
    Const,
    Table,
    SchemaDefault,
    Applies,
    Reject,
    Hold,
    Let,
    Exclude,
    SafetyStock,
    CostPerShipment,
    CostPerLine,
    CostPerUnit,
    Objective,
    Stage,
    Transit,
    DeliverBy,
    /// `refund without return when`, `dispose when`: per returned line.
    ReturnOutcome,
}

impl Clause {
    pub fn allowed(self) -> Deps {
        let order_node_line = Deps::ORDER.union(Deps::NODE).union(Deps::LINE);
        match self {
            Clause::Const | Clause::Table | Clause::SchemaDefault => Deps::NONE,
            Clause::Applies | Clause::Reject | Clause::Hold => Deps::ORDER,
            Clause::ReturnOutcome => Deps::ORDER.union(Deps::LINE),
            Clause::Let
            | Clause::Exclude
            | Clause::SafetyStock
            | Clause::CostPerLine
            | Clause::CostPerUnit => order_node_line,
            Clause::CostPerShipment | Clause::Objective => {
                Deps::ORDER.union(Deps::NODE).union(Deps::SHIPMENT)
            }
            Clause::Stage | Clause::Transit | Clause::DeliverBy => Deps::ORDER.union(Deps::NODE),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Clause::Const => "a `const`",
            Clause::Table => "a `table`",
            Clause::SchemaDefault => "a schema default",
            Clause::Applies => "`applies when`",
            Clause::Reject => "`reject when`",
            Clause::Hold => "`hold when`",
            Clause::Let => "a `let`",
            Clause::Exclude => "`exclude when`",
            Clause::SafetyStock => "`safety stock`",
            Clause::CostPerShipment => "a `per shipment` cost",
            Clause::CostPerLine => "a `per line` cost",
            Clause::CostPerUnit => "a `per unit` cost",
            Clause::Objective => "an objective",
            Clause::Stage => "a `stage`",
            Clause::Transit => "`transit`",
            Clause::DeliverBy => "`deliver by`",
            Clause::ReturnOutcome => "a return's outcome (`refund without return`, `dispose`)",
        }
    }

    /// Why a context is missing here, in the merchant's terms.
    pub fn why_not(self, missing: Deps) -> &'static str {
        if missing.contains(Deps::SHIPMENT) {
            return "`shipment` exists only in `per shipment` costs and objectives, which are computed per shipment";
        }
        match self {
            Clause::Const | Clause::SchemaDefault => {
                "constants and defaults are fixed values; they cannot depend on orders, lines or nodes"
            }
            Clause::Table => "a table sees only its parameters: pass the value as an argument",
            Clause::Applies | Clause::Reject | Clause::Hold => {
                "this is decided once per order, before any node or line is considered"
            }
            Clause::CostPerShipment => {
                "a per-shipment cost is charged once for each node used, whatever lines it ships; use `per line` or `per unit` for line-dependent costs"
            }
            Clause::Objective => {
                "objective terms are computed per shipment of a plan, not per line"
            }
            Clause::Stage => {
                "a stage is a set of nodes for the whole order; it cannot depend on a line"
            }
            Clause::ReturnOutcome => {
                "a returned line is kept or disposed of before any node is considered"
            }
            Clause::Transit | Clause::DeliverBy => {
                "a node ships the whole order on one day: its transit and delivery date cannot depend on a line"
            }
            Clause::Let
            | Clause::Exclude
            | Clause::SafetyStock
            | Clause::CostPerLine
            | Clause::CostPerUnit => "this context does not exist here",
        }
    }
}
