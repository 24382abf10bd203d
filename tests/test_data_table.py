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

from titans_ts.data_dir import default_data_dir
from titans_ts.errors import DataWarning
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
    with pytest.warns(DataWarning, match=r"s\.csv\.gz: rows are not in time order \(row 2, 2026-01-01, comes after "):
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
            r"name the date column with --date-col or give its format with --date-format$",
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


MONTHS = pd.date_range("1974-11-01", periods=4, freq="MS")
DAYS = pd.date_range("1995-01-30", periods=4, freq="D")
QUARTERS = [(1974, 1), (1974, 2), (1974, 3), (1974, 4), (1975, 1)]
DATE_FORMATS = [
    ([f"{y}Q{q}" for y, q in QUARTERS], "1974-01-01", "QS-OCT"),
    ([f"{y}-Q{q}" for y, q in QUARTERS], "1974-01-01", "QS-OCT"),
    ([f"{y} Q{q}" for y, q in QUARTERS], "1974-01-01", "QS-OCT"),
    ([f"Q{q} {y}" for y, q in QUARTERS], "1974-01-01", "QS-OCT"),
    *((list(MONTHS.strftime(fmt)), "1974-11-01", "MS") for fmt in ("%Y-%m", "%Y/%m", "%YM%m", "%b %Y", "%B %Y")),
    (list(MONTHS.strftime("%b-%Y")), "1974-11-01", "MS"),
    (list(DAYS.strftime("%Y%m%d")), "1995-01-30", "D"),
    (list(pd.date_range("1958-03-29 22:00", periods=4, freq="h").strftime("%Y%m%d%H%M")), "1958-03-29 22:00", "h"),
    *((list(DAYS.strftime(fmt)), "1995-01-30", "D") for fmt in ("%b-%d-%Y", "%d-%b-%Y", "%B %d, %Y", "%d %b %Y")),
    (["1871", "1872", "1873", "1874"], "1871-01-01", "YS-JAN"),
]


@pytest.mark.parametrize("date_col", [None, "when"])
@pytest.mark.parametrize(("labels", "start", "freq"), DATE_FORMATS, ids=[case[0][0] for case in DATE_FORMATS])
def test_date_formats_read_with_their_frequency(
    tmp_path: Path, labels: list[str], start: str, freq: str, date_col: str | None
) -> None:
    values = np.arange(len(labels), dtype=float)
    pl.DataFrame({"x": values, date_col or "date": labels}).write_csv(tmp_path / "labels.csv")
    table = load_table(tmp_path / "labels.csv", date_col=date_col)
    expected = pd.date_range(start, periods=len(labels), freq=freq)
    np.testing.assert_array_equal(table.dates, expected.to_numpy())
    assert table.freq == freq and table.columns == ["x"] and table.date_format
    np.testing.assert_array_equal(table.values[:, 0], values)


