"""Entity aliases from training data: how often each text names each KB entry (the runtime's name lookup).

The TypeScript runtime (src/index/aliases.ts) adds KB entries that a window's words name to the window's
candidates and weighs each link by p(entity | mention text); titles give names by themselves, the aliases written
here add the names seen in training data ("Clinton" -> Bill Clinton, 12 times). Only train splits are read.

`python -m relik_train.aliases --bundle B --config C [--data-root D]` writes them into an existing bundle, with each
entry's popularity (the KB's `in_count`, Wikipedia in-links) where the KB has one (the step that gave the shipped
default bundle its aliases and popularity); `build` does the same when the config has `aliases`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from .data import AlignReport, Doc, read_kb
from .errors import ConfigError
from .export import passage_row, read_index_passages


def alias_counts(docs: Iterable[Doc], title_to_id: dict[str, str]) -> dict[str, Counter]:
    """entity id -> Counter(mention text -> times it names that entity) over linked spans of `docs`."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        for start, end, title in doc.spans:
            entity = title_to_id.get(title)
            text = " ".join(doc.words[start:end]).strip()
            if entity is not None and text:
                counts[entity][text] += 1
    return counts


def with_aliases(passages: Sequence[dict], counts: dict[str, Counter]) -> list[dict]:
    """Passages with `aliases: [{text, count}]` (most frequent first) where the data named them."""
    out = []
    for p in passages:
        seen = counts.get(p["id"])
        row = {k: v for k, v in p.items() if k != "aliases"}
        if seen:
            row["aliases"] = [{"text": t, "count": c} for t, c in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))]
        out.append(row)
    return out


