//! Lowering: a checked [`Model`] becomes a [`Plan`]. Constant expressions are folded,
//! every other expression becomes a flat program tagged with what it depends on.

use allot_check::fold::fold;
use allot_check::model::{self as m, AttrRef, BuiltinAttr, Context, Expr, ExprKind, Model, Value};
use allot_check::types::{Dim, Type};
use allot_diagnostics::{Sources, Span};
use allot_plan::{self as p, Deps, Literal, Op, Program};
use allot_syntax::ast::{self, BinaryOp, UnaryOp};
use rust_decimal::prelude::ToPrimitive;

/// Compiles a model that checked without errors.
pub fn compile(model: &Model, sources: &Sources) -> p::Plan {
    let compiler = Compiler {
        model,
        sources,
        transit: None,
        inline_lets: None,
    };
    p::Plan {
        currency: model.currency.clone(),
        enums: model
            .enums
            .iter()
            .map(|e| p::EnumInfo {
                name: e.name.clone(),
                variants: e.variants.clone(),
            })
            .collect(),
        attributes: model
            .attrs
            .iter()
            .map(|a| p::AttributeInfo {
                owner: owner(a.context),
                name: a.name.clone(),
                ty: value_type(&a.ty),
                default: a
                    .default
                    .as_ref()
                    .map(literal)
                    .unwrap_or(Literal::Bool(false)),
            })
            .collect(),
        tables: model.tables.iter().map(|t| compiler.table(t)).collect(),
        policies: compiler.policies(),
        files: sources.iter().map(|(_, f)| f.path.clone()).collect(),
    }
}

fn owner(context: Context) -> p::Owner {
    match context {
        Context::Order => p::Owner::Order,
        Context::Node => p::Owner::Node,
        _ => p::Owner::Item,
    }
}

fn value_type(ty: &Type) -> p::ValueType {
    match ty {
        Type::Bool => p::ValueType::Bool,
        Type::Int => p::ValueType::Int,
        Type::String => p::ValueType::String,
        Type::Location => p::ValueType::Location,
        Type::Quantity(Dim::Money) => p::ValueType::Money,
        Type::Quantity(Dim::Distance) => p::ValueType::Distance,
        Type::Quantity(Dim::Weight) => p::ValueType::Weight,
        Type::Quantity(Dim::Duration) => p::ValueType::Duration,
        Type::Quantity(Dim::Percent) => p::ValueType::Percent,
        Type::Enum(id) => p::ValueType::Enum(id.0),
        Type::Set(element) => p::ValueType::Set(Box::new(value_type(element))),
        Type::Number | Type::Rate(_) | Type::Node | Type::Date | Type::Error => {
            p::ValueType::Number
        }
    }
}

fn number(d: rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

pub fn literal(value: &Value) -> Literal {
    match value {
        Value::Bool(b) => Literal::Bool(*b),
        Value::Int(i) => Literal::Num(*i as f64),
        Value::Number(d) | Value::Quantity(d, _) | Value::Rate(d, _) => Literal::Num(number(*d)),
        Value::Str(s) => Literal::Str(s.clone()),
        Value::Enum(id, v) => Literal::Enum(id.0, *v),
        Value::Set(items) => Literal::Set(items.iter().map(literal).collect()),
    }
}

#[derive(Clone, Copy)]
struct Compiler<'a> {
    model: &'a Model,
    sources: &'a Sources,
    /// The transit of the policy being compiled, or of the policy a profile is
    /// compiled for: delivery dates are computed from it.
    transit: Option<Transit<'a>>,
    /// When set, `let`s are emitted in place from these definitions (a transit read in
    /// another policy's profile, whose `let`s it does not have).
    inline_lets: Option<&'a [m::LetDef]>,
}

/// A policy's transit and the `let`s it may read.
#[derive(Clone, Copy)]
struct Transit<'a> {
    value: &'a Expr,
    lets: &'a [m::LetDef],
}

