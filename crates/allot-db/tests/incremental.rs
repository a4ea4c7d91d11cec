//! What an edit recomputes: only the declaration it touches is parsed again.

use allot_db::{Database, diagnostics, parsed_file};
use salsa::Setter;
use std::sync::{Arc, Mutex};

fn example() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rulesets/example");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "allot"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// Query names that ran, by name, with how many times.
fn ran(log: &Mutex<Vec<String>>) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for entry in log.lock().unwrap().drain(..) {
        let name = entry.split('(').next().unwrap_or(&entry).to_string();
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.sort();
    counts
}

#[test]
fn an_edit_inside_one_policy_reparses_that_policy_alone() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut db = Database::with_query_log(move |query| sink.lock().unwrap().push(query.into()));
    let files = example();
    let pieces: usize = files
        .iter()
        .map(|(_, text)| allot_syntax::declaration_chunks(text).len())
        .sum();
    let ruleset = db.ruleset(files);
    assert!(diagnostics(&db, ruleset).is_empty());
    let first = ran(&log);
    assert!(first.contains(&("parse_piece".into(), pieces)), "{first:?}");

    // Type inside the first policy: every declaration after it moves by one byte.
    let policies = *ruleset
        .files(&db)
        .iter()
        .find(|f| f.path(&db) == "policies.allot")
        .unwrap();
    let text = policies
        .text(&db)
        .replacen("priority 10", "priority 100", 1);
    policies.set_text(&mut db).to(text);
    assert!(diagnostics(&db, ruleset).is_empty());
    assert_eq!(
        ran(&log),
        vec![
            ("checked".into(), 1),
            ("diagnostics".into(), 1),
            ("parse_piece".into(), 1),
            ("parsed_file".into(), 1),
        ]
    );
    // The moved declarations kept their parse, at their new place.
    let parsed = parsed_file(&db, policies);
    let last = parsed.file.decls.last().unwrap();
    assert_eq!(
        &policies.text(&db)[last.span.range()][..17],
        "policy \"same-day\""
    );

    // Nothing changed: nothing runs.
    assert!(diagnostics(&db, ruleset).is_empty());
    assert!(ran(&log).is_empty());
}

#[test]
fn the_database_reports_what_the_one_shot_front_end_reports() {
    let mut db = Database::default();
    let text =
        "const a = 50\npolicy \"p\" {\n  exclude when distance(node, order.ship_to) < a\n}\n";
    let ruleset = db.ruleset(vec![("a.allot".into(), text.into())]);
    let mut sources = allot_diagnostics::Sources::new();
    sources.add("a.allot", text);
    assert_eq!(
        diagnostics(&db, ruleset),
        &allot_check::analyze(&sources).diagnostics
    );
}
