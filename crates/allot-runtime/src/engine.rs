//! Routing: a compiled plan, a network snapshot, and the batch state that orders
//! consume as they are routed.

use crate::decision::*;
use crate::eval::{
    Code, Columns, Env, LetCache, Lowering, ShipToDistances, ShipmentTotals, Spare, TableCode,
    World,
};
use crate::network::{Network, Node, Schema};
use crate::node_set::NodeSet;
use crate::order::{Line, Order};
use crate::search::{self, Candidate, Criterion, LineProblem, Problem, Scored, Shipments, Totals};
use crate::value::{EARTH_RADIUS_KM, Radius};
use allot_plan::{
    CostBasis, CostPlan, Level, Measure, Origin, Plan, PolicyKind, PolicyPlan, Program,
    ShortageAction, ShortagePlan,
};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

struct PolicyCode {
    applies: Option<Code>,
    lets: Vec<Code>,
    excludes: Vec<Code>,
    /// Distance guards of exclusions: (radius, inclusive, node condition).
    guards: Vec<(Radius, bool, Option<Code>)>,
    /// For the first guard: who stocks each SKU, split for a latitude window.
    near: Option<NearIndex>,
    rejects: Vec<Code>,
    holds: Vec<Code>,
    safety: Vec<(Code, Option<Code>)>,
    costs: Vec<(Code, Option<Code>)>,
    stages: Vec<Option<Code>>,
    /// Per objective criterion: the `max(E)` / `sum(E)` program.
    aggregates: Vec<Option<Code>>,
    /// Whether no per-shipment cost can fall as lines are added to a shipment (see
    /// [`Problem::costs_rise`]).
    shipment_costs_rise: bool,
}

/// Routes orders one after another, as a live system would: each order sees the stock
/// and capacity the earlier ones left.
pub struct Engine {
    plan: Plan,
    network: Network,
    schema: Schema,
    tables: Vec<TableCode>,
    policies: Vec<PolicyCode>,
    /// Orders taken per node (loaded load + shipments routed in this batch).
    load: Vec<f64>,
    /// Per node: its load over its capacity (0 without one), kept with `load`: rules read
    /// it node after node, without the node's record.
    utilization: Vec<f64>,
    /// Units free, parallel to `network.stock`: on hand, less reserved, less what this
    /// batch has taken (kept apart from the stock list, the one part that changes).
    free: Vec<Vec<i64>>,
    /// Each node's position in the sorted list of ids.
    rank: Vec<u32>,
    /// Policies in selection order: priority (highest first), then name.
    selection: Vec<usize>,
    /// Compliance profiles, by name.
    profiles: Vec<usize>,
    /// Each node's place on the unit sphere, for cheap distance guards.
    unit_vectors: Vec<[f64; 3]>,
    /// Per item: whether a digital node stocks it (a delivery that opens no shipment).
    digital_stock: Vec<bool>,
    /// Per node: whether it is digital, read without the node's record.
    digital: Vec<bool>,
    /// Per node: its distance to the ship-to of the order being routed.
    distances: ShipToDistances,
    /// Columns kept from one order to the next: evaluating allocates only while they grow.
    spare: Cell<Spare>,
}

