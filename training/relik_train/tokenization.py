"""Tokenizer helpers: load a Hugging Face tokenizer.json, add marker tokens, per-word encoding, tiny WordPiece."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

_SPECIAL_CANDIDATES = {
    "cls": ("[CLS]", "<s>"),
    "sep": ("[SEP]", "</s>"),
    "pad": ("[PAD]", "<pad>"),
    "unk": ("[UNK]", "<unk>"),
}


def entity_markers(n: int) -> list[str]:
    """`<ST_0>` (NME) ... `<ST_{n-1}>`."""
    return [f"<ST_{i}>" for i in range(n)]


def relation_markers(n: int) -> list[str]:
    """`<RT_0>` ... `<RT_{n-1}>`."""
    return [f"<RT_{i}>" for i in range(n)]


def load_tokenizer(model_dir: str | Path) -> Tokenizer:
    """Load `<model_dir>/tokenizer.json` with truncation and padding switched off."""
    path = Path(model_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"load_tokenizer: no tokenizer.json in model folder '{model_dir}'")
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def clone(tok: Tokenizer) -> Tokenizer:
    return Tokenizer.from_str(tok.to_str())


def add_markers(tok: Tokenizer, n_entity: int, n_relation: int) -> Tokenizer:
    """Return a copy of `tok` with `<ST_k>` then `<RT_k>` added as special tokens (ids follow the vocab)."""
    out = clone(tok)
    markers = entity_markers(n_entity) + relation_markers(n_relation)
    if markers:
        out.add_special_tokens(markers)
    for m in markers:
        if out.token_to_id(m) is None:
            raise RuntimeError(f"add_markers: marker {m} was not added to the tokenizer")
    return out


class SpecialIds:
    """Ids of CLS/SEP/PAD/UNK for a tokenizer (BERT or RoBERTa naming)."""

    def __init__(self, tok: Tokenizer) -> None:
        found: dict[str, int] = {}
        for key, names in _SPECIAL_CANDIDATES.items():
            for name in names:
                i = tok.token_to_id(name)
                if i is not None:
                    found[key] = i
                    break
            if key not in found:
                raise ValueError(f"SpecialIds: tokenizer has none of the {key} tokens {names}")
        self.cls = found["cls"]
        self.sep = found["sep"]
        self.pad = found["pad"]
        self.unk = found["unk"]


def encode_words(tok: Tokenizer, words: Sequence[str]) -> list[list[int]]:
    """Tokenize each word on its own, without special tokens (BUNDLE.md "Reader input")."""
    if not words:
        return []
    return [e.ids for e in tok.encode_batch(list(words), add_special_tokens=False)]


def encode_text(tok: Tokenizer, text: str) -> list[int]:
    """Tokenize one string without special tokens."""
    return tok.encode(text, add_special_tokens=False).ids


def query_ids(tok: Tokenizer, words: Sequence[str], max_tokens: int) -> list[int]:
    """Retriever query: [CLS] + per-word subwords (concatenated, cut to max_tokens-2) + [SEP]."""
    sp = SpecialIds(tok)
    flat = [i for w in encode_words(tok, words) for i in w][: max(0, max_tokens - 2)]
    return [sp.cls, *flat, sp.sep]


def passage_ids(tok: Tokenizer, text: str, max_tokens: int) -> list[int]:
    """Retriever passage: [CLS] + subwords of the text (cut to max_tokens-2) + [SEP]."""
    sp = SpecialIds(tok)
    return [sp.cls, *encode_text(tok, text)[: max(0, max_tokens - 2)], sp.sep]


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Build a small uncased BERT-style WordPiece tokenizer, deterministically (for random tiny fixture models).

    Vocab = [PAD] [UNK] [CLS] [SEP] [MASK], every character seen (and its ##-form), then whole words by
    (frequency desc, word asc) until vocab_size. (The `tokenizers` trainer breaks ties in a run-dependent order.)
    """
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                            lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts: dict[str, int] = {}
    for text in texts:
        for piece, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[piece] = counts.get(piece, 0) + 1
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for w in counts for c in w})
    vocab_list = specials + chars + ["##" + c for c in chars]
    if len(vocab_list) > vocab_size:
        raise ValueError(f"train_wordpiece: 'vocab_size' {vocab_size} is smaller than the {len(vocab_list)} "
                         "special + character tokens of the corpus")
    seen = set(vocab_list)
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab_list) >= vocab_size:
            break
        if len(word) > 1 and word not in seen:
            vocab_list.append(word)
            seen.add(word)
    vocab = {t: i for i, t in enumerate(vocab_list)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    for t in specials:
        tok.add_special_tokens([t])
    return tok


def save_tokenizer(tok: Tokenizer, path: str | Path) -> None:
    """Write tokenizer.json (compact, deterministic key order as produced by `tokenizers`)."""
    data = json.loads(tok.to_str())
    Path(path).write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
