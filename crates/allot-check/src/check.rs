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
use std::borrow::Cow;
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
    let unparsed: HashSet<String> = files
        .iter()
        .flat_map(|f| f.unparsed_names.iter().cloned())
        .collect();
    let decls: Vec<&ast::Decl> = files.iter().flat_map(|f| f.file.decls.iter()).collect();
    let environment = check_environment(&decls, &unparsed);
    let policies = decls
        .iter()
        .filter_map(|decl| check_policy(&environment, &unparsed, decl))
        .collect();
    // Uses may hide in what did not parse: then "never used" would be a guess.
    let report_unused = !files
        .iter()
        .any(|f| f.diagnostics.iter().any(Diagnostic::is_error));
    assemble(environment, policies, report_unused)
}

/// What every policy is checked against: the schema, the consts and the tables, checked
/// once. A policy's check depends on this and its own declaration only, so that the
/// language server re-checks just the policy being edited.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// The model without policies; consts folded.
    pub model: Model,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) attr_index: HashMap<(Context, String), AttrId>,
    pub(crate) enum_index: HashMap<String, EnumId>,
    pub(crate) const_index: HashMap<String, ConstId>,
    pub(crate) table_index: HashMap<String, TableId>,
    /// Consts and tables used by other consts, tables and schema defaults.
    consts_used: Vec<bool>,
    tables_used: Vec<bool>,
    /// Every money literal's currency, in checking order.
    pub(crate) currency_uses: Vec<(String, Span)>,
}

/// One policy or profile, checked against an [`Environment`].
#[derive(Clone, Debug)]
pub struct CheckedPolicy {
    pub def: PolicyDef,
    pub(crate) diagnostics: Vec<Diagnostic>,
    consts_used: Vec<bool>,
    tables_used: Vec<bool>,
    pub(crate) currency_uses: Vec<(String, Span)>,
}

/// Checks the schema, consts and tables among `decls` (policies are skipped).
/// `unparsed`: names declared in text that did not parse, which are not reported unknown.
pub fn check_environment(decls: &[&ast::Decl], unparsed: &HashSet<String>) -> Environment {
    let mut checker = Checker::new(Cow::Owned(Environment::default()), unparsed);
    checker.declare_enums(decls);
    checker.declare_consts_and_tables(decls);
    checker.declare_attrs(decls);
    checker.check_consts();
    checker.check_tables();
    let Checker {
        env,
        mut diagnostics,
        consts_used,
        tables_used,
        currency_uses,
        ..
    } = checker;
    let mut env = env.into_owned();
    for index in 0..env.model.consts.len() {
        env.model.consts[index].folded = fold(&env.model, &env.model.consts[index].value);
    }
    diagnostics.extend(crate::lint::lint_environment(&env.model));
    Environment {
        diagnostics,
        consts_used,
        tables_used,
        currency_uses,
        ..env
    }
}

/// Checks one policy or profile declaration; `None` for any other declaration.
pub fn check_policy(
    env: &Environment,
    unparsed: &HashSet<String>,
    decl: &ast::Decl,
) -> Option<CheckedPolicy> {
    let DeclKind::Policy(policy) = &decl.kind else {
        return None;
    };
    let mut checker = Checker::new(Cow::Borrowed(env), unparsed);
    let def = checker.policy(policy, decl);
    let mut diagnostics = checker.diagnostics;
    diagnostics.extend(crate::lint::lint_policy(&env.model, &def));
    Some(CheckedPolicy {
        def,
        diagnostics,
        consts_used: checker.consts_used,
        tables_used: checker.tables_used,
        currency_uses: checker.currency_uses,
    })
}

