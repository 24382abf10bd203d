"""Numbers the Titans paper (Behrouz, Zhong, Mirrokni, arXiv 2501.00663) reports, for reference lines and tables.

``TABLE3``: long-term forecasting, Titans (neural memory), lookback 96, MSE and MAE on the scaled data averaged over
the horizons 96/192/336/720. ``TABLE4``: Genomic Benchmarks top-1 accuracy %, Titans (neural memory) and the
benchmark's CNN.
"""

from __future__ import annotations

TABLE3: dict[str, tuple[float, float]] = {"ETTh1": (0.420, 0.421), "ETTh2": (0.336, 0.382)}
TABLE4: dict[str, tuple[float, float]] = {
    "human_enhancers_cohn": (75.2, 69.5),
    "human_enhancers_ensembl": (89.6, 68.9),
    "human_ensembl_regulatory": (89.3, 93.3),
    "human_nontata_promoters": (96.6, 84.6),
    "human_ocr_ensembl": (79.9, 68.0),
}
