"""Long-format panels: one row per series and time step, columns ``unique_id``, ``ds``, ``y`` and exogenous columns
(the frame layout of Nixtla's neuralforecast), from a pandas or a polars DataFrame, checked and cut into series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
from pandas.tseries.frequencies import to_offset

from titans_ts.errors import DataError
from titans_ts.forecasting.data.dates import parse_dates, stamp_text
from titans_ts.forecasting.data.table import _to_float

ID, DS, Y = "unique_id", "ds", "y"
FrameKind = Literal["pandas", "polars"]


@dataclass(frozen=True)
class Panel:
    """The series of a long-format frame, sorted by id, each in time order on one regular grid of step ``freq``.

    ``dates[uid]`` (datetime64[us]) and ``values[uid]`` (float64, rows x ``columns``) hold series ``uid``;
    ``columns`` are the exogenous columns, then ``y`` last; ``kind`` is the frame library the panel came from.
    """

    ids: list[Any]
    dates: dict[Any, np.ndarray]
    values: dict[Any, np.ndarray]
    columns: list[str]
    freq: str
    kind: FrameKind


def frame_kind(frame: Any, source: str = "frame") -> FrameKind:
    """ "pandas" or "polars" for a DataFrame of either library (a polars LazyFrame counts as polars); else DataError."""
    if isinstance(frame, pd.DataFrame):
        return "pandas"
    if isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
        return "polars"
    raise DataError(f"{source}: expected a pandas or polars DataFrame, got {type(frame).__name__}")


def make_frame(columns: dict[str, Any], kind: FrameKind) -> pd.DataFrame | pl.DataFrame:
    """A frame of ``kind`` from equal-length ``columns`` (lists or arrays)."""
    frame = pl.DataFrame(columns)
    return frame.to_pandas() if kind == "pandas" else frame


def read_panel(frame: Any, freq: str | None = None, exog: Sequence[str] | None = None, source: str = "frame") -> Panel:
    """Check a long-format ``frame`` and cut it into series.

    ``exog`` names the exogenous columns (default: every column besides unique_id, ds and y); ``ds`` must hold
    datetimes, y and the exogenous columns numbers without gaps. Every series must lie on the grid of ``freq`` (a
    pandas offset alias such as "h", "15min", "D"); without ``freq`` it is inferred from each series' timestamps and
    must be the same for all. DataError naming the column, the series and the row (counted from 1) of the first
    problem: a missing column, a missing or non-numeric value, a duplicate timestamp in a series, an irregular step.
    """
    kind = frame_kind(frame, source)
    table = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    table = pl.from_pandas(table) if kind == "pandas" else table
    missing = [name for name in (ID, DS, Y) if name not in table.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}; a long-format frame has unique_id, ds, y "
            f"and exogenous columns (columns: {', '.join(table.columns)})"
        )
    if exog is None:
        exog = [name for name in table.columns if name not in (ID, DS, Y)]
    for name in exog:
        if name not in table.columns or name in (ID, DS, Y):
            raise DataError(f"{source}: exogenous column {name!r} not found among {', '.join(table.columns)}")
    columns = [*exog, Y]
    dates = parse_dates(table[DS])
    if dates is None:
        raise DataError(f"{source}: column 'ds' does not hold datetimes (type {table[DS].dtype})")
    table = table.select(
        pl.int_range(1, pl.len() + 1).alias("row"), ID, dates.alias(DS), *(_to_float(table[c], source) for c in columns)
    )
    for name in (ID, DS, *columns):
        nulls = table.filter(pl.col(name).is_null())
        if nulls.height:
            raise DataError(
                f"{source}: column {name!r} has {nulls.height} missing value(s), the first at row {nulls['row'][0]} "
                f"(series {nulls[ID][0]!r})"
            )
    table = table.sort(ID, DS, maintain_order=True)
    duplicated = table.filter(pl.struct(ID, DS).is_duplicated())
    if duplicated.height:
        uid, stamp = duplicated[ID][0], duplicated[DS][0]
        raise DataError(
            f"{source}: series {uid!r} has duplicate timestamps: {stamp_text(stamp)} at rows "
            f"{', '.join(map(str, duplicated.filter(pl.col(ID) == uid, pl.col(DS) == stamp)['row']))}"
        )
    parts = table.partition_by(ID, maintain_order=True, as_dict=True)
    series = {key[0]: part for key, part in parts.items()}
    stamps = {uid: part[DS].to_numpy().astype("datetime64[us]") for uid, part in series.items()}
    return Panel(
        ids=list(series),
        dates=stamps,
        values={uid: part.select(columns).to_numpy().astype(np.float64) for uid, part in series.items()},
        columns=columns,
        freq=_frequency(stamps, freq, source),
        kind=kind,
    )


def next_dates(last: np.datetime64, freq: str, count: int) -> np.ndarray:
    """The ``count`` timestamps after ``last`` on the grid of ``freq``."""
    return pd.date_range(pd.Timestamp(last), periods=count + 1, freq=freq)[1:].to_numpy().astype("datetime64[us]")


def _frequency(stamps: dict[Any, np.ndarray], freq: str | None, source: str) -> str:
    """``freq`` (checked against every series), else the one frequency inferred from all series."""
    if freq is not None:
        try:
            freq = to_offset(freq).freqstr
        except ValueError as err:
            message = f"{source}: unknown frequency {freq!r}; use a pandas offset alias such as 'h' or 'D'"
            raise DataError(message) from err
        for uid, dates in stamps.items():
            expected = next_dates(dates[0], freq, len(dates) - 1)
            off = np.flatnonzero(dates[1:] != expected)
            if off.size:
                step = off[0] + 1
                raise DataError(
                    f"{source}: series {uid!r} is not on the {freq!r} grid: {stamp_text(dates[step])} follows "
                    f"{stamp_text(dates[step - 1])}, expected {stamp_text(expected[step - 1])}"
                )
        return freq
    found: dict[str, Any] = {}
    for uid, dates in stamps.items():
        inferred = pd.infer_freq(pd.DatetimeIndex(dates)) if len(dates) >= 3 else None
        if inferred is None:
            why = "fewer than 3 timestamps" if len(dates) < 3 else "irregular timestamps"
            raise DataError(
                f"{source}: series {uid!r}: cannot infer a frequency ({why}, {len(dates)} rows from "
                f"{stamp_text(dates[0])} to {stamp_text(dates[-1])}); pass freq, e.g. freq='h'"
            )
        found.setdefault(inferred, uid)
    if len(found) > 1:
        listed = ", ".join(f"{value!r} (series {uid!r})" for value, uid in found.items())
        raise DataError(f"{source}: the series have different frequencies: {listed}; pass freq to pick one")
    return next(iter(found))
