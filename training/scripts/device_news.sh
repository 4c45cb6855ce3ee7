#!/usr/bin/env bash
# Trains the default EL + RE model (configs/news-cie-gpu.json) on one lent GPU, two learning rates side by side
# (the loop is bound by Python, not by the GPU, so two runs cost little more than one), and brings home the weights
# of the one with the better dev score (AIDA testa EL F1 + CoNLL04 dev RE F1) as fp16 chunks of 15 MB.
# Expects ../.device/{minilm,data} (training/README.md, "GPU runs").
# Usage: bash training/scripts/device_news.sh OUT_DIR MINUTES [extra build args...]
# Environment: CONFIG (default configs/news-cie-gpu.json), BASE_MODEL (default ../.device/minilm; a folder with only
# config.json and the tokenizer gets random weights of that architecture, for a config whose reader.init is complete:
# a continuation carries its weights once, in the checkpoint), DATA_ROOT (default ../.device/data), LRS_A / LRS_B
# ("encoder-lr head-lr" of the two runs).
# At home: cat OUT_DIR/weights.pt.* > W/reader.pt, then `python -m relik_train.build --config
# <the same CONFIG> --out B --work W` exports the bundle (the final weights: no training step).
set -u
out=${1:?OUT_DIR}; minutes=${2:?MINUTES}; shift 2
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=6
cd "$(dirname "$0")/.."
work=${WORK_DIR:-/tmp/relik-news}; mkdir -p "$work" "$out"
nvidia-smi -L || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
# The builds stop themselves at the budget (then a last refresh, dev evaluation and checkpoint); the hard limit
# leaves room for those and for carrying the weights home.
limit=$(python3 -c "print(int($minutes * 60 + 150))")
base=${BASE_MODEL:-../.device/minilm}
if ! ls "$base"/*.safetensors "$base"/*.bin >/dev/null 2>&1; then
  arch=$work/architecture; mkdir -p "$arch" && cp "$base"/* "$arch"/ || exit 1
  python3 -c "import sys; from transformers import AutoConfig, AutoModel; AutoModel.from_config(AutoConfig.from_pretrained(sys.argv[1])).save_pretrained(sys.argv[1])" "$arch" || exit 1
  base=$arch
fi
common=(--config "${CONFIG:-configs/news-cie-gpu.json}" --base-model "$base" --data-root "${DATA_ROOT:-../.device/data}"
        --max-minutes "$minutes" --train-only "$@")
declare -A lrs=([a]="${LRS_A:-1e-4 1e-3}" [b]="${LRS_B:-5e-5 5e-4}")
for run in a b; do
  read -r lr head <<<"${lrs[$run]}"
  timeout "$limit" python3 -m relik_train.build "${common[@]}" --out "$work/$run" --work "$work/$run.work" \
    --set reader.lr="$lr" --set reader.headLr="$head" > "$work/$run.log" 2>&1 &
done
wait
for run in a b; do
  tail -2 "$work/$run.log"; cp "$work/$run.work/log.jsonl" "$out/train-log-$run.jsonl" 2>/dev/null
done
best=$(python3 - "$work" <<'EOF'
import json, sys
from pathlib import Path
scores = {}
for run in ("a", "b"):
    log = Path(sys.argv[1]) / f"{run}.work" / "log.jsonl"
    devs = [r["dev"] for r in map(json.loads, log.read_text().splitlines()) if r.get("dev") and "el" in r["dev"]] \
        if log.is_file() else []
    if devs and (Path(sys.argv[1]) / f"{run}.work" / "reader.pt").is_file():
        scores[run] = devs[-1]["el"]["f1"] + devs[-1]["re"]["f1"]
# No dev score (a run cut by the hard limit during its evaluation): the last checkpoint of the first run that has one.
saved = [run for run in ("a", "b") if (Path(sys.argv[1]) / f"{run}.work" / "reader.pt").is_file()]
print(max(scores, key=scores.get) if scores else (saved[0] if saved else ""), file=sys.stdout)
print("dev EL F1 + RE F1:", scores, file=sys.stderr)
EOF
)
[ -n "$best" ] || { echo "no run saved a checkpoint"; exit 1; }
echo "best run: $best"
python3 -m relik_train.slim "$work/$best.work/reader.pt" "$work/weights.pt" || exit 1
split -b 15M "$work/weights.pt" "$out/weights.pt."
echo "$best" > "$out/best-run.txt"
ls -la "$out"
