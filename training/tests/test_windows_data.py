import json
import os
from pathlib import Path

import pytest

from relik_train.data import (AlignReport, locate_words, read_casrel, read_el, read_kb, read_re, read_rebel, realign,
                              split_rebel, window_docs)
from relik_train.errors import DataError
from relik_train.windows import make_windows

# ../shared/data beside the repository (as CI lays it out), or $RELIK_DATA
SHARED = Path(os.environ.get("RELIK_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def test_windows_reference_rule():
    assert make_windows(40, 32, 16) == [(0, 32), (8, 40)]
    assert make_windows(10, 32, 16) == [(0, 10)]
    assert make_windows(32, 32, 16) == [(0, 32)]
    assert make_windows(0, 32, 16) == []
    # 70 words: 0,16,32 regular; i=48 overflows by 10 < 16 -> slides to 38; i=64 overflow 26 >= 16 -> stop
    assert make_windows(70, 32, 16) == [(0, 32), (16, 48), (32, 64), (38, 70)]
    assert make_windows(5, 2, 2) == [(0, 2), (2, 4), (3, 5)]


def test_windows_bad_args():
    with pytest.raises(ValueError, match="'stride'"):
        make_windows(10, 4, 5)
    with pytest.raises(ValueError, match="'size'"):
        make_windows(10, 0, 1)


def test_read_re_inline_and_windows(tmp_path):
    p = tmp_path / "re.jsonl"
    rec = {"doc_id": 1, "doc_words": "A B works for C D in E .".split(),
           "doc_span_annotations": [[0, 2, "Peop"], [4, 6, "Org"], [7, 8, "Loc"]],
           "doc_triplet_annotations": [{"subject": [0, 2, "Peop"], "relation": "Work_For", "object": [4, 6, "Org"]},
                                       {"subject": [4, 6, "Org"], "relation": "OrgBased_In", "object": [7, 8, "Loc"]}]}
    p.write_text(json.dumps(rec) + "\n")
    docs = read_re(p)
    assert docs[0].spans == [(0, 2, "Peop"), (4, 6, "Org"), (7, 8, "Loc")]
    assert docs[0].triplets == [(0, "Work_For", 1), (1, "OrgBased_In", 2)]
    rep = AlignReport()
    wins = window_docs(docs, 6, 3, report=rep)
    assert [(w.first_word, len(w.words)) for w in wins] == [(0, 6), (3, 6)]
    assert wins[0].spans == [(0, 2, None), (4, 6, None)] and wins[0].triplets == [(0, "Work_For", 1)]
    assert wins[1].spans == [(1, 3, None), (4, 5, None)] and wins[1].triplets == [(0, "OrgBased_In", 1)]
    assert rep.cut_spans == 0


def test_read_re_errors_name_file_line_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"doc_words": ["a"], "doc_span_annotations": []}\n{"doc_words": ["a"], "doc_span_annotations": [[0, 3]]}\n')
    with pytest.raises(DataError) as err:
        read_re(p)
    assert err.value.line == 2 and err.value.field == "doc_span_annotations[0]" and "bad.jsonl" in str(err.value)
    p.write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: field '<record>'"):
        read_re(p)


def test_read_el_counts_unaligned(tmp_path):
    p = tmp_path / "el.jsonl"
    rec = {"doc_id": "d", "doc_text": "Paris is in France .", "doc_words": ["Paris", "is", "in", "France", "."],
           "doc_span_annotations": [[0, 5, "Paris"], [12, 18, "France"], [1, 4, "Bad"]]}
    p.write_text(json.dumps(rec) + "\n")
    rep = AlignReport()
    docs = read_el(p, rep)
    assert docs[0].spans == [(0, 1, "Paris"), (3, 4, "France")]
    assert rep.spans == 3 and len(rep.unaligned_spans) == 1 and "Bad" in rep.unaligned_spans[0]
    ex = window_docs(docs, 32, 16, {"Paris": "wiki:Paris"})
    assert ex[0].spans == [(0, 1, "wiki:Paris"), (3, 4, None)]


def test_read_rebel_inline(tmp_path):
    p = tmp_path / "rebel.jsonl"
    text = "Acme Labs is based in Oslo."
    rec = {"docid": "1", "text": text,
           "entities": [{"uri": "Q1", "boundaries": [0, 9]}, {"uri": "Q2", "boundaries": [22, 26]}],
           "triples": [{"subject": {"uri": "Q1", "boundaries": [0, 9]}, "predicate": {"surfaceform": "based in"},
                        "object": {"uri": "Q2", "boundaries": [22, 26]}}]}
    p.write_text(json.dumps(rec) + "\n")
    docs = read_rebel(p, {"Q2": "Oslo"})
    assert docs[0].words == ["Acme", "Labs", "is", "based", "in", "Oslo", "."]
    assert docs[0].spans == [(0, 2, "--NME--"), (5, 6, "Oslo")]
    assert docs[0].triplets == [(0, "based in", 1)]


def test_shared_conll04_test_counts():
    path = SHARED / "conll04" / "processed" / "conll04_test.relik.jsonl"
    if not path.is_file():
        pytest.skip(f"shared data missing: {path} (CoNLL04 count check skipped)")
    docs = read_re(path)
    assert len(docs) == 288
    assert sum(len(d.spans) for d in docs) == 1079
    assert sum(len(d.triplets) for d in docs) == 422
    rep = AlignReport()
    wins = window_docs(docs, 64, 32, report=rep)
    assert sum(len(w.triplets) for w in wins) >= 422 and rep.cut_spans == 0


def test_read_rebel_realigns_shifted_boundaries(tmp_path):
    p = tmp_path / "rebel.jsonl"
    text = "Acme Labs is based in Oslo."
    # REBEL boundaries are sometimes shifted: the surface form decides where the mention is
    rec = {"docid": "1", "text": text,
           "entities": [{"uri": "Q1", "boundaries": [1, 10], "surfaceform": "Acme Labs"},
                        {"uri": "Q2", "boundaries": [20, 24], "surfaceform": "Oslo"}],
           "triples": [{"subject": {"uri": "Q1", "boundaries": [1, 10], "surfaceform": "Acme Labs"},
                        "predicate": {"surfaceform": "based in"},
                        "object": {"uri": "Q2", "boundaries": [20, 24], "surfaceform": "Oslo"}}]}
    p.write_text(json.dumps(rec) + "\n")
    rep = AlignReport()
    docs = read_rebel(p, {"Q2": "Oslo"}, rep)
    assert docs[0].spans == [(0, 2, "--NME--"), (5, 6, "Oslo")]
    assert docs[0].triplets == [(0, "based in", 1)]
    assert rep.unaligned_spans == []


def test_realign_and_rebel_split():
    assert realign("a Oslo b Oslo", 8, 12, "Oslo") == (9, 13)
    assert realign("abc", 0, 1, "z") is None
    docs = list(range(1000))
    train, dev, test = split_rebel(docs)  # type: ignore[arg-type]
    assert (test[0], test[-1], dev[0], dev[-1], train[0], len(train)) == (0, 99, 100, 199, 200, 800)


def test_read_kb_qid_ids_unique(tmp_path):
    p = tmp_path / "kb.jsonl"
    rows = [{"title": "United States", "wikidata_qid": "Q30"}, {"title": "USA", "wikidata_qid": "Q30"},
            {"title": "Oslo"}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [e["id"] for e in read_kb(p, id_field="qid")] == ["Q30", "wiki:USA", "wiki:Oslo"]
    assert [e["id"] for e in read_kb(p)] == ["wiki:United States", "wiki:USA", "wiki:Oslo"]
    with pytest.raises(ValueError, match="id_field"):
        read_kb(p, id_field="pid")


def test_read_casrel_locates_entities_on_word_edges(tmp_path):
    p = tmp_path / "webnlg.json"
    recs = [{"text": "Oslo Airport serves oslo , Norway .",
             "triple_list": [["Oslo Airport", "cityServed", "Oslo"], ["Oslo", "country", "Norway"],
                             ["Bergen", "country", "Norway"]]}]
    p.write_text(json.dumps(recs))
    rep = AlignReport()
    docs = read_casrel(p, rep)
    # "Oslo" first occurs on word edges inside "Oslo Airport" (the TS reader's rule too); "Bergen" is absent
    assert docs[0].words == ["Oslo", "Airport", "serves", "oslo", ",", "Norway", "."]
    assert docs[0].spans == [(0, 2, "--NME--"), (0, 1, "--NME--"), (5, 6, "--NME--")]
    assert docs[0].triplets == [(0, "cityServed", 1), (1, "country", 2)]
    assert rep.triplets == 2 and len(rep.unaligned_spans) == 1 and "Bergen" in rep.unaligned_spans[0]
    assert locate_words("a OSLO b", [0, 2, 7], [1, 6, 8], "Oslo") == (1, 2)  # case-insensitive fallback
    p.write_text('{"text": "x"}')
    with pytest.raises(DataError, match="JSON array"):
        read_casrel(p)


def test_shared_webnlg_counts():
    root = SHARED / "webnlg" / "orig_onerel" / "WebNLG"
    if not root.is_dir():
        pytest.skip(f"shared data missing: {root}")
    for split, n_docs, n_triplets in (("train", 5019, 11313), ("dev", 500, 1224), ("test", 703, 1607)):
        rep = AlignReport()
        docs = read_casrel(root / f"{split}_triples.json", rep)
        assert (len(docs), rep.triplets, len(rep.unaligned_spans)) == (n_docs, n_triplets, 0)


def test_split_sentences_same_rule_as_runtime():
    from relik_train.windows import document_windows, split_sentences
    words = "Mr . Smith met J . Doe in Paris . He left . then came back ! Done".split()
    # "Mr ." and "J ." do not end sentences; ". then" (lower case next) does not either
    assert split_sentences(words) == [(0, 10), (10, 17), (17, 18)]
    assert split_sentences([]) == []
    assert document_windows(words, "words", 8, 4) == make_windows(len(words), 8, 4)
    # sentences longer than the window size are windowed like documents, inside the sentence
    assert document_windows(words, "sentences", 6, 3) == [(0, 6), (3, 9), (4, 10), (10, 16), (11, 17), (17, 18)]
    with pytest.raises(ValueError, match="'strategy'"):
        document_windows(words, "paragraphs", 6, 3)


def test_window_docs_by_sentence_keeps_spans_inside():
    from relik_train.data import Doc
    doc = Doc("d", "Ann met Bob . Bob left Rome .".split(), [(0, 1, "Ann"), (2, 3, "Bob"), (4, 5, "Bob"), (6, 7, "Rome")])
    wins = window_docs([doc], 64, 32, None, AlignReport(), "sentences")
    assert [w.words for w in wins] == [["Ann", "met", "Bob", "."], ["Bob", "left", "Rome", "."]]
    assert [w.spans for w in wins] == [[(0, 1, None), (2, 3, None)], [(0, 1, None), (2, 3, None)]]
    assert [w.first_word for w in wins] == [0, 4]


def test_data_sources_mix_validation():
    from relik_train.build import data_sources
    from relik_train.errors import ConfigError
    plain = data_sources({"data": {"kind": "conll04", "train": "a", "dev": "b"}})
    assert plain[0]["labels"] == ["el", "re"] and plain[0]["repeat"] == 1
    mix = {"data": {"kind": "mix", "root": "/r", "sources": [
        {"kind": "aida", "train": "a", "dev": "b", "labels": ["el"]},
        {"kind": "conll04", "train": "c", "dev": "d", "labels": ["re"], "repeat": 3}]}}
    got = data_sources(mix)
    assert [(s["kind"], s["labels"], s["repeat"], s["root"]) for s in got] == [
        ("aida", ["el"], 1, "/r"), ("conll04", ["re"], 3, "/r")]
    bad_labels = {"data": {"kind": "mix", "sources": [{"kind": "aida", "train": "a", "dev": "b", "labels": ["ner"]}]}}
    with pytest.raises(ConfigError, match=r"data.sources\[0\].labels"):
        data_sources(bad_labels)
    with pytest.raises(ConfigError, match=r"data.sources\[0\].repeat"):
        data_sources({"data": {"kind": "mix", "sources": [{"kind": "aida", "train": "a", "dev": "b", "repeat": 0}]}})
    with pytest.raises(ConfigError, match="data.sources"):
        data_sources({"data": {"kind": "mix", "sources": []}})
