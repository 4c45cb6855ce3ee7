import json
import random

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from relik_train import fixtures, requantize, tiny
from relik_train.bundle import BundleSpec, write_bundle
from relik_train.decode import HeadParams, decode_window
from relik_train.export import compare, export_component, quantize
from relik_train.reader import ReaderModel
from relik_train.reader_input import Candidate, ReaderInputBuilder
from relik_train.retriever import RetrieverModel, pad_batch
from relik_train.tokenization import add_markers, train_wordpiece
from relik_train.train_reader import ReaderTrainConfig, sample_relations, train_reader

TOK = train_wordpiece(tiny.corpus(3), 300)


@pytest.mark.parametrize("scheme,op", [("int8-block", "MatMulNBits"), ("int8-dynamic", "MatMulInteger")])
def test_retriever_export_roundtrip_fp32_and_int8(tmp_path, scheme, op):
    model = RetrieverModel(fixtures.tiny_encoder(TOK.get_vocab_size(), 0)).eval()
    seqs = [[2, 10, 11, 12, 3], [2, 20, 3]]
    rep = export_component(model, tmp_path, ["embedding"], seqs, 0, scheme=None)
    assert max(rep["fp32MaxAbsDiff"]) < 1e-4
    ids, mask = pad_batch(seqs + [[2, 5, 6, 7, 8, 9, 3]], 0)  # other batch size + length than at export time
    assert max(compare(model, tmp_path / "model.onnx", ids, mask)) < 1e-4
    q = tmp_path / "q"
    rep8 = export_component(model, q, ["embedding"], seqs, 0, scheme=scheme)
    assert rep8["quantization"] == scheme and rep8["int8QuantizedEmbeddings"] is True
    assert rep8["int8Bytes"] < rep8["fp32Bytes"] and max(rep8["int8MaxAbsDiff"]) < 0.5
    ops = {n.op_type for n in onnx.load(str(q / "model.onnx")).graph.node}
    assert op in ops
    sess = ort.InferenceSession(str(q / "model.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    assert out.shape == (3, 32) and np.isfinite(out).all()


def test_quantize_rejects_unknown_scheme(tmp_path):
    with pytest.raises(ValueError, match="'scheme' must be one of int8-block, int8-dynamic"):
        quantize(tmp_path / "a.onnx", tmp_path / "b.onnx", "int4")


def test_tiny_train_export_reload_cie(tmp_path):
    torch.manual_seed(0)
    rtok = add_markers(TOK, 6, 6)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    builder = ReaderInputBuilder(rtok, "cie", 96, 6, 6, 6)
    train = tiny.synthetic(60, 5, n_candidates=5)
    log: list[dict] = []
    cfg = ReaderTrainConfig(steps=40, lr=3e-3, head_lr=3e-3, tokens_per_batch=1024, max_batch_size=16,
                            eval_every=40, checkpoint_every=20)
    ckpt = tmp_path / "work" / "reader.pt"
    dev = tiny.synthetic(10, 6, n_candidates=5)
    metrics = train_reader(model, builder, train, cfg, torch.device("cpu"), 0, log.append, ckpt, dev)
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0] and ckpt.is_file()
    assert "relationThreshold" in metrics and "el" in metrics
    # resume: already at the final step -> no more training, logged as resumed
    log2: list[dict] = []
    train_reader(model, builder, train, cfg, torch.device("cpu"), 0, log2.append, ckpt)
    assert log2[0]["event"] == "resumed" and log2[0]["step"] == 40
    retr = RetrieverModel(fixtures.tiny_encoder(TOK.get_vocab_size(), 2))
    kb = [{"id": e["id"], "title": e["title"], "text": e["text"]} for e in tiny.kb()]
    kb[0]["aliases"] = [{"text": "Curie", "count": 2}]
    spec = BundleSpec(name="t", task="cie", window_size=32, window_stride=16, max_length=96, max_candidate_tokens=6,
                      entity_markers=6, relation_markers=6, entity_top_k=5, relation_top_k=5, max_query_tokens=64,
                      quantize=None, alias_top_k=3, alias_prior_weight=0.5)
    out = tmp_path / "bundle"
    write_bundle(out, spec, model, rtok, retr, TOK, kb, tiny.relations(), [dev[0].words])
    manifest = json.loads((out / "relik.json").read_text())
    assert manifest["formatVersion"] == 1 and manifest["task"] == "cie"
    assert manifest["relations"]["retriever"] is None and manifest["entities"]["topK"] == 5
    assert manifest["entities"]["aliasTopK"] == 3 and manifest["entities"]["aliasPriorWeight"] == 0.5
    first = json.loads((out / "index" / "entities" / "passages.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["aliases"] == [{"text": "Curie", "count": 2}]
    idx = json.loads((out / "index" / "entities" / "index.json").read_text())
    emb = np.fromfile(out / "index" / "entities" / "embeddings.bin", dtype="<f2")
    assert emb.size == idx["count"] * idx["dim"] == 100 * 32
    # reload with onnxruntime and decode: same result as torch
    heads = json.loads((out / "reader" / "heads.json").read_text())
    hp = HeadParams.from_heads_json(heads, "one", 0.5)
    ex = dev[0]
    inp = builder.build(ex.words, ex.entity_candidates, ex.relation_candidates)
    sess = ort.InferenceSession(str(out / "reader" / "model.onnx"), providers=["CPUExecutionProvider"])
    ids, mask = pad_batch([p.input_ids for p in inp.patches], builder.sp.pad)
    sl, ft = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        tsl, tft = model(ids, mask)
    assert np.abs(sl - tsl.numpy()).max() < 1e-4 and np.abs(ft - tft.numpy()).max() < 1e-4
    outs = [(sl[i, : len(p.input_ids)], ft[i, : len(p.input_ids)]) for i, p in enumerate(inp.patches)]
    touts = [(tsl[i, : len(p.input_ids)].numpy(), tft[i, : len(p.input_ids)].numpy()) for i, p in enumerate(inp.patches)]
    a = decode_window("cie", inp.patches, outs, hp)
    b = decode_window("cie", inp.patches, touts, hp)
    assert [(s.start, s.end, s.label) for s in a[0]] == [(s.start, s.end, s.label) for s in b[0]]
    # requantize: the fp32 bundle's graphs rebuilt from the checkpoints as int8-block, relik.json updated
    base = tmp_path / "base"
    fixtures.tiny_encoder(TOK.get_vocab_size(), 0).save_pretrained(base)
    torch.save(retr.state_dict(), tmp_path / "work" / "retriever.pt")
    requantize.main(["--bundle", str(out), "--work", str(tmp_path / "work"), "--base-model", str(base),
                     "--scheme", "int8-block"])
    manifest = json.loads((out / "relik.json").read_text())
    assert manifest["quantization"] == {"reader": "int8-block", "retriever": "int8-block"}
    assert manifest["training"]["export"]["reader"]["quantization"] == "int8-block"
    for part in ("reader", "retriever"):
        ops = {n.op_type for n in onnx.load(str(out / part / "model.onnx")).graph.node}
        assert "MatMulNBits" in ops, part
    sess = ort.InferenceSession(str(out / "reader" / "model.onnx"), providers=["CPUExecutionProvider"])
    qsl, _ = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    assert np.abs(qsl - tsl.numpy()).max() < 0.5


def test_golden_fixtures_consistent():
    """The committed golden files agree with the committed bundles (ORT on the fp32 graphs)."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "fixtures"
    for task in ("el", "re", "cie"):
        g = json.loads((root / "golden" / f"tiny-{task}.json").read_text())
        sess = ort.InferenceSession(str(root / "bundles" / f"tiny-{task}" / "reader" / "model.onnx"),
                                    providers=["CPUExecutionProvider"])
        for case in g["cases"]:
            for ids, sl, ft in zip(case["inputIds"], case["startLogit"], case["features"]):
                a = np.array([ids], dtype=np.int64)
                osl, oft = sess.run(None, {"input_ids": a, "attention_mask": np.ones_like(a)})
                assert np.abs(osl[0] - np.array(sl)).max() < 1e-4
                assert np.abs(oft[0] - np.array(ft)).max() < 1e-4


def test_sample_relations_keeps_gold_and_order():
    rels = [Candidate(f"rel:{i}", f"r{i}") for i in range(50)]
    rng = random.Random(0)
    got = sample_relations(rels, {"rel:7", "rel:42"}, 10, rng)
    assert len(got) == 10 and {"rel:7", "rel:42"} <= {c.id for c in got}
    assert [c.id for c in got] == [c.id for c in rels if c in got]  # original order kept
    many_gold = {f"rel:{i}" for i in range(12)}
    assert {c.id for c in sample_relations(rels, many_gold, 10, rng)} == many_gold  # gold is never dropped
    without = sample_relations(rels, {"rel:7", "rel:42"}, 10, rng, with_gold=False)
    assert len(without) == 10 and not {"rel:7", "rel:42"} & {c.id for c in without}
    assert [c.id for c in without] == [c.id for c in rels if c in without]


def test_cap_relations_per_pair_keeps_the_best_of_each_ordered_pair():
    from relik_train.decode import DecodedTriplet
    from relik_train.train_reader import cap_relations_per_pair

    ts = [DecodedTriplet(0, "b", "b", 1, 0.5), DecodedTriplet(0, "a", "a", 1, 0.5), DecodedTriplet(0, "c", "c", 1, 0.9),
          DecodedTriplet(1, "a", "a", 0, 0.2)]
    assert [t.relation_id for t in cap_relations_per_pair(ts, 1)] == ["c", "a"]  # input order; (1, 0) is its own pair
    assert [t.relation_id for t in cap_relations_per_pair(ts, 2)] == ["a", "c", "a"]  # ties: relation id order
    assert cap_relations_per_pair(ts, 0) == ts


@pytest.mark.parametrize("with_gold", [1.0, 0.5])
def test_relation_sample_gold_sets_the_share_of_windows_that_read_their_relations(with_gold):
    """reader.relationSampleGold: the other windows read only relations they do not hold (no positive triplet),
    as most run-time passes over a large relation set do."""
    from relik_train.examples import AlignStats
    from relik_train.train_reader import make_items

    rtok = add_markers(TOK, 0, 2)
    builder = ReaderInputBuilder(rtok, "re", 96, 6, 2, 2)
    examples = [ex for ex in tiny.synthetic(400, 3) if ex.triplets]
    cfg = ReaderTrainConfig(relation_sample=2, relation_sample_gold=with_gold)
    items = make_items(examples, builder, random.Random(0), cfg, AlignStats())
    assert len(items) == len(examples)  # one patch each: 2 relations fit one pass
    share = sum(bool(it.target.triplets) for it in items) / len(items)
    assert share == 1.0 if with_gold == 1.0 else 0.4 < share < 0.6


def test_unlabeled_kinds_add_no_loss():
    """A window without gold links (CoNLL04 in an EL + RE mixture) adds no EL loss; one without gold relations
    (AIDA) no RE loss; the mention losses stay."""
    from relik_train.examples import patch_target
    from relik_train.reader import LossWeights, reader_loss
    torch.manual_seed(0)
    rtok = add_markers(TOK, 6, 6)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    builder = ReaderInputBuilder(rtok, "cie", 96, 6, 6, 6)
    ex = tiny.synthetic(1, 3, n_candidates=5)[0]
    patch = builder.build(ex.words, ex.entity_candidates, ex.relation_candidates).patches[0]
    ids, mask = pad_batch([patch.input_ids], builder.sp.pad)
    start, feats = model(ids, mask)
    full = reader_loss(model, start, feats, [patch_target(ex, patch)], LossWeights())[1]
    assert full["el"] > 0 and full["re"] > 0
    ex.labels_el = False
    no_el = reader_loss(model, start, feats, [patch_target(ex, patch)], LossWeights())[1]
    assert no_el["el"] == 0 and no_el["re"] == full["re"] and no_el["start"] == full["start"]
    ex.labels_el, ex.labels_re = True, False
    no_re = reader_loss(model, start, feats, [patch_target(ex, patch)], LossWeights())[1]
    assert no_re["re"] == 0 and no_re["el"] == full["el"]


def test_shared_encoder_joint_training_and_bundle(tmp_path):
    """retriever.shared: retrieval trained in the reader loop on the reader's encoder; the bundle stores one graph
    with the reader outputs and "embedding", and an index embedded by that graph."""
    from relik_train.retriever import RetrieverExample
    from relik_train.train_reader import JointRetrieval
    torch.manual_seed(0)
    rtok = add_markers(TOK, 6, 6)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    retr = RetrieverModel(model.encoder, dim=16)
    builder = ReaderInputBuilder(rtok, "cie", 96, 6, 6, 6)
    train = tiny.synthetic(40, 5, n_candidates=5)
    kb = [{"id": e["id"], "title": e["title"], "text": e["text"]} for e in tiny.kb()]
    row = {e["id"]: i for i, e in enumerate(kb)}
    passages = [rtok.encode(e["text"]).ids[:16] for e in kb]
    questions = [RetrieverExample(rtok.encode(" ".join(ex.words)).ids, sorted({row[i] for _, _, i in ex.spans if i}))
                 for ex in train]
    refreshes: list[int] = []

    def refresh() -> list[list[int]]:
        refreshes.append(1)
        return [[(q.positives[0] + 1) % len(kb)] for q in questions]
    head_before = retr.projection.weight.detach().clone()
    joint = JointRetrieval(retr, questions, passages, builder.sp.pad, refresh, every=1, batch_size=8)
    log: list[dict] = []
    cfg = ReaderTrainConfig(steps=12, lr=3e-3, head_lr=3e-3, tokens_per_batch=1024, max_batch_size=16,
                            eval_every=100, checkpoint_every=100)
    train_reader(model, builder, train, cfg, torch.device("cpu"), 0, log.append, tmp_path / "reader.pt", (),
                 None, joint)
    retrieval = [r["retrieval"] for r in log if "retrieval" in r]
    assert refreshes and retrieval and all(np.isfinite(retrieval))
    assert not torch.equal(head_before, retr.projection.weight.detach())  # the retrieval head is optimized
    assert "retriever" in torch.load(tmp_path / "reader.pt", weights_only=False)
    spec = BundleSpec(name="t", task="cie", window_size=32, window_stride=16, max_length=96, max_candidate_tokens=6,
                      entity_markers=6, relation_markers=6, entity_top_k=5, relation_top_k=5, max_query_tokens=64,
                      quantize=None, index_dtype="int8", shared_encoder=True)
    out = tmp_path / "bundle"
    write_bundle(out, spec, model, rtok, retr, rtok, kb, tiny.relations(), [train[0].words])
    manifest = json.loads((out / "relik.json").read_text())
    assert manifest["entities"]["retriever"] == "reader" and not (out / "retriever").exists()
    assert manifest["quantization"] == {"reader": "fp32"}
    sess = ort.InferenceSession(str(out / "reader" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["start_logit", "features", "embedding"]
    ids, mask = pad_batch([passages[0], passages[1][:3]], builder.sp.pad)
    sl, ft, emb = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        tsl, _ = model(ids, mask)
        temb = retr(ids, mask)
    assert emb.shape == (2, 16) and np.abs(emb - temb.numpy()).max() < 1e-4
    assert np.abs(sl - tsl.numpy())[mask.numpy().astype(bool)].max() < 1e-4
    idx = json.loads((out / "index" / "entities" / "index.json").read_text())
    assert idx["dim"] == 16 and idx["dtype"] == "int8" and idx["count"] == 100
    q = np.fromfile(out / "index" / "entities" / "embeddings.bin", dtype=np.int8).reshape(100, 16)
    scales = np.fromfile(out / "index" / "entities" / "scales.bin", dtype="<f4")
    with torch.no_grad():
        first = retr(*pad_batch([passage_ids_for(rtok, kb[0]["text"])], builder.sp.pad))[0].numpy()
    assert np.abs(q[0] * scales[0] - first).max() < 0.05


def passage_ids_for(tok, text: str) -> list[int]:
    from relik_train.tokenization import passage_ids
    return passage_ids(tok, text, 64)


def test_joint_retrieval_with_fewer_questions_than_a_batch(tmp_path):
    from relik_train.retriever import RetrieverExample
    from relik_train.train_reader import JointRetrieval
    torch.manual_seed(0)
    rtok = add_markers(TOK, 6, 6)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    retr = RetrieverModel(model.encoder, dim=8)
    builder = ReaderInputBuilder(rtok, "cie", 96, 6, 6, 6)
    passages = [[2, 10 + i, 3] for i in range(6)]
    questions = [RetrieverExample([2, 10 + i, 11, 3], [i]) for i in range(3)]
    joint = JointRetrieval(retr, questions, passages, builder.sp.pad, lambda: [[] for _ in questions], every=1,
                           batch_size=16)
    log: list[dict] = []
    cfg = ReaderTrainConfig(steps=4, lr=3e-3, head_lr=3e-3, tokens_per_batch=1024, eval_every=100,
                            checkpoint_every=100)
    train_reader(model, builder, tiny.synthetic(8, 2, n_candidates=5), cfg, torch.device("cpu"), 0, log.append,
                 None, (), None, joint)
    assert sum(1 for r in log if "retrieval" in r) >= 1


def accuracy_levels(graph) -> list[int]:
    return [next((a.i for a in n.attribute if a.name == "accuracy_level"), 0)
            for n in onnx.load(str(graph)).graph.node if n.op_type == "MatMulNBits"]


def test_int8_block_outputs_do_not_depend_on_the_batch(tmp_path):
    """int8-block computes in fp32 (accuracy level 0): a window's outputs are the same alone and beside others."""
    from relik_train.export import set_accuracy_level
    torch.manual_seed(0)
    rtok = add_markers(TOK, 4, 4)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 2), "re", 8).eval()
    short, long = [2, 10, 11, 12, 13, 3], [2, *range(20, 60), 3]
    export_component(model, tmp_path, ["start_logit", "features"], [short, long], 0, scheme="int8-block")
    graph = tmp_path / "model.onnx"
    levels = accuracy_levels(graph)
    assert levels and set(levels) == {0}  # an absent attribute means 0
    sess = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    alone = sess.run(None, dict(zip(("input_ids", "attention_mask"), (t.numpy() for t in pad_batch([short], 0)))))
    batched = sess.run(None, dict(zip(("input_ids", "attention_mask"), (t.numpy() for t in pad_batch([short, long, short], 0)))))
    for a, b in zip(alone, batched):
        assert np.abs(a[0] - b[0, : len(short)]).max() < 1e-6 and np.abs(a[0] - b[2, : len(short)]).max() < 1e-6
    assert set_accuracy_level(graph, 4) == len(levels)
    assert set(accuracy_levels(graph)) == {4}
    with pytest.raises(ValueError, match="'level' must be one of"):
        set_accuracy_level(graph, 7)


def test_accuracy_level_cli_reembeds_the_entity_index(tmp_path):
    """Changing a bundle's graph re-embeds its entity index with that graph (tiny-cie-shared: the reader embeds)."""
    import shutil
    from pathlib import Path
    from relik_train import accuracy_level
    src = Path(__file__).resolve().parents[2] / "fixtures" / "bundles" / "tiny-cie-shared"
    dst = tmp_path / "b"
    shutil.copytree(src, dst)
    before = np.fromfile(dst / "index" / "entities" / "embeddings.bin", dtype=np.int8).reshape(100, -1)
    (dst / "index" / "entities" / "embeddings.bin").write_bytes(b"")  # must be written again, not kept
    accuracy_level.main(["--bundle", str(dst), "--level", "0"])
    after = np.fromfile(dst / "index" / "entities" / "embeddings.bin", dtype=np.int8).reshape(100, -1)
    assert np.abs(after.astype(int) - before.astype(int)).max() <= 1  # same graph (fp32): same vectors
    assert (dst / "index" / "entities" / "passages.jsonl").read_text() == (src / "index" / "entities" / "passages.jsonl").read_text()
    with pytest.raises(SystemExit, match="no relik.json"):
        accuracy_level.main(["--bundle", str(tmp_path)])
