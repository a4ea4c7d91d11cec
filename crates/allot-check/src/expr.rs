//! Type checking of expressions: literals and units, names, attributes and calls. The
//! operators are checked in `expr/operators.rs`.

use crate::check::{Checker, Scope};
use crate::model::*;
use crate::types::{CURRENCIES, Dim, EnumId, Type, UNIT_NAMES, is_currency, unit_named};
use allot_diagnostics::closest;
use allot_diagnostics::{Code, Diagnostic, Span};
use allot_syntax::ast::{self, Domain, ExprKind as A};
use rust_decimal::Decimal;

mod operators;

/// The names that are contexts, not values.
const CONTEXT_NAMES: &[&str] = &["order", "line", "node", "shipment", "item"];

impl Checker<'_> {
    pub(crate) fn expr(&mut self, e: &ast::Expr, scope: &Scope, expected: Option<&Type>) -> Expr {
        let span = e.span;
        match &e.kind {
            A::Bool(b) => literal(Value::Bool(*b), Type::Bool, span),
            A::Int(i) => literal(Value::Int(*i), Type::Int, span),
            A::Number(n) => literal(Value::Number(*n), Type::Number, span),
            A::Str(s) => literal(Value::Str(s.clone()), Type::String, span),
            A::Quantity { value, unit } => self.quantity(*value, unit, span),
            A::List(items) => self.list(items, scope, expected, span),
            A::Paren(inner) => {
                let mut inner = self.expr(inner, scope, expected);
                inner.span = span;
                inner
            }
            A::Name(ident) => self.name(ident, scope, expected),
            A::Field(base, field) => self.field(base, field, scope, span),
            A::Call(callee, args) => self.call(callee, args, scope, span),
            A::Unary(op, operand) => self.unary(*op, operand, scope, span),
            A::Binary(op, left, right) => self.binary(*op, left, right, scope, span),
            A::If(c, a, b) => {
                let c = self.condition(c, scope);
                let a = self.expr(a, scope, expected);
                let b = self.expr(b, scope, Some(&a.ty).or(expected));
                let ty = if a.ty.compatible(&b.ty) {
                    a.ty.join(&b.ty)
                } else {
                    let message = format!(
                        "the branches of this `if` differ: `then` gives {} but `else` gives {}",
                        self.show(&a.ty),
                        self.show(&b.ty)
                    );
                    self.error(
                        Diagnostic::new(Code::TYPE_MISMATCH, b.span, message)
                            .with_label(a.span, "`then` branch"),
                    );
                    Type::Error
                };
                let deps = c.deps.union(a.deps).union(b.deps);
                Expr {
                    kind: ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                    ty,
                    deps,
                    span,
                }
            }
        }
    }

    /// An expression that must be a bool.
    pub(crate) fn condition(&mut self, e: &ast::Expr, scope: &Scope) -> Expr {
        let checked = self.expr(e, scope, Some(&Type::Bool));
        if !checked.ty.compatible(&Type::Bool) {
            let message = format!(
                "{} needs a condition (bool), but this is {}",
                scope.clause.describe(),
                self.show(&checked.ty)
            );
            self.error(Diagnostic::new(Code::CONDITION_NOT_BOOL, e.span, message));
        }
        checked
    }

    fn quantity(&mut self, value: Decimal, unit: &ast::UnitText, span: Span) -> Expr {
        let numerator = &unit.numerator;
        let error = Expr::error(span);
        if is_currency(&numerator.name) {
            self.note_currency(&numerator.name, numerator.span);
            return match &unit.denominator {
                None => literal(
                    Value::Quantity(value, Dim::Money),
                    Type::Quantity(Dim::Money),
                    span,
                ),
                Some(per) => match unit_named(&per.name) {
                    Some(u) if matches!(u.dim, Dim::Distance | Dim::Weight) => {
                        // 0.002 USD/mi is 0.002 / 1.609344 USD per km.
                        let canonical = value.checked_div(u.factor).unwrap_or(value);
                        literal(Value::Rate(canonical, u.dim), Type::Rate(u.dim), span)
                    }
                    Some(u) => {
                        self.error(Diagnostic::new(
                            Code::UNKNOWN_UNIT,
                            per.span,
                            format!(
                                "a rate is money per distance or weight, not per {}",
                                u.dim.name()
                            ),
                        ));
                        error
                    }
                    None => {
                        self.unknown_unit(per, &["km", "mi", "kg", "g", "lb", "oz"]);
                        error
                    }
                },
            };
        }
        if let Some(per) = &unit.denominator {
            self.error(
                Diagnostic::new(
                    Code::UNKNOWN_UNIT,
                    per.span,
                    format!(
                        "`{}/{}` is not a unit: only money can be divided by a unit",
                        numerator.name, per.name
                    ),
                )
                .with_help("rates are written like `0.35 USD/kg`"),
            );
            return error;
        }
        match unit_named(&numerator.name) {
            Some(u) => {
                let canonical = value * u.factor;
                literal(
                    Value::Quantity(canonical, u.dim),
                    Type::Quantity(u.dim),
                    span,
                )
            }
            None => {
                let mut candidates: Vec<&str> = UNIT_NAMES.to_vec();
                candidates.extend(CURRENCIES);
                self.unknown_unit(numerator, &candidates);
                error
            }
        }
    }

    fn unknown_unit(&mut self, unit: &ast::Ident, candidates: &[&str]) {
        let mut diagnostic = Diagnostic::new(
            Code::UNKNOWN_UNIT,
            unit.span,
            format!("unknown unit `{}`", unit.name),
        );
        diagnostic = match closest(&unit.name, candidates.iter().copied()) {
            Some(s) => diagnostic.with_fix(unit.span, s, format!("did you mean `{s}`?")),
            None => diagnostic.with_help(
                "units are km, mi, kg, g, lb, oz, min, h, days, % and currency codes such as USD",
            ),
        };
        self.error(diagnostic);
    }

    /// Records a money literal's currency; the ruleset's first sets it, and mixing is
    /// reported once the whole ruleset is known.
    fn note_currency(&mut self, code: &str, span: Span) {
        self.currency_uses.push((code.to_string(), span));
    }

    fn list(
        &mut self,
        items: &[ast::Expr],
        scope: &Scope,
        expected: Option<&Type>,
        span: Span,
    ) -> Expr {
        let expected_element = match expected {
            Some(Type::Set(element)) => Some((**element).clone()),
            _ => None,
        };
        let mut element = expected_element.clone().unwrap_or(Type::Error);
        let mut checked = Vec::with_capacity(items.len());
        let mut deps = Deps::NONE;
        for item in items {
            let want = if element.is_error() {
                expected_element.as_ref()
            } else {
                Some(&element)
            };
            let c = self.expr(item, scope, want);
            if !c.ty.compatible(&element) {
                let message = format!(
                    "list items must have one type: this is {}, earlier items are {}",
                    self.show(&c.ty),
                    self.show(&element)
                );
                self.error(Diagnostic::new(Code::TYPE_MISMATCH, c.span, message));
            } else {
                element = element.join(&c.ty);
            }
            deps = deps.union(c.deps);
            checked.push(c);
        }
        Expr {
            kind: ExprKind::List(checked),
            ty: Type::Set(Box::new(element)),
            deps,
            span,
        }
    }

    fn name(&mut self, ident: &ast::Ident, scope: &Scope, expected: Option<&Type>) -> Expr {
        let span = ident.span;
        let name = ident.name.as_str();
        if let Some(index) = scope.params.iter().position(|(p, _)| p == name) {
            return Expr {
                kind: ExprKind::Param(index as u32),
                ty: scope.params[index].1.clone(),
                deps: Deps::NONE,
                span,
            };
        }
        if let Some(id) = self.let_named(name) {
            let (ty, deps, def_span) = self.let_type(id);
            self.require(deps, scope, span, Some((def_span, name)));
            return Expr {
                kind: ExprKind::Let(id),
                ty,
                deps,
                span,
            };
        }
        if let Some(&id) = self.env.const_index.get(name) {
            let ty = self.const_type(id, span);
            self.consts_used[id.0 as usize] = true;
            return Expr {
                kind: ExprKind::Const(id),
                ty,
                deps: Deps::NONE,
                span,
            };
        }
        if name == "node" {
            self.require(Deps::NODE, scope, span, None);
            return Expr {
                kind: ExprKind::Node,
                ty: Type::Node,
                deps: Deps::NODE,
                span,
            };
        }
        if CONTEXT_NAMES.contains(&name) {
            let message = format!(
                "`{name}` is not a value: write one of its attributes, like `{name}.{}`",
                example_attr(name)
            );
            self.error(Diagnostic::new(Code::TYPE_MISMATCH, span, message));
            return Expr::error(span);
        }
        if let Some(variant) = self.variant(ident, expected) {
            return variant;
        }
        if self.unparsed.contains(name) {
            return Expr::error(span);
        }
        let mut candidates: Vec<String> = scope.params.iter().map(|(p, _)| p.clone()).collect();
        candidates.extend(self.let_names());
        candidates.extend(self.env.const_index.keys().cloned());
        candidates.extend(
            self.env
                .model
                .enums
                .iter()
                .flat_map(|e| e.variants.iter().cloned()),
        );
        candidates.push("node".to_string());
        let mut diagnostic =
            Diagnostic::new(Code::UNKNOWN_NAME, span, format!("unknown name `{name}`"));
        if let Some(s) = closest(name, candidates.iter().map(String::as_str)) {
            diagnostic = diagnostic.with_fix(span, s, format!("did you mean `{s}`?"));
        } else if self.env.table_index.contains_key(name) || Builtin::named(name).is_some() {
            diagnostic =
                diagnostic.with_help(format!("`{name}` is a function: call it, like `{name}(…)`"));
        }
        self.error(diagnostic);
        Expr::error(span)
    }

    /// A bare enum variant: from the expected enum if there is one, else unique among all enums.
    fn variant(&mut self, ident: &ast::Ident, expected: Option<&Type>) -> Option<Expr> {
        let expected_enum = match expected {
            Some(Type::Enum(id)) => Some(*id),
            Some(Type::Set(element)) => match **element {
                Type::Enum(id) => Some(id),
                _ => None,
            },
            _ => None,
        };
        let found = |enums: &[EnumDef], id: EnumId| {
            enums[id.0 as usize]
                .variants
                .iter()
                .position(|v| *v == ident.name)
                .map(|i| (id, i as u32))
        };
        let hit = match expected_enum {
            Some(id) => {
                let hit = found(&self.env.model.enums, id);
                if hit.is_none() {
                    let def = &self.env.model.enums[id.0 as usize];
                    let mut diagnostic = Diagnostic::new(
                        Code::UNKNOWN_VARIANT,
                        ident.span,
                        format!("`{}` is not a variant of {}", ident.name, def.name),
                    );
                    diagnostic = match closest(&ident.name, def.variants.iter().map(String::as_str))
                    {
                        Some(s) => {
                            diagnostic.with_fix(ident.span, s, format!("did you mean `{s}`?"))
                        }
                        None => diagnostic.with_help(format!(
                            "{} is one of: {}",
                            def.name,
                            def.variants.join(", ")
                        )),
                    };
                    self.error(diagnostic);
                    return Some(Expr::error(ident.span));
                }
                hit
            }
            None => {
                let hits: Vec<(EnumId, u32)> = (0..self.env.model.enums.len())
                    .filter_map(|i| found(&self.env.model.enums, EnumId(i as u32)))
                    .collect();
                if hits.len() > 1 {
                    let owners: Vec<&str> = hits
                        .iter()
                        .map(|(id, _)| self.env.model.enums[id.0 as usize].name.as_str())
                        .collect();
                    let message = format!(
                        "`{}` is a variant of {}: which one is meant here is unclear",
                        ident.name,
                        owners.join(" and ")
                    );
                    self.error(
                        Diagnostic::new(Code::AMBIGUOUS_VARIANT, ident.span, message)
                            .with_help("compare it with an attribute of the enum's type, like `node.kind == store`"),
                    );
                    return Some(Expr::error(ident.span));
                }
                hits.first().copied()
            }
        };
        hit.map(|(id, index)| literal(Value::Enum(id, index), Type::Enum(id), ident.span))
    }

    fn field(&mut self, base: &ast::Expr, field: &ast::Ident, scope: &Scope, span: Span) -> Expr {
        if let Some(context) = self.context_of(base) {
            return self.attribute(context, base.span, field, scope, span);
        }
        let base = self.expr(base, scope, None);
        match base.ty {
            Type::Location => match LocationField::ALL.iter().find(|(_, n)| *n == field.name) {
                Some((which, _)) => {
                    let deps = base.deps;
                    Expr {
                        kind: ExprKind::LocationField(Box::new(base), *which),
                        ty: Type::String,
                        deps,
                        span,
                    }
                }
                None => {
                    let names = LocationField::ALL.iter().map(|(_, n)| *n);
                    self.unknown_attribute(field, "a location", names);
                    Expr::error(span)
                }
            },
            Type::Node => self.attribute(Context::Node, base.span, field, scope, span),
            Type::Error => Expr::error(span),
            ref other => {
                let message = format!("{} has no attributes", self.show(other));
                self.error(Diagnostic::new(Code::TYPE_MISMATCH, field.span, message));
                Expr::error(span)
            }
        }
    }

    /// `order`, `line`, `node`, `shipment` or `line.item`, unless a parameter or `let` shadows it.
    fn context_of(&self, base: &ast::Expr) -> Option<Context> {
        match &base.kind {
            A::Name(ident) if self.let_named(&ident.name).is_none() => match ident.name.as_str() {
                "order" => Some(Context::Order),
                "line" => Some(Context::Line),
                "node" => Some(Context::Node),
                "shipment" => Some(Context::Shipment),
                "return" => Some(Context::Return),
                _ => None,
            },
            A::Field(inner, name) if name.name == "item" => match &inner.kind {
                A::Name(line) if line.name == "line" && self.let_named("line").is_none() => {
                    Some(Context::Item)
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn attribute(
        &mut self,
        context: Context,
        base_span: Span,
        field: &ast::Ident,
        scope: &Scope,
        span: Span,
    ) -> Expr {
        let name = field.name.as_str();
        if context == Context::Line && name == "item" {
            // `line.item` alone: only its attributes are values.
            self.error(Diagnostic::new(
                Code::TYPE_MISMATCH,
                span,
                "`line.item` is not a value: write one of its attributes, like `line.item.category`",
            ));
            return Expr::error(span);
        }
        let builtin = BuiltinAttr::ALL
            .iter()
            .find(|a| a.context() == context && a.name() == name);
        let (attr, ty) = match builtin {
            Some(a) => (AttrRef::Builtin(*a), a.ty()),
            None => match self.env.attr_index.get(&(context, name.to_string())) {
                Some(&id) => (
                    AttrRef::Custom(id),
                    self.env.model.attrs[id.0 as usize].ty.clone(),
                ),
                None => {
                    let deps = context.deps();
                    self.require(deps, scope, base_span, None);
                    if !self
                        .unparsed
                        .contains(&format!("{}.{}", context.name(), name))
                    {
                        let names = self.attribute_names(context);
                        let what = format!("`{}`", context.path());
                        self.unknown_attribute(field, &what, names.iter().map(String::as_str));
                    }
                    return Expr::error(span);
                }
            },
        };
        let deps = match attr {
            AttrRef::Builtin(builtin) => {
                if let Some(domain) = builtin.domain()
                    && domain != self.domain
                {
                    self.wrong_domain(builtin, span);
                    return Expr::error(span);
                }
                if builtin.reads_delivery() {
                    self.require_transit_for(span, &format!("`{}.{}`", context.path(), name));
                }
                builtin.deps()
            }
            AttrRef::Custom(_) => context.deps(),
        };
        self.require(deps, scope, base_span, None);
        Expr {
            kind: ExprKind::Attr(attr),
            ty,
            deps,
            span,
        }
    }

    /// An attribute of the other domain: `order.…` in a returns policy, `return.…` or
    /// `line.condition` in an order policy.
    fn wrong_domain(&mut self, attr: BuiltinAttr, span: Span) {
        let name = format!("{}.{}", attr.context().path(), attr.name());
        let (message, help) = match self.domain {
            Domain::Returns => (
                format!("`{name}` is about orders; a returns policy routes a return"),
                "read the return as `return`: `return.channel`, `return.from`, `return.reason`…",
            ),
            Domain::Orders => (
                format!("`{name}` is about returns; this policy routes orders"),
                "returned items are routed by `returns \"NAME\" { … }`",
            ),
        };
        self.error(Diagnostic::new(Code::WRONG_DOMAIN, span, message).with_help(help));
    }

    pub(crate) fn attribute_names(&self, context: Context) -> Vec<String> {
        let mut names: Vec<String> = BuiltinAttr::ALL
            .iter()
            .filter(|a| a.context() == context)
            .map(|a| a.name().to_string())
            .collect();
        if context == Context::Line {
            names.push("item".to_string());
        }
        names.extend(
            self.env
                .model
                .attrs
                .iter()
                .filter(|a| a.context == context)
                .map(|a| a.name.clone()),
        );
        names
    }

    fn unknown_attribute<'n>(
        &mut self,
        field: &ast::Ident,
        owner: &str,
        names: impl Iterator<Item = &'n str> + Clone,
    ) {
        let mut diagnostic = Diagnostic::new(
            Code::UNKNOWN_ATTRIBUTE,
            field.span,
            format!("{owner} has no attribute `{}`", field.name),
        );
        diagnostic = match closest(&field.name, names.clone()) {
            Some(s) => diagnostic.with_fix(field.span, s, format!("did you mean `{s}`?")),
            None => {
                let all: Vec<&str> = names.collect();
                diagnostic.with_help(format!("its attributes are: {}", all.join(", ")))
            }
        };
        self.error(diagnostic);
    }

    /// Reports a context the clause does not allow; `via` names the `let` it came through.
    pub(crate) fn require(
        &mut self,
        deps: Deps,
        scope: &Scope,
        span: Span,
        via: Option<(Span, &str)>,
    ) {
        let missing = deps.minus(scope.clause.allowed());
        if missing.is_empty() {
            return;
        }
        let names = missing
            .names()
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        let message = match via {
            None => format!("{names} is not available in {}", scope.clause.describe()),
            Some((_, let_name)) => format!(
                "`{let_name}` uses {names}, which is not available in {}",
                scope.clause.describe()
            ),
        };
        let mut diagnostic = Diagnostic::new(Code::CONTEXT_UNAVAILABLE, span, message)
            .with_help(scope.clause.why_not(missing));
        if let Some((def, let_name)) = via {
            diagnostic = diagnostic.with_label(def, format!("`{let_name}` defined here"));
        }
        self.error(diagnostic);
    }

    fn call(&mut self, callee: &ast::Ident, args: &[ast::Expr], scope: &Scope, span: Span) -> Expr {
        if let Some(&id) = self.env.table_index.get(&callee.name) {
            return self.table_call(id, callee, args, scope, span);
        }
        let Some(builtin) = Builtin::named(&callee.name) else {
            for arg in args {
                self.expr(arg, scope, None);
            }
            if !self.unparsed.contains(&callee.name) {
                let mut candidates: Vec<&str> =
                    self.env.table_index.keys().map(String::as_str).collect();
                candidates.extend(Builtin::ALL.iter().map(|(_, n, _)| *n));
                let mut diagnostic = Diagnostic::new(
                    Code::UNKNOWN_FUNCTION,
                    callee.span,
                    format!("unknown function `{}`", callee.name),
                );
                diagnostic = match closest(&callee.name, candidates) {
                    Some(s) => diagnostic.with_fix(callee.span, s, format!("did you mean `{s}`?")),
                    None => diagnostic.with_help(
                        "functions are distance, available, need, min, max, abs and the ruleset's tables",
                    ),
                };
                self.error(diagnostic);
            }
            return Expr::error(span);
        };
        let checked: Vec<Expr> = args.iter().map(|a| self.expr(a, scope, None)).collect();
        let deps = checked.iter().fold(Deps::NONE, |d, a| d.union(a.deps));
        let ty = match builtin {
            Builtin::Distance => {
                if self.arity(callee, &checked, 2, 2, span) {
                    for arg in &checked {
                        if !matches!(arg.ty, Type::Location | Type::Node | Type::Error) {
                            self.argument_type(callee, arg, "a location or `node`");
                        }
                    }
                }
                Type::Quantity(Dim::Distance)
            }
            Builtin::Available | Builtin::Need => {
                if self.arity(callee, &checked, 2, 2, span) {
                    if !matches!(checked[0].ty, Type::Node | Type::Error) {
                        self.argument_type(callee, &checked[0], "`node`");
                    }
                    if !checked[1].ty.compatible(&Type::String) {
                        self.argument_type(callee, &checked[1], "a SKU (string), like `line.sku`");
                    }
                }
                Type::Int
            }
            Builtin::Min | Builtin::Max => {
                let mut ty = Type::Error;
                if self.arity(callee, &checked, 2, usize::MAX, span) {
                    for arg in &checked {
                        if !(arg.ty.is_numeric()
                            || matches!(arg.ty, Type::Quantity(_) | Type::Error))
                        {
                            self.argument_type(callee, arg, "a number or a quantity");
                        } else if !arg.ty.compatible(&ty) {
                            let message = format!(
                                "`{}` compares values of one type: this is {}, the others are {}",
                                callee.name,
                                self.show(&arg.ty),
                                self.show(&ty)
                            );
                            self.error(Diagnostic::new(Code::ARGUMENT_TYPE, arg.span, message));
                        } else {
                            ty = ty.join(&arg.ty);
                        }
                    }
                }
                ty
            }
            Builtin::Abs => {
                if self.arity(callee, &checked, 1, 1, span) {
                    let arg = &checked[0];
                    if !(arg.ty.is_numeric() || matches!(arg.ty, Type::Quantity(_) | Type::Error)) {
                        self.argument_type(callee, arg, "a number or a quantity");
                    }
                    checked[0].ty.clone()
                } else {
                    Type::Error
                }
            }
        };
        Expr {
            kind: ExprKind::Builtin(builtin, checked),
            ty,
            deps,
            span,
        }
    }

    fn arity(
        &mut self,
        callee: &ast::Ident,
        args: &[Expr],
        min: usize,
        max: usize,
        span: Span,
    ) -> bool {
        if (min..=max).contains(&args.len()) {
            return true;
        }
        let wanted = match (min, max) {
            (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
            (a, usize::MAX) => format!("at least {a} arguments"),
            (a, b) => format!("{a} to {b} arguments"),
        };
        let message = format!(
            "`{}` takes {wanted}, but is given {}",
            callee.name,
            args.len()
        );
        self.error(Diagnostic::new(Code::WRONG_ARITY, span, message));
        false
    }

    fn argument_type(&mut self, callee: &ast::Ident, arg: &Expr, wanted: &str) {
        let message = format!(
            "`{}` needs {wanted} here, not {}",
            callee.name,
            self.show(&arg.ty)
        );
        self.error(Diagnostic::new(Code::ARGUMENT_TYPE, arg.span, message));
    }

    fn table_call(
        &mut self,
        id: TableId,
        callee: &ast::Ident,
        args: &[ast::Expr],
        scope: &Scope,
        span: Span,
    ) -> Expr {
        self.tables_used[id.0 as usize] = true;
        if let Some(caller) = self.current_table {
            self.table_calls[caller.0 as usize].push((id, callee.span));
        }
        let params = self.env.model.tables[id.0 as usize].params.clone();
        let result = self.env.model.tables[id.0 as usize].result.clone();
        let checked: Vec<Expr> = args
            .iter()
            .enumerate()
            .map(|(i, a)| self.expr(a, scope, params.get(i).map(|(_, t)| t)))
            .collect();
        let deps = checked.iter().fold(Deps::NONE, |d, a| d.union(a.deps));
        if self.arity(callee, &checked, params.len(), params.len(), span) {
            for (arg, (param, ty)) in checked.iter().zip(&params) {
                if !arg.ty.compatible(ty) {
                    let message = format!(
                        "`{}` takes {} for `{param}`, not {}",
                        callee.name,
                        self.show(ty),
                        self.show(&arg.ty)
                    );
                    let mut diagnostic = Diagnostic::new(Code::ARGUMENT_TYPE, arg.span, message);
                    if let Some(fix) = self.unit_fix(arg, ty) {
                        diagnostic =
                            diagnostic.with_fix(arg.span, fix.clone(), format!("write `{fix}`"));
                    }
                    self.error(diagnostic);
                }
            }
        }
        Expr {
            kind: ExprKind::Table(id, checked),
            ty: result,
            deps,
            span,
        }
    }
}

fn literal(value: Value, ty: Type, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Literal(value),
        ty,
        deps: Deps::NONE,
        span,
    }
}

fn example_attr(context: &str) -> &'static str {
    match context {
        "order" => "channel",
        "return" => "reason",
        "line" => "qty",
        "node" => "kind",
        "shipment" => "weight",
        _ => "category",
    }
}

impl Expr {
    pub fn error(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            ty: Type::Error,
            deps: Deps::NONE,
            span,
        }
    }
}
