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

impl MapSpans for EnumDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span.map_spans(to);
        self.variant_spans.map_spans(to);
    }
}

impl MapSpans for AttrDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span.map_spans(to);
    }
}

impl MapSpans for ConstDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.value.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for TableRow {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.condition.map_spans(to);
        self.value.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for TableDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.rows.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for LetDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.value.map_spans(to);
        self.span.map_spans(to);
        self.name_span.map_spans(to);
    }
}

impl MapSpans for RuleDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.condition.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for SafetyStockDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.amount.map_spans(to);
        self.condition.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for CostDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.value.map_spans(to);
        self.condition.map_spans(to);
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

impl MapSpans for StageDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.condition.map_spans(to);
        self.span.map_spans(to);
    }
}

impl MapSpans for ShortageDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span.map_spans(to);
    }
}

impl MapSpans for PolicyDef {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.span.map_spans(to);
        self.applies.map_spans(to);
        self.lets.map_spans(to);
        self.excludes.map_spans(to);
        self.safety_stock.map_spans(to);
        self.costs.map_spans(to);
        self.objective.map_spans(to);
        self.max_shipments.map_spans(to);
        self.ship_complete.map_spans(to);
        self.no_line_split.map_spans(to);
        self.stages.map_spans(to);
        self.on_shortage.map_spans(to);
        self.rejects.map_spans(to);
        self.holds.map_spans(to);
    }
}

impl MapSpans for Model {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.enums.map_spans(to);
        self.attrs.map_spans(to);
        self.consts.map_spans(to);
        self.tables.map_spans(to);
        self.policies.map_spans(to);
    }
}

impl MapSpans for Environment {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.model.map_spans(to);
        self.diagnostics.map_spans(to);
        self.currency_uses.map_spans(to);
    }
}

impl MapSpans for CheckedPolicy {
    fn map_spans(&mut self, to: &impl Fn(Span) -> Span) {
        self.def.map_spans(to);
        self.diagnostics.map_spans(to);
        self.currency_uses.map_spans(to);
    }
}