impl Engine {
    pub fn new(plan: Plan, network: Network) -> Engine {
        let schema = Schema::new(&plan);
        let load: Vec<f64> = network.nodes.iter().map(|n| n.load).collect();
        let utilization: Vec<f64> = (network.nodes.iter().zip(&load))
            .map(|(node, &load)| utilization(node, load))
            .collect();
        let free: Vec<Vec<i64>> = network
            .stock
            .iter()
            .map(|list| list.iter().map(|s| s.on_hand - s.reserved).collect())
            .collect();
        let unit_vectors: Vec<[f64; 3]> =
            network.nodes.iter().map(|n| n.geo.unit_vector()).collect();
        let digital: Vec<bool> = network.nodes.iter().map(|n| n.is_digital()).collect();
        let digital_stock = (network.stock.iter())
            .map(|list| list.iter().any(|s| digital[s.node as usize]))
            .collect();
        let distances = ShipToDistances::new(network.nodes.len());
        let world = World::new(
            &network,
            &schema,
            (&load, &utilization),
            &free,
            &unit_vectors,
            ([0.0; 3], &distances),
        );
        let table_params: Vec<usize> = plan.tables.iter().map(|t| t.params as usize).collect();
        let tables: Vec<TableCode> = {
            // Tables may call tables: none is evaluated at load while they are lowered.
            let lowering = Lowering::new(&world, &[], &table_params);
            plan.tables
                .iter()
                .map(|t| {
                    TableCode::new(
                        t.rows
                            .iter()
                            .map(|(c, v)| {
                                (c.as_ref().map(|c| lowering.lower(c)), lowering.lower(v))
                            })
                            .collect(),
                    )
                })
                .collect()
        };
        let mut ids: Vec<(&str, usize)> = network
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (&*n.id, i))
            .collect();
        ids.sort();
        let mut rank = vec![0u32; ids.len()];
        for (r, (_, i)) in ids.iter().enumerate() {
            rank[*i] = r as u32;
        }
        let policies = plan
            .policies
            .iter()
            .map(|p| compile_policy(p, Lowering::new(&world, &tables, &table_params)))
            .collect();
        let mut selection: Vec<usize> = (0..plan.policies.len())
            .filter(|&i| plan.policies[i].kind == PolicyKind::Policy)
            .collect();
        selection.sort_by(|&a, &b| {
            let (a, b) = (&plan.policies[a], &plan.policies[b]);
            b.priority.cmp(&a.priority).then(a.name.cmp(&b.name))
        });
        let mut profiles: Vec<usize> = (0..plan.policies.len())
            .filter(|&i| plan.policies[i].kind == PolicyKind::Compliance)
            .collect();
        profiles.sort_by(|&a, &b| plan.policies[a].name.cmp(&plan.policies[b].name));
        Engine {
            unit_vectors,
            digital_stock,
            digital,
            distances,
            spare: Cell::default(),
            plan,
            network,
            schema,
            tables,
            policies,
            load,
            utilization,
            free,
            rank,
            selection,
            profiles,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Units of `item` free at `node` in the engine's view: on hand, less reserved,
    /// less what routed orders took. `None` when the node does not stock it.
    pub fn free(&self, item: u32, node: u32) -> Option<i64> {
        let position = self.network.stock_position(item, node)?;
        Some(self.free[item as usize][position])
    }

    /// Sets the units of `item` free at `node`, as a store of record reports them (on
    /// hand less reserved). Returns false, changing nothing, when the node does not
    /// stock the item: stocking a new (node, item) pair needs a new engine.
    pub fn set_free(&mut self, item: u32, node: u32, units: i64) -> bool {
        match self.network.stock_position(item, node) {
            Some(position) => {
                self.free[item as usize][position] = units;
                true
            }
            None => false,
        }
    }

    /// The orders `node` has taken: its loaded load plus the shipments routed since.
    pub fn load(&self, node: u32) -> f64 {
        self.load[node as usize]
    }

    /// Sets the orders `node` has taken, as a store of record reports them.
    pub fn set_load(&mut self, node: u32, load: f64) {
        self.load[node as usize] = load;
        self.utilization[node as usize] = utilization(&self.network.nodes[node as usize], load);
    }

    /// Routes one order and commits what it takes.
    pub fn route(&mut self, order: &Order, explain: bool) -> Decision {
        let (decision, commit) = self.decide(order, explain, search::EXACT_LINES);
        for (item, node, units) in commit.units {
            if let Some(i) = self.network.stock_position(item, node) {
                self.free[item as usize][i] -= units;
            }
        }
        for node in commit.shipments {
            self.set_load(node, self.load[node as usize] + 1.0);
        }
        decision
    }

    /// The decision for an order without taking anything, searching every candidate
    /// whatever the order's size: the yardstick for the heuristic of large orders.
    pub fn decide_exactly(&self, order: &Order) -> Decision {
        self.decide(order, false, usize::MAX).0
    }

    /// Decides; orders of more than `exact_lines` lines use the heuristic.
    fn decide(&self, order: &Order, explain: bool, exact_lines: usize) -> (Decision, Commit) {
        let world = World::new(
            &self.network,
            &self.schema,
            (&self.load, &self.utilization),
            &self.free,
            &self.unit_vectors,
            (order.ship_to.unit_vector(), &self.distances),
        );
        Router {
            engine: self,
            world: &world,
            order,
            explain,
            exact_lines,
            exercised: Vec::new(),
        }
        .route()
    }

    /// Reads and routes a JSON order; a malformed one gives an `error` decision.
    pub fn route_json(&mut self, value: &serde_json::Value, explain: bool) -> Decision {
        match Order::from_value(value, &self.plan, &self.network) {
            Ok(order) => self.route(&order, explain),
            Err(error) => {
                let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
                Decision::error(id, error.to_string())
            }
        }
    }
}

/// A node's `utilization` at a load.
fn utilization(node: &Node, load: f64) -> f64 {
    match node.capacity {
        Some(capacity) => load / capacity,
        None => 0.0,
    }
}

fn compile_policy(p: &PolicyPlan, mut lowering: Lowering) -> PolicyCode {
    lowering.lower_lets(&p.lets.iter().map(|l| &l.value).collect::<Vec<_>>());
    let lower = |program: &Program| lowering.lower(program);
    let guards: Vec<(Radius, bool, Option<Code>)> = p
        .excludes
        .iter()
        .filter_map(|r| r.guard.as_ref())
        .map(|g| {
            let condition = g.node_condition.as_ref().map(lower);
            (Radius::new(g.km), g.inclusive, condition)
        })
        .collect();
    let near = guards
        .first()
        .filter(|(_, _, condition)| condition.as_ref().is_none_or(|c| c.level == Level::Node))
        .map(|(radius, _, condition)| {
            NearIndex::new(*radius, condition.as_ref(), lowering.world.network)
        });
    let costs: Vec<(Code, Option<Code>)> = p
        .costs
        .iter()
        .map(|c| (lower(&c.value), c.condition.as_ref().map(lower)))
        .collect();
    let shipment_costs_rise = p
        .costs
        .iter()
        .zip(&costs)
        .all(|(cost, (amount, condition))| {
            cost.basis != CostBasis::Shipment
                || (amount.never_falls(&lowering)
                    && (condition.as_ref()).is_none_or(|c| c.ignores_shipment(&lowering)))
        });
    PolicyCode {
        applies: p.applies.as_ref().map(lower),
        excludes: p.excludes.iter().map(|r| lower(&r.condition)).collect(),
        guards,
        near,
        rejects: p.rejects.iter().map(|r| lower(&r.condition)).collect(),
        holds: p.holds.iter().map(|r| lower(&r.condition)).collect(),
        safety: p
            .safety_stock
            .iter()
            .map(|s| (lower(&s.amount), s.condition.as_ref().map(lower)))
            .collect(),
        stages: p
            .stages
            .iter()
            .map(|s| s.condition.as_ref().map(lower))
            .collect(),
        aggregates: p
            .objective
            .iter()
            .map(|c| match &c.measure {
                Measure::Max(e) | Measure::Sum(e) => Some(lower(e)),
                _ => None,
            })
            .collect(),
        shipment_costs_rise,
        costs,
        lets: lowering.lets,
    }
}

/// Per SKU, the stocking nodes a distance guard's node condition holds for, by
/// latitude, and the others: nodes the guard certainly excludes (outside the latitude
/// band of its distance, or beyond it on the chord) are never visited.
struct NearIndex {
    radius: Radius,
    /// Per node: whether the guard's node condition holds there.
    applies_at: Vec<bool>,
    /// Per SKU: (latitude, node, position in the SKU's stock list).
    guarded: Vec<Vec<(f64, u32, u32)>>,
    /// Per SKU: (node, position in the SKU's stock list).
    others: Vec<Vec<(u32, u32)>>,
}

impl NearIndex {
    fn new(radius: Radius, condition: Option<&Code>, network: &Network) -> NearIndex {
        let applies_at: Vec<bool> = (0..network.nodes.len() as u32)
            .map(|node| condition.is_none_or(|c| c.holds_at(node)))
            .collect();
        let mut guarded = Vec::with_capacity(network.stock.len());
        let mut others = Vec::with_capacity(network.stock.len());
        for list in &network.stock {
            let (near, rest): (Vec<_>, Vec<_>) = list
                .iter()
                .enumerate()
                .map(|(at, s)| (s.node, at as u32))
                .partition(|&(n, _)| applies_at[n as usize]);
            let mut near: Vec<(f64, u32, u32)> = near
                .into_iter()
                .map(|(n, at)| (network.nodes[n as usize].geo.lat, n, at))
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            guarded.push(near);
            others.push(rest);
        }
        NearIndex {
            radius,
            applies_at,
            guarded,
            others,
        }
    }

    /// Whether `node` may be within the guard's distance of the ship-to (at `ship_to` on
    /// the unit sphere), as [`NearIndex::candidates`] tells; `unit_vectors` are the nodes'.
    fn may_reach(&self, node: u32, ship_to: &[f64; 3], unit_vectors: &[[f64; 3]]) -> bool {
        !self.applies_at[node as usize]
            || !(self.radius).clearly_beyond(&unit_vectors[node as usize], ship_to)
    }

    /// The nodes stocking `item` that can be within `km` of the ship-to (at latitude
    /// `lat`, at `ship_to` on the unit sphere), with their positions in the item's stock
    /// list; `unit_vectors` are the nodes'.
    fn candidates<'s>(
        &'s self,
        item: u32,
        lat: f64,
        ship_to: &'s [f64; 3],
        unit_vectors: &'s [[f64; 3]],
    ) -> impl Iterator<Item = (u32, u32)> + 's {
        // A great circle is at least as long as its latitude span.
        let reach = ((self.radius.km + 1e-6) / EARTH_RADIUS_KM).to_degrees();
        let list = &self.guarded[item as usize];
        let from = list.partition_point(|&(l, ..)| l < lat - reach);
        let to = list.partition_point(|&(l, ..)| l <= lat + reach);
        let near = list[from..to].iter().map(|&(_, n, at)| (n, at));
        self.others[item as usize]
            .iter()
            .copied()
            .chain(near.filter(move |&(n, _)| {
                !self
                    .radius
                    .clearly_beyond(&unit_vectors[n as usize], ship_to)
            }))
    }
}

/// What a routed order takes: units per (item, node), and the nodes that ship.
#[derive(Default)]
struct Commit {
    units: Vec<(u32, u32, i64)>,
    shipments: Vec<u32>,
}

struct Router<'a> {
    engine: &'a Engine,
    world: &'a World<'a>,
    order: &'a Order,
    explain: bool,
    /// Past this many lines, each line keeps only its cheapest candidates.
    exact_lines: usize,
    /// When explaining: where the rules that had an effect on the decision are written.
    exercised: Vec<Origin>,
}

