"""``TitansForecastNet``: long-term forecasting with the ``Titans`` backbone in the Simba / PatchTST framework.

    (B, L, C_in) → RevIN → patches (or a token per step) → linear embedding → Titans → flatten → linear → (B, H, C_out)

Channels are independent by default (every channel a separate univariate series through shared weights, as PatchTST
and Simba); ``channels="mixed"`` embeds all input channels of a patch into one token instead, so covariates inform the
forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from titans_ts.backbones import Titans, TitansState
from titans_ts.config import TitansConfig

ChannelMode = Literal["independent", "mixed"]


@dataclass
class ForecasterConfig:
    """Shape of the task and the parts of the head; ``backbone`` configures the ``Titans`` stack.

    lookback, horizon: L input steps, H forecast steps.
    n_inputs:      C_in, input channels.
    out_index:     positions of the forecast channels among the inputs (default: all, C_out = C_in).
    patch_len, stride: patching of the lookback; ``patch_len = stride = 1`` is the per-step embedding. The series is
                   padded at the start (repeating its first value) so that the last patch ends at the last step.
    channels:      "independent" (one series per channel, shared weights) or "mixed" (one token per patch of all
                   channels).
    revin:         instance normalisation of every window and channel (Kim et al. 2022), undone on the forecast.
    revin_affine:  a learned per-channel scale and shift after the normalisation.
    head_dropout:  dropout before the linear head.
    linear_skip:   add a linear map of each (normalised) lookback channel to its horizon, y += W x + b (DLinear's linear
                   part, zero at initialisation so training starts from the Titans head alone).
    """

    lookback: int
    horizon: int
    n_inputs: int
    out_index: tuple[int, ...] | None = None
    patch_len: int = 16
    stride: int = 8
    channels: ChannelMode = "independent"
    revin: bool = True
    revin_affine: bool = False
    head_dropout: float = 0.0
    linear_skip: bool = False
    backbone: TitansConfig = field(default_factory=TitansConfig)

    def __post_init__(self) -> None:
        for name in ("lookback", "horizon", "n_inputs", "patch_len", "stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1; got {getattr(self, name)}")
        if self.patch_len > self.lookback:
            raise ValueError(f"patch_len {self.patch_len} is longer than the lookback {self.lookback}")
        if self.channels not in ("independent", "mixed"):
            raise ValueError(f"channels must be 'independent' or 'mixed'; got {self.channels!r}")
        if self.out_index is not None:
            self.out_index = tuple(int(i) for i in self.out_index)
            if not self.out_index or not all(0 <= i < self.n_inputs for i in self.out_index):
                raise ValueError(f"out_index {self.out_index} must name channels among the {self.n_inputs} inputs")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must be in [0, 1); got {self.head_dropout}")

    @property
    def n_outputs(self) -> int:
        """C_out, the number of forecast channels."""
        return self.n_inputs if self.out_index is None else len(self.out_index)

    @property
    def n_patches(self) -> int:
        """Tokens per series: ceil((L − patch_len) / stride) + 1."""
        return -(-(self.lookback - self.patch_len) // self.stride) + 1

    def to_dict(self) -> dict[str, Any]:
        """Every field, the backbone's as ``backbone.<name>`` (for logging)."""
        flat = {key: value for key, value in asdict(self).items() if key != "backbone"}
        flat.update({f"backbone.{key}": value for key, value in self.backbone.to_dict().items()})
        return flat


