//! The branches: lines placed depth after depth, each option (a candidate, a split, or
//! unplaced) taken into the branch's stock and open shipments and given back exactly on
//! the way up. Each complete branch is scored (see `score.rs`).

use super::*;

/// Stack left below which a deeper line gets a new stack segment of `STACK_SEGMENT`.
const RED_ZONE: usize = 64 << 10;
const STACK_SEGMENT: usize = 1 << 20;

impl<S: Shipments> Search<'_, S> {
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

    pub(super) fn descend(&mut self, depth: usize, placed: i64) {
        self.explored += self.node_work;
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
            // One frame per line: an order of thousands of lines would outgrow a
            // thread's stack, so the stack grows on the heap when it runs low.
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
                self.descend(depth + 1, placed + units)
            });
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
}
