"""The Triton path of the memory update (Eq. 13-18): the same contract and numbers as ``chunked``, fused kernels.

Stages, as flash-linear-attention's chunked gated delta rule:

1. in PyTorch, differentiable (θ, η, α, k and v get these gradients through autograd): the chunk-local gate scans
   C, β, g, E of Eq. 17-18 (``coefficients.chunk_coefficients``: b×b per chunk, exact for gates equal to 0) and, at
   depth 1, the error terms Δ = K_W M_{t'} + K_S S_{t'} − V' of the update rule (``"stable"``:
   ``coefficients.exact_error_terms``, on θ_t already capped by ``memory_update``; ``"minibatch"``:
   ``minibatch_error_terms``);
2. one kernel walks the chunks in order, carrying the memory and momentum, with each chunk's intra-chunk terms and
   outputs (at depth 2 under ``"stable"`` also the step cap σ of ``coefficients.write_scale``, at the chunk-start
   weights);
3. the backward kernel recomputes the chunk-start states and walks the chunks in reverse (``triton_linear`` for
   L_M = 1, ``triton_mlp`` for L_M = 2).

Like every path it runs from a chunk boundary on whole chunks, or on one chunk shorter than b (``memory_update``
replays and splits off open chunks). Memories without kernels (``missing_kernels``) take the chunked path, and say
so once (``fallback.warn_fallback``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from .chunked import as_chunks, chunk_length, memory_update_chunked
from .coefficients import (
    ChunkCoefficients,
    UpdateRule,
    chunk_coefficients,
    exact_error_terms,
    minibatch_error_terms,
)
from .fallback import warn_fallback
from .triton_linear import GateTerms, linear_backward, linear_forward
from .triton_mlp import mlp_backward, mlp_forward


def gate_terms(scans: ChunkCoefficients) -> GateTerms:
    """The kernels' gate terms of the scans of (B, H, N) chunks, flattened to (B·H, N, ...) and contiguous."""
    scans = ChunkCoefficients(*(x.flatten(0, 1) for x in scans))
    ends = (scans.weight_carry, scans.momentum_into_weights, scans.momentum_carry)
    terms = (
        scans.write,
        scans.weight_carry,
        scans.momentum_into_weights,
        scans.write[..., -1, :],
        scans.momentum_write[..., -1, :],
        torch.stack([c[..., -1] for c in ends], dim=-1),
    )
    return GateTerms(*(x.contiguous() for x in terms))


def token_inputs(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    scans: ChunkCoefficients,
    depth: int,
    update: UpdateRule,
) -> tuple[Tensor | None, ...]:
    """What the kernels read per token besides the gate terms, flattened to (B·H, T, ...) and contiguous.

    Depth 1: (q, k, K_W, K_S, V'), the rule's error terms in float32 (K_S None under ``"minibatch"``), differentiable.
    Depth 2: (q, k, v, √(θ / (1 − η))), the last the step cap's gate weights in float32, None under ``"minibatch"``;
    outside the autograd graph, as σ is.
    """
    if depth == 1:
        chunk = scans.write.shape[-1]
        keys, values = (as_chunks(x.float(), chunk) for x in (k, v))
        rule = exact_error_terms(keys, values, scans) if update == "stable" else minibatch_error_terms(keys, values)
        tokens = (q, k, *(None if x is None else x.flatten(2, 3) for x in rule))
    else:
        root = (theta.detach().float() / (1 - eta.detach().float())).sqrt() if update == "stable" else None
        tokens = (q, k, v, root)
    return tuple(None if x is None else x.flatten(0, 1).contiguous() for x in tokens)