class RevIN(nn.Module):
    """Reversible instance normalisation: per window and channel x ↦ (x − mean) / std (· γ + β when affine);
    ``denormalize`` maps a forecast of the channels ``index`` back with the statistics of the last ``normalize``."""

    def __init__(self, n_channels: int, affine: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels)) if affine else None

    def normalize(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x (B, L, C) → normalised x and its (mean, std), each (B, 1, C)."""
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()
        x = (x - mean) / std
        if self.weight is not None:
            x = x * self.weight + self.bias
        return x, (mean, std)

    def denormalize(self, y: Tensor, stats: tuple[Tensor, Tensor], index: Sequence[int] | None = None) -> Tensor:
        """y (B, H, C_out) of the channels ``index`` (default all) back to the scale of the input."""
        mean, std = stats
        weight, bias = self.weight, self.bias
        if index is not None:
            mean, std = mean[..., index], std[..., index]
            weight, bias = (None, None) if weight is None else (weight[list(index)], bias[list(index)])
        if weight is not None:
            y = (y - bias) / (weight + self.eps * self.eps)
        return y * std + mean


class TitansForecastNet(nn.Module):
    """(B, L, C_in) windows → (B, H, C_out) forecasts; see the module docstring and ``ForecasterConfig``."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        d_model = config.backbone.d_model
        mixed = config.channels == "mixed"
        self.revin = RevIN(config.n_inputs, config.revin_affine) if config.revin else None
        self.embed = nn.Linear(config.patch_len * (config.n_inputs if mixed else 1), d_model)
        self.backbone = Titans(config.backbone)
        self.head = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Dropout(config.head_dropout),
            nn.Linear(config.n_patches * d_model, config.horizon * (config.n_outputs if mixed else 1)),
        )
        self.skip = nn.Linear(config.lookback, config.horizon) if config.linear_skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    @classmethod
    def from_saved(cls, config: dict[str, Any], weights: dict[str, Tensor]) -> TitansForecastNet:
        """The model of a saved configuration (``asdict(model.config)``) and ``state_dict``, in eval mode."""
        model = cls(ForecasterConfig(**{**config, "backbone": TitansConfig(**config["backbone"])}))
        model.load_state_dict(weights)
        return model.eval()

    def initial_state(self, batch: int) -> TitansState:
        """The backbone's state at the start of ``batch`` windows (one sequence per forecast channel when channels are
        independent)."""
        independent = self.config.channels == "independent"
        return self.backbone.initial_state(batch * self.config.n_outputs if independent else batch)

    def forward(self, x: Tensor, state: TitansState | None = None) -> tuple[Tensor, TitansState]:
        """Forecasts (B, H, C_out) of the windows x (B, L, C_in) and the backbone's state after reading them;
        ``state`` (default: every memory at M_0, as in training) is where the backbone starts."""
        config = self.config
        if x.dim() != 3 or x.shape[1:] != (config.lookback, config.n_inputs):
            raise ValueError(f"expected (batch, {config.lookback}, {config.n_inputs}) windows, got {tuple(x.shape)}")
        if self.revin is not None:
            x, stats = self.revin.normalize(x)
        index = list(config.out_index) if config.out_index is not None else None
        batch = x.shape[0]
        if config.channels == "independent":
            series = (x if index is None else x[..., index]).transpose(1, 2)  # (B, C_out, L)
            tokens = self._patches(series.reshape(-1, config.lookback))  # (B·C_out, N, P)
            features, state = self.backbone(self.embed(tokens), state)
            y = self.head(features).view(batch, -1, config.horizon).transpose(1, 2)  # (B·C_out, H) → (B, H, C_out)
        else:
            patches = self._patches(x.transpose(1, 2).reshape(-1, config.lookback))  # (B·C_in, N, P)
            tokens = patches.view(batch, config.n_inputs, config.n_patches, -1).transpose(1, 2).flatten(2)
            features, state = self.backbone(self.embed(tokens), state)
            y = self.head(features).view(batch, config.horizon, config.n_outputs)
        if self.skip is not None:
            y = y + self.skip((x if index is None else x[..., index]).transpose(1, 2)).transpose(1, 2)
        return (y if self.revin is None else self.revin.denormalize(y, stats, index)), state

    def _patches(self, series: Tensor) -> Tensor:
        """(S, L) → (S, n_patches, patch_len), the first patch padded at the start with the first value."""
        config = self.config
        span = (config.n_patches - 1) * config.stride + config.patch_len
        padded = torch.cat([series[:, :1].expand(-1, span - config.lookback), series], dim=1)
        return padded.unfold(1, config.patch_len, config.stride)


class ForecastOnly(nn.Module):
    """windows (B, L, C_in) → forecasts (B, H, C_out) of ``model`` (``model(x) -> (forecast, state)``), each window from
    the initial state: the one-output form a forecaster is exported and served in."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[0]
