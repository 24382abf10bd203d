"""The Triton path of the memory update against the chunked PyTorch path and the float64 recurrent reference.

Without a GPU the kernels run on the CPU through Triton's interpreter (``TRITON_INTERPRET=1``, set in conftest.py
before anything is imported); with one they run on CUDA. Every output buffer starts as NaN
(``torch.use_deterministic_algorithms`` fills uninitialised memory), so an element a kernel fails to write shows.

Tolerances (largest |error| / largest |reference|), against the float64 reference on the same (rounded) inputs:
float32 inputs 1e-5 (the kernels compute in float32, about 3e-7 seen); float16 inputs 2e-3 and bfloat16 inputs
1e-2 (y, dq, dk, dv come back in the input dtype, whose rounding is 5e-4 and 4e-3).
"""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
import torch
from memory_inputs import leaves, make_memory_inputs, run_op

from titans_ts.memory import NeuralMemory
from titans_ts.ops.memory_update import (
    BACKENDS,
    MemoryOpState,
    memory_update_chunked,
    memory_update_recurrent,
    resolve_backend,
)

pytest.importorskip("triton")
if "triton" not in BACKENDS:
    pytest.skip("the triton backend did not register", allow_module_level=True)
triton_path = BACKENDS["triton"]
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}


@pytest.fixture(autouse=True)
def nan_filled_buffers() -> Iterator[None]:
    """torch.empty and friends return NaN-filled tensors for the duration of a test (warn_only: on CUDA, cuBLAS
    would otherwise refuse to run without CUBLAS_WORKSPACE_CONFIG)."""
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-300)).item()


def scalar_of(y: torch.Tensor, state: MemoryOpState) -> torch.Tensor:
    """A scalar touching the outputs and every part of the final state with distinct weights."""
    total = (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype, device=y.device)).sum()
    for i, t in enumerate((*state.weights, *state.momentum, *state.reference)):
        total = total + (i + 1) * (t * t).sum()
    return total


def cast_inputs(inputs: dict[str, object], dtype: torch.dtype) -> tuple[dict[str, object], dict[str, object]]:
    """(kernel inputs: q, k, v in ``dtype`` on DEVICE, float32 gates and state; the same values in float64, CPU)."""
    def cast(name: str, x: torch.Tensor) -> torch.Tensor:
        return x.to(DEVICE, dtype if name in ("q", "k", "v") else torch.float32)

    ours = {n: tuple(cast(n, x) for x in v) if isinstance(v, tuple) else cast(n, v) for n, v in inputs.items()}
    reference = {n: tuple(x.detach().cpu().double() for x in v) if isinstance(v, tuple) else v.detach().cpu().double()
                 for n, v in ours.items()}
    for x in (*leaves(ours), *leaves(reference)):
        x.requires_grad_(True)
    return ours, reference


def check_against_reference(
    inputs: dict[str, object], chunk_size: int, dtype: torch.dtype, reference_path=memory_update_recurrent
) -> None:
    ours, reference = cast_inputs(inputs, dtype)
    y, state = run_op(triton_path, ours, chunk_size)
    y_ref, state_ref = run_op(reference_path, reference, chunk_size)
    tolerance = TOLERANCE[dtype]
    assert y.dtype == dtype and state.offset == state_ref.offset
    assert rel_err(y, y_ref) < tolerance
    for name, layers, layers_ref in zip(("weights", "momentum", "reference"), state[:3], state_ref[:3]):
        for i, (a, b) in enumerate(zip(layers, layers_ref, strict=True)):
            assert rel_err(a, b) < tolerance, f"{name} {i}"
    grads = torch.autograd.grad(scalar_of(y, state), leaves(ours))
    grads_ref = torch.autograd.grad(scalar_of(y_ref, state_ref), leaves(reference))
    depth = len(state.weights)
    names = ("q", "k", "v", "theta", "eta", "alpha", *(f"{m}_{i}" for m in "WS" for i in range(depth)))
    for name, a, b in zip(names, grads, grads_ref, strict=True):
        assert a.dtype == (dtype if name in ("q", "k", "v") else torch.float32)
        assert rel_err(a, b) < tolerance, f"gradient of {name}"


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize(
    "length, chunk_size, d",
    [(37, 16, 16), (16, 16, 32), (1, 16, 16), (21, 8, 20), (45, 12, 16)],
    ids=["odd-T", "one-chunk", "T=1", "b<16,d=20", "b=12"],
)
def test_float32_matches_float64_recurrent(length: int, chunk_size: int, d: int, depth: int) -> None:
    inputs = make_memory_inputs(length=length, depth=depth, d=d, hidden=2 * d, theta_max=0.5)
    check_against_reference(inputs, chunk_size, torch.float32)


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype: torch.dtype, depth: int) -> None:
    inputs = make_memory_inputs(length=23, depth=depth, d=16, hidden=32)
    check_against_reference(inputs, 16, dtype, memory_update_chunked)


