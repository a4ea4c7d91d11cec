//! Can two order conditions hold for the same order? Conditions are put in
//! disjunctive normal form over atoms `subject OP constant`; a conjunction is
//! satisfiable when the constraints on each subject leave a value. Atoms that are not
//! of that form are free: only an atom and its own negation contradict.

use crate::fold::{compare, equal, fold};
use crate::model::*;
use crate::types::Type;
use allot_syntax::ast::{BinaryOp, UnaryOp};
use std::cmp::Ordering;

/// Past this many conjunctions the analysis gives up and proves nothing.
const MAX_TERMS: usize = 256;

#[derive(Clone, Debug)]
struct Literal<'e> {
    subject: &'e Expr,
    op: BinaryOp,
    value: Value,
}

type Term<'e> = Vec<Literal<'e>>;

/// An `applies when` in normal form, computed once per policy and compared pairwise.
/// `None` when the condition is too large to analyse: then nothing is proven.
pub(crate) struct ConditionForm<'e>(Option<Vec<Term<'e>>>);

impl<'e> ConditionForm<'e> {
    /// `None` as the condition means "always".
    pub fn new(model: &Model, condition: Option<&'e Expr>) -> Self {
        ConditionForm(match condition {
            None => Some(vec![Vec::new()]),
            Some(e) => normal_form(model, e, true),
        })
    }

    /// False only when no order can satisfy both conditions, as far as can be shown.
    pub fn may_overlap(&self, model: &Model, other: &ConditionForm) -> bool {
        self.0.is_none() || other.0.is_none() || self.overlaps(model, other)
    }

    /// True when some order can satisfy both conditions.
    pub fn overlaps(&self, model: &Model, other: &ConditionForm) -> bool {
        let (Some(a), Some(b)) = (&self.0, &other.0) else {
            return false;
        };
        a.iter()
            .any(|x| b.iter().any(|y| satisfiable(model, x.iter().chain(y))))
    }
}

fn negate(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Eq => BinaryOp::NotEq,
        BinaryOp::NotEq => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::GtEq,
        BinaryOp::GtEq => BinaryOp::Lt,
        BinaryOp::Gt => BinaryOp::LtEq,
        BinaryOp::LtEq => BinaryOp::Gt,
        BinaryOp::In => BinaryOp::NotIn,
        BinaryOp::NotIn => BinaryOp::In,
        other => other,
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// The condition (or its negation) as a disjunction of conjunctions; `None` if too large.
fn normal_form<'e>(model: &Model, e: &'e Expr, positive: bool) -> Option<Vec<Term<'e>>> {
    match &e.kind {
        ExprKind::Unary(UnaryOp::Not, inner) => normal_form(model, inner, !positive),
        ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), l, r) => {
            let l = normal_form(model, l, positive)?;
            let r = normal_form(model, r, positive)?;
            // De Morgan: a negated `and` is an `or`.
            let conjunction = (*op == BinaryOp::And) == positive;
            if conjunction {
                if l.len() * r.len() > MAX_TERMS {
                    return None;
                }
                Some(
                    l.iter()
                        .flat_map(|x| r.iter().map(move |y| x.iter().chain(y).cloned().collect()))
                        .collect(),
                )
            } else {
                let mut terms = l;
                terms.extend(r);
                (terms.len() <= MAX_TERMS).then_some(terms)
            }
        }
        _ => {
            if let Some(Value::Bool(b)) = fold(model, e) {
                // A constant: true is the empty conjunction, false the empty disjunction.
                return Some(if b == positive {
                    vec![Vec::new()]
                } else {
                    Vec::new()
                });
            }
            let literal = match &e.kind {
                ExprKind::Binary(op, l, r)
                    if op.is_comparison() || matches!(op, BinaryOp::In | BinaryOp::NotIn) =>
                {
                    match (fold(model, l), fold(model, r)) {
                        (None, Some(value)) => Literal {
                            subject: l,
                            op: *op,
                            value,
                        },
                        (Some(value), None) if *op != BinaryOp::In && *op != BinaryOp::NotIn => {
                            Literal {
                                subject: r,
                                op: flip(*op),
                                value,
                            }
                        }
                        _ => Literal {
                            subject: e,
                            op: BinaryOp::Eq,
                            value: Value::Bool(true),
                        },
                    }
                }
                _ => Literal {
                    subject: e,
                    op: BinaryOp::Eq,
                    value: Value::Bool(true),
                },
            };
            let literal = if positive {
                literal
            } else {
                Literal {
                    op: negate(literal.op),
                    ..literal
                }
            };
            Some(vec![vec![literal]])
        }
    }
}

