"""Write a complete bundle directory (docs/BUNDLE.md v1) from trained models, tokenizers and passages."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
from tokenizers import Tokenizer

from .export import embed_onnx, export_component, producer, write_index
from .reader import ReaderModel
from .reader_input import ReaderInputBuilder
from .retriever import RetrieverModel
from .tokenization import SpecialIds, passage_ids, query_ids, save_tokenizer


@dataclass
class BundleSpec:
    name: str
    task: str
    window_size: int
    window_stride: int
    max_length: int
    max_candidate_tokens: int
    entity_markers: int
    relation_markers: int
    entity_top_k: int = 100
    relation_top_k: int = 24
    max_query_tokens: int = 256
    max_passage_tokens: int = 64
    ends_per_start: str = "one"
    relation_threshold: float = 0.5
    relations_per_pair: int = 0  # written only when > 0 (the runtime's default is 0: all)
    index_dtype: str = "float16"
    # a scheme of export.QUANT_SCHEMES, or None for fp32 graphs
    quantize: str | None = "int8-block"
    training: dict = field(default_factory=dict)
    # "words" (fixed word windows) or "sentences" (a model trained on single sentences, e.g. CoNLL04)
    window_strategy: str = "words"
    # the retriever is the reader's encoder: one graph with the reader outputs and "embedding" (entities.retriever
    # names the reader folder)
    shared_encoder: bool = False
    # name lookup in the runtime (src/index/aliases.ts): candidates per window found by name, weight of the name prior
    alias_top_k: int = 0
    alias_prior_weight: float = 0.0
    # links less probable than this are NME in the runtime (entities.linkThreshold); written only when > 0
    link_threshold: float = 0.0
    # the entity candidates are a closed set read whole by every window (entity types, CoNLL04 "strict"): an index
    # without embeddings and no retriever, like the relations
    closed_entity_set: bool = False


class SharedEncoderGraph(nn.Module):
    """Reader and retriever on one encoder pass: (start_logit, features, embedding)."""

    def __init__(self, reader: ReaderModel, retriever: RetrieverModel) -> None:
        super().__init__()
        if retriever.encoder is not reader.encoder:
            raise ValueError("SharedEncoderGraph: the retriever must use the reader's encoder")
        self.reader = reader
        self.retriever = retriever

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        x = self.reader.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        start, feats = self.reader.heads(x)
        return start, feats, self.retriever.pool(x, attention_mask)


def format_version(reader) -> int:
    """The oldest bundle version that carries all of the reader's relation terms: an older runtime would silently
    leave out a term it does not know. 1: trilinear; 2: + relation MLP; 3: + pair context (heads.json)."""
    if getattr(reader, "relation_context_weight", None) is not None:
        return 3
    return 1 if getattr(reader, "relation_mlp", None) is None else 2


def write_bundle(out: Path, spec: BundleSpec, reader: ReaderModel, reader_tok: Tokenizer,
                 retriever: RetrieverModel | None, retriever_tok: Tokenizer | None,
                 entities: Sequence[dict] | None, relations: Sequence[dict] | None,
                 check_words: Sequence[Sequence[str]]) -> dict:
    """Export everything into `out` (replaced). Returns the export report (also stored in relik.json training)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    report: dict = {}
    builder = ReaderInputBuilder(reader_tok, spec.task, spec.max_length, spec.max_candidate_tokens,
                                 spec.entity_markers, spec.relation_markers)
    from .reader_input import Candidate
    ents = [Candidate(e["id"], e["title"]) for e in (entities or [])][: spec.entity_top_k]
    rels = [Candidate(r["id"], r["title"]) for r in (relations or [])][: spec.relation_top_k]
    check = [p.input_ids for w in check_words for p in builder.build(w, ents, rels).patches][:8]
    (out / "reader").mkdir()
    save_tokenizer(reader_tok, out / "reader" / "tokenizer.json")
    if spec.shared_encoder:
        if retriever is None:
            raise ValueError("write_bundle: shared_encoder needs the retriever that shares the reader's encoder")
        report["reader"] = export_component(SharedEncoderGraph(reader.cpu(), retriever.cpu()), out / "reader",
                                            ["start_logit", "features", "embedding"], check, builder.sp.pad,
                                            spec.quantize)
    else:
        report["reader"] = export_component(reader.cpu(), out / "reader", ["start_logit", "features"], check,
                                            builder.sp.pad, spec.quantize)
    (out / "reader" / "heads.json").write_text(json.dumps(reader.heads_json(), indent=1) + "\n", encoding="utf-8")
    manifest: dict = {
        "format": "relik-bundle", "formatVersion": format_version(reader), "name": spec.name,
        "task": spec.task,
        "windows": {"size": spec.window_size, "stride": spec.window_stride, "strategy": spec.window_strategy},
    }
    if spec.task in ("el", "cie") and spec.closed_entity_set:
        if entities is None or retriever is not None:
            raise ValueError("write_bundle: a closed entity set needs the entities and no retriever")
        write_index(out / "index" / "entities", entities, None, spec.index_dtype, spec.max_passage_tokens)
        manifest["entities"] = {"index": "index/entities", "retriever": None, "topK": len(entities)}
    elif spec.task in ("el", "cie"):
        if retriever is None or retriever_tok is None or entities is None:
            raise ValueError(f"write_bundle: task {spec.task} needs a retriever, its tokenizer and entities")
        rsp = SpecialIds(retriever_tok)
        if not spec.shared_encoder:
            (out / "retriever").mkdir()
            save_tokenizer(retriever_tok, out / "retriever" / "tokenizer.json")
            qcheck = [query_ids(retriever_tok, w, spec.max_query_tokens) for w in check_words][:8]
            report["retriever"] = export_component(retriever.cpu(), out / "retriever", ["embedding"], qcheck,
                                                   rsp.pad, spec.quantize)
        seqs = [passage_ids(retriever_tok, e["text"], spec.max_passage_tokens) for e in entities]
        # the graph the runtime embeds queries with (quantized or not) embeds the passages too
        graph = out / ("reader" if spec.shared_encoder else "retriever") / "model.onnx"
        emb = embed_onnx(graph, seqs, rsp.pad, 64)
        write_index(out / "index" / "entities", entities, emb, spec.index_dtype, spec.max_passage_tokens)
        manifest["entities"] = {"index": "index/entities", "retriever": "reader" if spec.shared_encoder else "retriever",
                                "topK": spec.entity_top_k,
                                "aliasTopK": spec.alias_top_k, "aliasPriorWeight": spec.alias_prior_weight,
                                "useDocTopic": False}
    if spec.link_threshold > 0 and "entities" in manifest:
        manifest["entities"]["linkThreshold"] = spec.link_threshold
    if spec.task in ("re", "cie"):
        if relations is None:
            raise ValueError(f"write_bundle: task {spec.task} needs relations")
        write_index(out / "index" / "relations", relations, None, spec.index_dtype, spec.max_passage_tokens)
        manifest["relations"] = {"index": "index/relations", "retriever": None, "topK": spec.relation_top_k}
    manifest["retriever"] = {"maxQueryTokens": spec.max_query_tokens}
    manifest["reader"] = {"dir": "reader", "maxLength": spec.max_length, "maxCandidateTokens": spec.max_candidate_tokens,
                          "entityMarkers": spec.entity_markers if spec.task != "re" else 0,
                          "relationMarkers": spec.relation_markers if spec.task != "el" else 0,
                          "endsPerStart": spec.ends_per_start, "relationThreshold": spec.relation_threshold}
    if spec.relations_per_pair > 0:
        manifest["reader"]["relationsPerPair"] = spec.relations_per_pair
    manifest["producer"] = producer()
    manifest["training"] = {**spec.training, "export": report}
    q = spec.quantize or "fp32"
    manifest["quantization"] = {"reader": q, **({"retriever": q} if spec.task != "re" and not spec.shared_encoder else {})}
    (out / "relik.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
