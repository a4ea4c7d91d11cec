//! The checker: collects the declarations of every file of a ruleset, resolves names
//! and types, and builds the [`Model`]. Expressions are in `expr.rs`, constant
//! folding in `fold.rs`, warnings in `lint.rs`.

use crate::clause::Clause;
use crate::fold::fold;
use crate::model::*;
use crate::types::{Dim, EnumId, Type, TypeDisplay};
use allot_diagnostics::closest;
use allot_diagnostics::{Code, Diagnostic, Span, sort_diagnostics};
use allot_syntax::ParsedFile;
use allot_syntax::ast::{self, CostBasis, DeclKind, ItemKind, PolicyKind};
use std::collections::{HashMap, HashSet};

/// A checked ruleset and everything found wrong with it, sorted by position.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub model: Model,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckResult {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks the files of one ruleset together: declarations in one file see those of all.
pub fn check(files: &[&ParsedFile]) -> CheckResult {
    let mut checker = Checker {
        // Uses may hide in what did not parse: then "never used" would be a guess.
        report_unused: !files
            .iter()
            .any(|f| f.diagnostics.iter().any(Diagnostic::is_error)),
        ..Checker::default()
    };
    for file in files {
        checker.unparsed.extend(file.unparsed_names.iter().cloned());
    }
    let decls: Vec<&ast::Decl> = files.iter().flat_map(|f| f.file.decls.iter()).collect();
    checker.declare_enums(&decls);
    checker.declare_consts_and_tables(&decls);
    checker.declare_attrs(&decls);
    checker.check_consts();
    checker.check_tables();
    for decl in &decls {
        if let DeclKind::Policy(policy) = &decl.kind {
            checker.policy(policy, decl);
        }
    }
    checker.finish()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Unchecked,
    InProgress,
    Done,
}

pub(crate) struct Scope<'s> {
    pub clause: Clause,
    pub params: &'s [(String, Type)],
}

impl Scope<'_> {
    pub fn of(clause: Clause) -> Scope<'static> {
        Scope {
            clause,
            params: &[],
        }
    }
}

struct LetSlot<'a> {
    name: &'a ast::Ident,
    value: &'a ast::Expr,
    span: Span,
    state: State,
    checked: Option<Expr>,
    used: bool,
}

#[derive(Default)]
pub(crate) struct Checker<'a> {
    pub model: Model,
    diagnostics: Vec<Diagnostic>,
    pub attr_index: HashMap<(Context, String), AttrId>,
    enum_index: HashMap<String, EnumId>,
    pub const_index: HashMap<String, ConstId>,
    const_asts: Vec<&'a ast::Const>,
    const_state: Vec<State>,
    pub consts_used: Vec<bool>,
    pub table_index: HashMap<String, TableId>,
    table_asts: Vec<&'a ast::Table>,
    pub tables_used: Vec<bool>,
    /// For each table, the tables its rows call (to find recursion).
    pub table_calls: Vec<Vec<(TableId, Span)>>,
    pub current_table: Option<TableId>,
    pub unparsed: HashSet<String>,
    /// The ruleset's currency and where it was first used.
    pub currency: Option<(String, Span)>,
    lets: Vec<LetSlot<'a>>,
    /// Policy and profile names → where first declared.
    policy_names: HashMap<String, Span>,
    report_unused: bool,
}

impl<'a> Checker<'a> {
    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn show(&self, ty: &Type) -> String {
        let names: Vec<String> = self.model.enums.iter().map(|e| e.name.clone()).collect();
        TypeDisplay {
            ty,
            enum_names: &names,
        }
        .to_string()
    }

    fn duplicate(&mut self, code: Code, what: &str, name: &ast::Ident, first: Span) {
        self.error(
            Diagnostic::new(
                code,
                name.span,
                format!("{what} `{}` is declared twice", name.name),
            )
            .with_label(first, "first declared here"),
        );
    }

    // ------------------------------------------------------------ declarations

