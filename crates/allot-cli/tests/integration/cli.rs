//! The `allot` binary as CI runs it: exit statuses, output formats, path handling.

use crate::repo_root;
use std::path::Path;
use std::process::{Command, Output};

pub fn allot(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_allot"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs allot")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("allot-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn clean_rulesets_exit_zero() {
    let output = allot(&["check", "--deny-warnings", "rulesets"], &repo_root());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("no problems"));
}

#[test]
fn errors_exit_one_and_render_file_line_column_and_source() {
    let output = allot(
        &["check", "tests/corpus/invalid/E0204-missing-unit.allot"],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("tests/corpus/invalid/E0204-missing-unit.allot:2:48"),
        "{text}"
    );
    assert!(
        text.contains("exclude when distance(node, order.ship_to) < 50"),
        "{text}"
    );
    assert!(text.contains("1 error, 0 warnings"), "{text}");
}

#[test]
fn warnings_pass_unless_denied() {
    let file = "tests/corpus/invalid/W0001-unused-const.allot";
    assert_eq!(allot(&["check", file], &repo_root()).status.code(), Some(0));
    assert_eq!(
        allot(&["check", "--deny-warnings", file], &repo_root())
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn json_format_follows_the_contract() {
    let output = allot(
        &[
            "check",
            "--format",
            "json",
            "tests/corpus/invalid/E0102-unknown-attribute.allot",
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document");
    let diagnostic = &json.as_array().expect("an array")[0];
    let keys: Vec<&str> = diagnostic
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "severity",
        "code",
        "message",
        "help",
    ];
    expected.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(diagnostic["line"], 2);
    assert_eq!(diagnostic["column"], 22);
    assert_eq!(diagnostic["end_column"], 28);
    assert_eq!(diagnostic["severity"], "error");
    assert_eq!(diagnostic["code"], "E0102");
    assert_eq!(diagnostic["help"], "did you mean `channel`?");
}

#[test]
fn json_of_a_clean_ruleset_is_an_empty_array() {
    let output = allot(&["check", "--format", "json", "rulesets"], &repo_root());
    assert_eq!(stdout(&output).trim(), "[]");
}

#[test]
fn missing_paths_and_unreadable_files_exit_two() {
    let output = allot(&["check", "no/such/place.allot"], &repo_root());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no/such/place.allot: no such file or directory")
    );

    let dir = temp_dir("binary");
    std::fs::write(dir.join("bad.allot"), [0xff, 0xfe, 0x00]).unwrap();
    let output = allot(&["check", "bad.allot"], &dir);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid UTF-8"));

    let empty = temp_dir("empty");
    assert_eq!(allot(&["check", "."], &empty).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(allot(&["check"], &repo_root()).status.code(), Some(2));
    assert_eq!(
        allot(&["check", "--format", "xml", "rulesets"], &repo_root())
            .status
            .code(),
        Some(2)
    );
}

/// The files directly inside one directory see each other's declarations; files of
/// another directory do not.
#[test]
fn a_directory_is_one_ruleset() {
    let dir = temp_dir("rulesets");
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("a/consts.allot"), "const radius = 5 km\n").unwrap();
    std::fs::write(
        dir.join("a/policy.allot"),
        "policy \"p\" {\n  exclude when distance(node, order.ship_to) > radius\n}\n",
    )
    .unwrap();
    let output = allot(&["check", "--deny-warnings", "a"], &dir);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    std::fs::write(
        dir.join("b/policy.allot"),
        "policy \"q\" {\n  exclude when distance(node, order.ship_to) > radius\n}\n",
    )
    .unwrap();
    let output = allot(&["check", "."], &dir);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("unknown name `radius`") && text.contains("b/policy.allot"),
        "{text}"
    );
    assert!(text.contains("3 files in 2 rulesets"), "{text}");
}

#[test]
fn every_error_in_a_file_is_reported_in_one_run() {
    let dir = temp_dir("recovery");
    std::fs::write(
        dir.join("broken.allot"),
        "const a = 1 +\n\npolicy \"p\" {\n  priority 1 1\n  exclude when node.kind == sotre\n  let = 3\n  exclude when distance(node, order.ship_to) > 5\n}\n\ntable t(x: distance) -> money {\n  _ => 5\n}\nconst b = t(3 km)\n",
    )
    .unwrap();
    let output = allot(&["check", "--format", "json", "broken.allot"], &dir);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<(&str, u64)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("E0001", 1),
            ("E0001", 4),
            ("E0104", 5),
            ("E0001", 6),
            ("E0204", 7),
            ("E0201", 11)
        ],
    );
}

