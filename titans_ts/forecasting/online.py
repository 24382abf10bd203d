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

So the forecast window starts at or after the end of the blocks read (k·L ≤ T − L), no row is read twice, and with
k = 0 (T < 2L) the forecast is the frozen model's. For the memory-only variant without convolution (conv_size 1) or
persistent tokens, and a chunk size dividing the tokens of a block, carrying the memory from block to block is
exactly running the backbone once over the blocks' tokens laid end to end. Feeding a stream in pieces
(``MemoryStream.update``) gives exactly what one call (``online_forecast``) gives: the blocks are counted from the
stream's first row, not from the pieces.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from titans_ts.forecasting.data import ForecastData
from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.memory import MemoryState, NeuralMemory
from titans_ts.ops.memory_update import MemoryOpState

LayerMemory = tuple[tuple[Tensor, ...], tuple[Tensor, ...]]
"""One memory's weights M and momentum S, each a tuple over its MLP layers of (batch, heads, d_in, d_out) tensors."""
Memories = tuple[LayerMemory, ...]
"""The ``LayerMemory`` of every ``NeuralMemory`` of a model, in module order."""


@contextmanager
def _carried(model: nn.Module, start: Memories | None) -> Iterator[list[MemoryState | None]]:
    """Inside the ``with``, ``model`` runs in eval mode with every memory starting from ``start`` (None: M_0) wherever
    it would start from its initial state; the yielded list receives each memory's state after its last write."""
    memories = [module for module in model.modules() if isinstance(module, NeuralMemory)]
    if start is not None and len(start) != len(memories):
        raise ValueError(f"the carried state holds {len(start)} memories, the model has {len(memories)}")
    end: list[MemoryState | None] = [None] * len(memories)
    hooks = [memory.register_forward_hook(partial(_record, end, i)) for i, memory in enumerate(memories)]
    if start is not None:
        for memory, carried in zip(memories, start):
            memory.initial_state = partial(_resume, memory, carried)  # shadows the method for this block only
    training = model.training
    model.eval()
    try:
        yield end
    finally:
        model.train(training)
        for memory, hook in zip(memories, hooks):
            hook.remove()
            memory.__dict__.pop("initial_state", None)


def _record(end: list[MemoryState | None], index: int, module: nn.Module, args: Any, output: Any) -> None:
    end[index] = output[1]


def _resume(memory: NeuralMemory, carried: LayerMemory, batch: int) -> MemoryState:
    """``memory``'s starting state for ``batch`` sequences: the carried M and S (repeated when ``batch`` is a multiple
    of the carried batch, for several windows of one series), a fresh convolution history, a chunk just opened."""
    weights, momentum = carried
    repeats, rest = divmod(batch, weights[0].shape[0])
    if rest or not repeats:
        raise ValueError(f"a batch of {batch} sequences cannot start from a memory carried for {weights[0].shape[0]}")
    weights, momentum = (tuple(t.repeat(repeats, 1, 1, 1) for t in ts) for ts in (weights, momentum))
    fresh = NeuralMemory.initial_state(memory, batch)
    return MemoryState(MemoryOpState.at_chunk_start(weights, momentum), fresh.conv, fresh.chunk_gates)


def forecast_window(model: TitansForecastNet, windows: Tensor, memories: Memories | None) -> tuple[Tensor, Memories]:
    """Forecasts (B, H, C_out) of ``windows`` (B, L, C_in), every memory starting from ``memories`` (None: M_0), and the
    memories after reading them. Without gradients, in eval mode."""
    with torch.no_grad(), _carried(model, memories) as end:
        forecasts = model(windows)
    return forecasts, tuple((state.op.weights, state.op.momentum) for state in end)


