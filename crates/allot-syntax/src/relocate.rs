//! Moving a parse result to another place: a declaration parsed on its own (at offset 0)
//! is placed at its offset in its file. This lets the language server's database parse
//! each declaration once and reuse the result while edits move it around.

use crate::ast::*;
use allot_diagnostics::{Diagnostic, FileId, Span};

/// Shifts every span and token by `base` bytes into `file`.
pub trait Relocate {
    fn relocate(&mut self, file: FileId, base: u32);
}

impl Relocate for Span {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.file = file;
        self.start += base;
        self.end += base;
    }
}

impl<T: Relocate> Relocate for Vec<T> {
    fn relocate(&mut self, file: FileId, base: u32) {
        for item in self {
            item.relocate(file, base);
        }
    }
}

impl<T: Relocate> Relocate for Option<T> {
    fn relocate(&mut self, file: FileId, base: u32) {
        if let Some(item) = self {
            item.relocate(file, base);
        }
    }
}

impl<T: Relocate> Relocate for Box<T> {
    fn relocate(&mut self, file: FileId, base: u32) {
        (**self).relocate(file, base);
    }
}

impl Relocate for Diagnostic {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.map_spans(&|mut span| {
            span.relocate(file, base);
            span
        });
    }
}

impl Relocate for crate::lexer::Token {
    fn relocate(&mut self, _file: FileId, base: u32) {
        self.start += base;
        self.end += base;
    }
}

impl Relocate for Ident {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.span.relocate(file, base);
    }
}

impl Relocate for StrLit {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.span.relocate(file, base);
    }
}

impl Relocate for Decl {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.span.relocate(file, base);
        match &mut self.kind {
            DeclKind::Schema(schema) => {
                for e in &mut schema.enums {
                    e.name.relocate(file, base);
                    e.variants.relocate(file, base);
                    e.span.relocate(file, base);
                }
                for a in &mut schema.attrs {
                    a.owner.relocate(file, base);
                    a.name.relocate(file, base);
                    a.ty.relocate(file, base);
                    a.default.relocate(file, base);
                    a.span.relocate(file, base);
                }
            }
            DeclKind::Const(c) => {
                c.name.relocate(file, base);
                c.ty.relocate(file, base);
                c.value.relocate(file, base);
            }
            DeclKind::Table(t) => {
                t.name.relocate(file, base);
                for p in &mut t.params {
                    p.name.relocate(file, base);
                    p.ty.relocate(file, base);
                }
                t.result.relocate(file, base);
                for row in &mut t.rows {
                    row.condition.relocate(file, base);
                    row.value.relocate(file, base);
                    row.span.relocate(file, base);
                }
            }
            DeclKind::Policy(policy) => {
                policy.name.relocate(file, base);
                policy.items.relocate(file, base);
            }
        }
    }
}

impl Relocate for TypeExpr {
    fn relocate(&mut self, file: FileId, base: u32) {
        match self {
            TypeExpr::Named(ident) => ident.relocate(file, base),
            TypeExpr::Set(element, span) => {
                element.relocate(file, base);
                span.relocate(file, base);
            }
        }
    }
}

impl Relocate for Item {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.span.relocate(file, base);
        match &mut self.kind {
            ItemKind::Applies(e) => e.relocate(file, base),
            ItemKind::Priority(count) | ItemKind::MaxShipments(count) => {
                count.span.relocate(file, base)
            }
            ItemKind::Transit(e) => e.relocate(file, base),
            ItemKind::ShipWithin { days, because } | ItemKind::DeliverWithin { days, because } => {
                days.span.relocate(file, base);
                because.relocate(file, base);
            }
            ItemKind::DeliverBy { date, because } => {
                date.relocate(file, base);
                because.relocate(file, base);
            }
            ItemKind::Let { name, value } => {
                name.relocate(file, base);
                value.relocate(file, base);
            }
            ItemKind::Exclude { condition, because }
            | ItemKind::Reject { condition, because }
            | ItemKind::Hold { condition, because }
            | ItemKind::Keep { condition, because }
            | ItemKind::Dispose { condition, because } => {
                condition.relocate(file, base);
                because.relocate(file, base);
            }
            ItemKind::SafetyStock { amount, condition } => {
                amount.relocate(file, base);
                condition.relocate(file, base);
            }
            ItemKind::Cost {
                name,
                value,
                condition,
                ..
            } => {
                name.relocate(file, base);
                value.relocate(file, base);
                condition.relocate(file, base);
            }
            ItemKind::Objective(criteria) => {
                for criterion in criteria {
                    criterion.span.relocate(file, base);
                    if let Measure::Aggregate(_, e) = &mut criterion.measure {
                        e.relocate(file, base);
                    }
                }
            }
            ItemKind::ShipComplete | ItemKind::NoLineSplit => {}
            ItemKind::Stage { name, condition } => {
                name.relocate(file, base);
                condition.relocate(file, base);
            }
            ItemKind::OnShortage { because, .. } => because.relocate(file, base),
        }
    }
}

impl Relocate for Expr {
    fn relocate(&mut self, file: FileId, base: u32) {
        self.span.relocate(file, base);
        match &mut self.kind {
            ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Str(_) => {}
            ExprKind::Quantity { unit, .. } => {
                unit.numerator.relocate(file, base);
                unit.denominator.relocate(file, base);
            }
            ExprKind::List(items) => items.relocate(file, base),
            ExprKind::Name(ident) => ident.relocate(file, base),
            ExprKind::Field(target, field) => {
                target.relocate(file, base);
                field.relocate(file, base);
            }
            ExprKind::Call(callee, args) => {
                callee.relocate(file, base);
                args.relocate(file, base);
            }
            ExprKind::Unary(_, e) | ExprKind::Paren(e) => e.relocate(file, base),
            ExprKind::Binary(_, a, b) => {
                a.relocate(file, base);
                b.relocate(file, base);
            }
            ExprKind::If(c, a, b) => {
                c.relocate(file, base);
                a.relocate(file, base);
                b.relocate(file, base);
            }
        }
    }
}
