"""SIGKILL at random points of a real ``titans-ts forecast`` process, then ``--resume --run-dir`` with no other flag:
the final metrics equal those of the same run never interrupted (same seed), and the store holds one MLflow run for
the job, FINISHED."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from pipeline_runs import write_series
from processes import FORECAST_TINY, titans_ts, wait_until

KILL_POINTS = {
    "before-any-checkpoint": lambda run: (run / "options.yaml").is_file(),
    "after-a-checkpoint": lambda run: (run / "H12" / "titans" / "last.ckpt").is_file(),
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict]:
    """The options of the run and its result when nothing stops it."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    data = write_series(folder / "series.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
    options = ["--data", str(data), "--lookback", "24", "--horizon", "12", "--epochs", "4", "--patience", "9"]
    options += [*FORECAST_TINY, "--dropout", "0.2"]
    argv = ["forecast", *options, "--run-dir", str(folder / "run"), "--tracking-uri", f"sqlite:///{folder / 'm.db'}"]
    argv += ["--summary-json", str(folder / "result.json")]
    subprocess.run([sys.executable, "-m", "pipelines", *argv], check=True, capture_output=True)
    return options, json.loads((folder / "result.json").read_text())[0]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_then_resume_ends_as_an_uninterrupted_run(
    tmp_path: Path, uninterrupted: tuple[list[str], dict], point: str
) -> None:
    options, expected = uninterrupted
    run, store = tmp_path / "run", f"sqlite:///{tmp_path / 'm.db'}"
    log = tmp_path / "log"
    process = titans_ts(["forecast", *options, "--run-dir", str(run), "--tracking-uri", store], log)
    wait_until(lambda: KILL_POINTS[point](run), process, log)
    time.sleep(random.Random(point).uniform(0.0, 2.0))  # a random moment after that point, the same on every run
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    out = tmp_path / "resumed.json"
    resumed = subprocess.run(
        [sys.executable, "-m", "pipelines", "forecast", "--resume", "--run-dir", str(run), "--summary-json", str(out)],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (result,) = json.loads(out.read_text())
    for key in ("test_mse", "test_mae", "val_mse", "baseline_test_mse", "epochs"):
        assert result[key] == expected[key], key
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["forecast/series"], output_format="list")
    assert [r.info.status for r in runs] == ["FINISHED"] and runs[0].info.run_id == result["mlflow_run_id"]
