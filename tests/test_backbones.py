"""Every Titans variant: builds, runs forward/backward, is causal, carries its state exactly, learns a small task."""

from __future__ import annotations

import pytest
import torch

from titans_ts import Titans, TitansConfig
from titans_ts.config import VARIANTS


def small(variant: str, **kwargs) -> Titans:
    torch.manual_seed(0)
    config = dict(variant=variant, d_model=16, n_layers=2, n_heads=2, chunk_size=4, segment_size=8, window=6)
    return Titans(TitansConfig(**{**config, **kwargs}))


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_backward_shapes(variant: str) -> None:
    model = small(variant)
    x = torch.randn(3, 21, 16, requires_grad=True)
    y, _ = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("variant", VARIANTS)
def test_causal(variant: str) -> None:
    """Changing x at position t never changes outputs before t (and does change some after)."""
    model = small(variant).double().eval()
    x = torch.randn(2, 29, 16, dtype=torch.float64)
    base = model(x)[0]
    for t in (0, 7, 8, 13, 28):
        changed = x.clone()
        changed[:, t] += torch.randn(2, 16, dtype=torch.float64)
        out = model(changed)[0]
        assert torch.equal(out[:, :t], base[:, :t]), f"{variant}: output before {t} changed"
        assert not torch.allclose(out[:, t:], base[:, t:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_in_pieces_equals_one_call(variant: str) -> None:
    """Feeding a sequence in pieces (cut inside MAC segments of 8, memory chunks of 4 and attention windows of 6),
    passing the state along, gives the outputs, final state and input gradients of one call on the whole."""
    model = small(variant).double().eval()
    x = torch.randn(2, 37, 16, dtype=torch.float64, requires_grad=True)
    whole, end = model(x)
    (grad,) = torch.autograd.grad(whole.pow(2).sum(), x)
    state, pieces = None, []
    for piece in x.split([5, 1, 13, 7, 11], dim=1):
        y, state = model(piece, state)
        pieces.append(y)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole)
    (piece_grad,) = torch.autograd.grad(torch.cat(pieces, dim=1).pow(2).sum(), x)
    torch.testing.assert_close(piece_grad, grad)
    assert state.position == end.position == 37 + (4 if variant != "mac" else 0)
    for carried, expected in zip(state.memories, end.memories):
        torch.testing.assert_close(carried.op.weights, expected.op.weights)


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_detach_cuts_the_graph(variant: str) -> None:
    """Truncated backprop: after ``detach()`` the second piece's output carries no gradient to the first piece."""
    model = small(variant)
    first = torch.randn(2, 9, 16, requires_grad=True)
    _, state = model(first)
    y, _ = model(torch.randn(2, 9, 16), state.detach())
    y.sum().backward()
    assert first.grad is None
    y, _ = model(torch.randn(2, 9, 16), state)
    y.sum().backward()
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_carried_state_starts_a_new_sequence_with_the_learned_memory(variant: str) -> None:
    """``carried()`` keeps each memory's weights and momentum and nothing else: from M_0 it is the initial state, and
    from a memory that has read a sequence it changes the next sequence's output."""
    model = small(variant).eval()
    x = torch.randn(2, 11, 16)
    fresh, _ = model(x)
    torch.testing.assert_close(model(x, model.initial_state(2).carried())[0], fresh)
    _, state = model(torch.randn(2, 23, 16))
    carried = state.carried()
    assert carried.position == 0 and all(block.context is None for block in carried.blocks)
    for kept, read in zip(carried.memories, state.memories):
        assert kept.op.offset == 0 and kept.conv.abs().sum() == 0
        torch.testing.assert_close(kept.op.weights, read.op.weights)
    assert not torch.allclose(model(x, carried)[0], fresh)
    twice = model(x.repeat(3, 1, 1), carried.repeat(3))[0]
    torch.testing.assert_close(twice, model(x, carried)[0].repeat(3, 1, 1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_overfits_small_task(variant: str) -> None:
    """Predict the next token of 4 fixed random sequences: training loss falls by ≥ 10×."""
    model = small(variant)
    head = torch.nn.Linear(16, 16)
    torch.manual_seed(1)
    seqs = torch.randn(4, 17, 16)
    params = [*model.parameters(), *head.parameters()]
    optimiser = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(150):
        loss = (head(model(seqs[:, :-1])[0]) - seqs[:, 1:]).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], f"{variant}: {losses[0]:.3f} → {losses[-1]:.3f}"


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="variant must be one of mac, mag, mal, lmm"):
        TitansConfig(variant="xl")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        TitansConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match=r"eta_max in \[0, 1\); got 0.1, 1.5"):
        TitansConfig(eta_max=1.5)
    with pytest.raises(ValueError, match="memory_update must be one of stable, minibatch; got 'sgd'"):
        TitansConfig(memory_update="sgd")
    with pytest.raises(ValueError, match="expects \\(batch, time, 16\\)"):
        small("lmm")(torch.randn(2, 16))


def test_public_imports() -> None:
    from titans_ts import NeuralMemory, Titans, TitansConfig  # noqa: F401
