//! Ranking the plans found: a complete branch's shipments are costed (through
//! [`Shipments`]), its criteria computed into scratch space, and the plan kept only when
//! it beats the best (or, when explaining, the runner-up), so a plan that loses costs no
//! allocation.

use super::*;

impl<S: Shipments> Search<'_, S> {
    pub(super) fn leaf(&mut self, placed: i64) {
        // Under `ship complete`, a plan places everything or nothing.
        if self.problem.ship_complete && placed > 0 && placed < self.total_units {
            return;
        }
        self.evaluate();
        self.keep(placed);
    }

    /// Keeps the plan scored in the scratch if it beats the best (or the runner-up).
    pub(super) fn keep(&mut self, placed: i64) {
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
    pub(super) fn score(&mut self) {
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
