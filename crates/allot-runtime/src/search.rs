//! Finding the best plan for one order: a branch-and-bound search over the plan space.
//!
//! The plan space: lines are taken in order; each is unplaced, or placed at one
//! candidate node (all its units, or as many as the node has left after the earlier
//! lines), or — when splitting is allowed and no single candidate can take the whole
//! line — split across 2 to 3 of its candidates (at most `max shipments`), each giving
//! what it has left, in node order. Plans are ranked by units
//! placed (most first), then by the objective's criteria, then by node ids.
//!
//! Bounds prune only what cannot beat the best plan found: the units still placeable,
//! the shipments already used when `minimize shipments` comes first, and — when one more
//! shipment would be over the limit or worse than the best plan — the units the lines
//! left can still place at the nodes already shipping; when only one more shipment can
//! compete, the lines those nodes cannot fill must have one node that fills them all. Up to
//! [`EXACT_LINES`] lines the search is exhaustive within its budget; beyond, each line
//! keeps only [`HEURISTIC_CANDIDATES`] candidates: those that can take it whole, then
//! those serving the most lines of the order, then the cheapest.
//!
//! [`solve_alone`] scores, without searching, only the plans that ship the whole order
//! from one node: the router asks it first when such a plan, if there is one, is known
//! to be the best.

use crate::node_set::NodeSet;
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub const EXACT_LINES: usize = 8;
pub const HEURISTIC_CANDIDATES: usize = 6;
/// Nodes explored before the search settles for the best plan found.
pub const BUDGET: usize = 250_000;
const MAX_SPLIT_NODES: usize = 3;
/// Candidates considered when splitting a line (the ones with the most stock).
const SPLIT_CANDIDATES: usize = 6;
/// In `Search::candidate_at`: the line has no candidate at the node.
const NO_CANDIDATE: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub node: u32,
    /// Units this line may take here at the start: free stock less safety stock.
    pub available: i64,
    /// Per-unit cost terms, summed.
    pub unit_cost: f64,
    /// Per-line cost terms, summed.
    pub line_cost: f64,
}