/// pest reports bytes; people count characters.
#[test]
fn columns_count_characters_after_non_ascii_text() {
    let dir = temp_dir("unicode");
    std::fs::write(
        dir.join("u.allot"),
        "policy \"café–crème\" { exclude when node.kind == sotre }\n",
    )
    .unwrap();
    let output = allot(&["check", "--format", "json", "u.allot"], &dir);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let d = &json[0];
    assert_eq!(d["code"], "E0104");
    // `sotre` starts at character 49 (1-based), though at byte 53.
    assert_eq!(
        (
            d["line"].as_u64(),
            d["column"].as_u64(),
            d["end_column"].as_u64()
        ),
        (Some(1), Some(49), Some(54))
    );
    let human = stdout(&allot(&["check", "u.allot"], &dir));
    assert!(human.contains("u.allot:1:49"), "{human}");
}

#[test]
fn fmt_rewrites_checks_and_diffs() {
    let dir = temp_dir("fmt");
    std::fs::write(dir.join("a.allot"), "const  a=1   km\n").unwrap();
    std::fs::write(dir.join("broken.allot"), "const a = \n").unwrap();
    std::fs::write(dir.join("good.allot"), "const b = 2 km\n").unwrap();

    let output = allot(&["fmt", "--check", "."], &dir);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("would reformat ./a.allot") && !text.contains("good.allot"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("broken.allot: not formatted: the file has 1 syntax error")
    );

    let output = allot(&["fmt", "--diff", "a.allot"], &dir);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("-const  a=1   km\n+const a = 1 km\n"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("a.allot")).unwrap(),
        "const  a=1   km\n",
        "--diff changes nothing"
    );

    let output = allot(&["fmt", "a.allot", "broken.allot"], &dir);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the broken file fails the run"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("a.allot")).unwrap(),
        "const a = 1 km\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("broken.allot")).unwrap(),
        "const a = \n",
        "left untouched"
    );
    assert_eq!(
        allot(&["fmt", "--check", "a.allot", "good.allot"], &dir)
            .status
            .code(),
        Some(0)
    );
}

