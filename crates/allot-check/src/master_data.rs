//! A ruleset against real master data: the node ids, tags, kinds, locations, SKUs and
//! attribute values that rules compare against but no node or item has, and the schema's
//! attributes and variants the data never uses. A policy that names `"STORE-NCY"` or tag
//! `"hazmat-cert"` checks and runs, and silently never matches; these warnings say so.

use crate::fold::fold_in_policy;
use crate::model::{
    AttrId, AttrRef, Builtin, BuiltinAttr, Context, EnumDef, Expr, ExprKind, LetDef, LocationField,
    Model, NODE_KIND, Value,
};
use crate::types::{EnumId, Type};
use allot_diagnostics::{Code, Diagnostic, closest};
use allot_syntax::ast::BinaryOp;
use std::collections::{BTreeMap, BTreeSet};

/// The values a network holds, as far as rules can compare against them.
#[derive(Clone, Debug, Default)]
pub struct MasterData {
    /// The file's name, for messages: "no node of network.json has …".
    pub file: String,
    pub nodes: usize,
    pub items: usize,
    pub node_ids: BTreeSet<String>,
    pub node_kinds: BTreeSet<String>,
    pub node_tags: BTreeSet<String>,
    pub node_countries: BTreeSet<String>,
    pub node_regions: BTreeSet<String>,
    pub node_postal_codes: BTreeSet<String>,
    pub skus: BTreeSet<String>,
    /// Custom attributes by name, as the nodes' and items' `attributes` give them.
    pub node_attributes: BTreeMap<String, Observed>,
    pub item_attributes: BTreeMap<String, Observed>,
}

/// What the records of a network say of one custom attribute.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// How many records give the attribute.
    pub records: usize,
    /// The strings given (a string or an enum variant, or the elements of a list).
    pub strings: BTreeSet<String>,
}

/// The warnings of `model` against `data`, in no particular order.
pub fn check_master_data(model: &Model, data: &MasterData) -> Vec<Diagnostic> {
    let mut checker = Checker {
        model,
        data,
        out: Vec::new(),
    };
    checker.schema();
    let no_lets: &[LetDef] = &[];
    for c in &model.consts {
        checker.walk(&c.value, no_lets);
    }
    for table in &model.tables {
        for row in &table.rows {
            for e in row.condition.iter().chain([&row.value]) {
                checker.walk(e, no_lets);
            }
        }
    }
    for policy in &model.policies {
        for def in &policy.lets {
            checker.walk(&def.value, &policy.lets);
        }
        for e in policy.item_expressions() {
            checker.walk(e, &policy.lets);
        }
    }
    checker.out
}

/// A set of values a rule compares against, and how to name it.
struct Known<'d> {
    values: Vec<&'d str>,
    code: Code,
    /// "no node of network.json has id" …
    what: String,
}

struct Checker<'m> {
    model: &'m Model,
    data: &'m MasterData,
    out: Vec<Diagnostic>,
}

/// What the data says of the custom attributes of one kind of record.
struct Owner<'m> {
    observed: &'m BTreeMap<String, Observed>,
    /// How many records of that kind the network has.
    records: usize,
    noun: &'static str,
}

