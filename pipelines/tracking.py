"""The MLflow run of a pipeline job: started (or reopened on --resume) with its options, tags and config file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow

from pipelines.options import RUN_ONLY
from titans_ts.training.tracking import flat_params, git_commit


def start_job_run(
    directory: Path,
    experiment: str,
    run_name: str,
    resume: bool,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    options: Mapping[str, Any],
    config_file: str | None,
) -> mlflow.ActiveRun:
    """Start the MLflow run of a job whose checkpoints go to ``directory`` in ``experiment`` (on the tracking URI set
    before) or, with ``resume``, reopen the run whose id ``directory/mlflow_run_id`` holds. A new run gets ``params``
    (flattened), ``tags`` and ``git_commit``, ``options`` without the run-location ones as config.yaml (which --config
    takes back), and the --config file itself as ``config_file/``."""
    id_file = directory / "mlflow_run_id"
    run_id = id_file.read_text().strip() if resume and id_file.is_file() else None
    run = mlflow.start_run(
        run_id=run_id, run_name=run_name, experiment_id=mlflow.set_experiment(experiment).experiment_id
    )
    if run_id is None:
        directory.mkdir(parents=True, exist_ok=True)
        id_file.write_text(run.info.run_id)
        mlflow.log_params(flat_params(params))
        mlflow.set_tags({"git_commit": git_commit(), **tags})
        mlflow.log_dict({k: v for k, v in options.items() if k not in RUN_ONLY}, "config.yaml")
        if config_file:
            mlflow.log_artifact(config_file, "config_file")
    return run
