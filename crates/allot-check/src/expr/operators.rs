//! Type checking of operators: `not` and `-`, comparisons, `and`/`or`, arithmetic on
//! quantities with units (what `km * USD/km` gives, what cannot be added), and the
//! message and fix for operands that do not fit. Operands are checked by the rest of the
//! expression checker (`expr.rs`) before they get here.

use super::CONTEXT_NAMES;
use crate::check::{Checker, Scope};
use crate::model::*;
use crate::types::{Dim, Type};
use allot_diagnostics::{Code, Diagnostic, Span};
use allot_syntax::ast::{self, BinaryOp, ExprKind as A, UnaryOp};

impl Checker<'_> {
    pub(super) fn unary(
        &mut self,
        op: UnaryOp,
        operand: &ast::Expr,
        scope: &Scope,
        span: Span,
    ) -> Expr {
        let (operand, ty) = match op {
            UnaryOp::Not => {
                let operand = self.expr(operand, scope, Some(&Type::Bool));
                if !operand.ty.compatible(&Type::Bool) {
                    let message = format!("`not` needs a bool, not {}", self.show(&operand.ty));
                    self.error(Diagnostic::new(
                        Code::INVALID_OPERANDS,
                        operand.span,
                        message,
                    ));
                }
                (operand, Type::Bool)
            }
            UnaryOp::Neg => {
                let operand = self.expr(operand, scope, None);
                let ty = operand.ty.clone();
                if !(ty.is_numeric()
                    || matches!(ty, Type::Quantity(_) | Type::Rate(_) | Type::Error))
                {
                    let message =
                        format!("`-` needs a number or a quantity, not {}", self.show(&ty));
                    self.error(Diagnostic::new(
                        Code::INVALID_OPERANDS,
                        operand.span,
                        message,
                    ));
                }
                (operand, ty)
            }
        };
        let deps = operand.deps;
        Expr {
            kind: ExprKind::Unary(op, Box::new(operand)),
            ty,
            deps,
            span,
        }
    }

    pub(super) fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
        span: Span,
    ) -> Expr {
        let (l, r) = match op {
            BinaryOp::And | BinaryOp::Or => (
                self.expr(left, scope, Some(&Type::Bool)),
                self.expr(right, scope, Some(&Type::Bool)),
            ),
            // A bare variant on the left takes its enum from the right: `store == node.kind`.
            _ if self.is_bare_variant(left) && !self.is_bare_variant(right) => {
                let r = self.expr(right, scope, None);
                let expected = match (&op, &r.ty) {
                    (BinaryOp::In | BinaryOp::NotIn, Type::Set(element)) => (**element).clone(),
                    (_, ty) => ty.clone(),
                };
                (self.expr(left, scope, Some(&expected)), r)
            }
            _ => {
                let l = self.expr(left, scope, None);
                let expected = match op {
                    BinaryOp::In | BinaryOp::NotIn => Type::Set(Box::new(l.ty.clone())),
                    _ => l.ty.clone(),
                };
                let r = self.expr(right, scope, Some(&expected));
                (l, r)
            }
        };
        let ty = self.binary_type(op, &l, &r);
        let deps = l.deps.union(r.deps);
        Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            ty,
            deps,
            span,
        }
    }

    fn is_bare_variant(&self, e: &ast::Expr) -> bool {
        match &e.kind {
            A::Name(ident) => {
                self.let_named(&ident.name).is_none()
                    && !self.env.const_index.contains_key(&ident.name)
                    && !CONTEXT_NAMES.contains(&ident.name.as_str())
                    && self
                        .env
                        .model
                        .enums
                        .iter()
                        .any(|en| en.variants.contains(&ident.name))
            }
            A::List(items) => items.iter().all(|i| self.is_bare_variant(i)) && !items.is_empty(),
            _ => false,
        }
    }

    fn binary_type(&mut self, op: BinaryOp, l: &Expr, r: &Expr) -> Type {
        use Type::*;
        if l.ty.is_error() && r.ty.is_error() {
            return match op {
                BinaryOp::And | BinaryOp::Or | BinaryOp::In | BinaryOp::NotIn => Bool,
                _ if op.is_comparison() => Bool,
                _ => Error,
            };
        }
        match op {
            BinaryOp::And | BinaryOp::Or => {
                for side in [l, r] {
                    if !side.ty.compatible(&Bool) {
                        let message = format!(
                            "`{}` needs bool operands, not {}",
                            op.symbol(),
                            self.show(&side.ty)
                        );
                        self.error(Diagnostic::new(Code::INVALID_OPERANDS, side.span, message));
                    }
                }
                Bool
            }
            BinaryOp::In | BinaryOp::NotIn => {
                match &r.ty {
                    Set(element) => {
                        if !l.ty.compatible(element) {
                            let message = format!(
                                "`{}` looks for {} in a set of {}",
                                op.symbol(),
                                self.show(&l.ty),
                                self.show(element)
                            );
                            self.error(Diagnostic::new(
                                Code::TYPE_MISMATCH,
                                l.span.to(r.span),
                                message,
                            ));
                        }
                    }
                    Error => {}
                    other => {
                        let message = format!(
                            "`{}` needs a set or a list on its right, like `[dc, store]`, not {}",
                            op.symbol(),
                            self.show(other)
                        );
                        self.error(Diagnostic::new(Code::NOT_A_COLLECTION, r.span, message));
                    }
                }
                Bool
            }
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => {
                if !self.dimension_check(op, l, r) {
                    return Bool;
                }
                if !l.ty.compatible(&r.ty) {
                    let message = format!(
                        "`{}` cannot compare {} with {}",
                        op.symbol(),
                        self.show(&l.ty),
                        self.show(&r.ty)
                    );
                    self.error(Diagnostic::new(
                        Code::TYPE_MISMATCH,
                        l.span.to(r.span),
                        message,
                    ));
                    return Bool;
                }
                let ty = l.ty.join(&r.ty);
                let ordered = !matches!(op, BinaryOp::Eq | BinaryOp::NotEq);
                let comparable = if ordered {
                    ty.is_numeric() || matches!(ty, Quantity(_) | Rate(_) | Date | Error)
                } else {
                    !matches!(ty, Node | Location | Set(_))
                };
                if !comparable {
                    let message =
                        format!("`{}` cannot compare {} values", op.symbol(), self.show(&ty));
                    self.error(Diagnostic::new(
                        Code::INVALID_OPERANDS,
                        l.span.to(r.span),
                        message,
                    ));
                }
                Bool
            }
            BinaryOp::Add | BinaryOp::Sub => match (&l.ty, &r.ty) {
                (Int, Int) => Int,
                (a, b) if a.is_numeric() && b.is_numeric() => Number,
                (Error, t) | (t, Error) if t.is_numeric() || matches!(t, Quantity(_) | Rate(_)) => {
                    t.clone()
                }
                (Quantity(a), Quantity(b)) if a == b => Quantity(*a),
                (Rate(a), Rate(b)) if a == b => Rate(*a),
                _ => {
                    if self.dimension_check(op, l, r) {
                        self.invalid_operands(op, l, r);
                    }
                    Error
                }
            },
            BinaryOp::Mul => match (&l.ty, &r.ty) {
                (Int, Int) => Int,
                (a, b) if a.is_numeric() && b.is_numeric() => Number,
                (Quantity(d), n) | (n, Quantity(d)) if n.is_numeric() => Quantity(*d),
                (Rate(d), n) | (n, Rate(d)) if n.is_numeric() => Rate(*d),
                (Rate(per), Quantity(d)) | (Quantity(d), Rate(per)) if per == d => {
                    Quantity(Dim::Money)
                }
                (Quantity(Dim::Percent), Quantity(d)) | (Quantity(d), Quantity(Dim::Percent)) => {
                    Quantity(*d)
                }
                (Error, _) | (_, Error) => Error,
                _ => {
                    self.invalid_operands(op, l, r);
                    Error
                }
            },
            BinaryOp::Div => {
                if is_zero_literal(r) {
                    self.error(Diagnostic::new(
                        Code::DIVISION_BY_ZERO,
                        r.span,
                        "division by zero",
                    ));
                }
                match (&l.ty, &r.ty) {
                    (a, b) if a.is_numeric() && b.is_numeric() => Number,
                    (Quantity(d), n) if n.is_numeric() => Quantity(*d),
                    (Rate(d), n) if n.is_numeric() => Rate(*d),
                    (Quantity(a), Quantity(b)) if a == b => Number,
                    (Quantity(Dim::Money), Quantity(d))
                        if matches!(d, Dim::Distance | Dim::Weight) =>
                    {
                        Rate(*d)
                    }
                    (Error, _) | (_, Error) => Error,
                    _ => {
                        self.invalid_operands(op, l, r);
                        Error
                    }
                }
            }
        }
    }

    /// Checks quantities against numbers and other dimensions; false if it reported.
    fn dimension_check(&mut self, op: BinaryOp, l: &Expr, r: &Expr) -> bool {
        match (&l.ty, &r.ty) {
            (Type::Quantity(a), Type::Quantity(b)) if a != b => {
                let message = format!(
                    "`{}` cannot mix {} with {}",
                    op.symbol(),
                    a.name(),
                    b.name()
                );
                self.error(Diagnostic::new(
                    Code::DIMENSION_MISMATCH,
                    l.span.to(r.span),
                    message,
                ));
                false
            }
            (Type::Quantity(dim), n) | (n, Type::Quantity(dim)) if n.is_numeric() => {
                let number = if n == &l.ty { l } else { r };
                let mut diagnostic = Diagnostic::new(
                    Code::MISSING_UNIT,
                    number.span,
                    format!("`{}` mixes {} with a plain number", op.symbol(), dim.name()),
                );
                diagnostic = match self.unit_fix(number, &Type::Quantity(*dim)) {
                    Some(fix) => diagnostic.with_fix(
                        number.span,
                        fix.clone(),
                        format!("give the number a unit: `{fix}`"),
                    ),
                    None => diagnostic.with_help(format!(
                        "the number needs a unit of {}, such as {}",
                        dim.name(),
                        dim.suggested_unit(self.currency())
                    )),
                };
                self.error(diagnostic);
                false
            }
            _ => true,
        }
    }

    /// `50` → `50 km` when a plain number literal stands where a quantity is wanted.
    pub(crate) fn unit_fix(&self, number: &Expr, wanted: &Type) -> Option<String> {
        let Type::Quantity(dim) = wanted else {
            return None;
        };
        let text = match &number.kind {
            ExprKind::Literal(Value::Int(i)) => i.to_string(),
            ExprKind::Literal(Value::Number(n)) => n.to_string(),
            _ => return None,
        };
        let unit = dim.suggested_unit(self.currency());
        Some(if unit == "%" {
            format!("{text}%")
        } else {
            format!("{text} {unit}")
        })
    }

    fn invalid_operands(&mut self, op: BinaryOp, l: &Expr, r: &Expr) {
        let message = format!(
            "cannot apply `{}` to {} and {}",
            op.symbol(),
            self.show(&l.ty),
            self.show(&r.ty)
        );
        let mut diagnostic = Diagnostic::new(Code::INVALID_OPERANDS, l.span.to(r.span), message);
        if let (
            BinaryOp::Mul,
            Type::Quantity(Dim::Money),
            Type::Quantity(d @ (Dim::Weight | Dim::Distance)),
        )
        | (
            BinaryOp::Mul,
            Type::Quantity(d @ (Dim::Weight | Dim::Distance)),
            Type::Quantity(Dim::Money),
        ) = (op, &l.ty, &r.ty)
        {
            let per = if *d == Dim::Weight { "kg" } else { "km" };
            diagnostic = diagnostic.with_help(format!(
                "to charge by {}, write a rate such as `0.35 USD/{per}`",
                d.name()
            ));
        }
        self.error(diagnostic);
    }
}

/// A literal zero divisor (folding catches constant ones).
fn is_zero_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Literal(Value::Int(0)) => true,
        ExprKind::Literal(Value::Number(n) | Value::Quantity(n, _)) => n.is_zero(),
        _ => false,
    }
}
