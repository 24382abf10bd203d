"""Titans in pytorch-forecasting: ``TitansPF`` on two multi-series panels, with quantile forecasts.

1. A generated panel: 8 shops, a static region and size, a known promotion signal and weekday, unknown sales.
2. ETTh1 with its 7 channels as 7 series (group id "channel", a static categorical), the hour of day known ahead:
   12 months to train, the week after them to validate.

Each panel: a ``TimeSeriesDataSet`` with a per-series ``GroupNormalizer``, ``TitansPF.from_dataset`` with
``QuantileLoss``, a short Lightning fit, the validation MAE of the median next to a last-value baseline, and one
``plot_prediction`` figure per panel in --out. About a minute on 2 CPU cores:

    python examples/pytorch_forecasting_panel.py --out figures/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import lightning as L
import matplotlib
import numpy as np
import pandas as pd
import torch
from pytorch_forecasting import Baseline, GroupNormalizer, TimeSeriesDataSet
from pytorch_forecasting.metrics import MAE, QuantileLoss

from titans_ts.config import TitansConfig
from titans_ts.forecasting.data import load_table, resolve_dataset
from titans_ts.forecasting.pf_model import TitansPF

matplotlib.use("Agg")
BACKBONE = TitansConfig(variant="mag", d_model=32, n_layers=1, n_heads=4, chunk_size=8, dropout=0.1)


def generated_panel(shops: int = 8, steps: int = 400, seed: int = 0) -> pd.DataFrame:
    """Daily sales of ``shops`` shops: level by size, weekly season, promotions that lift sales, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    frames = []
    for shop in range(shops):
        promo = (rng.random(steps) < 0.1).astype(float)
        size = float(rng.integers(1, 5))
        sales = 20 * size + 5 * np.sin(2 * np.pi * t / 7 + shop) + 15 * promo + rng.normal(0, 2, steps)
        frames.append(
            pd.DataFrame(
                {
                    "shop": f"shop{shop}",
                    "time_idx": t,
                    "sales": sales,
                    "promo": promo,
                    "weekday": (t % 7).astype(str),
                    "region": "north" if shop % 2 else "south",
                    "size": size,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def etth1_panel(months: int = 13) -> pd.DataFrame:
    """The first ``months`` months of ETTh1 (bundled), long format: one series per channel."""
    table = load_table(resolve_dataset("ETTh1"))
    rows = months * 30 * 24
    frames = [
        pd.DataFrame(
            {
                "channel": name,
                "time_idx": np.arange(rows),
                "value": table.values[:rows, j],
                "hour": pd.DatetimeIndex(table.dates[:rows]).hour.astype(str),
            }
        )
        for j, name in enumerate(table.columns)
    ]
    return pd.concat(frames, ignore_index=True)


def fit_panel(
    name: str, data: pd.DataFrame, options: dict, cutoff: int, span: int, epochs: int, out: Path, **model: object
) -> None:
    """Train on ``time_idx < cutoff``, validate on the windows of the next ``span`` steps, print the MAEs and save
    a figure."""
    training = TimeSeriesDataSet(data[data.time_idx < cutoff], **options)
    later = data[data.time_idx < cutoff + span]
    validation = TimeSeriesDataSet.from_dataset(training, later, min_prediction_idx=cutoff, stop_randomization=True)
    train_loader = training.to_dataloader(train=True, batch_size=64)
    val_loader = validation.to_dataloader(train=False, batch_size=256)
    L.seed_everything(0)
    network = TitansPF.from_dataset(
        training, config=BACKBONE, loss=QuantileLoss(), learning_rate=3e-3, hidden_size=32, **model
    )
    trainer = L.Trainer(
        max_epochs=epochs, limit_train_batches=40, gradient_clip_val=0.5, logger=False, enable_checkpointing=False
    )
    trainer.fit(network, train_loader, val_loader)
    quiet = {"logger": False, "enable_progress_bar": False}
    median = network.predict(val_loader, return_y=True, trainer_kwargs=dict(quiet))
    last = Baseline().predict(val_loader, return_y=True, trainer_kwargs=dict(quiet))
    print(
        f"{name}: {len(validation)} validation windows, MAE of the median {MAE()(median.output, median.y):.3f}, "
        f"last-value baseline {MAE()(last.output, last.y):.3f}"
    )
    raw = network.predict(val_loader, mode="raw", return_x=True, trainer_kwargs=dict(quiet))
    figure = network.plot_prediction(raw.x, raw.output, idx=0, add_loss_to_title=True)
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / f"{name}.png", dpi=100)
    print(f"{name}: forecast with quantiles of the first validation window in {out / (name + '.png')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of at most 40 batches (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder of the figures (default: figures)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads; a model this small runs fastest on one (default: 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shops = {
        "time_idx": "time_idx",
        "target": "sales",
        "group_ids": ["shop"],
        "max_encoder_length": 56,
        "max_prediction_length": 14,
        "static_categoricals": ["region"],
        "static_reals": ["size"],
        "time_varying_known_reals": ["promo"],
        "time_varying_known_categoricals": ["weekday"],
        "time_varying_unknown_reals": ["sales"],
        "target_normalizer": GroupNormalizer(groups=["shop"]),
    }
    fit_panel("generated", generated_panel(), shops, 300, 100, args.epochs, args.out, patch_len=7, stride=7)
    channels = {
        "time_idx": "time_idx",
        "target": "value",
        "group_ids": ["channel"],
        "max_encoder_length": 96,
        "max_prediction_length": 24,
        "static_categoricals": ["channel"],
        "time_varying_known_categoricals": ["hour"],
        "time_varying_unknown_reals": ["value"],
        "target_normalizer": GroupNormalizer(groups=["channel"]),
    }
    fit_panel(
        "etth1-channels", etth1_panel(), channels, 12 * 30 * 24, 7 * 24, args.epochs, args.out, patch_len=16, stride=8
    )


if __name__ == "__main__":
    main()
