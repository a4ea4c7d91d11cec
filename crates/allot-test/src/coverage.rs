//! Which rules of a ruleset the scenarios exercised.
//!
//! A rule is exercised when it had an effect on some decision: a policy or profile
//! applied to an order; an exclusion removed a candidate; a `reject` or `hold` fired;
//! safety stock held units back; a cost term came to a non-zero amount; a stage gave the
//! plan; a shortage rule handled unfilled units. `ship complete`, `max shipments`,
//! `no line split` and the objective hold whenever their policy applies, so they are
//! covered with it.

use allot_plan::{Origin, Plan, PolicyKind};
use std::collections::BTreeSet;

/// A rule that can be exercised: where it is and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub origin: Origin,
    /// `FILE:LINE:COLUMN`.
    pub at: String,
    /// `policy "us-default"` or `compliance "bigbox-dropship"`.
    pub owner: String,
    /// The rule as written, shortened: `exclude when not node.enabled`.
    pub text: String,
}

/// Every rule of the plan, in source order, each once (a profile compiled for several
/// policies has its rules once).
pub fn rules(plan: &Plan) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for policy in &plan.policies {
        if !seen.insert(policy.origin) {
            continue;
        }
        let owner = match policy.kind {
            PolicyKind::Policy => format!("policy \"{}\"", policy.name),
            PolicyKind::Compliance => format!("compliance \"{}\"", policy.name),
        };
        let mut add = |origin: Origin, text: String| {
            let file = plan
                .files
                .get(origin.file as usize)
                .map_or("?", String::as_str);
            rules.push(Rule {
                origin,
                at: format!("{file}:{}:{}", origin.line, origin.column),
                owner: owner.clone(),
                text,
            });
        };
        let applies = policy
            .applies
            .as_ref()
            .map_or("applies to every order".into(), |c| {
                format!("applies when {}", c.source)
            });
        add(policy.origin, applies);
        for rule in &policy.excludes {
            let text = match rule.promise {
                true => rule.condition.source.clone(),
                false => format!("exclude when {}", rule.condition.source),
            };
            add(rule.origin, text);
        }
        for rule in &policy.rejects {
            add(
                rule.origin,
                format!("reject when {}", rule.condition.source),
            );
        }
        for rule in &policy.holds {
            add(rule.origin, format!("hold when {}", rule.condition.source));
        }
        for rule in &policy.keeps {
            let text = format!("refund without return when {}", rule.condition.source);
            add(rule.origin, text);
        }
        for rule in &policy.disposes {
            add(
                rule.origin,
                format!("dispose when {}", rule.condition.source),
            );
        }
        for rule in &policy.safety_stock {
            let when = rule
                .condition
                .as_ref()
                .map(|c| format!(" when {}", c.source))
                .unwrap_or_default();
            add(
                rule.origin,
                format!("safety stock {}{when}", rule.amount.source),
            );
        }
        for cost in &policy.costs {
            add(cost.origin, format!("cost {}", cost.name));
        }
        for stage in &policy.stages {
            add(stage.origin, format!("stage \"{}\"", stage.name));
        }
        if let Some(shortage) = &policy.shortage {
            add(
                shortage.origin,
                format!("on shortage {}", shortage.action.name()),
            );
        }
    }
    rules.sort_by_key(|r| r.origin);
    rules
}

/// The rules of the plan that no scenario exercised.
pub fn unexercised(plan: &Plan, exercised: &BTreeSet<Origin>) -> (usize, Vec<Rule>) {
    let all = rules(plan);
    let total = all.len();
    (
        total,
        all.into_iter()
            .filter(|r| !exercised.contains(&r.origin))
            .collect(),
    )
}
