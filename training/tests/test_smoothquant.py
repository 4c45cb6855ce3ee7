import pytest
import torch
import torch.nn as nn

from relik_train.smoothquant import SmoothLinear, calibrate_and_smooth, input_absmax, smooth_linears


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 32)
        self.b = nn.Linear(32, 4)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = ids.float() * mask.float()
        return self.b(torch.relu(self.a(x)))


def batches(n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        ids = torch.randn(8, 16, generator=g)
        ids[:, 3] *= 100.0  # one outlier channel, as BERT hidden states have
        out.append((ids, torch.ones(8, 16)))
    return out


def test_smoothing_keeps_outputs_and_flattens_the_outlier_channel():
    torch.manual_seed(0)
    model = TwoLayer().eval()
    data = batches()
    before = torch.cat([model(i, m) for i, m in data])
    absmax = input_absmax(model, lambda: [model(i, m) for i, m in data])
    assert set(absmax) == {"a", "b"} and absmax["a"][3] > 50 * absmax["a"].median()
    assert calibrate_and_smooth(model, data, alpha=0.5) == 2
    assert isinstance(model.a, SmoothLinear) and isinstance(model.b, SmoothLinear)
    with torch.no_grad():
        after = torch.cat([model(i, m) for i, m in data])
        smoothed_in = torch.cat([i for i, _ in data]) * model.a.inv_scale
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
    # the smoothed activation range is no longer dominated by one channel
    per_channel = smoothed_in.abs().amax(dim=0)
    assert per_channel.max() < 10 * per_channel.median()


def test_smooth_linears_rejects_bad_alpha():
    model = TwoLayer()
    with pytest.raises(ValueError, match="'alpha' must be in"):
        smooth_linears(model, {"a": torch.ones(16)}, alpha=1.5)
