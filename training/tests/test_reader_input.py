from relik_train import tiny
from relik_train.reader_input import Candidate, ReaderInputBuilder
from relik_train.tokenization import add_markers, encode_text, train_wordpiece

import pytest

from relik_train.errors import InputBuildError

TOK = add_markers(train_wordpiece(tiny.corpus(1), 300), 5, 3)


def ids(t):
    return TOK.token_to_id(t)


def test_el_layout_and_patches():
    b = ReaderInputBuilder(TOK, "el", 24, 3, 5, 3)
    words = ["Paris", "is", "nice"]
    cands = [Candidate(f"c{i}", t) for i, t in enumerate(["Paris", "France", "Srinivasa Ramanujan", "Oslo"])]
    inp = b.build(words, cands)
    p0 = inp.patches[0]
    w = [i for x in words for i in encode_text(TOK, x)]
    assert p0.input_ids[: len(w) + 2] == [ids("[CLS]"), *w, ids("[SEP]")]
    assert p0.input_ids[len(w) + 2] == ids("<ST_0>") and p0.entity_positions[0] == len(w) + 2
    assert p0.input_ids[-1] == ids("[SEP]")
    assert all(len(p.input_ids) <= 24 for p in inp.patches)
    assert [c.id for p in inp.patches for c in p.entities] == ["c0", "c1", "c2", "c3"]
    assert len(inp.patches) >= 2
    for p in inp.patches:  # numbering restarts, NME in every patch
        assert p.input_ids[p.entity_positions[0]] == ids("<ST_0>")
        for k, pos in enumerate(p.entity_positions):
            assert p.input_ids[pos] == ids(f"<ST_{k}>")
    assert inp.truncated_titles == sum(len(encode_text(TOK, c.title)) > 3 for c in cands) >= 1


def test_marker_capacity_and_cie_layout():
    b = ReaderInputBuilder(TOK, "cie", 200, 3, 3, 3)
    inp = b.build(["a"], [Candidate(str(i), "x") for i in range(5)], [Candidate("r0", "live in"), Candidate("r1", "kill")])
    assert [len(p.entities) for p in inp.patches] == [2, 2, 1]
    p = inp.patches[0]
    assert p.relation_positions and p.input_ids[p.relation_positions[0]] == ids("<RT_0>")
    assert p.input_ids[p.relation_positions[0] - 1] == ids("[SEP]") and p.input_ids[-1] == ids("[SEP]")


def test_window_too_long_raises():
    b = ReaderInputBuilder(TOK, "re", 8, 3, 0, 3)
    with pytest.raises(InputBuildError, match="maxLength=8"):
        b.build(["word"] * 10, [], [Candidate("r", "kill")])


def test_bad_task():
    with pytest.raises(ValueError, match="'task' must be one of"):
        ReaderInputBuilder(TOK, "ner", 64, 3, 5, 3)
