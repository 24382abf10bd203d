"""The Triton path of the memory update against the float64 recurrent reference, for both update rules: "stable"
(exact per-token rule with its per-token cap at depth 1, Eq. 16 with the causal step cap at depth 2) and "minibatch"
(Eq. 16).

Without a GPU the kernels run on the CPU through Triton's interpreter (``TRITON_INTERPRET=1``, set in conftest.py
before anything is imported); with one they run on CUDA. Every output buffer starts as NaN
(``torch.use_deterministic_algorithms`` fills uninitialised memory), so an element a kernel fails to write shows.

Tolerances (largest |error| / largest |reference|, over outputs, final state and every gradient), against the
float64 reference on the same (rounded) inputs: float32 inputs 1e-5 (the kernels compute in float32; at most 5.8e-7
seen under the interpreter, and 1.6e-6 on the kernel's step cap σ itself); float16 inputs 2e-3 and bfloat16 inputs
1e-2 (y, dq, dk, dv come back in the input dtype, whose rounding is 5e-4 and 4e-3; at most 4.8e-4 and 6.4e-3 seen).
"""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
import torch
from memory_inputs import leaves, make_memory_inputs, run_op

from titans_ts.memory import NeuralMemory
from titans_ts.ops.memory_update import BACKENDS, MemoryOpState, memory_update, resolve_backend
from titans_ts.ops.memory_update.chunked import as_chunks
from titans_ts.ops.memory_update.coefficients import chunk_coefficients, token_write_scale, write_scale

pytest.importorskip("triton")
if "triton" not in BACKENDS:
    pytest.skip("the triton backend did not register", allow_module_level=True)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NAMES = ("q", "k", "v", "theta", "eta", "alpha")
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}
THETA_MAX = {"stable": 0.5, "minibatch": 0.1}  # 0.5: the depth-2 cap acts on many chunks; Eq. 16 diverges there
UPDATES = pytest.mark.parametrize("update", ["stable", "minibatch"])


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


def state_tensors(state: MemoryOpState) -> list[torch.Tensor]:
    """M, S and the open chunk's start M_{t'}, S_{t'}, every layer."""
    return [t for part in state[:4] for t in part]


def scalar_of(y: torch.Tensor, state: MemoryOpState) -> torch.Tensor:
    """A scalar touching the outputs and every part of the final state with distinct weights."""
    total = (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype, device=y.device)).sum()
    for i, t in enumerate(state_tensors(state)):
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


def check_against_reference(inputs: dict[str, object], chunk_size: int, dtype: torch.dtype, update: str) -> None:
    """Triton on ``dtype`` inputs against the float64 recurrent path: outputs, final state, every input's gradient."""
    ours, reference = cast_inputs(inputs, dtype)
    y, state = run_op("triton", ours, chunk_size, update)
    y_ref, state_ref = run_op("recurrent", reference, chunk_size, update)
    tolerance = TOLERANCE[dtype]
    assert y.dtype == dtype and state.offset == state_ref.offset
    assert rel_err(y, y_ref) < tolerance
    for i, (a, b) in enumerate(zip(state_tensors(state), state_tensors(state_ref), strict=True)):
        assert a.dtype == torch.float32 and rel_err(a, b) < tolerance, f"state tensor {i}"
    grads = torch.autograd.grad(scalar_of(y, state), leaves(ours))
    grads_ref = torch.autograd.grad(scalar_of(y_ref, state_ref), leaves(reference))
    depth = len(state.weights)
    names = (*NAMES, *(f"{m}_{i}" for m in "WS" for i in range(depth)))
    for name, a, b in zip(names, grads, grads_ref, strict=True):
        assert a.dtype == (dtype if name in ("q", "k", "v") else torch.float32)
        assert rel_err(a, b) < tolerance, f"gradient of {name}"


@UPDATES
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize(
    "length, chunk_size, d",
    [(37, 16, 16), (16, 16, 32), (1, 16, 16), (21, 8, 20), (45, 12, 16)],
    ids=["odd-T", "one-chunk", "T=1", "b<16,d=20", "b=12"],
)
def test_float32_matches_float64_recurrent(length: int, chunk_size: int, d: int, depth: int, update: str) -> None:
    inputs = make_memory_inputs(length=length, depth=depth, d=d, hidden=2 * d, theta_max=THETA_MAX[update])
    check_against_reference(inputs, chunk_size, torch.float32, update)


def test_the_caps_act_on_the_tested_inputs() -> None:
    """Guard for the "stable" cases above: σ < 1 somewhere, for depth 1's per-token cap and on the first chunk for
    depth 2's, so the capped functions are really compared."""
    inputs = make_memory_inputs(length=37, depth=2, d=16, hidden=32, theta_max=THETA_MAX["stable"])
    assert (token_write_scale(*(inputs[n] for n in ("k", "theta", "eta"))) < 0.99).any()
    chunks = (inputs[n][:, :, :16] for n in ("k", "theta", "eta"))
    assert (write_scale(inputs["weights"], *chunks) < 0.99).any()


