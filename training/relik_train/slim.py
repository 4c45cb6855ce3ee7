"""Trained weights alone, for carrying a run home: a training checkpoint (reader.pt: weights, optimizer, scheduler)
cut to its weights in fp16 and marked final. Put in a --work folder as reader.pt, `build` skips training, evaluates
on dev (the relation threshold) and exports the bundle.

  python -m relik_train.slim WORK/reader.pt OUT.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import torch

from .reader import exported_weights


def half(state: dict[str, torch.Tensor], done: dict[tuple, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors in fp16 (loaded back into fp32 parameters), others unchanged. A tensor seen before (the
    retriever's encoder is the reader's) maps to the same fp16 tensor, so torch.save stores it once."""
    out = {}
    for k, v in state.items():
        key = (v.data_ptr(), v.dtype, tuple(v.shape), v.stride())
        if key not in done:
            done[key] = v.half() if v.is_floating_point() else v
        out[k] = done[key]
    return out


def slim(checkpoint: Path, out: Path) -> dict:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "model" not in state or "step" not in state:
        raise ValueError(f"{checkpoint}: not a reader training checkpoint (expected 'model' and 'step')")
    done: dict[tuple, torch.Tensor] = {}
    # The weights the run exports: its average when it kept one (reader.emaDecay).
    kept = {"model": half(exported_weights(state), done), "step": int(state["step"]), "final": True}
    if "retriever" in state:
        kept["retriever"] = half(state["retriever"], done)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(kept, out)
    return {"step": kept["step"], "bytes": out.stat().st_size, "retriever": "retriever" in kept}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Cut a reader training checkpoint to its fp16 weights, marked final")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    print(slim(args.checkpoint, args.out))


if __name__ == "__main__":
    main()
