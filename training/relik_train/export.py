"""ONNX export, int8 quantization (QUANT_SCHEMES), ORT-vs-torch verification, index and bundle files (docs/BUNDLE.md v1)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

OPSET = 17


def export_onnx(model: nn.Module, path: Path, output_names: Sequence[str], example_len: int = 16) -> None:
    """Export forward(input_ids, attention_mask) with dynamic batch and length axes (opset 17)."""
    model = model.eval().cpu()
    ids = torch.ones((2, example_len), dtype=torch.long)
    mask = torch.ones((2, example_len), dtype=torch.long)
    mask[1, example_len // 2:] = 0
    axes: dict[str, dict[int, str]] = {"input_ids": {0: "batch", 1: "length"},
                                       "attention_mask": {0: "batch", 1: "length"}}
    for name in output_names:
        axes[name] = {0: "batch"} if name == "embedding" else {0: "batch", 1: "length"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=list(output_names), dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(str(path))


# Quantization schemes of exported graphs (relik.json "quantization"):
#   int8-block   : MatMul weights 8-bit block-wise (MatMulNBits, blocks of 128 along K; accuracy level 0: fp32
#                  compute on the int8 weights, see quantize_blockwise), embedding Gather int8 per-tensor. Keeps fp32
#                  accuracy at a quarter of the size (docs/RESULTS.md).
#   int8-dynamic : MatMul weights int8 per-tensor, activations quantized per tensor at run time (quantize_dynamic);
#                  the first scheme shipped, 2.4-2.7 F1 below fp32 on CoNLL04 test.
#   int8-block-emb4 : int8-block with the embedding table 4-bit block-wise (GatherBlockQuantized, blocks of 128):
#                  the word-piece table is half of a MiniLM's weights; this keeps an EL + RE bundle within 30 MB.
QUANT_SCHEMES = ("int8-block", "int8-dynamic", "int8-block-emb4")


def quantize_blockwise(src: Path, dst: Path, bits: int = 8, block_size: int = 128, accuracy_level: int = 0,
                       gather: str | None = "int8", include: Sequence[str] | None = None,
                       gather_block_size: int = 128) -> None:
    """Weight-only block-wise quantization of the MatMuls (MatMulNBits), then of the embedding Gathers.

    accuracy_level 0 computes in fp32 on the dequantized weights; 4 asks for int8 compute with the activations
    quantized at run time, which in onnxruntime 1.30/1.32 on x86 makes a window's outputs depend on the other windows
    of its batch (start logits up to 0.6 apart, docs/RESULTS.md "Batch invariance"), at no speed gain. gather: None keeps the embeddings fp32, "int4" stores them 4-bit block-wise (GatherBlockQuantized
    takes 4 bits only), "int8" per-tensor int8 (quantize_dynamic). include: only these MatMul nodes (default all).
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)

    def nbits(model: onnx.ModelProto, b: int, op: str, block: int) -> onnx.ModelProto:
        # nodes_to_include is ignored by the quantizer when op types are given: exclude the others instead
        exclude = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name not in include] \
            if include is not None and op == "MatMul" else None
        quant = MatMulNBitsQuantizer(model, bits=b, block_size=block, is_symmetric=True,
                                     accuracy_level=accuracy_level, op_types_to_quantize=(op,),
                                     quant_axes=(("MatMul", 0), ("Gather", 1)), nodes_to_exclude=exclude)
        quant.process()
        return quant.model.model

    model = nbits(onnx.load(str(src)), bits, "MatMul", block_size)
    if gather == "int4":
        model = nbits(model, 4, "Gather", gather_block_size)
    onnx.save(model, str(dst))
    if gather == "int8":
        quantize_dynamic(str(dst), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["Gather"])


ACCURACY_LEVELS = (0, 1, 2, 3, 4)  # MatMulNBits: unset (= fp32 compute), fp32, fp16, bf16, int8


