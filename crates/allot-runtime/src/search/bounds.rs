//! What prunes a branch without losing the best plan: the units the lines left can
//! still place, the shipments the branch may still open, and the cost of the shipments
//! already open when no new one can compete. Bounds read the branch; they never change
//! it.

use super::*;

impl<S: Shipments> Search<'_, S> {
    /// The index of the line's candidate at local node `n`, if it has one.
    pub(super) fn candidate_at(&self, line_index: usize, n: usize) -> Option<usize> {
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
    pub(super) fn promising(&self, depth: usize, placed: i64, parcels: usize) -> bool {
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
    pub(super) fn stranded(&self, depth: usize, placed: i64) -> bool {
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
    pub(super) fn too_costly(&mut self, depth: usize, placed: i64) -> bool {
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
    pub(super) fn room(&self, line_index: usize, c: usize) -> i64 {
        let node = self.candidate_local[line_index][c];
        self.problem.lines[line_index].candidates[c].available
            - self.used[self.line_item[line_index] * self.nodes.len() + node]
    }
}
