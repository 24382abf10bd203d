"""Damaged or unusable files around a run: a ``last.ckpt`` that cannot be read, a run folder that cannot be made.
Each is one line naming the file and what to do, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pipeline_runs import crash_in_second_epoch, write_series
from processes import FORECAST_TINY

from pipelines.cli import main
from titans_ts.forecasting.task import ForecastTask


def test_a_damaged_last_checkpoint_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_series(tmp_path / "series.csv", 700, "h", "%Y-%m-%d %H:%M:%S")
    run = tmp_path / "run"
    argv = ["forecast", "--data", str(data), "--lookback", "24", "--horizon", "12", "--epochs", "2", *FORECAST_TINY]
    store = ["--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
    argv += ["--run-dir", str(run), *store]
    crash_in_second_epoch(monkeypatch, ForecastTask)
    with pytest.raises(RuntimeError, match="killed"):
        main(argv)
    monkeypatch.undo()
    last = run / "H12" / "titans" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # cut short, as by a crash while writing
    capsys.readouterr()
    assert (
        main(["forecast", "--resume", "--run-dir", str(run), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"titans-ts forecast: error: series H12: {last} cannot be read (")
    assert err[-1].endswith("delete it to train this model again from its first epoch")
    last.unlink()  # as the message says: the model trains again, the run finishes
    assert (
        main(["forecast", "--resume", "--run-dir", str(run), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 0
    )


def test_a_run_folder_that_cannot_be_made_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    cases = {tmp_path / "a-file" / "run": "a-file is a file"}
    if os.geteuid() != 0:  # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o555)
        cases[tmp_path / "locked" / "run"] = "locked is not writable"
    for run, why in cases.items():
        assert main(["forecast", "--quick", "--run-dir", str(run)]) == 2
        message = f"run directory {run} cannot be made: {tmp_path / why}; pass another --run-dir"
        assert capsys.readouterr().err == f"titans-ts forecast: error: {message}\n"
