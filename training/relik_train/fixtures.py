"""`python -m relik_train.fixtures`: tiny random-weight bundles + golden outputs for the TypeScript tests.

Writes <root>/fixtures/bundles/tiny-{el,re,cie,cie-shared} (fp32 graphs, so PyTorch goldens apply) and
<root>/fixtures/golden/tiny-{el,re,cie,cie-shared}.json. Deterministic (seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

from . import tiny
from .bundle import BundleSpec, write_bundle
from .decode import HeadParams, decode_window
from .reader import ReaderModel
from .reader_input import Candidate, ReaderInputBuilder
from .retriever import RetrieverExample, RetrieverModel, RetrieverTrainConfig, pad_batch, train_retriever
from .tokenization import SpecialIds, add_markers, passage_ids, query_ids, train_wordpiece
from .train_reader import JointRetrieval, ReaderTrainConfig, evaluate_reader, train_reader

SEED = 1234
TINY = {"hidden": 32, "layers": 2, "heads": 2, "intermediate": 64, "positions": 128, "vocab": 320, "headDim": 16}
SPECS = {
    "el": dict(entity_markers=21, relation_markers=0, entity_top_k=20, relation_top_k=0, max_length=64),
    # the RE fixture's relation head has the MLP (reader.relationMlp), the cIE one the pair context
    # (reader.relationContext), the shared-encoder one the trilinear term alone
    "re": dict(entity_markers=0, relation_markers=6, entity_top_k=0, relation_top_k=5, max_length=64, relation_mlp=8),
    "cie": dict(entity_markers=11, relation_markers=6, entity_top_k=10, relation_top_k=5, max_length=96,
                relation_context=True),
    # cIE whose retriever is the reader's encoder (retriever.shared): one graph, a 16-dimension int8 index
    "cie-shared": dict(entity_markers=11, relation_markers=6, entity_top_k=10, relation_top_k=5, max_length=96,
                       task="cie", shared_dim=16),
}
CASES: dict[str, list[tuple[str, list[str]]]] = {
    "el": [("plain", "Marie Curie works for Acme Corporation in Paris .".split(" ")),
           ("emoji", "Ada Lovelace 😀 moved to Berlin 🦄 with Globex friends !".split(" ")),
           ("cjk", "紫式部 lived in 東京 and worked for 东方公司 .".split(" ")),
           ("patches", ("According to Initech , its office in Vienna will hire Alan Turing and Grace Hopper next "
                        "year , while Stark Industries moves to Oslo .").split(" "))],
    "re": [("plain", "Alan Turing works for Globex .".split(" ")),
           ("emoji", "Grace Hopper 😀 , who lives in Boston , joined Hooli last year 🎉 .".split(" ")),
           ("cjk", "紫式部 在 東京 工作 。 東京 is located in Japan .".split(" ")),
           ("patches", "Wide World Importers , based in Helsinki , will hire Srinivasa Ramanujan .".split(" "))],
    "cie": [("plain", "Nikola Tesla works for Cyberdyne Systems .".split(" ")),
            ("emoji", "Hedy Lamarr 😀 , who lives in Vienna , joined Initech last year .".split(" ")),
            ("cjk", "东方公司 is based in 上海 . 紫式部 在 大阪 工作 。".split(" ")),
            ("patches", "Yesterday Donald Knuth visited Seattle with Barbara Liskov and Claude Shannon .".split(" "))],
}


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tiny_encoder(vocab_size: int, seed: int) -> BertModel:
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=TINY["hidden"], num_hidden_layers=TINY["layers"],
                     num_attention_heads=TINY["heads"], intermediate_size=TINY["intermediate"],
                     max_position_embeddings=TINY["positions"], type_vocab_size=2)
    cfg._attn_implementation = "eager"
    return BertModel(cfg, add_pooling_layer=False)


def r7(x: float) -> float:
    return float(f"{float(x):.7g}")


def nested(a: np.ndarray) -> list:
    if a.ndim == 0:
        return r7(a)
    return [nested(v) for v in a] if a.ndim > 1 else [r7(v) for v in a]


def train_tiny_retriever(tok: Tokenizer, entities: list[dict], seed: int) -> RetrieverModel:
    model = RetrieverModel(tiny_encoder(tok.get_vocab_size(), seed), layer_norm=True)
    rows = {e["id"]: i for i, e in enumerate(entities)}
    exs = [RetrieverExample(query_ids(tok, ex.words, 64), sorted({rows[s[2]] for s in ex.spans}))
           for ex in tiny.synthetic(200, seed + 1)]
    passages = [passage_ids(tok, e["text"], 64) for e in entities]
    train_retriever(model, exs, passages, SpecialIds(tok).pad,
                    RetrieverTrainConfig(epochs=3, batch_size=16, lr=3e-3, norm_lr=3e-3, hard_negatives=4),
                    torch.device("cpu"), seed, lambda _: None)
    return model.eval()


def build_one(name: str, root: Path, base_tok: Tokenizer, retr: tuple[RetrieverModel, list[dict]] | None,
              steps: int) -> dict:
    s = SPECS[name]
    task = str(s.get("task", name))
    set_seed(SEED)
    reader_tok = add_markers(base_tok, s["entity_markers"], s["relation_markers"])
    model = ReaderModel(tiny_encoder(reader_tok.get_vocab_size(), SEED + 7), task, TINY["headDim"],
                        int(s.get("relation_mlp", 0)), bool(s.get("relation_context", False)))
    shared = RetrieverModel(model.encoder, layer_norm=True, dim=int(s["shared_dim"])) if "shared_dim" in s else None
    max_length = s["max_length"]
    builder = ReaderInputBuilder(reader_tok, task, max_length, 8, max(s["entity_markers"], 2),
                                 max(s["relation_markers"], 1))
    train = tiny.synthetic(400, SEED + 2, n_candidates=12)
    if task == "re":
        for ex in train:
            ex.entity_candidates = []
    cfg = ReaderTrainConfig(steps=steps, lr=3e-3, head_lr=3e-3, tokens_per_batch=1024, max_batch_size=16,
                            eval_every=10 ** 9, checkpoint_every=10 ** 9)
    log: list[dict] = []
    joint = None
    if shared is not None:
        rows = {e["id"]: i for i, e in enumerate(tiny.kb())}
        exs = [RetrieverExample(query_ids(reader_tok, ex.words, 64), sorted({rows[sp[2]] for sp in ex.spans}))
               for ex in train]
        passages = [passage_ids(reader_tok, e["text"], 64) for e in tiny.kb()]
        # the synthetic windows carry their candidates: refresh only supplies (no) hard negatives
        joint = JointRetrieval(shared, exs, passages, SpecialIds(reader_tok).pad, lambda: [[] for _ in exs],
                               every=2, batch_size=16)
    train_reader(model, builder, train, cfg, torch.device("cpu"), SEED, log.append, joint=joint)
    model.eval()
    threshold = 0.5
    dev_metrics: dict = {}
    if task != "el":
        dev = tiny.synthetic(100, SEED + 3, n_candidates=12)
        dev_metrics = evaluate_reader(model, builder, dev, torch.device("cpu"), cfg.threshold_sweep)
        threshold = float(dev_metrics["relationThreshold"])
    entities = tiny.kb()
    rels = tiny.relations()
    spec = BundleSpec(name=f"relik-tiny-{name}", task=task, window_size=32, window_stride=16, max_length=max_length,
                      max_candidate_tokens=8, entity_markers=s["entity_markers"], relation_markers=s["relation_markers"],
                      entity_top_k=s["entity_top_k"], relation_top_k=s["relation_top_k"], max_query_tokens=64,
                      max_passage_tokens=64, ends_per_start="one", relation_threshold=threshold,
                      index_dtype="int8" if shared is not None else "float16", quantize=None,
                      shared_encoder=shared is not None,
                      training={"seed": SEED, "steps": steps, "encoder": TINY, "data": "relik_train.tiny synthetic",
                                "finalLoss": log[-2].get("loss") if len(log) > 1 else None,
                                "devMetrics": dev_metrics})
    out = root / "fixtures" / "bundles" / f"tiny-{name}"
    if shared is not None:
        retriever, retr_tok = shared.eval(), reader_tok
    else:
        retriever, retr_tok = (retr[0], base_tok) if retr and task != "re" else (None, None)
    kb_rows = [{"id": e["id"], "title": e["title"], "text": e["text"]} for e in entities]
    write_bundle(out, spec, model, reader_tok, retriever, retr_tok, kb_rows if task != "re" else None,
                 rels if task != "el" else None, [w for _, w in CASES[task]])
    golden = make_golden(task, out, model, builder, retriever, retr_tok or base_tok, spec, name)
    gpath = root / "fixtures" / "golden" / f"tiny-{name}.json"
    gpath.parent.mkdir(parents=True, exist_ok=True)
    gpath.write_text(json.dumps(golden, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return golden


def load_index(out: Path) -> tuple[np.ndarray, list[dict]]:
    meta = json.loads((out / "index" / "entities" / "index.json").read_text())
    d = out / "index" / "entities"
    if meta["dtype"] == "int8":  # the runtime scores against the dequantized rows
        q = np.fromfile(d / "embeddings.bin", dtype=np.int8).reshape(meta["count"], meta["dim"]).astype(np.float64)
        emb = q * np.fromfile(d / "scales.bin", dtype="<f4").astype(np.float64)[:, None]
    else:
        emb = np.fromfile(d / "embeddings.bin", dtype="<f2").reshape(meta["count"], meta["dim"])
    passages = [json.loads(l) for l in (out / "index" / "entities" / "passages.jsonl").read_text().splitlines()]
    return emb.astype(np.float64), passages


@torch.no_grad()
def make_golden(task: str, out: Path, model: ReaderModel, builder: ReaderInputBuilder,
                retriever: RetrieverModel | None, tok: Tokenizer, spec: BundleSpec, name: str) -> dict:
    heads = json.loads((out / "reader" / "heads.json").read_text())
    hp = HeadParams.from_heads_json(heads, spec.ends_per_start, spec.relation_threshold)
    rels = [Candidate(r["id"], r["title"]) for r in tiny.relations()][: spec.relation_top_k]
    golden: dict = {"bundle": f"tiny-{name}", "task": task,
                    "notes": "inputIds/startLogit/features per patch (unpadded); spans [startWord, endWordExclusive, "
                             "label] sorted by (start, end); triplets [subjectSpanIdx, relationTitle, objectSpanIdx]; "
                             "floats rounded to 7 significant digits; entityCandidates are the retriever top-K "
                             "(inner product against the float16 or dequantized int8 index, float64 math)",
                    "cases": []}
    emb_index, passages = load_index(out) if retriever is not None else (None, [])
    queries = []
    for name, words in CASES[task]:
        ents: list[Candidate] = []
        if retriever is not None:
            q = query_ids(tok, words, spec.max_query_tokens)
            ids, mask = pad_batch([q], SpecialIds(tok).pad)
            e = retriever(ids, mask)[0].double().numpy()
            scores = emb_index @ e
            top = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: spec.entity_top_k]
            ents = [Candidate(passages[i]["id"], passages[i]["title"]) for i in top]
            queries.append({"words": words, "inputIds": q, "embedding": [r7(v) for v in e],
                            "top": [[passages[i]["id"], r7(scores[i])] for i in top[:5]]})
        inp = builder.build(words, ents, rels)
        ids, mask = pad_batch([p.input_ids for p in inp.patches], builder.sp.pad)
        start, feats = model(ids, mask)
        outs = [(start[i, : len(p.input_ids)].numpy(), feats[i, : len(p.input_ids)].numpy())
                for i, p in enumerate(inp.patches)]
        spans, trips = decode_window(task, inp.patches, outs, hp)
        golden["cases"].append({
            "name": name, "words": words,
            "entityCandidates": [{"id": c.id, "title": c.title} for c in ents],
            "relationCandidates": [{"id": c.id, "title": c.title} for c in rels] if task != "el" else [],
            "inputIds": [p.input_ids for p in inp.patches],
            "patchEntities": [[c.id for c in p.entities] for p in inp.patches],
            "patchRelations": [[c.id for c in p.relations] for p in inp.patches],
            "droppedEntities": [c.id for c in inp.dropped_entities],
            "droppedRelations": [c.id for c in inp.dropped_relations],
            "startLogit": [nested(o[0]) for o in outs],
            "features": [nested(o[1]) for o in outs],
            "spans": [[s.start, s.end, s.label] for s in spans],
            "spanDetails": [{"start": s.start, "end": s.end, "label": s.label, "id": s.id, "score": r7(s.score)}
                            for s in spans],
            "triplets": [[t.subject, t.relation, t.object] for t in trips],
            "tripletDetails": [{"subject": t.subject, "relation": t.relation, "relationId": t.relation_id,
                                "object": t.object, "score": r7(t.score)} for t in trips],
        })
    if retriever is not None:
        golden["retriever"] = {"maxQueryTokens": spec.max_query_tokens, "queries": queries}
    return golden


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2]),
                    help="project root holding fixtures/ (default: the repository root)")
    ap.add_argument("--tasks", default=",".join(SPECS), help=f"comma list of {', '.join(SPECS)}")
    ap.add_argument("--steps", type=int, default=800, help="reader training steps per tiny bundle")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    root = Path(args.root)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in SPECS]
    if bad:
        raise SystemExit(f"--tasks: unknown task(s) {bad}; allowed: {', '.join(SPECS)}")
    set_seed(SEED)
    base_tok = train_wordpiece(tiny.corpus(SEED), TINY["vocab"])
    retr = None
    if any(SPECS[t].get("task", t) != "re" and "shared_dim" not in SPECS[t] for t in tasks):
        set_seed(SEED)
        entities = [{"id": e["id"], "title": e["title"], "text": e["text"]} for e in tiny.kb()]
        retr = (train_tiny_retriever(base_tok, entities, SEED), entities)
    for task in tasks:
        g = build_one(task, root, base_tok, retr, args.steps)
        out = root / "fixtures" / "bundles" / f"tiny-{task}"
        n_sp = sum(len(c["spans"]) for c in g["cases"])
        n_tr = sum(len(c["triplets"]) for c in g["cases"])
        n_pa = [len(c["inputIds"]) for c in g["cases"]]
        print(f"tiny-{task}: {dir_size(out)} bytes, golden spans={n_sp} triplets={n_tr} patches={n_pa}")


if __name__ == "__main__":
    main()
