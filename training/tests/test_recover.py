import json
import shutil

import pytest
import torch

from relik_train import fixtures, tiny
from relik_train.bundle import SharedEncoderGraph
from relik_train.export import export_onnx, quantize, quantize_blockwise
from relik_train.reader import ReaderModel, load_encoder, warm_start
from relik_train.recover import check, recover
from relik_train.retriever import RetrieverModel, warm_start_heads
from relik_train.tokenization import add_markers, save_tokenizer, train_wordpiece

TOK = train_wordpiece(tiny.corpus(3), 300)
MARKERS = (6, 6)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny shared-encoder cIE bundle (fp32 graph), its base model folder and the model it was exported from."""
    root = tmp_path_factory.mktemp("recover")
    base = root / "base"
    fixtures.tiny_encoder(TOK.get_vocab_size(), 1).save_pretrained(base)
    save_tokenizer(TOK, base / "tokenizer.json")
    rtok = add_markers(TOK, *MARKERS)
    torch.manual_seed(3)
    model = ReaderModel(load_encoder(base, rtok.get_vocab_size()), "cie", 16, relation_mlp=8, relation_context=True)
    with torch.no_grad():  # trained-looking heads: nothing left at its initial value
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    retriever = RetrieverModel(model.encoder, dim=8)
    bundle = root / "bundle"
    (bundle / "reader").mkdir(parents=True)
    export_onnx(SharedEncoderGraph(model, retriever), bundle / "reader" / "model.onnx",
                ["start_logit", "features", "embedding"])
    (bundle / "reader" / "heads.json").write_text(json.dumps(model.heads_json()), encoding="utf-8")
    save_tokenizer(rtok, bundle / "reader" / "tokenizer.json")
    (bundle / "relik.json").write_text(json.dumps({"task": "cie", "reader": {"dir": "reader"},
                                                    "entities": {"retriever": "reader"}}), encoding="utf-8")
    return bundle, base, model, retriever, rtok


def seqs(rtok):
    return [rtok.encode(w).ids for w in ("the cat sat on the mat", "a dog ran")]


def test_an_fp32_bundle_gives_back_every_weight_exactly(shipped, tmp_path):
    bundle, base, model, retriever, rtok = shipped
    state = recover(bundle, str(base))
    for name, value in model.state_dict().items():
        if not name.endswith("position_ids"):
            assert torch.equal(state["model"][name], value), name
    for name in ("projection.weight", "norm.weight", "norm.bias"):
        assert torch.equal(state["retriever"][name], retriever.state_dict()[name]), name
    assert max(check(bundle, str(base), state, seqs(rtok)).values()) < 1e-5
    # it continues like a build checkpoint: reader.init with complete: true leaves nothing fresh
    torch.save(state, tmp_path / "recovered.pt")
    torch.manual_seed(9)
    again = ReaderModel(load_encoder(base, rtok.get_vocab_size()), "cie", 16, relation_mlp=8, relation_context=True)
    report = warm_start(again, rtok, TOK, tmp_path / "recovered.pt", *MARKERS)
    assert report["fresh"] == []
    assert warm_start_heads(RetrieverModel(again.encoder, dim=8), tmp_path / "recovered.pt") == [
        "projection.weight", "norm.weight", "norm.bias"]


@pytest.mark.parametrize("gather", ["int4", "int8"])
def test_a_quantized_bundle_gives_back_the_weights_its_graph_computes_with(shipped, tmp_path, gather):
    bundle, base, model, _, rtok = shipped
    quantized = tmp_path / "q"
    shutil.copytree(bundle, quantized)
    quantize_blockwise(bundle / "reader" / "model.onnx", quantized / "reader" / "model.onnx", block_size=16,
                       gather=gather, gather_block_size=16)
    state = recover(quantized, str(base))
    # the recovered weights reproduce the quantized graph's outputs ...
    assert max(check(quantized, str(base), state, seqs(rtok)).values()) < 1e-4
    # ... and lie within one quantization step of the weights it was made from
    for name in ("encoder.encoder.layer.0.attention.self.query.weight", "blocks.rel.weight",
                 "encoder.embeddings.word_embeddings.weight"):
        original, back = model.state_dict()[name], state["model"][name]
        levels = 7 if (gather == "int4" and "embeddings" in name) else 127
        step = original.abs().max() / levels
        assert (back - original).abs().max() <= step + 1e-6, name
        assert not torch.equal(back, original), name


def test_unsupported_and_incomplete_graphs_are_refused(shipped, tmp_path):
    bundle, base, _, _, _ = shipped
    dynamic = tmp_path / "dyn"
    shutil.copytree(bundle, dynamic)
    quantize(bundle / "reader" / "model.onnx", dynamic / "reader" / "model.onnx", "int8-dynamic")
    with pytest.raises(ValueError, match="int8-dynamic"):
        recover(dynamic, str(base))
    # heads.json of another layout: the graph's feature blocks have no parameter to go to
    wrong = tmp_path / "wrong"
    shutil.copytree(bundle, wrong)
    heads = json.loads((wrong / "reader" / "heads.json").read_text(encoding="utf-8"))
    heads["features"] = {k: v for k, v in heads["features"].items() if k != "end_s"}
    (wrong / "reader" / "heads.json").write_text(json.dumps(heads), encoding="utf-8")
    with pytest.raises(ValueError, match="end_s"):
        recover(wrong, str(base))

