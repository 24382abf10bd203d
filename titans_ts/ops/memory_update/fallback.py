"""Why CUDA tensors did not take the Triton kernels: one warning per reason and process, instead of a silent fall back
to the chunked PyTorch path (slower, same numbers)."""

from __future__ import annotations

import warnings


class KernelFallbackWarning(UserWarning):
    """CUDA tensors took the chunked PyTorch path of the memory update instead of the Triton kernels."""


_warned: set[str] = set()


def warn_fallback(reason: str) -> None:
    """Warn, the first time in this process for ``reason``, that the memory update runs the chunked PyTorch path
    instead of the Triton kernels because of ``reason``."""
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(
        f"memory update: {reason}; using the chunked PyTorch path instead of the Triton kernels",
        KernelFallbackWarning,
        stacklevel=3,
    )
