//! `allot simulate`: the example ruleset against a changed copy of itself.

use crate::cli::{allot, stdout, temp_dir};
use crate::{repo_root, snapshot_settings};
use std::path::{Path, PathBuf};

/// A copy of the example ruleset with DC-NJ switched off and a lower review threshold.
fn candidate(dir: &Path) -> PathBuf {
    let candidate = dir.join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    let example = repo_root().join("rulesets/example");
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "allot") {
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace(
                    "const review_value = 5_000 USD",
                    "const review_value = 900 USD",
                )
                .replace(
                    "exclude when not node.enabled                           because",
                    "exclude when not node.enabled or node.id == \"DC-NJ\"     because",
                );
            std::fs::write(candidate.join(path.file_name().unwrap()), text).unwrap();
        }
    }
    candidate
}

fn simulate(baseline: &str, candidate: &Path, extra: &[&str]) -> std::process::Output {
    let candidate = candidate.to_string_lossy();
    let mut args = vec![
        "simulate",
        "--baseline",
        baseline,
        "--candidate",
        &candidate,
        "--network",
        "rulesets/example/network.json",
        "--orders",
        "rulesets/example/orders.jsonl",
    ];
    args.extend_from_slice(extra);
    allot(&args, &repo_root())
}

#[test]
fn a_changed_ruleset_shows_what_changed() {
    let dir = temp_dir("simulate");
    let candidate = candidate(&dir);
    let output = simulate("rulesets/example", &candidate, &[]);
    assert_eq!(output.status.code(), Some(0));
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("simulate-example", stdout(&output));
    });

    let output = simulate("rulesets/example", &candidate, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["orders"], 16);
    assert_eq!(report["changed_orders"], 5);
    assert_eq!(report["changed"].as_array().unwrap().len(), 5);
    assert_eq!(report["candidate"]["statuses"]["held"], 3);
    let first = &report["changed"][0];
    assert_eq!(first["order"], "A-1001");
    assert_eq!(first["baseline"]["shipments"][0]["node"], "DC-NJ");
    assert_eq!(first["candidate"]["shipments"][0]["node"], "VEND-SOFA");
    assert_eq!(report["delta"]["shipments"], -1);
}

#[test]
fn the_same_ruleset_changes_nothing_and_plans_compare_like_rulesets() {
    let dir = temp_dir("simulate-same");
    let plan = dir.join("example.plan");
    let compiled = allot(
        &["compile", "rulesets/example", "-o", &plan.to_string_lossy()],
        &repo_root(),
    );
    assert_eq!(compiled.status.code(), Some(0));
    let output = simulate("rulesets/example", &plan, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("0 orders changed; 0 ship from a different set of nodes"),
        "{text}"
    );
}

#[test]
fn bad_inputs_exit_two() {
    let dir = temp_dir("simulate-bad");
    let output = simulate("rulesets/example", &dir.join("nowhere"), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nowhere"));
    std::fs::write(dir.join("broken.plan"), b"ALLOTPLN\x09\x00").unwrap();
    let output = simulate("rulesets/example", &dir.join("broken.plan"), &[]);
    assert_eq!(output.status.code(), Some(2));
}

/// `--report FILE`: the page is written beside the usual table; a path that cannot be
/// written is an error naming it. (tests/e2e/test.sh opens the page in Chromium.)
#[test]
fn the_report_is_written_as_one_page() {
    let dir = temp_dir("simulate-report");
    let candidate = candidate(&dir);
    let page = dir.join("report.html");
    let output = simulate(
        "rulesets/example",
        &candidate,
        &["--report", &page.to_string_lossy()],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("5 orders changed"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert_eq!(html.matches("<details id=\"order-").count(), 5);
    assert!(
        html.contains("excluded: us-default: exclude when not node.enabled"),
        "explained"
    );
    assert!(html.contains("<h2>Stage mix</h2>"));

    let nowhere = dir.join("no-such-dir/report.html");
    let output = simulate(
        "rulesets/example",
        &candidate,
        &["--report", &nowhere.to_string_lossy()],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("report.html: cannot write the report"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