def test_date_format_texts(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text("date,x\n1974Q1,1\n1974Q2,2\n1974Q3,3\n")
    assert load_table(tmp_path / "q.csv").date_format == "quarter labels (1974Q1)"
    (tmp_path / "d.csv").write_text("date,x\n19580329,1\n19580330,2\n19580331,3\n")
    assert load_table(tmp_path / "d.csv").date_format == "%Y%m%d"
    write_series(tmp_path / "h.csv", freq="h", fmt="%Y-%m-%d %H:%M:%S")
    assert load_table(tmp_path / "h.csv").date_format == "%Y-%m-%d %H:%M:%S"
    pl.read_csv(tmp_path / "h.csv", try_parse_dates=True).write_parquet(tmp_path / "h.parquet")
    assert load_table(tmp_path / "h.parquet").date_format == "native datetime"


def test_digit_dates_only_in_a_date_or_first_column(tmp_path: Path) -> None:
    (tmp_path / "years.csv").write_text("x,year\n1,1871\n2,1872\n3,1873\n")
    assert load_table(tmp_path / "years.csv").dates[0] == np.datetime64("1871-01-01")
    (tmp_path / "first.csv").write_text("when,x\n19580329,1\n19580330,2\n19580331,3\n")
    assert load_table(tmp_path / "first.csv").freq == "D"
    (tmp_path / "ids.csv").write_text("id,value\n1,10\n2,20\n3,30\n")
    with pytest.raises(DataError, match=r"ids\.csv: no date column found "):
        load_table(tmp_path / "ids.csv")
    (tmp_path / "counts.csv").write_text("x,count\n1.5,1871\n2.5,1872\n3.5,1873\n")
    with pytest.raises(DataError, match=r"counts\.csv: no date column found "):
        load_table(tmp_path / "counts.csv")
    (tmp_path / "dated.csv").write_text("date,count\n2026-01-01,1871\n2026-01-02,1872\n2026-01-03,1873\n")
    table = load_table(tmp_path / "dated.csv")
    assert table.columns == ["count"] and table.values[:, 0].tolist() == [1871, 1872, 1873]


@pytest.mark.parametrize(
    ("columns", "date_col", "start", "freq", "text"),
    [
        ({"Year": [1974] * 4 + [1975], "Quarter": [1, 2, 3, 4, 1]}, None, "1974-01", "QS-OCT", "year + quarter"),
        ({"year": ["1974"] * 4 + ["1975"], "Qtr": ["Q1", "Q2", "Q3", "Q4", "Q1"]}, None, "1974-01", "QS-OCT", None),
        ({"YEAR": [1974, 1974, 1975, 1975, 1975], "month": [11, 12, 1, 2, 3]}, None, "1974-11", "MS", "year + month"),
        (
            {"Year": [1974, 1974, 1975, 1975, 1975], "Month": ["Nov", "Dec", "Jan", "February", "mar"]},
            None,
            "1974-11",
            "MS",
            None,
        ),
        ({"year": [2026] * 5, "month": [1, 1, 2, 2, 2], "day": [30, 31, 1, 2, 3]}, None, "2026-01-30", "D", None),
        ({"y": [1974] * 4 + [1975], "per": ["Q1", "Q2", "Q3", "Q4", "Q1"]}, "y,per", "1974-01", "QS-OCT", None),
        ({"yr": [1974, 1974, 1975, 1975, 1975], "m": [11, 12, 1, 2, 3]}, "yr, m", "1974-11", "MS", None),
    ],
)
def test_dates_in_separate_columns(
    tmp_path: Path,
    columns: dict[str, list[object]],
    date_col: str | None,
    start: str,
    freq: str,
    text: str | None,
) -> None:
    pl.DataFrame({"x": np.arange(5.0), **columns}).write_csv(tmp_path / "parts.csv")
    table = load_table(tmp_path / "parts.csv", date_col=date_col)
    assert table.columns == ["x"]
    np.testing.assert_array_equal(table.dates, pd.date_range(start, periods=5, freq=freq).to_numpy())
    assert table.freq == freq
    names = ", ".join(columns)
    assert table.date_format.endswith(f" columns ({names})")
    if text is not None:
        assert table.date_format == f"{text} columns ({names})"


@pytest.mark.parametrize(
    ("columns", "date_col", "message"),
    [
        (
            {"Year": [1974, 1974], "Quarter": [1, 5]},
            None,
            r"column 'Quarter' does not hold quarters \(1-4 or Q1-Q4\): row 2 has '5'$",
        ),
        ({"year": ["1974", "74"], "month": [1, 2]}, None, r"column 'year' does not hold years \(4 digits\): row 2"),
        (
            {"year": [2026, 2026], "month": [2, 2], "day": [28, 31]},
            None,
            r"date columns 'year', 'month', 'day' do not form a date at row 2 \(2026-2-31\)$",
        ),
        ({"year": [2026, None], "month": [1, 2]}, None, r"date column 'year' is empty at row 2$"),
        (
            {"year": [2026], "month": [1]},
            "year,month,x,x",
            r"date columns 'year,month,x,x' are 4 columns; give one date column, or year,quarter or ",
        ),
    ],
)
def test_bad_date_parts_raise(
    tmp_path: Path, columns: dict[str, list[object]], date_col: str | None, message: str
) -> None:
    pl.DataFrame({"x": [1.0] * len(next(iter(columns.values()))), **columns}).write_csv(tmp_path / "parts.csv")
    with pytest.raises(DataError, match=r"parts\.csv: " + message):
        load_table(tmp_path / "parts.csv", date_col=date_col)


def test_date_format_forces_a_format(tmp_path: Path) -> None:
    (tmp_path / "dmy.csv").write_text("date,x\n01022026,1\n02022026,2\n03022026,3\n")
    table = load_table(tmp_path / "dmy.csv", date_format="%d%m%Y")
    assert table.dates[0] == np.datetime64("2026-02-01") and table.freq == "D" and table.date_format == "%d%m%Y"
    (tmp_path / "mdy.csv").write_text("when,x\n01/02/2026,1\n01/03/2026,2\n01/04/2026,3\n")
    assert load_table(tmp_path / "mdy.csv").dates[0] == np.datetime64("2026-02-01")  # day first unless told
    assert load_table(tmp_path / "mdy.csv", date_format="%m/%d/%Y").dates[0] == np.datetime64("2026-01-02")
    (tmp_path / "mixed.csv").write_text("date,x\n01022026,1\n2026-02-02,2\n")
    with pytest.raises(
        DataError, match=r"mixed\.csv: column 'date' does not match the date format '%d%m%Y': row 2 has '2026-02-02'$"
    ):
        load_table(tmp_path / "mixed.csv", date_format="%d%m%Y")
    with pytest.raises(DataError, match=r"mixed\.csv: invalid date format '%Q': "):
        load_table(tmp_path / "mixed.csv", date_format="%Q")
    (tmp_path / "parts.csv").write_text("year,month,x\n2026,1,1\n")
    with pytest.raises(
        DataError, match=r"parts\.csv: a date format applies to one date column, not to date columns 'year', "
    ):
        load_table(tmp_path / "parts.csv", date_col="year,month", date_format="%Y")


def test_unreadable_date_blames_the_row_the_likeliest_format_does_not_read(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("date,x\n01/02/2026,1\n01/13/2026,2\nsoon,3\n")
    with pytest.raises(DataError, match=r"bad\.csv: column 'date' does not hold dates: row 3 has 'soon'; "):
        load_table(tmp_path / "bad.csv")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separator_is_detected_and_decimal_commas_read(tmp_path: Path, sep: str) -> None:
    rows = ["date", "x", "y"], ["2026-01-01", "1,5", "2"], ["2026-01-02", "2,25", "-3,0"], ["2026-01-03", "3", "4"]
    (tmp_path / "sep.csv").write_text("".join(sep.join(row) + "\n" for row in rows))
    for given in (None, sep):
        table = load_table(tmp_path / "sep.csv", sep=given)
        assert table.columns == ["x", "y"] and table.freq == "D"
        np.testing.assert_array_equal(table.values, [[1.5, 2], [2.25, -3], [3, 4]])
    with pytest.raises(DataError, match=r"sep\.csv: separator ',' does not occur in the header line, which "):
        load_table(tmp_path / "sep.csv", sep=",")


def test_comma_separated_values_keep_commas_as_separators(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text('date,x\n2026-01-01,"1,5"\n')
    with pytest.raises(DataError, match=r"c\.csv: column 'x' is not numeric: row 1 has '1,5'$"):
        load_table(tmp_path / "c.csv")
    (tmp_path / "one.csv").write_text("date;x\n2026-01-01;1\n")
    with pytest.raises(DataError, match=r"one\.csv: separator ':' does not occur in the header line, which ';' "):
        load_table(tmp_path / "one.csv", sep=":")
    with pytest.raises(DataError, match=r"one\.csv: the separator must be one character, got ';;'$"):
        load_table(tmp_path / "one.csv", sep=";;")


DUPLICATES = "date,x\n2026-01-01,1\n2026-01-02,2\n2026-01-03,3\n2026-01-02,4\n2026-01-04,5\n"


def test_duplicate_dates_raise_by_default(tmp_path: Path) -> None:
    (tmp_path / "dup.csv").write_text(DUPLICATES)
    with pytest.raises(
        DataError,
        match=r"dup\.csv: date column 'date' repeats 2026-01-02 at rows 2, 4 \(1 timestamp repeated, 2 rows\); "
        r"keep them with --duplicate-dates keep or keep the first of each with --duplicate-dates first$",
    ):
        load_table(tmp_path / "dup.csv")
    with pytest.raises(DataError, match=r"dup\.csv: unknown duplicate-dates policy 'last'; use one of error, keep, "):
        load_table(tmp_path / "dup.csv", duplicate_dates="last")


def test_duplicate_dates_keep_or_first(tmp_path: Path) -> None:
    (tmp_path / "dup.csv").write_text(DUPLICATES)
    with pytest.warns(DataWarning) as caught:
        table = load_table(tmp_path / "dup.csv", duplicate_dates="keep")
    messages = [str(warning.message) for warning in caught]
    assert messages[0].endswith(
        "dup.csv: rows are not in time order (row 4, 2026-01-02, comes after 2026-01-03); sorted by date"
    )
    assert messages[1].endswith(
        "repeats 2026-01-02 at rows 2, 4 (1 timestamp repeated, 2 rows); kept them all in file order"
    )
    np.testing.assert_array_equal(table.values[:, 0], [1, 2, 4, 3, 5])
    with (
        pytest.warns(DataWarning, match=r"dup\.csv: rows are not in time order"),
        pytest.warns(DataWarning, match=r"dup\.csv: date column 'date' repeats 2026-01-02 .*dropped 1 row"),
    ):
        table = load_table(tmp_path / "dup.csv", duplicate_dates="first")
    np.testing.assert_array_equal(table.values[:, 0], [1, 2, 3, 5])
    assert table.freq == "D"


def test_unsorted_rows_are_sorted_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "late.csv").write_text("date,x\n2026-01-02 06:00,2\n2026-01-03 06:00,3\n2026-01-01 06:00,1\n")
    with pytest.warns(
        DataWarning,
        match=r"late\.csv: rows are not in time order \(row 3, 2026-01-01 06:00:00, comes after 2026-01-03 06:00:00\); "
        r"sorted by date$",
    ):
        table = load_table(tmp_path / "late.csv")
    np.testing.assert_array_equal(table.values[:, 0], [1, 2, 3])
    assert table.dates[0] == np.datetime64("2026-01-01T06:00")


WEATHER = default_data_dir() / "weather" / "weather.csv.gz"


@pytest.mark.skipif(not WEATHER.is_file(), reason="../shared/data/weather/weather.csv.gz not present")
def test_weather_repeats_one_timestamp_misses_nine_and_keeps_every_row() -> None:
    with pytest.raises(DataError, match=r"date column 'date' repeats 2020-05-12 06:00:00 at rows 19044, 19045 \(1 "):
        load_table(WEATHER)
    with pytest.raises(DataError, match=r"misses 9 timestamp\(s\) of its 10min grid, the first 2020-05-29 09:40:00"):
        load_table(WEATHER, duplicate_dates="keep")  # and a 100-minute hole
    with pytest.warns(DataWarning) as shown:
        table = load_table(WEATHER, duplicate_dates="keep", missing_dates="keep")
    assert table.values.shape == (52696, 21) and table.columns[-1] == "OT"
    assert str(shown[0].message).endswith("kept them all in file order")
    assert str(shown[1].message).endswith("read the rows as consecutive")


def write_hourly_with_hole(path: Path) -> None:
    """200 hourly rows, x = row number, with the 60 rows 100..159 taken out."""
    dates = pd.date_range("2026-03-01", periods=200, freq="h")
    keep = np.r_[0:100, 160:200]
    pd.DataFrame({"date": dates[keep].strftime("%Y-%m-%d %H:%M"), "x": keep.astype(float)}).to_csv(path, index=False)


def test_missing_timestamps_are_refused_kept_or_filled(tmp_path: Path) -> None:
    path = tmp_path / "hole.csv"
    write_hourly_with_hole(path)
    with pytest.raises(
        DataError,
        match=r"hole\.csv: date column 'date' misses 60 timestamp\(s\) of its h grid, the first 2026-03-05 04:00:00 "
        r"\(between rows 100 and 101, 2026-03-05 03:00:00 and 2026-03-07 16:00:00\); insert them with "
        r"--missing-dates ffill\|interpolate, or read the rows as consecutive with --missing-dates keep$",
    ):
        load_table(path)
    with pytest.warns(DataWarning, match="read the rows as consecutive"):
        kept = load_table(path, missing_dates="keep")
    assert kept.values.shape == (140, 1) and kept.freq is None
    with pytest.warns(DataWarning, match="inserted them, filled by interpolate"):
        filled = load_table(path, missing_dates="interpolate")
    np.testing.assert_allclose(filled.values[:, 0], np.arange(200.0))  # x was the row number: a line
    assert filled.freq == "h" and filled.dates[100] == np.datetime64("2026-03-05T04:00")
    with pytest.warns(DataWarning, match="filled by ffill"):
        carried = load_table(path, missing_dates="ffill")
    assert carried.values[100:160, 0].tolist() == [99.0] * 60


@pytest.mark.parametrize(("odd_rows", "blamed", "most"), [(1, 1, 99), (5, 1, 95), (40, 1, 60), (60, 61, 60)])
def test_mixed_date_formats_blame_the_first_row_of_the_minority(
    tmp_path: Path, odd_rows: int, blamed: int, most: int
) -> None:
    dates = pd.date_range("2021-01-01", periods=100, freq="D")
    text = [day.strftime("%d/%m/%Y" if i < odd_rows else "%Y-%m-%d") for i, day in enumerate(dates)]
    pd.DataFrame({"date": text, "x": np.arange(100.0)}).to_csv(tmp_path / "mixed.csv", index=False)
    majority, minority = ("%Y-%m-%d", "%d/%m/%Y") if blamed == 1 else ("%d/%m/%Y", "%Y-%m-%d")
    with pytest.raises(
        DataError,
        match=rf"column 'date' mixes date formats: {most} rows read as {majority}, but row {blamed} has "
        rf"'{text[blamed - 1]}' \({minority}\); write every date in one format$",
    ):
        load_table(tmp_path / "mixed.csv")
