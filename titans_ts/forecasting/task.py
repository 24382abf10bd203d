"""``ForecastTask``: a forecaster trained with Lightning on (x, y) windows, or on streams of blocks with its memory
carried (``streams``, online-aware training), and ``fit_forecaster``, which runs it through the one fit of
``titans_ts.training.fit`` (best checkpoint on validation MSE: the online validation score when training online)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titans_ts.backbones import TitansState
from titans_ts.forecasting.data import ForecastData
from titans_ts.forecasting.metrics import errors, forecast_errors
from titans_ts.forecasting.online import window_forecasts
from titans_ts.forecasting.streams import StreamDataset, stream_loss
from titans_ts.training.fit import FitResult, fit_and_predict
from titans_ts.training.schedule import adam_with_schedule
from titans_ts.training.settings import TrainSettings

LOSS_FUNCTIONS = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.smooth_l1_loss}


class ForecastTask(L.LightningModule):
    """A forecaster (``model(x) -> (forecast, state)``) trained with ``settings.loss`` on (x, y) windows, or on streams
    (x (B, blocks, L, C_in), y (B, blocks, H, C_out), ``streams.stream_loss``); logs ``train_loss`` per epoch and
    ``val_mse``/``val_mae`` over all validation windows. With ``online_val`` (the validation rows, scaled, and their
    window targets) ``val_mse``/``val_mae`` are those of the validation split read online
    (``online.window_forecasts``) and the per-window scores are logged as ``val_frozen_mse``/``val_frozen_mae``.
    Stream batches (x, y, opens) of a ``streams.StreamDataset`` continue the state the previous batch left, detached,
    unless a stream opens."""

    def __init__(
        self, model: nn.Module, settings: TrainSettings, online_val: tuple[Tensor, Tensor] | None = None
    ) -> None:
        super().__init__()
        self.model, self.settings, self.online_val = model, settings, online_val
        self.loss = LOSS_FUNCTIONS[settings.loss]
        self.stream_state: TitansState | None = None

    def forward(self, x: Tensor) -> Tensor:
        """The forecasts of windows x, each from the model's initial state (the state it returns is not kept)."""
        return self.model(x)[0]

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[:2]
        if len(batch) == 3:
            state = None if batch[2].any() else self.stream_state
            loss, state = stream_loss(self.model, x, y, self.loss, state)
            self.stream_state = state.detach()
        else:
            loss = self.loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        found = errors(self(x), y)
        prefix = "val_frozen" if self.online_val is not None else "val"
        self.log(f"{prefix}_mse", found["mse"], prog_bar=True, batch_size=len(x))
        self.log(f"{prefix}_mae", found["mae"], batch_size=len(x))

    def on_validation_epoch_end(self) -> None:
        if self.online_val is None:
            return
        rows, targets = self.online_val
        forecasts = window_forecasts(self.model, rows.to(self.device), online=True)
        found = forecast_errors(forecasts, targets.to(self.device))
        self.log("val_mse", found["mse"], prog_bar=True)
        self.log("val_mae", found["mae"])

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0])

    def configure_optimizers(self) -> dict[str, Any]:
        return adam_with_schedule(self.parameters(), self.settings)


def fit_forecaster(
    model: nn.Module,
    data: ForecastData,
    settings: TrainSettings,
    checkpoints: Path,
    resume: bool = False,
    callbacks: list[L.Callback] | None = None,
    test: bool = True,
) -> FitResult:
    """Train ``model`` on ``data``'s train windows (with ``settings.train_online`` = n: on streams of n blocks, the
    memory carried, and selected on the online validation score), keep the checkpoint of the lowest validation MSE
    (``score``), and forecast every test window with it from M_0: ``predictions`` (windows, H, C_out), scaled units;
    with ``test=False`` (tuning) the test split is left alone."""
    splits = {split: data.windows(split) for split in ("train", "val", "test")[: 3 if test else 2]}
    online_val = None
    if settings.train_online:
        splits["train"] = StreamDataset(
            data.scaled["train"], data.lookback, data.horizon, settings.train_online, settings.tbptt_blocks,
            settings.batch_size, data.out_index, name=f"{data.table.source} [train]",
        )
        val_rows = torch.as_tensor(data.scaled["val"], dtype=torch.float32)
        online_val = (val_rows, torch.as_tensor(data.targets("val")))
    task = ForecastTask(model, settings, online_val)
    return fit_and_predict(task, splits, settings, checkpoints, "val_mse", "min", resume, callbacks)
