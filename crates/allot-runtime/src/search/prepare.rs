//! The tables the descent needs, built once per search: the order in which lines are
//! placed and the units each depth can still place, each line's candidates in order of
//! preference, the ways a line may be split, its digital candidates, and whether cost
//! can bound the branches. Nothing here explores a branch.

use super::*;

impl<'a, S: Shipments> Search<'a, S> {
    /// A search over the problem's candidates, without the tables that descending needs
    /// (see [`Search::prepare_descent`]).
    pub(super) fn new(problem: &'a Problem, env: &'a mut S) -> Search<'a, S> {
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
            node_work: (problem.lines.len() / EXACT_LINES).max(1),
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
    pub(super) fn prepare_descent(&mut self) {
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

/// Index subsets of `0..n` with 2 to `max` members, in lexicographic order.
pub(super) fn subsets(n: usize, max: usize) -> Vec<Vec<usize>> {
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
