"""Reader input building, exactly as docs/BUNDLE.md "Reader input" (pure function of tokenizer + words + candidates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from tokenizers import Tokenizer

from .errors import InputBuildError
from .tokenization import SpecialIds, encode_text, encode_words

TASKS = ("el", "re", "cie")


@dataclass(frozen=True)
class Candidate:
    id: str
    title: str


@dataclass
class Patch:
    """One forward pass: the window text plus a slice of the patched candidate list."""

    input_ids: list[int]
    window_start: int  # position of the first window subword (always 1)
    token_word: list[int]  # word index (relative to the window) of each window subword
    entity_positions: list[int]  # positions of <ST_0> (NME) then <ST_1>...; empty for re
    entities: list[Candidate]  # candidates of <ST_1>..., in order
    relation_positions: list[int]
    relations: list[Candidate]

    @property
    def window_end(self) -> int:
        return self.window_start + len(self.token_word)


@dataclass
class ReaderInput:
    patches: list[Patch]
    dropped_entities: list[Candidate] = field(default_factory=list)
    dropped_relations: list[Candidate] = field(default_factory=list)
    truncated_titles: int = 0


class ReaderInputBuilder:
    """Builds [CLS] words [SEP] markers... [SEP] sequences, patching the candidate list when it does not fit."""

    def __init__(self, tok: Tokenizer, task: str, max_length: int, max_candidate_tokens: int,
                 entity_markers: int, relation_markers: int) -> None:
        if task not in TASKS:
            raise ValueError(f"ReaderInputBuilder: 'task' must be one of {TASKS}, got {task!r}")
        if max_length < 8:
            raise ValueError(f"ReaderInputBuilder: 'max_length' must be >= 8, got {max_length}")
        if max_candidate_tokens < 1:
            raise ValueError(f"ReaderInputBuilder: 'max_candidate_tokens' must be >= 1, got {max_candidate_tokens}")
        if task in ("el", "cie") and entity_markers < 2:
            raise ValueError(f"ReaderInputBuilder: 'entity_markers' must be >= 2 for task {task}, got {entity_markers}")
        if task in ("re", "cie") and relation_markers < 1:
            raise ValueError(f"ReaderInputBuilder: 'relation_markers' must be >= 1 for task {task}, got {relation_markers}")
        self.tok = tok
        self.task = task
        self.max_length = max_length
        self.max_candidate_tokens = max_candidate_tokens
        self.n_ent = entity_markers
        self.n_rel = relation_markers
        self.sp = SpecialIds(tok)
        self.st = [self._marker_id(f"<ST_{i}>") for i in range(entity_markers)] if task != "re" else []
        self.rt = [self._marker_id(f"<RT_{i}>") for i in range(relation_markers)] if task != "el" else []
        self._cache: dict[str, tuple[list[int], bool]] = {}

    def _marker_id(self, name: str) -> int:
        i = self.tok.token_to_id(name)
        if i is None:
            raise ValueError(f"ReaderInputBuilder: reader tokenizer lacks marker token {name}")
        return i

    def title_ids(self, title: str) -> tuple[list[int], bool]:
        """Title subwords cut to max_candidate_tokens, and whether they were cut."""
        hit = self._cache.get(title)
        if hit is None:
            ids = encode_text(self.tok, title)
            hit = (ids[: self.max_candidate_tokens], len(ids) > self.max_candidate_tokens)
            self._cache[title] = hit
        return hit

    def build(self, words: Sequence[str], entities: Sequence[Candidate] = (),
              relations: Sequence[Candidate] = ()) -> ReaderInput:
        word_ids = encode_words(self.tok, words)
        window: list[int] = []
        token_word: list[int] = []
        for wi, ids in enumerate(word_ids):
            window.extend(ids)
            token_word.extend([wi] * len(ids))
        prefix = [self.sp.cls, *window, self.sp.sep]
        truncated = 0
        ent = list(entities) if self.task != "re" else []
        rel = list(relations) if self.task != "el" else []
        dropped_rel: list[Candidate] = []
        dropped_ent: list[Candidate] = []

        def cand_tokens(c: Candidate) -> list[int]:
            nonlocal truncated
            ids, cut = self.title_ids(c.title)
            truncated += int(cut)
            return ids

        if self.task == "cie":
            # every patch repeats all relations: build the fixed relation block once
            if len(rel) > self.n_rel:
                dropped_rel = rel[self.n_rel:]
                rel = rel[: self.n_rel]
            rel_block: list[int] = []
            rel_offsets: list[int] = []
            for r, c in enumerate(rel):
                rel_offsets.append(len(rel_block))
                rel_block += [self.rt[r], *cand_tokens(c)]
            fixed = len(prefix) + 1 + 1 + len(rel_block) + 1
            patched, capacity = ent, self.n_ent - 1
        elif self.task == "el":
            rel_block, rel_offsets = [], []
            fixed = len(prefix) + 1 + 1
            patched, capacity = ent, self.n_ent - 1
        else:
            rel_block, rel_offsets = [], []
            fixed = len(prefix) + 1
            patched, capacity = rel, self.n_rel
        if fixed > self.max_length:
            raise InputBuildError(
                f"reader input: window of {len(words)} words / {len(window)} subwords plus the fixed part "
                f"({fixed} tokens) exceeds maxLength={self.max_length}")
        groups: list[list[tuple[Candidate, list[int]]]] = [[]]
        used = fixed
        for c in patched:
            toks = cand_tokens(c)
            need = 1 + len(toks)
            if fixed + need > self.max_length:
                (dropped_ent if self.task != "re" else dropped_rel).append(c)
                continue
            if used + need > self.max_length or len(groups[-1]) == capacity:
                groups.append([])
                used = fixed
            groups[-1].append((c, toks))
            used += need
        patches = [self._assemble(prefix, token_word, g, rel, rel_block, rel_offsets) for g in groups]
        return ReaderInput(patches, dropped_ent, dropped_rel, truncated)

    def _assemble(self, prefix: list[int], token_word: list[int], group: list[tuple[Candidate, list[int]]],
                  rel: list[Candidate], rel_block: list[int], rel_offsets: list[int]) -> Patch:
        ids = list(prefix)
        ent_pos: list[int] = []
        ents: list[Candidate] = []
        rel_pos: list[int] = []
        rels: list[Candidate] = []
        if self.task in ("el", "cie"):
            ent_pos.append(len(ids))
            ids.append(self.st[0])
            for k, (c, toks) in enumerate(group, start=1):
                ent_pos.append(len(ids))
                ids += [self.st[k], *toks]
                ents.append(c)
            ids.append(self.sp.sep)
            if self.task == "cie":
                base = len(ids)
                ids += rel_block
                rel_pos = [base + o for o in rel_offsets]
                rels = list(rel)
                ids.append(self.sp.sep)
        else:
            for r, (c, toks) in enumerate(group):
                rel_pos.append(len(ids))
                ids += [self.rt[r], *toks]
                rels.append(c)
            ids.append(self.sp.sep)
        assert len(ids) <= self.max_length, "internal: patch longer than max_length"
        return Patch(ids, 1, token_word, ent_pos, ents, rel_pos, rels)
