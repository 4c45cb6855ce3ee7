"""The relation head's optional MLP (reader.relationMlp): math, numpy decode = torch, heads.json, recovery, config."""

import json
import math

import numpy as np
import pytest
import torch

from relik_train import build
from relik_train.decode import HeadParams, decode_patch
from relik_train.errors import ConfigError
from relik_train.heads import Feats, RelationMlp, feature_layout, re_logits
from relik_train.reader import ReaderModel
from relik_train.reader_input import Candidate, Patch

from test_entity_types import base_and_splits, config, run_build


def gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def test_the_mlp_adds_out_dot_gelu_of_the_product_to_the_trilinear_logit():
    lay = feature_layout("re", 2)  # end_s end_t subj_s subj_t obj_s obj_t rel, 2 each
    rows = torch.zeros(3, 14)
    rows[0, 4:6] = torch.tensor([1.0, -0.5])  # subj_s of mention 0
    rows[1, 8:10] = torch.tensor([0.7, 0.2])  # obj_s of mention 1
    rows[2, 12:14] = torch.tensor([1.5, 2.0])  # rel at position 2
    f = Feats(rows, lay)
    w, b = torch.tensor([2.0, 1.0]), torch.tensor(-0.5)
    mlp = RelationMlp(2, 3)
    with torch.no_grad():
        mlp.inner.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        mlp.inner.bias.copy_(torch.tensor([0.1, -0.2, 0.0]))
        mlp.out.copy_(torch.tensor([0.5, -1.0, 2.0]))
    got = re_logits(f, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2]), w, b, mlp=mlp)
    p = [gelu(1.0) * gelu(0.7) * gelu(1.5), gelu(-0.5) * gelu(0.2) * gelu(2.0)]
    trilinear = 2 * p[0] + 1 * p[1] - 0.5
    hidden = [gelu(p[0] + 0.1), gelu(p[1] - 0.2), gelu(p[0] - p[1])]
    assert abs(float(got[0, 1, 0].detach()) - (trilinear + 0.5 * hidden[0] - hidden[1] + 2 * hidden[2])) < 1e-5
    # a fresh MLP (out = 0) leaves the trilinear logits as they were
    plain = re_logits(f, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2]), w, b)
    assert torch.equal(re_logits(f, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2]), w, b,
                                 mlp=RelationMlp(2, 3)), plain)


def trained_looking_reader(task: str, head_dim: int, hidden: int) -> ReaderModel:
    from relik_train.fixtures import tiny_encoder
    torch.manual_seed(3)
    model = ReaderModel(tiny_encoder(64, 3), task, head_dim, hidden)
    with torch.no_grad():
        model.relation_mlp.out.normal_()  # a fresh out is 0: give the MLP something to say
    return model


def every_pair_decoded(model: ReaderModel, words: int) -> tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor,
                                                                 torch.Tensor]:
    """Decodes one RE patch of `words` one-subword words in which every word span is a mention, at threshold 0.
    Returns (decode_patch's result, the feature rows, subword starts and ends of its spans, relation positions)."""
    feats = torch.randn(words + 5, model.feature_size)
    # positions: 0 CLS, 1..words the words, then SEP, <RT_0>, r0, <RT_1>, SEP
    rel_pos = [words + 2, words + 4]
    patch = Patch(list(range(words + 5)), 1, list(range(words)), [], [], rel_pos,
                  [Candidate("r0", "R zero"), Candidate("r1", "R one")])
    start = np.array([-9] + [9] * words + [-9] * 5, dtype=np.float32)  # every word starts a mention
    with torch.no_grad():
        model.end_bias.fill_(10.0)  # every end passes: every span of words is a mention
    res = decode_patch("re", patch, start, feats.numpy(), HeadParams.from_model(model, "all", 0.0))
    spans = [tuple(k) for k in res["keys"]]  # (first word, last word + 1); word w sits at position w + 1
    assert len(spans) == words * (words + 1) // 2
    assert len(res["triplets"]) == len(spans) * (len(spans) - 1) * 2  # every ordered pair, both relations
    # the same from heads.json
    hp_json = HeadParams.from_heads_json(json.loads(json.dumps(model.heads_json())), "all", 0.0)
    assert decode_patch("re", patch, start, feats.numpy(), hp_json)["triplets"] == res["triplets"]
    starts, ends = torch.tensor([s + 1 for s, _ in spans]), torch.tensor([e for _, e in spans])
    return res, feats, starts, ends, torch.tensor(rel_pos)


def test_numpy_decoding_scores_relations_as_torch_does():
    model = trained_looking_reader("re", 4, 5)
    res, feats, starts, ends, rel_pos = every_pair_decoded(model, 3)
    with torch.no_grad():
        expected = torch.sigmoid(re_logits(Feats(feats, model.layout), starts, ends, rel_pos,
                                           model.relation_weight, model.relation_bias, mlp=model.relation_mlp))
    for i, j, r, p in res["triplets"]:
        assert abs(p - float(expected[i, j, r])) < 1e-6


def test_heads_json_carries_the_mlp_and_from_heads_rebuilds_its_shape():
    model = trained_looking_reader("cie", 4, 6)
    heads = model.heads_json()
    mlp = heads["relationMlp"]
    assert mlp["hidden"] == 6 and len(mlp["weight"]) == 6 and len(mlp["weight"][0]) == 4
    assert len(mlp["bias"]) == 6 and len(mlp["out"]) == 6
    again = ReaderModel.from_heads(model.encoder, "cie", heads)
    assert again.relation_mlp is not None and again.relation_mlp.out.numel() == 6
    assert "relationMlp" not in ReaderModel(model.encoder, "cie", 4).heads_json()
    with pytest.raises(ValueError, match="relation_mlp"):
        ReaderModel(model.encoder, "el", 4, 6)


def test_build_writes_the_mlp_into_heads_json(tmp_path):
    """reader.relationMlp reaches the bundle (recovery of its weights: tests/test_recover.py)."""
    base_and_splits(tmp_path, 1)
    run_build(tmp_path, config(tmp_path, relationMlp=5, steps=2))
    heads = json.loads((tmp_path / "bundle" / "reader" / "heads.json").read_text(encoding="utf-8"))
    assert heads["relationMlp"]["hidden"] == 5 and len(heads["relationMlp"]["weight"][0]) == heads["headDim"]


@pytest.mark.parametrize("value", [-1, 1.5, "8", True])
def test_relation_mlp_must_be_a_size(value):
    with pytest.raises(ConfigError, match=r"reader.relationMlp.*integer >= 0"):
        build.relation_mlp({"reader": {"relationMlp": value}}, "re")


def test_relation_mlp_needs_relations():
    with pytest.raises(ConfigError, match="reader.relationMlp.*task re or cie"):
        build.relation_mlp({"reader": {"relationMlp": 8}}, "el")
    assert build.relation_mlp({}, "el") == 0
