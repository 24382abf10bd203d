"""The neural-memory update op (Eq. 13-18), one module per path, as in flash-linear-attention's ``ops/``:

- ``recurrent``: token by token, the float64 ground truth of the tests;
- ``chunked``: the chunkwise-parallel form in PyTorch, the default on CPU (and on CUDA without Triton);
- ``triton``: fused kernels (``triton_op``; ``triton_linear``, ``triton_mlp``), registered in ``BACKENDS`` when
  Triton imports, and then chosen automatically for CUDA tensors (on CPU they run only under
  ``TRITON_INTERPRET=1``, for the tests).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .chunked import memory_update_chunked
from .recurrent import memory_update_recurrent
from .state import MemoryOpState

MemoryUpdate = Callable[..., tuple[Tensor, MemoryOpState]]

BACKENDS: dict[str, MemoryUpdate] = {
    "recurrent": memory_update_recurrent,
    "chunked": memory_update_chunked,
}

try:  # Triton is a Linux-only dependency
    from .triton_op import memory_update_triton
except ImportError:
    pass
else:
    BACKENDS["triton"] = memory_update_triton


def resolve_backend(backend: str, x: Tensor) -> str:
    """The path that ``backend`` means for tensors like ``x``: "auto" takes Triton on CUDA when registered."""
    if backend == "auto":
        return "triton" if x.is_cuda and "triton" in BACKENDS else "chunked"
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
) -> tuple[Tensor, MemoryOpState]:
    """Write every (k_t, v_t) into the memory and read y_t = M_t(q_t) after each write (Eq. 13-18).

    q, k: (B, H, T, d_k); v: (B, H, T, d_v); theta (θ_t, learning rate), eta (η_t, momentum decay) and alpha
    (α_t, forgetting) of shape (B, H, T). Gradients at the chunk-start weights with chunk size b = ``chunk_size``.
    """
    return BACKENDS[resolve_backend(backend, q)](q, k, v, theta, eta, alpha, state, chunk_size)


__all__ = [
    "BACKENDS",
    "MemoryOpState",
    "memory_update",
    "memory_update_chunked",
    "memory_update_recurrent",
    "resolve_backend",
    "triton_available",
]
