#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (20 s each unless given), from the committed
# seeds and the repository's rulesets, into a throwaway corpus; fails on any crash.
#
#   fuzz/smoke.sh [SECONDS]
#
# A crash leaves its input in fuzz/artifacts/TARGET/ (see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "--- installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz >&2
fi
cargo +nightly fuzz build
corpus="$(mktemp -d /tmp/allot-fuzz.XXXXXX)"
trap 'rm -rf "$corpus"' EXIT
seeds_of() {
    case "$1" in
    parse | check | format) echo ../rulesets ../tests/corpus ;;
    artifact | data | route) echo "seeds/$1" ;;
    *) echo "" ;;
    esac
}
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$corpus/$target"
    echo "--- fuzz $target (${seconds} s)"
    status=0
    # shellcheck disable=SC2046
    cargo +nightly fuzz run "$target" "$corpus/$target" $(seeds_of "$target") -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$corpus/$target.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)" "$corpus/$target.log" || true
    if [ "$status" -ne 0 ]; then
        grep -E -A12 "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$corpus/$target.log" | head -60
        echo "fuzz target $target failed (exit status $status)" >&2
        exit 1
    fi
done
