//! What an edit recomputes: only the declaration it touches is parsed and checked
//! again, and the result is what the one-shot front end would say.

use allot_db::{Database, Ruleset, SourceFile, diagnostics, model, parsed_file};
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

/// Replaces the first `from` in the file at `path` by `to`; the file edited.
fn edit(db: &mut Database, ruleset: Ruleset, path: &str, from: &str, to: &str) -> SourceFile {
    let file = *ruleset
        .files(db)
        .iter()
        .find(|f| f.path(db) == path)
        .unwrap();
    let text = file.text(db).replacen(from, to, 1);
    file.set_text(db).to(text);
    file
}

/// A database and the log of the queries it runs.
fn logged_database() -> (Database, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let db = Database::with_query_log(move |query| sink.lock().unwrap().push(query.into()));
    (db, log)
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
fn an_edit_inside_one_policy_rechecks_that_policy_alone() {
    let (mut db, log) = logged_database();
    let files = example();
    let pieces: usize = files
        .iter()
        .map(|(_, text)| allot_syntax::declaration_chunks(text).len())
        .sum();
    let ruleset = db.ruleset(files);
    assert!(diagnostics(&db, ruleset).is_empty());
    let first = ran(&log);
    assert!(first.contains(&("parse_piece".into(), pieces)), "{first:?}");
    assert!(first.contains(&("environment".into(), 1)), "{first:?}");
    let policies = model(&db, ruleset).policies.len();
    assert!(
        first.contains(&("checked_policy".into(), policies)),
        "{first:?}"
    );

    // Type inside the first policy: every declaration after it moves by one byte.
    let file = edit(
        &mut db,
        ruleset,
        "policies.allot",
        "priority 10",
        "priority 100",
    );
    assert!(diagnostics(&db, ruleset).is_empty());
    // The one policy is parsed and checked again; the environment (schema, consts,
    // tables) and the other policies are not. The rest only finds the pieces and
    // moves results into place.
    assert_eq!(
        ran(&log),
        vec![
            ("checked".into(), 1),
            ("checked_policy".into(), 1),
            ("diagnostics".into(), 1),
            ("environment_pieces".into(), 1),
            ("file_pieces".into(), 1),
            ("parse_piece".into(), 1),
            ("parsed_file".into(), 1),
            ("unparsed_names".into(), 1),
        ]
    );
    assert!(
        model(&db, ruleset)
            .policies
            .iter()
            .any(|p| p.priority == 100)
    );
    // The moved declarations kept their parse and their check, at their new place.
    let parsed = parsed_file(&db, file);
    let last = parsed.file.decls.last().unwrap();
    assert_eq!(
        &file.text(&db)[last.span.range()][..17],
        "policy \"same-day\""
    );
    let same_day = model(&db, ruleset)
        .policies
        .iter()
        .find(|p| p.name == "same-day")
        .unwrap();
    assert_eq!(&file.text(&db)[same_day.span.range()], "\"same-day\"");

    // Nothing changed: nothing runs.
    assert!(diagnostics(&db, ruleset).is_empty());
    assert!(ran(&log).is_empty());
}

#[test]
fn an_edit_to_a_const_rechecks_the_policies_but_parses_only_the_const() {
    let (mut db, log) = logged_database();
    let ruleset = db.ruleset(example());
    let policies = model(&db, ruleset).policies.len();
    ran(&log);
    edit(&mut db, ruleset, "rates.allot", "300 km", "350 km");
    assert!(diagnostics(&db, ruleset).is_empty());
    let after = ran(&log);
    assert!(after.contains(&("environment".into(), 1)), "{after:?}");
    assert!(
        after.contains(&("checked_policy".into(), policies)),
        "{after:?}"
    );
    assert!(after.contains(&("parse_piece".into(), 1)), "{after:?}");
}

/// A policy before a const in one file: an error typed into the policy moves the
/// const, and both the error and the const are where the text has them.
#[test]
fn results_checked_in_place_land_where_the_text_has_them() {
    let (mut db, log) = logged_database();
    let text = "policy \"p\" {\n  exclude when distance(node, order.ship_to) > radius\n}\n\nconst radius = 50 km\n";
    let ruleset = db.ruleset(vec![("a.allot".into(), text.into())]);
    assert!(diagnostics(&db, ruleset).is_empty());
    ran(&log);
    let edited = text.replace("> radius", "> radius + 1");
    let file = ruleset.files(&db)[0];
    file.set_text(&mut db).to(edited.clone());
    let found = diagnostics(&db, ruleset).clone();
    let after = ran(&log);
    assert!(!after.iter().any(|(q, _)| q == "environment"), "{after:?}");
    assert_eq!(found, one_shot(&[("a.allot", &edited)]));
    assert_eq!(&edited[found[0].span.range()], "1");
    let radius = &model(&db, ruleset).consts[0];
    assert_eq!(&edited[radius.span.range()], "radius");
}

/// The one-shot front end's diagnostics for the same files.
fn one_shot(files: &[(&str, &str)]) -> Vec<allot_diagnostics::Diagnostic> {
    let mut sources = allot_diagnostics::Sources::new();
    for (path, text) in files {
        sources.add(*path, *text);
    }
    allot_check::analyze(&sources).diagnostics
}

/// Edits all over every ruleset of the repository, applied one after another to one
/// database: after each, the database says exactly what the one-shot front end says,
/// diagnostics and checked model alike (spans included).
#[test]
fn after_any_edit_the_database_agrees_with_the_one_shot_front_end() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rulesets");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let edits = [
        " ",
        "\n",
        "x",
        "1",
        "}",
        "policy \"q\" {\n}\n",
        "\"",
        "let y = 2\n",
        "#",
    ];
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "allot"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.file_name().unwrap().to_string_lossy().into_owned(), text)
            })
            .collect();
        files.sort();
        let mut db = Database::default();
        let ruleset = db.ruleset(files.clone());
        for _ in 0..12 {
            let f = next(files.len());
            let text = &mut files[f].1;
            let mut at = next(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if next(3) == 0 && at < text.len() {
                let end = (at + 1..=text.len())
                    .find(|&e| text.is_char_boundary(e))
                    .unwrap();
                text.replace_range(at..end, "");
            } else {
                text.insert_str(at, edits[next(edits.len())]);
            }
            ruleset.files(&db)[f].set_text(&mut db).to(text.clone());
            let mut sources = allot_diagnostics::Sources::new();
            for (path, text) in &files {
                sources.add(path.clone(), text.clone());
            }
            let expected = allot_check::analyze(&sources);
            assert_eq!(
                diagnostics(&db, ruleset),
                &expected.diagnostics,
                "{}: {files:?}",
                dir.display()
            );
            assert_eq!(
                format!("{:?}", model(&db, ruleset)),
                format!("{:?}", expected.model),
                "{}",
                dir.display()
            );
        }
    }
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
