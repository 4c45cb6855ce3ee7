"""Seconds per training step (forward, backward, AdamW) of a base encoder on the CPU, fp32 against bf16 autocast:
the measurement behind the `autocast` config key (training/README.md).

    .venv/bin/python scripts/train_step_speed.py ../work/encoders/bert-base-cased [--batch 7] [--tokens 140]

The default batch is the size of a WebNLG reader batch (7 windows of about 140 tokens). Each dtype is warmed up
once, then timed over 3 steps, twice, alternating, so drift (another process, thermal) shows as a spread."""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="a Hugging Face model folder")
    ap.add_argument("--batch", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=140)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    model = AutoModel.from_pretrained(args.model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(1000, 20000, (args.batch, args.tokens), generator=torch.Generator().manual_seed(0))

    def step(dtype: torch.dtype | None) -> None:
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = model(input_ids=ids).last_hidden_state.float().pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()

    for dtype in (None, torch.bfloat16, None, torch.bfloat16):
        step(dtype)
        started = time.perf_counter()
        for _ in range(args.steps):
            step(dtype)
        name = "bf16" if dtype else "fp32"
        print(f"{name}: {(time.perf_counter() - started) / args.steps:.2f} s/step "
              f"(batch {args.batch} x {args.tokens} tokens, {torch.get_num_threads()} threads)", flush=True)


if __name__ == "__main__":
    main()
