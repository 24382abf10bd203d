"""Live forecasting: a trained ``TitansForecastNet`` and what it needs to read series that arrive row by row, in
the data's own units, and to forecast after each of them with the memory it has reached.

A ``LiveModel`` is the model with its column names (inputs in channel order, forecast outputs), the grid step
``freq`` and the standardisation of its training data (``moments``, per column); a ``LiveSeries`` is one stream read
by it: a ``online.MemoryStream`` (blocks of L rows read into the memories, weights and momentum carried), the last
timestamp, the row count and the surprise of the blocks read. ``LiveSeries.observe`` checks that new rows continue
the series on the grid (no duplicate, no gap, only numbers) before any is read. A series that the model file does
not hold starts at its first observed row; it is standardised with ``moments``, or, for a model trained per series
(``Forecaster``), with the mean and standard deviation of its first observation, which then needs L rows.

``LiveModel.save`` / ``LiveModel.load`` keep all of it in one file; ``LiveSeries.to_bytes`` / ``from_bytes`` one series.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import torch
from pandas.tseries.frequencies import to_offset

from titans_ts.errors import DataError
from titans_ts.forecasting.data.dates import parse_dates, stamp_text
from titans_ts.forecasting.data.panel import next_dates
from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.forecasting.online import MemoryStream, forecast_window

LIVE_FORMAT = "titans-ts live model 1"
RECENT_BLOCKS = 32
"""How many of the last blocks' surprises a series keeps."""
Moments = tuple[np.ndarray, np.ndarray]
"""Per-column mean and standard deviation of the standardisation x ↦ (x − mean) / std."""


