"""Benchmark datasets by name: the ETTh1 copy bundled in the package and the files of the shared data dir."""

from __future__ import annotations

from pathlib import Path

from titans_ts.data_dir import default_data_dir
from titans_ts.errors import DataError
from titans_ts.forecasting.data.table import table_stem

BUNDLED_DIR = Path(__file__).parent


def available_datasets(data_dir: str | Path | None = None) -> dict[str, Path]:
    """Dataset name -> file: the bundled files, then (taking precedence) those one folder deep in
    ``data_dir``, e.g. ``ett/ETTh2.csv.gz``; ``data_dir`` defaults to ``default_data_dir()``
    (``$TITANS_TS_DATA``, else ``shared/data`` beside the checkout)."""
    found = {_stem(p): p for p in sorted(BUNDLED_DIR.iterdir()) if _stem(p)}
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if root.is_dir():
        found.update({_stem(p): p for p in sorted(root.glob("*/*")) if _stem(p)})
    return found


def resolve_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """The file of dataset ``name`` (any case, e.g. "ETTh1"); DataError listing the known names if absent."""
    found = available_datasets(data_dir)
    by_lower = {key.lower(): path for key, path in found.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    raise DataError(
        f"unknown dataset {name!r}; available: {', '.join(sorted(found))} (bundled and {root.resolve()}); "
        "pass a file with --data"
    )


def _stem(path: Path) -> str | None:
    """``path``'s name without a data suffix, or None if it is not a data file."""
    return table_stem(path) if path.is_file() else None