/// A program with what the order (and line) fix computed, or the program itself.
fn fixed<'a>(env: &Env, code: &'a Code, cache: &mut LetCache, lets: &[Code]) -> Cow<'a, Code> {
    env.fix(code, cache, lets)
        .map_or(Cow::Borrowed(code), Cow::Owned)
}

/// A rule's index, its amount and the condition under which it applies, fixed.
type FixedAmount<'a> = (usize, Cow<'a, Code>, Option<Cow<'a, Code>>);

/// Fixes `amounts` (index, amount, condition): those whose condition cannot hold are left
/// out, and conditions that always hold dropped.
fn fixed_amounts<'a>(
    amounts: impl Iterator<Item = (usize, &'a Code, Option<&'a Code>)>,
    fix: &mut impl FnMut(&'a Code) -> Cow<'a, Code>,
) -> Vec<FixedAmount<'a>> {
    let mut fixed = Vec::new();
    for (index, amount, condition) in amounts {
        let condition = condition.map(&mut *fix);
        if condition.as_ref().is_some_and(|c| c.never_holds()) {
            continue;
        }
        let condition = condition.filter(|c| !c.always_holds());
        fixed.push((index, fix(amount), condition));
    }
    fixed
}

/// A policy or profile applied to the order, with its `let` cache.
struct Applied {
    index: usize,
    cache: LetCache,
}

