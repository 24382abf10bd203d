"""titans-ts: the Titans neural long-term memory (Behrouz, Zhong, Mirrokni 2025, arXiv 2501.00663)
for long-term time-series forecasting and genomic sequence classification.

- ``NeuralMemory``: the memory layer (Eq. 12-18), ``y, state = memory(x, state)``;
- ``Titans`` / ``TitansConfig``: the MAC, MAG, MAL and LMM backbones (§4), ``y, state = titans(x, state)`` with a
  ``TitansState`` (one entry per block);
- ``titans_ts.ops.memory_update``: the update op, recurrent reference beside the chunked path;
- ``Forecaster``: the fit/predict estimator on long-format frames (``titans_ts.forecasting.estimator``);
- ``TitansForecastNet`` / ``ForecasterConfig``: the forecasting torch module (``titans_ts.forecasting.model``);
- ``TitansPF``: the pytorch-forecasting model (``titans_ts.forecasting.pf_model``).

The last three belong to the forecasting application, above the core: they are imported on first use (PEP 562), so
that ``import titans_ts`` loads neither the application nor Lightning or pytorch-forecasting.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# MLflow sends usage telemetry unless told otherwise, and decides when it is imported: off, before any import of it
# (set MLFLOW_DISABLE_TELEMETRY=false to allow it).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from .backbones import Titans, TitansState
from .config import TitansConfig
from .memory import MemoryState, NeuralMemory
from .persistent import PersistentMemory

if TYPE_CHECKING:
    from .forecasting.estimator import Forecaster
    from .forecasting.model import ForecasterConfig, TitansForecastNet
    from .forecasting.pf_model import TitansPF

# exported name → its module, imported by ``__getattr__`` on first use (tests/test_architecture.py reads this table)
_LAZY: dict[str, str] = {
    "Forecaster": "titans_ts.forecasting.estimator",
    "ForecasterConfig": "titans_ts.forecasting.model",
    "TitansForecastNet": "titans_ts.forecasting.model",
    "TitansPF": "titans_ts.forecasting.pf_model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Forecaster",
    "ForecasterConfig",
    "MemoryState",
    "NeuralMemory",
    "PersistentMemory",
    "Titans",
    "TitansConfig",
    "TitansForecastNet",
    "TitansPF",
    "TitansState",
]
