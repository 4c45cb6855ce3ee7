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

echo "== Round trip: train tiny models, export, and check the TypeScript runtime against PyTorch"
roundtrip=$(mktemp -d)
trap 'rm -rf "$roundtrip"' EXIT
(cd training && HF_HUB_OFFLINE=1 .venv/bin/python -m relik_train.fixtures --root "$roundtrip" --steps 200)
RELIK_PARITY_BUNDLES="$roundtrip/fixtures/bundles" RELIK_PARITY_GOLDEN="$roundtrip/fixtures/golden" \
  npx vitest run test/integration/parity.test.ts
