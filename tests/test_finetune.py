"""Online fine-tuning (titans_ts.forecasting.finetune), the baseline of the --online report: the block protocol of the
online memory, revealed targets only, the caller's model untouched, and the learning rate chosen on a split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_ts import TitansConfig
from titans_ts.forecasting import finetune
from titans_ts.forecasting.data import SeriesTable, prepare_forecast
from titans_ts.forecasting.finetune import choose_finetune_lr, finetune_forecasts
from titans_ts.forecasting.metrics import forecast_errors
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import compare_online, window_forecasts

LOOKBACK, HORIZON = 16, 4


def tiny_model(variant: str = "mag", out_index: tuple[int, ...] | None = None) -> TitansForecastNet:
    torch.manual_seed(0)
    backbone = TitansConfig(
        variant=variant, d_model=8, n_layers=1, n_heads=2, chunk_size=4, segment_size=8, window=8, dropout=0.1
    )
    config = ForecasterConfig(
        lookback=LOOKBACK, horizon=HORIZON, n_inputs=2, out_index=out_index, patch_len=4, stride=2, backbone=backbone
    )
    return TitansForecastNet(config)


def test_each_step_trains_on_the_windows_revealed_since_the_last() -> None:
    """Before block b's forecasts, the step's targets are exactly the rows of windows (b−1)L − H < j ≤ bL − H: the
    last one ends at row bL + L − 1, the last row of the first forecast window of block b. Rows hold their index, so
    a target says which rows it came from (the forecast channel, out_index (1,), holds index + 1000)."""
    model = tiny_model(out_index=(1,))
    n = 100
    rows = torch.stack([torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32) + 1000], dim=1)
    seen: list[tuple[int, int, int]] = []
    step = finetune._step

    def spy(tuned, optimizer, x, y, batch_size):  # type: ignore[no-untyped-def]
        assert y.shape[1:] == (HORIZON, 1)
        target_rows = (y[..., 0] - 1000).round().long()
        torch.testing.assert_close(x[:, -1, 0].long() + 1, target_rows[:, 0])  # each x is its own y's lookback
        seen.append((len(y), int(target_rows.min()), int(target_rows.max())))
        step(tuned, optimizer, x, y, batch_size)

    finetune._step = spy
    try:
        forecasts = finetune_forecasts(model, rows, lr=1e-3, batch_size=7)
    finally:
        finetune._step = step
    count = n - LOOKBACK - HORIZON + 1
    assert forecasts.shape == (count, HORIZON, 1)
    blocks = -(-count // LOOKBACK)
    assert len(seen) == blocks - 1
    for b, (windows, first, last) in enumerate(seen, start=1):
        first_window = max(0, (b - 1) * LOOKBACK - HORIZON + 1)
        assert (windows, first, last) == (
            b * LOOKBACK - HORIZON + 1 - first_window,
            first_window + LOOKBACK,
            (b + 1) * LOOKBACK - 1,
        )


def test_a_row_not_yet_revealed_changes_only_later_forecasts() -> None:
    """Row 3L is the first row revealed at block 3, not at block 2: changing it leaves window 2L (block 2, whose
    lookback ends at row 3L − 1) as it was, and changes window 3L + 1 (block 3, whose lookback starts after it)
    through the weights alone."""
    model = tiny_model()
    rows = torch.randn(100, 2, generator=torch.Generator().manual_seed(1))
    changed = rows.clone()
    changed[3 * LOOKBACK] += 3.0
    before, after = (finetune_forecasts(model, r, lr=1e-2) for r in (rows, changed))
    torch.testing.assert_close(after[: 2 * LOOKBACK + 1], before[: 2 * LOOKBACK + 1], rtol=0, atol=0)
    assert not torch.allclose(after[3 * LOOKBACK + 1], before[3 * LOOKBACK + 1], atol=1e-6)
    frozen = window_forecasts(model, changed, online=False)
    torch.testing.assert_close(frozen[3 * LOOKBACK + 1], window_forecasts(model, rows, online=False)[3 * LOOKBACK + 1])


@pytest.mark.parametrize("variant", ["mag", "lmm"])
def test_learning_rate_zero_is_the_frozen_model(variant: str) -> None:
    model = tiny_model(variant)
    rows = torch.randn(90, 2, generator=torch.Generator().manual_seed(2))
    frozen = window_forecasts(model, rows, online=False)
    torch.testing.assert_close(finetune_forecasts(model, rows, lr=0.0), frozen)
    torch.testing.assert_close(finetune_forecasts(model, rows, lr=1e-9), frozen, atol=1e-5, rtol=1e-5)
    tuned = finetune_forecasts(model, rows, lr=1e-2, steps=2)
    torch.testing.assert_close(tuned[:LOOKBACK], frozen[:LOOKBACK])  # block 0: nothing revealed yet
    assert not torch.allclose(tuned[LOOKBACK:], frozen[LOOKBACK:], atol=1e-4)


def test_the_callers_model_is_unchanged() -> None:
    model = tiny_model().train()
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    finetune_forecasts(model, np.random.default_rng(3).normal(size=(80, 2)), lr=1e-2, steps=3)
    assert model.training
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())


def test_choose_finetune_lr_is_the_grids_argmin() -> None:
    model = tiny_model()
    rows = np.random.default_rng(4).normal(size=(90, 2)).cumsum(axis=0) / 5  # a drifting series
    targets = np.lib.stride_tricks.sliding_window_view(rows[LOOKBACK:], HORIZON, axis=0).transpose(0, 2, 1)
    lrs = (1e-4, 1e-3, 1e-2)
    best, scores = choose_finetune_lr(model, rows, targets, lrs)
    assert list(scores) == list(lrs) and len(set(scores.values())) == 3
    assert best == min(scores, key=scores.get)
    again = finetune_forecasts(model, rows, 1e-3).numpy()
    assert scores[1e-3] == pytest.approx(forecast_errors(again, targets.astype(np.float32))["mse"], rel=1e-6)
    _, prefix = choose_finetune_lr(model, rows, targets, lrs, max_windows=20)
    head = finetune_forecasts(model, rows[: 20 + LOOKBACK + HORIZON - 1], 1e-3).numpy()
    assert prefix[1e-3] == pytest.approx(forecast_errors(head, targets[:20].astype(np.float32))["mse"], rel=1e-6)


def test_compare_online_with_finetuning() -> None:
    rng = np.random.default_rng(5)
    dates = np.arange("2024-01-01", 200, dtype="datetime64[h]")
    data = prepare_forecast(SeriesTable(dates, rng.normal(size=(200, 2)), ["a", "b"], "toy.csv", "h"), LOOKBACK,
                            HORIZON, kind="custom")  # fmt: skip
    model = tiny_model()
    comparison = compare_online(model, data, "test", finetune_lr=1e-3)
    windows = len(data.windows("test"))
    assert comparison.finetuned.shape == comparison.online.shape == (windows, HORIZON, 2)
    assert comparison.finetune_lr == 1e-3
    rows = torch.as_tensor(data.scaled["test"], dtype=torch.float32)
    torch.testing.assert_close(torch.as_tensor(comparison.finetuned), finetune_forecasts(model, rows, 1e-3))
    metrics = comparison.metrics()
    assert set(metrics) == {f"{m}_{e}" for m in ("frozen", "online", "finetune") for e in ("mse", "mae")}
    assert metrics["finetune_mse"] == pytest.approx(forecast_errors(comparison.finetuned, comparison.targets)["mse"])
    assert set(comparison.seconds_per_window) == {"frozen", "online", "finetune"}
    assert all(0 < s < 1 for s in comparison.seconds_per_window.values())
    given = compare_online(model, data, "test", frozen=comparison.frozen)
    assert given.finetuned is None and set(given.seconds_per_window) == {"online"}
    assert set(given.metrics()) == {"frozen_mse", "frozen_mae", "online_mse", "online_mae"}
