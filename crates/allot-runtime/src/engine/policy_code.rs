//! A policy's programs lowered once, when the engine is built: the form every later
//! step evaluates. Nothing here runs per order, and nothing here reads stock or load.

use super::near::NearIndex;
use crate::eval::{Code, Lowering};
use crate::value::Radius;
use allot_plan::{CostBasis, Level, Measure, NodeAttr, Op, OrderAttr, PolicyPlan, Program};

pub(super) struct PolicyCode {
    pub(super) applies: Option<Code>,
    pub(super) lets: Vec<Code>,
    pub(super) excludes: Vec<Code>,
    /// Distance guards of exclusions: (radius, inclusive, node condition).
    pub(super) guards: Vec<(Radius, bool, Option<Code>)>,
    /// For the first guard: who stocks each SKU, split for a latitude window.
    pub(super) near: Option<NearIndex>,
    pub(super) rejects: Vec<Code>,
    /// Returns: `refund without return when`, `dispose when`.
    pub(super) keeps: Vec<Code>,
    pub(super) disposes: Vec<Code>,
    pub(super) holds: Vec<Code>,
    pub(super) safety: Vec<(Code, Option<Code>)>,
    pub(super) costs: Vec<(Code, Option<Code>)>,
    pub(super) stages: Vec<Option<Code>>,
    /// Per objective criterion: the `max(E)` / `sum(E)` program.
    pub(super) aggregates: Vec<Option<Code>>,
    /// Whether no per-shipment cost can fall as lines are added to a shipment (see
    /// [`Problem::costs_rise`]).
    pub(super) shipment_costs_rise: bool,
    pub(super) transit: Option<Code>,
    /// The order fields the policy cannot route without: those its `applies when`
    /// reads, and those any of its programs reads.
    pub(super) applies_needs: Needs,
    pub(super) needs: Needs,
}

/// Order fields that are optional in data but that some rules read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Needs {
    pub(super) placed_at: bool,
    pub(super) promised_by: bool,
}

impl Needs {
    /// What `programs` read, directly or through the policy's `lets`.
    fn of<'p>(programs: impl IntoIterator<Item = &'p Program>, lets: &[&Program]) -> Needs {
        let mut needs = Needs::default();
        let mut seen = vec![false; lets.len()];
        let mut pending: Vec<&Program> = programs.into_iter().collect();
        while let Some(program) = pending.pop() {
            for op in &program.ops {
                match op {
                    Op::Node(
                        NodeAttr::ShipDate | NodeAttr::ShipDays | NodeAttr::ShipBusinessDays,
                    ) => needs.placed_at = true,
                    Op::Order(OrderAttr::PromisedBy) => needs.promised_by = true,
                    Op::Let(index) => {
                        let index = *index as usize;
                        if index < lets.len() && !seen[index] {
                            seen[index] = true;
                            pending.push(lets[index]);
                        }
                    }
                    _ => {}
                }
            }
        }
        needs
    }

    /// The first field that `needs` asks for and the order lacks.
    pub(super) fn missing(self, order: &crate::order::Order) -> Option<&'static str> {
        if self.placed_at && order.placed.is_none() {
            Some("placed_at")
        } else if self.promised_by && order.promised_by.is_none() {
            Some("promised_by")
        } else {
            None
        }
    }
}

