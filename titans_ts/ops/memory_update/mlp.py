"""The memory model M: a bias-free MLP applied per (batch, head) with weights held as tensors.

M(x) = W_L(σ(... σ(W_1 x))) in row-vector form: z_1 = x W_1, a_2 = σ(z_1), ..., M(x) = z_L.
L = len(weights) is the memory depth L_M (§3.1); L_M = 1 is the linear matrix memory.
σ is SiLU (the paper leaves the memory's non-linearity open; SiLU matches its projections).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def activation(z: Tensor) -> Tensor:
    """σ(z) = SiLU(z) = z · sigmoid(z), the hidden non-linearity of the memory MLP."""
    return F.silu(z)


def activation_grad(z: Tensor) -> Tensor:
    """σ'(z) = s (1 + z (1 - s)) with s = sigmoid(z)."""
    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


def mlp_forward(weights: tuple[Tensor, ...] | list[Tensor], x: Tensor) -> Tensor:
    """M(x) for x of shape (B, H, T, d_in) and weights W_l of shape (B, H, d_l, d_{l+1})."""
    for i, w in enumerate(weights):
        if i > 0:
            x = activation(x)
        x = x @ w
    return x
