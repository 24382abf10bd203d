"""A GPU run that cannot use the Triton kernels says so once per reason (``KernelFallbackWarning``), on CPU: the
backend choice sees a stand-in for a CUDA tensor, and the Triton path is called with memories it has no kernels for
(it falls back before launching any kernel)."""

from __future__ import annotations

import types
import warnings

import pytest
import torch
from memory_inputs import make_memory_inputs

from titans_ts.ops import memory_update as op
from titans_ts.ops.memory_update import KernelFallbackWarning, resolve_backend
from titans_ts.ops.memory_update import fallback as fallback_module

CUDA_TENSOR = types.SimpleNamespace(is_cuda=True)  # all that resolve_backend reads of its tensor


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts as a fresh process would: no reason warned yet."""
    monkeypatch.setattr(fallback_module, "_warned", set())


def fallback_warnings(call: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, KernelFallbackWarning)]


def test_auto_without_triton_warns_once_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(op, "BACKENDS", {k: v for k, v in op.BACKENDS.items() if k != "triton"})
    monkeypatch.setattr(op, "TRITON_MISSING", "triton is not installed")
    first = fallback_warnings(lambda: resolve_backend("auto", CUDA_TENSOR))
    assert first == ["memory update: triton is not installed; using the chunked PyTorch path instead of the Triton "
                     "kernels"]  # fmt: skip
    assert fallback_warnings(lambda: resolve_backend("auto", CUDA_TENSOR)) == []  # once per process and reason
    assert resolve_backend("auto", CUDA_TENSOR) == "chunked"


def test_no_warning_where_nothing_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU tensors take the chunked path by design; an explicit backend is the caller's choice; with Triton
    registered CUDA tensors take it."""
    monkeypatch.setattr(op, "BACKENDS", {k: v for k, v in op.BACKENDS.items() if k != "triton"})
    assert fallback_warnings(lambda: resolve_backend("auto", torch.zeros(1))) == []
    assert fallback_warnings(lambda: resolve_backend("chunked", CUDA_TENSOR)) == []
    monkeypatch.setattr(op, "BACKENDS", {**op.BACKENDS, "triton": op.memory_update_chunked})
    assert fallback_warnings(lambda: resolve_backend("auto", CUDA_TENSOR)) == []
    assert resolve_backend("auto", CUDA_TENSOR) == "triton"


def test_triton_missing_reason_names_the_import_failure() -> None:
    if "triton" in op.BACKENDS:
        assert op.TRITON_MISSING == ""
    else:
        assert op.TRITON_MISSING  # "triton is not installed" or the import error


@pytest.mark.parametrize(
    "depth, d, hidden, reason",
    [
        (2, 72, 144, "depth-2 memory's 72 × 144 and 144 × 72 matrices (d_head 72) exceed the kernels' limit of 8192"),
        (3, 6, 10, "a depth-3 memory has no Triton kernels"),
    ],
    ids=["depth-2-wide", "depth-3"],
)
def test_memories_without_kernels_warn_once(depth: int, d: int, hidden: int, reason: str) -> None:
    triton_op = pytest.importorskip("titans_ts.ops.memory_update.triton_op")
    inputs = make_memory_inputs(length=8, depth=depth, d=d, hidden=hidden)
    results = []
    first = fallback_warnings(lambda: results.append(triton_op.memory_update_triton(**inputs, chunk_size=4)))
    assert len(first) == 1 and reason in first[0], first
    assert fallback_warnings(lambda: triton_op.memory_update_triton(**inputs, chunk_size=4)) == []
    y, _, _ = op.memory_update_chunked(**inputs, chunk_size=4)
    assert torch.equal(results[0][0], y)


def test_kernel_limits() -> None:
    triton_op = pytest.importorskip("titans_ts.ops.memory_update.triton_op")

    def weights(*widths: int) -> tuple[torch.Tensor, ...]:
        return tuple(torch.zeros(1, 1, i, o) for i, o in zip(widths[:-1], widths[1:]))

    assert triton_op.missing_kernels(weights(512, 512)) is None  # depth 1: any width
    assert triton_op.missing_kernels(weights(64, 128, 64)) is None  # the widest depth-2 memory with kernels
    assert "d_head 128" in triton_op.missing_kernels(weights(128, 256, 128))
