"""Stop signals sent to real ``titans-ts`` processes: SIGTERM / SIGINT while training ends the command with status
128 + signal, one line saying how to continue, the MLflow run KILLED (never left RUNNING) and the last checkpoint
kept; the dashboard's Streamlit server dies with its parent, also when the parent is SIGKILLed."""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
import torch
from conftest import free_port
from pipeline_runs import write_csv, write_series
from processes import FORECAST_TINY, child_pids, titans_ts, wait_until

CLASSIFY_TINY = ["--model", "lmm", "--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--memory-depth", "1"]


@pytest.mark.parametrize(
    ("command", "sig"),
    [("forecast", signal.SIGTERM), ("classify", signal.SIGINT)],
    ids=["forecast-SIGTERM", "classify-SIGINT"],
)
def test_a_stop_signal_while_training_kills_the_run_and_keeps_the_checkpoint(
    tmp_path: Path, command: str, sig: signal.Signals
) -> None:
    run, store = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}"
    if command == "forecast":
        data = write_series(tmp_path / "series.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
        argv = ["--data", str(data), "--lookback", "24", "--horizon", "12", *FORECAST_TINY]
        job = run / "H12"
    else:
        argv = ["--data", str(write_csv(tmp_path / "reads.csv", 200, seed=3)), "--max-train-batches", "3"]
        argv += CLASSIFY_TINY
        job = run
    argv = [command, *argv, "--epochs", "500", "--run-dir", str(run), "--tracking-uri", store]
    log = tmp_path / "log"
    process = titans_ts(argv, log)
    wait_until(lambda: (job / "titans" / "last.ckpt").is_file(), process, log)
    time.sleep(1.0)  # into a later epoch
    process.send_signal(sig)
    assert process.wait(timeout=60) == 128 + sig
    message = f"titans-ts {command}: stopped by {sig.name}; continue with: titans-ts {command} --resume --run-dir {run}"
    assert message in log.read_text().splitlines()
    mlflow.set_tracking_uri(store)
    assert mlflow.get_run((job / "mlflow_run_id").read_text()).info.status == "KILLED"
    assert torch.load(job / "titans" / "last.ckpt", weights_only=False)["epoch"] >= 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_dashboard_server_dies_with_its_parent(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    health = f"http://127.0.0.1:{port}/_stcore/health"
    log = tmp_path / "log"
    process = titans_ts(["dashboard", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"], log)
    wait_until(lambda: answers(health), process, log)
    (streamlit,) = child_pids(process.pid)
    process.send_signal(sig)
    assert process.wait(timeout=30) == (128 + sig if sig != signal.SIGKILL else -signal.SIGKILL)
    deadline = time.monotonic() + 30
    while alive(streamlit) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(streamlit):
        os.kill(streamlit, signal.SIGKILL)
        pytest.fail(f"Streamlit ({streamlit}) outlived its parent stopped by {sig.name}")
    assert not answers(health)