@dataclass
class LiveSeries:
    """One series read online: its standardisation, its ``MemoryStream``, the last timestamp (None before the first
    row), the rows observed, the blocks of L rows read into the memories, and the surprise of the last
    ``RECENT_BLOCKS`` blocks read (oldest first)."""

    moments: Moments | None
    stream: MemoryStream
    last: np.datetime64 | None = None
    rows: int = 0
    blocks: int = 0
    surprises: list[float] = field(default_factory=list)

    def observe(self, live: LiveModel, dates: np.ndarray, values: np.ndarray, source: str) -> None:
        """Read the rows ``values`` (n, C_in) in the data's units at ``dates`` (datetime64[us]) after the series'
        last row. DataError (nothing read) when a value is not a finite number, a timestamp does not continue the
        series on the grid of ``live.freq``, or a new series needs its standardisation and has fewer than L rows."""
        if len(dates) == 0:
            raise DataError(f"{source}: no rows")
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            row, column = bad[0]
            value = float(values[row, column])
            raise DataError(f"{source}: row {row + 1}, column {live.columns[column]!r}: {value} is not a number")
        start = dates[0] if self.last is None else next_dates(self.last, live.freq, 1)[0]
        expected = np.concatenate([[start], next_dates(start, live.freq, len(dates) - 1)])
        off = np.flatnonzero(dates != expected)
        if off.size:
            raise DataError(f"{source}: row {off[0] + 1}: {self._misfit(dates, expected, off[0], live.freq)}")
        moments = self.moments or live.moments
        if moments is None:
            lookback = live.model.config.lookback
            if len(dates) < lookback:
                raise DataError(
                    f"{source}: a new series is standardised with its first rows, so its first observation needs "
                    f"at least the lookback, {lookback} rows; got {len(dates)}"
                )
            moments = standard_moments(values)
        read = self.stream.update(scaled(values, moments))
        self.surprises = (self.surprises + read)[-RECENT_BLOCKS:]
        self.moments, self.last = moments, dates[-1]
        self.rows += len(dates)
        self.blocks += len(read)

    def copy(self) -> LiveSeries:
        """A copy to observe without changing this one (``observe`` and the stream replace their rows, memories and
        surprises, never change them in place, so they are shared until then)."""
        return replace(self, stream=copy.copy(self.stream), surprises=list(self.surprises))

    def _misfit(self, dates: np.ndarray, expected: np.ndarray, row: int, freq: str) -> str:
        """Why ``dates[row]`` is not ``expected[row]``: a repeat, a step back, a gap, or off the grid."""
        got, want = dates[row], expected[row]
        before = dates[row - 1] if row else self.last
        where = f"row {row}" if row else f"the last row observed ({stamp_text(self.last)})"
        if before is not None and got == before:
            return f"{stamp_text(got)} repeats the timestamp of {where}"
        if before is not None and got < before:
            return f"{stamp_text(got)} is before the timestamp of {where}, {stamp_text(before)}"
        steps = np.flatnonzero(next_dates(want, freq, 10_000) == got)
        if steps.size:
            return f"{stamp_text(got)} leaves a gap of {steps[0] + 1} step(s) of {freq!r} after {stamp_text(want)}"
        return f"{stamp_text(got)} is not on the {freq!r} grid; expected {stamp_text(want)}"

    def forecast(self, live: LiveModel, horizon: int, frozen: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The next ``horizon`` timestamps and forecasts (horizon, C_out) in the data's units, from the last L rows
        with the memories reached (``frozen``: from M_0, as the model was trained)."""
        lookback = live.model.config.lookback
        if len(self.stream.rows) < lookback or self.moments is None:
            raise DataError(f"the series holds {self.rows} rows; a forecast needs the lookback, {lookback}")
        if frozen:
            values = forecast_window(live.model, self.stream.rows[None, -lookback:], None)[0][0]
        else:
            values = self.stream.forecast()
        mean, std = (m[list(live.out_index)] for m in self.moments)
        return next_dates(self.last, live.freq, horizon), values[:horizon].double().numpy() * std + mean

    def to_bytes(self) -> bytes:
        """The series as bytes (``torch.save``); ``LiveSeries.from_bytes(model, data)`` reads it back."""
        buffer = io.BytesIO()
        torch.save(self._state(), buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, model: TitansForecastNet, data: bytes) -> LiveSeries:
        """The series ``to_bytes`` wrote, read by ``model``."""
        return cls._from_state(model, torch.load(io.BytesIO(data), weights_only=True))

    def _state(self) -> dict[str, Any]:
        return {
            "moments": None if self.moments is None else tuple(torch.from_numpy(m) for m in self.moments),
            "stream": self.stream.state_dict(),
            "last": None if self.last is None else int(self.last.astype("datetime64[us]").astype(np.int64)),
            "rows": self.rows,
            "blocks": self.blocks,
            "surprises": self.surprises,
        }

    @classmethod
    def _from_state(cls, model: TitansForecastNet, state: dict[str, Any]) -> LiveSeries:
        return cls(
            moments=None if state["moments"] is None else tuple(m.numpy() for m in state["moments"]),
            stream=MemoryStream(model, **state["stream"]),
            last=None if state["last"] is None else np.datetime64(state["last"], "us"),
            rows=state["rows"],
            blocks=state["blocks"],
            surprises=list(state["surprises"]),
        )


@dataclass
class LiveModel:
    """A trained model with its ``columns`` (input names, channel order), ``outputs`` (forecast column names), grid
    step ``freq`` (a pandas offset alias), the standardisation of new series (``moments``; None: per series, from its
    first observation) and the ``series`` it starts with (by id)."""

    model: TitansForecastNet
    columns: list[str]
    outputs: list[str]
    freq: str
    moments: Moments | None = None
    series: dict[str, LiveSeries] = field(default_factory=dict)

    @property
    def out_index(self) -> tuple[int, ...]:
        """Positions of the forecast columns among the inputs."""
        index = self.model.config.out_index
        return tuple(range(len(self.columns))) if index is None else index

    def new_series(self, series_id: str) -> LiveSeries:
        """The series ``series_id`` as the model starts it: the one the file holds, else an empty one."""
        if series_id in self.series:
            return self.series[series_id].copy()
        return LiveSeries(moments=self.moments, stream=MemoryStream(self.model))

    def fingerprint(self) -> str:
        """A digest of the model (configuration, weights, columns, grid, standardisation): equal for equal models."""
        digest = hashlib.sha256()
        facts = {"config": asdict(self.model.config), "columns": self.columns, "outputs": self.outputs}
        digest.update(json.dumps({**facts, "freq": self.freq}, sort_keys=True, default=str).encode())
        for moment in self.moments or ():
            digest.update(np.ascontiguousarray(moment, dtype=np.float64).tobytes())
        for name, tensor in self.model.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        """Write the live model to one file (``torch.save``); ``LiveModel.load`` reads it."""
        torch.save(
            {
                "format": LIVE_FORMAT,
                "config": asdict(self.model.config),
                "weights": self.model.state_dict(),
                "columns": self.columns,
                "outputs": self.outputs,
                "freq": self.freq,
                "moments": None if self.moments is None else tuple(torch.from_numpy(m) for m in self.moments),
                "series": {key: series._state() for key, series in self.series.items()},
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> LiveModel:
        """The live model ``save`` wrote to ``path``, or the online streams of a ``Forecaster.save`` file."""
        state = torch.load(path, weights_only=True)
        if isinstance(state, dict) and state.get("format") != LIVE_FORMAT and "fitted" in state:
            from titans_ts.forecasting.estimator import Forecaster

            return cls.from_forecaster(Forecaster.load(path), str(path))
        if not isinstance(state, dict) or state.get("format") != LIVE_FORMAT:
            raise DataError(f"{path}: neither a live model (LiveModel.save) nor a forecaster (Forecaster.save)")
        model = TitansForecastNet.from_saved(state["config"], state["weights"])
        return cls(
            model=model,
            columns=list(state["columns"]),
            outputs=list(state["outputs"]),
            freq=state["freq"],
            moments=None if state["moments"] is None else tuple(m.numpy() for m in state["moments"]),
            series={key: LiveSeries._from_state(model, value) for key, value in state["series"].items()},
        )

    @classmethod
    def from_forecaster(cls, forecaster: Any, source: str = "forecaster") -> LiveModel:
        """A fitted ``Forecaster``'s model, its columns (exogenous, then y) and its online streams, each series
        standardised as in ``fit``; new series are standardised per series."""
        if forecaster.model is None:
            raise DataError(f"{source}: the forecaster is not fitted")
        series = {
            str(uid): LiveSeries(
                moments=forecaster.stats[uid],
                stream=forecaster.streams[uid],
                last=forecaster.last[uid],
                rows=len(forecaster.streams[uid].rows),
            )
            for uid in forecaster.streams
        }
        columns = list(forecaster.columns)
        return cls(forecaster.model, columns, [columns[-1]], forecaster.fitted_freq, None, series)

    @classmethod
    def from_training(
        cls, model: TitansForecastNet, columns: list[str], outputs: list[str], dates: np.ndarray, moments: Moments
    ) -> LiveModel:
        """A model trained by the forecast pipeline on one table: input ``columns``, forecast ``outputs``, the grid of
        the table's ``dates``, and the train split's standardisation ``moments``."""
        return cls(model.cpu().eval(), list(columns), list(outputs), grid_step(dates), moments)


def grid_step(dates: np.ndarray) -> str:
    """The pandas offset alias of the grid of ``dates``: inferred from the last 1000, else their most common step."""
    tail = pd.DatetimeIndex(dates[-1000:])
    inferred = pd.infer_freq(tail) if len(tail) >= 3 else None
    if inferred is not None:
        return to_offset(inferred).freqstr
    steps = np.diff(tail.values)
    if steps.size == 0:
        raise DataError("cannot tell the time step of fewer than two timestamps")
    values, counts = np.unique(steps, return_counts=True)
    return to_offset(pd.Timedelta(values[counts.argmax()])).freqstr


def read_observations(payload: Any, columns: list[str], source: str) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (datetime64[us]) and values (n, len(columns)) of an observation: a mapping ``{"timestamps": [...],
    "values": {column: [...], ...}}`` (``values`` may be a list when there is one column), every column of the model
    and no other; or CSV text with a header, its first column (or one named date/ds/timestamp) the timestamps and
    columns beyond the model's ignored. DataError naming the field, column or row of the first problem."""
    if isinstance(payload, (str, bytes)):
        return _read_csv(payload, columns, source)
    if not isinstance(payload, dict) or set(payload) != {"timestamps", "values"}:
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise DataError(f'{source}: expected {{"timestamps": [...], "values": {{column: [...]}}}}; got {keys}')
    stamps, values = payload["timestamps"], payload["values"]
    if isinstance(values, list) and len(columns) == 1:
        values = {columns[0]: values}
    if not isinstance(stamps, list) or not isinstance(values, dict):
        raise DataError(f'{source}: "timestamps" must be a list and "values" an object of columns')
    unknown, missing = sorted(set(values) - set(columns)), [name for name in columns if name not in values]
    if unknown or missing:
        raise DataError(
            f"{source}: values must hold the model's columns {columns}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    for name in columns:
        if not isinstance(values[name], list) or len(values[name]) != len(stamps):
            raise DataError(f"{source}: column {name!r} must be a list of {len(stamps)} values, one per timestamp")
    dates = _dates(pl.Series("timestamps", [str(s) for s in stamps], dtype=pl.String), source, "timestamps")
    table = np.full((len(stamps), len(columns)), np.nan)
    for j, name in enumerate(columns):
        for i, value in enumerate(values[name]):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataError(f"{source}: row {i + 1}, column {name!r}: {value!r} is not a number")
            table[i, j] = value
    return dates, table


def _read_csv(text: str | bytes, columns: list[str], source: str) -> tuple[np.ndarray, np.ndarray]:
    """``read_observations`` of CSV text."""
    try:
        frame = pl.read_csv(io.BytesIO(text.encode() if isinstance(text, str) else text), infer_schema=False)
    except pl.exceptions.PolarsError as err:
        raise DataError(f"{source}: not readable as CSV: {str(err).splitlines()[0]}") from err
    named = [name for name in frame.columns if name.lower() in ("date", "ds", "timestamp", "timestamps")]
    date_column = named[0] if named else frame.columns[0]
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: the CSV lacks the model's column(s) {missing} (it has {frame.columns})")
    dates = _dates(frame[date_column], source, date_column)
    table = np.empty((frame.height, len(columns)))
    for j, name in enumerate(columns):
        parsed = frame[name].str.strip_chars().cast(pl.Float64, strict=False)
        bad = (parsed.is_null()).arg_true()
        if bad.len():
            row = int(bad[0])
            raise DataError(f"{source}: row {row + 1}, column {name!r}: {frame[name][row]!r} is not a number")
        table[:, j] = parsed.to_numpy()
    return dates, table


def _dates(column: pl.Series, source: str, name: str) -> np.ndarray:
    """The datetimes of ``column``: ISO text ("2024-01-05 04:00:00", "2024-01-05T04:00:00") read at once, any other
    format as ``parse_dates`` reads a CSV's; DataError naming its first value that is not one."""
    iso = column.str.replace("T", " ").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    if not iso.null_count():
        return iso.to_numpy().astype("datetime64[us]")
    parsed = parse_dates(column)
    if parsed is None:
        for row, value in enumerate(column):
            if value is None or parse_dates(pl.Series([value])) is None:
                raise DataError(f"{source}: {name} row {row + 1}: {value!r} is not a date and time")
        raise DataError(f"{source}: {name}: the timestamps mix date formats; use one, e.g. 2024-01-05 04:00:00")
    return parsed.to_numpy().astype("datetime64[us]")


def standard_moments(values: np.ndarray) -> Moments:
    """Per-column mean and standard deviation of ``values`` (1 for a constant column)."""
    std = values.std(axis=0)
    return values.mean(axis=0), np.where(std > 0, std, 1.0)


def scaled(values: np.ndarray, moments: Moments) -> torch.Tensor:
    """``values`` standardised with ``moments`` (mean, std), as float32."""
    mean, std = moments
    return torch.as_tensor((values - mean) / std, dtype=torch.float32)
