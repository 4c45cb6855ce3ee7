"""Tiny, self-written world for fixtures and tests: a 100-entity KB, 5 relations, sentence templates."""

from __future__ import annotations

import random

from .examples import ReaderExample
from .reader_input import Candidate

PEOPLE = ["Marie Curie", "Ada Lovelace", "Alan Turing", "Grace Hopper", "Nikola Tesla", "Isaac Newton",
          "Albert Einstein", "Rosalind Franklin", "Charles Darwin", "Leonhard Euler", "Emmy Noether", "Niels Bohr",
          "Lise Meitner", "Carl Gauss", "Srinivasa Ramanujan", "Hedy Lamarr", "Katherine Johnson", "Tim Berners-Lee",
          "Linus Torvalds", "Barbara Liskov", "Donald Knuth", "Edsger Dijkstra", "John McCarthy", "Claude Shannon",
          "Dorothy Hodgkin", "Max Planck", "Enrico Fermi", "Werner Heisenberg", "Paul Dirac", "Richard Feynman",
          "Sophie Germain", "Mary Somerville", "Gregor Mendel", "Louis Pasteur", "紫式部"]
ORGS = ["Acme Corporation", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Enterprises",
        "Cyberdyne Systems", "Tyrell Corporation", "Soylent Company", "Hooli", "Pied Piper", "Vandelay Industries",
        "Oceanic Airlines", "Monarch Solutions", "Aperture Science", "Black Mesa", "Massive Dynamic", "Wonka Factory",
        "Blue Sun", "Nakatomi Trading", "东方公司", "Contoso", "Fabrikam", "Northwind Traders", "Tailspin Toys",
        "Litware", "Adventure Works", "Wide World Importers", "Proseware", "Lucerne Publishing"]
PLACES = ["Paris", "Berlin", "London", "Rome", "Madrid", "Vienna", "Prague", "Lisbon", "Dublin", "Oslo", "Stockholm",
          "Helsinki", "Warsaw", "Athens", "Cairo", "Nairobi", "Lagos", "Lima", "Bogota", "Toronto", "Chicago",
          "Boston", "Seattle", "Sydney", "Auckland", "東京", "北京", "大阪", "上海", "France", "Germany", "Italy",
          "Japan", "China", "Kenya"]
KINDS = {"PER": "a person", "ORG": "an organization", "LOC": "a place"}
RELATIONS = [("Work_For", "works for: a person is employed by an organization"),
             ("Live_In", "lives in: a person lives in a place"),
             ("OrgBased_In", "based in: an organization is based in a place"),
             ("Located_In", "located in: a place lies inside another place"),
             ("Kill", "kill: a person killed another person")]


def kb() -> list[dict]:
    """100 entities: {id, title, text, kind}; ids are stable ('tiny:E000'...)."""
    out = []
    for kind, names in (("PER", PEOPLE), ("ORG", ORGS), ("LOC", PLACES)):
        for name in names:
            out.append({"id": f"tiny:E{len(out):03d}", "title": name, "text": f"{name} <def> {KINDS[kind]}",
                        "kind": kind})
    assert len(out) == 100
    return out


def relations() -> list[dict]:
    return [{"id": f"tiny:R{i}", "title": name, "text": desc} for i, (name, desc) in enumerate(RELATIONS)]


# (template, relations as (slot, relation index, slot)); slots: P, P2 people, O org, L, L2 places
TEMPLATES: list[tuple[str, list[tuple[str, int, str]]]] = [
    ("{P} works for {O} .", [("P", 0, "O")]),
    ("{P} , who lives in {L} , joined {O} last year .", [("P", 1, "L"), ("P", 0, "O")]),
    ("{O} is based in {L} .", [("O", 2, "L")]),
    ("{L} is located in {L2} .", [("L", 3, "L2")]),
    ("In the story , {P} killed {P2} near {L} .", [("P", 4, "P2")]),
    ("Yesterday {P} visited {L} with two friends .", []),
    ("The weather in {L} was sunny 😀 and {P} smiled 🎉 .", []),
    ("{P} 在 {L} 工作 。", [("P", 1, "L")]),
    ("According to {O} , its office in {L} will hire {P} .", [("O", 2, "L"), ("P", 0, "O")]),
    ("{P} and {P2} wrote a paper together .", []),
]

EXTRA_TEXT = ["the a an of in on at to for with and or but was is were are be been has had have will would",
              "company city country person office paper story friends year last weather sunny hire smiled",
              "研究 工作 公司 城市 人 在 是 的 。 ， 东京 北京 大阪 上海 日本 中国",
              "numbers 0 1 2 3 4 5 6 7 8 9 10 100 1996 2024 , . ; : ! ? ( ) - ' \" @ # $ % & *"]


def fill(rng: random.Random, entities: list[dict]) -> ReaderExample:
    """One synthetic sentence with gold spans (entity ids) and triplets (relation ids)."""
    by_kind = {k: [e for e in entities if e["kind"] == k] for k in KINDS}
    template, rels = TEMPLATES[rng.randrange(len(TEMPLATES))]
    slots = {"P": "PER", "P2": "PER", "O": "ORG", "L": "LOC", "L2": "LOC"}
    chosen: dict[str, dict] = {}
    for slot, kind in slots.items():
        pick = rng.choice(by_kind[kind])
        while any(pick is c for c in chosen.values()):
            pick = rng.choice(by_kind[kind])
        chosen[slot] = pick
    words: list[str] = []
    spans: list[tuple[int, int, str | None]] = []
    slot_span: dict[str, int] = {}
    for tok in template.split(" "):
        if tok.startswith("{") and tok.endswith("}"):
            ent = chosen[tok[1:-1]]
            parts = ent["title"].split(" ")
            slot_span[tok[1:-1]] = len(spans)
            spans.append((len(words), len(words) + len(parts), ent["id"]))
            words += parts
        else:
            words.append(tok)
    rel_ids = [r["id"] for r in relations()]
    triplets = [(slot_span[a], rel_ids[r], slot_span[b]) for a, r, b in rels]
    return ReaderExample(words=words, spans=spans, triplets=triplets)


def synthetic(n: int, seed: int, n_candidates: int = 12) -> list[ReaderExample]:
    """n sentences with entity candidates (gold + random negatives, in random order) and all relations."""
    rng = random.Random(seed)
    entities = kb()
    rels = [Candidate(r["id"], r["title"]) for r in relations()]
    out = []
    for _ in range(n):
        ex = fill(rng, entities)
        gold = [e for e in entities if any(e["id"] == s[2] for s in ex.spans)]
        others = rng.sample([e for e in entities if e not in gold], n_candidates - len(gold))
        cands = gold + others
        rng.shuffle(cands)
        ex.entity_candidates = [Candidate(e["id"], e["title"]) for e in cands]
        ex.relation_candidates = list(rels)
        out.append(ex)
    return out


def corpus(seed: int = 0) -> list[str]:
    """Text for training the tiny WordPiece vocab: KB titles/passages, relation names, synthetic sentences."""
    ents = kb()
    lines = [e["text"] for e in ents] + [r["title"] + " " + r["text"] for r in relations()] + EXTRA_TEXT
    lines += [" ".join(ex.words) for ex in synthetic(300, seed)]
    return lines
