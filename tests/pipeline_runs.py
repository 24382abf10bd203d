"""Helpers of the pipeline tests: a training killed in its second epoch, and reading back the MLflow runs."""

from __future__ import annotations

import lightning as L
import mlflow
import pytest
from mlflow.entities import Run


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
