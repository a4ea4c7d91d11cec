#!/usr/bin/env bash
# Page tests: `allot simulate --report` pages opened in real headless Chromium (Debian's
# `chromium`, installed here when missing), checked for console errors, requests and
# drawn charts; screenshots are kept in target/pages/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium > /dev/null
fi
cargo build --quiet --locked -p allot-cli -p allot-bench --bin allot --bin generate-workload
venv=target/pages/venv
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tests/pages/requirements.txt
fi
ALLOT="$PWD/target/debug/allot" GENERATE_WORKLOAD="$PWD/target/debug/generate-workload" \
  ARTIFACTS="$PWD/target/pages" "$venv/bin/python" -m pytest -q tests/pages
