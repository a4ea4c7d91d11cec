//! Constant folding: the value of an expression that depends on no order, line or
//! node. The value operations here are the language's arithmetic, shared by every
//! evaluator.

use crate::model::*;
use crate::types::Dim;
use allot_syntax::ast::{BinaryOp, UnaryOp};
use rust_decimal::Decimal;
use std::cmp::Ordering;

/// Deeper than this, folding gives up (a cycle that was already reported).
const MAX_DEPTH: u32 = 64;

/// The value of `expr` if it is a constant; `None` if it depends on a context, has an
/// error, or overflows.
pub fn fold(model: &Model, expr: &Expr) -> Option<Value> {
    Folder {
        model,
        lets: &[],
        params: &[],
        depth: 0,
    }
    .fold(expr)
}

/// As [`fold`], seeing the `let`s of a policy.
pub fn fold_in_policy(model: &Model, lets: &[LetDef], expr: &Expr) -> Option<Value> {
    Folder {
        model,
        lets,
        params: &[],
        depth: 0,
    }
    .fold(expr)
}

struct Folder<'m> {
    model: &'m Model,
    lets: &'m [LetDef],
    params: &'m [Value],
    depth: u32,
}

impl<'m> Folder<'m> {
    /// A folder one level deeper, with other `let`s and parameters in view.
    fn nested<'n>(&self, lets: &'n [LetDef], params: &'n [Value]) -> Folder<'n>
    where
        'm: 'n,
    {
        Folder {
            model: self.model,
            lets,
            params,
            depth: self.depth + 1,
        }
    }

    fn fold(&self, expr: &Expr) -> Option<Value> {
        if self.depth > MAX_DEPTH {
            return None;
        }
        match &expr.kind {
            ExprKind::Literal(value) => Some(value.clone()),
            ExprKind::Const(id) => {
                let def = self.model.consts.get(id.0 as usize)?;
                def.folded
                    .clone()
                    .or_else(|| self.nested(&[], &[]).fold(&def.value))
            }
            ExprKind::Let(id) => {
                let def = self.lets.get(id.0 as usize)?;
                self.nested(self.lets, &[]).fold(&def.value)
            }
            ExprKind::Param(index) => self.params.get(*index as usize).cloned(),
            ExprKind::Table(id, args) => {
                let args: Vec<Value> = args.iter().map(|a| self.fold(a)).collect::<Option<_>>()?;
                let table = self.model.tables.get(id.0 as usize)?;
                let inner = self.nested(&[], &args);
                for row in &table.rows {
                    let matches = match &row.condition {
                        None => true,
                        Some(c) => inner.fold(c)? == Value::Bool(true),
                    };
                    if matches {
                        return inner.fold(&row.value);
                    }
                }
                None
            }
            ExprKind::Builtin(builtin, args) => {
                let args: Vec<Value> = args.iter().map(|a| self.fold(a)).collect::<Option<_>>()?;
                match builtin {
                    Builtin::Min | Builtin::Max => {
                        let mut best = args.first()?.clone();
                        for value in &args[1..] {
                            let ordering = compare(value, &best)?;
                            let better = match builtin {
                                Builtin::Min => ordering == Ordering::Less,
                                _ => ordering == Ordering::Greater,
                            };
                            if better {
                                best = value.clone();
                            }
                        }
                        Some(best)
                    }
                    Builtin::Abs => map_number(args.first()?, |d| Some(d.abs())),
                    Builtin::Distance | Builtin::Available | Builtin::Need => None,
                }
            }
            ExprKind::Unary(op, operand) => unary(*op, &self.fold(operand)?),
            ExprKind::Binary(op, left, right) => match op {
                // `x or true` is true whatever `x` is.
                BinaryOp::And | BinaryOp::Or => {
                    let short = Value::Bool(*op == BinaryOp::Or);
                    let l = self.fold(left);
                    if l.as_ref() == Some(&short) {
                        return l;
                    }
                    let r = self.fold(right);
                    if r.as_ref() == Some(&short) {
                        return r;
                    }
                    match (l?, r?) {
                        (Value::Bool(a), Value::Bool(b)) => {
                            Some(Value::Bool(if *op == BinaryOp::Or {
                                a || b
                            } else {
                                a && b
                            }))
                        }
                        _ => None,
                    }
                }
                _ => binary(*op, &self.fold(left)?, &self.fold(right)?),
            },
            ExprKind::If(c, a, b) => match self.fold(c)? {
                Value::Bool(true) => self.fold(a),
                Value::Bool(false) => self.fold(b),
                _ => None,
            },
            ExprKind::List(items) => Some(Value::Set(
                items.iter().map(|i| self.fold(i)).collect::<Option<_>>()?,
            )),
            ExprKind::Attr(_) | ExprKind::LocationField(..) | ExprKind::Node | ExprKind::Error => {
                None
            }
        }
    }
}

/// The decimal inside a number or quantity.
pub fn magnitude(value: &Value) -> Option<Decimal> {
    match value {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Number(d) | Value::Quantity(d, _) | Value::Rate(d, _) => Some(*d),
        _ => None,
    }
}

