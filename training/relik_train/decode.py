"""Decoder of docs/BUNDLE.md "Heads": numpy float64 over float32 outputs (what the TypeScript runtime does).

Conventions chosen where BUNDLE.md is silent (mirrored by the TS runtime via the golden files):
* subword span (s, t) -> word span [word(s), word(t) + 1); duplicates keep the first in (s, t) order;
* el: spans whose argmax is NME are dropped; cie keeps them with label --NME--; re labels every span --NME--;
* across patches: union of word spans; a span keeps the first non-NME label in patch order;
* triplets: (subject span, relation, object span) deduplicated (first probability wins), spans sorted by
  (start, end), triplets sorted by (subject index, object index, relation title).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import NME_LABEL
from .reader_input import Candidate, Patch

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


@dataclass
class DecodedSpan:
    start: int  # word, relative to the window
    end: int  # exclusive
    label: str
    id: str | None
    score: float


@dataclass
class DecodedTriplet:
    subject: int
    relation: str
    relation_id: str
    object: int
    score: float


@dataclass
class HeadParams:
    layout: dict[str, tuple[int, int]]
    relation_weight: np.ndarray
    relation_bias: float
    end_weight: np.ndarray
    end_bias: float
    ends_per_start: str = "one"
    relation_threshold: float = 0.5
    # heads.json "relationMlp" (weight [H, D], bias [H], out [H]); None: the trilinear term alone
    relation_mlp: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    # heads.json "relationContextWeight" [D] (the pair-context term over the "ctx" block); None: no such term
    relation_context_weight: np.ndarray | None = None

    @staticmethod
    def from_heads_json(heads: dict, ends_per_start: str, relation_threshold: float) -> "HeadParams":
        mlp = heads.get("relationMlp")
        context = heads.get("relationContextWeight")
        return HeadParams({k: (int(v[0]), int(v[1])) for k, v in heads["features"].items()},
                          np.asarray(heads["relationWeight"], dtype=np.float64), float(heads["relationBias"]),
                          np.asarray(heads["endWeight"], dtype=np.float64), float(heads["endBias"]),
                          ends_per_start, relation_threshold,
                          None if mlp is None else tuple(np.asarray(mlp[k], dtype=np.float64)
                                                         for k in ("weight", "bias", "out")),
                          None if context is None else np.asarray(context, dtype=np.float64))

    @staticmethod
    def from_model(model, ends_per_start: str = "one", relation_threshold: float = 0.0) -> "HeadParams":
        """The head parameters of a ReaderModel (or anything with its head attributes, torch tensors)."""
        def array(t) -> np.ndarray:
            return t.detach().double().cpu().numpy()
        mlp = getattr(model, "relation_mlp", None)
        context = getattr(model, "relation_context_weight", None)
        return HeadParams(dict(model.layout), array(model.relation_weight), float(model.relation_bias.detach().cpu()),
                          array(model.end_weight), float(model.end_bias.detach().cpu()), ends_per_start,
                          relation_threshold,
                          None if mlp is None else (array(mlp.inner.weight), array(mlp.inner.bias), array(mlp.out)),
                          None if context is None else array(context))


def _block(feats: np.ndarray, hp: HeadParams, name: str) -> np.ndarray:
    off, size = hp.layout[name]
    return feats[:, off: off + size]


def pair_context(ctx: np.ndarray, starts: Sequence[int], ends: Sequence[int]) -> np.ndarray:
    """C [N, N, D] = gelu(max of ctx[p] over the positions p strictly between mentions i and j), 0 where none lie
    between (overlapping mentions, i = j): heads.pair_context in numpy."""
    n = len(starts)
    out = np.zeros((n, n, ctx.shape[1]), dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):  # the same positions lie between (i, j) and (j, i)
            low, high = min(ends[i], ends[j]) + 1, max(starts[i], starts[j])
            if low < high:
                out[i, j] = out[j, i] = gelu(ctx[low:high].max(axis=0))
    return out


def decode_patch(task: str, patch: Patch, start_logit: np.ndarray, features: np.ndarray, hp: HeadParams) -> dict:
    """Mentions, EL choices and relations of one patch. Returns raw per-patch results in word terms."""
    sl = np.asarray(start_logit, dtype=np.float64)
    ft = np.asarray(features, dtype=np.float64)
    ws, we = patch.window_start, patch.window_end
    mentions: list[tuple[int, int, float]] = []  # (s, t, P(start)*P(end|start))
    # Mentions start at a word's first subword and end at a word's last one (as the gold labels do).
    words = patch.token_word
    is_start = [i == 0 or words[i] != words[i - 1] for i in range(len(words))]
    is_end = [i == len(words) - 1 or words[i] != words[i + 1] for i in range(len(words))]
    for s in range(ws, we):
        ps = float(sigmoid(sl[s]))
        if not is_start[s - ws] or not ps > 0.5:
            continue
        hidden = gelu(_block(ft, hp, "end_s")[s] + _block(ft, hp, "end_t")[s:we])
        pe = sigmoid(hidden @ hp.end_weight + hp.end_bias)
        pe = np.where(np.asarray(is_end[s - ws:], dtype=bool), pe, 0.0)
        if hp.ends_per_start == "one":
            k = int(np.argmax(pe))
            if pe[k] > 0.5:
                mentions.append((s, s + k, ps * float(pe[k])))
        else:
            mentions += [(s, s + k, ps * float(pe[k])) for k in range(len(pe)) if pe[k] > 0.5]
    seen: dict[tuple[int, int], int] = {}
    uniq: list[tuple[int, int, float]] = []
    for s, t, p in mentions:
        key = (patch.token_word[s - ws], patch.token_word[t - ws] + 1)
        if key not in seen:
            seen[key] = len(uniq)
            uniq.append((s, t, p))
    keys = list(seen.keys())
    labels: list[tuple[str, str | None, float]] = [(NME_LABEL, None, p) for _, _, p in uniq]
    gates = None
    if task in ("el", "cie") and uniq:
        el_s, el_t = _block(ft, hp, "el_s"), _block(ft, hp, "el_t")
        pos = patch.entity_positions
        E = gelu(el_s[pos] + el_t[pos])
        gates = []
        for i, (s, t, _) in enumerate(uniq):
            M = gelu(el_s[s] + el_t[t])
            logits = E @ M
            gates.append(sigmoid(logits))
            probs = softmax(logits)
            k = int(np.argmax(probs))
            if k == 0:
                labels[i] = (NME_LABEL, None, float(probs[0]))
            else:
                c = patch.entities[k - 1]
                labels[i] = (c.title, c.id, float(probs[k]))
    triplets: list[tuple[int, int, int, float]] = []
    if task in ("re", "cie") and len(uniq) > 1 and patch.relation_positions:
        st = [m[0] for m in uniq]
        en = [m[1] for m in uniq]
        subj = _block(ft, hp, "subj_s")[st] + _block(ft, hp, "subj_t")[en]
        obj = _block(ft, hp, "obj_s")[st] + _block(ft, hp, "obj_t")[en]
        if task == "cie" and gates is not None:
            g = np.stack(gates)  # [N, K]
            pos = patch.entity_positions
            subj = subj + g @ _block(ft, hp, "subj_ent")[pos]
            obj = obj + g @ _block(ft, hp, "obj_ent")[pos]
        S, O = gelu(subj), gelu(obj)
        R = gelu(_block(ft, hp, "rel")[patch.relation_positions])
        logits = np.einsum("ie,je,re->ijr", S * hp.relation_weight, O, R) + hp.relation_bias
        if hp.relation_context_weight is not None:
            C = pair_context(_block(ft, hp, "ctx"), st, en)
            logits = logits + np.einsum("ije,re->ijr", C * hp.relation_context_weight, R)
        if hp.relation_mlp is not None:
            weight, bias, out = hp.relation_mlp
            product = S[:, None, None, :] * O[None, :, None, :] * R[None, None, :, :]
            logits = logits + gelu(product @ weight.T + bias) @ out
        probs = sigmoid(logits)
        for i in range(len(uniq)):
            for j in range(len(uniq)):
                if i == j:
                    continue
                for r in range(len(patch.relation_positions)):
                    if probs[i, j, r] > hp.relation_threshold:
                        triplets.append((i, j, r, float(probs[i, j, r])))
    return {"keys": keys, "labels": labels, "triplets": triplets}


def decode_window(task: str, patches: Sequence[Patch], outputs: Sequence[tuple[np.ndarray, np.ndarray]],
                  hp: HeadParams) -> tuple[list[DecodedSpan], list[DecodedTriplet]]:
    """Decode all patches of one window and merge them (see module docstring)."""
    spans: dict[tuple[int, int], list] = {}  # key -> [label, id, score]
    trip: dict[tuple[tuple[int, int], str, tuple[int, int]], tuple[str, float]] = {}
    for patch, (sl, ft) in zip(patches, outputs):
        res = decode_patch(task, patch, sl, ft, hp)
        for key, (label, cid, p) in zip(res["keys"], res["labels"]):
            cur = spans.get(key)
            if cur is None:
                spans[key] = [label, cid, p]
            elif cur[0] == NME_LABEL and label != NME_LABEL:
                spans[key] = [label, cid, p]
        for i, j, r, p in res["triplets"]:
            rel: Candidate = patch.relations[r]
            k = (res["keys"][i], rel.title, res["keys"][j])
            if k not in trip:
                trip[k] = (rel.id, p)
    if task == "el":
        spans = {k: v for k, v in spans.items() if v[0] != NME_LABEL}
    order = sorted(spans)
    out_spans = [DecodedSpan(k[0], k[1], spans[k][0], spans[k][1], spans[k][2]) for k in order]
    index = {k: i for i, k in enumerate(order)}
    out_trip = [DecodedTriplet(index[a], rel, rid, index[b], p) for (a, rel, b), (rid, p) in trip.items()
                if a in index and b in index]
    out_trip.sort(key=lambda x: (x.subject, x.object, x.relation))
    return out_spans, out_trip