@pytest.mark.parametrize("depth", [1, 2])
def test_zero_gates_are_exact(depth: int) -> None:
    """η = 0 and α = 1 somewhere (products of gates through 0): the scans stay exact, no NaN from logarithms."""
    inputs = make_memory_inputs(length=19, depth=depth, d=16, hidden=32)
    inputs["eta"][:, :, 3] = 0.0
    inputs["alpha"][:, :, 12] = 1.0
    check_against_reference(inputs, 8, torch.float32)


@pytest.mark.parametrize("depth", [1, 2])
def test_pieces_with_carried_state_equal_one_call(depth: int) -> None:
    """Streaming: calls that open and close chunks at every offset give what one call gives."""
    ours, _ = cast_inputs(make_memory_inputs(length=40, depth=depth, d=16, hidden=32), torch.float32)
    with torch.no_grad():
        y_whole, s_whole = run_op(triton_path, ours, 16)
        state = MemoryOpState(ours["weights"], ours["momentum"], ours["weights"], 0)
        outputs, start = [], 0
        for stop in (5, 6, 21, 38, 40):
            piece = (ours[n][:, :, start:stop] for n in ("q", "k", "v", "theta", "eta", "alpha"))
            y, state = triton_path(*piece, state, 16)
            outputs.append(y)
            start = stop
    assert state.offset == s_whole.offset == 8
    assert rel_err(torch.cat(outputs, dim=2), y_whole) < 1e-5
    for a, b in zip(state[:3], s_whole[:3]):
        for a_layer, b_layer in zip(a, b, strict=True):
            assert rel_err(a_layer, b_layer) < 1e-5


@pytest.mark.parametrize("depth", [1, 2])
def test_layer_parameter_gradients_match_chunked(depth: int) -> None:
    """A whole NeuralMemory layer: output and every parameter's gradient equal the chunked path's."""
    torch.manual_seed(0)
    layer = NeuralMemory(d_model=32, n_heads=2, depth=depth, chunk_size=16).to(DEVICE)
    x = torch.randn(2, 19, 32, device=DEVICE)
    results = []
    for backend in ("triton", "chunked"):
        layer.backend = backend
        layer.zero_grad()
        y, _ = layer(x)
        y.pow(2).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in layer.parameters() if p.grad is not None]))
    (y, grads), (y_ref, grads_ref) = results
    assert rel_err(y, y_ref) < 1e-5
    assert len(grads) == len(grads_ref) == len(list(layer.parameters()))
    for a, b in zip(grads, grads_ref):
        assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize("depth, d, hidden", [(3, 6, 10), (2, 72, 144)], ids=["depth-3", "depth-2-wide"])
def test_memories_without_kernels_take_the_chunked_path(depth: int, d: int, hidden: int) -> None:
    inputs = make_memory_inputs(length=9, depth=depth, d=d, hidden=hidden)
    y, _ = run_op(triton_path, inputs, 4)
    y_ref, _ = run_op(memory_update_chunked, inputs, 4)
    assert torch.equal(y, y_ref)


def test_auto_chooses_triton_for_cuda_tensors() -> None:
    assert resolve_backend("auto", types.SimpleNamespace(is_cuda=True)) == "triton"
    assert resolve_backend("auto", torch.zeros(1)) == "chunked"
    assert resolve_backend("chunked", types.SimpleNamespace(is_cuda=True)) == "chunked"
