"""Numbers the Titans paper (Behrouz, Zhong, Mirrokni, arXiv 2501.00663) reports for forecasting, for reference lines.

``TABLE3``: long-term forecasting, Titans (neural memory), lookback 96, MSE and MAE on the scaled data averaged over
the horizons 96/192/336/720, by data set; ``table3(name)`` looks a data set up in any case ("weather" is "Weather").
"""

from __future__ import annotations

TABLE3: dict[str, tuple[float, float]] = {
    "ETTh1": (0.420, 0.421),
    "ETTh2": (0.336, 0.382),
    "ETTm1": (0.358, 0.387),
    "ETTm2": (0.261, 0.309),
    "Weather": (0.231, 0.265),
}


def table3(dataset: str) -> tuple[float, float] | None:
    """The paper's (MSE, MAE) for ``dataset`` in any case, or None when Table 3 does not report it."""
    return next((row for name, row in TABLE3.items() if name.lower() == dataset.lower()), None)
