"""Readers for the shared data formats and windowing of gold annotations.

Records that do not parse raise DataError(file, line, field). Gold spans that do not align with the words are
counted in AlignReport and reported by the caller, never silently dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError
from .examples import ReaderExample
from .windows import make_windows


@dataclass
class Doc:
    """A document in words. spans: (start_word, end_word_excl, label); triplets: (span i, relation, span j)."""

    doc_id: str
    words: list[str]
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    triplets: list[tuple[int, str, int]] = field(default_factory=list)


@dataclass
class AlignReport:
    docs: int = 0
    spans: int = 0
    triplets: int = 0
    unaligned_spans: list[str] = field(default_factory=list)
    cut_spans: int = 0  # gold spans not fully inside any window

    def as_dict(self) -> dict:
        return {"docs": self.docs, "spans": self.spans, "triplets": self.triplets,
                "unaligned_spans": len(self.unaligned_spans), "unaligned_examples": self.unaligned_spans[:5],
                "cut_spans": self.cut_spans}


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(str(path), n, "<record>", f"invalid JSON: {err.msg}") from None
            if not isinstance(rec, dict):
                raise DataError(str(path), n, "<record>", "expected a JSON object")
            yield n, rec


def _need(rec: dict, key: str, kind: type | tuple[type, ...], path: Path, n: int) -> Any:
    if key not in rec:
        raise DataError(str(path), n, key, "missing")
    if not isinstance(rec[key], kind):
        raise DataError(str(path), n, key, f"expected {getattr(kind, '__name__', kind)}, got {type(rec[key]).__name__}")
    return rec[key]


def _word_span(v: Any, n_words: int, path: Path, n: int, fld: str) -> tuple[int, int, str]:
    if not (isinstance(v, list) and len(v) >= 2 and all(isinstance(x, int) for x in v[:2])):
        raise DataError(str(path), n, fld, f"expected [start, end(, label)], got {v!r}")
    s, e = v[0], v[1]
    if not 0 <= s < e <= n_words:
        raise DataError(str(path), n, fld, f"span [{s}, {e}) outside 0..{n_words} words")
    return s, e, str(v[2]) if len(v) > 2 else "--NME--"


def read_re(path: str | Path) -> list[Doc]:
    """ReLiK RE jsonl (CoNLL04 / NYT processed): doc_words, doc_span_annotations, doc_triplet_annotations."""
    path = Path(path)
    docs = []
    for n, rec in _jsonl(path):
        words = _need(rec, "doc_words", list, path, n)
        spans_raw = _need(rec, "doc_span_annotations", list, path, n)
        spans = [_word_span(v, len(words), path, n, f"doc_span_annotations[{i}]") for i, v in enumerate(spans_raw)]
        index = {(s, e): i for i, (s, e, _) in enumerate(spans)}
        triplets = []
        for i, t in enumerate(rec.get("doc_triplet_annotations", [])):
            fld = f"doc_triplet_annotations[{i}]"
            if not isinstance(t, dict) or not {"subject", "relation", "object"} <= set(t):
                raise DataError(str(path), n, fld, "expected {subject, relation, object}")
            keys = []
            for part in ("subject", "object"):
                s, e, lab = _word_span(t[part], len(words), path, n, f"{fld}.{part}")
                if (s, e) not in index:
                    index[(s, e)] = len(spans)
                    spans.append((s, e, lab))
                keys.append(index[(s, e)])
            triplets.append((keys[0], str(t["relation"]), keys[1]))
        docs.append(Doc(str(rec.get("doc_id", n)), [str(w) for w in words], spans, triplets))
    return docs


def char_to_words(words: list[str], text: str) -> tuple[list[int], list[int]]:
    """Char offsets of words located left to right in text."""
    starts, ends, pos = [], [], 0
    for w in words:
        i = text.find(w, pos)
        if i < 0:
            raise ValueError(f"word {w!r} not found after offset {pos}")
        starts.append(i)
        ends.append(i + len(w))
        pos = i + len(w)
    return starts, ends


def _align_chars(starts: list[int], ends: list[int], cs: int, ce: int) -> tuple[int, int] | None:
    try:
        ws = starts.index(cs)
        we = ends.index(ce) + 1
    except ValueError:
        return None
    return (ws, we) if ws < we else None


def _align_reported(starts: list[int], ends: list[int], cs: int, ce: int, report: AlignReport | None,
                    where: str) -> tuple[int, int] | None:
    """_align_chars, counted in `report`; a span that does not align is listed there under `where`."""
    aligned = _align_chars(starts, ends, cs, ce)
    if report is not None:
        report.spans += 1
        if aligned is None:
            report.unaligned_spans.append(where)
    return aligned


def read_el(path: str | Path, report: AlignReport | None = None) -> list[Doc]:
    """ReLiK EL jsonl (AIDA processed): doc_text, doc_span_annotations [[start_char, end_char, title]], doc_words."""
    path = Path(path)
    docs = []
    for n, rec in _jsonl(path):
        text = _need(rec, "doc_text", str, path, n)
        words = rec.get("doc_words") or text.split(" ")
        try:
            starts, ends = char_to_words(words, text)
        except ValueError as err:
            raise DataError(str(path), n, "doc_words", str(err)) from None
        spans = []
        for i, v in enumerate(_need(rec, "doc_span_annotations", list, path, n)):
            if not (isinstance(v, list) and len(v) == 3 and isinstance(v[0], int) and isinstance(v[1], int)):
                raise DataError(str(path), n, f"doc_span_annotations[{i}]", f"expected [start, end, title], got {v!r}")
            ws_we = _align_reported(starts, ends, v[0], v[1], report, f"{path.name}:{n}:{v!r}")
            if ws_we is None:
                continue
            spans.append((ws_we[0], ws_we[1], str(v[2])))
        if report is not None:
            report.docs += 1
        docs.append(Doc(str(rec.get("doc_id", n)), list(words), spans))
    return docs


_WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def read_rebel(path: str | Path, qid_to_title: dict[str, str], report: AlignReport | None = None,
               limit: int | None = None) -> list[Doc]:
    """REBEL sample jsonl: text + entities (char boundaries, QIDs) + triples. Labels: KB title or --NME--."""
    path = Path(path)
    docs = []
    for n, rec in _jsonl(path):
        text = _need(rec, "text", str, path, n)
        toks = list(_WORD_RE.finditer(text))
        words = [m.group() for m in toks]
        starts = [m.start() for m in toks]
        ends = [m.end() for m in toks]
        spans: list[tuple[int, int, str]] = []
        index: dict[tuple[int, int], int] = {}

        def add(ent: dict, fld: str) -> int | None:
            b = ent.get("boundaries") if isinstance(ent, dict) else None
            if not (isinstance(b, list) and len(b) == 2):
                raise DataError(str(path), n, fld, f"expected boundaries [start, end], got {b!r}")
            al = _align_reported(starts, ends, b[0], b[1], report, f"{path.name}:{n}:{fld}:{b}")
            if al is None:
                return None
            if al not in index:
                index[al] = len(spans)
                spans.append((al[0], al[1], qid_to_title.get(str(ent.get("uri")), "--NME--")))
            return index[al]

        for i, ent in enumerate(_need(rec, "entities", list, path, n)):
            add(ent, f"entities[{i}]")
        triplets = []
        for i, t in enumerate(_need(rec, "triples", list, path, n)):
            fld = f"triples[{i}]"
            if not isinstance(t, dict) or not {"subject", "predicate", "object"} <= set(t):
                raise DataError(str(path), n, fld, "expected {subject, predicate, object}")
            a, b = add(t["subject"], fld + ".subject"), add(t["object"], fld + ".object")
            if a is not None and b is not None:
                triplets.append((a, str(t["predicate"].get("surfaceform")), b))
        if report is not None:
            report.docs += 1
            report.triplets += len(triplets)
        docs.append(Doc(str(rec.get("docid", n)), words, spans, triplets))
        if limit is not None and len(docs) >= limit:
            break
    return docs


def read_kb(path: str | Path, limit: int | None = None) -> list[dict]:
    """kb/entities.jsonl -> passages {id, title, text, qid}; id = 'wiki:' + title (titles are unique)."""
    path = Path(path)
    out, seen = [], set()
    for n, rec in _jsonl(path):
        title = _need(rec, "title", str, path, n)
        if title in seen:
            raise DataError(str(path), n, "title", f"duplicate title {title!r}")
        seen.add(title)
        desc = rec.get("description") or ""
        out.append({"id": f"wiki:{title}", "title": title, "text": f"{title} <def> {desc}" if desc else title,
                    "qid": rec.get("wikidata_qid")})
        if limit is not None and len(out) >= limit:
            break
    return out


def window_docs(docs: list[Doc], size: int, stride: int, title_to_id: dict[str, str] | None = None,
                report: AlignReport | None = None) -> list[ReaderExample]:
    """Split docs into windows; keep the gold spans / triplets that lie fully inside each window.

    title_to_id maps span labels (EL titles) to KB ids; labels not in it (and --NME--) become None (NME).
    """
    out = []
    for doc in docs:
        covered: set[int] = set()
        for ws, we in make_windows(len(doc.words), size, stride):
            local: dict[int, int] = {}
            spans = []
            for i, (s, e, lab) in enumerate(doc.spans):
                if ws <= s and e <= we:
                    local[i] = len(spans)
                    covered.add(i)
                    eid = title_to_id.get(lab) if title_to_id is not None else None
                    spans.append((s - ws, e - ws, eid))
            trips = [(local[a], r, local[b]) for a, r, b in doc.triplets if a in local and b in local]
            out.append(ReaderExample(words=doc.words[ws:we], spans=spans, triplets=trips, doc_id=doc.doc_id,
                                     first_word=ws))
        if report is not None:
            report.cut_spans += len(doc.spans) - len(covered)
    return out