impl<'m> Checker<'m> {
    /// Nodes' and items' attributes are in the data; orders' are not.
    fn owner(&self, context: Context) -> Option<Owner<'m>> {
        let data = self.data;
        match context {
            Context::Node => Some(Owner {
                observed: &data.node_attributes,
                records: data.nodes,
                noun: "node",
            }),
            Context::Item => Some(Owner {
                observed: &data.item_attributes,
                records: data.items,
                noun: "item",
            }),
            _ => None,
        }
    }

    fn variant(&self, id: EnumId, v: u32) -> &'m str {
        &self.model.enums[id.0 as usize].variants[v as usize]
    }

    /// Attributes no record gives, and variants no record has.
    fn schema(&mut self) {
        for attr in &self.model.attrs {
            let Some(Owner {
                observed,
                records,
                noun,
            }) = self.owner(attr.context)
            else {
                continue;
            };
            let seen = observed.get(&attr.name);
            if records > 0 && seen.is_none_or(|o| o.records == 0) {
                let default = attr
                    .default
                    .as_ref()
                    .map(|v| format!(": every {noun} takes the default {}", self.show(v)))
                    .unwrap_or_default();
                let mut d = Diagnostic::new(
                    Code::ATTRIBUTE_NOT_IN_DATA,
                    attr.span,
                    format!(
                        "no {noun} of {} gives `{}.{}`{default}",
                        self.data.file,
                        attr.context.path(),
                        attr.name
                    ),
                );
                let given: Vec<&str> = observed.keys().map(String::as_str).collect();
                if let Some(near) = closest(&attr.name, given) {
                    d = d.with_help(format!("the data has `{near}`: is that this attribute?"));
                }
                self.out.push(d);
                continue;
            }
            let (Type::Enum(id), Some(seen)) = (&attr.ty, seen) else {
                continue;
            };
            let def: &EnumDef = &self.model.enums[id.0 as usize];
            let defaulted = seen.records < records;
            for (v, (variant, span)) in def.variants.iter().zip(&def.variant_spans).enumerate() {
                let is_default = attr.default == Some(Value::Enum(*id, v as u32));
                if seen.strings.contains(variant) || (defaulted && is_default) {
                    continue;
                }
                self.out.push(Diagnostic::new(
                    Code::VARIANT_NOT_IN_DATA,
                    *span,
                    format!(
                        "no {noun} of {} has `{}.{}` {variant}",
                        self.data.file,
                        attr.context.path(),
                        attr.name
                    ),
                ));
            }
        }
    }

    fn show(&self, value: &Value) -> String {
        match value {
            Value::Str(s) => format!("\"{s}\""),
            Value::Enum(id, v) => self.variant(*id, *v).to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Set(items) if items.is_empty() => "[]".into(),
            _ => "value".into(),
        }
    }

    fn walk(&mut self, e: &Expr, lets: &[LetDef]) {
        match &e.kind {
            ExprKind::Binary(BinaryOp::Eq | BinaryOp::NotEq, a, b) => {
                for (subject, other) in [(a, b), (b, a)] {
                    if let Some(known) = self.scalar_subject(subject) {
                        self.compare(&known, other, lets);
                    }
                }
            }
            ExprKind::Binary(BinaryOp::In | BinaryOp::NotIn, a, b) => {
                if let Some(known) = self.scalar_subject(a) {
                    // `node.id in ["DC-NJ", "DC-TX"]`
                    self.compare(&known, b, lets);
                } else if let Some(known) = self.set_subject(b) {
                    // `"hazmat" in node.tags`
                    self.compare(&known, a, lets);
                }
            }
            ExprKind::Builtin(Builtin::Available | Builtin::Need, args) => {
                // `available(node, "SKU-1")`
                for arg in args {
                    if matches!(arg.kind, ExprKind::Literal(Value::Str(_))) {
                        let known = self.skus();
                        self.compare(&known, arg, lets);
                    }
                }
            }
            _ => {}
        }
        for child in e.children() {
            self.walk(child, lets);
        }
    }

    fn skus(&self) -> Known<'m> {
        Known {
            values: self.data.skus.iter().map(String::as_str).collect(),
            code: Code::UNKNOWN_SKU,
            what: format!("no item of {} has SKU", self.data.file),
        }
    }

    /// What a one-valued expression (`node.id`, `order.pickup_node`, `node.kind`,
    /// `node.location.region`, `line.sku`, a node or item attribute) can be, by the data.
    fn scalar_subject(&self, e: &Expr) -> Option<Known<'m>> {
        let data = self.data;
        let file = &data.file;
        let strings = |set: &'m BTreeSet<String>| set.iter().map(String::as_str).collect();
        Some(match &e.kind {
            ExprKind::Attr(AttrRef::Builtin(
                BuiltinAttr::NodeId | BuiltinAttr::OrderPickupNode,
            )) => Known {
                values: strings(&data.node_ids),
                code: Code::UNKNOWN_NODE,
                what: format!("no node of {file} has id"),
            },
            ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::LineSku)) => self.skus(),
            ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::NodeKind)) => Known {
                values: strings(&data.node_kinds),
                code: Code::VALUE_NOT_IN_DATA,
                what: format!("no node of {file} has kind"),
            },
            ExprKind::LocationField(inner, field)
                if matches!(
                    inner.kind,
                    ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::NodeLocation))
                ) =>
            {
                let (set, name) = match field {
                    LocationField::Country => (&data.node_countries, "country"),
                    LocationField::Region => (&data.node_regions, "region"),
                    LocationField::PostalCode => (&data.node_postal_codes, "postal code"),
                };
                Known {
                    values: strings(set),
                    code: Code::VALUE_NOT_IN_DATA,
                    what: format!("no node of {file} has {name}"),
                }
            }
            ExprKind::Attr(AttrRef::Custom(id))
                if matches!(
                    self.model.attrs[id.0 as usize].ty,
                    Type::String | Type::Enum(_)
                ) =>
            {
                self.custom(*id)?
            }
            _ => return None,
        })
    }

    /// What a set-valued expression (`node.tags`, a set attribute of nodes or items)
    /// can contain, by the data.
    fn set_subject(&self, e: &Expr) -> Option<Known<'m>> {
        match &e.kind {
            ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::NodeTags)) => Some(Known {
                values: self.data.node_tags.iter().map(String::as_str).collect(),
                code: Code::UNKNOWN_TAG,
                what: format!("no node of {} has tag", self.data.file),
            }),
            ExprKind::Attr(AttrRef::Custom(id))
                if self.model.attrs[id.0 as usize].ty == Type::Set(Box::new(Type::String)) =>
            {
                self.custom(*id)
            }
            _ => None,
        }
    }

    /// The values of a custom node or item attribute: those given, and its default when
    /// some record does not give it. `None` when no record gives it (reported at the
    /// schema) or the attribute is not one of nodes or items.
    fn custom(&self, id: AttrId) -> Option<Known<'m>> {
        let attr = &self.model.attrs[id.0 as usize];
        let owner = self.owner(attr.context)?;
        let seen = owner.observed.get(&attr.name).filter(|o| o.records > 0)?;
        let mut values: Vec<&str> = seen.strings.iter().map(String::as_str).collect();
        if seen.records < owner.records {
            match &attr.default {
                Some(Value::Str(s)) => values.push(s),
                Some(Value::Enum(e, v)) => values.push(self.variant(*e, *v)),
                _ => {}
            }
        }
        Some(Known {
            values,
            code: Code::VALUE_NOT_IN_DATA,
            what: format!(
                "no {} of {} has `{}.{}`",
                owner.noun,
                self.data.file,
                attr.context.path(),
                attr.name
            ),
        })
    }

    /// Warns for each constant value of `other` (a literal, a list's elements, a const
    /// or let that folds) that `known` lacks.
    fn compare(&mut self, known: &Known, other: &Expr, lets: &[LetDef]) {
        if let ExprKind::List(elements) = &other.kind {
            for element in elements {
                self.compare(known, element, lets);
            }
            return;
        }
        let values = match fold_in_policy(self.model, lets, other) {
            Some(Value::Set(values)) => values,
            Some(value) => vec![value],
            None => return,
        };
        for value in values {
            let text = match &value {
                Value::Str(s) => s.clone(),
                Value::Enum(id, v) => self.variant(*id, *v).to_string(),
                _ => continue,
            };
            // "" is what a record without the field has (`order.pickup_node != ""`).
            if text.is_empty() || known.values.contains(&text.as_str()) {
                continue;
            }
            let shown = match value {
                Value::Enum(..) => text.clone(),
                _ => format!("\"{text}\""),
            };
            let mut d = Diagnostic::new(known.code, other.span, format!("{} {shown}", known.what));
            let is_kind = matches!(value, Value::Enum(id, _) if id == NODE_KIND);
            if let Some(near) = closest(&text, known.values.iter().copied()) {
                let near = if matches!(value, Value::Enum(..)) {
                    near.to_string()
                } else {
                    format!("\"{near}\"")
                };
                let help = format!("did you mean {near}?");
                // A literal written here can be replaced; a const or let may serve
                // other rules too.
                d = if matches!(other.kind, ExprKind::Literal(_)) {
                    d.with_fix(other.span, near, help)
                } else {
                    d.with_help(help)
                };
            } else if is_kind || known.values.len() <= 8 {
                let mut listed: Vec<&str> = known.values.clone();
                listed.sort_unstable();
                listed.dedup();
                d = d.with_help(if listed.is_empty() {
                    "the data has none".to_string()
                } else {
                    format!("the data has {}", listed.join(", "))
                });
            }
            self.out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_diagnostics::Span;

    fn span() -> Span {
        Span {
            file: allot_diagnostics::FileId(0),
            start: 0,
            end: 1,
        }
    }

    #[test]
    fn an_empty_network_names_what_it_lacks_without_suggestions() {
        let data = MasterData {
            file: "n.json".into(),
            ..MasterData::default()
        };
        let checker = Checker {
            model: &Model::default(),
            data: &data,
            out: Vec::new(),
        };
        let known = checker.skus();
        assert!(known.values.is_empty());
        let mut checker = checker;
        let literal = Expr {
            kind: ExprKind::Literal(Value::Str("SKU-1".into())),
            ty: Type::String,
            deps: crate::model::Deps::NONE,
            span: span(),
        };
        checker.compare(&known, &literal, &[]);
        assert_eq!(checker.out.len(), 1);
        assert_eq!(
            checker.out[0].message,
            "no item of n.json has SKU \"SKU-1\""
        );
        assert_eq!(checker.out[0].help.as_deref(), Some("the data has none"));
    }
}
