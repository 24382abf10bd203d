"""The chunked memory update against the token-by-token reference of Eq. 13-16, in float64."""

from __future__ import annotations

import pytest
import torch
from memory_inputs import leaves, make_memory_inputs, run_op

from titans_ts.ops.memory_update import (
    MemoryOpState,
    memory_update,
    memory_update_chunked,
    memory_update_recurrent,
    resolve_backend,
)
from titans_ts.ops.memory_update.chunked import segment_products
from titans_ts.ops.memory_update.mlp import mlp_forward


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def scalar_of(y: torch.Tensor, state: MemoryOpState) -> torch.Tensor:
    """A scalar touching outputs and every part of the final state with distinct weights."""
    total = (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).sum()
    for i, t in enumerate((*state.weights, *state.momentum, *state.reference)):
        total = total + (i + 1) * (t * t).sum()
    return total


@pytest.mark.parametrize("gates", ["token", "chunk"])
@pytest.mark.parametrize("chunk_size", [1, 4, 16])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("length", [1, 7, 63, 100])
def test_chunked_matches_recurrent(length: int, depth: int, chunk_size: int, gates: str) -> None:
    inputs = make_memory_inputs(length=length, depth=depth, chunk_gates=chunk_size if gates == "chunk" else None)
    for x in leaves(inputs):
        x.requires_grad_(True)
    y_ref, s_ref = run_op(memory_update_recurrent, inputs, chunk_size)
    y, s = run_op(memory_update_chunked, inputs, chunk_size)
    assert s.offset == s_ref.offset == length % chunk_size
    assert rel_err(y, y_ref) < 1e-10
    for a, b in zip((*s.weights, *s.momentum, *s.reference), (*s_ref.weights, *s_ref.momentum, *s_ref.reference)):
        assert rel_err(a, b) < 1e-10
    grads_ref = torch.autograd.grad(scalar_of(y_ref, s_ref), leaves(inputs))
    grads = torch.autograd.grad(scalar_of(y, s), leaves(inputs))
    for name_grad, (a, b) in enumerate(zip(grads, grads_ref)):
        assert rel_err(a, b) < 1e-10, f"gradient {name_grad}"


def test_recurrent_b1_is_textbook_linear_memory() -> None:
    """Check the reference itself: b = 1, L_M = 1 is S ← ηS − θ·2k^T(kW − v), W ← (1−α)W + S, y = qW."""
    inputs = make_memory_inputs(length=9, depth=1)
    y, state = run_op(memory_update_recurrent, inputs, 1)
    (w,), (s,) = inputs["weights"], inputs["momentum"]
    for t in range(9):
        q, k, v = (inputs[n][:, :, t : t + 1] for n in ("q", "k", "v"))
        theta, eta, alpha = (inputs[n][:, :, t, None, None] for n in ("theta", "eta", "alpha"))
        s = eta * s - theta * 2 * k.transpose(-1, -2) @ (k @ w - v)
        w = (1 - alpha) * w + s
        assert rel_err(y[:, :, t : t + 1], q @ w) < 1e-12
    assert rel_err(state.weights[0], w) < 1e-12 and rel_err(state.momentum[0], s) < 1e-12


@pytest.mark.parametrize("depth", [1, 2])
def test_one_chunk_without_momentum_or_decay_is_one_gradient_step(depth: int) -> None:
    """b = T, α = η = 0: M_t = M_0 − Σ_{s≤t} θ_s ∇ℓ(M_0; x_s), a single (cumulative) gradient step from M_0."""
    length = 11
    inputs = make_memory_inputs(length=length, depth=depth)
    inputs["eta"] = torch.zeros_like(inputs["eta"])
    inputs["alpha"] = torch.zeros_like(inputs["alpha"])
    inputs["momentum"] = tuple(torch.zeros_like(m) for m in inputs["momentum"])
    y, state = run_op(memory_update_chunked, inputs, length)
    w0 = tuple(w.clone().requires_grad_(True) for w in inputs["weights"])
    for t in range(length):
        losses = (mlp_forward(w0, inputs["k"][:, :, : t + 1]) - inputs["v"][:, :, : t + 1]).pow(2).sum(-1)
        step = torch.autograd.grad((inputs["theta"][:, :, : t + 1] * losses).sum(), w0)
        w_t = tuple(w - g for w, g in zip(w0, step))
        assert rel_err(y[:, :, t], mlp_forward(w_t, inputs["q"][:, :, t : t + 1])[:, :, 0]) < 1e-10
    for a, b in zip(state.weights, w_t):
        assert rel_err(a, b) < 1e-10


