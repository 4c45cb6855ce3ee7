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
