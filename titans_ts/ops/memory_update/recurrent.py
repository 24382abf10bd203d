"""Reference path: the memory update token by token, straight from the paper's equations.

For every token t (Eq. 12-15), with the gradient taken at M_{t−1} (the exact per-token rule: ``"stable"`` at
depth 1, whose θ_t ``memory_update`` has already capped) or at the chunk-start weights M_{t'} (Eq. 16:
``"minibatch"``, and ``"stable"`` at depth ≥ 2):

    u_t = ∇_M ‖M(k_t) − v_t‖²                 at M_{t−1} or M_{t'}
    S_t = η_t S_{t−1} − θ_t u_t                (Eq. 13)
    M_t = (1 − α_t) M_{t−1} + S_t              (Eq. 14)
    y_t = M_t(q_t)                             (Eq. 15)

At depth ≥ 2, ``"stable"`` caps the step: M_t and S_t are what the recurrence gives from the chunk start with the
chunk's writes scaled by σ_t (``coefficients.write_scale``). Both recurrences are linear in the writes, so this file
runs them twice from the chunk start, once with the writes alone (from 0) and once without them, and adds the two
with the writes times σ_t.

The gradient comes from ``torch.autograd.grad`` (with ``create_graph`` so the whole path stays differentiable), not
from a hand derivation: this file is the ground truth that the fast paths are tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .coefficients import UpdateRule, write_scale
from .mlp import mlp_forward


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
    weights: tuple[Tensor, ...],
    momentum: tuple[Tensor, ...],
    chunk_size: int = 1,
    update: UpdateRule = "stable",
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Write (k, v) and read q token by token from a chunk boundary; y (B, H, T, d_v), M_T and S_T.

    Shapes: q, k (B, H, T, d_k); v (B, H, T, d_v); theta, eta, alpha (B, H, T); M, S per layer (B, H, d_l, d_{l+1}).
    """
    per_token = update == "stable" and len(weights) == 1
    capped = update == "stable" and len(weights) > 1
    chunk = 1 if per_token else chunk_size
    create_graph = torch.is_grad_enabled()
    outputs = []
    for start in range(0, q.shape[2], chunk):
        span = range(start, min(start + chunk, q.shape[2]))
        reference = weights
        if capped:
            scale = write_scale(reference, k[:, :, span], theta[:, :, span], eta[:, :, span])
        carried_w, carried_s = weights, momentum  # the recurrence without the chunk's writes
        written_w, written_s = (tuple(torch.zeros_like(w) for w in weights) for _ in range(2))  # the writes alone
        for i, t in enumerate(span):
            grads = _surprise_gradient(reference, k[:, :, t : t + 1], v[:, :, t : t + 1], create_graph)
            lr, mom, forget = (g[:, :, t, None, None] for g in (theta, eta, alpha))
            carried_s = tuple(mom * s for s in carried_s)
            carried_w = tuple((1 - forget) * w + s for w, s in zip(carried_w, carried_s))
            written_s = tuple(mom * s - lr * u for s, u in zip(written_s, grads))
            written_w = tuple((1 - forget) * w + s for w, s in zip(written_w, written_s))
            sigma = scale[:, :, i, None, None] if capped else 1.0
            weights = tuple(c + sigma * w for c, w in zip(carried_w, written_w))
            momentum = tuple(c + sigma * s for c, s in zip(carried_s, written_s))
            outputs.append(mlp_forward(weights, q[:, :, t : t + 1]))
    y = torch.cat(outputs, dim=2) if outputs else q.new_zeros(*q.shape[:3], v.shape[-1])
    return y, weights, momentum
