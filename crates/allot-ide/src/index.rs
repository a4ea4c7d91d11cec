//! Every typed expression and every named thing of a checked ruleset, with where it
//! is written: the map from a position to what is there.

use allot_check::model::*;
use allot_check::types::{EnumId, Type};
use allot_diagnostics::Span;

/// A named thing of the ruleset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symbol {
    Const(ConstId),
    Table(TableId),
    /// A `let` of the policy or profile at this index.
    Let(usize, LetId),
    Attr(AttrId),
    Builtin(BuiltinAttr),
    Variant(EnumId, u32),
    Enum(EnumId),
    Policy(usize),
    Function(Builtin),
}

/// A name in the source and the symbol it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    /// The declaration itself rather than a use.
    pub definition: bool,
}

/// A typed expression in the source.
#[derive(Clone, Debug)]
pub struct Typed {
    pub span: Span,
    pub ty: Type,
    pub deps: Deps,
}

#[derive(Default, Debug)]
pub struct Index {
    pub occurrences: Vec<Occurrence>,
    pub expressions: Vec<Typed>,
}

impl Index {
    pub fn new(model: &Model) -> Index {
        let mut index = Index::default();
        for (i, e) in model.enums.iter().enumerate() {
            let id = EnumId(i as u32);
            if let Some(span) = e.span {
                index.define(span, Symbol::Enum(id));
            }
            for (v, span) in e.variant_spans.iter().enumerate() {
                index.define(*span, Symbol::Variant(id, v as u32));
            }
        }
        for (i, attr) in model.attrs.iter().enumerate() {
            index.define(attr.span, Symbol::Attr(AttrId(i as u32)));
        }
        for (i, c) in model.consts.iter().enumerate() {
            index.define(c.span, Symbol::Const(ConstId(i as u32)));
            index.expr(model, None, &c.value);
        }
        for (i, t) in model.tables.iter().enumerate() {
            index.define(t.span, Symbol::Table(TableId(i as u32)));
            for row in &t.rows {
                if let Some(c) = &row.condition {
                    index.expr(model, None, c);
                }
                index.expr(model, None, &row.value);
            }
        }
        for (p, policy) in model.policies.iter().enumerate() {
            index.define(policy.span, Symbol::Policy(p));
            let scope = Some(p);
            for (l, def) in policy.lets.iter().enumerate() {
                index.define(def.name_span, Symbol::Let(p, LetId(l as u32)));
                index.expr(model, scope, &def.value);
            }
            for e in policy.item_expressions() {
                index.expr(model, scope, e);
            }
        }
        index
    }

    fn define(&mut self, span: Span, symbol: Symbol) {
        self.occurrences.push(Occurrence {
            span,
            symbol,
            definition: true,
        });
    }

    fn refer(&mut self, span: Span, symbol: Symbol) {
        self.occurrences.push(Occurrence {
            span,
            symbol,
            definition: false,
        });
    }

    fn expr(&mut self, model: &Model, policy: Option<usize>, e: &Expr) {
        if !matches!(e.kind, ExprKind::Error) {
            self.expressions.push(Typed {
                span: e.span,
                ty: e.ty.clone(),
                deps: e.deps,
            });
        }
        // The name at the end (`order.retailer`) or the start (`rate(d)`) of the span.
        let tail = |len: usize| Span {
            start: e.span.end.saturating_sub(len as u32).max(e.span.start),
            ..e.span
        };
        let head = |len: usize| Span {
            end: (e.span.start + len as u32).min(e.span.end),
            ..e.span
        };
        match &e.kind {
            ExprKind::Const(id) => self.refer(e.span, Symbol::Const(*id)),
            ExprKind::Let(id) => {
                if let Some(p) = policy {
                    self.refer(e.span, Symbol::Let(p, *id));
                }
            }
            ExprKind::Attr(AttrRef::Custom(id)) => {
                let name = &model.attrs[id.0 as usize].name;
                self.refer(tail(name.len()), Symbol::Attr(*id));
            }
            ExprKind::Attr(AttrRef::Builtin(b)) => {
                self.refer(tail(b.name().len()), Symbol::Builtin(*b));
            }
            ExprKind::Literal(Value::Enum(id, v)) => {
                let name_len = model.enums[id.0 as usize].variants[*v as usize].len();
                if e.span.end - e.span.start == name_len as u32 {
                    self.refer(e.span, Symbol::Variant(*id, *v));
                }
            }
            ExprKind::Table(id, _) => {
                let name = &model.tables[id.0 as usize].name;
                self.refer(head(name.len()), Symbol::Table(*id));
            }
            ExprKind::Builtin(function, _) => {
                let name = Builtin::ALL
                    .iter()
                    .find(|(b, _, _)| b == function)
                    .map_or("", |(_, name, _)| name);
                self.refer(head(name.len()), Symbol::Function(*function));
            }
            _ => {}
        }
        for child in e.children() {
            self.expr(model, policy, child);
        }
    }

    /// The occurrence of a name at `offset` in `file`, if any.
    pub fn occurrence_at(
        &self,
        file: allot_diagnostics::FileId,
        offset: u32,
    ) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.span.file == file && o.span.start <= offset && offset <= o.span.end)
            .min_by_key(|o| o.span.end - o.span.start)
    }

    /// The smallest typed expression around `offset` in `file`.
    pub fn expression_at(&self, file: allot_diagnostics::FileId, offset: u32) -> Option<&Typed> {
        self.expressions
            .iter()
            .filter(|t| t.span.file == file && t.span.start <= offset && offset < t.span.end)
            .min_by_key(|t| t.span.end - t.span.start)
    }

    /// Every occurrence of `symbol`, its definition included.
    pub fn occurrences_of(&self, symbol: Symbol) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.iter().filter(move |o| o.symbol == symbol)
    }
}
