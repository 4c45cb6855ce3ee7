import math

import numpy as np
import torch
import torch.nn.functional as F

from relik_train.decode import HeadParams, decode_window, gelu
from relik_train.heads import Feats, el_logits, end_logits, feature_layout, re_logits
from relik_train.reader import LossWeights, PatchTarget, reader_loss
from relik_train.reader_input import Candidate, Patch
from relik_train.retriever import multi_positive_nce, recall_at_k


def test_layout_offsets():
    lay = feature_layout("cie", 4)
    assert lay["end_s"] == (0, 4) and lay["end_t"] == (4, 4) and lay["el_s"] == (8, 4) and lay["el_t"] == (12, 4)
    assert lay["obj_ent"] == (40, 4)  # 10 blocks x 4 before it


def test_end_and_el_hand_computed():
    lay = feature_layout("el", 2)  # end_s(2), end_t(2), el_s(2), el_t(2)
    x = torch.tensor([[0.0, 0, 0, 0, 0, 0, 0, 0],
                      [1.0, 0, 0.5, 0, 1, 0, 0, 0],
                      [0.0, 0, -2.0, 1, 0, 1, 1, 0],
                      [0.0, 0, 0, 0, 1, 1, 0, 0]])
    f = Feats(x, lay)
    w, b = torch.tensor([1.0, 2.0]), torch.tensor(0.5)
    g = lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
    expected = torch.tensor([g(1.5) + 2 * g(0.0) + 0.5, g(-1.0) + 2 * g(1.0) + 0.5])
    assert torch.allclose(end_logits(f, 1, 3, w, b), expected, atol=1e-6)
    logits = el_logits(f, torch.tensor([1]), torch.tensor([2]), torch.tensor([3]))
    m = F.gelu(torch.tensor([1.0, 0]) + torch.tensor([1.0, 0]))  # el_s[1] + el_t[2]
    e = F.gelu(torch.tensor([1.0, 1]) + torch.tensor([0.0, 0]))
    assert torch.allclose(logits[0, 0], (m * e).sum())


def test_re_logits_trilinear():
    lay = feature_layout("re", 1)
    rows = torch.tensor([[0, 0, 1.0, 0.5, 2.0, 0.0, 0.0],
                         [0, 0, 0.2, 0.1, 0.3, 0.4, 0.0],
                         [0, 0, 0.0, 0.0, 0.0, 0.0, 1.5]])
    f = Feats(rows, lay)
    w, b = torch.tensor([2.0]), torch.tensor(-0.5)
    got = re_logits(f, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2]), w, b)
    g = lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
    s0, o1, r = g(1.0 + 0.5), g(0.3 + 0.4), g(1.5)
    assert abs(float(got[0, 1, 0]) - (2 * s0 * o1 * r - 0.5)) < 1e-5


class _M:
    task = "el"
    layout = feature_layout("el", 1)
    relation_weight = torch.ones(1)
    relation_bias = torch.zeros(())
    end_weight = torch.ones(1)
    end_bias = torch.zeros(())


def test_loss_hand_computed():
    start = torch.tensor([[0.0, 2.0, -1.0, 0.0, 0.0]])
    feats = torch.zeros((1, 5, 4))
    feats[0, 1, 0] = 1.0  # end_s at start 1
    feats[0, 2, 1] = 0.5  # end_t at 2
    feats[0, 3, 2] = 1.0  # el_s at marker 3 (NME), marker 4 is all zero
    tg = PatchTarget(1, 3, [(1, 2)], [3, 4], [1])
    loss, parts = reader_loss(_M(), start, feats, [tg], LossWeights())
    bce = lambda z, y: -(y * math.log(1 / (1 + math.exp(-z))) + (1 - y) * math.log(1 - 1 / (1 + math.exp(-z))))
    exp_start = (bce(2.0, 1) + bce(-1.0, 0)) / 2
    g = lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2)))
    exp_end = bce(g(1.0), 0) + bce(g(1.5), 1)  # endWeight 1, endBias 0
    # M = gelu(0+0)=0 -> all EL logits 0 -> CE = log 2
    assert abs(parts["start"] - exp_start) < 1e-5
    assert abs(parts["end"] - exp_end) < 1e-5
    assert abs(parts["el"] - math.log(2)) < 1e-5
    assert abs(float(loss) - (exp_start + exp_end + math.log(2))) < 1e-5


def test_nce_multi_positive():
    s = torch.tensor([[2.0, 1.0, 0.0]])
    pos = torch.tensor([[True, True, False]])
    got = float(multi_positive_nce(s, pos))
    exp = -(2 - math.log(math.exp(2) + 1)) - (1 - math.log(math.exp(1) + 1))
    assert abs(got - exp) < 1e-5
    ranked = torch.tensor([[2, 0, 1], [1, 2, 0]])
    assert recall_at_k(ranked, [{0}, {0, 1}], [1, 2]) == {"recall@1": 1 / 3, "recall@2": 2 / 3}


def test_decode_el_and_merge():
    lay = feature_layout("el", 1)
    hp = HeadParams(lay, np.ones(1), 0.0, np.ones(1), 0.0)
    # positions: 0 CLS, 1-2 word0 (2 subwords), 3 word1, 4 SEP, 5 <ST_0>, 6 <ST_1>, 7 SEP
    patch = Patch(list(range(8)), 1, [0, 0, 1], [5, 6], [Candidate("e1", "E one")], [], [])
    sl = np.array([-5, 3, -5, -5, 0, 0, 0, 0], dtype=np.float32)
    ft = np.zeros((8, 4), dtype=np.float32)
    ft[1, 0] = 0.0
    ft[2, 1], ft[3, 1] = 2.0, 1.0  # best end at position 2 (word 0)
    ft[1, 2] = 1.0; ft[2, 3] = 1.0  # M = gelu(2)
    ft[6, 2] = 1.0  # E_1 = gelu(1) > E_0 = 0
    spans, trips = decode_window("el", [patch], [(sl, ft)], hp)
    assert [(s.start, s.end, s.label, s.id) for s in spans] == [(0, 1, "E one", "e1")]
    m, e1 = gelu(np.array(2.0)), gelu(np.array(1.0))
    assert abs(spans[0].score - 1 / (1 + math.exp(-m * e1))) < 1e-6
    # second patch links nothing new: first non-NME label is kept, NME-only spans dropped for el
    patch2 = Patch(list(range(8)), 1, [0, 0, 1], [5, 6], [Candidate("e2", "E two")], [], [])
    ft2 = ft.copy(); ft2[6, 2] = -1.0
    spans, _ = decode_window("el", [patch, patch2], [(sl, ft), (sl, ft2)], hp)
    assert [(s.label) for s in spans] == ["E one"]
    spans, _ = decode_window("el", [patch2], [(sl, ft2)], hp)
    assert spans == []
