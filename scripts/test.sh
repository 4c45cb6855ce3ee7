#!/usr/bin/env bash
# The project's one test command (README, CI): installs what it needs, then runs the TypeScript and Python suites.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== install (npm)"
npm ci --no-audit --no-fund --loglevel=error

echo "== install (training venv)"
bash training/setup.sh

echo "== TypeScript: typecheck, build, tests"
npm test

echo "== Python: training and export tests"
(cd training && .venv/bin/python -m pytest -q)
