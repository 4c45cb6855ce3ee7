import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from relik_train.aliases import (NAMED_POOL_FACTOR, NameTable, _words, add_to_bundle, alias_counts, alias_settings,
                                 best_scored, join_named, popularity_of, with_aliases)
from relik_train.data import Doc, read_kb
from relik_train.export import read_index_passages, write_index
from relik_train.errors import ConfigError

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "bundles" / "tiny-el"


def test_alias_counts_read_linked_spans_only():
    docs = [Doc("1", ["Curie", "met", "Marie", "Curie", "in", "Oslo"],
                [(0, 1, "Marie Curie"), (2, 4, "Marie Curie"), (5, 6, "Nowhere")]),
            Doc("2", ["Curie", "again"], [(0, 1, "Marie Curie")])]
    counts = alias_counts(docs, {"Marie Curie": "tiny:E000"})
    assert counts == {"tiny:E000": Counter({"Curie": 2, "Marie Curie": 1})}
    rows = with_aliases([{"id": "tiny:E000", "title": "Marie Curie", "text": "x"}, {"id": "b", "title": "B", "text": "B"}],
                        counts)
    assert rows[0]["aliases"] == [{"text": "Curie", "count": 2}, {"text": "Marie Curie", "count": 1}]
    assert "aliases" not in rows[1]


def test_alias_settings_defaults_and_errors():
    assert alias_settings({}) is None
    assert alias_settings({"aliases": {}}) == {"fromTrain": True, "topK": 20, "priorWeight": 1.0}
    for bad, field in (({"topK": -1}, "aliases.topK"), ({"priorWeight": "1"}, "aliases.priorWeight"),
                       ({"fromTrain": 1}, "aliases.fromTrain")):
        with pytest.raises(ConfigError, match=field):
            alias_settings({"aliases": bad})


