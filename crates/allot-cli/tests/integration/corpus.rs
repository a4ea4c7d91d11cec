//! The corpus under `tests/corpus`: every valid ruleset checks clean, and every invalid
//! file reports the diagnostic its name starts with, rendered as snapshots.

use crate::cli::{allot, stdout};
use crate::{repo_root, snapshot_settings};
use allot_diagnostics::{ALL_CODES, Code, Sources, render_human, render_json};
use std::path::{Path, PathBuf};

fn allot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "allot"))
        .collect();
    files.sort();
    files
}

/// A ruleset from files, named by their path relative to `base` for stable output.
fn sources(files: &[PathBuf], base: &Path) -> Sources {
    let mut sources = Sources::new();
    for file in files {
        let name = file
            .strip_prefix(base)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        sources.add(name, std::fs::read_to_string(file).expect("corpus file"));
    }
    sources
}

#[test]
fn invalid_files_report_their_diagnostic() {
    let dir = repo_root().join("tests/corpus/invalid");
    let files = allot_files(&dir);
    assert!(
        files.len() >= 30,
        "the invalid corpus has {} files",
        files.len()
    );
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let code = stem.split('-').next().unwrap();
        let sources = sources(std::slice::from_ref(&file), &dir);
        let analysis = allot_check::analyze(&sources);
        assert!(
            analysis.diagnostics.iter().any(|d| d.code.as_str() == code),
            "{stem}: expected {code}, got {:?}",
            analysis
                .diagnostics
                .iter()
                .map(|d| (d.code.as_str(), &d.message))
                .collect::<Vec<_>>()
        );
        let human = render_human(&analysis.diagnostics, &sources, false);
        let json =
            serde_json::to_string_pretty(&render_json(&analysis.diagnostics, &sources)).unwrap();
        let text = &sources.get(allot_diagnostics::FileId(0)).text;
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(
                stem,
                format!("{text}\n---- human\n{human}\n---- json\n{json}")
            );
        });
    }
}

#[test]
fn every_diagnostic_code_has_a_corpus_file() {
    let dir = repo_root().join("tests/corpus/invalid");
    let stems: Vec<String> = allot_files(&dir)
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    // An example of E0007 is over 8 MiB: `a_file_over_the_size_limit_is_refused`
    // (properties.rs) makes one. The master-data codes need a network:
    // `master_data_corpus_reports_every_master_data_code` shows them.
    for code in ALL_CODES
        .iter()
        .filter(|&&c| c != Code::FILE_TOO_LARGE && !is_master_data(c))
    {
        let expected = format!("{}-{}", code.as_str(), code.name());
        assert!(
            stems.contains(&expected),
            "no tests/corpus/invalid/{expected}.allot"
        );
    }
}

fn is_master_data(code: Code) -> bool {
    code.as_str().starts_with("W01")
}

/// `tests/corpus/master-data`: a ruleset that checks clean alone and, against the
/// network beside it, gives every master-data warning (W01xx), rendered as a snapshot.
#[test]
fn master_data_corpus_reports_every_master_data_code() {
    let root = repo_root();
    let dir = "tests/corpus/master-data";
    let network = "tests/corpus/master-data/network.json";
    let alone = allot(&["check", "--deny-warnings", dir], &root);
    assert_eq!(alone.status.code(), Some(0), "{}", stdout(&alone));

    let human = allot(&["check", "--network", network, dir], &root);
    assert_eq!(human.status.code(), Some(0), "warnings only");
    let denied = allot(
        &["check", "--deny-warnings", "--network", network, dir],
        &root,
    );
    assert_eq!(denied.status.code(), Some(1));

    let json = allot(
        &["check", "--format", "json", "--network", network, dir],
        &root,
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let codes: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    for code in ALL_CODES.iter().filter(|&&c| is_master_data(c)) {
        assert!(codes.contains(&code.as_str()), "no {code} in {codes:?}");
    }
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("master-data", stdout(&human));
    });
}

/// Each valid corpus entry (a file, or a directory of files) and each ruleset in
/// `rulesets/` checks without a single diagnostic.
#[test]
fn valid_rulesets_check_clean() {
    let root = repo_root();
    let mut rulesets: Vec<Vec<PathBuf>> = Vec::new();
    for dir in [root.join("tests/corpus/valid"), root.join("rulesets")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rulesets.push(allot_files(&path));
            } else if path.extension().is_some_and(|e| e == "allot") {
                rulesets.push(vec![path]);
            }
        }
    }
    assert!(rulesets.len() >= 3);
    for files in rulesets {
        let sources = sources(&files, &root);
        let analysis = allot_check::analyze(&sources);
        assert!(
            analysis.diagnostics.is_empty(),
            "{files:?}:\n{}",
            render_human(&analysis.diagnostics, &sources, false)
        );
    }
}

/// Every example of the design document parses and checks (the corpus file holds them).
#[test]
fn design_examples_parse_with_the_whole_file_rule() {
    use pest::Parser;
    let text =
        std::fs::read_to_string(repo_root().join("tests/corpus/valid/design-examples.allot"))
            .unwrap();
    allot_syntax::grammar::AllotParser::parse(allot_syntax::grammar::Rule::file, &text)
        .expect("parses");
}

/// The reference lists every code, so a new diagnostic cannot ship undocumented.
#[test]
fn every_diagnostic_code_is_documented() {
    let reference = std::fs::read_to_string(repo_root().join("docs/language.md")).unwrap();
    for code in ALL_CODES {
        let row = format!("| {} | {} |", code.as_str(), code.name());
        assert!(
            reference.contains(&row),
            "docs/language.md has no row `{row}`"
        );
    }
}
