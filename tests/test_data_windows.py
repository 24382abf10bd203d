"""Sliding windows: contents, dtypes and shapes, and the exact Time-Series-Library window counts on ETTh1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from titans_ts.forecasting.data import (
    DataError,
    SeriesTable,
    WindowDataset,
    load_table,
    prepare_forecast,
    resolve_dataset,
    sliding_windows,
)


def test_window_contents_and_count() -> None:
    rows = np.arange(20 * 3, dtype=np.float64).reshape(20, 3)
    windows = WindowDataset(rows, lookback=5, horizon=4, out_index=[2])
    assert len(windows) == 20 - 5 - 4 + 1
    for i in (0, 7, len(windows) - 1):
        x, y = windows[i]
        assert x.dtype == y.dtype == torch.float32
        np.testing.assert_array_equal(x.numpy(), rows[i : i + 5])
        np.testing.assert_array_equal(y.numpy(), rows[i + 5 : i + 9, [2]])
    np.testing.assert_array_equal(windows[-1][1].numpy(), rows[16:20, [2]])
    with pytest.raises(IndexError):
        windows[len(windows)]
    assert len(list(windows)) == len(windows)
    targets = windows.targets()
    assert targets.dtype == np.float32 and targets.shape == (len(windows), 4, 1)
    np.testing.assert_array_equal(targets, np.stack([windows[i][1].numpy() for i in range(len(windows))]))
    inputs = windows.inputs()
    assert inputs.dtype == np.float32 and inputs.shape == (len(windows), 5, 3)
    np.testing.assert_array_equal(inputs, np.stack([windows[i][0].numpy() for i in range(len(windows))]))


def test_sliding_windows() -> None:
    rows = torch.arange(12.0).view(6, 2)
    windows = sliding_windows(rows, 4)
    assert windows.shape == (3, 4, 2)
    torch.testing.assert_close(windows[2], rows[2:6], rtol=0, atol=0)


def test_split_inputs_and_targets_are_its_windows() -> None:
    rng = np.random.default_rng(0)
    dates = np.arange("2024-01-01", 120, dtype="datetime64[h]")
    table = SeriesTable(dates, rng.normal(size=(120, 3)), ["a", "b", "c"], "toy.csv", "h")
    data = prepare_forecast(table, lookback=8, horizon=3, features="MS", target="b")
    for split in ("train", "val", "test"):
        windows = data.windows(split)
        inputs, targets = data.inputs(split), data.targets(split)
        assert inputs.shape == (len(windows), 8, 3) and targets.shape == (len(windows), 3, 1)
        for i in (0, len(windows) - 1):
            np.testing.assert_array_equal(inputs[i], windows[i][0].numpy())
            np.testing.assert_array_equal(targets[i], windows[i][1].numpy())
        # window i's target is the last 3 input rows of window i + 3 (b, the target, is the last input column)
        np.testing.assert_array_equal(targets[:-3, :, 0], inputs[3:, -3:, -1])


def test_batches_from_a_data_loader() -> None:
    windows = WindowDataset(np.random.default_rng(0).normal(size=(50, 4)), lookback=8, horizon=3)
    x, y = next(iter(DataLoader(windows, batch_size=16, shuffle=True)))
    assert x.shape == (16, 8, 4) and y.shape == (16, 3, 4)


@pytest.mark.parametrize(
    ("shape", "lookback", "horizon", "message"),
    [
        ((10, 2), 8, 3, r"test rows: no windows: 10 rows, but lookback 8 \+ horizon 3 needs at least 11$"),
        ((10,), 4, 2, r"test rows: rows must be 2-D \(time x channels\), got shape \(10,\)$"),
    ],
)
def test_bad_windows_raise_data_errors(
    shape: tuple[int, ...], lookback: int, horizon: int, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        WindowDataset(np.zeros(shape), lookback, horizon, name="test rows")


@pytest.mark.parametrize("horizon", [96, 192, 336, 720])
def test_etth1_window_counts(horizon: int) -> None:
    data = prepare_forecast(load_table(resolve_dataset("ETTh1")), lookback=96, horizon=horizon)
    counts = {split: len(data.windows(split)) for split in ("train", "val", "test")}
    assert counts == {"train": 8640 - 96 - horizon + 1, "val": 2880 - horizon + 1, "test": 2880 - horizon + 1}
    x, y = data.windows("test")[counts["test"] - 1]
    assert x.shape == (96, 7) and y.shape == (horizon, 7)
    np.testing.assert_allclose(y[-1].numpy(), data.scaled["test"][-1], rtol=1e-6)
