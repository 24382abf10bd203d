"""The state that the memory update carries from one call to the next."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import Tensor


class MemoryOpState(NamedTuple):
    """Memory state after token t, every weight-shaped tensor (B, H, d_l, d_{l+1}) per MLP layer.

    weights:        M_t, the memory's parameters (Eq. 14).
    momentum:       S_t, the surprise with momentum (Eq. 13).
    chunk_weights:  M_{t'}, the weights at the start of the chunk in progress (Eq. 16 takes its gradients there);
                    ``weights`` itself when no chunk is open.
    chunk_momentum: S_{t'}, the momentum there.
    pending:        (k, v, θ, η, α) of the tokens the open chunk has written, (B, H, offset[, d]) each; () when no
                    chunk is open. The next call replays them from (M_{t'}, S_{t'}), so pieces equal one call.
    """

    weights: tuple[Tensor, ...]
    momentum: tuple[Tensor, ...]
    chunk_weights: tuple[Tensor, ...]
    chunk_momentum: tuple[Tensor, ...]
    pending: tuple[Tensor, ...] = ()

    @classmethod
    def at_chunk_start(cls, weights: tuple[Tensor, ...], momentum: tuple[Tensor, ...]) -> MemoryOpState:
        """The state (M, S) with no chunk open."""
        return cls(weights, momentum, weights, momentum)

    @property
    def offset(self) -> int:
        """How many tokens of the current chunk have been written (0: the next token opens a chunk)."""
        return self.pending[0].shape[2] if self.pending else 0

    def map(self, fn: Callable[[Tensor], Tensor]) -> MemoryOpState:
        """The state with ``fn`` applied to every tensor (e.g. ``Tensor.detach``, a batch repeat)."""
        return MemoryOpState(*(tuple(fn(t) for t in part) for part in self))

    def detach(self) -> MemoryOpState:
        """The same state cut from the autograd graph (truncated backprop through time)."""
        return self.map(Tensor.detach)
