"""Reference path: the memory update token by token, straight from the paper's equations.

For every token t (Eq. 12-15, with the mini-batch rule of Eq. 16 when ``chunk_size`` > 1):

    u_t = ∇_M ‖M_{t'}(k_t) − v_t‖²          gradient at the chunk-start weights M_{t'} (t' = t when b = 1)
    S_t = η_t S_{t−1} − θ_t u_t               (Eq. 13)
    M_t = (1 − α_t) M_{t−1} + S_t             (Eq. 14)
    y_t = M_t(q_t)                            (Eq. 15)

The gradient comes from ``torch.autograd.grad`` (with ``create_graph`` so the whole path stays differentiable),
not from a hand derivation: this file is the ground truth that the fast paths are tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .mlp import mlp_forward
from .state import MemoryOpState


def _surprise_gradient(
    reference: tuple[Tensor, ...], k: Tensor, v: Tensor, create_graph: bool
) -> tuple[Tensor, ...]:
    """∇ of ℓ = ‖M(k) − v‖² (summed over features, Eq. 12) w.r.t. every weight, per (batch, head)."""
    with torch.enable_grad():
        leaves = tuple(w if w.requires_grad else w.detach().requires_grad_() for w in reference)
        loss = (mlp_forward(leaves, k) - v).pow(2).sum()
        return torch.autograd.grad(loss, leaves, create_graph=create_graph)


def memory_update_recurrent(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    alpha: Tensor,
    state: MemoryOpState,
    chunk_size: int = 1,
) -> tuple[Tensor, MemoryOpState]:
    """Write (k, v) and read q token by token.

    Shapes: q, k (B, H, T, d_k); v (B, H, T, d_v); theta, eta, alpha (B, H, T). Returns y (B, H, T, d_v) and the
    state after the last token.
    """
    weights, momentum, reference, offset = state
    create_graph = torch.is_grad_enabled()
    outputs = []
    for t in range(q.shape[2]):
        if (offset + t) % chunk_size == 0:
            reference = weights
        grads = _surprise_gradient(reference, k[:, :, t : t + 1], v[:, :, t : t + 1], create_graph)
        lr, mom, forget = (g[:, :, t, None, None] for g in (theta, eta, alpha))
        momentum = tuple(mom * s - lr * u for s, u in zip(momentum, grads))
        weights = tuple((1 - forget) * w + s for w, s in zip(weights, momentum))
        outputs.append(mlp_forward(weights, q[:, :, t : t + 1]))
    new_offset = (offset + q.shape[2]) % chunk_size
    if new_offset == 0:
        reference = weights
    return torch.cat(outputs, dim=2), MemoryOpState(weights, momentum, reference, new_offset)