class MemoryStream:
    """One series read online by ``model`` (see the module docstring): ``update(rows)`` memorises, ``forecast()``
    forecasts from the last L rows with the memories reached so far; ``state_dict()`` saves the stream, and
    ``MemoryStream(model, **state)`` restores it.

    ``rows`` (n, C_in) are the rows after the last block read (the stream's first rows when ``memories`` is None).
    """

    def __init__(self, model: TitansForecastNet, rows: Tensor | None = None, memories: Memories | None = None) -> None:
        self.model = model
        self.rows = rows if rows is not None else torch.zeros(0, model.config.n_inputs)
        self.memories = memories

    def update(self, rows: Tensor) -> None:
        """Append ``rows`` (n, C_in) to the stream and read every block that has L rows or more after it."""
        if rows.dim() != 2 or rows.shape[1] != self.model.config.n_inputs:
            raise ValueError(f"rows must be (time, {self.model.config.n_inputs}), got {tuple(rows.shape)}")
        lookback = self.model.config.lookback
        self.rows = torch.cat([self.rows, rows.to(self.rows)])
        while self.rows.shape[0] >= 2 * lookback:
            _, self.memories = forecast_window(self.model, self.rows[None, :lookback], self.memories)
            self.rows = self.rows[lookback:]

    def forecast(self) -> Tensor:
        """The forecast (H, C_out) from the last L rows of the stream."""
        lookback = self.model.config.lookback
        if self.rows.shape[0] < lookback:
            raise ValueError(f"the stream holds {self.rows.shape[0]} rows; a forecast needs the lookback, {lookback}")
        return forecast_window(self.model, self.rows[None, -lookback:], self.memories)[0][0]

    def state_dict(self) -> dict[str, Any]:
        """The stream's rows and memories (tensors in tuples), what ``MemoryStream(model, **state)`` takes back."""
        return {"rows": self.rows, "memories": self.memories}


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
    count = rows.shape[0] - lookback - horizon + 1
    if count <= 0:
        raise ValueError(f"{rows.shape[0]} rows hold no window of lookback {lookback} + horizon {horizon}")
    memories, forecasts = None, []
    for block in range(-(-count // lookback)):
        if block and online:
            _, memories = forecast_window(model, rows[None, (block - 1) * lookback : block * lookback], memories)
        starts = range(block * lookback, min((block + 1) * lookback, count))
        for first in range(0, len(starts), batch_size):
            windows = torch.stack([rows[i : i + lookback] for i in starts[first : first + batch_size]])
            forecasts.append(forecast_window(model, windows, memories)[0])
    return torch.cat(forecasts)


@dataclass(frozen=True)
class OnlineComparison:
    """Forecasts of every window of one split, frozen (each window from M_0, as trained) and online (the split read as
    one stream from its first row), and the targets; all (windows, H, C_out) in the scaled units of the data."""

    frozen: np.ndarray
    online: np.ndarray
    targets: np.ndarray

    def diverged_at(self) -> int | None:
        """The first window whose online forecast holds a NaN or infinity (the carried memory diverged), or None."""
        bad = ~np.isfinite(self.online).reshape(len(self.online), -1).all(axis=1)
        return int(bad.argmax()) if bad.any() else None

    def metrics(self) -> dict[str, float]:
        """MSE and MAE of both: ``frozen_mse``, ``frozen_mae``, ``online_mse``, ``online_mae``."""
        errors = {"frozen": self.frozen - self.targets, "online": self.online - self.targets}
        return {
            f"{name}_{metric}": float(np.mean(np.square(error) if metric == "mse" else np.abs(error)))
            for name, error in errors.items()
            for metric in ("mse", "mae")
        }


def compare_online(
    model: TitansForecastNet,
    data: ForecastData,
    split: str = "test",
    batch_size: int = 256,
    frozen: np.ndarray | None = None,
) -> OnlineComparison:
    """Every window of ``data``'s ``split`` forecast with frozen and with online memory, the stream starting at the
    split's first row (the first window's lookback), on the model's device. ``frozen``: the frozen forecasts when
    they are at hand already (a pipeline's test predictions), so that only the online pass runs."""
    device = next(model.parameters()).device
    rows = torch.as_tensor(data.scaled[split], dtype=torch.float32, device=device)
    if frozen is None:
        frozen = window_forecasts(model, rows, online=False, batch_size=batch_size).cpu().numpy()
    return OnlineComparison(
        frozen=frozen,
        online=window_forecasts(model, rows, online=True, batch_size=batch_size).cpu().numpy(),
        targets=data.windows(split).targets(),
    )
