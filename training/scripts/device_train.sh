#!/usr/bin/env bash
# Trains the CoNLL04 RE and AIDA EL bundles side by side on one GPU (the `device` machine), within a time budget.
# Expects the base model and data copied into ../.device/ (see training/README.md, "GPU runs").
# Usage: bash training/scripts/device_train.sh OUT_DIR RE_MINUTES EL_MINUTES
set -u
out=${1:?OUT_DIR}; re_minutes=${2:-5}; el_minutes=${3:-3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
cd "$(dirname "$0")/.."
work=/tmp/relik-work; mkdir -p "$work"
nvidia-smi -L || true
python3 -c "import torch, transformers, onnxruntime; print('torch', torch.__version__, 'transformers', transformers.__version__, 'ort', onnxruntime.__version__)"
common=(--base-model ../.device/minilm --data-root ../.device/data)
python3 -m relik_train.build --config configs/conll04-re-minilm.json --out "$work/re" --work "$work/re.work" "${common[@]}" --max-minutes "$re_minutes" > "$work/re.log" 2>&1 &
re_pid=$!
python3 -m relik_train.build --config configs/aida-el-minilm.json --out "$work/el" --work "$work/el.work" "${common[@]}" --max-minutes "$el_minutes" > "$work/el.log" 2>&1 &
el_pid=$!
wait $re_pid; echo "re build rc=$?"
wait $el_pid; echo "el build rc=$?"
tail -3 "$work/re.log" "$work/el.log"
cp "$work/re.work/log.jsonl" "$out/re-train-log.jsonl" 2>/dev/null
cp "$work/el.work/log.jsonl" "$out/el-train-log.jsonl" 2>/dev/null
# Files come back at most 16 MiB each: the RE bundle travels as tar chunks.
(cd "$work" && tar cf - re | split -b 15M - "$out/re.tar.")
ls -la "$out"
