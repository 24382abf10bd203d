"""Chunkwise-parallel memory update (Eq. 16-18) in PyTorch: the default path on CPU and GPU.

With the scans of ``coefficients`` a chunk starting from (M_{t'}, S_{t'}) reads and ends as

    x_t M_t = β_t x_t M_{t'} + g_t x_t S_{t'} − Σ_s C_{ts} (x_t · a_s) δ_s          (x_t: the layer's input at q_t)
    M_end = β_b M_{t'} + g_b S_{t'} − Aᵀ (c ⊙ δ),   S_end = E_b S_{t'} − Aᵀ (f ⊙ δ)

per layer, each write u_s = a_sᵀ δ_s an outer product (layer input times back-propagated error), c and f the last
rows of C and F diag(θ). Reads never build per-token weights: they are masked attention-like products.

- Depth 1 (the linear memory), as flash-linear-attention's chunked delta rule: the errors of every chunk are affine
  in its start state, Δ = K_W M_{t'} + K_S S_{t'} − V' (``coefficients``: the exact per-token rule's triangular
  solve, or Eq. 16's Δ = 2 (K M_{t'} − V)), so everything chunk-local is computed for all chunks at once and only
  the d_k×d_v state pass loops over chunks; the reads follow for all chunks at once.
- Depth ≥ 2: the errors δ come from the chunk-start network, chunk by chunk (with the step cap of ``"stable"``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .coefficients import (
    ChunkCoefficients,
    UpdateRule,
    chunk_coefficients,
    exact_error_terms,
    minibatch_error_terms,
    write_scale,
)
from .mlp import activation, activation_grad


def as_chunks(x: Tensor, chunk: int) -> Tensor:
    """(B, H, T, ...) → (B, H, T / chunk, chunk, ...)."""
    return x.unflatten(2, (-1, chunk))


def chunk_length(length: int, chunk_size: int) -> int:
    """The chunk of a call from a chunk boundary: ``chunk_size``, or the whole call when it is shorter. Calls longer
    than a chunk must be whole chunks (``memory_update`` splits off the open end)."""
    if length > chunk_size and length % chunk_size:
        raise ValueError(f"a call of {length} tokens is not whole chunks of {chunk_size}")
    return min(chunk_size, length)


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


def _deep_chunk(
    q: Tensor, k: Tensor, v: Tensor, scans: ChunkCoefficients, weights: tuple[Tensor, ...], momentum: tuple[Tensor, ...]
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """One chunk of a deep memory, every gradient at its start weights: outputs, then M and S at its end."""
    write, momentum_write, weight_carry, momentum_into_weights, momentum_carry = scans
    inputs, errors = _keys_through_memory(weights, k, v)
    x = q
    for i, (w, s, a, d) in enumerate(zip(weights, momentum, inputs, errors)):
        if i > 0:
            x = activation(x)
        x = (
            weight_carry.unsqueeze(-1) * (x @ w)
            + momentum_into_weights.unsqueeze(-1) * (x @ s)
            - (write * (x @ a.transpose(-1, -2))) @ d
        )
    last_write, last_momentum_write = write[..., -1, :, None], momentum_write[..., -1, :, None]
    beta, gain, carry = (c[..., -1, None, None] for c in (weight_carry, momentum_into_weights, momentum_carry))
    new_weights = tuple(
        beta * w + gain * s - a.transpose(-1, -2) @ (last_write * d)
        for w, s, a, d in zip(weights, momentum, inputs, errors)
    )
    new_momentum = tuple(
        carry * s - a.transpose(-1, -2) @ (last_momentum_write * d) for s, a, d in zip(momentum, inputs, errors)
    )
    return x, new_weights, new_momentum


def _linear_chunks(
    q: Tensor, k: Tensor, v: Tensor, scans: ChunkCoefficients, w: Tensor, s: Tensor, exact: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Depth 1 over chunked inputs (B, H, N, c, d): outputs (B, H, N, c, d_v), then M and S at the end.

    The state X = [M; S] (2 d_k × d_v) is the only thing carried; per chunk Δ = [K_W | K_S] X − V' and
    X ← [[β_b, g_b], [0, E_b]] X − [Kᵀ diag(c); Kᵀ diag(f)] Δ, three small matmuls.
    """
    k_w, k_s, v_err = exact_error_terms(k, v, scans) if exact else minibatch_error_terms(k, v)
    reads = torch.cat([k_w, torch.zeros_like(k_w) if k_s is None else k_s], dim=-1)  # (B, H, N, c, 2 d_k)
    writes = torch.cat([k * scans.write[..., -1, :, None], k * scans.momentum_write[..., -1, :, None]], dim=-1).mT
    beta, gain, carry = (x[..., -1] for x in scans[2:])
    mix = torch.stack([beta, gain, torch.zeros_like(gain), carry], dim=-1).unflatten(-1, (2, 2))  # (B, H, N, 2, 2)
    state = torch.cat([w, s], dim=-2)
    steps = zip(*(x.movedim(2, 0).contiguous().unbind(0) for x in (reads, v_err, writes, mix)))
    starts, errors = [], []
    for reads_n, v_n, writes_n, mix_n in steps:
        delta = reads_n @ state - v_n
        starts.append(state)
        errors.append(delta)
        state = (mix_n @ state.unflatten(-2, (2, -1)).flatten(-2)).view_as(state) - writes_n @ delta
    starts, delta = torch.stack(starts, dim=2), torch.stack(errors, dim=2)
    carried = torch.cat([q * scans.weight_carry.unsqueeze(-1), q * scans.momentum_into_weights.unsqueeze(-1)], -1)
    y = carried @ starts - (scans.write * (q @ k.mT)) @ delta
    w, s = state.chunk(2, dim=-2)
    return y, w, s


def memory_update_chunked(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    alpha: Tensor,
    weights: tuple[Tensor, ...],
    momentum: tuple[Tensor, ...],
    chunk_size: int = 16,
    update: UpdateRule = "stable",
) -> tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Write (k, v) and read q chunk by chunk from a chunk boundary; same contract as ``memory_update_recurrent``."""
    length = q.shape[2]
    if length == 0:
        return q.new_zeros(*q.shape[:3], v.shape[-1]), weights, momentum
    chunk = chunk_length(length, chunk_size)
    q, k, v, theta, eta = (as_chunks(x, chunk) for x in (q, k, v, theta, eta))
    scans = chunk_coefficients(theta, eta, as_chunks(alpha, chunk))
    if len(weights) == 1:
        y, w, s = _linear_chunks(q, k, v, scans, weights[0], momentum[0], exact=update == "stable")
        return y.flatten(2, 3), (w,), (s,)
    outputs = []
    chunks = zip(*(x.unbind(2) for x in (q, k, v, theta, eta, *scans)))  # unbind: backward stacks once
    for q_n, k_n, v_n, theta_n, eta_n, *scans_n in chunks:
        scans_n = ChunkCoefficients(*scans_n)
        if update == "stable":
            scans_n = scans_n.scale_rows(write_scale(weights, k_n, theta_n, eta_n))
        y, weights, momentum = _deep_chunk(q_n, k_n, v_n, scans_n, weights, momentum)
        outputs.append(y)
    return torch.cat(outputs, dim=2), weights, momentum