impl<'a> Router<'a> {
    fn env(&self, line: Option<&'a Line>, node: Option<u32>) -> Env<'a> {
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

    fn holds(&self, env: &Env, c: &Code, applied: &mut Applied) -> bool {
        env.holds(
            c,
            &mut applied.cache,
            &self.engine.policies[applied.index].lets,
        )
    }

    fn rule_ref(
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
            rule: format!("{keyword} {source}"),
            because: because.clone(),
            at: format!("{file}:{}:{}", origin.line, origin.column),
        }
    }

    /// Records, when explaining, that the rule written at `origin` had an effect.
    fn exercise(&mut self, origin: Origin) {
        if self.explain {
            self.exercised.push(origin);
        }
    }

    /// The rules that had an effect, each once, in source order.
    fn take_exercised(&mut self) -> Vec<Origin> {
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

    fn route(mut self) -> (Decision, Commit) {
        let order_env = self.env(None, None);
        let id = Some(self.order.id.to_string());
        // Selection: the highest-priority applicable policy; every applicable profile.
        let engine = self.engine;
        let Some(policy) = engine
            .selection
            .iter()
            .find_map(|&index| self.applied(index, &order_env))
        else {
            let mut decision = self.outcome(id, None, Vec::new(), Status::Rejected);
            decision.reason = Some("no policy applies".into());
            return (decision, Commit::default());
        };
        let mut layers = vec![policy];
        layers.extend(
            engine
                .profiles
                .iter()
                .filter_map(|&index| self.applied(index, &order_env)),
        );
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
        self.place(id, policy_name, profile_names, layers)
    }

    fn outcome(
        &self,
        id: Option<String>,
        policy: Option<String>,
        profiles: Vec<String>,
        status: Status,
    ) -> Decision {
        Decision {
            order: id,
            policy,
            profiles: Some(profiles),
            status,
            reason: None,
            message: None,
            shipments: Some(Vec::new()),
            unfilled: Some(Vec::new()),
            cost: Some(0.0),
            trace: None,
        }
    }

    /// The index of nearby stock of the first layer with one, unless explaining.
    fn near_index(&self, layers: &[Applied]) -> Option<&'a NearIndex> {
        let engine = self.engine;
        layers
            .iter()
            .find_map(|l| engine.policies[l.index].near.as_ref())
            .filter(|_| !self.explain)
    }

    /// Every (node, line) pair that may give a candidate, grouped by node: the nodes that
    /// stock each line's item, less the far ones a distance guard excludes when there is
    /// no explanation to give.
    fn pairs(&self, layers: &[Applied]) -> Vec<Pair> {
        let order = self.order;
        let network = self.world.network;
        let mut pairs: Vec<Pair> = Vec::new();
        for (l, line) in order.lines.iter().enumerate() {
            match self.near_index(layers) {
                Some(index) => pairs.extend(
                    index
                        .candidates(
                            line.item,
                            order.ship_to.lat,
                            &self.world.ship_to,
                            &self.engine.unit_vectors,
                        )
                        .map(|(node, stock)| Pair {
                            node,
                            line: l,
                            stock,
                        }),
                ),
                None => pairs.extend(network.stock[line.item as usize].iter().enumerate().map(
                    |(at, stock)| Pair {
                        node: stock.node,
                        line: l,
                        stock: at as u32,
                    },
                )),
            }
        }
        // One line's pairs have a node each already (and candidates do not depend on their
        // order: the search ranks them itself).
        // Each node's pairs stay in line order: one integer key, node then line.
        if order.lines.len() > 1 {
            pairs.sort_unstable_by_key(|p| (u64::from(p.node) << 32) | p.line as u64);
        }
        pairs
    }

    /// Whether the `at`-th entry of the stock list of line `l`'s item has free stock for
    /// the whole line.
    fn takes_whole(&self, l: usize, at: u32) -> bool {
        let line = &self.order.lines[l];
        self.world.free_stock_at(line.item, at) >= line.qty
    }

    /// The pairs of the nodes that have free stock for every line whole, node by node,
    /// each node's in line order, less the far ones a distance guard excludes (as
    /// [`Router::pairs`] leaves them out). When every line's SKU keeps its stockists as a
    /// set, the nodes are the sets' intersection; otherwise, the stockists of the line
    /// with the fewest, looked up in the other lines' stock lists (see
    /// [`Network::stock_position`]).
    fn lone_pairs(&self, layers: &[Applied]) -> Vec<Pair> {
        let lines = &self.order.lines;
        let mut pairs = Vec::new();
        // The node's pairs, when it stocks every line whole (`position`: in each line's
        // stock list).
        let mut take = |node: u32, position: &dyn Fn(usize) -> Option<usize>| {
            let start = pairs.len();
            for l in 0..lines.len() {
                match position(l) {
                    Some(at) if self.takes_whole(l, at as u32) => pairs.push(Pair {
                        node,
                        line: l,
                        stock: at as u32,
                    }),
                    _ => return pairs.truncate(start),
                }
            }
        };
        let network = self.world.network;
        let near = self.near_index(layers);
        let (ship_to, unit_vectors) = (&self.world.ship_to, &self.engine.unit_vectors[..]);
        // Long stock lists are kept as sets too: the nodes that stock every line are
        // their intersection, a word at a time.
        let sets: Option<Vec<_>> = lines.iter().map(|l| network.stockists(l.item)).collect();
        if let Some(sets) = sets {
            NodeSet::each_common(&sets, |node| {
                if near.is_none_or(|index| index.may_reach(node, ship_to, unit_vectors)) {
                    take(node, &|l| Some(sets[l].rank(node)));
                }
            });
            return pairs;
        }
        let list = |l: usize| &network.stock[lines[l].item as usize];
        let Some(shortest) = (0..lines.len()).min_by_key(|&l| list(l).len()) else {
            return pairs;
        };
        let item = lines[shortest].item;
        let everywhere = || (list(shortest).iter().enumerate()).map(|(at, s)| (s.node, at as u32));
        let driver: Box<dyn Iterator<Item = (u32, u32)>> = match near {
            Some(index) => {
                Box::new(index.candidates(item, self.order.ship_to.lat, ship_to, unit_vectors))
            }
            None => Box::new(everywhere()),
        };
        for (node, driver_at) in driver {
            take(node, &|l| match l == shortest {
                true => Some(driver_at as usize),
                false => network.stock_position(lines[l].item, node),
            });
        }
        pairs
    }

    /// Whether the best plan is known to ship from one node when one node can take the
    /// whole order: the objective puts fewer shipments first, a shipment is allowed, no
    /// line's item is stocked where delivery opens no shipment (digital nodes), the search
    /// is exact, and stages do not restrict the nodes. Not when explaining: the trace
    /// lists every node.
    fn one_node_first(&self, layers: &[Applied], settings: &Settings) -> bool {
        let main = &self.engine.plan.policies[layers[0].index];
        !self.explain
            && self.order.lines.len() <= self.exact_lines
            && main.stages.is_empty()
            && settings.criteria.first() == Some(&Criterion::Shipments)
            && main.objective[0].direction == allot_plan::Direction::Minimize
            && settings.max_shipments.is_none_or(|m| m >= 1)
            && (self.order.lines.iter()).all(|l| !self.engine.digital_stock[l.item as usize])
    }

    /// Evaluates the (node, line) pairs, grouped by node: each gives a candidate of its
    /// line, or, when explaining, the reason it does not. Every program runs over all the
    /// nodes it concerns at once (see [`Columns`]): the exclusions that do not read the
    /// line and the stages once for all the nodes, the rest once per line. A program may
    /// run at a node whose pair an earlier rule already decided: programs have no effects,
    /// and only what decides a pair is kept.
    fn gather(&mut self, layers: &[Applied], pairs: &[Pair], gathered: &mut Gathered) {
        let order = self.order;
        let engine = self.engine;
        let network = self.world.network;
        let lets = |layer: &Applied| &engine.policies[layer.index].lets[..];
        let groups = || pairs.chunk_by(|a, b| a.node == b.node);
        let nodes: Vec<u32> = groups().map(|group| group[0].node).collect();
        // Far nodes a distance guard excludes need nothing else (traces list every rule, so
        // an explanation takes the long way).
        let mut spare = engine.spare.take();
        let kept = self.within_guards(layers, &nodes, &mut spare);
        // Per line: its pairs at the nodes kept, in the order of `pairs`.
        let mut by_line: Vec<Vec<PairState>> = (order.lines.iter())
            .map(|_| Vec::with_capacity(nodes.len()))
            .collect();
        for (at, group) in groups().enumerate().filter(|&(at, _)| kept[at]) {
            for pair in group {
                let line = &order.lines[pair.line];
                by_line[pair.line].push(PairState {
                    at,
                    free: self.world.free_stock_at(line.item, pair.stock),
                    excluded: None,
                });
            }
        }
        let stages = self.stages_at(layers, &nodes, &mut spare);
        let stage_count = engine.policies[layers[0].index].stages.len();
        let line_free = self.line_free_exclusions(layers, &nodes, &mut spare);
        let mut column = spare.truths();
        for (l, line) in order.lines.iter().enumerate() {
            let env = self.env(Some(line), None);
            let states = &mut by_line[l];
            let line_nodes: Vec<u32> = states.iter().map(|s| nodes[s.at]).collect();
            // The first rule that excludes each pair, in the order the rules are written.
            for state in states.iter_mut() {
                state.excluded = line_free[state.at];
            }
            for (position, layer) in layers.iter().enumerate() {
                for (rule, code) in engine.policies[layer.index].excludes.iter().enumerate() {
                    if !matches!(code.level, Level::Line | Level::LineNode)
                        || env.holds_nowhere(code, lets(layer))
                    {
                        continue;
                    }
                    let mut at = Columns::new(&line_nodes, None, lets(layer), &mut spare);
                    env.truths(code, &mut at, &mut column);
                    for (state, &holds) in states.iter_mut().zip(&column) {
                        if holds && state.excluded.is_none_or(|first| (position, rule) < first) {
                            state.excluded = Some((position, rule));
                        }
                    }
                }
            }
            let candidate: Vec<bool> = (states.iter())
                .map(|s| s.free > 0 && s.excluded.is_none() && stages[s.at].is_some())
                .collect();
            let safety = self.safety_stock(layers, &env, (&line_nodes, &candidate), &mut spare);
            let costed: Vec<bool> = (states.iter().zip(&candidate).zip(&safety))
                .map(|((s, &candidate), &safety)| candidate && s.free - safety > 0)
                .collect();
            let mut costs =
                self.line_costs(layers, &env, (&line_nodes, &safety, &costed), &mut spare);

            gathered.candidates[l].reserve(states.len());
            // In the order of the pairs: traces when explaining, and the candidates.
            for (k, state) in states.iter().enumerate() {
                let node = nodes[state.at];
                let name = || network.nodes[node as usize].id.to_string();
                let traces = &mut gathered.traces[l];
                let available = (state.free - safety[k]).max(0);
                if state.free <= 0 || (candidate[k] && available == 0) {
                    if self.explain {
                        traces.push(CandidateTrace::NoStock {
                            node: name(),
                            available: 0,
                            safety_stock: if state.free <= 0 { 0 } else { safety[k] },
                        });
                    }
                    continue;
                }
                if let Some((position, rule)) = state.excluded {
                    if self.explain {
                        let policy = layers[position].index;
                        let r = &engine.plan.policies[policy].excludes[rule];
                        self.exercise(r.origin);
                        let excluded_by = self.rule_ref(
                            policy,
                            &r.origin,
                            &r.condition.source,
                            &r.because,
                            "exclude when",
                        );
                        traces.push(CandidateTrace::Excluded {
                            node: name(),
                            excluded_by,
                        });
                    }
                    continue;
                }
                let Some(stage) = stages[state.at] else {
                    if self.explain {
                        traces.push(CandidateTrace::NotStaged {
                            node: name(),
                            excluded_by: "in no stage of the policy".into(),
                        });
                    }
                    continue;
                };
                let (unit_cost, line_cost) = costs.sums[k];
                if stage_count > 0 {
                    gathered.stage_of.insert(node, stage);
                }
                if self.explain {
                    let stage_name =
                        stage.map(|s| engine.plan.policies[layers[0].index].stages[s].name.clone());
                    traces.push(CandidateTrace::Candidate {
                        node: name(),
                        available,
                        stage: stage_name,
                        costs: std::mem::take(&mut costs.terms[k]),
                    });
                }
                gathered.candidates[l].push(Candidate {
                    node,
                    available,
                    unit_cost,
                    line_cost,
                });
            }
        }
        spare.keep_truths(column);
        engine.spare.set(spare);
    }

    /// Per node: the first exclusion that does not read the line and holds there, as
    /// (layer position, rule). Such a rule is the same for every line: it runs once for
    /// all the nodes of the order.
    fn line_free_exclusions(
        &self,
        layers: &[Applied],
        nodes: &[u32],
        spare: &mut Spare,
    ) -> Vec<Option<(usize, usize)>> {
        let env = self.env(None, None);
        let mut first = vec![None; nodes.len()];
        let mut holds = spare.truths();
        for (position, layer) in layers.iter().enumerate() {
            let policy = &self.engine.policies[layer.index];
            let lets = &policy.lets;
            for (rule, code) in policy.excludes.iter().enumerate() {
                if matches!(code.level, Level::Line | Level::LineNode)
                    || env.holds_nowhere(code, lets)
                {
                    continue;
                }
                env.truths(
                    code,
                    &mut Columns::new(nodes, None, lets, spare),
                    &mut holds,
                );
                for (first, &holds) in first.iter_mut().zip(&holds) {
                    if holds && first.is_none() {
                        *first = Some((position, rule));
                    }
                }
            }
        }
        spare.keep_truths(holds);
        first
    }

    /// Per node: false when a distance guard of a layer excludes it for this order (all
    /// true when explaining, since the trace lists every rule).
    fn within_guards(&self, layers: &[Applied], nodes: &[u32], spare: &mut Spare) -> Vec<bool> {
        let mut kept = vec![true; nodes.len()];
        if self.explain {
            return kept;
        }
        let env = self.env(None, None);
        let mut applies = spare.truths();
        for layer in layers {
            let policy = &self.engine.policies[layer.index];
            for (radius, inclusive, condition) in &policy.guards {
                let mut at = Columns::new(nodes, None, &policy.lets, spare);
                env.truths_or_all(condition.as_ref(), &mut at, &mut applies);
                for ((kept, &node), applies) in kept.iter_mut().zip(nodes).zip(&applies) {
                    let beyond = || {
                        let at = &self.engine.unit_vectors[node as usize];
                        if radius.clearly_beyond(at, &self.world.ship_to) {
                            return true;
                        }
                        let d = self.world.ship_to_km(node);
                        if *inclusive {
                            d >= radius.km
                        } else {
                            d > radius.km
                        }
                    };
                    if *kept && *applies && beyond() {
                        *kept = false;
                    }
                }
            }
        }
        spare.keep_truths(applies);
        kept
    }

    /// Per node: the first stage of the policy it is in (`Some(None)` when the policy has
    /// no stages), or `None` when it is in none.
    fn stages_at(
        &self,
        layers: &[Applied],
        nodes: &[u32],
        spare: &mut Spare,
    ) -> Vec<Option<Option<usize>>> {
        let policy = &self.engine.policies[layers[0].index];
        if policy.stages.is_empty() {
            return vec![Some(None); nodes.len()];
        }
        let env = self.env(None, None);
        let mut stage_of = vec![None; nodes.len()];
        let mut member = spare.truths();
        for (i, stage) in policy.stages.iter().enumerate() {
            let mut at = Columns::new(nodes, None, &policy.lets, spare);
            env.truths_or_all(stage.as_ref(), &mut at, &mut member);
            for (stage_of, &member) in stage_of.iter_mut().zip(&member) {
                if stage_of.is_none() && member {
                    *stage_of = Some(Some(i));
                }
            }
        }
        spare.keep_truths(member);
        stage_of
    }

    /// Safety stock of the line at each node: the largest amount any layer holds back.
    /// Rules are credited only at the nodes that are `candidate`s.
    fn safety_stock(
        &mut self,
        layers: &[Applied],
        env: &Env,
        (nodes, candidate): (&[u32], &[bool]),
        spare: &mut Spare,
    ) -> Vec<i64> {
        let mut safety = vec![0i64; nodes.len()];
        let (mut applies, mut amounts) = (spare.truths(), spare.numbers());
        for layer in layers {
            let plan = &self.engine.plan.policies[layer.index];
            let lets = &self.engine.policies[layer.index].lets;
            for (index, (amount, condition)) in
                self.engine.policies[layer.index].safety.iter().enumerate()
            {
                if condition
                    .as_ref()
                    .is_some_and(|c| env.holds_nowhere(c, lets))
                {
                    continue;
                }
                let mut at = Columns::new(nodes, None, lets, spare);
                env.truths_or_all(condition.as_ref(), &mut at, &mut applies);
                env.numbers(amount, &mut at, &mut amounts);
                for ((safety, &applies), &amount) in safety.iter_mut().zip(&applies).zip(&amounts) {
                    if applies {
                        *safety = (*safety).max(amount as i64);
                    }
                }
                // Only an explanation lists the rules that had an effect.
                let credited = self.explain
                    && (applies.iter().zip(&amounts).zip(candidate)).any(
                        |((&applies, &amount), &candidate)| {
                            applies && amount as i64 > 0 && candidate
                        },
                    );
                if credited {
                    self.exercise(plan.safety_stock[index].origin);
                }
            }
        }
        spare.keep_truths(applies);
        spare.keep_numbers(amounts);
        safety
    }

    /// Per-unit and per-line costs of every layer for the line at each node, given with
    /// its safety stock: their sums, and the named terms when explaining. Rules are
    /// credited only at the nodes that are `costed`.
    fn line_costs(
        &mut self,
        layers: &[Applied],
        env: &Env,
        (nodes, safety, costed): (&[u32], &[i64], &[bool]),
        spare: &mut Spare,
    ) -> LineCosts {
        let mut costs = LineCosts {
            sums: vec![(0.0, 0.0); nodes.len()],
            terms: vec![Vec::new(); if self.explain { nodes.len() } else { 0 }],
        };
        let (mut applies, mut amounts) = (spare.truths(), spare.numbers());
        for layer in layers {
            let plan = &self.engine.plan.policies[layer.index];
            let lets = &self.engine.policies[layer.index].lets;
            for (cost, (value, condition)) in plan
                .costs
                .iter()
                .zip(&self.engine.policies[layer.index].costs)
            {
                if cost.basis == CostBasis::Shipment
                    || condition
                        .as_ref()
                        .is_some_and(|c| env.holds_nowhere(c, lets))
                {
                    continue;
                }
                let mut at = Columns::new(nodes, Some(safety), lets, spare);
                env.truths_or_all(condition.as_ref(), &mut at, &mut applies);
                env.numbers(value, &mut at, &mut amounts);
                let per_unit = cost.basis == CostBasis::Unit;
                for (((sums, &applies), &costed), &amount) in
                    (costs.sums.iter_mut().zip(&applies).zip(costed)).zip(&amounts)
                {
                    if applies && costed {
                        *(if per_unit { &mut sums.0 } else { &mut sums.1 }) += amount;
                    }
                }
                // Only an explanation lists the terms, and the rules that had an effect.
                if self.explain {
                    let mut credited = false;
                    for (k, terms) in costs.terms.iter_mut().enumerate() {
                        if applies[k] && costed[k] {
                            credited |= amounts[k] != 0.0;
                            terms.push((cost.name.clone(), round_cents(amounts[k])));
                        }
                    }
                    if credited {
                        self.exercise(cost.origin);
                    }
                }
            }
        }
        spare.keep_truths(applies);
        spare.keep_numbers(amounts);
        costs
    }

    fn problem(&self, layers: &[Applied], lines: Vec<LineProblem>, settings: &Settings) -> Problem {
        Problem {
            lines,
            max_shipments: settings.max_shipments,
            ship_complete: settings.ship_complete,
            no_line_split: settings.no_line_split,
            criteria: settings.criteria.clone(),
            consolidate_first: !self.explain,
            runner_up: self.explain,
            costs_rise: !self.explain
                && layers
                    .iter()
                    .all(|l| self.engine.policies[l.index].shipment_costs_rise),
        }
    }

    /// The best plan for the lines, and the stage it was found in: stages widen the net,
    /// and the first set of stages that fills the order wins.
    fn solve(
        &mut self,
        layers: &mut [Applied],
        lines: Vec<LineProblem>,
        stage_of: &HashMap<u32, Option<usize>>,
        settings: &Settings,
    ) -> (search::Outcome, Option<usize>) {
        let order = self.order;
        let stage_count = self.engine.policies[layers[0].index].stages.len();
        let total: i64 = order.lines.iter().map(|l| l.qty).sum();
        let mut chosen_stage = None;
        let mut outcome = None;
        // How many lines of the order each node can serve: consolidation for the heuristic.
        let mut serves: HashMap<u32, usize> = HashMap::default();
        if order.lines.len() > self.exact_lines {
            for l in &lines {
                for c in &l.candidates {
                    *serves.entry(c.node).or_insert(0) += 1;
                }
            }
        }
        for k in 0..stage_count.max(1) {
            let restricted: Vec<LineProblem> = lines
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    if stage_count > 0 {
                        l.candidates.retain(|c| {
                            stage_of
                                .get(&c.node)
                                .copied()
                                .flatten()
                                .is_some_and(|s| s <= k)
                        });
                    }
                    if order.lines.len() > self.exact_lines {
                        keep_most_promising(&mut l, &serves);
                    }
                    l
                })
                .collect();
            let problem = self.problem(layers, restricted, settings);
            // About one shipment per candidate node: no growing on the way. A single line
            // gives each node one shipment: nothing to remember.
            let candidates = problem.lines.iter().map(|l| l.candidates.len()).sum();
            let memoize = problem.lines.len() > 1;
            let mut evaluator = ShipmentEvaluator::new(self, layers, memoize, candidates);
            let result = search::solve(&problem, &mut evaluator);
            let done = result.best.placed == total;
            if stage_count > 0 {
                chosen_stage = Some(k);
            }
            outcome = Some(result);
            if done {
                break;
            }
        }
        (outcome.expect("at least one search"), chosen_stage)
    }

    fn place(
        mut self,
        id: Option<String>,
        policy_name: String,
        profiles: Vec<String>,
        mut layers: Vec<Applied>,
    ) -> (Decision, Commit) {
        let order = self.order;
        let network = self.world.network;
        let settings = Settings::new(self.engine, &layers);
        let mut gathered = Gathered::new(order.lines.len());
        let total: i64 = order.lines.iter().map(|l| l.qty).sum();

        // When one node can take the whole order and fewer shipments come first, the best
        // plan ships from one node that stocks every line: those are evaluated first, and
        // the rest only when none of them takes the order alone.
        let one_node_first = self.one_node_first(&layers, &settings);
        let mut found = None;
        if one_node_first {
            let pairs = self.lone_pairs(&layers);
            self.gather(&layers, &pairs, &mut gathered);
            let lines = line_problems(order, std::mem::take(&mut gathered.candidates));
            let problem = self.problem(&layers, lines, &settings);
            let mut evaluator = ShipmentEvaluator::new(&mut self, &mut layers, false, 0);
            found = search::solve_alone(&problem, &mut evaluator).map(|outcome| (outcome, None));
            gathered.candidates = problem.lines.into_iter().map(|l| l.candidates).collect();
        }
        let (result, chosen_stage) = match found {
            Some(found) => found,
            None => {
                // The nodes evaluated above are those whose pairs take every line whole.
                let takes_alone = |group: &[Pair]| {
                    group.len() == order.lines.len()
                        && group.iter().all(|p| self.takes_whole(p.line, p.stock))
                };
                let pairs = self.pairs(&layers);
                let rest: Vec<Pair> = (pairs.chunk_by(|a, b| a.node == b.node))
                    .filter(|g| !one_node_first || !takes_alone(g))
                    .flatten()
                    .copied()
                    .collect();
                self.gather(&layers, &rest, &mut gathered);
                let lines = line_problems(order, std::mem::take(&mut gathered.candidates));
                self.solve(&mut layers, lines, &gathered.stage_of, &settings)
            }
        };
        let line_traces: Vec<LineTrace> = if self.explain {
            order
                .lines
                .iter()
                .zip(std::mem::take(&mut gathered.traces))
                .map(|(line, candidates)| LineTrace {
                    line: line.id.to_string(),
                    sku: line.sku.to_string(),
                    candidates,
                })
                .collect()
        } else {
            Vec::new()
        };
        let Settings {
            ship_complete,
            shortage,
            ..
        } = settings;
        let main = &self.engine.plan.policies[layers[0].index];
        let best = &result.best;

        // The decision.
        let mut commit = Commit::default();
        let mut shipments = Vec::new();
        let mut by_node: BTreeMap<u32, Vec<(usize, i64)>> = BTreeMap::new();
        for (l, allocation) in best.allocation.iter().enumerate() {
            for &(node, units) in allocation.parts() {
                by_node.entry(node).or_default().push((l, units));
            }
        }
        let mut ordered: Vec<u32> = by_node.keys().copied().collect();
        ordered.sort_by_key(|&n| self.engine.rank[n as usize]);
        let mut total_cost = 0.0;
        for node in ordered {
            let cost = best.shipments.get(&node).map_or(0.0, |s| s.1);
            total_cost += cost;
            let mut shipped = Vec::new();
            for &(l, units) in &by_node[&node] {
                let line = &order.lines[l];
                shipped.push(ShippedLine {
                    line: line.id.to_string(),
                    sku: line.sku.to_string(),
                    qty: units,
                });
                commit.units.push((line.item, node, units));
            }
            if !self.engine.digital[node as usize] {
                commit.shipments.push(node);
            }
            shipments.push(Shipment {
                node: network.nodes[node as usize].id.to_string(),
                lines: shipped,
                cost: round_cents(cost),
            });
        }
        let mut decision = self.outcome(id, Some(policy_name), profiles, Status::Routed);
        if best.placed < total {
            if let Some(shortage) = &shortage {
                self.exercise(shortage.origin);
            }
            let action = shortage
                .as_ref()
                .map_or(ShortageAction::Backorder, |s| s.action);
            let reason = shortage
                .as_ref()
                .and_then(|s| s.because.clone())
                .unwrap_or_else(|| {
                    if ship_complete && best.placed == 0 {
                        "the order must ship complete and no node can take all of it".to_string()
                    } else {
                        "not enough stock at eligible nodes".to_string()
                    }
                });
            if action == ShortageAction::Reject {
                decision.status = Status::Rejected;
                decision.reason = Some(reason);
                commit = Commit::default();
                shipments.clear();
                total_cost = 0.0;
            } else {
                decision.status = Status::Partial;
                let unfilled_action = if action == ShortageAction::Cancel {
                    UnfilledAction::Cancel
                } else {
                    UnfilledAction::Backorder
                };
                let unfilled = order
                    .lines
                    .iter()
                    .zip(&best.allocation)
                    .filter_map(|(line, allocation)| {
                        let placed: i64 = allocation.parts().iter().map(|&(_, u)| u).sum();
                        (placed < line.qty).then(|| Unfilled {
                            line: line.id.to_string(),
                            sku: line.sku.to_string(),
                            qty: line.qty - placed,
                            action: unfilled_action,
                            reason: reason.clone(),
                        })
                    })
                    .collect();
                decision.unfilled = Some(unfilled);
            }
        }
        decision.shipments = Some(shipments);
        decision.cost = Some(round_cents(total_cost));
        if self.explain {
            let stage = chosen_stage.map(|k| &self.engine.plan.policies[layers[0].index].stages[k]);
            if let Some(stage) = stage {
                self.exercise(stage.origin);
            }
            let mut shipment_costs = Vec::new();
            let mut evaluator = ShipmentEvaluator::new(&mut self, &mut layers, false, 0);
            for (&node, (totals, _)) in &best.shipments {
                // Digital deliveries are not parcels: no per-shipment cost.
                if evaluator.router.engine.digital[node as usize] {
                    continue;
                }
                let mut costs = Vec::new();
                evaluator.shipment_terms(node, totals, |cost, amount| {
                    costs.push((cost, amount));
                });
                for &(cost, amount) in &costs {
                    if amount != 0.0 {
                        evaluator.router.exercise(cost.origin);
                    }
                }
                if !costs.is_empty() {
                    shipment_costs.push(ShipmentCosts {
                        node: network.nodes[node as usize].id.to_string(),
                        costs: costs
                            .iter()
                            .map(|(cost, amount)| (cost.name.clone(), round_cents(*amount)))
                            .collect(),
                    });
                }
            }
            let values = |scored: &Scored| self.plan_values(&criteria_names(main), scored);
            decision.trace = Some(Trace {
                order_rule: None,
                stage: stage.map(|s| s.name.clone()),
                lines: line_traces,
                chosen: Some(values(best)),
                alternative: result.alternative.as_ref().map(values),
                shipment_costs,
                search_complete: result.complete,
                exercised: self.take_exercised(),
            });
        }
        (decision, commit)
    }

    fn plan_values(&self, names: &[String], scored: &Scored) -> PlanValues {
        let network = self.world.network;
        let mut plan = Vec::new();
        for (l, allocation) in scored.allocation.iter().enumerate() {
            for &(node, units) in allocation.parts() {
                plan.push(format!(
                    "{}: line {} × {units}",
                    network.nodes[node as usize].id, self.order.lines[l].id
                ));
            }
        }
        PlanValues {
            plan,
            units_placed: scored.placed,
            criteria: names
                .iter()
                .cloned()
                .zip(scored.values.iter().map(|v| round_micro(*v)))
                .collect(),
        }
    }
}

