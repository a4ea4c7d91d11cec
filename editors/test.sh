#!/usr/bin/env bash
# Editor integration tests, with tools installed here so that they run on a fresh
# machine: pytest-lsp (from PyPI) drives the real `allot lsp` over stdio, and
# vscode-tmgrammar-test (from npm) checks the TextMate grammar, on its own test file
# and on every ruleset of the repository. `--package` also builds the VS Code .vsix.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --locked -p allot-cli
venv=target/editor-tests/venv
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r editors/tests/lsp/requirements.txt
fi
ALLOT="$PWD/target/debug/allot" "$venv/bin/python" -m pytest -q editors/tests/lsp

cd editors/vscode
npm ci --no-audit --no-fund --loglevel=error
npm run --silent test:grammar
if [ "${1:-}" = "--package" ]; then
  npm run --silent package
fi
