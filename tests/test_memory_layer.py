"""NeuralMemory as a layer: streaming, read without write, backends, options."""

from __future__ import annotations

import pytest
import torch

from titans_ts import NeuralMemory
from titans_ts.memory import TRACE_FIELDS
from titans_ts.ops.memory_update.coefficients import write_scale
from titans_ts.ops.memory_update.mlp import mlp_forward


def layer(**kwargs) -> NeuralMemory:
    torch.manual_seed(0)
    return NeuralMemory(16, n_heads=2, chunk_size=4, **kwargs).double()


@pytest.mark.parametrize("gates", ["token", "chunk"])
@pytest.mark.parametrize("depth", [1, 2])
def test_stream_in_pieces_equals_whole(gates: str, depth: int) -> None:
    memory = layer(gates=gates, depth=depth)
    x = torch.randn(2, 23, 16, dtype=torch.float64)
    y_whole, s_whole = memory(x)
    state, outputs = None, []
    for piece in x.split([5, 1, 8, 9], dim=1):
        y, state = memory(piece, state)
        outputs.append(y)
    torch.testing.assert_close(torch.cat(outputs, dim=1), y_whole, rtol=1e-12, atol=1e-12)
    for a, b in zip(state.op.weights, s_whole.op.weights):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state.conv, s_whole.conv)


def test_chunked_and_recurrent_layers_agree_with_gradients() -> None:
    memory = layer()
    x = torch.randn(2, 19, 16, dtype=torch.float64, requires_grad=True)
    results = []
    for backend in ("recurrent", "chunked"):
        memory.backend = backend
        y, _ = memory(x)
        grads = torch.autograd.grad(y.pow(2).sum(), [x, *memory.parameters()])
        results.append((y, grads))
    (y_ref, g_ref), (y, g) = results
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_read_does_not_write_and_zero_init_reads_zero() -> None:
    memory = layer(learned_init=False)
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    state = memory.initial_state(1)
    assert memory.read(x, state).abs().max() == 0  # M_0 is the zero function: nothing is stored yet
    assert not any(p.requires_grad for p in memory.init_weights)
    _, state = memory(x, state)
    weights = [w.clone() for w in state.op.weights]
    assert memory.read(x, state).abs().max() > 0
    assert all(torch.equal(a, b) for a, b in zip(weights, state.op.weights))


def test_detach_state_cuts_the_graph() -> None:
    x = torch.randn(1, 5, 16, dtype=torch.float64)
    _, attached = layer()(x)
    _, detached = layer(detach_state=True)(x)
    assert attached.op.weights[0].requires_grad
    assert not any(t.requires_grad for t in (*detached.op.weights, *detached.op.momentum, detached.conv))


def test_gates_per_chunk_are_constant_within_chunks() -> None:
    memory = layer(gates="chunk")
    x = torch.randn(1, 10, 16, dtype=torch.float64)
    gates, _ = memory._gates(x, memory.initial_state(1))
    for start in (0, 4, 8):
        block = gates[:, :, start : start + 4]
        assert torch.equal(block, block[:, :, :1].expand_as(block))
    assert not torch.equal(gates[:, :, 0], gates[:, :, 4])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="gates must be 'token' or 'chunk'"):
        NeuralMemory(16, gates="sometimes")
    with pytest.raises(ValueError, match="must be ≥ 1"):
        NeuralMemory(16, depth=0)
    with pytest.raises(ValueError, match=r"eta_max in \[0, 1\), got 0.1, 1.0"):
        NeuralMemory(16, eta_max=1.0)
    with pytest.raises(ValueError, match="update must be one of stable, minibatch; got 'adam'"):
        NeuralMemory(16, update="adam")
    with pytest.raises(ValueError, match=r"alpha_max must be in \(0, 1\], got 0"):
        NeuralMemory(16, alpha_max=0)


def test_alpha_max_bounds_the_forgetting() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 9, 16)
    gates = {}
    for alpha_max in (1.0, 0.1):
        torch.manual_seed(1)
        memory = NeuralMemory(16, n_heads=2, alpha_max=alpha_max)
        gates[alpha_max] = memory._gates(x, memory.initial_state(2))[0]
    torch.testing.assert_close(gates[0.1][..., 2], 0.1 * gates[1.0][..., 2])
    torch.testing.assert_close(gates[0.1][..., :2], gates[1.0][..., :2])


@pytest.mark.parametrize("depth, update", [(1, "stable"), (1, "minibatch"), (2, "stable")])
def test_trace_records_each_write_where_the_update_takes_its_gradient(depth: int, update: str) -> None:
    """A traced state records each write and ends where the untraced ``forward`` ends; each token's surprise and
    gradient norm are those of ℓ = ‖M(k) − v‖² at the weights the rule takes its gradient at (after the previous token
    for the per-token rule, else at the chunk start), also when the trace starts in the middle of a chunk; the step
    scale is the cap's σ_t (1 without a cap)."""
    torch.manual_seed(0)
    memory = NeuralMemory(16, n_heads=2, depth=depth, chunk_size=4, theta_max=0.5, update=update).double()
    x = torch.randn(2, 11, 16, dtype=torch.float64)
    _, middle = memory(x[:, :3])  # one token short of a chunk: the trace opens a new chunk after one token
    traced_y, state = memory(x[:, 3:], middle.traced())
    y, expected = memory(x[:, 3:], middle)
    records = state.trace
    torch.testing.assert_close(traced_y, y)
    for got, want in zip(state.op.weights + state.op.momentum, expected.op.weights + expected.op.momentum):
        torch.testing.assert_close(got, want)
    assert records.shape == (2, 2, 8, len(TRACE_FIELDS))
    _, k, v, _ = memory._project(x, memory.initial_state(2).conv)
    theta, eta, _ = memory._gates(x, memory.initial_state(2))[0].unbind(-1)
    for t in range(3, 11):
        point = t if memory.per_token else t // 4 * 4
        reference = (memory(x[:, :point])[1] if point else memory.initial_state(2)).op.weights
        for b in range(2):
            for h in range(2):
                weights = [w[b, h].detach().requires_grad_() for w in reference]
                loss = (mlp_forward(weights, k[b, h, t]) - v[b, h, t]).pow(2).sum()
                norm = torch.cat([g.flatten() for g in torch.autograd.grad(loss, weights)]).norm()
                torch.testing.assert_close(records[b, h, t - 3, 0], loss.detach())
                torch.testing.assert_close(records[b, h, t - 3, 1], norm)
        span = slice(point, t + 1)
        sigma = write_scale(reference, k[:, :, span], theta[:, :, span], eta[:, :, span])[:, :, -1]  # depth 1: span 1
        if update == "minibatch":
            sigma = torch.ones_like(sigma)
        torch.testing.assert_close(records[:, :, t - 3, 2], sigma)
    assert (records[..., 2] < 1).any() == (update == "stable")  # the cap acted somewhere, and only where there is one
    assert (records[..., 3] <= memory.theta_max).all() and (records[..., 4] <= memory.eta_max).all()
