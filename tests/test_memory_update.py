"""The chunked memory update against the token-by-token reference of Eq. 13-16, in float64, for both update rules:
"stable" (exact per-token rule at depth 1, Eq. 16 with the causal step cap at depth ≥ 2) and "minibatch" (Eq. 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from memory_inputs import correlated_stream, leaves, make_memory_inputs, run_op

from titans_ts.ops.memory_update import BACKENDS, MemoryOpState, memory_update, resolve_backend
from titans_ts.ops.memory_update.coefficients import (
    chunk_coefficients,
    gauss_newton_gram,
    token_write_scale,
    unit_lower_inverse,
    write_scale,
)
from titans_ts.ops.memory_update.mlp import mlp_forward

NAMES = ("q", "k", "v", "theta", "eta", "alpha")
THETA_MAX = {"stable": 0.5, "minibatch": 0.1}  # 0.5: the depth-2 cap acts on many chunks; Eq. 16 diverges there
ETTH2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ett" / "ETTh2.csv.gz"


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


def scalar_of(y: torch.Tensor, state: MemoryOpState, open_chunk: bool = True) -> torch.Tensor:
    """A scalar touching outputs and every part of the final state (the open chunk's too) with distinct weights."""
    total = (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).sum()
    parts = state[:4] if open_chunk else state[:2]
    for i, t in enumerate(t for part in parts for t in part):
        total = total + (i + 1) * (t * t).sum()
    return total


def assert_same_run(inputs: dict, ours: tuple, reference: tuple, same_chunks: bool = True) -> None:
    """Outputs, the final state (and the open chunk's start, on the same chunk grid) and the gradients of all inputs
    agree to 1e-10."""
    (y, s), (y_ref, s_ref) = ours, reference
    parts = 4 if same_chunks else 2
    assert not same_chunks or s.offset == s_ref.offset
    assert rel_err(y, y_ref) < 1e-10
    for a, b in zip((t for part in s[:parts] for t in part), (t for part in s_ref[:parts] for t in part), strict=True):
        assert rel_err(a, b) < 1e-10
    grads = torch.autograd.grad(scalar_of(y, s, same_chunks), leaves(inputs))
    grads_ref = torch.autograd.grad(scalar_of(y_ref, s_ref, same_chunks), leaves(inputs))
    for name, a, b in zip((*NAMES, "M", "S"), grads, grads_ref):
        assert rel_err(a, b) < 1e-10, f"gradient of {name}"


@pytest.mark.parametrize("gates", ["token", "chunk"])
@pytest.mark.parametrize("chunk_size", [1, 4, 16, 64])
@pytest.mark.parametrize("length", [1, 7, 63, 100])
def test_linear_memory_chunks_are_the_exact_per_token_recurrence(length: int, chunk_size: int, gates: str) -> None:
    """Depth 1, "stable": chunked at any b equals the b = 1 recurrence (each gradient at M_{t−1})."""
    per_chunk = chunk_size if gates == "chunk" else None
    inputs = make_memory_inputs(length=length, depth=1, theta_max=0.5, chunk_gates=per_chunk)
    for x in leaves(inputs):
        x.requires_grad_(True)
    assert_same_run(inputs, run_op("chunked", inputs, chunk_size), run_op("recurrent", inputs, 1), same_chunks=False)


@pytest.mark.parametrize("update", ["stable", "minibatch"])
@pytest.mark.parametrize("chunk_size", [1, 4, 16])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("length", [1, 7, 63, 100])
def test_chunked_matches_recurrent(length: int, depth: int, chunk_size: int, update: str) -> None:
    """The same function on both paths, with θ large enough that the depth-2 cap acts on many chunks."""
    inputs = make_memory_inputs(length=length, depth=depth, theta_max=THETA_MAX[update])
    for x in leaves(inputs):
        x.requires_grad_(True)
    ours = run_op("chunked", inputs, chunk_size, update)
    assert_same_run(inputs, ours, run_op("recurrent", inputs, chunk_size, update))


def test_the_cap_acts_on_the_tested_inputs() -> None:
    """Guard for the test above: σ < 1 somewhere on its depth-2 inputs, so the capped function is really compared."""
    inputs = make_memory_inputs(length=63, depth=2, theta_max=0.5)
    chunks = (inputs[n][:, :, :16] for n in ("k", "theta", "eta"))
    assert (write_scale(inputs["weights"], *chunks) < 0.99).any()


def test_inactive_cap_is_the_paper_minibatch_update() -> None:
    """Small θ on random keys: σ = 1 everywhere and "stable" gives exactly Eq. 16's chunked output at depth 2."""
    inputs = make_memory_inputs(length=64, depth=2, theta_max=0.02)
    inputs["eta"] = inputs["eta"] * 0.5
    for start in range(0, 64, 16):
        chunks = (inputs[n][:, :, start : start + 16] for n in ("k", "theta", "eta"))
        assert (write_scale(inputs["weights"], *chunks) == 1).all()
    y_stable, s_stable = run_op("chunked", inputs, 16, "stable")
    y_paper, s_paper = run_op("chunked", inputs, 16, "minibatch")
    assert torch.equal(y_stable, y_paper)
    assert all(torch.equal(a, b) for a, b in zip(s_stable.weights, s_paper.weights))


@pytest.mark.parametrize("update", ["stable", "minibatch"])
def test_recurrent_b1_is_textbook_linear_memory(update: str) -> None:
    """Check the reference itself: b = 1, L_M = 1 is S ← ηS − θ·2k^T(kW − v), W ← (1−α)W + S, y = qW, with θ capped
    at (1 − η)/4 under "stable" (unit keys, ρ = 0.5)."""
    inputs = make_memory_inputs(length=9, depth=1)
    y, state = run_op("recurrent", inputs, 1, update)
    (w,), (s,) = inputs["weights"], inputs["momentum"]
    for t in range(9):
        q, k, v = (inputs[n][:, :, t : t + 1] for n in ("q", "k", "v"))
        theta, eta, alpha = (inputs[n][:, :, t, None, None] for n in ("theta", "eta", "alpha"))
        if update == "stable":
            theta = torch.minimum(theta, (1 - eta) / 4)
        s = eta * s - theta * 2 * k.transpose(-1, -2) @ (k @ w - v)
        w = (1 - alpha) * w + s
        assert rel_err(y[:, :, t : t + 1], q @ w) < 1e-12
    assert rel_err(state.weights[0], w) < 1e-12 and rel_err(state.momentum[0], s) < 1e-12


@pytest.mark.parametrize("depth", [1, 2])
def test_one_chunk_without_momentum_or_decay_is_one_gradient_step(depth: int) -> None:
    """Eq. 16, b = T, α = η = 0: M_t = M_0 − Σ_{s≤t} θ_s ∇ℓ(M_0; x_s), a single (cumulative) gradient step from M_0."""
    length = 11
    inputs = make_memory_inputs(length=length, depth=depth)
    inputs["eta"] = torch.zeros_like(inputs["eta"])
    inputs["alpha"] = torch.zeros_like(inputs["alpha"])
    inputs["momentum"] = tuple(torch.zeros_like(m) for m in inputs["momentum"])
    y, state = run_op("chunked", inputs, length, "minibatch")
    w0 = tuple(w.clone().requires_grad_(True) for w in inputs["weights"])
    for t in range(length):
        losses = (mlp_forward(w0, inputs["k"][:, :, : t + 1]) - inputs["v"][:, :, : t + 1]).pow(2).sum(-1)
        step = torch.autograd.grad((inputs["theta"][:, :, : t + 1] * losses).sum(), w0)
        w_t = tuple(w - g for w, g in zip(w0, step))
        assert rel_err(y[:, :, t], mlp_forward(w_t, inputs["q"][:, :, t : t + 1])[:, :, 0]) < 1e-10
    for a, b in zip(state.weights, w_t):
        assert rel_err(a, b) < 1e-10


@pytest.mark.parametrize("update", ["stable", "minibatch"])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("backend", ["recurrent", "chunked"])
def test_pieces_with_carried_state_equal_one_call(backend: str, depth: int, update: str) -> None:
    inputs = make_memory_inputs(length=40, depth=depth, theta_max=THETA_MAX[update])
    y_whole, s_whole = run_op(backend, inputs, 4, update)
    state = MemoryOpState.at_chunk_start(inputs["weights"], inputs["momentum"])
    outputs, start = [], 0
    for stop in (5, 6, 13, 14, 27, 40):  # pieces that open and close chunks at every offset
        piece = (inputs[n][:, :, start:stop] for n in NAMES)
        y, state = memory_update(*piece, state, 4, backend, update)
        outputs.append(y)
        start = stop
    assert rel_err(torch.cat(outputs, dim=2), y_whole) < 1e-12
    assert state.offset == s_whole.offset
    for a, b in zip((*state.weights, *state.momentum), (*s_whole.weights, *s_whole.momentum)):
        assert rel_err(a, b) < 1e-12


@pytest.mark.parametrize("update", ["stable", "minibatch"])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("backend", ["recurrent", "chunked", *(["triton"] if "triton" in BACKENDS else [])])
def test_causal(backend: str, depth: int, update: str) -> None:
    """Perturbing k_t (and v_t) changes no y_{<t}: the cap and the exact rule read no later token (the Triton kernels
    run under the interpreter without a GPU, as in test_memory_triton.py)."""
    inputs = make_memory_inputs(length=23, depth=depth, theta_max=THETA_MAX[update])
    y, _ = run_op(backend, inputs, 8, update)
    for t in (3, 8, 13):
        moved = dict(inputs)
        moved["k"], moved["v"] = inputs["k"].clone(), inputs["v"].clone()
        moved["k"][:, :, t] = -moved["k"][:, :, t]
        moved["v"][:, :, t] += 1.0
        y_moved, _ = run_op(backend, moved, 8, update)
        assert torch.equal(y_moved[:, :, :t], y[:, :, :t])
        assert not torch.equal(y_moved[:, :, t], y[:, :, t])


@pytest.mark.parametrize("depth, theta, eta, passes", [(1, 0.25, 0.0, 6), (2, 0.05, 0.5, 20)])
@pytest.mark.parametrize("update", ["stable", "minibatch"])
def test_memory_memorises_key_value_pairs(update: str, depth: int, theta: float, eta: float, passes: int) -> None:
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
    _, state = run_op("chunked", inputs, 4, update)
    before = (mlp_forward(inputs["weights"], keys) - values).pow(2).sum()
    after = (mlp_forward(state.weights, keys) - values).pow(2).sum()
    assert after < 0.05 * before


def weight_norms(stream: dict, chunk_size: int, update: str, piece: int = 512) -> list[float]:
    """‖M‖_F (mean over sequences) after each piece of the stream, fed with the state carried."""
    state = MemoryOpState.at_chunk_start(stream["weights"], stream["momentum"])
    norms = []
    for start in range(0, stream["q"].shape[2], piece):
        part = (stream[n][:, :, start : start + piece] for n in NAMES)
        y, state = memory_update(*part, state, chunk_size, "chunked", update)
        assert torch.isfinite(y).all(), f"non-finite output in tokens {start}..{start + piece}"
        norms.append(sum(w.pow(2).sum((-2, -1)) for w in state.weights).sqrt().mean().item())
    return norms


STREAMS = ["smooth", "dna", pytest.param("series", marks=pytest.mark.skipif(not ETTH2.exists(), reason="no ETTh2"))]


@pytest.mark.parametrize("regime", STREAMS)
def test_the_paper_minibatch_update_blows_up_on_these_streams(regime: str) -> None:
    """The streams below are hard: Eq. 16 at b = 16, θ = 0.1, η = 0.9 leaves the memory non-finite or beyond 1e6
    within 1,024 tokens at depth 1 and 2."""
    for depth in (1, 2):
        stream = correlated_stream(regime, length=1024, batch=2, depth=depth, eta=0.9, series_path=str(ETTH2))
        state = MemoryOpState.at_chunk_start(stream["weights"], stream["momentum"])
        with torch.no_grad():
            _, state = memory_update(*(stream[n] for n in NAMES), state, 16, "chunked", "minibatch")
        assert not all(torch.isfinite(w).all() and w.abs().max() < 1e6 for w in state.weights)


@pytest.mark.parametrize("regime", STREAMS)
@pytest.mark.parametrize("eta", [0.5, 0.9])
@pytest.mark.parametrize("depth", [1, 2])
def test_correlated_keys_stay_bounded(depth: int, eta: float, regime: str) -> None:
    """8,192 tokens of co-directional keys (real ETTh2 rows, ETT-like or DNA-like streams), θ = 0.1, b = 16: "stable"
    stays finite with ‖M‖ within 2× of the b = 1 rule's largest norm (at depth 1 the chunks are the b = 1 recurrence
    itself, so within 1e-6 of it)."""
    stream = correlated_stream(regime, length=8192, batch=2, depth=depth, theta=0.1, eta=eta, series_path=str(ETTH2))
    with torch.no_grad():
        chunked = weight_norms(stream, 16, "stable")
        per_token = weight_norms(stream, 1, "stable")
    assert max(chunked) <= (1 + 1e-6 if depth == 1 else 2) * max(per_token)


def test_gram_of_the_linear_memory_is_kkt_and_of_a_deep_one_the_jacobians() -> None:
    """gauss_newton_gram against ⟨J_t, J_s⟩ / d_out from autograd Jacobians, depth 1, 2 and 3."""
    for depth in (1, 2, 3):
        inputs = make_memory_inputs(batch=1, heads=1, length=5, d=4, hidden=6, depth=depth)
        weights, k = tuple(w[0, 0] for w in inputs["weights"]), inputs["k"][0, 0]
        rows = []
        for t in range(5):
            jac = torch.autograd.functional.jacobian(lambda *w, t=t, k=k: mlp_forward(w, k[t : t + 1])[0], weights)
            rows.append(torch.cat([j.reshape(4, -1) for j in jac], dim=1))  # (d_out, all weights)
        jacobians = torch.stack(rows)
        expected = torch.einsum("tok,sok->ts", jacobians, jacobians) / 4
        assert rel_err(gauss_newton_gram(weights, k), expected) < 1e-12


def test_the_linear_memory_cap_is_the_one_token_prefix_cap() -> None:
    inputs = make_memory_inputs(length=9, depth=1, theta_max=0.5)
    k, theta, eta = inputs["k"] * 1.3, inputs["theta"], inputs["eta"]
    per_token = token_write_scale(k, theta, eta)
    assert (per_token < 1).any() and (per_token == 1).any()
    for t in range(9):
        one = slice(t, t + 1)
        torch.testing.assert_close(write_scale(inputs["weights"], k[:, :, one], theta[:, :, one], eta[:, :, one]),
                                   per_token[:, :, one], rtol=1e-14, atol=0)


def test_write_scale_is_the_prefix_gershgorin_cap() -> None:
    """σ_t = min(1, ρ/κ_t), κ_t = 2 max_{r≤t} Σ_{s≤t} |W_rs| written out with loops."""
    inputs = make_memory_inputs(batch=1, heads=1, length=9, depth=2, theta_max=0.5)
    weights, k = inputs["weights"], inputs["k"]
    theta, eta = inputs["theta"], inputs["eta"]
    sigma = write_scale(weights, k, theta, eta, cap=0.5)[0, 0]
    c = (theta / (1 - eta))[0, 0]
    gram = gauss_newton_gram(weights, k)[0, 0]
    for t in range(9):
        kappa = 2 * max(sum(abs(gram[r, s]) * (c[r] * c[s]).sqrt() for s in range(t + 1)) for r in range(t + 1))
        assert abs(sigma[t] - min(1.0, 0.5 / kappa)) < 1e-12


def test_scans_are_exact_with_zero_and_unit_gates() -> None:
    """C, F diag(θ), β, g, E of a 3-token chunk written out by hand, with η_2 = 0 and α_1 = 0."""
    theta, eta, alpha = (torch.tensor(x, dtype=torch.float64) for x in ([0.5, 0.25, 1.0], [0.5, 0.0, 2.0],
                                                                         [0.0, 0.5, 0.5]))
    write, momentum_write, weight_carry, gain, momentum_carry = chunk_coefficients(theta, eta, alpha)
    f = torch.tensor([[0.5, 0, 0], [0, 0.25, 0], [0, 0.5, 1.0]], dtype=torch.float64)  # F_ts θ_s = Π_{s<j≤t} η_j θ_s
    assert torch.equal(momentum_write, f)
    assert torch.equal(write, torch.tensor([[0.5, 0, 0], [0.25, 0.25, 0], [0.125, 0.625, 1.0]], dtype=torch.float64))
    assert torch.equal(momentum_carry, torch.tensor([0.5, 0.0, 0.0], dtype=torch.float64))
    assert torch.equal(weight_carry, torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64))
    assert torch.equal(gain, torch.tensor([0.5, 0.25, 0.125], dtype=torch.float64))


def test_unit_lower_inverse_is_the_triangular_solve() -> None:
    """The Neumann product against LAPACK's triangular solve, entries of the size the update's systems have."""
    for size in (1, 2, 5, 16, 33, 64):
        strict = (0.5 * torch.randn(3, size, size, dtype=torch.float64)).tril(-1)
        eye = torch.eye(size, dtype=torch.float64).expand(3, size, size)
        expected = torch.linalg.solve_triangular(eye + strict, eye, upper=False, unitriangular=True)
        assert rel_err(unit_lower_inverse(strict), expected) < 1e-12


def test_dispatch() -> None:
    x = torch.zeros(1)
    assert resolve_backend("auto", x) == "chunked"
    assert resolve_backend("recurrent", x) == "recurrent"
    with pytest.raises(ValueError, match="unknown memory backend 'cuda-magic'"):
        resolve_backend("cuda-magic", x)
    inputs = make_memory_inputs(length=5)
    y_auto, _ = run_op("auto", inputs, 4)
    y_ref, _ = run_op("recurrent", inputs, 4)
    assert rel_err(y_auto, y_ref) < 1e-12
    with pytest.raises(ValueError, match="update must be one of stable, minibatch; got 'adam'"):
        run_op("auto", inputs, 4, "adam")
