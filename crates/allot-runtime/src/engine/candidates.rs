//! The rules of the policy and profiles run over an order's (node, line) pairs, each
//! program over all the nodes it concerns at once: exclusions, distance guards, stages,
//! safety stock, and costs per unit and per line. Each line gets its candidates (node,
//! units available, costs), and, when explaining, the reason for every node that is not
//! one. Per-shipment costs are left to the search (see [`super::scoring`]).

use super::decide::round_cents;
use super::pairs::Pair;
use super::router::{Applied, Router};
use crate::decision::CandidateTrace;
use crate::eval::{Columns, Env, Spare};
use crate::order::Order;
use crate::search::{Candidate, LineProblem};
use allot_plan::{CostBasis, Level};
use rustc_hash::FxHashMap as HashMap;

impl<'a> Router<'a> {
    /// Evaluates the (node, line) pairs, grouped by node: each gives a candidate of its
    /// line, or, when explaining, the reason it does not. Every program runs over all the
    /// nodes it concerns at once (see [`Columns`]): the exclusions that do not read the
    /// line and the stages once for all the nodes, the rest once per line. A program may
    /// run at a node whose pair an earlier rule already decided: programs have no effects,
    /// and only what decides a pair is kept.
    pub(super) fn gather(&mut self, layers: &[Applied], pairs: &[Pair], gathered: &mut Gathered) {
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
                by_line[pair.line].push(PairState {
                    at,
                    free: self.capacity_of(pair),
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
                            if r.promise { "" } else { "exclude when" },
                        );
                        traces.push(CandidateTrace::Excluded {
                            node: name(),
                            excluded_by,
                            dates: self.dates(node, layers[0].index),
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
                        dates: self.dates(node, layers[0].index),
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
}

/// What evaluating (node, line) pairs gives: per line, its candidates and (when
/// explaining) a trace entry for every node; each candidate node's stage.
pub(super) struct Gathered {
    pub(super) candidates: Vec<Vec<Candidate>>,
    pub(super) traces: Vec<Vec<CandidateTrace>>,
    pub(super) stage_of: HashMap<u32, Option<usize>>,
}

impl Gathered {
    pub(super) fn new(lines: usize) -> Gathered {
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
pub(super) fn line_problems(order: &Order, candidates: Vec<Vec<Candidate>>) -> Vec<LineProblem> {
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
