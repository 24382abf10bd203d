"""Online forecasting (titans_ts.forecasting.online): memory carried block to block, exact under any split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_ts import TitansConfig
from titans_ts.config import VARIANTS
from titans_ts.forecasting.data import SeriesTable, prepare_forecast, sliding_windows
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import (
    MemoryStream,
    OnlineComparison,
    compare_online,
    online_forecast,
    window_forecasts,
)

LOOKBACK, HORIZON = 16, 4


def model_for(variant: str, channels: str = "independent", **backbone: object) -> TitansForecastNet:
    torch.manual_seed(0)
    tiny = {"d_model": 8, "n_layers": 2, "n_heads": 2, "chunk_size": 4, "segment_size": 8, "window": 8, **backbone}
    config = ForecasterConfig(
        lookback=LOOKBACK,
        horizon=HORIZON,
        n_inputs=2,
        patch_len=4,
        stride=2,
        channels=channels,
        backbone=TitansConfig(variant=variant, **tiny),
    )
    return TitansForecastNet(config)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("channels", ["independent", "mixed"])
def test_update_then_predict_equals_one_call(variant: str, channels: str) -> None:
    model = model_for(variant, channels)
    history = torch.randn(75, 2)
    stream = MemoryStream(model)
    for piece in (history[:5], history[5:33], history[33:34], history[34:70], history[70:]):
        stream.update(piece)
    one_call = online_forecast(model, history)
    assert one_call.shape == (HORIZON, 2)
    torch.testing.assert_close(stream.forecast(), one_call, rtol=0, atol=0)
    frozen = model.eval()(history[None, -LOOKBACK:])[0][0]
    assert not torch.allclose(one_call, frozen, atol=1e-4)  # 75 rows: the memories have read 3 blocks


def test_fewer_than_two_blocks_is_the_frozen_model() -> None:
    model = model_for("mag")
    history = torch.randn(2 * LOOKBACK - 1, 2)
    frozen = model.eval()(history[None, -LOOKBACK:])[0][0]
    torch.testing.assert_close(online_forecast(model, history), frozen)


def test_memory_only_stream_is_one_pass_over_the_blocks_tokens() -> None:
    """LMM without convolution or persistent tokens, chunks aligned with the blocks: carrying the memory from block to
    block is the backbone run once over the three blocks' embedded tokens laid end to end."""
    model = model_for("lmm", conv_size=1, n_persistent=0, chunk_size=7).eval()  # 7 tokens per block
    history = torch.randn(3 * LOOKBACK, 2)
    tokens, stats = [], None
    for block in history.view(3, LOOKBACK, 2):
        normalized, stats = model.revin.normalize(block[None])
        tokens.append(model.embed(model._patches(normalized.transpose(1, 2).reshape(2, LOOKBACK))))
    with torch.no_grad():
        features = model.backbone(torch.cat(tokens, dim=1))[0][:, -model.config.n_patches :]
        expected = model.revin.denormalize(model.head(features).view(1, 2, HORIZON).transpose(1, 2), stats)[0]
    torch.testing.assert_close(online_forecast(model, history), expected)


def test_stream_state_restores_and_outer_weights_stay() -> None:
    model = model_for("mac")
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    history = torch.randn(60, 2)
    stream = MemoryStream(model)
    stream.update(history[:40])
    restored = MemoryStream(model, **stream.state_dict())
    stream.update(history[40:])
    restored.update(history[40:])
    torch.testing.assert_close(restored.forecast(), stream.forecast(), rtol=0, atol=0)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)


def test_window_forecasts_batch_the_stream() -> None:
    model = model_for("mal")
    rows = torch.randn(60, 2)
    online = window_forecasts(model, rows, batch_size=5)
    expected = torch.stack([online_forecast(model, rows[: i + LOOKBACK]) for i in range(online.shape[0])])
    assert online.shape == (60 - LOOKBACK - HORIZON + 1, HORIZON, 2)
    torch.testing.assert_close(online, expected, atol=1e-5, rtol=1e-5)
    frozen = window_forecasts(model, rows, online=False)
    torch.testing.assert_close(frozen, model.eval()(sliding_windows(rows, LOOKBACK)[: online.shape[0]])[0])
    torch.testing.assert_close(frozen[:LOOKBACK], online[:LOOKBACK])  # the first block's windows start from M_0


def test_compare_online_on_a_forecast_split() -> None:
    rng = np.random.default_rng(0)
    dates = np.arange("2024-01-01", 200, dtype="datetime64[h]")
    table = SeriesTable(dates, rng.normal(size=(200, 2)), ["a", "b"], "toy.csv", "h")
    data = prepare_forecast(table, LOOKBACK, HORIZON, kind="custom")
    comparison = compare_online(model_for("mag"), data, "test")
    windows = len(data.windows("test"))
    assert comparison.frozen.shape == comparison.online.shape == comparison.targets.shape == (windows, HORIZON, 2)
    metrics = comparison.metrics()
    assert set(metrics) == {"frozen_mse", "frozen_mae", "online_mse", "online_mae"}
    expected = float(np.mean((comparison.frozen - comparison.targets) ** 2))
    assert metrics["frozen_mse"] == pytest.approx(expected)
    assert metrics["online_mse"] != metrics["frozen_mse"]
    assert comparison.diverged_at() is None


def test_diverged_at_names_the_first_non_finite_window() -> None:
    online = np.zeros((5, 3, 2))
    online[3, 2, 1], online[4] = np.inf, np.nan
    comparison = OnlineComparison(frozen=np.zeros_like(online), online=online, targets=np.zeros_like(online))
    assert comparison.diverged_at() == 3 and np.isnan(comparison.metrics()["online_mse"])
