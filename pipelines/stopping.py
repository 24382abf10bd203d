"""Signals as an exception: SIGTERM and SIGINT raise ``Stopped`` in the main thread, so that every stage of a command
(reading, training, testing, export, logging) unwinds through its ``finally`` and ``with`` blocks: the MLflow run is
ended as KILLED, checkpoints already written stay, child processes are stopped. The command then exits with status
128 + the signal number, as a shell reports a process killed by it.

Lightning adds its own SIGTERM handler during a fit and keeps this one beside it (it calls both).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Stopped(BaseException):
    """A stop signal arrived; ``signum`` is its number. A BaseException, as KeyboardInterrupt, so that no
    ``except Exception`` swallows it. ``resume`` is how to continue the stopped work, if there is a way."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.resume: str | None = None

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block SIGTERM and SIGINT raise ``Stopped``; the previous handlers come back after it."""
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def die_with_parent() -> None:
    """``preexec_fn`` of a child process: Linux sends it SIGTERM when its parent dies, even by SIGKILL (elsewhere a
    no-op; the parent's ``Stopped`` handling stops it in the other cases)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
