"""Does the online memory adapt where the frozen model cannot? A generated series whose level jumps every 150 rows in
the train split and shifts once, halfway through the test split (3,000 hourly rows, lookback 16, horizon 4, no RevIN),
a tiny forecaster trained frozen or online (``--train-online``), and its test MSE frozen vs online memory.

    python bench/level_shift.py --variant mag --train-online 32 --depth 1     # ~20 s on one core
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from titans_ts import TitansConfig
from titans_ts.forecasting.data import ForecastData, SeriesTable, prepare_forecast
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import compare_online
from titans_ts.forecasting.task import fit_forecaster
from titans_ts.training.settings import TrainSettings


def level_shift_data(seed: int, rows: int = 3000) -> ForecastData:
    """Level + a 12-row season + noise; the level jumps every 150 rows over the first 70 % (train), is 0 from there
    to 90 % (validation and the first half of test) and 3 after."""
    rng = np.random.default_rng(seed)
    level = np.zeros(rows)
    for start in range(0, int(0.7 * rows), 150):
        level[start : start + 150] = rng.normal(0, 1.5)
    level[int(0.7 * rows) : int(0.9 * rows)] = 0.0
    level[int(0.9 * rows) :] = 3.0
    t = np.arange(rows)
    values = level + 0.5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, rows)
    dates = np.arange("2024-01-01", rows, dtype="datetime64[h]")
    return prepare_forecast(SeriesTable(dates, values[:, None], ["y"], "level_shift", "h"), 16, 4, kind="custom")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="mag", help="backbone variant (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=2, help="memory depth (default: %(default)s)")
    parser.add_argument("--train-online", type=int, default=0, help="blocks per training stream, 0 = frozen training")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="data and model seeds (default: 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        data = level_shift_data(seed)
        torch.manual_seed(seed)
        backbone = TitansConfig(variant=args.variant, memory_depth=args.depth, d_model=16, n_layers=1, n_heads=2,
                                chunk_size=4, window=8, segment_size=8)  # fmt: skip
        model = TitansForecastNet(ForecasterConfig(16, 4, 1, patch_len=4, stride=4, revin=False, backbone=backbone))
        settings = TrainSettings(lr=3e-3, epochs=6, patience=6, train_online=args.train_online, threads=1)
        with tempfile.TemporaryDirectory() as folder:
            fit_forecaster(model, data, settings, Path(folder))
        scores = compare_online(model, data, "test").metrics()
        print(f"{args.variant} depth {args.depth} train_online {args.train_online} seed {seed}: test MSE frozen "
              f"{scores['frozen_mse']:.4f}, online {scores['online_mse']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
