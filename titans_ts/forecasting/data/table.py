"""Reading a time-series file (CSV, CSV.gz or Parquet) into a dated, numeric, time-ordered table."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from titans_ts.errors import DataError, DataWarning
from titans_ts.forecasting.data.dates import check_date_format, date_columns, date_label, non_numbers, stamp_text

NAN_POLICIES = ("error", "ffill", "interpolate")
DUPLICATE_POLICIES = ("error", "keep", "first")
MISSING_DATE_POLICIES = ("error", "keep", "ffill", "interpolate")
"""What ``load_table`` does with a repeated timestamp: raise, keep every row, or keep the first row of each."""
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
"""The files ``load_table`` reads, by the end of their name (any case): the one list of forecasting data files."""
TABLE_SUFFIXES_TEXT = f"{', '.join(TABLE_SUFFIXES[:-1])} or {TABLE_SUFFIXES[-1]}"
"""``TABLE_SUFFIXES`` for messages and help texts: ".csv, .csv.gz or .parquet"."""
_NULL_TOKENS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
_SEPARATORS = (",", ";", "\t", "|")
"""The CSV separators detected from the header line: the one occurring most there (a comma on a tie or none)."""


@dataclass(frozen=True)
class SeriesTable:
    """A numeric table in time order: ``values[i, j]`` is column ``columns[j]`` at ``dates[i]``.

    ``values`` is float64 (rows x columns) without NaNs; ``dates`` is numpy datetime64 (timezone-aware input
    is converted to UTC); ``freq`` is the pandas offset alias inferred from the dates ("h", "15min", "D", ...)
    or None when they are irregular; ``source`` is the file the table came from; ``date_format`` says how the
    dates were read ("%Y-%m-%d %H:%M:%S", "quarter labels (1974Q1)", "year + month columns (Year, Month)",
    "native datetime", ...).
    """

    dates: np.ndarray
    values: np.ndarray
    columns: list[str]
    source: str
    freq: str | None
    date_format: str = ""


def load_table(
    path: str | Path,
    date_col: str | None = None,
    nan_policy: str = "error",
    columns: Sequence[str] | None = None,
    *,
    date_format: str | None = None,
    sep: str | None = None,
    duplicate_dates: str = "error",
    missing_dates: str = "error",
) -> SeriesTable:
    """Read ``path`` (``TABLE_SUFFIXES``: .csv, .csv.gz or .parquet) into a SeriesTable.

    The date column is ``date_col``, else the first column named date/datetime/time/timestamp/ds (any case),
    else separate year + quarter / year + month (+ day) columns, else the first column whose values all read as
    dates; ``date_col="Year,Quarter"`` names separate columns. Dates read: ISO dates and times, d/m/Y, d.m.Y,
    m/d/Y, month names (Jan-1-1995, 1 January 1995), quarter labels (1974Q1, Q1 1974), month labels (1974-01,
    1974M01, Jan 1974), and, in a column named as the date or the first column, digits (1871, 197401,
    19580329); timezone-aware times become UTC. ``date_format`` (strftime) forces a format; ``SeriesTable.
    date_format`` says which was used. ``sep`` is the CSV separator, by default detected from the header line
    (comma, semicolon, tab or pipe); with another than a comma, decimal commas (1,5) read as numbers.

    ``columns`` selects the value columns (default: all others); each must be numeric. Rows out of time order
    are sorted (stable) with a DataWarning. A repeated timestamp raises under ``duplicate_dates="error"``;
    "keep" keeps every row in file order, "first" the first row of each timestamp, both with a DataWarning.
    Missing values raise under ``nan_policy="error"``; "ffill" carries the last value forward, "interpolate"
    interpolates linearly between rows; both fill leading (and trailing) gaps from the nearest value. Dates that
    lie on a regular grid (a frequency pandas infers from a stretch of them) with timestamps of the grid missing
    raise under ``missing_dates="error"``; "keep" reads the rows as consecutive, "ffill" / "interpolate" insert the
    missing timestamps and fill them so, each with a DataWarning. Every problem raises DataError.
    """
    path = Path(path)
    source = str(path)
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"{source}: unknown nan policy {nan_policy!r}; use one of {', '.join(NAN_POLICIES)}")
    if missing_dates not in MISSING_DATE_POLICIES:
        raise DataError(
            f"{source}: unknown missing-dates policy {missing_dates!r}; use one of {', '.join(MISSING_DATE_POLICIES)}"
        )
    if duplicate_dates not in DUPLICATE_POLICIES:
        raise DataError(
            f"{source}: unknown duplicate-dates policy {duplicate_dates!r}; use one of {', '.join(DUPLICATE_POLICIES)}"
        )
    if date_format is not None:
        check_date_format(date_format, source)
    frame, separator = _read(path, sep)
    if frame.height == 0:
        raise DataError(f"{source}: no data rows")
    date_names, dates, date_text = date_columns(frame, date_col, date_format, source)
    value_cols = list(columns) if columns is not None else [c for c in frame.columns if c not in date_names]
    for name in value_cols:
        if name not in frame.columns:
            raise DataError(f"{source}: column {name!r} not found; columns: {', '.join(frame.columns)}")
    if not value_cols:
        raise DataError(f"{source}: no value columns besides the {date_label(date_names)}")
    decimal_comma = separator not in (None, ",")
    numeric = pl.DataFrame(
        [_to_float(_decimal_commas(frame[name]) if decimal_comma else frame[name], source) for name in value_cols]
    )
    if nan_policy == "error":
        _reject_missing(numeric, source)
    times = dates.to_numpy()
    order, notes = _time_order(times, duplicate_dates, date_label(date_names), source)
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=2)
    times, numeric = times[order], numeric.select(pl.all().gather(order))
    numeric = _fill(numeric, nan_policy, source)
    times, numeric, note = _missing_dates(times, numeric, missing_dates, date_label(date_names), source)
    if note:
        warnings.warn(note, DataWarning, stacklevel=2)
    return SeriesTable(
        dates=times,
        values=np.ascontiguousarray(numeric.to_numpy(), dtype=np.float64),
        columns=value_cols,
        source=source,
        freq=pd.infer_freq(pd.DatetimeIndex(times)) if len(times) >= 3 else None,
        date_format=date_text,
    )


def table_stem(path: str | Path) -> str | None:
    """The file name of ``path`` without its ``TABLE_SUFFIXES`` suffix ("ETTh1" for ETTh1.csv.gz), or None if it
    has none."""
    name = Path(path).name
    suffix = next((s for s in TABLE_SUFFIXES if name.lower().endswith(s)), None)
    return None if suffix is None else name[: -len(suffix)]


def _read(path: Path, sep: str | None) -> tuple[pl.DataFrame, str | None]:
    """The file as a frame (a CSV's columns as strings) and the CSV's separator (None for Parquet)."""
    source = str(path)
    if path.is_dir():
        raise DataError(f"{source}: is a folder; give a data file ({TABLE_SUFFIXES_TEXT})")
    if not path.is_file():
        raise DataError(f"{source}: file not found")
    name = path.name.lower()
    if table_stem(path) is None:
        raise DataError(f"{source}: unsupported file type; use {TABLE_SUFFIXES_TEXT}")
    try:
        if name.endswith(".parquet"):
            return pl.read_parquet(path), None
        separator = _separator(path, sep, source)
        return pl.read_csv(path, separator=separator, infer_schema=False, null_values=_NULL_TOKENS), separator
    except (pl.exceptions.PolarsError, OSError, EOFError) as err:
        summary = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise DataError(f"{source}: cannot read file: {summary[:200]}") from err


def _separator(path: Path, sep: str | None, source: str) -> str:
    """``sep``, else the one of ``_SEPARATORS`` occurring most in the header line (a comma on a tie or none);
    DataError if ``sep`` is not in a header line that another separator splits."""
    with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb") as file:
        header = file.readline().decode("utf-8", errors="replace")
    detected = max(_SEPARATORS, key=header.count)
    if sep is None:
        return detected
    if len(sep) != 1:
        raise DataError(f"{source}: the separator must be one character, got {sep!r}")
    if sep not in header and detected in header:
        raise DataError(
            f"{source}: separator {sep!r} does not occur in the header line, which {detected!r} separates; "
            "leave the separator out to detect it"
        )
    return sep


def _time_order(times: np.ndarray, duplicates: str, label: str, source: str) -> tuple[np.ndarray, list[str]]:
    """The row indices that put ``times`` in time order (a stable sort), less later repeats of a timestamp under
    ``duplicates="first"``, and the warnings to give; DataError at a repeated timestamp under "error"."""
    notes = []
    late = np.flatnonzero(times[1:] < times[:-1])
    if late.size:
        row = int(late[0]) + 1
        notes.append(
            f"{source}: rows are not in time order (row {row + 1}, {stamp_text(times[row])}, comes after "
            f"{stamp_text(times[row - 1])}); sorted by date"
        )
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    repeats = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if not repeats.size:
        return order, notes
    first = ordered[repeats[0]]
    rows = order[ordered == first] + 1
    stamps = np.unique(ordered[repeats]).size
    shown = ", ".join(map(str, rows[:5])) + (", ..." if rows.size > 5 else "")
    repeated = (
        f"{label} repeats {stamp_text(first)} at rows {shown} ({stamps} timestamp{'s' if stamps > 1 else ''} repeated, "
        f"{repeats.size + stamps} rows)"
    )
    if duplicates == "error":
        raise DataError(
            f"{source}: {repeated}; keep them with --duplicate-dates keep or keep the first of each with "
            "--duplicate-dates first"
        )
    if duplicates == "keep":
        notes.append(f"{source}: {repeated}; kept them all in file order")
        return order, notes
    notes.append(f"{source}: {repeated}; kept the first of each, dropped {repeats.size} row(s)")
    return np.delete(order, repeats), notes


def _grid(times: np.ndarray) -> pd.DatetimeIndex | None:
    """The regular dates from the first to the last of ``times`` (sorted) at the frequency pandas infers from a
    stretch of them, when every one of ``times`` is on it; None when they follow no frequency."""
    index = pd.DatetimeIndex(np.unique(times))
    if len(index) < 3 or pd.infer_freq(index):
        return None  # too short to tell, or complete
    for start in range(0, len(index) - 2, max(1, len(index) // 16)):
        freq = pd.infer_freq(index[start : start + 24])
        if freq is None:
            continue
        grid = pd.date_range(index[0], index[-1], freq=freq)
        if len(grid) <= 10 * len(index) and index.isin(grid).all():
            return grid
    return None


def _missing_dates(
    times: np.ndarray, numeric: pl.DataFrame, policy: str, label: str, source: str
) -> tuple[np.ndarray, pl.DataFrame, str | None]:
    """``times`` and ``numeric`` (in time order) with the timestamps missing from their grid (``_grid``) handled by
    ``policy`` (``MISSING_DATE_POLICIES``), and the warning to give; DataError under "error"."""
    grid = _grid(times)
    missing = None if grid is None else grid.difference(pd.DatetimeIndex(times))
    if missing is None or missing.empty:
        return times, numeric, None
    first = missing[0].to_datetime64()
    before = int(np.searchsorted(times, first))  # rows [0, before) come earlier
    text = (
        f"{label} misses {len(missing)} timestamp(s) of its {grid.freqstr} grid, the first {stamp_text(first)} "
        f"(between rows {before} and {before + 1}, {stamp_text(times[before - 1])} and {stamp_text(times[before])})"
    )
    if policy == "error":
        raise DataError(
            f"{source}: {text}; insert them with --missing-dates ffill|interpolate, or read the rows as consecutive "
            "with --missing-dates keep"
        )
    if policy == "keep":
        return times, numeric, f"{source}: {text}; read the rows as consecutive"
    gaps = pl.DataFrame({name: pl.Series(name, [None] * len(missing), pl.Float64) for name in numeric.columns})
    times = np.concatenate([times, missing.to_numpy().astype(times.dtype)])
    order = np.argsort(times, kind="stable")
    numeric = _fill(pl.concat([numeric, gaps]).select(pl.all().gather(order)), policy, source)
    return times[order], numeric, f"{source}: {text}; inserted them, filled by {policy}"


def _decimal_commas(col: pl.Series) -> pl.Series:
    """The strings ``col`` with decimal commas as points ("1,5" -> "1.5") when that leaves fewer values that are
    not numbers, else ``col`` as it is."""
    if col.dtype != pl.String:
        return col
    pointed = col.str.replace_all(",", ".", literal=True)
    return pointed if non_numbers(pointed) < non_numbers(col) else col


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
