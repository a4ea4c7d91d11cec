//! Deciding one order: the policy (the applicable one of highest priority) and the
//! profiles that apply, then the order-level rules, rejections before holds, which
//! decide an order before any node is looked at. An order that passes them is placed
//! (see [`super::decide`]). The router reads the engine's state and never changes it:
//! what the order takes comes back as a [`Commit`] for [`super::Engine::route`].

use super::Engine;
use super::policy_code::PolicyCode;
use crate::calendar::iso_date;
use crate::decision::{Dates, Decision, RuleRef, Status, Trace, Unfilled, UnfilledAction};
use crate::eval::{Code, Env, LetCache, World, whole_days};
use crate::order::{Line, Order};
use crate::search::Criterion;
use allot_plan::{Domain, Level, Measure, Origin, PolicyPlan, ShortagePlan};

/// What a routed order takes: units per (item, node), and the nodes that ship.
#[derive(Default)]
pub(super) struct Commit {
    pub(super) units: Vec<(u32, u32, i64)>,
    pub(super) shipments: Vec<u32>,
}

pub(super) struct Router<'a> {
    pub(super) engine: &'a Engine,
    pub(super) world: &'a World<'a>,
    pub(super) order: &'a Order,
    pub(super) explain: bool,
    /// Past this many lines, each line keeps only its cheapest candidates.
    pub(super) exact_lines: usize,
    /// When explaining: where the rules that had an effect on the decision are written.
    pub(super) exercised: Vec<Origin>,
}

/// A policy or profile applied to the order, with its `let` cache.
pub(super) struct Applied {
    pub(super) index: usize,
    pub(super) cache: LetCache,
}

