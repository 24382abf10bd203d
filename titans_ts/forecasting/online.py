"""Online forecasting: a trained ``TitansForecastNet`` reads a series as a stream and its neural memories keep
memorising it, while the outer weights stay as trained.

The memory carried across windows, precisely. A stream x_1, x_2, … of one series' rows is cut into consecutive
blocks of L = lookback rows, B_1 = x_1..x_L, B_2 = x_{L+1}..x_{2L}, …. After T ≥ L rows the forecast is the model's
forecast from the window x_{T−L+1}..x_T, where every ``NeuralMemory`` of the backbone starts from the state it reached
by reading the blocks B_1 … B_k, k = ⌊T/L⌋ − 1, one after another, instead of from M_0:

- a block goes through the model exactly as a window does in training: RevIN with the block's own statistics,
  patching, embedding, persistent tokens, attention inside the block, each memory's causal convolution started
  empty and its chunk grid (Eq. 16) starting at the block's first token;
- what crosses from one block to the next is each memory's weights M and momentum S (Eq. 13-14) after its last write
  of the block; the memory update is the test-time learning, and no optimiser step touches the outer weights.

In the model's own terms, a block is read with ``_, state = model(block[None], state)`` and carried with
``state = state.carried()`` (``TitansState.carried``).

So the forecast window starts at or after the end of the blocks read (k·L ≤ T − L), no row is read twice, and with
k = 0 (T < 2L) the forecast is the frozen model's. For the memory-only variant without convolution (conv_size 1) or
persistent tokens, and a chunk size dividing the tokens of a block, carrying the memory from block to block is
exactly running the backbone once over the blocks' tokens laid end to end. Feeding a stream in pieces
(``MemoryStream.update``) gives exactly what one call (``online_forecast``) gives: the blocks are counted from the
stream's first row, not from the pieces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from titans_ts.backbones import TitansState
from titans_ts.forecasting.data import ForecastData, sliding_windows, window_count
from titans_ts.forecasting.finetune import finetune_forecasts
from titans_ts.forecasting.metrics import forecast_errors
from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.ops.memory_update import MemoryOpState

LayerMemory = tuple[tuple[Tensor, ...], tuple[Tensor, ...]]
"""One memory's weights M and momentum S, each a tuple over its MLP layers of (batch, heads, d_in, d_out) tensors."""
Memories = tuple[LayerMemory, ...]
"""The ``LayerMemory`` of every block's memory, in order: the saved form of a carried ``TitansState``."""


def forecast_window(
    model: TitansForecastNet, windows: Tensor, memories: TitansState | None
) -> tuple[Tensor, TitansState]:
    """Forecasts (B, H, C_out) of ``windows`` (B, L, C_in), every memory starting from ``memories`` (a carried state
    of one window, ``TitansState.carried``, repeated for the B windows; None: M_0), and the backbone's state after
    reading them. Without gradients, in eval mode."""
    start = None if memories is None else memories.repeat(windows.shape[0])
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(windows, start)
    finally:
        model.train(training)


class MemoryStream:
    """One series read online by ``model`` (see the module docstring): ``update(rows)`` memorises, ``forecast()``
    forecasts from the last L rows with the memories reached so far; ``state_dict()`` saves the stream, and
    ``MemoryStream(model, **state)`` restores it.

    ``rows`` (n, C_in) are the rows after the last block read (the stream's first rows when ``memories`` is None);
    ``memories`` the weights and momentum the blocks read so far left in each memory.
    """

    def __init__(self, model: TitansForecastNet, rows: Tensor | None = None, memories: Memories | None = None) -> None:
        self.model = model
        self.rows = rows if rows is not None else torch.zeros(0, model.config.n_inputs)
        self.state = None if memories is None else _restore(model, memories)

    def update(self, rows: Tensor) -> list[float]:
        """Append ``rows`` (n, C_in) to the stream and read every block that has L rows or more after it; the surprise
        of each block read, the mean of ‖M_{t'}(k_t) − v_t‖² over its writes (every memory, head, channel and patch
        token; ``titans_ts.forecasting.trace``)."""
        if rows.dim() != 2 or rows.shape[1] != self.model.config.n_inputs:
            raise ValueError(f"rows must be (time, {self.model.config.n_inputs}), got {tuple(rows.shape)}")
        lookback, tokens = self.model.config.lookback, self.model.config.n_patches
        self.rows = torch.cat([self.rows, rows.to(self.rows)])
        surprises = []
        while self.rows.shape[0] >= 2 * lookback:
            start = (self.state or self.model.initial_state(1)).traced()
            state = forecast_window(self.model, self.rows[None, :lookback], start)[1]
            surprises.append(float(torch.stack([m.trace[:, :, -tokens:, 0].mean() for m in state.memories]).mean()))
            self.state = _restore(self.model, _memories(state))  # carried, without the trace
            self.rows = self.rows[lookback:]
        return surprises

    def forecast(self) -> Tensor:
        """The forecast (H, C_out) from the last L rows of the stream."""
        lookback = self.model.config.lookback
        if self.rows.shape[0] < lookback:
            raise ValueError(f"the stream holds {self.rows.shape[0]} rows; a forecast needs the lookback, {lookback}")
        return forecast_window(self.model, self.rows[None, -lookback:], self.state)[0][0]

    def state_dict(self) -> dict[str, Any]:
        """The stream's rows and memories (tensors in tuples), what ``MemoryStream(model, **state)`` takes back."""
        return {"rows": self.rows, "memories": None if self.state is None else _memories(self.state)}


