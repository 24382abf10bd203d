"""Softmax attention for the Titans backbones: causal sliding-window (MAG, MAL) and MAC's segment attention.

All attention goes through ``torch.nn.functional.scaled_dot_product_attention`` with a boolean mask
(True = may attend); rotary position embeddings on queries and keys give the heads relative positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rotary(x: Tensor, positions: Tensor, base: float = 10000.0) -> Tensor:
    """Rotate pairs of features of x (B, H, T, d) by positions · base^(−2i/d) (RoPE; the paper names no encoding)."""
    half = x.shape[-1] // 2
    freqs = base ** (-torch.arange(half, device=x.device, dtype=x.dtype) / half)
    angles = positions.to(x.dtype)[:, None] * freqs
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, x[..., 2 * half :]], dim=-1)


def sliding_window_mask(query_positions: Tensor, key_positions: Tensor, window: int, n_prefix: int = 0) -> Tensor:
    """Causal mask (T_q, T_k) where the query at position i sees keys at j ∈ (i − window, i], and always the
    persistent tokens, which hold positions 0 … n_prefix − 1."""
    i, j = query_positions[:, None], key_positions[None, :]
    return (j <= i) & ((i - j < window) | (j < n_prefix))


def segment_mask(length: int, n_persistent: int, device: torch.device | None = None) -> Tensor:
    """MAC's mask (Eq. 22): segment token i sees every persistent token, memory tokens h_j and inputs x_j, j ≤ i."""
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    persistent = torch.ones(length, n_persistent, dtype=torch.bool, device=device)
    return torch.cat([persistent, causal, causal], dim=1)


class Attention(nn.Module):
    """Multi-head attention (the Attn of Eq. 23, 27, 31): softmax(Q K^T / √d + mask) V, then W_O."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be a multiple of n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key_value = nn.Linear(d_model, 2 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def _heads(self, x: Tensor) -> Tensor:
        return x.view(*x.shape[:2], self.n_heads, -1).transpose(1, 2)

    def forward(
        self, x: Tensor, context: Tensor, mask: Tensor, query_positions: Tensor, key_positions: Tensor
    ) -> Tensor:
        """x (B, T_q, d), context (B, T_k, d), mask (T_q, T_k); positions (T_q,), (T_k,) for the rotary embedding."""
        q = rotary(self._heads(self.query(x)), query_positions)
        k, v = (self._heads(t) for t in self.key_value(context).chunk(2, dim=-1))
        k = rotary(k, key_positions)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(x.shape))
