"""MLflow wiring shared by the pipelines and the estimator: where runs are stored, provenance (git commit, data hash),
parameters as strings, the exported model, per-epoch metrics from Lightning."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import mlflow
import numpy as np
import torch
from torch import nn


def tracking_uri(explicit: str | None = None) -> str:
    """``explicit``, else ``$MLFLOW_TRACKING_URI``, else the local store ``./mlflow.db`` that MLflow 3 uses, as an
    absolute path (MLflow caches stores by URI, so a relative one would keep pointing at the first folder used)."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def git_commit() -> str:
    """The commit of the repository this package is in (suffixed "-dirty" with local changes), or "unknown"."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def file_sha256(path: str | Path) -> str:
    """sha256 of the bytes of ``path`` as stored (a .csv.gz is hashed compressed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def flat_params(params: Mapping[str, Any]) -> dict[str, str]:
    """``params`` as MLflow parameter strings (lists joined by commas, None as "none")."""

    def text(value: Any) -> str:
        if value is None:
            return "none"
        if isinstance(value, (list, tuple)):
            return ",".join(text(item) for item in value)
        return str(value)

    return {key: text(value) for key, value in params.items()}


def log_exported_model(model: nn.Module, example: np.ndarray) -> None:
    """Log ``model`` (CPU, eval mode) to the active run as a ``torch.export`` program with any batch size, which loads
    without titans-ts; ``example`` (two or more inputs, batch first) is its input example, from which MLflow infers the
    signature."""
    import mlflow.pytorch

    mlflow.pytorch.log_model(
        model.cpu().eval(),
        name="model",
        input_example=example,
        serialization_format="pt2",
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


class EpochMetrics(L.Callback):
    """Log the epoch's logged metrics (``train_loss``, ``val_mse``, ...) to MLflow run ``run_id`` at step = epoch,
    each name prefixed with ``prefix``; the sanity check before training is not logged."""

    def __init__(self, run_id: str, prefix: str = "") -> None:
        self.run_id, self.prefix = run_id, prefix

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = {f"{self.prefix}{name}": float(value) for name, value in trainer.callback_metrics.items()}
        if metrics:
            mlflow.log_metrics(metrics, step=trainer.current_epoch, run_id=self.run_id)
