"""Reader model: encoder + per-token linear maps whose concatenation is the ONNX `features` output; losses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, PreTrainedModel

from .heads import (BIASED, LAYOUTS, Feats, RelationMlp, block_names, block_size, el_logits, end_logits, feature_layout,
                    re_logits)


def load_encoder(model_dir: str | Path, vocab_size: int | None = None) -> PreTrainedModel:
    """Load a local HF encoder (eager attention for a clean ONNX graph); optionally resize the embeddings."""
    # float32 master weights whatever the folder stores (fp16 copies are common); autocast handles bf16 on GPU.
    kwargs = {"attn_implementation": "eager", "dtype": torch.float32}
    enc = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False, **kwargs) \
        if _is_bert_like(model_dir) else AutoModel.from_pretrained(str(model_dir), **kwargs)
    if vocab_size is not None and vocab_size != enc.get_input_embeddings().num_embeddings:
        enc.resize_token_embeddings(vocab_size)
    return enc


def _is_bert_like(model_dir: str | Path) -> bool:
    cfg = AutoConfig.from_pretrained(str(model_dir))
    return cfg.model_type in ("bert",)


class ReaderModel(nn.Module):
    """forward(input_ids, attention_mask) -> (start_logit [B,L], features [B,L,F])."""

    def __init__(self, encoder: PreTrainedModel, task: str, head_dim: int, relation_mlp: int = 0,
                 relation_context: bool = False) -> None:
        super().__init__()
        if task not in LAYOUTS:
            raise ValueError(f"ReaderModel: 'task' must be one of {tuple(LAYOUTS)}, got {task!r}")
        if relation_mlp < 0 or (relation_mlp and task == "el"):
            raise ValueError(f"ReaderModel: 'relation_mlp' must be 0 (off) or a hidden size >= 1 for task re or cie, "
                             f"got {relation_mlp!r} for task {task!r}")
        self.encoder = encoder
        self.task = task
        self.head_dim = head_dim
        hidden = encoder.config.hidden_size
        self.hidden = hidden
        self.start = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))
        self.blocks = nn.ModuleDict({
            name: nn.Linear(hidden, block_size(name, head_dim), bias=name in BIASED)
            for name in block_names(task, relation_context)})
        self.layout = feature_layout(task, head_dim, relation_context)
        self.end_weight = nn.Parameter(torch.randn(head_dim) / math.sqrt(head_dim))
        self.end_bias = nn.Parameter(torch.zeros(()))
        self.relation_weight = nn.Parameter(torch.randn(head_dim) / math.sqrt(head_dim))
        self.relation_bias = nn.Parameter(torch.zeros(()))
        self.relation_mlp = RelationMlp(head_dim, relation_mlp) if relation_mlp else None
        # the pair-context term's weight starts at 0: a fresh term leaves the trilinear logits unchanged
        self.relation_context_weight = nn.Parameter(torch.zeros(head_dim)) if relation_context else None

    @property
    def feature_size(self) -> int:
        return sum(size for _, size in self.layout.values())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(start_logit [B,L], features [B,L,F]) from the encoder's last hidden states."""
        start = self.start(x).squeeze(-1)
        feats = torch.cat([self.blocks[name](x) for name in self.layout], dim=-1)
        return start, feats

    def heads_json(self) -> dict:
        return {
            "hidden": self.hidden, "headDim": self.head_dim,
            "features": {k: [v[0], v[1]] for k, v in self.layout.items()},
            "endWeight": floats(self.end_weight),
            "endBias": float(self.end_bias.detach().float().cpu()),
            "relationWeight": floats(self.relation_weight),
            "relationBias": float(self.relation_bias.detach().float().cpu()),
            **({"relationMlp": relation_mlp_json(self.relation_mlp)} if self.relation_mlp is not None else {}),
            **({"relationContextWeight": floats(self.relation_context_weight)}
               if self.relation_context_weight is not None else {}),
        }

    @staticmethod
    def from_heads(encoder: PreTrainedModel, task: str, heads: dict) -> "ReaderModel":
        """An untrained reader of the shape a bundle's heads.json describes (head size, relation MLP, pair context)."""
        return ReaderModel(encoder, task, int(heads["headDim"]), int((heads.get("relationMlp") or {}).get("hidden", 0)),
                           "ctx" in heads["features"])


def floats(t: torch.Tensor) -> list:
    """A weight as (nested) lists of Python floats, for heads.json."""
    return t.detach().float().cpu().tolist()


def relation_mlp_json(mlp: RelationMlp) -> dict:
    """heads.json "relationMlp": weight [hidden][headDim], bias [hidden], out [hidden] (docs/BUNDLE.md, "Heads")."""
    return {"hidden": mlp.out.numel(), "weight": floats(mlp.inner.weight), "bias": floats(mlp.inner.bias),
            "out": floats(mlp.out)}


@dataclass
class PatchTarget:
    """Gold of one patch in subword positions."""

    window_start: int
    window_end: int
    mentions: list[tuple[int, int]]  # (s, t) inclusive subword positions, unique
    entity_positions: list[int] = field(default_factory=list)
    entity_targets: list[int] = field(default_factory=list)  # per mention: marker index (0 = NME)
    relation_positions: list[int] = field(default_factory=list)
    triplets: list[tuple[int, int, int]] = field(default_factory=list)  # (mention i, mention j, relation r)
    el_labeled: bool = True  # False: the window has no gold links (no EL loss)
    re_labeled: bool = True  # False: the window has no gold relations (no RE loss)


@dataclass
class LossWeights:
    start: float = 1.0
    end: float = 1.0
    el: float = 1.0
    re: float = 1.0


