"""Accuracy of the exported (int8) reader graph against the PyTorch fp32 model, on the same windows.

The int8 graph runs in onnxruntime behind the ReaderModel call interface, so `evaluate_reader` scores both with
exactly the same input building and decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from .examples import ReaderExample
from .export import ort_session
from .reader import ReaderModel
from .reader_input import ReaderInputBuilder
from .train_reader import evaluate_reader


class OnnxReader:
    """An exported reader graph with the attributes and call signature `evaluate_reader` uses."""

    def __init__(self, path: Path, like: ReaderModel) -> None:
        self.session = ort_session(path)
        self.layout = like.layout
        self.task = like.task
        self.relation_weight, self.relation_bias = like.relation_weight, like.relation_bias
        self.relation_mlp = like.relation_mlp
        self.relation_context_weight = like.relation_context_weight
        self.end_weight, self.end_bias = like.end_weight, like.end_bias

    def eval(self) -> "OnnxReader":
        return self

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, feats = self.session.run(["start_logit", "features"],
                                        {"input_ids": ids.cpu().numpy(), "attention_mask": mask.cpu().numpy()})
        return torch.from_numpy(start), torch.from_numpy(feats)


def _headline(metrics: dict, task: str, threshold: float) -> float:
    """EL F1, or RE F1 at the bundle's relation threshold."""
    if task == "el":
        return metrics["el"]["f1"]
    return metrics["thresholdCurve"].get(str(threshold), metrics["re"]["f1"])


def quantization_check(model: ReaderModel, onnx_path: Path, builder: ReaderInputBuilder,
                       splits: dict[str, Sequence[ReaderExample]], device: torch.device,
                       sweep: Sequence[float], ends_per_start: str, threshold: float,
                       relations_per_pair: int = 0) -> dict:
    """{split: {"fp32": F1, "int8": F1, "delta": int8 - fp32}} plus the full metrics of both."""
    onnx = OnnxReader(onnx_path, model)
    out: dict = {}
    for name, examples in splits.items():
        if not examples:
            continue
        fp32 = evaluate_reader(model.to(device), builder, examples, device, sweep, ends_per_start, relations_per_pair)
        int8 = evaluate_reader(onnx, builder, examples, torch.device("cpu"), sweep, ends_per_start,  # type: ignore[arg-type]
                               relations_per_pair)
        a, b = _headline(fp32, builder.task, threshold), _headline(int8, builder.task, threshold)
        out[name] = {"fp32": round(a, 4), "int8": round(b, 4), "delta": round(b - a, 4),
                     "fp32Metrics": fp32, "int8Metrics": int8}
    return out
