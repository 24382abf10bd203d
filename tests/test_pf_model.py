"""TitansPF: Titans as a pytorch-forecasting model on a TimeSeriesDataSet with covariates and quantiles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning as L
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from pytorch_forecasting import GroupNormalizer, TimeSeriesDataSet
from pytorch_forecasting.metrics import MAE, QuantileLoss

from titans_ts.config import TitansConfig
from titans_ts.forecasting.pf_model import TitansPF

matplotlib.use("Agg")
ENCODER, PREDICTION = 24, 6
TINY = TitansConfig(d_model=16, n_layers=1, n_heads=2, chunk_size=4, segment_size=8, window=8, dropout=0.1)


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(90)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "shop": f"shop{g}",
                    "time_idx": t,
                    "sales": 10 + g + 3 * np.sin(t / 8) + np.sin(t / 6 + g) + rng.normal(0, 0.2, len(t)),
                    "promo": np.sin(t / 6 + g),
                    "weekday": (t % 7).astype(str),
                    "region": "north" if g % 2 else "south",
                    "size": float(g),
                }
            )
            for g in range(4)
        ],
        ignore_index=True,
    )


def dataset(data: pd.DataFrame, **overrides: object) -> TimeSeriesDataSet:
    options = {
        "time_idx": "time_idx",
        "target": "sales",
        "group_ids": ["shop"],
        "max_encoder_length": ENCODER,
        "max_prediction_length": PREDICTION,
        "static_categoricals": ["region"],
        "static_reals": ["size"],
        "time_varying_known_reals": ["promo"],
        "time_varying_known_categoricals": ["weekday"],
        "time_varying_unknown_reals": ["sales"],
        "target_normalizer": GroupNormalizer(groups=["shop"]),
        **overrides,
    }
    return TimeSeriesDataSet(data, **options)


def quiet() -> dict[str, object]:
    """Trainer options for ``predict``, whose own Trainer would otherwise log to ./lightning_logs (a new dict each
    time: ``predict`` adds its callback to the one it is given)."""
    return {"logger": False}


def test_trains_with_covariates_and_quantiles_then_predicts_and_plots() -> None:
    data = frame()
    training = dataset(data[data.time_idx < 70])
    validation = TimeSeriesDataSet.from_dataset(training, data, predict=True, stop_randomization=True)
    L.seed_everything(0)
    model = TitansPF.from_dataset(
        training, config=TINY, loss=QuantileLoss(), patch_len=4, stride=4, hidden_size=16, learning_rate=3e-3
    )
    assert model.hparams.output_size == 7 and model.static_size > 0 and model.decoder_covariate_size > 0
    before = [p.detach().clone() for p in model.parameters()]
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, training.to_dataloader(train=True, batch_size=16))
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    raw = model.predict(
        validation.to_dataloader(train=False, batch_size=8), mode="raw", return_x=True, trainer_kwargs=quiet()
    )
    assert raw.output.prediction.shape == (4, PREDICTION, 7)  # 4 shops, 7 quantiles
    assert torch.isfinite(raw.output.prediction).all()
    point = model.predict(validation, mode="prediction", trainer_kwargs=quiet())
    assert point.shape == (4, PREDICTION) and float(point.mean()) > 5  # in sales units, not normalised
    figure = model.plot_prediction(raw.x, raw.output, idx=0)
    assert figure.axes
    matplotlib.pyplot.close(figure)


def test_variants_and_targets_without_covariates() -> None:
    data = frame()
    training = dataset(
        data, static_categoricals=[], static_reals=[], time_varying_known_reals=[], time_varying_known_categoricals=[]
    )
    model = TitansPF.from_dataset(training, config=dataclasses.replace(TINY, variant="mac"), patch_len=6, stride=3)
    assert isinstance(model.loss, MAE) and model.static_size == model.decoder_covariate_size == 0
    x, _ = next(iter(training.to_dataloader(train=False, batch_size=5)))
    assert model(x)["prediction"].shape == (5, PREDICTION, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_encoder_length": 12}, "fixed encoder length"),
        ({"time_varying_unknown_reals": []}, "must be in time_varying_unknown_reals"),
    ],
)
def test_from_dataset_refuses_what_it_cannot_model(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TitansPF.from_dataset(dataset(frame(), **overrides), config=TINY)


def test_config_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    """The backbone is one ``TitansConfig``; the hparams hold its plain dict, so a trained checkpoint loads back."""
    data = frame()
    training = dataset(data)
    config = dataclasses.replace(TINY, variant="mal", memory_depth=1, gates="chunk", ffn_mult=2, learned_init=False)
    L.seed_everything(0)
    model = TitansPF.from_dataset(training, config=config, patch_len=4, stride=4, hidden_size=8)
    assert model.config == config and model.hparams.config == config.to_dict()
    assert all(isinstance(value, (str, int, float, bool)) for value in model.hparams.config.values())
    trainer = L.Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, training.to_dataloader(train=True, batch_size=16))
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = TitansPF.load_from_checkpoint(tmp_path / "model.ckpt")
    assert loaded.config == config and loaded.hparams.config == config.to_dict()
    x, _ = next(iter(training.to_dataloader(train=False, batch_size=5)))
    model.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)["prediction"], model(x)["prediction"])
    rebuilt = TitansPF.from_dataset(training, config=config.to_dict(), patch_len=4, stride=4, hidden_size=8)
    assert rebuilt.config == config


def test_loose_backbone_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match=r"config=TitansConfig\(...\), not d_model, dropout"):
        TitansPF.from_dataset(dataset(frame()), d_model=16, dropout=0.1)
