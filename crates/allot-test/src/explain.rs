//! A decision and its trace as text, for people reading a failed test.

use allot_runtime::decision::{CandidateTrace, Decision, PlanValues, Status};
use std::fmt::Write;

fn money(amount: f64) -> String {
    format!("{amount:.2}")
}

fn terms(costs: &[(String, f64)]) -> String {
    costs
        .iter()
        .map(|(name, amount)| format!("{name} {}", money(*amount)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plan_values(label: &str, values: &PlanValues, out: &mut String) {
    let criteria = values
        .criteria
        .iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "{label}: {} ({} units; {criteria})",
        if values.plan.is_empty() {
            "nothing placed".to_string()
        } else {
            values.plan.join(", ")
        },
        values.units_placed,
    );
}

/// The decision: outcome, shipments, unfilled lines, and when traced, every candidate
/// of every line with the rule that excluded it or its costs.
pub fn explain(decision: &Decision) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}", decision.status.name());
    if let Some(policy) = &decision.policy {
        let _ = write!(out, " by policy \"{policy}\"");
    }
    if let Some(profiles) = decision.profiles.as_ref().filter(|p| !p.is_empty()) {
        let _ = write!(out, " with profiles {}", profiles.join(", "));
    }
    if let Some(cost) = decision.cost.filter(|_| decision.status != Status::Error) {
        let _ = write!(out, ", cost {}", money(cost));
    }
    out.push('\n');
    for reason in [&decision.reason, &decision.message].into_iter().flatten() {
        let _ = writeln!(out, "  reason: {reason}");
    }
    for shipment in decision.shipments.iter().flatten() {
        let lines = shipment
            .lines
            .iter()
            .map(|l| format!("line {} × {}", l.line, l.qty))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "  ships from {}: {lines} (cost {})",
            shipment.node,
            money(shipment.cost)
        );
    }
    for unfilled in decision.unfilled.iter().flatten() {
        let _ = writeln!(
            out,
            "  unfilled: line {} × {} ({}): {}",
            unfilled.line,
            unfilled.qty,
            unfilled.action.name(),
            unfilled.reason
        );
    }
    let Some(trace) = &decision.trace else {
        return out;
    };
    if let Some(rule) = &trace.order_rule {
        let _ = writeln!(
            out,
            "  decided by {}: {} at {}",
            rule.policy, rule.rule, rule.at
        );
    }
    if let Some(stage) = &trace.stage {
        let _ = writeln!(out, "  stage: {stage}");
    }
    for line in &trace.lines {
        let _ = writeln!(out, "  line {} ({}):", line.line, line.sku);
        let width = line
            .candidates
            .iter()
            .map(|c| c.node().chars().count())
            .max()
            .unwrap_or(0);
        for candidate in &line.candidates {
            let node = candidate.node();
            let what = match candidate {
                CandidateTrace::Excluded { excluded_by, .. } => {
                    format!("excluded by {excluded_by}")
                }
                CandidateTrace::NotStaged { excluded_by, .. } => excluded_by.clone(),
                CandidateTrace::NoStock {
                    available,
                    safety_stock,
                    ..
                } => format!("no stock to promise ({available} free, safety stock {safety_stock})"),
                CandidateTrace::Candidate {
                    available,
                    stage,
                    costs,
                    ..
                } => {
                    let stage = stage
                        .as_ref()
                        .map(|s| format!(", stage \"{s}\""))
                        .unwrap_or_default();
                    let costs = if costs.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", terms(costs))
                    };
                    format!("candidate: {available} available{stage}{costs}")
                }
            };
            let _ = writeln!(out, "    {node:width$}  {what}");
        }
    }
    for shipment in &trace.shipment_costs {
        let _ = writeln!(
            out,
            "  per-shipment costs at {}: {}",
            shipment.node,
            terms(&shipment.costs)
        );
    }
    if let Some(chosen) = &trace.chosen {
        plan_values("  chosen", chosen, &mut out);
    }
    if let Some(alternative) = &trace.alternative {
        plan_values("  best alternative", alternative, &mut out);
    }
    out
}
