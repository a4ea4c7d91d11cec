//! The language server's work on a generated 5,000-line ruleset, in process:
//! `cargo bench -p allot-bench --bench editor`.

use allot_db::{Database, Ruleset, SourceFile};
use allot_ide::Ide;
use salsa::Setter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

const LINES: usize = 5_000;

/// A database holding the generated ruleset, checked once, and its file.
fn setup() -> (Database, Ruleset, SourceFile, String) {
    let text = allot_bench::ruleset(LINES);
    let mut db = Database::default();
    let ruleset = db.ruleset(vec![("generated.allot".into(), text.clone())]);
    let file = ruleset.files(&db)[0];
    allot_db::diagnostics(&db, ruleset);
    (db, ruleset, file, text)
}

/// A place in the middle of the file: just after `pattern`.
fn middle(text: &str, pattern: &str) -> u32 {
    let from = text.len() / 2;
    (from + text[from..].find(pattern).expect("pattern in the middle") + pattern.len()) as u32
}

/// One character typed inside a policy, then every diagnostic of the ruleset.
#[divan::bench]
fn diagnostics_after_an_edit(bencher: divan::Bencher) {
    let (mut db, ruleset, file, text) = setup();
    let at = middle(&text, "priority ") as usize;
    let edited = [text.clone(), format!("{}1{}", &text[..at], &text[at..])];
    let mut turn = 0;
    bencher.bench_local(|| {
        turn += 1;
        file.set_text(&mut db).to(edited[turn % 2].clone());
        allot_db::diagnostics(&db, ruleset).len()
    });
}

/// Completion after `order.` in a policy, after an edit (nothing cached for it).
#[divan::bench]
fn completion_after_an_edit(bencher: divan::Bencher) {
    let (mut db, ruleset, file, text) = setup();
    let at = middle(&text, "order.");
    let edited = [text.clone(), format!("{text}\n")];
    let mut turn = 0;
    bencher.bench_local(|| {
        turn += 1;
        file.set_text(&mut db).to(edited[turn % 2].clone());
        let ide = Ide {
            db: &db,
            ruleset,
            network: None,
        };
        allot_ide::completions(&ide, file.id(&db), at).len()
    });
}

/// Completion after `order.` in a policy, the ruleset already checked (as it is once
/// the diagnostics of the last edit are published).
#[divan::bench]
fn completion(bencher: divan::Bencher) {
    let (db, ruleset, file, text) = setup();
    let at = middle(&text, "order.");
    let ide = Ide {
        db: &db,
        ruleset,
        network: None,
    };
    bencher.bench_local(|| allot_ide::completions(&ide, file.id(&db), at).len());
}

/// Hover on an attribute in a policy.
#[divan::bench]
fn hover(bencher: divan::Bencher) {
    let (db, ruleset, file, text) = setup();
    let at = middle(&text, "order.") + 1;
    let ide = Ide {
        db: &db,
        ruleset,
        network: None,
    };
    bencher.bench_local(|| ide.hover(file.id(&db), at));
}
