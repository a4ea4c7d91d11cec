//! Finding the best plan for an order's candidates: the one-node plans first when they
//! are known to win, then the search stage after stage (see [`crate::search`]), with the
//! per-shipment costs and objective terms the search asks for evaluated here, memoized.
//! What the plan means for the order (shipments, shortages, the trace) is
//! [`super::decide`]'s.

use super::candidates::{Gathered, line_problems};
use super::pairs::Pair;
use super::router::{Applied, Router, Settings};
use crate::eval::{Code, Columns, Env, LetCache, ShipmentTotals};
use crate::search::{self, Candidate, Criterion, LineProblem, Problem, Shipments, Totals};
use allot_plan::{CostBasis, CostPlan, Level};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;

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

impl<'a> Router<'a> {
    /// The best plan for the order, and the stage it was found in. When one node can
    /// take the whole order and fewer shipments come first, the best plan ships from one
    /// node that stocks every line: those are evaluated first, and the rest only when
    /// none of them takes the order alone.
    pub(super) fn best_plan(
        &mut self,
        layers: &mut [Applied],
        settings: &Settings,
        gathered: &mut Gathered,
    ) -> (search::Outcome, Option<usize>) {
        let order = self.order;
        let one_node_first = self.one_node_first(layers, settings);
        if one_node_first {
            let pairs = self.lone_pairs(layers);
            self.gather(layers, &pairs, gathered);
            let lines = line_problems(order, std::mem::take(&mut gathered.candidates));
            let problem = self.problem(layers, lines, settings);
            let mut evaluator = ShipmentEvaluator::new(self, layers, false, 0);
            let found = search::solve_alone(&problem, &mut evaluator);
            gathered.candidates = problem.lines.into_iter().map(|l| l.candidates).collect();
            if let Some(outcome) = found {
                return (outcome, None);
            }
        }
        // The nodes evaluated above are those whose pairs take every line whole.
        let takes_alone = |group: &[Pair]| {
            group.len() == order.lines.len()
                && group.iter().all(|p| self.takes_whole(p.line, p.stock))
        };
        let pairs = self.pairs(layers);
        let rest: Vec<Pair> = (pairs.chunk_by(|a, b| a.node == b.node))
            .filter(|g| !one_node_first || !takes_alone(g))
            .flatten()
            .copied()
            .collect();
        self.gather(layers, &rest, gathered);
        let lines = line_problems(order, std::mem::take(&mut gathered.candidates));
        self.solve(layers, lines, &gathered.stage_of, settings)
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

/// Per-shipment costs and objective terms, evaluated for the search (memoized).
pub(super) struct ShipmentEvaluator<'r, 'a> {
    pub(super) router: &'r mut Router<'a>,
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
    pub(super) fn new(
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
    pub(super) fn shipment_terms(
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
