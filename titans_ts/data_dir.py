"""Where the benchmark data sets live when no folder is given: ``$TITANS_TS_DATA``, else ``shared/data`` beside the
project checkout (``../shared/data`` seen from the repository root), whatever the working directory."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TITANS_TS_DATA"


def default_data_dir() -> Path:
    """``$TITANS_TS_DATA`` if set, else the ``shared/data`` folder next to the checkout this package is in."""
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "data"