impl Compiler<'_> {
    fn origin(&self, span: Span) -> p::Origin {
        let at = self.sources.get(span.file).line_col(span.start);
        p::Origin {
            file: span.file.0,
            line: at.line,
            column: at.column,
        }
    }

    /// A program for `expr`, in the context of a policy's `let`s.
    fn program(&self, expr: &Expr, lets: &[m::LetDef]) -> Program {
        let mut ops = Vec::new();
        let folded = if expr.deps.is_empty() {
            fold(self.model, expr)
        } else {
            None
        };
        match folded {
            Some(value) => ops.push(Op::Push(literal(&value))),
            None => self.emit(expr, &mut ops),
        }
        let mut deps = Deps(expr.deps.bits());
        if reads_load(expr, lets, self.transit) {
            deps = deps.union(Deps::NODE_LOAD);
        }
        Program {
            deps,
            ops,
            source: self.sources.snippet(expr.span),
        }
    }

    fn emit(&self, expr: &Expr, ops: &mut Vec<Op>) {
        // Constant parts of larger expressions fold too: `node.kind in [dc, tpl]`.
        if expr.deps.is_empty()
            && !matches!(expr.kind, ExprKind::Literal(_))
            && let Some(value) = fold(self.model, expr)
        {
            ops.push(Op::Push(literal(&value)));
            return;
        }
        match &expr.kind {
            ExprKind::Literal(value) => ops.push(Op::Push(literal(value))),
            ExprKind::Attr(AttrRef::Builtin(attr)) if attr.reads_delivery() => {
                let ship = match attr {
                    BuiltinAttr::NodeDeliveryDate | BuiltinAttr::ShipmentDeliveryDate => {
                        p::NodeAttr::ShipDate
                    }
                    _ => p::NodeAttr::ShipDays,
                };
                ops.push(Op::Node(ship));
                self.emit_transit_days(ops);
                ops.push(Op::Add);
            }
            ExprKind::Attr(AttrRef::Builtin(attr)) => ops.push(builtin_attr(*attr)),
            ExprKind::Attr(AttrRef::Custom(id)) => ops.push(Op::Custom(
                owner(self.model.attrs[id.0 as usize].context),
                id.0,
            )),
            ExprKind::LocationField(base, field) => {
                self.emit(base, ops);
                ops.push(Op::Field(match field {
                    m::LocationField::Country => p::LocationField::Country,
                    m::LocationField::Region => p::LocationField::Region,
                    m::LocationField::PostalCode => p::LocationField::PostalCode,
                }));
            }
            ExprKind::Node => ops.push(Op::CandidateNode),
            ExprKind::Let(id) => match self.inline_lets {
                Some(lets) => self.emit(&lets[id.0 as usize].value, ops),
                None => ops.push(Op::Let(id.0)),
            },
            ExprKind::Const(id) => match &self.model.consts[id.0 as usize].folded {
                Some(value) => ops.push(Op::Push(literal(value))),
                None => self.emit(&self.model.consts[id.0 as usize].value, ops),
            },
            ExprKind::Param(i) => ops.push(Op::Param(*i)),
            ExprKind::Builtin(builtin, args) => {
                for arg in args {
                    self.emit(arg, ops);
                }
                let n = args.len() as u32;
                ops.push(match builtin {
                    m::Builtin::Distance => Op::Distance,
                    m::Builtin::Available => Op::Available,
                    m::Builtin::Min => Op::Min(n),
                    m::Builtin::Max => Op::Max(n),
                    m::Builtin::Abs => Op::Abs,
                    m::Builtin::Need => Op::Need,
                });
            }
            ExprKind::Table(id, args) => {
                for arg in args {
                    self.emit(arg, ops);
                }
                ops.push(Op::Table(id.0));
            }
            ExprKind::Unary(op, operand) => {
                self.emit(operand, ops);
                ops.push(match op {
                    UnaryOp::Not => Op::Not,
                    UnaryOp::Neg => Op::Neg,
                });
            }
            ExprKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), left, right) => {
                self.emit(left, ops);
                let jump = ops.len();
                ops.push(Op::Jump(0));
                self.emit(right, ops);
                let target = ops.len() as u32;
                ops[jump] = if *op == BinaryOp::And {
                    Op::AndThen(target)
                } else {
                    Op::OrElse(target)
                };
            }
            ExprKind::Binary(op, left, right) => {
                self.emit(left, ops);
                self.emit(right, ops);
                ops.push(match op {
                    BinaryOp::Eq => Op::Eq,
                    BinaryOp::NotEq => Op::NotEq,
                    BinaryOp::Lt => Op::Lt,
                    BinaryOp::LtEq => Op::LtEq,
                    BinaryOp::Gt => Op::Gt,
                    BinaryOp::GtEq => Op::GtEq,
                    BinaryOp::In => Op::In,
                    BinaryOp::NotIn => Op::NotIn,
                    BinaryOp::Add => Op::Add,
                    BinaryOp::Sub => Op::Sub,
                    BinaryOp::Mul => Op::Mul,
                    BinaryOp::Div => Op::Div,
                    BinaryOp::And | BinaryOp::Or => unreachable!("handled above"),
                });
            }
            ExprKind::If(condition, then, otherwise) => {
                self.emit(condition, ops);
                let to_else = ops.len();
                ops.push(Op::JumpIfFalse(0));
                self.emit(then, ops);
                let to_end = ops.len();
                ops.push(Op::Jump(0));
                ops[to_else] = Op::JumpIfFalse(ops.len() as u32);
                self.emit(otherwise, ops);
                ops[to_end] = Op::Jump(ops.len() as u32);
            }
            ExprKind::List(items) => {
                for item in items {
                    self.emit(item, ops);
                }
                ops.push(Op::List(items.len() as u32));
            }
            // A checked model without errors has none; keep the program well-formed anyway.
            ExprKind::Error => ops.push(Op::Push(Literal::Bool(false))),
        }
    }

    /// The policy's transit in whole days (0 without one: the checker allows delivery
    /// dates only in policies with a transit).
    fn emit_transit_days(&self, ops: &mut Vec<Op>) {
        match self.transit {
            Some(transit) => {
                let in_place = Compiler {
                    transit: None,
                    inline_lets: Some(transit.lets),
                    ..*self
                };
                in_place.emit(transit.value, ops);
                ops.push(Op::WholeDays);
            }
            None => ops.push(Op::Push(Literal::Num(0.0))),
        }
    }

    /// A promise as the exclusion it amounts to: the node is excluded when it misses it.
    fn promise(&self, promise: &m::PromiseDef, lets: &[m::LetDef]) -> p::RulePlan {
        let mut ops = Vec::new();
        let mut deps = Deps::ORDER.union(Deps::NODE);
        let source = match &promise.promise {
            m::Promise::ShipWithin(days) => {
                ops.push(Op::Node(p::NodeAttr::ShipBusinessDays));
                ops.push(Op::Push(Literal::Num(f64::from(*days))));
                promise.promise.describe("")
            }
            m::Promise::DeliverWithin(days) => {
                ops.push(Op::Node(p::NodeAttr::ShipDays));
                self.emit_transit_days(&mut ops);
                ops.push(Op::Add);
                ops.push(Op::Push(Literal::Num(f64::from(*days))));
                promise.promise.describe("")
            }
            m::Promise::DeliverBy(date) => {
                ops.push(Op::Node(p::NodeAttr::ShipDate));
                self.emit_transit_days(&mut ops);
                ops.push(Op::Add);
                self.emit(date, &mut ops);
                deps = deps.union(Deps(date.deps.bits()));
                promise.promise.describe(&self.sources.snippet(date.span))
            }
        };
        ops.push(Op::Gt);
        let date_reads_load = match &promise.promise {
            m::Promise::DeliverBy(date) => reads_load(date, lets, self.transit),
            _ => false,
        };
        if date_reads_load || (self.transit).is_some_and(|t| reads_load(t.value, t.lets, None)) {
            deps = deps.union(Deps::NODE_LOAD);
        }
        p::RulePlan {
            condition: Program { deps, ops, source },
            because: promise.because.clone(),
            origin: self.origin(promise.span),
            guard: None,
            promise: true,
        }
    }

    fn table(&self, table: &m::TableDef) -> p::TablePlan {
        p::TablePlan {
            name: table.name.clone(),
            params: table.params.len() as u32,
            rows: table
                .rows
                .iter()
                .map(|row| {
                    let condition = row.condition.as_ref().map(|c| self.program(c, &[]));
                    (condition, self.program(&row.value, &[]))
                })
                .collect(),
        }
    }

    fn rules(&self, rules: &[m::RuleDef], lets: &[m::LetDef]) -> Vec<p::RulePlan> {
        rules
            .iter()
            .map(|r| p::RulePlan {
                condition: self.program(&r.condition, lets),
                because: r.because.clone(),
                origin: self.origin(r.span),
                guard: self.distance_guard(&r.condition, lets),
                promise: false,
            })
            .collect()
    }

    /// Recognizes `A and … and distance(node, order.ship_to) > R` where every other
    /// conjunct depends on the (static) node alone.
    fn distance_guard(&self, condition: &Expr, lets: &[m::LetDef]) -> Option<p::DistanceGuard> {
        let mut conjuncts = Vec::new();
        flatten_and(condition, &mut conjuncts);
        let (index, km, inclusive) = conjuncts.iter().enumerate().find_map(|(i, c)| {
            let ExprKind::Binary(op, l, r) = &c.kind else {
                return None;
            };
            let (subject, bound, inclusive) = match op {
                BinaryOp::Gt => (l, r, false),
                BinaryOp::GtEq => (l, r, true),
                BinaryOp::Lt => (r, l, false),
                BinaryOp::LtEq => (r, l, true),
                _ => return None,
            };
            let km = match fold(self.model, bound)? {
                Value::Quantity(d, Dim::Distance) => number(d),
                _ => return None,
            };
            is_ship_to_distance(subject, lets).then_some((i, km, inclusive))
        })?;
        let others: Vec<&Expr> = conjuncts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, c)| *c)
            .collect();
        let node_only =
            |e: &Expr| Deps::NODE.has(Deps(e.deps.bits())) && !reads_load(e, lets, self.transit);
        if !others.iter().all(|e| node_only(e)) {
            return None;
        }
        let node_condition = (!others.is_empty()).then(|| {
            let mut ops = Vec::new();
            let mut jumps = Vec::new();
            for (i, e) in others.iter().enumerate() {
                self.emit(e, &mut ops);
                if i + 1 < others.len() {
                    jumps.push(ops.len());
                    ops.push(Op::Jump(0));
                }
            }
            let end = ops.len() as u32;
            for at in jumps {
                ops[at] = Op::AndThen(end);
            }
            Program {
                deps: Deps::NODE,
                ops,
                source: others
                    .iter()
                    .map(|e| self.sources.snippet(e.span))
                    .collect::<Vec<_>>()
                    .join(" and "),
            }
        });
        Some(p::DistanceGuard {
            km,
            inclusive,
            node_condition,
        })
    }

    /// The plan's policies and profiles, in the model's order; then, for each profile
    /// that reads delivery dates, its copies for the second and later policies with a
    /// transit (the first takes the profile's own place).
    fn policies(&self) -> Vec<p::PolicyPlan> {
        let timed: Vec<(u32, Transit)> = (self.model.policies.iter().enumerate())
            .filter(|(_, p)| p.kind == ast::PolicyKind::Policy)
            .filter_map(|(i, p)| {
                let value = &p.transit.as_ref()?.value;
                Some((
                    i as u32,
                    Transit {
                        value,
                        lets: &p.lets,
                    },
                ))
            })
            .collect();
        let for_policy = |(index, transit): (u32, Transit), profile: &m::PolicyDef| {
            let compiler = Compiler {
                model: self.model,
                sources: self.sources,
                transit: Some(transit),
                inline_lets: None,
            };
            p::PolicyPlan {
                for_policy: Some(index),
                ..compiler.policy_plan(profile)
            }
        };
        let mut plans = Vec::new();
        let mut copies = Vec::new();
        for policy in &self.model.policies {
            let own_transit = Compiler {
                transit: (policy.transit.as_ref()).map(|t| Transit {
                    value: &t.value,
                    lets: &policy.lets,
                }),
                ..*self
            };
            match timed.split_first() {
                Some((first, rest))
                    if policy.kind == ast::PolicyKind::Compliance && policy.reads_delivery() =>
                {
                    plans.push(for_policy(*first, policy));
                    copies.extend(rest.iter().map(|&timed| for_policy(timed, policy)));
                }
                _ => plans.push(own_transit.policy_plan(policy)),
            }
        }
        plans.extend(copies);
        plans
    }

    fn policy_plan(&self, policy: &m::PolicyDef) -> p::PolicyPlan {
        let lets = &policy.lets;
        let program = |e: &Expr| self.program(e, lets);
        let mut excludes = self.rules(&policy.excludes, lets);
        excludes.extend(policy.promises.iter().map(|p| self.promise(p, lets)));
        let mut objective: Vec<p::Criterion> = policy
            .objective
            .iter()
            .map(|c| p::Criterion {
                direction: match c.direction {
                    ast::Direction::Minimize => p::Direction::Minimize,
                    ast::Direction::Maximize => p::Direction::Maximize,
                },
                measure: match &c.measure {
                    m::MeasureDef::Shipments => p::Measure::Shipments,
                    m::MeasureDef::Cost => p::Measure::Cost,
                    m::MeasureDef::Aggregate(ast::Aggregator::Max, e) => {
                        p::Measure::Max(program(e))
                    }
                    m::MeasureDef::Aggregate(ast::Aggregator::Sum, e) => {
                        p::Measure::Sum(program(e))
                    }
                },
            })
            .collect();
        if objective.is_empty() && policy.kind == ast::PolicyKind::Policy {
            objective.push(p::Criterion {
                direction: p::Direction::Minimize,
                measure: p::Measure::Cost,
            });
        }
        p::PolicyPlan {
            kind: match policy.kind {
                ast::PolicyKind::Policy => p::PolicyKind::Policy,
                ast::PolicyKind::Compliance => p::PolicyKind::Compliance,
            },
            domain: match policy.domain {
                ast::Domain::Orders => p::Domain::Orders,
                ast::Domain::Returns => p::Domain::Returns,
            },
            keeps: self.rules(&policy.keeps, lets),
            disposes: self.rules(&policy.disposes, lets),
            name: policy.name.clone(),
            origin: self.origin(policy.span),
            priority: policy.priority,
            applies: policy.applies.as_ref().map(program),
            lets: lets
                .iter()
                .map(|l| p::LetPlan {
                    name: l.name.clone(),
                    value: program(&l.value),
                })
                .collect(),
            excludes,
            rejects: self.rules(&policy.rejects, lets),
            holds: self.rules(&policy.holds, lets),
            safety_stock: policy
                .safety_stock
                .iter()
                .map(|s| p::SafetyStockPlan {
                    amount: program(&s.amount),
                    condition: s.condition.as_ref().map(program),
                    origin: self.origin(s.span),
                })
                .collect(),
            costs: policy
                .costs
                .iter()
                .map(|c| p::CostPlan {
                    name: c.name.clone(),
                    basis: match c.basis {
                        ast::CostBasis::Shipment => p::CostBasis::Shipment,
                        ast::CostBasis::Line => p::CostBasis::Line,
                        ast::CostBasis::Unit => p::CostBasis::Unit,
                    },
                    value: program(&c.value),
                    condition: c.condition.as_ref().map(program),
                    origin: self.origin(c.span),
                })
                .collect(),
            objective,
            max_shipments: policy.max_shipments.map(|(n, _)| n),
            ship_complete: policy.ship_complete.is_some(),
            no_line_split: policy.no_line_split.is_some(),
            stages: policy
                .stages
                .iter()
                .map(|s| p::StagePlan {
                    name: s.name.clone(),
                    condition: s.condition.as_ref().map(program),
                    origin: self.origin(s.span),
                })
                .collect(),
            shortage: policy.on_shortage.as_ref().map(|s| p::ShortagePlan {
                action: match s.action {
                    ast::ShortageAction::Backorder => p::ShortageAction::Backorder,
                    ast::ShortageAction::Cancel => p::ShortageAction::Cancel,
                    ast::ShortageAction::Reject => p::ShortageAction::Reject,
                },
                because: s.because.clone(),
                origin: self.origin(s.span),
            }),
            transit: match policy.kind {
                ast::PolicyKind::Policy => self.transit.map(|t| program(t.value)),
                ast::PolicyKind::Compliance => None,
            },
            for_policy: None,
        }
    }
}

