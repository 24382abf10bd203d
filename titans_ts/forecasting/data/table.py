"""Reading a time-series file (CSV, CSV.gz or Parquet) into a dated, numeric, time-ordered table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from titans_ts.errors import DataError

NAN_POLICIES = ("error", "ffill", "interpolate")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
"""The files ``load_table`` reads, by the end of their name (any case): the one list of forecasting data files."""
TABLE_SUFFIXES_TEXT = f"{', '.join(TABLE_SUFFIXES[:-1])} or {TABLE_SUFFIXES[-1]}"
"""``TABLE_SUFFIXES`` for messages and help texts: ".csv, .csv.gz or .parquet"."""
DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds")
_NULL_TOKENS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
# Formats polars' own inference (ISO, day-first d/m/Y, d.m.Y, Y/m/d, ...) does not try.
_MONTH_FIRST = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")


@dataclass(frozen=True)
class SeriesTable:
    """A numeric table in time order: ``values[i, j]`` is column ``columns[j]`` at ``dates[i]``.

    ``values`` is float64 (rows x columns) without NaNs; ``dates`` is numpy datetime64 (timezone-aware input
    is converted to UTC); ``freq`` is the pandas offset alias inferred from the dates ("h", "15min", "D", ...)
    or None when they are irregular; ``source`` is the file the table came from.
    """

    dates: np.ndarray
    values: np.ndarray
    columns: list[str]
    source: str
    freq: str | None


def load_table(
    path: str | Path,
    date_col: str | None = None,
    nan_policy: str = "error",
    columns: Sequence[str] | None = None,
) -> SeriesTable:
    """Read ``path`` (``TABLE_SUFFIXES``: .csv, .csv.gz or .parquet) into a SeriesTable.

    The date column is ``date_col``, else the first column named date/datetime/time/timestamp/ds (any case),
    else the first text column whose values all parse as datetimes. ``columns`` selects the value columns
    (default: all others); each must be numeric. Rows are sorted by date if the file is not. Missing values
    raise under ``nan_policy="error"``; "ffill" carries the last value forward, "interpolate" interpolates
    linearly between rows; both fill leading (and trailing) gaps from the nearest value. Every problem raises
    DataError.
    """
    path = Path(path)
    source = str(path)
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"{source}: unknown nan policy {nan_policy!r}; use one of {', '.join(NAN_POLICIES)}")
    frame = _read(path)
    if frame.height == 0:
        raise DataError(f"{source}: no data rows")
    date_name, dates = _date_column(frame, date_col, source)
    value_cols = list(columns) if columns is not None else [c for c in frame.columns if c != date_name]
    for name in value_cols:
        if name not in frame.columns:
            raise DataError(f"{source}: column {name!r} not found; columns: {', '.join(frame.columns)}")
    if not value_cols:
        raise DataError(f"{source}: no value columns besides the date column {date_name!r}")
    numeric = pl.DataFrame([_to_float(frame[name], source) for name in value_cols])
    if nan_policy == "error":
        _reject_missing(numeric, source)
    times = dates.to_numpy()
    if not dates.is_sorted():
        order = np.argsort(times, kind="stable")
        times, numeric = times[order], numeric.select(pl.all().gather(order))
    numeric = _fill(numeric, nan_policy, source)
    return SeriesTable(
        dates=times,
        values=np.ascontiguousarray(numeric.to_numpy(), dtype=np.float64),
        columns=value_cols,
        source=source,
        freq=pd.infer_freq(pd.DatetimeIndex(times)) if len(times) >= 3 else None,
    )


def table_stem(path: str | Path) -> str | None:
    """The file name of ``path`` without its ``TABLE_SUFFIXES`` suffix ("ETTh1" for ETTh1.csv.gz), or None if it
    has none."""
    name = Path(path).name
    suffix = next((s for s in TABLE_SUFFIXES if name.lower().endswith(s)), None)
    return None if suffix is None else name[: -len(suffix)]


def _read(path: Path) -> pl.DataFrame:
    source = str(path)
    if not path.is_file():
        raise DataError(f"{source}: file not found")
    name = path.name.lower()
    if table_stem(path) is None:
        raise DataError(f"{source}: unsupported file type; use {TABLE_SUFFIXES_TEXT}")
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path)
        options = {"infer_schema": False, "null_values": _NULL_TOKENS}
        frame = pl.read_csv(path, **options)
        if frame.width == 1:  # a ';' or tab separated file read with ','
            for separator in (";", "\t"):
                if separator in frame.columns[0]:
                    return pl.read_csv(path, separator=separator, **options)
        return frame
    except (pl.exceptions.PolarsError, OSError) as err:
        summary = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise DataError(f"{source}: cannot read file: {summary[:200]}") from err


def _date_column(frame: pl.DataFrame, date_col: str | None, source: str) -> tuple[str, pl.Series]:
    if date_col is not None:
        if date_col not in frame.columns:
            names = ", ".join(frame.columns)
            raise DataError(f"{source}: date column {date_col!r} not found; columns: {names}")
        return date_col, _dates_or_raise(frame[date_col], source)
    for name in frame.columns:
        if name.strip().lower() in DATE_NAMES:
            return name, _dates_or_raise(frame[name], source)
    for name in frame.columns:
        parsed = _parse_dates(frame[name])
        if parsed is not None and parsed.null_count() == 0:
            return name, parsed
    raise DataError(
        f"{source}: no date column found (none named {'/'.join(DATE_NAMES)} and none parses as datetimes); "
        f"columns: {', '.join(frame.columns)}; name it with --date-col"
    )


def _parse_dates(col: pl.Series) -> pl.Series | None:
    """Naive datetimes parsed from ``col`` (nulls stay null), or None if some value does not parse."""
    if col.dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if isinstance(col.dtype, pl.Datetime):
        parsed = col
    elif col.dtype == pl.String:
        text = col.str.strip_chars()
        for fmt in (None, *_MONTH_FIRST):
            try:
                parsed = text.str.to_datetime(format=fmt, strict=True)
                break
            except pl.exceptions.PolarsError:
                continue
        else:
            return None
    else:
        return None
    if parsed.dtype.time_zone is not None:
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return parsed


def _dates_or_raise(col: pl.Series, source: str) -> pl.Series:
    parsed = _parse_dates(col)
    if parsed is None:
        try:
            trial = col.cast(pl.String).str.strip_chars().str.to_datetime(strict=False)
            bad = trial.is_null() & col.is_not_null()
        except pl.exceptions.PolarsError:
            bad = col.is_not_null()
        row = int(bad.arg_true()[0]) if bad.any() else 0
        raise DataError(
            f"{source}: column {col.name!r} does not hold dates: row {row + 1} has {col[row]!r}; "
            "name the date column with --date-col"
        )
    if parsed.null_count():
        row = int(parsed.is_null().arg_true()[0])
        raise DataError(f"{source}: date column {col.name!r} is empty at row {row + 1}")
    return parsed


def _to_float(col: pl.Series, source: str) -> pl.Series:
    """``col`` as float64 with NaN turned into null; DataError at the first value that is not a finite
    number."""
    if col.dtype.is_numeric():
        values = col.cast(pl.Float64)
    elif col.dtype == pl.String:
        values = col.str.strip_chars().cast(pl.Float64, strict=False)
    else:
        raise DataError(f"{source}: column {col.name!r} is not numeric (type {col.dtype})")
    bad = (values.is_null() & col.is_not_null()) | values.is_infinite()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise DataError(f"{source}: column {col.name!r} is not numeric: row {row + 1} has {col[row]!r}")
    return values.fill_nan(None)


def _reject_missing(numeric: pl.DataFrame, source: str) -> None:
    for col in numeric.iter_columns():
        if col.null_count():
            row = int(col.is_null().arg_true()[0])
            raise DataError(
                f"{source}: column {col.name!r} has {col.null_count()} missing value(s), the first at row "
                f"{row + 1}; fill them with --nan-policy ffill|interpolate"
            )


def _fill(numeric: pl.DataFrame, nan_policy: str, source: str) -> pl.DataFrame:
    if nan_policy == "ffill":
        numeric = numeric.select(pl.all().forward_fill().backward_fill())
    elif nan_policy == "interpolate":
        numeric = numeric.select(pl.all().interpolate().forward_fill().backward_fill())
    for col in numeric.iter_columns():
        if col.null_count():
            raise DataError(f"{source}: column {col.name!r} has no values")
    return numeric
