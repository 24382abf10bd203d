"""Forecasting baselines with the ``TitansForecastNet`` contract: (B, L, C_in) windows → (B, H, C_out) forecasts."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DLinear(nn.Module):
    """DLinear (Zeng et al., AAAI 2023): a moving average of ``kernel_size`` steps (edges padded by repetition)
    splits each channel into trend and seasonal parts; one linear map L → H per part, shared by all channels or
    one per channel (``individual``); the forecast is their sum. ``out_index`` picks the forecast channels."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_inputs: int,
        out_index: Sequence[int] | None = None,
        kernel_size: int = 25,
        individual: bool = False,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number; got {kernel_size}")
        self.kernel_size = kernel_size
        self.out_index = list(out_index) if out_index is not None else None
        n_maps = n_inputs if individual else 1
        self.seasonal = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))
        self.trend = nn.ModuleList(nn.Linear(lookback, horizon) for _ in range(n_maps))

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        """Forecasts (B, H, C_out) of the windows x (B, L, C_in); no state (the forecaster protocol of ``ForecastTask``:
        ``(forecast, state)``, None for a model without memory)."""
        series = x.transpose(1, 2)  # (B, C, L)
        pad = (self.kernel_size - 1) // 2
        trend = F.avg_pool1d(F.pad(series, (pad, pad), mode="replicate"), self.kernel_size, stride=1)
        seasonal = series - trend
        if len(self.seasonal) == 1:
            y = self.seasonal[0](seasonal) + self.trend[0](trend)
        else:
            y = _per_channel(self.seasonal, seasonal) + _per_channel(self.trend, trend)
        y = y.transpose(1, 2)  # (B, H, C)
        return (y if self.out_index is None else y[..., self.out_index]), None


def _per_channel(maps: nn.ModuleList, series: Tensor) -> Tensor:
    """``maps[c]`` applied to channel c of ``series`` (B, C, L) → (B, C, H)."""
    return torch.stack([linear(series[:, c]) for c, linear in enumerate(maps)], dim=1)