fn builtin_attr(attr: BuiltinAttr) -> Op {
    use BuiltinAttr as B;
    match attr {
        B::OrderId => Op::Order(p::OrderAttr::Id),
        B::OrderChannel => Op::Order(p::OrderAttr::Channel),
        B::OrderMethod => Op::Order(p::OrderAttr::Method),
        B::OrderService => Op::Order(p::OrderAttr::Service),
        B::OrderShipTo => Op::Order(p::OrderAttr::ShipTo),
        B::OrderPickupNode => Op::Order(p::OrderAttr::PickupNode),
        B::OrderValue => Op::Order(p::OrderAttr::Value),
        B::OrderTags => Op::Order(p::OrderAttr::Tags),
        B::OrderLines => Op::Order(p::OrderAttr::Lines),
        B::LineId => Op::Line(p::LineAttr::Id),
        B::LineSku => Op::Line(p::LineAttr::Sku),
        B::LineQty => Op::Line(p::LineAttr::Qty),
        B::LinePrice => Op::Line(p::LineAttr::Price),
        B::LineWeight => Op::Line(p::LineAttr::Weight),
        B::NodeId => Op::Node(p::NodeAttr::Id),
        B::NodeKind => Op::Node(p::NodeAttr::Kind),
        B::NodeLocation => Op::Node(p::NodeAttr::Location),
        B::NodeEnabled => Op::Node(p::NodeAttr::Enabled),
        B::NodePriority => Op::Node(p::NodeAttr::Priority),
        B::NodeTags => Op::Node(p::NodeAttr::Tags),
        B::NodeCapacity => Op::Node(p::NodeAttr::Capacity),
        B::NodeLoad => Op::Node(p::NodeAttr::Load),
        B::NodeUtilization => Op::Node(p::NodeAttr::Utilization),
        B::NodeHandlingCost => Op::Node(p::NodeAttr::HandlingCost),
        B::NodePickCost => Op::Node(p::NodeAttr::PickCost),
        B::NodeHandlingDays => Op::Node(p::NodeAttr::HandlingDays),
        B::NodeShipDate | B::ShipmentShipDate => Op::Node(p::NodeAttr::ShipDate),
        B::NodeShipDays | B::ShipmentShipDays => Op::Node(p::NodeAttr::ShipDays),
        B::NodeShipBusinessDays => Op::Node(p::NodeAttr::ShipBusinessDays),
        B::OrderPromisedBy => Op::Order(p::OrderAttr::PromisedBy),
        // Emitted with the policy's transit (see `Compiler::emit`).
        B::NodeDeliveryDate | B::ShipmentDeliveryDate => Op::Node(p::NodeAttr::ShipDate),
        B::NodeDeliveryDays | B::ShipmentDeliveryDays => Op::Node(p::NodeAttr::ShipDays),
        // A return is read as the order record it is routed as.
        B::ReturnId => Op::Order(p::OrderAttr::Id),
        B::ReturnChannel => Op::Order(p::OrderAttr::Channel),
        B::ReturnReason => Op::Order(p::OrderAttr::Reason),
        B::ReturnFrom => Op::Order(p::OrderAttr::ShipTo),
        B::ReturnValue => Op::Order(p::OrderAttr::Value),
        B::ReturnTags => Op::Order(p::OrderAttr::Tags),
        B::ReturnLines => Op::Order(p::OrderAttr::Lines),
        B::LineCondition => Op::Line(p::LineAttr::Condition),
        B::ShipmentWeight => Op::Shipment(p::ShipmentAttr::Weight),
        B::ShipmentUnits => Op::Shipment(p::ShipmentAttr::Units),
        B::ShipmentLines => Op::Shipment(p::ShipmentAttr::Lines),
        B::ShipmentValue => Op::Shipment(p::ShipmentAttr::Value),
    }
}

