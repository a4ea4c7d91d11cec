//! The compiled form of an Allot ruleset: flat programs for a stack machine, the
//! policies that use them, and the versioned artifact that stores them. The runtime
//! depends on this crate alone: no parser, no checker.

mod artifact;
mod display;
mod plan;
mod program;
mod tree;
mod validate;

pub use artifact::{Artifact, ArtifactError, FORMAT_VERSION, MAGIC, ruleset_hash};
pub use plan::*;
pub use program::*;
pub use tree::{MAX_TREE_DEPTH, Tree};
