"""Training a forecaster with Lightning on the windows of ``ForecastData``, and its test-set forecasts.

Train windows are shuffled; validation and test windows keep their order and none is dropped. The checkpoint
directory holds ``last.ckpt`` (written after every epoch, the one ``resume`` continues from) and ``best.ckpt`` (lowest
validation MSE, early stopping watches the same metric), and the test forecasts come from ``best.ckpt``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from torch import Tensor, nn
from torch.utils.data import DataLoader

from pipelines.settings import TrainSettings
from titans_ts.data import ForecastData

LOSS_FUNCTIONS = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.smooth_l1_loss}


@dataclass(frozen=True)
class FitResult:
    """``predictions``: test forecasts (windows, H, C_out) of the best checkpoint, scaled units; ``val_mse``: its
    validation MSE; ``epochs``: epochs trained in all (resumed ones included); ``seconds``: training wall-clock of
    this call."""

    predictions: np.ndarray
    val_mse: float
    epochs: int
    seconds: float


class ForecastTask(L.LightningModule):
    """A forecaster trained on (x, y) windows with ``settings.loss``; logs ``train_loss`` per epoch and
    ``val_mse``/``val_mae`` over all validation windows."""

    def __init__(self, model: nn.Module, settings: TrainSettings) -> None:
        super().__init__()
        self.model, self.settings = model, settings
        self.loss = LOSS_FUNCTIONS[settings.loss]

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        prediction = self(x)
        self.log("val_mse", F.mse_loss(prediction, y), prog_bar=True, batch_size=len(x))
        self.log("val_mae", F.l1_loss(prediction, y), batch_size=len(x))

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


def fit_and_predict(
    model: nn.Module,
    data: ForecastData,
    settings: TrainSettings,
    checkpoints: Path,
    resume: bool = False,
    callbacks: list[L.Callback] | None = None,
) -> FitResult:
    """Train ``model`` on ``data``'s train windows (resuming from ``checkpoints/last.ckpt`` when ``resume`` and it
    exists), keep the checkpoint of the lowest validation MSE, and forecast every test window with it."""
    loader = {
        split: DataLoader(data.windows(split), batch_size=settings.batch_size, shuffle=split == "train")
        for split in ("train", "val", "test")
    }
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename="best",
        monitor="val_mse",
        mode="min",
        save_last=True,
        enable_version_counter=False,
    )
    trainer = L.Trainer(
        accelerator=settings.accelerator,
        devices=1,
        max_epochs=settings.epochs,
        limit_train_batches=settings.max_train_batches,
        callbacks=[best, EarlyStopping(monitor="val_mse", mode="min", patience=settings.patience), *(callbacks or [])],
        deterministic="warn",
        logger=False,
        default_root_dir=checkpoints,
        enable_model_summary=False,
    )
    task = ForecastTask(model, settings)
    last = checkpoints / "last.ckpt"
    start = time.perf_counter()
    trainer.fit(task, loader["train"], loader["val"], ckpt_path=last if resume and last.is_file() else None)
    seconds = time.perf_counter() - start
    batches = trainer.predict(task, loader["test"], ckpt_path=best.best_model_path)
    return FitResult(
        predictions=torch.cat(batches).cpu().numpy(),
        val_mse=float(best.best_model_score),
        epochs=trainer.current_epoch,
        seconds=seconds,
    )