pub(super) fn compile_policy(p: &PolicyPlan, mut lowering: Lowering) -> PolicyCode {
    lowering.lower_lets(&p.lets.iter().map(|l| &l.value).collect::<Vec<_>>());
    let lower = |program: &Program| lowering.lower(program);
    let guards: Vec<(Radius, bool, Option<Code>)> = p
        .excludes
        .iter()
        .filter_map(|r| r.guard.as_ref())
        .map(|g| {
            let condition = g.node_condition.as_ref().map(lower);
            (Radius::new(g.km), g.inclusive, condition)
        })
        .collect();
    let near = guards
        .first()
        .filter(|(_, _, condition)| condition.as_ref().is_none_or(|c| c.level == Level::Node))
        .map(|(radius, _, condition)| {
            NearIndex::new(*radius, condition.as_ref(), lowering.world.network)
        });
    let costs: Vec<(Code, Option<Code>)> = p
        .costs
        .iter()
        .map(|c| (lower(&c.value), c.condition.as_ref().map(lower)))
        .collect();
    let shipment_costs_rise = p
        .costs
        .iter()
        .zip(&costs)
        .all(|(cost, (amount, condition))| {
            cost.basis != CostBasis::Shipment
                || (amount.never_falls(&lowering)
                    && (condition.as_ref()).is_none_or(|c| c.ignores_shipment(&lowering)))
        });
    let lets: Vec<&Program> = p.lets.iter().map(|l| &l.value).collect();
    PolicyCode {
        applies_needs: Needs::of(&p.applies, &lets),
        needs: Needs::of(p.programs(), &lets),
        transit: p.transit.as_ref().map(lower),
        applies: p.applies.as_ref().map(lower),
        excludes: p.excludes.iter().map(|r| lower(&r.condition)).collect(),
        guards,
        near,
        rejects: p.rejects.iter().map(|r| lower(&r.condition)).collect(),
        keeps: p.keeps.iter().map(|r| lower(&r.condition)).collect(),
        disposes: p.disposes.iter().map(|r| lower(&r.condition)).collect(),
        holds: p.holds.iter().map(|r| lower(&r.condition)).collect(),
        safety: p
            .safety_stock
            .iter()
            .map(|s| (lower(&s.amount), s.condition.as_ref().map(lower)))
            .collect(),
        stages: p
            .stages
            .iter()
            .map(|s| s.condition.as_ref().map(lower))
            .collect(),
        aggregates: p
            .objective
            .iter()
            .map(|c| match &c.measure {
                Measure::Max(e) | Measure::Sum(e) => Some(lower(e)),
                _ => None,
            })
            .collect(),
        shipment_costs_rise,
        costs,
        lets: lowering.lets,
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;
    use crate::network::Network;
    use allot_diagnostics::Sources;
    use serde_json::json;

    /// Which per-shipment costs let the search bound a plan's cost before all its lines
    /// are placed: those that never fall as a shipment grows (see `eval::trend`).
    #[test]
    fn shipment_costs_that_never_fall() {
        let cases = [
            ("6 USD", true),
            (
                "ground(d) + 0.35 USD/kg * shipment.weight * node.factor",
                true,
            ),
            ("freight(d, shipment.weight)", true),
            (
                "max(node.handling_cost, 2 USD) + 0.5 USD * shipment.units",
                true,
            ),
            ("0.5 USD * shipment.units when node.kind == store", true),
            (
                "if node.kind == store then 1 USD * shipment.lines else 2 USD",
                true,
            ),
            ("0.01 USD/kg * shipment.weight * shipment.units", true),
            ("-2 USD when node.kind == store", true),
            ("5 USD - 0.1 USD * shipment.units", false),
            ("1 USD when shipment.units > 2", false),
            ("if shipment.units > 2 then 1 USD else 0 USD", false),
            ("0.35 USD/kg * shipment.weight * node.offset", false),
            ("discount(shipment.value)", false),
            ("step(shipment.weight)", false),
            ("-0.1 USD * shipment.lines", false),
        ];
        let policies: String = cases
            .iter()
            .enumerate()
            .map(|(i, (cost, _))| {
                format!(
                    "policy \"p{i}\" {{\n  let d = distance(node, order.ship_to)\n  \
                     cost c per shipment = {cost}\n}}\n"
                )
            })
            .collect();
        let ruleset = format!(
            "schema {{\n  node.factor: number = 1\n  node.offset: number = 0\n}}\n\
             table ground(d: distance) -> money {{\n  d < 150 km => 6 USD\n  _ => 9 USD\n}}\n\
             table freight(d: distance, w: weight) -> money {{\n  w <= 30 kg => 0 USD\n  \
             w <= 60 kg => 0.001 USD/km * d\n  _ => 0.001 USD/km * d + 0.1 USD/kg * (w - 60 kg)\n}}\n\
             table discount(v: money) -> money {{\n  v < 100 USD => 5 USD\n  _ => 2 USD\n}}\n\
             table step(w: weight) -> money {{\n  w < 10 kg => 5 USD\n  w < 20 kg => 3 USD\n  _ => 9 USD\n}}\n{policies}"
        );
        let mut sources = Sources::new();
        sources.add("costs.allot", &ruleset);
        let plan = allot_compile::compile_sources(&sources).unwrap_or_else(|diagnostics| {
            panic!(
                "{}",
                allot_diagnostics::render_human(&diagnostics, &sources, false)
            )
        });
        let node = |id: &str, offset: f64| {
            json!({ "id": id, "kind": "dc", "lat": 40.0, "lon": -74.0, "country": "US",
                    "attributes": { "factor": 1.5, "offset": offset } })
        };
        let network = json!({ "currency": "USD", "nodes": [node("A", 1.0), node("B", -1.0)],
                               "items": [], "inventory": [] });
        let network = Network::from_value(&network, &plan).expect("a valid network");
        let engine = Engine::new(plan, network);
        for (i, (cost, rises)) in cases.iter().enumerate() {
            let index = (engine.plan.policies.iter())
                .position(|p| p.name == format!("p{i}"))
                .expect("the policy");
            assert_eq!(
                engine.policies[index].shipment_costs_rise, *rises,
                "cost {cost}"
            );
        }
    }
}
