//! A deliberately simple router, for testing the real one. It walks the checked
//! model's expressions directly and finds the best plan by trying every plan of the
//! plan space (docs/routing.md). No compilation, no caching, no pruning: slow, and easy
//! to read. Property tests check that the compiled runtime decides exactly as it does.

use allot_check::model::{self as m, AttrRef, BuiltinAttr, Context, Expr, ExprKind, Model, Value};
use allot_diagnostics::Sources;
use allot_runtime::calendar::{Calendar, Placed, day_number, iso_date};
use allot_runtime::decision::{Decision, Shipment, ShippedLine, Status, Unfilled, UnfilledAction};
use allot_runtime::network::Network;
use allot_runtime::network::Returns;
use allot_runtime::order::{Line, Order};
use allot_runtime::value::{Geo, V};
use allot_syntax::ast::{
    BinaryOp, CostBasis, Direction, Domain, PolicyKind, ShortageAction, UnaryOp,
};
use rust_decimal::prelude::ToPrimitive;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Routes orders one after another against a network, consuming stock and capacity.
pub struct Reference<'a> {
    model: &'a Model,
    sources: &'a Sources,
    network: &'a Network,
    taken: HashMap<(u32, u32), i64>,
    load: Vec<f64>,
}

#[derive(Clone, Copy, Default)]
struct Totals {
    weight: f64,
    units: f64,
    lines: f64,
    value: f64,
}

#[derive(Clone, Copy)]
struct Ctx<'o> {
    order: &'o Order,
    line: Option<&'o Line>,
    node: Option<u32>,
    shipment: Option<Totals>,
    safety: i64,
    /// The routed policy, whose transit gives delivery dates.
    policy: Option<&'o m::PolicyDef>,
}

/// What a per-shipment program sees: the order, the node, the shipment's totals.
fn shipment_ctx<'o>(
    order: &'o Order,
    policy: &'o m::PolicyDef,
    node: u32,
    totals: Totals,
) -> Ctx<'o> {
    Ctx {
        order,
        line: None,
        node: Some(node),
        shipment: Some(totals),
        safety: 0,
        policy: Some(policy),
    }
}

/// When a node keeping `calendar` ships an order placed at `placed`, found day by day:
/// (ship day, calendar days from the order's date, working days from the order's day).
fn ship_times(calendar: &Calendar, placed: Placed) -> (i32, i32, i32) {
    let working = |day: i32| {
        let date = allot_runtime::calendar::date_of(day).expect("a day within the calendar");
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        calendar.working_days[weekday] && !calendar.holidays.contains(&day)
    };
    let next_working = |mut day: i32| {
        day += 1;
        while !working(day) {
            day += 1;
        }
        day
    };
    let local = calendar.time_zone.to_datetime(placed.at);
    let placed_day = day_number(local.date());
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    let late = calendar.cutoff.is_some_and(|c| minute >= i32::from(c));
    let mut ship = placed_day;
    if !working(ship) || late {
        ship = next_working(ship);
    }
    for _ in 0..calendar.handling_days {
        ship = next_working(ship);
    }
    let mut first = placed_day;
    if !working(first) {
        first = next_working(first);
    }
    let business = (first + 1..=ship).filter(|&d| working(d)).count() as i32;
    (ship, ship - placed.day, business)
}

/// One candidate (node) of a line.
#[derive(Clone)]
struct Cand {
    node: u32,
    available: i64,
    unit_cost: f64,
    line_cost: f64,
    stage: Option<usize>,
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Int(i) => *i as f64,
        Value::Number(d) | Value::Quantity(d, _) | Value::Rate(d, _) => {
            d.to_f64().unwrap_or(f64::NAN)
        }
        _ => f64::NAN,
    }
}

fn from_value(value: &Value) -> V {
    match value {
        Value::Bool(b) => V::Bool(*b),
        Value::Str(s) => V::Str(Arc::from(s.as_str())),
        Value::Enum(_, v) => V::Enum(*v),
        Value::Set(items) => V::Set(items.iter().map(from_value).collect()),
        other => V::Num(number(other)),
    }
}

