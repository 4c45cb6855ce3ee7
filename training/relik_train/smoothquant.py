"""SmoothQuant-style smoothing before dynamic int8 quantization.

Dynamic int8 quantizes each MatMul's activations with ONE scale per tensor at run time. A few hidden channels of
BERT-like encoders carry values far larger than the rest, so that one scale wastes most of the int8 range on
them: this is where the int8-dynamic reader loses its F1. Smoothing divides every input channel j of a Linear by
s_j and multiplies the weight's column j by s_j (the product is unchanged in exact arithmetic), with
s_j = max|x_j|^alpha / max|W_j|^(1 - alpha) from calibration inputs, so activations and weights share the range.

BERT is post-LayerNorm: a LayerNorm output is also the residual stream, so the division cannot be folded into the
LayerNorm as in pre-LN models. It stays an explicit per-channel Mul before each smoothed MatMul (an elementwise
op, cheap next to the MatMul).
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
import torch.nn as nn


class SmoothLinear(nn.Module):
    """y = linear'(x / s) with linear'.weight = linear.weight * s (per input channel): same y as linear(x)."""

    def __init__(self, linear: nn.Linear, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("inv_scale", (1.0 / scale).to(linear.weight.dtype))
        self.linear = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            self.linear.weight.copy_(linear.weight * scale[None, :])
            if linear.bias is not None:
                self.linear.bias.copy_(linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inv_scale)


def input_absmax(model: nn.Module, run_calibration: Callable[[], None],
                 select: Callable[[str], bool] = lambda name: True) -> dict[str, torch.Tensor]:
    """Per-input-channel max |x| of every selected nn.Linear, over the forward passes run_calibration() makes."""
    stats: dict[str, torch.Tensor] = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and select(name):
            def hook(_m: nn.Module, args: tuple, _out: torch.Tensor, name: str = name) -> None:
                x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(dim=0).float().cpu()
                stats[name] = torch.maximum(stats[name], x) if name in stats else x
            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run_calibration()
    finally:
        for h in hooks:
            h.remove()
    return stats


def smooth_linears(model: nn.Module, absmax: dict[str, torch.Tensor], alpha: float = 0.5) -> int:
    """Replace each calibrated nn.Linear by a SmoothLinear in place; returns how many were replaced."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"smooth_linears: 'alpha' must be in [0, 1], got {alpha}")
    modules = dict(model.named_modules())
    done = 0
    for name, act in absmax.items():
        linear = modules[name]
        assert isinstance(linear, nn.Linear)
        w = linear.weight.detach().abs().amax(dim=0).float().cpu()
        scale = (act.clamp(min=1e-5) ** alpha) / (w.clamp(min=1e-5) ** (1.0 - alpha))
        scale = scale.clamp(min=1e-2, max=1e2)
        parent_name, _, attr = name.rpartition(".")
        setattr(modules[parent_name] if parent_name else model, attr, SmoothLinear(linear, scale.to(linear.weight.device)))
        done += 1
    return done


def calibrate_and_smooth(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                         alpha: float = 0.5, select: Callable[[str], bool] = lambda name: True) -> int:
    """Run `batches` of (input_ids, attention_mask) through model, then smooth its Linears (in place)."""
    model.eval()

    def run() -> None:
        for ids, mask in batches:
            model(ids, mask)
    return smooth_linears(model, input_absmax(model, run, select), alpha)
