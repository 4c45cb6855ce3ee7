"""`python -m relik_train.requantize`: re-export a built bundle's graphs with another quantization scheme.

The build's checkpoints (work/reader.pt, work/retriever.pt) are rebuilt into PyTorch models, exported in fp32
(verified against torch), quantized with `--scheme` (export.QUANT_SCHEMES, or fp32) and put in place of
reader/model.onnx and retriever/model.onnx. The entity index is kept (bundles whose retriever shares the reader's
graph are refused: their index was embedded by that graph). For RE bundles, given --data-root, the int8-vs-fp32 check is rerun on the config's dev and test
files and written to relik.json (training.quantizationCheck), as a build does; otherwise the old check is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

import torch

from .data import read_casrel, read_re, window_docs
from .examples import ReaderExample
from .export import QUANT_SCHEMES, export_component, read_index_passages
from .quant_check import quantization_check
from .reader import ReaderModel, exported_weights, load_encoder
from .reader_input import Candidate, ReaderInputBuilder
from .retriever import RetrieverModel, pad_batch
from .tokenization import SpecialIds, load_tokenizer, query_ids
from .train_reader import ReaderTrainConfig

CHECK_WORDS = [["John", "Wilkes", "Booth", ",", "who", "assassinated", "President", "Lincoln", ",", "was", "an",
                "actor", "."], ["Acme", "Labs", "is", "based", "in", "Oslo", "."]]


def load_reader(bundle: Path, checkpoint: Path, base_model: Path) -> tuple[ReaderModel, ReaderInputBuilder, dict]:
    """The bundle's reader as a PyTorch model (weights from the build checkpoint), its input builder, relik.json."""
    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    rd = manifest["reader"]
    reader_dir = bundle / rd.get("dir", "reader")
    tok = load_tokenizer(reader_dir)
    heads = json.loads((reader_dir / "heads.json").read_text(encoding="utf-8"))
    model = ReaderModel.from_heads(load_encoder(base_model, tok.get_vocab_size()), manifest["task"], heads)
    model.load_state_dict(exported_weights(torch.load(checkpoint, map_location="cpu", weights_only=False)))
    model.eval()
    builder = ReaderInputBuilder(tok, manifest["task"], rd["maxLength"], rd["maxCandidateTokens"],
                                 max(rd["entityMarkers"], 2), max(rd["relationMarkers"], 1))
    return model, builder, manifest


def relation_windows(bundle: Path, manifest: dict, file: Path) -> list[ReaderExample]:
    """RE windows of a data file of the bundle's training config kind (ReLiK RE jsonl, or CasRel JSON for
    `data.kind: casrel`) with the bundle's relation set as candidates (triplets outside it dropped)."""
    rel_dir = bundle / manifest["relations"]["index"]
    relations = read_index_passages(rel_dir / "passages.jsonl")
    rid = {r["title"]: r["id"] for r in relations}
    kind = manifest.get("training", {}).get("config", {}).get("data", {}).get("kind")
    docs = read_casrel(file) if kind == "casrel" else read_re(file)
    w = manifest["windows"]
    windows = window_docs(docs, w["size"], w["stride"], strategy=w.get("strategy", "words"))  # as the build windowed
    for ex in windows:
        ex.triplets = [(a, rid[r], b) for a, r, b in ex.triplets if r in rid]
        ex.relation_candidates = [Candidate(r["id"], r["title"]) for r in relations]
    return windows


def calibration_batches(builder: ReaderInputBuilder, windows: list[ReaderExample], count: int = 256,
                        batch_size: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Reader inputs of `count` random windows (with their candidates), padded in batches: calibration data."""
    rng = random.Random(seed)
    chosen = rng.sample(windows, min(count, len(windows)))
    seqs = [p.input_ids for ex in chosen
            for p in builder.build(ex.words, ex.entity_candidates, ex.relation_candidates).patches]
    return [pad_batch(seqs[i:i + batch_size], builder.sp.pad) for i in range(0, len(seqs), batch_size)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True, help="the bundle to update in place")
    ap.add_argument("--work", required=True, help="the build's work folder (reader.pt, retriever.pt)")
    ap.add_argument("--base-model", required=True, help="the base model folder the build started from")
    ap.add_argument("--scheme", default=QUANT_SCHEMES[0], choices=[*QUANT_SCHEMES, "fp32"])
    ap.add_argument("--data-root", default=None, help="shared data folder, for the RE quantization check")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bundle, work, base = Path(args.bundle), Path(args.work), Path(args.base_model)
    scheme = None if args.scheme == "fp32" else args.scheme
    model, builder, manifest = load_reader(bundle, work / "reader.pt", base)
    if manifest["task"] != "re" and manifest["entities"]["retriever"] == manifest["reader"].get("dir", "reader"):
        # one graph embeds the queries and built the index: a new graph needs a new index, i.e. a build
        raise SystemExit(f"requantize: {bundle} shares one encoder between retriever and reader; set "
                         "export.quantize in its config and rerun relik_train.build (it resumes from the checkpoints)")
    reports: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        check = [p.input_ids for w in CHECK_WORDS for p in builder.build(w, [], []).patches]
        reports["reader"] = export_component(model, Path(tmp), ["start_logit", "features"], check, builder.sp.pad,
                                             scheme)
        (Path(tmp) / "model.onnx").replace(bundle / manifest["reader"].get("dir", "reader") / "model.onnx")
    # typed cIE bundles (spanCandidates "types") read a closed entity set: no retriever graph to rebuild
    has_retriever = manifest["task"] != "re" and manifest["entities"].get("retriever") is not None
    if has_retriever:
        rdir = bundle / manifest["entities"]["retriever"]
        cfg = manifest.get("training", {}).get("config", {}).get("retriever", {})
        retriever = RetrieverModel(load_encoder(base), layer_norm=bool(cfg.get("layerNorm", True)))
        retriever.load_state_dict(torch.load(work / "retriever.pt", map_location="cpu", weights_only=False))
        tok = load_tokenizer(rdir)
        with tempfile.TemporaryDirectory() as tmp:
            q = [query_ids(tok, w, manifest["retriever"]["maxQueryTokens"]) for w in CHECK_WORDS]
            reports["retriever"] = export_component(retriever.eval(), Path(tmp), ["embedding"], q,
                                                    SpecialIds(tok).pad, scheme)
            (Path(tmp) / "model.onnx").replace(rdir / "model.onnx")
    q_name = scheme or "fp32"
    manifest["quantization"] = {"reader": q_name, **({"retriever": q_name} if has_retriever else {})}
    training = manifest.setdefault("training", {})
    training.setdefault("export", {}).update(reports)
    training.pop("quantizationCheck", None)  # it described the graph just replaced
    print(json.dumps({"export": reports}), flush=True)
    data = manifest.get("training", {}).get("config", {}).get("data", {})
    if manifest["task"] == "re" and scheme is not None and args.data_root and data.get("dev"):
        root = Path(args.data_root)
        splits = {name: relation_windows(bundle, manifest, root / data[name]) for name in ("dev", "test")
                  if data.get(name)}
        rd = manifest["reader"]
        result = quantization_check(model, bundle / rd.get("dir", "reader") / "model.onnx", builder, splits,
                                    torch.device("cpu"), ReaderTrainConfig().threshold_sweep, rd["endsPerStart"],
                                    rd["relationThreshold"], int(rd.get("relationsPerPair", 0)))
        training["quantizationCheck"] = {k: {m: v[m] for m in ("fp32", "int8", "delta")} for k, v in result.items()}
        print(json.dumps({"quantizationCheck": training["quantizationCheck"]}), flush=True)
    (bundle / "relik.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
