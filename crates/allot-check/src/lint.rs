//! Whole-ruleset analysis once everything is checked: unused declarations, conditions
//! that never change, table exhaustiveness and unreachable rows, repeated stages,
//! priority ties and profiles that would loosen a policy.

use crate::fold::{fold, fold_in_policy};
use crate::model::*;
use crate::overlap::ConditionForm;
use crate::types::Type;
use allot_diagnostics::{Code, Diagnostic, Span};
use allot_syntax::ast::{PolicyKind, ShortageAction};

/// What concerns the schema, consts and tables alone.
pub(crate) fn lint_environment(model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for table in &model.tables {
        table_rows(model, table, &mut out);
    }
    out
}

/// What concerns one policy alone; `model` gives its environment.
pub(crate) fn lint_policy(model: &Model, policy: &PolicyDef) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    constant_conditions(model, policy, &mut out);
    repeated_stages(policy, &mut out);
    out
}

/// What needs the whole ruleset: unused declarations, ties, looser profiles, profiles'
/// delivery dates under a policy without a transit.
pub(crate) fn lint_ruleset(
    model: &Model,
    consts_used: &[bool],
    tables_used: &[bool],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (def, used) in model.consts.iter().zip(consts_used) {
        if !used && !def.name.starts_with('_') {
            out.push(
                Diagnostic::new(
                    Code::UNUSED_CONST,
                    def.span,
                    format!("const `{}` is never used", def.name),
                )
                .with_help("remove it, or prefix its name with `_`"),
            );
        }
    }
    for (def, used) in model.tables.iter().zip(tables_used) {
        if !used && !def.name.starts_with('_') {
            out.push(
                Diagnostic::new(
                    Code::UNUSED_TABLE,
                    def.span,
                    format!("table `{}` is never used", def.name),
                )
                .with_help("remove it, or prefix its name with `_`"),
            );
        }
    }
    priority_ties(model, &mut out);
    looser_profiles(model, &mut out);
    out
}

fn constant_condition(value: Option<Value>, span: Span, what: &str, out: &mut Vec<Diagnostic>) {
    match value {
        Some(Value::Bool(true)) => out.push(Diagnostic::new(
            Code::ALWAYS_TRUE,
            span,
            format!("this condition is always true: {what}"),
        )),
        Some(Value::Bool(false)) => out.push(Diagnostic::new(
            Code::ALWAYS_FALSE,
            span,
            format!("this condition is always false: {what}"),
        )),
        _ => {}
    }
}

fn constant_conditions(model: &Model, policy: &PolicyDef, out: &mut Vec<Diagnostic>) {
    let fold = |e: &Expr| fold_in_policy(model, &policy.lets, e);
    let check =
        |e: Option<&Expr>, true_means: &str, false_means: &str, out: &mut Vec<Diagnostic>| {
            if let Some(e) = e {
                let value = fold(e);
                let what = if value == Some(Value::Bool(true)) {
                    true_means
                } else {
                    false_means
                };
                constant_condition(value, e.span, what, out);
            }
        };
    check(
        policy.applies.as_ref(),
        "the policy applies to every order",
        "the policy never applies",
        out,
    );
    for rule in &policy.excludes {
        check(
            Some(&rule.condition),
            "every node is excluded",
            "the exclusion never applies",
            out,
        );
    }
    for rule in &policy.rejects {
        check(
            Some(&rule.condition),
            "every order is rejected",
            "the rejection never applies",
            out,
        );
    }
    for rule in &policy.holds {
        check(
            Some(&rule.condition),
            "every order is held",
            "the hold never applies",
            out,
        );
    }
    for stage in &policy.stages {
        check(
            stage.condition.as_ref(),
            "the stage holds every node",
            "the stage holds no node",
            out,
        );
    }
    for cost in &policy.costs {
        check(
            cost.condition.as_ref(),
            "`when` can be removed",
            "the cost is never charged",
            out,
        );
    }
    for safety in &policy.safety_stock {
        check(
            safety.condition.as_ref(),
            "`when` can be removed",
            "no stock is ever held back",
            out,
        );
    }
}

