"""Test metrics of a classifier (scikit-learn): accuracy, macro-F1, MCC and AUROC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, prefix: str = "") -> dict[str, float]:
    """``{prefix}accuracy``, ``f1`` (macro), ``mcc`` and ``auroc`` of class ``probabilities`` (N, C) against integer
    ``labels`` (N,); the prediction is the most probable class. AUROC is the positive class's for two classes, the
    macro one-vs-rest mean otherwise, and NaN when ``labels`` hold a single class."""
    predicted = probabilities.argmax(axis=1)
    n_classes = probabilities.shape[1]
    classes = np.arange(n_classes)
    if len(np.unique(labels)) < 2:
        auroc = float("nan")
    elif n_classes == 2:
        auroc = roc_auc_score(labels, probabilities[:, 1])
    else:
        auroc = roc_auc_score(labels, probabilities, multi_class="ovr", average="macro", labels=classes)
    return {
        f"{prefix}accuracy": float(accuracy_score(labels, predicted)),
        f"{prefix}f1": float(f1_score(labels, predicted, average="macro", labels=classes, zero_division=0)),
        f"{prefix}mcc": float(matthews_corrcoef(labels, predicted)),
        f"{prefix}auroc": float(auroc),
    }
