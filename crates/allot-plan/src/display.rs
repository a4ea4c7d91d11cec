//! A readable rendering of a plan, like a database's EXPLAIN: what runs, and how often.

use crate::plan::*;
use crate::program::{Level, Program};
use std::fmt::{self, Write};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "currency: {}",
            self.currency.as_deref().unwrap_or("(none)")
        )?;
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        for table in &self.tables {
            let params = plural(table.params as usize, "parameter");
            writeln!(
                f,
                "table {} ({params}, {})",
                table.name,
                plural(table.rows.len(), "row")
            )?;
        }
        for policy in &self.policies {
            writeln!(f)?;
            write_policy(f, self, policy)?;
        }
        Ok(())
    }
}

fn program(p: &Program) -> String {
    format!(
        "{}  [{}, {} ops]",
        p.source,
        p.level().describe(),
        p.ops.len()
    )
}

fn origin(plan: &Plan, o: &Origin) -> String {
    let file = plan.files.get(o.file as usize).map_or("?", String::as_str);
    format!("{file}:{}:{}", o.line, o.column)
}

fn write_policy(f: &mut fmt::Formatter<'_>, plan: &Plan, p: &PolicyPlan) -> fmt::Result {
    let kind = match p.kind {
        PolicyKind::Policy => "policy",
        PolicyKind::Compliance => "compliance",
    };
    writeln!(f, "{kind} \"{}\"  ({})", p.name, origin(plan, &p.origin))?;
    if p.kind == PolicyKind::Policy {
        writeln!(f, "  priority {}", p.priority)?;
    }
    match &p.applies {
        Some(a) => writeln!(f, "  applies when {}", program(a))?,
        None => writeln!(f, "  applies to every order")?,
    }
    for l in &p.lets {
        writeln!(f, "  let {} = {}", l.name, program(&l.value))?;
    }
    for (title, rules) in [("reject when", &p.rejects), ("hold when", &p.holds)] {
        for r in rules {
            writeln!(
                f,
                "  {title} {}{}",
                program(&r.condition),
                because(&r.because)
            )?;
        }
    }
    // Exclusions by the level they run at: that is the cost of the policy.
    let mut levels: Vec<Level> = p.excludes.iter().map(|r| r.condition.level()).collect();
    levels.sort();
    levels.dedup();
    for level in levels {
        writeln!(f, "  exclusions evaluated {}:", level.describe())?;
        for r in p.excludes.iter().filter(|r| r.condition.level() == level) {
            writeln!(f, "    {}{}", r.condition.source, because(&r.because))?;
        }
    }
    for s in &p.safety_stock {
        let when = s
            .condition
            .as_ref()
            .map(|c| format!(" when {}", program(c)))
            .unwrap_or_default();
        writeln!(f, "  safety stock {}{when}", program(&s.amount))?;
    }
    for c in &p.costs {
        let basis = match c.basis {
            CostBasis::Shipment => "shipment",
            CostBasis::Line => "line",
            CostBasis::Unit => "unit",
        };
        let when = c
            .condition
            .as_ref()
            .map(|c| format!(" when {}", program(c)))
            .unwrap_or_default();
        writeln!(
            f,
            "  cost {} per {basis} = {}{when}",
            c.name,
            program(&c.value)
        )?;
    }
    for s in &p.stages {
        match &s.condition {
            Some(c) => writeln!(f, "  stage \"{}\" when {}", s.name, program(c))?,
            None => writeln!(f, "  stage \"{}\" (every node)", s.name)?,
        }
    }
    if p.kind == PolicyKind::Policy {
        let mut criteria = String::new();
        for (i, c) in p.objective.iter().enumerate() {
            let direction = match c.direction {
                Direction::Minimize => "minimize",
                Direction::Maximize => "maximize",
            };
            let measure = match &c.measure {
                Measure::Shipments => "shipments".to_string(),
                Measure::Cost => "cost".to_string(),
                Measure::Max(e) => format!("max({})", e.source),
                Measure::Sum(e) => format!("sum({})", e.source),
            };
            let _ = write!(
                criteria,
                "{}{direction} {measure}",
                if i > 0 { ", then " } else { "" }
            );
        }
        writeln!(
            f,
            "  objective: most units placed, then {criteria}, then node ids"
        )?;
    }
    let mut split = Vec::new();
    if p.ship_complete {
        split.push("ship complete".to_string());
    }
    if let Some(n) = p.max_shipments {
        split.push(format!("max shipments {n}"));
    }
    if p.no_line_split {
        split.push("no line split".to_string());
    }
    if !split.is_empty() {
        writeln!(f, "  splitting: {}", split.join(", "))?;
    }
    if let Some(s) = &p.shortage {
        writeln!(
            f,
            "  on shortage {}{}",
            s.action.name(),
            because(&s.because)
        )?;
    }
    Ok(())
}

fn because(text: &Option<String>) -> String {
    text.as_ref()
        .map(|t| format!("  because \"{t}\""))
        .unwrap_or_default()
}
