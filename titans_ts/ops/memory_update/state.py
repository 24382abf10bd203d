"""The state that the memory update carries from one call to the next."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class MemoryOpState(NamedTuple):
    """Memory state after token t, every tensor of shape (B, H, d_l, d_{l+1}) per MLP layer.

    weights:   M_t, the memory's parameters (Eq. 14).
    momentum:  S_t, the surprise with momentum (Eq. 13).
    reference: M_{t'}, the weights at the start of the current chunk; Eq. 16 takes every gradient of the
               chunk at these weights. Equal to ``weights`` when ``offset`` is 0.
    offset:    how many tokens of the current chunk have been written (0: the next token opens a chunk).
    """

    weights: tuple[Tensor, ...]
    momentum: tuple[Tensor, ...]
    reference: tuple[Tensor, ...]
    offset: int

    def detach(self) -> MemoryOpState:
        """The same state cut from the autograd graph (truncated backprop through time)."""
        return MemoryOpState(
            tuple(w.detach() for w in self.weights),
            tuple(s.detach() for s in self.momentum),
            tuple(r.detach() for r in self.reference),
            self.offset,
        )
