"""Helpers of the serve tests: a small live model file, and ``titans-ts serve`` as a real process on a loopback port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import torch

from titans_ts import TitansConfig
from titans_ts.forecasting.live import LiveModel
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet

LOOKBACK, HORIZON = 16, 4
COLUMNS = ["load", "temp"]
START = "2024-01-01 00:00:00"


def tiny_live_model(path: Path, variant: str = "mag") -> LiveModel:
    """A small two-column model (forecasting ``temp``, hourly, random weights) saved at ``path``."""
    torch.manual_seed(0)
    backbone = TitansConfig(variant=variant, d_model=16, n_layers=2, n_heads=2, chunk_size=4, segment_size=8, window=8)
    config = ForecasterConfig(LOOKBACK, HORIZON, 2, out_index=(1,), patch_len=4, stride=4, backbone=backbone)
    dates = pd.date_range("2023-01-01", periods=100, freq="h").to_numpy()
    live = LiveModel.from_training(TitansForecastNet(config), COLUMNS, ["temp"], dates, (np.array([5.0, 20.0]),
                                   np.array([2.0, 4.0])))  # fmt: skip
    live.save(path)
    return live


def observation(first: int, count: int, seed: int = 0, start: str = START) -> dict:
    """Rows ``first`` … ``first + count − 1`` of an hourly two-column series (correlated, daily cycle), as JSON."""
    steps = np.arange(first, first + count)
    noise = np.random.default_rng(seed + first).normal(0, 0.3, (count, 2))
    load = 5 + 2 * np.sin(2 * np.pi * steps / 24) + noise[:, 0]
    temp = 20 + 4 * np.sin(2 * np.pi * (steps - 3) / 24) + noise[:, 1]
    stamps = pd.date_range(start, periods=first + count, freq="h")[first:]
    return {"timestamps": [str(s) for s in stamps], "values": {"load": load.tolist(), "temp": temp.tolist()}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(
    model: Path, state_db: Path | str, *extra: str, log: Path | None = None, timeout: float = 120
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``titans-ts serve`` of ``model`` (``--threads 1``) on a free loopback port, ready within ``timeout`` seconds
    (else RuntimeError with its log's tail); yields its base URL and process, and kills it (SIGKILL) when the block
    ends if it still runs. Also the server of ``bench/serve_load.py``."""
    port = free_port()
    log = log or (
        state_db.with_suffix(".log") if isinstance(state_db, Path) else Path(tempfile.mkdtemp()) / "serve.log"
    )
    argv = ["serve", "--model-uri", str(model), "--port", str(port), "--state-db", str(state_db), "--threads", "1"]
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pipelines", *argv, *extra], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit {process.poll()}): {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
