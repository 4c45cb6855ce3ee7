"""`python -m relik_train.quant_variants`: which int8 scheme keeps a trained RE reader's accuracy?

Rebuilds the reader from a build's checkpoint (work/reader.pt), exports fp32 ONNX, quantizes it several ways and
scores every graph with onnxruntime on the dev and test windows (same input building and decoding as the build's
quantization check). Prints and writes a JSON table: F1 at the bundle's threshold, best F1, file size.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import re
import tempfile
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from .export import export_onnx, quantize_blockwise
from .quant_check import OnnxReader
from .requantize import calibration_batches, load_reader, relation_windows
from .smoothquant import calibrate_and_smooth
from .train_reader import ReaderTrainConfig, evaluate_reader


def matmuls(path: Path, pattern: str) -> list[str]:
    """Names of the MatMul/Gemm nodes whose name matches `pattern` ("heads": every node outside the encoder)."""
    graph = onnx.load(str(path)).graph
    nodes = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    if pattern == "heads":
        return [n for n in nodes if not n.startswith("/encoder/")]
    return [n for n in nodes if re.search(pattern, n)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle", required=True, help="exported RE bundle (relik.json, index/relations)")
    ap.add_argument("--checkpoint", required=True, help="the build's reader.pt")
    ap.add_argument("--base-model", required=True)
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--dev", default="conll04/processed/conll04_dev.relik.jsonl")
    ap.add_argument("--test", default="conll04/processed/conll04_test.relik.jsonl")
    ap.add_argument("--train", default="conll04/processed/conll04_train.relik.jsonl", help="calibration windows")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None, help="run only the variants whose name matches this regular expression (fp32 always)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    bundle = Path(args.bundle)
    model, builder, manifest = load_reader(bundle, Path(args.checkpoint), Path(args.base_model))
    rd = manifest["reader"]
    if manifest["task"] != "re":
        raise SystemExit(f"quant_variants: only re bundles are supported, got task {manifest['task']!r}")
    splits = {name: relation_windows(bundle, manifest, Path(args.data_root) / rel)
              for name, rel in (("dev", args.dev), ("test", args.test))}
    @functools.cache
    def calibration() -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Calibration batches from the training windows, built only when a smoothed variant runs."""
        return calibration_batches(builder, relation_windows(bundle, manifest, Path(args.data_root) / args.train))
    threshold = rd["relationThreshold"]
    sweep = ReaderTrainConfig().threshold_sweep

    def score(runner) -> dict:
        out = {}
        for name, windows in splits.items():
            m = evaluate_reader(runner, builder, windows, torch.device("cpu"), sweep, rd["endsPerStart"],
                                int(rd.get("relationsPerPair", 0)))
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
        }
        # which MatMuls are sensitive to per-tensor activation quantization: keep one kind in fp32 at a time
        for label, pattern in (("heads", "heads"), ("FFN output", r"layer\.\d+/output/dense"),
                               ("FFN input", "intermediate/dense"), ("attention output", "attention/output/dense"),
                               ("Q/K/V", "self/(query|key|value)"), ("last layer", r"layer\.5/")):
            variants[f"int8 MatMul+Gather per-tensor, {label} fp32"] = dict(
                op_types_to_quantize=["MatMul", "Gather"], per_channel=False,
                nodes_to_exclude=matmuls(fp32, pattern))
        blockwise = {
            "8-bit block-wise MatMul, block 32, int8 compute": (8, 32, 4, None),
            "8-bit block-wise MatMul, block 128, int8 compute": (8, 128, 4, None),
            "8-bit block-wise MatMul, block 128, fp32 compute": (8, 128, 0, None),
            "8-bit block-wise MatMul, block 128, int8 compute; Gather int8 per-tensor": (8, 128, 4, "int8"),
            "8-bit block-wise MatMul, block 128, int8 compute; Gather 4-bit block 32": (8, 128, 4, "int4"),
            "4-bit block-wise MatMul+Gather, block 32, int8 compute": (4, 32, 4, "int4"),
        }
        variants.update({k: None for k in blockwise})
        # name -> (alpha, FFN output 8-bit block-wise): smoothing for the MatMuls fed by LayerNorm outputs /
        # attention context; the FFN output's input (the GeLU output) is the one smoothing cannot flatten
        smoothed = {f"int8 MatMul+Gather per-tensor, smoothed alpha {a}": (a, False) for a in (0.25, 0.4, 0.5, 0.75)}
        smoothed["int8 per-tensor smoothed alpha 0.5, FFN output 8-bit block-wise"] = (0.5, True)
        variants.update({k: None for k in smoothed})
        if args.only:
            variants = {k: v for k, v in variants.items() if k == "fp32" or re.search(args.only, k)}
        for name, kwargs in variants.items():
            path = fp32 if kwargs is None and name not in blockwise else Path(tmp) / f"v{len(table['variants'])}.onnx"
            if name in blockwise:
                quantize_blockwise(fp32, path, *blockwise[name])
            elif name in smoothed:
                alpha, ffn_block = smoothed[name]
                smooth = copy.deepcopy(model)
                calibrate_and_smooth(smooth, calibration(), alpha)
                graph = Path(tmp) / "smooth.onnx"
                export_onnx(smooth, graph, ["start_logit", "features"])
                if ffn_block:
                    ffn_out = matmuls(graph, r"layer\.\d+/output/dense")
                    quantize_blockwise(graph, Path(tmp) / "ffn.onnx", gather=None, include=ffn_out)
                    graph = Path(tmp) / "ffn.onnx"
                quantize_dynamic(str(graph), str(path), weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul", "Gather"], per_channel=False)
            elif kwargs is not None:
                quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, **kwargs)
            result = score(OnnxReader(path, model))
            result["bytes"] = path.stat().st_size
            table["variants"][name] = result
            print(json.dumps({name: result}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