def test_inactive_cap() -> None:
    """Small θ on random keys: σ = 1 everywhere (the reference's "stable" is Eq. 16's), and the kernels agree."""
    inputs = make_memory_inputs(length=37, depth=2, d=16, hidden=32, theta_max=0.02)
    inputs["eta"] = inputs["eta"] * 0.5
    y_stable, _ = run_op("recurrent", inputs, 16, "stable")
    y_paper, _ = run_op("recurrent", inputs, 16, "minibatch")
    assert rel_err(y_stable, y_paper) < 1e-12
    check_against_reference(inputs, 16, torch.float32, "stable")


def test_kernel_step_cap_is_write_scale() -> None:
    """The σ the depth-2 forward kernel computes at each chunk start equals ``coefficients.write_scale`` there."""
    from titans_ts.ops.memory_update.triton_mlp import mlp_forward
    from titans_ts.ops.memory_update.triton_op import gate_terms, token_inputs

    inputs = make_memory_inputs(length=48, depth=2, d=20, hidden=40, theta_max=0.5)
    ours, reference = cast_inputs(inputs, torch.float32)
    with torch.no_grad():
        q, k, v, theta, eta, alpha = (ours[n] for n in NAMES)
        scans = chunk_coefficients(*(as_chunks(g, 16) for g in (theta, eta, alpha)))
        states = tuple(x.flatten(0, 1).contiguous() for x in (*ours["weights"], *ours["momentum"]))
        tokens = token_inputs(q, k, v, theta, eta, scans, 2, "stable")
        *_, (scale,) = mlp_forward(tokens, gate_terms(scans), states[:2], states[2:], 16)
        state = MemoryOpState.at_chunk_start(reference["weights"], reference["momentum"])
        for n in range(3):
            span = slice(16 * n, 16 * (n + 1))
            expected = write_scale(state.weights, *(reference[x][:, :, span] for x in ("k", "theta", "eta")))
            assert rel_err(scale[:, n].view_as(expected), expected) < 1e-5, f"chunk {n}"
            assert (expected < 0.99).any()
            _, state = memory_update(*(reference[x][:, :, span] for x in NAMES), state, 16, "recurrent")


@UPDATES
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs(dtype: torch.dtype, depth: int, update: str) -> None:
    inputs = make_memory_inputs(length=23, depth=depth, d=16, hidden=32)
    check_against_reference(inputs, 16, dtype, update)


@UPDATES
@pytest.mark.parametrize("depth", [1, 2])
def test_zero_gates_are_exact(depth: int, update: str) -> None:
    """η = 0 and α = 1 somewhere (products of gates through 0): the scans stay exact, no NaN from logarithms."""
    inputs = make_memory_inputs(length=19, depth=depth, d=16, hidden=32)
    inputs["eta"][:, :, 3] = 0.0
    inputs["alpha"][:, :, 12] = 1.0
    check_against_reference(inputs, 8, torch.float32, update)


@UPDATES
@pytest.mark.parametrize("depth", [1, 2])
def test_pieces_with_carried_state_equal_one_call(depth: int, update: str) -> None:
    """Streaming through ``memory_update``: calls that open and close chunks at every offset give what one call gives
    (the open chunks replayed on the kernels)."""
    ours, _ = cast_inputs(make_memory_inputs(length=40, depth=depth, d=16, hidden=32), torch.float32)
    with torch.no_grad():
        y_whole, s_whole = run_op("triton", ours, 16, update)
        state = MemoryOpState.at_chunk_start(ours["weights"], ours["momentum"])
        outputs, start = [], 0
        for stop in (5, 6, 21, 38, 40):
            piece = (ours[n][:, :, start:stop] for n in NAMES)
            y, state = memory_update(*piece, state, 16, "triton", update)
            outputs.append(y)
            start = stop
    assert state.offset == s_whole.offset == 8
    assert rel_err(torch.cat(outputs, dim=2), y_whole) < 1e-5
    for a, b in zip(state_tensors(state), state_tensors(s_whole), strict=True):
        assert rel_err(a, b) < 1e-5


@UPDATES
@pytest.mark.parametrize("depth", [1, 2])
def test_layer_parameter_gradients_match_chunked(depth: int, update: str) -> None:
    """A whole NeuralMemory layer: output and every parameter's gradient equal the chunked path's."""
    torch.manual_seed(0)
    layer = NeuralMemory(d_model=32, n_heads=2, depth=depth, chunk_size=16, update=update).to(DEVICE)
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
    y, _ = run_op("triton", inputs, 4)
    y_ref, _ = run_op("chunked", inputs, 4)
    assert torch.equal(y, y_ref)


def test_auto_chooses_triton_for_cuda_tensors() -> None:
    assert resolve_backend("auto", types.SimpleNamespace(is_cuda=True)) == "triton"
    assert resolve_backend("auto", torch.zeros(1)) == "chunked"
    assert resolve_backend("chunked", types.SimpleNamespace(is_cuda=True)) == "chunked"
