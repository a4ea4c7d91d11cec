//! Policies and compliance profiles: their `let`s (checked once, in dependency order,
//! with cycles reported), and each item (applies, exclusions, rejections, holds, safety
//! stock, costs, stages, objective, settings) checked in the clause's context. The
//! environment they read is built beforehand (see `environment.rs`) and not changed.

use super::{Checker, Delivery, LetSlot, Scope, State};
use crate::clause::Clause;
use crate::fold::fold;
use crate::model::*;
use crate::types::{Dim, Type};
use allot_diagnostics::{Code, Diagnostic, Span};
use allot_syntax::ast::{self, CostBasis, Domain, ItemKind, PolicyKind};
use std::collections::HashMap;

impl<'a> Checker<'a> {
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

    pub(super) fn policy(&mut self, policy: &'a ast::Policy, decl: &ast::Decl) -> PolicyDef {
        let name = &policy.name;
        let profile = policy.kind == PolicyKind::Compliance;
        let mut def = PolicyDef {
            kind: policy.kind,
            domain: policy.domain,
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
            transit: None,
            promises: Vec::new(),
            keeps: Vec::new(),
            disposes: Vec::new(),
        };
        self.domain = policy.domain;
        self.delivery = if profile {
            Delivery::Profile
        } else if (policy.items.iter()).any(|i| matches!(i.kind, ItemKind::Transit(_))) {
            Delivery::Known
        } else {
            Delivery::NoTransit
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
                    | ItemKind::Transit(_)
                    | ItemKind::ShipWithin { .. }
                    | ItemKind::DeliverWithin { .. }
                    | ItemKind::DeliverBy { .. }
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
                    ItemKind::Priority(_)
                        | ItemKind::Objective(_)
                        | ItemKind::Stage { .. }
                        | ItemKind::Transit(_)
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
            if let Some(diagnostic) = item_domain(kind, policy.domain, item.span) {
                self.error(diagnostic);
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
        if let Some(transit) = &def.transit
            && transit.value.reads_delivery(&def.lets)
        {
            self.error(
                Diagnostic::new(
                    Code::CYCLE,
                    transit.value.span,
                    "the transit time cannot depend on delivery dates, which are computed from it",
                )
                .with_help("compute it from the node and the order: `transit = ground_days(distance(node, order.ship_to))`"),
            );
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
            ItemKind::Keep { condition, because } => def.keeps.push(RuleDef {
                condition: self.condition(condition, &Scope::of(Clause::ReturnOutcome)),
                because: Self::because(because),
                span,
            }),
            ItemKind::Dispose { condition, because } => def.disposes.push(RuleDef {
                condition: self.condition(condition, &Scope::of(Clause::ReturnOutcome)),
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
            ItemKind::Transit(value) => {
                let duration = Type::Quantity(Dim::Duration);
                let value = self.expr(value, &Scope::of(Clause::Transit), Some(&duration));
                if !value.ty.compatible(&duration) {
                    let message = format!(
                        "a transit time must be a duration, but this is {}",
                        self.show(&value.ty)
                    );
                    let mut diagnostic = Diagnostic::new(Code::TYPE_MISMATCH, value.span, message);
                    diagnostic = match self.unit_fix(&value, &duration) {
                        Some(fix) => {
                            diagnostic.with_fix(value.span, fix.clone(), format!("write `{fix}`"))
                        }
                        None => diagnostic.with_help("write a duration, like `2 days` or `36 h`"),
                    };
                    self.error(diagnostic);
                }
                def.transit = Some(TransitDef { value, span });
            }
            ItemKind::ShipWithin { days, because } => {
                if let Some(n) = self.day_count(days, "ship within") {
                    def.promises.push(PromiseDef {
                        promise: Promise::ShipWithin(n),
                        because: Self::because(because),
                        span,
                    });
                }
            }
            ItemKind::DeliverWithin { days, because } => {
                let n = self.day_count(days, "deliver within");
                self.require_transit_for(span, "`deliver within`");
                if let Some(n) = n {
                    def.promises.push(PromiseDef {
                        promise: Promise::DeliverWithin(n),
                        because: Self::because(because),
                        span,
                    });
                }
            }
            ItemKind::DeliverBy { date, because } => {
                self.require_transit_for(span, "`deliver by`");
                let date = self.expr(date, &Scope::of(Clause::DeliverBy), Some(&Type::Date));
                if !date.ty.compatible(&Type::Date) {
                    let message = format!(
                        "`deliver by` needs a date, like `order.promised_by`, but this is {}",
                        self.show(&date.ty)
                    );
                    self.error(Diagnostic::new(Code::TYPE_MISMATCH, date.span, message));
                }
                def.promises.push(PromiseDef {
                    promise: Promise::DeliverBy(date),
                    because: Self::because(because),
                    span,
                });
            }
        }
    }

    /// A number of days in a promise: at least 0.
    fn day_count(&mut self, days: &ast::Count, item: &str) -> Option<u32> {
        match u32::try_from(days.value) {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(Diagnostic::new(
                    Code::INVALID_COUNT,
                    days.span,
                    format!(
                        "`{item}` takes a number of days from 0 up, not {}",
                        days.value
                    ),
                ));
                None
            }
        }
    }

    /// Reports `what` (at `span`) in a policy without a `transit`, which delivery dates
    /// are computed from.
    pub(crate) fn require_transit_for(&mut self, span: Span, what: &str) {
        let diagnostic = match self.delivery {
            Delivery::Known | Delivery::Profile => return,
            Delivery::NoTransit => Diagnostic::new(
                Code::CONTEXT_UNAVAILABLE,
                span,
                format!("{what} needs delivery dates, and this policy has no `transit`"),
            )
            .with_help("say how long shipments take, like `transit = 3 days` or `transit = ground_days(distance(node, order.ship_to))`"),
        };
        self.error(diagnostic);
    }
}

/// The error of an item in a policy of the other domain: the outcomes of returns in an
/// order policy; what only outbound orders have (safety stock, complete shipments,
/// shortage, ship and delivery dates) in a returns policy.
fn item_domain(kind: &ItemKind, domain: Domain, span: Span) -> Option<Diagnostic> {
    let returns_only = matches!(kind, ItemKind::Keep { .. } | ItemKind::Dispose { .. });
    let orders_only = matches!(
        kind,
        ItemKind::SafetyStock { .. }
            | ItemKind::ShipComplete
            | ItemKind::OnShortage { .. }
            | ItemKind::Transit(_)
            | ItemKind::ShipWithin { .. }
            | ItemKind::DeliverWithin { .. }
            | ItemKind::DeliverBy { .. }
    );
    let (message, help) = match domain {
        Domain::Orders if returns_only => (
            format!(
                "`{}` decides a returned line; this policy routes orders",
                kind.describe()
            ),
            "put it in `returns \"NAME\" { … }`",
        ),
        Domain::Returns if orders_only => (
            format!(
                "`{}` is about shipping orders; a returns policy routes returned items",
                kind.describe()
            ),
            "a returns policy has `applies when`, `let`, `exclude when`, costs, an objective, `max shipments`, `no line split`, stages, `reject when`, `hold when`, `refund without return when` and `dispose when`",
        ),
        _ => return None,
    };
    Some(Diagnostic::new(Code::WRONG_DOMAIN, span, message).with_help(help))
}
