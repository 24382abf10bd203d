"""Persistent memory (Eq. 19): learnable, input-independent tokens [p_1 … p_Np] prepended to the sequence."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PersistentMemory(nn.Module):
    """N_p learnable tokens of width d_model that store task knowledge (Eq. 19)."""

    def __init__(self, n_tokens: int, d_model: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(n_tokens, d_model) * 0.02)

    def forward(self, batch: int) -> Tensor:
        """The tokens as a batch, (B, N_p, d_model)."""
        return self.tokens.expand(batch, *self.tokens.shape)

    def prepend(self, x: Tensor) -> Tensor:
        """x_new = [p_1 … p_Np] ‖ x (Eq. 19)."""
        return torch.cat([self(x.shape[0]), x], dim=1)
