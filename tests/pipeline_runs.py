"""Helpers of the pipeline tests: generated data files, a training killed in its second epoch, and reading back the
MLflow runs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Run

from genomics.make_demo import planted_motif


def crash_in_second_epoch(monkeypatch: pytest.MonkeyPatch, task: type[L.LightningModule]) -> None:
    """Make every ``task`` raise RuntimeError("killed") as its second epoch starts (undo with ``monkeypatch.undo``)."""

    def crash(module: L.LightningModule) -> None:
        if module.current_epoch == 1:
            raise RuntimeError("killed")

    monkeypatch.setattr(task, "on_train_epoch_start", crash)


def finished_run(run_id: str, experiment: str) -> Run:
    """The run ``run_id`` of the current tracking store, after checking that it finished and is in ``experiment``."""
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert mlflow.MlflowClient().get_experiment(run.info.experiment_id).name == experiment
    return run


def write_series(path: Path, rows: int, freq: str, date_format: str) -> Path:
    """A CSV of three noisy seasonal columns (temp, load, sales) dated every ``freq`` in ``date_format``."""
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    dates = pd.date_range("2021-03-01", periods=rows, freq=freq).strftime(date_format)
    columns = {name: np.sin(2 * np.pi * t / period) + 0.1 * rng.normal(size=rows) + i for i, (name, period) in
               enumerate({"temp": 7, "load": 30, "sales": 7}.items())}  # fmt: skip
    pd.DataFrame({"day": dates, **columns}).to_csv(path, index=False)
    return path


def write_csv(path: Path, n: int, seed: int, length: int = 64) -> Path:
    """``n`` planted-motif sequences (label 1: TATAAA on either strand) as a CSV with columns seq,label."""
    sequences, labels = planted_motif(n, length, seed, motifs=("TATAAA",))
    path.write_text("seq,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels)))
    return path