class MemoryFunction(torch.autograd.Function):
    """(per-token inputs, W_0, S_0, gate terms) → (y, W_T, S_T) on (B·H, ...) tensors through one pair of kernels.

    ``kernels`` = (forward, backward) of ``triton_linear`` or ``triton_mlp``; the per-token inputs (some may be None),
    W_0, S_0 (one float32 matrix per layer), W_T and S_T are passed flat. The forward's extra outputs (the step cap σ)
    are kept for the backward and are not differentiated.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx, kernels: tuple[Callable, Callable], chunk: int, n_tokens: int, depth: int, *tensors: Tensor
    ) -> tuple[Tensor, ...]:
        tokens = tensors[:n_tokens]
        weights, momentum = tensors[n_tokens : n_tokens + depth], tensors[n_tokens + depth : n_tokens + 2 * depth]
        coefficients = GateTerms(*tensors[n_tokens + 2 * depth :])
        y, weights_t, momentum_t, kept = kernels[0](tokens, coefficients, weights, momentum, chunk)
        ctx.save_for_backward(*tokens, *weights, *momentum, *coefficients, *kept)
        ctx.kernels, ctx.chunk, ctx.n_tokens, ctx.depth = kernels, chunk, n_tokens, depth
        return y, *weights_t, *momentum_t

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, dy: Tensor | None, *d_states: Tensor | None) -> tuple[Tensor | None, ...]:
        n_tokens, depth, n_gates = ctx.n_tokens, ctx.depth, len(GateTerms._fields)
        saved = ctx.saved_tensors
        tokens, states, rest = saved[:n_tokens], saved[n_tokens : n_tokens + 2 * depth], saved[n_tokens + 2 * depth :]
        coefficients, kept = GateTerms(*rest[:n_gates]), rest[n_gates:]
        q, d_v = tokens[0], states[depth - 1].shape[-1]
        dy = q.new_zeros(*q.shape[:2], d_v) if dy is None else dy.contiguous()
        d_states = tuple(torch.zeros_like(w) if g is None else g.float().contiguous() for g, w in zip(d_states, states))
        d_tokens, d_coefficients, d_weights, d_momentum = ctx.kernels[1](
            tokens, coefficients, states[:depth], states[depth:], ctx.chunk, dy, d_states[:depth], d_states[depth:],
            *kept,
        )
        return None, None, None, None, *d_tokens, *d_weights, *d_momentum, *d_coefficients


KERNELS = {1: (linear_forward, linear_backward), 2: (mlp_forward, mlp_backward)}


MLP_MAX_ENTRIES = 64 * 128
"""Depth 2: the most entries of each matrix (d_head 64, expansion 2), the largest whose kernels were compiled for
sm_90 (every matrix and momentum lives in one program's registers)."""


def missing_kernels(weights: tuple[Tensor, ...]) -> str | None:
    """Why a memory with ``weights`` has no kernels (a reason for ``warn_fallback``), or None when it has: depth 1
    at any width, depth 2 while each matrix has at most ``MLP_MAX_ENTRIES`` entries."""
    if len(weights) == 1:
        return None
    if len(weights) != 2:
        return f"a depth-{len(weights)} memory has no Triton kernels (depth 1 and 2 have)"
    if all(w.shape[-2] * w.shape[-1] <= MLP_MAX_ENTRIES for w in weights):
        return None
    shapes = " and ".join(f"{w.shape[-2]} × {w.shape[-1]}" for w in weights)
    return (
        f"the depth-2 memory's {shapes} matrices (d_head {weights[0].shape[-2]}) exceed the kernels' limit of "
        f"{MLP_MAX_ENTRIES} entries per matrix (d_head 64 at expansion 2)"
    )


def memory_update_triton(
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
    """Write (k, v) and read q chunk by chunk with the Triton kernels; same contract as ``memory_update_chunked``."""
    batch, heads, length, _ = q.shape
    missing = missing_kernels(weights)
    if missing is not None:
        warn_fallback(missing)
    if not length or missing is not None:
        return memory_update_chunked(q, k, v, theta, eta, alpha, weights, momentum, chunk_size, update)
    chunk = chunk_length(length, chunk_size)
    depth = len(weights)
    scans = chunk_coefficients(*(as_chunks(g.float(), chunk) for g in (theta, eta, alpha)))
    tokens = token_inputs(q, k, v, theta, eta, scans, depth, update)
    states = (x.float().flatten(0, 1).contiguous() for x in (*weights, *momentum))
    y, *out = MemoryFunction.apply(KERNELS[depth], chunk, len(tokens), depth, *tokens, *states, *gate_terms(scans))
    out = [x.view(batch, heads, *x.shape[1:]).to(w.dtype) for x, w in zip(out, (*weights, *momentum))]
    return y.view(batch, heads, length, -1).to(v.dtype), tuple(out[:depth]), tuple(out[depth:])