fn repeated_stages(policy: &PolicyDef, out: &mut Vec<Diagnostic>) {
    for (i, stage) in policy.stages.iter().enumerate() {
        if let Some(earlier) = policy.stages[..i]
            .iter()
            .find(|s| s.condition == stage.condition)
        {
            out.push(
                Diagnostic::new(
                    Code::DUPLICATE_STAGE,
                    stage.span,
                    format!(
                        "stage \"{}\" holds the same nodes as stage \"{}\"",
                        stage.name, earlier.name
                    ),
                )
                .with_label(earlier.span, "the earlier stage")
                .with_help("the net only widens: an identical stage adds no nodes"),
            );
        }
    }
}

/// Exhaustiveness (an error) and unreachable rows (a warning).
fn table_rows(model: &Model, table: &TableDef, out: &mut Vec<Diagnostic>) {
    let mut exhaustive_at: Option<Span> = None;
    let mut covered: Vec<u32> = Vec::new();
    for row in &table.rows {
        if let Some(at) = exhaustive_at {
            out.push(
                Diagnostic::new(Code::UNREACHABLE_ROW, row.span, "this row is never reached")
                    .with_label(at, "every value stops at this row"),
            );
            continue;
        }
        match &row.condition {
            None => exhaustive_at = Some(row.span),
            Some(condition) => match fold(model, condition) {
                Some(Value::Bool(true)) => exhaustive_at = Some(row.span),
                Some(Value::Bool(false)) => out.push(Diagnostic::new(
                    Code::ALWAYS_FALSE,
                    condition.span,
                    "this condition is always false: the row is never used",
                )),
                _ => covered.extend(enum_pattern(model, condition)),
            },
        }
    }
    if exhaustive_at.is_some() || table.rows.is_empty() && table.result.is_error() {
        return;
    }
    if let Some((_, Type::Enum(id))) = table.params.first() {
        let variants = &model.enums[id.0 as usize].variants;
        if (0..variants.len() as u32).all(|v| covered.contains(&v)) {
            return;
        }
    }
    out.push(
        Diagnostic::new(
            Code::TABLE_NOT_EXHAUSTIVE,
            table.span,
            format!("table `{}` has no row for some arguments", table.name),
        )
        .with_help("end the table with a default row: `_ => …`"),
    );
}

