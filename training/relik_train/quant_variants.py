"""`python -m relik_train.quant_variants`: which int8 scheme keeps a trained RE reader's accuracy?

Rebuilds the reader from a build's checkpoint (work/reader.pt), exports fp32 ONNX, quantizes it several ways and
scores every graph with onnxruntime on the dev and test windows (same input building and decoding as the build's
quantization check). Prints and writes a JSON table: F1 at the bundle's threshold, best F1, file size.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from .data import read_re, window_docs
from .export import export_onnx
from .quant_check import OnnxReader
from .reader import ReaderModel, load_encoder
from .reader_input import Candidate, ReaderInputBuilder
from .tokenization import add_markers, load_tokenizer
from .train_reader import ReaderTrainConfig, evaluate_reader


def head_matmuls(path: Path) -> list[str]:
    """MatMul nodes of the heads (start head and feature blocks), i.e. everything after the encoder."""
    graph = onnx.load(str(path)).graph
    return [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and ("blocks" in n.name or "start" in n.name)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle", required=True, help="exported RE bundle (relik.json, index/relations)")
    ap.add_argument("--checkpoint", required=True, help="the build's reader.pt")
    ap.add_argument("--base-model", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--dev", default="conll04/processed/conll04_dev.relik.jsonl")
    ap.add_argument("--test", default="conll04/processed/conll04_test.relik.jsonl")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    bundle = Path(args.bundle)
    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    rd = manifest["reader"]
    if manifest["task"] != "re":
        raise SystemExit(f"quant_variants: only re bundles are supported, got task {manifest['task']!r}")
    relations = [json.loads(line) for line in (bundle / manifest["relations"]["index"] / "passages.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    rid = {r["title"]: r["id"] for r in relations}
    tok = add_markers(load_tokenizer(args.base_model), 0, rd["relationMarkers"])
    model = ReaderModel(load_encoder(args.base_model, tok.get_vocab_size()), "re", int(manifest["training"]["config"]["reader"].get("headDim", 256)))
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=False)["model"])
    model.eval()
    builder = ReaderInputBuilder(tok, "re", rd["maxLength"], rd["maxCandidateTokens"], 2, rd["relationMarkers"])
    size, stride = manifest["windows"]["size"], manifest["windows"]["stride"]
    splits = {}
    for name, rel in (("dev", args.dev), ("test", args.test)):
        windows = window_docs(read_re(Path(args.data_root) / rel), size, stride)
        for ex in windows:
            ex.triplets = [(a, rid[r], b) for a, r, b in ex.triplets if r in rid]
            ex.relation_candidates = [Candidate(r["id"], r["title"]) for r in relations]
        splits[name] = windows
    threshold = rd["relationThreshold"]
    sweep = ReaderTrainConfig().threshold_sweep

    def score(runner) -> dict:
        out = {}
        for name, windows in splits.items():
            m = evaluate_reader(runner, builder, windows, torch.device("cpu"), sweep, rd["endsPerStart"])
            out[name] = {"f1AtThreshold": round(m["thresholdCurve"].get(str(threshold), m["re"]["f1"]), 4),
                         "bestF1": round(m["re"]["f1"], 4)}
        return out

    table: dict = {"threshold": threshold, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, fp32, ["start_logit", "features"])
        variants = {
            "fp32": None,
            "int8 MatMul+Gather per-tensor (shipped)": dict(op_types_to_quantize=["MatMul", "Gather"], per_channel=False),
            "int8 MatMul per-tensor": dict(op_types_to_quantize=["MatMul"], per_channel=False),
            "int8 MatMul per-channel": dict(op_types_to_quantize=["MatMul"], per_channel=True),
            "int8 MatMul+Gather, heads fp32": dict(op_types_to_quantize=["MatMul", "Gather"], per_channel=False,
                                                   nodes_to_exclude=head_matmuls(fp32)),
        }
        for name, kwargs in variants.items():
            path = fp32 if kwargs is None else Path(tmp) / f"v{len(table['variants'])}.onnx"
            if kwargs is not None:
                quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, **kwargs)
            result = score(OnnxReader(path, model))
            result["bytes"] = path.stat().st_size
            table["variants"][name] = result
            print(json.dumps({name: result}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