def reader_loss(model: ReaderModel, start: torch.Tensor, feats: torch.Tensor, targets: list[PatchTarget],
                weights: LossWeights) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE starts (window tokens), BCE ends per gold start, CE over entity markers, BCE relations (all ordered pairs)."""
    device = start.device
    start_terms, end_terms, el_terms, re_terms = [], [], [], []
    for b, tg in enumerate(targets):
        f = Feats(feats[b], model.layout)
        ws, we = tg.window_start, tg.window_end
        if we <= ws:
            continue
        gold_start = torch.zeros(we - ws, device=device)
        for s, _ in tg.mentions:
            gold_start[s - ws] = 1.0
        start_terms.append(F.binary_cross_entropy_with_logits(start[b, ws:we], gold_start, reduction="sum"))
        by_start: dict[int, list[int]] = {}
        for s, t in tg.mentions:
            by_start.setdefault(s, []).append(t)
        for s, ends in by_start.items():
            logits = end_logits(f, s, we, model.end_weight, model.end_bias)
            gold = torch.zeros_like(logits)
            for t in ends:
                gold[t - s] = 1.0
            end_terms.append(F.binary_cross_entropy_with_logits(logits, gold, reduction="sum"))
        if not tg.mentions:
            continue
        st = torch.tensor([m[0] for m in tg.mentions], device=device)
        en = torch.tensor([m[1] for m in tg.mentions], device=device)
        ent_pos = torch.tensor(tg.entity_positions, device=device) if tg.entity_positions else None
        if model.task in ("el", "cie") and ent_pos is not None and tg.el_labeled:
            logits = el_logits(f, st, en, ent_pos)
            el_terms.append(F.cross_entropy(logits, torch.tensor(tg.entity_targets, device=device), reduction="sum"))
        if model.task in ("re", "cie") and tg.relation_positions and len(tg.mentions) > 1 and tg.re_labeled:
            rel_pos = torch.tensor(tg.relation_positions, device=device)
            logits = re_logits(f, st, en, rel_pos, model.relation_weight, model.relation_bias,
                               ent_pos if model.task == "cie" else None, model.relation_mlp,
                               model.relation_context_weight)
            gold = torch.zeros_like(logits)
            for i, j, r in tg.triplets:
                gold[i, j, r] = 1.0
            n = len(tg.mentions)
            off_diag = ~torch.eye(n, dtype=torch.bool, device=device)
            re_terms.append(F.binary_cross_entropy_with_logits(logits[off_diag], gold[off_diag], reduction="sum"))

    def mean(terms: list[torch.Tensor], count: int) -> torch.Tensor:
        return torch.stack(terms).sum() / max(count, 1) if terms else start.sum() * 0.0

    n_tokens = sum(max(t.window_end - t.window_start, 0) for t in targets)
    n_starts = sum(len({m[0] for m in t.mentions}) for t in targets)
    n_mentions = sum(len(t.mentions) for t in targets if t.el_labeled)
    n_pairs = sum(len(t.mentions) * (len(t.mentions) - 1) for t in targets if len(t.mentions) > 1 and t.re_labeled)
    parts = {
        "start": mean(start_terms, n_tokens),
        "end": mean(end_terms, n_starts),
        "el": mean(el_terms, n_mentions),
        "re": mean(re_terms, n_pairs),
    }
    total = (weights.start * parts["start"] + weights.end * parts["end"] + weights.el * parts["el"]
             + weights.re * parts["re"])
    return total, {k: float(v.detach()) for k, v in parts.items()}


def exported_weights(state: dict) -> dict[str, torch.Tensor]:
    """The reader weights a training checkpoint stands for: its model state, with the weight average in place of
    the trained parameters when the run kept one (reader.emaDecay: the run exports the average). A bare state
    dict is returned as it is."""
    if "model" not in state:
        return state
    model = dict(state["model"])
    if state.get("ema"):
        model.update(state["ema"]["weights"])
    return model


def warm_start(model: ReaderModel, tok, base_tok, checkpoint: Path, entity_markers: int,
               relation_markers: int) -> dict:
    """Initialize `model` from another reader's checkpoint (e.g. an RE reader before EL + RE training): every
    parameter with the same name and shape, and the word-embedding rows of every token both vocabularies have
    (matched by token: the checkpoint's vocabulary is `base_tok` + its `entity_markers` and `relation_markers`).
    Returns what was copied and what kept its fresh initialization."""
    from .tokenization import add_markers

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"reader.init.checkpoint: {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = exported_weights(state)
    old_tok = add_markers(base_tok, entity_markers, relation_markers)
    emb_key = "encoder.embeddings.word_embeddings.weight"
    if emb_key not in state or state[emb_key].shape[0] != old_tok.get_vocab_size():
        raise ValueError(f"reader.init: {path} has {tuple(state[emb_key].shape) if emb_key in state else 'no'} word "
                         f"embeddings; entityMarkers={entity_markers} relationMarkers={relation_markers} give a "
                         f"vocabulary of {old_tok.get_vocab_size()}")
    own = model.state_dict()
    copied, fresh = [], []
    with torch.no_grad():
        for name, value in own.items():
            if name == emb_key:
                rows = 0
                for token, new_id in tok.get_vocab().items():
                    old_id = old_tok.token_to_id(token)
                    if old_id is not None:
                        value[new_id] = state[emb_key][old_id]
                        rows += 1
                copied.append(f"{name} ({rows} of {value.shape[0]} rows)")
            elif name in state and state[name].shape == value.shape:
                value.copy_(state[name])
                copied.append(name)
            else:
                fresh.append(name)
    return {"checkpoint": str(path), "copied": len(copied), "fresh": fresh}