/// A source file over the limit is refused by its size, before it is read (a sparse
/// 100 MB file here).
#[test]
fn a_source_file_over_the_size_limit_is_refused_unread() {
    let dir = temp_dir("too-large");
    let file = dir.join("huge.allot");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    for command in ["check", "fmt"] {
        let output = allot(&[command, "huge.allot"], &dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr
                .contains("huge.allot: this file is 100.0 MiB; a source file may be at most 8 MiB"),
            "{command}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--format github`: one workflow command per diagnostic, properties and message
/// escaped as the Actions runner reads them, then the summary.
#[test]
fn github_annotations() {
    let output = allot(
        &[
            "check",
            "--format",
            "github",
            "tests/corpus/invalid/E0204-missing-unit.allot",
            "tests/corpus/invalid/W0001-unused-const.allot",
            "tests/corpus/invalid/E0004-unclosed-delimiter.allot",
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    crate::snapshot_settings().bind(|| insta::assert_snapshot!("check-github", stdout(&output)));
}

/// The SARIF 2.1.0 schema, as OASIS publishes it (vendored: tests run offline).
fn sarif_validator() -> jsonschema::Validator {
    let schema = std::fs::read_to_string(repo_root().join("tests/schemas/sarif-schema-2.1.0.json"))
        .expect("the vendored SARIF schema");
    // The schema's `run.language` pattern ends in a stray `]`, a literal to ECMA-262 but
    // an error to Rust's regex engines: escape it, which keeps its meaning.
    let schema = schema.replace(r#"{2}]?$""#, r#"{2}\\]?$""#);
    jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str(&schema).unwrap())
        .expect("the SARIF schema compiles")
}

/// `--format sarif` on every diagnostic of the corpus: valid against the SARIF 2.1.0
/// schema, a rule for every code, each result pointing at its rule, related locations
/// for labels and a fix where the diagnostic has one.
#[test]
fn sarif_is_valid_and_complete() {
    let validator = sarif_validator();
    let output = allot(
        &["check", "--format", "sarif", "tests/corpus/invalid"],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), allot_diagnostics::ALL_CODES.len());
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= allot_diagnostics::ALL_CODES.len() - 1);
    for result in results {
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
    }
    assert!(results.iter().any(|r| r.get("fixes").is_some()));
    assert!(results.iter().any(|r| r.get("relatedLocations").is_some()));

    // The schema is really applied: a log without its version is refused.
    let mut broken = log.clone();
    broken.as_object_mut().unwrap().remove("version");
    assert!(!validator.is_valid(&broken));

    // A clean ruleset: a valid log with no results, exit 0.
    let clean = allot(
        &["check", "--format", "sarif", "rulesets/example"],
        &repo_root(),
    );
    assert_eq!(clean.status.code(), Some(0));
    let clean: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert!(validator.is_valid(&clean));
    assert_eq!(clean["runs"][0]["results"], serde_json::json!([]));
}

/// The results of `--format sarif` for a fix, a related location and a warning.
#[test]
fn sarif_results() {
    let output = allot(
        &[
            "check",
            "--format",
            "sarif",
            "tests/corpus/invalid/E0204-missing-unit.allot",
            "tests/corpus/invalid/E0107-duplicate-declaration.allot",
            "tests/corpus/invalid/W0001-unused-const.allot",
        ],
        &repo_root(),
    );
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    crate::snapshot_settings()
        .bind(|| insta::assert_json_snapshot!("check-sarif-results", log["runs"][0]["results"]));
}

/// `--network` in the machine formats: a valid SARIF log whose results carry the
/// master-data rules, and an annotation per warning.
#[test]
fn master_data_warnings_in_sarif_and_github() {
    let args = |format| {
        [
            "check",
            "--format",
            format,
            "--network",
            "tests/corpus/master-data/network.json",
            "tests/corpus/master-data",
        ]
    };
    let sarif = allot(&args("sarif"), &repo_root());
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert!(sarif_validator().is_valid(&log));
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "W0101"));
    assert!(results.iter().all(|r| r["level"] == "warning"));
    // A misspelt literal gets a fix; a const that folds to one does not.
    let fixes: Vec<&serde_json::Value> = results
        .iter()
        .filter_map(|r| {
            r["fixes"][0]["artifactChanges"][0]["replacements"][0].get("insertedContent")
        })
        .collect();
    assert!(fixes.contains(&&serde_json::json!({"text": "\"SOFA-GRY\""})));
    assert!(!fixes.contains(&&serde_json::json!({"text": "\"STORE-NYC\""})));
    let github = stdout(&allot(&args("github"), &repo_root()));
    assert!(
        github.contains("::warning file=tests/corpus/master-data/policy.allot,line=22"),
        "{github}"
    );
}

/// A network the ruleset cannot load is refused as `allot route` refuses it, naming
/// the record and field (exit 2); a ruleset with errors gets no master-data warnings.
#[test]
fn master_data_needs_a_loadable_network_and_a_checked_ruleset() {
    let dir = temp_dir("master-data");
    let bad = dir.join("bad.json");
    let refused = |network: &str, expected: &str| {
        let output = allot(
            &["check", "--network", network, "tests/corpus/master-data"],
            &repo_root(),
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    };
    let kind =
        r#"{"currency": "USD", "nodes": [{"id": "A", "kind": "warehouse", "lat": 0, "lon": 0}]}"#;
    std::fs::write(&bad, kind).unwrap();
    refused(
        bad.to_str().unwrap(),
        "bad.json: nodes[0] \"A\": field `kind`: unknown kind \"warehouse\"",
    );
    std::fs::write(&bad, "{ not json").unwrap();
    refused(bad.to_str().unwrap(), "bad.json: not valid JSON");
    refused("no-such.json", "no-such.json: cannot read");

    let output = allot(
        &[
            "check",
            "--format",
            "json",
            "--network",
            "tests/corpus/master-data/network.json",
            "tests/corpus/invalid/E0204-missing-unit.allot",
        ],
        &repo_root(),
    );
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .all(|d| !d["code"].as_str().unwrap().starts_with("W01"))
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every ruleset of the library checks clean against its own network, as CI runs it.
#[test]
fn rulesets_check_clean_against_their_networks() {
    for entry in std::fs::read_dir(repo_root().join("rulesets")).unwrap() {
        let dir = entry.unwrap().path();
        let network = dir.join("network.json");
        if !network.exists() {
            continue;
        }
        let output = allot(
            &[
                "check",
                "--deny-warnings",
                "--network",
                network.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
            &repo_root(),
        );
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    }
}
