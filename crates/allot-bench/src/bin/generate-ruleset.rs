//! Prints a generated ruleset: `generate-ruleset LINES > big.allot`.

fn main() {
    let lines = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    print!("{}", allot_bench::ruleset(lines));
}
