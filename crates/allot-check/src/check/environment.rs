//! The environment every policy is checked in: the built-in and declared enums, the
//! constants and tables (their types, values and call cycles) and the schema's
//! attributes. Declarations are collected first, then checked; nothing here looks
//! inside a policy.

use super::{Checker, Scope, State};
use crate::clause::Clause;
use crate::fold::fold;
use crate::model::*;
use crate::types::{Dim, EnumId, Type};
use allot_diagnostics::closest;
use allot_diagnostics::{Code, Diagnostic, Span};
use allot_syntax::ast::{self, DeclKind};
use std::collections::HashMap;

impl<'a> Checker<'a> {
    pub(super) fn declare_enums(&mut self, decls: &[&'a ast::Decl]) {
        for (name, variants, doc) in BUILTIN_ENUMS {
            let id = EnumId(self.env.model.enums.len() as u32);
            self.env_mut().enum_index.insert(name.to_string(), id);
            self.env_mut().model.enums.push(EnumDef {
                name: name.to_string(),
                variants: variants.iter().map(|v| v.to_string()).collect(),
                span: None,
                variant_spans: Vec::new(),
                doc: Some(doc.to_string()),
            });
        }
        for decl in decls {
            let DeclKind::Schema(schema) = &decl.kind else {
                continue;
            };
            for e in &schema.enums {
                if let Some(&existing) = self.env.enum_index.get(&e.name.name) {
                    match self.env.model.enums[existing.0 as usize].span {
                        Some(first) => {
                            self.duplicate(Code::DUPLICATE_SCHEMA_ENTRY, "enum", &e.name, first)
                        }
                        None => self.error(Diagnostic::new(
                            Code::DUPLICATE_SCHEMA_ENTRY,
                            e.name.span,
                            format!(
                                "`{}` is a built-in enum and cannot be redeclared",
                                e.name.name
                            ),
                        )),
                    }
                    continue;
                }
                let mut variants: Vec<String> = Vec::new();
                let mut variant_spans = Vec::new();
                for v in &e.variants {
                    if let Some(i) = variants.iter().position(|x| *x == v.name) {
                        let first = variant_spans[i];
                        self.duplicate(Code::DUPLICATE_SCHEMA_ENTRY, "variant", v, first);
                        continue;
                    }
                    variants.push(v.name.clone());
                    variant_spans.push(v.span);
                }
                let id = EnumId(self.env.model.enums.len() as u32);
                self.env_mut().enum_index.insert(e.name.name.clone(), id);
                self.env_mut().model.enums.push(EnumDef {
                    name: e.name.name.clone(),
                    variants,
                    span: Some(e.name.span),
                    variant_spans,
                    doc: e.doc.clone(),
                });
            }
        }
    }

    pub(super) fn declare_consts_and_tables(&mut self, decls: &[&'a ast::Decl]) {
        let mut first_spans: HashMap<String, Span> = HashMap::new();
        for decl in decls {
            let name = match &decl.kind {
                DeclKind::Const(c) => &c.name,
                DeclKind::Table(t) => &t.name,
                _ => continue,
            };
            if let Some(&first) = first_spans.get(&name.name) {
                self.duplicate(Code::DUPLICATE_DECLARATION, "the name", name, first);
                continue;
            }
            first_spans.insert(name.name.clone(), name.span);
            match &decl.kind {
                DeclKind::Const(c) => {
                    let id = ConstId(self.const_asts.len() as u32);
                    self.env_mut().const_index.insert(c.name.name.clone(), id);
                    self.const_asts.push(c);
                    self.env_mut().model.consts.push(ConstDef {
                        name: c.name.name.clone(),
                        ty: Type::Error,
                        value: Expr::error(c.value.span),
                        folded: None,
                        span: c.name.span,
                        doc: decl.doc.clone(),
                    });
                }
                DeclKind::Table(t) => {
                    let id = TableId(self.table_asts.len() as u32);
                    self.env_mut().table_index.insert(t.name.name.clone(), id);
                    self.table_asts.push(t);
                    // Signatures first: bodies may call tables declared later.
                    let mut params: Vec<(String, Type)> = Vec::new();
                    for p in &t.params {
                        let ty = self.resolve_type(&p.ty);
                        if params.iter().any(|(n, _)| *n == p.name.name) {
                            self.error(Diagnostic::new(
                                Code::DUPLICATE_LOCAL,
                                p.name.span,
                                format!("parameter `{}` is declared twice", p.name.name),
                            ));
                        }
                        params.push((p.name.name.clone(), ty));
                    }
                    let result = self.resolve_type(&t.result);
                    self.env_mut().model.tables.push(TableDef {
                        name: t.name.name.clone(),
                        params,
                        result,
                        rows: Vec::new(),
                        span: t.name.span,
                        doc: decl.doc.clone(),
                    });
                }
                _ => {}
            }
        }
        self.consts_used = vec![false; self.const_asts.len()];
        self.const_state = vec![State::Unchecked; self.const_asts.len()];
        self.tables_used = vec![false; self.table_asts.len()];
        self.table_calls = vec![Vec::new(); self.table_asts.len()];
    }

    pub(crate) fn resolve_type(&mut self, t: &ast::TypeExpr) -> Type {
        match t {
            ast::TypeExpr::Set(element, _) => Type::Set(Box::new(self.resolve_type(element))),
            ast::TypeExpr::Named(ident) => match ident.name.as_str() {
                "bool" => Type::Bool,
                "int" => Type::Int,
                "number" => Type::Number,
                "string" => Type::String,
                "location" => Type::Location,
                "money" => Type::Quantity(Dim::Money),
                "distance" => Type::Quantity(Dim::Distance),
                "weight" => Type::Quantity(Dim::Weight),
                "duration" => Type::Quantity(Dim::Duration),
                "percent" => Type::Quantity(Dim::Percent),
                name => match self.env.enum_index.get(name) {
                    Some(&id) => Type::Enum(id),
                    None => {
                        let mut candidates: Vec<&str> = vec![
                            "bool", "int", "number", "string", "location", "money", "distance",
                            "weight", "duration", "percent", "set",
                        ];
                        candidates.extend(self.env.enum_index.keys().map(String::as_str));
                        let mut diagnostic = Diagnostic::new(
                            Code::UNKNOWN_TYPE,
                            ident.span,
                            format!("unknown type `{name}`"),
                        );
                        diagnostic = match closest(name, candidates) {
                            Some(s) => diagnostic.with_fix(ident.span, s, format!("did you mean `{s}`?")),
                            None => diagnostic.with_help(
                                "types are bool, int, number, string, location, money, distance, weight, duration, percent, set<T> and the schema's enums",
                            ),
                        };
                        self.error(diagnostic);
                        Type::Error
                    }
                },
            },
        }
    }

    pub(super) fn declare_attrs(&mut self, decls: &[&'a ast::Decl]) {
        let mut defaults = Vec::new();
        for decl in decls {
            let DeclKind::Schema(schema) = &decl.kind else {
                continue;
            };
            for attr in &schema.attrs {
                let context = match attr.owner.name.as_str() {
                    "item" => Context::Item,
                    "node" => Context::Node,
                    "order" => Context::Order,
                    other => {
                        let mut diagnostic = Diagnostic::new(
                            Code::INVALID_ATTRIBUTE_OWNER,
                            attr.owner.span,
                            format!(
                                "custom attributes belong to `item`, `node` or `order`, not `{other}`"
                            ),
                        );
                        if let Some(s) = closest(other, ["item", "node", "order"]) {
                            diagnostic = diagnostic.with_fix(
                                attr.owner.span,
                                s,
                                format!("did you mean `{s}`?"),
                            );
                        }
                        self.error(diagnostic);
                        continue;
                    }
                };
                let name = &attr.name.name;
                let builtin_context = if context == Context::Item {
                    Context::Line
                } else {
                    context
                };
                if BuiltinAttr::ALL
                    .iter()
                    .any(|a| a.context() == builtin_context && a.name() == name)
                {
                    self.error(Diagnostic::new(
                        Code::INVALID_ATTRIBUTE_OWNER,
                        attr.name.span,
                        format!(
                            "`{}.{name}` is built in and cannot be redeclared",
                            context.path()
                        ),
                    ));
                    continue;
                }
                let key = (context, name.clone());
                if let Some(&id) = self.env.attr_index.get(&key) {
                    let first = self.env.model.attrs[id.0 as usize].span;
                    self.duplicate(Code::DUPLICATE_SCHEMA_ENTRY, "attribute", &attr.name, first);
                    continue;
                }
                let ty = self.resolve_type(&attr.ty);
                let id = AttrId(self.env.model.attrs.len() as u32);
                self.env_mut().attr_index.insert(key, id);
                self.env_mut().model.attrs.push(AttrDef {
                    context,
                    name: name.clone(),
                    ty,
                    default: None,
                    span: attr.name.span,
                    doc: attr.doc.clone(),
                });
                defaults.push((id, &attr.default));
            }
        }
        for (id, default) in defaults {
            let ty = self.env.model.attrs[id.0 as usize].ty.clone();
            let checked = self.expr(default, &Scope::of(Clause::SchemaDefault), Some(&ty));
            if self.expect_type(&checked, &ty, "this attribute is declared as") {
                let default = fold(&self.env.model, &checked);
                self.env_mut().model.attrs[id.0 as usize].default = default;
            }
        }
    }

    pub(super) fn check_consts(&mut self) {
        for i in 0..self.const_asts.len() {
            self.const_type(ConstId(i as u32), None);
        }
    }

    /// The type of a const, checking it first if needed; `used_at` is the reference
    /// that asked (for the cycle message).
    pub(crate) fn const_type(&mut self, id: ConstId, used_at: impl Into<Option<Span>>) -> Type {
        let index = id.0 as usize;
        // While a policy is checked, every const of its environment is done.
        match self.const_state.get(index).copied().unwrap_or(State::Done) {
            State::Done => return self.env.model.consts[index].ty.clone(),
            State::InProgress => {
                let name = self.env.model.consts[index].name.clone();
                let at = used_at.into().unwrap_or(self.env.model.consts[index].span);
                let definition = self.env.model.consts[index].span;
                self.error(
                    Diagnostic::new(
                        Code::CYCLE,
                        at,
                        format!("`{name}` is defined in terms of itself"),
                    )
                    .with_label(definition, format!("`{name}` defined here")),
                );
                return Type::Error;
            }
            State::Unchecked => {}
        }
        self.const_state[index] = State::InProgress;
        let ast = self.const_asts[index];
        // A const sees no `let` and no table parameter, wherever it is first used.
        let lets = std::mem::take(&mut self.lets);
        let table = self.current_table.take();
        let declared = ast.ty.as_ref().map(|t| self.resolve_type(t));
        let value = self.expr(&ast.value, &Scope::of(Clause::Const), declared.as_ref());
        self.lets = lets;
        self.current_table = table;
        let ty = match declared {
            Some(declared) => {
                self.expect_type(&value, &declared, "this const is declared as");
                declared
            }
            None => value.ty.clone(),
        };
        let def = &mut self.env_mut().model.consts[index];
        def.ty = ty.clone();
        def.value = value;
        self.const_state[index] = State::Done;
        ty
    }

    pub(super) fn check_tables(&mut self) {
        for index in 0..self.table_asts.len() {
            let ast = self.table_asts[index];
            let id = TableId(index as u32);
            self.current_table = Some(id);
            let params = self.env.model.tables[index].params.clone();
            let result = self.env.model.tables[index].result.clone();
            let scope = Scope {
                clause: Clause::Table,
                params: &params,
            };
            let mut rows = Vec::new();
            for row in &ast.rows {
                let condition = row
                    .condition
                    .as_ref()
                    .map(|c| self.row_condition(c, &scope));
                let value = self.expr(&row.value, &scope, Some(&result));
                if !value.ty.compatible(&result) {
                    let message = format!(
                        "this row gives {}, but `{}` returns {}",
                        self.show(&value.ty),
                        ast.name.name,
                        self.show(&result)
                    );
                    let mut diagnostic = Diagnostic::new(Code::TYPE_MISMATCH, value.span, message)
                        .with_label(ast.result.span(), "return type declared here");
                    if let Some(fix) = self.unit_fix(&value, &result) {
                        diagnostic =
                            diagnostic.with_fix(value.span, fix.clone(), format!("write `{fix}`"));
                    }
                    self.error(diagnostic);
                }
                rows.push(TableRow {
                    condition,
                    value,
                    span: row.span,
                });
            }
            self.env_mut().model.tables[index].rows = rows;
        }
        self.current_table = None;
        self.table_cycles();
    }

    /// A row condition; a bare enum variant (or a list of them) matches the first parameter.
    fn row_condition(&mut self, condition: &ast::Expr, scope: &Scope) -> Expr {
        let pattern = match (&condition.kind, scope.params.first()) {
            (ast::ExprKind::Name(ident), Some((_, Type::Enum(_))))
                if !scope.params.iter().any(|(p, _)| *p == ident.name)
                    && !self.env.const_index.contains_key(&ident.name) =>
            {
                Some(ast::BinaryOp::Eq)
            }
            (ast::ExprKind::List(_), Some((_, Type::Enum(_)))) => Some(ast::BinaryOp::In),
            _ => None,
        };
        match pattern {
            Some(op) => {
                let param_ty = scope.params[0].1.clone();
                let expected = match op {
                    ast::BinaryOp::In => Type::Set(Box::new(param_ty.clone())),
                    _ => param_ty.clone(),
                };
                let value = self.expr(condition, scope, Some(&expected));
                self.expect_type(
                    &value,
                    &expected,
                    "this row matches the first parameter, which is",
                );
                let param = Expr {
                    kind: ExprKind::Param(0),
                    ty: param_ty,
                    deps: Deps::NONE,
                    span: condition.span,
                };
                Expr {
                    kind: ExprKind::Binary(op, Box::new(param), Box::new(value)),
                    ty: Type::Bool,
                    deps: Deps::NONE,
                    span: condition.span,
                }
            }
            None => self.condition(condition, scope),
        }
    }

    /// Tables calling themselves, directly or through others, would never finish.
    fn table_cycles(&mut self) {
        let count = self.table_calls.len();
        for start in 0..count {
            // Depth-first search for a path back to `start`.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            let mut seen = vec![false; count];
            while let Some(&mut (table, ref mut next)) = stack.last_mut() {
                let calls = &self.table_calls[table];
                if *next >= calls.len() {
                    stack.pop();
                    continue;
                }
                let (callee, _) = calls[*next];
                *next += 1;
                let callee = callee.0 as usize;
                if callee == start {
                    let name = self.env.model.tables[start].name.clone();
                    let definition = self.env.model.tables[start].span;
                    // Point at `start`'s own call on the path that came back.
                    let (_, taken) = stack[0];
                    let span = self.table_calls[start][taken - 1].1;
                    self.error(
                        Diagnostic::new(Code::CYCLE, span, format!("table `{name}` calls itself"))
                            .with_label(definition, format!("`{name}` defined here"))
                            .with_help("tables cannot recurse: every evaluation must finish"),
                    );
                    break;
                }
                if !seen[callee] {
                    seen[callee] = true;
                    stack.push((callee, 0));
                }
            }
        }
    }
}
