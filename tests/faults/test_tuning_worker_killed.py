"""Two tuning workers on a real PostgreSQL study; the second is SIGKILLed in the middle of a trial. Its trial is marked
failed through Optuna's heartbeat (and its MLflow run with it), every other trial finishes, nothing stays RUNNING, and
the command says which worker died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import optuna
import yaml
from processes import child_pids
from test_tune import SPACE, TINY, children

from pipelines import tune


def running_trial_of_worker(storage: str, study_name: str, worker: int) -> optuna.trial.FrozenTrial | None:
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # not created yet
        return None
    running = optuna.trial.TrialState.RUNNING
    return next((t for t in study.trials if t.state == running and t.user_attrs.get("worker") == worker), None)


def test_a_killed_worker_s_trial_is_failed_and_the_others_finish(tmp_path: Path, postgres_url: str) -> None:
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["tune", "forecast", *TINY, "--epochs", "6", "--trials", "6", "--workers", "2", "--heartbeat", "1"]
    argv += ["--storage", postgres_url, "--study-name", "killed", "--search-space", "space.yaml"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    with (tmp_path / "log").open("w") as log:
        parent = subprocess.Popen([sys.executable, "-m", "pipelines", *argv], cwd=tmp_path, env=env, stderr=log)
    deadline = time.monotonic() + 240
    victim = None
    while victim is None and time.monotonic() < deadline and parent.poll() is None:
        victim = running_trial_of_worker(postgres_url, "killed", worker=1)
        time.sleep(0.2)
    assert victim is not None, (tmp_path / "log").read_text()[-2000:]
    (worker,) = child_pids(parent.pid)
    os.kill(worker, signal.SIGKILL)
    assert parent.wait(timeout=300) == 1
    assert "titans-ts tune forecast: worker 1 ended with status -9" in (tmp_path / "log").read_text()

    study = optuna.load_study(study_name="killed", storage=postgres_url)
    states = {t.number: t.state for t in study.trials}
    assert states[victim.number] == optuna.trial.TrialState.FAIL
    assert all(state.is_finished() for state in states.values())
    assert sum(state == optuna.trial.TrialState.FAIL for state in states.values()) == 1
    client = mlflow.MlflowClient(store)
    runs = {r.data.tags["optuna.trial"]: r for r in children(client, study.user_attrs[tune.PARENT_RUN_KEY])}
    assert runs[str(victim.number)].info.status == "FAILED"
    assert runs[str(victim.number)].data.tags["optuna.state"] == "FAIL"
    assert all(r.info.status != "RUNNING" for r in runs.values())
