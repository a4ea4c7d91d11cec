//! An index of who stocks each SKU by latitude, built at load for a policy's first
//! distance guard, so that far nodes are never visited. It answers which nodes may be
//! within reach; deciding whether a node is excluded stays with the guard's rule.

use crate::eval::Code;
use crate::network::Network;
use crate::value::{EARTH_RADIUS_KM, Radius};

/// Per SKU, the stocking nodes a distance guard's node condition holds for, by
/// latitude, and the others: nodes the guard certainly excludes (outside the latitude
/// band of its distance, or beyond it on the chord) are never visited.
pub(super) struct NearIndex {
    radius: Radius,
    /// Per node: whether the guard's node condition holds there.
    applies_at: Vec<bool>,
    /// Per SKU: (latitude, node, position in the SKU's stock list).
    guarded: Vec<Vec<(f64, u32, u32)>>,
    /// Per SKU: (node, position in the SKU's stock list).
    others: Vec<Vec<(u32, u32)>>,
}

impl NearIndex {
    pub(super) fn new(radius: Radius, condition: Option<&Code>, network: &Network) -> NearIndex {
        let applies_at: Vec<bool> = (0..network.nodes.len() as u32)
            .map(|node| condition.is_none_or(|c| c.holds_at(node)))
            .collect();
        let mut guarded = Vec::with_capacity(network.stock.len());
        let mut others = Vec::with_capacity(network.stock.len());
        for list in &network.stock {
            let (near, rest): (Vec<_>, Vec<_>) = list
                .iter()
                .enumerate()
                .map(|(at, s)| (s.node, at as u32))
                .partition(|&(n, _)| applies_at[n as usize]);
            let mut near: Vec<(f64, u32, u32)> = near
                .into_iter()
                .map(|(n, at)| (network.nodes[n as usize].geo.lat, n, at))
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            guarded.push(near);
            others.push(rest);
        }
        NearIndex {
            radius,
            applies_at,
            guarded,
            others,
        }
    }

    /// Whether `node` may be within the guard's distance of the ship-to (at `ship_to` on
    /// the unit sphere), as [`NearIndex::candidates`] tells; `unit_vectors` are the nodes'.
    pub(super) fn may_reach(
        &self,
        node: u32,
        ship_to: &[f64; 3],
        unit_vectors: &[[f64; 3]],
    ) -> bool {
        !self.applies_at[node as usize]
            || !(self.radius).clearly_beyond(&unit_vectors[node as usize], ship_to)
    }

    /// The nodes stocking `item` that can be within `km` of the ship-to (at latitude
    /// `lat`, at `ship_to` on the unit sphere), with their positions in the item's stock
    /// list; `unit_vectors` are the nodes'.
    pub(super) fn candidates<'s>(
        &'s self,
        item: u32,
        lat: f64,
        ship_to: &'s [f64; 3],
        unit_vectors: &'s [[f64; 3]],
    ) -> impl Iterator<Item = (u32, u32)> + 's {
        // A great circle is at least as long as its latitude span.
        let reach = ((self.radius.km + 1e-6) / EARTH_RADIUS_KM).to_degrees();
        let list = &self.guarded[item as usize];
        let from = list.partition_point(|&(l, ..)| l < lat - reach);
        let to = list.partition_point(|&(l, ..)| l <= lat + reach);
        let near = list[from..to].iter().map(|&(_, n, at)| (n, at));
        self.others[item as usize]
            .iter()
            .copied()
            .chain(near.filter(move |&(n, _)| {
                !self
                    .radius
                    .clearly_beyond(&unit_vectors[n as usize], ship_to)
            }))
    }
}
