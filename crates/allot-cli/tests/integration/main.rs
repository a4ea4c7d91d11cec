//! Integration tests of the front end and the command line, in one test binary.

mod cli;
mod corpus;
mod properties;
mod route;

use std::path::PathBuf;

/// The repository root (where `tests/` and `rulesets/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}
