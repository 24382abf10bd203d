"""Write what a forecast run logs for the dashboards besides its figure (formats in ``pipelines.artifacts``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from titans_ts.forecasting.data import ForecastData
from titans_ts.forecasting.metrics import window_errors
from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.forecasting.trace import memory_trace

MAX_WINDOWS = 100


def write_forecasts(path: Path, data: ForecastData, predictions: Mapping[str, np.ndarray]) -> None:
    """``FORECASTS`` at ``path`` for ``predictions`` (model name → every test window's forecast, scaled units)."""
    targets = data.targets("test")
    count = len(targets)
    picked = np.unique(np.linspace(0, count - 1, min(count, MAX_WINDOWS)).round().astype(int))
    rows = data.scaled["test"][:, data.out_index]
    arrays = {
        "channels": np.array(data.out_columns),
        "dates": np.datetime_as_string(data.dates("test"), unit="s"),
        "series": data.inverse_transform(rows).astype(np.float32),
        "lookback": np.array(data.lookback),
        "horizon": np.array(data.horizon),
        "windows": picked,
    }
    for name, values in predictions.items():
        arrays[f"forecast/{name}"] = data.inverse_transform(values[picked]).astype(np.float32)
        arrays[f"window_mse/{name}"] = window_errors(values, targets)["mse"].astype(np.float32)
    np.savez_compressed(path, **arrays)


def write_trace(path: Path, model: TitansForecastNet, data: ForecastData) -> None:
    """``TRACE`` at ``path``: the memory trace of ``model`` reading the test split as a stream."""
    rows = torch.as_tensor(data.scaled["test"], dtype=torch.float32, device=next(model.parameters()).device)
    trace = memory_trace(model, rows, data.out_columns)
    trace.insert(3, "date", pd.to_datetime(data.dates("test")[trace["row"].to_numpy()]))
    trace.to_parquet(path, index=False)