# The runtime's name lookup (src/index/aliases.ts), for training windows: same names, priors and order, so the
# reader trains on the candidates it will read. Words of alias texts come from an approximation of the runtime's
# word rule (src/text/words.ts); training windows are already in words.
MAX_ALIAS_WORDS = 8
MAX_ROWS_PER_ALIAS = 16
TITLE_PRIOR, SHORT_TITLE_PRIOR, LAST_NAME_PRIOR, LEADING_WORDS_PRIOR = 0.5, 0.25, 0.1, 0.05
POPULARITY_EXPONENT = 1.0
_WORDS = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,]\d+)+|\w+(?:['’]\w+)*|\S", re.UNICODE)
_CLITIC = re.compile(r"(?:['’][sS]|[nN]['’][tT])$")


def _words(text: str) -> list[str]:
    """The runtime's word rule, approximately: _WORDS, then possessive 's and n't split off as their own words."""
    out = []
    for token in _WORDS.findall(text):
        clitic = _CLITIC.search(token) if len(token) > 2 else None
        if clitic is not None and clitic.start() > 0:
            out += [token[:clitic.start()], token[clitic.start():]]
        else:
            out.append(token)
    return out


def alias_key(words: Sequence[str]) -> str:
    return " ".join(words).lower()


def _short_titles(title: str) -> list[str]:
    no_paren = re.sub(r"\s*\([^()]*\)\s*$", "", title)
    before_comma = no_paren.split(", ")[0]
    return [t for t in dict.fromkeys([no_paren, before_comma]) if t != title and t.strip()]


def _last_name(title: str) -> str | None:
    short = _short_titles(title)
    words = (short[-1] if short else title).split(" ")
    if not 2 <= len(words) <= 4 or not all(w[:1].isupper() for w in words):
        return None
    last = words[-1]
    return last if len(last) >= 3 and last[0].isupper() and last[1:].isalpha() and last[1:].islower() else None


def _leading_title_words(words: Sequence[str], title_keys: set[str]) -> list[str] | None:
    """The longest leading words (fewer than all, the first capitalised) that are some entry's (qualifier-less) title."""
    if len(words) < 2 or not words[0][:1].isupper():
        return None
    for length in range(len(words) - 1, 0, -1):
        if alias_key(words[:length]) in title_keys:
            return list(words[:length])
    return None


def popularity_of(passages: Sequence[dict]) -> list[float]:
    """Each passage's popularity; those without one at the median of those with one (all 1 when none has one)."""
    known = sorted(p["popularity"] for p in passages if p.get("popularity") is not None)
    median = known[(len(known) - 1) // 2] if known else 1
    return [p["popularity"] if p.get("popularity") is not None else median for p in passages]


class NameTable:
    """KB rows by name (titles, titles without qualifier, last names, leading title words, aliases) with their
    priors; title-derived priors scaled within each name by (popularity + 1) / (the name's most popular + 1)."""

    def __init__(self, passages: Sequence[dict]) -> None:
        popularity = popularity_of(passages)
        # each title's words and its qualifier-less forms' words, split once
        titles = [(_words(p["title"]), [_words(s) for s in _short_titles(p["title"])]) for p in passages]
        title_keys = {alias_key(w) for words, shorts in titles for w in [words, *shorts]}
        # per name: row -> [title-derived prior, data-alias count]
        by_key: dict[str, dict[int, list[float]]] = defaultdict(dict)
        self.max_words = 1

        def add(words: Sequence[str], row: int, prior: float, alias: bool = False) -> None:
            if not words or len(words) > MAX_ALIAS_WORDS:
                return
            self.max_words = max(self.max_words, len(words))
            entry = by_key[alias_key(words)].setdefault(row, [0.0, 0.0])
            entry[1 if alias else 0] = max(entry[1 if alias else 0], prior)

        for row, (p, (words, shorts)) in enumerate(zip(passages, titles)):
            add(words, row, TITLE_PRIOR)
            for short in shorts:
                add(short, row, SHORT_TITLE_PRIOR)
            last = _last_name(p["title"])
            if last is not None:
                add([last], row, LAST_NAME_PRIOR)
            leading = _leading_title_words(shorts[0] if shorts else words, title_keys)
            if leading is not None:
                add(leading, row, LEADING_WORDS_PRIOR)
            for alias in p.get("aliases") or []:
                add(_words(alias["text"]), row, float(alias["count"]), alias=True)
        self.entries = {}
        for key, rows in by_key.items():
            top = max((popularity[r] for r, (derived, _) in rows.items() if derived > 0), default=0)
            scored = [(r, max(seen, derived * ((popularity[r] + 1) / (top + 1)) ** POPULARITY_EXPONENT
                              if derived > 0 else seen)) for r, (derived, seen) in rows.items()]
            self.entries[key] = sorted(scored, key=lambda rp: (-rp[1], rp[0]))[:MAX_ROWS_PER_ALIAS]

    def rows_named_in(self, words: Sequence[str], limit: int) -> list[int]:
        """Up to `limit` rows named in `words`: each name's best row (strongest prior, longer name, earlier first),
        then each name's second row, and so on; only n-grams starting with a capital letter or digit."""
        found = []
        for start, word in enumerate(words):
            if not (word[:1].isupper() or word[:1].isdigit()):
                continue
            for length in range(min(self.max_words, len(words) - start), 0, -1):
                rows = self.entries.get(alias_key(words[start:start + length]))
                if rows is not None:
                    found.append((start, length, rows))
        found.sort(key=lambda f: (-f[2][0][1], -f[1], f[0]))
        out: list[int] = []
        taken: set[int] = set()
        level = 0
        while len(out) < limit:
            any_left = False
            for _, _, rows in found:
                if level >= len(rows):
                    continue
                any_left = True
                row = rows[level][0]
                if row not in taken:
                    taken.add(row)
                    out.append(row)
                    if len(out) == limit:
                        break
            if not any_left:
                break
            level += 1
        return out


# the runtime's NAMED_POOL_FACTOR (src/pipeline/candidates.ts): named rows considered per window, as a multiple of
# the named slots; the best scored by the window's query are kept
NAMED_POOL_FACTOR = 2


def best_scored(rows: Sequence[int], scores: Sequence[float], limit: int) -> tuple[list[int], list[float]]:
    """The runtime's bestScored: the `limit` rows with the highest scores, in their given order (ties: the earlier
    row); all of them when there are no more than `limit`."""
    if len(rows) <= limit:
        return list(rows), list(scores)
    kept = sorted(sorted(range(len(rows)), key=lambda i: (-scores[i], i))[:limit])
    return [rows[i] for i in kept], [scores[i] for i in kept]


def join_named(named: Sequence[int], named_scores: Sequence[float], retrieved: Sequence[int],
               retrieved_scores: Sequence[float], top_k: int) -> list[int]:
    """The runtime's CandidateSource.join: named rows plus the best retrieved ones, max(top_k, named) in all,
    in retriever-score order."""
    taken = set(named)
    keep = max(0, top_k - len(named))
    others = [(r, s) for r, s in zip(retrieved, retrieved_scores) if r not in taken][:keep]
    both = list(zip(named, named_scores)) + others
    both.sort(key=lambda rs: (-rs[1], rs[0]))
    return [r for r, _ in both]


def alias_settings(cfg: dict) -> dict | None:
    """The config's `aliases` block, checked: {fromTrain: bool, topK: int >= 0, priorWeight: number >= 0}."""
    block = cfg.get("aliases")
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ConfigError("aliases", f"expected {{fromTrain, topK, priorWeight}}, got {block!r}")
    from_train = block.get("fromTrain", True)
    top_k = block.get("topK", 20)
    weight = block.get("priorWeight", 1.0)
    if not isinstance(from_train, bool):
        raise ConfigError("aliases.fromTrain", f"must be true or false, got {from_train!r}")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
        raise ConfigError("aliases.topK", f"must be an integer >= 0, got {top_k!r}")
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not weight >= 0:
        raise ConfigError("aliases.priorWeight", f"must be a number >= 0, got {weight!r}")
    return {"fromTrain": from_train, "topK": top_k, "priorWeight": float(weight)}


def add_to_bundle(bundle: Path, counts: dict[str, Counter], settings: dict,
                  popularity: dict[str, int] | None = None) -> dict:
    """Rewrites the bundle's entity passages with aliases (and, given title -> popularity, popularity) and sets
    entities.aliasTopK / aliasPriorWeight."""
    manifest_path = bundle / "relik.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entities = manifest.get("entities")
    if not isinstance(entities, dict):
        raise ValueError(f"{manifest_path}: the bundle has no entity index to add aliases to")
    index = bundle / entities["index"]
    meta = json.loads((index / "index.json").read_text(encoding="utf-8"))
    passages_path = index / meta.get("passages", "passages.jsonl")
    passages = read_index_passages(passages_path)
    rows = with_aliases(passages, counts if settings["fromTrain"] else {})
    if popularity is not None:
        rows = [{**r, "popularity": popularity.get(r["title"], r.get("popularity"))} for r in rows]
    with open(passages_path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(passage_row(row), ensure_ascii=False) + "\n")
    entities["aliasTopK"] = settings["topK"]
    entities["aliasPriorWeight"] = settings["priorWeight"]
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    named = sum(1 for r in rows if "aliases" in r)
    return {"entitiesWithAliases": named, "aliases": sum(len(r.get("aliases", [])) for r in rows),
            "entitiesWithPopularity": sum(1 for r in rows if r.get("popularity") is not None),
            "passagesBytes": passages_path.stat().st_size}


def main(argv: Sequence[str] | None = None) -> None:
    from .build import data_sources, load_docs  # build imports this module

    ap = argparse.ArgumentParser(description="Write training-data aliases into a bundle's entity passages")
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--config", required=True, help="the bundle's training config (its EL sources' train splits)")
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    cfg = json.loads(Path(args.config).read_text(encoding="utf-8"))
    if args.data_root:
        cfg.setdefault("data", {})["root"] = args.data_root
        cfg["kb"]["path"] = cfg["kb"]["path"].replace("/work/shared/data", args.data_root)
    settings = alias_settings(cfg)
    if settings is None:
        raise ConfigError("aliases", "the config has no aliases block")
    kb = read_kb(Path(cfg["kb"]["path"]), cfg["kb"].get("limit"), cfg["kb"].get("idField", "title"))
    title_to_id = {e["title"]: e["id"] for e in kb}
    popularity = {e["title"]: e["popularity"] for e in kb if e.get("popularity") is not None}
    docs: list[Doc] = []
    for src in data_sources(cfg):
        if "el" in src["labels"]:
            docs.extend(load_docs(src, AlignReport(), kb)[0])
    print(json.dumps(add_to_bundle(Path(args.bundle), alias_counts(docs, title_to_id), settings, popularity)))


if __name__ == "__main__":
    main()
