#!/usr/bin/env bash
# End-to-end tests of what Allot hands to other tools, with those tools installed here so
# that they run on a fresh machine:
# - `allot simulate --report` pages in real headless Chromium (Debian's `chromium`,
#   installed when missing): no console error, no request, drawn charts; screenshots are
#   kept in target/e2e/screenshots/;
# - the CI integrations (action.yml, .pre-commit-hooks.yaml, the GitLab job) run as
#   their hosts run them.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium > /dev/null
fi
cargo build --quiet --locked -p allot-cli -p allot-bench --bin allot --bin generate-workload
venv=target/e2e/venv
if ! "$venv/bin/python" -c 'import pre_commit, websocket, yaml' 2> /dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r tests/e2e/requirements.txt
fi
ALLOT="$PWD/target/debug/allot" GENERATE_WORKLOAD="$PWD/target/debug/generate-workload" \
  ARTIFACTS="$PWD/target/e2e/screenshots" "$venv/bin/python" -m pytest -q tests/e2e
