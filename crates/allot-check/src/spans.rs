//! Moving checked results to other places. The language server checks each declaration
//! where it was parsed on its own and moves the result to wherever the file has it now.

use crate::check::{CheckedPolicy, Environment};
use crate::model::*;
use allot_diagnostics::{Diagnostic, Span};

/// Sends every span a value holds through `to`.
pub trait MapSpans {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span);
}

impl MapSpans for Span {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        *self = to(*self);
    }
}

impl<T: MapSpans> MapSpans for Vec<T> {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        for item in self {
            item.map_spans(to);
        }
    }
}

impl<T: MapSpans> MapSpans for Option<T> {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        if let Some(item) = self {
            item.map_spans(to);
        }
    }
}

impl<T: MapSpans> MapSpans for Box<T> {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        (**self).map_spans(to);
    }
}

impl<T> MapSpans for (T, Span) {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.1 = to(self.1);
    }
}

impl MapSpans for Diagnostic {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        Diagnostic::map_spans(self, to);
    }
}

impl MapSpans for Expr {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span.map_spans(to);
        match &mut self.kind {
            ExprKind::Literal(_)
            | ExprKind::Attr(_)
            | ExprKind::Node
            | ExprKind::Let(_)
            | ExprKind::Const(_)
            | ExprKind::Param(_)
            | ExprKind::Error => {}
            ExprKind::LocationField(e, _) | ExprKind::Unary(_, e) => e.map_spans(to),
            ExprKind::Builtin(_, args) | ExprKind::Table(_, args) | ExprKind::List(args) => {
                args.map_spans(to)
            }
            ExprKind::Binary(_, a, b) => {
                a.map_spans(to);
                b.map_spans(to);
            }
            ExprKind::If(c, a, b) => {
                c.map_spans(to);
                a.map_spans(to);
                b.map_spans(to);
            }
        }
    }
}

/// `MapSpans` for a struct: every field listed holds spans.
macro_rules! map_spans_of_fields {
    ($($ty:ty { $($field:ident),* })*) => {$(
        impl MapSpans for $ty {
            fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
                $(self.$field.map_spans(to);)*
            }
        }
    )*};
}

map_spans_of_fields! {
    EnumDef { span, variant_spans }
    AttrDef { span }
    ConstDef { value, span }
    TableRow { condition, value, span }
    TableDef { rows, span }
    LetDef { value, span, name_span }
    RuleDef { condition, span }
    SafetyStockDef { amount, condition, span }
    CostDef { value, condition, span }
    StageDef { condition, span }
    ShortageDef { span }
    TransitDef { value, span }
    PolicyDef {
        span, applies, lets, excludes, safety_stock, costs, objective, max_shipments,
        ship_complete, no_line_split, stages, on_shortage, rejects, holds, transit, promises,
        keeps, disposes
    }
    Model { enums, attrs, consts, tables, policies }
    Environment { model, diagnostics, currency_uses }
    CheckedPolicy { def, diagnostics, currency_uses }
}

impl MapSpans for PromiseDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        if let Promise::DeliverBy(date) = &mut self.promise {
            date.map_spans(to);
        }
        self.span.map_spans(to);
    }
}

impl MapSpans for CriterionDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        if let MeasureDef::Aggregate(_, e) = &mut self.measure {
            e.map_spans(to);
        }
        self.span.map_spans(to);
    }
}
