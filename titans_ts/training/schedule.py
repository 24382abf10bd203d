"""``adam_with_schedule``: the optimiser of every titans-ts task, Adam at ``settings.lr`` with the per-epoch learning
rate of ``settings.lr_schedule``, in the form Lightning's ``configure_optimizers`` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from titans_ts.training.settings import TrainSettings


def adam_with_schedule(parameters: Iterable[torch.nn.Parameter], settings: TrainSettings) -> dict[str, Any]:
    """Adam at ``settings.lr``, then per epoch e: "constant" lr; "halving" lr·0.5^e; "cosine" lr·(1 + cos(π e / E))/2
    with E = ``settings.epochs``."""
    optimizer = torch.optim.Adam(parameters, lr=settings.lr)
    if settings.lr_schedule == "halving":
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    elif settings.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    else:
        scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