def test_add_to_bundle_rewrites_passages_and_manifest(tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(FIXTURE, bundle)
    before = (bundle / "index/entities/passages.jsonl").read_text(encoding="utf-8").splitlines()
    report = add_to_bundle(bundle, {"tiny:E001": Counter({"Lovelace": 3})}, {"fromTrain": True, "topK": 5, "priorWeight": 0.5})
    assert report["entitiesWithAliases"] == 1 and report["aliases"] == 1
    after = [json.loads(x) for x in (bundle / "index/entities/passages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(after) == len(before)
    assert after[1]["aliases"] == [{"text": "Lovelace", "count": 3}]
    assert [{k: v for k, v in p.items() if k != "aliases"} for p in after] == [json.loads(x) for x in before]
    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    assert manifest["entities"]["aliasTopK"] == 5 and manifest["entities"]["aliasPriorWeight"] == 0.5


def test_name_table_matches_the_runtime_rule():
    """Same passages and window as test/unit/aliases.test.ts: same rows, same order."""
    passages = [
        {"id": "Bill Clinton", "title": "Bill Clinton", "aliases": [{"text": "Clinton", "count": 12}]},
        {"id": "Hillary Clinton", "title": "Hillary Clinton", "aliases": [{"text": "Clinton", "count": 3}]},
        {"id": "Paris", "title": "Paris"},
        {"id": "Paris (band)", "title": "Paris (band)"},
        {"id": "Springfield, Illinois", "title": "Springfield, Illinois"},
        {"id": "York", "title": "York"},
        {"id": "Walter Scott", "title": "Walter Scott"},
        {"id": "Scott", "title": "Scott"},
        {"id": "New York City", "title": "New York City", "aliases": [{"text": "New York", "count": 5}]},
        {"id": "U.S.", "title": "United States", "aliases": [{"text": "U.S.", "count": 40}]},
    ]
    table = NameTable(passages)
    window = "Clinton flew from New York to Paris , the U.S. said , not from york .".split(" ")
    ids = [passages[r]["id"] for r in table.rows_named_in(window, 20)]
    assert ids == ["U.S.", "Bill Clinton", "New York City", "York", "Paris", "Hillary Clinton", "Paris (band)"]
    assert [passages[r]["id"] for r in table.rows_named_in(window, 2)] == ["U.S.", "Bill Clinton"]
    assert [passages[r]["id"] for r in table.rows_named_in(["Springfield"], 5)] == ["Springfield, Illinois"]
    assert [passages[r]["id"] for r in table.rows_named_in(["Scott"], 5)] == ["Scott", "Walter Scott"]
    assert table.rows_named_in(["nothing", "named"], 5) == []


def test_name_table_ranks_title_derived_names_by_popularity_like_the_runtime():
    """Same passages as test/unit/aliases.test.ts ("popularity and leading title words"): same rows, same order."""
    passages = [
        {"id": "Buffalo", "title": "Buffalo"},
        {"id": "Buffalo, New York", "title": "Buffalo, New York", "popularity": 20000},
        {"id": "Buffalo (band)", "title": "Buffalo (band)", "popularity": 37},
        {"id": "Buffalo Sabres", "title": "Buffalo Sabres", "popularity": 3132},
        {"id": "Japan", "title": "Japan", "popularity": 90000},
        {"id": "Japan national football team", "title": "Japan national football team", "popularity": 4000},
    ]
    assert popularity_of(passages)[0] == 4000  # the median of the five known
    table = NameTable(passages)
    named = lambda text: [passages[r]["id"] for r in table.rows_named_in(text.split(" "), 10)]  # noqa: E731
    assert named("Buffalo") == ["Buffalo, New York", "Buffalo", "Buffalo Sabres", "Buffalo (band)"]
    assert named("Japan") == ["Japan", "Japan national football team"]
    assert named("Sabres") == ["Buffalo Sabres"]
    no_city = NameTable([{"title": "Buffalo, Illinois"}, {"title": "Buffalo Sabres"}, {"title": "Anaheim Ducks"}])
    assert no_city.rows_named_in(["Buffalo"], 5) == [0, 1] and no_city.rows_named_in(["Anaheim"], 5) == []
    priors = dict(table.entries["buffalo"])
    assert priors[3] == pytest.approx(0.05 * (3132 + 1) / (20000 + 1))


def test_alias_words_split_clitics_like_the_runtime():
    """src/text/words.ts's example and clitics: possessive 's and n't are words of their own."""
    assert _words("Obama's U.S. visit") == ["Obama", "'s", "U.S.", "visit"]
    assert _words("Duke of Norfolk’s XI don't O'Neil") == ["Duke", "of", "Norfolk", "’s", "XI", "do", "n't", "O'Neil"]


def test_kb_popularity_reaches_the_bundle_passages(tmp_path):
    kb_path = tmp_path / "kb.jsonl"
    kb_path.write_text('{"title": "Buffalo Sabres", "in_count": 3132}\n{"title": "Buffalo (band)", "in_count": null}\n',
                       encoding="utf-8")
    kb = read_kb(kb_path)
    assert [e["popularity"] for e in kb] == [3132, None]
    bundle = tmp_path / "b"
    shutil.copytree(FIXTURE, bundle)
    first = json.loads((bundle / "index/entities/passages.jsonl").read_text(encoding="utf-8").splitlines()[0])
    report = add_to_bundle(bundle, {}, {"fromTrain": True, "topK": 5, "priorWeight": 1.0}, {first["title"]: 17})
    assert report["entitiesWithPopularity"] == 1
    after = [json.loads(x) for x in (bundle / "index/entities/passages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert after[0]["popularity"] == 17 and all("popularity" not in p for p in after[1:])


def test_passages_leave_out_text_that_is_the_title_and_read_it_back(tmp_path):
    write_index(tmp_path, [{"id": "a", "title": "A", "text": "A"}, {"id": "b", "title": "B", "text": "B <def> bee"}],
                None, "float16", 16)
    lines = [json.loads(x) for x in (tmp_path / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines == [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "text": "B <def> bee"}]
    assert [p["text"] for p in read_index_passages(tmp_path / "passages.jsonl")] == ["A", "B <def> bee"]


def test_join_named_keeps_k_in_score_order():
    # named 7 (score 0.9) and 3 (also retrieved); retrieved 1, 3, 5, 9 by score; k = 4
    assert join_named([7, 3], [0.9, 0.5], [1, 3, 5, 9], [0.8, 0.5, 0.4, 0.1], 4) == [7, 1, 3, 5]
    assert join_named([7, 8, 9], [0.1, 0.2, 0.3], [1], [0.8], 2) == [9, 8, 7]


def test_with_names_gives_training_windows_the_runtime_candidates():
    """build.with_names: named rows join the retrieved ones, scored by the same query, cut to k (as the runtime)."""
    from types import SimpleNamespace

    import torch

    from relik_train.build import with_names

    passages = [{"id": str(i), "title": t} for i, t in enumerate(["Paris", "Oslo", "Rome", "Lima", "Kenya"])]
    index = torch.eye(5)
    query = torch.tensor([0.9, 0.1, 0.8, 0.7, 0.0])  # retrieval ranks Paris, Rome, Lima, Oslo, Kenya
    window = SimpleNamespace(words=["They", "flew", "to", "Kenya", "."])
    names = (NameTable(passages), 2)
    assert with_names(None, window, [0, 2, 3], query, index, 3) == [0, 2, 3]
    assert with_names(names, window, [0, 2, 3], query, index, 3) == [0, 2, 4]  # Kenya replaces the lowest (Lima)
    assert with_names(names, SimpleNamespace(words=["no", "names"]), [0, 2, 3], query, index, 3) == [0, 2, 3]


def test_best_scored_keeps_the_highest_in_their_order():
    assert best_scored([5, 6, 7, 8], [0.1, 0.9, 0.1, 0.5], 2) == ([6, 8], [0.9, 0.5])
    assert best_scored([5, 6, 7], [0.3, 0.3, 0.3], 2) == ([5, 6], [0.3, 0.3])  # ties: the earlier row
    assert best_scored([5, 6], [0.1, 0.2], 3) == ([5, 6], [0.1, 0.2])


def test_with_names_keeps_the_named_rows_the_query_scores_highest():
    """More named rows than slots: of NAMED_POOL_FACTOR times the slots, the best scored by the query stay."""
    from types import SimpleNamespace

    import torch

    from relik_train.build import with_names

    assert NAMED_POOL_FACTOR == 2
    passages = [{"id": str(i), "title": t} for i, t in enumerate(["Paris", "Oslo", "Rome", "Lima", "Kenya"])]
    index = torch.eye(5)
    query = torch.tensor([0.9, 0.1, 0.8, 0.7, 0.6])
    window = SimpleNamespace(words=["From", "Oslo", "to", "Kenya", "via", "Lima", "."])
    table = NameTable(passages)
    assert table.rows_named_in(window.words, 2) == [1, 4]  # by name: Oslo first (earlier), then Kenya
    # one named slot: Kenya (0.6) is kept over Oslo (0.1); Lima, third by name, is outside the pool
    assert with_names((table, 1), window, [0, 2, 3], query, index, 3) == [0, 2, 4]


def test_a_built_bundle_keeps_the_popularity_its_training_windows_were_named_with(tmp_path):
    """`build` hands the KB entries (read_kb's, with aliases) to the bundle writer as they are: the passages keep
    popularity and aliases, without the fields the runtime does not read."""
    kb = [{"id": "a", "title": "A", "text": "A", "qid": None, "popularity": 12},
          {"id": "b", "title": "B", "text": "B", "qid": "Q1", "popularity": None, "aliases": [{"text": "Bee", "count": 2}]}]
    write_index(tmp_path, kb, None, "float16", 16)
    assert read_index_passages(tmp_path / "passages.jsonl") == [
        {"id": "a", "title": "A", "text": "A", "popularity": 12},
        {"id": "b", "title": "B", "text": "B", "aliases": [{"text": "Bee", "count": 2}]}]
