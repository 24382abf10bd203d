"""Online fine-tuning: the baseline that test-time memorisation has to beat. The same trained ``TitansForecastNet``,
its memories frozen (every window forecast from M_0, as in training), reads a split as a stream and its weights are
updated by gradient descent on the targets as they are revealed: the "OnlineTCN" baseline of the online
forecasting literature (FSNet, Pham et al., ICLR 2023), applied to the model at hand.

The protocol is the one of ``online.window_forecasts``, so the two are compared window for window. The stream is cut
into blocks of L = lookback rows from its first row; the windows starting in block b (starts in [bL, (b+1)L)) are
forecast together. Window j's target, rows j + L … j + L + H − 1, is fully revealed once the forecast window starting
at bL has its lookback (rows up to bL + L − 1), i.e. for j ≤ bL − H. So before the windows of block b ≥ 1 are
forecast, ``steps`` gradient steps of the training loss (MSE) are taken on the windows revealed since the previous
update, (b − 1)L − H < j ≤ bL − H (all of them one batch), and no forecast ever uses a target row it has not seen.
Where the online memory carries what the blocks taught its memories, fine-tuning carries what they taught every
weight (the memories' M_0 included).

The optimiser is Adam, as in training: plain SGD's step scales with the gradient, so one learning rate does not
transfer across models and data sets, and FSNet's baselines fine-tune with the optimiser they trained with. Its
learning rate is chosen on the validation split (``choose_finetune_lr``). The caller's model is never changed: the
updates go to a deep copy, run in eval mode (no dropout).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from titans_ts.forecasting.data import sliding_windows, window_count
from titans_ts.forecasting.metrics import forecast_errors
from titans_ts.forecasting.model import TitansForecastNet

FINETUNE_LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
"""The learning rates ``choose_finetune_lr`` tries by default."""

FINETUNE_VAL_WINDOWS = 2880
"""The validation windows ``choose_finetune_lr`` scores each rate on by default: the first 2,880 (ETTh's validation
split whole, four months of hourly rows; a bounded prefix of the longer ones, so the choice costs the same on each)."""


def finetune_forecasts(
    model: TitansForecastNet, rows: Tensor | np.ndarray, lr: float, steps: int = 1, batch_size: int = 256
) -> Tensor:
    """Forecasts (windows, H, C_out) of the stride-1 windows of ``rows`` (time, C_in; scaled) in ``WindowDataset``
    order, each from M_0 by a copy of ``model`` fine-tuned online with Adam at learning rate ``lr``: ``steps``
    gradient steps on the newly revealed windows before each block's forecasts (see the module docstring).
    ``batch_size`` bounds the windows of one forward pass (a step on more windows accumulates their gradients)."""
    if lr < 0 or steps < 0:
        raise ValueError(f"lr and steps must be ≥ 0; got lr {lr}, steps {steps}")
    lookback, horizon = model.config.lookback, model.config.horizon
    device = next(model.parameters()).device
    rows = torch.as_tensor(rows, dtype=torch.float32, device=device)
    count = window_count(rows.shape[0], lookback, horizon)
    out_index = model.config.out_index
    windows = sliding_windows(rows, lookback)[:count]
    targets = sliding_windows((rows if out_index is None else rows[:, list(out_index)])[lookback:], horizon)
    tuned = copy.deepcopy(model).eval()
    weights = [p for p in tuned.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(weights, lr=lr)
    forecasts = []
    for block in range(math.ceil(count / lookback)):
        first, stop = max(0, (block - 1) * lookback - horizon + 1), min(block * lookback - horizon + 1, count)
        if block and stop > first:
            for _ in range(steps):
                _step(tuned, optimizer, windows[first:stop], targets[first:stop], batch_size)
        with torch.no_grad():
            for start in range(block * lookback, min((block + 1) * lookback, count), batch_size):
                end = min(start + batch_size, (block + 1) * lookback, count)
                forecasts.append(tuned(windows[start:end])[0])
    return torch.cat(forecasts)


def _step(model: TitansForecastNet, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, batch_size: int) -> None:
    """One optimiser step on the mean squared error over all windows x (B, L, C_in) against y (B, H, C_out)."""
    optimizer.zero_grad(set_to_none=True)
    with torch.enable_grad():
        for start in range(0, len(x), batch_size):
            part = slice(start, start + batch_size)
            loss = F.mse_loss(model(x[part])[0], y[part]) * (len(x[part]) / len(x))
            loss.backward()
    optimizer.step()


def choose_finetune_lr(
    model: TitansForecastNet,
    rows: Tensor | np.ndarray,
    targets: np.ndarray,
    lrs: Sequence[float] = FINETUNE_LRS,
    steps: int = 1,
    batch_size: int = 256,
    max_windows: int | None = FINETUNE_VAL_WINDOWS,
) -> tuple[float, dict[float, float]]:
    """The learning rate of ``lrs`` whose online fine-tuning (``finetune_forecasts``) forecasts the windows of
    ``rows`` (the validation split, scaled) with the lowest MSE against ``targets`` (windows, H, C_out), and the MSE
    of each (NaN where the fine-tuning diverged; such a rate is never chosen unless all are NaN). Only the first
    ``max_windows`` windows are read (None: all)."""
    if not lrs:
        raise ValueError("lrs is empty")
    if max_windows is not None:
        rows = rows[: max_windows + model.config.lookback + model.config.horizon - 1]
        targets = targets[:max_windows]
    scores = {}
    for lr in lrs:
        forecasts = finetune_forecasts(model, rows, lr, steps, batch_size).cpu().numpy()
        scores[lr] = forecast_errors(forecasts, np.asarray(targets))["mse"]
    best = min(scores, key=lambda lr: (math.isnan(scores[lr]), scores[lr]))
    return best, scores
