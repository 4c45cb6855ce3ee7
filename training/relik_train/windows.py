"""Word windows: `size` words with `stride`; the last window slides back to end at the document end."""

from __future__ import annotations


def make_windows(n_words: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Return [start, end) word ranges covering `n_words` words.

    Rule (reference): for i in range(0, n, stride): if i != 0 and i + size > n, let overflow = i + size - n;
    stop if overflow >= stride, else slide i back by overflow. A document of <= size words is one window.
    """
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"make_windows: 'size' must be a positive int, got {size!r}")
    if not isinstance(stride, int) or stride <= 0 or stride > size:
        raise ValueError(f"make_windows: 'stride' must be an int in [1, size={size}], got {stride!r}")
    if n_words < 0:
        raise ValueError(f"make_windows: 'n_words' must be >= 0, got {n_words}")
    if n_words == 0:
        return []
    if n_words <= size:
        return [(0, n_words)]
    out: list[tuple[int, int]] = []
    for i in range(0, n_words, stride):
        if i != 0 and i + size > n_words:
            overflow = i + size - n_words
            if overflow >= stride:
                break
            i -= overflow
        out.append((i, min(i + size, n_words)))
    return out


WINDOW_STRATEGIES = ("words", "sentences")
_SENTENCE_END = {".", "!", "?", "…", "。", "！", "？"}
# Words after which a period does not end a sentence; the same list as src/pipeline/windows.ts.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep", "rev",
    "inc", "co", "corp", "ltd", "vs", "no", "mt", "ft", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
}


def split_sentences(words: list[str]) -> list[tuple[int, int]]:
    """[start, end) word ranges of sentences, by the rule of the TS runtime (src/pipeline/windows.ts): a sentence
    ends at . ! ? (or a CJK full stop) when the next word does not start in lower case; not after a known
    abbreviation or a single capital letter."""
    out: list[tuple[int, int]] = []
    first = 0
    for i, word in enumerate(words):
        if word not in _SENTENCE_END or i == len(words) - 1:
            continue
        nxt = words[i + 1]
        if (nxt[:1].islower()) or nxt in _SENTENCE_END:
            continue
        if word == "." and i > 0:
            prev = words[i - 1]
            if prev.lower() in _ABBREVIATIONS or (len(prev) == 1 and prev.isupper()):
                continue
        out.append((first, i + 1))
        first = i + 1
    if first < len(words):
        out.append((first, len(words)))
    return out


def document_windows(words: list[str], strategy: str, size: int, stride: int) -> list[tuple[int, int]]:
    """Windows of a document: fixed word windows, or sentences (those longer than `size` windowed by words)."""
    if strategy not in WINDOW_STRATEGIES:
        raise ValueError(f"document_windows: 'strategy' must be one of {WINDOW_STRATEGIES}, got {strategy!r}")
    if strategy == "words":
        return make_windows(len(words), size, stride)
    return [(s + a, s + b) for s, e in split_sentences(words) for a, b in make_windows(e - s, size, stride)]
