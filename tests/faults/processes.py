"""Helpers of the fault tests: ``titans-ts`` as a real child process, and waiting on what it writes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

FORECAST_TINY = [
    "--d-model", "8", "--n-layers", "1", "--n-heads", "2", "--chunk-size", "4", "--segment-size", "8",
    "--window", "8", "--patch-len", "4", "--stride", "4", "--batch-size", "64", "--max-train-batches", "3",
]  # fmt: skip


def titans_ts(argv: list[str], log: Path) -> subprocess.Popen:
    """``titans-ts argv`` as a child process writing stdout and stderr to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "pipelines", *argv], stdout=out, stderr=subprocess.STDOUT)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Poll ``condition`` until it holds; fail with the log's tail if ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"condition not reached (exit {process.poll()}): {log.read_text()[-2000:]}")
        time.sleep(0.2)


def child_pids(pid: int) -> list[int]:
    """The direct children of process ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found