/// Whether an expression reads `node.load` or `node.utilization` (directly or through
/// a `let`), which change as a batch is routed; `available` changes too.
fn reads_load(expr: &Expr, lets: &[m::LetDef], transit: Option<Transit>) -> bool {
    let reads_load = |e: &Expr, lets: &[m::LetDef]| reads_load(e, lets, transit);
    match &expr.kind {
        ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::NodeLoad | BuiltinAttr::NodeUtilization)) => {
            true
        }
        // The checker keeps delivery dates out of the transit itself.
        ExprKind::Attr(AttrRef::Builtin(a)) if a.reads_delivery() => {
            transit.is_some_and(|t| reads_load(t.value, t.lets))
        }
        ExprKind::Builtin(m::Builtin::Available | m::Builtin::Need, _) => true,
        ExprKind::Let(id) => lets
            .get(id.0 as usize)
            .is_some_and(|l| reads_load(&l.value, lets)),
        ExprKind::LocationField(base, _) | ExprKind::Unary(_, base) => reads_load(base, lets),
        ExprKind::Builtin(_, args) | ExprKind::Table(_, args) | ExprKind::List(args) => {
            args.iter().any(|a| reads_load(a, lets))
        }
        ExprKind::Binary(_, a, b) => reads_load(a, lets) || reads_load(b, lets),
        ExprKind::If(a, b, c) => reads_load(a, lets) || reads_load(b, lets) || reads_load(c, lets),
        _ => false,
    }
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary(BinaryOp::And, l, r) => {
            flatten_and(l, out);
            flatten_and(r, out);
        }
        _ => out.push(e),
    }
}

