"""Random inputs of the memory-update op, shared by the op tests (and the kernel tests to come)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from titans_ts.ops.memory_update import MemoryOpState


def make_memory_inputs(
    batch: int = 2,
    heads: int = 2,
    length: int = 7,
    d: int = 6,
    depth: int = 2,
    hidden: int = 10,
    chunk_gates: int | None = None,
    theta_max: float = 0.1,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> dict[str, object]:
    """q, k (ℓ2-normalised), v, gates θ ∈ (0, θ_max), η ∈ (0, 1), α ∈ (0, 0.2), and a random state with momentum.

    ``chunk_gates`` = b makes the gates constant within chunks of b tokens (the per-chunk option).
    """
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, dtype=dtype)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=dtype)

    q = F.normalize(randn(batch, heads, length, d), dim=-1)
    k = F.normalize(randn(batch, heads, length, d), dim=-1)
    v = randn(batch, heads, length, d)
    gates = [rand(batch, heads, length) * theta_max, rand(batch, heads, length), rand(batch, heads, length) * 0.2]
    if chunk_gates:
        openers = torch.arange(length) // chunk_gates * chunk_gates
        gates = [x[:, :, openers] for x in gates]
    widths = [d] + [hidden] * (depth - 1) + [d]
    weights = tuple(randn(batch, heads, i, o) / i**0.5 for i, o in zip(widths[:-1], widths[1:]))
    momentum = tuple(0.1 * randn(*w.shape) for w in weights)
    return {"q": q, "k": k, "v": v, "theta": gates[0], "eta": gates[1], "alpha": gates[2],
            "weights": weights, "momentum": momentum}


def leaves(inputs: dict[str, object]) -> list[torch.Tensor]:
    """Every tensor of ``inputs`` (the gradient tests differentiate w.r.t. all of them)."""
    out: list[torch.Tensor] = []
    for value in inputs.values():
        out.extend(value if isinstance(value, tuple) else [value])
    return out


def run_op(op: Callable, inputs: dict[str, object], chunk_size: int) -> tuple[torch.Tensor, MemoryOpState]:
    """Call a memory-update path on ``inputs`` starting at a chunk boundary."""
    state = MemoryOpState(inputs["weights"], inputs["momentum"], inputs["weights"], 0)
    names = ("q", "k", "v", "theta", "eta", "alpha")
    return op(*(inputs[n] for n in names), state, chunk_size)
