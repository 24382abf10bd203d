"""Chunkwise-parallel memory update (Eq. 16-18) in PyTorch: the default path on CPU and GPU.

Inside a chunk of b tokens every gradient is taken at the chunk-start weights M_{t'} (Eq. 16), so the
recurrences of Eq. 13-14 become linear in the per-token gradients u_s and unroll to

    S_t = E_t S_{t'} − Σ_{s≤t} F_{ts} θ_s u_s
    M_t = β_t M_{t'} + g_t S_{t'} − Σ_{s≤t} C_{ts} u_s,

with F_{rs} = Π_{j=s+1..r} η_j, D_{tr} = Π_{j=r+1..t} (1 − α_j), E_t = Π_{j≤t} η_j, β_t = Π_{j≤t} (1 − α_j),
C = D F diag(θ) and g = D E (the momentum and decay scans of Eq. 17-18, as b×b matrices).

Each u_s of an MLP layer is an outer product a_s^T δ_s (layer input times back-propagated error), so reading
y_t = M_t(q_t) never builds per-token weights: layer by layer, with x_t the layer's input,

    x_t M_t = β_t x_t M_{t'} + g_t x_t S_{t'} − Σ_s C_{ts} (x_t · a_s) δ_s,

a masked attention-like product. Across chunks the new M_{t'} is the previous chunk's last M_t, so the
non-linear recurrence between chunks is exact.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .mlp import activation, activation_grad
from .state import MemoryOpState


def segment_products(x: Tensor) -> Tensor:
    """P[..., r, s] = Π_{j=s+1..r} x_j for r ≥ s (1 on the diagonal), 0 above it. x: (..., c) → (..., c, c).

    Built with a cumulative product rather than exp(cumsum(log x)), so gates equal to 0 stay exact.
    """
    c = x.shape[-1]
    later = torch.ones(c, c, dtype=torch.bool, device=x.device).triu(1)  # [s, j]: j > s
    factors = torch.where(later, x.unsqueeze(-2), torch.ones_like(x).unsqueeze(-2))
    return factors.cumprod(dim=-1).transpose(-1, -2).tril()


def _keys_through_memory(
    reference: tuple[Tensor, ...], k: Tensor, v: Tensor
) -> tuple[list[Tensor], list[Tensor]]:
    """Layer inputs a^l and errors δ^l of ℓ = ‖M(k) − v‖² at the reference weights: ∇_{W_l} ℓ = (a^l)^T δ^l."""
    inputs, pre_activations = [k], []
    for i, w in enumerate(reference):
        z = inputs[-1] @ w
        if i + 1 < len(reference):
            pre_activations.append(z)
            inputs.append(activation(z))
    errors = [2 * (z - v)]
    for i in range(len(reference) - 1, 0, -1):
        errors.insert(0, (errors[0] @ reference[i].transpose(-1, -2)) * activation_grad(pre_activations[i - 1]))
    return inputs, errors


class ChunkCoefficients(NamedTuple):
    """The scans of one or more chunks, gates (..., c) → matrices (..., c, c) and vectors (..., c)."""

    write: Tensor  # C = D F diag(θ): weight of u_s in M_t
    momentum_write: Tensor  # F diag(θ): weight of u_s in S_t
    weight_carry: Tensor  # β_t: weight of M_{t'} in M_t
    momentum_into_weights: Tensor  # g_t: weight of S_{t'} in M_t
    momentum_carry: Tensor  # E_t: weight of S_{t'} in S_t


def chunk_coefficients(theta: Tensor, eta: Tensor, alpha: Tensor) -> ChunkCoefficients:
    """The momentum and decay scans of Eq. 17-18 for chunks of gates laid out along the last axis."""
    keep = 1 - alpha
    momentum_decay = segment_products(eta)  # F
    forget_decay = segment_products(keep)  # D
    momentum_carry = eta.cumprod(dim=-1)  # E
    momentum_write = momentum_decay * theta.unsqueeze(-2)
    return ChunkCoefficients(
        write=forget_decay @ momentum_write,
        momentum_write=momentum_write,
        weight_carry=keep.cumprod(dim=-1),
        momentum_into_weights=(forget_decay @ momentum_carry.unsqueeze(-1)).squeeze(-1),
        momentum_carry=momentum_carry,
    )


def _update_chunk(
    q: Tensor, k: Tensor, v: Tensor, coefficients: ChunkCoefficients, state: MemoryOpState, last: int
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One chunk (all its gradients at ``state.reference``): outputs, then M and S after its token ``last``."""
    write, momentum_write, weight_carry, momentum_into_weights, momentum_carry = coefficients
    inputs, errors = _keys_through_memory(state.reference, k, v)
    x = q
    for i, (w, s, a, d) in enumerate(zip(state.weights, state.momentum, inputs, errors)):
        if i > 0:
            x = activation(x)
        x = (
            weight_carry.unsqueeze(-1) * (x @ w)
            + momentum_into_weights.unsqueeze(-1) * (x @ s)
            - (write * (x @ a.transpose(-1, -2))) @ d
        )

    last_write = write[..., last, :].unsqueeze(-1)
    last_momentum_write = momentum_write[..., last, :].unsqueeze(-1)
    beta, gain, carry = (c[..., last, None, None] for c in (weight_carry, momentum_into_weights, momentum_carry))
    weights = tuple(
        beta * w + gain * s - a.transpose(-1, -2) @ (last_write * d)
        for w, s, a, d in zip(state.weights, state.momentum, inputs, errors)
    )
    momentum = tuple(
        carry * s - a.transpose(-1, -2) @ (last_momentum_write * d)
        for s, a, d in zip(state.momentum, inputs, errors)
    )
    return x, weights, momentum


