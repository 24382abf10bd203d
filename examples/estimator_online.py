"""The estimator API and online forecasting on ETTh1, its 7 channels as 7 series of a long-format frame.

Fits ``Forecaster`` on the first 12 months, backtests it, then replays the next two weeks day by day: each day the
forecaster forecasts the next 24 hours, first frozen (``predict(df)``: the trained model on the last 96 rows) and
online (``update(day)`` then ``predict()``: the memories keep memorising the stream), and both are scored against
what came. Saves and reloads the forecaster with its streams. About a minute on an idle 2-core CPU:

    python examples/estimator_online.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import torch

from titans_ts.config import VARIANTS
from titans_ts.forecasting.data import load_table, resolve_dataset
from titans_ts.forecasting.estimator import FORECAST, Forecaster

HORIZON, LOOKBACK, DAY = 24, 96, 24


def etth1_long() -> pl.DataFrame:
    """ETTh1 (bundled) as a long-format polars frame: unique_id = channel, ds, y."""
    table = load_table(resolve_dataset("ETTh1"))
    return pl.concat(
        pl.DataFrame({"unique_id": name, "ds": table.dates, "y": table.values[:, j]})
        for j, name in enumerate(table.columns)
    )


def mae(forecast: pd.DataFrame | pl.DataFrame, truth: pd.DataFrame) -> float:
    """Mean absolute error of a forecast frame (pandas or polars, as the input it came from) against ``truth``."""
    forecast = forecast.to_pandas() if isinstance(forecast, pl.DataFrame) else forecast
    joined = forecast.merge(truth, on=["unique_id", "ds"])
    return float(np.mean(np.abs(joined[FORECAST] - joined["y"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=VARIANTS, default="mag", help="the Titans variant (default: %(default)s)")
    parser.add_argument("--days", type=int, default=14, help="days of the online replay (default: %(default)s)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads; a model this small runs fastest on one (default: 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frame = etth1_long()
    start = frame["ds"].min()
    fit_end = start + pd.Timedelta(days=360)
    train = frame.filter(pl.col("ds") < fit_end)

    forecaster = Forecaster(
        HORIZON, LOOKBACK, args.variant, d_model=32, n_layers=1, epochs=2, max_train_batches=50, batch_size=64
    )
    forecaster.fit(train)  # polars in, polars out; freq "h" is inferred
    print(f"fitted on {train.height} rows of {train['unique_id'].n_unique()} series, val MSE {forecaster.val_mse:.3f}")
    print(forecaster.predict().head(3))

    backtest = forecaster.cross_validation(train, n_windows=3).to_pandas()
    print(f"cross-validation, 3 windows of {HORIZON} h: MAE {np.mean(np.abs(backtest[FORECAST] - backtest['y'])):.3f}")

    # cross_validation refitted the model on the rows before its first cutoff: fit again on all of train.
    forecaster.fit(train)
    history = train.to_pandas()  # pandas works the same
    frozen, online = [], []
    for day in range(args.days):
        begin = fit_end + pd.Timedelta(days=day)
        truth = frame.filter(pl.col("ds") >= begin, pl.col("ds") < begin + pd.Timedelta(hours=HORIZON)).to_pandas()
        frozen.append(mae(forecaster.predict(history), truth))
        online.append(mae(forecaster.predict(), truth))
        new = frame.filter(pl.col("ds") >= begin, pl.col("ds") < begin + pd.Timedelta(hours=DAY)).to_pandas()
        forecaster.update(new)  # the memories read the day; no trained weight changes
        history = pd.concat([history, new])
    print(f"{args.days} daily forecasts of {HORIZON} h: MAE frozen {np.mean(frozen):.3f}, online {np.mean(online):.3f}")

    with tempfile.TemporaryDirectory() as folder:
        forecaster.save(Path(folder) / "forecaster.pt")
        reloaded = Forecaster.load(Path(folder) / "forecaster.pt")
    same = reloaded.predict().equals(forecaster.predict())
    print(f"saved and reloaded with its streams: identical online forecasts: {same}")


if __name__ == "__main__":
    main()
