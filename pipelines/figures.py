"""The figures a pipeline run logs to MLflow: forecasts against actual values, classifiers' confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay


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


def plot_confusion(
    labels: np.ndarray, predicted: Mapping[str, np.ndarray], classes: Sequence[str], title: str = ""
) -> Figure:
    """One panel per named prediction (N,) of integer class indices against the true ``labels`` (N,): rows are the
    true class, columns the predicted one, cells the counts; ``classes`` names the indices 0…C−1."""
    side = 1.2 * len(classes) + 2.5
    figure = Figure(figsize=(side * len(predicted), side + 0.5), layout="constrained")
    axes = figure.subplots(1, len(predicted), squeeze=False)[0]
    for ax, (name, values) in zip(axes, predicted.items()):
        ConfusionMatrixDisplay.from_predictions(
            labels, values, labels=np.arange(len(classes)), display_labels=list(classes), ax=ax, colorbar=False
        )
        ax.set_title(name)
    if title:
        figure.suptitle(title)
    return figure