def _as_chunks(x: Tensor, chunk_size: int) -> Tensor:
    """(B, H, T, ...) → (B, H, N, b, ...), zero-padding the last chunk (padded rows are never read)."""
    pad = -x.shape[2] % chunk_size
    if pad:
        x = torch.cat([x, x.new_zeros(*x.shape[:2], pad, *x.shape[3:])], dim=2)
    return x.view(*x.shape[:2], -1, chunk_size, *x.shape[3:])


def memory_update_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    alpha: Tensor,
    state: MemoryOpState,
    chunk_size: int = 16,
) -> tuple[Tensor, MemoryOpState]:
    """Write (k, v) and read q chunk by chunk; same contract as ``memory_update_recurrent``.

    Chunks follow the stream's own grid: when ``state.offset`` > 0 the first chunk only completes the chunk
    the previous call left open, so feeding a sequence in pieces gives exactly what feeding it whole gives.
    The scans of all chunks are computed at once; only the memory's own recurrence loops over chunks.
    """
    weights, momentum, reference, offset = state
    length = q.shape[2]
    outputs = []
    head = min(chunk_size - offset, length) if offset else 0
    if head:  # finish the chunk left open by the previous call
        gates = chunk_coefficients(*(g[:, :, :head] for g in (theta, eta, alpha)))
        y, weights, momentum = _update_chunk(q[:, :, :head], k[:, :, :head], v[:, :, :head], gates, state, head - 1)
        outputs.append(y)
        offset = (offset + head) % chunk_size
        reference = weights if offset == 0 else reference
    if head < length:
        rest = length - head
        gates = chunk_coefficients(*(_as_chunks(g[:, :, head:], chunk_size) for g in (theta, eta, alpha)))
        # unbind, not indexing: its backward stacks the chunks' gradients once instead of once per chunk
        chunks = zip(*(_as_chunks(t[:, :, head:], chunk_size).unbind(2) for t in (q, k, v)),
                     *(c.unbind(2) for c in gates))
        n_chunks = -(-rest // chunk_size)
        for n, (q_n, k_n, v_n, *gates_n) in enumerate(chunks):
            last = chunk_size - 1 if n + 1 < n_chunks else (rest - 1) % chunk_size
            step_state = MemoryOpState(weights, momentum, weights, 0)
            y, weights, momentum = _update_chunk(q_n, k_n, v_n, ChunkCoefficients(*gates_n), step_state, last)
            outputs.append(y[:, :, : last + 1])
        offset = rest % chunk_size
        reference = step_state.weights if offset else weights
    y = torch.cat(outputs, dim=2) if outputs else q.new_zeros(*q.shape[:3], v.shape[-1])
    return y, MemoryOpState(weights, momentum, reference, offset)
