"""spanCandidates "types": a cIE reader whose span candidates are the data's entity types (CoNLL04 strict RE)."""

import json

import pytest
import torch

from relik_train import build, fixtures, requantize, tiny
from relik_train.data import Doc
from relik_train.errors import ConfigError
from relik_train.tokenization import train_wordpiece
from relik_train.reader import exported_weights

SENTENCES = [
    (["John", "Smith", "works", "for", "Acme", "in", "Paris", "."], [[0, 2, "Peop"], [4, 5, "Org"], [6, 7, "Loc"]],
     [([0, 2, "Peop"], "Work_For", [4, 5, "Org"]), ([4, 5, "Org"], "OrgBased_In", [6, 7, "Loc"])]),
    (["Mary", "Jones", "lives", "in", "Rome", "."], [[0, 2, "Peop"], [4, 5, "Loc"]],
     [([0, 2, "Peop"], "Live_In", [4, 5, "Loc"])]),
    (["The", "Tigers", "met", "in", "Lyon", "on", "Monday", "."], [[1, 2, "Org"], [4, 5, "Loc"], [6, 7, "Other"]],
     [([1, 2, "Org"], "OrgBased_In", [4, 5, "Loc"])]),
]


def write_split(path, copies: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for n in range(copies):
            for i, (words, spans, trips) in enumerate(SENTENCES):
                f.write(json.dumps({"doc_id": n * 10 + i, "doc_words": words, "doc_span_annotations": spans,
                                    "doc_triplet_annotations": [{"subject": s, "relation": r, "object": o}
                                                                for s, r, o in trips]}) + "\n")


def tiny_base_model(folder) -> None:
    """A random tiny BERT saved as a HF model folder (config.json, weights, tokenizer.json)."""
    tok = train_wordpiece(tiny.corpus(3) + [" ".join(w) for w, _, _ in SENTENCES], 300)
    fixtures.tiny_encoder(tok.get_vocab_size(), 0).save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))


def base_and_splits(tmp_path, train_copies: int) -> None:
    """A tiny base model in tmp_path/base, `train_copies` copies of the sentences as train.jsonl, one as dev.jsonl."""
    (tmp_path / "base").mkdir()
    tiny_base_model(tmp_path / "base")
    write_split(tmp_path / "train.jsonl", train_copies)
    write_split(tmp_path / "dev.jsonl", 1)


def config(tmp_path, **reader) -> dict:
    return {"name": "types-test", "task": "cie", "spanCandidates": "types", "seed": 1, "baseModel": str(tmp_path / "base"),
            "data": {"kind": "conll04", "root": str(tmp_path), "train": "train.jsonl", "dev": "dev.jsonl",
                     "test": "dev.jsonl"},
            "windows": {"size": 32, "stride": 16, "strategy": "sentences"},
            "reader": {"maxLength": 128, "maxCandidateTokens": 6, "entityMarkers": 5, "relationMarkers": 4,
                       "headDim": 8, "endsPerStart": "all", "steps": 3, "tokensPerBatch": 512, "evalEvery": 3,
                       "checkpointEvery": 100, "dropGold": 0.0, **reader},
            "export": {"quantize": "int8-block", "indexDtype": "float16"}}


