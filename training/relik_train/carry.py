"""Weights in int8 blocks, for carrying a model to and from a lent GPU whose working tree is at most 64 MiB.

BERT-base is 433 MB in fp32 and 216 MB in fp16: too large for a device call either way. Packed here, each tensor of
at least MIN_BLOCKED elements is cut into blocks of 64 values stored as int8 with one fp32 scale per block (absmax /
127): 1.06 bytes per weight. Small tensors (LayerNorm, biases) travel as fp32. Differences (below) may use 4 bits
(two values a byte, bf16 scales: 0.53 bytes per weight).

Two directions:
- to the GPU, no base: the base encoder's own weights are rounded to the blocks (a relative error of at most
  1/254 of each block's largest value; `python -m relik_train.carry check` measures what that does to the encoder);
- home, with a base: each trained tensor that has a counterpart in the base travels as its difference from the base
  (fine-tuning moves weights little, so the rounding error is that much smaller); tensors without one (the heads)
  travel as fp16, as `relik_train.slim` keeps them. The base must be bit-identical on both sides: the unpacked copy
  of the pack that went to the GPU, kept at home.

  python -m relik_train.carry pack MODEL_DIR OUT.pack                  # a Hugging Face folder (model.safetensors)
  python -m relik_train.carry unpack OUT.pack MODEL_DIR                # writes MODEL_DIR/model.safetensors (fp32)
  python -m relik_train.carry pack WORK/reader.pt OUT.pack --base BASE_DIR [--delta-bits 4]  # a checkpoint, as deltas
  python -m relik_train.carry unpack OUT.pack WORK/reader.pt --base BASE_DIR    # weights marked final, for `build`
  python -m relik_train.carry check ORIGINAL_DIR ROUNDED_DIR          # hidden-state agreement on sample sentences
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Sequence

import torch

FORMAT = "relik-carry/1"
BLOCK = 64
MIN_BLOCKED = 4096
WEIGHTS_FILE = "model.safetensors"


def quantize_blocks(t: torch.Tensor, bits: int = 8) -> dict:
    """Blocks of BLOCK values, one fp32 scale each (absmax / qmax; an all-zero block gets scale 1). 8 bits: int8
    values in [-127, 127]; 4 bits: values in [-7, 7], two to a byte (offset by 8)."""
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    qmax = 127 if bits == 8 else 7
    flat = t.detach().reshape(-1).to(torch.float32)
    pad = (-flat.numel()) % BLOCK
    blocks = torch.cat([flat, flat.new_zeros(pad)]).reshape(-1, BLOCK)
    scale = blocks.abs().amax(dim=1) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if bits == 4:
        # bf16 scales: at half a byte per value, fp32 scales would be an eighth of the pack.
        scale = scale.to(torch.bfloat16).to(torch.float32)
    q = torch.round(blocks / scale[:, None]).clamp(-qmax, qmax).to(torch.int8)
    if bits == 4:
        u = (q + 8).to(torch.uint8)
        q = u[:, 0::2] | (u[:, 1::2] << 4)
        scale = scale.to(torch.bfloat16)
    return {"kind": "blocks", "bits": bits, "q": q, "scale": scale, "shape": list(t.shape)}


def dequantize_blocks(entry: dict) -> torch.Tensor:
    shape = entry["shape"]
    n = math.prod(shape)
    q = entry["q"]
    if entry.get("bits", 8) == 4:
        lo = (q & 0x0F).to(torch.int16) - 8
        hi = (q >> 4).to(torch.int16) - 8
        q = torch.stack([lo, hi], dim=2).reshape(q.shape[0], BLOCK)
    return (q.to(torch.float32) * entry["scale"].to(torch.float32)[:, None]).reshape(-1)[:n].reshape(shape)


def base_key_for(key: str, base: dict[str, torch.Tensor]) -> str | None:
    """The base tensor a checkpoint key continues: the key itself or its shortest suffix after a module prefix
    (a reader's `encoder.embeddings.word_embeddings.weight` continues the base's `embeddings.word_embeddings.weight`)."""
    parts = key.split(".")
    for i in range(len(parts)):
        candidate = ".".join(parts[i:])
        if candidate in base:
            return candidate
    return None


def pack_tensors(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor] | None,
                 delta_bits: int = 8) -> dict[str, dict]:
    """Without a base, large float tensors become int8 blocks and the rest fp32. With one, a tensor whose base
    counterpart matches its shape (or its leading rows: an embedding grown by marker tokens) travels as int8 blocks
    of the difference, its extra rows and tensors without a counterpart as fp16. Non-float tensors travel as is."""
    out: dict[str, dict] = {}
    for key, t in state.items():
        t = t.detach()
        if not t.is_floating_point():
            out[key] = {"kind": "raw", "tensor": t.clone()}
            continue
        if base is None:
            out[key] = quantize_blocks(t) if t.numel() >= MIN_BLOCKED \
                else {"kind": "raw", "tensor": t.to(torch.float32).clone()}
            continue
        bkey = base_key_for(key, base)
        ref = base[bkey] if bkey is not None else None
        if ref is not None and t.dim() >= 1 and ref.shape[1:] == t.shape[1:] and ref.shape[0] <= t.shape[0]:
            rows = ref.shape[0]
            entry = quantize_blocks(t[:rows].to(torch.float32) - ref.to(torch.float32), delta_bits)
            entry.update(kind="delta", base=bkey)
            if rows < t.shape[0]:
                entry["extra"] = t[rows:].to(torch.float16).clone()
            out[key] = entry
        else:
            out[key] = {"kind": "raw", "tensor": t.to(torch.float16).clone()}
    return out


def unpack_tensors(packed: dict[str, dict], base: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """fp32 tensors (non-float tensors as they travelled)."""
    out: dict[str, torch.Tensor] = {}
    for key, entry in packed.items():
        kind = entry["kind"]
        if kind == "raw":
            t = entry["tensor"]
            out[key] = t.to(torch.float32) if t.is_floating_point() else t
        elif kind == "blocks":
            out[key] = dequantize_blocks(entry)
        elif kind == "delta":
            if base is None or entry["base"] not in base:
                raise ValueError(f"{key}: packed as a difference from base tensor {entry['base']!r}; "
                                 "pass --base with the folder the pack was made against")
            t = base[entry["base"]].to(torch.float32) + dequantize_blocks(entry)
            if "extra" in entry:
                t = torch.cat([t, entry["extra"].to(torch.float32)])
            out[key] = t
        else:
            raise ValueError(f"{key}: unknown packed kind {kind!r} (expected raw, blocks or delta)")
    return out


def load_base(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    path = model_dir / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"--base {model_dir}: no {WEIGHTS_FILE} there")
    return load_file(str(path))


def pack(src: Path, out: Path, base_dir: Path | None = None, delta_bits: int = 8) -> dict:
    base = load_base(base_dir) if base_dir is not None else None
    if src.is_dir():
        if base is not None:
            raise ValueError("--base packs a training checkpoint as differences; a model folder packs alone")
        groups = {"weights": load_base(src)}
        meta: dict = {"source": "model"}
    else:
        state = torch.load(src, map_location="cpu", weights_only=False)
        if "model" not in state or "step" not in state:
            raise ValueError(f"{src}: not a reader training checkpoint (expected 'model' and 'step')")
        groups = {name: state[name] for name in ("model", "retriever") if name in state}
        meta = {"source": "checkpoint", "step": int(state["step"])}
    packed = {name: pack_tensors(tensors, base, delta_bits) for name, tensors in groups.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "meta": meta, "groups": packed}, out)
    return {"bytes": out.stat().st_size, **meta, "tensors": sum(len(g) for g in packed.values())}


def unpack(src: Path, out: Path, base_dir: Path | None = None) -> dict:
    data = torch.load(src, map_location="cpu", weights_only=False)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{src}: not a {FORMAT} pack")
    base = load_base(base_dir) if base_dir is not None else None
    groups = {name: unpack_tensors(g, base) for name, g in data["groups"].items()}
    meta = data["meta"]
    if meta["source"] == "model":
        from safetensors.torch import save_file
        out.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in groups["weights"].items()}, str(out / WEIGHTS_FILE))
        return {"written": str(out / WEIGHTS_FILE), "tensors": len(groups["weights"])}
    # As relik_train.slim leaves a checkpoint: weights alone, marked final (build loads them, trains no step).
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**groups, "step": meta["step"], "final": True}, out)
    return {"written": str(out), "step": meta["step"], "tensors": sum(len(g) for g in groups.values())}


def check(original: Path, rounded: Path, sentences: Sequence[str]) -> dict:
    """How far the rounded encoder's last hidden states are from the original's on a few sentences: the smallest
    cosine similarity over all tokens and the largest absolute difference relative to the states' mean norm."""
    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(original))
    models = [AutoModel.from_pretrained(str(d)).eval() for d in (original, rounded)]
    worst_cos, worst_rel = 1.0, 0.0
    with torch.no_grad():
        for s in sentences:
            enc = tok(s, return_tensors="pt")
            a, b = (m(**enc).last_hidden_state[0] for m in models)
            worst_cos = min(worst_cos, torch.nn.functional.cosine_similarity(a, b, dim=-1).min().item())
            worst_rel = max(worst_rel, ((a - b).abs().max() / a.norm(dim=-1).mean()).item())
    return {"sentences": len(sentences), "minCosine": worst_cos, "maxAbsDiffOverMeanNorm": worst_rel}


SAMPLE_SENTENCES = (
    "John Wilkes Booth, who assassinated President Lincoln, was an actor.",
    "The capital of France is Paris, and its largest port is Marseille.",
    "Germany beat England 4-1 in Bloemfontein on Sunday, the German coach said.",
)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Weights in int8 blocks for carrying a model to and from a lent GPU")
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("pack", "unpack"):
        p = sub.add_parser(name)
        p.add_argument("src", type=Path)
        p.add_argument("out", type=Path)
        p.add_argument("--base", type=Path, default=None, help="model folder the differences are taken against")
        if name == "pack":
            p.add_argument("--delta-bits", type=int, choices=(4, 8), default=8,
                           help="bits per value of the differences from --base (4 halves the pack)")
    c = sub.add_parser("check")
    c.add_argument("original", type=Path)
    c.add_argument("rounded", type=Path)
    args = ap.parse_args(argv)
    if args.command == "pack":
        print(json.dumps(pack(args.src, args.out, args.base, args.delta_bits)))
    elif args.command == "unpack":
        print(json.dumps(unpack(args.src, args.out, args.base)))
    else:
        print(json.dumps(check(args.original, args.rounded, SAMPLE_SENTENCES)))


if __name__ == "__main__":
    main()
