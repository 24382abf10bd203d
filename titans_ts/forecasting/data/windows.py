"""Sliding (lookback, horizon) windows over a block of rows, as Time-Series-Library's forecasting datasets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from titans_ts.errors import DataError


class WindowDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Every window of ``rows`` (time x channels) with stride 1, none dropped.

    Item i is ``(x, y)`` with x = rows[i : i + lookback] (shape (lookback, C_in)) and
    y = rows[i + lookback : i + lookback + horizon, out_index] (shape (horizon, C_out); all channels when
    ``out_index`` is None), both float32 tensors. There are len(rows) - lookback - horizon + 1 windows;
    DataError if there are none. ``name`` (e.g. "ETTh1.csv.gz [test]") prefixes error messages. ``lookback`` and
    ``horizon`` are taken as checked (≥ 1) where the data was split (``split_borders``) or the model configured.
    """

    def __init__(
        self,
        rows: np.ndarray,
        lookback: int,
        horizon: int,
        out_index: Sequence[int] | None = None,
        name: str = "rows",
    ) -> None:
        data = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
        if data.ndim != 2:
            raise DataError(f"{name}: rows must be 2-D (time x channels), got shape {tuple(data.shape)}")
        self.count = window_count(data.shape[0], lookback, horizon, name)
        self.lookback = lookback
        self.horizon = horizon
        self.x_rows = data
        self.y_rows = data if out_index is None else data[:, list(out_index)].contiguous()

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index < 0:
            index += self.count
        if not 0 <= index < self.count:
            raise IndexError(f"window {index} out of range for {self.count} windows")
        start = index + self.lookback
        return self.x_rows[index:start], self.y_rows[start : start + self.horizon]

    def inputs(self) -> np.ndarray:
        """Every window's x stacked in window order: (windows, lookback, C_in), float32."""
        return sliding_windows(self.x_rows, self.lookback)[: self.count].numpy()

    def targets(self) -> np.ndarray:
        """Every window's y stacked in window order: (windows, horizon, C_out), float32."""
        return sliding_windows(self.y_rows[self.lookback :], self.horizon).numpy()


def window_count(n_rows: int, lookback: int, horizon: int, name: str = "rows") -> int:
    """How many stride-1 (lookback, horizon) windows ``n_rows`` rows hold; DataError (a ValueError) naming ``name``
    when none."""
    count = n_rows - lookback - horizon + 1
    if count <= 0:
        raise DataError(
            f"{name}: no windows: {n_rows} rows, but lookback {lookback} + horizon {horizon} needs at least "
            f"{lookback + horizon}"
        )
    return count


def sliding_windows(rows: torch.Tensor, length: int) -> torch.Tensor:
    """Every stride-1 window of ``length`` rows of ``rows`` (time x channels): (len(rows) - length + 1, length,
    channels), a view of ``rows``."""
    return rows.unfold(0, length, 1).transpose(1, 2)