/// The settings of the layers together: the policy, tightened by every profile.
struct Settings {
    ship_complete: bool,
    no_line_split: bool,
    max_shipments: Option<u32>,
    shortage: Option<ShortagePlan>,
    criteria: Vec<Criterion>,
}

impl Settings {
    fn new(engine: &Engine, layers: &[Applied]) -> Settings {
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

/// What evaluating (node, line) pairs gives: per line, its candidates and (when
/// explaining) a trace entry for every node; each candidate node's stage.
struct Gathered {
    candidates: Vec<Vec<Candidate>>,
    traces: Vec<Vec<CandidateTrace>>,
    stage_of: HashMap<u32, Option<usize>>,
}

impl Gathered {
    fn new(lines: usize) -> Gathered {
        Gathered {
            candidates: vec![Vec::new(); lines],
            traces: vec![Vec::new(); lines],
            stage_of: HashMap::default(),
        }
    }
}

/// A (node, line) pair as the line's programs decide it: the node (its index among the
/// nodes gathered), its free stock, and the first rule that excludes it (layer position,
/// rule).
#[derive(Clone, Copy)]
struct PairState {
    at: usize,
    free: i64,
    excluded: Option<(usize, usize)>,
}

/// A line's costs at each node: (per unit, per line), and the named terms when
/// explaining.
struct LineCosts {
    sums: Vec<(f64, f64)>,
    terms: Vec<Vec<(String, f64)>>,
}

/// The order's lines with their candidates, as the search takes them.
fn line_problems(order: &Order, candidates: Vec<Vec<Candidate>>) -> Vec<LineProblem> {
    order
        .lines
        .iter()
        .zip(candidates)
        .map(|(line, candidates)| LineProblem {
            qty: line.qty,
            item: line.item,
            weight: line.weight,
            price: line.price,
            candidates,
        })
        .collect()
}

fn criteria_names(policy: &PolicyPlan) -> Vec<String> {
    policy
        .objective
        .iter()
        .map(|c| {
            let direction = match c.direction {
                allot_plan::Direction::Minimize => "minimize",
                allot_plan::Direction::Maximize => "maximize",
            };
            let measure = match &c.measure {
                Measure::Shipments => "shipments".to_string(),
                Measure::Cost => "cost".to_string(),
                Measure::Max(e) => format!("max({})", e.source),
                Measure::Sum(e) => format!("sum({})", e.source),
            };
            format!("{direction} {measure}")
        })
        .collect()
}

/// For orders past the exact size: each line keeps the candidates that can take it
/// whole, then those serving the most lines of the order, then the cheapest.
fn keep_most_promising(line: &mut LineProblem, serves: &HashMap<u32, usize>) {
    let qty = line.qty;
    let key = |c: &Candidate| {
        (
            c.available < qty,
            std::cmp::Reverse(serves.get(&c.node).copied().unwrap_or(0)),
        )
    };
    line.candidates.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(
                (a.unit_cost * qty as f64 + a.line_cost)
                    .total_cmp(&(b.unit_cost * qty as f64 + b.line_cost)),
            )
            .then(a.node.cmp(&b.node))
    });
    line.candidates.truncate(search::HEURISTIC_CANDIDATES);
}

