"""Numbers the Titans paper (Behrouz, Zhong, Mirrokni, arXiv 2501.00663) reports for forecasting, for reference lines.

``TABLE3``: long-term forecasting, Titans (neural memory), lookback 96, MSE and MAE on the scaled data averaged over
the horizons 96/192/336/720.
"""

from __future__ import annotations

TABLE3: dict[str, tuple[float, float]] = {"ETTh1": (0.420, 0.421), "ETTh2": (0.336, 0.382)}
