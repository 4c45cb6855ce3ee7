#!/usr/bin/env bash
# Create training/.venv and install the pinned requirements. Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
.venv/bin/python -c "import torch, transformers, onnxruntime, tokenizers; print('relik_train env ok: torch', torch.__version__)"
