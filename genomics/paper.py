"""Numbers the Titans paper (Behrouz, Zhong, Mirrokni, arXiv 2501.00663) reports for genomics, for reference lines.

``TABLE4``: Genomic Benchmarks top-1 accuracy %, Titans (neural memory) and the benchmark's CNN.
"""

from __future__ import annotations

TABLE4: dict[str, tuple[float, float]] = {
    "human_enhancers_cohn": (75.2, 69.5),
    "human_enhancers_ensembl": (89.6, 68.9),
    "human_ensembl_regulatory": (89.3, 93.3),
    "human_nontata_promoters": (96.6, 84.6),
    "human_ocr_ensembl": (79.9, 68.0),
}
