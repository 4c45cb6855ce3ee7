#!/usr/bin/env bash
# CoNLL04 readers on BERT-base (typed, strict metric) on one lent GPU: several recipes side by side, each stopped by
# its time budget, and the one with the best dev RE strict F1 comes home as 4-bit differences from the base
# (relik_train.carry; about 60 MB, one call's worth of files).
# The base model does not fit a device call (433 MB fp32): it travels as an int8-block pack (relik_train.carry,
# 116 MB) split over two calls. The first call leaves its half in $CARRY_DIR on the warm machine:
#   bash training/scripts/device_conll04.sh stage            # call 1, carry [".device/up1"]
#   bash training/scripts/device_conll04.sh train OUT MINUTES # call 2, carry [".device/up2", ".device/data"]
# .device/up1 holds bert.pack.aa; .device/up2 holds bert.pack.ab and the base folder's config.json and tokenizer
# files (training/README.md, "BERT-base on a lent GPU").
# Environment of `train`: RUNS, one recipe per line, "name steps batch lr [extra build args]" (default below);
# DATA_ROOT (default ../.device/data). Files back: the pack's 15 MiB pieces and one log (8 files at most).
set -u
cd "$(dirname "$0")/.."
carry=${CARRY_DIR:-/tmp/relik-carry}
case "${1:-}" in
  stage)
    mkdir -p "$carry" && cp ../.device/up1/* "$carry"/ && ls -la "$carry"
    exit $?
    ;;
  train) ;;
  *) echo "usage: $0 stage | train OUT_DIR MINUTES" >&2; exit 2 ;;
esac
out=${2:?OUT_DIR}; minutes=${3:?MINUTES}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 OMP_NUM_THREADS=3
work=${WORK_DIR:-/tmp/relik-conll04}; base=$work/base; mkdir -p "$work" "$base" "$out"
nvidia-smi -L || true
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
cat "$carry"/bert.pack.* ../.device/up2/bert.pack.* > "$work/bert.pack" || exit 1
cp ../.device/up2/base/* "$base"/ || exit 1
python3 -m relik_train.carry unpack "$work/bert.pack" "$base" || exit 1
# Recipes: batches of 8 as on the CPU (the anchor), then smaller batches for about 20 epochs (966 windows).
runs=${RUNS:-"b8 3200 8 5e-5
b4 4830 4 5e-5
b2 9660 2 5e-5
b4lr3 4830 4 3e-5"}
limit=$(python3 -c "print(int($minutes * 60 + 60))")
names=()
while read -r name steps batch lr extra; do
  [ -n "$name" ] || continue
  names+=("$name")
  # shellcheck disable=SC2086
  timeout "$limit" python3 -m relik_train.build --config configs/conll04-cie-types-bertbase-b8.json \
    --base-model "$base" --data-root "${DATA_ROOT:-../.device/data}" --out "$work/$name" --work "$work/$name.work" --train-only \
    --steps "$steps" --max-minutes "$minutes" --set reader.maxBatchSize="$batch" \
    --set reader.tokensPerBatch=$((batch * 64)) --set reader.lr="$lr" --set reader.evalEvery=$((steps / 4)) $extra \
    > "$work/$name.log" 2>&1 &
done <<<"$runs"
wait
for name in "${names[@]}"; do echo "== $name"; tail -n 2 "$work/$name.log" | cut -c1-400; done
best=$(python3 - "$work" "${names[@]}" <<'EOF'
import json, sys
from pathlib import Path
work, names = Path(sys.argv[1]), sys.argv[2:]
scores = {}
for name in names:
    log = work / f"{name}.work" / "log.jsonl"
    if not log.is_file() or not (work / f"{name}.work" / "reader.pt").is_file():
        continue
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    devs = [(r.get("step"), r["dev"]) for r in recs if r.get("dev") and "reStrict" in r["dev"]]
    if devs:
        step, dev = devs[-1]
        scores[name] = dev["reStrict"]["f1"]
        print(name, "step", step, "dev RE strict", dev["reStrict"], "threshold", dev.get("relationThreshold"),
              file=sys.stderr)
print(max(scores, key=scores.get) if scores else "")
EOF
)
[ -n "$best" ] || { echo "no run finished with a dev score"; exit 1; }
echo "best run: $best"
for name in "${names[@]}"; do
  sed "s/^{/{\"run\": \"$name\", /" "$work/$name.work/log.jsonl" 2>/dev/null
done > "$out/train-logs.jsonl"
python3 -m relik_train.carry pack "$work/$best.work/reader.pt" "$work/home.pack" --base "$base" --delta-bits 4 || exit 1
split -b 15M "$work/home.pack" "$out/home.pack."
ls -la "$out"