/// A node that stocks a line's item, and where in the item's stock list.
#[derive(Clone, Copy, Default)]
struct Pair {
    node: u32,
    line: usize,
    stock: u32,
}

pub(crate) fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round_micro(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Per-shipment costs and objective terms, evaluated for the search (memoized).
struct ShipmentEvaluator<'r, 'a> {
    router: &'r mut Router<'a>,
    layers: &'r mut [Applied],
    /// Per layer: its per-shipment costs as (cost, amount, condition), and the objective's
    /// aggregate terms, with what the order fixes computed once (see [`Env::fix`]).
    costs: Vec<Vec<FixedAmount<'a>>>,
    aggregates: Vec<Option<Cow<'a, Code>>>,
    memo: HashMap<(u32, usize, [u64; 4]), f64>,
    /// Whether the same node may be asked about the same totals again.
    memoize: bool,
    /// Shipment costs computed together: the totals, and (node, cost) by node.
    prepared: (Totals, Vec<(u32, f64)>),
}

impl<'r, 'a> ShipmentEvaluator<'r, 'a> {
    /// An evaluator for the order; `capacity` is about how many shipments it will cost.
    fn new(
        router: &'r mut Router<'a>,
        layers: &'r mut [Applied],
        memoize: bool,
        capacity: usize,
    ) -> ShipmentEvaluator<'r, 'a> {
        let env = router.env(None, None);
        let engine = router.engine;
        let costs = layers
            .iter()
            .map(|layer| {
                let compiled = &engine.policies[layer.index];
                let mut cache = LetCache::new(compiled.lets.len());
                let mut fix = |code| fixed(&env, code, &mut cache, &compiled.lets);
                let costs = &engine.plan.policies[layer.index].costs;
                fixed_amounts(
                    (costs.iter().zip(&compiled.costs).enumerate())
                        .filter(|(_, (cost, _))| cost.basis == CostBasis::Shipment)
                        .map(|(i, (_, (a, c)))| (i, a, c.as_ref())),
                    &mut fix,
                )
            })
            .collect();
        let main = &engine.policies[layers[0].index];
        let aggregates = main
            .aggregates
            .iter()
            .map(|code| {
                let mut cache = LetCache::new(main.lets.len());
                code.as_ref()
                    .map(|code| fixed(&env, code, &mut cache, &main.lets))
            })
            .collect();
        ShipmentEvaluator {
            router,
            layers,
            costs,
            aggregates,
            memo: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            memoize,
            prepared: (Totals::default(), Vec::new()),
        }
    }
}

impl<'a> ShipmentEvaluator<'_, 'a> {
    /// Each per-shipment cost term that applies to a shipment from `node`, with its amount.
    fn shipment_terms(
        &mut self,
        node: u32,
        totals: &Totals,
        mut each: impl FnMut(&'a CostPlan, f64),
    ) {
        let env = self.env(node, totals);
        for (layer, costs) in self.layers.iter_mut().zip(&self.costs) {
            let lets = &self.router.engine.policies[layer.index].lets;
            layer.cache.forget(lets, |level| level >= Level::Line);
            let terms = &self.router.engine.plan.policies[layer.index].costs;
            for (index, value, condition) in costs {
                let term = &terms[*index];
                let applies = condition
                    .as_ref()
                    .is_none_or(|c| env.holds(c, &mut layer.cache, lets));
                if applies {
                    let amount = env.number(value, &mut layer.cache, lets);
                    each(term, amount);
                }
            }
        }
    }

    fn key(node: u32, what: usize, totals: &Totals) -> (u32, usize, [u64; 4]) {
        (
            node,
            what,
            [
                totals.weight.to_bits(),
                totals.units.to_bits(),
                totals.lines.to_bits(),
                totals.value.to_bits(),
            ],
        )
    }

    fn env<'x>(&self, node: u32, totals: &'x ShipmentTotals) -> Env<'x>
    where
        Self: 'x,
    {
        Env {
            shipment: Some(totals),
            ..self.router.env(None, Some(node))
        }
    }
}

