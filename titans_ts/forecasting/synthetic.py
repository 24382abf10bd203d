"""A generated series on which a memory of the stream can beat any model of the lookback alone: a mean-reverting
(AR(1)) series whose level shifts, the test split's halfway.

    x_t = μ_t + φ (x_{t−1} − μ_t) + ε_t,   ε_t ~ N(0, σ²)

The level μ_t is redrawn from N(0, spread²) every ``regime`` rows up to the test split (the last 20 % of the rows,
the "custom" 70/10/20 split, so training sees many levels), and twice in the test split: at its start and halfway.
A forecast h rows ahead is mostly the level (x̂_{t+h} = μ + φ^h (x_t − μ)), but a short lookback tells it badly: the
mean of L rows misses μ by a standard deviation of about sd(x) · √((1 + φ) / ((1 − φ) L)), 0.75 sd(x) at the defaults
and L = 16. A model that reads the whole stream (a carried memory) can estimate the level from hundreds of rows; a
frozen one cannot.
"""

from __future__ import annotations

import numpy as np

from titans_ts.forecasting.data import SeriesTable


def level_shift_series(
    seed: int, rows: int = 4000, regime: int = 400, phi: float = 0.8, noise: float = 0.6, spread: float = 2.0
) -> SeriesTable:
    """One hourly channel ``y`` of ``rows`` rows of the series above (generator seeded with ``seed``)."""
    if rows < 10 or regime < 1 or not 0 <= phi < 1:
        raise ValueError(f"need rows ≥ 10, regime ≥ 1 and 0 ≤ phi < 1; got {rows}, {regime}, {phi}")
    rng = np.random.default_rng(seed)
    test_start = rows - int(0.2 * rows)
    middle = test_start + (rows - test_start) // 2
    level = np.empty(rows)
    for start in range(0, test_start, regime):
        level[start : min(start + regime, test_start)] = rng.normal(0, spread)
    level[test_start:middle], level[middle:] = rng.normal(0, spread, 2)
    values = np.empty(rows)
    values[0] = level[0]
    shocks = rng.normal(0, noise, rows)
    for t in range(1, rows):
        values[t] = level[t] + phi * (values[t - 1] - level[t]) + shocks[t]
    dates = np.arange("2024-01-01", rows, dtype="datetime64[h]")
    return SeriesTable(dates, values[:, None], ["y"], "level_shift", "h")