def run_build(tmp_path, cfg: dict, out: str = "bundle") -> None:
    (tmp_path / "cfg.json").write_text(json.dumps(cfg), encoding="utf-8")
    build.main(["--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / out)])


def test_entity_types_most_frequent_first():
    docs = [Doc("a", ["x"] * 6, [(0, 1, "Loc"), (1, 2, "Peop"), (2, 3, "Loc"), (3, 4, "Org"), (4, 5, "Peop")]),
            Doc("b", ["y"], [(0, 1, "Loc")])]
    assert build.entity_types(docs) == [{"id": "type:Loc", "title": "Loc", "text": "Loc"},
                                        {"id": "type:Peop", "title": "Peop", "text": "Peop"},
                                        {"id": "type:Org", "title": "Org", "text": "Org"}]
    with pytest.raises(ConfigError, match="spanCandidates"):
        build.entity_types([Doc("c", ["z"])])


def test_types_bundle_reads_every_type_without_a_retriever(tmp_path):
    base_and_splits(tmp_path, 4)
    run_build(tmp_path, config(tmp_path))
    out = tmp_path / "bundle"
    manifest = json.loads((out / "relik.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "cie"
    assert manifest["entities"] == {"index": "index/entities", "retriever": None, "topK": 4}
    assert not (out / "retriever").exists()
    passages = [json.loads(line) for line in (out / "index" / "entities" / "passages.jsonl").read_text().splitlines()]
    assert [p["title"] for p in passages] == ["Loc", "Org", "Peop", "Other"]  # 12, 8, 8 (ties by name), 4 spans
    index = json.loads((out / "index" / "entities" / "index.json").read_text(encoding="utf-8"))
    assert index["count"] == 4 and index["dim"] == 0 and "embeddings" not in index
    # the int8 check runs for typed cIE too, on dev and test, and the dev metrics carry RE strict
    check = manifest["training"]["quantizationCheck"]
    assert set(check) == {"dev", "test"}
    log = [json.loads(line) for line in (tmp_path / "bundle.work" / "log.jsonl").read_text().splitlines()]
    dev = [r["dev"] for r in log if r.get("component") == "reader" and "dev" in r][-1]
    assert {"span", "el", "re", "reStrict", "relationThreshold"} <= set(dev)
    assert dev["reStrict"]["f1"] <= dev["re"]["f1"]  # strict needs the boundaries right too
    assert any(r.get("event") == "entity types" and r["types"] == ["Loc", "Org", "Peop", "Other"] for r in log)


@pytest.mark.parametrize("change,field", [
    ({"task": "re"}, "spanCandidates"),
    ({"spanCandidates": "wordnet"}, "spanCandidates"),
    ({"kb": {"path": "kb.jsonl"}}, "spanCandidates"),
])
def test_types_config_errors(tmp_path, change, field):
    with pytest.raises(ConfigError, match=field):
        run_build(tmp_path, {**config(tmp_path), **change})


def test_types_need_a_marker_per_type_plus_nme(tmp_path):
    base_and_splits(tmp_path, 1)
    with pytest.raises(ConfigError, match=r"reader.entityMarkers.*\(5\), got 4"):
        run_build(tmp_path, config(tmp_path, entityMarkers=4))


def test_a_complete_warm_start_trains_and_exports_and_refuses_fresh_parameters(tmp_path):
    """reader.init with complete: true (a continuation): the build warm-starts every parameter, trains, exports;
    a checkpoint that leaves any parameter at random (here: another head size) fails with the setting's name."""
    base_and_splits(tmp_path, 4)
    run_build(tmp_path, config(tmp_path))
    first = tmp_path / "bundle.work" / "reader.pt"
    init = {"checkpoint": str(first), "entityMarkers": 5, "relationMarkers": 4, "complete": True}
    run_build(tmp_path, config(tmp_path, init=init), "continued")
    log = [json.loads(line) for line in (tmp_path / "continued.work" / "log.jsonl").read_text().splitlines()]
    warm = [r for r in log if r.get("event") == "warm start"]
    assert len(warm) == 1 and warm[0]["fresh"] == [] and warm[0]["checkpoint"] == str(first)
    assert (tmp_path / "continued" / "reader" / "model.onnx").is_file()
    # the data alignment report is still the one written to relik.json (a warm-start report once shadowed it)
    training = json.loads((tmp_path / "continued" / "relik.json").read_text())["training"]
    assert {"docs", "spans", "unaligned_spans"} <= set(training["data"])
    with pytest.raises(ConfigError, match="'reader.init.complete': .* parameters fresh"):
        run_build(tmp_path, config(tmp_path, init=init, headDim=4), "other")


def test_a_fixed_relation_threshold_replaces_the_dev_sweep(tmp_path):
    """reader.relationThreshold: for runs that train on their dev set (train + dev, as SpERT's final models)."""
    base_and_splits(tmp_path, 2)
    cfg = config(tmp_path, relationThreshold=0.35)
    cfg["data"] = {"kind": "mix", "root": str(tmp_path), "test": "dev.jsonl", "sources": [
        {"kind": "conll04", "train": "train.jsonl", "dev": "dev.jsonl"},
        {"kind": "conll04", "train": "dev.jsonl", "dev": "dev.jsonl"}]}
    run_build(tmp_path, cfg)
    manifest = json.loads((tmp_path / "bundle" / "relik.json").read_text(encoding="utf-8"))
    assert manifest["reader"]["relationThreshold"] == 0.35
    assert "relationsPerPair" not in manifest["reader"]  # 0, the default: not written
    log = [json.loads(line) for line in (tmp_path / "bundle.work" / "log.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "relation threshold" and r["fixed"] == 0.35 for r in log)
    data = next(r for r in log if r.get("event") == "data")
    assert data["train_windows"] == 9  # 2 x 3 train sentences + the 3 dev sentences
    assert set(manifest["training"]["quantizationCheck"]) == {"dev", "test"}


def test_a_link_threshold_is_written_for_the_runtime(tmp_path):
    """reader.linkThreshold: entities.linkThreshold in relik.json (links less probable are NME in the runtime);
    absent or 0: not written, so earlier bundles read the same."""
    base_and_splits(tmp_path, 1)
    run_build(tmp_path, config(tmp_path, linkThreshold=0.8))
    manifest = json.loads((tmp_path / "bundle" / "relik.json").read_text(encoding="utf-8"))
    assert manifest["entities"]["linkThreshold"] == 0.8
    assert manifest["training"]["config"]["reader"]["linkThreshold"] == 0.8
    run_build(tmp_path, config(tmp_path), "plain")
    assert "linkThreshold" not in json.loads((tmp_path / "plain" / "relik.json").read_text(encoding="utf-8"))["entities"]


@pytest.mark.parametrize("value", [1, 1.5, -0.1, "0.4", True])
def test_a_link_threshold_must_lie_in_0_1(tmp_path, value):
    with pytest.raises(ConfigError, match=r"reader.linkThreshold.*\[0, 1\)"):
        run_build(tmp_path, config(tmp_path, linkThreshold=value))


def test_a_link_threshold_needs_entity_linking(tmp_path):
    cfg = {**config(tmp_path, linkThreshold=0.5), "task": "re"}
    cfg.pop("spanCandidates")
    with pytest.raises(ConfigError, match="reader.linkThreshold.*task el or cie"):
        run_build(tmp_path, cfg)


@pytest.mark.parametrize("value", [1, 1.5, -0.1, "0.4", True])
def test_a_fixed_relation_threshold_must_lie_in_0_1(tmp_path, value):
    with pytest.raises(ConfigError, match=r"reader.relationThreshold.*\[0, 1\)"):
        run_build(tmp_path, config(tmp_path, relationThreshold=value))


def test_requantize_rebuilds_a_types_bundle_which_has_no_retriever(tmp_path):
    """A typed cIE bundle's entities have no retriever graph: requantize rebuilds the reader alone."""
    base_and_splits(tmp_path, 2)
    run_build(tmp_path, config(tmp_path))
    out = tmp_path / "bundle"
    int8_bytes = (out / "reader" / "model.onnx").stat().st_size
    requantize.main(["--bundle", str(out), "--work", str(tmp_path / "bundle.work"), "--base-model", str(tmp_path / "base"),
                     "--scheme", "fp32"])
    manifest = json.loads((out / "relik.json").read_text(encoding="utf-8"))
    assert manifest["quantization"] == {"reader": "fp32"}
    assert manifest["entities"]["retriever"] is None and not (out / "retriever").exists()
    assert (out / "reader" / "model.onnx").stat().st_size > int8_bytes


@pytest.mark.parametrize("value", [0, 1.5, -0.1, "0.5", True])
def test_relation_sample_gold_must_lie_in_0_1(value):
    with pytest.raises(ConfigError, match=r"reader.relationSampleGold.*\(0, 1\]"):
        build.relation_sample_gold({"reader": {"relationSample": 24, "relationSampleGold": value}})


def test_relation_sample_gold_needs_a_relation_sample():
    assert build.relation_sample_gold({"reader": {}}) == 1.0
    assert build.relation_sample_gold({"reader": {"relationSample": 24, "relationSampleGold": 0.5}}) == 0.5
    with pytest.raises(ConfigError, match="reader.relationSampleGold.*needs reader.relationSample"):
        build.relation_sample_gold({"reader": {"relationSampleGold": 0.5}})


def test_relations_per_pair_goes_into_the_bundle(tmp_path):
    """reader.relationsPerPair: written to relik.json for the runtime (absent when 0, its default there)."""
    base_and_splits(tmp_path, 2)
    run_build(tmp_path, config(tmp_path, relationsPerPair=1))
    manifest = json.loads((tmp_path / "bundle" / "relik.json").read_text(encoding="utf-8"))
    assert manifest["reader"]["relationsPerPair"] == 1
    assert set(manifest["training"]["quantizationCheck"]) == {"dev", "test"}


@pytest.mark.parametrize("value", [-1, 1.5, "1", True])
def test_relations_per_pair_must_be_a_non_negative_integer(value):
    with pytest.raises(ConfigError, match=r"reader.relationsPerPair.*integer >= 0"):
        build.relations_per_pair({"reader": {"relationsPerPair": value}})


def test_autocast_chooses_bf16_on_cuda_by_default_and_on_any_device_when_asked():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert build.autocast_dtype({}, cpu) is None and build.autocast_dtype({}, cuda) is torch.bfloat16
    assert build.autocast_dtype({"autocast": "bf16"}, cpu, lambda: True) is torch.bfloat16
    assert build.autocast_dtype({"autocast": "off"}, cuda) is None
    with pytest.raises(ConfigError, match=r"autocast.*one of \('auto', 'bf16', 'off'\).*'fp16'"):
        build.autocast_dtype({"autocast": "fp16"}, cpu)


def test_bf16_on_a_cpu_that_only_emulates_it_falls_back_to_fp32_and_says_why():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    logged: list[dict] = []
    assert build.autocast_dtype({"autocast": "bf16"}, cpu, lambda: False, logged.append) is None
    assert logged == [{"event": "autocast fallback", "asked": "bf16", "using": "fp32", "why": logged[0]["why"]}]
    assert "AVX512-BF16" in logged[0]["why"]
    assert build.autocast_dtype({"autocast": "bf16"}, cuda, lambda: False) is torch.bfloat16


def test_a_bf16_cpu_build_trains_exports_and_can_skip_the_quantization_check(tmp_path):
    """autocast "bf16" on the CPU: training's forward passes in bf16, the bundle exported from fp32 weights;
    export.quantizationCheck false leaves out the int8-vs-fp32 comparison (slow for BERT-base readers on a CPU)."""
    # A CPU without native bf16 falls back to fp32 (emulated bf16 would take minutes here), and the log says so.
    native = build.cpu_computes_bf16()
    base_and_splits(tmp_path, 2)
    cfg = config(tmp_path)
    cfg["autocast"] = "bf16"
    cfg["export"]["quantizationCheck"] = False
    run_build(tmp_path, cfg)
    manifest = json.loads((tmp_path / "bundle" / "relik.json").read_text(encoding="utf-8"))
    assert "quantizationCheck" not in manifest["training"]
    assert (tmp_path / "bundle" / "reader" / "model.onnx").is_file()
    log = [json.loads(line) for line in (tmp_path / "bundle.work" / "log.jsonl").read_text().splitlines()]
    assert next(r for r in log if r.get("event") == "start")["autocast"] == ("bf16" if native else "fp32")
    assert any(r.get("event") == "autocast fallback" for r in log) is not native
    assert not any(r.get("event") == "quantization check" for r in log)
    cfg["export"]["quantizationCheck"] = "no"
    with pytest.raises(ConfigError, match=r"export.quantizationCheck.*bool"):
        run_build(tmp_path, cfg, "other")


def test_a_weight_average_is_exported_and_both_weights_are_scored(tmp_path):
    """reader.emaDecay: the run keeps an average from reader.emaFrom on, scores the trained and the averaged
    weights on dev at the end, exports the average, and keeps both in its checkpoint (slim takes the average)."""
    base_and_splits(tmp_path, 2)
    run_build(tmp_path, config(tmp_path, steps=6, emaDecay=0.5, emaFrom=0.5))
    log = [json.loads(line) for line in (tmp_path / "bundle.work" / "log.jsonl").read_text().splitlines()]
    started = next(r for r in log if r.get("event") == "weight average started")
    assert started["step"] == 3
    assert next(r for r in log if r.get("event") == "weight average swapped in")["updates"] == 3
    finals = [r for r in log if r.get("component") == "reader" and r.get("step") == 6 and "dev" in r]
    assert [r.get("weights") for r in finals] == ["trained", "average"]
    state = torch.load(tmp_path / "bundle.work" / "reader.pt", map_location="cpu", weights_only=False)
    averaged = state["ema"]["weights"]
    assert state["ema"]["updates"] == 3
    assert any(not torch.equal(averaged[n], state["model"][n]) for n in averaged)
    merged = exported_weights(state)
    assert all(torch.equal(merged[n], averaged[n]) for n in averaged)
    assert set(merged) == set(state["model"])


@pytest.mark.parametrize("reader, message", [({"emaDecay": 1.0}, r"reader.emaDecay.*\(0, 1\)"),
                                             ({"emaDecay": "0.9"}, r"reader.emaDecay.*\(0, 1\)"),
                                             ({"emaDecay": 0.9, "emaFrom": 1}, r"reader.emaFrom.*\[0, 1\)"),
                                             ({"emaFrom": 0.5}, r"reader.emaFrom.*needs reader.emaDecay")])
def test_weight_average_settings_are_checked(reader, message):
    assert build.weight_average({"reader": {}}) == (None, 0.5)
    assert build.weight_average({"reader": {"emaDecay": 0.99, "emaFrom": 0.25}}) == (0.99, 0.25)
    with pytest.raises(ConfigError, match=message):
        build.weight_average({"reader": reader})
