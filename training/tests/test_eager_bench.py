"""Smoke test of the eager PyTorch benchmark on the tiny fixture bundles (shape of the result, never timings)."""

import json
from pathlib import Path

import pytest

from relik_train import eager_bench
from relik_train.fixtures import tiny_encoder

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bundles"

WORDS = [
    "Marie Curie works for Acme Corporation in Paris .".split(),
    "Ada Lovelace was born in London and lived in England with John Smith .".split(),
    ("John Smith founded Globex in Berlin and later moved to Rome , where he met Marie Curie and Ada Lovelace "
     "at a conference on physics and mathematics organised by Acme Corporation in the spring").split(),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eager")
    base = root / "tiny-base"
    tiny_encoder(64, seed=0).save_pretrained(base)  # the architecture of the fixture readers; vocab is resized
    data = root / "docs.jsonl"
    data.write_text("".join(json.dumps({"doc_id": f"d{i}", "doc_words": w, "doc_span_annotations": [],
                                        "doc_triplet_annotations": []}) + "\n" for i, w in enumerate(WORDS)))
    return root, base, data


@pytest.mark.parametrize("name", ["tiny-re", "tiny-el", "tiny-cie"])
def test_runs_and_compares(inputs, name):
    root, base, data = inputs
    ts = {"kind": "pipeline", "dataset": {"name": str(data), "input": "dataset-words"},
          "result": {"documents": {"count": 2}, "bundle": {"readerPrecision": "fp32"},
                     "throughput": {"documentsPerSecond": 10.0, "readerTokens": 100},
                     "stages": {"stages": {"encoder": {"ms": 5.0}}}}}
    (root / "ts.json").write_text(json.dumps(ts))
    out = root / f"{name}.json"
    code = eager_bench.main([str(FIXTURES / name), str(data), "--base-model", str(base), "--limit", "2",
                             "--batch-size", "1", "--warmup", "1", "--threads", "1", "--out", str(out),
                             "--compare", str(root / "ts.json")])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "relik-eager-bench/1" and r["task"] == name[5:]
    assert r["documents"] == 2 and r["words"] == len(WORDS[0]) + len(WORDS[1])
    assert r["windows"] >= 2 and r["passes"] >= r["windows"] - r["skippedWindows"]
    assert r["readerTokens"] > r["words"]
    assert set(r["stages"]) == set(eager_bench.STAGES) and r["stages"]["encoder"]["ms"] > 0
    assert "random heads" in r["weights"]["reader"]
    assert ("retriever" in r["weights"]) == (name != "tiny-re")
    if name != "tiny-re":
        assert r["stages"]["retrievalEncode"]["ms"] > 0
    c = r["comparison"]
    assert c["eagerDocumentsPerSecond"] == r["documentsPerSecond"] and c["ratio"] > 0 and c["notes"] == []


def test_token_batches_follow_the_typescript_budget():
    lengths = [300, 10, 20, 300, 30]
    batches = eager_bench.token_batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert batches[0] == [1, 2, 4, 0, 3][: len(batches[0])]
    for b in batches:
        assert max(lengths[i] for i in b) * len(b) <= eager_bench.TOKENS_PER_BATCH or len(b) == 1
    assert eager_bench.token_batches([8] * 40)[0] == list(range(32))


def test_clear_errors(inputs, tmp_path, capsys):
    _, base, data = inputs
    assert eager_bench.main([str(tmp_path), str(data), "--base-model", str(base)]) == 1
    assert "not a ReLiK bundle" in capsys.readouterr().out
    assert eager_bench.main([str(FIXTURES / "tiny-re"), "nosuch:test", "--base-model", str(base)]) == 1
    assert "dataset must be one of" in capsys.readouterr().out
