"""titans-ts: the Titans neural long-term memory (Behrouz, Zhong, Mirrokni 2025, arXiv 2501.00663)
for long-term time-series forecasting and genomic sequence classification.

- ``NeuralMemory``: the memory layer (Eq. 12-18), ``y, state = memory(x, state)``;
- ``Titans`` / ``TitansConfig``: the MAC, MAG, MAL and LMM backbones (§4);
- ``titans_ts.ops.memory_update``: the update op, recurrent reference beside the chunked path.
"""

from .backbones import Titans
from .config import TitansConfig
from .memory import MemoryState, NeuralMemory
from .persistent import PersistentMemory

__all__ = ["MemoryState", "NeuralMemory", "PersistentMemory", "Titans", "TitansConfig"]
