"""The memory's surprise over a series: a trained ``TitansForecastNet`` reads the rows as the online stream does
(``titans_ts.forecasting.online``: blocks of L rows, every memory carried from block to block) and every write of every
memory is recorded: its surprise ‖M_{t'}(k_t) − v_t‖², the gradient norm, and the gates θ, η, α.

A token is a patch of rows; it is placed at the row where its patch ends (the first patch of a block is padded at the
start, so it ends at row ``patch_len − 1 − pad`` of the block). Persistent tokens are written too but belong to no
row, so they are left out. Rows after the last whole block are not read.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.forecasting.online import forecast_window
from titans_ts.memory import TRACE_FIELDS, NeuralMemory


def _record(traces: list[Tensor], memory: NeuralMemory, module: nn.Module, args: Any, output: Any) -> None:
    """Forward hook: trace the call again from its inputs (the memory starts where the call started)."""
    traces.append(memory.trace(*args)[0])


def token_rows(model: TitansForecastNet) -> list[int]:
    """For every patch token of a window, the row of the window where its patch ends."""
    config = model.config
    pad = (config.n_patches - 1) * config.stride + config.patch_len - config.lookback
    return [j * config.stride + config.patch_len - 1 - pad for j in range(config.n_patches)]


def memory_trace(model: TitansForecastNet, rows: Tensor, channels: list[str] | None = None) -> pd.DataFrame:
    """Surprise and gates of every memory write while ``model`` reads ``rows`` (T, C_in, scaled as in training) as a
    stream: one row per (layer, channel, token) with the columns ``layer`` (memory index in module order), ``channel``
    (a forecast channel's name from ``channels``, default its index; "all" when channels are mixed), ``row`` (of
    ``rows``), and ``TRACE_FIELDS`` averaged over the memory's heads."""
    config = model.config
    memories = [module for module in model.modules() if isinstance(module, NeuralMemory)]
    traces: list[list[Tensor]] = [[] for _ in memories]
    hooks = [memory.register_forward_hook(partial(_record, traces[i], memory)) for i, memory in enumerate(memories)]
    names = channels or [str(i) for i in range(config.n_outputs)]
    series = names if config.channels == "independent" else ["all"]
    offsets = token_rows(model)
    frames, carried = [], None
    try:
        for block in range(rows.shape[0] // config.lookback):
            first = block * config.lookback
            _, carried = forecast_window(model, rows[None, first : first + config.lookback], carried)
            for layer, calls in enumerate(traces):
                tokens = torch.cat(calls, dim=2)[:, :, -len(offsets) :].mean(dim=1)  # (series, tokens, fields)
                calls.clear()
                for index, name in enumerate(series):
                    frame = pd.DataFrame(tokens[index].cpu().numpy(), columns=list(TRACE_FIELDS))
                    frame.insert(0, "row", [first + offset for offset in offsets])
                    frame.insert(0, "channel", name)
                    frame.insert(0, "layer", layer)
                    frames.append(frame)
    finally:
        for hook in hooks:
            hook.remove()
    if not frames:
        raise ValueError(f"{rows.shape[0]} rows hold no block of the lookback, {config.lookback}")
    return pd.concat(frames, ignore_index=True)
