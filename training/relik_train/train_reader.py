"""Reader training loop: candidate shuffling / gold dropping, length-budgeted batches, checkpoints, dev metrics."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from . import NME_LABEL
from .decode import HeadParams, decode_window
from .errors import InputBuildError
from .examples import AlignStats, ReaderExample, patch_target
from .reader import LossWeights, PatchTarget, ReaderModel, reader_loss
from .reader_input import Candidate, ReaderInputBuilder
from .retriever import RetrieverExample, RetrieverModel, batch_loss, pad_batch, retrieval_head_parameters


@dataclass
class ReaderTrainConfig:
    steps: int = 1000
    lr: float = 5e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    tokens_per_batch: int = 4096
    max_batch_size: int = 32
    shuffle_candidates: float = 0.5
    drop_gold: float = 0.05
    eval_every: int = 500
    checkpoint_every: int = 500
    loss_weights: LossWeights = field(default_factory=LossWeights)
    # Wall-clock budget: stop early (evaluate + checkpoint) once exceeded; None = no limit.
    max_minutes: float | None = None
    # "steps": warmup and linear decay follow step / steps. "budget": they follow the larger of step / steps and
    # elapsed / max_minutes, so a run stopped by its time budget still ends with a decayed learning rate (on a
    # lent GPU the step rate is unknown before the run).
    lr_schedule: str = "steps"
    threshold_sweep: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
    # RE with a large relation set: train each window on its gold relations plus random others, this many in all
    # (one patch), instead of every relation in many patches. None = every relation.
    relation_sample: int | None = None
    # Probability that a window's relation sample holds its gold relations. At run time most passes over a large
    # relation set hold none of a window's relations; a sample without them teaches the reader to answer "none of
    # these" instead of the closest relation present. 1.0 = always (the sample is then gold + random others).
    relation_sample_gold: float = 1.0
    # Relations kept per ordered mention pair in evaluation (and so in the threshold sweep), best first; 0 = all.
    # The bundle's reader.relationsPerPair: the runtime applies the same cap.
    relations_per_pair: int = 0
    # Exponential moving average of the weights (None = off): from `ema_from` of the run's progress on, an average
    # with this decay is kept beside the trained weights; the final evaluation scores both, and the model ends the
    # run holding the average (what is exported). Late-run averaging smooths the last updates of a small dataset.
    ema_decay: float | None = None
    ema_from: float = 0.5


@dataclass
class JointRetrieval:
    """Retrieval trained inside the reader loop on the reader's own encoder (one graph serves both at run time).

    `refresh` re-embeds the KB with the current encoder, refills every window's entity candidates and returns the
    hard negatives of each question in `examples`; it runs before the first step, then every `refresh_every`
    steps (the epoch's items are rebuilt) and before the last evaluation, so the reader trains, and is evaluated,
    on what the retriever it ships with retrieves.
    """

    model: RetrieverModel
    examples: list[RetrieverExample]
    passages: Sequence[Sequence[int]]
    pad: int
    refresh: Callable[[], list[list[int]]]
    every: int = 2
    batch_size: int = 16
    weight: float = 1.0
    refresh_every: int = 500


class WeightAverage:
    """Exponential moving average of a model's parameters (buffers are not averaged). The decay starts low and
    rises to `decay` ((1 + n) / (10 + n) after n updates) so the first updates are not outweighed by the start."""

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0,
                 weights: dict[str, torch.Tensor] | None = None) -> None:
        self.decay = decay
        self.updates = updates
        params = dict(model.named_parameters())
        self.weights = {n: (weights[n] if weights is not None else p).detach().clone().float()
                        for n, p in params.items()}

    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(model.named_parameters())
        names = list(self.weights)
        torch._foreach_lerp_([self.weights[n] for n in names], [params[n].detach().float() for n in names],
                             1.0 - decay)

    def swap_in(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """Load the average into `model`; returns the state dict it held (the trained weights)."""
        trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.copy_(self.weights[n])
        return trained

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "weights": self.weights}


@dataclass
class TrainItem:
    ids: list[int]
    target: PatchTarget


def sample_relations(relations: Sequence[Candidate], gold: set[str], size: int, rng: random.Random,
                     with_gold: bool = True) -> list[Candidate]:
    """The gold relations (all of them, even beyond `size`) plus random other relations up to `size`, in the
    original order; `with_gold=False`: `size` random non-gold relations (a pass that misses the window's relations)."""
    others = [i for i, c in enumerate(relations) if c.id not in gold]
    keep = {i for i, c in enumerate(relations) if c.id in gold} if with_gold else set()
    keep.update(rng.sample(others, max(0, min(len(others), size - len(keep)))))
    return [c for i, c in enumerate(relations) if i in keep]


def make_items(examples: Sequence[ReaderExample], builder: ReaderInputBuilder, rng: random.Random,
               cfg: ReaderTrainConfig, stats: AlignStats, train: bool = True) -> list[TrainItem]:
    """Build all patches of all windows (candidates shuffled / gold dropped when `train`)."""
    items: list[TrainItem] = []
    gold_drop_ids: set[str]
    for ex in examples:
        ents = list(ex.entity_candidates)
        rels = list(ex.relation_candidates)
        if train:
            gold = {eid for _, _, eid in ex.spans if eid is not None}
            gold_drop_ids = {g for g in sorted(gold) if rng.random() < cfg.drop_gold}
            ents = [c for c in ents if c.id not in gold_drop_ids]
            if rng.random() < cfg.shuffle_candidates:
                rng.shuffle(ents)
            if cfg.relation_sample is not None and len(rels) > cfg.relation_sample:
                with_gold = cfg.relation_sample_gold >= 1.0 or rng.random() < cfg.relation_sample_gold
                rels = sample_relations(rels, {r for _, r, _ in ex.triplets}, cfg.relation_sample, rng, with_gold)
            if rng.random() < cfg.shuffle_candidates:
                rng.shuffle(rels)
        try:
            inp = builder.build(ex.words, ents, rels)
        except InputBuildError:
            stats.unaligned_spans += len(ex.spans)
            continue
        for k, patch in enumerate(inp.patches):
            items.append(TrainItem(patch.input_ids, patch_target(ex, patch, stats if k == 0 else None)))
    return items


def batches(items: Sequence[TrainItem], tokens_per_batch: int, max_batch_size: int,
            rng: random.Random) -> list[list[TrainItem]]:
    """Noisy length sort, then batches whose padded size (max_len x n) stays within tokens_per_batch."""
    order = sorted(items, key=lambda it: len(it.ids) + rng.random() * 4)
    out: list[list[TrainItem]] = []
    cur: list[TrainItem] = []
    longest = 0
    for it in order:
        n = max(longest, len(it.ids))
        if cur and (n * (len(cur) + 1) > tokens_per_batch or len(cur) >= max_batch_size):
            out.append(cur)
            cur, n = [], len(it.ids)
        cur.append(it)
        longest = n
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def make_optimizer(model: ReaderModel, cfg: ReaderTrainConfig,
                   retriever: RetrieverModel | None = None) -> torch.optim.Optimizer:
    enc = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    head = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    head += retrieval_head_parameters(retriever) if retriever is not None else []
    return torch.optim.AdamW([{"params": enc, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
                             weight_decay=cfg.weight_decay)


LR_SCHEDULES = ("steps", "budget")


def run_progress(cfg: ReaderTrainConfig, step: int, elapsed_s: float) -> float:
    """How far the run is, in [0, 1]: steps done over cfg.steps, or under the budget schedule the larger of that
    and the share of the time budget spent."""
    progress = step / max(1, cfg.steps)
    if cfg.lr_schedule == "budget" and cfg.max_minutes:
        progress = max(progress, elapsed_s / (60 * cfg.max_minutes))
    return min(1.0, progress)


def lr_lambda(cfg: ReaderTrainConfig, elapsed: Callable[[], float] = lambda: 0.0) -> Callable[[int], float]:
    """Linear warmup then linear decay to 0 over the run's progress (see ReaderTrainConfig.lr_schedule);
    `elapsed` gives the seconds spent so far."""
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"reader.lrSchedule must be one of {LR_SCHEDULES}, got {cfg.lr_schedule!r}")
    if cfg.lr_schedule == "budget" and not cfg.max_minutes:
        raise ValueError("reader.lrSchedule 'budget' needs a time budget (reader.maxMinutes or --max-minutes)")
    warm = max(1, int(cfg.warmup * cfg.steps))

    def by_steps(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (cfg.steps - step) / max(1, cfg.steps - warm))

    def by_budget(step: int) -> float:
        progress = run_progress(cfg, step + 1, elapsed())
        if progress < cfg.warmup:
            return progress / cfg.warmup
        return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - cfg.warmup))
    return by_budget if cfg.lr_schedule == "budget" else by_steps


def train_reader(model: ReaderModel, builder: ReaderInputBuilder, train: Sequence[ReaderExample],
                 cfg: ReaderTrainConfig, device: torch.device, seed: int, log: Callable[[dict], None],
                 checkpoint: Path | None = None, dev: Sequence[ReaderExample] = (),
                 autocast_dtype: torch.dtype | None = None, joint: JointRetrieval | None = None) -> dict:
    """Train in place for cfg.steps optimizer steps (resuming from `checkpoint` if it exists); with `joint`, the
    shared encoder also learns retrieval (one retrieval batch every joint.every steps, added to the loss)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.to(device)
    if joint is not None:
        if joint.model.encoder is not model.encoder:
            raise ValueError("train_reader: 'joint.model' must share the reader's encoder")
        if cfg.ema_decay is not None:
            raise ValueError("train_reader: a weight average (reader.emaDecay) does not cover a joint retriever's head")
        joint.model.to(device)
    opt = make_optimizer(model, cfg, joint.model if joint else None)
    started = time.monotonic()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg, lambda: time.monotonic() - started))
    step = 0
    average: WeightAverage | None = None
    trained_weights: dict[str, torch.Tensor] | None = None  # set once the average is swapped into the model
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        if state.get("ema"):
            average = WeightAverage(model, state["ema"]["decay"], state["ema"]["updates"], state["ema"]["weights"])
        if joint is not None:
            joint.model.load_state_dict(state["retriever"])
        if state.get("final"):  # trained weights alone (relik_train.slim): nothing left to train
            log({"component": "reader", "event": "final weights", "step": state.get("step"),
                 "checkpoint": str(checkpoint)})
            return {}
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = int(state["step"])
        rng.setstate(state["rng"])
        log({"component": "reader", "event": "resumed", "step": step, "checkpoint": str(checkpoint)})
    pad = builder.sp.pad
    dev_metrics: dict = {}
    stats = AlignStats()
    out_of_time = False
    hard: list[list[int]] = []
    retrieval_order: list[int] = []
    refreshed_at = -1
    while step < cfg.steps and not out_of_time:
        if joint is not None and step != refreshed_at:
            hard = joint.refresh()
            refreshed_at = step
            model.train()
        items = make_items(train, builder, rng, cfg, stats)
        if not items:
            raise ValueError("train_reader: no training items (every window failed to build)")
        model.train()
        for batch in batches(items, cfg.tokens_per_batch, cfg.max_batch_size, rng):
            ids, mask = pad_batch([it.ids for it in batch], pad, device)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                start, feats = model(ids, mask)
            loss, parts = reader_loss(model, start.float(), feats.float(), [it.target for it in batch],
                                      cfg.loss_weights)
            if joint is not None and joint.examples and (step + 1) % max(joint.every, 1) == 0:  # logged steps too
                size = min(joint.batch_size, len(joint.examples))
                if len(retrieval_order) < size:
                    retrieval_order = list(range(len(joint.examples)))
                    rng.shuffle(retrieval_order)
                picked = [retrieval_order.pop() for _ in range(size)]
                with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                    retrieval = batch_loss(joint.model, [joint.examples[i] for i in picked],
                                           [hard[i] if hard else [] for i in picked], joint.passages, joint.pad, device)
                loss = loss + joint.weight * retrieval
                parts["retrieval"] = float(retrieval.detach())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for group in opt.param_groups for p in group["params"]], 1.0)
            opt.step()
            sched.step()
            step += 1
            if average is not None:
                average.update(model)
            elif cfg.ema_decay is not None and run_progress(cfg, step, time.monotonic() - started) >= cfg.ema_from:
                average = WeightAverage(model, cfg.ema_decay)
                log({"component": "reader", "event": "weight average started", "step": step, "decay": cfg.ema_decay})
            out_of_time = cfg.max_minutes is not None and time.monotonic() - started > cfg.max_minutes * 60
            if out_of_time:
                log({"component": "reader", "event": "time budget reached", "step": step, "maxMinutes": cfg.max_minutes})
            last = step == cfg.steps or out_of_time
            if last and average is not None:
                if dev:
                    log({"component": "reader", "step": step, "weights": "trained",
                         "dev": evaluate_reader(model, builder, dev, device, cfg.threshold_sweep,
                                                relations_per_pair=cfg.relations_per_pair)})
                trained_weights = average.swap_in(model)
                log({"component": "reader", "event": "weight average swapped in", "step": step,
                     "updates": average.updates})
            if step % 10 == 0 or step == 1:
                log({"component": "reader", "step": step, "loss": float(loss.detach()), **parts,
                     "lr": sched.get_last_lr()[0]})
            if dev and (step % cfg.eval_every == 0 or last):
                if joint is not None and last and step != refreshed_at:
                    hard = joint.refresh()  # the final candidates: those of the exported retriever
                    refreshed_at = step
                dev_metrics = evaluate_reader(model, builder, dev, device, cfg.threshold_sweep,
                                              relations_per_pair=cfg.relations_per_pair)
                log({"component": "reader", "step": step, "dev": dev_metrics,
                     **({"weights": "average"} if trained_weights is not None else {})})
                model.train()
            if checkpoint is not None and (step % cfg.checkpoint_every == 0 or last):
                checkpoint.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"model": trained_weights if trained_weights is not None else model.state_dict(),
                            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step,
                            "rng": rng.getstate(), **({"ema": average.state_dict()} if average else {}),
                            **({"retriever": joint.model.state_dict()} if joint else {})}, checkpoint)
            if last:
                break
            if joint is not None and step - refreshed_at >= max(joint.refresh_every, 1):
                break  # refresh the candidates, rebuild the items
    if average is not None and trained_weights is None:  # resumed after the last step: end on the average too
        average.swap_in(model)
    log({"component": "reader", "event": "alignment", "spans": stats.spans, "unaligned_spans": stats.unaligned_spans,
         "triplets": stats.triplets, "unaligned_triplets": stats.unaligned_triplets})
    return dev_metrics


@torch.no_grad()
def predict(model: ReaderModel, builder: ReaderInputBuilder, ex: ReaderExample, device: torch.device,
            hp: HeadParams):
    """Run all patches of one window through the model and decode them."""
    model.eval()
    inp = builder.build(ex.words, ex.entity_candidates, ex.relation_candidates)
    ids, mask = pad_batch([p.input_ids for p in inp.patches], builder.sp.pad, device)
    start, feats = model(ids, mask)
    outs = [(start[i, : len(p.input_ids)].float().cpu().numpy(), feats[i, : len(p.input_ids)].float().cpu().numpy())
            for i, p in enumerate(inp.patches)]
    return inp, outs, decode_window(builder.task, inp.patches, outs, hp)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def cap_relations_per_pair(triplets: Sequence, per_pair: int) -> list:
    """The `per_pair` most probable triplets of each ordered (subject, object) pair (ties: relation id order), in
    input order; all when `per_pair` is 0. As src/pipeline/merge.ts capRelationsPerPair; it commutes with any
    threshold, so the sweep may cap first."""
    if per_pair == 0:
        return list(triplets)
    by_pair: dict[tuple[int, int], list] = {}
    for t in triplets:
        by_pair.setdefault((t.subject, t.object), []).append(t)
    kept = {id(t) for group in by_pair.values()
            for t in sorted(group, key=lambda t: (-t.score, t.relation_id))[:per_pair]}
    return [t for t in triplets if id(t) in kept]


def evaluate_reader(model: ReaderModel, builder: ReaderInputBuilder, examples: Sequence[ReaderExample],
                    device: torch.device, sweep: Sequence[float], ends_per_start: str = "one",
                    relations_per_pair: int = 0) -> dict:
    """Span F1; EL F1 (span + entity id, NME gold excluded); RE boundaries triplet F1 with threshold sweep; for cIE
    also RE strict (both entity ids right too) at the chosen threshold. `relations_per_pair` > 0 keeps that many
    relations per ordered mention pair of a window, best first (the runtime's reader.relationsPerPair)."""
    hp = HeadParams.from_model(model, ends_per_start, 0.0)
    span_tp = span_pred = span_gold = 0
    el_tp = el_pred = el_gold = 0
    trip_gold = 0
    scored: list[tuple[float, bool, bool]] = []  # (probability, boundaries right, entity ids right too)
    for ex in examples:
        try:
            _, _, (spans, trips) = predict(model, builder, ex, device, hp)
        except InputBuildError:
            continue
        gold_spans = {(s, e) for s, e, _ in ex.spans}
        pred_spans = {(s.start, s.end) for s in spans}
        span_tp += len(gold_spans & pred_spans)
        span_pred += len(pred_spans)
        span_gold += len(gold_spans)
        if builder.task in ("el", "cie") and ex.labels_el:
            gold_el = {(s, e, i) for s, e, i in ex.spans if i is not None}
            pred_el = {(s.start, s.end, s.id) for s in spans if s.label != NME_LABEL}
            el_tp += len(gold_el & pred_el)
            el_pred += len(pred_el)
            el_gold += len(gold_el)
        if builder.task in ("re", "cie") and ex.labels_re:
            gold_t = {(ex.spans[i][:2], r, ex.spans[j][:2]) for i, r, j in ex.triplets}
            gold_strict = {(ex.spans[i], r, ex.spans[j]) for i, r, j in ex.triplets}
            trip_gold += len(gold_t)
            for t in cap_relations_per_pair(trips, relations_per_pair):
                sub, obj = spans[t.subject], spans[t.object]
                key = ((sub.start, sub.end), t.relation_id, (obj.start, obj.end))
                strict = ((sub.start, sub.end, sub.id), t.relation_id, (obj.start, obj.end, obj.id))
                scored.append((t.score, key in gold_t, strict in gold_strict))
    out: dict = {"span": _prf(span_tp, span_pred, span_gold)}
    if builder.task in ("el", "cie"):
        out["el"] = _prf(el_tp, el_pred, el_gold)
    if builder.task in ("re", "cie"):
        def at(th: float, col: int = 1) -> dict:
            return _prf(sum(1 for row in scored if row[0] > th and row[col]), sum(1 for row in scored if row[0] > th),
                        trip_gold)
        best = (0.5, at(0.5))
        curve = {}
        for th in sweep:
            m = at(th)
            curve[str(th)] = round(m["f1"], 4)
            if m["f1"] > best[1]["f1"]:
                best = (th, m)
        out["re"] = best[1]
        out["relationThreshold"] = best[0]
        out["thresholdCurve"] = curve
        if builder.task == "cie":
            out["reStrict"] = at(best[0], 2)
    return out
