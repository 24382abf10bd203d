"""Confusion matrices of classifiers side by side, one panel per model, counts per (true, predicted) class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay


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
