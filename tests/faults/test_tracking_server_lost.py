"""The MLflow tracking server stops while ``titans-ts forecast`` trains against it: the command ends with one line
naming the server and how to continue (status 1), the run is never shown FINISHED, and once a server is back on the
same store ``--resume`` finishes the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
from conftest import free_port, served
from pipeline_runs import write_series
from processes import FORECAST_TINY, wait_until


def test_the_server_lost_mid_run_is_one_line_and_resume_finishes_the_run(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = [
        sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    data = write_series(tmp_path / "series.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
    run = tmp_path / "run"
    argv = ["forecast", "--data", str(data), "--lookback", "24", "--horizon", "12", "--epochs", "20", *FORECAST_TINY]
    argv += ["--patience", "20", "--run-dir", str(run), "--tracking-uri", url]
    env = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    log = tmp_path / "log"
    with served(server, url, "/health", tmp_path / "server.log"):
        with log.open("w") as out:
            job = subprocess.Popen([sys.executable, "-m", "pipelines", *argv], stdout=out, stderr=out, env=env)
        wait_until(lambda: (run / "H12" / "titans" / "last.ckpt").is_file(), job, log)
    assert job.wait(timeout=120) == 1  # the server is gone: the next per-epoch log fails
    lines = log.read_text().splitlines()
    assert any(line.startswith(f"titans-ts forecast: error: MLflow at {url}: ") for line in lines), lines[-5:]
    assert lines[-1].endswith(f"the checkpoints are kept: continue with titans-ts forecast --resume --run-dir {run}")
    assert "Traceback" not in log.read_text()
    with served(server, url, "/health", tmp_path / "server.log"):
        run_id = (run / "H12" / "mlflow_run_id").read_text()
        assert mlflow.MlflowClient(url).get_run(run_id).info.status == "RUNNING"  # never shown as finished
        out = tmp_path / "result.json"
        resumed = [sys.executable, "-m", "pipelines", "forecast", "--resume", "--run-dir", str(run)]
        finished = subprocess.run([*resumed, "--summary-json", str(out)], capture_output=True, text=True, env=env)
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert json.loads(out.read_text())[0]["mlflow_run_id"] == run_id
        assert mlflow.MlflowClient(url).get_run(run_id).info.status == "FINISHED"