    fn declare_enums(&mut self, decls: &[&'a ast::Decl]) {
        for (name, variants, doc) in BUILTIN_ENUMS {
            self.enum_index
                .insert(name.to_string(), EnumId(self.model.enums.len() as u32));
            self.model.enums.push(EnumDef {
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
                if let Some(&existing) = self.enum_index.get(&e.name.name) {
                    match self.model.enums[existing.0 as usize].span {
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
                self.enum_index
                    .insert(e.name.name.clone(), EnumId(self.model.enums.len() as u32));
                self.model.enums.push(EnumDef {
                    name: e.name.name.clone(),
                    variants,
                    span: Some(e.name.span),
                    variant_spans,
                    doc: e.doc.clone(),
                });
            }
        }
    }

    fn declare_consts_and_tables(&mut self, decls: &[&'a ast::Decl]) {
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
                    self.const_index
                        .insert(c.name.name.clone(), ConstId(self.const_asts.len() as u32));
                    self.const_asts.push(c);
                    self.model.consts.push(ConstDef {
                        name: c.name.name.clone(),
                        ty: Type::Error,
                        value: Expr::error(c.value.span),
                        folded: None,
                        span: c.name.span,
                        doc: decl.doc.clone(),
                    });
                }
                DeclKind::Table(t) => {
                    self.table_index
                        .insert(t.name.name.clone(), TableId(self.table_asts.len() as u32));
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
                    self.model.tables.push(TableDef {
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
                name => match self.enum_index.get(name) {
                    Some(&id) => Type::Enum(id),
                    None => {
                        let mut candidates: Vec<&str> = vec![
                            "bool", "int", "number", "string", "location", "money", "distance",
                            "weight", "duration", "percent", "set",
                        ];
                        candidates.extend(self.enum_index.keys().map(String::as_str));
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

    fn declare_attrs(&mut self, decls: &[&'a ast::Decl]) {
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
                if let Some(&id) = self.attr_index.get(&key) {
                    let first = self.model.attrs[id.0 as usize].span;
                    self.duplicate(Code::DUPLICATE_SCHEMA_ENTRY, "attribute", &attr.name, first);
                    continue;
                }
                let ty = self.resolve_type(&attr.ty);
                let id = AttrId(self.model.attrs.len() as u32);
                self.attr_index.insert(key, id);
                self.model.attrs.push(AttrDef {
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
            let ty = self.model.attrs[id.0 as usize].ty.clone();
            let checked = self.expr(default, &Scope::of(Clause::SchemaDefault), Some(&ty));
            if self.expect_type(&checked, &ty, "this attribute is declared as") {
                self.model.attrs[id.0 as usize].default = fold(&self.model, &checked);
            }
        }
    }

    /// Reports `e` if its type is not `ty`; true when it fits.
    pub(crate) fn expect_type(&mut self, e: &Expr, ty: &Type, what: &str) -> bool {
        if e.ty.compatible(ty) {
            return true;
        }
        let message = format!("{what} {}, but this is {}", self.show(ty), self.show(&e.ty));
        let mut diagnostic = Diagnostic::new(Code::TYPE_MISMATCH, e.span, message);
        if let Some(fix) = self.unit_fix(e, ty) {
            diagnostic = diagnostic.with_fix(e.span, fix.clone(), format!("write `{fix}`"));
        }
        self.error(diagnostic);
        false
    }

    // ------------------------------------------------------------ consts

    fn check_consts(&mut self) {
        for i in 0..self.const_asts.len() {
            self.const_type(ConstId(i as u32), None);
        }
    }

    /// The type of a const, checking it first if needed; `used_at` is the reference
    /// that asked (for the cycle message).
    pub(crate) fn const_type(&mut self, id: ConstId, used_at: impl Into<Option<Span>>) -> Type {
        let index = id.0 as usize;
        match self.const_state[index] {
            State::Done => return self.model.consts[index].ty.clone(),
            State::InProgress => {
                let name = self.model.consts[index].name.clone();
                let at = used_at.into().unwrap_or(self.model.consts[index].span);
                let definition = self.model.consts[index].span;
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
        let def = &mut self.model.consts[index];
        def.ty = ty.clone();
        def.value = value;
        self.const_state[index] = State::Done;
        ty
    }

    // ------------------------------------------------------------ tables

    fn check_tables(&mut self) {
        for index in 0..self.table_asts.len() {
            let ast = self.table_asts[index];
            let id = TableId(index as u32);
            self.current_table = Some(id);
            let params = self.model.tables[index].params.clone();
            let result = self.model.tables[index].result.clone();
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
            self.model.tables[index].rows = rows;
        }
        self.current_table = None;
        self.table_cycles();
    }

    /// A row condition; a bare enum variant (or a list of them) matches the first parameter.
    fn row_condition(&mut self, condition: &ast::Expr, scope: &Scope) -> Expr {
        let pattern = match (&condition.kind, scope.params.first()) {
            (ast::ExprKind::Name(ident), Some((_, Type::Enum(_))))
                if !scope.params.iter().any(|(p, _)| *p == ident.name)
                    && !self.const_index.contains_key(&ident.name) =>
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
                    let name = self.model.tables[start].name.clone();
                    let definition = self.model.tables[start].span;
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

    // ------------------------------------------------------------ policies

    pub(crate) fn let_named(&self, name: &str) -> Option<LetId> {
        self.lets
            .iter()
            .position(|l| l.name.name == name)
            .map(|i| LetId(i as u32))
    }

    pub(crate) fn let_names(&self) -> Vec<String> {
        self.lets.iter().map(|l| l.name.name.clone()).collect()
    }

    /// The type and dependencies of a `let`, checking it first if needed.
    pub(crate) fn let_type(&mut self, id: LetId) -> (Type, Deps, Span) {
        let index = id.0 as usize;
        let slot = &mut self.lets[index];
        slot.used = true;
        let name_span = slot.name.span;
        match slot.state {
            State::Done => {
                let checked = slot.checked.as_ref().expect("checked let");
                return (checked.ty.clone(), checked.deps, name_span);
            }
            State::InProgress => {
                let name = slot.name.name.clone();
                self.error(
                    Diagnostic::new(
                        Code::CYCLE,
                        name_span,
                        format!("`{name}` is defined in terms of itself"),
                    )
                    .with_help("a `let` cannot refer to itself, directly or through other `let`s"),
                );
                return (Type::Error, Deps::NONE, name_span);
            }
            State::Unchecked => {}
        }
        slot.state = State::InProgress;
        let value = slot.value;
        let checked = self.expr(value, &Scope::of(Clause::Let), None);
        let result = (checked.ty.clone(), checked.deps, name_span);
        let slot = &mut self.lets[index];
        slot.checked = Some(checked);
        slot.state = State::Done;
        result
    }

    fn policy(&mut self, policy: &'a ast::Policy, decl: &ast::Decl) {
        let name = &policy.name;
        if let Some(&first) = self.policy_names.get(&name.value) {
            self.error(
                Diagnostic::new(
                    Code::DUPLICATE_DECLARATION,
                    name.span,
                    format!(
                        "a policy or profile named \"{}\" is declared twice",
                        name.value
                    ),
                )
                .with_label(first, "first declared here"),
            );
            return;
        }
        self.policy_names.insert(name.value.clone(), name.span);
        let profile = policy.kind == PolicyKind::Compliance;
        let mut def = PolicyDef {
            kind: policy.kind,
            name: name.value.clone(),
            span: name.span,
            doc: decl.doc.clone(),
            applies: None,
            priority: 0,
            lets: Vec::new(),
            excludes: Vec::new(),
            safety_stock: Vec::new(),
            costs: Vec::new(),
            objective: Vec::new(),
            max_shipments: None,
            ship_complete: None,
            no_line_split: None,
            stages: Vec::new(),
            on_shortage: None,
            rejects: Vec::new(),
            holds: Vec::new(),
        };
        self.lets.clear();
        for item in &policy.items {
            if let ItemKind::Let { name, value } = &item.kind {
                if let Some(existing) = self.let_named(&name.name) {
                    let first = self.lets[existing.0 as usize].name.span;
                    self.duplicate(Code::DUPLICATE_LOCAL, "`let`", name, first);
                    continue;
                }
                self.lets.push(LetSlot {
                    name,
                    value,
                    span: item.span,
                    state: State::Unchecked,
                    checked: None,
                    used: false,
                });
            }
        }
        // Items that may appear once: the first one's span.
        let mut singles: HashMap<&'static str, Span> = HashMap::new();
        let mut cost_names: HashMap<String, Span> = HashMap::new();
        let mut stage_names: HashMap<String, Span> = HashMap::new();
        for item in &policy.items {
            let kind = &item.kind;
            let single = matches!(
                kind,
                ItemKind::Applies(_)
                    | ItemKind::Priority(_)
                    | ItemKind::Objective(_)
                    | ItemKind::MaxShipments(_)
                    | ItemKind::ShipComplete
                    | ItemKind::NoLineSplit
                    | ItemKind::OnShortage { .. }
            );
            if single {
                if let Some(&first) = singles.get(kind.describe()) {
                    self.error(
                        Diagnostic::new(
                            Code::DUPLICATE_ITEM,
                            item.span,
                            format!(
                                "`{}` is given twice in this {}",
                                kind.describe(),
                                policy.kind.keyword()
                            ),
                        )
                        .with_label(first, "first given here"),
                    );
                    continue;
                }
                singles.insert(kind.describe(), item.span);
            }
            if profile
                && matches!(
                    kind,
                    ItemKind::Priority(_) | ItemKind::Objective(_) | ItemKind::Stage { .. }
                )
            {
                self.error(
                    Diagnostic::new(
                        Code::NOT_ALLOWED_IN_PROFILE,
                        item.span,
                        format!("a compliance profile cannot set `{}`", kind.describe()),
                    )
                    .with_help("profiles only tighten the routing policy: they add exclusions, rejections, holds, safety stock and costs, and stricter splitting and shortage rules"),
                );
                continue;
            }
            self.item(item, &mut def, &mut cost_names, &mut stage_names);
        }
        let lets = std::mem::take(&mut self.lets);
        for slot in lets {
            if self.report_unused && !slot.used && !slot.name.name.starts_with('_') {
                self.error(
                    Diagnostic::new(
                        Code::UNUSED_LET,
                        slot.name.span,
                        format!("`{}` is never used", slot.name.name),
                    )
                    .with_help("remove it, or prefix its name with `_`"),
                );
            }
            def.lets.push(LetDef {
                name: slot.name.name.clone(),
                value: slot.checked.unwrap_or_else(|| Expr::error(slot.value.span)),
                span: slot.span,
                name_span: slot.name.span,
            });
        }
        self.model.policies.push(def);
    }

    fn because(text: &Option<ast::StrLit>) -> Option<String> {
        text.as_ref().map(|s| s.value.clone())
    }

    fn item(
        &mut self,
        item: &ast::Item,
        def: &mut PolicyDef,
        cost_names: &mut HashMap<String, Span>,
        stage_names: &mut HashMap<String, Span>,
    ) {
        let span = item.span;
        match &item.kind {
            ItemKind::Applies(condition) => {
                def.applies = Some(self.condition(condition, &Scope::of(Clause::Applies)))
            }
            ItemKind::Priority(count) => def.priority = count.value,
            ItemKind::Let { name, .. } => {
                if let Some(id) = self.let_named(&name.name) {
                    // Checked here if nothing used it earlier; not a use.
                    let used = self.lets[id.0 as usize].used;
                    self.let_type(id);
                    self.lets[id.0 as usize].used = used;
                }
            }
            ItemKind::Exclude { condition, because } => def.excludes.push(RuleDef {
                condition: self.condition(condition, &Scope::of(Clause::Exclude)),
                because: Self::because(because),
                span,
            }),
            ItemKind::Reject { condition, because } => def.rejects.push(RuleDef {
                condition: self.condition(condition, &Scope::of(Clause::Reject)),
                because: Self::because(because),
                span,
            }),
            ItemKind::Hold { condition, because } => def.holds.push(RuleDef {
                condition: self.condition(condition, &Scope::of(Clause::Hold)),
                because: Self::because(because),
                span,
            }),
            ItemKind::SafetyStock { amount, condition } => {
                let scope = Scope::of(Clause::SafetyStock);
                let amount = self.expr(amount, &scope, Some(&Type::Int));
                if amount.ty != Type::Int && !amount.ty.is_error() {
                    let message = format!(
                        "safety stock is a whole number of units, not {}",
                        self.show(&amount.ty)
                    );
                    self.error(Diagnostic::new(Code::TYPE_MISMATCH, amount.span, message));
                } else if let Some(Value::Int(n)) = fold(&self.model, &amount)
                    && n < 0
                {
                    self.error(Diagnostic::new(
                        Code::INVALID_COUNT,
                        amount.span,
                        format!("safety stock cannot be negative ({n})"),
                    ));
                }
                let condition = condition.as_ref().map(|c| self.condition(c, &scope));
                def.safety_stock.push(SafetyStockDef {
                    amount,
                    condition,
                    span,
                });
            }
            ItemKind::Cost {
                name,
                basis,
                value,
                condition,
            } => {
                if let Some(&first) = cost_names.get(&name.name) {
                    self.duplicate(Code::DUPLICATE_LOCAL, "cost", name, first);
                } else {
                    cost_names.insert(name.name.clone(), name.span);
                }
                let clause = match basis {
                    CostBasis::Shipment => Clause::CostPerShipment,
                    CostBasis::Line => Clause::CostPerLine,
                    CostBasis::Unit => Clause::CostPerUnit,
                };
                let scope = Scope::of(clause);
                let money = Type::Quantity(Dim::Money);
                let value = self.expr(value, &scope, Some(&money));
                if !value.ty.compatible(&money) {
                    let message =
                        format!("a cost must be money, but this is {}", self.show(&value.ty));
                    let mut diagnostic = Diagnostic::new(Code::COST_NOT_MONEY, value.span, message);
                    diagnostic = match self.unit_fix(&value, &money) {
                        Some(fix) => {
                            diagnostic.with_fix(value.span, fix.clone(), format!("write `{fix}`"))
                        }
                        None => diagnostic.with_help(
                            "multiply by a rate to get money, like `0.35 USD/kg * shipment.weight`",
                        ),
                    };
                    self.error(diagnostic);
                }
                let condition = condition.as_ref().map(|c| self.condition(c, &scope));
                def.costs.push(CostDef {
                    name: name.name.clone(),
                    basis: *basis,
                    value,
                    condition,
                    span,
                });
            }
            ItemKind::Objective(criteria) => {
                for criterion in criteria {
                    let measure = match &criterion.measure {
                        ast::Measure::Shipments => MeasureDef::Shipments,
                        ast::Measure::Cost => MeasureDef::Cost,
                        ast::Measure::Aggregate(aggregator, e) => {
                            let checked = self.expr(e, &Scope::of(Clause::Objective), None);
                            if !(checked.ty.is_numeric()
                                || matches!(checked.ty, Type::Quantity(_) | Type::Error))
                            {
                                let message = format!(
                                    "an objective ranks plans by a number or a quantity, not {}",
                                    self.show(&checked.ty)
                                );
                                self.error(Diagnostic::new(
                                    Code::TYPE_MISMATCH,
                                    checked.span,
                                    message,
                                ));
                            }
                            MeasureDef::Aggregate(*aggregator, checked)
                        }
                    };
                    def.objective.push(CriterionDef {
                        direction: criterion.direction,
                        measure,
                        span: criterion.span,
                    });
                }
            }
            ItemKind::MaxShipments(count) => {
                if count.value < 1 || count.value > u32::MAX as i64 {
                    self.error(
                        Diagnostic::new(
                            Code::INVALID_COUNT,
                            count.span,
                            format!("`max shipments` must be at least 1, not {}", count.value),
                        )
                        .with_help("to forbid splitting, write `ship complete`"),
                    );
                } else {
                    def.max_shipments = Some((count.value as u32, span));
                }
            }
            ItemKind::ShipComplete => def.ship_complete = Some(span),
            ItemKind::NoLineSplit => def.no_line_split = Some(span),
            ItemKind::Stage { name, condition } => {
                if let Some(&first) = stage_names.get(&name.value) {
                    self.error(
                        Diagnostic::new(
                            Code::DUPLICATE_LOCAL,
                            name.span,
                            format!("stage \"{}\" is declared twice", name.value),
                        )
                        .with_label(first, "first declared here"),
                    );
                } else {
                    stage_names.insert(name.value.clone(), name.span);
                }
                let condition = condition
                    .as_ref()
                    .map(|c| self.condition(c, &Scope::of(Clause::Stage)));
                def.stages.push(StageDef {
                    name: name.value.clone(),
                    condition,
                    span,
                });
            }
            ItemKind::OnShortage { action, because } => {
                def.on_shortage = Some(ShortageDef {
                    action: *action,
                    because: Self::because(because),
                    span,
                })
            }
        }
    }

    fn finish(mut self) -> CheckResult {
        for index in 0..self.model.consts.len() {
            let folded = fold(&self.model, &self.model.consts[index].value);
            self.model.consts[index].folded = folded;
        }
        self.model.currency = self.currency.as_ref().map(|(c, _)| c.clone());
        let mut diagnostics = self.diagnostics;
        if !self.report_unused {
            self.consts_used.fill(true);
            self.tables_used.fill(true);
        }
        diagnostics.extend(crate::lint::lint(
            &self.model,
            &self.consts_used,
            &self.tables_used,
        ));
        sort_diagnostics(&mut diagnostics);
        diagnostics.dedup();
        CheckResult {
            model: self.model,
            diagnostics,
        }
    }
}