/// `distance(node, order.ship_to)` (either way round, `node.location` too), directly or
/// through `let`s.
fn is_ship_to_distance(e: &Expr, lets: &[m::LetDef]) -> bool {
    match &e.kind {
        ExprKind::Let(id) => lets
            .get(id.0 as usize)
            .is_some_and(|l| is_ship_to_distance(&l.value, lets)),
        ExprKind::Builtin(m::Builtin::Distance, args) if args.len() == 2 => {
            let is_node = |a: &Expr| {
                matches!(
                    a.kind,
                    ExprKind::Node | ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::NodeLocation))
                )
            };
            let is_ship_to = |a: &Expr| {
                matches!(
                    a.kind,
                    ExprKind::Attr(AttrRef::Builtin(
                        BuiltinAttr::OrderShipTo | BuiltinAttr::ReturnFrom
                    ))
                )
            };
            (is_node(&args[0]) && is_ship_to(&args[1]))
                || (is_ship_to(&args[0]) && is_node(&args[1]))
        }
        _ => false,
    }
}

/// Parses, checks and compiles; `Err` holds the diagnostics if there are errors.
pub fn compile_sources(sources: &Sources) -> Result<p::Plan, Vec<allot_diagnostics::Diagnostic>> {
    let analysis = allot_check::analyze(sources);
    if analysis.diagnostics.iter().any(|d| d.is_error()) {
        return Err(analysis.diagnostics);
    }
    Ok(compile(&analysis.model, sources))
}

