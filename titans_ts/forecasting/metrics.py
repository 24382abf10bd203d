"""The forecast errors, defined once: MSE and MAE of forecasts against targets, as the long-term-forecasting protocol
reports them (the mean over every window, step and channel, in the units given: scaled or the data's own).

``errors`` works on numpy arrays and torch tensors alike (the training task logs its validation errors with it);
``forecast_errors`` gives the numbers, ``window_errors`` the errors of each window and channel.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

METRICS = ("mse", "mae")
Values = TypeVar("Values", np.ndarray, torch.Tensor)


def errors(forecasts: Values, targets: Values, axis: int | None = None) -> dict[str, Values]:
    """``mse`` (mean squared error) and ``mae`` (mean absolute error) of ``forecasts`` against ``targets`` (same
    shape, numpy or torch), the mean over ``axis`` (None: over every element), in the dtype of the inputs."""
    error = forecasts - targets
    squared, absolute = error * error, abs(error)
    if axis is None:
        return {"mse": squared.mean(), "mae": absolute.mean()}
    return {"mse": squared.mean(axis), "mae": absolute.mean(axis)}


def forecast_errors(forecasts: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``{"mse": ..., "mae": ...}`` over every window, step and channel of ``forecasts`` and ``targets``
    (e.g. (windows, H, C_out)); NaN where a forecast is not finite."""
    return {name: float(value) for name, value in errors(forecasts, targets).items()}


def window_errors(forecasts: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """``{"mse": ..., "mae": ...}`` of each window and channel: (windows, C_out) from (windows, H, C_out), the mean
    over the horizon."""
    return errors(forecasts, targets, axis=1)
