"""Reading tables: ETTh1, generated CSV/Parquet files in other date formats and frequencies, NaN policies, and
the one-line DataError of every bad input."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from titans_ts.forecasting.data import (
    DataError,
    SeriesTable,
    available_datasets,
    load_table,
    resolve_dataset,
    table_stem,
)
from titans_ts.forecasting.data.catalog import BUNDLED_DIR

ETTH1_SHA256 = "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"


def write_series(path: Path, n: int = 200, freq: str = "15min", fmt: str = "%d/%m/%Y %H:%M") -> pd.DataFrame:
    """A two-column series (sine load, ramp temperature) at ``freq`` with dates written in ``fmt``, as CSV;
    returns it with the dates the text denotes."""
    text = pd.date_range("2026-11-23 14:00", periods=n, freq=freq).strftime(fmt)
    frame = pd.DataFrame({"when": text, "load": np.sin(np.arange(n) / 5.0), "temp": np.arange(n) * 0.5 + 10})
    pl.from_pandas(frame).write_csv(path)
    return frame.assign(when=pd.to_datetime(text, format=fmt))


def test_etth1_loads_with_hourly_frequency() -> None:
    table = load_table(resolve_dataset("ETTh1"))
    assert table.columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert table.values.shape == (17420, 7) and table.values.dtype == np.float64
    assert table.freq == "h"
    assert table.dates[0] == np.datetime64("2016-07-01T00:00")
    assert table.dates[-1] == np.datetime64("2018-06-26T19:00")
    assert table.values[0, -1] == pytest.approx(30.531000137329)


def test_bundled_etth1_is_the_benchmark_file() -> None:
    bundled = BUNDLED_DIR / "ETTh1.csv.gz"
    assert hashlib.sha256(gzip.decompress(bundled.read_bytes())).hexdigest() == ETTH1_SHA256
    assert ETTH1_SHA256 in (BUNDLED_DIR / "README.md").read_text()


def test_table_stem_knows_the_data_suffixes() -> None:
    assert table_stem("ett/ETTh1.csv.gz") == "ETTh1"
    assert table_stem(Path("Sales.CSV")) == "Sales" and table_stem("x.parquet") == "x"
    assert table_stem("notes.txt") is None and table_stem("archive.gz") is None


def test_resolve_dataset_falls_back_to_the_bundled_copy(tmp_path: Path) -> None:
    assert resolve_dataset("etth1", data_dir=tmp_path) == BUNDLED_DIR / "ETTh1.csv.gz"
    (tmp_path / "weather").mkdir()
    write_series(tmp_path / "weather" / "weather.csv")
    assert resolve_dataset("weather", data_dir=tmp_path) == tmp_path / "weather" / "weather.csv"
    with pytest.raises(DataError, match=r"unknown dataset 'nope'; available: ETTh1, weather \(bundled and "):
        resolve_dataset("nope", data_dir=tmp_path)


def test_etth2_resolves_from_the_shared_data_dir() -> None:
    if "ETTh2" not in available_datasets():
        pytest.skip("../shared/data/ett/ETTh2.csv.gz not present")
    table = load_table(resolve_dataset("ETTh2"))
    assert table.values.shape == (17420, 7) and table.freq == "h"


@pytest.mark.parametrize(
    ("freq", "fmt", "expected"),
    [
        ("15min", "%d/%m/%Y %H:%M", "15min"),
        ("h", "%Y-%m-%dT%H:%M:%S", "h"),
        ("D", "%Y-%m-%d", "D"),
        ("10min", "%m/%d/%Y %H:%M", "10min"),
        ("h", "%d.%m.%Y %H:%M:%S", "h"),
    ],
)
def test_date_formats_and_frequency(tmp_path: Path, freq: str, fmt: str, expected: str) -> None:
    frame = write_series(tmp_path / "series.csv", freq=freq, fmt=fmt)
    table = load_table(tmp_path / "series.csv")
    assert table.freq == expected
    assert table.columns == ["load", "temp"]
    np.testing.assert_array_equal(table.dates, frame["when"].to_numpy())
    np.testing.assert_allclose(table.values, frame[["load", "temp"]].to_numpy())


def test_day_first_date_format_with_15_minute_frequency(tmp_path: Path) -> None:
    write_series(tmp_path / "plant.csv", n=100, freq="15min", fmt="%d/%m/%Y %H:%M")
    assert (tmp_path / "plant.csv").read_text().splitlines()[1].startswith("23/11/2026 14:00,")
    table = load_table(tmp_path / "plant.csv")
    assert table.freq == "15min"
    assert table.dates[1] == np.datetime64("2026-11-23T14:15")


def test_named_date_column_and_explicit_date_col(tmp_path: Path) -> None:
    frame = pl.DataFrame({"value": [1.0, 2.0, 4.0], "Timestamp": ["2026-01-01", "2026-01-02", "2026-01-03"]})
    frame.write_csv(tmp_path / "a.csv")
    assert load_table(tmp_path / "a.csv").columns == ["value"]
    frame.rename({"Timestamp": "day"}).write_csv(tmp_path / "b.csv")
    assert load_table(tmp_path / "b.csv", date_col="day").freq == "D"


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = write_series(tmp_path / "series.csv", freq="h", fmt="%Y-%m-%d %H:%M:%S")
    pl.from_pandas(frame).write_parquet(tmp_path / "series.parquet")
    from_csv, from_parquet = load_table(tmp_path / "series.csv"), load_table(tmp_path / "series.parquet")
    np.testing.assert_array_equal(from_parquet.dates, from_csv.dates)
    np.testing.assert_array_equal(from_parquet.values, from_csv.values)
    assert from_parquet.columns == from_csv.columns and from_parquet.freq == "h"


def test_gzip_semicolons_selection_and_sorting(tmp_path: Path) -> None:
    text = "date;a;b;label\n2026-01-03;3;30;x\n2026-01-01;1;10;y\n2026-01-02;2;20;z\n"
    (tmp_path / "s.csv.gz").write_bytes(gzip.compress(text.encode()))
    table = load_table(tmp_path / "s.csv.gz", columns=["b", "a"])
    assert table.columns == ["b", "a"]
    np.testing.assert_array_equal(table.values, [[10, 1], [20, 2], [30, 3]])
    assert table.dates[0] == np.datetime64("2026-01-01") and table.freq == "D"


def test_nan_policies(tmp_path: Path) -> None:
    text = "date,x,y\n2026-01-01,,1\n2026-01-02,2,NaN\n2026-01-03,,5\n2026-01-04,6,\n2026-01-05,8,9\n"
    (tmp_path / "gaps.csv").write_text(text)
    ffill = load_table(tmp_path / "gaps.csv", nan_policy="ffill")
    np.testing.assert_array_equal(ffill.values, [[2, 1], [2, 1], [2, 5], [6, 5], [8, 9]])
    interpolated = load_table(tmp_path / "gaps.csv", nan_policy="interpolate")
    np.testing.assert_array_equal(interpolated.values, [[2, 1], [2, 3], [4, 5], [6, 7], [8, 9]])
    with pytest.raises(
        DataError,
        match=r"gaps\.csv: column 'x' has 2 missing value\(s\), the first at row 1; "
        r"fill them with --nan-policy ffill\|interpolate$",
    ):
        load_table(tmp_path / "gaps.csv")


def test_series_table_is_plain_data() -> None:
    table = SeriesTable(np.array([], "datetime64[us]"), np.zeros((0, 1)), ["x"], "mem", None)
    assert table.columns == ["x"] and table.freq is None


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "message"),
    [
        ("absent.csv", None, {}, r"absent\.csv: file not found$"),
        (
            "a.txt",
            "date,x\n2026-01-01,1\n",
            {},
            r"a\.txt: unsupported file type; use \.csv, \.csv\.gz or \.parquet$",
        ),
        (
            "ragged.csv",
            "date,x\n2026-01-01,1\n2026-01-02,2,3\n",
            {},
            r"ragged\.csv: cannot read file: found more fields than defined in 'Schema'$",
        ),
        ("empty.csv", "", {}, r"empty\.csv: cannot read file: empty CSV$"),
        ("header.csv", "date,x\n", {}, r"header\.csv: no data rows$"),
        (
            "nodate.csv",
            "a,b\n1,2\n3,4\n",
            {},
            r"nodate\.csv: no date column found \(none named date/datetime/time/timestamp/ds and none "
            r"parses as datetimes\); columns: a, b; name it with --date-col$",
        ),
        (
            "baddate.csv",
            "date,x\n2026-01-01,1\nsoon,2\n",
            {},
            r"baddate\.csv: column 'date' does not hold dates: row 2 has 'soon'; "
            r"name the date column with --date-col$",
        ),
        (
            "nodatecol.csv",
            "date,x\n2026-01-01,1\n",
            {"date_col": "when"},
            r"nodatecol\.csv: date column 'when' not found; columns: date, x$",
        ),
        (
            "emptydate.csv",
            "date,x\n2026-01-01,1\n,2\n",
            {},
            r"emptydate\.csv: date column 'date' is empty at row 2$",
        ),
        (
            "text.csv",
            "date,x,OT\n2026-01-01,1,2\n2026-01-02,1,abc\n",
            {},
            r"text\.csv: column 'OT' is not numeric: row 2 has 'abc'$",
        ),
        (
            "inf.csv",
            "date,x\n2026-01-01,1\n2026-01-02,inf\n",
            {},
            r"inf\.csv: column 'x' is not numeric: row 2 has 'inf'$",
        ),
        (
            "missing.csv",
            "date,x\n2026-01-01,1\n",
            {"columns": ["OT"]},
            r"missing\.csv: column 'OT' not found; columns: date, x$",
        ),
        (
            "allnan.csv",
            "date,x,y\n2026-01-01,,1\n2026-01-02,,2\n",
            {"nan_policy": "ffill"},
            r"allnan\.csv: column 'x' has no values$",
        ),
        (
            "policy.csv",
            "date,x\n2026-01-01,1\n",
            {"nan_policy": "zero"},
            r"policy\.csv: unknown nan policy 'zero'; use one of error, ffill, interpolate$",
        ),
    ],
)
def test_bad_inputs_raise_one_line_data_errors(
    tmp_path: Path, name: str, content: str | None, kwargs: dict[str, object], message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_table(tmp_path / name, **kwargs)
    assert "\n" not in str(info.value)


def test_corrupt_gzip_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(b"date,x\n2026-01-01,1\n")[:15])
    with pytest.raises(DataError, match=r"broken\.csv\.gz: cannot read file: "):
        load_table(tmp_path / "broken.csv.gz")
