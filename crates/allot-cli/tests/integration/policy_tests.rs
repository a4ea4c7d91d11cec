//! `allot test`: scenarios that pass, fail, and are malformed; coverage.

use crate::cli::{allot, stdout, temp_dir};
use crate::{repo_root, snapshot_settings};

#[test]
fn every_ruleset_passes_its_tests_and_covers_its_rules() {
    let output = allot(&["test", "--coverage", "rulesets"], &repo_root());
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.ends_with(" passed, 0 failed\n"), "{text}");
    assert!(!text.contains("not exercised"), "{text}");
}

#[test]
fn failures_show_expected_against_actual_and_the_explanation() {
    let output = allot(
        &["test", "tests/policy-tests/failing.test.toml"],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("policy-test-failures", stdout(&output));
    });
}

#[test]
fn malformed_test_files_say_where_and_what() {
    let dir = repo_root().join("tests/policy-tests/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut text = String::new();
    for file in files {
        let name = format!(
            "tests/policy-tests/malformed/{}",
            file.file_name().unwrap().to_string_lossy()
        );
        let output = allot(&["test", &name], &repo_root());
        assert_eq!(output.status.code(), Some(1), "{name}");
        text.push_str(&stdout(&output));
        text.push('\n');
    }
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("policy-test-malformed", text);
    });
}

#[test]
fn coverage_lists_the_rules_no_scenario_exercised() {
    let dir = temp_dir("coverage");
    let ruleset = repo_root().join("rulesets/example");
    let test = format!(
        r#"ruleset = "{ruleset}"
network = "{ruleset}/network.json"

[[scenario]]
name = "one tee"

[[scenario.order]]
id = "A-1"
channel = "web"
ship_to = {{ lat = 40.71, lon = -74.0, country = "US" }}
lines = [{{ id = "1", sku = "TEE-BLK", qty = 1 }}]

[[scenario.expect]]
status = "routed"
"#,
        ruleset = ruleset.display()
    );
    std::fs::write(dir.join("one.test.toml"), test).unwrap();
    let output = allot(&["test", "--coverage", "one.test.toml"], &dir);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // The tee order meets the policy, its costs, its safety stock and two exclusions;
    // nothing of the profiles or the other policies.
    assert!(text.contains("coverage of "), "{text}");
    assert!(text.contains("of 43 rules exercised"), "{text}");
    for missed in [
        "compliance \"bigbox-dropship\": applies when order.retailer == \"bigbox\"",
        "policy \"us-default\": hold when order.value > review_value",
        "policy \"marketplace\": stage \"dropship\"",
        "policy \"same-day\": cost courier",
    ] {
        assert!(text.contains(missed), "{missed} in {text}");
    }
    for exercised in [
        "policy \"us-default\": applies when",
        "exclude when not node.enabled",
        "safety stock 2 when node.kind == store",
        "cost shipping",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(exercised) && l.contains("us-default"));
        assert!(line.is_none(), "{exercised} was exercised: {text}");
    }
}

#[test]
fn paths_that_hold_no_tests_are_usage_errors() {
    let dir = temp_dir("no-tests");
    std::fs::write(dir.join("notes.toml"), "").unwrap();
    let output = allot(&["test", "."], &dir);
    assert_eq!(output.status.code(), Some(2));
    let output = allot(&["test", "notes.toml"], &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("named *.test.toml"));
}

#[test]
fn a_ruleset_with_errors_fails_its_scenarios() {
    let dir = temp_dir("broken-ruleset");
    std::fs::write(dir.join("broken.allot"), "policy \"p\" { exclude when }\n").unwrap();
    std::fs::write(
        dir.join("p.test.toml"),
        "[[scenario]]\nname = \"s\"\nnetwork = { currency = \"USD\" }\n\
         [[scenario.order]]\nid = \"A\"\n[[scenario.expect]]\nstatus = \"routed\"\n",
    )
    .unwrap();
    let output = allot(&["test", "."], &dir);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAILED  ./p.test.toml: s (the ruleset does not compile)"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}

/// `--format junit`: a JUnit XML report, one test suite per test file, a failure per
/// failed scenario with what was expected, an error per malformed scenario or file.
#[test]
fn junit_report() {
    let malformed = std::fs::read_dir(repo_root().join("tests/policy-tests/malformed"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let malformed = malformed
        .strip_prefix(repo_root())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let output = allot(
        &[
            "test",
            "--format",
            "junit",
            "tests/policy-tests/failing.test.toml",
            &malformed,
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"allot test\""
        ),
        "{text}"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("policy-test-junit", text));
}
