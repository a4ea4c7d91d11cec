//! `allot route`, `allot compile` and `allot plan` on the example ruleset.

use crate::cli::{allot, stdout, temp_dir};
use crate::{repo_root, snapshot_settings};
use std::process::Output;

const NETWORK: &str = "rulesets/example/network.json";
const ORDERS: &str = "rulesets/example/orders.jsonl";

fn snapshot(name: &str, text: &str) {
    snapshot_settings().bind(|| insta::assert_snapshot!(name, text));
}

/// `allot route` on the example's network and orders, with the rules given by `rules`.
fn route_example(rules: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["route"];
    args.extend(rules);
    args.extend(["--network", NETWORK, "--orders", ORDERS]);
    args.extend(extra);
    allot(&args, &repo_root())
}

#[test]
fn example_decisions() {
    let output = route_example(&["--ruleset", "rulesets/example"], &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    let orders = std::fs::read_to_string(repo_root().join(ORDERS)).unwrap();
    assert_eq!(
        text.lines().count(),
        orders.lines().count(),
        "one decision per order, malformed ones included"
    );
    snapshot("route-example", &text);
}

#[test]
fn example_explanations() {
    let output = route_example(&["--ruleset", "rulesets/example"], &["--explain"]);
    // Explaining changes nothing but the trace.
    let plain = route_example(&["--ruleset", "rulesets/example"], &[]);
    let without_trace: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            value.as_object_mut().unwrap().remove("trace");
            value
        })
        .collect();
    let decisions: Vec<serde_json::Value> = stdout(&plain)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(without_trace, decisions);
    let pretty: Vec<String> = stdout(&output)
        .lines()
        .map(|line| {
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(line).unwrap())
                .unwrap()
        })
        .collect();
    snapshot("route-example-explain", &pretty.join("\n"));
}

#[test]
fn example_plan() {
    let output = allot(&["plan", "rulesets/example"], &repo_root());
    assert_eq!(output.status.code(), Some(0));
    snapshot("plan-example", &stdout(&output));
}

#[test]
fn a_compiled_plan_routes_like_the_ruleset_and_refuses_damage() {
    let dir = temp_dir("compile");
    let plan = dir.join("example.plan");
    let plan_arg = plan.to_str().unwrap();
    let output = allot(
        &["compile", "rulesets/example", "-o", plan_arg],
        &repo_root(),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_ruleset = route_example(&["--ruleset", "rulesets/example"], &[]);
    let from_plan = route_example(&["--plan", plan_arg], &[]);
    assert_eq!(stdout(&from_plan), stdout(&from_ruleset));

    let bytes = std::fs::read(&plan).unwrap();
    for (name, damaged, message) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec(), "truncated"),
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let at = b.len() - 3;
                b[at] ^= 1;
                b
            },
            "corrupted",
        ),
        (
            "version",
            {
                let mut b = bytes.clone();
                b[8] = 9;
                b
            },
            "plan format version 9",
        ),
        ("json", b"{}".to_vec(), "not a compiled Allot plan"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, damaged).unwrap();
        let output = allot(
            &[
                "route",
                "--plan",
                path.to_str().unwrap(),
                "--network",
                NETWORK,
                "--orders",
                ORDERS,
            ],
            &repo_root(),
        );
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{name}: {stderr}");
    }
}

#[test]
fn orders_as_an_array_or_from_standard_input() {
    let dir = temp_dir("orders");
    let lines = std::fs::read_to_string(repo_root().join(ORDERS)).unwrap();
    // The valid orders as one JSON array.
    let values: Vec<serde_json::Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let array = dir.join("orders.json");
    std::fs::write(&array, serde_json::to_string(&values).unwrap()).unwrap();
    let output = allot(
        &[
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            NETWORK,
            "--orders",
            array.to_str().unwrap(),
        ],
        &repo_root(),
    );
    assert_eq!(stdout(&output).lines().count(), values.len());

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_allot"))
        .args([
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            NETWORK,
        ])
        .current_dir(repo_root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.lines().next().unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(stdout(&output).starts_with("{\"order\":\"A-1001\""));
}

#[test]
fn bad_inputs_exit_two_with_the_reason() {
    let dir = temp_dir("bad-network");
    let network = dir.join("network.json");
    std::fs::write(
        &network,
        r#"{"currency": "USD", "nodes": [{"id": "N", "kind": "dc", "lat": 100, "lon": 0}]}"#,
    )
    .unwrap();
    let output = allot(
        &[
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            network.to_str().unwrap(),
            "--orders",
            ORDERS,
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("nodes[0] \"N\": field `lat`: must be between -90 and 90, not 100")
    );

    let output = allot(
        &[
            "route",
            "--ruleset",
            "tests/corpus/invalid/E0102-unknown-attribute.allot",
            "--network",
            NETWORK,
            "--orders",
            ORDERS,
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing was compiled"));

    let output = allot(&["route", "--network", NETWORK], &repo_root());
    assert_eq!(
        output.status.code(),
        Some(2),
        "--ruleset or --plan is required"
    );
}
