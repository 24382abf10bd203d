"""Online-aware training: a series read as streams of blocks while training, every memory carried from block to block
exactly as at test time (``online``), with truncated backprop through time.

A stream starting at row s is a run of blocks of L = lookback rows: block j is x_j = rows[s + jL : s + (j+1)L], its
target y_j the H rows after it (the forecast channels). Block j is forecast from the memories that read blocks
0 … j−1 (the window that opens a block at test time, ``online.window_forecasts``), and the same call reads it:
``forecast_j, state = model(x_j, state)``, then ``state = state.carried()``. Training steps through ``streams``
parallel streams ``tbptt`` blocks at a time; the state passes from one step to the next detached, so gradients flow
through the carried memories within a step and stop exactly at its borders, while the memories read the whole stream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from titans_ts.backbones import TitansState
from titans_ts.errors import DataError
from titans_ts.forecasting.data import WindowDataset


class StreamDataset(Dataset[tuple[Tensor, Tensor, Tensor]]):
    """``streams`` parallel streams of ``blocks`` blocks over ``rows`` (time x channels), read ``tbptt`` blocks per
    item, in rounds: an epoch holds enough rounds for about one forecast per window of ``rows``.

    Item (r·steps + s)·streams + b is step s of stream b of round r: x (tbptt, L, C_in), y (tbptt, H, C_out), and
    ``opens`` (True on a stream's first step). Keep the order (``ordered``): a DataLoader with ``batch_size = streams``
    and no shuffling then yields, batch after batch, the next blocks of the same streams. Each round's streams start at
    rows drawn when its first item is read, from torch's generator (seeded runs repeat, every epoch differs).
    DataError when a stream does not fit in ``rows``.
    """

    ordered = True

    def __init__(
        self,
        rows: np.ndarray,
        lookback: int,
        horizon: int,
        blocks: int,
        tbptt: int,
        streams: int,
        out_index: Sequence[int] | None = None,
        name: str = "rows",
    ) -> None:
        self.windows = WindowDataset(rows, lookback, horizon, out_index, name)
        if min(blocks, tbptt, streams) < 1:
            raise ValueError(f"blocks, tbptt and streams must be ≥ 1; got {blocks}, {tbptt}, {streams}")
        self.blocks, self.tbptt, self.streams = blocks, min(tbptt, blocks), streams
        self.steps = -(-blocks // self.tbptt)
        self.last_start = len(self.windows) - 1 - (self.steps * self.tbptt - 1) * lookback
        if self.last_start < 0:
            raise DataError(
                f"{name}: a training stream of {self.steps * self.tbptt} blocks of {lookback} rows + horizon "
                f"{horizon} needs {self.steps * self.tbptt * lookback + horizon} rows, the split has {len(rows)}; "
                "lower --train-online"
            )
        self.rounds = -(-len(self.windows) // (streams * self.steps * self.tbptt))
        self.starts = torch.zeros(streams, dtype=torch.long)

    def __len__(self) -> int:
        return self.rounds * self.steps * self.streams

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for {len(self)} stream steps")
        step, stream = divmod(index, self.streams)
        step %= self.steps
        if step == 0 and stream == 0:
            self.starts = torch.randint(0, self.last_start + 1, (self.streams,))
        lookback = self.windows.lookback
        first = int(self.starts[stream]) + step * self.tbptt * lookback
        pairs = [self.windows[first + j * lookback] for j in range(self.tbptt)]
        opens = torch.tensor(step == 0)
        return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs]), opens


def stream_loss(
    model: nn.Module, x: Tensor, y: Tensor, loss: Callable[[Tensor, Tensor], Tensor], state: TitansState | None = None
) -> tuple[Tensor, TitansState]:
    """Mean over the blocks of ``loss(forecast_j, y_j)`` for streams x (B, blocks, L, C_in), y (B, blocks, H, C_out),
    block j forecast with the memories carried from ``state`` (None: M_0) and blocks < j; and the state carried
    after the last block (still attached to the graph: ``detach()`` it to cut backprop there)."""
    losses = []
    for j in range(x.shape[1]):
        forecast, end = model(x[:, j], state)
        losses.append(loss(forecast, y[:, j]))
        state = end.carried()
    return torch.stack(losses).mean(), state
