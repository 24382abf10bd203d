"""The Triton path of the memory update (Eq. 13-18): the same contract and numbers as ``chunked``, fused kernels.

Stages, as flash-linear-attention's chunked gated delta rule: (1) the chunk-local gate scans C, β, g, E of
Eq. 17-18 (``chunked.chunk_coefficients``, in PyTorch: b×b per chunk, exact for gates equal to 0, and
differentiable, so θ, η, α get their gradients through autograd); (2) one kernel walks the chunks in order,
carrying the memory and momentum, with each chunk's intra-chunk terms and outputs; (3) the backward kernel
recomputes the chunk-start states and walks the chunks in reverse (``triton_linear`` for L_M = 1,
``triton_mlp`` for L_M = 2).

A chunk left open by the previous call (``state.offset`` > 0, fewer than b tokens) is finished by the chunked
path; the kernels start on a chunk boundary. Memories without kernels (``has_kernels``) take the chunked path.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from .chunked import _as_chunks, chunk_coefficients, memory_update_chunked
from .state import MemoryOpState
from .triton_linear import GateTerms, linear_backward, linear_forward
from .triton_mlp import mlp_backward, mlp_forward


def gate_terms(theta: Tensor, eta: Tensor, alpha: Tensor, chunk: int) -> GateTerms:
    """The gate terms of every chunk of gates (B, H, T) that start on a chunk boundary, flattened to (B·H, N, ...)."""
    scans = chunk_coefficients(*(_as_chunks(g.float(), chunk).flatten(0, 1) for g in (theta, eta, alpha)))
    n_chunks = scans.weight_carry.shape[1]
    last = torch.full((n_chunks,), chunk - 1, device=theta.device)
    last[-1] = (theta.shape[2] - 1) % chunk  # the last chunk may be partial
    chunks = torch.arange(n_chunks, device=theta.device)
    ends = (scans.weight_carry, scans.momentum_into_weights, scans.momentum_carry)
    return GateTerms(
        write=scans.write,
        weight_carry=scans.weight_carry,
        momentum_into_weights=scans.momentum_into_weights,
        last_write=scans.write[:, chunks, last],
        last_momentum_write=scans.momentum_write[:, chunks, last],
        last_carries=torch.stack([c[:, chunks, last] for c in ends], dim=-1),
    )


KERNELS = {1: (linear_forward, linear_backward), 2: (mlp_forward, mlp_backward)}


class MemoryFunction(torch.autograd.Function):
    """(q, k, v, W_0, S_0, coefficients) → (y, W_T, S_T, W at the start of the last chunk) on (B·H, ...) tensors.

    W_0, S_0, W_T, S_T and the refs are tuples of one float32 matrix per layer, passed flat.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx, q: Tensor, k: Tensor, v: Tensor, chunk: int, depth: int, *tensors: Tensor
    ) -> tuple[Tensor, ...]:
        weights, momentum = tensors[:depth], tensors[depth : 2 * depth]
        coefficients = GateTerms(*(c.contiguous() for c in tensors[2 * depth :]))
        y, weights_t, momentum_t, refs, _ = KERNELS[depth][0](q, k, v, coefficients, weights, momentum, chunk)
        ctx.save_for_backward(q, k, v, *weights, *momentum, *coefficients)
        ctx.chunk, ctx.depth = chunk, depth
        return y, *weights_t, *momentum_t, *refs

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, dy: Tensor | None, *d_states: Tensor | None) -> tuple[Tensor | None, ...]:
        q, k, v, *tensors = ctx.saved_tensors
        depth = ctx.depth
        weights, momentum = tuple(tensors[:depth]), tuple(tensors[depth : 2 * depth])
        dy = torch.zeros_like(v) if dy is None else dy.contiguous()
        like = (*weights, *momentum, *weights)
        d_states = tuple(torch.zeros_like(w) if g is None else g.float().contiguous() for g, w in zip(d_states, like))
        dq, dk, dv, d_coefficients, d_weights, d_momentum = KERNELS[depth][1](
            q,
            k,
            v,
            GateTerms(*tensors[2 * depth :]),
            weights,
            momentum,
            ctx.chunk,
            dy,
            d_states[:depth],
            d_states[depth : 2 * depth],
            d_states[2 * depth :],
        )
        return dq.to(q.dtype), dk.to(k.dtype), dv, None, None, *d_weights, *d_momentum, *d_coefficients


def _kernel_update(
    q: Tensor, k: Tensor, v: Tensor, theta: Tensor, eta: Tensor, alpha: Tensor, state: MemoryOpState, chunk: int
) -> tuple[Tensor, MemoryOpState]:
    """The kernels on (B, H, T, d) inputs from a chunk boundary (``state.offset`` = 0)."""
    batch, heads, length, _ = q.shape
    depth = len(state.weights)
    flat = (x.flatten(0, 1).contiguous() for x in (q, k, v))
    states = (x.float().flatten(0, 1).contiguous() for x in (*state.weights, *state.momentum))
    y, *out = MemoryFunction.apply(*flat, chunk, depth, *states, *gate_terms(theta, eta, alpha, chunk))
    out = [x.view(batch, heads, *x.shape[1:]).to(w.dtype) for x, w in zip(out, (*state.weights,) * 3)]
    weights, momentum, refs = tuple(out[:depth]), tuple(out[depth : 2 * depth]), tuple(out[2 * depth :])
    offset = length % chunk
    return y.view(batch, heads, length, -1), MemoryOpState(weights, momentum, refs if offset else weights, offset)


def has_kernels(weights: tuple[Tensor, ...]) -> bool:
    """Depth 1 at any width; depth 2 while each matrix has at most 64 × 128 entries (d_head 64, expansion 2), the
    largest whose kernels were compiled for sm_90 (every matrix and momentum lives in one program's registers)."""
    return len(weights) == 1 or (len(weights) == 2 and all(w.shape[-2] * w.shape[-1] <= 64 * 128 for w in weights))


def memory_update_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    alpha: Tensor,
    state: MemoryOpState,
    chunk_size: int = 16,
) -> tuple[Tensor, MemoryOpState]:
    """Write (k, v) and read q chunk by chunk with the Triton kernels; same contract as ``memory_update_chunked``."""
    length = q.shape[2]
    if not has_kernels(state.weights):
        return memory_update_chunked(q, k, v, theta, eta, alpha, state, chunk_size)
    head = min(chunk_size - state.offset, length) if state.offset else 0
    outputs = []
    if head:
        gates = (theta, eta, alpha)
        y_head, state = memory_update_chunked(
            *(x[:, :, :head] for x in (q, k, v)), *(g[:, :, :head] for g in gates), state, chunk_size
        )
        if head == length:
            return y_head, state
        outputs.append(y_head)
    y, state = _kernel_update(*(x[:, :, head:] for x in (q, k, v, theta, eta, alpha)), state, chunk_size)
    return torch.cat([*outputs, y], dim=2), state