impl<'a> Router<'a> {
    pub(super) fn env(&self, line: Option<&'a Line>, node: Option<u32>) -> Env<'a> {
        Env {
            world: self.world,
            tables: &self.engine.tables,
            order: Some(self.order),
            line,
            node,
            shipment: None,
            safety: 0,
        }
    }

    fn policy(&self, index: usize) -> (&'a PolicyPlan, &'a PolicyCode) {
        (
            &self.engine.plan.policies[index],
            &self.engine.policies[index],
        )
    }

    pub(super) fn holds(&self, env: &Env, c: &Code, applied: &mut Applied) -> bool {
        env.holds(
            c,
            &mut applied.cache,
            &self.engine.policies[applied.index].lets,
        )
    }

    pub(super) fn rule_ref(
        &self,
        policy: usize,
        origin: &Origin,
        source: &str,
        because: &Option<String>,
        keyword: &str,
    ) -> RuleRef {
        let file = self
            .engine
            .plan
            .files
            .get(origin.file as usize)
            .map_or("?", String::as_str);
        RuleRef {
            policy: self.engine.plan.policies[policy].name.clone(),
            rule: match keyword {
                "" => source.to_string(),
                keyword => format!("{keyword} {source}"),
            },
            because: because.clone(),
            at: format!("{file}:{}:{}", origin.line, origin.column),
        }
    }

    /// When `node` would ship the order and, with the transit of `policy`, deliver it.
    pub(super) fn dates(&self, node: u32, policy: usize) -> Dates {
        let times = self
            .world
            .ship_times(node)
            .filter(|_| !self.order.is_return);
        let Some(times) = times else {
            return Dates::default();
        };
        let code = &self.engine.policies[policy];
        let deliver_day = code.transit.as_ref().map(|transit| {
            let mut cache = LetCache::new(code.lets.len());
            let minutes = self
                .env(None, Some(node))
                .number(transit, &mut cache, &code.lets);
            times.ship_day + whole_days(minutes) as i32
        });
        Dates {
            ship_by: Some(iso_date(times.ship_day)),
            deliver_by: deliver_day.map(iso_date),
        }
    }

    /// An `error` decision when the policy or profile `index` reads a field the order
    /// lacks: in its `applies when` alone, or anywhere.
    fn lacking(&self, index: usize, applies_only: bool) -> Option<Decision> {
        let code = &self.engine.policies[index];
        let needs = if applies_only {
            code.applies_needs
        } else {
            code.needs
        };
        let field = needs.missing(self.order)?;
        let plan = &self.engine.plan.policies[index];
        let what = match plan.kind {
            allot_plan::PolicyKind::Policy => "policy",
            allot_plan::PolicyKind::Compliance => "compliance profile",
        };
        Some(Decision::lacking(&self.order.id, field, what, &plan.name))
    }

    /// Records, when explaining, that the rule written at `origin` had an effect.
    pub(super) fn exercise(&mut self, origin: Origin) {
        if self.explain {
            self.exercised.push(origin);
        }
    }

    /// The rules that had an effect, each once, in source order.
    pub(super) fn take_exercised(&mut self) -> Vec<Origin> {
        let mut exercised = std::mem::take(&mut self.exercised);
        exercised.sort_unstable();
        exercised.dedup();
        exercised
    }

    /// The policy or profile `index` with a fresh `let` cache, if it applies to the order.
    fn applied(&mut self, index: usize, order_env: &Env) -> Option<Applied> {
        let mut applied = Applied {
            index,
            cache: LetCache::new(self.engine.policies[index].lets.len()),
        };
        let applies = match &self.engine.policies[index].applies {
            None => true,
            Some(c) => self.holds(order_env, c, &mut applied),
        };
        if applies {
            self.exercise(self.engine.plan.policies[index].origin);
        }
        applies.then_some(applied)
    }

    pub(super) fn route(mut self) -> (Decision, Commit) {
        let order_env = self.env(None, None);
        let id = Some(self.order.id.to_string());
        // Selection: the highest-priority applicable policy; every applicable profile.
        let engine = self.engine;
        let domain = match self.order.is_return {
            true => Domain::Returns,
            false => Domain::Orders,
        };
        let of_domain = |index: &&usize| engine.plan.policies[**index].domain == domain;
        let mut policy = None;
        for &index in engine.selection.iter().filter(of_domain) {
            if let Some(error) = self.lacking(index, true) {
                return (error, Commit::default());
            }
            policy = self.applied(index, &order_env);
            if policy.is_some() {
                break;
            }
        }
        let Some(policy) = policy else {
            let mut decision = self.outcome(id, None, Vec::new(), Status::Rejected);
            decision.reason = Some("no policy applies".into());
            return (decision, Commit::default());
        };
        let mut layers = vec![policy];
        let routing = layers[0].index as u32;
        for &index in engine.profiles.iter().filter(of_domain) {
            // A profile compiled for another policy's transit.
            if (engine.plan.policies[index].for_policy).is_some_and(|p| p != routing) {
                continue;
            }
            if let Some(error) = self.lacking(index, true) {
                return (error, Commit::default());
            }
            layers.extend(self.applied(index, &order_env));
        }
        if let Some(error) = layers.iter().find_map(|l| self.lacking(l.index, false)) {
            return (error, Commit::default());
        }
        let policy_name = self.engine.plan.policies[layers[0].index].name.clone();
        let profile_names: Vec<String> = layers[1..]
            .iter()
            .map(|l| self.engine.plan.policies[l.index].name.clone())
            .collect();

        // Order-level outcomes, before routing: rejections, then holds.
        for (status, keyword) in [
            (Status::Rejected, "reject when"),
            (Status::Held, "hold when"),
        ] {
            for layer in layers.iter_mut() {
                let (plan, compiled) = self.policy(layer.index);
                let (rules, codes) = match status {
                    Status::Rejected => (&plan.rejects, &compiled.rejects),
                    _ => (&plan.holds, &compiled.holds),
                };
                for (rule, c) in rules.iter().zip(codes) {
                    if self.holds(&order_env, c, layer) {
                        self.exercise(rule.origin);
                        let reference = self.rule_ref(
                            layer.index,
                            &rule.origin,
                            &rule.condition.source,
                            &rule.because,
                            keyword,
                        );
                        let mut decision =
                            self.outcome(id, Some(policy_name), profile_names, status);
                        decision.reason = Some(
                            rule.because
                                .clone()
                                .unwrap_or_else(|| reference.rule.clone()),
                        );
                        if self.explain {
                            decision.trace = Some(Trace {
                                order_rule: Some(reference),
                                stage: None,
                                lines: Vec::new(),
                                chosen: None,
                                alternative: None,
                                shipment_costs: Vec::new(),
                                search_complete: true,
                                exercised: self.take_exercised(),
                            });
                        }
                        return (decision, Commit::default());
                    }
                }
            }
        }
        if self.order.is_return {
            return self.place_return(id, policy_name, profile_names, layers);
        }
        self.place(id, policy_name, profile_names, layers)
    }

    /// A return: each line the shopper keeps (`refund without return when`) or that is
    /// disposed of (`dispose when`) is decided by the first such rule that holds, the
    /// policy's first, keeping before disposing; the other lines go to the nodes that
    /// receive them, as an order's lines go to the nodes that ship them.
    fn place_return(
        mut self,
        id: Option<String>,
        policy_name: String,
        profiles: Vec<String>,
        mut layers: Vec<Applied>,
    ) -> (Decision, Commit) {
        let order = self.order;
        let mut decided: Vec<Option<Unfilled>> = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            let env = self.env(Some(line), None);
            let mut outcome = None;
            'rules: for (action, keyword) in [
                (UnfilledAction::Keep, "refund without return when"),
                (UnfilledAction::Dispose, "dispose when"),
            ] {
                for layer in layers.iter_mut() {
                    let lets = &self.engine.policies[layer.index].lets;
                    layer.cache.forget(lets, |level| level >= Level::Line);
                    let (plan, compiled) = self.policy(layer.index);
                    let (rules, codes) = match action {
                        UnfilledAction::Keep => (&plan.keeps, &compiled.keeps),
                        _ => (&plan.disposes, &compiled.disposes),
                    };
                    for (rule, c) in rules.iter().zip(codes) {
                        if self.holds(&env, c, layer) {
                            self.exercise(rule.origin);
                            let reason = rule.because.clone().unwrap_or_else(|| {
                                let source = &rule.condition.source;
                                self.rule_ref(layer.index, &rule.origin, source, &None, keyword)
                                    .rule
                            });
                            outcome = Some(Unfilled {
                                line: line.id.to_string(),
                                sku: line.sku.to_string(),
                                qty: line.qty,
                                action,
                                reason,
                            });
                            break 'rules;
                        }
                    }
                }
            }
            decided.push(outcome);
        }
        if decided.iter().all(Option::is_none) {
            return self.place(id, policy_name, profiles, layers);
        }
        // The lines that go somewhere are routed as a return of their own.
        let received = Order {
            lines: (order.lines.iter().zip(&decided))
                .filter(|(_, d)| d.is_none())
                .map(|(l, _)| l.clone())
                .collect(),
            ..order.clone()
        };
        let outcomes: Vec<Unfilled> = decided.into_iter().flatten().collect();
        let (mut decision, commit) = if received.lines.is_empty() {
            let mut decision = self.outcome(id, Some(policy_name), profiles, Status::Routed);
            if self.explain {
                decision.trace = Some(Trace {
                    order_rule: None,
                    stage: None,
                    lines: Vec::new(),
                    chosen: None,
                    alternative: None,
                    shipment_costs: Vec::new(),
                    search_complete: true,
                    exercised: self.take_exercised(),
                });
            }
            (decision, Commit::default())
        } else {
            let router = Router {
                engine: self.engine,
                world: self.world,
                order: &received,
                explain: self.explain,
                exact_lines: self.exact_lines,
                exercised: std::mem::take(&mut self.exercised),
            };
            router.place(id, policy_name, profiles, layers)
        };
        decision
            .unfilled
            .get_or_insert_with(Vec::new)
            .extend(outcomes);
        (decision, commit)
    }

    pub(super) fn outcome(
        &self,
        id: Option<String>,
        policy: Option<String>,
        profiles: Vec<String>,
        status: Status,
    ) -> Decision {
        Decision {
            order: id,
            is_return: self.order.is_return,
            policy,
            profiles: Some(profiles),
            status,
            reason: None,
            message: None,
            shipments: Some(Vec::new()),
            unfilled: Some(Vec::new()),
            cost: Some(0.0),
            search_cut: false,
            trace: None,
        }
    }
}

