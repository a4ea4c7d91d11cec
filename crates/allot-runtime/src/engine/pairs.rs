//! Which (node, line) pairs an order is evaluated at: the nodes that stock each line's
//! SKU, less those a distance guard certainly excludes (see [`super::near`]), and, when
//! one node may take the whole order, only the nodes with free stock for every line.
//! Only stock lists and free stock are read here; no rule is evaluated.

use super::near::NearIndex;
use super::router::{Applied, Router};
use crate::network::Returns;
use crate::node_set::NodeSet;

/// The stock position of a return's pair at a node without an inventory entry for it.
pub(super) const NO_ENTRY: u32 = u32::MAX;

/// A node that stocks a line's item, and where in the item's stock list.
#[derive(Clone, Copy, Default)]
pub(super) struct Pair {
    pub(super) node: u32,
    pub(super) line: usize,
    pub(super) stock: u32,
}

impl<'a> Router<'a> {
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
    pub(super) fn pairs(&self, layers: &[Applied]) -> Vec<Pair> {
        let order = self.order;
        let network = self.world.network;
        let mut pairs: Vec<Pair> = Vec::new();
        if order.is_return {
            return self.receiving_pairs(layers);
        }
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

    /// A return's pairs: per line, the nodes that carry its item (an inventory entry)
    /// and receive returns of what they carry, less the far ones a distance guard
    /// excludes, and the nodes that receive anything (`stock`: [`NO_ENTRY`] for a node
    /// without an entry), grouped by node.
    fn receiving_pairs(&self, layers: &[Applied]) -> Vec<Pair> {
        let network = self.world.network;
        let order = self.order;
        let receives = |node: u32| network.nodes[node as usize].returns != Returns::None;
        let mut pairs = Vec::new();
        for (l, line) in order.lines.iter().enumerate() {
            let carriers: Box<dyn Iterator<Item = (u32, u32)>> = match self.near_index(layers) {
                Some(index) => Box::new(index.candidates(
                    line.item,
                    order.ship_to.lat,
                    &self.world.ship_to,
                    &self.engine.unit_vectors,
                )),
                None => Box::new(
                    (network.stock[line.item as usize].iter().enumerate())
                        .map(|(at, stock)| (stock.node, at as u32)),
                ),
            };
            for (node, at) in carriers.filter(|&(node, _)| receives(node)) {
                pairs.push(Pair {
                    node,
                    line: l,
                    stock: at,
                });
            }
            for &node in &self.engine.receive_all {
                if network.stock_position(line.item, node).is_none() {
                    pairs.push(Pair {
                        node,
                        line: l,
                        stock: NO_ENTRY,
                    });
                }
            }
        }
        pairs.sort_unstable_by_key(|p| (u64::from(p.node) << 32) | p.line as u64);
        pairs
    }

    /// What the pair can take: for an order, the free stock of its entry; for a return,
    /// the whole line (a node receives what comes back).
    pub(super) fn capacity_of(&self, pair: &Pair) -> i64 {
        let line = &self.order.lines[pair.line];
        match self.order.is_return {
            true => line.qty,
            false => self.world.free_stock_at(line.item, pair.stock),
        }
    }

    /// Whether the `at`-th entry of the stock list of line `l`'s item has free stock for
    /// the whole line.
    pub(super) fn takes_whole(&self, l: usize, at: u32) -> bool {
        if self.order.is_return {
            return true;
        }
        let line = &self.order.lines[l];
        self.world.free_stock_at(line.item, at) >= line.qty
    }

    /// The pairs of the nodes that have free stock for every line whole, node by node,
    /// each node's in line order, less the far ones a distance guard excludes (as
    /// [`Router::pairs`] leaves them out). When every line's SKU keeps its stockists as a
    /// set, the nodes are the sets' intersection; otherwise, the stockists of the line
    /// with the fewest, looked up in the other lines' stock lists (see
    /// [`Network::stock_position`]).
    pub(super) fn lone_pairs(&self, layers: &[Applied]) -> Vec<Pair> {
        let lines = &self.order.lines;
        if self.order.is_return {
            // Any node that receives every line receives the whole return.
            let pairs = self.receiving_pairs(layers);
            return (pairs.chunk_by(|a, b| a.node == b.node))
                .filter(|group| group.len() == lines.len())
                .flatten()
                .copied()
                .collect();
        }
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
}
