"""SIGKILL at random points of a real ``titans-ts forecast`` / ``classify`` process, then ``--resume --run-dir`` with
no other flag: the final metrics equal those of the same run never interrupted (same seed), and the store holds one
MLflow run for the job, FINISHED."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import pytest
from pipeline_runs import write_csv, write_series
from processes import FORECAST_TINY, titans_ts, wait_until

CLASSIFY_TINY = ["--model", "lmm", "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--memory-depth", "1"]


def forecast_options(folder: Path) -> list[str]:
    data = write_series(folder / "series.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
    return ["--data", str(data), "--lookback", "24", "--horizon", "12", *FORECAST_TINY, "--dropout", "0.2"]


def classify_options(folder: Path) -> list[str]:
    data = write_csv(folder / "reads.csv", 200, seed=3)
    return ["--data", str(data), "--max-train-batches", "3", *CLASSIFY_TINY, "--dropout", "0.2"]


# pipeline: (its options on data written to a folder, the job's folder in the run, its experiment, compared keys)
PIPELINES: dict[str, tuple[Callable[[Path], list[str]], str, str, tuple[str, ...]]] = {
    "forecast": (forecast_options, "H12", "forecast/series", ("test_mse", "test_mae", "val_mse", "baseline_test_mse")),
    "classify": (
        classify_options,
        "",
        "classify/reads",
        ("test_accuracy", "test_mcc", "best_val_mcc", "baseline_test_mcc"),
    ),
}
KILL_POINTS = {
    "before-any-checkpoint": lambda job: (job.parent if job.name == "H12" else job) / "options.yaml",
    "after-a-checkpoint": lambda job: job / "titans" / "last.ckpt",
}
CASES = [("forecast", "before-any-checkpoint"), ("forecast", "after-a-checkpoint"), ("classify", "after-a-checkpoint")]


def run_to_the_end(argv: list[str], out: Path) -> dict:
    """``titans-ts argv --summary-json out`` in a child process; its (first) result."""
    done = subprocess.run([sys.executable, "-m", "pipelines", *argv, "--summary-json", str(out)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(out.read_text())
    return result[0] if isinstance(result, list) else result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], dict]]:
    """Per pipeline: the options of the run and its result when nothing stops it."""
    runs = {}
    for command, (options_of, *_) in PIPELINES.items():
        folder = tmp_path_factory.mktemp(f"uninterrupted-{command}")
        options = [*options_of(folder), "--epochs", "4", "--patience", "9"]
        where = ["--run-dir", str(folder / "run"), "--tracking-uri", f"sqlite:///{folder / 'm.db'}"]
        runs[command] = options, run_to_the_end([command, *options, *where], folder / "result.json")
    return runs


@pytest.mark.parametrize(("command", "point"), CASES, ids=[f"{c}-{p}" for c, p in CASES])
def test_sigkill_then_resume_ends_as_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: dict[str, tuple[list[str], dict]], command: str, point: str
) -> None:
    options, expected = uninterrupted[command]
    _, job_folder, experiment, keys = PIPELINES[command]
    run, store = tmp_path / "run", f"sqlite:///{tmp_path / 'm.db'}"
    job = run / job_folder if job_folder else run
    log = tmp_path / "log"
    process = titans_ts([command, *options, "--run-dir", str(run), "--tracking-uri", store], log)
    wait_until(lambda: KILL_POINTS[point](job).is_file(), process, log)
    time.sleep(random.Random(point).uniform(0.0, 2.0))  # a random moment after that point, the same on every run
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    result = run_to_the_end([command, "--resume", "--run-dir", str(run)], tmp_path / "resumed.json")
    for key in (*keys, "epochs"):
        assert result[key] == expected[key], key
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    assert [r.info.status for r in runs] == ["FINISHED"] and runs[0].info.run_id == result["mlflow_run_id"]
