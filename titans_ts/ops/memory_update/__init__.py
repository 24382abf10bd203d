"""The neural-memory update op (Eq. 13-18), one module per path, as in flash-linear-attention's ``ops/``:

- ``coefficients``: what all paths share: the gate scans and the update rules ("stable", "minibatch");
- ``recurrent``: token by token, the float64 ground truth of the tests;
- ``chunked``: the chunkwise-parallel form in PyTorch, the default on CPU (and on CUDA without Triton);
- ``triton``: fused kernels (``triton_op``; ``triton_linear``, ``triton_mlp``), registered in ``BACKENDS`` when
  Triton imports, and then chosen automatically for CUDA tensors (on CPU they run only under
  ``TRITON_INTERPRET=1``, for the tests);
- ``fallback``: when CUDA tensors take the chunked path instead (Triton missing, a memory without kernels), one
  ``KernelFallbackWarning`` per reason and process says why.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .chunked import memory_update_chunked
from .coefficients import UPDATE_RULES, UpdateRule, token_write_scale
from .fallback import KernelFallbackWarning, warn_fallback
from .recurrent import memory_update_recurrent
from .state import MemoryOpState

MemoryUpdate = Callable[..., tuple[Tensor, tuple[Tensor, ...], tuple[Tensor, ...]]]
"""A path: (q, k, v, θ, η, α, M, S, chunk_size, update) from a chunk boundary → (y, M_T, S_T)."""

BACKENDS: dict[str, MemoryUpdate] = {
    "recurrent": memory_update_recurrent,
    "chunked": memory_update_chunked,
}

TRITON_MISSING = ""  # why the Triton path is not registered, for the warning of ``resolve_backend``
try:  # Triton is a Linux-only dependency
    from .triton_op import memory_update_triton
except ImportError as err:
    TRITON_MISSING = (
        "triton is not installed"
        if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] == "triton"
        else f"the Triton kernels failed to import ({err})"
    )
else:
    BACKENDS["triton"] = memory_update_triton


def resolve_backend(backend: str, x: Tensor) -> str:
    """The path that ``backend`` means for tensors like ``x``: "auto" takes Triton on CUDA when registered (and
    warns once, with the reason, ``KernelFallbackWarning``, when CUDA tensors cannot take it)."""
    if backend == "auto":
        if not x.is_cuda:
            return "chunked"
        if "triton" not in BACKENDS:
            warn_fallback(TRITON_MISSING or "the Triton path is not registered")
            return "chunked"
        return "triton"
    if backend not in BACKENDS:
        raise ValueError(f"unknown memory backend {backend!r}; available: auto, {', '.join(BACKENDS)}")
    return backend


def triton_available() -> bool:
    """Whether CUDA tensors would take the Triton path under ``backend="auto"``."""
    return "triton" in BACKENDS and torch.cuda.is_available()


def memory_update(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    theta: Tensor,
    eta: Tensor,
    alpha: Tensor,
    state: MemoryOpState,
    chunk_size: int,
    backend: str = "auto",
    update: UpdateRule = "stable",
) -> tuple[Tensor, MemoryOpState]:
    """Write every (k_t, v_t) into the memory and read y_t = M_t(q_t) after each write (Eq. 13-18).

    q, k: (B, H, T, d_k); v: (B, H, T, d_v); theta (θ_t, learning rate), eta (η_t, momentum decay) and alpha
    (α_t, forgetting) of shape (B, H, T). ``update``: "stable" (the exact per-token rule at depth 1, Eq. 16 with the
    causal step cap at depth ≥ 2) or "minibatch" (Eq. 16 as the paper writes it), chunks of b = ``chunk_size``.

    A chunk left open by the previous call is replayed from its start (``state.pending``) and the call's open end
    is run on its own, so every path runs from a chunk boundary and feeding a stream in pieces equals one call.
    The linear memory's per-token cap (``coefficients.token_write_scale``) is applied to θ here, once for every
    path; the paths compute the rule's recurrence with the θ they are given.
    """
    if update not in UPDATE_RULES:
        raise ValueError(f"update must be one of {', '.join(UPDATE_RULES)}; got {update!r}")
    path = BACKENDS[resolve_backend(backend, q)]
    replayed = state.offset
    if replayed:  # the pending keys stand in for its queries: those reads are dropped
        q, k, v, theta, eta, alpha = (
            torch.cat([before, now], dim=2)
            for before, now in zip((state.pending[0], *state.pending), (q, k, v, theta, eta, alpha))
        )
    weights, momentum = state.chunk_weights, state.chunk_momentum
    rate = theta * token_write_scale(k, theta, eta) if update == "stable" and len(weights) == 1 else theta
    length = q.shape[2]
    whole = length - length % chunk_size
    outputs, pending = [], ()
    if whole:
        y, weights, momentum = path(*(x[:, :, :whole] for x in (q, k, v, rate, eta, alpha)),
                                    weights, momentum, chunk_size, update)
        outputs.append(y)
    chunk_weights, chunk_momentum = weights, momentum
    if whole < length:
        y, weights, momentum = path(*(x[:, :, whole:] for x in (q, k, v, rate, eta, alpha)),
                                    weights, momentum, chunk_size, update)
        outputs.append(y)
        pending = tuple(x[:, :, whole:] for x in (k, v, theta, eta, alpha))
    y = torch.cat(outputs, dim=2)[:, :, replayed:] if outputs else q.new_zeros(*q.shape[:3], v.shape[-1])
    return y, MemoryOpState(weights, momentum, chunk_weights, chunk_momentum, pending)


__all__ = [
    "BACKENDS",
    "KernelFallbackWarning",
    "MemoryOpState",
    "UPDATE_RULES",
    "UpdateRule",
    "memory_update",
    "memory_update_chunked",
    "memory_update_recurrent",
    "resolve_backend",
    "triton_available",
]
