//! A decision as a report for a person (`allot route --format text`, failed policy
//! tests): the outcome, the shipments, what is left unfilled and, when traced, every
//! candidate of every line and why it was not chosen.

use crate::decision::{CandidateTrace, Dates, Decision, PlanValues, Trace};
use std::collections::HashMap;
use std::fmt::Write;

pub fn explain(decision: &Decision) -> String {
    let mut out = String::new();
    let what = if decision.is_return {
        "return"
    } else {
        "order"
    };
    match &decision.order {
        Some(order) => {
            let _ = write!(out, "{what} \"{order}\": ");
        }
        None => {
            let _ = write!(out, "{what} (no id): ");
        }
    }
    out.push_str(decision.status.name());
    if let Some(policy) = &decision.policy {
        let _ = write!(out, " by policy \"{policy}\"");
    }
    let profiles = decision.profiles.as_deref().unwrap_or_default();
    if !profiles.is_empty() {
        let _ = write!(out, " with profiles \"{}\"", profiles.join("\", \""));
    }
    let ships = decision.shipments.as_ref().is_some_and(|s| !s.is_empty());
    if let Some(cost) = decision.cost.filter(|_| ships) {
        let _ = write!(out, ", cost {cost:.2}");
    }
    out.push('\n');
    for (label, text) in [("reason", &decision.reason), ("error", &decision.message)] {
        if let Some(text) = text {
            let _ = writeln!(out, "  {label}: {text}");
        }
    }
    for shipment in decision.shipments.iter().flatten() {
        let lines: Vec<String> = (shipment.lines.iter())
            .map(|l| format!("line {} {} × {}", l.line, l.sku, l.qty))
            .collect();
        let dates = Dates {
            ship_by: shipment.ship_by.clone(),
            deliver_by: shipment.deliver_by.clone(),
        };
        let _ = writeln!(
            out,
            "  {} {} ({:.2}): {}{}",
            if decision.is_return {
                "return to"
            } else {
                "ship from"
            },
            shipment.node,
            shipment.cost,
            lines.join(", "),
            dates_text(&dates)
        );
    }
    for unfilled in decision.unfilled.iter().flatten() {
        let _ = writeln!(
            out,
            "  unfilled: line {} {} × {}: {} ({})",
            unfilled.line,
            unfilled.sku,
            unfilled.qty,
            unfilled.action.name(),
            unfilled.reason
        );
    }
    if decision.search_cut {
        out.push_str("  the search stopped at its budget: the best plan found, not proven best\n");
    }
    if let Some(trace) = &decision.trace {
        explained(&mut out, decision, trace);
    }
    out
}

fn explained(out: &mut String, decision: &Decision, trace: &Trace) {
    if let Some(rule) = &trace.order_rule {
        let _ = writeln!(out, "  decided by {rule}");
    }
    if let Some(stage) = &trace.stage {
        let _ = writeln!(out, "  stage: {stage}");
    }
    // Which node ships each line, to mark the chosen candidate.
    let mut shipping: HashMap<&str, Vec<&str>> = HashMap::new();
    for (node, line) in decision.shipped() {
        shipping.entry(line.line.as_str()).or_default().push(node);
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
            let why = match candidate {
                CandidateTrace::Excluded {
                    excluded_by, dates, ..
                } => format!("excluded: {excluded_by}{}", dates_text(dates)),
                CandidateTrace::NotStaged { excluded_by, .. } => format!("not used: {excluded_by}"),
                CandidateTrace::NoStock {
                    available,
                    safety_stock,
                    ..
                } => match safety_stock {
                    0 => format!("no stock: {available} available"),
                    held => {
                        format!("no stock: {available} available, {held} held back as safety stock")
                    }
                },
                CandidateTrace::Candidate {
                    available,
                    stage,
                    costs,
                    dates,
                    ..
                } => {
                    let chosen = shipping
                        .get(line.line.as_str())
                        .is_some_and(|n| n.contains(&node));
                    let verdict = if chosen {
                        "chosen"
                    } else {
                        "candidate, not chosen"
                    };
                    // A node receives a returned line whole.
                    let mut why = match decision.is_return {
                        true => format!("{verdict}: receives {available}"),
                        false => format!("{verdict}: {available} available"),
                    };
                    if let Some(stage) = stage {
                        let _ = write!(why, ", stage {stage}");
                    }
                    for (name, amount) in costs {
                        let _ = write!(why, ", {name} {amount:.2}");
                    }
                    why.push_str(&dates_text(dates));
                    why
                }
            };
            let _ = writeln!(out, "    {node:width$}  {why}");
        }
    }
    for shipment in &trace.shipment_costs {
        let terms: Vec<String> = (shipment.costs.iter())
            .map(|(name, amount)| format!("{name} {amount:.2}"))
            .collect();
        let parcel = if decision.is_return {
            "parcel to"
        } else {
            "shipment from"
        };
        let _ = writeln!(out, "  {parcel} {}: {}", shipment.node, terms.join(", "));
    }
    let plan = |out: &mut String, label: &str, values: &PlanValues| {
        let criteria: Vec<String> = (values.criteria.iter())
            .map(|(name, value)| format!("{name} {}", round(*value)))
            .collect();
        let _ = writeln!(
            out,
            "  {label}: {} ({} unit{} placed; {})",
            match values.plan.is_empty() {
                true => "nothing shipped".to_string(),
                false => values.plan.join(", "),
            },
            values.units_placed,
            if values.units_placed == 1 { "" } else { "s" },
            criteria.join(", ")
        );
    };
    if let Some(chosen) = &trace.chosen {
        plan(out, "chosen plan", chosen);
    }
    match &trace.alternative {
        Some(alternative) => plan(out, "runner-up", alternative),
        None if trace.chosen.is_some() => {
            out.push_str("  runner-up: none evaluated (the bounds ruled the others out)\n")
        }
        None => {}
    }
}

/// A criterion's value as people read it: whole numbers without decimals.
fn round(value: f64) -> String {
    if value == 0.0 {
        // Also -0, which a sum of no terms can be.
        "0".to_string()
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// "; ships 2026-12-08, delivers 2026-12-10", as far as the dates are known.
fn dates_text(dates: &Dates) -> String {
    let mut text = String::new();
    if let Some(ship_by) = &dates.ship_by {
        let _ = write!(text, "; ships {ship_by}");
    }
    if let Some(deliver_by) = &dates.deliver_by {
        let _ = write!(text, ", delivers {deliver_by}");
    }
    text
}
