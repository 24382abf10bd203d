"""Forecast-vs-actual figure: a few windows (rows) by a few channels (columns), in the data's own units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def plot_forecasts(
    history: np.ndarray,
    actual: np.ndarray,
    forecasts: Mapping[str, np.ndarray],
    channels: Sequence[str],
    windows: Sequence[int],
    title: str = "",
) -> Figure:
    """One panel per (window, channel): the lookback ``history`` (W, L, C), the ``actual`` future (W, H, C) and each
    named forecast (W, H, C), on steps −L…−1 and 0…H−1; ``windows`` labels the rows (e.g. test window indices)."""
    n_rows, n_cols = len(windows), len(channels)
    figure = Figure(figsize=(4.5 * n_cols, 2.6 * n_rows), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False, sharex=True)
    lookback, horizon = history.shape[1], actual.shape[1]
    past, future = np.arange(-lookback, 0), np.arange(horizon)
    for row, window in enumerate(windows):
        for col, channel in enumerate(channels):
            ax = axes[row, col]
            ax.plot(past, history[row, :, col], color="0.5", lw=1, label="history")
            ax.plot(future, actual[row, :, col], color="black", lw=1.2, label="actual")
            for name, values in forecasts.items():
                ax.plot(future, values[row, :, col], lw=1.2, label=name)
            ax.axvline(0, color="0.8", lw=0.8)
            ax.set_title(f"window {window}, {channel}", fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="best")
    if title:
        figure.suptitle(title)
    return figure