fn map_number(value: &Value, f: impl Fn(Decimal) -> Option<Decimal>) -> Option<Value> {
    Some(match value {
        Value::Int(i) => Value::Int(i64::try_from(f(Decimal::from(*i))?).ok()?),
        Value::Number(d) => Value::Number(f(*d)?),
        Value::Quantity(d, dim) => Value::Quantity(f(*d)?, *dim),
        Value::Rate(d, dim) => Value::Rate(f(*d)?, *dim),
        _ => return None,
    })
}

/// The order of two numbers or quantities of one dimension.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Quantity(_, x), Value::Quantity(_, y)) | (Value::Rate(_, x), Value::Rate(_, y))
            if x != y =>
        {
            None
        }
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => Some(magnitude(a)?.cmp(&magnitude(b)?)),
    }
}

/// Equality as the language defines it: `1 == 1.0`.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(_) | Value::Number(_), Value::Int(_) | Value::Number(_)) => {
            compare(a, b) == Some(Ordering::Equal)
        }
        _ => a == b,
    }
}

pub fn unary(op: UnaryOp, value: &Value) -> Option<Value> {
    match (op, value) {
        (UnaryOp::Not, Value::Bool(b)) => Some(Value::Bool(!b)),
        (UnaryOp::Neg, Value::Int(i)) => Some(Value::Int(i.checked_neg()?)),
        (UnaryOp::Neg, v) => map_number(v, |d| Some(-d)),
        _ => None,
    }
}

pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Option<Value> {
    use Value::*;
    let bool = |b: bool| Some(Bool(b));
    match op {
        BinaryOp::And | BinaryOp::Or => match (a, b) {
            (Bool(x), Bool(y)) => bool(if op == BinaryOp::And {
                *x && *y
            } else {
                *x || *y
            }),
            _ => None,
        },
        BinaryOp::Eq => bool(equal(a, b)),
        BinaryOp::NotEq => bool(!equal(a, b)),
        BinaryOp::Lt => bool(compare(a, b)? == Ordering::Less),
        BinaryOp::LtEq => bool(compare(a, b)? != Ordering::Greater),
        BinaryOp::Gt => bool(compare(a, b)? == Ordering::Greater),
        BinaryOp::GtEq => bool(compare(a, b)? != Ordering::Less),
        BinaryOp::In | BinaryOp::NotIn => match b {
            Set(items) => bool(items.iter().any(|i| equal(a, i)) == (op == BinaryOp::In)),
            _ => None,
        },
        BinaryOp::Add | BinaryOp::Sub => {
            let apply = |x: Decimal, y: Decimal| {
                if op == BinaryOp::Add {
                    x.checked_add(y)
                } else {
                    x.checked_sub(y)
                }
            };
            match (a, b) {
                (Int(x), Int(y)) => Some(Int(if op == BinaryOp::Add {
                    x.checked_add(*y)?
                } else {
                    x.checked_sub(*y)?
                })),
                (Quantity(x, d), Quantity(y, e)) if d == e => Some(Quantity(apply(*x, *y)?, *d)),
                (Rate(x, d), Rate(y, e)) if d == e => Some(Rate(apply(*x, *y)?, *d)),
                _ => Some(Number(apply(number(a)?, number(b)?)?)),
            }
        }
        BinaryOp::Mul => match (a, b) {
            (Int(x), Int(y)) => Some(Int(x.checked_mul(*y)?)),
            (Rate(r, per), Quantity(q, d)) | (Quantity(q, d), Rate(r, per)) if per == d => {
                Some(Quantity(r.checked_mul(*q)?, Dim::Money))
            }
            (Quantity(p, Dim::Percent), Quantity(q, d))
            | (Quantity(q, d), Quantity(p, Dim::Percent)) => Some(Quantity(p.checked_mul(*q)?, *d)),
            (Quantity(q, d), n) | (n, Quantity(q, d)) => {
                Some(Quantity(q.checked_mul(number(n)?)?, *d))
            }
            (Rate(q, d), n) | (n, Rate(q, d)) => Some(Rate(q.checked_mul(number(n)?)?, *d)),
            _ => Some(Number(number(a)?.checked_mul(number(b)?)?)),
        },
        BinaryOp::Div => {
            let divisor = magnitude(b)?;
            if divisor.is_zero() {
                return None;
            }
            match (a, b) {
                (Quantity(x, d), Quantity(y, e)) if d == e => Some(Number(x.checked_div(*y)?)),
                (Quantity(x, Dim::Money), Quantity(y, d)) => Some(Rate(x.checked_div(*y)?, *d)),
                (Quantity(x, d), n) => Some(Quantity(x.checked_div(number(n)?)?, *d)),
                (Rate(x, d), n) => Some(Rate(x.checked_div(number(n)?)?, *d)),
                _ => Some(Number(number(a)?.checked_div(divisor)?)),
            }
        }
    }
}

fn number(value: &Value) -> Option<Decimal> {
    match value {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Number(d) => Some(*d),
        _ => None,
    }
}
