"""Forecasting data: read a dated CSV/Parquet table, split and scale it by the long-term-forecasting protocol,
and serve sliding windows."""

from titans_ts.errors import DataError
from titans_ts.forecasting.data.catalog import available_datasets, resolve_dataset
from titans_ts.forecasting.data.splits import ForecastData, min_rows, prepare_forecast, split_borders, split_kind
from titans_ts.forecasting.data.table import (
    DUPLICATE_POLICIES,
    MISSING_DATE_POLICIES,
    NAN_POLICIES,
    TABLE_SUFFIXES,
    TABLE_SUFFIXES_TEXT,
    SeriesTable,
    load_table,
    table_stem,
)
from titans_ts.forecasting.data.windows import WindowDataset, sliding_windows, window_count

__all__ = [
    "DUPLICATE_POLICIES",
    "MISSING_DATE_POLICIES",
    "NAN_POLICIES",
    "TABLE_SUFFIXES",
    "TABLE_SUFFIXES_TEXT",
    "DataError",
    "ForecastData",
    "SeriesTable",
    "WindowDataset",
    "available_datasets",
    "load_table",
    "min_rows",
    "prepare_forecast",
    "resolve_dataset",
    "sliding_windows",
    "window_count",
    "split_borders",
    "split_kind",
    "table_stem",
]
