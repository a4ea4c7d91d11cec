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

/// `allot route --returns`: one decision per return request, each line received, kept
/// or disposed of; a malformed request is an `error` decision and the batch goes on;
/// `--returns` and `--orders` together are a usage error.
#[test]
fn returns_decisions() {
    let args = [
        "route",
        "--ruleset",
        "rulesets/returns",
        "--network",
        "rulesets/returns/network.json",
        "--returns",
        "rulesets/returns/returns.jsonl",
        "--quiet",
    ];
    let output = allot(&args, &repo_root());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    snapshot("route-returns", &stdout(&output));
    let mut text_args = args.to_vec();
    text_args.extend(["--explain", "--format", "text"]);
    snapshot(
        "route-returns-explained",
        &stdout(&allot(&text_args, &repo_root())),
    );
    let mut both = args.to_vec();
    both.extend(["--orders", "rulesets/returns/returns.jsonl"]);
    let output = allot(&both, &repo_root());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

fn route_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_allot"));
    command
        .args([
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            NETWORK,
        ])
        .current_dir(repo_root());
    command
}

/// The first decision is out while standard input is still open: orders are routed as
/// they arrive, not after the batch has been read.
#[test]
fn orders_are_routed_as_they_arrive() {
    use std::io::{BufRead, Write};
    let mut child = route_command()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = std::fs::read_to_string(repo_root().join(ORDERS)).unwrap();
    writeln!(stdin, "{}", lines.lines().next().unwrap()).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, first) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        sender.send(line).unwrap();
    });
    let decision = first.recv_timeout(std::time::Duration::from_secs(60));
    drop(stdin);
    child.wait().unwrap();
    assert!(
        decision
            .expect("a decision before the input ends")
            .starts_with("{\"order\":\"A-1001\"")
    );
}

/// A line too long or nested too deep is that order's error; a broken array ends the
/// batch after the orders before the fault, with exit status 2.
#[test]
fn bad_orders_in_a_stream_are_named_by_place() {
    let dir = temp_dir("stream");
    let first = std::fs::read_to_string(repo_root().join(ORDERS)).unwrap();
    let first = first.lines().next().unwrap().to_string();
    let long = format!("{{\"id\": \"{}\"}}", "x".repeat(17 << 20));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let lines = dir.join("orders.jsonl");
    std::fs::write(&lines, [first.as_str(), &long, &deep, &first].join("\n")).unwrap();
    let output = allot(
        &[
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            NETWORK,
            "--orders",
            lines.to_str().unwrap(),
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(0));
    let decisions: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let statuses: Vec<&str> = decisions
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["routed", "error", "error", "routed"]);
    assert_eq!(
        decisions[1]["message"],
        "orders line 2: longer than 16 MiB; one order per line"
    );
    let message = decisions[2]["message"].as_str().unwrap();
    assert!(
        message.starts_with("orders line 3: not valid JSON: recursion limit exceeded"),
        "{message}"
    );

    let array = dir.join("orders.json");
    std::fs::write(&array, format!("[{first}, {first}, {{\"id\": ]")).unwrap();
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
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output).lines().count(), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "orders.json: not a valid JSON array of orders: expected value at line 1 column"
        ) && stderr.contains("(after 2 orders)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Peak memory of `allot route`, in KiB, on `count` copies of the example's first order
/// (measured by /usr/bin/time).
fn peak_memory_routing(dir: &std::path::Path, count: usize) -> u64 {
    let first = std::fs::read_to_string(repo_root().join(ORDERS)).unwrap();
    let first = first.lines().next().unwrap();
    let orders = dir.join(format!("{count}.jsonl"));
    std::fs::write(&orders, format!("{first}\n").repeat(count)).unwrap();
    let report = dir.join(format!("{count}.time"));
    let output = std::process::Command::new("/usr/bin/time")
        .args([
            "-f",
            "%M",
            "-o",
            report.to_str().unwrap(),
            env!("CARGO_BIN_EXE_allot"),
        ])
        .args([
            "route",
            "--ruleset",
            "rulesets/example",
            "--network",
            NETWORK,
            "--orders",
        ])
        .arg(&orders)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(report)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Ten times the orders take no more memory: input and output are streamed.
#[test]
fn memory_does_not_grow_with_the_batch() {
    let dir = temp_dir("memory");
    let small = peak_memory_routing(&dir, 2_000);
    let large = peak_memory_routing(&dir, 20_000);
    assert!(
        large < small + (4 << 10),
        "2,000 orders: {small} KiB; 20,000 orders: {large} KiB"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--format text`: each decision as a report a person reads, with and without the
/// explanation.
#[test]
fn decisions_as_text() {
    let output = route_example(&["--ruleset", "rulesets/example"], &["--format", "text"]);
    assert_eq!(output.status.code(), Some(0));
    snapshot("route-example-text", &stdout(&output));
    let output = route_example(
        &["--ruleset", "rulesets/example"],
        &["--explain", "--format", "text"],
    );
    assert_eq!(output.status.code(), Some(0));
    snapshot("route-example-explained-text", &stdout(&output));
}

/// `command` run on a terminal (util-linux `script`): what it wrote there.
fn on_a_terminal(command: &str) -> String {
    let output = std::process::Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(repo_root())
        .output()
        .expect("script runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A person at a terminal gets a summary line at the end; `--quiet`, or no terminal,
/// gets none.
#[test]
fn a_summary_line_on_a_terminal_unless_quiet() {
    let allot = env!("CARGO_BIN_EXE_allot");
    let route = format!(
        "{allot} route --ruleset rulesets/example --network {NETWORK} --orders {ORDERS} > /dev/null"
    );
    let summary = on_a_terminal(&route);
    assert!(
        summary.contains("16 orders in ")
            && summary.contains("orders/s): 8 routed, 1 partial, 3 rejected, 1 held, 3 errors"),
        "{summary}"
    );
    let quiet = on_a_terminal(&format!(
        "{allot} route -q --ruleset rulesets/example --network {NETWORK} --orders {ORDERS} > /dev/null"
    ));
    assert_eq!(quiet.trim(), "");
    let simulate = on_a_terminal(&format!(
        "{allot} simulate --baseline rulesets/example --candidate rulesets/example --network {NETWORK} --orders {ORDERS} > /dev/null"
    ));
    assert!(simulate.contains("16 orders in "), "{simulate}");
    let piped = route_example(&["--ruleset", "rulesets/example"], &[]);
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
}
