"""Genomic data sets by name: the bundled planted-motif demo and the benchmark folders (GUE, Genomic Benchmarks) of the
shared data dir."""

from __future__ import annotations

from pathlib import Path

from titans_ts.data_dir import default_data_dir
from titans_ts.errors import DataError

DEMO_DIR = Path(__file__).parent / "data" / "demo"


def default_genomic_dir() -> Path:
    """The ``genomic`` folder of ``default_data_dir()``."""
    return default_data_dir() / "genomic"


def available_benchmarks(data_dir: str | Path | None = None) -> dict[str, Path]:
    """Data set name -> folder holding a ``test.csv.gz`` (and ``train.csv.gz``, ``dev.csv.gz`` where the benchmark
    ships them): "demo" (bundled), then every such folder in ``data_dir`` (default ``default_genomic_dir()``), e.g.
    ``gue_tf_0`` or ``human_nontata_promoters`` (test split only)."""
    found = {"demo": DEMO_DIR}
    root = Path(data_dir) if data_dir is not None else default_genomic_dir()
    if root.is_dir():
        found.update({p.name: p for p in sorted(root.iterdir()) if (p / "test.csv.gz").is_file()})
    return found


def resolve_benchmark(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder of data set ``name`` (any case); DataError listing the known names if absent."""
    found = available_benchmarks(data_dir)
    by_lower = {key.lower(): path for key, path in found.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    root = Path(data_dir) if data_dir is not None else default_genomic_dir()
    raise DataError(
        f"unknown genomic data set {name!r}; available: {', '.join(sorted(found))} (bundled and {root.resolve()}); "
        "pass a file with --data"
    )
