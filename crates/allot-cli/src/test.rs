//! `allot test`: run the scenarios of `*.test.toml` files against their rulesets.

use crate::exit;
use crate::route::compile_ruleset;
use allot_test::{Outcome, Runner, TestFile, coverage, is_test_file};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Test files (`*.test.toml`), or directories searched for them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also list the rules (exclusions, costs, stages, reject, hold, safety stock,
    /// shortage, profiles) that no scenario exercised.
    #[arg(long)]
    coverage: bool,
}

/// Every test file the paths name, sorted.
fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        if metadata.is_dir() {
            let before = out.len();
            walk(path, &mut out)?;
            if out.len() == before {
                return Err(format!(
                    "{}: no test files (*.test.toml) in this directory or below",
                    path.display()
                ));
            }
        } else if is_test_file(path) {
            out.push(path.clone());
        } else {
            return Err(format!(
                "{}: not a test file: test files are named *.test.toml",
                path.display()
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Test files below `dir`; links to directories are not followed (no cycles).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: cannot read: {e}", entry.path().display()))?;
        paths.push((entry.path(), kind.is_dir()));
    }
    for (path, is_dir) in paths {
        if is_dir {
            walk(&path, out)?;
        } else if is_test_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Tallies and what to print after the per-scenario lines.
#[derive(Default)]
struct Summary {
    passed: usize,
    failed: usize,
    details: String,
}

pub fn run(args: &TestArgs) -> u8 {
    let files = match test_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let mut summary = Summary::default();
    // Test files grouped by the ruleset they test, so each is compiled once.
    let mut by_ruleset: BTreeMap<PathBuf, Vec<TestFile>> = BTreeMap::new();
    for path in files {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))
            .and_then(|text| TestFile::parse(&path, text).map_err(|e| e.to_string()));
        match parsed {
            Ok(file) => {
                let key = std::fs::canonicalize(&file.ruleset).unwrap_or(file.ruleset.clone());
                by_ruleset.entry(key).or_default().push(file);
            }
            Err(message) => {
                println!("error   {message}");
                summary.failed += 1;
            }
        }
    }
    for files in by_ruleset.values() {
        run_ruleset(files, args.coverage, &mut summary);
    }
    print!("{}", summary.details);
    println!("{} passed, {} failed", summary.passed, summary.failed);
    if summary.failed == 0 {
        exit::OK
    } else {
        exit::FAILED
    }
}

fn run_ruleset(files: &[TestFile], with_coverage: bool, summary: &mut Summary) {
    let ruleset = &files[0].ruleset;
    let plan = match compile_ruleset(ruleset) {
        Ok((plan, _)) => plan,
        Err(failure) => {
            for file in files {
                for scenario in &file.scenarios {
                    println!(
                        "FAILED  {}: {} (the ruleset does not compile)",
                        file.path.display(),
                        scenario.get_ref().name.get_ref()
                    );
                    summary.failed += 1;
                }
            }
            let _ = writeln!(
                summary.details,
                "\n{}: the ruleset under test does not compile:\n{}",
                ruleset.display(),
                failure.message
            );
            return;
        }
    };
    let mut runner = Runner::new(&plan);
    for file in files {
        for report in runner.run_file(file) {
            let path = file.path.display();
            match report.outcome {
                Outcome::Passed => {
                    println!("ok      {path}: {}", report.name);
                    summary.passed += 1;
                }
                Outcome::Failed {
                    mismatches,
                    explanations,
                } => {
                    println!("FAILED  {path}: {}", report.name);
                    summary.failed += 1;
                    let _ = writeln!(summary.details, "\n---- {path}: {} ----", report.name);
                    for mismatch in mismatches {
                        let _ = writeln!(summary.details, "  {mismatch}");
                    }
                    for explanation in explanations {
                        let _ = writeln!(
                            summary.details,
                            "\n  decision of {}",
                            explanation.trim_end().replace('\n', "\n  ")
                        );
                    }
                }
                Outcome::Invalid(error) => {
                    println!("error   {error} (in scenario \"{}\")", report.name);
                    summary.failed += 1;
                }
            }
        }
    }
    if with_coverage {
        let (total, missed) = coverage::unexercised(&plan, runner.exercised());
        let _ = writeln!(
            summary.details,
            "\ncoverage of {}: {} of {total} rules exercised",
            ruleset.display(),
            total - missed.len()
        );
        for rule in missed {
            let _ = writeln!(
                summary.details,
                "  not exercised: {} {}: {}",
                rule.at, rule.owner, rule.text
            );
        }
    }
}
