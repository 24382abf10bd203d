"""The forecasting models: TitansForecastNet (RevIN, patching, channel modes) and the DLinear and PatchTST peers."""

from __future__ import annotations

import pytest
import torch

from titans_ts import TitansConfig
from titans_ts.config import VARIANTS
from titans_ts.forecasting.baselines import DLinear, PatchTST, patchtst_hyperparameters
from titans_ts.forecasting.model import ForecasterConfig, RevIN, TitansForecastNet

TINY = {"d_model": 8, "n_layers": 1, "n_heads": 2, "chunk_size": 4, "segment_size": 8, "window": 8}


def tiny_config(**overrides: object) -> ForecasterConfig:
    backbone = TitansConfig(variant=overrides.pop("variant", "mag"), **TINY)
    fields = {"lookback": 24, "horizon": 6, "n_inputs": 3, "patch_len": 4, "stride": 2, "backbone": backbone}
    return ForecasterConfig(**{**fields, **overrides})


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("channels", ["independent", "mixed"])
@pytest.mark.parametrize(("patch_len", "stride"), [(4, 2), (5, 3), (1, 1)])
def test_forecaster_shapes(variant: str, channels: str, patch_len: int, stride: int) -> None:
    config = tiny_config(variant=variant, channels=channels, patch_len=patch_len, stride=stride)
    model = TitansForecastNet(config)
    x = torch.randn(2, 24, 3, requires_grad=True)
    y, state = model(x)
    assert y.shape == (2, 6, 3)
    assert state.memories[0].op.weights[0].shape[0] == (6 if channels == "independent" else 2)  # a sequence per series
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert config.n_patches == {(4, 2): 11, (5, 3): 8, (1, 1): 24}[(patch_len, stride)]


@pytest.mark.parametrize("channels", ["independent", "mixed"])
def test_forecaster_selects_output_channels(channels: str) -> None:
    model = TitansForecastNet(tiny_config(out_index=(2,), channels=channels, revin_affine=True))
    assert model(torch.randn(4, 24, 3))[0].shape == (4, 6, 1)


def test_independent_channels_do_not_mix() -> None:
    model = TitansForecastNet(tiny_config()).eval()
    x = torch.randn(2, 24, 3)
    changed = x.clone()
    changed[..., 0] += torch.randn(2, 24)
    y, y_changed = model(x)[0], model(changed)[0]
    assert not torch.allclose(y[..., 0], y_changed[..., 0])
    torch.testing.assert_close(y[..., 1:], y_changed[..., 1:])


@pytest.mark.parametrize("channels", ["independent", "mixed"])
def test_linear_skip_starts_silent_and_adds_a_linear_map_per_channel(channels: str) -> None:
    torch.manual_seed(0)
    skipped = TitansForecastNet(tiny_config(channels=channels, out_index=(0, 2), linear_skip=True)).eval()
    plain = TitansForecastNet(tiny_config(channels=channels, out_index=(0, 2))).eval()
    plain.load_state_dict({k: v for k, v in skipped.state_dict().items() if not k.startswith("skip.")})
    x = torch.randn(2, 24, 3) * 4 + 1
    torch.testing.assert_close(skipped(x)[0], plain(x)[0])  # zero at initialisation
    with torch.no_grad():
        skipped.skip.weight.normal_()
        skipped.skip.bias.normal_()
    mean, std = x.mean(1, keepdim=True), x.std(1, unbiased=False, keepdim=True)
    normalised = ((x - mean) / std)[..., [0, 2]].transpose(1, 2)  # (B, C_out, L)
    linear = (normalised @ skipped.skip.weight.T + skipped.skip.bias).transpose(1, 2)  # (B, H, C_out)
    expected = plain(x)[0] + linear * std[..., [0, 2]]
    torch.testing.assert_close(skipped(x)[0], expected, rtol=1e-4, atol=1e-4)


