"""The forecast errors (titans_ts.forecasting.metrics) against a hand computation, numpy and torch alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from titans_ts.forecasting.metrics import METRICS, errors, forecast_errors, window_errors

# Two windows, horizon 2, one channel; forecast - target is 1, -1 in window 0 and 3, -4 in window 1.
FORECASTS = np.array([[[1.0], [1.0]], [[4.0], [0.0]]], dtype=np.float32)
TARGETS = np.array([[[0.0], [2.0]], [[1.0], [4.0]]], dtype=np.float32)


def test_forecast_errors_by_hand() -> None:
    # squares 1, 1, 9, 16 -> 27 / 4; absolute 1, 1, 3, 4 -> 9 / 4
    assert forecast_errors(FORECASTS, TARGETS) == {"mse": 6.75, "mae": 2.25}
    assert set(METRICS) == set(forecast_errors(FORECASTS, TARGETS))
    assert forecast_errors(TARGETS, TARGETS) == {"mse": 0.0, "mae": 0.0}


def test_window_errors_by_hand() -> None:
    found = window_errors(FORECASTS, TARGETS)
    np.testing.assert_array_equal(found["mse"], [[1.0], [12.5]])  # (1 + 1) / 2, (9 + 16) / 2
    np.testing.assert_array_equal(found["mae"], [[1.0], [3.5]])
    assert found["mse"].mean() == forecast_errors(FORECASTS, TARGETS)["mse"]


def test_torch_errors_equal_numpy_and_the_torch_losses() -> None:
    forecasts, targets = torch.from_numpy(FORECASTS), torch.from_numpy(TARGETS)
    found = errors(forecasts, targets)
    assert {name: float(value) for name, value in found.items()} == forecast_errors(FORECASTS, TARGETS)
    assert found["mse"] == torch.nn.functional.mse_loss(forecasts, targets)
    assert found["mae"] == torch.nn.functional.l1_loss(forecasts, targets)


def test_a_non_finite_forecast_gives_nan_or_inf() -> None:
    forecasts = FORECASTS.copy()
    forecasts[1, 0, 0] = np.nan
    assert all(np.isnan(value) for value in forecast_errors(forecasts, TARGETS).values())
    forecasts[1, 0, 0] = np.inf
    assert forecast_errors(forecasts, TARGETS)["mse"] == pytest.approx(np.inf)
