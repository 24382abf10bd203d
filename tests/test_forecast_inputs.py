"""What ``titans-ts forecast`` reads before training (``plan``, no model trained): --date-format, --sep and
--duplicate-dates reach the reader, the five benchmarks by name with their split borders, and --horizon all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import forecast
from pipelines.cli import build_parser, parse
from titans_ts.data_dir import default_data_dir
from titans_ts.errors import DataWarning
from titans_ts.forecasting.data import DataError

SHARED = default_data_dir()


def planned(*argv: str) -> list[forecast.Job]:
    args = parse(build_parser(), ["forecast", *argv])
    return forecast.plan(args, vars(args))


def write_quarters(path: Path, rows: int, sep: str = ",", date_format: str = "%d%m%Y") -> pd.DataFrame:
    """A quarterly series whose dates are written in ``date_format`` (default: the unusual day-month-year digits)."""
    dates = pd.date_range("1960-01-01", periods=rows, freq="QS")
    frame = pd.DataFrame({"when": dates.strftime(date_format), "gdp": np.sin(np.arange(rows) / 3.0) + 2.0})
    frame.to_csv(path, sep=sep, index=False)
    return frame.assign(when=dates)


def test_date_format_and_separator_reach_the_reader(tmp_path: Path) -> None:
    expected = write_quarters(tmp_path / "gdp.csv", 200, sep=";")
    argv = ["--data", str(tmp_path / "gdp.csv"), "--lookback", "16", "--horizon", "4", "--run-dir", str(tmp_path / "r")]
    (job,) = planned(*argv, "--date-format", "%d%m%Y", "--sep", ";")
    np.testing.assert_array_equal(job.data.table.dates, expected["when"].to_numpy())
    assert job.data.table.date_format == "%d%m%Y" and job.data.table.freq == "QS-OCT"
    with pytest.raises(DataError, match=r"separator ',' does not occur in the header line"):
        planned(*argv, "--date-format", "%d%m%Y", "--sep", ",")


def test_quarter_labels_are_read_without_options(tmp_path: Path) -> None:
    frame = write_quarters(tmp_path / "q.csv", 150)
    frame.assign(when=frame["when"].dt.to_period("Q").dt.strftime("%YQ%q")).to_csv(tmp_path / "q.csv", index=False)
    assert (tmp_path / "q.csv").read_text().splitlines()[2].startswith("1960Q2,")
    (job,) = planned("--data", str(tmp_path / "q.csv"), "--lookback", "16", "--horizon", "4")
    assert job.data.table.dates[1] == np.datetime64("1960-04-01") and job.data.table.date_format.startswith("quarter")


def test_duplicate_dates_are_refused_for_data_files_and_kept_for_benchmarks(tmp_path: Path) -> None:
    frame = write_quarters(tmp_path / "dup.csv", 150, date_format="%Y-%m-%d")
    pd.concat([frame.iloc[:50], frame.iloc[49:]]).assign(when=lambda f: f["when"].dt.strftime("%Y-%m-%d")).to_csv(
        tmp_path / "dup.csv", index=False
    )
    argv = ["--lookback", "16", "--horizon", "4"]
    with pytest.raises(DataError, match=r"dup\.csv: date column 'when' repeats 1972-04-01 at rows 50, 51"):
        planned("--data", str(tmp_path / "dup.csv"), *argv)
    with pytest.warns(UserWarning, match="kept the first of each, dropped 1 row"):
        (job,) = planned("--data", str(tmp_path / "dup.csv"), *argv, "--duplicate-dates", "first")
    assert len(job.data.table.dates) == 150
    (tmp_path / "bench").mkdir()
    (tmp_path / "dup.csv").rename(tmp_path / "bench" / "dup.csv")
    with pytest.warns(UserWarning, match="kept them all in file order"):
        (job,) = planned("--dataset", "dup", "--data-dir", str(tmp_path), *argv)
    assert len(job.data.table.dates) == 151


def test_the_cli_shows_a_data_warning_on_one_line(tmp_path: Path) -> None:
    frame = write_quarters(tmp_path / "late.csv", 30, date_format="%Y-%m-%d")
    frame.iloc[[1, 0, *range(2, 30)]].assign(when=lambda f: f["when"].dt.strftime("%Y-%m-%d")).to_csv(
        tmp_path / "late.csv", index=False
    )
    argv = ["forecast", "--data", str(tmp_path / "late.csv"), "--run-dir", str(tmp_path / "r")]
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", *argv], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 2
    err = result.stderr.splitlines()
    assert err[0] == (
        f"titans-ts: warning: {tmp_path / 'late.csv'}: rows are not in time order (row 2, 1960-01-01, comes after "
        "1960-04-01); sorted by date"
    )
    assert err[1].startswith("titans-ts forecast: error: ") and "series too short: 30 rows" in err[1]


def test_horizon_all_plans_the_four_protocol_horizons(tmp_path: Path) -> None:
    jobs = planned("--dataset", "ETTh1", "--horizon", "all", "--run-dir", str(tmp_path / "r"))
    assert [job.data.horizon for job in jobs] == [96, 192, 336, 720]
    assert [job.directory.name for job in jobs] == ["H96", "H192", "H336", "H720"]


@pytest.mark.skipif(not (SHARED / "ett" / "ETTm1.csv.gz").is_file(), reason="needs ../shared/data/ett")
@pytest.mark.parametrize("name", ["ETTm1", "ettm2"])
def test_ettm_by_name_has_the_15_minute_borders(tmp_path: Path, name: str) -> None:
    (job,) = planned("--dataset", name, "--run-dir", str(tmp_path / "r"))
    data = job.data
    assert data.kind == "ett_minute" and len(data.table.dates) == 69680 and data.table.freq == "15min"
    # 12/4/4 months of 30 days x 96 rows; val and test start a lookback early; the last 12,080 rows are unused.
    assert data.borders == {"train": (0, 34560), "val": (34464, 46080), "test": (45984, 57600)}
    assert len(data.windows("test")) == 11520 - 96 + 1 and data.dates("test")[-1] == np.datetime64("2018-02-20T23:45")


@pytest.mark.skipif(not (SHARED / "weather" / "weather.csv.gz").is_file(), reason="needs ../shared/data/weather")
def test_weather_by_name_keeps_every_row_and_splits_70_10_20(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="repeats 2020-05-12 06:00:00"):
        (job,) = planned("--dataset", "weather", "--horizon", "720", "--run-dir", str(tmp_path / "r"))
    data = job.data
    assert data.kind == "custom" and len(data.table.dates) == 52696 and len(data.columns) == 21
    # train int(0.7 n) = 36887 rows, test int(0.2 n) = 10539, val the 5270 between, both from a lookback early
    assert data.borders == {"train": (0, 36887), "val": (36791, 42157), "test": (42061, 52696)}
    assert len(data.windows("test")) == 10539 - 720 + 1


def test_resume_restores_the_options_the_run_was_started_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(tmp_path / "run")
    started = ["--dataset", "ETTh1", "--lookback", "16", "--horizon", "all", "--d-model", "16"]
    first = planned(*started, "--max-train-batches", "30", "--no-revin", "--run-dir", run)
    assert [job.data.horizon for job in first] == [96, 192, 336, 720]
    forecast.store_options(first)  # as `titans-ts forecast` does before training
    resumed = parse(build_parser(), ["forecast", "--resume", "--run-dir", run])
    assert (resumed.d_model, resumed.max_train_batches, resumed.revin, resumed.lookback) == (16, 30, False, 16)
    assert [job.data.horizon for job in forecast.plan(resumed, vars(resumed))] == [96, 192, 336, 720]
    parse(build_parser(), ["forecast", "--resume", "--run-dir", run, "--horizon", "all", "--no-revin"])  # the same
    refused = {
        ("--d-model", "32"): "--d-model 32 differs from the run's 16",
        ("--revin",): "--revin on differs from the run's off",
        ("--config", str(tmp_path / "c.yaml")): "--config cannot change them",
    }
    for flags, message in refused.items():
        with pytest.raises(SystemExit):
            parse(build_parser(), ["forecast", "--resume", "--run-dir", run, *flags])
        assert message in capsys.readouterr().err
    (tmp_path / "old").mkdir()
    with pytest.raises(SystemExit):
        parse(build_parser(), ["forecast", "--resume", "--run-dir", str(tmp_path / "old")])
    assert "options.yaml not found" in capsys.readouterr().err


def test_missing_dates_are_refused_for_data_files_unless_a_policy_is_given(tmp_path: Path) -> None:
    dates = pd.date_range("2026-03-01", periods=400, freq="h").delete(range(200, 260))
    pd.DataFrame({"date": dates, "x": np.sin(np.arange(340) / 5.0)}).to_csv(tmp_path / "hole.csv", index=False)
    argv = ["--data", str(tmp_path / "hole.csv"), "--lookback", "16", "--horizon", "4"]
    with pytest.raises(DataError, match=r"misses 60 timestamp\(s\) of its h grid, the first 2026-03-09 08:00:00"):
        planned(*argv)
    with pytest.warns(DataWarning, match="filled by interpolate"):
        (job,) = planned(*argv, "--missing-dates", "interpolate", "--run-dir", str(tmp_path / "r"))
    assert len(job.data.table.dates) == 400 and job.data.table.freq == "h"
