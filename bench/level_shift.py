"""Does the online memory adapt where the frozen model cannot? ``titans_ts.forecasting.synthetic.level_shift_series``
(a mean-reverting series whose level is redrawn every 400 rows and shifts halfway through the test split; 4,000
hourly rows, lookback 16, horizon 16, no RevIN), a tiny forecaster trained per window or online (``--train-online``),
and its test MSE frozen vs online memory.

    python bench/level_shift.py --variant lmm --depth 1 --train-online 32 --seeds 0 1 2     # ~20 s a seed, one core
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from titans_ts import TitansConfig
from titans_ts.forecasting.data import prepare_forecast
from titans_ts.forecasting.model import ForecasterConfig, TitansForecastNet
from titans_ts.forecasting.online import compare_online
from titans_ts.forecasting.synthetic import level_shift_series
from titans_ts.forecasting.task import fit_forecaster
from titans_ts.training.settings import TrainSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="lmm", help="backbone variant (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=1, help="memory depth (default: %(default)s)")
    parser.add_argument("--train-online", type=int, default=0, help="blocks per training stream, 0 = frozen training")
    parser.add_argument("--alpha-max", type=float, default=0.1, help="bound of the forgetting gate (default: 0.1)")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="data and model seeds (default: 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        data = prepare_forecast(level_shift_series(seed), 16, 16, kind="custom")
        torch.manual_seed(seed)
        backbone = TitansConfig(variant=args.variant, memory_depth=args.depth, d_model=16, n_layers=1, n_heads=2,
                                chunk_size=4, window=8, segment_size=8, alpha_max=args.alpha_max)  # fmt: skip
        model = TitansForecastNet(ForecasterConfig(16, 16, 1, patch_len=4, stride=4, revin=False, backbone=backbone))
        settings = TrainSettings(lr=3e-3, epochs=args.epochs, patience=args.epochs, train_online=args.train_online,
                                 threads=1)  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            fit_forecaster(model, data, settings, Path(folder))
        scores = compare_online(model, data, "test").metrics()
        print(f"{args.variant} depth {args.depth} train_online {args.train_online} seed {seed}: test MSE frozen "
              f"{scores['frozen_mse']:.4f}, online {scores['online_mse']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
