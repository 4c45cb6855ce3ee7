import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from relik_train.aliases import add_to_bundle, alias_counts, alias_settings, with_aliases
from relik_train.data import Doc
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
