//! From the chosen plan to the decision: shipments in node order with their costs, the
//! shortage rule for what could not be placed, the trace when explaining, and the
//! [`Commit`] of what the order takes. The plan itself is [`super::scoring`]'s; nothing
//! here changes the engine.

use super::candidates::Gathered;
use super::router::{Applied, Commit, Router, Settings};
use super::scoring::ShipmentEvaluator;
use crate::decision::*;
use crate::search::Scored;
use allot_plan::{Measure, PolicyPlan, ShortageAction};
use std::collections::BTreeMap;

impl Router<'_> {
    pub(super) fn place(
        mut self,
        id: Option<String>,
        policy_name: String,
        profiles: Vec<String>,
        mut layers: Vec<Applied>,
    ) -> (Decision, Commit) {
        let order = self.order;
        let network = self.world.network;
        let settings = Settings::new(self.engine, &layers);
        let mut gathered = Gathered::new(order.lines.len());
        let total: i64 = order.lines.iter().map(|l| l.qty).sum();

        let (result, chosen_stage) = self.best_plan(&mut layers, &settings, &mut gathered);
        let line_traces: Vec<LineTrace> = if self.explain {
            order
                .lines
                .iter()
                .zip(std::mem::take(&mut gathered.traces))
                .map(|(line, candidates)| LineTrace {
                    line: line.id.to_string(),
                    sku: line.sku.to_string(),
                    candidates,
                })
                .collect()
        } else {
            Vec::new()
        };
        let Settings {
            ship_complete,
            shortage,
            ..
        } = settings;
        let main = &self.engine.plan.policies[layers[0].index];
        let best = &result.best;

        // The decision.
        let mut commit = Commit::default();
        let mut shipments = Vec::new();
        let mut by_node: BTreeMap<u32, Vec<(usize, i64)>> = BTreeMap::new();
        for (l, allocation) in best.allocation.iter().enumerate() {
            for &(node, units) in allocation.parts() {
                by_node.entry(node).or_default().push((l, units));
            }
        }
        let mut ordered: Vec<u32> = by_node.keys().copied().collect();
        ordered.sort_by_key(|&n| self.engine.rank[n as usize]);
        let mut total_cost = 0.0;
        for node in ordered {
            let cost = best.shipments.get(&node).map_or(0.0, |s| s.1);
            total_cost += cost;
            let mut shipped = Vec::new();
            for &(l, units) in &by_node[&node] {
                let line = &order.lines[l];
                shipped.push(ShippedLine {
                    line: line.id.to_string(),
                    sku: line.sku.to_string(),
                    qty: units,
                });
                commit.units.push((line.item, node, units));
            }
            if !self.engine.digital[node as usize] {
                commit.shipments.push(node);
            }
            let dates = self.dates(node, layers[0].index);
            shipments.push(Shipment {
                node: network.nodes[node as usize].id.to_string(),
                lines: shipped,
                cost: round_cents(cost),
                ship_by: dates.ship_by,
                deliver_by: dates.deliver_by,
            });
        }
        let mut decision = self.outcome(id, Some(policy_name), profiles, Status::Routed);
        decision.search_cut = !result.complete;
        if best.placed < total {
            if let Some(shortage) = &shortage {
                self.exercise(shortage.origin);
            }
            let action = shortage
                .as_ref()
                .map_or(ShortageAction::Backorder, |s| s.action);
            let reason = shortage
                .as_ref()
                .and_then(|s| s.because.clone())
                .unwrap_or_else(|| {
                    if order.is_return {
                        "no node can receive it".to_string()
                    } else if ship_complete && best.placed == 0 {
                        "the order must ship complete and no node can take all of it".to_string()
                    } else {
                        "not enough stock at eligible nodes".to_string()
                    }
                });
            if action == ShortageAction::Reject {
                decision.status = Status::Rejected;
                decision.reason = Some(reason);
                commit = Commit::default();
                shipments.clear();
                total_cost = 0.0;
            } else {
                decision.status = Status::Partial;
                let unfilled_action = match action {
                    // A returned line no node can take stays with the shopper.
                    _ if order.is_return => UnfilledAction::Keep,
                    ShortageAction::Cancel => UnfilledAction::Cancel,
                    _ => UnfilledAction::Backorder,
                };
                let unfilled = order
                    .lines
                    .iter()
                    .zip(&best.allocation)
                    .filter_map(|(line, allocation)| {
                        let placed: i64 = allocation.parts().iter().map(|&(_, u)| u).sum();
                        (placed < line.qty).then(|| Unfilled {
                            line: line.id.to_string(),
                            sku: line.sku.to_string(),
                            qty: line.qty - placed,
                            action: unfilled_action,
                            reason: reason.clone(),
                        })
                    })
                    .collect();
                decision.unfilled = Some(unfilled);
            }
        }
        decision.shipments = Some(shipments);
        decision.cost = Some(round_cents(total_cost));
        if self.explain {
            let stage = chosen_stage.map(|k| &self.engine.plan.policies[layers[0].index].stages[k]);
            if let Some(stage) = stage {
                self.exercise(stage.origin);
            }
            let mut shipment_costs = Vec::new();
            let mut evaluator = ShipmentEvaluator::new(&mut self, &mut layers, false, 0);
            for (&node, (totals, _)) in &best.shipments {
                // Digital deliveries are not parcels: no per-shipment cost.
                if evaluator.router.engine.digital[node as usize] {
                    continue;
                }
                let mut costs = Vec::new();
                evaluator.shipment_terms(node, totals, |cost, amount| {
                    costs.push((cost, amount));
                });
                for &(cost, amount) in &costs {
                    if amount != 0.0 {
                        evaluator.router.exercise(cost.origin);
                    }
                }
                if !costs.is_empty() {
                    shipment_costs.push(ShipmentCosts {
                        node: network.nodes[node as usize].id.to_string(),
                        costs: costs
                            .iter()
                            .map(|(cost, amount)| (cost.name.clone(), round_cents(*amount)))
                            .collect(),
                    });
                }
            }
            let values = |scored: &Scored| self.plan_values(&criteria_names(main), scored);
            decision.trace = Some(Trace {
                order_rule: None,
                stage: stage.map(|s| s.name.clone()),
                lines: line_traces,
                chosen: Some(values(best)),
                alternative: result.alternative.as_ref().map(values),
                shipment_costs,
                search_complete: result.complete,
                exercised: self.take_exercised(),
            });
        }
        (decision, commit)
    }

    fn plan_values(&self, names: &[String], scored: &Scored) -> PlanValues {
        let network = self.world.network;
        let mut plan = Vec::new();
        for (l, allocation) in scored.allocation.iter().enumerate() {
            for &(node, units) in allocation.parts() {
                plan.push(format!(
                    "{}: line {} × {units}",
                    network.nodes[node as usize].id, self.order.lines[l].id
                ));
            }
        }
        PlanValues {
            plan,
            units_placed: scored.placed,
            criteria: names
                .iter()
                .cloned()
                .zip(scored.values.iter().map(|v| round_micro(*v)))
                .collect(),
        }
    }
}

fn criteria_names(policy: &PolicyPlan) -> Vec<String> {
    policy
        .objective
        .iter()
        .map(|c| {
            let direction = match c.direction {
                allot_plan::Direction::Minimize => "minimize",
                allot_plan::Direction::Maximize => "maximize",
            };
            let measure = match &c.measure {
                Measure::Shipments => "shipments".to_string(),
                Measure::Cost => "cost".to_string(),
                Measure::Max(e) => format!("max({})", e.source),
                Measure::Sum(e) => format!("sum({})", e.source),
            };
            format!("{direction} {measure}")
        })
        .collect()
}

pub(super) fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round_micro(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
