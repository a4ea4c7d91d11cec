//! Partial evaluation: a program simplified with what the order (and line) fix, so that
//! the search evaluates only what varies with the node and the shipment (see
//! [`Env::fix`]). The result means the same as the program it came from.

use super::interpret::{Frame, Params};
use super::*;

/// What folding made of an expression (see [`Env::fix`]).
enum Folded {
    /// Unchanged: every part of it reads what the environment does not fix.
    Kept,
    /// Its value: it reads only what the environment fixes.
    Known(V),
    /// Partly computed.
    Changed(Expr),
}

impl Folded {
    /// The expression folding made of `original`.
    fn into_expr(self, original: &Expr) -> Expr {
        match self {
            Folded::Kept => original.clone(),
            Folded::Known(v) => Expr::Const(v),
            Folded::Changed(expr) => expr,
        }
    }
}

impl Env<'_> {
    /// `code` with every part that reads only the order and the line of this environment
    /// (and constants) replaced by its value, so that it is computed once per order or
    /// line rather than once per candidate node. `None` when nothing changes. The level
    /// stays that of `code`: a fixed value holds for this order or line only.
    pub fn fix(&self, code: &Code, cache: &mut LetCache, lets: &[Code]) -> Option<Code> {
        if !code.reads_order_or_line {
            return None;
        }
        let mut frame = Frame {
            cache,
            lets,
            params: Params::Values(&[]),
        };
        let expr = match self.fold(&code.expr, &mut frame) {
            Folded::Kept => return None,
            Folded::Known(v) => Expr::Const(v),
            Folded::Changed(expr) => expr,
        };
        Some(Code {
            expr,
            level: code.level,
            reads_order_or_line: false,
        })
    }

    fn fold(&self, expr: &Expr, f: &mut Frame) -> Folded {
        let fixed_let = |index: usize| {
            f.lets.get(index).is_some_and(|code| match code.level {
                Level::Constant => true,
                Level::Order => self.order.is_some(),
                Level::Line => self.order.is_some() && self.line.is_some(),
                _ => false,
            })
        };
        let operands: &[Expr] = match expr {
            Expr::Const(v) => return Folded::Known(v.clone()),
            Expr::Order(_) | Expr::Custom(Owner::Order, _) if self.order.is_some() => {
                return Folded::Known(self.value(expr, f));
            }
            Expr::Line(_) | Expr::Custom(Owner::Item, _) if self.line.is_some() => {
                return Folded::Known(self.value(expr, f));
            }
            Expr::Let(index) if fixed_let(*index) => {
                return Folded::Known(self.let_value(*index, f));
            }
            Expr::And(pair) | Expr::Or(pair) => return self.fold_logic(expr, pair, f),
            Expr::Once(x) => {
                return match self.fold(x, f) {
                    Folded::Changed(x) => Folded::Changed(Expr::Once(Box::new(x))),
                    other => other,
                };
            }
            Expr::If(parts) => {
                if let Folded::Known(v) = self.fold(&parts[0], f) {
                    let branch = &parts[if v.as_bool() { 1 } else { 2 }];
                    return match self.fold(branch, f) {
                        Folded::Kept => Folded::Changed(branch.clone()),
                        other => other,
                    };
                }
                parts.as_slice()
            }
            Expr::Not(x)
            | Expr::Abs(x)
            | Expr::WholeDays(x)
            | Expr::Neg(x)
            | Expr::Field(_, x)
            | Expr::CompareWith(_, x, _)
            | Expr::ArithWith { x, .. } => std::slice::from_ref(&**x),
            Expr::Distance(pair) | Expr::Compare(_, pair) | Expr::Arith(_, pair) => pair.as_slice(),
            Expr::Min(args)
            | Expr::Max(args)
            | Expr::List(args)
            | Expr::Table(_, args)
            | Expr::NumTable(_, args) => args,
            // What the node, the shipment, the batch or a table's arguments give, and the
            // stock `available` reads (less the pair's safety stock).
            _ => return Folded::Kept,
        };
        let folded: smallvec::SmallVec<[Folded; 3]> =
            operands.iter().map(|o| self.fold(o, f)).collect();
        // Nothing is in an empty set (`node.region in line.item.protected_regions`).
        if let (
            Expr::Compare(op @ (Compare::In | Compare::NotIn), _),
            [_, Folded::Known(V::Set(set))],
        ) = (expr, folded.as_slice())
            && set.is_empty()
        {
            return Folded::Known(V::Bool(matches!(op, Compare::NotIn)));
        }
        // Operators and tables read nothing but their operands.
        if folded.iter().all(|o| matches!(o, Folded::Known(_))) {
            return Folded::Known(self.value(expr, f));
        }
        if folded.iter().all(|o| matches!(o, Folded::Kept)) {
            return Folded::Kept;
        }
        let operands: Vec<Expr> = folded
            .into_iter()
            .zip(operands)
            .map(|(folded, original)| folded.into_expr(original))
            .collect();
        Folded::Changed(match expr {
            Expr::If(_) => Expr::If(array(operands)),
            Expr::Not(_) => Expr::Not(one(operands)),
            Expr::Abs(_) => Expr::Abs(one(operands)),
            Expr::Neg(_) => Expr::Neg(one(operands)),
            Expr::WholeDays(_) => Expr::WholeDays(one(operands)),
            Expr::Field(field, _) => Expr::Field(*field, one(operands)),
            Expr::CompareWith(op, _, constant) => Expr::CompareWith(*op, one(operands), *constant),
            Expr::ArithWith {
                op,
                constant,
                constant_first,
                ..
            } => Expr::ArithWith {
                op: *op,
                x: one(operands),
                constant: *constant,
                constant_first: *constant_first,
            },
            Expr::Distance(_) => Expr::Distance(array(operands)),
            Expr::Compare(op, _) => Expr::compare(*op, array(operands)),
            Expr::Arith(op, _) => Expr::arith(*op, *array(operands)),
            Expr::Min(_) => Expr::Min(operands.into()),
            Expr::Max(_) => Expr::Max(operands.into()),
            Expr::Table(id, _) => Expr::Table(*id, operands.into()),
            Expr::NumTable(id, _) => Expr::NumTable(*id, operands.into()),
            _ => Expr::List(operands.into()),
        })
    }

    /// Folds `and` and `or`: `false and x` is false and `true and x` is x, whichever side
    /// is known; dually for `or`. Programs have no effects: an operand that cannot change
    /// the value need not run.
    fn fold_logic(&self, expr: &Expr, pair: &[Expr; 2], f: &mut Frame) -> Folded {
        let deciding = matches!(expr, Expr::Or(_));
        match (self.fold(&pair[0], f), self.fold(&pair[1], f)) {
            (Folded::Known(v), _) | (_, Folded::Known(v)) if v.as_bool() == deciding => {
                Folded::Known(V::Bool(deciding))
            }
            (Folded::Known(_), other) => Folded::Changed(other.into_expr(&pair[1])),
            (other, Folded::Known(_)) => Folded::Changed(other.into_expr(&pair[0])),
            (Folded::Kept, Folded::Kept) => Folded::Kept,
            (a, b) => {
                let pair = Box::new([a.into_expr(&pair[0]), b.into_expr(&pair[1])]);
                Folded::Changed(if deciding {
                    Expr::Or(pair)
                } else {
                    Expr::And(pair)
                })
            }
        }
    }
}
