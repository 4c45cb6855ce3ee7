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
from .windows import document_windows


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


def locate_words(text: str, starts: list[int], ends: list[int], entity: str) -> tuple[int, int] | None:
    """Word span of the first occurrence of `entity` that starts and ends on word edges (exact, then ignoring
    case); None when there is none. Mirrors the TS CasRel reader's first rule, so the gold spans agree."""
    if not entity:
        return None
    start_word = {c: i for i, c in enumerate(starts)}
    end_word = {c: i for i, c in enumerate(ends)}
    for hay, needle in ((text, entity), (text.lower(), entity.lower())):
        if len(hay) != len(text) or len(needle) != len(entity):
            continue
        i = hay.find(needle)
        while i >= 0:
            if i in start_word and i + len(entity) in end_word:
                return start_word[i], end_word[i + len(entity)] + 1
            i = hay.find(needle, i + 1)
    return None


def read_casrel(path: str | Path, report: AlignReport | None = None) -> list[Doc]:
    """CasRel/OneRel JSON (the staged WebNLG): [{"text", "triple_list": [[subject, relation, object]]}].

    Words are the whitespace tokens of the text; each entity string becomes the word span of its first
    occurrence on word edges (spans that are not found drop their triplets and are listed in `report`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(str(path), err.lineno, "<file>", f"invalid JSON: {err.msg}") from None
    if not isinstance(data, list):
        raise DataError(str(path), 1, "<file>", "expected a JSON array of {text, triple_list}")
    docs = []
    for n, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise DataError(str(path), n, "<record>", "expected a JSON object")
        text = _need(rec, "text", str, path, n)
        toks = list(re.finditer(r"\S+", text))
        words, starts, ends = [m.group() for m in toks], [m.start() for m in toks], [m.end() for m in toks]
        spans: list[tuple[int, int, str]] = []
        index: dict[tuple[int, int], int] = {}
        triplets = []
        for i, t in enumerate(_need(rec, "triple_list", list, path, n)):
            fld = f"triple_list[{i}]"
            if not (isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t)):
                raise DataError(str(path), n, fld, f"expected [subject, relation, object] strings, got {t!r}")
            keys = []
            for part, entity in (("subject", t[0]), ("object", t[2])):
                at = locate_words(text, starts, ends, entity)
                if report is not None:
                    report.spans += 1
                    if at is None:
                        report.unaligned_spans.append(f"{path.name}:{n}:{fld}.{part}:{entity!r}")
                if at is not None and at not in index:
                    index[at] = len(spans)
                    spans.append((at[0], at[1], "--NME--"))
                keys.append(index.get(at) if at is not None else None)
            if keys[0] is not None and keys[1] is not None:
                triplets.append((keys[0], t[1], keys[1]))
        if report is not None:
            report.docs += 1
            report.triplets += len(triplets)
        docs.append(Doc(f"{path.stem}-{n - 1}", words, spans, triplets))
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


def realign(text: str, start: int, end: int, surface: str) -> tuple[int, int] | None:
    """Where a surface form really is: the given offsets when they cover it, else its occurrence nearest to `start`
    (about one REBEL boundary in six is shifted, some are UTF-8 byte offsets). None when it is not in the text."""
    if not surface or text[start:end] == surface:
        return (start, end)
    best, i = -1, text.find(surface)
    while i >= 0:
        if best < 0 or abs(i - start) < abs(best - start):
            best = i
        i = text.find(surface, i + 1)
    return None if best < 0 else (best, best + len(surface))


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
            surface = ent.get("surfaceform")
            at = realign(text, b[0], b[1], surface) if isinstance(surface, str) else (b[0], b[1])
            at = at or (b[0], b[1])
            al = _align_reported(starts, ends, at[0], at[1], report, f"{path.name}:{n}:{fld}:{b}")
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


# The documented split of the 1,000-document REBEL sample (file order): test, dev, then train.
REBEL_TEST_DOCS = (0, 100)
REBEL_DEV_DOCS = (100, 200)


def split_rebel(docs: list[Doc]) -> tuple[list[Doc], list[Doc], list[Doc]]:
    """(train, dev, test) of the REBEL sample: documents 200.. train, 100..199 dev, 0..99 test."""
    (t0, t1), (d0, d1) = REBEL_TEST_DOCS, REBEL_DEV_DOCS
    return docs[d1:], docs[d0:d1], docs[t0:t1]


def read_kb(path: str | Path, limit: int | None = None, id_field: str = "title") -> list[dict]:
    """kb/entities.jsonl -> passages {id, title, text, qid, popularity} (popularity: `in_count`, Wikipedia in-links,
    where the record has one, else None).

    id_field "title": id = 'wiki:' + title (titles are unique); "qid": the Wikidata QID where the entry has one
    (REBEL gold is given as QIDs), else 'wiki:' + title.
    """
    if id_field not in ("title", "qid"):
        raise ValueError(f"id_field must be 'title' or 'qid', got {id_field!r}")
    path = Path(path)
    out, titles, ids = [], set(), set()
    for n, rec in _jsonl(path):
        title = _need(rec, "title", str, path, n)
        if title in titles:
            raise DataError(str(path), n, "title", f"duplicate title {title!r}")
        titles.add(title)
        desc = rec.get("description") or ""
        qid = rec.get("wikidata_qid")
        # a QID shared by two titles (a redirect kept as its own entry) goes to the first one only: ids are unique
        eid = qid if id_field == "qid" and isinstance(qid, str) and qid and qid not in ids else f"wiki:{title}"
        ids.add(eid)
        count = rec.get("in_count")
        out.append({"id": eid, "title": title, "text": f"{title} <def> {desc}" if desc else title,
                    "qid": qid, "popularity": count if isinstance(count, int) and count >= 0 else None})
        if limit is not None and len(out) >= limit:
            break
    return out


def window_docs(docs: list[Doc], size: int, stride: int, title_to_id: dict[str, str] | None = None,
                report: AlignReport | None = None, strategy: str = "words") -> list[ReaderExample]:
    """Split docs into windows (windows.document_windows); keep the gold spans / triplets fully inside each.

    title_to_id maps span labels (EL titles) to KB ids; labels not in it (and --NME--) become None (NME).
    """
    out = []
    for doc in docs:
        covered: set[int] = set()
        for ws, we in document_windows(doc.words, strategy, size, stride):
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
