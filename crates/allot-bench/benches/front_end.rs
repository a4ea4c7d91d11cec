//! The front end on generated rulesets: `cargo bench -p allot-bench --bench front_end`.

use allot_diagnostics::Sources;

fn main() {
    divan::main();
}

fn sources(lines: usize) -> Sources {
    let mut sources = Sources::new();
    sources.add("generated.allot", allot_bench::ruleset(lines));
    sources
}

/// Parse and check, as `allot check` does.
#[divan::bench(args = [1_000, 10_000])]
fn analyze(bencher: divan::Bencher, lines: usize) {
    let sources = sources(lines);
    bencher.bench(|| allot_check::analyze(divan::black_box(&sources)));
}

/// Parse only.
#[divan::bench(args = [10_000])]
fn parse(bencher: divan::Bencher, lines: usize) {
    let sources = sources(lines);
    let text = &sources.get(allot_diagnostics::FileId(0)).text;
    bencher.bench(|| allot_syntax::parse(allot_diagnostics::FileId(0), divan::black_box(text)));
}
