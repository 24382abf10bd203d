"""PatchTST's learning rate under the forecast table's budget (issue 17): for each --lrs value, PatchTST (its authors'
encoder for the data set) trained on the protocol's windows of one data set and horizon with the table's settings,
and its validation MSE (the number the rate is chosen by) beside the test MSE. One line of JSON per rate.

    python bench/patchtst_lr.py --dataset ETTh1 --lrs 1e-4 1e-3 3e-3     # ~100 s a rate on one core
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import lightning as L

from titans_ts.forecasting.baselines import PatchTST, patchtst_hyperparameters
from titans_ts.forecasting.data import load_table, prepare_forecast, resolve_dataset
from titans_ts.forecasting.metrics import forecast_errors
from titans_ts.forecasting.task import fit_forecaster
from titans_ts.training.settings import TrainSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ETTh1", help="a benchmark by name (default: %(default)s)")
    parser.add_argument("--horizon", type=int, default=96, help="(default: %(default)s)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-4, 1e-3, 3e-3], help="(default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10, help="(default: %(default)s)")
    parser.add_argument("--max-train-batches", type=int, default=100, help="(default: %(default)s)")
    parser.add_argument("--lr-schedule", default="halving", help="(default: %(default)s)")
    args = parser.parse_args()
    data = prepare_forecast(load_table(resolve_dataset(args.dataset), duplicate_dates="keep"), 96, args.horizon)
    for lr in args.lrs:
        L.seed_everything(2021)
        model = PatchTST(96, args.horizon, len(data.columns), **patchtst_hyperparameters(args.dataset))
        settings = TrainSettings(
            lr=lr, epochs=args.epochs, patience=3, max_train_batches=args.max_train_batches,
            lr_schedule=args.lr_schedule, threads=1,
        )  # fmt: skip
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as checkpoints:
            fit = fit_forecaster(model, data, settings, Path(checkpoints))
        test = forecast_errors(fit.predictions, data.targets("test"))
        row = {"dataset": args.dataset, "horizon": args.horizon, "lr": lr, "val_mse": fit.score,
               "test_mse": test["mse"], "epochs": fit.epochs, "seconds": time.perf_counter() - start}  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
