"""Feature layout of the reader graph and the head math of docs/BUNDLE.md "Heads" (torch, used for losses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAYOUTS: dict[str, tuple[str, ...]] = {
    "el": ("end_s", "end_t", "el_s", "el_t"),
    "re": ("end_s", "end_t", "subj_s", "subj_t", "obj_s", "obj_t", "rel"),
    "cie": ("end_s", "end_t", "el_s", "el_t", "subj_s", "subj_t", "obj_s", "obj_t", "rel", "subj_ent", "obj_ent"),
}
BIASED = {"end_t", "el_t", "subj_t", "obj_t", "rel"}


def block_size(name: str, head_dim: int) -> int:
    return head_dim


def block_names(task: str, context: bool = False) -> tuple[str, ...]:
    """The feature blocks of a reader, in graph order; `context` adds "ctx" (the pair-context term's block)."""
    if task not in LAYOUTS:
        raise ValueError(f"block_names: 'task' must be one of {tuple(LAYOUTS)}, got {task!r}")
    if context and task == "el":
        raise ValueError("block_names: the pair context needs relation extraction (task re or cie), got task 'el'")
    return LAYOUTS[task] + (("ctx",) if context else ())


def feature_layout(task: str, head_dim: int, context: bool = False) -> dict[str, tuple[int, int]]:
    """name -> (offset, size) inside the features tensor."""
    out: dict[str, tuple[int, int]] = {}
    off = 0
    for name in block_names(task, context):
        size = block_size(name, head_dim)
        out[name] = (off, size)
        off += size
    return out


class Feats:
    """Named access to one patch's feature rows: feats[L, F]."""

    def __init__(self, feats: torch.Tensor, layout: dict[str, tuple[int, int]]) -> None:
        self.x = feats
        self.layout = layout

    def __getitem__(self, name: str) -> torch.Tensor:
        off, size = self.layout[name]
        return self.x[:, off: off + size]


def end_logits(f: Feats, s: int, window_end: int, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Logits of P(end at t | start s) = endWeight . gelu(end_s[s] + end_t[t]) + endBias for t in [s, window_end).
    Non-linear in (s, t): with a purely additive logit every start would pick the same best end."""
    return F.gelu(f["end_s"][s] + f["end_t"][s:window_end]) @ weight + bias


def mention_el(f: Feats, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """M = gelu(el_s[s] + el_t[t]) for each mention -> [N, D]."""
    return F.gelu(f["el_s"][starts] + f["el_t"][ends])


def marker_el(f: Feats, positions: torch.Tensor) -> torch.Tensor:
    """E_k = gelu(el_s[k] + el_t[k]) -> [K, D]."""
    return F.gelu(f["el_s"][positions] + f["el_t"][positions])


def el_logits(f: Feats, starts: torch.Tensor, ends: torch.Tensor, ent_pos: torch.Tensor) -> torch.Tensor:
    """E_k . M -> [N, K] (softmax over K gives p(k | mention))."""
    return mention_el(f, starts, ends) @ marker_el(f, ent_pos).T


class RelationMlp(torch.nn.Module):
    """The optional non-linear part of the relation logit: out . gelu(W (S * O * R) + c), added to the trilinear
    term. The reference classifies the product with an MLP; the trilinear term alone weighs each dimension of it
    independently. `out` starts at zero, so a fresh MLP leaves the trilinear head's logits unchanged."""

    def __init__(self, head_dim: int, hidden: int) -> None:
        super().__init__()
        self.inner = torch.nn.Linear(head_dim, hidden)
        self.out = torch.nn.Parameter(torch.zeros(hidden))

    def forward(self, product: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.inner(product)) @ self.out


def between_mask(starts: torch.Tensor, ends: torch.Tensor, length: int) -> torch.Tensor:
    """[N, N, length]: position p lies strictly between mentions i and j (after the earlier one's end, before the
    later one's start). Overlapping mentions and a mention with itself have nothing between them."""
    p = torch.arange(length, device=starts.device)
    low = torch.minimum(ends[:, None], ends[None, :])
    high = torch.maximum(starts[:, None], starts[None, :])
    return (p[None, None, :] > low[:, :, None]) & (p[None, None, :] < high[:, :, None])


def pair_context(ctx: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """C [N, N, D] = gelu(max over the positions between mentions i and j of ctx[p]); 0 where none lie between
    (SpERT's localized context, pooled from a block of the reader's features)."""
    first, last = int(starts.min()), int(ends.max())  # no position outside [first, last] lies between two mentions
    ctx, starts, ends = ctx[first: last + 1], starts - first, ends - first
    mask = between_mask(starts, ends, ctx.shape[0])
    pooled = ctx[None, None, :, :].masked_fill(~mask[:, :, :, None], float("-inf")).amax(dim=2)
    return F.gelu(torch.where(mask.any(dim=2)[:, :, None], pooled, torch.zeros_like(pooled)))


def re_logits(f: Feats, starts: torch.Tensor, ends: torch.Tensor, rel_pos: torch.Tensor,
              weight: torch.Tensor, bias: torch.Tensor, ent_pos: torch.Tensor | None = None,
              mlp: RelationMlp | None = None, context_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Logits [N(subject), N(object), R] of sigmoid(sum_e w_e S_e O_e R_e + b [+ sum_e v_e C_e R_e]
    [+ mlp(S * O * R)]), C the pair context (`context_weight` v; the "ctx" block); cIE adds the EL-conditioned
    terms."""
    subj = f["subj_s"][starts] + f["subj_t"][ends]
    obj = f["obj_s"][starts] + f["obj_t"][ends]
    if ent_pos is not None:
        gate = torch.sigmoid(el_logits(f, starts, ends, ent_pos))  # [N, K]
        subj = subj + gate @ f["subj_ent"][ent_pos]
        obj = obj + gate @ f["obj_ent"][ent_pos]
    s, o, r = F.gelu(subj), F.gelu(obj), F.gelu(f["rel"][rel_pos])
    logits = torch.einsum("ie,je,re->ijr", s * weight, o, r) + bias
    if context_weight is not None:
        logits = logits + torch.einsum("ije,re->ijr", pair_context(f["ctx"], starts, ends) * context_weight, r)
    if mlp is None:
        return logits
    return logits + mlp(s[:, None, None, :] * o[None, :, None, :] * r[None, None, :, :])
