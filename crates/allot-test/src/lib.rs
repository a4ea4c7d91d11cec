//! Policy tests for Allot rulesets. A test file (`*.test.toml`) names a ruleset and a
//! network, and holds scenarios: orders routed in sequence, and expectations about
//! their decisions — status, which node ships which line, shipments, exclusions by
//! rule, cost bounds. Running them also records which rules they exercised, for
//! `allot test --coverage`. The format is documented in `docs/testing.md`.

pub mod coverage;
mod format;
mod run;

pub use format::{TestFile, TestFileError, is_test_file};
pub use run::{Outcome, Runner, ScenarioReport};
