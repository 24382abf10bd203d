"""Every Titans variant: builds, runs forward/backward, is causal, learns a small task."""

from __future__ import annotations

import pytest
import torch

from titans_ts import Titans, TitansConfig

VARIANTS = ["mac", "mag", "mal", "lmm"]


def small(variant: str, **kwargs) -> Titans:
    torch.manual_seed(0)
    config = dict(variant=variant, d_model=16, n_layers=2, n_heads=2, chunk_size=4, segment_size=8, window=6)
    return Titans(TitansConfig(**{**config, **kwargs}))


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_backward_shapes(variant: str) -> None:
    model = small(variant)
    x = torch.randn(3, 21, 16, requires_grad=True)
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("variant", VARIANTS)
def test_causal(variant: str) -> None:
    """Changing x at position t never changes outputs before t (and does change some after)."""
    model = small(variant).double().eval()
    x = torch.randn(2, 29, 16, dtype=torch.float64)
    base = model(x)
    for t in (0, 7, 8, 13, 28):
        changed = x.clone()
        changed[:, t] += torch.randn(2, 16, dtype=torch.float64)
        out = model(changed)
        assert torch.equal(out[:, :t], base[:, :t]), f"{variant}: output before {t} changed"
        assert not torch.allclose(out[:, t:], base[:, t:])


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
        loss = (head(model(seqs[:, :-1])) - seqs[:, 1:]).pow(2).mean()
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
