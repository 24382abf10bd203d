"""Tests for the ``titans-ts`` command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pipelines.cli import main


def test_info_prints_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"torch:     {torch.__version__}" in out
    assert "triton:" in out
    assert "cuda:" in out
    assert "triton path available:" in out


def test_help_lists_info(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: titans-ts" in out
    assert "info" in out
    assert "forecast" in out and "classify" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: titans-ts" in capsys.readouterr().out


def _console_script() -> str | None:
    """The installed ``titans-ts`` script: beside this interpreter first, then on PATH."""
    beside = Path(sys.executable).with_name("titans-ts")
    return str(beside) if beside.exists() else shutil.which("titans-ts")


def test_console_script_runs() -> None:
    script = _console_script()
    if script is None:
        pytest.skip("titans-ts console script not installed (run `pip install -e '.[dev]'`)")
    result = subprocess.run([script, "info"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"torch:     {torch.__version__}" in result.stdout


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", "info"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "titans-ts:" in result.stdout