def test_revin_round_trip_and_scale_equivariance() -> None:
    revin = RevIN(3, affine=True)
    with torch.no_grad():
        revin.weight.copy_(torch.tensor([0.5, 2.0, 1.5]))
        revin.bias.copy_(torch.tensor([0.1, -0.3, 0.0]))
    x = torch.randn(4, 24, 3) * 5 + 10
    normalized, stats = revin.normalize(x)
    torch.testing.assert_close(revin.denormalize(normalized, stats), x)
    torch.testing.assert_close(revin.denormalize(normalized[..., [2]], stats, [2]), x[..., [2]])
    model = TitansForecastNet(tiny_config()).eval()
    base = torch.randn(2, 24, 3)
    torch.testing.assert_close(model(base * 3 + 7)[0], model(base)[0] * 3 + 7, rtol=1e-4, atol=1e-4)


def test_config_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="patch_len 30 is longer than the lookback 24"):
        tiny_config(patch_len=30)
    with pytest.raises(ValueError, match="out_index"):
        tiny_config(out_index=(3,))
    with pytest.raises(ValueError, match="expected"):
        TitansForecastNet(tiny_config())(torch.randn(2, 20, 3))


@pytest.mark.parametrize("individual", [False, True])
def test_dlinear_shapes(individual: bool) -> None:
    model = DLinear(24, 6, 3, individual=individual)
    assert model(torch.randn(5, 24, 3))[0].shape == (5, 6, 3)
    assert DLinear(24, 6, 3, out_index=[1], individual=individual)(torch.randn(5, 24, 3))[0].shape == (5, 6, 1)
    assert len(model.seasonal) == (3 if individual else 1)


def test_dlinear_trend_of_a_line_is_the_line_inside() -> None:
    model = DLinear(24, 6, 1, kernel_size=5)
    with torch.no_grad():  # seasonal map = identity on the last 6 steps, trend map off: output = seasonal part
        for linear in (*model.seasonal, *model.trend):
            linear.weight.zero_()
            linear.bias.zero_()
        model.seasonal[0].weight[:, 6:12] = torch.eye(6)
    line = torch.arange(24.0).view(1, 24, 1)
    torch.testing.assert_close(model(line)[0], torch.zeros(1, 6, 1))  # a moving average keeps a line inside
    with pytest.raises(ValueError, match="odd"):
        DLinear(24, 6, 1, kernel_size=4)


def test_patchtst_shapes_and_patches() -> None:
    model = PatchTST(96, 24, 3, d_model=16, n_heads=4, e_layers=1, d_ff=32)
    assert model.position.shape == (12, 16)  # (96 - 16) / 8 + 2 patches with the end padding, as Time-Series-Library
    assert model(torch.randn(5, 96, 3))[0].shape == (5, 24, 3)
    assert PatchTST(96, 24, 3, out_index=[2], d_model=16, n_heads=4, e_layers=1)(torch.randn(5, 96, 3))[0].shape == (
        5, 24, 1
    )  # fmt: skip
    with pytest.raises(ValueError, match="shorter than patch_len"):
        PatchTST(8, 4, 1)


def test_patchtst_forecast_follows_the_scale_and_level_of_each_window() -> None:
    """The per-window normalisation: scaling a channel by a and shifting it by b does the same to its forecast."""
    torch.manual_seed(0)
    model = PatchTST(48, 12, 2, d_model=16, n_heads=2, e_layers=2, d_ff=32).eval()
    x = torch.randn(4, 48, 2)
    a, b = torch.tensor([3.0, 0.5]), torch.tensor([-7.0, 100.0])
    with torch.no_grad():
        torch.testing.assert_close(model(x * a + b)[0], model(x)[0] * a + b, rtol=1e-4, atol=1e-3)


def test_patchtst_hyperparameters_are_its_authors_per_dataset() -> None:
    narrow = {"e_layers": 3, "n_heads": 4, "d_model": 16, "d_ff": 128, "dropout": 0.3}
    assert patchtst_hyperparameters("ETTh2") == patchtst_hyperparameters("etth1") == narrow
    assert patchtst_hyperparameters("weather") == patchtst_hyperparameters("ETTm1") == {
        "e_layers": 3, "n_heads": 16, "d_model": 128, "d_ff": 256, "dropout": 0.2
    }  # fmt: skip
