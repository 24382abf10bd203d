"""Inputs of the memory-update op shared by the op and kernel tests: random ones, and streams of correlated keys."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from titans_ts.ops.memory_update import MemoryOpState, memory_update


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


def run_op(
    backend: str, inputs: dict[str, object], chunk_size: int, update: str = "stable"
) -> tuple[torch.Tensor, MemoryOpState]:
    """The memory update on ``inputs`` through ``memory_update`` with one ``backend``, from a chunk boundary."""
    state = MemoryOpState.at_chunk_start(inputs["weights"], inputs["momentum"])
    names = ("q", "k", "v", "theta", "eta", "alpha")
    return memory_update(*(inputs[n] for n in names), state, chunk_size, backend, update)


def correlated_stream(
    regime: str,
    length: int = 8192,
    batch: int = 4,
    d: int = 16,
    depth: int = 1,
    theta: float = 0.1,
    eta: float = 0.5,
    alpha: float = 0.018,
    seed: int = 0,
    series_path: str | None = None,
) -> dict[str, object]:
    """A float64 stream whose keys look like the model's: features → linear → causal depthwise conv (4) → SiLU →
    ℓ2-norm (q, k; v without the norm), constant gates and a random memory without momentum (as ``make_memory_inputs``).

    regime: "series" (standardised rows of a CSV(.gz) of numbers after a date column, ``series_path``, one window per
    sequence), "smooth" (daily, weekly and half-daily cycles plus AR(1) noise, ETT-like), "dna" (an embedding of
    random bases, one token a base) or "random" (i.i.d. unit keys, the easy case). After SiLU and ℓ2-norm the keys of
    the first three point nearly the same way, the case that breaks a chunk's gradient step.
    """
    g = torch.Generator().manual_seed(seed)
    dtype = torch.float64
    if regime == "random":
        q, k = (F.normalize(torch.randn(batch, 1, length, d, generator=g, dtype=dtype), dim=-1) for _ in range(2))
        v = torch.randn(batch, 1, length, d, generator=g, dtype=dtype)
    else:
        if regime == "series":
            rows = np.loadtxt(series_path, delimiter=",", skiprows=1, usecols=range(1, 8))
            data = torch.tensor(rows, dtype=dtype)
            data = (data - data.mean(0)) / data.std(0)
            starts = [(i * 2000) % (data.shape[0] - length) for i in range(batch)]
            features = torch.stack([data[s : s + length] for s in starts])
        elif regime == "smooth":
            t = torch.arange(length, dtype=dtype)[None, :, None]
            features = sum(
                torch.rand(batch, 1, 8, generator=g, dtype=dtype)
                * torch.sin(2 * math.pi * t / period + 2 * math.pi * torch.rand(batch, 1, 8, generator=g, dtype=dtype))
                for period in (24.0, 168.0, 12.0)
            )
            noise = torch.randn(batch, length, 8, generator=g, dtype=dtype) * 0.3
            decay = 0.95 ** torch.arange(length, dtype=dtype)
            ar = torch.fft.irfft(torch.fft.rfft(noise, 2 * length, dim=1) * torch.fft.rfft(decay, 2 * length)[:, None],
                                 2 * length, dim=1)[:, :length]  # AR(1) with coefficient 0.95
            features = features + 0.3 * ar
        elif regime == "dna":
            bases = torch.randint(0, 4, (batch, length), generator=g)
            features = torch.randn(4, 8, generator=g, dtype=dtype)[bases]
        else:
            raise ValueError(f"unknown regime {regime!r}")
        width = features.shape[-1]
        project = (torch.rand(width, 3 * d, generator=g, dtype=dtype) * 2 - 1) / math.sqrt(width)
        kernel = (torch.rand(3 * d, 1, 4, generator=g, dtype=dtype) * 2 - 1) * 0.5
        mixed = F.conv1d(F.pad((features @ project).transpose(1, 2), (3, 0)), kernel, groups=3 * d)
        q, k, v = F.silu(mixed).view(batch, 3, 1, d, length).permute(1, 0, 2, 4, 3)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    widths = [d] + [2 * d] * (depth - 1) + [d]
    shapes = zip(widths[:-1], widths[1:])
    weights = tuple(torch.randn(batch, 1, i, o, generator=g, dtype=dtype) / i**0.5 for i, o in shapes)

    def constant(value: float) -> torch.Tensor:
        return torch.full((batch, 1, length), value, dtype=dtype)

    return {"q": q, "k": k, "v": v, "theta": constant(theta), "eta": constant(eta), "alpha": constant(alpha),
            "weights": weights, "momentum": tuple(torch.zeros_like(w) for w in weights)}
