//! What programs read besides the order and its lines: the network and the stock and
//! load routing has left ([`World`]), the ship-to's distance to each node and each
//! calendar's ship date computed once per order, the totals of a shipment, and the cache
//! of `let` values. These are read, never changed, while a program runs.

use crate::calendar::{Placed, ShipTimes};
use crate::network::{Network, Schema};
use allot_plan::Level;
use std::cell::Cell;

use super::Code;
use crate::value::{V, chord_km};

/// The network and what routing has taken from it so far.
pub(crate) struct World<'a> {
    pub network: &'a Network,
    pub schema: &'a Schema,
    /// Per node: orders taken (the loaded load plus shipments made in this batch).
    pub load: &'a [f64],
    /// Per node: its load over its capacity (0 without one).
    pub(super) utilization: &'a [f64],
    /// Parallel to `network.stock`: units on hand, less reserved, less what this batch
    /// has taken.
    pub free: &'a [Vec<i64>],
    /// Each node's place on the unit sphere.
    pub unit_vectors: &'a [[f64; 3]],
    /// The order's ship-to on the unit sphere.
    pub ship_to: [f64; 3],
    distances: &'a PerOrder<f64>,
    /// When the order was placed, and the ship times of each calendar for it.
    placed: Option<Placed>,
    ship_times: &'a PerOrder<ShipTimes>,
    /// This order's stamp in `distances` and `ship_times`.
    stamp: u32,
}

/// Values computed once per order and asked for again and again: per node, its distance
/// to the ship-to (rules, guards and every shipment's costs read it); per calendar, when
/// a node keeping it can ship. Kept from order to order, each entry stamped with the
/// order it was computed for, so that a new order forgets them all without touching
/// them.
pub(crate) struct PerOrder<T: Copy> {
    entries: Box<[Cell<(u32, T)>]>,
}

impl<T: Copy + Default> PerOrder<T> {
    fn new(len: usize) -> PerOrder<T> {
        PerOrder {
            entries: (0..len).map(|_| Cell::new((0, T::default()))).collect(),
        }
    }

    fn forget(&self) {
        self.entries.iter().for_each(|e| e.set((0, T::default())));
    }

    /// The value at `index` for the order of `stamp`, computed by `compute` the first
    /// time it is asked for.
    fn get(&self, index: usize, stamp: u32, compute: impl FnOnce() -> T) -> T {
        let entry = &self.entries[index];
        match entry.get() {
            (at, value) if at == stamp => value,
            _ => {
                let value = compute();
                entry.set((stamp, value));
                value
            }
        }
    }
}

/// What the engine keeps for [`World`] from order to order.
pub(crate) struct PerOrderCaches {
    distances: PerOrder<f64>,
    ship_times: PerOrder<ShipTimes>,
    last_stamp: Cell<u32>,
}

impl PerOrderCaches {
    pub fn new(network: &Network) -> PerOrderCaches {
        PerOrderCaches {
            distances: PerOrder::new(network.nodes.len()),
            ship_times: PerOrder::new(network.calendars.len()),
            last_stamp: Cell::new(0),
        }
    }

    /// The stamp of a new order: no value computed before holds for it.
    fn next_stamp(&self) -> u32 {
        let stamp = self.last_stamp.get().wrapping_add(1);
        // After four billion orders the stamps come round again: forget everything.
        let stamp = if stamp == 0 {
            self.distances.forget();
            self.ship_times.forget();
            1
        } else {
            stamp
        };
        self.last_stamp.set(stamp);
        stamp
    }
}

impl<'a> World<'a> {
    pub fn new(
        network: &'a Network,
        schema: &'a Schema,
        (load, utilization): (&'a [f64], &'a [f64]),
        free: &'a [Vec<i64>],
        unit_vectors: &'a [[f64; 3]],
        (ship_to, placed): ([f64; 3], Option<Placed>),
        caches: &'a PerOrderCaches,
    ) -> World<'a> {
        let stamp = caches.next_stamp();
        World {
            network,
            schema,
            load,
            utilization,
            free,
            unit_vectors,
            ship_to,
            distances: &caches.distances,
            placed,
            ship_times: &caches.ship_times,
            stamp,
        }
    }

    /// The distance from a node to the order's ship-to, computed once per order.
    pub fn ship_to_km(&self, node: u32) -> f64 {
        self.distances.get(node as usize, self.stamp, || {
            chord_km(&self.unit_vectors[node as usize], &self.ship_to)
        })
    }

    /// When a node can ship the order (`None` when the order does not say when it was
    /// placed), computed once per order and calendar.
    pub fn ship_times(&self, node: u32) -> Option<ShipTimes> {
        let placed = self.placed?;
        let calendar = self.network.nodes[node as usize].calendar as usize;
        Some(self.ship_times.get(calendar, self.stamp, || {
            self.network.calendars[calendar].ship_times(placed)
        }))
    }

    /// on_hand − reserved − taken in this batch, before safety stock.
    pub fn free_stock(&self, item: u32, node: u32) -> i64 {
        match self.network.stock_position(item, node) {
            Some(at) => self.free_stock_at(item, at as u32),
            None => 0,
        }
    }

    /// [`World::free_stock`] of the `at`-th entry of the item's stock list.
    pub fn free_stock_at(&self, item: u32, at: u32) -> i64 {
        self.free[item as usize][at as usize]
    }
}

/// The totals of one shipment, for `shipment.*`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShipmentTotals {
    pub weight: f64,
    pub units: f64,
    pub lines: f64,
    pub value: f64,
}

/// Cached `let` values of the policy being evaluated; cleared as the context moves.
#[derive(Clone, Debug, Default)]
pub(crate) struct LetCache {
    pub(super) values: Vec<Option<V>>,
}

impl LetCache {
    pub fn new(lets: usize) -> LetCache {
        LetCache {
            values: vec![None; lets],
        }
    }

    /// Forgets the values of the `let`s whose level `stale` says changed.
    pub fn forget(&mut self, lets: &[Code], stale: impl Fn(Level) -> bool) {
        for (value, code) in self.values.iter_mut().zip(lets) {
            if stale(code.level) {
                *value = None;
            }
        }
    }
}
