//! `allot test`: run the scenarios of `*.test.toml` files against their rulesets.

use crate::exit;
use crate::route::compile_ruleset;
use allot_test::{Outcome, Runner, TestFile, coverage, is_test_file};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
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
    /// `junit` prints a JUnit XML report instead (one test suite per test file), for
    /// CI systems that show test results.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Junit,
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

/// Tallies, what to print after the per-scenario lines, and each scenario's result
/// for a JUnit report.
struct Summary {
    format: Format,
    passed: usize,
    failed: usize,
    details: String,
    suites: BTreeMap<String, Vec<TestCase>>,
}

impl Summary {
    /// A scenario's result: a line for people, a test case for JUnit.
    fn case(&mut self, file: &Path, name: &str, line: String, status: TestCaseStatus) {
        if self.format == Format::Human {
            say(&format!("{line}\n"));
        }
        match status {
            TestCaseStatus::Success { .. } => self.passed += 1,
            _ => self.failed += 1,
        }
        let file = file.display().to_string();
        let mut case = TestCase::new(name, status);
        case.set_classname(file.clone());
        self.suites.entry(file).or_default().push(case);
    }

    fn junit(&self) -> String {
        let mut report = Report::new("allot test");
        for (file, cases) in &self.suites {
            let mut suite = TestSuite::new(file.as_str());
            suite.add_test_cases(cases.iter().cloned());
            report.add_test_suite(suite);
        }
        report.to_string().expect("a JUnit report serializes")
    }
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error.
fn say(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn not_passed(kind: NonSuccessKind, message: &str, description: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(message);
    if !description.is_empty() {
        status.set_description(description);
    }
    status
}

pub fn run(args: &TestArgs) -> u8 {
    let files = match test_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let mut summary = Summary {
        format: args.format,
        passed: 0,
        failed: 0,
        details: String::new(),
        suites: BTreeMap::new(),
    };
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
            Err(message) => summary.case(
                &path,
                "(the test file)",
                format!("error   {message}"),
                not_passed(
                    NonSuccessKind::Error,
                    "the test file is invalid",
                    message.clone(),
                ),
            ),
        }
    }
    for files in by_ruleset.values() {
        run_ruleset(files, args.coverage, &mut summary);
    }
    match args.format {
        Format::Human => {
            say(&summary.details);
            say(&format!(
                "{} passed, {} failed\n",
                summary.passed, summary.failed
            ));
        }
        Format::Junit => say(&format!("{}\n", summary.junit())),
    }
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
                    let name = scenario.get_ref().name.get_ref();
                    summary.case(
                        &file.path,
                        name,
                        format!(
                            "FAILED  {}: {name} (the ruleset does not compile)",
                            file.path.display()
                        ),
                        not_passed(
                            NonSuccessKind::Error,
                            "the ruleset does not compile",
                            failure.message.clone(),
                        ),
                    );
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
                Outcome::Passed => summary.case(
                    &file.path,
                    &report.name,
                    format!("ok      {path}: {}", report.name),
                    TestCaseStatus::success(),
                ),
                Outcome::Failed {
                    mismatches,
                    explanations,
                } => {
                    let mut description = String::new();
                    for mismatch in &mismatches {
                        let _ = writeln!(description, "  {mismatch}");
                    }
                    for explanation in explanations {
                        let _ = writeln!(
                            description,
                            "\n  decision of {}",
                            explanation.trim_end().replace('\n', "\n  ")
                        );
                    }
                    let _ = write!(
                        summary.details,
                        "\n---- {path}: {} ----\n{description}",
                        report.name
                    );
                    let message = format!(
                        "{} expectation{} did not hold",
                        mismatches.len(),
                        if mismatches.len() == 1 { "" } else { "s" }
                    );
                    summary.case(
                        &file.path,
                        &report.name,
                        format!("FAILED  {path}: {}", report.name),
                        not_passed(NonSuccessKind::Failure, &message, description),
                    );
                }
                Outcome::Invalid(error) => summary.case(
                    &file.path,
                    &report.name,
                    format!("error   {error} (in scenario \"{}\")", report.name),
                    not_passed(
                        NonSuccessKind::Error,
                        "the scenario is invalid",
                        error.to_string(),
                    ),
                ),
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
