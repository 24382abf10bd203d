"""``ForecastTask``: a forecaster trained with Lightning on (x, y) windows, and ``fit_forecaster``, which runs it
through the one fit of ``titans_ts.training.fit`` (best checkpoint on validation MSE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titans_ts.forecasting.data import ForecastData
from titans_ts.forecasting.metrics import errors
from titans_ts.training.fit import FitResult, fit_and_predict
from titans_ts.training.settings import TrainSettings

LOSS_FUNCTIONS = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.smooth_l1_loss}


class ForecastTask(L.LightningModule):
    """A forecaster (``model(x) -> (forecast, state)``) trained on (x, y) windows with ``settings.loss``; logs
    ``train_loss`` per epoch and ``val_mse``/``val_mae`` over all validation windows."""

    def __init__(self, model: nn.Module, settings: TrainSettings) -> None:
        super().__init__()
        self.model, self.settings = model, settings
        self.loss = LOSS_FUNCTIONS[settings.loss]

    def forward(self, x: Tensor) -> Tensor:
        """The forecasts of windows x, each from the model's initial state (the state it returns is not kept)."""
        return self.model(x)[0]

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        found = errors(self(x), y)
        self.log("val_mse", found["mse"], prog_bar=True, batch_size=len(x))
        self.log("val_mae", found["mae"], batch_size=len(x))

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0])

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.settings.lr)
        schedule = self.settings.lr_schedule
        if schedule == "halving":
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        elif schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.settings.epochs)
        else:
            scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def fit_forecaster(
    model: nn.Module,
    data: ForecastData,
    settings: TrainSettings,
    checkpoints: Path,
    resume: bool = False,
    callbacks: list[L.Callback] | None = None,
) -> FitResult:
    """Train ``model`` on ``data``'s train windows, keep the checkpoint of the lowest validation MSE (``score``), and
    forecast every test window with it: ``predictions`` (windows, H, C_out), scaled units."""
    splits = {split: data.windows(split) for split in ("train", "val", "test")}
    return fit_and_predict(
        ForecastTask(model, settings), splits, settings, checkpoints, "val_mse", "min", resume, callbacks
    )
