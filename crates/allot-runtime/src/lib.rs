//! The Allot routing runtime. It executes a compiled [`allot_plan::Plan`] against a
//! network snapshot, order after order, and explains every decision. It knows nothing
//! of the parser or the checker.
//!
//! - [`network`], [`order`]: the data a run reads, checked against the plan's schema;
//! - [`calendar`]: nodes' working calendars, and when a node can ship an order;
//! - `engine`: the [`Engine`] and the steps that decide an order, one module each (see
//!   its module doc, and `docs/routing.md` §9);
//! - `eval`: programs lowered at load and evaluated per node or over many nodes;
//! - `search`: the branch-and-bound search for the best plan;
//! - [`decision`]: what a decision says, and its explanation;
//! - [`explain()`]: a decision as a report for a person.

pub mod calendar;
pub mod decision;
mod engine;
mod eval;
mod explain;
pub mod network;
mod node_set;
pub mod order;
mod record;
mod search;
pub mod value;

pub use decision::{Decision, Status};
pub use engine::Engine;
pub use explain::explain;
pub use network::Network;
pub use order::{MAX_ORDER_LINES, Order};
pub use record::DataError;
pub use search::{BUDGET, EXACT_LINES, HEURISTIC_CANDIDATES};
