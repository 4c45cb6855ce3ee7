import json

import pytest
import torch
from transformers import AutoModel, BertConfig, BertModel

from relik_train.onnx_encoder import convert

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, **{f"w{i}": 4 + i for i in range(124)}}


class ExportedBert(BertModel):
    """Positional inputs, last hidden state out: the graph of the transformers/optimum export that Maven's jars
    carry (named biases and LayerNorms, unnamed MatMul weights)."""

    def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
        return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state


def tiny_bert(heads: int, layers: int = 2) -> ExportedBert:
    cfg = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2)
    cfg._attn_implementation = "eager"
    model = ExportedBert(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # trained-like values: the exporter merges equal initializers (fresh zero biases)
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


def export_bert(model: BertModel, path) -> None:
    ids = torch.tensor([[2, 5, 6, 3]])
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path),
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={n: {0: "b", 1: "s"} for n in ("input_ids", "attention_mask", "token_type_ids")},
                      opset_version=17, dynamo=False, do_constant_folding=True)


@pytest.mark.parametrize("heads", [2, 4])
def test_onnx_bert_becomes_a_loadable_hf_folder_with_the_same_outputs(tmp_path, heads):
    torch.manual_seed(heads)
    source = tiny_bert(heads)
    export_bert(source, tmp_path / "model.onnx")
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps({"model": {"type": "WordPiece", "vocab": VOCAB}}))
    report = convert(tmp_path / "model.onnx", tok, tmp_path / "hf", heads=heads)
    assert report["layers"] == 2 and report["hidden"] == 32 and report["heads"] == heads
    assert report["maxAbsDiff"] < 1e-4
    loaded = AutoModel.from_pretrained(tmp_path / "hf").eval()
    for name, p in source.state_dict().items():
        if name != "embeddings.position_ids":
            assert torch.allclose(loaded.state_dict()[name], p), name
    assert (tmp_path / "hf" / "vocab.txt").read_text().splitlines()[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def test_wrong_head_count_is_caught_by_the_output_check(tmp_path):
    torch.manual_seed(0)
    export_bert(tiny_bert(4, layers=1), tmp_path / "model.onnx")
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps({"model": {"type": "WordPiece", "vocab": VOCAB}}))
    assert convert(tmp_path / "model.onnx", tok, tmp_path / "hf", heads=1)["maxAbsDiff"] > 1e-3


def test_a_graph_without_bert_embeddings_is_refused(tmp_path):
    lin = torch.nn.Linear(4, 4)
    torch.onnx.export(lin, (torch.zeros(1, 4),), str(tmp_path / "lin.onnx"), dynamo=False)
    with pytest.raises(ValueError):
        convert(tmp_path / "lin.onnx", tmp_path / "none.json", tmp_path / "hf")