impl<'a> Reference<'a> {
    pub fn new(model: &'a Model, sources: &'a Sources, network: &'a Network) -> Reference<'a> {
        Reference {
            model,
            sources,
            network,
            taken: HashMap::new(),
            load: network.nodes.iter().map(|n| n.load).collect(),
        }
    }

    fn free(&self, item: u32, node: u32) -> i64 {
        let stock = self.network.stock[item as usize]
            .iter()
            .find(|s| s.node == node);
        stock.map_or(0, |s| {
            s.on_hand - s.reserved - self.taken.get(&(item, node)).copied().unwrap_or(0)
        })
    }

    fn geo<'g>(&'g self, value: &V, order: &'g Order) -> &'g Geo {
        match value {
            V::Node(n) => &self.network.nodes[*n as usize].geo,
            V::Place(allot_runtime::value::Place::Node(n)) => &self.network.nodes[*n as usize].geo,
            _ => &order.ship_to,
        }
    }

    /// The slot of a custom attribute among its owner's attributes.
    fn slot(&self, id: m::AttrId) -> usize {
        let owner = |c: Context| if c == Context::Item { Context::Line } else { c };
        let context = owner(self.model.attrs[id.0 as usize].context);
        self.model.attrs[..id.0 as usize]
            .iter()
            .filter(|a| owner(a.context) == context)
            .count()
    }

    fn eval(&self, e: &Expr, ctx: Ctx, lets: &[m::LetDef], params: &[V]) -> V {
        let ev = |x: &Expr| self.eval(x, ctx, lets, params);
        let num = |x: &Expr| ev(x).as_num();
        match &e.kind {
            ExprKind::Literal(value) => from_value(value),
            ExprKind::Const(id) => {
                let def = &self.model.consts[id.0 as usize];
                match &def.folded {
                    Some(value) => from_value(value),
                    None => self.eval(&def.value, ctx, &[], &[]),
                }
            }
            ExprKind::Let(id) => self.eval(&lets[id.0 as usize].value, ctx, lets, params),
            ExprKind::Param(i) => params[*i as usize].clone(),
            ExprKind::Node => V::Node(ctx.node.unwrap_or(0)),
            ExprKind::Attr(AttrRef::Custom(id)) => {
                let slot = self.slot(*id);
                let values = match self.model.attrs[id.0 as usize].context {
                    Context::Order => &ctx.order.custom,
                    Context::Node => &self.network.nodes[ctx.node.unwrap_or(0) as usize].custom,
                    _ => &self.network.items[ctx.line.map_or(0, |l| l.item) as usize].custom,
                };
                values[slot].clone()
            }
            ExprKind::Attr(AttrRef::Builtin(attr)) => self.builtin(*attr, ctx),
            ExprKind::LocationField(base, field) => {
                let geo = self.geo(&ev(base), ctx.order);
                V::Str(match field {
                    m::LocationField::Country => geo.country.clone(),
                    m::LocationField::Region => geo.region.clone(),
                    m::LocationField::PostalCode => geo.postal_code.clone(),
                })
            }
            ExprKind::Builtin(builtin, args) => match builtin {
                m::Builtin::Distance => {
                    let (a, b) = (ev(&args[0]), ev(&args[1]));
                    V::Num(self.geo(&a, ctx.order).distance_km(self.geo(&b, ctx.order)))
                }
                m::Builtin::Available => {
                    let (V::Node(node), V::Str(sku)) = (ev(&args[0]), ev(&args[1])) else {
                        return V::Num(0.0);
                    };
                    let Some(&item) = self.network.sku_index.get(&sku) else {
                        return V::Num(0.0);
                    };
                    let safety = if ctx.line.is_some_and(|l| l.item == item) {
                        ctx.safety
                    } else {
                        0
                    };
                    V::Num((self.free(item, node) - safety).max(0) as f64)
                }
                m::Builtin::Min => V::Num(args.iter().map(num).fold(f64::INFINITY, f64::min)),
                m::Builtin::Max => V::Num(args.iter().map(num).fold(f64::NEG_INFINITY, f64::max)),
                m::Builtin::Abs => V::Num(num(&args[0]).abs()),
                m::Builtin::Need => {
                    let (V::Node(node), V::Str(sku)) = (ev(&args[0]), ev(&args[1])) else {
                        return V::Num(0.0);
                    };
                    let Some(&item) = self.network.sku_index.get(&sku) else {
                        return V::Num(0.0);
                    };
                    let target = (self.network.stock[item as usize].iter())
                        .find(|s| s.node == node)
                        .map_or(0, |s| s.target);
                    let short = if target > 0 {
                        (target - self.free(item, node)).max(0)
                    } else {
                        0
                    };
                    V::Num(short as f64)
                }
            },
            ExprKind::Table(id, args) => {
                let args: Vec<V> = args.iter().map(ev).collect();
                let table = &self.model.tables[id.0 as usize];
                let row = table.rows.iter().find(|row| {
                    row.condition
                        .as_ref()
                        .is_none_or(|c| self.eval(c, ctx, &[], &args).as_bool())
                });
                row.map_or(V::Num(f64::NAN), |row| {
                    self.eval(&row.value, ctx, &[], &args)
                })
            }
            ExprKind::Unary(UnaryOp::Not, x) => V::Bool(!ev(x).as_bool()),
            ExprKind::Unary(UnaryOp::Neg, x) => V::Num(-num(x)),
            ExprKind::Binary(op, l, r) => match op {
                BinaryOp::And => V::Bool(ev(l).as_bool() && ev(r).as_bool()),
                BinaryOp::Or => V::Bool(ev(l).as_bool() || ev(r).as_bool()),
                BinaryOp::Eq => V::Bool(ev(l).same(&ev(r))),
                BinaryOp::NotEq => V::Bool(!ev(l).same(&ev(r))),
                BinaryOp::Lt => V::Bool(num(l) < num(r)),
                BinaryOp::LtEq => V::Bool(num(l) <= num(r)),
                BinaryOp::Gt => V::Bool(num(l) > num(r)),
                BinaryOp::GtEq => V::Bool(num(l) >= num(r)),
                BinaryOp::In | BinaryOp::NotIn => {
                    let item = ev(l);
                    let found = match ev(r) {
                        V::Set(items) => items.iter().any(|i| i.same(&item)),
                        _ => false,
                    };
                    V::Bool(found == (*op == BinaryOp::In))
                }
                BinaryOp::Add => V::Num(num(l) + num(r)),
                BinaryOp::Sub => V::Num(num(l) - num(r)),
                BinaryOp::Mul => V::Num(num(l) * num(r)),
                BinaryOp::Div => V::Num(num(l) / num(r)),
            },
            ExprKind::If(c, a, b) => {
                if ev(c).as_bool() {
                    ev(a)
                } else {
                    ev(b)
                }
            }
            ExprKind::List(items) => V::Set(items.iter().map(ev).collect()),
            ExprKind::Error => V::Bool(false),
        }
    }

    fn builtin(&self, attr: BuiltinAttr, ctx: Ctx) -> V {
        use BuiltinAttr as B;
        let order = ctx.order;
        let node = ctx.node.map(|n| (n, &self.network.nodes[n as usize]));
        let s = ctx.shipment.unwrap_or_default();
        match attr {
            B::OrderId => V::Str(order.id.clone()),
            B::OrderChannel => V::Str(order.channel.clone()),
            B::OrderMethod => V::Enum(order.method),
            B::OrderService => V::Enum(order.service),
            B::OrderShipTo => V::Place(allot_runtime::value::Place::ShipTo),
            B::OrderPickupNode => V::Str(order.pickup_node.clone()),
            B::OrderValue => V::Num(order.value),
            B::OrderTags => V::Set(order.tags.clone()),
            B::OrderLines => V::Num(order.lines.len() as f64),
            B::LineId => V::Str(ctx.line.expect("line").id.clone()),
            B::LineSku => V::Str(ctx.line.expect("line").sku.clone()),
            B::LineQty => V::Num(ctx.line.expect("line").qty as f64),
            B::LinePrice => V::Num(ctx.line.expect("line").price),
            B::LineWeight => V::Num(ctx.line.expect("line").weight),
            B::NodeId => V::Str(node.expect("node").1.id.clone()),
            B::NodeKind => V::Enum(node.expect("node").1.kind),
            B::NodeLocation => V::Node(node.expect("node").0),
            B::NodeEnabled => V::Bool(node.expect("node").1.enabled),
            B::NodePriority => V::Num(node.expect("node").1.priority),
            B::NodeTags => V::Set(node.expect("node").1.tags.clone()),
            B::NodeCapacity => V::Num(node.expect("node").1.capacity.unwrap_or(f64::INFINITY)),
            B::NodeLoad => V::Num(self.load[node.expect("node").0 as usize]),
            B::NodeUtilization => {
                let (index, n) = node.expect("node");
                V::Num(n.capacity.map_or(0.0, |c| self.load[index as usize] / c))
            }
            B::NodeHandlingCost => V::Num(node.expect("node").1.handling_cost),
            B::NodePickCost => V::Num(node.expect("node").1.pick_cost),
            B::ShipmentWeight => V::Num(s.weight),
            B::ShipmentUnits => V::Num(s.units),
            B::ShipmentLines => V::Num(s.lines),
            B::ShipmentValue => V::Num(s.value),
            B::OrderPromisedBy => V::Num(order.promised_by.map_or(f64::NAN, f64::from)),
            B::ReturnId => V::Str(order.id.clone()),
            B::ReturnChannel => V::Str(order.channel.clone()),
            B::ReturnReason => V::Str(order.reason.clone()),
            B::ReturnFrom => V::Place(allot_runtime::value::Place::ShipTo),
            B::ReturnValue => V::Num(order.value),
            B::ReturnTags => V::Set(order.tags.clone()),
            B::ReturnLines => V::Num(order.lines.len() as f64),
            B::LineCondition => V::Enum(ctx.line.expect("line").condition),
            B::NodeHandlingDays => {
                let calendar = &self.network.calendars[node.expect("node").1.calendar as usize];
                V::Num(f64::from(calendar.handling_days))
            }
            B::NodeShipDate | B::ShipmentShipDate => self.times(ctx, |(day, _, _)| day),
            B::NodeShipDays | B::ShipmentShipDays => self.times(ctx, |(_, days, _)| days),
            B::NodeShipBusinessDays => self.times(ctx, |(_, _, business)| business),
            B::NodeDeliveryDate | B::ShipmentDeliveryDate => {
                V::Num(self.delivery(ctx, |(day, _, _)| day))
            }
            B::NodeDeliveryDays | B::ShipmentDeliveryDays => {
                V::Num(self.delivery(ctx, |(_, days, _)| days))
            }
        }
    }

    /// One of the ship times of the context's node for its order.
    fn times(&self, ctx: Ctx, pick: fn((i32, i32, i32)) -> i32) -> V {
        let node = &self.network.nodes[ctx.node.expect("node") as usize];
        let calendar = &self.network.calendars[node.calendar as usize];
        match ctx.order.placed {
            Some(placed) => V::Num(f64::from(pick(ship_times(calendar, placed)))),
            None => V::Num(f64::NAN),
        }
    }

    /// A ship time plus the routed policy's transit, in whole days (rounded up).
    fn delivery(&self, ctx: Ctx, pick: fn((i32, i32, i32)) -> i32) -> f64 {
        let ship = self.times(ctx, pick).as_num();
        ship + self.transit_days(ctx)
    }

    fn transit_days(&self, ctx: Ctx) -> f64 {
        let policy = ctx.policy.expect("a routed policy");
        let transit = policy.transit.as_ref().expect("a transit (checked)");
        let ctx = Ctx {
            line: None,
            shipment: None,
            ..ctx
        };
        let minutes = self.eval(&transit.value, ctx, &policy.lets, &[]).as_num();
        (minutes / 1440.0).ceil().max(0.0)
    }

    /// Whether the context's node misses a promise of `layer`.
    fn misses(&self, promise: &m::PromiseDef, ctx: Ctx, layer: &m::PolicyDef) -> bool {
        let days = |pick| self.times(ctx, pick).as_num();
        match &promise.promise {
            m::Promise::ShipWithin(n) => days(|(_, _, business)| business) > f64::from(*n),
            m::Promise::DeliverWithin(n) => self.delivery(ctx, |(_, days, _)| days) > f64::from(*n),
            m::Promise::DeliverBy(date) => {
                self.delivery(ctx, |(day, _, _)| day)
                    > self.eval(date, ctx, &layer.lets, &[]).as_num()
            }
        }
    }

    /// The first order field that `policy` reads (in `applies when` alone, or
    /// anywhere) and the order lacks, as an `error` decision.
    fn lacking(
        &self,
        order: &Order,
        policy: &m::PolicyDef,
        applies_only: bool,
    ) -> Option<Decision> {
        let mut exprs: Vec<&Expr> = Vec::new();
        let mut promises = false;
        if applies_only {
            exprs.extend(&policy.applies);
        } else {
            exprs = policy.item_expressions();
            promises = !policy.promises.is_empty();
        }
        let (mut placed_at, mut promised_by) = (promises, false);
        let mut pending = exprs;
        let mut seen = Vec::new();
        while let Some(e) = pending.pop() {
            match &e.kind {
                ExprKind::Attr(AttrRef::Builtin(attr)) if attr.reads_schedule() => placed_at = true,
                ExprKind::Attr(AttrRef::Builtin(BuiltinAttr::OrderPromisedBy)) => {
                    promised_by = true
                }
                ExprKind::Let(id) if !seen.contains(&id.0) => {
                    seen.push(id.0);
                    pending.push(&policy.lets[id.0 as usize].value);
                }
                _ => pending.extend(e.children()),
            }
        }
        let field = if placed_at && order.placed.is_none() {
            "placed_at"
        } else if promised_by && order.promised_by.is_none() {
            "promised_by"
        } else {
            return None;
        };
        let what = match policy.kind {
            PolicyKind::Policy => "policy",
            PolicyKind::Compliance => "compliance profile",
        };
        Some(Decision::lacking(&order.id, field, what, &policy.name))
    }

    fn holds(&self, e: &Option<Expr>, ctx: Ctx, policy: &m::PolicyDef) -> bool {
        e.as_ref()
            .is_none_or(|e| self.eval(e, ctx, &policy.lets, &[]).as_bool())
    }

    pub fn route(&mut self, order: &Order) -> Decision {
        let model = self.model;
        let at = Ctx {
            order,
            line: None,
            node: None,
            shipment: None,
            safety: 0,
            policy: None,
        };
        let domain = if order.is_return {
            Domain::Returns
        } else {
            Domain::Orders
        };
        let mut policies: Vec<&m::PolicyDef> = model
            .policies
            .iter()
            .filter(|p| p.kind == PolicyKind::Policy && p.domain == domain)
            .collect();
        policies.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
        let mut decision = Decision {
            order: Some(order.id.to_string()),
            is_return: order.is_return,
            policy: None,
            profiles: Some(Vec::new()),
            status: Status::Rejected,
            reason: Some("no policy applies".into()),
            message: None,
            shipments: Some(Vec::new()),
            unfilled: Some(Vec::new()),
            cost: Some(0.0),
            search_cut: false,
            trace: None,
        };
        let mut chosen = None;
        for p in policies {
            if let Some(error) = self.lacking(order, p, true) {
                return error;
            }
            if self.holds(&p.applies, at, p) {
                chosen = Some(p);
                break;
            }
        }
        let Some(policy) = chosen else {
            return decision;
        };
        let at = Ctx {
            policy: Some(policy),
            ..at
        };
        let mut layers = vec![policy];
        let mut profiles: Vec<&m::PolicyDef> = model
            .policies
            .iter()
            .filter(|p| p.kind == PolicyKind::Compliance && p.domain == domain)
            .collect();
        profiles.sort_by(|a, b| a.name.cmp(&b.name));
        for profile in profiles {
            if let Some(error) = self.lacking(order, profile, true) {
                return error;
            }
            if self.holds(&profile.applies, at, profile) {
                layers.push(profile);
            }
        }
        if let Some(error) = layers.iter().find_map(|l| self.lacking(order, l, false)) {
            return error;
        }
        decision.policy = Some(policy.name.clone());
        decision.profiles = Some(layers[1..].iter().map(|p| p.name.clone()).collect());
        decision.reason = None;
        for (status, keyword) in [
            (Status::Rejected, "reject when"),
            (Status::Held, "hold when"),
        ] {
            for layer in &layers {
                let rules = if status == Status::Rejected {
                    &layer.rejects
                } else {
                    &layer.holds
                };
                if let Some(rule) = rules
                    .iter()
                    .find(|r| self.eval(&r.condition, at, &layer.lets, &[]).as_bool())
                {
                    decision.status = status;
                    decision.reason = Some(rule.because.clone().unwrap_or_else(|| {
                        format!("{keyword} {}", self.sources.snippet(rule.condition.span))
                    }));
                    return decision;
                }
            }
        }

        // A return's lines kept or disposed of: the first rule that holds, keeping
        // before disposing, the policy's before the profiles'. The rest are routed.
        let mut outcomes = Vec::new();
        let mut received = order.clone();
        received.lines.clear();
        for line in &order.lines {
            let ctx = Ctx {
                line: Some(line),
                ..at
            };
            let rules = [UnfilledAction::Keep, UnfilledAction::Dispose]
                .into_iter()
                .flat_map(|action| layers.iter().map(move |l| (action, *l)))
                .flat_map(|(action, l)| {
                    let rules = match action {
                        UnfilledAction::Keep => &l.keeps,
                        _ => &l.disposes,
                    };
                    rules.iter().map(move |r| (action, l, r))
                });
            let mut decided = None;
            for (action, layer, rule) in rules {
                if self.eval(&rule.condition, ctx, &layer.lets, &[]).as_bool() {
                    let keyword = match action {
                        UnfilledAction::Keep => "refund without return when",
                        _ => "dispose when",
                    };
                    decided = Some(Unfilled {
                        line: line.id.to_string(),
                        sku: line.sku.to_string(),
                        qty: line.qty,
                        action,
                        reason: rule.because.clone().unwrap_or_else(|| {
                            format!("{keyword} {}", self.sources.snippet(rule.condition.span))
                        }),
                    });
                    break;
                }
            }
            match decided {
                Some(outcome) => outcomes.push(outcome),
                None => received.lines.push(line.clone()),
            }
        }
        let order = &received;
        let at = Ctx { order, ..at };
        let mut decision = self.place(order, at, decision, policy, &layers);
        decision
            .unfilled
            .get_or_insert_with(Vec::new)
            .extend(outcomes);
        decision
    }

    /// The nodes a line may go to: those that stock its item; for a return, those that
    /// carry it and receive returns, and those that receive anything.
    fn line_nodes(&self, order: &Order, line: &Line) -> Vec<u32> {
        let stock = &self.network.stock[line.item as usize];
        if !order.is_return {
            return stock.iter().map(|s| s.node).collect();
        }
        let mut nodes: Vec<u32> = (0..self.network.nodes.len() as u32)
            .filter(|&n| match self.network.nodes[n as usize].returns {
                Returns::All => true,
                Returns::Carried => stock.iter().any(|s| s.node == n),
                Returns::None => false,
            })
            .collect();
        nodes.sort_unstable();
        nodes
    }

    /// Routes the lines of `order` with the chosen layers.
    fn place(
        &mut self,
        order: &Order,
        at: Ctx,
        decision: Decision,
        policy: &m::PolicyDef,
        layers: &[&m::PolicyDef],
    ) -> Decision {
        // Candidates of each line.
        let lines: Vec<Vec<Cand>> = order
            .lines
            .iter()
            .map(|line| {
                let mut cands = Vec::new();
                for node in self.line_nodes(order, line) {
                    let ctx = Ctx {
                        line: Some(line),
                        node: Some(node),
                        ..at
                    };
                    let excluded = layers.iter().any(|l| {
                        l.excludes
                            .iter()
                            .any(|r| self.eval(&r.condition, ctx, &l.lets, &[]).as_bool())
                            || l.promises.iter().any(|p| self.misses(p, ctx, l))
                    });
                    if excluded {
                        continue;
                    }
                    let stage = policy
                        .stages
                        .iter()
                        .position(|s| self.holds(&s.condition, ctx, policy));
                    if !policy.stages.is_empty() && stage.is_none() {
                        continue;
                    }
                    let mut safety = 0;
                    for layer in layers {
                        for s in &layer.safety_stock {
                            if self.holds(&s.condition, ctx, layer) {
                                safety =
                                    safety
                                        .max(self.eval(&s.amount, ctx, &layer.lets, &[]).as_num()
                                            as i64);
                            }
                        }
                    }
                    // A node receives a returned line whole.
                    let available = match order.is_return {
                        true => line.qty,
                        false => (self.free(line.item, node) - safety).max(0),
                    };
                    if available == 0 {
                        continue;
                    }
                    let ctx = Ctx { safety, ..ctx };
                    let (mut unit_cost, mut line_cost) = (0.0, 0.0);
                    for layer in layers {
                        for cost in &layer.costs {
                            if cost.basis != CostBasis::Shipment
                                && self.holds(&cost.condition, ctx, layer)
                            {
                                let value = self.eval(&cost.value, ctx, &layer.lets, &[]).as_num();
                                if cost.basis == CostBasis::Unit {
                                    unit_cost += value;
                                } else {
                                    line_cost += value;
                                }
                            }
                        }
                    }
                    cands.push(Cand {
                        node,
                        available,
                        unit_cost,
                        line_cost,
                        stage,
                    });
                }
                cands
            })
            .collect();

        let ship_complete = layers.iter().any(|l| l.ship_complete.is_some());
        let no_line_split = layers.iter().any(|l| l.no_line_split.is_some());
        let max_shipments = layers
            .iter()
            .filter_map(|l| l.max_shipments.map(|m| m.0))
            .min();
        let shortage = layers
            .iter()
            .filter_map(|l| l.on_shortage.as_ref())
            .max_by_key(|s| s.action);
        let total: i64 = order.lines.iter().map(|l| l.qty).sum();

        let stages = policy.stages.len();
        let mut best = None;
        for k in 0..stages.max(1) {
            let restricted: Vec<Vec<Cand>> = lines
                .iter()
                .zip(&order.lines)
                .map(|(cands, line)| {
                    let mut cands: Vec<Cand> = cands
                        .iter()
                        .filter(|c| stages == 0 || c.stage.is_some_and(|s| s <= k))
                        .cloned()
                        .collect();
                    if order.lines.len() > allot_runtime::EXACT_LINES {
                        let cost = |c: &Cand| c.unit_cost * line.qty as f64 + c.line_cost;
                        cands.sort_by(|a, b| cost(a).total_cmp(&cost(b)).then(a.node.cmp(&b.node)));
                        cands.truncate(allot_runtime::HEURISTIC_CANDIDATES);
                    }
                    cands
                })
                .collect();
            let plans = self.every_plan(
                order,
                &restricted,
                no_line_split || ship_complete,
                max_shipments,
            );
            let mut scored: Vec<Scored> = plans
                .into_iter()
                .filter_map(|plan| {
                    self.score(
                        order,
                        &restricted,
                        plan,
                        policy,
                        layers,
                        ship_complete,
                        max_shipments,
                        total,
                    )
                })
                .collect();
            scored.sort_by(|a, b| a.key.partial_cmp(&b.key).expect("comparable"));
            let found = scored.into_iter().next();
            let done = found.as_ref().is_some_and(|s| s.placed == total);
            best = found;
            if done {
                break;
            }
        }
        let best = best.expect("the empty plan is always feasible");
        self.decide(order, at, decision, best, (ship_complete, shortage, total))
    }

    /// Every plan of the plan space: per line, unplaced, one node, or a split.
    fn every_plan(
        &self,
        order: &Order,
        lines: &[Vec<Cand>],
        no_split: bool,
        max_shipments: Option<u32>,
    ) -> Vec<Vec<Vec<(u32, i64)>>> {
        let mut plans = vec![(Vec::new(), HashMap::<(u32, u32), i64>::new())];
        for (line, cands) in order.lines.iter().zip(lines) {
            let mut next = Vec::new();
            for (plan, used) in plans {
                let room =
                    |c: &Cand| c.available - used.get(&(line.item, c.node)).copied().unwrap_or(0);
                let mut options: Vec<Vec<(u32, i64)>> = vec![Vec::new()];
                for c in cands {
                    let take = line.qty.min(room(c));
                    if take > 0 {
                        options.push(vec![(c.node, take)]);
                    }
                }
                if !no_split && !cands.iter().any(|c| c.available >= line.qty) {
                    let mut pool: Vec<&Cand> = cands.iter().collect();
                    pool.sort_by(|a, b| b.available.cmp(&a.available).then(a.node.cmp(&b.node)));
                    pool.truncate(6);
                    pool.sort_by_key(|c| c.node);
                    let cap = max_shipments.map_or(3, |m| (m as usize).min(3));
                    for mask in 0u32..(1 << pool.len()) {
                        let members: Vec<&Cand> = (0..pool.len())
                            .filter(|i| mask & (1 << i) != 0)
                            .map(|i| pool[i])
                            .collect();
                        if members.len() < 2 || members.len() > cap {
                            continue;
                        }
                        let mut left = line.qty;
                        let mut split = Vec::new();
                        for c in &members {
                            let take = left.min(room(c));
                            if take <= 0 {
                                break;
                            }
                            split.push((c.node, take));
                            left -= take;
                        }
                        if split.len() == members.len() {
                            options.push(split);
                        }
                    }
                }
                for option in options {
                    let mut used = used.clone();
                    for &(node, units) in &option {
                        *used.entry((line.item, node)).or_insert(0) += units;
                    }
                    let mut plan = plan.clone();
                    plan.push(option);
                    next.push((plan, used));
                }
            }
            plans = next;
        }
        plans.into_iter().map(|(plan, _)| plan).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn score(
        &self,
        order: &Order,
        lines: &[Vec<Cand>],
        plan: Vec<Vec<(u32, i64)>>,
        policy: &m::PolicyDef,
        layers: &[&m::PolicyDef],
        ship_complete: bool,
        max_shipments: Option<u32>,
        total: i64,
    ) -> Option<Scored> {
        let placed: i64 = plan.iter().flatten().map(|&(_, u)| u).sum();
        let mut nodes: BTreeMap<u32, (Totals, f64)> = BTreeMap::new();
        for ((line, cands), allocation) in order.lines.iter().zip(lines).zip(&plan) {
            for &(node, units) in allocation {
                let c = cands.iter().find(|c| c.node == node).expect("candidate");
                let entry = nodes.entry(node).or_default();
                let u = units as f64;
                entry.0.weight += u * line.weight;
                entry.0.units += u;
                entry.0.lines += 1.0;
                entry.0.value += u * line.price;
                entry.1 += c.unit_cost * u + c.line_cost;
            }
        }
        let parcels: Vec<u32> = nodes
            .keys()
            .copied()
            .filter(|&n| !self.network.nodes[n as usize].is_digital())
            .collect();
        let limit = if ship_complete {
            Some(1)
        } else {
            max_shipments
        };
        if limit.is_some_and(|l| parcels.len() > l as usize)
            || (ship_complete && placed > 0 && placed < total)
        {
            return None;
        }
        for &node in &parcels {
            let ctx = shipment_ctx(order, policy, node, nodes[&node].0);
            let mut cost = 0.0;
            for layer in layers {
                for c in layer
                    .costs
                    .iter()
                    .filter(|c| c.basis == CostBasis::Shipment)
                {
                    if self.holds(&c.condition, ctx, layer) {
                        cost += self.eval(&c.value, ctx, &layer.lets, &[]).as_num();
                    }
                }
            }
            nodes.get_mut(&node).expect("node").1 += cost;
        }
        let mut key = vec![-(placed as f64)];
        let objective: Vec<(Direction, Option<&m::MeasureDef>)> = if policy.objective.is_empty() {
            vec![(Direction::Minimize, None)]
        } else {
            policy
                .objective
                .iter()
                .map(|c| (c.direction, Some(&c.measure)))
                .collect()
        };
        for (direction, measure) in objective {
            let value = match measure {
                Some(m::MeasureDef::Shipments) => parcels.len() as f64,
                None | Some(m::MeasureDef::Cost) => nodes.values().map(|n| n.1).sum(),
                Some(m::MeasureDef::Aggregate(aggregator, e)) => {
                    let terms: Vec<f64> = parcels
                        .iter()
                        .map(|&node| {
                            self.eval(
                                e,
                                shipment_ctx(order, policy, node, nodes[&node].0),
                                &policy.lets,
                                &[],
                            )
                            .as_num()
                        })
                        .collect();
                    match aggregator {
                        allot_syntax::ast::Aggregator::Sum => terms.iter().sum(),
                        allot_syntax::ast::Aggregator::Max => {
                            terms.iter().copied().reduce(f64::max).unwrap_or(0.0)
                        }
                    }
                }
            };
            let q = (value * 1e6).round();
            key.push(if direction == Direction::Maximize {
                -q
            } else {
                q
            });
        }
        // Ties: node ids, line by line.
        let mut ids: Vec<&str> = self.network.nodes.iter().map(|n| &*n.id).collect();
        ids.sort();
        for allocation in &plan {
            let mut ranks: Vec<f64> = allocation
                .iter()
                .map(|&(n, _)| {
                    ids.binary_search(&&*self.network.nodes[n as usize].id)
                        .expect("id") as f64
                })
                .collect();
            ranks.sort_by(f64::total_cmp);
            key.extend(ranks);
            key.push(f64::MAX);
        }
        Some(Scored {
            key,
            placed,
            plan,
            nodes,
        })
    }

    fn decide(
        &mut self,
        order: &Order,
        at: Ctx,
        mut decision: Decision,
        best: Scored,
        (ship_complete, shortage, total): (bool, Option<&m::ShortageDef>, i64),
    ) -> Decision {
        decision.status = Status::Routed;
        let mut nodes: Vec<u32> = best.nodes.keys().copied().collect();
        nodes.sort_by(|a, b| {
            self.network.nodes[*a as usize]
                .id
                .cmp(&self.network.nodes[*b as usize].id)
        });
        let mut shipments = Vec::new();
        let mut cost = 0.0;
        let mut takes = Vec::new();
        for node in nodes {
            let mut lines = Vec::new();
            for (line, allocation) in order.lines.iter().zip(&best.plan) {
                for &(n, units) in allocation.iter().filter(|(n, _)| *n == node) {
                    lines.push(ShippedLine {
                        line: line.id.to_string(),
                        sku: line.sku.to_string(),
                        qty: units,
                    });
                    takes.push((line.item, n, units));
                }
            }
            cost += best.nodes[&node].1;
            let ctx = Ctx {
                node: Some(node),
                ..at
            };
            let ship = (order.placed)
                .filter(|_| !order.is_return)
                .map(|_| self.times(ctx, |(day, _, _)| day).as_num());
            let transit = at.policy.and_then(|p| p.transit.as_ref());
            shipments.push(Shipment {
                node: self.network.nodes[node as usize].id.to_string(),
                lines,
                cost: (best.nodes[&node].1 * 100.0).round() / 100.0,
                ship_by: ship.map(|day| iso_date(day as i32)),
                deliver_by: ship
                    .filter(|_| transit.is_some())
                    .map(|day| iso_date((day + self.transit_days(ctx)) as i32)),
            });
        }
        if best.placed < total {
            let action = shortage.map_or(ShortageAction::Backorder, |s| s.action);
            let reason = shortage.and_then(|s| s.because.clone()).unwrap_or_else(|| {
                if order.is_return {
                    "no node can receive it".into()
                } else if ship_complete && best.placed == 0 {
                    "the order must ship complete and no node can take all of it".into()
                } else {
                    "not enough stock at eligible nodes".into()
                }
            });
            if action == ShortageAction::Reject {
                decision.status = Status::Rejected;
                decision.reason = Some(reason);
                return decision;
            }
            decision.status = Status::Partial;
            decision.unfilled = Some(
                order
                    .lines
                    .iter()
                    .zip(&best.plan)
                    .filter_map(|(line, allocation)| {
                        let placed: i64 = allocation.iter().map(|&(_, u)| u).sum();
                        (placed < line.qty).then(|| Unfilled {
                            line: line.id.to_string(),
                            sku: line.sku.to_string(),
                            qty: line.qty - placed,
                            action: match action {
                                _ if order.is_return => UnfilledAction::Keep,
                                ShortageAction::Cancel => UnfilledAction::Cancel,
                                _ => UnfilledAction::Backorder,
                            },
                            reason: reason.clone(),
                        })
                    })
                    .collect(),
            );
        }
        // What a return brings back is free again where the node carries the item.
        let sign = if order.is_return { -1 } else { 1 };
        for (item, node, units) in takes {
            *self.taken.entry((item, node)).or_insert(0) += sign * units;
        }
        for node in best.nodes.keys() {
            if !self.network.nodes[*node as usize].is_digital() {
                self.load[*node as usize] += 1.0;
            }
        }
        decision.cost = Some((cost * 100.0).round() / 100.0);
        decision.shipments = Some(shipments);
        decision
    }
}

struct Scored {
    key: Vec<f64>,
    placed: i64,
    plan: Vec<Vec<(u32, i64)>>,
    nodes: BTreeMap<u32, (Totals, f64)>,
}