@pytest.mark.parametrize("path", [memory_update_recurrent, memory_update_chunked])
def test_pieces_with_carried_state_equal_one_call(path) -> None:
    inputs = make_memory_inputs(length=40, depth=2)
    y_whole, s_whole = run_op(path, inputs, 4)
    state = MemoryOpState(inputs["weights"], inputs["momentum"], inputs["weights"], 0)
    outputs, start = [], 0
    for stop in (5, 6, 13, 14, 27, 40):  # pieces that open and close chunks at every offset
        piece = (inputs[n][:, :, start:stop] for n in ("q", "k", "v", "theta", "eta", "alpha"))
        y, state = path(*piece, state, 4)
        outputs.append(y)
        start = stop
    assert rel_err(torch.cat(outputs, dim=2), y_whole) < 1e-12
    assert state.offset == s_whole.offset
    for a, b in zip((*state.weights, *state.momentum), (*s_whole.weights, *s_whole.momentum)):
        assert rel_err(a, b) < 1e-12


@pytest.mark.parametrize("depth, theta, eta, passes", [(1, 0.5, 0.0, 3), (2, 0.05, 0.5, 20)])
def test_memory_memorises_key_value_pairs(depth: int, theta: float, eta: float, passes: int) -> None:
    """Associative recall: after writing n pairs (k_i, v_i), M(k_i) ≈ v_i far better than the initial memory."""
    n, d = 8, 32
    g = torch.Generator().manual_seed(1)
    keys = torch.nn.functional.normalize(torch.randn(1, 1, n, d, generator=g, dtype=torch.float64), dim=-1)
    values = torch.randn(1, 1, n, d, generator=g, dtype=torch.float64)
    inputs = make_memory_inputs(batch=1, heads=1, length=n * passes, d=d, depth=depth, hidden=2 * d)
    inputs.update(k=keys.repeat(1, 1, passes, 1), v=values.repeat(1, 1, passes, 1), q=keys.repeat(1, 1, passes, 1))
    inputs["theta"] = torch.full_like(inputs["theta"], theta)
    inputs["eta"] = torch.full_like(inputs["eta"], eta)
    inputs["alpha"] = torch.zeros_like(inputs["alpha"])
    inputs["momentum"] = tuple(torch.zeros_like(m) for m in inputs["momentum"])
    _, state = run_op(memory_update_chunked, inputs, 4)
    before = (mlp_forward(inputs["weights"], keys) - values).pow(2).sum()
    after = (mlp_forward(state.weights, keys) - values).pow(2).sum()
    assert after < 0.05 * before


def test_segment_products_are_exact_with_zero_gates() -> None:
    x = torch.tensor([0.5, 0.0, 2.0, 3.0], dtype=torch.float64)
    expected = torch.tensor(
        [[1, 0, 0, 0], [0.0, 1, 0, 0], [0.0, 2, 1, 0], [0.0, 6, 3, 1]], dtype=torch.float64
    )
    assert torch.equal(segment_products(x), expected)


def test_dispatch() -> None:
    x = torch.zeros(1)
    assert resolve_backend("auto", x) == "chunked"
    assert resolve_backend("recurrent", x) == "recurrent"
    with pytest.raises(ValueError, match="unknown memory backend 'cuda-magic'"):
        resolve_backend("cuda-magic", x)
    inputs = make_memory_inputs(length=5)
    state = MemoryOpState(inputs["weights"], inputs["momentum"], inputs["weights"], 0)
    names = ("q", "k", "v", "theta", "eta", "alpha")
    y_auto, _ = memory_update(*(inputs[n] for n in names), state, 4)
    y_ref, _ = memory_update(*(inputs[n] for n in names), state, 4, backend="recurrent")
    assert rel_err(y_auto, y_ref) < 1e-12
