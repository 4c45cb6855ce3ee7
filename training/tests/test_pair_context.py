"""The relation head's pair-context term (reader.relationContext): pooling, numpy decode = torch, heads.json,
bundle version, config."""

import json
import math

import numpy as np
import pytest
import torch

from relik_train import build
from relik_train.bundle import format_version
from relik_train.decode import pair_context as numpy_pair_context
from relik_train.errors import ConfigError
from relik_train.heads import Feats, between_mask, feature_layout, pair_context, re_logits
from relik_train.reader import ReaderModel

from test_entity_types import base_and_splits, config, run_build
from test_relation_mlp import every_pair_decoded


def gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def test_between_is_after_the_earlier_end_and_before_the_later_start():
    # mentions: [1, 2], [5, 5], [2, 3] (overlaps the first)
    mask = between_mask(torch.tensor([1, 5, 2]), torch.tensor([2, 5, 3]), 8)
    assert mask[0, 1].nonzero().flatten().tolist() == [3, 4]
    assert mask[1, 0].tolist() == mask[0, 1].tolist()  # the same positions in both directions
    assert mask[2, 1].nonzero().flatten().tolist() == [4]
    assert not mask[0, 2].any() and not mask[0, 0].any()  # overlapping mentions, a mention with itself


def test_pair_context_max_pools_between_the_mentions_and_is_zero_when_nothing_lies_between():
    ctx = torch.tensor([[9.0, 9.0], [0.0, 0.0], [1.0, -2.0], [0.5, 3.0], [0.0, 0.0], [9.0, 9.0]])
    # mentions at 1 and 4 (positions 2, 3 between), at 4 and 5 (adjacent)
    got = pair_context(ctx, torch.tensor([1, 4, 5]), torch.tensor([1, 4, 5]))
    assert torch.allclose(got[0, 1], torch.tensor([gelu(1.0), gelu(3.0)]))
    assert torch.equal(got[1, 2], torch.zeros(2)) and torch.equal(got[0, 0], torch.zeros(2))
    expected = numpy_pair_context(ctx.double().numpy(), [1, 4, 5], [1, 4, 5])
    assert np.allclose(got.double().numpy(), expected)


def test_the_context_term_adds_v_dot_c_times_r_to_the_trilinear_logit():
    lay = feature_layout("re", 2, context=True)  # ... rel, then ctx, 2 each
    assert list(lay)[-1] == "ctx" and lay["ctx"] == (14, 2)
    rows = torch.zeros(4, 16)
    rows[0, 4:6] = torch.tensor([1.0, -0.5])  # subj_s of mention 0
    rows[2, 8:10] = torch.tensor([0.7, 0.2])  # obj_s of mention 1 (position 2)
    rows[1, 14:16] = torch.tensor([0.4, 1.2])  # ctx at position 1, between the mentions
    rows[3, 12:14] = torch.tensor([1.5, 2.0])  # rel at position 3
    f = Feats(rows, lay)
    w, b, v = torch.tensor([2.0, 1.0]), torch.tensor(-0.5), torch.tensor([0.3, -1.0])
    starts = ends = torch.tensor([0, 2])
    got = re_logits(f, starts, ends, torch.tensor([3]), w, b, context_weight=v)
    trilinear = 2 * gelu(1.0) * gelu(0.7) * gelu(1.5) + gelu(-0.5) * gelu(0.2) * gelu(2.0) - 0.5
    context = 0.3 * gelu(0.4) * gelu(1.5) - 1.0 * gelu(1.2) * gelu(2.0)
    assert abs(float(got[0, 1, 0]) - (trilinear + context)) < 1e-5
    # a fresh term (v = 0) leaves the trilinear logits as they were
    plain = re_logits(f, starts, ends, torch.tensor([3]), w, b)
    assert torch.equal(re_logits(f, starts, ends, torch.tensor([3]), w, b, context_weight=torch.zeros(2)), plain)


def reader_with_context(task: str, head_dim: int) -> ReaderModel:
    from relik_train.fixtures import tiny_encoder
    torch.manual_seed(5)
    model = ReaderModel(tiny_encoder(64, 5), task, head_dim, relation_context=True)
    with torch.no_grad():
        model.relation_context_weight.normal_()  # a fresh weight is 0: give the term something to say
    return model


def test_numpy_decoding_scores_the_context_as_torch_does():
    model = reader_with_context("re", 4)
    res, feats, starts, ends, rel_pos = every_pair_decoded(model, 4)  # ten spans, overlapping, adjacent and apart
    with torch.no_grad():
        f = Feats(feats, model.layout)
        expected = torch.sigmoid(re_logits(f, starts, ends, rel_pos, model.relation_weight, model.relation_bias,
                                           context_weight=model.relation_context_weight))
        without = torch.sigmoid(re_logits(f, starts, ends, rel_pos, model.relation_weight, model.relation_bias))
    for i, j, r, p in res["triplets"]:
        assert abs(p - float(expected[i, j, r])) < 1e-6
    assert not torch.allclose(expected, without)  # the term changes the scores


def test_the_context_block_learns_from_the_relation_loss():
    from relik_train.reader import LossWeights, PatchTarget, reader_loss
    model = reader_with_context("re", 4)
    ids = torch.randint(5, 60, (1, 10))
    start, feats = model(ids, torch.ones_like(ids))
    target = PatchTarget(1, 5, [(1, 1), (4, 4)], relation_positions=[6, 8], triplets=[(0, 1, 1)])
    loss, _ = reader_loss(model, start, feats, [target], LossWeights())
    loss.backward()
    assert model.blocks["ctx"].weight.grad.abs().sum() > 0
    assert model.relation_context_weight.grad.abs().sum() > 0


def test_heads_json_carries_the_context_and_from_heads_rebuilds_its_shape():
    model = reader_with_context("cie", 4)
    heads = model.heads_json()
    assert len(heads["relationContextWeight"]) == 4 and heads["features"]["ctx"][1] == 4
    again = ReaderModel.from_heads(model.encoder, "cie", heads)
    assert again.relation_context_weight is not None and again.layout == model.layout
    plain = ReaderModel(model.encoder, "cie", 4)
    assert "relationContextWeight" not in plain.heads_json() and "ctx" not in plain.layout
    assert (format_version(plain), format_version(model)) == (1, 3)
    with pytest.raises(ValueError, match="task re or cie"):
        ReaderModel(model.encoder, "el", 4, relation_context=True)


def test_build_writes_the_context_into_the_bundle(tmp_path):
    """reader.relationContext reaches the bundle (recovery of its weights: tests/test_recover.py)."""
    base_and_splits(tmp_path, 1)
    run_build(tmp_path, config(tmp_path, relationContext=True, steps=2))
    bundle = tmp_path / "bundle"
    heads = json.loads((bundle / "reader" / "heads.json").read_text(encoding="utf-8"))
    assert "ctx" in heads["features"] and len(heads["relationContextWeight"]) == heads["headDim"]
    assert json.loads((bundle / "relik.json").read_text(encoding="utf-8"))["formatVersion"] == 3


@pytest.mark.parametrize("value", [1, "true", None])
def test_relation_context_must_be_a_boolean(value):
    with pytest.raises(ConfigError, match=r"reader.relationContext.*true or false"):
        build.relation_context({"reader": {"relationContext": value}}, "re")


def test_relation_context_needs_relations():
    with pytest.raises(ConfigError, match="reader.relationContext.*task re or cie"):
        build.relation_context({"reader": {"relationContext": True}}, "el")
    assert build.relation_context({}, "el") is False