#[cfg(test)]
mod tests {
    use allot_diagnostics::Sources;
    use allot_plan::Op;

    /// A profile that reads delivery dates is compiled once per policy with a transit,
    /// each copy with that policy's transit, its `let`s written in place.
    #[test]
    fn a_profile_reading_delivery_dates_has_a_copy_per_policy() {
        let mut sources = Sources::new();
        sources.add(
            "r.allot",
            r#"policy "a" {
  applies when order.channel == "web"
  let d = distance(node, order.ship_to)
  transit = if d < 100 km then 1 day else 3 days
}
policy "b" {
  applies when order.channel == "app"
  transit = 2 days
}
compliance "p" {
  applies when "vip" in order.tags
  deliver within 2 days because "vip: two days"
}
compliance "q" {
  applies when "vip" in order.tags
  ship within 1 business day
}
"#,
        );
        let plan = super::compile_sources(&sources).expect("it compiles");
        plan.validate().expect("a valid plan");
        let layout: Vec<(&str, Option<u32>)> = (plan.policies.iter())
            .map(|p| (p.name.as_str(), p.for_policy))
            .collect();
        assert_eq!(
            layout,
            [
                ("a", None),
                ("b", None),
                ("p", Some(0)),
                ("q", None),
                ("p", Some(1))
            ]
        );
        let promise = &plan.policies[2].excludes[0].condition;
        assert!(promise.ops.contains(&Op::Distance), "{:?}", promise.ops);
        assert!(!promise.ops.iter().any(|op| matches!(op, Op::Let(_))));
        assert!(plan.policies[2].transit.is_none());
    }
}