impl Shipments for ShipmentEvaluator<'_, '_> {
    fn prepare_shipments(&mut self, nodes: &[u32], totals: &Totals) -> Vec<f64> {
        let env = Env {
            shipment: Some(totals),
            ..self.router.env(None, None)
        };
        let mut costs = vec![0.0; nodes.len()];
        let engine = self.router.engine;
        let mut spare = engine.spare.take();
        let (mut applies, mut amounts) = (spare.truths(), spare.numbers());
        for (layer, layer_costs) in self.layers.iter().zip(&self.costs) {
            let lets = &self.router.engine.policies[layer.index].lets;
            for (_, value, condition) in layer_costs {
                let mut at = Columns::new(nodes, None, lets, &mut spare);
                env.truths_or_all(condition.as_deref(), &mut at, &mut applies);
                env.numbers(value, &mut at, &mut amounts);
                for ((cost, &applies), &amount) in costs.iter_mut().zip(&applies).zip(&amounts) {
                    if applies {
                        *cost += amount;
                    }
                }
            }
        }
        spare.keep_truths(applies);
        spare.keep_numbers(amounts);
        engine.spare.set(spare);
        self.prepared = (
            *totals,
            nodes.iter().copied().zip(costs.iter().copied()).collect(),
        );
        self.prepared.1.sort_unstable_by_key(|&(node, _)| node);
        costs
    }