/// The variants a row `param == variant` or `param in [variants]` covers.
fn enum_pattern(model: &Model, condition: &Expr) -> Vec<u32> {
    let ExprKind::Binary(op, left, right) = &condition.kind else {
        return Vec::new();
    };
    if left.kind != ExprKind::Param(0) {
        return Vec::new();
    }
    match (op, fold(model, right)) {
        (allot_syntax::ast::BinaryOp::Eq, Some(Value::Enum(_, v))) => vec![v],
        (allot_syntax::ast::BinaryOp::In, Some(Value::Set(items))) => items
            .iter()
            .filter_map(|i| match i {
                Value::Enum(_, v) => Some(*v),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Two policies of one priority that can both apply to some order: the earlier name
/// wins at run time, which is rarely what the author meant.
fn priority_ties(model: &Model, out: &mut Vec<Diagnostic>) {
    let policies: Vec<(&PolicyDef, ConditionForm)> = model
        .policies
        .iter()
        .filter(|p| p.kind == PolicyKind::Policy)
        .map(|p| (p, ConditionForm::new(model, p.applies.as_ref())))
        .collect();
    for (i, (a, a_form)) in policies.iter().enumerate() {
        for (b, b_form) in &policies[i + 1..] {
            if a.priority != b.priority || a.domain != b.domain || !a_form.overlaps(model, b_form) {
                continue;
            }
            let (first, second) = if a.name <= b.name { (a, b) } else { (b, a) };
            out.push(
                Diagnostic::new(
                    Code::PRIORITY_TIE,
                    second.span,
                    format!(
                        "policies \"{}\" and \"{}\" both have priority {} and can apply to the same order",
                        a.name, b.name, a.priority
                    ),
                )
                .with_label(first.span, format!("\"{}\" wins such orders, by name", first.name))
                .with_help("give one of them a different priority, or make their `applies when` exclusive"),
            );
        }
    }
}

fn shortage_rank(action: ShortageAction) -> u8 {
    match action {
        ShortageAction::Backorder => 0,
        ShortageAction::Cancel => 1,
        ShortageAction::Reject => 2,
    }
}

/// A profile can only tighten; an item looser than a policy it can be layered on has
/// no effect there.
fn looser_profiles(model: &Model, out: &mut Vec<Diagnostic>) {
    let all: Vec<(&PolicyDef, ConditionForm)> = model
        .policies
        .iter()
        .filter(|p| p.kind == PolicyKind::Policy)
        .map(|p| (p, ConditionForm::new(model, p.applies.as_ref())))
        .collect();
    for profile in model
        .policies
        .iter()
        .filter(|p| p.kind == PolicyKind::Compliance)
    {
        // Only policies the profile can be layered on: of its domain, and some order (or
        // return) meets both.
        let form = ConditionForm::new(model, profile.applies.as_ref());
        let all: Vec<&(&PolicyDef, ConditionForm)> = (all.iter())
            .filter(|(p, _)| p.domain == profile.domain)
            .collect();
        let policies: Vec<&PolicyDef> = all
            .iter()
            .filter(|(_, policy_form)| form.overlaps(model, policy_form))
            .map(|(p, _)| *p)
            .collect();
        if let Some(shortage) = &profile.on_shortage {
            let stricter = policies.iter().find(|p| {
                let action = p
                    .on_shortage
                    .as_ref()
                    .map_or(ShortageAction::Backorder, |s| s.action);
                shortage_rank(action) > shortage_rank(shortage.action)
            });
            if let Some(policy) = stricter {
                let theirs = policy
                    .on_shortage
                    .as_ref()
                    .expect("stricter than backorder");
                out.push(looser(
                    profile,
                    shortage.span,
                    &format!("`on shortage {}`", shortage.action.keyword()),
                    policy,
                    theirs.span,
                    &format!("`on shortage {}`", theirs.action.keyword()),
                ));
            }
        }
        if let Some((limit, span)) = profile.max_shipments {
            let stricter = policies
                .iter()
                .find_map(|p| match (p.ship_complete, p.max_shipments) {
                    (Some(at), _) => Some((p, at, "`ship complete`".to_string())),
                    (None, Some((theirs, at))) if theirs < limit => {
                        Some((p, at, format!("`max shipments {theirs}`")))
                    }
                    _ => None,
                });
            if let Some((policy, at, theirs)) = stricter {
                out.push(looser(
                    profile,
                    span,
                    &format!("`max shipments {limit}`"),
                    policy,
                    at,
                    &theirs,
                ));
            }
        }
        if profile.reads_delivery() {
            let untimed = all.iter().find(|(policy, policy_form)| {
                policy.transit.is_none() && form.may_overlap(model, policy_form)
            });
            if let Some((policy, _)) = untimed {
                out.push(
                    Diagnostic::new(
                        Code::CONTEXT_UNAVAILABLE,
                        profile.span,
                        format!(
                            "profile \"{}\" promises delivery dates, but policy \"{}\", which it can be layered on, has no `transit`",
                            profile.name, policy.name
                        ),
                    )
                    .with_label(policy.span, "this policy says nothing of transit times")
                    .with_help("a profile's delivery dates use the routing policy's transit: give the policy one (`transit = 3 days`), or make the profile's `applies when` exclude its orders"),
                );
            }
        }
        for ours in &profile.promises {
            let stricter = policies.iter().find_map(|p| {
                p.promises
                    .iter()
                    .find_map(|theirs| match (&ours.promise, &theirs.promise) {
                        (Promise::ShipWithin(days), Promise::ShipWithin(limit))
                        | (Promise::DeliverWithin(days), Promise::DeliverWithin(limit))
                            if limit < days =>
                        {
                            Some((*p, theirs))
                        }
                        _ => None,
                    })
            });
            if let Some((policy, theirs)) = stricter {
                out.push(looser(
                    profile,
                    ours.span,
                    &format!("`{}`", ours.promise.describe("")),
                    policy,
                    theirs.span,
                    &format!("`{}`", theirs.promise.describe("")),
                ));
            }
        }
    }
}

fn looser(
    profile: &PolicyDef,
    span: Span,
    ours: &str,
    policy: &PolicyDef,
    at: Span,
    theirs: &str,
) -> Diagnostic {
    Diagnostic::new(
        Code::PROFILE_LOOSER,
        span,
        format!(
            "profile \"{}\" sets {ours}, which is looser than {theirs} in policy \"{}\"",
            profile.name, policy.name
        ),
    )
    .with_label(at, "the stricter rule, which wins")
    .with_help("a profile can only tighten a policy; under that policy this item has no effect")
}
