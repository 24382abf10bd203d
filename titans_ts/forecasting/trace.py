"""The memory's surprise over a series: a trained ``TitansForecastNet`` reads the rows as the online stream does
(``titans_ts.forecasting.online``: blocks of L rows, every memory carried from block to block) and every write of every
memory is recorded in the state (``TitansState.traced``): its surprise ‖M_{t'}(k_t) − v_t‖², the gradient norm, and
the gates θ, η, α.

A token is a patch of rows; it is placed at the row where its patch ends (the first patch of a block is padded at the
start, so it ends at row ``patch_len − 1 − pad`` of the block). Persistent tokens are written too but belong to no
row, so they are left out. Rows after the last whole block are not read.
"""

from __future__ import annotations

import pandas as pd
from torch import Tensor

from titans_ts.forecasting.model import TitansForecastNet
from titans_ts.forecasting.online import forecast_window
from titans_ts.memory import TRACE_FIELDS


def token_rows(model: TitansForecastNet) -> list[int]:
    """For every patch token of a window, the row of the window where its patch ends."""
    config = model.config
    pad = (config.n_patches - 1) * config.stride + config.patch_len - config.lookback
    return [j * config.stride + config.patch_len - 1 - pad for j in range(config.n_patches)]


def memory_trace(model: TitansForecastNet, rows: Tensor, channels: list[str] | None = None) -> pd.DataFrame:
    """Surprise and gates of every memory write while ``model`` reads ``rows`` (T, C_in, scaled as in training) as a
    stream: one row per (layer, channel, token) with the columns ``layer`` (block index), ``channel`` (a forecast
    channel's name from ``channels``, default its index; "all" when channels are mixed), ``row`` (of ``rows``), and
    ``TRACE_FIELDS`` averaged over the memory's heads."""
    config = model.config
    names = channels or [str(i) for i in range(config.n_outputs)]
    series = names if config.channels == "independent" else ["all"]
    offsets = token_rows(model)
    frames, state = [], model.initial_state(1).traced()
    for block in range(rows.shape[0] // config.lookback):
        first = block * config.lookback
        _, state = forecast_window(model, rows[None, first : first + config.lookback], state)
        for layer, memory in enumerate(state.memories):
            tokens = memory.trace[:, :, -len(offsets) :].mean(dim=1)  # (series, tokens, fields)
            for index, name in enumerate(series):
                frame = pd.DataFrame(tokens[index].cpu().numpy(), columns=list(TRACE_FIELDS))
                frame.insert(0, "row", [first + offset for offset in offsets])
                frame.insert(0, "channel", name)
                frame.insert(0, "layer", layer)
                frames.append(frame)
        state = state.carried()
    if not frames:
        raise ValueError(f"{rows.shape[0]} rows hold no block of the lookback, {config.lookback}")
    return pd.concat(frames, ignore_index=True)