    fn is_digital(&self, node: u32) -> bool {
        self.router.engine.digital[node as usize]
    }

    fn rank(&self, node: u32) -> u32 {
        self.router.engine.rank[node as usize]
    }

    fn shipment_cost(&mut self, node: u32, totals: &Totals) -> f64 {
        let (prepared_totals, prepared) = &self.prepared;
        if prepared_totals == totals
            && let Ok(at) = prepared.binary_search_by_key(&node, |&(n, _)| n)
        {
            return prepared[at].1;
        }
        let key = Self::key(node, usize::MAX, totals);
        if let Some(&cost) = self.memo.get(&key) {
            return cost;
        }
        let mut cost = 0.0;
        self.shipment_terms(node, totals, |_, amount| cost += amount);
        if self.memoize {
            self.memo.insert(key, cost);
        }
        cost
    }

    fn aggregate(&mut self, index: usize, node: u32, totals: &Totals) -> f64 {
        let compiled = &self.router.engine.policies[self.layers[0].index];
        let Some(Some(code)) = self.aggregates.get(index) else {
            return 0.0;
        };
        let key = Self::key(node, index, totals);
        if let Some(&value) = self.memo.get(&key) {
            return value;
        }
        let env = self.env(node, totals);
        let layer = &mut self.layers[0];
        let lets = &compiled.lets;
        layer.cache.forget(lets, |level| level >= Level::Line);
        let value = env.number(code, &mut layer.cache, lets);
        if self.memoize {
            self.memo.insert(key, value);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;
    use crate::network::Network;
    use allot_diagnostics::Sources;
    use serde_json::json;

    /// Which per-shipment costs let the search bound a plan's cost before all its lines
    /// are placed: those that never fall as a shipment grows (see `eval::trend`).
    #[test]
    fn shipment_costs_that_never_fall() {
        let cases = [
            ("6 USD", true),
            (
                "ground(d) + 0.35 USD/kg * shipment.weight * node.factor",
                true,
            ),
            ("freight(d, shipment.weight)", true),
            (
                "max(node.handling_cost, 2 USD) + 0.5 USD * shipment.units",
                true,
            ),
            ("0.5 USD * shipment.units when node.kind == store", true),
            (
                "if node.kind == store then 1 USD * shipment.lines else 2 USD",
                true,
            ),
            ("0.01 USD/kg * shipment.weight * shipment.units", true),
            ("-2 USD when node.kind == store", true),
            ("5 USD - 0.1 USD * shipment.units", false),
            ("1 USD when shipment.units > 2", false),
            ("if shipment.units > 2 then 1 USD else 0 USD", false),
            ("0.35 USD/kg * shipment.weight * node.offset", false),
            ("discount(shipment.value)", false),
            ("step(shipment.weight)", false),
            ("-0.1 USD * shipment.lines", false),
        ];
        let policies: String = cases
            .iter()
            .enumerate()
            .map(|(i, (cost, _))| {
                format!(
                    "policy \"p{i}\" {{\n  let d = distance(node, order.ship_to)\n  \
                     cost c per shipment = {cost}\n}}\n"
                )
            })
            .collect();
        let ruleset = format!(
            "schema {{\n  node.factor: number = 1\n  node.offset: number = 0\n}}\n\
             table ground(d: distance) -> money {{\n  d < 150 km => 6 USD\n  _ => 9 USD\n}}\n\
             table freight(d: distance, w: weight) -> money {{\n  w <= 30 kg => 0 USD\n  \
             w <= 60 kg => 0.001 USD/km * d\n  _ => 0.001 USD/km * d + 0.1 USD/kg * (w - 60 kg)\n}}\n\
             table discount(v: money) -> money {{\n  v < 100 USD => 5 USD\n  _ => 2 USD\n}}\n\
             table step(w: weight) -> money {{\n  w < 10 kg => 5 USD\n  w < 20 kg => 3 USD\n  _ => 9 USD\n}}\n{policies}"
        );
        let mut sources = Sources::new();
        sources.add("costs.allot", &ruleset);
        let plan = allot_compile::compile_sources(&sources).unwrap_or_else(|diagnostics| {
            panic!(
                "{}",
                allot_diagnostics::render_human(&diagnostics, &sources, false)
            )
        });
        let node = |id: &str, offset: f64| {
            json!({ "id": id, "kind": "dc", "lat": 40.0, "lon": -74.0, "country": "US",
                    "attributes": { "factor": 1.5, "offset": offset } })
        };
        let network = json!({ "currency": "USD", "nodes": [node("A", 1.0), node("B", -1.0)],
                               "items": [], "inventory": [] });
        let network = Network::from_value(&network, &plan).expect("a valid network");
        let engine = Engine::new(plan, network);
        for (i, (cost, rises)) in cases.iter().enumerate() {
            let index = (engine.plan.policies.iter())
                .position(|p| p.name == format!("p{i}"))
                .expect("the policy");
            assert_eq!(
                engine.policies[index].shipment_costs_rise, *rises,
                "cost {cost}"
            );
        }
    }
}
