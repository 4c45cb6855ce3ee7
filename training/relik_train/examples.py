"""Window-level training examples for the reader and the conversion of gold word spans to patch targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from .reader import PatchTarget
from .reader_input import Candidate, Patch


@dataclass
class ReaderExample:
    """One window. spans: (start_word, end_word_exclusive, entity id or None); triplets: (span i, relation id, span j)."""

    words: list[str]
    spans: list[tuple[int, int, str | None]] = field(default_factory=list)
    triplets: list[tuple[int, str, int]] = field(default_factory=list)
    entity_candidates: list[Candidate] = field(default_factory=list)
    relation_candidates: list[Candidate] = field(default_factory=list)
    doc_id: str = ""
    first_word: int = 0
    # Which gold this window carries (a mixture of datasets: AIDA has links but no relations, CoNLL04 the reverse).
    # An unlabeled kind adds no loss and no evaluation counts, instead of teaching "no link" / "no relation".
    labels_el: bool = True
    labels_re: bool = True


@dataclass
class AlignStats:
    spans: int = 0
    unaligned_spans: int = 0
    triplets: int = 0
    unaligned_triplets: int = 0


def patch_target(ex: ReaderExample, patch: Patch, stats: AlignStats | None = None) -> PatchTarget:
    """Gold of `ex` in the subword positions of `patch` (gold entity not in this patch -> NME target 0)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, w in enumerate(patch.token_word):
        pos = patch.window_start + i
        first.setdefault(w, pos)
        last[w] = pos
    mentions: list[tuple[int, int]] = []
    m_index: dict[tuple[int, int], int] = {}
    span_to_mention: dict[int, int] = {}
    ent_targets: list[int] = []
    ent_ids = {c.id: k + 1 for k, c in enumerate(patch.entities)}
    for si, (ws, we, eid) in enumerate(ex.spans):
        if stats:
            stats.spans += 1
        # first word with subwords at/after ws, last word with subwords before we
        s = next((first[w] for w in range(ws, we) if w in first), None)
        t = next((last[w] for w in range(we - 1, ws - 1, -1) if w in last), None)
        if s is None or t is None:
            if stats:
                stats.unaligned_spans += 1
            continue
        key = (s, t)
        if key not in m_index:
            m_index[key] = len(mentions)
            mentions.append(key)
            ent_targets.append(ent_ids.get(eid, 0) if eid is not None else 0)
        span_to_mention[si] = m_index[key]
    rel_ids = {c.id: r for r, c in enumerate(patch.relations)}
    triplets: list[tuple[int, int, int]] = []
    for i, rid, j in ex.triplets:
        if stats:
            stats.triplets += 1
        if i in span_to_mention and j in span_to_mention and rid in rel_ids:
            triplets.append((span_to_mention[i], span_to_mention[j], rel_ids[rid]))
        elif stats and (i not in span_to_mention or j not in span_to_mention):
            stats.unaligned_triplets += 1
    return PatchTarget(patch.window_start, patch.window_end, mentions, list(patch.entity_positions), ent_targets,
                       list(patch.relation_positions), sorted(set(triplets)), ex.labels_el, ex.labels_re)