def set_accuracy_level(path: Path, level: int) -> int:
    """Set accuracy_level on every MatMulNBits node of the graph at `path` (rewritten in place); returns how many."""
    import onnx

    if level not in ACCURACY_LEVELS:
        raise ValueError(f"set_accuracy_level: 'level' must be one of {ACCURACY_LEVELS}, got {level!r}")
    model = onnx.load(str(path))
    changed = 0
    for node in model.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        attrs = [a for a in node.attribute if a.name == "accuracy_level"]
        if attrs:
            attrs[0].i = level
        else:
            node.attribute.append(onnx.helper.make_attribute("accuracy_level", level))
        changed += 1
    onnx.save(model, str(path))
    return changed


def quantize(src: Path, dst: Path, scheme: str = "int8-block", quantize_embeddings: bool = True) -> None:
    """Quantize an fp32 graph with one of QUANT_SCHEMES (embeddings kept fp32 when not quantize_embeddings)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if scheme not in QUANT_SCHEMES:
        raise ValueError(f"quantize: 'scheme' must be one of {', '.join(QUANT_SCHEMES)}, got {scheme!r}")
    if scheme in ("int8-block", "int8-block-emb4"):
        quantize_blockwise(src, dst, gather=(None if not quantize_embeddings else
                                             "int4" if scheme == "int8-block-emb4" else "int8"))
        return
    ops = ["MatMul", "Gather"] if quantize_embeddings else ["MatMul"]
    quantize_dynamic(str(src), str(dst), op_types_to_quantize=ops, per_channel=False,
                     weight_type=QuantType.QInt8)


def ort_session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_ort(path: Path, ids: torch.Tensor, mask: torch.Tensor) -> list[np.ndarray]:
    sess = ort_session(path)
    return sess.run(None, {"input_ids": ids.cpu().numpy().astype(np.int64),
                           "attention_mask": mask.cpu().numpy().astype(np.int64)})


def compare(model: nn.Module, path: Path, ids: torch.Tensor, mask: torch.Tensor,
            pooled: set[int] | None = None) -> list[float]:
    """Max |ORT - torch| per output, over unmasked positions (outputs numbered in `pooled`, [B, D], everywhere)."""
    model = model.eval().cpu()
    with torch.no_grad():
        ref = model(ids.cpu(), mask.cpu())
    ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    got = run_ort(path, ids, mask)
    out = []
    m = mask.cpu().numpy().astype(bool)
    for k, (r, g) in enumerate(zip(ref, got)):
        r = r.numpy()
        if r.ndim >= 2 and r.shape[:2] == m.shape and (pooled is None or k not in pooled):
            out.append(float(np.abs(r[m] - g[m]).max()) if m.any() else 0.0)
        else:
            out.append(float(np.abs(r - g).max()))
    return out


def embed_onnx(path: Path, seqs: Sequence[Sequence[int]], pad_id: int, batch_size: int = 64) -> np.ndarray:
    """The "embedding" output of an exported graph for many id sequences (length-sorted batches), in input order:
    the index is built with the graph that embeds the queries at run time, quantization included."""
    from .retriever import pad_batch

    sess = ort_session(path)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: np.ndarray | None = None
    for b in range(0, len(order), batch_size):
        idx = order[b: b + batch_size]
        ids, mask = pad_batch([seqs[i] for i in idx], pad_id)
        (emb,) = sess.run(["embedding"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
        if out is None:
            out = np.empty((len(seqs), emb.shape[1]), dtype=np.float32)
        out[idx] = emb
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def verify(model: nn.Module, path: Path, ids: torch.Tensor, mask: torch.Tensor, atol: float,
           pooled: set[int] | None = None) -> list[float]:
    """Raise when ORT differs from torch by more than atol on any output."""
    diffs = compare(model, path, ids, mask, pooled)
    if max(diffs) > atol:
        raise RuntimeError(f"verify: ONNX '{path}' differs from torch by {max(diffs):.3g} > atol {atol}")
    return diffs


def passage_row(p: dict) -> dict:
    """One passages.jsonl line (docs/BUNDLE.md): id, title, text unless it is the title (1.2 MB less on the 38k
    title-only entries of the AIDA KB), aliases and popularity where present."""
    row = {"id": p["id"], "title": p["title"]}
    if p["text"] != p["title"]:
        row["text"] = p["text"]
    if p.get("aliases"):
        row["aliases"] = p["aliases"]
    if p.get("popularity") is not None:
        row["popularity"] = p["popularity"]
    return row


def read_index_passages(path: Path) -> list[dict]:
    """An index's passages.jsonl as write_index wrote it, `text` filled in (the title) where it was left out."""
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [{**r, "text": r.get("text", r["title"])} for r in rows]


