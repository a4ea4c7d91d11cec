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
//!
//! This module holds the problem, the search's state and its entry points; the steps
//! have a module each: `prepare` (the tables the descent needs), `descent` (the
//! branches), `bounds` (what prunes them) and `score` (ranking the plans found).

use crate::node_set::NodeSet;
use std::cmp::Ordering;
use std::collections::BTreeMap;

mod bounds;
mod descent;
mod prepare;
mod score;

pub const EXACT_LINES: usize = 8;
pub const HEURISTIC_CANDIDATES: usize = 6;
/// Search nodes explored (each weighed by the order's size, see `Search::node_work`)
/// before the search settles for the best plan found.
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
    /// What a search node costs the budget: bounds and scoring read every line, so
    /// beyond twice what an exact search takes, a node costs in proportion, and the work
    /// per order stays bounded however many lines it has. The descent to the first plan
    /// is always made.
    node_work: usize,
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

/// The bits of `x` as an integer that orders like [`f64::total_cmp`].
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

#[cfg(test)]
mod tests {
    use super::ordered_bits;
    use super::prepare::subsets;

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
