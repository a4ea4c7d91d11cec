//! Routing: a compiled plan, a network snapshot, and the batch state that orders
//! consume as they are routed. [`Engine`] owns that state and is the only part that
//! changes it; an order is decided by a [`router::Router`] that only reads it, in a
//! pipeline whose steps have a module each:
//!
//! 1. [`policy_code`]: at load, each policy's programs lowered for evaluation;
//! 2. [`router`]: per order, the policy and profiles that apply, and the order-level
//!    rules (reject, hold) that decide it before any node is looked at;
//! 3. [`pairs`]: the (node, line) pairs worth evaluating, from the stock lists, the
//!    distance guards' [`near`] index and the free stock;
//! 4. [`candidates`]: the rules run over those pairs (exclusions, guards, stages,
//!    safety stock, costs per unit and per line), giving each line its candidates;
//! 5. [`scoring`]: the search over the candidates (see [`crate::search`]), with the
//!    per-shipment costs and objective terms it asks for;
//! 6. [`decide`]: the chosen plan turned into the decision, its explanation, and what
//!    the order takes.

use crate::decision::Decision;
use crate::eval::{Lowering, PerOrderCaches, Spare, TableCode, World};
use crate::network::{Network, Node, Returns, Schema};
use crate::order::Order;
use crate::search;
use allot_plan::{Plan, PolicyKind};
use policy_code::{PolicyCode, compile_policy};
use router::{Commit, Router};
use std::cell::Cell;

mod candidates;
mod decide;
mod near;
mod pairs;
mod policy_code;
mod router;
mod scoring;

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
    /// The nodes that receive returns of any item (`"returns": "all"`).
    receive_all: Vec<u32>,
    /// Per node, its distance to the ship-to of the order being routed; per calendar,
    /// when a node keeping it can ship the order.
    per_order: PerOrderCaches,
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
        let per_order = PerOrderCaches::new(&network);
        let receive_all = (0..network.nodes.len() as u32)
            .filter(|&n| network.nodes[n as usize].returns == Returns::All)
            .collect();
        let world = World::new(
            &network,
            &schema,
            (&load, &utilization),
            &free,
            &unit_vectors,
            ([0.0; 3], None),
            &per_order,
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
            per_order,
            receive_all,
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

    /// Routes one order (or return) and commits what it takes (or brings back: a
    /// returned unit is free stock again at once where the node carries the item).
    pub fn route(&mut self, order: &Order, explain: bool) -> Decision {
        let (decision, commit) = self.decide(order, explain, search::EXACT_LINES);
        let sign = if order.is_return { -1 } else { 1 };
        for (item, node, units) in commit.units {
            if let Some(i) = self.network.stock_position(item, node) {
                self.free[item as usize][i] -= sign * units;
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
            (order.ship_to.unit_vector(), order.placed),
            &self.per_order,
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

    /// Reads and routes a JSON order (or a return, with `"kind": "return"`); a
    /// malformed one gives an `error` decision.
    pub fn route_json(&mut self, value: &serde_json::Value, explain: bool) -> Decision {
        let order = Order::from_value(value, &self.plan, &self.network);
        self.route_read(value, order, explain)
    }

    /// Reads and routes a JSON return request; a malformed one gives an `error`
    /// decision.
    pub fn route_return_json(&mut self, value: &serde_json::Value, explain: bool) -> Decision {
        let request = Order::return_from_value(value, &self.plan, &self.network);
        self.route_read(value, request, explain)
    }

    fn route_read(
        &mut self,
        value: &serde_json::Value,
        read: Result<Order, crate::DataError>,
        explain: bool,
    ) -> Decision {
        match read {
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