impl Candidate {
    /// What placing `units` of the line here costs, before its shipment's costs.
    fn cost_of(&self, units: i64) -> f64 {
        self.unit_cost * units as f64 + self.line_cost
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LineProblem {
    pub qty: i64,
    /// Lines of one item share its stock at each node.
    pub item: u32,
    pub weight: f64,
    pub price: f64,
    pub candidates: Vec<Candidate>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Criterion {
    Shipments,
    Cost,
    /// The i-th aggregate the evaluator computes; `sum` or `max` over shipments.
    Aggregate {
        index: usize,
        sum: bool,
        maximize: bool,
        /// Whether the term reads the node alone, not the shipment (`max(node.priority)`):
        /// then the search asks once per node.
        per_node: bool,
    },
}

/// The totals of a shipment in a plan, as `shipment.*` reads them.
pub(crate) use crate::eval::ShipmentTotals as Totals;

impl Totals {
    /// The totals with `units` of `line` added.
    fn with(self, line: &LineProblem, units: i64) -> Totals {
        let u = units as f64;
        Totals {
            weight: self.weight + u * line.weight,
            units: self.units + u,
            lines: self.lines + 1.0,
            value: self.value + u * line.price,
        }
    }
}

/// What the search asks of the policy: per-shipment costs and aggregate terms.
pub(crate) trait Shipments {
    /// Computes, all at once, the cost of a shipment with `totals` from each of the
    /// (non-digital) `nodes`, for [`Shipments::shipment_cost`] to give; returns them, in
    /// the order of `nodes`.
    fn prepare_shipments(&mut self, nodes: &[u32], totals: &Totals) -> Vec<f64>;
    fn is_digital(&self, node: u32) -> bool;
    /// Rank of the node's id among all ids (for tie-breaks).
    fn rank(&self, node: u32) -> u32;
    fn shipment_cost(&mut self, node: u32, totals: &Totals) -> f64;
    fn aggregate(&mut self, index: usize, node: u32, totals: &Totals) -> f64;
}

pub(crate) struct Problem {
    pub lines: Vec<LineProblem>,
    pub max_shipments: Option<u32>,
    pub ship_complete: bool,
    pub no_line_split: bool,
    pub criteria: Vec<Criterion>,
    /// Whether, with `minimize shipments` first, candidates that take more lines whole
    /// are tried first. The plan chosen is the same either way; off when explaining, since
    /// the few-shipment plan found first prunes the runner-up the trace would show.
    pub consolidate_first: bool,
    /// Whether no per-shipment cost falls as lines are added to a shipment: then, once
    /// no new shipment can compete, the cost of the lines placed so far (their shipments
    /// costed as they stand) bounds every completion's, and the search prunes with it.
    /// Off when explaining, like `consolidate_first`: it prunes runners-up.
    pub costs_rise: bool,
    /// Whether the search keeps the runner-up, the best plan after the chosen one, which
    /// explanations show.
    pub runner_up: bool,
}

/// A plan: for each line, (node, units) allocations.
pub(crate) type Allocation = Vec<LineAllocation>;

/// One line's allocation, without a heap allocation, since the search tries millions
/// of them: the first `len` (node, units) parts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct LineAllocation {
    parts: [(u32, i64); MAX_SPLIT_NODES],
    len: u8,
}

impl LineAllocation {
    /// The line placed nowhere.
    pub const UNPLACED: LineAllocation = LineAllocation {
        parts: [(0, 0); MAX_SPLIT_NODES],
        len: 0,
    };

    /// The line placed at one node.
    fn one(node: u32, units: i64) -> LineAllocation {
        let mut one = LineAllocation::UNPLACED;
        one.push(node, units);
        one
    }

    fn push(&mut self, node: u32, units: i64) {
        self.parts[self.len as usize] = (node, units);
        self.len += 1;
    }

    /// The (node, units) pairs.
    pub fn parts(&self) -> &[(u32, i64)] {
        &self.parts[..self.len as usize]
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Scored {
    pub allocation: Allocation,
    pub placed: i64,
    /// Criterion values as the objective states them (not negated).
    pub values: Vec<f64>,
    key: Vec<f64>,
    tie: Vec<u32>,
    /// Per node used: its totals and its cost (shipment + lines).
    pub shipments: BTreeMap<u32, (Totals, f64)>,
}

pub(crate) struct Outcome {
    pub best: Scored,
    pub alternative: Option<Scored>,
    pub complete: bool,
}

/// Compares criterion values exactly to a millionth, so that sums computed in a
/// different order do not decide a tie.
fn quantize(x: f64) -> f64 {
    (x * 1e6).round()
}

struct Search<'a, S: Shipments> {
    problem: &'a Problem,
    env: &'a mut S,
    /// Every candidate node of the order, by local index.
    nodes: Vec<u32>,
    digital: Vec<bool>,
    /// Whether any candidate is digital (a new digital node opens no shipment).
    any_digital: bool,
    /// Units the order asks for.
    total_units: i64,
    /// Per line: its item's local index (lines of one item share stock).
    line_item: Vec<usize>,
    /// Units taken per (local item, local node) in the current branch.
    used: Vec<i64>,
    /// The current branch, with local node indices (node ids only in a kept plan).
    allocation: Allocation,
    /// The lines in the order the search places them: depth → line.
    order: Vec<usize>,
    /// Option lists to reuse, one in use per depth of the branch.
    option_lists: Vec<Vec<LineAllocation>>,
    /// Scratch for the nodes of the branch a line can reuse.
    reused: Vec<usize>,
    best: Option<Scored>,
    alternative: Option<Scored>,
    explored: usize,
    /// Per depth, the units the lines from that depth on can place at most.
    remaining_bound: Vec<i64>,
    /// Allocations per local node in the current branch, and the nodes in use.
    in_use: Vec<u32>,
    in_use_list: Vec<usize>,
    /// Per (line, local node): the index of the line's candidate there, or
    /// [`NO_CANDIDATE`].
    candidate_at: Vec<u32>,
    /// Per line: candidate → its local node.
    candidate_local: Vec<Vec<usize>>,
    /// Per line: candidate → its place in `preference`.
    preference_rank: Vec<Vec<usize>>,
    /// Per line that may be split (no candidate takes it whole): the subsets of its
    /// split pool (the candidates with the most stock, in node order) to try.
    splits: Vec<Vec<Vec<usize>>>,
    /// Per line: its candidates at digital nodes (which open no shipment), in candidate
    /// order and in order of preference.
    digital_candidates: Vec<Vec<usize>>,
    digital_preference: Vec<Vec<usize>>,
    /// Distinct non-digital nodes in the current branch.
    parcels: usize,
    /// Per line: its candidates, cheapest for the whole line first, then by node id.
    preference: Vec<Vec<usize>>,
    /// Scratch of the plan being scored, so that a plan that is not better than the
    /// ones kept costs no allocation: per local node, its totals and cost; the nodes
    /// used, by node id; the criterion values and their sort keys.
    leaf_totals: Vec<(Totals, f64)>,
    leaf_nodes: Vec<usize>,
    leaf_values: Vec<f64>,
    leaf_key: Vec<f64>,
    /// Per (criterion, local node): a per-node aggregate term once asked (NaN before);
    /// empty for one line.
    node_terms: Vec<f64>,
    /// The cost criterion's place in the objective when the search bounds cost (see
    /// [`Problem::costs_rise`]): it comes first, or right after `minimize shipments`.
    cost_at: Option<usize>,
    /// Per local node while bounding cost: what the branch ships from it (totals, cost of
    /// its lines) and its shipment's cost as it stands (NaN until asked); and the values
    /// each `take` replaced, to restore them exactly.
    open: Vec<OpenShipment>,
    replaced: Vec<OpenShipment>,
}

#[derive(Clone, Copy, Debug, Default)]
struct OpenShipment {
    totals: Totals,
    line_costs: f64,
    cost: f64,
}

pub(crate) fn solve<S: Shipments>(problem: &Problem, env: &mut S) -> Outcome {
    let mut search = Search::new(problem, env);
    search.prepare_descent();
    search.descend(0, 0);
    let complete = search.explored <= BUDGET;
    Outcome {
        best: search.best.expect("the empty plan is always feasible"),
        alternative: search.alternative,
        complete,
    }
}

/// The best of the plans that ship every line whole from one node, scored as [`solve`]
/// scores plans; `None` when no node can take the whole order. With `minimize shipments`
/// first and no digital candidate, such a plan, when there is one, is the best of all.
pub(crate) fn solve_alone<S: Shipments>(problem: &Problem, env: &mut S) -> Option<Outcome> {
    let lines = &problem.lines;
    // Lines of one item share its stock at a node: each takes its units after the
    // earlier ones, as in a branch of the search.
    let needed: Vec<i64> = (lines.iter().enumerate())
        .map(|(l, line)| {
            let before: i64 = (lines[..l].iter())
                .filter(|earlier| earlier.item == line.item)
                .map(|earlier| earlier.qty)
                .sum();
            before + line.qty
        })
        .collect();
    // Per (line, node): one more than the index of the line's candidate there if it takes
    // the line whole, 0 if none (a line has one candidate per node; zeroed memory is
    // cheap). The nodes where every line has one take the order.
    let width = (lines.iter().flat_map(|l| &l.candidates))
        .map(|c| c.node as usize + 1)
        .max()
        .unwrap_or(0);
    let mut whole = vec![0u32; lines.len() * width];
    for (l, (line, &needed)) in lines.iter().zip(&needed).enumerate() {
        for (c, candidate) in line.candidates.iter().enumerate() {
            if candidate.available >= needed {
                whole[l * width + candidate.node as usize] = c as u32 + 1;
            }
        }
    }
    let entry = |l: usize, node: u32| whole[l * width + node as usize];
    let candidate_at = |l: usize, node: u32| entry(l, node) as usize - 1;
    let mut alone: Vec<u32> = (lines.first().into_iter().flat_map(|l| &l.candidates))
        .map(|c| c.node)
        .filter(|&node| (0..lines.len()).all(|l| entry(l, node) != 0))
        .collect();
    if alone.is_empty() {
        return None;
    }
    // Every such plan ships the same totals: their shipments are costed together.
    let totals = (lines.iter()).fold(Totals::default(), |totals, line| {
        totals.with(line, line.qty)
    });
    let parcels: Vec<u32> = (alone.iter().copied())
        .filter(|&node| !env.is_digital(node))
        .collect();
    let shipment_costs = env.prepare_shipments(&parcels, &totals);
    // With fewer shipments, then cost, first, only the cheapest of these plans (all one
    // shipment) can win: the others need no scoring. Costs are summed as
    // [`Search::score`] sums them: the lines' in line order, then the shipment's.
    if problem
        .criteria
        .starts_with(&[Criterion::Shipments, Criterion::Cost])
        && parcels.len() == alone.len()
    {
        // Here every node is a parcel's: `shipment_costs` are the nodes' in turn.
        let costs: Vec<f64> = (alone.iter().zip(&shipment_costs))
            .map(|(&node, &shipment_cost)| {
                let lines_cost = (lines.iter().enumerate())
                    .map(|(l, line)| line.candidates[candidate_at(l, node)].cost_of(line.qty))
                    .fold(0.0, |sum, cost| sum + cost);
                quantize(lines_cost + shipment_cost)
            })
            .collect();
        if let Some(cheapest) = costs.iter().copied().min_by(f64::total_cmp) {
            let mut cost = costs.iter();
            alone.retain(|_| cost.next().is_some_and(|c| c.total_cmp(&cheapest).is_eq()));
        }
    }
    // The plans left are scored by a search over their candidates alone.
    let kept = Problem {
        lines: (lines.iter().enumerate())
            .map(|(l, line)| LineProblem {
                candidates: (alone.iter())
                    .map(|&node| line.candidates[candidate_at(l, node)].clone())
                    .collect(),
                qty: line.qty,
                item: line.item,
                weight: line.weight,
                price: line.price,
            })
            .collect(),
        criteria: problem.criteria.clone(),
        ..*problem
    };
    let mut search = Search::new(&kept, env);
    for n in 0..search.nodes.len() {
        for (allocation, line) in search.allocation.iter_mut().zip(lines) {
            *allocation = LineAllocation::one(n as u32, line.qty);
        }
        search.leaf_nodes.clear();
        search.leaf_nodes.push(n);
        search.parcels = usize::from(!search.digital[n]);
        search.score();
        search.keep(search.total_units);
    }
    Some(Outcome {
        best: search.best.expect("a plan for each node kept"),
        alternative: search.alternative,
        complete: true,
    })
}

impl<'a, S: Shipments> Search<'a, S> {
    /// A search over the problem's candidates, without the tables that descending needs
    /// (see [`Search::prepare_descent`]).
    fn new(problem: &'a Problem, env: &'a mut S) -> Search<'a, S> {
        // Every candidate node of the order, by local index (in node order).
        let set = NodeSet::new(
            problem
                .lines
                .iter()
                .flat_map(|l| &l.candidates)
                .map(|c| c.node),
        );
        let nodes = set.nodes();
        let candidate_local: Vec<Vec<usize>> = (problem.lines.iter())
            .map(|line| line.candidates.iter().map(|c| set.rank(c.node)).collect())
            .collect();
        let mut candidate_at = vec![NO_CANDIDATE; problem.lines.len() * nodes.len()];
        for (l, locals) in candidate_local.iter().enumerate() {
            for (i, &n) in locals.iter().enumerate() {
                candidate_at[l * nodes.len() + n] = i as u32;
            }
        }
        let mut items: Vec<u32> = Vec::new();
        let line_item: Vec<usize> = problem
            .lines
            .iter()
            .map(|line| match items.iter().position(|&i| i == line.item) {
                Some(i) => i,
                None => {
                    items.push(line.item);
                    items.len() - 1
                }
            })
            .collect();
        let digital: Vec<bool> = nodes.iter().map(|&n| env.is_digital(n)).collect();
        let any_digital = digital.iter().any(|&d| d);
        let total_units = problem.lines.iter().map(|l| l.qty).sum();
        let node_count = nodes.len();
        Search {
            problem,
            env,
            used: vec![0; items.len() * nodes.len()],
            in_use: vec![0; nodes.len()],
            in_use_list: Vec::new(),
            candidate_at,
            candidate_local,
            preference_rank: Vec::new(),
            splits: Vec::new(),
            digital_candidates: Vec::new(),
            digital_preference: Vec::new(),
            line_item,
            digital,
            any_digital,
            total_units,
            nodes,
            option_lists: Vec::new(),
            reused: Vec::new(),
            allocation: vec![LineAllocation::UNPLACED; problem.lines.len()],
            order: Vec::new(),
            best: None,
            alternative: None,
            explored: 0,
            remaining_bound: Vec::new(),
            parcels: 0,
            preference: Vec::new(),
            leaf_totals: vec![(Totals::default(), 0.0); node_count],
            leaf_nodes: Vec::new(),
            leaf_values: Vec::new(),
            leaf_key: Vec::new(),
            // One line uses each node in one plan only: nothing to remember.
            node_terms: if problem.lines.len() > 1 {
                vec![f64::NAN; problem.criteria.len() * node_count]
            } else {
                Vec::new()
            },
            cost_at: None,
            open: Vec::new(),
            replaced: Vec::new(),
        }
    }

    /// The tables descending needs: the order of the lines and the bounds on what they
    /// can place, each line's candidates in order of preference, its splits and digital
    /// candidates, and whether cost bounds the branches.
    fn prepare_descent(&mut self) {
        let problem = self.problem;
        let caps: Vec<i64> = problem
            .lines
            .iter()
            .map(|line| {
                line.qty
                    .min(line.candidates.iter().map(|c| c.available).sum())
            })
            .collect();
        self.order = search_order(problem);
        self.remaining_bound = vec![0; caps.len() + 1];
        for i in (0..caps.len()).rev() {
            self.remaining_bound[i] = self.remaining_bound[i + 1] + caps[self.order[i]];
        }
        // With `minimize shipments` first, nodes that can take more lines whole come first:
        // a plan with few shipments is found early, and it prunes the rest.
        let mut fills = vec![0usize; self.nodes.len()];
        if problem.consolidate_first
            && problem.criteria.first() == Some(&Criterion::Shipments)
            && problem.lines.len() > 1
        {
            for (line, locals) in problem.lines.iter().zip(&self.candidate_local) {
                for (c, &n) in line.candidates.iter().zip(locals) {
                    fills[n] += usize::from(c.available >= line.qty);
                }
            }
        }
        self.preference = problem
            .lines
            .iter()
            .zip(&self.candidate_local)
            .map(|(line, locals)| {
                // Keys first: ranks are distinct, so the order is total.
                let mut keyed: Vec<(u128, usize)> = line
                    .candidates
                    .iter()
                    .zip(locals)
                    .enumerate()
                    .map(|(i, (c, &n))| {
                        let cost = c.unit_cost * line.qty as f64 + c.line_cost;
                        let fewer_fills = u16::MAX - fills[n].min(u16::MAX as usize) as u16;
                        let key = (u128::from(fewer_fills) << 96)
                            | (u128::from(ordered_bits(cost)) << 32)
                            | u128::from(self.env.rank(c.node));
                        (key, i)
                    })
                    .collect();
                keyed.sort_unstable_by_key(|&(key, _)| key);
                keyed.into_iter().map(|(_, i)| i).collect()
            })
            .collect();
        self.preference_rank = self
            .preference
            .iter()
            .map(|order: &Vec<usize>| {
                let mut rank = vec![0; order.len()];
                for (place, &c) in order.iter().enumerate() {
                    rank[c] = place;
                }
                rank
            })
            .collect();
        let splittable = !problem.no_line_split && !problem.ship_complete;
        let split_cap = problem
            .max_shipments
            .map_or(MAX_SPLIT_NODES, |m| (m as usize).min(MAX_SPLIT_NODES));
        self.splits = problem
            .lines
            .iter()
            .map(|line| {
                let whole_somewhere = line.candidates.iter().any(|c| c.available >= line.qty);
                if !splittable || whole_somewhere {
                    return Vec::new();
                }
                let mut pool: Vec<usize> = (0..line.candidates.len()).collect();
                let c = &line.candidates;
                pool.sort_by(|&a, &b| {
                    c[b].available
                        .cmp(&c[a].available)
                        .then(c[a].node.cmp(&c[b].node))
                });
                pool.truncate(SPLIT_CANDIDATES);
                pool.sort_by_key(|&i| c[i].node);
                subsets(pool.len(), split_cap)
                    .into_iter()
                    .map(|subset| subset.into_iter().map(|i| pool[i]).collect())
                    .collect()
            })
            .collect();
        let digital = &self.digital;
        self.digital_candidates = self
            .candidate_local
            .iter()
            .map(|locals| (0..locals.len()).filter(|&c| digital[locals[c]]).collect())
            .collect();
        self.digital_preference = self
            .preference
            .iter()
            .zip(&self.candidate_local)
            .map(|(order, locals)| {
                order
                    .iter()
                    .copied()
                    .filter(|&c| digital[locals[c]])
                    .collect()
            })
            .collect();
        self.cost_at = (problem.costs_rise && problem.lines.len() > 1)
            .then(|| problem.criteria.iter().position(|c| *c == Criterion::Cost))
            .flatten()
            .filter(|&k| {
                problem.criteria[..k]
                    .iter()
                    .all(|c| *c == Criterion::Shipments)
                    && problem.lines.iter().all(|line| {
                        (line.candidates.iter()).all(|c| c.unit_cost >= 0.0 && c.line_cost >= 0.0)
                    })
            });
        if self.cost_at.is_some() {
            self.open = vec![OpenShipment::default(); self.nodes.len()];
        }
    }
}

impl<S: Shipments> Search<'_, S> {
    /// The index of the line's candidate at local node `n`, if it has one.
    fn candidate_at(&self, line_index: usize, n: usize) -> Option<usize> {
        let c = self.candidate_at[line_index * self.nodes.len() + n];
        (c != NO_CANDIDATE).then_some(c as usize)
    }

    fn limit(&self) -> Option<usize> {
        if self.problem.ship_complete {
            Some(1)
        } else {
            self.problem.max_shipments.map(|m| m as usize)
        }
    }

    /// Whether a branch with `placed` units so far, `parcels` shipments and lines from
    /// `depth` on still to place can still beat the best plan.
    fn promising(&self, depth: usize, placed: i64, parcels: usize) -> bool {
        if self.limit().is_some_and(|l| parcels > l) {
            return false;
        }
        let Some(best) = &self.best else { return true };
        let bound = placed + self.remaining_bound[depth];
        if bound < best.placed {
            return false;
        }
        // Shipments only grow as lines are added.
        !(bound == best.placed
            && self.problem.criteria.first() == Some(&Criterion::Shipments)
            && (parcels as f64) > best.values[0])
    }

    /// Whether the branch cannot beat the best plan because the lines left cannot be
    /// placed well enough with the shipments it may still open. Opening `k` more loses
    /// when it goes over the limit, or when `minimize shipments` comes first and the best
    /// plan places as many units as any completion of the branch could.
    fn stranded(&self, depth: usize, placed: i64) -> bool {
        let Some(best) = &self.best else { return false };
        let most = placed + self.remaining_bound[depth];
        let closed_after = |k: usize| {
            self.limit().is_some_and(|l| self.parcels + k > l)
                || (self.problem.criteria.first() == Some(&Criterion::Shipments)
                    && (self.parcels + k) as f64 > best.values[0]
                    && most <= best.placed)
        };
        let lines = depth..self.problem.lines.len();
        if closed_after(1) {
            let reach: i64 = lines.map(|k| self.room_open(self.order[k])).sum();
            return placed + reach < best.placed;
        }
        if !(closed_after(2) && most == best.placed) {
            return false;
        }
        // One more shipment at most, and every line left must place all it can: the lines
        // the open nodes cannot fill need one new node that fills them all.
        let short: Vec<(usize, i64)> = lines
            .filter_map(|k| {
                let (l, cap) = (
                    self.order[k],
                    self.remaining_bound[k] - self.remaining_bound[k + 1],
                );
                let missing = cap - self.room_open(l);
                (missing > 0).then_some((l, missing))
            })
            .collect();
        let Some(&(first, _)) = short.first() else {
            return false;
        };
        !self.candidate_local[first].iter().any(|&n| {
            self.in_use[n] == 0
                && short.iter().all(|&(l, missing)| {
                    self.candidate_at(l, n)
                        .is_some_and(|c| self.room(l, c) >= missing)
                })
        })
    }

    /// Whether, with no new shipment able to compete, the branch already costs more than
    /// the best plan: lines to come only add to the shipments open (see
    /// [`Problem::costs_rise`]), and their own costs are not negative.
    fn too_costly(&mut self, depth: usize, placed: i64) -> bool {
        let (Some(k), Some(best)) = (self.cost_at, &self.best) else {
            return false;
        };
        let most = placed + self.remaining_bound[depth];
        let shipments_first = k > 0;
        // A completion that places more units, or ships fewer times, is not bounded.
        if most > best.placed || (shipments_first && (self.parcels as f64) < best.values[0]) {
            return false;
        }
        let closed = self.limit().is_some_and(|l| self.parcels >= l)
            || (shipments_first && self.parcels as f64 >= best.values[0]);
        if !closed {
            return false;
        }
        let best_cost = best.key[k];
        let mut cost = 0.0;
        for i in 0..self.in_use_list.len() {
            let n = self.in_use_list[i];
            let open = self.open[n];
            cost += open.line_costs;
            if !self.digital[n] {
                if open.cost.is_nan() {
                    self.open[n].cost = self.env.shipment_cost(self.nodes[n], &open.totals);
                }
                cost += self.open[n].cost;
            }
        }
        // A millionth of slack, as sums in another order may round differently.
        quantize(cost) > best_cost + 1.0
    }

    /// The most a line can place at the nodes already shipping and at digital ones (an
    /// over-estimate where lines share an item: enough for a bound).
    fn room_open(&self, line_index: usize) -> i64 {
        let line = &self.problem.lines[line_index];
        let open = self.in_use_list.iter().filter(|&&n| !self.digital[n]);
        let candidates = open
            .filter_map(|&n| self.candidate_at(line_index, n))
            .chain(self.digital_candidates[line_index].iter().copied());
        let mut room = 0;
        for c in candidates {
            room += self.room(line_index, c).max(0);
            if room >= line.qty {
                break;
            }
        }
        room.min(line.qty)
    }

    /// Units candidate `c` of a line can still give in the current branch.
    fn room(&self, line_index: usize, c: usize) -> i64 {
        let node = self.candidate_local[line_index][c];
        self.problem.lines[line_index].candidates[c].available
            - self.used[self.line_item[line_index] * self.nodes.len() + node]
    }

    fn take(&mut self, line_index: usize, option: &[(u32, i64)], sign: i64) {
        if self.cost_at.is_some() {
            self.track_open(line_index, option, sign);
        }
        let item = self.line_item[line_index];
        for &(node, units) in option {
            let node = node as usize;
            self.used[item * self.nodes.len() + node] += sign * units;
            let before = self.in_use[node];
            self.in_use[node] = (before as i64 + sign) as u32;
            match (before, self.in_use[node]) {
                (0, 1) => {
                    self.in_use_list.push(node);
                    if !self.digital[node] {
                        self.parcels += 1;
                    }
                }
                (1, 0) => {
                    self.in_use_list.retain(|&n| n != node);
                    if !self.digital[node] {
                        self.parcels -= 1;
                    }
                }
                _ => {}
            }
        }
    }

    /// Adds an option's parts to the open shipments' totals (`sign` 1), or restores the
    /// totals from before (`sign` -1, in the reverse order of taking).
    fn track_open(&mut self, line_index: usize, option: &[(u32, i64)], sign: i64) {
        if sign < 0 {
            for &(node, _) in option.iter().rev() {
                self.open[node as usize] = self.replaced.pop().expect("taken before");
            }
            return;
        }
        let line = &self.problem.lines[line_index];
        for &(node, units) in option {
            let n = node as usize;
            let c = self
                .candidate_at(line_index, n)
                .expect("a candidate at the node");
            let candidate = &line.candidates[c];
            let before = self.open[n];
            self.replaced.push(before);
            self.open[n] = OpenShipment {
                totals: before.totals.with(line, units),
                line_costs: before.line_costs + candidate.cost_of(units),
                cost: f64::NAN,
            };
        }
    }

    fn descend(&mut self, depth: usize, placed: i64) {
        self.explored += 1;
        if self.explored > BUDGET && self.best.is_some() {
            return;
        }
        if !self.promising(depth, placed, self.parcels) {
            return;
        }
        if depth == self.problem.lines.len() {
            self.leaf(placed);
            return;
        }
        if self.stranded(depth, placed) || self.too_costly(depth, placed) {
            return;
        }
        let line_index = self.order[depth];
        let mut options = self.options(line_index, depth, placed);
        for &option in &options {
            let units: i64 = option.parts().iter().map(|&(_, u)| u).sum();
            let added = option
                .parts()
                .iter()
                .filter(|&&(n, _)| self.in_use[n as usize] == 0 && !self.digital[n as usize])
                .count();
            // Skip hopeless options before paying for the recursion.
            if !self.promising(depth + 1, placed + units, self.parcels + added) {
                continue;
            }
            self.take(line_index, option.parts(), 1);
            self.allocation[line_index] = option;
            self.descend(depth + 1, placed + units);
            let option = std::mem::take(&mut self.allocation[line_index]);
            self.take(line_index, option.parts(), -1);
        }
        options.clear();
        self.option_lists.push(options);
    }

    /// Allocations for a line, most promising first; the last is "unplaced". Options
    /// that open a shipment the bounds already rule out are not even listed.
    fn options(&mut self, line_index: usize, depth: usize, placed: i64) -> Vec<LineAllocation> {
        let line = &self.problem.lines[line_index];
        let mut options = self.option_lists.pop().unwrap_or_default();
        let local = |c: usize| self.candidate_local[line_index][c] as u32;
        // Nodes already in the plan first: they open no shipment.
        let mut reused = std::mem::take(&mut self.reused);
        reused.clear();
        reused.extend(
            self.in_use_list
                .iter()
                .filter_map(|&n| self.candidate_at(line_index, n)),
        );
        reused.sort_unstable_by_key(|&c| self.preference_rank[line_index][c]);
        for &c in &reused {
            let take = line.qty.min(self.room(line_index, c));
            if take > 0 {
                options.push(LineAllocation::one(local(c), take));
            }
        }
        self.reused = reused;
        // New nodes, unless even the most a new shipment could place cannot compete: then
        // only digital ones, which open no shipment.
        let new_shipments = self.promising(depth + 1, placed + line.qty, self.parcels + 1);
        if new_shipments || self.any_digital {
            let pool = if new_shipments {
                &self.preference[line_index]
            } else {
                &self.digital_preference[line_index]
            };
            for &c in pool {
                let n = self.candidate_local[line_index][c];
                if self.in_use[n] > 0 {
                    continue;
                }
                let take = line.qty.min(self.room(line_index, c));
                let opens = usize::from(!self.digital[n]);
                if take > 0 && self.promising(depth + 1, placed + take, self.parcels + opens) {
                    options.push(LineAllocation::one(n as u32, take));
                }
            }
        }
        for subset in &self.splits[line_index] {
            let mut left = line.qty;
            let mut split = LineAllocation::UNPLACED;
            for &c in subset {
                let take = left.min(self.room(line_index, c));
                if take <= 0 {
                    break;
                }
                split.push(local(c), take);
                left -= take;
            }
            if split.parts().len() == subset.len() {
                options.push(split);
            }
        }
        options.push(LineAllocation::UNPLACED);
        options
    }

    fn leaf(&mut self, placed: i64) {
        // Under `ship complete`, a plan places everything or nothing.
        if self.problem.ship_complete && placed > 0 && placed < self.total_units {
            return;
        }
        self.evaluate();
        self.keep(placed);
    }

    /// Keeps the plan scored in the scratch if it beats the best (or the runner-up).
    fn keep(&mut self, placed: i64) {
        let runner_up = self.problem.runner_up;
        if self.beats(placed, self.best.as_ref()) {
            let previous = self.best.replace(self.scored(placed));
            if runner_up && previous.is_some() {
                self.alternative = previous;
            }
        } else if runner_up && self.beats(placed, self.alternative.as_ref()) {
            self.alternative = Some(self.scored(placed));
        }
    }

    /// Scores the current allocation into the scratch: each node's totals and cost,
    /// the criterion values and their sort keys.
    fn evaluate(&mut self) {
        self.leaf_nodes.clear();
        self.leaf_nodes.extend(self.in_use_list.iter().copied());
        // Node id order, so that sums are always added in the same order.
        let nodes = &self.nodes;
        self.leaf_nodes.sort_unstable_by_key(|&l| nodes[l]);
        self.score();
    }

    /// Scores the allocation shipping from `leaf_nodes` (in node id order) into the
    /// scratch.
    fn score(&mut self) {
        for &l in &self.leaf_nodes {
            self.leaf_totals[l] = (Totals::default(), 0.0);
        }
        for (line_index, (line, allocation)) in
            self.problem.lines.iter().zip(&self.allocation).enumerate()
        {
            for &(node, units) in allocation.parts() {
                let l = node as usize;
                let candidate = &line.candidates[self
                    .candidate_at(line_index, l)
                    .expect("a candidate at the node")];
                let entry = &mut self.leaf_totals[l];
                entry.0 = entry.0.with(line, units);
                entry.1 += candidate.cost_of(units);
            }
        }
        for &l in &self.leaf_nodes {
            if !self.digital[l] {
                let totals = self.leaf_totals[l].0;
                let cost = self.env.shipment_cost(self.nodes[l], &totals);
                self.leaf_totals[l].1 += cost;
            }
        }
        self.leaf_values.clear();
        self.leaf_key.clear();
        for criterion in &self.problem.criteria {
            let parcels = self.leaf_nodes.iter().filter(|&&l| !self.digital[l]);
            let (value, maximize) = match *criterion {
                Criterion::Shipments => (self.parcels as f64, false),
                Criterion::Cost => (
                    self.leaf_nodes.iter().map(|&l| self.leaf_totals[l].1).sum(),
                    false,
                ),
                Criterion::Aggregate {
                    index,
                    sum,
                    maximize,
                    per_node,
                } => {
                    let mut value: Option<f64> = None;
                    for &l in parcels {
                        let totals = &self.leaf_totals[l].0;
                        let term = if per_node && !self.node_terms.is_empty() {
                            let known = &mut self.node_terms[index * self.nodes.len() + l];
                            if known.is_nan() {
                                *known = self.env.aggregate(index, self.nodes[l], totals);
                            }
                            *known
                        } else {
                            self.env.aggregate(index, self.nodes[l], totals)
                        };
                        value = Some(match value {
                            None => term,
                            Some(v) if sum => v + term,
                            Some(v) => v.max(term),
                        });
                    }
                    (value.unwrap_or(0.0), maximize)
                }
            };
            self.leaf_values.push(value);
            self.leaf_key.push(if maximize {
                -quantize(value)
            } else {
                quantize(value)
            });
        }
    }

    /// The tie-break of the current allocation: node ranks, line by line.
    fn tie(&self) -> Vec<u32> {
        let mut tie = Vec::new();
        for allocation in &self.allocation {
            let start = tie.len();
            tie.extend(
                allocation
                    .parts()
                    .iter()
                    .map(|&(n, _)| self.env.rank(self.nodes[n as usize])),
            );
            tie[start..].sort_unstable();
            tie.push(u32::MAX);
        }
        tie
    }

    /// Whether the plan in the scratch ranks before `other` (or there is no other).
    fn beats(&self, placed: i64, other: Option<&Scored>) -> bool {
        let Some(other) = other else { return true };
        let order = other
            .placed
            .cmp(&placed)
            .then_with(|| {
                self.leaf_key
                    .iter()
                    .zip(&other.key)
                    .map(|(a, b)| a.total_cmp(b))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| self.tie().cmp(&other.tie));
        order == Ordering::Less
    }

    /// The plan in the scratch, kept.
    fn scored(&self, placed: i64) -> Scored {
        Scored {
            allocation: self
                .allocation
                .iter()
                .map(|allocation| {
                    let mut global = *allocation;
                    for part in &mut global.parts[..allocation.len as usize] {
                        part.0 = self.nodes[part.0 as usize];
                    }
                    global
                })
                .collect(),
            placed,
            values: self.leaf_values.clone(),
            key: self.leaf_key.clone(),
            tie: self.tie(),
            shipments: self
                .leaf_nodes
                .iter()
                .map(|&l| (self.nodes[l], self.leaf_totals[l]))
                .collect(),
        }
    }
}

/// The order in which the search places the lines: the most constrained first (fewest
/// candidates that can take the line whole, then fewest candidates), so that the nodes a
/// plan must use are chosen early and the bounds bite sooner. The plans searched and the
/// one chosen do not depend on it. Lines of one item keep their order, since the first
/// takes its units before the next sees what is left: then all lines keep theirs.
fn search_order(problem: &Problem) -> Vec<usize> {
    let lines = &problem.lines;
    let mut order: Vec<usize> = (0..lines.len()).collect();
    let shared_item = (1..lines.len()).any(|i| lines[..i].iter().any(|l| l.item == lines[i].item));
    if !shared_item {
        order.sort_by_key(|&i| {
            let line = &lines[i];
            let whole = line
                .candidates
                .iter()
                .filter(|c| c.available >= line.qty)
                .count();
            (whole, line.candidates.len(), i)
        });
    }
    order
}

/// The bits of `x` as an integer that orders like [`f64::total_cmp`].
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Index subsets of `0..n` with 2 to `max` members, in lexicographic order.
fn subsets(n: usize, max: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    fn grow(
        start: usize,
        n: usize,
        max: usize,
        current: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        for i in start..n {
            current.push(i);
            if current.len() >= 2 {
                out.push(current.clone());
            }
            if current.len() < max {
                grow(i + 1, n, max, current, out);
            }
            current.pop();
        }
    }
    grow(0, n, max, &mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::{ordered_bits, subsets};

    #[test]
    fn ordered_bits_order_like_total_cmp() {
        let xs = [
            f64::NEG_INFINITY,
            -1e9,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            0.01,
            2.5,
            1e9,
            f64::INFINITY,
        ];
        for a in xs {
            for b in xs {
                assert_eq!(
                    ordered_bits(a).cmp(&ordered_bits(b)),
                    a.total_cmp(&b),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn subsets_of_two_and_three() {
        assert_eq!(subsets(3, 2), vec![vec![0, 1], vec![0, 2], vec![1, 2]]);
        assert_eq!(subsets(3, 3).len(), 4);
        assert_eq!(subsets(6, 3).len(), 15 + 20);
    }
}
