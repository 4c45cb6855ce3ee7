import pytest
import torch
from safetensors.torch import save_file

from relik_train.carry import BLOCK, base_key_for, dequantize_blocks, pack, quantize_blocks, unpack


@pytest.mark.parametrize("bits,qmax", [(8, 127), (4, 7)])
def test_blocks_round_trip_within_half_a_step_of_each_block(bits, qmax):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(37, 29, generator=g) * torch.logspace(-3, 1, 29)  # columns of very different sizes
    back = dequantize_blocks(quantize_blocks(t, bits))
    assert back.shape == t.shape
    flat, err = t.reshape(-1), (back - t).reshape(-1)
    for start in range(0, flat.numel(), BLOCK):
        block = flat[start:start + BLOCK]
        step = block.abs().max() / qmax
        # bf16 scales (4 bits) may round the largest value's step by up to 2^-8 of itself
        assert err[start:start + BLOCK].abs().max() <= step * (0.5 + (2 ** -8) * qmax) + 1e-12


def test_four_bits_take_half_the_bytes_and_zero_blocks_stay_zero():
    t = torch.zeros(4 * BLOCK)
    t[BLOCK:2 * BLOCK] = torch.linspace(-1, 1, BLOCK)
    e8, e4 = quantize_blocks(t, 8), quantize_blocks(t, 4)
    assert e4["q"].numel() * 2 == e8["q"].numel()
    assert torch.equal(dequantize_blocks(e4)[:BLOCK], torch.zeros(BLOCK))
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        quantize_blocks(t, 2)


def test_checkpoint_keys_find_their_base_tensor_by_suffix():
    base = {"embeddings.word_embeddings.weight": torch.zeros(1)}
    assert base_key_for("encoder.embeddings.word_embeddings.weight", base) == "embeddings.word_embeddings.weight"
    assert base_key_for("start.0.weight", base) is None


def _base_folder(tmp_path, g):
    base = {"embeddings.word_embeddings.weight": torch.randn(100, 64, generator=g),
            "encoder.layer.0.attention.self.query.weight": torch.randn(64, 64, generator=g),
            "embeddings.LayerNorm.weight": torch.ones(64)}
    folder = tmp_path / "base"
    folder.mkdir()
    save_file(base, str(folder / "model.safetensors"))
    return folder, base


def test_model_folder_travels_as_blocks_and_unpacks_to_safetensors(tmp_path):
    from safetensors.torch import load_file
    folder, base = _base_folder(tmp_path, torch.Generator().manual_seed(1))
    report = pack(folder, tmp_path / "base.pack")
    assert report["tensors"] == 3
    unpack(tmp_path / "base.pack", tmp_path / "out")
    back = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert torch.equal(back["embeddings.LayerNorm.weight"], base["embeddings.LayerNorm.weight"])  # small: fp32
    w = base["encoder.layer.0.attention.self.query.weight"]
    assert (back["encoder.layer.0.attention.self.query.weight"] - w).abs().max() <= w.abs().max() / 254 + 1e-7


def test_checkpoint_travels_home_as_differences_from_the_base(tmp_path):
    g = torch.Generator().manual_seed(2)
    folder, base = _base_folder(tmp_path, g)
    grown = torch.cat([base["embeddings.word_embeddings.weight"], torch.randn(5, 64, generator=g)])  # marker rows
    model = {"encoder.embeddings.word_embeddings.weight": grown + 1e-3 * torch.randn(105, 64, generator=g),
             "encoder.encoder.layer.0.attention.self.query.weight":
                 base["encoder.layer.0.attention.self.query.weight"] + 1e-3 * torch.randn(64, 64, generator=g),
             "start.0.weight": torch.randn(8, 64, generator=g),
             "marker_ids": torch.arange(5)}
    torch.save({"model": model, "step": 42, "optimizer": {"big": torch.zeros(10)}}, tmp_path / "reader.pt")
    pack(tmp_path / "reader.pt", tmp_path / "home.pack", base_dir=folder, delta_bits=4)
    with pytest.raises(ValueError, match="pass --base"):
        unpack(tmp_path / "home.pack", tmp_path / "nobase" / "reader.pt")
    unpack(tmp_path / "home.pack", tmp_path / "home" / "reader.pt", base_dir=folder)
    back = torch.load(tmp_path / "home" / "reader.pt", weights_only=False)
    assert back["step"] == 42 and back["final"] is True and "optimizer" not in back
    assert torch.equal(back["model"]["marker_ids"], model["marker_ids"])
    for key in ("encoder.embeddings.word_embeddings.weight", "encoder.encoder.layer.0.attention.self.query.weight"):
        # 4-bit differences: the error is a fraction of the 1e-3 change, not of the weight
        assert (back["model"][key] - model[key]).abs().max() < 1e-3
    head = model["start.0.weight"]  # no base tensor: fp16
    assert (back["model"]["start.0.weight"] - head).abs().max() <= head.abs().max() * 2 ** -10


def test_packs_refuse_what_they_are_not(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a reader training checkpoint"):
        pack(tmp_path / "x.pt", tmp_path / "x.pack")
    with pytest.raises(ValueError, match="not a relik-carry/1 pack"):
        unpack(tmp_path / "x.pt", tmp_path / "y")
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        pack(tmp_path / "x.pt", tmp_path / "x.pack", base_dir=tmp_path)
