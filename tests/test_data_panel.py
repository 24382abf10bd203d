"""Long-format panels (titans_ts.forecasting.data.panel): pandas and polars alike, one-line errors for bad frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from titans_ts.forecasting.data import DataError
from titans_ts.forecasting.data.panel import next_dates, read_panel


def frame(rows: int = 6) -> pd.DataFrame:
    ds = pd.date_range("2024-03-01", periods=rows, freq="D")
    return pd.DataFrame(
        {
            "unique_id": ["s2"] * rows + ["s1"] * rows,
            "ds": list(ds) * 2,
            "y": np.arange(2 * rows, dtype=float),
            "price": np.linspace(0, 1, 2 * rows),
        }
    )


def test_pandas_and_polars_give_the_same_panel() -> None:
    df = frame().sample(frac=1.0, random_state=0)  # row order does not matter
    from_pandas, from_polars = read_panel(df), read_panel(pl.from_pandas(df))
    assert (from_pandas.kind, from_polars.kind) == ("pandas", "polars")
    assert from_pandas.ids == from_polars.ids == ["s1", "s2"]
    assert from_pandas.columns == ["price", "y"] and from_pandas.freq == from_polars.freq == "D"
    for uid in from_pandas.ids:
        np.testing.assert_array_equal(from_pandas.values[uid], from_polars.values[uid])
        np.testing.assert_array_equal(from_pandas.dates[uid], from_polars.dates[uid])
    np.testing.assert_array_equal(from_pandas.values["s1"][:, 1], np.arange(6, 12))
    assert next_dates(from_pandas.dates["s1"][-1], "D", 2).astype(str).tolist() == [
        "2024-03-07T00:00:00.000000",
        "2024-03-08T00:00:00.000000",
    ]


def test_exog_selects_columns_and_text_dates_parse() -> None:
    df = frame().assign(ds=lambda d: d["ds"].dt.strftime("%Y-%m-%d"), other=1.0)
    assert read_panel(df, exog=[]).columns == ["y"]
    assert read_panel(df, exog=["other"]).columns == ["other", "y"]


def gap(df: pd.DataFrame) -> pd.DataFrame:
    moved = df.copy()
    moved.loc[3, "ds"] += pd.Timedelta("12h")
    return moved


@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (lambda d: d.drop(columns="ds"), {}, "missing column(s) 'ds'"),
        (lambda d: d.drop(columns=["y", "unique_id"]), {}, "missing column(s) 'unique_id', 'y'"),
        (
            lambda d: pd.concat([d, d.iloc[[8]]]),
            {},
            "series 's1' has duplicate timestamps: 2024-03-03 at rows 9, 13",
        ),
        (gap, {}, "series 's2': cannot infer a frequency (irregular timestamps"),
        (gap, {"freq": "D"}, "series 's2' is not on the 'D' grid: 2024-03-04 12:00:00 follows 2024-03-03"),
        (lambda d: d.iloc[[0, 1, 6, 7, 8]], {}, "series 's2': cannot infer a frequency (fewer than 3 timestamps"),
        (lambda d: d.assign(y=[1.0, None] + [1.0] * 10), {}, "column 'y' has 1 missing value(s), the first at row 2"),
        (lambda d: d.assign(price="cheap"), {}, "column 'price' is not numeric: row 1 has 'cheap'"),
        (lambda d: d.assign(ds=3), {}, "column 'ds' does not hold datetimes"),
        (lambda d: d, {"exog": ["weather"]}, "exogenous column 'weather' not found"),
        (lambda d: d, {"freq": "fortnightly"}, "unknown frequency 'fortnightly'"),
    ],
)
def test_bad_frames_raise_one_line_errors(change, options, message) -> None:
    with pytest.raises(DataError) as raised:
        read_panel(change(frame()), source="fit", **options)
    text = str(raised.value)
    assert text.startswith("fit: ") and message in text and "\n" not in text


def test_series_on_different_grids_need_freq() -> None:
    df = frame()
    df.loc[df.unique_id == "s1", "ds"] = pd.date_range("2024-03-01", periods=6, freq="h")
    with pytest.raises(DataError, match=r"different frequencies: 'h' \(series 's1'\), 'D' \(series 's2'\)"):
        read_panel(df)


def test_not_a_frame() -> None:
    with pytest.raises(DataError, match="expected a pandas or polars DataFrame, got dict"):
        read_panel({"unique_id": [1]})
