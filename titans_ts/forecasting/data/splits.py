"""The long-term-forecasting protocol of Time-Series-Library (its Dataset_ETT_hour, Dataset_ETT_minute and
Dataset_Custom): train/val/test borders, feature modes, and a StandardScaler fitted on the train rows only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from titans_ts.errors import DataError, require_positive
from titans_ts.forecasting.data.table import SeriesTable
from titans_ts.forecasting.data.windows import WindowDataset

KINDS = ("ett_hour", "ett_minute", "custom")
FEATURES = ("M", "S", "MS")
SPLITS = ("train", "val", "test")
_ETT_MONTHS = (12, 4, 4)  # train, val, test; a month is 30 days
_ETT_ROWS_PER_DAY = {"ett_hour": 24, "ett_minute": 24 * 4}
_DESCRIPTIONS = {
    "ett_hour": "ETT hourly 12/4/4-month",
    "ett_minute": "ETT 15-minute 12/4/4-month",
    "custom": "70/10/20 %",
}


def split_kind(name: str) -> str:
    """The protocol of a dataset or file name: "ett_hour" for ETTh*, "ett_minute" for ETTm*, else "custom"."""
    stem = Path(name).name.lower()
    if stem.startswith("etth"):
        return "ett_hour"
    if stem.startswith("ettm"):
        return "ett_minute"
    return "custom"


def split_borders(
    n_rows: int, lookback: int, kind: str = "custom", horizon: int = 1, source: str = "series"
) -> dict[str, tuple[int, int]]:
    """Row ranges [start, end) of "train", "val" and "test" for a series of ``n_rows`` rows.

    ETT hourly: train [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400) with L = ``lookback``
    (later rows unused); ETT minute: the same x 4; custom: train = int(0.7 n), test = int(0.2 n), val = the
    rest, with val and test starting L rows early. DataError (prefixed with ``source``) unless every split
    holds at least one window of ``lookback + horizon`` rows.
    """
    require_positive("lookback", lookback, source)
    require_positive("horizon", horizon, source)
    if kind not in KINDS:
        raise DataError(f"{source}: unknown split kind {kind!r}; use one of {', '.join(KINDS)}")
    borders = _borders(n_rows, lookback, kind)
    if _fits(borders, n_rows, lookback + horizon):
        return borders
    need = min_rows(lookback, horizon, kind)
    if need is None:
        sizes = "/".join(str(m * 30 * _ETT_ROWS_PER_DAY[kind]) for m in _ETT_MONTHS)
        raise DataError(
            f"{source}: lookback {lookback} + horizon {horizon} does not fit the {_DESCRIPTIONS[kind]} "
            f"splits (train/val/test {sizes} rows, val and test plus the lookback)"
        )
    raise DataError(
        f"{source}: series too short: {n_rows} rows, but lookback {lookback} + horizon {horizon} with the "
        f"{_DESCRIPTIONS[kind]} train/val/test splits needs at least {need} rows"
    )


def min_rows(lookback: int, horizon: int, kind: str) -> int | None:
    """The fewest rows for which every split of ``kind`` holds a window; None if no length does (ETT's fixed
    borders cannot fit a window that long)."""
    if kind == "custom":
        n_rows = lookback + horizon
        while not _fits(_borders(n_rows, lookback, kind), n_rows, lookback + horizon):
            n_rows += 1
        return n_rows
    n_rows = sum(_ETT_MONTHS) * 30 * _ETT_ROWS_PER_DAY[kind]
    return n_rows if _fits(_borders(n_rows, lookback, kind), n_rows, lookback + horizon) else None


def _borders(n_rows: int, lookback: int, kind: str) -> dict[str, tuple[int, int]]:
    if kind == "custom":
        num_train, num_test = int(n_rows * 0.7), int(n_rows * 0.2)
        num_vali = n_rows - num_train - num_test
        starts = (0, num_train - lookback, n_rows - num_test - lookback)
        ends = (num_train, num_train + num_vali, n_rows)
    else:
        train, val, test = (m * 30 * _ETT_ROWS_PER_DAY[kind] for m in _ETT_MONTHS)
        starts = (0, train - lookback, train + val - lookback)
        ends = (train, train + val, train + val + test)
    return dict(zip(SPLITS, zip(starts, ends, strict=True), strict=True))


def _fits(borders: dict[str, tuple[int, int]], n_rows: int, window: int) -> bool:
    return all(start >= 0 and end <= n_rows and end - start >= window for start, end in borders.values())


@dataclass(frozen=True)
class ForecastData:
    """One series under the protocol, standardised with ``scaler`` fitted on the train rows only.

    ``columns`` are the model inputs, the target last (as Dataset_Custom orders them); ``out_columns`` are the
    forecast outputs: all columns in mode "M", the target alone in "S" and "MS" ("S" also inputs the target
    alone). ``scaled[split]`` holds the standardised input rows ``borders[split]`` of ``table`` (float64).
    """

    table: SeriesTable
    columns: list[str]
    out_columns: list[str]
    features: str
    lookback: int
    horizon: int
    kind: str
    borders: dict[str, tuple[int, int]]
    scaler: StandardScaler
    scaled: dict[str, np.ndarray]

    @property
    def out_index(self) -> list[int]:
        """Positions of ``out_columns`` among ``columns``."""
        return [self.columns.index(name) for name in self.out_columns]

    def windows(self, split: str) -> WindowDataset:
        """The stride-1 windows of ``split``: x (lookback, len(columns)), y (horizon, len(out_columns))."""
        name = f"{self.table.source} [{split}]"
        return WindowDataset(self.scaled[split], self.lookback, self.horizon, self.out_index, name=name)

    def inputs(self, split: str) -> np.ndarray:
        """Every window's x of ``split`` in window order: (windows, lookback, len(columns)), float32, scaled."""
        return self.windows(split).inputs()

    def targets(self, split: str) -> np.ndarray:
        """Every window's y of ``split`` in window order: (windows, horizon, len(out_columns)), float32, scaled."""
        return self.windows(split).targets()

    def dates(self, split: str) -> np.ndarray:
        """The dates of the rows of ``split`` (aligned with ``scaled[split]``)."""
        start, end = self.borders[split]
        return self.table.dates[start:end]

    def inverse_transform(self, values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """``values`` (any shape ending in len(out_columns), scaled units) in original units, same type."""
        if values.shape[-1] != len(self.out_columns):
            expected = len(self.out_columns)
            raise ValueError(f"last axis must have {expected} channels, got shape {tuple(values.shape)}")
        mean, scale = self.scaler.mean_[self.out_index], self.scaler.scale_[self.out_index]
        if isinstance(values, torch.Tensor):
            as_tensor = {"dtype": values.dtype, "device": values.device}
            return values * torch.as_tensor(scale, **as_tensor) + torch.as_tensor(mean, **as_tensor)
        return np.asarray(values) * scale + mean


def prepare_forecast(
    table: SeriesTable,
    lookback: int,
    horizon: int,
    features: str = "M",
    target: str | None = None,
    kind: str | None = None,
) -> ForecastData:
    """Split ``table`` by the protocol (``kind`` defaults to ``split_kind(table.source)``), fit a
    StandardScaler on the train rows and standardise every split. ``target`` defaults to the last column
    ("OT" for ETT). DataError for a bad mode, a missing target, a constant input column, a column too large to
    standardise in float64, a lookback or horizon
    that is not a positive integer, or a series too short for the splits: the one place a forecast's lookback and
    horizon are checked (``ForecastData.windows`` relies on it).
    """
    source = table.source
    if features not in FEATURES:
        raise DataError(f"{source}: unknown features mode {features!r}; use one of {', '.join(FEATURES)}")
    target = table.columns[-1] if target is None else target
    if target not in table.columns:
        raise DataError(f"{source}: target column {target!r} not found; columns: {', '.join(table.columns)}")
    columns = [target] if features == "S" else [c for c in table.columns if c != target] + [target]
    out_columns = columns if features == "M" else [target]
    kind = split_kind(source) if kind is None else kind
    borders = split_borders(len(table.values), lookback, kind, horizon, source)
    values = table.values[:, [table.columns.index(c) for c in columns]]
    start, end = borders["train"]
    train = values[start:end]
    constant = [name for name, spread in zip(columns, np.ptp(train, axis=0), strict=True) if spread == 0]
    if constant:
        raise DataError(
            f"{source}: constant column(s) {', '.join(constant)} over the train rows [{start}, {end}): "
            "a constant column cannot be standardised; drop it"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(train)
        scaled = scaler.transform(values)
    overflow = [name for name, finite in zip(columns, np.isfinite(scaled).all(axis=0), strict=True) if not finite]
    if overflow:
        biggest = {name: np.abs(values[:, columns.index(name)]).max() for name in overflow}
        raise DataError(
            f"{source}: column(s) {', '.join(f'{name} (up to {big:.3g})' for name, big in biggest.items())} overflow "
            "float64 when standardised: their train variance is not finite; rescale them (e.g. divide by a power of "
            "10) or drop them"
        )
    return ForecastData(
        table=table,
        columns=columns,
        out_columns=out_columns,
        features=features,
        lookback=lookback,
        horizon=horizon,
        kind=kind,
        borders=borders,
        scaler=scaler,
        scaled={split: scaled[start:end] for split, (start, end) in borders.items()},
    )
