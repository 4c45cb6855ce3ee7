"""Bi-encoder retriever: one shared encoder, masked mean pooling + optional LayerNorm, inner-product scores.

Training: multi-positive NCE over in-batch passages plus hard negatives mined from the model's own top results over
the whole KB (refreshed every N epochs). Evaluation: recall@K.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn as nn
from transformers import PreTrainedModel


class RetrieverModel(nn.Module):
    """forward(input_ids, attention_mask) -> embedding [B, D]: masked mean of the last hidden states, an optional
    linear projection to `dim` (a smaller index), then LayerNorm.

    The encoder may be the reader's own (same object): one graph then serves both, and the bundle stores it once.
    """

    def __init__(self, encoder: PreTrainedModel, layer_norm: bool = True, dim: int | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        if dim is not None and not (isinstance(dim, int) and 1 <= dim <= hidden):
            raise ValueError(f"RetrieverModel: 'dim' must be an int in [1, {hidden}] or None, got {dim!r}")
        self.projection: nn.Module = nn.Linear(hidden, dim, bias=False) if dim is not None else nn.Identity()
        self.norm: nn.Module = nn.LayerNorm(dim or hidden, eps=1e-12) if layer_norm else nn.Identity()
        self.has_layer_norm = layer_norm
        self._dim = dim or hidden

    @property
    def dim(self) -> int:
        return int(self._dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state,
                         attention_mask)

    def pool(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Embedding from the encoder's last hidden states x [B, L, H]."""
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
        return self.norm(self.projection(pooled))


def retrieval_head_parameters(model: RetrieverModel) -> list[nn.Parameter]:
    """The parameters after the encoder (projection, LayerNorm): trained at the head learning rate."""
    return [*model.projection.parameters(), *model.norm.parameters()]


