"""The MLflow run of a pipeline job: started (or reopened on --resume) with its options, tags and config file, ended
with the status it earned; its model, logged in the format its length allows."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from torch import nn

from pipelines.options import RUN_ONLY
from pipelines.stopping import Stopped
from titans_ts.training.tracking import (
    EXPORT_MAX_STEPS,
    experiment_id,
    flat_params,
    git_commit,
    log_exported_model,
    tracking_uri,
)


@contextlib.contextmanager
def start_job_run(
    directory: Path,
    experiment: str,
    run_name: str,
    resume: bool,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    options: Mapping[str, Any],
    config_file: str | None,
) -> Iterator[mlflow.ActiveRun]:
    """Start the MLflow run of a job whose checkpoints go to ``directory`` in ``experiment`` (on the tracking URI set
    before) or, with ``resume``, reopen the run whose id ``directory/mlflow_run_id`` holds. A new run gets ``params``
    (flattened), ``tags`` and ``git_commit``, ``options`` without the run-location ones as config.yaml (which --config
    takes back), and the --config file itself as ``config_file/``. The run ends FINISHED after the block, KILLED when
    it is left by ``Stopped`` (a signal), FAILED on any other exception (if the store can still be reached: else it
    stays RUNNING until --resume reopens and finishes it)."""
    id_file = directory / "mlflow_run_id"
    run_id = id_file.read_text().strip() if resume and id_file.is_file() else None
    run = mlflow.start_run(run_id=run_id, run_name=run_name, experiment_id=experiment_id(experiment))
    try:
        if run_id is None:
            directory.mkdir(parents=True, exist_ok=True)
            id_file.write_text(run.info.run_id)
            mlflow.log_params(flat_params(params))
            mlflow.set_tags({"git_commit": git_commit(), **tags})
            mlflow.log_dict({k: v for k, v in options.items() if k not in RUN_ONLY}, "config.yaml")
            if config_file:
                mlflow.log_artifact(config_file, "config_file")
        yield run
    except BaseException as err:
        with contextlib.suppress(Exception):  # a store that cannot be reached cannot be told; the error is err
            mlflow.end_run("KILLED" if isinstance(err, Stopped) else "FAILED")
        raise
    mlflow.end_run("FINISHED")


def log_model(prog: str, model: nn.Module, example: np.ndarray, steps: int, extra_files: Sequence[Path] = ()) -> None:
    """``log_exported_model`` in the active run, tagged ``model_format``; a one-line warning (``prog: warning: …``)
    when the model is too long to export and is logged pickled."""
    used = log_exported_model(model, example, steps, extra_files)
    mlflow.set_tag("model_format", used)
    if used != "pt2":
        print(
            f"{prog}: warning: the model reads {steps} memory chunks an input, more than torch.export unrolls in "
            f"reasonable time ({EXPORT_MAX_STEPS}): logged pickled with its code (mlflow.pytorch.load_model loads it)",
            file=sys.stderr,
        )


def tracking_error(prog: str, err: Exception, uri: str | None, run_dir: Path) -> str:
    """The one-line error of a job stopped by its tracking store (``err``: a server that stopped answering, a store
    that refused a write), with the way to continue once it works again."""
    reason = next(iter(str(err).splitlines()), "")[:300]
    return (
        f"{prog}: error: MLflow at {tracking_uri(uri)}: {reason}; the checkpoints are kept: continue with {prog} "
        f"--resume --run-dir {run_dir}"
    )