/// The settings of the layers together: the policy, tightened by every profile.
pub(super) struct Settings {
    pub(super) ship_complete: bool,
    pub(super) no_line_split: bool,
    pub(super) max_shipments: Option<u32>,
    pub(super) shortage: Option<ShortagePlan>,
    pub(super) criteria: Vec<Criterion>,
}

impl Settings {
    pub(super) fn new(engine: &Engine, layers: &[Applied]) -> Settings {
        let plans: Vec<&PolicyPlan> = layers
            .iter()
            .map(|l| &engine.plan.policies[l.index])
            .collect();
        let main = layers[0].index;
        Settings {
            ship_complete: plans.iter().any(|p| p.ship_complete),
            no_line_split: plans.iter().any(|p| p.no_line_split),
            max_shipments: plans.iter().filter_map(|p| p.max_shipments).min(),
            shortage: plans
                .iter()
                .filter_map(|p| p.shortage.as_ref())
                .max_by_key(|s| s.action)
                .cloned(),
            criteria: (plans[0].objective.iter().enumerate())
                .map(|(index, c)| match &c.measure {
                    Measure::Shipments => Criterion::Shipments,
                    Measure::Cost => Criterion::Cost,
                    Measure::Max(_) | Measure::Sum(_) => Criterion::Aggregate {
                        index,
                        sum: matches!(c.measure, Measure::Sum(_)),
                        maximize: c.direction == allot_plan::Direction::Maximize,
                        per_node: engine.policies[main].aggregates[index]
                            .as_ref()
                            .is_none_or(|code| code.level != Level::Shipment),
                    },
                })
                .collect(),
        }
    }
}