def warm_start_heads(model: RetrieverModel, checkpoint: Path) -> list[str]:
    """Copy the retrieval head (projection, LayerNorm) from a reader checkpoint that trained one (`retriever` in
    it: a shared-encoder run); the encoder itself is the reader's, warm-started with it. Returns the names copied
    (none when the checkpoint has no retriever or the shapes differ)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False).get("retriever")
    if not isinstance(state, dict):
        return []
    copied = []
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if not name.startswith("encoder.") and name in state and state[name].shape == value.shape:
                value.copy_(state[name])
                copied.append(name)
    return copied


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists -> (input_ids, attention_mask) int64."""
    if not seqs:
        raise ValueError("pad_batch: 'seqs' must not be empty")
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def multi_positive_nce(scores: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Multi-label NCE: for every gold passage g of question q, -(s_g - logaddexp(s_g, logsumexp(s_negatives))).

    scores: [Q, P] question x passage scores; positives: [Q, P] bool. Summed over golds, divided by Q.
    """
    if scores.shape != positives.shape:
        raise ValueError(f"multi_positive_nce: 'scores' {tuple(scores.shape)} and 'positives' "
                         f"{tuple(positives.shape)} must have the same shape")
    neg = scores.masked_fill(positives, float("-inf"))
    neg_lse = torch.logsumexp(neg, dim=1, keepdim=True)  # [Q,1]; -inf when no negatives
    per = -(scores - torch.logaddexp(scores, neg_lse.expand_as(scores)))
    return (per * positives.to(scores.dtype)).sum() / scores.shape[0]


@torch.no_grad()
def embed(model: RetrieverModel, seqs: Sequence[Sequence[int]], pad_id: int, batch_size: int,
          device: torch.device | str) -> torch.Tensor:
    """Embed many id sequences (length-sorted batches), returned in input order on CPU, float32."""
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = torch.empty((len(seqs), model.dim), dtype=torch.float32)
    for b in range(0, len(order), batch_size):
        idx = order[b: b + batch_size]
        ids, mask = pad_batch([seqs[i] for i in idx], pad_id, device)
        out[idx] = model(ids, mask).float().cpu()
    return out


def top_k(queries: torch.Tensor, index: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """Indices [Q, k] of the k highest inner products (ties -> lower index first)."""
    k = min(k, index.shape[0])
    out = []
    for i in range(0, queries.shape[0], chunk):
        s = queries[i: i + chunk] @ index.T
        out.append(torch.topk(s, k, dim=1).indices)
    return torch.cat(out) if out else torch.empty((0, k), dtype=torch.long)


def recall_at_k(ranked: torch.Tensor, golds: Sequence[set[int]], ks: Sequence[int]) -> dict[str, float]:
    """Fraction of gold passages found in the top-K, micro over all (question, gold) pairs."""
    total = sum(len(g) for g in golds)
    out: dict[str, float] = {}
    for k in ks:
        hit = sum(len(g & set(ranked[i, :k].tolist())) for i, g in enumerate(golds))
        out[f"recall@{k}"] = hit / total if total else 0.0
    return out


@dataclass
class RetrieverExample:
    query: list[int]
    positives: list[int]  # passage rows


@dataclass
class RetrieverTrainConfig:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    norm_lr: float = 1e-4
    hard_negatives: int = 8
    refresh_every: int = 1
    max_steps: int | None = None
    eval_k: tuple[int, ...] = (1, 10, 100)


def mine_hard_negatives(model: RetrieverModel, examples: Sequence[RetrieverExample], passages: Sequence[list[int]],
                        pad_id: int, n: int, device: torch.device | str, batch_size: int = 64) -> list[list[int]]:
    """Top non-gold passages of each question under the current model, over the whole KB."""
    index = embed(model, passages, pad_id, batch_size, device)
    queries = embed(model, [e.query for e in examples], pad_id, batch_size, device)
    ranked = top_k(queries, index, n + max((len(e.positives) for e in examples), default=0))
    out = []
    for e, row in zip(examples, ranked.tolist()):
        gold = set(e.positives)
        out.append([p for p in row if p not in gold][:n])
    return out


def batch_loss(model: RetrieverModel, batch: Sequence[RetrieverExample], hard: Sequence[Sequence[int]],
               passages: Sequence[Sequence[int]], pad_id: int, device: torch.device | str) -> torch.Tensor:
    """NCE of a batch of questions against the union of their gold and hard-negative passages (in-batch
    negatives: every other question's passages)."""
    pool: dict[int, int] = {}
    for ex, negatives in zip(batch, hard):
        for p in [*ex.positives, *negatives]:
            pool.setdefault(p, len(pool))
    q_ids, q_mask = pad_batch([ex.query for ex in batch], pad_id, device)
    p_ids, p_mask = pad_batch([passages[p] for p in pool], pad_id, device)
    qe, pe = model(q_ids, q_mask), model(p_ids, p_mask)
    pos = torch.zeros((len(batch), len(pool)), dtype=torch.bool, device=qe.device)
    for qi, ex in enumerate(batch):
        for p in ex.positives:
            pos[qi, pool[p]] = True
    return multi_positive_nce(qe.float() @ pe.float().T, pos)


def train_retriever(model: RetrieverModel, examples: list[RetrieverExample], passages: Sequence[list[int]],
                    pad_id: int, cfg: RetrieverTrainConfig, device: torch.device | str, seed: int,
                    log: Callable[[dict], None], dev: Sequence[RetrieverExample] = ()) -> dict[str, float]:
    """Train in place; returns the last dev recall (empty when no dev set)."""
    rng = random.Random(seed)
    params = [{"params": list(model.encoder.parameters()), "lr": cfg.lr},
              {"params": retrieval_head_parameters(model), "lr": cfg.norm_lr}]
    opt = torch.optim.AdamW([g for g in params if g["params"]], weight_decay=0.01)
    hard: list[list[int]] = [[] for _ in examples]
    step = 0
    metrics: dict[str, float] = {}
    for epoch in range(cfg.epochs):
        if cfg.hard_negatives > 0 and epoch % max(cfg.refresh_every, 1) == 0 and (epoch > 0 or cfg.epochs == 1):
            hard = mine_hard_negatives(model, examples, passages, pad_id, cfg.hard_negatives, device)
        model.train()
        order = list(range(len(examples)))
        rng.shuffle(order)
        for b in range(0, len(order), cfg.batch_size):
            loss = batch_loss(model, [examples[i] for i in order[b: b + cfg.batch_size]],
                              [hard[i] for i in order[b: b + cfg.batch_size]], passages, pad_id, device)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            log({"component": "retriever", "epoch": epoch, "step": step, "loss": float(loss.detach())})
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break
        if dev:
            metrics = evaluate_retriever(model, dev, passages, pad_id, cfg.eval_k, device)
            log({"component": "retriever", "epoch": epoch, "step": step, "dev": metrics})
        if cfg.max_steps is not None and step >= cfg.max_steps:
            break
    return metrics


def evaluate_retriever(model: RetrieverModel, examples: Sequence[RetrieverExample], passages: Sequence[list[int]],
                       pad_id: int, ks: Sequence[int], device: torch.device | str) -> dict[str, float]:
    index = embed(model, passages, pad_id, 64, device)
    queries = embed(model, [e.query for e in examples], pad_id, 64, device)
    ranked = top_k(queries, index, max(ks))
    return recall_at_k(ranked, [set(e.positives) for e in examples], ks)
