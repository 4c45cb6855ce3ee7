"""`python -m relik_train.accuracy_level --bundle B [--level 0]`: set the compute precision of a built bundle's
block-quantized MatMuls (MatMulNBits `accuracy_level`) in place, and re-embed its entity index with the new graph.

Bundles built before 2026-11-27 use level 4 (int8 compute, activations quantized at run time): in onnxruntime
1.30/1.32 on x86 a window's outputs then depend on the other windows of its batch, so a text annotated alone and the
same text annotated beside others could get different mentions and triplets. Level 0 computes in fp32 on the same
int8 weights: the outputs no longer depend on the batch; weights and file size do not change.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .export import ACCURACY_LEVELS, embed_onnx, read_index_passages, set_accuracy_level, write_index
from .tokenization import SpecialIds, load_tokenizer, passage_ids


def reembed_entities(bundle: Path, manifest: dict) -> int:
    """Re-embed the entity index with the graph that embeds the queries (the index must match it). Returns rows."""
    entities = manifest.get("entities") or {}
    if not entities.get("retriever"):
        return 0
    graph_dir = bundle / entities["retriever"]
    index_dir = bundle / entities["index"]
    meta = json.loads((index_dir / "index.json").read_text(encoding="utf-8"))
    passages = read_index_passages(index_dir / meta["passages"])
    tok = load_tokenizer(graph_dir)
    seqs = [passage_ids(tok, p["text"], int(meta["maxPassageTokens"])) for p in passages]
    emb = embed_onnx(graph_dir / "model.onnx", seqs, SpecialIds(tok).pad, 64)
    write_index(index_dir, passages, emb, meta["dtype"], int(meta["maxPassageTokens"]))
    return len(passages)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True, help="the bundle to update in place")
    ap.add_argument("--level", type=int, default=0, choices=ACCURACY_LEVELS,
                    help="0 (fp32 compute, batch-invariant; the default), 1 fp32, 2 fp16, 3 bf16, 4 int8")
    args = ap.parse_args(argv)
    bundle = Path(args.bundle)
    manifest_path = bundle / "relik.json"
    if not manifest_path.is_file():
        raise SystemExit(f"accuracy_level: no relik.json in '{bundle}'")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    graphs = [p for p in (bundle / "reader" / "model.onnx", bundle / "retriever" / "model.onnx") if p.is_file()]
    report = {str(g.relative_to(bundle)): set_accuracy_level(g, args.level) for g in graphs}
    rows = reembed_entities(bundle, manifest)
    print(json.dumps({"bundle": str(bundle), "level": args.level, "matMulNBitsNodes": report,
                      "reembeddedEntities": rows}))


if __name__ == "__main__":
    main()
