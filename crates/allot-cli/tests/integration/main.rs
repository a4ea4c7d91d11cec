//! Integration tests of the front end and the command line, in one test binary.

mod cli;
mod corpus;
mod policy_tests;
mod properties;
mod route;
mod scale_out;
mod serve;
mod simulate;

use std::path::PathBuf;

/// Snapshots live in the repository's `tests/snapshots`, named by the test alone.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(repo_root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The repository root (where `tests/` and `rulesets/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}
