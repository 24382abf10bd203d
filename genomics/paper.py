"""Published genomics numbers, for reference lines and the benchmark tables.

``TABLE4``: the Titans paper (Behrouz, Zhong, Mirrokni, arXiv 2501.00663), Table 4: Genomic Benchmarks top-1
accuracy %, Titans (neural memory) and the benchmark's CNN.

``GUE``: DNABERT-2's results table (Zhou et al., ICLR 2024), MCC × 100 on the GUE test splits of models pre-trained on
genomes and then fine-tuned: DNABERT (3-mer), Nucleotide Transformer 2500M multi-species, DNABERT-2 (117M).
"""

from __future__ import annotations

TABLE4: dict[str, tuple[float, float]] = {
    "human_enhancers_cohn": (75.2, 69.5),
    "human_enhancers_ensembl": (89.6, 68.9),
    "human_ensembl_regulatory": (89.3, 93.3),
    "human_nontata_promoters": (96.6, 84.6),
    "human_ocr_ensembl": (79.9, 68.0),
}

GUE_MODELS = ("DNABERT (3-mer)", "NT-2500M-multi", "DNABERT-2")
GUE: dict[str, tuple[float, float, float]] = {
    "gue_prom_core_all": (70.92, 70.33, 69.37),
    "gue_prom_core_notata": (69.82, 71.58, 68.04),
    "gue_prom_core_tata": (78.15, 72.97, 74.17),
    "gue_prom_300_tata": (69.83, 79.43, 71.59),
    "gue_tf_0": (67.95, 66.64, 71.99),
    "gue_tf_1": (70.90, 70.28, 76.06),
    "gue_tf_2": (60.51, 58.72, 66.52),
    "gue_tf_3": (53.03, 51.65, 58.54),
    "gue_tf_4": (69.76, 69.34, 77.43),
    "gue_mouse_0": (42.31, 63.31, 56.76),
    "gue_mouse_2": (69.90, 71.52, 79.32),
    "gue_mouse_3": (55.40, 69.44, 66.47),
    "gue_mouse_4": (41.97, 47.07, 52.66),
}