def _memories(state: TitansState) -> Memories:
    """The weights and momentum of every memory of ``state``."""
    return tuple((memory.op.weights, memory.op.momentum) for memory in state.memories)


def _restore(model: TitansForecastNet, memories: Memories) -> TitansState:
    """The carried state whose memories hold the saved ``memories``."""
    if len(memories) != len(model.backbone.blocks):
        raise ValueError(f"the saved stream holds {len(memories)} memories, the model has {len(model.backbone.blocks)}")
    start = model.backbone.initial_state(memories[0][0][0].shape[0])
    return TitansState(
        tuple(
            replace(block, memory=replace(block.memory, op=MemoryOpState.at_chunk_start(weights, momentum)))
            for block, (weights, momentum) in zip(start.blocks, memories)
        )
    )


def online_forecast(model: TitansForecastNet, history: Tensor) -> Tensor:
    """The online forecast (H, C_out) after ``history`` (T ≥ L rows, C_in columns, the stream's first row first)."""
    stream = MemoryStream(model)
    stream.update(history)
    return stream.forecast()


def window_forecasts(model: TitansForecastNet, rows: Tensor, online: bool = True, batch_size: int = 256) -> Tensor:
    """Forecasts (windows, H, C_out) of the stride-1 windows of ``rows`` in ``WindowDataset`` order. Online, the
    stream starts at ``rows[0]``: window i is ``online_forecast(model, rows[: i + L])``, computed in batches of the
    windows that share the memories of the same ⌊i / L⌋ blocks; frozen (``online=False``), every window starts
    from M_0, as in training."""
    lookback, horizon = model.config.lookback, model.config.horizon
    count = window_count(rows.shape[0], lookback, horizon)
    memories, forecasts = None, []
    for block in range(-(-count // lookback)):
        if block and online:
            block_rows = rows[None, (block - 1) * lookback : block * lookback]
            memories = forecast_window(model, block_rows, memories)[1].carried()
        stop = min((block + 1) * lookback, count)
        for first in range(block * lookback, stop, batch_size):
            windows = sliding_windows(rows, lookback)[first : min(first + batch_size, stop)]
            forecasts.append(forecast_window(model, windows, memories)[0])
    return torch.cat(forecasts)


@dataclass(frozen=True)
class OnlineComparison:
    """Forecasts of every window of one split, frozen (each window from M_0, as trained) and online (the split read as
    one stream from its first row), and the targets; all (windows, H, C_out) in the scaled units of the data.
    ``finetuned``: the forecasts of online fine-tuning (``finetune.finetune_forecasts``, memory frozen, weights
    updated on the revealed targets) at learning rate ``finetune_lr``, when it ran. ``seconds_per_window``: the
    wall-clock time of producing each method's forecasts of the split over the number of windows, by method
    ("frozen", "online", "finetune"; those that ran here)."""

    frozen: np.ndarray
    online: np.ndarray
    targets: np.ndarray
    finetuned: np.ndarray | None = None
    finetune_lr: float | None = None
    seconds_per_window: dict[str, float] = field(default_factory=dict)

    def diverged_at(self) -> int | None:
        """The first window whose online forecast holds a NaN or infinity (the carried memory diverged), or None."""
        bad = ~np.isfinite(self.online).reshape(len(self.online), -1).all(axis=1)
        return int(bad.argmax()) if bad.any() else None

    def metrics(self) -> dict[str, float]:
        """MSE and MAE of each (``forecasting.metrics``): ``frozen_mse``, ``frozen_mae``, ``online_mse``,
        ``online_mae``, and ``finetune_mse``, ``finetune_mae`` when ``finetuned`` is there."""
        forecasts = {"frozen": self.frozen, "online": self.online}
        if self.finetuned is not None:
            forecasts["finetune"] = self.finetuned
        return {
            f"{name}_{metric}": value
            for name, values in forecasts.items()
            for metric, value in forecast_errors(values, self.targets).items()
        }


def compare_online(
    model: TitansForecastNet,
    data: ForecastData,
    split: str = "test",
    batch_size: int = 256,
    frozen: np.ndarray | None = None,
    finetune_lr: float | None = None,
) -> OnlineComparison:
    """Every window of ``data``'s ``split`` forecast with frozen and with online memory, the stream starting at the
    split's first row (the first window's lookback), on the model's device, and with online fine-tuning at
    ``finetune_lr`` (``finetune.finetune_forecasts``, one step per block) when it is given. ``frozen``: the frozen
    forecasts when they are at hand already (a pipeline's test predictions), so that the frozen pass does not run
    (and is not timed)."""
    device = next(model.parameters()).device
    rows = torch.as_tensor(data.scaled[split], dtype=torch.float32, device=device)
    seconds: dict[str, float] = {}

    def timed(name: str, forecast: Callable[[], Tensor]) -> np.ndarray:
        began = time.perf_counter()
        values = forecast().cpu().numpy()  # .cpu() waits for the device: the time is the work's
        seconds[name] = (time.perf_counter() - began) / len(values)
        return values

    if frozen is None:
        frozen = timed("frozen", lambda: window_forecasts(model, rows, online=False, batch_size=batch_size))
    online = timed("online", lambda: window_forecasts(model, rows, online=True, batch_size=batch_size))
    finetuned = None
    if finetune_lr is not None:
        finetuned = timed("finetune", lambda: finetune_forecasts(model, rows, finetune_lr, batch_size=batch_size))
    return OnlineComparison(
        frozen=frozen,
        online=online,
        targets=data.targets(split),
        finetuned=finetuned,
        finetune_lr=finetune_lr,
        seconds_per_window=seconds,
    )
