import pytest
import torch

from relik_train import fixtures, tiny
from relik_train.build import set_path
from relik_train.errors import ConfigError
from relik_train.reader import ReaderModel, warm_start
from relik_train.reader_input import ReaderInputBuilder
from relik_train.retriever import RetrieverModel, warm_start_heads
from relik_train.slim import slim
from relik_train.tokenization import add_markers, train_wordpiece
from relik_train.train_reader import ReaderTrainConfig, lr_lambda, train_reader

TOK = train_wordpiece(tiny.corpus(3), 300)


def test_budget_schedule_follows_the_clock_when_it_runs_ahead_of_the_steps():
    clock = [0.0]
    cfg = ReaderTrainConfig(steps=1000, warmup=0.1, max_minutes=10.0, lr_schedule="budget")
    f = lr_lambda(cfg, lambda: clock[0])
    assert f(0) == pytest.approx(0.01)  # step 1 of 1000 = 0.1% of the run, 1% of the warmup
    clock[0] = 30.0  # 5% of the budget, still warming up, though only 1 step was taken
    assert f(0) == pytest.approx(0.5)
    clock[0] = 300.0  # half the budget: halfway down the decay
    assert f(10) == pytest.approx(0.5 / 0.9)
    clock[0] = 600.0
    assert f(10) == 0.0
    clock[0] = 0.0  # the steps run ahead of the clock: steps decide
    assert f(899) == pytest.approx(0.1 / 0.9)


def test_step_schedule_ignores_the_clock():
    cfg = ReaderTrainConfig(steps=100, warmup=0.1, max_minutes=1.0)
    f = lr_lambda(cfg, lambda: 1e6)
    assert f(4) == pytest.approx(0.5) and f(55) == pytest.approx(0.5)


def test_schedule_errors_name_the_setting():
    with pytest.raises(ValueError, match="reader.lrSchedule must be one of"):
        lr_lambda(ReaderTrainConfig(lr_schedule="cosine"))
    with pytest.raises(ValueError, match="needs a time budget"):
        lr_lambda(ReaderTrainConfig(lr_schedule="budget"))


def test_set_path_overrides_nested_values_and_rejects_bad_paths():
    cfg = {"reader": {"lr": 5e-5}, "name": "x"}
    set_path(cfg, "reader.lr=1e-4")
    set_path(cfg, "retriever.batchSize=64")
    set_path(cfg, "reader.lrSchedule=budget")  # not JSON: a string
    assert cfg == {"reader": {"lr": 1e-4, "lrSchedule": "budget"}, "retriever": {"batchSize": 64}, "name": "x"}
    with pytest.raises(ConfigError, match="expected PATH=JSON"):
        set_path(cfg, "reader.lr")
    with pytest.raises(ConfigError, match="'name' is not an object"):
        set_path(cfg, "name.first=1")


def test_slim_weights_load_back_and_skip_training(tmp_path):
    torch.manual_seed(0)
    rtok = add_markers(TOK, 0, 6)
    builder = ReaderInputBuilder(rtok, "re", 96, 6, 2, 6)
    train = tiny.synthetic(8, 2, n_candidates=5)
    cfg = ReaderTrainConfig(steps=3, lr=3e-3, head_lr=3e-3, tokens_per_batch=1024, eval_every=100,
                            checkpoint_every=100)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "re", 8)
    full = tmp_path / "run" / "reader.pt"
    train_reader(model, builder, train, cfg, torch.device("cpu"), 0, lambda r: None, full)
    info = slim(full, tmp_path / "home" / "reader.pt")
    assert info["step"] == 3 and not info["retriever"] and info["bytes"] < full.stat().st_size
    with pytest.raises(ValueError, match="not a reader training checkpoint"):
        torch.save({"weights": {}}, tmp_path / "other.pt")
        slim(tmp_path / "other.pt", tmp_path / "x.pt")
    # At home: the slim weights are final; the loop loads them and trains no further, even with steps left.
    home = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "re", 8)
    log: list[dict] = []
    more = ReaderTrainConfig(steps=50, tokens_per_batch=1024)
    assert train_reader(home, builder, train, more, torch.device("cpu"), 0, log.append,
                        tmp_path / "home" / "reader.pt") == {}
    assert [r["event"] for r in log if "event" in r] == ["final weights"]
    for name, p in model.state_dict().items():
        assert torch.allclose(home.state_dict()[name], p.half().float()), name


def test_slim_stores_the_shared_encoder_once(tmp_path):
    rtok = add_markers(TOK, 6, 6)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    retriever = RetrieverModel(model.encoder, dim=8)
    torch.save({"model": model.state_dict(), "retriever": retriever.state_dict(), "step": 7, "optimizer": {}},
               tmp_path / "full.pt")
    info = slim(tmp_path / "full.pt", tmp_path / "slim.pt")
    state = torch.load(tmp_path / "slim.pt", weights_only=False)
    assert info == {"step": 7, "bytes": (tmp_path / "slim.pt").stat().st_size, "retriever": True}
    assert state["final"] is True and "optimizer" not in state
    shared = [k for k in state["retriever"] if k.startswith("encoder.")]
    assert shared and all(state["retriever"][k].data_ptr() == state["model"][k].data_ptr() for k in shared)
    assert all(v.dtype == torch.float16 for v in state["model"].values() if v.is_floating_point())


def test_a_slim_checkpoint_continues_every_weight_and_the_retrieval_head(tmp_path):
    """A continuation (reader.init.complete, e.g. on a lent GPU): every reader parameter and the retrieval head
    come from the checkpoint, whatever weights the new encoder started with."""
    rtok = add_markers(TOK, 6, 6)
    torch.manual_seed(1)
    model = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    retriever = RetrieverModel(model.encoder, dim=8)
    torch.save({"model": model.state_dict(), "retriever": retriever.state_dict(), "step": 7, "optimizer": {}},
               tmp_path / "full.pt")
    slim(tmp_path / "full.pt", tmp_path / "slim.pt")
    torch.manual_seed(2)  # another random start: nothing of it may survive
    again = ReaderModel(fixtures.tiny_encoder(rtok.get_vocab_size(), 1), "cie", 8)
    report = warm_start(again, rtok, TOK, tmp_path / "slim.pt", 6, 6)
    assert report["fresh"] == [] and report["copied"] == len(again.state_dict())
    head = RetrieverModel(again.encoder, dim=8)
    assert warm_start_heads(head, tmp_path / "slim.pt") == ["projection.weight", "norm.weight", "norm.bias"]
    for name, p in {**model.state_dict(), **{f"r.{k}": v for k, v in retriever.state_dict().items()}}.items():
        mine = again.state_dict()[name] if not name.startswith("r.") else head.state_dict()[name[2:]]
        assert torch.allclose(mine, p.half().float()), name
    # A reader-only checkpoint has no retrieval head; a head of another size is not copied.
    torch.save({"model": model.state_dict(), "step": 7}, tmp_path / "reader-only.pt")
    assert warm_start_heads(head, tmp_path / "reader-only.pt") == []
    assert warm_start_heads(RetrieverModel(again.encoder, dim=4), tmp_path / "slim.pt") == []