/// Whether some value of each subject meets all its literals.
fn satisfiable<'e>(model: &Model, literals: impl Iterator<Item = &'e Literal<'e>> + Clone) -> bool {
    let all: Vec<&Literal> = literals.collect();
    let mut seen: Vec<&Expr> = Vec::new();
    for literal in &all {
        if seen.contains(&literal.subject) {
            continue;
        }
        seen.push(literal.subject);
        let constraints: Vec<&&Literal> = all
            .iter()
            .filter(|l| l.subject == literal.subject)
            .collect();
        if !subject_satisfiable(model, &literal.subject.ty, &constraints) {
            return false;
        }
    }
    true
}

fn meets(value: &Value, literal: &Literal) -> bool {
    match literal.op {
        BinaryOp::Eq => equal(value, &literal.value),
        BinaryOp::NotEq => !equal(value, &literal.value),
        BinaryOp::In | BinaryOp::NotIn => match &literal.value {
            Value::Set(items) => {
                items.iter().any(|i| equal(value, i)) == (literal.op == BinaryOp::In)
            }
            _ => true,
        },
        op => match compare(value, &literal.value) {
            Some(ordering) => match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::LtEq => ordering != Ordering::Greater,
                BinaryOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            },
            None => true,
        },
    }
}

fn subject_satisfiable(model: &Model, ty: &Type, constraints: &[&&Literal]) -> bool {
    // Candidate values: those the constraints name, plus the whole domain when finite.
    let mut candidates: Vec<Value> = Vec::new();
    for c in constraints {
        match &c.value {
            Value::Set(items) => candidates.extend(items.iter().cloned()),
            v => candidates.push(v.clone()),
        }
    }
    match ty {
        Type::Bool => candidates.extend([Value::Bool(true), Value::Bool(false)]),
        Type::Enum(id) => {
            let count = model.enums[id.0 as usize].variants.len() as u32;
            candidates.extend((0..count).map(|v| Value::Enum(*id, v)));
        }
        _ => {}
    }
    if candidates
        .iter()
        .any(|v| constraints.iter().all(|c| meets(v, c)))
    {
        return true;
    }
    match ty {
        // Finite domains were enumerated in full.
        Type::Bool | Type::Enum(_) => false,
        // Strings: infinitely many values; only an `==`/`in` can pin one down.
        Type::String => !constraints
            .iter()
            .any(|c| matches!(c.op, BinaryOp::Eq | BinaryOp::In)),
        // Ordered values: between the tightest bounds lies an unnamed value unless
        // the bounds meet or an `==`/`in` pins the value.
        _ => {
            if constraints
                .iter()
                .any(|c| matches!(c.op, BinaryOp::Eq | BinaryOp::In))
            {
                return false;
            }
            let lower = constraints
                .iter()
                .filter(|c| matches!(c.op, BinaryOp::Gt | BinaryOp::GtEq))
                .map(|c| &c.value)
                .max_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
            let upper = constraints
                .iter()
                .filter(|c| matches!(c.op, BinaryOp::Lt | BinaryOp::LtEq))
                .map(|c| &c.value)
                .min_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
            match (lower, upper) {
                (Some(l), Some(u)) => {
                    compare(l, u) == Some(Ordering::Less)
                        && !(matches!(ty, Type::Int) && int_gap_empty(l, u))
                }
                _ => true,
            }
        }
    }
}

/// No integer strictly between two adjacent integers.
fn int_gap_empty(lower: &Value, upper: &Value) -> bool {
    matches!((lower, upper), (Value::Int(l), Value::Int(u)) if u - l <= 1)
}