def write_index(directory: Path, passages: Sequence[dict], embeddings: np.ndarray | None, dtype: str,
                max_passage_tokens: int) -> dict:
    """index.json + embeddings.bin (+ scales.bin for int8) + passages.jsonl; ids must be unique."""
    if dtype not in ("float16", "float32", "int8"):
        raise ValueError(f"write_index: 'dtype' must be one of float16, float32, int8, got {dtype!r}")
    ids = [p["id"] for p in passages]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"write_index: passage ids must be unique, duplicates: {dup}")
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "passages.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(passage_row(p), ensure_ascii=False) + "\n")
    meta: dict = {"count": len(passages), "dim": 0, "dtype": dtype, "passages": "passages.jsonl",
                  "maxPassageTokens": max_passage_tokens}
    if embeddings is not None:
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.shape[0] != len(passages):
            raise ValueError(f"write_index: {emb.shape[0]} embeddings for {len(passages)} passages")
        meta["dim"] = int(emb.shape[1])
        meta["embeddings"] = "embeddings.bin"
        if dtype == "int8":
            scales = np.abs(emb).max(axis=1) / 127.0
            scales[scales == 0] = 1.0
            q = np.clip(np.round(emb / scales[:, None]), -127, 127).astype(np.int8)
            q.tofile(directory / "embeddings.bin")
            scales.astype("<f4").tofile(directory / "scales.bin")
            meta["scales"] = "scales.bin"
        else:
            emb.astype("<f2" if dtype == "float16" else "<f4").tofile(directory / "embeddings.bin")
    (directory / "index.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def producer() -> dict:
    import transformers

    from . import __version__
    return {"name": "relik-train", "version": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__}


def sample_inputs(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    from .retriever import pad_batch
    return pad_batch(seqs, pad_id)


def export_component(model: nn.Module, out_dir: Path, output_names: Sequence[str], check_seqs: Sequence[Sequence[int]],
                     pad_id: int, scheme: str | None, atol: float = 1e-4) -> dict:
    """Export model.onnx (fp32 verified against torch); with a quantization `scheme` (QUANT_SCHEMES), replace it by
    the quantized graph (after checking it loads and recording its max output difference). Returns a report."""
    fp32 = out_dir / "model.onnx"
    export_onnx(model, fp32, output_names)
    ids, mask = sample_inputs(check_seqs, pad_id)
    pooled = {k for k, name in enumerate(output_names) if name == "embedding"}
    report: dict = {"fp32MaxAbsDiff": verify(model, fp32, ids, mask, atol, pooled), "fp32Bytes": fp32.stat().st_size}
    if scheme is not None:
        tmp = out_dir / "model.int8.onnx"
        report["quantization"] = scheme
        quantize(fp32, tmp, scheme, quantize_embeddings=True)
        try:
            diffs = compare(model, tmp, ids, mask, pooled)
            report["int8QuantizedEmbeddings"] = True
        except Exception as err:  # Gather quantization unsupported for this graph: MatMul only
            report["int8GatherError"] = f"{type(err).__name__}: {err}"[:300]
            quantize(fp32, tmp, scheme, quantize_embeddings=False)
            diffs = compare(model, tmp, ids, mask, pooled)
            report["int8QuantizedEmbeddings"] = False
        report["int8MaxAbsDiff"] = diffs
        report["int8Bytes"] = tmp.stat().st_size
        tmp.replace(fp32)
        for extra in out_dir.glob("*.onnx.data"):
            extra.unlink()
    return report
