"""MLflow wiring shared by the pipelines and the estimator: where runs are stored, provenance (git commit, data hash),
parameters as strings, the exported model, per-epoch metrics from Lightning."""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import mlflow
import numpy as np
import torch
from torch import nn

from titans_ts.config import TitansConfig


def tracking_uri(explicit: str | None = None) -> str:
    """``explicit``, else ``$MLFLOW_TRACKING_URI``, else the local store ``./mlflow.db`` that MLflow 3 uses, as an
    absolute path (MLflow caches stores by URI, so a relative one would keep pointing at the first folder used)."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def experiment_id(name: str) -> str:
    """The id of MLflow experiment ``name`` in the current tracking store, made the active one and created if missing.
    A new experiment of a sqlite store keeps its artifacts in ``mlruns/<name>`` beside the database file (MLflow's
    default is ./mlruns in the working folder, wherever the store is)."""
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        uri = mlflow.get_tracking_uri()
        location = None
        if uri.startswith("sqlite:///"):
            database = Path(uri.removeprefix("sqlite:///")).resolve()
            location = (database.parent / "mlruns" / name).as_uri()
        try:
            mlflow.create_experiment(name, artifact_location=location)
        except mlflow.exceptions.MlflowException:  # another process created it meanwhile
            pass
    return mlflow.set_experiment(name).experiment_id


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


# torch.export unrolls the memory's Python loop over chunks, so its time grows with the chunks a sequence holds: on one
# CPU core ~30 s for 16 chunks, ~58 s for 32 (`python bench/export_time.py`); thousands of bases would take most of an
# hour. Above this many chunk steps (chunks per sequence × layers) the model is logged pickled instead.
EXPORT_MAX_STEPS = 64


def memory_steps(config: TitansConfig, length: int) -> int:
    """Memory chunks a ``Titans`` backbone of ``config`` reads for a sequence of ``length`` tokens, over all layers."""
    return -(-length // config.chunk_size) * config.n_layers


def log_exported_model(model: nn.Module, example: np.ndarray, steps: int, extra_files: Sequence[Path] = ()) -> str:
    """Log ``model`` (CPU, eval mode) to the active run as model "model"; ``example`` (two or more inputs, batch first)
    is its input example, from which MLflow infers the signature; ``steps`` is the number of memory chunks the backbone
    reads for one input (``memory_steps``); ``extra_files`` go into the model's ``extra_files/`` folder. Returns the
    format used: "pt2" (a ``torch.export`` program with any batch size, which loads without titans-ts) up to
    ``EXPORT_MAX_STEPS`` steps, else "pickle" (the module, with the code of the packages its layers come from shipped
    beside it: ``mlflow.pytorch.load_model`` loads it)."""
    import mlflow.pytorch

    model = model.cpu().eval()
    requirements = [f"torch=={torch.__version__.split('+')[0]}"]
    if steps <= EXPORT_MAX_STEPS:
        form: dict[str, Any] = {"serialization_format": "pt2"}
    else:
        packages = {type(layer).__module__.split(".")[0] for layer in model.modules()} - {"torch"}
        code = [str(Path(importlib.import_module(name).__file__).parent) for name in sorted(packages)]
        form = {"serialization_format": "pickle", "code_paths": code}
    mlflow.pytorch.log_model(
        model,
        name="model",
        input_example=example,
        pip_requirements=requirements,
        extra_files=[str(f) for f in extra_files] or None,
        **form,
    )
    return form["serialization_format"]


class EpochMetrics(L.Callback):
    """Log the epoch's logged metrics (``train_loss``, ``val_mse``, ...) to MLflow run ``run_id`` at step = epoch,
    each name prefixed with ``prefix``; the sanity check before training is not logged."""

    def __init__(self, run_id: str, prefix: str = "") -> None:
        self.run_id, self.prefix = run_id, prefix

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = {f"{self.prefix}{name}": float(value) for name, value in trainer.callback_metrics.items()}
        if metrics:
            mlflow.log_metrics(metrics, step=trainer.current_epoch, run_id=self.run_id)
