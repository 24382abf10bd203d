"""Forecasting baselines with the ``TitansForecastNet`` contract: (B, L, C_in) windows → (B, H, C_out) forecasts:
DLinear (the linear peer) and PatchTST (the patch Transformer peer), each as Time-Series-Library builds it."""

from __future__ import annotations

import math
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


class PatchTST(nn.Module):
    """PatchTST (Nie et al., ICLR 2023) as Time-Series-Library builds it: each window is normalised per channel
    (mean and standard deviation over the lookback, undone on the forecast), every channel on its own is padded at
    the end by ``stride`` (repeating its last value) and cut into patches of ``patch_len`` every ``stride`` steps,
    each patch embedded linearly plus a sinusoidal position, ``e_layers`` post-norm Transformer encoder layers (GELU,
    ``d_ff``, ``dropout``) and a batch norm, then the flattened patch embeddings map linearly to the H steps.
    ``out_index`` picks the forecast channels."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        n_inputs: int,
        out_index: Sequence[int] | None = None,
        patch_len: int = 16,
        stride: int = 8,
        d_model: int = 512,
        n_heads: int = 8,
        e_layers: int = 2,
        d_ff: int = 2048,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if lookback < patch_len:
            raise ValueError(f"lookback {lookback} is shorter than patch_len {patch_len}")
        self.patch_len, self.stride = patch_len, stride
        self.out_index = list(out_index) if out_index is not None else None
        n_patches = (lookback - patch_len) // stride + 2  # with the end padding of one stride
        self.embed = nn.Linear(patch_len, d_model, bias=False)
        self.register_buffer("position", _sinusoid(n_patches, d_model), persistent=False)
        self.embed_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, e_layers, enable_nested_tensor=False)
        self.norm = nn.BatchNorm1d(d_model)
        flat = d_model * n_patches
        self.head = nn.Sequential(nn.Flatten(start_dim=-2), nn.Linear(flat, horizon), nn.Dropout(dropout))

    def forward(self, x: Tensor, state: None = None) -> tuple[Tensor, None]:
        """Forecasts (B, H, C_out) of the windows x (B, L, C_in); no state (see ``DLinear.forward``)."""
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-5).detach()
        series = ((x - mean) / std).transpose(1, 2)  # (B, C, L)
        batch, channels = series.shape[:2]
        padded = F.pad(series, (0, self.stride), mode="replicate")
        patches = padded.unfold(-1, self.patch_len, self.stride).flatten(0, 1)  # (B*C, N, P)
        tokens = self.embed_dropout(self.embed(patches) + self.position)
        encoded = self.norm(self.encoder(tokens).transpose(1, 2))  # (B*C, D, N)
        y = self.head(encoded.unflatten(0, (batch, channels))).transpose(1, 2)  # (B, H, C)
        y = y * std + mean
        return (y if self.out_index is None else y[..., self.out_index]), None


def _sinusoid(length: int, width: int) -> Tensor:
    """The sinusoidal position table (length, width) of "Attention Is All You Need"."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2], table[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
    return table


def patchtst_hyperparameters(dataset: str) -> dict[str, int | float]:
    """The encoder PatchTST's authors publish for ``dataset`` (any case) in their repository
    (yuqinie98/PatchTST, ``PatchTST_supervised/scripts/PatchTST/*.sh``): ETTh1 and ETTh2 a narrow one (3 layers,
    4 heads, width 16, d_ff 128, dropout 0.3), every other data set (ETTm1, ETTm2, Weather, ...) 3 layers, 16 heads,
    width 128, d_ff 256, dropout 0.2. Patches of 16 every 8 steps and the learning rate ``PATCHTST_LR`` in all."""
    narrow = dataset.lower() in ("etth1", "etth2")
    layout = (3, 4, 16, 128, 0.3) if narrow else (3, 16, 128, 256, 0.2)
    return dict(zip(("e_layers", "n_heads", "d_model", "d_ff", "dropout"), layout, strict=True))


PATCHTST_LR = 1e-4
"""PatchTST's Adam learning rate in its authors' scripts."""


def _per_channel(maps: nn.ModuleList, series: Tensor) -> Tensor:
    """``maps[c]`` applied to channel c of ``series`` (B, C, L) → (B, C, H)."""
    return torch.stack([linear(series[:, c]) for c, linear in enumerate(maps)], dim=1)