/// The ruleset from its environment and its checked policies, in declaration order:
/// what needs them all (duplicate names, the one currency, unused declarations,
/// priority ties, looser profiles). `report_unused` is false when some text did not
/// parse, since uses may hide in it.
pub fn assemble(
    env: Environment,
    policies: Vec<CheckedPolicy>,
    report_unused: bool,
) -> CheckResult {
    let Environment {
        mut model,
        mut diagnostics,
        mut consts_used,
        mut tables_used,
        mut currency_uses,
        ..
    } = env;
    let mut policy_names: HashMap<String, Span> = HashMap::new();
    for policy in policies {
        let name = &policy.def.name;
        if let Some(&first) = policy_names.get(name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::DUPLICATE_DECLARATION,
                    policy.def.span,
                    format!("a policy or profile named \"{name}\" is declared twice"),
                )
                .with_label(first, "first declared here"),
            );
            continue;
        }
        policy_names.insert(name.clone(), policy.def.span);
        diagnostics.extend(
            policy
                .diagnostics
                .into_iter()
                .filter(|d| report_unused || d.code != Code::UNUSED_LET),
        );
        for (all, used) in [
            (&mut consts_used, policy.consts_used),
            (&mut tables_used, policy.tables_used),
        ] {
            for (all, used) in all.iter_mut().zip(used) {
                *all |= used;
            }
        }
        currency_uses.extend(policy.currency_uses);
        model.policies.push(policy.def);
    }
    model.currency = currency_uses.first().map(|(code, _)| code.clone());
    diagnostics.extend(mixed_currencies(&currency_uses));
    if !report_unused {
        consts_used.fill(true);
        tables_used.fill(true);
    }
    diagnostics.extend(crate::lint::lint_ruleset(
        &model,
        &consts_used,
        &tables_used,
    ));
    sort_diagnostics(&mut diagnostics);
    diagnostics.dedup();
    CheckResult { model, diagnostics }
}

/// One currency per ruleset: the first money literal sets it.
fn mixed_currencies(uses: &[(String, Span)]) -> Vec<Diagnostic> {
    let Some((first, first_span)) = uses.first() else {
        return Vec::new();
    };
    uses.iter()
        .filter(|(code, _)| code != first)
        .map(|(code, span)| {
            Diagnostic::new(
                Code::MIXED_CURRENCY,
                *span,
                format!("this ruleset uses {first}; a money amount in {code} cannot mix with it"),
            )
            .with_label(*first_span, format!("{first} first used here"))
            .with_help("a ruleset uses one currency, the one its network data declares")
        })
        .collect()
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

pub(crate) struct Checker<'a> {
    /// Owned while the environment is being built; borrowed to check a policy.
    pub env: Cow<'a, Environment>,
    diagnostics: Vec<Diagnostic>,
    const_asts: Vec<&'a ast::Const>,
    const_state: Vec<State>,
    pub consts_used: Vec<bool>,
    table_asts: Vec<&'a ast::Table>,
    pub tables_used: Vec<bool>,
    /// For each table, the tables its rows call (to find recursion).
    pub table_calls: Vec<Vec<(TableId, Span)>>,
    pub current_table: Option<TableId>,
    pub unparsed: &'a HashSet<String>,
    /// Every money literal's currency seen by this check, in order.
    pub currency_uses: Vec<(String, Span)>,
    lets: Vec<LetSlot<'a>>,
}

impl<'a> Checker<'a> {
    fn new(env: Cow<'a, Environment>, unparsed: &'a HashSet<String>) -> Checker<'a> {
        Checker {
            consts_used: vec![false; env.model.consts.len()],
            tables_used: vec![false; env.model.tables.len()],
            env,
            diagnostics: Vec::new(),
            const_asts: Vec::new(),
            const_state: Vec::new(),
            table_asts: Vec::new(),
            table_calls: Vec::new(),
            current_table: None,
            unparsed,
            currency_uses: Vec::new(),
            lets: Vec::new(),
        }
    }

    /// The currency to suggest: the environment's, or else the first this check saw.
    pub(crate) fn currency(&self) -> Option<&str> {
        let uses = &self.env.currency_uses;
        uses.first()
            .or(self.currency_uses.first())
            .map(|(code, _)| code.as_str())
    }

    /// The environment being built (never called while checking a policy).
    fn env_mut(&mut self) -> &mut Environment {
        self.env.to_mut()
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn show(&self, ty: &Type) -> String {
        let names: Vec<String> = self
            .env
            .model
            .enums
            .iter()
            .map(|e| e.name.clone())
            .collect();
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

    // ------------------------------------------------------------ tables

    fn check_tables(&mut self) {
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

    fn policy(&mut self, policy: &'a ast::Policy, decl: &ast::Decl) -> PolicyDef {
        let name = &policy.name;
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
            if !slot.used && !slot.name.name.starts_with('_') {
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
        def
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
                } else if let Some(Value::Int(n)) = fold(&self.env.model, &amount)
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
}
